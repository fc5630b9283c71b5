// The public planning portal: entry point. Wires the searches, the sheet, the language and
// the shareable link; exposes window.portal for the tests.
import { wireSearch } from './search.mjs';
import { renderSheet } from './sheet.mjs';
import { readLink, writeLink } from './link.mjs';
import { TEXTS, say } from './texts.mjs';

const state = readLink();
const statusLine = document.getElementById('status');
const article = document.getElementById('sheet');
let locationMap = null;

function status(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', isError);
}

function applyLanguage() {
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll('[data-t]')) node.textContent = say(state.lang, node.dataset.t);
  document.getElementById('lang-toggle').textContent = TEXTS[state.lang].lang;
}

async function showMap(container, parcel, options) {
  locationMap?.remove();
  locationMap = null;
  const { showLocation } = await import('./locmap.mjs');
  locationMap = showLocation(container, parcel, options);
}

async function openSheet(id) {
  state.parcel = id;
  writeLink(state);
  try {
    await renderSheet(article, id, state.lang, showMap);
    status('');
  } catch (e) {
    article.hidden = true;
    status(`${say(state.lang, 'error')}: ${e.message}`, true);
  }
}

document.getElementById('lang-toggle').addEventListener('click', () => {
  state.lang = state.lang === 'vi' ? 'en' : 'vi';
  writeLink(state);
  applyLanguage();
  if (state.parcel) openSheet(state.parcel);
});

applyLanguage();
wireSearch({ lang: () => state.lang, status, openSheet });
if (state.parcel) openSheet(state.parcel);
window.portal = { state, openSheet, get locationMap() { return locationMap; } };

// The language in force (Vietnamese first, English on the toggle): where it starts, who follows
// its changes, and the page's fixed texts (`data-i18n`, `data-i18n-placeholder`).
import { translate as mapTranslate } from '/map/i18n.mjs';

const LANGS = ['vi', 'en'];

/** The language to start in: URL `lang=` (hash or query), then the stored choice, then Vietnamese. */
export function initialLang() {
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get('lang') ??
    new URLSearchParams(location.search).get('lang');
  if (LANGS.includes(fromUrl)) return fromUrl;
  try {
    const stored = localStorage.getItem('bando.lang');
    if (LANGS.includes(stored)) return stored;
  } catch { /* storage may be disabled */ }
  return 'vi';
}

function applyToPage(lang, translate) {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = translate(lang, el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) {
    el.placeholder = translate(lang, el.dataset.i18nPlaceholder);
  }
  const toggle = document.querySelector('#lang-toggle');
  toggle.textContent = translate(lang, 'langToggle');
  toggle.lang = lang === 'vi' ? 'en' : 'vi';
  document.querySelector('#map').setAttribute('aria-label', translate(lang, 'mapLabel'));
}

/**
 * The page's language: `current`, `t(key, …args)` for UI strings, `title(item)` for an item with
 * `title_vi`/`title_en` (served by bando), `set(lang)`, `toggle()` and `onChange(fn)`. An app
 * with strings of its own passes its `translate(lang, key, …args)` (the map's by default).
 */
export function createLanguage(lang = initialLang(), { translate = mapTranslate } = {}) {
  const listeners = [];
  applyToPage(lang, translate);
  const language = {
    get current() { return lang; },
    t: (key, ...args) => translate(lang, key, ...args),
    title: (item) => (lang === 'en' ? item.title_en : item.title_vi),
    numberFormat: (digits) => new Intl.NumberFormat(lang === 'en' ? 'en-GB' : 'vi-VN',
      { minimumFractionDigits: digits, maximumFractionDigits: digits }),
    set(next) {
      if (!LANGS.includes(next)) throw new Error(`unknown language ${next}; use ${LANGS.join(' or ')}`);
      if (next === lang) return;
      lang = next;
      try { localStorage.setItem('bando.lang', lang); } catch { /* storage may be disabled */ }
      applyToPage(lang, translate);
      for (const fn of listeners) fn(lang);
    },
    toggle: () => language.set(lang === 'vi' ? 'en' : 'vi'),
    onChange(fn) { listeners.push(fn); },
  };
  return language;
}

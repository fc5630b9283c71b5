// The four searches: commune + sheet + parcel, place name, address (where a parcel lies),
// coordinates (WGS84 or VN-2000). Results are listed with the merger crosswalk (and, for an
// address, the address found, best first); picking a parcel opens its sheet.
import { getJson } from './api.mjs';
import { say } from './texts.mjs';

function crosswalk(p, lang) {
  if (p.commune_name_new && p.commune_name && p.commune_name !== p.commune_name_new) {
    return `${p.commune_name} (${say(lang, 'old')}) → ${p.commune_name_new}`;
  }
  return p.commune_name_new ?? p.commune_name ?? p.commune_code;
}

/** The request of a coordinate search: latitude/longitude when they read as degrees. */
export function coordinateQuery(a, b) {
  const x = Number(String(a).replace(',', '.'));
  const y = Number(String(b).replace(',', '.'));
  if (Math.abs(x) <= 90 && Math.abs(y) <= 180) return `lat=${x}&lon=${y}`;
  return `x=${x}&y=${y}`;
}

/**
 * Wires the forms. `ui`: { lang(), status(text, isError), openSheet(id) }.
 */
export function wireSearch(ui) {
  const results = document.getElementById('results');
  const show = (answer) => {
    const lang = ui.lang();
    results.replaceChildren();
    results.hidden = false;
    const note = document.createElement('p');
    if (answer.kind === 'vn2000') {
      note.textContent = say(lang, 'zoneSaid', { zone: answer.zone.srid === 9212 ? '106°15′' : '107°45′', srid: answer.zone.srid });
      note.dataset.zone = String(answer.zone.srid);
    } else if (answer.kind === 'point') {
      note.textContent = say(lang, 'wgs84');
    }
    if (note.textContent) results.append(note);
    if (answer.kind === 'place') {
      const p = document.createElement('p');
      p.textContent = say(lang, 'communesFound');
      results.append(p);
      const list = document.createElement('ul');
      for (const c of answer.communes) {
        const li = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'commune';
        button.textContent = c.legacy_name === c.name ? c.name : `${c.legacy_name} (${say(lang, 'old')}) → ${c.name}`;
        button.addEventListener('click', () => {
          const form = document.getElementById('by-parcel');
          form.elements.commune.value = c.legacy_code;
          form.elements.sheet.focus();
        });
        li.append(button);
        list.append(li);
      }
      results.append(list);
      ui.status(answer.communes.length ? '' : say(lang, 'none'));
      return;
    }
    const parcels = answer.parcels ?? [];
    ui.status(parcels.length ? '' : say(lang, 'none'));
    const list = document.createElement('ul');
    for (const p of parcels) {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = `#parcel=${p.id}`;
      a.className = 'parcel';
      a.dataset.parcel = String(p.id);
      const label = say(lang, 'parcelLabel', { sheet: p.sheet_number, number: p.parcel_number });
      a.textContent = answer.kind === 'address' && p.place_name
        ? `${p.place_name} (${label}, ${crosswalk(p, lang)})`
        : `${label} — ${crosswalk(p, lang)}`;
      a.addEventListener('click', (e) => { e.preventDefault(); ui.openSheet(p.id); });
      li.append(a);
      list.append(li);
    }
    results.append(list);
    if (parcels.length === 1) ui.openSheet(parcels[0].id);
  };
  const run = async (query) => {
    ui.status(say(ui.lang(), 'searching'));
    try {
      show(await getJson(`/portal/api/search?${query}`));
    } catch (e) {
      results.hidden = true;
      ui.status(`${say(ui.lang(), 'error')}: ${e.message}`, true);
    }
  };
  document.getElementById('by-parcel').addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    run(new URLSearchParams({ commune: f.get('commune'), sheet: f.get('sheet'), number: f.get('number') }).toString());
  });
  document.getElementById('by-place').addEventListener('submit', (e) => {
    e.preventDefault();
    run(new URLSearchParams({ place: new FormData(e.target).get('place') }).toString());
  });
  document.getElementById('by-address').addEventListener('submit', (e) => {
    e.preventDefault();
    run(new URLSearchParams({ address: new FormData(e.target).get('address') }).toString());
  });
  document.getElementById('by-coords').addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    run(coordinateQuery(f.get('a'), f.get('b')));
  });
}

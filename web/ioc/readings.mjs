// The table of latest readings: value with its status colour, and the data age per datastream,
// flagged stale when older than STALE_SECONDS.

import { STATUS_COLOURS } from './markers.mjs';

export const STALE_SECONDS = 600;

export function createReadingsTable(tbody) {
  const rows = new Map();
  let texts = null;
  const age = (p) => (p.observed_at ? Math.max(0, Math.round((Date.now() - Date.parse(p.observed_at)) / 1000)) : null);
  const render = (tr, p) => {
    const a = age(p);
    tr.dataset.status = p.status;
    tr.title = texts.status[p.status] ?? p.status;
    tr.classList.toggle('stale', a === null || a > STALE_SECONDS);
    tr.querySelector('.station').textContent = p.station;
    tr.querySelector('.property').textContent = p.property;
    const v = tr.querySelector('.value');
    v.style.setProperty('--status', STATUS_COLOURS[p.status] ?? STATUS_COLOURS.no_data);
    v.textContent = p.value === null || p.value === undefined ? texts.noData : `${p.value} ${p.unit}`;
    tr.querySelector('.age').textContent = a === null ? '—'
      : a > STALE_SECONDS ? `${texts.ago(a)} (${texts.stale})` : texts.ago(a);
  };
  const row = (p) => {
    let tr = rows.get(p.datastream_id);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.datastream = p.datastream_id;
      for (const c of ['station', 'property', 'value', 'age']) {
        const td = document.createElement('td');
        td.className = c;
        tr.append(td);
      }
      rows.set(p.datastream_id, tr);
      tbody.append(tr);
    }
    tr.properties = p;
    render(tr, p);
  };
  return {
    setLanguage(t) {
      texts = t;
      for (const tr of rows.values()) render(tr, tr.properties);
    },
    set(features) {
      for (const tr of rows.values()) tr.remove();
      rows.clear();
      for (const f of features) row(f.properties);
    },
    put(f) {
      row(f.properties);
    },
    /** Ages move on by themselves. */
    tick() {
      for (const tr of rows.values()) render(tr, tr.properties);
    },
  };
}

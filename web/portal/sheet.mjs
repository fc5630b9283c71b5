// A parcel's information sheet from /portal/api/sheet/{id}: identity and area, current land
// use, plans in force with their decisions and documents, zones, limits, line cuts, the
// buildings on the parcel (existing and planned: floors, height, footprint), data date.
import { getJson } from './api.mjs';
import { say } from './texts.mjs';
import { sheetLink } from './link.mjs';
import { legendList } from '/map/legend.mjs';

const num = (v, digits = 1) => (v === null || v === undefined ? '—' : Number(v).toLocaleString('vi-VN', { maximumFractionDigits: digits }));

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function row(label, value, key) {
  return el('tr', key ? { 'data-row': key } : {}, el('th', {}, label), el('td', {}, value));
}

/** Loads and draws the sheet of parcel `id` in `article`; `lang` picks the words. */
export async function renderSheet(article, id, lang, onMap) {
  const data = await getJson(`/portal/api/sheet/${id}`);
  const p = data.parcel;
  const commune = p.commune_name_new && p.commune_name && p.commune_name !== p.commune_name_new
    ? `${p.commune_name} (${say(lang, 'old')}) → ${p.commune_name_new}` : (p.commune_name_new ?? p.commune_name ?? '');
  const landUse = p.land_use ? `${p.land_use.code} — ${lang === 'en' ? p.land_use.name_en : p.land_use.name_vi}` : (p.land_use_code ?? '—');
  const plans = data.plans.length
    ? el('ul', { id: 'plans' }, ...data.plans.map((plan) => el('li', { 'data-plan': String(plan.id) },
      `${plan.name} — ${say(lang, 'decision')} ${plan.decision_number ?? ''} ${plan.decision_date ?? ''} ${plan.authority ?? ''}`,
      ...plan.documents.map((d) => el('a', { href: d.href, class: 'document', target: '_blank' }, ` [${d.title}]`)))))
    : el('p', { id: 'plans' }, say(lang, 'noPlan'));
  const head = ['zone', 'fn', 'share', 'pct', 'density', 'floors', 'height', 'setback', 'far'].map((k) => el('th', {}, say(lang, k)));
  // The function's colour on the map (the planning palette; grey: not in the code list).
  const swatch = (z) => {
    if (!z.function_colour) return null;
    const s = el('span', { class: 'swatch', 'aria-hidden': 'true' });
    s.style.background = z.function_colour;
    return s;
  };
  const zones = el('div', { class: 'table-wrap' }, el('table', { id: 'zones' },
    el('thead', {}, el('tr', {}, ...head)),
    el('tbody', {}, ...data.zones.map((z) => el('tr', { 'data-zone': z.zone_code },
      el('td', {}, z.zone_code),
      el('td', { class: 'function', 'data-function': z.planned_function ?? '' }, swatch(z), ' ',
        [z.function_code, lang === 'en' ? z.function_name_en : z.function_name_vi].filter(Boolean).join(' — ')),
      el('td', {}, num(z.area_m2)), el('td', {}, num(z.percent)), el('td', {}, num(z.density_pct)),
      el('td', {}, num(z.max_floors, 0)), el('td', {}, num(z.max_height_m)), el('td', {}, num(z.setback_m)),
      el('td', {}, num(z.far)))))));
  // The legend of the functions on this sheet, titled from the code list the server keeps.
  const seen = new Map();
  for (const z of data.zones) {
    if (z.function_colour && !seen.has(z.function_colour + z.function_name_vi)) {
      seen.set(z.function_colour + z.function_name_vi, { colour: z.function_colour, title_vi: z.function_name_vi, title_en: z.function_name_en, values: [z.planned_function ?? z.function_code] });
    }
  }
  const legend = legendList([...seen.values()], lang);
  legend.id = 'zone-legend';
  // Buildings standing or planned on the parcel.
  const buildings = data.buildings?.length
    ? el('div', { class: 'table-wrap' }, el('table', { id: 'buildings' },
      el('thead', {}, el('tr', {}, ...['building', 'buildingStatus', 'buildingFloors', 'buildingHeight', 'onParcel'].map((k) => el('th', {}, say(lang, k))))),
      el('tbody', {}, ...data.buildings.map((b) => el('tr', { 'data-building': b.building_code, 'data-status': b.status ?? '' },
        el('td', {}, b.name ? `${b.building_code} (${b.name})` : b.building_code),
        el('td', {}, say(lang, b.status === 'planned' ? 'planned' : b.status === 'existing' ? 'existing' : 'unknown')),
        el('td', {}, num(b.floors, 0)), el('td', {}, num(b.height_m)), el('td', {}, num(b.on_parcel_m2)))))))
    : el('p', { id: 'buildings' }, say(lang, 'noBuildings'));
  const link = sheetLink(p.id, lang);
  const links = el('p', { class: 'links' },
    el('a', { href: link, id: 'share-link' }, say(lang, 'share_link')),
    el('a', { href: p.map_href, id: 'map-link' }, say(lang, 'openMap')),
    el('a', { href: p.pdf_href, id: 'pdf-link', type: 'application/pdf', download: '' }, say(lang, 'pdf')));
  const location = el('div', { id: 'location' });
  const readingsToggle = el('input', { type: 'checkbox', id: 'readings-toggle', disabled: '' });
  article.replaceChildren(
    el('h2', {}, say(lang, 'sheetTitle')),
    location,
    el('label', { class: 'map-toggle' }, readingsToggle, ` ${say(lang, 'readings')}`),
    el('table', { id: 'identity' }, el('tbody', {},
      row(say(lang, 'identity'), `${say(lang, 'parcelLabel', { sheet: p.sheet_number, number: p.parcel_number })} — ${commune}`, 'identity'),
      row(say(lang, 'area'), num(data.parcel_area_m2), 'area'),
      row(say(lang, 'landUse'), landUse, 'land-use'),
      row(say(lang, 'unplanned'), num(data.unplanned_area_m2), 'unplanned'),
      row(say(lang, 'redLine'), num(data.red_lines.cut_area_m2), 'red-line'),
      row(say(lang, 'buildingLine'), num(data.building_lines.cut_area_m2), 'building-line'),
      row(say(lang, 'dataDate'), data.data_date ?? '—', 'data-date'))),
    el('h3', {}, say(lang, 'plans')), plans,
    el('h3', {}, say(lang, 'zones')), zones, legend,
    el('h3', {}, say(lang, 'buildings')), buildings,
    links);
  article.hidden = false;
  article.dataset.parcel = String(p.id);
  onMap?.(location, p, { readingsToggle });
  return data;
}

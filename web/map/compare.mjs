// Compare two plan versions (issue 13) for planners: the zones added, removed and changed from
// one version to another, as bando's `/plans/compare?from=&to=` answers them (GeoJSON), drawn
// over the map in three colours with a count per kind. The plans to choose from are those
// `/plans` lists for the signed-in reader (planners see drafts too). Clicking a compared zone
// opens its attribute diff (each attribute before and after, the changed ones marked, and
// whether its boundary moved). Shown to planners and administrators only (the server decides
// what each reader may compare).
import { Popup } from '/vendor/maplibre-gl/maplibre-gl.mjs';

const SOURCE = 'bando-compare';
/** Colours of each kind of change. */
export const CHANGE_COLOURS = { added: '#16a34a', removed: '#dc2626', changed: '#f59e0b' };
const KINDS = Object.keys(CHANGE_COLOURS);
const COMPARERS = ['planner', 'admin'];
/** The zone attributes the diff lists, in order (those `/plans/compare` gives). */
const ATTRIBUTES = ['zone_code', 'name', 'land_use_function', 'density_pct', 'max_floors', 'max_height_m', 'setback_m'];

function colourExpression() {
  return ['match', ['get', 'change'], ...KINDS.flatMap((k) => [k, CHANGE_COLOURS[k]]), '#888888'];
}

function addLayers(map) {
  map.addSource(SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'bando-compare-fill', type: 'fill', source: SOURCE, paint: { 'fill-color': colourExpression(), 'fill-opacity': 0.45 } });
  map.addLayer({ id: 'bando-compare-line', type: 'line', source: SOURCE, paint: { 'line-color': colourExpression(), 'line-width': 2.5 } });
}

/** The box [w, s, e, n] of a FeatureCollection's coordinates, or null when it has none. */
function boxOf(fc) {
  let box = null;
  const visit = (c) => {
    if (typeof c[0] === 'number') {
      box = box ? [Math.min(box[0], c[0]), Math.min(box[1], c[1]), Math.max(box[2], c[0]), Math.max(box[3], c[1])] : [c[0], c[1], c[0], c[1]];
    } else c.forEach(visit);
  };
  for (const f of fc.features) if (f.geometry) visit(f.geometry.coordinates);
  return box;
}

/**
 * The compare panel in `elements.panel` (`from`, `to` selects, `run`, `clear` buttons, `summary`
 * list), shown when `user()` is a planner or administrator. Returns `{ compare(from, to), clear(),
 * refresh() }`; `compare` resolves to the counts per kind.
 */
export function createCompare(map, { http, catalog, language, status, user, elements }) {
  addLayers(map);
  const { panel, from, to, run, clear, summary } = elements;
  let last = null;
  let popup = null;

  /** The diff table of one compared zone (its feature as the server answered it). */
  function diffTable(feature) {
    const { before, after, change } = feature.properties;
    const cell = (tag, text, cls) => {
      const c = document.createElement(tag);
      if (cls) c.className = cls;
      c.textContent = text;
      return c;
    };
    const show = (v) => (v === null || v === undefined || v === '' ? '—' : String(v));
    const table = document.createElement('table');
    table.className = 'compare-diff';
    table.dataset.zone = feature.properties.zone_code;
    table.dataset.change = change;
    const head = document.createElement('tr');
    head.append(cell('th', language.t('diffAttribute')), cell('th', language.t('diffBefore')), cell('th', language.t('diffAfter')));
    table.append(head);
    for (const key of ATTRIBUTES) {
      const was = before?.[key];
      const now = after?.[key];
      const tr = document.createElement('tr');
      tr.dataset.attribute = key;
      tr.dataset.changed = String(show(was) !== show(now));
      // Titled as the style's catalog titles the zones' properties (the map keeps no titles).
      const described = catalog?.layer('planning_zones')?.properties.find((p) => p.name === key);
      tr.append(cell('th', described ? language.title(described) : key), cell('td', before ? show(was) : '—', 'before'), cell('td', after ? show(now) : '—', 'after'));
      table.append(tr);
    }
    if (change === 'changed') {
      const tr = document.createElement('tr');
      tr.dataset.attribute = 'geometry';
      tr.dataset.changed = String(Boolean(feature.properties.geometry_changed));
      const said = language.t(feature.properties.geometry_changed ? 'diffReshaped' : 'diffSame');
      const td = cell('td', said);
      td.colSpan = 2;
      tr.append(cell('th', language.t('diff_geometry')), td);
      table.append(tr);
    }
    return table;
  }

  /** "Từ: name — QĐ 10/QĐ-UBND (2026-01-05)", or "chưa phê duyệt" for a draft. */
  function sideLine(side, plan) {
    const li = document.createElement('li');
    li.dataset.side = side;
    const decision = plan?.decision_number
      ? `${language.t('compareDecision')} ${plan.decision_number}${plan.decision_date ? ` (${plan.decision_date})` : ''}`
      : language.t('compareNoDecision');
    li.textContent = `${language.t(side === 'from' ? 'compareFrom' : 'compareTo')}: ${plan?.name ?? '—'} — ${decision}`;
    return li;
  }

  function renderSummary() {
    summary.replaceChildren();
    if (!last) return;
    summary.append(sideLine('from', last.fc.plans?.from), sideLine('to', last.fc.plans?.to));
    for (const kind of KINDS) {
      const li = document.createElement('li');
      li.dataset.change = kind;
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = CHANGE_COLOURS[kind];
      li.append(swatch, ` ${language.t(`change_${kind}`)}: ${last.counts[kind]}`);
      summary.append(li);
    }
  }

  function fillSelect(select, plans, chosen) {
    select.replaceChildren(...plans.map((p) => {
      const o = document.createElement('option');
      o.value = String(p.id);
      o.textContent = `${p.id} — ${p.name} (${language.t(`status_${p.status}`)})`;
      return o;
    }));
    if (chosen) select.value = String(chosen);
  }

  async function refresh() {
    const roles = user()?.roles ?? [];
    panel.hidden = !roles.some((r) => COMPARERS.includes(r));
    if (panel.hidden) return;
    const { plans } = await http.json('/plans');
    // Newest first: by default compare the newest version with the one before it.
    fillSelect(from, plans, from.value || plans[1]?.id);
    fillSelect(to, plans, to.value || plans[0]?.id);
  }

  const compare = {
    async compare(fromId, toId) {
      const fc = await http.json(`/plans/compare?from=${encodeURIComponent(fromId)}&to=${encodeURIComponent(toId)}`);
      map.getSource(SOURCE).setData(fc);
      const counts = Object.fromEntries(KINDS.map((k) => [k, fc.features.filter((f) => f.properties?.change === k).length]));
      last = { from: fromId, to: toId, counts, fc };
      renderSummary();
      const box = boxOf(fc);
      if (box) map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 60, maxZoom: 18, duration: 0 });
      return counts;
    },
    clear() {
      map.getSource(SOURCE).setData({ type: 'FeatureCollection', features: [] });
      last = null;
      popup?.remove();
      renderSummary();
    },
    /**
     * Opens the attribute diff of the compared zone at `point` (screen pixels), if any; whether
     * one was there (the caller's identify then stays quiet). The server's feature is used, not
     * the rendered one (MapLibre flattens its nested `before`/`after`).
     */
    diffAt(point, lngLat) {
      if (!last) return false;
      const hit = map.queryRenderedFeatures(point, { layers: ['bando-compare-fill'] })[0];
      if (!hit) return false;
      const feature = last.fc.features.find((f) => f.properties.zone_code === hit.properties.zone_code
        && f.properties.change === hit.properties.change);
      if (!feature) return false;
      popup?.remove();
      popup = new Popup({ maxWidth: '380px', className: 'compare-popup' })
        .setLngLat(lngLat)
        .setDOMContent(diffTable(feature))
        .addTo(map);
      return true;
    },
    refresh,
  };
  run.addEventListener('click', () => {
    compare.compare(from.value, to.value).catch((e) => status.error(`${language.t('compareFailed')}: ${e.message}`));
  });
  clear.addEventListener('click', () => compare.clear());
  language.onChange(() => { renderSummary(); refresh().catch(() => {}); });
  return compare;
}

// The planners' map: MapLibre GL JS over bando's vector tiles, with a layer tree by sector,
// identify, measure (TM-3 metres from the server), parcel search, VN-2000 coordinates and a
// URL that restores the view. Everything it loads comes from the bando that served it.
import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { STRINGS, SECTORS, SECTOR_ORDER, PROPERTY_TITLES, initialLang } from '/map/i18n.mjs';
import { makeConverter, measureTm3 } from '/map/vn2000.mjs';

const STYLE_URL = '/styles/planning.json';
const PROPERTY_ORDER = Object.keys(PROPERTY_TITLES);
const toVn2000 = makeConverter(window.proj4);

const state = {
  lang: initialLang(),
  /** Catalog of /layers by id (titles, sector) for what the style does not say. */
  catalog: new Map(),
  /** Map layers of the tree: { id, sector, title_vi, title_en, styleLayers: [], visible }. */
  layers: [],
  fallbackStyle: false,
  /** Sector titles the server's style publishes (`bando:sectors`), by sector code. */
  sectorTitles: new Map(),
  measure: null,
  popup: null,
  errors: [],
};

const t = (key, ...args) => {
  const value = STRINGS[state.lang][key] ?? STRINGS.vi[key] ?? key;
  return typeof value === 'function' ? value(...args) : value;
};
const $ = (selector) => document.querySelector(selector);

function setStatus(text) {
  $('#status').textContent = text ?? '';
}

// ---------------------------------------------------------------- URL hash
// `#map=zoom/lat/lon[/bearing]&layers=a,b[&lang=en]`

function parseHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  let view = null;
  const parts = (params.get('map') ?? '').split('/').map(Number);
  if (parts.length >= 3 && parts.slice(0, 3).every(Number.isFinite)) {
    const [zoom, lat, lon, bearing = 0] = parts;
    if (Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
      view = { zoom, center: [lon, lat], bearing: Number.isFinite(bearing) ? bearing : 0 };
    }
  }
  const layers = params.has('layers')
    ? params.get('layers').split(',').map((s) => s.trim()).filter(Boolean)
    : null;
  return { view, layers };
}

function writeHash(map) {
  const c = map.getCenter();
  const bearing = map.getBearing();
  let view = `${map.getZoom().toFixed(2)}/${c.lat.toFixed(6)}/${c.lng.toFixed(6)}`;
  if (Math.abs(bearing) >= 0.05) view += `/${bearing.toFixed(1)}`;
  const visible = state.layers.filter((l) => l.visible).map((l) => encodeURIComponent(l.id));
  let hash = `#map=${view}&layers=${visible.join(',')}`;
  if (state.lang !== 'vi') hash += `&lang=${state.lang}`;
  if (hash !== location.hash) history.replaceState(null, '', hash);
}

// ---------------------------------------------------------------- style

const SECTOR_COLOURS = {
  cadastre: '#b45309', planning: '#7c3aed', transport: '#475569', water: '#0284c7',
  power: '#dc2626', environment: '#16a34a',
};

/** A plain style from the layer catalog, for when the server has no style document yet. */
async function fallbackStyle(catalog) {
  const ids = catalog.filter((l) => l.feature_count !== 0).map((l) => l.id);
  const layers = [{ id: 'background', type: 'background', paint: { 'background-color': '#f5f5f4' } }];
  for (const entry of catalog.filter((l) => ids.includes(l.id))) {
    const metadata = {
      'bando:layer': entry.id, 'bando:sector': entry.sector,
      'bando:title_vi': entry.title_vi, 'bando:title_en': entry.title_en,
    };
    const colour = SECTOR_COLOURS[entry.sector] ?? '#334155';
    const common = { source: 'bando', 'source-layer': entry.id, metadata, minzoom: entry.min_zoom ?? 0 };
    const kind = entry.geometry_kind ?? '';
    if (kind.includes('Polygon')) {
      layers.push({ ...common, id: `${entry.id}-fill`, type: 'fill', paint: { 'fill-color': colour, 'fill-opacity': 0.12 } });
      layers.push({ ...common, id: `${entry.id}-line`, type: 'line', paint: { 'line-color': colour, 'line-width': 1 } });
    } else if (kind.includes('Line')) {
      layers.push({ ...common, id: `${entry.id}-line`, type: 'line', paint: { 'line-color': colour, 'line-width': 1.5 } });
    } else {
      layers.push({ ...common, id: `${entry.id}-circle`, type: 'circle', paint: { 'circle-color': colour, 'circle-radius': 3 } });
    }
  }
  return {
    version: 8,
    name: 'bando (plain)',
    sources: ids.length
      ? { bando: { type: 'vector', url: `${location.origin}/tiles/${ids.join(',')}.json` } }
      : {},
    layers: ids.length ? layers : [layers[0]],
  };
}

async function loadCatalog() {
  try {
    const response = await fetch('/layers');
    if (response.ok) {
      const list = await response.json();
      for (const entry of list) state.catalog.set(entry.id, entry);
      return list;
    }
  } catch (e) {
    state.errors.push(String(e));
  }
  return [];
}

/** The server's limit on layers in one composite tile (`/tiles/a,b,…`). */
const MAX_COMPOSITE = 16;

/**
 * Splits a composite tile source naming more layers than one tile may carry into several
 * sources, moving each style layer to the source that holds its source-layer.
 */
function splitLargeComposites(style) {
  for (const [name, source] of Object.entries({ ...style.sources })) {
    const m = source.type === 'vector' && typeof source.url === 'string' && source.url.match(/^(.*\/tiles\/)([^/?#]+)\.json$/);
    if (!m) continue;
    const ids = m[2].split(',');
    if (ids.length <= MAX_COMPOSITE) continue;
    const owner = new Map();
    for (let i = 0; i < ids.length; i += MAX_COMPOSITE) {
      const chunk = ids.slice(i, i + MAX_COMPOSITE);
      const chunkName = i === 0 ? name : `${name}~${i / MAX_COMPOSITE}`;
      style.sources[chunkName] = { ...source, url: `${m[1]}${chunk.join(',')}.json` };
      for (const id of chunk) owner.set(decodeURIComponent(id), chunkName);
    }
    for (const layer of style.layers ?? []) {
      if (layer.source === name && owner.has(layer['source-layer'])) layer.source = owner.get(layer['source-layer']);
    }
  }
  return style;
}

async function loadStyle(catalog) {
  try {
    const response = await fetch(STYLE_URL);
    if (response.ok) return splitLargeComposites(await response.json());
  } catch (e) {
    state.errors.push(String(e));
  }
  state.fallbackStyle = true;
  return splitLargeComposites(await fallbackStyle(catalog));
}

/** Where to look first: the style's own view, else the bounds of its tiles. */
async function initialBounds(style) {
  const url = style.sources?.bando?.url;
  if (!url) return null;
  try {
    const response = await fetch(url);
    if (!response.ok) return null;
    const tilejson = await response.json();
    return Array.isArray(tilejson.bounds) && tilejson.bounds.length === 4 ? tilejson.bounds : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- layer tree

function collectLayers(style, wanted) {
  const byId = new Map();
  for (const layer of style.layers ?? []) {
    const md = layer.metadata ?? {};
    const id = md['bando:layer'];
    if (!id) continue;
    let entry = byId.get(id);
    if (!entry) {
      const cat = state.catalog.get(id) ?? {};
      entry = {
        id,
        sector: md['bando:sector'] ?? cat.sector ?? 'other',
        title_vi: md['bando:title_vi'] ?? cat.title_vi ?? id,
        title_en: md['bando:title_en'] ?? cat.title_en ?? id,
        styleLayers: [],
        visible: false,
      };
      byId.set(id, entry);
    }
    entry.styleLayers.push(layer.id);
    if ((layer.layout?.visibility ?? 'visible') !== 'none') entry.visible = true;
  }
  const layers = [...byId.values()];
  if (wanted) for (const entry of layers) entry.visible = wanted.includes(entry.id);
  return layers;
}

function sectorTitle(code) {
  // The server's titles first (one list for every app), the local list when the style is the
  // fallback one.
  const served = state.sectorTitles.get(code);
  if (served) return (state.lang === 'en' ? served.title_en : served.title_vi) ?? code;
  return SECTORS[code]?.[state.lang] ?? code;
}

function renderTree(map) {
  const tree = $('#layer-tree');
  tree.replaceChildren();
  if (!state.layers.length) {
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = t('noLayers');
    tree.append(p);
    return;
  }
  const sectors = [...new Set(state.layers.map((l) => l.sector))].sort((a, b) => {
    const ia = SECTOR_ORDER.indexOf(a);
    const ib = SECTOR_ORDER.indexOf(b);
    if (ia !== ib) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    return a.localeCompare(b);
  });
  for (const sector of sectors) {
    const group = document.createElement('details');
    group.open = true;
    group.dataset.sector = sector;
    group.setAttribute('role', 'group');
    const summary = document.createElement('summary');
    summary.textContent = sectorTitle(sector);
    group.append(summary);
    for (const layer of state.layers.filter((l) => l.sector === sector)) {
      const label = document.createElement('label');
      label.dataset.layer = layer.id;
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = layer.visible;
      box.addEventListener('change', () => setLayerVisible(map, layer.id, box.checked));
      const title = document.createElement('span');
      title.className = 'title';
      title.textContent = state.lang === 'en' ? layer.title_en : layer.title_vi;
      label.append(box, ' ', title);
      group.append(label);
    }
    tree.append(group);
  }
}

function applyVisibility(map, layer) {
  for (const id of layer.styleLayers) {
    if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', layer.visible ? 'visible' : 'none');
  }
}

function setLayerVisible(map, id, visible) {
  const layer = state.layers.find((l) => l.id === id);
  if (!layer) return;
  layer.visible = visible;
  applyVisibility(map, layer);
  const box = document.querySelector(`#layer-tree label[data-layer="${CSS.escape(id)}"] input`);
  if (box) box.checked = visible;
  writeHash(map);
}

// ---------------------------------------------------------------- identify

function propertyTitle(feature, key) {
  const own = feature.property_titles?.[key];
  if (typeof own === 'string') return own;
  if (own && typeof own === 'object') return own[state.lang] ?? own.vi ?? key;
  const cat = state.catalog.get(feature.layer)?.properties;
  if (Array.isArray(cat)) {
    const p = cat.find((x) => x.name === key);
    if (p) return (state.lang === 'en' ? p.title_en : p.title_vi) ?? key;
  }
  return PROPERTY_TITLES[key]?.[state.lang] ?? key;
}

function formatValue(value) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return value ? t('yes') : t('no');
  if (typeof value === 'number' && !Number.isInteger(value)) {
    return new Intl.NumberFormat(state.lang === 'en' ? 'en-GB' : 'vi-VN', { maximumFractionDigits: 2 }).format(value);
  }
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function layerTitle(feature) {
  const own = state.lang === 'en' ? feature.layer_title_en : feature.layer_title_vi;
  if (own) return own;
  const layer = state.layers.find((l) => l.id === feature.layer) ?? state.catalog.get(feature.layer);
  if (!layer) return feature.layer ?? '';
  return state.lang === 'en' ? layer.title_en : layer.title_vi;
}

function popupContent(features, source) {
  const root = document.createElement('div');
  root.className = 'identify';
  root.dataset.source = source;
  if (!features.length) {
    const p = document.createElement('p');
    p.className = 'none';
    p.textContent = t('noFeatures');
    root.append(p);
    return root;
  }
  for (const feature of features.slice(0, 8)) {
    const section = document.createElement('section');
    section.className = 'feature';
    section.dataset.layer = feature.layer ?? '';
    if (feature.id !== undefined) section.dataset.id = String(feature.id);
    const h = document.createElement('h3');
    h.textContent = layerTitle(feature);
    const table = document.createElement('table');
    // Identity and use first (number, sheet, land-use code…), in the order of PROPERTY_TITLES.
    const rank = (key) => { const i = PROPERTY_ORDER.indexOf(key); return i < 0 ? PROPERTY_ORDER.length : i; };
    const entries = Object.entries(feature.properties ?? {}).sort(([a], [b]) => rank(a) - rank(b));
    for (const [key, value] of entries) {
      const row = table.insertRow();
      row.dataset.key = key;
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = propertyTitle(feature, key);
      const td = document.createElement('td');
      td.textContent = formatValue(value);
      row.append(th, td);
    }
    section.append(h, table);
    root.append(section);
  }
  return root;
}

/** Features under a point from the drawn tiles (public properties only), top-most first. */
function featuresFromTiles(map, point, tolerance) {
  const box = [[point.x - tolerance, point.y - tolerance], [point.x + tolerance, point.y + tolerance]];
  const seen = new Set();
  const out = [];
  for (const f of map.queryRenderedFeatures(box)) {
    const layer = f.layer?.metadata?.['bando:layer'];
    if (!layer) continue;
    const key = `${layer}/${f.id ?? JSON.stringify(f.properties)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ type: 'Feature', id: f.id, layer, properties: { ...f.properties } });
  }
  return out;
}

async function identify(map, lngLat) {
  const point = map.project(lngLat);
  const tolerance = 4;
  const visible = state.layers.filter((l) => l.visible).map((l) => l.id);
  const params = new URLSearchParams({
    x: lngLat.lng.toFixed(7), y: lngLat.lat.toFixed(7), zoom: String(Math.min(24, Math.max(0, Math.round(map.getZoom())))),
    tolerance: String(tolerance), layers: visible.join(','),
  });
  let features;
  let source = 'server';
  try {
    const response = await fetch(`/query/identify?${params}`);
    if (response.ok) {
      features = (await response.json()).features ?? [];
    } else if (response.status === 404 || response.status === 405) {
      // The server has no identify yet: the drawn tiles carry the same public properties.
      source = 'tiles';
      features = featuresFromTiles(map, point, tolerance);
    } else {
      const problem = await response.json().catch(() => ({}));
      setStatus(`${t('identifyFailed')}: ${problem.detail ?? response.status}`);
      return null;
    }
  } catch (e) {
    setStatus(`${t('identifyFailed')}: ${e}`);
    return null;
  }
  // Outline what was found (the server sends geometry; drawn tiles do not).
  map.getSource(HIGHLIGHT_SOURCE)?.setData({ type: 'FeatureCollection', features: features.filter((f) => f.geometry) });
  state.popup?.remove();
  state.popup = new maplibregl.Popup({ maxWidth: '360px' })
    .setLngLat(lngLat)
    .setDOMContent(popupContent(features, source))
    .addTo(map);
  return { source, features };
}

// ---------------------------------------------------------------- measure

const MEASURE_SOURCE = 'bando-measure';

function drawMeasure(map) {
  const m = state.measure;
  const src = map.getSource(MEASURE_SOURCE);
  if (!src) return;
  const features = [];
  const coords = m?.coords ?? [];
  for (const c of coords) features.push({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: c } });
  if (coords.length >= 2) {
    const line = m.kind === 'area' && coords.length >= 3 ? [...coords, coords[0]] : coords;
    features.push({ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: line } });
  }
  if (m?.kind === 'area' && coords.length >= 3) {
    features.push({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[...coords, coords[0]]] } });
  }
  src.setData({ type: 'FeatureCollection', features });
}

function measureGeometry(m) {
  if (m.kind === 'area') {
    if (m.coords.length < 3) return null;
    return { type: 'Polygon', coordinates: [[...m.coords, m.coords[0]]] };
  }
  if (m.coords.length < 2) return null;
  return { type: 'LineString', coordinates: m.coords };
}

/** TM-3 planar length/area in the browser, used only when the server does not answer. */
const measureInBrowser = (geometry) => measureTm3(toVn2000, geometry);

function showMeasure(result, kind) {
  const section = $('#measure-result');
  section.hidden = false;
  const dl = section.querySelector('dl');
  dl.replaceChildren();
  const nf = (digits) => new Intl.NumberFormat(state.lang === 'en' ? 'en-GB' : 'vi-VN', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const add = (key, name, text) => {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    dd.dataset.key = key;
    dd.textContent = text;
    dl.append(dt, dd);
  };
  if (!result) return;
  if (kind === 'area') {
    add('area', t('area'), `${nf(2).format(result.area_m2)} m² (${nf(4).format(result.area_m2 / 10000)} ha)`);
    add('perimeter', t('perimeter'), `${nf(2).format(result.perimeter_m)} m`);
  } else {
    const km = result.length_m >= 1000 ? ` (${nf(3).format(result.length_m / 1000)} km)` : '';
    add('length', t('length'), `${nf(2).format(result.length_m)} m${km}`);
  }
  add('zone', t('zone'), `EPSG:${result.srid}${result.zone ? ` — ${result.zone}` : ''}`);
  add('source', t('measuredBy'), result.source === 'server' ? t('measuredServer') : t('measuredBrowser'));
}

function makeMeasureTool(map) {
  const buttons = { line: $('#measure-line'), area: $('#measure-area') };
  const tool = {
    get active() { return state.measure?.kind ?? null; },
    start(kind) {
      if (kind !== 'line' && kind !== 'area') throw new Error(`unknown measure kind ${kind}`);
      state.popup?.remove();
      state.measure = { kind, coords: [] };
      for (const [k, b] of Object.entries(buttons)) b.setAttribute('aria-pressed', String(k === kind));
      map.doubleClickZoom.disable();
      map.getCanvas().style.cursor = 'crosshair';
      $('#measure-result').hidden = false;
      $('#measure-result dl').replaceChildren();
      drawMeasure(map);
    },
    addVertex(lngLat) {
      if (!state.measure) return;
      const c = Array.isArray(lngLat) ? lngLat : [lngLat.lng, lngLat.lat];
      state.measure.coords.push([Number(c[0]), Number(c[1])]);
      drawMeasure(map);
    },
    /** Ends the drawing and measures it on the server (TM-3); resolves to the result. */
    async finish() {
      const m = state.measure;
      if (!m) return null;
      const geometry = measureGeometry(m);
      this.stop();
      state.measure = m; // keep the drawing on the map until the next start
      drawMeasure(map);
      state.measure = null;
      if (!geometry) return null;
      let result;
      try {
        const response = await fetch('/query/measure', {
          method: 'POST', headers: { 'content-type': 'application/geo+json' }, body: JSON.stringify(geometry),
        });
        if (response.ok) {
          result = { ...(await response.json()), source: 'server' };
        } else if (response.status === 404 || response.status === 405) {
          result = { ...measureInBrowser(geometry), source: 'browser' };
        } else {
          const problem = await response.json().catch(() => ({}));
          setStatus(problem.detail ?? `HTTP ${response.status}`);
          return null;
        }
      } catch (e) {
        result = { ...measureInBrowser(geometry), source: 'browser' };
        state.errors.push(String(e));
      }
      showMeasure(result, m.kind);
      tool.last = { kind: m.kind, geometry, result };
      return result;
    },
    stop() {
      state.measure = null;
      for (const b of Object.values(buttons)) b.setAttribute('aria-pressed', 'false');
      map.getCanvas().style.cursor = '';
      // Re-enabled after the double-click that ended the drawing has been handled.
      setTimeout(() => map.doubleClickZoom.enable(), 0);
    },
    last: null,
  };
  for (const [kind, button] of Object.entries(buttons)) {
    button.setAttribute('aria-pressed', 'false');
    button.addEventListener('click', () => (tool.active === kind ? tool.stop() : tool.start(kind)));
  }
  map.on('dblclick', (e) => {
    const m = state.measure;
    if (!m) return;
    e.preventDefault();
    // A double-click also fired two clicks at the same spot: keep one vertex there.
    const n = m.coords.length;
    if (n >= 2) {
      const a = map.project(m.coords[n - 1]);
      const b = map.project(m.coords[n - 2]);
      if (Math.hypot(a.x - b.x, a.y - b.y) < 4) m.coords.pop();
    }
    tool.finish();
  });
  return tool;
}

// ---------------------------------------------------------------- search

const HIGHLIGHT_SOURCE = 'bando-highlight';

function bboxOf(feature) {
  if (Array.isArray(feature.bbox) && feature.bbox.length >= 4) return feature.bbox.slice(0, 4);
  let w = Infinity; let s = Infinity; let e = -Infinity; let n = -Infinity;
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]);
    } else c.forEach(walk);
  };
  if (feature.geometry?.coordinates) walk(feature.geometry.coordinates);
  return Number.isFinite(w) ? [w, s, e, n] : null;
}

async function searchParcel(map, commune, sheet, number) {
  const status = $('#search-status');
  status.textContent = t('searching');
  const params = new URLSearchParams({ commune: commune.trim(), sheet: String(sheet).trim(), number: String(number).trim() });
  let response;
  try {
    response = await fetch(`/query/parcels?${params}`);
  } catch (e) {
    status.textContent = String(e);
    return null;
  }
  if (response.status === 404 && !(response.headers.get('content-type') ?? '').includes('geo+json')) {
    const problem = await response.json().catch(() => ({}));
    // The generic "nothing at this address" means the route itself is missing.
    status.textContent = /nothing at this address/.test(problem.detail ?? '') ? t('searchUnavailable') : (problem.detail ?? t('notFound'));
    return null;
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    status.textContent = problem.detail ?? `HTTP ${response.status}`;
    return null;
  }
  const collection = await response.json();
  const features = collection.features ?? [];
  map.getSource(HIGHLIGHT_SOURCE)?.setData({ type: 'FeatureCollection', features: features.filter((f) => f.geometry) });
  if (!features.length) {
    status.textContent = t('notFound');
    return collection;
  }
  status.textContent = t('found', features.length);
  const boxes = features.map(bboxOf).filter(Boolean);
  if (boxes.length) {
    const box = boxes.reduce((a, b) => [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])]);
    const moved = new Promise((ok) => map.once('moveend', ok));
    map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 60, maxZoom: 19, duration: 600 });
    await moved;
  }
  return collection;
}

async function loadCommunes() {
  try {
    const response = await fetch('/collections/communes/items?limit=1000');
    if (!response.ok) return;
    const collection = await response.json();
    const list = $('#commune-list');
    const seen = new Set();
    for (const f of collection.features ?? []) {
      const p = f.properties ?? {};
      // Parcels keep the code of the commune they were surveyed in (before the 2025 merger).
      const code = p.legacy_code ?? p.code;
      if (!code || seen.has(code)) continue;
      seen.add(code);
      const option = document.createElement('option');
      option.value = code;
      const name = p.legacy_name ?? p.name;
      option.label = [name, p.legacy_name && p.name && p.name !== p.legacy_name ? `→ ${p.name}` : null]
        .filter(Boolean).join(' ');
      list.append(option);
    }
  } catch {
    // A text field for the commune code works without the list.
  }
}

// ---------------------------------------------------------------- coordinates

function showCoordinates(lngLat) {
  const { lng, lat } = lngLat;
  const wgs = $('#coords-wgs84 .value');
  wgs.textContent = `${t('lat')} ${lat.toFixed(6)}, ${t('lon')} ${lng.toFixed(6)}`;
  wgs.dataset.lat = lat.toFixed(6);
  wgs.dataset.lon = lng.toFixed(6);
  const vn = toVn2000(lng, lat);
  const out = $('#coords-vn2000 .value');
  out.textContent = `X ${vn.x.toFixed(3)} m, Y ${vn.y.toFixed(3)} m`;
  out.dataset.x = vn.x.toFixed(3);
  out.dataset.y = vn.y.toFixed(3);
  out.dataset.srid = String(vn.zone.srid);
  $('#coords-vn2000 .zone').textContent = `(${vn.zone.name})`;
  return { lat, lon: lng, x: vn.x, y: vn.y, srid: vn.zone.srid };
}

// ---------------------------------------------------------------- language

function applyLanguage(map) {
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  const toggle = $('#lang-toggle');
  toggle.textContent = t('langToggle');
  toggle.lang = state.lang === 'vi' ? 'en' : 'vi';
  $('#map').setAttribute('aria-label', t('mapLabel'));
  if (map) {
    renderTree(map);
    state.popup?.remove();
    const last = window.bando?.measure?.last;
    if (last && !state.measure) showMeasure(last.result, last.kind);
    writeHash(map);
  }
}

function setLanguage(map, lang) {
  state.lang = lang;
  try { localStorage.setItem('bando.lang', lang); } catch { /* storage may be disabled */ }
  applyLanguage(map);
}

// ---------------------------------------------------------------- start

async function start() {
  applyLanguage(null);
  const catalog = await loadCatalog();
  const style = await loadStyle(catalog);
  const hash = parseHash();
  state.layers = collectLayers(style, hash.layers);
  for (const sector of style.metadata?.['bando:sectors'] ?? []) {
    if (sector?.id) state.sectorTitles.set(sector.id, sector);
  }
  if (state.fallbackStyle) setStatus(t('styleFallback'));

  const options = { container: 'map', style, hash: false, attributionControl: { compact: true } };
  let fit = null;
  if (hash.view) {
    Object.assign(options, hash.view);
  } else if (Array.isArray(style.center) && Number.isFinite(style.zoom)) {
    Object.assign(options, { center: style.center, zoom: style.zoom });
  } else {
    fit = await initialBounds(style);
    options.center = fit ? [(fit[0] + fit[2]) / 2, (fit[1] + fit[3]) / 2] : [106.88, 11.52];
    options.zoom = 10;
  }
  const map = new maplibregl.Map(options);
  if (fit) map.fitBounds([[fit[0], fit[1]], [fit[2], fit[3]]], { animate: false, padding: 20 });
  window.bandoMap = map;
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric', maxWidth: 160 }), 'bottom-left');
  map.on('error', (e) => {
    const message = e.error?.message ?? String(e.error ?? e);
    state.errors.push(message);
  });

  const measure = makeMeasureTool(map);
  window.bando = {
    map, state, measure, identify: (lng, lat) => identify(map, new maplibregl.LngLat(lng, lat)),
    search: (commune, sheet, number) => searchParcel(map, commune, sheet, number),
    coordinates: (lng, lat) => showCoordinates({ lng, lat }),
    setLayerVisible: (id, visible) => setLayerVisible(map, id, visible),
    setLanguage: (lang) => setLanguage(map, lang),
  };

  await new Promise((ok) => (map.loaded() ? ok() : map.once('load', ok)));
  for (const layer of state.layers) applyVisibility(map, layer);
  map.addSource(HIGHLIGHT_SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'bando-highlight-line', type: 'line', source: HIGHLIGHT_SOURCE, paint: { 'line-color': '#facc15', 'line-width': 4 } });
  map.addSource(MEASURE_SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'bando-measure-fill', type: 'fill', source: MEASURE_SOURCE, filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#f97316', 'fill-opacity': 0.15 } });
  map.addLayer({ id: 'bando-measure-line', type: 'line', source: MEASURE_SOURCE, filter: ['==', ['geometry-type'], 'LineString'], paint: { 'line-color': '#ea580c', 'line-width': 2, 'line-dasharray': [2, 1] } });
  map.addLayer({ id: 'bando-measure-vertex', type: 'circle', source: MEASURE_SOURCE, filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 4, 'circle-color': '#fff', 'circle-stroke-color': '#ea580c', 'circle-stroke-width': 2 } });

  renderTree(map);
  writeHash(map);
  map.on('moveend', () => writeHash(map));
  // A hash typed or pasted into the address bar moves the map without a reload.
  window.addEventListener('hashchange', () => {
    const wanted = parseHash();
    if (wanted.view) map.jumpTo(wanted.view);
    if (wanted.layers) {
      for (const layer of state.layers) {
        layer.visible = wanted.layers.includes(layer.id);
        applyVisibility(map, layer);
      }
      renderTree(map);
    }
    writeHash(map);
  });
  map.on('mousemove', (e) => showCoordinates(e.lngLat));
  map.on('click', (e) => {
    if (state.measure) measure.addVertex(e.lngLat);
    else identify(map, e.lngLat);
  });
  showCoordinates(map.getCenter());
  $('#lang-toggle').addEventListener('click', () => setLanguage(map, state.lang === 'vi' ? 'en' : 'vi'));
  $('#search').addEventListener('submit', (e) => {
    e.preventDefault();
    searchParcel(map, $('#search-commune').value, $('#search-sheet').value, $('#search-number').value);
  });
  loadCommunes();
  document.body.dataset.ready = 'true';
}

start().catch((e) => {
  state.errors.push(String(e));
  setStatus(String(e));
  document.body.dataset.ready = 'error';
});

// Measure: lines and areas drawn on the map, measured by bando (`POST /query/measure`, planar
// TM-3 metres, the legal measure). When the server does not answer, the panel and the status line
// say so; nothing is computed in the browser.

const SOURCE = 'bando-measure';

/** The GeoJSON geometry of a drawing, or null while it has too few vertices. */
function geometryOf({ kind, coords }) {
  if (kind === 'area') return coords.length < 3 ? null : { type: 'Polygon', coordinates: [[...coords, coords[0]]] };
  return coords.length < 2 ? null : { type: 'LineString', coordinates: coords };
}

function addLayers(map) {
  map.addSource(SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'bando-measure-fill', type: 'fill', source: SOURCE, filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#f97316', 'fill-opacity': 0.15 } });
  map.addLayer({ id: 'bando-measure-line', type: 'line', source: SOURCE, filter: ['==', ['geometry-type'], 'LineString'], paint: { 'line-color': '#ea580c', 'line-width': 2, 'line-dasharray': [2, 1] } });
  map.addLayer({ id: 'bando-measure-vertex', type: 'circle', source: SOURCE, filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 4, 'circle-color': '#fff', 'circle-stroke-color': '#ea580c', 'circle-stroke-width': 2 } });
}

function draw(map, drawing) {
  const coords = drawing?.coords ?? [];
  const feature = (geometry) => ({ type: 'Feature', properties: {}, geometry });
  const features = coords.map((c) => feature({ type: 'Point', coordinates: c }));
  if (coords.length >= 2) {
    const closed = drawing.kind === 'area' && coords.length >= 3;
    features.push(feature({ type: 'LineString', coordinates: closed ? [...coords, coords[0]] : coords }));
    if (closed) features.push(feature({ type: 'Polygon', coordinates: [[...coords, coords[0]]] }));
  }
  map.getSource(SOURCE).setData({ type: 'FeatureCollection', features });
}

/** Fills the result panel's list with a result (or an error) in the language in force. */
function show(panel, language, last) {
  panel.hidden = false;
  const dl = panel.querySelector('dl');
  dl.replaceChildren();
  const add = (key, name, text) => {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    dd.dataset.key = key;
    dd.textContent = text;
    dl.append(dt, dd);
  };
  if (!last) return;
  if (last.error) {
    add('error', language.t('measureFailed'), last.error);
    return;
  }
  const { result, kind } = last;
  const nf = language.numberFormat;
  if (kind === 'area') {
    add('area', language.t('area'), `${nf(2).format(result.area_m2)} m² (${nf(4).format(result.area_m2 / 10000)} ha)`);
    add('perimeter', language.t('perimeter'), `${nf(2).format(result.perimeter_m)} m`);
  } else {
    const km = result.length_m >= 1000 ? ` (${nf(3).format(result.length_m / 1000)} km)` : '';
    add('length', language.t('length'), `${nf(2).format(result.length_m)} m${km}`);
  }
  add('zone', language.t('zone'), `EPSG:${result.srid}${result.zone ? ` — ${result.zone}` : ''}`);
}

/**
 * The measure tool on a loaded `map`, driven by the `buttons` { line, area } and shown in `panel`:
 * `start(kind)`, `addVertex(lngLat)`, `finish()` (resolves to the server's result, or null after
 * reporting a failure), `stop()`, `active` and `last` ({ kind, geometry, result | error }).
 */
export function createMeasureTool(map, { http, language, status, buttons, panel, onStart = () => {} }) {
  addLayers(map);
  let drawing = null;
  const tool = {
    get active() { return drawing?.kind ?? null; },
    last: null,
    start(kind) {
      if (kind !== 'line' && kind !== 'area') throw new Error(`unknown measure kind ${kind}`);
      onStart();
      drawing = { kind, coords: [] };
      for (const [k, b] of Object.entries(buttons)) b.setAttribute('aria-pressed', String(k === kind));
      map.doubleClickZoom.disable();
      map.getCanvas().style.cursor = 'crosshair';
      tool.last = null;
      show(panel, language, null);
      draw(map, drawing);
    },
    addVertex(lngLat) {
      if (!drawing) return;
      const c = Array.isArray(lngLat) ? lngLat : [lngLat.lng, lngLat.lat];
      drawing.coords.push([Number(c[0]), Number(c[1])]);
      draw(map, drawing);
    },
    async finish() {
      const finished = drawing;
      if (!finished) return null;
      tool.stop();
      draw(map, finished); // the drawing stays on the map until the next start
      const geometry = geometryOf(finished);
      if (!geometry) return null;
      try {
        const result = await http.json('/query/measure', {
          method: 'POST', headers: { 'content-type': 'application/geo+json' }, body: JSON.stringify(geometry),
        });
        tool.last = { kind: finished.kind, geometry, result };
        show(panel, language, tool.last);
        return result;
      } catch (e) {
        tool.last = { kind: finished.kind, geometry, error: e.message };
        show(panel, language, tool.last);
        status.error(`${language.t('measureFailed')}: ${e.message}`);
        return null;
      }
    },
    stop() {
      drawing = null;
      for (const b of Object.values(buttons)) b.setAttribute('aria-pressed', 'false');
      map.getCanvas().style.cursor = '';
      // Re-enabled after the double-click that ended the drawing has been handled.
      setTimeout(() => map.doubleClickZoom.enable(), 0);
    },
  };
  for (const [kind, button] of Object.entries(buttons)) {
    button.setAttribute('aria-pressed', 'false');
    button.addEventListener('click', () => (tool.active === kind ? tool.stop() : tool.start(kind)));
  }
  map.on('dblclick', (e) => {
    if (!drawing) return;
    e.preventDefault();
    // A double-click also fired two clicks at the same spot: keep one vertex there.
    const c = drawing.coords;
    if (c.length >= 2) {
      const a = map.project(c[c.length - 1]);
      const b = map.project(c[c.length - 2]);
      if (Math.hypot(a.x - b.x, a.y - b.y) < 4) c.pop();
    }
    tool.finish();
  });
  language.onChange(() => { if (tool.last) show(panel, language, tool.last); });
  return tool;
}

// Identify: a click asks bando's `/query/identify` what the visible layers have there and shows
// it in a popup, each property under the title the style's catalog gives it (public properties
// only, in the catalog's order). When the server does not answer, the status line says so.
import { Popup } from '/vendor/maplibre-gl/maplibre-gl.mjs';

/** Pixels around the click that count as a hit. */
const TOLERANCE = 4;
/** Features shown in one popup. */
const MAX_SHOWN = 8;

function formatValue(value, language) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return language.t(value ? 'yes' : 'no');
  if (typeof value === 'number' && !Number.isInteger(value)) {
    return new Intl.NumberFormat(language.current === 'en' ? 'en-GB' : 'vi-VN', { maximumFractionDigits: 2 }).format(value);
  }
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The popup's content for features of `/query/identify`, with `action` (an element) under them. */
function content(features, { catalog, language, action }) {
  const root = document.createElement('div');
  root.className = 'identify';
  if (action) root.append(action);
  if (!features.length) {
    const p = document.createElement('p');
    p.className = 'none';
    p.textContent = language.t('noFeatures');
    root.append(p);
    return root;
  }
  for (const feature of features.slice(0, MAX_SHOWN)) {
    const layer = catalog.layer(feature.layer);
    const section = document.createElement('section');
    section.className = 'feature';
    section.dataset.layer = feature.layer ?? '';
    if (feature.id !== undefined) section.dataset.id = String(feature.id);
    const h = document.createElement('h3');
    h.textContent = layer ? language.title(layer) : feature.layer;
    const table = document.createElement('table');
    const properties = feature.properties ?? {};
    const known = layer?.properties ?? [];
    // The catalog's order and titles; a property it does not list is shown under its own name.
    const rows = [
      ...known.filter((p) => p.name in properties).map((p) => [p.name, language.title(p)]),
      ...Object.keys(properties).filter((k) => !known.some((p) => p.name === k)).map((k) => [k, k]),
    ];
    for (const [key, title] of rows) {
      const row = table.insertRow();
      row.dataset.key = key;
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = title;
      const td = document.createElement('td');
      td.textContent = formatValue(properties[key], language);
      row.append(th, td);
    }
    section.append(h, table);
    root.insertBefore(section, action ?? null);
  }
  return root;
}

/**
 * Identify on `map`: returns `identify(lngLat)`, which resolves to the features found (also
 * shown in a popup and outlined), or `null` after reporting a failure on `status`. `actions(features,
 * lngLat)` may give an element the popup offers under the features (e.g. "isolate here").
 */
export function createIdentify(map, { http, catalog, tree, language, highlight, status, actions = () => null }) {
  let popup = null;
  let shown = [];
  let at = null;
  const render = () => content(shown, { catalog, language, action: actions(shown, at) });
  language.onChange(() => {
    if (popup?.isOpen()) popup.setDOMContent(render());
  });
  return {
    close() { popup?.remove(); },
    async identify(lngLat) {
      const params = new URLSearchParams({
        x: lngLat.lng.toFixed(7), y: lngLat.lat.toFixed(7),
        zoom: String(Math.min(24, Math.max(0, Math.round(map.getZoom())))),
        tolerance: String(TOLERANCE), layers: tree.visibleIds().join(','),
      });
      let features;
      try {
        features = (await http.json(`/query/identify?${params}`)).features;
      } catch (e) {
        popup?.remove();
        status.error(`${language.t('identifyFailed')}: ${e.message}`);
        return null;
      }
      shown = features;
      at = lngLat;
      highlight.show(features);
      popup?.remove();
      popup = new Popup({ maxWidth: '360px' })
        .setLngLat(lngLat)
        .setDOMContent(render())
        .addTo(map);
      return features;
    },
  };
}

// The sheet's location map: bando's public style with the parcel outlined, and a toggle for
// the latest readings of the monitoring stations (public datastreams only: the server filters
// them for anonymous readers). The readings' circles are drawn as the planners' style draws
// them (its layers for `latest_readings`, read from the server, over the layer's own TileJSON).
import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';

const READINGS = 'latest_readings';

/** The planners' style's layers drawing `layer`, moved onto a source of their own. */
async function layersOf(layer, source) {
  const r = await fetch('/styles/planning.json');
  if (!r.ok) throw new Error(`/styles/planning.json: ${r.status}`);
  const style = await r.json();
  return style.layers
    .filter((l) => l['source-layer'] === layer)
    .map((l) => ({ ...l, id: `portal-${l.id}`, source, layout: { ...l.layout, visibility: 'visible' } }));
}

/** Shows or hides the latest readings on `map`; resolves once the layers are added. */
export async function showReadings(map, on) {
  if (!map.getSource(READINGS)) {
    if (!on) return;
    map.addSource(READINGS, { type: 'vector', url: `/tiles/${READINGS}.json` });
    for (const l of await layersOf(READINGS, READINGS)) map.addLayer(l);
  }
  for (const l of map.getStyle().layers.filter((s) => s.source === READINGS)) {
    map.setLayoutProperty(l.id, 'visibility', on ? 'visible' : 'none');
  }
}

export function showLocation(container, parcel, { readingsToggle } = {}) {
  const [w, s, e, n] = parcel.bbox;
  const map = new maplibregl.Map({
    container,
    style: '/styles/public.json',
    bounds: [[w, s], [e, n]],
    fitBoundsOptions: { padding: 40, maxZoom: 19 },
    attributionControl: false,
  });
  map.on('load', () => {
    map.addSource('parcel', { type: 'geojson', data: { type: 'Feature', geometry: parcel.geometry, properties: {} } });
    map.addLayer({ id: 'parcel-outline', type: 'line', source: 'parcel', paint: { 'line-color': '#00e5ff', 'line-width': 3 } });
    if (readingsToggle) {
      readingsToggle.disabled = false;
      readingsToggle.addEventListener('change', () => {
        showReadings(map, readingsToggle.checked).catch((err) => console.error(err));
      });
    }
  });
  return map;
}

// The sheet's location map: bando's public style with the parcel outlined.
import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';

export function showLocation(container, parcel) {
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
  });
  return map;
}

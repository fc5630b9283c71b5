// The outline of what identify or search found, drawn over every layer.

const SOURCE = 'bando-highlight';

/** Adds the highlight to a loaded `map`; returns `show(features)` (GeoJSON features with geometry). */
export function addHighlight(map) {
  map.addSource(SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'bando-highlight-line', type: 'line', source: SOURCE, paint: { 'line-color': '#facc15', 'line-width': 4 } });
  return {
    show(features) {
      map.getSource(SOURCE).setData({ type: 'FeatureCollection', features: features.filter((f) => f.geometry) });
    },
  };
}

// What the editor draws over the map besides terra-draw: the parcel shown read-only, the part a
// rule refused (422), the other version in a conflict, and a version picked in the history.
// One GeoJSON source and line/fill layers per kind; `show(kind, geometryOrNull)`.

const KINDS = {
  parcel: { line: { 'line-color': '#1d4ed8', 'line-width': 3 } },
  part: { fill: { 'fill-color': '#dc2626', 'fill-opacity': 0.45 }, line: { 'line-color': '#b91c1c', 'line-width': 3 } },
  theirs: { line: { 'line-color': '#ea580c', 'line-width': 3, 'line-dasharray': [2, 1] } },
  version: { line: { 'line-color': '#7c3aed', 'line-width': 3, 'line-dasharray': [1, 1] } },
};

const empty = () => ({ type: 'FeatureCollection', features: [] });

/** Adds the overlays to a loaded `map`. */
export function createOverlays(map) {
  for (const [kind, paint] of Object.entries(KINDS)) {
    const source = `editor-${kind}`;
    map.addSource(source, { type: 'geojson', data: empty() });
    if (paint.fill) map.addLayer({ id: `${source}-fill`, type: 'fill', source, paint: paint.fill });
    map.addLayer({ id: `${source}-line`, type: 'line', source, paint: paint.line });
  }
  return {
    /** Shows `geometry` (GeoJSON geometry or Feature) as `kind`, or clears it with null. */
    show(kind, geometry) {
      if (!KINDS[kind]) throw new Error(`no overlay ${kind}`);
      const feature = geometry?.type === 'Feature' ? geometry : geometry ? { type: 'Feature', properties: {}, geometry } : null;
      map.getSource(`editor-${kind}`).setData(feature ? { type: 'FeatureCollection', features: [feature] } : empty());
    },
  };
}

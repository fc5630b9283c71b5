// The parcels as they were at an instant, drawn from the server's tiles of that instant
// (`/tiles/parcels/{z}/{x}/{y}.mvt?datetime=…`, issue 11): when the history's slider picks an
// earlier version, the neighbourhood as it was when that version began, under the version's own
// outline (overlays.mjs). One vector source whose tile URL changes with the instant; hidden while
// the slider is on the present version.

const SOURCE = 'editor-past';
const LAYER = 'editor-past-line';

/** The time-slider tiles over a loaded `map`. */
export function createPastTiles(map) {
  let shown = null;
  const url = (instant) => `${location.origin}/tiles/parcels/{z}/{x}/{y}.mvt?datetime=${encodeURIComponent(instant)}`;
  return {
    /** Draws the parcels as of `instant` (RFC 3339), or hides them with null. */
    show(instant) {
      if (!instant) {
        shown = null;
        if (map.getLayer(LAYER)) map.setLayoutProperty(LAYER, 'visibility', 'none');
        return;
      }
      if (instant === shown) return;
      shown = instant;
      const source = map.getSource(SOURCE);
      if (source) source.setTiles([url(instant)]);
      else {
        map.addSource(SOURCE, { type: 'vector', tiles: [url(instant)], minzoom: 14, maxzoom: 22 });
        map.addLayer({
          id: LAYER, type: 'line', source: SOURCE, 'source-layer': 'parcels',
          paint: { 'line-color': '#7c3aed', 'line-width': 1.5, 'line-opacity': 0.8 },
        });
      }
      map.setLayoutProperty(LAYER, 'visibility', 'visible');
    },
    /** The instant drawn, or null. */
    get instant() { return shown; },
  };
}

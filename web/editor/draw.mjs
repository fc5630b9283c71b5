// Vertex editing with terra-draw and its MapLibre adapter (served by bando under /vendor/): the
// parcel being edited is one polygon in terra-draw's select mode, its vertices draggable (and
// deletable with a right-click, added from the midpoints), a dragged vertex snapping to the
// neighbours' vertices and edges (snap.mjs); a drawn line for a split in linestring mode.
// Holds no parcel state of its own beyond what terra-draw shows: the caller passes geometries
// in and is told about every finished edit.
import { TerraDraw, TerraDrawSelectMode, TerraDrawLineStringMode, TerraDrawPolygonMode } from 'terra-draw';
import { TerraDrawMapLibreGLAdapter } from 'terra-draw-maplibre-gl-adapter';
import { snapPoint } from '/editor/snap.mjs';

/** Decimal places kept (1e-9° ≈ 0.1 mm). */
const PRECISION = 9;
/** How near (screen pixels) a dragged vertex must come to a neighbour to snap, at least. */
export const SNAP_PIXELS = 12;

/** Metres per screen pixel at `lat` and `zoom` (MapLibre's 512-pixel tiles). */
export const metresPerPixel = (lat, zoom) => (40075016.686 * Math.cos((lat * Math.PI) / 180)) / (512 * 2 ** zoom);

const round = (v) => Math.round(v * 10 ** PRECISION) / 10 ** PRECISION;
const roundRing = (ring) => ring.map(([x, y]) => [round(x), round(y)]);

/**
 * The one polygon of a parcel's geometry that terra-draw can edit (a Polygon, or a MultiPolygon
 * of one part, without holes), rounded to the kept precision; null otherwise.
 */
export function editablePolygon(geometry) {
  let polygon = null;
  if (geometry?.type === 'Polygon') polygon = geometry.coordinates;
  else if (geometry?.type === 'MultiPolygon' && geometry.coordinates.length === 1) [polygon] = geometry.coordinates;
  if (!polygon || polygon.length !== 1) return null;
  return { type: 'Polygon', coordinates: [roundRing(polygon[0])] };
}

/**
 * Terra-draw on `map`; `onEdit(polygon)` after each finished vertex edit. A dragged vertex snaps
 * within the server's snapping tolerance `snapMetres` (`/land/config`), or within
 * [`SNAP_PIXELS`] when that is more on screen (a hand cannot place a vertex to 5 cm).
 */
export function createDraw(map, { onEdit, snapMetres }) {
  let neighbours = [];
  let featureId = null;
  let lineWanted = null;
  const snapPixels = () => Math.max(SNAP_PIXELS, snapMetres / metresPerPixel(map.getCenter().lat, map.getZoom()));
  const toCustom = (event) => snapPoint(
    { x: event.containerX, y: event.containerY }, neighbours, ([lng, lat]) => map.project([lng, lat]), snapPixels(),
  ) ?? undefined;
  const draw = new TerraDraw({
    adapter: new TerraDrawMapLibreGLAdapter({ map, coordinatePrecision: PRECISION, prefixId: 'editor-draw' }),
    modes: [
      new TerraDrawSelectMode({
        keyEvents: null, // the keyboard must not delete the parcel
        allowManualDeselection: false,
        flags: {
          polygon: {
            feature: {
              draggable: false,
              coordinates: { draggable: true, deletable: true, midpoints: true, snappable: { toCustom } },
            },
          },
        },
        styles: {
          selectedPolygonColor: '#2563eb', selectedPolygonFillOpacity: 0.15,
          selectedPolygonOutlineColor: '#1d4ed8', selectedPolygonOutlineWidth: 3,
          selectionPointWidth: 6, selectionPointColor: '#ffffff', selectionPointOutlineColor: '#1d4ed8',
          selectionPointOutlineWidth: 2, midPointColor: '#93c5fd', midPointWidth: 4,
        },
      }),
      new TerraDrawLineStringMode({ styles: { lineStringColor: '#dc2626', lineStringWidth: 3 } }),
      // The parcel is a feature of polygon mode (terra-draw needs the mode it belongs to); the
      // editor never draws new polygons with it.
      new TerraDrawPolygonMode({ styles: { fillColor: '#2563eb', fillOpacity: 0.15, outlineColor: '#1d4ed8', outlineWidth: 3 } }),
    ],
  });
  draw.start();
  draw.setMode('select');

  draw.on('finish', (id, context) => {
    if (id === featureId && context.mode === 'select') {
      onEdit(draw.getSnapshotFeature(id).geometry);
    } else if (context.mode === 'linestring' && lineWanted) {
      const line = draw.getSnapshotFeature(id)?.geometry;
      draw.removeFeatures([id]);
      draw.setMode('select');
      const done = lineWanted;
      lineWanted = null;
      done(line);
    }
  });

  function show(polygon) {
    if (featureId && draw.hasFeature(featureId)) draw.removeFeatures([featureId]);
    featureId = null;
    if (!polygon) return;
    featureId = draw.getFeatureId();
    const [result] = draw.addFeatures([{ id: featureId, type: 'Feature', geometry: polygon, properties: { mode: 'polygon' } }]);
    if (!result.valid) {
      featureId = null;
      throw new Error(`terra-draw: ${result.reason ?? 'invalid polygon'}`);
    }
    draw.selectFeature(featureId);
  }

  return {
    /** Edits `polygon` (from `editablePolygon`), or nothing when null. */
    edit: show,
    /** Puts `polygon` back (undo, redo, re-apply) without it counting as an edit. */
    set: show,
    /** The polygon as edited now, or null. */
    geometry: () => (featureId ? draw.getSnapshotFeature(featureId)?.geometry ?? null : null),
    /** How near (pixels) a dragged vertex snaps now. */
    snapPixels,
    /** Whether a cutting line is being drawn (map clicks belong to it). */
    drawingLine: () => lineWanted !== null,
    /** The neighbours' rings, to snap to. */
    setNeighbours(rings) { neighbours = rings; },
    /** Whether the edited parcel (or one of its handles) is under the point. */
    isEditedAt(lngLat) {
      return draw.getFeaturesAtLngLat(lngLat, { pointerDistance: 12 }).length > 0;
    },
    /** Lets the user draw a line (click the points, double-click to end); resolves to it. */
    drawLine() {
      return new Promise((ok) => {
        lineWanted = ok;
        draw.setMode('linestring');
      });
    },
    /** The terra-draw instance (tests, console). */
    terraDraw: draw,
  };
}

// Snapping to the neighbours: the point a dragged vertex should take, given the neighbours'
// rings. A neighbour's vertex within the tolerance wins; otherwise the nearest point on a
// neighbour's edge within it; otherwise none. Distances are in screen pixels (what the hand
// controls), the answer in longitude/latitude. Pure: no map, no DOM.

/** Every ring (arrays of [lng, lat]) of a GeoJSON Polygon or MultiPolygon. */
export function ringsOf(geometry) {
  if (!geometry) return [];
  if (geometry.type === 'Polygon') return geometry.coordinates;
  if (geometry.type === 'MultiPolygon') return geometry.coordinates.flat();
  return [];
}

/**
 * The snapped position of screen point `at` ({x, y}) against `rings`, or null when nothing is
 * within `pixels`. `project([lng, lat])` gives the screen {x, y} of a position.
 */
export function snapPoint(at, rings, project, pixels) {
  let bestVertex = null;
  let vertexDistance = pixels;
  let bestEdge = null;
  let edgeDistance = pixels;
  for (const ring of rings) {
    const points = ring.map(project);
    for (let i = 0; i < ring.length; i += 1) {
      const p = points[i];
      const d = Math.hypot(p.x - at.x, p.y - at.y);
      if (d <= vertexDistance) { vertexDistance = d; bestVertex = ring[i]; }
      if (i === ring.length - 1) continue;
      const q = points[i + 1];
      const dx = q.x - p.x; const dy = q.y - p.y;
      const length2 = dx * dx + dy * dy;
      if (length2 === 0) continue;
      const t = Math.max(0, Math.min(1, ((at.x - p.x) * dx + (at.y - p.y) * dy) / length2));
      const e = Math.hypot(p.x + t * dx - at.x, p.y + t * dy - at.y);
      if (e <= edgeDistance) {
        edgeDistance = e;
        const [a, b] = [ring[i], ring[i + 1]];
        bestEdge = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
      }
    }
  }
  return bestVertex ? [...bestVertex] : bestEdge;
}

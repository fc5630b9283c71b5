// The live map: bando's base style with the latest readings as a GeoJSON source, one point per
// datastream coloured by status (the layer's own colours), and open events as larger rings; an
// event with an affected area (a water isolation's pipes, a power outage's lines) draws it too.
// Readings replace their datastream's point as they arrive.

import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';

export const STATUS_COLOURS = { ok: '#1a9850', warning: '#f59e0b', alarm: '#d7191c', no_data: '#9e9e9e' };
const colourByStatus = ['match', ['get', 'status'],
  'ok', STATUS_COLOURS.ok, 'warning', STATUS_COLOURS.warning, 'alarm', STATUS_COLOURS.alarm,
  STATUS_COLOURS.no_data];

/** Creates the map in `container`; resolves when it has loaded. */
export function createLiveMap(container) {
  const map = new maplibregl.Map({
    container,
    style: '/styles/base.json',
    center: [106.9, 11.6],
    zoom: 9,
    attributionControl: { compact: true },
  });
  const readings = new Map();
  const events = new Map();
  const areas = new Map();
  const collection = (m) => ({ type: 'FeatureCollection', features: [...m.values()] });
  const loaded = new Promise((ok, fail) => {
    map.once('load', () => {
      map.addSource('ioc-live', { type: 'geojson', data: collection(readings) });
      map.addSource('ioc-events', { type: 'geojson', data: collection(events) });
      map.addSource('ioc-event-areas', { type: 'geojson', data: collection(areas) });
      map.addLayer({
        id: 'ioc-event-areas', type: 'line', source: 'ioc-event-areas',
        paint: { 'line-width': 5, 'line-opacity': 0.8,
          'line-color': ['match', ['get', 'severity'], 'warning', STATUS_COLOURS.warning, STATUS_COLOURS.alarm] },
      });
      map.addLayer({
        id: 'ioc-events-rings', type: 'circle', source: 'ioc-events',
        paint: { 'circle-radius': 16, 'circle-opacity': 0, 'circle-stroke-width': 3,
          'circle-stroke-color': ['match', ['get', 'severity'], 'warning', STATUS_COLOURS.warning, STATUS_COLOURS.alarm] },
      });
      map.addLayer({
        id: 'ioc-live-points', type: 'circle', source: 'ioc-live',
        paint: { 'circle-radius': 8, 'circle-color': colourByStatus,
          'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1.5 },
      });
      ok();
    });
    map.once('error', (e) => fail(e.error ?? e));
  });
  let pending = false;
  let framed = false;
  const flush = () => {
    pending = false;
    map.getSource('ioc-live')?.setData(collection(readings));
    map.getSource('ioc-events')?.setData(collection(events));
    map.getSource('ioc-event-areas')?.setData(collection(areas));
  };
  // Many readings in a burst redraw once per frame.
  const schedule = () => {
    if (!pending) {
      pending = true;
      requestAnimationFrame(flush);
    }
  };
  // Points of one station's datastreams would sit on top of each other: spread them a little.
  const spread = (f) => {
    const [x, y] = f.geometry.coordinates;
    const k = (f.properties.datastream_id % 4) * (Math.PI / 2);
    return { ...f, geometry: { type: 'Point', coordinates: [x + 0.0015 * Math.cos(k), y + 0.0015 * Math.sin(k)] } };
  };
  return {
    map,
    loaded,
    readings,
    /** Replaces every reading (a snapshot). */
    setReadings(features) {
      readings.clear();
      for (const f of features) readings.set(f.properties.datastream_id, spread(f));
      // The first snapshot frames every station.
      if (!framed && features.length) {
        framed = true;
        const xs = features.map((f) => f.geometry.coordinates[0]);
        const ys = features.map((f) => f.geometry.coordinates[1]);
        map.fitBounds([[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]],
          { padding: 40, maxZoom: 13, duration: 0 });
      }
      schedule();
    },
    /** One datastream's new latest reading. */
    putReading(f) {
      readings.set(f.properties.datastream_id, spread(f));
      schedule();
    },
    /** The open events with a location, and the areas of those that have one. */
    setEvents(list) {
      events.clear();
      areas.clear();
      for (const e of list) {
        if (e.status === 'closed') continue;
        const properties = { id: e.id, kind: e.kind, severity: e.severity, status: e.status };
        if (e.location) events.set(e.id, { type: 'Feature', id: e.id, geometry: e.location, properties });
        if (e.area) areas.set(e.id, { type: 'Feature', id: e.id, geometry: e.area, properties });
      }
      schedule();
    },
  };
}

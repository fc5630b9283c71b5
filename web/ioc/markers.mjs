// The live map: bando's IOC style (base map, cameras, traffic lights, monitoring stations) with
// the latest readings as a GeoJSON source, one point per datastream coloured by status (the
// layer's own colours), and — for operators — the staff layer `events` drawn from its vector
// tiles: one circle per open or acknowledged event, coloured by severity, acknowledged ones
// faded (the layer's style in `ioc::plugin`). Readings replace their datastream's point as they
// arrive; an event arriving on the feed redraws the events' tiles.
// An event with an affected area (a water isolation's pipes, a power outage's lines) has the
// area drawn as lines under it, from the feed's events.

import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';

export const STATUS_COLOURS = { ok: '#1a9850', warning: '#f59e0b', alarm: '#d7191c', no_data: '#9e9e9e' };
const colourByStatus = ['match', ['get', 'status'],
  'ok', STATUS_COLOURS.ok, 'warning', STATUS_COLOURS.warning, 'alarm', STATUS_COLOURS.alarm,
  STATUS_COLOURS.no_data];
/** The events layer's severity colours (`ioc::plugin::SEVERITY_COLOURS`). */
export const SEVERITY_COLOURS = { info: '#2563eb', warning: '#f59e0b', alarm: '#d7191c', critical: '#7f0000' };
/** Opacity of acknowledged events and of the others (`ioc::plugin`'s events style). */
export const EVENT_OPACITY = { acknowledged: 0.45, other: 0.95 };
const eventsPaint = {
  'circle-color': ['match', ['get', 'severity'],
    'info', SEVERITY_COLOURS.info, 'warning', SEVERITY_COLOURS.warning,
    'alarm', SEVERITY_COLOURS.alarm, 'critical', SEVERITY_COLOURS.critical, SEVERITY_COLOURS.alarm],
  'circle-radius': ['match', ['get', 'severity'], ['alarm', 'critical'], 14, 11],
  'circle-opacity': ['match', ['get', 'status'], 'acknowledged', EVENT_OPACITY.acknowledged, EVENT_OPACITY.other],
  'circle-stroke-color': '#ffffff',
  'circle-stroke-width': 2,
};

/**
 * Creates the map in `container`; `loaded` resolves when it has loaded. `transformRequest`
 * signs this server's requests (the events' tiles are for staff); `events` draws the events
 * layer (operators only: anyone else would get 404 for its tiles).
 */
export function createLiveMap(container, { transformRequest, events: drawEvents = false } = {}) {
  const map = new maplibregl.Map({
    container,
    style: '/styles/ioc.json',
    center: [106.9, 11.6],
    zoom: 9,
    attributionControl: { compact: true },
    transformRequest,
  });
  const readings = new Map();
  const areas = new Map();
  const collection = (m) => ({ type: 'FeatureCollection', features: [...m.values()] });
  // A new version in the tile URLs refetches them past the browser's cache (`max-age` 10 s).
  let eventsVersion = 0;
  const eventTiles = () => [`${location.origin}/tiles/events/{z}/{x}/{y}.mvt?v=${eventsVersion}`];
  const loaded = new Promise((ok, fail) => {
    map.once('load', () => {
      map.addSource('ioc-live', { type: 'geojson', data: collection(readings) });
      map.addSource('ioc-event-areas', { type: 'geojson', data: collection(areas) });
      map.addLayer({
        id: 'ioc-event-areas', type: 'line', source: 'ioc-event-areas',
        paint: { 'line-width': 5, 'line-opacity': 0.8,
          'line-color': ['match', ['get', 'severity'], 'warning', STATUS_COLOURS.warning, STATUS_COLOURS.alarm] },
      });
      if (drawEvents) {
        map.addSource('ioc-events', { type: 'vector', tiles: eventTiles(), minzoom: 8, maxzoom: 18 });
        map.addLayer({ id: 'ioc-events', type: 'circle', source: 'ioc-events', 'source-layer': 'events',
          paint: eventsPaint });
      }
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
    map.getSource('ioc-event-areas')?.setData(collection(areas));
  };
  let redraw = null;
  const redrawEvents = () => {
    eventsVersion += 1;
    map.getSource('ioc-events')?.setTiles(eventTiles());
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
    /**
     * Events changed: their tiles are fetched again now and once more a little later (the
     * server drops its cached tiles when it hears of the change, which may come just after the
     * feed's message).
     */
    eventsChanged() {
      if (!drawEvents) return;
      redrawEvents();
      clearTimeout(redraw);
      redraw = setTimeout(redrawEvents, 1500);
    },
    /** The areas of the open events that have one (the events themselves come as tiles). */
    setAreas(list) {
      areas.clear();
      for (const e of list) {
        if (e.status === 'closed' || !e.area) continue;
        const properties = { id: e.id, kind: e.kind, severity: e.severity, status: e.status };
        areas.set(e.id, { type: 'Feature', id: e.id, geometry: e.area, properties });
      }
      schedule();
    },
  };
}

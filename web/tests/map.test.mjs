// The planners' map (/map) in headless Chromium against a real bando with sample cadastre,
// planning and transport layers: it draws features, lists every layer of the style by sector
// (those hidden at start unticked), identifies them without personal data under the style's
// titles, renders Vietnamese labels, measures with the server, finds parcels, restores its view
// from the URL and switches language — and never asks any host but the bando under test. Every
// page is closed by closeMap, which fails on any error response, script error or reported error;
// a failing endpoint must show an error, never a substitute.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import proj4 from 'proj4';
import { startBando, launchBrowser, resultsDir, root } from './harness.mjs';
import { definition, ZONES } from '../map/vn2000.mjs';

let bando;
let browser;
/** Parcels of the sample in WGS84 (the first 200 Binh Phuoc parcels, with their owners). */
let sampleParcels;
/** The planners' style as bando serves it: the one source of titles the map may show. */
let style;

before(async () => {
  bando = await startBando({
    parcels: 600,
    imports: [
      ['communes.gpkg', 'communes'],
      ['map_sheets.gpkg', 'map_sheets'],
      ['parcels_binhphuoc.shp', 'parcels'],
      ['planning_zones.gpkg', 'planning_zones'],
      ['roads.gpkg', 'roads'],
    ],
  });
  browser = await launchBrowser();
  sampleParcels = JSON.parse(readFileSync(join(bando.sample, 'parcels_sample.geojson'), 'utf8')).features;
  const response = await fetch(`${bando.url}/styles/planning.json`);
  assert.equal(response.status, 200, 'GET /styles/planning.json');
  style = await response.json();
  assert.ok(style.metadata?.['bando:layers'] && style.metadata?.['bando:sectors'], 'the style carries bando:layers and bando:sectors');
});

after(async () => {
  await browser?.close();
  await bando?.stop();
});

/** The style's description of a layer (`metadata["bando:layers"][id]`). */
const described = (id) => style.metadata['bando:layers'][id];

/** Opens /map (optionally with a hash), recording every request, and waits for drawn tiles. */
async function openMap(hash = '') {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const log = { requests: [], failed: [], bad: [], errors: [] };
  page.on('request', (r) => log.requests.push(r.url()));
  page.on('requestfailed', (r) => {
    const error = r.failure()?.errorText;
    // MapLibre cancels the tiles a moving view has left behind; any other failure counts.
    if (error === 'net::ERR_ABORTED' && new URL(r.url()).pathname.startsWith('/tiles/')) return;
    log.failed.push(`${r.url()}: ${error}`);
  });
  page.on('response', (r) => { if (r.status() >= 400) log.bad.push(`${r.status()} ${r.url()}`); });
  page.on('pageerror', (e) => log.errors.push(e.message));
  const response = await page.goto(`${bando.url}/map${hash}`);
  assert.equal(response.status(), 200);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'true',
    `the map did not start: ${await page.locator('#status').innerText()}`);
  await idle(page);
  return { page, log };
}

/**
 * Closes a page after checking that nothing went wrong on it: every request went to this bando
 * and was answered without error, no script error, nothing on the map's status line.
 */
async function closeMap({ page, log }) {
  const origin = new URL(bando.url).origin;
  const foreign = log.requests.filter((u) => !u.startsWith(origin + '/') && !/^(data|blob):/.test(u));
  assert.deepEqual(foreign, [], 'requests to other hosts');
  assert.deepEqual(log.failed, [], 'failed requests');
  assert.deepEqual(log.bad, [], 'error responses');
  assert.deepEqual(log.errors, [], 'script errors');
  assert.deepEqual(await page.evaluate(() => window.bando.errors()), [], 'errors reported by the map');
  assert.equal(await page.locator('#status').innerText(), '', 'the status line shows an error');
  await page.close();
}

/** Waits until the map has drawn every tile it asked for. */
async function idle(page) {
  await page.waitForFunction(() => {
    const map = window.bandoMap;
    return map && map.loaded() && map.areTilesLoaded() && !map.isMoving();
  }, null, { timeout: 60_000, polling: 100 });
}

/** How many features of a bando layer are drawn on the page's map. */
async function drawnCount(page, layer) {
  return page.evaluate((id) => window.bandoMap.queryRenderedFeatures()
    .filter((f) => f.layer.metadata?.['bando:layer'] === id).length, layer);
}

/** Style layer ids showing a bando layer. */
async function styleLayersOf(page, layer) {
  return page.evaluate((id) => window.bandoMap.getStyle().layers
    .filter((l) => l.metadata?.['bando:layer'] === id).map((l) => l.id), layer);
}

/** Ray casting: is [x, y] inside the ring? */
function inRing([x, y], ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** A point well inside a sample parcel: the mean of its ring, else a fan triangle's centroid. */
function insidePoint(feature) {
  const polygon = feature.geometry.type === 'MultiPolygon' ? feature.geometry.coordinates[0] : feature.geometry.coordinates;
  const ring = polygon[0].slice(0, -1);
  const mean = [ring.reduce((s, c) => s + c[0], 0) / ring.length, ring.reduce((s, c) => s + c[1], 0) / ring.length];
  const candidates = [mean];
  for (let i = 1; i + 1 < ring.length; i++) {
    candidates.push([(ring[0][0] + ring[i][0] + ring[i + 1][0]) / 3, (ring[0][1] + ring[i][1] + ring[i + 1][1]) / 3]);
  }
  const inside = candidates.find((c) => inRing(c, polygon[0]));
  assert.ok(inside, `no inner point found for parcel ${JSON.stringify(feature.properties)}`);
  return inside;
}

/** Where a lon/lat is on the page (map canvas offset included). */
async function pagePoint(page, lngLat) {
  const box = await page.locator('#map canvas').boundingBox();
  const p = await page.evaluate((c) => window.bandoMap.project(c), lngLat);
  return { x: box.x + p.x, y: box.y + p.y };
}

test('the map loads everything from bando alone, with no failed request', async () => {
  const map = await openMap();
  const { page, log } = map;
  const origin = new URL(bando.url).origin;
  const asked = (path) => log.requests.some((u) => u.startsWith(origin + path));
  assert.ok(asked('/vendor/maplibre-gl/maplibre-gl.mjs'));
  assert.ok(asked('/styles/planning.json'), 'the style is read from the server');
  assert.ok(!asked('/layers'), 'no layer list is read beside the style');
  assert.ok(log.requests.some((u) => /\/tiles\/[^?]*\/\d+\/\d+\/\d+\.(mvt|pbf)/.test(u)), 'no tile was requested');
  await page.waitForFunction(() => document.querySelectorAll('#commune-list option').length > 0);
  assert.ok(asked('/collections/communes/items'));
  assert.equal(await page.getAttribute('html', 'lang'), 'vi');
  // Scale bar (metric) and navigation control are on the map.
  assert.match(await page.locator('.maplibregl-ctrl-scale').innerText(), /^\d+\s*(m|km)$/);
  assert.equal(await page.locator('.maplibregl-ctrl-zoom-in').count(), 1);
  // No sign-in configured: no account corner, no development banner (signin.test.mjs has both).
  assert.ok(asked('/auth/config'));
  assert.equal(await page.locator('#account').isVisible(), false);
  assert.equal(await page.locator('#sign-in').isVisible(), false);
  assert.equal(await page.locator('#dev-issuer-banner').count(), 0);
  await page.screenshot({ path: join(resultsDir, 'map-vi.png') });
  await closeMap(map);
});

test('rendered features include parcels and communes; the tree groups every layer by sector', async () => {
  const map = await openMap();
  const { page } = map;
  const drawn = await page.evaluate(() => {
    const byLayer = {};
    for (const f of window.bandoMap.queryRenderedFeatures()) {
      const id = f.layer.metadata?.['bando:layer'];
      if (id) (byLayer[id] ??= []).push(f.properties);
    }
    return byLayer;
  });
  assert.ok(drawn.parcels?.length > 10, `parcels drawn: ${drawn.parcels?.length}`);
  assert.ok(drawn.communes?.length > 0, 'communes drawn');
  // (Below the detail zoom parcels may be drawn generalised, without their numbers.)
  for (const p of drawn.parcels) assert.equal(p.owner_name, undefined, 'owner names never reach the map');
  // At a sample parcel, the parcel drawn under that point is that parcel.
  const parcel = sampleParcels[7];
  const where = insidePoint(parcel);
  await page.evaluate((c) => window.bandoMap.jumpTo({ center: c, zoom: 16 }), where);
  await idle(page);
  const under = await page.evaluate((c) => window.bandoMap.queryRenderedFeatures(window.bandoMap.project(c))
    .filter((f) => f.layer.metadata?.['bando:layer'] === 'parcels').map((f) => f.properties), where);
  assert.ok(under.some((p) => p.commune_code === parcel.properties.MAXA && p.sheet_number === parcel.properties.SHBANDO &&
    p.parcel_number === parcel.properties.SHTHUA), `${JSON.stringify(parcel.properties)} not drawn at ${where}: ${JSON.stringify(under)}`);
  for (const p of under) {
    assert.match(p.land_use_code, /^[A-Z]{2,4}$/);
    assert.equal(p.owner_name, undefined);
  }

  const groups = await page.locator('#layer-tree details').evaluateAll((els) =>
    els.map((e) => ({ sector: e.dataset.sector, title: e.querySelector('summary').textContent,
      layers: [...e.querySelectorAll('label')].map((l) => ({ id: l.dataset.layer, title: l.querySelector('.title').textContent })) })));
  // Every layer of the style, under its sector, with the style's titles; the sectors in the
  // style's order, titled as the style titles them.
  const layers = style.metadata['bando:layers'];
  const sectors = style.metadata['bando:sectors'].filter((s) => Object.values(layers).some((l) => l.sector === s.id));
  assert.deepEqual(groups.map((g) => g.sector), sectors.map((s) => s.id));
  assert.deepEqual(groups.map((g) => g.title), sectors.map((s) => s.title_vi));
  for (const g of groups) {
    const expected = Object.entries(layers).filter(([, l]) => l.sector === g.sector).map(([id, l]) => ({ id, title: l.title_vi }));
    assert.deepEqual(g.layers, expected, `sector ${g.sector}`);
  }
  assert.equal(groups.flatMap((g) => g.layers).length, Object.keys(layers).length);
  const group = (title) => groups.find((g) => g.title === title)?.layers.map((l) => l.id) ?? [];
  assert.ok(group('Địa chính').includes('parcels') && group('Địa chính').includes('communes'), JSON.stringify(groups));
  assert.ok(group('Quy hoạch').includes('planning_zones'));
  assert.ok(group('Giao thông').includes('roads'));
  assert.equal((await page.locator('#layer-tree label[data-layer="parcels"] .title').innerText()).trim(), 'Thửa đất');

  // Unticking a layer hides every style layer showing it.
  await page.locator('#layer-tree label[data-layer="parcels"] input').uncheck();
  const hidden = await page.evaluate((ids) => ids.map((id) => window.bandoMap.getLayoutProperty(id, 'visibility')),
    await styleLayersOf(page, 'parcels'));
  assert.ok(hidden.length > 0 && hidden.every((v) => v === 'none'), JSON.stringify(hidden));
  await idle(page);
  assert.equal(await drawnCount(page, 'parcels'), 0);
  await closeMap(map);
});

test('layers hidden at start are unticked and not drawn until ticked; the URL can show them', async () => {
  const layers = style.metadata['bando:layers'];
  const off = Object.keys(layers).filter((id) => layers[id].visible === false);
  const on = Object.keys(layers).filter((id) => layers[id].visible === true);
  assert.ok(off.includes('map_sheets'), `map sheets are hidden at start: ${off}`);
  assert.ok(on.includes('parcels') && on.includes('communes'), `shown at start: ${on}`);
  const [lon, lat] = insidePoint(sampleParcels[3]);
  const map = await openMap(`#map=15/${lat}/${lon}`);
  const { page } = map;
  const checked = (id) => page.locator(`#layer-tree label[data-layer="${id}"] input`).isChecked();
  for (const id of off) assert.equal(await checked(id), false, `${id} is ticked`);
  for (const id of on) assert.equal(await checked(id), true, `${id} is not ticked`);
  assert.doesNotMatch(await page.evaluate(() => location.hash), /[=,]map_sheets(,|&|$)/);
  assert.equal(await drawnCount(page, 'map_sheets'), 0, 'map sheets drawn before they are ticked');
  assert.ok(await drawnCount(page, 'parcels') > 0);
  // Ticking draws them and puts them into the URL.
  await page.locator('#layer-tree label[data-layer="map_sheets"] input').check();
  await idle(page);
  assert.ok(await drawnCount(page, 'map_sheets') > 0, 'map sheets not drawn once ticked');
  assert.match(await page.evaluate(() => location.hash), /layers=[^&]*map_sheets/);
  await closeMap(map);
  // `layers=` in the URL overrides the start visibility both ways.
  const viaUrl = await openMap(`#map=15/${lat}/${lon}&layers=map_sheets,communes`);
  assert.equal(await viaUrl.page.locator('#layer-tree label[data-layer="map_sheets"] input').isChecked(), true);
  assert.equal(await viaUrl.page.locator('#layer-tree label[data-layer="parcels"] input').isChecked(), false);
  assert.ok(await drawnCount(viaUrl.page, 'map_sheets') > 0);
  assert.equal(await drawnCount(viaUrl.page, 'parcels'), 0);
  await closeMap(viaUrl);
});

/** The popup's sections: layer, heading and rows { key, title, value }. */
function popupSections(page) {
  return page.locator('.maplibregl-popup .identify section.feature').evaluateAll((els) => els.map((s) => ({
    layer: s.dataset.layer,
    heading: s.querySelector('h3').textContent,
    rows: [...s.querySelectorAll('tr')].map((r) => ({ key: r.dataset.key, title: r.querySelector('th').textContent, value: r.querySelector('td').textContent })),
  })));
}

/** Every section is titled as the style titles its layer, every row as it titles the property, in its order. */
function assertTitledByStyle(sections, lang) {
  assert.ok(sections.length > 0);
  for (const section of sections) {
    const layer = described(section.layer);
    assert.ok(layer, `layer ${section.layer} is not in the style's bando:layers`);
    assert.equal(section.heading, layer[`title_${lang}`]);
    assert.ok(section.rows.length > 0, `no rows for ${section.layer}`);
    const order = layer.properties.map((p) => p.name);
    for (const row of section.rows) {
      const property = layer.properties.find((p) => p.name === row.key);
      assert.ok(property, `${section.layer}.${row.key} is not a public property of the style`);
      assert.equal(row.title, property[`title_${lang}`], `${section.layer}.${row.key}`);
    }
    const keys = section.rows.map((r) => r.key);
    assert.deepEqual(keys, [...keys].sort((a, b) => order.indexOf(a) - order.indexOf(b)), 'rows in the style\'s order');
  }
}

test('clicking a parcel shows its number and land-use code under the style\'s titles, never its owner', async () => {
  const parcel = sampleParcels.find((f) => f.properties.TENCHU && f.properties.MALOAIDAT);
  const [lon, lat] = insidePoint(parcel);
  const map = await openMap(`#map=16/${lat}/${lon}`);
  const { page, log } = map;
  const at = await pagePoint(page, [lon, lat]);
  await page.mouse.click(at.x, at.y);
  const popup = page.locator('.maplibregl-popup .identify');
  await popup.waitFor({ timeout: 15_000 });
  assert.ok(log.requests.some((u) => u.includes('/query/identify?')), 'identify asked the server');
  const section = popup.locator('section.feature[data-layer="parcels"]');
  assert.equal(await section.count(), 1, await popup.innerText());
  const cell = (key) => section.locator(`tr[data-key="${key}"] td`).innerText();
  assert.equal(await cell('parcel_number'), String(parcel.properties.SHTHUA));
  assert.equal(await cell('sheet_number'), String(parcel.properties.SHBANDO));
  assert.equal(await cell('land_use_code'), parcel.properties.MALOAIDAT);
  const text = await popup.innerText();
  assert.ok(!text.includes(parcel.properties.TENCHU), `owner name ${parcel.properties.TENCHU} shown`);
  assert.equal(await popup.locator('tr[data-key*="owner"]').count(), 0);
  // Titles: those of the style's catalog, Vietnamese first.
  assertTitledByStyle(await popupSections(page), 'vi');
  assert.equal(await section.locator('h3').innerText(), 'Thửa đất');
  assert.equal(await section.locator('tr[data-key="parcel_number"] th').innerText(), 'Số thửa');
  assert.equal(await section.locator('tr[data-key="land_use_code"] th').innerText(), 'Mã loại đất');
  await page.screenshot({ path: join(resultsDir, 'map-identify.png') });
  // The open popup follows the language, and so does the next one.
  await page.click('#lang-toggle');
  assertTitledByStyle(await popupSections(page), 'en');
  await page.mouse.click(at.x, at.y);
  await page.waitForFunction(() => document.querySelectorAll('.maplibregl-popup').length === 1 &&
    document.querySelector('.maplibregl-popup .identify section.feature[data-layer="parcels"]'));
  const english = await popupSections(page);
  assertTitledByStyle(english, 'en');
  assert.equal(english.find((s) => s.layer === 'parcels').heading, described('parcels').title_en);
  await closeMap(map);
});

test('Vietnamese labels render with glyphs for U+1E00–1EFF', async () => {
  const map = await openMap();
  const { page } = map;
  const labelLayers = await page.evaluate(() => window.bandoMap.getStyle().layers
    .filter((l) => l.type === 'symbol' && l.layout?.['text-field'] && l.metadata?.['bando:layer']).map((l) => l.id));
  assert.ok(labelLayers.length > 0, 'the style has label layers');
  // Look at a few zoom levels: each label layer has its own range.
  const vietnamese = /[\u00C0-\u01B0\u1E00-\u1EFF]/;
  let labels = [];
  for (const zoom of [null, 13, 15]) {
    if (zoom !== null) {
      await page.evaluate((z) => window.bandoMap.jumpTo({ zoom: z }), zoom);
      await idle(page);
    }
    labels = await page.evaluate((ids) => window.bandoMap.queryRenderedFeatures({ layers: ids })
      .map((f) => ({ layer: f.layer.id, text: f.properties.name ?? f.properties.title ?? JSON.stringify(f.properties) })), labelLayers);
    if (labels.some((l) => vietnamese.test(l.text))) break;
  }
  assert.ok(labels.some((l) => vietnamese.test(l.text)), `Vietnamese labels drawn: ${JSON.stringify(labels.slice(0, 5))}`);
  // The glyphs of Vietnamese letters (Latin Extended Additional) were fetched (closeMap checks
  // every answer was a success), and they are not empty.
  const urls = map.log.requests.filter((u) => /\/7680-7935\.pbf(\?|$)/.test(u));
  assert.ok(urls.length > 0, 'no request for the 7680-7935 glyph range');
  for (const url of new Set(urls)) {
    const response = await fetch(url);
    assert.equal(response.status, 200, url);
    assert.ok((await response.arrayBuffer()).byteLength > 0, `${url} is empty`);
  }
  await page.screenshot({ path: join(resultsDir, 'map-labels.png') });
  await closeMap(map);
});

/** A square of `side` metres in TM-3 (EPSG:9212), as WGS84 vertices. */
function tm3Square(easting, northing, side) {
  const zone = ZONES[0];
  const def = definition(zone);
  return [[0, 0], [side, 0], [side, side], [0, side]]
    .map(([de, dn]) => proj4(def, 'EPSG:4326', [easting + de, northing + dn]));
}

/** What POST /query/measure answers for a geometry. */
async function measureDirect(geometry) {
  const response = await fetch(`${bando.url}/query/measure`, {
    method: 'POST', headers: { 'content-type': 'application/geo+json' }, body: JSON.stringify(geometry),
  });
  assert.equal(response.status, 200, 'POST /query/measure');
  return response.json();
}

async function measureWithTool(page, kind, vertices) {
  return page.evaluate(async ({ kind, vertices }) => {
    window.bando.measure.start(kind);
    for (const v of vertices) window.bando.measure.addVertex(v);
    return window.bando.measure.finish();
  }, { kind, vertices });
}

test('measuring a known TM-3 square shows what POST /query/measure answers, in m² and ha', async () => {
  const map = await openMap();
  const { page } = map;
  const square = tm3Square(568000, 1274000, 200);
  const result = await measureWithTool(page, 'area', square);
  const direct = await measureDirect({ type: 'Polygon', coordinates: [[...square, square[0]]] });
  assert.deepEqual(result, direct, 'the tool shows the server\'s answer');
  assert.ok(Math.abs(result.area_m2 - 40000) < 0.05, `area ${result.area_m2}`);
  assert.ok(Math.abs(result.perimeter_m - 800) < 0.01, `perimeter ${result.perimeter_m}`);
  assert.equal(Number(result.srid), 9212);
  const shown = await page.locator('#measure-result dd[data-key="area"]').innerText();
  assert.match(shown, /^40\.000,00 m² \(4,0000 ha\)$/);
  assert.match(await page.locator('#measure-result dd[data-key="zone"]').innerText(), /^EPSG:9212/);
  const line = await measureWithTool(page, 'line', square.slice(0, 3));
  assert.deepEqual(line, await measureDirect({ type: 'LineString', coordinates: square.slice(0, 3) }));
  assert.ok(Math.abs(line.length_m - 400) < 0.01, `length ${line.length_m}`);
  assert.match(await page.locator('#measure-result dd[data-key="length"]').innerText(), /^400,00 m$/);
  await page.screenshot({ path: join(resultsDir, 'map-measure.png') });
  // The result follows the language.
  await page.click('#lang-toggle');
  assert.match(await page.locator('#measure-result dd[data-key="length"]').innerText(), /^400\.00 m$/);
  assert.equal(await page.locator('#measure-result dt').first().innerText(), 'Length');
  await closeMap(map);
});

test('clicks and a double-click draw the measured line', async () => {
  const map = await openMap();
  const { page, log } = map;
  const square = tm3Square(570123.4, 1276543.2, 150);
  await page.click('#measure-line');
  assert.equal(await page.getAttribute('#measure-line', 'aria-pressed'), 'true');
  const a = await pagePoint(page, square[0]);
  const b = await pagePoint(page, square[1]);
  await page.mouse.click(a.x, a.y);
  await page.mouse.dblclick(b.x, b.y);
  await page.locator('#measure-result dd[data-key="length"]').waitFor();
  const last = await page.evaluate(() => window.bando.measure.last);
  assert.equal(last.geometry.coordinates.length, 2, JSON.stringify(last.geometry));
  assert.deepEqual(last.result, await measureDirect(last.geometry));
  assert.ok(Math.abs(last.result.length_m - 150) < 5, `clicked length ${last.result.length_m}`);
  assert.ok(log.requests.some((u) => u.endsWith('/query/measure')));
  assert.equal(await page.getAttribute('#measure-line', 'aria-pressed'), 'false');
  // While measuring, clicks are vertices, not identify requests.
  assert.ok(!log.requests.some((u) => u.includes('/query/identify')), 'a measuring click asked identify');
  await closeMap(map);
});

test('searching commune, sheet and parcel number flies to the parcel', async () => {
  const parcel = sampleParcels[42];
  const { MAXA, SHBANDO, SHTHUA } = parcel.properties;
  const map = await openMap();
  const { page } = map;
  // The commune field offers the communes of the database (OGC API Features).
  await page.waitForFunction(() => document.querySelectorAll('#commune-list option').length > 0);
  const options = await page.locator('#commune-list option').evaluateAll((els) => els.map((o) => o.value));
  assert.equal(options.length, 12, JSON.stringify(options));
  assert.ok(options.includes(MAXA));
  await page.fill('#search-commune', MAXA);
  await page.fill('#search-sheet', String(SHBANDO));
  await page.fill('#search-number', String(SHTHUA));
  const moved = page.evaluate(() => new Promise((ok) => window.bandoMap.once('moveend', ok)));
  await page.click('#search button[type="submit"]');
  await moved;
  await idle(page);
  const found = await (await fetch(`${bando.url}/query/parcels?commune=${MAXA}&sheet=${SHBANDO}&number=${SHTHUA}`)).json();
  assert.equal(found.features.length, 1);
  const [w, s, e, n] = found.features[0].bbox;
  const c = await page.evaluate(() => window.bandoMap.getCenter());
  assert.ok(c.lng >= w && c.lng <= e && c.lat >= s && c.lat <= n, `centre ${c.lng},${c.lat} outside ${found.features[0].bbox}`);
  assert.equal(await page.locator('#search-status').innerText(), 'Tìm thấy 1 thửa');
  const highlighted = await page.evaluate(() => window.bandoMap.querySourceFeatures('bando-highlight').length);
  assert.ok(highlighted > 0, 'the parcel is highlighted');
  // A parcel that does not exist says so.
  const none = await page.evaluate(({ c, s }) => window.bando.search(c, s, 99999), { c: MAXA, s: SHBANDO });
  assert.deepEqual(none.features, []);
  assert.equal(await page.locator('#search-status').innerText(), 'Không tìm thấy thửa đất này');
  await page.screenshot({ path: join(resultsDir, 'map-search.png') });
  await closeMap(map);
});

test('a failing endpoint shows an error and nothing in its place', async () => {
  // The style: the map does not start, says why, and builds nothing from elsewhere.
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const requests = [];
  page.on('request', (r) => requests.push(new URL(r.url()).pathname));
  const problem = (status, detail) => (route) => route.fulfill({
    status, contentType: 'application/problem+json', body: JSON.stringify({ title: 'broken', status, detail }),
  });
  await page.route(/\/styles\/planning\.json$/, problem(503, 'style store down'));
  await page.goto(`${bando.url}/map`);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'error');
  assert.match(await page.locator('#status').innerText(), /^Không tải được kiểu bản đồ: .*503.*style store down/);
  assert.deepEqual(requests.filter((p) => p === '/layers' || p.startsWith('/tiles/')), [], 'a substitute style was built');
  await page.close();

  // Identify, measure, search and the commune list: each failure is shown where it happened.
  const broken = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  await broken.route(/\/query\/identify\?/, problem(500, 'identify down'));
  await broken.route(/\/query\/measure$/, problem(500, 'measure down'));
  await broken.route(/\/query\/parcels\?/, problem(500, 'search down'));
  await broken.route(/\/collections\/communes\/items\?/, problem(500, 'communes down'));
  await broken.goto(`${bando.url}/map#map=16/11.535/106.883`);
  await broken.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60_000 });
  assert.equal(await broken.evaluate(() => document.body.dataset.ready), 'true');
  const status = broken.locator('#status');
  await broken.waitForFunction(() => document.querySelector('#status').textContent !== '');
  assert.match(await status.innerText(), /^Không tải được danh sách xã: .*500.*communes down/);
  assert.equal(await broken.locator('#commune-list option').count(), 0);

  assert.equal(await broken.evaluate(() => window.bando.identify(106.883, 11.535)), null);
  assert.match(await status.innerText(), /^Không tra cứu được đối tượng: .*500.*identify down/);
  assert.equal(await broken.locator('.maplibregl-popup').count(), 0, 'a popup without the server');

  const square = tm3Square(568000, 1274000, 200);
  assert.equal(await measureWithTool(broken, 'area', square), null, 'a measure without the server');
  assert.match(await status.innerText(), /^Không đo được: .*500.*measure down/);
  assert.match(await broken.locator('#measure-result dd[data-key="error"]').innerText(), /measure down/);
  assert.equal(await broken.locator('#measure-result dd[data-key="area"]').count(), 0);

  assert.equal(await broken.evaluate(() => window.bando.search('25252', 1, 1)), null);
  assert.match(await broken.locator('#search-status').innerText(), /^Không tìm được thửa: .*500.*search down/);
  assert.equal(await broken.evaluate(() => window.bando.errors().length), 3);
  await broken.close();
});

test('the map keeps no titles of its own: every layer, sector and property title comes from the style', () => {
  const dir = join(root, 'web/map');
  const files = readdirSync(dir).map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
  assert.ok(files.some((f) => f.name === 'i18n.mjs'));
  for (const { name, text } of files) {
    assert.ok(!text.includes('Số tờ bản đồ'), `${name} has a property title`);
    assert.equal(text, text.normalize('NFC'), `${name} is not NFC`);
  }
  const titles = new Set();
  for (const s of style.metadata['bando:sectors']) titles.add(s.title_vi).add(s.title_en);
  for (const layer of Object.values(style.metadata['bando:layers'])) {
    titles.add(layer.title_vi).add(layer.title_en);
    for (const p of layer.properties) titles.add(p.title_vi).add(p.title_en);
  }
  assert.ok(titles.has('Số tờ bản đồ'), 'the style titles the sheet number');
  assert.ok(titles.size > 40, `${titles.size} titles`);
  for (const title of titles) {
    for (const { name, text } of files) {
      for (const q of ["'", '"', '`']) assert.ok(!text.includes(`${q}${title}${q}`), `${name} holds the title ${q}${title}${q}`);
    }
  }
});

test('the URL hash restores centre, zoom, bearing and visible layers after a reload', async () => {
  const [lon, lat] = insidePoint(sampleParcels[10]);
  const map = await openMap(`#map=15.25/${lat.toFixed(6)}/${lon.toFixed(6)}/30&layers=communes,parcels`);
  const { page } = map;
  const view = () => page.evaluate(() => {
    const m = window.bandoMap;
    return { zoom: m.getZoom(), lng: m.getCenter().lng, lat: m.getCenter().lat, bearing: m.getBearing() };
  });
  let v = await view();
  assert.ok(Math.abs(v.zoom - 15.25) < 1e-6 && Math.abs(v.bearing - 30) < 1e-6, JSON.stringify(v));
  assert.ok(Math.abs(v.lng - lon) < 1e-5 && Math.abs(v.lat - lat) < 1e-5, JSON.stringify(v));
  const checked = (id) => page.locator(`#layer-tree label[data-layer="${id}"] input`).isChecked();
  assert.equal(await checked('parcels'), true);
  assert.equal(await checked('map_sheets'), false);
  const sheetLayers = await styleLayersOf(page, 'map_sheets');
  assert.ok(sheetLayers.length > 0);
  for (const id of sheetLayers) {
    assert.equal(await page.evaluate((l) => window.bandoMap.getLayoutProperty(l, 'visibility'), id), 'none');
  }
  // Change the view and the layers, then reload: the same view comes back.
  await page.locator('#layer-tree label[data-layer="map_sheets"] input').check();
  await page.locator('#layer-tree label[data-layer="parcels"] input').uncheck();
  await page.evaluate(() => window.bandoMap.jumpTo({ zoom: 14.5, bearing: -12 }));
  await page.waitForFunction(() => location.hash.includes('map=14.50/'));
  const hash = await page.evaluate(() => location.hash);
  assert.match(hash, /layers=[^&]*map_sheets/);
  assert.doesNotMatch(hash, /layers=[^&]*parcels/);
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  await idle(page);
  v = await view();
  assert.ok(Math.abs(v.zoom - 14.5) < 1e-6 && Math.abs(v.bearing + 12) < 0.05, JSON.stringify(v));
  assert.equal(await checked('map_sheets'), true);
  assert.equal(await checked('parcels'), false);
  assert.equal(await drawnCount(page, 'parcels'), 0);
  assert.ok(await drawnCount(page, 'map_sheets') > 0, 'map sheets shown from the URL are drawn');
  // A hash pasted into the address bar applies without a reload.
  await page.evaluate(([la, lo]) => { location.hash = `#map=13/${la}/${lo}&layers=parcels`; }, [lat, lon]);
  await page.waitForFunction(() => Math.abs(window.bandoMap.getZoom() - 13) < 1e-9);
  assert.equal(await checked('parcels'), true);
  assert.equal(await checked('map_sheets'), false);
  assert.equal(await checked('communes'), false);
  await idle(page);
  assert.equal(await drawnCount(page, 'map_sheets'), 0);
  assert.ok(await drawnCount(page, 'parcels') > 0);
  await closeMap(map);
});

test('coordinates show WGS84 and VN-2000 TM-3 (X = northing) of the point under the cursor', async () => {
  const map = await openMap('#map=14/11.535/106.883');
  const { page } = map;
  const at = await pagePoint(page, [106.883, 11.535]);
  await page.mouse.move(at.x, at.y);
  const value = page.locator('#coords-vn2000 .value');
  await page.waitForFunction(() => document.querySelector('#coords-vn2000 .value').dataset.x);
  const shown = await page.evaluate(() => {
    const wgs = document.querySelector('#coords-wgs84 .value').dataset;
    return { lat: Number(wgs.lat), lon: Number(wgs.lon) };
  });
  // The cursor is within a pixel (about 10 m at z14) of the point.
  assert.ok(Math.abs(shown.lat - 11.535) < 1e-4 && Math.abs(shown.lon - 106.883) < 1e-4, JSON.stringify(shown));
  const data = await value.evaluate((el) => ({ ...el.dataset }));
  assert.equal(data.srid, '9212');
  // Near 11.535N 106.883E: X ≈ 1 275 707 m (northing), Y ≈ 568 850 m (easting).
  assert.ok(Math.abs(Number(data.x) - 1275706.945) < 20, `X ${data.x}`);
  assert.ok(Math.abs(Number(data.y) - 568850.121) < 20, `Y ${data.y}`);
  // Exactly at the brief's check point the panel agrees with proj4 in node to the millimetre.
  const exact = await page.evaluate(() => window.bando.coordinates(106.883, 11.535));
  const [e, n] = proj4('EPSG:4326', definition(ZONES[0]), [106.883, 11.535]);
  assert.ok(Math.abs(exact.x - n) < 0.001 && Math.abs(exact.y - e) < 0.001, JSON.stringify(exact));
  assert.equal(await value.innerText(), `X ${n.toFixed(3)} m, Y ${e.toFixed(3)} m`);
  // East of 107°E the other zone (EPSG:5899, 107°45') is used.
  const east = await page.evaluate(() => window.bando.coordinates(107.3, 11.2));
  assert.equal(east.srid, 5899);
  await closeMap(map);
});

test('the English toggle switches the interface and is kept in the URL', async () => {
  const map = await openMap();
  const { page } = map;
  assert.equal(await page.locator('h1').innerText(), 'Bản đồ quy hoạch');
  await page.click('#lang-toggle');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.locator('h1').innerText(), 'Planning map');
  assert.equal(await page.locator('#measure-line').innerText(), 'Measure distance');
  // The tree's titles are the style's English ones.
  const summaries = await page.locator('#layer-tree details[data-sector]').evaluateAll((els) =>
    els.map((e) => [e.dataset.sector, e.querySelector('summary').textContent]));
  for (const [id, title] of summaries) {
    assert.equal(title, style.metadata['bando:sectors'].find((s) => s.id === id).title_en);
  }
  assert.equal(summaries[0][1], 'Cadastre');
  const titles = await page.locator('#layer-tree label[data-layer]').evaluateAll((els) =>
    els.map((l) => [l.dataset.layer, l.querySelector('.title').textContent]));
  assert.equal(titles.length, Object.keys(style.metadata['bando:layers']).length);
  for (const [id, title] of titles) assert.equal(title, described(id).title_en, id);
  assert.equal((await page.locator('#layer-tree label[data-layer="parcels"] .title').innerText()).trim(), 'Parcels');
  assert.equal(await page.locator('#lang-toggle').innerText(), 'Tiếng Việt');
  await page.waitForFunction(() => location.hash.includes('lang=en'));
  await page.screenshot({ path: join(resultsDir, 'map-en.png') });
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  assert.equal(await page.locator('h1').innerText(), 'Planning map');
  await page.click('#lang-toggle');
  assert.equal(await page.locator('h1').innerText(), 'Bản đồ quy hoạch');
  assert.equal(await page.getAttribute('html', 'lang'), 'vi');
  await closeMap(map);
});

test('web assets: content types, caching, and no way out of the published folders', async () => {
  const get = (path) => fetch(bando.url + path);
  let r = await get('/map');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.equal(r.headers.get('cache-control'), 'no-cache');
  for (const file of ['map.js', 'style.mjs', 'tree.mjs', 'hash.mjs', 'identify.mjs', 'measure.mjs', 'search.mjs',
    'coordinates.mjs', 'language.mjs', 'status.mjs', 'http.mjs', 'highlight.mjs', 'i18n.mjs', 'vn2000.mjs',
    'signin.mjs', 'account.mjs', 'network.mjs']) {
    r = await get(`/map/${file}`);
    assert.equal(r.status, 200, file);
    assert.match(r.headers.get('content-type'), /^text\/javascript/, file);
    assert.equal(r.headers.get('cache-control'), 'no-cache', file);
  }
  r = await get('/vendor/maplibre-gl/maplibre-gl.css');
  assert.match(r.headers.get('content-type'), /^text\/css/);
  assert.match(r.headers.get('cache-control'), /max-age=\d+/);
  r = await get('/vendor/proj4/proj4.js');
  assert.equal(r.status, 200);
  for (const path of ['/map/..%2F..%2FCargo.toml', '/vendor/proj4/..%2Fpackage.json', '/map/.hidden', '/vendor/maplibre-gl/..']) {
    r = await get(path);
    assert.ok(r.status === 400 || r.status === 404, `${path}: ${r.status}`);
    assert.match(r.headers.get('content-type'), /application\/problem\+json/, path);
    const body = await r.text();
    assert.doesNotMatch(body, /\[workspace\]|"name": "proj4"/, `${path} leaked a file`);
  }
  r = await get('/vendor/playwright-core/index.js');
  assert.equal(r.status, 404, 'only maplibre-gl and proj4 are published');
});

// The planners' map (/map) in headless Chromium against a real bando with sample cadastre,
// planning and transport layers: it draws features, identifies them without personal data,
// renders Vietnamese labels, measures in TM-3, finds parcels, restores its view from the URL and
// switches language — and never asks any host but the bando under test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import proj4 from 'proj4';
import { startBando, launchBrowser, resultsDir } from './harness.mjs';
import { definition, ZONES } from '../map/vn2000.mjs';

let bando;
let browser;
/** Which endpoints of other parts of the server exist in this build (probed once). */
const ready = {};
/** Parcels of the sample in WGS84 (the first 200 Binh Phuoc parcels, with their owners). */
let sampleParcels;

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
  const probe = async (path, init) => (await fetch(bando.url + path, init)).status;
  ready.style = (await probe('/styles/planning.json')) === 200;
  ready.identify = (await probe('/query/identify?x=106.8&y=11.5&zoom=14&tolerance=3')) === 200;
  // A missing route answers the generic 404 ("nothing at this address"); a missing parcel does not.
  const parcelsProbe = await fetch(`${bando.url}/query/parcels?commune=0&sheet=1&number=1`);
  ready.parcels = !(await parcelsProbe.text()).includes('nothing at this address');
  ready.measure = (await probe('/query/measure', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'LineString', coordinates: [[106.8, 11.5], [106.801, 11.5]] }),
  })) === 200;
  ready.communes = (await probe('/collections/communes/items?limit=1')) === 200;
});

after(async () => {
  await browser?.close();
  await bando?.stop();
});

/** Opens /map (optionally with a hash), recording every request, and waits for drawn tiles. */
async function openMap(hash = '') {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const log = { requests: [], failed: [], bad: [], errors: [] };
  page.on('request', (r) => log.requests.push(r.url()));
  page.on('requestfailed', (r) => log.failed.push(`${r.url()}: ${r.failure()?.errorText}`));
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

/** Waits until the map has drawn every tile it asked for. */
async function idle(page) {
  await page.waitForFunction(() => {
    const map = window.bandoMap;
    return map && map.loaded() && map.areTilesLoaded() && !map.isMoving();
  }, null, { timeout: 60_000, polling: 100 });
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
  const { page, log } = await openMap();
  const origin = new URL(bando.url).origin;
  const foreign = log.requests.filter((u) => !u.startsWith(origin + '/') && !/^(data|blob):/.test(u));
  assert.deepEqual(foreign, [], 'requests to other hosts');
  assert.deepEqual(log.failed, []);
  // Endpoints still being built by other parts of the server may answer 404 until they land.
  const pending = [];
  if (!ready.style) pending.push('/styles/planning.json');
  if (!ready.communes) pending.push('/collections/communes/items');
  const bad = log.bad.filter((line) => !pending.some((p) => line.includes(p)));
  assert.deepEqual(bad, [], 'error responses');
  assert.deepEqual(log.errors, []);
  assert.deepEqual(await page.evaluate(() => window.bando.state.errors), []);
  assert.ok(log.requests.some((u) => u.includes('/vendor/maplibre-gl/maplibre-gl.mjs')));
  assert.ok(log.requests.some((u) => /\/tiles\/.*\.mvt/.test(u) || /\/tiles\/.*\.pbf/.test(u)), 'no tile was requested');
  assert.equal(await page.getAttribute('html', 'lang'), 'vi');
  // Scale bar (metric) and navigation control are on the map.
  assert.match(await page.locator('.maplibregl-ctrl-scale').innerText(), /^\d+\s*(m|km)$/);
  assert.equal(await page.locator('.maplibregl-ctrl-zoom-in').count(), 1);
  await page.screenshot({ path: join(resultsDir, 'map-vi.png') });
  await page.close();
});

test('rendered features include parcels and communes; the tree groups layers by sector', async () => {
  const { page } = await openMap();
  const drawn = await page.evaluate(() => {
    const features = window.bandoMap.queryRenderedFeatures();
    const byLayer = {};
    for (const f of features) {
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
      layers: [...e.querySelectorAll('label')].map((l) => l.dataset.layer) })));
  const cadastre = groups.find((g) => g.title === 'Địa chính');
  assert.ok(cadastre, JSON.stringify(groups));
  assert.ok(cadastre.layers.includes('parcels') && cadastre.layers.includes('communes'));
  assert.ok(groups.find((g) => g.title === 'Quy hoạch')?.layers.includes('planning_zones'));
  assert.ok(groups.find((g) => g.title === 'Giao thông')?.layers.includes('roads'));
  // Every group title is the one the server's style publishes (one list for every app).
  const served = await page.evaluate(async () => (await (await fetch('/styles/planning.json')).json()).metadata['bando:sectors']);
  for (const g of groups) {
    const s = served.find((x) => x.id === g.sector);
    assert.ok(s, `sector ${g.sector} is not in the style's bando:sectors`);
    assert.equal(g.title, s.title_vi);
  }
  assert.equal((await page.locator('#layer-tree label[data-layer="parcels"] .title').innerText()).trim(), 'Thửa đất');

  // Unticking a layer hides every style layer showing it.
  await page.locator('#layer-tree label[data-layer="parcels"] input').uncheck();
  const hidden = await page.evaluate((ids) => ids.map((id) => window.bandoMap.getLayoutProperty(id, 'visibility')),
    await styleLayersOf(page, 'parcels'));
  assert.ok(hidden.length > 0 && hidden.every((v) => v === 'none'), JSON.stringify(hidden));
  await idle(page);
  const after = await page.evaluate(() => window.bandoMap.queryRenderedFeatures()
    .filter((f) => f.layer.metadata?.['bando:layer'] === 'parcels').length);
  assert.equal(after, 0);
  await page.close();
});

test('clicking a parcel shows its number and land-use code, never its owner', async () => {
  const parcel = sampleParcels.find((f) => f.properties.TENCHU && f.properties.MALOAIDAT);
  const [lon, lat] = insidePoint(parcel);
  const { page } = await openMap(`#map=16/${lat}/${lon}`);
  const at = await pagePoint(page, [lon, lat]);
  await page.mouse.click(at.x, at.y);
  const popup = page.locator('.maplibregl-popup .identify');
  await popup.waitFor({ timeout: 15_000 });
  const section = popup.locator('section.feature[data-layer="parcels"]');
  assert.equal(await section.count(), 1, await popup.innerText());
  const cell = (key) => section.locator(`tr[data-key="${key}"] td`).innerText();
  assert.equal(await cell('parcel_number'), String(parcel.properties.SHTHUA));
  assert.equal(await cell('sheet_number'), String(parcel.properties.SHBANDO));
  assert.equal(await cell('land_use_code'), parcel.properties.MALOAIDAT);
  // Vietnamese property titles.
  assert.equal(await section.locator('tr[data-key="parcel_number"] th').innerText(), 'Số thửa');
  assert.equal(await section.locator('tr[data-key="land_use_code"] th').innerText(), 'Mã loại đất');
  const text = await popup.innerText();
  assert.ok(!text.includes(parcel.properties.TENCHU), `owner name ${parcel.properties.TENCHU} shown`);
  assert.equal(await popup.locator('tr[data-key*="owner"]').count(), 0);
  assert.equal(await section.locator('h3').innerText(), 'Thửa đất');
  const source = await popup.getAttribute('data-source');
  if (ready.identify) assert.equal(source, 'server', 'identify answered by /query/identify');
  await page.screenshot({ path: join(resultsDir, 'map-identify.png') });
  await page.close();
});

test('Vietnamese labels render with glyphs for U+1E00–1EFF', async (t) => {
  if (!ready.style) return t.skip('waits on GET /styles/planning.json (helper "styles")');
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const glyphs = [];
  page.on('response', async (r) => {
    if (/\/7680-7935\.pbf(\?|$)/.test(r.url())) glyphs.push({ url: r.url(), status: r.status(), size: (await r.body().catch(() => Buffer.alloc(0))).length });
  });
  await page.goto(`${bando.url}/map`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 60_000 });
  await idle(page);
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
  // The glyphs of Vietnamese letters (Latin Extended Additional) were fetched and not empty.
  await page.waitForTimeout(200);
  assert.ok(glyphs.length > 0, 'no request for the 7680-7935 glyph range');
  for (const g of glyphs) {
    assert.equal(g.status, 200, g.url);
    assert.ok(g.size > 0, `${g.url} is empty`);
  }
  await page.screenshot({ path: join(resultsDir, 'map-labels.png') });
  await page.close();
});

/** A square of `side` metres in TM-3 (EPSG:9212), as WGS84 vertices. */
function tm3Square(easting, northing, side) {
  const zone = ZONES[0];
  const def = definition(zone);
  return [[0, 0], [side, 0], [side, side], [0, side]]
    .map(([de, dn]) => proj4(def, 'EPSG:4326', [easting + de, northing + dn]));
}

async function measureWithTool(page, kind, vertices) {
  return page.evaluate(async ({ kind, vertices }) => {
    window.bando.measure.start(kind);
    for (const v of vertices) window.bando.measure.addVertex(v);
    return window.bando.measure.finish();
  }, { kind, vertices });
}

test('measuring a known TM-3 square gives its area in m² and ha', async () => {
  const { page } = await openMap();
  const square = tm3Square(568000, 1274000, 200);
  const result = await measureWithTool(page, 'area', square);
  assert.ok(Math.abs(result.area_m2 - 40000) < 0.05, `area ${result.area_m2}`);
  assert.ok(Math.abs(result.perimeter_m - 800) < 0.01, `perimeter ${result.perimeter_m}`);
  assert.equal(Number(result.srid), 9212);
  const shown = await page.locator('#measure-result dd[data-key="area"]').innerText();
  assert.match(shown, /40\.000(,00)? m² \(4(,0000)? ha\)/);
  const line = await measureWithTool(page, 'line', square.slice(0, 3));
  assert.ok(Math.abs(line.length_m - 400) < 0.01, `length ${line.length_m}`);
  assert.match(await page.locator('#measure-result dd[data-key="length"]').innerText(), /^400(,00)? m$/);
  if (ready.measure) assert.equal(result.source, 'server');
  await page.screenshot({ path: join(resultsDir, 'map-measure.png') });
  // The result follows the language.
  await page.click('#lang-toggle');
  assert.match(await page.locator('#measure-result dd[data-key="length"]').innerText(), /^400(\.00)? m$/);
  assert.equal(await page.locator('#measure-result dt').first().innerText(), 'Length');
  await page.close();
});

test('the measure tool shows what POST /query/measure answers', async (t) => {
  if (!ready.measure) return t.skip('waits on POST /query/measure (helper "queries")');
  const { page } = await openMap();
  const square = tm3Square(570123.4, 1276543.2, 150);
  const viaTool = await measureWithTool(page, 'area', square);
  const direct = await (await fetch(`${bando.url}/query/measure`, {
    method: 'POST', headers: { 'content-type': 'application/geo+json' },
    body: JSON.stringify({ type: 'Polygon', coordinates: [[...square, square[0]]] }),
  })).json();
  assert.equal(viaTool.source, 'server');
  assert.ok(Math.abs(viaTool.area_m2 - direct.area_m2) < 1e-6, `${viaTool.area_m2} vs ${direct.area_m2}`);
  assert.ok(Math.abs(direct.area_m2 - 22500) < 0.05, `server area ${direct.area_m2}`);
  // Clicking on the map draws the same kind of geometry: three clicks and a double-click.
  await page.click('#measure-line');
  const a = await pagePoint(page, square[0]);
  const b = await pagePoint(page, square[1]);
  await page.mouse.click(a.x, a.y);
  await page.mouse.dblclick(b.x, b.y);
  await page.locator('#measure-result dd[data-key="length"]').waitFor();
  const last = await page.evaluate(() => window.bando.measure.last);
  assert.equal(last.geometry.coordinates.length, 2, JSON.stringify(last.geometry));
  assert.ok(Math.abs(last.result.length_m - 150) < 5, `clicked length ${last.result.length_m}`);
  await page.close();
});

test('searching commune, sheet and parcel number flies to the parcel', async (t) => {
  if (!ready.parcels) return t.skip('waits on GET /query/parcels (helper "queries")');
  const parcel = sampleParcels[42];
  const { MAXA, SHBANDO, SHTHUA } = parcel.properties;
  const { page } = await openMap();
  if (ready.communes) {
    // The commune field offers the communes of the database (OGC API Features).
    await page.waitForFunction(() => document.querySelectorAll('#commune-list option').length > 0);
    const options = await page.locator('#commune-list option').evaluateAll((els) => els.map((o) => o.value));
    assert.equal(options.length, 12, JSON.stringify(options));
    assert.ok(options.includes(MAXA));
  }
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
  assert.match(await page.locator('#search-status').innerText(), /Tìm thấy 1 thửa/);
  const highlighted = await page.evaluate(() => window.bandoMap.querySourceFeatures('bando-highlight').length);
  assert.ok(highlighted > 0, 'the parcel is highlighted');
  // A parcel that does not exist says so.
  await page.evaluate(({ c, s }) => window.bando.search(c, s, 99999), { c: MAXA, s: SHBANDO });
  assert.equal(await page.locator('#search-status').innerText(), 'Không tìm thấy thửa đất này');
  await page.screenshot({ path: join(resultsDir, 'map-search.png') });
  await page.close();
});

test('the URL hash restores centre, zoom, bearing and visible layers after a reload', async () => {
  const [lon, lat] = insidePoint(sampleParcels[10]);
  const { page } = await openMap(`#map=15.25/${lat.toFixed(6)}/${lon.toFixed(6)}/30&layers=communes,parcels`);
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
  const parcelsDrawn = await page.evaluate(() => window.bandoMap.queryRenderedFeatures()
    .filter((f) => f.layer.metadata?.['bando:layer'] === 'parcels').length);
  assert.equal(parcelsDrawn, 0);
  // A hash pasted into the address bar applies without a reload.
  await page.evaluate(([la, lo]) => { location.hash = `#map=13/${la}/${lo}&layers=parcels`; }, [lat, lon]);
  await page.waitForFunction(() => Math.abs(window.bandoMap.getZoom() - 13) < 1e-9);
  assert.equal(await checked('parcels'), true);
  assert.equal(await checked('map_sheets'), false);
  assert.equal(await checked('communes'), false);
  await page.close();
});

test('coordinates show WGS84 and VN-2000 TM-3 (X = northing) of the point under the cursor', async () => {
  const { page } = await openMap('#map=14/11.535/106.883');
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
  await page.close();
});

test('the English toggle switches the interface and is kept in the URL', async () => {
  const { page } = await openMap();
  assert.equal(await page.locator('h1').innerText(), 'Bản đồ quy hoạch');
  await page.click('#lang-toggle');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.locator('h1').innerText(), 'Planning map');
  assert.equal(await page.locator('#measure-line').innerText(), 'Measure distance');
  assert.equal(await page.locator('#layer-tree details[data-sector] summary').first().innerText(), 'Cadastre');
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
  await page.close();
});

test('web assets: content types, caching, and no way out of the published folders', async () => {
  const get = (path) => fetch(bando.url + path);
  let r = await get('/map');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.equal(r.headers.get('cache-control'), 'no-cache');
  r = await get('/map/map.js');
  assert.match(r.headers.get('content-type'), /^text\/javascript/);
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

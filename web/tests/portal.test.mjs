// The public planning portal in headless Chromium against a real bando on the sample: each
// search kind (commune + sheet + parcel, place name without accents, an address typed without
// accents and in part, WGS84 and VN-2000 coordinates) opens the same parcel's sheet; a draft plan imported with --plan NEW never shows
// on the public sheet; the sheet has a shareable link; a phone-sized page does not scroll
// sideways; the sheet's PDF link downloads the printable sheet; no request fails unexpectedly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startBando, launchBrowser, bandoBin, resultsDir } from './harness.mjs';

let bando;
let browser;
let parcel;
let inside;

/** A point inside a sample parcel: the centre of its first ring's box, checked by the server. */
function centre(feature) {
  const ring = feature.geometry.type === 'MultiPolygon' ? feature.geometry.coordinates[0][0] : feature.geometry.coordinates[0];
  const xs = ring.map((p) => p[0]);
  const ys = ring.map((p) => p[1]);
  return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
}

const fold = (s) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[đĐ]/g, 'd').toLowerCase();

before(async () => {
  bando = await startBando({
    parcels: 600,
    imports: [
      ['communes.gpkg', 'communes'],
      ['parcels_binhphuoc.shp', 'parcels'],
      ['planning_zones.gpkg', 'planning_zones'],
      ['buildings.gpkg', 'buildings'],
      ['env_stations.csv', 'env_stations', '--srs', 'EPSG:9212'],
    ],
  });
  browser = await launchBrowser();
  const features = JSON.parse(readFileSync(join(bando.sample, 'parcels_sample.geojson'), 'utf8')).features;
  // A lot (not a road) whose box centre lies inside it (the server says which parcel is there).
  for (const f of features.filter((g) => g.properties.MALOAIDAT !== 'DGT')) {
    const [lon, lat] = centre(f);
    const answer = await (await fetch(`${bando.url}/portal/api/search?lat=${lat}&lon=${lon}`)).json();
    const p = answer.parcels?.[0];
    if (p && p.commune_code === f.properties.MAXA && p.sheet_number === f.properties.SHBANDO && p.parcel_number === f.properties.SHTHUA) {
      parcel = p;
      inside = [lon, lat];
      break;
    }
  }
  assert.ok(parcel, 'no sample parcel contains its box centre');
  // A draft plan over the parcel, imported as planners do: it must not reach the public.
  const [lon, lat] = inside;
  const d = 0.002;
  const file = join(bando.sample, 'draft_zone.geojson');
  writeFileSync(file, JSON.stringify({ type: 'FeatureCollection', features: [{ type: 'Feature',
    properties: { MAKHU: 'NHAP-99', CHUCNANG: 'TMD' },
    geometry: { type: 'Polygon', coordinates: [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]] } }] }));
  const out = execFileSync(bandoBin, ['--data-dir', bando.state, 'import', file, '--layer', 'planning_zones',
    '--plan', 'NEW', '--plan-name', 'Bản nháp điều chỉnh'], { encoding: 'utf8' });
  assert.match(out, /draft plan \d+ created/);
});

after(async () => {
  await browser?.close();
  await bando?.stop();
});

/** A page that records every response; `failures()` lists unexpected error answers. */
async function openPortal(options = {}, hash = '') {
  const page = await browser.newPage(options);
  const bad = [];
  page.on('response', (r) => { if (r.status() >= 400) bad.push(`${r.status()} ${r.url()}`); });
  page.on('pageerror', (e) => bad.push(`page error: ${e.message}`));
  const response = await page.goto(`${bando.url}/portal${hash}`);
  assert.equal(response.status(), 200);
  return { page, failures: () => bad };
}

async function sheetOf(page) {
  await page.locator('#sheet[data-parcel]').waitFor({ timeout: 15_000 });
  return Number(await page.getAttribute('#sheet', 'data-parcel'));
}

test('each search kind finds the parcel and opens its sheet, without draft zones', async () => {
  const { page, failures } = await openPortal();
  assert.equal(await page.getAttribute('html', 'lang'), 'vi');

  // 1. Commune code + sheet + parcel.
  await page.fill('#by-parcel input[name=commune]', parcel.commune_code);
  await page.fill('#by-parcel input[name=sheet]', String(parcel.sheet_number));
  await page.fill('#by-parcel input[name=number]', String(parcel.parcel_number));
  await page.click('#by-parcel button[type=submit]');
  assert.equal(await sheetOf(page), parcel.id);
  const identity = await page.locator('[data-row=identity] td').innerText();
  assert.ok(identity.includes(String(parcel.parcel_number)), identity);
  if (parcel.commune_name !== parcel.commune_name_new) {
    assert.ok(identity.includes(`${parcel.commune_name} (cũ) → ${parcel.commune_name_new}`), identity);
  }
  // The public sheet: no draft zone, no owner.
  const text = await page.locator('#sheet').innerText();
  assert.ok(!text.includes('NHAP-99'), 'a draft zone is on the public sheet');
  assert.equal(await page.locator('#zones tr[data-zone="NHAP-99"]').count(), 0);
  assert.match(await page.locator('[data-row=data-date] td').innerText(), /^\d{4}-\d{2}-\d{2}$/);
  // Each zone's function: titled and coloured as the style's legend of planning zones says (the
  // code list kept as data, planning.zone_functions), with the sheet's own legend below.
  const style = await (await fetch(`${bando.url}/styles/public.json`)).json();
  const legend = style.metadata['bando:layers'].planning_zones.legend;
  assert.ok(legend?.length > 10, 'the zones carry a legend in the style');
  const rgb = (hex) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;
  const cells = await page.locator('#zones tbody td.function').evaluateAll((tds) => tds.map((td) => ({
    text: td.innerText.trim(), colour: getComputedStyle(td.querySelector('.swatch')).backgroundColor })));
  assert.ok(cells.length > 0, 'the parcel lies in a zone');
  for (const cell of cells) {
    const code = cell.text.split(' — ')[0].trim().toUpperCase();
    const entry = legend.find((e) => e.values.includes(code)) ?? legend[legend.length - 1];
    assert.equal(cell.text, `${cell.text.split(' — ')[0]} — ${entry.title_vi}`, JSON.stringify(cell));
    assert.equal(cell.colour, rgb(entry.colour), JSON.stringify(cell));
    const listed = await page.locator(`#zone-legend li[data-colour="${entry.colour}"]`).innerText();
    assert.equal(listed.trim(), entry.title_vi);
  }
  // The shareable link and the map link name the parcel and its place.
  const share = await page.getAttribute('#share-link', 'href');
  assert.equal(share, `${bando.url}/portal#parcel=${parcel.id}`);
  assert.match(await page.getAttribute('#map-link', 'href'), /^\/map#map=18\/\d+\.\d+\/\d+\.\d+$/);
  await page.screenshot({ path: join(resultsDir, 'portal-sheet.png'), fullPage: true });

  // 2. Place name, without accents and in lower case, then sheet and parcel.
  await page.evaluate(() => { document.querySelector('#sheet').removeAttribute('data-parcel'); });
  await page.fill('#by-place input[name=place]', fold(parcel.commune_name));
  await page.click('#by-place button[type=submit]');
  const commune = page.locator('#results button.commune', { hasText: parcel.commune_name });
  await commune.first().waitFor();
  await commune.first().click();
  assert.equal(await page.inputValue('#by-parcel input[name=commune]'), parcel.commune_code);
  await page.click('#by-parcel button[type=submit]');
  assert.equal(await sheetOf(page), parcel.id);

  // 2b. The address of where the parcel lies, typed as people do: no accents, no "số"/"đường",
  // the ward after the street ("12 phu rieng do tan phu"); the parcel is listed first, under its
  // address, and opens its sheet. The owner's address is never what matches.
  assert.match(parcel.place_name ?? '', /^Số \d+ /, JSON.stringify(parcel));
  const [street, ward] = fold(parcel.place_name).split(', ');
  const typed = `${street.replace(/^so /, '').replace(/\bduong /, '')} ${ward.replace(/^(phuong|xa) /, '')}`;
  // (the previous search's list cleared, so what is waited for is this search's answer)
  await page.evaluate(() => {
    document.querySelector('#sheet').removeAttribute('data-parcel');
    document.querySelector('#results').replaceChildren();
  });
  await page.fill('#by-address input[name=address]', typed);
  await page.click('#by-address button[type=submit]');
  const first = page.locator('#results a.parcel').first();
  await first.waitFor();
  assert.equal(Number(await first.getAttribute('data-parcel')), parcel.id, typed);
  assert.ok((await first.innerText()).startsWith(parcel.place_name), await first.innerText());
  await first.click();
  assert.equal(await sheetOf(page), parcel.id);

  // 3. WGS84 degrees (latitude, longitude).
  await page.evaluate(() => { document.querySelector('#sheet').removeAttribute('data-parcel'); });
  await page.fill('#by-coords input[name=a]', String(inside[1]));
  await page.fill('#by-coords input[name=b]', String(inside[0]));
  await page.click('#by-coords button[type=submit]');
  assert.equal(await sheetOf(page), parcel.id);

  // 4. VN-2000 X (northing) / Y (easting) of the same point; the zone is said.
  const [e, n] = execFileSync('cs2cs', ['-f', '%.3f', 'EPSG:4326', 'EPSG:9212'], { input: `${inside[1]} ${inside[0]}\n`, encoding: 'utf8' })
    .trim().split(/\s+/).map(Number);
  await page.evaluate(() => { document.querySelector('#sheet').removeAttribute('data-parcel'); });
  await page.fill('#by-coords input[name=a]', String(n));
  await page.fill('#by-coords input[name=b]', String(e));
  await page.click('#by-coords button[type=submit]');
  assert.equal(await sheetOf(page), parcel.id);
  assert.equal(await page.getAttribute('#results [data-zone]', 'data-zone'), '9212');

  // English on the toggle.
  await page.click('#lang-toggle');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.locator('h2', { hasText: 'Parcel planning information sheet' }).waitFor();
  assert.deepEqual(failures(), []);
  await page.close();
});

test('a shared link opens the sheet, and a phone-sized page does not scroll sideways', async () => {
  const { page, failures } = await openPortal({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true },
    `#parcel=${parcel.id}`);
  assert.equal(await sheetOf(page), parcel.id);
  await page.waitForTimeout(500);
  const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  assert.ok(scroll <= client, `the page is ${scroll}px wide in a ${client}px viewport`);
  await page.screenshot({ path: join(resultsDir, 'portal-phone.png'), fullPage: true });
  assert.deepEqual(failures(), []);
  await page.close();
});

test('the sheet links its printable PDF, and the link downloads a PDF', async () => {
  const { page, failures } = await openPortal({ acceptDownloads: true }, `#parcel=${parcel.id}`);
  assert.equal(await sheetOf(page), parcel.id);
  const href = await page.getAttribute('#pdf-link', 'href');
  assert.equal(href, `/portal/api/sheet/${parcel.id}/pdf`);
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click('#pdf-link')]);
  assert.match(download.suggestedFilename(), /^phieu-thong-tin-quy-hoach-\d{5}-to\d+-thua\d+\.pdf$/);
  const bytes = readFileSync(await download.path());
  assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-');
  // What the browser is told: a PDF, as an attachment.
  const answer = await page.evaluate(async (url) => {
    const r = await fetch(url);
    const head = new Uint8Array(await r.arrayBuffer()).subarray(0, 4);
    return { status: r.status, type: r.headers.get('content-type'), disposition: r.headers.get('content-disposition'),
      magic: String.fromCharCode(...head) };
  }, href);
  assert.deepEqual({ status: answer.status, type: answer.type, magic: answer.magic }, { status: 200, type: 'application/pdf', magic: '%PDF' });
  assert.match(answer.disposition, /^attachment; filename="phieu-thong-tin-quy-hoach-.*\.pdf"$/);
  assert.deepEqual(failures(), []);
  await page.close();
});

test('bad searches answer problem JSON, not a server error', async () => {
  for (const query of ['', 'lat=abc&lon=1', 'lat=48&lon=2', 'x=5&y=5', 'commune=khong-co-xa-nay&sheet=1&number=1']) {
    const r = await fetch(`${bando.url}/portal/api/search?${query}`);
    assert.ok(r.status >= 400 && r.status < 500, `${query}: ${r.status}`);
    assert.match(r.headers.get('content-type'), /problem\+json/);
  }
  const r = await fetch(`${bando.url}/portal/api/sheet/abc`);
  assert.equal(r.status, 400);
});

test('the location map draws buildings in 3D from the public style', async () => {
  const { page, failures } = await openPortal({ viewport: { width: 1000, height: 900 } }, `#parcel=${parcel.id}`);
  await sheetOf(page);
  const items = await (await fetch(`${bando.url}/collections/buildings/items?limit=1`)).json();
  const building = items.features?.[0];
  assert.ok(building, 'a building in the sample');
  const ring = building.geometry.type === 'MultiPolygon' ? building.geometry.coordinates[0][0] : building.geometry.coordinates[0];
  const [lon, lat] = ring[0];
  await page.waitForFunction(() => window.portal.locationMap?.loaded(), null, { timeout: 30_000 });
  await page.evaluate(([x, y]) => window.portal.locationMap.jumpTo({ center: [x, y], zoom: 17.5, pitch: 50 }), [lon, lat]);
  await page.waitForFunction(() => {
    const map = window.portal.locationMap;
    return map.loaded() && map.areTilesLoaded() && !map.isMoving();
  }, null, { timeout: 30_000, polling: 100 });
  const drawn = await page.evaluate(() => window.portal.locationMap.queryRenderedFeatures({ layers: ['buildings-extrusion'] })
    .map((f) => ({ code: f.properties.building_code, type: f.layer.type })));
  assert.ok(drawn.some((d) => d.code === building.properties.building_code && d.type === 'fill-extrusion'),
    JSON.stringify(drawn.slice(0, 5)));
  await page.locator('#location').screenshot({ path: join(resultsDir, 'portal-buildings-3d.png') });
  assert.deepEqual(failures(), []);
  await page.close();
});

test('the location map shows the stations\' latest readings on request, clustered when zoomed out', async () => {
  const { page, failures } = await openPortal({ viewport: { width: 1000, height: 900 } }, `#parcel=${parcel.id}`);
  await sheetOf(page);
  const items = await (await fetch(`${bando.url}/collections/latest_readings/items?limit=100`)).json();
  assert.ok(items.features.length > 0, 'the sample stations have latest-value rows');
  const station = items.features[0];
  const [lon, lat] = station.geometry.coordinates;
  await page.waitForFunction(() => window.portal.locationMap?.loaded(), null, { timeout: 30_000 });
  const toggle = page.locator('#readings-toggle');
  await toggle.waitFor();
  assert.equal(await toggle.isEnabled(), true);
  const settled = () => page.waitForFunction(() => {
    const map = window.portal.locationMap;
    return map.loaded() && map.areTilesLoaded() && !map.isMoving();
  }, null, { timeout: 30_000, polling: 100 });
  const drawn = () => page.evaluate(() => {
    const map = window.portal.locationMap;
    const ids = map.getStyle().layers.filter((l) => l.source === 'latest_readings').map((l) => l.id);
    return ids.length ? map.queryRenderedFeatures({ layers: ids }).map((f) => ({ ...f.properties })) : [];
  });
  await page.evaluate(([x, y]) => window.portal.locationMap.jumpTo({ center: [x, y], zoom: 14 }), [lon, lat]);
  await settled();
  assert.deepEqual(await drawn(), [], 'off until asked');
  await toggle.check();
  await page.waitForFunction(() => window.portal.locationMap.getSource('latest_readings'), null, { timeout: 10_000 });
  await settled();
  let shown = [];
  for (let i = 0; i < 50 && !shown.some((f) => f.datastream_id === station.properties.datastream_id); i++) {
    await page.waitForTimeout(100);
    shown = await drawn();
  }
  assert.ok(shown.some((f) => f.datastream_id === station.properties.datastream_id && f.status),
    JSON.stringify(shown.slice(0, 3)));
  // Zoomed out, the stations are clusters, each with a count and its most urgent status.
  await page.evaluate(([x, y]) => window.portal.locationMap.jumpTo({ center: [x, y], zoom: 9 }), [lon, lat]);
  await settled();
  let clusters = [];
  for (let i = 0; i < 50 && !clusters.length; i++) {
    await page.waitForTimeout(100);
    clusters = (await drawn()).filter((f) => f.point_count > 0);
  }
  assert.ok(clusters.length > 0 && clusters.every((c) => c.status), JSON.stringify(clusters.slice(0, 3)));
  await page.locator('#location').screenshot({ path: join(resultsDir, 'portal-readings.png') });
  await toggle.uncheck();
  await settled();
  assert.deepEqual(await drawn(), [], 'hidden again');
  assert.deepEqual(failures(), []);
  await page.close();
});

test('the sheet lists the buildings standing or planned on the parcel', async () => {
  // A public building of the sample, and the parcel under its centre.
  const items = await (await fetch(`${bando.url}/collections/buildings/items?limit=1`)).json();
  const building = items.features?.[0];
  assert.ok(building, 'a building in the sample');
  const [lon, lat] = centre(building);
  const found = await (await fetch(`${bando.url}/portal/api/search?lat=${lat}&lon=${lon}`)).json();
  const under = found.parcels?.[0];
  assert.ok(under, `no parcel under the building at ${lon}, ${lat}`);
  const { page, failures } = await openPortal({}, `#parcel=${under.id}`);
  assert.equal(await sheetOf(page), under.id);
  const rows = page.locator('#buildings tr[data-building]');
  const codes = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.building));
  assert.ok(codes.includes(building.properties.building_code), JSON.stringify(codes));
  const row = page.locator(`#buildings tr[data-building="${building.properties.building_code}"]`);
  const cells = await row.locator('td').allInnerTexts();
  assert.equal(cells[1], building.properties.status === 'planned' ? 'Theo quy hoạch' : 'Hiện trạng');
  if (building.properties.floors != null) assert.equal(cells[2], String(building.properties.floors));
  assert.deepEqual(failures(), []);
  await page.close();
});

// Planning in the planners' map (issue 13) in headless Chromium against a real bando: planning
// zones are drawn in the planned-function palette and the layer tree shows its legend, titled
// from the code list the server keeps (vi/en); a signed-in planner compares two plan versions
// and sees the zones added, removed and changed drawn over the map with their counts, as
// `/plans/compare` answers them, and clicks a zone for its attribute diff; anonymous visitors get no compare panel; buildings of the
// sample (existing and planned) are drawn in 3D (fill-extrusion) by their heights.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startBando, launchBrowser, freePort, bandoBin, resultsDir } from './harness.mjs';

const LON = 106.883;
const LAT = 11.535;
const D = 0.0015;

let bando;
let browser;
let style;
let plan1;
let plan2;

/** A square zone west-east at column `i` of the test block. */
function zone(code, fn, i) {
  const x = LON + i * D;
  return { type: 'Feature', properties: { MAKHU: code, CHUCNANG: fn },
    geometry: { type: 'Polygon', coordinates: [[[x, LAT], [x + D, LAT], [x + D, LAT + D], [x, LAT + D], [x, LAT]]] } };
}

function importPlan(name, features, extra = []) {
  const file = join(bando.sample, `${name}.geojson`);
  writeFileSync(file, JSON.stringify({ type: 'FeatureCollection', features }));
  const out = execFileSync(bandoBin, ['--data-dir', bando.state, 'import', file, '--layer', 'planning_zones',
    '--plan', 'NEW', '--plan-name', name, ...extra], { encoding: 'utf8' });
  const id = Number(out.match(/draft plan (\d+) created/)?.[1]);
  assert.ok(id > 0, out);
  return id;
}

before(async () => {
  const port = await freePort();
  bando = await startBando({ parcels: 600, imports: [['communes.gpkg', 'communes'], ['buildings.gpkg', 'buildings']],
    env: { BANDO_AUTH_DEV_ISSUER: 'true' }, port });
  browser = await launchBrowser();
  // Version 1 (approved): K-1 new residential, K-2 green, K-3 commercial (a land-use code).
  plan1 = importPlan('Phương án 1', [zone('K-1', 'OM', 0), zone('K-2', 'CX', 1), zone('K-3', 'TMD', 2)]);
  execFileSync(bandoBin, ['--data-dir', bando.state, 'plan', 'approve', String(plan1), '--decision', '10/QĐ-UBND']);
  // Version 2 (draft): K-1 becomes mixed use, K-2 is gone, K-4 (education) is new, K-3 stays.
  plan2 = importPlan('Phương án 2', [zone('K-1', 'HH', 0), zone('K-3', 'TMD', 2), zone('K-4', 'GD', 3)],
    ['--replaces', String(plan1)]);
  style = await (await fetch(`${bando.url}/styles/planning.json`)).json();
});

after(async () => {
  await browser?.close();
  await bando?.stop();
});

async function openMap(hash) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const bad = [];
  page.on('response', (r) => { if (r.status() >= 400) bad.push(`${r.status()} ${r.url()}`); });
  page.on('pageerror', (e) => bad.push(`page error: ${e.message}`));
  await page.goto(`${bando.url}/map${hash}`);
  await ready(page);
  return { page, bad };
}

async function ready(page) {
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'true',
    `the map did not start: ${await page.locator('#status').innerText()}`);
  await page.waitForFunction(() => {
    const map = window.bandoMap;
    return map && map.loaded() && map.areTilesLoaded() && !map.isMoving();
  }, null, { timeout: 60_000, polling: 100 });
}

const hex = (c) => `#${[c.r, c.g, c.b].map((v) => Math.round(v * 255).toString(16).padStart(2, '0')).join('')}`;

test('zones are drawn in the planned-function palette and the tree shows its legend in both languages', async () => {
  const legend = style.metadata['bando:layers'].planning_zones.legend;
  assert.ok(legend.length > 10, 'a legend in the style');
  const { page, bad } = await openMap(`#map=16/${LAT + D / 2}/${LON + 2 * D}&layers=planning_zones`);
  // The rendered zones of plan 1, each in the colour of its function's legend line.
  const drawn = await page.evaluate(() => window.bandoMap.queryRenderedFeatures()
    .filter((f) => f.layer.id === 'planning_zones-fill')
    .map((f) => ({ code: f.properties.zone_code, fn: f.properties.land_use_function, colour: f.layer.paint['fill-color'] })));
  const byCode = new Map(drawn.map((d) => [d.code, d]));
  for (const code of ['K-1', 'K-2', 'K-3']) {
    const d = byCode.get(code);
    assert.ok(d, `zone ${code} drawn: ${JSON.stringify(drawn.slice(0, 5))}`);
    const entry = legend.find((e) => e.values.includes(d.fn.toUpperCase()));
    assert.ok(entry, `${d.fn} in the legend`);
    assert.equal(hex(d.colour), entry.colour, `${code} (${d.fn})`);
  }
  assert.ok(!byCode.has('K-4'), 'a draft zone is drawn for an anonymous visitor');
  // The legend under the layer in the tree: every line of the style's, in Vietnamese, then English.
  const list = page.locator('ul[data-legend="planning_zones"]');
  assert.ok(await list.isVisible());
  const titles = async () => list.locator('li .legend-title').allInnerTexts();
  assert.deepEqual(await titles(), legend.map((e) => e.title_vi));
  assert.ok((await titles()).includes('Đất ở mới'));
  await page.click('#lang-toggle');
  assert.deepEqual(await titles(), legend.map((e) => e.title_en));
  // Unticked, the legend goes with the layer.
  await page.locator('label[data-layer="planning_zones"] input').uncheck();
  assert.equal(await list.isVisible(), false);
  // No compare panel for anonymous visitors.
  assert.equal(await page.locator('#compare').isVisible(), false);
  await page.screenshot({ path: join(resultsDir, 'map-zone-legend.png') });
  assert.deepEqual(bad, []);
  await page.close();
});

test('a planner compares two plan versions: added, removed and changed zones drawn and counted', async () => {
  const { page, bad } = await openMap(`#map=15/${LAT}/${LON}`);
  await Promise.all([page.waitForURL(/\/dev-auth\/authorize\?/), page.click('#sign-in')]);
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/map'),
    page.click('button[name="username"][value="chuyen_vien_quy_hoach"]'),
  ]);
  await ready(page);
  const panel = page.locator('#compare');
  await panel.waitFor({ state: 'visible', timeout: 15_000 });
  // The planner's list names the draft too.
  const options = await page.locator('#compare-to option').evaluateAll((os) => os.map((o) => o.value));
  assert.ok(options.includes(String(plan1)) && options.includes(String(plan2)), JSON.stringify(options));
  await page.selectOption('#compare-from', String(plan1));
  await page.selectOption('#compare-to', String(plan2));
  const answered = page.waitForResponse((r) => r.url().includes('/plans/compare?'));
  await page.click('#compare-run');
  const answer = await answered;
  assert.equal(answer.status(), 200);
  const fc = await answer.json();
  const kinds = fc.features.map((f) => `${f.properties.zone_code}:${f.properties.change}`).sort();
  assert.deepEqual(kinds, ['K-1:changed', 'K-2:removed', 'K-4:added']);
  await page.locator('#compare-summary li').first().waitFor();
  for (const [kind, n] of [['added', 1], ['removed', 1], ['changed', 1]]) {
    const text = await page.locator(`#compare-summary li[data-change="${kind}"]`).innerText();
    assert.ok(text.trim().endsWith(`: ${n}`), text);
  }
  // Both sides named with their decisions: the approved plan's, none for the draft.
  const sideFrom = await page.locator('#compare-summary li[data-side="from"]').innerText();
  assert.ok(sideFrom.includes('Quyết định 10/QĐ-UBND'), sideFrom);
  const sideTo = await page.locator('#compare-summary li[data-side="to"]').innerText();
  assert.ok(sideTo.includes('chưa phê duyệt'), sideTo);
  await ready(page);
  const drawn = await page.evaluate(() => window.bandoMap.queryRenderedFeatures({ layers: ['bando-compare-fill'] })
    .map((f) => ({ code: f.properties.zone_code, change: f.properties.change, colour: f.layer.paint['fill-color'] })));
  const seen = new Map(drawn.map((d) => [d.code, d]));
  const colours = { added: '#16a34a', removed: '#dc2626', changed: '#f59e0b' };
  for (const [code, change] of [['K-1', 'changed'], ['K-2', 'removed'], ['K-4', 'added']]) {
    assert.equal(seen.get(code)?.change, change, `${code} drawn as ${change}: ${JSON.stringify(drawn)}`);
    assert.equal(hex(seen.get(code).colour), colours[change]);
  }
  assert.ok(!seen.has('K-3'), 'an unchanged zone is drawn as a change');
  // Clicking a compared zone opens its attribute diff: K-1's function changed (OM → HH), its
  // code and boundary did not; K-4 was added (nothing before).
  const diffOf = async (i) => {
    const [x, y] = await page.evaluate(([lon, lat]) => {
      const p = window.bandoMap.project([lon, lat]);
      return [p.x, p.y];
    }, [LON + (i + 0.5) * D, LAT + D / 2]);
    await page.locator('#map canvas').first().click({ position: { x, y } });
    const table = page.locator('.compare-popup table.compare-diff');
    await table.waitFor();
    const rows = await table.locator('tr[data-attribute]').evaluateAll((trs) => Object.fromEntries(trs.map((tr) => [
      tr.dataset.attribute, { changed: tr.dataset.changed, before: tr.querySelector('td.before')?.innerText, after: tr.querySelector('td.after')?.innerText }])));
    const titles = await table.locator('tr[data-attribute] th').allInnerTexts();
    return { zone: await table.getAttribute('data-zone'), rows, titles };
  };
  const k1 = await diffOf(0);
  assert.equal(k1.zone, 'K-1');
  assert.deepEqual(k1.rows.land_use_function, { changed: 'true', before: 'OM', after: 'HH' });
  assert.deepEqual(k1.rows.zone_code, { changed: 'false', before: 'K-1', after: 'K-1' });
  assert.equal(k1.rows.geometry.changed, 'false');
  // Attributes are titled as the style titles the zones' properties.
  const described = style.metadata['bando:layers'].planning_zones.properties;
  assert.ok(k1.titles.includes(described.find((p) => p.name === 'land_use_function').title_vi), JSON.stringify(k1.titles));
  await page.screenshot({ path: join(resultsDir, 'map-compare-diff.png') });
  const k4 = await diffOf(3);
  assert.equal(k4.zone, 'K-4');
  assert.deepEqual(k4.rows.land_use_function, { changed: 'true', before: '—', after: 'GD' });
  assert.equal(k4.rows.geometry, undefined, 'an added zone has no boundary change to tell');
  await page.screenshot({ path: join(resultsDir, 'map-compare.png') });
  await page.click('#compare-clear');
  assert.equal(await page.locator('#compare-summary li').count(), 0);
  assert.deepEqual(bad, []);
  await page.close();
});

/** The centre of a GeoJSON polygon's outer ring box. */
function centreOf(geometry) {
  const ring = geometry.type === 'MultiPolygon' ? geometry.coordinates[0][0] : geometry.coordinates[0];
  const xs = ring.map((p) => p[0]);
  const ys = ring.map((p) => p[1]);
  return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
}

test('buildings of the sample are extruded in 3D by their heights, existing and planned', async () => {
  const items = await (await fetch(`${bando.url}/collections/buildings/items?status=planned&limit=1`)).json();
  const tower = items.features?.[0];
  assert.ok(tower, 'a planned building in the sample');
  const [lon, lat] = centreOf(tower.geometry);
  const { page, bad } = await openMap(`#map=17/${lat}/${lon}&layers=buildings`);
  await page.evaluate(() => window.bandoMap.setPitch(55));
  await ready(page);
  const drawn = await page.evaluate(() => window.bandoMap.queryRenderedFeatures({ layers: ['buildings-extrusion'] })
    .map((f) => ({ code: f.properties.building_code, status: f.properties.status, floors: f.properties.floors,
      height: f.properties.height_m, type: f.layer.type })));
  assert.ok(drawn.some((d) => d.code === tower.properties.building_code && d.status === 'planned'),
    `the planned tower is drawn: ${JSON.stringify(drawn.slice(0, 5))}`);
  assert.ok(drawn.some((d) => d.status === 'existing'), 'existing buildings are drawn');
  assert.ok(drawn.every((d) => d.type === 'fill-extrusion' && d.height > 0));
  // The legend of buildings under the layer.
  const titles = await page.locator('ul[data-legend="buildings"] li .legend-title').allInnerTexts();
  assert.deepEqual(titles, ['Công trình hiện trạng', 'Công trình theo quy hoạch']);
  await page.screenshot({ path: join(resultsDir, 'map-buildings-3d.png') });
  assert.deepEqual(bad, []);
  await page.close();
});

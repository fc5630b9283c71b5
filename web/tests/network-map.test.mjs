// Utility networks in the planners' map (issue 15) in headless Chromium against a real bando with
// the sample water network: a signed-in planner clicks a pipe, is offered "Cô lập tại đây", and
// sees the answer of `/networks/water/isolate` drawn by role and counted in the panel; marking a
// valve as failed to close asks again and shows the growth; the quality report is drawn as an
// overlay with a count per finding. A planner clicks a power line, is offered "Mất điện tại
// đây", and sees what the outage cuts off; the power network's report has its own findings.
// Anonymous visitors are offered none of it. An operator's isolation published as an IOC event
// shows its affected area on the IOC display (/ioc).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startBando, launchBrowser, freePort, resultsDir, bandoBin } from './harness.mjs';

let bando;
let browser;
/** A break on the sample network whose isolation closes at least two valves: [lon, lat]. */
let breakAt;
/** The server's own answer there (anonymous). */
let expected;
let port;

before(async () => {
  port = await freePort();
  const water = ['water_pipes', 'water_valves', 'hydrants', 'water_meters', 'water_sources']
    .map((layer) => ['water.gpkg', layer]);
  const power = ['power_lines', 'power_poles', 'substations', 'power_switches', 'power_customers']
    .map((layer) => ['power.gpkg', layer]);
  bando = await startBando({ parcels: 512, imports: [['communes.gpkg', 'communes'], ...water, ...power],
    env: { BANDO_AUTH_DEV_ISSUER: 'true' }, port });
  browser = await launchBrowser();
  const pipes = await (await fetch(`${bando.url}/collections/water_pipes/items?limit=200`)).json();
  assert.ok(pipes.features.length > 100, 'the sample has pipes');
  // Mains (not service lines) at their middle, until one needs two valves or more.
  for (const pipe of pipes.features.filter((f) => f.properties.diameter_mm >= 100)) {
    const byPipe = await (await fetch(`${bando.url}/networks/water/isolate?pipe=${pipe.id}&at=0.5`)).json();
    const point = byPipe.features.find((f) => f.properties.part === 'break').geometry.coordinates;
    const r = await fetch(`${bando.url}/networks/water/isolate?point=${point[0].toFixed(7)},${point[1].toFixed(7)}`);
    assert.equal(r.status, 200);
    const fc = await r.json();
    if (fc.valves_to_close.length >= 2 && fc.summary.meters + fc.summary.cut_off_meters > 0) {
      breakAt = point;
      expected = fc;
      break;
    }
  }
  assert.ok(breakAt, 'a pipe whose isolation closes two valves and leaves meters dry');
});

after(async () => {
  await browser?.close();
  await bando?.stop();
});

async function ready(page) {
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'true',
    `the map did not start: ${await page.locator('#status').innerText()}`);
  await page.waitForFunction(() => {
    const map = window.bandoMap;
    return map && map.loaded() && map.areTilesLoaded() && !map.isMoving();
  }, null, { timeout: 60_000, polling: 100 });
}

async function openMap(signIn, at = breakAt, layers = 'water_pipes,water_valves') {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const bad = [];
  page.on('response', (r) => { if (r.status() >= 400) bad.push(`${r.status()} ${r.url()}`); });
  page.on('pageerror', (e) => bad.push(`page error: ${e.message}`));
  await page.goto(`${bando.url}/map#map=18/${at[1]}/${at[0]}&layers=${layers}`);
  await ready(page);
  if (signIn) {
    await Promise.all([page.waitForURL(/\/dev-auth\/authorize\?/), page.click('#sign-in')]);
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/map'),
      page.click('button[name="username"][value="chuyen_vien_quy_hoach"]'),
    ]);
    await ready(page);
  }
  return { page, bad };
}

const rendered = (page, layer) => page.evaluate((id) => window.bandoMap.queryRenderedFeatures({ layers: [id] })
  .map((f) => ({ ...f.properties })), layer);

test('a planner isolates a clicked pipe: valves, pipes, meters and hydrants drawn and counted, a failed valve re-solved', async () => {
  const { page, bad } = await openMap(true);
  assert.ok(await page.locator('#network').isVisible(), 'the network panel for staff');
  const found = await page.evaluate(([lon, lat]) => window.bando.identify(lon, lat), breakAt);
  assert.ok(found.some((f) => f.layer === 'water_pipes'), JSON.stringify(found.map((f) => f.layer)));
  const button = page.locator('.maplibregl-popup button[data-action="isolate"]');
  assert.equal(await button.innerText(), 'Cô lập tại đây');
  const answered = page.waitForResponse((r) => r.url().includes('/networks/water/isolate?'));
  await button.click();
  const answer = await answered;
  assert.equal(answer.status(), 200);
  const fc = await answer.json();
  // The same valves as the server answers anyone for that point; staff also get the meters.
  assert.deepEqual(fc.valves_to_close, expected.valves_to_close);
  assert.deepEqual(fc.summary, expected.summary);
  assert.ok(fc.features.some((f) => f.properties.part === 'meter'), 'meters listed for staff');
  await page.locator('#network-summary li').first().waitFor();
  const count = (key) => page.locator(`#network-summary li[data-count="${key}"]`).innerText();
  assert.equal(await count('valves_to_close'), `Van cần đóng: ${fc.valves_to_close.length}`);
  assert.equal(await count('meters'), `Đồng hồ mất nước: ${fc.summary.meters + fc.summary.cut_off_meters}`);
  assert.equal(await count('hydrants'), `Trụ cứu hỏa ngưng dùng: ${fc.summary.hydrants}`);
  assert.match(await count('pipes'), new RegExp(`^Ống bị cô lập: ${fc.summary.pipes} \\(`));
  assert.equal(await page.locator('#network-valves li').count(), fc.valves_to_close.length);
  await ready(page);
  const lines = await rendered(page, 'bando-network-line');
  assert.ok(lines.some((l) => l.role === 'isolated'), `isolated pipes drawn: ${JSON.stringify(lines)}`);
  const points = await rendered(page, 'bando-network-point');
  const closing = new Set(points.filter((p) => p.part === 'valve' && p.role === 'close').map((p) => p.id));
  assert.deepEqual([...closing].sort((a, b) => a - b), [...fc.valves_to_close].sort((a, b) => a - b));
  assert.ok(points.some((p) => p.part === 'meter'), 'the meters drawn');
  await page.screenshot({ path: join(resultsDir, 'map-isolation.png') });

  // The first valve fails to close: asked again with it, the isolation grows past it.
  const failed = fc.valves_to_close[0];
  const again = page.waitForResponse((r) => r.url().includes('/networks/water/isolate?') && r.url().includes('failed='));
  await page.locator(`#network-valves li[data-valve="${failed}"] button[data-action="failed"]`).click();
  const grown = await (await again).json();
  assert.deepEqual(grown.without_failure, fc.summary);
  assert.ok(!grown.valves_to_close.includes(failed));
  assert.ok(grown.summary.length_m > fc.summary.length_m, `${grown.summary.length_m} > ${fc.summary.length_m}`);
  await page.locator('#network-summary li[data-count="growth"]').waitFor();
  assert.match(await count('growth'), /^Van .* không đóng được: thêm /);
  await ready(page);
  const after = await rendered(page, 'bando-network-point');
  assert.ok(after.some((p) => p.id === failed && p.role === 'failed'), 'the failed valve drawn as failed');
  // English.
  await page.click('#lang-toggle');
  assert.match(await count('valves_to_close'), /^Valves to close: \d+$/);
  await page.click('#network-clear');
  assert.equal(await page.locator('#network-summary li').count(), 0);
  assert.deepEqual(bad, []);
  await page.close();
});

test('the quality report is drawn over the map with a count per finding', async () => {
  const { page, bad } = await openMap(true);
  const answered = page.waitForResponse((r) => r.url().endsWith('/networks/water/check'));
  await page.click('#network-check');
  const answer = await answered;
  assert.equal(answer.status(), 200);
  const report = await answer.json();
  const dangles = report.features.filter((f) => f.properties.finding === 'dangle');
  assert.ok(dangles.length > 0, 'the sample has dangles');
  await page.locator('#network-findings li').first().waitFor();
  for (const finding of ['crossing', 'dangle', 'unconnected', 'valve_off_pipe', 'island']) {
    const n = report.features.filter((f) => f.properties.finding === finding).length;
    const text = await page.locator(`#network-findings li[data-finding="${finding}"]`).innerText();
    assert.ok(text.trim().endsWith(`: ${n}`), `${finding}: ${text} (${n})`);
  }
  // Go to a dangle: it is drawn in the report's colour.
  const [lon, lat] = dangles[0].geometry.coordinates;
  await page.evaluate(([x, y]) => window.bandoMap.jumpTo({ center: [x, y], zoom: 18 }), [lon, lat]);
  await ready(page);
  const drawn = await rendered(page, 'bando-network-check-point');
  assert.ok(drawn.some((d) => d.finding === 'dangle'), `dangles drawn: ${JSON.stringify(drawn.slice(0, 3))}`);
  await page.screenshot({ path: join(resultsDir, 'map-network-check.png') });
  assert.deepEqual(bad, []);
  await page.close();
});

/** A point on a sample power line whose outage cuts customers off, and the server's answer. */
async function powerFault() {
  const lines = await (await fetch(`${bando.url}/collections/power_lines/items?limit=100`)).json();
  assert.ok(lines.features.length > 1, 'the sample has power lines');
  for (const line of lines.features) {
    const parts = line.geometry.type === 'MultiLineString' ? line.geometry.coordinates : [line.geometry.coordinates];
    const [a, b] = parts[0];
    const at = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
    const r = await fetch(`${bando.url}/networks/power/outage?point=${at[0].toFixed(7)},${at[1].toFixed(7)}`);
    if (r.status !== 200) continue;
    const fc = await r.json();
    if (fc.summary.customers > 0 && fc.summary.poles > 0) return { at, fc };
  }
  throw new Error('no sample power line whose outage cuts customers off');
}

test('a planner traces an outage from a clicked power line: lines, poles and customers cut off, drawn and counted', async () => {
  const { at, fc: expectedOutage } = await powerFault();
  const { page, bad } = await openMap(true, at, 'power_lines,power_poles');
  const found = await page.evaluate(([lon, lat]) => window.bando.identify(lon, lat), at);
  assert.ok(found.some((f) => f.layer === 'power_lines'), JSON.stringify(found.map((f) => f.layer)));
  const button = page.locator('.maplibregl-popup button[data-action="outage"]');
  assert.equal(await button.innerText(), 'Mất điện tại đây');
  const answered = page.waitForResponse((r) => r.url().includes('/networks/power/outage?'));
  await button.click();
  const answer = await answered;
  assert.equal(answer.status(), 200);
  const fc = await answer.json();
  assert.deepEqual(fc.summary, expectedOutage.summary);
  // Staff see which customers (anonymous readers get the count only).
  assert.equal(fc.features.filter((f) => f.properties.part === 'customer').length, fc.summary.customers);
  const count = (key) => page.locator(`#network-summary li[data-count="${key}"]`).innerText();
  await page.locator('#network-summary li').first().waitFor();
  assert.equal(await count('customers'), `Khách hàng mất điện: ${fc.summary.customers}`);
  assert.equal(await count('poles'), `Cột mất điện: ${fc.summary.poles}`);
  assert.match(await count('lines'), new RegExp(`^Đường dây mất điện: ${fc.summary.lines} \\(`));
  await ready(page);
  const lines = await rendered(page, 'bando-network-line');
  assert.ok(lines.some((l) => l.part === 'line' && l.role === 'cut_off'), `lines cut off drawn: ${JSON.stringify(lines)}`);
  const points = await rendered(page, 'bando-network-point');
  assert.ok(points.some((p) => p.part === 'customer' && p.role === 'cut_off'), 'customers drawn');
  await page.screenshot({ path: join(resultsDir, 'map-power-outage.png') });
  await page.click('#lang-toggle');
  assert.equal(await count('customers'), `Customers cut off: ${fc.summary.customers}`);
  assert.deepEqual(bad, []);
  await page.close();
});

test('the power network has a quality report of its own', async () => {
  const { at } = await powerFault();
  const { page, bad } = await openMap(true, at, 'power_lines,power_poles');
  const answered = page.waitForResponse((r) => r.url().endsWith('/networks/power/check'));
  await page.click('#network-check-power');
  const answer = await answered;
  assert.equal(answer.status(), 200);
  const report = await answer.json();
  assert.equal(report.summary.switches_off_line, 0, JSON.stringify(report.summary));
  await page.locator('#network-findings li').first().waitFor();
  assert.equal(await page.locator('#network-findings li[data-finding="valve_off_pipe"]').count(), 0);
  for (const finding of ['crossing', 'dangle', 'unconnected', 'switch_off_line', 'island']) {
    const n = report.features.filter((f) => f.properties.finding === finding).length;
    const text = await page.locator(`#network-findings li[data-finding="${finding}"]`).innerText();
    assert.ok(text.trim().endsWith(`: ${n}`), `${finding}: ${text} (${n})`);
  }
  assert.match(await page.locator('#network-findings li[data-finding="island"]').innerText(), /Vùng không có trạm biến áp nguồn: \d+$/);
  assert.deepEqual(bad, []);
  await page.close();
});

test('anonymous visitors are offered no isolation and no network panel', async () => {
  const { page, bad } = await openMap(false);
  assert.equal(await page.locator('#network').isVisible(), false);
  const found = await page.evaluate(([lon, lat]) => window.bando.identify(lon, lat), breakAt);
  assert.ok(found.some((f) => f.layer === 'water_pipes'));
  await page.locator('.maplibregl-popup').waitFor();
  assert.equal(await page.locator('.maplibregl-popup button[data-action="isolate"]').count(), 0);
  assert.equal(await page.locator('.maplibregl-popup button[data-action="outage"]').count(), 0);
  assert.deepEqual(bad, []);
  await page.close();
});

test('an isolation an operator publishes shows its affected area on the IOC display', async () => {
  const env = { ...process.env, BANDO_AUTH_DEV_ISSUER: 'true' };
  delete env.DATABASE_URL;
  const token = execFileSync(bandoBin, ['--data-dir', bando.state, 'dev-token', 'van_hanh_ioc', '--listen', `127.0.0.1:${port}`],
    { env, encoding: 'utf8' }).trim();
  const r = await fetch(`${bando.url}/networks/water/isolate/event?point=${breakAt[0].toFixed(7)},${breakAt[1].toFixed(7)}`,
    { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 201, await r.clone().text());
  const event = await r.json();
  assert.equal(event.area.type, 'MultiLineString');
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript((t) => {
    sessionStorage.setItem('bando.session', JSON.stringify({
      accessToken: t, expiresAt: Date.now() + 3_600_000, username: 'van_hanh_ioc',
      name: 'Vận hành IOC', roles: ['ioc_operator'],
    }));
  }, token);
  await page.goto(`${bando.url}/ioc`);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'true', await page.locator('#feed-state').innerText());
  // The event in the list, and its pipes drawn on the map.
  const item = page.locator(`#alerts li[data-id="${event.id}"]`);
  await item.waitFor({ timeout: 20_000 });
  assert.equal(await item.getAttribute('data-severity'), 'alarm');
  assert.match(await item.locator('.title').innerText(), /^Cô lập đường ống nước: đóng \d+ van/);
  await page.evaluate(([x, y]) => window.bandoIoc.map.jumpTo({ center: [x, y], zoom: 15 }), breakAt);
  await page.waitForFunction((id) => window.bandoIoc.map.queryRenderedFeatures({ layers: ['ioc-event-areas'] })
    .some((f) => f.properties.id === id && f.properties.kind === 'water_isolation'), event.id, { timeout: 20_000 });
  await page.screenshot({ path: join(resultsDir, 'ioc-isolation-area.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

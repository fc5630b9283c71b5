// The IOC wall display (issue 14) in headless Chromium against a real bando with its private
// Mosquitto: readings published over MQTT as devices publish them show on the display (value
// and status colour, on the map and in the table), a reading over the alarm level raises an
// event that appears in the alert list and an operator acknowledges it, an old reading is
// flagged stale, and the language toggles; the events are drawn from the staff layer's
// tiles (severity colour, faded once acknowledged); the alert rule editor lists, creates,
// edits (the server's refusals shown) and deletes rules, in Vietnamese first and in English.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startBando, launchBrowser, freePort, bandoBin } from './harness.mjs';

let bando;
let browser;
let token;
let broker;

before(async () => {
  const port = await freePort();
  bando = await startBando({
    parcels: 512,
    imports: [['communes.gpkg', 'communes'], ['env_stations.csv', 'env_stations', '--srs', 'EPSG:9212']],
    env: { BANDO_AUTH_DEV_ISSUER: 'true' },
    port,
  });
  browser = await launchBrowser();
  const env = { ...process.env, BANDO_AUTH_DEV_ISSUER: 'true' };
  delete env.DATABASE_URL;
  token = execFileSync(bandoBin, ['--data-dir', bando.state, 'dev-token', 'van_hanh_ioc', '--listen', `127.0.0.1:${port}`],
    { env, encoding: 'utf8' }).trim();
  const conf = readFileSync(join(bando.state, 'mosquitto/mosquitto.conf'), 'utf8');
  broker = Number(conf.match(/^listener (\d+)/m)[1]);
});

after(async () => {
  await browser?.close();
  await bando?.stop();
});

/** Publishes an Observation to a datastream's topic on bando's broker, as a device does. */
function publish(datastream, observation) {
  execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker), '-q', '1',
    '-t', `v1.1/Datastreams(${datastream})/Observations`, '-m', JSON.stringify(observation)]);
}

async function datastreams() {
  const r = await fetch(`${bando.url}/collections/latest_readings/items?limit=500`);
  assert.equal(r.status, 200);
  return (await r.json()).features.map((f) => f.properties);
}

test('readings published over MQTT move the markers, raise alerts and flag stale feeds', async () => {
  const all = await datastreams();
  const level = all.find((p) => p.property === 'Water level');
  const air = all.find((p) => p.property === 'PM2.5');
  assert.ok(level && air, 'the sample stations are seeded as datastreams');
  const page = await browser.newPage();
  const errors = [];
  const requested = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  page.on('pageerror', (e) => errors.push(String(e)));
  // The operator's session, as the sign-in would leave it (the flow itself: signin.test.mjs).
  await page.addInitScript((t) => {
    sessionStorage.setItem('bando.session', JSON.stringify({
      accessToken: t, expiresAt: Date.now() + 3_600_000, username: 'van_hanh_ioc',
      name: 'Vận hành IOC', roles: ['ioc_operator'],
    }));
  }, token);
  await page.goto(`${bando.url}/ioc`);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'true',
    await page.locator('#feed-state').innerText());
  assert.equal(await page.locator('h1').innerText(), 'Trung tâm điều hành thông minh');
  const row = page.locator(`#readings tr[data-datastream="${level.datastream_id}"]`);
  assert.equal(await row.getAttribute('data-status'), 'no_data');
  // The map is the IOC style: the base map with the field devices and stations.
  assert.ok(requested.includes('/styles/ioc.json'), requested.join(' '));
  const style = await (await fetch(`${bando.url}/styles/ioc.json`)).json();
  assert.ok(style.layers.some((l) => l['source-layer'] === 'env_stations'));

  // A normal reading: value and green on the display and the map.
  publish(level.datastream_id, { result: 2.15 });
  await page.waitForFunction((id) => document.querySelector(`#readings tr[data-datastream="${id}"]`)
    ?.dataset.status === 'ok', level.datastream_id, { timeout: 20_000 });
  assert.match(await row.locator('.value').innerText(), /2\.15 m/);
  const marker = (id) => page.evaluate((d) => {
    const map = window.bandoIoc.map;
    const f = map.queryRenderedFeatures({ layers: ['ioc-live-points'] })
      .find((x) => x.properties.datastream_id === d);
    if (!f) return null;
    // The colour the style gives this status.
    const expr = map.getPaintProperty('ioc-live-points', 'circle-color');
    const i = expr.indexOf(f.properties.status);
    return { status: f.properties.status, colour: i > 1 ? expr[i + 1] : expr[expr.length - 1] };
  }, id);
  await page.waitForFunction((id) => window.bandoIoc.map.queryRenderedFeatures({ layers: ['ioc-live-points'] })
    .some((x) => x.properties.datastream_id === id && x.properties.status === 'ok'), level.datastream_id, { timeout: 20_000 });
  assert.deepEqual(await marker(level.datastream_id), { status: 'ok', colour: '#1a9850' });

  // Over the alarm level: red, and an alarm event in the list, which the operator acknowledges.
  publish(level.datastream_id, { result: 4.8 });
  await page.waitForFunction((id) => document.querySelector(`#readings tr[data-datastream="${id}"]`)
    ?.dataset.status === 'alarm', level.datastream_id, { timeout: 20_000 });
  await page.waitForFunction((id) => window.bandoIoc.map.queryRenderedFeatures({ layers: ['ioc-live-points'] })
    .some((x) => x.properties.datastream_id === id && x.properties.status === 'alarm'), level.datastream_id, { timeout: 20_000 });
  const red = await marker(level.datastream_id);
  assert.deepEqual(red, { status: 'alarm', colour: '#d7191c' });
  const alarm = page.locator('#alerts li[data-severity="alarm"]');
  await alarm.waitFor({ timeout: 20_000 });
  assert.match(await alarm.innerText(), new RegExp(level.station));
  assert.equal(await alarm.getAttribute('data-status'), 'open');
  // The events layer's tiles (the staff layer `events`, signed requests): the alarm in its
  // severity colour, opaque while open.
  const drawnEvent = (status) => page.waitForFunction((s) => window.bandoIoc.map
    .queryRenderedFeatures({ layers: ['ioc-events'] })
    .some((x) => x.properties.severity === 'alarm' && x.properties.status === s), status, { timeout: 20_000 });
  const eventPaint = (status) => page.evaluate((s) => {
    const map = window.bandoIoc.map;
    const f = map.queryRenderedFeatures({ layers: ['ioc-events'] })
      .find((x) => x.properties.severity === 'alarm' && x.properties.status === s);
    if (!f) return null;
    // What a `match` expression gives this feature.
    const pick = (expr, value) => {
      for (let i = 2; i < expr.length - 1; i += 2) {
        if (expr[i] === value || (Array.isArray(expr[i]) && expr[i].includes(value))) return expr[i + 1];
      }
      return expr[expr.length - 1];
    };
    return {
      station: f.properties.title,
      colour: pick(map.getPaintProperty('ioc-events', 'circle-color'), f.properties.severity),
      opacity: pick(map.getPaintProperty('ioc-events', 'circle-opacity'), f.properties.status),
    };
  }, status);
  await drawnEvent('open');
  const openPaint = await eventPaint('open');
  assert.equal(openPaint.colour, '#d7191c');
  assert.equal(openPaint.opacity, 0.95);
  assert.match(openPaint.station, new RegExp(level.station));
  await alarm.locator('button[data-action="acknowledge"]').click();
  await page.waitForFunction(() => document.querySelector('#alerts li[data-severity="alarm"]')
    ?.dataset.status === 'acknowledged', null, { timeout: 20_000 });
  // Acknowledged: the layer's tiles are fetched again and the event drawn faded.
  await drawnEvent('acknowledged');
  const faded = await eventPaint('acknowledged');
  assert.deepEqual({ colour: faded.colour, opacity: faded.opacity }, { colour: '#d7191c', opacity: 0.45 });

  // A reading twenty minutes old: the feed is flagged stale.
  const old = new Date(Date.now() - 20 * 60_000).toISOString();
  publish(air.datastream_id, { result: 30, phenomenonTime: old });
  const airRow = page.locator(`#readings tr[data-datastream="${air.datastream_id}"]`);
  await page.waitForFunction((id) => document.querySelector(`#readings tr[data-datastream="${id}"]`)
    ?.dataset.status === 'ok', air.datastream_id, { timeout: 20_000 });
  assert.ok(await airRow.evaluate((tr) => tr.classList.contains('stale')));
  assert.match(await airRow.locator('.age').innerText(), /quá hạn/);

  // English on request.
  await page.locator('#lang-toggle').click();
  assert.equal(await page.locator('h1').innerText(), 'Intelligent operations centre');
  assert.match(await airRow.locator('.age').innerText(), /stale/);
  assert.deepEqual(errors, []);
  await page.close();
});

/** The rules as the server has them (the operator's token). */
async function serverRules() {
  const r = await fetch(`${bando.url}/feeds/rules`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  return (await r.json()).rules;
}

test('operators list, create, edit and delete alert rules on the display', async () => {
  const page = await browser.newPage();
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
  const panel = page.locator('#rules-panel');
  assert.equal(await panel.isVisible(), true, 'operators have the rule editor');
  assert.equal(await panel.locator('summary').innerText(), 'Quy tắc cảnh báo');
  await panel.locator('summary').click();
  // The seeded rules, one row each, with their levels.
  const before = await serverRules();
  await page.waitForFunction((n) => document.querySelectorAll('#rules tbody tr').length === n, before.length,
    { timeout: 20_000 });
  const levelAlarm = before.find((r) => r.observed_property === 'Water level' && r.kind === 'threshold' && r.severity === 'alarm');
  const alarmRow = page.locator(`#rules tr[data-rule="${levelAlarm.id}"]`);
  assert.equal(await alarmRow.locator('.levels').innerText(), '≥ 4.5 → 4.2');
  assert.equal(await alarmRow.locator('.severity').innerText(), 'Báo động');
  assert.equal(await alarmRow.locator('.title').innerText(), levelAlarm.title);

  // Create: a rate-of-change rule for one station's PM2.5.
  const air = (await datastreams()).find((p) => p.property === 'PM2.5');
  await page.locator('#rule-new').click();
  const form = page.locator('#rule-form');
  await form.locator('[name="observed_property"]').fill('PM2.5');
  await form.locator('[name="datastream"]').fill(String(air.datastream_id));
  await form.locator('[name="kind"]').selectOption('rate');
  await form.locator('[name="severity"]').selectOption('warning');
  await form.locator('[name="raise_at"]').fill('20');
  await form.locator('[name="clear_at"]').fill('10');
  await form.locator('[name="title"]').fill('Bụi mịn tăng nhanh');
  await form.locator('[name="title_en"]').fill('PM2.5 rising fast');
  await form.locator('button[type="submit"]').click();
  await page.waitForFunction((n) => document.querySelectorAll('#rules tbody tr').length === n, before.length + 1,
    { timeout: 20_000 });
  assert.equal(await form.isVisible(), false, 'the form closes once saved');
  const created = (await serverRules()).find((r) => r.title === 'Bụi mịn tăng nhanh');
  assert.ok(created, 'the rule is on the server');
  assert.deepEqual([created.observed_property, created.datastream_id, created.kind, created.severity,
    created.direction, created.raise_at, created.clear_at, created.title_en, created.enabled],
  ['PM2.5', air.datastream_id, 'rate', 'warning', 'above', 20, 10, 'PM2.5 rising fast', true]);
  const row = page.locator(`#rules tr[data-rule="${created.id}"]`);
  assert.equal(await row.locator('.kind').innerText(), 'Tốc độ');
  assert.equal(await row.locator('.property').innerText(), `PM2.5 — ${air.station}`);

  // Edit with levels the server refuses: its reason shown, the form kept as typed.
  await row.locator('button[data-action="edit"]').click();
  assert.equal(await form.locator('[name="title"]').inputValue(), 'Bụi mịn tăng nhanh');
  await form.locator('[name="clear_at"]').fill('30');
  await form.locator('button[type="submit"]').click();
  const error = page.locator('#rule-error');
  await error.waitFor({ state: 'visible', timeout: 20_000 });
  assert.match(await error.innerText(), /Không lưu được quy tắc: .*clear_at is below raise_at/);
  assert.equal(await form.isVisible(), true);
  assert.equal((await serverRules()).find((r) => r.id === created.id).clear_at, 10, 'nothing changed');
  // Corrected, and switched off.
  await form.locator('[name="clear_at"]').fill('5');
  await form.locator('[name="enabled"]').uncheck();
  await form.locator('button[type="submit"]').click();
  await page.waitForFunction((id) => document.querySelector(`#rules tr[data-rule="${id}"]`)?.dataset.enabled === 'false',
    created.id, { timeout: 20_000 });
  assert.equal(await error.isVisible(), false);
  const edited = (await serverRules()).find((r) => r.id === created.id);
  assert.deepEqual([edited.clear_at, edited.enabled, edited.datastream_id], [5, false, air.datastream_id],
    'edited, still its datastream\'s');
  assert.equal(await row.locator('.levels').innerText(), '≥ 20 → 5');

  // English: the editor's words and the rules' English titles.
  await page.locator('#lang-toggle').click();
  assert.equal(await panel.locator('summary').innerText(), 'Alert rules');
  assert.equal(await row.locator('.kind').innerText(), 'Rate');
  assert.equal(await row.locator('.title').innerText(), 'PM2.5 rising fast');
  assert.equal(await alarmRow.locator('.severity').innerText(), 'Alarm');

  // Delete takes a second click.
  const remove = row.locator('button[data-action="delete"]');
  await remove.click();
  assert.equal(await remove.innerText(), 'Really delete?');
  assert.ok((await serverRules()).some((r) => r.id === created.id), 'not deleted on the first click');
  await remove.click();
  await page.waitForFunction((n) => document.querySelectorAll('#rules tbody tr').length === n, before.length,
    { timeout: 20_000 });
  assert.ok(!(await serverRules()).some((r) => r.id === created.id), 'deleted on the server');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the rule editor and the events layer are for operators only', async () => {
  const page = await browser.newPage();
  await page.goto(`${bando.url}/ioc`);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60_000 });
  assert.equal(await page.locator('#rules-panel').isVisible(), false);
  assert.equal(await page.evaluate(() => Boolean(window.bandoIoc.map.getLayer('ioc-events'))), false);
  await page.close();
});

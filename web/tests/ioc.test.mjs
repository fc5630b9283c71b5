// The IOC wall display (issue 14) in headless Chromium against a real bando with its private
// Mosquitto: readings published over MQTT as devices publish them show on the display (value
// and status colour, on the map and in the table), a reading over the alarm level raises an
// event that appears in the alert list and an operator acknowledges it, an old reading is
// flagged stale, and the language toggles.
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
  await alarm.locator('button[data-action="acknowledge"]').click();
  await page.waitForFunction(() => document.querySelector('#alerts li[data-severity="alarm"]')
    ?.dataset.status === 'acknowledged', null, { timeout: 20_000 });

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

// Sign-in in the planners' map (issue 10) against a real bando running its development issuer:
// the map signs in with the authorization-code flow and PKCE through the issuer's real login
// form, sends the token as `Authorization: Bearer` to this bando only, shows a land officer the
// owner names in the identify popup and stops showing them after sign-out; anonymous visitors
// never see them. Every HTML page carries the development issuer's banner.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBando, launchBrowser, freePort, resultsDir } from './harness.mjs';

const BANNER_VI = 'Máy chủ đăng nhập thử nghiệm — không dùng cho dữ liệu thật';
const BANNER_EN = 'Test sign-in server — not for real data';

let bando;
let browser;
let parcel;

before(async () => {
  // The development issuer's address names the port, so it is chosen before the start.
  const port = await freePort();
  bando = await startBando({
    parcels: 600,
    imports: [['communes.gpkg', 'communes'], ['parcels_binhphuoc.shp', 'parcels']],
    env: { BANDO_AUTH_DEV_ISSUER: 'true' },
    port,
  });
  browser = await launchBrowser();
  const parcels = JSON.parse(readFileSync(join(bando.sample, 'parcels_sample.geojson'), 'utf8')).features;
  parcel = parcels.find((f) => f.properties.TENCHU && f.geometry?.type === 'Polygon');
  assert.ok(parcel, 'a sample parcel with an owner');
});

after(async () => {
  await browser?.close();
  await bando?.stop();
});

/** A point inside a (convex enough) sample parcel: the mean of its outer ring. */
function inside(feature) {
  const ring = feature.geometry.coordinates[0].slice(0, -1);
  return [ring.reduce((s, c) => s + c[0], 0) / ring.length, ring.reduce((s, c) => s + c[1], 0) / ring.length];
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

/** Clicks the parcel and returns the parcels section of the popup: its text and owner cell. */
async function identifyParcel(page) {
  const [lon, lat] = inside(parcel);
  const box = await page.locator('#map canvas').boundingBox();
  const p = await page.evaluate((c) => window.bandoMap.project(c), [lon, lat]);
  const answered = page.waitForResponse((r) => r.url().includes('/query/identify?'));
  await page.mouse.click(box.x + p.x, box.y + p.y);
  assert.equal((await answered).status(), 200);
  const section = page.locator('.maplibregl-popup .identify section.feature[data-layer="parcels"]');
  await section.waitFor({ timeout: 15_000 });
  const owner = section.locator('tr[data-key="owner_name"] td');
  return {
    text: await section.innerText(),
    owner: (await owner.count()) ? await owner.innerText() : null,
  };
}

test('every HTML page shows the development issuer banner; /auth/config names the issuer', async () => {
  const config = await (await fetch(`${bando.url}/auth/config`)).json();
  assert.deepEqual(config, { enabled: true, issuer: `${bando.url}/dev-auth`, client_id: 'bando', development: true });
  for (const path of ['/', '/?lang=en', '/map', '/api.html', '/collections?f=html', '/collections/parcels/items?f=html&limit=1']) {
    const response = await fetch(`${bando.url}${path}`, { headers: { accept: 'text/html' } });
    assert.equal(response.status, 200, path);
    const html = await response.text();
    assert.ok(html.includes(BANNER_VI) && html.includes(BANNER_EN), `${path} has no banner`);
    assert.equal(html.split('id="dev-issuer-banner"').length, 2, `${path}: one banner`);
  }
  // JSON stays JSON.
  const collections = await fetch(`${bando.url}/collections`, { headers: { accept: 'application/json' } });
  assert.ok(!(await collections.text()).includes(BANNER_VI));
});

test('a land officer signs in with PKCE, sees owner names, signs out and no longer sees them', async () => {
  const [lon, lat] = inside(parcel);
  const owner = parcel.properties.TENCHU.normalize('NFC');
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const requests = [];
  const errors = [];
  const bad = [];
  page.on('request', (r) => requests.push({ url: r.url(), auth: r.headers().authorization ?? null }));
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('response', (r) => { if (r.status() >= 400) bad.push(`${r.status()} ${r.url()}`); });
  const view = `#map=18/${lat.toFixed(6)}/${lon.toFixed(6)}`;
  await page.goto(`${bando.url}/map${view}`);
  await ready(page);

  // Anonymous: the banner, a sign-in button, no owner name, no token sent.
  const banner = page.locator('#dev-issuer-banner');
  assert.ok(await banner.isVisible());
  assert.ok((await banner.innerText()).includes(BANNER_VI));
  assert.ok(await page.locator('#sign-in').isVisible());
  assert.equal(await page.locator('#sign-in').innerText(), 'Đăng nhập');
  assert.equal(await page.locator('#sign-out').isVisible(), false);
  const anonymous = await identifyParcel(page);
  assert.equal(anonymous.owner, null);
  assert.ok(!anonymous.text.normalize('NFC').includes(owner), 'owner shown to an anonymous visitor');
  assert.ok(requests.every((r) => r.auth === null), 'a token was sent before sign-in');

  // Sign in through the development issuer's own login form.
  const shownView = new URL(page.url()).hash;
  assert.match(shownView, /^#map=18/);
  await Promise.all([page.waitForURL(/\/dev-auth\/authorize\?/), page.click('#sign-in')]);
  const authorize = new URL(page.url());
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  assert.match(authorize.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(authorize.searchParams.get('client_id'), 'bando');
  assert.equal(authorize.searchParams.get('redirect_uri'), `${bando.url}/map`);
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/map'),
    page.click('button[name="username"][value="can_bo_dia_chinh"]'),
  ]);
  await ready(page);
  // The redirect's code and state are gone from the address bar; the view came back.
  const back = new URL(page.url());
  assert.equal(back.search, '', `query left in the address bar: ${page.url()}`);
  assert.equal(back.hash, shownView);
  assert.equal(await page.locator('#account-name').getAttribute('data-username'), 'can_bo_dia_chinh');
  assert.ok((await page.locator('#account-name').innerText()).includes('Cán bộ địa chính'));
  assert.ok(await page.locator('#sign-out').isVisible());
  assert.equal(await page.locator('#sign-in').isVisible(), false);
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('bando.session')).accessToken);
  assert.match(token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  assert.ok(!stored.includes(token.split('.')[2]), 'the token is in localStorage');

  const signedIn = await identifyParcel(page);
  assert.equal(signedIn.owner?.normalize('NFC'), owner);
  await page.screenshot({ path: join(resultsDir, 'map-signed-in.png') });
  const withToken = requests.filter((r) => r.auth === `Bearer ${token}`);
  assert.ok(withToken.some((r) => r.url.includes('/query/identify?')), 'identify without the token');
  assert.ok(withToken.some((r) => /\/tiles\/[^?]*\/\d+\/\d+\/\d+\.(mvt|pbf)/.test(r.url)), 'tiles without the token');
  assert.ok(withToken.some((r) => r.url.includes('/collections/communes/items')), 'search without the token');
  assert.ok(requests.every((r) => !r.url.includes(token)), 'the token went into a URL');
  const origin = new URL(bando.url).origin;
  assert.ok(requests.every((r) => r.auth === null || r.url.startsWith(`${origin}/`)), 'the token went to another host');

  // The interface follows the language toggle.
  await page.click('#lang-toggle');
  assert.equal(await page.locator('#sign-out').innerText(), 'Sign out');

  // Sign out: the token is forgotten and owner names are gone.
  await Promise.all([page.waitForEvent('load'), page.click('#sign-out')]);
  await ready(page);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('bando.session')), null);
  assert.ok(await page.locator('#sign-in').isVisible());
  assert.equal(await page.locator('#sign-in').innerText(), 'Sign in');
  assert.equal(await page.locator('#account-name').isVisible(), false);
  const since = requests.length;
  const signedOut = await identifyParcel(page);
  assert.equal(signedOut.owner, null);
  assert.ok(!signedOut.text.normalize('NFC').includes(owner), 'owner shown after sign-out');
  assert.ok(requests.slice(since).every((r) => r.auth === null), 'a token was sent after sign-out');

  assert.deepEqual(errors, [], 'script errors');
  assert.deepEqual(bad, [], 'error responses');
  assert.deepEqual(await page.evaluate(() => window.bando.errors()), [], 'errors reported by the map');
  await page.close();
});

// The landing page, rendered in headless Chromium, lists the layers read from the running
// database — Vietnamese first, English on the toggle.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startBando, launchBrowser, resultsDir } from './harness.mjs';

let bando;
let browser;

before(async () => {
  bando = await startBando();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await bando?.stop();
});

test('landing page lists the registered layers with their feature counts', async () => {
  const page = await browser.newPage();
  const response = await page.goto(bando.url + '/');
  assert.equal(response.status(), 200);
  assert.equal(await page.getAttribute('html', 'lang'), 'vi');
  const row = page.locator('tr[data-layer="communes"]');
  assert.equal(await row.count(), 1);
  assert.equal((await row.locator('td.count').innerText()).trim(), '12');
  assert.equal((await row.locator('td.title').innerText()).trim(), 'Ranh giới xã, phường');
  // Text is NFC, as stored.
  const heading = await page.locator('h1').innerText();
  assert.equal(heading, heading.normalize('NFC'));
  await page.screenshot({ path: join(resultsDir, 'landing-vi.png'), fullPage: true });

  await page.click('#lang-toggle');
  await page.waitForURL(/lang=en/);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal((await page.locator('tr[data-layer="communes"] td.title').innerText()).trim(), 'Commune boundaries');
  await page.close();
});

test('landing page links the map and every service, and each link answers', async () => {
  const page = await browser.newPage();
  const expected = ['/map', '/collections?f=html', '/conformance?f=html', '/api.html', '/api',
    '/tiles?f=html', '/tileMatrixSets', '/styles'];
  for (const [lang, mapLabel] of [['vi', 'Bản đồ quy hoạch'], ['en', "Planners' map"]]) {
    const response = await page.goto(`${bando.url}/?lang=${lang}`);
    assert.equal(response.status(), 200);
    assert.equal((await page.locator('a[data-link="map"]').innerText()).trim(), mapLabel);
    const hrefs = await page.$$eval('a[href]', (as) => as.map((a) => a.getAttribute('href')));
    for (const path of expected) assert.ok(hrefs.includes(path), `${lang}: no link to ${path}`);
    for (const href of hrefs.filter((h) => h.startsWith('/'))) {
      // Resolved against the page: the same server that served it.
      const url = new URL(href, page.url());
      assert.equal(url.origin, new URL(bando.url).origin);
      const answer = await page.request.get(url.href);
      assert.equal(answer.status(), 200, `${lang}: ${href} answered ${answer.status()}`);
      assert.ok((await answer.body()).length > 0, `${href} is empty`);
    }
  }
  // The map link opens the planners' map.
  await page.goto(bando.url + '/');
  const [nav] = await Promise.all([page.waitForNavigation(), page.click('a[data-link="map"]')]);
  assert.equal(nav.status(), 200);
  assert.equal(new URL(page.url()).pathname, '/map');
  assert.match(nav.headers()['content-type'], /text\/html/);
  await page.close();
});

test('an unknown address answers problem JSON, not an HTML error page', async () => {
  const page = await browser.newPage();
  const response = await page.goto(bando.url + '/khong-co');
  assert.equal(response.status(), 404);
  assert.match(response.headers()['content-type'], /application\/problem\+json/);
  const problem = JSON.parse(await response.text());
  assert.equal(problem.status, 404);
  await page.close();
});

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

test('an unknown address answers problem JSON, not an HTML error page', async () => {
  const page = await browser.newPage();
  const response = await page.goto(bando.url + '/khong-co');
  assert.equal(response.status(), 404);
  assert.match(response.headers()['content-type'], /application\/problem\+json/);
  const problem = JSON.parse(await response.text());
  assert.equal(problem.status, 404);
  await page.close();
});

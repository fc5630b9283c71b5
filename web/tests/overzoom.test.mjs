// Tiles are published up to each seeded layer's seed zoom (TileJSON maxzoom 16, issue 17) and
// MapLibre overzooms them beyond it: in headless Chromium at z18 over the sample parcels, no
// tile deeper than z16 is asked for, and every parcel the features API finds in view is drawn.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBando, launchBrowser, resultsDir } from './harness.mjs';

let bando;
let browser;

before(async () => {
  bando = await startBando({
    parcels: 600,
    imports: [
      ['communes.gpkg', 'communes'],
      ['parcels_binhphuoc.shp', 'parcels'],
    ],
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await bando?.stop();
});

test('at z18 the map overzooms the z16 parcel tiles and still draws every parcel in view', async () => {
  const tilejson = await (await fetch(`${bando.url}/tiles/parcels.json`)).json();
  assert.equal(tilejson.maxzoom, 16, 'parcels are published to their seed zoom');

  // The view: z18 centred on the first sample parcel's vertex mean.
  const parcel = JSON.parse(readFileSync(join(bando.sample, 'parcels_sample.geojson'), 'utf8')).features[0];
  const polygon = parcel.geometry.type === 'MultiPolygon' ? parcel.geometry.coordinates[0] : parcel.geometry.coordinates;
  const ring = polygon[0].slice(0, -1);
  const [lon, lat] = [0, 1].map((i) => ring.reduce((s, c) => s + c[i], 0) / ring.length);

  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  const tiles = [];
  const errors = [];
  page.on('request', (r) => {
    const m = new URL(r.url()).pathname.match(/^\/tiles\/[^/]+\/(\d+)\/\d+\/\d+\.(mvt|pbf)$/);
    if (m) tiles.push({ url: r.url(), z: Number(m[1]) });
  });
  page.on('pageerror', (e) => errors.push(e.message));
  const response = await page.goto(`${bando.url}/map#map=18/${lat}/${lon}&layers=parcels,communes`);
  assert.equal(response.status(), 200);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60_000 });
  await page.waitForFunction(() => {
    const map = window.bandoMap;
    return map && map.loaded() && map.areTilesLoaded() && !map.isMoving();
  }, null, { timeout: 60_000, polling: 100 });
  assert.equal(Math.round(await page.evaluate(() => window.bandoMap.getZoom())), 18);
  await page.screenshot({ path: join(resultsDir, 'overzoom-z18.png') });

  // Only tiles up to z16 were fetched, the z16 ones among them.
  assert.ok(tiles.length > 0, 'no tile was requested');
  assert.deepEqual(tiles.filter((t) => t.z > 16).map((t) => t.url), [], 'tiles beyond the seed zoom');
  assert.ok(tiles.some((t) => t.z === 16), `no z16 tile: ${tiles.map((t) => t.url).join(' ')}`);

  // Every parcel in (slightly less than) the view, as the features API finds it, is drawn.
  const drawn = new Set(await page.evaluate(() => window.bandoMap.queryRenderedFeatures()
    .filter((f) => f.layer.metadata?.['bando:layer'] === 'parcels').map((f) => String(f.id))));
  const [w, s, e, n] = await page.evaluate(() => {
    const b = window.bandoMap.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
  });
  const inset = [(e - w) * 0.05, (n - s) * 0.05];
  const bbox = [w + inset[0], s + inset[1], e - inset[0], n - inset[1]].join(',');
  const items = await (await fetch(`${bando.url}/collections/parcels/items?bbox=${bbox}&limit=1000`)).json();
  const inView = items.features.map((f) => String(f.id));
  assert.ok(inView.length > 0, `no parcel in view ${bbox}`);
  assert.deepEqual(inView.filter((id) => !drawn.has(id)), [], `parcels in view not drawn (drawn: ${[...drawn].join(',')})`);
  assert.deepEqual(errors, [], 'script errors');
  await page.close();
});

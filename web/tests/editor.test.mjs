// The parcel editor `/editor` (issue 11) against a real bando with its development issuer: a land
// officer signs in through the issuer's real login form, finds a parcel by commune/sheet/number,
// drags a vertex with terra-draw (undo, redo), saves with a reason and a decision — the server's
// own GET and /versions show it —, meets a conflict when the parcel was changed behind the
// page's back (both versions shown, re-apply, save), and is refused an overlap (422: the reason
// shown, the part drawn; the dragged vertex snapped exactly onto the neighbour's). The land
// officer splits a parcel with a line drawn in terra-draw's linestring mode (two children with
// the sheet's next free numbers), merges them back (one child, the next number) and reads the
// lineage tree; the page snaps as far as the server's `/land/config` says. A planner and an
// anonymous visitor see no edit control, and the API answers them 403 and 401.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startBando, launchBrowser, freePort, resultsDir } from './harness.mjs';
import { snapPoint } from '../editor/snap.mjs';

let bando;
let browser;
/** The parcel edited: `{ id, commune, sheet, number, ring }` as the server has it. */
let target;

const REASON = 'Đo đạc lại ranh thửa theo hiện trạng';
const DOCUMENT = 'Quyết định 12/QĐ-UBND ngày 01/12/2026';

before(async () => {
  const port = await freePort();
  bando = await startBando({
    parcels: 600,
    imports: [['communes.gpkg', 'communes'], ['parcels_binhphuoc.shp', 'parcels']],
    env: { BANDO_AUTH_DEV_ISSUER: 'true' },
    port,
  });
  browser = await launchBrowser();
  // A lot (not a road) of a commune of the land officer, with a single-part, hole-free shape.
  const items = await (await fetch(`${bando.url}/collections/parcels/items?commune_code=25195&limit=200`)).json();
  const lot = items.features.find((f) => f.properties.land_use_code !== 'DGT' &&
    f.geometry.type === 'MultiPolygon' && f.geometry.coordinates.length === 1 && f.geometry.coordinates[0].length === 1);
  assert.ok(lot, 'a lot in commune 25195');
  target = {
    id: lot.id, commune: lot.properties.commune_code, sheet: lot.properties.sheet_number,
    number: lot.properties.parcel_number, ring: lot.geometry.coordinates[0][0],
  };
});

after(async () => {
  await browser?.close();
  await bando?.stop();
});

/** A page that records script errors and error answers (some are expected: `allowed`). */
async function openPage() {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  const bad = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('response', (r) => { if (r.status() >= 400) bad.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`); });
  return { page, errors, bad };
}

async function ready(page) {
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'true',
    `the editor did not start: ${await page.locator('#status').innerText()}`);
}

async function signIn(page, username) {
  await page.goto(`${bando.url}/editor`);
  await ready(page);
  await Promise.all([page.waitForURL(/\/dev-auth\/authorize\?/), page.click('#sign-in')]);
  assert.equal(new URL(page.url()).searchParams.get('redirect_uri'), `${bando.url}/editor`);
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/editor'),
    page.click(`button[name="username"][value="${username}"]`),
  ]);
  await ready(page);
  assert.equal(await page.locator('#account-name').getAttribute('data-username'), username);
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('bando.session')).accessToken);
}

/** Finds parcel `p` (`{ id, commune, sheet, number }`) through the search form and waits for it. */
async function findParcel(page, p) {
  await page.fill('#search-commune', p.commune);
  await page.fill('#search-sheet', String(p.sheet));
  await page.fill('#search-number', String(p.number));
  await page.click('#search button[type="submit"]');
  await page.waitForFunction((id) => document.body.dataset.parcel === String(id), p.id, { timeout: 20_000 });
  const title = await page.locator('#parcel-title').innerText();
  assert.ok(title.includes(`Thửa ${p.number}`) && title.includes(`tờ ${p.sheet}`), title);
  await page.evaluate(() => new Promise((ok) => {
    const map = window.bandoMap;
    if (!map.isMoving()) ok(); else map.once('moveend', ok);
  }));
}

/** Finds the target parcel through the search form and waits for it to be shown. */
const findTarget = (page) => findParcel(page, target);

/** The parcel's outer ring as the server has it now, and its entity tag. */
async function serverParcel(token) {
  const response = await fetch(`${bando.url}/collections/parcels/items/${target.id}`, {
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/geo+json' },
  });
  assert.equal(response.status, 200);
  const feature = await response.json();
  return { feature, ring: feature.geometry.coordinates[0][0], etag: response.headers.get('etag') };
}

/** Drags from lng/lat `from` to screen pixel `to` (relative to the map) in small steps. */
async function drag(page, from, to) {
  const box = await page.locator('#map canvas').boundingBox();
  const p = await page.evaluate((c) => window.bandoMap.project(c), from);
  await page.mouse.move(box.x + p.x, box.y + p.y);
  await page.mouse.down();
  const steps = 12;
  for (let i = 1; i <= steps; i += 1) {
    await page.mouse.move(box.x + p.x + ((to.x - p.x) * i) / steps, box.y + p.y + ((to.y - p.y) * i) / steps);
  }
  await page.mouse.up();
  await page.waitForFunction(() => document.body.dataset.dirty === 'true', null, { timeout: 5_000 });
}

/**
 * What the page adds after a split or a merge: the vertices snapped, then the neighbours given
 * the children's vertices lying on their edges (the answer's `snapped.neighbours`).
 */
const snappedNote = (answer) => {
  const n = answer.snapped?.features?.length ?? 0;
  const shared = (answer.snapped?.neighbours ?? []).map((s) => s.parcel_number);
  return (n ? ` Máy chủ đã bắt dính ${n} đỉnh vào ranh thửa bên cạnh.` : '') +
    (shared.length ? ` Đã thêm đỉnh chung vào thửa ${shared.join(', ')} (hình dạng không đổi).` : '');
};
const editedRing = (page) => page.evaluate(() => window.bandoEditor.draw.geometry().coordinates[0]);
const near = (a, b, tol = 2e-6) => Math.abs(a[0] - b[0]) <= tol && Math.abs(a[1] - b[1]) <= tol;
const ringHas = (ring, c, tol) => ring.some((v) => near(v, c, tol));

/** The vertex of `ring` farthest from its other vertices (its handle is easy to grab). */
function loneVertex(ring) {
  const open = ring.slice(0, -1);
  let best = 0; let bestGap = -1;
  open.forEach((v, i) => {
    const gap = Math.min(...open.filter((_, j) => j !== i).map((w) => Math.hypot(v[0] - w[0], v[1] - w[1])));
    if (gap > bestGap) { bestGap = gap; best = i; }
  });
  return open[best];
}

function centroid(ring) {
  const open = ring.slice(0, -1);
  return [open.reduce((s, c) => s + c[0], 0) / open.length, open.reduce((s, c) => s + c[1], 0) / open.length];
}

test('snapping prefers a neighbour vertex, then the nearest point of an edge, within the tolerance', () => {
  const project = ([x, y]) => ({ x, y }); // screen = lng/lat here
  const rings = [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]];
  assert.deepEqual(snapPoint({ x: 9, y: 1 }, rings, project, 3), [10, 0]);
  assert.deepEqual(snapPoint({ x: 5, y: 1 }, rings, project, 3), [5, 0]);
  assert.equal(snapPoint({ x: 5, y: 5 }, rings, project, 3), null);
});

test('a land officer finds a parcel, moves a vertex, undoes and redoes, saves; conflict; overlap refused', async () => {
  const { page, errors, bad } = await openPage();
  const token = await signIn(page, 'can_bo_dia_chinh');
  assert.equal(await page.evaluate(() => document.body.dataset.canEdit), 'true');
  await findTarget(page);
  assert.ok(await page.locator('#edit-tools').isVisible());
  assert.ok(await page.locator('#save').isVisible());
  assert.equal(await page.locator('#read-only').isVisible(), false);
  assert.equal(await page.locator('#attributes input[name="place_name"]').isEnabled(), true);
  const original = await editedRing(page);
  assert.equal(original.length, target.ring.length);

  // Move a vertex 35 % of the way to the centre.
  const vertex = loneVertex(target.ring);
  const centre = centroid(target.ring);
  const to = await page.evaluate(([v, c]) => {
    const a = window.bandoMap.project(v); const b = window.bandoMap.project(c);
    return { x: a.x + 0.35 * (b.x - a.x), y: a.y + 0.35 * (b.y - a.y) };
  }, [vertex, centre]);
  const expected = await page.evaluate((p) => window.bandoMap.unproject([p.x, p.y]).toArray(), to);
  await drag(page, vertex, to);
  const moved = await editedRing(page);
  assert.ok(ringHas(moved, expected, 1e-6), `the vertex is not where it was dropped: ${JSON.stringify(expected)}`);
  assert.ok(!ringHas(moved, vertex, 1e-7), 'the old vertex is still there');
  assert.ok(await page.locator('#dirty').isVisible());

  // Undo brings the original back; redo the move.
  await page.click('#undo');
  assert.deepEqual(await editedRing(page), original);
  assert.equal(await page.locator('#dirty').isVisible(), false);
  await page.click('#redo');
  assert.deepEqual(await editedRing(page), moved);

  // Reason and decision are required.
  await page.click('#save-button');
  assert.equal(await page.locator('#save-status').getAttribute('data-outcome'), '', 'saved without a reason');
  assert.equal(await page.locator('#save-reason:invalid').count(), 1);
  await page.fill('#save-reason', REASON);
  await page.fill('#save-document', DOCUMENT);
  const before = await serverParcel(token);
  await page.click('#save-button');
  await page.waitForFunction(() => document.querySelector('#save-status').dataset.outcome !== 'saving', null, { timeout: 20_000 });
  assert.equal(await page.locator('#save-status').getAttribute('data-outcome'), 'saved', await page.locator('#save-status').innerText());
  const saved = await serverParcel(token);
  assert.notEqual(saved.etag, before.etag);
  assert.ok(ringHas(saved.ring, expected, 1e-6), 'the server does not have the moved vertex');
  assert.ok(!ringHas(saved.ring, vertex, 1e-7), 'the server still has the old vertex');
  assert.equal(await page.evaluate(() => document.body.dataset.etag), saved.etag);
  const versions = await (await fetch(`${bando.url}/collections/parcels/items/${target.id}/versions`)).json();
  const last = versions.features.map((f) => f.version).find((v) => v.reason === REASON);
  assert.ok(last, `no version with the reason: ${JSON.stringify(versions.features.map((f) => f.version))}`);
  assert.equal(last.document, DOCUMENT);
  assert.equal(last.editor, 'can_bo_dia_chinh');
  // The history in the page lists it.
  await page.click('#show-history');
  await page.locator('#history-table tbody tr').first().waitFor();
  assert.ok((await page.locator('#history-table').innerText()).includes(REASON));
  // The time slider: on the first version (as delivered) the neighbourhood is drawn from the
  // tiles as of when it began (?datetime=), where the parcel still has its old vertex; on the
  // present version they are hidden.
  const first = versions.features[0].version;
  const pastTile = page.waitForResponse((r) => r.url().includes('/tiles/parcels/') && r.url().includes('datetime='), { timeout: 20_000 });
  await page.locator('#history-slider').evaluate((s) => { s.value = '0'; s.dispatchEvent(new Event('input')); });
  const answer = await pastTile;
  assert.equal(answer.status(), 200, `${answer.url()}: ${answer.status()}`);
  assert.equal(new URL(answer.url()).searchParams.get('datetime'), first.begin_lifespan);
  await page.waitForFunction(() => window.bandoMap.isSourceLoaded('editor-past'), null, { timeout: 20_000 });
  const pastRings = await page.evaluate((id) => window.bandoMap.querySourceFeatures('editor-past', { sourceLayer: 'parcels' })
    .filter((f) => f.id === id)
    .flatMap((f) => (f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates).flat()), target.id);
  assert.ok(pastRings.length > 0, 'the parcel is not in the tiles of then');
  assert.ok(pastRings.some((r) => ringHas(r, vertex, 2e-6)), 'the tiles of then lack the old vertex');
  assert.ok(!pastRings.some((r) => ringHas(r, expected, 2e-6)), 'the tiles of then have the new vertex');
  assert.equal(await page.evaluate(() => window.bandoMap.getLayoutProperty('editor-past-line', 'visibility')), 'visible');
  await page.locator('#history-slider').evaluate((s) => { s.value = s.max; s.dispatchEvent(new Event('input')); });
  assert.equal(await page.evaluate(() => window.bandoMap.getLayoutProperty('editor-past-line', 'visibility')), 'none');

  // Someone else changes the place name behind the page's back.
  const theirs = await fetch(`${bando.url}/collections/parcels/items/${target.id}`, {
    method: 'PATCH',
    headers: {
      Authorization: `Bearer ${token}`, 'If-Match': saved.etag, 'Content-Type': 'application/merge-patch+json',
      'Edit-Reason': encodeURIComponent('Sửa địa danh'), 'Edit-Document': encodeURIComponent('Công văn 5/UBND'),
    },
    body: JSON.stringify({ properties: { place_name: 'Ấp Bàu Sen' } }),
  });
  assert.equal(theirs.status, 204, await theirs.text());
  // The page, still on the old version, changes the land-use code and saves: conflict.
  const newCode = saved.feature.properties.land_use_code === 'LUC' ? 'CLN' : 'LUC';
  const landUse = page.locator('#attributes input[name="land_use_code"]');
  await landUse.fill(newCode);
  await landUse.dispatchEvent('change');
  assert.ok(await page.locator('#dirty').isVisible());
  await page.click('#save-button');
  await page.waitForFunction(() => document.querySelector('#save-status').dataset.outcome !== 'saving', null, { timeout: 20_000 });
  assert.equal(await page.locator('#save-status').getAttribute('data-outcome'), 'conflict');
  const conflict = page.locator('#conflict');
  assert.ok(await conflict.isVisible());
  assert.ok((await conflict.innerText()).includes('can_bo_dia_chinh'), 'the conflict does not say who changed it');
  const mineCell = conflict.locator('tr[data-key="land_use_code"] td').nth(0);
  const theirsPlace = conflict.locator('tr[data-key="place_name"] td').nth(1);
  assert.equal(await mineCell.innerText(), newCode);
  assert.equal((await theirsPlace.innerText()).normalize('NFC'), 'Ấp Bàu Sen');
  assert.ok(await page.locator('#conflict-reload').isVisible());
  await page.screenshot({ path: join(resultsDir, 'editor-conflict.png') });
  // Re-apply my change on theirs, then save: both changes are kept.
  await page.click('#conflict-reapply');
  assert.equal(await conflict.isVisible(), false);
  await page.click('#save-button');
  await page.waitForFunction(() => document.querySelector('#save-status').dataset.outcome !== 'saving', null, { timeout: 20_000 });
  assert.equal(await page.locator('#save-status').getAttribute('data-outcome'), 'saved', await page.locator('#save-status').innerText());
  const merged = await serverParcel(token);
  assert.equal(merged.feature.properties.land_use_code, newCode);
  assert.equal(merged.feature.properties.place_name.normalize('NFC'), 'Ấp Bàu Sen');

  // Overlap: drag a vertex to 4 px of a neighbour's vertex lying beyond it; it snaps onto that
  // vertex exactly, and the server refuses the overlap with its reason and the part.
  const neighbours = (await (await fetch(`${bando.url}/collections/parcels/items?commune_code=25195&limit=1000`)).json())
    .features.filter((f) => f.id !== target.id);
  const ring = merged.ring;
  const c = centroid(ring);
  let best = null;
  for (const v of ring.slice(0, -1)) {
    const out = [v[0] - c[0], v[1] - c[1]];
    for (const f of neighbours) {
      for (const t of f.geometry.coordinates.flat(1).flat(1)) {
        // Not a vertex of the parcel, now or before the first move (that spot is a gap now).
        if (ringHas(ring, t, 1e-9) || ringHas(target.ring, t, 1e-9)) continue;
        const d = [t[0] - v[0], t[1] - v[1]];
        const len = Math.hypot(...d);
        const cos = (d[0] * out[0] + d[1] * out[1]) / (len * Math.hypot(...out));
        if (cos > 0.95 && len < Math.hypot(...out) && (!best || len < best.len)) best = { v, t, len };
      }
    }
  }
  assert.ok(best, 'a neighbour vertex straight out from one of the parcel\'s vertices');
  const drop = await page.evaluate((t) => { const p = window.bandoMap.project(t); return { x: p.x + 3, y: p.y - 2 }; }, best.t);
  await drag(page, best.v, drop);
  const snapped = await editedRing(page);
  assert.ok(snapped.some((p) => p[0] === Math.round(best.t[0] * 1e9) / 1e9 && p[1] === Math.round(best.t[1] * 1e9) / 1e9),
    `the vertex did not snap onto the neighbour's ${JSON.stringify(best.t)}`);
  await page.click('#save-button');
  await page.waitForFunction(() => document.querySelector('#save-status').dataset.outcome !== 'saving', null, { timeout: 20_000 });
  assert.equal(await page.locator('#save-status').getAttribute('data-outcome'), 'rule');
  assert.ok(await page.locator('#rule').isVisible());
  assert.match(await page.locator('#rule .detail').innerText(), /overlaps parcel \d+ of sheet \d+ by [\d.]+ m²/);
  const part = await page.evaluate(() => window.bandoMap.getSource('editor-part').serialize().data.features.length);
  assert.equal(part, 1, 'the offending part is not drawn');
  await page.screenshot({ path: join(resultsDir, 'editor-overlap.png') });
  const refused = await serverParcel(token);
  assert.equal(refused.etag, merged.etag, 'a refused write changed the parcel');

  // English on the toggle.
  await page.click('#lang-toggle');
  assert.equal(await page.locator('#save-button').innerText(), 'Save changes');

  assert.deepEqual(errors, [], 'script errors');
  // The only error answers are the ones this walk provokes.
  assert.deepEqual(bad.filter((b) => !/^(412 PATCH|422 PATCH) \/collections\/parcels\/items\/\d+$/.test(b)), [], 'unexpected error answers');
  assert.ok(bad.some((b) => b.startsWith('412 PATCH')) && bad.some((b) => b.startsWith('422 PATCH')));
  await page.close();
});

test('a land officer splits a parcel along a drawn line, merges the parts back and reads the lineage', async () => {
  const { page, errors, bad } = await openPage();
  const token = await signIn(page, 'can_bo_dia_chinh');
  // The server's snapping tolerance, shown and used by the page.
  const config = await (await fetch(`${bando.url}/land/config`)).json();
  assert.equal(config.snap_tolerance_m, 0.05);
  // Another lot of the commune, not the one the walk above edits.
  const items = await (await fetch(`${bando.url}/collections/parcels/items?commune_code=25195&limit=200`)).json();
  const lot = items.features.find((f) => f.id !== target.id && f.properties.land_use_code !== 'DGT' &&
    f.geometry.type === 'MultiPolygon' && f.geometry.coordinates.length === 1 && f.geometry.coordinates[0].length === 1);
  assert.ok(lot, 'a second lot in commune 25195');
  const parent = { id: lot.id, commune: lot.properties.commune_code, sheet: lot.properties.sheet_number, number: lot.properties.parcel_number };
  const sheet = await (await fetch(`${bando.url}/collections/parcels/items?commune_code=${parent.commune}&sheet_number=${parent.sheet}&limit=10000`)).json();
  assert.ok(sheet.features.length > 1 && sheet.features.every((f) => f.properties.sheet_number === parent.sheet));
  const highest = Math.max(...sheet.features.map((f) => f.properties.parcel_number));

  await findParcel(page, parent);
  assert.match(await page.locator('#snap-hint').innerText(), /0,05 m/);
  // The hand reaches further than 5 cm on screen: the page snaps within 12 px at this zoom.
  assert.equal(await page.evaluate(() => window.bandoEditor.draw.snapPixels()), 12);
  await page.fill('#save-reason', 'Tách thửa theo hồ sơ chuyển nhượng');
  await page.fill('#save-document', DOCUMENT);

  // Split: a west–east line through the middle, drawn in terra-draw's linestring mode (a click,
  // then a double-click ends it).
  await page.click('#split');
  await page.waitForFunction(() => window.bandoEditor.draw.terraDraw.getMode() === 'linestring');
  assert.equal(await page.locator('#land-status').innerText(), 'Vẽ đường cắt: nhấp các điểm, nhấp đúp để kết thúc.');
  const ring = lot.geometry.coordinates[0][0];
  const xs = ring.map((c) => c[0]);
  const [west, east] = [Math.min(...xs), Math.max(...xs)];
  const [, middle] = centroid(ring);
  // 40 px beyond the parcel's sides (the map shows it with 80 px around it).
  const box = await page.locator('#map canvas').boundingBox();
  const screen = (c) => page.evaluate((p) => window.bandoMap.project(p), c);
  const a = await screen([west, middle]);
  const b = await screen([east, middle]);
  a.x -= 40;
  b.x += 40;
  assert.ok(a.x > 0 && b.x < box.width, `the parcel is in view: ${JSON.stringify([a, b, box])}`);
  const splitAnswer = page.waitForResponse((r) => r.url().endsWith(`/land/parcels/${parent.id}/split`), { timeout: 20_000 });
  await page.mouse.click(box.x + a.x, box.y + a.y);
  await page.mouse.move(box.x + (a.x + b.x) / 2, box.y + (a.y + b.y) / 2);
  await page.mouse.dblclick(box.x + b.x, box.y + b.y);
  const answered = await splitAnswer;
  assert.equal(answered.status(), 201, await answered.text());
  const split = await answered.json();
  assert.equal(split.operation, 'split');
  assert.deepEqual(split.parents, [parent.id]);
  const parts = split.children.map((c) => c.parcel_number);
  assert.ok(parts.length >= 2, JSON.stringify(split));
  assert.deepEqual(parts, parts.map((_, i) => highest + 1 + i), `the next free numbers after ${highest}`);
  // The line the page sent runs where it was drawn (west of the parcel to east of it).
  const sent = JSON.parse(answered.request().postData()).line;
  assert.equal(sent.type, 'LineString');
  assert.ok(sent.coordinates[0][0] < west && sent.coordinates.at(-1)[0] > east, JSON.stringify(sent));
  // The page shows the first child and says what was made.
  await page.waitForFunction((id) => document.body.dataset.parcel === String(id), split.children[0].id, { timeout: 20_000 });
  await page.waitForFunction(() => document.querySelector('#land-status').textContent !== '', null, { timeout: 10_000 });
  assert.equal(await page.locator('#land-status').innerText(), `Đã tách thành thửa ${parts.join(', ')}.${snappedNote(split)}`);
  assert.equal((await fetch(`${bando.url}/collections/parcels/items/${parent.id}`)).status, 404, 'the parent lives on');
  assert.ok(split.children.every((c) => c.area_m2 > 0), JSON.stringify(split.children));

  // Merge the first two children back: both on the list (picking the second keeps it), then
  // one child with the next number.
  await page.click('#merge-add');
  const second = split.children[1];
  await findParcel(page, { id: second.id, commune: parent.commune, sheet: parent.sheet, number: second.parcel_number });
  await page.click('#merge-add');
  assert.deepEqual(await page.locator('#merge-list li').evaluateAll((l) => l.map((e) => Number(e.dataset.id))),
    [split.children[0].id, second.id]);
  assert.equal(await page.locator('#merge').isEnabled(), true);
  const mergeAnswer = page.waitForResponse((r) => r.url().endsWith('/land/parcels/merge'), { timeout: 20_000 });
  await page.click('#merge');
  const merged = await (await mergeAnswer).json();
  assert.equal(merged.operation, 'merge', JSON.stringify(merged));
  assert.deepEqual(merged.parents, [split.children[0].id, second.id]);
  const child = merged.children[0];
  assert.equal(child.parcel_number, highest + parts.length + 1, 'the next free number (the parts\' are retired)');
  await page.waitForFunction((id) => document.body.dataset.parcel === String(id), child.id, { timeout: 20_000 });
  await page.waitForFunction(() => document.querySelector('#land-status').textContent !== '', null, { timeout: 10_000 });
  assert.equal(await page.locator('#land-status').innerText(), `Đã hợp thành thửa ${child.parcel_number}.${snappedNote(merged)}`);
  assert.equal(await page.locator('#merge-list li').count(), 0);

  // The lineage: the merged parcel, its two parents, and theirs.
  await page.click('#lineage');
  await page.locator('#lineage-tree li').first().waitFor();
  const nodes = await page.locator('#lineage-tree li').evaluateAll((l) => l.map((e) => ({
    id: Number(e.dataset.id), relation: e.dataset.relation, depth: Number(e.dataset.depth), text: e.textContent,
  })));
  const of = (relation, depth) => nodes.filter((n) => n.relation === relation && n.depth === depth).map((n) => n.id).sort((x, y) => x - y);
  assert.deepEqual(of('self', 0), [child.id], JSON.stringify(nodes));
  assert.deepEqual(of('ancestor', 1), [split.children[0].id, second.id].sort((x, y) => x - y), JSON.stringify(nodes));
  assert.deepEqual(of('ancestor', 2), [parent.id], JSON.stringify(nodes));
  const root = nodes.find((n) => n.id === parent.id);
  assert.ok(root.text.startsWith(`Thửa gốc: thửa ${parent.number}, tờ ${parent.sheet} (tách)`) && root.text.endsWith('đã khép'), root.text);
  // As the server has it.
  const tree = await (await fetch(`${bando.url}/land/parcels/${child.id}/lineage`, { headers: { Authorization: `Bearer ${token}` } })).json();
  assert.deepEqual(tree.features.map((f) => f.id).sort((x, y) => x - y), nodes.map((n) => n.id).sort((x, y) => x - y));
  await page.screenshot({ path: join(resultsDir, 'editor-lineage.png') });

  assert.deepEqual(errors, [], 'script errors');
  assert.deepEqual(bad, [], 'error answers');
  await page.close();
});

/** Opens the target as a viewer who may not edit and checks no edit control shows. */
async function checkNoEditControls(page) {
  await findTarget(page);
  assert.equal(await page.evaluate(() => document.body.dataset.canEdit), 'false');
  for (const selector of ['#edit-tools', '#save', '#land-tools', '#undo', '#save-button', '#split', '#merge']) {
    assert.equal(await page.locator(selector).isVisible(), false, `${selector} is shown`);
  }
  assert.ok(await page.locator('#read-only').isVisible());
  const inputs = page.locator('#attributes input, #attributes select');
  assert.ok(await inputs.count() > 0);
  for (const input of await inputs.all()) assert.equal(await input.isEnabled(), false);
  assert.equal(await page.evaluate(() => window.bandoEditor.draw), null, 'terra-draw is on');
  // The parcel is outlined read-only.
  assert.equal(await page.evaluate(() => window.bandoMap.getSource('editor-parcel').serialize().data.features.length), 1);
  // The history is there to read.
  await page.click('#show-history');
  await page.locator('#history-table tbody tr').first().waitFor();
}

async function tryWrite(token) {
  const current = await fetch(`${bando.url}/collections/parcels/items/${target.id}`);
  const headers = {
    'If-Match': current.headers.get('etag'), 'Content-Type': 'application/merge-patch+json',
    'Edit-Reason': encodeURIComponent('thử'), 'Edit-Document': encodeURIComponent('không có'),
  };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${bando.url}/collections/parcels/items/${target.id}`, {
    method: 'PATCH', headers, body: JSON.stringify({ properties: { place_name: 'x' } }),
  });
  return response.status;
}

test('a planner sees no edit control and the API answers 403', async () => {
  const { page, errors, bad } = await openPage();
  const token = await signIn(page, 'chuyen_vien_quy_hoach');
  await checkNoEditControls(page);
  assert.equal(await tryWrite(token), 403);
  assert.deepEqual(errors, []);
  assert.deepEqual(bad, []);
  await page.close();
});

test('an anonymous visitor sees no edit control and the API answers 401', async () => {
  const { page, errors, bad } = await openPage();
  await page.goto(`${bando.url}/editor`);
  await ready(page);
  assert.ok(await page.locator('#sign-in').isVisible());
  assert.equal(await page.locator('h1').innerText(), 'Chỉnh lý thửa đất');
  await checkNoEditControls(page);
  assert.equal(await tryWrite(null), 401);
  assert.deepEqual(errors, []);
  assert.deepEqual(bad, []);
  await page.close();
});

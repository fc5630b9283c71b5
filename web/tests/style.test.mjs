// bando's MapLibre styles checked by MapLibre's own style validator, against a running bando:
// every URL points at this server (no request may leave a closed network), every source-layer is
// a registered layer with the registry's zoom range, and only public properties are styled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { validateStyleMin } from '@maplibre/maplibre-gl-style-spec';
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

async function json(url) {
  const response = await fetch(url);
  assert.equal(response.status, 200, url);
  return response.json();
}

function assertLocal(url) {
  assert.ok(url.startsWith(bando.url + '/'), `${url} is not on ${bando.url}`);
}

/** Property names an expression reads with ["get", name]. */
function gets(value, out = new Set()) {
  if (Array.isArray(value)) {
    if (value[0] === 'get' && typeof value[1] === 'string') out.add(value[1]);
    value.forEach((v) => gets(v, out));
  } else if (value && typeof value === 'object') {
    Object.values(value).forEach((v) => gets(v, out));
  }
  return out;
}

test('every style is valid MapLibre and points only at this server and its registry', async () => {
  const styles = await json(bando.url + '/styles');
  assert.deepEqual(styles.map((s) => s.id).sort(), ['base', 'ioc', 'planning', 'public']);
  const registry = new Map((await json(bando.url + '/layers')).map((l) => [l.id, l]));
  assert.ok(registry.size > 10);

  for (const entry of styles) {
    assertLocal(entry.url);
    assert.ok(entry.title_vi && entry.title_en);
    const style = await json(entry.url);
    const errors = validateStyleMin(style);
    assert.deepEqual(errors.map((e) => e.message), [], `${entry.id}: MapLibre rejects the style`);

    assertLocal(style.glyphs);
    assertLocal(style.sprite);
    // Sources: `bando` (cadastre, planning) and one per other sector, each a composite TileJSON.
    const fields = new Map();
    for (const [name, source] of Object.entries(style.sources)) {
      assert.match(name, /^bando(-[a-z]+)?$/);
      assertLocal(source.url);
      const tilejson = await json(source.url);
      for (const t of tilejson.tiles) assertLocal(t);
      for (const l of tilejson.vector_layers) fields.set(`${name}/${l.id}`, Object.keys(l.fields));
    }
    if (entry.id === 'public') assert.deepEqual(Object.keys(style.sources), ['bando']);
    if (entry.id === 'ioc') {
      // The operations centre's wall: the base map and the field devices, all drawn (it has no
      // layer tree to switch them on).
      const drawn = new Set(style.layers.map((l) => l['source-layer']));
      for (const l of ['communes', 'roads', 'cameras', 'traffic_lights', 'env_stations']) {
        assert.ok(drawn.has(l), `the IOC style draws ${l}`);
      }
      assert.ok(!drawn.has('parcels') && !drawn.has('planning_zones'), [...drawn].join());
      assert.ok(style.layers.every((l) => l.layout?.visibility !== 'none'), 'all visible');
    }

    // Glyphs the labels use, and the sprite, answer.
    const fonts = new Set(style.layers.flatMap((l) => l.layout?.['text-font'] ?? []));
    assert.ok(fonts.has('Noto Sans Regular'), [...fonts].join());
    for (const font of fonts) {
      const url = style.glyphs.replace('{fontstack}', encodeURIComponent(font)).replace('{range}', '7680-7935');
      const r = await fetch(url);
      assert.equal(r.status, 200, url);
      assert.equal(r.headers.get('content-type'), 'application/x-protobuf');
      assert.ok((await r.arrayBuffer()).byteLength > 10000, `${font}: Vietnamese glyphs`);
    }
    const sprite = await json(style.sprite + '.json');
    assert.equal((await fetch(style.sprite + '@2x.png')).status, 200);

    const ids = new Set();
    for (const layer of style.layers.slice(1)) {
      assert.ok(!ids.has(layer.id), `duplicate ${layer.id}`);
      ids.add(layer.id);
      const id = layer['source-layer'];
      const reg = registry.get(id);
      assert.ok(reg, `${layer.id}: ${id} is not a registered layer`);
      assert.equal(layer.metadata['bando:layer'], id);
      assert.equal(layer.metadata['bando:sector'], reg.sector);
      assert.equal(layer.metadata['bando:title_vi'], reg.title_vi);
      assert.match(layer.id, new RegExp(`^${id}-(fill|extrusion|line|circle|icon|label)$`));
      // maxzoom is exclusive in a style, inclusive in the registry.
      assert.equal(layer.maxzoom, reg.max_zoom + 1, layer.id);
      if (layer.id.endsWith('-label')) assert.ok(layer.minzoom >= reg.min_zoom, layer.id);
      else assert.equal(layer.minzoom, reg.min_zoom, layer.id);
      const served = fields.get(`${layer.source}/${id}`);
      assert.ok(served, `${layer.id}: source ${layer.source} does not serve ${id}`);
      for (const property of gets([layer.paint, layer.layout, layer.filter])) {
        assert.ok(served.includes(property), `${layer.id} styles on ${property}, not a public field`);
      }
      const icon = layer.layout?.['icon-image'];
      if (icon) assert.ok(sprite[icon], `${icon} missing from the sprite`);
    }
    assert.ok(!JSON.stringify(style).includes('owner_name'));
  }
});

test('MapLibre in Chromium draws each style with its Vietnamese labels and icons from this server only', async () => {
  for (const id of ['planning', 'public']) {
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    const requests = [];
    const bad = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('response', (r) => { if (r.status() >= 400) bad.push(`${r.status()} ${r.url()}`); });
    // An HTML page of this origin hosts the map (it carries the pages' Content-Security-Policy,
    // which lets MapLibre run; a JSON answer's policy allows nothing); MapLibre comes from
    // bando's vendored copy.
    await page.goto(bando.url + '/?f=html');
    await page.setContent(`<!doctype html><html><head>
      <link rel="stylesheet" href="/vendor/maplibre-gl/maplibre-gl.css"></head>
      <body style="margin:0"><div id="map" style="width:900px;height:700px"></div></body></html>`);
    const result = await page.evaluate(async (styleUrl) => {
      const maplibregl = await import('/vendor/maplibre-gl/maplibre-gl.mjs');
      const errors = [];
      const map = new maplibregl.Map({ container: 'map', style: styleUrl, center: [106.883, 11.535], zoom: 10.5 });
      map.on('error', (e) => errors.push(String(e.error?.message ?? e.error ?? e)));
      await new Promise((ok) => map.once('idle', ok));
      const labels = map.queryRenderedFeatures({ layers: ['communes-label'] })
        .map((f) => f.properties.legacy_name);
      return { errors, labels, hydrant: map.hasImage('hydrant') };
    }, `${bando.url}/styles/${id}.json`);
    await page.screenshot({ path: join(resultsDir, `style-${id}.png`) });
    await page.close();

    assert.deepEqual(result.errors, [], `${id}: map errors`);
    assert.deepEqual(bad, [], `${id}: failed requests`);
    assert.ok(result.labels.length > 0, `${id}: commune labels drawn`);
    // Vietnamese names need the Latin Extended Additional glyphs, which must have come from here.
    const vietnamese = result.labels.filter((name) => /[\u1e00-\u1eff]/.test(name));
    assert.ok(vietnamese.length > 0, `${id}: ${result.labels.join(', ')}`);
    assert.ok(requests.some((u) => u.includes('/fonts/Noto%20Sans%20Bold/7680-7935.pbf')), requests.join('\n'));
    assert.ok(result.hydrant, `${id}: sprite icons loaded`);
    for (const url of requests) {
      assert.ok(url.startsWith(bando.url + '/') || url.startsWith('data:') || url.startsWith('blob:'),
        `${url} leaves the server`);
    }
  }
});

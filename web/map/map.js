// The planners' map: MapLibre GL JS over bando's vector tiles. This file only wires the parts
// together, handing each the map and the state it needs:
//   style.mjs (style + catalog) → tree.mjs (layers by sector) → hash.mjs (view in the URL);
//   identify.mjs, measure.mjs, search.mjs, coordinates.mjs; language.mjs and status.mjs for all;
//   signin.mjs (OIDC + PKCE) → account.mjs (the bar's sign-in) and http.mjs (the bearer token);
//   compare.mjs (plan versions compared, for planners); legend.mjs (under a layer in the tree);
//   network.mjs (water isolation from a clicked pipe, power outage from a clicked line and the
//   networks' quality reports, for staff).
// Everything it loads comes from the bando that served it.
import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { createLanguage } from '/map/language.mjs';
import { createStatus } from '/map/status.mjs';
import { loadStyle, readCatalog } from '/map/style.mjs';
import { createLayerTree } from '/map/tree.mjs';
import { parseHash, keepInHash } from '/map/hash.mjs';
import { addHighlight } from '/map/highlight.mjs';
import { createIdentify } from '/map/identify.mjs';
import { createMeasureTool } from '/map/measure.mjs';
import { createSearch } from '/map/search.mjs';
import { createCoordinates } from '/map/coordinates.mjs';
import { createHttp } from '/map/http.mjs';
import { createSignIn } from '/map/signin.mjs';
import { createAccount } from '/map/account.mjs';
import { createCompare } from '/map/compare.mjs';
import { createNetwork } from '/map/network.mjs';

const $ = (selector) => document.querySelector(selector);

async function start(language, status) {
  // Sign-in first: a redirect back from the issuer is finished before anything is asked.
  const signIn = await createSignIn();
  createAccount(signIn, {
    language, status,
    elements: { box: $('#account'), name: $('#account-name'), signInButton: $('#sign-in'), signOutButton: $('#sign-out') },
  });
  const http = createHttp(signIn);
  let style;
  try {
    style = await loadStyle(http);
  } catch (e) {
    throw new Error(`${language.t('styleFailed')}: ${e.message}`);
  }
  const catalog = readCatalog(style);
  const wanted = parseHash(location.hash);

  // Without a view in the URL the style's own centre and zoom apply.
  const map = new maplibregl.Map({
    container: 'map', style, hash: false, attributionControl: { compact: true }, ...(wanted.view ?? {}),
    transformRequest: http.transformRequest,
  });
  window.bandoMap = map;
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric', maxWidth: 160 }), 'bottom-left');
  map.on('error', (e) => status.error(`${language.t('mapError')}: ${e.error?.message ?? e.error ?? e}`));
  await new Promise((ok) => (map.loaded() ? ok() : map.once('load', ok)));

  const tree = createLayerTree(map, { catalog, language, element: $('#layer-tree'), shown: wanted.layers });
  keepInHash(map, { tree, language });
  const highlight = addHighlight(map);
  const network = createNetwork(map, {
    http, language, status, user: () => signIn.user,
    elements: {
      panel: $('#network'), summary: $('#network-summary'), valves: $('#network-valves'),
      findings: $('#network-findings'), check: $('#network-check'),
      checkPower: $('#network-check-power'), clear: $('#network-clear'),
    },
  });
  network.refresh();
  const identify = createIdentify(map, {
    http, catalog, tree, language, highlight, status, actions: network.actions,
  });
  const measure = createMeasureTool(map, {
    http, language, status, panel: $('#measure-result'),
    buttons: { line: $('#measure-line'), area: $('#measure-area') },
    onStart: () => identify.close(),
  });
  const search = createSearch(map, {
    http, language, highlight, status,
    elements: {
      form: $('#search'), commune: $('#search-commune'), sheet: $('#search-sheet'),
      number: $('#search-number'), output: $('#search-status'), datalist: $('#commune-list'),
    },
  });
  const coordinates = createCoordinates(map, {
    proj4: window.proj4, language, wgs84: $('#coords-wgs84'), vn2000: $('#coords-vn2000'),
  });
  const compare = createCompare(map, {
    http, catalog, language, status, user: () => signIn.user,
    elements: {
      panel: $('#compare'), from: $('#compare-from'), to: $('#compare-to'),
      run: $('#compare-run'), clear: $('#compare-clear'), summary: $('#compare-summary'),
    },
  });
  await compare.refresh().catch((e) => status.error(`${language.t('compareFailed')}: ${e.message}`));
  map.on('click', (e) => {
    if (measure.active) measure.addVertex(e.lngLat);
    else if (!compare.diffAt(e.point, e.lngLat)) identify.identify(e.lngLat);
  });
  $('#lang-toggle').addEventListener('click', language.toggle);

  // For the browser tests and the console.
  window.bando = {
    map, catalog, measure, compare, network,
    user: () => signIn.user,
    errors: status.errors,
    identify: (lng, lat) => identify.identify(new maplibregl.LngLat(lng, lat)),
    search: search.search,
    coordinates: (lng, lat) => coordinates.show({ lng, lat }),
    setLayerVisible: tree.setVisible,
    setLanguage: language.set,
  };
}

const language = createLanguage();
const status = createStatus($('#status'));
start(language, status).then(
  () => { document.body.dataset.ready = 'true'; },
  (e) => {
    status.error(e.message ?? String(e));
    document.body.dataset.ready = 'error';
  },
);

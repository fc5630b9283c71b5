// The land officers' parcel editor (issue 11): find a parcel (commune/sheet/number, or a click),
// edit its vertices (terra-draw, snapping to the neighbours) and attributes, undo/redo, save with
// a reason and a decision, and see what the server says: saved, a conflict with someone who
// saved first, a rule broken (with the part on the map), a refusal, and what the server snapped
// to the neighbours (its tolerance from `/land/config`). History of versions; split, merge and
// lineage. Planners and anonymous visitors see the parcel
// and its history with no edit control (and the server refuses their writes anyway).
// This file only wires the parts together; each module does one job:
//   session.mjs (what is edited and saving it) over parcels-api.mjs; draw.mjs (terra-draw) with
//   snap.mjs; attributes.mjs, conflict.mjs, history.mjs, landtools.mjs (over land-api.mjs),
//   overlays.mjs; and the map's own language, status, style, search, sign-in and account.
import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { createLanguage } from '/map/language.mjs';
import { createStatus } from '/map/status.mjs';
import { loadStyle, readCatalog } from '/map/style.mjs';
import { parseHash } from '/map/hash.mjs';
import { createSearch } from '/map/search.mjs';
import { createHttp } from '/map/http.mjs';
import { createSignIn } from '/map/signin.mjs';
import { createAccount } from '/map/account.mjs';
import { translate } from '/editor/i18n.mjs';
import { createParcelsApi } from '/editor/parcels-api.mjs';
import { createLandApi } from '/editor/land-api.mjs';
import { createSession } from '/editor/session.mjs';
import { createDraw } from '/editor/draw.mjs';
import { ringsOf } from '/editor/snap.mjs';
import { createOverlays } from '/editor/overlays.mjs';
import { createAttributes } from '/editor/attributes.mjs';
import { createConflictView } from '/editor/conflict.mjs';
import { createHistory } from '/editor/history.mjs';
import { createPastTiles } from '/editor/pasttiles.mjs';
import { createLandTools } from '/editor/landtools.mjs';

const $ = (selector) => document.querySelector(selector);
/** Roles whose holders get the edit controls (the server decides each write). */
const EDITORS = ['land_officer', 'admin'];
/** Metres around the parcel whose neighbours are loaded to snap to (as degrees, roughly). */
const NEIGHBOUR_MARGIN_DEG = 0.001;

function bboxOf(geometry) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  for (const ring of ringsOf(geometry)) {
    for (const [x, y] of ring) {
      box[0] = Math.min(box[0], x); box[1] = Math.min(box[1], y);
      box[2] = Math.max(box[2], x); box[3] = Math.max(box[3], y);
    }
  }
  return box;
}

async function start(language, status) {
  const signIn = await createSignIn();
  createAccount(signIn, {
    language, status,
    elements: { box: $('#account'), name: $('#account-name'), signInButton: $('#sign-in'), signOutButton: $('#sign-out') },
  });
  const canEdit = Boolean(signIn.user?.roles.some((r) => EDITORS.includes(r)));
  document.body.dataset.canEdit = String(canEdit);
  const http = createHttp(signIn);
  const api = createParcelsApi(signIn);
  let style;
  try {
    style = await loadStyle(http);
  } catch (e) {
    throw new Error(`${language.t('styleFailed')}: ${e.message}`);
  }
  const catalog = readCatalog(style);
  const queryables = (await api.queryables()).properties ?? {};
  // The style's catalog titles the public properties; the queryables (asked with the token)
  // also the restricted ones the user may read, as "tiêu đề (title)".
  const titleOf = (name) => {
    const p = catalog.layer('parcels')?.properties.find((q) => q.name === name);
    if (p) return language.title(p);
    const both = queryables[name]?.title;
    const m = both?.match(/^(.*?) \(([^()]*)\)$/);
    return m ? m[language.current === 'en' ? 2 : 1] : (both ?? name);
  };
  const types = Object.fromEntries(Object.entries(queryables).map(([k, v]) => [k, v.type]));
  // The server's tolerances: the editor snaps as far as the server does (or further on screen).
  const land = createLandApi(signIn);
  const landConfig = await land.config();

  const wanted = parseHash(location.hash);
  const map = new maplibregl.Map({
    container: 'map', style, hash: false, attributionControl: { compact: true }, ...(wanted.view ?? {}),
    transformRequest: http.transformRequest,
  });
  window.bandoMap = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric', maxWidth: 160 }), 'bottom-left');
  map.on('error', (e) => status.error(`${language.t('mapError')}: ${e.error?.message ?? e.error ?? e}`));
  await new Promise((ok) => (map.loaded() ? ok() : map.once('load', ok)));

  const overlays = createOverlays(map);
  const session = createSession({ api });
  const draw = canEdit ? createDraw(map, {
    onEdit: (geometry) => { session.edit({ geometry }); refresh(); },
    snapMetres: landConfig.snap_tolerance_m,
  }) : null;
  const saveStatus = $('#save-status');
  const say = (kind, message) => { saveStatus.dataset.outcome = kind; saveStatus.textContent = message; };
  const attributes = createAttributes($('#attributes'), {
    language, titleOf, types,
    onChange: (name, value) => { session.edit({ properties: { [name]: value } }); refresh(); },
  });
  const history = createHistory($('#history'), { api, language, status, overlays, past: createPastTiles(map) });
  let conflict = null;
  const conflictView = createConflictView($('#conflict'), {
    language, titleOf,
    onReload() {
      session.reload(conflict.theirs);
      endConflict();
      show();
      say('reloaded', '');
    },
    onReapply() {
      session.reapply(conflict.theirs, conflict.mine);
      endConflict();
      show();
      say('reapplied', language.t('reapplied'));
    },
  });
  function endConflict() {
    conflict = null;
    conflictView.hide();
    overlays.show('theirs', null);
  }
  function clearRule() {
    $('#rule').hidden = true;
    overlays.show('part', null);
  }

  /** The buttons and marks that follow the edits. */
  function refresh() {
    $('#undo').disabled = !session.canUndo;
    $('#redo').disabled = !session.canRedo;
    const dirty = Boolean(session.changes());
    $('#discard').disabled = !dirty;
    $('#dirty').hidden = !dirty;
    document.body.dataset.dirty = String(dirty);
  }

  /** Shows the session's parcel and its state now (after a load, undo, redo, reload). */
  function show() {
    const parcel = session.parcel;
    const state = session.state;
    const p = parcel.feature.properties;
    $('#no-parcel').hidden = true;
    $('#parcel').hidden = false;
    $('#parcel-title').textContent = language.t('parcelTitle', p.sheet_number, p.parcel_number, p.commune_code);
    $('#snap-hint').textContent = language.t('snapHint', language.numberFormat(2).format(landConfig.snap_tolerance_m));
    $('#read-only').hidden = canEdit;
    $('#edit-tools').hidden = !canEdit;
    $('#save').hidden = !canEdit;
    $('#land-tools').hidden = !canEdit;
    attributes.show(state.properties, { canEdit });
    const editable = canEdit && Boolean(state.geometry);
    $('#multipart').hidden = !canEdit || editable;
    if (editable) {
      overlays.show('parcel', null);
      draw.set(state.geometry);
    } else {
      draw?.set(null);
      overlays.show('parcel', parcel.feature.geometry);
    }
    document.body.dataset.parcel = String(parcel.id);
    document.body.dataset.etag = parcel.etag ?? '';
    refresh();
  }

  async function loadNeighbours(parcel) {
    if (!draw) return;
    const [w, s, e, n] = bboxOf(parcel.feature.geometry);
    const m = NEIGHBOUR_MARGIN_DEG;
    try {
      const around = await api.within([w - m, s - m, e + m, n + m]);
      draw.setNeighbours(around.features.filter((f) => String(f.id) !== String(parcel.id)).flatMap((f) => ringsOf(f.geometry)));
    } catch (e) {
      status.error(`${language.t('loadFailed')}: ${e.message}`);
    }
  }

  /** Opens parcel `id` (unless edits are pending); `fit` moves the map to it. */
  async function select(id, { fit = false } = {}) {
    if (session.changes()) {
      status.error(language.t('unsavedPick'));
      return false;
    }
    let parcel;
    try {
      parcel = await session.load(id);
    } catch (e) {
      status.error(`${language.t('loadFailed')}: ${e.message}`);
      return false;
    }
    endConflict();
    clearRule();
    history.hide();
    landTools.picked();
    say('', '');
    if (fit) {
      const [w, s, e, n] = bboxOf(parcel.feature.geometry);
      const moved = new Promise((ok) => map.once('moveend', ok));
      map.fitBounds([[w, s], [e, n]], { padding: 80, maxZoom: 20, duration: 0 });
      await moved;
    }
    show();
    await loadNeighbours(parcel);
    return true;
  }

  /** Tiles drawn before a save are stale: ask the vector sources for them again. */
  function reloadTiles() {
    for (const id of Object.keys(map.getStyle().sources)) {
      const source = map.getSource(id);
      if (source?.type === 'vector' && Array.isArray(source.tiles)) source.setTiles([...source.tiles]);
    }
  }

  $('#undo').addEventListener('click', () => { session.undo(); show(); });
  $('#redo').addEventListener('click', () => { session.redo(); show(); });
  $('#discard').addEventListener('click', () => { session.discard(); show(); });
  $('#save').addEventListener('submit', async (event) => {
    event.preventDefault();
    const reason = $('#save-reason').value.trim().normalize('NFC');
    const document_ = $('#save-document').value.trim().normalize('NFC');
    if (!reason || !document_) { $('#save').reportValidity(); return; }
    clearRule();
    say('saving', language.t('saving'));
    let outcome;
    try {
      outcome = await session.save(reason, document_);
    } catch (e) {
      say('failed', `${language.t('saveFailed')}: ${e.message}`);
      return;
    }
    switch (outcome.kind) {
      case 'nothing':
        say('nothing', language.t('nothingToSave'));
        break;
      case 'saved':
        endConflict();
        show();
        say('saved', (outcome.snapped ? language.t('savedSnapped', outcome.snapped) : language.t('savedNoVersion')) +
          (outcome.shared?.length ? ` ${language.t('sharedWith', outcome.shared.join(', '))}` : ''));
        reloadTiles();
        if (!$('#history').hidden) await history.show(session.parcel.id);
        await loadNeighbours(session.parcel);
        break;
      case 'conflict':
        conflict = outcome;
        conflictView.show({ detail: outcome.detail, base: session.parcel.state, mine: session.state, theirs: outcome.theirs.state });
        overlays.show('theirs', outcome.theirs.feature.geometry);
        say('conflict', ''); // the conflict view says it
        break;
      case 'rule':
        $('#rule .detail').textContent = outcome.detail;
        $('#rule').hidden = false;
        overlays.show('part', outcome.part);
        say('rule', ''); // the rule box says it
        break;
      case 'refused':
        say('refused', `${language.t('refused')}: ${outcome.detail}`);
        break;
      default:
        say('failed', `${language.t('saveFailed')}: HTTP ${outcome.status} ${outcome.detail}`);
    }
  });
  $('#show-history').addEventListener('click', () => { if (session.parcel) history.show(session.parcel.id); });

  const landTools = createLandTools({
    split: $('#split'), mergeAdd: $('#merge-add'), merge: $('#merge'), mergeList: $('#merge-list'),
    lineage: $('#lineage'), output: $('#land-status'), tree: $('#lineage-tree'),
  }, {
    land, draw, language,
    parcel: () => session.parcel,
    decision: () => {
      const reason = $('#save-reason').value.trim().normalize('NFC');
      const document_ = $('#save-document').value.trim().normalize('NFC');
      if (!reason || !document_) { $('#save').reportValidity(); return null; }
      return { reason, document: document_ };
    },
    // The parent is gone after a split or a merge: show the (first) child.
    after: async (answer) => {
      reloadTiles();
      const next = answer.children?.[0]?.id ?? session.parcel?.id;
      if (next !== undefined) await select(next);
    },
  });

  const search = createSearch(map, {
    http, language, status,
    highlight: { show: () => {} }, // the editor draws the parcel itself
    elements: {
      form: $('#search'), commune: $('#search-commune'), sheet: $('#search-sheet'),
      number: $('#search-number'), output: $('#search-status'), datalist: $('#commune-list'),
    },
    onFound: (found) => { if (found.features.length) select(found.features[0].id); },
  });

  map.on('click', async (e) => {
    // The clicks of a cutting line (and the last one, which ends it) are not picks.
    if (draw?.drawingLine() || landTools.busy) return;
    if (draw && session.parcel && draw.isEditedAt(e.lngLat)) return;
    if (session.changes()) { status.error(language.t('unsavedPick')); return; }
    let found;
    try {
      found = await api.at(e.lngLat, map.getZoom());
    } catch (err) {
      status.error(`${language.t('identifyFailed')}: ${err.message}`);
      return;
    }
    const parcel = found.features.find((f) => f.layer === 'parcels') ?? found.features[0];
    if (parcel) await select(parcel.id);
  });
  $('#lang-toggle').addEventListener('click', language.toggle);
  language.onChange(() => { if (session.parcel) show(); });

  // For the browser tests and the console.
  window.bandoEditor = {
    map, draw, session, canEdit, select, search: search.search,
    errors: status.errors,
  };
}

const language = createLanguage(undefined, { translate });
const status = createStatus($('#status'));
start(language, status).then(
  () => { document.body.dataset.ready = 'true'; },
  (e) => {
    status.error(e.message ?? String(e));
    document.body.dataset.ready = 'error';
  },
);

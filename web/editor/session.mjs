// The parcel being edited: what was read (feature and entity tag), the edits since (undo/redo),
// what they change, and saving them — with what each answer of the server means: saved, a
// conflict (someone saved first: their version is fetched to show beside ours), a rule the
// change breaks (422, with the offending part), or a refusal (401/403). No DOM, no map.
import { createUndo } from '/editor/undo.mjs';
import { editablePolygon } from '/editor/draw.mjs';

/** Properties a write may not set (the parcel's identity) or the server computes. */
const FIXED = new Set(['commune_code', 'sheet_number', 'parcel_number', 'area_m2', 'updated_at', 'source_id', 'id']);

/** The editable properties of `feature`: every property but the identity and computed ones. */
export function editableProperties(feature, names) {
  const props = feature.properties ?? {};
  const out = {};
  for (const name of names ?? Object.keys(props)) if (!FIXED.has(name)) out[name] = props[name] ?? null;
  return out;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * A session over `api` (parcels-api.mjs). `names`: the editable property names in display order
 * (else those the feature carries).
 */
export function createSession({ api, names = null }) {
  let base = null; // { id, feature, etag, state }
  let undo = null;

  const stateOf = (feature) => ({
    geometry: editablePolygon(feature.geometry),
    properties: editableProperties(feature, names),
  });

  function start(id, { feature, etag }) {
    base = { id, feature, etag, state: stateOf(feature) };
    undo = createUndo(base.state);
    return base;
  }

  /** What the edits change against `from` (a state): `{ properties, geometry }`, or null. */
  function changesAgainst(from, to) {
    const properties = {};
    for (const [k, v] of Object.entries(to.properties)) if (!same(v, from.properties[k])) properties[k] = v;
    const geometry = to.geometry && !same(to.geometry, from.geometry) ? to.geometry : null;
    return Object.keys(properties).length || geometry ? { properties, geometry } : null;
  }

  return {
    get parcel() { return base; },
    get state() { return undo?.current ?? null; },
    get canUndo() { return Boolean(undo?.canUndo); },
    get canRedo() { return Boolean(undo?.canRedo); },
    /** Reads parcel `id` from the server and starts over from it. */
    async load(id) { return start(id, await api.get(id)); },
    /** Records an edit: `patch` replaces `geometry` and/or some `properties`. */
    edit(patch) {
      const now = undo.current;
      return undo.push({
        geometry: patch.geometry ?? now.geometry,
        properties: { ...now.properties, ...(patch.properties ?? {}) },
      });
    },
    undo: () => undo.undo(),
    redo: () => undo.redo(),
    /** Drops every edit. */
    discard: () => undo.reset(base.state),
    /** What the edits change, or null. */
    changes: () => (base ? changesAgainst(base.state, undo.current) : null),

    /**
     * Saves the edits with the reason and decision. Resolves to one of
     * `{ kind: 'nothing' }`, `{ kind: 'saved', etag, snapped, shared }` (vertices the server snapped; numbers of the neighbours given vertices), `{ kind: 'conflict', detail, mine, theirs }`
     * (theirs: `{ feature, etag, state }`), `{ kind: 'rule', detail, part }`,
     * `{ kind: 'refused', status, detail }`, `{ kind: 'failed', status, detail }`.
     */
    async save(reason, document) {
      const mine = this.changes();
      if (!mine) return { kind: 'nothing' };
      const answer = await api.update(base.id, { etag: base.etag, ...mine, reason, document });
      const detail = answer.problem?.detail ?? '';
      if (answer.ok) {
        await this.load(base.id);
        return { kind: 'saved', etag: base.etag, snapped: answer.snapped ?? 0, shared: answer.shared ?? [] };
      }
      if (answer.status === 412) {
        const read = await api.get(base.id);
        return { kind: 'conflict', detail, mine, theirs: { ...read, state: stateOf(read.feature) } };
      }
      if (answer.status === 422) return { kind: 'rule', detail, part: answer.problem?.part ?? null };
      if (answer.status === 401 || answer.status === 403) return { kind: 'refused', status: answer.status, detail };
      return { kind: 'failed', status: answer.status, detail };
    },

    /** After a conflict: start from their version (`theirs` of the conflict), dropping ours. */
    reload(theirs) { start(base.id, theirs); },
    /** After a conflict: start from their version and apply `mine` (our changes) on top of it. */
    reapply(theirs, mine) {
      start(base.id, theirs);
      return this.edit({ geometry: mine.geometry ?? undefined, properties: mine.properties });
    },
  };
}

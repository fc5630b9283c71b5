// Split, merge and lineage of parcels (`/land/parcels/…`, issue 11), and the tolerances the
// server checks writes under (`/land/config`). A server without these routes answers 404/405:
// the call rejects with `notAvailable` set, which the page shows as such. The requests: a
// cutting line (GeoJSON LineString), the ids of the parcels to merge, `If-Match` with every
// parent's tag, reason and decision; the answers name the children (`children`, each with its
// `parcel_number`) and what snapping to the neighbours moved (`snapped`).
import { headerText } from '/editor/parcels-api.mjs';

/** An error of these endpoints: `status`, `problem`, and `notAvailable` when the route is absent. */
export class LandError extends Error {
  constructor(path, status, problem = {}) {
    super(`${path}: HTTP ${status}${problem.detail ? ` — ${problem.detail}` : ''}`);
    this.status = status;
    this.problem = problem;
    this.notAvailable = status === 404 || status === 405 || status === 501;
  }
}

export function createLandApi(signIn) {
  async function send(path, { method = 'GET', etags = [], reason, document, body } = {}) {
    const headers = { Accept: 'application/json' };
    const token = signIn?.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (etags.length) headers['If-Match'] = etags.join(', ');
    if (reason !== undefined) headers['Edit-Reason'] = headerText(reason);
    if (document !== undefined) headers['Edit-Document'] = headerText(document);
    if (body) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new LandError(path, response.status, answer);
    return answer;
  }
  return {
    /** Splits parcel `id` (tag `etag`) along `line` (a GeoJSON LineString in WGS84). */
    split: (id, { etag, line, reason, document }) =>
      send(`/land/parcels/${encodeURIComponent(id)}/split`, { method: 'POST', etags: [etag], reason, document, body: { line } }),
    /** Merges the parcels `parents` (`[{ id, etag }]`) of one sheet into one. */
    merge: (parents, { reason, document }) =>
      send('/land/parcels/merge', {
        method: 'POST', etags: parents.map((p) => p.etag), reason, document, body: { ids: parents.map((p) => p.id) },
      }),
    /** The lineage tree of parcel `id`, both directions (GeoJSON). */
    lineage: (id) => send(`/land/parcels/${encodeURIComponent(id)}/lineage`),
    /** The server's tolerances: `{ snap_tolerance_m, overlap_tolerance_m2 }`. */
    config: () => send('/land/config'),
  };
}

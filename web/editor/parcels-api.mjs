// The parcels API of the bando that served the page, as the signed-in user: read a parcel with
// its entity tag, write a change (merge patch with `If-Match`, reason and decision), its history,
// the search by commune/sheet/number, the parcel under a point, and the neighbours around it.
// Answers are returned as they are (status, problem, tags): deciding what they mean for the
// page is the caller's job.

/** An error carrying the server's status and problem (RFC 9457). */
export class ApiError extends Error {
  constructor(path, status, problem = {}) {
    super(`${path.split('?')[0]}: HTTP ${status}${problem.detail ? ` — ${problem.detail}` : ''}`);
    this.status = status;
    this.problem = problem;
  }
}

const COLLECTION = '/collections/parcels/items';

/** Percent-encoded UTF-8 (NFC) for the `Edit-Reason` / `Edit-Document` headers. */
export const headerText = (text) => encodeURIComponent(String(text).normalize('NFC'));

/** The parcels API; `signIn` gives the bearer token (none for anonymous visitors). */
export function createParcelsApi(signIn) {
  const headers = (extra = {}) => {
    const token = signIn?.token();
    return token ? { ...extra, Authorization: `Bearer ${token}` } : { ...extra };
  };
  async function request(path, init = {}) {
    const response = await fetch(path, { ...init, headers: headers(init.headers) });
    if (response.ok) return response;
    const problem = await response.json().catch(() => ({}));
    throw new ApiError(path, response.status, problem);
  }
  const json = async (path) => (await request(path, { headers: { Accept: 'application/geo+json, application/json' } })).json();

  return {
    /** The parcel `id` and its strong entity tag: `{ feature, etag }`. */
    async get(id) {
      const response = await request(`${COLLECTION}/${encodeURIComponent(id)}`, {
        headers: { Accept: 'application/geo+json' }, cache: 'no-store',
      });
      return { feature: await response.json(), etag: response.headers.get('ETag') };
    },

    /**
     * Sends a merge patch of parcel `id` read with tag `etag`: `properties` (changed ones only)
     * and/or `geometry`, with the reason and decision. Resolves to `{ ok, status, etag, problem,
     * snapped, shared }` — `etag` is the new tag on success and the current one on 412; `snapped`
     * how many vertices the server snapped to the neighbours' boundaries (`Bando-Snapped`);
     * `shared` the numbers of the neighbours it gave the vertices lying on their edges (the
     * answer's `neighbours`).
     */
    async update(id, { etag, properties, geometry, reason, document }) {
      const body = {};
      if (properties && Object.keys(properties).length) body.properties = properties;
      if (geometry) body.geometry = geometry;
      const response = await fetch(`${COLLECTION}/${encodeURIComponent(id)}`, {
        method: 'PATCH',
        headers: headers({
          'Content-Type': 'application/merge-patch+json',
          'If-Match': etag,
          'Edit-Reason': headerText(reason),
          'Edit-Document': headerText(document),
        }),
        body: JSON.stringify(body),
      });
      const problem = response.ok ? null : await response.json().catch(() => ({}));
      const snapped = Number(response.headers.get('Bando-Snapped') ?? 0);
      // 200 carries what snapping did; 204 nothing.
      const listed = response.ok && response.status === 200 ? await response.json().catch(() => ({})) : {};
      const shared = (listed.neighbours ?? []).map((n) => n.parcel_number);
      return { ok: response.ok, status: response.status, etag: response.headers.get('ETag'), problem, snapped, shared };
    },

    /** The parcel's versions, oldest first (a GeoJSON FeatureCollection, each with `version`). */
    versions: (id) => json(`${COLLECTION}/${encodeURIComponent(id)}/versions`),

    /** Parcels by commune, sheet and number (`/query/parcels`). */
    find(commune, sheet, number) {
      const q = new URLSearchParams({ commune: String(commune).trim(), sheet: String(sheet).trim(), number: String(number).trim() });
      return json(`/query/parcels?${q}`);
    },

    /** The parcels at a point of the map (`/query/identify` on the parcels layer). */
    at({ lng, lat }, zoom) {
      const q = new URLSearchParams({ x: lng.toFixed(7), y: lat.toFixed(7), zoom: String(Math.min(24, Math.max(0, Math.round(zoom)))), tolerance: '2', layers: 'parcels' });
      return json(`/query/identify?${q}`);
    },

    /** The parcels in a WGS84 box `[w, s, e, n]` (for snapping to neighbours). */
    within(box, limit = 500) {
      const q = new URLSearchParams({ bbox: box.map((v) => v.toFixed(7)).join(','), limit: String(limit) });
      return json(`${COLLECTION}?${q}`);
    },

    /** The parcels' queryable properties with their titles (JSON Schema). */
    queryables: () => json('/collections/parcels/queryables'),
  };
}

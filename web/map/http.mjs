// Requests to the bando that served the page (relative URLs only): JSON, or an Error that names
// the endpoint and carries the server's problem detail (RFC 9457) and status.

/** GETs (or sends `init`) to a path of this server; resolves to the parsed JSON of a 2xx answer. */
export async function fetchJson(path, init) {
  if (!path.startsWith('/')) throw new Error(`${path}: only paths of this server are asked`);
  const response = await fetch(path, init);
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const error = new Error(`${path.split('?')[0]}: HTTP ${response.status}${problem.detail ? ` — ${problem.detail}` : ''}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

/**
 * Requests as the signed-in user: `json(path, init)` is `fetchJson` with `Authorization: Bearer`
 * while someone is signed in; `transformRequest` adds it to MapLibre's requests (tiles, style
 * resources) — only to this server's own addresses, so the token never goes elsewhere.
 */
export function createHttp(signIn) {
  const bearer = () => {
    const token = signIn?.token();
    return token ? `Bearer ${token}` : null;
  };
  return {
    json(path, init = {}) {
      const auth = bearer();
      return fetchJson(path, auth ? { ...init, headers: { ...(init.headers ?? {}), Authorization: auth } } : init);
    },
    transformRequest(url) {
      const auth = bearer();
      if (!auth || new URL(url, location.href).origin !== location.origin) return undefined;
      return { url, headers: { Authorization: auth } };
    },
  };
}

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

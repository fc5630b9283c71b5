// JSON from the portal's API, or an Error carrying the problem's detail.
export async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: 'application/json' } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(body?.detail ?? body?.title ?? `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

// The status line at the bottom of the map: what went wrong, in words the user sees. A failing
// endpoint is reported here, never replaced by a substitute.

/** A status line over `element`: `error(message)`, `clear()`, and `errors()` (every error so far). */
export function createStatus(element) {
  const errors = [];
  return {
    error(message) {
      errors.push(message);
      element.textContent = message;
    },
    clear() {
      element.textContent = '';
    },
    errors: () => [...errors],
  };
}

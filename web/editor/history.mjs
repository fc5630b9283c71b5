// A parcel's history (`…/items/{id}/versions`): one row per version — when it began and ended,
// the action, who, why and on what decision — and a slider that shows the shape of the chosen
// version on the map (overlays.mjs, "version") over its neighbours as they were when it began
// (pasttiles.mjs: tiles as of that instant; none on the present version).

function when(text, language) {
  if (!text) return language.t('current');
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  return date.toLocaleString(language.current === 'en' ? 'en-GB' : 'vi-VN');
}

/** The history in `element` (a <section> with a table, a slider and a button to load it). */
export function createHistory(element, { api, language, status, overlays, past }) {
  const table = element.querySelector('table');
  const slider = element.querySelector('input[type="range"]');
  let versions = [];

  function render() {
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    for (const key of ['version', 'action', 'begin', 'end', 'editor', 'reason', 'document']) {
      const th = document.createElement('th');
      th.textContent = language.t(key);
      head.append(th);
    }
    const body = table.createTBody();
    if (!versions.length) {
      const cell = body.insertRow().insertCell();
      cell.colSpan = 7;
      cell.textContent = language.t('historyEmpty');
    }
    for (const feature of versions) {
      const v = feature.version ?? {};
      const row = body.insertRow();
      row.dataset.version = String(v.version);
      for (const value of [v.version, v.action, when(v.begin_lifespan, language), when(v.end_lifespan, language), v.editor, v.reason, v.document]) {
        row.insertCell().textContent = value === null || value === undefined ? '—' : String(value);
      }
    }
    slider.hidden = versions.length < 2;
    slider.min = '0';
    slider.max = String(Math.max(0, versions.length - 1));
    slider.value = slider.max;
  }

  slider.addEventListener('input', () => {
    const feature = versions[Number(slider.value)];
    for (const row of table.tBodies[0]?.rows ?? []) row.classList.toggle('picked', row.dataset.version === String(feature?.version?.version));
    overlays.show('version', feature?.geometry ?? null);
    const present = Number(slider.value) === versions.length - 1;
    past?.show(present ? null : feature?.version?.begin_lifespan ?? null);
  });
  language.onChange(() => { if (!element.hidden) render(); });

  return {
    /** Loads and shows the versions of parcel `id`; resolves to them (or null after a failure). */
    async show(id) {
      try {
        versions = (await api.versions(id)).features ?? [];
      } catch (e) {
        // A parcel no longer there (deleted, split, merged since the page read it).
        if (e.status === 404) versions = [];
        else {
          status.error(`${language.t('historyFailed')}: ${e.message}`);
          return null;
        }
      }
      element.hidden = false;
      render();
      return versions;
    },
    hide() {
      versions = [];
      element.hidden = true;
      overlays.show('version', null);
      past?.show(null);
    },
  };
}

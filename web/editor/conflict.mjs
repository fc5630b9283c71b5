// The conflict view (412: someone saved the parcel after we read it): who changed it when (the
// server's words), our version and theirs side by side — each property either side changed,
// and the shape — with the two ways out: reload theirs, or re-apply ours on top of theirs.
// The shapes are on the map too: ours in the editor, theirs dashed (overlays.mjs).

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function text(value, language) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return language.t(value ? 'yes' : 'no');
  return String(value);
}

/** The view in `element` (a <section>); `show(conflict)` / `hide()`. */
export function createConflictView(element, { language, titleOf, onReload, onReapply }) {
  let shown = null;

  function render() {
    const { detail, base, mine, theirs } = shown;
    const h = document.createElement('h2');
    h.textContent = language.t('conflictTitle');
    const p = document.createElement('p');
    p.className = 'detail';
    p.textContent = detail;
    const table = document.createElement('table');
    const head = table.createTHead().insertRow();
    for (const key of ['conflictProperty', 'conflictMine', 'conflictTheirs']) {
      const th = document.createElement('th');
      th.textContent = language.t(key);
      head.append(th);
    }
    const body = table.createTBody();
    const names = Object.keys(mine.properties).filter((k) =>
      !same(mine.properties[k], base.properties[k]) || !same(theirs.properties[k], base.properties[k]));
    for (const name of names) {
      const row = body.insertRow();
      row.dataset.key = name;
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = titleOf(name);
      row.append(th);
      for (const side of [mine, theirs]) {
        const td = row.insertCell();
        td.textContent = text(side.properties[name], language);
        if (!same(side.properties[name], base.properties[name])) td.className = 'changed';
      }
    }
    const row = body.insertRow();
    row.dataset.key = 'geometry';
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = language.t('conflictGeometry');
    row.append(th);
    for (const side of [mine, theirs]) {
      const changed = !same(side.geometry, base.geometry);
      const td = row.insertCell();
      td.textContent = language.t(changed ? 'conflictChanged' : 'conflictSame');
      if (changed) td.className = 'changed';
    }
    const reload = document.createElement('button');
    reload.type = 'button';
    reload.id = 'conflict-reload';
    reload.textContent = language.t('conflictReload');
    reload.addEventListener('click', () => onReload());
    const reapply = document.createElement('button');
    reapply.type = 'button';
    reapply.id = 'conflict-reapply';
    reapply.textContent = language.t('conflictReapply');
    reapply.addEventListener('click', () => onReapply());
    const buttons = document.createElement('div');
    buttons.className = 'buttons';
    buttons.append(reload, reapply);
    element.replaceChildren(h, p, table, buttons);
  }

  language.onChange(() => { if (shown) render(); });
  return {
    /** Shows `{ detail, base, mine, theirs }` (states: `{ geometry, properties }`). */
    show(conflict) {
      shown = conflict;
      render();
      element.hidden = false;
    },
    hide() {
      shown = null;
      element.hidden = true;
      element.replaceChildren();
    },
  };
}

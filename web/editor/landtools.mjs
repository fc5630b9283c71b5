// Split, merge and lineage (issue 11) over land-api.mjs: split the parcel along a line drawn on
// the map, merge the parcels put on a list, show the lineage tree. The server side is being
// built; until it answers, each action says so ("not available") instead of pretending.

/**
 * The tools in their elements { split, mergeAdd, merge, mergeList, lineage, output }.
 * `parcel()` is the parcel shown (`{ id, feature, etag }`) or null; `decision()` the reason and
 * document of the save form (null when they are missing: the form then says what is wanted);
 * `after()` runs when the parcels changed.
 */
export function createLandTools(elements, { land, draw, language, parcel, decision, after }) {
  const { split, mergeAdd, merge, mergeList, lineage, output } = elements;
  let toMerge = [];

  const say = (message) => { output.textContent = message; };
  const failed = (e) => say(e.notAvailable ? `${language.t('notAvailable')} (${e.message})` : `${language.t('landFailed')}: ${e.message}`);
  const label = (p) => `${p.feature.properties.sheet_number}/${p.feature.properties.parcel_number}`;

  function renderList() {
    mergeList.replaceChildren(...toMerge.map((p) => {
      const li = document.createElement('li');
      li.dataset.id = String(p.id);
      li.textContent = label(p);
      return li;
    }));
    merge.disabled = toMerge.length < 2;
  }

  split.addEventListener('click', async () => {
    const p = parcel();
    const d = decision();
    if (!p || !d) return;
    say(language.t('splitHint'));
    const line = await draw.drawLine();
    try {
      const answer = await land.split(p.id, { etag: p.etag, line, ...d });
      const ids = (answer.features ?? []).map((f) => f.properties?.parcel_number ?? f.id).join(', ');
      say(language.t('splitDone', ids));
      after();
    } catch (e) { failed(e); }
  });
  mergeAdd.addEventListener('click', () => {
    const p = parcel();
    if (!p || toMerge.some((q) => q.id === p.id)) return;
    toMerge.push({ id: p.id, etag: p.etag, feature: p.feature });
    renderList();
  });
  merge.addEventListener('click', async () => {
    const d = decision();
    if (!d || toMerge.length < 2) return;
    try {
      const answer = await land.merge(toMerge, d);
      say(language.t('mergeDone', answer.properties?.parcel_number ?? answer.id ?? ''));
      toMerge = [];
      renderList();
      after();
    } catch (e) { failed(e); }
  });
  lineage.addEventListener('click', async () => {
    const p = parcel();
    if (!p) return;
    try {
      const tree = await land.lineage(p.id);
      const rows = (tree.features ?? []).map((f) => `${f.properties?.relation ?? ''} ${f.properties?.sheet_number ?? ''}/${f.properties?.parcel_number ?? f.id}`.trim());
      say(rows.length ? rows.join('; ') : language.t('lineageEmpty'));
    } catch (e) { failed(e); }
  });
  renderList();
  return { clear() { toMerge = []; renderList(); say(''); } };
}

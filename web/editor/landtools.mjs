// Split, merge and lineage (issue 11) over land-api.mjs: split the parcel along a line drawn on
// the map (terra-draw's linestring mode), merge the parcels put on a list (the list survives
// picking the next parcel), show the lineage tree (ancestors, the parcel, descendants, indented
// by depth). A server without these routes makes each action say so ("not available").

/**
 * The tools in their elements { split, mergeAdd, merge, mergeList, lineage, output, tree }.
 * `parcel()` is the parcel shown (`{ id, feature, etag }`) or null; `decision()` the reason and
 * document of the save form (null when they are missing: the form then says what is wanted);
 * `after(answer)` runs when the parcels changed, with the server's answer (its `children`).
 */
export function createLandTools(elements, { land, draw, language, parcel, decision, after }) {
  const { split, mergeAdd, merge, mergeList, lineage, output, tree } = elements;
  let toMerge = [];
  /** A split or merge is under way (from the first click of the line to the server's answer). */
  let busy = false;

  const say = (message) => { output.textContent = message; };
  const failed = (e) => say(e.notAvailable ? `${language.t('notAvailable')} (${e.message})` : `${language.t('landFailed')}: ${e.message}`);
  const label = (p) => `${p.feature.properties.sheet_number}/${p.feature.properties.parcel_number}`;
  const snappedNote = (answer) => {
    const n = answer.snapped?.features?.length ?? 0;
    const shared = (answer.snapped?.neighbours ?? []).map((s) => s.parcel_number);
    return (n ? ` ${language.t('snappedCount', n)}` : '') +
      (shared.length ? ` ${language.t('sharedWith', shared.join(', '))}` : '');
  };

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
    if (!p || !d || busy) return;
    busy = true;
    say(language.t('splitHint'));
    const line = await draw.drawLine();
    try {
      const answer = await land.split(p.id, { etag: p.etag, line, ...d });
      const numbers = (answer.children ?? []).map((c) => c.parcel_number).join(', ');
      toMerge = toMerge.filter((q) => q.id !== p.id);
      renderList();
      await after(answer);
      say(language.t('splitDone', numbers) + snappedNote(answer));
    } catch (e) { failed(e); } finally { busy = false; }
  });
  mergeAdd.addEventListener('click', () => {
    const p = parcel();
    if (!p || toMerge.some((q) => q.id === p.id)) return;
    toMerge.push({ id: p.id, etag: p.etag, feature: p.feature });
    renderList();
  });
  merge.addEventListener('click', async () => {
    const d = decision();
    if (!d || toMerge.length < 2 || busy) return;
    busy = true;
    try {
      const answer = await land.merge(toMerge, d);
      toMerge = [];
      renderList();
      await after(answer);
      say(language.t('mergeDone', answer.children?.[0]?.parcel_number ?? '') + snappedNote(answer));
    } catch (e) { failed(e); } finally { busy = false; }
  });
  lineage.addEventListener('click', async () => {
    const p = parcel();
    if (!p) return;
    try {
      const answer = await land.lineage(p.id);
      const nodes = answer.features ?? [];
      tree.replaceChildren(...nodes.map((f) => {
        const q = f.properties ?? {};
        const li = document.createElement('li');
        li.dataset.id = String(f.id);
        li.dataset.relation = q.relation ?? '';
        li.dataset.depth = String(q.depth ?? 0);
        li.dataset.number = String(q.parcel_number ?? '');
        li.style.marginLeft = `${(q.relation === 'ancestor' ? 0 : q.depth ?? 0) * 1.2}em`;
        li.textContent = language.t(
          'lineageRow',
          language.t(`relation_${q.relation}`),
          q.sheet_number ?? '',
          q.parcel_number ?? f.id,
          q.operation ? language.t(`operation_${q.operation}`) : '',
          q.living !== false,
        );
        return li;
      }));
      tree.hidden = nodes.length === 0;
      say(nodes.length > 1 ? '' : language.t('lineageEmpty'));
    } catch (e) { failed(e); }
  });
  renderList();
  return {
    /** Whether a split or merge is under way (map clicks then belong to it). */
    get busy() { return busy; },
    /** A parcel was picked: its messages and lineage go; the merge list stays. */
    picked() { say(''); tree.replaceChildren(); tree.hidden = true; },
  };
}

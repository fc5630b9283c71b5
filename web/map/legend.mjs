// A layer's legend from the style's catalog (`bando:layers[id].legend`: colour, title_vi,
// title_en, values), as a list of swatches with their titles in the language asked. Shared by
// the planners' map (under the layer in the tree) and the portal (the sheet's zones).

/** The legend entries as `<ul class="legend">`; each item carries `data-values` (the codes). */
export function legendList(entries, lang) {
  const list = document.createElement('ul');
  list.className = 'legend';
  for (const entry of entries) {
    const item = document.createElement('li');
    item.dataset.colour = entry.colour;
    item.dataset.values = (entry.values ?? []).join(',');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = entry.colour;
    swatch.setAttribute('aria-hidden', 'true');
    const title = document.createElement('span');
    title.className = 'legend-title';
    title.textContent = lang === 'en' ? entry.title_en : entry.title_vi;
    item.append(swatch, ' ', title);
    list.append(item);
  }
  return list;
}

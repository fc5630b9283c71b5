// The layer tree: every layer of the style's catalog, grouped by sector in the server's order,
// ticked when shown. It owns which layers are visible and switches their style layers; a
// shown layer with a legend (planning zones by function) lists it under its title.
import { legendList } from '/map/legend.mjs';

/**
 * Builds the tree in `element` for `map` and returns it: `isVisible(id)`, `visibleIds()`,
 * `setVisible(id, on)`, `show(ids)` (exactly these) and `onChange(fn)`.
 * `shown`: layer ids to show instead of the style's start visibility (the URL's `layers=`).
 */
export function createLayerTree(map, { catalog, language, element, shown = null }) {
  const visible = new Map(catalog.layers.map((l) => [l.id, shown ? shown.includes(l.id) : l.visible]));
  const listeners = [];

  function apply(layer) {
    const value = visible.get(layer.id) ? 'visible' : 'none';
    for (const id of layer.styleLayers) map.setLayoutProperty(id, 'visibility', value);
  }

  function changed() {
    for (const fn of listeners) fn();
  }

  function render() {
    element.replaceChildren();
    if (!catalog.layers.length) {
      const p = document.createElement('p');
      p.className = 'empty';
      p.textContent = language.t('noLayers');
      element.append(p);
      return;
    }
    for (const sector of catalog.sectors) {
      const layers = catalog.layers.filter((l) => l.sector === sector.id);
      if (!layers.length) continue;
      const group = document.createElement('details');
      group.open = true;
      group.dataset.sector = sector.id;
      group.setAttribute('role', 'group');
      const summary = document.createElement('summary');
      summary.textContent = language.title(sector);
      group.append(summary);
      for (const layer of layers) {
        const label = document.createElement('label');
        label.dataset.layer = layer.id;
        const box = document.createElement('input');
        box.type = 'checkbox';
        box.checked = visible.get(layer.id);
        box.addEventListener('change', () => tree.setVisible(layer.id, box.checked));
        const title = document.createElement('span');
        title.className = 'title';
        title.textContent = language.title(layer);
        label.append(box, ' ', title);
        group.append(label);
        if (layer.legend.length) {
          const legend = legendList(layer.legend, language.current);
          legend.dataset.legend = layer.id;
          legend.hidden = !visible.get(layer.id);
          group.append(legend);
        }
      }
      element.append(group);
    }
  }

  const tree = {
    isVisible: (id) => visible.get(id) === true,
    visibleIds: () => catalog.layers.filter((l) => visible.get(l.id)).map((l) => l.id),
    setVisible(id, on) {
      const layer = catalog.layer(id);
      if (!layer) throw new Error(`no layer ${id} in the style`);
      visible.set(id, Boolean(on));
      apply(layer);
      const box = element.querySelector(`label[data-layer="${CSS.escape(id)}"] input`);
      if (box) box.checked = Boolean(on);
      const legend = element.querySelector(`ul[data-legend="${CSS.escape(id)}"]`);
      if (legend) legend.hidden = !on;
      changed();
    },
    show(ids) {
      for (const layer of catalog.layers) {
        visible.set(layer.id, ids.includes(layer.id));
        apply(layer);
      }
      render();
      changed();
    },
    onChange(fn) { listeners.push(fn); },
  };

  for (const layer of catalog.layers) apply(layer);
  render();
  language.onChange(render);
  return tree;
}

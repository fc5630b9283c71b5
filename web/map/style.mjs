// The map's style and the catalog it carries: bando's `/styles/planning.json` is the one source
// of layer, sector and property titles, of which layers are shown at start, and of the style
// layers drawing each layer. A style without that metadata is an error, not something to guess.
export const STYLE_URL = '/styles/planning.json';

/** The planners' style, as served (asked through `http`, see http.mjs). Rejects when the server does not answer it. */
export function loadStyle(http) {
  return http.json(STYLE_URL);
}

function titled(what, item) {
  if (typeof item?.title_vi !== 'string' || typeof item?.title_en !== 'string') {
    throw new Error(`${STYLE_URL}: ${what} has no title_vi/title_en`);
  }
}

/**
 * The catalog of a style's root metadata (`bando:sectors`, `bando:layers`), read-only:
 * `sectors` [{ id, title_vi, title_en }] in the server's order, `layers` [{ id, title_vi,
 * title_en, sector, visible, properties: [{ name, title_vi, title_en }], legend: [{ colour,
 * title_vi, title_en, values }], styleLayers: [ids] }]
 * in the server's order, and `layer(id)`.
 */
export function readCatalog(style) {
  const sectors = style.metadata?.['bando:sectors'];
  const described = style.metadata?.['bando:layers'];
  if (!Array.isArray(sectors) || !described || typeof described !== 'object') {
    throw new Error(`${STYLE_URL} carries no metadata["bando:sectors"] and ["bando:layers"]`);
  }
  for (const sector of sectors) titled(`sector ${sector?.id}`, sector);
  const sectorIds = new Set(sectors.map((s) => s.id));
  const layers = Object.entries(described).map(([id, d]) => {
    titled(`layer ${id}`, d);
    if (!sectorIds.has(d.sector)) throw new Error(`${STYLE_URL}: layer ${id} is in sector ${d.sector}, which bando:sectors does not list`);
    const properties = d.properties ?? [];
    for (const p of properties) titled(`property ${id}.${p.name}`, p);
    const styleLayers = (style.layers ?? []).filter((l) => l.metadata?.['bando:layer'] === id).map((l) => l.id);
    if (!styleLayers.length) throw new Error(`${STYLE_URL}: no style layer draws layer ${id}`);
    return Object.freeze({
      id,
      title_vi: d.title_vi,
      title_en: d.title_en,
      sector: d.sector,
      visible: d.visible === true,
      properties: Object.freeze(properties.map((p) => Object.freeze({ ...p }))),
      legend: Object.freeze((d.legend ?? []).map((e) => Object.freeze({ ...e }))),
      styleLayers: Object.freeze(styleLayers),
    });
  });
  const byId = new Map(layers.map((l) => [l.id, l]));
  return Object.freeze({
    sectors: Object.freeze(sectors.map((s) => Object.freeze({ ...s }))),
    layers: Object.freeze(layers),
    layer: (id) => byId.get(id),
  });
}

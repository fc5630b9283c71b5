// Parcel search: commune, sheet and parcel number asked of bando's `/query/parcels`; the map
// flies to what is found and outlines it. The commune field offers the communes of
// `/collections/communes/items` (OGC API Features). Failures are shown, never guessed around.

function bboxOf(feature) {
  if (Array.isArray(feature.bbox) && feature.bbox.length >= 4) return feature.bbox.slice(0, 4);
  let w = Infinity; let s = Infinity; let e = -Infinity; let n = -Infinity;
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]);
    } else c.forEach(walk);
  };
  if (feature.geometry?.coordinates) walk(feature.geometry.coordinates);
  return Number.isFinite(w) ? [w, s, e, n] : null;
}

/** Fills the commune `datalist` (value: the code parcels carry, label: the name). */
async function loadCommunes(http, datalist) {
  const collection = await http.json('/collections/communes/items?limit=1000');
  const seen = new Set();
  for (const f of collection.features) {
    const p = f.properties ?? {};
    // Parcels keep the code of the commune they were surveyed in (before the 2025 merger).
    const code = p.legacy_code ?? p.code;
    if (!code || seen.has(code)) continue;
    seen.add(code);
    const option = document.createElement('option');
    option.value = code;
    const name = p.legacy_name ?? p.name;
    option.label = [name, p.legacy_name && p.name && p.name !== p.legacy_name ? `→ ${p.name}` : null]
      .filter(Boolean).join(' ');
    datalist.append(option);
  }
}

/**
 * Parcel search on `map` with the form's elements { form, commune, sheet, number, output,
 * datalist }: returns `search(commune, sheet, number)`, resolving to the found collection, or
 * null after showing the failure. `onFound(collection)` is told of what the form's searches find.
 */
export function createSearch(map, { http, language, highlight, status, elements, onFound = () => {} }) {
  const { form, commune, sheet, number, output, datalist } = elements;

  async function search(communeCode, sheetNumber, parcelNumber) {
    output.textContent = language.t('searching');
    const params = new URLSearchParams({
      commune: String(communeCode).trim(), sheet: String(sheetNumber).trim(), number: String(parcelNumber).trim(),
    });
    let collection;
    try {
      collection = await http.json(`/query/parcels?${params}`);
    } catch (e) {
      output.textContent = `${language.t('searchFailed')}: ${e.message}`;
      return null;
    }
    const features = collection.features;
    highlight.show(features);
    if (!features.length) {
      output.textContent = language.t('notFound');
      return collection;
    }
    output.textContent = language.t('found', features.length);
    const boxes = features.map(bboxOf).filter(Boolean);
    if (boxes.length) {
      const box = boxes.reduce((a, b) => [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])]);
      const moved = new Promise((ok) => map.once('moveend', ok));
      map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 60, maxZoom: 19, duration: 600 });
      await moved;
    }
    return collection;
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    search(commune.value, sheet.value, number.value).then((found) => { if (found) onFound(found); });
  });
  loadCommunes(http, datalist).catch((e) => status.error(`${language.t('communesFailed')}: ${e.message}`));
  return { search };
}

// The view in the URL hash: `#map=zoom/lat/lon[/bearing]&layers=a,b[&lang=en]`. Written on every
// move, layer or language change; a hash typed or pasted into the address bar is applied.

/** The view, layer ids and language a hash names (each `null` when absent or malformed). */
export function parseHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  let view = null;
  const parts = (params.get('map') ?? '').split('/').map(Number);
  if (parts.length >= 3 && parts.slice(0, 3).every(Number.isFinite)) {
    const [zoom, lat, lon, bearing = 0] = parts;
    if (Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
      view = { zoom, center: [lon, lat], bearing: Number.isFinite(bearing) ? bearing : 0 };
    }
  }
  const layers = params.has('layers')
    ? params.get('layers').split(',').map((s) => s.trim()).filter(Boolean)
    : null;
  const lang = params.get('lang');
  return { view, layers, lang: lang === 'vi' || lang === 'en' ? lang : null };
}

/** The hash of a map view, the visible layer ids and the language (Vietnamese is not written). */
export function formatHash({ zoom, center, bearing }, layers, lang) {
  let view = `${zoom.toFixed(2)}/${center.lat.toFixed(6)}/${center.lng.toFixed(6)}`;
  if (Math.abs(bearing) >= 0.05) view += `/${bearing.toFixed(1)}`;
  let hash = `#map=${view}&layers=${layers.map(encodeURIComponent).join(',')}`;
  if (lang !== 'vi') hash += `&lang=${lang}`;
  return hash;
}

/** Keeps the hash in step with `map`, the layer `tree` and the `language`, both ways. */
export function keepInHash(map, { tree, language }) {
  const write = () => {
    const hash = formatHash({ zoom: map.getZoom(), center: map.getCenter(), bearing: map.getBearing() },
      tree.visibleIds(), language.current);
    if (hash !== location.hash) history.replaceState(null, '', hash);
  };
  map.on('moveend', write);
  tree.onChange(write);
  language.onChange(write);
  window.addEventListener('hashchange', () => {
    const wanted = parseHash(location.hash);
    if (wanted.view) map.jumpTo(wanted.view);
    if (wanted.layers) tree.show(wanted.layers);
    if (wanted.lang) language.set(wanted.lang);
    write();
  });
  write();
}

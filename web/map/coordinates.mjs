// The coordinates panel: WGS84 latitude/longitude and VN-2000 TM-3 X (northing) / Y (easting)
// of the point under the cursor, in the zone of its longitude (vn2000.mjs, proj4js).
import { makeConverter } from '/map/vn2000.mjs';

/**
 * Follows the cursor over `map` and writes into `wgs84` and `vn2000` (the panel's spans);
 * returns `show(lngLat)`, which also returns what it wrote ({ lat, lon, x, y, srid }).
 */
export function createCoordinates(map, { proj4, language, wgs84, vn2000 }) {
  const toVn2000 = makeConverter(proj4);
  let last = map.getCenter();

  function show({ lng, lat }) {
    last = { lng, lat };
    const wgs = wgs84.querySelector('.value');
    wgs.textContent = `${language.t('lat')} ${lat.toFixed(6)}, ${language.t('lon')} ${lng.toFixed(6)}`;
    wgs.dataset.lat = lat.toFixed(6);
    wgs.dataset.lon = lng.toFixed(6);
    const vn = toVn2000(lng, lat);
    const out = vn2000.querySelector('.value');
    out.textContent = `X ${vn.x.toFixed(3)} m, Y ${vn.y.toFixed(3)} m`;
    out.dataset.x = vn.x.toFixed(3);
    out.dataset.y = vn.y.toFixed(3);
    out.dataset.srid = String(vn.zone.srid);
    vn2000.querySelector('.zone').textContent = `(${vn.zone.name})`;
    return { lat, lon: lng, x: vn.x, y: vn.y, srid: vn.zone.srid };
  }

  map.on('mousemove', (e) => show(e.lngLat));
  language.onChange(() => show(last));
  show(last);
  return { show };
}

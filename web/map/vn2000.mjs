// VN-2000 TM-3 coordinates for the coordinates panel, computed in the browser with proj4js.
//
// The +towgs84 values are PROJ's own rendering of the EPSG:6960 transformation (VN-2000 to
// WGS 84 (2)), i.e. position-vector signs: the rotations published in QĐ 05/2007 use the
// coordinate-frame convention, and copying them verbatim puts points about 0.56 m off.
// `projinfo -o PROJ EPSG:9212 --single-line` prints the same string; tests/map-vn2000.test.mjs
// compares against `cs2cs EPSG:4326 EPSG:9212` on this machine.

const TOWGS84 =
  '-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278';

/** The two TM-3 zones of the province: lon_0 106°15' (west of 107°E) and 107°45' (east). */
export const ZONES = [
  { code: 'EPSG:9212', srid: 9212, lon0: 106.25, name: "VN-2000 / TM-3 106°15'" },
  { code: 'EPSG:5899', srid: 5899, lon0: 107.75, name: "VN-2000 / TM-3 107°45'" },
];

/** proj4 definition of a zone. */
export function definition(zone) {
  return `+proj=tmerc +lat_0=0 +lon_0=${zone.lon0} +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 ` +
    `+towgs84=${TOWGS84} +units=m +no_defs`;
}

/** The zone whose central meridian serves a longitude (the boundary is 107°E). */
export function zoneFor(lon) {
  return lon < 107 ? ZONES[0] : ZONES[1];
}

/**
 * Registers both zones with a proj4 instance and returns a converter
 * `(lon, lat) → { zone, x, y }` with X = northing and Y = easting, as surveyors write them.
 */
export function makeConverter(proj4) {
  for (const zone of ZONES) proj4.defs(zone.code, definition(zone));
  return (lon, lat, zone = zoneFor(lon)) => {
    const [easting, northing] = proj4('EPSG:4326', zone.code, [lon, lat]);
    return { zone, x: northing, y: easting };
  };
}

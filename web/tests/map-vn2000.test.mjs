// The map's VN-2000 coordinates (proj4js in the browser) agree with PROJ on this machine
// (cs2cs, EPSG:6960 path) to within a centimetre, in both TM-3 zones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import proj4 from 'proj4';
import { makeConverter, zoneFor, ZONES } from '../map/vn2000.mjs';

/** PROJ's answer: cs2cs reads EPSG:4326 as latitude, longitude and writes easting, northing. */
function cs2cs(target, points) {
  const input = points.map(([lon, lat]) => `${lat} ${lon}`).join('\n') + '\n';
  const out = execFileSync('cs2cs', ['-f', '%.4f', 'EPSG:4326', target], { input }).toString();
  return out.trim().split('\n').map((line) => {
    const [e, n] = line.trim().split(/\s+/).map(Number);
    assert.ok(Number.isFinite(e) && Number.isFinite(n), `cs2cs answered ${line}`);
    return { easting: e, northing: n };
  });
}

const toVn2000 = makeConverter(proj4);

test('the reference point of the brief: X = northing, Y = easting in EPSG:9212', () => {
  const p = toVn2000(106.883, 11.535);
  assert.equal(p.zone.code, 'EPSG:9212');
  assert.ok(Math.abs(p.x - 1275706.945) < 0.01, `X ${p.x}`);
  assert.ok(Math.abs(p.y - 568850.121) < 0.01, `Y ${p.y}`);
});

for (const zone of ZONES) {
  test(`proj4js matches cs2cs EPSG:4326 → ${zone.code} to 1 cm`, () => {
    const points = [
      [zone.lon0, 11.5], [zone.lon0 - 0.6, 10.8], [zone.lon0 + 0.7, 12.1],
      [106.883, 11.535], [107.2, 11.0], [zone.lon0 + 0.1, 9.0],
    ];
    const expected = cs2cs(zone.code, points);
    points.forEach(([lon, lat], i) => {
      const got = toVn2000(lon, lat, zone);
      const de = got.y - expected[i].easting;
      const dn = got.x - expected[i].northing;
      const off = Math.hypot(de, dn);
      assert.ok(off <= 0.01, `${lon},${lat} in ${zone.code}: ${off.toFixed(4)} m off (dE ${de}, dN ${dn})`);
    });
  });
}

test('a towgs84 with the QĐ 05/2007 rotation signs verbatim would be visibly off (the check bites)', () => {
  const verbatim = '+proj=tmerc +lat_0=0 +lon_0=106.25 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 ' +
    '+towgs84=-191.90441429,-39.30318279,-111.45032835,-0.00928836,0.01975479,-0.00427372,0.252906278 +units=m +no_defs';
  const [e, n] = proj4('EPSG:4326', verbatim, [106.883, 11.535]);
  const [expected] = cs2cs('EPSG:9212', [[106.883, 11.535]]);
  const off = Math.hypot(e - expected.easting, n - expected.northing);
  assert.ok(off > 0.3, `verbatim signs only ${off} m off`);
});

test('the zone boundary is 107°E', () => {
  assert.equal(zoneFor(106.999).code, 'EPSG:9212');
  assert.equal(zoneFor(107.0).code, 'EPSG:5899');
});

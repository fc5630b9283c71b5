-- The native VN-2000 TM-3 zone of geometry delivered in another CRS (WGS84 GeoJSON, UTM…),
-- used by the bulk writer for every feature table. The generic rule: the TM-3 zone whose
-- central meridian is nearest to the geometry. An owner that knows better replaces it (the
-- cadastre, land migration 1006: the zone of the commune the geometry lies in), so the
-- importers name no owner's function.
CREATE FUNCTION platform.native_srid(g geometry) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT s.srid FROM spatial_ref_sys s
    WHERE s.srid IN (9205, 9206, 9207, 9208, 9209, 9210, 9211, 9212, 9213, 9214, 9215, 9216,
                     9217, 9218, 5896, 5897, 5898, 5899)
      AND s.proj4text ~ '\+lon_0='
    ORDER BY abs(substring(s.proj4text from '\+lon_0=([-0-9.]+)')::float8
                 - ST_X(ST_Transform(ST_PointOnSurface(g), 4326))), s.srid
    LIMIT 1
$$;

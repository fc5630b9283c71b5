-- The province's rule for the native zone of geometry delivered in another CRS, for every
-- feature table: the zone of the commune it lies in, else by longitude (land.native_srid,
-- migration 1001). Replaces gis-core's generic rule (gis-core migration 7).
CREATE OR REPLACE FUNCTION platform.native_srid(g geometry) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT land.native_srid(g)
$$;

-- The parcels as of an instant in a box (items with `datetime=<instant>&bbox=…`, tiles with
-- `datetime=`) read the versions through a spatial index. Before this migration each version's
-- row was built as jsonb (geometry included) before the caller's box could apply: every
-- version was read and transformed (EXPLAIN ANALYZE, 9,000 versions: 190 ms for a small box).
-- The versions now keep their Web Mercator geometry (a generated column, so the existing rows
-- are filled), indexed like the living parcels', and land.parcels_as_of(at, box) applies the
-- box to it before building any row.
ALTER TABLE land.parcel_versions
    ADD COLUMN geom_3857 geometry(MultiPolygon, 3857)
        GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED;
CREATE INDEX parcel_versions_geom_3857_idx ON land.parcel_versions USING gist (geom_3857);

-- The parcels at `at` whose Web Mercator geometry meets `box` (bounding boxes, like `&&`): the
-- rows of land.parcels_as_of(at) in that box. The box is applied inside each branch, where it
-- meets an indexed column; a version's row is built from its attributes (LATERAL: once per
-- version, where `(f(x)).*` would call f once per column) only for the versions in the box.
-- `r.*` is expanded when the body is planned, so a column added to land.parcels later (by a
-- migration or by a declaration, gis_core::feature::ensure_table) needs no new definition.
CREATE FUNCTION land.parcels_as_of(at timestamptz, box geometry) RETURNS SETOF land.parcels
LANGUAGE sql STABLE AS $$
    SELECT p.* FROM land.parcels p
    WHERE p.geom_3857 && box
      AND p.updated_at <= at
      AND NOT EXISTS (SELECT 1 FROM land.parcel_versions v WHERE v.parcel_id = p.id)
    UNION ALL
    SELECT r.*
    FROM land.parcel_versions v
         CROSS JOIN LATERAL jsonb_populate_record(NULL::land.parcels,
             v.attributes || jsonb_build_object(
                 'geom', v.geom::text,
                 'geom_3857', v.geom_3857::text,
                 'area_m2', ST_Area(v.geom))) r
    WHERE v.geom_3857 && box
      AND v.begin_lifespan <= at AND (v.end_lifespan IS NULL OR v.end_lifespan > at)
$$;

-- Without a box: the same rows everywhere, each version's row built once (LATERAL).
CREATE OR REPLACE FUNCTION land.parcels_as_of(at timestamptz) RETURNS SETOF land.parcels
LANGUAGE sql STABLE AS $$
    SELECT p.* FROM land.parcels p
    WHERE p.updated_at <= at
      AND NOT EXISTS (SELECT 1 FROM land.parcel_versions v WHERE v.parcel_id = p.id)
    UNION ALL
    SELECT r.*
    FROM land.parcel_versions v
         CROSS JOIN LATERAL jsonb_populate_record(NULL::land.parcels,
             v.attributes || jsonb_build_object(
                 'geom', v.geom::text,
                 'geom_3857', v.geom_3857::text,
                 'area_m2', ST_Area(v.geom))) r
    WHERE v.begin_lifespan <= at AND (v.end_lifespan IS NULL OR v.end_lifespan > at)
$$;

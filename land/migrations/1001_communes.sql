-- Communes (xã/phường). Rows are the pre-merger units (map sheets restart per old commune), each
-- carrying the post-merger unit it now belongs to (from 2025-07-01 Binh Phuoc is part of Dong Nai,
-- province code 75), so searches accept either code. Geometry in the unit's native TM-3 zone.
SELECT platform.create_feature_table('land', 'communes', 'MultiPolygon',
    ARRAY[['legacy_code', 'text NOT NULL CHECK (legacy_code ~ ''^[0-9]{5}$'')'],
          ['legacy_name', 'text NOT NULL'],
          ['legacy_district', 'text'],
          ['code', 'text NOT NULL CHECK (code ~ ''^[0-9]{5}$'')'],
          ['name', 'text NOT NULL'],
          ['province_code', 'text NOT NULL CHECK (province_code ~ ''^[0-9]{2}$'')']],
    ARRAY['legacy_code']);
ALTER TABLE land.communes ADD COLUMN area_m2 double precision GENERATED ALWAYS AS (ST_Area(geom)) STORED;
CREATE INDEX communes_code_idx ON land.communes (code);

-- The native VN-2000 TM-3 zone for geometry delivered in another CRS: the zone of the commune
-- it falls in, else by longitude (old Binh Phuoc lies west of 107°E, old Dong Nai mostly east).
CREATE FUNCTION land.native_srid(g geometry) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT ST_SRID(c.geom) FROM land.communes c
          WHERE ST_Intersects(c.geom_3857, ST_Transform(ST_PointOnSurface(g), 3857)) LIMIT 1),
        CASE WHEN ST_X(ST_Transform(ST_PointOnSurface(g), 4326)) < 107.0 THEN 9212 ELSE 5899 END)
$$;

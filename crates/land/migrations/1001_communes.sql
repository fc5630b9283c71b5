-- Communes (xã/phường) of the province. Rows are the pre-merger units (map sheets restart per
-- old commune), each carrying the post-merger unit it now belongs to (from 2025-07-01 Binh Phuoc
-- is part of Dong Nai, province code 75), so searches accept either code.
CREATE SCHEMA IF NOT EXISTS land;

CREATE TABLE land.communes (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    legacy_code   text NOT NULL UNIQUE,      -- mã ĐVHC before 2025-07-01
    legacy_name   text NOT NULL,
    legacy_district text,                    -- district level, abolished in 2025
    code          text NOT NULL,             -- mã ĐVHC after the merger
    name          text NOT NULL,
    province_code text NOT NULL,
    -- Legal geometry in VN-2000 / TM-3 106-15 (EPSG:9212).
    geom          geometry(MultiPolygon, 9212) NOT NULL CHECK (ST_IsValid(geom)),
    -- Serving copy in Web Mercator, kept in step by PostgreSQL itself.
    geom_3857     geometry(MultiPolygon, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
    area_m2       double precision GENERATED ALWAYS AS (ST_Area(geom)) STORED,
    CHECK (code ~ '^[0-9]{5}$' AND legacy_code ~ '^[0-9]{5}$' AND province_code ~ '^[0-9]{2}$')
);
CREATE INDEX communes_geom_idx ON land.communes USING gist (geom);
CREATE INDEX communes_geom_3857_idx ON land.communes USING gist (geom_3857);
CREATE INDEX communes_code_idx ON land.communes (code);

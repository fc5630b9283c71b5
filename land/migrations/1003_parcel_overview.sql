-- Land-use overview of the parcels for low zooms (z8–z12), so a province-wide tile shows what
-- the land is used for instead of a million parcels too small to see (see land::overview).
--
-- The map is cut into cells aligned to the tile grid: at zoom z a cell is 8 pixels of a 256-pixel
-- tile (z12: 306 m, z8: 4.9 km), so every cell lies inside exactly one tile of its zoom. Each
-- parcel counts in the cell holding the centre of its bounding box (cheap: no union, no
-- intersection), and each (zoom, cell, land-use code) row is drawn as a band of the cell whose
-- Web Mercator area equals the parcels' area of that code in the cell: bands of the codes are
-- stacked from the cell's bottom edge, so a half-covered cell is half filled. Bands under one
-- pixel high (invisible, but bytes) are left out and the cell's visible bands share their area:
-- each cell keeps its largest code and at most three more. So the covered area of every cell is
-- kept, and each code's area closely where codes form patches (as land use does); minor codes
-- scattered through a cell lose their area to the cell's main ones. A cell whose counted parcels
-- cover more than the cell (a parcel larger than the cell) is filled and its bands scaled down.
CREATE TABLE land.parcel_overview (
    zoom smallint NOT NULL CHECK (zoom BETWEEN 8 AND 12),
    cell_x integer NOT NULL,
    cell_y integer NOT NULL,
    land_use_code text,                     -- NULL for parcels without a code
    parcel_count integer NOT NULL,
    area_m2 bigint NOT NULL,                -- the parcels' area in TM-3 metres, to the m²
    geom_3857 geometry(Polygon, 3857) NOT NULL
);
-- Refreshes rewrite whole cells.
CREATE INDEX parcel_overview_cell_idx ON land.parcel_overview (zoom, cell_x, cell_y);
-- One index per zoom: a tile query names its zoom as a literal, so it reads only its level.
CREATE INDEX parcel_overview_z8_idx ON land.parcel_overview USING gist (geom_3857) WHERE zoom = 8;
CREATE INDEX parcel_overview_z9_idx ON land.parcel_overview USING gist (geom_3857) WHERE zoom = 9;
CREATE INDEX parcel_overview_z10_idx ON land.parcel_overview USING gist (geom_3857) WHERE zoom = 10;
CREATE INDEX parcel_overview_z11_idx ON land.parcel_overview USING gist (geom_3857) WHERE zoom = 11;
CREATE INDEX parcel_overview_z12_idx ON land.parcel_overview USING gist (geom_3857) WHERE zoom = 12;

-- Recomputes the overview rows of every cell that may hold a parcel centre inside `bbox`
-- (EPSG:3857): the z8 cells meeting the box and every finer cell inside them. Returns the
-- number of rows written. Refreshes are serialised by a transaction-level advisory lock, so two
-- concurrent edits of one area cannot both rewrite its cells (the second waits, then sees the
-- first's parcels).
CREATE FUNCTION land.refresh_parcel_overview(bbox geometry) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    o constant float8 := 20037508.342789244;   -- half the Web Mercator world
    s12 constant float8 := 2 * 20037508.342789244 / 4096 / 32;
    x0 int; x1 int; y0 int; y1 int;            -- the z8 cells
    region geometry;
    lz int;
    written bigint;
BEGIN
    IF bbox IS NULL OR ST_IsEmpty(bbox) THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('land.parcel_overview'));
    -- z8 cell numbers derived from z12 ones, exactly as the rows below are, so deleted and
    -- rewritten cells always agree.
    x0 := floor((ST_XMin(bbox) + o) / s12)::int >> 4;
    x1 := floor((ST_XMax(bbox) + o) / s12)::int >> 4;
    y0 := floor((o - ST_YMax(bbox)) / s12)::int >> 4;
    y1 := floor((o - ST_YMin(bbox)) / s12)::int >> 4;
    region := ST_MakeEnvelope(x0 * 16 * s12 - o, o - (y1 + 1) * 16 * s12,
                              (x1 + 1) * 16 * s12 - o, o - y0 * 16 * s12, 3857);
    FOR lz IN 8 .. 12 LOOP
        DELETE FROM land.parcel_overview
         WHERE zoom = lz
           AND cell_x BETWEEN x0 << (lz - 8) AND ((x1 + 1) << (lz - 8)) - 1
           AND cell_y BETWEEN y0 << (lz - 8) AND ((y1 + 1) << (lz - 8)) - 1;
    END LOOP;
    INSERT INTO land.parcel_overview (zoom, cell_x, cell_y, land_use_code, parcel_count, area_m2, geom_3857)
    WITH centres AS (
        SELECT (ST_XMin(geom_3857) + ST_XMax(geom_3857)) / 2 AS x,
               (ST_YMin(geom_3857) + ST_YMax(geom_3857)) / 2 AS y,
               land_use_code AS code, area_m2
        FROM land.parcels
        WHERE geom_3857 && region
    ), base AS (
        SELECT floor((x + o) / s12)::int AS cx, floor((o - y) / s12)::int AS cy, code,
               count(*) AS n, sum(area_m2) AS a,
               -- Web Mercator stretches areas by 1/cos²(latitude) = cosh²(y / R).
               sum(area_m2 * cosh(y / 6378137.0) ^ 2) AS am
        FROM centres
        GROUP BY 1, 2, 3
    ), levels AS (
        SELECT z, b.cx >> (12 - z) AS cx, b.cy >> (12 - z) AS cy, code,
               sum(n)::int AS n, sum(a) AS a, sum(am) AS am,
               s12 * (1 << (12 - z)) AS s
        FROM base b, generate_series(8, 12) AS z
        WHERE (b.cx >> 4) BETWEEN x0 AND x1 AND (b.cy >> 4) BETWEEN y0 AND y1
        GROUP BY 1, 2, 3, 4
    ), ranked AS (
        SELECT *, row_number() OVER (PARTITION BY z, cx, cy ORDER BY am DESC, code) AS rank,
               sum(am) OVER (PARTITION BY z, cx, cy) AS total
        FROM levels
    ), kept AS (
        -- A band under one pixel high cannot be seen: each cell keeps its largest code and up
        -- to three more bands of at least a pixel (at most 4 × 1024 bands in a tile).
        SELECT * FROM ranked WHERE rank = 1 OR (rank <= 4 AND am * 8 >= s * s)
    ), stacked AS (
        SELECT *, sum(am) OVER (PARTITION BY z, cx, cy ORDER BY code) AS upper,
               -- The kept bands share the covered part of the cell (at most all of it).
               least(total, s * s) / sum(am) OVER (PARTITION BY z, cx, cy) / s AS per_area
        FROM kept
    )
    SELECT z, cx, cy, code, n, round(a)::bigint,
           ST_MakeEnvelope(cx * s - o, o - (cy + 1) * s + (upper - am) * per_area,
                           (cx + 1) * s - o, o - (cy + 1) * s + upper * per_area, 3857)
    FROM stacked;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;

-- Edits (any INSERT, UPDATE or DELETE statement on the parcels) refresh the overview of the
-- changed area in the same transaction, so the change notification the feature-table triggers
-- send (delivered at commit) never precedes the overview it invalidates. Bulk loads by a
-- superuser skip triggers (session_replication_role = replica) and refresh once afterwards
-- (importers::pipeline → land::overview::refresh).
CREATE FUNCTION land.refresh_parcel_overview_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    box box2d;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT ST_Extent(geom_3857) INTO box FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT ST_Extent(geom_3857) INTO box FROM old_rows;
    ELSE
        SELECT ST_Extent(g) INTO box FROM (
            SELECT geom_3857 AS g FROM old_rows UNION ALL SELECT geom_3857 FROM new_rows) x;
    END IF;
    IF box IS NOT NULL THEN
        PERFORM land.refresh_parcel_overview(ST_SetSRID(box::geometry, 3857));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER parcels_overview_insert AFTER INSERT ON land.parcels
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION land.refresh_parcel_overview_trigger();
CREATE TRIGGER parcels_overview_update AFTER UPDATE ON land.parcels
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION land.refresh_parcel_overview_trigger();
CREATE TRIGGER parcels_overview_delete AFTER DELETE ON land.parcels
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION land.refresh_parcel_overview_trigger();

-- Parcels already loaded when this migration runs.
SELECT land.refresh_parcel_overview(ST_SetSRID(ST_Extent(geom_3857)::geometry, 3857)) FROM land.parcels;

-- Re-deliveries (issue 18) refresh the land-use overview of many touched areas at once: one
-- refresh of the z8 cells they meet (or of their range, when many), instead of one refresh per
-- area (neighbouring areas share z8 cells, and each refresh scanned the parcels of its whole
-- box: 22 areas of a 1 % change spread over a province cost 3.7 times one full refresh). The single-box function the
-- edit triggers call becomes the one-element case, so the overview is computed by one body.

-- The range of z8 cells (numbered from z12 cells exactly as the overview rows are) that may
-- hold a parcel centre inside each of `boxes` (EPSG:3857).
CREATE FUNCTION land.overview_z8_ranges(boxes geometry[])
RETURNS TABLE (x0 int, x1 int, y0 int, y1 int)
LANGUAGE sql IMMUTABLE AS $$
    SELECT floor((ST_XMin(b) + 20037508.342789244) / (2 * 20037508.342789244 / 4096 / 32))::int >> 4,
           floor((ST_XMax(b) + 20037508.342789244) / (2 * 20037508.342789244 / 4096 / 32))::int >> 4,
           floor((20037508.342789244 - ST_YMax(b)) / (2 * 20037508.342789244 / 4096 / 32))::int >> 4,
           floor((20037508.342789244 - ST_YMin(b)) / (2 * 20037508.342789244 / 4096 / 32))::int >> 4
    FROM unnest(boxes) AS b
    WHERE b IS NOT NULL AND NOT ST_IsEmpty(b)
$$;

-- Recomputes the overview rows of every z8 cell meeting one of `boxes` (for more than 64 such
-- cells: every z8 cell of their range) and of every finer cell inside them (see
-- 1003_parcel_overview.sql for what a row is). Returns the rows written. Serialised by the
-- same advisory lock as before.
CREATE FUNCTION land.refresh_parcel_overview_areas(boxes geometry[]) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    o constant float8 := 20037508.342789244;   -- half the Web Mercator world
    s12 constant float8 := 2 * 20037508.342789244 / 4096 / 32;
    xs int[];                                  -- the z8 cells, as two arrays
    ys int[];
    by_cell boolean;                           -- few cells: exactly those; many: their range
    x0 int; x1 int; y0 int; y1 int;            -- the range of z8 cells
    region geometry;
    lz int;
    written bigint;
BEGIN
    SELECT min(r.x0), max(r.x1), min(r.y0), max(r.y1),
           sum((r.x1 - r.x0 + 1)::bigint * (r.y1 - r.y0 + 1)) <= 64
      INTO x0, x1, y0, y1, by_cell FROM land.overview_z8_ranges(boxes) r;
    IF x0 IS NULL THEN
        RETURN 0;
    END IF;
    -- An edit touches a few cells: exactly those are rewritten. A load's areas (or the whole
    -- world, asked for a full refresh) touch many: then every cell of their range is, which
    -- leaves a cell not touched as it was (the sums below are exact), in one pass with range
    -- conditions — never a loop per cell.
    IF by_cell THEN
        SELECT array_agg(c.x8), array_agg(c.y8) INTO xs, ys
          FROM (SELECT DISTINCT x8, y8 FROM land.overview_z8_ranges(boxes) r,
                       generate_series(r.x0, r.x1) AS x8, generate_series(r.y0, r.y1) AS y8) c;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('land.parcel_overview'));
    region := ST_MakeEnvelope(x0 * 16 * s12 - o, o - (y1 + 1) * 16 * s12,
                              (x1 + 1) * 16 * s12 - o, o - y0 * 16 * s12, 3857);
    IF by_cell THEN
        -- Range conditions per cell and zoom, read through the cell index.
        DELETE FROM land.parcel_overview p
         USING unnest(xs, ys) AS c(x8, y8), generate_series(8, 12) AS g(z)
         WHERE p.zoom = g.z
           AND p.cell_x BETWEEN c.x8 << (g.z - 8) AND ((c.x8 + 1) << (g.z - 8)) - 1
           AND p.cell_y BETWEEN c.y8 << (g.z - 8) AND ((c.y8 + 1) << (g.z - 8)) - 1;
    ELSE
        FOR lz IN 8 .. 12 LOOP
            DELETE FROM land.parcel_overview
             WHERE zoom = lz
               AND cell_x BETWEEN x0 << (lz - 8) AND ((x1 + 1) << (lz - 8)) - 1
               AND cell_y BETWEEN y0 << (lz - 8) AND ((y1 + 1) << (lz - 8)) - 1;
        END LOOP;
    END IF;
    INSERT INTO land.parcel_overview (zoom, cell_x, cell_y, land_use_code, parcel_count, area_m2, geom_3857)
    WITH centres AS (
        SELECT (ST_XMin(geom_3857) + ST_XMax(geom_3857)) / 2 AS x,
               (ST_YMin(geom_3857) + ST_YMax(geom_3857)) / 2 AS y,
               land_use_code AS code, area_m2
        FROM land.parcels
        WHERE geom_3857 && region
    ), base AS (
        SELECT floor((x + o) / s12)::int AS cx, floor((o - y) / s12)::int AS cy, code,
               count(*) AS n, sum(area_m2::numeric) AS a,
               -- Web Mercator stretches areas by 1/cos²(latitude) = cosh²(y / R). Summed
               -- exactly (numeric), so the bands do not depend on the order rows are read in:
               -- a refresh of any set of areas writes the rows a full refresh would.
               sum((area_m2 * cosh(y / 6378137.0) ^ 2)::numeric) AS am
        FROM centres
        GROUP BY 1, 2, 3
    ), chosen AS (
        -- The base cells inside the range of z8 cells, and for a few cells inside those.
        SELECT b.* FROM base b
        WHERE (b.cx >> 4) BETWEEN x0 AND x1 AND (b.cy >> 4) BETWEEN y0 AND y1
          AND (NOT by_cell OR EXISTS (SELECT 1 FROM unnest(xs, ys) AS c(x8, y8)
                                      WHERE c.x8 = b.cx >> 4 AND c.y8 = b.cy >> 4))
    ), levels AS (
        SELECT z, b.cx >> (12 - z) AS cx, b.cy >> (12 - z) AS cy, code,
               sum(n)::int AS n, sum(a) AS a, sum(am)::float8 AS am,
               s12 * (1 << (12 - z)) AS s
        FROM chosen b, generate_series(8, 12) AS z
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

-- The edits' single box: the one-element case.
CREATE OR REPLACE FUNCTION land.refresh_parcel_overview(bbox geometry) RETURNS bigint
LANGUAGE sql AS $$
    SELECT land.refresh_parcel_overview_areas(ARRAY[bbox])
$$;

-- The land-use overview kept by differences (issue 18). Until now every refresh recounted the
-- parcels of whole z8 cells (4.9 km), and a re-delivery whose 1 % of changes is spread over the
-- province touched every z8 cell: a full recount of a million parcels and a rewrite of every
-- overview row, the one step only re-deliveries paid (5.6 s of 33.6 s at 1M).
--
-- Now each cell's sums per land-use code are stored at every zoom. A change recounts only the
-- z12 cells (306 m) that its rows' old and new boxes meet, adds the differences to those
-- cells' z8–z11 ancestors, and redraws the cells whose sums changed from the stored sums. The
-- sums are exact (numeric), so a cell's sums are the same however they were reached, and the
-- drawn rows are those a full refresh writes (tests/it/lowzoom.rs, redelivery.rs and
-- faults_import.rs compare them).
CREATE TABLE land.parcel_overview_sums (
    zoom smallint NOT NULL CHECK (zoom BETWEEN 8 AND 12),
    cell_x integer NOT NULL,
    cell_y integer NOT NULL,
    land_use_code text,                     -- NULL for parcels without a code
    parcel_count bigint NOT NULL,
    area numeric NOT NULL,                  -- sum of area_m2 (TM-3 metres)
    area_3857 numeric NOT NULL              -- sum of area_m2 · cosh²(y / R): Web Mercator m²
);
CREATE UNIQUE INDEX parcel_overview_sums_key
    ON land.parcel_overview_sums (zoom, cell_x, cell_y, land_use_code) NULLS NOT DISTINCT;

-- Redraws the overview rows of the cells (zoom, x, y) from their stored sums (see
-- 1003_parcel_overview.sql for what a row is). The one body that draws bands.
CREATE FUNCTION land.draw_parcel_overview(zs int[], xs int[], ys int[]) RETURNS bigint
LANGUAGE plpgsql SET enable_nestloop = on AS $$
DECLARE
    o constant float8 := 20037508.342789244;   -- half the Web Mercator world
    s12 constant float8 := 2 * 20037508.342789244 / 4096 / 32;
    written bigint;
BEGIN
    DELETE FROM land.parcel_overview p
     USING (SELECT DISTINCT * FROM unnest(zs, xs, ys)) AS c(z, x, y)
     WHERE p.zoom = c.z AND p.cell_x = c.x AND p.cell_y = c.y;
    INSERT INTO land.parcel_overview (zoom, cell_x, cell_y, land_use_code, parcel_count, area_m2, geom_3857)
    WITH levels AS (
        SELECT s.zoom AS z, s.cell_x AS cx, s.cell_y AS cy, s.land_use_code AS code,
               s.parcel_count::int AS n, s.area AS a, s.area_3857::float8 AS am,
               s12 * (1 << (12 - s.zoom)) AS s
        FROM (SELECT DISTINCT * FROM unnest(zs, xs, ys)) AS c(z, x, y)
        JOIN land.parcel_overview_sums s ON s.zoom = c.z AND s.cell_x = c.x AND s.cell_y = c.y
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

-- Recounts every cell that may hold a parcel centre inside one of `boxes` (EPSG:3857): the z8
-- cells meeting them (for more than 64 such cells, every z8 cell of their range) and every
-- finer cell inside them, in one pass over their parcels; stores the sums and redraws. For a
-- full refresh (the whole world) and large areas. Returns the overview rows written.
CREATE OR REPLACE FUNCTION land.refresh_parcel_overview_areas(boxes geometry[]) RETURNS bigint
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
    drawn record;
BEGIN
    SELECT min(r.x0), max(r.x1), min(r.y0), max(r.y1),
           sum((r.x1 - r.x0 + 1)::bigint * (r.y1 - r.y0 + 1)) <= 64
      INTO x0, x1, y0, y1, by_cell FROM land.overview_z8_ranges(boxes) r;
    IF x0 IS NULL THEN
        RETURN 0;
    END IF;
    IF by_cell THEN
        SELECT array_agg(c.x8), array_agg(c.y8) INTO xs, ys
          FROM (SELECT DISTINCT x8, y8 FROM land.overview_z8_ranges(boxes) r,
                       generate_series(r.x0, r.x1) AS x8, generate_series(r.y0, r.y1) AS y8) c;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('land.parcel_overview'));
    region := ST_MakeEnvelope(x0 * 16 * s12 - o, o - (y1 + 1) * 16 * s12,
                              (x1 + 1) * 16 * s12 - o, o - y0 * 16 * s12, 3857);
    -- Sums and rows of the recounted cells go; cells left without parcels stay gone.
    IF by_cell THEN
        DELETE FROM land.parcel_overview_sums p
         USING unnest(xs, ys) AS c(x8, y8), generate_series(8, 12) AS g(z)
         WHERE p.zoom = g.z
           AND p.cell_x BETWEEN c.x8 << (g.z - 8) AND ((c.x8 + 1) << (g.z - 8)) - 1
           AND p.cell_y BETWEEN c.y8 << (g.z - 8) AND ((c.y8 + 1) << (g.z - 8)) - 1;
        DELETE FROM land.parcel_overview p
         USING unnest(xs, ys) AS c(x8, y8), generate_series(8, 12) AS g(z)
         WHERE p.zoom = g.z
           AND p.cell_x BETWEEN c.x8 << (g.z - 8) AND ((c.x8 + 1) << (g.z - 8)) - 1
           AND p.cell_y BETWEEN c.y8 << (g.z - 8) AND ((c.y8 + 1) << (g.z - 8)) - 1;
    ELSE
        FOR lz IN 8 .. 12 LOOP
            DELETE FROM land.parcel_overview_sums
             WHERE zoom = lz
               AND cell_x BETWEEN x0 << (lz - 8) AND ((x1 + 1) << (lz - 8)) - 1
               AND cell_y BETWEEN y0 << (lz - 8) AND ((y1 + 1) << (lz - 8)) - 1;
            DELETE FROM land.parcel_overview
             WHERE zoom = lz
               AND cell_x BETWEEN x0 << (lz - 8) AND ((x1 + 1) << (lz - 8)) - 1
               AND cell_y BETWEEN y0 << (lz - 8) AND ((y1 + 1) << (lz - 8)) - 1;
        END LOOP;
    END IF;
    INSERT INTO land.parcel_overview_sums (zoom, cell_x, cell_y, land_use_code, parcel_count, area, area_3857)
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
               -- exactly (numeric), so sums do not depend on the order rows are read in or
               -- on how a cell's sums were reached.
               sum((area_m2 * cosh(y / 6378137.0) ^ 2)::numeric) AS am
        FROM centres
        GROUP BY 1, 2, 3
    ), chosen AS (
        -- The base cells inside the range of z8 cells, and for a few cells inside those.
        SELECT b.* FROM base b
        WHERE (b.cx >> 4) BETWEEN x0 AND x1 AND (b.cy >> 4) BETWEEN y0 AND y1
          AND (NOT by_cell OR EXISTS (SELECT 1 FROM unnest(xs, ys) AS c(x8, y8)
                                      WHERE c.x8 = b.cx >> 4 AND c.y8 = b.cy >> 4))
    )
    SELECT z, b.cx >> (12 - z), b.cy >> (12 - z), code, sum(n), sum(a), sum(am)
    FROM chosen b, generate_series(8, 12) AS z
    GROUP BY 1, 2, 3, 4;
    SELECT array_agg(zoom) AS z, array_agg(cell_x) AS x, array_agg(cell_y) AS y INTO drawn
      FROM (SELECT DISTINCT zoom::int, cell_x, cell_y FROM land.parcel_overview_sums
             WHERE cell_x BETWEEN x0 << (zoom - 8) AND ((x1 + 1) << (zoom - 8)) - 1
               AND cell_y BETWEEN y0 << (zoom - 8) AND ((y1 + 1) << (zoom - 8)) - 1
               AND (NOT by_cell OR EXISTS (
                       SELECT 1 FROM unnest(xs, ys) AS c(x8, y8)
                        WHERE c.x8 = cell_x >> (zoom - 8) AND c.y8 = cell_y >> (zoom - 8)))) c;
    IF drawn.z IS NULL THEN
        RETURN 0;
    END IF;
    RETURN land.draw_parcel_overview(drawn.z, drawn.x, drawn.y);
END $$;

-- Brings the overview up to date after the parcels whose old or new bounding boxes are
-- `boxes` (EPSG:3857; one per changed row and side, not their extent) changed: recounts the
-- z12 cells those boxes meet (an index lookup per cell), adds the differences to the stored
-- sums of the cells and their z8–z11 ancestors, and redraws the cells whose sums changed.
-- Boxes meeting more than 100,000 z12 cells fall back to recounting their areas. Returns the
-- overview rows written.
CREATE FUNCTION land.refresh_parcel_overview_boxes(boxes geometry[]) RETURNS bigint
LANGUAGE plpgsql SET enable_nestloop = on AS $$
DECLARE
    o constant float8 := 20037508.342789244;   -- half the Web Mercator world
    s12 constant float8 := 2 * 20037508.342789244 / 4096 / 32;
    cx int[];                                  -- the z12 cells to recount
    cy int[];
    cells bigint;
    d record;                                  -- the differences, as arrays
    drawn record;
BEGIN
    -- A cell holds a parcel when its box's centre lies in it: every cell the box meets may.
    SELECT sum((floor((ST_XMax(b) + o) / s12) - floor((ST_XMin(b) + o) / s12) + 1)
               * (floor((o - ST_YMin(b)) / s12) - floor((o - ST_YMax(b)) / s12) + 1))
      INTO cells FROM unnest(boxes) AS b WHERE b IS NOT NULL AND NOT ST_IsEmpty(b);
    IF cells IS NULL THEN
        RETURN 0;
    ELSIF cells > 100000 THEN
        RETURN land.refresh_parcel_overview_areas(boxes);
    END IF;
    SELECT array_agg(x), array_agg(y) INTO cx, cy FROM (
        SELECT DISTINCT x, y
        FROM unnest(boxes) AS b,
             generate_series(floor((ST_XMin(b) + o) / s12)::int, floor((ST_XMax(b) + o) / s12)::int) AS x,
             generate_series(floor((o - ST_YMax(b)) / s12)::int, floor((o - ST_YMin(b)) / s12)::int) AS y
        WHERE b IS NOT NULL AND NOT ST_IsEmpty(b)) c;
    PERFORM pg_advisory_xact_lock(hashtext('land.parcel_overview'));
    -- Recounted minus stored, per z12 cell and code (a UNION ALL with signs: codes may be NULL).
    SELECT array_agg(x) AS x, array_agg(y) AS y, array_agg(code) AS code, array_agg(dn) AS dn,
           array_agg(da) AS da, array_agg(dam) AS dam INTO d
      FROM (
        SELECT x, y, code, sum(n) AS dn, sum(a) AS da, sum(am) AS dam FROM (
            SELECT c.x, c.y, p.code, count(*) AS n, sum(p.area_m2::numeric) AS a,
                   sum((p.area_m2 * cosh(p.my / 6378137.0) ^ 2)::numeric) AS am
            FROM unnest(cx, cy) AS c(x, y)
            CROSS JOIN LATERAL (
                SELECT land_use_code AS code, area_m2,
                       (ST_XMin(geom_3857) + ST_XMax(geom_3857)) / 2 AS mx,
                       (ST_YMin(geom_3857) + ST_YMax(geom_3857)) / 2 AS my
                FROM land.parcels
                WHERE geom_3857 && ST_MakeEnvelope(c.x * s12 - o, o - (c.y + 1) * s12,
                                                   (c.x + 1) * s12 - o, o - c.y * s12, 3857)) p
            WHERE floor((p.mx + o) / s12)::int = c.x AND floor((o - p.my) / s12)::int = c.y
            GROUP BY 1, 2, 3
            UNION ALL
            SELECT s.cell_x, s.cell_y, s.land_use_code, -s.parcel_count, -s.area, -s.area_3857
            FROM unnest(cx, cy) AS c(x, y)
            JOIN land.parcel_overview_sums s ON s.zoom = 12 AND s.cell_x = c.x AND s.cell_y = c.y
        ) both_sides
        GROUP BY 1, 2, 3
        HAVING sum(n) <> 0 OR sum(a) <> 0 OR sum(am) <> 0) diff;
    IF d.x IS NULL THEN
        RETURN 0;                              -- nothing the overview counts changed
    END IF;
    INSERT INTO land.parcel_overview_sums AS s
           (zoom, cell_x, cell_y, land_use_code, parcel_count, area, area_3857)
    SELECT z, x >> (12 - z), y >> (12 - z), code, sum(dn), sum(da), sum(dam)
    FROM unnest(d.x, d.y, d.code, d.dn, d.da, d.dam) AS t(x, y, code, dn, da, dam),
         generate_series(8, 12) AS z
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (zoom, cell_x, cell_y, land_use_code) DO UPDATE
       SET parcel_count = s.parcel_count + EXCLUDED.parcel_count,
           area = s.area + EXCLUDED.area,
           area_3857 = s.area_3857 + EXCLUDED.area_3857;
    SELECT array_agg(z) AS z, array_agg(x) AS x, array_agg(y) AS y INTO drawn FROM (
        SELECT DISTINCT z, t.x >> (12 - z) AS x, t.y >> (12 - z) AS y
        FROM unnest(d.x, d.y) AS t(x, y), generate_series(8, 12) AS z) c;
    -- A code no parcel of a cell has any more leaves the cell's sums.
    DELETE FROM land.parcel_overview_sums s
     USING unnest(drawn.z, drawn.x, drawn.y) AS c(z, x, y)
     WHERE s.zoom = c.z AND s.cell_x = c.x AND s.cell_y = c.y AND s.parcel_count = 0;
    RETURN land.draw_parcel_overview(drawn.z, drawn.x, drawn.y);
END $$;

-- Edits: each changed row's old and new box (not their extent: one statement touching two
-- distant parcels recounts the cells around each, not the land between them). Rows whose
-- geometry and land-use code did not change are left out, as before (1004).
CREATE OR REPLACE FUNCTION land.refresh_parcel_overview_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    boxes geometry[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(Box2D(geom_3857)::geometry) INTO boxes FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(Box2D(geom_3857)::geometry) INTO boxes FROM old_rows;
    ELSE
        SELECT array_agg(Box2D(v.g)::geometry) INTO boxes FROM (
            SELECT o.geom_3857 AS old_g, n.geom_3857 AS new_g
            FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
            WHERE o.id IS NULL OR n.id IS NULL
               OR o.land_use_code IS DISTINCT FROM n.land_use_code
               OR o.area_m2 IS DISTINCT FROM n.area_m2
               OR NOT ST_OrderingEquals(o.geom_3857, n.geom_3857)
        ) changed, LATERAL (VALUES (changed.old_g), (changed.new_g)) AS v(g)
        WHERE v.g IS NOT NULL;
    END IF;
    IF boxes IS NOT NULL THEN
        PERFORM land.refresh_parcel_overview_boxes(boxes);
    END IF;
    RETURN NULL;
END $$;

-- Emptying the parcels empties the sums too.
CREATE OR REPLACE FUNCTION land.clear_parcel_overview() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM land.parcel_overview;
    DELETE FROM land.parcel_overview_sums;
    PERFORM pg_notify('bando_layer_changes', json_build_object(
        'table', 'land.parcels', 'op', 'truncate',
        'bbox_3857', json_build_array(-20037508.342789244, -20037508.342789244,
                                      20037508.342789244, 20037508.342789244))::text);
    RETURN NULL;
END $$;

-- The sums of the parcels already loaded (and the overview drawn from them).
SELECT land.refresh_parcel_overview_areas(ARRAY[ST_MakeEnvelope(-20037508, -20037508, 20037508, 20037508, 3857)]);

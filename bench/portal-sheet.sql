-- The SQL of one information sheet (planning::sheet::load), statement for statement as bando
-- sends it (captured with log_min_duration_statement at stop 18), for pgbench -M prepared:
-- the parcel by id, its geometry kept (\gset) and passed back as bando passes it. The ids are
-- the 2,000 that bando's JSON run asks for (bench_sheet_ids, made by bench/portal.sh): one
-- lookup more than bando makes, by primary key.
\set k random(1, :n)
SELECT id FROM bench_sheet_ids WHERE k = :k
\gset
SELECT p.id, p.commune_code, c.legacy_name AS commune_name,
                c.code AS commune_code_new, c.name AS commune_name_new, p.sheet_number,
                p.parcel_number, p.area_m2, jsonb_build_object('declared_area_m2', p.declared_area_m2, 'legal_area_m2', p.legal_area_m2, 'land_use_code', p.land_use_code, 'place_name', p.place_name, 'certificate_issued', p.certificate_issued) AS properties,
                ST_SRID(p.geom) AS srid,
                ST_AsGeoJSON(ST_Transform(p.geom, 4326), 9)::json AS geometry,
                ST_XMin(bb.b) AS west, ST_YMin(bb.b) AS south, ST_XMax(bb.b) AS east,
                ST_YMax(bb.b) AS north, encode(ST_AsEWKB(p.geom), 'hex') AS ewkb
            FROM land.parcels p
            LEFT JOIN land.communes c ON c.legacy_code = p.commune_code
            CROSS JOIN LATERAL (SELECT ST_Transform(p.geom_3857, 4326)::box2d AS b) bb WHERE p.id = :id
\gset
SELECT ST_SRID(g), ST_Area(g) FROM (SELECT ST_GeomFromEWKB(decode(:ewkb, 'hex')) AS g) p;
WITH p AS (SELECT ST_GeomFromEWKB(decode(:ewkb, 'hex')) AS g)
         SELECT z.plan_id, z.zone_code, z.name, z.land_use_function, z.density_pct, z.max_floors,
                z.max_height_m, z.setback_m, z.far, z.decision_number, z.decision_date::text,
                ST_Area(ST_Intersection(ST_Transform(z.geom, ST_SRID(p.g)), p.g)) AS area,
                f.code AS fn_code, f.title_vi AS fn_title_vi, f.title_en AS fn_title_en,
                f.colour AS fn_colour
         FROM p, planning.zones z
         LEFT JOIN LATERAL (
             SELECT f.code, f.title_vi, f.title_en, f.colour FROM planning.zone_functions f
             WHERE f.code = upper(btrim(z.land_use_function))
                OR upper(btrim(z.land_use_function)) = ANY (f.land_use_codes)
             ORDER BY f.code = upper(btrim(z.land_use_function)) DESC LIMIT 1) f ON true
         WHERE z.geom_3857 && ST_Transform(p.g, 3857)
           AND ST_Intersects(ST_Transform(z.geom, ST_SRID(p.g)), p.g) AND (z.plan_id IS NULL OR z.plan_id IN (SELECT id FROM planning.plans WHERE planning.publicly_in_force(status, valid_from, valid_until)))
         ORDER BY area DESC, z.zone_code;
WITH p AS (SELECT ST_GeomFromEWKB(decode(:ewkb, 'hex')) AS g)
         SELECT coalesce(ST_Area(ST_Intersection(ST_Union(ST_Transform(z.geom, ST_SRID(p.g))), p.g)), 0)
         FROM planning.zones z, p
         WHERE z.geom_3857 && ST_Transform(p.g, 3857)
           AND ST_Intersects(ST_Transform(z.geom, ST_SRID(p.g)), p.g) AND (z.plan_id IS NULL OR z.plan_id IN (SELECT id FROM planning.plans WHERE planning.publicly_in_force(status, valid_from, valid_until)))
         GROUP BY p.g;
SELECT p.id, p.name, p.level, p.status, p.decision_number,
        p.decision_date::text, p.authority, p.valid_from::text, p.valid_until::text, p.replaces,
        (SELECT max(n.id) FROM planning.plans n WHERE n.replaces = p.id AND n.status <> 'withdrawn'
           AND (false OR n.status <> 'draft')) AS replaced_by,
        p.approved_on::text, p.superseded_on::text, p.withdrawal_decision, p.withdrawn_on::text,
        (SELECT count(*) FROM planning.zones z WHERE z.plan_id = p.id) AS zones,
        (SELECT count(*) FROM planning.red_lines r WHERE r.plan_id = p.id) AS red_lines,
        (SELECT count(*) FROM planning.building_lines b WHERE b.plan_id = p.id) AS building_lines
     FROM planning.plans p
     WHERE (false OR p.status IN ('approved', 'superseded')) ORDER BY p.id DESC;
SELECT plan_id, id, title, file_name, media_type, coalesce(octet_length(content)::bigint, file_bytes, 0) AS bytes
         FROM planning.plan_documents WHERE plan_id = ANY('{}'::bigint[]) ORDER BY id;
WITH p AS (SELECT g, ST_Transform(g, 3857) AS g3857,
                           2 * greatest(ST_XMax(g) - ST_XMin(g), ST_YMax(g) - ST_YMin(g)) + 1 AS reach
                    FROM (SELECT ST_GeomFromEWKB(decode(:ewkb, 'hex')) AS g) s),
         near AS (SELECT r.road_name, (ST_Dump(ST_Transform(r.geom, ST_SRID(p.g)))).geom AS g
                  FROM planning.red_lines r, p
                  WHERE r.geom_3857 && ST_Expand(p.g3857, 1) AND (r.plan_id IS NULL OR r.plan_id IN (SELECT id FROM planning.plans WHERE planning.publicly_in_force(status, valid_from, valid_until)))),
         touching AS (SELECT near.* FROM near, p WHERE ST_DWithin(near.g, p.g, 0.05)),
         x AS (SELECT touching.g FROM touching, p WHERE ST_Relate(touching.g, p.g, '1********')),
         road AS (SELECT ST_Union(ST_Buffer(x.g, p.reach, 'side=right')) AS g FROM x, p),
         block AS (SELECT ST_Union(ST_Buffer(x.g, p.reach, 'side=left')) AS g FROM x, p)
         SELECT (SELECT count(*) FROM x),
                (SELECT count(*) FROM touching),
                (SELECT coalesce(sum(ST_Length(ST_Intersection(x.g, p.g))
                                     - ST_Length(ST_Intersection(x.g, ST_Boundary(p.g)))), 0)
                 FROM x, p),
                (SELECT coalesce(ST_Area(ST_Intersection(p.g, ST_Difference(road.g, block.g))), 0)
                 FROM p, road, block),
                (SELECT coalesce(array_agg(DISTINCT road_name ORDER BY road_name)
                                 FILTER (WHERE road_name IS NOT NULL), '{}')
                 FROM touching);
WITH p AS (SELECT g, ST_Transform(g, 3857) AS g3857,
                           2 * greatest(ST_XMax(g) - ST_XMin(g), ST_YMax(g) - ST_YMin(g)) + 1 AS reach
                    FROM (SELECT ST_GeomFromEWKB(decode(:ewkb, 'hex')) AS g) s),
         near AS (SELECT r.road_name, (ST_Dump(ST_Transform(r.geom, ST_SRID(p.g)))).geom AS g
                  FROM planning.building_lines r, p
                  WHERE r.geom_3857 && ST_Expand(p.g3857, 1) AND (r.plan_id IS NULL OR r.plan_id IN (SELECT id FROM planning.plans WHERE planning.publicly_in_force(status, valid_from, valid_until)))),
         touching AS (SELECT near.* FROM near, p WHERE ST_DWithin(near.g, p.g, 0.05)),
         x AS (SELECT touching.g FROM touching, p WHERE ST_Relate(touching.g, p.g, '1********')),
         road AS (SELECT ST_Union(ST_Buffer(x.g, p.reach, 'side=right')) AS g FROM x, p),
         block AS (SELECT ST_Union(ST_Buffer(x.g, p.reach, 'side=left')) AS g FROM x, p)
         SELECT (SELECT count(*) FROM x),
                (SELECT count(*) FROM touching),
                (SELECT coalesce(sum(ST_Length(ST_Intersection(x.g, p.g))
                                     - ST_Length(ST_Intersection(x.g, ST_Boundary(p.g)))), 0)
                 FROM x, p),
                (SELECT coalesce(ST_Area(ST_Intersection(p.g, ST_Difference(road.g, block.g))), 0)
                 FROM p, road, block),
                (SELECT coalesce(array_agg(DISTINCT road_name ORDER BY road_name)
                                 FILTER (WHERE road_name IS NOT NULL), '{}')
                 FROM touching);
WITH p AS (SELECT ST_GeomFromEWKB(decode(:ewkb, 'hex')) AS g)
         SELECT * FROM (
             SELECT b.plan_id, b.building_code, b.name, b.status, b.floors, b.height_m,
                    ST_Area(ST_Transform(b.geom, ST_SRID(p.g))) AS footprint_m2,
                    ST_Area(ST_Intersection(ST_Transform(b.geom, ST_SRID(p.g)), p.g)) AS on_parcel_m2
             FROM p, planning.buildings b
             WHERE b.geom_3857 && ST_Transform(p.g, 3857)
               AND ST_Intersects(ST_Transform(b.geom, ST_SRID(p.g)), p.g) AND (b.plan_id IS NULL OR b.plan_id IN (SELECT id FROM planning.plans WHERE planning.publicly_in_force(status, valid_from, valid_until)))) s
         WHERE on_parcel_m2 >= 0.5
         ORDER BY status IS DISTINCT FROM 'existing', on_parcel_m2 DESC, building_code;
SELECT max(updated_at)::date::text FROM land.parcels;

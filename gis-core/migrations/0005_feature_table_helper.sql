-- One definition of the standard shape of a feature table (see gis_core::feature), so that each
-- owner's migration only lists its own columns and natural key.

-- The lowest zoom at which a feature is drawn: polygons once they cover about 4 × 4 pixels,
-- lines once they are about 8 pixels long, points always (thinned at query time). Measured on
-- the native TM-3 geometry (ground metres); Web Mercator inflates lengths by 1/cos(lat), which
-- at Viet Nam's latitudes (8°–23°) is under 9 %, well inside the pixel rounding.
CREATE FUNCTION platform.visible_zoom(g geometry) RETURNS smallint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE ST_Dimension(g)
        WHEN 2 THEN greatest(0, least(24, ceil(ln(4 * 156543.03392804097 / greatest(sqrt(ST_Area(g)), 1e-3)) / ln(2.0))))
        WHEN 1 THEN greatest(0, least(24, ceil(ln(8 * 156543.03392804097 / greatest(ST_Length(g), 1e-3)) / ln(2.0))))
        ELSE 0 END::smallint
$$;

-- Statement-level change notification: every insert, update or delete on a feature table tells
-- every listening bando which area changed (old and new geometry, EPSG:3857), so cached tiles of
-- exactly that area are dropped — for imports and edits alike.
CREATE FUNCTION platform.notify_feature_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
        PERFORM pg_notify('bando_layer_changes', json_build_object(
            'table', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
            'op', lower(TG_OP),
            'bbox_3857', json_build_array(ST_XMin(box), ST_YMin(box), ST_XMax(box), ST_YMax(box)))::text);
    END IF;
    RETURN NULL;
END $$;

-- The serving indexes of a feature table. Bulk loads into an empty table drop them first and
-- build them again afterwards, which is several times faster than maintaining them row by row.
CREATE FUNCTION platform.create_serving_indexes(p_schema text, p_table text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gist (geom_3857)',
        p_table || '_geom_3857_idx', p_schema, p_table);
    -- Low-zoom tiles read only the few features visible there.
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gist (geom_3857) WHERE min_zoom <= 12',
        p_table || '_geom_3857_lowzoom_idx', p_schema, p_table);
END $$;

CREATE FUNCTION platform.drop_serving_indexes(p_schema text, p_table text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP INDEX IF EXISTS %I.%I', p_schema, p_table || '_geom_3857_idx');
    EXECUTE format('DROP INDEX IF EXISTS %I.%I', p_schema, p_table || '_geom_3857_lowzoom_idx');
END $$;

-- Whether an SRID is a VN-2000 zone geometry may be stored in natively. A function rather than an
-- `IN (…)` list in the CHECK: PostGIS's geometry_columns view parses CHECKs that look like
-- `srid(…) = …` as a single SRID and fails on a list, which breaks QGIS, GDAL and Martin.
CREATE FUNCTION platform.is_native_srid(srid integer) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT srid IN (9205, 9206, 9207, 9208, 9209, 9210, 9211, 9212, 9213, 9214, 9215, 9216, 9217,
                    9218, 5896, 5897, 5898, 5899, 3405, 3406)
$$;

CREATE FUNCTION platform.create_feature_table(
    p_schema text, p_table text, p_geometry text, p_columns text[][], p_key text[]
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    cols text := '';
    i int;
    op text;
BEGIN
    IF p_columns IS NOT NULL THEN
        FOR i IN 1 .. array_length(p_columns, 1) LOOP
            cols := cols || format('%I %s, ', p_columns[i][1], p_columns[i][2]);
        END LOOP;
    END IF;
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', p_schema);
    EXECUTE format(
        'CREATE TABLE %I.%I (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            source_id text NOT NULL,
            %s
            extra jsonb NOT NULL DEFAULT ''{}'',
            import_id bigint REFERENCES platform.imports (id),
            updated_at timestamptz NOT NULL DEFAULT now(),
            geom geometry(%s) NOT NULL CHECK (platform.is_native_srid(ST_SRID(geom))),
            geom_3857 geometry(%s, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
            min_zoom smallint GENERATED ALWAYS AS (platform.visible_zoom(geom)) STORED,
            UNIQUE (%s))',
        p_schema, p_table, cols, p_geometry, p_geometry,
        (SELECT string_agg(format('%I', k), ', ') FROM unnest(p_key) AS k));
    PERFORM platform.create_serving_indexes(p_schema, p_table);
    EXECUTE format('CREATE INDEX %I ON %I.%I (import_id)',
        p_table || '_import_idx', p_schema, p_table);
    FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
        EXECUTE format(
            'CREATE TRIGGER %I AFTER %s ON %I.%I REFERENCING %s FOR EACH STATEMENT
             EXECUTE FUNCTION platform.notify_feature_change()',
            p_table || '_notify_' || op, upper(op), p_schema, p_table,
            CASE op WHEN 'insert' THEN 'NEW TABLE AS new_rows'
                    WHEN 'delete' THEN 'OLD TABLE AS old_rows'
                    ELSE 'OLD TABLE AS old_rows NEW TABLE AS new_rows' END);
    END LOOP;
END $$;

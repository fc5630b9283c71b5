-- One definition of the standard shape of a feature table (see gis_core::feature), so that each
-- owner's migration only lists its own columns and natural key.
CREATE FUNCTION platform.create_feature_table(
    p_schema text, p_table text, p_geometry text, p_columns text[][], p_key text[]
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    cols text := '';
    i int;
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
            geom geometry(%s) NOT NULL
                CHECK (ST_SRID(geom) IN (9205, 9206, 9207, 9208, 9209, 9210, 9211, 9212, 9213,
                       9214, 9215, 9216, 9217, 9218, 5896, 5897, 5898, 5899, 3405, 3406)),
            geom_3857 geometry(%s, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
            UNIQUE (%s))',
        p_schema, p_table, cols, p_geometry, p_geometry,
        (SELECT string_agg(format('%I', k), ', ') FROM unnest(p_key) AS k));
    EXECUTE format('CREATE INDEX %I ON %I.%I USING gist (geom_3857)',
        p_table || '_geom_3857_idx', p_schema, p_table);
    EXECUTE format('CREATE INDEX %I ON %I.%I (import_id)',
        p_table || '_import_idx', p_schema, p_table);
END $$;

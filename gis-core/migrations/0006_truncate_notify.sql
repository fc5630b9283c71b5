-- TRUNCATE fires no DELETE trigger, so a truncated feature table used to leave every bando's
-- cached tiles (and remembered feature counts) of it stale. Every feature table now notifies
-- `bando_layer_changes` on TRUNCATE with the whole world as the changed area: the tables that
-- exist get the trigger here, and platform.create_feature_table adds it to new ones.

CREATE FUNCTION platform.notify_feature_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bando_layer_changes', json_build_object(
        'table', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
        'op', 'truncate',
        'bbox_3857', json_build_array(-20037508.342789244, -20037508.342789244,
                                      20037508.342789244, 20037508.342789244))::text);
    RETURN NULL;
END $$;

CREATE FUNCTION platform.add_truncate_notify(p_schema text, p_table text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'CREATE TRIGGER %I AFTER TRUNCATE ON %I.%I FOR EACH STATEMENT
         EXECUTE FUNCTION platform.notify_feature_truncate()',
        p_table || '_notify_truncate', p_schema, p_table);
END $$;

-- The feature tables that exist already: those with the insert trigger of migration 5.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT n.nspname AS schema_name, c.relname AS table_name
        FROM pg_trigger g
        JOIN pg_class c ON c.oid = g.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_proc p ON p.oid = g.tgfoid
        WHERE p.proname = 'notify_feature_change' AND g.tgname = c.relname || '_notify_insert'
    LOOP
        PERFORM platform.add_truncate_notify(t.schema_name, t.table_name);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION platform.create_feature_table(
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
    PERFORM platform.add_truncate_notify(p_schema, p_table);
END $$;

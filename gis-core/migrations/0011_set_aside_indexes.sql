-- A big first load into an empty feature table sets aside every secondary index of the table,
-- not only the two serving GiST indexes, and builds each once afterwards: an index an owner
-- adds (the parcels' trigram index over their folded place name, say) maintained row by row
-- made a 1,000,000-parcel first load several times slower. Unique indexes and indexes behind
-- constraints stay: the load relies on them. The definitions wait in `platform.set_aside_indexes`
-- within the load's transaction (a failed load rolls the drop back with them).
CREATE TABLE IF NOT EXISTS platform.set_aside_indexes (
    schema_name text NOT NULL,
    table_name text NOT NULL,
    definition text NOT NULL
);

CREATE OR REPLACE FUNCTION platform.drop_serving_indexes(p_schema text, p_table text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
        FROM pg_index i
        WHERE i.indrelid = format('%I.%I', p_schema, p_table)::regclass
          AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
    LOOP
        INSERT INTO platform.set_aside_indexes VALUES (p_schema, p_table, r.def);
        EXECUTE 'DROP INDEX ' || r.name;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION platform.create_serving_indexes(p_schema text, p_table text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    FOR d IN
        DELETE FROM platform.set_aside_indexes
        WHERE schema_name = p_schema AND table_name = p_table
        RETURNING definition
    LOOP
        EXECUTE regexp_replace(d, '^CREATE INDEX ', 'CREATE INDEX IF NOT EXISTS ');
    END LOOP;
    -- The serving indexes every feature table has (also when none was set aside).
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gist (geom_3857)',
        p_table || '_geom_3857_idx', p_schema, p_table);
    -- Low-zoom tiles read only the few features visible there.
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gist (geom_3857) WHERE min_zoom <= 12',
        p_table || '_geom_3857_lowzoom_idx', p_schema, p_table);
END $$;

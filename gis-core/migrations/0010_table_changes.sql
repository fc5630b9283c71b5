-- A change counter per feature table (issue 17, the persistent tile store): every change that
-- notifies `bando_layer_changes` also counts one more change of its table and sends the count
-- in the payload (`changes`). A tile store written while a server listened records the counts
-- it heard; at its next start a table whose count moved meanwhile (a change made while no
-- server listened) has its layers' stored tiles dropped. The row is locked until the writer
-- commits, so counts follow commit order, like the notifications.
CREATE TABLE platform.table_changes (
    table_name text PRIMARY KEY,
    changes bigint NOT NULL
);

CREATE FUNCTION platform.count_change(p_table text) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    INSERT INTO platform.table_changes AS c (table_name, changes) VALUES (p_table, 1)
    ON CONFLICT (table_name) DO UPDATE SET changes = c.changes + 1
    RETURNING changes
$$;

CREATE OR REPLACE FUNCTION platform.notify_feature_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
            'bbox_3857', json_build_array(ST_XMin(box), ST_YMin(box), ST_XMax(box), ST_YMax(box)),
            'changes', platform.count_change(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME))::text);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION platform.notify_feature_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bando_layer_changes', json_build_object(
        'table', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
        'op', 'truncate',
        'bbox_3857', json_build_array(-20037508.342789244, -20037508.342789244,
                                      20037508.342789244, 20037508.342789244),
        'changes', platform.count_change(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME))::text);
    RETURN NULL;
END $$;

-- Which database a tile store was written against: a store moved to another database, or kept
-- across a database made anew, is dropped whole at start.
CREATE TABLE platform.database_identity (id text NOT NULL);
INSERT INTO platform.database_identity SELECT gen_random_uuid()::text;

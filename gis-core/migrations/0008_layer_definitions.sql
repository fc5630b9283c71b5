-- Layers added without code (`bando import --new-layer`, `bando layer`, the config's
-- [[layers]]): their definitions, which every bando instance reads at start and again when
-- `bando_catalog_changes` is notified. Built-in layers are declared in code, never here.
CREATE TABLE platform.layer_definitions (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_]{0,62}$'),
    definition  jsonb NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Their tables live in one schema of their own.
CREATE SCHEMA IF NOT EXISTS layers;

-- Any change of a definition tells every server to reload its registry.
CREATE FUNCTION platform.notify_definitions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bando_catalog_changes', json_build_object('op', lower(TG_OP))::text);
    RETURN NULL;
END $$;

CREATE TRIGGER layer_definitions_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON platform.layer_definitions FOR EACH STATEMENT
    EXECUTE FUNCTION platform.notify_definitions_changed();

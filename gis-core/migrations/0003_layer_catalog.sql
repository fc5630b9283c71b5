-- The layer catalog: what the running server registered, so that any client of the
-- database (landing page, other instances, SQL users) sees the same list of layers.
CREATE TABLE platform.layer_catalog (
    id             text PRIMARY KEY,
    title_vi       text NOT NULL,
    title_en       text NOT NULL,
    sector         text NOT NULL,
    geometry_kind  text NOT NULL,
    table_schema   text NOT NULL,
    table_name     text NOT NULL,
    geometry_column text NOT NULL,
    srid           integer NOT NULL REFERENCES spatial_ref_sys (srid),
    min_zoom       smallint NOT NULL CHECK (min_zoom BETWEEN 0 AND 24),
    max_zoom       smallint NOT NULL CHECK (max_zoom BETWEEN min_zoom AND 24),
    access         text NOT NULL CHECK (access IN ('public', 'restricted')),
    properties     jsonb NOT NULL,
    style          jsonb NOT NULL,
    registered_at  timestamptz NOT NULL DEFAULT now()
);

-- The OGC SensorThings API 1.1 sensing model (the part an IOC needs), schema `ioc`.
CREATE SCHEMA IF NOT EXISTS ioc;

CREATE TABLE ioc.things (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    properties jsonb,
    -- The sector asset this thing is (an environment station's code), for seeding.
    station_code text UNIQUE
);

CREATE TABLE ioc.locations (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    encoding_type text NOT NULL DEFAULT 'application/geo+json',
    location geometry(Geometry, 4326) NOT NULL
);

CREATE TABLE ioc.thing_locations (
    thing_id bigint NOT NULL REFERENCES ioc.things ON DELETE CASCADE,
    location_id bigint NOT NULL REFERENCES ioc.locations ON DELETE CASCADE,
    PRIMARY KEY (thing_id, location_id)
);
CREATE INDEX ON ioc.thing_locations (location_id);

CREATE TABLE ioc.sensors (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    encoding_type text NOT NULL DEFAULT 'text/html',
    metadata text NOT NULL DEFAULT ''
);

CREATE TABLE ioc.observed_properties (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    definition text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT ''
);

CREATE TABLE ioc.datastreams (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    observation_type text NOT NULL
        DEFAULT 'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement',
    unit_name text NOT NULL DEFAULT '',
    unit_symbol text NOT NULL DEFAULT '',
    unit_definition text NOT NULL DEFAULT '',
    properties jsonb,
    thing_id bigint NOT NULL REFERENCES ioc.things ON DELETE CASCADE,
    sensor_id bigint NOT NULL REFERENCES ioc.sensors,
    observed_property_id bigint NOT NULL REFERENCES ioc.observed_properties,
    -- Readable without sign-in (the public map, the portal).
    public boolean NOT NULL DEFAULT true,
    -- The latest observation, kept by ingest (the latest-value layer reads it).
    latest_observation_id bigint,
    latest_time timestamptz,
    latest_result jsonb,
    UNIQUE (thing_id, observed_property_id)
);
CREATE INDEX ON ioc.datastreams (sensor_id);
CREATE INDEX ON ioc.datastreams (observed_property_id);

CREATE TABLE ioc.features_of_interest (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    encoding_type text NOT NULL DEFAULT 'application/geo+json',
    feature geometry(Geometry, 4326) NOT NULL
);

CREATE TABLE ioc.observations (
    id bigserial PRIMARY KEY,
    datastream_id bigint NOT NULL REFERENCES ioc.datastreams ON DELETE CASCADE,
    phenomenon_time timestamptz NOT NULL,
    -- Set when the phenomenon time is an interval.
    phenomenon_time_end timestamptz,
    result_time timestamptz,
    result jsonb NOT NULL,
    -- Numeric results, for $filter on result and for alert rules.
    result_number double precision GENERATED ALWAYS AS (
        CASE WHEN jsonb_typeof(result) = 'number' THEN (result #>> '{}')::double precision END
    ) STORED,
    result_quality jsonb,
    parameters jsonb,
    feature_of_interest_id bigint REFERENCES ioc.features_of_interest,
    received_at timestamptz NOT NULL DEFAULT now()
);
-- A datastream's observations by time (navigation, latest values, alert rules), and time
-- alone for retention and time filters over every datastream.
CREATE INDEX observations_datastream_time ON ioc.observations (datastream_id, phenomenon_time DESC);
CREATE INDEX observations_time ON ioc.observations USING brin (phenomenon_time);

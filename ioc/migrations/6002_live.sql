-- The IOC's live layer, alert rules, events and the feed log (issue 14, part 4).

-- The latest reading of every located datastream as a map layer (`ioc::plugin`): a feature
-- table like any other, so tiles, items and styles serve it and its statement triggers tell
-- every tile cache which area changed when ingest moves a value.
SELECT platform.create_feature_table('ioc', 'latest_readings', 'Point',
    ARRAY[['datastream_id', 'bigint'], ['station_code', 'text'], ['station', 'text'],
          ['property', 'text'], ['value', 'double precision'], ['unit', 'text'],
          ['observed_at', 'text'], ['status', 'text']],
    ARRAY['source_id']);
-- Readable without sign-in (the datastream's own flag; the layer's row filter reads it).
ALTER TABLE ioc.latest_readings ADD COLUMN public boolean NOT NULL DEFAULT true;
CREATE UNIQUE INDEX latest_readings_datastream ON ioc.latest_readings (datastream_id);
-- A datastream made private (or public) is so on the layer at once, not at its next reading.
CREATE FUNCTION ioc.latest_readings_follow_public() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ioc.latest_readings SET public = NEW.public, updated_at = now()
    WHERE datastream_id = NEW.id AND public IS DISTINCT FROM NEW.public;
    RETURN NULL;
END $$;
CREATE TRIGGER datastreams_public AFTER UPDATE OF public ON ioc.datastreams
    FOR EACH ROW EXECUTE FUNCTION ioc.latest_readings_follow_public();

-- Thresholds per observed property with hysteresis: an episode starts when a reading reaches
-- `raise_at` and ends only when one gets back past `clear_at`, so a value hovering around the
-- threshold makes one event, not one per reading.
CREATE TABLE ioc.alert_rules (
    id bigserial PRIMARY KEY,
    observed_property_id bigint NOT NULL REFERENCES ioc.observed_properties ON DELETE CASCADE,
    severity text NOT NULL CHECK (severity IN ('warning', 'alarm')),
    direction text NOT NULL DEFAULT 'above' CHECK (direction IN ('above', 'below')),
    raise_at double precision NOT NULL,
    clear_at double precision NOT NULL,
    title text NOT NULL,
    title_en text NOT NULL DEFAULT '',
    enabled boolean NOT NULL DEFAULT true,
    CHECK ((direction = 'above' AND clear_at < raise_at) OR
           (direction = 'below' AND clear_at > raise_at)),
    UNIQUE (observed_property_id, severity, direction)
);

-- Incidents: raised by alert rules or created by operators; open → acknowledged → closed.
CREATE TABLE ioc.events (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    severity text NOT NULL CHECK (severity IN ('info', 'warning', 'alarm', 'critical')),
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'closed')),
    title text NOT NULL,
    rule_id bigint REFERENCES ioc.alert_rules ON DELETE SET NULL,
    datastream_id bigint REFERENCES ioc.datastreams ON DELETE SET NULL,
    thing_id bigint REFERENCES ioc.things ON DELETE SET NULL,
    location geometry(Point, 4326),
    -- The reading that raised it, and the one that cleared it.
    value double precision,
    raised_at timestamptz NOT NULL DEFAULT now(),
    clear_value double precision,
    cleared_at timestamptz,
    created_by text NOT NULL DEFAULT 'rule',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_open ON ioc.events (raised_at DESC) WHERE status <> 'closed';
CREATE INDEX events_datastream ON ioc.events (datastream_id, raised_at DESC);

-- Every change of an event, kept (who acknowledged, when the condition cleared…).
CREATE TABLE ioc.event_history (
    id bigserial PRIMARY KEY,
    event_id bigint NOT NULL REFERENCES ioc.events ON DELETE CASCADE,
    at timestamptz NOT NULL DEFAULT now(),
    action text NOT NULL CHECK (action IN ('raised', 'cleared', 'acknowledged', 'closed', 'created')),
    actor text NOT NULL,
    value double precision,
    note text NOT NULL DEFAULT ''
);
CREATE INDEX ON ioc.event_history (event_id, at);

-- The episodes in progress: one row per (rule, datastream) while its condition holds.
CREATE TABLE ioc.alert_state (
    rule_id bigint NOT NULL REFERENCES ioc.alert_rules ON DELETE CASCADE,
    datastream_id bigint NOT NULL REFERENCES ioc.datastreams ON DELETE CASCADE,
    event_id bigint NOT NULL REFERENCES ioc.events ON DELETE CASCADE,
    since timestamptz NOT NULL,
    PRIMARY KEY (rule_id, datastream_id)
);
CREATE INDEX ON ioc.alert_state (datastream_id);

-- What the live feed (`/feeds/stream`) carries, in commit order (writers take an advisory
-- lock before appending, held to commit), so every instance replays the same sequence and a
-- client resumes with `Last-Event-ID` = `seq`. Kept for a while only (`ioc::feeds::purge_log`).
CREATE TABLE ioc.feed_log (
    seq bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    kind text NOT NULL CHECK (kind IN ('reading', 'event')),
    public boolean NOT NULL,
    payload jsonb NOT NULL
);
CREATE INDEX feed_log_at ON ioc.feed_log USING brin (at);

-- Default thresholds for the sample stations' quantities (Vietnamese standards where they exist:
-- QCVN 05:2023/BTNMT's 24-hour PM2.5 limit is 50 µg/m³).
INSERT INTO ioc.observed_properties (name, definition, description) VALUES
    ('PM2.5', 'http://dbpedia.org/resource/Particulates', 'Bụi mịn PM2.5'),
    ('Water level', 'http://vocab.nerc.ac.uk/collection/P07/current/CFSN0721/', 'Mực nước'),
    ('Rainfall', 'http://vocab.nerc.ac.uk/collection/P07/current/CFSN0259/', 'Lượng mưa')
ON CONFLICT (name) DO NOTHING;
INSERT INTO ioc.alert_rules (observed_property_id, severity, direction, raise_at, clear_at, title, title_en)
SELECT op.id, r.severity, 'above', r.raise_at, r.clear_at, r.title, r.title_en
FROM (VALUES
    ('PM2.5', 'warning', 50.0, 40.0, 'Bụi mịn PM2.5 vượt ngưỡng', 'PM2.5 above the limit'),
    ('PM2.5', 'alarm', 150.0, 120.0, 'Bụi mịn PM2.5 ở mức nguy hại', 'PM2.5 at a harmful level'),
    ('Water level', 'warning', 3.5, 3.2, 'Mực nước vượt báo động I', 'Water level above alert level I'),
    ('Water level', 'alarm', 4.5, 4.2, 'Mực nước vượt báo động III', 'Water level above alert level III'),
    ('Rainfall', 'warning', 30.0, 20.0, 'Mưa lớn', 'Heavy rain'),
    ('Rainfall', 'alarm', 60.0, 45.0, 'Mưa rất lớn', 'Very heavy rain')
) AS r(property, severity, raise_at, clear_at, title, title_en)
JOIN ioc.observed_properties op ON op.name = r.property;

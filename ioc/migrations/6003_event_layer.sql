-- Events as a map layer (issue 14): one point per open or acknowledged event that has a
-- location, kept in step with `ioc.events` by a trigger — whoever changes an event (a rule
-- raising or clearing it, an operator creating, acknowledging or closing it) — so the feature
-- table's statement triggers drop the touched tiles in every instance. Closed events leave the
-- layer (their history stays in `ioc.events`/`ioc.event_history`).
SELECT platform.create_feature_table('ioc', 'event_features', 'Point',
    ARRAY[['event_id', 'bigint'], ['kind', 'text'], ['severity', 'text'], ['status', 'text'],
          ['title', 'text'], ['raised_at', 'text']],
    ARRAY['source_id']);
-- Readable by staff who are not IOC operators only when the event's datastream is public (or
-- when it has none: an operator's report); the layer's row filter reads it.
ALTER TABLE ioc.event_features ADD COLUMN public boolean NOT NULL DEFAULT true;
CREATE UNIQUE INDEX event_features_event ON ioc.event_features (event_id);

CREATE FUNCTION ioc.event_features_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM ioc.event_features WHERE event_id = OLD.id;
    ELSIF NEW.status = 'closed' OR NEW.location IS NULL THEN
        DELETE FROM ioc.event_features WHERE event_id = NEW.id;
    ELSE
        INSERT INTO ioc.event_features (source_id, event_id, kind, severity, status, title,
            raised_at, public, geom, updated_at)
        VALUES (NEW.id::text, NEW.id, NEW.kind, NEW.severity, NEW.status, NEW.title,
            to_char(NEW.raised_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
            coalesce((SELECT d.public FROM ioc.datastreams d WHERE d.id = NEW.datastream_id), true),
            ST_Transform(NEW.location, platform.native_srid(NEW.location)), now())
        ON CONFLICT (source_id) DO UPDATE SET
            kind = EXCLUDED.kind, severity = EXCLUDED.severity, status = EXCLUDED.status,
            title = EXCLUDED.title, raised_at = EXCLUDED.raised_at, public = EXCLUDED.public,
            geom = EXCLUDED.geom, updated_at = now()
        WHERE (ioc.event_features.kind, ioc.event_features.severity, ioc.event_features.status,
               ioc.event_features.title, ioc.event_features.raised_at, ioc.event_features.public,
               ioc.event_features.geom)
              IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.severity, EXCLUDED.status,
               EXCLUDED.title, EXCLUDED.raised_at, EXCLUDED.public, EXCLUDED.geom);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER events_features AFTER INSERT OR UPDATE OR DELETE ON ioc.events
    FOR EACH ROW EXECUTE FUNCTION ioc.event_features_follow();

-- A datastream made private (or public) moves its readings and its events at once.
CREATE OR REPLACE FUNCTION ioc.latest_readings_follow_public() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ioc.latest_readings SET public = NEW.public, updated_at = now()
    WHERE datastream_id = NEW.id AND public IS DISTINCT FROM NEW.public;
    UPDATE ioc.event_features f SET public = NEW.public, updated_at = now()
    FROM ioc.events e
    WHERE e.datastream_id = NEW.id AND f.event_id = e.id AND f.public IS DISTINCT FROM NEW.public;
    RETURN NULL;
END $$;

-- The events there already are.
UPDATE ioc.events SET updated_at = updated_at WHERE status <> 'closed' AND location IS NOT NULL;

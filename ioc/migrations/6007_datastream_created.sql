-- When each datastream was made: a missing-data rule counts a datastream that never reported
-- from then (issue 14). Datastreams already there count from this migration.
ALTER TABLE ioc.datastreams ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();

-- Every ingest batch moves the latest value of each datastream it carries. The index on
-- (observed_property_id, latest_time) of 6004 made each of those updates a non-HOT one: every
-- index of the table got a new entry per reading batch (0 HOT updates of 533,492 in a bench
-- run) and the batch's own `FOR UPDATE` lookups walked ever more dead entries. The missing-data
-- check it served reads coalesce(latest_time, created_at) per observed property, which the
-- index on observed_property_id answers for any realistic number of datastreams. Room left on
-- each page keeps the new row version on the same page (HOT needs it).
DROP INDEX IF EXISTS ioc.datastreams_latest_time;
ALTER TABLE ioc.datastreams SET (fillfactor = 50);
ALTER TABLE ioc.latest_readings SET (fillfactor = 50);

-- The portal's information sheet says the day the cadastral data is valid for:
-- max(updated_at) over the parcels, which without an index read the whole table for every
-- sheet (about 0.25 s at 1,000,000 parcels: the sheet JSON ran at 7.8 requests/s, p50 985 ms,
-- in bench/portal.sh). The as-of functions' `updated_at <= at` gains the index too.
CREATE INDEX IF NOT EXISTS parcels_updated_at ON land.parcels (updated_at);

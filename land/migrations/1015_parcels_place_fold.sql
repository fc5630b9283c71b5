-- The address search keeps each parcel's folded place name (land.fold: no accents, lower case)
-- as a stored column with the trigram index on it. With the index on the expression
-- land.fold(place_name), every candidate the index found was re-checked by folding its name
-- again once per typed word (a PL/pgSQL call, ~8 µs): common words ("tan", "tien") leave
-- thousands of candidates, 148 ms of a 149 ms search at 1,000,000 parcels, a 960 ms p99 at 8
-- clients (bench/portal.sh). The re-check is now a LIKE on stored text.
-- A migration that changes land.fold must rewrite this column (any UPDATE of a row recomputes
-- it), as 1013 rebuilt the index.
ALTER TABLE land.parcels
    ADD COLUMN IF NOT EXISTS place_fold text GENERATED ALWAYS AS (land.fold(place_name)) STORED;
DROP INDEX IF EXISTS land.parcels_place_fold_trgm;
CREATE INDEX parcels_place_fold_trgm ON land.parcels USING gin (place_fold gin_trgm_ops);

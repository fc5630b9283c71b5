-- The address search matches words of one or two letters or digits (a house number "31", "so",
-- "an" of "Xuân An") as whole words: ' 31 ' is not part of '131' or '310'. For that the folded
-- place name is stored as its words between single spaces, with a space at each end
-- (' so 31 duong so 4 xa xuan an '), so a whole word is `LIKE '% 31 %'` — and the trigram index
-- then narrows by its padded trigrams ('  3', ' 31', '31 '), where a short word as a part of
-- words has no trigram at all: "31 so 4 xuan an" re-checked the 250,000 parcels holding "xuan"
-- (164 ms at 1,000,000 parcels) and re-checks one now (2.5 ms). Separators are the ASCII
-- characters other than letters and digits, as in `land::portal::address_words`; any other
-- character belongs to its word. PostgreSQL 15 cannot change a generated column's expression:
-- the column is made again (the table is rewritten once).
DROP INDEX IF EXISTS land.parcels_place_fold_trgm;
ALTER TABLE land.parcels DROP COLUMN IF EXISTS place_fold;
ALTER TABLE land.parcels ADD COLUMN place_fold text GENERATED ALWAYS AS (
    ' ' || btrim(regexp_replace(land.fold(place_name), '[^a-z0-9\u0080-\U0010FFFF]+', ' ', 'g')) || ' '
) STORED;
CREATE INDEX parcels_place_fold_trgm ON land.parcels USING gin (place_fold gin_trgm_ops);

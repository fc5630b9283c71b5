-- Split and merge (LADM lineage): a parent's lifespan ends with a closed version whose action
-- is the operation, each child's first version carries the same action, and
-- land.parcel_lineage links parents to children.
ALTER TABLE land.parcel_versions DROP CONSTRAINT parcel_versions_action_check;
ALTER TABLE land.parcel_versions ADD CONSTRAINT parcel_versions_action_check
    CHECK (action IN ('import', 'create', 'update', 'delete', 'split', 'merge'));
-- The next free number of a sheet reads its numbers in the history too.
CREATE INDEX parcel_versions_sheet_idx
    ON land.parcel_versions (commune_code, sheet_number, parcel_number);

CREATE TABLE land.parcel_lineage (
    parent_id bigint NOT NULL,
    child_id  bigint NOT NULL,
    operation text NOT NULL CHECK (operation IN ('split', 'merge')),
    at        timestamptz NOT NULL,
    PRIMARY KEY (parent_id, child_id),
    CHECK (parent_id <> child_id)
);
CREATE INDEX parcel_lineage_child_idx ON land.parcel_lineage (child_id);

-- The parcels as they were at an instant: every parcel whose recorded version was alive then
-- (also parcels since deleted, split or merged), with that version's attributes and geometry,
-- plus the parcels never edited that existed then (updated_at: their delivery). One row type
-- with land.parcels, so the features API reads it like the table.
CREATE FUNCTION land.parcels_as_of(at timestamptz) RETURNS SETOF land.parcels
LANGUAGE sql STABLE AS $$
    SELECT p.* FROM land.parcels p
    WHERE p.updated_at <= at
      AND NOT EXISTS (SELECT 1 FROM land.parcel_versions v WHERE v.parcel_id = p.id)
    UNION ALL
    SELECT (jsonb_populate_record(NULL::land.parcels,
                v.attributes || jsonb_build_object(
                    'geom', v.geom::text,
                    'geom_3857', ST_Transform(v.geom, 3857)::text,
                    'area_m2', ST_Area(v.geom)))).*
    FROM land.parcel_versions v
    WHERE v.begin_lifespan <= at AND (v.end_lifespan IS NULL OR v.end_lifespan > at)
$$;

-- Parcel history (LADM VersionedObject): every version of a parcel changed through bando's
-- edits, with its lifespan, who, why and on which decision. land.parcels holds the living
-- parcels; a parcel edited for the first time gets its imported state as version 1, so the
-- history of every edited parcel starts where the delivery left it. A delete ends the last
-- version's lifespan; nothing is physically lost.
CREATE TABLE land.parcel_versions (
    version_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parcel_id      bigint NOT NULL,
    version        integer NOT NULL CHECK (version > 0),
    commune_code   text NOT NULL,
    sheet_number   bigint NOT NULL,
    parcel_number  bigint NOT NULL,
    attributes     jsonb NOT NULL,
    geom           geometry(MultiPolygon) NOT NULL,
    begin_lifespan timestamptz NOT NULL,
    end_lifespan   timestamptz CHECK (end_lifespan IS NULL OR end_lifespan >= begin_lifespan),
    action         text NOT NULL CHECK (action IN ('import', 'create', 'update', 'delete')),
    editor         text NOT NULL,
    reason         text NOT NULL,
    document       text NOT NULL,
    UNIQUE (parcel_id, version)
);
CREATE INDEX parcel_versions_time_idx ON land.parcel_versions (parcel_id, begin_lifespan);
-- At most one living version per parcel.
CREATE UNIQUE INDEX parcel_versions_living_idx ON land.parcel_versions (parcel_id)
    WHERE end_lifespan IS NULL;

-- Parcel numbers retired by a delete (or, later, a split or merge): never given again on
-- their sheet.
CREATE TABLE land.retired_parcel_numbers (
    commune_code  text NOT NULL,
    sheet_number  bigint NOT NULL,
    parcel_number bigint NOT NULL,
    retired_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (commune_code, sheet_number, parcel_number)
);

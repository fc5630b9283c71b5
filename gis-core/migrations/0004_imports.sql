-- Every import that became visible: who, when, which files (with hashes), and what happened.
-- Written inside the import's own transaction, so an import that failed or was killed leaves
-- no row here and no change anywhere.
CREATE TABLE platform.imports (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    layer        text NOT NULL,
    mode         text NOT NULL CHECK (mode IN ('replace', 'upsert')),
    files        jsonb NOT NULL,
    imported_by  text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    read         bigint NOT NULL DEFAULT 0,
    inserted     bigint NOT NULL DEFAULT 0,
    updated      bigint NOT NULL DEFAULT 0,
    unchanged    bigint NOT NULL DEFAULT 0,
    deleted      bigint NOT NULL DEFAULT 0,
    rejected     bigint NOT NULL DEFAULT 0,
    report       jsonb
);

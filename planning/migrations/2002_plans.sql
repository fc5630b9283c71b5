-- Plans as objects with versions (issue 13). A plan is one approved (or draft) version of a
-- planning scheme: its zones, red lines and building lines carry its id. Drafts are read by
-- planners only (the layers' row filter, planning::plugin); approving a plan supersedes the
-- plan it replaces in the same transaction (planning::plans::approve).
CREATE TABLE planning.plans (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (name <> ''),
    level text NOT NULL DEFAULT 'detailed' CHECK (level IN ('general', 'zoning', 'detailed')),
    decision_number text,
    decision_date date,
    authority text,
    valid_from date,
    valid_until date,
    status text NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'approved', 'superseded', 'withdrawn')),
    replaces bigint REFERENCES planning.plans (id),
    approved_on date,
    superseded_on date,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text,
    CHECK (status = 'draft' OR status = 'withdrawn' OR (decision_number IS NOT NULL AND approved_on IS NOT NULL)),
    CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_until >= valid_from),
    CHECK (replaces IS DISTINCT FROM id)
);
CREATE INDEX plans_status_idx ON planning.plans (status);

-- Documents of a plan (the approving decision as PDF, maps): bytes in the database.
CREATE TABLE planning.plan_documents (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id bigint NOT NULL REFERENCES planning.plans (id) ON DELETE CASCADE,
    title text NOT NULL,
    file_name text NOT NULL CHECK (file_name ~ '^[^/\\]+$'),
    media_type text NOT NULL,
    content bytea NOT NULL,
    added_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plan_documents_plan_idx ON planning.plan_documents (plan_id);

-- Rows belong to a plan version; rows without one predate plans and read as in force.
-- A zone code is unique within its plan, no longer across the table.
ALTER TABLE planning.zones ADD COLUMN plan_id bigint REFERENCES planning.plans (id);
ALTER TABLE planning.zones DROP CONSTRAINT zones_source_id_key;
ALTER TABLE planning.zones ADD CONSTRAINT zones_plan_source_key UNIQUE NULLS NOT DISTINCT (plan_id, source_id);
CREATE INDEX zones_plan_idx ON planning.zones (plan_id);
ALTER TABLE planning.red_lines ADD COLUMN plan_id bigint REFERENCES planning.plans (id);
ALTER TABLE planning.red_lines DROP CONSTRAINT red_lines_source_id_key;
ALTER TABLE planning.red_lines ADD CONSTRAINT red_lines_plan_source_key UNIQUE NULLS NOT DISTINCT (plan_id, source_id);
CREATE INDEX red_lines_plan_idx ON planning.red_lines (plan_id);
ALTER TABLE planning.building_lines ADD COLUMN plan_id bigint REFERENCES planning.plans (id);
ALTER TABLE planning.building_lines DROP CONSTRAINT building_lines_source_id_key;
ALTER TABLE planning.building_lines ADD CONSTRAINT building_lines_plan_source_key UNIQUE NULLS NOT DISTINCT (plan_id, source_id);
CREATE INDEX building_lines_plan_idx ON planning.building_lines (plan_id);

-- The plans in force on a day: approved by then, not yet superseded, within their validity.
CREATE FUNCTION planning.plans_in_force(day date) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
    SELECT id FROM planning.plans
    WHERE status IN ('approved', 'superseded') AND approved_on <= day
      AND (superseded_on IS NULL OR superseded_on > day)
      AND (valid_from IS NULL OR valid_from <= day)
      AND (valid_until IS NULL OR valid_until >= day)
$$;

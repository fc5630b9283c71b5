-- Validity ends and starts change what the public reads without any edit (issue 13): the rule
-- of a plan in force for everyone today, in one place (the layers' row filter,
-- planning::plugin::IN_FORCE, and the validity check use it), and per plan whether tiles were
-- last told it is in force, so the periodic check (planning::plans::check_validity, run by
-- `bando serve`) notifies `bando_layer_changes` once when the day crosses a plan's validity.
CREATE FUNCTION planning.publicly_in_force(status text, valid_from date, valid_until date)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
RETURN status = 'approved'
    AND (valid_from IS NULL OR valid_from <= current_date)
    AND (valid_until IS NULL OR valid_until >= current_date);

ALTER TABLE planning.plans ADD COLUMN shown_in_force boolean NOT NULL DEFAULT false;
UPDATE planning.plans
    SET shown_in_force = planning.publicly_in_force(status, valid_from, valid_until);

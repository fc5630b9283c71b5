-- A withdrawal (issue 13): the decision annulling an approved plan (or ending a draft's review)
-- and the day, kept beside the approval's. An approved plan is annulled only by a decision
-- (planning::plans::withdraw); a draft may leave review without one.
ALTER TABLE planning.plans ADD COLUMN withdrawal_decision text;
ALTER TABLE planning.plans ADD COLUMN withdrawal_date date;
ALTER TABLE planning.plans ADD COLUMN withdrawn_on date;
ALTER TABLE planning.plans ADD CONSTRAINT plans_withdrawal_check
    CHECK (status = 'withdrawn' OR (withdrawal_decision IS NULL AND withdrawn_on IS NULL));

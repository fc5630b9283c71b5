-- Rules per datastream (issue 14): a rule may name one datastream of its observed property;
-- for that datastream it replaces the property's rule of the same kind, severity and direction
-- (a river station with alert levels of its own). One property rule and one rule per
-- datastream of each kind, severity and direction.
ALTER TABLE ioc.alert_rules
    ADD COLUMN datastream_id bigint REFERENCES ioc.datastreams ON DELETE CASCADE,
    DROP CONSTRAINT alert_rules_one_per_kind;
CREATE UNIQUE INDEX alert_rules_one_per_kind ON ioc.alert_rules
    (observed_property_id, kind, severity, direction) WHERE datastream_id IS NULL;
CREATE UNIQUE INDEX alert_rules_one_per_kind_of_datastream ON ioc.alert_rules
    (datastream_id, kind, severity, direction) WHERE datastream_id IS NOT NULL;

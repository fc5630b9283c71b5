-- Alert rules on three quantities (issue 14): the reading's value (`threshold`), its rate of
-- change per hour between consecutive readings (`rate`), and the minutes since the datastream's
-- latest reading (`missing`: raised by a periodic check, `ioc::alerts::check_missing`, cleared
-- when readings are recent again). The same levels and hysteresis for all three.
ALTER TABLE ioc.alert_rules
    ADD COLUMN kind text NOT NULL DEFAULT 'threshold' CHECK (kind IN ('threshold', 'rate', 'missing')),
    ADD CONSTRAINT alert_rules_missing_is_an_age
        CHECK (kind <> 'missing' OR (direction = 'above' AND clear_at >= 0)),
    DROP CONSTRAINT alert_rules_observed_property_id_severity_direction_key,
    ADD CONSTRAINT alert_rules_one_per_kind UNIQUE (observed_property_id, kind, severity, direction);

-- The missing-data check reads the datastreams of the enabled missing-data rules by age.
CREATE INDEX datastreams_latest_time ON ioc.datastreams (observed_property_id, latest_time);

INSERT INTO ioc.alert_rules (observed_property_id, kind, severity, direction, raise_at, clear_at,
    title, title_en)
SELECT op.id, r.kind, r.severity, 'above', r.raise_at, r.clear_at, r.title, r.title_en
FROM (VALUES
    ('Water level', 'rate', 'warning', 0.5, 0.2, 'Mực nước lên nhanh', 'Water level rising fast'),
    ('PM2.5', 'missing', 'warning', 30.0, 10.0, 'Mất dữ liệu bụi mịn PM2.5', 'No PM2.5 data'),
    ('Water level', 'missing', 'warning', 30.0, 10.0, 'Mất dữ liệu mực nước', 'No water level data'),
    ('Rainfall', 'missing', 'warning', 30.0, 10.0, 'Mất dữ liệu lượng mưa', 'No rainfall data')
) AS r(property, kind, severity, raise_at, clear_at, title, title_en)
JOIN ioc.observed_properties op ON op.name = r.property
ON CONFLICT DO NOTHING;

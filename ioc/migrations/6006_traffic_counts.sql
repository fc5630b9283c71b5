-- Traffic counts (issue 14): the traffic monitoring cameras count vehicles (`ioc::seed`).
-- Very heavy flow on a road of the sample is an operator's warning, with hysteresis.
INSERT INTO ioc.observed_properties (name, definition, description) VALUES
    ('Traffic count', 'http://vocab.datex.org/terms#trafficFlow', 'Lưu lượng xe')
ON CONFLICT (name) DO NOTHING;
INSERT INTO ioc.alert_rules (observed_property_id, kind, severity, direction, raise_at, clear_at,
    title, title_en)
SELECT op.id, 'threshold', 'warning', 'above', 2000, 1600, 'Lưu lượng xe rất cao',
       'Very heavy traffic'
FROM ioc.observed_properties op WHERE op.name = 'Traffic count'
ON CONFLICT DO NOTHING;

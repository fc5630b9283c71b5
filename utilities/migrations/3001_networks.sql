-- Water supply and drainage, and the power grid.
SELECT platform.create_feature_table('utilities', 'water_pipes', 'MultiLineString',
    ARRAY[['diameter_mm', 'double precision'], ['material', 'text'], ['install_year', 'bigint']],
    ARRAY['source_id']);
SELECT platform.create_feature_table('utilities', 'water_valves', 'Point',
    ARRAY[['code', 'text'], ['valve_type', 'text']], ARRAY['source_id']);
SELECT platform.create_feature_table('utilities', 'water_meters', 'Point',
    ARRAY[['code', 'text'], ['customer_ref', 'text']], ARRAY['source_id']);
SELECT platform.create_feature_table('utilities', 'hydrants', 'Point',
    ARRAY[['code', 'text'], ['status', 'text']], ARRAY['source_id']);
SELECT platform.create_feature_table('utilities', 'drains', 'MultiLineString',
    ARRAY[['diameter_mm', 'double precision'], ['material', 'text']], ARRAY['source_id']);
SELECT platform.create_feature_table('utilities', 'manholes', 'Point',
    ARRAY[['code', 'text'], ['depth_m', 'double precision']], ARRAY['source_id']);
SELECT platform.create_feature_table('utilities', 'power_lines', 'MultiLineString',
    ARRAY[['voltage_kv', 'double precision'], ['name', 'text']], ARRAY['source_id']);
SELECT platform.create_feature_table('utilities', 'power_poles', 'Point',
    ARRAY[['code', 'text'], ['pole_type', 'text']], ARRAY['source_id']);
SELECT platform.create_feature_table('utilities', 'substations', 'Point',
    ARRAY[['code', 'text'], ['name', 'text'], ['capacity_kva', 'double precision']],
    ARRAY['source_id']);

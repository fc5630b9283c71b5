-- Transport infrastructure and environment monitoring.
SELECT platform.create_feature_table('sectors', 'roads', 'MultiLineString',
    ARRAY[['name', 'text'], ['road_class', 'text'], ['width_m', 'double precision']],
    ARRAY['source_id']);
SELECT platform.create_feature_table('sectors', 'street_lights', 'Point',
    ARRAY[['code', 'text'], ['power_w', 'double precision'], ['lamp_type', 'text']],
    ARRAY['source_id']);
SELECT platform.create_feature_table('sectors', 'traffic_lights', 'Point',
    ARRAY[['code', 'text'], ['name', 'text']], ARRAY['source_id']);
SELECT platform.create_feature_table('sectors', 'cameras', 'Point',
    ARRAY[['code', 'text'], ['name', 'text'], ['camera_type', 'text']], ARRAY['source_id']);
SELECT platform.create_feature_table('sectors', 'bus_stops', 'Point',
    ARRAY[['code', 'text'], ['name', 'text']], ARRAY['source_id']);
SELECT platform.create_feature_table('sectors', 'bus_routes', 'MultiLineString',
    ARRAY[['route_number', 'text'], ['name', 'text']], ARRAY['source_id']);
SELECT platform.create_feature_table('sectors', 'env_stations', 'Point',
    ARRAY[['code', 'text'], ['name', 'text'], ['station_type', 'text']], ARRAY['source_id']);

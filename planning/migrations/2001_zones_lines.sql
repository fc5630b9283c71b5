-- Detailed planning: zones with their planned land-use function and limits, and the red lines
-- (chỉ giới đường đỏ) and building lines (chỉ giới xây dựng) that bound roads and buildings.
SELECT platform.create_feature_table('planning', 'zones', 'MultiPolygon',
    ARRAY[['zone_code', 'text NOT NULL'],
          ['name', 'text'],
          ['land_use_function', 'text'],
          ['density_pct', 'double precision CHECK (density_pct BETWEEN 0 AND 100)'],
          ['max_floors', 'bigint CHECK (max_floors >= 0)'],
          ['max_height_m', 'double precision CHECK (max_height_m >= 0)'],
          ['setback_m', 'double precision'],
          ['decision_number', 'text'],
          ['decision_date', 'date']],
    ARRAY['source_id']);
SELECT platform.create_feature_table('planning', 'red_lines', 'MultiLineString',
    ARRAY[['road_name', 'text'], ['decision_number', 'text']], ARRAY['source_id']);
SELECT platform.create_feature_table('planning', 'building_lines', 'MultiLineString',
    ARRAY[['road_name', 'text'], ['decision_number', 'text'], ['setback_m', 'double precision']],
    ARRAY['source_id']);

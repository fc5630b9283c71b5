-- Buildings (công trình xây dựng, issue 13): footprints with floors and height, existing or
-- planned; planned ones belong to a plan version like zones (the row filter of plans applies:
-- drafts are for planners). Maps draw them in 3D (MapLibre fill-extrusion by height_m, else
-- floors × 3.6 m).
SELECT platform.create_feature_table('planning', 'buildings', 'MultiPolygon',
    ARRAY[['building_code', 'text NOT NULL'],
          ['name', 'text'],
          ['status', 'text CHECK (status IN (''existing'', ''planned''))'],
          ['floors', 'bigint CHECK (floors BETWEEN 0 AND 200)'],
          ['height_m', 'double precision CHECK (height_m BETWEEN 0 AND 1000)'],
          ['plan_id', 'bigint REFERENCES planning.plans (id)']],
    ARRAY['source_id']);
-- A building code is unique within its plan (existing buildings: plan_id NULL), as for zones.
ALTER TABLE planning.buildings DROP CONSTRAINT buildings_source_id_key;
ALTER TABLE planning.buildings ADD CONSTRAINT buildings_plan_source_key
    UNIQUE NULLS NOT DISTINCT (plan_id, source_id);
CREATE INDEX buildings_plan_idx ON planning.buildings (plan_id);

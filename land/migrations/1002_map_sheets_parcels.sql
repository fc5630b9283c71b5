-- Cadastral map sheets (tờ bản đồ) and parcels (thửa đất). A parcel is identified by its
-- pre-merger commune code + sheet number + parcel number; its legal area is measured in its
-- native TM-3 zone (area_m2), next to the areas the delivery declared.
SELECT platform.create_feature_table('land', 'map_sheets', 'MultiPolygon',
    ARRAY[['commune_code', 'text NOT NULL'],
          ['sheet_number', 'bigint NOT NULL CHECK (sheet_number > 0)'],
          ['scale', 'bigint CHECK (scale BETWEEN 100 AND 100000)']],
    ARRAY['commune_code', 'sheet_number']);

SELECT platform.create_feature_table('land', 'parcels', 'MultiPolygon',
    ARRAY[['commune_code', 'text NOT NULL'],
          ['sheet_number', 'bigint NOT NULL CHECK (sheet_number > 0)'],
          ['parcel_number', 'bigint NOT NULL CHECK (parcel_number > 0)'],
          ['declared_area_m2', 'double precision'],
          ['legal_area_m2', 'double precision'],
          ['land_use_code', 'text'],
          ['owner_name', 'text'],
          ['address', 'text'],
          ['place_name', 'text'],
          ['certificate_issued', 'boolean']],
    ARRAY['commune_code', 'sheet_number', 'parcel_number']);
ALTER TABLE land.parcels ADD COLUMN area_m2 double precision GENERATED ALWAYS AS (ST_Area(geom)) STORED;

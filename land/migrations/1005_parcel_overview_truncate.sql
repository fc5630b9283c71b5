-- TRUNCATE fires no DELETE trigger: emptying the parcels empties their land-use overview too,
-- and tells tile servers that every parcel tile changed.
CREATE FUNCTION land.clear_parcel_overview() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM land.parcel_overview;
    PERFORM pg_notify('bando_layer_changes', json_build_object(
        'table', 'land.parcels', 'op', 'truncate',
        'bbox_3857', json_build_array(-20037508.342789244, -20037508.342789244,
                                      20037508.342789244, 20037508.342789244))::text);
    RETURN NULL;
END $$;

CREATE TRIGGER parcels_overview_truncate AFTER TRUNCATE ON land.parcels
    FOR EACH STATEMENT EXECUTE FUNCTION land.clear_parcel_overview();

-- An UPDATE refreshes the land-use overview only around the parcels whose geometry or land-use
-- code changed: correcting an address or an owner's name rewrites no overview cell. (Statement
-- triggers with transition tables cannot name columns, so the function compares old and new
-- rows itself.)
CREATE OR REPLACE FUNCTION land.refresh_parcel_overview_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    box box2d;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT ST_Extent(geom_3857) INTO box FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT ST_Extent(geom_3857) INTO box FROM old_rows;
    ELSE
        SELECT ST_Extent(v.g) INTO box FROM (
            SELECT o.geom_3857 AS old_g, n.geom_3857 AS new_g
            FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
            WHERE o.id IS NULL OR n.id IS NULL
               OR o.land_use_code IS DISTINCT FROM n.land_use_code
               OR NOT ST_OrderingEquals(o.geom_3857, n.geom_3857)
        ) changed, LATERAL (VALUES (changed.old_g), (changed.new_g)) AS v(g);
    END IF;
    IF box IS NOT NULL THEN
        PERFORM land.refresh_parcel_overview(ST_SetSRID(box::geometry, 3857));
    END IF;
    RETURN NULL;
END $$;

//! Parcel rules the importers run on their staging table before a delivery becomes visible:
//! overlaps between parcels above a tolerance and areas that disagree with the declared ones.
//! Both are reported, not rejected: a land officer decides (domain.md §2). Measured in each
//! parcel's native TM-3 metres. Overlaps up to a tolerance (m²: the configured `[land]
//! overlap_tolerance_m2`, the same as the edits', [`crate::edit::OVERLAP_TOLERANCE_M2`] by
//! default) are two parcels sharing an edge.

use sqlx::PgConnection;

/// Relative difference between declared and measured area reported as a mismatch.
pub const AREA_MISMATCH_RATIO: f64 = 0.05;

/// Findings on the staged parcels (rows of `stage` with `rejected IS NULL`), as sentences.
/// Overlaps are `overlaps` when the in-memory detector saw every parcel (projected deliveries:
/// seconds for a million parcels; it was given `tolerance_m2` too); otherwise they are
/// computed in PostGIS; only those over `tolerance_m2` are findings.
pub async fn stage_findings(
    conn: &mut PgConnection,
    stage: &str,
    overlaps: Option<Vec<StagedOverlap>>,
    tolerance_m2: f64,
) -> Result<Vec<String>, sqlx::Error> {
    let stage = gis_core::db::quote_ident(stage);
    let mut findings = Vec::new();
    match overlaps {
        Some(overlaps) => {
            if !overlaps.is_empty() {
                let examples = &overlaps[..overlaps.len().min(5)];
                let names = staged_names(
                    conn,
                    &stage,
                    examples.iter().flat_map(|o| [o.a, o.b]).collect(),
                )
                .await?;
                let name = |place: &(i32, i64)| {
                    names
                        .get(place)
                        .cloned()
                        .unwrap_or_else(|| format!("feature {} of file {}", place.1, place.0))
                };
                let examples: Vec<String> = examples
                    .iter()
                    .map(|o| format!("{} × {} ({:.1} m²)", name(&o.a), name(&o.b), o.area_m2))
                    .collect();
                findings.push(format!(
                    "{} pairs of parcels overlap by more than {tolerance_m2} m² (largest: {})",
                    overlaps.len(),
                    examples.join("; ")
                ));
            }
        }
        None => findings.extend(sql_overlaps(conn, &stage, tolerance_m2).await?),
    }
    findings.extend(area_mismatches(conn, &stage).await?);
    Ok(findings)
}

/// Two delivered parcels overlapping, named by their place in the delivery (file, feature
/// index), as the in-memory check found them.
#[derive(Debug, Clone, PartialEq)]
pub struct StagedOverlap {
    /// The parcel staged first.
    pub a: (i32, i64),
    /// The parcel staged later.
    pub b: (i32, i64),
    /// Area of their intersection, m².
    pub area_m2: f64,
}

/// The identities (commune/sheet/number) of a few staged rows, by their place in the delivery
/// (the in-memory check keeps no names: a million of them would be ~20 MB).
async fn staged_names(
    conn: &mut PgConnection,
    stage: &str,
    places: Vec<(i32, i64)>,
) -> Result<std::collections::HashMap<(i32, i64), String>, sqlx::Error> {
    let (files, indexes): (Vec<i32>, Vec<i64>) = places.into_iter().unzip();
    let rows: Vec<(i32, i64, String)> = sqlx::query_as(&format!(
        "SELECT s.__file, s.__index,
                concat_ws('/', s.commune_code, s.sheet_number, s.parcel_number)
         FROM {stage} s
         JOIN unnest($1::int[], $2::bigint[]) AS p(file, index)
           ON s.__file = p.file AND s.__index = p.index"
    ))
    .bind(&files)
    .bind(&indexes)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(file, index, name)| ((file, index), name))
        .collect())
}

/// The same check in PostGIS, for deliveries in a geographic CRS (small ones in practice).
async fn sql_overlaps(
    conn: &mut PgConnection,
    stage: &str,
    tolerance_m2: f64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::raw_sql(&format!(
        "CREATE INDEX ON {stage} USING gist (geom) WHERE rejected IS NULL; ANALYZE {stage}"
    ))
    .execute(&mut *conn)
    .await?;
    let mut findings = Vec::new();
    let (overlaps, examples): (i64, Option<String>) = sqlx::query_as(&format!(
        "WITH o AS (
            SELECT a.commune_code || '/' || a.sheet_number || '/' || a.parcel_number AS a_id,
                   b.commune_code || '/' || b.sheet_number || '/' || b.parcel_number AS b_id,
                   ST_Area(ST_Intersection(a.geom, b.geom)) AS area
            FROM {stage} a JOIN {stage} b
              ON a.geom && b.geom AND a.ctid < b.ctid AND ST_SRID(a.geom) = ST_SRID(b.geom)
            WHERE a.rejected IS NULL AND b.rejected IS NULL AND ST_Relate(a.geom, b.geom, '2********'))
         SELECT count(*), string_agg(a_id || ' × ' || b_id || ' (' || round(area::numeric, 1) || ' m²)', '; ')
                FILTER (WHERE rn <= 5)
         FROM (SELECT *, row_number() OVER (ORDER BY area DESC) rn FROM o WHERE area > $1) x"
    ))
    .bind(tolerance_m2)
    .fetch_one(&mut *conn)
    .await?;
    if overlaps > 0 {
        findings.push(format!(
            "{overlaps} pairs of parcels overlap by more than {tolerance_m2} m² (largest: {})",
            examples.unwrap_or_default()
        ));
    }
    Ok(findings)
}

/// Sets apart the live parcels an upsert keeps (those no accepted staged row replaces) in the
/// temporary table `bando_kept`, by one hash anti-join on the identity; answers how many. A
/// delivery of the whole layer keeps none, and then nothing else runs. The delivery must not
/// overlap them ([`kept_overlaps_in_memory`], [`report_kept_overlaps`]; [`drop_kept`] after).
pub async fn set_kept_apart(conn: &mut PgConnection, stage: &str) -> Result<u64, sqlx::Error> {
    let stage = gis_core::db::quote_ident(stage);
    drop_kept(conn).await?;
    Ok(sqlx::query(&format!(
        "CREATE TEMP TABLE bando_kept AS
         SELECT l.commune_code, l.sheet_number, l.parcel_number, l.geom, l.geom_3857
         FROM land.parcels l
         WHERE NOT EXISTS (SELECT 1 FROM {stage} r
                           WHERE r.rejected IS NULL AND r.commune_code = l.commune_code
                             AND r.sheet_number = l.sheet_number
                             AND r.parcel_number = l.parcel_number)"
    ))
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Drops the kept parcels' table.
pub async fn drop_kept(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("DROP TABLE IF EXISTS pg_temp.bando_kept")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Kept parcels further than this (m) from the box of a zone's delivered parcels cannot
/// overlap them; the margin covers the bend of the box's edges between zones.
const KEPT_MARGIN_M: f64 = 100.0;

/// The delivered parcels (the detector's numbers) that overlap kept ones by more than the
/// detector's tolerance: (number, the kept parcel's commune/sheet/number, area m²). Only the
/// kept parcels near each zone's delivered ones are read, in that zone's coordinates, into a
/// second detector; each delivered parcel is then visited once against a tree of their
/// boxes. (Transforming every delivered parcel in PostGIS to probe the kept ones took ~20 s
/// at a million; this is well under a second.)
pub async fn kept_overlaps_in_memory(
    conn: &mut PgConnection,
    delivered: crate::overlaps::OverlapDetector,
) -> Result<Vec<(u32, String, f64)>, sqlx::Error> {
    let mut kept = crate::overlaps::OverlapDetector::new(delivered.tolerance_m2());
    let mut names = Vec::new();
    for (srid, e) in delivered.extents() {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
            "WITH area AS (
                SELECT ST_Transform(ST_Segmentize(ST_Expand(ST_MakeEnvelope($1, $2, $3, $4, $5), $6),
                                                  1000), 3857) AS b)
             SELECT concat_ws('/', l.commune_code, l.sheet_number, l.parcel_number),
                    ST_AsBinary(ST_Transform(l.geom, $5), 'NDR')
             FROM pg_temp.bando_kept l, area
             WHERE l.geom_3857 && area.b",
        )
        .bind(e[0])
        .bind(e[1])
        .bind(e[2])
        .bind(e[3])
        .bind(srid)
        .bind(KEPT_MARGIN_M)
        .fetch_all(&mut *conn)
        .await?;
        for (name, wkb) in rows {
            // A kept parcel whose geometry the detector cannot read is left to the rules it
            // passed when it was loaded.
            if kept.add(srid, &wkb).is_ok() {
                names.push(name);
            }
        }
    }
    let found = tokio::task::spawn_blocking(move || delivered.overlaps_with(&kept))
        .await
        .map_err(|e| {
            sqlx::Error::Protocol(format!("the kept-parcels overlap check failed: {e}"))
        })?;
    Ok(found
        .into_iter()
        .filter_map(|o| Some((o.a, names.get(o.b as usize)?.clone(), o.area_m2)))
        .collect())
}

/// A delivered parcel overlapping a kept live one, as the in-memory check found it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptOverlap {
    /// The staged row: (file, feature index).
    pub place: (i32, i64),
    /// The kept parcel: commune/sheet/number.
    pub live: String,
    /// Area of their intersection, m².
    pub area_m2: f64,
}

/// Reports (and with `reject`, rejects) the accepted staged rows overlapping kept parcels by
/// more than `tolerance_m2`: `pairs` as [`kept_overlaps_in_memory`] found them, named by
/// place in the delivery (file, feature index); `None` computes them in PostGIS, each staged
/// parcel probing a GiST index of the kept ones (deliveries the detector could not read).
pub async fn report_kept_overlaps(
    conn: &mut PgConnection,
    stage: &str,
    pairs: Option<Vec<KeptOverlap>>,
    reject: bool,
    tolerance_m2: f64,
) -> Result<Vec<String>, sqlx::Error> {
    let stage = gis_core::db::quote_ident(stage);
    let hits = match pairs {
        Some(_) => format!(
            "hits AS (
                SELECT s.ctid AS row,
                       s.commune_code || '/' || s.sheet_number || '/' || s.parcel_number AS staged,
                       p.live, p.area
                FROM unnest($2::int[], $3::bigint[], $4::text[], $5::float8[])
                         AS p(file, index, live, area)
                JOIN {stage} s ON s.__file = p.file AND s.__index = p.index
                WHERE s.rejected IS NULL),
             over AS (SELECT * FROM hits WHERE area > $1)"
        ),
        None => {
            for text in [
                "CREATE INDEX ON pg_temp.bando_kept USING gist (geom_3857)",
                "ANALYZE pg_temp.bando_kept",
            ] {
                sqlx::query(text).execute(&mut *conn).await?;
            }
            format!(
                "hits AS (
                    SELECT s.ctid AS row,
                           s.commune_code || '/' || s.sheet_number || '/' || s.parcel_number AS staged,
                           l.commune_code || '/' || l.sheet_number || '/' || l.parcel_number AS live,
                           ST_Area(ST_Intersection(s.geom, ST_Transform(l.geom, ST_SRID(s.geom)))) AS area
                    FROM {stage} s
                    CROSS JOIN LATERAL (SELECT ST_Transform(s.geom, 3857) AS g) m
                    JOIN pg_temp.bando_kept l ON l.geom_3857 && m.g AND ST_Intersects(l.geom_3857, m.g)
                    WHERE s.rejected IS NULL),
                 over AS (SELECT * FROM hits WHERE area > $1)"
            )
        }
    };
    let columns = pairs.map(|pairs| {
        let mut c: (Vec<i32>, Vec<i64>, Vec<String>, Vec<f64>) = Default::default();
        for p in pairs {
            c.0.push(p.place.0);
            c.1.push(p.place.1);
            c.2.push(p.live);
            c.3.push(p.area_m2);
        }
        c
    });
    let count = format!(
        "WITH {hits}
         SELECT count(*), count(DISTINCT row),
                string_agg(staged || ' × ' || live || ' (' || round(area::numeric, 1) || ' m²)', '; ')
                    FILTER (WHERE rn <= 5)
         FROM (SELECT *, row_number() OVER (ORDER BY area DESC, staged, live) rn FROM over) x"
    );
    let mut query = sqlx::query_as(&count).bind(tolerance_m2);
    if let Some(c) = &columns {
        query = query.bind(&c.0).bind(&c.1).bind(&c.2).bind(&c.3);
    }
    let (pairs, rows, examples): (i64, i64, Option<String>) = query.fetch_one(&mut *conn).await?;
    if pairs == 0 {
        return Ok(Vec::new());
    }
    if reject {
        let update = format!(
            "WITH {hits}
             UPDATE {stage} s SET rejected = 'overlaps parcel ' || w.live
                 || ' already in the layer (not replaced by this delivery) by '
                 || round(w.area::numeric, 1) || ' m²'
             FROM (SELECT DISTINCT ON (row) row, live, area FROM over ORDER BY row, area DESC) w
             WHERE s.ctid = w.row"
        );
        let mut query = sqlx::query(&update).bind(tolerance_m2);
        if let Some(c) = &columns {
            query = query.bind(&c.0).bind(&c.1).bind(&c.2).bind(&c.3);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(vec![format!(
        "{rows} delivered parcels overlap parcels already in the layer that this delivery does not replace, by more than {tolerance_m2} m² ({pairs} pairs; largest: {}){}",
        examples.unwrap_or_default(),
        if reject { "; they were rejected" } else { "" }
    )])
}

async fn area_mismatches(conn: &mut PgConnection, stage: &str) -> Result<Vec<String>, sqlx::Error> {
    let mut findings = Vec::new();
    let (mismatches, examples): (i64, Option<String>) = sqlx::query_as(&format!(
        "SELECT count(*), string_agg(id || ': declared ' || round(declared_area_m2::numeric, 1)
                  || ' m², measured ' || round(measured::numeric, 1) || ' m²', '; ') FILTER (WHERE rn <= 5)
         FROM (SELECT commune_code || '/' || sheet_number || '/' || parcel_number AS id,
                      declared_area_m2, ST_Area(geom) AS measured,
                      row_number() OVER (ORDER BY abs(declared_area_m2 - ST_Area(geom)) DESC) rn
               FROM {stage}
               WHERE rejected IS NULL AND declared_area_m2 IS NOT NULL
                 AND abs(declared_area_m2 - ST_Area(geom)) > greatest(1.0, $1 * ST_Area(geom))) x"
    ))
    .bind(AREA_MISMATCH_RATIO)
    .fetch_one(&mut *conn)
    .await?;
    if mismatches > 0 {
        findings.push(format!(
            "{mismatches} parcels have a declared area (DIENTICH) more than {}% off the area measured in TM-3 (e.g. {})",
            AREA_MISMATCH_RATIO * 100.0,
            examples.unwrap_or_default()
        ));
    }
    Ok(findings)
}

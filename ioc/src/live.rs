//! The latest-value layer (`ioc.latest_readings`) and the feed log, kept by ingest.
//!
//! The layer is a feature table like the sectors' (made by `platform.create_feature_table` in
//! migration 6002): one point per located datastream with its latest value, unit, time and
//! status (the highest severity of its episodes in progress — also for a datastream never
//! heard from whose missing-data episode is on —, else `no_data` or `ok`). Ingest
//! rewrites the rows of the datastreams a batch touched with one statement, whose statement
//! trigger sends `bando_layer_changes` with their area: every instance's tile cache drops just
//! those stations' tiles, once per batch — so at most a few times a second per tile however
//! fast readings arrive. The declaration is [`crate::plugin::layers`].

use sqlx::PgConnection;

/// The layer's table (schema, table).
pub const TABLE: (&str, &str) = ("ioc", "latest_readings");

/// Rewrites the latest-value rows of `datastreams` (those with a location) from the
/// datastreams' latest values and the episodes in progress.
pub async fn refresh(conn: &mut PgConnection, datastreams: &[i64]) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO ioc.latest_readings (source_id, datastream_id, station_code, station,
             property, value, unit, observed_at, status, public, geom, updated_at)
         SELECT d.id::text, d.id, t.station_code, t.name, op.name,
                CASE WHEN jsonb_typeof(d.latest_result) = 'number'
                     THEN (d.latest_result #>> '{}')::double precision END,
                d.unit_symbol,
                to_char(d.latest_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                coalesce((SELECT CASE WHEN bool_or(r.severity = 'alarm') THEN 'alarm'
                                      WHEN count(*) > 0 THEN 'warning' END
                          FROM ioc.alert_state s
                          JOIN ioc.alert_rules r ON r.id = s.rule_id
                          WHERE s.datastream_id = d.id),
                         CASE WHEN d.latest_time IS NULL THEN 'no_data' ELSE 'ok' END),
                d.public,
                ST_Transform(ST_PointOnSurface(loc.location), 9212),
                now()
         FROM ioc.datastreams d
         JOIN ioc.things t ON t.id = d.thing_id
         JOIN ioc.observed_properties op ON op.id = d.observed_property_id
         JOIN LATERAL (SELECT l.location FROM ioc.thing_locations tl
                       JOIN ioc.locations l ON l.id = tl.location_id
                       WHERE tl.thing_id = t.id ORDER BY l.id LIMIT 1) loc ON true
         WHERE d.id = ANY($1)
         ON CONFLICT (source_id) DO UPDATE SET
             value = EXCLUDED.value, unit = EXCLUDED.unit, observed_at = EXCLUDED.observed_at,
             status = EXCLUDED.status, public = EXCLUDED.public, station = EXCLUDED.station,
             geom = EXCLUDED.geom, updated_at = now()",
    )
    .bind(datastreams)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// A latest-value row as a GeoJSON Feature (WGS 84), `l` being `ioc.latest_readings`.
pub(crate) const READING_JSON: &str = "json_build_object(
    'type', 'Feature', 'id', l.datastream_id,
    'geometry', ST_AsGeoJSON(ST_Transform(l.geom, 4326), 7)::json,
    'properties', json_build_object(
        'datastream_id', l.datastream_id, 'station_code', l.station_code,
        'station', l.station, 'property', l.property, 'value', l.value, 'unit', l.unit,
        'observed_at', l.observed_at, 'status', l.status))";

/// An event as JSON, `e` being `ioc.events`.
pub(crate) const EVENT_JSON: &str = "json_build_object(
    'id', e.id, 'kind', e.kind, 'severity', e.severity, 'status', e.status, 'title', e.title,
    'rule_id', e.rule_id, 'datastream_id', e.datastream_id, 'thing_id', e.thing_id,
    'location', ST_AsGeoJSON(e.location, 7)::json, 'area', ST_AsGeoJSON(e.area, 7)::json,
    'value', e.value,
    'raised_at', e.raised_at, 'clear_value', e.clear_value, 'cleared_at', e.cleared_at,
    'created_by', e.created_by, 'updated_at', e.updated_at)";

/// Appends the feed entries of these readings and events, in commit order: the advisory lock
/// is held to the end of the transaction, so a later `seq` is never visible before an earlier
/// one (the feeds read the log by `seq`).
pub async fn append_feed(
    conn: &mut PgConnection,
    datastreams: &[i64],
    events: &[i64],
) -> Result<(), sqlx::Error> {
    if datastreams.is_empty() && events.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('ioc.feed_log'))")
        .execute(&mut *conn)
        .await?;
    if !datastreams.is_empty() {
        sqlx::query(&format!(
            "INSERT INTO ioc.feed_log (kind, public, payload)
             SELECT 'reading', l.public, {READING_JSON}
             FROM ioc.latest_readings l WHERE l.datastream_id = ANY($1) ORDER BY l.datastream_id"
        ))
        .bind(datastreams)
        .execute(&mut *conn)
        .await?;
    }
    if !events.is_empty() {
        // Events are for operators: never public.
        sqlx::query(&format!(
            "INSERT INTO ioc.feed_log (kind, public, payload)
             SELECT 'event', false, {EVENT_JSON}
             FROM unnest($1::int8[]) WITH ORDINALITY AS u(id, n)
             JOIN ioc.events e ON e.id = u.id ORDER BY u.n"
        ))
        .bind(events)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

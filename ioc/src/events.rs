//! Events (incidents) and their history, for IOC operators: raised by alert rules
//! ([`crate::alerts`]) or created by operators, then acknowledged and closed. Every change is
//! a row of `ioc.event_history` and an entry of the feed ([`crate::feeds`]), announced on
//! [`EVENTS_CHANNEL`] so every instance's feed sees it.

use serde_json::Value;
use sqlx::PgPool;

use crate::live::{append_feed, EVENT_JSON};

/// The notification channel of event changes made outside ingest (payload: the event id).
pub const EVENTS_CHANNEL: &str = "bando_ioc_events";

/// Why an event operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// No such event.
    #[error("there is no event {0}")]
    NotFound(i64),
    /// The change does not apply to the event's status.
    #[error("event {id} is {status}: it cannot be {action}")]
    Conflict {
        /// The event.
        id: i64,
        /// Its status.
        status: String,
        /// What was asked.
        action: &'static str,
    },
    /// Input out of bounds.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error("events: {0}")]
    Db(#[from] sqlx::Error),
}

/// Which events to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Which {
    /// Not closed (open or acknowledged).
    #[default]
    Current,
    /// Every event, newest first.
    All,
}

/// Events, newest first (at most `limit`, ≤ 1000).
pub async fn list(pool: &PgPool, which: Which, limit: i64) -> Result<Vec<Value>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT {EVENT_JSON} FROM ioc.events e
         WHERE $1 OR e.status <> 'closed' ORDER BY e.raised_at DESC, e.id DESC LIMIT $2"
    ))
    .bind(which == Which::All)
    .bind(limit.clamp(1, 1000))
    .fetch_all(pool)
    .await
}

/// One event with its history (oldest first).
pub async fn get(pool: &PgPool, id: i64) -> Result<Value, EventError> {
    let event: Option<Value> = sqlx::query_scalar(&format!(
        "SELECT {EVENT_JSON}::jsonb || jsonb_build_object('history', coalesce((
             SELECT jsonb_agg(jsonb_build_object('at', h.at, 'action', h.action,
                 'actor', h.actor, 'value', h.value, 'note', h.note) ORDER BY h.at, h.id)
             FROM ioc.event_history h WHERE h.event_id = e.id), '[]'::jsonb))
         FROM ioc.events e WHERE e.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    event.ok_or(EventError::NotFound(id))
}

/// What an operator does to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Seen and being handled (only an open event).
    Acknowledge,
    /// Done (an open or acknowledged event).
    Close,
}

impl Action {
    fn status(self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledged",
            Action::Close => "closed",
        }
    }
}

/// Applies `action` by `actor` (with an optional note, ≤ 1000 characters): the event after it.
pub async fn act(
    pool: &PgPool,
    id: i64,
    action: Action,
    actor: &str,
    note: &str,
) -> Result<Value, EventError> {
    if note.chars().count() > 1000 {
        return Err(EventError::Invalid(
            "a note has at most 1000 characters".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM ioc.events WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let status = status.ok_or(EventError::NotFound(id))?;
    let allowed = match action {
        Action::Acknowledge => status == "open",
        Action::Close => status != "closed",
    };
    if !allowed {
        return Err(EventError::Conflict {
            id,
            status,
            action: action.status(),
        });
    }
    sqlx::query("UPDATE ioc.events SET status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(action.status())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO ioc.event_history (event_id, action, actor, note) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(action.status())
    .bind(actor)
    .bind(note)
    .execute(&mut *tx)
    .await?;
    append_feed(&mut tx, &[], &[id]).await?;
    notify(&mut tx, id).await?;
    tx.commit().await?;
    get(pool, id).await
}

/// An incident an operator reports.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// `flood`, `fire`, `traffic_accident`, `outage`, … (≤ 40 characters).
    pub kind: String,
    /// `info`, `warning`, `alarm` or `critical`.
    pub severity: String,
    /// What happened (≤ 200 characters).
    pub title: String,
    /// Where (WGS 84 longitude, latitude).
    pub lon_lat: Option<(f64, f64)>,
    /// The area it affects: a GeoJSON geometry in WGS 84 (e.g. the pipes a water isolation
    /// takes out of service). Built by the server, not taken from a request body.
    pub area: Option<Value>,
}

/// Records an operator's event: its id.
pub async fn create(pool: &PgPool, event: &NewEvent, actor: &str) -> Result<i64, EventError> {
    let kind = event.kind.trim();
    if kind.is_empty()
        || kind.chars().count() > 40
        || !kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
    {
        return Err(EventError::Invalid(
            "kind is 1–40 characters of a–z, 0–9 and _ (flood, fire, traffic_accident, outage…)"
                .into(),
        ));
    }
    if !["info", "warning", "alarm", "critical"].contains(&event.severity.as_str()) {
        return Err(EventError::Invalid(
            "severity is one of info, warning, alarm, critical".into(),
        ));
    }
    let title = event.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(EventError::Invalid("title is 1–200 characters".into()));
    }
    if let Some((lon, lat)) = event.lon_lat {
        if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            return Err(EventError::Invalid(
                "location is [longitude, latitude] in WGS 84 degrees".into(),
            ));
        }
    }
    if let Some(area) = &event.area {
        if area.get("type").and_then(Value::as_str).is_none() || area.get("coordinates").is_none() {
            return Err(EventError::Invalid(
                "area is a GeoJSON geometry with type and coordinates".into(),
            ));
        }
    }
    let mut tx = pool.begin().await?;
    // Without a point of its own, the event stands on its area (a point on it).
    let id: i64 = sqlx::query_scalar(
        "WITH a AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON($7::text), 4326) AS area)
         INSERT INTO ioc.events (kind, severity, title, location, area, created_by)
         SELECT $1, $2, $3,
                CASE WHEN $4::float8 IS NOT NULL THEN ST_SetSRID(ST_MakePoint($4, $5), 4326)
                     WHEN a.area IS NOT NULL THEN ST_PointOnSurface(a.area) END,
                a.area, $6
         FROM a
         RETURNING id",
    )
    .bind(kind)
    .bind(&event.severity)
    .bind(title)
    .bind(event.lon_lat.map(|p| p.0))
    .bind(event.lon_lat.map(|p| p.1))
    .bind(actor)
    .bind(event.area.as_ref().map(Value::to_string))
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO ioc.event_history (event_id, action, actor) VALUES ($1, 'created', $2)",
    )
    .bind(id)
    .bind(actor)
    .execute(&mut *tx)
    .await?;
    append_feed(&mut tx, &[], &[id]).await?;
    notify(&mut tx, id).await?;
    tx.commit().await?;
    Ok(id)
}

async fn notify(conn: &mut sqlx::PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(EVENTS_CHANNEL)
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// The alert rules, for operators ([`crate::alerts::list_rules`]).
pub async fn rules(pool: &PgPool) -> Result<Vec<Value>, sqlx::Error> {
    crate::alerts::list_rules(pool).await
}

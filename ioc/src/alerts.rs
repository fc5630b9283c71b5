//! Alert rules with hysteresis, evaluated by ingest in the transaction that stores the readings
//! and, for missing data, by a periodic check ([`check_missing`]).
//!
//! A rule names an observed property (and optionally one of its datastreams: for that
//! datastream it replaces the property's rule of the same kind, severity and direction —
//! migration 6008), a kind, a severity (`warning`, `alarm`), a direction and two levels: an episode starts when the rule's quantity reaches `raise_at` and ends only when
//! it gets back past `clear_at` (`ioc.alert_rules`, checked `clear_at < raise_at` for `above`).
//! The quantity is the kind's ([`Kind`]): the reading's value (`threshold`), its rate of change
//! per hour since the previous reading at least a minute older (`rate`), or the minutes since
//! the datastream's latest reading (`missing`). Each episode makes one event
//! ([`crate::events`]) with its history — not one per reading. The episodes in progress are
//! `ioc.alert_state` rows; ingest locks the datastreams it writes (`FOR UPDATE`, in id order),
//! and so does the missing-data check (skipping those being written), so concurrent writers —
//! other instances included — evaluate one datastream's episodes one after the other, and the
//! check runs in one instance at a time (a transaction-scoped advisory lock).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row};

/// Which side of the levels is the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Too high (water level, PM2.5).
    Above,
    /// Too low (groundwater, battery).
    Below,
}

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The reading's value.
    Threshold,
    /// The change of the value per hour since the previous reading (at least
    /// [`RATE_MIN_SECONDS`] older).
    Rate,
    /// Minutes since the datastream's latest reading: raised by [`check_missing`], cleared by
    /// a recent enough reading.
    Missing,
}

impl Kind {
    /// The name stored in `ioc.alert_rules.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Threshold => "threshold",
            Kind::Rate => "rate",
            Kind::Missing => "missing",
        }
    }

    /// The kind named `name`.
    pub fn named(name: &str) -> Option<Kind> {
        match name {
            "threshold" => Some(Kind::Threshold),
            "rate" => Some(Kind::Rate),
            "missing" => Some(Kind::Missing),
            _ => None,
        }
    }
}

/// Readings closer in time than this do not make a rate (a jitter of a few centimetres in
/// seconds would read as metres per hour): the previous reading of a rate is at least this
/// much older.
pub const RATE_MIN_SECONDS: i64 = 60;

/// One rule as ingest reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Its id.
    pub id: i64,
    /// What it watches.
    pub kind: Kind,
    /// `warning` or `alarm`.
    pub severity: String,
    /// The alert side.
    pub direction: Direction,
    /// Reaching it starts an episode.
    pub raise_at: f64,
    /// Getting back past it ends the episode.
    pub clear_at: f64,
    /// The events' title (Vietnamese).
    pub title: String,
}

/// What a reading does to an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// An episode starts.
    Raise,
    /// The episode in progress ends.
    Clear,
}

impl Rule {
    /// What `value` does to this rule's episode, `active` telling whether one is in progress.
    /// Between the two levels nothing changes: that band is the hysteresis.
    pub fn step(&self, active: bool, value: f64) -> Option<Step> {
        if !value.is_finite() {
            return None;
        }
        let (raised, cleared) = match self.direction {
            Direction::Above => (value >= self.raise_at, value <= self.clear_at),
            Direction::Below => (value <= self.raise_at, value >= self.clear_at),
        };
        match (active, raised, cleared) {
            (false, true, _) => Some(Step::Raise),
            (true, _, true) => Some(Step::Clear),
            _ => None,
        }
    }
}

/// A reading as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Its datastream.
    pub datastream_id: i64,
    /// Phenomenon time.
    pub time: DateTime<Utc>,
    /// The numeric result.
    pub value: f64,
}

/// A change of an episode, in the order the readings made them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// The rule.
    pub rule_id: i64,
    /// The datastream.
    pub datastream_id: i64,
    /// Raised or cleared.
    pub step: Step,
    /// The reading that did it.
    pub value: f64,
    /// Its time.
    pub time: DateTime<Utc>,
}

/// Per datastream, the stored reading a batch's rates start from (time, value): the latest
/// one at least [`RATE_MIN_SECONDS`] older than the batch's first reading ([`rate_anchors`]).
pub type Previous = HashMap<i64, (DateTime<Utc>, f64)>;

/// Walks `readings` (any order; sorted here by time per datastream) through the `rules` of
/// each datastream from the `active` episodes: the transitions, in time order per datastream.
/// A reading's rate of change is measured from the latest reading at least
/// [`RATE_MIN_SECONDS`] older (among `previous` and the readings before it). `now` is the
/// clock missing-data rules measure ages with: a reading never raises a missing-data episode
/// (that is [`check_missing`]'s), it clears one when it is recent enough.
pub fn evaluate(
    rules: &HashMap<i64, Vec<Rule>>,
    active: &mut std::collections::HashSet<(i64, i64)>,
    readings: &mut [Reading],
    previous: &Previous,
    now: DateTime<Utc>,
) -> Vec<Transition> {
    readings.sort_by_key(|r| (r.datastream_id, r.time));
    let mut out = Vec::new();
    // Each datastream's readings so far, oldest first (for the rates).
    let mut history: HashMap<i64, Vec<(DateTime<Utc>, f64)>> = HashMap::new();
    for r in readings.iter() {
        let seen = history.entry(r.datastream_id).or_insert_with(|| {
            previous
                .get(&r.datastream_id)
                .copied()
                .into_iter()
                .collect()
        });
        let rate = seen
            .iter()
            .rev()
            .find(|(t, _)| (r.time - *t).num_seconds() >= RATE_MIN_SECONDS)
            .map(|(t, v)| (r.value - v) * 3600.0 / (r.time - *t).num_seconds() as f64);
        seen.push((r.time, r.value));
        for rule in rules.get(&r.datastream_id).into_iter().flatten() {
            let key = (rule.id, r.datastream_id);
            let on = active.contains(&key);
            let (quantity, step) = match rule.kind {
                Kind::Threshold => (r.value, rule.step(on, r.value)),
                Kind::Rate => match rate {
                    Some(rate) => (rate, rule.step(on, rate)),
                    None => continue,
                },
                Kind::Missing => {
                    let age = (now - r.time).num_seconds() as f64 / 60.0;
                    (age, rule.step(on, age).filter(|s| *s == Step::Clear))
                }
            };
            if let Some(step) = step {
                match step {
                    Step::Raise => active.insert(key),
                    Step::Clear => active.remove(&key),
                };
                out.push(Transition {
                    rule_id: rule.id,
                    datastream_id: r.datastream_id,
                    step,
                    value: quantity,
                    time: r.time,
                });
            }
        }
    }
    out
}

/// The readings rates start from ([`Previous`]) for the datastreams of `first` (each with its
/// batch's first reading time) that have a rate rule in `rules`: one index probe each.
pub(crate) async fn rate_anchors(
    conn: &mut PgConnection,
    rules: &HashMap<i64, Vec<Rule>>,
    first: &HashMap<i64, DateTime<Utc>>,
) -> Result<Previous, sqlx::Error> {
    let (ids, times): (Vec<i64>, Vec<DateTime<Utc>>) = first
        .iter()
        .filter(|(ds, _)| {
            rules
                .get(ds)
                .is_some_and(|rs| rs.iter().any(|r| r.kind == Kind::Rate))
        })
        .map(|(ds, t)| (*ds, *t))
        .unzip();
    if ids.is_empty() {
        return Ok(Previous::new());
    }
    let rows: Vec<(i64, DateTime<Utc>, f64)> = sqlx::query_as(
        "SELECT u.id, o.phenomenon_time, o.result_number
         FROM unnest($1::int8[], $2::timestamptz[]) AS u(id, first)
         CROSS JOIN LATERAL (
             SELECT phenomenon_time, result_number FROM ioc.observations o
             WHERE o.datastream_id = u.id AND o.result_number IS NOT NULL
               AND o.phenomenon_time <= u.first - make_interval(secs => $3)
             ORDER BY o.phenomenon_time DESC LIMIT 1) o",
    )
    .bind(&ids)
    .bind(&times)
    .bind(RATE_MIN_SECONDS as f64)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(id, t, v)| (id, (t, v))).collect())
}

/// The enabled rules of these datastreams, by datastream: their observed property's, each
/// replaced by the datastream's own rule of the same kind, severity and direction when it has
/// one (enabled).
pub(crate) async fn rules_of(
    conn: &mut PgConnection,
    datastreams: &[i64],
) -> Result<HashMap<i64, Vec<Rule>>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT * FROM (
             SELECT DISTINCT ON (d.id, r.kind, r.severity, r.direction)
                    d.id AS ds, r.id, r.kind, r.severity, r.direction, r.raise_at, r.clear_at,
                    r.title
             FROM ioc.datastreams d
             JOIN ioc.alert_rules r ON r.observed_property_id = d.observed_property_id
                  AND (r.datastream_id IS NULL OR r.datastream_id = d.id)
             WHERE d.id = ANY($1) AND r.enabled
             ORDER BY d.id, r.kind, r.severity, r.direction, r.datastream_id IS NULL, r.id
         ) x ORDER BY id",
    )
    .bind(datastreams)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: HashMap<i64, Vec<Rule>> = HashMap::new();
    for row in rows {
        let direction: String = row.try_get("direction")?;
        let kind: String = row.try_get("kind")?;
        out.entry(row.try_get("ds")?).or_default().push(Rule {
            id: row.try_get("id")?,
            kind: Kind::named(&kind).unwrap_or(Kind::Threshold),
            severity: row.try_get("severity")?,
            direction: if direction == "below" {
                Direction::Below
            } else {
                Direction::Above
            },
            raise_at: row.try_get("raise_at")?,
            clear_at: row.try_get("clear_at")?,
            title: row.try_get("title")?,
        });
    }
    Ok(out)
}

/// Applies the transitions: a raise opens an event (with its `raised` history) and an
/// episode; a clear ends the episode and notes it on the event (`cleared`). The events
/// touched, for the feed.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    transitions: &[Transition],
) -> Result<Vec<i64>, sqlx::Error> {
    let mut events = Vec::new();
    for t in transitions {
        match t.step {
            Step::Raise => {
                let id: i64 = sqlx::query_scalar(
                    "WITH e AS (
                         INSERT INTO ioc.events (kind, severity, title, rule_id, datastream_id,
                             thing_id, location, value, raised_at)
                         SELECT CASE r.kind WHEN 'rate' THEN 'rate_of_change'
                                           WHEN 'missing' THEN 'missing_data'
                                           ELSE 'threshold' END,
                                r.severity, r.title || ' — ' || t.name, r.id, d.id,
                                t.id, (SELECT ST_PointOnSurface(l.location) FROM ioc.thing_locations tl
                                       JOIN ioc.locations l ON l.id = tl.location_id
                                       WHERE tl.thing_id = t.id ORDER BY l.id LIMIT 1),
                                $3, $4
                         FROM ioc.alert_rules r, ioc.datastreams d JOIN ioc.things t ON t.id = d.thing_id
                         WHERE r.id = $1 AND d.id = $2
                         RETURNING id
                     ), h AS (
                         INSERT INTO ioc.event_history (event_id, at, action, actor, value)
                         SELECT id, $4, 'raised', 'rule', $3 FROM e
                     ), s AS (
                         INSERT INTO ioc.alert_state (rule_id, datastream_id, event_id, since)
                         SELECT $1, $2, id, $4 FROM e
                     )
                     SELECT id FROM e",
                )
                .bind(t.rule_id)
                .bind(t.datastream_id)
                .bind(t.value)
                .bind(t.time)
                .fetch_one(&mut *conn)
                .await?;
                events.push(id);
            }
            Step::Clear => {
                let id: Option<i64> = sqlx::query_scalar(
                    "WITH s AS (
                         DELETE FROM ioc.alert_state WHERE rule_id = $1 AND datastream_id = $2
                         RETURNING event_id
                     ), e AS (
                         UPDATE ioc.events e SET cleared_at = $4, clear_value = $3,
                             updated_at = now()
                         FROM s WHERE e.id = s.event_id RETURNING e.id
                     ), h AS (
                         INSERT INTO ioc.event_history (event_id, at, action, actor, value)
                         SELECT id, $4, 'cleared', 'rule', $3 FROM e
                     )
                     SELECT id FROM e",
                )
                .bind(t.rule_id)
                .bind(t.datastream_id)
                .bind(t.value)
                .bind(t.time)
                .fetch_optional(&mut *conn)
                .await?;
                events.extend(id);
            }
        }
    }
    Ok(events)
}

/// What one run of the missing-data check did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MissingCheck {
    /// Whether this instance ran it (another one held the check's lock otherwise).
    pub ran: bool,
    /// Episodes raised (one event each).
    pub raised: Vec<i64>,
    /// Episodes cleared (a reading came in the meantime but ingest did not see it recent
    /// enough, or the rule's levels changed).
    pub cleared: Vec<i64>,
}

/// The periodic missing-data check (every instance runs it every half minute; one at a time
/// does the work): for every enabled `missing` rule, datastreams whose latest reading is older
/// than `raise_at` minutes at `now` start an episode (an event), and those in an episode whose
/// latest reading is again within `clear_at` minutes end it. A datastream that never had a
/// reading counts from when it was made (`created_at`, migration 6007): a sensor installed and
/// never heard from is raised like one that fell silent (the layer shows it in the episode's
/// severity, like a silent one), and its first reading ends the episode. Cheap: one query over
/// the datastreams of the rules' properties by latest time, and nothing written when nothing
/// changed.
pub async fn check_missing(pool: &PgPool, now: DateTime<Utc>) -> Result<MissingCheck, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let ran: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext('ioc.missing_check'))")
            .fetch_one(&mut *tx)
            .await?;
    if !ran {
        return Ok(MissingCheck::default());
    }
    // Datastreams being written by ingest are skipped: a reading is arriving.
    let due: Vec<(i64, i64, bool, f64)> = sqlx::query_as(
        "SELECT r.id, d.id, s.rule_id IS NOT NULL,
                extract(epoch FROM $1 - coalesce(d.latest_time, d.created_at))::float8 / 60
         FROM ioc.datastreams d
         JOIN LATERAL (
             -- The datastream's own rule replaces its property's of the same severity.
             SELECT DISTINCT ON (r.severity, r.direction) r.*
             FROM ioc.alert_rules r
             WHERE r.enabled AND r.kind = 'missing'
               AND r.observed_property_id = d.observed_property_id
               AND (r.datastream_id IS NULL OR r.datastream_id = d.id)
             ORDER BY r.severity, r.direction, r.datastream_id IS NULL, r.id
         ) r ON true
         LEFT JOIN ioc.alert_state s ON s.rule_id = r.id AND s.datastream_id = d.id
         WHERE ((s.rule_id IS NULL
                 AND coalesce(d.latest_time, d.created_at) <= $1 - make_interval(secs => r.raise_at * 60))
             OR (s.rule_id IS NOT NULL
                 AND d.latest_time >= $1 - make_interval(secs => r.clear_at * 60)))
         ORDER BY d.id, r.id
         FOR UPDATE OF d SKIP LOCKED",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    if due.is_empty() {
        // Ended here, not dropped: a dropped transaction is rolled back only when its pooled
        // connection is next used, and until then it keeps the lock — every other check
        // meanwhile found it taken and did not run.
        tx.commit().await?;
        return Ok(MissingCheck {
            ran,
            ..MissingCheck::default()
        });
    }
    let transitions: Vec<Transition> = due
        .iter()
        .map(|(rule, ds, active, age)| Transition {
            rule_id: *rule,
            datastream_id: *ds,
            step: if *active { Step::Clear } else { Step::Raise },
            value: (age * 10.0).round() / 10.0,
            time: now,
        })
        .collect();
    let events = apply(&mut tx, &transitions).await?;
    let mut changed: Vec<i64> = due.iter().map(|(_, ds, _, _)| *ds).collect();
    changed.dedup();
    crate::live::refresh(&mut tx, &changed).await?;
    crate::live::append_feed(&mut tx, &changed, &events).await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(crate::events::EVENTS_CHANNEL)
        .bind(serde_json::to_string(&events).unwrap_or_default())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let (mut raised, mut cleared) = (Vec::new(), Vec::new());
    for (t, e) in transitions.iter().zip(&events) {
        match t.step {
            Step::Raise => raised.push(*e),
            Step::Clear => cleared.push(*e),
        }
    }
    Ok(MissingCheck {
        ran,
        raised,
        cleared,
    })
}

/// A rule as operators write it (`/feeds/rules`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// The observed property's name (`PM2.5`, `Water level`, …).
    pub observed_property: String,
    /// `threshold` (default), `rate` or `missing`.
    #[serde(default = "threshold")]
    pub kind: String,
    /// `warning` or `alarm`.
    pub severity: String,
    /// `above` (default) or `below`; missing-data rules are `above`.
    #[serde(default = "above")]
    pub direction: String,
    /// The level that starts an episode (a value, a change per hour, or minutes without data).
    pub raise_at: f64,
    /// The level past which the episode ends.
    pub clear_at: f64,
    /// The events' title (Vietnamese, 1–200 characters).
    pub title: String,
    /// The title in English (≤ 200 characters).
    #[serde(default)]
    pub title_en: String,
    /// Whether the rule is evaluated (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// One datastream of the property the rule is for (default: every datastream of it):
    /// for that datastream it replaces the property's rule of the same kind, severity and
    /// direction. Written `datastream_id` as a rule reads (or `datastream`).
    #[serde(default, rename = "datastream_id", alias = "datastream")]
    pub datastream: Option<i64>,
}

fn threshold() -> String {
    "threshold".into()
}
fn above() -> String {
    "above".into()
}
fn yes() -> bool {
    true
}

/// Why a rule was not written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// No such rule.
    #[error("there is no alert rule {0}")]
    NotFound(i64),
    /// The rule breaks a rule of rules (said for a person).
    #[error("{0}")]
    Invalid(String),
    /// Another rule of that property, kind, severity and direction exists.
    #[error("a {kind} rule of {property} with severity {severity} and direction {direction} exists already (rule {existing})")]
    Duplicate {
        /// The observed property.
        property: String,
        /// The kind.
        kind: String,
        /// The severity.
        severity: String,
        /// The direction.
        direction: String,
        /// The rule that has them.
        existing: i64,
    },
    /// The database failed.
    #[error("alert rules: {0}")]
    Db(#[from] sqlx::Error),
}

impl RuleSpec {
    /// The checks the table's constraints would make, said for a person.
    pub fn check(&self) -> Result<Kind, RuleError> {
        let bad = |m: &str| Err(RuleError::Invalid(m.to_string()));
        let Some(kind) = Kind::named(&self.kind) else {
            return bad("kind is one of threshold, rate, missing");
        };
        if !["warning", "alarm"].contains(&self.severity.as_str()) {
            return bad("severity is warning or alarm");
        }
        if !["above", "below"].contains(&self.direction.as_str()) {
            return bad("direction is above or below");
        }
        if !self.raise_at.is_finite() || !self.clear_at.is_finite() {
            return bad("raise_at and clear_at are numbers");
        }
        if self.raise_at.abs() > 1e12 || self.clear_at.abs() > 1e12 {
            return bad("raise_at and clear_at are within ±10¹²");
        }
        if kind == Kind::Missing {
            if self.direction != "above" {
                return bad(
                    "a missing-data rule counts minutes without data: its direction is above",
                );
            }
            if !(self.clear_at >= 0.0 && self.raise_at <= 10_080.0) {
                return bad("a missing-data rule's levels are minutes: clear_at ≥ 0, raise_at ≤ 10080 (a week)");
            }
        }
        if self.direction == "above" && self.clear_at >= self.raise_at {
            return bad("for an above rule clear_at is below raise_at (the band between them is the hysteresis)");
        }
        if self.direction == "below" && self.clear_at <= self.raise_at {
            return bad("for a below rule clear_at is above raise_at (the band between them is the hysteresis)");
        }
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            return bad("title is 1–200 characters");
        }
        if self.title_en.chars().count() > 200 {
            return bad("title_en is at most 200 characters");
        }
        Ok(kind)
    }
}

/// A rule as JSON, `r` being `ioc.alert_rules` and `op` its observed property.
const RULE_JSON: &str = "json_build_object('id', r.id, 'observed_property', op.name,
    'datastream_id', r.datastream_id, 'kind', r.kind, 'severity', r.severity, 'direction', r.direction, 'raise_at', r.raise_at,
    'clear_at', r.clear_at, 'title', r.title, 'title_en', r.title_en, 'enabled', r.enabled)";

/// Every rule, by observed property, kind, severity.
pub async fn list_rules(pool: &PgPool) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT {RULE_JSON}
         FROM ioc.alert_rules r JOIN ioc.observed_properties op ON op.id = r.observed_property_id
         ORDER BY op.name, r.datastream_id NULLS FIRST, r.kind DESC, r.severity DESC, r.id"
    ))
    .fetch_all(pool)
    .await
}

/// One rule.
pub async fn get_rule(pool: &PgPool, id: i64) -> Result<serde_json::Value, RuleError> {
    let rule: Option<serde_json::Value> = sqlx::query_scalar(&format!(
        "SELECT {RULE_JSON}
         FROM ioc.alert_rules r JOIN ioc.observed_properties op ON op.id = r.observed_property_id
         WHERE r.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    rule.ok_or(RuleError::NotFound(id))
}

async fn property_id(conn: &mut PgConnection, spec: &RuleSpec) -> Result<i64, RuleError> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM ioc.observed_properties WHERE name = $1")
            .bind(&spec.observed_property)
            .fetch_optional(&mut *conn)
            .await?;
    id.ok_or_else(|| {
        RuleError::Invalid(format!(
            "there is no observed property \"{}\"",
            spec.observed_property.chars().take(80).collect::<String>()
        ))
    })
}

/// Checks that the rule's datastream (if any) exists and measures the rule's property.
async fn check_datastream(
    conn: &mut PgConnection,
    spec: &RuleSpec,
    property: i64,
) -> Result<(), RuleError> {
    let Some(ds) = spec.datastream else {
        return Ok(());
    };
    let measures: Option<(i64, String)> = sqlx::query_as(
        "SELECT op.id, op.name FROM ioc.datastreams d
         JOIN ioc.observed_properties op ON op.id = d.observed_property_id WHERE d.id = $1",
    )
    .bind(ds)
    .fetch_optional(&mut *conn)
    .await?;
    match measures {
        None => Err(RuleError::Invalid(format!("there is no datastream {ds}"))),
        Some((id, _)) if id == property => Ok(()),
        Some((_, name)) => Err(RuleError::Invalid(format!(
            "datastream {ds} measures {name}, not {}",
            spec.observed_property.chars().take(80).collect::<String>()
        ))),
    }
}

async fn duplicate(
    conn: &mut PgConnection,
    spec: &RuleSpec,
    property: i64,
    except: i64,
) -> Result<(), RuleError> {
    let existing: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM ioc.alert_rules WHERE observed_property_id = $1 AND kind = $2
             AND severity = $3 AND direction = $4 AND id <> $5
             AND datastream_id IS NOT DISTINCT FROM $6",
    )
    .bind(property)
    .bind(&spec.kind)
    .bind(&spec.severity)
    .bind(&spec.direction)
    .bind(except)
    .bind(spec.datastream)
    .fetch_optional(&mut *conn)
    .await?;
    match existing {
        Some(existing) => Err(RuleError::Duplicate {
            property: match spec.datastream {
                Some(ds) => format!("{} (datastream {ds})", spec.observed_property),
                None => spec.observed_property.clone(),
            },
            kind: spec.kind.clone(),
            severity: spec.severity.clone(),
            direction: spec.direction.clone(),
            existing,
        }),
        None => Ok(()),
    }
}

/// Datastreams of a property: their statuses in the layer follow the episodes.
async fn refresh_property(conn: &mut PgConnection, property: i64) -> Result<(), sqlx::Error> {
    let streams: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM ioc.datastreams WHERE observed_property_id = $1 ORDER BY id",
    )
    .bind(property)
    .fetch_all(&mut *conn)
    .await?;
    if !streams.is_empty() {
        crate::live::refresh(conn, &streams).await?;
        crate::live::append_feed(conn, &streams, &[]).await?;
    }
    Ok(())
}

/// Adds a rule: its id. Evaluated from the next reading (or missing-data check) on.
pub async fn create_rule(pool: &PgPool, spec: &RuleSpec) -> Result<i64, RuleError> {
    spec.check()?;
    let mut tx = pool.begin().await?;
    // One writer of rules at a time: the duplicate check then holds until commit.
    sqlx::query("LOCK TABLE ioc.alert_rules IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let property = property_id(&mut tx, spec).await?;
    check_datastream(&mut tx, spec, property).await?;
    duplicate(&mut tx, spec, property, 0).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO ioc.alert_rules (observed_property_id, kind, severity, direction, raise_at,
             clear_at, title, title_en, enabled, datastream_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(property)
    .bind(&spec.kind)
    .bind(&spec.severity)
    .bind(&spec.direction)
    .bind(spec.raise_at)
    .bind(spec.clear_at)
    .bind(spec.title.trim())
    .bind(spec.title_en.trim())
    .bind(spec.enabled)
    .bind(spec.datastream)
    .fetch_one(&mut *tx)
    .await?;
    end_overridden(&mut tx, id).await?;
    tx.commit().await?;
    Ok(id)
}

/// Ends the episodes of the property's rule that rule `id` (a datastream's, enabled) now
/// replaces for its datastream: that rule is no longer evaluated there, so its episode would
/// never clear. The events stay for operators to close; the layer's status follows.
async fn end_overridden(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    let ended: Vec<i64> = sqlx::query_scalar(
        "DELETE FROM ioc.alert_state s USING ioc.alert_rules own, ioc.alert_rules shared
         WHERE own.id = $1 AND own.enabled AND own.datastream_id IS NOT NULL
           AND shared.datastream_id IS NULL
           AND shared.observed_property_id = own.observed_property_id
           AND (shared.kind, shared.severity, shared.direction)
               = (own.kind, own.severity, own.direction)
           AND s.rule_id = shared.id AND s.datastream_id = own.datastream_id
         RETURNING s.datastream_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    if !ended.is_empty() {
        crate::live::refresh(conn, &ended).await?;
        crate::live::append_feed(conn, &ended, &[]).await?;
    }
    Ok(())
}

/// Replaces a rule. Its episodes in progress go on when only its levels, titles or severity
/// change; they end (without an event change) when it is disabled or watches something else
/// (another property, kind or direction), and the layer's statuses follow.
pub async fn update_rule(pool: &PgPool, id: i64, spec: &RuleSpec) -> Result<(), RuleError> {
    spec.check()?;
    let mut tx = pool.begin().await?;
    sqlx::query("LOCK TABLE ioc.alert_rules IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let old: Option<(i64, String, String, Option<i64>)> = sqlx::query_as(
        "SELECT observed_property_id, kind, direction, datastream_id FROM ioc.alert_rules
         WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let (old_property, old_kind, old_direction, old_datastream) =
        old.ok_or(RuleError::NotFound(id))?;
    let property = property_id(&mut tx, spec).await?;
    check_datastream(&mut tx, spec, property).await?;
    duplicate(&mut tx, spec, property, id).await?;
    sqlx::query(
        "UPDATE ioc.alert_rules SET observed_property_id = $2, kind = $3, severity = $4,
             direction = $5, raise_at = $6, clear_at = $7, title = $8, title_en = $9,
             enabled = $10, datastream_id = $11
         WHERE id = $1",
    )
    .bind(id)
    .bind(property)
    .bind(&spec.kind)
    .bind(&spec.severity)
    .bind(&spec.direction)
    .bind(spec.raise_at)
    .bind(spec.clear_at)
    .bind(spec.title.trim())
    .bind(spec.title_en.trim())
    .bind(spec.enabled)
    .bind(spec.datastream)
    .execute(&mut *tx)
    .await?;
    if !spec.enabled
        || property != old_property
        || spec.kind != old_kind
        || spec.direction != old_direction
        || spec.datastream != old_datastream
    {
        sqlx::query("DELETE FROM ioc.alert_state WHERE rule_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    end_overridden(&mut tx, id).await?;
    refresh_property(&mut tx, old_property).await?;
    if property != old_property {
        refresh_property(&mut tx, property).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes a rule; its episodes end, its events stay (without their rule).
pub async fn delete_rule(pool: &PgPool, id: i64) -> Result<(), RuleError> {
    let mut tx = pool.begin().await?;
    let property: Option<i64> = sqlx::query_scalar(
        "DELETE FROM ioc.alert_rules WHERE id = $1 RETURNING observed_property_id",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let property = property.ok_or(RuleError::NotFound(id))?;
    refresh_property(&mut tx, property).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn rule(direction: Direction, raise_at: f64, clear_at: f64) -> Rule {
        Rule {
            id: 1,
            kind: Kind::Threshold,
            severity: "warning".into(),
            direction,
            raise_at,
            clear_at,
            title: "t".into(),
        }
    }

    #[test]
    fn hysteresis_makes_one_episode_per_crossing() {
        let r = rule(Direction::Above, 50.0, 40.0);
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let values = [30.0, 49.9, 50.0, 55.0, 45.0, 51.0, 41.0, 40.0, 45.0, 50.0];
        let mut readings: Vec<Reading> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Reading {
                datastream_id: 7,
                time: t0 + chrono::Duration::seconds(i as i64),
                value: *v,
            })
            .collect();
        // Arrival order does not matter: phenomenon time does.
        readings.reverse();
        let rules = HashMap::from([(7, vec![r])]);
        let mut active = HashSet::new();
        let steps: Vec<(Step, f64)> =
            evaluate(&rules, &mut active, &mut readings, &HashMap::new(), t0)
                .iter()
                .map(|t| (t.step, t.value))
                .collect();
        assert_eq!(
            steps,
            vec![
                (Step::Raise, 50.0),
                (Step::Clear, 40.0),
                (Step::Raise, 50.0)
            ]
        );
        assert!(active.contains(&(1, 7)));
    }

    #[test]
    fn rates_are_per_hour_from_a_reading_at_least_a_minute_older() {
        let mut r = rule(Direction::Above, 0.5, 0.2);
        r.kind = Kind::Rate;
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let at = |s: i64, v: f64| Reading {
            datastream_id: 7,
            time: t0 + chrono::Duration::seconds(s),
            value: v,
        };
        let rules = HashMap::from([(7, vec![r])]);
        let mut active = HashSet::new();
        // From the stored 2.0 at 0 s: +0.3 in 30 min = 0.6/h raises. The reading 10 s later
        // is measured from the one at least a minute older (2.0 at 0 s), not from 2.3 (which
        // would read 36 m/h).
        let previous = Previous::from([(7, (t0, 2.0))]);
        let mut readings = vec![at(1800, 2.3), at(1810, 2.4), at(3600, 2.45)];
        let steps: Vec<(Step, f64)> = evaluate(&rules, &mut active, &mut readings, &previous, t0)
            .iter()
            .map(|t| (t.step, (t.value * 1000.0).round() / 1000.0))
            .collect();
        // 2.4 at 1810 s: (2.4 − 2.0) / 1810 s = 0.796/h (band, no change); 2.45 at 3600 s:
        // (2.45 − 2.4) / 1790 s = 0.101/h: cleared.
        assert_eq!(steps, vec![(Step::Raise, 0.6), (Step::Clear, 0.101)]);
        // Without an older reading there is no rate.
        let mut active = HashSet::new();
        let mut readings = vec![at(0, 1.0), at(30, 9.0)];
        assert!(evaluate(&rules, &mut active, &mut readings, &Previous::new(), t0).is_empty());
    }

    #[test]
    fn readings_only_clear_missing_data_episodes() {
        let mut r = rule(Direction::Above, 30.0, 10.0);
        r.kind = Kind::Missing;
        let rules = HashMap::from([(7, vec![r])]);
        let now = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::hours(5);
        let at = |minutes_ago: i64| Reading {
            datastream_id: 7,
            time: now - chrono::Duration::minutes(minutes_ago),
            value: 1.0,
        };
        // An old reading does not raise (that is the periodic check's).
        let mut active = HashSet::new();
        assert!(evaluate(&rules, &mut active, &mut [at(120)], &Previous::new(), now).is_empty());
        // In an episode: a reading 20 minutes old does not end it, a recent one does.
        let mut active = HashSet::from([(1, 7)]);
        assert!(evaluate(&rules, &mut active, &mut [at(20)], &Previous::new(), now).is_empty());
        let t = evaluate(&rules, &mut active, &mut [at(2)], &Previous::new(), now);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].step, Step::Clear);
        assert!(active.is_empty());
    }

    #[test]
    fn rule_specs_are_checked() {
        let spec = RuleSpec {
            observed_property: "Water level".into(),
            kind: "missing".into(),
            severity: "warning".into(),
            direction: "above".into(),
            raise_at: 30.0,
            clear_at: 10.0,
            title: "Mất dữ liệu".into(),
            title_en: String::new(),
            enabled: true,
            datastream: None,
        };
        assert_eq!(spec.check().ok(), Some(Kind::Missing));
        for bad in [
            RuleSpec {
                clear_at: -1.0,
                ..spec.clone()
            },
            RuleSpec {
                raise_at: 20_000.0,
                ..spec.clone()
            },
            RuleSpec {
                direction: "below".into(),
                raise_at: 10.0,
                clear_at: 30.0,
                ..spec.clone()
            },
            RuleSpec {
                kind: "threshold".into(),
                clear_at: 40.0,
                ..spec.clone()
            },
            RuleSpec {
                raise_at: f64::NAN,
                ..spec.clone()
            },
            RuleSpec {
                title_en: "x".repeat(201),
                ..spec.clone()
            },
        ] {
            assert!(matches!(bad.check(), Err(RuleError::Invalid(_))), "{bad:?}");
        }
    }

    #[test]
    fn below_rules_and_non_numbers() {
        let r = rule(Direction::Below, 2.0, 3.0);
        assert_eq!(r.step(false, 2.5), None);
        assert_eq!(r.step(false, 2.0), Some(Step::Raise));
        assert_eq!(r.step(true, 2.9), None);
        assert_eq!(r.step(true, 3.0), Some(Step::Clear));
        assert_eq!(r.step(false, f64::NAN), None);
    }
}

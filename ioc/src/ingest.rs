//! Observations in: parsed from what a SensorThings device sends, checked, written in batches.
//!
//! One writer task per process takes observations from a bounded queue and writes whatever has
//! queued (≤ [`BATCH`]) in one transaction: the datastreams and features of interest named are
//! looked up once, the known ones inserted with one multi-row `INSERT … SELECT FROM UNNEST`, the
//! datastreams' latest values moved forward, and `NOTIFY bando_ioc_observations` sent with the
//! datastreams that changed (other instances and the feeds follow it). A submitter never waits
//! for room: a full queue drops the reading (`overloaded`; over HTTP a 503). Every drop is
//! counted in `bando_ioc_observations_dropped_total{reason}` and in [`Stats`], and logged with
//! its reason.
//!
//! Ingest has a share of the database of its own: the pool given to [`Ingest::start`] (in the
//! server a small class pool, `bando-ingest`), used by the writer, by HTTP `POST`s — queued like
//! MQTT readings and answered when their batch commits ([`Ingest::store_one`]), never a
//! transaction of their own on a shared pool — and by the work that contends with it for the
//! same locks (the missing-data check, the purges, operators' event actions and rule changes:
//! [`Ingest::pool`]). A batch's
//! transaction holds the locks of its datastreams, the latest-value table's change counter and
//! the feed log's advisory lock until it commits, so whatever waits for those waits on an
//! ingest connection, never on a tile, feature, admin or health one.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::{alerts, live};

/// Most observations written in one statement.
pub const BATCH: usize = 2000;
/// The notification channel of stored observations (payload: JSON array of datastream ids).
pub const CHANNEL: &str = "bando_ioc_observations";

/// Why an observation was not stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// Not an Observation as SensorThings defines it.
    #[error("malformed observation: {0}")]
    Malformed(String),
    /// No datastream has this id.
    #[error("there is no datastream {0}")]
    UnknownDatastream(i64),
    /// No feature of interest has this id.
    #[error("there is no feature of interest {0}")]
    UnknownFeatureOfInterest(i64),
    /// The phenomenon time is too far in the future or older than what is kept.
    #[error("phenomenonTime {time} is out of range: {why}")]
    TimeOutOfRange {
        /// The time given.
        time: String,
        /// The bound it broke.
        why: String,
    },
    /// The ingest queue is full.
    #[error("ingest is overloaded; the reading was dropped")]
    Overloaded,
    /// The database refused the batch.
    #[error("the database did not store the batch: {0}")]
    Database(String),
}

impl Rejected {
    /// The metric label of this reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejected::Malformed(_) => "malformed",
            Rejected::UnknownDatastream(_) => "unknown_datastream",
            Rejected::UnknownFeatureOfInterest(_) => "unknown_feature_of_interest",
            Rejected::TimeOutOfRange { .. } => "time_out_of_range",
            Rejected::Overloaded => "overloaded",
            Rejected::Database(_) => "database",
        }
    }
}

/// An observation ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewObservation {
    /// Its datastream.
    pub datastream_id: i64,
    /// When the phenomenon happened (an instant, or an interval's start).
    pub phenomenon_time: DateTime<Utc>,
    /// An interval's end.
    pub phenomenon_time_end: Option<DateTime<Utc>>,
    /// When the result was produced.
    pub result_time: Option<DateTime<Utc>>,
    /// The result (any JSON; numbers are what layers and alert rules read).
    pub result: Value,
    /// Quality of the result.
    pub result_quality: Option<Value>,
    /// Other parameters.
    pub parameters: Option<Value>,
    /// Its feature of interest, by id.
    pub feature_of_interest_id: Option<i64>,
}

/// Which phenomenon times are accepted.
#[derive(Debug, Clone, Copy)]
pub struct TimeLimits {
    /// How far ahead of this server's clock (device clocks drift).
    pub max_future: Duration,
    /// How old (the retention: older readings would be deleted at once).
    pub max_age: Duration,
}

impl Default for TimeLimits {
    fn default() -> Self {
        TimeLimits {
            max_future: Duration::from_secs(3600),
            max_age: Duration::from_secs(365 * 86_400),
        }
    }
}

/// The datastream id of an MQTT topic `v1.1/Datastreams(ID)/Observations` (also `v1.0`).
pub fn datastream_of_topic(topic: &str) -> Result<i64, Rejected> {
    let bad = || {
        Rejected::Malformed(format!(
            "topic \"{}\" is not v1.1/Datastreams(ID)/Observations",
            topic.chars().take(80).collect::<String>()
        ))
    };
    let rest = topic
        .strip_prefix("v1.1/")
        .or_else(|| topic.strip_prefix("v1.0/"))
        .ok_or_else(bad)?;
    let id = rest
        .strip_prefix("Datastreams(")
        .and_then(|r| r.strip_suffix(")/Observations"))
        .ok_or_else(bad)?;
    id.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(bad)
}

fn time(v: &Value, what: &str) -> Result<DateTime<Utc>, Rejected> {
    let text = v
        .as_str()
        .ok_or_else(|| Rejected::Malformed(format!("{what} must be an ISO 8601 time string")))?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            Rejected::Malformed(format!(
                "{what} \"{}\" is not an ISO 8601 time with zone: {e}",
                text.chars().take(40).collect::<String>()
            ))
        })
}

fn id_in(v: &Value, what: &str) -> Result<i64, Rejected> {
    v.get("@iot.id")
        .and_then(Value::as_i64)
        .filter(|id| *id > 0)
        .ok_or_else(|| Rejected::Malformed(format!("{what} must be {{\"@iot.id\": ID}}")))
}

/// Reads an Observation JSON. `datastream` is the one the topic or path names; otherwise the
/// body must name it (`"Datastream": {"@iot.id": ID}`). A missing `phenomenonTime` is `now`.
pub fn parse_observation(
    datastream: Option<i64>,
    body: &[u8],
    now: DateTime<Utc>,
    limits: &TimeLimits,
) -> Result<NewObservation, Rejected> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| Rejected::Malformed(format!("not JSON: {e}")))?;
    let Value::Object(obj) = &v else {
        return Err(Rejected::Malformed(
            "an Observation is a JSON object".into(),
        ));
    };
    const KNOWN: [&str; 8] = [
        "phenomenonTime",
        "resultTime",
        "result",
        "resultQuality",
        "validTime",
        "parameters",
        "Datastream",
        "FeatureOfInterest",
    ];
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(Rejected::Malformed(format!(
            "unknown member \"{}\" (an Observation has {})",
            k.chars().take(40).collect::<String>(),
            KNOWN.join(", ")
        )));
    }
    let result = obj
        .get("result")
        .cloned()
        .ok_or_else(|| Rejected::Malformed("the member \"result\" is required".into()))?;
    let body_ds = obj
        .get("Datastream")
        .map(|d| id_in(d, "Datastream"))
        .transpose()?;
    let datastream_id = match (datastream, body_ds) {
        (Some(a), Some(b)) if a != b => {
            return Err(Rejected::Malformed(format!(
                "the body names datastream {b} but was sent to datastream {a}"
            )))
        }
        (Some(a), _) => a,
        (None, Some(b)) => b,
        (None, None) => {
            return Err(Rejected::Malformed(
                "no datastream: send to Datastreams(ID)/Observations or give \"Datastream\": {\"@iot.id\": ID}".into(),
            ))
        }
    };
    let (phenomenon_time, phenomenon_time_end) = match obj.get("phenomenonTime") {
        None | Some(Value::Null) => (now, None),
        Some(Value::String(s)) if s.contains('/') => {
            let (a, b) = s.split_once('/').unwrap_or((s, s));
            let start = time(&Value::String(a.into()), "phenomenonTime")?;
            let end = time(&Value::String(b.into()), "phenomenonTime")?;
            if end < start {
                return Err(Rejected::Malformed(
                    "phenomenonTime interval ends before it starts".into(),
                ));
            }
            (start, Some(end))
        }
        Some(t) => (time(t, "phenomenonTime")?, None),
    };
    let out_of_range = |why: String| Rejected::TimeOutOfRange {
        time: phenomenon_time.to_rfc3339(),
        why,
    };
    let ahead = chrono::Duration::from_std(limits.max_future).unwrap_or(chrono::Duration::MAX);
    let age = chrono::Duration::from_std(limits.max_age).unwrap_or(chrono::Duration::MAX);
    if phenomenon_time > now + ahead {
        return Err(out_of_range(format!(
            "more than {} s ahead of the server's clock",
            limits.max_future.as_secs()
        )));
    }
    if phenomenon_time < now - age {
        return Err(out_of_range(format!(
            "older than the {} days readings are kept",
            limits.max_age.as_secs() / 86_400
        )));
    }
    let result_time = match obj.get("resultTime") {
        None | Some(Value::Null) => None,
        Some(t) => Some(time(t, "resultTime")?),
    };
    let result_quality = obj.get("resultQuality").filter(|v| !v.is_null()).cloned();
    let parameters = match obj.get("parameters") {
        None | Some(Value::Null) => None,
        Some(p @ Value::Object(_)) => Some(p.clone()),
        Some(_) => {
            return Err(Rejected::Malformed(
                "parameters must be a JSON object".into(),
            ))
        }
    };
    let feature_of_interest_id = obj
        .get("FeatureOfInterest")
        .map(|f| id_in(f, "FeatureOfInterest"))
        .transpose()?;
    Ok(NewObservation {
        datastream_id,
        phenomenon_time,
        phenomenon_time_end,
        result_time,
        result,
        result_quality,
        parameters,
        feature_of_interest_id,
    })
}

/// Counts since start.
#[derive(Debug, Default)]
pub struct Stats {
    stored: AtomicU64,
    dropped: [AtomicU64; 6],
}

const REASONS: [&str; 6] = [
    "malformed",
    "unknown_datastream",
    "unknown_feature_of_interest",
    "time_out_of_range",
    "overloaded",
    "database",
];

impl Stats {
    /// Observations stored.
    pub fn stored(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }

    /// Observations dropped for `reason` ([`Rejected::reason`]).
    pub fn dropped(&self, reason: &str) -> u64 {
        REASONS
            .iter()
            .position(|r| *r == reason)
            .map_or(0, |i| self.dropped[i].load(Ordering::Relaxed))
    }

    fn count_stored(&self, n: usize) {
        self.stored.fetch_add(n as u64, Ordering::Relaxed);
        metrics::counter!("bando_ioc_observations_stored_total").increment(n as u64);
    }

    /// Counts and logs a dropped observation.
    pub fn drop_one(&self, why: &Rejected, source: &str) {
        let reason = why.reason();
        if let Some(i) = REASONS.iter().position(|r| *r == reason) {
            self.dropped[i].fetch_add(1, Ordering::Relaxed);
        }
        metrics::counter!("bando_ioc_observations_dropped_total", "reason" => reason).increment(1);
        tracing::warn!(reason, source, detail = %why, "observation dropped");
    }
}

/// Ingest settings.
#[derive(Debug, Clone, Copy)]
pub struct IngestSettings {
    /// Observations the queue holds before readings are dropped.
    pub queue: usize,
    /// Accepted phenomenon times.
    pub limits: TimeLimits,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            queue: 100_000,
            limits: TimeLimits::default(),
        }
    }
}

/// Where a `POST`'s outcome goes: its observation's id, or why it was not stored.
type Reply = oneshot::Sender<Result<i64, Rejected>>;

/// An observation waiting in the queue, with who sent it and, for a `POST`, where its outcome
/// goes.
#[derive(Debug)]
struct Queued {
    obs: NewObservation,
    source: &'static str,
    reply: Option<Reply>,
}

/// The ingest queue and its writer. Cloning shares them.
#[derive(Clone, Debug)]
pub struct Ingest {
    tx: mpsc::Sender<Queued>,
    pool: PgPool,
    limits: TimeLimits,
    stats: Arc<Stats>,
}

impl Ingest {
    /// Starts the writer over `pool` (ingest's own share of connections: see the module doc).
    /// It ends when every clone of the returned `Ingest` is dropped, after writing what was
    /// queued.
    pub fn start(pool: PgPool, settings: IngestSettings) -> (Ingest, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(writer(pool.clone(), rx, stats.clone()));
        (
            Ingest {
                tx,
                pool,
                limits: settings.limits,
                stats,
            },
            task,
        )
    }

    /// Ingest's pool: for the work that takes the same locks as the writer (the missing-data
    /// check, the purges, event actions, rule changes), so that waiting for them holds none of
    /// the readers' connections.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Observations waiting to be written.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// The counts.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Accepted phenomenon times.
    pub fn limits(&self) -> &TimeLimits {
        &self.limits
    }

    /// A message from the broker: parsed, queued, or counted and dropped. Never waits.
    pub fn submit_mqtt(&self, topic: &str, payload: &[u8]) {
        let parsed = datastream_of_topic(topic)
            .and_then(|ds| parse_observation(Some(ds), payload, Utc::now(), &self.limits));
        match parsed {
            Ok(obs) => self.submit(obs, "mqtt"),
            Err(why) => self.stats.drop_one(&why, "mqtt"),
        }
    }

    /// Queues a parsed observation, or drops it when the queue is full.
    pub fn submit(&self, obs: NewObservation, source: &'static str) {
        let queued = Queued {
            obs,
            source,
            reply: None,
        };
        if self.tx.try_send(queued).is_err() {
            self.stats.drop_one(&Rejected::Overloaded, source);
        }
    }

    /// Stores one observation (the HTTP `POST`): queued with the others and answered when its
    /// batch has committed — its id, or why not. A full queue answers
    /// [`Rejected::Overloaded`] at once (counted) rather than waiting for room.
    pub async fn store_one(&self, obs: NewObservation) -> Result<i64, Rejected> {
        let (reply, outcome) = oneshot::channel();
        let queued = Queued {
            obs,
            source: "http",
            reply: Some(reply),
        };
        if self.tx.try_send(queued).is_err() {
            self.stats.drop_one(&Rejected::Overloaded, "http");
            return Err(Rejected::Overloaded);
        }
        outcome
            .await
            .unwrap_or_else(|_| Err(Rejected::Database("the ingest writer stopped".into())))
    }
}

async fn writer(pool: PgPool, mut rx: mpsc::Receiver<Queued>, stats: Arc<Stats>) {
    // The observations of a batch, and apart who sent each and where its outcome goes (the
    // observations are written as they are, never copied).
    let mut batch: Vec<NewObservation> = Vec::with_capacity(BATCH);
    let mut senders: Vec<(&'static str, Option<Reply>)> = Vec::with_capacity(BATCH);
    while let Some(first) = rx.recv().await {
        batch.clear();
        senders.clear();
        let mut next = Some(first);
        while let Some(q) = next.take() {
            batch.push(q.obs);
            senders.push((q.source, q.reply));
            if batch.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        let mut attempt = 0;
        let outcome: Vec<Result<i64, Rejected>> = loop {
            match write_batch(&pool, &batch).await {
                Ok(outcome) => break outcome,
                Err(e) if attempt < 3 => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "writing observations failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => {
                    let why = Rejected::Database(e.to_string());
                    break batch.iter().map(|_| Err(why.clone())).collect();
                }
            }
        };
        // Counted before anyone is answered: a poster reading the counts sees its reading.
        stats.count_stored(outcome.iter().filter(|r| r.is_ok()).count());
        for ((source, reply), r) in senders.drain(..).zip(outcome) {
            if let Err(why) = &r {
                stats.drop_one(why, source);
            }
            if let Some(reply) = reply {
                // The poster may have gone (its request timed out): the reading is stored anyway.
                let _ = reply.send(r);
            }
        }
    }
}

/// Writes observations in one transaction: per input, its new id or why it was not stored.
pub async fn write_batch(
    pool: &PgPool,
    batch: &[NewObservation],
) -> Result<Vec<Result<i64, Rejected>>, sqlx::Error> {
    let mut clock = Steps::start();
    let mut tx = pool.begin().await?;
    clock.done("begin");
    let ds: Vec<i64> = batch.iter().map(|o| o.datastream_id).collect();
    // Locked in id order: concurrent writers (other instances too) take one datastream's
    // readings one after the other, so its alert episodes are evaluated in order.
    let previous: HashMap<i64, Option<DateTime<Utc>>> = sqlx::query_as(
        "SELECT id, latest_time FROM ioc.datastreams WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&ds)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    clock.done("lock");
    let known: HashSet<i64> = previous.keys().copied().collect();
    let fois: Vec<i64> = batch
        .iter()
        .filter_map(|o| o.feature_of_interest_id)
        .collect();
    let known_fois: HashSet<i64> = if fois.is_empty() {
        HashSet::new()
    } else {
        sqlx::query_scalar("SELECT id FROM ioc.features_of_interest WHERE id = ANY($1)")
            .bind(&fois)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect()
    };
    let verdict: Vec<Result<(), Rejected>> = batch
        .iter()
        .map(|o| {
            if !known.contains(&o.datastream_id) {
                Err(Rejected::UnknownDatastream(o.datastream_id))
            } else if let Some(f) = o.feature_of_interest_id.filter(|f| !known_fois.contains(f)) {
                Err(Rejected::UnknownFeatureOfInterest(f))
            } else {
                Ok(())
            }
        })
        .collect();
    let keep: Vec<&NewObservation> = batch
        .iter()
        .zip(&verdict)
        .filter(|(_, v)| v.is_ok())
        .map(|(o, _)| o)
        .collect();
    let mut ids: Vec<i64> = Vec::new();
    if !keep.is_empty() {
        // Ids come back in input order: the serial is drawn in the SELECT's order.
        ids = sqlx::query_scalar(
            "WITH stored AS (
                 INSERT INTO ioc.observations (datastream_id, phenomenon_time,
                     phenomenon_time_end, result_time, result, result_quality, parameters,
                     feature_of_interest_id)
                 SELECT ds, pt, pte, rt, res, q, p, f
                 FROM UNNEST($1::int8[], $2::timestamptz[], $3::timestamptz[],
                             $4::timestamptz[], $5::jsonb[], $6::jsonb[], $7::jsonb[],
                             $8::int8[]) WITH ORDINALITY AS u(ds, pt, pte, rt, res, q, p, f, n)
                 ORDER BY n
                 RETURNING id, datastream_id, phenomenon_time, result
             ), newest AS (
                 SELECT DISTINCT ON (datastream_id) * FROM stored
                 ORDER BY datastream_id, phenomenon_time DESC, id DESC
             ), moved AS (
                 UPDATE ioc.datastreams d
                 SET latest_observation_id = n.id, latest_time = n.phenomenon_time,
                     latest_result = n.result
                 FROM newest n
                 WHERE d.id = n.datastream_id
                   AND (d.latest_time IS NULL OR n.phenomenon_time >= d.latest_time)
                 RETURNING d.id
             )
             SELECT id FROM stored ORDER BY id",
        )
        .bind(keep.iter().map(|o| o.datastream_id).collect::<Vec<_>>())
        .bind(keep.iter().map(|o| o.phenomenon_time).collect::<Vec<_>>())
        .bind(
            keep.iter()
                .map(|o| o.phenomenon_time_end)
                .collect::<Vec<_>>(),
        )
        .bind(keep.iter().map(|o| o.result_time).collect::<Vec<_>>())
        .bind(keep.iter().map(|o| o.result.clone()).collect::<Vec<_>>())
        .bind(
            keep.iter()
                .map(|o| o.result_quality.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            keep.iter()
                .map(|o| o.parameters.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            keep.iter()
                .map(|o| o.feature_of_interest_id)
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *tx)
        .await?;
        clock.done("insert");
        let mut changed: Vec<i64> = keep.iter().map(|o| o.datastream_id).collect();
        changed.sort_unstable();
        changed.dedup();
        // Alert rules see the numeric readings not older than what the datastream had.
        let mut readings: Vec<alerts::Reading> = keep
            .iter()
            .filter(|o| {
                previous
                    .get(&o.datastream_id)
                    .copied()
                    .flatten()
                    .is_none_or(|t| o.phenomenon_time >= t)
            })
            .filter_map(|o| {
                o.result.as_f64().map(|value| alerts::Reading {
                    datastream_id: o.datastream_id,
                    time: o.phenomenon_time,
                    value,
                })
            })
            .collect();
        let rules = alerts::rules_of(&mut tx, &changed).await?;
        let mut events = Vec::new();
        if !rules.is_empty() && !readings.is_empty() {
            let mut active: HashSet<(i64, i64)> = sqlx::query_as(
                "SELECT rule_id, datastream_id FROM ioc.alert_state WHERE datastream_id = ANY($1)",
            )
            .bind(&changed)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
            let mut first: HashMap<i64, DateTime<Utc>> = HashMap::new();
            for r in &readings {
                let t = first.entry(r.datastream_id).or_insert(r.time);
                *t = (*t).min(r.time);
            }
            let anchors = alerts::rate_anchors(&mut tx, &rules, &first).await?;
            let transitions =
                alerts::evaluate(&rules, &mut active, &mut readings, &anchors, Utc::now());
            events = alerts::apply(&mut tx, &transitions).await?;
        }
        clock.done("alerts");
        live::refresh(&mut tx, &changed).await?;
        clock.done("latest");
        live::append_feed(&mut tx, &changed, &events).await?;
        clock.done("feed");
        // A notification carries at most 8000 bytes: 500 ids fit.
        for chunk in changed.chunks(500) {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(serde_json::to_string(chunk).unwrap_or_default())
                .execute(&mut *tx)
                .await?;
        }
        clock.done("notify");
    }
    tx.commit().await?;
    clock.done("commit");
    metrics::histogram!("bando_ioc_batch_observations").record(batch.len() as f64);
    let mut ids = ids.into_iter();
    Ok(verdict
        .into_iter()
        .map(|v| v.map(|()| ids.next().unwrap_or_default()))
        .collect())
}

/// Where a batch's time goes: each step's seconds in `bando_ioc_batch_step_seconds{step}`.
struct Steps(std::time::Instant);

impl Steps {
    fn start() -> Steps {
        Steps(std::time::Instant::now())
    }

    fn done(&mut self, step: &'static str) {
        let now = std::time::Instant::now();
        metrics::histogram!("bando_ioc_batch_step_seconds", "step" => step)
            .record(now.duration_since(self.0).as_secs_f64());
        self.0 = now;
    }
}

/// Deletes observations older than `max_age`: how many.
pub async fn purge(pool: &PgPool, max_age: Duration) -> Result<u64, sqlx::Error> {
    let secs = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
    let done = sqlx::query(
        "DELETE FROM ioc.observations WHERE phenomenon_time < now() - make_interval(secs => $1)",
    )
    .bind(secs as f64)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn topics() {
        assert_eq!(
            datastream_of_topic("v1.1/Datastreams(12)/Observations"),
            Ok(12)
        );
        assert_eq!(
            datastream_of_topic("v1.0/Datastreams(3)/Observations"),
            Ok(3)
        );
        for bad in [
            "v1.1/Datastreams(x)/Observations",
            "v1.1/Datastreams(0)/Observations",
            "v1.1/Things(1)/Observations",
            "v2/Datastreams(1)/Observations",
            "v1.1/Datastreams(1)",
        ] {
            assert_eq!(
                datastream_of_topic(bad).map_err(|e| e.reason()),
                Err("malformed"),
                "{bad}"
            );
        }
    }

    #[test]
    fn observations_as_devices_send_them() {
        let l = TimeLimits::default();
        let o = parse_observation(
            Some(4),
            br#"{"phenomenonTime": "2026-03-01T07:59:00+07:00", "result": 21.5,
                 "resultQuality": "good", "parameters": {"battery": 80}}"#,
            now(),
            &l,
        )
        .expect("valid");
        assert_eq!(o.datastream_id, 4);
        assert_eq!(o.phenomenon_time.to_rfc3339(), "2026-03-01T00:59:00+00:00");
        assert_eq!(o.result, serde_json::json!(21.5));
        let o = parse_observation(
            None,
            br#"{"result": 1, "Datastream": {"@iot.id": 9}}"#,
            now(),
            &l,
        )
        .expect("valid");
        assert_eq!((o.datastream_id, o.phenomenon_time), (9, now()));
        let o = parse_observation(
            Some(1),
            br#"{"result": 3, "phenomenonTime": "2026-03-01T07:00:00Z/2026-03-01T07:05:00Z"}"#,
            now(),
            &l,
        )
        .expect("interval");
        assert!(o.phenomenon_time_end.is_some());
    }

    #[test]
    fn bad_observations_say_why() {
        let l = TimeLimits::default();
        let reason = |ds, body: &str| {
            parse_observation(ds, body.as_bytes(), now(), &l)
                .map(|_| ())
                .map_err(|e| e.reason())
        };
        assert_eq!(reason(Some(1), "{"), Err("malformed"));
        assert_eq!(reason(Some(1), "[1]"), Err("malformed"));
        assert_eq!(
            reason(Some(1), r#"{"phenomenonTime": "2026-03-01T07:00:00Z"}"#),
            Err("malformed")
        );
        assert_eq!(
            reason(Some(1), r#"{"result": 1, "colour": 2}"#),
            Err("malformed")
        );
        assert_eq!(reason(None, r#"{"result": 1}"#), Err("malformed"));
        assert_eq!(
            reason(Some(1), r#"{"result": 1, "Datastream": {"@iot.id": 2}}"#),
            Err("malformed")
        );
        assert_eq!(
            reason(Some(1), r#"{"result": 1, "phenomenonTime": "yesterday"}"#),
            Err("malformed")
        );
        assert_eq!(
            reason(
                Some(1),
                r#"{"result": 1, "phenomenonTime": "2026-03-02T08:00:00Z"}"#
            ),
            Err("time_out_of_range")
        );
        assert_eq!(
            reason(
                Some(1),
                r#"{"result": 1, "phenomenonTime": "2020-01-01T00:00:00Z"}"#
            ),
            Err("time_out_of_range")
        );
    }
}

//! The live feed behind `/feeds/stream`: latest readings and events as they are stored, to
//! any number of clients, across instances.
//!
//! Ingest and the event operations append to `ioc.feed_log` in commit order
//! ([`crate::live::append_feed`]) and notify [`crate::ingest::CHANNEL`] or
//! [`crate::events::EVENTS_CHANNEL`]. One hub task per process (started with the first client)
//! listens on both, reads the log from its cursor and broadcasts each entry; notifications only
//! wake it (it also looks every 2 s), so a notification lost while its connection was down loses
//! nothing, and every instance sends the same `seq` for the same entry — which is what makes
//! `Last-Event-ID` resume work whichever instance a client reconnects to.
//!
//! A client first gets a snapshot (latest values, and open events for operators) or, resuming,
//! the entries after its last id; then the live entries through a bounded queue of its own fed by
//! a small task. When the queue is full — the client reads slower than readings arrive — the
//! client is dropped (its stream ends; it reconnects and resumes), never buffered without bound,
//! and neither ingest nor other clients wait for it. Heartbeats (`event: heartbeat`) keep
//! proxies from closing idle streams and tell the display its feed is alive.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc, OwnedSemaphorePermit, Semaphore};

use crate::live::{EVENT_JSON, READING_JSON};

/// Limits of the feed.
#[derive(Debug, Clone, Copy)]
pub struct FeedSettings {
    /// Messages a client's queue holds before the client is dropped.
    pub client_queue: usize,
    /// Time between heartbeats.
    pub heartbeat: Duration,
    /// Most entries replayed on resume (further behind: a fresh snapshot instead).
    pub replay_limit: i64,
    /// Most clients at once (more: refused).
    pub max_clients: usize,
    /// Most streams one client (address) holds at once (more: refused).
    pub max_per_client: usize,
    /// Longest life of a stream (the client reconnects and resumes).
    pub max_lifetime: Duration,
}

impl Default for FeedSettings {
    fn default() -> Self {
        FeedSettings {
            client_queue: 1024,
            heartbeat: Duration::from_secs(15),
            replay_limit: 10_000,
            max_clients: 2000,
            max_per_client: 16,
            max_lifetime: Duration::from_secs(3600),
        }
    }
}

/// Who reads the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Anyone: the readings of public datastreams only (what the public latest-value layer
    /// shows), no events.
    Public,
    /// IOC operators and administrators: every reading and the events.
    Operator,
}

/// What a client asked for: `layers=readings,events` and a `bbox` (WGS 84 lon/lat).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Filter {
    /// Latest readings.
    pub readings: bool,
    /// Events.
    pub events: bool,
    /// West, south, east, north; entries without a location (events without one) pass.
    pub bbox: Option<[f64; 4]>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            readings: true,
            events: true,
            bbox: None,
        }
    }
}

impl Filter {
    /// Reads `layers` (comma-separated: `readings`, `events`; default both) and `bbox`
    /// (`west,south,east,north` in WGS 84 degrees), or says what is wrong.
    pub fn parse(layers: Option<&str>, bbox: Option<&str>) -> Result<Filter, String> {
        let mut f = Filter::default();
        if let Some(layers) = layers {
            f.readings = false;
            f.events = false;
            for l in layers.split(',').map(str::trim) {
                match l {
                    "readings" => f.readings = true,
                    "events" => f.events = true,
                    other => {
                        return Err(format!(
                            "layers: unknown feed layer \"{}\" (readings, events)",
                            other.chars().take(40).collect::<String>()
                        ))
                    }
                }
            }
        }
        if let Some(b) = bbox {
            let n: Vec<f64> = b
                .split(',')
                .map(|v| v.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| "bbox: expected west,south,east,north in degrees".to_string())?;
            let ok = n.len() == 4
                && n.iter().all(|v| v.is_finite())
                && (-180.0..=180.0).contains(&n[0])
                && (-180.0..=180.0).contains(&n[2])
                && (-90.0..=90.0).contains(&n[1])
                && (-90.0..=90.0).contains(&n[3])
                && n[0] <= n[2]
                && n[1] <= n[3];
            if !ok {
                return Err(
                    "bbox: expected west,south,east,north in WGS 84 degrees, west ≤ east, south ≤ north"
                        .into(),
                );
            }
            f.bbox = Some([n[0], n[1], n[2], n[3]]);
        }
        Ok(f)
    }

    fn admits(&self, e: &Entry) -> bool {
        let layer = if e.kind == "event" {
            self.events
        } else {
            self.readings
        };
        layer
            && match (self.bbox, e.point) {
                (Some([w, s, east, n]), Some((x, y))) => x >= w && x <= east && y >= s && y <= n,
                _ => true,
            }
    }
}

/// One message of the stream (SSE `id`, `event`, `data`).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The feed position (`Last-Event-ID` to resume after it); none for heartbeats.
    pub id: Option<i64>,
    /// `snapshot`, `reading`, `event` or `heartbeat`.
    pub event: &'static str,
    /// JSON (shared: a live entry or a snapshot goes to many clients without a copy each).
    pub data: Arc<str>,
}

/// Why a client was not subscribed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// Too many clients.
    #[error("the live feed has {0} clients, its limit; retry shortly")]
    Full(usize),
    /// Too many streams from one client.
    #[error("you have {0} live feed streams open, the limit per client; close one first")]
    TooManyFromClient(usize),
    /// The database failed.
    #[error("live feed: {0}")]
    Db(#[from] sqlx::Error),
    /// The database failed reading a snapshot several clients waited for.
    #[error("live feed snapshot: {0}")]
    Snapshot(Arc<sqlx::Error>),
}

#[derive(Debug)]
struct Entry {
    seq: i64,
    kind: &'static str,
    public: bool,
    payload: Arc<str>,
    /// Its location (lon, lat), for `bbox`.
    point: Option<(f64, f64)>,
}

/// The feed of one process. Cloning shares it.
#[derive(Clone)]
pub struct Feeds(Arc<Inner>);

struct Inner {
    /// Snapshots and replays of subscribing clients.
    pool: PgPool,
    /// The hub: its listener (one connection for good) and its reads of the log.
    hub_pool: PgPool,
    settings: Mutex<FeedSettings>,
    hub: tokio::sync::OnceCell<broadcast::Sender<Arc<Entry>>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    clients: Mutex<Arc<Semaphore>>,
    per_client: Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
    dropped: AtomicU64,
    /// Clients waiting for a snapshot, by what they asked for: read once for all of them.
    waiting: Mutex<std::collections::HashMap<SnapshotKey, Vec<SnapshotReply>>>,
    /// Snapshots read at once (the rest wait their turn instead of timing out on the pool).
    snapshot_slots: Arc<Semaphore>,
}

/// What a snapshot depends on: who reads and the filter (coordinates by their bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SnapshotKey {
    operator: bool,
    readings: bool,
    events: bool,
    bbox: Option<[u64; 4]>,
}

impl SnapshotKey {
    fn of(audience: Audience, filter: &Filter) -> SnapshotKey {
        SnapshotKey {
            operator: audience == Audience::Operator,
            readings: filter.readings,
            events: filter.events,
            bbox: filter.bbox.map(|b| b.map(f64::to_bits)),
        }
    }
}

type SnapshotReply = tokio::sync::oneshot::Sender<Result<(Message, i64), Arc<sqlx::Error>>>;

/// Snapshots read at once; more wait (a snapshot is one query of a few milliseconds, and
/// clients asking for the same one share it).
const SNAPSHOT_SLOTS: usize = 2;
/// Longest wait of a subscribing client for its snapshot before it is told to come back.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(30);

/// One of a client's open streams; counted down when dropped.
#[derive(Debug)]
struct ClientSlot {
    inner: Arc<Inner>,
    ip: std::net::IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.inner.per_client.lock() {
            if let Some(n) = m.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(&self.ip);
                }
            }
        }
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut t) = self.task.lock() {
            if let Some(t) = t.take() {
                t.abort();
            }
        }
    }
}

impl std::fmt::Debug for Feeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feeds").finish_non_exhaustive()
    }
}

/// A subscribed client: messages to send, in order. Dropping it ends the client's task.
#[derive(Debug)]
pub struct Subscription {
    initial: VecDeque<Message>,
    rx: mpsc::Receiver<Message>,
    dropped: Arc<AtomicBool>,
    _permit: OwnedSemaphorePermit,
    _slot: Option<ClientSlot>,
}

impl Subscription {
    /// The next message; `None` when the stream ends (dropped as too slow, its lifetime over,
    /// or the process ending).
    pub async fn next(&mut self) -> Option<Message> {
        if let Some(m) = self.initial.pop_front() {
            return Some(m);
        }
        if self.dropped.load(Ordering::Acquire) {
            return None;
        }
        self.rx.recv().await
    }

    /// The next message if one is waiting (never waits): a sender drains what is queued
    /// after [`Subscription::next`] and writes it at once, one write for a batch's readings.
    pub fn try_next(&mut self) -> Option<Message> {
        if let Some(m) = self.initial.pop_front() {
            return Some(m);
        }
        if self.dropped.load(Ordering::Acquire) {
            return None;
        }
        self.rx.try_recv().ok()
    }
}

impl Feeds {
    /// The feed over `pool` (nothing runs until the first client).
    pub fn new(pool: PgPool, settings: FeedSettings) -> Feeds {
        Feeds::with_pools(pool.clone(), pool, settings)
    }

    /// The feed with its hub (listener and log reads) on `hub` and the clients' snapshots and
    /// replays on `clients`: many clients subscribing at once never delay the live entries.
    pub fn with_pools(hub: PgPool, clients: PgPool, settings: FeedSettings) -> Feeds {
        Feeds(Arc::new(Inner {
            pool: clients,
            hub_pool: hub,
            clients: Mutex::new(Arc::new(Semaphore::new(settings.max_clients))),
            settings: Mutex::new(settings),
            hub: tokio::sync::OnceCell::new(),
            task: Mutex::new(None),
            per_client: Mutex::new(std::collections::HashMap::new()),
            dropped: AtomicU64::new(0),
            waiting: Mutex::new(std::collections::HashMap::new()),
            snapshot_slots: Arc::new(Semaphore::new(SNAPSHOT_SLOTS)),
        }))
    }

    /// Replaces the settings for clients subscribing afterwards.
    pub fn set_settings(&self, settings: FeedSettings) {
        if let Ok(mut s) = self.0.settings.lock() {
            *s = settings;
        }
        if let Ok(mut c) = self.0.clients.lock() {
            *c = Arc::new(Semaphore::new(settings.max_clients));
        }
    }

    fn settings(&self) -> FeedSettings {
        self.0.settings.lock().map(|s| *s).unwrap_or_default()
    }

    /// Clients dropped for reading too slowly since start.
    pub fn dropped_clients(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }

    async fn hub(&self) -> Result<&broadcast::Sender<Arc<Entry>>, sqlx::Error> {
        self.0
            .hub
            .get_or_try_init(|| async {
                let cursor: i64 =
                    sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM ioc.feed_log")
                        .fetch_one(&self.0.hub_pool)
                        .await?;
                // Room for bursts: a client's own queue, not this, is what drops slow clients.
                let (tx, _) = broadcast::channel(16_384);
                let task = tokio::spawn(run_hub(self.0.hub_pool.clone(), tx.clone(), cursor));
                if let Ok(mut t) = self.0.task.lock() {
                    *t = Some(task);
                }
                Ok(tx)
            })
            .await
    }

    /// Subscribes a client (`client`: its address, for the per-client limit): a snapshot first, or — with `last_event_id` still in the log and
    /// not too far behind — the entries after it; then the live entries.
    pub async fn subscribe(
        &self,
        audience: Audience,
        filter: Filter,
        last_event_id: Option<i64>,
        client: Option<std::net::IpAddr>,
    ) -> Result<Subscription, FeedError> {
        let settings = self.settings();
        let slot = match client {
            None => None,
            Some(ip) => {
                let mut m = self
                    .0
                    .per_client
                    .lock()
                    .map_err(|_| FeedError::Full(settings.max_clients))?;
                let n = m.entry(ip).or_insert(0);
                if *n >= settings.max_per_client {
                    return Err(FeedError::TooManyFromClient(*n));
                }
                *n += 1;
                Some(ClientSlot {
                    inner: self.0.clone(),
                    ip,
                })
            }
        };
        let permit = self
            .0
            .clients
            .lock()
            .map(|c| c.clone())
            .map_err(|_| FeedError::Full(settings.max_clients))?
            .try_acquire_owned()
            .map_err(|_| FeedError::Full(settings.max_clients))?;
        // Subscribed before reading the snapshot or the log: nothing committed afterwards can
        // be missed (entries already read are skipped by their seq).
        let live = self.hub().await?.subscribe();
        let replay = match last_event_id {
            Some(n) => replay(&self.0.pool, n, settings.replay_limit, audience, &filter).await?,
            None => None,
        };
        let (initial, last) = match replay {
            Some((messages, last)) => (messages, last),
            None => {
                let (m, seq) = self.shared_snapshot(audience, filter, &settings).await?;
                (VecDeque::from([m]), seq)
            }
        };
        let (tx, rx) = mpsc::channel(settings.client_queue.max(1));
        let dropped = Arc::new(AtomicBool::new(false));
        tokio::spawn(forward(
            live,
            tx,
            last,
            (audience, filter),
            settings,
            dropped.clone(),
            self.0.clone(),
        ));
        metrics::gauge!("bando_ioc_feed_clients").increment(1.0);
        Ok(Subscription {
            initial,
            rx,
            dropped,
            _permit: permit,
            _slot: slot,
        })
    }

    /// The snapshot for a client already subscribed to the live entries: clients asking for
    /// the same one while it waits for its turn get one read between them. A waiter joins a
    /// read only before it starts (the list is taken just before the query), so every
    /// client's snapshot is at least as new as its subscription and nothing falls between.
    async fn shared_snapshot(
        &self,
        audience: Audience,
        filter: Filter,
        settings: &FeedSettings,
    ) -> Result<(Message, i64), FeedError> {
        let key = SnapshotKey::of(audience, &filter);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let first = {
            let mut waiting = self
                .0
                .waiting
                .lock()
                .map_err(|_| FeedError::Full(settings.max_clients))?;
            let list = waiting.entry(key).or_default();
            list.push(reply);
            list.len() == 1
        };
        if first {
            let inner = self.0.clone();
            tokio::spawn(async move {
                // Closed only when the feed is gone; then the waiters' answers are dropped.
                let Ok(_slot) = inner.snapshot_slots.clone().acquire_owned().await else {
                    return;
                };
                let waiters = inner
                    .waiting
                    .lock()
                    .ok()
                    .and_then(|mut w| w.remove(&key))
                    .unwrap_or_default();
                let read = snapshot(&inner.pool, audience, &filter)
                    .await
                    .map_err(Arc::new);
                for w in waiters {
                    let _ = w.send(read.clone());
                }
            });
        }
        match tokio::time::timeout(SNAPSHOT_WAIT, answer).await {
            Ok(Ok(Ok(snapshot))) => Ok(snapshot),
            Ok(Ok(Err(e))) => Err(FeedError::Snapshot(e)),
            Ok(Err(_)) | Err(_) => Err(FeedError::Full(settings.max_clients)),
        }
    }
}

async fn forward(
    mut live: broadcast::Receiver<Arc<Entry>>,
    tx: mpsc::Sender<Message>,
    mut last: i64,
    (audience, filter): (Audience, Filter),
    settings: FeedSettings,
    dropped: Arc<AtomicBool>,
    inner: Arc<Inner>,
) {
    let mut heartbeat = tokio::time::interval(settings.heartbeat);
    heartbeat.tick().await;
    let end = tokio::time::sleep(settings.max_lifetime);
    tokio::pin!(end);
    let too_slow = |why: &str| {
        dropped.store(true, Ordering::Release);
        inner.dropped.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("bando_ioc_feed_clients_dropped_total").increment(1);
        tracing::info!(why, "live feed client dropped");
    };
    loop {
        let message = tokio::select! {
            entry = live.recv() => match entry {
                Ok(e) => {
                    if e.seq <= last {
                        continue;
                    }
                    last = e.seq;
                    if (audience == Audience::Public && !e.public) || !filter.admits(&e) {
                        continue;
                    }
                    Message { id: Some(e.seq), event: e.kind, data: e.payload.clone() }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    too_slow("behind the hub");
                    break;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = heartbeat.tick() => Message {
                id: None,
                event: "heartbeat",
                data: serde_json::json!({"time": chrono::Utc::now(), "seq": last}).to_string().into(),
            },
            _ = tx.closed() => break,
            _ = &mut end => break,
        };
        match tx.try_send(message) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                too_slow("its queue is full");
                break;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => break,
        }
    }
    metrics::gauge!("bando_ioc_feed_clients").decrement(1.0);
}

async fn run_hub(pool: PgPool, tx: broadcast::Sender<Arc<Entry>>, mut cursor: i64) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "live feed cannot listen; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener
            .listen_all([crate::ingest::CHANNEL, crate::events::EVENTS_CHANNEL])
            .await
        {
            tracing::warn!(error = %e, "live feed cannot listen; retrying in 1 s");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match pump(&pool, &tx, cursor).await {
                Ok(c) => cursor = c,
                Err(e) => tracing::warn!(error = %e, "live feed cannot read the log"),
            }
            match tokio::time::timeout(Duration::from_secs(2), listener.try_recv()).await {
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "live feed lost its listener; reconnecting");
                    break;
                }
            }
        }
    }
}

async fn pump(
    pool: &PgPool,
    tx: &broadcast::Sender<Arc<Entry>>,
    mut cursor: i64,
) -> Result<i64, sqlx::Error> {
    loop {
        let rows = read_log(pool, cursor, 1000).await?;
        let n = rows.len();
        for e in rows {
            cursor = e.seq;
            // No receivers is fine: nobody is listening right now.
            let _ = tx.send(Arc::new(e));
        }
        if n < 1000 {
            return Ok(cursor);
        }
    }
}

async fn read_log(pool: &PgPool, after: i64, limit: i64) -> Result<Vec<Entry>, sqlx::Error> {
    type Row = (i64, String, bool, String, Option<f64>, Option<f64>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seq, kind, public, payload::text,
                coalesce(payload #>> '{geometry,coordinates,0}',
                         payload #>> '{location,coordinates,0}')::float8,
                coalesce(payload #>> '{geometry,coordinates,1}',
                         payload #>> '{location,coordinates,1}')::float8
         FROM ioc.feed_log WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, kind, public, payload, x, y)| Entry {
            seq,
            kind: if kind == "event" { "event" } else { "reading" },
            public,
            payload: payload.into(),
            point: x.zip(y),
        })
        .collect())
}

/// The entries after `after` for `audience` and the last seq read, or `None` when the log no
/// longer holds them all or more than `limit` follow (the client gets a snapshot instead).
async fn replay(
    pool: &PgPool,
    after: i64,
    limit: i64,
    audience: Audience,
    filter: &Filter,
) -> Result<Option<(VecDeque<Message>, i64)>, sqlx::Error> {
    let (min, max): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT min(seq), max(seq) FROM ioc.feed_log")
            .fetch_one(pool)
            .await?;
    let max = max.unwrap_or(0);
    if after < 0 || after > max || min.is_some_and(|m| after < m - 1) {
        return Ok(None);
    }
    let rows = read_log(pool, after, limit + 1).await?;
    if rows.len() as i64 > limit {
        return Ok(None);
    }
    let last = rows.last().map_or(after, |e| e.seq);
    let messages = rows
        .into_iter()
        .filter(|e| (audience == Audience::Operator || e.public) && filter.admits(e))
        .map(|e| Message {
            id: Some(e.seq),
            event: e.kind,
            data: e.payload,
        })
        .collect();
    Ok(Some((messages, last)))
}

/// The snapshot: `{"seq", "readings": FeatureCollection, "events": [...]}` (events for
/// operators only), read in one snapshot of the database so `seq` matches what it shows.
async fn snapshot(
    pool: &PgPool,
    audience: Audience,
    filter: &Filter,
) -> Result<(Message, i64), sqlx::Error> {
    let operator = audience == Audience::Operator;
    let b = filter.bbox;
    let coord = |i: usize| b.map(|b| b[i]);
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let (seq, readings): (i64, Value) = sqlx::query_as(&format!(
        "SELECT (SELECT coalesce(max(seq), 0) FROM ioc.feed_log),
                json_build_object('type', 'FeatureCollection', 'features',
                    coalesce(json_agg({READING_JSON} ORDER BY l.datastream_id), '[]'::json))
         FROM ioc.latest_readings l
         WHERE ($1 OR l.public) AND $2
           AND ($3::float8 IS NULL OR ST_Intersects(l.geom_3857,
                ST_Transform(ST_MakeEnvelope($3, $4, $5, $6, 4326), 3857)))"
    ))
    .bind(operator)
    .bind(filter.readings)
    .bind(coord(0))
    .bind(coord(1))
    .bind(coord(2))
    .bind(coord(3))
    .fetch_one(&mut *tx)
    .await?;
    let events: Vec<Value> = if operator && filter.events {
        sqlx::query_scalar(&format!(
            "SELECT {EVENT_JSON} FROM ioc.events e WHERE e.status <> 'closed'
               AND ($1::float8 IS NULL OR e.location IS NULL
                    OR ST_Intersects(e.location, ST_MakeEnvelope($1, $2, $3, $4, 4326)))
             ORDER BY e.raised_at DESC, e.id DESC LIMIT 500"
        ))
        .bind(coord(0))
        .bind(coord(1))
        .bind(coord(2))
        .bind(coord(3))
        .fetch_all(&mut *tx)
        .await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    let data = serde_json::json!({"seq": seq, "readings": readings, "events": events});
    Ok((
        Message {
            id: Some(seq),
            event: "snapshot",
            data: data.to_string().into(),
        },
        seq,
    ))
}

/// Deletes feed entries older than `keep` (clients further behind get a snapshot): how many.
pub async fn purge_log(pool: &PgPool, keep: Duration) -> Result<u64, sqlx::Error> {
    let secs = keep.as_secs_f64();
    let done = sqlx::query("DELETE FROM ioc.feed_log WHERE at < now() - make_interval(secs => $1)")
        .bind(secs)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

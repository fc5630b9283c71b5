//! Connection pools per work class, each with its own statement deadline, and cancellation of
//! the queries of a request that was dropped.
//!
//! A class pool ([`class_pool`]) is a bounded pool whose sessions carry `statement_timeout`
//! (set at connect time, so it costs nothing per query) and an `application_name` naming the
//! class (`bando-tiles`, `bando-features`, …), which is how `pg_stat_activity` tells them
//! apart. One class exhausting its connections cannot take another's.
//!
//! Dropping a sqlx future does not stop the query on the server: the connection goes back to
//! its pool only after the query has finished, holding its slot all that time. Queries run
//! inside [`cancel_on_drop`] are cancelled instead (`pg_cancel_backend`) when that future is
//! dropped before it completes — a client that went away, a request over its time limit. It
//! works through the pool hooks of a class pool built with [`PoolClass::cancel_on_drop`]: each
//! acquire made inside the scope records the backend's pid (one `SELECT pg_backend_pid()` per
//! acquire, only inside a scope), so it never cancels a backend another request has acquired
//! since.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool};

/// How one work class uses the database.
#[derive(Debug, Clone)]
pub struct PoolClass {
    /// `application_name` of its sessions, e.g. `bando-features`.
    pub name: &'static str,
    /// Most connections the class may hold.
    pub max_connections: u32,
    /// Connections kept open even when idle (1 for health: it answers from its own).
    pub min_connections: u32,
    /// `statement_timeout` of every statement of the class.
    pub statement_timeout: Duration,
    /// How long a request waits for a free connection before `PoolTimedOut`.
    pub acquire_timeout: Duration,
    /// Record backends acquired inside [`cancel_on_drop`] scopes so they can be cancelled.
    pub cancel_on_drop: bool,
}

/// A lazily connecting pool for one work class over `base` (host, database, credentials and
/// session options of the main pool).
pub fn class_pool(base: &PgConnectOptions, class: &PoolClass) -> PgPool {
    let timeout_ms = class.statement_timeout.as_millis().max(1);
    let options = base
        .clone()
        .application_name(class.name)
        .options([("statement_timeout", timeout_ms.to_string())]);
    let mut pool = PgPoolOptions::new()
        .max_connections(class.max_connections.max(1))
        .min_connections(class.min_connections.min(class.max_connections))
        .acquire_timeout(class.acquire_timeout);
    if class.cancel_on_drop {
        // The pid query also proves the connection alive, which the default ping did.
        pool = pool
            .test_before_acquire(false)
            .after_connect(|conn, _| record_backend(conn))
            .before_acquire(|conn, _| {
                Box::pin(async move { record_backend(conn).await.map(|()| true) })
            });
    }
    pool.connect_lazy_with(options)
}

tokio::task_local! {
    static SCOPE: Arc<Scope>;
}

/// The backends one scope acquired.
struct Scope {
    id: u64,
    pids: Mutex<Vec<i32>>,
}

/// Which scope last acquired each backend (only backends of live scopes are listed).
fn owners() -> &'static Mutex<HashMap<i32, u64>> {
    static OWNERS: OnceLock<Mutex<HashMap<i32, u64>>> = OnceLock::new();
    OWNERS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn record_backend(conn: &mut PgConnection) -> BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        if SCOPE.try_with(|_| ()).is_err() {
            return Ok(());
        }
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(conn)
            .await?;
        let _ = SCOPE.try_with(|scope| {
            if let Ok(mut pids) = scope.pids.lock() {
                if !pids.contains(&pid) {
                    pids.push(pid);
                }
            }
            if let Ok(mut owners) = owners().lock() {
                owners.insert(pid, scope.id);
            }
        });
        Ok(())
    })
}

/// Runs `fut`; if it is dropped before completing, the queries it still has running on class
/// pools built with [`PoolClass::cancel_on_drop`] are cancelled through `control` (a pool
/// that is not the one being cancelled).
///
/// A future that completes is never cancelled after the fact, even if it dropped a query
/// itself (`try_join!` drops the other query when one fails): its connection may already
/// serve another request, so such a query ends by its `statement_timeout`.
pub async fn cancel_on_drop<F: Future>(control: &PgPool, fut: F) -> F::Output {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let scope = Arc::new(Scope {
        id: NEXT.fetch_add(1, Ordering::Relaxed),
        pids: Mutex::new(Vec::new()),
    });
    let mut guard = ScopeGuard {
        scope: scope.clone(),
        control: Some(control.clone()),
    };
    let output = SCOPE.scope(scope, fut).await;
    guard.control = None;
    output
}

struct ScopeGuard {
    scope: Arc<Scope>,
    /// `Some` while the future has not completed.
    control: Option<PgPool>,
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        let pids = self
            .scope
            .pids
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default();
        let id = self.scope.id;
        match self.control.take() {
            // Completed: its backends are back in their pools.
            None => {
                release(&pids, id);
            }
            Some(control) if !pids.is_empty() => match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(cancel(control, pids, id));
                }
                Err(_) => {
                    release(&pids, id);
                }
            },
            Some(_) => {}
        }
    }
}

/// Forgets the backends `id` owns (another scope may own some of them by now).
fn release(pids: &[i32], id: u64) -> Vec<i32> {
    let Ok(mut owners) = owners().lock() else {
        return Vec::new();
    };
    pids.iter()
        .copied()
        .filter(|pid| {
            let mine = owners.get(pid) == Some(&id);
            if mine {
                owners.remove(pid);
            }
            mine
        })
        .collect()
}

async fn cancel(control: PgPool, pids: Vec<i32>, id: u64) {
    let pids = release(&pids, id);
    if pids.is_empty() {
        return;
    }
    let cancelled = sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FILTER (WHERE pg_cancel_backend(pid)) FROM \
         (SELECT pid FROM pg_stat_activity WHERE pid = ANY($1) AND state = 'active') AS busy",
    )
    .bind(&pids)
    .fetch_one(&control)
    .await;
    match cancelled {
        Ok(n) => tracing::debug!(cancelled = n, "cancelled the queries of a dropped request"),
        Err(error) => tracing::warn!(%error, "cannot cancel the queries of a dropped request"),
    }
}

/// Whether a query ended because of its `statement_timeout` or a cancellation
/// (SQLSTATE 57014, `query_canceled`).
pub fn is_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("57014"))
}

/// Whether `e` says the database cannot be reached right now (down, restarting, connection
/// lost): a 503 to retry, not a fault of the request. A fast shutdown ends sessions with
/// 57P01 and refuses new ones with 57P03 before the socket disappears; class 08 is a lost or
/// refused connection.
pub fn is_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")),
        _ => false,
    }
}

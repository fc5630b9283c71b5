//! WAL positions (LSNs) for scale-out on streaming replicas: how far a server is, waiting for a
//! replica to replay a position, and the position a request must read at least.
//!
//! An LSN is carried as a `u64` (`pg_lsn - '0/0'`), written `X/Y` in hex like PostgreSQL does.
//! On a primary a server's position is `pg_current_wal_lsn()` (read after a commit returned, it
//! is at or past that commit); on a standby it is `pg_last_wal_replay_lsn()`: a snapshot taken
//! after reading it sees every transaction committed at or before it (replay applies a commit
//! before it advances the position), which is what "fresh enough" is measured by.
//!
//! A request that must see a write (read-your-writes) runs inside [`with_min_lsn`]; code deep
//! in the stack (the tile cache) reads it with [`min_lsn`] without every signature carrying it.

use std::future::Future;
use std::time::{Duration, Instant};

use sqlx::{PgConnection, PgPool};

/// The server's position: replayed WAL on a standby, written WAL on a primary.
const POSITION_SQL: &str = "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
     ELSE pg_current_wal_lsn() END - '0/0'::pg_lsn)::bigint";

/// The primary's written WAL position (errors on a standby).
const PRIMARY_SQL: &str = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint";

/// Where the server behind `conn` is (see the module doc). Read it *before* the statement
/// whose snapshot must include it.
pub async fn position(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let v: Option<i64> = sqlx::query_scalar(POSITION_SQL).fetch_one(conn).await?;
    Ok(v.map_or(0, |v| u64::try_from(v).unwrap_or(0)))
}

/// [`position`] on a connection of `pool`.
pub async fn pool_position(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    position(&mut conn).await
}

/// The primary's WAL position: after a commit returned, at or past that commit.
pub async fn primary_position(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let v: i64 = sqlx::query_scalar(PRIMARY_SQL).fetch_one(pool).await?;
    Ok(u64::try_from(v).unwrap_or(0))
}

/// Waits until the server behind `pool` is at `lsn` or past it, asking every 10 ms, for at most
/// `bound`. Returns the position reached (`< lsn` when the bound ran out).
pub async fn wait_for(pool: &PgPool, lsn: u64, bound: Duration) -> Result<u64, sqlx::Error> {
    let deadline = Instant::now() + bound;
    loop {
        let at = pool_position(pool).await?;
        if at >= lsn || Instant::now() >= deadline {
            return Ok(at);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `X/Y` in hex, as PostgreSQL writes a `pg_lsn`.
pub fn format(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// Reads `X/Y` (hex, each half at most 8 digits); `None` for anything else.
pub fn parse(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let half = |s: &str| {
        (!s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u64::from_str_radix(s, 16).ok())
            .flatten()
    };
    Some((half(hi)? << 32) | half(lo)?)
}

tokio::task_local! {
    static MIN_LSN: u64;
}

/// Runs `fut` as a request that must read at least at `lsn` (its writer's commit).
pub async fn with_min_lsn<F: Future>(lsn: u64, fut: F) -> F::Output {
    MIN_LSN.scope(lsn, fut).await
}

/// The position the current request must read at least (0: none asked).
pub fn min_lsn() -> u64 {
    MIN_LSN.try_with(|v| *v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_read_and_write_like_postgres() {
        assert_eq!(parse("0/3000060"), Some(0x300_0060));
        assert_eq!(parse("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert_eq!(format((0x16 << 32) | 0xB374_D848), "16/B374D848");
        assert_eq!(parse(&format(12_345_678_901)), Some(12_345_678_901));
        for bad in ["", "0", "/1", "1/", "g/1", "1/2/3", "123456789/0", " 1 / 2"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn the_minimum_is_scoped_to_the_request() {
        assert_eq!(min_lsn(), 0);
        assert_eq!(with_min_lsn(42, async { min_lsn() }).await, 42);
        assert_eq!(min_lsn(), 0);
    }
}

//! Communes: the administrative units parcels are numbered in (written by imports through
//! [`crate::tables::COMMUNES`]).

use serde::Serialize;
use sqlx::PgPool;

/// A stored commune, without geometry.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Commune {
    /// Row id.
    pub id: i64,
    /// Pre-merger code.
    pub legacy_code: String,
    /// Pre-merger name.
    pub legacy_name: String,
    /// Post-merger code.
    pub code: String,
    /// Post-merger name.
    pub name: String,
    /// Area in m² measured in the commune's native TM-3 zone.
    pub area_m2: f64,
}

/// Every commune, ordered by pre-merger code.
pub async fn list(pool: &PgPool) -> Result<Vec<Commune>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, legacy_code, legacy_name, code, name, area_m2
         FROM land.communes ORDER BY legacy_code",
    )
    .fetch_all(pool)
    .await
}

/// The commune codes a land officer's scope covers: each listed code as given, and for a
/// post-merger code every pre-merger commune merged into it (parcels carry the pre-merger code,
/// as their identity and map sheets do), sorted and without repeats.
pub async fn scope_codes(pool: &PgPool, listed: &[String]) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT code FROM (
             SELECT unnest($1::text[]) AS code
             UNION SELECT legacy_code FROM land.communes WHERE code = ANY($1)
         ) c ORDER BY code",
    )
    .bind(listed)
    .fetch_all(pool)
    .await
}

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

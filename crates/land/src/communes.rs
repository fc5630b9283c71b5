//! Communes: the administrative units parcels are numbered in.

use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};

/// Errors of the commune store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommuneError {
    /// A row breaks a rule; nothing was written.
    #[error("commune {legacy_code}: {reason}")]
    Invalid {
        /// The pre-merger code of the offending row.
        legacy_code: String,
        /// What is wrong.
        reason: String,
    },
    /// The database refused the write or read.
    #[error("commune store: {0}")]
    Db(#[from] sqlx::Error),
}

/// One commune to store. Geometry is WKB in `srid`; it is transformed to EPSG:9212 on write.
#[derive(Debug, Clone)]
pub struct NewCommune {
    /// Pre-merger code (5 digits).
    pub legacy_code: String,
    /// Pre-merger name.
    pub legacy_name: String,
    /// Pre-merger district, if known.
    pub legacy_district: Option<String>,
    /// Post-merger code (5 digits).
    pub code: String,
    /// Post-merger name.
    pub name: String,
    /// Province code (2 digits).
    pub province_code: String,
    /// Polygon or multipolygon as WKB.
    pub wkb: Vec<u8>,
    /// SRID of `wkb`.
    pub srid: i32,
}

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
    /// Area in m² measured in VN-2000 / TM-3 106-15.
    pub area_m2: f64,
}

fn is_code(text: &str, digits: usize) -> bool {
    text.len() == digits && text.bytes().all(|b| b.is_ascii_digit())
}

impl NewCommune {
    /// Checks the attribute rules the table also enforces, with readable messages.
    pub fn validate(&self) -> Result<(), CommuneError> {
        let invalid = |reason: String| CommuneError::Invalid {
            legacy_code: self.legacy_code.clone(),
            reason,
        };
        if !is_code(&self.legacy_code, 5) {
            return Err(invalid(format!(
                "pre-merger code \"{}\" must be 5 digits",
                self.legacy_code
            )));
        }
        if !is_code(&self.code, 5) {
            return Err(invalid(format!("code \"{}\" must be 5 digits", self.code)));
        }
        if !is_code(&self.province_code, 2) {
            return Err(invalid(format!(
                "province code \"{}\" must be 2 digits",
                self.province_code
            )));
        }
        if self.name.trim().is_empty() || self.legacy_name.trim().is_empty() {
            return Err(invalid("name is empty".into()));
        }
        Ok(())
    }
}

/// Replaces every commune with `rows` inside the caller's transaction: either all rows are
/// stored or, on any error, the transaction rolls back and the table is exactly as before.
pub async fn replace_all(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[NewCommune],
) -> Result<u64, CommuneError> {
    for row in rows {
        row.validate()?;
    }
    sqlx::query("DELETE FROM land.communes")
        .execute(&mut **tx)
        .await?;
    let mut written = 0;
    for row in rows {
        let result = sqlx::query(
            "INSERT INTO land.communes
               (legacy_code, legacy_name, legacy_district, code, name, province_code, geom)
             VALUES ($1, $2, $3, $4, $5, $6,
               ST_Multi(ST_Transform(ST_SetSRID(ST_GeomFromWKB($7), $8), 9212)))",
        )
        .bind(&row.legacy_code)
        .bind(&row.legacy_name)
        .bind(&row.legacy_district)
        .bind(&row.code)
        .bind(&row.name)
        .bind(&row.province_code)
        .bind(&row.wkb)
        .bind(row.srid)
        .execute(&mut **tx)
        .await;
        match result {
            Ok(r) => written += r.rows_affected(),
            Err(sqlx::Error::Database(e)) => {
                return Err(CommuneError::Invalid {
                    legacy_code: row.legacy_code.clone(),
                    reason: e.message().to_string(),
                })
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(written)
}

/// Every commune, ordered by pre-merger code.
pub async fn list(pool: &PgPool) -> Result<Vec<Commune>, CommuneError> {
    Ok(sqlx::query_as(
        "SELECT id, legacy_code, legacy_name, code, name, area_m2
         FROM land.communes ORDER BY legacy_code",
    )
    .fetch_all(pool)
    .await?)
}

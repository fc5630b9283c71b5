//! A parcel's planning information sheet (phiếu thông tin quy hoạch), the data the public
//! portal shows and prints: the parcel's public identity and area (never owner data: it comes
//! from [`land::lookup`], which reads only the columns the parcels' declaration calls public),
//! its current land use, the planning report over the plans in force ([`crate::report`]) and
//! the date the cadastral data is valid for. How it is shown (JSON, PDF) is the caller's.

use land::land_use::LandUseCode;
use land::lookup::{LookupError, Parcel};
use sqlx::PgPool;

use crate::report::{Plans, Report, ReportError};

/// Errors of reading a sheet.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SheetError {
    /// Reading the parcel or the data date failed.
    #[error("reading the parcel of the information sheet failed: {0}")]
    Parcel(#[from] LookupError),
    /// The planning overlay failed.
    #[error("the planning overlay of the information sheet failed: {0}")]
    Report(#[from] ReportError),
}

/// A parcel's information sheet over the plans in force.
#[derive(Debug, Clone)]
pub struct InfoSheet {
    /// The parcel's public description (identity, area, public properties, geometry in CRS84).
    pub parcel: Parcel,
    /// Its land-use code with the official titles, when the code is a known one.
    pub land_use: Option<&'static LandUseCode>,
    /// The overlay with the plans in force.
    pub report: Report,
    /// The day the cadastral data is valid for (ISO 8601), when there are parcels.
    pub data_date: Option<String>,
}

/// The sheet of parcel `id` over the plans in force; `None` when there is no such parcel.
/// Its statements run one after the other in one read-only transaction with cached plans
/// ([`crate::report::read_transaction`]): one acquire, not ten (each acquire of a cancellable
/// class pool costs a round trip), and one snapshot of the data.
pub async fn load(pool: &PgPool, id: i64) -> Result<Option<InfoSheet>, SheetError> {
    let mut tx = crate::report::read_transaction(pool).await?;
    let Some(parcel) = land::lookup::by_id(&mut *tx, id).await? else {
        return Ok(None);
    };
    let report = crate::report::overlay(&mut tx, &parcel.ewkb, Plans::InForce).await?;
    let data_date = land::portal::data_date(&mut *tx).await?;
    tx.commit().await.map_err(ReportError::from)?;
    let land_use = parcel
        .properties
        .get("land_use_code")
        .and_then(serde_json::Value::as_str)
        .and_then(|c| land::land_use::validate(c, None).ok());
    Ok(Some(InfoSheet {
        parcel,
        land_use,
        report,
        data_date,
    }))
}

//! Planned functions of planning zones (chức năng sử dụng đất quy hoạch), kept as data in
//! `planning.zone_functions` (planning migration 2003: a working list of the functional groups
//! of TT 04/2022/TT-BXD, to be checked against the circular): code, group, titles vi/en, the
//! planning palette's colour, and the land-use codes zones recorded before the list existed
//! carry for the same function (`ODT` reads as `O`, residential).
//!
//! A zone's `land_use_function` is read through [`Functions::resolve`]: a function code, else a
//! land-use code one function lists. What resolves to nothing is drawn in [`UNKNOWN_COLOUR`]
//! under the legend line "not in the code list", and an import reports it ([`unknown_in`]).

use gis_core::layer::LegendEntry;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};

/// Colour of zones whose function is not in the list (or missing): a neutral grey, its own
/// legend line.
pub const UNKNOWN_COLOUR: &str = "#9e9e9e";
/// Legend title of [`UNKNOWN_COLOUR`], Vietnamese.
pub const UNKNOWN_VI: &str = "Chức năng không có trong danh mục";
/// Legend title of [`UNKNOWN_COLOUR`], English.
pub const UNKNOWN_EN: &str = "Function not in the code list";

/// One planned function.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ZoneFunction {
    /// Code (`O`, `OM`, `CX`, `TMDV`, …).
    pub code: String,
    /// Functional group (`residential`, `public`, `green`, …).
    #[sqlx(rename = "fn_group")]
    pub group: String,
    /// Title in Vietnamese.
    pub title_vi: String,
    /// Title in English.
    pub title_en: String,
    /// Map colour (CSS hex).
    pub colour: String,
    /// Land-use codes read as this function.
    pub land_use_codes: Vec<String>,
}

/// The code list, in its order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Functions(pub Vec<ZoneFunction>);

/// Reads the code list.
pub async fn load(pool: &PgPool) -> Result<Functions, sqlx::Error> {
    let rows = sqlx::query_as(
        "SELECT code, fn_group, title_vi, title_en, colour, land_use_codes
         FROM planning.zone_functions ORDER BY sort, code",
    )
    .fetch_all(pool)
    .await?;
    Ok(Functions(rows))
}

impl Functions {
    /// The function a recorded value names: a function code, else a land-use code a function
    /// lists (case and surrounding spaces ignored).
    pub fn resolve(&self, recorded: &str) -> Option<&ZoneFunction> {
        let code = recorded.trim().to_uppercase();
        self.0
            .iter()
            .find(|f| f.code == code)
            .or_else(|| self.0.iter().find(|f| f.land_use_codes.contains(&code)))
    }

    /// The MapLibre expression colouring zones by the function recorded in `property`:
    /// `["match", upcase(value), [codes…], colour, …, UNKNOWN_COLOUR]`, one arm per function
    /// with its code and land-use codes (each value once: MapLibre refuses a repeated label).
    pub fn colour_expression(&self, property: &str) -> Value {
        let mut seen = std::collections::HashSet::new();
        let mut expr = vec![
            json!("match"),
            json!(["upcase", ["to-string", ["get", property]]]),
        ];
        for f in &self.0 {
            let labels: Vec<&str> = std::iter::once(f.code.as_str())
                .chain(f.land_use_codes.iter().map(String::as_str))
                .filter(|l| seen.insert(l.to_string()))
                .collect();
            if labels.is_empty() {
                continue;
            }
            expr.push(json!(labels));
            expr.push(json!(f.colour));
        }
        expr.push(json!(UNKNOWN_COLOUR));
        Value::Array(expr)
    }

    /// The legend: one line per function (its code and land-use codes as values), then the
    /// line of [`UNKNOWN_COLOUR`].
    pub fn legend(&self) -> Vec<LegendEntry> {
        self.0
            .iter()
            .map(|f| LegendEntry {
                colour: f.colour.clone(),
                title_vi: f.title_vi.clone(),
                title_en: f.title_en.clone(),
                values: std::iter::once(f.code.clone())
                    .chain(f.land_use_codes.iter().cloned())
                    .collect(),
            })
            .chain(std::iter::once(LegendEntry {
                colour: UNKNOWN_COLOUR.into(),
                title_vi: UNKNOWN_VI.into(),
                title_en: UNKNOWN_EN.into(),
                values: Vec::new(),
            }))
            .collect()
    }
}

/// SQL condition: `value` (an SQL expression) names a function of the list.
pub fn known_sql(value: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM planning.zone_functions f WHERE f.code = upper(btrim({value})) \
         OR upper(btrim({value})) = ANY (f.land_use_codes))"
    )
}

/// The functions recorded in staged zones (`stage`, a staging table of `planning.zones`, rows
/// with `rejected IS NULL`) that name nothing in the list, with their counts, most frequent
/// first; as the import's finding sentence, or `None` when every value is known.
pub async fn unknown_in(
    conn: &mut PgConnection,
    stage: &str,
) -> Result<Option<String>, sqlx::Error> {
    let stage = gis_core::db::quote_ident(stage);
    let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT s.land_use_function, count(*) FROM {stage} s
         WHERE s.rejected IS NULL AND s.land_use_function IS NOT NULL
           AND btrim(s.land_use_function) <> '' AND NOT {}
         GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20",
        known_sql("s.land_use_function")
    ))
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let total: i64 = rows.iter().map(|(_, n)| n).sum();
    let list: Vec<String> = rows.iter().map(|(v, n)| format!("\"{v}\" ×{n}")).collect();
    Ok(Some(format!(
        "{total} zones have a planned function that is not in the code list \
         planning.zone_functions (TT 04/2022/TT-BXD working list) nor a land-use code it maps: {}; \
         they are imported and drawn in grey as \"{UNKNOWN_EN}\" — correct the delivery or add \
         the code to the list",
        list.join(", ")
    )))
}

//! Request parameters that mean the same everywhere, as typed values and axum extractors.
//!
//! The layer list (`layers=a,b`): [`LayerList`], resolved for the reader through
//! [`gis_core::layer::LayerRegistry::resolve`] — the same rule as a tile path's list (unknown
//! or unseen names 404, an empty list 400).
//!
//! The CRS parameter: one resolver for every handler that takes one (OGC API –
//! Features `crs`, `bbox-crs`, `filter-crs`; `/query`'s and the split's `crs`), over
//! [`gis_core::crs::CrsRegistry::for_request`] — the named codes described at start, other
//! codes described once and remembered, the database's CRS list read once. The two APIs
//! differ only in axis order ([`AxisRule`]): OGC API uses the CRS's own, `/query` takes `x`
//! and `y` as easting/longitude and northing/latitude.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use gis_core::crs::{AxisRule, CrsInfo, CrsRefused, RequestCrs, WGS84};
use gis_core::layer::Layer;

use crate::app::AppState;
use crate::error::AppError;
use crate::reader::Reader;

/// The query string as name → value (the last of a repeated name).
async fn query(parts: &mut Parts, state: &AppState) -> Result<HashMap<String, String>, AppError> {
    let Query(p) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(|e| AppError::BadRequest(e.body_text()))?;
    Ok(p)
}

/// The `layers` query parameter: the layers named, in order, without repeats, each one the
/// reader may see; `None` when the parameter is absent or empty.
pub struct LayerList(pub Option<Vec<Arc<dyn Layer>>>);

impl FromRequestParts<AppState> for LayerList {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let p = query(parts, state).await?;
        let Some(list) = p.get("layers").map(|s| s.trim()).filter(|s| !s.is_empty()) else {
            return Ok(LayerList(None));
        };
        let reader = Reader::from_request_parts(parts, state).await?;
        Ok(LayerList(Some(
            state.layers.snapshot().resolve(list, reader.viewer())?,
        )))
    }
}

/// Resolves the CRS named by parameter `name` (text `text`) under `axes`; a refusal is a 400
/// naming the parameter.
pub async fn resolve(
    state: &AppState,
    name: &str,
    text: &str,
    axes: AxisRule,
) -> Result<RequestCrs, AppError> {
    state
        .crs
        .for_request(state.pools.features(), text, axes)
        .await
        .map_err(|e| match e {
            CrsRefused::Db(e) => AppError::from(e),
            refused => AppError::BadRequest(format!("parameter '{name}': {refused}")),
        })
}

/// The `crs` query parameter of bando's own endpoints (`/query/*`, the parcel split's cutting
/// line): x/y order, CRS84 when absent or empty.
#[derive(Debug, Clone)]
pub struct XyCrs(pub CrsInfo);

impl XyCrs {
    /// From a parsed query string.
    pub async fn from_params(
        state: &AppState,
        p: &HashMap<String, String>,
    ) -> Result<Self, AppError> {
        match p.get("crs").map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => state
                .crs
                .get(WGS84)
                .map(XyCrs)
                .map_err(|e| AppError::BadRequest(e.to_string())),
            Some(text) => Ok(XyCrs(
                resolve(state, "crs", text, AxisRule::EastFirst).await?.info,
            )),
        }
    }
}

impl FromRequestParts<AppState> for XyCrs {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let p = query(parts, state).await?;
        XyCrs::from_params(state, &p).await
    }
}

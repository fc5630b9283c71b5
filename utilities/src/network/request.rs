//! An isolation asked for from outside: where the break is (a WGS 84 point, or a pipe and a
//! position along it), which valves failed to close; checked here, so the HTTP handler only
//! parses and maps errors.

use std::sync::Arc;

use serde_json::Value;

use super::answer::{isolation_geojson, Disclosure};
use super::isolate::isolate;
use super::live::LiveNetwork;
use super::load::LoadError;

/// How far from a pipe a clicked point may be (metres).
pub const REACH_M: f64 = 50.0;

/// Where the break is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BreakAt {
    /// Near a WGS 84 point (the nearest pipe within [`REACH_M`]).
    Point {
        /// Longitude.
        lon: f64,
        /// Latitude.
        lat: f64,
    },
    /// On a pipe, at a fraction (0–1) of its length from its start.
    Pipe {
        /// Row id in `utilities.water_pipes`.
        id: i64,
        /// Position along it.
        fraction: f64,
    },
}

/// Why an isolation has no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// Reading the network failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// There are no pipes.
    #[error("the water network is empty: no pipes are imported")]
    NoNetwork,
    /// Nothing near the point.
    #[error("no water pipe within {reach_m} m of the point")]
    NoPipeNear {
        /// The search radius.
        reach_m: f64,
    },
    /// The pipe id is unknown.
    #[error("there is no water pipe {0}")]
    UnknownPipe(i64),
    /// A failed valve id is unknown.
    #[error("there is no valve {0} on the water network")]
    UnknownValve(i64),
    /// Coordinates or a fraction out of range.
    #[error("{0}")]
    Invalid(String),
}

/// The isolation of a break as GeoJSON ([`isolation_geojson`]).
pub async fn water_isolation(
    live: &Arc<LiveNetwork>,
    at: BreakAt,
    failed: &[i64],
    disclosure: Disclosure,
) -> Result<Value, TraceError> {
    let net = live.get().await?;
    if net.pipe_count() == 0 {
        return Err(TraceError::NoNetwork);
    }
    for &v in failed {
        if net.valve_node(v).is_none() {
            return Err(TraceError::UnknownValve(v));
        }
    }
    let (piece, point) = match at {
        BreakAt::Point { lon, lat } => {
            if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
                return Err(TraceError::Invalid(format!(
                    "point {lon},{lat} is not a longitude,latitude pair"
                )));
            }
            let (x, y): (f64, f64) = sqlx::query_as(
                "SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), $3) AS g) p",
            )
            .bind(lon)
            .bind(lat)
            .bind(net.srid)
            .fetch_one(live.pool())
            .await
            .map_err(|source| LoadError::Db {
                what: "the break point",
                source,
            })?;
            net.locate([x, y], REACH_M)
                .ok_or(TraceError::NoPipeNear { reach_m: REACH_M })?
        }
        BreakAt::Pipe { id, fraction } => {
            if !(0.0..=1.0).contains(&fraction) {
                return Err(TraceError::Invalid(format!(
                    "at={fraction} is not a position along the pipe (0 to 1)"
                )));
            }
            net.locate_on_pipe(id, fraction)
                .ok_or(TraceError::UnknownPipe(id))?
        }
    };
    let iso = isolate(&net, piece, failed);
    let baseline = (!failed.is_empty()).then(|| isolate(&net, piece, &[]));
    Ok(isolation_geojson(
        live.pool(),
        &net,
        &iso,
        point,
        disclosure,
        baseline.as_ref(),
    )
    .await?)
}

//! An isolation asked for from outside: where the break is (a WGS 84 point, or a pipe and a
//! position along it), which valves failed to close; checked here, so the HTTP handler only
//! parses and maps errors.

use std::sync::Arc;

use serde_json::Value;

use super::answer::{
    downstream_geojson, isolation_geojson, outage_geojson, upstream_geojson, Disclosure, Shape,
};
use super::isolate::isolate;
use super::live::LiveNetwork;
use super::load::LoadError;
use super::outage::{downstream, node_of, Outage};
use super::{Network, Pt};

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
    #[error("the network is empty: no pipes or lines are imported")]
    NoNetwork,
    /// Nothing near the point.
    #[error("no pipe or line within {reach_m} m of the point")]
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
    /// A pole or substation that is not on the network.
    #[error("there is no {what} {id} on the power network")]
    UnknownDevice {
        /// `pole` or `substation`.
        what: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// Coordinates or a fraction out of range.
    #[error("{0}")]
    Invalid(String),
}

/// Where a power outage is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutageAt {
    /// The line nearest a WGS 84 point (within [`REACH_M`]).
    Point {
        /// Longitude.
        lon: f64,
        /// Latitude.
        lat: f64,
    },
    /// A pole (row id in `utilities.power_poles`).
    Pole(i64),
    /// A substation (row id in `utilities.substations`).
    Substation(i64),
}

/// The TM-3 point of a WGS 84 one, in the network's zone.
async fn to_zone(live: &LiveNetwork, srid: i32, lon: f64, lat: f64) -> Result<Pt, TraceError> {
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
    .bind(srid)
    .fetch_one(live.pool())
    .await
    .map_err(|source| LoadError::Db {
        what: "the point",
        source,
    })?;
    // Far from the zone's meridian the projection may not give a number: nothing is near.
    if !x.is_finite() || !y.is_finite() {
        return Err(TraceError::NoPipeNear { reach_m: REACH_M });
    }
    Ok([x, y])
}

/// The network and a WGS 84 point in its zone. The graph is let go over the transform's
/// query (a patch waiting for it need not copy it) and taken again after; if a rebuild moved
/// it to another zone meanwhile, the point is transformed again.
async fn with_point(
    live: &Arc<LiveNetwork>,
    net: Arc<Network>,
    lon: f64,
    lat: f64,
) -> Result<(Arc<Network>, Pt), TraceError> {
    let mut net = net;
    let mut tries = 0;
    loop {
        let srid = net.srid;
        drop(net);
        let p = to_zone(live, srid, lon, lat).await?;
        net = live.get().await?;
        tries += 1;
        if net.srid == srid || tries == 3 {
            return Ok((net, p));
        }
    }
}

/// What a power outage cuts off, as GeoJSON ([`outage_geojson`]); `disclosure` is what the
/// reader may see of the customers.
pub async fn power_outage(
    live: &Arc<LiveNetwork>,
    at: OutageAt,
    disclosure: Disclosure,
) -> Result<Value, TraceError> {
    let net = live.get().await?;
    if net.pipe_count() == 0 {
        return Err(TraceError::NoNetwork);
    }
    let (net, outage, point) = match at {
        OutageAt::Point { lon, lat } => {
            let (net, p) = with_point(live, net, lon, lat).await?;
            let (piece, foot) = net
                .locate(p, REACH_M)
                .ok_or(TraceError::NoPipeNear { reach_m: REACH_M })?;
            (net, Outage::Piece(piece), foot)
        }
        OutageAt::Pole(id) => {
            let n = node_of(&net, Outage::Pole(id))
                .ok_or(TraceError::UnknownDevice { what: "pole", id })?;
            let at = net.graph[n].at;
            (net, Outage::Pole(id), at)
        }
        OutageAt::Substation(id) => {
            let n = node_of(&net, Outage::Substation(id)).ok_or(TraceError::UnknownDevice {
                what: "substation",
                id,
            })?;
            let at = net.graph[n].at;
            (net, Outage::Substation(id), at)
        }
    };
    let down = downstream(&net, outage);
    Ok(outage_geojson(live.pool(), net, &down, point, disclosure).await?)
}

/// Which way a trace from a point goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// To the nearest source, with the path ([`super::trace::upstream`]).
    Upstream,
    /// What the point feeds ([`super::trace::downstream`]).
    Downstream,
}

/// An upstream or downstream trace from a point on a water pipe, as GeoJSON
/// ([`upstream_geojson`], [`downstream_geojson`]).
pub async fn water_trace(
    live: &Arc<LiveNetwork>,
    at: BreakAt,
    direction: Direction,
    disclosure: Disclosure,
) -> Result<Value, TraceError> {
    let net = live.get().await?;
    if net.pipe_count() == 0 {
        return Err(TraceError::NoNetwork);
    }
    let (net, piece, point) = piece_at(live, net, at).await?;
    Ok(match direction {
        Direction::Upstream => {
            let up = super::trace::upstream(&net, piece, point);
            upstream_geojson(live.pool(), net, up.as_ref(), point).await?
        }
        Direction::Downstream => {
            let down = super::trace::downstream(&net, piece);
            downstream_geojson(live.pool(), net, &down, point, disclosure).await?
        }
    })
}

/// The piece of pipe at a break and the point on it, in the network returned with them.
async fn piece_at(
    live: &Arc<LiveNetwork>,
    net: Arc<Network>,
    at: BreakAt,
) -> Result<(Arc<Network>, petgraph::graph::EdgeIndex, Pt), TraceError> {
    match at {
        BreakAt::Point { lon, lat } => {
            let (net, p) = with_point(live, net, lon, lat).await?;
            let (piece, foot) = net
                .locate(p, REACH_M)
                .ok_or(TraceError::NoPipeNear { reach_m: REACH_M })?;
            Ok((net, piece, foot))
        }
        BreakAt::Pipe { id, fraction } => {
            if !(0.0..=1.0).contains(&fraction) {
                return Err(TraceError::Invalid(format!(
                    "at={fraction} is not a position along the pipe (0 to 1)"
                )));
            }
            let (piece, foot) = net
                .locate_on_pipe(id, fraction)
                .ok_or(TraceError::UnknownPipe(id))?;
            Ok((net, piece, foot))
        }
    }
}

/// The isolation of a break as GeoJSON ([`isolation_geojson`]).
pub async fn water_isolation(
    live: &Arc<LiveNetwork>,
    at: BreakAt,
    failed: &[i64],
    disclosure: Disclosure,
    shape: Shape,
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
    let (net, piece, point) = piece_at(live, net, at).await?;
    // The graph may have been patched while the point was transformed: check again.
    if let Some(&v) = failed.iter().find(|&&v| net.valve_node(v).is_none()) {
        return Err(TraceError::UnknownValve(v));
    }
    let iso = isolate(&net, piece, failed);
    let baseline = (!failed.is_empty()).then(|| isolate(&net, piece, &[]));
    Ok(isolation_geojson(
        live.pool(),
        net,
        &iso,
        point,
        disclosure,
        shape,
        baseline.as_ref(),
    )
    .await?)
}

//! Reading the water or power layers for a network build: one query per table, every coordinate
//! transformed into the zone most pipes are stored in (so the graph measures ground metres).

use sqlx::PgPool;

use std::collections::HashMap;

use super::{
    is_closed_status, is_open_switch_state, Change, DeviceKind, Inputs, PipeRow, PointRow, Pt,
    Rows, ValveRow,
};

/// Errors reading the network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The database refused a query.
    #[error("reading {what} for the water network: {source}")]
    Db {
        /// What was being read.
        what: &'static str,
        /// Driver error.
        source: sqlx::Error,
    },
    /// A pipe's or line's geometry is not a 2D (multi)line string.
    #[error("network line {pipe}: its geometry is not a line or multi-line")]
    Geometry {
        /// Row id.
        pipe: i64,
    },
}

/// The lines of a 2D WKB LineString or MultiLineString.
pub fn lines_of_wkb(wkb: &[u8]) -> Option<Vec<Vec<Pt>>> {
    struct Reader<'a> {
        b: &'a [u8],
        at: usize,
        little: bool,
    }
    impl Reader<'_> {
        fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
            let s = self.b.get(self.at..self.at + N)?;
            self.at += N;
            s.try_into().ok()
        }
        fn order(&mut self) -> Option<()> {
            self.little = self.take::<1>()?[0] == 1;
            Some(())
        }
        fn u32(&mut self) -> Option<u32> {
            let b = self.take::<4>()?;
            Some(if self.little {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            })
        }
        fn f64(&mut self) -> Option<f64> {
            let b = self.take::<8>()?;
            Some(if self.little {
                f64::from_le_bytes(b)
            } else {
                f64::from_be_bytes(b)
            })
        }
        fn line(&mut self) -> Option<Vec<Pt>> {
            let n = self.u32()? as usize;
            if n > (self.b.len() - self.at) / 16 {
                return None;
            }
            (0..n).map(|_| Some([self.f64()?, self.f64()?])).collect()
        }
    }
    let mut r = Reader {
        b: wkb,
        at: 0,
        little: true,
    };
    r.order()?;
    match r.u32()? {
        2 => Some(vec![r.line()?]),
        5 => {
            let n = r.u32()?;
            (0..n)
                .map(|_| {
                    r.order()?;
                    (r.u32()? == 2).then_some(())?;
                    r.line()
                })
                .collect()
        }
        _ => None,
    }
}

fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> LoadError {
    move |source| LoadError::Db { what, source }
}

/// Which network a graph is built of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Pipes, valves, hydrants, meters, sources.
    Water,
    /// Lines, poles, switches (as valves), substations (the sources), customers (as meters).
    Power,
}

impl Kind {
    /// The tables whose changes reach the network.
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            Kind::Water => &[
                "utilities.water_pipes",
                "utilities.water_valves",
                "utilities.hydrants",
                "utilities.water_meters",
                "utilities.water_sources",
            ],
            Kind::Power => &[
                "utilities.power_lines",
                "utilities.power_poles",
                "utilities.substations",
                "utilities.power_switches",
                "utilities.power_customers",
            ],
        }
    }
}

/// The zone most lines of `table` are stored in (`None`: the table is empty). Lines of a city
/// lie in one zone, but a delivery may mix them, and the graph needs one plane.
async fn zone_of(pool: &PgPool, table: &'static str) -> Result<Option<i32>, LoadError> {
    sqlx::query_scalar(&format!(
        "SELECT ST_SRID(geom) FROM utilities.{table} GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    ))
    .fetch_optional(pool)
    .await
    .map_err(db(table))
}

/// The Web Mercator box of each row of each table read ([`Boxes`]): a change notification
/// names the box of what it changed in the same terms, so the rows a patch drops are those
/// whose box meets it.
pub type Boxes = HashMap<&'static str, HashMap<i64, [f64; 4]>>;

/// Only the rows whose `geom_3857` meets this box (EPSG:3857), or all rows.
type Within = Option<[f64; 4]>;

fn within_sql(within: Within) -> &'static str {
    if within.is_some() {
        "WHERE geom_3857 && ST_MakeEnvelope($2, $3, $4, $5, 3857)"
    } else {
        ""
    }
}

fn bind_within<'q, O>(
    q: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    within: Within,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    match within {
        Some(b) => q.bind(b[0]).bind(b[1]).bind(b[2]).bind(b[3]),
        None => q,
    }
}

/// The box columns of a row.
const BOX: &str = "ST_XMin(geom_3857), ST_YMin(geom_3857), ST_XMax(geom_3857), ST_YMax(geom_3857)";

/// The lines of `table` (`size`: the column of their size, or `NULL`) in zone `srid`.
async fn lines(
    pool: &PgPool,
    table: &'static str,
    size: &'static str,
    srid: i32,
    within: Within,
    boxes: &mut Boxes,
) -> Result<Vec<PipeRow>, LoadError> {
    // WKB parsed here: 10× faster than dumping points into arrays in SQL (sample: 24 vs 245 ms).
    let sql = format!(
        "SELECT id, {size}::float8, ST_AsBinary(ST_Force2D(ST_Transform(geom, $1))), {BOX}
         FROM utilities.{table} {} ORDER BY id",
        within_sql(within)
    );
    type Row = (i64, Option<f64>, Vec<u8>, f64, f64, f64, f64);
    let rows: Vec<Row> = bind_within(sqlx::query_as(&sql).bind(srid), within)
        .fetch_all(pool)
        .await
        .map_err(db(table))?;
    let mut out = Vec::with_capacity(rows.len());
    let b = boxes.entry(table).or_default();
    for (id, diameter_mm, wkb, x0, y0, x1, y1) in rows {
        let parts = lines_of_wkb(&wkb).ok_or(LoadError::Geometry { pipe: id })?;
        b.insert(id, [x0, y0, x1, y1]);
        out.push(PipeRow {
            id,
            diameter_mm,
            parts,
        });
    }
    Ok(out)
}

/// The points of `table` in zone `srid`.
async fn points(
    pool: &PgPool,
    table: &'static str,
    srid: i32,
    within: Within,
    boxes: &mut Boxes,
) -> Result<Vec<PointRow>, LoadError> {
    let sql = format!(
        "SELECT id, ST_X(g), ST_Y(g), x0, y0, x1, y1
         FROM (SELECT id, ST_Transform(geom, $1) AS g,
                      ST_XMin(geom_3857) x0, ST_YMin(geom_3857) y0,
                      ST_XMax(geom_3857) x1, ST_YMax(geom_3857) y1
               FROM utilities.{table} {}) v ORDER BY id",
        within_sql(within)
    );
    type Row = (i64, f64, f64, f64, f64, f64, f64);
    let rows: Vec<Row> = bind_within(sqlx::query_as(&sql).bind(srid), within)
        .fetch_all(pool)
        .await
        .map_err(db(table))?;
    let b = boxes.entry(table).or_default();
    Ok(rows
        .into_iter()
        .map(|(id, x, y, x0, y0, x1, y1)| {
            b.insert(id, [x0, y0, x1, y1]);
            PointRow { id, at: [x, y] }
        })
        .collect())
}

/// The valves of a water network, or the switches of a power one, in zone `srid`.
async fn valves(
    pool: &PgPool,
    kind: Kind,
    srid: i32,
    within: Within,
    boxes: &mut Boxes,
) -> Result<Vec<ValveRow>, LoadError> {
    // A switch has no `operable` column: every switch can be operated.
    let (table, state, operable) = match kind {
        Kind::Water => ("water_valves", "status", "operable"),
        Kind::Power => ("power_switches", "state", "NULL::boolean"),
    };
    let sql = format!(
        "SELECT id, ST_X(g), ST_Y(g), st, op, x0, y0, x1, y1
         FROM (SELECT id, {state} AS st, {operable} AS op, ST_Transform(geom, $1) AS g,
                      ST_XMin(geom_3857) x0, ST_YMin(geom_3857) y0,
                      ST_XMax(geom_3857) x1, ST_YMax(geom_3857) y1
               FROM utilities.{table} {}) v ORDER BY id",
        within_sql(within)
    );
    type Row = (
        i64,
        f64,
        f64,
        Option<String>,
        Option<bool>,
        f64,
        f64,
        f64,
        f64,
    );
    let rows: Vec<Row> = bind_within(sqlx::query_as(&sql).bind(srid), within)
        .fetch_all(pool)
        .await
        .map_err(db(table))?;
    // Both stop the flow: a closed valve, an open switch.
    let stops: fn(&str) -> bool = match kind {
        Kind::Water => is_closed_status,
        Kind::Power => is_open_switch_state,
    };
    let b = boxes.entry(table).or_default();
    Ok(rows
        .into_iter()
        .map(|(id, x, y, status, operable, x0, y0, x1, y1)| {
            b.insert(id, [x0, y0, x1, y1]);
            ValveRow {
                id,
                at: [x, y],
                closed: status.as_deref().is_some_and(stops),
                operable: operable != Some(false),
            }
        })
        .collect())
}

/// Reads the network of `kind`.
pub async fn inputs_of(pool: &PgPool, kind: Kind) -> Result<Inputs, LoadError> {
    Ok(snapshot_of(pool, kind).await?.0)
}

/// Reads the network of `kind`, with the Web Mercator box of every row.
pub async fn snapshot_of(pool: &PgPool, kind: Kind) -> Result<(Inputs, Boxes), LoadError> {
    let mut boxes = Boxes::new();
    let inputs = match kind {
        Kind::Water => {
            let Some(srid) = zone_of(pool, "water_pipes").await? else {
                return Ok((Inputs::default(), boxes));
            };
            let b = &mut boxes;
            Inputs {
                srid,
                pipes: lines(pool, "water_pipes", "diameter_mm", srid, None, b).await?,
                valves: valves(pool, Kind::Water, srid, None, b).await?,
                hydrants: points(pool, "hydrants", srid, None, b).await?,
                meters: points(pool, "water_meters", srid, None, b).await?,
                sources: points(pool, "water_sources", srid, None, b).await?,
                poles: Vec::new(),
            }
        }
        Kind::Power => {
            let Some(srid) = zone_of(pool, "power_lines").await? else {
                return Ok((Inputs::default(), boxes));
            };
            let b = &mut boxes;
            Inputs {
                srid,
                pipes: lines(pool, "power_lines", "NULL", srid, None, b).await?,
                valves: valves(pool, Kind::Power, srid, None, b).await?,
                poles: points(pool, "power_poles", srid, None, b).await?,
                sources: points(pool, "substations", srid, None, b).await?,
                meters: points(pool, "power_customers", srid, None, b).await?,
                ..Inputs::default()
            }
        }
    };
    Ok((inputs, boxes))
}

/// Reads power lines, poles, switches, substations (as the sources) and customers.
pub async fn power_inputs(pool: &PgPool) -> Result<Inputs, LoadError> {
    inputs_of(pool, Kind::Power).await
}

/// Reads pipes, valves, hydrants, meters and sources.
pub async fn inputs(pool: &PgPool) -> Result<Inputs, LoadError> {
    inputs_of(pool, Kind::Water).await
}

/// The rows of `table` (schema-qualified, one of `kind`'s) whose Web Mercator box meets
/// `bbox`, in zone `srid`, as a [`Change`] that replaces the rows `boxes` holds there; `boxes`
/// is brought up to date. `None`: the table is not one of `kind`'s.
pub async fn change_in(
    pool: &PgPool,
    kind: Kind,
    table: &str,
    bbox: [f64; 4],
    srid: i32,
    boxes: &mut Boxes,
) -> Result<Option<Change>, LoadError> {
    let Some(name) = kind
        .tables()
        .iter()
        .find(|t| **t == table)
        .and_then(|t| t.strip_prefix("utilities."))
    else {
        return Ok(None);
    };
    // The notified box is the extent PostGIS computed, which may round a coordinate inward by
    // a hair; grown by a metre it holds every changed row. The rows held in memory that meet
    // it are dropped, and the database's rows meeting it (its `&&` rounds outward, so it
    // returns at least those) put in: a dropped row not returned was deleted.
    let bbox = [bbox[0] - 1.0, bbox[1] - 1.0, bbox[2] + 1.0, bbox[3] + 1.0];
    let meets =
        |b: &[f64; 4]| b[0] <= bbox[2] && bbox[0] <= b[2] && b[1] <= bbox[3] && bbox[1] <= b[3];
    let mut gone: Vec<i64> = boxes
        .get(name)
        .map(|rows| {
            rows.iter()
                .filter(|(_, b)| meets(b))
                .map(|(&id, _)| id)
                .collect()
        })
        .unwrap_or_default();
    gone.sort_unstable();
    if let Some(rows) = boxes.get_mut(name) {
        for id in &gone {
            rows.remove(id);
        }
    }
    let within = Some(bbox);
    let rows = match (kind, name) {
        (Kind::Water, "water_pipes") => {
            Rows::Pipes(lines(pool, "water_pipes", "diameter_mm", srid, within, boxes).await?)
        }
        (Kind::Power, "power_lines") => {
            Rows::Pipes(lines(pool, "power_lines", "NULL", srid, within, boxes).await?)
        }
        (Kind::Water, "water_valves") | (Kind::Power, "power_switches") => {
            Rows::Valves(valves(pool, kind, srid, within, boxes).await?)
        }
        (_, t) => {
            let (device, t) = match t {
                "hydrants" => (DeviceKind::Hydrant, "hydrants"),
                "water_meters" => (DeviceKind::Meter, "water_meters"),
                "water_sources" => (DeviceKind::Source, "water_sources"),
                "power_poles" => (DeviceKind::Pole, "power_poles"),
                "substations" => (DeviceKind::Source, "substations"),
                "power_customers" => (DeviceKind::Meter, "power_customers"),
                _ => return Ok(None),
            };
            Rows::Points(device, points(pool, t, srid, within, boxes).await?)
        }
    };
    Ok(Some(Change { gone, rows }))
}

/// How many rows `boxes` holds of `table` (schema-qualified) whose box meets `bbox`.
pub fn rows_meeting(boxes: &Boxes, table: &str, bbox: [f64; 4]) -> usize {
    let name = table.strip_prefix("utilities.").unwrap_or(table);
    boxes.get(name).map_or(0, |rows| {
        rows.values()
            .filter(|b| b[0] <= bbox[2] && bbox[0] <= b[2] && b[1] <= bbox[3] && bbox[1] <= b[3])
            .count()
    })
}

//! Reading the water or power layers for a network build: one query per table, every coordinate
//! transformed into the zone most pipes are stored in (so the graph measures ground metres).

use sqlx::PgPool;

use super::{is_closed_status, Inputs, PipeRow, PointRow, Pt, ValveRow};

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

/// A valve: id, x, y, status, operable.
type ValveIn = (i64, f64, f64, Option<String>, Option<bool>);

fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> LoadError {
    move |source| LoadError::Db { what, source }
}

/// Which network a graph is built of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Pipes, valves, hydrants, meters, sources.
    Water,
    /// Lines, poles, substations (the sources).
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

/// The lines of `table` (`size`: the column of their size, or `NULL`) in zone `srid`.
async fn lines(
    pool: &PgPool,
    table: &'static str,
    size: &'static str,
    srid: i32,
) -> Result<Vec<PipeRow>, LoadError> {
    // WKB parsed here: 10× faster than dumping points into arrays in SQL (sample: 24 vs 245 ms).
    let rows: Vec<(i64, Option<f64>, Vec<u8>)> = sqlx::query_as(&format!(
        "SELECT id, {size}::float8, ST_AsBinary(ST_Force2D(ST_Transform(geom, $1)))
         FROM utilities.{table} ORDER BY id"
    ))
    .bind(srid)
    .fetch_all(pool)
    .await
    .map_err(db(table))?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, diameter_mm, wkb) in rows {
        let parts = lines_of_wkb(&wkb).ok_or(LoadError::Geometry { pipe: id })?;
        out.push(PipeRow {
            id,
            diameter_mm,
            parts,
        });
    }
    Ok(out)
}

/// The points of `table` in zone `srid`.
async fn points(pool: &PgPool, table: &'static str, srid: i32) -> Result<Vec<PointRow>, LoadError> {
    let rows: Vec<(i64, f64, f64)> = sqlx::query_as(&format!(
        "SELECT id, ST_X(g), ST_Y(g)
         FROM (SELECT id, ST_Transform(geom, $1) AS g FROM utilities.{table}) v ORDER BY id"
    ))
    .bind(srid)
    .fetch_all(pool)
    .await
    .map_err(db(table))?;
    Ok(rows
        .into_iter()
        .map(|(id, x, y)| PointRow { id, at: [x, y] })
        .collect())
}

/// Reads the network of `kind`.
pub async fn inputs_of(pool: &PgPool, kind: Kind) -> Result<Inputs, LoadError> {
    match kind {
        Kind::Water => inputs(pool).await,
        Kind::Power => power_inputs(pool).await,
    }
}

/// Reads power lines, poles and substations (as the sources).
pub async fn power_inputs(pool: &PgPool) -> Result<Inputs, LoadError> {
    let Some(srid) = zone_of(pool, "power_lines").await? else {
        return Ok(Inputs::default());
    };
    Ok(Inputs {
        srid,
        pipes: lines(pool, "power_lines", "NULL", srid).await?,
        poles: points(pool, "power_poles", srid).await?,
        sources: points(pool, "substations", srid).await?,
        ..Inputs::default()
    })
}

/// Reads pipes, valves, hydrants, meters and sources.
pub async fn inputs(pool: &PgPool) -> Result<Inputs, LoadError> {
    let Some(srid) = zone_of(pool, "water_pipes").await? else {
        return Ok(Inputs::default());
    };
    let pipes = lines(pool, "water_pipes", "diameter_mm", srid).await?;
    let valves: Vec<ValveIn> = sqlx::query_as(
        "SELECT id, ST_X(g), ST_Y(g), status, operable
         FROM (SELECT id, status, operable, ST_Transform(geom, $1) AS g
               FROM utilities.water_valves) v ORDER BY id",
    )
    .bind(srid)
    .fetch_all(pool)
    .await
    .map_err(db("valves"))?;
    Ok(Inputs {
        srid,
        pipes,
        valves: valves
            .into_iter()
            .map(|(id, x, y, status, operable)| ValveRow {
                id,
                at: [x, y],
                closed: status.as_deref().is_some_and(is_closed_status),
                operable: operable != Some(false),
            })
            .collect(),
        hydrants: points(pool, "hydrants", srid).await?,
        meters: points(pool, "water_meters", srid).await?,
        sources: points(pool, "water_sources", srid).await?,
        poles: Vec::new(),
    })
}

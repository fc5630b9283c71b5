//! Reading the water layers for a network build: one query per table, every coordinate
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
    /// A pipe's geometry is not a 2D (multi)line string.
    #[error("water pipe {pipe}: its geometry is not a line or multi-line")]
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

/// Reads pipes, valves, hydrants, meters and sources.
pub async fn inputs(pool: &PgPool) -> Result<Inputs, LoadError> {
    // The zone most pipes are stored in; pipes of a city lie in one zone, but a delivery may
    // mix them, and the graph needs one plane.
    let srid: Option<i32> = sqlx::query_scalar(
        "SELECT ST_SRID(geom) FROM utilities.water_pipes GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
    )
    .fetch_optional(pool)
    .await
    .map_err(db("the pipes' zone"))?;
    let Some(srid) = srid else {
        return Ok(Inputs::default());
    };
    // WKB parsed here: 10× faster than dumping points into arrays in SQL (sample: 24 vs 245 ms).
    let rows: Vec<(i64, Option<f64>, Vec<u8>)> = sqlx::query_as(
        "SELECT id, diameter_mm, ST_AsBinary(ST_Force2D(ST_Transform(geom, $1)))
         FROM utilities.water_pipes ORDER BY id",
    )
    .bind(srid)
    .fetch_all(pool)
    .await
    .map_err(db("pipes"))?;
    let mut pipes: Vec<PipeRow> = Vec::with_capacity(rows.len());
    for (id, diameter_mm, wkb) in rows {
        let parts = lines_of_wkb(&wkb).ok_or(LoadError::Geometry { pipe: id })?;
        pipes.push(PipeRow {
            id,
            diameter_mm,
            parts,
        });
    }
    let valves: Vec<ValveIn> = sqlx::query_as(
        "SELECT id, ST_X(g), ST_Y(g), status, operable
         FROM (SELECT id, status, operable, ST_Transform(geom, $1) AS g
               FROM utilities.water_valves) v ORDER BY id",
    )
    .bind(srid)
    .fetch_all(pool)
    .await
    .map_err(db("valves"))?;
    let points = |table: &'static str| {
        let sql = format!(
            "SELECT id, ST_X(g), ST_Y(g)
             FROM (SELECT id, ST_Transform(geom, $1) AS g FROM utilities.{table}) v ORDER BY id"
        );
        async move {
            let rows: Vec<(i64, f64, f64)> = sqlx::query_as(&sql)
                .bind(srid)
                .fetch_all(pool)
                .await
                .map_err(db(table))?;
            Ok::<_, LoadError>(
                rows.into_iter()
                    .map(|(id, x, y)| PointRow { id, at: [x, y] })
                    .collect::<Vec<_>>(),
            )
        }
    };
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
        hydrants: points("hydrants").await?,
        meters: points("water_meters").await?,
        sources: points("water_sources").await?,
    })
}

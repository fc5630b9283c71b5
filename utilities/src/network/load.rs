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
}

/// One part of a pipe: id, diameter, part number, x and y of its vertices.
type PartRow = (i64, Option<f64>, i32, Vec<f64>, Vec<f64>);
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
    let rows: Vec<PartRow> = sqlx::query_as(
        "SELECT p.id, p.diameter_mm, coalesce(d.path[1], 1),
                array_agg(ST_X(v.geom) ORDER BY v.path[1]), array_agg(ST_Y(v.geom) ORDER BY v.path[1])
         FROM utilities.water_pipes p
         CROSS JOIN LATERAL ST_Dump(ST_Transform(p.geom, $1)) d
         CROSS JOIN LATERAL ST_DumpPoints(d.geom) v
         GROUP BY p.id, p.diameter_mm, d.path[1]
         ORDER BY p.id, 3",
    )
    .bind(srid)
    .fetch_all(pool)
    .await
    .map_err(db("pipes"))?;
    let mut pipes: Vec<PipeRow> = Vec::new();
    for (id, diameter_mm, _, xs, ys) in rows {
        let part: Vec<Pt> = xs.into_iter().zip(ys).map(|(x, y)| [x, y]).collect();
        match pipes.last_mut() {
            Some(last) if last.id == id => last.parts.push(part),
            _ => pipes.push(PipeRow {
                id,
                diameter_mm,
                parts: vec![part],
            }),
        }
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

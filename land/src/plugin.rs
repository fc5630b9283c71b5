//! The cadastre's layers, declared once ([`layers`]): communes, map sheets and parcels, with
//! their titles, style, zooms and the parcels' hooks (overlap findings on a delivery, the
//! land-use overview refreshed after a bulk load).

use gis_core::bulk::StagedRow;
use gis_core::bulk::{InvalidPolicy, MergeMode};
use gis_core::declare::{
    BoxFuture, BulkChanges, ImportChecks, ImportContext, LayerDecl, LayerHooks, LocalBoxFuture,
};
use gis_core::layer::{Roles, StyleHints};
use serde_json::json;
use sqlx::PgConnection;

use crate::tables::{COMMUNES, MAP_SHEETS, PARCELS};

/// The cadastre's layers.
pub fn layers() -> Vec<LayerDecl> {
    // Cadastre changes by decision, a few times a day at most.
    const HOUR: u32 = 3600;
    let communes = LayerDecl::new(
        COMMUNES,
        "Ranh giới xã, phường",
        "Commune boundaries",
        "cadastre",
        (6, 16),
        "#7b3294",
    )
    .filled("#f2efe9")
    .labelled("legacy_name")
    .shown();
    let sheets = LayerDecl::new(
        MAP_SHEETS,
        "Tờ bản đồ địa chính",
        "Cadastral map sheets",
        "cadastre",
        (10, 18),
        "#e66101",
    )
    .labelled("sheet_number");
    let parcels = LayerDecl::new(
        PARCELS,
        "Thửa đất",
        "Parcels",
        "cadastre",
        (8, 20),
        "#b35806",
    )
    .filled("#fdb863")
    .labelled("parcel_number")
    .shown();
    vec![
        LayerDecl {
            cache_max_age: HOUR,
            style: StyleHints {
                label_bold: true,
                line_dash: Some(vec![4.0, 2.0]),
                line_paint: Some(json!({
                    "line-color": "#7b3294",
                    "line-width": ["interpolate", ["linear"], ["zoom"], 6, 1.0, 14, 2.5],
                    "line-dasharray": [4, 2],
                })),
                draw_rank: Some(0),
                ..communes.style.clone()
            },
            styles: &["public", "base"],
            ..communes
        },
        LayerDecl {
            cache_max_age: HOUR,
            style: StyleHints {
                line_width: Some(1.2),
                line_dash: Some(vec![4.0, 2.0]),
                label_min_zoom: Some(13),
                draw_rank: Some(1),
                ..sheets.style.clone()
            },
            styles: &["public"],
            ..sheets
        },
        LayerDecl {
            cache_max_age: HOUR,
            generalisation: Some(crate::overview::generalisation()),
            style: StyleHints {
                fill_paint: Some(json!({
                    "fill-color": crate::land_use::colour_expression("land_use_code", "#fdb863"),
                    "fill-opacity": 0.75,
                })),
                label_min_zoom: Some(17),
                draw_rank: Some(3),
                ..parcels.style.clone()
            },
            hooks: Some(&ParcelHooks),
            styles: &["public"],
            // Land officers read owners' data of their own communes' parcels.
            scope_column: Some("commune_code"),
            // Land officers edit the parcels of their communes (`crate::edit`).
            writers: Roles::LAND_OFFICER,
            // `datetime=<instant>` reads the parcels as they were (migration 1008).
            as_of: Some("land.parcels_as_of"),
            ..parcels
        },
    ]
}

/// The parcels' import checks and post-load step.
struct ParcelHooks;

impl LayerHooks for ParcelHooks {
    fn import_checks(&self, ctx: ImportContext) -> Option<Box<dyn ImportChecks>> {
        // The configured tolerance (`[land] overlap_tolerance_m2`), the edits' default else.
        let tolerance_m2 = ctx
            .overlap_tolerance_m2
            .unwrap_or(crate::edit::OVERLAP_TOLERANCE_M2);
        Some(Box::new(ParcelChecks {
            detector: Some(crate::overlaps::OverlapDetector::new(tolerance_m2)),
            places: Vec::new(),
            tolerance_m2,
            // An upsert leaves the live parcels it does not replace: the delivery must not
            // overlap them either.
            against_live: (ctx.mode == MergeMode::Upsert)
                .then_some(ctx.invalid == InvalidPolicy::Reject),
            finishing: None,
        }))
    }

    // Bulk loads skip the parcels' triggers, so the land-use overview is brought up to date
    // here, in one pass, in the load's transaction: by the changed rows' cells when the load
    // says which rows changed, else by the areas.
    fn after_bulk_load<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        changes: &'a BulkChanges<'a>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let done = match changes.row_boxes_sql {
                Some(rows) => crate::overview::refresh_rows(conn, rows).await,
                None => crate::overview::refresh(conn, changes.areas_3857).await,
            };
            done.map(|_| ()).map_err(|e| e.to_string())
        })
    }
}

/// Overlaps found while the delivery streams past, in projected metres; a row in a CRS that
/// is not a native zone sends the whole check to PostGIS instead.
struct ParcelChecks {
    detector: Option<crate::overlaps::OverlapDetector>,
    /// Where the detector's parcels are in the delivery, as runs of (first number, file, first
    /// feature index): a file's features come one after the other, so a handful of runs name a
    /// million parcels (rejected features start a new run).
    places: Vec<(u32, i32, i64)>,
    /// Largest overlap reported as none, m².
    tolerance_m2: f64,
    /// Compare with the live parcels the delivery keeps (upsert); `true`: reject overlapping
    /// rows.
    against_live: Option<bool>,
    /// The detector's pass over all parcels, on a blocking thread while PostgreSQL prepares
    /// the staging table (seconds each at a million parcels: they overlap on two cores); the
    /// detector comes back when the kept live parcels are checked against it next.
    finishing: Option<tokio::task::JoinHandle<Finished>>,
}

/// The detector's findings among the delivered parcels, and the detector when still needed.
type Finished = (
    Vec<crate::overlaps::Overlap>,
    Option<crate::overlaps::OverlapDetector>,
);

impl ImportChecks for ParcelChecks {
    fn observe(&mut self, row: &StagedRow) {
        if !gis_core::bulk::NATIVE_SRIDS.contains(&row.srid) {
            self.detector = None;
        }
        if let Some(detector) = self.detector.as_mut() {
            // Unparsable geometry is rejected later by PostGIS with its own reason.
            if let Ok(n) = detector.add(row.srid, &row.wkb) {
                let follows = self.places.last().is_some_and(|&(first, file, index)| {
                    file == row.file && index + i64::from(n - first) == row.index
                });
                if !follows {
                    self.places.push((n, row.file, row.index));
                }
            }
        }
    }

    fn rows_done(&mut self) {
        if let Some(detector) = self.detector.take() {
            let keep = self.against_live.is_some();
            self.finishing = Some(tokio::task::spawn_blocking(move || {
                let found = detector.finish();
                (found, keep.then_some(detector))
            }));
        }
    }

    fn findings<'a>(
        mut self: Box<Self>,
        conn: &'a mut PgConnection,
        stage: &'a str,
    ) -> LocalBoxFuture<'a, Result<Vec<String>, sqlx::Error>> {
        Box::pin(async move {
            let mut findings = Vec::new();
            // The live parcels an upsert keeps are set apart while the detector finishes.
            let kept = match self.against_live {
                Some(_) => crate::parcels::set_kept_apart(conn, stage).await?,
                None => 0,
            };
            let (overlaps, detector) = match (self.finishing.take(), self.detector.take()) {
                (Some(handle), _) => match handle.await {
                    Ok((overlaps, detector)) => (Some(overlaps), detector),
                    Err(e) => {
                        // The same check in PostGIS rather than an import without it.
                        tracing::warn!(error = %e, "the in-memory overlap check failed; checking in PostGIS");
                        (None, None)
                    }
                },
                (None, Some(detector)) => (Some(detector.finish()), Some(detector)),
                (None, None) => (None, None),
            };
            if let (Some(reject), true) = (self.against_live, kept > 0) {
                let found = match detector {
                    Some(detector) => {
                        let pairs = crate::parcels::kept_overlaps_in_memory(conn, detector).await?;
                        let pairs = pairs
                            .into_iter()
                            .map(|(n, live, area_m2)| crate::parcels::KeptOverlap {
                                place: place(&self.places, n),
                                live,
                                area_m2,
                            })
                            .collect();
                        crate::parcels::report_kept_overlaps(
                            conn,
                            stage,
                            Some(pairs),
                            reject,
                            self.tolerance_m2,
                        )
                        .await?
                    }
                    None => {
                        crate::parcels::report_kept_overlaps(
                            conn,
                            stage,
                            None,
                            reject,
                            self.tolerance_m2,
                        )
                        .await?
                    }
                };
                findings.extend(found);
            }
            if self.against_live.is_some() {
                crate::parcels::drop_kept(conn).await?;
            }
            let overlaps = overlaps.map(|found| {
                found
                    .into_iter()
                    .map(|o| crate::parcels::StagedOverlap {
                        a: place(&self.places, o.a),
                        b: place(&self.places, o.b),
                        area_m2: o.area_m2,
                    })
                    .collect()
            });
            findings.extend(
                crate::parcels::stage_findings(conn, stage, overlaps, self.tolerance_m2).await?,
            );
            Ok(findings)
        })
    }
}

/// The staged row (file, feature index) of the detector's parcel `n`.
fn place(places: &[(u32, i32, i64)], n: u32) -> (i32, i64) {
    let run = places.partition_point(|&(first, _, _)| first <= n);
    match run.checked_sub(1).and_then(|r| places.get(r)) {
        Some(&(first, file, index)) => (file, index + i64::from(n - first)),
        // Every number the detector gives out is recorded in a run.
        None => (-1, -1),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn detector_numbers_map_back_to_staged_rows_across_files_and_rejects() {
        // File 0: features 0–2; feature 3 rejected before staging; 4–5; then file 1 from 0.
        let places = [(0, 0, 0), (3, 0, 4), (5, 1, 0)];
        let got: Vec<(i32, i64)> = (0..7).map(|n| super::place(&places, n)).collect();
        assert_eq!(
            got,
            vec![(0, 0), (0, 1), (0, 2), (0, 4), (0, 5), (1, 0), (1, 1)]
        );
    }
}

//! Land officers edit parcels (issue 11, first part): OGC API – Features Part 4 writes with
//! entity tags, a reason and a decision on every write, the cadastral rules in the same
//! transaction (a refused write leaves the parcel exactly as it was), the commune scope, the
//! history, retired numbers, and tiles that are never stale after a write.

use axum::http::{header, Method, StatusCode};
use serde_json::{json, Value};

use tests::TestDb;

use tests::fixtures::{id_of, officer, row_text, square, write, Parcels, DOCUMENT};
use tests::http::send;

#[tokio::test]
async fn a_land_officer_edits_a_parcel_with_its_tag_a_reason_and_a_decision() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let planner = issuer.issue("chuyen_vien_quy_hoach").expect("token");
    let id = id_of(&db, 1).await;
    let uri = format!("/collections/parcels/items/{id}");
    let patch_ct = ("content-type", "application/merge-patch+json");
    let body = json!({"properties": {"land_use_code": "CLN"}});

    let read = send(&app, Method::GET, &uri, Some(&officer), &[], None).await;
    assert_eq!(read.status, StatusCode::OK);
    let tag = read.etag();
    assert!(
        tag.starts_with('"') && tag.len() == 34,
        "a strong ETag: {tag}"
    );

    // Who may write: nobody anonymous (401 with a challenge), no planner (403).
    let r = send(
        &app,
        Method::PATCH,
        &uri,
        None,
        &[patch_ct],
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
    let r = send(
        &app,
        Method::PATCH,
        &uri,
        Some(&planner),
        &[patch_ct, ("if-match", &tag)],
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    // Without a tag 428; without a reason and decision 422.
    let r = send(
        &app,
        Method::PATCH,
        &uri,
        Some(&officer),
        &[patch_ct],
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_REQUIRED);
    let r = send(
        &app,
        Method::PATCH,
        &uri,
        Some(&officer),
        &[patch_ct, ("if-match", &tag)],
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("reason"));
    // Percent-encoded UTF-8 is how a header carries Vietnamese; a raw UTF-8 header value
    // is not valid HTTP, so the reason goes in the body's "edit" member here.
    let with_reason =
        json!({"properties": {"land_use_code": "CLN"}, "edit": {"reason": "Sửa mã loại đất"}});
    let before = row_text(&db, id).await;
    let r = send(
        &app,
        Method::PATCH,
        &uri,
        Some(&officer),
        &[patch_ct, ("if-match", &tag), ("edit-document", DOCUMENT)],
        Some(with_reason),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let new_tag = r.etag();
    assert!(!new_tag.is_empty() && new_tag != tag);
    assert_ne!(row_text(&db, id).await, before);
    let read = send(&app, Method::GET, &uri, Some(&officer), &[], None).await;
    assert_eq!(read.json()["properties"]["land_use_code"], "CLN");
    assert_eq!(read.etag(), new_tag);

    // The old tag is stale: 412 saying who changed it.
    let r = write(
        &app,
        Method::PATCH,
        &uri,
        &officer,
        Some(tag.as_str()),
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert!(r.text().contains("can_bo_dia_chinh"), "{}", r.text());
    assert_eq!(r.etag(), new_tag);

    // Refused writes leave the parcel exactly as it was.
    let unchanged = row_text(&db, id).await;
    let refused: Vec<(Value, &str)> = vec![
        (json!({"properties": {"commune_code": "25198"}}), "identity"),
        (json!({"properties": {"land_use_code": "XYZ"}}), "XYZ"),
        (
            json!({"properties": {"owner_nam": "x"}}),
            "unknown property",
        ),
        (json!({"properties": {"legal_area_m2": "much"}}), "refused"),
        // Over parcel 2 by a third of its width.
        (
            json!({"geometry": square(106.88306, 11.535, 0.00018)}),
            "overlaps parcel 2",
        ),
        // A bow tie.
        (
            json!({"geometry": {"type": "Polygon", "coordinates": [[[106.883, 11.535], [106.8831, 11.5351], [106.8831, 11.535], [106.883, 11.5351], [106.883, 11.535]]]}}),
            "not valid",
        ),
        (
            json!({"geometry": {"type": "Point", "coordinates": [106.883, 11.535]}}),
            "polygon",
        ),
    ];
    for (change, why_refused) in refused {
        let r = write(
            &app,
            Method::PATCH,
            &uri,
            &officer,
            Some(new_tag.as_str()),
            Some(change.clone()),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{change}: {}",
            r.text()
        );
        assert!(r.text().contains(why_refused), "{change}: {}", r.text());
        assert_eq!(
            row_text(&db, id).await,
            unchanged,
            "{change} changed the parcel"
        );
    }
    // The overlap is shown.
    let r = write(
        &app,
        Method::PATCH,
        &uri,
        &officer,
        Some(new_tag.as_str()),
        Some(json!({"geometry": square(106.88306, 11.535, 0.00018)})),
    )
    .await;
    assert_eq!(
        r.json()["part"]["geometry"]["type"],
        "Polygon",
        "{}",
        r.text()
    );

    // Outside the officer's communes: 403; a read-only layer: 405.
    let other = id_of(&db, 4).await;
    let r = send(
        &app,
        Method::GET,
        &format!("/collections/parcels/items/{other}"),
        Some(&officer),
        &[],
        None,
    )
    .await;
    let r = write(
        &app,
        Method::PATCH,
        &format!("/collections/parcels/items/{other}"),
        &officer,
        Some(r.etag().as_str()),
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("25210"));
    let r = send(
        &app,
        Method::PATCH,
        "/collections/communes/items/1",
        Some(&officer),
        &[patch_ct],
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);

    // The history: the imported state, then the edit, lifespans end to end.
    let h = send(
        &app,
        Method::GET,
        &format!("{uri}/versions"),
        Some(&officer),
        &[],
        None,
    )
    .await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.text());
    let versions = h.json()["features"].as_array().cloned().unwrap_or_default();
    assert_eq!(versions.len(), 2, "{}", h.text());
    assert_eq!(versions[0]["version"]["action"], "import");
    assert_eq!(versions[0]["properties"]["land_use_code"], "ONT");
    assert_eq!(versions[1]["version"]["action"], "update");
    assert_eq!(versions[1]["version"]["reason"], "Sửa mã loại đất");
    assert_eq!(versions[1]["version"]["document"], "Quyết định 12/QĐ-UBND");
    assert_eq!(versions[1]["version"]["editor"], "can_bo_dia_chinh");
    assert_eq!(
        versions[0]["version"]["end_lifespan"],
        versions[1]["version"]["begin_lifespan"]
    );
    assert!(versions[1]["version"]["end_lifespan"].is_null());
    // Personal data stays restricted in history.
    assert!(versions[0]["properties"]["owner_name"].is_string());
    let public = send(
        &app,
        Method::GET,
        &format!("{uri}/versions"),
        None,
        &[],
        None,
    )
    .await;
    assert!(!public.text().contains("Chủ 1"), "{}", public.text());
}

#[tokio::test]
async fn a_write_drops_the_stale_tiles_before_it_answers() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let id = id_of(&db, 1).await;
    let uri = format!("/collections/parcels/items/{id}");
    let t = gis_core::tile::TileCoord::containing(106.8831, 11.5351, 18).expect("tile");
    let tile = format!("/tiles/parcels/18/{}/{}.mvt", t.x, t.y);
    let first = send(&app, Method::GET, &tile, None, &[], None).await;
    assert_eq!(first.status, StatusCode::OK);
    // Served from the cache now.
    assert_eq!(
        send(&app, Method::GET, &tile, None, &[], None).await.body,
        first.body
    );
    let tag = send(&app, Method::GET, &uri, Some(&officer), &[], None)
        .await
        .etag();
    let r = write(
        &app,
        Method::PATCH,
        &uri,
        &officer,
        Some(tag.as_str()), // A smaller square inside the old one.
        Some(json!({"geometry": square(106.88302, 11.53502, 0.0001)})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let after = send(&app, Method::GET, &tile, None, &[], None).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_ne!(
        after.body, first.body,
        "the tile after the write is the old one"
    );
}

#[tokio::test]
async fn delete_ends_the_lifespan_and_numbers_are_never_given_again() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let id = id_of(&db, 3).await;
    let uri = format!("/collections/parcels/items/{id}");
    let tag = send(&app, Method::GET, &uri, Some(&officer), &[], None)
        .await
        .etag();
    let r = write(
        &app,
        Method::DELETE,
        &uri,
        &officer,
        Some(tag.as_str()),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(
        send(&app, Method::GET, &uri, Some(&officer), &[], None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let h = send(
        &app,
        Method::GET,
        &format!("{uri}/versions"),
        Some(&officer),
        &[],
        None,
    )
    .await;
    let versions = h.json()["features"].as_array().cloned().unwrap_or_default();
    assert_eq!(versions.len(), 2, "{}", h.text());
    assert_eq!(versions[1]["version"]["action"], "delete");
    assert!(
        versions[1]["version"]["end_lifespan"].is_string(),
        "the lifespan ended"
    );

    // The deleted parcel's number: refused; the next number: created where it was.
    let create = |number: i64| {
        json!({"type": "Feature",
               "properties": {"commune_code": "25195", "sheet_number": 1, "parcel_number": number, "land_use_code": "ONT"},
               "geometry": square(106.8834, 11.535, 0.00018)})
    };
    let r = write(
        &app,
        Method::POST,
        "/collections/parcels/items",
        &officer,
        None,
        Some(create(3)),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("never given again"), "{}", r.text());
    // Another commune than the officer's: 403.
    let mut elsewhere = create(9);
    elsewhere["properties"]["commune_code"] = json!("25210");
    let r = write(
        &app,
        Method::POST,
        "/collections/parcels/items",
        &officer,
        None,
        Some(elsewhere),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = write(
        &app,
        Method::POST,
        "/collections/parcels/items",
        &officer,
        None,
        Some(create(5)),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let location = r.headers[header::LOCATION]
        .to_str()
        .expect("location")
        .to_string();
    let path = location
        .split_once("/collections")
        .map(|(_, p)| format!("/collections{p}"))
        .expect("path");
    let got = send(&app, Method::GET, &path, Some(&officer), &[], None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.json()["properties"]["parcel_number"], 5);
    assert_eq!(got.etag(), r.etag());
    // Its area is the table's own, measured in the TM-3 zone (about 19.6 m × 19.5 m).
    let area: f64 = sqlx::query_scalar("SELECT area_m2 FROM land.parcels WHERE parcel_number = 5")
        .fetch_one(&db.pool)
        .await
        .expect("area");
    assert!((300.0..450.0).contains(&area), "area {area}");
}

#[tokio::test]
async fn of_concurrent_writers_holding_the_same_tag_exactly_one_wins() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let id = id_of(&db, 2).await;
    let uri = format!("/collections/parcels/items/{id}");
    let tag = send(&app, Method::GET, &uri, Some(&officer), &[], None)
        .await
        .etag();
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..10 {
        let (app, uri, tag, officer) = (app.clone(), uri.clone(), tag.clone(), officer.clone());
        writes.spawn(async move {
            write(
                &app,
                Method::PATCH,
                &uri,
                &officer,
                Some(tag.as_str()),
                Some(json!({"properties": {"place_name": format!("Xứ đồng {i}")}})),
            )
            .await
            .status
        });
    }
    let statuses: Vec<StatusCode> = writes.join_all().await;
    let won = statuses
        .iter()
        .filter(|s| **s == StatusCode::NO_CONTENT)
        .count();
    let lost = statuses
        .iter()
        .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
        .count();
    assert_eq!((won, lost), (1, 9), "{statuses:?}");
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM land.parcel_versions WHERE parcel_id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .expect("count");
    assert_eq!(n, 2, "the imported state and the one write that won");
}

/// A delivery of parcels with new identities over parcels 1 and 2, another beside them, and
/// parcel 3 again (moved a little: it replaces itself, so no finding for it).
fn write_overlay(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let features: Vec<Value> = [
        (101, 106.88306, 11.535),  // over parcels 1 and 2
        (102, 106.8838, 11.535),   // east of parcel 3, over nothing
        (3, 106.88341, 11.535),    // parcel 3 again
        (103, 106.88205, 11.5352), // over nothing
    ]
    .iter()
    .map(|(n, lon, lat)| {
        json!({"type": "Feature",
               "properties": {"MAXA": "25195", "SHBANDO": 1, "SHTHUA": n, "MALOAIDAT": "ONT"},
               "geometry": square(*lon, *lat, 0.00018)})
    })
    .collect();
    let path = dir.join(name);
    std::fs::write(
        &path,
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
    .expect("write");
    path
}

#[tokio::test]
async fn an_upsert_over_parcels_it_does_not_replace_is_reported_or_rejected() {
    let (db, _app, _issuer, dir) = Parcels::new().await.parts();
    let count = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM land.parcels")
                .fetch_one(&pool)
                .await
                .expect("count")
        }
    };
    // Rejected: the parcel over 1 and 2 stays out, the others come in.
    let opts = importers::pipeline::ImportOptions {
        invalid: gis_core::bulk::InvalidPolicy::Reject,
        ..importers::pipeline::ImportOptions::new("parcels")
    };
    let path = write_overlay(dir.path(), "overlay.geojson");
    let s = importers::pipeline::import(&db.pool, &path, &opts)
        .await
        .expect("import");
    let finding = s
        .findings
        .iter()
        .find(|f| f.contains("already in the layer"))
        .unwrap_or_else(|| panic!("no overlap with the live parcels: {:?}", s.findings));
    assert!(
        finding.starts_with("1 delivered parcels") && finding.contains("25195/1/101 × 25195/1/1"),
        "{finding}"
    );
    assert!(finding.contains("rejected"), "{finding}");
    assert_eq!(s.rejected, 1, "{s:?}");
    assert_eq!(count(&db).await, 4 + 2, "102 and 103 added, 3 replaced");
    let in_layer: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM land.parcels WHERE commune_code = '25195' AND parcel_number = 101",
    )
    .fetch_one(&db.pool)
    .await
    .expect("count");
    assert_eq!(in_layer, 0);

    // Reported (the default, repair): imported, with the finding.
    let s = tests::import(&db.pool, &path, "parcels")
        .await
        .expect("import");
    assert!(
        s.findings
            .iter()
            .any(|f| f.contains("already in the layer") && f.contains("25195/1/2")),
        "{:?}",
        s.findings
    );
    assert_eq!(count(&db).await, 7);
    // Parcel 3, moved by its own redelivery, is never compared with its old self.
    assert!(
        s.findings.iter().all(|f| !f.contains("25195/1/3 ×")),
        "{:?}",
        s.findings
    );
}

#[tokio::test]
async fn fifty_editors_on_ten_parcels_lose_no_update_and_leave_no_gap_in_history() {
    let features: Vec<Value> = (0..10)
        .map(|i| {
            json!({"type": "Feature",
                   "properties": {"MAXA": "25195", "SHBANDO": 2, "SHTHUA": i + 1, "MALOAIDAT": "ONT"},
                   "geometry": square(106.883 + f64::from(i) * 0.0003, 11.535, 0.00018)})
        })
        .collect();
    let (db, app, issuer, _dir) = Parcels::with(features).await.parts();
    let officer = officer(&issuer);
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM land.parcels ORDER BY parcel_number")
        .fetch_all(&db.pool)
        .await
        .expect("ids");
    assert_eq!(ids.len(), 10);

    // 50 editors, 5 on each parcel, each reading the tag and writing its own value, 3 times.
    let mut editors = tokio::task::JoinSet::new();
    for e in 0..50 {
        let (app, officer) = (app.clone(), officer.clone());
        let id = ids[e % 10];
        editors.spawn(async move {
            let uri = format!("/collections/parcels/items/{id}");
            let mut answers = Vec::new();
            for round in 0..3 {
                let tag = send(&app, Method::GET, &uri, Some(&officer), &[], None)
                    .await
                    .etag();
                let value = format!("editor {e} round {round}");
                let r = write(
                    &app,
                    Method::PATCH,
                    &uri,
                    &officer,
                    Some(tag.as_str()),
                    Some(json!({"properties": {"place_name": value}})),
                )
                .await;
                answers.push((id, r.status, value));
            }
            answers
        });
    }
    let answers: Vec<(i64, StatusCode, String)> =
        editors.join_all().await.into_iter().flatten().collect();
    for (_, status, _) in &answers {
        assert!(
            *status == StatusCode::NO_CONTENT || *status == StatusCode::PRECONDITION_FAILED,
            "every write is applied or refused as stale: {status}"
        );
    }
    for id in ids {
        let applied = answers
            .iter()
            .filter(|(i, s, _)| *i == id && *s == StatusCode::NO_CONTENT)
            .count();
        assert!(applied >= 1, "parcel {id}: no write applied");
        let versions: Vec<(i32, String, Option<String>, Value)> = sqlx::query_as(
            "SELECT version, action, end_lifespan::text, attributes FROM land.parcel_versions
             WHERE parcel_id = $1 ORDER BY version",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .expect("versions");
        // The imported state, then exactly one version per applied write, numbered 1..n.
        assert_eq!(versions.len(), applied + 1, "parcel {id}");
        for (i, v) in versions.iter().enumerate() {
            assert_eq!(
                v.0,
                i as i32 + 1,
                "parcel {id}: a gap in the version numbers"
            );
        }
        let applied_values: Vec<&str> = answers
            .iter()
            .filter(|(i, s, _)| *i == id && *s == StatusCode::NO_CONTENT)
            .map(|(_, _, v)| v.as_str())
            .collect();
        for v in &versions[1..] {
            let value = v.3["place_name"].as_str().unwrap_or("");
            assert!(
                applied_values.contains(&value),
                "parcel {id}: a version no one was told was applied: {value}"
            );
        }
        // Lifespans end to end: only the last is open; the parcel is its last version.
        assert!(versions[..versions.len() - 1].iter().all(|v| v.2.is_some()));
        let last = versions.last().expect("last");
        assert!(last.2.is_none());
        let now: Option<String> =
            sqlx::query_scalar("SELECT place_name FROM land.parcels WHERE id = $1")
                .bind(id)
                .fetch_one(&db.pool)
                .await
                .expect("parcel");
        assert_eq!(now.as_deref(), last.3["place_name"].as_str(), "parcel {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_edits_of_neighbours_never_leave_an_overlap() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let (a, b) = (id_of(&db, 1).await, id_of(&db, 2).await);
    let patch = |id: i64, body: Value| {
        let (app, officer) = (app.clone(), officer.clone());
        async move {
            let uri = format!("/collections/parcels/items/{id}");
            let tag = send(&app, Method::GET, &uri, Some(&officer), &[], None)
                .await
                .etag();
            write(
                &app,
                Method::PATCH,
                &uri,
                &officer,
                Some(tag.as_str()),
                Some(body),
            )
            .await
        }
    };
    // A first edit of each, so both have a living version row.
    for id in [a, b] {
        let r = patch(id, json!({"properties": {"place_name": "Xứ đồng"}})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    }
    // Parcel 1 grows east and parcel 2 west into the 0.00002° gap between them: either alone
    // is fine, both together overlap by about 20 m².
    let mut grown_a = square(106.883, 11.535, 0.00018);
    for i in [1, 2] {
        grown_a["coordinates"][0][i][0] = json!(106.883 + 0.00018 + 0.000015);
    }
    let mut grown_b = square(106.8832, 11.535, 0.00018);
    for i in [0, 3, 4] {
        grown_b["coordinates"][0][i][0] = json!(106.8832 - 0.000015);
    }
    // Make the two edits overlap in time for certain: hold the parcels' living version rows,
    // which an edit updates after its rules passed and before it commits, and release them
    // once both edits are waiting (the second may wait earlier, on the first one's lock of the
    // parcels' overview refresh; either way neither may commit an overlap — SERIALIZABLE
    // edits are the guarantee that does not depend on that trigger).
    let mut hold = db.pool.begin().await.expect("begin");
    sqlx::query(
        "SELECT 1 FROM land.parcel_versions WHERE parcel_id = ANY($1) AND end_lifespan IS NULL FOR UPDATE",
    )
    .bind(vec![a, b])
    .execute(&mut *hold)
    .await
    .expect("hold");
    let first = tokio::spawn(patch(a, json!({"geometry": grown_a})));
    let second = tokio::spawn(patch(b, json!({"geometry": grown_b})));
    let mut waiting = 0i64;
    for _ in 0..100 {
        waiting = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
             AND datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_one(&db.pool)
        .await
        .expect("activity");
        if waiting == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        waiting, 2,
        "both edits are waiting inside their transactions"
    );
    hold.commit().await.expect("release");
    let statuses = [
        first.await.expect("first").status,
        second.await.expect("second").status,
    ];
    let applied = statuses
        .iter()
        .filter(|s| **s == StatusCode::NO_CONTENT)
        .count();
    assert_eq!(applied, 1, "{statuses:?}");
    assert!(
        statuses.contains(&StatusCode::UNPROCESSABLE_ENTITY),
        "the other is refused by the overlap rule: {statuses:?}"
    );
    let overlap: f64 = sqlx::query_scalar(
        "SELECT ST_Area(ST_Intersection(x.geom, ST_Transform(y.geom, ST_SRID(x.geom))))
         FROM land.parcels x, land.parcels y WHERE x.id = $1 AND y.id = $2",
    )
    .bind(a)
    .bind(b)
    .fetch_one(&db.pool)
    .await
    .expect("overlap");
    assert!(overlap <= 1.0, "{overlap} m² of overlap committed");
}

/// Issue 11: the writes are in the OpenAPI document (so schemathesis calls them), with their
/// bodies, headers and refusals, only on the layers that take writes; an anonymous write is a
/// 401 problem.
#[tokio::test]
async fn the_writes_are_described_in_openapi_with_their_headers_and_refusals() {
    let (db, app, _issuer, _dir) = Parcels::new().await.parts();
    let doc = send(&app, Method::GET, "/api", None, &[], None)
        .await
        .json();
    let paths = &doc["paths"];
    let items = &paths["/collections/parcels/items"];
    assert!(items["get"].is_object(), "the read stays: {items}");
    let create = &items["post"];
    assert_eq!(create["security"][0]["bearer"], json!([]));
    assert!(create["requestBody"]["content"]["application/geo+json"]["schema"].is_object());
    assert!(create["responses"]["201"]["headers"]["Location"].is_object());
    let one = &paths["/collections/parcels/items/{featureId}"];
    for (method, ok) in [("put", "204"), ("patch", "204"), ("delete", "204")] {
        let op = &one[method];
        let params = op["parameters"].as_array().expect("parameters");
        let named = |n: &str| params.iter().find(|p| p["name"] == n).cloned();
        assert_eq!(named("If-Match").expect("If-Match")["required"], true);
        assert_eq!(named("If-Match").expect("If-Match")["in"], "header");
        assert!(named("Edit-Reason").is_some() && named("Edit-Document").is_some());
        for status in [ok, "401", "403", "404", "412", "422", "428"] {
            assert!(op["responses"][status].is_object(), "{method} {status}");
        }
    }
    assert!(one["patch"]["requestBody"]["content"]["application/merge-patch+json"].is_object());
    assert!(paths["/collections/parcels/items/{featureId}/versions"]["get"].is_object());
    assert!(paths["/land/parcels/{featureId}/split"]["post"]["responses"]["201"].is_object());
    assert!(paths["/land/parcels/merge"]["post"]["requestBody"].is_object());
    assert!(paths["/land/parcels/{featureId}/lineage"]["get"].is_object());
    // Read-only layers take no writes.
    assert!(paths["/collections/communes/items"]["get"].is_object());
    assert!(paths["/collections/communes/items"]["post"].is_null());
    // Part 4's classes: in /conformance and in the document.
    let classes = send(&app, Method::GET, "/conformance", None, &[], None)
        .await
        .json();
    for class in tile_server::routes::edit::CONFORMANCE {
        assert!(classes["conformsTo"]
            .as_array()
            .expect("classes")
            .contains(&json!(class)));
        assert!(doc["x-conformsTo"]
            .as_array()
            .expect("x-conformsTo")
            .contains(&json!(class)));
    }
    // Anonymous: 401 problems with the challenge, whatever the body.
    let id = id_of(&db, 1).await;
    for (method, uri, body) in [
        (
            Method::POST,
            "/collections/parcels/items".to_string(),
            json!({"x": 1}),
        ),
        (
            Method::PATCH,
            format!("/collections/parcels/items/{id}"),
            json!([]),
        ),
        (
            Method::POST,
            "/land/parcels/merge".to_string(),
            json!({"ids": "x"}),
        ),
        (
            Method::POST,
            format!("/land/parcels/{id}/split"),
            json!(null),
        ),
    ] {
        let r = send(&app, method.clone(), &uri, None, &[], Some(body)).await;
        tests::assert_problem_json(
            r.status.as_u16(),
            401,
            &r.header(header::CONTENT_TYPE),
            &r.body,
        );
        assert_eq!(
            r.header(header::WWW_AUTHENTICATE),
            "Bearer",
            "{method} {uri}"
        );
    }
}

/// Issue 11: a parcel never edited since its delivery has one version, its delivered state
/// (`import`, living) — the same first version its history keeps once it is edited.
#[tokio::test]
async fn a_parcel_never_edited_has_its_delivered_state_as_its_only_version() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let id = id_of(&db, 2).await;
    let uri = format!("/collections/parcels/items/{id}");
    let versions = |token: Option<String>| {
        let (app, uri) = (app.clone(), uri.clone());
        async move {
            let r = send(
                &app,
                Method::GET,
                &format!("{uri}/versions"),
                token.as_deref(),
                &[],
                None,
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            r.json()["features"].as_array().cloned().unwrap_or_default()
        }
    };
    let before = versions(Some(officer.clone())).await;
    assert_eq!(before.len(), 1, "{before:?}");
    let v = &before[0]["version"];
    assert_eq!(v["version"], 1);
    assert_eq!(v["action"], "import");
    assert!(v["end_lifespan"].is_null());
    assert_eq!(before[0]["properties"]["parcel_number"], 2);
    assert_eq!(before[0]["properties"]["owner_name"], "Chủ 2");
    assert_eq!(before[0]["geometry"]["type"], "MultiPolygon");
    // Restricted properties stay restricted here too.
    let public = versions(None).await;
    assert_eq!(public.len(), 1);
    assert!(
        public[0]["properties"]["owner_name"].is_null(),
        "{public:?}"
    );

    let tag = send(&app, Method::GET, &uri, Some(&officer), &[], None)
        .await
        .etag();
    let r = write(
        &app,
        Method::PATCH,
        &uri,
        &officer,
        Some(tag.as_str()),
        Some(json!({"properties": {"land_use_code": "CLN"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let after = versions(Some(officer.clone())).await;
    assert_eq!(after.len(), 2);
    // Version 1 is the one answered before, now with an end.
    let mut first = after[0].clone();
    assert!(first["version"]["end_lifespan"].is_string());
    first["version"]["end_lifespan"] = Value::Null;
    assert_eq!(first, before[0]);
    // No parcel ever had this id: 404.
    let r = send(
        &app,
        Method::GET,
        "/collections/parcels/items/987654/versions",
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Issue 11: the overlap tolerance is the configured one (`[land] overlap_tolerance_m2`): parcel
/// 2 widened west over parcel 1 by a 0.15 m strip (about 3 m²) is refused under the default
/// 1 m² and saved under 5 m² (200: its corners lying on parcel 1's south and north edges are
/// inserted there, which the answer lists).
#[tokio::test]
async fn the_overlap_tolerance_is_the_configured_one() {
    let five = land::edit::Tolerances::new(5.0, 0.05).expect("tolerances");
    for (tolerances, want) in [
        (None, StatusCode::UNPROCESSABLE_ENTITY),
        (Some(five), StatusCode::OK),
    ] {
        let features: Vec<Value> = (0..2)
            .map(|i| {
                json!({"type": "Feature",
                       "properties": {"MAXA": "25195", "SHBANDO": 1, "SHTHUA": i + 1, "MALOAIDAT": "ONT"},
                       "geometry": square(106.883 + f64::from(i) * 0.0002, 11.535, 0.00018)})
            })
            .collect();
        let (db, app, issuer, _dir) = Parcels::checked(features, tolerances).await.parts();
        let officer = officer(&issuer);
        let id = id_of(&db, 2).await;
        let uri = format!("/collections/parcels/items/{id}");
        let tag = send(&app, Method::GET, &uri, Some(&officer), &[], None)
            .await
            .etag();
        let west = 106.88318 - 0.0000014;
        let r = write(&app, Method::PATCH, &uri, &officer, Some(tag.as_str()), Some(json!({"geometry": {"type": "Polygon", "coordinates": [[[west, 11.535], [106.88338, 11.535],
                [106.88338, 11.53518], [west, 11.53518], [west, 11.535]]]}})))
        .await;
        assert_eq!(r.status, want, "{tolerances:?}: {}", r.text());
        if want == StatusCode::UNPROCESSABLE_ENTITY {
            let detail = r.json()["detail"].as_str().unwrap_or("").to_string();
            assert!(detail.contains("at most 1 m²"), "{detail}");
        } else {
            // The overlap is there, between the two tolerances.
            let area: f64 = sqlx::query_scalar(
                "SELECT ST_Area(ST_Intersection(a.geom, b.geom)) FROM land.parcels a, land.parcels b
                 WHERE a.parcel_number = 1 AND b.parcel_number = 2",
            )
            .fetch_one(&db.pool)
            .await
            .expect("overlap");
            assert!(area > 1.0 && area < 5.0, "{area}");
            assert_eq!(
                r.json()["neighbours"][0]["parcel_number"],
                json!(1),
                "{}",
                r.text()
            );
        }
    }
}

/// Issue 11: the import's overlap checks — within the delivery (in memory for a delivery in
/// its TM-3 zone, in PostGIS for one in CRS84) and, on an upsert, against the live parcels it
/// keeps — use the configured tolerance (`[land] overlap_tolerance_m2`, handed to the owner's
/// checks through `ImportContext`), not a fixed 1 m²: parcels overlapping by a 0.15 m strip
/// (about 3 m²) are findings under the default and none under 5 m².
#[tokio::test]
async fn the_import_checks_overlaps_under_the_configured_tolerance() {
    let strip = 0.0000014;
    // 102 east of parcel 3 over nothing, 104 over 102's east side, 105 over parcel 3's.
    let squares = [
        (102, 106.8838),
        (104, 106.8838 + 0.00018 - strip),
        (105, 106.88358 - strip),
    ];
    for srid in [4326, 9212] {
        let (db, _app, _issuer, dir) = Parcels::new().await.parts();
        let mut features = Vec::new();
        for (n, lon) in squares {
            let geometry = if srid == 4326 {
                square(lon, 11.535, 0.00018)
            } else {
                let text: String = sqlx::query_scalar(
                    "SELECT ST_AsGeoJSON(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON($1), 4326), 9212), 6)",
                )
                .bind(square(lon, 11.535, 0.00018).to_string())
                .fetch_one(&db.pool)
                .await
                .expect("transform");
                serde_json::from_str(&text).expect("json")
            };
            features.push(json!({"type": "Feature", "geometry": geometry,
                "properties": {"MAXA": "25195", "SHBANDO": 1, "SHTHUA": n + srid, "MALOAIDAT": "ONT"}}));
        }
        let path = dir.path().join(format!("strips-{srid}.geojson"));
        std::fs::write(
            &path,
            json!({"type": "FeatureCollection", "features": features}).to_string(),
        )
        .expect("write");
        for (tolerance, reported) in [(Some(5.0), false), (None, true)] {
            let opts = importers::pipeline::ImportOptions {
                srs: (srid != 4326).then_some(9212),
                overlap_tolerance_m2: tolerance,
                ..importers::pipeline::ImportOptions::new("parcels")
            };
            let s = importers::pipeline::import(&db.pool, &path, &opts)
                .await
                .expect("import");
            assert_eq!(s.rejected, 0, "{s:?}");
            let within = s
                .findings
                .iter()
                .find(|f| f.contains("pairs of parcels overlap"));
            let live = s
                .findings
                .iter()
                .find(|f| f.contains("already in the layer"));
            if reported {
                let within = within.unwrap_or_else(|| panic!("{srid}: {:?}", s.findings));
                assert!(
                    within.starts_with("1 pairs") && within.contains("more than 1 m²"),
                    "{srid}: {within}"
                );
                let live = live.unwrap_or_else(|| panic!("{srid}: {:?}", s.findings));
                assert!(
                    live.contains("25195/1/3 (") && live.contains("more than 1 m²"),
                    "{srid}: {live}"
                );
            } else {
                assert!(
                    within.is_none() && live.is_none(),
                    "{srid}, 5 m²: {:?}",
                    s.findings
                );
            }
        }
    }
}

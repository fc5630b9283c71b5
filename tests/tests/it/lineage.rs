//! Split, merge, lineage and time travel of parcels (issue 11, second part), on the parcels of
//! `tests::fixtures::Parcels::new` (parcels 1–3 of commune 25195 in a row on sheet 1, 2.2 m apart; parcel 4 of
//! 25210): children get the next free numbers, areas add up, stale tags change nothing,
//! only adjacent parcels merge, the lineage reads both ways, `datetime` answers the past.

use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::{json, Value};

use tests::fixtures::{officer, parcels, square, tag, write, Parcels, DOCUMENT};
use tests::http::{send, Reply};
use tests::TestDb;

const WHY: [(&str, &str); 2] = [("edit-reason", "Tach%20thua"), ("edit-document", DOCUMENT)];
const JSON: (&str, &str) = ("content-type", "application/json");

async fn id_in(db: &TestDb, commune: &str, number: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT id FROM land.parcels WHERE commune_code = $1 AND sheet_number = 1 AND parcel_number = $2",
    )
    .bind(commune)
    .bind(number)
    .fetch_one(&db.pool)
    .await
    .expect("parcel")
}

async fn area(db: &TestDb, id: i64) -> f64 {
    sqlx::query_scalar("SELECT area_m2 FROM land.parcels WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("area")
}

/// Everything an operation could change: the living parcels, the history, the lineage.
async fn state_of(db: &TestDb) -> String {
    sqlx::query_scalar(
        "SELECT (SELECT string_agg(p::text, '|' ORDER BY id) FROM land.parcels p)
             || (SELECT count(*) FROM land.parcel_versions)::text
             || (SELECT count(*) FROM land.parcel_lineage)::text
             || (SELECT count(*) FROM land.retired_parcel_numbers)::text",
    )
    .fetch_one(&db.pool)
    .await
    .expect("state")
}

/// A north–south line at `lon` across the parcels' row (latitudes 11.535–11.53518).
fn cut(lon: f64) -> Value {
    json!({"type": "LineString", "coordinates": [[lon, 11.5349], [lon, 11.5353]]})
}

async fn split(app: &Router, token: &str, id: i64, tag: &str, line: Value, query: &str) -> Reply {
    write(
        app,
        Method::POST,
        &format!("/land/parcels/{id}/split{query}"),
        token,
        Some(tag),
        Some(json!({"line": line})),
    )
    .await
}

async fn merge(app: &Router, token: &str, body: Value, headers: &[(&str, &str)]) -> Reply {
    let mut all = vec![JSON, WHY[0], WHY[1]];
    all.extend_from_slice(headers);
    send(
        app,
        Method::POST,
        "/land/parcels/merge",
        Some(token),
        &all,
        Some(body),
    )
    .await
}

fn children(r: &Reply) -> Vec<Value> {
    r.json()["children"].as_array().cloned().unwrap_or_default()
}

fn lineage_of(r: &Reply) -> Vec<(i64, String, i64)> {
    r.json()["features"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|f| {
            (
                f["id"].as_i64().unwrap_or(-1),
                f["properties"]["relation"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                f["properties"]["depth"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_split_gives_the_next_free_numbers_and_its_parts_add_up() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    // Parcel 3 is deleted first: its number is retired, so the children start at 4 although
    // the highest living number is 2 (and parcel 4 of the other commune does not count).
    let three = id_in(&db, "25195", 3).await;
    let t = tag(&app, &officer, three).await;
    let r = write(
        &app,
        Method::DELETE,
        &format!("/collections/parcels/items/{three}"),
        &officer,
        Some(t.as_str()),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());

    let one = id_in(&db, "25195", 1).await;
    let parent_area = area(&db, one).await;
    let t = tag(&app, &officer, one).await;
    let before = state_of(&db).await;

    // Refused, leaving everything as it was: no tag (428), a line ending inside the parcel,
    // a line beside it, a point, a stale tag (412), another commune's parcel (403).
    let r = write(
        &app,
        Method::POST,
        &format!("/land/parcels/{one}/split"),
        &officer,
        None,
        Some(json!({"line": cut(106.88309)})),
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_REQUIRED, "{}", r.text());
    let half =
        json!({"type": "LineString", "coordinates": [[106.88309, 11.5349], [106.88309, 11.53509]]});
    for (line, why) in [
        (half, "does not cut"),
        (cut(106.8829), "does not cut"),
        (
            json!({"type": "Point", "coordinates": [106.88309, 11.5351]}),
            "LineString",
        ),
        (
            json!({"type": "LineString", "coordinates": "across"}),
            "cutting line",
        ),
        (
            json!({"type": "LineString", "coordinates": [[1e12, 1e12], [2e12, 2e12]]}),
            "cut",
        ),
        // 4 cm from the edge: a sliver.
        (cut(106.88300037), "sliver"),
    ] {
        let r = split(&app, &officer, one, &t, line.clone(), "").await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{line}: {}",
            r.text()
        );
        assert!(r.text().contains(why), "{line}: {}", r.text());
        assert_eq!(state_of(&db).await, before, "{line} changed something");
    }
    let r = split(&app, &officer, one, "\"stale\"", cut(106.88309), "").await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.text());
    assert_eq!(r.etag(), t);
    assert_eq!(state_of(&db).await, before);
    let four = id_in(&db, "25210", 4).await;
    let t4 = tag(&app, &officer, four).await;
    let r = split(&app, &officer, four, &t4, cut(106.88369), "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert_eq!(state_of(&db).await, before);

    // The split: two children numbered 4 and 5, areas adding up to the parent's.
    let r = split(&app, &officer, one, &t, cut(106.88309), "").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert!(r.headers.contains_key("location"));
    let kids = children(&r);
    assert_eq!(kids.len(), 2, "{}", r.text());
    let numbers: Vec<i64> = kids
        .iter()
        .map(|c| c["parcel_number"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(numbers, vec![4, 5]);
    let mut sum = 0.0;
    for c in &kids {
        let id = c["id"].as_i64().expect("id");
        let a = area(&db, id).await;
        assert!(
            (a - c["area_m2"].as_f64().unwrap_or(0.0)).abs() < 1e-6,
            "{c}"
        );
        assert!(a > 150.0, "about half the parent: {a}");
        sum += a;
        // The answered tag is the child's.
        assert_eq!(
            tag(&app, &officer, id).await,
            c["etag"].as_str().unwrap_or("")
        );
        // Children inherit the land use and the owner, not the certificate.
        let got = send(
            &app,
            Method::GET,
            &format!("/collections/parcels/items/{id}"),
            Some(&officer),
            &[],
            None,
        )
        .await
        .json();
        assert_eq!(got["properties"]["land_use_code"], "ONT");
        assert_eq!(got["properties"]["owner_name"], "Chủ 1");
    }
    assert!(
        (sum - parent_area).abs() <= 0.1,
        "children {sum} m², parent {parent_area} m²"
    );
    // The parent lives no more; its history ends with the split.
    let gone = send(
        &app,
        Method::GET,
        &format!("/collections/parcels/items/{one}"),
        Some(&officer),
        &[],
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let h = send(
        &app,
        Method::GET,
        &format!("/collections/parcels/items/{one}/versions"),
        Some(&officer),
        &[],
        None,
    )
    .await;
    let versions = h.json()["features"].as_array().cloned().unwrap_or_default();
    let last = versions.last().cloned().unwrap_or(Value::Null);
    assert_eq!(last["version"]["action"], "split", "{}", h.text());
    assert!(last["version"]["end_lifespan"].is_string());

    // A child split again with a line given in VN-2000 TM-3 (EPSG:9212): numbers 6 and 7,
    // never 1 or 3 again.
    let five = kids[1]["id"].as_i64().expect("id");
    let line_tm3: Value = sqlx::query_scalar(
        "SELECT ST_AsGeoJSON(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON($1), 4326), 9212), 4)::json",
    )
    .bind(json!({"type": "LineString", "coordinates": [[106.8829, 11.53509], [106.8834, 11.53509]]}).to_string())
    .fetch_one(&db.pool)
    .await
    .expect("line in TM-3");
    let t5 = kids[1]["etag"].as_str().unwrap_or("").to_string();
    let r = split(&app, &officer, five, &t5, line_tm3, "?crs=EPSG:9212").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let numbers: Vec<i64> = children(&r)
        .iter()
        .map(|c| c["parcel_number"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(numbers, vec![6, 7]);
}

#[tokio::test]
async fn only_adjacent_parcels_of_one_sheet_merge_and_the_lineage_reads_both_ways() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let admin = issuer.issue("quan_tri").expect("token");
    let one = id_in(&db, "25195", 1).await;
    let parent_area = area(&db, one).await;
    let t = tag(&app, &officer, one).await;
    let r = split(&app, &officer, one, &t, cut(106.88309), "").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let kids = children(&r);
    let (a, b) = (
        kids[0]["id"].as_i64().expect("id"),
        kids[1]["id"].as_i64().expect("id"),
    );
    let (ta, tb) = (
        kids[0]["etag"].as_str().unwrap_or("").to_string(),
        kids[1]["etag"].as_str().unwrap_or("").to_string(),
    );

    // Parcels 2 and 3 lie 2 m apart: not adjacent. A parcel touching 2 at a corner only: not
    // adjacent either. Parcel 4 is of another commune (and outside the officer's: 403).
    let two = id_in(&db, "25195", 2).await;
    let three = id_in(&db, "25195", 3).await;
    let four = id_in(&db, "25210", 4).await;
    let corner = write(&app, Method::POST, "/collections/parcels/items", &officer, None, Some(json!({"type": "Feature",
            "properties": {"commune_code": "25195", "sheet_number": 1, "parcel_number": 20, "land_use_code": "ONT"},
            "geometry": square(106.88338, 11.53518, 0.00005)})))
    .await;
    assert_eq!(corner.status, StatusCode::CREATED, "{}", corner.text());
    let corner_id = id_in(&db, "25195", 20).await;
    let before = state_of(&db).await;
    let (t2, t3, t4) = (
        tag(&app, &officer, two).await,
        tag(&app, &officer, three).await,
        tag(&app, &admin, four).await,
    );
    let tc = corner.etag();
    for (ids, tags, token, status, why) in [
        (
            vec![two, three],
            vec![&t2, &t3],
            &officer,
            422,
            "not adjacent",
        ),
        (
            vec![two, corner_id],
            vec![&t2, &tc],
            &officer,
            422,
            "not adjacent",
        ),
        (vec![two, four], vec![&t2, &t4], &admin, 422, "one sheet"),
        (vec![two, four], vec![&t2, &t4], &officer, 403, "25210"),
        (vec![a, b], vec![&ta, &t2], &officer, 412, "changed"),
        (vec![a], vec![&ta], &officer, 422, "at least two"),
    ] {
        let map: serde_json::Map<String, Value> = ids
            .iter()
            .zip(&tags)
            .map(|(i, t)| (i.to_string(), json!(t)))
            .collect();
        let r = merge(&app, token, json!({"ids": ids, "if_match": map}), &[]).await;
        assert_eq!(r.status.as_u16(), status, "{ids:?}: {}", r.text());
        assert!(r.text().contains(why), "{ids:?}: {}", r.text());
        assert_eq!(state_of(&db).await, before, "{ids:?} changed something");
    }
    // A parent without a tag: 428.
    let r = merge(
        &app,
        &officer,
        json!({"ids": [a, b], "if_match": {a.to_string(): ta}}),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_REQUIRED, "{}", r.text());

    // The split halves merge back (their tags in one If-Match list): one child, the next
    // number (3 is taken, 4 and 5 were the halves, 20 the corner parcel: 21), the parent's
    // area again.
    let list = format!("{ta}, {tb}");
    let r = merge(
        &app,
        &officer,
        json!({"ids": [a, b]}),
        &[("if-match", &list)],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let merged = children(&r);
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0]["parcel_number"], 21);
    let m = merged[0]["id"].as_i64().expect("id");
    assert!((area(&db, m).await - parent_area).abs() <= 0.1);
    let kind: String = sqlx::query_scalar("SELECT GeometryType(ST_GeometryN(geom, 1)) || ST_NumGeometries(geom) FROM land.parcels WHERE id = $1")
        .bind(m)
        .fetch_one(&db.pool)
        .await
        .expect("kind");
    assert_eq!(kind, "POLYGON1", "one polygon, no seam");

    // Lineage, both ways: from the first parcel down to the merged one, and back up.
    let get = |id: i64, token: Option<String>| {
        let app = app.clone();
        async move {
            send(
                &app,
                Method::GET,
                &format!("/land/parcels/{id}/lineage"),
                token.as_deref(),
                &[],
                None,
            )
            .await
        }
    };
    let down = get(one, Some(officer.clone())).await;
    assert_eq!(down.status, StatusCode::OK, "{}", down.text());
    assert_eq!(
        lineage_of(&down),
        vec![
            (one, "self".into(), 0),
            (a, "descendant".into(), 1),
            (b, "descendant".into(), 1),
            (m, "descendant".into(), 2)
        ],
        "{}",
        down.text()
    );
    let up = get(m, Some(officer.clone())).await;
    assert_eq!(
        lineage_of(&up),
        vec![
            (one, "ancestor".into(), 2),
            (a, "ancestor".into(), 1),
            (b, "ancestor".into(), 1),
            (m, "self".into(), 0)
        ],
        "{}",
        up.text()
    );
    let features = up.json()["features"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(features[0]["properties"]["operation"], "split");
    assert_eq!(features[1]["properties"]["operation"], "merge");
    assert_eq!(features[0]["geometry"]["type"], "MultiPolygon");
    assert_eq!(features[0]["properties"]["living"], false);
    assert_eq!(features[3]["properties"]["living"], true);
    assert_eq!(features[1]["properties"]["children"], json!([m]));
    // Owner names only for the officer of the commune, never for everyone.
    assert!(up.text().contains("Chủ 1"));
    let public = get(m, None).await;
    assert_eq!(public.status, StatusCode::OK);
    assert_eq!(lineage_of(&public).len(), 4);
    assert!(!public.text().contains("Chủ 1"), "{}", public.text());
    assert_eq!(get(999_999, None).await.status, StatusCode::NOT_FOUND);
}

async fn instant(db: &TestDb) -> String {
    sqlx::query_scalar(
        "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    )
    .fetch_one(&db.pool)
    .await
    .expect("now")
}

/// Id → largest longitude of the feature's outline, for every parcel the items answer.
async fn as_of(app: &Router, datetime: &str) -> std::collections::BTreeMap<i64, f64> {
    let r = send(
        app,
        Method::GET,
        &format!("/collections/parcels/items?limit=100&datetime={datetime}"),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{datetime}: {}", r.text());
    let body = r.json();
    assert_eq!(
        body["numberMatched"].as_u64().map(|n| n as usize),
        body["features"].as_array().map(Vec::len),
        "{datetime}"
    );
    body["features"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|f| {
            let lons: Vec<f64> = f["geometry"]["coordinates"][0][0]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|p| p[0].as_f64())
                .collect();
            (
                f["id"].as_i64().unwrap_or(-1),
                lons.into_iter().fold(f64::MIN, f64::max),
            )
        })
        .collect()
}

#[tokio::test]
async fn datetime_answers_the_parcels_as_they_were_at_that_instant() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let (one, two) = (id_in(&db, "25195", 1).await, id_in(&db, "25195", 2).await);
    let before = instant(&db).await;
    // Parcel 2 shrinks (east edge from 106.88338 to 106.88332), parcel 1 is split.
    let t = tag(&app, &officer, two).await;
    let r = write(
        &app,
        Method::PATCH,
        &format!("/collections/parcels/items/{two}"),
        &officer,
        Some(t.as_str()),
        Some(json!({"geometry": square(106.88322, 11.53502, 0.0001)})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let t = tag(&app, &officer, one).await;
    let r = split(&app, &officer, one, &t, cut(106.88309), "").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let kids: Vec<i64> = children(&r)
        .iter()
        .filter_map(|c| c["id"].as_i64())
        .collect();
    let after = instant(&db).await;

    let then = as_of(&app, &before).await;
    assert!(then.contains_key(&one), "the parent existed then: {then:?}");
    assert!(kids.iter().all(|k| !then.contains_key(k)), "{then:?}");
    assert_eq!(then.len(), 4);
    assert!(
        (then[&two] - 106.88338).abs() < 1e-7,
        "parcel 2 as it was: {then:?}"
    );
    let now = as_of(&app, &after).await;
    assert!(!now.contains_key(&one), "{now:?}");
    assert!(kids.iter().all(|k| now.contains_key(k)), "{now:?}");
    assert_eq!(now.len(), 5);
    assert!(
        (now[&two] - 106.88332).abs() < 1e-7,
        "parcel 2 as edited: {now:?}"
    );
    // No such day: 400, not a database error.
    let r = send(
        &app,
        Method::GET,
        "/collections/parcels/items?datetime=2026-02-30",
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    // Before the delivery: nothing. An interval still filters on the last change.
    assert!(as_of(&app, "2000-01-01").await.is_empty());
    assert_eq!(as_of(&app, "2000-01-01/..").await.len(), 5);
}

#[tokio::test]
async fn concurrent_splits_on_one_sheet_never_give_a_number_twice() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let mut splits = tokio::task::JoinSet::new();
    for (number, lon) in [(1, 106.88309), (2, 106.88329), (3, 106.88349)] {
        let id = id_in(&db, "25195", number).await;
        let t = tag(&app, &officer, id).await;
        let (app, officer) = (app.clone(), officer.clone());
        splits.spawn(async move { split(&app, &officer, id, &t, cut(lon), "").await });
    }
    let mut numbers = Vec::new();
    for r in splits.join_all().await {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        numbers.extend(
            children(&r)
                .iter()
                .filter_map(|c| c["parcel_number"].as_i64()),
        );
    }
    numbers.sort_unstable();
    assert_eq!(numbers, vec![4, 5, 6, 7, 8, 9]);
    let living: Vec<i64> = sqlx::query_scalar(
        "SELECT parcel_number FROM land.parcels WHERE commune_code = '25195' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("numbers");
    assert_eq!(living, numbers);
}

#[tokio::test]
async fn a_split_drops_the_stale_tiles_before_it_answers() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let t = gis_core::tile::TileCoord::containing(106.88309, 11.53509, 18).expect("tile");
    let tile = format!("/tiles/parcels/18/{}/{}.mvt", t.x, t.y);
    let first = send(&app, Method::GET, &tile, None, &[], None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        send(&app, Method::GET, &tile, None, &[], None).await.body,
        first.body,
        "served from the cache"
    );
    let one = id_in(&db, "25195", 1).await;
    let tag = tag(&app, &officer, one).await;
    let r = split(&app, &officer, one, &tag, cut(106.88309), "").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let after = send(&app, Method::GET, &tile, None, &[], None).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_ne!(
        after.body, first.body,
        "the tile after the split is the old one"
    );
}

/// Parcels 30 and 31 of sheet 1 created side by side 2.2 cm apart: their ids and tags.
async fn two_centimetres_apart(
    db: &TestDb,
    app: &Router,
    officer: &str,
) -> (Vec<i64>, serde_json::Map<String, Value>) {
    let mut tags = serde_json::Map::new();
    let mut ids = Vec::new();
    // 0.0000002° of longitude here is about 2.2 cm.
    for (number, lon) in [(30, 106.8845), (31, 106.8845 + 0.00018 + 0.0000002)] {
        let r = write(app, Method::POST, "/collections/parcels/items", officer, None, Some(json!({"type": "Feature",
                "properties": {"commune_code": "25195", "sheet_number": 1, "parcel_number": number, "land_use_code": "ONT"},
                "geometry": square(lon, 11.535, 0.00018)})))
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let id = id_in(db, "25195", number).await;
        tags.insert(id.to_string(), json!(r.etag()));
        ids.push(id);
    }
    (ids, tags)
}

/// Issue 11: the snapping tolerance is the configured one (`[land] snap_tolerance_m`): under
/// 1 cm, parcels 2.2 cm apart are not adjacent and do not merge.
#[tokio::test]
async fn under_a_snapping_tolerance_below_their_gap_parcels_do_not_merge() {
    let tight = land::edit::Tolerances::new(1.0, 0.01).expect("tolerances");
    let (db, app, issuer, _dir) = Parcels::checked(parcels(), Some(tight)).await.parts();
    let officer = officer(&issuer);
    let (ids, tags) = two_centimetres_apart(&db, &app, &officer).await;
    let r = merge(&app, &officer, json!({"ids": ids, "if_match": tags}), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("not adjacent"), "{}", r.text());
}

#[tokio::test]
async fn parcels_digitised_two_centimetres_apart_merge_without_a_sliver() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let (ids, tags) = two_centimetres_apart(&db, &app, &officer).await;
    let before = area(&db, ids[0]).await + area(&db, ids[1]).await;
    let r = merge(&app, &officer, json!({"ids": ids, "if_match": tags}), &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let m = children(&r)[0]["id"].as_i64().expect("id");
    let kind: String = sqlx::query_scalar(
        "SELECT GeometryType(ST_GeometryN(geom, 1)) || ST_NumGeometries(geom) FROM land.parcels WHERE id = $1",
    )
    .bind(m)
    .fetch_one(&db.pool)
    .await
    .expect("kind");
    assert_eq!(kind, "POLYGON1", "one polygon, the gap closed");
    let after = area(&db, m).await;
    assert!(
        (after - before).abs() < 1.0,
        "parents {before} m², merged {after} m²"
    );
}

/// Parcels 30 (a square at `lon`) and 31 east of it, sharing its lower half of the boundary
/// and stepping `step` metres away along the upper half (a notch open to the north); their
/// ids and tags.
async fn stepped(
    db: &TestDb,
    app: &Router,
    officer: &str,
    lon: f64,
    first: i64,
    step: f64,
) -> (Vec<i64>, serde_json::Map<String, Value>) {
    let (x0, y0, size) = (lon + 0.00018, 11.535, 0.00018);
    // A metre of longitude here is 1/109,071 of a degree.
    let d = step / 109_071.0;
    let shapes = [
        square(lon, y0, size),
        json!({"type": "Polygon", "coordinates": [[[x0, y0], [x0 + size, y0], [x0 + size, y0 + size],
            [x0 + d, y0 + size], [x0 + d, y0 + size / 2.0], [x0, y0 + size / 2.0], [x0, y0]]]}),
    ];
    let mut ids = Vec::new();
    let mut tags = serde_json::Map::new();
    for (i, geometry) in shapes.into_iter().enumerate() {
        let number = first + i as i64;
        let r = write(app, Method::POST, "/collections/parcels/items", officer, None, Some(json!({"type": "Feature",
                "properties": {"commune_code": "25195", "sheet_number": 1, "parcel_number": number, "land_use_code": "ONT"},
                "geometry": geometry})))
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        ids.push(id_in(db, "25195", number).await);
    }
    // Read after both: 31's vertex on 30's edge went into 30 too, which changed 30's tag.
    for id in &ids {
        tags.insert(id.to_string(), json!(tag(app, officer, *id).await));
    }
    (ids, tags)
}

/// Issue 11: a merge of adjacent parcels that leave a gap narrower than `[land]
/// sliver_width_m` (0.3 m) between them elsewhere is refused with the gap (it would stay a
/// sliver notch in the merged parcel; closing it would change the legal area silently); a
/// wider gap is deliberate and merges.
#[tokio::test]
async fn merge_parents_leaving_a_sliver_gap_between_them_are_refused_with_the_gap() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let (ids, tags) = stepped(&db, &app, &officer, 106.8845, 30, 0.1).await;
    let before = state_of(&db).await;
    let r = merge(&app, &officer, json!({"ids": ids, "if_match": tags}), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let problem = r.json();
    let detail = problem["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains("gap") && detail.contains("narrower than 0.3 m"),
        "{detail}"
    );
    let (gap, width): (f64, f64) = sqlx::query_as(
        "SELECT ST_Area(g), 2 * (ST_MaximumInscribedCircle(g)).radius
         FROM (SELECT ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON($1), 4326), 9212) AS g) x",
    )
    .bind(problem["part"]["geometry"].to_string())
    .fetch_one(&db.pool)
    .await
    .expect("the gap as GeoJSON");
    // 0.1 m × 9.8 m.
    assert!((gap - 0.98).abs() < 0.15, "gap {gap} m²");
    assert!((width - 0.1).abs() < 0.02, "gap {width} m wide");
    assert_eq!(state_of(&db).await, before, "nothing changed");

    // Half a metre apart there: a deliberate notch, merged.
    let (ids, tags) = stepped(&db, &app, &officer, 106.8855, 40, 0.5).await;
    let parents = area(&db, ids[0]).await + area(&db, ids[1]).await;
    let r = merge(&app, &officer, json!({"ids": ids, "if_match": tags}), &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let child = children(&r)[0]["id"].as_i64().expect("id");
    let merged = area(&db, child).await;
    assert!((merged - parents).abs() < 0.1, "{parents} → {merged}");
}

/// Index names of every node of an `EXPLAIN (FORMAT JSON)` plan.
fn plan_indexes(plan: &Value, out: &mut Vec<String>) {
    if let Some(name) = plan["Index Name"].as_str() {
        out.push(name.to_string());
    }
    for child in plan["Plans"].as_array().into_iter().flatten() {
        plan_indexes(child, out);
    }
}

/// Issue 11: the parcels as of an instant in a box read the versions through their spatial
/// index (land migration 1010), not by building every version's row first; with the box as
/// the items query sends it.
#[tokio::test]
async fn the_parcels_as_of_an_instant_in_a_box_read_the_versions_through_their_index() {
    let (db, app, _issuer, _dir) = Parcels::new().await.parts();
    // 20,000 closed versions of parcels long gone, 200 × 100 squares of 20 m over 4 × 2 km
    // around the sample parcels (in their TM-3 zone), then statistics as autovacuum gathers.
    sqlx::query(
        "INSERT INTO land.parcel_versions (parcel_id, version, commune_code, sheet_number,
             parcel_number, attributes, geom, begin_lifespan, end_lifespan, action, editor,
             reason, document)
         SELECT 1000000 + i, 1, '25195', 9, i + 1,
                jsonb_build_object('id', 1000000 + i, 'source_id', 'v' || i, 'commune_code', '25195',
                                   'sheet_number', 9, 'parcel_number', i + 1, 'extra', '{}'::jsonb,
                                   'updated_at', now() - interval '2 days', 'min_zoom', 14),
                ST_Multi(ST_MakeEnvelope(x0 + (i % 200) * 20, y0 + (i / 200) * 20,
                                         x0 + (i % 200) * 20 + 18, y0 + (i / 200) * 20 + 18, srid)),
                now() - interval '2 days', now() - interval '1 day', 'import', 'import', 'test', 'test'
         FROM (SELECT ST_XMin(geom) - 2000 AS x0, ST_YMin(geom) - 1000 AS y0, ST_SRID(geom) AS srid
               FROM land.parcels ORDER BY id LIMIT 1) o,
              generate_series(0, 19999) AS i",
    )
    .execute(&db.pool)
    .await
    .expect("versions");
    sqlx::query("ANALYZE land.parcel_versions")
        .execute(&db.pool)
        .await
        .expect("analyze");
    // A box of about 60 m around the first parcel, as the items query builds it.
    let sql = "SELECT t.id FROM land.parcels_as_of(($1::text)::timestamptz,
                   ST_Transform(ST_Segmentize(ST_MakeEnvelope($2, $3, $4, $5, 4326), $6), 3857)) t
               WHERE t.geom_3857 && ST_Transform(ST_Segmentize(ST_MakeEnvelope($2, $3, $4, $5, 4326), $6), 3857)";
    let at = "2100-01-01T00:00:00Z";
    let b = [106.8827, 11.5347, 106.8833, 11.5353];
    let plan: Value = sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) {sql}"))
        .bind(at)
        .bind(b[0])
        .bind(b[1])
        .bind(b[2])
        .bind(b[3])
        .bind(0.0001)
        .fetch_one(&db.pool)
        .await
        .expect("explain");
    let mut names = Vec::new();
    plan_indexes(&plan[0]["Plan"], &mut names);
    assert!(
        names.iter().any(|n| n == "parcel_versions_geom_3857_idx"),
        "the versions are read through their index: {plan}"
    );
    // And the answer is right: the living parcels there, none of the old versions (closed
    // yesterday); two days ago, the old versions there too (the parcels were delivered since).
    let ids = |at: String| {
        let pool = db.pool.clone();
        async move {
            let ids: Vec<i64> = sqlx::query_scalar(sql)
                .bind(at)
                .bind(b[0])
                .bind(b[1])
                .bind(b[2])
                .bind(b[3])
                .bind(0.0001)
                .fetch_all(&pool)
                .await
                .expect("as of");
            ids
        }
    };
    let now = ids(at.to_string()).await;
    assert!(
        !now.is_empty() && now.iter().all(|id| *id < 1_000_000),
        "{now:?}"
    );
    let then: String = sqlx::query_scalar(
        "SELECT to_char((now() - interval '36 hours') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
    )
    .fetch_one(&db.pool)
    .await
    .expect("then");
    let old = ids(then.clone()).await;
    assert!(
        !old.is_empty() && old.iter().all(|id| *id >= 1_000_000),
        "{old:?}"
    );
    // The same through the items API (the function taking the box).
    let r = send(
        &app,
        Method::GET,
        &format!(
            "/collections/parcels/items?limit=1000&datetime={then}&bbox={},{},{},{}",
            b[0], b[1], b[2], b[3]
        ),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let mut api: Vec<i64> = r.json()["features"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f["id"].as_i64())
        .collect();
    api.sort_unstable();
    let mut old = old;
    old.sort_unstable();
    // The API tests intersection, the index query only boxes: the API's ids are among them.
    assert!(
        !api.is_empty() && api.iter().all(|id| old.contains(id)),
        "{api:?} {old:?}"
    );
}

/// (feature ids, geometry commands) of the parcels layer of an uncompressed tile answer.
fn drawn(r: &Reply) -> (Vec<u64>, Vec<u32>) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let layers = tests::decode_mvt(&r.body);
    let l = layers
        .iter()
        .find(|l| l.name == "parcels")
        .expect("parcels layer");
    (l.ids.clone(), l.geometry.clone())
}

/// Issue 11: tiles as of an instant (the time slider) draw the parcels as they were then; the
/// living tiles are untouched by them; bad instants and layers without history are 400.
#[tokio::test]
async fn tiles_as_of_an_instant_draw_the_parcels_as_they_were() {
    let (db, app, issuer, _dir) = Parcels::new().await.parts();
    let officer = officer(&issuer);
    let two = id_in(&db, "25195", 2).await;
    let t = gis_core::tile::TileCoord::containing(106.88329, 11.53509, 18).expect("tile");
    let live = format!("/tiles/parcels/18/{}/{}.mvt", t.x, t.y);
    let get = |uri: String| {
        let app = app.clone();
        async move { send(&app, Method::GET, &uri, None, &[], None).await }
    };
    let old = drawn(&get(live.clone()).await);
    assert!(old.0.contains(&(two as u64)), "{old:?}");
    let before = instant(&db).await;
    // Parcel 2 shrinks (east edge from 106.88338 to 106.88332).
    let tag = tag(&app, &officer, two).await;
    let r = write(
        &app,
        Method::PATCH,
        &format!("/collections/parcels/items/{two}"),
        &officer,
        Some(tag.as_str()),
        Some(json!({"geometry": square(106.88322, 11.53502, 0.0001)})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let after = instant(&db).await;

    let then = drawn(&get(format!("{live}?datetime={before}")).await);
    assert_eq!(
        then, old,
        "the tile as of before the edit is the tile of then"
    );
    let now = drawn(&get(live.clone()).await);
    assert_ne!(now, old, "the living tile has the new geometry");
    assert_eq!(
        drawn(&get(format!("{live}?datetime={after}")).await),
        now,
        "as of after the edit: the new geometry"
    );
    // The past was not cached as the present, nor the present as the past.
    assert_eq!(drawn(&get(live.clone()).await), now);
    // OGC API – Tiles path, the same; a date is its last instant (today: the edit is in).
    let ogc = format!(
        "/collections/parcels/tiles/WebMercatorQuad/18/{}/{}?datetime={before}",
        t.y, t.x
    );
    assert_eq!(drawn(&get(ogc).await), old);
    let today = &after[..10];
    assert_eq!(drawn(&get(format!("{live}?datetime={today}")).await), now);
    // Before the delivery: nothing drawn.
    assert_eq!(
        get(format!("{live}?datetime=2000-01-01")).await.status,
        StatusCode::NO_CONTENT
    );
    // Refusals: 400 problems.
    for (query, says) in [
        ("datetime=2026-02-30", "2026-02-30"),
        ("datetime=yesterday", "yesterday"),
        ("datetime=2020-01-01/..", "interval"),
        ("datetime=2020-01-01&datetime=2021-01-01", "more than once"),
    ] {
        let r = get(format!("{live}?{query}")).await;
        let p = tests::assert_problem_json(
            r.status.as_u16(),
            400,
            &r.header(axum::http::header::CONTENT_TYPE),
            &r.body,
        );
        assert!(p["detail"].as_str().unwrap_or("").contains(says), "{p}");
    }
    let r = get(format!(
        "/tiles/communes,parcels/18/{}/{}.mvt?datetime={before}",
        t.x, t.y
    ))
    .await;
    let p = tests::assert_problem_json(
        r.status.as_u16(),
        400,
        &r.header(axum::http::header::CONTENT_TYPE),
        &r.body,
    );
    assert!(
        p["detail"].as_str().unwrap_or("").contains("communes"),
        "{p}"
    );
}

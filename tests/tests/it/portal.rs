//! The public portal's address search (issue 13): parcels found by where they lie
//! (`place_name`, "Số 12 đường Phú Riềng Đỏ, phường Tân Phú", written by the sample generator),
//! typed without accents and in part, best first, bounded; never by the owner's address
//! (personal data); folded the same way in SQL (`land.fold`, migration 1012) and in Rust, with
//! the trigram index able to answer.

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tile_server::app::{app, AppState, Limits};
use tower::ServiceExt;
use unicode_normalization::UnicodeNormalization;

async fn search(app: &Router, address: &str) -> (StatusCode, String, Value) {
    let uri = format!(
        "/portal/api/search?address={}",
        url_encode(address.as_bytes())
    );
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = to_bytes(response.into_body(), 10 << 20)
        .await
        .expect("body");
    (
        status,
        kind,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn url_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn ids(answer: &Value) -> Vec<i64> {
    answer["parcels"]
        .as_array()
        .expect("parcels")
        .iter()
        .map(|p| p["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn the_portal_finds_parcels_by_address_without_accents_and_in_part() {
    let db = crate::query::sample_db().await;
    let pool = &db.pool;
    let app = app(
        AppState::new(pool.clone()).expect("state"),
        Limits::default(),
    );

    // Every sample parcel says where it lies, folded alike by the database and by Rust.
    /// Id, place, the place folded by the database (the stored column), the owner's address.
    type Place = (i64, Option<String>, Option<String>, Option<String>);
    let places: Vec<Place> =
        sqlx::query_as("SELECT id, place_name, place_fold, address FROM land.parcels ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("places");
    assert!(places.len() > 500, "{}", places.len());
    for (id, place, folded, address) in &places {
        let place = place
            .as_deref()
            .unwrap_or_else(|| panic!("parcel {id} has no place"));
        assert!(unicode_normalization::is_nfc(place), "{place}");
        assert_ne!(
            Some(place),
            address.as_deref(),
            "the owner's address is not the place"
        );
        assert_eq!(
            folded.as_deref(),
            Some(land::portal::searched_form(place).as_str())
        );
    }

    // A lot on a named street: "Số N đường Phú Riềng Đỏ, phường …", typed as people do — no
    // accents, no "số"/"đường", no unit word before the ward.
    let (id, place) = places
        .iter()
        .find(|(_, p, ..)| {
            // A house number of one or two digits: a word matched whole.
            p.as_deref().is_some_and(|p| {
                !p.contains("đường số")
                    && p.strip_prefix("Số ")
                        .and_then(|rest| rest.split(' ').next())
                        .is_some_and(|n| n.len() <= 2)
            })
        })
        .map(|(id, p, ..)| (*id, p.clone().unwrap_or_default()))
        .expect("a lot");
    let folded = land::portal::fold(&place);
    let (street, ward) = folded.split_once(", ").expect("street, ward");
    let number_street = street.trim_start_matches("so ").replacen("duong ", "", 1);
    let ward_name = ward.trim_start_matches("phuong ").trim_start_matches("xa ");
    let typed = format!("{number_street} {ward_name}");
    let (status, _, a) = search(&app, &typed).await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["kind"], "address");
    let found = ids(&a);
    assert_eq!(found.first(), Some(&id), "{typed:?} → {a}");
    assert_eq!(a["parcels"][0]["place_name"].as_str(), Some(place.as_str()));
    assert!(found.len() <= 20, "bounded: {}", found.len());
    // Every parcel listed holds every word typed (the short ones whole); none carries owner
    // data.
    for p in a["parcels"].as_array().expect("parcels") {
        let theirs = land::portal::searched_form(p["place_name"].as_str().expect("place"));
        for word in typed.split(' ') {
            let want = land::portal::word_pattern(word);
            assert!(
                theirs.contains(want.trim_matches('%')),
                "{theirs:?} lacks {want:?}"
            );
        }
        for private in ["owner_name", "address"] {
            assert!(p.get(private).is_none(), "{private} in {p}");
        }
    }

    // The address as written, decomposed (NFD) or in capitals, finds it first too; and part of
    // it (number and street only) still lists it.
    for variant in [
        place.clone(),
        place.nfd().collect::<String>(),
        place.to_uppercase(),
    ] {
        let (status, _, a) = search(&app, &variant).await;
        assert_eq!(status, StatusCode::OK, "{a}");
        assert_eq!(ids(&a).first(), Some(&id), "{variant:?} → {a}");
    }
    let (status, _, a) = search(&app, &number_street).await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert!(ids(&a).contains(&id), "{number_street:?} → {a}");

    // Only the in-order matches are ranked when there are 20 of them: the answer is still the
    // first 20 of every match ranked (with many in-order matches, and with few).
    for typed in ["phu", "tan phu", "phu tan", &number_street] {
        let (status, _, a) = search(&app, typed).await;
        assert_eq!(status, StatusCode::OK, "{a}");
        let words: Vec<String> = typed.split(' ').map(land::portal::word_pattern).collect();
        let every: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM land.parcels WHERE place_fold LIKE ALL($1)
             ORDER BY place_fold LIKE $2 DESC, strict_word_similarity($3, place_fold) DESC,
                      length(place_name), id
             LIMIT 20",
        )
        .bind(&words)
        .bind(format!("%{}%", typed.replace(' ', "%")))
        .bind(typed)
        .fetch_all(pool)
        .await
        .expect("ranked");
        assert_eq!(ids(&a), every, "{typed:?}");
    }

    // The owner's address is personal data: searching by it finds nothing.
    let owners: String = sqlx::query_scalar(
        "SELECT address FROM land.parcels WHERE address LIKE 'Tổ %' ORDER BY id LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .expect("an owner's address");
    let (status, _, a) = search(&app, &owners).await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(ids(&a), Vec::<i64>::new(), "{owners:?} → {a}");

    // Bad input: a house number alone (no word the index could narrow by), too long → 400
    // problem JSON.
    for bad in ["12", "12 / 3", &"phu ".repeat(30)] {
        let (status, kind, a) = search(&app, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {a}");
        assert!(kind.starts_with("application/problem+json"), "{kind}");
    }

    // The search's pattern can be answered by the trigram index over the folded column.
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .expect("set");
    let plan: Vec<String> =
        sqlx::query_scalar("EXPLAIN SELECT id FROM land.parcels WHERE place_fold LIKE '%rieng%'")
            .fetch_all(&mut *tx)
            .await
            .expect("explain");
    assert!(
        plan.iter().any(|l| l.contains("parcels_place_fold_trgm")),
        "{plan:?}"
    );
}

/// The sheet's data date (the last change of any parcel) is read from an index, not by reading
/// every parcel for every sheet (land migration 1014).
#[tokio::test]
async fn the_sheets_data_date_is_read_from_an_index() {
    let db = tests::TestDb::new().await;
    let mut conn = db.pool.acquire().await.expect("conn");
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .expect("set");
    let plan: Vec<String> = sqlx::query_scalar("EXPLAIN SELECT max(updated_at) FROM land.parcels")
        .fetch_all(&mut *conn)
        .await
        .expect("explain");
    let plan = plan.join("\n");
    assert!(plan.contains("parcels_updated_at"), "{plan}");
}

//! The set-up the parcel write tests share (`edit`, `lineage`, `snapping` in `tests/it/`): a
//! fresh database with parcels imported through the real importer, the router trusting a
//! development issuer whose tokens the tests hand out, and the requests a land officer sends —
//! a write carrying its entity tag, a reason and a decision.
//!
//! ```no_run
//! # async fn demo() {
//! use tests::fixtures::{self, Parcels};
//! let (db, app, issuer, _dir) = Parcels::new().await.parts();
//! let officer = fixtures::officer(&issuer);
//! let id = fixtures::id_of(&db, 1).await;
//! let uri = format!("/collections/parcels/items/{id}");
//! let tag = fixtures::tag(&app, &officer, id).await;
//! let body = serde_json::json!({"properties": {"land_use_code": "CLN"}});
//! let r = fixtures::write(&app, axum::http::Method::PATCH, &uri, &officer, Some(&tag), Some(body)).await;
//! assert_eq!(r.status, axum::http::StatusCode::NO_CONTENT);
//! # }
//! ```

use axum::http::Method;
use axum::Router;
use serde_json::{json, Value};
use tile_server::app::{app, AppState, Limits};

use crate::http::{send, Reply};
use crate::TestDb;

/// "Quyết định 12/QĐ-UBND", percent-encoded as the `Edit-Document` header carries it.
pub const DOCUMENT: &str = "Quy%E1%BA%BFt%20%C4%91%E1%BB%8Bnh%2012%2FQ%C4%90-UBND";
/// "Sửa" (an edit), percent-encoded as the `Edit-Reason` header carries it.
pub const REASON: &str = "S%E1%BB%ADa";
/// The development issuer's land officer (communes 25195 and others of the sample).
pub const OFFICER: &str = "can_bo_dia_chinh";

/// A CRS84 square of `size` degrees with its south-west corner at `lon`, `lat`.
pub fn square(lon: f64, lat: f64, size: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]]})
}

/// The parcels of [`Parcels::new`] as delivery features: parcels 1–3 of commune 25195 on sheet 1
/// in a row (0.00018° squares, 0.00002° — 2.2 m — apart), parcel 4 of 25210 elsewhere.
pub fn parcels() -> Vec<Value> {
    (0..4)
        .map(|i| {
            let (commune, lat) = if i < 3 { ("25195", 11.535) } else { ("25210", 11.545) };
            let lon = 106.883 + f64::from(i) * 0.0002;
            json!({"type": "Feature",
                   "properties": {"MAXA": commune, "SHBANDO": 1, "SHTHUA": i + 1, "MALOAIDAT": "ONT", "TENCHU": format!("Chủ {}", i + 1)},
                   "geometry": square(lon, lat, 0.00018)})
        })
        .collect()
}

/// A database with parcels, the router over it trusting `issuer`, and the directory holding
/// the delivery and the issuer's keys (deleted when dropped: keep it for the test's length).
pub struct Parcels {
    /// The test's database.
    pub db: TestDb,
    /// The router (`tile_server::app::app`).
    pub app: Router,
    /// The development issuer the router trusts.
    pub issuer: auth::DevIssuer,
    /// The delivery and the issuer's keys.
    pub dir: tempfile::TempDir,
}

impl Parcels {
    /// [`parcels`] imported; writes checked under the default tolerances.
    pub async fn new() -> Parcels {
        Parcels::checked(parcels(), None).await
    }

    /// `features` (a delivery's GeoJSON features) imported as parcels.
    pub async fn with(features: Vec<Value>) -> Parcels {
        Parcels::checked(features, None).await
    }

    /// Its parts, to bind in one line: `let (db, app, issuer, _dir) = Parcels::new().await.parts();`.
    pub fn parts(self) -> (TestDb, Router, auth::DevIssuer, tempfile::TempDir) {
        (self.db, self.app, self.issuer, self.dir)
    }

    /// [`Parcels::with`], the server checking writes under `tolerances` (`[land]`) when given.
    pub async fn checked(
        features: Vec<Value>,
        tolerances: Option<land::edit::Tolerances>,
    ) -> Parcels {
        let db = TestDb::new().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("thua.geojson");
        std::fs::write(
            &path,
            json!({"type": "FeatureCollection", "features": features}).to_string(),
        )
        .expect("write");
        crate::import(&db.pool, &path, "parcels")
            .await
            .expect("import");
        let (state, issuer) = signed_in_state(&db, &dir.path().join("keys"));
        if let Some(t) = tolerances {
            assert!(state.land.set(t).is_ok());
        }
        let app = app(state, Limits::default());
        Parcels {
            db,
            app,
            issuer,
            dir,
        }
    }
}

/// The server's state over `db` trusting a development issuer whose keys live in `keys`, and
/// that issuer (its tokens: `issuer.issue(user)`).
pub fn signed_in_state(db: &TestDb, keys: &std::path::Path) -> (AppState, auth::DevIssuer) {
    let issuer = auth::DevIssuer::open_with_env(
        auth::DevIssuerConfig::new("http://127.0.0.1:9/dev-auth", keys.to_path_buf()),
        |_| None,
    )
    .expect("dev issuer");
    let state = AppState::new(db.pool.clone()).expect("state");
    let verifier = auth::Verifier::with_static_keys(issuer.verifier_config(), &issuer.jwks())
        .expect("verifier");
    assert!(state.verifier.set(verifier).is_ok());
    (state, issuer)
}

/// The land officer's token.
pub fn officer(issuer: &auth::DevIssuer) -> String {
    issuer.issue(OFFICER).expect("token")
}

/// The id of the parcel numbered `number` (one commune's).
pub async fn id_of(db: &TestDb, number: i64) -> i64 {
    sqlx::query_scalar("SELECT id FROM land.parcels WHERE parcel_number = $1")
        .bind(number)
        .fetch_one(&db.pool)
        .await
        .expect("parcel")
}

/// Parcel `id`'s whole row as text (to see that a refused write changed nothing).
pub async fn row_text(db: &TestDb, id: i64) -> String {
    sqlx::query_scalar("SELECT p::text FROM land.parcels p WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("row")
}

/// Parcel `id`'s entity tag, read as `token`'s holder.
pub async fn tag(app: &Router, token: &str, id: i64) -> String {
    send(
        app,
        Method::GET,
        &format!("/collections/parcels/items/{id}"),
        Some(token),
        &[],
        None,
    )
    .await
    .etag()
}

/// A write as a land officer sends it: `method` on `uri` with bearer `token`, `If-Match: tag`
/// when given, [`REASON`] and [`DOCUMENT`], and `body` as a merge patch (PATCH), GeoJSON
/// (POST, PUT) or JSON (the cadastre's own routes).
pub async fn write(
    app: &Router,
    method: Method,
    uri: &str,
    token: &str,
    tag: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let kind = if method == Method::PATCH {
        "application/merge-patch+json"
    } else if uri.starts_with("/collections/") {
        "application/geo+json"
    } else {
        "application/json"
    };
    let mut headers = vec![
        ("content-type", kind),
        ("edit-reason", REASON),
        ("edit-document", DOCUMENT),
    ];
    if let Some(t) = tag {
        headers.push(("if-match", t));
    }
    send(app, method, uri, Some(token), &headers, body).await
}

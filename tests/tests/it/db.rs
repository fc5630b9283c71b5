//! The database layer: merged migrations, the private cluster's lifecycle, the layer catalog.

use gis_core::db::{ClusterOptions, Database, DbLocation, PrivateCluster};
use gis_core::layer::{publish, read_catalog};
use sqlx::ConnectOptions;
use tests::TestDb;

#[tokio::test]
async fn migrations_are_all_applied_and_rerunning_changes_nothing() {
    let db = TestDb::new().await;
    let migrations = tile_server::migrations();
    let status = migrations.status(&db.pool).await.expect("status");
    assert!(status.len() >= 4, "{status:?}");
    assert!(status.iter().all(|m| m.applied), "{status:?}");
    // Each crate keeps to its own version range.
    assert!(status.iter().any(|m| m.version < 1000));
    assert!(status.iter().any(|m| (1001..2000).contains(&m.version)));
    migrations
        .run(&db.pool)
        .await
        .expect("second run is a no-op");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(count as usize, status.len());
}

#[tokio::test]
async fn catalog_publishes_the_registry_with_feature_counts() {
    let db = TestDb::new().await;
    let registry = layers::registry().expect("registry");
    publish(&registry, &db.pool).await.expect("publish");
    let catalog = read_catalog(&db.pool).await.expect("catalog");
    let communes = catalog
        .iter()
        .find(|e| e.id == "communes")
        .expect("communes entry");
    assert_eq!(communes.feature_count, 0);
    assert_eq!(communes.srid, 9212);
    assert_eq!(communes.title_vi, "Ranh giới xã, phường");

    let sample = tests::sample_dir();
    tests::import(&db.pool, &sample.path().join("communes.gpkg"), "communes")
        .await
        .expect("import");
    let catalog = read_catalog(&db.pool).await.expect("catalog");
    let communes = catalog
        .iter()
        .find(|e| e.id == "communes")
        .expect("communes entry");
    assert_eq!(communes.feature_count, 12);
    // Publishing twice replaces, never duplicates.
    publish(&registry, &db.pool).await.expect("publish again");
    assert_eq!(
        read_catalog(&db.pool).await.expect("catalog").len(),
        registry.len()
    );
}

#[tokio::test]
async fn private_cluster_initialises_stops_and_reuses_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = ClusterOptions {
        data_dir: dir.path().join("state"),
        tcp: false,
    };
    let location = DbLocation::Private(options.clone());

    let db = Database::open(&location, 2).await.expect("first start");
    let cluster = db.cluster().expect("private cluster");
    assert!(cluster.started_here());
    assert!(cluster.pgdata().join("PG_VERSION").exists());
    let postgis: String = sqlx::query_scalar("SELECT postgis_lib_version()")
        .fetch_one(&db.pool)
        .await
        .expect("postgis in private cluster");
    assert!(postgis.starts_with('3'), "{postgis}");
    sqlx::raw_sql("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('Bình Phước')")
        .execute(&db.pool)
        .await
        .expect("write");

    // A second bando on the same directory joins the running cluster and leaves it running.
    let joiner = PrivateCluster::start(&options).await.expect("join");
    assert!(!joiner.started_here());
    joiner.stop().expect("joiner stop is a no-op");
    let mut conn = joiner
        .connect_options()
        .connect()
        .await
        .expect("still running");
    let v: String = sqlx::query_scalar("SELECT v FROM kept")
        .fetch_one(&mut conn)
        .await
        .expect("read");
    assert_eq!(v, "Bình Phước");
    drop(conn);

    let pgdata = cluster.pgdata().to_path_buf();
    db.close().await.expect("stop");
    assert!(
        !pgdata.join("postmaster.pid").exists(),
        "cluster still running after close"
    );

    // A second start reuses the data directory.
    let db = Database::open(&location, 2).await.expect("second start");
    let v: String = sqlx::query_scalar("SELECT v FROM kept")
        .fetch_one(&db.pool)
        .await
        .expect("data survived the restart");
    assert_eq!(v, "Bình Phước");
    db.close().await.expect("stop again");
}

#[tokio::test]
async fn a_bad_database_url_is_explained_without_the_password() {
    let err = Database::open(
        &DbLocation::Url("postgres://u:hunter2@127.0.0.1:1/x".into()),
        1,
    )
    .await
    .expect_err("nothing listens on port 1");
    let text = err.to_string();
    assert!(text.contains("cannot connect"), "{text}");
    assert!(!text.contains("hunter2"), "password leaked: {text}");
    let err = Database::open(&DbLocation::Url("mysql://nope".into()), 1)
        .await
        .expect_err("not postgres");
    assert!(
        err.to_string().contains("not a valid PostgreSQL URL"),
        "{err}"
    );
}

#[tokio::test]
async fn geometry_columns_lists_every_feature_table_for_gis_clients() {
    // QGIS, GDAL and Martin read this view; a CHECK it cannot parse makes it fail for everyone.
    let db = TestDb::new().await;
    let rows: Vec<(String, String, String, i32)> = sqlx::query_as(
        "SELECT f_table_schema::text, f_table_name::text, f_geometry_column::text, srid
         FROM geometry_columns WHERE f_table_schema IN ('land', 'planning', 'utilities', 'sectors')",
    )
    .fetch_all(&db.pool)
    .await
    .expect("geometry_columns must be readable");
    let parcels: Vec<_> = rows.iter().filter(|r| r.1 == "parcels").collect();
    assert_eq!(parcels.len(), 2, "{parcels:?}");
    assert!(
        parcels.iter().any(|r| r.2 == "geom_3857" && r.3 == 3857),
        "{parcels:?}"
    );
    assert!(rows.len() >= 2 * 22, "{}", rows.len());
}

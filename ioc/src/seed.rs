//! Things and Datastreams for the environment monitoring stations (`sectors.env_stations`) and
//! the traffic monitoring cameras (`sectors.cameras` of type [`TRAFFIC_CAMERA`], which count
//! vehicles): one Thing per station or camera (its Location the point), one Datastream per
//! quantity its kind measures ([`QUANTITIES`]: air quality, water level, rainfall, soil,
//! groundwater, traffic counts). Idempotent: what is already seeded is left as it is.

use sqlx::PgPool;

/// A quantity a kind of station measures.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    /// The station kind (`station_type` of the sample stations).
    pub station_type: &'static str,
    /// ObservedProperty name.
    pub property: &'static str,
    /// Its definition (a URI).
    pub definition: &'static str,
    /// Vietnamese description.
    pub description: &'static str,
    /// Unit name and symbol.
    pub unit: (&'static str, &'static str),
    /// The Sensor that measures it.
    pub sensor: &'static str,
    /// Usual range of readings (the simulator draws from it).
    pub usual: (f64, f64),
    /// Readings are counts (whole numbers).
    pub count: bool,
}

/// The camera type (`sectors.cameras.camera_type`) of traffic monitoring cameras, which count
/// the vehicles passing.
pub const TRAFFIC_CAMERA: &str = "Giám sát giao thông";

/// What each kind of sample station measures.
pub const QUANTITIES: &[Quantity] = &[
    Quantity {
        station_type: "Không khí",
        property: "PM2.5",
        definition: "http://dbpedia.org/resource/Particulates",
        description: "Bụi mịn PM2.5",
        unit: ("microgram per cubic metre", "µg/m³"),
        sensor: "Máy đo bụi PM2.5",
        usual: (10.0, 60.0),
        count: false,
    },
    Quantity {
        station_type: "Nước mặt",
        property: "Water level",
        definition: "http://vocab.nerc.ac.uk/collection/P07/current/CFSN0721/",
        description: "Mực nước",
        unit: ("metre", "m"),
        sensor: "Cảm biến mực nước radar",
        usual: (1.0, 3.5),
        count: false,
    },
    Quantity {
        station_type: "Nước mặt",
        property: "Rainfall",
        definition: "http://vocab.nerc.ac.uk/collection/P07/current/CFSN0259/",
        description: "Lượng mưa",
        unit: ("millimetre", "mm"),
        sensor: "Vũ kế tự ghi",
        usual: (0.0, 20.0),
        count: false,
    },
    Quantity {
        station_type: "Đất",
        property: "Soil moisture",
        definition: "http://vocab.nerc.ac.uk/collection/P07/current/CFSN0395/",
        description: "Độ ẩm đất",
        unit: ("percent", "%"),
        sensor: "Cảm biến độ ẩm đất",
        usual: (15.0, 45.0),
        count: false,
    },
    Quantity {
        station_type: "Nước dưới đất",
        property: "Groundwater level",
        definition: "http://vocab.nerc.ac.uk/collection/P07/current/CFSN0721/",
        description: "Mực nước dưới đất",
        unit: ("metre below ground", "m"),
        sensor: "Cảm biến áp lực giếng quan trắc",
        usual: (4.0, 12.0),
        count: false,
    },
    Quantity {
        station_type: TRAFFIC_CAMERA,
        property: "Traffic count",
        definition: "http://vocab.datex.org/terms#trafficFlow",
        description: "Lưu lượng xe",
        unit: ("vehicles per hour", "xe/h"),
        sensor: "Camera đếm xe",
        usual: (200.0, 1800.0),
        count: true,
    },
];

/// What seeding made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seeded {
    /// Things made.
    pub things: u64,
    /// Datastreams made.
    pub datastreams: u64,
}

/// Makes the Things, Locations, Sensors, ObservedProperties and Datastreams of every station
/// not yet seeded, in one transaction.
pub async fn seed_stations(pool: &PgPool) -> Result<Seeded, sqlx::Error> {
    let mut tx = pool.begin().await?;
    for q in QUANTITIES {
        sqlx::query(
            "INSERT INTO ioc.observed_properties (name, definition, description)
             VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(q.property)
        .bind(q.definition)
        .bind(q.description)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO ioc.sensors (name, description) VALUES ($1, $2)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(q.sensor)
        .bind(format!("{} ({})", q.sensor, q.property))
        .execute(&mut *tx)
        .await?;
    }
    let things = sqlx::query(
        "WITH src AS (
             SELECT DISTINCT ON (code) * FROM (
                 SELECT s.code, coalesce(s.name, s.code) AS name,
                        coalesce(s.station_type, '') AS kind, s.geom
                 FROM sectors.env_stations s WHERE s.code IS NOT NULL
                 UNION ALL
                 SELECT c.code, coalesce(c.name, c.code), c.camera_type, c.geom
                 FROM sectors.cameras c WHERE c.code IS NOT NULL AND c.camera_type = $1
             ) a ORDER BY code
         ), new AS (
             INSERT INTO ioc.things (name, description, properties, station_code)
             SELECT src.name, src.kind,
                    jsonb_build_object('station_code', src.code, 'station_type', src.kind),
                    src.code
             FROM src
             ON CONFLICT (station_code) DO NOTHING
             RETURNING id, name, station_code
         ), loc AS (
             INSERT INTO ioc.locations (name, description, location)
             SELECT n.station_code, n.name, ST_Transform(src.geom, 4326)
             FROM new n JOIN src ON src.code = n.station_code
             RETURNING id, name
         )
         INSERT INTO ioc.thing_locations (thing_id, location_id)
         SELECT n.id, l.id FROM new n JOIN loc l ON l.name = n.station_code",
    )
    .bind(TRAFFIC_CAMERA)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let mut datastreams = 0;
    for q in QUANTITIES {
        datastreams += sqlx::query(
            "INSERT INTO ioc.datastreams (name, description, unit_name, unit_symbol,
                 unit_definition, thing_id, sensor_id, observed_property_id, properties)
             SELECT t.name || ' – ' || $2, $3 || ' — ' || t.name, $4, $5, '', t.id, se.id, op.id,
                    jsonb_build_object('station_code', t.station_code)
             FROM ioc.things t, ioc.sensors se, ioc.observed_properties op
             WHERE t.properties->>'station_type' = $1 AND se.name = $6 AND op.name = $2
             ON CONFLICT (thing_id, observed_property_id) DO NOTHING",
        )
        .bind(q.station_type)
        .bind(q.property)
        .bind(q.description)
        .bind(q.unit.0)
        .bind(q.unit.1)
        .bind(q.sensor)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    // Every located datastream is on the latest-value layer, read or not yet.
    let missing: Vec<i64> = sqlx::query_scalar(
        "SELECT d.id FROM ioc.datastreams d WHERE NOT EXISTS (
             SELECT 1 FROM ioc.latest_readings l WHERE l.datastream_id = d.id)",
    )
    .fetch_all(&mut *tx)
    .await?;
    if !missing.is_empty() {
        crate::live::refresh(&mut tx, &missing).await?;
    }
    tx.commit().await?;
    Ok(Seeded {
        things,
        datastreams,
    })
}

//! # ioc — the intelligent operations centre's live data
//!
//! The OGC SensorThings API 1.1 sensing model in PostgreSQL (schema `ioc`, migrations
//! 6001–6999): Things, Locations, Sensors, ObservedProperties, Datastreams (unit of
//! measurement), Observations (phenomenonTime, result, resultQuality) and FeaturesOfInterest.
//!
//! - [`broker`]: the MQTT broker — an existing one (`[ioc] mqtt_url`) or a private Mosquitto
//!   started on a free port of 127.0.0.1 with its configuration in the data directory and
//!   stopped on exit (the pattern of the private PostgreSQL).
//! - [`ingest`]: observations as SensorThings devices publish them (an Observation JSON to
//!   `v1.1/Datastreams(ID)/Observations`) or POST them; parsed, checked, written in batches
//!   (multi-row `INSERT … SELECT FROM UNNEST`); malformed payloads, unknown datastreams and
//!   out-of-range times are counted (`bando_ioc_observations_dropped_total{reason}`), logged
//!   with the reason and dropped — never a crash or a blocked ingest.
//! - [`mqtt`]: the subscriber feeding [`ingest`] from the broker (rumqttc), and a publisher.
//! - [`seed`]: Things and Datastreams for the environment monitoring stations
//!   (`sectors.env_stations`).
//! - [`live`]: the latest-value layer (`ioc.latest_readings`, declared in [`plugin`]) and the
//!   feed log, kept by ingest in the transaction that stores the readings.
//! - [`alerts`]: alert rules with hysteresis (raise at one level, clear at another), evaluated
//!   by ingest; [`events`]: the incidents they raise (or operators report), with history.
//! - [`feeds`]: the live feed of readings and events behind `/feeds/stream` (snapshot, resume,
//!   bounded per-client queues), across instances through PostgreSQL notifications.
//! - [`devices`]: device tokens — a Thing's bearer token for posting its observations,
//!   stored hashed.
//! - [`simulate`]: `bando simulate-sensors`.
//! - [`sta`]: the read API (`/sta/v1.1`): entity sets, navigation, `$top`, `$skip`,
//!   `$count`, `$orderby`, `$select`, `$expand`, `$filter` ([`sta::filter`]).
//!
//! **Invariant:** no HTTP framework; the server's handlers call in here.
#![deny(missing_docs)]

pub mod alerts;
pub mod broker;
pub mod devices;
pub mod events;
pub mod feeds;
pub mod ingest;
pub mod live;
pub mod mqtt;
pub mod plugin;
pub mod seed;
pub mod simulate;
pub mod sta;

/// The migrations of the `ioc` schema (versions 6001–6999).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

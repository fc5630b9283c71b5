//! # gis-core — bando's spatial core
//!
//! Owns what every other crate stands on and nothing domain-specific:
//!
//! - [`crs`]: the CRSs bando accepts (WGS84, Web Mercator, VN-2000 geographic, TM-3 and UTM
//!   zones, any EPSG code PROJ knows), transforms through the system PROJ (EPSG:6960 for
//!   VN-2000), and the axis-order guard for northing-first survey coordinates;
//! - [`mvt`]: the vector-tile SQL of a feature-table layer at a zoom (Web Mercator serving
//!   column, low-zoom generalisation, restricted properties only for authorised readers);
//! - [`query`]: identify, nearest, within and measure over any feature-table layer (index
//!   candidates in Web Mercator, exact metres in a TM-3 zone);
//! - [`tile`]: z/x/y addressing in the WebMercatorQuad grid;
//! - [`db`]: where the database is (existing server or bando's private PostgreSQL+PostGIS
//!   cluster, crate `pg-cluster`), the pool, and the merged embedded migrations of every crate;
//! - [`features`]: OGC API – Features items of a layer (bbox, datetime, CQL2, properties,
//!   sortby, keyset paging, any EPSG output CRS; filters in CQL2, crate `cql2`), GeoJSON
//!   assembled by PostgreSQL;
//! - [`feature`] and [`bulk`]: how owners describe feature tables, and the generic writer that
//!   stages (binary COPY), validates, and merges imports into them in one transaction;
//! - [`layer`]: the [`layer::Layer`] trait every layer plugin implements, the registry the server
//!   reads, and the `platform.layer_catalog` table it is published to;
//! - [`declare`]: [`declare::LayerDecl`], the one declaration of a layer its owner writes;
//! - [`audit`]: the audit log's table (refused requests and writes).
//!
//! It knows nothing of HTTP, parcels or planning. Example:
//!
//! ```
//! use gis_core::crs::{Transformer, WGS84, VN2000_TM3_106_15};
//! let t = Transformer::new(WGS84, VN2000_TM3_106_15).unwrap();
//! let (e, n) = t.transform(106.883, 11.535).unwrap();
//! assert!((e - 568_850.121).abs() < 0.01 && (n - 1_275_706.945).abs() < 0.01);
//! ```
#![deny(missing_docs)]

pub mod audit;
pub mod bulk;
pub mod crs;
pub mod db;
pub mod declare;
pub mod feature;
pub mod features;
pub mod layer;
pub mod mvt;
pub mod query;
pub mod tile;

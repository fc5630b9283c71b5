//! # ogc-features — OGC API – Features without HTTP
//!
//! What the Features API needs besides reading items (which is [`gis_core::features`]) and
//! besides HTTP (which is `tile-server`'s `routes/features.rs` and `routes/openapi.rs`):
//!
//! - [`downloads`]: a page of items as a GeoPackage (through GDAL) or as CSV;
//! - [`counts`]: [`counts::MatchCounts`], `numberMatched` remembered per query while no change
//!   arrived, so paging through a filtered collection does not count every page;
//! - [`queryables`]: the JSON Schema of what a collection can be filtered on;
//! - [`openapi`]: the OpenAPI 3.0 document of the service (written by hand) and the landing
//!   page's OGC API Common JSON.
//!
//! The caller passes the layers ([`gis_core::layer::Layer`]); nothing here matches on a layer
//! id or knows an HTTP framework.
#![deny(missing_docs)]

pub mod counts;
pub mod downloads;
pub mod openapi;
pub mod queryables;

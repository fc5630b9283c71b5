//! MBTiles 1.3 writer: an SQLite file with `metadata` (name/value) and `tiles` (TMS rows:
//! row 0 is the southernmost, the flip of XYZ), through the system SQLite.

use std::path::{Path, PathBuf};

use gis_core::tile::TileCoord;
use rusqlite::{params, Connection};

use super::{write_error, ExportError, PackInfo, PackWriter};

/// Writes one MBTiles file.
#[derive(Debug)]
pub struct MbTilesWriter {
    conn: Connection,
    path: PathBuf,
}

impl MbTilesWriter {
    /// Creates the file (replacing one left at the same temporary path) with its tables, and
    /// opens the one transaction every tile goes in.
    pub fn create(path: &Path) -> Result<Self, ExportError> {
        let _ = std::fs::remove_file(path);
        let err = |e: rusqlite::Error| write_error(path, e);
        let conn = Connection::open(path).map_err(err)?;
        // A pack is written once and renamed when complete: no journal needed.
        conn.execute_batch(
            "PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             PRAGMA application_id = 0x4d504258; -- 'MPBX', as MBTiles 1.3 suggests
             CREATE TABLE metadata (name TEXT NOT NULL, value TEXT);
             CREATE TABLE tiles (zoom_level INTEGER NOT NULL, tile_column INTEGER NOT NULL,
                                 tile_row INTEGER NOT NULL, tile_data BLOB NOT NULL);
             BEGIN;",
        )
        .map_err(err)?;
        Ok(MbTilesWriter {
            conn,
            path: path.to_path_buf(),
        })
    }
}

impl PackWriter for MbTilesWriter {
    fn add(&mut self, tile: TileCoord, gzip: &[u8]) -> Result<(), ExportError> {
        self.conn
            .prepare_cached(
                "INSERT INTO tiles (zoom_level, tile_column, tile_row, tile_data) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    i64::from(tile.z),
                    i64::from(tile.x),
                    i64::from(tile.tms_y()),
                    gzip
                ])
            })
            .map_err(|e| write_error(&self.path, e))?;
        Ok(())
    }

    fn finish(self: Box<Self>, info: &PackInfo) -> Result<(), ExportError> {
        let b = info.bounds;
        let (lon, lat, zoom) = info.center();
        let rows = [
            ("name", info.name.clone()),
            ("format", "pbf".to_string()),
            ("type", "overlay".to_string()),
            ("version", "1.3".to_string()),
            ("description", format!("bando offline pack: {}", info.name)),
            (
                "bounds",
                format!("{},{},{},{}", b.min_x, b.min_y, b.max_x, b.max_y),
            ),
            ("center", format!("{lon},{lat},{zoom}")),
            ("minzoom", info.minzoom.to_string()),
            ("maxzoom", info.maxzoom.to_string()),
            ("json", info.json().to_string()),
        ];
        let path = self.path.clone();
        let err = |e: rusqlite::Error| write_error(&path, e);
        for (name, value) in rows {
            self.conn
                .execute(
                    "INSERT INTO metadata (name, value) VALUES (?1, ?2)",
                    params![name, value],
                )
                .map_err(err)?;
        }
        self.conn
            .execute_batch(
                "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);
                 CREATE UNIQUE INDEX name ON metadata (name);
                 COMMIT;",
            )
            .map_err(err)?;
        self.conn.close().map_err(|(_, e)| err(e))?;
        Ok(())
    }
}

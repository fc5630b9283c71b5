//! PMTiles v3 writer.
//!
//! Layout: the 127-byte header, the root directory, the JSON metadata, the leaf directories and
//! the tile data, in that order. Tiles are addressed by Hilbert tile id (all tiles of lower zooms
//! first, then the position on the zoom's Hilbert curve) and stored in tile-id order
//! (`clustered`). Directories are varint-encoded (delta tile ids, run lengths, lengths, offsets
//! with 0 meaning "right after the previous entry") and gzip-compressed; the root directory must
//! fit in the first 16 KiB with the header, so larger packs get a level of leaf directories.
//!
//! Tiles arrive in render order, not tile-id order: their bytes go to a scratch file first and
//! are copied into place, sorted, when the pack is finished. Identical tiles (the inside of a
//! commune polygon, repeated at every deep zoom) are stored once: later entries point to the
//! first copy, and consecutive ones become one entry with a run length.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use gis_core::tile::TileCoord;

use super::{write_error, ExportError, PackInfo, PackWriter};

/// Header length.
pub const HEADER_LEN: usize = 127;
/// The header and the root directory together fit in this many bytes.
const ROOT_BUDGET: usize = 16_384;

/// Compression codes of the header.
const COMPRESSION_GZIP: u8 = 2;
/// Tile type code of Mapbox Vector Tiles.
const TILE_TYPE_MVT: u8 = 1;

/// The Hilbert tile id of `z/x/y`: the number of tiles of every zoom below `z`, plus the
/// position of (x, y) on the Hilbert curve filling the 2^z × 2^z grid.
pub fn tile_id(z: u8, x: u32, y: u32) -> u64 {
    // 1 + 4 + … + 4^(z-1) = (4^z - 1) / 3
    let base = ((1u64 << (2 * u32::from(z))) - 1) / 3;
    let n = 1u64 << z;
    let (mut x, mut y) = (u64::from(x), u64::from(y));
    let mut d = 0u64;
    let mut s = n / 2;
    while s > 0 {
        let rx = u64::from(x & s > 0);
        let ry = u64::from(y & s > 0);
        d += s * s * ((3 * rx) ^ ry);
        // Rotate the quadrant so the sub-curve has the orientation the next level expects.
        if ry == 0 {
            if rx == 1 {
                x = n - 1 - x;
                y = n - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    base + d
}

/// One directory entry: a run of tiles (run_length ≥ 1) or a leaf directory (run_length 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// First tile id.
    pub tile_id: u64,
    /// Offset in the tile data (or leaf directory) section.
    pub offset: u64,
    /// Bytes.
    pub length: u32,
    /// Tiles sharing these bytes; 0 for a leaf directory.
    pub run_length: u32,
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A directory, serialised and gzip-compressed.
pub fn encode_directory(entries: &[Entry]) -> Result<Vec<u8>, std::io::Error> {
    let mut raw = Vec::with_capacity(entries.len() * 6 + 8);
    varint(&mut raw, entries.len() as u64);
    let mut last = 0u64;
    for e in entries {
        varint(&mut raw, e.tile_id - last);
        last = e.tile_id;
    }
    for e in entries {
        varint(&mut raw, u64::from(e.run_length));
    }
    for e in entries {
        varint(&mut raw, u64::from(e.length));
    }
    for (i, e) in entries.iter().enumerate() {
        let follows = i > 0 && {
            let p = entries[i - 1];
            e.offset == p.offset + u64::from(p.length)
        };
        varint(&mut raw, if follows { 0 } else { e.offset + 1 });
    }
    Ok(crate::gzip(&raw)?.to_vec())
}

/// The root directory and the leaf directories section for `entries` (sorted by tile id):
/// everything in the root when it fits, otherwise leaves of `leaf_size` entries, doubled until
/// the root pointing at them fits.
fn directories(entries: &[Entry]) -> Result<(Vec<u8>, Vec<u8>), std::io::Error> {
    let root = encode_directory(entries)?;
    if HEADER_LEN + root.len() <= ROOT_BUDGET {
        return Ok((root, Vec::new()));
    }
    let mut leaf_size = 4096usize;
    loop {
        let mut leaves = Vec::new();
        let mut root_entries = Vec::new();
        for chunk in entries.chunks(leaf_size) {
            let leaf = encode_directory(chunk)?;
            root_entries.push(Entry {
                tile_id: chunk[0].tile_id,
                offset: leaves.len() as u64,
                length: leaf.len() as u32,
                run_length: 0,
            });
            leaves.extend_from_slice(&leaf);
        }
        let root = encode_directory(&root_entries)?;
        if HEADER_LEN + root.len() <= ROOT_BUDGET {
            return Ok((root, leaves));
        }
        leaf_size *= 2;
    }
}

/// Writes one PMTiles archive.
#[derive(Debug)]
pub struct PmTilesWriter {
    path: PathBuf,
    scratch_path: PathBuf,
    scratch: BufWriter<File>,
    scratch_len: u64,
    /// (tile id, offset in the scratch file, length, content hash)
    tiles: Vec<(u64, u64, u32, u64)>,
    min_zoom: u8,
    max_zoom: u8,
}

impl PmTilesWriter {
    /// Starts an archive at `path` (its tile bytes gather in a scratch file beside it).
    pub fn create(path: &Path) -> Result<Self, ExportError> {
        let scratch_path = path.with_extension("tiles.scratch");
        let scratch = File::create(&scratch_path).map_err(|e| write_error(&scratch_path, e))?;
        Ok(PmTilesWriter {
            path: path.to_path_buf(),
            scratch_path,
            scratch: BufWriter::new(scratch),
            scratch_len: 0,
            tiles: Vec::new(),
            min_zoom: u8::MAX,
            max_zoom: 0,
        })
    }

    fn write_archive(&mut self, info: &PackInfo) -> Result<(), ExportError> {
        let err = |e: std::io::Error| write_error(&self.path, e);
        self.scratch
            .flush()
            .map_err(|e| write_error(&self.scratch_path, e))?;
        self.tiles.sort_unstable_by_key(|t| t.0);
        let scratch =
            File::open(&self.scratch_path).map_err(|e| write_error(&self.scratch_path, e))?;
        let scratch_err = |e: std::io::Error| write_error(&self.scratch_path, e);
        let same_bytes = |a: u64, b: u64, len: u32| -> Result<bool, std::io::Error> {
            let (mut x, mut y) = (vec![0u8; len as usize], vec![0u8; len as usize]);
            scratch.read_exact_at(&mut x, a)?;
            scratch.read_exact_at(&mut y, b)?;
            Ok(x == y)
        };
        let mut entries: Vec<Entry> = Vec::with_capacity(self.tiles.len());
        // (hash, length) → (scratch offset, data offset) of the contents stored so far.
        let mut stored: HashMap<(u64, u32), Vec<(u64, u64)>> = HashMap::new();
        // Scratch ranges to copy, in data order.
        let mut contents: Vec<(u64, u32)> = Vec::new();
        let mut offset = 0u64;
        for &(id, at, len, hash) in &self.tiles {
            let mut found = None;
            for &(first_at, data_at) in stored.get(&(hash, len)).into_iter().flatten() {
                if same_bytes(first_at, at, len).map_err(scratch_err)? {
                    found = Some(data_at);
                    break;
                }
            }
            let data_at = match found {
                Some(o) => o,
                None => {
                    let o = offset;
                    offset += u64::from(len);
                    contents.push((at, len));
                    stored.entry((hash, len)).or_default().push((at, o));
                    o
                }
            };
            if let Some(last) = entries.last_mut() {
                if last.offset == data_at
                    && last.length == len
                    && last.tile_id + u64::from(last.run_length) == id
                {
                    last.run_length += 1;
                    continue;
                }
            }
            entries.push(Entry {
                tile_id: id,
                offset: data_at,
                length: len,
                run_length: 1,
            });
        }
        let tile_data_len = offset;
        let (root, leaves) = directories(&entries).map_err(err)?;
        let metadata = {
            let mut m = info.json();
            m["name"] = info.name.clone().into();
            m["format"] = "pbf".into();
            m["type"] = "overlay".into();
            m["description"] = format!("bando offline pack: {}", info.name).into();
            crate::gzip(m.to_string().as_bytes()).map_err(err)?
        };
        let root_offset = HEADER_LEN as u64;
        let metadata_offset = root_offset + root.len() as u64;
        let leaves_offset = metadata_offset + metadata.len() as u64;
        let data_offset = leaves_offset + leaves.len() as u64;

        let e7 = |v: f64| (v * 1e7).round() as i32;
        let b = info.bounds;
        let (clon, clat, czoom) = info.center();
        let (min_zoom, max_zoom) = if self.tiles.is_empty() {
            (info.minzoom, info.maxzoom)
        } else {
            (self.min_zoom, self.max_zoom)
        };
        let mut h = Vec::with_capacity(HEADER_LEN);
        h.extend_from_slice(b"PMTiles");
        h.push(3);
        for v in [
            root_offset,
            root.len() as u64,
            metadata_offset,
            metadata.len() as u64,
            leaves_offset,
            leaves.len() as u64,
            data_offset,
            tile_data_len,
            self.tiles.len() as u64,
            entries.len() as u64,
            contents.len() as u64,
        ] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.extend_from_slice(&[
            1, // clustered
            COMPRESSION_GZIP,
            COMPRESSION_GZIP,
            TILE_TYPE_MVT,
            min_zoom,
            max_zoom,
        ]);
        for v in [e7(b.min_x), e7(b.min_y), e7(b.max_x), e7(b.max_y)] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.push(czoom);
        h.extend_from_slice(&e7(clon).to_le_bytes());
        h.extend_from_slice(&e7(clat).to_le_bytes());
        debug_assert_eq!(h.len(), HEADER_LEN);

        let file = File::create(&self.path).map_err(err)?;
        let mut out = BufWriter::new(file);
        for part in [&h[..], &root, &metadata, &leaves] {
            out.write_all(part).map_err(err)?;
        }
        let mut buf = Vec::new();
        for &(at, len) in &contents {
            buf.resize(len as usize, 0);
            scratch
                .read_exact_at(&mut buf, at)
                .map_err(|e| write_error(&self.scratch_path, e))?;
            out.write_all(&buf).map_err(err)?;
        }
        out.into_inner()
            .map_err(|e| err(e.into_error()))?
            .sync_all()
            .map_err(err)?;
        Ok(())
    }
}

impl PackWriter for PmTilesWriter {
    fn add(&mut self, tile: TileCoord, gzip: &[u8]) -> Result<(), ExportError> {
        let len = u32::try_from(gzip.len())
            .map_err(|_| write_error(&self.path, "a tile larger than 4 GiB"))?;
        self.scratch
            .write_all(gzip)
            .map_err(|e| write_error(&self.scratch_path, e))?;
        self.tiles.push((
            tile_id(tile.z, tile.x, tile.y),
            self.scratch_len,
            len,
            crate::fnv1a(gzip),
        ));
        self.scratch_len += u64::from(len);
        self.min_zoom = self.min_zoom.min(tile.z);
        self.max_zoom = self.max_zoom.max(tile.z);
        Ok(())
    }

    fn finish(mut self: Box<Self>, info: &PackInfo) -> Result<(), ExportError> {
        let result = self.write_archive(info);
        let _ = std::fs::remove_file(&self.scratch_path);
        result
    }
}

impl Drop for PmTilesWriter {
    fn drop(&mut self) {
        // An export that failed half-way leaves no scratch file behind.
        let _ = std::fs::remove_file(&self.scratch_path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_ids_follow_the_hilbert_curve_zoom_by_zoom() {
        assert_eq!(tile_id(0, 0, 0), 0);
        // Zoom 1 in curve order: (0,0) (0,1) (1,1) (1,0).
        assert_eq!(tile_id(1, 0, 0), 1);
        assert_eq!(tile_id(1, 0, 1), 2);
        assert_eq!(tile_id(1, 1, 1), 3);
        assert_eq!(tile_id(1, 1, 0), 4);
        assert_eq!(tile_id(2, 0, 0), 5);
        // Every tile of a zoom gets a distinct id inside the zoom's range.
        let z = 4u8;
        let mut ids: Vec<u64> = (0..16u32)
            .flat_map(|x| (0..16u32).map(move |y| tile_id(z, x, y)))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 256);
        assert_eq!(ids[0], 85);
        assert_eq!(ids[255], 85 + 255);
    }

    #[test]
    fn consecutive_tiles_encode_offsets_as_zero() {
        let entries = [
            Entry {
                tile_id: 5,
                offset: 0,
                length: 10,
                run_length: 1,
            },
            Entry {
                tile_id: 7,
                offset: 10,
                length: 3,
                run_length: 1,
            },
        ];
        let gz = encode_directory(&entries).expect("encode");
        let raw = crate::gunzip(&gz).expect("gunzip");
        // count, Δids (5, 2), run lengths, lengths, offsets (0+1, then 0 = contiguous)
        assert_eq!(raw, vec![2, 5, 2, 1, 1, 10, 3, 1, 0]);
    }
}

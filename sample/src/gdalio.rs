//! Writing sample layers through GDAL: field specs, values, geometry as WKB, legacy text
//! encodings for DBF files, and the hand-written `.prj` files of legacy deliveries.

use std::path::{Path, PathBuf};

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::vector::{Feature, FieldDefn, Geometry, Layer, LayerAccess, LayerOptions, OGRFieldType};
use gdal::{Dataset, DriverManager};
use gis_core::feature::{Column, FeatureTable};
use importers::encoding::{encode_tcvn3_lossy, encode_vni, EncodeError};

use crate::SampleError;

/// How text values are stored in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Text {
    /// UTF-8, as every modern format expects.
    Utf8,
    /// TCVN3 (VN3) bytes, toned capitals lower-cased as a .VnTimeH user typed them.
    Tcvn3,
    /// VNI-Windows bytes.
    Vni,
}

impl Text {
    /// The name recorded in [`super::SampleFile::encoding`].
    pub fn name(self) -> &'static str {
        match self {
            Text::Utf8 => "utf8",
            Text::Tcvn3 => "tcvn3",
            Text::Vni => "vni",
        }
    }

    fn bytes(self, s: &str) -> Result<Vec<u8>, EncodeError> {
        match self {
            Text::Utf8 => Ok(s.as_bytes().to_vec()),
            Text::Tcvn3 => encode_tcvn3_lossy(s),
            Text::Vni => encode_vni(s),
        }
    }
}

/// Encodes text values for one layer. Both legacy encodings map each character of NFC text on
/// its own, so the bytes of every character seen are kept: the encoders search tables per
/// character, which for a million parcels cost more than writing the shapefile.
#[derive(Debug)]
struct Encoder {
    text: Text,
    chars: std::collections::HashMap<char, Vec<u8>>,
    out: Vec<u8>,
}

impl Encoder {
    fn new(text: Text) -> Self {
        Encoder {
            text,
            chars: std::collections::HashMap::new(),
            out: Vec::new(),
        }
    }

    /// The value to hand to GDAL. Legacy encodings become one char U+0000..U+00FF per byte: the
    /// layer is created with `ENCODING=ISO-8859-1`, so GDAL's UTF-8 → Latin-1 recoding writes
    /// exactly these bytes. Values longer than `width` bytes (characters for UTF-8; 0: no limit)
    /// lose whole characters at the end (never half a VNI letter), as a DBF field holds them.
    fn encode(&mut self, s: &str, width: usize) -> Result<String, EncodeError> {
        let limit = if width == 0 { usize::MAX } else { width };
        if self.text == Text::Utf8 {
            // Modern formats count field widths in characters.
            return Ok(s.chars().take(limit).collect());
        }
        if unicode_normalization::is_nfc_quick(s.chars())
            != unicode_normalization::IsNormalized::Yes
        {
            // Decomposed input: let the encoder normalise, then cut whole bytes.
            let mut bytes = self.text.bytes(s)?;
            bytes.truncate(limit);
            return Ok(bytes.iter().map(|&b| char::from(b)).collect());
        }
        self.out.clear();
        for c in s.chars() {
            let code: &[u8] = if c.is_ascii() {
                &[c as u8]
            } else {
                if !self.chars.contains_key(&c) {
                    let bytes = self.text.bytes(c.encode_utf8(&mut [0; 4]))?;
                    self.chars.insert(c, bytes);
                }
                &self.chars[&c]
            };
            if self.out.len() + code.len() > limit {
                break;
            }
            self.out.extend_from_slice(code);
        }
        Ok(self.out.iter().map(|&b| char::from(b)).collect())
    }
}

/// A field type with its DBF width (0: the driver's default).
#[derive(Debug, Clone, Copy)]
pub(super) enum Ty {
    /// Text of at most this many bytes.
    Str(i32),
    /// 32-bit integer with this many digits.
    Int(i32),
    /// Real with (width, decimals).
    Real(i32, i32),
}

/// One attribute field: its name, taken from the declaration of the layer the file delivers
/// wherever the layer declares the field, and its type and width in the file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    pub name: &'static str,
    pub ty: Ty,
    /// Where the name comes from.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "read by the test against the declarations")
    )]
    pub named: Named,
}

/// Where a [`Field`]'s name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Named {
    /// A legacy name that layer `kind` declares for its column `column`.
    Column {
        kind: &'static str,
        column: &'static str,
    },
    /// A field that layer `kind` declares as carrying its features' own ids.
    SourceId { kind: &'static str },
    /// A field the layer does not declare: the importer keeps it in `extra`.
    Extra,
}

impl Field {
    /// The field of `table`'s column `column`, named by the column's first legacy name (what
    /// the importer tries first). Evaluated in the const field lists, so a column the owner no
    /// longer declares fails the build, never a run.
    pub const fn column(table: &FeatureTable, column: &'static str, ty: Ty) -> Field {
        Field::column_as(table, column, 0, ty)
    }

    /// [`Field::column`] named by the column's `nth` legacy name: a delivery that spells the
    /// field another way the importer maps.
    pub const fn column_as(
        table: &FeatureTable,
        column: &'static str,
        nth: usize,
        ty: Ty,
    ) -> Field {
        let legacy = declared_column(table, column).legacy;
        assert!(
            nth < legacy.len(),
            "the column declares fewer legacy names than the sample asks for"
        );
        Field {
            name: legacy[nth],
            ty,
            named: Named::Column {
                kind: table.kind,
                column,
            },
        }
    }

    /// The field carrying the features' own ids, named by `table`'s first id field.
    pub const fn source_id(table: &FeatureTable, ty: Ty) -> Field {
        let fields = table.source_id_fields;
        assert!(!fields.is_empty(), "the layer declares no id field");
        Field {
            name: fields[0],
            ty,
            named: Named::SourceId { kind: table.kind },
        }
    }

    /// A field the layer does not declare (a remark, a commune code on a layer without one):
    /// deliveries carry such fields, and the importer must keep them in `extra`.
    pub const fn extra(name: &'static str, ty: Ty) -> Field {
        Field {
            name,
            ty,
            named: Named::Extra,
        }
    }
}

/// The column `name` of `table`, in const evaluation.
const fn declared_column(table: &FeatureTable, name: &str) -> &'static Column {
    let columns: &'static [Column] = table.columns;
    let mut i = 0;
    while i < columns.len() {
        if same(columns[i].name.as_bytes(), name.as_bytes()) {
            return &columns[i];
        }
        i += 1;
    }
    panic!("the layer declares no such column")
}

/// `a == b`, in const evaluation.
const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// One attribute value, in the order of the layer's fields.
#[derive(Debug, Clone, Copy)]
pub(super) enum Val<'a> {
    S(&'a str),
    I(i64),
    F(f64),
}

/// A geometry, built as WKB: one call into GDAL per feature instead of one per vertex.
#[derive(Debug, Clone, Copy)]
pub(super) enum Geom<'a> {
    Point((f64, f64)),
    Line(&'a [(f64, f64)]),
    /// One closed outer ring.
    Polygon(&'a [(f64, f64)]),
    /// One polygon with one closed outer ring, typed as a multipolygon.
    MultiPolygon(&'a [(f64, f64)]),
}

fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put_points(buf: &mut Vec<u8>, pts: &[(f64, f64)]) {
    put_u32(buf, pts.len() as u32);
    for &(x, y) in pts {
        buf.extend_from_slice(&x.to_le_bytes());
        buf.extend_from_slice(&y.to_le_bytes());
    }
}

impl Geom<'_> {
    fn wkb(&self, buf: &mut Vec<u8>) {
        buf.clear();
        buf.push(1); // little endian
        match *self {
            Geom::Point((x, y)) => {
                put_u32(buf, 1);
                buf.extend_from_slice(&x.to_le_bytes());
                buf.extend_from_slice(&y.to_le_bytes());
            }
            Geom::Line(pts) => {
                put_u32(buf, 2);
                put_points(buf, pts);
            }
            Geom::Polygon(ring) => {
                put_u32(buf, 3);
                put_u32(buf, 1);
                put_points(buf, ring);
            }
            Geom::MultiPolygon(ring) => {
                put_u32(buf, 6);
                put_u32(buf, 1);
                buf.push(1);
                put_u32(buf, 3);
                put_u32(buf, 1);
                put_points(buf, ring);
            }
        }
    }
}

/// An EPSG CRS with (x = easting/longitude, y = northing/latitude) axis order, the order every
/// sample coordinate is in.
pub(super) fn srs(epsg: u32, path: &Path) -> Result<SpatialRef, SampleError> {
    let mut srs = SpatialRef::from_epsg(epsg).map_err(|e| SampleError::gdal(path, e))?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

/// The transformation from a native TM-3 CRS to WGS84 lon/lat (PROJ picks EPSG:6960 for VN-2000).
pub(super) fn to_wgs84(epsg: u32, path: &Path) -> Result<CoordTransform, SampleError> {
    CoordTransform::new(&srs(epsg, path)?, &srs(gis_core::crs::WGS84, path)?)
        .map_err(|e| SampleError::gdal(path, e))
}

/// Creates a new vector dataset with `driver`, replacing whatever was at `path`.
pub(super) fn create(driver: &str, path: &Path) -> Result<Dataset, SampleError> {
    create_with(driver, path, &[])
}

/// Like [`create`], with dataset creation options.
pub(super) fn create_with(
    driver: &str,
    path: &Path,
    options: &[&str],
) -> Result<Dataset, SampleError> {
    remove_output(path)?;
    let err = |e| SampleError::gdal(path, e);
    let driver = DriverManager::get_driver_by_name(driver).map_err(err)?;
    if options.is_empty() {
        return driver.create_vector_only(path).map_err(err);
    }
    let options: gdal::cpl::CslStringList = options.iter().copied().collect();
    // A raster-less dataset: the same call create_vector_only makes, plus the options.
    driver
        .create_with_band_type_with_options::<u8, _>(path, 0, 0, 0, &options)
        .map_err(err)
}

/// Removes a previous output: the file, a `.gdb` directory, or a shapefile with its sidecars.
pub(super) fn remove_output(path: &Path) -> Result<(), SampleError> {
    let mut victims = vec![path.to_path_buf()];
    if path.extension().is_some_and(|e| e == "shp") {
        for ext in ["shx", "dbf", "prj", "cpg", "qix"] {
            victims.push(path.with_extension(ext));
        }
    }
    for v in victims {
        let result = if v.is_dir() {
            std::fs::remove_dir_all(&v)
        } else {
            std::fs::remove_file(&v)
        };
        match result {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(SampleError::io(&v, e))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Writes the features of one layer.
pub(super) struct LayerWriter<'d> {
    layer: Layer<'d>,
    path: PathBuf,
    fields: &'static [Field],
    idx: Vec<usize>,
    encoder: Encoder,
    buf: Vec<u8>,
    count: u64,
}

/// What a [`LayerWriter`] needs to create its layer.
pub(super) struct LayerSpec<'a> {
    pub name: &'a str,
    pub srs: Option<&'a SpatialRef>,
    pub geom: gdal::vector::OGRwkbGeometryType::Type,
    pub fields: &'static [Field],
    pub options: &'a [&'a str],
    pub text: Text,
}

impl<'d> LayerWriter<'d> {
    /// Creates the layer and its fields in `ds`.
    pub fn create(
        ds: &'d mut Dataset,
        path: &Path,
        spec: LayerSpec<'_>,
    ) -> Result<Self, SampleError> {
        let err = |e| SampleError::gdal(path, e);
        let layer = ds
            .create_layer(LayerOptions {
                name: spec.name,
                srs: spec.srs,
                ty: spec.geom,
                options: (!spec.options.is_empty()).then_some(spec.options),
            })
            .map_err(err)?;
        for field in spec.fields {
            let (ty, width, precision) = match field.ty {
                Ty::Str(w) => (OGRFieldType::OFTString, w, 0),
                Ty::Int(w) => (OGRFieldType::OFTInteger, w, 0),
                Ty::Real(w, p) => (OGRFieldType::OFTReal, w, p),
            };
            let defn = FieldDefn::new(field.name, ty).map_err(err)?;
            if width > 0 {
                defn.set_width(width);
                defn.set_precision(precision);
            }
            defn.add_to_layer(&layer).map_err(err)?;
        }
        // Look the indexes up once: drivers may reorder or rename, and 1M lookups by name cost.
        let defn = layer.defn();
        let idx = spec
            .fields
            .iter()
            .map(|f| defn.field_index(f.name))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        Ok(LayerWriter {
            layer,
            path: path.to_path_buf(),
            fields: spec.fields,
            idx,
            encoder: Encoder::new(spec.text),
            buf: Vec::with_capacity(256),
            count: 0,
        })
    }

    /// Writes one feature.
    pub fn add(&mut self, geom: Geom<'_>, vals: &[Val<'_>]) -> Result<(), SampleError> {
        self.write(geom, vals, None)
    }

    /// Writes one feature after transforming its geometry (native TM-3 → WGS84).
    pub fn add_transformed(
        &mut self,
        geom: Geom<'_>,
        vals: &[Val<'_>],
        transform: &CoordTransform,
    ) -> Result<(), SampleError> {
        self.write(geom, vals, Some(transform))
    }

    fn write(
        &mut self,
        geom: Geom<'_>,
        vals: &[Val<'_>],
        transform: Option<&CoordTransform>,
    ) -> Result<(), SampleError> {
        debug_assert_eq!(vals.len(), self.fields.len());
        let path = &self.path;
        let err = |e| SampleError::gdal(path, e);
        let mut feature = Feature::new(self.layer.defn()).map_err(err)?;
        for ((field, &i), val) in self.fields.iter().zip(&self.idx).zip(vals) {
            match (*val, field.ty) {
                (Val::S(s), Ty::Str(width)) => {
                    let s = self.encoder.encode(s, width.max(0) as usize).map_err(|e| {
                        SampleError::Feature {
                            path: path.clone(),
                            index: self.count,
                            reason: format!("field {}: {e}", field.name),
                        }
                    })?;
                    feature.set_field_string(i, &s).map_err(err)?;
                }
                (Val::I(v), Ty::Int(_)) => {
                    let v = i32::try_from(v).map_err(|_| SampleError::Feature {
                        path: path.clone(),
                        index: self.count,
                        reason: format!("field {}: {v} does not fit a 32-bit integer", field.name),
                    })?;
                    feature.set_field_integer(i, v).map_err(err)?;
                }
                (Val::F(v), Ty::Real(..)) => feature.set_field_double(i, v).map_err(err)?,
                (Val::I(v), Ty::Real(..)) => feature.set_field_double(i, v as f64).map_err(err)?,
                (v, _) => {
                    return Err(SampleError::Feature {
                        path: path.clone(),
                        index: self.count,
                        reason: format!(
                            "field {}: value {v:?} does not match its type",
                            field.name
                        ),
                    })
                }
            }
        }
        geom.wkb(&mut self.buf);
        let mut g = Geometry::from_wkb(&self.buf).map_err(err)?;
        if let Some(t) = transform {
            g.transform_inplace(t).map_err(err)?;
        }
        feature.set_geometry(g).map_err(err)?;
        feature.create(&self.layer).map_err(err)?;
        self.count += 1;
        Ok(())
    }

    /// Features written so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Makes a freshly written shapefile look like a legacy delivery: no `.cpg` (GDAL writes one
/// for `ENCODING=ISO-8859-1`, legacy tools never did) and a hand-written ESRI-style `.prj`.
pub(super) fn finish_legacy_shapefile(shp: &Path, prj: &str) -> Result<(), SampleError> {
    let cpg = shp.with_extension("cpg");
    match std::fs::remove_file(&cpg) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(SampleError::io(&cpg, e)),
        _ => {}
    }
    let prj_path = shp.with_extension("prj");
    std::fs::write(&prj_path, prj).map_err(|e| SampleError::io(&prj_path, e))
}

/// Layer creation options of a legacy shapefile: text bytes pass through unchanged (see
/// [`Text::encode`]), and the DBF header carries a fixed delivery date instead of today's, so
/// that the same seed writes byte-identical files.
pub(super) const LEGACY_SHP_OPTIONS: &[&str] =
    &["ENCODING=ISO-8859-1", "DBF_DATE_LAST_UPDATE=2019-06-28"];

/// `.prj` of old Binh Phuoc deliveries: VN-2000 / TM-3 106°15', ESRI style, with the
/// QĐ 05/2007 link as TOWGS84 in the **Position Vector** convention (rotation signs flipped
/// from the decision), which is what `+towgs84` and WKT1 TOWGS84 expect.
pub(super) const PRJ_BINH_PHUOC: &str = concat!(
    r#"PROJCS["VN_2000_TM3_106_15","#,
    r#"GEOGCS["GCS_VN_2000",DATUM["D_Vietnam_2000",SPHEROID["WGS_1984",6378137.0,298.257223563],"#,
    r#"TOWGS84[-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278]],"#,
    r#"PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],"#,
    r#"PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],"#,
    r#"PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",106.25],"#,
    r#"PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#
);

/// `.prj` of old Dong Nai deliveries: VN-2000 / TM-3 107°45' with the rotations copied
/// **verbatim** from QĐ 05/2007 (Coordinate Frame signs) — the common mistake, 0.56 m off when
/// read as TOWGS84. Kept on purpose: the importer must recognise and report it.
pub(super) const PRJ_DONG_NAI: &str = concat!(
    r#"PROJCS["VN_2000_TM3_107_45","#,
    r#"GEOGCS["GCS_VN_2000",DATUM["D_Vietnam_2000",SPHEROID["WGS_1984",6378137.0,298.257223563],"#,
    r#"TOWGS84[-191.90441429,-39.30318279,-111.45032835,-0.00928836,0.01975479,-0.00427372,0.252906278]],"#,
    r#"PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],"#,
    r#"PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],"#,
    r#"PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",107.75],"#,
    r#"PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_character_encoding_matches_the_encoders() {
        let samples = [
            "Hộ bà Nguyễn Thị Hương",
            "Tổ 3, Ấp 2, Xã Tân Thành",
            "Đang thế chấp tại ngân hàng",
            "Công ty TNHH Cao su Phú Riềng",
            "Đường 21 Tháng 4, Phường Xuân An",
        ];
        for text in [Text::Tcvn3, Text::Vni] {
            let mut enc = Encoder::new(text);
            for s in samples {
                let want: String = text
                    .bytes(s)
                    .expect("encodable")
                    .iter()
                    .map(|&b| char::from(b))
                    .collect();
                assert_eq!(enc.encode(s, 0).expect("encodable"), want, "{s}");
                let cut = enc.encode(s, 10).expect("encodable");
                assert!(cut.chars().count() <= 10 && want.starts_with(&cut), "{s}");
            }
        }
        let mut enc = Encoder::new(Text::Utf8);
        assert_eq!(enc.encode("Phường", 3).expect("utf8"), "Phư");
    }
}

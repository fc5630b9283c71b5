//! The cadastre's feature tables as the importers see them: canonical columns, the legacy field
//! names of ViLIS/FAMIS-style exports that carry them, natural keys, and row rules.

use gis_core::bulk::Value;
use gis_core::feature::{Column, ColumnType::*, Derive, FeatureTable, NaturalKey};
use gis_core::layer::GeometryKind;

fn text(values: &[Value], i: usize) -> Option<&str> {
    match values.get(i) {
        Some(Value::Text(t)) => Some(t.as_str()),
        _ => None,
    }
}

fn digits(code: &str, n: usize) -> bool {
    code.len() == n && code.bytes().all(|b| b.is_ascii_digit())
}

fn check_commune(values: &[Value]) -> Result<(), String> {
    for (i, what, n) in [
        (0, "pre-merger commune code", 5),
        (3, "commune code", 5),
        (5, "province code", 2),
    ] {
        if let Some(code) = text(values, i) {
            if !digits(code, n) {
                return Err(format!("{what} \"{code}\" must be {n} digits"));
            }
        }
    }
    Ok(())
}

fn check_parcel(values: &[Value]) -> Result<(), String> {
    if let Some(code) = text(values, 0) {
        if !digits(code, 5) {
            return Err(format!("commune code \"{code}\" must be 5 digits"));
        }
    }
    for (i, what) in [(1, "sheet number"), (2, "parcel number")] {
        if let Some(Value::Integer(n)) = values.get(i) {
            if *n <= 0 {
                return Err(format!("{what} {n} must be positive"));
            }
        }
    }
    if let Some(code) = text(values, 5) {
        // A parcel may carry several codes ("ONT+CLN"); each must be in a list.
        for part in code
            .split(['+', ',', ';'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            crate::land_use::validate(part, None).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn check_sheet(values: &[Value]) -> Result<(), String> {
    match text(values, 0) {
        Some(code) if !digits(code, 5) => Err(format!("commune code \"{code}\" must be 5 digits")),
        _ => Ok(()),
    }
}

/// A parcel's or sheet's commune, when the delivery has no commune field (a commune's file
/// implies it): the pre-merger code of the commune holding it.
const IN_COMMUNE: Derive = Derive {
    schema: "land",
    table: "communes",
    column: "legacy_code",
    what: "commune",
};

/// `land.communes`.
pub const COMMUNES: FeatureTable = FeatureTable {
    kind: "communes",
    schema: "land",
    table: "communes",
    geometry: GeometryKind::MultiPolygon,
    columns: &[
        Column::new(
            "legacy_code",
            Text,
            &["MAXA", "MA_XA", "XAID", "MADVHC"],
            true,
        )
        .titled("Mã xã (trước 01/07/2025)", "Commune code (pre-merger)"),
        Column::new("legacy_name", Text, &["TENXA", "TEN_XA", "TENDVHC"], true)
            .titled("Tên xã (trước 01/07/2025)", "Commune name (pre-merger)"),
        Column::new("legacy_district", Text, &["HUYEN", "TENHUYEN"], false)
            .titled("Huyện (trước 01/07/2025)", "District (pre-merger)"),
        Column::new("code", Text, &["MAXA_2025", "MAXA_MOI", "MADVHC_MOI"], true)
            .titled("Mã", "Code"),
        Column::new("name", Text, &["TENXA_2025", "TENXA_MOI"], true).titled("Tên", "Name"),
        Column::new("province_code", Text, &["MATINH", "MA_TINH"], true)
            .titled("Mã tỉnh", "Province code"),
    ],
    natural_key: NaturalKey::Columns(&["legacy_code"]),
    source_id_fields: &[],
    check: Some(check_commune),
};

/// `land.map_sheets`.
pub const MAP_SHEETS: FeatureTable = FeatureTable {
    kind: "map_sheets",
    schema: "land",
    table: "map_sheets",
    geometry: GeometryKind::MultiPolygon,
    columns: &[
        Column::new("commune_code", Text, &["MAXA", "XAID", "MADVHC"], true)
            .titled("Mã xã", "Commune code")
            .derived(IN_COMMUNE),
        Column::new(
            "sheet_number",
            Integer,
            &["SHBANDO", "SOTO", "TOBANDO", "SO_TO"],
            true,
        )
        .titled("Số tờ bản đồ", "Map sheet number"),
        Column::new("scale", Integer, &["TYLE", "TI_LE", "TYLEBD"], false).titled("Tỷ lệ", "Scale"),
    ],
    natural_key: NaturalKey::Columns(&["commune_code", "sheet_number"]),
    source_id_fields: &[],
    check: Some(check_sheet),
};

/// `land.parcels`.
pub const PARCELS: FeatureTable = FeatureTable {
    kind: "parcels",
    schema: "land",
    table: "parcels",
    geometry: GeometryKind::MultiPolygon,
    columns: &[
        Column::new("commune_code", Text, &["MAXA", "XAID", "MADVHC"], true)
            .titled("Mã xã", "Commune code")
            .derived(IN_COMMUNE),
        Column::new(
            "sheet_number",
            Integer,
            &["SHBANDO", "SOTO", "TOBANDO", "SO_TO"],
            true,
        )
        .titled("Số tờ bản đồ", "Map sheet number"),
        Column::new(
            "parcel_number",
            Integer,
            &["SHTHUA", "SOTHUA", "SO_THUA", "THUA"],
            true,
        )
        .titled("Số thửa", "Parcel number"),
        Column::new(
            "declared_area_m2",
            Double,
            &["DIENTICH", "DTICH", "DIEN_TICH"],
            false,
        )
        .titled("Diện tích (m²)", "Declared area (m²)"),
        Column::new(
            "legal_area_m2",
            Double,
            &["DIENTICHPL", "DTPL", "DT_PHAPLY"],
            false,
        )
        .titled("Diện tích pháp lý (m²)", "Legal area (m²)"),
        Column::new(
            "land_use_code",
            Text,
            &["MALOAIDAT", "KHLOAIDAT", "LOAIDAT", "MDSD"],
            false,
        )
        .titled("Mã loại đất", "Land-use code"),
        Column::new(
            "owner_name",
            Text,
            &["TENCHU", "CHUSUDUNG", "TENCSD", "CHU_SD"],
            false,
        )
        .titled("Chủ sử dụng", "Land user")
        .restricted(),
        // The owner's address in cadastral exports (ViLIS/FAMIS DIACHI): personal data. Where a
        // parcel lies is `place_name`.
        Column::new("address", Text, &["DIACHI", "DIA_CHI"], false)
            .titled("Địa chỉ chủ sử dụng", "Owner's address")
            .restricted(),
        Column::new("place_name", Text, &["DIADANH", "XUDONG"], false)
            .titled("Địa danh", "Place name"),
        Column::new(
            "certificate_issued",
            Boolean,
            &["DACAPGCN", "CAPGCN"],
            false,
        )
        .titled("Đã cấp GCN", "Certificate issued"),
    ],
    natural_key: NaturalKey::Columns(&["commune_code", "sheet_number", "parcel_number"]),
    source_id_fields: &["THUAID", "MATHUA"],
    check: Some(check_parcel),
};

/// Every cadastral feature table.
pub const ALL: [FeatureTable; 3] = [COMMUNES, MAP_SHEETS, PARCELS];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parcel_rules() {
        let mut row = vec![
            Value::Text("25195".into()),
            Value::Integer(3),
            Value::Integer(12),
            Value::Null,
            Value::Null,
            Value::Text("ONT+CLN".into()),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ];
        assert_eq!(check_parcel(&row), Ok(()));
        row[5] = Value::Text("XYZ".into());
        assert!(check_parcel(&row).is_err());
        row[5] = Value::Null;
        row[0] = Value::Text("2519".into());
        assert!(check_parcel(&row)
            .expect_err("bad code")
            .contains("5 digits"));
        row[0] = Value::Text("25195".into());
        row[2] = Value::Integer(0);
        assert!(check_parcel(&row)
            .expect_err("zero")
            .contains("parcel number"));
    }
}

//! Fuzzing of what a delivery controls on stable Rust (issue 12): the `.prj` CRS detector over
//! mutated real `.prj` texts (it hands them to GDAL/PROJ too), and the encoding detector over
//! mutated legacy-encoded fields. No panic; a detection is always a known code or an error that
//! says why. `BANDO_FUZZ_CASES` raises the number of cases (`bench/fuzz.sh`).

use proptest::prelude::*;

use crate::crs_detect::detect_from_wkt;
use crate::encoding::{detect, encode_tcvn3, encode_vni, LegacyEncoding};

const PRJ_SEEDS: &[&str] = &[
    r#"PROJCS["VN_2000_TM3_106_15",GEOGCS["GCS_VN_2000",DATUM["D_Vietnam_2000",SPHEROID["WGS_1984",6378137.0,298.257223563],TOWGS84[-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",106.25],PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#,
    r#"PROJCS["WGS_1984_UTM_Zone_48N",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",105.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#,
    r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]"#,
    "+proj=tmerc +lat_0=0 +lon_0=105.75 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 +towgs84=-191.90441,-39.30318,-111.45033,0.00928836,-0.01975479,0.00427372,0.252906278 +units=m +no_defs",
];

const FIELD_SEEDS: &[&str] = &[
    "Nguyễn Văn Đức",
    "Đất ở tại nông thôn",
    "Phường Tân Định, Quận 1",
    "Trần Thị Ngọc Ánh",
    "xã Bình Phước",
];

fn cases(default: u32) -> u32 {
    std::env::var("BANDO_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Flips, inserts and deletes bytes at arbitrary places.
fn mutate(mut bytes: Vec<u8>, edits: &[(u8, usize, u8)]) -> Vec<u8> {
    for &(kind, at, byte) in edits {
        let len = bytes.len();
        match kind % 4 {
            0 if len > 0 => bytes[at % len] = byte,
            1 => bytes.insert(at % (len + 1), byte),
            2 if len > 0 => {
                bytes.remove(at % len);
            }
            3 => {
                let token: &[u8] = match byte % 6 {
                    0 => b"[",
                    1 => b"]",
                    2 => b",",
                    3 => b"\"",
                    4 => b"1e999",
                    _ => b"-nan",
                };
                let i = at % (len + 1);
                bytes.splice(i..i, token.iter().copied());
            }
            _ => {}
        }
    }
    bytes
}

fn edits() -> impl Strategy<Value = Vec<(u8, usize, u8)>> {
    prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(128)))]

    #[test]
    fn mutated_prj_files_never_panic(seed in prop::sample::select(PRJ_SEEDS), e in edits()) {
        let text = String::from_utf8_lossy(&mutate(seed.as_bytes().to_vec(), &e)).into_owned();
        match detect_from_wkt(&text) {
            Ok(d) => prop_assert!(d.epsg > 0 && d.epsg < 1_000_000, "{:?}", d),
            Err(err) => prop_assert!(!err.to_string().is_empty()),
        }
    }

    #[test]
    fn mutated_legacy_fields_never_panic(
        seeds in prop::collection::vec(prop::sample::select(FIELD_SEEDS), 1..5),
        vni in any::<bool>(),
        e in edits(),
    ) {
        let samples: Vec<Vec<u8>> = seeds
            .iter()
            .map(|s| {
                let bytes = if vni { encode_vni(s) } else { encode_tcvn3(s) };
                mutate(bytes.unwrap_or_else(|_| s.as_bytes().to_vec()), &e)
            })
            .collect();
        let refs: Vec<&[u8]> = samples.iter().map(Vec::as_slice).collect();
        let d = detect(&refs);
        prop_assert!((0.0..=1.0).contains(&d.confidence), "{:?}", d.confidence);
        for encoding in LegacyEncoding::ALL {
            let _ = encoding.decode(&samples[0]);
        }
    }
}

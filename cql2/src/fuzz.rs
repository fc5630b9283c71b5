//! Mutation fuzzing of both parsers and the compiler on stable Rust (issue 12): valid filters
//! with bytes flipped, inserted, deleted or spliced — what a coverage fuzzer would try first —
//! never panic, and whatever still parses compiles to parameterised SQL or a typed error.
//! `BANDO_FUZZ_CASES` raises the number of cases (`bench/fuzz.sh`); `make test` runs few.

use crate::*;
use proptest::prelude::*;

const SEEDS_TEXT: &[&str] = &[
    "name = 'Phường 1' AND area > 100.5",
    "sheet_number BETWEEN 1 AND 20 OR NOT (is_public = true)",
    "CASEI(name) LIKE 'ng%' AND ACCENTI(name) <> 'x'",
    "S_INTERSECTS(geom, POLYGON((106 11, 107 11, 107 12, 106 12, 106 11)))",
    "S_CONTAINS(geom, POINT(106.8 11.5)) OR S_DISJOINT(geom, LINESTRING(106 11, 107 12))",
    "T_DURING(registered, INTERVAL('2020-01-01', '..'))",
    "registered >= DATE('2020-01-01') AND updated < TIMESTAMP('2024-01-01T00:00:00Z')",
    "name IN ('a', 'b', 'c') AND sheet_number IS NOT NULL",
    "area * 2 + 1 >= sheet_number / 3",
    "S_WITHIN(geom, BBOX(106, 11, 107, 12))",
];

const SEEDS_JSON: &[&str] = &[
    r#"{"op":"and","args":[{"op":"=","args":[{"property":"name"},"x"]},{"op":">","args":[{"property":"area"},10]}]}"#,
    r#"{"op":"s_intersects","args":[{"property":"geom"},{"type":"Point","coordinates":[106.8,11.5]}]}"#,
    r#"{"op":"t_during","args":[{"property":"registered"},{"interval":["2020-01-01",".."]}]}"#,
    r#"{"op":"between","args":[{"property":"sheet_number"},1,20]}"#,
    r#"{"op":"like","args":[{"op":"casei","args":[{"property":"name"}]},"ng%"]}"#,
    r#"{"op":"in","args":[{"property":"name"},["a","b"]]}"#,
    r#"{"op":"not","args":[{"op":"isNull","args":[{"property":"owner_id"}]}]}"#,
    r#"{"op":"s_within","args":[{"property":"geom"},{"bbox":[106,11,107,12]}]}"#,
];

fn cases(default: u32) -> u32 {
    std::env::var("BANDO_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let interesting = prop::sample::select(vec![
        b"(".to_vec(),
        b")".to_vec(),
        b"'".to_vec(),
        b"\"".to_vec(),
        b"\\".to_vec(),
        b",".to_vec(),
        b"[".to_vec(),
        b"]".to_vec(),
        b"{".to_vec(),
        b"}".to_vec(),
        b" NOT ".to_vec(),
        b"1e309".to_vec(),
        b"-".to_vec(),
        b"..".to_vec(),
        "đ".as_bytes().to_vec(),
        vec![0xff, 0xfe],
        vec![0],
    ]);
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), interesting).prop_map(|(i, s)| Edit::Insert(i, s)),
        (any::<usize>(), 1usize..8).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ];
    prop::collection::vec(edit, 1..6)
}

fn mutate(seed: &str, edits: &[Edit]) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    for edit in edits {
        let len = bytes.len().max(1);
        match edit {
            Edit::Flip(i, b) => {
                if let Some(slot) = bytes.get_mut(i % len) {
                    *slot = *b;
                }
            }
            Edit::Insert(i, s) => {
                let at = (i % (bytes.len() + 1)).min(bytes.len());
                bytes.splice(at..at, s.iter().copied());
            }
            Edit::Delete(i, n) => {
                let at = i % len;
                let end = (at + n).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            Edit::Duplicate(i, n) => {
                let at = i % len;
                let end = (at + n).min(bytes.len());
                if at < end {
                    let copy = bytes[at..end].to_vec();
                    bytes.splice(end..end, copy);
                }
            }
        }
    }
    // The server hands the parsers text (query strings are decoded as UTF-8 first).
    String::from_utf8_lossy(&bytes).into_owned()
}

fn queryables() -> Vec<Queryable> {
    use QueryableType::*;
    vec![
        Queryable::new("name", String, r#"t."name""#),
        Queryable::new("sheet_number", Integer, r#"t."sheet_number""#),
        Queryable::new("area", Number, r#"t."area""#),
        Queryable::new("is_public", Boolean, r#"t."is_public""#),
        Queryable::new("registered", Date, r#"t."registered""#),
        Queryable::new("updated", Timestamp, r#"t."updated_at""#),
        Queryable::new("geom", Geometry, r#"t."geom""#),
        Queryable::new("owner_id", String, r#"t."owner_id""#),
    ]
}

/// Whatever parses compiles to SQL that quotes nothing from the input: text from the filter
/// only ever travels as a bind parameter.
fn compiles_cleanly(e: &Expr) -> Result<(), TestCaseError> {
    let q = queryables();
    if let Ok(c) = compile(e, &FilterContext::new(&q)) {
        // The one constant literal: ACCENTI's translation table.
        let (from, to) = crate::compile::accent_translation();
        let sql = c
            .sql
            .replace(&format!("'{from}'"), "")
            .replace(&format!("'{to}'"), "");
        prop_assert!(!sql.contains('\''), "a literal in the SQL: {}", c.sql);
        prop_assert!(!c.sql.contains(';'), "a ';' in the SQL: {}", c.sql);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    #[test]
    fn mutated_text_filters_never_panic(seed in prop::sample::select(SEEDS_TEXT), e in edits()) {
        let src = mutate(seed, &e);
        if let Ok(expr) = parse_text(&src) {
            compiles_cleanly(&expr)?;
        }
    }

    #[test]
    fn mutated_json_filters_never_panic(seed in prop::sample::select(SEEDS_JSON), e in edits()) {
        let src = mutate(seed, &e);
        if let Ok(expr) = parse_json(&src) {
            compiles_cleanly(&expr)?;
        }
    }

    #[test]
    fn spliced_filters_never_panic(
        a in prop::sample::select(SEEDS_TEXT),
        b in prop::sample::select(SEEDS_TEXT),
        cut_a in any::<usize>(),
        cut_b in any::<usize>(),
    ) {
        // Two filters glued at arbitrary points (char boundaries).
        let cut = |s: &str, i: usize| {
            let mut at = i % (s.len() + 1);
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            at
        };
        let src = format!("{}{}", &a[..cut(a, cut_a)], &b[cut(b, cut_b)..]);
        if let Ok(expr) = parse_text(&src) {
            compiles_cleanly(&expr)?;
        }
    }
}

#[test]
fn every_seed_parses() {
    // The seeds must be valid, or the mutations explore only the error paths.
    for s in SEEDS_TEXT {
        if let Err(e) = parse_text(s) {
            panic!("{s}: {e}")
        }
    }
    for s in SEEDS_JSON {
        if let Err(e) = parse_json(s) {
            panic!("{s}: {e}")
        }
    }
}

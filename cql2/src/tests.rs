//! Tests of the CQL2 parsers and compiler: every conformance class in both encodings, SQL
//! snapshots, errors and their positions, an injection corpus, the SQL vocabulary, and
//! property tests that no input panics.

use super::*;
use proptest::prelude::*;
use serde_json::{json, Value};
use unicode_normalization::UnicodeNormalization as _;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn queryables() -> Vec<Queryable> {
    use QueryableType::*;
    vec![
        Queryable::new("name", String, r#"t."name""#),
        Queryable::new("land_use_code", String, r#"t."land_use_code""#),
        Queryable::new("sheet_number", Integer, r#"t."sheet_number""#),
        Queryable::new("area", Number, r#"t."area""#),
        Queryable::new("is_public", Boolean, r#"t."is_public""#),
        Queryable::new("registered", Date, r#"t."registered""#),
        Queryable::new("updated", Timestamp, r#"t."updated_at""#),
        Queryable::new("valid_from", Date, r#"t."valid_from""#),
        Queryable::new("valid_to", Date, r#"t."valid_to""#),
        Queryable::new("geom", Geometry, r#"t."geom""#),
        Queryable::new("tên_đường", String, r#"t."ten_duong""#),
        Queryable::new("owner_id", String, r#"t."owner_id""#),
    ]
}

const FORBIDDEN: &[&str] = &["owner_id", "national_id"];

fn ctx(q: &[Queryable]) -> FilterContext<'_> {
    FilterContext {
        forbidden: FORBIDDEN,
        ..FilterContext::new(q)
    }
}

fn text(src: &str) -> Expr {
    parse_text(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn jsn(v: &Value) -> Expr {
    parse_json_value(v).unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn compiled(e: &Expr) -> CompiledFilter {
    let q = queryables();
    let c = compile(e, &ctx(&q)).unwrap_or_else(|err| panic!("{e:?}: {err}"));
    assert_vocabulary(&c, &q);
    c
}

fn sql_of(src: &str) -> CompiledFilter {
    compiled(&text(src))
}

/// The text and json forms parse to the same tree and compile to `sql` with `params`.
fn check(src: &str, json: Value, sql: &str, params: &[SqlParam]) {
    let t = text(src);
    let j = jsn(&json);
    assert_eq!(t, j, "text and json trees differ for {src}");
    // The json text form goes through the same path.
    assert_eq!(
        parse_json(&json.to_string()).unwrap_or_else(|e| panic!("{e}")),
        j
    );
    let c = compiled(&t);
    assert_eq!(c.sql, sql, "SQL of {src}");
    assert_eq!(c.params, params, "params of {src}");
}

fn text_err(src: &str) -> Cql2Error {
    match parse_text(src) {
        Ok(e) => panic!("{src} parsed: {e:?}"),
        Err(e) => e,
    }
}

fn compile_err(src: &str) -> Cql2Error {
    let q = queryables();
    match compile(&text(src), &ctx(&q)) {
        Ok(c) => panic!("{src} compiled: {c:?}"),
        Err(e) => e,
    }
}

fn json_err(v: Value) -> Cql2Error {
    match parse_json_value(&v) {
        Ok(e) => panic!("{v} parsed: {e:?}"),
        Err(e) => e,
    }
}

fn offset_of(e: &Cql2Error) -> usize {
    match e {
        Cql2Error::Syntax { position, .. } => position.offset,
        other => panic!("not a syntax error: {other:?}"),
    }
}

fn text_param(s: &str) -> SqlParam {
    SqlParam::Text(s.to_string())
}

fn prop(name: &str) -> Value {
    json!({ "property": name })
}

const VOCABULARY: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "LIKE",
    "BETWEEN",
    "IN",
    "IS",
    "NULL",
    "TRUE",
    "FALSE",
    "lower",
    "translate",
    "NULLIF",
    "ST_Intersects",
    "ST_Equals",
    "ST_Disjoint",
    "ST_Touches",
    "ST_Within",
    "ST_Overlaps",
    "ST_Crosses",
    "ST_Contains",
    "ST_Transform",
    "ST_GeomFromText",
    "ST_MakeEnvelope",
    "date",
    "timestamptz",
    "float8",
];

/// Every token of the SQL is a queryable column expression, one of the two `ACCENTI`
/// constants, a keyword or function of [`VOCABULARY`], a `$n` placeholder within the
/// parameters, a whole number (SRIDs, `0`), or operator punctuation; and every parameter is
/// used.
fn assert_vocabulary(c: &CompiledFilter, q: &[Queryable]) {
    let (from, to) = accent_translation();
    let mut rest = c
        .sql
        .replace(&format!("'{from}'"), " ")
        .replace(&format!("'{to}'"), " ");
    let mut columns: Vec<&str> = q.iter().map(|q| q.column.as_str()).collect();
    columns.sort_by_key(|c| std::cmp::Reverse(c.len()));
    for col in columns {
        rest = rest.replace(col, " ");
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut used = std::collections::BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        let start = i;
        if ch.is_whitespace() || "(),=<>+-*/:".contains(ch) {
            i += 1;
        } else if ch == '$' || ch.is_ascii_digit() {
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let digits: String = chars[start + 1..i].iter().collect();
            if ch == '$' {
                let n: usize = digits
                    .parse()
                    .unwrap_or_else(|_| panic!("bad $ in {}", c.sql));
                used.insert(n);
            }
        } else if ch.is_ascii_alphabetic() || ch == '_' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            assert!(
                VOCABULARY.contains(&word.as_str()),
                "unexpected word {word:?} in SQL {}",
                c.sql
            );
        } else {
            panic!("unexpected character {ch:?} in SQL {}", c.sql);
        }
    }
    let first = used.first().copied().unwrap_or(1);
    let expected: std::collections::BTreeSet<usize> = (first..first + c.params.len()).collect();
    assert_eq!(
        used, expected,
        "placeholders of {} vs {:?}",
        c.sql, c.params
    );
}

// ---------------------------------------------------------------------------------------
// Basic CQL2
// ---------------------------------------------------------------------------------------

#[test]
fn cql2_basic_equality_snapshot() {
    check(
        "sheet_number = 12",
        json!({"op": "=", "args": [prop("sheet_number"), 12]}),
        r#"t."sheet_number" = $1"#,
        &[SqlParam::Int(12)],
    );
}

#[test]
fn cql2_basic_all_comparison_operators() {
    for op in ["=", "<>", "<", ">", "<=", ">="] {
        check(
            &format!("area {op} 12.5"),
            json!({"op": op, "args": [prop("area"), 12.5]}),
            &format!(r#"t."area" {op} $1"#),
            &[SqlParam::Float(12.5)],
        );
    }
}

#[test]
fn cql2_basic_literals() {
    check(
        "name = 'Phường Tân Phú'",
        json!({"op": "=", "args": [prop("name"), "Phường Tân Phú"]}),
        r#"t."name" = $1"#,
        &[text_param("Phường Tân Phú")],
    );
    check(
        "name = 'O''Brien'",
        json!({"op": "=", "args": [prop("name"), "O'Brien"]}),
        r#"t."name" = $1"#,
        &[text_param("O'Brien")],
    );
    check(
        "is_public = TRUE",
        json!({"op": "=", "args": [prop("is_public"), true]}),
        r#"t."is_public" = $1"#,
        &[SqlParam::Bool(true)],
    );
    check(
        "is_public <> false",
        json!({"op": "<>", "args": [prop("is_public"), false]}),
        r#"t."is_public" <> $1"#,
        &[SqlParam::Bool(false)],
    );
    check(
        "registered >= DATE('2024-02-29')",
        json!({"op": ">=", "args": [prop("registered"), {"date": "2024-02-29"}]}),
        r#"t."registered" >= $1::date"#,
        &[SqlParam::Date("2024-02-29".into())],
    );
    check(
        "updated < TIMESTAMP('2024-05-31T08:30:00.250Z')",
        json!({"op": "<", "args": [prop("updated"), {"timestamp": "2024-05-31T08:30:00.250Z"}]}),
        r#"t."updated_at" < $1::timestamptz"#,
        &[SqlParam::Timestamp("2024-05-31T08:30:00.250Z".into())],
    );
    check(
        "area > -3.5e2",
        json!({"op": ">", "args": [prop("area"), -350.0]}),
        r#"t."area" > $1"#,
        &[SqlParam::Float(-350.0)],
    );
    check(
        "sheet_number <> -7",
        json!({"op": "<>", "args": [prop("sheet_number"), -7]}),
        r#"t."sheet_number" <> $1"#,
        &[SqlParam::Int(-7)],
    );
    // A date may be compared with a timestamp property.
    check(
        "updated > DATE('2024-01-01')",
        json!({"op": ">", "args": [prop("updated"), {"date": "2024-01-01"}]}),
        r#"t."updated_at" > $1::date"#,
        &[SqlParam::Date("2024-01-01".into())],
    );
}

#[test]
fn cql2_basic_number_forms() {
    assert_eq!(text("area = .5"), text("area = 0.5"));
    assert_eq!(text("area = 5."), text("area = 5.0"));
    assert_eq!(
        text("area = 1E3"),
        jsn(&json!({"op": "=", "args": [prop("area"), 1000.0]}))
    );
    assert_eq!(text("area = +4"), text("area = 4"));
    let big = text("area = 99999999999999999999");
    assert!(matches!(big, Expr::Compare { ref right, .. } if **right == Expr::Float(1e20)));
    let min = text("sheet_number = -9223372036854775808");
    assert!(matches!(min, Expr::Compare { ref right, .. } if **right == Expr::Integer(i64::MIN)));
    assert!(matches!(text_err("area = 1e400"), Cql2Error::Syntax { .. }));
}

#[test]
fn cql2_basic_quoted_and_unicode_identifiers() {
    assert_eq!(text(r#""sheet_number" = 12"#), text("sheet_number = 12"));
    check(
        "tên_đường = 'Lê Lợi'",
        json!({"op": "=", "args": [prop("tên_đường"), "Lê Lợi"]}),
        r#"t."ten_duong" = $1"#,
        &[text_param("Lê Lợi")],
    );
    // A keyword-like name is a property when quoted, or when not used as a function.
    assert_eq!(text(r#""date" = 1"#), text("date = 1"));
    assert_eq!(
        text(r#""date" = 1"#),
        Expr::Compare {
            op: CompareOp::Eq,
            left: Box::new(Expr::Property("date".into())),
            right: Box::new(Expr::Integer(1)),
        }
    );
    // Reserved words need quotes.
    assert!(matches!(text_err("and = 1"), Cql2Error::Syntax { .. }));
    assert!(matches!(
        text(r#""and" = 1"#),
        Expr::Compare { ref left, .. } if **left == Expr::Property("and".into())
    ));
}

#[test]
fn cql2_basic_keywords_are_case_insensitive() {
    let upper =
        text("name = 'a' AND NOT sheet_number = 1 OR is_public = TRUE AND area IS NOT NULL");
    let lower =
        text("name = 'a' and not sheet_number = 1 or is_public = true and area is not null");
    let mixed =
        text("name = 'a' And NoT sheet_number = 1 oR is_public = True aNd area Is nOt NuLl");
    assert_eq!(upper, lower);
    assert_eq!(upper, mixed);
    assert_eq!(
        text("S_Intersects(geom, point(1 2))"),
        text("S_INTERSECTS(geom, POINT(1 2))")
    );
    assert_eq!(
        text("t_before(registered, date('2020-01-01'))"),
        text("T_BEFORE(registered, DATE('2020-01-01'))")
    );
}

#[test]
fn cql2_basic_is_null() {
    check(
        "name IS NULL",
        json!({"op": "isNull", "args": [prop("name")]}),
        r#"t."name" IS NULL"#,
        &[],
    );
    check(
        "geom IS NOT NULL",
        json!({"op": "not", "args": [{"op": "isNull", "args": [prop("geom")]}]}),
        r#"t."geom" IS NOT NULL"#,
        &[],
    );
}

#[test]
fn cql2_basic_logical_operators() {
    check(
        "name = 'x' AND sheet_number = 3",
        json!({"op": "and", "args": [
            {"op": "=", "args": [prop("name"), "x"]},
            {"op": "=", "args": [prop("sheet_number"), 3]}
        ]}),
        r#"(t."name" = $1 AND t."sheet_number" = $2)"#,
        &[text_param("x"), SqlParam::Int(3)],
    );
    check(
        "name = 'x' OR name = 'y' OR name = 'z'",
        json!({"op": "or", "args": [
            {"op": "=", "args": [prop("name"), "x"]},
            {"op": "=", "args": [prop("name"), "y"]},
            {"op": "=", "args": [prop("name"), "z"]}
        ]}),
        r#"(t."name" = $1 OR t."name" = $2 OR t."name" = $3)"#,
        &[text_param("x"), text_param("y"), text_param("z")],
    );
    check(
        "NOT sheet_number = 3",
        json!({"op": "not", "args": [{"op": "=", "args": [prop("sheet_number"), 3]}]}),
        r#"NOT (t."sheet_number" = $1)"#,
        &[SqlParam::Int(3)],
    );
    check(
        "NOT (sheet_number = 3 OR sheet_number = 4)",
        json!({"op": "not", "args": [{"op": "or", "args": [
            {"op": "=", "args": [prop("sheet_number"), 3]},
            {"op": "=", "args": [prop("sheet_number"), 4]}
        ]}]}),
        r#"NOT (t."sheet_number" = $1 OR t."sheet_number" = $2)"#,
        &[SqlParam::Int(3), SqlParam::Int(4)],
    );
    check("TRUE", json!(true), "TRUE", &[]);
    check(
        "FALSE OR is_public = TRUE",
        json!({"op": "or", "args": [false, {"op": "=", "args": [prop("is_public"), true]}]}),
        r#"(FALSE OR t."is_public" = $1)"#,
        &[SqlParam::Bool(true)],
    );
}

#[test]
fn cql2_basic_first_param_numbering() {
    let q = queryables();
    let c = compile(
        &text("name = 'a' AND sheet_number IN (1, 2)"),
        &FilterContext {
            first_param: 5,
            ..ctx(&q)
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.sql, r#"(t."name" = $5 AND t."sheet_number" IN ($6, $7))"#);
    assert_eq!(c.params.len(), 3);
    assert_vocabulary(&c, &q);
    let bad = compile(
        &text("name = 'a'"),
        &FilterContext {
            first_param: 0,
            ..ctx(&q)
        },
    );
    assert!(matches!(bad, Err(Cql2Error::Context(_))));
}

#[test]
fn cql2_literal_vs_literal_and_property_vs_property() {
    check(
        "1 = 1",
        json!({"op": "=", "args": [1, 1]}),
        "$1 = $2",
        &[SqlParam::Int(1), SqlParam::Int(1)],
    );
    check(
        "valid_from < valid_to",
        json!({"op": "<", "args": [prop("valid_from"), prop("valid_to")]}),
        r#"t."valid_from" < t."valid_to""#,
        &[],
    );
    check(
        "(area > 1) = TRUE",
        json!({"op": "=", "args": [{"op": ">", "args": [prop("area"), 1]}, true]}),
        r#"(t."area" > $1) = $2"#,
        &[SqlParam::Int(1), SqlParam::Bool(true)],
    );
}

// ---------------------------------------------------------------------------------------
// Precedence
// ---------------------------------------------------------------------------------------

fn eq(p: &str, v: i64) -> Expr {
    Expr::Compare {
        op: CompareOp::Eq,
        left: Box::new(Expr::Property(p.into())),
        right: Box::new(Expr::Integer(v)),
    }
}

fn not(e: Expr) -> Expr {
    Expr::Not(Box::new(e))
}

#[test]
fn precedence_not_binds_tighter_than_and_than_or() {
    assert_eq!(
        text("area = 1 OR area = 2 AND area = 3"),
        Expr::Or(vec![
            eq("area", 1),
            Expr::And(vec![eq("area", 2), eq("area", 3)])
        ])
    );
    assert_eq!(
        text("area = 1 AND area = 2 OR area = 3"),
        Expr::Or(vec![
            Expr::And(vec![eq("area", 1), eq("area", 2)]),
            eq("area", 3)
        ])
    );
    assert_eq!(
        text("NOT area = 1 AND area = 2"),
        Expr::And(vec![not(eq("area", 1)), eq("area", 2)])
    );
    assert_eq!(
        text("NOT area = 1 OR NOT area = 2 AND area = 3"),
        Expr::Or(vec![
            not(eq("area", 1)),
            Expr::And(vec![not(eq("area", 2)), eq("area", 3)])
        ])
    );
    assert_eq!(text("NOT NOT area = 1"), not(not(eq("area", 1))));
}

#[test]
fn precedence_parentheses() {
    assert_eq!(
        text("(area = 1 OR area = 2) AND area = 3"),
        Expr::And(vec![
            Expr::Or(vec![eq("area", 1), eq("area", 2)]),
            eq("area", 3)
        ])
    );
    assert_eq!(
        text("NOT (area = 1 AND area = 2)"),
        not(Expr::And(vec![eq("area", 1), eq("area", 2)]))
    );
    assert_eq!(text("((((area = 1))))"), eq("area", 1));
    assert_eq!(
        text("(area = 1 AND area = 2) AND area = 3"),
        Expr::And(vec![
            Expr::And(vec![eq("area", 1), eq("area", 2)]),
            eq("area", 3)
        ])
    );
    assert_eq!(
        sql_of("sheet_number = 1 OR sheet_number = 2 AND NOT name = 'x'").sql,
        r#"(t."sheet_number" = $1 OR (t."sheet_number" = $2 AND NOT (t."name" = $3)))"#
    );
    assert_eq!(
        sql_of("(sheet_number = 1 OR sheet_number = 2) AND name = 'x'").sql,
        r#"((t."sheet_number" = $1 OR t."sheet_number" = $2) AND t."name" = $3)"#
    );
}

// ---------------------------------------------------------------------------------------
// Advanced comparison operators
// ---------------------------------------------------------------------------------------

#[test]
fn advanced_like() {
    check(
        "name LIKE 'Tân%'",
        json!({"op": "like", "args": [prop("name"), "Tân%"]}),
        r#"t."name" LIKE $1"#,
        &[text_param("Tân%")],
    );
    check(
        r"name NOT LIKE 'a\_b%'",
        json!({"op": "not", "args": [{"op": "like", "args": [prop("name"), r"a\_b%"]}]}),
        r#"t."name" NOT LIKE $1"#,
        &[text_param(r"a\_b%")],
    );
    check(
        "name LIKE '%''%'",
        json!({"op": "like", "args": [prop("name"), "%'%"]}),
        r#"t."name" LIKE $1"#,
        &[text_param("%'%")],
    );
    check(
        r"name LIKE '100\%'",
        json!({"op": "like", "args": [prop("name"), r"100\%"]}),
        r#"t."name" LIKE $1"#,
        &[text_param(r"100\%")],
    );
    check(
        r"name LIKE 'C:\\dir%'",
        json!({"op": "like", "args": [prop("name"), r"C:\\dir%"]}),
        r#"t."name" LIKE $1"#,
        &[text_param(r"C:\\dir%")],
    );
    // CQL2's \' escape inside a text literal.
    assert_eq!(text(r"name = 'it\'s'"), text("name = 'it''s'"));
}

#[test]
fn advanced_like_errors() {
    // A pattern ending in a lone escape character is refused before PostgreSQL sees it.
    // (In cql2-text a literal cannot end with a backslash: \' escapes the quote.)
    let q = queryables();
    let e = compile(
        &jsn(&json!({"op": "like", "args": [prop("name"), "abc\\"]})),
        &ctx(&q),
    );
    assert!(
        matches!(&e, Err(Cql2Error::Type(m)) if m.contains("escape character")),
        "{e:?}"
    );
    assert!(matches!(
        text_err(r"name LIKE 'abc\'"),
        Cql2Error::Syntax { .. }
    ));
    // An escaped backslash at the end is fine.
    assert!(compile(
        &jsn(&json!({"op": "like", "args": [prop("name"), "abc\\\\"]})),
        &ctx(&q)
    )
    .is_ok());
    assert!(matches!(
        compile_err("sheet_number LIKE '1%'"),
        Cql2Error::Type(_)
    ));
    assert!(matches!(compile_err("geom LIKE '1%'"), Cql2Error::Type(_)));
    // The pattern must be a literal.
    let e = text_err("name LIKE land_use_code");
    assert!(
        e.to_string().contains("expected a text pattern after LIKE"),
        "{e}"
    );
    assert!(matches!(
        json_err(json!({"op": "like", "args": [prop("name"), prop("land_use_code")]})),
        Cql2Error::Json { .. }
    ));
}

#[test]
fn advanced_between() {
    check(
        "area BETWEEN 10 AND 20.5",
        json!({"op": "between", "args": [prop("area"), 10, 20.5]}),
        r#"t."area" BETWEEN $1 AND $2"#,
        &[SqlParam::Int(10), SqlParam::Float(20.5)],
    );
    check(
        "sheet_number NOT BETWEEN 1 AND 9",
        json!({"op": "not", "args": [{"op": "between", "args": [prop("sheet_number"), 1, 9]}]}),
        r#"t."sheet_number" NOT BETWEEN $1 AND $2"#,
        &[SqlParam::Int(1), SqlParam::Int(9)],
    );
    check(
        "area BETWEEN 1 AND 2 AND name = 'x'",
        json!({"op": "and", "args": [
            {"op": "between", "args": [prop("area"), 1, 2]},
            {"op": "=", "args": [prop("name"), "x"]}
        ]}),
        r#"(t."area" BETWEEN $1 AND $2 AND t."name" = $3)"#,
        &[SqlParam::Int(1), SqlParam::Int(2), text_param("x")],
    );
    check(
        "registered BETWEEN DATE('2020-01-01') AND DATE('2020-12-31')",
        json!({"op": "between", "args": [prop("registered"), {"date": "2020-01-01"}, {"date": "2020-12-31"}]}),
        r#"t."registered" BETWEEN $1::date AND $2::date"#,
        &[
            SqlParam::Date("2020-01-01".into()),
            SqlParam::Date("2020-12-31".into()),
        ],
    );
    assert!(matches!(
        compile_err("name BETWEEN 'a' AND 'b'"),
        Cql2Error::Type(_)
    ));
    assert!(matches!(
        compile_err("area BETWEEN 'a' AND 2"),
        Cql2Error::Type(_)
    ));
    let e = text_err("area BETWEEN 1 OR 2");
    assert!(
        e.to_string().contains("expected AND between the bounds"),
        "{e}"
    );
}

#[test]
fn advanced_in() {
    check(
        "land_use_code IN ('ODT', 'ONT', 'CLN')",
        json!({"op": "in", "args": [prop("land_use_code"), ["ODT", "ONT", "CLN"]]}),
        r#"t."land_use_code" IN ($1, $2, $3)"#,
        &[text_param("ODT"), text_param("ONT"), text_param("CLN")],
    );
    check(
        "sheet_number NOT IN (1, 2)",
        json!({"op": "not", "args": [{"op": "in", "args": [prop("sheet_number"), [1, 2]]}]}),
        r#"t."sheet_number" NOT IN ($1, $2)"#,
        &[SqlParam::Int(1), SqlParam::Int(2)],
    );
    check(
        "area IN (1.5)",
        json!({"op": "in", "args": [prop("area"), [1.5]]}),
        r#"t."area" IN ($1)"#,
        &[SqlParam::Float(1.5)],
    );
    assert!(matches!(
        compile_err("land_use_code IN ('ODT', 3)"),
        Cql2Error::Type(_)
    ));
    assert!(matches!(
        json_err(json!({"op": "in", "args": [prop("name"), []]})),
        Cql2Error::Json { .. }
    ));
    assert!(matches!(text_err("name IN ()"), Cql2Error::Syntax { .. }));
    assert!(matches!(
        text_err("name IN ('a' 'b')"),
        Cql2Error::Syntax { .. }
    ));
    assert!(matches!(text_err("name IN 'a'"), Cql2Error::Syntax { .. }));
}

// ---------------------------------------------------------------------------------------
// Case- and accent-insensitive comparison
// ---------------------------------------------------------------------------------------

fn accenti_sql(inner: &str) -> String {
    let (from, to) = accent_translation();
    format!("translate(lower({inner}), '{from}', '{to}')")
}

#[test]
fn casei_compiles_to_lower() {
    check(
        "CASEI(name) = casei('Tân Phú')",
        json!({"op": "=", "args": [
            {"op": "casei", "args": [prop("name")]},
            {"op": "casei", "args": ["Tân Phú"]}
        ]}),
        r#"lower(t."name") = lower($1)"#,
        &[text_param("Tân Phú")],
    );
    check(
        "CASEI(name) LIKE CASEI('tân%')",
        json!({"op": "like", "args": [
            {"op": "casei", "args": [prop("name")]},
            {"op": "casei", "args": ["tân%"]}
        ]}),
        r#"lower(t."name") LIKE lower($1)"#,
        &[text_param("tân%")],
    );
    check(
        "CASEI(name) IN (CASEI('a'), CASEI('B'))",
        json!({"op": "in", "args": [
            {"op": "casei", "args": [prop("name")]},
            [{"op": "casei", "args": ["a"]}, {"op": "casei", "args": ["B"]}]
        ]}),
        r#"lower(t."name") IN (lower($1), lower($2))"#,
        &[text_param("a"), text_param("B")],
    );
    assert!(matches!(
        compile_err("CASEI(area) = 'x'"),
        Cql2Error::Type(_)
    ));
}

#[test]
fn accenti_compiles_to_vietnamese_translate() {
    check(
        "ACCENTI(name) = ACCENTI('Phường Tân Phú')",
        json!({"op": "=", "args": [
            {"op": "accenti", "args": [prop("name")]},
            {"op": "accenti", "args": ["Phường Tân Phú"]}
        ]}),
        &format!("{} = {}", accenti_sql(r#"t."name""#), accenti_sql("$1")),
        &[text_param("Phường Tân Phú")],
    );
    check(
        "ACCENTI(CASEI(name)) LIKE ACCENTI(CASEI('%phu%'))",
        json!({"op": "like", "args": [
            {"op": "accenti", "args": [{"op": "casei", "args": [prop("name")]}]},
            {"op": "accenti", "args": [{"op": "casei", "args": ["%phu%"]}]}
        ]}),
        &format!(
            "{} LIKE {}",
            accenti_sql(r#"lower(t."name")"#),
            accenti_sql("lower($1)")
        ),
        &[text_param("%phu%")],
    );
    assert!(matches!(
        compile_err("ACCENTI(sheet_number) = 'x'"),
        Cql2Error::Type(_)
    ));
    assert!(matches!(
        compile_err("ACCENTI(name) = 3"),
        Cql2Error::Type(_)
    ));
}

/// What PostgreSQL's `translate(lower(x), from, to)` does, for checking the table.
fn simulate_accenti(s: &str) -> String {
    let (from, to) = accent_translation();
    let to: Vec<char> = to.chars().collect();
    s.to_lowercase()
        .chars()
        .filter_map(|c| match from.chars().position(|f| f == c) {
            Some(k) => to.get(k).copied(),
            None => Some(c),
        })
        .collect()
}

#[test]
fn accent_table_is_complete_nfc_and_correct() {
    let (from, to) = accent_translation();
    assert!(!from.contains('\'') && !from.contains('\\'));
    assert!(!to.contains('\'') && !to.contains('\\'));
    assert_eq!(
        from.nfc().collect::<String>(),
        from,
        "the from-string is NFC"
    );
    assert_eq!(to.nfc().collect::<String>(), to);
    let from: Vec<char> = from.chars().collect();
    let to: Vec<char> = to.chars().collect();
    // 67 lower-case letters, 67 upper-case, 8 combining marks deleted.
    assert_eq!(to.len(), 134);
    assert_eq!(from.len(), 134 + 8);
    let mut seen = std::collections::HashSet::new();
    for (k, c) in from.iter().enumerate() {
        assert!(seen.insert(*c), "{c} listed twice");
        let decomposed: Vec<char> = c.to_string().nfd().collect();
        match to.get(k) {
            Some(&base) if *c == 'đ' || *c == 'Đ' => assert_eq!(base, 'd'),
            Some(&base) => {
                assert!(decomposed.len() >= 2, "{c} is a precomposed letter");
                assert_eq!(
                    decomposed[0].to_lowercase().next(),
                    Some(base),
                    "{c} maps to its base letter"
                );
            }
            None => assert!(
                ('\u{300}'..='\u{36F}').contains(c),
                "{c:?} beyond the to-string is a combining mark"
            ),
        }
    }
    // Every Vietnamese vowel with diacritics, written independently here, is covered.
    let vowels = "aăâeêioôơuưy";
    let tones = ['\u{300}', '\u{301}', '\u{309}', '\u{303}', '\u{323}'];
    for v in vowels.chars() {
        let variants = std::iter::once(v.to_string()).chain(
            tones
                .iter()
                .map(|t| format!("{v}{t}").nfc().collect::<String>()),
        );
        for s in variants {
            for c in [s.clone(), s.to_uppercase()] {
                if c.is_ascii() {
                    continue;
                }
                assert_eq!(c.chars().count(), 1, "{c} is one precomposed character");
                assert!(
                    from.contains(&c.chars().next().unwrap_or(' ')),
                    "{c} missing"
                );
            }
        }
    }
}

#[test]
fn accent_stripping_examples() {
    assert_eq!(simulate_accenti("Phường Tân Phú"), "phuong tan phu");
    assert_eq!(simulate_accenti("ĐƯỜNG LÊ LỢI"), "duong le loi");
    assert_eq!(simulate_accenti("Quận Hoàn Kiếm"), "quan hoan kiem");
    assert_eq!(simulate_accenti("Thừa Thiên Huế"), "thua thien hue");
    assert_eq!(simulate_accenti("Bà Rịa – Vũng Tàu"), "ba ria – vung tau");
    assert_eq!(
        simulate_accenti("Quảng Ngãi, Khánh Hòa, Đắk Lắk"),
        "quang ngai, khanh hoa, dak lak"
    );
    // Decomposed (NFD) input loses its combining marks too.
    let nfd: String = "Phường Tân Phú".nfd().collect();
    assert_eq!(simulate_accenti(&nfd), "phuong tan phu");
}

#[test]
fn text_literals_are_normalised_to_nfc() {
    let nfd: String = "Phường".nfd().collect();
    assert_ne!(nfd, "Phường");
    let c = sql_of(&format!("name = '{nfd}'"));
    assert_eq!(c.params, [text_param("Phường")]);
}

// ---------------------------------------------------------------------------------------
// Spatial functions
// ---------------------------------------------------------------------------------------

fn point_param(wkt: &str) -> SqlParam {
    SqlParam::Geometry {
        wkt: wkt.into(),
        srid: 4326,
    }
}

#[test]
fn spatial_basic_point_snapshot() {
    check(
        "S_INTERSECTS(geom, POINT(106.7 10.8))",
        json!({"op": "s_intersects", "args": [prop("geom"), {"type": "Point", "coordinates": [106.7, 10.8]}]}),
        r#"ST_Intersects(t."geom", ST_GeomFromText($1, 4326))"#,
        &[point_param("POINT(106.7 10.8)")],
    );
}

#[test]
fn spatial_basic_bbox_snapshot() {
    check(
        "S_INTERSECTS(geom, BBOX(106.6, 10.7, 106.8, 10.9))",
        json!({"op": "s_intersects", "args": [prop("geom"), {"bbox": [106.6, 10.7, 106.8, 10.9]}]}),
        r#"ST_Intersects(t."geom", ST_MakeEnvelope($1, $2, $3, $4, 4326))"#,
        &[
            SqlParam::Float(106.6),
            SqlParam::Float(10.7),
            SqlParam::Float(106.8),
            SqlParam::Float(10.9),
        ],
    );
    assert_eq!(
        text("S_INTERSECTS(geom, ENVELOPE(106.6, 10.7, 106.8, 10.9))"),
        text("S_INTERSECTS(geom, BBOX(106.6, 10.7, 106.8, 10.9))")
    );
    // Six numbers: elevations are kept in the tree but do not filter.
    check(
        "S_INTERSECTS(geom, BBOX(106, 10, -5, 107, 11, 100))",
        json!({"op": "s_intersects", "args": [prop("geom"), {"bbox": [106, 10, -5, 107, 11, 100]}]}),
        r#"ST_Intersects(t."geom", ST_MakeEnvelope($1, $2, $3, $4, 4326))"#,
        &[
            SqlParam::Float(106.0),
            SqlParam::Float(10.0),
            SqlParam::Float(107.0),
            SqlParam::Float(11.0),
        ],
    );
}

#[test]
fn spatial_literals_are_transformed_to_the_column_srid() {
    let q = queryables();
    let c = ctx(&q);
    let tm3 = FilterContext {
        geometry_srid: 9212,
        ..c
    };
    let out = compile(&text("S_WITHIN(geom, POLYGON((0 0, 1 0, 1 1, 0 0)))"), &tm3)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.sql,
        r#"ST_Within(t."geom", ST_Transform(ST_GeomFromText($1, 4326), 9212))"#
    );
    assert_vocabulary(&out, &q);
    let out = compile(&text("S_INTERSECTS(geom, BBOX(1, 2, 3, 4))"), &tm3)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.sql,
        r#"ST_Intersects(t."geom", ST_Transform(ST_MakeEnvelope($1, $2, $3, $4, 4326), 9212))"#
    );
    let web = FilterContext {
        filter_srid: 3857,
        geometry_srid: 3857,
        ..c
    };
    let out =
        compile(&text("S_INTERSECTS(geom, POINT(1 2))"), &web).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.sql,
        r#"ST_Intersects(t."geom", ST_GeomFromText($1, 3857))"#
    );
    assert_eq!(
        out.params,
        [SqlParam::Geometry {
            wkt: "POINT(1 2)".into(),
            srid: 3857
        }]
    );
}

#[test]
fn spatial_all_functions() {
    for op in SpatialOp::ALL {
        let name = op.name();
        check(
            &format!("{name}(geom, POINT(1 2))"),
            json!({"op": name.to_lowercase(), "args": [prop("geom"), {"type": "Point", "coordinates": [1, 2]}]}),
            &format!(
                r#"{}(t."geom", ST_GeomFromText($1, 4326))"#,
                op.sql_function()
            ),
            &[point_param("POINT(1 2)")],
        );
    }
}

#[test]
fn spatial_all_geometry_types() {
    let cases = [
        (
            "LINESTRING(0 0, 1 1, 2 0)",
            json!({"type": "LineString", "coordinates": [[0, 0], [1, 1], [2, 0]]}),
            "LINESTRING(0 0,1 1,2 0)",
        ),
        (
            "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 3 2, 3 3, 2 2))",
            json!({"type": "Polygon", "coordinates": [
                [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
                [[2, 2], [3, 2], [3, 3], [2, 2]]
            ]}),
            "POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))",
        ),
        (
            "MULTIPOINT((1 2), (3 4))",
            json!({"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]}),
            "MULTIPOINT((1 2),(3 4))",
        ),
        (
            "MULTIPOINT(1 2, 3 4)",
            json!({"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]}),
            "MULTIPOINT((1 2),(3 4))",
        ),
        (
            "MULTILINESTRING((0 0, 1 1), (2 2, 3 3))",
            json!({"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]], [[2, 2], [3, 3]]]}),
            "MULTILINESTRING((0 0,1 1),(2 2,3 3))",
        ),
        (
            "MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
            json!({"type": "MultiPolygon", "coordinates": [
                [[[0, 0], [1, 0], [1, 1], [0, 0]]],
                [[[5, 5], [6, 5], [6, 6], [5, 5]]]
            ]}),
            "MULTIPOLYGON(((0 0,1 0,1 1,0 0)),((5 5,6 5,6 6,5 5)))",
        ),
        (
            "GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1 1))",
            json!({"type": "GeometryCollection", "geometries": [
                {"type": "Point", "coordinates": [1, 2]},
                {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}
            ]}),
            "GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1))",
        ),
        (
            "POINT Z(106.7 10.8 5.5)",
            json!({"type": "Point", "coordinates": [106.7, 10.8, 5.5]}),
            "POINT Z(106.7 10.8 5.5)",
        ),
        (
            "LINESTRING(-105.1 39.5 1, -105.2 39.6 2)",
            json!({"type": "LineString", "coordinates": [[-105.1, 39.5, 1], [-105.2, 39.6, 2]]}),
            "LINESTRING Z(-105.1 39.5 1,-105.2 39.6 2)",
        ),
    ];
    for (wkt, geojson, out) in cases {
        check(
            &format!("S_CONTAINS({wkt}, geom)"),
            json!({"op": "s_contains", "args": [geojson, prop("geom")]}),
            r#"ST_Contains(ST_GeomFromText($1, 4326), t."geom")"#,
            &[point_param(out)],
        );
    }
}

#[test]
fn spatial_errors() {
    let e = text_err("S_INTERSECTS(geom, POLYGON((0 0, 1 0, 1 1, 0 1)))");
    assert_eq!(offset_of(&e), 19);
    assert!(e.to_string().contains("not closed"), "{e}");
    assert!(text_err("S_INTERSECTS(geom, POLYGON((0 0, 1 0, 0 0)))")
        .to_string()
        .contains("at least 4"));
    assert!(text_err("S_INTERSECTS(geom, LINESTRING(0 0))")
        .to_string()
        .contains("at least 2"));
    assert!(text_err("S_INTERSECTS(geom, LINESTRING(0 0, 1 1 1))")
        .to_string()
        .contains("mixes"));
    assert!(text_err("S_INTERSECTS(geom, POINT Z(1 2))")
        .to_string()
        .contains("three numbers"));
    assert!(text_err("S_INTERSECTS(geom, POINT EMPTY)")
        .to_string()
        .contains("EMPTY"));
    assert!(text_err("S_INTERSECTS(geom, BBOX(10, 0, 5, 1))")
        .to_string()
        .contains("antimeridian"));
    assert!(text_err("S_INTERSECTS(geom, BBOX(0, 10, 5, 1))")
        .to_string()
        .contains("south"));
    assert!(text_err("S_INTERSECTS(geom, BBOX(1, 2, 3))")
        .to_string()
        .contains("4 numbers"));
    assert!(
        text_err("S_INTERSECTS(geom, GEOMETRYCOLLECTION(GEOMETRYCOLLECTION(POINT(1 2))))")
            .to_string()
            .contains("cannot contain another")
    );
    assert!(text_err("S_INTERSECTS(geom)")
        .to_string()
        .contains("expected ','"));
    assert!(text_err("S_INTERSECTS(geom, POINT(1))")
        .to_string()
        .contains("y coordinate"));
    // Type errors.
    let e = compile_err("S_INTERSECTS(name, POINT(1 2))");
    assert!(matches!(e, Cql2Error::Type(_)));
    assert!(
        e.to_string().contains("S_INTERSECTS needs two geometries"),
        "{e}"
    );
    assert!(matches!(
        compile_err("geom = POINT(1 2)"),
        Cql2Error::Type(_)
    ));
    assert!(matches!(
        compile_err("S_WITHIN(geom, 3)"),
        Cql2Error::Type(_)
    ));
    // JSON shapes.
    assert!(matches!(
        json_err(
            json!({"op": "s_intersects", "args": [prop("geom"), {"type": "Point", "coordinates": [1]}]})
        ),
        Cql2Error::Json { .. }
    ));
    assert!(matches!(
        json_err(
            json!({"op": "s_intersects", "args": [prop("geom"), {"type": "Circle", "coordinates": [1, 2]}]})
        ),
        Cql2Error::Json { .. }
    ));
    assert!(matches!(
        json_err(json!({"op": "s_intersects", "args": [prop("geom"), {"bbox": [1, 2, 3]}]})),
        Cql2Error::Json { .. }
    ));
    assert!(matches!(
        json_err(json!({"op": "s_intersects", "args": [prop("geom")]})),
        Cql2Error::Json { .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Temporal functions
// ---------------------------------------------------------------------------------------

fn date(s: &str) -> SqlParam {
    SqlParam::Date(s.into())
}

#[test]
fn temporal_basic_instants() {
    check(
        "T_BEFORE(updated, TIMESTAMP('2024-01-01T00:00:00Z'))",
        json!({"op": "t_before", "args": [prop("updated"), {"timestamp": "2024-01-01T00:00:00Z"}]}),
        r#"t."updated_at" < $1::timestamptz"#,
        &[SqlParam::Timestamp("2024-01-01T00:00:00Z".into())],
    );
    check(
        "T_AFTER(registered, DATE('2020-01-01'))",
        json!({"op": "t_after", "args": [prop("registered"), {"date": "2020-01-01"}]}),
        r#"t."registered" > $1::date"#,
        &[date("2020-01-01")],
    );
    check(
        "T_EQUALS(registered, DATE('2020-01-01'))",
        json!({"op": "t_equals", "args": [prop("registered"), {"date": "2020-01-01"}]}),
        r#"t."registered" = $1::date"#,
        &[date("2020-01-01")],
    );
    check(
        "T_INTERSECTS(registered, DATE('2020-01-01'))",
        json!({"op": "t_intersects", "args": [prop("registered"), {"date": "2020-01-01"}]}),
        r#"(t."registered" >= $1::date AND t."registered" <= $1::date)"#,
        &[date("2020-01-01")],
    );
}

#[test]
fn temporal_basic_intervals() {
    check(
        "T_INTERSECTS(registered, INTERVAL('2020-01-01', '2020-12-31'))",
        json!({"op": "t_intersects", "args": [prop("registered"), {"interval": ["2020-01-01", "2020-12-31"]}]}),
        r#"(t."registered" >= $1::date AND t."registered" <= $2::date)"#,
        &[date("2020-01-01"), date("2020-12-31")],
    );
    check(
        "T_INTERSECTS(updated, INTERVAL('2024-01-01T00:00:00Z', '..'))",
        json!({"op": "t_intersects", "args": [prop("updated"), {"interval": ["2024-01-01T00:00:00Z", ".."]}]}),
        r#"t."updated_at" >= $1::timestamptz"#,
        &[SqlParam::Timestamp("2024-01-01T00:00:00Z".into())],
    );
    check(
        "T_BEFORE(registered, INTERVAL('2020-01-01', '..'))",
        json!({"op": "t_before", "args": [prop("registered"), {"interval": ["2020-01-01", ".."]}]}),
        r#"t."registered" < $1::date"#,
        &[date("2020-01-01")],
    );
    // Nothing is before an interval open at its start: no parameter is left unused.
    check(
        "T_BEFORE(registered, INTERVAL('..', '2020-01-01'))",
        json!({"op": "t_before", "args": [prop("registered"), {"interval": ["..", "2020-01-01"]}]}),
        "FALSE",
        &[],
    );
    check(
        "T_AFTER(registered, INTERVAL('..', '2020-01-01'))",
        json!({"op": "t_after", "args": [prop("registered"), {"interval": ["..", "2020-01-01"]}]}),
        r#"t."registered" > $1::date"#,
        &[date("2020-01-01")],
    );
    check(
        "T_EQUALS(registered, INTERVAL('2020-01-01', '2020-01-01'))",
        json!({"op": "t_equals", "args": [prop("registered"), {"interval": ["2020-01-01", "2020-01-01"]}]}),
        r#"(t."registered" = $1::date AND t."registered" = $2::date)"#,
        &[date("2020-01-01"), date("2020-01-01")],
    );
    check(
        "T_INTERSECTS(INTERVAL('..', '..'), registered)",
        json!({"op": "t_intersects", "args": [{"interval": ["..", ".."]}, prop("registered")]}),
        "TRUE",
        &[],
    );
}

#[test]
fn temporal_interval_of_properties() {
    check(
        "T_DURING(DATE('2022-06-01'), INTERVAL(valid_from, valid_to))",
        json!({"op": "t_during", "args": [{"date": "2022-06-01"}, {"interval": [prop("valid_from"), prop("valid_to")]}]}),
        r#"($1::date > t."valid_from" AND $1::date < t."valid_to")"#,
        &[date("2022-06-01")],
    );
    check(
        r#"T_INTERSECTS(INTERVAL("valid_from", valid_to), INTERVAL('2020-01-01', '2020-12-31'))"#,
        json!({"op": "t_intersects", "args": [
            {"interval": [prop("valid_from"), prop("valid_to")]},
            {"interval": ["2020-01-01", "2020-12-31"]}
        ]}),
        r#"(t."valid_to" >= $1::date AND t."valid_from" <= $2::date)"#,
        &[date("2020-01-01"), date("2020-12-31")],
    );
    // DATE(…) inside INTERVAL is accepted as a convenience.
    assert_eq!(
        text("T_AFTER(registered, INTERVAL(DATE('2020-01-01'), '..'))"),
        text("T_AFTER(registered, INTERVAL('2020-01-01', '..'))")
    );
}

#[test]
fn temporal_all_functions_on_intervals() {
    let expected = [
        ("T_AFTER", "t.\"valid_from\" > $1::date"),
        ("T_BEFORE", "t.\"valid_to\" < $1::date"),
        ("T_CONTAINS", "(t.\"valid_from\" < $1::date AND t.\"valid_to\" > $2::date)"),
        ("T_DISJOINT", "(t.\"valid_to\" < $1::date OR t.\"valid_from\" > $2::date)"),
        ("T_DURING", "(t.\"valid_from\" > $1::date AND t.\"valid_to\" < $2::date)"),
        ("T_EQUALS", "(t.\"valid_from\" = $1::date AND t.\"valid_to\" = $2::date)"),
        ("T_FINISHEDBY", "(t.\"valid_from\" < $1::date AND t.\"valid_to\" = $2::date)"),
        ("T_FINISHES", "(t.\"valid_from\" > $1::date AND t.\"valid_to\" = $2::date)"),
        ("T_INTERSECTS", "(t.\"valid_to\" >= $1::date AND t.\"valid_from\" <= $2::date)"),
        ("T_MEETS", "t.\"valid_to\" = $1::date"),
        ("T_METBY", "t.\"valid_from\" = $1::date"),
        (
            "T_OVERLAPPEDBY",
            "(t.\"valid_from\" > $1::date AND t.\"valid_from\" < $2::date AND t.\"valid_to\" > $2::date)",
        ),
        (
            "T_OVERLAPS",
            "(t.\"valid_from\" < $1::date AND t.\"valid_to\" > $1::date AND t.\"valid_to\" < $2::date)",
        ),
        ("T_STARTEDBY", "(t.\"valid_from\" = $1::date AND t.\"valid_to\" > $2::date)"),
        ("T_STARTS", "(t.\"valid_from\" = $1::date AND t.\"valid_to\" < $2::date)"),
    ];
    assert_eq!(expected.len(), TemporalOp::ALL.len());
    for (name, sql) in expected {
        let op = TemporalOp::from_name(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(op.name(), name);
        let json_name = match op {
            TemporalOp::FinishedBy => "t_finishedBy".to_string(),
            TemporalOp::MetBy => "t_metBy".to_string(),
            TemporalOp::OverlappedBy => "t_overlappedBy".to_string(),
            TemporalOp::StartedBy => "t_startedBy".to_string(),
            _ => name.to_lowercase(),
        };
        let t = text(&format!(
            "{name}(INTERVAL(valid_from, valid_to), INTERVAL('2020-01-01', '2020-12-31'))"
        ));
        let j = jsn(&json!({"op": json_name, "args": [
            {"interval": [prop("valid_from"), prop("valid_to")]},
            {"interval": ["2020-01-01", "2020-12-31"]}
        ]}));
        assert_eq!(t, j, "{name}");
        let c = compiled(&t);
        assert_eq!(c.sql, sql, "{name}");
        let dates: Vec<SqlParam> = c.params.clone();
        assert!(!dates.is_empty() && dates.len() <= 2, "{name}: {dates:?}");
    }
}

#[test]
fn temporal_errors() {
    assert!(matches!(
        compile_err("T_BEFORE(name, DATE('2020-01-01'))"),
        Cql2Error::Type(_)
    ));
    assert!(matches!(
        compile_err("T_BEFORE(registered, 3)"),
        Cql2Error::Type(_)
    ));
    assert!(matches!(
        compile_err("T_BEFORE(INTERVAL(name, '..'), DATE('2020-01-01'))"),
        Cql2Error::Type(_)
    ));
    assert!(matches!(
        compile_err("registered = INTERVAL('2020-01-01', '..')"),
        Cql2Error::Type(_)
    ));
    let e = text_err("registered = DATE('2024-02-30')");
    assert_eq!(offset_of(&e), 18);
    assert!(e.to_string().contains("not a valid calendar date"), "{e}");
    assert!(text_err("registered = DATE('2024-1-5')")
        .to_string()
        .contains("YYYY-MM-DD"));
    assert!(text_err("registered = DATE(2024)")
        .to_string()
        .contains("quoted text"));
    assert!(text_err("updated = TIMESTAMP('2024-01-01T00:00:00')")
        .to_string()
        .contains("RFC 3339"));
    assert!(text_err("updated = TIMESTAMP('2024-01-01T24:00:00Z')")
        .to_string()
        .contains("time of day"));
    assert!(matches!(
        text("updated = TIMESTAMP('2024-01-01T07:00:00+07:00')"),
        Expr::Compare { .. }
    ));
    assert!(text_err("T_BEFORE(registered, INTERVAL('2020', '..'))")
        .to_string()
        .contains("interval end"));
    assert!(matches!(
        json_err(json!({"op": "t_before", "args": [prop("registered"), {"date": "yesterday"}]})),
        Cql2Error::Json { .. }
    ));
    assert!(matches!(
        json_err(
            json!({"op": "t_before", "args": [prop("registered"), {"interval": ["2020-01-01"]}]})
        ),
        Cql2Error::Json { .. }
    ));
    let e = text_err("T_NEAR(registered, DATE('2020-01-01'))");
    assert!(
        e.to_string().contains("temporal functions are T_AFTER"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------------------

#[test]
fn arithmetic_operators_and_precedence() {
    check(
        "area * 2 > 100",
        json!({"op": ">", "args": [{"op": "*", "args": [prop("area"), 2]}, 100]}),
        r#"(t."area" * $1) > $2"#,
        &[SqlParam::Int(2), SqlParam::Int(100)],
    );
    check(
        "area + 2 * 3 = 10 - 1",
        json!({"op": "=", "args": [
            {"op": "+", "args": [prop("area"), {"op": "*", "args": [2, 3]}]},
            {"op": "-", "args": [10, 1]}
        ]}),
        r#"(t."area" + ($1 * $2)) = ($3 - $4)"#,
        &[
            SqlParam::Int(2),
            SqlParam::Int(3),
            SqlParam::Int(10),
            SqlParam::Int(1),
        ],
    );
    check(
        "(area + 1) * 2 <= sheet_number",
        json!({"op": "<=", "args": [
            {"op": "*", "args": [{"op": "+", "args": [prop("area"), 1]}, 2]},
            prop("sheet_number")
        ]}),
        r#"((t."area" + $1) * $2) <= t."sheet_number""#,
        &[SqlParam::Int(1), SqlParam::Int(2)],
    );
    check(
        "area / sheet_number > 1.5",
        json!({"op": ">", "args": [{"op": "/", "args": [prop("area"), prop("sheet_number")]}, 1.5]}),
        r#"(t."area"::float8 / NULLIF(t."sheet_number", 0)) > $1"#,
        &[SqlParam::Float(1.5)],
    );
    check(
        "area - 1 - 2 = 0",
        json!({"op": "=", "args": [{"op": "-", "args": [{"op": "-", "args": [prop("area"), 1]}, 2]}, 0]}),
        r#"((t."area" - $1) - $2) = $3"#,
        &[SqlParam::Int(1), SqlParam::Int(2), SqlParam::Int(0)],
    );
    check(
        "-area < 0",
        json!({"op": "<", "args": [{"op": "*", "args": [-1, prop("area")]}, 0]}),
        r#"($1 * t."area") < $2"#,
        &[SqlParam::Int(-1), SqlParam::Int(0)],
    );
    check(
        "area BETWEEN sheet_number * 2 AND sheet_number * 3",
        json!({"op": "between", "args": [
            prop("area"),
            {"op": "*", "args": [prop("sheet_number"), 2]},
            {"op": "*", "args": [prop("sheet_number"), 3]}
        ]}),
        r#"t."area" BETWEEN (t."sheet_number" * $1) AND (t."sheet_number" * $2)"#,
        &[SqlParam::Int(2), SqlParam::Int(3)],
    );
}

#[test]
fn arithmetic_errors() {
    assert!(compile_err("area / 0 > 1")
        .to_string()
        .contains("division by zero"));
    assert!(compile_err("area / 0.0 > 1")
        .to_string()
        .contains("division by zero"));
    assert!(matches!(compile_err("name + 1 = 2"), Cql2Error::Type(_)));
    assert!(matches!(compile_err("area + 'x' = 2"), Cql2Error::Type(_)));
    assert!(matches!(
        parse_json_value(&json!({"op": ">", "args": [{"op": "%", "args": [prop("area"), 2]}, 1]})),
        Err(Cql2Error::Unsupported(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Errors: positions, messages, properties, types, limits
// ---------------------------------------------------------------------------------------

#[test]
fn error_positions_and_messages() {
    let e = text_err("name = ");
    assert_eq!(offset_of(&e), 7);
    assert_eq!(
        e.to_string(),
        "expected a value after '=', found the end of the filter at position 7 (line 1, column 8)"
    );
    let e = text_err("land_use_code = 'ODT' AND sheet_number =");
    assert_eq!(offset_of(&e), 40);
    assert!(
        e.to_string().starts_with("expected a value after '='"),
        "{e}"
    );

    let e = text_err("S_NEAR(geom, POINT(1 2))");
    assert_eq!(offset_of(&e), 0);
    let msg = e.to_string();
    assert!(
        msg.starts_with("unknown function \"S_NEAR\" at position 0"),
        "{msg}"
    );
    assert!(
        msg.contains("spatial functions are S_INTERSECTS, S_EQUALS"),
        "{msg}"
    );

    let e = text_err("name = 'x'\n  AND sheet_number = ");
    match &e {
        Cql2Error::Syntax { position, .. } => {
            assert_eq!((position.line, position.column), (2, 22));
            assert_eq!(position.offset, 32);
        }
        other => panic!("{other:?}"),
    }
    // Positions count characters, not bytes.
    assert_eq!(offset_of(&text_err("name = 'Phường' AND")), 19);

    let e = text_err("name = 'unterminated");
    assert_eq!(offset_of(&e), 7);
    assert!(e.to_string().contains("unterminated text literal"));
    assert!(text_err("").to_string().contains("empty"));
    assert!(text_err("   \n ").to_string().contains("empty"));
    let e = text_err("name");
    assert_eq!(offset_of(&e), 4);
    assert!(e
        .to_string()
        .contains("expected a comparison operator after property \"name\""));
    let e = text_err("name 'x'");
    assert_eq!(offset_of(&e), 5);
    assert!(text_err("name = 'x' sheet_number = 1")
        .to_string()
        .contains("combine conditions with AND or OR"));
    assert!(text_err("name = NULL").to_string().contains("IS NULL"));
    assert!(text_err("name == 'x'").to_string().contains("found '='"));
    assert!(text_err("name != 'x'")
        .to_string()
        .contains("not equal is written <>"));
    assert!(text_err("(name = 'x'").to_string().contains("expected ')'"));
    assert!(text_err("name = 'x')")
        .to_string()
        .contains("unmatched ')'"));
    assert!(text_err("name IS 3")
        .to_string()
        .contains("expected NULL after IS"));
    assert!(text_err("name NOT = 3")
        .to_string()
        .contains("expected LIKE, BETWEEN or IN after NOT"));
    assert!(text_err("sheet_number = 12abc")
        .to_string()
        .contains("runs into a name"));
    assert!(text_err("3 AND name = 'x'")
        .to_string()
        .contains("expected a comparison operator after a number, found AND"));
    assert!(text_err("(3) AND name = 'x'")
        .to_string()
        .contains("expected a comparison operator after a number"));
    assert!(text_err("NOT name")
        .to_string()
        .contains("expected a comparison operator"));
    assert!(text_err("(name)")
        .to_string()
        .contains("expected a comparison operator"));
    assert!(text_err("FOO(name) = 1")
        .to_string()
        .contains("unknown function"));
    assert!(text_err("A_CONTAINS(name, ('a'))")
        .to_string()
        .contains("not supported"));
    assert!(text_err("\"\" = 1")
        .to_string()
        .contains("empty quoted property name"));
    assert!(text_err("\"name = 1")
        .to_string()
        .contains("unterminated quoted property name"));
}

#[test]
fn error_json_locations() {
    let e = parse_json("{\"op\": \"=\",\n \"args\": [1, }").map(|_| ());
    match e {
        Err(Cql2Error::Json { location, message }) => {
            assert!(location.starts_with("line 2, column"), "{location}");
            assert!(message.starts_with("not valid JSON"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let e = json_err(json!({"op": "and", "args": [
        {"op": "=", "args": [prop("name"), "x"]},
        {"op": "like", "args": [prop("name")]}
    ]}));
    assert_eq!(
        e.to_string(),
        "invalid cql2-json at /args/1: \"like\" takes 2 arguments, found 1"
    );
    let e = json_err(json!({"op": "s_near", "args": [prop("geom"), 1]}));
    assert!(
        e.to_string().contains("spatial functions are s_intersects"),
        "{e}"
    );
    let e = json_err(
        json!({"op": "and", "args": [{"op": "=", "args": [prop("name"), "x"]}, prop("name")]}),
    );
    assert!(
        e.to_string().contains("/args/1: expected a condition"),
        "{e}"
    );
    assert!(json_err(prop("name"))
        .to_string()
        .contains("must be a condition"));
    assert!(json_err(json!(null)).to_string().contains("null"));
    assert!(
        json_err(json!({"op": "=", "args": [prop("name"), "x"], "sql": "x"}))
            .to_string()
            .contains("unexpected member")
    );
    assert!(json_err(json!({"op": "=", "args": {}}))
        .to_string()
        .contains("must be an array"));
    assert!(json_err(json!({"op": "=" }))
        .to_string()
        .contains("no \"args\""));
    assert!(json_err(json!({"op": 3, "args": []}))
        .to_string()
        .contains("must be a string"));
    assert!(json_err(json!({"foo": 1}))
        .to_string()
        .contains("unrecognised object"));
    assert!(json_err(json!({"op": "and", "args": [true]}))
        .to_string()
        .contains("at least 2"));
    assert!(json_err(json!({"op": "=", "args": [prop("name"), ["x"]]}))
        .to_string()
        .contains("unexpected array"));
    assert!(matches!(
        parse_json_value(&json!({"op": "a_contains", "args": [prop("name"), ["x"]]})),
        Err(Cql2Error::Unsupported(_))
    ));
    assert!(matches!(
        parse_json_value(&json!({"function": {"name": "f", "args": []}})),
        Err(Cql2Error::Unsupported(_))
    ));
    // JSON operators are matched case-insensitively ("isNull", "ISNULL").
    assert_eq!(
        jsn(&json!({"op": "ISNULL", "args": [prop("name")]})),
        jsn(&json!({"op": "isNull", "args": [prop("name")]}))
    );
}

#[test]
fn unknown_property_lists_queryables_but_not_forbidden_ones() {
    let e = compile_err("nme = 'x'");
    match &e {
        Cql2Error::UnknownProperty {
            property,
            queryables,
        } => {
            assert_eq!(property, "nme");
            assert!(
                queryables.contains("name, land_use_code, sheet_number"),
                "{queryables}"
            );
            assert!(!queryables.contains("owner_id"), "{queryables}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e
        .to_string()
        .starts_with("unknown property \"nme\"; the queryables are: name"));
    let none = compile(&text("x = 1"), &FilterContext::new(&[]));
    assert!(
        matches!(none, Err(Cql2Error::UnknownProperty { ref queryables, .. }) if queryables == "(none)")
    );
    // Case-sensitive names.
    assert!(matches!(
        compile_err("Name = 'x'"),
        Cql2Error::UnknownProperty { .. }
    ));
}

#[test]
fn forbidden_properties_are_a_distinct_error_everywhere() {
    for src in [
        "owner_id = 'x'",
        "national_id = 'x'",
        "owner_id IS NULL",
        "CASEI(owner_id) = 'x'",
        "name IN ('a', owner_id)",
        "owner_id LIKE 'a%'",
        "name = 'x' OR NOT owner_id = 'y'",
        "T_BEFORE(INTERVAL(owner_id, '..'), DATE('2020-01-01'))",
        "S_INTERSECTS(owner_id, POINT(1 2))",
        "area BETWEEN 1 AND owner_id",
    ] {
        let e = compile_err(src);
        assert!(
            matches!(&e, Cql2Error::Forbidden { property } if property == "owner_id" || property == "national_id"),
            "{src}: {e:?}"
        );
    }
    let q = queryables();
    let j = jsn(&json!({"op": "=", "args": [prop("owner_id"), "x"]}));
    assert!(matches!(
        compile(&j, &ctx(&q)),
        Err(Cql2Error::Forbidden { .. })
    ));
    assert_eq!(
        compile_err("owner_id = 'x'").to_string(),
        "property \"owner_id\" may not be used in filters"
    );
}

#[test]
fn type_errors() {
    for src in [
        "land_use_code = 12",
        "sheet_number = '12'",
        "is_public = 1",
        "registered = '2020-01-01'",
        "name < TRUE",
        "area IN ('1')",
        "geom IN (POINT(1 2))",
    ] {
        assert!(matches!(compile_err(src), Cql2Error::Type(_)), "{src}");
    }
    let e = compile_err("land_use_code = 12");
    assert!(e.to_string().contains("text values are quoted"), "{e}");
    let e = compile_err("registered = '2020-01-01'");
    assert!(e.to_string().contains("DATE('YYYY-MM-DD')"), "{e}");
}

#[test]
fn length_limit() {
    let long = format!("name = '{}'", "a".repeat(MAX_INPUT_BYTES));
    assert!(matches!(
        parse_text(&long),
        Err(Cql2Error::TooLong {
            limit: MAX_INPUT_BYTES,
            ..
        })
    ));
    let long_json = format!(
        "{{\"op\": \"=\", \"args\": [{{\"property\": \"name\"}}, \"{}\"]}}",
        "a".repeat(MAX_INPUT_BYTES)
    );
    assert!(matches!(
        parse_json(&long_json),
        Err(Cql2Error::TooLong { .. })
    ));
    // Just under the limit is fine.
    let ok = format!("name = '{}'", "a".repeat(MAX_INPUT_BYTES - 20));
    assert!(parse_text(&ok).is_ok());
}

#[test]
fn depth_limit_text() {
    let nested = |n: usize| format!("{}name = 'x'{}", "(".repeat(n), ")".repeat(n));
    assert!(parse_text(&nested(MAX_DEPTH - 2)).is_ok());
    assert!(matches!(
        parse_text(&nested(MAX_DEPTH + 1)),
        Err(Cql2Error::TooDeep { .. })
    ));
    assert!(matches!(
        parse_text(&nested(20_000)),
        Err(Cql2Error::TooDeep { .. })
    ));
    let nots = format!("{}name = 'x'", "NOT ".repeat(10_000));
    assert!(matches!(parse_text(&nots), Err(Cql2Error::TooDeep { .. })));
    let minus = format!("area = {}1", "- ".repeat(10_000));
    assert!(matches!(parse_text(&minus), Err(Cql2Error::TooDeep { .. })));
    let chain = format!("area = 1{}", " + 1".repeat(10_000));
    assert!(matches!(parse_text(&chain), Err(Cql2Error::TooDeep { .. })));
    let product = format!("area = 1{}", " * 1".repeat(10_000));
    assert!(matches!(
        parse_text(&product),
        Err(Cql2Error::TooDeep { .. })
    ));
    let casei = format!("{}name{} = 'x'", "CASEI(".repeat(5_000), ")".repeat(5_000));
    assert!(matches!(parse_text(&casei), Err(Cql2Error::TooDeep { .. })));
    let like = format!(
        "name LIKE {}'x'{}",
        "CASEI(".repeat(5_000),
        ")".repeat(5_000)
    );
    assert!(matches!(parse_text(&like), Err(Cql2Error::TooDeep { .. })));
    // Long flat chains are fine.
    let flat = vec!["name = 'x'"; 2_000].join(" OR ");
    let c = sql_of(&flat);
    assert_eq!(c.params.len(), 2_000);
    let e = parse_text(&nested(MAX_DEPTH + 1)).map(|_| ());
    assert!(
        matches!(e, Err(Cql2Error::TooDeep { ref location, .. }) if location.contains("position")),
        "{e:?}"
    );
}

#[test]
fn deepest_accepted_text_compiles() {
    // Every level mixes parentheses, NOT, comparison and arithmetic; wrap until the parser
    // refuses, then compile the deepest filter it accepted.
    let mut src = "area = 1".to_string();
    let mut levels = 0;
    loop {
        let deeper = format!("NOT (({src}) = (area + 1 > 0 AND CASEI(name) = 'x'))");
        match parse_text(&deeper) {
            Ok(_) => {
                src = deeper;
                levels += 1;
            }
            Err(Cql2Error::TooDeep { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(levels >= MAX_DEPTH / 4, "{levels}");
    let c = compiled(&text(&src));
    assert!(c.sql.starts_with("NOT ("));
}

#[test]
fn depth_limit_json() {
    let mut v = json!({"op": "=", "args": [prop("name"), "x"]});
    for _ in 0..(MAX_DEPTH + 5) {
        v = json!({"op": "not", "args": [v]});
    }
    assert!(matches!(
        parse_json_value(&v),
        Err(Cql2Error::TooDeep { .. })
    ));
    // Deeper than serde_json's own limit, as text.
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(matches!(parse_json(&deep), Err(Cql2Error::TooDeep { .. })));
    let mut ok = json!({"op": "=", "args": [prop("name"), "x"]});
    for _ in 0..(MAX_DEPTH - 2) {
        ok = json!({"op": "not", "args": [ok]});
    }
    assert!(parse_json_value(&ok).is_ok());
}

#[test]
fn depth_limit_compile_of_hand_built_tree() {
    let mut e = eq("area", 1);
    for _ in 0..10_000 {
        e = Expr::Not(Box::new(e));
    }
    let q = queryables();
    assert!(matches!(
        compile(&e, &ctx(&q)),
        Err(Cql2Error::TooDeep { .. })
    ));
    // Dismantle iteratively so the test itself does not recurse 10 000 deep on drop.
    while let Expr::Not(inner) = e {
        e = *inner;
    }
}

#[test]
fn hand_built_trees_are_checked_too() {
    let q = queryables();
    let c = ctx(&q);
    let bad = [
        Expr::And(vec![]),
        Expr::Property("name".into()),
        Expr::Compare {
            op: CompareOp::Eq,
            left: Box::new(Expr::Property("name".into())),
            right: Box::new(Expr::String("a\0b".into())),
        },
        Expr::Compare {
            op: CompareOp::Eq,
            left: Box::new(Expr::Property("area".into())),
            right: Box::new(Expr::Float(f64::NAN)),
        },
        Expr::Compare {
            op: CompareOp::Eq,
            left: Box::new(Expr::Property("registered".into())),
            right: Box::new(Expr::Date("2020-13-01'; DROP TABLE t; --".into())),
        },
        Expr::In {
            value: Box::new(Expr::Property("name".into())),
            list: vec![],
        },
        Expr::Spatial {
            op: SpatialOp::Intersects,
            left: Box::new(Expr::Property("geom".into())),
            right: Box::new(Expr::Geometry(Geometry::LineString(vec![]))),
        },
    ];
    for e in bad {
        assert!(compile(&e, &c).is_err(), "{e:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Injection corpus
// ---------------------------------------------------------------------------------------

/// Fragments of attacks that must never reach the SQL text.
const POISON: &[&str] = &[
    "DROP", "drop", "--", ";", "/*", "*/", "1=1", "UNION", "SELECT", "OR 1", "'1'", "pg_", "\\",
    "\u{0}", "\u{202E}", "\u{200D}", "\u{FF07}", "\u{2019}", "users",
];

fn assert_clean(c: &CompiledFilter) {
    let (from, to) = accent_translation();
    let sql = c
        .sql
        .replace(&format!("'{from}'"), "")
        .replace(&format!("'{to}'"), "");
    for p in POISON {
        assert!(!sql.contains(p), "{p:?} reached the SQL: {}", c.sql);
    }
    assert!(!sql.contains('\''), "a quote reached the SQL: {}", c.sql);
}

/// Either refused, or compiled to SQL free of user text; returns the compiled filter.
fn safe(result: Result<Expr, Cql2Error>) -> Option<CompiledFilter> {
    let q = queryables();
    let e = result.ok()?;
    let c = compile(&e, &ctx(&q)).ok()?;
    assert_vocabulary(&c, &q);
    assert_clean(&c);
    Some(c)
}

#[test]
fn injection_text_corpus() {
    // Refused, by the parser or (for what parses as arithmetic on unknown names) by the
    // compiler.
    for src in [
        "name = 'x'; DROP TABLE t; --'",
        "name = 'x'; DROP TABLE t",
        r#""name\" = 1 OR 1=1 --" = 'x'"#,
        "name = 'x' -- comment",
        "name = 'x' /* comment */",
        "name = 'x' UNION SELECT * FROM users",
        "name = $1",
        "name = E'\\x27'",
        "name = 'x' OR pg_sleep(10) = 1",
        "name = ’x’",
        "name = ‘x’",
        "name = “x”",
        "name = 'a\u{0}b'",
        "\"na\u{202E}me\" = 'x'",
        "\"na\u{0}me\" = 'x'",
        "name = 'x'\u{0}",
        "sheet_number = 0x41",
        "sheet_number = 1e999",
        "name = 'x' ; ",
        "name = CHR(39)",
        "name = 'x' || 'y'",
        "name = 'x' AND 1 = (SELECT 1)",
        "name = `x`",
        "name = [x]",
        "name = @x",
        "name = \\'x",
    ] {
        assert!(safe(parse_text(src)).is_none(), "{src:?} should be refused");
    }
    // Refused at compile time (unknown property): identifiers never pass through.
    for src in [
        "name = ＇x＇",
        "na\u{200D}me = 'x'",
        "\u{200C}name = 'x'",
        "t.name = 'x'",
        "\"t.name\" = 'x'",
        "ｎａｍｅ = 'x'",
        "namé = 'x'",
    ] {
        let e = text(src);
        let q = queryables();
        assert!(
            matches!(
                compile(&e, &ctx(&q)),
                Err(Cql2Error::UnknownProperty { .. })
            ),
            "{src:?}"
        );
    }
    // Accepted: the attack is inside a text literal and stays a parameter.
    for (src, param) in [
        ("name = 'x''; DROP TABLE t; --'", "x'; DROP TABLE t; --"),
        ("name = 'a'' OR ''1''=''1'", "a' OR '1'='1"),
        ("name = '/* */ -- ; \\ '", "/* */ -- ; \\ "),
        (
            "name LIKE '%''; SELECT pg_sleep(10); --%'",
            "%'; SELECT pg_sleep(10); --%",
        ),
        (
            "name = '\u{202E}x\u{200D}y\u{FF07}\u{2019}'",
            "\u{202E}x\u{200D}y\u{FF07}\u{2019}",
        ),
        (
            "CASEI(name) = CASEI('x''); DROP TABLE users; --')",
            "x'); DROP TABLE users; --",
        ),
        ("ACCENTI(name) = ACCENTI(''' OR 1=1 --')", "' OR 1=1 --"),
        (
            "land_use_code IN ('ODT', '''; DROP TABLE t; --')",
            "'; DROP TABLE t; --",
        ),
    ] {
        let c = safe(parse_text(src)).unwrap_or_else(|| panic!("{src:?} should compile"));
        assert!(
            c.params.contains(&text_param(param)),
            "{src:?}: {:?}",
            c.params
        );
    }
    // `1=1` in CQL2 is a comparison of two literals: parameters, not SQL text.
    let c = safe(parse_text("name = 'x' OR 1=1")).unwrap_or_else(|| panic!("compiles"));
    assert_eq!(c.sql, r#"(t."name" = $1 OR $2 = $3)"#);
}

#[test]
fn injection_json_corpus() {
    let refused = [
        json!({"op": "=", "args": [prop("name\" OR 1=1 --"), "x"]}),
        json!({"op": "=", "args": [prop("name; DROP TABLE t"), "x"]}),
        json!({"op": "DROP TABLE t", "args": []}),
        json!({"op": "=", "args": [prop("name"), "a\u{0}b"]}),
        json!({"op": "=", "args": [prop("registered"), {"date": "2020-01-01'; DROP TABLE t; --"}]}),
        json!({"op": "=", "args": [prop("updated"), {"timestamp": "2020-01-01T00:00:00Z' OR '1'='1"}]}),
        json!({"op": "s_intersects", "args": [prop("geom"), {"type": "Point", "coordinates": ["1); DROP TABLE t; --", 2]}]}),
        json!({"op": "s_intersects", "args": [prop("geom"), {"bbox": ["1", 2, 3, 4]}]}),
        json!({"op": "=", "args": [prop("name"), "x"], "extra": "DROP TABLE t"}),
        json!({"op": "=", "args": [{"property": "name", "sql": "DROP"}, "x"]}),
        json!({"op": "like", "args": [prop("name"), {"op": "lower", "args": ["x"]}]}),
        json!({"op": "=", "args": [prop("name"), {"raw": "1; DROP TABLE t"}]}),
    ];
    for v in refused {
        let q = queryables();
        let out = parse_json_value(&v).and_then(|e| compile(&e, &ctx(&q)));
        assert!(out.is_err(), "{v} should be refused");
    }
    for (v, param) in [
        (
            json!({"op": "=", "args": [prop("name"), "'; DROP TABLE t; --"]}),
            "'; DROP TABLE t; --",
        ),
        (
            json!({"op": "like", "args": [prop("name"), "%' OR '1'='1"]}),
            "%' OR '1'='1",
        ),
        (
            json!({"op": "in", "args": [prop("name"), ["a", "b'); DROP TABLE users; --"]]}),
            "b'); DROP TABLE users; --",
        ),
    ] {
        let c = safe(parse_json_value(&v)).unwrap_or_else(|| panic!("{v} should compile"));
        assert!(c.params.contains(&text_param(param)));
    }
}

#[test]
fn injection_geometry_text_is_rebuilt_from_numbers() {
    let c = safe(parse_text("S_INTERSECTS(geom, POINT(1.50 -0002))")).unwrap_or_else(|| panic!());
    assert_eq!(c.params, [point_param("POINT(1.5 -2)")]);
    assert!(parse_text("S_INTERSECTS(geom, POINT(1 2); DROP TABLE t)").is_err());
    assert!(parse_text("S_INTERSECTS(geom, POINT(1 2 3 4))").is_err());
    assert!(parse_text("S_INTERSECTS(geom, POINT('1' 2))").is_err());
}

#[test]
fn error_messages_do_not_echo_invisible_characters_raw() {
    let e = compile_err("\"na\u{200D}me\" = 'x'");
    let msg = e.to_string();
    assert!(!msg.contains('\u{200D}'), "{msg}");
    assert!(msg.contains("\\u{200d}"), "{msg}");
    let long = format!("{} = 1", "a".repeat(500));
    let msg = compile_err(&long).to_string();
    assert!(msg.len() < 1_000, "{msg}");
    let e = text_err("name = 'x' \u{202E}");
    assert!(!e.to_string().contains('\u{202E}'));
}

// ---------------------------------------------------------------------------------------
// Vocabulary over a broad corpus, parameters, binding
// ---------------------------------------------------------------------------------------

const CORPUS: &[&str] = &[
    "sheet_number = 12",
    "name = 'x' AND (area > 1 OR area < -1.5) AND NOT is_public = TRUE",
    "name LIKE 'a%' AND name NOT LIKE '%b' AND CASEI(name) LIKE CASEI('C%')",
    "ACCENTI(CASEI(tên_đường)) = ACCENTI(CASEI('Đường Lê Lợi'))",
    "area BETWEEN 1 AND 2 AND sheet_number NOT BETWEEN 3 AND 4",
    "land_use_code IN ('ODT', 'ONT') AND sheet_number NOT IN (1, 2, 3)",
    "name IS NULL OR geom IS NOT NULL",
    "S_INTERSECTS(geom, BBOX(106, 10, 107, 11)) AND S_DISJOINT(geom, POINT(1 2))",
    "S_WITHIN(geom, MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0))))",
    "S_CROSSES(geom, GEOMETRYCOLLECTION(POINT(1 2), POLYGON((0 0, 1 0, 1 1, 0 0))))",
    "T_INTERSECTS(updated, INTERVAL('2020-01-01T00:00:00Z', '..'))",
    "T_DISJOINT(INTERVAL(valid_from, valid_to), INTERVAL('2020-01-01', '2021-01-01'))",
    "T_BEFORE(registered, DATE('2020-01-01')) OR T_AFTER(updated, TIMESTAMP('2020-01-01T00:00:00Z'))",
    "area / (sheet_number - 1) * 2 + 3 >= 4",
    "(area > 1) = TRUE",
    "TRUE",
    "FALSE",
];

#[test]
fn vocabulary_of_corpus() {
    let q = queryables();
    let c = ctx(&q);
    for src in CORPUS {
        let e = text(src);
        for cx in [
            c,
            FilterContext {
                geometry_srid: 9212,
                first_param: 7,
                ..c
            },
        ] {
            let out = compile(&e, &cx).unwrap_or_else(|err| panic!("{src}: {err}"));
            assert_vocabulary(&out, &q);
            assert_clean(&out);
        }
    }
}

#[test]
fn params_bind_to_sqlx_arguments() {
    let c = sql_of(
        "name = 'x' AND area > 1.5 AND sheet_number = 2 AND is_public = TRUE AND registered = DATE('2020-01-01') \
         AND updated < TIMESTAMP('2020-01-01T00:00:00Z') AND S_INTERSECTS(geom, POINT(1 2))",
    );
    assert_eq!(c.params.len(), 7);
    let mut args = sqlx::postgres::PgArguments::default();
    c.add_to(&mut args).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sqlx::Arguments::len(&args), 7);
}

#[test]
fn describe_the_api_in_the_module_docs() {
    // The doc example, exercised here too with a forbidden list and another SRID.
    let q = queryables();
    let out = compile(
        &text("S_INTERSECTS(geom, POINT(106.7 10.8)) AND sheet_number = 12"),
        &FilterContext {
            geometry_srid: 9212,
            ..ctx(&q)
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.sql,
        r#"(ST_Intersects(t."geom", ST_Transform(ST_GeomFromText($1, 4326), 9212)) AND t."sheet_number" = $2)"#
    );
    assert_eq!(
        out.params,
        [point_param("POINT(106.7 10.8)"), SqlParam::Int(12)]
    );
}

// ---------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------

const TOKENS: &[&str] = &[
    "name",
    "sheet_number",
    "area",
    "geom",
    "updated",
    "registered",
    "valid_from",
    "valid_to",
    "is_public",
    "owner_id",
    "\"name\"",
    "'x'",
    "'Phường'",
    "'%a_'",
    "'..'",
    "'2020-01-01'",
    "'2020-01-01T00:00:00Z'",
    "''''",
    "12",
    "-3.5",
    "1e3",
    "0",
    "(",
    ")",
    ",",
    "=",
    "<>",
    "<",
    ">",
    "<=",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "AND",
    "OR",
    "NOT",
    "LIKE",
    "BETWEEN",
    "IN",
    "IS",
    "NULL",
    "TRUE",
    "FALSE",
    "CASEI",
    "ACCENTI",
    "S_INTERSECTS",
    "S_WITHIN",
    "POINT",
    "POLYGON",
    "BBOX",
    "T_BEFORE",
    "T_INTERSECTS",
    "DATE",
    "TIMESTAMP",
    "INTERVAL",
    ";",
    "--",
    "'",
    "\"",
    "Z",
    "EMPTY",
    "S_NEAR",
    "\u{202E}",
    "＇",
];

fn check_compiled_output(e: &Expr) {
    let q = queryables();
    if let Ok(c) = compile(e, &ctx(&q)) {
        assert_vocabulary(&c, &q);
        assert_clean(&c);
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "name",
            "area",
            "geom",
            "registered",
            "x",
            "..",
            "2020-01-01",
            "%",
            "'; DROP",
            "=",
            "and",
            "like",
            "in",
            "s_intersects",
            "t_before",
            "casei",
            "Point",
            "owner_id",
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            (
                prop::sample::select(vec![
                    "op",
                    "args",
                    "property",
                    "bbox",
                    "date",
                    "timestamp",
                    "interval",
                    "type",
                    "coordinates",
                    "geometries",
                ]),
                inner.clone()
            )
                .prop_map(|(k, v)| json!({ k: v })),
            (
                prop::sample::select(vec![
                    "=",
                    "<>",
                    "<",
                    "and",
                    "or",
                    "not",
                    "like",
                    "between",
                    "in",
                    "isNull",
                    "casei",
                    "accenti",
                    "s_intersects",
                    "t_before",
                    "t_during",
                    "+",
                    "/",
                    "x",
                ]),
                prop::collection::vec(inner, 0..4)
            )
                .prop_map(|(op, args)| json!({"op": op, "args": args})),
        ]
    })
}

proptest! {
    #[test]
    fn random_text_never_panics(s in "\\PC{0,200}") {
        if let Ok(e) = parse_text(&s) {
            check_compiled_output(&e);
        }
        let _ = parse_json(&s);
    }

    #[test]
    fn random_bytes_never_panic(s in ".{0,100}") {
        let _ = parse_text(&s);
        let _ = parse_json(&s);
    }

    #[test]
    fn token_soup_never_panics_and_compiles_to_vocabulary(
        toks in prop::collection::vec(prop::sample::select(TOKENS.to_vec()), 0..40)
    ) {
        let src = toks.join(" ");
        if let Ok(e) = parse_text(&src) {
            prop_assert!(e.is_predicate());
            check_compiled_output(&e);
        }
        let tight = toks.concat();
        if let Ok(e) = parse_text(&tight) {
            check_compiled_output(&e);
        }
    }

    #[test]
    fn random_json_never_panics(v in json_value()) {
        if let Ok(e) = parse_json_value(&v) {
            prop_assert!(e.is_predicate());
            check_compiled_output(&e);
        }
        let _ = parse_json(&v.to_string());
    }

    #[test]
    fn text_literals_always_become_parameters(s in "\\PC{0,60}") {
        let quoted = s.replace('\'', "''");
        let src = format!("name = '{quoted}'");
        let plain = !s.contains('\\');
        match parse_text(&src) {
            Ok(e) if plain => {
                let q = queryables();
                match compile(&e, &ctx(&q)) {
                    Ok(c) => {
                        prop_assert_eq!(&c.sql, r#"t."name" = $1"#);
                        let expected: String = s.nfc().collect();
                        prop_assert_eq!(c.params, vec![SqlParam::Text(expected)]);
                    }
                    Err(err) => prop_assert!(matches!(err, Cql2Error::Type(_)), "{}", err),
                }
            }
            Ok(e) => check_compiled_output(&e),
            Err(err) => {
                // Only control characters or a trailing backslash (the \' escape) are refused.
                prop_assert!(
                    s.chars().any(|c| (c as u32) < 0x20) || s.contains('\\'),
                    "{:?}: {}", s, err
                );
            }
        }
    }
}

fn lat_first(q: &[Queryable], filter_srid: u32) -> FilterContext<'_> {
    FilterContext {
        filter_srid,
        filter_lat_first: true,
        geometry_srid: 3857,
        ..ctx(q)
    }
}

#[test]
fn filter_crs_latitude_first_literals_are_swapped_into_x_y() {
    let q = queryables();
    for srid in [4326, 4756] {
        let c = lat_first(&q, srid);
        // cql2-text WKT and cql2-json GeoJSON, both written latitude first.
        for e in [
            text("S_INTERSECTS(geom, POINT(11.535 106.883))"),
            jsn(
                &json!({"op": "s_intersects", "args": [prop("geom"), {"type": "Point", "coordinates": [11.535, 106.883]}]}),
            ),
        ] {
            let out = compile(&e, &c).unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(
                out.sql,
                format!(
                    r#"ST_Intersects(t."geom", ST_Transform(ST_GeomFromText($1, {srid}), 3857))"#
                )
            );
            assert_eq!(
                out.params,
                [SqlParam::Geometry {
                    wkt: "POINT(106.883 11.535)".into(),
                    srid
                }]
            );
            assert_vocabulary(&out, &q);
        }
    }
    // Every position of every part is swapped; elevations stay third.
    let c = lat_first(&q, 4326);
    let out = compile(
        &text(
            "S_WITHIN(geom, GEOMETRYCOLLECTION(POLYGON((10 106, 10 107, 11 107, 10 106)), \
             LINESTRING(10.5 106.5, 10.6 106.6), MULTIPOINT((1 2), (3 4))))",
        ),
        &c,
    )
    .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        out.params,
        [SqlParam::Geometry {
            wkt: "GEOMETRYCOLLECTION(POLYGON((106 10,107 10,107 11,106 10)),\
                  LINESTRING(106.5 10.5,106.6 10.6),MULTIPOINT((2 1),(4 3)))"
                .into(),
            srid: 4326
        }]
    );
    let out = compile(&text("S_INTERSECTS(geom, POINT Z(11 106 5))"), &c)
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        out.params,
        [SqlParam::Geometry {
            wkt: "POINT Z(106 11 5)".into(),
            srid: 4326
        }]
    );
}

#[test]
fn filter_crs_latitude_first_bbox_is_min_lat_min_lon_max_lat_max_lon() {
    let q = queryables();
    let c = lat_first(&q, 4326);
    for e in [
        text("S_INTERSECTS(geom, BBOX(10.7, 106.6, 10.9, 106.8))"),
        text("S_INTERSECTS(geom, ENVELOPE(10.7, 106.6, 10.9, 106.8))"),
        jsn(
            &json!({"op": "s_intersects", "args": [prop("geom"), {"bbox": [10.7, 106.6, 10.9, 106.8]}]}),
        ),
    ] {
        let out = compile(&e, &c).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(
            out.sql,
            r#"ST_Intersects(t."geom", ST_Transform(ST_MakeEnvelope($1, $2, $3, $4, 4326), 3857))"#
        );
        // ST_MakeEnvelope(xmin, ymin, xmax, ymax): longitudes first.
        assert_eq!(
            out.params,
            [
                SqlParam::Float(106.6),
                SqlParam::Float(10.7),
                SqlParam::Float(106.8),
                SqlParam::Float(10.9),
            ]
        );
    }
    // A hand-built box that is inverted in latitude is named so after the swap.
    let bad = Expr::Spatial {
        op: SpatialOp::Intersects,
        left: Box::new(Expr::Property("geom".into())),
        right: Box::new(Expr::BBox(BBox {
            west: 11.0,
            south: 106.6,
            east: 10.0,
            north: 106.8,
            elevation: None,
        })),
    };
    let err = compile(&bad, &c).expect_err("inverted box").to_string();
    assert!(err.contains("south 11 is greater than north 10"), "{err}");
}

#[test]
fn filter_crs_x_y_order_is_kept_for_crs84_and_projected() {
    let q = queryables();
    for (srid, wkt) in [
        (4326, "POINT(106.883 11.535)"),
        (9212, "POINT(568850 1275707)"),
    ] {
        let c = FilterContext {
            filter_srid: srid,
            filter_geographic: srid == 4326,
            geometry_srid: 3857,
            ..ctx(&q)
        };
        assert!(!c.filter_lat_first);
        let out = compile(&text(&format!("S_INTERSECTS(geom, {wkt})")), &c)
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(
            out.params,
            [SqlParam::Geometry {
                wkt: wkt.into(),
                srid
            }]
        );
        let out = compile(&text("S_INTERSECTS(geom, BBOX(1, 2, 3, 4))"), &c)
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(out.params, [1.0, 2.0, 3.0, 4.0].map(SqlParam::Float));
    }
}

#[test]
fn filter_crs_latitudes_beyond_90_degrees_name_the_axis_order() {
    let q = queryables();
    // A point written in the other CRS's order: the "latitude" is a longitude.
    let crs84 = compile(&text("S_INTERSECTS(geom, POINT(11.535 106.883))"), &ctx(&q))
        .expect_err("latitude 106.883")
        .to_string();
    assert!(crs84.contains("latitude 106.883"), "{crs84}");
    assert!(crs84.contains("longitude first"), "{crs84}");
    let lat_first_ctx = lat_first(&q, 4326);
    for src in [
        "S_INTERSECTS(geom, POINT(106.883 11.535))",
        "S_INTERSECTS(geom, LINESTRING(11 106, 106.883 11.535))",
        "S_INTERSECTS(geom, BBOX(106.6, 10.7, 106.8, 10.9))",
    ] {
        let err = compile(&text(src), &lat_first_ctx)
            .expect_err(src)
            .to_string();
        assert!(err.contains("latitude 106."), "{src}: {err}");
        assert!(
            err.contains("EPSG:4326") && err.contains("latitude first"),
            "{src}: {err}"
        );
    }
    let bbox = compile(&text("S_INTERSECTS(geom, BBOX(11, -91, 12, 0))"), &ctx(&q))
        .expect_err("south -91")
        .to_string();
    assert!(bbox.contains("latitude -91"), "{bbox}");
    // ±90 itself is a latitude; projected coordinates are not degrees.
    assert!(compile(
        &text("S_INTERSECTS(geom, BBOX(-180, -90, 180, 90))"),
        &ctx(&q)
    )
    .is_ok());
    assert!(compile(
        &text("S_INTERSECTS(geom, BBOX(-90, -180, 90, 180))"),
        &lat_first_ctx
    )
    .is_ok());
    let tm3 = FilterContext {
        filter_srid: 9212,
        filter_geographic: false,
        ..ctx(&q)
    };
    assert!(compile(&text("S_INTERSECTS(geom, POINT(568850 1275707))"), &tm3).is_ok());
}

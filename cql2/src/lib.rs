//! # cql2 — OGC CQL2 filters
//!
//! OGC CQL2 (Common Query Language, OGC 21-065) for OGC API – Features Part 3 filtering:
//! parse a filter written in **cql2-text** ([`parse_text`]) or **cql2-json** ([`parse_json`],
//! [`parse_json_value`]) into one typed tree ([`Expr`]), then [`compile`] the tree into a
//! parameterised PostgreSQL/PostGIS `WHERE` fragment.
//!
//! ```
//! use cql2::{compile, parse_text, FilterContext, Queryable, QueryableType, SqlParam};
//! let queryables = [Queryable::new("sheet_number", QueryableType::Integer, r#"t."sheet_number""#)];
//! let expr = parse_text("sheet_number = 12").unwrap();
//! let filter = compile(&expr, &FilterContext::new(&queryables)).unwrap();
//! assert_eq!(filter.sql, r#"t."sheet_number" = $1"#);
//! assert_eq!(filter.params, [SqlParam::Int(12)]);
//! ```
//!
//! # Conformance classes
//!
//! Basic CQL2 (comparisons, `AND`/`OR`/`NOT`, `IS [NOT] NULL`, text, number, boolean, `DATE`
//! and `TIMESTAMP` literals, plain and double-quoted property names); Advanced Comparison
//! Operators (`[NOT] LIKE`, `[NOT] BETWEEN`, `[NOT] IN`); Case-insensitive and
//! Accent-insensitive Comparison (`CASEI`, `ACCENTI`); Basic Spatial Functions and Spatial
//! Functions (`S_INTERSECTS`, `S_EQUALS`, `S_DISJOINT`, `S_TOUCHES`, `S_WITHIN`, `S_OVERLAPS`,
//! `S_CROSSES`, `S_CONTAINS` over WKT / GeoJSON points, lines, polygons, their multi forms,
//! geometry collections and `BBOX`); Temporal Functions (all fifteen `T_…` functions over
//! `DATE`, `TIMESTAMP` and `INTERVAL`, open ends `'..'` included); Arithmetic (`+ - * /`).
//! Not supported: array functions (`A_…`), custom functions, `%`, `div`, `^`, `EMPTY`
//! geometries. Keywords are case-insensitive; property names are case-sensitive.
//! Extensions: `ENVELOPE(…)` is read as `BBOX(…)` (same argument order), `BETWEEN` accepts
//! dates and timestamps as well as numbers, timestamps may carry a `±hh:mm` offset.
//!
//! # What the compiler emits
//!
//! | CQL2 | SQL |
//! |---|---|
//! | property | the caller's column expression ([`Queryable::column`]) |
//! | literal | `$n` (dates `$n::date`, timestamps `$n::timestamptz`) |
//! | `a = b` (`<>`, `<`, …) | `a = b` |
//! | `AND` / `OR` | `(a AND b)` / `(a OR b)` — always parenthesised |
//! | `NOT p` | `NOT (p)`; `IS NOT NULL`, `NOT LIKE`, `NOT BETWEEN`, `NOT IN` directly |
//! | `a LIKE 'p'` | `a LIKE $n` (PostgreSQL's default escape `\` is CQL2's) |
//! | `BETWEEN`, `IN`, `IS NULL` | the same SQL construct |
//! | `CASEI(x)` | `lower(x)` |
//! | `ACCENTI(x)` | `translate(lower(x), '<Vietnamese letters with diacritics>', '<base letters>')` (¹) |
//! | `S_INTERSECTS(a, b)` … | `ST_Intersects(a, b)` … |
//! | geometry literal | `ST_GeomFromText($n, filter_srid)`, in `ST_Transform(…, geometry_srid)` when they differ |
//! | `BBOX(w, s, e, n)` | `ST_MakeEnvelope($a, $b, $c, $d, filter_srid)`, transformed likewise |
//!
//! # Axis order of `filter-crs`
//!
//! Coordinates in a filter follow the axis order of the filter's CRS (OGC API – Features
//! Part 3 with Part 2): CRS84 (the default) and projected CRSs are x/y (longitude or easting
//! first); a geographic CRS named by EPSG code (EPSG:4326, EPSG:4756 VN-2000) is latitude
//! first, and `BBOX` is then `BBOX(minLat, minLon, maxLat, maxLon)`. With
//! [`FilterContext::filter_lat_first`] the compiler swaps every literal's first two ordinates
//! (and the box's numbers) before binding, so the WKT and envelope PostGIS receives are always
//! x/y.
//! | `T_…(a, b)` | comparisons of the start and end points of `a` and `b` (an instant starts and ends at itself) |
//! | `a + b`, `a / b` | `(a + b)`, `(a::float8 / NULLIF(b, 0))` |
//! | `TRUE` / `FALSE` as a predicate | `TRUE` / `FALSE` |
//!
//! (¹) `unaccent` may not be installed, so accents are stripped with a fixed table
//! ([`accent_translation`]): every Vietnamese letter with diacritics in both cases and `đ`/`Đ`,
//! plus the combining marks of decomposed text. Because of the `lower`, `ACCENTI` also folds
//! case — stricter CQL2 would keep `ACCENTI('A') <> ACCENTI('a')`; Vietnamese users expect
//! `ACCENTI(ten) = ACCENTI('phuong tan phu')` to find "Phường Tân Phú".
//!
//! # Safety
//!
//! Every value the user wrote reaches PostgreSQL only as a bind parameter ([`SqlParam`]);
//! identifiers come only from the caller's queryables; everything else in the SQL is a fixed
//! vocabulary of keywords, function names, SRIDs from the [`FilterContext`] and `$n`.
//! Restricted properties ([`FilterContext::forbidden`]) are refused with
//! [`Cql2Error::Forbidden`]. Inputs over [`MAX_INPUT_BYTES`] and nesting deeper than
//! [`MAX_DEPTH`] are refused, so no filter can exhaust the stack; no input panics.
//! Text literals are normalised to Unicode NFC (the form bando stores text in).
#![deny(missing_docs)]

mod ast;
mod compile;
mod json;
mod text;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

pub use ast::{
    ArithmeticOp, BBox, CompareOp, Coord, Expr, Geometry, IntervalBound, SpatialOp, TemporalOp,
};
pub use compile::{
    accent_translation, compile, CompiledFilter, FilterContext, Queryable, QueryableType, SqlParam,
};
pub use json::{parse_json, parse_json_value};
pub use text::parse_text;

/// Longest filter accepted, in bytes of UTF-8 (cql2-text or cql2-json text): 64 KiB.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;

/// Deepest nesting accepted: parentheses, `NOT`, function calls, arithmetic chains, json
/// objects. Deeper filters are refused with [`Cql2Error::TooDeep`].
pub const MAX_DEPTH: usize = 64;

/// Where in a cql2-text input something is: 0-based character offset, 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Characters (not bytes) before the position.
    pub offset: usize,
    /// Line, counting from 1.
    pub line: usize,
    /// Column in characters, counting from 1.
    pub column: usize,
}

impl Position {
    /// The position of the character at `offset` in `input`.
    pub fn in_text(input: &str, offset: usize) -> Position {
        let (mut line, mut column) = (1, 1);
        for c in input.chars().take(offset) {
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        Position {
            offset,
            line,
            column,
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "position {} (line {}, column {})",
            self.offset, self.line, self.column
        )
    }
}

/// Why a filter was refused. Every variant but [`Cql2Error::Forbidden`] (HTTP 403) and
/// [`Cql2Error::Context`] (a server bug, 500) is the client's mistake (HTTP 400); messages
/// are meant for the person who wrote the filter and echo their text only shortened and
/// escaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Cql2Error {
    /// cql2-text that does not follow the grammar.
    #[error("{message} at {position}{}", hint_suffix(.hint))]
    Syntax {
        /// Where the problem was found.
        position: Position,
        /// What is wrong, e.g. "expected a value after '=', found the end of the filter".
        message: String,
        /// What would be accepted instead, when that helps.
        hint: Option<String>,
    },
    /// cql2-json that is not JSON or not a CQL2 expression.
    #[error("invalid cql2-json at {location}: {message}")]
    Json {
        /// `line L, column C` for JSON syntax errors, a JSON Pointer (`/args/1`) otherwise.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The input is longer than [`MAX_INPUT_BYTES`].
    #[error("the filter is {len} bytes long; the limit is {limit} bytes")]
    TooLong {
        /// Length of the input in bytes.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The input nests deeper than [`MAX_DEPTH`].
    #[error("the filter is nested more than {limit} levels deep (at {location})")]
    TooDeep {
        /// The limit.
        limit: usize,
        /// Where the limit was crossed.
        location: String,
    },
    /// A property that is not among the queryables.
    #[error("unknown property {}; the queryables are: {queryables}", echo(.property))]
    UnknownProperty {
        /// The name as written.
        property: String,
        /// The queryable names, comma-separated.
        queryables: String,
    },
    /// A restricted property (HTTP 403).
    #[error("property {} may not be used in filters", echo(.property))]
    Forbidden {
        /// The name as written.
        property: String,
    },
    /// Operands of the wrong type, e.g. a text property compared with a number.
    #[error("{0}")]
    Type(String),
    /// Valid CQL2 that bando does not implement (array functions, custom functions, …).
    #[error("{0}")]
    Unsupported(String),
    /// The [`FilterContext`] itself is unusable (the caller's bug, not the user's).
    #[error("invalid filter context: {0}")]
    Context(String),
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_deref()
        .map(|h| format!("; {h}"))
        .unwrap_or_default()
}

/// User text for an error message: at most 40 characters, quoted, with control, format
/// (bidi overrides, zero-width joiners) and other invisible characters escaped.
pub(crate) fn echo(s: &str) -> String {
    const MAX: usize = 40;
    let mut t: String = s.chars().take(MAX).collect();
    if s.chars().nth(MAX).is_some() {
        t.push('…');
    }
    format!("{t:?}")
}

fn too_long(input: &str) -> Result<(), Cql2Error> {
    if input.len() > MAX_INPUT_BYTES {
        Err(Cql2Error::TooLong {
            len: input.len(),
            limit: MAX_INPUT_BYTES,
        })
    } else {
        Ok(())
    }
}

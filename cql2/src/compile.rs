//! Compiles an [`Expr`] into a parameterised PostgreSQL/PostGIS boolean expression.
//!
//! User values become bind parameters ([`SqlParam`]); property names become the column
//! expressions of the caller's [`Queryable`]s; everything else is a fixed vocabulary. Types
//! are checked on the way: a text property compared with a number, `LIKE` on a number, a
//! spatial function on a non-geometry property are errors, not runtime SQL failures.

use std::sync::OnceLock;

use sqlx::postgres::PgArguments;
use sqlx::Arguments as _;
use unicode_normalization::UnicodeNormalization as _;

use super::ast::{
    check_date, check_text, check_timestamp, ArithmeticOp, BBox, CompareOp, Expr, IntervalBound,
    TemporalOp,
};
use super::{echo, Cql2Error, MAX_DEPTH};

/// The type of a queryable, as advertised in its JSON schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryableType {
    /// Text (`text`, `varchar`).
    String,
    /// Any number (`double precision`, `numeric`).
    Number,
    /// A whole number (`integer`, `bigint`).
    Integer,
    /// `boolean`.
    Boolean,
    /// `date`.
    Date,
    /// `timestamp` / `timestamptz`.
    Timestamp,
    /// A PostGIS `geometry` in [`FilterContext::geometry_srid`].
    Geometry,
}

/// A property a filter may use: its public name, its type and the SQL that reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queryable {
    /// The name clients write (case-sensitive).
    pub name: String,
    /// Its type, used to check the filter.
    pub ty: QueryableType,
    /// The SQL expression for it, already quoted by the caller, e.g. `t."land_use_code"`.
    /// It is trusted and copied into the SQL verbatim.
    pub column: String,
}

impl Queryable {
    /// A queryable.
    pub fn new(name: impl Into<String>, ty: QueryableType, column: impl Into<String>) -> Self {
        Queryable {
            name: name.into(),
            ty,
            column: column.into(),
        }
    }
}

/// What the compiler needs to know about the collection being filtered.
#[derive(Debug, Clone, Copy)]
pub struct FilterContext<'a> {
    /// The properties filters may use.
    pub queryables: &'a [Queryable],
    /// Restricted property names: using one fails with [`Cql2Error::Forbidden`] (HTTP 403)
    /// rather than with "unknown property"; they are never listed in error messages.
    pub forbidden: &'a [&'a str],
    /// SRID the geometry literals are written in (`filter-crs`); 4326 (CRS84, longitude
    /// first — PostGIS's axis order for 4326) by default.
    pub filter_srid: u32,
    /// The first axis of `filter_srid` is latitude (northing): geometry literals and `BBOX`
    /// numbers are read in that order and swapped into x/y before they reach PostGIS. True
    /// for a geographic CRS named by its EPSG code (EPSG:4326, EPSG:4756), false for CRS84 and
    /// for projected CRSs (easting first). The caller knows which (see
    /// `gis_core::features::OutputCrs::lat_first`).
    pub filter_lat_first: bool,
    /// `filter_srid` is geographic (degrees): a literal with a latitude beyond ±90° is refused
    /// with a [`Cql2Error::Type`] that names the expected axis order, since it is almost
    /// always a longitude written where the latitude belongs (PostGIS cannot transform it).
    /// True in [`FilterContext::new`] (CRS84); set it to false with a projected `filter_srid`.
    pub filter_geographic: bool,
    /// SRID of the geometry queryables' columns; literals are transformed to it.
    pub geometry_srid: u32,
    /// Number of the first placeholder (`$1` by default), for callers whose query already
    /// has parameters.
    pub first_param: usize,
}

impl<'a> FilterContext<'a> {
    /// A context with no restricted properties, SRID 4326 (CRS84, longitude first) on both
    /// sides and `$1` first.
    pub fn new(queryables: &'a [Queryable]) -> Self {
        FilterContext {
            queryables,
            forbidden: &[],
            filter_srid: 4326,
            filter_lat_first: false,
            filter_geographic: true,
            geometry_srid: 4326,
            first_param: 1,
        }
    }
}

/// A bind parameter, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    /// Text (NFC-normalised), bound as `text`.
    Text(String),
    /// A number with a fraction or exponent, bound as `float8`.
    Float(f64),
    /// A whole number, bound as `int8`.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A validated `YYYY-MM-DD`, bound as text; the SQL casts it (`$n::date`).
    Date(String),
    /// A validated RFC 3339 timestamp, bound as text; the SQL casts it (`$n::timestamptz`).
    Timestamp(String),
    /// Well-known text built by the parser from numbers, bound as text; `srid` is the SRID the
    /// SQL reads it in (informational: it is written in the SQL, not bound).
    Geometry {
        /// The WKT.
        wkt: String,
        /// Its SRID.
        srid: u32,
    },
}

impl SqlParam {
    /// Appends the value to sqlx arguments with the type the SQL expects.
    pub fn add_to(&self, args: &mut PgArguments) -> Result<(), sqlx::error::BoxDynError> {
        match self {
            SqlParam::Text(s)
            | SqlParam::Date(s)
            | SqlParam::Timestamp(s)
            | SqlParam::Geometry { wkt: s, .. } => args.add(s.clone()),
            SqlParam::Float(f) => args.add(*f),
            SqlParam::Int(i) => args.add(*i),
            SqlParam::Bool(b) => args.add(*b),
        }
    }
}

/// The result of [`compile`]: a boolean SQL expression and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledFilter {
    /// The SQL, to be used as (part of) a `WHERE` clause; `AND`/`OR` groups come
    /// parenthesised so it can be `AND`-ed with other conditions as is.
    pub sql: String,
    /// The parameters: `params[k]` is placeholder `$(first_param + k)`.
    pub params: Vec<SqlParam>,
}

impl CompiledFilter {
    /// Appends every parameter, in order, to sqlx arguments (after the caller's own).
    pub fn add_to(&self, args: &mut PgArguments) -> Result<(), sqlx::error::BoxDynError> {
        self.params.iter().try_for_each(|p| p.add_to(args))
    }
}

/// Lower-case and upper-case Vietnamese letters with diacritics (and đ, Đ), NFC, grouped by
/// base letter.
const VIETNAMESE: [(&str, char); 7] = [
    ("àáảãạăằắẳẵặâầấẩẫậÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ", 'a'),
    ("èéẻẽẹêềếểễệÈÉẺẼẸÊỀẾỂỄỆ", 'e'),
    ("ìíỉĩịÌÍỈĨỊ", 'i'),
    ("òóỏõọôồốổỗộơờớởỡợÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ", 'o'),
    ("ùúủũụưừứửữựÙÚỦŨỤƯỪỨỬỮỰ", 'u'),
    ("ỳýỷỹỵỲÝỶỸỴ", 'y'),
    ("đĐ", 'd'),
];

/// The combining marks Vietnamese text uses when decomposed (NFD), in canonical order:
/// horn, dot below, grave, acute, circumflex, tilde, breve, hook above. `translate` deletes
/// them (they have no counterpart), so decomposed text is stripped too.
const COMBINING_MARKS: &str = "\u{031B}\u{0323}\u{0300}\u{0301}\u{0302}\u{0303}\u{0306}\u{0309}";

/// The two string arguments `ACCENTI` passes to PostgreSQL's `translate` after `lower`:
/// every Vietnamese letter with diacritics (both cases, NFC) followed by the combining
/// marks, and the matching lower-case base letters (the marks map to nothing, so they are
/// deleted). `unaccent` is not assumed to be installed. Neither string contains `'` or `\`.
pub fn accent_translation() -> (&'static str, &'static str) {
    static TABLE: OnceLock<(String, String)> = OnceLock::new();
    let (from, to) = TABLE.get_or_init(|| {
        let mut from = String::new();
        let mut to = String::new();
        for (letters, base) in VIETNAMESE {
            for c in letters.chars() {
                from.push(c);
                to.push(base);
            }
        }
        from.push_str(COMBINING_MARKS);
        (from, to)
    });
    (from, to)
}

/// Highest placeholder number PostgreSQL accepts.
const MAX_PARAMS: usize = 65_535;

/// Deepest tree `compile` walks (trees from the parsers stay well below; this guards
/// hand-built ones).
const MAX_TREE_DEPTH: usize = 4 * MAX_DEPTH;

/// Compiles a filter into SQL plus parameters, checking properties and types.
///
/// The expression must be a predicate. Errors: [`Cql2Error::UnknownProperty`],
/// [`Cql2Error::Forbidden`], [`Cql2Error::Type`], [`Cql2Error::Unsupported`],
/// [`Cql2Error::TooDeep`], [`Cql2Error::Context`].
pub fn compile(expr: &Expr, ctx: &FilterContext<'_>) -> Result<CompiledFilter, Cql2Error> {
    if ctx.first_param == 0 || ctx.first_param > MAX_PARAMS {
        return Err(Cql2Error::Context(format!(
            "first_param must be between 1 and {MAX_PARAMS}, not {}",
            ctx.first_param
        )));
    }
    if ctx.filter_srid != ctx.geometry_srid && (ctx.filter_srid == 0 || ctx.geometry_srid == 0) {
        return Err(Cql2Error::Context(
            "cannot transform between SRID 0 and another SRID".into(),
        ));
    }
    let mut c = Compiler {
        ctx,
        params: Vec::new(),
    };
    let sql = c.predicate(expr, 0)?;
    Ok(CompiledFilter {
        sql,
        params: c.params,
    })
}

/// The type of a compiled value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Text,
    Number,
    Boolean,
    Date,
    Timestamp,
    Geometry,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Text => "text",
            Ty::Number => "a number",
            Ty::Boolean => "a boolean",
            Ty::Date => "a date",
            Ty::Timestamp => "a timestamp",
            Ty::Geometry => "a geometry",
        }
    }

    fn temporal(self) -> bool {
        matches!(self, Ty::Date | Ty::Timestamp)
    }

    fn comparable(self, other: Ty) -> bool {
        self == other || (self.temporal() && other.temporal())
    }
}

type Res<T> = Result<T, Cql2Error>;

fn type_error(message: String) -> Cql2Error {
    Cql2Error::Type(message)
}

fn nfc(s: &str) -> String {
    s.nfc().collect()
}

struct Compiler<'c, 'a> {
    ctx: &'c FilterContext<'a>,
    params: Vec<SqlParam>,
}

/// A temporal end point value: a column, or a literal not yet bound (it becomes a
/// parameter only if the final condition uses it).
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Col(String),
    Lit(usize),
}

/// One end point of a temporal operand.
#[derive(Debug, Clone, PartialEq)]
enum End {
    NegInf,
    PosInf,
    At(Val),
}

impl End {
    fn rank(&self) -> u8 {
        match self {
            End::NegInf => 0,
            End::At(_) => 1,
            End::PosInf => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rel {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Rel {
    fn symbol(self) -> &'static str {
        match self {
            Rel::Lt => "<",
            Rel::Le => "<=",
            Rel::Eq => "=",
            Rel::Ge => ">=",
            Rel::Gt => ">",
        }
    }
}

/// A condition on end points: a constant where infinities decide it, else comparisons all
/// (or any) of which must hold.
enum Cond {
    Const(bool),
    Cmp {
        atoms: Vec<(Val, Rel, Val)>,
        all: bool,
    },
}

fn rel(a: &End, r: Rel, b: &End) -> Cond {
    if let (End::At(x), End::At(y)) = (a, b) {
        return Cond::Cmp {
            atoms: vec![(x.clone(), r, y.clone())],
            all: true,
        };
    }
    let (x, y) = (a.rank(), b.rank());
    Cond::Const(match r {
        Rel::Lt => x < y,
        Rel::Le => x <= y,
        Rel::Eq => x == y,
        Rel::Ge => x >= y,
        Rel::Gt => x > y,
    })
}

/// Conjunction (`all`) or disjunction of single comparisons, constants folded, duplicates
/// dropped.
fn combine(parts: Vec<Cond>, all: bool) -> Cond {
    let mut atoms = Vec::new();
    for p in parts {
        match p {
            Cond::Const(v) if v != all => return Cond::Const(v),
            Cond::Const(_) => {}
            Cond::Cmp { atoms: a, .. } => {
                for atom in a {
                    if !atoms.contains(&atom) {
                        atoms.push(atom);
                    }
                }
            }
        }
    }
    if atoms.is_empty() {
        Cond::Const(all)
    } else {
        Cond::Cmp { atoms, all }
    }
}

/// Literals of a temporal function, bound on first use.
struct Pending {
    lits: Vec<(SqlParam, &'static str)>,
    bound: Vec<Option<String>>,
}

impl Compiler<'_, '_> {
    fn param(&mut self, p: SqlParam) -> Res<String> {
        let n = self.ctx.first_param + self.params.len();
        if n > MAX_PARAMS {
            return Err(Cql2Error::Unsupported(format!(
                "the filter needs more than {MAX_PARAMS} parameters"
            )));
        }
        self.params.push(p);
        Ok(format!("${n}"))
    }

    fn queryable(&self, name: &str) -> Res<&Queryable> {
        let ctx = self.ctx;
        if ctx.forbidden.contains(&name) {
            return Err(Cql2Error::Forbidden {
                property: name.to_string(),
            });
        }
        if let Some(q) = ctx.queryables.iter().find(|q| q.name == name) {
            return Ok(q);
        }
        const LISTED: usize = 50;
        let names: Vec<&str> = ctx
            .queryables
            .iter()
            .map(|q| q.name.as_str())
            .filter(|n| !ctx.forbidden.contains(n))
            .collect();
        let mut queryables = names
            .iter()
            .take(LISTED)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if names.is_empty() {
            queryables = "(none)".into();
        } else if names.len() > LISTED {
            queryables.push_str(&format!(" and {} more", names.len() - LISTED));
        }
        Err(Cql2Error::UnknownProperty {
            property: name.to_string(),
            queryables,
        })
    }

    fn check_depth(depth: usize) -> Res<()> {
        if depth > MAX_TREE_DEPTH {
            return Err(Cql2Error::TooDeep {
                limit: MAX_TREE_DEPTH,
                location: "the expression tree".into(),
            });
        }
        Ok(())
    }

    /// A predicate: SQL of boolean type.
    fn predicate(&mut self, e: &Expr, depth: usize) -> Res<String> {
        Self::check_depth(depth)?;
        let d = depth + 1;
        match e {
            Expr::And(args) | Expr::Or(args) => {
                let (word, sep) = if matches!(e, Expr::And(_)) {
                    ("AND", " AND ")
                } else {
                    ("OR", " OR ")
                };
                let parts = args
                    .iter()
                    .map(|a| self.predicate(a, d))
                    .collect::<Res<Vec<_>>>()?;
                match parts.len() {
                    0 => Err(type_error(format!("{word} needs at least one operand"))),
                    1 => Ok(parts.concat()),
                    _ => Ok(format!("({})", parts.join(sep))),
                }
            }
            Expr::Not(inner) => match &**inner {
                Expr::IsNull(v) => {
                    let (s, _) = self.scalar(v, d)?;
                    Ok(format!("{s} IS NOT NULL"))
                }
                Expr::Like { value, pattern } => self.like(value, pattern, true, d),
                Expr::Between { value, low, high } => self.between(value, low, high, true, d),
                Expr::In { value, list } => self.in_list(value, list, true, d),
                Expr::And(_) | Expr::Or(_) => Ok(format!("NOT {}", self.predicate(inner, d)?)),
                other => Ok(format!("NOT ({})", self.predicate(other, d)?)),
            },
            Expr::Compare { op, left, right } => self.compare(*op, left, right, d),
            Expr::Like { value, pattern } => self.like(value, pattern, false, d),
            Expr::Between { value, low, high } => self.between(value, low, high, false, d),
            Expr::In { value, list } => self.in_list(value, list, false, d),
            Expr::IsNull(v) => {
                let (s, _) = self.scalar(v, d)?;
                Ok(format!("{s} IS NULL"))
            }
            Expr::Spatial { op, left, right } => {
                let (l, lt) = self.scalar(left, d)?;
                let (r, rt) = self.scalar(right, d)?;
                for (t, x) in [(lt, left), (rt, right)] {
                    if t != Ty::Geometry {
                        return Err(type_error(format!(
                            "{} needs two geometries, but {} is {}",
                            op.name(),
                            x.describe(),
                            t.name()
                        )));
                    }
                }
                Ok(format!("{}({l}, {r})", op.sql_function()))
            }
            Expr::Temporal { op, left, right } => self.temporal(*op, left, right),
            Expr::Bool(b) => Ok(if *b { "TRUE" } else { "FALSE" }.into()),
            other => Err(type_error(format!(
                "expected a condition, found {}",
                other.describe()
            ))),
        }
    }

    fn compare(&mut self, op: CompareOp, left: &Expr, right: &Expr, d: usize) -> Res<String> {
        let (l, lt) = self.scalar(left, d)?;
        let (r, rt) = self.scalar(right, d)?;
        if lt == Ty::Geometry || rt == Ty::Geometry {
            return Err(type_error(format!(
                "geometries cannot be compared with {}; use a spatial function such as S_EQUALS or S_INTERSECTS",
                op.symbol()
            )));
        }
        if !lt.comparable(rt) {
            return Err(mismatch(op.symbol(), left, lt, right, rt));
        }
        Ok(format!("{l} {} {r}", op.symbol()))
    }

    fn like(&mut self, value: &Expr, pattern: &Expr, negated: bool, d: usize) -> Res<String> {
        let (v, vt) = self.scalar(value, d)?;
        if vt != Ty::Text {
            return Err(type_error(format!(
                "LIKE needs text on its left, but {} is {}",
                value.describe(),
                vt.name()
            )));
        }
        let p = self.pattern(pattern, d)?;
        let not = if negated { "NOT " } else { "" };
        Ok(format!("{v} {not}LIKE {p}"))
    }

    fn pattern(&mut self, pattern: &Expr, d: usize) -> Res<String> {
        Self::check_depth(d)?;
        match pattern {
            Expr::String(s) => {
                check_text(s).map_err(type_error)?;
                let trailing = s.chars().rev().take_while(|c| *c == '\\').count();
                if trailing % 2 == 1 {
                    return Err(type_error(format!(
                        "the LIKE pattern {} ends with the escape character \\; write \\\\ for a backslash",
                        echo(s)
                    )));
                }
                self.param(SqlParam::Text(nfc(s)))
            }
            Expr::CaseI(inner) => Ok(format!("lower({})", self.pattern(inner, d + 1)?)),
            Expr::AccentI(inner) => Ok(accenti(&self.pattern(inner, d + 1)?)),
            other => Err(type_error(format!(
                "the LIKE pattern must be a text literal (optionally in CASEI or ACCENTI), found {}",
                other.describe()
            ))),
        }
    }

    fn between(
        &mut self,
        value: &Expr,
        low: &Expr,
        high: &Expr,
        negated: bool,
        d: usize,
    ) -> Res<String> {
        let (v, vt) = self.scalar(value, d)?;
        if !(vt == Ty::Number || vt.temporal()) {
            return Err(type_error(format!(
                "BETWEEN needs a number (or a date or timestamp), but {} is {}",
                value.describe(),
                vt.name()
            )));
        }
        let (lo, lot) = self.scalar(low, d)?;
        let (hi, hit) = self.scalar(high, d)?;
        for (b, t) in [(low, lot), (high, hit)] {
            if !vt.comparable(t) {
                return Err(mismatch("BETWEEN", value, vt, b, t));
            }
        }
        let not = if negated { "NOT " } else { "" };
        Ok(format!("{v} {not}BETWEEN {lo} AND {hi}"))
    }

    fn in_list(&mut self, value: &Expr, list: &[Expr], negated: bool, d: usize) -> Res<String> {
        if list.is_empty() {
            return Err(type_error("the list of IN is empty".into()));
        }
        let (v, vt) = self.scalar(value, d)?;
        if vt == Ty::Geometry {
            return Err(type_error("IN cannot test geometries".into()));
        }
        let mut items = Vec::with_capacity(list.len());
        for item in list {
            let (s, t) = self.scalar(item, d)?;
            if !vt.comparable(t) {
                return Err(mismatch("IN", value, vt, item, t));
            }
            items.push(s);
        }
        let not = if negated { "NOT " } else { "" };
        Ok(format!("{v} {not}IN ({})", items.join(", ")))
    }

    /// A value: its SQL and its type.
    fn scalar(&mut self, e: &Expr, depth: usize) -> Res<(String, Ty)> {
        Self::check_depth(depth)?;
        let d = depth + 1;
        Ok(match e {
            Expr::Property(name) => {
                let q = self.queryable(name)?;
                let ty = match q.ty {
                    QueryableType::String => Ty::Text,
                    QueryableType::Number | QueryableType::Integer => Ty::Number,
                    QueryableType::Boolean => Ty::Boolean,
                    QueryableType::Date => Ty::Date,
                    QueryableType::Timestamp => Ty::Timestamp,
                    QueryableType::Geometry => Ty::Geometry,
                };
                (q.column.clone(), ty)
            }
            Expr::String(s) => {
                check_text(s).map_err(type_error)?;
                (self.param(SqlParam::Text(nfc(s)))?, Ty::Text)
            }
            Expr::Integer(i) => (self.param(SqlParam::Int(*i))?, Ty::Number),
            Expr::Float(f) => {
                if !f.is_finite() {
                    return Err(type_error("numbers must be finite".into()));
                }
                (self.param(SqlParam::Float(*f))?, Ty::Number)
            }
            Expr::Bool(b) => (self.param(SqlParam::Bool(*b))?, Ty::Boolean),
            Expr::Date(s) => {
                check_date(s).map_err(type_error)?;
                let p = self.param(SqlParam::Date(s.clone()))?;
                (format!("{p}::date"), Ty::Date)
            }
            Expr::Timestamp(s) => {
                check_timestamp(s).map_err(type_error)?;
                let p = self.param(SqlParam::Timestamp(s.clone()))?;
                (format!("{p}::timestamptz"), Ty::Timestamp)
            }
            Expr::CaseI(inner) | Expr::AccentI(inner) => {
                let (s, t) = self.scalar(inner, d)?;
                let name = if matches!(e, Expr::CaseI(_)) {
                    "CASEI"
                } else {
                    "ACCENTI"
                };
                if t != Ty::Text {
                    return Err(type_error(format!(
                        "{name} needs text, but {} is {}",
                        inner.describe(),
                        t.name()
                    )));
                }
                let sql = if matches!(e, Expr::CaseI(_)) {
                    format!("lower({s})")
                } else {
                    accenti(&s)
                };
                (sql, Ty::Text)
            }
            Expr::Arithmetic { op, left, right } => {
                let (l, lt) = self.scalar(left, d)?;
                let (r, rt) = self.scalar(right, d)?;
                for (x, t) in [(left, lt), (right, rt)] {
                    if t != Ty::Number {
                        return Err(type_error(format!(
                            "{} needs numbers, but {} is {}",
                            op.symbol(),
                            x.describe(),
                            t.name()
                        )));
                    }
                }
                let sql = match op {
                    ArithmeticOp::Div => {
                        if matches!(**right, Expr::Integer(0))
                            || matches!(**right, Expr::Float(f) if f == 0.0)
                        {
                            return Err(type_error("division by zero".into()));
                        }
                        format!("({l}::float8 / NULLIF({r}, 0))")
                    }
                    _ => format!("({l} {} {r})", op.symbol()),
                };
                (sql, Ty::Number)
            }
            Expr::Geometry(g) => {
                g.check().map_err(type_error)?;
                // Swapped here rather than with ST_FlipCoordinates so that the bound WKT is
                // always x/y, whatever the filter's axis order.
                let swapped;
                let g = if self.ctx.filter_lat_first {
                    swapped = g.swap_xy();
                    &swapped
                } else {
                    g
                };
                let mut worst = 0.0_f64;
                g.for_each_coord(&mut |c| {
                    if c.y.abs() > worst.abs() {
                        worst = c.y
                    }
                });
                self.check_latitude(worst)?;
                let wkt = g.to_wkt();
                let p = self.param(SqlParam::Geometry {
                    wkt,
                    srid: self.ctx.filter_srid,
                })?;
                let sql = format!("ST_GeomFromText({p}, {})", self.ctx.filter_srid);
                (self.transformed(sql), Ty::Geometry)
            }
            Expr::BBox(b) => (self.envelope(b)?, Ty::Geometry),
            Expr::Interval(..) => {
                return Err(type_error(format!(
                    "INTERVAL can only be an argument of a temporal function ({})",
                    TemporalOp::ALL.map(TemporalOp::name).join(", ")
                )))
            }
            predicate => (format!("({})", self.predicate(predicate, d)?), Ty::Boolean),
        })
    }

    /// Refuses a latitude beyond ±90° in a geographic `filter-crs`, saying which axis order
    /// the filter was read in.
    fn check_latitude(&self, lat: f64) -> Res<()> {
        if !self.ctx.filter_geographic || lat.abs() <= 90.0 {
            return Ok(());
        }
        let order = if self.ctx.filter_lat_first {
            format!(
                "in EPSG:{} positions are written latitude first (POINT(lat lon), BBOX(minLat, minLon, maxLat, maxLon)); \
                 use filter-crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84 for longitude first",
                self.ctx.filter_srid
            )
        } else {
            "positions are written longitude first (POINT(lon lat), BBOX(minLon, minLat, maxLon, maxLat)) \
             in CRS84; use filter-crs=http://www.opengis.net/def/crs/EPSG/0/4326 for latitude first"
                .to_string()
        };
        Err(type_error(format!(
            "latitude {lat} is outside -90..90: {order}"
        )))
    }

    fn transformed(&self, sql: String) -> String {
        let (from, to) = (self.ctx.filter_srid, self.ctx.geometry_srid);
        if from == to {
            sql
        } else {
            format!("ST_Transform({sql}, {to})")
        }
    }

    fn envelope(&mut self, b: &BBox) -> Res<String> {
        // A latitude-first box becomes x/y here; swapping keeps a checked box valid (it only
        // exchanges the two min ≤ max conditions), so the parser's check still holds.
        let swapped;
        let b = if self.ctx.filter_lat_first {
            swapped = b.swap_xy();
            &swapped
        } else {
            b
        };
        b.check().map_err(type_error)?;
        for lat in [b.south, b.north] {
            self.check_latitude(lat)?;
        }
        let mut ps = Vec::with_capacity(4);
        for v in [b.west, b.south, b.east, b.north] {
            ps.push(self.param(SqlParam::Float(v))?);
        }
        let sql = format!(
            "ST_MakeEnvelope({}, {}, {}, {}, {})",
            ps[0], ps[1], ps[2], ps[3], self.ctx.filter_srid
        );
        Ok(self.transformed(sql))
    }

    /// Start and end points of a temporal operand; an instant starts and ends at itself.
    fn ends(&mut self, op: TemporalOp, e: &Expr, pending: &mut Pending) -> Res<(End, End)> {
        let instant = |v: Val| (End::At(v.clone()), End::At(v));
        let not_temporal = |what: String| {
            type_error(format!(
                "{} needs dates, timestamps or intervals, but {what}",
                op.name()
            ))
        };
        match e {
            Expr::Property(name) => {
                let q = self.queryable(name)?;
                if !matches!(q.ty, QueryableType::Date | QueryableType::Timestamp) {
                    return Err(not_temporal(format!("{} is not one", e.describe())));
                }
                Ok(instant(Val::Col(q.column.clone())))
            }
            Expr::Date(s) => {
                check_date(s).map_err(type_error)?;
                pending.lits.push((SqlParam::Date(s.clone()), "::date"));
                Ok(instant(Val::Lit(pending.lits.len() - 1)))
            }
            Expr::Timestamp(s) => {
                check_timestamp(s).map_err(type_error)?;
                pending
                    .lits
                    .push((SqlParam::Timestamp(s.clone()), "::timestamptz"));
                Ok(instant(Val::Lit(pending.lits.len() - 1)))
            }
            Expr::Interval(start, end) => Ok((
                self.bound(op, start, End::NegInf, pending)?,
                self.bound(op, end, End::PosInf, pending)?,
            )),
            other => Err(not_temporal(format!("found {}", other.describe()))),
        }
    }

    fn bound(
        &mut self,
        op: TemporalOp,
        b: &IntervalBound,
        open: End,
        pending: &mut Pending,
    ) -> Res<End> {
        let e = match b {
            IntervalBound::Open => return Ok(open),
            IntervalBound::Date(s) => Expr::Date(s.clone()),
            IntervalBound::Timestamp(s) => Expr::Timestamp(s.clone()),
            IntervalBound::Property(p) => Expr::Property(p.clone()),
        };
        Ok(self.ends(op, &e, pending)?.0)
    }

    fn temporal(&mut self, op: TemporalOp, left: &Expr, right: &Expr) -> Res<String> {
        let mut pending = Pending {
            lits: Vec::new(),
            bound: Vec::new(),
        };
        let (s1, e1) = self.ends(op, left, &mut pending)?;
        let (s2, e2) = self.ends(op, right, &mut pending)?;
        pending.bound = vec![None; pending.lits.len()];
        use Rel::*;
        let all = |parts: Vec<Cond>| combine(parts, true);
        let cond = match op {
            TemporalOp::After => rel(&s1, Gt, &e2),
            TemporalOp::Before => rel(&e1, Lt, &s2),
            TemporalOp::Contains => all(vec![rel(&s1, Lt, &s2), rel(&e1, Gt, &e2)]),
            TemporalOp::Disjoint => combine(vec![rel(&e1, Lt, &s2), rel(&s1, Gt, &e2)], false),
            TemporalOp::During => all(vec![rel(&s1, Gt, &s2), rel(&e1, Lt, &e2)]),
            TemporalOp::Equals => all(vec![rel(&s1, Eq, &s2), rel(&e1, Eq, &e2)]),
            TemporalOp::FinishedBy => all(vec![rel(&s1, Lt, &s2), rel(&e1, Eq, &e2)]),
            TemporalOp::Finishes => all(vec![rel(&s1, Gt, &s2), rel(&e1, Eq, &e2)]),
            TemporalOp::Intersects => all(vec![rel(&e1, Ge, &s2), rel(&s1, Le, &e2)]),
            TemporalOp::Meets => rel(&e1, Eq, &s2),
            TemporalOp::MetBy => rel(&s1, Eq, &e2),
            TemporalOp::OverlappedBy => all(vec![
                rel(&s1, Gt, &s2),
                rel(&s1, Lt, &e2),
                rel(&e1, Gt, &e2),
            ]),
            TemporalOp::Overlaps => all(vec![
                rel(&s1, Lt, &s2),
                rel(&e1, Gt, &s2),
                rel(&e1, Lt, &e2),
            ]),
            TemporalOp::StartedBy => all(vec![rel(&s1, Eq, &s2), rel(&e1, Gt, &e2)]),
            TemporalOp::Starts => all(vec![rel(&s1, Eq, &s2), rel(&e1, Lt, &e2)]),
        };
        let (atoms, all) = match cond {
            Cond::Const(true) => return Ok("TRUE".into()),
            Cond::Const(false) => return Ok("FALSE".into()),
            Cond::Cmp { atoms, all } => (atoms, all),
        };
        let mut parts = Vec::with_capacity(atoms.len());
        for (a, r, b) in &atoms {
            let a = self.render(a, &mut pending)?;
            let b = self.render(b, &mut pending)?;
            parts.push(format!("{a} {} {b}", r.symbol()));
        }
        Ok(if parts.len() == 1 {
            parts.concat()
        } else {
            format!("({})", parts.join(if all { " AND " } else { " OR " }))
        })
    }

    fn render(&mut self, v: &Val, pending: &mut Pending) -> Res<String> {
        match v {
            Val::Col(c) => Ok(c.clone()),
            Val::Lit(i) => {
                if let Some(Some(s)) = pending.bound.get(*i) {
                    return Ok(s.clone());
                }
                let Some((param, cast)) = pending.lits.get(*i).cloned() else {
                    return Err(type_error(
                        "internal error: unknown temporal literal".into(),
                    ));
                };
                let s = format!("{}{cast}", self.param(param)?);
                if let Some(slot) = pending.bound.get_mut(*i) {
                    *slot = Some(s.clone());
                }
                Ok(s)
            }
        }
    }
}

fn accenti(sql: &str) -> String {
    let (from, to) = accent_translation();
    format!("translate(lower({sql}), '{from}', '{to}')")
}

fn mismatch(what: &str, left: &Expr, lt: Ty, right: &Expr, rt: Ty) -> Cql2Error {
    let hint = match (lt, rt) {
        (Ty::Text, Ty::Number) | (Ty::Number, Ty::Text) => {
            "; text values are quoted ('12'), numbers are not"
        }
        (Ty::Date | Ty::Timestamp, Ty::Text) | (Ty::Text, Ty::Date | Ty::Timestamp) => {
            "; write dates as DATE('YYYY-MM-DD') and timestamps as TIMESTAMP('…Z')"
        }
        _ => "",
    };
    type_error(format!(
        "type mismatch in {what}: {} is {} but {} is {}{hint}",
        left.describe(),
        lt.name(),
        right.describe(),
        rt.name()
    ))
}

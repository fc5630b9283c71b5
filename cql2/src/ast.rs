//! The typed CQL2 syntax tree both encodings parse into, and the checks on literals (dates,
//! timestamps, geometries, boxes) that both parsers and the compiler share.

use std::fmt::Write as _;

/// A CQL2 expression: a predicate (something true or false) or a value inside one.
///
/// cql2-text and cql2-json produce the same tree for the same filter. Negated forms are
/// represented as [`Expr::Not`] around the positive form: `a NOT LIKE 'x'`, `a NOT IN (…)`,
/// `a NOT BETWEEN …` and `a IS NOT NULL` parse to `Not(Like …)`, `Not(In …)`, `Not(Between …)`
/// and `Not(IsNull …)`, exactly what cql2-json writes as `{"op": "not", "args": [...]}`.
/// `AND`/`OR` chains are flat (`a AND b AND c` is one [`Expr::And`] of three); parentheses
/// keep their nesting. A unary minus before a non-literal (`-x`) is `-1 * x`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All operands hold (`AND`, json `"and"`).
    And(Vec<Expr>),
    /// At least one operand holds (`OR`, json `"or"`).
    Or(Vec<Expr>),
    /// The operand does not hold (`NOT`, json `"not"`).
    Not(Box<Expr>),
    /// A binary comparison `=`, `<>`, `<`, `>`, `<=`, `>=`.
    Compare {
        /// The operator.
        op: CompareOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `value LIKE pattern`; `%` matches any run of characters, `_` one character, `\` escapes.
    Like {
        /// The text being matched.
        value: Box<Expr>,
        /// A string literal, possibly wrapped in [`Expr::CaseI`] / [`Expr::AccentI`].
        pattern: Box<Expr>,
    },
    /// `value BETWEEN low AND high` (bounds included).
    Between {
        /// The tested value.
        value: Box<Expr>,
        /// Lower bound.
        low: Box<Expr>,
        /// Upper bound.
        high: Box<Expr>,
    },
    /// `value IN (list…)`.
    In {
        /// The tested value.
        value: Box<Expr>,
        /// The candidates (at least one).
        list: Vec<Expr>,
    },
    /// `value IS NULL` (json `"isNull"`).
    IsNull(Box<Expr>),
    /// A spatial comparison function such as `S_INTERSECTS(geom, POINT(…))`.
    Spatial {
        /// The function.
        op: SpatialOp,
        /// First geometry.
        left: Box<Expr>,
        /// Second geometry.
        right: Box<Expr>,
    },
    /// A temporal comparison function such as `T_BEFORE(updated, DATE('2024-01-01'))`.
    Temporal {
        /// The function.
        op: TemporalOp,
        /// First instant or interval.
        left: Box<Expr>,
        /// Second instant or interval.
        right: Box<Expr>,
    },
    /// Arithmetic on numbers: `+`, `-`, `*`, `/`.
    Arithmetic {
        /// The operator.
        op: ArithmeticOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `CASEI(x)`: compare text case-insensitively.
    CaseI(Box<Expr>),
    /// `ACCENTI(x)`: compare text accent-insensitively.
    AccentI(Box<Expr>),
    /// A property (queryable) by name, as written: `name`, `"name"`, json `{"property": "name"}`.
    Property(String),
    /// A text literal (quotes removed, `''` unescaped).
    String(String),
    /// A whole number that fits in `i64`.
    Integer(i64),
    /// Any other (finite) number.
    Float(f64),
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// `DATE('YYYY-MM-DD')`, json `{"date": "…"}`; the text is validated.
    Date(String),
    /// `TIMESTAMP('YYYY-MM-DDThh:mm:ss[.f]Z')`, json `{"timestamp": "…"}`; RFC 3339, validated.
    Timestamp(String),
    /// `INTERVAL(start, end)`, json `{"interval": [start, end]}`.
    Interval(IntervalBound, IntervalBound),
    /// A geometry literal: WKT in cql2-text, GeoJSON in cql2-json.
    Geometry(Geometry),
    /// `BBOX(west, south, east, north)` (or with elevations), json `{"bbox": […]}`.
    BBox(BBox),
}

impl Expr {
    /// Whether this expression is a predicate (true or false) rather than a value: a logical
    /// operator, a comparison, `LIKE`, `BETWEEN`, `IN`, `IS NULL`, a spatial or temporal
    /// function, or `TRUE`/`FALSE`.
    pub fn is_predicate(&self) -> bool {
        matches!(
            self,
            Expr::And(_)
                | Expr::Or(_)
                | Expr::Not(_)
                | Expr::Compare { .. }
                | Expr::Like { .. }
                | Expr::Between { .. }
                | Expr::In { .. }
                | Expr::IsNull(_)
                | Expr::Spatial { .. }
                | Expr::Temporal { .. }
                | Expr::Bool(_)
        )
    }

    /// A short description for error messages ("a number", "property \"name\"").
    pub(crate) fn describe(&self) -> String {
        match self {
            Expr::Property(name) => format!("property {}", super::echo(name)),
            Expr::String(_) => "a text literal".into(),
            Expr::Integer(_) | Expr::Float(_) => "a number".into(),
            Expr::Bool(_) => "a boolean literal".into(),
            Expr::Date(_) => "a DATE".into(),
            Expr::Timestamp(_) => "a TIMESTAMP".into(),
            Expr::Interval(..) => "an INTERVAL".into(),
            Expr::Geometry(_) => "a geometry literal".into(),
            Expr::BBox(_) => "a BBOX".into(),
            Expr::CaseI(_) => "CASEI(…)".into(),
            Expr::AccentI(_) => "ACCENTI(…)".into(),
            Expr::Arithmetic { .. } => "an arithmetic expression".into(),
            _ => "a predicate".into(),
        }
    }
}

/// A binary comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// The operator as written in cql2-text, cql2-json and SQL (they agree).
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "<>",
            CompareOp::Lt => "<",
            CompareOp::Gt => ">",
            CompareOp::Le => "<=",
            CompareOp::Ge => ">=",
        }
    }

    /// Parses a symbol (`"="`, `"<>"`, …).
    pub fn from_symbol(s: &str) -> Option<CompareOp> {
        Some(match s {
            "=" => CompareOp::Eq,
            "<>" => CompareOp::Ne,
            "<" => CompareOp::Lt,
            ">" => CompareOp::Gt,
            "<=" => CompareOp::Le,
            ">=" => CompareOp::Ge,
            _ => return None,
        })
    }
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithmeticOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (real division)
    Div,
}

impl ArithmeticOp {
    /// The operator symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            ArithmeticOp::Add => "+",
            ArithmeticOp::Sub => "-",
            ArithmeticOp::Mul => "*",
            ArithmeticOp::Div => "/",
        }
    }
}

/// A spatial comparison function (conformance classes Basic Spatial Functions and Spatial
/// Functions), with the DE-9IM semantics of the PostGIS function of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpatialOp {
    /// `S_INTERSECTS` → `ST_Intersects`
    Intersects,
    /// `S_EQUALS` → `ST_Equals`
    Equals,
    /// `S_DISJOINT` → `ST_Disjoint`
    Disjoint,
    /// `S_TOUCHES` → `ST_Touches`
    Touches,
    /// `S_WITHIN` → `ST_Within`
    Within,
    /// `S_OVERLAPS` → `ST_Overlaps`
    Overlaps,
    /// `S_CROSSES` → `ST_Crosses`
    Crosses,
    /// `S_CONTAINS` → `ST_Contains`
    Contains,
}

impl SpatialOp {
    /// Every spatial function.
    pub const ALL: [SpatialOp; 8] = [
        SpatialOp::Intersects,
        SpatialOp::Equals,
        SpatialOp::Disjoint,
        SpatialOp::Touches,
        SpatialOp::Within,
        SpatialOp::Overlaps,
        SpatialOp::Crosses,
        SpatialOp::Contains,
    ];

    /// The cql2-text name (`S_INTERSECTS`); cql2-json uses it in lower case.
    pub fn name(self) -> &'static str {
        match self {
            SpatialOp::Intersects => "S_INTERSECTS",
            SpatialOp::Equals => "S_EQUALS",
            SpatialOp::Disjoint => "S_DISJOINT",
            SpatialOp::Touches => "S_TOUCHES",
            SpatialOp::Within => "S_WITHIN",
            SpatialOp::Overlaps => "S_OVERLAPS",
            SpatialOp::Crosses => "S_CROSSES",
            SpatialOp::Contains => "S_CONTAINS",
        }
    }

    /// The PostGIS function it compiles to.
    pub fn sql_function(self) -> &'static str {
        match self {
            SpatialOp::Intersects => "ST_Intersects",
            SpatialOp::Equals => "ST_Equals",
            SpatialOp::Disjoint => "ST_Disjoint",
            SpatialOp::Touches => "ST_Touches",
            SpatialOp::Within => "ST_Within",
            SpatialOp::Overlaps => "ST_Overlaps",
            SpatialOp::Crosses => "ST_Crosses",
            SpatialOp::Contains => "ST_Contains",
        }
    }

    /// Looks a name up, case-insensitively (`s_intersects`, `S_Intersects`, …).
    pub fn from_name(name: &str) -> Option<SpatialOp> {
        SpatialOp::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(name))
    }
}

/// A temporal comparison function (conformance class Temporal Functions), with the
/// semantics of Allen's interval algebra; an instant is an interval whose start is its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TemporalOp {
    /// `T_AFTER`: the first starts after the second ends.
    After,
    /// `T_BEFORE`: the first ends before the second starts.
    Before,
    /// `T_CONTAINS`: the second lies strictly inside the first.
    Contains,
    /// `T_DISJOINT`: no time in common.
    Disjoint,
    /// `T_DURING`: the first lies strictly inside the second.
    During,
    /// `T_EQUALS`: same start and same end.
    Equals,
    /// `T_FINISHEDBY`: the first starts earlier, both end together.
    FinishedBy,
    /// `T_FINISHES`: the first starts later, both end together.
    Finishes,
    /// `T_INTERSECTS`: some time in common (end points included).
    Intersects,
    /// `T_MEETS`: the first ends when the second starts.
    Meets,
    /// `T_METBY`: the first starts when the second ends.
    MetBy,
    /// `T_OVERLAPPEDBY`: the second starts first and ends inside the first.
    OverlappedBy,
    /// `T_OVERLAPS`: the first starts first and ends inside the second.
    Overlaps,
    /// `T_STARTEDBY`: both start together, the first ends later.
    StartedBy,
    /// `T_STARTS`: both start together, the first ends earlier.
    Starts,
}

impl TemporalOp {
    /// Every temporal function.
    pub const ALL: [TemporalOp; 15] = [
        TemporalOp::After,
        TemporalOp::Before,
        TemporalOp::Contains,
        TemporalOp::Disjoint,
        TemporalOp::During,
        TemporalOp::Equals,
        TemporalOp::FinishedBy,
        TemporalOp::Finishes,
        TemporalOp::Intersects,
        TemporalOp::Meets,
        TemporalOp::MetBy,
        TemporalOp::OverlappedBy,
        TemporalOp::Overlaps,
        TemporalOp::StartedBy,
        TemporalOp::Starts,
    ];

    /// The cql2-text name (`T_BEFORE`); cql2-json uses `t_before`, `t_finishedBy`, ….
    pub fn name(self) -> &'static str {
        match self {
            TemporalOp::After => "T_AFTER",
            TemporalOp::Before => "T_BEFORE",
            TemporalOp::Contains => "T_CONTAINS",
            TemporalOp::Disjoint => "T_DISJOINT",
            TemporalOp::During => "T_DURING",
            TemporalOp::Equals => "T_EQUALS",
            TemporalOp::FinishedBy => "T_FINISHEDBY",
            TemporalOp::Finishes => "T_FINISHES",
            TemporalOp::Intersects => "T_INTERSECTS",
            TemporalOp::Meets => "T_MEETS",
            TemporalOp::MetBy => "T_METBY",
            TemporalOp::OverlappedBy => "T_OVERLAPPEDBY",
            TemporalOp::Overlaps => "T_OVERLAPS",
            TemporalOp::StartedBy => "T_STARTEDBY",
            TemporalOp::Starts => "T_STARTS",
        }
    }

    /// Looks a name up, case-insensitively (`T_BEFORE`, `t_finishedBy`, …).
    pub fn from_name(name: &str) -> Option<TemporalOp> {
        TemporalOp::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(name))
    }
}

/// One end of an [`Expr::Interval`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntervalBound {
    /// `'..'`: unbounded on this side.
    Open,
    /// A date `YYYY-MM-DD`.
    Date(String),
    /// An RFC 3339 timestamp.
    Timestamp(String),
    /// A temporal property.
    Property(String),
}

/// One position of a geometry: `x` = easting/longitude, `y` = northing/latitude.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coord {
    /// Easting or longitude.
    pub x: f64,
    /// Northing or latitude.
    pub y: f64,
    /// Elevation, when the literal has three ordinates.
    pub z: Option<f64>,
}

/// A geometry literal (OGC Simple Features; WKT in cql2-text, GeoJSON in cql2-json).
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    /// `POINT(x y)`
    Point(Coord),
    /// `LINESTRING(x y, …)`, at least two positions.
    LineString(Vec<Coord>),
    /// `POLYGON((ring), …)`: the exterior ring then holes; rings closed, four positions or more.
    Polygon(Vec<Vec<Coord>>),
    /// `MULTIPOINT((x y), …)`
    MultiPoint(Vec<Coord>),
    /// `MULTILINESTRING((…), …)`
    MultiLineString(Vec<Vec<Coord>>),
    /// `MULTIPOLYGON(((…)), …)`
    MultiPolygon(Vec<Vec<Vec<Coord>>>),
    /// `GEOMETRYCOLLECTION(…)` of the other kinds (not nested).
    GeometryCollection(Vec<Geometry>),
}

impl Geometry {
    /// The WKT tag (`POINT`, …).
    pub fn tag(&self) -> &'static str {
        match self {
            Geometry::Point(_) => "POINT",
            Geometry::LineString(_) => "LINESTRING",
            Geometry::Polygon(_) => "POLYGON",
            Geometry::MultiPoint(_) => "MULTIPOINT",
            Geometry::MultiLineString(_) => "MULTILINESTRING",
            Geometry::MultiPolygon(_) => "MULTIPOLYGON",
            Geometry::GeometryCollection(_) => "GEOMETRYCOLLECTION",
        }
    }

    pub(crate) fn for_each_coord(&self, f: &mut impl FnMut(&Coord)) {
        match self {
            Geometry::Point(c) => f(c),
            Geometry::LineString(cs) | Geometry::MultiPoint(cs) => cs.iter().for_each(f),
            Geometry::Polygon(rings) | Geometry::MultiLineString(rings) => {
                rings.iter().flatten().for_each(f)
            }
            Geometry::MultiPolygon(polys) => polys.iter().flatten().flatten().for_each(f),
            Geometry::GeometryCollection(gs) => gs.iter().for_each(|g| g.for_each_coord(f)),
        }
    }

    /// Whether the positions carry an elevation (checked consistent by [`Geometry::check`]).
    pub fn has_z(&self) -> bool {
        let mut z = false;
        self.for_each_coord(&mut |c| z |= c.z.is_some());
        z
    }

    /// Checks what PostGIS would otherwise reject at query time: finite ordinates, one
    /// dimension throughout, enough positions, closed rings, non-empty collections, no nested
    /// collections. The message says what is wrong.
    pub fn check(&self) -> Result<(), String> {
        let (mut n2, mut n3, mut finite) = (0usize, 0usize, true);
        self.for_each_coord(&mut |c| {
            if c.z.is_some() {
                n3 += 1
            } else {
                n2 += 1
            }
            finite &= c.x.is_finite() && c.y.is_finite() && c.z.is_none_or(f64::is_finite);
        });
        if !finite {
            return Err(format!(
                "{} has a coordinate that is not a finite number",
                self.tag()
            ));
        }
        if n2 > 0 && n3 > 0 {
            return Err(format!(
                "{} mixes positions with two and with three ordinates",
                self.tag()
            ));
        }
        self.check_shape()
    }

    fn check_shape(&self) -> Result<(), String> {
        let line = |cs: &[Coord], tag: &str| {
            if cs.len() < 2 {
                Err(format!(
                    "a line in {tag} needs at least 2 positions, found {}",
                    cs.len()
                ))
            } else {
                Ok(())
            }
        };
        let ring = |cs: &[Coord], tag: &str| {
            if cs.len() < 4 {
                Err(format!(
                    "a polygon ring in {tag} needs at least 4 positions (closed), found {}",
                    cs.len()
                ))
            } else if cs.first() != cs.last() {
                Err(format!(
                    "a polygon ring in {tag} is not closed: its first and last positions differ"
                ))
            } else {
                Ok(())
            }
        };
        let polygon = |rings: &[Vec<Coord>], tag: &str| {
            if rings.is_empty() {
                return Err(format!("a polygon in {tag} needs at least one ring"));
            }
            rings.iter().try_for_each(|r| ring(r, tag))
        };
        let non_empty = |n: usize, tag: &str| {
            if n == 0 {
                Err(format!(
                    "{tag} needs at least one member (EMPTY geometries are not supported)"
                ))
            } else {
                Ok(())
            }
        };
        let tag = self.tag();
        match self {
            Geometry::Point(_) => Ok(()),
            Geometry::LineString(cs) => line(cs, tag),
            Geometry::Polygon(rings) => polygon(rings, tag),
            Geometry::MultiPoint(cs) => non_empty(cs.len(), tag),
            Geometry::MultiLineString(lines) => {
                non_empty(lines.len(), tag)?;
                lines.iter().try_for_each(|l| line(l, tag))
            }
            Geometry::MultiPolygon(polys) => {
                non_empty(polys.len(), tag)?;
                polys.iter().try_for_each(|p| polygon(p, tag))
            }
            Geometry::GeometryCollection(gs) => {
                non_empty(gs.len(), tag)?;
                gs.iter().try_for_each(|g| match g {
                    Geometry::GeometryCollection(_) => {
                        Err("a GEOMETRYCOLLECTION cannot contain another one".to_string())
                    }
                    g => g.check_shape(),
                })
            }
        }
    }

    /// The same geometry with the first two ordinates of every position exchanged: a literal
    /// written latitude first (a `filter-crs` such as EPSG:4326) becomes x/y (longitude first),
    /// the order PostGIS reads.
    pub fn swap_xy(&self) -> Geometry {
        let one = |c: &Coord| Coord {
            x: c.y,
            y: c.x,
            z: c.z,
        };
        let line = |cs: &Vec<Coord>| cs.iter().map(one).collect::<Vec<_>>();
        let lines = |ls: &Vec<Vec<Coord>>| ls.iter().map(line).collect::<Vec<_>>();
        match self {
            Geometry::Point(c) => Geometry::Point(one(c)),
            Geometry::LineString(cs) => Geometry::LineString(line(cs)),
            Geometry::MultiPoint(cs) => Geometry::MultiPoint(line(cs)),
            Geometry::Polygon(rings) => Geometry::Polygon(lines(rings)),
            Geometry::MultiLineString(ls) => Geometry::MultiLineString(lines(ls)),
            Geometry::MultiPolygon(polys) => {
                Geometry::MultiPolygon(polys.iter().map(lines).collect())
            }
            Geometry::GeometryCollection(gs) => {
                Geometry::GeometryCollection(gs.iter().map(Geometry::swap_xy).collect())
            }
        }
    }

    /// Well-known text of the geometry, built from the parsed numbers (never from the input
    /// text): `POINT(1 2)`, `POINT Z(1 2 3)`, `POLYGON((0 0,1 0,1 1,0 0))`.
    pub fn to_wkt(&self) -> String {
        let mut out = String::new();
        self.write_wkt(&mut out);
        out
    }

    fn write_wkt(&self, out: &mut String) {
        out.push_str(self.tag());
        if self.has_z() {
            out.push_str(" Z");
        }
        self.write_body(out);
    }

    fn write_body(&self, out: &mut String) {
        fn coord(out: &mut String, c: &Coord) {
            let _ = write!(out, "{} {}", c.x, c.y);
            if let Some(z) = c.z {
                let _ = write!(out, " {z}");
            }
        }
        fn list(out: &mut String, cs: &[Coord]) {
            out.push('(');
            for (i, c) in cs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                coord(out, c);
            }
            out.push(')');
        }
        fn rings(out: &mut String, rs: &[Vec<Coord>]) {
            out.push('(');
            for (i, r) in rs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                list(out, r);
            }
            out.push(')');
        }
        match self {
            Geometry::Point(c) => list(out, std::slice::from_ref(c)),
            Geometry::LineString(cs) => list(out, cs),
            Geometry::Polygon(rs) | Geometry::MultiLineString(rs) => rings(out, rs),
            Geometry::MultiPoint(cs) => {
                out.push('(');
                for (i, c) in cs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    list(out, std::slice::from_ref(c));
                }
                out.push(')');
            }
            Geometry::MultiPolygon(ps) => {
                out.push('(');
                for (i, p) in ps.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    rings(out, p);
                }
                out.push(')');
            }
            Geometry::GeometryCollection(gs) => {
                out.push('(');
                for (i, g) in gs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    g.write_wkt(out);
                }
                out.push(')');
            }
        }
    }
}

/// A bounding box: `BBOX(west, south, east, north)` or, with elevations,
/// `BBOX(west, south, min_z, east, north, max_z)` (the elevations do not take part in
/// filtering).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    /// Minimum x (west).
    pub west: f64,
    /// Minimum y (south).
    pub south: f64,
    /// Maximum x (east).
    pub east: f64,
    /// Maximum y (north).
    pub north: f64,
    /// `(minimum, maximum)` elevation of a six-number box.
    pub elevation: Option<(f64, f64)>,
}

impl BBox {
    /// Builds a box from its 4 or 6 numbers in CQL2 / GeoJSON order, checked.
    pub fn from_numbers(n: &[f64]) -> Result<BBox, String> {
        let b = match *n {
            [west, south, east, north] => BBox {
                west,
                south,
                east,
                north,
                elevation: None,
            },
            [west, south, min_z, east, north, max_z] => BBox {
                west,
                south,
                east,
                north,
                elevation: Some((min_z, max_z)),
            },
            _ => {
                let found = n.len();
                return Err(format!(
                    "a BBOX has 4 numbers (west, south, east, north) or 6 (with elevations), found {found}"
                ));
            }
        };
        b.check()?;
        Ok(b)
    }

    /// The box read latitude first: `BBOX(minLat, minLon, maxLat, maxLon)` in a `filter-crs`
    /// whose first axis is latitude (EPSG:4326, EPSG:4756) means west = the second number,
    /// south = the first, east = the fourth, north = the third.
    pub fn swap_xy(&self) -> BBox {
        BBox {
            west: self.south,
            south: self.west,
            east: self.north,
            north: self.east,
            elevation: self.elevation,
        }
    }

    /// Checks the box: finite numbers, south ≤ north, west ≤ east, min ≤ max elevation.
    pub fn check(&self) -> Result<(), String> {
        let (lo, hi) = self.elevation.unwrap_or((0.0, 0.0));
        if ![self.west, self.south, self.east, self.north, lo, hi]
            .iter()
            .all(|v| v.is_finite())
        {
            return Err("a BBOX number is not finite".into());
        }
        if self.south > self.north {
            return Err(format!(
                "BBOX south {} is greater than north {}",
                self.south, self.north
            ));
        }
        if self.west > self.east {
            return Err(format!(
                "BBOX west {} is greater than east {}; boxes crossing the antimeridian are not supported",
                self.west, self.east
            ));
        }
        if lo > hi {
            return Err(format!(
                "BBOX minimum elevation {lo} is greater than maximum {hi}"
            ));
        }
        Ok(())
    }
}

/// Checks a CQL2 date: `YYYY-MM-DD`, a real calendar day, year 0001–9999.
pub(crate) fn check_date(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let bad = || {
        format!(
            "{} is not a date; write YYYY-MM-DD, e.g. '2024-05-31'",
            super::echo(s)
        )
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (y, m, d) = (
        digits(&b[0..4]).ok_or_else(bad)?,
        digits(&b[5..7]).ok_or_else(bad)?,
        digits(&b[8..10]).ok_or_else(bad)?,
    );
    if y == 0 || chrono::NaiveDate::from_ymd_opt(y as i32, m, d).is_none() {
        return Err(format!("{} is not a valid calendar date", super::echo(s)));
    }
    Ok(())
}

/// Checks an RFC 3339 timestamp: `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)`.
pub(crate) fn check_timestamp(s: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "{} is not a timestamp; write YYYY-MM-DDThh:mm:ssZ (RFC 3339), e.g. '2024-05-31T08:30:00Z'",
            super::echo(s)
        )
    };
    let b = s.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't') {
        return Err(bad());
    }
    check_date(&s[..10]).map_err(|_| bad())?;
    let t = &b[11..];
    if t[2] != b':' || t[5] != b':' {
        return Err(bad());
    }
    let (h, mi, sec) = (
        digits(&t[0..2]).ok_or_else(bad)?,
        digits(&t[3..5]).ok_or_else(bad)?,
        digits(&t[6..8]).ok_or_else(bad)?,
    );
    if h > 23 || mi > 59 || sec > 60 {
        return Err(format!("{} has an invalid time of day", super::echo(s)));
    }
    let mut rest = &t[8..];
    if let [b'.', frac @ ..] = rest {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return Err(bad());
        }
        rest = &frac[n..];
    }
    match rest {
        [b'Z' | b'z'] => Ok(()),
        [b'+' | b'-', oh @ .., b':', om1, om2] if oh.len() == 2 => {
            let oh = digits(oh).ok_or_else(bad)?;
            let om = digits(&[*om1, *om2]).ok_or_else(bad)?;
            if oh > 23 || om > 59 {
                Err(bad())
            } else {
                Ok(())
            }
        }
        _ => Err(bad()),
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

/// Classifies the text of an interval end: `'..'`, a date or a timestamp.
pub(crate) fn interval_bound_from_text(s: &str) -> Result<IntervalBound, String> {
    if s == ".." {
        return Ok(IntervalBound::Open);
    }
    if s.len() == 10 {
        check_date(s)?;
        return Ok(IntervalBound::Date(s.to_string()));
    }
    check_timestamp(s).map_err(|_| {
        format!(
            "{} is not an interval end; write a date 'YYYY-MM-DD', a timestamp 'YYYY-MM-DDThh:mm:ssZ' or '..' for an open end",
            super::echo(s)
        )
    })?;
    Ok(IntervalBound::Timestamp(s.to_string()))
}

/// Rejects characters that have no place in a text literal (C0 controls other than tab,
/// line feed, vertical tab, form feed, carriage return, bell and backspace; NUL above all,
/// which PostgreSQL text cannot hold).
pub(crate) fn check_text(s: &str) -> Result<(), String> {
    match s
        .chars()
        .find(|c| matches!(*c as u32, 0x00..=0x06 | 0x0E..=0x1F))
    {
        Some(c) => Err(format!(
            "control character U+{:04X} is not allowed in a text literal",
            c as u32
        )),
        None => Ok(()),
    }
}

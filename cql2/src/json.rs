//! cql2-json: `{"op": …, "args": […]}` objects, `{"property": …}`, `{"bbox": […]}`,
//! `{"date": …}`, `{"timestamp": …}`, `{"interval": […]}`, GeoJSON geometries and plain JSON
//! strings, numbers and booleans, into the same [`Expr`] as cql2-text.

use serde_json::{Map, Value};

use super::ast::{
    check_date, check_text, check_timestamp, interval_bound_from_text, ArithmeticOp, BBox,
    CompareOp, Coord, Expr, Geometry, IntervalBound, SpatialOp, TemporalOp,
};
use super::{echo, too_long, Cql2Error, MAX_DEPTH};

type Res<T> = Result<T, Cql2Error>;

/// Parses a cql2-json filter given as text. Errors in the JSON syntax carry the line and
/// column; errors in the structure carry a JSON Pointer (`/args/1/args/0`).
///
/// ```
/// use cql2::{parse_json, parse_text};
/// let json = r#"{"op": "=", "args": [{"property": "sheet_number"}, 12]}"#;
/// assert_eq!(parse_json(json).unwrap(), parse_text("sheet_number = 12").unwrap());
/// ```
pub fn parse_json(input: &str) -> Result<Expr, Cql2Error> {
    too_long(input)?;
    let v: Value = serde_json::from_str(input).map_err(|e| {
        let text = e.to_string();
        let message = match text.rsplit_once(" at line ") {
            Some((m, _)) => m.to_string(),
            None => text,
        };
        let location = format!("line {}, column {}", e.line(), e.column());
        if message.contains("recursion limit") {
            Cql2Error::TooDeep {
                limit: MAX_DEPTH,
                location,
            }
        } else {
            Cql2Error::Json {
                location,
                message: format!("not valid JSON: {message}"),
            }
        }
    })?;
    parse_json_value(&v)
}

/// Parses a cql2-json filter already decoded as a [`serde_json::Value`] (for instance the
/// `filter` member of a request body). The result is always a predicate.
pub fn parse_json_value(value: &Value) -> Result<Expr, Cql2Error> {
    let e = expr(value, "", 0)?;
    if !e.is_predicate() {
        return Err(err(
            "",
            format!("the filter must be a condition, but it is {}", e.describe()),
        ));
    }
    Ok(e)
}

fn err(path: &str, message: impl Into<String>) -> Cql2Error {
    Cql2Error::Json {
        location: location(path),
        message: message.into(),
    }
}

fn location(path: &str) -> String {
    if path.is_empty() {
        "the top level".into()
    } else {
        path.to_string()
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn number(v: &Value, path: &str, what: &str) -> Res<f64> {
    match v.as_f64() {
        Some(f) if f.is_finite() => Ok(f),
        _ => Err(err(
            path,
            format!("expected a number ({what}), found {}", kind(v)),
        )),
    }
}

fn expr(v: &Value, path: &str, depth: usize) -> Res<Expr> {
    if depth > MAX_DEPTH {
        return Err(Cql2Error::TooDeep {
            limit: MAX_DEPTH,
            location: location(path),
        });
    }
    match v {
        Value::Null => Err(err(
            path,
            "null is not a value; test for a missing value with {\"op\": \"isNull\", …}",
        )),
        Value::Bool(b) => Ok(Expr::Bool(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Expr::Integer(i)),
            (None, Some(f)) if f.is_finite() => Ok(Expr::Float(f)),
            _ => Err(err(path, "number out of range")),
        },
        Value::String(s) => {
            check_text(s).map_err(|m| err(path, m))?;
            Ok(Expr::String(s.clone()))
        }
        Value::Array(_) => Err(err(
            path,
            "unexpected array; arrays only appear as the list of \"in\" and inside bbox, interval and geometry objects",
        )),
        Value::Object(m) => object(m, path, depth),
    }
}

fn only_keys(m: &Map<String, Value>, allowed: &[&str], path: &str) -> Res<()> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(err(
            path,
            format!(
                "unexpected member {} next to {}",
                echo(k),
                allowed
                    .iter()
                    .map(|a| format!("\"{a}\""))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        )),
        None => Ok(()),
    }
}

fn string_member<'v>(m: &'v Map<String, Value>, key: &str, path: &str) -> Res<&'v str> {
    match m.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(err(
            &format!("{path}/{key}"),
            format!("\"{key}\" must be a string, found {}", kind(other)),
        )),
        None => Err(err(path, format!("missing member \"{key}\""))),
    }
}

fn object(m: &Map<String, Value>, path: &str, depth: usize) -> Res<Expr> {
    if m.contains_key("op") {
        only_keys(m, &["op", "args"], path)?;
        let op = string_member(m, "op", path)?;
        let args = match m.get("args") {
            Some(Value::Array(a)) => a.as_slice(),
            Some(other) => {
                return Err(err(
                    &format!("{path}/args"),
                    format!("\"args\" must be an array, found {}", kind(other)),
                ))
            }
            None => return Err(err(path, format!("operator {} has no \"args\"", echo(op)))),
        };
        return operation(op, args, path, depth);
    }
    if m.contains_key("property") {
        only_keys(m, &["property"], path)?;
        return Ok(Expr::Property(
            string_member(m, "property", path)?.to_string(),
        ));
    }
    if let Some(b) = m.get("bbox") {
        if !m.contains_key("type") {
            only_keys(m, &["bbox"], path)?;
            let p = format!("{path}/bbox");
            let Value::Array(items) = b else {
                return Err(err(
                    &p,
                    format!("\"bbox\" must be an array of numbers, found {}", kind(b)),
                ));
            };
            let nums = items
                .iter()
                .enumerate()
                .map(|(i, v)| number(v, &format!("{p}/{i}"), "a bbox bound"))
                .collect::<Res<Vec<f64>>>()?;
            return BBox::from_numbers(&nums)
                .map(Expr::BBox)
                .map_err(|msg| err(&p, msg));
        }
    }
    if m.contains_key("date") {
        only_keys(m, &["date"], path)?;
        let s = string_member(m, "date", path)?;
        check_date(s).map_err(|msg| err(&format!("{path}/date"), msg))?;
        return Ok(Expr::Date(s.to_string()));
    }
    if m.contains_key("timestamp") {
        only_keys(m, &["timestamp"], path)?;
        let s = string_member(m, "timestamp", path)?;
        check_timestamp(s).map_err(|msg| err(&format!("{path}/timestamp"), msg))?;
        return Ok(Expr::Timestamp(s.to_string()));
    }
    if let Some(iv) = m.get("interval") {
        only_keys(m, &["interval"], path)?;
        let p = format!("{path}/interval");
        let bounds = match iv {
            Value::Array(a) if a.len() == 2 => a,
            _ => return Err(err(&p, "\"interval\" must be an array of two ends")),
        };
        let start = interval_bound(&bounds[0], &format!("{p}/0"))?;
        let end = interval_bound(&bounds[1], &format!("{p}/1"))?;
        return Ok(Expr::Interval(start, end));
    }
    if m.contains_key("type") {
        return Ok(Expr::Geometry(geojson(m, path, true)?));
    }
    if m.contains_key("function") {
        return Err(Cql2Error::Unsupported(format!(
            "custom functions are not supported (at {})",
            location(path)
        )));
    }
    let keys: Vec<String> = m.keys().take(5).map(|k| echo(k)).collect();
    Err(err(
        path,
        format!(
            "unrecognised object with members {}; expected \"op\"/\"args\", \"property\", \"bbox\", \"date\", \"timestamp\", \"interval\" or a GeoJSON geometry",
            if keys.is_empty() { "(none)".to_string() } else { keys.join(", ") }
        ),
    ))
}

fn interval_bound(v: &Value, path: &str) -> Res<IntervalBound> {
    match v {
        Value::String(s) => interval_bound_from_text(s).map_err(|m| err(path, m)),
        Value::Object(m) if m.contains_key("property") => {
            only_keys(m, &["property"], path)?;
            Ok(IntervalBound::Property(
                string_member(m, "property", path)?.to_string(),
            ))
        }
        Value::Object(m) if m.contains_key("date") || m.contains_key("timestamp") => {
            match object(m, path, 0)? {
                Expr::Date(d) => Ok(IntervalBound::Date(d)),
                Expr::Timestamp(t) => Ok(IntervalBound::Timestamp(t)),
                _ => Err(err(path, "expected a date or timestamp")),
            }
        }
        other => Err(err(
            path,
            format!(
                "expected an interval end (a date, a timestamp, \"..\" or a property), found {}",
                kind(other)
            ),
        )),
    }
}

fn arity<'v>(op: &str, args: &'v [Value], n: usize, path: &str) -> Res<&'v [Value]> {
    if args.len() != n {
        return Err(err(
            path,
            format!(
                "{} takes {n} argument{}, found {}",
                echo(op),
                if n == 1 { "" } else { "s" },
                args.len()
            ),
        ));
    }
    Ok(args)
}

fn operation(op: &str, args: &[Value], path: &str, depth: usize) -> Res<Expr> {
    let arg = |i: usize| -> Res<Expr> { expr(&args[i], &format!("{path}/args/{i}"), depth + 1) };
    let predicate = |i: usize| -> Res<Expr> {
        let e = arg(i)?;
        if !e.is_predicate() {
            return Err(err(
                &format!("{path}/args/{i}"),
                format!("expected a condition, found {}", e.describe()),
            ));
        }
        Ok(e)
    };
    let two = |op_name: &str| -> Res<(Box<Expr>, Box<Expr>)> {
        arity(op_name, args, 2, path)?;
        Ok((Box::new(arg(0)?), Box::new(arg(1)?)))
    };
    let lower = op.to_ascii_lowercase();
    if let Some(cmp) = CompareOp::from_symbol(op) {
        let (left, right) = two(op)?;
        return Ok(Expr::Compare {
            op: cmp,
            left,
            right,
        });
    }
    if let Some(sp) = SpatialOp::from_name(op) {
        let (left, right) = two(op)?;
        return Ok(Expr::Spatial {
            op: sp,
            left,
            right,
        });
    }
    if let Some(tp) = TemporalOp::from_name(op) {
        let (left, right) = two(op)?;
        return Ok(Expr::Temporal {
            op: tp,
            left,
            right,
        });
    }
    let arith = match op {
        "+" => Some(ArithmeticOp::Add),
        "-" => Some(ArithmeticOp::Sub),
        "*" => Some(ArithmeticOp::Mul),
        "/" => Some(ArithmeticOp::Div),
        _ => None,
    };
    if let Some(a) = arith {
        let (left, right) = two(op)?;
        return Ok(Expr::Arithmetic { op: a, left, right });
    }
    match lower.as_str() {
        "and" | "or" => {
            if args.len() < 2 {
                return Err(err(
                    path,
                    format!(
                        "\"{lower}\" takes at least 2 arguments, found {}",
                        args.len()
                    ),
                ));
            }
            let items = (0..args.len()).map(predicate).collect::<Res<Vec<_>>>()?;
            Ok(if lower == "and" {
                Expr::And(items)
            } else {
                Expr::Or(items)
            })
        }
        "not" => {
            arity(op, args, 1, path)?;
            Ok(Expr::Not(Box::new(predicate(0)?)))
        }
        "isnull" => {
            arity(op, args, 1, path)?;
            Ok(Expr::IsNull(Box::new(arg(0)?)))
        }
        "casei" | "accenti" => {
            arity(op, args, 1, path)?;
            let inner = Box::new(arg(0)?);
            Ok(if lower == "casei" {
                Expr::CaseI(inner)
            } else {
                Expr::AccentI(inner)
            })
        }
        "like" => {
            arity(op, args, 2, path)?;
            let value = Box::new(arg(0)?);
            let pattern = Box::new(like_pattern(
                &args[1],
                &format!("{path}/args/1"),
                depth + 1,
            )?);
            Ok(Expr::Like { value, pattern })
        }
        "between" => {
            arity(op, args, 3, path)?;
            Ok(Expr::Between {
                value: Box::new(arg(0)?),
                low: Box::new(arg(1)?),
                high: Box::new(arg(2)?),
            })
        }
        "in" => {
            arity(op, args, 2, path)?;
            let value = Box::new(arg(0)?);
            let p = format!("{path}/args/1");
            let Value::Array(items) = &args[1] else {
                return Err(err(
                    &p,
                    format!(
                        "the second argument of \"in\" must be an array, found {}",
                        kind(&args[1])
                    ),
                ));
            };
            if items.is_empty() {
                return Err(err(&p, "the list of \"in\" is empty"));
            }
            let list = items
                .iter()
                .enumerate()
                .map(|(i, v)| expr(v, &format!("{p}/{i}"), depth + 2))
                .collect::<Res<Vec<_>>>()?;
            Ok(Expr::In { value, list })
        }
        "%" | "div" | "^" => Err(Cql2Error::Unsupported(format!(
            "arithmetic operator \"{op}\" is not supported (at {}); use +, -, * or /",
            location(path)
        ))),
        _ if lower.starts_with("a_") => Err(Cql2Error::Unsupported(format!(
            "array function {} is not supported (at {})",
            echo(op),
            location(path)
        ))),
        _ => {
            let hint = if lower.starts_with("s_") {
                format!(
                    "spatial functions are {}",
                    SpatialOp::ALL
                        .map(|o| o.name().to_ascii_lowercase())
                        .join(", ")
                )
            } else if lower.starts_with("t_") {
                format!(
                    "temporal functions are {}",
                    TemporalOp::ALL
                        .map(|o| o.name().to_ascii_lowercase())
                        .join(", ")
                )
            } else {
                "operators are and, or, not, =, <>, <, >, <=, >=, like, between, in, isNull, casei, accenti, +, -, *, /, s_… and t_… functions".to_string()
            };
            Err(err(path, format!("unknown operator {}; {hint}", echo(op))))
        }
    }
}

fn like_pattern(v: &Value, path: &str, depth: usize) -> Res<Expr> {
    if depth > MAX_DEPTH {
        return Err(Cql2Error::TooDeep {
            limit: MAX_DEPTH,
            location: location(path),
        });
    }
    match v {
        Value::String(s) => {
            check_text(s).map_err(|m| err(path, m))?;
            Ok(Expr::String(s.clone()))
        }
        Value::Object(m) => {
            let op = m.get("op").and_then(Value::as_str).unwrap_or_default();
            let wrap = op.eq_ignore_ascii_case("casei") || op.eq_ignore_ascii_case("accenti");
            match m.get("args") {
                Some(Value::Array(a)) if wrap && a.len() == 1 && m.len() == 2 => {
                    let inner =
                        Box::new(like_pattern(&a[0], &format!("{path}/args/0"), depth + 1)?);
                    Ok(if op.eq_ignore_ascii_case("casei") {
                        Expr::CaseI(inner)
                    } else {
                        Expr::AccentI(inner)
                    })
                }
                _ => Err(err(
                    path,
                    "a like pattern must be a string, optionally wrapped in casei or accenti",
                )),
            }
        }
        other => Err(err(
            path,
            format!("a like pattern must be a string, found {}", kind(other)),
        )),
    }
}

fn position(v: &Value, path: &str) -> Res<Coord> {
    let Value::Array(a) = v else {
        return Err(err(
            path,
            format!("expected a position [x, y], found {}", kind(v)),
        ));
    };
    let n = |i: usize| number(&a[i], &format!("{path}/{i}"), "a coordinate");
    match a.len() {
        2 => Ok(Coord {
            x: n(0)?,
            y: n(1)?,
            z: None,
        }),
        3 => Ok(Coord {
            x: n(0)?,
            y: n(1)?,
            z: Some(n(2)?),
        }),
        k => Err(err(
            path,
            format!("a position has 2 or 3 numbers, found {k}"),
        )),
    }
}

fn array<'v>(v: &'v Value, path: &str) -> Res<&'v [Value]> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(err(
            path,
            format!("expected an array, found {}", kind(other)),
        )),
    }
}

fn positions(v: &Value, path: &str) -> Res<Vec<Coord>> {
    array(v, path)?
        .iter()
        .enumerate()
        .map(|(i, p)| position(p, &format!("{path}/{i}")))
        .collect()
}

fn rings(v: &Value, path: &str) -> Res<Vec<Vec<Coord>>> {
    array(v, path)?
        .iter()
        .enumerate()
        .map(|(i, r)| positions(r, &format!("{path}/{i}")))
        .collect()
}

fn geojson(m: &Map<String, Value>, path: &str, allow_collection: bool) -> Res<Geometry> {
    let ty = string_member(m, "type", path)?;
    let g = if ty == "GeometryCollection" {
        if !allow_collection {
            return Err(err(path, "a GeometryCollection cannot contain another one"));
        }
        only_keys(m, &["type", "geometries", "bbox"], path)?;
        let p = format!("{path}/geometries");
        let members = m
            .get("geometries")
            .ok_or_else(|| err(path, "missing member \"geometries\""))?;
        let gs = array(members, &p)?
            .iter()
            .enumerate()
            .map(|(i, g)| match g {
                Value::Object(gm) => geojson(gm, &format!("{p}/{i}"), false),
                other => Err(err(
                    &format!("{p}/{i}"),
                    format!("expected a GeoJSON geometry, found {}", kind(other)),
                )),
            })
            .collect::<Res<Vec<_>>>()?;
        Geometry::GeometryCollection(gs)
    } else {
        only_keys(m, &["type", "coordinates", "bbox"], path)?;
        let p = format!("{path}/coordinates");
        let c = m
            .get("coordinates")
            .ok_or_else(|| err(path, "missing member \"coordinates\""))?;
        match ty {
            "Point" => Geometry::Point(position(c, &p)?),
            "LineString" => Geometry::LineString(positions(c, &p)?),
            "Polygon" => Geometry::Polygon(rings(c, &p)?),
            "MultiPoint" => Geometry::MultiPoint(positions(c, &p)?),
            "MultiLineString" => Geometry::MultiLineString(rings(c, &p)?),
            "MultiPolygon" => Geometry::MultiPolygon(
                array(c, &p)?
                    .iter()
                    .enumerate()
                    .map(|(i, poly)| rings(poly, &format!("{p}/{i}")))
                    .collect::<Res<Vec<_>>>()?,
            ),
            other => {
                return Err(err(
                    &format!("{path}/type"),
                    format!(
                        "unknown geometry type {}; expected Point, LineString, Polygon, MultiPoint, MultiLineString, MultiPolygon or GeometryCollection",
                        echo(other)
                    ),
                ))
            }
        }
    };
    if allow_collection {
        g.check().map_err(|msg| err(path, msg))?;
    }
    Ok(g)
}

//! `$filter` of the SensorThings API: comparisons (`eq ne gt ge lt le`) of a property with a
//! literal (number, `'text'`, ISO 8601 time), combined with `and`, `or`, `not` and parentheses,
//! compiled to SQL with bound parameters. Functions, arithmetic and property-to-property
//! comparisons are refused as not implemented, by name.

use chrono::{DateTime, Utc};

use super::StaError;

/// A value bound to the statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// An id.
    Int(i64),
    /// A number.
    Num(f64),
    /// Text.
    Text(String),
    /// A time.
    Time(DateTime<Utc>),
}

/// How a property compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Ids (integers).
    Id,
    /// Text.
    Text,
    /// Times.
    Time,
    /// An observation's result: numbers against `result_number`, text against the JSON text.
    Result,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Num(f64),
    Str(String),
    Time(DateTime<Utc>),
    Open,
    Close,
    Comma,
}

fn tokens(text: &str) -> Result<Vec<Tok>, StaError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::Open);
            i += 1;
        } else if c == ')' {
            out.push(Tok::Close);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(StaError::BadRequest(
                            "$filter: a text literal is not closed with '".into(),
                        ))
                    }
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        s.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || ":.+-".contains(chars[i]))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if let Ok(n) = word.parse::<f64>() {
                out.push(Tok::Num(n));
            } else if let Ok(t) = DateTime::parse_from_rfc3339(&word) {
                out.push(Tok::Time(t.with_timezone(&Utc)));
            } else {
                return Err(StaError::BadRequest(format!(
                    "$filter: \"{word}\" is neither a number nor an ISO 8601 time with zone"
                )));
            }
        } else if c.is_alphabetic() || c == '@' || c == '_' || c == '$' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || "@_./$".contains(chars[i])) {
                i += 1;
            }
            out.push(Tok::Word(chars[start..i].iter().collect()));
        } else {
            return Err(StaError::BadRequest(format!(
                "$filter: unexpected character '{c}'"
            )));
        }
    }
    Ok(out)
}

const COMPARISONS: [(&str, &str); 6] = [
    ("eq", "="),
    ("ne", "<>"),
    ("gt", ">"),
    ("ge", ">="),
    ("lt", "<"),
    ("le", "<="),
];
const ARITHMETIC: [&str; 5] = ["add", "sub", "mul", "div", "mod"];

/// Compiles `$filter` against `props` (name → SQL expression, kind): SQL, with parameters
/// numbered from `params.len() + 1` and pushed to `params`.
pub fn compile(
    text: &str,
    props: &dyn Fn(&str) -> Option<(String, Kind)>,
    params: &mut Vec<Param>,
) -> Result<String, StaError> {
    let toks = tokens(text)?;
    let mut p = Parser {
        toks,
        at: 0,
        props,
        params,
    };
    let sql = p.or()?;
    if let Some(t) = p.toks.get(p.at) {
        return Err(StaError::BadRequest(format!(
            "$filter: unexpected {} after a complete expression",
            describe(t)
        )));
    }
    Ok(sql)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("\"{w}\""),
        Tok::Num(n) => format!("number {n}"),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Time(t) => format!("time {}", t.to_rfc3339()),
        Tok::Open => "(".into(),
        Tok::Close => ")".into(),
        Tok::Comma => ",".into(),
    }
}

struct Parser<'a> {
    toks: Vec<Tok>,
    at: usize,
    props: &'a dyn Fn(&str) -> Option<(String, Kind)>,
    params: &'a mut Vec<Param>,
}

enum Operand {
    Prop(String, Kind, String),
    Lit(Tok),
}

impl Parser<'_> {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.at), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn or(&mut self) -> Result<String, StaError> {
        let mut sql = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            let rhs = self.and()?;
            sql = format!("({sql} OR {rhs})");
        }
        Ok(sql)
    }

    fn and(&mut self) -> Result<String, StaError> {
        let mut sql = self.unary()?;
        while self.peek_word("and") {
            self.at += 1;
            let rhs = self.unary()?;
            sql = format!("({sql} AND {rhs})");
        }
        Ok(sql)
    }

    fn unary(&mut self) -> Result<String, StaError> {
        if self.peek_word("not") {
            self.at += 1;
            let inner = self.unary()?;
            return Ok(format!("(NOT {inner})"));
        }
        if self.toks.get(self.at) == Some(&Tok::Open) {
            self.at += 1;
            let inner = self.or()?;
            if self.toks.get(self.at) != Some(&Tok::Close) {
                return Err(StaError::BadRequest("$filter: a '(' is not closed".into()));
            }
            self.at += 1;
            return Ok(inner);
        }
        self.comparison()
    }

    fn operand(&mut self) -> Result<Operand, StaError> {
        let Some(t) = self.toks.get(self.at).cloned() else {
            return Err(StaError::BadRequest(
                "$filter ends where a value was expected".into(),
            ));
        };
        self.at += 1;
        match t {
            Tok::Word(w) => {
                if self.toks.get(self.at) == Some(&Tok::Open) {
                    return Err(StaError::NotImplemented(format!(
                        "the $filter function {w}() is not supported (comparisons with eq, ne, gt, ge, lt, le combined by and, or, not are)"
                    )));
                }
                match (self.props)(&w) {
                    Some((sql, kind)) => Ok(Operand::Prop(sql, kind, w)),
                    None => Err(StaError::BadRequest(format!(
                        "$filter: \"{w}\" is not a property that can be filtered here"
                    ))),
                }
            }
            lit @ (Tok::Num(_) | Tok::Str(_) | Tok::Time(_)) => Ok(Operand::Lit(lit)),
            other => Err(StaError::BadRequest(format!(
                "$filter: unexpected {} where a value was expected",
                describe(&other)
            ))),
        }
    }

    fn comparison(&mut self) -> Result<String, StaError> {
        let left = self.operand()?;
        let op = match self.toks.get(self.at) {
            Some(Tok::Word(w)) => w.to_ascii_lowercase(),
            Some(t) => {
                return Err(StaError::BadRequest(format!(
                    "$filter: expected a comparison (eq, ne, gt, ge, lt, le), found {}",
                    describe(t)
                )))
            }
            None => {
                return Err(StaError::BadRequest(
                    "$filter ends where a comparison was expected".into(),
                ))
            }
        };
        if ARITHMETIC.contains(&op.as_str()) {
            return Err(StaError::NotImplemented(format!(
                "the $filter arithmetic operator {op} is not supported"
            )));
        }
        let Some((_, sql_op)) = COMPARISONS.iter().find(|(o, _)| *o == op) else {
            return Err(StaError::BadRequest(format!(
                "$filter: \"{op}\" is not a comparison (eq, ne, gt, ge, lt, le)"
            )));
        };
        self.at += 1;
        let right = self.operand()?;
        let (prop, lit, sql_op) = match (left, right) {
            (Operand::Prop(s, k, n), Operand::Lit(l)) => ((s, k, n), l, sql_op.to_string()),
            (Operand::Lit(l), Operand::Prop(s, k, n)) => ((s, k, n), l, mirror(sql_op)),
            (Operand::Prop(..), Operand::Prop(..)) => {
                return Err(StaError::NotImplemented(
                    "$filter comparisons of two properties are not supported".into(),
                ))
            }
            (Operand::Lit(_), Operand::Lit(_)) => {
                return Err(StaError::BadRequest(
                    "$filter: a comparison needs a property".into(),
                ))
            }
        };
        self.bind(prop, lit, &sql_op)
    }

    fn bind(
        &mut self,
        (sql, kind, name): (String, Kind, String),
        lit: Tok,
        op: &str,
    ) -> Result<String, StaError> {
        let n = self.params.len() + 1;
        let mismatch = |want: &str| {
            StaError::BadRequest(format!(
                "$filter: {name} is compared with {want}, not {}",
                describe(&lit)
            ))
        };
        let (param, out) = match (kind, &lit) {
            (Kind::Id, Tok::Num(v)) if v.fract() == 0.0 && v.abs() < 9e15 => {
                (Param::Int(*v as i64), format!("{sql} {op} ${n}"))
            }
            (Kind::Id, _) => return Err(mismatch("a whole number")),
            (Kind::Text, Tok::Str(s)) => (Param::Text(s.clone()), format!("{sql} {op} ${n}")),
            (Kind::Text, _) => return Err(mismatch("'text'")),
            (Kind::Time, Tok::Time(t)) => (Param::Time(*t), format!("{sql} {op} ${n}")),
            (Kind::Time, Tok::Str(s)) => match DateTime::parse_from_rfc3339(s) {
                Ok(t) => (
                    Param::Time(t.with_timezone(&Utc)),
                    format!("{sql} {op} ${n}"),
                ),
                Err(_) => return Err(mismatch("an ISO 8601 time")),
            },
            (Kind::Time, _) => return Err(mismatch("an ISO 8601 time")),
            (Kind::Result, Tok::Num(v)) => (Param::Num(*v), format!("{sql}_number {op} ${n}")),
            (Kind::Result, Tok::Str(s)) => (
                Param::Text(s.clone()),
                format!("(jsonb_typeof({sql}) = 'string' AND ({sql} #>> '{{}}') {op} ${n})"),
            ),
            (Kind::Result, _) => return Err(mismatch("a number or 'text'")),
        };
        self.params.push(param);
        Ok(out)
    }
}

fn mirror(op: &str) -> String {
    match op {
        ">" => "<",
        ">=" => "<=",
        "<" => ">",
        "<=" => ">=",
        o => o,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(name: &str) -> Option<(String, Kind)> {
        match name {
            "id" | "@iot.id" => Some(("e.id".into(), Kind::Id)),
            "result" => Some(("e.result".into(), Kind::Result)),
            "phenomenonTime" => Some(("e.phenomenon_time".into(), Kind::Time)),
            "name" => Some(("e.name".into(), Kind::Text)),
            _ => None,
        }
    }

    fn sql(text: &str) -> Result<(String, Vec<Param>), StaError> {
        let mut params = vec![Param::Int(0)];
        compile(text, &props, &mut params).map(|s| (s, params))
    }

    #[test]
    fn comparisons_and_logic() {
        let (s, p) = sql("result gt 5 and (phenomenonTime ge 2026-01-01T00:00:00Z or not id eq 3)")
            .expect("valid");
        assert_eq!(
            s,
            "(e.result_number > $2 AND (e.phenomenon_time >= $3 OR (NOT e.id = $4)))"
        );
        assert_eq!(p.len(), 4);
        assert_eq!(p[3], Param::Int(3));
        let (s, _) = sql("10 lt result").expect("mirrored");
        assert_eq!(s, "e.result_number > $2");
        let (s, p) = sql("name eq 'Trạm ''A'''").expect("text");
        assert_eq!(s, "e.name = $2");
        assert_eq!(p[1], Param::Text("Trạm 'A'".into()));
    }

    #[test]
    fn unsupported_and_bad_filters() {
        let is_501 = |t: &str| matches!(sql(t), Err(StaError::NotImplemented(_)));
        let is_400 = |t: &str| matches!(sql(t), Err(StaError::BadRequest(_)));
        assert!(is_501("substringof('a', name)"));
        assert!(is_501("result add 2 gt 3"));
        assert!(is_501("result gt id"));
        assert!(is_400("colour eq 'red'"));
        assert!(is_400("id eq 'x'"));
        assert!(is_400("phenomenonTime gt 5"));
        assert!(is_400("result gt"));
        assert!(is_400("(result gt 1"));
        assert!(is_400("result gt 1 result"));
        assert!(is_400("result like 1"));
    }
}

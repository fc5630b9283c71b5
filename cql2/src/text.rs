//! cql2-text: a hand-written lexer and recursive-descent parser for the CQL2 1.0 BNF.
//!
//! Precedence, loosest first: `OR`, `AND`, `NOT`, predicates (comparison, `LIKE`, `BETWEEN`,
//! `IN`, `IS NULL`), `+ -`, `* /`, unary minus, primaries. Every error names the character
//! position of the token at fault.

use super::ast::{
    check_date, check_text, check_timestamp, interval_bound_from_text, ArithmeticOp, BBox,
    CompareOp, Coord, Expr, Geometry, IntervalBound, SpatialOp, TemporalOp,
};
use super::{echo, too_long, Cql2Error, Position, MAX_DEPTH};

/// Parses a cql2-text filter. The result is always a predicate ([`Expr::is_predicate`]).
///
/// ```
/// use cql2::{parse_text, CompareOp, Expr};
/// let e = parse_text("sheet_number = 12").unwrap();
/// assert_eq!(
///     e,
///     Expr::Compare {
///         op: CompareOp::Eq,
///         left: Box::new(Expr::Property("sheet_number".into())),
///         right: Box::new(Expr::Integer(12)),
///     }
/// );
/// let err = parse_text("name = ").unwrap_err().to_string();
/// assert!(err.starts_with("expected a value after '=', found the end of the filter at position 7"));
/// ```
pub fn parse_text(input: &str) -> Result<Expr, Cql2Error> {
    too_long(input)?;
    let toks = lex(input)?;
    let mut p = Parser {
        input,
        toks,
        i: 0,
        depth: 0,
    };
    if p.peek().tok == Tok::Eof {
        return Err(p.err(0, "the filter is empty", None));
    }
    let e = p.parse_or()?;
    let t = p.peek().clone();
    match t.tok {
        Tok::Eof => {}
        Tok::RParen => return Err(p.err(t.pos, "unmatched ')'", None)),
        _ => {
            return Err(p.err(
                t.pos,
                format!("unexpected {}", t.tok.describe()),
                Some("combine conditions with AND or OR".into()),
            ))
        }
    }
    if !e.is_predicate() {
        return Err(p.err(
            0,
            format!("the filter must be a condition, but it is {}", e.describe()),
            Some(PREDICATE_HINT.into()),
        ));
    }
    Ok(e)
}

const PREDICATE_HINT: &str = "a condition is a comparison (=, <>, <, >, <=, >=), LIKE, BETWEEN, IN, IS NULL, a spatial or temporal function, TRUE or FALSE";

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An unquoted identifier or keyword.
    Word(String),
    /// A double-quoted property name.
    Quoted(String),
    /// A single-quoted text literal, unescaped.
    Str(String),
    /// A number as written.
    Num(String),
    LParen,
    RParen,
    Comma,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => {
                if RESERVED.iter().any(|k| k.eq_ignore_ascii_case(w)) {
                    w.to_ascii_uppercase()
                } else {
                    format!("the word {}", echo(w))
                }
            }
            Tok::Quoted(w) => format!("the property name {}", echo(w)),
            Tok::Str(s) => format!("the text {}", echo(s)),
            Tok::Num(n) => format!("the number {n}"),
            Tok::Eof => "the end of the filter".into(),
            t => format!("'{}'", t.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Eq => "=",
            Tok::Ne => "<>",
            Tok::Lt => "<",
            Tok::Gt => ">",
            Tok::Le => "<=",
            Tok::Ge => ">=",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            _ => "",
        }
    }
}

/// Words that are never property names unless double-quoted.
const RESERVED: [&str; 10] = [
    "AND", "OR", "NOT", "LIKE", "BETWEEN", "IN", "IS", "NULL", "TRUE", "FALSE",
];

const GEOMETRY_TAGS: [&str; 7] = [
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
    "GEOMETRYCOLLECTION",
];

const ARRAY_FUNCTIONS: [&str; 4] = ["A_EQUALS", "A_CONTAINS", "A_CONTAINEDBY", "A_OVERLAPS"];

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Character offset of the first character.
    pos: usize,
}

fn syntax(
    input: &str,
    offset: usize,
    message: impl Into<String>,
    hint: Option<String>,
) -> Cql2Error {
    Cql2Error::Syntax {
        position: Position::in_text(input, offset),
        message: message.into(),
        hint,
    }
}

/// `identifierStart` of the CQL2 BNF.
fn is_ident_start(c: char) -> bool {
    matches!(c,
        ':' | '_' | 'A'..='Z' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFE}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// `identifierPart` of the CQL2 BNF.
fn is_ident_part(c: char) -> bool {
    is_ident_start(c)
        || matches!(c, '.' | '0'..='9' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

fn lex(input: &str) -> Result<Vec<Token>, Cql2Error> {
    let chars: Vec<char> = input.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = match c {
            '(' | ')' | ',' | '=' | '+' | '-' | '*' | '/' => {
                i += 1;
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    ',' => Tok::Comma,
                    '=' => Tok::Eq,
                    '+' => Tok::Plus,
                    '-' => Tok::Minus,
                    '*' => Tok::Star,
                    _ => Tok::Slash,
                }
            }
            '<' => match at(i + 1) {
                Some('>') => {
                    i += 2;
                    Tok::Ne
                }
                Some('=') => {
                    i += 2;
                    Tok::Le
                }
                _ => {
                    i += 1;
                    Tok::Lt
                }
            },
            '>' => {
                if at(i + 1) == Some('=') {
                    i += 2;
                    Tok::Ge
                } else {
                    i += 1;
                    Tok::Gt
                }
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match at(i) {
                        None => {
                            return Err(syntax(
                                input,
                                start,
                                "unterminated text literal",
                                Some("close it with ' and write a quote inside it as ''".into()),
                            ))
                        }
                        Some('\'') if at(i + 1) == Some('\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\\') if at(i + 1) == Some('\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(c) => {
                            if let Err(m) = check_text(c.encode_utf8(&mut [0; 4])) {
                                return Err(syntax(input, i, m, None));
                            }
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                Tok::Str(s)
            }
            '"' => {
                i += 1;
                let body_start = i;
                while let Some(c) = at(i) {
                    if c == '"' {
                        break;
                    }
                    i += 1;
                }
                if at(i).is_none() {
                    return Err(syntax(
                        input,
                        start,
                        "unterminated quoted property name",
                        None,
                    ));
                }
                let body = &chars[body_start..i];
                i += 1;
                match body.first() {
                    None => return Err(syntax(input, start, "empty quoted property name", None)),
                    Some(&c) if !is_ident_start(c) => {
                        return Err(bad_name_char(input, body_start, c))
                    }
                    _ => {}
                }
                if let Some(k) = body.iter().position(|&c| !is_ident_part(c)) {
                    return Err(bad_name_char(input, body_start + k, body[k]));
                }
                Tok::Quoted(body.iter().collect())
            }
            '0'..='9' | '.' if c != '.' || at(i + 1).is_some_and(|d| d.is_ascii_digit()) => {
                let digits = |i: &mut usize| {
                    while at(*i).is_some_and(|d| d.is_ascii_digit()) {
                        *i += 1;
                    }
                };
                digits(&mut i);
                if at(i) == Some('.') {
                    i += 1;
                    digits(&mut i);
                }
                if matches!(at(i), Some('e' | 'E')) {
                    let mut j = i + 1;
                    if matches!(at(j), Some('+' | '-')) {
                        j += 1;
                    }
                    if at(j).is_some_and(|d| d.is_ascii_digit()) {
                        i = j;
                        digits(&mut i);
                    }
                }
                if at(i).is_some_and(is_ident_part) {
                    return Err(syntax(
                        input,
                        start,
                        "a number runs into a name",
                        Some("separate them with a space, or double-quote a property name".into()),
                    ));
                }
                Tok::Num(chars[start..i].iter().collect())
            }
            c if is_ident_start(c) => {
                while at(i).is_some_and(is_ident_part) {
                    i += 1;
                }
                Tok::Word(chars[start..i].iter().collect())
            }
            c => return Err(unexpected_char(input, start, c)),
        };
        out.push(Token { tok, pos: start });
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: chars.len(),
    });
    Ok(out)
}

fn bad_name_char(input: &str, offset: usize, c: char) -> Cql2Error {
    syntax(
        input,
        offset,
        format!(
            "character {c:?} (U+{:04X}) is not allowed in a property name",
            c as u32
        ),
        None,
    )
}

fn unexpected_char(input: &str, offset: usize, c: char) -> Cql2Error {
    let hint = match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{FF07}' => {
            Some("text literals are written between ASCII apostrophes ('…')".to_string())
        }
        '\u{201C}' | '\u{201D}' | '\u{FF02}' => {
            Some("property names are quoted with ASCII double quotes (\"…\")".to_string())
        }
        '!' => Some("not equal is written <>".to_string()),
        ';' => Some("a filter is a single expression".to_string()),
        _ => None,
    };
    syntax(
        input,
        offset,
        format!("unexpected character {c:?} (U+{:04X})", c as u32),
        hint,
    )
}

struct Parser<'a> {
    input: &'a str,
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

type Res<T> = Result<T, Cql2Error>;

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    fn peek_at(&self, k: usize) -> &Token {
        let last = self.toks.len() - 1;
        &self.toks[(self.i + k).min(last)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn prev(&self) -> Option<&Token> {
        self.i.checked_sub(1).map(|k| &self.toks[k])
    }

    fn word_is(t: &Token, kw: &str) -> bool {
        matches!(&t.tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn at_kw(&self, kw: &str) -> bool {
        Self::word_is(self.peek(), kw)
    }

    fn err(&self, offset: usize, message: impl Into<String>, hint: Option<String>) -> Cql2Error {
        syntax(self.input, offset, message, hint)
    }

    fn enter(&mut self, offset: usize) -> Res<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Cql2Error::TooDeep {
                limit: MAX_DEPTH,
                location: Position::in_text(self.input, offset).to_string(),
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Consumes `want` or fails with "expected ')' {context}, found …".
    fn expect(&mut self, want: Tok, context: &str) -> Res<Token> {
        let t = self.peek().clone();
        if t.tok == want {
            return Ok(self.bump());
        }
        Err(self.err(
            t.pos,
            format!(
                "expected '{}' {context}, found {}",
                want.symbol(),
                t.tok.describe()
            ),
            None,
        ))
    }

    fn require_predicate(&self, e: &Expr, offset: usize, context: &str) -> Res<()> {
        if e.is_predicate() {
            return Ok(());
        }
        Err(self.err(
            offset,
            format!("expected a condition {context}, found {}", e.describe()),
            Some(PREDICATE_HINT.into()),
        ))
    }

    fn parse_or(&mut self) -> Res<Expr> {
        let start = self.peek().pos;
        self.enter(start)?;
        let first = self.parse_and()?;
        if !self.at_kw("OR") {
            self.leave();
            return Ok(first);
        }
        self.require_predicate(&first, start, "before OR")?;
        let mut args = vec![first];
        while self.at_kw("OR") {
            self.bump();
            let p = self.peek().pos;
            let e = self.parse_and()?;
            self.require_predicate(&e, p, "after OR")?;
            args.push(e);
        }
        self.leave();
        Ok(Expr::Or(args))
    }

    fn parse_and(&mut self) -> Res<Expr> {
        let start = self.peek().pos;
        let first = self.parse_not()?;
        if !self.at_kw("AND") {
            return Ok(first);
        }
        self.require_predicate(&first, start, "before AND")?;
        let mut args = vec![first];
        while self.at_kw("AND") {
            self.bump();
            let p = self.peek().pos;
            let e = self.parse_not()?;
            self.require_predicate(&e, p, "after AND")?;
            args.push(e);
        }
        Ok(Expr::And(args))
    }

    fn parse_not(&mut self) -> Res<Expr> {
        if !self.at_kw("NOT") {
            return self.parse_predicate();
        }
        let pos = self.bump().pos;
        self.enter(pos)?;
        let p = self.peek().pos;
        let inner = self.parse_not()?;
        self.require_predicate(&inner, p, "after NOT")?;
        self.leave();
        Ok(Expr::Not(Box::new(inner)))
    }

    /// A value optionally followed by a comparison, `[NOT] LIKE|BETWEEN|IN` or `IS [NOT] NULL`.
    fn parse_predicate(&mut self) -> Res<Expr> {
        let left = self.parse_additive()?;
        let t = self.peek().clone();
        let op = match t.tok {
            Tok::Eq => Some(CompareOp::Eq),
            Tok::Ne => Some(CompareOp::Ne),
            Tok::Lt => Some(CompareOp::Lt),
            Tok::Gt => Some(CompareOp::Gt),
            Tok::Le => Some(CompareOp::Le),
            Tok::Ge => Some(CompareOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            let right = self.parse_additive()?;
            return Ok(Expr::Compare {
                op,
                left: Box::new(left),
                right: Box::new(right),
            });
        }
        if Self::word_is(&t, "NOT") {
            self.bump();
            let n = self.peek().clone();
            if ["LIKE", "BETWEEN", "IN"]
                .iter()
                .any(|k| Self::word_is(&n, k))
            {
                let e = self.parse_operator(left)?;
                return Ok(Expr::Not(Box::new(e)));
            }
            return Err(self.err(
                n.pos,
                format!(
                    "expected LIKE, BETWEEN or IN after NOT, found {}",
                    n.tok.describe()
                ),
                None,
            ));
        }
        if ["LIKE", "BETWEEN", "IN", "IS"]
            .iter()
            .any(|k| Self::word_is(&t, k))
        {
            return self.parse_operator(left);
        }
        let ends_operand = matches!(t.tok, Tok::RParen | Tok::Eof)
            || Self::word_is(&t, "AND")
            || Self::word_is(&t, "OR");
        if left.is_predicate() || t.tok == Tok::RParen {
            return Ok(left);
        }
        let found = if ends_operand {
            t.tok.describe()
        } else {
            format!("{} instead", t.tok.describe())
        };
        Err(self.err(
            t.pos,
            format!(
                "expected a comparison operator after {}, found {found}",
                left.describe()
            ),
            Some("compare with =, <>, <, >, <=, >=, LIKE, BETWEEN, IN or IS NULL".into()),
        ))
    }

    /// `LIKE pattern`, `BETWEEN a AND b`, `IN (…)`, `IS [NOT] NULL` after `left`.
    fn parse_operator(&mut self, left: Expr) -> Res<Expr> {
        let t = self.bump();
        let left = Box::new(left);
        if Self::word_is(&t, "LIKE") {
            let pattern = Box::new(self.parse_pattern()?);
            return Ok(Expr::Like {
                value: left,
                pattern,
            });
        }
        if Self::word_is(&t, "BETWEEN") {
            let low = Box::new(self.parse_additive()?);
            let a = self.peek().clone();
            if !Self::word_is(&a, "AND") {
                return Err(self.err(
                    a.pos,
                    format!(
                        "expected AND between the bounds of BETWEEN, found {}",
                        a.tok.describe()
                    ),
                    None,
                ));
            }
            self.bump();
            let high = Box::new(self.parse_additive()?);
            return Ok(Expr::Between {
                value: left,
                low,
                high,
            });
        }
        if Self::word_is(&t, "IN") {
            self.expect(Tok::LParen, "after IN")?;
            let mut list = Vec::new();
            loop {
                list.push(self.parse_additive()?);
                let n = self.bump();
                match n.tok {
                    Tok::Comma => continue,
                    Tok::RParen => break,
                    _ => {
                        return Err(self.err(
                            n.pos,
                            format!(
                                "expected ',' or ')' in the IN list, found {}",
                                n.tok.describe()
                            ),
                            None,
                        ))
                    }
                }
            }
            return Ok(Expr::In { value: left, list });
        }
        // IS [NOT] NULL
        let negated = self.at_kw("NOT");
        if negated {
            self.bump();
        }
        let n = self.peek().clone();
        if !Self::word_is(&n, "NULL") {
            return Err(self.err(
                n.pos,
                format!(
                    "expected NULL after IS{}, found {}",
                    if negated { " NOT" } else { "" },
                    n.tok.describe()
                ),
                None,
            ));
        }
        self.bump();
        let e = Expr::IsNull(left);
        Ok(if negated { Expr::Not(Box::new(e)) } else { e })
    }

    /// The right side of LIKE: a text literal, optionally inside CASEI(…) / ACCENTI(…).
    fn parse_pattern(&mut self) -> Res<Expr> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Str(s) => {
                self.bump();
                Ok(Expr::String(s.clone()))
            }
            Tok::Word(w)
                if (w.eq_ignore_ascii_case("CASEI") || w.eq_ignore_ascii_case("ACCENTI"))
                    && self.peek_at(1).tok == Tok::LParen =>
            {
                let casei = w.eq_ignore_ascii_case("CASEI");
                self.bump();
                self.bump();
                self.enter(t.pos)?;
                let inner = Box::new(self.parse_pattern()?);
                self.expect(Tok::RParen, "to close the pattern")?;
                self.leave();
                Ok(if casei {
                    Expr::CaseI(inner)
                } else {
                    Expr::AccentI(inner)
                })
            }
            _ => Err(self.err(
                t.pos,
                format!("expected a text pattern after LIKE, found {}", t.tok.describe()),
                Some("write it as a quoted text such as 'Tân%', optionally in CASEI(…) or ACCENTI(…)".into()),
            )),
        }
    }

    fn parse_additive(&mut self) -> Res<Expr> {
        let mut left = self.parse_multiplicative()?;
        let mut chain = 0;
        loop {
            let op = match self.peek().tok {
                Tok::Plus => ArithmeticOp::Add,
                Tok::Minus => ArithmeticOp::Sub,
                _ => break,
            };
            let pos = self.bump().pos;
            self.enter(pos)?;
            chain += 1;
            let right = self.parse_multiplicative()?;
            left = Expr::Arithmetic {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        self.depth -= chain;
        Ok(left)
    }

    fn parse_multiplicative(&mut self) -> Res<Expr> {
        let mut left = self.parse_unary()?;
        let mut chain = 0;
        loop {
            let op = match self.peek().tok {
                Tok::Star => ArithmeticOp::Mul,
                Tok::Slash => ArithmeticOp::Div,
                _ => break,
            };
            let pos = self.bump().pos;
            self.enter(pos)?;
            chain += 1;
            let right = self.parse_unary()?;
            left = Expr::Arithmetic {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        self.depth -= chain;
        Ok(left)
    }

    fn parse_unary(&mut self) -> Res<Expr> {
        let t = self.peek().clone();
        let negative = match t.tok {
            Tok::Minus => true,
            Tok::Plus => false,
            _ => return self.parse_primary(),
        };
        self.bump();
        if let Tok::Num(n) = &self.peek().tok {
            let n = n.clone();
            self.bump();
            let text = if negative { format!("-{n}") } else { n };
            return self.number(&text, t.pos);
        }
        self.enter(t.pos)?;
        let inner = self.parse_unary()?;
        self.leave();
        Ok(if negative {
            Expr::Arithmetic {
                op: ArithmeticOp::Mul,
                left: Box::new(Expr::Integer(-1)),
                right: Box::new(inner),
            }
        } else {
            inner
        })
    }

    fn number(&self, text: &str, pos: usize) -> Res<Expr> {
        let float = || -> Res<Expr> {
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Expr::Float(f)),
                _ => Err(self.err(pos, format!("the number {text} is out of range"), None)),
            }
        };
        if text.contains(['.', 'e', 'E']) {
            return float();
        }
        match text.parse::<i64>() {
            Ok(i) => Ok(Expr::Integer(i)),
            Err(_) => float(),
        }
    }

    fn expected_value(&self, t: &Token) -> Cql2Error {
        let after = match self.prev() {
            Some(p) => format!(" after {}", p.tok.describe()),
            None => String::new(),
        };
        self.err(
            t.pos,
            format!("expected a value{after}, found {}", t.tok.describe()),
            None,
        )
    }

    fn parse_primary(&mut self) -> Res<Expr> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Num(ref n) => {
                self.bump();
                self.number(n, t.pos)
            }
            Tok::Str(s) => {
                self.bump();
                Ok(Expr::String(s))
            }
            Tok::Quoted(name) => {
                self.bump();
                Ok(Expr::Property(name))
            }
            Tok::LParen => {
                self.bump();
                let e = self.parse_or()?;
                let close = self.peek().clone();
                if close.tok != Tok::RParen {
                    return Err(self.err(
                        close.pos,
                        format!(
                            "expected ')' to close the '(' at position {}, found {}",
                            t.pos,
                            close.tok.describe()
                        ),
                        None,
                    ));
                }
                self.bump();
                Ok(e)
            }
            Tok::Word(ref w) => self.parse_word(&t, w),
            _ => Err(self.expected_value(&t)),
        }
    }

    fn parse_word(&mut self, t: &Token, w: &str) -> Res<Expr> {
        let upper = w.to_ascii_uppercase();
        let call = self.peek_at(1).tok == Tok::LParen;
        match upper.as_str() {
            "TRUE" | "FALSE" => {
                self.bump();
                return Ok(Expr::Bool(upper == "TRUE"));
            }
            "NULL" => {
                return Err(self.err(
                    t.pos,
                    "NULL is not a value",
                    Some("test for it with IS NULL or IS NOT NULL".into()),
                ))
            }
            _ if RESERVED.contains(&upper.as_str()) => return Err(self.expected_value(t)),
            _ => {}
        }
        let tag = GEOMETRY_TAGS.contains(&upper.as_str());
        if tag && Self::word_is(self.peek_at(1), "Z") && self.peek_at(2).tok == Tok::LParen {
            return Ok(Expr::Geometry(self.parse_geometry()?));
        }
        if tag && Self::word_is(self.peek_at(1), "EMPTY") {
            return Err(self.err(t.pos, "EMPTY geometries are not supported", None));
        }
        if !call {
            self.bump();
            return Ok(Expr::Property(w.to_string()));
        }
        if tag {
            return Ok(Expr::Geometry(self.parse_geometry()?));
        }
        match upper.as_str() {
            "BBOX" | "ENVELOPE" => Ok(Expr::BBox(self.parse_bbox()?)),
            "CASEI" | "ACCENTI" => {
                self.bump();
                self.bump();
                self.enter(t.pos)?;
                let inner = Box::new(self.parse_additive()?);
                self.expect(Tok::RParen, &format!("to close {upper}("))?;
                self.leave();
                Ok(if upper == "CASEI" {
                    Expr::CaseI(inner)
                } else {
                    Expr::AccentI(inner)
                })
            }
            "DATE" | "TIMESTAMP" => self.parse_instant(&upper),
            "INTERVAL" => {
                self.bump();
                self.bump();
                let start = self.parse_interval_bound()?;
                self.expect(Tok::Comma, "between the start and end of INTERVAL")?;
                let end = self.parse_interval_bound()?;
                self.expect(Tok::RParen, "to close INTERVAL(")?;
                Ok(Expr::Interval(start, end))
            }
            _ => {
                if let Some(op) = SpatialOp::from_name(&upper) {
                    let (left, right) = self.parse_two_args(t, op.name())?;
                    return Ok(Expr::Spatial { op, left, right });
                }
                if let Some(op) = TemporalOp::from_name(&upper) {
                    let (left, right) = self.parse_two_args(t, op.name())?;
                    return Ok(Expr::Temporal { op, left, right });
                }
                Err(self.unknown_function(t, w, &upper))
            }
        }
    }

    fn unknown_function(&self, t: &Token, w: &str, upper: &str) -> Cql2Error {
        let spatial = SpatialOp::ALL.map(SpatialOp::name).join(", ");
        let temporal = TemporalOp::ALL.map(TemporalOp::name).join(", ");
        let (message, hint) = if ARRAY_FUNCTIONS.contains(&upper) {
            (format!("array function {upper} is not supported"), None)
        } else if upper.starts_with("S_") {
            (
                format!("unknown function {}", echo(w)),
                Some(format!("spatial functions are {spatial}")),
            )
        } else if upper.starts_with("T_") {
            (
                format!("unknown function {}", echo(w)),
                Some(format!("temporal functions are {temporal}")),
            )
        } else {
            (
                format!("unknown function {}", echo(w)),
                Some(format!(
                    "functions are CASEI, ACCENTI, DATE, TIMESTAMP, INTERVAL, BBOX, POINT, LINESTRING, POLYGON, MULTIPOINT, MULTILINESTRING, MULTIPOLYGON, GEOMETRYCOLLECTION, {spatial}, {temporal}; a property name followed by '(' must be double-quoted"
                )),
            )
        };
        self.err(t.pos, message, hint)
    }

    /// `NAME ( a , b )` with the name already peeked.
    fn parse_two_args(&mut self, t: &Token, name: &str) -> Res<(Box<Expr>, Box<Expr>)> {
        self.bump();
        self.bump();
        self.enter(t.pos)?;
        let a = self.parse_additive()?;
        self.expect(Tok::Comma, &format!("between the two arguments of {name}"))?;
        let b = self.parse_additive()?;
        self.expect(Tok::RParen, &format!("after the second argument of {name}"))?;
        self.leave();
        Ok((Box::new(a), Box::new(b)))
    }

    /// `DATE('…')` / `TIMESTAMP('…')` with the keyword peeked.
    fn parse_instant(&mut self, upper: &str) -> Res<Expr> {
        self.bump();
        self.bump();
        let s = self.peek().clone();
        let Tok::Str(text) = &s.tok else {
            let example = if upper == "DATE" {
                "DATE('2024-05-31')"
            } else {
                "TIMESTAMP('2024-05-31T08:30:00Z')"
            };
            return Err(self.err(
                s.pos,
                format!(
                    "expected a quoted text in {upper}(…), found {}",
                    s.tok.describe()
                ),
                Some(format!("write e.g. {example}")),
            ));
        };
        let checked = if upper == "DATE" {
            check_date(text).map(|_| Expr::Date(text.clone()))
        } else {
            check_timestamp(text).map(|_| Expr::Timestamp(text.clone()))
        };
        let e = checked.map_err(|m| self.err(s.pos, m, None))?;
        self.bump();
        self.expect(Tok::RParen, &format!("to close {upper}("))?;
        Ok(e)
    }

    fn parse_interval_bound(&mut self) -> Res<IntervalBound> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Str(s) => {
                self.bump();
                interval_bound_from_text(s).map_err(|m| self.err(t.pos, m, None))
            }
            Tok::Quoted(name) => {
                self.bump();
                Ok(IntervalBound::Property(name.clone()))
            }
            Tok::Word(w)
                if (w.eq_ignore_ascii_case("DATE") || w.eq_ignore_ascii_case("TIMESTAMP"))
                    && self.peek_at(1).tok == Tok::LParen =>
            {
                match self.parse_instant(&w.to_ascii_uppercase())? {
                    Expr::Date(d) => Ok(IntervalBound::Date(d)),
                    Expr::Timestamp(ts) => Ok(IntervalBound::Timestamp(ts)),
                    _ => Err(self.err(t.pos, "expected a date or timestamp", None)),
                }
            }
            Tok::Word(w)
                if !RESERVED.iter().any(|k| k.eq_ignore_ascii_case(w))
                    && self.peek_at(1).tok != Tok::LParen =>
            {
                self.bump();
                Ok(IntervalBound::Property(w.clone()))
            }
            _ => Err(self.err(
                t.pos,
                format!("expected an interval end, found {}", t.tok.describe()),
                Some("write a date 'YYYY-MM-DD', a timestamp 'YYYY-MM-DDThh:mm:ssZ', '..' or a property name".into()),
            )),
        }
    }

    fn signed_number(&mut self, what: &str) -> Res<f64> {
        let t = self.peek().clone();
        let sign = match t.tok {
            Tok::Minus => {
                self.bump();
                -1.0
            }
            Tok::Plus => {
                self.bump();
                1.0
            }
            _ => 1.0,
        };
        let n = self.peek().clone();
        match &n.tok {
            Tok::Num(text) => {
                self.bump();
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(sign * v),
                    _ => Err(self.err(n.pos, format!("the number {text} is out of range"), None)),
                }
            }
            _ => Err(self.err(
                n.pos,
                format!("expected a number ({what}), found {}", n.tok.describe()),
                None,
            )),
        }
    }

    fn at_number(&self) -> bool {
        match self.peek().tok {
            Tok::Num(_) => true,
            Tok::Minus | Tok::Plus => matches!(self.peek_at(1).tok, Tok::Num(_)),
            _ => false,
        }
    }

    /// `x y [z]`
    fn coord(&mut self) -> Res<Coord> {
        let x = self.signed_number("an x coordinate")?;
        let y = self.signed_number("a y coordinate")?;
        let z = if self.at_number() {
            Some(self.signed_number("a z coordinate")?)
        } else {
            None
        };
        Ok(Coord { x, y, z })
    }

    /// `( x y, x y, … )`
    fn coord_list(&mut self, tag: &str) -> Res<Vec<Coord>> {
        self.expect(
            Tok::LParen,
            &format!("to open a list of positions in {tag}"),
        )?;
        let mut out = vec![self.coord()?];
        while self.peek().tok == Tok::Comma {
            self.bump();
            out.push(self.coord()?);
        }
        self.expect(Tok::RParen, &format!("after the positions in {tag}"))?;
        Ok(out)
    }

    /// `( (…), (…) )`
    fn list_of<T>(&mut self, tag: &str, mut item: impl FnMut(&mut Self) -> Res<T>) -> Res<Vec<T>> {
        self.expect(Tok::LParen, &format!("after {tag}"))?;
        let mut out = vec![item(self)?];
        while self.peek().tok == Tok::Comma {
            self.bump();
            out.push(item(self)?);
        }
        self.expect(Tok::RParen, &format!("to close {tag}"))?;
        Ok(out)
    }

    /// A WKT geometry with its tag peeked; nested collections are refused by
    /// [`Geometry::check`].
    fn parse_geometry(&mut self) -> Res<Geometry> {
        let t = self.bump();
        let Tok::Word(w) = &t.tok else {
            return Err(self.err(t.pos, "expected a geometry", None));
        };
        let tag = w.to_ascii_uppercase();
        let has_z_tag = self.at_kw("Z");
        if has_z_tag {
            self.bump();
        }
        self.enter(t.pos)?;
        let g = match tag.as_str() {
            "POINT" => {
                self.expect(Tok::LParen, "after POINT")?;
                let c = self.coord()?;
                self.expect(Tok::RParen, "after the position of POINT")?;
                Geometry::Point(c)
            }
            "LINESTRING" => Geometry::LineString(self.coord_list(&tag)?),
            "POLYGON" => Geometry::Polygon(self.list_of(&tag, |p| p.coord_list("POLYGON"))?),
            "MULTIPOINT" => Geometry::MultiPoint(self.list_of(&tag, |p| {
                if p.peek().tok == Tok::LParen {
                    p.bump();
                    let c = p.coord()?;
                    p.expect(Tok::RParen, "after a point of MULTIPOINT")?;
                    Ok(c)
                } else {
                    p.coord()
                }
            })?),
            "MULTILINESTRING" => {
                Geometry::MultiLineString(self.list_of(&tag, |p| p.coord_list("MULTILINESTRING"))?)
            }
            "MULTIPOLYGON" => Geometry::MultiPolygon(self.list_of(&tag, |p| {
                p.list_of("a polygon of MULTIPOLYGON", |q| {
                    q.coord_list("MULTIPOLYGON")
                })
            })?),
            _ => Geometry::GeometryCollection(self.list_of(&tag, |p| {
                let m = p.peek().clone();
                let is_tag = matches!(&m.tok, Tok::Word(w)
                    if GEOMETRY_TAGS.iter().any(|g| g.eq_ignore_ascii_case(w)));
                if !is_tag {
                    return Err(p.err(
                        m.pos,
                        format!(
                            "expected a geometry in GEOMETRYCOLLECTION, found {}",
                            m.tok.describe()
                        ),
                        None,
                    ));
                }
                p.parse_geometry()
            })?),
        };
        self.leave();
        let mut checked = g.check();
        if checked.is_ok() && has_z_tag && !g.has_z() {
            checked = Err(format!("{tag} Z needs three numbers per position"));
        }
        checked.map_err(|m| self.err(t.pos, m, None))?;
        Ok(g)
    }

    /// `BBOX(w, s, e, n)` / `BBOX(w, s, zmin, e, n, zmax)`, `ENVELOPE` alike.
    fn parse_bbox(&mut self) -> Res<BBox> {
        let t = self.bump();
        self.bump();
        let mut nums = vec![self.signed_number("a BBOX bound")?];
        while self.peek().tok == Tok::Comma {
            self.bump();
            nums.push(self.signed_number("a BBOX bound")?);
            if nums.len() > 6 {
                break;
            }
        }
        self.expect(Tok::RParen, "to close BBOX(")?;
        BBox::from_numbers(&nums).map_err(|m| self.err(t.pos, m, None))
    }
}

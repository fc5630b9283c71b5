//! The SensorThings API 1.1 read side (`/sta/v1.1`), without HTTP: a request is a path below
//! the service root and its query options; the answer is JSON. Entity sets, single entities,
//! one navigation step (`Things(1)/Datastreams`, `Datastreams(3)/Thing`), a property
//! (`Things(1)/name`), and the options `$top` (default 100, at most 10,000), `$skip`, `$count`,
//! `$orderby`, `$select`, `$expand` (navigation properties, with options in parentheses, nested
//! or as `A/B`) and `$filter` ([`filter`]). What the standard has and this does not
//! (HistoricalLocations, MultiDatastreams, tasking, `$ref`, `$value`, `$resultFormat`,
//! `$search`, deeper paths, `$filter` functions) is [`StaError::NotImplemented`], naming it.

pub mod filter;

use serde_json::{json, Map, Value};
use sqlx::postgres::PgArguments;
use sqlx::{PgPool, Postgres};

use filter::{Kind, Param};

/// Why a request was not answered.
#[derive(Debug, thiserror::Error)]
pub enum StaError {
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing is there.
    #[error("{0}")]
    NotFound(String),
    /// A part of the standard this server does not implement.
    #[error("{0}")]
    NotImplemented(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

struct Nav {
    name: &'static str,
    target: &'static str,
    many: bool,
    /// Condition on the target (alias `e`) with `{p}` for the parent's id parameter.
    cond: &'static str,
}

struct Set {
    name: &'static str,
    table: &'static str,
    json: &'static str,
    props: &'static [(&'static str, &'static str, Kind)],
    navs: &'static [Nav],
    /// The rows readers who are not IOC operators read (`None`: every row).
    public_rows: Option<&'static str>,
}

/// Whose read it is: the datastreams not marked public, and their observations, are for IOC
/// operators and administrators only (the access rule of the latest-value layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Anonymous readers and staff who are not IOC operators: public datastreams only.
    Public,
    /// IOC operators and administrators: everything.
    All,
}

impl Set {
    /// The condition on `e` this reach adds, if any.
    fn visible(&self, reach: Reach) -> Option<&'static str> {
        match reach {
            Reach::Public => self.public_rows,
            Reach::All => None,
        }
    }
}

const UTC: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'";

fn ts(col: &str) -> String {
    format!("to_char({col} AT TIME ZONE 'UTC', {UTC})")
}

static SETS: std::sync::LazyLock<Vec<Set>> = std::sync::LazyLock::new(|| {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    vec![
        Set {
            name: "Things",
            table: "ioc.things",
            json: "jsonb_build_object('@iot.id', e.id, 'name', e.name, 'description', e.description, 'properties', e.properties)",
            props: &[("name", "e.name", Kind::Text), ("description", "e.description", Kind::Text)],
            navs: &[
                Nav { name: "Datastreams", target: "Datastreams", many: true, cond: "e.thing_id = {p}" },
                Nav { name: "Locations", target: "Locations", many: true, cond: "e.id IN (SELECT location_id FROM ioc.thing_locations WHERE thing_id = {p})" },
            ],
            public_rows: None,
        },
        Set {
            name: "Locations",
            table: "ioc.locations",
            json: "jsonb_build_object('@iot.id', e.id, 'name', e.name, 'description', e.description, 'encodingType', e.encoding_type, 'location', ST_AsGeoJSON(e.location, 7)::jsonb)",
            props: &[("name", "e.name", Kind::Text), ("description", "e.description", Kind::Text)],
            navs: &[Nav { name: "Things", target: "Things", many: true, cond: "e.id IN (SELECT thing_id FROM ioc.thing_locations WHERE location_id = {p})" }],
            public_rows: None,
        },
        Set {
            name: "Sensors",
            table: "ioc.sensors",
            json: "jsonb_build_object('@iot.id', e.id, 'name', e.name, 'description', e.description, 'encodingType', e.encoding_type, 'metadata', e.metadata)",
            props: &[("name", "e.name", Kind::Text), ("description", "e.description", Kind::Text)],
            navs: &[Nav { name: "Datastreams", target: "Datastreams", many: true, cond: "e.sensor_id = {p}" }],
            public_rows: None,
        },
        Set {
            name: "ObservedProperties",
            table: "ioc.observed_properties",
            json: "jsonb_build_object('@iot.id', e.id, 'name', e.name, 'definition', e.definition, 'description', e.description)",
            props: &[("name", "e.name", Kind::Text), ("definition", "e.definition", Kind::Text), ("description", "e.description", Kind::Text)],
            navs: &[Nav { name: "Datastreams", target: "Datastreams", many: true, cond: "e.observed_property_id = {p}" }],
            public_rows: None,
        },
        Set {
            name: "Datastreams",
            table: "ioc.datastreams",
            json: "jsonb_build_object('@iot.id', e.id, 'name', e.name, 'description', e.description, 'observationType', e.observation_type, 'unitOfMeasurement', jsonb_build_object('name', e.unit_name, 'symbol', e.unit_symbol, 'definition', e.unit_definition), 'properties', e.properties)",
            props: &[
                ("name", "e.name", Kind::Text),
                ("description", "e.description", Kind::Text),
                ("unitOfMeasurement/symbol", "e.unit_symbol", Kind::Text),
                ("Thing/id", "e.thing_id", Kind::Id),
                ("Sensor/id", "e.sensor_id", Kind::Id),
                ("ObservedProperty/id", "e.observed_property_id", Kind::Id),
            ],
            navs: &[
                Nav { name: "Thing", target: "Things", many: false, cond: "e.id = (SELECT thing_id FROM ioc.datastreams WHERE id = {p})" },
                Nav { name: "Sensor", target: "Sensors", many: false, cond: "e.id = (SELECT sensor_id FROM ioc.datastreams WHERE id = {p})" },
                Nav { name: "ObservedProperty", target: "ObservedProperties", many: false, cond: "e.id = (SELECT observed_property_id FROM ioc.datastreams WHERE id = {p})" },
                Nav { name: "Observations", target: "Observations", many: true, cond: "e.datastream_id = {p}" },
            ],
            public_rows: Some("e.public"),
        },
        Set {
            name: "Observations",
            table: "ioc.observations",
            json: leak(format!(
                "jsonb_build_object('@iot.id', e.id, 'phenomenonTime', CASE WHEN e.phenomenon_time_end IS NULL THEN {} ELSE {} || '/' || {} END, 'resultTime', {}, 'result', e.result, 'resultQuality', e.result_quality, 'parameters', e.parameters)",
                ts("e.phenomenon_time"), ts("e.phenomenon_time"), ts("e.phenomenon_time_end"), ts("e.result_time")
            )),
            props: &[
                ("phenomenonTime", "e.phenomenon_time", Kind::Time),
                ("resultTime", "e.result_time", Kind::Time),
                ("result", "e.result", Kind::Result),
                ("Datastream/id", "e.datastream_id", Kind::Id),
                ("FeatureOfInterest/id", "e.feature_of_interest_id", Kind::Id),
            ],
            navs: &[
                Nav { name: "Datastream", target: "Datastreams", many: false, cond: "e.id = (SELECT datastream_id FROM ioc.observations WHERE id = {p})" },
                Nav { name: "FeatureOfInterest", target: "FeaturesOfInterest", many: false, cond: "e.id = (SELECT feature_of_interest_id FROM ioc.observations WHERE id = {p})" },
            ],
            public_rows: Some("e.datastream_id IN (SELECT id FROM ioc.datastreams WHERE public)"),
        },
        Set {
            name: "FeaturesOfInterest",
            table: "ioc.features_of_interest",
            json: "jsonb_build_object('@iot.id', e.id, 'name', e.name, 'description', e.description, 'encodingType', e.encoding_type, 'feature', ST_AsGeoJSON(e.feature, 7)::jsonb)",
            props: &[("name", "e.name", Kind::Text), ("description", "e.description", Kind::Text)],
            navs: &[Nav { name: "Observations", target: "Observations", many: true, cond: "e.feature_of_interest_id = {p}" }],
            public_rows: None,
        },
    ]
});

/// Entity sets of the standard this server does not serve.
const UNSUPPORTED_SETS: [&str; 5] = [
    "HistoricalLocations",
    "MultiDatastreams",
    "Tasks",
    "TaskingCapabilities",
    "Actuators",
];

fn set(name: &str) -> Result<&'static Set, StaError> {
    if let Some(s) = SETS.iter().find(|s| s.name == name) {
        return Ok(s);
    }
    if UNSUPPORTED_SETS.contains(&name) {
        return Err(StaError::NotImplemented(format!(
            "{name} are not supported by this server"
        )));
    }
    Err(StaError::NotFound(format!(
        "there is no entity set \"{}\"",
        name.chars().take(40).collect::<String>()
    )))
}

impl Set {
    fn prop(&self, name: &str) -> Option<(String, Kind)> {
        if name == "id" || name == "@iot.id" {
            return Some(("e.id".into(), Kind::Id));
        }
        let name = name.replace("/@iot.id", "/id");
        self.props
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, sql, k)| (sql.to_string(), *k))
    }

    fn nav(&self, name: &str) -> Result<&'static Nav, StaError> {
        let navs: &'static [Nav] = SETS
            .iter()
            .find(|s| s.name == self.name)
            .map_or(&[], |s| s.navs);
        navs.iter().find(|n| n.name == name).ok_or_else(|| {
            if name == "HistoricalLocations" || name == "MultiDatastreams" {
                StaError::NotImplemented(format!("{name} are not supported by this server"))
            } else {
                StaError::BadRequest(format!(
                    "{} have no navigation property \"{}\" (they have {})",
                    self.name,
                    name.chars().take(40).collect::<String>(),
                    navs.iter().map(|n| n.name).collect::<Vec<_>>().join(", ")
                ))
            }
        })
    }
}

/// Query options, parsed.
#[derive(Debug, Clone, Default)]
pub struct Options {
    top: Option<i64>,
    skip: i64,
    count: bool,
    orderby: Vec<(String, bool)>,
    select: Option<Vec<String>>,
    expand: Vec<(String, Options)>,
    filter: Option<String>,
}

const DEFAULT_TOP: i64 = 100;
const MAX_TOP: i64 = 10_000;

fn split_top(text: &str, sep: char) -> Vec<String> {
    let (mut depth, mut cur, mut out, mut quoted) = (0i32, String::new(), Vec::new(), false);
    for c in text.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            c if c == sep && depth == 0 && !quoted => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Options {
    /// Reads the query options (`$name=value` pairs, already percent-decoded).
    pub fn parse(pairs: &[(String, String)]) -> Result<Options, StaError> {
        let mut o = Options::default();
        for (k, v) in pairs {
            o.set(k, v)?;
        }
        Ok(o)
    }

    fn set(&mut self, key: &str, v: &str) -> Result<(), StaError> {
        let number = |what: &str| {
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    StaError::BadRequest(format!(
                        "{what} must be a whole number ≥ 0, not \"{}\"",
                        v.chars().take(30).collect::<String>()
                    ))
                })
        };
        match key {
            "$top" => {
                let n = number("$top")?;
                if n > MAX_TOP {
                    return Err(StaError::BadRequest(format!("$top is at most {MAX_TOP}")));
                }
                self.top = Some(n);
            }
            "$skip" => self.skip = number("$skip")?,
            "$count" => {
                self.count = match v.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(StaError::BadRequest("$count must be true or false".into())),
                }
            }
            "$orderby" => {
                for item in split_top(v, ',') {
                    let mut words = item.split_whitespace();
                    let prop = words.next().unwrap_or_default().to_string();
                    let desc = match words.next() {
                        None | Some("asc") => false,
                        Some("desc") => true,
                        Some(other) => {
                            return Err(StaError::BadRequest(format!(
                                "$orderby: \"{other}\" is neither asc nor desc"
                            )))
                        }
                    };
                    if words.next().is_some() {
                        return Err(StaError::NotImplemented(
                            "$orderby supports properties only, not expressions".into(),
                        ));
                    }
                    self.orderby.push((prop, desc));
                }
            }
            "$select" => {
                let list = split_top(v, ',');
                if list.iter().any(|s| s.starts_with("distinct:")) {
                    return Err(StaError::NotImplemented("$select=distinct: is not supported".into()));
                }
                self.select = Some(list);
            }
            "$expand" => {
                for item in split_top(v, ',') {
                    let (path, opts) = match item.find('(') {
                        Some(i) if item.ends_with(')') => (&item[..i], &item[i + 1..item.len() - 1]),
                        Some(_) => return Err(StaError::BadRequest(format!("$expand: \"{item}\" has unbalanced parentheses"))),
                        None => (item.as_str(), ""),
                    };
                    let mut inner = Options::default();
                    for part in split_top(opts, ';') {
                        let (k, val) = part.split_once('=').ok_or_else(|| {
                            StaError::BadRequest(format!("$expand: \"{part}\" is not $option=value"))
                        })?;
                        inner.set(k.trim(), val)?;
                    }
                    // `A/B` expands B inside A.
                    let mut names = path.split('/').map(str::trim);
                    let first = names.next().unwrap_or_default().to_string();
                    let rest: Vec<&str> = names.collect();
                    let opts = if rest.is_empty() {
                        inner
                    } else {
                        let nested = if opts.is_empty() {
                            rest.join("/")
                        } else {
                            format!("{}({opts})", rest.join("/"))
                        };
                        Options::parse(&[("$expand".into(), nested)])?
                    };
                    self.expand.push((first, opts));
                }
            }
            "$filter" => self.filter = Some(v.to_string()),
            k if k.starts_with('$') => {
                return Err(StaError::NotImplemented(format!(
                    "the query option {} is not supported (supported: $top, $skip, $count, $orderby, $select, $expand, $filter)",
                    k.chars().take(30).collect::<String>()
                )))
            }
            k => {
                return Err(StaError::BadRequest(format!(
                    "unknown query parameter \"{}\" (SensorThings options start with $)",
                    k.chars().take(30).collect::<String>()
                )))
            }
        }
        Ok(())
    }
}

/// One step of a resource path: a set or navigation name, and an id.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    name: String,
    id: Option<i64>,
}

fn steps(path: &str) -> Result<Vec<Step>, StaError> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|seg| match seg.find('(') {
            Some(i) if seg.ends_with(')') => {
                let id = seg[i + 1..seg.len() - 1]
                    .trim_matches('\'')
                    .parse::<i64>()
                    .map_err(|_| {
                        StaError::BadRequest(format!("\"{seg}\": ids are whole numbers"))
                    })?;
                Ok(Step {
                    name: seg[..i].to_string(),
                    id: Some(id),
                })
            }
            Some(_) => Err(StaError::BadRequest(format!("\"{seg}\" is not Set(ID)"))),
            None => Ok(Step {
                name: seg.to_string(),
                id: None,
            }),
        })
        .collect()
}

/// The service root document.
pub fn root(base: &str) -> Value {
    let value: Vec<Value> = SETS
        .iter()
        .map(|s| json!({"name": s.name, "url": format!("{base}/{}", s.name)}))
        .collect();
    json!({
        "value": value,
        "serverSettings": {
            "conformance": [
                "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations-creation"
            ]
        }
    })
}

/// Answers a GET of `path` (below `/sta/v1.1`, e.g. `Things(1)/Datastreams`); `base` is the
/// absolute service root for links.
pub async fn read(
    pool: &PgPool,
    base: &str,
    path: &str,
    opts: &Options,
    reach: Reach,
) -> Result<Value, StaError> {
    let steps = steps(path)?;
    match steps.as_slice() {
        [] => Ok(root(base)),
        [s] => {
            let set = set(&s.name)?;
            match s.id {
                None => {
                    collection(
                        pool,
                        base,
                        set,
                        None,
                        format!("{base}/{}", set.name),
                        opts,
                        reach,
                    )
                    .await
                }
                Some(id) => one(pool, base, set, "e.id = {p}", id, opts, reach).await,
            }
        }
        [_, t] if t.name == "$ref" || t.name == "$value" => Err(StaError::NotImplemented(format!(
            "{} is not supported",
            t.name
        ))),
        [s, t] => {
            let parent = set(&s.name)?;
            let Some(pid) = s.id else {
                return Err(StaError::BadRequest(format!(
                    "{} needs an id before /{}",
                    s.name, t.name
                )));
            };
            if t.id.is_none() && parent.navs.iter().all(|n| n.name != t.name) {
                // A property of the entity.
                let entity = one(
                    pool,
                    base,
                    parent,
                    "e.id = {p}",
                    pid,
                    &Options::default(),
                    reach,
                )
                .await?;
                return match entity.get(&t.name) {
                    Some(v) if !t.name.contains('@') => Ok(json!({ t.name.clone(): v })),
                    _ => Err(parent.nav(&t.name).map(|_| ()).err().unwrap_or_else(|| {
                        StaError::BadRequest(format!("no property {}", t.name))
                    })),
                };
            }
            let nav = parent.nav(&t.name)?;
            let exists: Option<i64> = sqlx::query_scalar(&format!(
                "SELECT e.id FROM {} e WHERE e.id = $1 AND {}",
                parent.table,
                parent.visible(reach).unwrap_or("true")
            ))
            .bind(pid)
            .fetch_optional(pool)
            .await?;
            if exists.is_none() {
                return Err(StaError::NotFound(format!(
                    "there is no {}({pid})",
                    parent.name
                )));
            }
            let target = set(nav.target)?;
            if t.id.is_some() {
                return Err(StaError::NotImplemented(
                    "an id after a navigation property is not supported; address the entity directly".into(),
                ));
            }
            if nav.many {
                collection(
                    pool,
                    base,
                    target,
                    Some((nav.cond, pid)),
                    format!("{base}/{}({pid})/{}", parent.name, nav.name),
                    opts,
                    reach,
                )
                .await
            } else {
                one(pool, base, target, nav.cond, pid, opts, reach).await
            }
        }
        _ => Err(StaError::NotImplemented(
            "resource paths of more than one navigation step are not supported; use $expand".into(),
        )),
    }
}

fn bind_all<'q, O>(
    mut q: sqlx::query::QueryAs<'q, Postgres, O, PgArguments>,
    params: &'q [Param],
) -> sqlx::query::QueryAs<'q, Postgres, O, PgArguments> {
    for p in params {
        q = match p {
            Param::Int(v) => q.bind(*v),
            Param::Num(v) => q.bind(*v),
            Param::Text(v) => q.bind(v.as_str()),
            Param::Time(v) => q.bind(*v),
        };
    }
    q
}

fn where_sql(
    set: &Set,
    parent: Option<(&str, i64)>,
    opts: &Options,
    params: &mut Vec<Param>,
    reach: Reach,
) -> Result<String, StaError> {
    let mut conds: Vec<String> = set.visible(reach).map(str::to_string).into_iter().collect();
    if let Some((cond, pid)) = parent {
        params.push(Param::Int(pid));
        conds.push(cond.replace("{p}", &format!("${}", params.len())));
    }
    if let Some(f) = &opts.filter {
        conds.push(filter::compile(f, &|n| set.prop(n), params)?);
    }
    Ok(if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    })
}

fn order_sql(set: &Set, opts: &Options) -> Result<String, StaError> {
    let mut parts = Vec::new();
    for (prop, desc) in &opts.orderby {
        let (sql, kind) = set.prop(prop).ok_or_else(|| {
            StaError::BadRequest(format!(
                "$orderby: \"{prop}\" is not a property of {}",
                set.name
            ))
        })?;
        let sql = if kind == Kind::Result {
            format!("{sql}_number")
        } else {
            sql
        };
        parts.push(format!(
            "{sql} {} NULLS LAST",
            if *desc { "DESC" } else { "ASC" }
        ));
    }
    parts.push("e.id".into());
    Ok(format!("ORDER BY {}", parts.join(", ")))
}

fn query_string(opts: &Options, skip: i64) -> String {
    let mut q = vec![
        format!("$top={}", opts.top.unwrap_or(DEFAULT_TOP)),
        format!("$skip={skip}"),
    ];
    if let Some(f) = &opts.filter {
        q.push(format!("$filter={}", encode(f)));
    }
    if !opts.orderby.is_empty() {
        let o: Vec<String> = opts
            .orderby
            .iter()
            .map(|(p, d)| format!("{p}{}", if *d { " desc" } else { "" }))
            .collect();
        q.push(format!("$orderby={}", encode(&o.join(","))));
    }
    if let Some(s) = &opts.select {
        q.push(format!("$select={}", encode(&s.join(","))));
    }
    if opts.count {
        q.push("$count=true".into());
    }
    q.join("&")
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:/,".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn collection<'a>(
    pool: &'a PgPool,
    base: &'a str,
    set: &'static Set,
    parent: Option<(&'static str, i64)>,
    here: String,
    opts: &'a Options,
    reach: Reach,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, StaError>> + Send + 'a>> {
    Box::pin(async move {
        let mut params = Vec::new();
        let wh = where_sql(set, parent, opts, &mut params, reach)?;
        let order = order_sql(set, opts)?;
        let top = opts.top.unwrap_or(DEFAULT_TOP);
        let sql = format!(
            "SELECT e.id, {} FROM {} e {wh} {order} LIMIT {} OFFSET {}",
            set.json,
            set.table,
            top + 1,
            opts.skip
        );
        let rows: Vec<(i64, Value)> = bind_all(sqlx::query_as(&sql), &params)
            .fetch_all(pool)
            .await?;
        let more = rows.len() as i64 > top;
        let mut out = Map::new();
        if opts.count {
            let sql = format!("SELECT count(*) FROM {} e {wh}", set.table);
            let (n,): (i64,) = bind_all(sqlx::query_as(&sql), &params)
                .fetch_one(pool)
                .await?;
            out.insert("@iot.count".into(), json!(n));
        }
        let mut value = Vec::new();
        for (id, j) in rows.into_iter().take(top.max(0) as usize) {
            value.push(shape(pool, base, set, id, j, opts, reach).await?);
        }
        if more {
            out.insert(
                "@iot.nextLink".into(),
                json!(format!("{here}?{}", query_string(opts, opts.skip + top))),
            );
        }
        out.insert("value".into(), Value::Array(value));
        Ok(Value::Object(out))
    })
}

async fn one(
    pool: &PgPool,
    base: &str,
    set: &'static Set,
    cond: &str,
    id: i64,
    opts: &Options,
    reach: Reach,
) -> Result<Value, StaError> {
    if opts.top.is_some()
        || opts.skip > 0
        || opts.count
        || !opts.orderby.is_empty()
        || opts.filter.is_some()
    {
        return Err(StaError::BadRequest(
            "$top, $skip, $count, $orderby and $filter apply to collections, not to one entity"
                .into(),
        ));
    }
    let sql = format!(
        "SELECT e.id, {} FROM {} e WHERE {} AND {}",
        set.json,
        set.table,
        cond.replace("{p}", "$1"),
        set.visible(reach).unwrap_or("true")
    );
    let row: Option<(i64, Value)> = sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?;
    let Some((eid, j)) = row else {
        return Err(StaError::NotFound(format!(
            "there is no such entity in {}",
            set.name
        )));
    };
    shape(pool, base, set, eid, j, opts, reach).await
}

/// Adds links, applies `$select`, runs `$expand`.
async fn shape(
    pool: &PgPool,
    base: &str,
    set: &'static Set,
    id: i64,
    j: Value,
    opts: &Options,
    reach: Reach,
) -> Result<Value, StaError> {
    let Value::Object(mut obj) = j else {
        return Ok(j);
    };
    let self_link = format!("{base}/{}({id})", set.name);
    for nav in set.navs {
        obj.insert(
            format!("{}@iot.navigationLink", nav.name),
            json!(format!("{self_link}/{}", nav.name)),
        );
    }
    obj.insert("@iot.selfLink".into(), json!(self_link));
    if let Some(select) = &opts.select {
        for s in select {
            let known = obj.contains_key(s) || set.navs.iter().any(|n| n.name == s) || s == "id";
            if !known {
                return Err(StaError::BadRequest(format!(
                    "$select: \"{s}\" is not a property of {}",
                    set.name
                )));
            }
        }
        let keep = |k: &str| {
            select.iter().any(|s| {
                s == k
                    || (s == "id" && k == "@iot.id")
                    || k.strip_suffix("@iot.navigationLink") == Some(s.as_str())
            })
        };
        obj.retain(|k, _| keep(k));
    }
    for (name, inner) in &opts.expand {
        let nav = set.nav(name)?;
        let target = set_static(nav.target)?;
        let v = if nav.many {
            let here = format!("{base}/{}({id})/{}", set.name, nav.name);
            let mut page =
                collection(pool, base, target, Some((nav.cond, id)), here, inner, reach).await?;
            if let Some(next) = page.get("@iot.nextLink").cloned() {
                obj.insert(format!("{}@iot.nextLink", nav.name), next);
            }
            if let Some(n) = page.get("@iot.count").cloned() {
                obj.insert(format!("{}@iot.count", nav.name), n);
            }
            page.get_mut("value")
                .map(Value::take)
                .unwrap_or(Value::Array(vec![]))
        } else {
            match Box::pin(one(pool, base, target, nav.cond, id, inner, reach)).await {
                Ok(v) => v,
                Err(StaError::NotFound(_)) => Value::Null,
                Err(e) => return Err(e),
            }
        };
        obj.insert(nav.name.to_string(), v);
    }
    Ok(Value::Object(obj))
}

fn set_static(name: &str) -> Result<&'static Set, StaError> {
    set(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(q: &[(&str, &str)]) -> Result<Options, StaError> {
        Options::parse(
            &q.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn options() {
        let o = opts(&[
            ("$top", "5"),
            ("$orderby", "phenomenonTime desc, id"),
            ("$expand", "Datastreams($top=1;$expand=Observations($top=2;$orderby=phenomenonTime desc)),Locations"),
        ])
        .expect("valid");
        assert_eq!(o.top, Some(5));
        assert_eq!(
            o.orderby,
            vec![("phenomenonTime".into(), true), ("id".into(), false)]
        );
        assert_eq!(o.expand.len(), 2);
        assert_eq!(o.expand[0].1.top, Some(1));
        assert_eq!(o.expand[0].1.expand[0].1.top, Some(2));
        let o = opts(&[("$expand", "Datastreams/Observations")]).expect("path");
        assert_eq!(o.expand[0].0, "Datastreams");
        assert_eq!(o.expand[0].1.expand[0].0, "Observations");
        assert!(
            matches!(opts(&[("$resultFormat", "dataArray")]), Err(StaError::NotImplemented(m)) if m.contains("$resultFormat"))
        );
        assert!(matches!(
            opts(&[("$top", "-1")]),
            Err(StaError::BadRequest(_))
        ));
        assert!(matches!(
            opts(&[("colour", "1")]),
            Err(StaError::BadRequest(_))
        ));
    }

    #[test]
    fn paths() {
        assert_eq!(
            steps("Things(3)/Datastreams").expect("path"),
            vec![
                Step {
                    name: "Things".into(),
                    id: Some(3)
                },
                Step {
                    name: "Datastreams".into(),
                    id: None
                }
            ]
        );
        assert!(steps("Things(x)").is_err());
        assert!(matches!(
            set("HistoricalLocations"),
            Err(StaError::NotImplemented(_))
        ));
        assert!(matches!(set("Cars"), Err(StaError::NotFound(_))));
    }
}

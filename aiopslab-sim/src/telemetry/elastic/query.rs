//! The part of the Elasticsearch query DSL the simulator understands, and how it matches
//! logstash documents under the default dynamic mapping (strings are `text` with a `.keyword`
//! sub-field, `@timestamp` is a `date`).

use super::error::EsError;
use crate::telemetry::logs::lookup;
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use serde_json::{Map, Value};

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// `match_all`
    MatchAll,
    /// `match_none`
    MatchNone,
    /// `bool` with its clauses.
    Bool {
        /// All must match.
        must: Vec<Query>,
        /// All must match (no scoring).
        filter: Vec<Query>,
        /// At least `minimum_should_match` must match.
        should: Vec<Query>,
        /// None may match.
        must_not: Vec<Query>,
        /// Defaults to 1 when there is no must/filter clause, else 0.
        minimum_should_match: Option<usize>,
    },
    /// `term` (exact, not analysed).
    Term {
        field: String,
        value: Value,
        case_insensitive: bool,
    },
    /// `terms`
    Terms { field: String, values: Vec<Value> },
    /// `match` (analysed; `operator` or/and).
    Match {
        field: String,
        query: String,
        and: bool,
    },
    /// `match_phrase`
    MatchPhrase { field: String, query: String },
    /// `range`
    Range { field: String, bounds: Box<Bounds> },
    /// `exists`
    Exists { field: String },
    /// `prefix`
    Prefix { field: String, value: String },
    /// `wildcard` (`*` and `?`)
    Wildcard { field: String, pattern: String },
    /// `ids`
    Ids { values: Vec<String> },
}

/// Bounds of a range query, kept as written and resolved per field type.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bounds {
    /// `gt`
    pub gt: Option<Value>,
    /// `gte` (or `from` with `include_lower`)
    pub gte: Option<Value>,
    /// `lt`
    pub lt: Option<Value>,
    /// `lte` (or `to` with `include_upper`)
    pub lte: Option<Value>,
    /// `format`, e.g. `epoch_millis` or `strict_date_optional_time`.
    pub format: Option<String>,
}

fn parsing(reason: String) -> EsError {
    EsError::new(400, "parsing_exception", reason)
}

/// Splits `{"field": body}` (the single-field form of leaf queries).
fn single_field<'a>(kind: &str, v: &'a Value) -> Result<(&'a String, &'a Value), EsError> {
    let obj = v.as_object().ok_or_else(|| {
        parsing(format!(
            "[{kind}] query malformed, no start_object after query name"
        ))
    })?;
    let mut it = obj
        .iter()
        .filter(|(k, _)| k.as_str() != "boost" && k.as_str() != "_name");
    let (f, b) = it.next().ok_or_else(|| {
        parsing(format!(
            "[{kind}] query doesn't support multiple fields or is empty"
        ))
    })?;
    if it.next().is_some() {
        return Err(parsing(format!(
            "[{kind}] query doesn't support multiple fields, found [{f}] and another field"
        )));
    }
    Ok((f, b))
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn clauses(kind: &str, v: Option<&Value>) -> Result<Vec<Query>, EsError> {
    match v {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => a.iter().map(parse_query).collect(),
        Some(Value::Object(_)) => Ok(vec![parse_query(v.unwrap_or(&Value::Null))?]),
        Some(_) => Err(parsing(format!("[bool] failed to parse field [{kind}]"))),
    }
}

/// Parses a query object such as `{"bool": {"filter": [{"range": {...}}]}}`.
pub fn parse_query(v: &Value) -> Result<Query, EsError> {
    let obj = v
        .as_object()
        .ok_or_else(|| parsing("query malformed, must start with start_object".into()))?;
    let mut it = obj.iter();
    let Some((kind, body)) = it.next() else {
        return Err(parsing("query malformed, empty clause found".into()));
    };
    if let Some((second, _)) = it.next() {
        return Err(parsing(format!(
            "[{kind}] malformed query, expected [END_OBJECT] but found [FIELD_NAME] ({second})"
        )));
    }
    match kind.as_str() {
        "match_all" => Ok(Query::MatchAll),
        "match_none" => Ok(Query::MatchNone),
        "bool" => {
            let b = body
                .as_object()
                .ok_or_else(|| parsing("[bool] query malformed".into()))?;
            for k in b.keys() {
                if !matches!(
                    k.as_str(),
                    "must"
                        | "filter"
                        | "should"
                        | "must_not"
                        | "minimum_should_match"
                        | "boost"
                        | "_name"
                ) {
                    return Err(parsing(format!("[bool] query does not support [{k}]")));
                }
            }
            let msm = match b.get("minimum_should_match") {
                None => None,
                Some(Value::Number(n)) => Some(n.as_u64().unwrap_or(1) as usize),
                Some(Value::String(s)) => {
                    Some(s.trim_end_matches('%').parse::<usize>().unwrap_or(1).min(1))
                }
                Some(_) => None,
            };
            Ok(Query::Bool {
                must: clauses("must", b.get("must"))?,
                filter: clauses("filter", b.get("filter"))?,
                should: clauses("should", b.get("should"))?,
                must_not: clauses("must_not", b.get("must_not"))?,
                minimum_should_match: msm,
            })
        }
        "term" => {
            let (f, b) = single_field("term", body)?;
            let (value, ci) = match b {
                Value::Object(o) => (
                    o.get("value").cloned().ok_or_else(|| {
                        parsing("[term] query does not support missing [value]".into())
                    })?,
                    o.get("case_insensitive")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                ),
                other => (other.clone(), false),
            };
            Ok(Query::Term {
                field: f.clone(),
                value,
                case_insensitive: ci,
            })
        }
        "terms" => {
            let (f, b) = single_field("terms", body)?;
            let values = b
                .as_array()
                .cloned()
                .ok_or_else(|| parsing(format!("[terms] query does not support [{f}]")))?;
            Ok(Query::Terms {
                field: f.clone(),
                values,
            })
        }
        "match" | "match_phrase" => {
            let (f, b) = single_field(kind, body)?;
            let (query, and) = match b {
                Value::Object(o) => (
                    o.get("query")
                        .map(value_text)
                        .ok_or_else(|| parsing(format!("[{kind}] requires query value")))?,
                    o.get("operator")
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.eq_ignore_ascii_case("and")),
                ),
                other => (value_text(other), false),
            };
            Ok(if kind == "match" {
                Query::Match {
                    field: f.clone(),
                    query,
                    and,
                }
            } else {
                Query::MatchPhrase {
                    field: f.clone(),
                    query,
                }
            })
        }
        "range" => {
            let (f, b) = single_field("range", body)?;
            let o = b.as_object().ok_or_else(|| {
                parsing(format!(
                    "[range] query malformed, no start_object after field [{f}]"
                ))
            })?;
            let mut bounds = Bounds::default();
            let include_lower = o
                .get("include_lower")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let include_upper = o
                .get("include_upper")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            for (k, v) in o {
                let v = if v.is_null() { None } else { Some(v.clone()) };
                match k.as_str() {
                    "gt" => bounds.gt = v,
                    "gte" => bounds.gte = v,
                    "lt" => bounds.lt = v,
                    "lte" => bounds.lte = v,
                    "from" if include_lower => bounds.gte = v,
                    "from" => bounds.gt = v,
                    "to" if include_upper => bounds.lte = v,
                    "to" => bounds.lt = v,
                    "format" => bounds.format = v.as_ref().map(value_text),
                    "include_lower" | "include_upper" | "boost" | "time_zone" | "relation"
                    | "_name" => {}
                    other => {
                        return Err(parsing(format!("[range] query does not support [{other}]")));
                    }
                }
            }
            Ok(Query::Range {
                field: f.clone(),
                bounds: Box::new(bounds),
            })
        }
        "exists" => {
            let f = body
                .get("field")
                .and_then(Value::as_str)
                .ok_or_else(|| parsing("[exists] must be provided with a [field]".into()))?;
            Ok(Query::Exists {
                field: f.to_string(),
            })
        }
        "prefix" | "wildcard" => {
            let (f, b) = single_field(kind, body)?;
            let value = match b {
                Value::Object(o) => o
                    .get("value")
                    .or_else(|| {
                        o.get(if kind == "wildcard" {
                            "wildcard"
                        } else {
                            "prefix"
                        })
                    })
                    .map(value_text)
                    .unwrap_or_default(),
                other => value_text(other),
            };
            Ok(if kind == "prefix" {
                Query::Prefix {
                    field: f.clone(),
                    value,
                }
            } else {
                Query::Wildcard {
                    field: f.clone(),
                    pattern: value,
                }
            })
        }
        "ids" => {
            let values = body
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(value_text).collect())
                .unwrap_or_default();
            Ok(Query::Ids { values })
        }
        other => Err(parsing(format!("unknown query [{other}]"))),
    }
}

/// The standard analyser, approximately: lower-cased runs of letters, digits and `_`.
pub fn analyze(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
        .map(|t| t.to_lowercase())
        .collect()
}

/// Parses a date the way a `date` field with `strict_date_optional_time||epoch_millis` does,
/// with date math on `now` (`now-15m`, `now/d`); returns Unix ms.
pub fn parse_date(v: &Value, format: Option<&str>, now_ms: i64) -> Result<i64, EsError> {
    let fail = |s: &str| {
        EsError::new(
            400,
            "parse_exception",
            format!(
                "failed to parse date field [{s}] with format [{}]",
                format.unwrap_or("strict_date_optional_time||epoch_millis")
            ),
        )
    };
    let seconds = format.is_some_and(|f| f.contains("epoch_second"));
    let scale = |x: f64| {
        if seconds {
            (x * 1000.0) as i64
        } else {
            x as i64
        }
    };
    match v {
        Value::Number(n) => n.as_f64().map(scale).ok_or_else(|| fail(&n.to_string())),
        Value::String(s) => {
            if let Ok(n) = s.parse::<i64>() {
                return Ok(if seconds { n * 1000 } else { n });
            }
            if let Some(rest) = s.strip_prefix("now") {
                return date_math(now_ms, rest).ok_or_else(|| fail(s));
            }
            if let Some((anchor, math)) = s.split_once("||") {
                let base = parse_date(&Value::String(anchor.to_string()), format, now_ms)?;
                return date_math(base, math).ok_or_else(|| fail(s));
            }
            parse_iso(s).ok_or_else(|| fail(s))
        }
        other => Err(fail(&other.to_string())),
    }
}

fn parse_iso(s: &str) -> Option<i64> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t.as_millisecond());
    }
    if let Ok(dt) = s.parse::<DateTime>() {
        return dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    if let Ok(d) = s.parse::<Date>() {
        return d
            .to_datetime(jiff::civil::Time::midnight())
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    None
}

/// Applies `+1h`, `-15m`, `/d` steps to a time.
fn date_math(mut t: i64, mut expr: &str) -> Option<i64> {
    while !expr.is_empty() {
        let op = expr.chars().next()?;
        expr = &expr[op.len_utf8()..];
        let digits = expr
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(expr.len());
        let n: i64 = if op == '/' {
            1
        } else {
            expr[..digits].parse().ok()?
        };
        if op != '/' {
            expr = &expr[digits..];
        }
        let unit = expr.chars().next()?;
        expr = &expr[unit.len_utf8()..];
        let unit_ms: i64 = match unit {
            's' => 1000,
            'm' => 60_000,
            'h' | 'H' => 3_600_000,
            'd' => 86_400_000,
            'w' => 604_800_000,
            'M' => 30 * 86_400_000,
            'y' => 365 * 86_400_000,
            _ => return None,
        };
        match op {
            '+' => t += n * unit_ms,
            '-' => t -= n * unit_ms,
            '/' => t = t.div_euclid(unit_ms) * unit_ms,
            _ => return None,
        }
    }
    Some(t)
}

/// A document under evaluation: its id and source.
pub struct DocRef<'a> {
    /// `_id`
    pub id: &'a str,
    /// `_source`
    pub source: &'a Map<String, Value>,
}

/// The values of a field (arrays flattened); `field.keyword` resolves to the base field.
fn field_values<'a>(doc: &DocRef<'a>, field: &str) -> (Vec<&'a Value>, bool) {
    let (path, keyword) = match field.strip_suffix(".keyword") {
        Some(base) if lookup(doc.source, field).is_none() => (base, true),
        _ => (field, false),
    };
    let mut out = Vec::new();
    if let Some(v) = lookup(doc.source, path) {
        match v {
            Value::Array(a) => out.extend(a.iter().filter(|x| !x.is_null())),
            Value::Null => {}
            other => out.push(other),
        }
    }
    (out, keyword)
}

fn is_date_field(field: &str) -> bool {
    field == "@timestamp"
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Whether a stored value equals a term (not analysed) under its field's type.
fn term_eq(
    stored: &Value,
    keyword: bool,
    field: &str,
    term: &Value,
    ci: bool,
    now_ms: i64,
) -> bool {
    match stored {
        Value::String(s) if is_date_field(field) => {
            let a = parse_date(stored, None, now_ms).ok();
            a.is_some() && a == parse_date(term, None, now_ms).ok() || s == &value_text(term)
        }
        Value::String(s) => {
            let t = value_text(term);
            if keyword {
                if ci {
                    s.eq_ignore_ascii_case(&t)
                } else {
                    *s == t
                }
            } else {
                analyze(s).iter().any(|tok| {
                    if ci {
                        tok.eq_ignore_ascii_case(&t)
                    } else {
                        *tok == t
                    }
                })
            }
        }
        Value::Number(_) => num(stored).is_some() && num(stored) == num(term),
        Value::Bool(b) => value_text(term) == b.to_string(),
        _ => false,
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Compares a stored value with a range under the field's type.
fn in_range(stored: &Value, field: &str, b: &Bounds, now_ms: i64) -> Result<bool, EsError> {
    let date = is_date_field(field);
    if date {
        let Ok(x) = parse_date(stored, None, now_ms) else {
            return Ok(false);
        };
        let f = b.format.as_deref();
        let get = |v: &Option<Value>| v.as_ref().map(|v| parse_date(v, f, now_ms)).transpose();
        let (gt, gte, lt, lte) = (get(&b.gt)?, get(&b.gte)?, get(&b.lt)?, get(&b.lte)?);
        return Ok(gt.is_none_or(|g| x > g)
            && gte.is_none_or(|g| x >= g)
            && lt.is_none_or(|l| x < l)
            && lte.is_none_or(|l| x <= l));
    }
    if let Some(x) = num(stored).filter(|_| stored.is_number()) {
        let get = |v: &Option<Value>| v.as_ref().and_then(num);
        return Ok(get(&b.gt).is_none_or(|g| x > g)
            && get(&b.gte).is_none_or(|g| x >= g)
            && get(&b.lt).is_none_or(|l| x < l)
            && get(&b.lte).is_none_or(|l| x <= l));
    }
    let x = value_text(stored);
    let get = |v: &Option<Value>| v.as_ref().map(value_text);
    Ok(get(&b.gt).is_none_or(|g| x > g)
        && get(&b.gte).is_none_or(|g| x >= g)
        && get(&b.lt).is_none_or(|l| x < l)
        && get(&b.lte).is_none_or(|l| x <= l))
}

impl Query {
    /// Whether the document matches.
    pub fn matches(&self, doc: &DocRef, now_ms: i64) -> Result<bool, EsError> {
        Ok(match self {
            Query::MatchAll => true,
            Query::MatchNone => false,
            Query::Bool {
                must,
                filter,
                should,
                must_not,
                minimum_should_match,
            } => {
                for q in must.iter().chain(filter.iter()) {
                    if !q.matches(doc, now_ms)? {
                        return Ok(false);
                    }
                }
                for q in must_not {
                    if q.matches(doc, now_ms)? {
                        return Ok(false);
                    }
                }
                let need = minimum_should_match.unwrap_or(
                    if must.is_empty() && filter.is_empty() && !should.is_empty() {
                        1
                    } else {
                        0
                    },
                );
                if need > 0 {
                    let mut n = 0;
                    for q in should {
                        if q.matches(doc, now_ms)? {
                            n += 1;
                        }
                    }
                    if n < need {
                        return Ok(false);
                    }
                }
                true
            }
            Query::Term {
                field,
                value,
                case_insensitive,
            } => {
                let (vals, kw) = field_values(doc, field);
                vals.iter()
                    .any(|v| term_eq(v, kw, field, value, *case_insensitive, now_ms))
            }
            Query::Terms { field, values } => {
                let (vals, kw) = field_values(doc, field);
                vals.iter().any(|v| {
                    values
                        .iter()
                        .any(|t| term_eq(v, kw, field, t, false, now_ms))
                })
            }
            Query::Match { field, query, and } => {
                let (vals, kw) = field_values(doc, field);
                vals.iter().any(|v| match v {
                    Value::String(s) if !kw && !is_date_field(field) => {
                        let doc_tokens = analyze(s);
                        let q = analyze(query);
                        if q.is_empty() {
                            false
                        } else if *and {
                            q.iter().all(|t| doc_tokens.contains(t))
                        } else {
                            q.iter().any(|t| doc_tokens.contains(t))
                        }
                    }
                    other => term_eq(
                        other,
                        kw,
                        field,
                        &Value::String(query.clone()),
                        false,
                        now_ms,
                    ),
                })
            }
            Query::MatchPhrase { field, query } => {
                let (vals, kw) = field_values(doc, field);
                let q = analyze(query);
                vals.iter().any(|v| match v {
                    Value::String(s) if !kw && !is_date_field(field) => {
                        let d = analyze(s);
                        !q.is_empty() && d.windows(q.len()).any(|w| w == q.as_slice())
                    }
                    other => term_eq(
                        other,
                        kw,
                        field,
                        &Value::String(query.clone()),
                        false,
                        now_ms,
                    ),
                })
            }
            Query::Range { field, bounds } => {
                let (vals, _) = field_values(doc, field);
                let mut any = false;
                for v in vals {
                    if in_range(v, field, bounds, now_ms)? {
                        any = true;
                        break;
                    }
                }
                any
            }
            Query::Exists { field } => !field_values(doc, field).0.is_empty(),
            Query::Prefix { field, value } => {
                let (vals, kw) = field_values(doc, field);
                vals.iter().any(|v| match v {
                    Value::String(s) if kw => s.starts_with(value.as_str()),
                    Value::String(s) => analyze(s).iter().any(|t| t.starts_with(value.as_str())),
                    _ => false,
                })
            }
            Query::Wildcard { field, pattern } => {
                let (vals, kw) = field_values(doc, field);
                vals.iter().any(|v| match v {
                    Value::String(s) if kw => glob(pattern, s),
                    Value::String(s) => analyze(s).iter().any(|t| glob(pattern, t)),
                    _ => false,
                })
            }
            Query::Ids { values } => values.iter().any(|v| v == doc.id),
        })
    }

    /// Bounds on `@timestamp` that every match must satisfy (to fetch less), as `[lo, hi]` ms.
    pub fn time_bounds(&self, now_ms: i64) -> (i64, i64) {
        let full = (i64::MIN / 4, i64::MAX / 4);
        match self {
            Query::Range { field, bounds } if is_date_field(field) => {
                let f = bounds.format.as_deref();
                let get =
                    |v: &Option<Value>| v.as_ref().and_then(|v| parse_date(v, f, now_ms).ok());
                let lo = get(&bounds.gte).or(get(&bounds.gt)).unwrap_or(full.0);
                let hi = get(&bounds.lte).or(get(&bounds.lt)).unwrap_or(full.1);
                (lo, hi)
            }
            Query::Bool { must, filter, .. } => must
                .iter()
                .chain(filter.iter())
                .map(|q| q.time_bounds(now_ms))
                .fold(full, |(a, b), (c, d)| (a.max(c), b.min(d))),
            _ => full,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_and_dates() {
        assert!(glob("geo-*", "geo-1"));
        assert!(glob("g?o*", "geo"));
        assert!(!glob("geo", "geo-1"));
        assert_eq!(parse_iso("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_iso("1970-01-02"), Some(86_400_000));
        assert_eq!(date_math(90_000, "-1m/m"), Some(0));
        assert_eq!(date_math(0, "€1m"), None);
        assert_eq!(
            analyze("GET /hotels?inDate=2015"),
            vec!["get", "hotels", "indate", "2015"]
        );
    }
}

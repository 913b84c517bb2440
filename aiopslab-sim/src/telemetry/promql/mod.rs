//! A PromQL engine over a [`MetricSource`], with Prometheus 2.x semantics.
//!
//! Queries are parsed with the `promql-parser` crate and evaluated step by step, as Prometheus
//! defines them: instant selectors look back 5 minutes (closed interval), range selectors take
//! the closed interval `[t - range, t]`, `offset` and `@` shift the reference time, `rate`,
//! `increase` and `delta` extrapolate like Prometheus. The data of every selector is fetched from
//! the source once per query (for the whole time span the query needs), so a range query costs
//! one source call per selector.
//!
//! Supported: vector and range selectors with `=`, `!=`, `=~`, `!~`; `offset`; `@` (including
//! `start()` and `end()`); subqueries; number and string literals; unary minus; arithmetic
//! (`+ - * / % ^ atan2`), comparison (with `bool`) and set (`and or unless`) operators between
//! scalars and vectors with `on`/`ignoring` and `group_left`/`group_right`; the aggregations
//! `sum avg min max count group stddev stdvar topk bottomk quantile count_values` with
//! `by`/`without`; and the functions listed in [`SUPPORTED_FUNCTIONS`]. Anything else is refused
//! with a `bad_data` error that names the construct.

mod aggregate;
mod binary;
mod eval;
mod functions;

pub use functions::SUPPORTED_FUNCTIONS;

use super::labels::Labels;
use super::metrics::{MetricSource, Sample};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{self, Expr};

/// Prometheus' default lookback delta (5 minutes), in milliseconds.
pub const DEFAULT_LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// Prometheus' limit on points per series in a range query.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// Why a query failed, with the Prometheus error type it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// `bad_data` (HTTP 400): the query or a parameter is invalid or not supported.
    #[error("{0}")]
    BadData(String),
    /// `execution` (HTTP 422): the query is valid but cannot be evaluated on this data.
    #[error("{0}")]
    Execution(String),
}

impl QueryError {
    /// Prometheus' `errorType` string.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::BadData(_) => "bad_data",
            QueryError::Execution(_) => "execution",
        }
    }

    /// The HTTP status Prometheus answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            QueryError::BadData(_) => 400,
            QueryError::Execution(_) => 422,
        }
    }
}

/// One element of an instant vector result.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorElement {
    /// The series labels.
    pub labels: Labels,
    /// The sample (at the evaluation time).
    pub sample: Sample,
}

/// One series of a matrix result.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSeries {
    /// The series labels.
    pub labels: Labels,
    /// The samples in time order.
    pub samples: Vec<Sample>,
}

/// The result of a query, as Prometheus types it (`resultType`).
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// `scalar`: the evaluation time and a value.
    Scalar(Sample),
    /// `string`: the evaluation time and a string.
    String(i64, String),
    /// `vector`
    Vector(Vec<VectorElement>),
    /// `matrix` (range queries, or an instant query of a range selector)
    Matrix(Vec<MatrixSeries>),
}

impl QueryResult {
    /// Prometheus' `resultType`.
    pub fn result_type(&self) -> &'static str {
        match self {
            QueryResult::Scalar(_) => "scalar",
            QueryResult::String(..) => "string",
            QueryResult::Vector(_) => "vector",
            QueryResult::Matrix(_) => "matrix",
        }
    }
}

/// Evaluates PromQL over a metric source.
///
/// ```
/// use aiopslab_sim::telemetry::{InMemoryMetrics, Labels, promql::{Engine, QueryResult}};
/// let m = InMemoryMetrics::new();
/// m.counter(Labels::new([("__name__", "req_total")]), (0..=20).map(|i| (i * 15_000, i as f64 * 30.0)));
/// let engine = Engine::new(&m);
/// let QueryResult::Vector(v) = engine.instant("rate(req_total[5m])", 300_000).unwrap() else { panic!() };
/// assert_eq!(v[0].sample.v, 2.0);
/// ```
pub struct Engine<'a> {
    source: &'a dyn MetricSource,
    lookback_ms: i64,
}

impl<'a> Engine<'a> {
    /// An engine with the default 5-minute lookback delta.
    pub fn new(source: &'a dyn MetricSource) -> Self {
        Engine {
            source,
            lookback_ms: DEFAULT_LOOKBACK_MS,
        }
    }

    /// Sets the lookback delta (milliseconds).
    pub fn with_lookback(mut self, lookback_ms: i64) -> Self {
        self.lookback_ms = lookback_ms.max(1);
        self
    }

    /// An instant query at `time` (Unix ms).
    pub fn instant(&self, query: &str, time: i64) -> Result<QueryResult, QueryError> {
        let expr = parse(query)?;
        let mut ev = eval::Evaluator::new(self.source, self.lookback_ms, time, time);
        ev.prefetch(&expr, time, time);
        let v = ev.eval(&expr, time)?;
        Ok(match v {
            eval::Value::Scalar(x) => QueryResult::Scalar(Sample::new(time, x)),
            eval::Value::String(s) => QueryResult::String(time, s),
            eval::Value::Vector(vs) => {
                eval::check_unique(&vs)?;
                QueryResult::Vector(
                    vs.into_iter()
                        .map(|e| VectorElement {
                            labels: e.labels,
                            sample: Sample::new(time, e.v),
                        })
                        .collect(),
                )
            }
            eval::Value::Matrix(ms) => QueryResult::Matrix(
                ms.into_iter()
                    .map(|s| MatrixSeries {
                        labels: s.labels,
                        samples: s.samples,
                    })
                    .collect(),
            ),
        })
    }

    /// A range query from `start` to `end` (Unix ms, inclusive) every `step` ms; the result is
    /// a matrix sorted by labels, evaluated at `start`, `start + step`, ... up to `end`.
    pub fn range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult, QueryError> {
        if end < start {
            return Err(QueryError::BadData(
                "end timestamp must not be before start time".into(),
            ));
        }
        if step <= 0 {
            return Err(QueryError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if (end - start) / step > MAX_POINTS_PER_SERIES {
            return Err(QueryError::BadData(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
            ));
        }
        let expr = parse(query)?;
        match expr.value_type() {
            ValueType::Vector | ValueType::Scalar => {}
            other => {
                return Err(QueryError::BadData(format!(
                    "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    type_name(other)
                )));
            }
        }
        let mut ev = eval::Evaluator::new(self.source, self.lookback_ms, start, end);
        ev.prefetch(&expr, start, end);
        let mut out: std::collections::HashMap<Labels, Vec<Sample>> = Default::default();
        let mut t = start;
        while t <= end {
            match ev.eval(&expr, t)? {
                eval::Value::Scalar(x) => out
                    .entry(Labels::empty())
                    .or_default()
                    .push(Sample::new(t, x)),
                eval::Value::Vector(vs) => {
                    eval::check_unique(&vs)?;
                    for e in vs {
                        out.entry(e.labels).or_default().push(Sample::new(t, e.v));
                    }
                }
                _ => {
                    return Err(QueryError::BadData(
                        "range queries need an instant vector or scalar expression".into(),
                    ));
                }
            }
            t += step;
        }
        let mut series: Vec<MatrixSeries> = out
            .into_iter()
            .map(|(labels, samples)| MatrixSeries { labels, samples })
            .collect();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(QueryResult::Matrix(series))
    }
}

/// Parses a query, turning parser errors into `bad_data`.
fn parse(query: &str) -> Result<Expr, QueryError> {
    if query.trim().is_empty() {
        return Err(QueryError::BadData(
            "invalid parameter \"query\": 1:1: parse error: no expression found in input".into(),
        ));
    }
    parser::parse(query)
        .map_err(|e| QueryError::BadData(format!("invalid parameter \"query\": {e}")))
}

/// Prometheus' human name of a value type.
pub(crate) fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Vector => "instant vector",
        ValueType::Matrix => "range vector",
        ValueType::Scalar => "scalar",
        ValueType::String => "string",
    }
}

/// Formats a sample value as Prometheus writes it in JSON and text (Go's shortest `'f'`
/// formatting, `'e'` below 1e-6 and from 1e21, and `NaN`, `+Inf`, `-Inf`).
///
/// ```
/// use aiopslab_sim::telemetry::promql::format_value;
/// assert_eq!(format_value(0.1), "0.1");
/// assert_eq!(format_value(2.0), "2");
/// assert_eq!(format_value(1e21), "1e+21");
/// assert_eq!(format_value(1.5e-7), "1.5e-07");
/// assert_eq!(format_value(f64::INFINITY), "+Inf");
/// ```
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust writes `1.5e-7`; Go writes `1.5e-07` (sign always, at least two digits).
        let s = format!("{v:e}");
        if let Some((mantissa, exp)) = s.split_once('e') {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            return format!("{mantissa}e{sign}{digits:0>2}");
        }
        return s;
    }
    format!("{v}")
}

/// Formats Unix milliseconds as Prometheus writes timestamps in JSON (`1435781451.781`).
pub fn format_timestamp(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    let (secs, frac) = (a / 1000, a % 1000);
    if frac == 0 {
        format!("{sign}{secs}")
    } else {
        format!("{sign}{secs}.{frac:03}")
    }
}

/// The matcher groups of a series selector: one group per `or` branch (usually one), each with
/// the metric-name matcher first.
pub fn selector_matchers(vs: &parser::VectorSelector) -> Vec<Vec<super::labels::LabelMatcher>> {
    eval::selector_groups(vs)
}

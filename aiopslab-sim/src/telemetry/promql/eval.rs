//! The step evaluator: selectors, offsets, `@`, subqueries and dispatch to operators.

use super::QueryError;
use super::{aggregate, binary, functions};
use crate::telemetry::labels::{LabelMatcher, Labels, METRIC_NAME, MatchKind};
use crate::telemetry::metrics::{MetricSource, Sample};
use crate::telemetry::window::TimeWindow;
use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{AtModifier, Expr, Offset, VectorSelector};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime};

/// The default subquery resolution when none is given (Prometheus' default evaluation interval).
const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// One element of an instant vector during evaluation.
#[derive(Debug, Clone)]
pub(crate) struct VSample {
    pub labels: Labels,
    pub v: f64,
}

/// One series of a range vector during evaluation.
#[derive(Debug, Clone)]
pub(crate) struct RSeries {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// A value produced by evaluating an expression at one time.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Scalar(f64),
    String(String),
    Vector(Vec<VSample>),
    Matrix(Vec<RSeries>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Scalar(_) => "scalar",
            Value::String(_) => "string",
            Value::Vector(_) => "instant vector",
            Value::Matrix(_) => "range vector",
        }
    }
}

/// A fetched series: its labels, its labels without the metric name, and its samples.
pub(crate) struct Fetched {
    pub labels: Labels,
    pub unnamed: Labels,
    pub samples: Vec<Sample>,
}

/// Evaluates one query; holds the data fetched for each selector.
pub(crate) struct Evaluator<'a> {
    source: &'a dyn MetricSource,
    pub lookback: i64,
    start: i64,
    end: i64,
    cache: HashMap<usize, Vec<Fetched>>,
}

pub(crate) fn millis(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => millis(d),
        Some(Offset::Neg(d)) => -millis(d),
    }
}

fn key(vs: &VectorSelector) -> usize {
    vs as *const VectorSelector as usize
}

impl<'a> Evaluator<'a> {
    pub fn new(source: &'a dyn MetricSource, lookback: i64, start: i64, end: i64) -> Self {
        Evaluator {
            source,
            lookback,
            start,
            end,
            cache: HashMap::new(),
        }
    }

    /// The time an `@` modifier pins evaluation to.
    fn at_ms(&self, at: &Option<AtModifier>) -> Option<i64> {
        match at {
            None => None,
            Some(AtModifier::Start) => Some(self.start),
            Some(AtModifier::End) => Some(self.end),
            Some(AtModifier::At(t)) => Some(system_time_ms(t)),
        }
    }

    /// Reference times `[lo, hi]` of a selector evaluated over `[lo, hi]`.
    fn ref_range(
        &self,
        at: &Option<AtModifier>,
        offset: &Option<Offset>,
        lo: i64,
        hi: i64,
    ) -> (i64, i64) {
        let off = offset_ms(offset);
        match self.at_ms(at) {
            Some(t) => (t - off, t - off),
            None => (lo - off, hi - off),
        }
    }

    /// Fetches, once, the data every selector of `expr` needs for evaluation times `[lo, hi]`.
    pub fn prefetch(&mut self, expr: &Expr, lo: i64, hi: i64) {
        match expr {
            Expr::VectorSelector(vs) => {
                let (a, b) = self.ref_range(&vs.at, &vs.offset, lo, hi);
                self.fetch(vs, TimeWindow::new(a - self.lookback, b));
            }
            Expr::MatrixSelector(ms) => {
                let (a, b) = self.ref_range(&ms.vs.at, &ms.vs.offset, lo, hi);
                self.fetch(&ms.vs, TimeWindow::new(a - millis(&ms.range), b));
            }
            Expr::Subquery(sq) => {
                let (a, b) = self.ref_range(&sq.at, &sq.offset, lo, hi);
                self.prefetch(&sq.expr, a - millis(&sq.range), b);
            }
            Expr::Aggregate(a) => {
                if let Some(p) = &a.param {
                    self.prefetch(p, lo, hi);
                }
                self.prefetch(&a.expr, lo, hi);
            }
            Expr::Unary(u) => self.prefetch(&u.expr, lo, hi),
            Expr::Binary(b) => {
                self.prefetch(&b.lhs, lo, hi);
                self.prefetch(&b.rhs, lo, hi);
            }
            Expr::Paren(p) => self.prefetch(&p.expr, lo, hi),
            Expr::Call(c) => {
                for a in &c.args.args {
                    self.prefetch(a, lo, hi);
                }
            }
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }

    fn fetch(&mut self, vs: &VectorSelector, window: TimeWindow) {
        let groups = selector_groups(vs);
        let mut merged: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
        for g in &groups {
            for s in self.source.select(g, window) {
                merged.entry(s.labels).or_insert(s.samples);
            }
        }
        let fetched = merged
            .into_iter()
            .map(|(labels, samples)| Fetched {
                unnamed: labels.without_metric_name(),
                labels,
                samples,
            })
            .collect();
        self.cache.insert(key(vs), fetched);
    }

    fn fetched(&self, vs: &VectorSelector) -> &[Fetched] {
        self.cache
            .get(&key(vs))
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }

    /// Evaluates `expr` at time `t` (Unix ms).
    pub fn eval(&self, expr: &Expr, t: i64) -> Result<Value, QueryError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.instant_selector(vs, t))),
            Expr::MatrixSelector(ms) => {
                let r = self.range_selector(&ms.vs, millis(&ms.range), t);
                Ok(Value::Matrix(
                    r.into_iter()
                        .map(|(f, s)| RSeries {
                            labels: f.labels.clone(),
                            samples: s.to_vec(),
                        })
                        .collect(),
                ))
            }
            Expr::Unary(u) => match self.eval(&u.expr, t)? {
                Value::Scalar(x) => Ok(Value::Scalar(-x)),
                Value::Vector(vs) => Ok(Value::Vector(
                    vs.into_iter()
                        .map(|e| VSample {
                            labels: e.labels.without_metric_name(),
                            v: -e.v,
                        })
                        .collect(),
                )),
                other => Err(QueryError::BadData(format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                    other.kind()
                ))),
            },
            Expr::Binary(b) => binary::eval_binary(self, b, t),
            Expr::Aggregate(a) => aggregate::eval_aggregate(self, a, t),
            Expr::Call(c) => functions::eval_call(self, c, t),
            Expr::Subquery(sq) => {
                let base = self.at_ms(&sq.at).unwrap_or(t) - offset_ms(&sq.offset);
                let step = sq
                    .step
                    .as_ref()
                    .map(millis)
                    .filter(|s| *s > 0)
                    .unwrap_or(DEFAULT_SUBQUERY_STEP_MS);
                let lo = base - millis(&sq.range);
                let mut ts = lo.div_euclid(step) * step;
                if ts < lo {
                    ts += step;
                }
                let mut out: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
                while ts <= base {
                    match self.eval(&sq.expr, ts)? {
                        Value::Vector(vs) => {
                            for e in vs {
                                out.entry(e.labels).or_default().push(Sample::new(ts, e.v));
                            }
                        }
                        Value::Scalar(x) => out
                            .entry(Labels::empty())
                            .or_default()
                            .push(Sample::new(ts, x)),
                        other => {
                            return Err(QueryError::BadData(format!(
                                "subquery is only allowed on instant vector, got {} instead",
                                other.kind()
                            )));
                        }
                    }
                    ts += step;
                }
                Ok(Value::Matrix(
                    out.into_iter()
                        .map(|(labels, samples)| RSeries { labels, samples })
                        .collect(),
                ))
            }
            Expr::Extension(e) => Err(QueryError::BadData(format!(
                "unsupported PromQL construct: extension expression {:?}",
                e.expr.name()
            ))),
        }
    }

    /// The latest sample of each series within the lookback window of the reference time.
    pub fn instant_selector(&self, vs: &VectorSelector, t: i64) -> Vec<VSample> {
        let r = self.at_ms(&vs.at).unwrap_or(t) - offset_ms(&vs.offset);
        let mut out = Vec::new();
        for f in self.fetched(vs) {
            let idx = f.samples.partition_point(|s| s.t <= r);
            if idx == 0 {
                continue;
            }
            let s = f.samples[idx - 1];
            if s.t >= r - self.lookback {
                out.push(VSample {
                    labels: f.labels.clone(),
                    v: s.v,
                });
            }
        }
        out
    }

    /// The samples of each series in `[ref - range, ref]` (series without samples are skipped).
    pub fn range_selector<'s>(
        &'s self,
        vs: &VectorSelector,
        range: i64,
        t: i64,
    ) -> Vec<(&'s Fetched, &'s [Sample])> {
        let r = self.at_ms(&vs.at).unwrap_or(t) - offset_ms(&vs.offset);
        let mut out = Vec::new();
        for f in self.fetched(vs) {
            let lo = f.samples.partition_point(|s| s.t < r - range);
            let hi = f.samples.partition_point(|s| s.t <= r);
            if hi > lo {
                out.push((f, &f.samples[lo..hi]));
            }
        }
        out
    }

    /// The window `[ref - range, ref]` of a range selector evaluated at `t`, as (start, end).
    pub fn range_bounds(&self, vs: &VectorSelector, range: i64, t: i64) -> (i64, i64) {
        let r = self.at_ms(&vs.at).unwrap_or(t) - offset_ms(&vs.offset);
        (r - range, r)
    }
}

/// The matcher groups of a selector (several when it uses `or` between matchers).
pub(crate) fn selector_groups(vs: &VectorSelector) -> Vec<Vec<LabelMatcher>> {
    let name: Vec<LabelMatcher> = vs
        .name
        .as_ref()
        .map(|n| vec![LabelMatcher::equal(METRIC_NAME, n)])
        .unwrap_or_default();
    let convert = |ms: &[Matcher]| -> Vec<LabelMatcher> {
        let mut out = name.clone();
        out.extend(ms.iter().map(convert_matcher));
        out
    };
    if vs.matchers.or_matchers.is_empty() {
        vec![convert(&vs.matchers.matchers)]
    } else {
        vs.matchers.or_matchers.iter().map(|g| convert(g)).collect()
    }
}

fn convert_matcher(m: &Matcher) -> LabelMatcher {
    match &m.op {
        MatchOp::Equal => LabelMatcher::equal(&m.name, &m.value),
        MatchOp::NotEqual => LabelMatcher::new(&m.name, MatchKind::NotEqual, &m.value)
            .unwrap_or_else(|_| LabelMatcher::equal(&m.name, &m.value)),
        MatchOp::Re(r) => LabelMatcher::with_regex(&m.name, false, &m.value, r.clone()),
        MatchOp::NotRe(r) => LabelMatcher::with_regex(&m.name, true, &m.value, r.clone()),
    }
}

fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => millis(&d),
        Err(e) => -millis(&e.duration()),
    }
}

/// Fails when two elements of a vector have the same labels (Prometheus' rule).
pub(crate) fn check_unique(vs: &[VSample]) -> Result<(), QueryError> {
    if vs.len() < 2 {
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(vs.len());
    for e in vs {
        if !seen.insert(&e.labels) {
            return Err(QueryError::Execution(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
    }
    Ok(())
}

/// Evaluates an expression that must give a scalar (e.g. a `topk` parameter).
pub(crate) fn expect_scalar(
    ev: &Evaluator,
    e: &Expr,
    t: i64,
    what: &str,
) -> Result<f64, QueryError> {
    match ev.eval(e, t)? {
        Value::Scalar(x) => Ok(x),
        other => Err(QueryError::BadData(format!(
            "expected type scalar in {what}, got {}",
            other.kind()
        ))),
    }
}

/// Evaluates an expression that must give an instant vector.
pub(crate) fn expect_vector(
    ev: &Evaluator,
    e: &Expr,
    t: i64,
    what: &str,
) -> Result<Vec<VSample>, QueryError> {
    match ev.eval(e, t)? {
        Value::Vector(v) => Ok(v),
        other => Err(QueryError::BadData(format!(
            "expected type instant vector in {what}, got {}",
            other.kind()
        ))),
    }
}

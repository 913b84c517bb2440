//! PromQL functions: counters (`rate`, `irate`, `increase`, ...), `*_over_time`, math and label
//! functions, `histogram_quantile`.

use super::QueryError;
use super::eval::{Evaluator, VSample, Value, expect_scalar, expect_vector, millis};
use crate::telemetry::labels::{Labels, METRIC_NAME, is_valid_label_name};
use crate::telemetry::metrics::Sample;
use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr};
use std::borrow::Cow;
use std::collections::HashMap;

/// The functions the engine evaluates; any other function is refused with `bad_data`.
pub const SUPPORTED_FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "count_over_time",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_quantile",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "max_over_time",
    "min_over_time",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sort",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "time",
    "timestamp",
    "vector",
];

/// One series of a range argument: full labels, labels without the name, samples.
struct RangeArg<'s> {
    labels: Labels,
    unnamed: Labels,
    samples: Cow<'s, [Sample]>,
}

/// A range argument evaluated at `t`, with the bounds `[start, end]` of its window and its range.
struct RangeEval<'s> {
    series: Vec<RangeArg<'s>>,
    start: i64,
    end: i64,
    range: i64,
}

fn range_arg<'s>(
    ev: &'s Evaluator,
    e: &Expr,
    t: i64,
    fname: &str,
) -> Result<RangeEval<'s>, QueryError> {
    match e {
        Expr::MatrixSelector(ms) => {
            let range = millis(&ms.range);
            let (start, end) = ev.range_bounds(&ms.vs, range, t);
            let series = ev
                .range_selector(&ms.vs, range, t)
                .into_iter()
                .map(|(f, s)| RangeArg {
                    labels: f.labels.clone(),
                    unnamed: f.unnamed.clone(),
                    samples: Cow::Borrowed(s),
                })
                .collect();
            Ok(RangeEval {
                series,
                start,
                end,
                range,
            })
        }
        Expr::Subquery(sq) => {
            let range = millis(&sq.range);
            let Value::Matrix(m) = ev.eval(e, t)? else {
                return Err(QueryError::BadData(format!(
                    "expected a range vector in {fname}()"
                )));
            };
            let end = t - match &sq.offset {
                Some(promql_parser::parser::Offset::Pos(d)) => millis(d),
                Some(promql_parser::parser::Offset::Neg(d)) => -millis(d),
                None => 0,
            };
            let series = m
                .into_iter()
                .map(|s| RangeArg {
                    unnamed: s.labels.without_metric_name(),
                    labels: s.labels,
                    samples: Cow::Owned(s.samples),
                })
                .collect();
            Ok(RangeEval {
                series,
                start: end - range,
                end,
                range,
            })
        }
        Expr::Paren(p) => range_arg(ev, &p.expr, t, fname),
        _ => Err(QueryError::BadData(format!(
            "expected type range vector in call to function \"{fname}\""
        ))),
    }
}

fn unsupported(name: &str) -> QueryError {
    QueryError::BadData(format!(
        "unsupported PromQL function {name}(): the virtual cluster's query engine does not implement it (supported: {})",
        SUPPORTED_FUNCTIONS.join(", ")
    ))
}

/// Evaluates a function call at `t`.
pub(crate) fn eval_call(ev: &Evaluator, c: &Call, t: i64) -> Result<Value, QueryError> {
    let name = c.func.name;
    let args = &c.args.args;
    let arg = |i: usize| -> Result<&Expr, QueryError> {
        args.get(i)
            .map(|b| b.as_ref())
            .ok_or_else(|| QueryError::BadData(format!("missing argument {} of {name}()", i + 1)))
    };
    match name {
        "rate" | "increase" | "delta" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            let counter = name != "delta";
            let is_rate = name == "rate";
            Ok(Value::Vector(
                r.series
                    .iter()
                    .filter_map(|s| {
                        extrapolated_rate(&s.samples, r.start, r.end, r.range, counter, is_rate)
                            .map(|v| VSample {
                                labels: s.unnamed.clone(),
                                v,
                            })
                    })
                    .collect(),
            ))
        }
        "irate" | "idelta" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            let is_rate = name == "irate";
            Ok(Value::Vector(
                r.series
                    .iter()
                    .filter_map(|s| {
                        instant_value(&s.samples, is_rate).map(|v| VSample {
                            labels: s.unnamed.clone(),
                            v,
                        })
                    })
                    .collect(),
            ))
        }
        "quantile_over_time" => {
            let q = expect_scalar(ev, arg(0)?, t, "quantile_over_time")?;
            let r = range_arg(ev, arg(1)?, t, name)?;
            Ok(over_time(&r, false, |s| {
                let mut vals: Vec<f64> = s.iter().map(|x| x.v).collect();
                Some(quantile(q, &mut vals))
            }))
        }
        "predict_linear" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            let secs = expect_scalar(ev, arg(1)?, t, "predict_linear")?;
            let eval_t = r.end;
            Ok(over_time(&r, false, |s| {
                if s.len() < 2 {
                    return None;
                }
                let (slope, intercept) = linear_regression(s, eval_t);
                Some(slope * secs + intercept)
            }))
        }
        "deriv" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            Ok(over_time(&r, false, |s| {
                if s.len() < 2 {
                    return None;
                }
                Some(linear_regression(s, s[0].t).0)
            }))
        }
        "avg_over_time" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            Ok(over_time(&r, false, |s| {
                Some(s.iter().map(|x| x.v).sum::<f64>() / s.len() as f64)
            }))
        }
        "sum_over_time" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            Ok(over_time(&r, false, |s| Some(s.iter().map(|x| x.v).sum())))
        }
        "min_over_time" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            Ok(over_time(&r, false, |s| {
                Some(fold_min(s.iter().map(|x| x.v)))
            }))
        }
        "max_over_time" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            Ok(over_time(&r, false, |s| {
                Some(fold_max(s.iter().map(|x| x.v)))
            }))
        }
        "count_over_time" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            Ok(over_time(&r, false, |s| Some(s.len() as f64)))
        }
        "present_over_time" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            Ok(over_time(&r, false, |_| Some(1.0)))
        }
        "last_over_time" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            Ok(over_time(&r, true, |s| s.last().map(|x| x.v)))
        }
        "stddev_over_time" | "stdvar_over_time" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            let sd = name == "stddev_over_time";
            Ok(over_time(&r, false, |s| {
                let var = variance(s.iter().map(|x| x.v));
                Some(if sd { var.sqrt() } else { var })
            }))
        }
        "changes" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            Ok(over_time(&r, false, |s| {
                Some(
                    s.windows(2)
                        .filter(|w| w[0].v != w[1].v && !(w[0].v.is_nan() && w[1].v.is_nan()))
                        .count() as f64,
                )
            }))
        }
        "resets" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            Ok(over_time(&r, false, |s| {
                Some(s.windows(2).filter(|w| w[1].v < w[0].v).count() as f64)
            }))
        }
        "absent_over_time" => {
            let r = range_arg(ev, arg(0)?, t, name)?;
            if !r.series.is_empty() {
                return Ok(Value::Vector(vec![]));
            }
            Ok(absent_result(arg(0)?))
        }
        "absent" => {
            let v = expect_vector(ev, arg(0)?, t, "absent")?;
            if !v.is_empty() {
                return Ok(Value::Vector(vec![]));
            }
            Ok(absent_result(arg(0)?))
        }
        "abs" | "ceil" | "floor" | "exp" | "ln" | "log2" | "log10" | "sqrt" | "sgn" => {
            let v = expect_vector(ev, arg(0)?, t, name)?;
            let f: fn(f64) -> f64 = match name {
                "abs" => f64::abs,
                "ceil" => f64::ceil,
                "floor" => f64::floor,
                "exp" => f64::exp,
                "ln" => f64::ln,
                "log2" => f64::log2,
                "log10" => f64::log10,
                "sqrt" => f64::sqrt,
                _ => |x: f64| {
                    if x > 0.0 {
                        1.0
                    } else if x < 0.0 {
                        -1.0
                    } else {
                        x
                    }
                },
            };
            Ok(map_vector(v, f))
        }
        "round" => {
            let v = expect_vector(ev, arg(0)?, t, name)?;
            let to = match args.get(1) {
                Some(e) => expect_scalar(ev, e, t, "round")?,
                None => 1.0,
            };
            let inv = 1.0 / to;
            Ok(map_vector(v, |x| (x * inv + 0.5).floor() / inv))
        }
        "clamp" => {
            let v = expect_vector(ev, arg(0)?, t, name)?;
            let lo = expect_scalar(ev, arg(1)?, t, name)?;
            let hi = expect_scalar(ev, arg(2)?, t, name)?;
            if hi < lo {
                return Ok(Value::Vector(vec![]));
            }
            Ok(map_vector(v, |x| x.max(lo).min(hi)))
        }
        "clamp_min" => {
            let v = expect_vector(ev, arg(0)?, t, name)?;
            let lo = expect_scalar(ev, arg(1)?, t, name)?;
            Ok(map_vector(v, |x| x.max(lo)))
        }
        "clamp_max" => {
            let v = expect_vector(ev, arg(0)?, t, name)?;
            let hi = expect_scalar(ev, arg(1)?, t, name)?;
            Ok(map_vector(v, |x| x.min(hi)))
        }
        "scalar" => {
            let v = expect_vector(ev, arg(0)?, t, name)?;
            Ok(Value::Scalar(if v.len() == 1 { v[0].v } else { f64::NAN }))
        }
        "vector" => {
            let x = expect_scalar(ev, arg(0)?, t, name)?;
            Ok(Value::Vector(vec![VSample {
                labels: Labels::empty(),
                v: x,
            }]))
        }
        "time" => Ok(Value::Scalar(t as f64 / 1000.0)),
        "pi" => Ok(Value::Scalar(std::f64::consts::PI)),
        "timestamp" => {
            let e = arg(0)?;
            if let Expr::VectorSelector(vs) = strip_parens(e) {
                // The timestamp of each selected sample, not the evaluation time.
                let shifted = ev.instant_selector_with_times(vs, t);
                return Ok(Value::Vector(
                    shifted
                        .into_iter()
                        .map(|(labels, ts)| VSample {
                            labels: labels.without_metric_name(),
                            v: ts as f64 / 1000.0,
                        })
                        .collect(),
                ));
            }
            let v = expect_vector(ev, e, t, name)?;
            Ok(map_vector(v, |_| t as f64 / 1000.0))
        }
        "sort" | "sort_desc" => {
            let mut v = expect_vector(ev, arg(0)?, t, name)?;
            if name == "sort" {
                v.sort_by(|a, b| cmp_nan_last(a.v, b.v));
            } else {
                v.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
                    (false, false) => cmp_nan_last(b.v, a.v),
                    _ => cmp_nan_last(a.v, b.v),
                });
            }
            Ok(Value::Vector(v))
        }
        "label_replace" => {
            let v = expect_vector(ev, arg(0)?, t, name)?;
            let dst = string_arg(ev, arg(1)?, t)?;
            let repl = string_arg(ev, arg(2)?, t)?;
            let src = string_arg(ev, arg(3)?, t)?;
            let re_text = string_arg(ev, arg(4)?, t)?;
            let re = regex::Regex::new(&format!("^(?:{re_text})$")).map_err(|e| {
                QueryError::BadData(format!(
                    "invalid regular expression in label_replace(): {re_text}: {e}"
                ))
            })?;
            if !is_valid_label_name(&dst) {
                return Err(QueryError::BadData(format!(
                    "invalid destination label name in label_replace(): {dst}"
                )));
            }
            let out = v
                .into_iter()
                .map(|e| {
                    let value = e.labels.get(&src).unwrap_or("").to_string();
                    match re.captures(&value) {
                        Some(caps) => {
                            let mut res = String::new();
                            caps.expand(&repl, &mut res);
                            VSample {
                                labels: e.labels.with(&dst, &res),
                                v: e.v,
                            }
                        }
                        None => e,
                    }
                })
                .collect();
            Ok(Value::Vector(out))
        }
        "label_join" => {
            let v = expect_vector(ev, arg(0)?, t, name)?;
            let dst = string_arg(ev, arg(1)?, t)?;
            let sep = string_arg(ev, arg(2)?, t)?;
            let mut srcs = Vec::new();
            for e in args.iter().skip(3) {
                srcs.push(string_arg(ev, e, t)?);
            }
            if !is_valid_label_name(&dst) {
                return Err(QueryError::BadData(format!(
                    "invalid destination label name in label_join(): {dst}"
                )));
            }
            let out = v
                .into_iter()
                .map(|e| {
                    let joined: Vec<&str> =
                        srcs.iter().map(|s| e.labels.get(s).unwrap_or("")).collect();
                    let joined = joined.join(&sep);
                    VSample {
                        labels: e.labels.with(&dst, &joined),
                        v: e.v,
                    }
                })
                .collect();
            Ok(Value::Vector(out))
        }
        "histogram_quantile" => {
            let q = expect_scalar(ev, arg(0)?, t, name)?;
            let v = expect_vector(ev, arg(1)?, t, name)?;
            let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
            let mut index: HashMap<Labels, usize> = HashMap::new();
            for e in v {
                let Some(le) = e.labels.get("le").and_then(parse_le) else {
                    continue;
                };
                let key = e.labels.without(&[METRIC_NAME, "le"]);
                let i = *index.entry(key.clone()).or_insert_with(|| {
                    groups.push((key, Vec::new()));
                    groups.len() - 1
                });
                groups[i].1.push((le, e.v));
            }
            Ok(Value::Vector(
                groups
                    .into_iter()
                    .map(|(labels, b)| VSample {
                        labels,
                        v: bucket_quantile(q, b),
                    })
                    .collect(),
            ))
        }
        other => Err(unsupported(other)),
    }
}

fn strip_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip_parens(&p.expr),
        other => other,
    }
}

fn string_arg(ev: &Evaluator, e: &Expr, t: i64) -> Result<String, QueryError> {
    match ev.eval(e, t)? {
        Value::String(s) => Ok(s),
        _ => Err(QueryError::BadData("expected a string argument".into())),
    }
}

fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

fn cmp_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

fn map_vector(v: Vec<VSample>, f: impl Fn(f64) -> f64) -> Value {
    Value::Vector(
        v.into_iter()
            .map(|e| VSample {
                labels: e.labels.without_metric_name(),
                v: f(e.v),
            })
            .collect(),
    )
}

fn over_time(r: &RangeEval, keep_name: bool, f: impl Fn(&[Sample]) -> Option<f64>) -> Value {
    Value::Vector(
        r.series
            .iter()
            .filter_map(|s| {
                f(&s.samples).map(|v| VSample {
                    labels: if keep_name {
                        s.labels.clone()
                    } else {
                        s.unnamed.clone()
                    },
                    v,
                })
            })
            .collect(),
    )
}

/// The labels `absent()` gives: the selector's equality matchers (metric name excluded).
fn absent_result(e: &Expr) -> Value {
    let vs = match strip_parens(e) {
        Expr::VectorSelector(vs) => Some(vs),
        Expr::MatrixSelector(ms) => Some(&ms.vs),
        _ => None,
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(vs) = vs {
        for m in &vs.matchers.matchers {
            if m.name != METRIC_NAME && matches!(m.op, MatchOp::Equal) {
                pairs.push((m.name.clone(), m.value.clone()));
            }
        }
    }
    Value::Vector(vec![VSample {
        labels: Labels::new(pairs),
        v: 1.0,
    }])
}

fn fold_min(it: impl Iterator<Item = f64>) -> f64 {
    it.fold(
        f64::NAN,
        |acc, x| if acc.is_nan() || x < acc { x } else { acc },
    )
}

fn fold_max(it: impl Iterator<Item = f64>) -> f64 {
    it.fold(
        f64::NAN,
        |acc, x| if acc.is_nan() || x > acc { x } else { acc },
    )
}

/// Population variance (Welford).
pub(crate) fn variance(it: impl Iterator<Item = f64>) -> f64 {
    let (mut n, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for x in it {
        n += 1.0;
        let d = x - mean;
        mean += d / n;
        m2 += d * (x - mean);
    }
    if n == 0.0 { f64::NAN } else { m2 / n }
}

/// Prometheus' quantile over values (linear interpolation between closest ranks).
pub(crate) fn quantile(q: f64, vals: &mut [f64]) -> f64 {
    if vals.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    vals.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = vals.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let w = rank - rank.floor();
    vals[lower as usize] * (1.0 - w) + vals[upper as usize] * w
}

/// Prometheus' `extrapolatedRate` for `rate`, `increase` and `delta`.
fn extrapolated_rate(
    s: &[Sample],
    range_start: i64,
    range_end: i64,
    range: i64,
    counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let first = s[0];
    let last = s[s.len() - 1];
    let mut result = last.v - first.v;
    if counter {
        let mut prev = first.v;
        for x in &s[1..] {
            if x.v < prev {
                result += prev;
            }
            prev = x.v;
        }
    }
    let mut to_start = (first.t - range_start) as f64 / 1000.0;
    let to_end = (range_end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg_step = sampled / (s.len() - 1) as f64;
    if counter && result > 0.0 && first.v >= 0.0 {
        let to_zero = sampled * (first.v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg_step * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg_step / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg_step / 2.0
    };
    let mut factor = interval / sampled;
    if is_rate {
        factor /= range as f64 / 1000.0;
    }
    Some(result * factor)
}

/// Prometheus' `instantValue` for `irate` and `idelta`.
fn instant_value(s: &[Sample], is_rate: bool) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let last = s[s.len() - 1];
    let prev = s[s.len() - 2];
    let mut v = if is_rate && last.v < prev.v {
        last.v
    } else {
        last.v - prev.v
    };
    let dt = last.t - prev.t;
    if dt == 0 {
        return None;
    }
    if is_rate {
        v /= dt as f64 / 1000.0;
    }
    Some(v)
}

/// Least-squares slope and intercept, x in seconds relative to `intercept_t`.
fn linear_regression(s: &[Sample], intercept_t: i64) -> (f64, f64) {
    let init = s[0].v;
    if s.iter().all(|x| x.v == init) {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    let n = s.len() as f64;
    let (mut sx, mut sy, mut sxy, mut sx2) = (0.0, 0.0, 0.0, 0.0);
    for p in s {
        let x = (p.t - intercept_t) as f64 / 1000.0;
        sx += x;
        sy += p.v;
        sxy += x * p.v;
        sx2 += x * x;
    }
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Prometheus' `bucketQuantile` over `(upper bound, cumulative count)` buckets.
fn bucket_quantile(q: f64, mut b: Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    b.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap_or(std::cmp::Ordering::Equal));
    b.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 += later.1;
            true
        } else {
            false
        }
    });
    let Some(last) = b.last() else {
        return f64::NAN;
    };
    if !(last.0.is_infinite() && last.0 > 0.0) || b.len() < 2 {
        return f64::NAN;
    }
    for i in 1..b.len() {
        if b[i].1 < b[i - 1].1 {
            b[i].1 = b[i - 1].1;
        }
    }
    let total = b[b.len() - 1].1;
    if total == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * total;
    let idx = b.iter().position(|x| x.1 >= rank).unwrap_or(b.len() - 1);
    if idx == b.len() - 1 {
        return b[b.len() - 2].0;
    }
    if idx == 0 && b[0].0 <= 0.0 {
        return b[0].0;
    }
    let (mut start, end, mut count) = (0.0, b[idx].0, b[idx].1);
    if idx > 0 {
        start = b[idx - 1].0;
        count -= b[idx - 1].1;
        rank -= b[idx - 1].1;
    }
    start + (end - start) * (rank / count)
}

impl Evaluator<'_> {
    /// Like an instant selector, but returns each sample's own timestamp.
    pub(crate) fn instant_selector_with_times(
        &self,
        vs: &promql_parser::parser::VectorSelector,
        t: i64,
    ) -> Vec<(Labels, i64)> {
        // The range of one lookback ending at the reference time holds the latest sample.
        let r = self.range_selector(vs, self.lookback, t);
        r.into_iter()
            .filter_map(|(f, s)| s.last().map(|x| (f.labels.clone(), x.t)))
            .collect()
    }
}

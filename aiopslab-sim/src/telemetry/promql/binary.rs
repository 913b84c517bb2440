//! Binary operators between scalars and vectors, with vector matching.

use super::QueryError;
use super::eval::{Evaluator, VSample, Value};
use crate::telemetry::labels::{Labels, METRIC_NAME};
use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};
use std::collections::{HashMap, HashSet};

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

fn is_set(op: &str) -> bool {
    matches!(op, "and" | "or" | "unless")
}

fn arith(op: &str, a: f64, b: f64) -> Result<f64, QueryError> {
    Ok(match op {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        "/" => a / b,
        "%" => a % b,
        "^" => a.powf(b),
        "atan2" => a.atan2(b),
        other => {
            return Err(QueryError::BadData(format!(
                "unsupported PromQL binary operator {other:?}"
            )));
        }
    })
}

fn compare(op: &str, a: f64, b: f64) -> bool {
    match op {
        "==" => a == b,
        "!=" => a != b,
        ">" => a > b,
        "<" => a < b,
        ">=" => a >= b,
        "<=" => a <= b,
        _ => false,
    }
}

/// Applies `op` to two sample values: the value and whether the element is kept.
fn elem(op: &str, l: f64, r: f64) -> Result<(f64, bool), QueryError> {
    if is_comparison(op) {
        Ok((l, compare(op, l, r)))
    } else {
        Ok((arith(op, l, r)?, true))
    }
}

/// Evaluates a binary expression at `t`.
pub(crate) fn eval_binary(ev: &Evaluator, b: &BinaryExpr, t: i64) -> Result<Value, QueryError> {
    let op = b.op.to_string();
    let default_modifier = BinModifier::default();
    let m = b.modifier.as_ref().unwrap_or(&default_modifier);
    if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
        return Err(QueryError::BadData(
            "unsupported PromQL construct: fill()/fill_left()/fill_right() modifiers".into(),
        ));
    }
    let lhs = ev.eval(&b.lhs, t)?;
    let rhs = ev.eval(&b.rhs, t)?;
    match (lhs, rhs) {
        (Value::Scalar(a), Value::Scalar(c)) => {
            if is_comparison(&op) {
                Ok(Value::Scalar(if compare(&op, a, c) { 1.0 } else { 0.0 }))
            } else {
                Ok(Value::Scalar(arith(&op, a, c)?))
            }
        }
        (Value::Vector(v), Value::Scalar(s)) => vector_scalar(&op, v, s, false, m.return_bool),
        (Value::Scalar(s), Value::Vector(v)) => vector_scalar(&op, v, s, true, m.return_bool),
        (Value::Vector(l), Value::Vector(r)) => {
            if is_set(&op) {
                Ok(Value::Vector(set_op(&op, l, r, m.matching.as_ref())))
            } else {
                vector_vector(&op, l, r, m)
            }
        }
        (l, r) => Err(QueryError::BadData(format!(
            "binary operator {op:?} is not defined between {} and {}",
            kind(&l),
            kind(&r)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Scalar(_) => "scalar",
        Value::String(_) => "string",
        Value::Vector(_) => "instant vector",
        Value::Matrix(_) => "range vector",
    }
}

fn vector_scalar(
    op: &str,
    v: Vec<VSample>,
    s: f64,
    swap: bool,
    return_bool: bool,
) -> Result<Value, QueryError> {
    let drop_name = !is_comparison(op) || return_bool;
    let mut out = Vec::with_capacity(v.len());
    for e in v {
        let (l, r) = if swap { (s, e.v) } else { (e.v, s) };
        let (mut value, mut keep) = elem(op, l, r)?;
        if is_comparison(op) && swap {
            value = e.v;
        }
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
            keep = true;
        }
        if keep {
            out.push(VSample {
                labels: if drop_name {
                    e.labels.without_metric_name()
                } else {
                    e.labels
                },
                v: value,
            });
        }
    }
    Ok(Value::Vector(out))
}

/// The matching signature of a label set under `on(...)` / `ignoring(...)`.
fn signature(labels: &Labels, matching: Option<&LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(ls)) => labels.keep(&ls.labels),
        Some(LabelModifier::Exclude(ls)) => {
            let mut names: Vec<&str> = ls.labels.iter().map(|s| s.as_str()).collect();
            names.push(METRIC_NAME);
            labels.without(&names)
        }
        None => labels.without_metric_name(),
    }
}

fn set_op(
    op: &str,
    l: Vec<VSample>,
    r: Vec<VSample>,
    matching: Option<&LabelModifier>,
) -> Vec<VSample> {
    match op {
        "and" => {
            let sigs: HashSet<Labels> = r.iter().map(|e| signature(&e.labels, matching)).collect();
            l.into_iter()
                .filter(|e| sigs.contains(&signature(&e.labels, matching)))
                .collect()
        }
        "unless" => {
            let sigs: HashSet<Labels> = r.iter().map(|e| signature(&e.labels, matching)).collect();
            l.into_iter()
                .filter(|e| !sigs.contains(&signature(&e.labels, matching)))
                .collect()
        }
        _ => {
            let sigs: HashSet<Labels> = l.iter().map(|e| signature(&e.labels, matching)).collect();
            let mut out = l;
            out.extend(
                r.into_iter()
                    .filter(|e| !sigs.contains(&signature(&e.labels, matching))),
            );
            out
        }
    }
}

fn vector_vector(
    op: &str,
    l: Vec<VSample>,
    r: Vec<VSample>,
    m: &BinModifier,
) -> Result<Value, QueryError> {
    let matching = m.matching.as_ref();
    let (include, one_to_many, one_to_one) = match &m.card {
        VectorMatchCardinality::ManyToOne(ls) => (ls.labels.clone(), false, false),
        VectorMatchCardinality::OneToMany(ls) => (ls.labels.clone(), true, false),
        _ => (Vec::new(), false, true),
    };
    // The "one" side must have unique signatures.
    let (many, one) = if one_to_many { (r, l) } else { (l, r) };
    let one_side = if one_to_many { "left" } else { "right" };
    let mut one_index: HashMap<Labels, usize> = HashMap::with_capacity(one.len());
    for (i, e) in one.iter().enumerate() {
        let sig = signature(&e.labels, matching);
        if let Some(&j) = one_index.get(&sig) {
            return Err(QueryError::Execution(format!(
                "found duplicate series for the match group {sig} on the {one_side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                one[j].labels, e.labels
            )));
        }
        one_index.insert(sig, i);
    }
    let drop_name = !is_comparison(op) || m.return_bool;
    let mut matched: HashSet<Labels> = HashSet::new();
    let mut results: HashSet<Labels> = HashSet::new();
    let mut out = Vec::new();
    for e in &many {
        let sig = signature(&e.labels, matching);
        let Some(&j) = one_index.get(&sig) else {
            continue;
        };
        let o = &one[j];
        let (lv, rv) = if one_to_many { (o.v, e.v) } else { (e.v, o.v) };
        let (mut value, mut keep) = elem(op, lv, rv)?;
        if m.return_bool {
            value = if keep { 1.0 } else { 0.0 };
            keep = true;
        }
        if one_to_one && !matched.insert(sig.clone()) {
            return Err(QueryError::Execution(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
            ));
        }
        if !keep {
            continue;
        }
        let mut labels = if drop_name {
            e.labels.without_metric_name()
        } else {
            e.labels.clone()
        };
        if one_to_one {
            labels = match matching {
                Some(LabelModifier::Include(ls)) => labels.keep(&ls.labels),
                Some(LabelModifier::Exclude(ls)) => labels.without(&ls.labels),
                None => labels,
            };
        }
        for name in &include {
            labels = labels.with(name, o.labels.get(name).unwrap_or(""));
        }
        if !one_to_one && !results.insert(labels.clone()) {
            return Err(QueryError::Execution(
                "multiple matches for labels: grouping labels must ensure unique matches".into(),
            ));
        }
        out.push(VSample { labels, v: value });
    }
    Ok(Value::Vector(out))
}

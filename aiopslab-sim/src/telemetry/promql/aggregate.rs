//! Aggregation operators (`sum by (...)`, `topk`, `quantile`, ...).

use super::QueryError;
use super::eval::{Evaluator, VSample, Value, expect_scalar, expect_vector};
use super::format_value;
use super::functions::{quantile, variance};
use crate::telemetry::labels::{Labels, METRIC_NAME, is_valid_label_name};
use promql_parser::parser::{AggregateExpr, LabelModifier};
use std::collections::HashMap;

/// The labels an element keeps in its group.
fn group_labels(labels: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        None => Labels::empty(),
        Some(LabelModifier::Include(ls)) => labels.keep(&ls.labels),
        Some(LabelModifier::Exclude(ls)) => {
            let mut names: Vec<&str> = ls.labels.iter().map(|s| s.as_str()).collect();
            names.push(METRIC_NAME);
            labels.without(&names)
        }
    }
}

/// Groups element indices by their group labels, in order of first appearance.
fn groups(v: &[VSample], modifier: &Option<LabelModifier>) -> Vec<(Labels, Vec<usize>)> {
    let mut out: Vec<(Labels, Vec<usize>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for (i, e) in v.iter().enumerate() {
        let key = group_labels(&e.labels, modifier);
        match index.get(&key) {
            Some(&g) => out[g].1.push(i),
            None => {
                index.insert(key.clone(), out.len());
                out.push((key, vec![i]));
            }
        }
    }
    out
}

/// Evaluates an aggregation at `t`.
pub(crate) fn eval_aggregate(
    ev: &Evaluator,
    a: &AggregateExpr,
    t: i64,
) -> Result<Value, QueryError> {
    let op = a.op.to_string();
    let input = expect_vector(ev, &a.expr, t, &format!("aggregation {op}"))?;
    let param_scalar = |what: &str| -> Result<f64, QueryError> {
        match &a.param {
            Some(p) => expect_scalar(ev, p, t, what),
            None => Err(QueryError::BadData(format!("{op} needs a parameter"))),
        }
    };
    let simple = |f: &dyn Fn(&[f64]) -> f64| -> Value {
        Value::Vector(
            groups(&input, &a.modifier)
                .into_iter()
                .map(|(labels, idx)| {
                    let vals: Vec<f64> = idx.iter().map(|&i| input[i].v).collect();
                    VSample {
                        labels,
                        v: f(&vals),
                    }
                })
                .collect(),
        )
    };
    match op.as_str() {
        "sum" => Ok(simple(&|v| v.iter().sum())),
        "avg" => Ok(simple(&|v| v.iter().sum::<f64>() / v.len() as f64)),
        "count" => Ok(simple(&|v| v.len() as f64)),
        "group" => Ok(simple(&|_| 1.0)),
        "min" => Ok(simple(&|v| {
            v.iter().fold(
                f64::NAN,
                |acc, &x| if acc.is_nan() || x < acc { x } else { acc },
            )
        })),
        "max" => Ok(simple(&|v| {
            v.iter().fold(
                f64::NAN,
                |acc, &x| if acc.is_nan() || x > acc { x } else { acc },
            )
        })),
        "stddev" => Ok(simple(&|v| variance(v.iter().copied()).sqrt())),
        "stdvar" => Ok(simple(&|v| variance(v.iter().copied()))),
        "quantile" => {
            let q = param_scalar("quantile")?;
            Ok(simple(&|v| quantile(q, &mut v.to_vec())))
        }
        "topk" | "bottomk" => {
            let k = param_scalar(&op)?;
            let top = op == "topk";
            let k = if k.is_nan() { 0 } else { k as i64 };
            if k < 1 {
                return Ok(Value::Vector(vec![]));
            }
            let mut out = Vec::new();
            for (_, mut idx) in groups(&input, &a.modifier) {
                idx.sort_by(|&x, &y| {
                    let (a, b) = (input[x].v, input[y].v);
                    // NaN ranks below every number for topk and above for bottomk.
                    match (a.is_nan(), b.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ if top => b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal),
                        _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
                    }
                });
                out.extend(idx.into_iter().take(k as usize).map(|i| input[i].clone()));
            }
            Ok(Value::Vector(out))
        }
        "count_values" => {
            let label = match &a.param {
                Some(p) => match ev.eval(p, t)? {
                    Value::String(s) => s,
                    _ => {
                        return Err(QueryError::BadData(
                            "count_values needs a string parameter".into(),
                        ));
                    }
                },
                None => return Err(QueryError::BadData("count_values needs a parameter".into())),
            };
            if !is_valid_label_name(&label) {
                return Err(QueryError::BadData(format!("invalid label name {label:?}")));
            }
            let mut out: Vec<VSample> = Vec::new();
            let mut index: HashMap<Labels, usize> = HashMap::new();
            for e in &input {
                let key = group_labels(&e.labels, &a.modifier).with(&label, &format_value(e.v));
                match index.get(&key) {
                    Some(&i) => out[i].v += 1.0,
                    None => {
                        index.insert(key.clone(), out.len());
                        out.push(VSample {
                            labels: key,
                            v: 1.0,
                        });
                    }
                }
            }
            Ok(Value::Vector(out))
        }
        other => Err(QueryError::BadData(format!(
            "unsupported PromQL aggregation {other}: the virtual cluster's query engine implements sum, avg, min, max, count, group, stddev, stdvar, topk, bottomk, quantile and count_values"
        ))),
    }
}

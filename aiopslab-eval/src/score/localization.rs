//! Localization: which service(s) hold the root cause?
//!
//! AIOpsLab, for a faulty service `F`: nothing submitted scores `0.0`; otherwise
//! `is_exact` = the submission equals `[F]` (a bare string equal to `F` counts too) and
//! `is_sub` = `F` is among the submitted names. `Localization Accuracy` is `100.0` when exact,
//! `(1 / len(submission)) * 100.0` when `is_sub`, else `0.0`; `success` = exact, or `is_sub`
//! with a single name; `is_subset` = `is_sub`. Names compare case-sensitively, duplicates
//! count (`["geo","geo"]` scores 50.0), and accepted aliases (`geo` for `mongodb-geo`) are
//! tried as well as the service name.
//!
//! Where AIOpsLab would crash or read nonsense (a number, a boolean or an object submitted),
//! the submission scores `0.0` and the reason says it was not a list of names.

use crate::text::{kind, quote, show};
use aiopslab_core::problem::LocalizationAnswer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The score of a localization submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalizationScore {
    /// `Localization Accuracy`: `100.0`, `(1 / len) * 100.0` or `0.0`.
    pub accuracy: f64,
    /// `success`.
    pub success: bool,
    /// `is_subset`: the faulty service is among the submitted names.
    pub is_subset: bool,
    /// Why, in one line.
    pub reason: String,
}

/// `["a","b"]` for the expected services, with ` (or "alias")` when aliases are accepted.
fn expected_text(expected: &LocalizationAnswer) -> String {
    let mut text = show(&Value::from(expected.services.clone()));
    let aliases: Vec<String> = expected
        .services
        .iter()
        .flat_map(|s| expected.aliases.get(s).into_iter().flatten())
        .map(|a| quote(a))
        .collect();
    if !aliases.is_empty() {
        text.push_str(&format!(" (or {})", aliases.join(" or ")));
    }
    text
}

/// Whether `value` is the string `name`.
fn is_name(value: &Value, name: &str) -> bool {
    value.as_str() == Some(name)
}

/// Scores a localization submission as AIOpsLab does (see the module docs).
///
/// ```
/// use aiopslab_core::problem::LocalizationAnswer;
/// use aiopslab_eval::score::score_localization;
/// use serde_json::json;
/// use std::collections::BTreeMap;
///
/// let user = LocalizationAnswer { services: vec!["user".into()], aliases: BTreeMap::new() };
/// let s = score_localization(&json!(["geo", "user"]), &user);
/// assert_eq!((s.accuracy, s.success, s.is_subset), (50.0, false, true));
/// assert_eq!(s.reason, r#"submitted ["geo","user"]; expected ["user"]: a superset (50.0)"#);
/// ```
pub fn score_localization(solution: &Value, expected: &LocalizationAnswer) -> LocalizationScore {
    let want = expected_text(expected);
    let zero = |reason: String| LocalizationScore {
        accuracy: 0.0,
        success: false,
        is_subset: false,
        reason,
    };
    // The submitted names as AIOpsLab sees them: a list is itself; a bare string is one name
    // for the exact match and, as Python's `set(str)` makes it, its characters for the
    // subset test.
    let (as_list, members): (Vec<Value>, Vec<Value>) = match solution {
        Value::Null => return zero(format!("nothing submitted; expected {want} (0.0)")),
        Value::Array(items) => (items.clone(), items.clone()),
        Value::String(s) => (
            vec![solution.clone()],
            s.chars().map(|c| Value::String(c.to_string())).collect(),
        ),
        other => {
            return zero(format!(
                "submitted {} ({}); expected {want}: not a list of service names (0.0)",
                show(other),
                kind(other)
            ));
        }
    };
    let head = format!("submitted {}; expected {want}", show(solution));
    let services = &expected.services;

    let is_exact = as_list.len() == services.len()
        && as_list
            .iter()
            .zip(services)
            .all(|(v, s)| expected.names_for(s).any(|n| is_name(v, n)));
    let is_sub = !services.is_empty()
        && services.iter().all(|s| {
            expected
                .names_for(s)
                .any(|n| members.iter().any(|m| is_name(m, n)))
        });
    // Python's `len(soln)`: list items, or characters of a bare string.
    let len = members.len();

    if is_exact {
        return LocalizationScore {
            accuracy: 100.0,
            success: true,
            is_subset: is_sub,
            reason: format!("{head}: exact match (100.0)"),
        };
    }
    if is_sub {
        let accuracy = services.len() as f64 / len as f64 * 100.0;
        let success = len == services.len();
        let all_expected = members
            .iter()
            .all(|m| m.as_str().is_some_and(|n| expected.accepts(n)));
        let what = if success {
            "all faulty services, in another order"
        } else if all_expected {
            "a superset with duplicates"
        } else {
            "a superset"
        };
        return LocalizationScore {
            accuracy,
            success,
            is_subset: true,
            reason: format!("{head}: {what} ({})", python_float(accuracy)),
        };
    }
    if as_list.is_empty() {
        return zero(format!("{head}: the list is empty (0.0)"));
    }
    // A hint when a name differs from an expected one only in case.
    let near: Vec<String> = as_list
        .iter()
        .filter_map(Value::as_str)
        .filter(|n| {
            services.iter().any(|s| {
                expected
                    .names_for(s)
                    .any(|e| e != *n && e.to_lowercase() == n.to_lowercase())
            })
        })
        .map(quote)
        .collect();
    let named = services
        .iter()
        .filter(|s| {
            expected
                .names_for(s)
                .any(|n| members.iter().any(|m| is_name(m, n)))
        })
        .count();
    let mut why = if services.len() > 1 && named > 0 {
        format!("names {named} of {} faulty services", services.len())
    } else {
        "does not name the faulty service".to_string()
    };
    if !near.is_empty() {
        why.push_str(&format!(
            "; names are case-sensitive and {} differs only in case",
            near.join(", ")
        ));
    }
    zero(format!("{head}: {why} (0.0)"))
}

/// A float as Python prints it (`50.0`, `33.33333333333333`).
pub(crate) fn python_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

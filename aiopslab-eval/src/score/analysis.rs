//! Analysis: the root cause's system level and fault type.
//!
//! AIOpsLab: a submission that is not a dict scores all false; otherwise
//! `system_level_correct` and `fault_type_correct` compare `soln.get(key, "")` stripped and
//! lower-cased with the expected label, and `success` is both. A value that is not a string
//! (`None`, a number) makes AIOpsLab's eval raise; here it counts as incorrect and the
//! reason says so.

use crate::text::{kind, normalize, quote, show};
use aiopslab_core::problem::{AnalysisAnswer, FaultType, SystemLevel};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The score of an analysis submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalysisScore {
    /// `system_level_correct`.
    pub system_level_correct: bool,
    /// `fault_type_correct`.
    pub fault_type_correct: bool,
    /// `success`: both correct.
    pub success: bool,
    /// Why, in one line.
    pub reason: String,
}

/// Judges one field; returns whether it is correct and a phrase for the reason.
fn field(
    fields: &Map<String, Value>,
    key: &str,
    expected: &str,
    in_vocabulary: fn(&str) -> bool,
) -> (bool, String) {
    let want = quote(expected);
    match fields.get(key) {
        None => (false, format!("{key} missing (expected {want})")),
        Some(Value::String(s)) => {
            if normalize(s) == normalize(expected) {
                (true, format!("{key} {} correct", quote(s)))
            } else if in_vocabulary(s) {
                (false, format!("{key} {} wrong (expected {want})", quote(s)))
            } else {
                (
                    false,
                    format!(
                        "{key} {} wrong (expected {want}; not a known {})",
                        quote(s),
                        key.replace('_', " ")
                    ),
                )
            }
        }
        Some(other) => (
            false,
            format!(
                "{key} {} is {}, not a string, counted as wrong (expected {want})",
                show(other),
                kind(other)
            ),
        ),
    }
}

/// Scores an analysis submission as AIOpsLab does (see the module docs).
///
/// ```
/// use aiopslab_core::problem::{AnalysisAnswer, FaultType, SystemLevel};
/// use aiopslab_eval::score::score_analysis;
/// use serde_json::json;
///
/// let expected = AnalysisAnswer {
///     system_level: SystemLevel::Application,
///     fault_type: FaultType::Misconfiguration,
/// };
/// let s = score_analysis(&json!({"system_level": " application ", "fault_type": null}), &expected);
/// assert_eq!((s.system_level_correct, s.fault_type_correct, s.success), (true, false, false));
/// assert!(s.reason.contains("fault_type null is null, not a string"));
/// ```
pub fn score_analysis(solution: &Value, expected: &AnalysisAnswer) -> AnalysisScore {
    let Value::Object(fields) = solution else {
        let what = match solution {
            Value::Null => "nothing submitted".to_string(),
            other => format!("submitted {} ({})", show(other), kind(other)),
        };
        return AnalysisScore {
            system_level_correct: false,
            fault_type_correct: false,
            success: false,
            reason: format!(
                "{what}, not an object with system_level and fault_type; expected {{\"system_level\": {}, \"fault_type\": {}}}",
                quote(expected.system_level.as_str()),
                quote(expected.fault_type.as_str())
            ),
        };
    };
    let (level_ok, level) = field(
        fields,
        "system_level",
        expected.system_level.as_str(),
        |s| s.parse::<SystemLevel>().is_ok(),
    );
    let (fault_ok, fault) = field(fields, "fault_type", expected.fault_type.as_str(), |s| {
        s.parse::<FaultType>().is_ok()
    });
    AnalysisScore {
        system_level_correct: level_ok,
        fault_type_correct: fault_ok,
        success: level_ok && fault_ok,
        reason: format!("{level}; {fault}"),
    }
}

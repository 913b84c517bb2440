//! Detection: is there an anomaly, `"Yes"` or `"No"`?
//!
//! AIOpsLab: a string submission is stripped and lower-cased and compared with the expected
//! answer lower-cased (`Correct` / `Incorrect`); anything that is not a string (nothing
//! submitted, a list, a number, ...) is `Invalid Format`.

use crate::text::{kind, normalize, quote, show};
use aiopslab_core::problem::DetectionAnswer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// The value of the `Detection Accuracy` result key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DetectionAccuracy {
    /// The answer matches.
    Correct,
    /// A string that does not match.
    Incorrect,
    /// Not a string.
    #[serde(rename = "Invalid Format")]
    InvalidFormat,
}

impl DetectionAccuracy {
    /// `Correct`, `Incorrect` or `Invalid Format`, as AIOpsLab writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            DetectionAccuracy::Correct => "Correct",
            DetectionAccuracy::Incorrect => "Incorrect",
            DetectionAccuracy::InvalidFormat => "Invalid Format",
        }
    }
}

impl fmt::Display for DetectionAccuracy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The score of a detection submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectionScore {
    /// `Detection Accuracy`.
    pub accuracy: DetectionAccuracy,
    /// Why, in one line.
    pub reason: String,
}

impl DetectionScore {
    /// Whether the answer is `Correct`.
    pub fn success(&self) -> bool {
        self.accuracy == DetectionAccuracy::Correct
    }
}

/// Scores a detection submission as AIOpsLab does.
///
/// ```
/// use aiopslab_core::problem::DetectionAnswer;
/// use aiopslab_eval::score::{score_detection, DetectionAccuracy};
/// use serde_json::json;
///
/// assert_eq!(score_detection(&json!(" yes\n"), DetectionAnswer::Yes).accuracy, DetectionAccuracy::Correct);
/// assert_eq!(score_detection(&json!("No"), DetectionAnswer::Yes).accuracy, DetectionAccuracy::Incorrect);
/// let s = score_detection(&json!(["Yes"]), DetectionAnswer::Yes);
/// assert_eq!(s.accuracy, DetectionAccuracy::InvalidFormat);
/// assert_eq!(s.reason, r#"submitted ["Yes"] (a list); expected "Yes": invalid format, the answer must be the string "Yes" or "No""#);
/// ```
pub fn score_detection(solution: &Value, expected: DetectionAnswer) -> DetectionScore {
    let want = quote(expected.as_str());
    let Value::String(text) = solution else {
        let what = match solution {
            Value::Null => "nothing submitted".to_string(),
            other => format!("submitted {} ({})", show(other), kind(other)),
        };
        return DetectionScore {
            accuracy: DetectionAccuracy::InvalidFormat,
            reason: format!(
                "{what}; expected {want}: invalid format, the answer must be the string \"Yes\" or \"No\""
            ),
        };
    };
    let got = normalize(text);
    let head = format!("submitted {}; expected {want}", show(solution));
    if got == expected.as_str().to_lowercase() {
        return DetectionScore {
            accuracy: DetectionAccuracy::Correct,
            reason: format!("{head}: correct"),
        };
    }
    let why = if got == "yes" || got == "no" {
        "incorrect".to_string()
    } else {
        "incorrect, the answer is neither \"Yes\" nor \"No\" once stripped and lower-cased"
            .to_string()
    };
    DetectionScore {
        accuracy: DetectionAccuracy::Incorrect,
        reason: format!("{head}: {why}"),
    }
}

//! The outcome of a check: passed or failed, and why, in one line.

use crate::text::one_line;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Whether a check passed, with a one-line reason either way.
///
/// ```
/// use aiopslab_eval::Verdict;
/// let v = Verdict::fail("pod geo-1: container geo is waiting: CrashLoopBackOff\n(details)");
/// assert!(!v.passed);
/// assert_eq!(v.reason, "pod geo-1: container geo is waiting: CrashLoopBackOff; (details)");
/// assert_eq!(v.to_string(), "FAIL: pod geo-1: container geo is waiting: CrashLoopBackOff; (details)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the check passed.
    pub passed: bool,
    /// Why, in one line.
    pub reason: String,
}

impl Verdict {
    /// A passing verdict; line breaks in `reason` are folded into `; `.
    pub fn pass(reason: impl AsRef<str>) -> Self {
        Verdict {
            passed: true,
            reason: one_line(reason.as_ref()),
        }
    }

    /// A failing verdict; line breaks in `reason` are folded into `; `.
    pub fn fail(reason: impl AsRef<str>) -> Self {
        Verdict {
            passed: false,
            reason: one_line(reason.as_ref()),
        }
    }

    /// A verdict from a judgement that is `Ok(pass reason)` or `Err(fail reason)`.
    pub fn from_result(result: Result<String, String>) -> Self {
        match result {
            Ok(reason) => Verdict::pass(reason),
            Err(reason) => Verdict::fail(reason),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = if self.passed { "PASS" } else { "FAIL" };
        write!(f, "{word}: {}", self.reason)
    }
}

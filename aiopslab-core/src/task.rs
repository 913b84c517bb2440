//! The four kinds of task an AIOpsLab problem can pose.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What an agent is asked to do in a problem.
///
/// ```
/// use aiopslab_core::task::TaskKind;
/// let kind: TaskKind = "localization".parse().unwrap();
/// assert_eq!(kind, TaskKind::Localization);
/// assert_eq!(kind.time_key(), "TTL");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// Say whether anything is wrong (`"Yes"` / `"No"`).
    Detection,
    /// Name the faulty service(s).
    Localization,
    /// Classify the root cause by system level and fault type.
    Analysis,
    /// Fix the fault on the live cluster.
    Mitigation,
}

impl TaskKind {
    /// All task kinds, in AIOpsLab's order.
    pub const ALL: [TaskKind; 4] = [
        TaskKind::Detection,
        TaskKind::Localization,
        TaskKind::Analysis,
        TaskKind::Mitigation,
    ];

    /// The lower-case name used in problem ids and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Detection => "detection",
            TaskKind::Localization => "localization",
            TaskKind::Analysis => "analysis",
            TaskKind::Mitigation => "mitigation",
        }
    }

    /// The result key that holds the time the agent took (`TTD`, `TTL`, `TTA`, `TTM`).
    pub fn time_key(self) -> &'static str {
        match self {
            TaskKind::Detection => "TTD",
            TaskKind::Localization => "TTL",
            TaskKind::Analysis => "TTA",
            TaskKind::Mitigation => "TTM",
        }
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a string names no task kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown task kind `{0}`: expected detection, localization, analysis or mitigation")]
pub struct UnknownTaskKind(pub String);

impl FromStr for TaskKind {
    type Err = UnknownTaskKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "detection" => Ok(TaskKind::Detection),
            "localization" => Ok(TaskKind::Localization),
            "analysis" => Ok(TaskKind::Analysis),
            "mitigation" => Ok(TaskKind::Mitigation),
            _ => Err(UnknownTaskKind(s.to_string())),
        }
    }
}

//! AIOpsLab-compatible scoring: pure functions from a submitted solution and the expected
//! answer to a score, and from a score and the episode's stats to a result map with
//! AIOpsLab's keys in AIOpsLab's order.
//!
//! Result keys per task (AIOpsLab's, then ours):
//!
//! | task | keys |
//! |---|---|
//! | detection | `Detection Accuracy`, `TTD`, `steps`, `in_tokens`, `out_tokens`, `token_source`, `reason` |
//! | localization | `Localization Accuracy`, `TTL`, `steps`, `in_tokens`, `out_tokens`, `success`, `is_subset`, `token_source`, `reason` |
//! | localization, nothing submitted | `Localization Accuracy`, `success`, `is_subset`, `TTL`, `steps`, `in_tokens`, `out_tokens`, `token_source`, `reason` |
//! | analysis | `system_level_correct`, `fault_type_correct`, `success`, `TTA`, `steps`, `in_tokens`, `out_tokens`, `token_source`, `reason` |
//! | mitigation | `TTM`, `steps`, `in_tokens`, `out_tokens`, `success`, `token_source`, `reason` |
//!
//! `token_source` is `cl100k_base` (counted as AIOpsLab counts) or `agent` (the usage the
//! agent reported); `reason` says in one line why the answer scored as it did.
//!
//! ```
//! use aiopslab_core::problem::{DetectionAnswer, ExpectedAnswer};
//! use aiopslab_eval::score::score;
//! use aiopslab_eval::EpisodeStats;
//! use serde_json::json;
//!
//! let s = score(&ExpectedAnswer::Detection(DetectionAnswer::Yes), &json!("Yes"), None);
//! let results = s.to_results(&EpisodeStats::new(&[], &[], 41.2));
//! let keys: Vec<&str> = results.keys().map(String::as_str).collect();
//! assert_eq!(keys, ["Detection Accuracy", "TTD", "steps", "in_tokens", "out_tokens", "token_source", "reason"]);
//! assert_eq!(results["Detection Accuracy"], json!("Correct"));
//! assert_eq!(results["TTD"], json!(41.2));
//! ```

mod analysis;
mod detection;
mod localization;
mod mitigation;

pub use analysis::{AnalysisScore, score_analysis};
pub use detection::{DetectionAccuracy, DetectionScore, score_detection};
pub use localization::{LocalizationScore, score_localization};
pub use mitigation::{MitigationScore, score_mitigation};

use crate::stats::EpisodeStats;
use crate::verdict::Verdict;
use aiopslab_core::orchestrator::Evaluation;
use aiopslab_core::problem::ExpectedAnswer;
use aiopslab_core::session::EndReason;
use aiopslab_core::task::TaskKind;
use serde_json::{Map, Value};

/// The names of the result keys.
pub mod keys {
    /// Detection's accuracy: `Correct`, `Incorrect` or `Invalid Format`.
    pub const DETECTION_ACCURACY: &str = "Detection Accuracy";
    /// Localization's accuracy: `100.0`, `(1 / len) * 100.0` or `0.0`.
    pub const LOCALIZATION_ACCURACY: &str = "Localization Accuracy";
    /// Analysis: whether the system level is right.
    pub const SYSTEM_LEVEL_CORRECT: &str = "system_level_correct";
    /// Analysis: whether the fault type is right.
    pub const FAULT_TYPE_CORRECT: &str = "fault_type_correct";
    /// Localization, analysis, mitigation: the overall success.
    pub const SUCCESS: &str = "success";
    /// Localization: the faulty service is among the submitted names.
    pub const IS_SUBSET: &str = "is_subset";
    /// The number of agent responses.
    pub const STEPS: &str = "steps";
    /// Tokens into the agent.
    pub const IN_TOKENS: &str = "in_tokens";
    /// Tokens out of the agent.
    pub const OUT_TOKENS: &str = "out_tokens";
    /// Ours: where the token counts come from (`cl100k_base` or `agent`).
    pub const TOKEN_SOURCE: &str = "token_source";
    /// Ours: why the episode scored as it did, in one line.
    pub const REASON: &str = "reason";
}

/// The score of one episode, one shape per task.
#[derive(Debug, Clone, PartialEq)]
pub enum Score {
    /// A detection score.
    Detection(DetectionScore),
    /// A localization score; `submitted` is false when nothing was submitted (AIOpsLab
    /// then writes its keys in another order).
    Localization {
        /// The score.
        score: LocalizationScore,
        /// Whether anything was submitted.
        submitted: bool,
    },
    /// An analysis score.
    Analysis(AnalysisScore),
    /// A mitigation score.
    Mitigation(MitigationScore),
}

impl Score {
    /// The task kind.
    pub fn task(&self) -> TaskKind {
        match self {
            Score::Detection(_) => TaskKind::Detection,
            Score::Localization { .. } => TaskKind::Localization,
            Score::Analysis(_) => TaskKind::Analysis,
            Score::Mitigation(_) => TaskKind::Mitigation,
        }
    }

    /// Whether the episode succeeded: `Correct` for detection, `success` otherwise.
    pub fn success(&self) -> bool {
        match self {
            Score::Detection(s) => s.success(),
            Score::Localization { score, .. } => score.success,
            Score::Analysis(s) => s.success,
            Score::Mitigation(s) => s.success,
        }
    }

    /// The one-line reason.
    pub fn reason(&self) -> &str {
        match self {
            Score::Detection(s) => &s.reason,
            Score::Localization { score, .. } => &score.reason,
            Score::Analysis(s) => &s.reason,
            Score::Mitigation(s) => &s.reason,
        }
    }

    fn reason_mut(&mut self) -> &mut String {
        match self {
            Score::Detection(s) => &mut s.reason,
            Score::Localization { score, .. } => &mut score.reason,
            Score::Analysis(s) => &mut s.reason,
            Score::Mitigation(s) => &mut s.reason,
        }
    }

    /// The result map: AIOpsLab's keys in AIOpsLab's order, then `token_source` and
    /// `reason` (see the module docs).
    pub fn to_results(&self, stats: &EpisodeStats) -> Map<String, Value> {
        let mut r = Map::new();
        let time_key = self.task().time_key();
        let common = |r: &mut Map<String, Value>| {
            r.insert(time_key.into(), Value::from(stats.duration));
            r.insert(keys::STEPS.into(), Value::from(stats.steps));
            r.insert(keys::IN_TOKENS.into(), Value::from(stats.tokens.in_tokens));
            r.insert(
                keys::OUT_TOKENS.into(),
                Value::from(stats.tokens.out_tokens),
            );
        };
        match self {
            Score::Detection(s) => {
                r.insert(keys::DETECTION_ACCURACY.into(), s.accuracy.as_str().into());
                common(&mut r);
            }
            Score::Localization { score, submitted } => {
                r.insert(keys::LOCALIZATION_ACCURACY.into(), score.accuracy.into());
                if *submitted {
                    common(&mut r);
                    r.insert(keys::SUCCESS.into(), score.success.into());
                    r.insert(keys::IS_SUBSET.into(), score.is_subset.into());
                } else {
                    r.insert(keys::SUCCESS.into(), score.success.into());
                    r.insert(keys::IS_SUBSET.into(), score.is_subset.into());
                    common(&mut r);
                }
            }
            Score::Analysis(s) => {
                r.insert(
                    keys::SYSTEM_LEVEL_CORRECT.into(),
                    s.system_level_correct.into(),
                );
                r.insert(keys::FAULT_TYPE_CORRECT.into(), s.fault_type_correct.into());
                r.insert(keys::SUCCESS.into(), s.success.into());
                common(&mut r);
            }
            Score::Mitigation(s) => {
                common(&mut r);
                r.insert(keys::SUCCESS.into(), s.success.into());
            }
        }
        r.insert(
            keys::TOKEN_SOURCE.into(),
            stats.tokens.source.as_str().into(),
        );
        r.insert(keys::REASON.into(), self.reason().into());
        r
    }
}

/// Scores a solution against the expected answer. `mitigation` is the oracle's verdict,
/// used only for mitigation problems.
pub fn score(expected: &ExpectedAnswer, solution: &Value, mitigation: Option<&Verdict>) -> Score {
    match expected {
        ExpectedAnswer::Detection(answer) => Score::Detection(score_detection(solution, *answer)),
        ExpectedAnswer::Localization(answer) => Score::Localization {
            score: score_localization(solution, answer),
            submitted: !solution.is_null(),
        },
        ExpectedAnswer::Analysis(answer) => Score::Analysis(score_analysis(solution, answer)),
        ExpectedAnswer::Mitigation => Score::Mitigation(score_mitigation(mitigation)),
    }
}

/// Scores what the orchestrator hands to the environment and returns the result map.
///
/// When the step limit ended the episode without a submission, the reason says so.
///
/// ```
/// use aiopslab_core::orchestrator::Evaluation;
/// use aiopslab_core::problem::{DetectionAnswer, ExpectedAnswer};
/// use aiopslab_core::session::{EndReason, Role, TraceItem};
/// use aiopslab_core::task::TaskKind;
/// use aiopslab_eval::score::evaluate;
/// use serde_json::{json, Value};
///
/// let trace = [TraceItem { role: Role::Assistant, content: "hello world".into() }];
/// let input = Evaluation {
///     task: TaskKind::Detection,
///     solution: &Value::Null,
///     trace: &trace,
///     duration: 3.0,
///     end_reason: EndReason::StepLimit,
///     steps: &[],
/// };
/// let r = evaluate(&ExpectedAnswer::Detection(DetectionAnswer::Yes), &input, None);
/// assert_eq!(r["Detection Accuracy"], json!("Invalid Format"));
/// assert_eq!(r["out_tokens"], json!(2));
/// assert!(r["reason"].as_str().unwrap().starts_with("the step limit was reached without a submission"));
/// ```
pub fn evaluate(
    expected: &ExpectedAnswer,
    input: &Evaluation<'_>,
    mitigation: Option<&Verdict>,
) -> Map<String, Value> {
    let mut s = score(expected, input.solution, mitigation);
    if input.end_reason == EndReason::StepLimit
        && input.solution.is_null()
        && s.task() != TaskKind::Mitigation
    {
        let reason = s.reason_mut();
        *reason = format!("the step limit was reached without a submission: {reason}");
    }
    s.to_results(&EpisodeStats::from_evaluation(input))
}

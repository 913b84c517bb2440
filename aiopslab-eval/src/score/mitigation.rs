//! Mitigation: the agent fixed the cluster, judged by an oracle on the live cluster.
//!
//! The submission itself carries nothing (`submit()`); `success` is the oracle's verdict.

use crate::verdict::Verdict;
use serde::{Deserialize, Serialize};

/// The score of a mitigation episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MitigationScore {
    /// `success`: the oracle passed.
    pub success: bool,
    /// The oracle's reason, or why there was no verdict.
    pub reason: String,
}

/// Scores a mitigation episode from the oracle's verdict; without a verdict (the cluster
/// was not checked) it is a failure that says so.
///
/// ```
/// use aiopslab_eval::{score::score_mitigation, Verdict};
/// let s = score_mitigation(Some(&Verdict::pass("all 3 pods healthy")));
/// assert!(s.success);
/// assert!(!score_mitigation(None).success);
/// ```
pub fn score_mitigation(verdict: Option<&Verdict>) -> MitigationScore {
    match verdict {
        Some(v) => MitigationScore {
            success: v.passed,
            reason: v.reason.clone(),
        },
        None => MitigationScore {
            success: false,
            reason: "no oracle verdict: the cluster was not checked, so the mitigation cannot count as a success".into(),
        },
    }
}

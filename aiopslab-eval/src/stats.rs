//! The task-independent numbers of an episode: time taken, steps and tokens.

use crate::tokens::{TokenCounts, token_counts};
use aiopslab_core::orchestrator::Evaluation;
use aiopslab_core::session::{Role, StepRecord, TraceItem};
use serde::{Deserialize, Serialize};

/// What every result set reports besides the task's own score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpisodeStats {
    /// Seconds from the start of the agent loop to its end (`TTD` / `TTL` / `TTA` / `TTM`).
    pub duration: f64,
    /// The number of assistant messages in the trace (`steps`).
    pub steps: usize,
    /// `in_tokens`, `out_tokens` and where they come from.
    pub tokens: TokenCounts,
}

impl EpisodeStats {
    /// The stats of a trace: AIOpsLab's step count (assistant messages), and the tokens the
    /// agent reported for every step, else counted over the trace (see
    /// [`crate::tokens::token_counts`]).
    ///
    /// ```
    /// use aiopslab_core::session::{Role, TraceItem};
    /// use aiopslab_eval::EpisodeStats;
    /// let trace = [
    ///     TraceItem { role: Role::Assistant, content: "hello world".into() },
    ///     TraceItem { role: Role::Env, content: "hello".into() },
    /// ];
    /// let stats = EpisodeStats::new(&trace, &[], 12.5);
    /// assert_eq!((stats.steps, stats.tokens.in_tokens, stats.tokens.out_tokens), (1, 1, 2));
    /// ```
    pub fn new(trace: &[TraceItem], steps: &[StepRecord], duration: f64) -> Self {
        EpisodeStats {
            duration,
            steps: trace.iter().filter(|i| i.role == Role::Assistant).count(),
            tokens: token_counts(trace, steps),
        }
    }

    /// The stats of what the orchestrator hands to the environment for scoring.
    pub fn from_evaluation(input: &Evaluation<'_>) -> Self {
        EpisodeStats::new(input.trace, input.steps, input.duration)
    }
}

//! Token counting as AIOpsLab does it, and the choice between counted and reported usage.
//!
//! AIOpsLab counts tokens with tiktoken's encoding for `gpt-3.5-turbo`, which is
//! `cl100k_base`: `out_tokens` is the token count of all assistant messages of the trace
//! concatenated without a separator, `in_tokens` the same over every other message (in
//! practice the environment's observations). [`count_tokens`] reproduces those counts with
//! the vocabulary embedded in `tiktoken-rs`, so nothing is downloaded at run time.
//!
//! Special-token text such as `<|endoftext|>` is counted as ordinary text in both
//! directions. AIOpsLab does that for `out_tokens` only; for `in_tokens` tiktoken raises and
//! the whole evaluation fails (a bug we do not reproduce).
//!
//! When the agent reported its usage for every step, [`token_counts`] prefers that and says
//! so with [`TokenSource::Agent`].
//!
//! ```
//! use aiopslab_core::session::{Role, TraceItem};
//! use aiopslab_eval::tokens::{count_tokens, token_counts, TokenSource};
//!
//! assert_eq!(count_tokens("hello world"), 2);
//! let trace = [
//!     TraceItem { role: Role::Assistant, content: "hello".into() },
//!     TraceItem { role: Role::Env, content: "hello world".into() },
//!     TraceItem { role: Role::Assistant, content: " world".into() },
//! ];
//! let counts = token_counts(&trace, &[]);
//! assert_eq!((counts.in_tokens, counts.out_tokens), (2, 2));
//! assert_eq!(counts.source, TokenSource::Cl100k);
//! ```

use aiopslab_core::session::{Role, StepRecord, TraceItem};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The number of `cl100k_base` tokens in `text`, special-token text counted as plain text
/// (tiktoken's `encode(text, disallowed_special=())`). Never fails.
///
/// ```
/// use aiopslab_eval::tokens::count_tokens;
/// assert_eq!(count_tokens(""), 0);
/// assert_eq!(count_tokens("tiktoken is great!"), 6);
/// assert_eq!(count_tokens("<|endoftext|>"), 7);
/// ```
pub fn count_tokens(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(text)
        .len() as u64
}

/// Where token counts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TokenSource {
    /// The usage the agent reported for each call (prompt and completion tokens).
    #[serde(rename = "agent")]
    Agent,
    /// Counted over the trace with `cl100k_base`, as AIOpsLab counts.
    #[serde(rename = "cl100k_base")]
    Cl100k,
}

impl TokenSource {
    /// `agent` or `cl100k_base`: the value of the `token_source` result key.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenSource::Agent => "agent",
            TokenSource::Cl100k => "cl100k_base",
        }
    }
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Input and output tokens of an episode and where the numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCounts {
    /// Tokens going into the agent (`in_tokens`).
    pub in_tokens: u64,
    /// Tokens the agent produced (`out_tokens`).
    pub out_tokens: u64,
    /// Where they come from.
    pub source: TokenSource,
}

/// AIOpsLab's counts over a trace: `cl100k_base` tokens of the assistant messages
/// concatenated without separator (`out_tokens`) and of all other messages (`in_tokens`).
pub fn trace_tokens(trace: &[TraceItem]) -> TokenCounts {
    let joined = |assistant: bool| -> String {
        trace
            .iter()
            .filter(|item| (item.role == Role::Assistant) == assistant)
            .map(|item| item.content.as_str())
            .collect()
    };
    TokenCounts {
        in_tokens: count_tokens(&joined(false)),
        out_tokens: count_tokens(&joined(true)),
        source: TokenSource::Cl100k,
    }
}

/// The usage the agent reported, summed over the steps, when every step reported both
/// input and output tokens; `None` when there are no steps or any step lacks a number
/// (a partial sum would understate the usage).
pub fn reported_tokens(steps: &[StepRecord]) -> Option<TokenCounts> {
    if steps.is_empty() {
        return None;
    }
    let mut in_tokens = 0u64;
    let mut out_tokens = 0u64;
    for step in steps {
        in_tokens = in_tokens.saturating_add(step.in_tokens?);
        out_tokens = out_tokens.saturating_add(step.out_tokens?);
    }
    Some(TokenCounts {
        in_tokens,
        out_tokens,
        source: TokenSource::Agent,
    })
}

/// The token counts of an episode: the agent's own report when complete
/// ([`reported_tokens`]), else AIOpsLab's count over the trace ([`trace_tokens`]).
pub fn token_counts(trace: &[TraceItem], steps: &[StepRecord]) -> TokenCounts {
    reported_tokens(steps).unwrap_or_else(|| trace_tokens(trace))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(i: usize, input: Option<u64>, output: Option<u64>) -> StepRecord {
        StepRecord {
            step: i,
            wall_time: 1.0,
            agent_time: 0.5,
            action: None,
            in_tokens: input,
            out_tokens: output,
        }
    }

    #[test]
    fn known_cl100k_counts() {
        assert_eq!(count_tokens("hello world"), 2);
        assert_eq!(count_tokens("Hello, world!"), 4);
        assert_eq!(count_tokens("tiktoken is great!"), 6);
        assert_eq!(count_tokens(" "), 1);
    }

    #[test]
    fn special_token_text_is_plain_text() {
        for special in [
            "<|endoftext|>",
            "<|fim_prefix|>",
            "<|fim_middle|>",
            "<|fim_suffix|>",
            "<|endofprompt|>",
        ] {
            let n = count_tokens(special);
            assert!(n > 1, "{special} counted as {n} tokens");
        }
        assert_eq!(count_tokens("<|endoftext|>"), 7);
    }

    #[test]
    fn concatenation_has_no_separator() {
        // "hello" + " world" is "hello world" (2 tokens), not two messages of 1 + 1 with
        // a separator token between them.
        let trace = [
            TraceItem {
                role: Role::Env,
                content: "hel".into(),
            },
            TraceItem {
                role: Role::Env,
                content: "lo".into(),
            },
        ];
        assert_eq!(trace_tokens(&trace).in_tokens, 1);
        assert_eq!(trace_tokens(&trace).out_tokens, 0);
        assert_eq!(trace_tokens(&[]).in_tokens, 0);
    }

    #[test]
    fn reported_usage_is_used_only_when_complete() {
        let full = [step(1, Some(100), Some(7)), step(2, Some(150), Some(3))];
        assert_eq!(
            reported_tokens(&full),
            Some(TokenCounts {
                in_tokens: 250,
                out_tokens: 10,
                source: TokenSource::Agent
            })
        );
        let partial = [step(1, Some(100), Some(7)), step(2, None, None)];
        assert_eq!(reported_tokens(&partial), None);
        let half = [step(1, Some(100), None)];
        assert_eq!(reported_tokens(&half), None);
        assert_eq!(reported_tokens(&[]), None);

        let trace = [TraceItem {
            role: Role::Assistant,
            content: "hello world".into(),
        }];
        assert_eq!(token_counts(&trace, &partial).source, TokenSource::Cl100k);
        assert_eq!(token_counts(&trace, &partial).out_tokens, 2);
        assert_eq!(token_counts(&trace, &full).source, TokenSource::Agent);
    }

    #[test]
    fn source_names() {
        assert_eq!(TokenSource::Agent.to_string(), "agent");
        assert_eq!(
            serde_json::to_value(TokenSource::Cl100k).unwrap(),
            serde_json::json!("cl100k_base")
        );
    }
}

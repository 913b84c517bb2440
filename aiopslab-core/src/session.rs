//! The session record of one episode and its JSON file.
//!
//! The first seven keys are AIOpsLab's, in its order: `agent`, `session_id`, `problem_id`,
//! `start_time`, `end_time` (epoch seconds as floats), `trace` (assistant and env messages)
//! and `results`. After them come what AIOpsLab does not record: `seed`, `tool_versions`,
//! `problem_hash`, per-step timing and token usage (`steps`), the `solution`, and why the
//! episode ended (`end_reason`, `end_detail`, `teardown_error`). Files written by AIOpsLab
//! load too; the missing keys take their defaults.
//!
//! ```
//! use aiopslab_core::session::{Role, Session};
//! let mut s = Session::new("my-agent", "misconfig_app_hotel_res-detection-1");
//! s.start();
//! s.add(Role::Assistant, "```\nsubmit(\"Yes\")\n```");
//! s.add(Role::Env, "1");
//! s.end();
//! let text = s.to_json_string();
//! assert!(text.starts_with("{\n    \"agent\": \"my-agent\",\n    \"session_id\": "));
//! assert_eq!(Session::from_json_str(&text).unwrap(), s);
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::Error;

/// Who wrote a trace message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The agent's response.
    Assistant,
    /// The environment's observation (or a parse / action error).
    Env,
}

/// One message of the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceItem {
    /// Who wrote it.
    pub role: Role,
    /// The text.
    pub content: String,
}

/// Tokens one agent call used, as the agent reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Prompt (input) tokens.
    pub input_tokens: u64,
    /// Completion (output) tokens.
    pub output_tokens: u64,
}

/// Timing and usage of one step (agent call plus action).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The step number, from 1.
    pub step: usize,
    /// Wall time of the whole step in seconds (agent call, parsing and the action).
    pub wall_time: f64,
    /// Wall time of the agent call alone, in seconds.
    pub agent_time: f64,
    /// The action the step called, if the response parsed (e.g. `exec_shell`).
    pub action: Option<String>,
    /// Input tokens of the agent call, if the agent reported them.
    pub in_tokens: Option<u64>,
    /// Output tokens of the agent call, if the agent reported them.
    pub out_tokens: Option<u64>,
}

/// Why an episode ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The agent made a valid `submit`.
    Submitted,
    /// The step limit was reached without a valid submission.
    StepLimit,
    /// The agent returned an error.
    AgentError,
    /// The agent panicked.
    AgentPanic,
    /// The environment failed (setup, an action, or evaluation).
    EnvironmentError,
    /// The run was interrupted (Ctrl-C).
    Interrupted,
}

impl EndReason {
    /// The snake_case name, as written in session files.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Submitted => "submitted",
            EndReason::StepLimit => "step_limit",
            EndReason::AgentError => "agent_error",
            EndReason::AgentPanic => "agent_panic",
            EndReason::EnvironmentError => "environment_error",
            EndReason::Interrupted => "interrupted",
        }
    }

    /// Whether the episode ran to a scored end (submitted or out of steps).
    pub fn is_scored(self) -> bool {
        matches!(self, EndReason::Submitted | EndReason::StepLimit)
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The versions of the tools that produced a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolVersions {
    /// The version of AIOpsLab-rs (this crate's version).
    #[serde(rename = "aiopslab-rs")]
    pub aiopslab_rs: String,
    /// Anything else worth recording (`kubectl`, the cluster, the model, ...).
    #[serde(flatten)]
    pub other: BTreeMap<String, String>,
}

impl Default for ToolVersions {
    fn default() -> Self {
        ToolVersions {
            aiopslab_rs: env!("CARGO_PKG_VERSION").to_string(),
            other: BTreeMap::new(),
        }
    }
}

/// The record of one episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The agent's name.
    #[serde(default)]
    pub agent: String,
    /// A random (v4) id.
    pub session_id: Uuid,
    /// The problem id.
    #[serde(default)]
    pub problem_id: String,
    /// When the agent loop started, in seconds since the Unix epoch.
    pub start_time: f64,
    /// When it ended; `None` while running.
    pub end_time: Option<f64>,
    /// The agent's responses and the observations, in order.
    #[serde(default)]
    pub trace: Vec<TraceItem>,
    /// The evaluation results, in the evaluator's key order.
    #[serde(default)]
    pub results: Map<String, Value>,
    /// The seed that drove the environment, if it has one.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Versions of the tools that produced the session.
    #[serde(default)]
    pub tool_versions: ToolVersions,
    /// SHA-256 (hex) of the problem definition, see [`hash_definition`].
    #[serde(default)]
    pub problem_hash: Option<String>,
    /// Per-step timing and token usage.
    #[serde(default)]
    pub steps: Vec<StepRecord>,
    /// The captured solution (`null` if the agent never submitted).
    #[serde(default)]
    pub solution: Value,
    /// Why the episode ended; `None` while running.
    #[serde(default)]
    pub end_reason: Option<EndReason>,
    /// The error or signal behind `end_reason`, if any.
    #[serde(default)]
    pub end_detail: Option<String>,
    /// The error recovering the fault or cleaning up, if teardown failed.
    #[serde(default)]
    pub teardown_error: Option<String>,
}

/// Seconds since the Unix epoch, as a float (Python's `time.time()`).
pub fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The SHA-256 (lower-case hex) of a definition's compact JSON form; the same definition
/// always gives the same hash.
///
/// ```
/// let h = aiopslab_core::session::hash_definition(&serde_json::json!({"id": "p", "fault": "x"}));
/// assert_eq!(h.len(), 64);
/// ```
pub fn hash_definition<T: Serialize + ?Sized>(definition: &T) -> String {
    let bytes = serde_json::to_vec(definition).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// Formats a float the way Python's `str(float)` does for epoch times (`1719000000.5`,
/// `1719000000.0`).
fn python_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

impl Session {
    /// A new session with a fresh id, not started yet.
    pub fn new(agent: impl Into<String>, problem_id: impl Into<String>) -> Self {
        Session {
            agent: agent.into(),
            session_id: Uuid::new_v4(),
            problem_id: problem_id.into(),
            start_time: 0.0,
            end_time: None,
            trace: Vec::new(),
            results: Map::new(),
            seed: None,
            tool_versions: ToolVersions::default(),
            problem_hash: None,
            steps: Vec::new(),
            solution: Value::Null,
            end_reason: None,
            end_detail: None,
            teardown_error: None,
        }
    }

    /// Marks the start of the agent loop (now).
    pub fn start(&mut self) {
        self.start_time = epoch_now();
    }

    /// Marks the end of the agent loop (now).
    pub fn end(&mut self) {
        self.end_time = Some(epoch_now());
    }

    /// Appends a trace message.
    pub fn add(&mut self, role: Role, content: impl Into<String>) {
        self.trace.push(TraceItem {
            role,
            content: content.into(),
        });
    }

    /// Seconds between start and end (0 if not ended).
    pub fn duration(&self) -> f64 {
        self.end_time
            .map_or(0.0, |end| (end - self.start_time).max(0.0))
    }

    /// The number of agent responses in the trace (AIOpsLab's `steps`).
    pub fn assistant_steps(&self) -> usize {
        self.trace
            .iter()
            .filter(|t| t.role == Role::Assistant)
            .count()
    }

    /// The file name AIOpsLab uses: `<session_id>_<start_time>.json`.
    pub fn file_name(&self) -> String {
        format!("{}_{}.json", self.session_id, python_float(self.start_time))
    }

    /// The session as JSON with 4-space indentation.
    pub fn to_json_string(&self) -> String {
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        // Serializing plain data into memory cannot fail.
        if self.serialize(&mut ser).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// Parses a session from JSON text.
    pub fn from_json_str(text: &str) -> Result<Session, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Writes the session to `dir/<file_name>` (creating `dir`) and returns the path.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::SessionWrite {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(self.file_name());
        std::fs::write(&path, self.to_json_string()).map_err(|source| Error::SessionWrite {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Reads a session file.
    pub fn load(path: &Path) -> Result<Session, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::SessionRead {
            path: path.to_path_buf(),
            source,
        })?;
        Session::from_json_str(&text).map_err(|source| Error::SessionFormat {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Session {
        let mut s = Session::new("scripted", "k8s_target_port-misconfig-detection-1");
        s.start_time = 1_719_000_000.123_456;
        s.end_time = Some(1_719_000_041.5);
        s.add(
            Role::Assistant,
            "```\nexec_shell(\"kubectl get pods\")\n```",
        );
        s.add(Role::Env, "NAME READY\nfrontend 1/1 — ok");
        s.results
            .insert("Detection Accuracy".into(), json!("Correct"));
        s.results.insert("TTD".into(), json!(41.376_544));
        s.results.insert("steps".into(), json!(1));
        s.seed = Some(7);
        s.tool_versions
            .other
            .insert("kubectl".into(), "v1.32.4".into());
        s.problem_hash = Some(hash_definition(&json!({"id": "x"})));
        s.steps.push(StepRecord {
            step: 1,
            wall_time: 0.25,
            agent_time: 0.2,
            action: Some("exec_shell".into()),
            in_tokens: Some(120),
            out_tokens: None,
        });
        s.solution = json!(["geo", "rate"]);
        s.end_reason = Some(EndReason::Submitted);
        s
    }

    #[test]
    fn keys_follow_aiopslab_then_extras() {
        let v: Value = serde_json::from_str(&sample().to_json_string()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "agent",
                "session_id",
                "problem_id",
                "start_time",
                "end_time",
                "trace",
                "results",
                "seed",
                "tool_versions",
                "problem_hash",
                "steps",
                "solution",
                "end_reason",
                "end_detail",
                "teardown_error"
            ]
        );
        assert_eq!(
            v["trace"][0],
            json!({"role": "assistant", "content": "```\nexec_shell(\"kubectl get pods\")\n```"})
        );
        assert_eq!(
            v["tool_versions"],
            json!({"aiopslab-rs": env!("CARGO_PKG_VERSION"), "kubectl": "v1.32.4"})
        );
        assert_eq!(v["start_time"], json!(1_719_000_000.123_456));
        assert_eq!(v["end_reason"], json!("submitted"));
        let result_keys: Vec<&str> = v["results"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(result_keys, ["Detection Accuracy", "TTD", "steps"]);
    }

    #[test]
    fn indent_is_four_spaces() {
        let text = sample().to_json_string();
        assert!(text.starts_with("{\n    \"agent\": \"scripted\",\n"));
        assert!(text.contains("\n        {\n            \"role\": \"assistant\","));
    }

    #[test]
    fn file_name_matches_aiopslab() {
        let mut s = sample();
        assert_eq!(
            s.file_name(),
            format!("{}_1719000000.123456.json", s.session_id)
        );
        s.start_time = 1_719_000_000.0;
        assert_eq!(s.file_name(), format!("{}_1719000000.0.json", s.session_id));
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = sample();
        let path = s.save(&dir.path().join("results")).unwrap();
        assert_eq!(path.file_name().unwrap().to_str().unwrap(), s.file_name());
        let back = Session::load(&path).unwrap();
        assert_eq!(back, s);
        assert!((back.duration() - 41.376_544).abs() < 1e-6);
    }

    #[test]
    fn loads_aiopslab_files_without_the_extra_keys() {
        let text = r#"{
            "agent": "gpt-4", "session_id": "3b0e5c1e-0d52-4b8a-9a39-2d0c1b1f6a77",
            "problem_id": "noop_detection_hotel_reservation-1",
            "start_time": 1719000000.5, "end_time": 1719000010.25,
            "trace": [{"role": "assistant", "content": "x"}, {"role": "env", "content": "1"}],
            "results": {"Detection Accuracy": "Correct", "TTD": 9.75, "steps": 1}
        }"#;
        let s = Session::from_json_str(text).unwrap();
        assert_eq!(s.assistant_steps(), 1);
        assert_eq!(s.solution, Value::Null);
        assert_eq!(s.end_reason, None);
        assert_eq!(s.tool_versions, ToolVersions::default());
    }

    #[test]
    fn load_reports_missing_and_malformed_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json");
        assert!(matches!(
            Session::load(&missing),
            Err(Error::SessionRead { .. })
        ));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"agent\": 1}").unwrap();
        let err = Session::load(&bad).unwrap_err();
        assert!(matches!(err, Error::SessionFormat { .. }));
        assert!(err.to_string().contains("is not a valid session file"));
    }

    #[test]
    fn hash_is_stable_and_sensitive() {
        let a = hash_definition(&json!({"id": "p", "n": 1}));
        assert_eq!(a, hash_definition(&json!({"id": "p", "n": 1})));
        assert_ne!(a, hash_definition(&json!({"id": "p", "n": 2})));
    }

    #[test]
    fn steps_and_duration() {
        let mut s = Session::new("a", "p");
        assert_eq!(s.duration(), 0.0);
        s.start();
        s.add(Role::Assistant, "a");
        s.add(Role::Env, "b");
        s.add(Role::Assistant, "c");
        s.end();
        assert_eq!(s.assistant_steps(), 2);
        assert!(s.duration() >= 0.0);
    }
}

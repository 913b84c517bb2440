//! Aggregating result maps for reports: accuracy per task, mean time, steps and tokens.
//!
//! Works on the result maps written by [`crate::score`] and on AIOpsLab's own session files
//! (the same keys). A result counts as a success when its `Detection Accuracy` is `Correct`
//! (detection) or its `success` is `true` (other tasks); a missing key counts as a failure.
//! Means skip results that lack the key.
//!
//! ```
//! use aiopslab_core::task::TaskKind;
//! use aiopslab_eval::aggregate::summarize;
//! use serde_json::json;
//!
//! let a = json!({"Detection Accuracy": "Correct", "TTD": 10.0, "steps": 2, "in_tokens": 100, "out_tokens": 10});
//! let b = json!({"Detection Accuracy": "Incorrect", "TTD": 30.0, "steps": 4, "in_tokens": 300, "out_tokens": 30});
//! let summary = summarize([(TaskKind::Detection, a.as_object().unwrap()), (TaskKind::Detection, b.as_object().unwrap())]);
//! let detection = summary.task(TaskKind::Detection).unwrap();
//! assert_eq!(detection.accuracy, 50.0);
//! assert_eq!(detection.mean_time, Some(20.0));
//! assert_eq!(detection.mean_steps, Some(3.0));
//! assert_eq!(summary.overall.episodes, 2);
//! ```

use crate::score::keys;
use aiopslab_core::task::TaskKind;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Counts and means over a set of results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Results counted.
    pub episodes: usize,
    /// Successful results.
    pub successes: usize,
    /// `successes / episodes` in percent (`0.0` when there are none).
    pub accuracy: f64,
    /// Mean `Localization Accuracy` of localization results, if any.
    pub mean_localization_accuracy: Option<f64>,
    /// Mean time to detect / localize / analyse / mitigate, in seconds.
    pub mean_time: Option<f64>,
    /// Mean `steps`.
    pub mean_steps: Option<f64>,
    /// Mean `in_tokens`.
    pub mean_in_tokens: Option<f64>,
    /// Mean `out_tokens`.
    pub mean_out_tokens: Option<f64>,
}

/// Per-task tallies (in AIOpsLab's task order, only tasks that occur) and the overall one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// One tally per task kind that has results.
    pub per_task: Vec<(TaskKind, Tally)>,
    /// All results together.
    pub overall: Tally,
}

impl Summary {
    /// The tally of one task kind, if it has results.
    pub fn task(&self, task: TaskKind) -> Option<&Tally> {
        self.per_task
            .iter()
            .find(|(t, _)| *t == task)
            .map(|(_, s)| s)
    }
}

/// The task a result map belongs to, read from its time key (`TTD`, `TTL`, `TTA`, `TTM`).
///
/// ```
/// use aiopslab_eval::aggregate::task_of;
/// use aiopslab_core::task::TaskKind;
/// let r = serde_json::json!({"TTM": 1.0, "success": true});
/// assert_eq!(task_of(r.as_object().unwrap()), Some(TaskKind::Mitigation));
/// ```
pub fn task_of(results: &Map<String, Value>) -> Option<TaskKind> {
    TaskKind::ALL
        .into_iter()
        .find(|t| results.contains_key(t.time_key()))
}

/// Whether a result map records a success for `task`.
pub fn is_success(task: TaskKind, results: &Map<String, Value>) -> bool {
    match task {
        TaskKind::Detection => {
            results
                .get(keys::DETECTION_ACCURACY)
                .and_then(Value::as_str)
                == Some("Correct")
        }
        _ => results.get(keys::SUCCESS).and_then(Value::as_bool) == Some(true),
    }
}

/// A running mean that skips missing values.
#[derive(Default)]
struct Mean {
    sum: f64,
    n: usize,
}

impl Mean {
    fn add(&mut self, v: Option<f64>) {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            self.sum += v;
            self.n += 1;
        }
    }

    fn get(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

#[derive(Default)]
struct Acc {
    episodes: usize,
    successes: usize,
    loc: Mean,
    time: Mean,
    steps: Mean,
    input: Mean,
    output: Mean,
}

impl Acc {
    fn add(&mut self, task: TaskKind, r: &Map<String, Value>) {
        let num = |k: &str| r.get(k).and_then(Value::as_f64);
        self.episodes += 1;
        if is_success(task, r) {
            self.successes += 1;
        }
        if task == TaskKind::Localization {
            self.loc.add(num(keys::LOCALIZATION_ACCURACY));
        }
        self.time.add(num(task.time_key()));
        self.steps.add(num(keys::STEPS));
        self.input.add(num(keys::IN_TOKENS));
        self.output.add(num(keys::OUT_TOKENS));
    }

    fn tally(&self) -> Tally {
        Tally {
            episodes: self.episodes,
            successes: self.successes,
            accuracy: if self.episodes == 0 {
                0.0
            } else {
                self.successes as f64 / self.episodes as f64 * 100.0
            },
            mean_localization_accuracy: self.loc.get(),
            mean_time: self.time.get(),
            mean_steps: self.steps.get(),
            mean_in_tokens: self.input.get(),
            mean_out_tokens: self.output.get(),
        }
    }
}

/// Tallies results given with their task kinds.
pub fn summarize<'a>(
    results: impl IntoIterator<Item = (TaskKind, &'a Map<String, Value>)>,
) -> Summary {
    let mut per: Vec<(TaskKind, Acc)> = TaskKind::ALL
        .into_iter()
        .map(|t| (t, Acc::default()))
        .collect();
    let mut overall = Acc::default();
    for (task, r) in results {
        if let Some((_, acc)) = per.iter_mut().find(|(t, _)| *t == task) {
            acc.add(task, r);
        }
        overall.add(task, r);
    }
    Summary {
        per_task: per
            .into_iter()
            .filter(|(_, a)| a.episodes > 0)
            .map(|(t, a)| (t, a.tally()))
            .collect(),
        overall: overall.tally(),
    }
}

/// Tallies result maps whose task is read from their time key ([`task_of`]); maps without
/// one are skipped and counted in the second value.
pub fn summarize_untyped<'a>(
    results: impl IntoIterator<Item = &'a Map<String, Value>>,
) -> (Summary, usize) {
    let mut skipped = 0;
    let typed: Vec<(TaskKind, &Map<String, Value>)> = results
        .into_iter()
        .filter_map(|r| match task_of(r) {
            Some(t) => Some((t, r)),
            None => {
                skipped += 1;
                None
            }
        })
        .collect();
    (summarize(typed), skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn per_task_accuracy_and_means() {
        let results = [
            obj(
                json!({"Localization Accuracy": 100.0, "TTL": 10.0, "steps": 2, "in_tokens": 10, "out_tokens": 1, "success": true, "is_subset": true}),
            ),
            obj(
                json!({"Localization Accuracy": 50.0, "TTL": 20.0, "steps": 4, "in_tokens": 30, "out_tokens": 3, "success": false, "is_subset": true}),
            ),
            obj(
                json!({"Localization Accuracy": 0.0, "success": false, "is_subset": false, "TTL": 30.0, "steps": 6, "in_tokens": 50, "out_tokens": 5}),
            ),
            obj(json!({"TTM": 100.0, "steps": 10, "success": true})),
            obj(
                json!({"system_level_correct": true, "fault_type_correct": false, "success": false, "TTA": 5.0, "steps": 1}),
            ),
        ];
        let (summary, skipped) = summarize_untyped(results.iter());
        assert_eq!(skipped, 0);
        let order: Vec<TaskKind> = summary.per_task.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            order,
            [
                TaskKind::Localization,
                TaskKind::Analysis,
                TaskKind::Mitigation
            ]
        );
        let loc = summary.task(TaskKind::Localization).unwrap();
        assert_eq!(loc.episodes, 3);
        assert_eq!(loc.successes, 1);
        assert!((loc.accuracy - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(loc.mean_localization_accuracy, Some(50.0));
        assert_eq!(loc.mean_time, Some(20.0));
        assert_eq!(loc.mean_steps, Some(4.0));
        assert_eq!(loc.mean_in_tokens, Some(30.0));
        let mit = summary.task(TaskKind::Mitigation).unwrap();
        assert_eq!((mit.episodes, mit.successes, mit.accuracy), (1, 1, 100.0));
        assert_eq!(mit.mean_in_tokens, None, "missing keys are skipped");
        assert_eq!(mit.mean_localization_accuracy, None);
        assert_eq!(summary.overall.episodes, 5);
        assert_eq!(summary.overall.successes, 2);
        assert_eq!(summary.overall.mean_steps, Some(23.0 / 5.0));
        assert!(summary.task(TaskKind::Detection).is_none());
    }

    #[test]
    fn missing_success_counts_as_failure_and_untyped_maps_are_skipped() {
        let results = [obj(json!({"TTD": 1.0})), obj(json!({"steps": 3}))];
        let (summary, skipped) = summarize_untyped(results.iter());
        assert_eq!(skipped, 1);
        let d = summary.task(TaskKind::Detection).unwrap();
        assert_eq!((d.episodes, d.successes, d.accuracy), (1, 0, 0.0));
    }

    #[test]
    fn empty_input() {
        let summary = summarize(std::iter::empty());
        assert!(summary.per_task.is_empty());
        assert_eq!(summary.overall.accuracy, 0.0);
        assert_eq!(summary.overall.mean_time, None);
    }
}

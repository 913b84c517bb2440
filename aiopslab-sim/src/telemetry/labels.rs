//! Label sets of metric series and the matchers that select them.
//!
//! A [`Labels`] value is always sorted by label name, has no duplicate names and no empty values
//! (an empty value means "absent" in Prometheus). Cloning is cheap (shared storage), which keeps
//! PromQL evaluation over many steps fast.

use regex::Regex;
use std::fmt;
use std::sync::Arc;

/// The label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label: a name and a non-empty value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// The label name, e.g. `pod`.
    pub name: String,
    /// The label value, e.g. `geo-84fbc958c7-lxb9r`.
    pub value: String,
}

/// A sorted, duplicate-free set of labels.
///
/// ```
/// use aiopslab_sim::telemetry::Labels;
/// let l = Labels::new([("pod", "geo-1"), ("__name__", "up"), ("empty", "")]);
/// assert_eq!(l.to_string(), r#"{__name__="up", pod="geo-1"}"#);
/// assert_eq!(l.metric_name(), Some("up"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Labels(Arc<[Label]>);

impl Labels {
    /// Builds a label set; later duplicates of a name win and empty values are dropped.
    pub fn new<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut v: Vec<Label> = Vec::new();
        for (k, val) in pairs {
            let name = k.into();
            let value = val.into();
            v.retain(|l| l.name != name);
            if !value.is_empty() {
                v.push(Label { name, value });
            }
        }
        Self::from_vec(v)
    }

    /// Builds a label set from labels that may be unsorted (no de-duplication beyond sorting).
    fn from_vec(mut v: Vec<Label>) -> Self {
        v.sort();
        v.dedup_by(|a, b| a.name == b.name);
        Labels(v.into())
    }

    /// The empty label set.
    pub fn empty() -> Self {
        Labels::default()
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// The labels in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter()
    }

    /// The number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set has no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A copy with `name` set to `value` (removed when `value` is empty).
    pub fn with(&self, name: &str, value: &str) -> Self {
        let mut v: Vec<Label> = self.0.iter().filter(|l| l.name != name).cloned().collect();
        if !value.is_empty() {
            v.push(Label {
                name: name.to_string(),
                value: value.to_string(),
            });
        }
        Self::from_vec(v)
    }

    /// A copy without the metric name; returns `self` unchanged (no copy) when it has none.
    pub fn without_metric_name(&self) -> Self {
        if self.metric_name().is_none() {
            return self.clone();
        }
        self.without(&[METRIC_NAME])
    }

    /// A copy without the given labels.
    pub fn without<S: AsRef<str>>(&self, names: &[S]) -> Self {
        let v: Vec<Label> = self
            .0
            .iter()
            .filter(|l| !names.iter().any(|n| n.as_ref() == l.name))
            .cloned()
            .collect();
        Labels(v.into())
    }

    /// A copy with only the given labels.
    pub fn keep<S: AsRef<str>>(&self, names: &[S]) -> Self {
        let v: Vec<Label> = self
            .0
            .iter()
            .filter(|l| names.iter().any(|n| n.as_ref() == l.name))
            .cloned()
            .collect();
        Labels(v.into())
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Labels {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        Labels::new(iter)
    }
}

/// How a [`LabelMatcher`] compares a label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (fully anchored regular expression)
    Regex,
    /// `!~` (fully anchored regular expression)
    NotRegex,
}

/// One label matcher of a series selector; a missing label matches as the empty string.
///
/// ```
/// use aiopslab_sim::telemetry::{LabelMatcher, Labels, MatchKind};
/// let m = LabelMatcher::new("pod", MatchKind::Regex, "geo-.*").unwrap();
/// assert!(m.matches(&Labels::new([("pod", "geo-1")])));
/// assert!(!m.matches(&Labels::new([("pod", "xgeo-1")])));
/// ```
#[derive(Debug, Clone)]
pub struct LabelMatcher {
    /// The label name.
    pub name: String,
    /// The comparison.
    pub kind: MatchKind,
    /// The value or pattern as written.
    pub value: String,
    regex: Option<Regex>,
}

impl LabelMatcher {
    /// Builds a matcher; regular expressions are anchored at both ends, as in PromQL.
    pub fn new(name: &str, kind: MatchKind, value: &str) -> Result<Self, String> {
        let regex = match kind {
            MatchKind::Regex | MatchKind::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("invalid regular expression {value:?}: {e}"))?,
            ),
            _ => None,
        };
        Ok(LabelMatcher {
            name: name.to_string(),
            kind,
            value: value.to_string(),
            regex,
        })
    }

    /// A matcher from an already compiled, anchored regular expression.
    pub fn with_regex(name: &str, negate: bool, value: &str, regex: Regex) -> Self {
        LabelMatcher {
            name: name.to_string(),
            kind: if negate {
                MatchKind::NotRegex
            } else {
                MatchKind::Regex
            },
            value: value.to_string(),
            regex: Some(regex),
        }
    }

    /// `name="value"`.
    pub fn equal(name: &str, value: &str) -> Self {
        LabelMatcher {
            name: name.to_string(),
            kind: MatchKind::Equal,
            value: value.to_string(),
            regex: None,
        }
    }

    /// Whether a label value (empty when absent) satisfies the matcher.
    pub fn matches_value(&self, v: &str) -> bool {
        match self.kind {
            MatchKind::Equal => self.value == v,
            MatchKind::NotEqual => self.value != v,
            MatchKind::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(v)),
            MatchKind::NotRegex => !self.regex.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// Whether a label set satisfies the matcher.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.name).unwrap_or(""))
    }
}

/// Whether a label set satisfies every matcher.
pub fn matches_all(matchers: &[LabelMatcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

/// Whether `name` is a valid Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

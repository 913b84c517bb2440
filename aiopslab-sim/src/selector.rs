//! Label and field selectors, as the API server evaluates them.
//!
//! [`LabelSelector`] is built either from the query-string form (`app=geo,tier!=db,env in (a,b)`)
//! or from a `metav1.LabelSelector` object (`matchLabels` / `matchExpressions`) as found in
//! Deployments and Services. [`FieldSelector`] supports the fields the real server supports for
//! each kind and refuses the others with the real server's message.

use serde_json::{Map, Value};

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` / `key==value` / `key in (v1,v2)`.
    In(String, Vec<String>),
    /// `key!=value` / `key notin (v1,v2)`.
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
}

impl Requirement {
    fn matches(&self, labels: &Map<String, Value>) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        match self {
            Requirement::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        }
    }
}

/// A conjunction of label requirements. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    /// A selector object with neither field set selects nothing when `match_nothing` is set
    /// (a nil selector in a Service means "no pods").
    match_nothing: bool,
}

impl LabelSelector {
    /// Parses the query-string form used by `?labelSelector=` and `kubectl -l`.
    ///
    /// ```
    /// use aiopslab_sim::selector::LabelSelector;
    /// use serde_json::json;
    /// let sel = LabelSelector::parse("app=geo,tier notin (db),!canary").unwrap();
    /// let labels = json!({"app": "geo", "tier": "api"});
    /// assert!(sel.matches(labels.as_object().unwrap()));
    /// assert!(LabelSelector::parse("app in (a").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(LabelSelector {
            requirements,
            match_nothing: false,
        })
    }

    /// Builds a selector from a `metav1.LabelSelector` JSON object.
    ///
    /// An absent (null) selector matches nothing; an empty object matches everything.
    pub fn from_object(selector: Option<&Value>) -> Result<Self, String> {
        let Some(sel) = selector.filter(|v| !v.is_null()) else {
            return Ok(LabelSelector {
                requirements: vec![],
                match_nothing: true,
            });
        };
        let mut requirements = Vec::new();
        if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in ml {
                let v = v.as_str().unwrap_or_default().to_string();
                requirements.push(Requirement::In(k.clone(), vec![v]));
            }
        }
        if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let values: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                let op = e
                    .get("operator")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                requirements.push(match op {
                    "In" => Requirement::In(key, values),
                    "NotIn" => Requirement::NotIn(key, values),
                    "Exists" => Requirement::Exists(key),
                    "DoesNotExist" => Requirement::DoesNotExist(key),
                    other => {
                        return Err(format!("{other:?} is not a valid label selector operator"));
                    }
                });
            }
        }
        Ok(LabelSelector {
            requirements,
            match_nothing: false,
        })
    }

    /// Builds an equality selector from a plain label map (a Service's `spec.selector`).
    /// An absent or empty map matches nothing, as for Services.
    pub fn from_map(map: Option<&Value>) -> Self {
        match map.and_then(Value::as_object).filter(|m| !m.is_empty()) {
            Some(m) => LabelSelector {
                requirements: m
                    .iter()
                    .map(|(k, v)| {
                        Requirement::In(k.clone(), vec![v.as_str().unwrap_or_default().into()])
                    })
                    .collect(),
                match_nothing: false,
            },
            None => LabelSelector {
                requirements: vec![],
                match_nothing: true,
            },
        }
    }

    /// Whether the selector places no constraint.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty() && !self.match_nothing
    }

    /// Whether a label map satisfies every requirement.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        !self.match_nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether an object's `metadata.labels` satisfy the selector.
    pub fn matches_object(&self, obj: &Value) -> bool {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        let labels = obj
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .unwrap_or_else(|| EMPTY.get_or_init(Map::new));
        self.matches(labels)
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    let bad = |why: &str| format!("unable to parse requirement: {why}: {part:?}");
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(
            valid_key(key.trim()).map_err(|e| bad(&e))?,
        ));
    }
    for (op, negate) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((k, v)) = part.split_once(op) {
            let key = valid_key(k.trim()).map_err(|e| bad(&e))?;
            let value = v.trim().to_string();
            return Ok(if negate {
                Requirement::NotIn(key, vec![value])
            } else {
                Requirement::In(key, vec![value])
            });
        }
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if words.len() == 2 {
        let key = valid_key(words[0]).map_err(|e| bad(&e))?;
        let rest = words[1].trim();
        let (negate, list) = if let Some(l) = rest.strip_prefix("notin") {
            (true, l)
        } else if let Some(l) = rest.strip_prefix("in") {
            (false, l)
        } else {
            return Err(bad(
                "found unknown operator, expected one of in, notin, =, ==, !=",
            ));
        };
        let list = list.trim();
        let inner = list
            .strip_prefix('(')
            .and_then(|l| l.strip_suffix(')'))
            .ok_or_else(|| bad("found no closing parenthesis in set"))?;
        let values = inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        return Ok(if negate {
            Requirement::NotIn(key, values)
        } else {
            Requirement::In(key, values)
        });
    }
    Ok(Requirement::Exists(valid_key(part).map_err(|e| bad(&e))?))
}

fn valid_key(key: &str) -> Result<String, String> {
    let ok = !key.is_empty()
        && key.len() <= 317
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(key.to_string())
    } else {
        Err(format!("invalid label key {key:?}"))
    }
}

/// One field requirement: `path=value` or `path!=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldRequirement {
    field: String,
    value: String,
    negate: bool,
}

/// A conjunction of field requirements (`?fieldSelector=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

/// Fields every kind supports.
const COMMON_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

/// Extra fields the real API server supports, per (group, plural).
fn extra_fields(group: &str, plural: &str) -> &'static [&'static str] {
    match (group, plural) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "events") | ("events.k8s.io", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "secrets") => &["type"],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "namespaces") => &["status.phase"],
        ("", "replicationcontrollers") => &["status.replicas"],
        ("apps", "replicasets") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses `?fieldSelector=` for objects of `group`/`plural`, refusing unsupported fields
    /// with the real server's wording.
    ///
    /// ```
    /// use aiopslab_sim::selector::FieldSelector;
    /// use serde_json::json;
    /// let sel = FieldSelector::parse("status.phase!=Running,metadata.name=geo-1", "", "pods").unwrap();
    /// assert!(sel.matches(&json!({"metadata": {"name": "geo-1"}, "status": {"phase": "Pending"}})));
    /// assert_eq!(
    ///     FieldSelector::parse("spec.foo=1", "", "pods").unwrap_err(),
    ///     "field label not supported: spec.foo"
    /// );
    /// ```
    pub fn parse(text: &str, group: &str, plural: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, value, negate) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, false)
            } else {
                return Err(format!(
                    "invalid selector: '{text}'; can't understand '{part}'"
                ));
            };
            let field = field.trim();
            let supported =
                COMMON_FIELDS.contains(&field) || extra_fields(group, plural).contains(&field);
            if !supported {
                return Err(format!("field label not supported: {field}"));
            }
            requirements.push(FieldRequirement {
                field: field.to_string(),
                value: value.trim().to_string(),
                negate,
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// Whether the selector places no constraint.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object satisfies every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        self.requirements.iter().all(|r| {
            let actual = field_value(obj, &r.field);
            (actual == r.value) != r.negate
        })
    }
}

/// The string value of a dotted field path as the server compares it (`""` when absent).
fn field_value(obj: &Value, field: &str) -> String {
    let mut cur = obj;
    for part in field.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn label_selector_operators() {
        let l = labels(json!({"app": "geo", "tier": "db"}));
        for (sel, want) in [
            ("", true),
            ("app=geo", true),
            ("app==geo", true),
            ("app!=geo", false),
            ("app in (rate, geo)", true),
            ("app notin (geo)", false),
            ("tier", true),
            ("!tier", false),
            ("!canary", true),
            ("missing!=x", true),
            ("app=geo,tier=web", false),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&l),
                want,
                "{sel}"
            );
        }
        assert!(LabelSelector::parse("a b c").is_err());
        assert!(LabelSelector::parse("bad key=1").is_err());
    }

    #[test]
    fn selector_objects_and_maps() {
        let sel = LabelSelector::from_object(Some(&json!({
            "matchLabels": {"app": "geo"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]
        })))
        .unwrap();
        assert!(sel.matches(&labels(json!({"app": "geo"}))));
        assert!(!sel.matches(&labels(json!({"app": "geo", "tier": "db"}))));
        assert!(
            !LabelSelector::from_object(None)
                .unwrap()
                .matches(&labels(json!({})))
        );
        assert!(
            LabelSelector::from_object(Some(&json!({})))
                .unwrap()
                .matches(&labels(json!({})))
        );
        assert!(!LabelSelector::from_map(None).matches(&labels(json!({"a": "b"}))));
        assert!(
            LabelSelector::from_map(Some(&json!({"a": "b"}))).matches(&labels(json!({"a": "b"})))
        );
        assert!(
            LabelSelector::from_object(Some(
                &json!({"matchExpressions": [{"key": "a", "operator": "Near"}]})
            ))
            .is_err()
        );
    }

    #[test]
    fn field_selectors() {
        let pod = json!({"metadata": {"name": "p", "namespace": "n"}, "spec": {"nodeName": "kind-worker"}});
        let sel =
            FieldSelector::parse("spec.nodeName=kind-worker,metadata.namespace=n", "", "pods")
                .unwrap();
        assert!(sel.matches(&pod));
        assert!(
            !FieldSelector::parse("spec.nodeName=", "", "pods")
                .unwrap()
                .matches(&pod)
        );
        assert!(FieldSelector::parse("spec.nodeName=x", "", "services").is_err());
        assert!(FieldSelector::parse("garbage", "", "pods").is_err());
        let ev = json!({"involvedObject": {"name": "geo-1", "kind": "Pod"}, "type": "Warning"});
        assert!(
            FieldSelector::parse("involvedObject.name=geo-1,type=Warning", "", "events")
                .unwrap()
                .matches(&ev)
        );
    }
}

//! The subset of Kubernetes JSONPath that CRD printer columns use.
//!
//! Supported: `.a.b`, `['a.b']` / `["a"]`, `[0]` / `[-1]`, `[*]`, `..name` (recursive
//! descent), and filters `[?(@.type=="Ready")]` with `==` / `!=` against a string, number or
//! boolean, or `[?(@.field)]` for presence. An optional leading `$` and surrounding `{}` are
//! accepted. Results are in document order; a missing key gives no result.

use serde_json::Value;

/// A parsed path.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct JsonPath {
    steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Child(String),
    Index(i64),
    Wildcard,
    Descend(String),
    Filter(Filter),
}

#[derive(Clone, Debug, PartialEq)]
struct Filter {
    path: Vec<String>,
    test: Option<(bool, Value)>,
}

impl JsonPath {
    /// Parses `text`; the error says what was wrong and where.
    pub(super) fn parse(text: &str) -> Result<JsonPath, String> {
        let mut s = text.trim();
        if let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            s = inner.trim();
        }
        let s = s.strip_prefix('$').unwrap_or(s);
        let chars: Vec<char> = s.chars().collect();
        let mut steps = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '.' if chars.get(i + 1) == Some(&'.') => {
                    let (field, next) = read_ident(&chars, i + 2);
                    if field.is_empty() {
                        return Err(format!("expected a field name after '..' in {text:?}"));
                    }
                    steps.push(Step::Descend(field));
                    i = next;
                }
                '.' => {
                    let (field, next) = read_ident(&chars, i + 1);
                    if field == "*" {
                        steps.push(Step::Wildcard);
                    } else if !field.is_empty() {
                        steps.push(Step::Child(field));
                    } else if next < chars.len() && chars[next] != '[' {
                        return Err(format!(
                            "unexpected {:?} at {next} in {text:?}",
                            chars[next]
                        ));
                    }
                    i = next;
                }
                '[' => {
                    let close = find_close(&chars, i)
                        .ok_or_else(|| format!("unclosed '[' at {i} in {text:?}"))?;
                    let inner: String = chars[i + 1..close].iter().collect();
                    steps.push(parse_bracket(inner.trim(), text)?);
                    i = close + 1;
                }
                c if i == 0 && is_ident_char(c) => {
                    // A path without its leading dot ("spec.x").
                    let (field, next) = read_ident(&chars, i);
                    steps.push(Step::Child(field));
                    i = next;
                }
                c => return Err(format!("unexpected {c:?} at {i} in {text:?}")),
            }
        }
        Ok(JsonPath { steps })
    }

    /// Every value the path selects in `root`, in document order.
    pub(super) fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![root];
        for step in &self.steps {
            let mut next = Vec::new();
            for v in current {
                apply(step, v, &mut next);
            }
            current = next;
        }
        current
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | '*' | '$' | '@')
}

fn read_ident(chars: &[char], start: usize) -> (String, usize) {
    let mut end = start;
    while end < chars.len() && is_ident_char(chars[end]) {
        end += 1;
    }
    (chars[start..end].iter().collect(), end)
}

/// The index of the `]` closing the `[` at `open`, skipping quoted text and nested brackets.
fn find_close(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (i, &c) in chars.iter().enumerate().skip(open) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
    }
    None
}

fn unquote(s: &str) -> Option<&str> {
    let s = s.trim();
    s.strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| s.strip_prefix('"').and_then(|r| r.strip_suffix('"')))
}

fn parse_bracket(inner: &str, text: &str) -> Result<Step, String> {
    if inner == "*" {
        return Ok(Step::Wildcard);
    }
    if let Some(key) = unquote(inner) {
        return Ok(Step::Child(key.to_string()));
    }
    if let Ok(n) = inner.parse::<i64>() {
        return Ok(Step::Index(n));
    }
    if let Some(expr) = inner.strip_prefix("?(").and_then(|r| r.strip_suffix(')')) {
        return parse_filter(expr.trim(), text).map(Step::Filter);
    }
    Err(format!(
        "unsupported bracket expression [{inner}] in {text:?}"
    ))
}

fn parse_filter(expr: &str, text: &str) -> Result<Filter, String> {
    let (lhs, test) = if let Some((l, r)) = expr.split_once("==") {
        (l, Some((true, r)))
    } else if let Some((l, r)) = expr.split_once("!=") {
        (l, Some((false, r)))
    } else {
        (expr, None)
    };
    let lhs = lhs.trim();
    let rest = lhs
        .strip_prefix('@')
        .ok_or_else(|| format!("a filter must start with '@' in {text:?}"))?;
    let path: Vec<String> = rest
        .split('.')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let test = match test {
        None => None,
        Some((eq, r)) => {
            let r = r.trim();
            let literal = if let Some(s) = unquote(r) {
                Value::from(s)
            } else if let Ok(n) = r.parse::<i64>() {
                Value::from(n)
            } else if let Ok(f) = r.parse::<f64>() {
                Value::from(f)
            } else if r == "true" || r == "false" {
                Value::from(r == "true")
            } else {
                return Err(format!("unsupported filter value {r} in {text:?}"));
            };
            Some((eq, literal))
        }
    };
    Ok(Filter { path, test })
}

fn apply<'a>(step: &Step, v: &'a Value, out: &mut Vec<&'a Value>) {
    match step {
        Step::Child(key) => {
            if let Some(child) = v.get(key.as_str()) {
                out.push(child);
            }
        }
        Step::Index(n) => {
            if let Some(items) = v.as_array() {
                let len = items.len() as i64;
                let idx = if *n < 0 { len + n } else { *n };
                if (0..len).contains(&idx)
                    && let Some(item) = items.get(idx as usize)
                {
                    out.push(item);
                }
            }
        }
        Step::Wildcard => match v {
            Value::Array(items) => out.extend(items.iter()),
            Value::Object(map) => out.extend(map.values()),
            _ => {}
        },
        Step::Descend(key) => descend(key, v, out),
        Step::Filter(filter) => {
            let items: Vec<&Value> = match v {
                Value::Array(items) => items.iter().collect(),
                Value::Object(map) => map.values().collect(),
                _ => Vec::new(),
            };
            out.extend(items.into_iter().filter(|item| filter.matches(item)));
        }
    }
}

fn descend<'a>(key: &str, v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(map) => {
            if let Some(found) = map.get(key) {
                out.push(found);
            }
            for child in map.values() {
                descend(key, child, out);
            }
        }
        Value::Array(items) => {
            for child in items {
                descend(key, child, out);
            }
        }
        _ => {}
    }
}

impl Filter {
    fn matches(&self, item: &Value) -> bool {
        let found = self
            .path
            .iter()
            .try_fold(item, |cur, key| cur.get(key.as_str()));
        match (&self.test, found) {
            (None, found) => found.is_some(),
            (Some(_), None) => false,
            (Some((eq, literal)), Some(value)) => {
                let same = match (value.as_f64(), literal.as_f64()) {
                    (Some(a), Some(b)) => a == b,
                    _ => value == literal,
                };
                same == *eq
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(path: &str, v: &Value) -> Vec<Value> {
        JsonPath::parse(path)
            .unwrap()
            .find(v)
            .into_iter()
            .cloned()
            .collect()
    }

    fn doc() -> Value {
        json!({
            "spec": {"action": "pod-kill", "selector": {"namespaces": ["a", "b"]},
                     "x.y": {"z": 1}},
            "status": {"conditions": [
                {"type": "Selected", "status": "True"},
                {"type": "Ready", "status": "False", "count": 2}
            ]}
        })
    }

    #[test]
    fn simple_paths() {
        let d = doc();
        assert_eq!(find(".spec.action", &d), [json!("pod-kill")]);
        assert_eq!(find("{.spec.action}", &d), [json!("pod-kill")]);
        assert_eq!(find("$.spec.action", &d), [json!("pod-kill")]);
        assert_eq!(find("spec.action", &d), [json!("pod-kill")]);
        assert_eq!(find(".spec.missing.deeper", &d), Vec::<Value>::new());
        assert_eq!(find(".spec.selector.namespaces[1]", &d), [json!("b")]);
        assert_eq!(find(".spec.selector.namespaces[-1]", &d), [json!("b")]);
        assert_eq!(
            find(".spec.selector.namespaces[5]", &d),
            Vec::<Value>::new()
        );
        assert_eq!(
            find(".spec.selector.namespaces[*]", &d),
            [json!("a"), json!("b")]
        );
        assert_eq!(find(".spec['x.y'].z", &d), [json!(1)]);
        assert_eq!(find(".spec[\"action\"]", &d), [json!("pod-kill")]);
        assert_eq!(find("..type", &d), [json!("Selected"), json!("Ready")]);
    }

    #[test]
    fn filters() {
        let d = doc();
        assert_eq!(
            find(".status.conditions[?(@.type==\"Ready\")].status", &d),
            [json!("False")]
        );
        assert_eq!(
            find(".status.conditions[?(@.type=='Selected')].status", &d),
            [json!("True")]
        );
        assert_eq!(
            find(".status.conditions[?(@.type!=\"Ready\")].type", &d),
            [json!("Selected")]
        );
        assert_eq!(
            find(".status.conditions[?(@.count==2)].type", &d),
            [json!("Ready")]
        );
        assert_eq!(
            find(".status.conditions[?(@.count)].type", &d),
            [json!("Ready")]
        );
    }

    #[test]
    fn bad_paths_are_errors() {
        assert!(JsonPath::parse(".spec[").is_err());
        assert!(JsonPath::parse(".spec[?(type==1)]").is_err());
        assert!(JsonPath::parse(".spec[1:2]").is_err());
        assert!(JsonPath::parse(".spec.#").is_err());
        assert!(JsonPath::parse("..").is_err());
    }
}

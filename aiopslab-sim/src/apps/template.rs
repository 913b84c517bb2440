//! `${name}` substitution in profile strings.
//!
//! Names are looked up in order in a stack of [`Vars`] scopes; `config.a.b` walks the program's
//! parsed configuration file and `env.X` its environment. An unknown name stays as written, so
//! a typo in a profile shows in the output instead of vanishing. Time placeholders in braces
//! without a dollar (`{ts}`, `{boost_time}`) are left for the log renderer.
//!
//! ```
//! use aiopslab_sim::apps::template::{Vars, render};
//! let mut v = Vars::default();
//! v.set("ip", "10.244.1.7");
//! v.config = Some(serde_json::json!({"GeoPort": "8083", "svc": {"port": 9090}}).into());
//! assert_eq!(render("dial ${ip}:${config.GeoPort} ${config.svc.port} ${nope}", &[&v]),
//!            "dial 10.244.1.7:8083 9090 ${nope}");
//! ```

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One scope of variables.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    /// Plain variables.
    pub map: BTreeMap<String, String>,
    /// The parsed configuration file (`config.*`).
    pub config: Option<Arc<Value>>,
    /// The environment (`env.*`).
    pub env: Option<Arc<BTreeMap<String, String>>>,
}

impl Vars {
    /// Sets a variable.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.map.insert(key.to_string(), value.into());
        self
    }

    /// A scope with the given pairs.
    pub fn of(pairs: &[(&str, String)]) -> Self {
        let mut v = Vars::default();
        for (k, val) in pairs {
            v.set(k, val.clone());
        }
        v
    }

    fn lookup(&self, name: &str) -> Option<String> {
        if let Some(v) = self.map.get(name) {
            return Some(v.clone());
        }
        if let Some(path) = name.strip_prefix("config.")
            && let Some(cfg) = &self.config
        {
            return config_value(cfg, path);
        }
        if let Some(key) = name.strip_prefix("env.")
            && let Some(env) = &self.env
        {
            // An unset variable expands to nothing, as in a shell.
            return Some(env.get(key).cloned().unwrap_or_default());
        }
        None
    }
}

/// A value of a configuration file by dotted path (`text-service.port`); keys may contain
/// dashes. Strings come out bare, numbers and booleans as written.
pub fn config_value(cfg: &Value, path: &str) -> Option<String> {
    let mut cur = cfg;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// Replaces every `${name}` found in one of `scopes` (first match wins).
pub fn render(text: &str, scopes: &[&Vars]) -> String {
    if !text.contains("${") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(j) => {
                let name = &after[..j];
                match scopes.iter().find_map(|s| s.lookup(name)) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push_str("${");
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether every `${...}` in `text` resolves in `scopes`.
pub fn resolves(text: &str, scopes: &[&Vars]) -> bool {
    !render(text, scopes).contains("${")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_and_unclosed() {
        let v = Vars {
            env: Some(Arc::new(BTreeMap::from([(
                "fqdn_suffix".to_string(),
                ".ns.svc.cluster.local".to_string(),
            )]))),
            ..Vars::default()
        };
        assert_eq!(
            render("svc${env.fqdn_suffix}:9090", &[&v]),
            "svc.ns.svc.cluster.local:9090"
        );
        assert_eq!(render("svc${env.missing}", &[&v]), "svc");
        assert_eq!(render("a ${b", &[&v]), "a ${b");
        assert!(!resolves("${x}", &[&v]));
    }

    #[test]
    fn scopes_in_order() {
        let a = Vars::of(&[("x", "1".into())]);
        let b = Vars::of(&[("x", "2".into()), ("y", "3".into())]);
        assert_eq!(render("${x}${y}", &[&a, &b]), "13");
    }
}

//! Elasticsearch-shaped errors: `{"error":{"root_cause":[...],"type":...,"reason":...},"status":N}`.

use serde_json::{Value, json};

/// An error answered the way Elasticsearch 8 answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct EsError {
    /// HTTP status.
    pub status: u16,
    /// Exception type, e.g. `parsing_exception`, `index_not_found_exception`.
    pub kind: String,
    /// Human reason.
    pub reason: String,
    /// Extra fields of the cause (e.g. `index`, `resource.id`).
    pub extra: Vec<(String, Value)>,
    /// Wrap the cause in a `search_phase_execution_exception` (as search-time failures are).
    pub search_phase: bool,
}

impl EsError {
    /// An error with a status, type and reason.
    pub fn new(status: u16, kind: &str, reason: String) -> Self {
        EsError {
            status,
            kind: kind.to_string(),
            reason,
            extra: Vec::new(),
            search_phase: false,
        }
    }

    /// `index_not_found_exception` for a missing concrete index.
    pub fn index_not_found(index: &str) -> Self {
        let mut e = EsError::new(
            404,
            "index_not_found_exception",
            format!("no such index [{index}]"),
        );
        e.extra = vec![
            ("resource.type".into(), json!("index_or_alias")),
            ("resource.id".into(), json!(index)),
            ("index_uuid".into(), json!("_na_")),
            ("index".into(), json!(index)),
        ];
        e
    }

    /// Marks the error as raised while executing a search (wrapped like Elasticsearch does).
    pub fn in_search(mut self) -> Self {
        self.search_phase = true;
        self
    }

    /// The response body.
    pub fn body(&self) -> Value {
        let mut cause = serde_json::Map::new();
        cause.insert("type".into(), json!(self.kind));
        cause.insert("reason".into(), json!(self.reason));
        for (k, v) in &self.extra {
            cause.insert(k.clone(), v.clone());
        }
        let cause = Value::Object(cause);
        let error = if self.search_phase {
            json!({
                "root_cause": [cause.clone()],
                "type": "search_phase_execution_exception",
                "reason": "all shards failed",
                "phase": "query",
                "grouped": true,
                "failed_shards": [],
                "caused_by": cause,
            })
        } else {
            let mut top = serde_json::Map::new();
            top.insert("root_cause".into(), json!([cause.clone()]));
            if let Value::Object(c) = cause {
                top.extend(c);
            }
            Value::Object(top)
        };
        json!({"error": error, "status": self.status})
    }
}

//! Logstash-style log documents and the [`LogSource`] seam that the Elasticsearch API reads.

use super::window::TimeWindow;
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::sync::{Arc, RwLock};

/// Where a container log line came from (the `kubernetes.*` fields of filebeat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRef {
    /// `kubernetes.namespace`
    pub namespace: String,
    /// `kubernetes.pod.name`
    pub pod: String,
    /// `kubernetes.container.name`
    pub container: String,
    /// `kubernetes.node.name`
    pub node: String,
}

/// One log document as logstash stores it: a timestamp and its `_source`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogDocument {
    /// Unix milliseconds (the `@timestamp`).
    pub timestamp_ms: i64,
    /// The document body (`_source`), `@timestamp` included.
    pub source: Map<String, Value>,
}

/// `@timestamp` text as logstash writes it: UTC with milliseconds, e.g. `2026-01-01T00:00:00.000Z`.
pub fn format_timestamp(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => "1970-01-01T00:00:00.000Z".to_string(),
    }
}

impl LogDocument {
    /// A document from a body; `@timestamp` is set from `timestamp_ms` (overriding the body's).
    pub fn new(timestamp_ms: i64, mut source: Map<String, Value>) -> Self {
        source.insert(
            "@timestamp".into(),
            Value::String(format_timestamp(timestamp_ms)),
        );
        LogDocument {
            timestamp_ms,
            source,
        }
    }

    /// A container log line shaped as filebeat + logstash ship it.
    ///
    /// ```
    /// use aiopslab_sim::telemetry::{ContainerRef, LogDocument};
    /// let c = ContainerRef { namespace: "ns".into(), pod: "geo-1".into(), container: "geo".into(), node: "kind-worker".into() };
    /// let d = LogDocument::container_line(0, &c, "hello");
    /// assert_eq!(d.source["kubernetes"]["pod"]["name"], "geo-1");
    /// assert_eq!(d.source["@timestamp"], "1970-01-01T00:00:00.000Z");
    /// ```
    pub fn container_line(timestamp_ms: i64, c: &ContainerRef, message: &str) -> Self {
        let body = json!({
            "@version": "1",
            "message": message,
            "stream": "stdout",
            "kubernetes": {
                "namespace": c.namespace,
                "pod": {"name": c.pod},
                "container": {"name": c.container},
                "node": {"name": c.node},
            },
            "input": {"type": "container"},
            "tags": ["beats_input_codec_plain_applied"],
        });
        let map = match body {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        LogDocument::new(timestamp_ms, map)
    }

    /// The value at a dotted path (`kubernetes.pod.name`), also accepting literal dotted keys.
    pub fn field(&self, path: &str) -> Option<&Value> {
        lookup(&self.source, path)
    }
}

/// Looks up a dotted path in a JSON object, trying literal dotted keys as well.
pub fn lookup<'a>(obj: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = obj.get(path) {
        return Some(v);
    }
    for (i, _) in path.match_indices('.') {
        if let Some(Value::Object(inner)) = obj.get(&path[..i])
            && let Some(v) = lookup(inner, &path[i + 1..])
        {
            return Some(v);
        }
    }
    None
}

/// Where log documents come from.
pub trait LogSource: Send + Sync {
    /// Every document whose timestamp lies inside `window`, in time order.
    fn documents(&self, window: TimeWindow) -> Vec<LogDocument>;

    /// The window (Unix ms) the source holds data for.
    fn retention(&self) -> TimeWindow;
}

/// Fixed documents held in memory.
#[derive(Debug, Default)]
pub struct InMemoryLogs {
    docs: RwLock<Vec<LogDocument>>,
}

impl InMemoryLogs {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a document (kept in time order; equal times keep insertion order).
    pub fn add(&self, doc: LogDocument) {
        let mut docs = self.docs.write().unwrap_or_else(|e| e.into_inner());
        let pos = docs.partition_point(|d| d.timestamp_ms <= doc.timestamp_ms);
        docs.insert(pos, doc);
    }
}

impl LogSource for InMemoryLogs {
    fn documents(&self, window: TimeWindow) -> Vec<LogDocument> {
        let docs = self.docs.read().unwrap_or_else(|e| e.into_inner());
        let lo = docs.partition_point(|d| d.timestamp_ms < window.start);
        let hi = docs.partition_point(|d| d.timestamp_ms <= window.end);
        docs[lo..hi.max(lo)].to_vec()
    }

    fn retention(&self) -> TimeWindow {
        let docs = self.docs.read().unwrap_or_else(|e| e.into_inner());
        match (docs.first(), docs.last()) {
            (Some(a), Some(b)) => TimeWindow::new(a.timestamp_ms, b.timestamp_ms),
            _ => TimeWindow::new(0, -1),
        }
    }
}

/// Several log sources seen as one (merged in time order, stable across sources).
#[derive(Default, Clone)]
pub struct CompositeLogs {
    sources: Vec<Arc<dyn LogSource>>,
}

impl CompositeLogs {
    /// A composite of `sources`.
    pub fn new(sources: Vec<Arc<dyn LogSource>>) -> Self {
        CompositeLogs { sources }
    }
}

impl LogSource for CompositeLogs {
    fn documents(&self, window: TimeWindow) -> Vec<LogDocument> {
        let mut all: Vec<LogDocument> = self
            .sources
            .iter()
            .flat_map(|s| s.documents(window))
            .collect();
        all.sort_by_key(|d| d.timestamp_ms);
        all
    }

    fn retention(&self) -> TimeWindow {
        self.sources
            .iter()
            .map(|s| s.retention())
            .fold(TimeWindow::new(0, -1), |a, b| a.union(&b))
    }
}

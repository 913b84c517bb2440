//! Jaeger-style traces and the [`TraceSource`] seam that the Jaeger query API reads.

use super::window::TimeWindow;
use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

/// A tag value, typed as Jaeger types it.
#[derive(Debug, Clone, PartialEq)]
pub enum TagValue {
    /// `"type": "string"`
    String(String),
    /// `"type": "bool"`
    Bool(bool),
    /// `"type": "int64"`
    Int64(i64),
    /// `"type": "float64"`
    Float64(f64),
}

impl TagValue {
    /// The value as Jaeger compares it in tag searches (`true`, `200`, `GET`).
    pub fn as_search_string(&self) -> String {
        match self {
            TagValue::String(s) => s.clone(),
            TagValue::Bool(b) => b.to_string(),
            TagValue::Int64(i) => i.to_string(),
            TagValue::Float64(f) => f.to_string(),
        }
    }
}

/// A key and a typed value (span tag, process tag or log field).
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    /// The key, e.g. `http.status_code`.
    pub key: String,
    /// The value.
    pub value: TagValue,
}

impl Tag {
    /// A string tag.
    pub fn string(key: &str, value: &str) -> Self {
        Tag {
            key: key.into(),
            value: TagValue::String(value.into()),
        }
    }
    /// A boolean tag (e.g. `error` = true).
    pub fn bool(key: &str, value: bool) -> Self {
        Tag {
            key: key.into(),
            value: TagValue::Bool(value),
        }
    }
    /// An integer tag (e.g. `http.status_code` = 500).
    pub fn int(key: &str, value: i64) -> Self {
        Tag {
            key: key.into(),
            value: TagValue::Int64(value),
        }
    }
    /// A float tag.
    pub fn float(key: &str, value: f64) -> Self {
        Tag {
            key: key.into(),
            value: TagValue::Float64(value),
        }
    }
}

/// The process that emitted a span: its service name and tags (`hostname`, `ip`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    /// The Jaeger service name.
    pub service_name: String,
    /// Process tags.
    pub tags: Vec<Tag>,
}

/// How a span refers to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefType {
    /// `CHILD_OF`
    ChildOf,
    /// `FOLLOWS_FROM`
    FollowsFrom,
}

impl RefType {
    /// The Jaeger JSON spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            RefType::ChildOf => "CHILD_OF",
            RefType::FollowsFrom => "FOLLOWS_FROM",
        }
    }
}

/// A reference to another span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRef {
    /// The kind of reference.
    pub ref_type: RefType,
    /// The referenced span's trace id.
    pub trace_id: String,
    /// The referenced span id.
    pub span_id: String,
}

/// A timestamped span log.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanLog {
    /// Unix microseconds.
    pub timestamp_us: i64,
    /// Fields (e.g. `event`, `message`).
    pub fields: Vec<Tag>,
}

/// One span.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Trace id in lower-case hex (16 or 32 digits).
    pub trace_id: String,
    /// Span id in lower-case hex (16 digits).
    pub span_id: String,
    /// The operation, e.g. `HTTP GET /hotels` or `/geo.Geo/Nearby`.
    pub operation_name: String,
    /// References; the parent is the first `CHILD_OF`.
    pub references: Vec<SpanRef>,
    /// Start, Unix microseconds.
    pub start_time_us: i64,
    /// Duration in microseconds.
    pub duration_us: i64,
    /// Span tags (`span.kind`, `error`, `http.status_code`, ...).
    pub tags: Vec<Tag>,
    /// Span logs.
    pub logs: Vec<SpanLog>,
    /// The emitting process.
    pub process: Process,
    /// Jaeger flags (1 = sampled).
    pub flags: u32,
}

impl Span {
    /// The parent span id (first `CHILD_OF` reference), if any.
    pub fn parent_span_id(&self) -> Option<&str> {
        self.references
            .iter()
            .find(|r| r.ref_type == RefType::ChildOf)
            .map(|r| r.span_id.as_str())
    }
}

/// A trace: its id and spans (in the order the source gives them).
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Trace id in lower-case hex.
    pub trace_id: String,
    /// The spans.
    pub spans: Vec<Span>,
}

impl Trace {
    /// Earliest span start (µs), 0 for an empty trace.
    pub fn start_us(&self) -> i64 {
        self.spans
            .iter()
            .map(|s| s.start_time_us)
            .min()
            .unwrap_or(0)
    }
}

/// An operation of a service, as `/api/operations` lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Operation {
    /// Operation name.
    pub name: String,
    /// The `span.kind` tag of its spans (`server`, `client`, ... or empty).
    pub span_kind: String,
}

/// Parses a trace id as Jaeger does and returns its canonical spelling (16 or 32 hex digits).
///
/// ```
/// use aiopslab_sim::telemetry::jaeger::normalize_trace_id;
/// assert_eq!(normalize_trace_id("abc").unwrap(), "0000000000000abc");
/// assert_eq!(normalize_trace_id("00000000000000000000000000000abc").unwrap(), "0000000000000abc");
/// assert!(normalize_trace_id("xyz").is_err());
/// ```
pub fn normalize_trace_id(s: &str) -> Result<String, String> {
    let parse = |part: &str| {
        u64::from_str_radix(part, 16)
            .ok()
            .filter(|_| !part.is_empty() && !part.starts_with('+'))
            .ok_or_else(|| format!("strconv.ParseUint: parsing {part:?}: invalid syntax"))
    };
    let (hi, lo) = if s.len() > 32 {
        return Err(format!(
            "TraceID cannot be longer than 32 hex characters: {s}"
        ));
    } else if s.len() > 16 {
        let split = s.len() - 16;
        if !s.is_char_boundary(split) {
            return Err(format!("strconv.ParseUint: parsing {s:?}: invalid syntax"));
        }
        (parse(&s[..split])?, parse(&s[split..])?)
    } else {
        (0, parse(s)?)
    };
    Ok(if hi == 0 {
        format!("{lo:016x}")
    } else {
        format!("{hi:016x}{lo:016x}")
    })
}

/// Where traces come from.
///
/// Implementations compute lazily for the window asked. Only [`traces`](Self::traces) and
/// [`retention`](Self::retention) are required; the catalogue methods derive from them by
/// default and can be overridden when the source knows its services without computing traces.
pub trait TraceSource: Send + Sync {
    /// Every trace with at least one span starting inside `window` (Unix ms).
    fn traces(&self, window: TimeWindow) -> Vec<Trace>;

    /// The window (Unix ms) the source holds data for.
    fn retention(&self) -> TimeWindow;

    /// Service names seen in the retention window, sorted.
    fn services(&self) -> Vec<String> {
        let set: BTreeSet<String> = self
            .traces(self.retention())
            .into_iter()
            .flat_map(|t| t.spans.into_iter().map(|s| s.process.service_name))
            .collect();
        set.into_iter().collect()
    }

    /// Operations of `service` seen in the retention window, sorted.
    fn operations(&self, service: &str) -> Vec<Operation> {
        let set: BTreeSet<Operation> = self
            .traces(self.retention())
            .into_iter()
            .flat_map(|t| t.spans.into_iter())
            .filter(|s| s.process.service_name == service)
            .map(|s| Operation {
                span_kind: s
                    .tags
                    .iter()
                    .find(|t| t.key == "span.kind")
                    .map(|t| t.value.as_search_string())
                    .unwrap_or_default(),
                name: s.operation_name,
            })
            .collect();
        set.into_iter().collect()
    }

    /// The trace with this id (compared in canonical form, see [`normalize_trace_id`]).
    fn trace(&self, trace_id: &str) -> Option<Trace> {
        let want = normalize_trace_id(trace_id).unwrap_or_else(|_| trace_id.to_string());
        self.traces(self.retention())
            .into_iter()
            .find(|t| normalize_trace_id(&t.trace_id).is_ok_and(|id| id == want))
    }
}

/// Fixed traces held in memory.
#[derive(Debug, Default)]
pub struct InMemoryTraces {
    traces: RwLock<Vec<Trace>>,
}

impl InMemoryTraces {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a trace.
    pub fn add(&self, trace: Trace) {
        self.traces
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(trace);
    }
}

impl TraceSource for InMemoryTraces {
    fn traces(&self, window: TimeWindow) -> Vec<Trace> {
        self.traces
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|t| {
                t.spans
                    .iter()
                    .any(|s| window.contains(s.start_time_us.div_euclid(1000)))
            })
            .cloned()
            .collect()
    }

    fn retention(&self) -> TimeWindow {
        let traces = self.traces.read().unwrap_or_else(|e| e.into_inner());
        let starts = traces
            .iter()
            .flat_map(|t| t.spans.iter().map(|s| s.start_time_us.div_euclid(1000)));
        let (lo, hi) = starts.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
        TimeWindow::new(lo, hi)
    }
}

/// Several trace sources seen as one (traces are concatenated; ids must not collide).
#[derive(Default, Clone)]
pub struct CompositeTraces {
    sources: Vec<Arc<dyn TraceSource>>,
}

impl CompositeTraces {
    /// A composite of `sources`.
    pub fn new(sources: Vec<Arc<dyn TraceSource>>) -> Self {
        CompositeTraces { sources }
    }
}

impl TraceSource for CompositeTraces {
    fn traces(&self, window: TimeWindow) -> Vec<Trace> {
        self.sources.iter().flat_map(|s| s.traces(window)).collect()
    }

    fn retention(&self) -> TimeWindow {
        self.sources
            .iter()
            .map(|s| s.retention())
            .fold(TimeWindow::new(i64::MAX, i64::MIN), |a, b| a.union(&b))
    }

    fn services(&self) -> Vec<String> {
        let set: BTreeSet<String> = self.sources.iter().flat_map(|s| s.services()).collect();
        set.into_iter().collect()
    }

    fn operations(&self, service: &str) -> Vec<Operation> {
        let set: BTreeSet<Operation> = self
            .sources
            .iter()
            .flat_map(|s| s.operations(service))
            .collect();
        set.into_iter().collect()
    }

    fn trace(&self, trace_id: &str) -> Option<Trace> {
        self.sources.iter().find_map(|s| s.trace(trace_id))
    }
}

//! Compact storage of recorded requests: repeated strings (services, pods, operations, tag
//! keys and values) are shared through an interner, so a kept trace costs a few hundred bytes
//! per span and recording allocates little.

use super::requests::{RecordedLog, RecordedSpan, SpanKind};
use crate::telemetry::traces::{SpanLog, Tag, TagValue};
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// FNV-1a: a fast hasher for short, trusted keys.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvSet<T> = HashSet<T, BuildHasherDefault<Fnv>>;

/// A shared string.
pub(crate) type Str = Arc<str>;

/// Shares equal strings; stops remembering new ones past its capacity (high-cardinality values
/// such as per-request operation names are then simply allocated).
#[derive(Debug)]
pub(crate) struct Interner {
    set: FnvSet<Str>,
    cap: usize,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            set: FnvSet::default(),
            cap: 50_000,
        }
    }
}

impl Interner {
    /// The shared copy of `s`.
    pub fn get(&mut self, s: &str) -> Str {
        if let Some(a) = self.set.get(s) {
            return a.clone();
        }
        let a: Str = Arc::from(s);
        if self.set.len() < self.cap {
            self.set.insert(a.clone());
        }
        a
    }
}

/// A tag value with shared strings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CValue {
    Str(Str),
    Bool(bool),
    Int(i64),
    Float(f64),
}

/// A tag with shared strings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CTag {
    pub key: Str,
    pub value: CValue,
}

impl CTag {
    fn of(t: &Tag, i: &mut Interner) -> Self {
        CTag {
            key: i.get(&t.key),
            value: match &t.value {
                TagValue::String(s) => CValue::Str(i.get(s)),
                TagValue::Bool(b) => CValue::Bool(*b),
                TagValue::Int64(n) => CValue::Int(*n),
                TagValue::Float64(f) => CValue::Float(*f),
            },
        }
    }

    /// The Jaeger tag.
    pub fn tag(&self) -> Tag {
        let key = self.key.to_string();
        Tag {
            key,
            value: match &self.value {
                CValue::Str(s) => TagValue::String(s.to_string()),
                CValue::Bool(b) => TagValue::Bool(*b),
                CValue::Int(n) => TagValue::Int64(*n),
                CValue::Float(f) => TagValue::Float64(*f),
            },
        }
    }
}

/// A kept span.
#[derive(Debug, Clone)]
pub(crate) struct CSpan {
    pub parent: Option<u32>,
    pub service: Str,
    pub operation: Str,
    pub kind: SpanKind,
    pub pod: Str,
    pub pod_ip: Str,
    pub start_us: i64,
    pub duration_us: i64,
    pub error: bool,
    pub status_code: Option<i64>,
    pub tags: Box<[CTag]>,
    pub process_tags: Box<[CTag]>,
    pub logs: Box<[SpanLog]>,
}

impl CSpan {
    pub fn of(s: &RecordedSpan, i: &mut Interner) -> Self {
        CSpan {
            parent: s.parent.and_then(|p| u32::try_from(p).ok()),
            service: i.get(&s.service),
            operation: i.get(&s.operation),
            kind: s.kind,
            pod: i.get(&s.pod),
            pod_ip: i.get(&s.pod_ip),
            start_us: s.start_us,
            duration_us: s.duration_us,
            error: s.error,
            status_code: s.status_code,
            tags: s.tags.iter().map(|t| CTag::of(t, i)).collect(),
            process_tags: s.process_tags.iter().map(|t| CTag::of(t, i)).collect(),
            logs: s.logs.clone().into_boxed_slice(),
        }
    }
}

/// A kept trace: the request's number (for ids), its first span start and its spans.
#[derive(Debug, Clone)]
pub(crate) struct StoredRequest {
    pub seq: u64,
    pub start_us: i64,
    pub spans: Box<[CSpan]>,
}

/// A kept request log line.
#[derive(Debug, Clone)]
pub(crate) struct CLog {
    pub namespace: Str,
    pub pod: Str,
    pub container: Str,
    pub message: Box<str>,
}

impl CLog {
    pub fn of(l: &RecordedLog, i: &mut Interner) -> Self {
        CLog {
            namespace: i.get(&l.namespace),
            pod: i.get(&l.pod),
            container: i.get(&l.container),
            message: l.message.clone().into_boxed_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_shares_and_caps() {
        let mut i = Interner {
            set: FnvSet::default(),
            cap: 2,
        };
        let a = i.get("frontend");
        let b = i.get("frontend");
        assert!(Arc::ptr_eq(&a, &b));
        i.get("geo");
        let c = i.get("x");
        let d = i.get("x");
        assert!(
            !Arc::ptr_eq(&c, &d),
            "past the cap nothing new is remembered"
        );
        assert_eq!(&*c, "x");
    }

    #[test]
    fn tags_round_trip() {
        let mut i = Interner::default();
        for t in [
            Tag::string("a", "b"),
            Tag::int("c", 5),
            Tag::bool("error", true),
            Tag::float("f", 0.5),
        ] {
            assert_eq!(CTag::of(&t, &mut i).tag(), t);
        }
    }
}

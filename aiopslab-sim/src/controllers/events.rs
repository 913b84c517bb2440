//! The event recorder: core/v1 Events with the real reasons, sources and aggregation.
//!
//! Like client-go's recorder, a repeat of the same event (same object, source, type, reason
//! and message) updates the existing Event's `count` and `lastTimestamp` instead of creating a
//! new one, which is what `kubectl describe` shows as `(x5 over 2m)`. Event names are
//! `<object>.<hex nanoseconds>`, unique even when the clock stands still.

use super::util::{fmt_time, keys, name, namespace, sd, uid};
use crate::store::Store;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Records events and remembers them for aggregation.
#[derive(Default)]
pub(crate) struct Recorder {
    last_nanos: i128,
    seen: HashMap<String, (String, String)>,
    last_expiry: Option<Timestamp>,
}

/// How long events are kept (the API server's `--event-ttl`).
const EVENT_TTL: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

impl Recorder {
    /// Records one event about `obj` (its `apiVersion` and `kind` must be set).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        &mut self,
        store: &Store,
        now: Timestamp,
        obj: &Value,
        warning: bool,
        reason: &str,
        message: &str,
        component: &str,
        host: Option<&str>,
        field_path: Option<&str>,
    ) {
        self.expire(store, now);
        let ty = if warning { "Warning" } else { "Normal" };
        let obj_ns = namespace(obj);
        let ns = if obj_ns.is_empty() { "default" } else { obj_ns };
        let agg_key = format!(
            "{ns}\u{0}{}\u{0}{}\u{0}{}\u{0}{ty}\u{0}{reason}\u{0}{message}\u{0}{component}\u{0}{}\u{0}{}",
            sd(obj, "/kind"),
            name(obj),
            uid(obj),
            host.unwrap_or_default(),
            field_path.unwrap_or_default()
        );
        let now_str = fmt_time(now);
        if let Some((ens, ename)) = self.seen.get(&agg_key).cloned() {
            let updated = store.modify(&keys::events(), &ens, &ename, |e| {
                let count = e.get("count").and_then(Value::as_i64).unwrap_or(1);
                e["count"] = json!(count + 1);
                e["lastTimestamp"] = json!(now_str);
                Ok(())
            });
            if updated.is_ok() {
                return;
            }
            self.seen.remove(&agg_key);
        }
        let mut nanos = now.as_nanosecond();
        if nanos <= self.last_nanos {
            nanos = self.last_nanos + 1;
        }
        self.last_nanos = nanos;
        let event_name = format!("{}.{:x}", name(obj), nanos);
        let mut involved = json!({
            "apiVersion": sd(obj, "/apiVersion"),
            "kind": sd(obj, "/kind"),
            "name": name(obj),
            "uid": uid(obj),
            "resourceVersion": sd(obj, "/metadata/resourceVersion"),
        });
        if !obj_ns.is_empty() {
            involved["namespace"] = json!(obj_ns);
        }
        if let Some(fp) = field_path {
            involved["fieldPath"] = json!(fp);
        }
        let mut source = json!({"component": component});
        if let Some(h) = host {
            source["host"] = json!(h);
        }
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": event_name, "namespace": ns},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now_str,
            "lastTimestamp": now_str,
            "count": 1,
            "type": ty,
            "eventTime": null,
            "reportingComponent": component,
            "reportingInstance": host.unwrap_or_default(),
        });
        match store.create(&keys::events(), ns, event) {
            Ok(_) => {
                self.seen.insert(agg_key, (ns.to_string(), event_name));
            }
            Err(e) => tracing::debug!("could not record event {reason}: {e}"),
        }
    }

    /// Removes events not seen for an hour, at most every ten minutes.
    fn expire(&mut self, store: &Store, now: Timestamp) {
        let due = self.last_expiry.is_none_or(|t| {
            t.checked_add(jiff::SignedDuration::from_mins(10))
                .is_ok_and(|next| next <= now)
        });
        if !due {
            return;
        }
        self.last_expiry = Some(now);
        let Ok(cutoff) = now.checked_sub(EVENT_TTL) else {
            return;
        };
        let (events, _) = store.list(&keys::events(), None);
        for e in events {
            let last = super::util::parse_time(e.get("lastTimestamp"))
                .or_else(|| super::util::parse_time(e.get("eventTime")));
            if last.is_some_and(|t| t < cutoff) {
                let _ = store.remove(&keys::events(), namespace(&e), name(&e));
            }
        }
    }
}

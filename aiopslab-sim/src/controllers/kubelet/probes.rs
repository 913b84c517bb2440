//! The kubelet's probe workers: readiness and liveness probes run on their own timers while a
//! container runs, as the real kubelet's prober does.
//!
//! Each probe of a running container gets a [`Worker`]: its first probe at
//! `initialDelaySeconds`, then one every `periodSeconds` (both scaled by the controllers' time
//! scale). A probe is judged against the run as it is at that moment:
//! - `httpGet` and `tcpSocket` probes need the port to be among the ports the run listens on
//!   ([`RunPlan::listening`](super::super::behavior::RunPlan), which a behaviour's `recheck`
//!   may change), and the run to have reached its `ready_after`;
//! - `exec` probes run their command in the container's shell, seeing the files it has now,
//!   including those written by earlier `kubectl exec` commands (`cat /tmp/healthy`,
//!   `test -f /tmp/ready`).
//!
//! Readiness turns on after `successThreshold` consecutive successes and off after
//! `failureThreshold` consecutive failures; each failure is an `Unhealthy` event. Liveness
//! failures are `Unhealthy` events too, and `failureThreshold` of them in a row kill the
//! container (`Killing`), which then restarts by its pod's restart policy.

use super::super::behavior::{ContainerBehavior, ImageInfo};
use super::super::util::{int, s};
use super::Instance;
use super::runtime;
use crate::store::Store;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use std::sync::Arc;

/// Which probe a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `readinessProbe`: whether the container gets traffic.
    Readiness,
    /// `livenessProbe`: whether the container is restarted.
    Liveness,
}

/// One probe of one container run, with its schedule and its consecutive results.
#[derive(Debug, Clone)]
pub(crate) struct Worker {
    pub kind: Kind,
    pub probe: Value,
    /// When the next probe runs.
    pub next: Timestamp,
    period: SignedDuration,
    success_threshold: i64,
    failure_threshold: i64,
    successes: i64,
    failures: i64,
    /// No result since the worker began or the run's plan changed.
    fresh: bool,
    /// The process has not come up yet (readiness): the result will change when it does.
    waiting: bool,
}

/// What one probe changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing to report.
    Quiet,
    /// The probe failed (an `Unhealthy` event with this message); `flip` when it crossed the
    /// failure threshold (readiness off, or the container must be killed).
    Failed { message: String, flip: bool },
    /// Readiness crossed the success threshold.
    BecameReady,
}

fn scaled(d: SignedDuration, scale: f64) -> SignedDuration {
    SignedDuration::from_nanos((d.as_nanos() as f64 * scale) as i64)
}

impl Worker {
    /// A worker for `probe`, for a run that started at `started` with `scale` clock time per
    /// simulated second.
    pub(crate) fn new(kind: Kind, probe: &Value, started: Timestamp, scale: f64) -> Self {
        let delay = int(probe, "/initialDelaySeconds").unwrap_or(0).max(0);
        let period = int(probe, "/periodSeconds").unwrap_or(10).max(1);
        // Liveness needs exactly one success to count as alive again (as the API requires).
        let success_threshold = match kind {
            Kind::Readiness => int(probe, "/successThreshold").unwrap_or(1).max(1),
            Kind::Liveness => 1,
        };
        Worker {
            kind,
            probe: probe.clone(),
            next: started
                .checked_add(scaled(SignedDuration::from_secs(delay), scale))
                .unwrap_or(started),
            period: scaled(SignedDuration::from_secs(period), scale)
                .max(SignedDuration::from_millis(1)),
            success_threshold,
            failure_threshold: int(probe, "/failureThreshold").unwrap_or(3).max(1),
            successes: 0,
            failures: 0,
            fresh: true,
            waiting: false,
        }
    }

    /// Forgets that the last result was steady: the run's plan changed (a behaviour's
    /// recheck), so the next probe may find something new.
    pub(crate) fn unsettle(&mut self) {
        self.fresh = true;
    }

    /// Whether the next probe may change the container's state (readiness on or off, a
    /// liveness kill): then it is work a caller waiting for the cluster to settle waits for.
    /// A probe that keeps finding what it found before only repeats itself.
    pub(crate) fn may_change(&self, ready: bool) -> bool {
        self.fresh
            || self.waiting
            || match self.kind {
                Kind::Readiness => (!ready && self.successes > 0) || (ready && self.failures > 0),
                Kind::Liveness => self.failures > 0,
            }
    }

    /// Records a probe of a process that is not up yet (readiness): no event, no change, and
    /// the next probe may find it up.
    pub(crate) fn not_up_yet(&mut self) {
        self.next = self.next.checked_add(self.period).unwrap_or(self.next);
        self.successes = 0;
        self.fresh = false;
        self.waiting = true;
    }

    /// The workers of a container's probes (readiness, liveness) for a run starting at
    /// `started`.
    pub(crate) fn for_container(spec: &Value, started: Timestamp, scale: f64) -> Vec<Worker> {
        [
            ("readinessProbe", Kind::Readiness),
            ("livenessProbe", Kind::Liveness),
        ]
        .into_iter()
        .filter_map(|(field, kind)| {
            spec.get(field)
                .filter(|p| p.is_object())
                .map(|p| Worker::new(kind, p, started, scale))
        })
        .collect()
    }

    /// Records one result and schedules the next probe; `ready` is whether the container is
    /// ready now (readiness only).
    pub(crate) fn record(&mut self, result: Result<(), String>, ready: bool) -> Outcome {
        self.next = self.next.checked_add(self.period).unwrap_or(self.next);
        self.fresh = false;
        self.waiting = false;
        match result {
            Ok(()) => {
                self.failures = 0;
                self.successes += 1;
                if self.kind == Kind::Readiness
                    && !ready
                    && self.successes >= self.success_threshold
                {
                    Outcome::BecameReady
                } else {
                    Outcome::Quiet
                }
            }
            Err(message) => {
                self.successes = 0;
                self.failures += 1;
                let flip = self.failures >= self.failure_threshold
                    && match self.kind {
                        Kind::Readiness => ready,
                        Kind::Liveness => true,
                    };
                if flip && self.kind == Kind::Liveness {
                    // The restarted container starts counting afresh.
                    self.failures = 0;
                }
                Outcome::Failed { message, flip }
            }
        }
    }
}

/// Whether a probe succeeds against a run at `now`: HTTP and TCP probes need a listening
/// port; exec probes run their command with the run's current files.
pub(crate) fn check(
    store: &Store,
    probe: &Value,
    inst: &Instance,
    ip: &str,
    behavior: &Arc<dyn ContainerBehavior>,
    info: &ImageInfo,
    now: Timestamp,
) -> Result<(), String> {
    let port_of = |v: Option<&Value>| -> Option<u16> {
        match v {
            Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            _ => None,
        }
    };
    if let Some(get) = probe.get("httpGet") {
        let port = port_of(get.get("port"));
        if let (Some(p), Some(listening)) = (port, &inst.plan.listening)
            && !listening.contains(&p)
        {
            let path = s(get, "/path").unwrap_or("/");
            let scheme = s(get, "/scheme").unwrap_or("HTTP").to_ascii_lowercase();
            return Err(format!(
                "Get \"{scheme}://{ip}:{p}{path}\": dial tcp {ip}:{p}: connect: connection refused"
            ));
        }
        return Ok(());
    }
    if let Some(tcp) = probe.get("tcpSocket") {
        let port = port_of(tcp.get("port"));
        if let (Some(p), Some(listening)) = (port, &inst.plan.listening)
            && !listening.contains(&p)
        {
            return Err(format!("dial tcp {ip}:{p}: connect: connection refused"));
        }
        return Ok(());
    }
    if let Some(cmd) = probe.pointer("/exec/command").and_then(Value::as_array) {
        let argv: Vec<String> = cmd
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let out = runtime::probe_command(store, behavior, info, inst, &argv, now);
        return if out.exit_code == 0 {
            Ok(())
        } else {
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            Err(text.trim_end().to_string())
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    #[test]
    fn schedule_follows_delay_and_period_scaled() {
        let probe = json!({"initialDelaySeconds": 20, "periodSeconds": 10});
        let mut w = Worker::new(Kind::Readiness, &probe, at("2026-01-01T00:00:00Z"), 0.5);
        assert_eq!(w.next, at("2026-01-01T00:00:10Z"));
        w.record(Ok(()), false);
        assert_eq!(w.next, at("2026-01-01T00:00:15Z"));
    }

    #[test]
    fn readiness_thresholds() {
        let probe = json!({"successThreshold": 2, "failureThreshold": 2});
        let mut w = Worker::new(Kind::Readiness, &probe, at("2026-01-01T00:00:00Z"), 1.0);
        assert_eq!(w.record(Ok(()), false), Outcome::Quiet);
        assert_eq!(w.record(Ok(()), false), Outcome::BecameReady);
        let fail = || Err("no".to_string());
        assert_eq!(
            w.record(fail(), true),
            Outcome::Failed {
                message: "no".into(),
                flip: false
            }
        );
        assert_eq!(
            w.record(fail(), true),
            Outcome::Failed {
                message: "no".into(),
                flip: true
            }
        );
        // A success in between resets the count.
        assert_eq!(w.record(Ok(()), false), Outcome::Quiet);
    }

    #[test]
    fn only_probes_that_may_change_something_are_foreground() {
        let mut w = Worker::new(Kind::Readiness, &json!({}), at("2026-01-01T00:00:00Z"), 1.0);
        assert!(w.may_change(false), "never probed");
        w.not_up_yet();
        assert!(w.may_change(false), "waiting for the process");
        assert_eq!(w.record(Ok(()), false), Outcome::BecameReady);
        assert!(!w.may_change(true), "ready and answering");
        w.record(Err("x".into()), true);
        assert!(w.may_change(true), "on the way to unready");
        w.unsettle();
        assert!(w.may_change(false));
    }

    #[test]
    fn liveness_kills_after_the_threshold_and_counts_afresh() {
        let probe = json!({"failureThreshold": 2});
        let mut w = Worker::new(Kind::Liveness, &probe, at("2026-01-01T00:00:00Z"), 1.0);
        let fail = || Err("down".to_string());
        assert!(matches!(
            w.record(fail(), false),
            Outcome::Failed { flip: false, .. }
        ));
        assert!(matches!(
            w.record(fail(), false),
            Outcome::Failed { flip: true, .. }
        ));
        assert!(matches!(
            w.record(fail(), false),
            Outcome::Failed { flip: false, .. }
        ));
        assert_eq!(
            Worker::for_container(
                &json!({"livenessProbe": probe}),
                at("2026-01-01T00:00:00Z"),
                1.0
            )
            .len(),
            1
        );
    }
}

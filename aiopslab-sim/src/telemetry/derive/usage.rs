//! The kubelet's usage model over time: what `kubectl top` reports at any instant, and its
//! integral (CPU seconds) between any two instants.
//!
//! metrics-server in the virtual cluster ([`crate::controllers::metrics`]) reports a running
//! container's steady usage ([`Usage`]) times a deterministic wobble that changes every clock
//! minute. The same formula evaluated at a past instant gives the past value, so cAdvisor's
//! gauges equal `kubectl top` at the scrape times and `rate(container_cpu_usage_seconds_total)`
//! averages the same numbers. The formula is kept identical to the kubelet's on purpose; a test
//! compares the two.

use crate::controllers::behavior::Usage;
use crate::controllers::util::fnv64;
use std::collections::HashMap;
use std::sync::Mutex;

const MINUTE_MS: i64 = 60_000;

/// The per-minute wobble (0.9 .. 1.1) of a container, keyed `"<pod uid>/<container>"`.
pub(crate) fn wobble(seed_key: &str, minute: i64) -> f64 {
    let h = fnv64(format!("{seed_key}/{minute}").as_bytes());
    0.9 + (h % 2001) as f64 / 10_000.0
}

/// CPU in nanocores at instant `t_ms`, as `kubectl top` shows it.
pub(crate) fn cpu_nanocores(u: &Usage, seed_key: &str, t_ms: i64) -> u64 {
    let w = wobble(seed_key, t_ms.div_euclid(MINUTE_MS));
    (u.cpu_millicores * 1e6 * w).max(0.0) as u64
}

/// Working-set memory in bytes at instant `t_ms`, as `kubectl top` shows it.
pub(crate) fn memory_bytes(u: &Usage, seed_key: &str, t_ms: i64) -> u64 {
    let w = wobble(seed_key, t_ms.div_euclid(MINUTE_MS));
    let mem_w = 1.0 + (w - 1.0) / 4.0;
    (u.memory_bytes as f64 * mem_w) as u64
}

/// Usage changes of one container run: `(from_ms, usage)`, sorted, the first at the start.
pub(crate) type Segments = [(i64, Usage)];

/// The usage in force at `t_ms`.
pub(crate) fn usage_at(segments: &Segments, t_ms: i64) -> Usage {
    let i = segments.partition_point(|(from, _)| *from <= t_ms);
    segments
        .get(i.saturating_sub(1))
        .map(|(_, u)| *u)
        .unwrap_or_default()
}

/// Integrates CPU seconds and tracks the peak working set along a run, moving forward only.
///
/// The integral advances in whole pieces between fixed boundaries (clock minutes and usage
/// changes) and adds the partial piece up to the instant asked for without keeping it, so the
/// value at an instant does not depend on which instants were asked for before: overlapping
/// queries get bit-identical samples.
pub(crate) struct Integrator<'a> {
    key: &'a str,
    segments: &'a Segments,
    /// The last boundary reached.
    at: i64,
    /// CPU seconds used from the start to `at`.
    acc: f64,
    /// The highest working set at the start and at the boundaries up to `at`.
    peak: u64,
    /// CPU seconds used from the start to the last instant asked for.
    pub cpu_seconds: f64,
    /// The highest working set from the start to the last instant asked for.
    pub peak_memory: u64,
}

impl<'a> Integrator<'a> {
    /// Starts at `start_ms` with nothing used.
    pub fn new(key: &'a str, segments: &'a Segments, start_ms: i64) -> Self {
        let u = usage_at(segments, start_ms);
        let m = memory_bytes(&u, key, start_ms);
        Integrator {
            key,
            segments,
            at: start_ms,
            acc: 0.0,
            peak: m,
            cpu_seconds: 0.0,
            peak_memory: m,
        }
    }

    /// Resumes from a boundary state saved with [`state`](Self::state).
    fn resume(key: &'a str, segments: &'a Segments, (at, acc, peak): (i64, f64, u64)) -> Self {
        Integrator {
            key,
            segments,
            at,
            acc,
            peak,
            cpu_seconds: acc,
            peak_memory: peak,
        }
    }

    /// The last boundary reached and the integral and peak there.
    fn state(&self) -> (i64, f64, u64) {
        (self.at, self.acc, self.peak)
    }

    fn next_boundary(&self) -> i64 {
        let minute_end = (self.at.div_euclid(MINUTE_MS) + 1) * MINUTE_MS;
        let next_seg = self
            .segments
            .iter()
            .map(|(from, _)| *from)
            .find(|from| *from > self.at)
            .unwrap_or(i64::MAX);
        minute_end.min(next_seg)
    }

    fn piece(&self, to: i64) -> f64 {
        let u = usage_at(self.segments, self.at);
        let nanos = cpu_nanocores(&u, self.key, self.at);
        nanos as f64 / 1e9 * (to - self.at) as f64 / 1000.0
    }

    /// Integrates up to `to_ms` (instants before the last one asked for are not revisited).
    pub fn advance_to(&mut self, to_ms: i64) {
        loop {
            let b = self.next_boundary();
            if b > to_ms {
                break;
            }
            self.acc += self.piece(b);
            self.at = b;
            let u = usage_at(self.segments, b);
            self.peak = self.peak.max(memory_bytes(&u, self.key, b));
        }
        if to_ms >= self.at {
            self.cpu_seconds = self.acc + self.piece(to_ms);
            let u = usage_at(self.segments, to_ms);
            self.peak_memory = self.peak.max(memory_bytes(&u, self.key, to_ms));
        }
    }
}

/// Integration states at piece boundaries, remembered across queries, so that a long-lived
/// container is not integrated from its start at every query. Values stay bit-identical: a
/// resumed integration adds the same pieces in the same order.
#[derive(Debug, Default)]
pub(crate) struct Checkpoints {
    map: Mutex<HashMap<u64, (i64, f64, u64)>>,
}

/// Checkpoints kept before the map is cleared.
const MAX_CHECKPOINTS: usize = 100_000;

impl Checkpoints {
    fn id(key: &str, segments: &Segments, start: i64) -> u64 {
        let mut text = format!("{key}|{start}");
        for (from, u) in segments {
            text.push_str(&format!(
                "|{from}:{}:{}",
                u.cpu_millicores.to_bits(),
                u.memory_bytes
            ));
        }
        fnv64(text.as_bytes())
    }

    /// An integrator of the run from `start`, resumed from the latest saved boundary not later
    /// than `first` when there is one, advanced to `first`; the boundary it reached is saved.
    pub fn integrator<'a>(
        &self,
        key: &'a str,
        segments: &'a Segments,
        start: i64,
        first: i64,
    ) -> Integrator<'a> {
        let id = Self::id(key, segments, start);
        let saved = self
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .copied()
            .filter(|(at, _, _)| *at <= first && *at >= start);
        let mut integ = match saved {
            Some(state) => Integrator::resume(key, segments, state),
            None => Integrator::new(key, segments, start),
        };
        if first >= start {
            integ.advance_to(first);
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() >= MAX_CHECKPOINTS {
                map.clear();
            }
            map.insert(id, integ.state());
        }
        integ
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(m: f64, mem: u64) -> Usage {
        Usage {
            cpu_millicores: m,
            memory_bytes: mem,
        }
    }

    #[test]
    fn integral_matches_piecewise_sum() {
        let segs = [(0, u(100.0, 1 << 20)), (90_000, u(300.0, 2 << 20))];
        let mut i = Integrator::new("p/c", &segs, 0);
        i.advance_to(180_000);
        let expect: f64 = [
            (0, 60_000),
            (60_000, 90_000),
            (90_000, 120_000),
            (120_000, 180_000),
        ]
        .iter()
        .map(|(a, b)| {
            let n = cpu_nanocores(&usage_at(&segs, *a), "p/c", *a);
            n as f64 / 1e9 * (b - a) as f64 / 1000.0
        })
        .sum();
        assert!((i.cpu_seconds - expect).abs() < 1e-9);
        // About 0.1 core for 90 s and 0.3 core for 90 s.
        assert!((i.cpu_seconds - 36.0).abs() < 4.0, "{}", i.cpu_seconds);
        assert!(i.peak_memory >= (2 << 20) * 97 / 100);
    }

    #[test]
    fn values_do_not_depend_on_earlier_instants() {
        let segs = [(7_000, u(123.0, 1 << 20)), (95_500, u(321.0, 3 << 20))];
        let mut a = Integrator::new("p/c", &segs, 7_000);
        for t in (15_000..=600_000).step_by(15_000) {
            a.advance_to(t);
        }
        let mut b = Integrator::new("p/c", &segs, 7_000);
        b.advance_to(600_000);
        assert_eq!(a.cpu_seconds.to_bits(), b.cpu_seconds.to_bits());
        assert_eq!(a.peak_memory, b.peak_memory);
    }

    #[test]
    fn checkpoints_resume_exactly() {
        let segs = [(7_000, u(123.0, 1 << 20)), (95_500, u(321.0, 3 << 20))];
        let cps = Checkpoints::default();
        let mut a = cps.integrator("p/c", &segs, 7_000, 300_000);
        a.advance_to(900_000);
        // The second one resumes at the boundary before 300 s.
        let mut b = cps.integrator("p/c", &segs, 7_000, 420_000);
        b.advance_to(900_000);
        let mut c = Integrator::new("p/c", &segs, 7_000);
        c.advance_to(900_000);
        assert_eq!(a.cpu_seconds.to_bits(), c.cpu_seconds.to_bits());
        assert_eq!(b.cpu_seconds.to_bits(), c.cpu_seconds.to_bits());
        assert_eq!(b.peak_memory, c.peak_memory);
    }

    #[test]
    fn usage_at_picks_segment() {
        let segs = [(10, u(1.0, 1)), (20, u(2.0, 2))];
        assert_eq!(usage_at(&segs, 5).memory_bytes, 1);
        assert_eq!(usage_at(&segs, 20).memory_bytes, 2);
    }
}

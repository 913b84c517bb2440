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
/// ```text
/// let mut i = Integrator::new(key, segments, start_ms);
/// i.advance_to(t1); i.cpu_seconds  // CPU seconds used in [start, t1]
/// ```
pub(crate) struct Integrator<'a> {
    key: &'a str,
    segments: &'a Segments,
    /// Where the integration has got to.
    pub t: i64,
    /// CPU seconds used from the start to `t`.
    pub cpu_seconds: f64,
    /// The highest per-minute working set seen from the start to `t`.
    pub peak_memory: u64,
}

impl<'a> Integrator<'a> {
    /// Starts at `start_ms` with nothing used.
    pub fn new(key: &'a str, segments: &'a Segments, start_ms: i64) -> Self {
        Integrator {
            key,
            segments,
            t: start_ms,
            cpu_seconds: 0.0,
            peak_memory: 0,
        }
    }

    /// Integrates up to `to_ms` (no-op when `to_ms` is not later than where it is).
    pub fn advance_to(&mut self, to_ms: i64) {
        if self.peak_memory == 0 {
            let u = usage_at(self.segments, self.t);
            self.peak_memory = memory_bytes(&u, self.key, self.t);
        }
        while self.t < to_ms {
            let minute_end = (self.t.div_euclid(MINUTE_MS) + 1) * MINUTE_MS;
            let next_seg = self
                .segments
                .iter()
                .map(|(from, _)| *from)
                .find(|from| *from > self.t)
                .unwrap_or(i64::MAX);
            let stop = to_ms.min(minute_end).min(next_seg);
            let u = usage_at(self.segments, self.t);
            let nanos = cpu_nanocores(&u, self.key, self.t);
            self.cpu_seconds += nanos as f64 / 1e9 * (stop - self.t) as f64 / 1000.0;
            self.t = stop;
            let u = usage_at(self.segments, self.t);
            self.peak_memory = self.peak_memory.max(memory_bytes(&u, self.key, self.t));
        }
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
    fn usage_at_picks_segment() {
        let segs = [(10, u(1.0, 1)), (20, u(2.0, 2))];
        assert_eq!(usage_at(&segs, 5).memory_bytes, 1);
        assert_eq!(usage_at(&segs, 20).memory_bytes, 2);
    }
}

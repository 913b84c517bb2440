//! The open-loop load of one wrk2 run, simulated event by event in simulated microseconds.
//!
//! It follows DeathStarBench's wrk2: `-c / -t` connections per thread (integer division), a
//! per-thread rate of `-R / -t` (integer division), each connection starting `i` ms after its
//! thread and sending on its own schedule (`fixed`, `exp`, `zipf` gaps of mean
//! `1e6 * connections_per_thread / thread_rate` us) whether or not earlier responses came back
//! (responses on one connection still come back in order). `norm`, which that wrk2 does not
//! pace at all, sends the next request when the previous answer arrives. Each thread stops at
//! the first response after the end of the test or at its next timeout check (every 2 s);
//! calibration runs `10 s + connections` ms into a thread (printing `Thread calibration`,
//! resetting the latency histogram, then sampling requests per second). When calibration is
//! due at the very moment the thread stops (a 10 s run), the stop wins: the real wrk2 would
//! reset the histogram just before printing it and report almost no latencies.
//!
//! Socket errors: a refused connection counts a connect error (and prints `reconnect_socket`,
//! as that wrk2 does on every reconnect), a connection closed mid-request a read error, a
//! request that gets no answer a timeout. (The real tool, against a refused port, spins in a
//! reconnect loop counting read/write errors by the thousand, and counts as timeouts the
//! connections that sent nothing for 2 s; one error per scheduled request keeps the numbers
//! comparable to the rate.)

use super::args::{Dist, WrkArgs};
use super::hdr::Hdr;
use super::report::{Errors, Report};
use super::script::{HttpRequest, Mix};
use super::sink::Outcome;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const CALIBRATE_DELAY_US: u64 = 10_000_000;
const TIMEOUT_INTERVAL_US: u64 = 2_000_000;
/// Most `reconnect_socket` lines printed (the real one prints without end).
const MAX_RECONNECT_LINES: usize = 10_000;
/// Most requests one run simulates (a `norm` run against a fast server would send millions).
pub const MAX_REQUESTS: u64 = 500_000;

#[derive(Debug, Clone)]
struct Conn {
    thread: usize,
    /// When the next request goes out; `None`: this connection sends no more.
    next_send: Option<u64>,
    /// When the last response on this connection arrives.
    busy_until: u64,
}

#[derive(Debug, Clone)]
struct Thread {
    latency: Hdr,
    complete: u64,
    requests: u64,
    bytes: u64,
    errors: Errors,
    /// When the thread's event loop stopped.
    stopped: Option<u64>,
    next_check: u64,
    calibrate_at: Option<u64>,
    sample_at: Option<u64>,
    sample_start: u64,
    interval_us: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Completion {
    at: u64,
    thread: usize,
    sent: u64,
    status: u16,
    bytes: u64,
}

/// The state of one run between two looks of the kubelet.
#[derive(Debug, Clone)]
pub struct Load {
    url: String,
    duration_us: u64,
    threads_n: u64,
    connections: u64,
    latency_flag: bool,
    dist: Dist,
    interval_us: f64,
    zipf_scalar: f64,
    timeout_us: u64,
    mix: Mix,
    rng: ChaCha8Rng,
    conns: Vec<Conn>,
    threads: Vec<Thread>,
    pending: BinaryHeap<Reverse<Completion>>,
    req_per_sec: Hdr,
    during: Vec<(u64, String)>,
    reconnect_lines: usize,
    sent: u64,
    /// Simulated time reached.
    pub now: u64,
}

/// An event of the simulation, in time order.
enum Event {
    Check(usize),
    Complete,
    Calibrate(usize),
    Sample(usize),
    Send(usize),
}

impl Load {
    /// A run of `args` against its first URL with `mix`, seeded with `seed`.
    pub fn new(args: &WrkArgs, mix: Mix, seed: u64) -> Load {
        let threads_n = args.threads.max(1);
        let per_thread = args.connections / threads_n;
        let throughput = args.rate / threads_n;
        let interval_us = if throughput == 0 {
            f64::INFINITY
        } else {
            1_000_000.0 * per_thread as f64 / throughput as f64
        };
        let mut conns = Vec::new();
        let mut threads = Vec::new();
        for t in 0..threads_n as usize {
            for _ in 0..per_thread {
                conns.push(Conn {
                    thread: t,
                    next_send: None,
                    busy_until: 0,
                });
            }
            threads.push(Thread {
                latency: Hdr::new(),
                complete: 0,
                requests: 0,
                bytes: 0,
                errors: Errors::default(),
                stopped: None,
                next_check: TIMEOUT_INTERVAL_US + per_thread * 1000,
                calibrate_at: Some(CALIBRATE_DELAY_US + per_thread * 1000),
                sample_at: None,
                sample_start: 0,
                interval_us: 0,
            });
        }
        // Zipf over 100 ranks with alpha 3, scaled so that the mean gap is the interval.
        let norm: f64 = 1.0 / (1..=100).map(|i| 1.0 / (i as f64).powi(3)).sum::<f64>();
        let mean_rank: f64 = (1..=100)
            .map(|i| i as f64 * norm / (i as f64).powi(3))
            .sum();
        let mut load = Load {
            url: args
                .urls
                .first()
                .map(|u| u.text.clone())
                .unwrap_or_default(),
            duration_us: args.duration_secs.saturating_mul(1_000_000),
            threads_n,
            connections: args.connections,
            latency_flag: args.latency,
            dist: args.dist,
            interval_us,
            zipf_scalar: interval_us / mean_rank,
            timeout_us: args.timeout_ms.saturating_mul(1000),
            mix,
            rng: ChaCha8Rng::seed_from_u64(seed),
            conns,
            threads,
            pending: BinaryHeap::new(),
            req_per_sec: Hdr::new(),
            during: Vec::new(),
            reconnect_lines: 0,
            sent: 0,
            now: 0,
        };
        // Connection i of a thread starts i ms after it; its first request one gap later.
        let mut index_in_thread = vec![0u64; threads_n as usize];
        for c in 0..load.conns.len() {
            let t = load.conns[c].thread;
            let start = index_in_thread[t] * 1000;
            index_in_thread[t] += 1;
            load.conns[c].next_send = load.gap().map(|g| start + g);
            load.conns[c].busy_until = start;
        }
        load
    }

    /// The requested duration in microseconds.
    pub fn duration_us(&self) -> u64 {
        self.duration_us
    }

    /// Whether every thread has stopped.
    pub fn finished(&self) -> bool {
        self.threads.iter().all(|t| t.stopped.is_some())
    }

    /// The gap before a connection's next request; `None` when it never sends (a rate below
    /// one request per second per thread: wrk2's interval is then infinite).
    fn gap(&mut self) -> Option<u64> {
        if !self.interval_us.is_finite() {
            return None;
        }
        Some(match self.dist {
            Dist::Fixed => self.interval_us as u64,
            Dist::Exp => {
                let z: f64 = loop {
                    let z: f64 = self.rng.random();
                    if z > 0.0 && z < 1.0 {
                        break z;
                    }
                };
                (-z.ln() * self.interval_us) as u64
            }
            Dist::Zipf => {
                let norm: f64 = 1.0 / (1..=100).map(|i| 1.0 / (i as f64).powi(3)).sum::<f64>();
                let z: f64 = self.rng.random();
                let mut sum = 0.0;
                let mut rank = 100;
                for i in 1..=100 {
                    sum += norm / (i as f64).powi(3);
                    if sum >= z {
                        rank = i;
                        break;
                    }
                }
                (rank as f64 * self.zipf_scalar) as u64
            }
            Dist::Norm => 0,
        })
    }

    fn next_event(&self) -> Option<(u64, Event)> {
        let mut best: Option<(u64, Event)> = None;
        let consider = |at: u64, e: Event, best: &mut Option<(u64, Event)>| {
            if best.as_ref().is_none_or(|(b, _)| at < *b) {
                *best = Some((at, e));
            }
        };
        // Order of ties: stops first, then responses, calibration, sampling, sends.
        for (i, t) in self.threads.iter().enumerate() {
            if t.stopped.is_none() {
                consider(t.next_check, Event::Check(i), &mut best);
            }
        }
        if let Some(Reverse(c)) = self.pending.peek() {
            consider(c.at, Event::Complete, &mut best);
        }
        for (i, t) in self.threads.iter().enumerate() {
            if t.stopped.is_some() {
                continue;
            }
            if let Some(at) = t.calibrate_at {
                consider(at, Event::Calibrate(i), &mut best);
            }
            if let Some(at) = t.sample_at {
                consider(at, Event::Sample(i), &mut best);
            }
        }
        for (i, c) in self.conns.iter().enumerate() {
            if let Some(at) = c.next_send
                && self.threads[c.thread].stopped.is_none()
            {
                consider(at, Event::Send(i), &mut best);
            }
        }
        best
    }

    /// Runs every event up to `until` (simulated us). `send` answers one request sent at a
    /// simulated time with a seed.
    pub fn advance(&mut self, until: u64, send: &mut dyn FnMut(&HttpRequest, u64, u64) -> Outcome) {
        while let Some((at, event)) = self.next_event() {
            if at > until {
                break;
            }
            self.now = self.now.max(at);
            match event {
                Event::Check(t) => {
                    if at >= self.duration_us {
                        self.threads[t].stopped = Some(at);
                    } else {
                        self.threads[t].next_check = at + TIMEOUT_INTERVAL_US;
                    }
                }
                Event::Complete => {
                    let Some(Reverse(c)) = self.pending.pop() else {
                        continue;
                    };
                    self.complete(c);
                }
                Event::Calibrate(t) => self.calibrate(t, at),
                Event::Sample(t) => {
                    let th = &mut self.threads[t];
                    let elapsed_ms = (at - th.sample_start) / 1000;
                    let rate = if elapsed_ms == 0 {
                        0
                    } else {
                        (th.requests as f64 / elapsed_ms as f64 * 1000.0) as u64
                    };
                    self.req_per_sec.record(rate);
                    th.requests = 0;
                    th.sample_start = at;
                    th.sample_at = Some(at + th.interval_us);
                }
                Event::Send(c) => self.send(c, at, send),
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs until every thread has stopped.
    pub fn finish(&mut self, send: &mut dyn FnMut(&HttpRequest, u64, u64) -> Outcome) {
        // Every thread stops at its first timeout check after the end at the latest.
        let last = self.duration_us + TIMEOUT_INTERVAL_US + self.conns.len() as u64 * 1000 + 1;
        self.advance(last, send);
        for t in &mut self.threads {
            if t.stopped.is_none() {
                t.stopped = Some(last);
            }
        }
    }

    fn complete(&mut self, c: Completion) {
        let th = &mut self.threads[c.thread];
        if th.stopped.is_some() {
            return;
        }
        th.complete += 1;
        th.requests += 1;
        th.bytes += c.bytes;
        if c.status > 399 {
            th.errors.status += 1;
        }
        if c.at >= self.duration_us {
            th.stopped = Some(c.at);
            return;
        }
        th.latency.record(c.at - c.sent);
    }

    fn calibrate(&mut self, t: usize, at: u64) {
        let th = &mut self.threads[t];
        let mean = th.latency.mean();
        if mean == 0.0 {
            th.calibrate_at = Some(at + CALIBRATE_DELAY_US);
            return;
        }
        th.calibrate_at = None;
        // wrk2 keeps the mean as an integer: NaN (no response yet) becomes 2^63.
        let mean_us: u64 = if mean.is_nan() { 1 << 63 } else { mean as u64 };
        let p90_ms = th.latency.value_at_percentile(90.0) as f64 / 1000.0;
        let interval_ms = (p90_ms * 2.0).max(10.0) as u64;
        th.latency.reset();
        th.requests = 0;
        th.sample_start = at;
        th.interval_us = interval_ms * 1000;
        th.sample_at = Some(at + th.interval_us);
        self.during.push((
            at,
            format!(
                "  Thread calibration: mean lat.: {:.3}ms, rate sampling interval: {interval_ms}ms",
                mean_us as f64 / 1000.0
            ),
        ));
    }

    fn send(&mut self, c: usize, at: u64, send: &mut dyn FnMut(&HttpRequest, u64, u64) -> Outcome) {
        if self.sent >= MAX_REQUESTS {
            self.conns[c].next_send = None;
            return;
        }
        self.sent += 1;
        let request = self.mix.next(&mut self.rng);
        let seed: u64 = self.rng.random();
        let outcome = send(&request, at, seed);
        let thread = self.conns[c].thread;
        let mut answered_at = None;
        match outcome {
            Outcome::Response {
                status,
                latency_us,
                bytes,
            } => {
                let done = self.conns[c].busy_until.max(at) + latency_us.max(1);
                self.conns[c].busy_until = done;
                answered_at = Some(done);
                self.pending.push(Reverse(Completion {
                    at: done,
                    thread,
                    sent: at,
                    status,
                    bytes,
                }));
            }
            Outcome::Refused => {
                self.threads[thread].errors.connect += 1;
                self.reconnect(at);
            }
            Outcome::Reset => {
                self.threads[thread].errors.read += 1;
                self.reconnect(at);
            }
            Outcome::Timeout => self.threads[thread].errors.timeout += 1,
        }
        let next = match self.dist {
            Dist::Norm => Some(match (answered_at, outcome) {
                (Some(done), _) => done,
                (None, Outcome::Timeout) => at + self.timeout_us.max(1),
                _ => at + 1000,
            }),
            _ => self.gap().map(|g| at + g),
        };
        self.conns[c].next_send = next;
    }

    fn reconnect(&mut self, at: u64) {
        if self.reconnect_lines < MAX_RECONNECT_LINES {
            self.reconnect_lines += 1;
            self.during.push((at, "reconnect_socket".to_string()));
        }
    }

    /// The report, from what has been simulated (call after [`Load::finish`]).
    pub fn report(&self) -> Report {
        let mut latency = Hdr::new();
        let mut errors = Errors::default();
        let mut complete = 0;
        let mut bytes = 0;
        for t in &self.threads {
            latency.add(&t.latency);
            complete += t.complete;
            bytes += t.bytes;
            errors.connect += t.errors.connect;
            errors.read += t.errors.read;
            errors.write += t.errors.write;
            errors.timeout += t.errors.timeout;
            errors.status += t.errors.status;
        }
        let runtime_us = self
            .threads
            .iter()
            .filter_map(|t| t.stopped)
            .max()
            .unwrap_or(self.now)
            .max(1);
        let mut during = self.during.clone();
        during.sort_by_key(|(at, _)| *at);
        Report {
            url: self.url.clone(),
            duration_secs: self.duration_us / 1_000_000,
            threads: self.threads_n,
            connections: self.connections,
            latency_distribution: self.latency_flag,
            during: during.into_iter().map(|(_, l)| l).collect(),
            latency,
            req_per_sec: self.req_per_sec.clone(),
            complete,
            bytes,
            runtime_us,
            errors,
        }
    }

    /// Requests sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::args::parse;
    use crate::workload::script::Mix;
    use std::collections::BTreeMap;

    fn load(cmd: &str) -> Load {
        let argv: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
        let args = parse(&argv).unwrap();
        let mix = Mix::recognise(None, &BTreeMap::new(), &args.urls[0]);
        Load::new(&args, mix, 42)
    }

    fn ok(latency_us: u64) -> impl FnMut(&HttpRequest, u64, u64) -> Outcome {
        move |_, _, _| Outcome::Response {
            status: 200,
            latency_us,
            bytes: 500,
        }
    }

    #[test]
    fn exp_rate_over_the_duration() {
        let mut l = load("wrk -D exp -t 2 -c 2 -d 10s -L http://h:1 -R 10");
        l.finish(&mut ok(2000));
        let r = l.report();
        assert!((70..=130).contains(&r.complete), "{}", r.complete);
        let recorded = r.latency.total_count();
        assert!(
            recorded <= r.complete && recorded + 2 >= r.complete,
            "{recorded} {}",
            r.complete
        );
        assert!(
            r.runtime_us >= 10_000_000 && r.runtime_us < 10_300_000,
            "{}",
            r.runtime_us
        );
        assert_eq!(r.errors, Errors::default());
        assert!(r.during.is_empty(), "no calibration in a 10 s run");
        assert_eq!(r.latency.value_at_percentile(50.0), 2000);
    }

    #[test]
    fn fixed_rate_is_exact_and_deterministic() {
        let mut l = load("wrk -D fixed -t 2 -c 4 -d 5s http://h:1 -R 100");
        l.finish(&mut ok(1000));
        let r = l.report();
        // 4 connections at 25/s each for 5 s, plus the response that stops each thread.
        assert!((498..=502).contains(&r.complete), "{}", r.complete);
        let mut again = load("wrk -D fixed -t 2 -c 4 -d 5s http://h:1 -R 100");
        again.finish(&mut ok(1000));
        assert_eq!(format!("{:?}", again.report()), format!("{r:?}"));
    }

    #[test]
    fn long_runs_calibrate_and_sample() {
        let mut l = load("wrk -D exp -t 2 -c 2 -d 20s http://h:1 -R 100");
        l.finish(&mut ok(3000));
        let r = l.report();
        assert_eq!(r.during.len(), 2, "{:?}", r.during);
        assert!(
            r.during[0].starts_with("  Thread calibration: mean lat.: 3."),
            "{}",
            r.during[0]
        );
        assert!(r.during[0].ends_with("rate sampling interval: 10ms"));
        // Latencies after calibration only: about half of the run.
        let recorded = r.latency.total_count();
        assert!(recorded > 700 && recorded < 1300, "{recorded}");
        assert!(r.req_per_sec.total_count() > 1000);
    }

    #[test]
    fn refused_and_timeouts_are_socket_errors() {
        let mut l = load("wrk -D exp -t 2 -c 2 -d 10s http://h:1 -R 10");
        l.finish(&mut |_: &HttpRequest, _, _| Outcome::Refused);
        let r = l.report();
        assert_eq!(r.complete, 0);
        assert!((70..=130).contains(&r.errors.connect), "{:?}", r.errors);
        assert_eq!(r.during.len() as u64, r.errors.connect);
        assert!(r.during.iter().all(|l| l == "reconnect_socket"));
        assert!(r.runtime_us >= 10_000_000);
        let mut l = load("wrk -D exp -t 2 -c 2 -d 10s http://h:1 -R 10");
        l.finish(&mut |_: &HttpRequest, _, _| Outcome::Timeout);
        assert!(l.report().errors.timeout > 50);
    }

    #[test]
    fn norm_is_closed_loop_and_capped() {
        let mut l = load("wrk -D norm -t 1 -c 1 -d 2s http://h:1 -R 10");
        l.finish(&mut ok(10_000));
        let r = l.report();
        // 10 ms per request back to back: about 200 in 2 s, whatever -R says.
        assert!((195..=202).contains(&r.complete), "{}", r.complete);
    }

    #[test]
    fn responses_on_one_connection_come_back_in_order() {
        let mut l = load("wrk -D fixed -t 1 -c 1 -d 2s http://h:1 -R 10");
        // 250 ms per answer, one request every 100 ms: answers queue up behind each other.
        l.finish(&mut ok(250_000));
        let r = l.report();
        assert!(r.complete <= 9, "{}", r.complete);
        assert!(r.latency.max() > 1_000_000, "{}", r.latency.max());
    }

    #[test]
    fn rate_below_threads_sends_nothing() {
        let mut l = load("wrk -D exp -t 4 -c 4 -d 2s http://h:1 -R 3");
        l.finish(&mut ok(1000));
        assert_eq!(l.report().complete, 0);
        assert_eq!(l.sent(), 0);
    }
}

//! The parameters of one wrk2 run and the command line AIOpsLab builds from them.

use crate::error::{Result, WorkloadError};
use std::fmt;
use std::str::FromStr;

/// How wrk2 spaces the requests of one connection (`-D`).
///
/// DeathStarBench's wrk2 knows `fixed`, `exp`, `norm` and `zipf`. Its `norm` is not
/// implemented: the inter-arrival time is 0, so `-R` is ignored and every connection sends as
/// fast as it can. AIOpsLab's `Wrk` defaults to `norm`, but every problem passes `exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Distribution {
    /// A constant gap of `connections / rate` seconds per connection.
    Fixed,
    /// Exponential gaps (a Poisson process) with that mean.
    Exp,
    /// AIOpsLab's default; no pacing at all in DeathStarBench's wrk2 (see above).
    #[default]
    Norm,
    /// Zipf-distributed gaps (alpha 3 over 100 ranks) scaled to that mean.
    Zipf,
}

impl Distribution {
    /// The name wrk2 takes after `-D`.
    pub fn as_str(self) -> &'static str {
        match self {
            Distribution::Fixed => "fixed",
            Distribution::Exp => "exp",
            Distribution::Norm => "norm",
            Distribution::Zipf => "zipf",
        }
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Distribution {
    type Err = WorkloadError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fixed" => Ok(Distribution::Fixed),
            "exp" => Ok(Distribution::Exp),
            "norm" => Ok(Distribution::Norm),
            "zipf" => Ok(Distribution::Zipf),
            other => Err(WorkloadError::InvalidParameters(format!(
                "unknown distribution {other:?}; wrk2 knows fixed, exp, norm and zipf"
            ))),
        }
    }
}

/// One wrk2 run as AIOpsLab's `Wrk(rate, dist, connections, duration, threads, latency)`
/// describes it.
///
/// ```
/// use aiopslab_workload::{Distribution, Wrk2};
/// let wrk = Wrk2::problem_default();
/// assert_eq!(
///     wrk.args("compose-post.lua", "http://10.96.0.20:8080/wrk2-api/post/compose").join(" "),
///     "wrk -D exp -t 2 -c 2 -d 10s -L -s /scripts/compose-post.lua \
///      http://10.96.0.20:8080/wrk2-api/post/compose -R 10 --latency"
/// );
/// assert_eq!(Wrk2::new(100).distribution, Distribution::Norm);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Wrk2 {
    /// Requests per second over all connections (`-R`).
    pub rate: u64,
    /// Spacing of the requests (`-D`).
    pub distribution: Distribution,
    /// Open connections (`-c`); at least `threads`.
    pub connections: u64,
    /// Length of the run in seconds (`-d <n>s`).
    pub duration: u64,
    /// Threads (`-t`).
    pub threads: u64,
    /// Append `--latency` (the flag is already there as `-L`; AIOpsLab adds both).
    pub latency: bool,
}

impl Wrk2 {
    /// AIOpsLab's constructor defaults: `dist="norm"`, 2 connections, 6 s, 2 threads,
    /// `latency=True`.
    pub fn new(rate: u64) -> Self {
        Wrk2 {
            rate,
            distribution: Distribution::Norm,
            connections: 2,
            duration: 6,
            threads: 2,
            latency: true,
        }
    }

    /// What AIOpsLab's problems start: `Wrk(rate=10, dist="exp", connections=2, duration=10,
    /// threads=2)`.
    pub fn problem_default() -> Self {
        Wrk2 {
            distribution: Distribution::Exp,
            duration: 10,
            ..Wrk2::new(10)
        }
    }

    /// Sets the distribution.
    pub fn with_distribution(mut self, distribution: Distribution) -> Self {
        self.distribution = distribution;
        self
    }

    /// Sets the number of connections.
    pub fn with_connections(mut self, connections: u64) -> Self {
        self.connections = connections;
        self
    }

    /// Sets the duration in seconds.
    pub fn with_duration(mut self, seconds: u64) -> Self {
        self.duration = seconds;
        self
    }

    /// Sets the number of threads.
    pub fn with_threads(mut self, threads: u64) -> Self {
        self.threads = threads;
        self
    }

    /// Sets whether `--latency` is appended.
    pub fn with_latency(mut self, latency: bool) -> Self {
        self.latency = latency;
        self
    }

    /// Checks what wrk2 itself refuses at start (it prints its usage and exits 1).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(WorkloadError::InvalidParameters(m));
        if self.rate == 0 {
            return bad("the rate must be at least 1 request per second (wrk2 requires -R)".into());
        }
        if self.threads == 0 {
            return bad("wrk2 needs at least one thread".into());
        }
        if self.duration == 0 {
            return bad("the duration must be at least 1 second".into());
        }
        if self.connections < self.threads {
            return bad(format!(
                "wrk2 needs at least as many connections as threads (got {} connections, {} threads)",
                self.connections, self.threads
            ));
        }
        Ok(())
    }

    /// wrk2's argv exactly as AIOpsLab builds it: `wrk -D <dist> -t <threads> -c
    /// <connections> -d <duration>s -L -s /scripts/<script> <url> -R <rate>`, then `--latency`
    /// when [`Wrk2::latency`] is set.
    pub fn args(&self, script: &str, url: &str) -> Vec<String> {
        let mut args = vec![
            "wrk".to_string(),
            "-D".into(),
            self.distribution.as_str().into(),
            "-t".into(),
            self.threads.to_string(),
            "-c".into(),
            self.connections.to_string(),
            "-d".into(),
            format!("{}s", self.duration),
            "-L".into(),
            "-s".into(),
            format!("/scripts/{script}"),
            url.to_string(),
            "-R".into(),
            self.rate.to_string(),
        ];
        if self.latency {
            args.push("--latency".into());
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_aiopslabs() {
        let w = Wrk2::new(100);
        assert_eq!(
            (
                w.distribution,
                w.connections,
                w.duration,
                w.threads,
                w.latency
            ),
            (Distribution::Norm, 2, 6, 2, true)
        );
        let p = Wrk2::problem_default();
        assert_eq!(
            (p.rate, p.distribution, p.connections, p.duration, p.threads),
            (10, Distribution::Exp, 2, 10, 2)
        );
    }

    #[test]
    fn args_are_exact() {
        let w = Wrk2::problem_default().with_duration(5);
        assert_eq!(
            w.args("mixed-workload_type_1.lua", "http://10.96.12.7:5000"),
            [
                "wrk",
                "-D",
                "exp",
                "-t",
                "2",
                "-c",
                "2",
                "-d",
                "5s",
                "-L",
                "-s",
                "/scripts/mixed-workload_type_1.lua",
                "http://10.96.12.7:5000",
                "-R",
                "10",
                "--latency"
            ]
        );
        let quiet = Wrk2::new(100)
            .with_latency(false)
            .with_threads(4)
            .with_connections(8)
            .with_distribution(Distribution::Fixed);
        assert_eq!(
            quiet.args("s.lua", "http://x:1").join(" "),
            "wrk -D fixed -t 4 -c 8 -d 6s -L -s /scripts/s.lua http://x:1 -R 100"
        );
    }

    #[test]
    fn distributions_round_trip() {
        for d in [
            Distribution::Fixed,
            Distribution::Exp,
            Distribution::Norm,
            Distribution::Zipf,
        ] {
            assert_eq!(d.as_str().parse::<Distribution>().unwrap(), d);
        }
        let e = "poisson".parse::<Distribution>().unwrap_err().to_string();
        assert!(e.contains("\"poisson\"") && e.contains("exp"), "{e}");
    }

    #[test]
    fn validation_mirrors_wrk2() {
        assert!(Wrk2::problem_default().validate().is_ok());
        let e = Wrk2::new(0).validate().unwrap_err().to_string();
        assert!(e.contains("-R"), "{e}");
        let e = Wrk2::new(1)
            .with_threads(3)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 connections, 3 threads"), "{e}");
        assert!(Wrk2::new(1).with_duration(0).validate().is_err());
        assert!(
            Wrk2::new(1)
                .with_threads(0)
                .with_connections(0)
                .validate()
                .is_err()
        );
    }
}

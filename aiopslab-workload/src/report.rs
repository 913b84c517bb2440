//! wrk2's report, parsed from the Job pod's log.
//!
//! The parser reads what DeathStarBench's wrk2 (the `deathstarbench/wrk2-client` image)
//! prints, and also the upstream wrk / wrk2 layout it derives from:
//!
//! ```text
//! Running 10s test @ http://10.96.20.7:5000
//!   2 threads and 2 connections
//!
//! -----------------------------------------------------------------------
//! Test Results @ http://10.96.20.7:5000
//!   Thread Stats   Avg      Stdev     99%   +/- Stdev
//!     Latency     2.61ms    1.02ms   5.49ms   71.00%
//!     Req/Sec       -nan      -nan   0.00      0.00%
//!   Latency Distribution (HdrHistogram - Recorded Latency)
//!  50.000%    2.49ms
//!  ...
//! #[Mean    =        2.610, StdDeviation   =        1.020]
//! #[Max     =        5.488, Total count    =          100]
//! #[Buckets =           27, SubBuckets     =         2048]
//! -----------------------------------------------------------------------
//!   100 requests in 10.00s, 31.15KB read
//!   Socket errors: connect 0, read 0, write 0, timeout 3
//!   Non-2xx or 3xx responses: 12
//! Requests/sec:     10.00
//! Transfer/sec:      3.11KB
//! ```
//!
//! Times are kept in milliseconds and sizes in bytes, as `f64`: wrk2 prints `-nan` for the
//! statistics of an empty histogram, and that survives as NaN.

use crate::error::{Result, WorkloadError, tail};

/// The `Thread Stats` line of one statistic (`Latency` or `Req/Sec`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThreadStat {
    /// Mean (ms for latency, requests/s for Req/Sec).
    pub avg: f64,
    /// Standard deviation.
    pub stdev: f64,
    /// The third column: the 99th percentile (DeathStarBench's wrk2) or the maximum (upstream).
    pub high: f64,
    /// Share of samples within one standard deviation of the mean, in percent.
    pub within_stdev_percent: f64,
}

/// One line of the `Latency Distribution (HdrHistogram - Recorded Latency)` block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentile {
    /// The percentile (`99.9`).
    pub percentile: f64,
    /// The latency in milliseconds.
    pub latency_ms: f64,
}

/// One row of the `Detailed Percentile spectrum`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpectrumRow {
    /// The latency in milliseconds.
    pub latency_ms: f64,
    /// The quantile (0..=1).
    pub quantile: f64,
    /// Requests at or below this latency.
    pub total_count: u64,
}

/// The `#[Mean ...]` footer of the spectrum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramSummary {
    /// Mean latency in ms.
    pub mean_ms: f64,
    /// Standard deviation in ms.
    pub stdev_ms: f64,
    /// Largest latency in ms.
    pub max_ms: f64,
    /// Recorded requests.
    pub total_count: u64,
}

/// `Socket errors: connect N, read N, write N, timeout N` (all zero when wrk2 printed no such
/// line, which it omits when there were none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SocketErrors {
    /// Connections that could not be opened.
    pub connect: u64,
    /// Failed reads.
    pub read: u64,
    /// Failed writes.
    pub write: u64,
    /// Timeouts.
    pub timeout: u64,
}

impl SocketErrors {
    /// The sum of the four counts.
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout
    }
}

/// A `Thread calibration` line (wrk2 prints one per thread once calibration ends, about ten
/// seconds into a run).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Mean latency during calibration, in ms.
    pub mean_latency_ms: f64,
    /// The rate sampling interval it chose, in ms.
    pub sampling_interval_ms: f64,
}

/// A parsed wrk2 report.
///
/// ```
/// let log = "Running 10s test @ http://10.96.0.5:5000\n  2 threads and 2 connections\n\
///            \x20 100 requests in 10.00s, 50.00KB read\nRequests/sec:     10.00\nTransfer/sec:      5.00KB\n";
/// let r = aiopslab_workload::Wrk2Report::parse(log).unwrap();
/// assert_eq!((r.requests, r.requests_per_sec, r.bytes_read), (100, 10.0, 51200.0));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Wrk2Report {
    /// The URL from `Running ... test @ <url>`.
    pub url: String,
    /// The requested duration from the `Running` line, in seconds (wrk2 rounds it to whole
    /// units: `1m`, `10s`).
    pub requested_duration_secs: f64,
    /// Threads.
    pub threads: u64,
    /// Connections.
    pub connections: u64,
    /// The thread calibration lines.
    pub calibrations: Vec<Calibration>,
    /// The `Latency` line of `Thread Stats` (ms).
    pub latency: Option<ThreadStat>,
    /// The `Req/Sec` line of `Thread Stats`.
    pub req_per_sec_per_thread: Option<ThreadStat>,
    /// The latency distribution (`-L` / `--latency`), in the printed order.
    pub percentiles: Vec<Percentile>,
    /// The detailed percentile spectrum.
    pub spectrum: Vec<SpectrumRow>,
    /// The spectrum's footer.
    pub histogram: Option<HistogramSummary>,
    /// Completed requests.
    pub requests: u64,
    /// How long the run took, in seconds.
    pub runtime_secs: f64,
    /// Bytes read.
    pub bytes_read: f64,
    /// Socket errors.
    pub socket_errors: SocketErrors,
    /// Responses with a status above 399 (wrk2 words it `Non-2xx or 3xx responses`).
    pub non_2xx_3xx: u64,
    /// `Requests/sec`.
    pub requests_per_sec: f64,
    /// `Transfer/sec` in bytes per second.
    pub transfer_per_sec: f64,
}

impl Wrk2Report {
    /// The latency at `percentile` (`50.0`, `99.0`, ...) from the distribution block, in ms.
    pub fn latency_at(&self, percentile: f64) -> Option<f64> {
        self.percentiles
            .iter()
            .find(|p| (p.percentile - percentile).abs() < 1e-9)
            .map(|p| p.latency_ms)
    }

    /// Requests that did not succeed: non-2xx/3xx responses plus socket errors.
    pub fn errors(&self) -> u64 {
        self.non_2xx_3xx + self.socket_errors.total()
    }

    /// Parses the log of a wrk2 run. It needs at least the `N requests in T, X read` and
    /// `Requests/sec` lines; everything else is optional.
    pub fn parse(log: &str) -> Result<Wrk2Report> {
        let mut r = Wrk2Report::default();
        let mut saw_summary = false;
        let mut saw_rate = false;
        let mut in_distribution = false;
        for raw in log.lines() {
            let line = raw.trim();
            if line.is_empty() {
                in_distribution = false;
                continue;
            }
            if let Some(rest) = line.strip_prefix("Running ") {
                if let Some((dur, url)) = rest.split_once(" test @ ") {
                    r.requested_duration_secs = parse_time_s(dur).unwrap_or(f64::NAN);
                    r.url = url.trim().to_string();
                }
                continue;
            }
            if let Some((t, c)) = line.split_once(" threads and ")
                && let (Ok(t), Some(Ok(c))) = (
                    t.trim().parse::<u64>(),
                    c.strip_suffix("connections")
                        .map(|c| c.trim().parse::<u64>()),
                )
            {
                r.threads = t;
                r.connections = c;
                continue;
            }
            if let Some(rest) = line.strip_prefix("Thread calibration: mean lat.:") {
                r.calibrations.push(parse_calibration(rest, raw)?);
                continue;
            }
            if line.starts_with("Thread Stats") {
                continue;
            }
            if line.starts_with("Latency Distribution") {
                in_distribution = true;
                continue;
            }
            if let Some(rest) = line.strip_prefix("Latency ") {
                r.latency = Some(parse_thread_stat(rest, parse_time_ms, raw)?);
                continue;
            }
            if let Some(rest) = line.strip_prefix("Req/Sec ") {
                r.req_per_sec_per_thread = Some(parse_thread_stat(rest, parse_metric, raw)?);
                continue;
            }
            if in_distribution && let Some((p, v)) = line.split_once('%') {
                // `50.000%    1.23ms`, or upstream wrk's `50%    1.23ms`.
                if let (Ok(p), Some(ms)) = (p.trim().parse::<f64>(), parse_time_ms(v.trim())) {
                    r.percentiles.push(Percentile {
                        percentile: p,
                        latency_ms: ms,
                    });
                    continue;
                }
            }
            if let Some(rest) = line.strip_prefix("#[") {
                parse_footer(rest, &mut r, raw)?;
                continue;
            }
            if let Some(row) = parse_spectrum_row(line) {
                r.spectrum.push(row);
                continue;
            }
            if let Some((n, rest)) = line.split_once(" requests in ") {
                let n = n.trim().trim_start_matches("Overall").trim();
                let (t, read) = rest.split_once(", ").ok_or_else(|| malformed(raw, log))?;
                r.requests = n.parse().map_err(|_| malformed(raw, log))?;
                r.runtime_secs =
                    parse_time_ms(t.trim()).ok_or_else(|| malformed(raw, log))? / 1000.0;
                let read = read
                    .trim()
                    .strip_suffix(" read")
                    .ok_or_else(|| malformed(raw, log))?;
                r.bytes_read = parse_bytes(read).ok_or_else(|| malformed(raw, log))?;
                saw_summary = true;
                continue;
            }
            if let Some(rest) = line.strip_prefix("Socket errors:") {
                r.socket_errors = parse_socket_errors(rest).ok_or_else(|| malformed(raw, log))?;
                continue;
            }
            if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
                r.non_2xx_3xx = rest.trim().parse().map_err(|_| malformed(raw, log))?;
                continue;
            }
            if let Some(rest) = line.strip_prefix("Requests/sec:") {
                r.requests_per_sec = parse_float(rest.trim()).ok_or_else(|| malformed(raw, log))?;
                saw_rate = true;
                continue;
            }
            if let Some(rest) = line.strip_prefix("Transfer/sec:") {
                r.transfer_per_sec = parse_bytes(rest.trim()).ok_or_else(|| malformed(raw, log))?;
                continue;
            }
            // Anything else (`Test Results @ ...`, separators, `reconnect_socket`, the
            // spectrum's header) carries nothing we keep.
        }
        if !saw_summary || !saw_rate {
            let missing = if !saw_summary {
                "the `N requests in T, X read` line"
            } else {
                "the `Requests/sec:` line"
            };
            return Err(WorkloadError::Report {
                message: format!(
                    "{missing} is missing (did wrk2 finish? a run that was killed prints nothing)"
                ),
                log_tail: tail(log, 20),
            });
        }
        Ok(r)
    }
}

fn malformed(line: &str, log: &str) -> WorkloadError {
    WorkloadError::Report {
        message: format!("cannot read the line {:?}", line.trim_end()),
        log_tail: tail(log, 20),
    }
}

/// A float as C's printf writes it, including `nan`, `-nan`, `inf`.
fn parse_float(s: &str) -> Option<f64> {
    match s.trim_start_matches(['-', '+']) {
        "nan" => Some(f64::NAN),
        "inf" => Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }),
        _ => s.parse().ok(),
    }
}

/// Splits `1.23ms` into (`1.23`, `ms`).
fn split_unit(s: &str) -> (&str, &str) {
    let s = s.trim();
    let rest = s.trim_start_matches(['-', '+']);
    let (num, unit) = if rest.starts_with("nan") || rest.starts_with("inf") {
        let cut = s.len() - rest.len() + 3;
        s.split_at(cut)
    } else {
        let cut = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
            .unwrap_or(s.len());
        s.split_at(cut)
    };
    (num, unit.trim())
}

/// A wrk time (`799.39us`, `1.23ms`, `1.21s`, `0.98m`, `1.00h`) in milliseconds.
pub(crate) fn parse_time_ms(s: &str) -> Option<f64> {
    let (num, unit) = split_unit(s);
    let v = parse_float(num)?;
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(v * factor)
}

/// A wrk duration as in `Running 10s test` (`10s`, `1m`, `2h`) in seconds.
fn parse_time_s(s: &str) -> Option<f64> {
    parse_time_ms(s).map(|ms| ms / 1000.0)
}

/// A wrk metric (`14.75k`, `2.00M`, `418.17`) as a number.
fn parse_metric(s: &str) -> Option<f64> {
    let (num, unit) = split_unit(s);
    let v = parse_float(num)?;
    let factor = match unit {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        _ => return None,
    };
    Some(v * factor)
}

/// A wrk size (`512.00B`, `31.15KB`, `3.48MB`) in bytes (powers of 1024).
fn parse_bytes(s: &str) -> Option<f64> {
    let s = s.trim().strip_suffix('B')?;
    let (num, unit) = split_unit(s);
    let v = parse_float(num)?;
    let power = match unit {
        "" => 0,
        "K" => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        "P" => 5,
        _ => return None,
    };
    Some(v * 1024f64.powi(power))
}

fn parse_thread_stat(rest: &str, unit: fn(&str) -> Option<f64>, raw: &str) -> Result<ThreadStat> {
    let cols: Vec<&str> = rest.split_whitespace().collect();
    let bad = || WorkloadError::Report {
        message: format!("cannot read the Thread Stats line {:?}", raw.trim_end()),
        log_tail: vec![raw.to_string()],
    };
    if cols.len() != 4 {
        return Err(bad());
    }
    Ok(ThreadStat {
        avg: unit(cols[0]).ok_or_else(bad)?,
        stdev: unit(cols[1]).ok_or_else(bad)?,
        high: unit(cols[2]).ok_or_else(bad)?,
        within_stdev_percent: cols[3]
            .strip_suffix('%')
            .and_then(parse_float)
            .ok_or_else(bad)?,
    })
}

fn parse_calibration(rest: &str, raw: &str) -> Result<Calibration> {
    let bad = || WorkloadError::Report {
        message: format!("cannot read the calibration line {:?}", raw.trim_end()),
        log_tail: vec![raw.to_string()],
    };
    let (mean, interval) = rest
        .split_once(", rate sampling interval:")
        .ok_or_else(bad)?;
    // DeathStarBench: `9.141ms` / `25ms`; the wrk2 README: `9747 usec` / `21 msec`.
    let time = |s: &str| {
        let s = s.trim().replace(" usec", "us").replace(" msec", "ms");
        parse_time_ms(&s)
    };
    Ok(Calibration {
        mean_latency_ms: time(mean).ok_or_else(bad)?,
        sampling_interval_ms: time(interval).ok_or_else(bad)?,
    })
}

fn parse_footer(rest: &str, r: &mut Wrk2Report, raw: &str) -> Result<()> {
    let bad = || WorkloadError::Report {
        message: format!("cannot read the histogram footer {:?}", raw.trim_end()),
        log_tail: vec![raw.to_string()],
    };
    let body = rest.trim_end().strip_suffix(']').ok_or_else(bad)?;
    let mut summary = r.histogram.unwrap_or(HistogramSummary {
        mean_ms: f64::NAN,
        stdev_ms: f64::NAN,
        max_ms: f64::NAN,
        total_count: 0,
    });
    for part in body.split(',') {
        let (key, value) = part.split_once('=').ok_or_else(bad)?;
        let value = value.trim();
        match key.trim() {
            "Mean" => summary.mean_ms = parse_float(value).ok_or_else(bad)?,
            "StdDeviation" => summary.stdev_ms = parse_float(value).ok_or_else(bad)?,
            "Max" => summary.max_ms = parse_float(value).ok_or_else(bad)?,
            "Total count" => summary.total_count = value.parse().map_err(|_| bad())?,
            // Buckets and SubBuckets describe the histogram's layout only.
            _ => {}
        }
    }
    r.histogram = Some(summary);
    Ok(())
}

/// `      2.495     0.500000           50         2.00` (the last row ends in `inf`).
fn parse_spectrum_row(line: &str) -> Option<SpectrumRow> {
    let cols: Vec<&str> = line.split_whitespace().collect();
    if cols.len() != 4 || !cols[0].starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let latency_ms = cols[0].parse().ok()?;
    let quantile: f64 = cols[1].parse().ok()?;
    let total_count = cols[2].parse().ok()?;
    parse_float(cols[3])?;
    (0.0..=1.0).contains(&quantile).then_some(SpectrumRow {
        latency_ms,
        quantile,
        total_count,
    })
}

fn parse_socket_errors(rest: &str) -> Option<SocketErrors> {
    let mut e = SocketErrors::default();
    for part in rest.split(',') {
        let mut words = part.split_whitespace();
        let (Some(name), Some(n)) = (words.next(), words.next()) else {
            return None;
        };
        let n: u64 = n.parse().ok()?;
        match name {
            "connect" => e.connect = n,
            "read" => e.read = n,
            "write" => e.write = n,
            "timeout" => e.timeout = n,
            _ => return None,
        }
    }
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_time_ms("799.39us"), Some(0.79939));
        assert_eq!(parse_time_ms("1.21s"), Some(1210.0));
        assert_eq!(parse_time_ms("0.98m"), Some(58_800.0));
        assert!(parse_time_ms("-nanus").unwrap().is_nan());
        assert_eq!(parse_time_ms("12"), None);
        assert_eq!(parse_metric("14.75k"), Some(14_750.0));
        assert!(parse_metric("-nan").unwrap().is_nan());
        assert_eq!(parse_bytes("512.00B"), Some(512.0));
        assert_eq!(parse_bytes("1.50MB"), Some(1.5 * 1024.0 * 1024.0));
        assert_eq!(parse_bytes("1.50"), None);
        assert_eq!(parse_time_s("1m"), Some(60.0));
    }
}

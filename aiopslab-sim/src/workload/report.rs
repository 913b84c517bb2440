//! wrk2's output, byte for byte as DeathStarBench's wrk2 (the `deathstarbench/wrk2-client`
//! image) prints it for one URL: `printf` formats, wrk's unit formatting (`units.c`) and
//! HdrHistogram's classic percentile output.

use super::hdr::{BUCKETS, Hdr, SUB_BUCKETS};

/// The separator DeathStarBench's wrk2 prints around the results (71 dashes).
pub const SEPARATOR: &str =
    "-----------------------------------------------------------------------";

/// A number as C's `printf("%.*f")` writes it: NaN from 0/0 is `-nan` with glibc.
pub fn c_float(v: f64, precision: usize) -> String {
    if v.is_nan() {
        "-nan".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{v:.precision$}")
    }
}

/// wrk's `format_units`: divide by `scale` while the value is at least 85% of it.
fn format_units(n: f64, base: &str, units: &[&str], scale: f64, precision: usize) -> String {
    let mut amt = n;
    let mut unit = base;
    for u in units {
        if amt >= scale * 0.85 {
            amt /= scale;
            unit = u;
        } else {
            break;
        }
    }
    format!("{}{unit}", c_float(amt, precision))
}

/// `format_time_us`: `799.39us`, `1.23ms`, `1.21s`, `0.98m`.
pub fn format_time_us(us: f64) -> String {
    if us >= 1_000_000.0 {
        format_units(us / 1_000_000.0, "s", &["m", "h"], 60.0, 2)
    } else {
        format_units(us, "us", &["ms", "s"], 1000.0, 2)
    }
}

/// `format_time_s` (no decimals): `10s`, `1m`.
pub fn format_time_s(secs: f64) -> String {
    format_units(secs, "s", &["m", "h"], 60.0, 0)
}

/// `format_binary`: `512.00`, `31.15K`, `3.48M` (powers of 1024; wrk appends the `B`).
pub fn format_binary(bytes: f64) -> String {
    format_units(bytes, "", &["K", "M", "G", "T", "P"], 1024.0, 2)
}

/// `format_metric`: `418.17`, `14.75k`.
pub fn format_metric(n: f64) -> String {
    format_units(n, "", &["k", "M", "G", "T", "P"], 1000.0, 2)
}

/// wrk's `print_units`: the text right-aligned (and cut) to `width` less the pad, then the
/// pad, which is two spaces minus one per trailing letter of the unit.
fn print_units(n: f64, fmt: fn(f64) -> String, width: usize) -> String {
    let msg = fmt(n);
    let b = msg.as_bytes();
    let mut pad = 2usize;
    if b.last().is_some_and(|c| c.is_ascii_alphabetic()) {
        pad -= 1;
    }
    if b.len() >= 2 && b[b.len() - 2].is_ascii_alphabetic() {
        pad -= 1;
    }
    let width = width - pad;
    let cut: String = msg.chars().take(width).collect();
    format!("{cut:>width$}{}", &"  "[..pad])
}

/// Socket errors and non-2xx/3xx responses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Errors {
    /// Connections that failed.
    pub connect: u64,
    /// Failed reads.
    pub read: u64,
    /// Failed writes.
    pub write: u64,
    /// Timeouts.
    pub timeout: u64,
    /// Responses with a status above 399.
    pub status: u64,
}

/// Everything the report shows.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The URL from the command line.
    pub url: String,
    /// `-d` in seconds.
    pub duration_secs: u64,
    /// `-t`.
    pub threads: u64,
    /// `-c`.
    pub connections: u64,
    /// `-L` / `--latency`.
    pub latency_distribution: bool,
    /// Lines printed during the run (`Thread calibration: ...`, `reconnect_socket`).
    pub during: Vec<String>,
    /// Recorded latencies in microseconds (all threads).
    pub latency: Hdr,
    /// Requests per second sampled per thread after calibration.
    pub req_per_sec: Hdr,
    /// Completed requests.
    pub complete: u64,
    /// Bytes read.
    pub bytes: u64,
    /// How long the threads ran, in microseconds.
    pub runtime_us: u64,
    /// Errors.
    pub errors: Errors,
}

fn stats_line(name: &str, h: &Hdr, fmt: fn(f64) -> String) -> String {
    let mean = h.mean();
    let stdev = h.stddev();
    let p99 = h.value_at_percentile(99.0) as f64;
    format!(
        "    {name:<10}{}{}{}{:>8}%",
        print_units(mean, fmt, 8),
        print_units(stdev, fmt, 10),
        print_units(p99, fmt, 9),
        c_float(h.within(mean - stdev, mean + stdev), 2)
    )
}

/// The lines wrk2 prints at the start (`Running ...`, threads and connections, a blank line).
pub fn header(url: &str, duration_secs: u64, threads: u64, connections: u64) -> Vec<String> {
    vec![
        format!(
            "Running {} test @ {url}",
            format_time_s(duration_secs as f64)
        ),
        format!("  {threads} threads and {connections} connections"),
        String::new(),
    ]
}

/// The whole output of a finished run, line by line.
pub fn render(r: &Report) -> Vec<String> {
    let mut out = header(&r.url, r.duration_secs, r.threads, r.connections);
    out.extend(r.during.iter().cloned());
    out.push(String::new());
    out.push(SEPARATOR.to_string());
    out.push(format!("Test Results @ {} ", r.url));
    out.push(format!(
        "  Thread Stats{:>6}{:>11}{:>8}{:>12}",
        "Avg", "Stdev", "99%", "+/- Stdev"
    ));
    out.push(stats_line("Latency", &r.latency, format_time_us));
    out.push(stats_line("Req/Sec", &r.req_per_sec, format_metric));
    if r.latency_distribution {
        out.push("  Latency Distribution (HdrHistogram - Recorded Latency)".to_string());
        for p in [50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 99.999, 100.0] {
            let v = r.latency.value_at_percentile(p) as f64;
            out.push(format!(
                "{:>7}%{}",
                c_float(p, 3),
                print_units(v, format_time_us, 10)
            ));
        }
        out.push(String::new());
        out.push("  Detailed Percentile spectrum:".to_string());
        out.push(format!(
            "{:>12} {:>12} {:>12} {:>12}",
            "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
        ));
        out.push(String::new());
        for row in r.latency.spectrum() {
            let q = row.percentile / 100.0;
            out.push(format!(
                "{:>12} {:>12} {:>12} {:>12}",
                c_float(row.value as f64 / 1000.0, 3),
                c_float(q, 6),
                row.total_count,
                c_float(1.0 / (1.0 - q), 2)
            ));
        }
        out.push(format!(
            "#[Mean    = {:>12}, StdDeviation   = {:>12}]",
            c_float(r.latency.mean() / 1000.0, 3),
            c_float(r.latency.stddev() / 1000.0, 3)
        ));
        out.push(format!(
            "#[Max     = {:>12}, Total count    = {:>12}]",
            c_float(r.latency.max() as f64 / 1000.0, 3),
            r.latency.total_count()
        ));
        out.push(format!(
            "#[Buckets = {BUCKETS:>12}, SubBuckets     = {SUB_BUCKETS:>12}]"
        ));
        out.push(SEPARATOR.to_string());
    }
    out.push(format!(
        "  {} requests in {}, {}B read",
        r.complete,
        format_time_us(r.runtime_us as f64),
        format_binary(r.bytes as f64)
    ));
    let e = r.errors;
    if e.connect > 0 || e.read > 0 || e.write > 0 || e.timeout > 0 {
        out.push(format!(
            "  Socket errors: connect {}, read {}, write {}, timeout {}",
            e.connect, e.read, e.write, e.timeout
        ));
    }
    if e.status > 0 {
        out.push(format!("  Non-2xx or 3xx responses: {}", e.status));
    }
    let secs = r.runtime_us as f64 / 1e6;
    out.push(format!(
        "Requests/sec: {:>9}  ",
        c_float(r.complete as f64 / secs, 2)
    ));
    out.push(format!(
        "Transfer/sec: {:>10}B",
        format_binary(r.bytes as f64 / secs)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_like_wrk() {
        assert_eq!(format_time_us(900.0), "0.90ms");
        assert_eq!(format_time_us(799.39), "799.39us");
        assert_eq!(format_time_us(1_212_416.0), "1.21s");
        assert_eq!(format_time_us(58_800_000.0), "0.98m");
        assert_eq!(format_time_us(10_000_900.0), "10.00s");
        assert_eq!(format_time_us(f64::NAN), "-nanus");
        assert_eq!(format_time_s(10.0), "10s");
        assert_eq!(format_time_s(60.0), "1m");
        assert_eq!(format_binary(31_897.6), "31.15K");
        assert_eq!(format_binary(512.0), "512.00");
        assert_eq!(format_metric(14_750.0), "14.75k");
        assert_eq!(format_metric(f64::NAN), "-nan");
    }

    #[test]
    fn columns_like_wrk() {
        // From real wrk2 output: "    Latency     1.59ms  799.39us  34.66ms   75.78%".
        assert_eq!(print_units(1590.0, format_time_us, 8), "  1.59ms");
        assert_eq!(print_units(799.39, format_time_us, 10), "  799.39us");
        assert_eq!(print_units(1_210_000.0, format_time_us, 9), "   1.21s ");
        assert_eq!(print_units(14_750.0, format_metric, 8), " 14.75k ");
        assert_eq!(print_units(0.0, format_metric, 9), "   0.00  ");
        assert_eq!(print_units(f64::NAN, format_metric, 8), "    -nan");
        assert_eq!(print_units(f64::NAN, format_time_us, 10), "    -nanus");
    }

    #[test]
    fn empty_run_prints_nan_and_zeros() {
        let r = Report {
            url: "http://10.96.0.7:5000".into(),
            duration_secs: 10,
            threads: 2,
            connections: 2,
            latency_distribution: true,
            runtime_us: 10_001_000,
            errors: Errors {
                connect: 100,
                ..Errors::default()
            },
            ..Report::default()
        };
        let text = render(&r).join("\n");
        let expected = "Running 10s test @ http://10.96.0.7:5000
  2 threads and 2 connections


-----------------------------------------------------------------------
Test Results @ http://10.96.0.7:5000 
  Thread Stats   Avg      Stdev     99%   +/- Stdev
    Latency     -nanus    -nanus   0.00us    0.00%
    Req/Sec       -nan      -nan   0.00      0.00%
  Latency Distribution (HdrHistogram - Recorded Latency)
 50.000%    0.00us
 75.000%    0.00us
 90.000%    0.00us
 99.000%    0.00us
 99.900%    0.00us
 99.990%    0.00us
 99.999%    0.00us
100.000%    0.00us

  Detailed Percentile spectrum:
       Value   Percentile   TotalCount 1/(1-Percentile)

       0.000     1.000000            0          inf
#[Mean    =         -nan, StdDeviation   =         -nan]
#[Max     =        0.000, Total count    =            0]
#[Buckets =           27, SubBuckets     =         2048]
-----------------------------------------------------------------------
  0 requests in 10.00s, 0.00B read
  Socket errors: connect 100, read 0, write 0, timeout 0
Requests/sec:      0.00  
Transfer/sec:       0.00B";
        assert_eq!(text, expected);
    }
}

//! The report parser on wrk2 output as the real tools print it: DeathStarBench's wrk2 (the
//! image AIOpsLab runs), upstream wrk2 and wrk.

use aiopslab_workload::{SocketErrors, WorkloadError, Wrk2Report};

/// DeathStarBench's wrk2 after a healthy 10 s Hotel Reservation run (no calibration within
/// 10 s, so `Req/Sec` is empty).
const DSB_HEALTHY: &str = "Running 10s test @ http://10.96.183.22:5000
  2 threads and 2 connections

-----------------------------------------------------------------------
Test Results @ http://10.96.183.22:5000 
  Thread Stats   Avg      Stdev     99%   +/- Stdev
    Latency     2.61ms    1.02ms   5.49ms   71.00%
    Req/Sec       -nan      -nan   0.00      0.00%
  Latency Distribution (HdrHistogram - Recorded Latency)
 50.000%    2.49ms
 75.000%    3.17ms
 90.000%    3.96ms
 99.000%    5.49ms
 99.900%    5.49ms
 99.990%    5.49ms
 99.999%    5.49ms
100.000%    5.49ms

  Detailed Percentile spectrum:
       Value   Percentile   TotalCount 1/(1-Percentile)

       0.975     0.000000            1         1.00
       1.391     0.100000           10         1.11
       1.823     0.200000           20         1.25
       2.491     0.500000           50         2.00
       3.175     0.750000           75         4.00
       3.963     0.900000           90        10.00
       5.487     0.990000           99       100.00
       5.487     1.000000          100          inf
#[Mean    =        2.610, StdDeviation   =        1.020]
#[Max     =        5.484, Total count    =          100]
#[Buckets =           27, SubBuckets     =         2048]
-----------------------------------------------------------------------
  100 requests in 10.00s, 31.15KB read
Requests/sec:     10.00  
Transfer/sec:      3.11KB
";

/// DeathStarBench's wrk2 when part of the traffic failed.
const DSB_ERRORS: &str = "Running 10s test @ http://10.96.40.3:8080/wrk2-api/post/compose
  2 threads and 2 connections

-----------------------------------------------------------------------
Test Results @ http://10.96.40.3:8080/wrk2-api/post/compose 
  Thread Stats   Avg      Stdev     99%   +/- Stdev
    Latency    12.50ms   40.11ms 201.98ms   96.00%
    Req/Sec       -nan      -nan   0.00      0.00%
  Latency Distribution (HdrHistogram - Recorded Latency)
 50.000%    4.10ms
 75.000%    5.02ms
 90.000%    7.63ms
 99.000%  201.98ms
 99.900%  201.98ms
 99.990%  201.98ms
 99.999%  201.98ms
100.000%  201.98ms

  Detailed Percentile spectrum:
       Value   Percentile   TotalCount 1/(1-Percentile)

       2.001     0.000000            1         1.00
     202.111     1.000000           88          inf
#[Mean    =       12.500, StdDeviation   =       40.110]
#[Max     =      201.984, Total count    =           88]
#[Buckets =           27, SubBuckets     =         2048]
-----------------------------------------------------------------------
  88 requests in 10.00s, 27.01KB read
  Socket errors: connect 0, read 0, write 0, timeout 3
  Non-2xx or 3xx responses: 12
Requests/sec:      8.80  
Transfer/sec:      2.70KB
";

/// DeathStarBench's wrk2 after 30 s where every request timed out (calibration on an empty
/// histogram prints a mean of 2^63 us).
const DSB_ALL_TIMEOUTS: &str = "Running 30s test @ http://localhost:5000
  5 threads and 5 connections

  Thread calibration: mean lat.: 9223372036854776.000ms, rate sampling interval: 10ms
  Thread calibration: mean lat.: 9223372036854776.000ms, rate sampling interval: 10ms
  Thread calibration: mean lat.: 9223372036854776.000ms, rate sampling interval: 10ms
  Thread calibration: mean lat.: 9223372036854776.000ms, rate sampling interval: 10ms
  Thread calibration: mean lat.: 9223372036854776.000ms, rate sampling interval: 10ms

-----------------------------------------------------------------------
Test Results @ http://localhost:5000 
  Thread Stats   Avg      Stdev     99%   +/- Stdev
    Latency     -nanus    -nanus   0.00us    0.00%
    Req/Sec     0.00      0.00     0.00    100.00%
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
  0 requests in 30.00s, 0.00B read
  Socket errors: connect 0, read 0, write 0, timeout 75
Requests/sec:      0.00  
Transfer/sec:       0.00B
";

/// Upstream wrk2 (giltene) with `--latency`: `Max` column, calibration lines, 58 dashes.
const GILTENE: &str = "Running 5m test @ http://127.0.0.1:8080/employees/42
  1 threads and 100 connections
  Thread calibration: mean lat.: 1.604ms, rate sampling interval: 10ms
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.59ms  799.39us  34.66ms   75.78%
    Req/Sec    14.75k     1.21k   52.30k    84.76%
  Latency Distribution (HdrHistogram - Recorded Latency)
 50.000%    1.48ms
 75.000%    2.08ms
 90.000%    2.50ms
 99.000%    3.18ms
 99.900%    7.16ms
 99.990%   24.19ms
 99.999%   32.86ms
100.000%   34.69ms

  Detailed Percentile spectrum:
       Value   Percentile   TotalCount 1/(1-Percentile)

       0.054     0.000000            1         1.00
      34.687     1.000000      4052985          inf
#[Mean    =        1.589, StdDeviation   =        0.799]
#[Max     =       34.656, Total count    =      4052985]
#[Buckets =           27, SubBuckets     =         2048]
----------------------------------------------------------
  4199735 requests in 5.00m, 0.98GB read
Requests/sec:  13999.12
Transfer/sec:      3.35MB
";

/// Plain wrk (no HdrHistogram block), with every error kind.
const WRK: &str = "Running 30s test @ http://pidramble.com/about
  12 threads and 200 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.37s     6.33s   16.36s    79.36%
    Req/Sec   417.69    650.51     5.44k    92.71%
  Latency Distribution
     50%    1.21s 
     75%    4.50s 
     90%   12.00s 
     99%   16.00s 
  78676 requests in 30.01s, 516.52MB read
  Socket errors: connect 4, read 5, write 6, timeout 652
Requests/sec:   2622.02
Transfer/sec:     17.21MB
";

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn healthy_dsb_report() {
    let r = Wrk2Report::parse(DSB_HEALTHY).unwrap();
    assert_eq!(r.url, "http://10.96.183.22:5000");
    assert_eq!(r.requested_duration_secs, 10.0);
    assert_eq!((r.threads, r.connections), (2, 2));
    assert_eq!(r.requests, 100);
    assert_eq!(r.runtime_secs, 10.0);
    assert!(close(r.bytes_read, 31.15 * 1024.0));
    assert_eq!(r.requests_per_sec, 10.0);
    assert!(close(r.transfer_per_sec, 3.11 * 1024.0));
    assert_eq!(r.socket_errors, SocketErrors::default());
    assert_eq!(r.non_2xx_3xx, 0);
    assert_eq!(r.errors(), 0);
    let lat = r.latency.unwrap();
    assert_eq!(
        (lat.avg, lat.stdev, lat.high, lat.within_stdev_percent),
        (2.61, 1.02, 5.49, 71.0)
    );
    let rps = r.req_per_sec_per_thread.unwrap();
    assert!(rps.avg.is_nan() && rps.stdev.is_nan());
    assert_eq!(rps.high, 0.0);
    let ps: Vec<f64> = r.percentiles.iter().map(|p| p.percentile).collect();
    assert_eq!(ps, [50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 99.999, 100.0]);
    assert_eq!(r.latency_at(50.0), Some(2.49));
    assert_eq!(r.latency_at(99.0), Some(5.49));
    assert_eq!(r.latency_at(42.0), None);
    assert_eq!(r.spectrum.len(), 8);
    assert_eq!(r.spectrum[3].latency_ms, 2.491);
    assert_eq!(r.spectrum[3].quantile, 0.5);
    assert_eq!(r.spectrum[7].total_count, 100);
    let h = r.histogram.unwrap();
    assert_eq!(
        (h.mean_ms, h.stdev_ms, h.max_ms, h.total_count),
        (2.61, 1.02, 5.484, 100)
    );
    assert!(r.calibrations.is_empty());
}

#[test]
fn errors_and_non_2xx() {
    let r = Wrk2Report::parse(DSB_ERRORS).unwrap();
    assert_eq!(r.url, "http://10.96.40.3:8080/wrk2-api/post/compose");
    assert_eq!(r.requests, 88);
    assert_eq!(
        r.socket_errors,
        SocketErrors {
            connect: 0,
            read: 0,
            write: 0,
            timeout: 3
        }
    );
    assert_eq!(r.non_2xx_3xx, 12);
    assert_eq!(r.errors(), 15);
    assert_eq!(r.requests_per_sec, 8.8);
    assert_eq!(r.latency_at(99.0), Some(201.98));
    assert_eq!(r.latency.unwrap().high, 201.98);
}

#[test]
fn all_timeouts_keep_nan_and_calibration() {
    let r = Wrk2Report::parse(DSB_ALL_TIMEOUTS).unwrap();
    assert_eq!(r.requested_duration_secs, 30.0);
    assert_eq!((r.threads, r.connections), (5, 5));
    assert_eq!(r.calibrations.len(), 5);
    assert_eq!(r.calibrations[0].sampling_interval_ms, 10.0);
    assert_eq!(r.calibrations[0].mean_latency_ms, 9223372036854776.0);
    let lat = r.latency.unwrap();
    assert!(lat.avg.is_nan() && lat.stdev.is_nan());
    assert_eq!((lat.high, lat.within_stdev_percent), (0.0, 0.0));
    assert_eq!(
        r.req_per_sec_per_thread.unwrap().within_stdev_percent,
        100.0
    );
    assert_eq!(r.latency_at(99.999), Some(0.0));
    assert_eq!(r.requests, 0);
    assert_eq!((r.bytes_read, r.transfer_per_sec), (0.0, 0.0));
    assert_eq!(r.socket_errors.timeout, 75);
    assert!(r.histogram.unwrap().mean_ms.is_nan());
    assert_eq!(r.histogram.unwrap().total_count, 0);
}

#[test]
fn upstream_wrk2_layout() {
    let r = Wrk2Report::parse(GILTENE).unwrap();
    assert_eq!(r.requested_duration_secs, 300.0);
    assert_eq!(r.runtime_secs, 300.0);
    assert_eq!(r.calibrations.len(), 1);
    assert_eq!(r.calibrations[0].mean_latency_ms, 1.604);
    let lat = r.latency.unwrap();
    assert!(close(lat.stdev, 0.79939));
    assert_eq!(lat.high, 34.66);
    let rps = r.req_per_sec_per_thread.unwrap();
    assert_eq!(
        (rps.avg, rps.stdev, rps.high),
        (14_750.0, 1_210.0, 52_300.0)
    );
    assert_eq!(r.latency_at(100.0), Some(34.69));
    assert!(close(r.bytes_read, 0.98 * 1024.0 * 1024.0 * 1024.0));
    assert!(close(r.transfer_per_sec, 3.35 * 1024.0 * 1024.0));
    assert_eq!(r.histogram.unwrap().total_count, 4_052_985);
}

#[test]
fn plain_wrk_layout() {
    let r = Wrk2Report::parse(WRK).unwrap();
    assert_eq!(r.latency.unwrap().avg, 4370.0);
    assert_eq!(r.latency_at(50.0), Some(1210.0));
    assert_eq!(r.latency_at(90.0), Some(12_000.0));
    assert_eq!(r.socket_errors.total(), 4 + 5 + 6 + 652);
    assert_eq!(r.runtime_secs, 30.01);
    assert!(r.spectrum.is_empty() && r.histogram.is_none());
}

#[test]
fn a_killed_run_is_not_a_report() {
    let log = "Running 10s test @ http://10.96.0.1:5000\n  2 threads and 2 connections\n";
    let e = Wrk2Report::parse(log).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("`N requests in T, X read` line is missing"),
        "{text}"
    );
    assert!(text.contains("2 threads and 2 connections"), "{text}");
    let e = Wrk2Report::parse("  5 requests in 1.00s, 1.00KB read\n").unwrap_err();
    assert!(e.to_string().contains("Requests/sec"), "{e}");
    assert!(matches!(
        Wrk2Report::parse(""),
        Err(WorkloadError::Report { .. })
    ));
}

#[test]
fn malformed_lines_are_named() {
    let bad = DSB_ERRORS.replace("timeout 3", "timeout three");
    let e = Wrk2Report::parse(&bad).unwrap_err().to_string();
    assert!(
        e.contains("Socket errors: connect 0, read 0, write 0, timeout three"),
        "{e}"
    );
    let bad = DSB_HEALTHY.replace("31.15KB read", "31.15 read");
    let e = Wrk2Report::parse(&bad).unwrap_err().to_string();
    assert!(e.contains("100 requests in 10.00s, 31.15 read"), "{e}");
    let bad = DSB_HEALTHY.replace("    Latency     2.61ms    1.02ms", "    Latency     2.61ms");
    let e = Wrk2Report::parse(&bad).unwrap_err().to_string();
    assert!(e.contains("Thread Stats line"), "{e}");
}

#[test]
fn noise_lines_are_ignored() {
    // DeathStarBench's wrk2 prints these on reconnects and when the script reads responses.
    let noisy = DSB_HEALTHY.replace(
        "  2 threads and 2 connections\n",
        "script_want_response\n  2 threads and 2 connections\nreconnect_socket\nreconnect_socket\n",
    );
    // (Debug text, because the NaN of the empty Req/Sec line never compares equal.)
    assert_eq!(
        format!("{:?}", Wrk2Report::parse(&noisy).unwrap()),
        format!("{:?}", Wrk2Report::parse(DSB_HEALTHY).unwrap())
    );
}

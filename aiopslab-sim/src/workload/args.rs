//! wrk2's command line as DeathStarBench's wrk2 reads it (`getopt_long` with
//! `t:c:s:d:D:H:T:R:LPrSpBv?`, GNU argument permutation, wrk's unit suffixes) and the messages
//! it prints when it refuses one.

/// `-D`: how a connection spaces its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dist {
    /// A constant gap.
    Fixed,
    /// Exponential gaps.
    Exp,
    /// `norm`: not implemented by wrk2 (no gap at all: as fast as the connection goes).
    Norm,
    /// Zipf-distributed gaps.
    Zipf,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkArgs {
    /// `-t`.
    pub threads: u64,
    /// `-c`.
    pub connections: u64,
    /// `-d` in seconds.
    pub duration_secs: u64,
    /// `-D` (an unknown name leaves `fixed`, as wrk2 does).
    pub dist: Dist,
    /// `-s`.
    pub script: Option<String>,
    /// `-H` headers.
    pub headers: Vec<String>,
    /// `-T` in milliseconds (default 2000).
    pub timeout_ms: u64,
    /// `-R`.
    pub rate: u64,
    /// `-L` / `--latency`.
    pub latency: bool,
    /// The URLs (wrk2 benchmarks each; AIOpsLab passes one).
    pub urls: Vec<Url>,
    /// `-v` was given (wrk prints its version first).
    pub version: bool,
}

/// The parts of a URL wrk2 uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// As written.
    pub text: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Host (name or IP, without brackets).
    pub host: String,
    /// Port (80 / 443 when absent).
    pub port: u16,
    /// Path and query (`/` when absent).
    pub path: String,
}

impl Url {
    /// Parses `http://host[:port][/path]` as http_parser would accept it.
    pub fn parse(text: &str) -> Option<Url> {
        let (scheme, rest) = text.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']')?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return None;
        }
        let port = match port {
            Some(p) => p.parse().ok()?,
            None if scheme == "https" => 443,
            None => 80,
        };
        let path = if path.is_empty() {
            "/".to_string()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        Some(Url {
            text: text.to_string(),
            scheme,
            host,
            port,
            path,
        })
    }
}

/// Why wrk2 refuses to start: the lines it prints (stderr first, then the usage on stdout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What it printed, in order.
    pub lines: Vec<String>,
}

/// wrk2's usage text (DeathStarBench's version; each line padded as in the source).
pub fn usage() -> Vec<String> {
    [
        "Usage: wrk <options> <url>                                       ",
        "  Options:                                                       ",
        "    -c, --connections <N>  Connections to keep open              ",
        "    -D, --dist        <S>  fixed, exp, norm, zipf                ",
        "    -P                     Print each request's latency          ",
        "    -p                     Print 99th latency every 0.2s to file ",
        "                           under the current working directory   ",
        "    -d, --duration    <T>  Duration of test                      ",
        "    -t, --threads     <N>  Number of threads to use              ",
        "                                                                 ",
        "    -s, --script      <S>  Load Lua script file                  ",
        "    -H, --header      <H>  Add header to request                 ",
        "    -L, --latency          Print latency statistics              ",
        "    -S, --separate         Print statistics on different url     ",
        "    -T, --timeout     <T>  Socket/request timeout [unit:s]       ",
        "    -B, --batch_latency    Measure latency of whole              ",
        "                           batches of pipelined ops              ",
        "                           (as opposed to each op)               ",
        "    -r, --requests         Show the number of sent requests      ",
        "    -v, --version          Print version details                 ",
        "    -R, --rate        <T>  work rate (throughput)                ",
        "                           in requests/sec (total)               ",
        "                           [Required Parameter]                  ",
        "                                                                 ",
        "                                                                 ",
        "  Numeric arguments may include a SI unit (1k, 1M, 1G)           ",
        "  Time arguments may include a time unit (2s, 2m, 2h)            ",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// wrk's `scan_units`: a number and an optional unit of `units` (case-insensitive).
fn scan_units(s: &str, base: &str, units: &[&str], scale: u64) -> Option<u64> {
    let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    let unit: String = s[digits..].chars().take(2).collect();
    if unit.is_empty() || unit.eq_ignore_ascii_case(base) {
        return Some(n);
    }
    let mut factor = 1u64;
    for u in units {
        factor = factor.checked_mul(scale)?;
        if unit.eq_ignore_ascii_case(u) {
            return n.checked_mul(factor);
        }
    }
    None
}

fn scan_metric(s: &str) -> Option<u64> {
    scan_units(s, "", &["k", "M", "G", "T", "P"], 1000)
}

fn scan_time(s: &str) -> Option<u64> {
    scan_units(s, "s", &["m", "h"], 60)
}

/// Options that take a value, by short name; long names map to them.
const WITH_VALUE: &str = "tcsdDHTR";

fn long_name(name: &str) -> Option<char> {
    Some(match name {
        "connections" => 'c',
        "duration" => 'd',
        "threads" => 't',
        "script" => 's',
        "header" => 'H',
        "separate" => 'S',
        "latency" => 'L',
        "requests" => 'r',
        "batch_latency" => 'B',
        "timeout" => 'T',
        "help" => 'h',
        "version" => 'v',
        "rate" => 'R',
        "dist" => 'D',
        _ => return None,
    })
}

/// Parses wrk2's argv (`argv[0]` is the program).
pub fn parse(argv: &[String]) -> Result<WrkArgs, Refusal> {
    let refuse = |mut lines: Vec<String>| {
        lines.extend(usage());
        Err(Refusal { lines })
    };
    let mut a = WrkArgs {
        threads: 2,
        connections: 10,
        duration_secs: 10,
        dist: Dist::Fixed,
        script: None,
        headers: vec![],
        timeout_ms: 2000,
        rate: 0,
        latency: false,
        urls: vec![],
        version: false,
    };
    let mut positional: Vec<String> = vec![];
    let mut i = 1;
    let mut bad_value = false;
    while i < argv.len() {
        let arg = &argv[i];
        i += 1;
        if arg == "--" {
            positional.extend(argv[i..].iter().cloned());
            break;
        }
        // (option, attached value)
        let mut opts: Vec<(char, Option<String>)> = vec![];
        if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let Some(c) = long_name(name) else {
                return refuse(vec![format!("wrk: unrecognized option '{arg}'")]);
            };
            opts.push((c, value));
        } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (at, c) in short.char_indices() {
                if WITH_VALUE.contains(c) {
                    let rest = &short[at + c.len_utf8()..];
                    opts.push((c, (!rest.is_empty()).then(|| rest.to_string())));
                    break;
                }
                if !"LPrSpBvh?".contains(c) {
                    return refuse(vec![format!("wrk: invalid option -- '{c}'")]);
                }
                opts.push((c, None));
            }
        } else {
            positional.push(arg.clone());
            continue;
        }
        for (c, attached) in opts {
            let value = if WITH_VALUE.contains(c) {
                match attached {
                    Some(v) => v,
                    None if i < argv.len() => {
                        i += 1;
                        argv[i - 1].clone()
                    }
                    None => {
                        return refuse(vec![format!("wrk: option requires an argument -- '{c}'")]);
                    }
                }
            } else {
                String::new()
            };
            match c {
                't' => match scan_metric(&value) {
                    Some(n) => a.threads = n,
                    None => bad_value = true,
                },
                'c' => match scan_metric(&value) {
                    Some(n) => a.connections = n,
                    None => bad_value = true,
                },
                'd' => match scan_time(&value) {
                    Some(n) => a.duration_secs = n,
                    None => bad_value = true,
                },
                'T' => match scan_time(&value) {
                    Some(n) => a.timeout_ms = n.saturating_mul(1000),
                    None => bad_value = true,
                },
                'R' => match scan_metric(&value) {
                    Some(n) => a.rate = n,
                    None => bad_value = true,
                },
                'D' => match value.as_str() {
                    "fixed" => a.dist = Dist::Fixed,
                    "exp" => a.dist = Dist::Exp,
                    "norm" => a.dist = Dist::Norm,
                    "zipf" => a.dist = Dist::Zipf,
                    _ => {}
                },
                's' => a.script = Some(value),
                'H' => a.headers.push(value),
                'L' => a.latency = true,
                'v' => a.version = true,
                'h' | '?' => return refuse(vec![]),
                _ => {}
            }
            if bad_value {
                return refuse(vec![]);
            }
        }
    }
    if positional.is_empty() || a.threads == 0 || a.duration_secs == 0 {
        return refuse(vec![]);
    }
    if a.connections == 0 || a.connections < a.threads {
        return refuse(vec!["number of connections must be >= threads".into()]);
    }
    if a.rate == 0 {
        return refuse(vec![
            "Throughput MUST be specified with the --rate or -R option".into(),
        ]);
    }
    for p in positional {
        match Url::parse(&p) {
            Some(u) => a.urls.push(u),
            None => return refuse(vec![format!("invalid URL: {p}")]),
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn aiopslabs_command_line() {
        let a = parse(&argv(
            "wrk -D exp -t 2 -c 2 -d 10s -L -s /scripts/mixed-workload_type_1.lua http://10.96.12.7:5000 -R 10 --latency",
        ))
        .unwrap();
        assert_eq!(
            (a.threads, a.connections, a.duration_secs, a.rate, a.dist),
            (2, 2, 10, 10, Dist::Exp)
        );
        assert!(a.latency);
        assert_eq!(
            a.script.as_deref(),
            Some("/scripts/mixed-workload_type_1.lua")
        );
        assert_eq!(a.urls.len(), 1);
        let u = &a.urls[0];
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("10.96.12.7", 5000, "/")
        );
        assert_eq!(a.timeout_ms, 2000);
    }

    #[test]
    fn attached_values_units_and_long_options() {
        let a = parse(&argv(
            "wrk -t4 -c8 -d1m -R2k --dist=zipf --timeout 5s -H X-A:1 http://frontend:5000/x?y=1",
        ))
        .unwrap();
        assert_eq!(
            (
                a.threads,
                a.connections,
                a.duration_secs,
                a.rate,
                a.dist,
                a.timeout_ms
            ),
            (4, 8, 60, 2000, Dist::Zipf, 5000)
        );
        assert_eq!(a.headers, ["X-A:1"]);
        assert_eq!(a.urls[0].path, "/x?y=1");
        assert!(!a.latency);
        // An unknown distribution name is silently ignored by wrk2.
        let a = parse(&argv("wrk -D poisson -R 1 http://h")).unwrap();
        assert_eq!((a.dist, a.urls[0].port), (Dist::Fixed, 80));
    }

    #[test]
    fn refusals_print_what_wrk2_prints() {
        let r = parse(&argv("wrk -t 2 -c 2 http://h:1")).unwrap_err();
        assert_eq!(
            r.lines[0],
            "Throughput MUST be specified with the --rate or -R option"
        );
        assert!(r.lines[1].starts_with("Usage: wrk <options> <url>"));
        let r = parse(&argv("wrk -t 3 -c 2 -R 1 http://h:1")).unwrap_err();
        assert_eq!(r.lines[0], "number of connections must be >= threads");
        let r = parse(&argv("wrk -R 1 localhost:5000")).unwrap_err();
        assert_eq!(r.lines[0], "invalid URL: localhost:5000");
        let r = parse(&argv("wrk -R 1")).unwrap_err();
        assert!(r.lines[0].starts_with("Usage:"));
        let r = parse(&argv("wrk -x -R 1 http://h")).unwrap_err();
        assert_eq!(r.lines[0], "wrk: invalid option -- 'x'");
        let r = parse(&argv("wrk --rat 1 http://h")).unwrap_err();
        assert_eq!(r.lines[0], "wrk: unrecognized option '--rat'");
        let r = parse(&argv("wrk -R 1 http://h -d")).unwrap_err();
        assert_eq!(r.lines[0], "wrk: option requires an argument -- 'd'");
        let r = parse(&argv("wrk -d 10ms -R 1 http://h")).unwrap_err();
        assert!(r.lines[0].starts_with("Usage:"));
    }

    #[test]
    fn urls() {
        let u = Url::parse("http://[fd00::1]:8080/wrk2-api/post/compose").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("fd00::1", 8080));
        assert_eq!(Url::parse("https://x").unwrap().port, 443);
        assert!(Url::parse("http://").is_none());
        assert!(Url::parse("http://h:port").is_none());
    }
}

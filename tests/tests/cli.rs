//! End-to-end tests of the `aiopslab` binary: `problems` and `parse`.
//!
//! Where this file is compiled: it lives in the end-to-end test crate's folder, but it is
//! declared as the `cli` integration test of the `aiopslab-cli` package (see the `[[test]]`
//! section of aiopslab-cli/Cargo.toml). That is what makes it robust: cargo sets
//! `CARGO_BIN_EXE_<name>` only for integration tests of the package that owns the binary, and
//! then guarantees the binary is built, up to date and built with the same profile, target and
//! target directory before the test runs. A test compiled in `aiopslab-tests` would have to
//! guess `target/<profile>/aiopslab` and could run a stale or missing binary (cargo has no
//! stable way to build a dependency's binary for another package's tests). The `aiopslab-tests`
//! package therefore sets `autotests = false` so it does not compile this file a second time.
//!
//! Run with `cargo test -p aiopslab-cli --test cli` (or `cargo test --workspace`).
//!
//! Every child process runs without KUBECONFIG and KUBERNETES_SERVICE_*, so no ambient cluster
//! can ever be reached.

use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// The `aiopslab` binary with a clean environment.
fn aiopslab() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aiopslab"));
    command.env_remove("KUBECONFIG").env_remove("RUST_LOG");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("KUBERNETES_SERVICE_") {
            command.env_remove(&key);
        }
    }
    command.stdin(Stdio::null());
    command
}

/// Runs `aiopslab ARGS` with nothing on stdin.
fn run(args: &[&str]) -> Output {
    aiopslab()
        .args(args)
        .output()
        .expect("the aiopslab binary starts")
}

/// Runs `aiopslab ARGS` with `input` on stdin.
fn run_with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = aiopslab()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the aiopslab binary starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("stdin accepts the response");
    child
        .wait_with_output()
        .expect("the aiopslab binary finishes")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

fn assert_status(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// The problem ids of the human table: the first column of the rows between the header and
/// the blank line before the summary.
fn table_ids(text: &str) -> Vec<String> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    assert!(header.starts_with("ID "), "no table header in:\n{text}");
    lines
        .take_while(|line| !line.is_empty())
        .map(|line| {
            line.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!("stdout is not JSON ({err}):\n{}", stdout(output));
    })
}

// ----- aiopslab problems --------------------------------------------------------------------

#[test]
fn problems_lists_all_89_ids_in_order() {
    let output = run(&["problems"]);
    assert_status(&output, 0);
    let text = stdout(&output);
    let ids = table_ids(&text);
    assert_eq!(ids.len(), 89, "{text}");
    assert_eq!(ids[0], "k8s_target_port-misconfig-detection-1");
    assert_eq!(ids[54], "noop_detection_hotel_reservation-1");
    assert_eq!(ids[88], "flower_model_misconfig-detection");
    assert!(text.contains("89 problems, 0 runnable yet."), "{text}");
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["ID", "APP", "TASK", "RUNNABLE"]);
    let row: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        row,
        [
            "k8s_target_port-misconfig-detection-1",
            "SocialNetwork",
            "detection",
            "no"
        ]
    );
}

#[test]
fn problems_filters_by_task() {
    let output = run(&["problems", "--task", "mitigation"]);
    assert_status(&output, 0);
    let text = stdout(&output);
    let ids = table_ids(&text);
    assert_eq!(ids.len(), 14, "{text}");
    assert!(ids.iter().all(|id| id.contains("mitigation")));
    assert!(text.contains("14 of 89 problems match (task mitigation)"));

    // Task names are not case-sensitive on the command line.
    let output = run(&["problems", "--task", "Detection"]);
    assert_status(&output, 0);
    assert_eq!(table_ids(&stdout(&output)).len(), 34);
}

#[test]
fn problems_filters_by_app_in_any_spelling() {
    for spelling in [
        "hotel-reservation",
        "HotelReservation",
        "Hotel Reservation",
        "test-hotel-reservation",
    ] {
        let output = run(&["problems", "--app", spelling, "--json"]);
        assert_status(&output, 0);
        let entries = json_of(&output);
        let entries = entries.as_array().expect("a JSON array");
        assert_eq!(entries.len(), 38, "{spelling}");
        assert!(
            entries
                .iter()
                .all(|e| e["app"]["namespace"] == "test-hotel-reservation")
        );
    }
    let output = run(&["problems", "--app", "social-network", "--task", "analysis"]);
    assert_status(&output, 0);
    assert_eq!(table_ids(&stdout(&output)).len(), 6);
}

#[test]
fn problems_json_is_an_array_of_full_entries() {
    let output = run(&["problems", "--json"]);
    assert_status(&output, 0);
    let entries = json_of(&output);
    let entries = entries.as_array().expect("a JSON array");
    assert_eq!(entries.len(), 89);
    let revoke = entries
        .iter()
        .find(|e| e["id"] == "revoke_auth_mongodb-localization-1")
        .expect("revoke_auth_mongodb-localization-1 is listed");
    assert_eq!(revoke["task"], "localization");
    assert_eq!(revoke["app"]["name"], "Hotel Reservation");
    assert_eq!(
        revoke["expected"],
        json!({"localization": {"services": ["mongodb-geo"], "aliases": {"mongodb-geo": ["geo"]}}})
    );
    assert_eq!(revoke["runnable"], false);
    assert_eq!(revoke["deployment"], "k8s");

    let output = run(&["problems", "--task", "mitigation", "--json"]);
    assert_status(&output, 0);
    assert_eq!(json_of(&output).as_array().map(Vec::len), Some(14));
}

#[test]
fn problems_rejects_a_bad_task_with_exit_2() {
    let output = run(&["problems", "--task", "fixing"]);
    assert_status(&output, 2);
    assert!(output.stdout.is_empty());
    let err = stderr(&output);
    assert!(
        err.contains("invalid value 'fixing' for '--task <KIND>'"),
        "{err}"
    );
    assert!(
        err.contains("possible values: detection, localization, analysis, mitigation"),
        "{err}"
    );
}

#[test]
fn problems_rejects_an_unknown_app_with_exit_2() {
    let output = run(&["problems", "--app", "bookstore"]);
    assert_status(&output, 2);
    assert!(output.stdout.is_empty());
    let err = stderr(&output);
    assert!(
        err.starts_with("error: unknown application `bookstore`"),
        "{err}"
    );
    assert!(
        err.contains("HotelReservation (test-hotel-reservation)"),
        "{err}"
    );
}

// ----- aiopslab parse -----------------------------------------------------------------------

const GOOD_RESPONSE: &str = "Thought: the geo service looks broken.\nAction:\n```\n\
                             submit([\"mongodb-geo\"])\n```\nThat is my answer.\n";

fn good_response_json() -> Value {
    json!({
        "api_name": "submit",
        "args": [["mongodb-geo"]],
        "kwargs": {},
        "context": ["Thought: the geo service looks broken.\nAction:", "That is my answer."],
    })
}

#[test]
fn parse_reads_stdin_by_default_and_prints_the_call() {
    let output = run_with_stdin(&["parse"], GOOD_RESPONSE);
    assert_status(&output, 0);
    assert_eq!(json_of(&output), good_response_json());
    // Keys come in AIOpsLab's order.
    let text = stdout(&output);
    let positions: Vec<usize> = ["\"api_name\"", "\"args\"", "\"kwargs\"", "\"context\""]
        .iter()
        .map(|key| text.find(key).expect("key present"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn parse_reads_stdin_for_dash() {
    let output = run_with_stdin(&["parse", "-"], GOOD_RESPONSE);
    assert_status(&output, 0);
    assert_eq!(json_of(&output), good_response_json());
}

#[test]
fn parse_reads_a_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("response.txt");
    std::fs::write(
        &path,
        "```\nexec_shell(\"kubectl get pods -n test-hotel-reservation\")\n```\n",
    )
    .expect("write the response");
    let output = run(&["parse", path.to_str().expect("UTF-8 path")]);
    assert_status(&output, 0);
    assert_eq!(
        json_of(&output),
        json!({
            "api_name": "exec_shell",
            "args": ["kubectl get pods -n test-hotel-reservation"],
            "kwargs": {},
            "context": [],
        })
    );
}

#[test]
fn parse_of_a_bad_response_prints_aiopslab_error_and_exits_1() {
    // No fenced block at all: AIOpsLab's format-validation message.
    let output = run_with_stdin(&["parse"], "I think the answer is yes.\n");
    assert_status(&output, 1);
    assert!(output.stdout.is_empty());
    let err = stderr(&output);
    assert!(
        err.starts_with(
            "Error parsing response: \nFormat validation failure. Only have one pair of three \
             ticks in your block and check the ticks. \nCorrect example 1:\n"
        ),
        "{err:?}"
    );

    // A block without a call.
    let output = run_with_stdin(&["parse"], "```\nsubmit\n```\n");
    assert_status(&output, 1);
    assert_eq!(
        stderr(&output).trim_end(),
        "Error parsing response: No API call found!"
    );

    // An unquoted shell command.
    let output = run_with_stdin(&["parse"], "```\nexec_shell(ls -l)\n```\n");
    assert_status(&output, 1);
    assert_eq!(
        stderr(&output).trim_end(),
        "Error parsing response: Error when parsing response: commands must be quoted strings"
    );
}

#[test]
fn parse_of_a_missing_file_exits_2_and_names_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("missing.txt");
    let output = run(&["parse", path.to_str().expect("UTF-8 path")]);
    assert_status(&output, 2);
    let err = stderr(&output);
    assert!(
        err.starts_with("error: cannot read the response from "),
        "{err}"
    );
    assert!(err.contains("missing.txt"), "{err}");
}

// ----- the command line as a whole ----------------------------------------------------------

#[test]
fn help_and_version_describe_every_command() {
    let output = run(&["--version"]);
    assert_status(&output, 0);
    assert_eq!(
        stdout(&output).trim(),
        format!("aiopslab {}", env!("CARGO_PKG_VERSION"))
    );

    let output = run(&["--help"]);
    assert_status(&output, 0);
    let text = stdout(&output);
    for needle in ["problems", "parse", "Exit status", "RUST_LOG"] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }

    let output = run(&["problems", "--help"]);
    assert_status(&output, 0);
    let text = stdout(&output);
    for needle in ["--task <KIND>", "--app <APP>", "--json", "Examples:"] {
        assert!(
            text.contains(needle),
            "problems --help lacks {needle}:\n{text}"
        );
    }

    let output = run(&["parse", "--help"]);
    assert_status(&output, 0);
    let text = stdout(&output);
    for needle in ["[FILE|-]", "stdin", "api_name", "status 1"] {
        assert!(
            text.contains(needle),
            "parse --help lacks {needle}:\n{text}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let output = run(&["frobnicate"]);
    assert_status(&output, 2);
    assert!(stderr(&output).contains("unrecognized subcommand 'frobnicate'"));

    let output = run(&[]);
    assert_status(&output, 2);
    assert!(stderr(&output).contains("Usage: aiopslab <COMMAND>"));
}

#[test]
fn rust_log_sends_diagnostics_to_stderr_only() {
    let output = aiopslab()
        .args(["problems", "--task", "analysis", "--json"])
        .env("RUST_LOG", "debug")
        .output()
        .expect("the aiopslab binary starts");
    assert_status(&output, 0);
    assert_eq!(json_of(&output).as_array().map(Vec::len), Some(13));
    assert!(
        stderr(&output).contains("selected problems"),
        "{}",
        stderr(&output)
    );

    let quiet = run(&["problems", "--task", "analysis", "--json"]);
    assert!(quiet.stderr.is_empty(), "{}", stderr(&quiet));
}

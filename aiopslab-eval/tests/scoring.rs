//! AIOpsLab's scoring rules (spec §2.2-2.5), table-driven per task, plus result key order,
//! token counts and reasons.

use aiopslab_core::orchestrator::Evaluation;
use aiopslab_core::problem::{
    AnalysisAnswer, DetectionAnswer, ExpectedAnswer, FaultType, LocalizationAnswer, SystemLevel,
};
use aiopslab_core::session::{EndReason, Role, StepRecord, TraceItem};
use aiopslab_core::task::TaskKind;
use aiopslab_eval::score::{
    DetectionAccuracy, evaluate, score, score_analysis, score_detection, score_localization,
};
use aiopslab_eval::{EpisodeStats, Verdict};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

fn keys(results: &Map<String, Value>) -> Vec<&str> {
    results.keys().map(String::as_str).collect()
}

fn user() -> LocalizationAnswer {
    LocalizationAnswer {
        services: vec!["user".into()],
        aliases: BTreeMap::new(),
    }
}

fn geo() -> LocalizationAnswer {
    LocalizationAnswer {
        services: vec!["mongodb-geo".into()],
        aliases: BTreeMap::from([("mongodb-geo".into(), vec!["geo".into()])]),
    }
}

fn app_misconfig() -> AnalysisAnswer {
    AnalysisAnswer {
        system_level: SystemLevel::Application,
        fault_type: FaultType::Misconfiguration,
    }
}

#[test]
fn detection_table() {
    use DetectionAccuracy::*;
    use DetectionAnswer::{No, Yes};
    let cases: &[(Value, DetectionAnswer, DetectionAccuracy, &str)] = &[
        (
            json!("Yes"),
            Yes,
            Correct,
            r#"submitted "Yes"; expected "Yes": correct"#,
        ),
        (json!("  yes \n"), Yes, Correct, "correct"),
        (json!("YES"), Yes, Correct, "correct"),
        (json!("\tNo"), No, Correct, "correct"),
        (
            json!("No"),
            Yes,
            Incorrect,
            r#"submitted "No"; expected "Yes": incorrect"#,
        ),
        (json!("Yes"), No, Incorrect, r#"expected "No": incorrect"#),
        (json!("Yes."), Yes, Incorrect, "neither \"Yes\" nor \"No\""),
        (json!("Yes, geo is down"), Yes, Incorrect, "neither"),
        (json!(""), Yes, Incorrect, "neither"),
        (
            Value::Null,
            Yes,
            InvalidFormat,
            r#"nothing submitted; expected "Yes": invalid format"#,
        ),
        (
            json!(["Yes"]),
            Yes,
            InvalidFormat,
            r#"submitted ["Yes"] (a list)"#,
        ),
        (json!([]), Yes, InvalidFormat, "(a list)"),
        (json!(1), Yes, InvalidFormat, "submitted 1 (a number)"),
        (json!(true), Yes, InvalidFormat, "(a boolean)"),
        (json!({"answer": "Yes"}), Yes, InvalidFormat, "(an object)"),
    ];
    for (solution, expected, accuracy, reason) in cases {
        let s = score_detection(solution, *expected);
        assert_eq!(s.accuracy, *accuracy, "{solution} vs {expected}");
        assert!(
            s.reason.contains(reason),
            "{solution}: {:?} lacks {reason:?}",
            s.reason
        );
        assert!(!s.reason.contains('\n'));
    }
    assert_eq!(InvalidFormat.as_str(), "Invalid Format");
}

#[test]
fn localization_table() {
    let third = 1.0 / 3.0 * 100.0;
    // (solution, expected, accuracy, success, is_subset, reason fragment)
    let cases: Vec<(Value, LocalizationAnswer, f64, bool, bool, &str)> = vec![
        (
            json!(["user"]),
            user(),
            100.0,
            true,
            true,
            r#"submitted ["user"]; expected ["user"]: exact match (100.0)"#,
        ),
        // A bare string equal to the service is exact; Python's set("user") is its characters,
        // so is_subset stays false.
        (
            json!("user"),
            user(),
            100.0,
            true,
            false,
            "exact match (100.0)",
        ),
        (
            json!(["mongodb-geo"]),
            geo(),
            100.0,
            true,
            true,
            r#"expected ["mongodb-geo"] (or "geo"): exact match"#,
        ),
        (json!(["geo"]), geo(), 100.0, true, true, "exact match"),
        (json!("geo"), geo(), 100.0, true, false, "exact match"),
        (
            json!(["geo", "user"]),
            user(),
            50.0,
            false,
            true,
            r#"submitted ["geo","user"]; expected ["user"]: a superset (50.0)"#,
        ),
        (
            json!(["geo", "geo"]),
            geo(),
            50.0,
            false,
            true,
            "a superset with duplicates (50.0)",
        ),
        (
            json!(["mongodb-geo", "geo"]),
            geo(),
            50.0,
            false,
            true,
            "a superset with duplicates (50.0)",
        ),
        (
            json!(["user", "geo", "rate"]),
            user(),
            third,
            false,
            true,
            "a superset (33.33333333333333)",
        ),
        (
            json!([5, "user"]),
            user(),
            50.0,
            false,
            true,
            "a superset (50.0)",
        ),
        (
            json!([]),
            user(),
            0.0,
            false,
            false,
            r#"submitted []; expected ["user"]: the list is empty (0.0)"#,
        ),
        (
            Value::Null,
            user(),
            0.0,
            false,
            false,
            r#"nothing submitted; expected ["user"] (0.0)"#,
        ),
        (
            json!(["User"]),
            user(),
            0.0,
            false,
            false,
            r#"does not name the faulty service; names are case-sensitive and "User" differs only in case (0.0)"#,
        ),
        (
            json!(["Geo"]),
            geo(),
            0.0,
            false,
            false,
            "differs only in case",
        ),
        (
            json!([" user"]),
            user(),
            0.0,
            false,
            false,
            "does not name the faulty service (0.0)",
        ),
        (
            json!(["rate"]),
            geo(),
            0.0,
            false,
            false,
            "does not name the faulty service",
        ),
        (
            json!("rate"),
            geo(),
            0.0,
            false,
            false,
            r#"submitted "rate""#,
        ),
        (json!(["geo"]), user(), 0.0, false, false, "does not name"),
        (
            json!(5),
            user(),
            0.0,
            false,
            false,
            "submitted 5 (a number); expected [\"user\"]: not a list of service names (0.0)",
        ),
        (json!(true), user(), 0.0, false, false, "(a boolean)"),
        (json!({"user": 1}), user(), 0.0, false, false, "(an object)"),
        (
            json!([["user"]]),
            user(),
            0.0,
            false,
            false,
            "does not name",
        ),
    ];
    for (solution, expected, accuracy, success, is_subset, reason) in cases {
        let s = score_localization(&solution, &expected);
        assert_eq!(s.accuracy, accuracy, "accuracy of {solution}");
        assert_eq!(s.success, success, "success of {solution}");
        assert_eq!(s.is_subset, is_subset, "is_subset of {solution}");
        assert!(
            s.reason.contains(reason),
            "{solution}: {:?} lacks {reason:?}",
            s.reason
        );
        assert!(!s.reason.contains('\n'));
    }
}

#[test]
fn localization_with_several_faulty_services() {
    let expected = LocalizationAnswer {
        services: vec!["a".into(), "b".into()],
        aliases: BTreeMap::new(),
    };
    let exact = score_localization(&json!(["a", "b"]), &expected);
    assert_eq!((exact.accuracy, exact.success), (100.0, true));
    let swapped = score_localization(&json!(["b", "a"]), &expected);
    assert_eq!(
        (swapped.accuracy, swapped.success, swapped.is_subset),
        (100.0, true, true)
    );
    let extra = score_localization(&json!(["a", "b", "c", "d"]), &expected);
    assert_eq!((extra.accuracy, extra.success), (50.0, false));
    let half = score_localization(&json!(["a"]), &expected);
    assert_eq!((half.accuracy, half.success), (0.0, false));
    assert!(
        half.reason.contains("names 1 of 2 faulty services"),
        "{}",
        half.reason
    );
}

#[test]
fn analysis_table() {
    // (solution, system_level_correct, fault_type_correct, reason fragment)
    let cases: Vec<(Value, bool, bool, &str)> = vec![
        (
            json!({"system_level": "Application", "fault_type": "Misconfiguration"}),
            true,
            true,
            r#"system_level "Application" correct; fault_type "Misconfiguration" correct"#,
        ),
        (
            json!({"system_level": "  application ", "fault_type": "MISCONFIGURATION\n"}),
            true,
            true,
            "correct",
        ),
        (
            json!({"system_level": "Application", "fault_type": "Misconfiguration", "extra": 1}),
            true,
            true,
            "correct",
        ),
        (
            json!({"system_level": "Virtualization", "fault_type": "Misconfiguration"}),
            false,
            true,
            r#"system_level "Virtualization" wrong (expected "Application")"#,
        ),
        (
            json!({"system_level": "Application", "fault_type": "Code Defect"}),
            true,
            false,
            r#"fault_type "Code Defect" wrong (expected "Misconfiguration")"#,
        ),
        (
            json!({"system_level": "App", "fault_type": "Misconfiguration"}),
            false,
            true,
            "not a known system level",
        ),
        (
            json!({"system_level": "Application"}),
            true,
            false,
            r#"fault_type missing (expected "Misconfiguration")"#,
        ),
        (json!({}), false, false, "system_level missing"),
        (
            json!({"system_level": "Application", "fault_type": null}),
            true,
            false,
            "fault_type null is null, not a string, counted as wrong",
        ),
        (
            json!({"system_level": 3, "fault_type": "Misconfiguration"}),
            false,
            true,
            "system_level 3 is a number, not a string",
        ),
        (
            json!({"system_level": ["Application"], "fault_type": "Misconfiguration"}),
            false,
            true,
            "is a list, not a string",
        ),
        (
            json!("Application"),
            false,
            false,
            r#"submitted "Application" (a string), not an object with system_level and fault_type; expected {"system_level": "Application", "fault_type": "Misconfiguration"}"#,
        ),
        (
            json!(["Application", "Misconfiguration"]),
            false,
            false,
            "(a list), not an object",
        ),
        (
            Value::Null,
            false,
            false,
            "nothing submitted, not an object",
        ),
        (json!([]), false, false, "(a list)"),
    ];
    for (solution, level, fault, reason) in cases {
        let s = score_analysis(&solution, &app_misconfig());
        assert_eq!(s.system_level_correct, level, "system level of {solution}");
        assert_eq!(s.fault_type_correct, fault, "fault type of {solution}");
        assert_eq!(s.success, level && fault, "success of {solution}");
        assert!(
            s.reason.contains(reason),
            "{solution}: {:?} lacks {reason:?}",
            s.reason
        );
        assert!(!s.reason.contains('\n'));
    }
}

#[test]
fn analysis_labels_with_slashes_and_spaces() {
    let expected = AnalysisAnswer {
        system_level: SystemLevel::OperatingSystem,
        fault_type: FaultType::NetworkStorageIssue,
    };
    let s = score_analysis(
        &json!({"system_level": "operating system", "fault_type": " network/storage issue"}),
        &expected,
    );
    assert!(s.success, "{}", s.reason);
    let s = score_analysis(
        &json!({"system_level": "Operating  System", "fault_type": "Network Storage Issue"}),
        &expected,
    );
    assert!(!s.system_level_correct && !s.fault_type_correct);
}

fn stats() -> EpisodeStats {
    let trace = [
        TraceItem {
            role: Role::Assistant,
            content: "hello".into(),
        },
        TraceItem {
            role: Role::Env,
            content: "hello world".into(),
        },
        TraceItem {
            role: Role::Assistant,
            content: " world".into(),
        },
    ];
    EpisodeStats::new(&trace, &[], 41.5)
}

#[test]
fn key_order_per_task() {
    let d = score(
        &ExpectedAnswer::Detection(DetectionAnswer::Yes),
        &json!("Yes"),
        None,
    )
    .to_results(&stats());
    assert_eq!(
        keys(&d),
        [
            "Detection Accuracy",
            "TTD",
            "steps",
            "in_tokens",
            "out_tokens",
            "token_source",
            "reason"
        ]
    );
    assert_eq!(d["Detection Accuracy"], json!("Correct"));
    assert_eq!(d["TTD"], json!(41.5));
    assert_eq!(d["steps"], json!(2));
    assert_eq!(d["in_tokens"], json!(2));
    assert_eq!(d["out_tokens"], json!(2));
    assert_eq!(d["token_source"], json!("cl100k_base"));

    let l = score(
        &ExpectedAnswer::Localization(user()),
        &json!(["user"]),
        None,
    )
    .to_results(&stats());
    assert_eq!(
        keys(&l),
        [
            "Localization Accuracy",
            "TTL",
            "steps",
            "in_tokens",
            "out_tokens",
            "success",
            "is_subset",
            "token_source",
            "reason"
        ]
    );
    assert_eq!(l["Localization Accuracy"], json!(100.0));
    assert!(
        l["Localization Accuracy"].is_f64(),
        "written as a float, like Python's 100.0"
    );

    // Nothing submitted: AIOpsLab writes accuracy, success and is_subset before the time key.
    let none =
        score(&ExpectedAnswer::Localization(user()), &Value::Null, None).to_results(&stats());
    assert_eq!(
        keys(&none),
        [
            "Localization Accuracy",
            "success",
            "is_subset",
            "TTL",
            "steps",
            "in_tokens",
            "out_tokens",
            "token_source",
            "reason"
        ]
    );
    assert_eq!(none["Localization Accuracy"], json!(0.0));
    assert_eq!(none["success"], json!(false));

    let a = score(
        &ExpectedAnswer::Analysis(app_misconfig()),
        &json!({"system_level": "Application", "fault_type": "Misconfiguration"}),
        None,
    )
    .to_results(&stats());
    assert_eq!(
        keys(&a),
        [
            "system_level_correct",
            "fault_type_correct",
            "success",
            "TTA",
            "steps",
            "in_tokens",
            "out_tokens",
            "token_source",
            "reason"
        ]
    );

    let verdict = Verdict::pass("all 3 pods in x are running and ready");
    let m = score(&ExpectedAnswer::Mitigation, &json!([]), Some(&verdict)).to_results(&stats());
    assert_eq!(
        keys(&m),
        [
            "TTM",
            "steps",
            "in_tokens",
            "out_tokens",
            "success",
            "token_source",
            "reason"
        ]
    );
    assert_eq!(m["success"], json!(true));
    assert_eq!(m["reason"], json!("all 3 pods in x are running and ready"));
}

#[test]
fn mitigation_success_follows_the_oracle() {
    let fail = Verdict::fail("pod geo-1: container geo is waiting (CrashLoopBackOff)");
    let s = score(&ExpectedAnswer::Mitigation, &json!([]), Some(&fail));
    assert!(!s.success());
    assert_eq!(s.reason(), fail.reason);
    let s = score(&ExpectedAnswer::Mitigation, &json!([]), None);
    assert!(!s.success());
    assert!(s.reason().contains("the cluster was not checked"));
}

fn evaluation<'a>(
    task: TaskKind,
    solution: &'a Value,
    trace: &'a [TraceItem],
    steps: &'a [StepRecord],
    end: EndReason,
) -> Evaluation<'a> {
    Evaluation {
        task,
        solution,
        trace,
        duration: 7.25,
        end_reason: end,
        steps,
    }
}

#[test]
fn evaluate_counts_tokens_like_aiopslab_and_never_fails_on_special_tokens() {
    let trace = vec![
        TraceItem {
            role: Role::Assistant,
            content: "```\nexec_shell(\"cat f\")\n```".into(),
        },
        TraceItem {
            role: Role::Env,
            content: "<|endoftext|> and <|fim_prefix|> in a log".into(),
        },
        TraceItem {
            role: Role::Assistant,
            content: "<|endoftext|>".into(),
        },
    ];
    let solution = json!("Yes");
    let input = evaluation(
        TaskKind::Detection,
        &solution,
        &trace,
        &[],
        EndReason::Submitted,
    );
    let r = evaluate(
        &ExpectedAnswer::Detection(DetectionAnswer::Yes),
        &input,
        None,
    );
    let env_text = "<|endoftext|> and <|fim_prefix|> in a log";
    let out_text = "```\nexec_shell(\"cat f\")\n```<|endoftext|>";
    assert_eq!(r["in_tokens"], json!(aiopslab_eval::count_tokens(env_text)));
    assert_eq!(
        r["out_tokens"],
        json!(aiopslab_eval::count_tokens(out_text))
    );
    assert!(r["in_tokens"].as_u64().unwrap() > 10);
    assert_eq!(r["steps"], json!(2));
    assert_eq!(r["TTD"], json!(7.25));
    assert_eq!(r["token_source"], json!("cl100k_base"));
}

#[test]
fn evaluate_prefers_reported_usage_and_says_so() {
    let trace = vec![TraceItem {
        role: Role::Assistant,
        content: "hello world".into(),
    }];
    let steps = vec![StepRecord {
        step: 1,
        wall_time: 1.0,
        agent_time: 1.0,
        action: Some("submit".into()),
        in_tokens: Some(1234),
        out_tokens: Some(56),
    }];
    let solution = json!(["user"]);
    let input = evaluation(
        TaskKind::Localization,
        &solution,
        &trace,
        &steps,
        EndReason::Submitted,
    );
    let r = evaluate(&ExpectedAnswer::Localization(user()), &input, None);
    assert_eq!(r["in_tokens"], json!(1234));
    assert_eq!(r["out_tokens"], json!(56));
    assert_eq!(r["token_source"], json!("agent"));

    let partial = vec![StepRecord {
        in_tokens: None,
        ..steps[0].clone()
    }];
    let input = evaluation(
        TaskKind::Localization,
        &solution,
        &trace,
        &partial,
        EndReason::Submitted,
    );
    let r = evaluate(&ExpectedAnswer::Localization(user()), &input, None);
    assert_eq!(r["out_tokens"], json!(2));
    assert_eq!(r["token_source"], json!("cl100k_base"));
}

#[test]
fn evaluate_says_when_the_step_limit_ended_the_episode() {
    let solution = Value::Null;
    let input = evaluation(
        TaskKind::Analysis,
        &solution,
        &[],
        &[],
        EndReason::StepLimit,
    );
    let r = evaluate(&ExpectedAnswer::Analysis(app_misconfig()), &input, None);
    assert_eq!(r["success"], json!(false));
    assert_eq!(r["steps"], json!(0));
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("the step limit was reached without a submission: nothing submitted"),
        "{reason}"
    );

    // A solution captured from an earlier submit is scored normally.
    let solution = json!(["user"]);
    let input = evaluation(
        TaskKind::Localization,
        &solution,
        &[],
        &[],
        EndReason::StepLimit,
    );
    let r = evaluate(&ExpectedAnswer::Localization(user()), &input, None);
    assert_eq!(r["success"], json!(true));
    assert!(r["reason"].as_str().unwrap().starts_with("submitted"));
}

#[test]
fn reasons_stay_on_one_line_and_short() {
    let long = "x\n".repeat(1000);
    let s = score_detection(&json!(long), DetectionAnswer::Yes);
    assert!(!s.reason.contains('\n'));
    assert!(s.reason.len() < 400, "{}", s.reason.len());
    let s = score_localization(&json!([long]), &user());
    assert!(!s.reason.contains('\n'));
    assert!(s.reason.len() < 400);
}

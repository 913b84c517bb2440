//! Parser tests: the rows of the AIOpsLab test table (spec §4.2), the grammar rules of §4.1,
//! and our deliberate differences.

use super::*;
use serde_json::json;

/// A reply in the canonical form AIOpsLab's validator accepts.
fn fenced(code: &str) -> String {
    format!("```\n{code}\n```")
}

/// The same reply in the form of AIOpsLab's own (stale) tests: everything indented by 8.
fn indented(code: &str) -> String {
    format!("\n        ```\n        {code}\n        ```\n        ")
}

fn ok(reply: &str) -> ParsedResponse {
    parse(reply).unwrap_or_else(|e| panic!("{reply:?}: {e}"))
}

/// Checks a table row in both the canonical and the indented form.
fn row(code: &str, api: &str, args: serde_json::Value, kwargs: serde_json::Value) {
    for reply in [fenced(code), indented(code)] {
        let p = ok(&reply);
        assert_eq!(p.api_name, api, "{reply:?}");
        assert_eq!(serde_json::Value::Array(p.args), args, "{reply:?}");
        assert_eq!(serde_json::Value::Object(p.kwargs), kwargs, "{reply:?}");
    }
}

#[test]
fn table_parser_no_args() {
    row("myApi()", "myApi", json!([]), json!({}));
}

#[test]
fn table_parser_single_arg() {
    row("myApi(10)", "myApi", json!([10]), json!({}));
}

#[test]
fn table_parser_multiple_args() {
    row(
        "myApi(10, 'error')",
        "myApi",
        json!([10, "error"]),
        json!({}),
    );
}

#[test]
fn table_parser_shell_cmd_arg() {
    row(
        r#"exec_shell("kubectl get pods -n test-social-network")"#,
        "exec_shell",
        json!(["kubectl get pods -n test-social-network"]),
        json!({}),
    );
}

#[test]
fn table_parser_shell_nested_quotes() {
    let cmd = r#"kubectl patch svc user-service -n test-social-network --type='json' -p='[{"op": "replace", "path": "/spec/ports/0/targetPort", "value": 9090}]'"#;
    row(
        &format!("exec_shell(\"{cmd}\")"),
        "exec_shell",
        json!([cmd]),
        json!({}),
    );
}

#[test]
fn table_parser_context() {
    let reply = "Thought: I should check the logs of the compose post service.\nAction:\n```\nget_logs('compose-post-service', 'test-social-network')\n```\nThis will help me see what is wrong.";
    let p = ok(reply);
    assert_eq!(p.api_name, "get_logs");
    assert_eq!(
        p.args,
        vec![json!("compose-post-service"), json!("test-social-network")]
    );
    assert_eq!(
        p.context,
        vec![
            "Thought: I should check the logs of the compose post service.\nAction:",
            "This will help me see what is wrong."
        ]
    );
}

#[test]
fn table_parser_non_api() {
    // A fenced block without a call: AIOpsLab's "No API call found!".
    assert_eq!(
        parse(&fenced("echo \"Hello World\"")),
        Err(ParseError::NoApiCall)
    );
    // The indented form fails AIOpsLab's validator, and our relaxed reading only accepts
    // blocks that hold a call, so the format message stays.
    assert_eq!(
        parse(&indented("echo \"Hello World\"")),
        Err(ParseError::FormatValidation)
    );
}

#[test]
fn table_submit_detection() {
    row("submit('yes')", "submit", json!(["yes"]), json!({}));
    row("submit('no')", "submit", json!(["no"]), json!({}));
}

#[test]
fn table_submit_detection_keyword() {
    row(
        "submit(has_anomaly='yes')",
        "submit",
        json!([]),
        json!({"has_anomaly": "yes"}),
    );
}

#[test]
fn table_submit_localization() {
    row(
        "submit(['service1', 'service2'])",
        "submit",
        json!([["service1", "service2"]]),
        json!({}),
    );
}

#[test]
fn table_submit_localization_keyword() {
    row(
        "submit(faulty_components=['s1','s2','s3'])",
        "submit",
        json!([]),
        json!({"faulty_components": ["s1", "s2", "s3"]}),
    );
}

#[test]
fn table_submit_analysis() {
    row(
        "submit({'system_level': 'xxx', 'fault_type': 'yyy'})",
        "submit",
        json!([{"system_level": "xxx", "fault_type": "yyy"}]),
        json!({}),
    );
}

#[test]
fn table_submit_analysis_keyword() {
    row(
        "submit(analysis={'system_level': 'xxx', 'fault_type': 'yyy'})",
        "submit",
        json!([]),
        json!({"analysis": {"system_level": "xxx", "fault_type": "yyy"}}),
    );
}

#[test]
fn table_submit_mitigation() {
    row("submit()", "submit", json!([]), json!({}));
}

#[test]
fn table_parsed_actions() {
    row(
        "get_logs('user-service','test-social-network')",
        "get_logs",
        json!(["user-service", "test-social-network"]),
        json!({}),
    );
    row(
        r#"exec_shell('echo "Hello World"')"#,
        "exec_shell",
        json!([r#"echo "Hello World""#]),
        json!({}),
    );
}

#[test]
fn format_validation_message_is_aiopslabs() {
    let err = parse("submit(\"Yes\")").unwrap_err();
    assert_eq!(err, ParseError::FormatValidation);
    let text = err.to_string();
    assert!(text.starts_with(
        "Error parsing response: \nFormat validation failure. Only have one pair of three ticks in your block and check the ticks. \nCorrect example 1:\nI should run:\n```\nexec_shell(\"ls\")\n```\n\n"
    ));
    assert!(text.ends_with("Correct example 2:\nCheck k8s info \n```\nexec_shell(\"kubectl get services --all-namespaces\")\n```\n            "));
    assert_eq!(err.message(), FORMAT_VALIDATION_MESSAGE);
}

#[test]
fn rejected_fence_layouts() {
    for reply in [
        "",
        "submit(\"Yes\")",
        "```\na()\n```\n```\nb()\n```",
        "```\na()",
        "use ```kubectl``` for that",
        // Relaxed readings that do not yield `identifier(` keep the format message.
        "```bash\nkubectl get pods\n```",
        "Run ```kubectl get pods (all)``` now",
        "```bash\nAction: submit(\"Yes\")\n  ```",
        "x```tag\n\"a\"b```c",
    ] {
        assert_eq!(parse(reply), Err(ParseError::FormatValidation), "{reply:?}");
    }
}

#[test]
fn strict_check_quirks_are_kept() {
    // AIOpsLab's regex sees one block here (the tagged second fence never opens a match),
    // so it accepts the reply and takes the first block.
    let p = ok("```\na()\n```\n```bash\nb()\n```");
    assert_eq!(p.api_name, "a");
}

#[test]
fn accepted_fence_layouts() {
    for reply in [
        "```\nsubmit(\"Yes\")\n```",
        "Action: ```\nsubmit(\"Yes\")\n```",
        "```   \r\nsubmit(\"Yes\")\r\n```\r\n",
        "```bash\nsubmit(\"Yes\")\n```",
        "```python\nsubmit(\"Yes\")\n    ```",
        "```\nsubmit(\"Yes\")```",
        "Answer: ```submit(\"Yes\")```",
        "```\n\nsubmit(\"Yes\")\n\n```",
    ] {
        let p = ok(reply);
        assert_eq!(p.api_name, "submit", "{reply:?}");
        assert_eq!(p.args, vec![json!("Yes")], "{reply:?}");
    }
}

#[test]
fn api_name_is_text_before_first_paren() {
    let p = ok(&fenced("Action: submit(\"Yes\")"));
    assert_eq!(p.api_name, "Action: submit");
    // A `)` before the `(` gives empty arguments, like a Python slice.
    let p = ok(&fenced("x)y("));
    assert_eq!(p.api_name, "x)y");
    assert!(p.args.is_empty());
    assert_eq!(parse(&fenced("submit")), Err(ParseError::NoApiCall));
    assert_eq!(parse(&fenced("submit(")), Err(ParseError::NoApiCall));
    assert_eq!(parse(&fenced("")), Err(ParseError::NoApiCall));
}

#[test]
fn text_after_the_last_paren_is_ignored() {
    let p = ok(&fenced("submit(\"Yes\")  # the frontend is down"));
    assert_eq!(p.args, vec![json!("Yes")]);
}

#[test]
fn unsupported_nodes_use_a_single_prefix() {
    let err = parse(&fenced("submit(Yes)")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error parsing response: Unsupported AST node type: <class 'ast.Name'>"
    );
    let err = parse(&fenced("get_metrics('ns', -x)")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error parsing response: Unsupported AST node type: <class 'ast.UnaryOp'>"
    );
}

#[test]
fn unquoted_shell_command_message() {
    let err = parse(&fenced("exec_shell(ls -l)")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error parsing response: Error when parsing response: commands must be quoted strings"
    );
}

#[test]
fn agent_friendly_extensions() {
    let p = ok(&fenced("get_metrics('test-hotel-reservation', -1)"));
    assert_eq!(p.args, vec![json!("test-hotel-reservation"), json!(-1)]);
    let p = ok(&fenced("exec_shell(\"kubectl get pods\", timeout=60)"));
    assert_eq!(p.args, vec![json!("kubectl get pods")]);
    assert_eq!(p.kwargs["timeout"], json!(60));
    let p = ok(&fenced(r#"exec_shell("echo \"hi\"")"#));
    assert_eq!(p.args, vec![json!(r#"echo "hi""#)]);
    let p = ok(&fenced("submit((\"a\", (\"b\",)))"));
    assert_eq!(p.args, vec![json!(["a", ["b"]])]);
}

#[test]
fn multi_line_arguments() {
    let p = ok(&fenced("submit([\n    \"geo\",\n    \"rate\",\n])"));
    assert_eq!(p.args, vec![json!(["geo", "rate"])]);
    let p = ok(&fenced(
        "exec_shell(\"\"\"kubectl get pods \\\n  -n x\"\"\")",
    ));
    assert_eq!(p.args, vec![json!("kubectl get pods \\\n  -n x")]);
}

#[test]
fn second_call_in_block_is_rejected() {
    let err = parse(&fenced("get_logs(\"a\", \"b\")\nsubmit(\"Yes\")")).unwrap_err();
    assert!(err.to_string().contains("single API call"), "{err}");
}

#[test]
fn serializes_with_the_cli_keys() {
    let p = ok("Go.\n```\nsubmit([\"a\"], x=1)\n```");
    let text = serde_json::to_string(&p).unwrap();
    assert_eq!(
        text,
        r#"{"api_name":"submit","args":[["a"]],"kwargs":{"x":1},"context":["Go."]}"#
    );
    let back: ParsedResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(back, p);
}

#[test]
fn lenient_parenthesis_and_comment_forms() {
    assert_eq!(ok(&fenced("submit(\"Yes\"))")).args, vec![json!("Yes")]);
    assert_eq!(
        ok(&fenced("submit(\"Yes\" # done)")).args,
        vec![json!("Yes")]
    );
}

#[test]
fn shell_keyword_and_prefix_fixes() {
    let p = ok(&fenced("exec_shell(command=\"grep command= f\")"));
    assert_eq!(p.args, vec![json!("grep command= f")]);
    let p = ok(&fenced("exec_shell(u\"ls\")"));
    assert_eq!(p.args, vec![json!("ls")]);
    // Two glued calls stay one command, as in AIOpsLab.
    let p = ok(&fenced("exec_shell(\"ls\")\nexec_shell(\"pwd\")"));
    assert_eq!(p.args, vec![json!("ls\")\nexec_shell(\"pwd")]);
}

#[test]
fn values_without_json_form_are_errors() {
    for code in [
        "submit(**{'a': 1})",
        "submit(1j)",
        "submit(...)",
        "submit(1e400)",
        "submit('\\N{DASH}')",
    ] {
        assert!(
            matches!(
                parse(&fenced(code)),
                Err(ParseError::InvalidArguments { .. })
            ),
            "{code}"
        );
    }
    let p = ok(&fenced(
        "submit({1: 'a', False: 'b', None: 'c'}, b'x\\xff')",
    ));
    assert_eq!(
        p.args,
        vec![
            json!({"1": "a", "false": "b", "null": "c"}),
            json!("x\u{fffd}")
        ]
    );
}

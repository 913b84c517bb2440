//! Property tests: the parser never panics, and well-formed calls round-trip.

use aiopslab_core::actions::bind;
use aiopslab_core::parser::{ParseError, parse};
use aiopslab_core::task::TaskKind;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Text built from the characters that matter to the grammar, so that random inputs reach
/// deep into fences, calls, strings and escapes.
fn grammar_soup() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "```",
        "```bash",
        "\n",
        "\r\n",
        " ",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "=",
        "'",
        "\"",
        "\"\"\"",
        "'''",
        "\\",
        "\\\"",
        "#",
        "-",
        "+",
        "*",
        "**",
        ".",
        "0x",
        "1",
        "2.5",
        "e",
        "j",
        "_",
        "r",
        "b",
        "f",
        "u",
        "submit",
        "exec_shell",
        "get_logs",
        "command=",
        "timeout=",
        "True",
        "None",
        "lambda",
        "for",
        "in",
        "if",
        "else",
        "not",
        "é",
        "\u{1c}",
        "\t",
        "😀",
    ]);
    prop::collection::vec(atoms, 0..60).prop_map(|v| v.concat())
}

/// A JSON value that a Python literal can express.
fn literal() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        (-1.0e6f64..1.0e6).prop_map(|f| json!(f)),
        "[a-zA-Z0-9 _./:-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Writes a JSON value as a Python literal.
fn python(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k:?}: {}", python(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_text(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn never_panics_on_grammar_soup(s in grammar_soup()) {
        let result = parse(&s);
        // Every error message carries AIOpsLab's prefix.
        if let Err(e) = &result {
            prop_assert!(e.to_string().starts_with("Error parsing response: "));
        }
        // Binding whatever parsed never panics either.
        if let Ok(call) = &result {
            for task in TaskKind::ALL {
                let _ = bind(task, call);
            }
        }
    }

    #[test]
    fn never_panics_inside_a_fence(s in grammar_soup()) {
        let _ = parse(&format!("```\nsubmit({s})\n```"));
        let _ = parse(&format!("```\nexec_shell({s})\n```"));
    }

    #[test]
    fn literal_arguments_round_trip(args in prop::collection::vec(literal(), 0..4), kw in literal()) {
        let text: Vec<String> = args.iter().map(python).collect();
        let reply = format!("Thinking.\n```\nmy_api({}{}k={})\n```", text.join(", "), if text.is_empty() { "" } else { ", " }, python(&kw));
        let parsed = parse(&reply).unwrap();
        prop_assert_eq!(parsed.api_name, "my_api");
        prop_assert_eq!(parsed.args, args);
        prop_assert_eq!(&parsed.kwargs["k"], &kw);
        prop_assert_eq!(parsed.context, vec!["Thinking.".to_string()]);
    }

    #[test]
    fn shell_commands_without_escapes_are_kept_verbatim(cmd in "[a-zA-Z0-9 _./:|'=-]{0,40}") {
        let parsed = parse(&format!("```\nexec_shell(\"{cmd}\")\n```")).unwrap();
        prop_assert_eq!(parsed.args, vec![Value::String(cmd)]);
    }

    #[test]
    fn text_without_fences_is_a_format_error(s in "[^`]*") {
        prop_assert_eq!(parse(&s), Err(ParseError::FormatValidation));
    }
}

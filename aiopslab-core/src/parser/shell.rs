//! The arguments of `exec_shell`.
//!
//! AIOpsLab does not parse `exec_shell` arguments as Python: it takes the text between the
//! parentheses, drops a leading `command=`, strips the surrounding quote characters and
//! un-escapes `\"` and `\'`. Everything else in the command is kept verbatim (so agents write
//! commands without worrying about Python escapes), and that is what we keep too. On top of
//! it we fix its bugs: only the delimiting quotes are removed (AIOpsLab strips every quote at
//! both ends, losing an escaped or nested quote at the end of the command), only the leading
//! `command=` keyword is removed (AIOpsLab removes it everywhere in the command), and further
//! arguments after the command are accepted (`exec_shell("ls", timeout=60)`).

use serde_json::{Map, Value};

use super::call::{CallArgs, parse_call_args};
use super::error::ParseError;
use super::text::{is_py_space, py_strip};

/// Parses the (stripped, non-empty) text between the parentheses of `exec_shell(...)`.
pub(crate) fn parse_shell_args(args: &str) -> Result<CallArgs, ParseError> {
    if let Some(parsed) = structured(args) {
        return Ok(parsed);
    }
    legacy(args)
}

/// Our reading: `[command=]["""|'''|"|']cmd<same delimiter>[, more arguments]`.
fn structured(args: &str) -> Option<CallArgs> {
    let (rest, by_keyword) = match strip_command_keyword(args) {
        Some(rest) => (rest, true),
        None => (args, false),
    };
    let (rest, raw) = match rest.as_bytes().first() {
        Some(b'r' | b'R') if matches!(rest.as_bytes().get(1), Some(b'"' | b'\'')) => {
            (&rest[1..], true)
        }
        Some(b'u' | b'U') if matches!(rest.as_bytes().get(1), Some(b'"' | b'\'')) => {
            (&rest[1..], false)
        }
        _ => (rest, false),
    };
    let delim = ["\"\"\"", "'''", "\"", "'"]
        .into_iter()
        .find(|d| rest.starts_with(d))?;
    // Every (overlapping) occurrence of the delimiter after the opening one.
    let candidates: Vec<usize> = (delim.len()..=rest.len() - delim.len())
        .filter(|&i| rest.is_char_boundary(i) && rest[i..].starts_with(delim))
        .collect();
    for &end in candidates.iter().rev() {
        let inner = &rest[delim.len()..end];
        let command = if raw {
            inner.to_string()
        } else {
            unescape_quotes(inner)
        };
        let tail = py_strip(&rest[end + delim.len()..]);
        if tail.is_empty() {
            return Some((vec![Value::String(command)], Map::new()));
        }
        let Some(more) = tail.strip_prefix(',') else {
            continue;
        };
        let Ok((extra_args, kwargs)) = parse_call_args(more) else {
            continue;
        };
        if by_keyword && !extra_args.is_empty() {
            continue;
        }
        let mut all = vec![Value::String(command)];
        all.extend(extra_args);
        return Some((all, kwargs));
    }
    None
}

/// `command` `=` at the start (spaces allowed around `=`, but not `==`).
fn strip_command_keyword(args: &str) -> Option<&str> {
    let rest = args.strip_prefix("command")?;
    let rest = rest.trim_start_matches(is_py_space);
    let rest = rest.strip_prefix('=')?;
    if rest.starts_with('=') {
        return None;
    }
    Some(rest.trim_start_matches(is_py_space))
}

fn unescape_quotes(s: &str) -> String {
    s.replace("\\\"", "\"").replace("\\'", "'")
}

/// AIOpsLab's exact algorithm, for inputs our reading does not cover.
fn legacy(args: &str) -> Result<CallArgs, ParseError> {
    let owned;
    let mut s = args;
    if s.starts_with("command=") {
        owned = s.replace("command=", "");
        s = py_strip(&owned);
    }
    let command = if s.starts_with('"') && s.ends_with('"') {
        s.trim_matches('"')
    } else if s.starts_with('\'') && s.ends_with('\'') {
        s.trim_matches('\'')
    } else {
        return Err(ParseError::UnquotedCommand);
    };
    Ok((vec![Value::String(unescape_quotes(command))], Map::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cmd(args: &str) -> (Vec<Value>, Map<String, Value>) {
        parse_shell_args(args).unwrap_or_else(|e| panic!("{args}: {e}"))
    }

    fn only(args: &str) -> String {
        let (a, k) = cmd(args);
        assert!(k.is_empty(), "{args}");
        assert_eq!(a.len(), 1, "{args}");
        a[0].as_str().unwrap().to_string()
    }

    #[test]
    fn commands_are_kept_verbatim_like_aiopslab() {
        assert_eq!(
            only(r#""kubectl get pods -n test-social-network""#),
            "kubectl get pods -n test-social-network"
        );
        let nested = r#""kubectl patch svc user-service -n test-social-network --type='json' -p='[{"op": "replace", "path": "/spec/ports/0/targetPort", "value": 9090}]'""#;
        assert_eq!(
            only(nested),
            r#"kubectl patch svc user-service -n test-social-network --type='json' -p='[{"op": "replace", "path": "/spec/ports/0/targetPort", "value": 9090}]'"#
        );
        assert_eq!(only(r#"'echo "Hello World"'"#), r#"echo "Hello World""#);
        assert_eq!(only(r#""grep 'a\\|b' f""#), r#"grep 'a\\|b' f"#);
        assert_eq!(only(r#"""" echo "hi" """"#), r#" echo "hi" "#);
        assert_eq!(only(r#"command="ls -l""#), "ls -l");
        assert_eq!(only(r#""""#), "");
    }

    #[test]
    fn fixes_aiopslab_quote_and_keyword_bugs() {
        assert_eq!(only(r#""echo \"hi\"""#), r#"echo "hi""#);
        assert_eq!(
            only(r#"'kubectl get pods -o jsonpath='{.items}''"#),
            "kubectl get pods -o jsonpath='{.items}'"
        );
        assert_eq!(only(r#"command="grep command= f""#), "grep command= f");
        assert_eq!(only(r#"command = "ls""#), "ls");
        assert_eq!(only(r#"r"a\"b""#), r#"a\"b"#);
    }

    #[test]
    fn extra_arguments_are_accepted() {
        let (a, k) = cmd(r#""ls -l", timeout=60"#);
        assert_eq!(a, vec![json!("ls -l")]);
        assert_eq!(Value::Object(k), json!({"timeout": 60}));
        let (a, k) = cmd(r#"command="ls", timeout=5"#);
        assert_eq!(a, vec![json!("ls")]);
        assert_eq!(Value::Object(k), json!({"timeout": 5}));
        let (a, _) = cmd(r#""ls", 10"#);
        assert_eq!(a, vec![json!("ls"), json!(10)]);
    }

    #[test]
    fn unquoted_commands_are_rejected() {
        assert_eq!(parse_shell_args("ls -l"), Err(ParseError::UnquotedCommand));
        assert_eq!(
            parse_shell_args(r#""ls" -l"#),
            Err(ParseError::UnquotedCommand)
        );
        assert_eq!(
            parse_shell_args(r#""ls'"#),
            Err(ParseError::UnquotedCommand)
        );
    }

    #[test]
    fn legacy_fallback_matches_aiopslab() {
        // Starts with a triple quote but ends with a single one: AIOpsLab strips all quotes.
        assert_eq!(only(r#""""ls""#), "ls");
        assert_eq!(only("\""), "");
    }
}

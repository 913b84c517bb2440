//! Small text helpers shared by the scorers and the oracles: Python's `str.strip()`, one-line
//! reasons, and short renderings of submitted values.

use serde_json::Value;

/// The longest rendering of a submitted value kept in a reason, in characters.
const MAX_SHOWN: usize = 160;

/// Whether Python's `str.isspace()` holds for `c`: Unicode white space plus the four
/// information separators U+001C..U+001F, which Rust does not count as white space.
fn python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` with no argument.
///
/// ```
/// assert_eq!(aiopslab_eval::text::python_strip("\u{1f} Yes\n"), "Yes");
/// ```
pub fn python_strip(s: &str) -> &str {
    s.trim_matches(python_space)
}

/// Python's `s.strip().lower()`, the normal form AIOpsLab compares answers in.
pub fn normalize(s: &str) -> String {
    python_strip(s).to_lowercase()
}

/// Makes `text` a single line: line breaks become `; ` and blank lines vanish.
///
/// ```
/// assert_eq!(aiopslab_eval::text::one_line("a\n\n  b \r\nc"), "a; b; c");
/// ```
pub fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Cuts `text` to at most `max` characters, marking the cut with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A submitted value as compact JSON on one line, cut to a readable length
/// (`["geo","user"]`, `"Yes"`, `null`).
///
/// ```
/// use serde_json::json;
/// assert_eq!(aiopslab_eval::text::show(&json!(["geo", "user"])), r#"["geo","user"]"#);
/// ```
pub fn show(value: &Value) -> String {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "<unprintable>".to_string());
    truncate(&text, MAX_SHOWN)
}

/// What kind of value was submitted, in words: `null`, `a boolean`, `a number`, `a string`,
/// `a list`, `an object`.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A string quoted as JSON (`"geo"`), for reasons.
pub fn quote(s: &str) -> String {
    show(&Value::String(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strip_matches_python() {
        assert_eq!(python_strip("  \t Yes \n"), "Yes");
        assert_eq!(python_strip("\u{a0}No\u{2003}"), "No");
        assert_eq!(python_strip("\u{1c}x\u{1d}"), "x");
        assert_eq!(python_strip(""), "");
        assert_eq!(normalize(" YES "), "yes");
    }

    #[test]
    fn show_is_compact_one_line_and_short() {
        assert_eq!(show(&json!("a\nb")), r#""a\nb""#);
        assert_eq!(show(&Value::Null), "null");
        let long = json!("x".repeat(500));
        let shown = show(&long);
        assert_eq!(shown.chars().count(), MAX_SHOWN);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn kinds_are_named() {
        assert_eq!(kind(&json!(5)), "a number");
        assert_eq!(kind(&json!({"a": 1})), "an object");
        assert_eq!(kind(&json!([1])), "a list");
        assert_eq!(kind(&json!(true)), "a boolean");
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("only"), "only");
        assert_eq!(one_line("\n\n"), "");
    }
}

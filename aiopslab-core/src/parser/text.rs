//! Small string helpers that follow Python's `str` semantics, so that stripping and
//! whitespace handling match what AIOpsLab does.

/// Whether `c` is whitespace for Python's `str.isspace()` / `str.strip()`.
///
/// Python also treats the ASCII separators U+001C..U+001F as whitespace, which Rust's
/// `char::is_whitespace` does not.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `s.strip()`.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_matches_python_including_separators() {
        assert_eq!(py_strip("\u{1c} a b \r\n"), "a b");
        assert_eq!(py_strip("\u{a0}x\u{3000}"), "x");
        assert_eq!(py_strip(""), "");
    }
}

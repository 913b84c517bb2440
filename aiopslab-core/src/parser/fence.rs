//! Finding the fenced code block in an agent's response and the text around it.
//!
//! AIOpsLab first validates the response with the regular expression
//! ```` ```\s*\n(.*?)\n``` ```` (dot matches newlines) and requires exactly one match, then
//! takes the lines between the first two lines that contain three backticks. We reproduce both
//! steps exactly, and when the strict check fails we try a relaxed reading that accepts what an
//! agent author would expect to work (a language tag after the opening fence, an indented
//! closing fence, a closing fence right after the code, a one-line inline block).

use super::text::{is_py_space, py_strip};

const FENCE: &str = "```";

/// Every index `i` where `s[i..]` starts with three backticks (overlapping), ascending.
fn fence_positions(s: &str) -> Vec<usize> {
    let bytes = s.as_bytes();
    (0..bytes.len().saturating_sub(2))
        .filter(|&i| &bytes[i..i + 3] == FENCE.as_bytes())
        .collect()
}

/// Number of non-overlapping matches of AIOpsLab's validation regex
/// ```` ```\s*\n(.*?)\n``` ```` (DOTALL), with Python's leftmost-first backtracking semantics.
pub(crate) fn strict_block_count(s: &str) -> usize {
    let bytes = s.as_bytes();
    // Start offsets of "\n```", ascending: candidates for the end of the lazy group.
    let closers: Vec<usize> = (0..bytes.len().saturating_sub(3))
        .filter(|&i| bytes[i] == b'\n' && &bytes[i + 1..i + 4] == FENCE.as_bytes())
        .collect();
    let mut count = 0;
    let mut pos = 0;
    while pos + 3 <= bytes.len() {
        match strict_match_at(s, pos, &closers) {
            Some(end) => {
                count += 1;
                pos = end;
            }
            None => pos += 1,
        }
    }
    count
}

/// Tries the validation regex at byte offset `start`; returns the end of the match.
fn strict_match_at(s: &str, start: usize, closers: &[usize]) -> Option<usize> {
    let bytes = s.as_bytes();
    if !bytes[start..].starts_with(FENCE.as_bytes()) {
        return None;
    }
    // `\s*` is greedy: collect the maximal whitespace run after the fence, then try the
    // newline positions inside it from the last to the first (backtracking order).
    let after = start + 3;
    let run_end = s[after..]
        .char_indices()
        .find(|&(_, c)| !is_py_space(c))
        .map_or(s.len(), |(i, _)| after + i);
    let newlines: Vec<usize> = (after..run_end).filter(|&i| bytes[i] == b'\n').collect();
    for &nl in newlines.iter().rev() {
        // `(.*?)` is lazy: the first "\n```" at or after the group start wins.
        let group_start = nl + 1;
        let idx = closers.partition_point(|&c| c < group_start);
        if let Some(&closer) = closers.get(idx) {
            return Some(closer + 4);
        }
    }
    None
}

/// AIOpsLab's `extract_codeblock`: the lines strictly between the first two lines that contain
/// three backticks (split on `\n` only), joined with `\n`; empty if there are fewer than two.
pub(crate) fn python_codeblock(s: &str) -> String {
    let lines: Vec<&str> = s.split('\n').collect();
    let fences: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(FENCE))
        .map(|(i, _)| i)
        .take(2)
        .collect();
    match fences.as_slice() {
        [a, b] => lines[a + 1..*b].join("\n"),
        _ => String::new(),
    }
}

/// Whether `tag` looks like a code-fence info string (`bash`, `python`, `tool_code`, `c++`).
fn is_info_string(tag: &str) -> bool {
    tag.chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '+' | '.' | '#'))
}

/// The relaxed reading used when the strict check fails. Returns the code block, or `None`
/// when the response still does not contain exactly one recognisable block.
pub(crate) fn relaxed_codeblock(s: &str) -> Option<String> {
    let lines: Vec<&str> = s.split('\n').collect();
    let fence_lines: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(FENCE))
        .map(|(i, _)| i)
        .collect();
    match fence_lines.as_slice() {
        [open, close] => {
            let open_line = lines[*open];
            let close_line = lines[*close];
            if open_line.matches(FENCE).count() != 1 || close_line.matches(FENCE).count() != 1 {
                return None;
            }
            // Opening fence: anything before it (like "Action:"), an optional info string after.
            let (_, tag) = open_line.split_once(FENCE)?;
            if !is_info_string(py_strip(tag)) {
                return None;
            }
            // Closing fence: may be indented, or follow the last line of code directly.
            let (before, _) = close_line.split_once(FENCE)?;
            let mut code: Vec<&str> = lines[open + 1..*close].to_vec();
            if !py_strip(before).is_empty() {
                code.push(before);
            }
            Some(code.join("\n"))
        }
        [only] => {
            // One line with an inline block: "```submit("Yes")```".
            let line = lines[*only];
            let positions = fence_positions(line);
            let (a, b) = match positions.as_slice() {
                [a, b] if *b >= a + 3 => (*a, *b),
                _ => return None,
            };
            Some(line[a + 3..b].to_string())
        }
        _ => None,
    }
}

/// AIOpsLab's `extract_context`: the stripped, non-empty texts outside fenced blocks.
///
/// Simulates `re.findall(r"(?:```[\s\S]*?```)|(.*?)(?:(?=```)|$)", s, re.DOTALL)` with
/// Python 3.7+ empty-match rules, then keeps the stripped non-empty groups.
pub(crate) fn extract_context(s: &str) -> Vec<String> {
    let fences = fence_positions(s);
    let len = s.len();
    let next_fence_at_or_after = |from: usize| -> Option<usize> {
        let idx = fences.partition_point(|&f| f < from);
        fences.get(idx).copied()
    };
    // `$` also matches just before a final newline.
    let dollar_before_newline = s.ends_with('\n').then(|| len - 1);

    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut must_advance = false;
    loop {
        if pos > len {
            break;
        }
        // First alternative: a complete fenced block, consumed without a group.
        if s.as_bytes()[pos..].starts_with(FENCE.as_bytes())
            && let Some(close) = next_fence_at_or_after(pos + 3)
        {
            pos = close + 3;
            must_advance = false;
            continue;
        }
        // Second alternative: lazy text up to a fence or the end.
        let min_q = if must_advance { pos + 1 } else { pos };
        if min_q > len {
            break;
        }
        let mut q = next_fence_at_or_after(min_q).unwrap_or(len);
        if let Some(d) = dollar_before_newline
            && d >= min_q
            && d < q
        {
            q = d;
        }
        // `q` may land inside a multi-byte character only if it is `len` or a fence/newline
        // offset, all of which are character boundaries.
        let group = py_strip(&s[pos..q]);
        if !group.is_empty() {
            out.push(group.to_string());
        }
        must_advance = q == pos;
        pos = q;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_count_follows_the_python_regex() {
        assert_eq!(strict_block_count("```\nls()\n```"), 1);
        assert_eq!(strict_block_count("Action: ```\nls()\n```"), 1);
        assert_eq!(strict_block_count("```  \r\nls()\r\n```"), 1);
        assert_eq!(strict_block_count("```bash\nls()\n```"), 0);
        assert_eq!(strict_block_count("```\nls()\n  ```"), 0);
        assert_eq!(strict_block_count("```ls()```"), 0);
        assert_eq!(strict_block_count("```\na()\n```\n```\nb()\n```"), 2);
        // Backtracking inside `\s*`: the empty block "```\n\n```" matches.
        assert_eq!(strict_block_count("```\n\n```"), 1);
        assert_eq!(strict_block_count("```\n```"), 0);
        assert_eq!(strict_block_count(""), 0);
    }

    #[test]
    fn python_codeblock_takes_lines_between_first_two_fence_lines() {
        assert_eq!(python_codeblock("x\n```\na(1)\nb\n```\ny"), "a(1)\nb");
        assert_eq!(python_codeblock("```only one"), "");
    }

    #[test]
    fn relaxed_accepts_tags_indented_and_inline_fences() {
        assert_eq!(
            relaxed_codeblock("```bash\nls()\n```").as_deref(),
            Some("ls()")
        );
        assert_eq!(
            relaxed_codeblock("```\nls()\n    ```").as_deref(),
            Some("ls()")
        );
        assert_eq!(relaxed_codeblock("```\nls()```").as_deref(), Some("ls()"));
        assert_eq!(
            relaxed_codeblock("Do ```ls()``` now").as_deref(),
            Some("ls()")
        );
        assert_eq!(relaxed_codeblock("```bash -x\nls()\n```"), None);
        assert_eq!(relaxed_codeblock("no fences"), None);
    }

    #[test]
    fn context_matches_python_findall() {
        let r = "Thought: check\nAction:\n```\nget_logs('a', 'b')\n```\nThis will help.";
        assert_eq!(
            extract_context(r),
            vec!["Thought: check\nAction:", "This will help."]
        );
        assert_eq!(extract_context("````"), vec!["`", "```"]);
        assert_eq!(extract_context("abc ```def"), vec!["abc", "```def"]);
        assert!(extract_context("```\nx()\n```").is_empty());
        assert!(extract_context("").is_empty());
    }
}

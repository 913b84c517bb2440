//! The response parser: turns an agent's reply into one action call.
//!
//! The grammar is AIOpsLab's (`aiopslab/orchestrator/parser.py`): the reply must contain
//! exactly one fenced code block; the text before the first `(` in the block is the API name;
//! the text between the first `(` and the last `)` holds the arguments, parsed as Python
//! literals (or, for `exec_shell`, taken as a quoted command). The text outside the block is
//! returned as context. Every reply AIOpsLab accepts is accepted with the same result, except
//! for the bugs listed in `docs/compatibility.md`; some replies AIOpsLab rejects needlessly
//! (a language tag after the opening fence, an indented closing fence, negative numbers,
//! `exec_shell("cmd", timeout=60)`, ...) are accepted.
//!
//! ```
//! use aiopslab_core::parser::parse;
//! let reply = "Pods first.\n```bash\nexec_shell(\"kubectl get pods -n test-social-network\")\n```";
//! let call = parse(reply).unwrap();
//! assert_eq!(call.api_name, "exec_shell");
//! assert_eq!(call.args, vec![serde_json::json!("kubectl get pods -n test-social-network")]);
//! assert!(call.kwargs.is_empty());
//! assert_eq!(call.context, vec!["Pods first."]);
//! ```

mod call;
mod error;
mod fence;
mod lexer;
mod shell;
mod text;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use error::{FORMAT_VALIDATION_MESSAGE, ParseError};

use text::py_strip;

/// One action call read from an agent's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedResponse {
    /// The text before the first `(` of the code block, stripped (e.g. `exec_shell`).
    pub api_name: String,
    /// Positional arguments as JSON values (tuples become arrays).
    pub args: Vec<Value>,
    /// Keyword arguments, in the order written.
    pub kwargs: Map<String, Value>,
    /// The non-empty texts outside the code block (thoughts, explanations), stripped.
    pub context: Vec<String>,
}

/// Parses an agent's reply into one action call.
///
/// Never panics; every rejection is a [`ParseError`] whose `Display` is the observation the
/// agent should receive.
///
/// ```
/// use aiopslab_core::parser::{parse, ParseError};
/// use serde_json::json;
///
/// let call = parse("```\nsubmit([\"geo\", \"rate\"])\n```").unwrap();
/// assert_eq!(call.api_name, "submit");
/// assert_eq!(call.args, vec![json!(["geo", "rate"])]);
///
/// let call = parse("```\nexec_shell(\"kubectl get pods\", timeout=60)\n```").unwrap();
/// assert_eq!(call.kwargs["timeout"], json!(60));
///
/// assert_eq!(parse("no code block"), Err(ParseError::FormatValidation));
/// ```
pub fn parse(response: &str) -> Result<ParsedResponse, ParseError> {
    let code_block = code_block(response)?;
    let context = fence::extract_context(response);
    let api_name = parse_api_name(&code_block);
    let (args, kwargs) = parse_args(&code_block, api_name == "exec_shell")?;
    Ok(ParsedResponse {
        api_name,
        args,
        kwargs,
        context,
    })
}

/// The code block of the reply: AIOpsLab's strict check first, then the relaxed reading.
///
/// The relaxed reading is only trusted when it yields a call (`name(`); otherwise the
/// format-validation message, which shows the expected layout, helps the agent more.
fn code_block(response: &str) -> Result<String, ParseError> {
    if fence::strict_block_count(response) == 1 {
        return Ok(fence::python_codeblock(response));
    }
    fence::relaxed_codeblock(response)
        .filter(|code| code.contains('(') && is_identifier(&parse_api_name(code)))
        .ok_or(ParseError::FormatValidation)
}

/// Whether `s` is a Python identifier (`exec_shell`, `submit`).
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// The text before the first `(`, stripped; empty if there is none.
fn parse_api_name(code_block: &str) -> String {
    code_block
        .find('(')
        .map(|i| py_strip(&code_block[..i]).to_string())
        .unwrap_or_default()
}

/// The arguments between the first `(` and the last `)`.
fn parse_args(code_block: &str, is_shell: bool) -> Result<call::CallArgs, ParseError> {
    let (Some(open), Some(close)) = (code_block.find('('), code_block.rfind(')')) else {
        return Err(ParseError::NoApiCall);
    };
    // Like a Python slice, a `)` before the `(` gives an empty argument text.
    let inner = if close > open {
        py_strip(&code_block[open + 1..close])
    } else {
        ""
    };
    if inner.is_empty() {
        return Ok((Vec::new(), Map::new()));
    }
    if is_shell {
        shell::parse_shell_args(inner)
    } else {
        call::parse_call_args(inner)
    }
}

#[cfg(test)]
mod tests;

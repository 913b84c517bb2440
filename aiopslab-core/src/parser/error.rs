//! The errors the response parser reports, with the texts agents see.

/// AIOpsLab's format-validation message (the part after `Error parsing response: `),
/// reproduced byte for byte, including its trailing spaces.
pub const FORMAT_VALIDATION_MESSAGE: &str = "\nFormat validation failure. Only have one pair of three ticks in your block and check the ticks. \nCorrect example 1:\nI should run:\n```\nexec_shell(\"ls\")\n```\n\nCorrect example 2:\nCheck k8s info \n```\nexec_shell(\"kubectl get services --all-namespaces\")\n```\n            ";

/// Why an agent's response could not be turned into an action call.
///
/// `Display` gives the text the agent receives as its next observation; like AIOpsLab's
/// `ResponseParsingError`, every message starts with `Error parsing response: `.
///
/// ```
/// use aiopslab_core::parser::{parse, ParseError};
/// let err = parse("```\nhello\n```").unwrap_err();
/// assert_eq!(err, ParseError::NoApiCall);
/// assert_eq!(err.to_string(), "Error parsing response: No API call found!");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The response does not contain exactly one fenced code block.
    #[error("Error parsing response: {FORMAT_VALIDATION_MESSAGE}")]
    FormatValidation,
    /// The code block holds no `name(...)` call.
    #[error("Error parsing response: No API call found!")]
    NoApiCall,
    /// The argument of `exec_shell` is not a quoted string.
    #[error("Error parsing response: Error when parsing response: commands must be quoted strings")]
    UnquotedCommand,
    /// An argument is a valid Python expression but not a literal value, e.g. a bare name
    /// (`submit(Yes)`), an f-string or an arithmetic expression. `node` is the Python class of
    /// the expression, as AIOpsLab prints it (`ast.Name`, `ast.BinOp`, ...).
    #[error("Error parsing response: Unsupported AST node type: <class '{node}'>")]
    UnsupportedNode {
        /// The Python AST class name, e.g. `ast.Name`.
        node: String,
    },
    /// The arguments are not valid Python call syntax, or use a form that cannot be
    /// represented (e.g. `**kwargs`, complex numbers, more than one call).
    #[error("Error parsing response: {message}")]
    InvalidArguments {
        /// What was wrong and how to write it instead.
        message: String,
    },
}

const SYNTAX_HINT: &str = "Write a single call whose arguments are Python literals: strings, numbers, True/False/None, lists, tuples and dicts, e.g. submit([\"service-a\"]) or exec_shell(\"kubectl get pods -n my-ns\").";

impl ParseError {
    /// The message without the `Error parsing response: ` prefix (AIOpsLab's `.message`).
    pub fn message(&self) -> String {
        let full = self.to_string();
        full.strip_prefix("Error parsing response: ")
            .unwrap_or(&full)
            .to_string()
    }

    /// A syntax error at character `col` of the argument text.
    pub(crate) fn syntax(col: usize, what: impl Into<String>) -> Self {
        ParseError::InvalidArguments {
            message: format!(
                "invalid syntax in the call arguments at character {}: {}. {SYNTAX_HINT}",
                col + 1,
                what.into()
            ),
        }
    }

    /// An argument that parses but has no JSON value.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ParseError::InvalidArguments {
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(node: &str) -> Self {
        ParseError::UnsupportedNode {
            node: node.to_string(),
        }
    }
}

//! Errors of the problem registry.

use aiopslab_core::problem::EntryError;
use std::fmt;

/// A problem id that is not in the catalogue.
///
/// Its message names the id, suggests the closest known ids and says how to list them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProblem {
    /// The id that was asked for.
    pub id: String,
    /// The closest known ids, best first.
    pub suggestions: Vec<String>,
    /// How many ids the catalogue has.
    pub known: usize,
}

impl fmt::Display for UnknownProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown problem id `{}`", self.id)?;
        if self.suggestions.is_empty() {
            f.write_str(".")?;
        } else {
            write!(f, "; did you mean {}?", quoted_list(&self.suggestions))?;
        }
        write!(
            f,
            " Run `aiopslab problems` to list all {} problem ids.",
            self.known
        )
    }
}

impl std::error::Error for UnknownProblem {}

/// An application name that matches no application of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownApp {
    /// The name that was asked for.
    pub query: String,
    /// The known applications, as `Class (namespace)`.
    pub known: Vec<String>,
}

impl fmt::Display for UnknownApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown application `{}`; known applications: {}. Any spelling of the name, class or \
             namespace works (case, spaces, `-` and `_` are ignored).",
            self.query,
            self.known.join(", ")
        )
    }
}

impl std::error::Error for UnknownApp {}

/// Why a catalogue file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The text is not valid YAML or does not have the catalogue's shape.
    #[error("the problem catalogue is not valid: {0}")]
    Syntax(#[from] serde_saphyr::Error),
    /// Two entries have the same id.
    #[error("the problem catalogue lists `{0}` twice")]
    DuplicateId(String),
    /// Two applications have the same class.
    #[error("the problem catalogue defines application `{0}` twice")]
    DuplicateApp(String),
    /// An entry names an application that `apps` does not define.
    #[error(
        "problem `{id}` names application `{app}`, which the catalogue's `apps` does not define"
    )]
    UnknownApp {
        /// The problem id.
        id: String,
        /// The application key it names.
        app: String,
    },
    /// An entry names a workload that `workloads` does not define.
    #[error(
        "problem `{id}` names workload `{workload}`, which the catalogue's `workloads` does not define"
    )]
    UnknownWorkload {
        /// The problem id.
        id: String,
        /// The workload key it names.
        workload: String,
    },
    /// An entry is inconsistent.
    #[error(transparent)]
    Entry(#[from] EntryError),
}

fn quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("`{item}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_problem_message_suggests_and_says_how_to_list() {
        let err = UnknownProblem {
            id: "foo".into(),
            suggestions: vec!["a".into(), "b".into(), "c".into()],
            known: 89,
        };
        assert_eq!(
            err.to_string(),
            "unknown problem id `foo`; did you mean `a`, `b` or `c`? \
             Run `aiopslab problems` to list all 89 problem ids."
        );
        let lonely = UnknownProblem {
            id: "foo".into(),
            suggestions: vec![],
            known: 0,
        };
        assert_eq!(
            lonely.to_string(),
            "unknown problem id `foo`. Run `aiopslab problems` to list all 0 problem ids."
        );
    }
}

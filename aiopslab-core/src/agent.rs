//! The [`Agent`] trait: what the orchestrator needs from an agent.
//!
//! ```
//! use aiopslab_core::agent::{Agent, AgentContext, AgentError};
//! use aiopslab_core::session::TokenUsage;
//!
//! /// Answers "Yes" at once.
//! struct Eager;
//!
//! #[async_trait::async_trait]
//! impl Agent for Eager {
//!     async fn init(&mut self, _context: &AgentContext) -> Result<(), AgentError> {
//!         Ok(())
//!     }
//!     async fn next_response(&mut self, _observation: &str) -> Result<String, AgentError> {
//!         Ok("```\nsubmit(\"Yes\")\n```".to_string())
//!     }
//! }
//!
//! let agent: Box<dyn Agent> = Box::new(Eager);
//! assert_eq!(agent.last_usage(), None::<TokenUsage>);
//! ```

use serde::{Deserialize, Serialize};

use crate::actions::ActionDocs;
use crate::session::TokenUsage;
use crate::task::TaskKind;

/// Everything an agent is told about a problem before the first step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentContext {
    /// The problem id.
    pub problem_id: String,
    /// The task kind.
    pub task: TaskKind,
    /// The task description, with the application summary.
    pub description: String,
    /// How to answer: response format and submission examples.
    pub instructions: String,
    /// The available actions and their documentation, in AIOpsLab's order.
    pub actions: ActionDocs,
}

/// An error an agent reports (an API failure, a human quitting, ...). It ends the episode.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AgentError {
    /// What went wrong.
    pub message: String,
    /// The underlying error, if any.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl AgentError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        AgentError {
            message: message.into(),
            source: None,
        }
    }

    /// An error with a message and its cause.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        AgentError {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// An agent solving AIOpsLab problems.
///
/// The orchestrator calls [`init`](Agent::init) once, then
/// [`next_response`](Agent::next_response) once per step: the first observation is
/// `Please take the next action`, later ones are the previous action's result followed by a
/// newline and that sentence. The response should hold one action call in a fenced code
/// block (see [`crate::parser`]).
#[async_trait::async_trait]
pub trait Agent: Send {
    /// Receives the problem description, the instructions and the action docs.
    async fn init(&mut self, context: &AgentContext) -> Result<(), AgentError>;

    /// Returns the response to an observation.
    async fn next_response(&mut self, observation: &str) -> Result<String, AgentError>;

    /// The tokens the last [`next_response`](Agent::next_response) call used, if known.
    fn last_usage(&self) -> Option<TokenUsage> {
        None
    }
}

#[async_trait::async_trait]
impl<A: Agent + ?Sized> Agent for Box<A> {
    async fn init(&mut self, context: &AgentContext) -> Result<(), AgentError> {
        (**self).init(context).await
    }

    async fn next_response(&mut self, observation: &str) -> Result<String, AgentError> {
        (**self).next_response(observation).await
    }

    fn last_usage(&self) -> Option<TokenUsage> {
        (**self).last_usage()
    }
}

//! The orchestrator: drives an [`Agent`] against an [`Environment`] for one episode.
//!
//! The loop is AIOpsLab's (`Orchestrator.start_problem`): the first input is
//! `Please take the next action`; each response is parsed into one action call; parse errors
//! and invalid calls become the next observation; other actions run in the environment and
//! their output becomes the observation; the next input is `<observation>\nPlease take the
//! next action`. A valid `submit` ends the episode, and so does the step limit; both are
//! scored with the captured solution. The environment is torn down on every way out: after
//! scoring, after an agent or environment error, after a panic and after Ctrl-C.
//!
//! ```
//! use aiopslab_core::actions::{action_docs, ActionCall};
//! use aiopslab_core::agent::{Agent, AgentContext, AgentError};
//! use aiopslab_core::orchestrator::{
//!     Environment, EnvironmentError, Evaluation, NoInterrupt, Orchestrator, OrchestratorConfig, ProblemSetup,
//! };
//! use aiopslab_core::session::EndReason;
//! use aiopslab_core::task::TaskKind;
//! use serde_json::{json, Map, Value};
//!
//! struct Toy;
//!
//! #[async_trait::async_trait]
//! impl Environment for Toy {
//!     async fn setup(&mut self) -> Result<ProblemSetup, EnvironmentError> {
//!         Ok(ProblemSetup::new("toy-detection-1", TaskKind::Detection, "Find it.", "Answer.", action_docs(TaskKind::Detection)))
//!     }
//!     async fn perform(&mut self, call: &ActionCall) -> Result<String, EnvironmentError> {
//!         Ok(format!("ran {}", call.name()))
//!     }
//!     async fn evaluate(&mut self, input: &Evaluation<'_>) -> Result<Map<String, Value>, EnvironmentError> {
//!         let mut results = Map::new();
//!         let correct = input.solution == &json!("Yes");
//!         results.insert("Detection Accuracy".into(), json!(if correct { "Correct" } else { "Incorrect" }));
//!         Ok(results)
//!     }
//!     async fn teardown(&mut self) -> Result<(), EnvironmentError> {
//!         Ok(())
//!     }
//! }
//!
//! struct Scripted(Vec<&'static str>);
//!
//! #[async_trait::async_trait]
//! impl Agent for Scripted {
//!     async fn init(&mut self, _: &AgentContext) -> Result<(), AgentError> { Ok(()) }
//!     async fn next_response(&mut self, _: &str) -> Result<String, AgentError> {
//!         Ok(self.0.remove(0).to_string())
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let orchestrator = Orchestrator::new(OrchestratorConfig::default()).with_interrupt(NoInterrupt);
//! let mut agent = Scripted(vec!["```\nexec_shell(\"kubectl get pods\")\n```", "```\nsubmit(\"Yes\")\n```"]);
//! let outcome = orchestrator.run(&mut agent, &mut Toy).await;
//! assert_eq!(outcome.end_reason, EndReason::Submitted);
//! assert_eq!(outcome.session.trace[1].content, "ran exec_shell");
//! assert_eq!(outcome.session.results["Detection Accuracy"], json!("Correct"));
//! assert_eq!(outcome.session.results["steps"], json!(2));
//! assert!(outcome.session.results.contains_key("TTD"));
//! # });
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tracing::{debug, info, warn};

use crate::actions::{ActionCall, ActionDocs, available_actions, bind};
use crate::agent::{Agent, AgentContext};
use crate::error::Error;
use crate::parser::{ParsedResponse, parse};
use crate::session::{EndReason, Role, Session, StepRecord, TraceItem};
use crate::task::TaskKind;

/// The sentence that asks the agent for its next action.
pub const NEXT_ACTION: &str = "Please take the next action";

/// The observation recorded after a valid `submit`: AIOpsLab records its
/// `SubmissionStatus.VALID_SUBMISSION` value, which becomes the string `"1"`.
pub const SUBMISSION_OBSERVATION: &str = "1";

/// The default step limit (AIOpsLab's command line uses 30).
pub const DEFAULT_MAX_STEPS: usize = 30;

/// What the environment tells the orchestrator after setting a problem up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemSetup {
    /// The problem id.
    pub problem_id: String,
    /// The task kind (decides the `submit` signature and the time key).
    pub task: TaskKind,
    /// The task description given to the agent.
    pub description: String,
    /// The instructions given to the agent.
    pub instructions: String,
    /// The action documentation given to the agent, normally
    /// [`action_docs(task)`](crate::actions::action_docs). Calls are always checked against
    /// the task's built-in actions.
    pub actions: ActionDocs,
    /// The seed that drives the environment, if any.
    pub seed: Option<u64>,
    /// A hash of the problem definition (see [`crate::session::hash_definition`]).
    pub problem_hash: Option<String>,
    /// Versions worth recording (cluster, kubectl, ...), merged into the session's.
    pub tool_versions: BTreeMap<String, String>,
}

impl ProblemSetup {
    /// A setup with no seed, hash or versions.
    pub fn new(
        problem_id: impl Into<String>,
        task: TaskKind,
        description: impl Into<String>,
        instructions: impl Into<String>,
        actions: ActionDocs,
    ) -> Self {
        ProblemSetup {
            problem_id: problem_id.into(),
            task,
            description: description.into(),
            instructions: instructions.into(),
            actions,
            seed: None,
            problem_hash: None,
            tool_versions: BTreeMap::new(),
        }
    }
}

/// A failure of the environment. It ends the episode (teardown still runs).
///
/// Failures an agent should see and react to (a missing pod, a failing command, a timeout)
/// are not errors: return them from [`Environment::perform`] as the observation text.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct EnvironmentError {
    /// What went wrong.
    pub message: String,
    /// The underlying error, if any.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl EnvironmentError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        EnvironmentError {
            message: message.into(),
            source: None,
        }
    }

    /// An error with a message and its cause.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        EnvironmentError {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// What the environment scores.
#[derive(Debug, Clone, Copy)]
pub struct Evaluation<'a> {
    /// The task kind.
    pub task: TaskKind,
    /// The captured solution (`null` if the agent never submitted).
    pub solution: &'a Value,
    /// The trace so far.
    pub trace: &'a [TraceItem],
    /// Seconds from the start of the agent loop to its end.
    pub duration: f64,
    /// How the loop ended: [`EndReason::Submitted`] or [`EndReason::StepLimit`].
    pub end_reason: EndReason,
    /// Per-step timing and token usage.
    pub steps: &'a [StepRecord],
}

/// A problem on a cluster, as the orchestrator drives it: set up, act, score, tear down.
///
/// Implementations live in the crates that own clusters, faults and scoring.
#[async_trait::async_trait]
pub trait Environment: Send {
    /// Deploys the application, injects the fault, starts the workload and says what the
    /// agent is told.
    async fn setup(&mut self) -> Result<ProblemSetup, EnvironmentError>;

    /// Runs one non-submit action and returns the observation text.
    async fn perform(&mut self, call: &ActionCall) -> Result<String, EnvironmentError>;

    /// Scores the episode. The result keys keep the returned order; the orchestrator appends
    /// the time key (`TTD`...), `steps`, and `in_tokens` / `out_tokens` (when the agent
    /// reported usage) if they are missing.
    async fn evaluate(
        &mut self,
        input: &Evaluation<'_>,
    ) -> Result<Map<String, Value>, EnvironmentError>;

    /// Recovers the fault and cleans up. Called exactly once per run, whatever ended it,
    /// also after a failed or interrupted setup: it must be safe on partial state.
    async fn teardown(&mut self) -> Result<(), EnvironmentError>;
}

#[async_trait::async_trait]
impl<E: Environment + ?Sized> Environment for Box<E> {
    async fn setup(&mut self) -> Result<ProblemSetup, EnvironmentError> {
        (**self).setup().await
    }

    async fn perform(&mut self, call: &ActionCall) -> Result<String, EnvironmentError> {
        (**self).perform(call).await
    }

    async fn evaluate(
        &mut self,
        input: &Evaluation<'_>,
    ) -> Result<Map<String, Value>, EnvironmentError> {
        (**self).evaluate(input).await
    }

    async fn teardown(&mut self) -> Result<(), EnvironmentError> {
        (**self).teardown().await
    }
}

/// A future that completes when the run should stop.
pub type InterruptFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where interrupts come from: Ctrl-C in a terminal, anything in tests.
pub trait InterruptSource: Send + Sync {
    /// A future that completes on the next interrupt.
    fn wait(&self) -> InterruptFuture;
}

impl<F> InterruptSource for F
where
    F: Fn() -> InterruptFuture + Send + Sync,
{
    fn wait(&self) -> InterruptFuture {
        self()
    }
}

/// Interrupts on Ctrl-C (SIGINT). If the signal cannot be watched, never interrupts.
///
/// Once watched, tokio keeps its SIGINT handler installed for the life of the process, so a
/// later Ctrl-C no longer terminates the program by itself: a command-line tool should exit
/// after its runs, or watch for a second Ctrl-C during teardown.
#[derive(Debug, Clone, Copy, Default)]
pub struct CtrlC;

impl InterruptSource for CtrlC {
    fn wait(&self) -> InterruptFuture {
        Box::pin(async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                warn!(error = %e, "cannot watch Ctrl-C; the run can only end by itself");
                std::future::pending::<()>().await;
            }
        })
    }
}

/// Never interrupts.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoInterrupt;

impl InterruptSource for NoInterrupt {
    fn wait(&self) -> InterruptFuture {
        Box::pin(std::future::pending())
    }
}

/// Settings of the orchestrator.
#[derive(Debug, Clone, PartialEq)]
pub struct OrchestratorConfig {
    /// The most agent responses per episode.
    pub max_steps: usize,
    /// The agent's name in the session record.
    pub agent_name: String,
    /// Where to write the session JSON; `None` writes nothing.
    pub results_dir: Option<PathBuf>,
    /// Extra versions to record in every session (e.g. the model).
    pub tool_versions: BTreeMap<String, String>,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        OrchestratorConfig {
            max_steps: DEFAULT_MAX_STEPS,
            agent_name: "agent".to_string(),
            results_dir: None,
            tool_versions: BTreeMap::new(),
        }
    }
}

/// The result of one run.
#[derive(Debug)]
pub struct Outcome {
    /// The session record (trace, results, solution, timings, end reason).
    pub session: Session,
    /// Why the episode ended (also in `session.end_reason`).
    pub end_reason: EndReason,
    /// The session file, if one was written.
    pub session_file: Option<PathBuf>,
    /// Why the session file could not be written, if it could not.
    pub save_error: Option<Error>,
    /// Seconds the whole run took beyond the agent loop (setup, scoring, teardown).
    pub framework_overhead: f64,
}

/// Runs episodes. See the [module documentation](self) for an example.
pub struct Orchestrator {
    config: OrchestratorConfig,
    interrupt: Arc<dyn InterruptSource>,
}

impl std::fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How the interruptible part of a run ended.
type PhaseEnd = (EndReason, Option<String>);

impl Orchestrator {
    /// An orchestrator that stops on Ctrl-C.
    pub fn new(config: OrchestratorConfig) -> Self {
        Orchestrator {
            config,
            interrupt: Arc::new(CtrlC),
        }
    }

    /// Replaces the interrupt source (tests inject their own; [`NoInterrupt`] disables it).
    pub fn with_interrupt(mut self, source: impl InterruptSource + 'static) -> Self {
        self.interrupt = Arc::new(source);
        self
    }

    /// The settings.
    pub fn config(&self) -> &OrchestratorConfig {
        &self.config
    }

    /// Runs one episode: setup, the agent loop, scoring, teardown, and the session file.
    ///
    /// Never fails: every way an episode can end is reported in [`Outcome::end_reason`].
    pub async fn run(&self, agent: &mut dyn Agent, env: &mut dyn Environment) -> Outcome {
        let run_start = Instant::now();
        let mut session = Session::new(self.config.agent_name.clone(), "");
        session.tool_versions.other = self.config.tool_versions.clone();

        let (end_reason, detail) = {
            let mut interrupt = self.interrupt.wait();
            let phase = self.interruptible(agent, env, &mut session);
            tokio::pin!(phase);
            tokio::select! {
                biased;
                () = &mut interrupt => (EndReason::Interrupted, Some("interrupted (Ctrl-C)".to_string())),
                end = &mut phase => end,
            }
        };
        if session.start_time == 0.0 {
            session.start();
        }
        if session.end_time.is_none() {
            session.end();
        }
        session.end_reason = Some(end_reason);
        session.end_detail = detail;
        match &session.end_detail {
            Some(d) => warn!(reason = %end_reason, detail = %d, "episode ended"),
            None => info!(reason = %end_reason, "episode ended"),
        }

        info!("tearing down: recovering the fault and cleaning up");
        if let Err(e) = guard(env.teardown()).await {
            warn!(error = %e, "teardown failed");
            session.teardown_error = Some(error_chain(&e));
        }

        let (session_file, save_error) = match &self.config.results_dir {
            Some(dir) => match session.save(dir) {
                Ok(path) => {
                    info!(path = %path.display(), "session written");
                    (Some(path), None)
                }
                Err(e) => {
                    warn!(error = %e, "cannot write the session file");
                    (None, Some(e))
                }
            },
            None => (None, None),
        };
        let framework_overhead = (run_start.elapsed().as_secs_f64() - session.duration()).max(0.0);
        Outcome {
            session,
            end_reason,
            session_file,
            save_error,
            framework_overhead,
        }
    }

    /// Setup, the agent loop and scoring: everything an interrupt may cut short.
    async fn interruptible(
        &self,
        agent: &mut dyn Agent,
        env: &mut dyn Environment,
        session: &mut Session,
    ) -> PhaseEnd {
        let setup = match guard(env.setup()).await {
            Ok(setup) => setup,
            Err(e) => {
                return (
                    EndReason::EnvironmentError,
                    Some(format!("setup failed: {}", error_chain(&e))),
                );
            }
        };
        session.problem_id = setup.problem_id.clone();
        session.seed = setup.seed;
        session.problem_hash = setup.problem_hash.clone();
        session
            .tool_versions
            .other
            .extend(setup.tool_versions.clone());
        info!(problem = %setup.problem_id, task = %setup.task, max_steps = self.config.max_steps, "episode started");

        let context = AgentContext {
            problem_id: setup.problem_id.clone(),
            task: setup.task,
            description: setup.description,
            instructions: setup.instructions,
            actions: setup.actions,
        };
        match AssertUnwindSafe(agent.init(&context)).catch_unwind().await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return (
                    EndReason::AgentError,
                    Some(format!("agent init failed: {}", error_chain(&e))),
                );
            }
            Err(panic) => {
                return (
                    EndReason::AgentPanic,
                    Some(format!(
                        "agent panicked in init: {}",
                        panic_message(panic.as_ref())
                    )),
                );
            }
        }

        let end_reason = match self.agent_loop(agent, env, setup.task, session).await {
            LoopEnd::Submitted => EndReason::Submitted,
            LoopEnd::StepLimit => EndReason::StepLimit,
            LoopEnd::Cut(end) => {
                session.end();
                return end;
            }
        };
        session.end();

        let input = Evaluation {
            task: setup.task,
            solution: &session.solution,
            trace: &session.trace,
            duration: session.duration(),
            end_reason,
            steps: &session.steps,
        };
        match guard(env.evaluate(&input)).await {
            Ok(mut results) => {
                complete_results(&mut results, setup.task, session);
                let shown = Value::Object(results.clone());
                info!(results = %shown, "results");
                session.results = results;
                (end_reason, None)
            }
            Err(e) => (
                EndReason::EnvironmentError,
                Some(format!("evaluation failed: {}", error_chain(&e))),
            ),
        }
    }

    /// The agent loop: until a valid submission, the step limit, or a failure.
    async fn agent_loop(
        &self,
        agent: &mut dyn Agent,
        env: &mut dyn Environment,
        task: TaskKind,
        session: &mut Session,
    ) -> LoopEnd {
        session.start();
        let mut input = NEXT_ACTION.to_string();
        for step in 1..=self.config.max_steps {
            let step_start = Instant::now();
            let response = match AssertUnwindSafe(agent.next_response(&input))
                .catch_unwind()
                .await
            {
                Ok(Ok(response)) => response,
                Ok(Err(e)) => {
                    return LoopEnd::Cut((
                        EndReason::AgentError,
                        Some(format!("agent failed at step {step}: {}", error_chain(&e))),
                    ));
                }
                Err(panic) => {
                    return LoopEnd::Cut((
                        EndReason::AgentPanic,
                        Some(format!(
                            "agent panicked at step {step}: {}",
                            panic_message(panic.as_ref())
                        )),
                    ));
                }
            };
            let agent_time = step_start.elapsed().as_secs_f64();
            let usage = match std::panic::catch_unwind(AssertUnwindSafe(|| agent.last_usage())) {
                Ok(usage) => usage,
                Err(panic) => {
                    return LoopEnd::Cut((
                        EndReason::AgentPanic,
                        Some(format!(
                            "agent panicked reporting token usage at step {step}: {}",
                            panic_message(panic.as_ref())
                        )),
                    ));
                }
            };
            debug!(step, response = %response, "agent response");
            session.add(Role::Assistant, response.clone());

            let reaction = match self.react(task, &response, env, session).await {
                Ok(reaction) => reaction,
                Err(end) => return LoopEnd::Cut(end),
            };
            debug!(step, observation = %reaction.observation, "observation");
            session.add(Role::Env, reaction.observation.clone());
            session.steps.push(StepRecord {
                step,
                wall_time: step_start.elapsed().as_secs_f64(),
                agent_time,
                action: reaction.action,
                in_tokens: usage.map(|u| u.input_tokens),
                out_tokens: usage.map(|u| u.output_tokens),
            });
            if reaction.submitted {
                return LoopEnd::Submitted;
            }
            input = format!("{}\n{NEXT_ACTION}", reaction.observation);
        }
        LoopEnd::StepLimit
    }

    /// Parses a response, captures a submission, and runs the action.
    async fn react(
        &self,
        task: TaskKind,
        response: &str,
        env: &mut dyn Environment,
        session: &mut Session,
    ) -> Result<Reaction, PhaseEnd> {
        let parsed = match parse(response) {
            Ok(parsed) => parsed,
            Err(e) => {
                return Ok(Reaction {
                    observation: e.to_string(),
                    action: None,
                    submitted: false,
                });
            }
        };
        let action = Some(parsed.api_name.clone());
        if parsed.api_name == "submit" {
            session.solution = capture_solution(task, &parsed);
        }
        let call = match bind(task, &parsed) {
            Ok(call) => call,
            Err(e) => {
                return Ok(Reaction {
                    observation: e.to_string(),
                    action,
                    submitted: false,
                });
            }
        };
        if call.is_submit() {
            return Ok(Reaction {
                observation: SUBMISSION_OBSERVATION.to_string(),
                action,
                submitted: true,
            });
        }
        match guard(env.perform(&call)).await {
            Ok(observation) => Ok(Reaction {
                observation,
                action,
                submitted: false,
            }),
            Err(e) => Err((
                EndReason::EnvironmentError,
                Some(format!(
                    "action {} failed: {}",
                    call.name(),
                    error_chain(&e)
                )),
            )),
        }
    }
}

/// How the agent loop ended.
enum LoopEnd {
    Submitted,
    StepLimit,
    Cut(PhaseEnd),
}

/// What one response led to.
struct Reaction {
    observation: String,
    action: Option<String>,
    submitted: bool,
}

/// The solution a `submit` call stores, captured before dispatch as AIOpsLab does: the
/// single positional argument, or the list of positional arguments; when there are none, the
/// task's answer passed by keyword (AIOpsLab drops it and stores `[]`).
///
/// ```
/// use aiopslab_core::orchestrator::capture_solution;
/// use aiopslab_core::parser::parse;
/// use aiopslab_core::task::TaskKind;
/// use serde_json::json;
/// let call = parse("```\nsubmit(has_anomaly=\"Yes\")\n```").unwrap();
/// assert_eq!(capture_solution(TaskKind::Detection, &call), json!("Yes"));
/// let call = parse("```\nsubmit()\n```").unwrap();
/// assert_eq!(capture_solution(TaskKind::Mitigation, &call), json!([]));
/// ```
pub fn capture_solution(task: TaskKind, call: &ParsedResponse) -> Value {
    match call.args.as_slice() {
        [only] => only.clone(),
        [] => available_actions(task)
            .into_iter()
            .find(|a| a.name == "submit")
            .and_then(|submit| submit.params.first().map(|p| p.name))
            .and_then(|name| call.kwargs.get(name).cloned())
            .unwrap_or_else(|| Value::Array(Vec::new())),
        many => Value::Array(many.to_vec()),
    }
}

/// Appends the keys every result set carries when the environment left them out.
fn complete_results(results: &mut Map<String, Value>, task: TaskKind, session: &Session) {
    let time_key = task.time_key();
    if !results.contains_key(time_key) {
        results.insert(time_key.to_string(), Value::from(session.duration()));
    }
    if !results.contains_key("steps") {
        results.insert("steps".to_string(), Value::from(session.assistant_steps()));
    }
    let reported = session
        .steps
        .iter()
        .any(|s| s.in_tokens.is_some() || s.out_tokens.is_some());
    if reported {
        let in_tokens: u64 = session.steps.iter().filter_map(|s| s.in_tokens).sum();
        let out_tokens: u64 = session.steps.iter().filter_map(|s| s.out_tokens).sum();
        if !results.contains_key("in_tokens") {
            results.insert("in_tokens".to_string(), Value::from(in_tokens));
        }
        if !results.contains_key("out_tokens") {
            results.insert("out_tokens".to_string(), Value::from(out_tokens));
        }
    }
}

/// Awaits an environment future, turning a panic into an [`EnvironmentError`].
async fn guard<T>(
    fut: impl Future<Output = Result<T, EnvironmentError>>,
) -> Result<T, EnvironmentError> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(EnvironmentError::new(format!(
            "the environment panicked: {}",
            panic_message(panic.as_ref())
        ))),
    }
}

/// The message of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// An error and its causes, joined with `: `.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

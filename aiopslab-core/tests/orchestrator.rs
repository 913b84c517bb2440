//! The orchestrator loop against a scripted agent and a scripted environment.

use std::sync::{Arc, Mutex};

use aiopslab_core::actions::{ActionCall, action_docs};
use aiopslab_core::agent::{Agent, AgentContext, AgentError};
use aiopslab_core::orchestrator::{
    Environment, EnvironmentError, Evaluation, InterruptFuture, NoInterrupt, Orchestrator,
    OrchestratorConfig, ProblemSetup,
};
use aiopslab_core::parser::FORMAT_VALIDATION_MESSAGE;
use aiopslab_core::session::{EndReason, Role, Session, TokenUsage};
use aiopslab_core::task::TaskKind;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

/// What happened in the environment, in order.
#[derive(Default)]
struct Log {
    events: Vec<String>,
    evaluated: Option<(Value, usize, EndReason)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Failure {
    None,
    Setup,
    Perform,
    PerformPanic,
    Evaluate,
    Teardown,
}

struct ScriptedEnv {
    task: TaskKind,
    log: Arc<Mutex<Log>>,
    failure: Failure,
}

impl ScriptedEnv {
    fn new(task: TaskKind, failure: Failure) -> (Self, Arc<Mutex<Log>>) {
        let log = Arc::new(Mutex::new(Log::default()));
        (
            ScriptedEnv {
                task,
                log: log.clone(),
                failure,
            },
            log,
        )
    }

    fn event(&self, e: impl Into<String>) {
        self.log.lock().unwrap().events.push(e.into());
    }
}

#[async_trait::async_trait]
impl Environment for ScriptedEnv {
    async fn setup(&mut self) -> Result<ProblemSetup, EnvironmentError> {
        self.event("setup");
        if self.failure == Failure::Setup {
            return Err(EnvironmentError::with_source(
                "cannot deploy the application",
                std::io::Error::other("connection refused"),
            ));
        }
        let mut setup = ProblemSetup::new(
            format!("scripted-{}-1", self.task),
            self.task,
            "describe",
            "instruct",
            action_docs(self.task),
        );
        setup.seed = Some(42);
        setup.problem_hash = Some("ab".repeat(32));
        setup
            .tool_versions
            .insert("cluster".into(), "virtual".into());
        Ok(setup)
    }

    async fn perform(&mut self, call: &ActionCall) -> Result<String, EnvironmentError> {
        self.event(format!("perform {}", serde_json::to_string(call).unwrap()));
        match self.failure {
            Failure::Perform => Err(EnvironmentError::new("lost the cluster")),
            Failure::PerformPanic => panic!("perform exploded"),
            _ => Ok(format!("output of {}", call.name())),
        }
    }

    async fn evaluate(
        &mut self,
        input: &Evaluation<'_>,
    ) -> Result<Map<String, Value>, EnvironmentError> {
        self.event("evaluate");
        self.log.lock().unwrap().evaluated =
            Some((input.solution.clone(), input.trace.len(), input.end_reason));
        if self.failure == Failure::Evaluate {
            return Err(EnvironmentError::new("scorer failed"));
        }
        let mut results = Map::new();
        let correct = input.solution == &json!("Yes");
        results.insert(
            "Detection Accuracy".into(),
            json!(if correct { "Correct" } else { "Incorrect" }),
        );
        Ok(results)
    }

    async fn teardown(&mut self) -> Result<(), EnvironmentError> {
        self.event("teardown");
        if self.failure == Failure::Teardown {
            return Err(EnvironmentError::new("fault recovery failed"));
        }
        Ok(())
    }
}

/// What the agent does at a step.
#[derive(Clone)]
enum Move {
    Say(&'static str),
    Fail,
    Panic,
    /// Signals `waiting`, then never answers.
    Hang,
}

struct ScriptedAgent {
    moves: Vec<Move>,
    inputs: Arc<Mutex<Vec<String>>>,
    context: Arc<Mutex<Option<AgentContext>>>,
    usage: bool,
    waiting: Arc<Notify>,
}

impl ScriptedAgent {
    fn new(moves: Vec<Move>) -> Self {
        ScriptedAgent {
            moves,
            inputs: Arc::default(),
            context: Arc::default(),
            usage: false,
            waiting: Arc::new(Notify::new()),
        }
    }
}

#[async_trait::async_trait]
impl Agent for ScriptedAgent {
    async fn init(&mut self, context: &AgentContext) -> Result<(), AgentError> {
        *self.context.lock().unwrap() = Some(context.clone());
        Ok(())
    }

    async fn next_response(&mut self, observation: &str) -> Result<String, AgentError> {
        self.inputs.lock().unwrap().push(observation.to_string());
        let step = self.inputs.lock().unwrap().len();
        match self.moves.get(step - 1).cloned() {
            Some(Move::Say(s)) => Ok(s.to_string()),
            Some(Move::Fail) => Err(AgentError::with_source(
                "model API failed",
                std::io::Error::other("HTTP 500"),
            )),
            Some(Move::Panic) => panic!("agent bug at step {step}"),
            Some(Move::Hang) => {
                self.waiting.notify_one();
                std::future::pending().await
            }
            None => Ok("I give up".to_string()),
        }
    }

    fn last_usage(&self) -> Option<TokenUsage> {
        self.usage.then_some(TokenUsage {
            input_tokens: 10,
            output_tokens: 3,
        })
    }
}

fn orchestrator(max_steps: usize, dir: Option<&std::path::Path>) -> Orchestrator {
    Orchestrator::new(OrchestratorConfig {
        max_steps,
        agent_name: "scripted".into(),
        results_dir: dir.map(|d| d.to_path_buf()),
        ..OrchestratorConfig::default()
    })
    .with_interrupt(NoInterrupt)
}

fn events(log: &Arc<Mutex<Log>>) -> Vec<String> {
    log.lock().unwrap().events.clone()
}

fn teardowns(log: &Arc<Mutex<Log>>) -> usize {
    events(log).iter().filter(|e| *e == "teardown").count()
}

#[tokio::test]
async fn full_episode_through_errors_to_a_keyword_submit() {
    let dir = tempfile::tempdir().unwrap();
    let (mut env, log) = ScriptedEnv::new(TaskKind::Detection, Failure::None);
    let mut agent = ScriptedAgent::new(vec![
        Move::Say("I will look at the pods."),
        Move::Say("```\nkubectl get pods\n```"),
        Move::Say("```\nget_pods()\n```"),
        Move::Say("```\nget_logs(\"test-social-network\")\n```"),
        Move::Say("Checking.\n```bash\nexec_shell(\"kubectl get pods\", timeout=60)\n```"),
        Move::Say("```\nsubmit(has_anomaly=\"Yes\")\n```"),
    ]);
    agent.usage = true;
    let inputs = agent.inputs.clone();
    let context = agent.context.clone();

    let outcome = orchestrator(10, Some(dir.path()))
        .run(&mut agent, &mut env)
        .await;

    assert_eq!(outcome.end_reason, EndReason::Submitted);
    let s = &outcome.session;
    let observations: Vec<&str> = s
        .trace
        .iter()
        .filter(|t| t.role == Role::Env)
        .map(|t| t.content.as_str())
        .collect();
    assert_eq!(
        observations,
        [
            format!("Error parsing response: {FORMAT_VALIDATION_MESSAGE}").as_str(),
            "Error parsing response: No API call found!",
            "Invalid action: get_pods",
            "Invalid arguments for get_logs(namespace: str, service: str): missing the required argument `service`. Call it as get_logs(namespace: str, service: str).",
            "output of exec_shell",
            "1",
        ]
    );
    // The agent sees the previous observation followed by the request.
    let inputs = inputs.lock().unwrap().clone();
    assert_eq!(inputs[0], "Please take the next action");
    assert_eq!(
        inputs[2],
        "Error parsing response: No API call found!\nPlease take the next action"
    );
    assert_eq!(
        inputs[5],
        "output of exec_shell\nPlease take the next action"
    );
    // Init received the setup texts.
    let context = context.lock().unwrap().clone().unwrap();
    assert_eq!(context.description, "describe");
    assert_eq!(context.instructions, "instruct");
    assert_eq!(context.actions.len(), 7);
    // Only the valid non-submit action reached the environment, with bound arguments.
    assert_eq!(
        events(&log),
        [
            "setup",
            r#"perform {"action":"exec_shell","command":"kubectl get pods","timeout":60}"#,
            "evaluate",
            "teardown"
        ]
    );
    // The keyword answer was captured and scored.
    assert_eq!(s.solution, json!("Yes"));
    let keys: Vec<&str> = s.results.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Detection Accuracy",
            "TTD",
            "steps",
            "in_tokens",
            "out_tokens"
        ]
    );
    assert_eq!(s.results["Detection Accuracy"], json!("Correct"));
    assert_eq!(s.results["steps"], json!(6));
    assert_eq!(s.results["in_tokens"], json!(60));
    assert_eq!(s.results["out_tokens"], json!(18));
    // Per-step records.
    assert_eq!(s.steps.len(), 6);
    assert_eq!(s.steps[0].action, None);
    assert_eq!(s.steps[2].action.as_deref(), Some("get_pods"));
    assert_eq!(s.steps[5].action.as_deref(), Some("submit"));
    assert!(s.steps.iter().all(|st| st.wall_time >= st.agent_time));
    // Setup metadata lands in the session.
    assert_eq!(s.problem_id, "scripted-detection-1");
    assert_eq!(s.seed, Some(42));
    assert_eq!(s.tool_versions.other["cluster"], "virtual");
    assert_eq!(s.end_reason, Some(EndReason::Submitted));
    assert!(s.end_time.unwrap() >= s.start_time);
    // The session file was written and reads back identical.
    let path = outcome.session_file.clone().unwrap();
    assert_eq!(path, dir.path().join(s.file_name()));
    assert_eq!(Session::load(&path).unwrap(), *s);
}

#[tokio::test]
async fn step_limit_scores_the_last_failed_submission() {
    let (mut env, log) = ScriptedEnv::new(TaskKind::Detection, Failure::None);
    let mut agent = ScriptedAgent::new(vec![
        Move::Say("```\nsubmit(\"Yes\", \"No\")\n```"),
        Move::Say("```\nexec_shell(\"ls\")\n```"),
        Move::Say("```\nsubmit(Yes)\n```"),
        Move::Say("```\nsubmit(\"Yes\")\n```"),
    ]);
    let outcome = orchestrator(3, None).run(&mut agent, &mut env).await;
    assert_eq!(outcome.end_reason, EndReason::StepLimit);
    let s = &outcome.session;
    assert_eq!(s.assistant_steps(), 3);
    assert!(
        s.trace[1]
            .content
            .contains("it takes 1 argument but 2 were given")
    );
    assert_eq!(
        s.trace[5].content,
        "Error parsing response: Unsupported AST node type: <class 'ast.Name'>"
    );
    // The failed submit's arguments persist and are scored.
    assert_eq!(s.solution, json!(["Yes", "No"]));
    let (solution, trace_len, reason) = log.lock().unwrap().evaluated.clone().unwrap();
    assert_eq!(solution, json!(["Yes", "No"]));
    assert_eq!(trace_len, 6);
    assert_eq!(reason, EndReason::StepLimit);
    assert_eq!(s.results["Detection Accuracy"], json!("Incorrect"));
    assert_eq!(s.results["steps"], json!(3));
    // No usage reported: no token keys invented.
    assert!(!s.results.contains_key("in_tokens"));
    assert_eq!(teardowns(&log), 1);
    assert!(outcome.session_file.is_none());
}

#[tokio::test]
async fn analysis_submit_without_arguments_is_a_valid_no_fault_answer() {
    let (mut env, log) = ScriptedEnv::new(TaskKind::Analysis, Failure::None);
    let mut agent = ScriptedAgent::new(vec![Move::Say("```\nsubmit()\n```")]);
    let outcome = orchestrator(5, None).run(&mut agent, &mut env).await;
    assert_eq!(outcome.end_reason, EndReason::Submitted);
    assert_eq!(outcome.session.solution, json!([]));
    assert!(outcome.session.results.contains_key("TTA"));
    assert_eq!(teardowns(&log), 1);
}

#[tokio::test]
async fn teardown_runs_after_an_agent_panic() {
    let (mut env, log) = ScriptedEnv::new(TaskKind::Localization, Failure::None);
    let mut agent =
        ScriptedAgent::new(vec![Move::Say("```\nexec_shell(\"ls\")\n```"), Move::Panic]);
    let outcome = orchestrator(5, None).run(&mut agent, &mut env).await;
    assert_eq!(outcome.end_reason, EndReason::AgentPanic);
    assert!(
        outcome
            .session
            .end_detail
            .as_deref()
            .unwrap()
            .contains("agent bug at step 2")
    );
    assert_eq!(events(&log).last().unwrap(), "teardown");
    assert_eq!(teardowns(&log), 1);
    assert!(log.lock().unwrap().evaluated.is_none());
    assert!(outcome.session.results.is_empty());
    assert_eq!(outcome.session.assistant_steps(), 1);
}

#[tokio::test]
async fn teardown_runs_after_an_agent_error() {
    let (mut env, log) = ScriptedEnv::new(TaskKind::Mitigation, Failure::None);
    let mut agent = ScriptedAgent::new(vec![Move::Fail]);
    let outcome = orchestrator(5, None).run(&mut agent, &mut env).await;
    assert_eq!(outcome.end_reason, EndReason::AgentError);
    assert_eq!(
        outcome.session.end_detail.as_deref(),
        Some("agent failed at step 1: model API failed: HTTP 500")
    );
    assert_eq!(teardowns(&log), 1);
}

#[tokio::test]
async fn teardown_runs_after_environment_errors() {
    for (failure, expect) in [
        (
            Failure::Setup,
            "setup failed: cannot deploy the application: connection refused",
        ),
        (
            Failure::Perform,
            "action exec_shell failed: lost the cluster",
        ),
        (
            Failure::PerformPanic,
            "action exec_shell failed: the environment panicked: perform exploded",
        ),
        (Failure::Evaluate, "evaluation failed: scorer failed"),
    ] {
        let (mut env, log) = ScriptedEnv::new(TaskKind::Detection, failure);
        let mut agent = ScriptedAgent::new(vec![
            Move::Say("```\nexec_shell(\"ls\")\n```"),
            Move::Say("```\nsubmit(\"No\")\n```"),
        ]);
        let outcome = orchestrator(5, None).run(&mut agent, &mut env).await;
        assert_eq!(outcome.end_reason, EndReason::EnvironmentError);
        assert_eq!(outcome.session.end_detail.as_deref(), Some(expect));
        assert_eq!(teardowns(&log), 1, "{expect}");
        assert_eq!(events(&log).last().unwrap(), "teardown");
    }
}

#[tokio::test]
async fn teardown_failure_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (mut env, _log) = ScriptedEnv::new(TaskKind::Detection, Failure::Teardown);
    let mut agent = ScriptedAgent::new(vec![Move::Say("```\nsubmit(\"No\")\n```")]);
    let outcome = orchestrator(5, Some(dir.path()))
        .run(&mut agent, &mut env)
        .await;
    assert_eq!(outcome.end_reason, EndReason::Submitted);
    assert_eq!(
        outcome.session.teardown_error.as_deref(),
        Some("fault recovery failed")
    );
    let saved = Session::load(outcome.session_file.as_ref().unwrap()).unwrap();
    assert_eq!(
        saved.teardown_error.as_deref(),
        Some("fault recovery failed")
    );
}

#[tokio::test]
async fn teardown_runs_after_an_interrupt() {
    let (mut env, log) = ScriptedEnv::new(TaskKind::Detection, Failure::None);
    let mut agent = ScriptedAgent::new(vec![Move::Say("```\nexec_shell(\"ls\")\n```"), Move::Hang]);
    let waiting = agent.waiting.clone();
    let interrupt = Arc::new(Notify::new());
    let trigger = interrupt.clone();
    let source = move || -> InterruptFuture {
        let interrupt = interrupt.clone();
        Box::pin(async move { interrupt.notified().await })
    };
    let orch = Orchestrator::new(OrchestratorConfig::default()).with_interrupt(source);
    // Press "Ctrl-C" once the agent is stuck in its second call.
    let press = async move {
        waiting.notified().await;
        trigger.notify_one();
    };
    let (outcome, ()) = tokio::join!(orch.run(&mut agent, &mut env), press);
    assert_eq!(outcome.end_reason, EndReason::Interrupted);
    assert_eq!(outcome.session.assistant_steps(), 1);
    assert_eq!(
        events(&log),
        [
            "setup",
            r#"perform {"action":"exec_shell","command":"ls","timeout":30}"#,
            "teardown"
        ]
    );
    assert!(outcome.session.end_time.is_some());
}

#[tokio::test]
async fn unwritable_results_dir_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let (mut env, log) = ScriptedEnv::new(TaskKind::Detection, Failure::None);
    let mut agent = ScriptedAgent::new(vec![Move::Say("```\nsubmit(\"Yes\")\n```")]);
    let outcome = orchestrator(5, Some(&file)).run(&mut agent, &mut env).await;
    assert_eq!(outcome.end_reason, EndReason::Submitted);
    assert!(outcome.session_file.is_none());
    assert!(
        outcome
            .save_error
            .unwrap()
            .to_string()
            .contains("cannot write the session file")
    );
    assert_eq!(teardowns(&log), 1);
}

#[tokio::test]
async fn run_is_send_and_works_with_boxed_trait_objects() {
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    let (env, log) = ScriptedEnv::new(TaskKind::Detection, Failure::None);
    let mut env: Box<dyn Environment> = Box::new(env);
    let mut agent: Box<dyn Agent> = Box::new(ScriptedAgent::new(vec![Move::Say(
        "```\nsubmit(\"No\")\n```",
    )]));
    let orch = orchestrator(3, None);
    let outcome = tokio::spawn(async move { assert_send(orch.run(&mut agent, &mut env)).await })
        .await
        .unwrap();
    assert_eq!(outcome.end_reason, EndReason::Submitted);
    assert_eq!(outcome.session.solution, json!("No"));
    assert_eq!(teardowns(&log), 1);
}

#[tokio::test]
async fn interrupt_before_setup_still_tears_down() {
    let (mut env, log) = ScriptedEnv::new(TaskKind::Detection, Failure::None);
    let mut agent = ScriptedAgent::new(vec![]);
    let fired = || -> InterruptFuture { Box::pin(std::future::ready(())) };
    let orch = Orchestrator::new(OrchestratorConfig::default()).with_interrupt(fired);
    let outcome = orch.run(&mut agent, &mut env).await;
    assert_eq!(outcome.end_reason, EndReason::Interrupted);
    assert_eq!(events(&log), ["teardown"]);
    assert!(outcome.session.trace.is_empty());
}

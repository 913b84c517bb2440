//! The actions agents may call: names, typed parameters with defaults, the documentation
//! agents see, their kind, and the binding of a parsed call to a typed [`ActionCall`].
//!
//! All four task kinds offer AIOpsLab's seven actions, in its (alphabetical) order:
//! `exec_shell`, `get_logs`, `get_metrics`, `get_traces`, `read_metrics`, `read_traces` and a
//! task-specific `submit`.
//!
//! ```
//! use aiopslab_core::actions::{available_actions, bind, ActionCall, ActionKind};
//! use aiopslab_core::parser::parse;
//! use aiopslab_core::task::TaskKind;
//!
//! let names: Vec<_> = available_actions(TaskKind::Detection).iter().map(|a| a.name).collect();
//! assert_eq!(names, ["exec_shell", "get_logs", "get_metrics", "get_traces", "read_metrics", "read_traces", "submit"]);
//!
//! let call = bind(TaskKind::Detection, &parse("```\nget_metrics(\"test-hotel-reservation\")\n```").unwrap()).unwrap();
//! assert_eq!(call, ActionCall::GetMetrics { namespace: "test-hotel-reservation".into(), duration: 5 });
//! assert_eq!(call.kind(), ActionKind::Read);
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::parser::ParsedResponse;
use crate::task::TaskKind;

/// Whether an action only reads the system, may change it, or is neither (shell, submit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// Observes telemetry or state without changing it (AIOpsLab's `@read`).
    Read,
    /// Changes the system (AIOpsLab's `@write`; no built-in action has it).
    Write,
    /// A plain action (AIOpsLab's `@action`): `exec_shell`, `submit`.
    Other,
}

/// The type of a parameter, as shown in signatures and checked when binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// A string.
    Str,
    /// An integer (an integral float such as `5.0` is accepted too).
    Int,
    /// A list of strings.
    StrList,
    /// A dictionary of strings to strings.
    StrDict,
}

impl ParamType {
    /// The Python spelling used in signatures and docs.
    pub fn python_name(self) -> &'static str {
        match self {
            ParamType::Str => "str",
            ParamType::Int => "int",
            ParamType::StrList => "list[str]",
            ParamType::StrDict => "dict[str, str]",
        }
    }

    /// Whether `value` has this type.
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            ParamType::Str => value.is_string(),
            ParamType::Int => as_int(value).is_some(),
            ParamType::StrList => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
            ParamType::StrDict => value
                .as_object()
                .is_some_and(|map| map.values().all(Value::is_string)),
        }
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.python_name())
    }
}

/// One parameter of an action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamSpec {
    /// The parameter name, usable as a keyword argument.
    pub name: &'static str,
    /// Its type.
    pub ty: ParamType,
    /// The value used when the agent leaves it out; `None` means required.
    pub default: Option<Value>,
    /// Whether binding rejects values of another type. Submission answers are not checked,
    /// as in AIOpsLab: any answer is a valid submission and the scorer judges its shape.
    pub type_checked: bool,
}

impl ParamSpec {
    fn required(name: &'static str, ty: ParamType) -> Self {
        ParamSpec {
            name,
            ty,
            default: None,
            type_checked: true,
        }
    }

    fn optional(name: &'static str, ty: ParamType, default: Value) -> Self {
        ParamSpec {
            default: Some(default),
            ..ParamSpec::required(name, ty)
        }
    }

    fn answer(name: &'static str, ty: ParamType, default: Option<Value>) -> Self {
        ParamSpec {
            name,
            ty,
            default,
            type_checked: false,
        }
    }
}

/// One action: what agents may call, with the documentation they are shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionSpec {
    /// The name agents call (`exec_shell`, `submit`, ...).
    pub name: &'static str,
    /// Read, write or other.
    pub kind: ActionKind,
    /// Parameters in positional order.
    pub params: Vec<ParamSpec>,
    /// The documentation agents see (Google style: summary, `Args:`, `Returns:`).
    pub doc: &'static str,
}

impl ActionSpec {
    /// The signature in Python notation, e.g. `exec_shell(command: str, timeout: int = 30)`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| match &p.default {
                Some(d) => format!("{}: {} = {}", p.name, p.ty, python_repr(d)),
                None => format!("{}: {}", p.name, p.ty),
            })
            .collect();
        format!("{}({})", self.name, params.join(", "))
    }
}

/// Renders a default value the way Python would print it.
fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

const EXEC_SHELL_DOC: &str = r#"Run a shell command in the prepared debugging environment and return what it prints.
Every call runs on its own: this is NOT a stateful or interactive shell session, so interactive commands such as "kubectl edit" cannot be used.

Args:
    command (str): The shell command to run.
    timeout (int): How many seconds the command may run before it is stopped. Default is 30.

Returns:
    str: The output of the command."#;

const GET_LOGS_DOC: &str = r#"Collect the log output of a service: from its pod with kubectl, or from its container with Docker.

Args:
    namespace (str): The namespace the service runs in.
    service (str): The name of the service.

Returns:
    str | dict | list[dicts]: The log data, as a structured object or as text."#;

const GET_METRICS_DOC: &str = r#"Collect metrics of the services with Prometheus.

Args:
    namespace (str): The namespace of the service.
    duration (int): How many minutes back from now to collect metrics for. Default is 5.

Returns:
    str: The path of the directory the metrics were saved to."#;

const GET_TRACES_DOC: &str = r#"Collect traces of the services with Jaeger.

Args:
    namespace (str): The namespace of the service.
    duration (int): How many minutes back from now to collect traces for. Default is 5.

Returns:
    str: The path of the directory the traces were saved to."#;

const READ_METRICS_DOC: &str = r#"Read the metrics stored in a CSV file and return them.

Args:
    file_path (str): The path of the metrics file.

Returns:
    str: The metrics in the file, as a table."#;

const READ_TRACES_DOC: &str = r#"Read the traces stored in a CSV file and return them.

Args:
    file_path (str): The path of the traces file.

Returns:
    str: The traces in the file, as a table."#;

const SUBMIT_DETECTION_DOC: &str = r#"Submit to the orchestrator, for evaluation, whether you detected anomalies.

Args:
    has_anomaly (str): "Yes" if you detected anomalies, "No" if you did not.

Returns:
    SubmissionStatus: The status of the submission."#;

const SUBMIT_LOCALIZATION_DOC: &str = r#"Submit the faulty components you identified to the orchestrator for evaluation.

Args:
    faulty_components (list[str]): The names of the faulty components (services); an empty list if you found no fault.

Returns:
    SubmissionStatus: The status of the submission."#;

const SUBMIT_ANALYSIS_DOC: &str = r#"Submit your root cause analysis to the orchestrator for evaluation.

Args:
    analysis (dict[str, str]): A dictionary with the keys 'system_level' and 'fault_type'. Leave it out (call submit()) if you detected no fault.

Returns:
    SubmissionStatus: The status of the submission."#;

const SUBMIT_MITIGATION_DOC: &str = r#"Submit once your mitigation is complete and ready to be evaluated.

Args:
    None

Returns:
    SubmissionStatus: The status of the submission."#;

/// The `submit` action of a task kind.
fn submit_spec(task: TaskKind) -> ActionSpec {
    let (params, doc) = match task {
        TaskKind::Detection => (
            vec![ParamSpec::answer("has_anomaly", ParamType::Str, None)],
            SUBMIT_DETECTION_DOC,
        ),
        TaskKind::Localization => (
            vec![ParamSpec::answer(
                "faulty_components",
                ParamType::StrList,
                None,
            )],
            SUBMIT_LOCALIZATION_DOC,
        ),
        TaskKind::Analysis => (
            vec![ParamSpec::answer(
                "analysis",
                ParamType::StrDict,
                Some(Value::Null),
            )],
            SUBMIT_ANALYSIS_DOC,
        ),
        TaskKind::Mitigation => (Vec::new(), SUBMIT_MITIGATION_DOC),
    };
    ActionSpec {
        name: "submit",
        kind: ActionKind::Other,
        params,
        doc,
    }
}

/// The actions a task kind offers, in AIOpsLab's (alphabetical) order.
///
/// ```
/// use aiopslab_core::actions::available_actions;
/// use aiopslab_core::task::TaskKind;
/// let actions = available_actions(TaskKind::Mitigation);
/// assert_eq!(actions.len(), 7);
/// assert_eq!(actions[0].signature(), "exec_shell(command: str, timeout: int = 30)");
/// assert_eq!(actions[6].signature(), "submit()");
/// ```
pub fn available_actions(task: TaskKind) -> Vec<ActionSpec> {
    use ParamType::{Int, Str};
    let namespace = || ParamSpec::required("namespace", Str);
    vec![
        ActionSpec {
            name: "exec_shell",
            kind: ActionKind::Other,
            params: vec![
                ParamSpec::required("command", Str),
                ParamSpec::optional("timeout", Int, Value::from(30)),
            ],
            doc: EXEC_SHELL_DOC,
        },
        ActionSpec {
            name: "get_logs",
            kind: ActionKind::Read,
            params: vec![namespace(), ParamSpec::required("service", Str)],
            doc: GET_LOGS_DOC,
        },
        ActionSpec {
            name: "get_metrics",
            kind: ActionKind::Read,
            params: vec![
                namespace(),
                ParamSpec::optional("duration", Int, Value::from(5)),
            ],
            doc: GET_METRICS_DOC,
        },
        ActionSpec {
            name: "get_traces",
            kind: ActionKind::Read,
            params: vec![
                namespace(),
                ParamSpec::optional("duration", Int, Value::from(5)),
            ],
            doc: GET_TRACES_DOC,
        },
        ActionSpec {
            name: "read_metrics",
            kind: ActionKind::Read,
            params: vec![ParamSpec::required("file_path", Str)],
            doc: READ_METRICS_DOC,
        },
        ActionSpec {
            name: "read_traces",
            kind: ActionKind::Read,
            params: vec![ParamSpec::required("file_path", Str)],
            doc: READ_TRACES_DOC,
        },
        submit_spec(task),
    ]
}

/// The actions of `task` that have the given kind (AIOpsLab's `get_actions(task, subtype)`).
///
/// ```
/// use aiopslab_core::actions::{actions_of_kind, ActionKind};
/// use aiopslab_core::task::TaskKind;
/// assert_eq!(actions_of_kind(TaskKind::Detection, ActionKind::Read).len(), 5);
/// assert!(actions_of_kind(TaskKind::Detection, ActionKind::Write).is_empty());
/// ```
pub fn actions_of_kind(task: TaskKind, kind: ActionKind) -> Vec<ActionSpec> {
    available_actions(task)
        .into_iter()
        .filter(|a| a.kind == kind)
        .collect()
}

/// Action name to documentation, in AIOpsLab's order (alphabetical, which a `BTreeMap`
/// keeps). This is the `actions` map agents receive with the task.
pub type ActionDocs = BTreeMap<String, String>;

/// The documentation map of a task kind's actions.
///
/// ```
/// use aiopslab_core::actions::action_docs;
/// use aiopslab_core::task::TaskKind;
/// let docs = action_docs(TaskKind::Localization);
/// assert!(docs["submit"].contains("faulty_components (list[str])"));
/// ```
pub fn action_docs(task: TaskKind) -> ActionDocs {
    available_actions(task)
        .into_iter()
        .map(|a| (a.name.to_string(), a.doc.to_string()))
        .collect()
}

/// The answer given with `submit`, bound to the task's parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The bound answer: the `has_anomaly` / `faulty_components` / `analysis` argument,
    /// however it was passed (positionally or by keyword); `null` for mitigation and for an
    /// analysis `submit()` ("no fault detected").
    pub answer: Value,
}

/// A validated action call with its arguments bound to parameter names, defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ActionCall {
    /// `exec_shell(command, timeout=30)`.
    ExecShell {
        /// The command line, verbatim.
        command: String,
        /// Seconds the command may run.
        timeout: i64,
    },
    /// `get_logs(namespace, service)`.
    GetLogs {
        /// The namespace.
        namespace: String,
        /// The service.
        service: String,
    },
    /// `get_metrics(namespace, duration=5)`.
    GetMetrics {
        /// The namespace.
        namespace: String,
        /// Minutes back from now.
        duration: i64,
    },
    /// `get_traces(namespace, duration=5)`.
    GetTraces {
        /// The namespace.
        namespace: String,
        /// Minutes back from now.
        duration: i64,
    },
    /// `read_metrics(file_path)`.
    ReadMetrics {
        /// The CSV file.
        file_path: String,
    },
    /// `read_traces(file_path)`.
    ReadTraces {
        /// The CSV file.
        file_path: String,
    },
    /// `submit(...)`: ends the episode.
    Submit(Submission),
}

impl ActionCall {
    /// The action name (`exec_shell`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            ActionCall::ExecShell { .. } => "exec_shell",
            ActionCall::GetLogs { .. } => "get_logs",
            ActionCall::GetMetrics { .. } => "get_metrics",
            ActionCall::GetTraces { .. } => "get_traces",
            ActionCall::ReadMetrics { .. } => "read_metrics",
            ActionCall::ReadTraces { .. } => "read_traces",
            ActionCall::Submit(_) => "submit",
        }
    }

    /// The kind of the action.
    pub fn kind(&self) -> ActionKind {
        match self {
            ActionCall::ExecShell { .. } | ActionCall::Submit(_) => ActionKind::Other,
            _ => ActionKind::Read,
        }
    }

    /// Whether this is a `submit`.
    pub fn is_submit(&self) -> bool {
        matches!(self, ActionCall::Submit(_))
    }
}

/// Why a parsed call cannot be run. `Display` is the observation the agent receives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// No action has this name (AIOpsLab's `InvalidActionError`).
    #[error("Invalid action: {0}")]
    Invalid(String),
    /// The arguments do not fit the action's signature.
    #[error("Invalid arguments for {signature}: {problem}. Call it as {signature}.")]
    WrongArguments {
        /// The action's signature, e.g. `get_logs(namespace: str, service: str)`.
        signature: String,
        /// What was wrong.
        problem: String,
    },
}

/// Checks a parsed call against the task's actions and binds its arguments.
///
/// Positional arguments fill parameters in order, keywords by name, defaults fill the rest;
/// the types of non-answer parameters are checked.
///
/// ```
/// use aiopslab_core::actions::{bind, ActionError};
/// use aiopslab_core::parser::parse;
/// use aiopslab_core::task::TaskKind;
///
/// let call = parse("```\nget_logs(\"ns\")\n```").unwrap();
/// let err = bind(TaskKind::Detection, &call).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "Invalid arguments for get_logs(namespace: str, service: str): missing the required argument `service`. Call it as get_logs(namespace: str, service: str)."
/// );
/// let call = parse("```\nkubectl(\"get pods\")\n```").unwrap();
/// assert_eq!(bind(TaskKind::Detection, &call).unwrap_err(), ActionError::Invalid("kubectl".into()));
/// ```
pub fn bind(task: TaskKind, call: &ParsedResponse) -> Result<ActionCall, ActionError> {
    let spec = available_actions(task)
        .into_iter()
        .find(|a| a.name == call.api_name)
        .ok_or_else(|| ActionError::Invalid(call.api_name.clone()))?;
    let bound = bind_params(&spec, &call.args, &call.kwargs)?;
    let wrong = |problem: String| ActionError::WrongArguments {
        signature: spec.signature(),
        problem,
    };
    let text = |name: &str| -> Result<String, ActionError> {
        bound
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| wrong(format!("`{name}` must be a string")))
    };
    let int = |name: &str| -> Result<i64, ActionError> {
        bound
            .get(name)
            .and_then(as_int)
            .ok_or_else(|| wrong(format!("`{name}` must be an integer")))
    };
    Ok(match spec.name {
        "exec_shell" => ActionCall::ExecShell {
            command: text("command")?,
            timeout: int("timeout")?,
        },
        "get_logs" => ActionCall::GetLogs {
            namespace: text("namespace")?,
            service: text("service")?,
        },
        "get_metrics" => ActionCall::GetMetrics {
            namespace: text("namespace")?,
            duration: int("duration")?,
        },
        "get_traces" => ActionCall::GetTraces {
            namespace: text("namespace")?,
            duration: int("duration")?,
        },
        "read_metrics" => ActionCall::ReadMetrics {
            file_path: text("file_path")?,
        },
        "read_traces" => ActionCall::ReadTraces {
            file_path: text("file_path")?,
        },
        _ => ActionCall::Submit(Submission {
            answer: spec
                .params
                .first()
                .and_then(|p| bound.get(p.name).cloned())
                .unwrap_or(Value::Null),
        }),
    })
}

/// Binds positional and keyword arguments to the parameters of `spec`, applying defaults
/// and checking types. The result holds every parameter, in signature order.
pub fn bind_params(
    spec: &ActionSpec,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Result<Map<String, Value>, ActionError> {
    let wrong = |problem: String| ActionError::WrongArguments {
        signature: spec.signature(),
        problem,
    };
    if args.len() > spec.params.len() {
        let takes = match spec.params.len() {
            0 => "takes no arguments".to_string(),
            1 => "takes 1 argument".to_string(),
            n => format!("takes at most {n} arguments"),
        };
        return Err(wrong(format!("it {takes} but {} were given", args.len())));
    }
    if let Some(unknown) = kwargs
        .keys()
        .find(|k| !spec.params.iter().any(|p| p.name == k.as_str()))
    {
        return Err(wrong(format!("unexpected keyword argument `{unknown}`")));
    }
    let mut bound = Map::new();
    for (i, param) in spec.params.iter().enumerate() {
        let positional = args.get(i);
        let keyword = kwargs.get(param.name);
        let value = match (positional, keyword) {
            (Some(_), Some(_)) => {
                return Err(wrong(format!(
                    "got two values for `{}` (positional and keyword)",
                    param.name
                )));
            }
            (Some(v), None) | (None, Some(v)) => v.clone(),
            (None, None) => match &param.default {
                Some(d) => d.clone(),
                None => {
                    return Err(wrong(format!(
                        "missing the required argument `{}`",
                        param.name
                    )));
                }
            },
        };
        if param.type_checked && !param.ty.accepts(&value) {
            return Err(wrong(format!(
                "`{}` must be {}, got {}",
                param.name,
                param.ty,
                describe(&value)
            )));
        }
        let value = match (param.ty, as_int(&value)) {
            (ParamType::Int, Some(i)) if param.type_checked => Value::from(i),
            _ => value,
        };
        bound.insert(param.name.to_string(), value);
    }
    Ok(bound)
}

/// An integer, or an integral float (`5.0`); not a bool.
fn as_int(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    (f.fract() == 0.0 && f >= i64::MIN as f64 && f <= i64::MAX as f64).then_some(f as i64)
}

/// A short description of a value for error messages: its Python type and a preview.
fn describe(v: &Value) -> String {
    let ty = match v {
        Value::Null => return "None".to_string(),
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    };
    let mut preview = v.to_string();
    if preview.chars().count() > 40 {
        preview = preview.chars().take(37).collect::<String>() + "...";
    }
    format!("{ty} {preview}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse;
    use serde_json::json;

    fn call(task: TaskKind, code: &str) -> Result<ActionCall, ActionError> {
        let parsed = parse(&format!("```\n{code}\n```")).unwrap();
        bind(task, &parsed)
    }

    const NAMES: [&str; 7] = [
        "exec_shell",
        "get_logs",
        "get_metrics",
        "get_traces",
        "read_metrics",
        "read_traces",
        "submit",
    ];

    #[test]
    fn every_task_offers_the_seven_actions_in_order() {
        for task in TaskKind::ALL {
            let names: Vec<_> = available_actions(task).iter().map(|a| a.name).collect();
            assert_eq!(names, NAMES);
            let docs = action_docs(task);
            assert_eq!(docs.keys().map(String::as_str).collect::<Vec<_>>(), NAMES);
            let read: Vec<_> = actions_of_kind(task, ActionKind::Read)
                .iter()
                .map(|a| a.name)
                .collect();
            assert_eq!(read, &NAMES[1..6]);
            assert!(actions_of_kind(task, ActionKind::Write).is_empty());
            assert_eq!(actions_of_kind(task, ActionKind::Other).len(), 2);
        }
    }

    #[test]
    fn docs_carry_aiopslab_content_in_google_style() {
        let docs = action_docs(TaskKind::Detection);
        assert!(docs["exec_shell"].contains("NOT a stateful or interactive shell session"));
        assert!(docs["exec_shell"].contains("\"kubectl edit\""));
        assert!(docs["exec_shell"].contains("Default is 30."));
        assert!(docs["get_logs"].contains("kubectl") && docs["get_logs"].contains("Docker"));
        assert!(docs["get_metrics"].contains("Prometheus"));
        assert!(docs["get_traces"].contains("Jaeger"));
        assert!(docs["submit"].contains("has_anomaly (str)"));
        assert!(
            action_docs(TaskKind::Analysis)["submit"].contains("'system_level' and 'fault_type'")
        );
        assert!(action_docs(TaskKind::Mitigation)["submit"].contains("Args:\n    None"));
        for task in TaskKind::ALL {
            for (name, doc) in action_docs(task) {
                assert!(doc.contains("\nArgs:\n"), "{name}");
                assert!(doc.contains("\nReturns:\n    "), "{name}");
                assert_eq!(doc.trim(), doc, "{name}");
            }
        }
    }

    #[test]
    fn signatures_per_task() {
        let sig = |t| submit_spec(t).signature();
        assert_eq!(sig(TaskKind::Detection), "submit(has_anomaly: str)");
        assert_eq!(
            sig(TaskKind::Localization),
            "submit(faulty_components: list[str])"
        );
        assert_eq!(
            sig(TaskKind::Analysis),
            "submit(analysis: dict[str, str] = None)"
        );
        assert_eq!(sig(TaskKind::Mitigation), "submit()");
    }

    #[test]
    fn binds_positional_keyword_and_defaults() {
        let d = TaskKind::Detection;
        assert_eq!(
            call(d, "exec_shell(\"ls\")").unwrap(),
            ActionCall::ExecShell {
                command: "ls".into(),
                timeout: 30
            }
        );
        assert_eq!(
            call(d, "exec_shell(\"ls\", timeout=60)").unwrap(),
            ActionCall::ExecShell {
                command: "ls".into(),
                timeout: 60
            }
        );
        assert_eq!(
            call(d, "exec_shell(command=\"ls\", timeout=5.0)").unwrap(),
            ActionCall::ExecShell {
                command: "ls".into(),
                timeout: 5
            }
        );
        assert_eq!(
            call(d, "get_logs(service='geo', namespace='ns')").unwrap(),
            ActionCall::GetLogs {
                namespace: "ns".into(),
                service: "geo".into()
            }
        );
        assert_eq!(
            call(d, "get_traces('ns', 10)").unwrap(),
            ActionCall::GetTraces {
                namespace: "ns".into(),
                duration: 10
            }
        );
        assert_eq!(
            call(d, "read_traces(file_path='/t.csv')").unwrap(),
            ActionCall::ReadTraces {
                file_path: "/t.csv".into()
            }
        );
        assert_eq!(
            call(d, "read_metrics('/m.csv')").unwrap(),
            ActionCall::ReadMetrics {
                file_path: "/m.csv".into()
            }
        );
    }

    #[test]
    fn submissions_bind_positionally_or_by_keyword() {
        let answer = |t, code| match call(t, code).unwrap() {
            ActionCall::Submit(s) => s.answer,
            other => panic!("{other:?}"),
        };
        assert_eq!(answer(TaskKind::Detection, "submit(\"Yes\")"), json!("Yes"));
        assert_eq!(
            answer(TaskKind::Detection, "submit(has_anomaly=\"No\")"),
            json!("No")
        );
        // Not type checked: the scorer decides (AIOpsLab gives "Invalid Format").
        assert_eq!(
            answer(TaskKind::Detection, "submit([\"Yes\"])"),
            json!(["Yes"])
        );
        assert_eq!(
            answer(
                TaskKind::Localization,
                "submit(faulty_components=[\"geo\"])"
            ),
            json!(["geo"])
        );
        assert_eq!(answer(TaskKind::Localization, "submit([])"), json!([]));
        assert_eq!(
            answer(
                TaskKind::Analysis,
                "submit({\"system_level\": \"Application\", \"fault_type\": \"Misconfiguration\"})"
            ),
            json!({"system_level": "Application", "fault_type": "Misconfiguration"})
        );
        assert_eq!(answer(TaskKind::Analysis, "submit()"), Value::Null);
        assert_eq!(answer(TaskKind::Mitigation, "submit()"), Value::Null);
    }

    #[test]
    fn wrong_arguments_name_the_signature() {
        let msg = |t, code| call(t, code).unwrap_err().to_string();
        assert_eq!(
            msg(TaskKind::Detection, "submit()"),
            "Invalid arguments for submit(has_anomaly: str): missing the required argument `has_anomaly`. Call it as submit(has_anomaly: str)."
        );
        assert!(
            msg(TaskKind::Mitigation, "submit(\"done\")")
                .contains("it takes no arguments but 1 were given")
        );
        assert!(
            msg(TaskKind::Detection, "submit(\"Yes\", \"No\")")
                .contains("it takes 1 argument but 2 were given")
        );
        assert!(
            msg(TaskKind::Detection, "get_logs('a', 'b', 'c')")
                .contains("at most 2 arguments but 3")
        );
        assert!(
            msg(TaskKind::Detection, "get_logs('a', namespace='b')")
                .contains("got two values for `namespace`")
        );
        assert!(
            msg(TaskKind::Detection, "get_logs('a', svc='b')")
                .contains("unexpected keyword argument `svc`")
        );
        assert!(
            msg(TaskKind::Detection, "get_metrics('a', '5')")
                .contains("`duration` must be int, got str \"5\"")
        );
        assert!(
            msg(TaskKind::Detection, "get_metrics('a', True)")
                .contains("`duration` must be int, got bool true")
        );
        assert!(
            msg(TaskKind::Detection, "exec_shell(\"ls\", timeout=1.5)")
                .contains("`timeout` must be int, got float 1.5")
        );
        assert!(
            msg(TaskKind::Detection, "get_logs(1, 'x')")
                .contains("`namespace` must be str, got int 1")
        );
    }

    #[test]
    fn unknown_actions_are_invalid() {
        let err = call(TaskKind::Detection, "get_microservice_repo_diff(1, 2)").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid action: get_microservice_repo_diff"
        );
        let err = call(TaskKind::Detection, "Action: submit(\"Yes\")").unwrap_err();
        assert_eq!(err.to_string(), "Invalid action: Action: submit");
    }

    #[test]
    fn action_call_serializes_with_its_name() {
        let c = ActionCall::GetLogs {
            namespace: "n".into(),
            service: "s".into(),
        };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"action": "get_logs", "namespace": "n", "service": "s"})
        );
        let s = ActionCall::Submit(Submission {
            answer: json!("Yes"),
        });
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v, json!({"action": "submit", "answer": "Yes"}));
        assert_eq!(serde_json::from_value::<ActionCall>(v).unwrap(), s);
        assert_eq!(c.name(), "get_logs");
        assert_eq!(c.kind(), ActionKind::Read);
        assert!(s.is_submit());
    }
}

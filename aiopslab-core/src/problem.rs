//! Problem catalogue entries: what one AIOpsLab problem is, written down as data.
//!
//! A problem is an application, a task kind, a fault, a workload and the answer that scores
//! full marks. [`ProblemEntry`] holds those facts for one problem id; the registry in the
//! `aiopslab-problems` crate holds one entry per id, in AIOpsLab's order.
//!
//! The expected answer follows the task: detection expects `"Yes"` or `"No"`, localization a
//! list of services (some accept an alias, such as `geo` for `mongodb-geo`), analysis a system
//! level and a fault type from fixed vocabularies, and mitigation expects nothing: it is judged
//! on the live cluster.
//!
//! ```
//! use aiopslab_core::problem::{
//!     App, DetectionAnswer, Deployment, ExpectedAnswer, ProblemEntry,
//! };
//! use aiopslab_core::task::TaskKind;
//!
//! let entry = ProblemEntry {
//!     id: "noop_detection_hotel_reservation-1".into(),
//!     app: App {
//!         name: "Hotel Reservation".into(),
//!         class: "HotelReservation".into(),
//!         namespace: "test-hotel-reservation".into(),
//!     },
//!     task: TaskKind::Detection,
//!     fault: "no fault: a control problem".into(),
//!     expected: ExpectedAnswer::Detection(DetectionAnswer::No),
//!     workload: "wrk2 mixed workload".into(),
//!     runnable: false,
//!     deployment: Deployment::K8s,
//! };
//! entry.validate().unwrap();
//!
//! let json = serde_json::to_value(&entry).unwrap();
//! assert_eq!(json["expected"], serde_json::json!({"detection": "No"}));
//! assert_eq!(json["deployment"], "k8s");
//! ```

use crate::task::TaskKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// One problem of the catalogue: everything known about a problem id before it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemEntry {
    /// AIOpsLab's problem id, e.g. `revoke_auth_mongodb-localization-1`.
    pub id: String,
    /// The application the problem runs on.
    pub app: App,
    /// What the agent is asked to do.
    pub task: TaskKind,
    /// A short description of the fault that is injected.
    pub fault: String,
    /// The answer that scores full marks.
    pub expected: ExpectedAnswer,
    /// A short description of the load driven against the application during the problem.
    pub workload: String,
    /// Whether this implementation can run the problem yet.
    pub runnable: bool,
    /// How AIOpsLab deploys the application (Kubernetes or Docker Compose).
    pub deployment: Deployment,
}

/// An application as AIOpsLab names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// The name AIOpsLab shows the agent in the service summary, e.g. `Hotel Reservation`.
    pub name: String,
    /// The name of AIOpsLab's application class, e.g. `HotelReservation`.
    pub class: String,
    /// The namespace the application is deployed in, e.g. `test-hotel-reservation`.
    pub namespace: String,
}

impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.class)
    }
}

/// How AIOpsLab deploys a problem's application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Deployment {
    /// On a Kubernetes cluster (every problem but the two Flower ones).
    K8s,
    /// With Docker Compose on the local machine (the Flower problems).
    Docker,
}

impl Deployment {
    /// The name AIOpsLab uses: `k8s` or `docker`.
    pub fn as_str(self) -> &'static str {
        match self {
            Deployment::K8s => "k8s",
            Deployment::Docker => "docker",
        }
    }
}

impl fmt::Display for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer that scores full marks, one shape per task kind.
///
/// Serialised externally tagged by task name: `{"detection": "Yes"}`,
/// `{"localization": {"services": ["geo"]}}`,
/// `{"analysis": {"system_level": "Application", "fault_type": "Misconfiguration"}}`, and the
/// bare string `"mitigation"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedAnswer {
    /// Whether there is an anomaly.
    Detection(DetectionAnswer),
    /// The faulty service(s).
    Localization(LocalizationAnswer),
    /// The root cause, classified.
    Analysis(AnalysisAnswer),
    /// Nothing to submit: `submit()` takes no argument and the cluster itself is checked.
    Mitigation,
}

impl ExpectedAnswer {
    /// The task kind this answer belongs to.
    pub fn task(&self) -> TaskKind {
        match self {
            ExpectedAnswer::Detection(_) => TaskKind::Detection,
            ExpectedAnswer::Localization(_) => TaskKind::Localization,
            ExpectedAnswer::Analysis(_) => TaskKind::Analysis,
            ExpectedAnswer::Mitigation => TaskKind::Mitigation,
        }
    }
}

impl fmt::Display for ExpectedAnswer {
    /// A one-line human summary, e.g. `Yes`, `mongodb-geo (or geo)`,
    /// `Application / Authentication Issue`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedAnswer::Detection(answer) => write!(f, "{answer}"),
            ExpectedAnswer::Localization(answer) => write!(f, "{answer}"),
            ExpectedAnswer::Analysis(answer) => write!(f, "{answer}"),
            ExpectedAnswer::Mitigation => f.write_str("submit() after fixing the cluster"),
        }
    }
}

/// A detection answer: `"Yes"` (there is an anomaly) or `"No"`.
///
/// ```
/// use aiopslab_core::problem::DetectionAnswer;
/// // AIOpsLab compares the stripped, lower-cased submission.
/// assert!(DetectionAnswer::Yes.matches("  yes "));
/// assert!(!DetectionAnswer::No.matches("Yes"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DetectionAnswer {
    /// There is an anomaly.
    Yes,
    /// There is none (the no-op control problems).
    No,
}

impl DetectionAnswer {
    /// `"Yes"` or `"No"`, as AIOpsLab writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            DetectionAnswer::Yes => "Yes",
            DetectionAnswer::No => "No",
        }
    }

    /// Whether a submitted string equals this answer once stripped and lower-cased.
    pub fn matches(self, submitted: &str) -> bool {
        submitted.trim().eq_ignore_ascii_case(self.as_str())
    }
}

impl fmt::Display for DetectionAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A localization answer: the faulty services and the other names accepted for them.
///
/// ```
/// use aiopslab_core::problem::LocalizationAnswer;
/// use std::collections::BTreeMap;
///
/// let answer = LocalizationAnswer {
///     services: vec!["mongodb-geo".into()],
///     aliases: BTreeMap::from([("mongodb-geo".into(), vec!["geo".into()])]),
/// };
/// assert!(answer.accepts("mongodb-geo"));
/// assert!(answer.accepts("geo"));
/// assert!(!answer.accepts("Geo")); // AIOpsLab matches names case-sensitively
/// assert_eq!(answer.to_string(), "mongodb-geo (or geo)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalizationAnswer {
    /// The faulty services, as AIOpsLab names them.
    pub services: Vec<String>,
    /// Other names accepted for a service, keyed by that service (e.g. `mongodb-geo` → `geo`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, Vec<String>>,
}

impl LocalizationAnswer {
    /// Whether `name` is one of the faulty services or an accepted alias of one.
    pub fn accepts(&self, name: &str) -> bool {
        self.services.iter().any(|s| s == name)
            || self.aliases.values().flatten().any(|alias| alias == name)
    }

    /// The names accepted for `service`: the service itself, then its aliases.
    pub fn names_for<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        std::iter::once(service).chain(
            self.aliases
                .get(service)
                .into_iter()
                .flatten()
                .map(String::as_str),
        )
    }
}

impl fmt::Display for LocalizationAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, service) in self.services.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(service)?;
            if let Some(aliases) = self.aliases.get(service).filter(|a| !a.is_empty()) {
                write!(f, " (or {})", aliases.join(" or "))?;
            }
        }
        Ok(())
    }
}

/// An analysis answer: where the root cause lies and what kind of fault it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisAnswer {
    /// The layer of the system the fault is in.
    pub system_level: SystemLevel,
    /// The kind of fault.
    pub fault_type: FaultType,
}

impl fmt::Display for AnalysisAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.system_level, self.fault_type)
    }
}

/// The error returned when a string is not in an analysis vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {vocabulary} `{value}`: expected one of {expected}")]
pub struct UnknownLabel {
    /// Which vocabulary was searched (`system level` or `fault type`).
    pub vocabulary: &'static str,
    /// The string that matched nothing.
    pub value: String,
    /// The accepted labels, comma separated.
    pub expected: String,
}

/// Declares a closed vocabulary of labels with their exact AIOpsLab spelling.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $label:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $label)] $variant, )+
        }

        impl $name {
            /// Every label, in AIOpsLab's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The label exactly as AIOpsLab spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownLabel;

            /// Parses a label the way AIOpsLab compares them: stripped and case-insensitive.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let wanted = s.trim();
                $name::ALL
                    .iter()
                    .copied()
                    .find(|label| label.as_str().eq_ignore_ascii_case(wanted))
                    .ok_or_else(|| UnknownLabel {
                        vocabulary: $what,
                        value: s.to_string(),
                        expected: $name::ALL
                            .iter()
                            .map(|label| label.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            }
        }
    };
}

vocabulary! {
    /// The layer of the system a root cause lies in (AIOpsLab's `system_level`).
    ///
    /// ```
    /// use aiopslab_core::problem::SystemLevel;
    /// let level: SystemLevel = " operating system ".parse().unwrap();
    /// assert_eq!(level, SystemLevel::OperatingSystem);
    /// assert_eq!(level.to_string(), "Operating System");
    /// assert!("Kernel".parse::<SystemLevel>().is_err());
    /// ```
    SystemLevel, "system level" {
        /// Physical machines and devices.
        Hardware => "Hardware",
        /// The node's operating system.
        OperatingSystem => "Operating System",
        /// Kubernetes, containers and their configuration.
        Virtualization => "Virtualization",
        /// The application's own code, configuration or data.
        Application => "Application",
    }
}

vocabulary! {
    /// The kind of a root cause (AIOpsLab's `fault_type`).
    ///
    /// ```
    /// use aiopslab_core::problem::FaultType;
    /// assert_eq!("network/storage issue".parse(), Ok(FaultType::NetworkStorageIssue));
    /// assert_eq!(FaultType::AuthenticationIssue.as_str(), "Authentication Issue");
    /// ```
    FaultType, "fault type" {
        /// A wrong setting.
        Misconfiguration => "Misconfiguration",
        /// A bug in the code.
        CodeDefect => "Code Defect",
        /// Credentials or permissions are wrong.
        AuthenticationIssue => "Authentication Issue",
        /// The network or storage fails.
        NetworkStorageIssue => "Network/Storage Issue",
        /// An operator did something wrong.
        OperationError => "Operation Error",
        /// Something the service depends on is missing or broken.
        DependencyProblem => "Dependency Problem",
    }
}

/// Why a [`ProblemEntry`] is not consistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The id is empty or contains whitespace.
    #[error("problem id `{0}` is not valid: ids are non-empty and contain no whitespace")]
    BadId(String),
    /// The id does not contain the task name, which AIOpsLab's task filter relies on.
    #[error("problem `{id}` is a {task} problem but its id does not contain `{task}`")]
    IdWithoutTask {
        /// The problem id.
        id: String,
        /// The entry's task kind.
        task: TaskKind,
    },
    /// The expected answer is for another task kind.
    #[error("problem `{id}` is a {task} problem but its expected answer is a {answer} answer")]
    AnswerForOtherTask {
        /// The problem id.
        id: String,
        /// The entry's task kind.
        task: TaskKind,
        /// The task kind of the expected answer.
        answer: TaskKind,
    },
    /// A localization answer lists no service.
    #[error("problem `{0}` expects a localization answer but lists no faulty service")]
    NoServices(String),
    /// An alias is given for a service the answer does not list.
    #[error(
        "problem `{id}` gives aliases for `{service}`, which is not one of its faulty services"
    )]
    AliasForUnknownService {
        /// The problem id.
        id: String,
        /// The service named in the alias table.
        service: String,
    },
    /// A required text field is empty.
    #[error("problem `{id}` has an empty `{field}`")]
    EmptyField {
        /// The problem id.
        id: String,
        /// The name of the empty field.
        field: &'static str,
    },
}

impl ProblemEntry {
    /// Checks that the entry is consistent: a well-formed id that names its task, an expected
    /// answer of the same task kind, and no empty descriptions.
    pub fn validate(&self) -> Result<(), EntryError> {
        let id = &self.id;
        if id.is_empty() || id.chars().any(char::is_whitespace) {
            return Err(EntryError::BadId(id.clone()));
        }
        if !id.contains(self.task.as_str()) {
            return Err(EntryError::IdWithoutTask {
                id: id.clone(),
                task: self.task,
            });
        }
        let answer = self.expected.task();
        if answer != self.task {
            return Err(EntryError::AnswerForOtherTask {
                id: id.clone(),
                task: self.task,
                answer,
            });
        }
        if let ExpectedAnswer::Localization(loc) = &self.expected {
            if loc.services.is_empty() {
                return Err(EntryError::NoServices(id.clone()));
            }
            if let Some(service) = loc.aliases.keys().find(|s| !loc.services.contains(s)) {
                return Err(EntryError::AliasForUnknownService {
                    id: id.clone(),
                    service: service.clone(),
                });
            }
        }
        let fields = [
            ("fault", &self.fault),
            ("workload", &self.workload),
            ("app.name", &self.app.name),
            ("app.class", &self.app.class),
            ("app.namespace", &self.app.namespace),
        ];
        if let Some((field, _)) = fields.iter().find(|(_, value)| value.trim().is_empty()) {
            return Err(EntryError::EmptyField {
                id: id.clone(),
                field,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hotel() -> App {
        App {
            name: "Hotel Reservation".into(),
            class: "HotelReservation".into(),
            namespace: "test-hotel-reservation".into(),
        }
    }

    fn entry(id: &str, task: TaskKind, expected: ExpectedAnswer) -> ProblemEntry {
        ProblemEntry {
            id: id.into(),
            app: hotel(),
            task,
            fault: "a fault".into(),
            expected,
            workload: "a workload".into(),
            runnable: false,
            deployment: Deployment::K8s,
        }
    }

    fn geo_answer() -> LocalizationAnswer {
        LocalizationAnswer {
            services: vec!["mongodb-geo".into()],
            aliases: BTreeMap::from([("mongodb-geo".into(), vec!["geo".into()])]),
        }
    }

    #[test]
    fn answers_serialise_tagged_by_task() {
        let cases = [
            (
                ExpectedAnswer::Detection(DetectionAnswer::Yes),
                serde_json::json!({"detection": "Yes"}),
            ),
            (
                ExpectedAnswer::Localization(geo_answer()),
                serde_json::json!({"localization": {"services": ["mongodb-geo"], "aliases": {"mongodb-geo": ["geo"]}}}),
            ),
            (
                ExpectedAnswer::Analysis(AnalysisAnswer {
                    system_level: SystemLevel::OperatingSystem,
                    fault_type: FaultType::NetworkStorageIssue,
                }),
                serde_json::json!({"analysis": {"system_level": "Operating System", "fault_type": "Network/Storage Issue"}}),
            ),
            (ExpectedAnswer::Mitigation, serde_json::json!("mitigation")),
        ];
        for (answer, json) in cases {
            assert_eq!(serde_json::to_value(&answer).unwrap(), json);
            let back: ExpectedAnswer = serde_json::from_value(json).unwrap();
            assert_eq!(back, answer);
        }
    }

    #[test]
    fn localization_without_aliases_omits_the_field() {
        let answer = LocalizationAnswer {
            services: vec!["user".into()],
            aliases: BTreeMap::new(),
        };
        assert_eq!(
            serde_json::to_value(&answer).unwrap(),
            serde_json::json!({"services": ["user"]})
        );
        assert_eq!(answer.to_string(), "user");
        assert!(answer.accepts("user"));
        assert!(!answer.accepts("geo"));
    }

    #[test]
    fn names_for_lists_service_then_aliases() {
        let answer = geo_answer();
        assert_eq!(
            answer.names_for("mongodb-geo").collect::<Vec<_>>(),
            ["mongodb-geo", "geo"]
        );
    }

    #[test]
    fn vocabularies_parse_case_insensitively_and_reject_unknown_labels() {
        for level in SystemLevel::ALL {
            assert_eq!(level.as_str().to_uppercase().parse(), Ok(*level));
        }
        for kind in FaultType::ALL {
            assert_eq!(format!("  {kind} ").parse(), Ok(*kind));
        }
        let err = "Network".parse::<FaultType>().unwrap_err();
        assert!(err.to_string().contains("unknown fault type `Network`"));
        assert!(err.to_string().contains("Network/Storage Issue"));
        assert_eq!(SystemLevel::ALL.len(), 4);
        assert_eq!(FaultType::ALL.len(), 6);
    }

    #[test]
    fn detection_matches_like_aiopslab() {
        assert!(DetectionAnswer::No.matches("no"));
        assert!(DetectionAnswer::No.matches("\tNO\n"));
        assert!(!DetectionAnswer::No.matches("No anomaly"));
    }

    #[test]
    fn entry_round_trips_through_json() {
        let e = entry(
            "revoke_auth_mongodb-localization-1",
            TaskKind::Localization,
            ExpectedAnswer::Localization(geo_answer()),
        );
        e.validate().unwrap();
        let json = serde_json::to_string(&e).unwrap();
        let back: ProblemEntry = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn validate_rejects_inconsistent_entries() {
        let wrong_answer = entry(
            "x-detection-1",
            TaskKind::Detection,
            ExpectedAnswer::Mitigation,
        );
        assert_eq!(
            wrong_answer.validate(),
            Err(EntryError::AnswerForOtherTask {
                id: "x-detection-1".into(),
                task: TaskKind::Detection,
                answer: TaskKind::Mitigation,
            })
        );

        let no_task_in_id = entry("x-1", TaskKind::Mitigation, ExpectedAnswer::Mitigation);
        assert!(matches!(
            no_task_in_id.validate(),
            Err(EntryError::IdWithoutTask { .. })
        ));

        let bad_id = entry(
            "a mitigation",
            TaskKind::Mitigation,
            ExpectedAnswer::Mitigation,
        );
        assert!(matches!(bad_id.validate(), Err(EntryError::BadId(_))));

        let mut stray_alias = geo_answer();
        stray_alias
            .aliases
            .insert("mongodb-rate".into(), vec!["rate".into()]);
        let e = entry(
            "x-localization-1",
            TaskKind::Localization,
            ExpectedAnswer::Localization(stray_alias),
        );
        assert!(matches!(
            e.validate(),
            Err(EntryError::AliasForUnknownService { service, .. }) if service == "mongodb-rate"
        ));

        let empty = entry(
            "x-localization-1",
            TaskKind::Localization,
            ExpectedAnswer::Localization(LocalizationAnswer {
                services: vec![],
                aliases: BTreeMap::new(),
            }),
        );
        assert!(matches!(empty.validate(), Err(EntryError::NoServices(_))));

        let mut blank_fault = entry(
            "x-mitigation-1",
            TaskKind::Mitigation,
            ExpectedAnswer::Mitigation,
        );
        blank_fault.fault = "  ".into();
        assert_eq!(
            blank_fault.validate(),
            Err(EntryError::EmptyField {
                id: "x-mitigation-1".into(),
                field: "fault"
            })
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let json = serde_json::json!({"services": ["a"], "service": "a"});
        assert!(serde_json::from_value::<LocalizationAnswer>(json).is_err());
    }
}

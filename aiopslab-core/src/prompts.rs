//! The texts an agent receives with a problem: the task description (which embeds the
//! application summary) and the instructions on how to answer.
//!
//! The content follows AIOpsLab's four task classes; the wording is ours, and the lines are
//! not indented (AIOpsLab leaves most instruction lines indented by 12 spaces, see
//! `docs/compatibility.md`).
//!
//! ```
//! use aiopslab_core::prompts::{app_summary, instructions, task_description};
//! use aiopslab_core::task::TaskKind;
//!
//! let summary = app_summary("Hotel Reservation", "test-hotel-reservation", "A hotel booking app.", &["Search hotels"]);
//! let desc = task_description(TaskKind::Detection, &summary);
//! assert!(desc.contains("Namespace: test-hotel-reservation"));
//! assert!(instructions(TaskKind::Detection).contains("submit(\"Yes\")"));
//! ```

use crate::task::TaskKind;

/// The application summary embedded in task descriptions, in AIOpsLab's exact layout:
/// `Service Name`, `Namespace`, `Description`, then `Supported Operations:` with one
/// `  - op` line per operation.
pub fn app_summary(name: &str, namespace: &str, description: &str, operations: &[&str]) -> String {
    let ops: Vec<String> = operations.iter().map(|op| format!("  - {op}")).collect();
    format!(
        "Service Name: {name}\nNamespace: {namespace}\nDescription: {description}\nSupported Operations:\n{}",
        ops.join("\n")
    )
}

/// The task description for `task`, with the application summary filled in.
pub fn task_description(task: TaskKind, app_summary: &str) -> String {
    let (role, closing) = match task {
        TaskKind::Detection => (
            "detect anomalies in a deployed service",
            "You will start by investigating the service's state and telemetry, and then submit your solution:\n\
             1. str: \"Yes\" or \"No\", saying whether you detected anomalies",
        ),
        TaskKind::Localization => (
            "localize faults in a deployed service",
            "You will start by investigating the service's state and telemetry, and then submit one of two possible solutions.\n\
             You are asked to identify the service(s) where the root cause of the fault lies.\n\
             1. list[str]: the faulty components (that is, service names)\n\
             2. list[]: an empty list if you detected no fault",
        ),
        TaskKind::Analysis => (
            "do root cause analysis in a deployed service",
            "You will start by investigating the service's state and telemetry, and then submit one of two possible solutions:\n\
             1. dict[str, str]: a dictionary with the two keys 'system_level' and 'fault_type'.\n\
             \x20   - system_level: the system level at which the fault occurred. Choose one of:\n\
             \x20       - 'Hardware'\n\
             \x20       - 'Operating System'\n\
             \x20       - 'Virtualization'\n\
             \x20       - 'Application'\n\
             \x20   - fault_type: the type of the fault. Choose one of:\n\
             \x20       - 'Misconfiguration'\n\
             \x20       - 'Code Defect'\n\
             \x20       - 'Authentication Issue'\n\
             \x20       - 'Network/Storage Issue'\n\
             \x20       - 'Operation Error'\n\
             \x20       - 'Dependency Problem'\n\
             \n\
             2. None: if you detected no fault (call submit() with no argument)",
        ),
        TaskKind::Mitigation => (
            "mitigate anomalies in a deployed service",
            "You will start by investigating the service's state and telemetry, and then submit a solution that mitigates the anomalies you detected.\n\
             You can carry out your mitigation with any of the available APIs.",
        ),
    };
    format!(
        "You are an expert DevOps engineer assigned to {role}.\n\nService Details:\n{app_summary}\n\n{closing}\n"
    )
}

const PREAMBLE: &str = "You will respond with one of the APIs above as your next action.\n\
Write it in a markdown code block, in this form:\n\
```\n<API_NAME>(<API_PARAM1>, <API_PARAM2> ...)\n```\n\
\n\
For example, to list the files in the current directory, your whole response must be:\n\
\n\
```\nexec_shell(\"ls -l\")\n```\n";

const CLOSING: &str = "Respond with only one API call (that is, one action) per turn, without any additional words, labels or prefixes.\n";

/// The instructions for `task`: the response format, how to submit, one call per turn.
pub fn instructions(task: TaskKind) -> String {
    let submit = match task {
        TaskKind::Detection => {
            "If you detect no anomaly, submit:\n\
             \n\
             ```\nsubmit(\"No\")\n```\n\
             \n\
             If you detect anomalies, submit:\n\
             \n\
             ```\nsubmit(\"Yes\")\n```\n"
        }
        TaskKind::Localization => {
            "When you have identified the faulty service(s), submit them as a list:\n\
             \n\
             ```\nsubmit([\"placeholderA\", \"placeholderB\"])\n```\n\
             \n\
             (placeholderA and placeholderB stand for the names of the services you found.)\n\
             \n\
             If you detect no fault, submit an empty list:\n\
             \n\
             ```\nsubmit([])\n```\n"
        }
        TaskKind::Analysis => {
            "Submit your analysis in this form:\n\
             \n\
             ```\nsubmit({\"system_level\": \"your_system_level_analysis\", \"fault_type\": \"your_fault_type_analysis\"})\n```\n\
             \n\
             Replace \"your_system_level_analysis\" and \"your_fault_type_analysis\" with the system level and fault type you found.\n\
             \n\
             If you detect no fault, respond with:\n\
             \n\
             ```\nsubmit()\n```\n"
        }
        TaskKind::Mitigation => {
            "When your mitigation is complete and ready to be evaluated, you must call:\n\
             \n\
             ```\nsubmit()\n```\n\
             \n\
             Note:\n\
             - submit() takes no parameters in the mitigation task.\n\
             - A call to submit() counts as a valid submission once it is made; that does not mean your mitigation is correct.\n"
        }
    };
    format!("{PREAMBLE}\n{submit}\n{CLOSING}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse;

    #[test]
    fn app_summary_has_aiopslab_layout() {
        assert_eq!(
            app_summary(
                "Social Network",
                "test-social-network",
                "A social app.",
                &["Create post", "Read timeline"]
            ),
            "Service Name: Social Network\nNamespace: test-social-network\nDescription: A social app.\nSupported Operations:\n  - Create post\n  - Read timeline"
        );
    }

    #[test]
    fn descriptions_embed_summary_and_answer_options() {
        let s = "Service Name: X\nNamespace: y";
        for task in TaskKind::ALL {
            let d = task_description(task, s);
            assert!(
                d.starts_with("You are an expert DevOps engineer assigned to "),
                "{task}"
            );
            assert!(
                d.contains("\n\nService Details:\nService Name: X\nNamespace: y\n\n"),
                "{task}"
            );
        }
        assert!(task_description(TaskKind::Detection, s).contains("\"Yes\" or \"No\""));
        assert!(task_description(TaskKind::Localization, s).contains("2. list[]"));
        let a = task_description(TaskKind::Analysis, s);
        for label in [
            "'Hardware'",
            "'Operating System'",
            "'Virtualization'",
            "'Application'",
            "'Misconfiguration'",
            "'Code Defect'",
            "'Authentication Issue'",
            "'Network/Storage Issue'",
            "'Operation Error'",
            "'Dependency Problem'",
        ] {
            assert!(a.contains(label), "{label}");
        }
        assert!(task_description(TaskKind::Mitigation, s).contains("any of the available APIs"));
    }

    /// Every example block in the instructions must parse, and no line is indented by the
    /// AIOpsLab dedent quirk.
    #[test]
    fn instruction_examples_parse_and_lines_are_not_indented() {
        for task in TaskKind::ALL {
            let text = instructions(task);
            assert!(text.ends_with(CLOSING));
            assert!(!text.lines().any(|l| l.starts_with("    ")), "{task}");
            let blocks: Vec<&str> = text.split("```\n").collect();
            // Odd-indexed pieces are the block contents.
            let mut examples = 0;
            for code in blocks.iter().skip(1).step_by(2) {
                let code = code.trim_end_matches('\n');
                if code.starts_with("<API_NAME>") {
                    continue;
                }
                let parsed = parse(&format!("```\n{code}\n```")).unwrap();
                assert!(["exec_shell", "submit"].contains(&parsed.api_name.as_str()));
                examples += 1;
            }
            assert!(examples >= 2, "{task}");
        }
    }
}

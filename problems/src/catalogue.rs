//! The catalogue file format (`problems/catalogue.yaml`) and its loading into a [`Registry`].

use crate::error::CatalogueError;
use crate::registry::{CatalogueApp, Registry};
use aiopslab_core::problem::{App, Deployment, ExpectedAnswer, ProblemEntry};
use aiopslab_core::task::TaskKind;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// The whole file: applications, workloads by key, then problems in registry order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    apps: Vec<RawApp>,
    workloads: BTreeMap<String, String>,
    problems: Vec<RawProblem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    class: String,
    name: String,
    namespace: String,
    deployment: Deployment,
    #[serde(default)]
    aliases: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProblem {
    id: String,
    /// A `class` of `apps`.
    app: String,
    task: TaskKind,
    fault: String,
    expected: ExpectedAnswer,
    /// A key of `workloads`.
    workload: String,
    runnable: bool,
}

/// Parses and checks a catalogue: unique ids and apps, known app and workload keys, and
/// consistent entries (see [`ProblemEntry::validate`]).
pub(crate) fn load(yaml: &str) -> Result<Registry, CatalogueError> {
    let raw: RawCatalogue = serde_saphyr::from_str(yaml)?;

    let mut apps: Vec<CatalogueApp> = Vec::with_capacity(raw.apps.len());
    for app in raw.apps {
        if apps.iter().any(|known| known.app.class == app.class) {
            return Err(CatalogueError::DuplicateApp(app.class));
        }
        apps.push(CatalogueApp {
            app: App {
                name: app.name,
                class: app.class,
                namespace: app.namespace,
            },
            deployment: app.deployment,
            aliases: app.aliases,
        });
    }

    let mut entries = Vec::with_capacity(raw.problems.len());
    let mut index = HashMap::with_capacity(raw.problems.len());
    for problem in raw.problems {
        let Some(app) = apps.iter().find(|known| known.app.class == problem.app) else {
            return Err(CatalogueError::UnknownApp {
                id: problem.id,
                app: problem.app,
            });
        };
        let Some(workload) = raw.workloads.get(&problem.workload) else {
            return Err(CatalogueError::UnknownWorkload {
                id: problem.id,
                workload: problem.workload,
            });
        };
        let entry = ProblemEntry {
            id: problem.id,
            app: app.app.clone(),
            task: problem.task,
            fault: problem.fault,
            expected: problem.expected,
            workload: workload.clone(),
            runnable: problem.runnable,
            deployment: app.deployment,
        };
        entry.validate()?;
        if index.insert(entry.id.clone(), entries.len()).is_some() {
            return Err(CatalogueError::DuplicateId(entry.id));
        }
        entries.push(entry);
    }

    Ok(Registry::new(apps, entries, index))
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPS: &str = "apps:\n  - {class: Hotel, name: Hotel, namespace: hotel, deployment: k8s}\n\
                        workloads:\n  w: a workload\n";

    fn with_problems(problems: &str) -> String {
        format!("{APPS}problems:\n{problems}")
    }

    const GOOD: &str = "  - {id: x-detection-1, app: Hotel, task: detection, fault: f, \
                        expected: {detection: \"No\"}, workload: w, runnable: true}\n";

    #[test]
    fn loads_a_small_catalogue() {
        let registry = load(&with_problems(GOOD)).unwrap();
        assert_eq!(registry.len(), 1);
        let entry = registry.get("x-detection-1").unwrap();
        assert_eq!(entry.workload, "a workload");
        assert_eq!(entry.app.namespace, "hotel");
        assert!(entry.runnable);
    }

    #[test]
    fn rejects_duplicate_ids() {
        let err = load(&with_problems(&format!("{GOOD}{GOOD}"))).unwrap_err();
        assert!(matches!(err, CatalogueError::DuplicateId(id) if id == "x-detection-1"));
    }

    #[test]
    fn rejects_unknown_app_and_workload_keys() {
        let err = load(&with_problems(&GOOD.replace("app: Hotel", "app: Social"))).unwrap_err();
        assert!(err.to_string().contains("names application `Social`"));
        let err = load(&with_problems(&GOOD.replace("workload: w", "workload: v"))).unwrap_err();
        assert!(err.to_string().contains("names workload `v`"));
    }

    #[test]
    fn rejects_answers_for_another_task() {
        let bad = GOOD.replace("expected: {detection: \"No\"}", "expected: mitigation");
        let err = load(&with_problems(&bad)).unwrap_err();
        assert!(matches!(err, CatalogueError::Entry(_)), "{err}");
    }

    #[test]
    fn rejects_unknown_fields_and_bad_syntax() {
        let extra = GOOD.replace("runnable: true", "runnable: true, colour: red");
        assert!(matches!(
            load(&with_problems(&extra)),
            Err(CatalogueError::Syntax(_))
        ));
        assert!(matches!(
            load("apps: [unclosed"),
            Err(CatalogueError::Syntax(_))
        ));
        let unknown_label = GOOD.replace(
            "expected: {detection: \"No\"}",
            "expected: {detection: \"Maybe\"}",
        );
        assert!(load(&with_problems(&unknown_label)).is_err());
    }
}

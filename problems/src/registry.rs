//! The problem registry: every catalogue entry in AIOpsLab's order, and the queries on it.

use crate::error::{CatalogueError, UnknownApp, UnknownProblem};
use crate::suggest;
use aiopslab_core::problem::{App, Deployment, ProblemEntry};
use aiopslab_core::task::TaskKind;
use serde::Serialize;
use std::collections::HashMap;

/// How many ids an unknown-id error suggests.
const SUGGESTIONS: usize = 3;

/// An application of the catalogue, with the extra names it may be looked up by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogueApp {
    /// The application as AIOpsLab names it.
    pub app: App,
    /// How AIOpsLab deploys it.
    pub deployment: Deployment,
    /// Extra names accepted by [`Registry::find_app`] (e.g. `hotel`).
    pub aliases: Vec<String>,
}

impl CatalogueApp {
    /// Whether `query` names this application: its name, class, namespace or an alias,
    /// ignoring case, spaces, `-` and `_`.
    pub fn matches(&self, query: &str) -> bool {
        let wanted = suggest::normalise(query);
        !wanted.is_empty()
            && [&self.app.name, &self.app.class, &self.app.namespace]
                .into_iter()
                .chain(&self.aliases)
                .any(|name| suggest::normalise(name) == wanted)
    }
}

/// How many problems an application has, per task kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppCounts<'a> {
    /// The application.
    pub app: &'a CatalogueApp,
    /// Counts in [`TaskKind::ALL`] order: detection, localization, analysis, mitigation.
    pub by_task: [usize; 4],
}

impl AppCounts<'_> {
    /// The count for one task kind.
    pub fn task(&self, kind: TaskKind) -> usize {
        let position = TaskKind::ALL.iter().position(|k| *k == kind);
        position.map_or(0, |i| self.by_task[i])
    }

    /// All problems of the application.
    pub fn total(&self) -> usize {
        self.by_task.iter().sum()
    }
}

/// The problem catalogue: entries in AIOpsLab's registry order, looked up by id, filtered by
/// task kind and application.
///
/// ```
/// use aiopslab_core::task::TaskKind;
///
/// let registry = aiopslab_problems::registry();
/// assert_eq!(registry.len(), 89);
/// assert_eq!(registry.by_task(TaskKind::Mitigation).count(), 14);
///
/// let hotel = registry.find_app("hotel-reservation").unwrap();
/// assert_eq!(hotel.app.namespace, "test-hotel-reservation");
/// assert_eq!(registry.filter(Some(TaskKind::Analysis), Some(&hotel.app)).count(), 7);
///
/// let err = registry.get("revoke_auth_mongodb-detection-3").unwrap_err();
/// assert!(err.to_string().contains("aiopslab problems"));
/// ```
#[derive(Debug, Clone)]
pub struct Registry {
    apps: Vec<CatalogueApp>,
    entries: Vec<ProblemEntry>,
    index: HashMap<String, usize>,
}

impl Registry {
    /// Builds a registry from checked parts (see `catalogue::load`).
    pub(crate) fn new(
        apps: Vec<CatalogueApp>,
        entries: Vec<ProblemEntry>,
        index: HashMap<String, usize>,
    ) -> Self {
        Registry {
            apps,
            entries,
            index,
        }
    }

    /// Parses and checks a catalogue in the format of `problems/catalogue.yaml`.
    ///
    /// Most callers want the embedded catalogue, [`crate::registry()`], instead.
    pub fn from_yaml(yaml: &str) -> Result<Self, CatalogueError> {
        crate::catalogue::load(yaml)
    }

    /// Every entry, in registry order.
    pub fn entries(&self) -> &[ProblemEntry] {
        &self.entries
    }

    /// Every problem id, in registry order.
    pub fn ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|entry| entry.id.as_str())
    }

    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no problems at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `id` is a known problem id (exact, case-sensitive).
    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// The entry for `id` (exact, case-sensitive), or an error that suggests the closest ids.
    pub fn get(&self, id: &str) -> Result<&ProblemEntry, UnknownProblem> {
        match self.index.get(id) {
            Some(&position) => Ok(&self.entries[position]),
            None => Err(UnknownProblem {
                id: id.to_string(),
                suggestions: suggest::closest(id, self.ids(), SUGGESTIONS)
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
                known: self.len(),
            }),
        }
    }

    /// How AIOpsLab deploys the problem's application (`k8s` or `docker`).
    pub fn deployment(&self, id: &str) -> Result<Deployment, UnknownProblem> {
        self.get(id).map(|entry| entry.deployment)
    }

    /// The entries of one task kind, in registry order.
    pub fn by_task(&self, kind: TaskKind) -> impl Iterator<Item = &ProblemEntry> + '_ {
        self.entries.iter().filter(move |entry| entry.task == kind)
    }

    /// The entries of one application, in registry order.
    pub fn by_app<'a>(&'a self, app: &'a App) -> impl Iterator<Item = &'a ProblemEntry> + 'a {
        self.entries.iter().filter(move |entry| entry.app == *app)
    }

    /// The entries that pass both optional filters, in registry order.
    pub fn filter<'a>(
        &'a self,
        task: Option<TaskKind>,
        app: Option<&'a App>,
    ) -> impl Iterator<Item = &'a ProblemEntry> + 'a {
        self.entries.iter().filter(move |entry| {
            task.is_none_or(|kind| entry.task == kind) && app.is_none_or(|app| entry.app == *app)
        })
    }

    /// The entries this implementation can run now, in registry order.
    pub fn runnable(&self) -> impl Iterator<Item = &ProblemEntry> + '_ {
        self.entries.iter().filter(|entry| entry.runnable)
    }

    /// Every application of the catalogue, including those without problems.
    pub fn apps(&self) -> &[CatalogueApp] {
        &self.apps
    }

    /// The application `query` names (see [`CatalogueApp::matches`]), or an error listing them.
    pub fn find_app(&self, query: &str) -> Result<&CatalogueApp, UnknownApp> {
        self.apps
            .iter()
            .find(|app| app.matches(query))
            .ok_or_else(|| UnknownApp {
                query: query.to_string(),
                known: self
                    .apps
                    .iter()
                    .map(|app| format!("{} ({})", app.app.class, app.app.namespace))
                    .collect(),
            })
    }

    /// How many problems there are of one task kind.
    pub fn count_by_task(&self, kind: TaskKind) -> usize {
        self.by_task(kind).count()
    }

    /// Per-application counts, one row per application in catalogue order.
    pub fn app_counts(&self) -> Vec<AppCounts<'_>> {
        self.apps
            .iter()
            .map(|app| {
                let mut by_task = [0; 4];
                for (slot, kind) in by_task.iter_mut().zip(TaskKind::ALL) {
                    *slot = self.filter(Some(kind), Some(&app.app)).count();
                }
                AppCounts { app, by_task }
            })
            .collect()
    }

    /// AIOpsLab's `get_problem_ids(task_type)`: every id when `task_type` is `None`, else the
    /// ids that contain `task_type` as a **substring** (case-sensitive), in registry order.
    ///
    /// For the four task names this equals [`Registry::by_task`] on AIOpsLab's ids (every id
    /// contains its task name and no other), but any substring works: `Some("hotel")` gives the
    /// ids with `hotel` in them, not the HotelReservation problems (`container_kill-*` and
    /// `revoke_auth_mongodb-*` are HotelReservation problems without it).
    ///
    /// ```
    /// let registry = aiopslab_problems::registry();
    /// assert_eq!(registry.problem_ids(Some("analysis")).len(), 13);
    /// assert_eq!(registry.problem_ids(None).len(), 89);
    /// assert_eq!(registry.problem_ids(Some("flower")).len(), 2);
    /// ```
    pub fn problem_ids(&self, task_type: Option<&str>) -> Vec<&str> {
        self.ids()
            .filter(|id| task_type.is_none_or(|needle| id.contains(needle)))
            .collect()
    }

    /// AIOpsLab's `get_problem_count(task_type)`: the length of [`Registry::problem_ids`].
    pub fn problem_count(&self, task_type: Option<&str>) -> usize {
        self.problem_ids(task_type).len()
    }
}

//! Objects, resource versions and watch events.
//!
//! The [`Store`] keeps every object as the JSON a real API server returns, keyed by
//! [`ResourceKey`], namespace and name. Every write takes the next resource version from one
//! counter and produces a [`WatchEvent`]; recent events are kept so that a watch can resume from
//! a resource version (and gets `410 Gone` when it asks for one that has been compacted), and
//! live events are broadcast to watchers and controllers.
//!
//! The store fills in what the server owns: `uid`, `resourceVersion`, `creationTimestamp`,
//! `generation` (bumped when `spec` changes) and names from `generateName`. All randomness comes
//! from one seeded generator, so the same seed and the same sequence of writes give the same
//! names and uids.
//!
//! ```
//! use aiopslab_sim::{clock::WallClock, resources::ResourceKey, store::Store};
//! use serde_json::json;
//! use std::sync::Arc;
//!
//! let store = Store::new(7, Arc::new(WallClock));
//! let cms = ResourceKey::new("", "configmaps");
//! let created = store
//!     .create(&cms, "default", json!({"apiVersion": "v1", "kind": "ConfigMap",
//!         "metadata": {"name": "cfg"}, "data": {"a": "1"}}))
//!     .unwrap();
//! assert_eq!(created["metadata"]["namespace"], "default");
//! assert_eq!(store.get(&cms, "default", "cfg").unwrap()["data"]["a"], "1");
//! ```

use crate::clock::SharedClock;
use crate::resources::{Catalogue, ResourceKey};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::broadcast;

/// How many past events the store keeps for watches that resume from a resource version.
const HISTORY_LIMIT: usize = 50_000;
/// How many live events a slow watcher may fall behind before it is cut off.
const BROADCAST_CAPACITY: usize = 16_384;
/// The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object was changed (including being marked for deletion).
    Modified,
    /// The object was removed.
    Deleted,
}

impl EventType {
    /// The name used on the watch wire format.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change to one object.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// The resource version of this change.
    pub resource_version: u64,
    /// The collection of the object.
    pub resource: ResourceKey,
    /// The object's namespace (`""` for cluster-scoped objects).
    pub namespace: String,
    /// What happened.
    pub event_type: EventType,
    /// The object after the change (for `Deleted`, its last state).
    pub object: Arc<Value>,
}

/// Errors from store operations, each mapping to a Kubernetes status reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// No such object (404 NotFound).
    #[error("{resource} \"{name}\" not found")]
    NotFound {
        /// The collection.
        resource: ResourceKey,
        /// The object name.
        name: String,
    },
    /// An object with that name exists (409 AlreadyExists).
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists {
        /// The collection.
        resource: ResourceKey,
        /// The object name.
        name: String,
    },
    /// The caller's resourceVersion is stale (409 Conflict).
    #[error(
        "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
    )]
    Conflict {
        /// The collection.
        resource: ResourceKey,
        /// The object name.
        name: String,
    },
    /// The requested resource version has been compacted (410 Gone).
    #[error("too old resource version: {requested} ({oldest})")]
    Gone {
        /// What the caller asked for.
        requested: u64,
        /// The oldest version the store still has.
        oldest: u64,
    },
    /// The object is malformed (422 Invalid / 400 BadRequest).
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug)]
struct State {
    resource_version: u64,
    objects: HashMap<ResourceKey, BTreeMap<(String, String), Arc<Value>>>,
    history: VecDeque<Arc<WatchEvent>>,
    rng: ChaCha8Rng,
}

/// The object store of one virtual cluster.
#[derive(Debug)]
pub struct Store {
    state: Mutex<State>,
    catalogue: RwLock<Catalogue>,
    events: broadcast::Sender<Arc<WatchEvent>>,
    clock: SharedClock,
    /// State that layers above attach to the cluster (one value per type), see
    /// [`Store::extension`].
    extensions: Mutex<HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>>,
}

/// The past events a watch must replay, then the live ones.
pub struct WatchStart {
    /// Events after the requested resource version, oldest first.
    pub backlog: Vec<Arc<WatchEvent>>,
    /// Live events that follow the backlog.
    pub live: broadcast::Receiver<Arc<WatchEvent>>,
    /// The store's resource version when the watch began.
    pub resource_version: u64,
}

impl Store {
    /// An empty store whose random names and uids come from `seed`.
    pub fn new(seed: u64, clock: SharedClock) -> Self {
        let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
        Store {
            state: Mutex::new(State {
                resource_version: 1,
                objects: HashMap::new(),
                history: VecDeque::new(),
                rng: ChaCha8Rng::seed_from_u64(seed),
            }),
            catalogue: RwLock::new(Catalogue::default()),
            events,
            clock,
            extensions: Mutex::new(HashMap::new()),
        }
    }

    /// The value of type `T` attached to this store, created with `T::default()` on first use.
    ///
    /// Layers above the object store keep the cluster state that is not Kubernetes objects
    /// here (the applications' internal state: database users, service registries), so that
    /// whoever holds the store reaches it and it lives exactly as long as the cluster.
    pub fn extension<T: std::any::Any + Send + Sync + Default>(&self) -> Arc<T> {
        let mut map = self.extensions.lock().unwrap_or_else(|e| e.into_inner());
        let id = std::any::TypeId::of::<T>();
        if let Some(found) = map.get(&id).cloned()
            && let Ok(value) = found.downcast::<T>()
        {
            return value;
        }
        let value = Arc::new(T::default());
        map.insert(id, value.clone());
        value
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The served kinds (read access).
    pub fn catalogue(&self) -> RwLockReadGuard<'_, Catalogue> {
        self.catalogue.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The served kinds (write access, to add or remove custom resources).
    pub fn catalogue_mut(&self) -> RwLockWriteGuard<'_, Catalogue> {
        self.catalogue.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The clock this store stamps objects with.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The current time as Kubernetes writes timestamps (`2026-01-01T00:00:00Z`).
    pub fn now_rfc3339(&self) -> String {
        format_time(self.clock.now())
    }

    /// The latest resource version.
    pub fn resource_version(&self) -> u64 {
        self.lock().resource_version
    }

    /// Subscribes to every future event, for controllers.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.events.subscribe()
    }

    /// A random lower-case suffix of `len` characters from Kubernetes' name alphabet.
    pub fn random_suffix(&self, len: usize) -> String {
        let mut state = self.lock();
        random_suffix(&mut state.rng, len)
    }

    /// A random `u64` from the store's seeded generator.
    pub fn random_u64(&self) -> u64 {
        self.lock().rng.random()
    }

    /// A new random uid (RFC 4122 version 4 layout) from the store's seeded generator.
    pub fn new_uid(&self) -> String {
        random_uid(&mut self.lock().rng)
    }

    /// Reads one object.
    pub fn get(
        &self,
        resource: &ResourceKey,
        namespace: &str,
        name: &str,
    ) -> Result<Value, StoreError> {
        self.get_arc(resource, namespace, name)
            .map(|v| (*v).clone())
    }

    /// Reads one object without copying it.
    pub fn get_arc(
        &self,
        resource: &ResourceKey,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, StoreError> {
        self.lock()
            .objects
            .get(resource)
            .and_then(|m| m.get(&(namespace.to_string(), name.to_string())))
            .cloned()
            .ok_or_else(|| not_found(resource, name))
    }

    /// Lists the objects of a collection, in one namespace or all (`None`), sorted by
    /// namespace and name, with the resource version of the snapshot.
    pub fn list(&self, resource: &ResourceKey, namespace: Option<&str>) -> (Vec<Arc<Value>>, u64) {
        let state = self.lock();
        let items = match state.objects.get(resource) {
            None => Vec::new(),
            Some(map) => match namespace {
                None => map.values().cloned().collect(),
                Some(ns) => map
                    .range((ns.to_string(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, v)| v.clone())
                    .collect(),
            },
        };
        (items, state.resource_version)
    }

    /// Creates an object in `namespace` (`""` for cluster-scoped kinds).
    ///
    /// Fills in name (from `generateName`), namespace, uid (kept when admission already drew
    /// one with [`Store::new_uid`]), resourceVersion, creationTimestamp and generation.
    pub fn create(
        &self,
        resource: &ResourceKey,
        namespace: &str,
        mut obj: Value,
    ) -> Result<Value, StoreError> {
        let now = self.now_rfc3339();
        let mut state = self.lock();
        let meta = metadata_mut(&mut obj)?;
        let name = match meta
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            Some(n) => n.to_string(),
            None => {
                let prefix = meta
                    .get("generateName")
                    .and_then(Value::as_str)
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| {
                        StoreError::Invalid("name or generateName is required".to_string())
                    })?
                    .to_string();
                let mut candidate;
                loop {
                    candidate = format!("{prefix}{}", random_suffix(&mut state.rng, 5));
                    let taken = state.objects.get(resource).is_some_and(|m| {
                        m.contains_key(&(namespace.to_string(), candidate.clone()))
                    });
                    if !taken {
                        break;
                    }
                }
                candidate
            }
        };
        let key = (namespace.to_string(), name.clone());
        if state
            .objects
            .get(resource)
            .is_some_and(|m| m.contains_key(&key))
        {
            return Err(StoreError::AlreadyExists {
                resource: resource.clone(),
                name,
            });
        }
        // Admission assigns the uid (so that defaulting can use it, as the Job selector does);
        // otherwise the store draws one.
        let uid = match meta
            .get("uid")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
        {
            Some(u) => u.to_string(),
            None => random_uid(&mut state.rng),
        };
        state.resource_version += 1;
        let rv = state.resource_version;
        meta.insert("name".into(), json!(name));
        if namespace.is_empty() {
            meta.remove("namespace");
        } else {
            meta.insert("namespace".into(), json!(namespace));
        }
        meta.insert("uid".into(), json!(uid));
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        meta.insert("creationTimestamp".into(), json!(now));
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        if tracks_generation(resource) {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        let stored = Arc::new(obj);
        state
            .objects
            .entry(resource.clone())
            .or_default()
            .insert(key, stored.clone());
        self.record(
            &mut state,
            resource,
            namespace,
            EventType::Added,
            stored.clone(),
            rv,
        );
        Ok((*stored).clone())
    }

    /// Replaces an object.
    ///
    /// When `new.metadata.resourceVersion` is set it must equal the stored one, else
    /// [`StoreError::Conflict`]. Server-owned metadata is kept; `generation` is bumped when
    /// `spec` changes. An object marked for deletion whose last finalizer is removed is deleted.
    pub fn update(
        &self,
        resource: &ResourceKey,
        namespace: &str,
        name: &str,
        new: Value,
    ) -> Result<Value, StoreError> {
        self.modify(resource, namespace, name, |current| {
            let wanted = new
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            if let Some(wanted) = wanted
                && Some(wanted)
                    != current
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
            {
                return Err(StoreError::Conflict {
                    resource: resource.clone(),
                    name: name.to_string(),
                });
            }
            *current = new.clone();
            Ok(())
        })
    }

    /// Changes an object in place, atomically: `change` sees the current object and edits it.
    ///
    /// Server-owned metadata (name, namespace, uid, creationTimestamp, deletionTimestamp) is
    /// restored after `change`; nothing is written (and no event sent) when the object did not
    /// change. Returns the stored object.
    pub fn modify<F>(
        &self,
        resource: &ResourceKey,
        namespace: &str,
        name: &str,
        change: F,
    ) -> Result<Value, StoreError>
    where
        F: FnOnce(&mut Value) -> Result<(), StoreError>,
    {
        self.modify_arc(resource, namespace, name, |current| {
            let mut next = current.clone();
            change(&mut next)?;
            Ok(next)
        })
        .map(|stored| (*stored).clone())
    }

    /// Like [`Store::modify`], but `produce` builds the next object from the current one
    /// (no copy of the current object is made for it), and the stored object is returned
    /// without copying it: the cheap path for a write that replaces the whole object.
    pub fn modify_arc<F>(
        &self,
        resource: &ResourceKey,
        namespace: &str,
        name: &str,
        produce: F,
    ) -> Result<Arc<Value>, StoreError>
    where
        F: FnOnce(&Value) -> Result<Value, StoreError>,
    {
        let mut state = self.lock();
        let key = (namespace.to_string(), name.to_string());
        let current = state
            .objects
            .get(resource)
            .and_then(|m| m.get(&key))
            .cloned()
            .ok_or_else(|| not_found(resource, name))?;
        let mut next = produce(&current)?;
        let current_meta = current.get("metadata").and_then(Value::as_object);
        let current_field = |field: &str| current_meta.and_then(|m| m.get(field));
        let meta = metadata_mut(&mut next)?;
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            match current_field(field) {
                Some(v) => {
                    if meta.get(field) != Some(v) {
                        meta.insert(field.into(), v.clone());
                    }
                }
                None => {
                    meta.remove(field);
                }
            };
        }
        meta.insert(
            "resourceVersion".into(),
            current_field("resourceVersion")
                .cloned()
                .unwrap_or(Value::Null),
        );
        let generation = current_field("generation").and_then(Value::as_i64);
        match generation {
            Some(g) => {
                let spec_changed = current.get("spec") != next.get("spec");
                metadata_mut(&mut next)?.insert(
                    "generation".into(),
                    json!(if spec_changed { g + 1 } else { g }),
                );
            }
            None => {
                metadata_mut(&mut next)?.remove("generation");
            }
        }
        if next == *current {
            return Ok(current);
        }
        let deleting = next.pointer("/metadata/deletionTimestamp").is_some();
        let finalizers_left = has_finalizers(resource, &next);
        state.resource_version += 1;
        let rv = state.resource_version;
        metadata_mut(&mut next)?.insert("resourceVersion".into(), json!(rv.to_string()));
        let stored = Arc::new(next);
        if deleting && !finalizers_left && !is_graceful_pod(resource, &stored) {
            if let Some(m) = state.objects.get_mut(resource) {
                m.remove(&key);
            }
            self.record(
                &mut state,
                resource,
                namespace,
                EventType::Deleted,
                stored.clone(),
                rv,
            );
        } else {
            self.put(&mut state, resource, namespace, key, stored.clone(), rv);
        }
        Ok(stored)
    }

    /// Deletes an object.
    ///
    /// With finalizers (for a namespace also `spec.finalizers`, and it becomes `Terminating`),
    /// or with a grace period for a pod that is running, the object is only marked
    /// (`deletionTimestamp`, `deletionGracePeriodSeconds`) and stays until the finalizers are
    /// gone or [`Store::remove`] is called. Otherwise it is removed at once.
    /// `precondition_uid` / `precondition_rv` implement delete preconditions.
    pub fn delete(
        &self,
        resource: &ResourceKey,
        namespace: &str,
        name: &str,
        grace_seconds: Option<i64>,
        precondition_uid: Option<&str>,
        precondition_rv: Option<&str>,
    ) -> Result<Value, StoreError> {
        let now = self.now_rfc3339();
        let mut state = self.lock();
        let key = (namespace.to_string(), name.to_string());
        let current = state
            .objects
            .get(resource)
            .and_then(|m| m.get(&key))
            .cloned()
            .ok_or_else(|| not_found(resource, name))?;
        let meta_str = |f: &str| {
            current
                .pointer(&format!("/metadata/{f}"))
                .and_then(Value::as_str)
        };
        let conflict = || StoreError::Conflict {
            resource: resource.clone(),
            name: name.to_string(),
        };
        if precondition_uid.is_some_and(|uid| meta_str("uid") != Some(uid)) {
            return Err(conflict());
        }
        if precondition_rv.is_some_and(|rv| meta_str("resourceVersion") != Some(rv)) {
            return Err(conflict());
        }
        let has_finalizers = has_finalizers(resource, &current);
        let graceful = grace_seconds.unwrap_or(0) > 0;
        state.resource_version += 1;
        let rv = state.resource_version;
        let mut next = (*current).clone();
        let meta = metadata_mut(&mut next)?;
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        if has_finalizers || graceful {
            let first = meta.get("deletionTimestamp").is_none();
            if first {
                meta.insert("deletionTimestamp".into(), json!(now));
                meta.insert(
                    "deletionGracePeriodSeconds".into(),
                    json!(grace_seconds.unwrap_or(0)),
                );
            } else if graceful {
                // A second delete may only shorten the grace period.
                let old = meta
                    .get("deletionGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let new = grace_seconds.unwrap_or(0).min(old);
                meta.insert("deletionGracePeriodSeconds".into(), json!(new));
            }
            if first
                && is_namespace(resource)
                && let Some(obj) = next.as_object_mut()
            {
                // The namespace registry marks a namespace it cannot remove yet Terminating.
                let status = obj.entry("status").or_insert_with(|| json!({}));
                if let Some(status) = status.as_object_mut() {
                    status.insert("phase".into(), json!("Terminating"));
                }
            }
            let stored = Arc::new(next);
            self.put(&mut state, resource, namespace, key, stored.clone(), rv);
            Ok((*stored).clone())
        } else {
            let stored = Arc::new(next);
            if let Some(m) = state.objects.get_mut(resource) {
                m.remove(&key);
            }
            self.record(
                &mut state,
                resource,
                namespace,
                EventType::Deleted,
                stored.clone(),
                rv,
            );
            Ok((*stored).clone())
        }
    }

    /// Removes an object for good, whatever its finalizers (the kubelet's final delete of a
    /// terminated pod, garbage collection after finalization).
    pub fn remove(
        &self,
        resource: &ResourceKey,
        namespace: &str,
        name: &str,
    ) -> Result<Value, StoreError> {
        let mut state = self.lock();
        let key = (namespace.to_string(), name.to_string());
        let current = state
            .objects
            .get_mut(resource)
            .and_then(|m| m.remove(&key))
            .ok_or_else(|| not_found(resource, name))?;
        state.resource_version += 1;
        let rv = state.resource_version;
        let mut last = (*current).clone();
        if let Ok(meta) = metadata_mut(&mut last) {
            meta.insert("resourceVersion".into(), json!(rv.to_string()));
        }
        let stored = Arc::new(last);
        self.record(
            &mut state,
            resource,
            namespace,
            EventType::Deleted,
            stored.clone(),
            rv,
        );
        Ok((*stored).clone())
    }

    /// Starts a watch on every collection: replays the events after `since` (when given) and
    /// then follows live events. Filtering by collection, namespace and selectors is the
    /// caller's job.
    pub fn watch_from(&self, since: Option<u64>) -> Result<WatchStart, StoreError> {
        let state = self.lock();
        let live = self.events.subscribe();
        let current = state.resource_version;
        let backlog = match since {
            None => Vec::new(),
            Some(rv) if rv >= current => Vec::new(),
            Some(rv) => {
                let oldest = state
                    .history
                    .front()
                    .map(|e| e.resource_version)
                    .unwrap_or(current);
                if rv + 1 < oldest {
                    return Err(StoreError::Gone {
                        requested: rv,
                        oldest,
                    });
                }
                state
                    .history
                    .iter()
                    .filter(|e| e.resource_version > rv)
                    .cloned()
                    .collect()
            }
        };
        Ok(WatchStart {
            backlog,
            live,
            resource_version: current,
        })
    }

    /// Stores `object` under `key` and records it as a `Modified` event.
    fn put(
        &self,
        state: &mut State,
        resource: &ResourceKey,
        namespace: &str,
        key: (String, String),
        object: Arc<Value>,
        rv: u64,
    ) {
        state
            .objects
            .entry(resource.clone())
            .or_default()
            .insert(key, object.clone());
        self.record(state, resource, namespace, EventType::Modified, object, rv);
    }

    fn record(
        &self,
        state: &mut State,
        resource: &ResourceKey,
        namespace: &str,
        event_type: EventType,
        object: Arc<Value>,
        rv: u64,
    ) {
        let event = Arc::new(WatchEvent {
            resource_version: rv,
            resource: resource.clone(),
            namespace: namespace.to_string(),
            event_type,
            object,
        });
        state.history.push_back(event.clone());
        if state.history.len() > HISTORY_LIMIT {
            state.history.pop_front();
        }
        // No receivers is fine: nobody is watching yet.
        let _ = self.events.send(event);
    }
}

/// Formats a timestamp as Kubernetes does (whole seconds, `Z`).
pub fn format_time(t: jiff::Timestamp) -> String {
    let secs = t.as_second();
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

fn not_found(resource: &ResourceKey, name: &str) -> StoreError {
    StoreError::NotFound {
        resource: resource.clone(),
        name: name.to_string(),
    }
}

fn metadata_mut(obj: &mut Value) -> Result<&mut Map<String, Value>, StoreError> {
    let map = obj
        .as_object_mut()
        .ok_or_else(|| StoreError::Invalid("the object must be a JSON object".to_string()))?;
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if meta.is_null() {
        *meta = json!({});
    }
    meta.as_object_mut()
        .ok_or_else(|| StoreError::Invalid("metadata must be an object".to_string()))
}

/// Whether an object still has finalizers: `metadata.finalizers`, and for namespaces also
/// `spec.finalizers` (the `kubernetes` finalizer the namespace controller removes).
fn has_finalizers(resource: &ResourceKey, obj: &Value) -> bool {
    let non_empty = |ptr: &str| {
        obj.pointer(ptr)
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
    };
    non_empty("/metadata/finalizers") || (is_namespace(resource) && non_empty("/spec/finalizers"))
}

fn is_namespace(resource: &ResourceKey) -> bool {
    resource.group.is_empty() && resource.plural == "namespaces"
}

/// Kinds whose `metadata.generation` the server maintains.
fn tracks_generation(resource: &ResourceKey) -> bool {
    matches!(
        resource.group.as_str(),
        "apps" | "batch" | "apiextensions.k8s.io" | "policy" | "networking.k8s.io"
    ) || !is_builtin_group(&resource.group)
        || (resource.group.is_empty() && resource.plural == "replicationcontrollers")
}

fn is_builtin_group(group: &str) -> bool {
    group.is_empty() || group.ends_with(".k8s.io") || matches!(group, "apps" | "batch" | "policy")
}

/// A pod marked for graceful deletion stays until the kubelet removes it, even without
/// finalizers; an update must not make it vanish.
fn is_graceful_pod(resource: &ResourceKey, obj: &Value) -> bool {
    resource.group.is_empty()
        && resource.plural == "pods"
        && obj
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            > 0
}

fn random_suffix(rng: &mut ChaCha8Rng, len: usize) -> String {
    (0..len)
        .map(|_| NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())] as char)
        .collect()
}

fn random_uid(rng: &mut ChaCha8Rng) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn store(seed: u64) -> Store {
        Store::new(
            seed,
            Arc::new(ManualClock::at("2026-01-01T00:00:00Z".parse().unwrap())),
        )
    }

    fn deploy(name: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": {"replicas": 1}})
    }

    #[test]
    fn create_fills_server_fields() {
        let s = store(1);
        let key = ResourceKey::new("apps", "deployments");
        let d = s.create(&key, "ns", deploy("geo")).unwrap();
        let m = &d["metadata"];
        assert_eq!(m["namespace"], "ns");
        assert_eq!(m["generation"], 1);
        assert_eq!(m["creationTimestamp"], "2026-01-01T00:00:00Z");
        assert_eq!(m["uid"].as_str().unwrap().len(), 36);
        assert_eq!(
            s.create(&key, "ns", deploy("geo")).unwrap_err().to_string(),
            "deployments.apps \"geo\" already exists"
        );
        // Same name in another namespace is fine.
        s.create(&key, "other", deploy("geo")).unwrap();
        assert_eq!(s.list(&key, Some("ns")).0.len(), 1);
        assert_eq!(s.list(&key, None).0.len(), 2);
    }

    #[test]
    fn same_seed_same_names_and_uids() {
        let run = |seed| {
            let s = store(seed);
            let pods = ResourceKey::new("", "pods");
            let p = s
                .create(&pods, "ns", json!({"metadata": {"generateName": "geo-"}}))
                .unwrap();
            (p["metadata"]["name"].clone(), p["metadata"]["uid"].clone())
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        let (name, _) = run(3);
        assert!(name.as_str().unwrap().starts_with("geo-") && name.as_str().unwrap().len() == 9);
    }

    #[test]
    fn update_conflicts_and_generation() {
        let s = store(1);
        let key = ResourceKey::new("apps", "deployments");
        let d = s.create(&key, "ns", deploy("geo")).unwrap();
        let mut stale = d.clone();
        let mut next = d.clone();
        next["spec"]["replicas"] = json!(3);
        let updated = s.update(&key, "ns", "geo", next).unwrap();
        assert_eq!(updated["metadata"]["generation"], 2);
        stale["spec"]["replicas"] = json!(5);
        assert!(matches!(
            s.update(&key, "ns", "geo", stale),
            Err(StoreError::Conflict { .. })
        ));
        // Label-only change keeps the generation.
        let mut labelled = updated.clone();
        labelled["metadata"]["labels"] = json!({"a": "b"});
        assert_eq!(
            s.update(&key, "ns", "geo", labelled).unwrap()["metadata"]["generation"],
            2
        );
        // No-op writes do not bump the resource version.
        let rv = s.resource_version();
        s.modify(&key, "ns", "geo", |_| Ok(())).unwrap();
        assert_eq!(s.resource_version(), rv);
    }

    #[test]
    fn finalizers_hold_deletion() {
        let s = store(1);
        let key = ResourceKey::new("", "namespaces");
        s.create(
            &key,
            "",
            json!({"metadata": {"name": "app", "finalizers": ["kubernetes"]}}),
        )
        .unwrap();
        let marked = s.delete(&key, "", "app", None, None, None).unwrap();
        assert!(marked["metadata"]["deletionTimestamp"].is_string());
        assert!(s.get(&key, "", "app").is_ok());
        s.modify(&key, "", "app", |o| {
            o["metadata"]["finalizers"] = json!([]);
            Ok(())
        })
        .unwrap();
        assert!(matches!(
            s.get(&key, "", "app"),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn graceful_pod_deletion_waits_for_remove() {
        let s = store(1);
        let pods = ResourceKey::new("", "pods");
        s.create(&pods, "ns", json!({"metadata": {"name": "p"}}))
            .unwrap();
        s.delete(&pods, "ns", "p", Some(30), None, None).unwrap();
        s.modify(&pods, "ns", "p", |o| {
            o["status"] = json!({"phase": "Succeeded"});
            Ok(())
        })
        .unwrap();
        assert!(s.get(&pods, "ns", "p").is_ok());
        s.remove(&pods, "ns", "p").unwrap();
        assert!(s.get(&pods, "ns", "p").is_err());
    }

    #[test]
    fn watch_replays_and_expires() {
        let s = store(1);
        let key = ResourceKey::new("", "configmaps");
        let start_rv = s.resource_version();
        s.create(&key, "ns", json!({"metadata": {"name": "a"}}))
            .unwrap();
        s.create(&key, "ns", json!({"metadata": {"name": "b"}}))
            .unwrap();
        let w = s.watch_from(Some(start_rv)).unwrap();
        assert_eq!(w.backlog.len(), 2);
        assert_eq!(w.backlog[0].event_type, EventType::Added);
        let mut live = w.live;
        s.delete(&key, "ns", "a", None, None, None).unwrap();
        let ev = live.try_recv().unwrap();
        assert_eq!(ev.event_type, EventType::Deleted);
        assert_eq!(ev.object["metadata"]["name"], "a");
        // History is bounded: a version older than what is kept is gone.
        for i in 0..(HISTORY_LIMIT + 5) {
            s.modify(&key, "ns", "b", |o| {
                o["data"] = json!({"i": i.to_string()});
                Ok(())
            })
            .unwrap();
        }
        assert!(matches!(
            s.watch_from(Some(start_rv)),
            Err(StoreError::Gone { .. })
        ));
    }
}

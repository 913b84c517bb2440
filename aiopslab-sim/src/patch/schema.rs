//! The patch metadata of the built-in kinds: which lists merge, and by which key.
//!
//! Kubernetes declares this on its Go types with `patchStrategy` / `patchMergeKey` struct tags
//! (for example `Containers []Container `patchStrategy:"merge" patchMergeKey:"name"`` in
//! `k8s.io/api/core/v1/types.go`). The table here carries those tags over for the fields that
//! have them, checked against the Kubernetes 1.33 API (the `x-kubernetes-patch-merge-key`
//! extensions that the `k8s-openapi` crate is generated from). Every field not listed is plain:
//! objects merge key by key and lists are replaced as a whole (Go's default with no tag). That
//! covers, among others, tolerations, node taints, endpoint subsets, RBAC rules and subjects,
//! ingress rules and a service account's `imagePullSecrets`, which are all atomic in Kubernetes.
//!
//! Server-side apply uses the same table to decide which list items are owned one by one
//! (`k:{"name":"nginx"}`), which primitive lists are sets (`v:"x"`), and which lists are
//! owned whole. Kubernetes' apply schema sometimes has more than one key for a list (container
//! ports are keyed by `containerPort` and `protocol`); this table keeps the single strategic
//! merge key, which is a documented simplification.

/// A node in the schema: what kind of object a JSON value is, as far as patching cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    /// An object or value with no list needing special treatment anywhere below it.
    Any,
    /// A top-level object: `metadata` plus the given `spec` and `status` types.
    Root {
        spec: Ty2,
        status: Ty2,
        extra: Extra,
    },
    /// `metadata` (ObjectMeta).
    ObjectMeta,
    /// A pod template (`metadata` + `spec: PodSpec`).
    PodTemplateSpec,
    /// A pod spec.
    PodSpec,
    /// A container (also used for init and ephemeral containers).
    Container,
    /// A pod status.
    PodStatus,
    /// A status whose only keyed list is `conditions` (merged by `type`).
    ConditionsStatus,
    /// A node status: `conditions` and `addresses`, both merged by `type`.
    NodeStatus,
    /// A node spec: `podCIDRs` is a set.
    NodeSpec,
    /// A service spec: `ports` merged by `port`.
    ServiceSpec,
    /// The spec of a workload that holds a pod `template` (Deployment, ReplicaSet, StatefulSet,
    /// DaemonSet, Job, ReplicationController).
    WorkloadSpec,
    /// A CronJob spec: `jobTemplate`.
    CronJobSpec,
    /// A Job template (`metadata` + `spec: WorkloadSpec`).
    JobTemplateSpec,
    /// An admission webhook: `matchConditions` merged by `name`.
    Webhook,
    /// A CSINode spec: `drivers` merged by `name`.
    CsiNodeSpec,
}

/// The type of a root's `spec` or `status` (kept apart from [`Ty`] so `Ty` stays `Copy` and
/// non-recursive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty2 {
    Any,
    PodSpec,
    PodStatus,
    ConditionsStatus,
    NodeSpec,
    NodeStatus,
    ServiceSpec,
    WorkloadSpec,
    CronJobSpec,
    CsiNodeSpec,
}

impl Ty2 {
    fn ty(self) -> Ty {
        match self {
            Ty2::Any => Ty::Any,
            Ty2::PodSpec => Ty::PodSpec,
            Ty2::PodStatus => Ty::PodStatus,
            Ty2::ConditionsStatus => Ty::ConditionsStatus,
            Ty2::NodeSpec => Ty::NodeSpec,
            Ty2::NodeStatus => Ty::NodeStatus,
            Ty2::ServiceSpec => Ty::ServiceSpec,
            Ty2::WorkloadSpec => Ty::WorkloadSpec,
            Ty2::CronJobSpec => Ty::CronJobSpec,
            Ty2::CsiNodeSpec => Ty::CsiNodeSpec,
        }
    }
}

/// Top-level fields other than `spec` and `status` that carry patch metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extra {
    None,
    /// ServiceAccount: `secrets` merged by `name`.
    ServiceAccount,
    /// Mutating/ValidatingWebhookConfiguration: `webhooks` merged by `name`.
    WebhookConfiguration,
    /// PodTemplate (core/v1): `template` is a pod template.
    PodTemplate,
}

/// How a list field is patched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// Replaced as a whole (no `patchStrategy` tag).
    Atomic,
    /// Merged (`patchStrategy:"merge"`): by the given key for lists of objects, as a set for
    /// lists of primitives (`None`).
    Merge(Option<&'static str>),
}

/// The patch metadata of one field of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldMeta {
    /// The type of the field's value (for a list: of its items).
    pub ty: Ty,
    /// How the field is patched when it is a list.
    pub list: ListKind,
}

impl FieldMeta {
    const PLAIN: FieldMeta = FieldMeta {
        ty: Ty::Any,
        list: ListKind::Atomic,
    };

    const fn of(ty: Ty) -> FieldMeta {
        FieldMeta {
            ty,
            list: ListKind::Atomic,
        }
    }

    const fn keyed(key: &'static str, ty: Ty) -> FieldMeta {
        FieldMeta {
            ty,
            list: ListKind::Merge(Some(key)),
        }
    }

    const fn set() -> FieldMeta {
        FieldMeta {
            ty: Ty::Any,
            list: ListKind::Merge(None),
        }
    }
}

/// The patch metadata of field `name` of an object of type `ty`.
pub(crate) fn field(ty: Ty, name: &str) -> FieldMeta {
    match ty {
        Ty::Any => FieldMeta::PLAIN,
        Ty::Root {
            spec,
            status,
            extra,
        } => match (name, extra) {
            ("metadata", _) => FieldMeta::of(Ty::ObjectMeta),
            ("spec", _) => FieldMeta::of(spec.ty()),
            ("status", _) => FieldMeta::of(status.ty()),
            ("secrets", Extra::ServiceAccount) => FieldMeta::keyed("name", Ty::Any),
            ("webhooks", Extra::WebhookConfiguration) => FieldMeta::keyed("name", Ty::Webhook),
            ("template", Extra::PodTemplate) => FieldMeta::of(Ty::PodTemplateSpec),
            _ => FieldMeta::PLAIN,
        },
        Ty::ObjectMeta => match name {
            "finalizers" => FieldMeta::set(),
            "ownerReferences" => FieldMeta::keyed("uid", Ty::Any),
            _ => FieldMeta::PLAIN,
        },
        Ty::PodTemplateSpec => match name {
            "metadata" => FieldMeta::of(Ty::ObjectMeta),
            "spec" => FieldMeta::of(Ty::PodSpec),
            _ => FieldMeta::PLAIN,
        },
        Ty::PodSpec => match name {
            // `volumes` and `resourceClaims` are "merge,retainKeys": the retainKeys part only
            // shapes the patches clients compute; applying honours `$retainKeys` anywhere.
            "volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates" => {
                FieldMeta::keyed("name", Ty::Any)
            }
            "containers" | "initContainers" | "ephemeralContainers" => {
                FieldMeta::keyed("name", Ty::Container)
            }
            "hostAliases" => FieldMeta::keyed("ip", Ty::Any),
            "topologySpreadConstraints" => FieldMeta::keyed("topologyKey", Ty::Any),
            _ => FieldMeta::PLAIN,
        },
        Ty::Container => match name {
            "env" => FieldMeta::keyed("name", Ty::Any),
            "ports" => FieldMeta::keyed("containerPort", Ty::Any),
            "volumeMounts" => FieldMeta::keyed("mountPath", Ty::Any),
            "volumeDevices" => FieldMeta::keyed("devicePath", Ty::Any),
            _ => FieldMeta::PLAIN,
        },
        Ty::PodStatus => match name {
            "conditions" => FieldMeta::keyed("type", Ty::Any),
            "podIPs" | "hostIPs" => FieldMeta::keyed("ip", Ty::Any),
            "resourceClaimStatuses" => FieldMeta::keyed("name", Ty::Any),
            _ => FieldMeta::PLAIN,
        },
        Ty::ConditionsStatus => match name {
            "conditions" => FieldMeta::keyed("type", Ty::Any),
            _ => FieldMeta::PLAIN,
        },
        Ty::NodeStatus => match name {
            "conditions" | "addresses" => FieldMeta::keyed("type", Ty::Any),
            _ => FieldMeta::PLAIN,
        },
        Ty::NodeSpec => match name {
            "podCIDRs" => FieldMeta::set(),
            _ => FieldMeta::PLAIN,
        },
        Ty::ServiceSpec => match name {
            "ports" => FieldMeta::keyed("port", Ty::Any),
            _ => FieldMeta::PLAIN,
        },
        Ty::WorkloadSpec => match name {
            "template" => FieldMeta::of(Ty::PodTemplateSpec),
            _ => FieldMeta::PLAIN,
        },
        Ty::CronJobSpec => match name {
            "jobTemplate" => FieldMeta::of(Ty::JobTemplateSpec),
            _ => FieldMeta::PLAIN,
        },
        Ty::JobTemplateSpec => match name {
            "metadata" => FieldMeta::of(Ty::ObjectMeta),
            "spec" => FieldMeta::of(Ty::WorkloadSpec),
            _ => FieldMeta::PLAIN,
        },
        Ty::Webhook => match name {
            "matchConditions" => FieldMeta::keyed("name", Ty::Any),
            _ => FieldMeta::PLAIN,
        },
        Ty::CsiNodeSpec => match name {
            "drivers" => FieldMeta::keyed("name", Ty::Any),
            _ => FieldMeta::PLAIN,
        },
    }
}

const fn root(spec: Ty2, status: Ty2) -> Ty {
    Ty::Root {
        spec,
        status,
        extra: Extra::None,
    }
}

const fn root_extra(extra: Extra) -> Ty {
    Ty::Root {
        spec: Ty2::Any,
        status: Ty2::Any,
        extra,
    }
}

/// A built-in kind: its group, kind, patch schema and whether it has a `status` subresource.
struct Builtin {
    group: &'static str,
    kind: &'static str,
    ty: Ty,
    status_subresource: bool,
}

const fn b(group: &'static str, kind: &'static str, ty: Ty, status: bool) -> Builtin {
    Builtin {
        group,
        kind,
        ty,
        status_subresource: status,
    }
}

const PLAIN: Ty = root(Ty2::Any, Ty2::Any);
const CONDITIONS: Ty = root(Ty2::Any, Ty2::ConditionsStatus);
const WORKLOAD: Ty = root(Ty2::WorkloadSpec, Ty2::ConditionsStatus);

/// Every kind a Kubernetes 1.33 API server serves with a Go type (and therefore accepts strategic
/// merge patches for). Kinds defined by CustomResourceDefinitions are not here, exactly as they
/// are not in the real server's scheme.
const BUILTINS: &[Builtin] = &[
    // core/v1
    b("", "Binding", PLAIN, false),
    b("", "ComponentStatus", PLAIN, false),
    b("", "ConfigMap", PLAIN, false),
    b("", "Endpoints", PLAIN, false),
    b("", "Event", PLAIN, false),
    b("", "LimitRange", PLAIN, false),
    b("", "Namespace", CONDITIONS, true),
    b("", "Node", root(Ty2::NodeSpec, Ty2::NodeStatus), true),
    b("", "PersistentVolume", PLAIN, true),
    b("", "PersistentVolumeClaim", CONDITIONS, true),
    b("", "Pod", root(Ty2::PodSpec, Ty2::PodStatus), true),
    b("", "PodTemplate", root_extra(Extra::PodTemplate), false),
    b("", "ReplicationController", WORKLOAD, true),
    b("", "ResourceQuota", PLAIN, true),
    b("", "Secret", PLAIN, false),
    b(
        "",
        "Service",
        root(Ty2::ServiceSpec, Ty2::ConditionsStatus),
        true,
    ),
    b(
        "",
        "ServiceAccount",
        root_extra(Extra::ServiceAccount),
        false,
    ),
    // apps/v1
    b("apps", "ControllerRevision", PLAIN, false),
    b("apps", "DaemonSet", WORKLOAD, true),
    b("apps", "Deployment", WORKLOAD, true),
    b("apps", "ReplicaSet", WORKLOAD, true),
    b("apps", "StatefulSet", WORKLOAD, true),
    // batch/v1
    b("batch", "Job", WORKLOAD, true),
    b("batch", "CronJob", root(Ty2::CronJobSpec, Ty2::Any), true),
    // autoscaling (v2 has status conditions; v1 has none, so the entry is harmless there);
    // Scale is what the `/scale` subresource of workloads serves.
    b("autoscaling", "Scale", PLAIN, false),
    b("autoscaling", "HorizontalPodAutoscaler", CONDITIONS, true),
    // policy/v1
    b("policy", "PodDisruptionBudget", CONDITIONS, true),
    b("policy", "Eviction", PLAIN, false),
    // networking.k8s.io/v1
    b("networking.k8s.io", "Ingress", PLAIN, true),
    b("networking.k8s.io", "IngressClass", PLAIN, false),
    b("networking.k8s.io", "NetworkPolicy", PLAIN, false),
    b("networking.k8s.io", "IPAddress", PLAIN, false),
    b("networking.k8s.io", "ServiceCIDR", CONDITIONS, true),
    // rbac.authorization.k8s.io/v1: rules, subjects and roleRef have no merge key
    b("rbac.authorization.k8s.io", "Role", PLAIN, false),
    b("rbac.authorization.k8s.io", "ClusterRole", PLAIN, false),
    b("rbac.authorization.k8s.io", "RoleBinding", PLAIN, false),
    b(
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        PLAIN,
        false,
    ),
    // storage.k8s.io/v1
    b("storage.k8s.io", "StorageClass", PLAIN, false),
    b("storage.k8s.io", "CSIDriver", PLAIN, false),
    b(
        "storage.k8s.io",
        "CSINode",
        root(Ty2::CsiNodeSpec, Ty2::Any),
        false,
    ),
    b("storage.k8s.io", "CSIStorageCapacity", PLAIN, false),
    b("storage.k8s.io", "VolumeAttachment", PLAIN, true),
    // the rest of the built-in groups
    b("coordination.k8s.io", "Lease", PLAIN, false),
    b("discovery.k8s.io", "EndpointSlice", PLAIN, false),
    b("events.k8s.io", "Event", PLAIN, false),
    b("node.k8s.io", "RuntimeClass", PLAIN, false),
    b("scheduling.k8s.io", "PriorityClass", PLAIN, false),
    b(
        "certificates.k8s.io",
        "CertificateSigningRequest",
        CONDITIONS,
        true,
    ),
    b(
        "flowcontrol.apiserver.k8s.io",
        "FlowSchema",
        CONDITIONS,
        true,
    ),
    b(
        "flowcontrol.apiserver.k8s.io",
        "PriorityLevelConfiguration",
        CONDITIONS,
        true,
    ),
    b(
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        root_extra(Extra::WebhookConfiguration),
        false,
    ),
    b(
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        root_extra(Extra::WebhookConfiguration),
        false,
    ),
    b(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicy",
        CONDITIONS,
        true,
    ),
    b(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        PLAIN,
        false,
    ),
    b(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        CONDITIONS,
        true,
    ),
    b("apiregistration.k8s.io", "APIService", CONDITIONS, true),
];

fn builtin(group: &str, kind: &str) -> Option<&'static Builtin> {
    BUILTINS
        .iter()
        .find(|entry| entry.group == group && entry.kind == kind)
}

/// The schema of a built-in kind, or `None` for kinds the server has no Go type for (custom
/// resources), which cannot take a strategic merge patch.
pub(crate) fn root_type(group: &str, kind: &str) -> Option<Ty> {
    builtin(group, kind).map(|entry| entry.ty)
}

/// The schema used by server-side apply: the built-in schema, or a plain one for custom
/// resources (every list owned whole, every object field by field, as the real server does for
/// a CRD without list-type markers).
pub(crate) fn apply_type(group: &str, kind: &str) -> Ty {
    root_type(group, kind).unwrap_or(PLAIN)
}

/// Whether the kind has a `status` subresource, so that writes to the main resource ignore
/// `status` (and writes to `/status` ignore everything else). `false` for custom resources,
/// whose subresources only their CustomResourceDefinition knows.
pub(crate) fn has_status_subresource(group: &str, kind: &str) -> bool {
    builtin(group, kind).is_some_and(|entry| entry.status_subresource)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list_of(path: &[&str], root: Ty) -> ListKind {
        let mut ty = root;
        let mut meta = FieldMeta::of(root);
        for name in path {
            meta = field(ty, name);
            ty = meta.ty;
        }
        meta.list
    }

    #[test]
    fn merge_keys_follow_the_kubernetes_tags() {
        let deploy = root_type("apps", "Deployment").expect("deployment is built in");
        let pod = root_type("", "Pod").expect("pod is built in");
        let svc = root_type("", "Service").expect("service is built in");
        let node = root_type("", "Node").expect("node is built in");
        let cron = root_type("batch", "CronJob").expect("cronjob is built in");
        let sa = root_type("", "ServiceAccount").expect("service account is built in");
        let cases: &[(Ty, &[&str], ListKind)] = &[
            (
                deploy,
                &["spec", "template", "spec", "containers"],
                ListKind::Merge(Some("name")),
            ),
            (
                deploy,
                &["spec", "template", "spec", "containers", "env"],
                ListKind::Merge(Some("name")),
            ),
            (
                deploy,
                &["spec", "template", "spec", "containers", "volumeMounts"],
                ListKind::Merge(Some("mountPath")),
            ),
            (
                deploy,
                &["spec", "template", "spec", "initContainers", "ports"],
                ListKind::Merge(Some("containerPort")),
            ),
            (
                deploy,
                &["spec", "template", "spec", "tolerations"],
                ListKind::Atomic,
            ),
            (
                deploy,
                &["spec", "template", "spec", "hostAliases"],
                ListKind::Merge(Some("ip")),
            ),
            (
                deploy,
                &["status", "conditions"],
                ListKind::Merge(Some("type")),
            ),
            (deploy, &["metadata", "finalizers"], ListKind::Merge(None)),
            (
                deploy,
                &["metadata", "ownerReferences"],
                ListKind::Merge(Some("uid")),
            ),
            (
                deploy,
                &["spec", "template", "metadata", "finalizers"],
                ListKind::Merge(None),
            ),
            (pod, &["spec", "volumes"], ListKind::Merge(Some("name"))),
            (pod, &["spec", "containers", "args"], ListKind::Atomic),
            (pod, &["status", "podIPs"], ListKind::Merge(Some("ip"))),
            (svc, &["spec", "ports"], ListKind::Merge(Some("port"))),
            (svc, &["spec", "externalIPs"], ListKind::Atomic),
            (node, &["spec", "taints"], ListKind::Atomic),
            (node, &["spec", "podCIDRs"], ListKind::Merge(None)),
            (
                node,
                &["status", "addresses"],
                ListKind::Merge(Some("type")),
            ),
            (
                cron,
                &[
                    "spec",
                    "jobTemplate",
                    "spec",
                    "template",
                    "spec",
                    "containers",
                ],
                ListKind::Merge(Some("name")),
            ),
            (sa, &["secrets"], ListKind::Merge(Some("name"))),
            (sa, &["imagePullSecrets"], ListKind::Atomic),
        ];
        for (ty, path, want) in cases {
            assert_eq!(list_of(path, *ty), *want, "path {path:?}");
        }
    }

    #[test]
    fn rbac_lists_are_atomic_and_crds_are_unknown() {
        let role = root_type("rbac.authorization.k8s.io", "Role").expect("role is built in");
        assert_eq!(list_of(&["rules"], role), ListKind::Atomic);
        let binding =
            root_type("rbac.authorization.k8s.io", "RoleBinding").expect("rolebinding is built in");
        assert_eq!(list_of(&["subjects"], binding), ListKind::Atomic);
        assert!(root_type("chaos-mesh.org", "PodChaos").is_none());
        assert!(root_type("", "PodChaos").is_none());
        assert_eq!(apply_type("chaos-mesh.org", "PodChaos"), PLAIN);
    }

    #[test]
    fn status_subresources() {
        assert!(has_status_subresource("apps", "Deployment"));
        assert!(has_status_subresource("", "Pod"));
        assert!(!has_status_subresource("", "ConfigMap"));
        assert!(!has_status_subresource("chaos-mesh.org", "PodChaos"));
    }
}

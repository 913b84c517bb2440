//! A kind-like cluster: nodes, system namespaces, kube-system workloads, the `kubernetes`
//! Service and the default StorageClass.

use super::util::{keys, uid};
use crate::admission::{self, Operation};
use crate::resources::ResourceKey;
use crate::store::{Store, StoreError};
use serde_json::{Value, json};

/// The shape of the virtual cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// Cluster name: nodes are `<name>-control-plane`, `<name>-worker`, `<name>-worker2`, ...
    pub name: String,
    /// Number of worker nodes.
    pub workers: usize,
    /// CPU capacity of each node (a quantity: `"8"`).
    pub cpu: String,
    /// Memory capacity of each node (a quantity: `"32859284Ki"`).
    pub memory: String,
    /// Pod capacity of each node.
    pub pods: i64,
    /// The Kubernetes version the nodes report.
    pub kubernetes_version: String,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            name: "kind".into(),
            workers: 2,
            cpu: "8".into(),
            memory: "32859284Ki".into(),
            pods: 110,
            kubernetes_version: "v1.33.1".into(),
        }
    }
}

impl Topology {
    /// Node names in order: the control plane, then the workers.
    ///
    /// ```
    /// use aiopslab_sim::controllers::Topology;
    /// assert_eq!(Topology::default().node_names(),
    ///            vec!["kind-control-plane", "kind-worker", "kind-worker2"]);
    /// ```
    pub fn node_names(&self) -> Vec<String> {
        let mut names = vec![format!("{}-control-plane", self.name)];
        for i in 1..=self.workers {
            if i == 1 {
                names.push(format!("{}-worker", self.name));
            } else {
                names.push(format!("{}-worker{i}", self.name));
            }
        }
        names
    }
}

/// The images a kind node image ships with.
const NODE_IMAGES: &[(&str, u64)] = &[
    ("docker.io/kindest/kindnetd:v20250512-df8de77b", 44_375_501),
    (
        "docker.io/kindest/local-path-helper:v20241212-8ac705d0",
        3_084_671,
    ),
    (
        "docker.io/kindest/local-path-provisioner:v20250214-acbabc1a",
        22_541_737,
    ),
    ("registry.k8s.io/coredns/coredns:v1.12.0", 20_939_036),
    ("registry.k8s.io/etcd:3.5.21-0", 58_938_593),
    ("registry.k8s.io/kube-apiserver:v1.33.1", 102_970_181),
    (
        "registry.k8s.io/kube-controller-manager:v1.33.1",
        92_054_271,
    ),
    ("registry.k8s.io/kube-proxy:v1.33.1", 98_306_578),
    ("registry.k8s.io/kube-scheduler:v1.33.1", 70_638_349),
    ("registry.k8s.io/pause:3.10", 320_368),
];

const COREFILE: &str = ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }\n    prometheus :9153\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n    cache 30 {\n       disable success cluster.local\n       disable denial cluster.local\n    }\n    loop\n    reload\n    loadbalance\n}\n";

/// Creates an object through admission; an existing one is left alone.
fn create(store: &Store, key: &ResourceKey, ns: &str, mut obj: Value) -> Option<Value> {
    let rtype = store.catalogue().by_key(key).cloned()?;
    if rtype.namespaced {
        obj["metadata"]["namespace"] = json!(ns);
    }
    if let Err(e) = admission::admit(store, &rtype, Operation::Create, &mut obj, None) {
        tracing::warn!("bootstrap: {key} {}: {e}", obj["metadata"]["name"]);
        return None;
    }
    match store.create(key, ns, obj) {
        Ok(v) => Some(v),
        Err(StoreError::AlreadyExists { .. }) => None,
        Err(e) => {
            tracing::warn!("bootstrap: {key}: {e}");
            None
        }
    }
}

fn node_object(t: &Topology, name: &str, index: usize, store: &Store) -> Value {
    let control_plane = index == 0;
    let ip = format!("172.18.0.{}", index + 2);
    let cidr = format!("10.244.{index}.0/24");
    let mut labels = json!({
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    });
    if control_plane {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = json!("");
    }
    let resources = json!({
        "cpu": t.cpu,
        "ephemeral-storage": "102626232Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": t.memory,
        "pods": t.pods.to_string(),
    });
    let now = store.now_rfc3339();
    let condition = |ty: &str, status: &str, reason: &str, message: &str| {
        json!({
            "lastHeartbeatTime": now, "lastTransitionTime": now,
            "message": message, "reason": reason, "status": status, "type": ty,
        })
    };
    let mut spec = json!({
        "podCIDR": cidr,
        "podCIDRs": [cidr],
        "providerID": format!("kind://docker/{}/{name}", t.name),
    });
    if control_plane {
        spec["taints"] =
            json!([{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]);
    }
    let images: Vec<Value> = NODE_IMAGES
        .iter()
        .map(|(n, size)| json!({"names": [n], "sizeBytes": size}))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": spec,
        "status": {
            "addresses": [
                {"address": ip, "type": "InternalIP"},
                {"address": name, "type": "Hostname"},
            ],
            "allocatable": resources,
            "capacity": resources,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "features": {"supplementalGroupsPolicy": true},
            "images": images,
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": store.new_uid(),
                "containerRuntimeVersion": "containerd://2.1.1",
                "kernelVersion": "6.8.0-1027-azure",
                "kubeProxyVersion": t.kubernetes_version,
                "kubeletVersion": t.kubernetes_version,
                "machineID": store.new_uid().replace('-', ""),
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "systemUUID": store.new_uid(),
            },
            "runtimeHandlers": [
                {"features": {"recursiveReadOnlyMounts": true, "userNamespaces": true}, "name": "runc"},
                {"features": {"recursiveReadOnlyMounts": true, "userNamespaces": true}, "name": ""},
            ],
        },
    })
}

fn static_pod(
    component: &str,
    image: &str,
    command: Vec<String>,
    cpu: &str,
    node: &Value,
    store: &Store,
) -> Value {
    let node_name = node["metadata"]["name"].as_str().unwrap_or_default();
    let hash = super::util::hex_digest(&format!("{component}{node_name}"))[..32].to_string();
    let now = store.now_rfc3339();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{component}-{node_name}"),
            "labels": {"component": component, "tier": "control-plane"},
            "annotations": {
                "kubernetes.io/config.hash": hash,
                "kubernetes.io/config.mirror": hash,
                "kubernetes.io/config.seen": now,
                "kubernetes.io/config.source": "file",
            },
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "Node", "name": node_name,
                "uid": uid(node), "controller": true,
            }],
        },
        "spec": {
            "containers": [{
                "name": component,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": command,
                "resources": {"requests": {"cpu": cpu}},
                "livenessProbe": {
                    "failureThreshold": 8,
                    "httpGet": {"host": "127.0.0.1", "path": "/livez", "port": 10259, "scheme": "HTTPS"},
                    "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 15,
                },
            }],
            "hostNetwork": true,
            "nodeName": node_name,
            "priority": 2_000_001_000,
            "priorityClassName": "system-node-critical",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "tolerations": [{"effect": "NoExecute", "operator": "Exists"}],
            "automountServiceAccountToken": false,
        },
    })
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Fills `store` with a kind-like cluster.
///
/// Creates the nodes (`kind-control-plane` with its NoSchedule taint, then the workers), the
/// namespaces `default`, `kube-node-lease`, `kube-public`, `kube-system` and
/// `local-path-storage`, the `kubernetes` Service (10.96.0.1) and its endpoints, `kube-dns`
/// (10.96.0.10) with the CoreDNS Deployment, the kube-proxy and kindnet DaemonSets, the
/// control-plane static pods, the local-path provisioner and the default StorageClass
/// `standard`. Objects that already exist are left alone. The controllers (see
/// [`start`](super::start)) bring the workloads up; they also add every namespace's `default`
/// ServiceAccount and `kube-root-ca.crt` ConfigMap.
pub fn bootstrap(store: &Store, topology: &Topology) {
    let names = topology.node_names();
    let mut nodes = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let obj = node_object(topology, n, i, store);
        match create(store, &keys::nodes(), "", obj) {
            Some(node) => nodes.push(node),
            None => {
                if let Ok(existing) = store.get(&keys::nodes(), "", n) {
                    nodes.push(existing);
                }
            }
        }
    }
    for ns in [
        "default",
        "kube-node-lease",
        "kube-public",
        "kube-system",
        "local-path-storage",
    ] {
        create(
            store,
            &keys::namespaces(),
            "",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        );
    }
    let now = store.now_rfc3339();
    for n in &names {
        create(
            store,
            &keys::leases(),
            "kube-node-lease",
            json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": n},
                "spec": {"holderIdentity": n, "leaseDurationSeconds": 40, "renewTime": now.replace('Z', ".000000Z")},
            }),
        );
    }
    let cp_ip = "172.18.0.2";
    create(
        store,
        &keys::services(),
        "default",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]},
        }),
    );
    create(
        store,
        &keys::endpoints(),
        "default",
        json!({
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": cp_ip}], "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}],
        }),
    );
    create(
        store,
        &keys::endpointslices(),
        "default",
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [cp_ip], "conditions": {"ready": true}}],
            "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
        }),
    );
    create(
        store,
        &keys::storageclasses(),
        "",
        json!({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path",
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer",
        }),
    );
    // kube-system.
    for sa in ["coredns", "kube-proxy", "kindnet"] {
        create(
            store,
            &keys::serviceaccounts(),
            "kube-system",
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}}),
        );
    }
    create(
        store,
        &keys::configmaps(),
        "kube-system",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns"}, "data": {"Corefile": COREFILE}}),
    );
    create(
        store,
        &keys::configmaps(),
        "kube-system",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy", "labels": {"app": "kube-proxy"}},
               "data": {"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nclusterCIDR: 10.244.0.0/16\nkind: KubeProxyConfiguration\nmode: iptables\n"}}),
    );
    create(
        store,
        &keys::services(),
        "kube-system",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {
                "name": "kube-dns",
                "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"},
                "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
            },
            "spec": {
                "clusterIP": "10.96.0.10",
                "selector": {"k8s-app": "kube-dns"},
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
                ],
            },
        }),
    );
    create(
        store,
        &keys::deployments(),
        "kube-system",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "coredns", "labels": {"k8s-app": "kube-dns"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                "template": {
                    "metadata": {"labels": {"k8s-app": "kube-dns"}},
                    "spec": {
                        "containers": [{
                            "name": "coredns",
                            "image": "registry.k8s.io/coredns/coredns:v1.12.0",
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["-conf", "/etc/coredns/Corefile"],
                            "ports": [
                                {"containerPort": 53, "name": "dns", "protocol": "UDP"},
                                {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                                {"containerPort": 9153, "name": "metrics", "protocol": "TCP"},
                            ],
                            "resources": {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
                            "livenessProbe": {"httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"}, "initialDelaySeconds": 60, "timeoutSeconds": 5, "successThreshold": 1, "failureThreshold": 5},
                            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}},
                            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}, "readOnlyRootFilesystem": true},
                            "volumeMounts": [{"mountPath": "/etc/coredns", "name": "config-volume", "readOnly": true}],
                        }],
                        "dnsPolicy": "Default",
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "priorityClassName": "system-cluster-critical",
                        "serviceAccountName": "coredns",
                        "tolerations": [
                            {"key": "CriticalAddonsOnly", "operator": "Exists"},
                            {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"},
                        ],
                        "volumes": [{"name": "config-volume", "configMap": {"name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]}}],
                    },
                },
            },
        }),
    );
    create(
        store,
        &keys::daemonsets(),
        "kube-system",
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "kube-proxy", "labels": {"k8s-app": "kube-proxy"}},
            "spec": {
                "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                "template": {
                    "metadata": {"labels": {"k8s-app": "kube-proxy"}},
                    "spec": {
                        "containers": [{
                            "name": "kube-proxy",
                            "image": format!("registry.k8s.io/kube-proxy:{}", topology.kubernetes_version),
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"],
                            "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                            "securityContext": {"privileged": true},
                            "volumeMounts": [{"mountPath": "/var/lib/kube-proxy", "name": "kube-proxy"}],
                        }],
                        "hostNetwork": true,
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "priorityClassName": "system-node-critical",
                        "serviceAccountName": "kube-proxy",
                        "tolerations": [{"operator": "Exists"}],
                        "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}}],
                    },
                },
            },
        }),
    );
    create(
        store,
        &keys::daemonsets(),
        "kube-system",
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "kindnet", "labels": {"app": "kindnet", "k8s-app": "kindnet", "tier": "node"}},
            "spec": {
                "selector": {"matchLabels": {"app": "kindnet"}},
                "template": {
                    "metadata": {"labels": {"app": "kindnet", "k8s-app": "kindnet", "tier": "node"}},
                    "spec": {
                        "containers": [{
                            "name": "kindnet-cni",
                            "image": "docker.io/kindest/kindnetd:v20250512-df8de77b",
                            "imagePullPolicy": "IfNotPresent",
                            "env": [
                                {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                                {"name": "POD_SUBNET", "value": "10.244.0.0/16"},
                                {"name": "CONTROL_PLANE_ENDPOINT", "value": format!("{}-control-plane:6443", topology.name)},
                            ],
                            "resources": {"limits": {"cpu": "100m", "memory": "50Mi"}, "requests": {"cpu": "100m", "memory": "50Mi"}},
                            "securityContext": {"capabilities": {"add": ["NET_RAW", "NET_ADMIN"]}, "privileged": false},
                        }],
                        "hostNetwork": true,
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "serviceAccountName": "kindnet",
                        "tolerations": [{"effect": "NoSchedule", "operator": "Exists"}],
                    },
                },
            },
        }),
    );
    if let Some(cp) = nodes.first() {
        let version = &topology.kubernetes_version;
        let statics = [
            (
                "etcd",
                "registry.k8s.io/etcd:3.5.21-0".to_string(),
                strings(&[
                    "etcd",
                    "--advertise-client-urls=https://172.18.0.2:2379",
                    "--data-dir=/var/lib/etcd",
                ]),
                "100m",
            ),
            (
                "kube-apiserver",
                format!("registry.k8s.io/kube-apiserver:{version}"),
                strings(&[
                    "kube-apiserver",
                    "--advertise-address=172.18.0.2",
                    "--secure-port=6443",
                    "--service-cluster-ip-range=10.96.0.0/16",
                ]),
                "250m",
            ),
            (
                "kube-controller-manager",
                format!("registry.k8s.io/kube-controller-manager:{version}"),
                strings(&[
                    "kube-controller-manager",
                    "--cluster-cidr=10.244.0.0/16",
                    "--leader-elect=true",
                ]),
                "200m",
            ),
            (
                "kube-scheduler",
                format!("registry.k8s.io/kube-scheduler:{version}"),
                strings(&["kube-scheduler", "--leader-elect=true"]),
                "100m",
            ),
        ];
        for (component, image, command, cpu) in statics {
            let pod = static_pod(component, &image, command, cpu, cp, store);
            create(store, &keys::pods(), "kube-system", pod);
        }
    }
    // local-path-storage.
    create(
        store,
        &keys::serviceaccounts(),
        "local-path-storage",
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "local-path-provisioner-service-account"}}),
    );
    create(
        store,
        &keys::configmaps(),
        "local-path-storage",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "local-path-config"},
        "data": {
            "config.json": "{\n        \"nodePathMap\":[\n        {\n                \"node\":\"DEFAULT_PATH_FOR_NON_LISTED_NODES\",\n                \"paths\":[\"/var/local-path-provisioner\"]\n        }\n        ]\n}",
            "helperPod.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: helper-pod\nspec:\n  containers:\n  - name: helper-pod\n    image: docker.io/kindest/local-path-helper:v20241212-8ac705d0\n    imagePullPolicy: IfNotPresent\n",
            "setup": "#!/bin/sh\nset -eu\nmkdir -m 0777 -p \"$VOL_DIR\"",
            "teardown": "#!/bin/sh\nset -eu\nrm -rf \"$VOL_DIR\"",
        }}),
    );
    create(
        store,
        &keys::deployments(),
        "local-path-storage",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "local-path-provisioner"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "local-path-provisioner"}},
                "template": {
                    "metadata": {"labels": {"app": "local-path-provisioner"}},
                    "spec": {
                        "containers": [{
                            "name": "local-path-provisioner",
                            "image": "docker.io/kindest/local-path-provisioner:v20250214-acbabc1a",
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["local-path-provisioner", "--debug", "start", "--helper-image", "docker.io/kindest/local-path-helper:v20241212-8ac705d0", "--config", "/etc/config/config.json"],
                            "env": [
                                {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                                {"name": "CONFIG_MOUNT_PATH", "value": "/etc/config/"},
                            ],
                            "volumeMounts": [{"mountPath": "/etc/config/", "name": "config-volume"}],
                        }],
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "serviceAccountName": "local-path-provisioner-service-account",
                        "tolerations": [
                            {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane", "operator": "Equal"},
                            {"effect": "NoSchedule", "key": "node-role.kubernetes.io/master", "operator": "Equal"},
                        ],
                        "volumes": [{"name": "config-volume", "configMap": {"name": "local-path-config"}}],
                    },
                },
            },
        }),
    );
    create(
        store,
        &keys::configmaps(),
        "kube-public",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cluster-info"},
               "data": {"kubeconfig": format!("apiVersion: v1\nclusters:\n- cluster:\n    server: https://{}-control-plane:6443\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {{}}\nusers: null\n", topology.name)}}),
    );
}

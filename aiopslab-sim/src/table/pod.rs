//! The Pod printer: READY, STATUS and RESTARTS as the real server computes them.

use super::descriptions as d;
use super::duration::{since, since_time, time_of};
use super::json::{arr_at, at, int_at, is_deleting, name, opt_bool, str_at};
use super::{Column, Row};
use jiff::Timestamp;
use serde_json::{Value, json};

/// The Pod columns: NAME READY STATUS RESTARTS AGE, wide IP NODE NOMINATED NODE READINESS GATES.
pub(super) fn columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Ready",
            "string",
            "The aggregate readiness state of this pod for accepting traffic.",
        ),
        Column::new(
            "Status",
            "string",
            "The aggregate status of the containers in this pod.",
        ),
        Column::new(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
        Column::age(),
        Column::new("IP", "string", d::POD_IP).wide(),
        Column::new("Node", "string", d::POD_NODE_NAME).wide(),
        Column::new("Nominated Node", "string", d::POD_NOMINATED_NODE).wide(),
        Column::new("Readiness Gates", "string", d::POD_READINESS_GATES).wide(),
    ]
}

/// Whether the condition of `ty` is present with status `True`.
fn condition_true(conditions: &[Value], ty: &str) -> bool {
    conditions
        .iter()
        .any(|c| str_at(c, &["type"]) == ty && str_at(c, &["status"]) == "True")
}

/// The later of two optional instants.
fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// When the container's previous run ended (`lastState.terminated.finishedAt`).
fn last_finished(status: &Value) -> Option<Timestamp> {
    time_of(at(status, &["lastState", "terminated", "finishedAt"]))
}

/// `Signal:N` / `ExitCode:N` for a terminated state without a reason.
fn exit_text(terminated: &Value) -> String {
    let signal = int_at(terminated, &["signal"]);
    if signal != 0 {
        format!("Signal:{signal}")
    } else {
        format!("ExitCode:{}", int_at(terminated, &["exitCode"]))
    }
}

/// The present, non-null state object of `key` (`waiting`, `running`, `terminated`).
fn state<'a>(status: &'a Value, key: &str) -> Option<&'a Value> {
    at(status, &["state", key]).filter(|v| v.is_object())
}

/// One Pod row, as `printPod` builds it.
pub(super) fn row(pod: &Value, now: Timestamp) -> Row {
    let conditions = arr_at(pod, &["status", "conditions"]);
    let init_specs = arr_at(pod, &["spec", "initContainers"]);
    let phase = str_at(pod, &["status", "phase"]);
    let status_reason = str_at(pod, &["status", "reason"]);

    let mut reason = if status_reason.is_empty() {
        phase.to_string()
    } else {
        status_reason.to_string()
    };
    if conditions.iter().any(|c| {
        str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated"
    }) {
        reason = "SchedulingGated".to_string();
    }

    let mut out = Row::default();
    match phase {
        "Succeeded" => out.conditions.push(json!({
            "type": "Completed", "status": "True", "reason": "Succeeded",
            "message": "The pod has completed successfully."
        })),
        "Failed" => out.conditions.push(json!({
            "type": "Completed", "status": "True", "reason": "Failed",
            "message": "The pod failed."
        })),
        _ => {}
    }

    // Sidecars (init containers with restartPolicy Always) count as containers.
    let is_sidecar = |container_name: &str| {
        init_specs.iter().any(|c| {
            str_at(c, &["name"]) == container_name && str_at(c, &["restartPolicy"]) == "Always"
        })
    };
    let total = arr_at(pod, &["spec", "containers"]).len()
        + init_specs
            .iter()
            .filter(|c| str_at(c, &["restartPolicy"]) == "Always")
            .count();
    let mut ready = 0usize;
    let mut restarts: i64 = 0;
    let mut sidecar_restarts: i64 = 0;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_sidecar_restart: Option<Timestamp> = None;

    let mut initializing = false;
    for (i, cs) in arr_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let count = int_at(cs, &["restartCount"]);
        restarts += count;
        last_restart = later(last_restart, last_finished(cs));
        let sidecar = is_sidecar(str_at(cs, &["name"]));
        if sidecar {
            sidecar_restarts += count;
            last_sidecar_restart = later(last_sidecar_restart, last_finished(cs));
        }
        let terminated = state(cs, "terminated");
        let waiting = state(cs, "waiting");
        if terminated.is_some_and(|t| int_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if sidecar && opt_bool(cs, &["started"]) == Some(true) {
            if opt_bool(cs, &["ready"]) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let r = str_at(t, &["reason"]);
            reason = if r.is_empty() {
                format!("Init:{}", exit_text(t))
            } else {
                format!("Init:{r}")
            };
        } else if let Some(w) = waiting.filter(|w| {
            let r = str_at(w, &["reason"]);
            !r.is_empty() && r != "PodInitializing"
        }) {
            reason = format!("Init:{}", str_at(w, &["reason"]));
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || condition_true(conditions, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        // Backwards, so that the first container with a reason has the last word.
        for cs in arr_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int_at(cs, &["restartCount"]);
            last_restart = later(last_restart, last_finished(cs));
            let waiting_reason = state(cs, "waiting").map(|w| str_at(w, &["reason"]));
            let terminated = state(cs, "terminated");
            if let Some(r) = waiting_reason.filter(|r| !r.is_empty()) {
                reason = r.to_string();
            } else if let Some(t) = terminated {
                let r = str_at(t, &["reason"]);
                reason = if r.is_empty() {
                    exit_text(t)
                } else {
                    r.to_string()
                };
            } else if opt_bool(cs, &["ready"]) == Some(true) && state(cs, "running").is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(conditions, "Ready") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    if is_deleting(pod) && status_reason == "NodeLost" {
        reason = "Unknown".to_string();
    } else if is_deleting(pod) && phase != "Failed" && phase != "Succeeded" {
        reason = "Terminating".to_string();
    }

    let restarts_text = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since_time(now, Some(t))),
        _ => restarts.to_string(),
    };

    let pod_ip = arr_at(pod, &["status", "podIPs"])
        .first()
        .map(|p| str_at(p, &["ip"]))
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| str_at(pod, &["status", "podIP"]));
    let or_none = |s: &str| {
        if s.is_empty() {
            "<none>".to_string()
        } else {
            s.to_string()
        }
    };
    let gates = arr_at(pod, &["spec", "readinessGates"]);
    let gates_text = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates
            .iter()
            .filter(|g| {
                let ty = str_at(g, &["conditionType"]);
                conditions
                    .iter()
                    .find(|c| str_at(c, &["type"]) == ty)
                    .is_some_and(|c| str_at(c, &["status"]) == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };

    out.cells = vec![
        json!(name(pod)),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_text),
        json!(since(now, at(pod, &["metadata", "creationTimestamp"]))),
        json!(or_none(pod_ip)),
        json!(or_none(str_at(pod, &["spec", "nodeName"]))),
        json!(or_none(str_at(pod, &["status", "nominatedNodeName"]))),
        json!(gates_text),
    ];
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::{Value, json};

    /// A one-container pod created `300s` before now, with `status` merged in.
    fn pod(status: Value) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "shop", "creationTimestamp": ago(300)},
            "spec": {"containers": [{"name": "app", "image": "nginx"}], "nodeName": "kind-worker"},
            "status": status
        })
    }

    fn status_cells(p: Value) -> (String, String, String) {
        let c = cells("", "Pod", p);
        (
            c[1].as_str().unwrap().to_string(),
            c[2].as_str().unwrap().to_string(),
            c[3].as_str().unwrap().to_string(),
        )
    }

    fn check(p: Value, ready: &str, status: &str, restarts: &str) {
        assert_eq!(
            status_cells(p),
            (ready.to_string(), status.to_string(), restarts.to_string())
        );
    }

    #[test]
    fn columns_match_the_server() {
        assert_eq!(
            column_names("", "Pod"),
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP*",
                "Node*",
                "Nominated Node*",
                "Readiness Gates*"
            ]
        );
    }

    #[test]
    fn running_pod_full_row() {
        let p = pod(json!({
            "phase": "Running",
            "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                                   "state": {"running": {"startedAt": ago(290)}}}]
        }));
        assert_cells(
            "",
            "Pod",
            p,
            json!([
                "web",
                "1/1",
                "Running",
                "0",
                "5m",
                "10.244.1.5",
                "kind-worker",
                "<none>",
                "<none>"
            ]),
        );
    }

    #[test]
    fn crash_loop_with_restarts_and_last_termination() {
        let p = pod(json!({
            "phase": "Running",
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                             "finishedAt": ago(90)}}}]
        }));
        check(p, "0/1", "CrashLoopBackOff", "4 (90s ago)");
    }

    #[test]
    fn container_states_table() {
        let cases = [
            (json!({"phase": "Pending"}), ("0/1", "Pending", "0")),
            (
                json!({"phase": "Pending", "containerStatuses": [{"name": "app", "ready": false,
                    "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
                ("0/1", "ContainerCreating", "0"),
            ),
            (
                json!({"phase": "Pending", "containerStatuses": [{"name": "app", "ready": false,
                    "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}),
                ("0/1", "ImagePullBackOff", "0"),
            ),
            (
                json!({"phase": "Pending", "containerStatuses": [{"name": "app", "ready": false,
                    "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull"}}}]}),
                ("0/1", "ErrImagePull", "0"),
            ),
            (
                json!({"phase": "Succeeded", "containerStatuses": [{"name": "app", "ready": false,
                    "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                ("0/1", "Completed", "0"),
            ),
            (
                json!({"phase": "Failed", "containerStatuses": [{"name": "app", "ready": false,
                    "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
                ("0/1", "Error", "0"),
            ),
            (
                json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": false,
                    "restartCount": 2, "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
                    "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": ago(600)}}}]}),
                ("0/1", "OOMKilled", "2 (10m ago)"),
            ),
            (
                json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": false,
                    "restartCount": 0, "state": {"terminated": {"exitCode": 2}}}]}),
                ("0/1", "ExitCode:2", "0"),
            ),
            (
                json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": false,
                    "restartCount": 0, "state": {"terminated": {"exitCode": 0, "signal": 9}}}]}),
                ("0/1", "Signal:9", "0"),
            ),
            (
                // Running but not ready (failing readiness probe).
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                    "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                    "state": {"running": {"startedAt": ago(100)}}}]}),
                ("0/1", "Running", "0"),
            ),
            (
                // Restarts without a recorded finish time show no "ago".
                json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": true,
                    "restartCount": 3, "state": {"running": {}}}]}),
                ("1/1", "Running", "3"),
            ),
            (
                json!({"phase": "Failed", "reason": "Evicted", "message": "low on memory"}),
                ("0/1", "Evicted", "0"),
            ),
        ];
        for (status, (ready, st, restarts)) in cases {
            check(pod(status.clone()), ready, st, restarts);
        }
    }

    #[test]
    fn completed_container_next_to_running_one() {
        let mut p = pod(json!({
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}},
                {"name": "job", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ]
        }));
        p["spec"]["containers"] = json!([{"name": "app"}, {"name": "job"}]);
        check(p.clone(), "1/2", "NotReady", "0");
        p["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}]);
        check(p, "1/2", "Running", "0");
    }

    #[test]
    fn first_container_reason_wins() {
        let mut p = pod(json!({
            "phase": "Pending",
            "containerStatuses": [
                {"name": "a", "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"finishedAt": ago(30)}}},
                {"name": "b", "restartCount": 2, "state": {"waiting": {"reason": "ImagePullBackOff"}},
                 "lastState": {"terminated": {"finishedAt": ago(200)}}}
            ]
        }));
        p["spec"]["containers"] = json!([{"name": "a"}, {"name": "b"}]);
        check(p, "0/2", "CrashLoopBackOff", "3 (30s ago)");
    }

    fn init_pod(init_statuses: Value, conditions: Value) -> Value {
        let mut p = pod(json!({
            "phase": "Pending",
            "conditions": conditions,
            "initContainerStatuses": init_statuses,
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                                   "state": {"waiting": {"reason": "PodInitializing"}}}]
        }));
        p["spec"]["initContainers"] = json!([{"name": "init-db"}, {"name": "init-cache"}]);
        p
    }

    #[test]
    fn init_containers_table() {
        let cases = [
            (
                json!([{"name": "init-db", "restartCount": 0, "state": {"running": {}}},
                       {"name": "init-cache", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]),
                ("0/1", "Init:0/2", "0"),
            ),
            (
                json!([{"name": "init-db", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                       {"name": "init-cache", "restartCount": 0, "state": {"running": {}}}]),
                ("0/1", "Init:1/2", "0"),
            ),
            (
                json!([{"name": "init-db", "restartCount": 5,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(125)}}}]),
                ("0/1", "Init:CrashLoopBackOff", "5 (2m5s ago)"),
            ),
            (
                json!([{"name": "init-db", "restartCount": 0,
                        "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]),
                ("0/1", "Init:Error", "0"),
            ),
            (
                json!([{"name": "init-db", "restartCount": 0,
                        "state": {"terminated": {"exitCode": 3}}}]),
                ("0/1", "Init:ExitCode:3", "0"),
            ),
            (
                json!([{"name": "init-db", "restartCount": 0,
                        "state": {"terminated": {"exitCode": 3, "signal": 15}}}]),
                ("0/1", "Init:Signal:15", "0"),
            ),
        ];
        for (init, (ready, st, restarts)) in cases {
            check(init_pod(init, json!([])), ready, st, restarts);
        }
    }

    #[test]
    fn init_done_falls_through_to_containers() {
        let p = init_pod(
            json!([{"name": "init-db", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                   {"name": "init-cache", "restartCount": 1, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                    "lastState": {"terminated": {"finishedAt": ago(50)}}}]),
            json!([{"type": "Initialized", "status": "True"}]),
        );
        // Init restarts do not count once initialization is over.
        check(p, "0/1", "PodInitializing", "0");
    }

    #[test]
    fn sidecar_init_containers_count_as_containers() {
        let mut p = pod(json!({
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [{"name": "proxy", "ready": true, "started": true, "restartCount": 1,
                "state": {"running": {}}, "lastState": {"terminated": {"finishedAt": ago(40)}}}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]
        }));
        p["spec"]["initContainers"] = json!([{"name": "proxy", "restartPolicy": "Always"}]);
        check(p, "2/2", "Running", "1 (40s ago)");
    }

    #[test]
    fn terminating_and_node_lost() {
        let mut p = pod(json!({"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
        p["metadata"]["deletionTimestamp"] = json!(ago(5));
        check(p.clone(), "1/1", "Terminating", "0");
        p["status"]["reason"] = json!("NodeLost");
        check(p.clone(), "1/1", "Unknown", "0");
        // A finished pod being deleted keeps its final status.
        let mut done = pod(
            json!({"phase": "Succeeded", "containerStatuses": [{"name": "app",
            "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        );
        done["metadata"]["deletionTimestamp"] = json!(ago(5));
        check(done, "0/1", "Completed", "0");
    }

    #[test]
    fn scheduling_gated() {
        let p = pod(json!({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}));
        check(p, "0/1", "SchedulingGated", "0");
    }

    #[test]
    fn wide_cells_and_readiness_gates() {
        let mut p = pod(json!({
            "phase": "Pending",
            "podIP": "10.0.0.9",
            "nominatedNodeName": "node-b",
            "conditions": [{"type": "example.com/lb", "status": "True"},
                           {"type": "example.com/dns", "status": "False"}]
        }));
        p["spec"]["readinessGates"] = json!([
            {"conditionType": "example.com/lb"},
            {"conditionType": "example.com/dns"},
            {"conditionType": "example.com/missing"}
        ]);
        p["spec"].as_object_mut().unwrap().remove("nodeName");
        let c = cells("", "Pod", p);
        assert_eq!(
            c[5..],
            [
                json!("10.0.0.9"),
                json!("<none>"),
                json!("node-b"),
                json!("1/3")
            ]
        );
    }

    #[test]
    fn finished_pods_carry_row_conditions() {
        let t = table_of("", "Pod", pod(json!({"phase": "Succeeded"})));
        assert_eq!(
            t["rows"][0]["conditions"],
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded",
                    "message": "The pod has completed successfully."}])
        );
        let t = table_of("", "Pod", pod(json!({"phase": "Failed"})));
        assert_eq!(t["rows"][0]["conditions"][0]["reason"], "Failed");
        let t = table_of("", "Pod", pod(json!({"phase": "Running"})));
        assert!(t["rows"][0].get("conditions").is_none());
    }
}

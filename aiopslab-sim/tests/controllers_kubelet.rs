//! The kubelet: container life cycle, crash loops, image pulls, OOM kills, termination, logs
//! and exec.

mod controllers_support;

use aiopslab_sim::controllers::behavior::{
    Catalog, ContainerBehavior, ImageInfo, RunPlan, StartContext,
};
use aiopslab_sim::runtime::{LogOptions, RuntimeError};
use controllers_support::{Sim, pod_state};
use serde_json::{Value, json};
use std::sync::Arc;

fn pod(name: &str, container: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
           "spec": {"containers": [container]}})
}

fn status(sim: &Sim, name: &str) -> Value {
    sim.get("", "pods", "test", name).unwrap()["status"].clone()
}

#[tokio::test]
async fn crash_loop_back_off_grows_restart_counts() {
    let sim = Sim::new(11).await;
    sim.apply(pod(
        "crash",
        json!({"name": "crash", "image": "aiopslab/crash"}),
    ))
    .await;
    sim.advance(5).await;
    let p = sim.get("", "pods", "test", "crash").unwrap();
    let cs = &p["status"]["containerStatuses"][0];
    assert_eq!(pod_state(&p), "CrashLoopBackOff");
    assert_eq!(cs["restartCount"], 1);
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(cs["lastState"]["terminated"]["reason"], "Error");
    assert_eq!(p["status"]["phase"], "Running");
    let uid = p["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        cs["state"]["waiting"]["message"],
        format!("back-off 10s restarting failed container=crash pod=crash_test({uid})")
    );
    let events = sim.events("test", "crash");
    let backoff = events.iter().find(|e| e.0 == "BackOff").unwrap();
    assert_eq!(
        backoff.1,
        format!("Back-off restarting failed container crash in pod crash_test({uid})")
    );
    // The back-off doubles: 10 s, 20 s, 40 s ...
    sim.advance(60).await;
    let p = sim.get("", "pods", "test", "crash").unwrap();
    let cs = &p["status"]["containerStatuses"][0];
    assert_eq!(cs["restartCount"], 3, "{cs:#}");
    assert!(
        cs["state"]["waiting"]["message"]
            .as_str()
            .unwrap()
            .starts_with("back-off 40s"),
        "{cs:#}"
    );
    let started = sim
        .events("test", "crash")
        .into_iter()
        .find(|e| e.0 == "Started")
        .unwrap();
    assert_eq!(started.2, 4, "four runs started");
    // Logs: the last run, and the one before it.
    let rt = sim.handle.runtime();
    let logs = rt
        .logs("test", "crash", &LogOptions::default())
        .await
        .unwrap();
    assert_eq!(
        logs,
        "starting up\npanic: simulated crash: the configuration is invalid\n"
    );
    let prev = rt
        .logs(
            "test",
            "crash",
            &LogOptions {
                previous: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(prev, logs);
}

#[tokio::test]
async fn unknown_images_fail_to_pull_and_back_off() {
    let mut catalog = Catalog::builtin();
    struct App;
    impl ContainerBehavior for App {
        fn info(&self) -> ImageInfo {
            ImageInfo::distroless(10_000_000).with_entrypoint(&["/app"])
        }
        fn start(&self, _: &StartContext<'_>) -> RunPlan {
            RunPlan::forever()
        }
    }
    catalog.register("example.com/team/app:1.0", Arc::new(App));
    let sim = Sim::with_options(12, move |o| o.with_catalog(catalog)).await;
    sim.apply(pod(
        "missing",
        json!({"name": "app", "image": "nosuch/image:1.0"}),
    ))
    .await;
    sim.apply(pod(
        "badtag",
        json!({"name": "app", "image": "example.com/team/app:2.0"}),
    ))
    .await;
    sim.apply(pod(
        "good",
        json!({"name": "app", "image": "example.com/team/app:1.0"}),
    ))
    .await;
    sim.advance_ms(1500).await;
    let st = status(&sim, "missing");
    let w = &st["containerStatuses"][0]["state"]["waiting"];
    assert_eq!(w["reason"], "ErrImagePull");
    assert!(
        w["message"]
            .as_str()
            .unwrap()
            .contains("pull access denied, repository does not exist or may require authorization"),
        "{w}"
    );
    let st = status(&sim, "badtag");
    assert_eq!(
        st["containerStatuses"][0]["state"]["waiting"]["message"],
        "rpc error: code = NotFound desc = failed to pull and unpack image \"example.com/team/app:2.0\": failed to resolve reference \"example.com/team/app:2.0\": example.com/team/app:2.0: not found"
    );
    sim.advance(2).await;
    let st = status(&sim, "missing");
    assert_eq!(
        st["containerStatuses"][0]["state"]["waiting"]["reason"],
        "ImagePullBackOff"
    );
    assert_eq!(st["phase"], "Pending");
    let reasons: Vec<(String, String)> = sim
        .events("test", "missing")
        .into_iter()
        .map(|e| (e.0, e.1))
        .collect();
    assert!(
        reasons.contains(&("Failed".into(), "Error: ErrImagePull".into())),
        "{reasons:?}"
    );
    assert!(reasons.contains(&(
        "BackOff".into(),
        "Back-off pulling image \"nosuch/image:1.0\"".into()
    )));
    assert!(reasons.contains(&("Failed".into(), "Error: ImagePullBackOff".into())));
    assert!(reasons.iter().any(|(r, m)| r == "Failed"
        && m.starts_with("Failed to pull image \"nosuch/image:1.0\": rpc error:")));
    assert_eq!(
        pod_state(&sim.get("", "pods", "test", "good").unwrap()),
        "Running"
    );
    let logs = sim
        .handle
        .runtime()
        .logs("test", "missing", &LogOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        logs,
        RuntimeError::BadRequest("container \"app\" in pod \"missing\" is waiting to start: trying and failing to pull image".into())
    );
}

#[tokio::test]
async fn memory_over_the_limit_is_oom_killed() {
    let sim = Sim::new(13).await;
    sim.apply(pod(
        "stress",
        json!({"name": "memory-demo", "image": "polinux/stress", "command": ["stress"],
               "args": ["--vm", "1", "--vm-bytes", "250M", "--vm-hang", "1"],
               "resources": {"limits": {"memory": "100Mi"}, "requests": {"memory": "50Mi"}}}),
    ))
    .await;
    sim.advance(4).await;
    let st = status(&sim, "stress");
    let cs = &st["containerStatuses"][0];
    let last = if cs["state"]["terminated"].is_object() {
        &cs["state"]["terminated"]
    } else {
        &cs["lastState"]["terminated"]
    };
    assert_eq!(last["reason"], "OOMKilled", "{cs:#}");
    assert_eq!(last["exitCode"], 137);
    assert_eq!(st["qosClass"], "Burstable");
    // Under the limit it runs, and `kubectl top` sees its memory.
    sim.apply(pod(
        "small",
        json!({"name": "memory-demo", "image": "polinux/stress", "command": ["stress"],
               "args": ["--vm", "1", "--vm-bytes", "50M"], "resources": {"limits": {"memory": "100Mi"}}}),
    ))
    .await;
    sim.advance(30).await;
    assert_eq!(
        pod_state(&sim.get("", "pods", "test", "small").unwrap()),
        "Running"
    );
    let m = sim.handle.metrics().pod("test", "small").unwrap();
    let mem = m.containers[0].memory_bytes as f64;
    assert!((mem - 52_428_800.0).abs() / 52_428_800.0 < 0.05, "{mem}");
    assert!(
        sim.handle.metrics().pod("test", "stress").is_none()
            || pod_state(&sim.get("", "pods", "test", "stress").unwrap()) == "Running"
    );
    let nodes = sim.handle.metrics().node_metrics_list();
    assert_eq!(nodes["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn graceful_termination_waits_for_containers() {
    let sim = Sim::new(14).await;
    sim.apply(pod(
        "sleeper",
        json!({"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"]}),
    ))
    .await;
    sim.apply(pod("web", json!({"name": "c", "image": "nginx:1.25"})))
        .await;
    sim.advance(10).await;
    assert_eq!(
        pod_state(&sim.get("", "pods", "test", "sleeper").unwrap()),
        "Running"
    );
    let pods = controllers_support::key("", "pods");
    for name in ["sleeper", "web"] {
        let p = sim.store.get(&pods, "test", name).unwrap();
        let grace = aiopslab_sim::controllers::pod_delete_grace(&p, None);
        assert_eq!(grace, 30);
        sim.store
            .delete(&pods, "test", name, Some(grace), None, None)
            .unwrap();
    }
    sim.advance(1).await;
    // nginx handles SIGTERM and is gone; `sleep` as PID 1 ignores it.
    assert!(sim.get("", "pods", "test", "web").is_none());
    let sleeper = sim.get("", "pods", "test", "sleeper").unwrap();
    assert!(sleeper["metadata"]["deletionTimestamp"].is_string());
    assert!(
        sim.events("test", "sleeper")
            .iter()
            .any(|e| e.0 == "Killing" && e.1 == "Stopping container c")
    );
    sim.advance(25).await;
    assert!(sim.get("", "pods", "test", "sleeper").is_some());
    sim.advance(5).await;
    assert!(sim.get("", "pods", "test", "sleeper").is_none());
}

#[tokio::test]
async fn run_to_completion_pods_succeed_or_fail() {
    let sim = Sim::new(15).await;
    let mut ok = pod(
        "ok",
        json!({"name": "c", "image": "busybox", "command": ["sh", "-c", "echo hello; sleep 2; echo bye"]}),
    );
    ok["spec"]["restartPolicy"] = json!("Never");
    let mut bad = pod(
        "bad",
        json!({"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 3"]}),
    );
    bad["spec"]["restartPolicy"] = json!("Never");
    sim.apply(ok).await;
    sim.apply(bad).await;
    sim.advance(10).await;
    let st = status(&sim, "ok");
    assert_eq!(st["phase"], "Succeeded");
    assert_eq!(
        st["containerStatuses"][0]["state"]["terminated"]["reason"],
        "Completed"
    );
    let ready = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["reason"], "PodCompleted");
    let st = status(&sim, "bad");
    assert_eq!(st["phase"], "Failed");
    assert_eq!(
        st["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        3
    );
    let logs = sim
        .handle
        .runtime()
        .logs(
            "test",
            "ok",
            &LogOptions {
                timestamps: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].ends_with(" hello") && lines[1].ends_with(" bye"),
        "{logs}"
    );
    // `bye` was printed two seconds after `hello`.
    let t0: jiff::Timestamp = lines[0].split(' ').next().unwrap().parse().unwrap();
    let t1: jiff::Timestamp = lines[1].split(' ').next().unwrap().parse().unwrap();
    assert_eq!(t1.duration_since(t0), jiff::SignedDuration::from_secs(2));
    // A busybox with no command runs `sh`, which exits at once: a crash loop of Completed.
    sim.apply(pod("shell", json!({"name": "c", "image": "busybox"})))
        .await;
    sim.advance(5).await;
    let cs = &status(&sim, "shell")["containerStatuses"][0];
    assert_eq!(cs["lastState"]["terminated"]["reason"], "Completed");
    assert_eq!(cs["state"]["waiting"]["reason"], "CrashLoopBackOff");
}

#[tokio::test]
async fn exec_runs_shell_commands_with_volumes_and_env() {
    let sim = Sim::new(16).await;
    sim.apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"app.conf": "port=8080\n"}})).await;
    sim.apply(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"password": "s3cret"}})).await;
    let mut p = pod(
        "tools",
        json!({
            "name": "tools", "image": "busybox:1.36", "command": ["sleep", "infinity"],
            "env": [{"name": "MODE", "value": "test"},
                    {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}],
            "volumeMounts": [{"name": "cfg", "mountPath": "/etc/config"}]
        }),
    );
    p["spec"]["volumes"] = json!([{"name": "cfg", "configMap": {"name": "cfg"}}]);
    sim.apply(p).await;
    sim.advance(5).await;
    let rt = sim.handle.runtime();
    let run = |cmd: &str| {
        let rt = rt.clone();
        let argv: Vec<String> = vec!["sh".into(), "-c".into(), cmd.into()];
        async move { rt.exec("test", "tools", None, &argv, None).await.unwrap() }
    };
    let out = run("echo $MODE $PASSWORD; cat /etc/config/app.conf; hostname").await;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "test s3cret\nport=8080\ntools\n"
    );
    assert_eq!(out.exit_code, 0);
    let out = run("foo --bar").await;
    assert_eq!(
        (
            String::from_utf8(out.stderr).unwrap().as_str(),
            out.exit_code
        ),
        ("sh: foo: not found\n", 127)
    );
    let out = run("env | grep KUBERNETES_SERVICE_HOST").await;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "KUBERNETES_SERVICE_HOST=10.96.0.1\n"
    );
    // Files written by one exec are there for the next.
    run("echo saved > /tmp/state").await;
    assert_eq!(
        String::from_utf8(run("cat /tmp/state").await.stdout).unwrap(),
        "saved\n"
    );
    // A program the image does not have, without a shell: the runtime's error.
    let out = rt
        .exec("test", "tools", None, &["foo".to_string()], None)
        .await
        .unwrap();
    assert_eq!(out.exit_code, 126);
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "OCI runtime exec failed: exec failed: unable to start container process: exec: \"foo\": executable file not found in $PATH: unknown\r\n"
    );
    // Pods that are not running cannot exec.
    let err = rt
        .exec("test", "nope", None, &["ls".to_string()], None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RuntimeError::NotFound("pods \"nope\" not found".into())
    );
}

#[tokio::test]
async fn missing_config_map_blocks_the_pod_until_created() {
    let sim = Sim::new(17).await;
    let mut p = pod(
        "web",
        json!({"name": "web", "image": "nginx:1.25", "volumeMounts": [{"name": "cfg", "mountPath": "/etc/nginx/conf.d"}]}),
    );
    p["spec"]["volumes"] = json!([{"name": "cfg", "configMap": {"name": "nginx-conf"}}]);
    sim.apply(p).await;
    sim.advance(5).await;
    assert_eq!(
        pod_state(&sim.get("", "pods", "test", "web").unwrap()),
        "ContainerCreating"
    );
    let events = sim.events("test", "web");
    let mount = events.iter().find(|e| e.0 == "FailedMount").unwrap();
    assert_eq!(
        mount.1,
        "MountVolume.SetUp failed for volume \"cfg\" : configmap \"nginx-conf\" not found"
    );
    sim.apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nginx-conf"}, "data": {"default.conf": "server {}"}})).await;
    sim.advance(5).await;
    assert_eq!(
        pod_state(&sim.get("", "pods", "test", "web").unwrap()),
        "Running"
    );
    // A missing key of an env reference: CreateContainerConfigError.
    sim.apply(pod("env", json!({"name": "c", "image": "nginx:1.25", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}]}))).await;
    sim.advance(5).await;
    let cs = &status(&sim, "env")["containerStatuses"][0];
    assert_eq!(
        cs["state"]["waiting"]["reason"],
        "CreateContainerConfigError"
    );
    assert_eq!(
        cs["state"]["waiting"]["message"],
        "configmap \"absent\" not found"
    );
}

#[tokio::test]
async fn failing_readiness_probe_keeps_the_pod_unready() {
    let sim = Sim::new(18).await;
    sim.apply(pod(
        "web",
        json!({"name": "web", "image": "nginx:1.25",
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5}}),
    ))
    .await;
    sim.apply(pod("ok", json!({"name": "web", "image": "nginx:1.25",
        "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 5, "periodSeconds": 5}}))).await;
    sim.advance(3).await;
    assert_eq!(
        status(&sim, "ok")["containerStatuses"][0]["ready"],
        false,
        "not before initialDelaySeconds"
    );
    sim.advance(10).await;
    let st = status(&sim, "web");
    assert_eq!(st["phase"], "Running");
    assert_eq!(st["containerStatuses"][0]["ready"], false);
    let ready = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["message"], "containers with unready status: [web]");
    let ip = st["podIP"].as_str().unwrap();
    let unhealthy = sim
        .events("test", "web")
        .into_iter()
        .find(|e| e.0 == "Unhealthy")
        .unwrap();
    assert_eq!(
        unhealthy.1,
        format!(
            "Readiness probe failed: Get \"http://{ip}:8080/healthz\": dial tcp {ip}:8080: connect: connection refused"
        )
    );
    assert_eq!(status(&sim, "ok")["containerStatuses"][0]["ready"], true);
}

#[tokio::test]
async fn changing_a_pods_image_restarts_its_container() {
    let sim = Sim::new(19).await;
    sim.apply(pod("web", json!({"name": "web", "image": "nginx:1.25"})))
        .await;
    sim.apply(pod(
        "fixme",
        json!({"name": "app", "image": "nginx:no-such-tag-but-any-tag-works"}),
    ))
    .await;
    sim.apply(pod("typo", json!({"name": "app", "image": "ngnix:1.25"})))
        .await;
    sim.advance(10).await;
    assert_eq!(
        pod_state(&sim.get("", "pods", "test", "typo").unwrap()),
        "ImagePullBackOff"
    );
    for name in ["web", "typo"] {
        sim.update("", "pods", "test", name, |p| {
            p["spec"]["containers"][0]["image"] = json!("nginx:1.27");
        })
        .await;
    }
    sim.advance(10).await;
    let web = status(&sim, "web");
    assert_eq!(web["containerStatuses"][0]["restartCount"], 1);
    assert_eq!(
        web["containerStatuses"][0]["image"],
        "docker.io/library/nginx:1.27"
    );
    assert!(
        sim.events("test", "web")
            .iter()
            .any(|e| e.0 == "Killing"
                && e.1 == "Container web definition changed, will be restarted")
    );
    let typo = status(&sim, "typo");
    assert_eq!(typo["containerStatuses"][0]["restartCount"], 0);
    assert_eq!(typo["containerStatuses"][0]["ready"], true);
}

#[tokio::test]
async fn killed_containers_restart() {
    let sim = Sim::new(20).await;
    sim.apply(pod("web", json!({"name": "web", "image": "nginx:1.25"})))
        .await;
    sim.advance(5).await;
    sim.handle
        .kill_container("test", "web", None, 137)
        .await
        .unwrap();
    sim.advance(5).await;
    let cs = &status(&sim, "web")["containerStatuses"][0];
    assert_eq!(cs["restartCount"], 1);
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 137);
    assert!(cs["state"]["running"].is_object());
    let err = sim
        .handle
        .kill_container("test", "nope", None, 137)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RuntimeError::NotFound("pods \"nope\" not found".into())
    );
}

#[tokio::test]
async fn init_containers_run_first_and_in_order() {
    let sim = Sim::new(21).await;
    let mut p = pod("web", json!({"name": "web", "image": "nginx:1.25"}));
    p["spec"]["initContainers"] = json!([
        {"name": "wait", "image": "busybox", "command": ["sh", "-c", "echo waiting; sleep 5"]},
        {"name": "migrate", "image": "busybox", "command": ["sh", "-c", "echo migrated"]},
    ]);
    sim.apply(p).await;
    let mut bad = pod("bad", json!({"name": "web", "image": "nginx:1.25"}));
    bad["spec"]["initContainers"] =
        json!([{"name": "fail", "image": "busybox", "command": ["sh", "-c", "exit 1"]}]);
    sim.apply(bad).await;
    sim.advance(3).await;
    let st = status(&sim, "web");
    assert_eq!(st["phase"], "Pending");
    assert!(
        st["initContainerStatuses"][0]["state"]["running"].is_object(),
        "{st:#}"
    );
    assert_eq!(
        st["initContainerStatuses"][1]["state"]["waiting"]["reason"],
        "ContainerCreating"
    );
    assert_eq!(
        st["containerStatuses"][0]["state"]["waiting"]["reason"],
        "PodInitializing"
    );
    let init = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Initialized")
        .unwrap()
        .clone();
    assert_eq!(
        init["message"],
        "containers with incomplete status: [wait migrate]"
    );
    sim.advance(15).await;
    let st = status(&sim, "web");
    assert_eq!(st["phase"], "Running");
    assert_eq!(
        st["initContainerStatuses"][0]["state"]["terminated"]["reason"],
        "Completed"
    );
    assert_eq!(
        st["initContainerStatuses"][1]["state"]["terminated"]["reason"],
        "Completed"
    );
    assert_eq!(st["containerStatuses"][0]["ready"], true);
    let logs = sim
        .handle
        .runtime()
        .logs(
            "test",
            "web",
            &LogOptions {
                container: Some("migrate".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(logs, "migrated\n");
    // A failing init container is restarted with back-off and the app never starts.
    let st = status(&sim, "bad");
    assert_eq!(st["phase"], "Pending");
    assert_eq!(
        st["initContainerStatuses"][0]["state"]["waiting"]["reason"],
        "CrashLoopBackOff"
    );
    assert_eq!(
        st["containerStatuses"][0]["state"]["waiting"]["reason"],
        "PodInitializing"
    );
}

#[tokio::test]
async fn shared_commands_reach_every_image_that_has_them() {
    use aiopslab_sim::controllers::behavior::{ExecContext, ExecFallback};
    use aiopslab_sim::runtime::ExecOutput;
    struct Net;
    impl ExecFallback for Net {
        fn exec(&self, ctx: &ExecContext<'_>, argv: &[String]) -> Option<ExecOutput> {
            (argv[0] == "curl").then(|| ExecOutput {
                stdout: format!("hello from {} via {}\n", argv[1], ctx.pod_name).into_bytes(),
                stderr: vec![],
                exit_code: 0,
            })
        }
    }
    let mut catalog = Catalog::builtin();
    catalog.set_exec_fallback(Arc::new(Net));
    let sim = Sim::with_options(22, move |o| o.with_catalog(catalog)).await;
    sim.apply(pod("web", json!({"name": "web", "image": "nginx:1.25"})))
        .await;
    sim.apply(pod(
        "bb",
        json!({"name": "bb", "image": "busybox", "command": ["sleep", "3600"]}),
    ))
    .await;
    sim.advance(5).await;
    let rt = sim.handle.runtime();
    let argv = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let out = rt
        .exec("test", "web", None, &argv(&["curl", "geo:8083"]), None)
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "hello from geo:8083 via web\n"
    );
    let out = rt
        .exec(
            "test",
            "web",
            None,
            &argv(&["sh", "-c", "curl -s geo:8083 | grep -c hello"]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "1\n");
    // busybox has no curl: the shell says so; nginx has no ps.
    let out = rt
        .exec("test", "bb", None, &argv(&["sh", "-c", "curl x"]), None)
        .await
        .unwrap();
    assert_eq!(
        (
            String::from_utf8(out.stderr).unwrap().as_str(),
            out.exit_code
        ),
        ("sh: curl: not found\n", 127)
    );
    let out = rt
        .exec("test", "web", None, &argv(&["ps"]), None)
        .await
        .unwrap();
    assert_eq!(out.exit_code, 126);
    let out = rt
        .exec("test", "bb", None, &argv(&["ps"]), None)
        .await
        .unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("1 root      0:00 sleep 3600")
    );
}

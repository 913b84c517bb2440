//! The write path through the HTTP handler in-process (no TLS, no client): creates, updates,
//! merge patches and server-side applies of ConfigMaps, what each costs, and that repeated
//! writes keep giving the same answers.
//!
//! `cargo test -p aiopslab-sim --test fidelity_write_perf -- --ignored --nocapture` prints the
//! timings (debug builds are several times slower than release builds).

use aiopslab_sim::api::{ApiState, router};
use aiopslab_sim::auth::{Authenticator, Identity, Policy};
use aiopslab_sim::clock::ManualClock;
use aiopslab_sim::resources::ResourceKey;
use aiopslab_sim::store::Store;
use axum::Router;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

fn app() -> (Router, Arc<Store>) {
    let clock = ManualClock::at("2026-01-01T00:00:00Z".parse().expect("time"));
    let store = Arc::new(Store::new(1, Arc::new(clock)));
    store
        .create(
            &ResourceKey::new("", "namespaces"),
            "",
            json!({"metadata": {"name": "default"}}),
        )
        .expect("namespace");
    let mut auth = Authenticator::new();
    auth.insert("t", Identity::admin());
    let app = router(ApiState::new(
        store.clone(),
        auth,
        Policy::default(),
        "127.0.0.1:1",
    ));
    (app, store)
}

/// Sends one request; returns the status code and the raw body.
async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    ctype: &str,
    body: Value,
) -> (u16, bytes::Bytes) {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("Authorization", "Bearer t")
        .header("Content-Type", ctype)
        .header(
            "User-Agent",
            "kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0",
        )
        .body(axum::body::Body::from(
            serde_json::to_vec(&body).expect("json"),
        ))
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("response");
    let code = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (code, bytes)
}

/// Sends one request; returns the status code and the decoded body.
async fn call(app: &Router, method: &str, uri: &str, ctype: &str, body: Value) -> (u16, Value) {
    let (code, bytes) = send(app, method, uri, ctype, body).await;
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn cm(name: &str, i: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"bench": "yes", "i": i.to_string()}},
        "data": {"k": "v".repeat(64), "n": i.to_string(), "a": "1", "b": "2"}})
}

const CM_URL: &str = "/api/v1/namespaces/default/configmaps";

/// Runs `n` rounds of create, update (PUT), merge patch and server-side apply; returns the
/// time of each phase.
async fn write_rounds(app: &Router, n: usize) -> [Duration; 4] {
    let mut took = [Duration::ZERO; 4];
    let begin = Instant::now();
    for i in 0..n {
        let (code, _) = send(
            app,
            "POST",
            CM_URL,
            "application/json",
            cm(&format!("cm-{i}"), i),
        )
        .await;
        assert_eq!(code, 201);
    }
    took[0] = begin.elapsed();
    let begin = Instant::now();
    for i in 0..n {
        let mut body = cm(&format!("cm-{i}"), i);
        body["data"]["n"] = json!(format!("{}", i + 1));
        let url = format!("{CM_URL}/cm-{i}");
        let (code, _) = send(app, "PUT", &url, "application/json", body).await;
        assert_eq!(code, 200);
    }
    took[1] = begin.elapsed();
    let begin = Instant::now();
    for i in 0..n {
        let url = format!("{CM_URL}/cm-{i}");
        let patch = json!({"data": {"b": format!("{i}")}});
        let (code, _) = send(app, "PATCH", &url, "application/merge-patch+json", patch).await;
        assert_eq!(code, 200);
    }
    took[2] = begin.elapsed();
    let begin = Instant::now();
    for i in 0..n {
        let url = format!("{CM_URL}/cm-{i}?fieldManager=bench&force=true");
        let (code, _) = send(
            app,
            "PATCH",
            &url,
            "application/apply-patch+yaml",
            cm(&format!("cm-{i}"), i),
        )
        .await;
        assert_eq!(code, 200);
    }
    took[3] = begin.elapsed();
    took
}

/// The answers of the write path for a fixed sequence of writes, as a regression check: the
/// same writes give the same stored objects (managedFields included).
#[tokio::test]
async fn the_write_path_answers_as_before() {
    let (app, store) = app();
    write_rounds(&app, 3).await;
    let key = ResourceKey::new("", "configmaps");
    let obj = store.get(&key, "default", "cm-1").expect("stored");
    assert_eq!(obj["data"]["n"], "1", "the apply set n back");
    assert_eq!(obj["data"]["b"], "2");
    let managers: Vec<(&str, &str)> = obj["metadata"]["managedFields"]
        .as_array()
        .expect("managed")
        .iter()
        .map(|e| {
            (
                e["manager"].as_str().unwrap_or(""),
                e["operation"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        managers,
        [("bench", "Apply"), ("kubectl", "Update")],
        "{:#}",
        obj["metadata"]["managedFields"]
    );
    // The apply took over every field it sets; kubectl keeps nothing it does not also own.
    assert_eq!(
        obj["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:data": {"f:a": {}, "f:b": {}, "f:k": {}, "f:n": {}},
            "f:metadata": {"f:labels": {"f:bench": {}, "f:i": {}}}})
    );
    assert_eq!(obj["metadata"]["resourceVersion"], "12");
    // A no-op apply stores nothing.
    let rv = store.resource_version();
    let url = format!("{CM_URL}/cm-1?fieldManager=bench&force=true");
    let (code, again) = call(
        &app,
        "PATCH",
        &url,
        "application/apply-patch+yaml",
        cm("cm-1", 1),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(again["metadata"]["resourceVersion"], "12");
    assert_eq!(store.resource_version(), rv);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run with --ignored --nocapture"]
async fn write_path_cost() {
    let (app, _store) = app();
    let n = 2000;
    let took = write_rounds(&app, n).await;
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "{n} ConfigMaps through the handler: create {:.0} us, update {:.0} us, merge patch {:.0} us, apply {:.0} us per write (total {:.2} s)",
        per(took[0]),
        per(took[1]),
        per(took[2]),
        per(took[3]),
        took.iter().sum::<Duration>().as_secs_f64()
    );
}

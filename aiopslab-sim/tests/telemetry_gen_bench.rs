//! Throughput of the request log (ignored by default: `cargo test -- --ignored`).

use aiopslab_sim::telemetry::derive::{RecordedRequest, RecordedSpan, RequestLog, SpanKind};

fn request(i: i64) -> RecordedRequest {
    let services = [
        "frontend",
        "search",
        "geo",
        "rate",
        "profile",
        "reservation",
        "user",
    ];
    let mut spans = Vec::new();
    for k in 0..15usize {
        let svc = services[k % services.len()];
        spans.push(RecordedSpan {
            parent: if k == 0 { None } else { Some((k - 1) / 2) },
            service: svc.into(),
            operation: format!("/{svc}.Op/Call{}", k % 3),
            kind: if k % 2 == 0 {
                SpanKind::Server
            } else {
                SpanKind::Client
            },
            start_us: 1_767_225_600_000_000 + i * 10_000 + k as i64 * 10,
            duration_us: 900,
            namespace: "test-hotel-reservation".into(),
            pod: format!("{svc}-7d9c8b6f5-abcde"),
            pod_ip: "10.244.1.7".into(),
            protocol: "grpc".into(),
            ..RecordedSpan::default()
        });
    }
    RecordedRequest {
        sampled: true,
        spans,
        logs: vec![],
    }
}

#[test]
#[ignore]
fn record_throughput() {
    let log = RequestLog::new();
    let reqs: Vec<RecordedRequest> = (0..100_000).map(request).collect();
    let t = std::time::Instant::now();
    for r in reqs {
        log.record(r);
    }
    eprintln!("100k requests of 15 spans recorded in {:?}", t.elapsed());
}

mod apps_support;

#[tokio::test]
#[ignore]
async fn flow_versus_record() {
    use aiopslab_sim::apps::flow::{EntryRequest, simulate};
    use aiopslab_sim::clock::Clock;
    let sim = apps_support::Sim::new(3);
    sim.deploy("hotel-reservation").await;
    let req = EntryRequest::get(
        "http://localhost:5000/hotels?inDate=2015-04-09&outDate=2015-04-10&lat=38.0235&lon=-122.095",
    );
    let at = sim.clock.now();
    let t = std::time::Instant::now();
    let outs: Vec<_> = (0..2000)
        .map(|i| simulate(&sim.store, "hotel-reservation", &req, i, at))
        .collect();
    let flow = t.elapsed();
    let t = std::time::Instant::now();
    let recs: Vec<_> = outs
        .iter()
        .map(|o| aiopslab_sim::telemetry::derive::RecordedRequest::from_outcome(o, at))
        .collect();
    let convert = t.elapsed();
    let log = RequestLog::new();
    let t = std::time::Instant::now();
    for r in recs {
        log.record(r);
    }
    eprintln!(
        "2000 /hotels: flow {flow:?}, conversion {convert:?}, record {:?} ({} spans each)",
        t.elapsed(),
        outs[0].trace.as_ref().unwrap().flatten().len()
    );
}

mod controllers_support;

#[tokio::test]
#[ignore]
async fn long_lived_cluster_window() {
    use aiopslab_sim::clock::Clock;
    use aiopslab_sim::telemetry::derive::{ClusterTelemetry, DeriveConfig};
    use aiopslab_sim::telemetry::{LabelMatcher, TimeWindow};
    let sim = controllers_support::Sim::new(4).await;
    let t =
        ClusterTelemetry::for_cluster(sim.store.clone(), Some(&sim.handle), DeriveConfig::new(4));
    for i in 0..10 {
        sim.apply(controllers_support::deployment(
            &format!("svc{i}"),
            "nginx",
            3,
        ))
        .await;
    }
    let started = std::time::Instant::now();
    sim.advance(6 * 3600).await;
    eprintln!("6 h of cluster time simulated in {:?}", started.elapsed());
    let now = sim.clock.now().as_millisecond();
    let m = t.sources().metrics;
    for _ in 0..2 {
        let t0 = std::time::Instant::now();
        let all = m.select(
            &[LabelMatcher::equal("namespace", "test")],
            TimeWindow::new(now - 1_800_000, now),
        );
        eprintln!(
            "30 pods after 6 h, 30-min window: {} series in {:?}",
            all.len(),
            t0.elapsed()
        );
    }
}

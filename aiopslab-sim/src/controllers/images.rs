//! The built-in image catalogue: busybox, alpine, debian/ubuntu, nginx, the kind system images,
//! and the test images `aiopslab/crash` and `aiopslab/oom` / `polinux/stress`.

use super::behavior::{
    Catalog, ContainerBehavior, ImageInfo, LogLine, RunPlan, ShellKind, StartContext, StopBehavior,
};
use super::kubelet::shell::{Machine, RunEnd, Setup, is_utility};
use super::util::{bytes, secs_f};
use jiff::SignedDuration;
use serde_json::Value;
use std::sync::Arc;

/// Runs a container whose command is a shell script or a utility, in the kubelet's shell:
/// its output becomes the log, `sleep` makes time pass, and its end (or lack of one) decides
/// whether the container exits. PID 1 shells ignore SIGTERM unless the script traps it.
///
/// Application behaviours can call this for containers started with `sh -c ...`.
pub fn script_plan(ctx: &StartContext<'_>, info: &ImageInfo) -> RunPlan {
    let env: Vec<(String, String)> = ctx
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut files = info.files.clone();
    files.extend(ctx.files.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut machine = Machine::new(Setup {
        env,
        files,
        kind: info.shell.unwrap_or(ShellKind::Ash),
        utilities: info.utilities,
        executables: info.binaries.clone(),
        hostname: ctx.pod_name.to_string(),
        start: ctx.now,
        horizon: SignedDuration::from_hours(24),
        hook: None,
        pid1: ctx.argv.join(" "),
    });
    let end = machine.run_main(&ctx.argv);
    let mut logs = Vec::new();
    for chunk in &machine.chunks {
        for line in chunk.text.lines() {
            logs.push(LogLine {
                offset: chunk.at,
                text: line.to_string(),
            });
        }
    }
    let mut plan = RunPlan::forever().using(0.0, 600 * 1024);
    plan.logs = logs;
    plan.stop = if machine.trapped_term {
        StopBehavior::Graceful(secs_f(0.1))
    } else {
        StopBehavior::IgnoresSigterm
    };
    if let RunEnd::Exited(code, after) = end {
        plan.exit = Some(super::behavior::ExitPlan {
            after: after.max(secs_f(0.05)),
            code,
            last_words: vec![],
            message: None,
        });
    }
    plan
}

/// Whether `argv` runs a shell or a utility rather than the image's own program.
fn runs_shell(argv: &[String], info: &ImageInfo) -> bool {
    let Some(first) = argv.first() else {
        return false;
    };
    let base = first.rsplit('/').next().unwrap_or(first);
    (info.shell.is_some() && matches!(base, "sh" | "bash" | "ash"))
        || (info.utilities && is_utility(base))
}

/// An image defined by data: what it contains and what its own program does.
struct Program {
    info: ImageInfo,
    main: fn(&StartContext<'_>) -> RunPlan,
}

impl ContainerBehavior for Program {
    fn info(&self) -> ImageInfo {
        self.info.clone()
    }

    fn start(&self, ctx: &StartContext<'_>) -> RunPlan {
        if runs_shell(&ctx.argv, &self.info) {
            script_plan(ctx, &self.info)
        } else {
            (self.main)(ctx)
        }
    }
}

fn register(
    c: &mut Catalog,
    images: &[&str],
    info: ImageInfo,
    main: fn(&StartContext<'_>) -> RunPlan,
) {
    let behavior: Arc<dyn ContainerBehavior> = Arc::new(Program { info, main });
    for image in images {
        c.register(image, behavior.clone());
    }
}

fn klog(lines: &[&str]) -> Vec<String> {
    lines
        .iter()
        .map(|l| format!("I{{klog_time}}       1 {l}"))
        .collect()
}

fn arg_value(argv: &[String], flag: &str) -> Option<String> {
    argv.iter().enumerate().find_map(|(i, a)| {
        if a == flag {
            argv.get(i + 1).cloned()
        } else {
            a.strip_prefix(&format!("{flag}=")).map(str::to_string)
        }
    })
}

/// Memory a `stress --vm-bytes N` process allocates (default 256M).
fn stress_bytes(argv: &[String]) -> u64 {
    arg_value(argv, "--vm-bytes")
        .map(|v| {
            let v = v.trim_end_matches(['B', 'b']);
            let q = if let Some(n) = v.strip_suffix(['M', 'm']) {
                format!("{n}Mi")
            } else if let Some(n) = v.strip_suffix(['G', 'g']) {
                format!("{n}Gi")
            } else if let Some(n) = v.strip_suffix(['K', 'k']) {
                format!("{n}Ki")
            } else {
                v.to_string()
            };
            bytes(&Value::String(q)).max(0) as u64
        })
        .unwrap_or(256 * 1024 * 1024)
}

/// Registers every built-in image in `c`.
pub(crate) fn register_builtins(c: &mut Catalog) {
    // Shell images: their default command is `sh`, which exits at once without a terminal.
    register(
        c,
        &["busybox", "docker.io/library/busybox"],
        ImageInfo::busybox(2_155_000).with_default_args(&["sh"]),
        |_| RunPlan::exits(0.05, 0),
    );
    register(
        c,
        &["alpine"],
        ImageInfo::busybox(3_650_000).with_default_args(&["/bin/sh"]),
        |_| RunPlan::exits(0.05, 0),
    );
    register(
        c,
        &["ubuntu", "debian"],
        ImageInfo::debian(29_700_000).with_default_args(&["bash"]),
        |_| RunPlan::exits(0.05, 0),
    );
    register(
        c,
        &["nginx", "nginxinc/nginx-unprivileged"],
        ImageInfo::debian(72_200_000)
            .with_entrypoint(&["/docker-entrypoint.sh"])
            .with_default_args(&["nginx", "-g", "daemon off;"])
            .with_binaries(&["nginx", "curl"])
            .with_file(
                "/etc/nginx/conf.d/default.conf",
                "server {\n    listen       80;\n    listen  [::]:80;\n    server_name  localhost;\n\n    location / {\n        root   /usr/share/nginx/html;\n        index  index.html index.htm;\n    }\n\n    error_page   500 502 503 504  /50x.html;\n    location = /50x.html {\n        root   /usr/share/nginx/html;\n    }\n}\n",
            )
            .with_file(
                "/usr/share/nginx/html/index.html",
                "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n</body>\n</html>\n",
            ),
        |_| {
            RunPlan::forever()
                .logs([
                    "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
                    "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
                    "/docker-entrypoint.sh: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh",
                    "10-listen-on-ipv6-by-default.sh: info: Getting the checksum of /etc/nginx/conf.d/default.conf",
                    "10-listen-on-ipv6-by-default.sh: info: Enabled listen on IPv6 in /etc/nginx/conf.d/default.conf",
                    "/docker-entrypoint.sh: Sourcing /docker-entrypoint.d/15-local-resolvers.envsh",
                    "/docker-entrypoint.sh: Launching /docker-entrypoint.d/20-envsubst-on-templates.sh",
                    "/docker-entrypoint.sh: Launching /docker-entrypoint.d/30-tune-worker-processes.sh",
                    "/docker-entrypoint.sh: Configuration complete; ready for start up",
                    "{nginx_time} [notice] 1#1: using the \"epoll\" event method",
                    "{nginx_time} [notice] 1#1: nginx/1.27.5",
                    "{nginx_time} [notice] 1#1: built by gcc 12.2.0 (Debian 12.2.0-14+deb12u1) ",
                    "{nginx_time} [notice] 1#1: OS: Linux 6.8.0-1027-azure",
                    "{nginx_time} [notice] 1#1: getrlimit(RLIMIT_NOFILE): 1048576:1048576",
                    "{nginx_time} [notice] 1#1: start worker processes",
                    "{nginx_time} [notice] 1#1: start worker process 29",
                    "{nginx_time} [notice] 1#1: start worker process 30",
                ])
                .using(0.0, 3_400_000)
                .listening(&[80])
                .ready_after(0.1)
                .graceful(0.1)
        },
    );
    register(
        c,
        &[
            "registry.k8s.io/pause",
            "gcr.io/google-containers/pause",
            "k8s.gcr.io/pause",
        ],
        ImageInfo::distroless(320_000).with_entrypoint(&["/pause"]),
        |_| RunPlan::forever().using(0.0, 250_000),
    );
    register(
        c,
        &["registry.k8s.io/coredns/coredns"],
        ImageInfo::distroless(20_940_000).with_entrypoint(&["/coredns"]),
        |_| {
            RunPlan::forever()
                .logs([
                    ".:53",
                    "[INFO] plugin/reload: Running configuration SHA512 = 1b226df79860026c6a52e67daa10d7f0d57ec5b023288ec00c5e05f93523c894564e15b91770d3a07ae1cfbe861d15b37d4a0027e69c546ab112970993a3b03b",
                    "CoreDNS-1.12.0",
                    "linux/amd64, go1.23.3, 51e11f1",
                ])
                .using(2.0, 13_500_000)
                .listening(&[53, 8080, 8181, 9153])
                .ready_after(0.5)
                .graceful(5.0)
        },
    );
    register(
        c,
        &["registry.k8s.io/etcd"],
        ImageInfo::distroless(57_680_000)
            .with_entrypoint(&["etcd"])
            .with_binaries(&["etcdctl", "etcdutl"]),
        |_| {
            RunPlan::forever()
                .logs([
                    "{\"level\":\"info\",\"ts\":\"{ts}\",\"caller\":\"etcdmain/etcd.go:73\",\"msg\":\"Running: \",\"args\":[\"etcd\",\"--advertise-client-urls=https://172.18.0.2:2379\",\"--data-dir=/var/lib/etcd\",\"--name=kind-control-plane\"]}",
                    "{\"level\":\"info\",\"ts\":\"{ts}\",\"caller\":\"embed/etcd.go:140\",\"msg\":\"configuring peer listeners\",\"listen-peer-urls\":[\"https://172.18.0.2:2380\"]}",
                    "{\"level\":\"info\",\"ts\":\"{ts}\",\"caller\":\"etcdserver/server.go:2123\",\"msg\":\"published local member to cluster through raft\",\"local-member-id\":\"b8e14bda2255bc24\"}",
                    "{\"level\":\"info\",\"ts\":\"{ts}\",\"caller\":\"embed/serve.go:210\",\"msg\":\"serving client traffic securely\",\"traffic\":\"grpc+http\",\"address\":\"172.18.0.2:2379\"}",
                ])
                .every(
                    300.0,
                    &["{\"level\":\"info\",\"ts\":\"{ts}\",\"caller\":\"mvcc/kvstore_compaction.go:72\",\"msg\":\"finished scheduled compaction\",\"took\":\"1.503211ms\"}"],
                )
                .using(22.0, 42_000_000)
        },
    );
    register(
        c,
        &["registry.k8s.io/kube-apiserver"],
        ImageInfo::distroless(30_070_000).with_entrypoint(&["kube-apiserver"]),
        |_| {
            RunPlan::forever()
                .logs(klog(&[
                    "options.go:249] external host was not specified, using 172.18.0.2",
                    "server.go:147] Version: v1.33.1",
                    "secure_serving.go:211] Serving securely on [::]:6443",
                    "controller.go:615] quota admission added evaluator for: deployments.apps",
                ]))
                .using(38.0, 260_000_000)
        },
    );
    register(
        c,
        &["registry.k8s.io/kube-controller-manager"],
        ImageInfo::distroless(27_640_000).with_entrypoint(&["kube-controller-manager"]),
        |_| {
            RunPlan::forever()
                .logs(klog(&[
                    "serving.go:386] Generated self-signed cert in-memory",
                    "controllermanager.go:188] \"Starting\" version=\"v1.33.1\"",
                    "leaderelection.go:257] attempting to acquire leader lease kube-system/kube-controller-manager...",
                    "leaderelection.go:271] successfully acquired lease kube-system/kube-controller-manager",
                ]))
                .using(14.0, 52_000_000)
        },
    );
    register(
        c,
        &["registry.k8s.io/kube-scheduler"],
        ImageInfo::distroless(21_770_000).with_entrypoint(&["kube-scheduler"]),
        |_| {
            RunPlan::forever()
                .logs(klog(&[
                    "serving.go:386] Generated self-signed cert in-memory",
                    "server.go:166] \"Starting Kubernetes Scheduler\" version=\"v1.33.1\"",
                    "leaderelection.go:271] successfully acquired lease kube-system/kube-scheduler",
                ]))
                .using(3.0, 21_000_000)
        },
    );
    register(
        c,
        &["registry.k8s.io/kube-proxy"],
        ImageInfo::distroless(31_850_000).with_entrypoint(&["/usr/local/bin/kube-proxy"]),
        |ctx| {
            RunPlan::forever()
                .logs(klog(&[
                    "server_linux.go:63] \"Using iptables proxy\"",
                    &format!(
                        "server.go:715] \"Successfully retrieved node IP(s)\" IPs=[\"{}\"]",
                        ctx.pod_ip
                    ),
                    "server_linux.go:170] \"Using iptables Proxier\"",
                    "config.go:199] \"Starting service config controller\"",
                    "shared_informer.go:357] \"Caches are synced\" controller=\"service config\"",
                ]))
                .using(1.0, 15_000_000)
        },
    );
    register(
        c,
        &["kindest/kindnetd"],
        ImageInfo::distroless(39_360_000).with_entrypoint(&["/bin/kindnetd"]),
        |_| {
            RunPlan::forever()
                .logs(klog(&[
                    "main.go:109] connected to apiserver: https://kind-control-plane:6443",
                    "main.go:139] hostIP = 172.18.0.2",
                    "main.go:148] setting mtu 1500 for CNI ",
                    "controller.go:361] Starting controller kind-network-policies",
                ]))
                .every(10.0, &["I{klog_time}       1 main.go:297] Handling node with IPs: map[172.18.0.3:{}]"])
                .using(1.0, 12_000_000)
        },
    );
    register(
        c,
        &["kindest/local-path-provisioner"],
        ImageInfo::distroless(19_380_000).with_entrypoint(&["local-path-provisioner"]),
        |_| {
            RunPlan::forever()
                .logs([
                    "time=\"{time}\" level=debug msg=\"Applied config: {\\\"nodePathMap\\\":[{\\\"node\\\":\\\"DEFAULT_PATH_FOR_NON_LISTED_NODES\\\",\\\"paths\\\":[\\\"/var/local-path-provisioner\\\"]}]}\"",
                    "time=\"{time}\" level=debug msg=\"Provisioner started\"",
                ])
                .using(1.0, 8_000_000)
        },
    );
    register(
        c,
        &["kindest/local-path-helper"],
        ImageInfo::busybox(3_100_000),
        |_| RunPlan::exits(0.2, 0),
    );
    // Test images.
    register(
        c,
        &["aiopslab/crash"],
        ImageInfo::busybox(1_800_000).with_entrypoint(&["/crash"]),
        |_| {
            let mut plan = RunPlan::exits(1.0, 1)
                .log(0.0, "starting up")
                .log(0.9, "panic: simulated crash: the configuration is invalid");
            plan.usage.memory_bytes = 4 * 1024 * 1024;
            plan
        },
    );
    register(
        c,
        &["aiopslab/oom", "polinux/stress"],
        ImageInfo::busybox(4_200_000)
            .with_binaries(&["stress"])
            .with_entrypoint(&["stress"]),
        |ctx| {
            let want = stress_bytes(&ctx.argv);
            let want = if ctx.argv.iter().any(|a| a == "--vm-bytes") || ctx.image.contains("stress")
            {
                want
            } else {
                // aiopslab/oom: grow until killed.
                ctx.memory_limit.map(|l| l * 2).unwrap_or(want)
            };
            RunPlan::forever()
                .log(
                    0.0,
                    "stress: info: [1] dispatching hogs: 0 cpu, 0 io, 1 vm, 0 hdd",
                )
                .using(950.0, want)
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stress_sizes() {
        let argv: Vec<String> = ["stress", "--vm", "1", "--vm-bytes", "150M"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(stress_bytes(&argv), 150 * 1024 * 1024);
        assert_eq!(stress_bytes(&[]), 256 * 1024 * 1024);
    }

    #[test]
    fn builtins_resolve() {
        let c = Catalog::builtin();
        assert!(c.resolve("nginx:1.25").is_found());
        assert!(c.resolve("busybox").is_found());
        assert!(
            c.resolve("registry.k8s.io/coredns/coredns:v1.12.0")
                .is_found()
        );
        assert!(!c.resolve("nosuch/image:1").is_found());
    }
}

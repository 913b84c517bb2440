//! `aiopslab cluster`: run a virtual cluster in the foreground.

use crate::error::usage;
use anyhow::Context;
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `aiopslab cluster`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// What to do with the cluster.
    #[command(subcommand)]
    pub command: ClusterCommand,
}

/// The cluster subcommands.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start a virtual cluster and serve it until Ctrl-C.
    ///
    /// Writes an admin kubeconfig (for you, the orchestrator and fault injectors) and an agent
    /// kubeconfig beside it (the restricted credentials agents get: no Chaos Mesh objects, no
    /// orchestrator namespace), prints both paths and the `export KUBECONFIG=...` line, then
    /// serves on 127.0.0.1 until interrupted. Use the real kubectl against it.
    Up(UpArgs),
}

/// Arguments of `aiopslab cluster up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Seed of everything random in the cluster (names, uids, IPs, behaviour).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to write the admin kubeconfig; the agent's is written beside it with `-agent`
    /// added to the file stem.
    #[arg(long, value_name = "PATH", default_value = ".aiopslab/kubeconfig")]
    pub kubeconfig: PathBuf,
    /// Port to listen on (127.0.0.1 only); 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Number of worker nodes besides the control plane.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Deploy an application as AIOpsLab does (repeatable): hotel-reservation,
    /// social-network (names, classes and namespaces are accepted).
    #[arg(long = "app", value_name = "APP")]
    pub apps: Vec<String>,
    /// With --app: do not run the apps' wrk2 workload.
    #[arg(long)]
    pub no_workload: bool,
}

/// Runs `aiopslab cluster ...`.
pub fn run(args: &ClusterArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        ClusterCommand::Up(up) => {
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(up_and_serve(up))
        }
    }
}

/// The agent kubeconfig path that goes with an admin kubeconfig path.
fn agent_path_for(admin: &Path) -> PathBuf {
    let stem = admin
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kubeconfig".into());
    let name = match admin.extension() {
        Some(ext) => format!("{stem}-agent.{}", ext.to_string_lossy()),
        None => format!("{stem}-agent"),
    };
    admin.with_file_name(name)
}

async fn up_and_serve(args: &UpArgs) -> anyhow::Result<ExitCode> {
    use aiopslab_sim::cluster::{ClusterConfig, VirtualCluster};

    let started = Instant::now();
    let admin_path = std::path::absolute(&args.kubeconfig)
        .with_context(|| format!("cannot resolve the path {}", args.kubeconfig.display()))?;
    let dir = admin_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    // The library writes its kubeconfigs into a private folder next to the requested file; we
    // then move them to the names the user asked for.
    let staging = dir.join(".aiopslab-staging");
    let apps = args
        .apps
        .iter()
        .map(|name| {
            aiopslab_metadata::app(name).ok_or_else(|| {
                let known: Vec<&str> = aiopslab_metadata::apps().iter().map(|a| a.key).collect();
                usage(anyhow::anyhow!(
                    "unknown application `{name}`; the virtual cluster can deploy: {}",
                    known.join(", ")
                ))
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut config = ClusterConfig::new(&staging).with_seed(args.seed);
    config.port = Some(args.port);
    config.workers = args.workers;
    let cluster = VirtualCluster::start(config).await.with_context(|| {
        format!(
            "cannot start the virtual cluster on 127.0.0.1:{} (is the port in use? try --port 0)",
            args.port
        )
    })?;
    let agent_path = agent_path_for(&admin_path);
    move_file(cluster.admin_kubeconfig_path(), &admin_path)?;
    move_file(cluster.agent_kubeconfig_path(), &agent_path)?;
    let _ = std::fs::remove_dir(&staging);
    for app in &apps {
        aiopslab_sim::apps::deploy::deploy_and_wait(&cluster, app.key)
            .await
            .with_context(|| format!("cannot deploy {} into the virtual cluster", app.name))?;
    }
    let elapsed = started.elapsed();

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Virtual cluster ready in {} ms (seed {}).",
        elapsed.as_millis(),
        args.seed
    )?;
    writeln!(out, "API server:        {}", cluster.url())?;
    writeln!(out, "Admin kubeconfig:  {}", admin_path.display())?;
    writeln!(out, "Agent kubeconfig:  {}", agent_path.display())?;
    if let Some(urls) = cluster.telemetry_urls() {
        writeln!(out, "{urls}")?;
    }
    for app in &apps {
        writeln!(out, "Deployed {} in namespace {}.", app.name, app.namespace)?;
    }
    writeln!(out)?;
    writeln!(out, "export KUBECONFIG={}", admin_path.display())?;
    writeln!(out)?;
    writeln!(out, "Press Ctrl-C to stop.")?;
    out.flush()?;
    drop(out);

    let workload = if apps.is_empty() || args.no_workload {
        None
    } else {
        let kubeconfig = admin_path.clone();
        let apps = apps.clone();
        Some(tokio::spawn(async move {
            if let Err(err) = run_workloads(&kubeconfig, &apps).await {
                eprintln!("workload stopped: {err:#}");
            }
        }))
    };

    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    if let Some(task) = workload {
        task.abort();
    }
    eprintln!("Stopping the virtual cluster...");
    cluster.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Keeps AIOpsLab's workload running: one `wrk2-job` at a time (as AIOpsLab creates it), each
/// app's in turn, with the problems' default parameters, until the task is aborted.
async fn run_workloads(kubeconfig: &Path, apps: &[&aiopslab_metadata::App]) -> anyhow::Result<()> {
    use aiopslab_k8s::{Cluster, ClusterTarget};
    use aiopslab_workload::{Script, Target, Wrk2};

    let cluster = Cluster::connect(&ClusterTarget::new(kubeconfig))
        .await
        .context("the workload cannot reach the virtual cluster")?;
    let wrk = Wrk2::problem_default();
    loop {
        for app in apps {
            let url = Target::for_app(app).resolve(&cluster).await?;
            let job = wrk.start(&cluster, &Script::for_app(app), &url).await?;
            let finished = job.wait(&cluster, job.default_limit()).await?;
            tracing::info!(
                app = app.key,
                requests = finished.report.requests,
                errors = finished.report.errors(),
                "wrk2 run finished"
            );
        }
    }
}

fn move_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    if from == to {
        return Ok(());
    }
    std::fs::rename(from, to)
        .with_context(|| format!("cannot write {} (from {})", to.display(), from.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_kubeconfig_sits_beside_the_admin_one() {
        assert_eq!(
            agent_path_for(Path::new("/tmp/x/kubeconfig")),
            PathBuf::from("/tmp/x/kubeconfig-agent")
        );
        assert_eq!(
            agent_path_for(Path::new("/tmp/x/admin.yaml")),
            PathBuf::from("/tmp/x/admin-agent.yaml")
        );
    }
}

//! mpath-console: the command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use mpath_console::bench::{self, BenchArgs};
use mpath_console::control::App;
use mpath_console::engines::{self, default_socket, Engines};
use mpath_console::perf::config::PerfConfig;
use mpath_console::scenario;

#[derive(Parser)]
#[command(name = "mpath-console", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the engines headless, driven through SPDK JSON-RPC sockets
    /// (the target like nvmf_tgt, the initiator like bdevperf -z).
    Serve(ServeArgs),
    /// Run the load without a screen: both engines on loopback with the
    /// HOWTO's scenario, bdevperf's table at the end.
    Bench(BenchArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// The target's RPC socket (nvmf_tgt's default path).
    #[arg(long, default_value = "/var/tmp/spdk.sock")]
    target_sock: PathBuf,
    /// The initiator's RPC socket (the HOWTO's bdevperf path).
    #[arg(long, default_value = "/tmp/bdevperf.sock")]
    initiator_sock: PathBuf,
    /// Also serve the target's RPC over TCP (like `rpc.py -s IP -p PORT`).
    #[arg(long, value_name = "HOST:PORT")]
    rpc_listen: Option<SocketAddr>,
    /// Allow --rpc-listen on a non-loopback address. The RPC has no
    /// authentication: anyone who reaches it controls the target.
    #[arg(long)]
    allow_remote_rpc: bool,
    /// Set-up to run at start: `howto` (the HOWTO on 127.0.0.1:4420 and
    /// 127.0.0.2:5520) or a JSON file of RPC calls.
    #[arg(long)]
    scenario: Option<String>,
    /// Which engines to serve: the target (like nvmf_tgt), the initiator
    /// (like bdevperf -z), or both.
    #[arg(long, value_enum, default_value_t = Role::Both)]
    role: Role,
    /// Answer only SPDK's methods and result keys (no mpath_* methods, no
    /// extra keys): stands in for real SPDK when testing `attach`.
    #[arg(long)]
    spdk_strict: bool,
    /// bdevperf's options for perform_tests (-q -o -w -t -M ...), as after
    /// `bdevperf -z`.
    #[arg(last = true)]
    perf: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Role {
    Target,
    Initiator,
    Both,
}

impl Role {
    fn serves(self, app: App) -> bool {
        match self {
            Role::Both => true,
            Role::Target => app == App::Target,
            Role::Initiator => app == App::Initiator,
        }
    }
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MPATH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.cmd {
        Some(Cmd::Serve(a)) => rt.block_on(serve(a)),
        Some(Cmd::Bench(a)) => rt.block_on(bench::run(a)),
        None => rt.block_on(serve(ServeArgs {
            target_sock: default_socket(App::Target),
            initiator_sock: default_socket(App::Initiator),
            rpc_listen: None,
            allow_remote_rpc: false,
            scenario: Some("howto".into()),
            role: Role::Both,
            spdk_strict: false,
            perf: vec![],
        })),
    }
}

async fn serve(a: ServeArgs) -> Result<()> {
    let mut perf_args = vec!["-z".to_string()];
    perf_args.extend(a.perf.iter().cloned());
    let perf =
        PerfConfig::from_args(&perf_args).map_err(|e| anyhow::anyhow!("bdevperf options: {e}"))?;
    let mut e = if a.spdk_strict {
        Engines::spdk_strict(perf)
    } else {
        Engines::new(perf)
    };
    let mut served = Vec::new();
    for (app, sock) in [
        (App::Target, &a.target_sock),
        (App::Initiator, &a.initiator_sock),
    ] {
        if a.role.serves(app) {
            e.serve_unix(app, sock).await?;
            served.push(format!(
                "{} RPC on {}",
                engines::app_name(app),
                sock.display()
            ));
        }
    }
    if let Some(addr) = a.rpc_listen {
        if !addr.ip().is_loopback() && !a.allow_remote_rpc {
            bail!(
                "--rpc-listen {addr} is not a loopback address; the RPC has no \
                 authentication. Pass --allow-remote-rpc to do it anyway."
            );
        }
        if !addr.ip().is_loopback() {
            eprintln!("warning: unauthenticated RPC reachable on {addr}");
        }
        // Over TCP, the role's application (the target when both).
        let app = if a.role == Role::Initiator {
            App::Initiator
        } else {
            App::Target
        };
        let bound = e.serve_tcp(app, addr).await?;
        served.push(format!("{} RPC on tcp {bound}", engines::app_name(app)));
    }
    match a.scenario.as_deref() {
        None => {}
        Some("howto") => {
            let steps = scenario::howto(&scenario::HowtoOpts {
                listeners: vec!["127.0.0.1:4420".parse()?, "127.0.0.2:5520".parse()?],
                paths: 2,
                hdgst: false,
                ddgst: false,
                policy: None,
            });
            e.run_steps(&steps).await?;
        }
        Some(file) => {
            let text = std::fs::read_to_string(file).with_context(|| format!("scenario {file}"))?;
            let steps = scenario::parse(file, &text)?;
            e.run_steps(&steps).await?;
        }
    }
    eprintln!(
        "mpath-console serve: {}\n  drive it with `spdk-rpc -s <socket>` (Ctrl-C stops)",
        served.join(", ")
    );
    wait_for_signal().await;
    Ok(())
}

/// Returns on SIGINT or SIGTERM, so sockets are removed on the way out.
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

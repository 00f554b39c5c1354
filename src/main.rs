//! mpath-console: the command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use mpath_console::rpc::{self, Router};
use mpath_console::target::Target;

#[derive(Parser)]
#[command(name = "mpath-console", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the engines headless, driven through SPDK JSON-RPC sockets.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The target's RPC socket (nvmf_tgt's default path).
    #[arg(long, default_value = "/var/tmp/spdk.sock")]
    target_sock: PathBuf,
    /// Also serve the target's RPC over TCP (like `rpc.py -s IP -p PORT`).
    #[arg(long, value_name = "HOST:PORT")]
    rpc_listen: Option<SocketAddr>,
    /// Allow --rpc-listen on a non-loopback address. The RPC has no
    /// authentication: anyone who reaches it controls the target.
    #[arg(long)]
    allow_remote_rpc: bool,
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
        None => rt.block_on(serve(ServeArgs {
            target_sock: "/var/tmp/spdk.sock".into(),
            rpc_listen: None,
            allow_remote_rpc: false,
        })),
    }
}

async fn serve(a: ServeArgs) -> Result<()> {
    let target = Target::new();
    let mut router = Router::new("nvmf_tgt");
    rpc::nvmf::register(&mut router, &target);
    rpc::bdev::register(&mut router, &target);
    let router = Arc::new(router);
    let unix = rpc::serve_unix(&a.target_sock, router.clone())
        .await
        .with_context(|| format!("target RPC socket {}", a.target_sock.display()))?;
    eprintln!(
        "mpath-console serve: target RPC on {} (drive it with `spdk-rpc -s {}`)",
        a.target_sock.display(),
        a.target_sock.display()
    );
    let _tcp = match a.rpc_listen {
        Some(addr) => {
            if !addr.ip().is_loopback() && !a.allow_remote_rpc {
                bail!(
                    "--rpc-listen {addr} is not a loopback address; the RPC has no \
                     authentication. Pass --allow-remote-rpc to do it anyway."
                );
            }
            if !addr.ip().is_loopback() {
                eprintln!("warning: unauthenticated RPC reachable on {addr}");
            }
            let s = rpc::serve_tcp(addr, router.clone()).await?;
            eprintln!("mpath-console serve: target RPC on tcp {addr}");
            Some(s)
        }
        None => None,
    };
    wait_for_signal().await;
    drop(unix);
    drop(target);
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

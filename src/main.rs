//! mpath-console: the command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use mpath_console::bench::{self, BenchArgs};
use mpath_console::control::{Engine, Remote};
use mpath_console::engines::{self, default_socket, Engines, ThreadArgs};
use mpath_console::perf::config::PerfConfig;
use mpath_console::rpc::{ClientError, RpcClient};
use mpath_console::{scenario, ui};

#[derive(Parser)]
#[command(
    name = "mpath-console",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// `run`'s options, for when no subcommand is given.
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the engines headless, driven through SPDK JSON-RPC sockets
    /// (the target like nvmf_tgt, the initiator like bdevperf -z).
    Serve(ServeArgs),
    /// Run the load without a screen: both engines on loopback with the
    /// HOWTO's scenario, bdevperf's table at the end.
    Bench(BenchArgs),
    /// The console on the embedded engines with the HOWTO's scenario (the
    /// default when no subcommand is given).
    Run(RunArgs),
    /// The console on real SPDK processes or another `mpath-console serve`,
    /// through their RPC sockets.
    Attach(AttachArgs),
    /// Pictures of the console for the README: runs the engines and the
    /// load for a few seconds, drives the console through the HOWTO's
    /// states and writes SVG (and PNG with rsvg-convert) files.
    Shot(ui::shot::ShotArgs),
    /// Reports this host's NVMe/TCP sockets to a console elsewhere: run it
    /// beside an SPDK application, point `attach --target-agent` or
    /// `--initiator-agent` at it. Serves `mpath_sock_get_connections` only.
    Agent(AgentArgs),
}

#[derive(Args, Clone, Default)]
struct UiArgs {
    /// Redraw and sampling period in ms (10 Hz by default).
    #[arg(long, default_value_t = 100)]
    refresh_ms: u64,
    /// Theme: dark, light, mono, or a JSON theme file.
    #[arg(long)]
    theme: Option<String>,
    /// Key overrides: a JSON file of {"action": "key" | ["keys"]}.
    #[arg(long)]
    keymap: Option<String>,
    /// Show the HOWTO's steps in a side panel (training mode).
    #[arg(long)]
    walkthrough: bool,
    /// The multipath bdev to show.
    #[arg(long, default_value = "Nvme0n1")]
    bdev: String,
    /// The subsystem to show.
    #[arg(long, default_value = scenario::HOWTO_NQN)]
    nqn: String,
}

#[derive(Args, Clone, Default)]
struct RunArgs {
    /// Start without load (space starts it).
    #[arg(long)]
    paused: bool,
    /// Set-up as a JSON list of RPC calls instead of the HOWTO's.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// The target's RPC socket [default: /var/tmp/spdk.sock when free,
    /// else one in a private runtime directory].
    #[arg(long, value_name = "PATH")]
    target_sock: Option<PathBuf>,
    /// The initiator's (bdevperf's) RPC socket [default: /tmp/bdevperf.sock
    /// when free, else one in a private runtime directory].
    #[arg(long, value_name = "PATH")]
    initiator_sock: Option<PathBuf>,
    #[command(flatten)]
    threads: ThreadArgs,
    #[command(flatten)]
    ui: UiArgs,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("apps").required(true).multiple(true)))]
struct AttachArgs {
    /// The target's RPC: a Unix socket path or HOST:PORT.
    #[arg(long, group = "apps")]
    target: Option<String>,
    /// The initiator's (bdevperf's) RPC: a Unix socket path or HOST:PORT.
    #[arg(long, group = "apps")]
    initiator: Option<String>,
    /// The `mpath-console agent` beside the target, for its sockets when
    /// the target does not report them itself (real SPDK): a Unix socket
    /// path or HOST:PORT.
    #[arg(long, value_name = "ADDR", requires = "target")]
    target_agent: Option<String>,
    /// The `mpath-console agent` beside the initiator (see
    /// --target-agent).
    #[arg(long, value_name = "ADDR", requires = "initiator")]
    initiator_agent: Option<String>,
    /// Open the console even if an application (or agent) does not answer
    /// yet, and keep trying; without it, one that cannot be reached at
    /// start is an error.
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    ui: UiArgs,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("listen").required(true).multiple(true)))]
struct AgentArgs {
    /// Serve on this Unix socket.
    #[arg(long, value_name = "PATH", group = "listen")]
    rpc_sock: Option<PathBuf>,
    /// Serve over TCP on this loopback address (127.0.0.0/8 or ::1);
    /// reach it from elsewhere through a tunnel.
    #[arg(long, value_name = "HOST:PORT", group = "listen", value_parser = loopback_addr)]
    rpc_listen: Option<SocketAddr>,
}

/// `--rpc-listen` of `agent`: a loopback socket address only. The RPC has
/// no authentication, and what it tells (every connection of the host) is
/// not for the network.
fn loopback_addr(s: &str) -> std::result::Result<SocketAddr, String> {
    let a: SocketAddr = s
        .parse()
        .map_err(|_| format!("not an IP:PORT address ({s})"))?;
    if !a.ip().is_loopback() {
        return Err(format!(
            "{a} is not a loopback address: the agent listens only on \
             127.0.0.0/8, ::1 or a Unix socket (--rpc-sock)"
        ));
    }
    Ok(a)
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
    /// 127.0.0.2:5520, or free ports on those addresses when taken, as
    /// printed at start) or a JSON file of RPC calls.
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
    #[command(flatten)]
    threads: ThreadArgs,
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
    fn serves(self, app: Engine) -> bool {
        match self {
            Role::Both => true,
            Role::Target => app == Engine::Target,
            Role::Initiator => app == Engine::Initiator,
        }
    }
}

fn main() -> std::process::ExitCode {
    // Usage and start-up errors are one message, never a backtrace (which
    // anyhow's `Debug` adds under RUST_BACKTRACE).
    match start() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpath-console: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn start() -> Result<()> {
    let cli = Cli::parse();
    let screen = matches!(cli.cmd, None | Some(Cmd::Run(_)) | Some(Cmd::Attach(_)));
    init_logging(screen)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.cmd {
        Some(Cmd::Serve(a)) => rt.block_on(serve(a)),
        Some(Cmd::Bench(a)) => rt.block_on(bench::run(a)),
        Some(Cmd::Run(a)) => rt.block_on(run(a)),
        Some(Cmd::Attach(a)) => rt.block_on(attach(a)),
        Some(Cmd::Shot(a)) => rt.block_on(ui::shot::run(a)),
        Some(Cmd::Agent(a)) => rt.block_on(agent(a)),
        None => rt.block_on(run(cli.run)),
    }
}

/// Logs go to stderr, except under the full-screen console, where they
/// would tear the screen: there only to `MPATH_LOG_FILE` if set.
fn init_logging(screen: bool) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MPATH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let b = tracing_subscriber::fmt().with_env_filter(filter);
    match (screen, std::env::var_os("MPATH_LOG_FILE")) {
        (_, Some(f)) => {
            let file = std::fs::File::create(&f)
                .with_context(|| format!("MPATH_LOG_FILE {}", f.to_string_lossy()))?;
            b.with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        (false, None) => b.with_writer(std::io::stderr).init(),
        (true, None) => {}
    }
    Ok(())
}

impl UiArgs {
    fn opts(&self, paused: bool) -> ui::UiOpts {
        ui::UiOpts {
            refresh_ms: self.refresh_ms,
            theme: self.theme.clone(),
            walkthrough: self.walkthrough,
            bdev: self.bdev.clone(),
            nqn: self.nqn.clone(),
            paused,
            keymap: self.keymap.clone(),
        }
    }
}

async fn run(a: RunArgs) -> Result<()> {
    let opts = a.ui.opts(a.paused);
    // Theme and keymap errors are reported before anything starts.
    ui::make_app(&opts)?;
    let perf = PerfConfig::howto_load();
    let mut e = Engines::with_threads(perf, false, a.threads);
    for (app, sock) in [
        (Engine::Target, &a.target_sock),
        (Engine::Initiator, &a.initiator_sock),
    ] {
        let path = sock.clone().unwrap_or_else(|| default_socket(app));
        e.serve_unix(app, &path).await?;
    }
    let steps = match &a.scenario {
        Some(f) => {
            let name = f.display().to_string();
            let text = std::fs::read_to_string(f).with_context(|| format!("scenario {name}"))?;
            scenario::parse(&name, &text)?
        }
        None => scenario::howto(&scenario::HowtoOpts {
            listeners: scenario::howto_listeners()?,
            paths: 2,
            hdgst: false,
            ddgst: false,
            policy: None,
            reconnect_delay_sec: 10,
        }),
    };
    e.run_steps(&steps).await?;
    let r = ui::run(e.control(), opts).await;
    e.bdevperf.stop();
    r
}

async fn attach(a: AttachArgs) -> Result<()> {
    let opts = a.ui.opts(true);
    ui::make_app(&opts)?;
    if !a.wait {
        for (what, addr) in [
            ("target RPC", &a.target),
            ("initiator RPC", &a.initiator),
            ("target agent", &a.target_agent),
            ("initiator agent", &a.initiator_agent),
        ] {
            if let Some(addr) = addr {
                reachable(what, addr).await?;
            }
        }
    }
    let control = Remote::new(a.target, a.initiator).with_agents(a.target_agent, a.initiator_agent);
    ui::run(std::sync::Arc::new(control), opts).await
}

/// Errs, naming the socket, when nothing answers at `addr`.
async fn reachable(what: &str, addr: &str) -> Result<()> {
    let timeout = std::time::Duration::from_secs(5);
    match RpcClient::connect_timeout(addr, timeout).await {
        Ok(_) => Ok(()),
        Err(e) => bail!(
            "{what} {addr}: {}\n  (start it first, or pass --wait to open the console \
             and keep trying)",
            match e {
                ClientError::Io(e) => e
                    .to_string()
                    .strip_prefix(&format!("cannot connect to {addr}: "))
                    .map(String::from)
                    .unwrap_or_else(|| e.to_string()),
                e => e.to_string(),
            }
        ),
    }
}

/// `mpath-console agent`: `mpath_sock_get_connections` for this host.
async fn agent(a: AgentArgs) -> Result<()> {
    let router = std::sync::Arc::new(mpath_console::rpc::sock::agent_router());
    let mut servers = Vec::new();
    let mut served = Vec::new();
    if let Some(p) = &a.rpc_sock {
        let s = mpath_console::rpc::serve_unix(p, router.clone())
            .await
            .with_context(|| format!("agent RPC socket {}", p.display()))?;
        servers.push(s);
        served.push(p.display().to_string());
    }
    if let Some(addr) = a.rpc_listen {
        let s = mpath_console::rpc::serve_tcp(addr, router.clone())
            .await
            .with_context(|| format!("agent RPC on {addr}"))?;
        served.push(format!("tcp {}", s.local_addr().unwrap_or(addr)));
        servers.push(s);
    }
    eprintln!(
        "mpath-console agent: this host's NVMe/TCP sockets on {} (Ctrl-C stops)",
        served.join(", ")
    );
    wait_for_signal().await;
    drop(servers);
    Ok(())
}

async fn serve(a: ServeArgs) -> Result<()> {
    let mut perf_args = vec!["-z".to_string()];
    perf_args.extend(a.perf.iter().cloned());
    let perf =
        PerfConfig::from_args(&perf_args).map_err(|e| anyhow::anyhow!("bdevperf options: {e}"))?;
    let mut e = Engines::with_threads(perf, a.spdk_strict, a.threads);
    let mut served = Vec::new();
    for (app, sock) in [
        (Engine::Target, &a.target_sock),
        (Engine::Initiator, &a.initiator_sock),
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
            Engine::Initiator
        } else {
            Engine::Target
        };
        let bound = e.serve_tcp(app, addr).await?;
        served.push(format!("{} RPC on tcp {bound}", engines::app_name(app)));
    }
    match a.scenario.as_deref() {
        None => {}
        Some("howto") => {
            // The HOWTO's ports when free; else others on the same
            // addresses (as `run` does), said in the start-up line.
            let listeners = scenario::howto_listeners()?;
            served.push(format!(
                "HOWTO listeners on {}",
                listeners
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
            let steps = scenario::howto(&scenario::HowtoOpts {
                listeners,
                paths: 2,
                hdgst: false,
                ddgst: false,
                policy: None,
                reconnect_delay_sec: 10,
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

//! The embedded engines together: the target, the initiator with its
//! bdevperf, their RPC routers, and the sockets that serve them — what
//! `serve`, `run`, `bench` and `shot` start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::control::{Control, Embedded, Engine};
use crate::host::Initiator;
use crate::perf::bdevperf::Bdevperf;
use crate::perf::config::PerfConfig;
use crate::rpc::{self, EngineThread, Router, RpcServer};
use crate::scenario::Step;
use crate::target::Target;

pub struct Engines {
    pub target: Arc<Target>,
    pub initiator: Arc<Initiator>,
    pub bdevperf: Arc<Bdevperf>,
    pub target_router: Arc<Router>,
    pub initiator_router: Arc<Router>,
    servers: Vec<RpcServer>,
    target_location: String,
    initiator_location: String,
}

/// Where the engines run, on the command line of `bench`, `run` and
/// `serve`.
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub struct ThreadArgs {
    /// Run the target and the initiator on a thread each (as SPDK runs
    /// nvmf_tgt and bdevperf on a reactor each) instead of sharing one
    /// runtime: more IOPS at high queue depths, far more latency at low
    /// ones (every hop between the engines wakes a thread).
    #[arg(long)]
    pub engine_threads: bool,
}

impl Engines {
    /// Both engines, empty, with bdevperf's parameters from `perf`, on
    /// the caller's runtime.
    pub fn new(perf: PerfConfig) -> Engines {
        Engines::build(perf, true, false)
    }

    /// Like [`Engines::new`] but answering only SPDK's methods and keys
    /// (no `mpath_*` methods, no extra keys): a stand-in for real SPDK.
    pub fn spdk_strict(perf: PerfConfig) -> Engines {
        Engines::build(perf, false, false)
    }

    /// [`Engines::new`] or [`Engines::spdk_strict`], with each engine on a
    /// thread of its own if `threads` says so (see `rpc::engine_thread`).
    /// Not the default: at queue depth 1 every hop between the engines
    /// then wakes a parked thread, which costs more than the whole I/O does
    /// on one runtime.
    pub fn with_threads(perf: PerfConfig, spdk_strict: bool, threads: ThreadArgs) -> Engines {
        Engines::build(perf, !spdk_strict, threads.engine_threads)
    }

    fn build(perf: PerfConfig, extras: bool, own_threads: bool) -> Engines {
        let target = Target::new();
        let initiator = Initiator::new();
        let bdevperf = Arc::new(Bdevperf::new(perf));
        let mut tr = Router::new("nvmf_tgt");
        if own_threads {
            on_own_thread(&mut tr, "mpath-target");
        }
        rpc::nvmf::register(&mut tr, &target);
        rpc::bdev::register(&mut tr, &target);
        if extras {
            rpc::fault::register(&mut tr, &target);
            rpc::sock::register(&mut tr, rpc::sock::target_ports(&target));
        }
        let mut ir = Router::new("bdevperf");
        if own_threads {
            on_own_thread(&mut ir, "mpath-initiator");
        }
        rpc::bdev_nvme::register(&mut ir, &initiator, extras);
        rpc::bdevperf::register(&mut ir, &initiator, &bdevperf, extras);
        if extras {
            rpc::sock::register(&mut ir, rpc::sock::initiator_ports(&initiator));
        }
        Engines {
            target,
            initiator,
            bdevperf,
            target_router: Arc::new(tr),
            initiator_router: Arc::new(ir),
            servers: Vec::new(),
            target_location: "in-process".into(),
            initiator_location: "in-process".into(),
        }
    }

    /// Serves one application's RPC on a Unix socket.
    pub async fn serve_unix(&mut self, app: Engine, path: &Path) -> Result<()> {
        let router = self.router(app);
        let s = rpc::serve_unix(path, router)
            .await
            .with_context(|| format!("{} RPC socket {}", app_name(app), path.display()))?;
        self.servers.push(s);
        *self.location_mut(app) = path.display().to_string();
        Ok(())
    }

    /// Serves one application's RPC over TCP (like `rpc.py -s IP -p PORT`).
    pub async fn serve_tcp(&mut self, app: Engine, addr: SocketAddr) -> Result<SocketAddr> {
        let s = rpc::serve_tcp(addr, self.router(app))
            .await
            .with_context(|| format!("{} RPC on {addr}", app_name(app)))?;
        let bound = s.local_addr().unwrap_or(addr);
        self.servers.push(s);
        Ok(bound)
    }

    fn router(&self, app: Engine) -> Arc<Router> {
        match app {
            Engine::Target => self.target_router.clone(),
            Engine::Initiator => self.initiator_router.clone(),
        }
    }

    fn location_mut(&mut self, app: Engine) -> &mut String {
        match app {
            Engine::Target => &mut self.target_location,
            Engine::Initiator => &mut self.initiator_location,
        }
    }

    /// Runs set-up steps in order; the first failure stops and names the
    /// step.
    pub async fn run_steps(&self, steps: &[Step]) -> Result<()> {
        for (i, s) in steps.iter().enumerate() {
            self.router(s.app)
                .call(&s.method, s.params.clone())
                .await
                .map_err(|e| anyhow::anyhow!("step {} ({}): {e}", i + 1, s.method))?;
        }
        Ok(())
    }

    /// The in-process `Control` over both engines.
    pub fn control(&self) -> Arc<dyn Control> {
        Arc::new(Embedded {
            target: self.target_router.clone(),
            initiator: self.initiator_router.clone(),
            target_sock: self.target_location.clone(),
            initiator_sock: self.initiator_location.clone(),
        })
    }

    /// Starts `perform_tests` in the background, as bdevperf.py would.
    pub fn start_load(&self, params: Option<serde_json::Value>) {
        let r = self.initiator_router.clone();
        tokio::spawn(async move {
            if let Err(e) = r.call("perform_tests", params).await {
                tracing::warn!("perform_tests: {e}");
            }
        });
    }
}

/// Runs an engine on a thread of its own (see `rpc::engine_thread`);
/// should the thread not start, on the caller's runtime.
fn on_own_thread(router: &mut Router, name: &str) {
    match EngineThread::start(name) {
        Ok(t) => router.run_on(t),
        Err(e) => tracing::warn!("{name}: no thread of its own ({e}); sharing the runtime"),
    }
}

pub fn app_name(app: Engine) -> &'static str {
    match app {
        Engine::Target => "target",
        Engine::Initiator => "initiator",
    }
}

/// SPDK's default socket path for an application if it is free (no live
/// process holds it), else one in a private runtime directory.
pub fn default_socket(app: Engine) -> PathBuf {
    let spdk = match app {
        Engine::Target => "/var/tmp/spdk.sock",
        Engine::Initiator => "/tmp/bdevperf.sock",
    };
    let p = PathBuf::from(spdk);
    if socket_free(&p) {
        return p;
    }
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("mpath-console-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir.join(match app {
        Engine::Target => "spdk.sock",
        Engine::Initiator => "bdevperf.sock",
    })
}

/// A socket path is free when nothing answers on it.
fn socket_free(p: &Path) -> bool {
    !p.exists() || std::os::unix::net::UnixStream::connect(p).is_err()
}

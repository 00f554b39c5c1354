//! `Control`: how the console (and `bench`) act on the engines. Every action
//! is one SPDK JSON-RPC call to one application — the target (`nvmf_tgt`)
//! or the initiator (`bdevperf`). Two implementations: in-process dispatch
//! to the embedded engines' routers, and sockets to real SPDK or another
//! `mpath-console serve`. The UI sees only this, so attaching to SPDK is not
//! a second UI.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;

use crate::rpc::{ClientError, Router, RpcClient, RpcError};
pub use crate::scenario::Engine;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ControlError {
    /// The application answered with a JSON-RPC error.
    #[error("{0}")]
    Rpc(RpcError),
    /// The application cannot be reached (no socket, connection lost).
    #[error("{0}")]
    Unreachable(String),
    /// This control has no such application.
    #[error("no {0:?} application is attached")]
    Absent(Engine),
}

pub type CallFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, ControlError>> + Send + 'a>>;

pub trait Control: Send + Sync {
    fn call<'a>(&'a self, app: Engine, method: &'a str, params: Option<Value>) -> CallFuture<'a>;
    /// A call whose answer comes only when the work it starts ends
    /// (`perform_tests` answers when its run does): no per-call deadline,
    /// and nothing else waits behind it.
    fn call_long<'a>(
        &'a self,
        app: Engine,
        method: &'a str,
        params: Option<Value>,
    ) -> CallFuture<'a> {
        self.call(app, method, params)
    }
    /// Whether this control can reach `app` at all.
    fn has(&self, app: Engine) -> bool;
    /// `embedded` or `attached`, for the header.
    fn mode(&self) -> &'static str;
    /// Where `app` is: a socket path, an address, or "in-process".
    fn location(&self, app: Engine) -> String;
    /// Where the applications' sockets are read: this process's kernel
    /// unless the control says otherwise.
    fn sock_source(&self) -> SockSource {
        SockSource::Local
    }
}

/// Where the Connections pane's sockets come from.
#[derive(Clone)]
pub enum SockSource {
    /// This process's kernel: the engines run in this process, so their
    /// sockets are in its network namespace.
    Local,
    /// Applications that may run on other hosts: each one is asked for its
    /// own sockets (`mpath_sock_get_connections`) when it has the method,
    /// else its agent (`mpath-console agent` beside it), reached through
    /// this control's target and initiator; with neither, that side's
    /// sockets are unknown. The local kernel is never read for them.
    PerApp(Arc<Remote>),
}

/// The embedded engines, called in-process (and also served on sockets by
/// whoever owns them).
pub struct Embedded {
    pub target: Arc<Router>,
    pub initiator: Arc<Router>,
    pub target_sock: String,
    pub initiator_sock: String,
}

impl Control for Embedded {
    fn call<'a>(&'a self, app: Engine, method: &'a str, params: Option<Value>) -> CallFuture<'a> {
        let r = match app {
            Engine::Target => self.target.clone(),
            Engine::Initiator => self.initiator.clone(),
        };
        Box::pin(async move { r.call(method, params).await.map_err(ControlError::Rpc) })
    }

    fn has(&self, _: Engine) -> bool {
        true
    }

    fn mode(&self) -> &'static str {
        "embedded"
    }

    fn location(&self, app: Engine) -> String {
        match app {
            Engine::Target => self.target_sock.clone(),
            Engine::Initiator => self.initiator_sock.clone(),
        }
    }
}

/// Applications behind RPC sockets (Unix path or HOST:PORT). A lost
/// connection is re-established on the next call.
pub struct Remote {
    target: Option<Endpoint>,
    initiator: Option<Endpoint>,
    /// The agents that report each application's sockets, where the
    /// application cannot (see [`SockSource::PerApp`]).
    agents: Option<Arc<Remote>>,
}

struct Endpoint {
    addr: String,
    client: Mutex<Option<RpcClient>>,
}

/// Per-call deadline: the sampler must never hang on a stuck application.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Deadline of a long call: longer than any run bdevperf accepts
/// (`time_in_sec` is an int32), so in effect none.
const LONG_CALL_TIMEOUT: Duration = Duration::from_secs(1 << 31);

impl Remote {
    pub fn new(target: Option<String>, initiator: Option<String>) -> Remote {
        let ep = |a: String| Endpoint {
            addr: a,
            client: Mutex::new(None),
        };
        Remote {
            target: target.map(ep),
            initiator: initiator.map(ep),
            agents: None,
        }
    }

    /// The same applications, with `mpath-console agent`s beside them
    /// (Unix socket paths or HOST:PORT) to report their sockets.
    pub fn with_agents(
        mut self,
        target_agent: Option<String>,
        initiator_agent: Option<String>,
    ) -> Remote {
        self.agents = Some(Arc::new(Remote::new(target_agent, initiator_agent)));
        self
    }

    fn endpoint(&self, app: Engine) -> Option<&Endpoint> {
        match app {
            Engine::Target => self.target.as_ref(),
            Engine::Initiator => self.initiator.as_ref(),
        }
    }
}

impl Control for Remote {
    fn call<'a>(&'a self, app: Engine, method: &'a str, params: Option<Value>) -> CallFuture<'a> {
        Box::pin(async move {
            let ep = self.endpoint(app).ok_or(ControlError::Absent(app))?;
            let mut guard = ep.client.lock().await;
            if guard.is_none() {
                let c = RpcClient::connect_timeout(&ep.addr, CALL_TIMEOUT)
                    .await
                    .map_err(|e| ControlError::Unreachable(format!("{}: {e}", ep.addr)))?;
                *guard = Some(c);
            }
            let Some(c) = guard.as_mut() else {
                return Err(ControlError::Unreachable(ep.addr.clone()));
            };
            match c.call(method, params).await {
                Ok(v) => Ok(v),
                Err(ClientError::Rpc(e)) => Err(ControlError::Rpc(e)),
                Err(e) => {
                    // Drop the connection; the next call reconnects.
                    *guard = None;
                    Err(ControlError::Unreachable(format!("{}: {e}", ep.addr)))
                }
            }
        })
    }

    /// On a connection of its own: the shared one serves the sampler's
    /// polls, which must not queue behind a run that lasts minutes, and
    /// its 5 s deadline would cut the call off (SPDK's server answers
    /// other connections while a `perform_tests` is outstanding).
    fn call_long<'a>(
        &'a self,
        app: Engine,
        method: &'a str,
        params: Option<Value>,
    ) -> CallFuture<'a> {
        Box::pin(async move {
            let ep = self.endpoint(app).ok_or(ControlError::Absent(app))?;
            let mut c = RpcClient::connect_timeout(&ep.addr, CALL_TIMEOUT)
                .await
                .map_err(|e| ControlError::Unreachable(format!("{}: {e}", ep.addr)))?;
            c.set_timeout(LONG_CALL_TIMEOUT);
            match c.call(method, params).await {
                Ok(v) => Ok(v),
                Err(ClientError::Rpc(e)) => Err(ControlError::Rpc(e)),
                Err(e) => Err(ControlError::Unreachable(format!("{}: {e}", ep.addr))),
            }
        })
    }

    fn has(&self, app: Engine) -> bool {
        self.endpoint(app).is_some()
    }

    fn mode(&self) -> &'static str {
        "attached"
    }

    fn location(&self, app: Engine) -> String {
        self.endpoint(app)
            .map(|e| e.addr.clone())
            .unwrap_or_default()
    }

    fn sock_source(&self) -> SockSource {
        SockSource::PerApp(
            self.agents
                .clone()
                .unwrap_or_else(|| Arc::new(Remote::new(None, None))),
        )
    }
}

//! The Connections pane's sockets, read where the control says they are
//! ([`SockSource`]): this process's kernel for the embedded engines, else
//! each application's own host — the application itself when it has
//! `mpath_sock_get_connections`, else the agent beside it — and, where
//! neither can tell, a plain line saying that side's sockets are unknown.
//! The sampler calls [`read`] once per refresh and joins the rows to paths
//! by 4-tuple, whichever host they came from.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::control::{Control, Engine, SockSource};
use crate::engines::app_name;
use crate::rpc::sock::{parse_result, METHOD};
use crate::sockstat::{self, TcpConn};

/// Deadline of one socket read.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// One read of both sides' sockets.
#[derive(Clone, Debug)]
pub struct SockRead {
    /// The sockets; Err when this process's kernel could not be read.
    pub conns: Result<Vec<TcpConn>, String>,
    /// When the counters were read (the middle of the read).
    pub at: Instant,
    /// Sides whose sockets are unknown, one plain line each.
    pub unknown: Vec<String>,
}

/// Whether each application has the method (target, initiator), from its
/// `rpc_get_methods`; `None` while not known.
pub type HasMethod = [Option<bool>; 2];

/// Reads the sockets on `ports` (the listeners' ports) from `src`.
pub async fn read(src: &SockSource, c: &dyn Control, ports: Vec<u16>, has: HasMethod) -> SockRead {
    let t0 = Instant::now();
    match src {
        SockSource::Local => {
            let filter = sockstat::Filter {
                ports,
                states: sockstat::Filter::CONNECTED,
            };
            let r = tokio::task::spawn_blocking(move || {
                let t0 = Instant::now();
                let r = sockstat::query(&filter).map_err(|e| format!("sock_diag: {e}"));
                (r, t0 + t0.elapsed() / 2)
            })
            .await;
            let (conns, at) = r.unwrap_or_else(|e| (Err(format!("sock_diag: {e}")), t0));
            SockRead {
                conns,
                at,
                unknown: vec![],
            }
        }
        SockSource::PerApp(agents) => {
            let side = |app: Engine, has: Option<bool>| {
                let ports = ports.clone();
                async move {
                    if !c.has(app) {
                        return Ok(vec![]);
                    }
                    let name = app_name(app);
                    let (ctl, from): (&dyn Control, String) = if has == Some(true) {
                        (c, c.location(app))
                    } else if agents.has(app) {
                        (&**agents, format!("agent {}", agents.location(app)))
                    } else if has.is_none() {
                        return Err(format!("{name} sockets unknown: no answer from the {name}"));
                    } else {
                        return Err(format!("{name} sockets unknown: no agent"));
                    };
                    let p = Some(json!({ "ports": ports }));
                    let v = match tokio::time::timeout(READ_TIMEOUT, ctl.call(app, METHOD, p)).await
                    {
                        Ok(Ok(v)) => v,
                        Ok(Err(e)) => return Err(format!("{name} sockets unknown: {from}: {e}")),
                        Err(_) => {
                            return Err(format!(
                                "{name} sockets unknown: {from}: no answer within {} s",
                                READ_TIMEOUT.as_secs()
                            ))
                        }
                    };
                    let conns = parse_result(&v)
                        .map_err(|e| format!("{name} sockets unknown: {from}: {e}"))?;
                    Ok(own(app, conns, &ports))
                }
            };
            let (t, i) = tokio::join!(
                side(Engine::Target, has[0]),
                side(Engine::Initiator, has[1])
            );
            let at = t0 + t0.elapsed() / 2;
            let mut conns = Vec::new();
            let mut unknown = Vec::new();
            for r in [t, i] {
                match r {
                    Ok(mut v) => conns.append(&mut v),
                    Err(e) => unknown.push(e),
                }
            }
            SockRead {
                conns: Ok(conns),
                at,
                unknown,
            }
        }
    }
}

/// The sockets that are `app`'s own end: the target's are on its
/// listeners' ports, the initiator's connect to them. (A host running both
/// reports both ends to each; each side keeps its own, so none is shown
/// twice.)
pub fn own(app: Engine, mut conns: Vec<TcpConn>, ports: &[u16]) -> Vec<TcpConn> {
    conns.retain(|c| match app {
        Engine::Target => ports.contains(&c.local.port()),
        Engine::Initiator => ports.contains(&c.peer.port()),
    });
    conns
}

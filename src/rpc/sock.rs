//! `mpath_sock_get_connections`: the kernel's view (sock_diag, as `ss -tni`
//! has it) of the NVMe/TCP sockets of the host this process runs on, so
//! that a console on another host sees each application's own sockets.
//!
//! Read-only. Params (all optional):
//!
//! * `ports`: TCP ports; a socket is listed when its local or peer port is
//!   one of them. Absent: the ports this process serves or connects to
//!   when it knows them (the target's listeners, the initiator's
//!   controllers), else every TCP port; `[]` means every TCP port.
//!
//! Result: `{"ports": [...], "connections": [...]}`, `ports` being the
//! filter applied (`[]`: every port), each connection in the form of
//! [`TcpConn::to_json`]. Connected sockets only (the states plain `ss -t`
//! shows: no listening, TIME-WAIT or half-open ones).
//!
//! Errors: -32602 "Invalid parameters" for anything but the above; -32603
//! with the kernel's error when sock_diag fails.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::params::{self, decode};
use super::{Router, RpcError, RpcResult};
use crate::host::Initiator;
use crate::sockstat::{self, Filter, TcpConn};
use crate::target::Target;

pub const METHOD: &str = "mpath_sock_get_connections";

/// The ports to list when the caller names none; `None`: every TCP port.
pub type DefaultPorts = Arc<dyn Fn() -> Option<Vec<u16>> + Send + Sync>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Req {
    #[serde(default, deserialize_with = "params::non_null")]
    ports: Option<Vec<u16>>,
}

/// Registers the method; `defaults` gives the ports when params name none.
pub fn register(r: &mut Router, defaults: DefaultPorts) {
    r.register_fn(METHOD, move |p| {
        let defaults = defaults.clone();
        async move { get_connections(p, &*defaults).await }
    });
}

/// The target's default ports: its listeners'.
pub fn target_ports(t: &Arc<Target>) -> DefaultPorts {
    let t = t.clone();
    Arc::new(move || {
        let mut v: Vec<u16> = t
            .subsystems()
            .iter()
            .flat_map(|s| {
                s.config()
                    .listeners
                    .iter()
                    .map(|l| l.addr.port())
                    .collect::<Vec<_>>()
            })
            .collect();
        known(&mut v)
    })
}

/// The initiator's default ports: those of the listeners its controllers
/// connect to.
pub fn initiator_ports(i: &Arc<Initiator>) -> DefaultPorts {
    let i = i.clone();
    Arc::new(move || {
        let mut v: Vec<u16> = i.with_ctrlrs(|m| {
            m.values()
                .flat_map(|g| g.ctrlrs.iter())
                .filter_map(|c| c.trid().trsvcid.parse().ok())
                .collect()
        });
        known(&mut v)
    })
}

fn known(v: &mut Vec<u16>) -> Option<Vec<u16>> {
    v.sort_unstable();
    v.dedup();
    (!v.is_empty()).then(|| std::mem::take(v))
}

/// The method alone: a router with it and SPDK's framework methods
/// (`rpc_get_methods`, `spdk_get_version`), for `mpath-console agent`.
/// Its default is every TCP port: it knows nothing of the application
/// beside it.
pub fn agent_router() -> Router {
    let mut r = Router::new("mpath-console agent");
    register(&mut r, Arc::new(|| None));
    r
}

async fn get_connections(
    p: Option<Value>,
    defaults: &(dyn Fn() -> Option<Vec<u16>> + Send + Sync),
) -> RpcResult {
    let req: Req = decode(p, RpcError::invalid_params)?;
    let ports = match req.ports {
        Some(mut v) => {
            v.sort_unstable();
            v.dedup();
            v
        }
        None => defaults().unwrap_or_default(),
    };
    let filter = Filter {
        ports: ports.clone(),
        states: Filter::CONNECTED,
    };
    let conns = tokio::task::spawn_blocking(move || sockstat::query(&filter))
        .await
        .map_err(|e| RpcError::internal_msg(format!("sock_diag: {e}")))?
        .map_err(|e| RpcError::internal_msg(format!("sock_diag: {e}")))?;
    Ok(json!({
        "ports": ports,
        "connections": conns.iter().map(TcpConn::to_json).collect::<Vec<_>>(),
    }))
}

/// Reads a result of the method back: the connections, or what is wrong.
pub fn parse_result(v: &Value) -> Result<Vec<TcpConn>, String> {
    v["connections"]
        .as_array()
        .ok_or_else(|| format!("{METHOD}: no connections list in the result"))?
        .iter()
        .map(TcpConn::from_json)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{METHOD}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn router(defaults: Option<Vec<u16>>) -> Router {
        let mut r = Router::new("t");
        register(&mut r, Arc::new(move || defaults.clone()));
        r
    }

    #[tokio::test]
    async fn lists_a_loopback_connection_from_both_ends() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (_s, _) = l.accept().unwrap();
        let client = c.local_addr().unwrap().to_string();
        let server = format!("127.0.0.1:{port}");

        // Named ports.
        let v = router(None)
            .call(METHOD, Some(json!({"ports": [port, port]})))
            .await
            .unwrap();
        assert_eq!(v["ports"], json!([port]));
        let conns = parse_result(&v).unwrap();
        let ends: Vec<(String, String)> = conns
            .iter()
            .map(|c| (c.local.to_string(), c.peer.to_string()))
            .collect();
        assert!(ends.contains(&(server.clone(), client.clone())), "{v}");
        assert!(ends.contains(&(client.clone(), server.clone())), "{v}");
        let row = v["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["local_address"] == server.as_str())
            .unwrap();
        assert_eq!(row["state"], "ESTAB");
        for k in ["recv_q", "send_q", "cookie"] {
            assert!(row[k].is_u64(), "{k}: {row}");
        }
        for k in ["rtt_us", "bytes_acked", "bytes_received"] {
            assert!(row["tcp_info"][k].is_u64(), "tcp_info.{k}: {row}");
        }

        // The process's own ports by default; every port when it has none.
        let v = router(Some(vec![port])).call(METHOD, None).await.unwrap();
        assert_eq!(v["ports"], json!([port]));
        assert_eq!(parse_result(&v).unwrap().len(), conns.len());
        let v = router(None).call(METHOD, None).await.unwrap();
        assert_eq!(v["ports"], json!([]));
        assert!(parse_result(&v).unwrap().len() >= 2);
        let v = router(Some(vec![1]))
            .call(METHOD, Some(json!({"ports": []})))
            .await;
        assert_eq!(v.unwrap()["ports"], json!([]));
    }

    #[tokio::test]
    async fn bad_params_are_invalid_params() {
        let r = router(None);
        for p in [
            json!({"ports": [70000]}),
            json!({"ports": [-1]}),
            json!({"ports": "4420"}),
            json!({"ports": null}),
            json!({"port": [4420]}),
            json!([4420]),
        ] {
            let e = r.call(METHOD, Some(p.clone())).await.unwrap_err();
            assert_eq!(e.code, -32602, "{p}: {e}");
        }
    }

    #[test]
    fn agent_router_serves_only_the_method_and_identity() {
        let m = agent_router().methods();
        assert!(m.contains(&METHOD));
        assert!(m.contains(&"rpc_get_methods") && m.contains(&"spdk_get_version"));
        assert!(!m
            .iter()
            .any(|x| x.starts_with("nvmf_") || x.starts_with("bdev_")));
    }

    #[test]
    fn parse_result_names_what_is_wrong() {
        assert!(parse_result(&json!({}))
            .unwrap_err()
            .contains("connections"));
        let e = parse_result(&json!({"connections": [{"state": "ESTAB"}]})).unwrap_err();
        assert!(e.contains("local_address"), "{e}");
    }
}

//! Our own target methods (prefixed `mpath_`, so they can never clash with
//! SPDK's): fault injection for demos and tests.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::params::decode;
use super::{Router, RpcError, RpcResult};
use crate::target::Target;

pub fn register(r: &mut Router, t: &Arc<Target>) {
    let t = t.clone();
    r.register_fn("mpath_listener_drop_connections", move |p| {
        let t = t.clone();
        async move { drop_connections(&t, p) }
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenAddress {
    trtype: String,
    #[allow(dead_code)]
    adrfam: Option<String>,
    traddr: String,
    trsvcid: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DropReq {
    listen_address: ListenAddress,
}

/// Closes every connection that arrived on a listener address (of any
/// subsystem) without removing the listener, so hosts see a dropped path
/// and may reconnect at once. Returns how many were closed.
fn drop_connections(t: &Target, p: Option<Value>) -> RpcResult {
    let r: DropReq = decode(p, RpcError::invalid_params)?;
    let a = &r.listen_address;
    if !a.trtype.eq_ignore_ascii_case("tcp") {
        return Err(RpcError::invalid_params());
    }
    let ip: std::net::IpAddr = a.traddr.parse().map_err(|_| RpcError::invalid_params())?;
    let port: u16 = a.trsvcid.parse().map_err(|_| RpcError::invalid_params())?;
    Ok(json!(t.disconnect_listener_qpairs(
        std::net::SocketAddr::new(ip, port)
    )))
}

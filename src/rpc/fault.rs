//! Our own target methods (prefixed `mpath_`, so they can never clash with
//! SPDK's): fault injection on a listener address, for demos, tests and
//! `bench --chaos` (see `target::fault` for what each fault does).

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::nvmf::ListenAddress;
use super::params::decode;
use super::{Router, RpcError, RpcResult};
use crate::target::fault::{ListenerFault, MAX_DELAY_MS};
use crate::target::Target;

type Handler = fn(&Target, Option<Value>) -> RpcResult;

pub fn register(r: &mut Router, t: &Arc<Target>) {
    let methods: [(&str, Handler); 5] = [
        ("mpath_listener_drop_connections", drop_connections),
        ("mpath_listener_blackhole", blackhole),
        ("mpath_listener_delay", delay),
        ("mpath_listener_restore", restore),
        ("mpath_listener_get_faults", get_faults),
    ];
    for (name, f) in methods {
        let t = t.clone();
        r.register_fn(name, move |p| {
            let t = t.clone();
            async move { f(&t, p) }
        });
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenerReq {
    listen_address: ListenAddress,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DelayReq {
    listen_address: ListenAddress,
    delay_ms: u32,
}

/// The socket address of a TCP listener that some subsystem has.
fn listener_addr(t: &Target, a: &ListenAddress) -> Result<SocketAddr, RpcError> {
    let addr = a.to_addr().ok_or_else(|| {
        RpcError::invalid_params_msg("listen_address must be a TCP traddr and trsvcid")
    })?;
    let known = t
        .subsystems()
        .iter()
        .any(|ss| ss.config().listeners.iter().any(|l| l.addr == addr));
    if !known {
        return Err(RpcError::invalid_params_msg(format!(
            "no listener on {addr}"
        )));
    }
    Ok(addr)
}

fn listener(t: &Target, p: Option<Value>) -> Result<SocketAddr, RpcError> {
    let r: ListenerReq = decode(p, RpcError::invalid_params)?;
    listener_addr(t, &r.listen_address)
}

/// Closes every connection that arrived on a listener address (of any
/// subsystem) without removing the listener, so hosts see a dropped path
/// and may reconnect at once. Returns how many were closed.
fn drop_connections(t: &Target, p: Option<Value>) -> RpcResult {
    let addr = listener(t, p)?;
    Ok(json!(t.disconnect_listener_qpairs(addr)))
}

fn blackhole(t: &Target, p: Option<Value>) -> RpcResult {
    t.faults.set(listener(t, p)?, ListenerFault::Blackhole);
    Ok(json!(true))
}

fn delay(t: &Target, p: Option<Value>) -> RpcResult {
    let r: DelayReq = decode(p, RpcError::invalid_params)?;
    let addr = listener_addr(t, &r.listen_address)?;
    if r.delay_ms == 0 || r.delay_ms > MAX_DELAY_MS {
        return Err(RpcError::invalid_params_msg(format!(
            "delay_ms must be 1..={MAX_DELAY_MS}"
        )));
    }
    t.faults.set(
        addr,
        ListenerFault::Delay {
            delay_ms: r.delay_ms,
        },
    );
    Ok(json!(true))
}

/// Lifts any fault: delayed output goes out in order, and connections
/// that lived through a blackhole are closed (hosts reconnect).
fn restore(t: &Target, p: Option<Value>) -> RpcResult {
    t.faults.set(listener(t, p)?, ListenerFault::None);
    Ok(json!(true))
}

fn get_faults(t: &Target, p: Option<Value>) -> RpcResult {
    if p.as_ref().is_some_and(|v| !v.is_null() && v != &json!({})) {
        return Err(RpcError::invalid_params_msg("takes no parameters"));
    }
    let list: Vec<Value> = t
        .faults
        .active()
        .into_iter()
        .map(|(a, f)| {
            let mut v = json!({
                "listen_address": {
                    "trtype": "TCP",
                    "adrfam": if a.is_ipv4() { "IPv4" } else { "IPv6" },
                    "traddr": a.ip().to_string(),
                    "trsvcid": a.port().to_string(),
                }
            });
            if let (Value::Object(m), Value::Object(f)) = (&mut v, json!(f)) {
                m.extend(f);
            }
            v
        })
        .collect();
    Ok(Value::Array(list))
}

//! `bdev_nvme_send_cmd`: one raw NVMe command, admin or I/O, sent through an
//! attached controller, with its completion and data returned, base64
//! (URL-safe alphabet, padded) as SPDK's `module/bdev/nvme/nvme_rpc.c`
//! encodes them. The console reads reservations with it (Reservation
//! Report) and acts on them, so it works the same attached to real SPDK.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use super::params::decode_relaxed;
use super::{RpcError, RpcResult};
use crate::host::Initiator;
use crate::nvme::sqe::Sqe;

/// The largest data a command may carry here: SPDK's RPC takes whatever
/// fits its DMA allocation; 1 MiB keeps a hostile request from costing
/// more than the largest I/O.
const MAX_DATA: usize = 1 << 20;

#[derive(Deserialize)]
struct SendCmd {
    name: String,
    cmd_type: String,
    data_direction: String,
    cmdbuf: String,
    #[allow(dead_code)]
    timeout_ms: Option<u32>,
    data_len: Option<u32>,
    metadata_len: Option<u32>,
    data: Option<String>,
    metadata: Option<String>,
}

/// SPDK answers every decode failure of this method with -32602 and
/// strerror(EINVAL).
fn invalid() -> RpcError {
    RpcError::invalid_params_msg("Invalid argument")
}

pub async fn send_cmd(h: &Arc<Initiator>, p: Option<Value>) -> RpcResult {
    let r: SendCmd = decode_relaxed(p, invalid)?;
    let admin = match r.cmd_type.as_str() {
        "admin" => true,
        "io" => false,
        _ => return Err(invalid()),
    };
    let h2c = match r.data_direction.as_str() {
        "h2c" => true,
        "c2h" => false,
        _ => return Err(invalid()),
    };
    let raw = URL_SAFE.decode(&r.cmdbuf).map_err(|_| invalid())?;
    let sqe = Sqe::from_bytes(&raw)
        .filter(|_| raw.len() == 64)
        .ok_or_else(invalid)?;
    // Metadata needs a namespace formatted with it; ours have none.
    if r.metadata.is_some() || r.metadata_len.is_some_and(|n| n > 0) {
        return Err(invalid());
    }
    let data = match &r.data {
        Some(t) => Some(URL_SAFE.decode(t).map_err(|_| invalid())?),
        None => None,
    };
    if let (Some(d), Some(n)) = (&data, r.data_len) {
        if d.len() != n as usize {
            return Err(invalid());
        }
    }
    let len = data
        .as_ref()
        .map(Vec::len)
        .or(r.data_len.map(|n| n as usize))
        .unwrap_or(0);
    if len > MAX_DATA {
        return Err(invalid());
    }
    // SPDK sends on the controller the name finds first: its first path.
    let ctrlr = h
        .with_ctrlrs(|m| m.get(&r.name).and_then(|g| g.ctrlrs.first().cloned()))
        .ok_or_else(invalid)?;
    let qpair = if admin {
        ctrlr.admin_qpair()
    } else {
        ctrlr.io_qpair()
    }
    .ok_or_else(|| RpcError::errno(libc::ENXIO))?;
    let (write, read_len) = if h2c {
        (Some(Bytes::from(data.unwrap_or_default())), 0)
    } else {
        (None, len)
    };
    let c = qpair
        .submit(sqe, write.filter(|w| !w.is_empty()), read_len)
        .await
        .map_err(|_| RpcError::errno(libc::EIO))?;
    let mut out = json!({"cpl": URL_SAFE.encode(c.cqe.to_bytes())});
    if !h2c && read_len > 0 {
        let mut d = c.data.to_vec();
        d.resize(read_len, 0);
        out["data"] = json!(URL_SAFE.encode(d));
    }
    Ok(out)
}

//! SPDK's `bdev_nvme_get_path_iostat`: the I/O statistics of each path of
//! one NVMe bdev, answered only when `bdev_nvme_set_options
//! --io-path-stat` turned them on, with v24.09's result shape:
//!
//! ```text
//! {"name": "Nvme0n1", "stats": [{"trid": {...}, "stat": {"bytes_read": ..., ...}}]}
//! ```
//!
//! Latencies are in ticks of `bdev_get_iostat`'s `tick_rate` (ns here).
//! SPDK's per-path statistics have no error counts; ours count commands
//! that completed with an NVMe error status in `io_error.nvme_error`, the
//! key SPDK's `bdev_get_iostat` uses for that status.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::params::decode;
use super::{RpcError, RpcResult};
use crate::host::mpath::IoStats;
use crate::host::Initiator;

const EPERM: i32 = 1;
const ENODEV: i32 = 19;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Req {
    name: String,
}

pub async fn get_path_iostat(h: &Arc<Initiator>, p: Option<Value>) -> RpcResult {
    // SPDK checks the option before it looks at the parameters.
    if !h.options().io_path_stat {
        return Err(RpcError::new(
            -EPERM,
            "RPC not enabled if enable_io_path_stat is false",
        ));
    }
    let r: Req = decode(p, RpcError::decode_failed)?;
    let Some(b) = h.bdevs().into_iter().find(|b| b.name == r.name) else {
        return Err(RpcError::errno(ENODEV));
    };
    let stats: Vec<Value> = b
        .paths()
        .iter()
        .map(|p| json!({"trid": p.ctrlr.trid().to_json_with_subnqn(&p.ctrlr.opts.subnqn), "stat": stat_json(&p.stats)}))
        .collect();
    Ok(json!({"name": b.name, "stats": stats}))
}

/// One path's statistics: [`io_stat_fields`] and the path's errors.
fn stat_json(s: &IoStats) -> Value {
    let failed = s.num_failed.load(Relaxed);
    let io_error = if failed > 0 {
        json!({"nvme_error": failed})
    } else {
        json!({})
    };
    let mut o = io_stat_fields(s);
    o.insert("io_error".into(), io_error);
    Value::Object(o)
}

/// `spdk_bdev_dump_io_stat_json`'s counters, in its order (up to
/// `io_error`), as `bdev_get_iostat` and `bdev_nvme_get_path_iostat` both
/// show them; a minimum never set reads 0, as there. Unmap and copy are
/// never counted here.
pub(super) fn io_stat_fields(s: &IoStats) -> Map<String, Value> {
    let min = |v: u64| if v == u64::MAX { 0 } else { v };
    let v = json!({
        "bytes_read": s.bytes_read.load(Relaxed),
        "num_read_ops": s.num_read_ops.load(Relaxed),
        "bytes_written": s.bytes_written.load(Relaxed),
        "num_write_ops": s.num_write_ops.load(Relaxed),
        "bytes_unmapped": 0,
        "num_unmap_ops": 0,
        "bytes_copied": 0,
        "num_copy_ops": 0,
        "read_latency_ticks": s.read_latency_ns.load(Relaxed),
        "max_read_latency_ticks": s.max_read_latency_ns.load(Relaxed),
        "min_read_latency_ticks": min(s.min_read_latency_ns.load(Relaxed)),
        "write_latency_ticks": s.write_latency_ns.load(Relaxed),
        "max_write_latency_ticks": s.max_write_latency_ns.load(Relaxed),
        "min_write_latency_ticks": min(s.min_write_latency_ns.load(Relaxed)),
        "unmap_latency_ticks": 0,
        "max_unmap_latency_ticks": 0,
        "min_unmap_latency_ticks": 0,
        "copy_latency_ticks": 0,
        "max_copy_latency_ticks": 0,
        "min_copy_latency_ticks": 0,
    });
    match v {
        Value::Object(o) => o,
        _ => Map::new(),
    }
}

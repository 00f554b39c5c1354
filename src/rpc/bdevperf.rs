//! bdevperf's `perform_tests` on the initiator, and our own live view of
//! the load (`mpath_perf_status`, `mpath_perf_stop`) that the console
//! polls: SPDK's bdevperf has no such method, so the console falls back to
//! `bdev_get_iostat` against it.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{Router, RpcError};
use crate::bdev::BlockDevice;
use crate::host::Initiator;
use crate::perf::bdevperf::Bdevperf;

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// `perform_tests`, plus our status/stop methods when `extras`.
pub fn register(r: &mut Router, h: &Arc<Initiator>, bp: &Arc<Bdevperf>, extras: bool) {
    let (h2, bp2) = (h.clone(), bp.clone());
    r.register_fn("perform_tests", move |p| {
        let (h, bp) = (h2.clone(), bp2.clone());
        async move {
            // bdevperf drives every bdev that exists when the run starts.
            for b in h.bdevs() {
                bp.add_device(b as Arc<dyn BlockDevice>);
            }
            bp.perform_tests(p.as_ref())
                .await
                .map_err(|(code, msg)| RpcError::new(code, msg))
        }
    });
    if !extras {
        return;
    }
    let bp2 = bp.clone();
    r.register_fn("mpath_perf_stop", move |_| {
        let bp = bp2.clone();
        async move { Ok(Value::Bool(bp.stop())) }
    });
    let bp2 = bp.clone();
    r.register_fn("mpath_perf_status", move |_| {
        let bp = bp2.clone();
        async move { Ok(status(&bp)) }
    });
}

/// Cumulative counters of the run in progress (rates are the caller's
/// deltas), with the parameters it runs with (`null` when bdevperf was
/// started without them: `-z` and no `-q`/`-o`/`-w`, so `perform_tests`
/// must name them).
///
/// Latency per job: `avg_latency_us` and `max_latency_us` since the run
/// started, `p99_latency_us` since the run started (as `perform_tests`
/// reports it at the end), and `recent_p99_latency_us`, the p99 of the I/O
/// completed in the last `recent_window_us` (about a second; `null` when
/// none completed in it): the live tail latency a console shows.
fn status(bp: &Bdevperf) -> Value {
    let cfg = bp.config();
    let jobs: Vec<Value> = bp
        .live_stats()
        .iter()
        .map(|(name, live)| {
            let s = live.snapshot();
            let done = s.io_completed.max(1) as f64;
            json!({
                "job": name,
                "io_completed": s.io_completed,
                "io_failed": s.io_failed,
                "io_timeout": s.io_timeout,
                "io_miscompared": s.io_miscompared,
                "bytes": s.bytes,
                "in_flight": s.in_flight,
                "avg_latency_us": s.latency_sum_ns as f64 / done / 1000.0,
                "max_latency_us": s.latency_max_ns as f64 / 1000.0,
                "p99_latency_us": s.p99_ns.map(us),
                "recent_p99_latency_us": s.recent_p99_ns.map(us),
                "recent_io_completed": s.recent_ios,
                "recent_window_us": s.recent_window_us,
                "elapsed_us": s.elapsed_us,
            })
        })
        .collect();
    let set = |v: u32| (v > 0).then_some(v);
    json!({
        "running": bp.is_running(),
        "workload": cfg.workload.map(|w| w.as_str()),
        "queue_depth": set(cfg.queue_depth),
        "io_size": set(cfg.io_size),
        "jobs": jobs,
    })
}

//! The load generator's own cost: q128 4 KiB random reads and verify pairs
//! against the in-memory device, one job on a 2-worker runtime, 3 s each.
//! `cargo bench --bench perf_runner`.

use std::sync::Arc;

use mpath_console::bdev::BlockDevice;
use mpath_console::perf::config::{PerfConfig, Workload};
use mpath_console::perf::job::{run_job, StopSignal};
use mpath_console::perf::mem::MemDevice;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dev = MemDevice::new("mem0", 512, 64 * 1024 * 2); // 64 MiB
        for w in [Workload::RandRead, Workload::Verify] {
            let cfg = PerfConfig::new(w, 128, 4096, 3);
            let d: Arc<dyn BlockDevice> = dev.clone();
            let r = run_job(d, &cfg, |_| {}, StopSignal::new()).await;
            println!(
                "{w}: q128 4KiB: {:.0} IOPS, {:.1} MiB/s, avg {:.2} us, p50 {:.2} us, p99 {:.2} us, {} I/Os in {:.3} s",
                r.iops(),
                r.mibps(),
                r.avg_latency_us(),
                r.percentile_us(50.0),
                r.percentile_us(99.0),
                r.io_completed,
                r.runtime_s()
            );
        }
    });
}

//! The load generator against SPDK v24.09's golden data: the console lines
//! of `logs/rpc-run/bdevperf.log` and the `perform_tests` results of
//! `rpc/27-perform_tests.json` and `rpc/43-perform_tests.json`.
//! (in `tests/golden/spdk-v24.09/`).
//!
//! The runner's own speed is measured by `cargo bench --bench perf_runner`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use common::golden_dir;
use serde_json::Value;

use mpath_console::bdev::BlockDevice;
use mpath_console::perf::output::{
    format_job_header, format_job_row, format_separator, format_summary_line, format_table_header,
    format_total_row, format_verify_range, JobRow, TotalRow,
};
use mpath_console::perf::{
    run_job, Bdevperf, JobStatus, MemDevice, PerfConfig, StopSignal, Workload,
};

/// Counts heap allocations made by the current thread (other tests of this
/// binary run on other threads and do not disturb the count).
struct CountingAlloc;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count_alloc() {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call forwards to the system allocator unchanged; the
// thread-local counter neither allocates nor touches the memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_alloc();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_alloc();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_alloc();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations() -> u64 {
    ALLOCS.with(Cell::get)
}

/// The `result` of a golden perform_tests exchange, parsed from the raw
/// response bytes (key order preserved).
fn golden_result(file: &str) -> Value {
    let path = golden_dir().join("rpc").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let exchange: Value = serde_json::from_str(&text).unwrap();
    let raw = exchange["response_raw"].as_str().unwrap();
    let resp: Value = serde_json::from_str(raw.trim_end()).unwrap();
    resp["result"].clone()
}

fn golden_log() -> String {
    let path = golden_dir().join("logs/rpc-run/bdevperf.log");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn row_from_json(r: &Value) -> JobRow {
    let f = |k: &str| r[k].as_f64().unwrap();
    JobRow {
        name: r["job"].as_str().unwrap().to_string(),
        // bdevperf prints a float cast of the microseconds.
        runtime_s: f64::from((f("runtime") * 1e6).round() as f32) / 1e6,
        iops: f("iops"),
        mibps: f("mibps"),
        fail_per_s: 0.0,
        timeout_per_s: 0.0,
        avg_latency_us: f("avg_latency_us"),
        min_latency_us: f("min_latency_us"),
        max_latency_us: f("max_latency_us"),
    }
}

#[test]
fn console_lines_reproduce_the_golden_log() {
    let log = golden_log();
    assert!(log.contains(&format_table_header()));
    assert!(log.contains(&format_separator()));
    assert!(log.contains(&format_verify_range(0, 0x4000)));
    for file in ["27-perform_tests.json", "43-perform_tests.json"] {
        let res = golden_result(file);
        let r = &res["results"][0];
        let row = row_from_json(r);
        let line = format_job_row(&row);
        assert!(log.contains(&line), "{file}: {line:?} not in the log");
        if file.starts_with("27") {
            // The first run's Total (later runs print a Total min of 0.00,
            // an SPDK bug we do not copy).
            let total = TotalRow {
                iops: row.iops,
                mibps: row.mibps,
                fail_per_s: 0.0,
                timeout_per_s: 0.0,
                avg_latency_us: row.avg_latency_us,
                min_latency_us: row.min_latency_us,
                max_latency_us: row.max_latency_us,
            };
            assert!(log.contains(&format_total_row(&total)));
        }
    }
    // Per-second lines of the three runs.
    let mib = |iops: f64| iops * 4096.0 / (1024.0 * 1024.0);
    for iops in [331670.0, 258205.5, 184719.0, 172700.5, 375104.0, 374714.5] {
        let line = format_summary_line(iops, mib(iops));
        assert!(log.contains(&line), "{line:?}");
    }
    assert!(log.contains("Running I/O for 3 seconds...\n"));
}

#[test]
fn job_header_reproduces_the_golden_log() {
    let dev = MemDevice::new("Nvme0n1", 512, 16384 * 8);
    let mut cfg = PerfConfig::new(Workload::Verify, 128, 4096, 1);
    cfg.core_mask = 0x2;
    let job = mpath_console::perf::Job::prepare(dev, &cfg).unwrap();
    assert_eq!(job.size_in_ios(), 0x4000);
    // Build a result the way the job reports it, without running I/O.
    let golden = golden_result("27-perform_tests.json");
    let log = golden_log();
    let r = golden["results"][0].clone();
    assert_eq!(r["core_mask"], "0x2");
    let result = mpath_console::perf::JobResult {
        job: "Nvme0n1".into(),
        core_mask: 2,
        workload: Workload::Verify,
        rw_percentage: 0,
        status: JobStatus::Finished,
        verify_range: Some((0, 0x4000)),
        queue_depth: 128,
        io_size: 4096,
        run_time_us: 3_000_266,
        io_completed: 830_863,
        io_failed: 0,
        io_timeout: 0,
        io_miscompared: 0,
        bytes: 0,
        latency: Default::default(),
        verify_write_latency: Default::default(),
        verify_read_latency: Default::default(),
        miscompares: vec![],
        events: vec![],
        last_generation: 0,
        error: None,
    };
    assert!(log.contains(&format_job_header(&result)));
    // The doubles bdevperf computes from 830863 completions in 3000266 us.
    let ours = result.to_json();
    for k in ["runtime", "iops", "mibps"] {
        assert_eq!(ours[k].as_f64(), r[k].as_f64(), "{k}");
    }
    for k in [
        "job",
        "core_mask",
        "workload",
        "status",
        "verify_range",
        "queue_depth",
        "io_size",
    ] {
        assert_eq!(ours[k], r[k], "{k}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perform_tests_result_keys_match_golden_27_and_43() {
    let dev = MemDevice::new("Nvme0n1", 512, 4096);
    let cfg = PerfConfig::from_args(["-z", "-q", "128", "-o", "4096", "-w", "verify", "-t", "90"])
        .unwrap();
    let bp = Arc::new(Bdevperf::new(cfg));
    bp.add_device(dev);
    let stopper = {
        let bp = Arc::clone(&bp);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            bp.stop()
        })
    };
    let ours = bp
        .perform_tests(Some(&serde_json::json!({"time_in_sec": 3})))
        .await
        .unwrap();
    assert!(stopper.await.unwrap());
    for file in ["27-perform_tests.json", "43-perform_tests.json"] {
        let golden = golden_result(file);
        assert_eq!(keys(&ours), keys(&golden), "{file}");
        let g = &golden["results"][0];
        let o = &ours["results"][0];
        let gk = keys(g);
        let ok = keys(o);
        // SPDK's keys first, in SPDK's order; ours appended after.
        assert_eq!(ok[..gk.len()], gk[..], "{file}");
        assert_eq!(
            ok[gk.len()..],
            [
                "p50_latency_us",
                "p99_latency_us",
                "p999_latency_us",
                "io_miscompared"
            ]
        );
        assert_eq!(keys(&o["verify_range"]), keys(&g["verify_range"]));
        // Same JSON types, key by key (floats stay floats).
        for k in &gk {
            assert_eq!(o[k].is_f64(), g[k].is_f64(), "{k}");
            assert_eq!(o[k].is_u64(), g[k].is_u64(), "{k}");
            assert_eq!(o[k].is_string(), g[k].is_string(), "{k}");
        }
    }
    assert_eq!(ours["results"][0]["status"], "terminated");
}

/// The hot path allocates nothing of its own: per I/O the only heap
/// allocations are the device's (`MemDevice`: one boxed future per op, one
/// buffer per read). So a random read costs 2, a random write 1 (the write
/// pattern is shared) and a verify pair 3 (write future; read future and
/// read buffer): the verify write buffer is reused.
#[test]
fn no_allocations_per_io_beyond_the_device() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // (allocations, I/Os) of one run stopped after `ms`.
    let measure = |w: Workload, ms: u64| {
        let dev = MemDevice::new("mem0", 512, 8192);
        let cfg = PerfConfig::new(w, 32, 4096, 5);
        let stop = StopSignal::new();
        let before = allocations();
        let r = rt.block_on(async {
            let s = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                s.terminate();
            });
            let d: Arc<dyn BlockDevice> = dev.clone();
            run_job(d, &cfg, |_| {}, stop).await
        });
        (allocations() - before, r.io_completed)
    };
    for (w, per_io) in [
        (Workload::RandRead, 2.0),
        (Workload::RandWrite, 1.0),
        (Workload::Verify, 3.0),
    ] {
        // The difference of a short and a long run cancels the setup
        // (slots, histogram, device, timers).
        let (a1, n1) = measure(w, 50);
        let (a2, n2) = measure(w, 250);
        assert!(n2 > n1 + 500, "{w}: {n1} vs {n2} I/Os");
        let got = (a2 - a1) as f64 / (n2 - n1) as f64;
        // Up to 2 I/Os per run may still be in flight at the stop, so allow
        // a hair of slack.
        assert!(
            (got - per_io).abs() < 0.02,
            "{w}: {got:.4} allocations per I/O, want {per_io}"
        );
    }
}

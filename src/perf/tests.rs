//! Runner and `Bdevperf` tests against the in-memory device.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::bdev::{BlockDevice, IoError};

fn cfg(w: Workload, q: u32, io: u32, t: u32) -> PerfConfig {
    let mut c = PerfConfig::new(w, q, io, t);
    c.normalize();
    c
}

/// Fires `stop.terminate()` after `ms`.
fn stop_after(ms: u64) -> StopSignal {
    let stop = StopSignal::new();
    let s = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        s.terminate();
    });
    stop
}

async fn run(dev: &Arc<MemDevice>, c: &PerfConfig, stop: StopSignal) -> JobResult {
    let dev: Arc<dyn BlockDevice> = dev.clone();
    run_job(dev, c, |_| {}, stop).await
}

// ---- verify ---------------------------------------------------------------------

#[tokio::test]
async fn verify_clean_run_finishes() {
    let dev = MemDevice::new("mem0", 512, 4096);
    let mut snaps = Vec::new();
    let d: Arc<dyn BlockDevice> = dev.clone();
    let r = run_job(
        d,
        &cfg(Workload::Verify, 16, 4096, 1),
        |s| snaps.push(s.clone()),
        StopSignal::new(),
    )
    .await;
    assert_eq!(r.status, JobStatus::Finished, "{:?}", r.events);
    assert!(r.io_completed > 0);
    assert_eq!((r.io_failed, r.io_miscompared), (0, 0));
    assert_eq!(r.verify_range, Some((0, 512)));
    assert_eq!(r.queue_depth, 16);
    assert!(r.run_time_us >= 1_000_000);
    // One latency sample per pair; both ops measured on their own.
    assert_eq!(r.latency.count(), r.io_completed);
    assert!(r.verify_write_latency.count >= r.io_completed);
    assert!(r.verify_read_latency.count >= r.io_completed);
    // Each block on the device carries its own LBA.
    let b = dev.block(9);
    assert_eq!(u64::from_le_bytes(b[0..8].try_into().unwrap()), 9);
    assert!(r.last_generation >= 1);
    // Per-second progress.
    assert!(!snaps.is_empty());
    assert_eq!(snaps[0].period, 1);
    assert!(snaps[0].iops > 0.0 && snaps[0].interval_iops > 0.0);
    assert_eq!(snaps[0].job, "mem0");
}

#[tokio::test]
async fn verify_catches_a_stale_read() {
    let dev = MemDevice::new("mem0", 512, 512); // 64 slots of 8 blocks
                                                // Block 40 keeps its first write (generation 1); later writes are lost.
    dev.set_faults(Faults {
        lost_writes: Some((40, 1)),
        ..Faults::default()
    });
    let r = run(&dev, &cfg(Workload::Verify, 4, 4096, 5), StopSignal::new()).await;
    assert_eq!(r.status, JobStatus::Failed);
    assert_eq!(r.io_miscompared, 1);
    assert!(r.run_time_us < 5_000_000, "stops at the first miscompare");
    let m = &r.miscompares[0];
    assert_eq!(m.lba, 40);
    assert_eq!(m.expected_generation, 2);
    assert_eq!(
        m.kind,
        MiscompareKind::Stale {
            found_generation: 1
        }
    );
    assert!(r
        .events
        .contains(&"Buffer mismatch! Target: mem0 Disk Offset: 40".to_string()));
    assert!(r.events.contains(
        &"mem0: verify miscompare: LBA 40: stale data: expected generation 2, found generation 1"
            .to_string()
    ));
}

#[tokio::test]
async fn verify_catches_a_misdirected_read() {
    let dev = MemDevice::new("mem0", 512, 512);
    // Reads of block 17 are served from block 9 (written just before).
    dev.set_faults(Faults {
        misdirect_read: Some((17, 9)),
        ..Faults::default()
    });
    let r = run(&dev, &cfg(Workload::Verify, 1, 4096, 5), StopSignal::new()).await;
    assert_eq!(r.status, JobStatus::Failed);
    let m = &r.miscompares[0];
    assert_eq!(m.lba, 17);
    assert_eq!(
        m.kind,
        MiscompareKind::Misdirected {
            found_lba: 9,
            found_generation: 1
        }
    );
    assert!(r.events.iter().any(|e| e.contains("Disk Offset: 16")));
}

#[tokio::test]
async fn verify_catches_corruption_and_zeroes() {
    let dev = MemDevice::new("mem0", 512, 512);
    dev.set_faults(Faults {
        corrupt_read_lba: Some(42),
        ..Faults::default()
    });
    let r = run(&dev, &cfg(Workload::Verify, 8, 4096, 5), StopSignal::new()).await;
    assert_eq!(r.status, JobStatus::Failed);
    assert_eq!(r.miscompares[0].lba, 42);
    assert_eq!(
        r.miscompares[0].kind,
        MiscompareKind::Corrupt { offset: 100 }
    );

    // A write that never lands on a fresh device reads back as zeroes.
    let dev = MemDevice::new("mem1", 512, 512);
    dev.set_faults(Faults {
        lost_writes: Some((3, 0)),
        ..Faults::default()
    });
    let r = run(&dev, &cfg(Workload::Verify, 8, 4096, 5), StopSignal::new()).await;
    assert_eq!(r.miscompares[0].lba, 3);
    assert_eq!(r.miscompares[0].kind, MiscompareKind::Zeroed);
}

#[tokio::test]
async fn verify_with_continue_on_failure_counts_every_miscompare() {
    let dev = MemDevice::new("mem0", 512, 64); // 8 slots: many passes
    dev.set_faults(Faults {
        lost_writes: Some((40, 1)),
        ..Faults::default()
    });
    let mut c = cfg(Workload::Verify, 4, 4096, 5);
    c.continue_on_failure = true;
    let r = run(&dev, &c, stop_after(200)).await;
    assert_eq!(r.status, JobStatus::Terminated);
    // Every pass after the first misses the write to block 40.
    assert!(r.io_miscompared > 10, "{}", r.io_miscompared);
    assert!(r.io_completed > r.io_miscompared);
    assert_eq!(r.io_failed, 0);
    assert_eq!(r.miscompares.len(), stats::MAX_RECORDED_MISCOMPARES);
    // Generations grow pass by pass: the n-th recorded miss expects one
    // more than the one it finds.
    for m in &r.miscompares {
        match m.kind {
            MiscompareKind::Stale { found_generation } => {
                assert_eq!(found_generation, 1);
                assert!(m.expected_generation >= 2);
            }
            ref k => panic!("unexpected {k:?}"),
        }
    }
    assert!(r.events.len() <= stats::MAX_EVENTS);
}

#[tokio::test]
async fn verify_queue_depth_is_capped_at_the_range() {
    let dev = MemDevice::new("mem0", 512, 80); // 10 slots
    dev.set_faults(Faults {
        yield_once: true,
        ..Faults::default()
    });
    let job = Job::prepare(dev.clone(), &cfg(Workload::Verify, 64, 4096, 1)).unwrap();
    assert_eq!(job.queue_depth(), 10);
    assert!(job.warnings()[0].starts_with(
        "Due to constraints of verify job, queue depth (-q, 64) can't exceed the number of IO requests which can be submitted to the bdev mem0 simultaneously (10). Queue depth is limited to 10"
    ));
    let r = job
        .run(Arc::new(LiveStats::new()), |_| {}, stop_after(100))
        .await;
    assert_eq!(r.queue_depth, 10);
    assert_eq!(r.io_miscompared, 0);
    // Never two ops on one slot: with 10 slots, at most 10 ops in flight.
    assert_eq!(dev.stats().max_in_flight.load(Ordering::Relaxed), 10);
}

// ---- failures ------------------------------------------------------------------

#[tokio::test]
async fn failed_io_stops_the_job_like_bdevperf() {
    let dev = MemDevice::new("mem0", 512, 1024);
    dev.set_faults(Faults {
        fail_lba: Some(100),
        ..Faults::default()
    });
    let r = run(&dev, &cfg(Workload::Read, 1, 4096, 5), StopSignal::new()).await;
    assert_eq!(r.status, JobStatus::Failed);
    assert_eq!(r.io_failed, 1);
    assert_eq!(r.io_completed, 12); // offsets 0..11, then 12 (LBA 96) fails
    assert_eq!(r.events[0], "task offset: 96 on job bdev=mem0 fails");
    assert!(r.events[1].contains("NVMe status"));
    assert!(r.ended_with_error());
}

#[tokio::test]
async fn failed_io_with_continue_on_failure_keeps_going() {
    let dev = MemDevice::new("mem0", 512, 1024);
    dev.set_faults(Faults {
        fail_lba: Some(100),
        fail_error: Some(IoError::Timeout),
        ..Faults::default()
    });
    let mut c = cfg(Workload::Read, 4, 4096, 5);
    c.continue_on_failure = true;
    let r = run(&dev, &c, stop_after(100)).await;
    assert_eq!(r.status, JobStatus::Terminated);
    assert!(r.io_failed > 1);
    // A device timeout counts as failed and timed out.
    assert_eq!(r.io_timeout, r.io_failed);
    assert!(r.events.is_empty());
}

#[tokio::test]
async fn reset_workload_ignores_io_failures() {
    let dev = MemDevice::new("mem0", 512, 1024);
    dev.set_faults(Faults {
        fail_lba: Some(100),
        ..Faults::default()
    });
    let r = run(&dev, &cfg(Workload::Reset, 4, 4096, 5), stop_after(100)).await;
    assert_eq!(r.status, JobStatus::Terminated);
    assert!(r.io_failed > 1);
    assert_eq!(r.verify_range, Some((0, 128)));
}

#[tokio::test]
async fn one_failing_job_drains_the_others_sharing_the_signal() {
    let bad = MemDevice::new("bad", 512, 1024);
    bad.set_faults(Faults {
        fail_lba: Some(0),
        ..Faults::default()
    });
    let good = MemDevice::new("good", 512, 1024);
    let stop = StopSignal::new();
    let c = cfg(Workload::Read, 4, 4096, 5);
    let (b, g) = tokio::join!(run(&bad, &c, stop.clone()), run(&good, &c, stop.clone()));
    assert_eq!(b.status, JobStatus::Failed);
    // The other job stops early but did not fail itself.
    assert_eq!(g.status, JobStatus::Finished);
    assert!(g.run_time_us < 5_000_000);
    assert!(stop.is_stopped() && !stop.is_terminated());
}

#[tokio::test]
async fn io_timeout_option_counts_slow_io() {
    let dev = MemDevice::new("mem0", 512, 1024);
    dev.set_faults(Faults {
        delay: Some(Duration::from_millis(1100)),
        ..Faults::default()
    });
    let mut c = cfg(Workload::Read, 2, 4096, 1);
    c.timeout_in_sec = 1;
    let r = run(&dev, &c, StopSignal::new()).await;
    assert_eq!(r.status, JobStatus::Finished);
    assert_eq!(r.io_completed, 2);
    assert_eq!(r.io_timeout, 2);
    assert_eq!(r.io_failed, 0);
    assert!(r.min_latency_us() >= 1_100_000.0);
}

// ---- offsets, mixes, queue depth ---------------------------------------------------

#[tokio::test]
async fn random_reads_stay_in_range_and_aligned() {
    // 1003 blocks / 8 per I/O = 125 slots: the last 3 blocks are never used.
    let dev = MemDevice::new("mem0", 512, 1003);
    let r = run(&dev, &cfg(Workload::RandRead, 32, 4096, 5), stop_after(150)).await;
    let s = dev.stats();
    assert!(r.io_completed > 1000, "{}", r.io_completed);
    assert_eq!(r.io_failed, 0);
    assert_eq!(s.out_of_range.load(Ordering::Relaxed), 0);
    assert_eq!(s.unaligned.load(Ordering::Relaxed), 0);
    assert!(s.max_lba_end.load(Ordering::Relaxed) <= 1000);
    assert_eq!(s.writes.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn random_offsets_cover_the_range_uniformly() {
    let dev = MemDevice::new("mem0", 512, 64 * 8);
    let mut c = cfg(Workload::RandWrite, 1, 4096, 5);
    c.queue_depth = 1;
    let job = Job::prepare(dev.clone(), &c).unwrap().with_seed(7);
    let r = job
        .run(Arc::new(LiveStats::new()), |_| {}, stop_after(150))
        .await;
    assert!(r.io_completed > 6400);
    assert_eq!(dev.stats().reads.load(Ordering::Relaxed), 0);
    // Every slot got written with bdevperf's write pattern: word 1 of a
    // block is its byte offset 4 (block index 0 + offset 4).
    for slot in 0..64u64 {
        let b = dev.block(slot * 8);
        assert_eq!(&b[4..8], &4u32.to_le_bytes(), "slot {slot} never written");
    }
}

#[tokio::test]
async fn rw_mix_follows_the_read_percentage() {
    let dev = MemDevice::new("mem0", 512, 1024);
    let mut c = cfg(Workload::RandRw, 8, 512, 5);
    c.rw_percentage = 70;
    let r = run(&dev, &c, stop_after(150)).await;
    let (rd, wr) = (
        dev.stats().reads.load(Ordering::Relaxed) as f64,
        dev.stats().writes.load(Ordering::Relaxed) as f64,
    );
    assert!(r.io_completed > 1000);
    let share = rd / (rd + wr);
    assert!((0.65..0.75).contains(&share), "read share {share}");
    assert_eq!(r.rw_percentage, 70);
    assert_eq!(r.to_json()["percentage"], json!(70));
}

#[tokio::test]
async fn sequential_write_walks_and_wraps() {
    let dev = MemDevice::new("mem0", 4096, 16);
    let r = run(&dev, &cfg(Workload::Write, 3, 8192, 5), stop_after(100)).await;
    assert!(r.io_completed > 8);
    let s = dev.stats();
    assert_eq!(s.max_lba_end.load(Ordering::Relaxed), 16);
    assert_eq!(s.unaligned.load(Ordering::Relaxed), 0);
    assert_eq!(s.out_of_range.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn flush_and_write_zeroes_workloads() {
    let dev = MemDevice::new("mem0", 512, 64);
    let r = run(&dev, &cfg(Workload::Flush, 2, 512, 5), stop_after(50)).await;
    assert!(r.io_completed > 0);
    assert_eq!(
        dev.stats().flushes.load(Ordering::Relaxed),
        r.io_completed + r.io_failed
    );
    let r = run(
        &dev,
        &cfg(Workload::WriteZeroes, 2, 1024, 5),
        stop_after(50),
    )
    .await;
    assert!(r.io_completed > 0);
    assert!(dev.stats().write_zeroes.load(Ordering::Relaxed) >= r.io_completed);
    assert!(r.verify_range.is_none());
}

#[tokio::test]
async fn queue_depth_is_kept_exactly() {
    for q in [1u32, 7, 37, 128] {
        let dev = MemDevice::new("mem0", 512, 4096);
        dev.set_faults(Faults {
            yield_once: true,
            ..Faults::default()
        });
        let live = Arc::new(LiveStats::new());
        let d: Arc<dyn BlockDevice> = dev.clone();
        let watcher = {
            let live = Arc::clone(&live);
            tokio::spawn(async move {
                let mut max = 0;
                for _ in 0..20 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    max = max.max(live.snapshot().in_flight);
                }
                max
            })
        };
        let r = run_job_with_stats(
            d,
            &cfg(Workload::RandRead, q, 4096, 5),
            Arc::clone(&live),
            |_| {},
            stop_after(60),
        )
        .await;
        assert!(r.io_completed > u64::from(q));
        assert_eq!(
            dev.stats().max_in_flight.load(Ordering::Relaxed),
            q,
            "device saw a different queue depth"
        );
        assert_eq!(dev.stats().in_flight.load(Ordering::Relaxed), 0, "drained");
        let seen = watcher.await.unwrap();
        assert!(seen <= u64::from(q) && seen > 0, "live in_flight {seen}");
        let snap = live.snapshot();
        assert!(!snap.running);
        assert_eq!(snap.io_completed, r.io_completed);
        assert_eq!(snap.run_time_us, r.run_time_us);
    }
}

#[tokio::test]
async fn delayed_device_latency_is_measured() {
    let dev = MemDevice::new("mem0", 512, 4096);
    dev.set_faults(Faults {
        delay: Some(Duration::from_millis(5)),
        ..Faults::default()
    });
    let r = run(&dev, &cfg(Workload::RandRead, 8, 4096, 5), stop_after(200)).await;
    assert!(r.min_latency_us() >= 5000.0, "{}", r.min_latency_us());
    assert!(r.avg_latency_us() >= 5000.0);
    assert!(r.percentile_us(50.0) >= 5000.0);
    assert!(r.percentile_us(99.9) <= r.max_latency_us());
    // About 8 I/Os per ~5-6 ms.
    assert!(
        r.io_completed >= 50 && r.io_completed <= 400,
        "{}",
        r.io_completed
    );
}

#[tokio::test]
async fn jobs_that_cannot_start_report_bdevperf_errors() {
    let dev = MemDevice::new("mem0", 512, 64);
    let r = run(&dev, &cfg(Workload::Read, 1, 1000, 1), StopSignal::new()).await;
    assert_eq!(r.status, JobStatus::Failed);
    assert_eq!(
        r.error.as_ref().unwrap().to_string(),
        "IO size (1000) is not multiples of data block size of bdev mem0 (512)"
    );
    let e = Job::prepare(dev.clone(), &cfg(Workload::Unmap, 1, 512, 1)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Skipping mem0 because it does not support unmap"
    );
    assert_eq!(e.errno(), config::errno::ENOTSUP);
    let e = Job::prepare(dev.clone(), &cfg(Workload::Read, 1, 1 << 20, 1)).unwrap_err();
    assert!(matches!(e, PerfError::IoSizeLargerThanBdev { .. }));
    let e = Job::prepare(dev.clone(), &cfg(Workload::Read, 1_000_000, 512, 1)).unwrap_err();
    assert!(matches!(e, PerfError::TooMuchMemory { .. }));
    let tiny = MemDevice::new("tiny", 16, 64);
    let e = Job::prepare(tiny, &cfg(Workload::Verify, 1, 16, 1)).unwrap_err();
    assert!(matches!(e, PerfError::BlockTooSmall { .. }));
}

#[tokio::test]
async fn stop_signal_before_start_ends_at_once() {
    let dev = MemDevice::new("mem0", 512, 64);
    let stop = StopSignal::new();
    stop.terminate();
    let r = run(&dev, &cfg(Workload::Read, 4, 512, 5), stop).await;
    assert_eq!(r.status, JobStatus::Terminated);
    // The first batch was already submitted; it drains.
    assert!(r.io_completed <= 4);
    assert!(r.run_time_us < 1_000_000);
}

// ---- Bdevperf / perform_tests -------------------------------------------------------

fn bdevperf_with(devs: &[Arc<MemDevice>]) -> (Arc<Bdevperf>, Arc<Mutex<String>>) {
    let c =
        PerfConfig::from_args(["-z", "-q", "8", "-o", "4096", "-w", "verify", "-t", "1"]).unwrap();
    let bp = Arc::new(Bdevperf::new(c));
    for d in devs {
        bp.add_device(d.clone());
    }
    let out = Arc::new(Mutex::new(String::new()));
    let o = Arc::clone(&out);
    bp.set_output(Some(Arc::new(move |s: &str| o.lock().unwrap().push_str(s))));
    (bp, out)
}

/// Golden 27's result key order (SPDK v24.09).
const GOLDEN_KEYS: [&str; 16] = [
    "job",
    "core_mask",
    "workload",
    "status",
    "verify_range",
    "queue_depth",
    "io_size",
    "runtime",
    "iops",
    "mibps",
    "io_failed",
    "io_timeout",
    "avg_latency_us",
    "min_latency_us",
    "max_latency_us",
    "p50_latency_us",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perform_tests_runs_and_answers_like_spdk() {
    let dev = MemDevice::new("Malloc0", 512, 2048);
    let (bp, out) = bdevperf_with(&[dev]);
    let v = bp.perform_tests(None).await.unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["results", "core_count"]);
    assert_eq!(v["core_count"], json!(1));
    let r = &v["results"][0];
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(&keys[..15], &GOLDEN_KEYS[..15]);
    assert_eq!(
        &keys[15..],
        [
            "p50_latency_us",
            "p99_latency_us",
            "p999_latency_us",
            "io_miscompared"
        ]
    );
    assert_eq!(r["job"], json!("Malloc0"));
    assert_eq!(r["core_mask"], json!("0x1"));
    assert_eq!(r["workload"], json!("verify"));
    assert_eq!(r["status"], json!("finished"));
    assert_eq!(r["verify_range"], json!({"start": 0, "length": 256}));
    assert_eq!(r["queue_depth"], json!(8));
    assert_eq!(r["io_size"], json!(4096));
    for k in [
        "runtime",
        "iops",
        "mibps",
        "avg_latency_us",
        "min_latency_us",
    ] {
        assert!(r[k].is_f64(), "{k} must be a JSON float: {}", r[k]);
    }
    assert!(r["io_failed"].is_u64() && r["io_miscompared"].is_u64());
    assert!(r["iops"].as_f64().unwrap() > 0.0);
    let text = out.lock().unwrap().clone();
    assert!(
        text.starts_with("Running I/O for 1 seconds...\n"),
        "{text:?}"
    );
    assert!(text.contains(" IOPS, ") && text.contains(" MiB/s\r"));
    assert!(text.contains(
        "\r Device Information          : runtime(s)       IOPS      MiB/s     Fail/s     TO/s    Average        min        max\n"
    ));
    assert!(
        text.contains("Job: Malloc0 (Core Mask 0x1, workload: verify, depth: 8, IO size: 4096)\n")
    );
    assert!(text.contains("\t Verification LBA range: start 0x0 length 0x100\n"));
    assert!(text.contains("\r Total                       :"));
    assert!(text.contains("[mpath-console] Malloc0: latency(us) p50 "));
    assert!(!bp.is_running());
    assert_eq!(bp.last_results()[0].status, JobStatus::Finished);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_perform_tests_while_running_is_golden_32() {
    let dev = MemDevice::new("Malloc0", 512, 2048);
    let (bp, out) = bdevperf_with(&[dev]);
    let first = {
        let bp = Arc::clone(&bp);
        tokio::spawn(async move { bp.perform_tests(Some(&json!({"time_in_sec": 3}))).await })
    };
    while !bp.is_running() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Even bad params get -115 while a run is in progress (checked first).
    for p in [None, Some(json!({"time_in_sec": "x"}))] {
        assert_eq!(
            bp.perform_tests(p.as_ref()).await,
            Err((-32603, "Unknown error -115".to_string()))
        );
    }
    assert!(!bp.live_stats().is_empty());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(bp.live_stats()[0].1.io_completed() > 0);
    assert!(bp.stop());
    let v = first.await.unwrap().unwrap();
    assert_eq!(v["results"][0]["status"], json!("terminated"));
    let text = out.lock().unwrap().clone();
    assert!(text.contains("Another test is already in progress.\n"));
    assert!(text.contains("Received shutdown signal, test time was about 0."));
    // time_in_sec 3 persisted.
    assert_eq!(bp.config().time_in_sec, 3);
    assert!(!bp.stop());
}

#[tokio::test]
async fn perform_tests_param_errors() {
    let dev = MemDevice::new("Malloc0", 512, 2048);
    let (bp, _) = bdevperf_with(&[dev]);
    let before = bp.config();
    assert_eq!(
        bp.perform_tests(Some(&json!({"time_in_sec": "x"}))).await,
        Err((-32700, "spdk_json_decode_object failed".to_string()))
    );
    assert_eq!(
        bp.perform_tests(Some(&json!({"queue_depth": -4}))).await,
        Err((-32700, "Invalid parameters provided".to_string()))
    );
    assert_eq!(
        bp.perform_tests(Some(&json!({"io_size": "1000"}))).await,
        Err((
            -32603,
            "bdevperf failed with error Operation not supported".to_string()
        ))
    );
    // The io_size 1000 was valid as a parameter and persists, as in SPDK.
    assert_eq!(bp.config().io_size, 1000);
    bp.set_config(before);
    assert!(!bp.is_running());

    let empty = Bdevperf::new(bp.config());
    assert_eq!(
        empty.perform_tests(None).await,
        Err((-32602, "No jobs defined or bdevs created".to_string()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_run_is_an_rpc_error_with_results_kept() {
    let dev = MemDevice::new("Malloc0", 512, 2048);
    dev.set_faults(Faults {
        lost_writes: Some((64, 1)),
        ..Faults::default()
    });
    let (bp, out) = bdevperf_with(&[dev]);
    assert_eq!(
        bp.perform_tests(None).await,
        Err((
            -32603,
            "bdevperf failed with error Operation not permitted".to_string()
        ))
    );
    let r = &bp.last_results()[0];
    assert_eq!(r.status, JobStatus::Failed);
    assert_eq!(r.to_json()["status"], json!("failed"));
    assert_eq!(r.to_json()["io_miscompared"], json!(1));
    let text = out.lock().unwrap().clone();
    assert!(text.contains("Buffer mismatch! Target: Malloc0 Disk Offset: 64\n"));
    assert!(text.contains("Job: Malloc0 ended in about "));
    assert!(text.contains("io_miscompared 1\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_on_several_devices_and_generations_advance() {
    let a = MemDevice::new("Nvme0n1", 512, 2048);
    let b = MemDevice::new("Nvme1n1", 4096, 256);
    let (bp, _) = bdevperf_with(&[a.clone(), b]);
    let mut c = bp.config();
    c.core_mask = 0x6;
    bp.set_config(c);
    let stopper = {
        let bp = Arc::clone(&bp);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            bp.stop()
        })
    };
    let v = bp.perform_tests(None).await.unwrap();
    assert!(stopper.await.unwrap());
    let res = v["results"].as_array().unwrap();
    assert_eq!(res.len(), 2);
    assert_eq!(res[0]["job"], json!("Nvme0n1"));
    assert_eq!(res[1]["job"], json!("Nvme1n1"));
    // Round-robin over the cores of -m 0x6.
    assert_eq!(res[0]["core_mask"], json!("0x2"));
    assert_eq!(res[1]["core_mask"], json!("0x4"));
    assert_eq!(v["core_count"], json!(2));
    let g1 = bp.last_results()[0].last_generation;
    assert!(g1 >= 1);

    // The next run writes newer generations; a lost write now shows the
    // previous run's data as stale.
    a.set_faults(Faults {
        lost_writes: Some((0, 0)),
        ..Faults::default()
    });
    bp.remove_device("Nvme1n1");
    assert_eq!(bp.device_names(), ["Nvme0n1"]);
    let e = bp.perform_tests(None).await.unwrap_err();
    assert_eq!(e.0, -32603);
    let r = &bp.last_results()[0];
    assert_eq!(r.miscompares[0].lba, 0);
    assert_eq!(r.miscompares[0].expected_generation, g1 + 1);
    assert!(matches!(
        r.miscompares[0].kind,
        MiscompareKind::Stale { found_generation } if found_generation <= g1
    ));
    let _: Value = r.to_json();
}

/// The reset workload resets the device 10 s in; a device that cannot be
/// reset fails the job with bdevperf's line, I/O before it counted.
#[tokio::test]
async fn reset_workload_fails_when_the_device_cannot_reset() {
    let dev = MemDevice::new("mem0", 512, 1024);
    let r = run(&dev, &cfg(Workload::Reset, 4, 4096, 12), StopSignal::new()).await;
    assert_eq!(r.status, JobStatus::Failed);
    assert_eq!(r.io_failed, 0);
    assert!(r.io_completed > 0);
    assert!(
        r.events.iter().any(|e| e == "Reset blockdev=mem0 failed"),
        "{:?}",
        r.events
    );
    // It stopped at the reset, not at the 12 s run time.
    assert!(r.run_time_us < 11_500_000, "{}", r.run_time_us);
}

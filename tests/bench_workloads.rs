//! `mpath-console bench` end to end against the embedded target: I/O
//! larger than MDTS, and bdevperf's write_zeroes, flush, unmap and reset
//! workloads, read from the perform_tests JSON it writes.

use std::process::Command;

use serde_json::Value;

/// Runs bench with `args` (plus --json); returns the exit status, the
/// output, and the JSON when there is one.
fn bench(args: &[&str]) -> (bool, String, Option<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let out = Command::new(env!("CARGO_BIN_EXE_mpath-console"))
        .arg("bench")
        .args(args)
        .arg("--json")
        .arg(&json)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v = std::fs::read(&json)
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap());
    (out.status.success(), text, v)
}

/// The one job's result; asserts the run succeeded with I/O done and none
/// failed.
fn clean_run(args: &[&str]) -> Value {
    let (ok, text, v) = bench(args);
    assert!(ok, "bench {args:?} failed:\n{text}");
    let r = v.unwrap()["results"][0].clone();
    assert_eq!(r["io_failed"], 0, "{text}");
    assert!(r["iops"].as_f64().unwrap() > 0.0, "{text}");
    r
}

/// 1 MiB verify against a target whose MDTS is 128 KiB: every I/O is cut
/// into eight commands each way, and all of them complete and compare.
#[test]
fn verify_with_1m_io() {
    let r = clean_run(&["-q", "16", "-o", "1m", "-w", "verify", "-t", "2"]);
    assert_eq!(r["io_size"], 1 << 20);
    assert_eq!(r["status"], "finished");
    assert_eq!(r["io_miscompared"], 0);
}

/// write_zeroes and flush run as bdevperf runs them, one command per I/O
/// of io_size, with nothing failed; MiB/s counts io_size per I/O.
#[test]
fn write_zeroes_and_flush_workloads() {
    for w in ["write_zeroes", "flush"] {
        let r = clean_run(&["-q", "32", "-o", "64k", "-w", w, "-t", "1"]);
        assert_eq!(r["workload"], w);
        let (iops, mibps) = (r["iops"].as_f64().unwrap(), r["mibps"].as_f64().unwrap());
        assert!((mibps - iops / 16.0).abs() < 1e-6 * iops.max(1.0), "{r}");
    }
}

/// unmap: one Dataset Management (deallocate) per I/O; the embedded
/// target offers DSM (ONCS bit 2), so the run is clean.
#[test]
fn unmap_workload_runs_clean() {
    let r = clean_run(&["-q", "32", "-o", "4096", "-w", "unmap", "-t", "1"]);
    assert_eq!(r["workload"], "unmap");
    assert_eq!(r["status"], "finished");
}

/// reset: verify with both paths' controllers reset 10 s in; the I/O in
/// flight then is retried, so nothing fails or miscompares and the run
/// succeeds.
#[test]
fn reset_workload_resets_under_verify() {
    let r = clean_run(&["-q", "32", "-o", "4096", "-w", "reset", "-t", "11"]);
    assert_eq!(r["workload"], "reset");
    assert_eq!(r["status"], "finished");
}

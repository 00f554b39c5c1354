//! The complete multipath HOWTO, verbatim, through SPDK's own client
//! `spdk-rpc` against `mpath-console serve` on loopback: the target half,
//! bdevperf's options and both attaches, `perform_tests` fired by a small
//! client, then every observation the HOWTO asks for, checked in
//! `bdev_nvme_get_io_paths` and in the kernel's per-connection byte counts
//! (sock_diag, as `ss` reads them).

mod common;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::{free_port, rpc_cli, rpc_raw, Serve};
use mpath_console::sockstat::{self, Filter};
use serde_json::Value;

const NQN: &str = "nqn.2022-02.io.spdk:cnode0";

fn ok(sock: &std::path::Path, args: &[&str]) -> String {
    let out = rpc_cli(sock, args);
    assert_eq!(
        out.status, 0,
        "spdk-rpc {args:?}: {}{}",
        out.stdout, out.stderr
    );
    out.stdout
}

/// (trsvcid, current, completed_ios) per path, from spdk-rpc.
fn paths(s: &Serve) -> Vec<(String, bool, u64)> {
    let v: Value =
        serde_json::from_str(&ok(&s.isock, &["bdev_nvme_get_io_paths", "-n", "Nvme0n1"]))
            .expect("io_paths JSON");
    v["poll_groups"][0]["io_paths"]
        .as_array()
        .expect("io_paths")
        .iter()
        .map(|p| {
            (
                p["transport"]["trsvcid"].as_str().unwrap_or("").to_string(),
                p["current"].as_bool().unwrap_or(false),
                p["completed_ios"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Bytes the kernel delivered on the target's side of every connection to
/// a listener port (what `ss -ti` shows as bytes_received).
fn kernel_rx_bytes(port: u16) -> u64 {
    sockstat::query(&Filter::port(port, Filter::CONNECTED))
        .expect("sock_diag")
        .iter()
        .filter(|c| c.local.port() == port)
        .filter_map(|c| c.info.as_ref().and_then(|i| i.bytes_received))
        .sum()
}

/// Growth of (per-path completed I/O, kernel bytes) on both ports over `d`.
fn growth(s: &Serve, ports: [u16; 2], d: Duration) -> ([u64; 2], [u64; 2]) {
    let (p0, k0) = (paths(s), ports.map(kernel_rx_bytes));
    std::thread::sleep(d);
    let (p1, k1) = (paths(s), ports.map(kernel_rx_bytes));
    (
        [p1[0].2 - p0[0].2, p1[1].2 - p0[1].2],
        [k1[0] - k0[0], k1[1] - k0[1]],
    )
}

/// Our own methods are not in spdk-rpc's argparse table: sent raw.
fn ours(sock: &std::path::Path, method: &str) -> Value {
    let reply = rpc_raw(
        sock,
        &format!(r#"{{"jsonrpc":"2.0","method":"{method}","id":1}}"#),
    )
    .unwrap_or_else(|| panic!("{method}: no reply"));
    let v: Value = serde_json::from_str(&reply).expect("reply JSON");
    v["result"].clone()
}

#[test]
fn multipath_howto_verbatim() {
    howto_verbatim(&[]);
}

/// The same with each engine on a thread of its own: every step, path
/// move and reconnect then happens on those threads.
#[test]
fn multipath_howto_verbatim_on_engine_threads() {
    howto_verbatim(&["--engine-threads"]);
}

fn howto_verbatim(serve_args: &[&str]) {
    let s = Serve::start_with(serve_args);
    let threads = s.thread_names();
    let own = ["mpath-target", "mpath-initiator"].map(|n| threads.iter().any(|t| t == n));
    let want = serve_args.contains(&"--engine-threads");
    assert_eq!(
        own, [want; 2],
        "engine threads with {serve_args:?}: {threads:?}"
    );
    let (p1, p2) = (free_port("127.0.0.1"), free_port("127.0.0.2"));
    let (p1s, p2s) = (p1.to_string(), p2.to_string());
    let t = &s.sock;

    // The target half.
    ok(
        t,
        &["nvmf_create_transport", "-t", "tcp", "-o", "-u", "8192"],
    );
    ok(
        t,
        &[
            "nvmf_create_subsystem",
            NQN,
            "-a",
            "-s",
            "SPDK00000000000001",
            "-r",
        ],
    );
    assert_eq!(
        ok(t, &["bdev_malloc_create", "64", "512", "-b", "Malloc0"]).trim(),
        "Malloc0"
    );
    ok(t, &["nvmf_subsystem_add_ns", NQN, "Malloc0"]);
    ok(
        t,
        &[
            "nvmf_subsystem_add_listener",
            "-t",
            "tcp",
            "-a",
            "127.0.0.1",
            "-s",
            &p1s,
            NQN,
        ],
    );
    ok(
        t,
        &[
            "nvmf_subsystem_add_listener",
            "-t",
            "tcp",
            "-a",
            "127.0.0.2",
            "-s",
            &p2s,
            NQN,
        ],
    );

    // The initiator half (the bdevperf process of the HOWTO).
    let i = &s.isock;
    ok(i, &["bdev_nvme_set_options", "-r", "-1"]);
    let a1 = ok(
        i,
        &[
            "bdev_nvme_attach_controller",
            "-b",
            "Nvme0",
            "-t",
            "tcp",
            "-a",
            "127.0.0.1",
            "-s",
            &p1s,
            "-f",
            "ipv4",
            "-n",
            NQN,
            "-l",
            "-1",
            "-o",
            "10",
        ],
    );
    let a2 = ok(
        i,
        &[
            "bdev_nvme_attach_controller",
            "-b",
            "Nvme0",
            "-t",
            "tcp",
            "-a",
            "127.0.0.2",
            "-s",
            &p2s,
            "-f",
            "ipv4",
            "-n",
            NQN,
            "-x",
            "multipath",
            "-l",
            "-1",
            "-o",
            "10",
        ],
    );
    assert_eq!((a1.trim(), a2.trim()), ("Nvme0n1", "Nvme0n1"));
    let ps = paths(&s);
    assert_eq!(ps.len(), 2, "two paths after both attaches: {ps:?}");

    // perform_tests, fired like bdevperf.py -t 1: the reply only comes at
    // the end of the run, so the client does not wait for it.
    let mut c = UnixStream::connect(i).expect("initiator socket");
    c.write_all(
        br#"{"jsonrpc":"2.0","method":"perform_tests","id":1,"params":{"time_in_sec":120,"workload_type":"verify","queue_depth":128,"io_size":"4096"}}"#,
    )
    .expect("send perform_tests");

    // Only the first path receives traffic.
    common::wait_for("I/O on the first path", Duration::from_secs(5), || {
        let p = paths(&s);
        p[0].0 == p1s && p[0].1 && !p[1].1 && p[0].2 > 1000
    });
    let (ios, kernel) = growth(&s, [p1, p2], Duration::from_millis(500));
    assert!(
        ios[0] > 1000 && ios[1] == 0,
        "active_passive per path: {ios:?}"
    );
    assert!(
        kernel[0] > 1 << 20,
        "first listener's connections carry bytes: {kernel:?}"
    );
    assert!(kernel[1] < 64 << 10, "second only keep-alives: {kernel:?}");

    // Switching paths: the first listener non_optimized.
    ok(
        t,
        &[
            "nvmf_subsystem_listener_set_ana_state",
            NQN,
            "-t",
            "tcp",
            "-a",
            "127.0.0.1",
            "-s",
            &p1s,
            "-n",
            "non_optimized",
        ],
    );
    let took = common::wait_for(
        "traffic switched to the second path",
        Duration::from_secs(1),
        || {
            let p = paths(&s);
            !p[0].1 && p[1].1
        },
    );
    eprintln!("current path moved in {took:?}");
    let (ios, kernel) = growth(&s, [p1, p2], Duration::from_millis(500));
    assert!(ios[1] > 1000 && ios[0] == 0, "after the switch: {ios:?}");
    assert!(
        kernel[1] > 1 << 20 && kernel[0] < 64 << 10,
        "kernel bytes: {kernel:?}"
    );

    // Round-robin: both optimized, then active_active (round_robin, then
    // queue_depth): both connections carry traffic.
    ok(
        t,
        &[
            "nvmf_subsystem_listener_set_ana_state",
            NQN,
            "-t",
            "tcp",
            "-a",
            "127.0.0.1",
            "-s",
            &p1s,
            "-n",
            "optimized",
        ],
    );
    ok(
        i,
        &[
            "bdev_nvme_set_multipath_policy",
            "-b",
            "Nvme0n1",
            "-p",
            "active_active",
        ],
    );
    for selector in [None, Some("queue_depth")] {
        if let Some(sel) = selector {
            ok(
                i,
                &[
                    "bdev_nvme_set_multipath_policy",
                    "-b",
                    "Nvme0n1",
                    "-p",
                    "active_active",
                    "-s",
                    sel,
                ],
            );
        }
        std::thread::sleep(Duration::from_millis(200));
        let (ios, kernel) = growth(&s, [p1, p2], Duration::from_millis(500));
        assert!(
            ios[0] > 500 && ios[1] > 500,
            "{selector:?}: both paths: {ios:?}"
        );
        assert!(
            kernel[0] > 1 << 20 && kernel[1] > 1 << 20,
            "{selector:?}: kernel: {kernel:?}"
        );
        assert!(paths(&s).iter().all(|p| p.1), "both current");
    }

    // The current path inaccessible: I/O carries on.
    ok(
        i,
        &[
            "bdev_nvme_set_multipath_policy",
            "-b",
            "Nvme0n1",
            "-p",
            "active_passive",
        ],
    );
    common::wait_for("first path current again", Duration::from_secs(2), || {
        paths(&s)[0].1
    });
    ok(
        t,
        &[
            "nvmf_subsystem_listener_set_ana_state",
            NQN,
            "-t",
            "tcp",
            "-a",
            "127.0.0.1",
            "-s",
            &p1s,
            "-n",
            "inaccessible",
        ],
    );
    common::wait_for("second path current", Duration::from_secs(1), || {
        paths(&s)[1].1
    });
    let (ios, _) = growth(&s, [p1, p2], Duration::from_millis(300));
    assert!(ios[1] > 500, "I/O carries on: {ios:?}");
    ok(
        t,
        &[
            "nvmf_subsystem_listener_set_ana_state",
            NQN,
            "-t",
            "tcp",
            "-a",
            "127.0.0.1",
            "-s",
            &p1s,
            "-n",
            "optimized",
        ],
    );
    common::wait_for("failback to the first path", Duration::from_secs(2), || {
        paths(&s)[0].1
    });

    // The first listener removed: its connections are dropped, I/O goes on
    // through the second path; once it is back, the lost path reconnects
    // after reconnect_delay_sec (10 s, -o 10).
    ok(
        t,
        &[
            "nvmf_subsystem_remove_listener",
            NQN,
            "-t",
            "tcp",
            "-a",
            "127.0.0.1",
            "-s",
            &p1s,
        ],
    );
    common::wait_for("second path current", Duration::from_secs(2), || {
        paths(&s)[1].1
    });
    let (ios, _) = growth(&s, [p1, p2], Duration::from_millis(300));
    assert!(ios[1] > 500, "I/O through the second path: {ios:?}");
    ok(
        t,
        &[
            "nvmf_subsystem_add_listener",
            "-t",
            "tcp",
            "-a",
            "127.0.0.1",
            "-s",
            &p1s,
            NQN,
        ],
    );
    let back = common::wait_for("the lost path reconnects", Duration::from_secs(25), || {
        paths(&s)[0].1
    });
    eprintln!("path 1 back {back:?} after its listener returned");

    // Nothing failed or miscompared through all of it.
    let st = ours(&s.isock, "mpath_perf_status");
    let job = &st["jobs"][0];
    assert!(
        st["running"].as_bool().unwrap_or(false),
        "load still running: {st}"
    );
    assert_eq!(job["io_failed"], 0, "{st}");
    assert_eq!(job["io_miscompared"], 0, "{st}");
    assert!(job["io_completed"].as_u64().unwrap_or(0) > 10_000, "{st}");
    assert_eq!(ours(&s.isock, "mpath_perf_stop"), Value::Bool(true));
}

//! The sampler: answers in, snapshot out. First with fixed answers and
//! fixed instants (rates, mapping sockets to listeners/paths/queues,
//! unavailable reasons, stale data, host events, stalls), then against the
//! real embedded engines and the real kernel (sock_diag) over loopback.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mpath_console::sockstat::{TcpConn, TcpInfo, TcpState};
use mpath_console::ui::sampler::{self, Answer, CallErr, RawPoll, SamplerOpts, State};
use mpath_console::ui::snapshot::{LogKind, Metric, Queue, Side};
use serde_json::{json, Value};

const NQN: &str = "nqn.2022-02.io.spdk:cnode0";

fn opts() -> SamplerOpts {
    SamplerOpts {
        refresh: Duration::from_millis(100),
        bdev: "Nvme0n1".into(),
        nqn: NQN.into(),
    }
}

fn trid(a: &str, p: &str) -> Value {
    json!({"trtype": "TCP", "adrfam": "IPv4", "traddr": a, "trsvcid": p})
}

fn conn(local: &str, peer: &str, recv_q: u32, acked: u64, received: u64) -> TcpConn {
    TcpConn {
        local: local.parse::<SocketAddr>().unwrap(),
        peer: peer.parse::<SocketAddr>().unwrap(),
        state: TcpState::Established,
        recv_q,
        send_q: 0,
        inode: 1,
        uid: 0,
        cookie: 7,
        cong: None,
        info: Some(TcpInfo {
            rtt_us: 50,
            bytes_acked: Some(acked),
            bytes_received: Some(received),
            ..TcpInfo::default()
        }),
    }
}

/// One poll's answers: 4420 current (cntlid 1), 5520 standby (cntlid 2);
/// `k` scales the cumulative counters.
fn raw(at: Instant, k: u64, completed: u64) -> RawPoll {
    let mut r = RawPoll::new(at, 1_764_000_000.0 + k as f64);
    r.subsystems = Some(Ok(json!([
        {"nqn": "nqn.2014-08.org.nvmexpress.discovery", "subtype": "Discovery", "listen_addresses": [], "allow_any_host": true, "hosts": []},
        {"nqn": NQN, "subtype": "NVMe", "listen_addresses": [trid("127.0.0.2", "5520"), trid("127.0.0.1", "4420")],
         "allow_any_host": true, "hosts": [], "serial_number": "SPDK00000000000001", "model_number": "SPDK bdev Controller",
         "namespaces": [{"nsid": 1, "bdev_name": "Malloc0", "anagrpid": 1}]}
    ])));
    r.listeners = vec![(
        NQN.into(),
        Ok(json!([
            {"address": trid("127.0.0.2", "5520"), "ana_states": [{"ana_group": 1, "ana_state": "optimized"}]},
            {"address": trid("127.0.0.1", "4420"), "ana_states": [{"ana_group": 1, "ana_state": "optimized"}]}
        ])),
    )];
    r.qpairs = vec![(
        NQN.into(),
        Ok(json!([
            {"cntlid": 1, "qid": 0, "state": "enabled", "listen_address": trid("127.0.0.1", "4420"), "peer_address": trid("127.0.0.1", "40110")},
            {"cntlid": 1, "qid": 1, "state": "enabled", "listen_address": trid("127.0.0.1", "4420"), "peer_address": trid("127.0.0.1", "40112")},
            {"cntlid": 2, "qid": 0, "state": "enabled", "listen_address": trid("127.0.0.2", "5520"), "peer_address": trid("127.9.9.9", "51318")}
        ])),
    )];
    r.tgt_ctrlrs = vec![(
        NQN.into(),
        Ok(json!([{"cntlid": 1, "hostnqn": "h", "num_io_qpairs": 2}])),
    )];
    r.tgt_bdevs = Some(Ok(
        json!([{"name": "Malloc0", "num_blocks": 131072, "block_size": 512}]),
    ));
    let path = |cntlid: u64, a: &str, p: &str, cur: bool, ios: u64, local: &str| {
        json!({"bdev_name": "Nvme0n1", "cntlid": cntlid, "current": cur, "connected": true, "accessible": true,
               "transport": {"trtype": "TCP", "traddr": a, "trsvcid": p, "adrfam": "IPv4"}, "ana_state": "optimized",
               "outstanding_ios": 128, "completed_ios": ios, "bytes": ios * 4096, "local_address": local})
    };
    r.io_paths = Some(Ok(
        json!({"poll_groups": [{"thread": "Nvme0n1", "io_paths": [
            path(1, "127.0.0.1", "4420", true, 20_000 * k, "127.0.0.1:40112"),
            path(2, "127.0.0.2", "5520", false, 0, "127.0.0.1:51320"),
        ]}]}),
    ));
    r.ini_bdev = Some(Ok(
        json!([{"name": "Nvme0n1", "driver_specific": {"mp_policy": "active_passive", "selector": "round_robin"}}]),
    ));
    r.ini_ctrlrs = Some(Ok(
        json!([{"name": "Nvme0", "ctrlrs": [{"cntlid": 1}, {"cntlid": 2}]}]),
    ));
    r.perf_status = Some(Ok(
        json!({"running": true, "workload": "verify", "queue_depth": 128, "io_size": 4096, "jobs": [
            {"job": "Nvme0n1", "io_completed": completed, "io_failed": 0, "io_timeout": 0, "io_miscompared": 0,
             "bytes": completed * 4096, "in_flight": 128, "avg_latency_us": 100.0 + k as f64, "max_latency_us": 900.0}
        ]}),
    ));
    r.host_events = Some(Ok(json!([
        {"seq": 0, "time": 1_764_000_000.5, "text": "path 127.0.0.1:4420 connected"},
        {"seq": 1, "time": "2025-11-24T16:00:01Z", "text": "path 127.0.0.2:5520 connected"}
    ])));
    r.sock = Some(Ok(vec![
        conn(
            "127.0.0.1:40112",
            "127.0.0.1:4420",
            0,
            1_000_000 * k,
            2_000_000 * k,
        ),
        conn(
            "127.0.0.1:4420",
            "127.0.0.1:40112",
            4096,
            2_000_000 * k,
            1_000_000 * k,
        ),
        conn("127.0.0.1:40110", "127.0.0.1:4420", 0, 100, 100),
        // Not on a listener port: not ours, not shown.
        conn("127.0.0.1:22", "127.0.0.1:50000", 0, 0, 0),
    ]));
    r
}

fn ingest(st: &mut State, r: RawPoll) -> mpath_console::ui::Snapshot {
    st.ingest_with(r, "/var/tmp/spdk.sock", "/tmp/bdevperf.sock", true, true)
}

#[test]
fn rates_mapping_and_reasons_from_answers() {
    let mut st = State::new(&opts(), "embedded");
    let t0 = Instant::now();
    let s = ingest(&mut st, raw(t0, 1, 10_000));
    // First sample: rates are unavailable, with the reason, never zero.
    assert_eq!(s.paths[0].iops, Metric::Unavailable("first sample".into()));
    assert!(
        matches!(&s.conns.rows[0].tx_bps, Metric::Unavailable(r) if r.contains("first sample"))
    );
    assert!(matches!(&s.load.iops, Metric::Unavailable(_)));

    let s = ingest(&mut st, raw(t0 + Duration::from_secs(1), 2, 35_000));
    // Listeners in address order, with ANA, controllers and qpairs.
    let l: Vec<String> = s.listeners.iter().map(|l| l.addr()).collect();
    assert_eq!(l, ["127.0.0.1:4420", "127.0.0.2:5520"]);
    assert_eq!(s.listeners[0].ana_state(), Some("optimized"));
    assert_eq!(
        (s.listeners[0].controllers.clone(), s.listeners[0].qpairs),
        (vec![1], 2)
    );
    // Subsystems: discovery kept, sizes from the target's bdevs, ANA on.
    let sub = s.subsystems.iter().find(|x| x.nqn == NQN).unwrap();
    assert_eq!(sub.namespaces[0].size, Some(64 * 1024 * 1024));
    assert!(sub.ana_reporting && sub.allow_any_host);
    // Per-path IOPS from completed_ios deltas; load from perf status.
    assert_eq!(s.paths[0].iops, Metric::Value(20_000.0));
    assert_eq!(s.paths[0].ctrlr, "Nvme0");
    assert!(s.paths[0].current && !s.paths[1].current);
    assert_eq!(s.load.iops, Metric::Value(25_000.0));
    assert_eq!(s.load.mibps, Metric::Value(25_000.0 * 4096.0 / 1048576.0));
    // Interval latency: (102·35000 − 101·10000) / 25000.
    let lat = s.load.avg_lat_us.value().unwrap();
    assert!(
        (lat - (102.0 * 35_000.0 - 101.0 * 10_000.0) / 25_000.0).abs() < 1e-6,
        "{lat}"
    );
    assert_eq!(
        s.load.p99_lat_us,
        Metric::Unavailable("this backend reports no p99".into())
    );
    assert_eq!(s.load.max_lat_us, Metric::Value(900.0));
    assert_eq!(
        (s.policy.as_deref(), s.selector.as_deref()),
        (Some("active_passive"), Some("round_robin"))
    );

    // Sockets: both ends of the I/O qpair, the host's admin queue, and the
    // remote peer's qpair (127.9.9.9 is not a socket here).
    let rows = &s.conns.rows;
    let find = |side, q: Queue, cntlid| {
        rows.iter()
            .find(|r| r.side == side && r.queue == q && r.cntlid == Some(cntlid))
    };
    let host_io = find(Side::Host, Queue::Io(1), 1).expect("host I/O q1");
    assert_eq!(host_io.tx_bps, Metric::Value(1_000_000.0));
    assert_eq!(host_io.rx_bps, Metric::Value(2_000_000.0));
    assert!(host_io.current_path);
    let tgt_io = find(Side::Target, Queue::Io(1), 1).expect("target I/O q1");
    assert_eq!(
        (tgt_io.recv_q, tgt_io.listener.as_deref()),
        (Some(4096), Some("127.0.0.1:4420"))
    );
    assert_eq!(tgt_io.rtt_us, Some(50.0));
    assert!(find(Side::Host, Queue::Admin, 1).is_some());
    let remote = find(Side::Remote, Queue::Admin, 2).expect("remote qpair labelled");
    assert_eq!(
        remote.tx_bps,
        Metric::Unavailable("not on this machine".into())
    );
    assert!(!rows.iter().any(|r| r.local.ends_with(":22")));
    assert_eq!(rows.len(), 4);

    // Host events: both taken once (since is inclusive, seq 0 included).
    let host: Vec<&str> = s
        .events
        .iter()
        .filter(|e| e.kind == LogKind::Host)
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(
        host,
        [
            "path 127.0.0.1:4420 connected",
            "path 127.0.0.2:5520 connected"
        ]
    );
}

#[test]
fn unreachable_app_keeps_last_good_data_marked_stale() {
    let mut st = State::new(&opts(), "attached");
    let t0 = Instant::now();
    ingest(&mut st, raw(t0, 1, 10_000));
    let mut r = RawPoll::new(t0 + Duration::from_secs(1), 0.0);
    let down: Answer = Err(CallErr {
        msg: "/var/tmp/spdk.sock: Connection refused".into(),
        unreachable: true,
    });
    r.subsystems = Some(down);
    let s = ingest(&mut st, r);
    assert_eq!(
        s.target.error.as_deref(),
        Some("/var/tmp/spdk.sock: Connection refused")
    );
    assert_eq!(s.listeners.len(), 2, "last good data kept");
    assert!(s.initiator.error.is_none());
    // An RPC error (method missing) is not "unreachable".
    let mut r = RawPoll::new(t0 + Duration::from_secs(2), 0.0);
    r.subsystems = Some(Ok(json!([])));
    r.io_paths = Some(Err(CallErr {
        msg: "Method not found".into(),
        unreachable: false,
    }));
    let s = ingest(&mut st, r);
    assert!(s.target.error.is_none() && s.initiator.error.is_none());
}

#[test]
fn a_stall_during_failover_is_measured() {
    let mut st = State::new(&opts(), "embedded");
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    ingest(&mut st, raw(ms(0), 1, 1000));
    ingest(&mut st, raw(ms(100), 1, 2000));
    // No progress for two samples, then the path switches and I/O resumes.
    ingest(&mut st, raw(ms(200), 1, 2000));
    ingest(&mut st, raw(ms(300), 1, 2000));
    let mut r = raw(ms(400), 1, 3000);
    if let Some(Ok(v)) = &mut r.io_paths {
        let p = &mut v["poll_groups"][0]["io_paths"];
        p[0]["current"] = json!(false);
        p[1]["current"] = json!(true);
    }
    let s = ingest(&mut st, r);
    let stall: Vec<&str> = s
        .events
        .iter()
        .filter(|e| e.kind == LogKind::Stall)
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(
        stall,
        ["failover stall: no I/O completed for 300 ms (±100 ms sampling), path 127.0.0.1:4420 → 127.0.0.2:5520"]
    );
}

/// The real thing: embedded target and initiator over loopback, the HOWTO
/// set up, the load running; the sampler's own poll and the kernel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_the_embedded_engines_and_the_kernel() {
    use mpath_console::engines::Engines;
    use mpath_console::perf::config::PerfConfig;
    use mpath_console::scenario;

    let perf =
        PerfConfig::from_args(["-z", "-q", "8", "-o", "4096", "-w", "verify", "-t", "30"]).unwrap();
    let e = Engines::new(perf);
    // Ports chosen to not clash with other tests (loopback only).
    let steps = scenario::howto(&scenario::HowtoOpts {
        listeners: vec![
            "127.0.0.1:44871".parse().unwrap(),
            "127.0.0.2:44872".parse().unwrap(),
        ],
        paths: 2,
        hdgst: false,
        ddgst: false,
        policy: None,
        reconnect_delay_sec: 10,
    });
    e.run_steps(&steps).await.unwrap();
    e.start_load(Some(json!({"time_in_sec": 30})));
    let control = e.control();
    let mut st = State::new(&opts(), control.mode());
    let mut snap = None;
    for _ in 0..15 {
        let mut r = sampler::poll(&*control, &st).await;
        let ports = st.listener_ports();
        r.sock = Some(
            tokio::task::spawn_blocking(move || {
                mpath_console::sockstat::query(&mpath_console::sockstat::Filter {
                    ports,
                    states: mpath_console::sockstat::Filter::CONNECTED,
                })
            })
            .await
            .unwrap()
            .map_err(|e| e.to_string()),
        );
        snap = Some(st.ingest(r, &*control));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = snap.unwrap();
    assert!(
        s.target.error.is_none() && s.initiator.error.is_none(),
        "{:?} {:?}",
        s.target,
        s.initiator
    );
    assert_eq!(
        s.target.has_method("mpath_listener_drop_connections"),
        Some(true)
    );
    assert_eq!(s.initiator.has_method("mpath_perf_status"), Some(true));
    assert_eq!(
        s.listeners
            .iter()
            .map(|l| l.trsvcid.as_str())
            .collect::<Vec<_>>(),
        ["44871", "44872"]
    );
    assert_eq!(s.paths.len(), 2);
    assert_eq!(s.paths.iter().filter(|p| p.current).count(), 1);
    // The target lists listeners newest first, as SPDK does; the
    // walkthrough's "first listener" is the first one added.
    let sub = s
        .subsystems
        .iter()
        .find(|x| x.nqn == scenario::HOWTO_NQN)
        .unwrap();
    assert_eq!(sub.listen_addresses, ["127.0.0.2:44872", "127.0.0.1:44871"]);
    let what = (mpath_console::ui::walkthrough::steps()[2].what)(&s);
    assert!(what.contains("Select 127.0.0.1:44871"), "{what}");
    assert_eq!(s.load.running, Some(true));
    assert!(s.load.iops.value().unwrap_or(0.0) > 0.0, "{:?}", s.load);
    // The engine gives a p99 of the last second, live (the header's).
    let p99 = s.load.p99_lat_us.value().expect("a live p99");
    let avg = s.load.avg_lat_us.value().expect("an average");
    assert!(p99 > 0.0 && p99 >= avg * 0.5, "p99 {p99} avg {avg}");
    // Every connection is seen from both ends, mapped to its queue.
    let rows = &s.conns.rows;
    if let Some(e) = &s.conns.error {
        panic!("sock_diag unavailable here: {e}");
    }
    for side in [Side::Host, Side::Target] {
        for cntlid in s.paths.iter().map(|p| p.cntlid) {
            assert!(
                rows.iter()
                    .any(|r| r.side == side && r.cntlid == Some(cntlid) && r.queue == Queue::Admin),
                "{side:?} admin {cntlid}: {rows:#?}"
            );
            assert!(
                rows.iter().any(|r| r.side == side
                    && r.cntlid == Some(cntlid)
                    && matches!(r.queue, Queue::Io(_))),
                "{side:?} io {cntlid}"
            );
        }
    }
    assert!(
        rows.iter().all(|r| r.side != Side::Remote),
        "all local: {rows:#?}"
    );
    // The current path's I/O socket carries the bytes.
    let cur = s.paths.iter().find(|p| p.current).unwrap();
    let io = rows
        .iter()
        .find(|r| {
            r.side == Side::Host && r.cntlid == Some(cur.cntlid) && matches!(r.queue, Queue::Io(_))
        })
        .unwrap();
    assert!(io.tx_bps.value().unwrap_or(0.0) > 0.0, "{io:?}");
    assert!(!s.history.iops.is_empty());
}

/// Real SPDK: no per-path counters, no `local_address`, no
/// `mpath_perf_status`. Per-path byte rates come from the kernel's
/// sockets to each listener, bdev-wide numbers from `bdev_get_iostat`, and
/// what is missing says why.
#[test]
fn real_spdk_shapes_fall_back_to_the_kernel_and_iostat() {
    let spdk = |at: Instant, k: u64| {
        let mut r = raw(at, k, 0);
        if let Some(Ok(v)) = &mut r.io_paths {
            for p in v["poll_groups"][0]["io_paths"].as_array_mut().unwrap() {
                let o = p.as_object_mut().unwrap();
                for key in [
                    "completed_ios",
                    "bytes",
                    "local_address",
                    "outstanding_ios",
                    "ana_state",
                ] {
                    o.remove(key);
                }
            }
        }
        r.perf_status = None;
        r.iostat = Some(Ok(
            json!({"tick_rate": 1_000_000_000u64, "ticks": 1, "bdevs": [{
            "name": "Nvme0n1", "num_read_ops": 1000 * k, "num_write_ops": 1000 * k,
            "bytes_read": 4096 * 1000 * k, "bytes_written": 4096 * 1000 * k,
            "read_latency_ticks": 50_000_000 * k, "write_latency_ticks": 50_000_000 * k}]}),
        ));
        r.host_events = None;
        r
    };
    let mut st = State::new(&opts(), "attached");
    let t0 = Instant::now();
    ingest(&mut st, spdk(t0, 1));
    let s = ingest(&mut st, spdk(t0 + Duration::from_secs(1), 2));
    assert_eq!(s.load.iops, Metric::Value(2000.0));
    assert_eq!(s.load.avg_lat_us, Metric::Value(50.0));
    assert_eq!(
        s.load.p99_lat_us,
        Metric::Unavailable("bdev_get_iostat has no percentiles".into())
    );
    assert_eq!(s.load.failed, None, "unknown, not zero");
    let p = &s.paths[0];
    assert_eq!(
        p.iops,
        Metric::Unavailable("no per-path counters on this backend".into())
    );
    assert_eq!(p.outstanding, None);
    // 4420's host-side sockets: the I/O one moved 1 MB + 2 MB in 1 s, the
    // admin one nothing.
    assert_eq!(p.mibps, Metric::Value(3_000_000.0 / 1048576.0));
    assert_eq!(s.history.per_path_unit, "MiB/s");
}

/// `mpath_perf_status` with the recent window (ours now): the header's p99
/// is the last second's; none completed in it says why, and so does a
/// paused load; `queue_depth`/`io_size` of 0 (not given) are unknown.
#[test]
fn p99_of_the_last_second_from_perf_status() {
    let status = |running: bool, recent: Value, qd: u64| {
        json!({"running": running, "workload": "verify", "queue_depth": qd, "io_size": 4096, "jobs": [
            {"job": "Nvme0n1", "io_completed": 1000, "io_failed": 0, "io_timeout": 0, "io_miscompared": 0,
             "bytes": 4096000, "in_flight": 1, "avg_latency_us": 100.0, "max_latency_us": 90000.0,
             "p99_latency_us": 5000.0, "recent_p99_latency_us": recent, "recent_window_us": 1000000}
        ]})
    };
    let mut st = State::new(&opts(), "embedded");
    let t0 = Instant::now();
    let mut r = raw(t0, 1, 1000);
    r.perf_status = Some(Ok(status(true, json!(321.5), 128)));
    let s = ingest(&mut st, r);
    assert_eq!(s.load.p99_lat_us, Metric::Value(321.5), "the recent one");
    assert_eq!(s.load.queue_depth, Some(128));
    let mut r = raw(t0 + Duration::from_secs(1), 2, 1000);
    r.perf_status = Some(Ok(status(true, Value::Null, 128)));
    let s = ingest(&mut st, r);
    assert_eq!(
        s.load.p99_lat_us,
        Metric::Unavailable("no I/O completed in the last second".into())
    );
    let mut r = raw(t0 + Duration::from_secs(2), 3, 1000);
    r.perf_status = Some(Ok(status(false, Value::Null, 0)));
    let s = ingest(&mut st, r);
    assert_eq!(s.load.p99_lat_us, Metric::Unavailable("load paused".into()));
    assert_eq!(s.load.queue_depth, None, "0 = not given");
}

/// Real SPDK v24.09 answers, as recorded in
/// `tests/golden/spdk-v24.09/rpc/`: `bdev_nvme_get_io_paths` during a
/// run (28, active_passive) has no `ana_state`; the host's view of each
/// path is in `bdev_get_bdevs` (21) → `driver_specific.nvme[].ns_data`,
/// one entry per controller with its `trid`. Here 5520 is made
/// non_optimized (the recording has both optimized) to see the match.
fn spdk_io_paths() -> Value {
    json!({"poll_groups": [{"thread": "Nvme0n1", "io_paths": [
        {"bdev_name": "Nvme0n1", "cntlid": 1, "current": true, "connected": true, "accessible": true,
         "transport": {"trtype": "TCP", "traddr": "127.0.0.1", "trsvcid": "4420", "adrfam": "IPv4"}},
        {"bdev_name": "Nvme0n1", "cntlid": 2, "current": false, "connected": true, "accessible": true,
         "transport": {"trtype": "TCP", "traddr": "127.0.0.2", "trsvcid": "5520", "adrfam": "IPv4"}}
    ]}]})
}

fn spdk_bdevs(ana_4420: &str, ana_5520: &str) -> Value {
    let ctrlr = |cntlid: u64, traddr: &str, trsvcid: &str, ana: &str| {
        json!({
            "trid": {"trtype": "TCP", "adrfam": "IPv4", "traddr": traddr, "trsvcid": trsvcid,
                     "subnqn": NQN},
            "ctrlr_data": {"cntlid": cntlid, "vendor_id": "0x8086", "model_number": "SPDK bdev Controller",
                           "serial_number": "SPDK00000000000001", "firmware_revision": "24.09",
                           "subnqn": NQN, "oacs": {"security": 0, "format": 0, "firmware": 0, "ns_manage": 0},
                           "multi_ctrlr": true, "ana_reporting": true},
            "vs": {"nvme_version": "1.3"},
            "ns_data": {"id": 1, "ana_state": ana, "can_share": true}
        })
    };
    json!([{
        "name": "Nvme0n1", "aliases": ["1355f85a-1d3f-4173-b298-a11c3fd35fb7"], "product_name": "NVMe disk",
        "block_size": 512, "num_blocks": 131072, "uuid": "1355f85a-1d3f-4173-b298-a11c3fd35fb7",
        "claimed": false, "zoned": false,
        "driver_specific": {
            "nvme": [
                ctrlr(1, "127.0.0.1", "4420", ana_4420),
                ctrlr(2, "127.0.0.2", "5520", ana_5520)
            ],
            "mp_policy": "active_passive"
        }
    }])
}

#[test]
fn real_spdk_ana_state_comes_from_bdev_get_bdevs_by_trid() {
    let mut st = State::new(&opts(), "attached");
    let mut r = raw(Instant::now(), 1, 0);
    r.io_paths = Some(Ok(spdk_io_paths()));
    r.ini_bdev = Some(Ok(spdk_bdevs("optimized", "non_optimized")));
    let s = ingest(&mut st, r);
    let ana: Vec<(String, &str)> = s
        .paths
        .iter()
        .map(|p| (p.addr(), p.ana_state.as_str()))
        .collect();
    assert_eq!(
        ana,
        [
            ("127.0.0.1:4420".to_string(), "optimized"),
            ("127.0.0.2:5520".to_string(), "non_optimized")
        ]
    );
    assert_eq!(s.policy.as_deref(), Some("active_passive"));

    // The io_paths' own `ana_state` (our engine) wins when present.
    let mut r = raw(Instant::now(), 1, 0);
    r.ini_bdev = Some(Ok(spdk_bdevs("inaccessible", "inaccessible")));
    let s = ingest(&mut st, r);
    assert!(s.paths.iter().all(|p| p.ana_state == "optimized"));

    // A path bdev_get_bdevs does not list stays unknown, not guessed.
    let mut r = raw(Instant::now(), 1, 0);
    r.io_paths = Some(Ok(spdk_io_paths()));
    let mut b = spdk_bdevs("optimized", "optimized");
    b[0]["driver_specific"]["nvme"][1]["trid"]["trsvcid"] = json!("5521");
    r.ini_bdev = Some(Ok(b));
    let s = ingest(&mut st, r);
    assert_eq!(s.paths[0].ana_state, "optimized");
    assert_eq!(s.paths[1].ana_state, "");
}

/// Real SPDK with no job running answers `{"poll_groups": []}` (golden
/// vector 22): the paths still show, from bdev_get_bdevs, with their ANA
/// state, none current and no rates made up.
#[test]
fn idle_real_spdk_paths_come_from_bdev_get_bdevs() {
    let mut st = State::new(&opts(), "attached");
    let mut r = raw(Instant::now(), 1, 0);
    r.io_paths = Some(Ok(json!({"poll_groups": []})));
    r.ini_bdev = Some(Ok(spdk_bdevs("optimized", "inaccessible")));
    let s = ingest(&mut st, r);
    let got: Vec<(String, &str, bool, bool)> = s
        .paths
        .iter()
        .map(|p| (p.addr(), p.ana_state.as_str(), p.current, p.accessible))
        .collect();
    assert_eq!(
        got,
        [
            ("127.0.0.1:4420".to_string(), "optimized", false, true),
            ("127.0.0.2:5520".to_string(), "inaccessible", false, false)
        ]
    );
    assert!(s
        .paths
        .iter()
        .all(|p| p.iops.value().is_none() && p.mibps.value().is_none()));
}

/// Kernel byte counters: timestamped when read (`sock_at`), not at the
/// poll's start, and turned into a rate over about a second, so a steady
/// stream reads steady even with ~100 ms polls read at jittery instants.
#[test]
fn socket_rates_use_the_read_instant_and_a_one_second_window() {
    const RATE: f64 = 10_000_000.0; // bytes/s, both ways
    let mut st = State::new(&opts(), "attached");
    let t0 = Instant::now();
    let jitter = [
        0u64, 45, 5, 60, 10, 35, 0, 55, 20, 40, 5, 50, 15, 30, 0, 60, 25, 10, 45, 5,
    ];
    let sock_row = |s: &mpath_console::ui::Snapshot| {
        s.conns
            .rows
            .iter()
            .find(|r| r.side == Side::Host && r.local == "127.0.0.1:40112")
            .cloned()
            .expect("host I/O socket")
    };
    for (i, j) in jitter.iter().enumerate() {
        let at = t0 + Duration::from_millis(100 * i as u64);
        let read = at + Duration::from_millis(*j);
        let bytes = (RATE * read.duration_since(t0).as_secs_f64()) as u64;
        let mut r = raw(at, 1, 0);
        r.sock = Some(Ok(vec![conn(
            "127.0.0.1:40112",
            "127.0.0.1:4420",
            0,
            bytes,
            bytes,
        )]));
        r.sock_at = Some(read);
        let s = ingest(&mut st, r);
        let row = sock_row(&s);
        if i == 0 {
            assert!(matches!(row.tx_bps, Metric::Unavailable(_)));
            continue;
        }
        for v in [row.tx_bps.value(), row.rx_bps.value()] {
            let v = v.expect("a rate");
            assert!(
                (v - RATE).abs() / RATE < 1e-3,
                "poll {i}: {v} B/s, want {RATE}"
            );
        }
    }

    // A one-off burst of 1 MB is spread over the window (~1 s), not over
    // the last 100 ms (which would read 10 MB/s).
    let mut st = State::new(&opts(), "attached");
    let mut total = 0u64;
    let mut last = Metric::Unavailable(String::new());
    for i in 0..15u64 {
        if i == 12 {
            total += 1_000_000;
        }
        let at = t0 + Duration::from_millis(100 * i);
        let mut r = raw(at, 1, 0);
        r.sock = Some(Ok(vec![conn(
            "127.0.0.1:40112",
            "127.0.0.1:4420",
            0,
            total,
            0,
        )]));
        r.sock_at = Some(at);
        let s = ingest(&mut st, r);
        if i == 12 {
            last = sock_row(&s).tx_bps;
        }
    }
    let v = last.value().expect("a rate");
    assert!((900_000.0..=1_100_000.0).contains(&v), "{v}");
}

/// active_active: both paths current. The event names the set, once per
/// change, whatever order the answer lists the paths in.
#[test]
fn active_active_path_events_name_the_current_set_once() {
    let mut st = State::new(&opts(), "attached");
    let t0 = Instant::now();
    let both = |at: Instant, reversed: bool| {
        let mut r = raw(at, 1, 0);
        if let Some(Ok(v)) = &mut r.io_paths {
            let p = v["poll_groups"][0]["io_paths"].as_array_mut().unwrap();
            p[1]["current"] = json!(true);
            if reversed {
                p.reverse();
            }
        }
        r
    };
    let path_events = |s: &mpath_console::ui::Snapshot| -> Vec<String> {
        s.events
            .iter()
            .filter(|e| e.kind == LogKind::Info && e.text.contains("current path"))
            // Without the "; I/O never stopped" note of a running load.
            .map(|e| e.text.split(';').next().unwrap_or_default().to_string())
            .collect()
    };
    ingest(&mut st, raw(t0, 1, 0));
    let s = ingest(&mut st, both(t0 + Duration::from_millis(100), false));
    assert_eq!(
        path_events(&s),
        ["Nvme0n1: current paths: 127.0.0.1:4420, 127.0.0.2:5520 (was 127.0.0.1:4420)"]
    );
    let s = ingest(&mut st, both(t0 + Duration::from_millis(200), true));
    let s2 = ingest(&mut st, both(t0 + Duration::from_millis(300), false));
    assert_eq!(path_events(&s).len(), 1, "same set: nothing new");
    assert_eq!(path_events(&s2).len(), 1, "same set: nothing new");
    // Back to one path: named as a set change too.
    let mut r = raw(t0 + Duration::from_millis(400), 1, 0);
    if let Some(Ok(v)) = &mut r.io_paths {
        let p = &mut v["poll_groups"][0]["io_paths"];
        p[0]["current"] = json!(false);
        p[1]["current"] = json!(true);
    }
    let s = ingest(&mut st, r);
    assert_eq!(
        path_events(&s).last().map(String::as_str),
        Some("Nvme0n1: current paths: 127.0.0.2:5520 (was 127.0.0.1:4420, 127.0.0.2:5520)")
    );
}

/// The console's reservation view and keys against the embedded engines:
/// the sampler reads Reservation Report and this host's Host Identifier
/// through `bdev_nvme_send_cmd`; `R` registers this host and `A` reserves
/// Write Exclusive, and the next read shows it, this host the holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_changes_the_reservation_as_this_host() {
    use mpath_console::engines::Engines;
    use mpath_console::perf::config::PerfConfig;
    use mpath_console::scenario;
    use mpath_console::ui::app::{Effect, UiEvent};

    let perf =
        PerfConfig::from_args(["-z", "-q", "8", "-o", "4096", "-w", "verify", "-t", "30"]).unwrap();
    let e = Engines::new(perf);
    let free = |ip: &str| SocketAddr::new(ip.parse().unwrap(), common::free_port(ip));
    let steps = scenario::howto(&scenario::HowtoOpts {
        listeners: vec![free("127.0.0.1"), free("127.0.0.2")],
        paths: 2,
        hdgst: false,
        ddgst: false,
        policy: None,
        reconnect_delay_sec: 10,
    });
    e.run_steps(&steps).await.unwrap();
    let control = e.control();
    let mut st = State::new(&opts(), control.mode());
    let s = fresh(&mut st, &control).await;
    let r = s.reservation.clone().expect("the reservation was read");
    let me = r.this_host.expect("this host's Host Identifier");
    let report = r.report.clone().expect("a Reservation Report");
    assert_eq!((report.rtype, report.registrants_total), (0, 0));
    // Keys, through the console's pure update: R registers, A reserves.
    let mut app = mpath_console::ui::fixture::app(mpath_console::ui::theme::Theme::dark());
    let key = |c: char| {
        UiEvent::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::SHIFT,
        ))
    };
    for c in ['R', 'A'] {
        let mut snap = (*app.snap).clone();
        snap.reservation = Some(next_reservation(&mut st, &control).await);
        snap.seq += 1;
        app.update(UiEvent::Snapshot(std::sync::Arc::new(snap)));
        let fx = app.update(key(c));
        let [Effect::Call(call)] = fx.as_slice() else {
            panic!("{c}: expected one call, got {fx:?}")
        };
        assert_eq!(call.method, "bdev_nvme_send_cmd");
        let v = control
            .call(call.app, &call.method, call.params.clone())
            .await
            .unwrap();
        assert!(
            mpath_console::ui::resv::cpl_status(&v)
                .unwrap()
                .is_success(),
            "{c}: {v}"
        );
    }
    let r = next_reservation(&mut st, &control).await;
    let report = r.report.clone().expect("a Reservation Report");
    assert_eq!(report.rtype, 1, "Write Exclusive");
    assert_eq!(report.registrants.len(), 1);
    assert!(report.registrants[0].holds && report.registrants[0].hostid == me);
    assert_eq!(r.own_key(), Some(mpath_console::ui::resv::host_key(&me)));
}

async fn fresh(
    st: &mut State,
    control: &std::sync::Arc<dyn mpath_console::control::Control>,
) -> mpath_console::ui::Snapshot {
    let r = sampler::poll(&**control, st).await;
    st.ingest(r, &**control)
}

/// The next reservation read (the sampler reads it once a second).
async fn next_reservation(
    st: &mut State,
    control: &std::sync::Arc<dyn mpath_console::control::Control>,
) -> mpath_console::ui::resv::NsReservation {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let s = fresh(st, control).await;
    s.reservation.expect("a reservation read")
}

/// A second subsystem attached as `Nvme1` over its own listeners numbers
/// its controllers from 1 too: each path is named by its controller's
/// transport ID, never by the cntlid alone.
#[test]
fn paths_name_their_controller_by_transport_id_not_cntlid() {
    let cnode1 = "nqn.2022-02.io.spdk:cnode1";
    let ctrlr = |cntlid: u64, a: &str, p: &str, nqn: &str| {
        let mut t = trid(a, p);
        t["subnqn"] = json!(nqn);
        json!({"state": "enabled", "cntlid": cntlid, "trid": t})
    };
    let ctrlrs = json!([
        {"name": "Nvme0", "ctrlrs": [ctrlr(1, "127.0.0.1", "4420", NQN), ctrlr(2, "127.0.0.2", "5520", NQN)]},
        {"name": "Nvme1", "ctrlrs": [ctrlr(1, "127.0.0.3", "4420", cnode1), ctrlr(2, "127.0.0.4", "5520", cnode1)]}
    ]);
    let names = |s: &mpath_console::ui::Snapshot| -> Vec<(String, u16, String)> {
        s.paths
            .iter()
            .map(|p| (p.ctrlr.clone(), p.cntlid, p.addr()))
            .collect()
    };
    let want = |c2: u16| {
        vec![
            ("Nvme0".to_string(), 1, "127.0.0.1:4420".to_string()),
            ("Nvme0".to_string(), c2, "127.0.0.2:5520".to_string()),
        ]
    };
    let mut st = State::new(&opts(), "embedded");
    let mut r = raw(Instant::now(), 1, 0);
    r.ini_ctrlrs = Some(Ok(ctrlrs.clone()));
    assert_eq!(names(&ingest(&mut st, r)), want(2));

    // Real SPDK's io_paths (no subnqn in the transport) and, idle, its
    // bdev_get_bdevs.
    let mut r = raw(Instant::now(), 1, 0);
    r.ini_ctrlrs = Some(Ok(ctrlrs.clone()));
    r.io_paths = Some(Ok(spdk_io_paths()));
    r.ini_bdev = Some(Ok(spdk_bdevs("optimized", "optimized")));
    assert_eq!(names(&ingest(&mut st, r)), want(2));
    let mut r = raw(Instant::now(), 1, 0);
    r.ini_ctrlrs = Some(Ok(ctrlrs.clone()));
    r.io_paths = Some(Ok(json!({"poll_groups": []})));
    r.ini_bdev = Some(Ok(spdk_bdevs("optimized", "optimized")));
    assert_eq!(names(&ingest(&mut st, r)), want(2));

    // 5520 reconnected with cntlid 3 while the controller list still
    // shows 2: the transport ID still names it.
    let mut r = raw(Instant::now(), 1, 0);
    r.ini_ctrlrs = Some(Ok(ctrlrs.clone()));
    let mut p = r.io_paths.clone().unwrap().unwrap();
    p["poll_groups"][0]["io_paths"][1]["cntlid"] = json!(3);
    r.io_paths = Some(Ok(p));
    assert_eq!(names(&ingest(&mut st, r)), want(3));

    // The same address under both subsystems: the subnqn tells them apart.
    // (Nvme1 listed first.)
    let mut c = json!([ctrlrs[1].clone(), ctrlrs[0].clone()]);
    c[0]["ctrlrs"][0] = ctrlr(1, "127.0.0.1", "4420", cnode1);
    let mut r = raw(Instant::now(), 1, 0);
    r.ini_ctrlrs = Some(Ok(c));
    let mut p = r.io_paths.clone().unwrap().unwrap();
    for i in 0..2 {
        p["poll_groups"][0]["io_paths"][i]["transport"]["subnqn"] = json!(NQN);
    }
    r.io_paths = Some(Ok(p));
    assert_eq!(names(&ingest(&mut st, r)), want(2));
}

/// Listeners, I/O paths and connections in one order: NQN, then address
/// numerically (127.0.0.3 before 127.0.0.10, IPv4 before IPv6), then port
/// numerically (4420, 5520, 10000).
#[test]
fn every_pane_sorts_by_nqn_then_address_and_port_as_numbers() {
    let addrs = [
        ("127.0.0.10", "4420"),
        ("::1", "4420"),
        ("127.0.0.3", "10000"),
        ("127.0.0.3", "5520"),
        ("127.0.0.3", "4420"),
    ];
    let first = "nqn.2022-02.io.spdk:aaa";
    let mut r = raw(Instant::now(), 1, 0);
    r.subsystems = Some(Ok(json!([
        {"nqn": NQN, "subtype": "NVMe", "listen_addresses": addrs.iter().map(|(a, p)| trid(a, p)).collect::<Vec<_>>(),
         "allow_any_host": true, "hosts": [], "namespaces": [{"nsid": 1, "bdev_name": "Malloc0", "anagrpid": 1}]},
        {"nqn": first, "subtype": "NVMe", "listen_addresses": [trid("127.0.0.200", "4420")],
         "allow_any_host": true, "hosts": [], "namespaces": []}
    ])));
    r.listeners = vec![(
        NQN.into(),
        Ok(addrs
            .iter()
            .map(|(a, p)| json!({"address": trid(a, p), "ana_states": [{"ana_group": 1, "ana_state": "optimized"}]}))
            .collect()),
    )];
    r.qpairs = vec![(
        NQN.into(),
        Ok(addrs
            .iter()
            .enumerate()
            .map(|(i, (a, p))| {
                json!({"cntlid": i + 1, "qid": 0, "state": "enabled", "listen_address": trid(a, p),
                       "peer_address": trid("127.9.9.9", &(50_000 + i).to_string())})
            })
            .collect()),
    )];
    r.io_paths = Some(Ok(json!({"poll_groups": [{"thread": "Nvme0n1", "io_paths":
        addrs.iter().enumerate().map(|(i, (a, p))| {
            let mut t = trid(a, p);
            t["subnqn"] = json!(NQN);
            json!({"bdev_name": "Nvme0n1", "cntlid": i + 1, "current": i == 0, "connected": true,
                   "accessible": true, "transport": t})
        }).collect::<Vec<_>>()}]})));
    r.sock = Some(Ok(vec![]));
    let mut st = State::new(&opts(), "embedded");
    let s = ingest(&mut st, r);
    let want = [
        "127.0.0.3:4420",
        "127.0.0.3:5520",
        "127.0.0.3:10000",
        "127.0.0.10:4420",
        "[::1]:4420",
    ];
    let subs: Vec<&str> = s.subsystems.iter().map(|x| x.nqn.as_str()).collect();
    assert_eq!(subs, [first, NQN]);
    let listeners: Vec<(String, String)> = s
        .listeners
        .iter()
        .map(|l| (l.nqn.clone(), l.addr()))
        .collect();
    let mut expect = vec![(first.to_string(), "127.0.0.200:4420".to_string())];
    expect.extend(want.iter().map(|a| (NQN.to_string(), a.to_string())));
    assert_eq!(listeners, expect);
    let paths: Vec<String> = s.paths.iter().map(|p| p.addr()).collect();
    assert_eq!(paths, want);
    let conns: Vec<&str> = s
        .conns
        .rows
        .iter()
        .map(|c| c.listener.as_deref().unwrap())
        .collect();
    assert_eq!(conns, want);
}

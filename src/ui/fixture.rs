//! A deterministic snapshot of the HOWTO under load (two listeners, two
//! paths, active_passive on 4420), for snapshot tests, screenshots and
//! benches. Nothing here reads a clock.

use std::sync::Arc;

use super::app::{App, UiEvent};
use super::health::PathHealth;
use super::keymap::Keymap;
use super::snapshot::*;
use super::theme::Theme;

pub const T0: f64 = 1_764_000_000.0;
const NQN: &str = "nqn.2022-02.io.spdk:cnode0";

fn wave(n: usize, base: f64, amp: f64, phase: f64) -> Vec<f64> {
    (0..n)
        .map(|i| base + amp * ((i as f64) * 0.37 + phase).sin())
        .collect()
}

/// The HOWTO's state: 4420 optimized and current, 5520 optimized standby.
pub fn snapshot() -> Snapshot {
    let listener = |port: &str, ip: &str, ctrl: u16| Listener {
        nqn: NQN.into(),
        trtype: "TCP".into(),
        adrfam: "IPv4".into(),
        traddr: ip.into(),
        trsvcid: port.into(),
        ana_states: vec![(1, "optimized".into())],
        controllers: vec![ctrl],
        qpairs: 2,
        fault: None,
    };
    let mut p1 = IoPath {
        bdev: "Nvme0n1".into(),
        ctrlr: "Nvme0".into(),
        cntlid: 1,
        nqn: NQN.into(),
        trtype: "TCP".into(),
        adrfam: "IPv4".into(),
        traddr: "127.0.0.1".into(),
        trsvcid: "4420".into(),
        connected: true,
        accessible: true,
        current: true,
        ana_state: "optimized".into(),
        outstanding: Some(128),
        // NVMe commands: a verify I/O is a write and a read, so twice the
        // load's IOPS and MiB/s.
        iops: Metric::Value(49_196.2),
        mibps: Metric::Value(192.18),
        local_address: Some("127.0.0.1:40112".into()),
        history: wave(60, 48_000.0, 1_800.0, 0.0),
        fault: None,
        health: PathHealth::default(),
    };
    let mut p2 = IoPath {
        cntlid: 2,
        traddr: "127.0.0.2".into(),
        trsvcid: "5520".into(),
        current: false,
        outstanding: Some(0),
        iops: Metric::Value(0.0),
        mibps: Metric::Value(0.0),
        local_address: Some("127.0.0.1:51320".into()),
        history: vec![0.0; 60],
        ..p1.clone()
    };
    p1.history[10] = 0.0;
    p2.history[10] = 48_200.0;
    let conn = |side: Side,
                local: &str,
                peer: &str,
                l: &str,
                cntlid: u16,
                q: Queue,
                rq: u32,
                sq: u32,
                tx: f64,
                rx: f64,
                cur: bool| ConnRow {
        side,
        state: "ESTAB".into(),
        recv_q: Some(rq),
        send_q: Some(sq),
        local: local.into(),
        peer: peer.into(),
        tx_bps: Metric::Value(tx),
        rx_bps: Metric::Value(rx),
        rtt_us: Some(48.0),
        listener: Some(l.into()),
        cntlid: Some(cntlid),
        queue: q,
        current_path: cur,
    };
    let a = "127.0.0.1:4420";
    let b = "127.0.0.2:5520";
    let rows = vec![
        conn(
            Side::Host,
            "127.0.0.1:40110",
            a,
            a,
            1,
            Queue::Admin,
            0,
            0,
            40.0,
            40.0,
            true,
        ),
        conn(
            Side::Target,
            a,
            "127.0.0.1:40110",
            a,
            1,
            Queue::Admin,
            0,
            0,
            40.0,
            40.0,
            true,
        ),
        conn(
            Side::Host,
            "127.0.0.1:40112",
            a,
            a,
            1,
            Queue::Io(1),
            0,
            262_144,
            50_331_648.0,
            50_438_144.0,
            true,
        ),
        conn(
            Side::Target,
            a,
            "127.0.0.1:40112",
            a,
            1,
            Queue::Io(1),
            131_072,
            65_536,
            50_438_144.0,
            50_331_648.0,
            true,
        ),
        conn(
            Side::Host,
            "127.0.0.1:51318",
            b,
            b,
            2,
            Queue::Admin,
            0,
            0,
            40.0,
            40.0,
            false,
        ),
        conn(
            Side::Target,
            b,
            "127.0.0.1:51318",
            b,
            2,
            Queue::Admin,
            0,
            0,
            40.0,
            40.0,
            false,
        ),
        ConnRow {
            tx_bps: Metric::Unavailable("first sample of this socket".into()),
            rx_bps: Metric::Unavailable("first sample of this socket".into()),
            ..conn(
                Side::Host,
                "127.0.0.1:51320",
                b,
                b,
                2,
                Queue::Io(1),
                0,
                0,
                0.0,
                0.0,
                false,
            )
        },
        conn(
            Side::Target,
            b,
            "127.0.0.1:51320",
            b,
            2,
            Queue::Io(1),
            0,
            0,
            0.0,
            0.0,
            false,
        ),
    ];
    let events = vec![
        LogEntry { at: T0 + 1.0, kind: LogKind::Host, text: "path 127.0.0.1:4420 (cntlid 1) connected".into() },
        LogEntry { at: T0 + 1.2, kind: LogKind::Host, text: "path 127.0.0.2:5520 (cntlid 2) connected".into() },
        LogEntry { at: T0 + 20.5, kind: LogKind::Host, text: "AEN ANA change (DW0 0x000c0302) on 127.0.0.1:4420".into() },
        LogEntry { at: T0 + 20.51, kind: LogKind::Host, text: "ANA log read on 127.0.0.1:4420: grp 1 optimized → non_optimized".into() },
        LogEntry { at: T0 + 20.52, kind: LogKind::Host, text: "Nvme0n1: current path 127.0.0.1:4420 (cntlid 1) → 127.0.0.2:5520 (cntlid 2)".into() },
        LogEntry { at: T0 + 20.7, kind: LogKind::Stall, text: "failover stall: no I/O completed for 200 ms (±100 ms sampling), path 127.0.0.1:4420 → 127.0.0.2:5520".into() },
    ];
    Snapshot {
        seq: 42,
        at: T0 + 60.0,
        mode: "embedded".into(),
        bdev: "Nvme0n1".into(),
        nqn: NQN.into(),
        target: AppHealth {
            location: "/var/tmp/spdk.sock".into(),
            present: true,
            error: None,
            methods: Some(vec![
                "nvmf_get_subsystems".into(),
                "mpath_listener_drop_connections".into(),
                "mpath_listener_blackhole".into(),
                "mpath_listener_delay".into(),
                "mpath_listener_restore".into(),
            ]),
        },
        initiator: AppHealth {
            location: "/tmp/bdevperf.sock".into(),
            present: true,
            error: None,
            methods: Some(vec![
                "bdev_nvme_get_io_paths".into(),
                "mpath_perf_status".into(),
                "mpath_perf_stop".into(),
            ]),
        },
        policy: Some("active_passive".into()),
        selector: Some("round_robin".into()),
        load: Load {
            source: LoadSource::PerfStatus,
            running: Some(true),
            workload: Some("verify".into()),
            queue_depth: Some(128),
            io_size: Some(4096),
            iops: Metric::Value(24_598.1),
            mibps: Metric::Value(96.09),
            avg_lat_us: Metric::Value(5203.0),
            p99_lat_us: Metric::Value(9876.0),
            max_lat_us: Metric::Value(21_004.0),
            failed: Some(0),
            miscompared: Some(0),
            timeouts: Some(0),
            in_flight: Some(128),
            completed: Some(1_475_886),
        },
        sys: Some(SysStats {
            cpu_pct: 143.0,
            rss: 52 * 1024 * 1024,
            load: [1.25, 0.9, 0.7],
            cpus: 8,
        }),
        subsystems: vec![Subsystem {
            nqn: NQN.into(),
            subtype: "NVMe".into(),
            serial: "SPDK00000000000001".into(),
            model: "SPDK bdev Controller".into(),
            allow_any_host: true,
            ana_reporting: true,
            namespaces: vec![Namespace {
                nsid: 1,
                bdev: "Malloc0".into(),
                size: Some(64 * 1024 * 1024),
                anagrpid: Some(1),
            }],
            controllers: vec![
                TgtController {
                    cntlid: 1,
                    hostnqn: "nqn.2014-08.org.nvmexpress:uuid:host".into(),
                    num_io_qpairs: 2,
                },
                TgtController {
                    cntlid: 2,
                    hostnqn: "nqn.2014-08.org.nvmexpress:uuid:host".into(),
                    num_io_qpairs: 2,
                },
            ],
            // Newest first, as SPDK lists them.
            listen_addresses: vec![b.into(), a.into()],
        }],
        listeners: vec![
            listener("4420", "127.0.0.1", 1),
            listener("5520", "127.0.0.2", 2),
        ],
        history: History {
            iops: wave(60, 24_000.0, 900.0, 0.0),
            mibps: wave(60, 94.0, 3.5, 0.0),
            lat_us: wave(60, 5200.0, 300.0, 1.0),
            per_path: vec![
                ("127.0.0.1:4420".into(), p1.history.clone()),
                ("127.0.0.2:5520".into(), p2.history.clone()),
            ],
            per_path_unit: "IOPS",
        },
        paths: vec![p1, p2],
        conns: Conns {
            rows,
            ..Conns::default()
        },
        events,
        raw_subsystems: None,
        reservation: None,
        ini_ctrlrs: vec![IniCtrlr {
            name: "Nvme0".into(),
            subnqn: NQN.into(),
        }],
    }
}

/// The second subsystem of [`fabric`].
pub const NQN2: &str = "nqn.2022-02.io.spdk:cnode1";

/// [`snapshot`] on a bigger fabric: `extra` more listeners of its
/// subsystem (127.0.0.3, .4, … port 4420), a second subsystem ([`NQN2`],
/// namespace Malloc1) with its own listener 127.0.0.20:4420 that `Nvme1`
/// is attached to, and `paths` I/O paths of Nvme0n1 in all (the first
/// two as in [`snapshot`], then one per extra listener, each with its own
/// rate).
pub fn fabric(extra: usize, paths: usize) -> Snapshot {
    let mut s = snapshot();
    let base = s.listeners[0].clone();
    for i in 0..extra {
        s.listeners.push(Listener {
            traddr: format!("127.0.0.{}", i + 3),
            trsvcid: "4420".into(),
            controllers: vec![],
            qpairs: 0,
            ..base.clone()
        });
    }
    s.listeners.push(Listener {
        nqn: NQN2.into(),
        traddr: "127.0.0.20".into(),
        controllers: vec![1],
        ..base
    });
    let mut sub = s.subsystems[0].clone();
    sub.nqn = NQN2.into();
    sub.serial = "SPDK00000000000002".into();
    sub.namespaces[0].bdev = "Malloc1".into();
    sub.controllers.truncate(1);
    s.subsystems.push(sub);
    s.ini_ctrlrs.push(IniCtrlr {
        name: "Nvme1".into(),
        subnqn: NQN2.into(),
    });
    let model = s.paths[1].clone();
    for i in 2..paths {
        let mut p = model.clone();
        p.cntlid = i as u16 + 1;
        p.traddr = format!("127.0.0.{}", i + 1);
        p.trsvcid = "4420".into();
        p.iops = Metric::Value(1000.0 * i as f64);
        p.history = wave(60, 1000.0 * i as f64, 100.0, i as f64);
        s.history.per_path.push((p.label(), p.history.clone()));
        s.paths.push(p);
    }
    s.sort_rows();
    s
}

fn fixed_clock() -> f64 {
    T0 + 59.0
}

/// An app on [`snapshot`] with a fixed clock, focus on Listeners.
pub fn app(theme: Theme) -> App {
    let mut a = App::new("Nvme0n1", NQN, theme, Keymap::default());
    a.clock = fixed_clock;
    a.update(UiEvent::Snapshot(Arc::new(snapshot())));
    a
}

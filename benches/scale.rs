//! Console cost as the fabric grows: one frame's sampling (the sampler
//! folding one poll's RPC answers and socket list into a snapshot,
//! `State::ingest_with`) and rendering (every pane into a 200×50 ratatui
//! `Buffer`, `panes::draw`), for fabrics from one subsystem with two
//! listeners and one path up to 64 subsystems × 4 listeners × 2 paths
//! with 1,000 sockets. `cargo bench --bench scale`.
//!
//! The answers are shaped like SPDK's: `nvmf_get_subsystems`,
//! `nvmf_subsystem_get_listeners`, `nvmf_subsystem_get_qpairs`,
//! `nvmf_subsystem_get_controllers` and `bdev_get_bdevs` from the target;
//! `bdev_nvme_get_io_paths`, `bdev_get_bdevs`, `bdev_nvme_get_controllers`
//! and `mpath_perf_status` from the initiator; sock_diag rows for both
//! ends of every connection. The initiator reports every bdev's paths
//! (the largest answer the console can be given). `decode` is the
//! `serde_json` parse of those answers' text, which the RPC client does
//! before the sampler sees them.
//!
//! Measured in CPU time of the benchmark thread, not wall time: the bar
//! is a share of a core, and on a busy 2-core machine wall time counts
//! the other processes' turns too.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use mpath_console::sockstat::{TcpConn, TcpInfo, TcpState};
use mpath_console::ui::app::{App, UiEvent};
use mpath_console::ui::keymap::Keymap;
use mpath_console::ui::panes;
use mpath_console::ui::sampler::{RawPoll, SamplerOpts, State};
use mpath_console::ui::snapshot::Snapshot;
use mpath_console::ui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use serde_json::{json, Value};

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`), in ns.
struct ThreadCpu;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given; the clock id
    // is a valid constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        thread_cpu_ns().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = match typical {
            t if t < 1e3 => (1.0, "ns cpu"),
            t if t < 1e6 => (1e3, "µs cpu"),
            _ => (1e6, "ms cpu"),
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }
    fn scale_throughputs(&self, _: f64, _: &Throughput, values: &mut [f64]) -> &'static str {
        values.iter_mut().for_each(|v| *v = 1e9 / *v);
        "frames/cpu-s"
    }
    fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
        "ns"
    }
}

/// A fabric: subsystems, listeners per subsystem, paths per subsystem
/// (the host's controllers to it), and sockets in all (both ends).
#[derive(Clone, Copy)]
struct Fabric {
    subsystems: usize,
    listeners: usize,
    paths: usize,
    sockets: usize,
}

impl Fabric {
    fn name(&self) -> String {
        format!(
            "{}x{}x{}/{}socks",
            self.subsystems, self.listeners, self.paths, self.sockets
        )
    }
}

/// Sockets grow with the paths: an admin and I/O queues per path, both
/// ends on this machine.
const STEPS: [Fabric; 3] = [
    Fabric {
        subsystems: 1,
        listeners: 2,
        paths: 1,
        sockets: 4,
    },
    Fabric {
        subsystems: 8,
        listeners: 4,
        paths: 2,
        sockets: 128,
    },
    Fabric {
        subsystems: 64,
        listeners: 4,
        paths: 2,
        sockets: 1000,
    },
];

const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;

fn nqn(s: usize) -> String {
    format!("nqn.2016-06.io.spdk:cnode{s}")
}

/// Listener `l` of subsystem `s`: its own address and port, so that
/// every listener and path has a transport ID of its own.
fn portal(l: usize) -> String {
    format!("127.0.0.{}", l + 1)
}

fn port(s: usize) -> String {
    (4420 + s).to_string()
}

fn trid(addr: &str, port: &str, subnqn: Option<&str>) -> Value {
    let mut t = json!({"trtype": "TCP", "adrfam": "IPv4", "traddr": addr, "trsvcid": port});
    if let Some(n) = subnqn {
        t["subnqn"] = json!(n);
    }
    t
}

/// One connection (admin or I/O qpair) of path `p` of subsystem `s`.
struct QpairConn {
    s: usize,
    path: usize,
    cntlid: u64,
    qid: u64,
    host_port: u16,
}

fn connections(f: &Fabric) -> Vec<QpairConn> {
    let paths = f.subsystems * f.paths;
    let mut qid = vec![0u64; paths];
    (0..f.sockets / 2)
        .map(|i| {
            let k = i % paths;
            let c = QpairConn {
                s: k / f.paths,
                path: k % f.paths,
                cntlid: (k % f.paths) as u64 + 1,
                qid: qid[k],
                host_port: 20_000 + i as u16,
            };
            qid[k] += 1;
            c
        })
        .collect()
}

fn sock(local: String, peer: String, k: u64) -> TcpConn {
    TcpConn {
        local: local.parse::<SocketAddr>().expect("addr"),
        peer: peer.parse::<SocketAddr>().expect("addr"),
        state: TcpState::Established,
        recv_q: 0,
        send_q: 0,
        inode: 1,
        uid: 0,
        cookie: k,
        cong: None,
        info: Some(TcpInfo {
            rtt_us: 50,
            bytes_acked: Some(4096 * k),
            bytes_received: Some(8192 * k),
            ..TcpInfo::default()
        }),
    }
}

/// One poll's answers for fabric `f`; `k` scales the counters.
fn poll(f: &Fabric, at: Instant, k: u64) -> RawPoll {
    let mut r = RawPoll::new(at, 1_764_000_000.0 + k as f64 / 10.0);
    let conns = connections(f);
    let mut subs = vec![
        json!({"nqn": "nqn.2014-08.org.nvmexpress.discovery", "subtype": "Discovery",
        "listen_addresses": [], "allow_any_host": true, "hosts": []}),
    ];
    let mut tgt_bdevs = vec![];
    let mut ini_bdevs = vec![];
    let mut ini_ctrlrs = vec![];
    let mut io_paths = vec![];
    let mut jobs = vec![];
    for s in 0..f.subsystems {
        let n = nqn(s);
        let addrs: Vec<Value> = (0..f.listeners)
            .map(|l| trid(&portal(l), &port(s), None))
            .collect();
        subs.push(json!({"nqn": n, "subtype": "NVMe", "listen_addresses": addrs,
            "allow_any_host": true, "hosts": [], "serial_number": format!("SPDK{s:016}"),
            "model_number": "SPDK bdev Controller", "max_namespaces": 32,
            "namespaces": [{"nsid": 1, "bdev_name": format!("Malloc{s}"), "name": format!("Malloc{s}"),
                "nguid": format!("{s:032X}"), "uuid": "6f2b2f0e-8d5c-4c6e-9b5e-000000000000", "anagrpid": 1}]}));
        let listeners: Vec<Value> = (0..f.listeners)
            .map(|l| {
                let state = if l % 2 == 0 {
                    "optimized"
                } else {
                    "non_optimized"
                };
                json!({"address": trid(&portal(l), &port(s), None),
                       "ana_states": [{"ana_group": 1, "ana_state": state}]})
            })
            .collect();
        r.listeners.push((n.clone(), Ok(Value::Array(listeners))));
        let qpairs: Vec<Value> = conns
            .iter()
            .filter(|c| c.s == s)
            .map(|c| {
                json!({"cntlid": c.cntlid, "qid": c.qid, "state": "enabled", "thread": "nvmf_tgt_poll_group_000",
                       "listen_address": trid(&portal(c.path), &port(s), None),
                       "peer_address": trid("127.0.0.1", &c.host_port.to_string(), None)})
            })
            .collect();
        r.qpairs.push((n.clone(), Ok(Value::Array(qpairs))));
        let ctrlrs: Vec<Value> = (0..f.paths)
            .map(|p| {
                json!({"cntlid": p + 1, "hostnqn": "nqn.2014-08.org.nvmexpress:uuid:host",
                       "hostid": "00000000-0000-0000-0000-000000000000", "num_io_qpairs": 1})
            })
            .collect();
        r.tgt_ctrlrs.push((n.clone(), Ok(Value::Array(ctrlrs))));
        tgt_bdevs.push(json!({"name": format!("Malloc{s}"), "product_name": "Malloc disk",
            "block_size": 512, "num_blocks": 131072, "uuid": "6f2b2f0e-8d5c-4c6e-9b5e-000000000000"}));

        let bdev = format!("Nvme{s}n1");
        let nvme: Vec<Value> = (0..f.paths)
            .map(|p| {
                json!({"trid": trid(&portal(p), &port(s), Some(&n)),
                       "ctrlr_data": {"cntlid": p + 1, "vendor_id": "0x4e58", "model_number": "SPDK bdev Controller",
                                      "serial_number": format!("SPDK{s:016}"), "firmware_revision": "24.09"},
                       "ns_data": {"id": 1, "ana_state": if p == 0 { "optimized" } else { "non_optimized" }, "can_share": true}})
            })
            .collect();
        ini_bdevs.push(
            json!({"name": bdev, "product_name": "NVMe disk", "block_size": 512,
            "num_blocks": 131072, "driver_specific": {"mp_policy": "active_passive",
            "selector": "round_robin", "nvme": nvme}}),
        );
        ini_ctrlrs.push(json!({"name": format!("Nvme{s}"), "ctrlrs": (0..f.paths).map(|p| json!({
            "state": "enabled", "cntlid": p + 1, "trid": trid(&portal(p), &port(s), Some(&n)),
            "host": {"nqn": "nqn.2014-08.org.nvmexpress:uuid:host", "addr": "", "svcid": ""}})).collect::<Vec<_>>()}));
        for p in 0..f.paths {
            let local = conns
                .iter()
                .find(|c| c.s == s && c.path == p && c.qid == 1)
                .map(|c| format!("127.0.0.1:{}", c.host_port));
            io_paths.push(json!({"bdev_name": bdev, "cntlid": p + 1, "current": p == 0,
                "connected": true, "accessible": true, "ana_state": if p == 0 { "optimized" } else { "non_optimized" },
                "transport": trid(&portal(p), &port(s), Some(&n)), "outstanding_ios": 32,
                "completed_ios": 20_000 * k, "bytes": 20_000 * k * 4096, "local_address": local}));
        }
        jobs.push(
            json!({"job": bdev, "io_completed": 20_000 * k, "io_failed": 0, "io_timeout": 0,
            "io_miscompared": 0, "bytes": 20_000 * k * 4096, "in_flight": 32,
            "avg_latency_us": 100.0, "max_latency_us": 900.0, "recent_p99_latency_us": 400.0}),
        );
    }
    r.subsystems = Some(Ok(Value::Array(subs)));
    r.tgt_bdevs = Some(Ok(Value::Array(tgt_bdevs)));
    r.ini_bdev = Some(Ok(Value::Array(ini_bdevs)));
    r.ini_ctrlrs = Some(Ok(Value::Array(ini_ctrlrs)));
    r.io_paths = Some(Ok(
        json!({"poll_groups": [{"thread": "bdevperf", "io_paths": io_paths}]}),
    ));
    r.perf_status = Some(Ok(json!({"running": true, "workload": "randrw",
        "queue_depth": 32, "io_size": 4096, "jobs": jobs})));
    r.host_events = Some(Ok(json!([])));
    let mut socks = Vec::with_capacity(f.sockets);
    for (i, c) in conns.iter().enumerate() {
        let host = format!("127.0.0.1:{}", c.host_port);
        let tgt = format!("{}:{}", portal(c.path), port(c.s));
        let cookie = i as u64 + 1;
        socks.push(sock(host.clone(), tgt.clone(), cookie * k));
        socks.push(sock(tgt, host, cookie * k + 1));
    }
    r.sock = Some(Ok(socks));
    r
}

fn state() -> State {
    State::new(
        &SamplerOpts {
            refresh: Duration::from_millis(100),
            bdev: "Nvme0n1".into(),
            nqn: nqn(0),
        },
        "attach",
    )
}

/// A sampler that has seen `n` polls 100 ms apart (rates, history), the
/// next poll's answers, and the instant after them.
fn warmed(f: &Fabric, n: u64) -> (State, Snapshot, Instant, u64) {
    let mut st = state();
    let t0 = Instant::now();
    let mut snap = Snapshot::default();
    for k in 1..=n {
        let raw = poll(f, t0 + Duration::from_millis(100 * k), k);
        snap = st.ingest_with(raw, "/var/tmp/spdk.sock", "/tmp/bdevperf.sock", true, true);
    }
    (st, snap, t0, n)
}

fn answers_text(raw: &RawPoll) -> Vec<String> {
    let mut v: Vec<&Value> = vec![];
    for a in [
        &raw.subsystems,
        &raw.tgt_bdevs,
        &raw.ini_bdev,
        &raw.ini_ctrlrs,
        &raw.io_paths,
        &raw.perf_status,
    ]
    .into_iter()
    .flatten()
    {
        v.extend(a.as_ref().ok());
    }
    for (_, a) in raw
        .listeners
        .iter()
        .chain(&raw.qpairs)
        .chain(&raw.tgt_ctrlrs)
    {
        v.extend(a.as_ref().ok());
    }
    v.into_iter().map(Value::to_string).collect()
}

fn scale(c: &mut Criterion<ThreadCpu>) {
    let mut g = c.benchmark_group("decode");
    for f in STEPS {
        let texts = answers_text(&poll(&f, Instant::now(), 1));
        g.bench_with_input(BenchmarkId::from_parameter(f.name()), &texts, |b, t| {
            b.iter(|| {
                for s in t {
                    black_box(serde_json::from_str::<Value>(s).expect("json"));
                }
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("sample");
    for f in STEPS {
        let (mut st, _, t0, n) = warmed(&f, 20);
        let template = poll(&f, t0, n + 1);
        let mut k = n;
        g.bench_function(BenchmarkId::from_parameter(f.name()), |b| {
            b.iter_batched(
                || {
                    k += 1;
                    let mut raw = template.clone();
                    raw.at = t0 + Duration::from_millis(100 * k);
                    raw.epoch = 1_764_000_000.0 + k as f64 / 10.0;
                    raw
                },
                |raw| st.ingest_with(raw, "/var/tmp/spdk.sock", "/tmp/bdevperf.sock", true, true),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();

    let mut g = c.benchmark_group("render");
    for f in STEPS {
        let (_, snap, _, _) = warmed(&f, 20);
        let mut app = App::new("Nvme0n1", &nqn(0), Theme::dark(), Keymap::default());
        app.update(UiEvent::Resize(WIDTH, HEIGHT));
        app.update(UiEvent::Snapshot(Arc::new(snap)));
        let area = Rect::new(0, 0, WIDTH, HEIGHT);
        g.bench_function(BenchmarkId::from_parameter(f.name()), |b| {
            b.iter(|| {
                let mut buf = Buffer::empty(area);
                panes::draw(black_box(&app.snap), black_box(&app), &mut buf);
                buf
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .with_measurement(ThreadCpu)
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = scale
}
criterion_main!(benches);

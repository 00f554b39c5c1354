//! The embedded initiator against the embedded target over loopback: the
//! HOWTO's two attaches, I/O through the multipath bdev, and path moves on
//! ANA changes, policy changes and lost connections.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{free_port, wait_for_async};
use mpath_console::bdev::BlockDevice;
use mpath_console::host::Initiator;
use mpath_console::rpc::{self, Router};
use mpath_console::target::Target;
use serde_json::{json, Value};

const NQN: &str = "nqn.2022-02.io.spdk:cnode0";

struct Rig {
    tgt: Router,
    ini: Router,
    host: Arc<Initiator>,
    _target: Arc<Target>,
    p1: SocketAddr,
    p2: SocketAddr,
}

fn listen(p: SocketAddr) -> Value {
    json!({"trtype": "tcp", "traddr": p.ip().to_string(), "trsvcid": p.port().to_string()})
}

impl Rig {
    async fn start(digests: bool) -> Rig {
        let target = Target::new();
        let mut tgt = Router::new("nvmf_tgt");
        rpc::nvmf::register(&mut tgt, &target);
        rpc::bdev::register(&mut tgt, &target);
        rpc::fault::register(&mut tgt, &target);
        let host = Initiator::new();
        let mut ini = Router::new("bdevperf");
        rpc::bdev_nvme::register(&mut ini, &host, true);
        let r = Rig {
            tgt,
            ini,
            host,
            _target: target,
            p1: SocketAddr::new("127.0.0.1".parse().unwrap(), free_port("127.0.0.1")),
            p2: SocketAddr::new("127.0.0.2".parse().unwrap(), free_port("127.0.0.2")),
        };
        r.t("nvmf_create_transport", json!({"trtype": "tcp"})).await;
        r.t("nvmf_create_subsystem", json!({"nqn": NQN, "allow_any_host": true, "ana_reporting": true, "serial_number": "SPDK00000000000001"})).await;
        r.t(
            "bdev_malloc_create",
            json!({"num_blocks": 131072, "block_size": 512, "name": "Malloc0"}),
        )
        .await;
        r.t(
            "nvmf_subsystem_add_ns",
            json!({"nqn": NQN, "namespace": {"bdev_name": "Malloc0"}}),
        )
        .await;
        for p in [r.p1, r.p2] {
            r.t(
                "nvmf_subsystem_add_listener",
                json!({"nqn": NQN, "listen_address": listen(p)}),
            )
            .await;
        }
        // A short keep-alive, so a blackholed path is noticed quickly.
        r.i(
            "bdev_nvme_set_options",
            json!({"bdev_retry_count": -1, "keep_alive_timeout_ms": 2000, "io_path_stat": true}),
        )
        .await;
        for (i, p) in [r.p1, r.p2].into_iter().enumerate() {
            let mut a = json!({"name": "Nvme0", "trtype": "tcp", "traddr": p.ip().to_string(),
                "adrfam": "ipv4", "trsvcid": p.port().to_string(), "subnqn": NQN,
                "ctrlr_loss_timeout_sec": -1, "reconnect_delay_sec": 1,
                "hdgst": digests, "ddgst": digests});
            if i == 1 {
                a["multipath"] = json!("multipath");
            }
            assert_eq!(
                r.i("bdev_nvme_attach_controller", a).await,
                json!(["Nvme0n1"])
            );
        }
        r
    }

    async fn t(&self, m: &str, p: Value) -> Value {
        self.tgt
            .call(m, Some(p))
            .await
            .unwrap_or_else(|e| panic!("{m}: {e:?}"))
    }

    async fn i(&self, m: &str, p: Value) -> Value {
        self.ini
            .call(m, Some(p))
            .await
            .unwrap_or_else(|e| panic!("{m}: {e:?}"))
    }

    async fn set_ana(&self, p: SocketAddr, state: &str) {
        self.t(
            "nvmf_subsystem_listener_set_ana_state",
            json!({"nqn": NQN, "ana_state": state, "listen_address": listen(p)}),
        )
        .await;
    }

    /// (trsvcid, current, completed_ios) per path.
    async fn paths(&self) -> Vec<(String, bool, u64)> {
        let v = self
            .i("bdev_nvme_get_io_paths", json!({"name": "Nvme0n1"}))
            .await;
        v["poll_groups"][0]["io_paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["transport"]["trsvcid"].as_str().unwrap().to_string(),
                    p["current"].as_bool().unwrap(),
                    p["completed_ios"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

/// A write/read-back loop on the bdev, counting failures and miscompares.
struct Load {
    stop: Arc<AtomicBool>,
    failed: Arc<AtomicU64>,
    done: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

fn load(dev: Arc<dyn BlockDevice>, workers: u64) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let (s, f, d) = (stop.clone(), failed.clone(), done.clone());
    let task = tokio::spawn(async move {
        let mut hs = Vec::new();
        for w in 0..workers {
            let (dev, s, f, d) = (dev.clone(), s.clone(), f.clone(), d.clone());
            hs.push(tokio::spawn(async move {
                let mut gen = 0u64;
                while !s.load(Ordering::Relaxed) {
                    gen += 1;
                    let lba = w * 8;
                    let data: Vec<u8> = (0..4096u64).map(|i| (i ^ gen ^ w) as u8).collect();
                    let ok = dev.write(lba, Bytes::from(data.clone())).await.is_ok()
                        && dev.read(lba, 8).await.is_ok_and(|b| b[..] == data[..]);
                    if ok {
                        d.fetch_add(1, Ordering::Relaxed);
                    } else {
                        f.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for h in hs {
            let _ = h.await;
        }
    });
    Load {
        stop,
        failed,
        done,
        task,
    }
}

impl Load {
    async fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        (
            self.done.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

fn port(p: SocketAddr) -> String {
    p.port().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn howto_failover_and_active_active() {
    let r = Rig::start(false).await;
    let bdev = r.host.bdev("Nvme0n1").expect("bdev");
    assert_eq!((bdev.block_size(), bdev.num_blocks()), (512, 131072));
    let l = load(bdev.clone(), 16);

    // active_passive: the first listener's path is current and carries I/O.
    wait_for_async("I/O on path 1", Duration::from_secs(5), async || {
        let p = r.paths().await;
        p[0].0 == port(r.p1) && p[0].1 && !p[1].1 && p[0].2 > 100
    })
    .await;
    let before = r.paths().await;

    // First listener non_optimized: current moves to the second path.
    r.set_ana(r.p1, "non_optimized").await;
    let took = wait_for_async("switch to path 2", Duration::from_secs(1), async || {
        let p = r.paths().await;
        !p[0].1 && p[1].1
    })
    .await;
    eprintln!("current moved in {took:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = r.paths().await;
    assert!(
        after[1].2 > before[1].2 + 100,
        "path 2 carries I/O: {after:?}"
    );
    let p1_mid = after[0].2;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.paths().await[0].2, p1_mid, "path 1 idle");

    // Both optimized, active_active: both carry I/O.
    r.set_ana(r.p1, "optimized").await;
    r.i(
        "bdev_nvme_set_multipath_policy",
        json!({"name": "Nvme0n1", "policy": "active_active"}),
    )
    .await;
    for selector in ["round_robin", "queue_depth"] {
        r.i(
            "bdev_nvme_set_multipath_policy",
            json!({"name": "Nvme0n1", "policy": "active_active", "selector": selector}),
        )
        .await;
        let a = r.paths().await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let b = r.paths().await;
        assert!(b[0].1 && b[1].1, "{selector}: both current");
        assert!(
            b[0].2 > a[0].2 + 50 && b[1].2 > a[1].2 + 50,
            "{selector}: both carry I/O: {a:?} {b:?}"
        );
    }

    // Back to active_passive; the current path goes inaccessible: I/O goes on.
    r.i(
        "bdev_nvme_set_multipath_policy",
        json!({"name": "Nvme0n1", "policy": "active_passive"}),
    )
    .await;
    wait_for_async("path 1 current again", Duration::from_secs(2), async || {
        r.paths().await[0].1
    })
    .await;
    r.set_ana(r.p1, "inaccessible").await;
    wait_for_async("switch to path 2", Duration::from_secs(1), async || {
        r.paths().await[1].1
    })
    .await;
    r.set_ana(r.p1, "optimized").await;

    // The first listener removed: its connections drop, I/O carries on via
    // path 2; back again, the path reconnects after reconnect_delay_sec.
    r.t(
        "nvmf_subsystem_remove_listener",
        json!({"nqn": NQN, "listen_address": listen(r.p1)}),
    )
    .await;
    wait_for_async("switch to path 2", Duration::from_secs(2), async || {
        let p = r.paths().await;
        p[1].1 && !p[0].1
    })
    .await;
    let mid = r.paths().await[1].2;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        r.paths().await[1].2 > mid + 100,
        "I/O goes on through path 2"
    );
    r.t(
        "nvmf_subsystem_add_listener",
        json!({"nqn": NQN, "listen_address": listen(r.p1)}),
    )
    .await;
    wait_for_async(
        "path 1 back (failback)",
        Duration::from_secs(5),
        async || r.paths().await[0].1,
    )
    .await;

    let (done, failed) = l.finish().await;
    assert!(done > 1000, "I/O completed: {done}");
    assert_eq!(failed, 0, "failed or miscompared I/O");
}

/// Our fault methods under load: a blackholed listener is noticed by
/// keep-alive and its I/O moves to the other path; restored, the path comes
/// back; a delayed listener stays in use and every answer is late; bad
/// calls are refused and change nothing. No I/O fails throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackhole_delay_and_restore() {
    let r = Rig::start(false).await;
    let bdev = r.host.bdev("Nvme0n1").expect("bdev");
    let l = load(bdev.clone(), 16);
    wait_for_async("I/O on path 1", Duration::from_secs(5), async || {
        let p = r.paths().await;
        p[0].1 && p[0].2 > 100
    })
    .await;
    let la1 = json!({"listen_address": listen(r.p1)});

    // Refused, and nothing changes.
    let bad = [
        (
            "mpath_listener_delay",
            json!({"listen_address": listen(r.p1), "delay_ms": 0}),
        ),
        (
            "mpath_listener_delay",
            json!({"listen_address": listen(r.p1)}),
        ),
        (
            "mpath_listener_blackhole",
            json!({"listen_address": {"trtype": "tcp", "traddr": "127.0.0.1", "trsvcid": "1"}}),
        ),
        (
            "mpath_listener_blackhole",
            json!({"listen_address": listen(r.p1), "extra": 1}),
        ),
        ("mpath_listener_restore", json!({})),
    ];
    for (m, p) in bad {
        let e = r.tgt.call(m, Some(p.clone())).await.expect_err(m);
        assert_eq!(e.code, -32602, "{m} {p}: {e:?}");
    }
    assert_eq!(r.t("mpath_listener_get_faults", json!({})).await, json!([]));

    // Blackhole: the target reads and answers nothing; keep-alive (2 s)
    // notices within a keep-alive period plus the timeout.
    assert_eq!(
        r.t("mpath_listener_blackhole", la1.clone()).await,
        json!(true)
    );
    let faults = r.t("mpath_listener_get_faults", json!({})).await;
    assert_eq!(faults[0]["fault"], "blackhole", "{faults}");
    assert_eq!(faults[0]["listen_address"]["trsvcid"], port(r.p1));
    let took = wait_for_async("I/O moves to path 2", Duration::from_secs(6), async || {
        let p = r.paths().await;
        p[1].1 && !p[0].1
    })
    .await;
    eprintln!("blackhole noticed after {took:?}");
    let mid = r.paths().await[1].2;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(r.paths().await[1].2 > mid + 100, "I/O goes on via path 2");

    // Restored: the host reconnects (reconnect_delay_sec 1) and fails back.
    r.t("mpath_listener_restore", la1.clone()).await;
    assert_eq!(r.t("mpath_listener_get_faults", json!({})).await, json!([]));
    // (The reconnected path may be listed after the other one now: find
    // paths by port, not by position.)
    let p1_current = async || {
        r.paths()
            .await
            .iter()
            .any(|(svc, current, _)| *svc == port(r.p1) && *current)
    };
    wait_for_async("path 1 back", Duration::from_secs(8), p1_current).await;

    // Delay: the path stays current, and its answers come 200 ms late.
    r.t(
        "mpath_listener_delay",
        json!({"listen_address": listen(r.p1), "delay_ms": 200}),
    )
    .await;
    // A command already on its way may still be answered at once (the
    // connection sees the fault on its next turn); the ones after are late.
    let mut took = Vec::new();
    for _ in 0..20 {
        let t0 = Instant::now();
        bdev.read(0, 8)
            .await
            .expect("read through the delayed path");
        took.push(t0.elapsed());
        if took.last() >= Some(&Duration::from_millis(190)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        took.iter().any(|t| *t >= Duration::from_millis(190)),
        "reads through a 200 ms delay took {took:?}; paths {:?}; faults {}",
        r.paths().await,
        r.t("mpath_listener_get_faults", json!({})).await
    );
    assert!(p1_current().await, "a slow path stays current");
    r.t("mpath_listener_restore", la1).await;

    let (done, failed) = l.finish().await;
    assert!(done > 1000, "I/O completed: {done}");
    assert_eq!(failed, 0, "failed or miscompared I/O");
}

/// Header and data digests on both paths: in-capsule writes, R2T writes
/// (larger than the in-capsule size) and reads all verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_on_both_paths() {
    let r = Rig::start(true).await;
    let bdev = r.host.bdev("Nvme0n1").expect("bdev");
    for (i, len) in [4096usize, 65536, 131072].into_iter().enumerate() {
        let data: Vec<u8> = (0..len).map(|b| (b * 7 + i) as u8).collect();
        let lba = 1000 * i as u64;
        bdev.write(lba, Bytes::from(data.clone()))
            .await
            .expect("write");
        let back = bdev.read(lba, (len / 512) as u32).await.expect("read");
        assert_eq!(&back[..], &data[..], "{len} bytes read back");
    }
    // active_active so both digest connections carry I/O.
    r.i(
        "bdev_nvme_set_multipath_policy",
        json!({"name": "Nvme0n1", "policy": "active_active"}),
    )
    .await;
    let l = load(bdev.clone(), 8);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let p = r.paths().await;
    assert!(p[0].2 > 100 && p[1].2 > 100, "both paths carry I/O: {p:?}");
    let (done, failed) = l.finish().await;
    assert!(done > 100);
    assert_eq!(failed, 0);
}

/// The keys of `spdk_bdev_dump_io_stat_json` in SPDK v24.09
/// (lib/bdev/bdev.c), in its order: the `stat` object of each
/// `bdev_nvme_get_path_iostat` entry.
const SPDK_IO_STAT_KEYS: [&str; 20] = [
    "bytes_read",
    "num_read_ops",
    "bytes_written",
    "num_write_ops",
    "bytes_unmapped",
    "num_unmap_ops",
    "bytes_copied",
    "num_copy_ops",
    "read_latency_ticks",
    "max_read_latency_ticks",
    "min_read_latency_ticks",
    "write_latency_ticks",
    "max_write_latency_ticks",
    "min_write_latency_ticks",
    "unmap_latency_ticks",
    "max_unmap_latency_ticks",
    "min_unmap_latency_ticks",
    "copy_latency_ticks",
    "max_copy_latency_ticks",
    "min_copy_latency_ticks",
];

/// `bdev_nvme_get_path_iostat` as SPDK v24.09 answers it: refused with
/// -EPERM until `bdev_nvme_set_options --io-path-stat`, then one entry per
/// path (trid with subnqn, stat with SPDK's keys in SPDK's order) counting
/// the I/O that went through that path only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_iostat_has_spdk_shape_and_counts_each_path() {
    // Off by default, as in SPDK, whatever the parameters.
    let host = Initiator::new();
    let mut ini = Router::new("bdevperf");
    rpc::bdev_nvme::register(&mut ini, &host, true);
    let e = ini
        .call(
            "bdev_nvme_get_path_iostat",
            Some(json!({"name": "Nvme0n1"})),
        )
        .await
        .expect_err("off");
    assert_eq!(
        (e.code, e.message.as_str()),
        (-1, "RPC not enabled if enable_io_path_stat is false")
    );

    let r = Rig::start(false).await;
    for (p, code) in [
        (json!({}), -32603),
        (json!({"name": "Nvme0n1", "x": 1}), -32603),
        (json!({"name": "Nvme9n1"}), -19),
    ] {
        let e = r
            .ini
            .call("bdev_nvme_get_path_iostat", Some(p.clone()))
            .await
            .expect_err("bad params");
        assert_eq!(e.code, code, "{p}: {e:?}");
    }
    let bdev = r.host.bdev("Nvme0n1").expect("bdev");
    for i in 0..10u64 {
        bdev.write(i * 8, Bytes::from(vec![i as u8; 4096]))
            .await
            .expect("write");
        bdev.read(i * 8, 8).await.expect("read");
    }
    let v = r
        .i("bdev_nvme_get_path_iostat", json!({"name": "Nvme0n1"}))
        .await;
    assert_eq!(v["name"], "Nvme0n1");
    let stats = v["stats"].as_array().expect("stats");
    assert_eq!(stats.len(), 2, "{v}");
    for e in stats {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["trid", "stat"], "{e}");
        let t = &e["trid"];
        assert_eq!(
            (t["trtype"].as_str(), t["subnqn"].as_str()),
            (Some("TCP"), Some(NQN))
        );
        let stat = e["stat"].as_object().unwrap();
        let keys: Vec<&str> = stat.keys().map(|k| k.as_str()).collect();
        // SPDK's keys in SPDK's order; `io_error` (optional there) last.
        assert_eq!(keys[..20], SPDK_IO_STAT_KEYS, "{e}");
        assert_eq!(keys[20..], ["io_error"], "{e}");
    }
    // Active/passive on the first path: all ten writes and reads there.
    let by_port = |p: SocketAddr| {
        stats
            .iter()
            .find(|e| e["trid"]["trsvcid"] == port(p))
            .map(|e| e["stat"].clone())
            .expect("path listed")
    };
    let (s1, s2) = (by_port(r.p1), by_port(r.p2));
    assert_eq!(
        (s1["num_write_ops"].as_u64(), s1["num_read_ops"].as_u64()),
        (Some(10), Some(10)),
        "{s1}"
    );
    assert_eq!(
        (s1["bytes_written"].as_u64(), s1["bytes_read"].as_u64()),
        (Some(40960), Some(40960))
    );
    let (lat, max, min) = (
        s1["read_latency_ticks"].as_u64().unwrap(),
        s1["max_read_latency_ticks"].as_u64().unwrap(),
        s1["min_read_latency_ticks"].as_u64().unwrap(),
    );
    assert!(min > 0 && min <= max && max <= lat, "{s1}");
    assert_eq!(
        (
            s2["num_read_ops"].as_u64(),
            s2["min_read_latency_ticks"].as_u64()
        ),
        (Some(0), Some(0)),
        "{s2}"
    );
    assert_eq!(s2["io_error"], json!({}));
}

/// Our extra keys in `bdev_nvme_get_controllers`: the reconnect timers
/// given at attach, the keep-alive clock (a Keep Alive left unanswered by
/// a blackhole shows as pending, growing) and, once the path is lost, how
/// long ago; under `--spdk-strict` none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_show_keep_alive_and_loss_clocks() {
    let r = Rig::start(false).await;
    let ctrlr = async |p: SocketAddr| -> Value {
        let v = r.i("bdev_nvme_get_controllers", json!({})).await;
        v[0]["ctrlrs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["trid"]["trsvcid"] == port(p))
            .cloned()
            .expect("controller listed")
    };
    let c = ctrlr(r.p1).await;
    assert_eq!(c["state"], "enabled");
    assert_eq!(
        (
            c["ctrlr_loss_timeout_sec"].as_i64(),
            c["reconnect_delay_sec"].as_u64(),
            c["fast_io_fail_timeout_sec"].as_u64(),
            c["keep_alive_timeout_ms"].as_u64()
        ),
        (Some(-1), Some(1), Some(0), Some(2000)),
        "{c}"
    );
    assert!(c["keep_alive"]["since_answer_ms"].is_u64(), "{c}");
    assert!(c["lost_ms"].is_null(), "{c}");

    r.t(
        "mpath_listener_blackhole",
        json!({"listen_address": listen(r.p1)}),
    )
    .await;
    // A Keep Alive goes out every second (KATO 2 s / 2) and is never
    // answered: it shows as pending before the path is given up.
    wait_for_async("a pending Keep Alive", Duration::from_secs(5), async || {
        ctrlr(r.p1).await["keep_alive"]["pending_ms"]
            .as_u64()
            .is_some_and(|p| p > 0)
    })
    .await;
    wait_for_async("the path lost", Duration::from_secs(8), async || {
        let c = ctrlr(r.p1).await;
        c["state"] != "enabled" && c["lost_ms"].is_u64()
    })
    .await;
    r.t(
        "mpath_listener_restore",
        json!({"listen_address": listen(r.p1)}),
    )
    .await;

    let mut strict = Router::new("bdevperf");
    rpc::bdev_nvme::register(&mut strict, &r.host, false);
    let v = strict
        .call("bdev_nvme_get_controllers", Some(json!({})))
        .await
        .expect("strict");
    let keys: Vec<&str> = v[0]["ctrlrs"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, ["state", "trid", "cntlid", "host"], "{v}");
}

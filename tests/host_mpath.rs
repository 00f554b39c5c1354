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
            json!({"bdev_retry_count": -1, "keep_alive_timeout_ms": 2000}),
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

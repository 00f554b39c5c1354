//! The initiator's I/O beyond one plain command, against the embedded
//! target over loopback: reads and writes larger than MDTS (128 KiB here)
//! cut into several commands, also while a path is lost under them.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mpath_console::bdev::BlockDevice;
use mpath_console::host::dial::{Dialed, Dialer};
use mpath_console::host::mpath::NvmeBdev;
use mpath_console::host::Initiator;
use mpath_console::rpc::{self, Router};
use mpath_console::target::{serve_stream, Target};
use serde_json::{json, Value};

const NQN: &str = "nqn.2016-06.io.spdk:host-io";
const BS: usize = 4096;

fn listen(p: SocketAddr) -> Value {
    json!({"trtype": "tcp", "traddr": p.ip().to_string(), "trsvcid": p.port().to_string()})
}

fn free_addr(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), common::free_port(ip))
}

struct Rig {
    tgt: Router,
    target: Arc<Target>,
    _ini: Router,
    host: Arc<Initiator>,
    paths: Vec<SocketAddr>,
}

impl Rig {
    /// A 16 MiB namespace of 4 KiB blocks behind `paths` listeners, all
    /// attached as one multipath bdev `Nvme0n1`.
    async fn start(paths: usize) -> Rig {
        Rig::start_on(paths, Target::new(), Initiator::new()).await
    }

    /// [`Rig::start`] with the engines given.
    async fn start_on(paths: usize, target: Arc<Target>, host: Arc<Initiator>) -> Rig {
        let mut tgt = Router::new("nvmf_tgt");
        rpc::nvmf::register(&mut tgt, &target);
        rpc::bdev::register(&mut tgt, &target);
        rpc::fault::register(&mut tgt, &target);
        let mut ini = Router::new("bdevperf");
        rpc::bdev_nvme::register(&mut ini, &host, true);
        let paths: Vec<SocketAddr> = ["127.0.0.1", "127.0.0.2"][..paths]
            .iter()
            .map(|ip| free_addr(ip))
            .collect();
        for (m, p) in [
            ("nvmf_create_transport", json!({"trtype": "tcp"})),
            (
                "nvmf_create_subsystem",
                json!({"nqn": NQN, "allow_any_host": true}),
            ),
            (
                "bdev_malloc_create",
                json!({"num_blocks": 4096, "block_size": BS, "name": "M0"}),
            ),
            (
                "nvmf_subsystem_add_ns",
                json!({"nqn": NQN, "namespace": {"bdev_name": "M0"}}),
            ),
        ] {
            tgt.call(m, Some(p)).await.unwrap();
        }
        for p in &paths {
            tgt.call(
                "nvmf_subsystem_add_listener",
                Some(json!({"nqn": NQN, "listen_address": listen(*p)})),
            )
            .await
            .unwrap();
        }
        ini.call(
            "bdev_nvme_set_options",
            Some(json!({"bdev_retry_count": -1})),
        )
        .await
        .unwrap();
        for (i, p) in paths.iter().enumerate() {
            let mut a = json!({"name": "Nvme0", "trtype": "tcp", "traddr": p.ip().to_string(),
                "adrfam": "ipv4", "trsvcid": p.port().to_string(), "subnqn": NQN,
                "ctrlr_loss_timeout_sec": -1, "reconnect_delay_sec": 1});
            if i > 0 {
                a["multipath"] = json!("multipath");
            }
            ini.call("bdev_nvme_attach_controller", Some(a))
                .await
                .unwrap();
        }
        Rig {
            tgt,
            target,
            _ini: ini,
            host,
            paths,
        }
    }

    fn bdev(&self) -> Arc<NvmeBdev> {
        self.host.bdev("Nvme0n1").unwrap()
    }

    /// I/O commands the target has handled so far.
    fn commands(&self) -> u64 {
        self.target.stats.completed_nvme_io.load(Ordering::Relaxed)
    }
}

/// Distinct bytes for every (seed, offset).
fn pattern(len: usize, seed: u64) -> Bytes {
    (0..len as u64)
        .map(|i| (i.wrapping_mul(31) ^ seed ^ (i >> 12)) as u8)
        .collect::<Vec<_>>()
        .into()
}

/// A 1 MiB write and read become eight commands of 128 KiB each way (the
/// target answers anything above its MDTS with Invalid Field, so success
/// alone shows no command was larger); an unaligned 70-block I/O becomes
/// 32 + 32 + 6; with a NOIOB of 24 blocks no command crosses a multiple of
/// 24. The data read back is what was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_io_is_cut_at_mdts_and_the_optimal_boundary() {
    let rig = Rig::start(1).await;
    let b = rig.bdev();
    let path = b.paths()[0].clone();
    let limits = path.split_limits(BS as u32);
    assert_eq!((limits.max_blocks, limits.boundary), (32, 0));

    let data = pattern(1 << 20, 1);
    let n0 = rig.commands();
    b.write(8, data.clone()).await.unwrap();
    assert_eq!(rig.commands() - n0, 8);
    let back = b.read(8, 256).await.unwrap();
    assert_eq!(rig.commands() - n0, 16);
    assert!(back == data, "1 MiB read back differs");

    let data = pattern(70 * BS, 2);
    let n0 = rig.commands();
    b.write(3, data.clone()).await.unwrap();
    assert_eq!(rig.commands() - n0, 3);
    assert!(b.read(3, 70).await.unwrap() == data);
    assert_eq!(rig.commands() - n0, 6);
    // Reads that overlap the two writes see both.
    let both = b.read(0, 300).await.unwrap();
    assert!(both[3 * BS..73 * BS] == data[..]);

    path.set_noiob(24);
    let data = pattern(40 * BS, 3);
    let n0 = rig.commands();
    b.write(20, data.clone()).await.unwrap();
    // 20..24, 24..48, 48..60.
    assert_eq!(rig.commands() - n0, 3);
    assert!(b.read(20, 40).await.unwrap() == data);
    assert_eq!(rig.commands() - n0, 6);
}

/// The initiator speaks NVMe/TCP over whatever byte stream its dialer
/// hands it: here an in-memory pipe straight into the target's connection
/// handler (as the initiator fuzz target plays its hostile controller),
/// with no kernel socket in between. Admin and I/O queue both dial, and a
/// write reads back intact through the multipath bdev.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_initiator_runs_over_any_byte_stream() {
    let target = Target::new();
    let dials = Arc::new(AtomicU64::new(0));
    let (t, n) = (target.clone(), dials.clone());
    let host = Initiator::with_dialer(Dialer::new(move |addr| {
        let (t, n) = (t.clone(), n.clone());
        Box::pin(async move {
            n.fetch_add(1, Ordering::Relaxed);
            let (ours, theirs) = tokio::io::duplex(1 << 20);
            let local: SocketAddr = "127.0.0.1:9".parse().unwrap();
            tokio::spawn(serve_stream(t, theirs, addr, local));
            Ok(Dialed {
                stream: Box::new(ours),
                local,
            })
        })
    }));
    let rig = Rig::start_on(1, target, host).await;
    assert_eq!(dials.load(Ordering::Relaxed), 2, "admin and I/O queue");
    let data = pattern(256 * 1024, 9);
    rig.bdev().write(16, data.clone()).await.unwrap();
    assert!(rig.bdev().read(16, 64).await.unwrap() == data);
    assert!(rig.commands() >= 4, "the target served the I/O");
}

/// 1 MiB writes and reads keep going while the first path's connections
/// are dropped twice under them: a command lost with its connection takes
/// the whole I/O to the other path (or back after the reconnect), so no
/// I/O fails and every read returns the last write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_io_fails_over_as_a_whole() {
    let rig = Rig::start(2).await;
    let b = rig.bdev();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..4u64 {
        let (b, stop, done, failed) = (b.clone(), stop.clone(), done.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut gen = 0;
            while !stop.load(Ordering::Relaxed) {
                gen += 1;
                let lba = w * 512;
                let data = pattern(1 << 20, gen * 16 + w);
                let ok = b.write(lba, data.clone()).await.is_ok()
                    && b.read(lba, 256).await.is_ok_and(|r| r == data);
                if ok {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        rig.tgt
            .call(
                "mpath_listener_drop_connections",
                Some(json!({"listen_address": listen(rig.paths[0])})),
            )
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let (done, failed) = (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(failed, 0, "{done} write/read pairs done");
    assert!(done > 8, "{done} write/read pairs done");
}

/// Write Zeroes clears exactly its blocks and Flush completes, each one
/// command through the multipath bdev.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_zeroes_and_flush_end_to_end() {
    let rig = Rig::start(1).await;
    let b = rig.bdev();
    let data = pattern(64 * BS, 4);
    b.write(100, data.clone()).await.unwrap();
    let n0 = rig.commands();
    b.write_zeroes(108, 16).await.unwrap();
    b.flush().await.unwrap();
    assert_eq!(rig.commands() - n0, 2);
    let back = b.read(100, 64).await.unwrap();
    assert!(back[..8 * BS] == data[..8 * BS]);
    assert!(back[8 * BS..24 * BS].iter().all(|&x| x == 0));
    assert!(back[24 * BS..] == data[24 * BS..]);
    // Write Zeroes cannot be cut: more than NLB's 65536 blocks is refused
    // before anything is sent.
    assert!(b.write_zeroes(0, 65537).await.is_err());
}

/// A reset of the bdev resets both paths' controllers in turn and
/// returns once they are back; I/O running meanwhile does not fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_brings_every_path_back_under_io() {
    let rig = Rig::start(2).await;
    let b = rig.bdev();
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(0));
    let load = {
        let (b, stop, failed) = (b.clone(), stop.clone(), failed.clone());
        tokio::spawn(async move {
            let mut gen = 0;
            while !stop.load(Ordering::Relaxed) {
                gen += 1;
                let data = pattern(8 * BS, gen);
                let ok = b.write(40, data.clone()).await.is_ok()
                    && b.read(40, 8).await.is_ok_and(|r| r == data);
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let cntlids: Vec<u16> = b.paths().iter().map(|p| p.ctrlr.cntlid()).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.reset().await.unwrap();
    // Both controllers were brought up again: new controller IDs.
    let after: Vec<u16> = b.paths().iter().map(|p| p.ctrlr.cntlid()).collect();
    assert!(
        cntlids.iter().zip(&after).all(|(a, b)| a != b),
        "{cntlids:?} → {after:?}"
    );
    assert!(b.paths().iter().all(|p| p.connected()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert_eq!(failed.load(Ordering::Relaxed), 0);
}

/// The initiator's Compare, Deallocate and reservation commands against the
/// embedded target, and fencing between two hosts: host A (two paths, one
/// Host Identifier) reserves Write Exclusive, host B is refused writes with
/// Reservation Conflict, preempts A, and A's registration is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_deallocate_and_reservations_between_two_hosts() {
    use mpath_console::bdev::IoError;
    use mpath_console::host::cmd::{
        dsm_attr, AcquireAction, Cptpl, DsmRange, RegisterAction, ReservationType,
    };
    let rig = Rig::start(2).await;
    let a = rig.bdev();
    // Host B: its own initiator (its own Host Identifier) and no retries,
    // so a Compare Failure or a conflict comes back at once (A retries
    // every error without DNR, as SPDK's bdev_nvme does with
    // bdev_retry_count -1).
    let host_b = Initiator::new();
    let mut ini_b = Router::new("bdevperf");
    rpc::bdev_nvme::register(&mut ini_b, &host_b, true);
    ini_b
        .call(
            "bdev_nvme_set_options",
            Some(json!({"bdev_retry_count": 0})),
        )
        .await
        .unwrap();
    let p = rig.paths[0];
    ini_b
        .call(
            "bdev_nvme_attach_controller",
            Some(
                json!({"name": "Nvme0", "trtype": "tcp", "traddr": p.ip().to_string(),
                "adrfam": "ipv4", "trsvcid": p.port().to_string(), "subnqn": NQN}),
            ),
        )
        .await
        .unwrap();
    let b = host_b.bdev("Nvme0n1").unwrap();

    let d = pattern(2 * BS, 5);
    a.write(10, d.clone()).await.unwrap();
    a.compare(10, d.clone()).await.unwrap();
    let mut other = d.to_vec();
    other[3] ^= 1;
    assert_eq!(
        b.compare(10, other.into()).await,
        Err(IoError::Status { sct: 2, sc: 0x85 })
    );
    let r = DsmRange {
        cattr: 0,
        blocks: 1,
        slba: 11,
    };
    a.dataset_management(&[r], dsm_attr::AD).await.unwrap();
    let back = a.read(10, 2).await.unwrap();
    assert_eq!(&back[..BS], &d[..BS]);
    assert!(
        back[BS..].iter().all(|&x| x == 0),
        "deallocated reads zeroes"
    );

    let we = ReservationType::WriteExclusive;
    a.reservation_register(RegisterAction::Register, false, Cptpl::NoChange, 0, 0xA)
        .await
        .unwrap();
    b.reservation_register(RegisterAction::Register, false, Cptpl::NoChange, 0, 0xB)
        .await
        .unwrap();
    a.reservation_acquire(AcquireAction::Acquire, false, we, 0xA, 0)
        .await
        .unwrap();
    // Both of A's paths write; B reads but may not write.
    for _ in 0..4 {
        a.write(20, pattern(BS, 1)).await.unwrap();
    }
    b.read(20, 1).await.unwrap();
    assert_eq!(
        b.write(20, pattern(BS, 2)).await,
        Err(IoError::Status { sct: 0, sc: 0x83 })
    );
    let st = b.reservation_report(4096).await.unwrap();
    assert_eq!((st.rtype, st.registrants_total), (1, 2));
    assert_eq!(st.registrants.iter().filter(|r| r.holds).count(), 1);
    assert_eq!(st.registrants[0].hostid, rig.host.hostid, "A holds");
    // B fences A off.
    b.reservation_acquire(AcquireAction::Preempt, false, we, 0xB, 0xA)
        .await
        .unwrap();
    b.write(20, pattern(BS, 2)).await.unwrap();
    let st = a.reservation_report(4096).await.unwrap();
    assert_eq!(st.registrants.len(), 1);
    assert_eq!(st.registrants[0].hostid, host_b.hostid);
    assert!(st.registrants[0].holds);
}

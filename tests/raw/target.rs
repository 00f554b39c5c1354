//! The embedded target as the HOWTO's target half, for tests that drive it
//! with the raw host (`super::Host`): two loopback listeners on free ports,
//! a bystander that keeps doing I/O on the second one, and probes of what
//! the kernel and the process hold (sockets per port, RSS).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mpath_console::rpc::{self, Router};
use mpath_console::target::Target;
use serde_json::{json, Value};

use super::{Host, Sqe};

pub const NQN: &str = "nqn.2022-02.io.spdk:cnode0";
pub const BS: usize = 512;
/// Malloc0's size in blocks (64 MiB).
pub const BLOCKS: u64 = 131072;

/// A target configured as the HOWTO's target half, on two loopback
/// addresses with free ports, served from its own runtime thread.
pub struct Howto {
    pub rt: tokio::runtime::Runtime,
    pub router: Arc<Router>,
    pub target: Arc<Target>,
    pub p1: SocketAddr,
    pub p2: SocketAddr,
}

impl Howto {
    pub fn start() -> Howto {
        Howto::start_with(json!({}))
    }

    /// With extra `nvmf_create_transport` parameters (`max_queue_depth`...).
    pub fn start_with(transport: Value) -> Howto {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let target = rt.block_on(async { Target::new() });
        let mut router = Router::new("nvmf_tgt");
        rpc::nvmf::register(&mut router, &target);
        rpc::bdev::register(&mut router, &target);
        let h = Howto {
            rt,
            router: Arc::new(router),
            target,
            p1: SocketAddr::new(
                "127.0.0.1".parse().unwrap(),
                crate::common::free_port("127.0.0.1"),
            ),
            p2: SocketAddr::new(
                "127.0.0.2".parse().unwrap(),
                crate::common::free_port("127.0.0.2"),
            ),
        };
        let mut tp = json!({"trtype": "tcp", "io_unit_size": 8192, "c2h_success": false});
        if let (Value::Object(m), Value::Object(extra)) = (&mut tp, transport) {
            m.extend(extra);
        }
        h.call("nvmf_create_transport", tp);
        h.call(
            "nvmf_create_subsystem",
            json!({"nqn": NQN, "serial_number": "SPDK00000000000001", "allow_any_host": true, "ana_reporting": true}),
        );
        h.call(
            "bdev_malloc_create",
            json!({"num_blocks": BLOCKS, "block_size": BS, "name": "Malloc0"}),
        );
        h.call(
            "nvmf_subsystem_add_ns",
            json!({"nqn": NQN, "namespace": {"bdev_name": "Malloc0"}}),
        );
        for p in [h.p1, h.p2] {
            h.call(
                "nvmf_subsystem_add_listener",
                json!({"nqn": NQN, "listen_address": listen(p)}),
            );
        }
        h
    }

    pub fn try_call(&self, method: &str, params: Value) -> Result<Value, rpc::RpcError> {
        let r = self.router.clone();
        let m = method.to_string();
        self.rt
            .block_on(async move { r.call(&m, Some(params)).await })
    }

    pub fn call(&self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e:?}"))
    }

    /// Sets the ANA state of the subsystem's listener at `p`.
    pub fn set_ana(&self, p: SocketAddr, state: &str) {
        self.call(
            "nvmf_subsystem_listener_set_ana_state",
            json!({"nqn": NQN, "ana_state": state, "listen_address": listen(p)}),
        );
    }

    /// Queue pairs `nvmf_subsystem_get_qpairs` lists for the subsystem.
    pub fn qpairs(&self) -> usize {
        let v = self.call("nvmf_subsystem_get_qpairs", json!({"nqn": NQN}));
        v.as_array().map(Vec::len).unwrap_or(0)
    }

    /// Controllers `nvmf_subsystem_get_controllers` lists.
    pub fn controllers(&self) -> usize {
        let v = self.call("nvmf_subsystem_get_controllers", json!({"nqn": NQN}));
        v.as_array().map(Vec::len).unwrap_or(0)
    }

    /// NVMe I/O commands the target has handled so far, every connection.
    pub fn completed_io(&self) -> u64 {
        self.target.stats.completed_nvme_io.load(Ordering::Relaxed)
    }
}

pub fn listen(p: SocketAddr) -> Value {
    json!({"trtype": "tcp", "traddr": p.ip().to_string(), "trsvcid": p.port().to_string()})
}

pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

const RUNNING: u8 = 0;
const PAUSE: u8 = 1;
const PAUSED: u8 = 2;

/// Keeps doing I/O (a 4 KiB write then its read-back, and a Keep Alive on
/// its admin queue every second) on one path in a thread while hostile
/// connections come and go: only the hostile connection may suffer.
pub struct Bystander {
    stop: Arc<AtomicBool>,
    /// RUNNING, PAUSE (asked) or PAUSED (between rounds, nothing in flight).
    pause: Arc<AtomicU8>,
    /// NVMe I/O commands completed (two per round).
    ios: Arc<AtomicU64>,
    done: thread::JoinHandle<u64>,
}

impl Bystander {
    pub fn start(t: &Howto) -> Bystander {
        Bystander::start_on(t.p2)
    }

    pub fn start_on(addr: SocketAddr) -> Bystander {
        let (mut a, cntlid) = admin_queue(addr, 10_000);
        let mut q = io_queue(addr, cntlid, 15);
        let stop = Arc::new(AtomicBool::new(false));
        let pause = Arc::new(AtomicU8::new(RUNNING));
        let ios = Arc::new(AtomicU64::new(0));
        let (s, p, n) = (stop.clone(), pause.clone(), ios.clone());
        let done = thread::spawn(move || {
            let data = pattern(9, 4096);
            let mut rounds = 0u64;
            let mut last_ka = Instant::now();
            while !s.load(Ordering::Relaxed) {
                if p.compare_exchange(PAUSE, PAUSED, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    while p.load(Ordering::SeqCst) == PAUSED {
                        thread::sleep(Duration::from_micros(200));
                    }
                }
                assert!(q.write_icd(1, 4000, &data, BS).ok(), "bystander write");
                n.fetch_add(1, Ordering::SeqCst);
                let (c, r) = q.read(2, 4000, 8, BS);
                assert!(c.ok() && r == data, "bystander read");
                n.fetch_add(1, Ordering::SeqCst);
                rounds += 1;
                if last_ka.elapsed() > Duration::from_secs(1) {
                    assert!(a.cmd(&Sqe::new(0x18, 7), &[]).0.ok(), "keep alive");
                    last_ka = Instant::now();
                }
            }
            rounds
        });
        Bystander {
            stop,
            pause,
            ios,
            done,
        }
    }

    /// Runs `f` while the bystander waits between two rounds, with none of
    /// its I/O in flight (so target-wide counters can be read exactly).
    pub fn quiesced<R>(&self, f: impl FnOnce() -> R) -> R {
        self.pause.store(PAUSE, Ordering::SeqCst);
        let until = Instant::now() + Duration::from_secs(5);
        while self.pause.load(Ordering::SeqCst) != PAUSED {
            assert!(!self.done.is_finished(), "bystander died");
            assert!(Instant::now() < until, "bystander did not pause");
            thread::sleep(Duration::from_micros(200));
        }
        let r = f();
        self.pause.store(RUNNING, Ordering::SeqCst);
        r
    }

    /// I/O commands completed so far.
    pub fn ios(&self) -> u64 {
        self.ios.load(Ordering::SeqCst)
    }

    /// Fails unless the bystander completes I/O within `within`.
    pub fn assert_progress(&self, within: Duration, what: &str) {
        let from = self.ios();
        let until = Instant::now() + within;
        while Instant::now() < until {
            if self.ios() >= from + 4 {
                return;
            }
            assert!(!self.done.is_finished(), "bystander died ({what})");
            thread::sleep(Duration::from_millis(5));
        }
        panic!("bystander made no progress in {within:?} ({what})");
    }

    /// Stops it once it has completed I/O after this call (so it is
    /// known to work after whatever came before, even on a machine too
    /// busy to have run it yet); its rounds of I/O, or the failure it met.
    pub fn finish(self) -> u64 {
        self.assert_progress(Duration::from_secs(10), "at the end");
        self.stop.store(true, Ordering::Relaxed);
        self.done.join().expect("bystander I/O failed")
    }
}

/// An enabled admin queue (ICReq, Connect with `kato` ms, CC.EN=1), for
/// any transport options (`Host::admin_bringup` checks the defaults').
pub fn admin_queue(addr: SocketAddr, kato: u32) -> (Host, u16) {
    let mut h = Host::connect(addr);
    h.ic(false, false);
    let c = h.fabrics_connect(0, 15, kato, 0xFFFF, NQN);
    assert!(c.ok(), "admin connect: {c:?}");
    assert!(h.prop_set(0x14, 0x0046_0001).ok(), "CC.EN=1");
    assert_eq!(h.prop_get(0x1C, false) & 1, 1, "CSTS.RDY");
    (h, (c.dw0 & 0xFFFF) as u16)
}

/// An I/O queue (QID 1) of `sqsize` (0's based) for controller `cntlid`.
pub fn io_queue(addr: SocketAddr, cntlid: u16, sqsize: u16) -> Host {
    let mut h = Host::connect(addr);
    h.ic(false, false);
    let c = h.fabrics_connect(1, sqsize, 0, cntlid, NQN);
    assert!(c.ok(), "I/O connect: {c:?}");
    h
}

/// Waits until the connection closes; returns the C2HTermReq's FEI if one
/// came (checking its FES), `None` if it closed without one.
pub fn expect_term(h: &mut Host, fes: u16) -> Option<u32> {
    let pdus = h.drain_until_close();
    let term = pdus.iter().find(|p| p.ty == 0x03)?;
    assert_eq!(term.u16_at(8), fes, "FES");
    assert!(term.plen > 24 && term.plen <= 152, "TermReq PLEN bounds");
    Some(term.u32_at(10))
}

/// One IPv4 TCP socket as `/proc/net/tcp` shows it.
#[derive(Debug, Clone, Copy)]
pub struct KernelSock {
    pub local_port: u16,
    pub remote_port: u16,
    /// TCP state, `/proc/net/tcp` numbering (01 established, 06 time-wait,
    /// 08 close-wait, 0A listen...).
    pub state: u8,
    /// Bytes written and not yet acknowledged by the peer.
    pub tx_queue: u64,
    /// Bytes received and not yet read by the application.
    pub rx_queue: u64,
}

pub const TCP_ESTABLISHED: u8 = 0x01;
pub const TCP_TIME_WAIT: u8 = 0x06;
pub const TCP_LISTEN: u8 = 0x0A;

/// Every IPv4 TCP socket of this network namespace.
pub fn kernel_sockets() -> Vec<KernelSock> {
    let text = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let port = |addr: &str| u16::from_str_radix(addr.rsplit(':').next().unwrap_or(""), 16).ok();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (tx, rx) = f.get(4)?.split_once(':')?;
            Some(KernelSock {
                local_port: port(f.get(1)?)?,
                remote_port: port(f.get(2)?)?,
                state: u8::from_str_radix(f.get(3)?, 16).ok()?,
                tx_queue: u64::from_str_radix(tx, 16).ok()?,
                rx_queue: u64::from_str_radix(rx, 16).ok()?,
            })
        })
        .collect()
}

/// Connections the target still holds open on a listening port: sockets
/// on that local port that are neither the listener nor closed by the
/// target already (time-wait).
pub fn target_connections(port: u16) -> usize {
    kernel_sockets()
        .iter()
        .filter(|s| s.local_port == port && s.state != TCP_LISTEN && s.state != TCP_TIME_WAIT)
        .count()
}

/// This process's resident set size, in bytes.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("statm resident");
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * if page > 0 { page as u64 } else { 4096 }
}

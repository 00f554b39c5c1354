//! `hostile_target`: our initiator (`host::`) against a controller that
//! lies, steered by the fuzz input.
//!
//! The controller is our own target behind a tampering relay: the host's
//! bytes reach the target unchanged, and every PDU the target sends back
//! is decoded and then, as the input says, passed on, altered (any field
//! of an ICResp, CapsuleResp, C2HData, R2T; bytes of the data, so Identify
//! and ANA log payloads arrive corrupted; the status; the CID), replaced
//! by a C2HTermReq, or followed by raw bytes. When the input runs out the
//! relay hangs up both sides and the address refuses further connections,
//! so the path is gone for good.
//!
//! The fixture (set up once): a target with one subsystem of two
//! namespaces behind two listeners, and an initiator whose dialer connects
//! the first listener's address straight to the target over an in-memory
//! pipe (the good path, attached once as `Nvme0`, active_active) and the
//! second through the relay. Each input attaches the second path to
//! `Nvme0`, drives a few reads and writes through the multipath bdev,
//! hangs up, detaches the path, and checks:
//!
//! * nothing panics (in the harness or in any task: the fuzzer aborts on
//!   a panic; the regression test counts them);
//! * nothing waits forever: every step is bounded by [`STEP`], and the
//!   hang-up ends whatever the host still waits for on the path;
//! * multipath carries on: after the hostile path is gone, a write and a
//!   read-back through `Nvme0n1` succeed with the data intact, on the good
//!   path, whatever the hostile path did to the host meanwhile.
//!
//! Memory is bounded by the host itself (`MAX_PDU_DATA`, MDTS): the
//! fuzzer's `-rss_limit_mb` catches anything else.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mpath_console::bdev::BlockDevice;
use mpath_console::host::dial::{Dialed, Dialer};
use mpath_console::host::Initiator;
use mpath_console::nvme::pdu::{encode, Decoder, Framing, Pdu, Role, TermReq};
use mpath_console::nvme::status::Status;
use mpath_console::rpc::{self, Router};
use mpath_console::target::{serve_stream, Target};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use super::reader::Reader;
use super::rpc_methods::{debug, runtime};

pub const NQN: &str = "nqn.2016-06.io.spdk:hostile";
/// Each step's bound: an attach, one I/O, a detach. An honest exchange
/// over the in-memory pipes takes well under a millisecond; a step the
/// hostile controller stalled (a CID it renamed, a completion it ate) is
/// cut here, and the hang-up then fails what the host still waits for.
pub const STEP: Duration = Duration::from_millis(20);
/// The check that multipath carries on: generous, it must never fire.
const CARRY_ON: Duration = Duration::from_secs(10);
const BS: usize = 512;

/// The input being played: every connection of the input's path (admin
/// queue, I/O queue) reads its choices from the same tape, in turn.
struct Tape {
    bytes: Vec<u8>,
    pos: usize,
}

impl Tape {
    /// Runs `f` on a reader over what is left and keeps what it consumed.
    fn read<T>(&mut self, f: impl FnOnce(&mut Reader) -> T) -> T {
        let rest = &self.bytes[self.pos..];
        let mut r = Reader::new(rest);
        let out = f(&mut r);
        self.pos += rest.len() - r.len();
        out
    }
}

/// What the relay serves right now: the input (none: the address
/// refuses), and the signal to hang up.
struct Script {
    tape: Option<Arc<Mutex<Tape>>>,
    hang_up: watch::Receiver<bool>,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            tape: None,
            hang_up: watch::channel(true).1,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct Fixture {
    ini: Router,
    host: Arc<Initiator>,
    hostile: SocketAddr,
    script: Arc<Mutex<Script>>,
}

fn listen(a: SocketAddr) -> Value {
    json!({"trtype": "tcp", "adrfam": "ipv4", "traddr": a.ip().to_string(),
           "trsvcid": a.port().to_string()})
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

pub fn fixture() -> &'static Fixture {
    static FX: OnceLock<Fixture> = OnceLock::new();
    FX.get_or_init(|| runtime().block_on(setup()))
}

async fn setup() -> Fixture {
    let target = Target::new();
    let mut tgt = Router::new("nvmf_tgt");
    rpc::nvmf::register(&mut tgt, &target);
    rpc::bdev::register(&mut tgt, &target);
    let (good, hostile) = (free_addr(), free_addr());
    for (m, p) in [
        ("nvmf_create_transport", json!({"trtype": "tcp"})),
        (
            "nvmf_create_subsystem",
            json!({"nqn": NQN, "allow_any_host": true, "ana_reporting": true}),
        ),
        (
            "bdev_malloc_create",
            json!({"num_blocks": 256, "block_size": BS, "name": "M0"}),
        ),
        (
            "bdev_malloc_create",
            json!({"num_blocks": 64, "block_size": 4096, "name": "M1"}),
        ),
        (
            "nvmf_subsystem_add_ns",
            json!({"nqn": NQN, "namespace": {"bdev_name": "M0"}}),
        ),
        (
            "nvmf_subsystem_add_ns",
            json!({"nqn": NQN, "namespace": {"bdev_name": "M1", "anagrpid": 2}}),
        ),
        (
            "nvmf_subsystem_add_listener",
            json!({"nqn": NQN, "listen_address": listen(good)}),
        ),
        (
            "nvmf_subsystem_add_listener",
            json!({"nqn": NQN, "listen_address": listen(hostile)}),
        ),
    ] {
        tgt.call(m, Some(p.clone()))
            .await
            .unwrap_or_else(|e| panic!("fixture {m} {p}: {e}"));
    }
    let script = Arc::new(Mutex::new(Script::default()));
    let dialer = {
        let (target, script) = (target.clone(), script.clone());
        Dialer::new(move |addr| {
            let (target, script) = (target.clone(), script.clone());
            Box::pin(async move { dial(target, script, addr, hostile) })
        })
    };
    let host = Initiator::with_dialer(dialer);
    let mut ini = Router::new("bdevperf");
    rpc::bdev_nvme::register(&mut ini, &host, true);
    let calls = [
        (
            "bdev_nvme_set_options",
            json!({"bdev_retry_count": 4, "transport_retry_count": 0}),
        ),
        (
            "bdev_nvme_attach_controller",
            json!({"name": "Nvme0", "trtype": "tcp", "adrfam": "ipv4",
                   "traddr": good.ip().to_string(), "trsvcid": good.port().to_string(),
                   "subnqn": NQN, "ctrlr_loss_timeout_sec": -1, "reconnect_delay_sec": 1}),
        ),
        (
            "bdev_nvme_set_multipath_policy",
            json!({"name": "Nvme0n1", "policy": "active_active"}),
        ),
    ];
    for (m, p) in calls {
        ini.call(m, Some(p.clone()))
            .await
            .unwrap_or_else(|e| panic!("fixture {m} {p}: {e}"));
    }
    Fixture {
        ini,
        host,
        hostile,
        script,
    }
}

/// The good address goes straight to the target; the hostile one through
/// the relay while an input is being played, else it refuses.
fn dial(
    target: Arc<Target>,
    script: Arc<Mutex<Script>>,
    addr: SocketAddr,
    hostile: SocketAddr,
) -> std::io::Result<Dialed> {
    let local = SocketAddr::from(([127, 0, 0, 1], 9));
    let (ours, theirs) = tokio::io::duplex(256 * 1024);
    if addr != hostile {
        tokio::spawn(serve_stream(target, theirs, addr, local));
        return Ok(Dialed {
            stream: Box::new(ours),
            local,
        });
    }
    let (tape, hang_up) = {
        let s = lock(&script);
        (s.tape.clone(), s.hang_up.clone())
    };
    let Some(tape) = tape else {
        return Err(std::io::ErrorKind::ConnectionRefused.into());
    };
    let (to_target, at_target) = tokio::io::duplex(256 * 1024);
    tokio::spawn(serve_stream(target, at_target, addr, local));
    tokio::spawn(relay(theirs, to_target, tape, hang_up, script));
    Ok(Dialed {
        stream: Box::new(ours),
        local,
    })
}

/// Host bytes go to the target as they are; target PDUs come back as the
/// input says. Ends (closing both sides) when the input runs out, when
/// either side closes, or on `hang_up`.
async fn relay(
    host: tokio::io::DuplexStream,
    target: tokio::io::DuplexStream,
    tape: Arc<Mutex<Tape>>,
    mut hang_up: watch::Receiver<bool>,
    script: Arc<Mutex<Script>>,
) {
    let (mut h_rd, mut h_wr) = tokio::io::split(host);
    let (mut t_rd, mut t_wr) = tokio::io::split(target);
    let upstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match h_rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if t_wr.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let downstream = async {
        let mut dec = Decoder::new(Role::Host, 8 << 20);
        let mut framing = Framing::default();
        let mut inb = BytesMut::new();
        let mut out = BytesMut::new();
        loop {
            let pdu = loop {
                match dec.decode(&mut inb) {
                    Ok(Some(p)) => break p,
                    Ok(None) => {}
                    // Our target's bytes always decode; if not, stop.
                    Err(_) => return,
                }
                match t_rd.read_buf(&mut inb).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            };
            if let Pdu::IcResp(ic) = &pdu {
                framing = Framing {
                    hdgst: ic.hdgst,
                    ddgst: ic.ddgst,
                    pda: 0,
                };
                dec.set_framing(framing);
            }
            out.clear();
            let played = lock(&tape).read(|r| {
                if r.is_empty() {
                    return false;
                }
                choose(pdu, r, &framing, &mut out);
                true
            });
            if !played {
                return;
            }
            if h_wr.write_all(&out).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
        _ = hang_up.wait_for(|h| *h) => {}
    }
    // Later connections to this address are refused: the path is gone.
    lock(&script).tape = None;
    let _ = h_wr.shutdown().await;
    let _ = t_wr.shutdown().await;
}

/// What the host gets for one target PDU: mostly the truth (so the
/// handshake gets somewhere), else the PDU altered, a C2HTermReq in its
/// place, the PDU followed by raw bytes, or raw bytes in its place.
fn choose(pdu: Pdu, r: &mut Reader, framing: &Framing, out: &mut BytesMut) {
    match r.u8() % 16 {
        0..=9 => encode(&pdu, framing, out),
        10..=12 => encode(&tamper(pdu, r), framing, out),
        13 => encode(
            &Pdu::C2HTermReq(TermReq {
                fes: r.u16() % 8,
                fei: r.u32(),
                header: Bytes::copy_from_slice(r.bytes(24)),
            }),
            framing,
            out,
        ),
        14 => {
            encode(&pdu, framing, out);
            let n = r.u8() as usize % 64;
            out.extend_from_slice(r.bytes(n));
        }
        _ => {
            let n = r.u8() as usize % 128;
            out.extend_from_slice(r.bytes(n));
        }
    }
}

/// One PDU with fields or data bytes changed as the input says.
fn tamper(pdu: Pdu, r: &mut Reader) -> Pdu {
    match pdu {
        Pdu::IcResp(mut ic) => {
            match r.u8() % 5 {
                0 => ic.pfv = r.u16(),
                1 => ic.cpda = r.u8(),
                2 => ic.hdgst = !ic.hdgst,
                3 => ic.ddgst = !ic.ddgst,
                _ => ic.maxh2cdata = r.u32(),
            }
            Pdu::IcResp(ic)
        }
        Pdu::CapsuleResp(mut c) => {
            match r.u8() % 6 {
                0 => c.cid = r.u16(),
                1 => c.status = Status::new(r.u8() % 8, r.u8()),
                2 => c.status = Status::new(r.u8() % 8, r.u8()).with_dnr(),
                3 => c.dw0 = r.u32(),
                4 => c.dw1 = r.u32(),
                _ => c.sqhd = r.u16(),
            }
            Pdu::CapsuleResp(c)
        }
        Pdu::C2HData(mut d) => {
            match r.u8() % 6 {
                0 => d.cccid = r.u16(),
                1 => d.datao = r.u32(),
                2 => d.last = !d.last,
                3 => d.success = !d.success,
                4 => {
                    let keep = r.u32() as usize % (d.data.len() + 1);
                    d.data = d.data.slice(..keep);
                }
                _ => d.data = corrupt(&d.data, r),
            }
            Pdu::C2HData(d)
        }
        Pdu::R2T(mut t) => {
            match r.u8() % 4 {
                0 => t.cccid = r.u16(),
                1 => t.ttag = r.u16(),
                2 => t.r2to = r.u32(),
                _ => t.r2tl = r.u32(),
            }
            Pdu::R2T(t)
        }
        other => other,
    }
}

/// Up to eight bytes of `data` overwritten at input-chosen offsets: an
/// Identify or ANA log page with a wrong count, size or state.
fn corrupt(data: &Bytes, r: &mut Reader) -> Bytes {
    if data.is_empty() {
        return data.clone();
    }
    let mut d = data.to_vec();
    for _ in 0..=(r.u8() % 8) {
        let at = r.u16() as usize % d.len();
        d[at] = r.u8();
    }
    d.into()
}

/// Plays one input. Panics if multipath does not carry on.
pub fn run(data: &[u8]) {
    let fx = fixture();
    runtime().block_on(play(fx, data));
}

async fn play(fx: &Fixture, data: &[u8]) {
    let mut r = Reader::new(data);
    let digests = r.u8();
    let ops: Vec<(bool, u64)> = (0..r.u8() % 5).map(|_| (r.bool(), r.u64() % 200)).collect();
    let (hang_up, rx) = watch::channel(false);
    *lock(&fx.script) = Script {
        tape: Some(Arc::new(Mutex::new(Tape {
            bytes: r.rest().to_vec(),
            pos: 0,
        }))),
        hang_up: rx,
    };
    let attach = json!({"name": "Nvme0", "trtype": "tcp", "adrfam": "ipv4",
        "traddr": fx.hostile.ip().to_string(), "trsvcid": fx.hostile.port().to_string(),
        "subnqn": NQN, "multipath": "multipath", "hdgst": digests & 1 != 0,
        "ddgst": digests & 2 != 0, "ctrlr_loss_timeout_sec": 0});
    let t0 = std::time::Instant::now();
    let answer = tokio::time::timeout(
        STEP,
        fx.ini.call("bdev_nvme_attach_controller", Some(attach)),
    )
    .await;
    if debug() {
        eprintln!("hostile_target: attach {answer:?} in {:?}", t0.elapsed());
    }
    let attached = matches!(answer, Ok(Ok(_)));
    if attached {
        if let Some(b) = fx.host.bdev("Nvme0n1") {
            for (write, lba) in ops {
                let io = async {
                    if write {
                        b.write(lba, Bytes::from(vec![0xA5; BS])).await.map(|_| ())
                    } else {
                        b.read(lba, 1).await.map(|_| ())
                    }
                };
                let done = tokio::time::timeout(STEP, io).await;
                if debug() {
                    eprintln!("hostile_target: write {write} lba {lba}: {done:?}");
                }
            }
        }
    }
    // Hang up and make sure the hostile path is gone before the check.
    let _ = hang_up.send(true);
    lock(&fx.script).tape = None;
    let detach = json!({"name": "Nvme0", "trtype": "tcp", "adrfam": "ipv4",
        "traddr": fx.hostile.ip().to_string(), "trsvcid": fx.hostile.port().to_string()});
    let t0 = std::time::Instant::now();
    let _ = tokio::time::timeout(
        STEP,
        fx.ini.call("bdev_nvme_detach_controller", Some(detach)),
    )
    .await;
    let t1 = std::time::Instant::now();
    carry_on(fx, data).await;
    if debug() {
        eprintln!(
            "hostile_target: detach {:?}, carry on {:?}",
            t1 - t0,
            t1.elapsed()
        );
    }
}

/// A write and its read-back through the bdev, on the good path.
async fn carry_on(fx: &Fixture, input: &[u8]) {
    let b = fx
        .host
        .bdev("Nvme0n1")
        .expect("the good path's bdev outlives the hostile path");
    let lba = 255;
    let block = Bytes::from(
        (0..BS)
            .map(|i| (i as u8) ^ input.len() as u8)
            .collect::<Vec<u8>>(),
    );
    let io = async {
        b.write(lba, block.clone()).await?;
        b.read(lba, 1).await
    };
    match tokio::time::timeout(CARRY_ON, io).await {
        Ok(Ok(back)) => assert!(back == block, "read back differs on the good path"),
        Ok(Err(e)) => panic!("multipath did not carry on: {e}"),
        Err(_) => panic!("multipath did not carry on: no answer in {CARRY_ON:?}"),
    }
}

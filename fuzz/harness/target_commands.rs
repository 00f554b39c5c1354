//! `target_commands`: the target's connection handling (`target::conn`),
//! driven over real loopback TCP by a small fuzzer-steered host.
//!
//! A fixture target is set up once (by RPC, on one current-thread tokio
//! runtime): TCP transport, subsystem [`NQN`] (any host, ANA reporting,
//! namespaces of 512 B and 4 KiB blocks), subsystem [`NQN2`] (only
//! [`HOSTNQN`]), the discovery subsystem, one listener on 127.0.0.1 and a
//! free port. Each input then opens up to [`MAX_CONNS`] connections and
//! plays a sequence of operations read from the input ([`Op`]): mostly
//! well-formed PDUs built from a few fuzz bytes (ICReq, Connect, property
//! get/set, admin and I/O commands, H2CData answering the last R2T,
//! shortcuts for a whole handshake) so the fuzzer gets past the handshake,
//! plus raw bytes and raw SQEs.
//!
//! Properties:
//! * the handler never panics (a panic in the connection task aborts the
//!   process under the fuzzer's `panic=abort`; in the regression tests the
//!   task's panic shows up as the connection closing early plus the panic
//!   message, and [`run`] checks the target still answers afterwards);
//! * everything the target sends decodes with our host-side decoder
//!   (`Role::Host`, the negotiated digests, PDO aligned to the HPDA we
//!   asked for), data digests included;
//! * no C2HData or R2T moves more than the transport's `max_io_size`
//!   ([`MAX_TRANSFER`]), whatever SGL length the command claimed;
//! * every command we wait for is answered (CapsuleResp, C2HData with
//!   SUCCESS, or R2T for its CID), or the connection is closed, within
//!   [`REPLY_TIMEOUT`] (AERs are not waited for: they are held; nor is
//!   anything after raw bytes, which may have left a partial PDU that the
//!   target rightly waits to complete);
//! * after the host half-closes, the target closes within [`REPLY_TIMEOUT`].
//!
//! Transport: with the fuzz crate's `serve_stream` feature (its default)
//! the host talks to `mpath_console::target::serve_stream(target, stream,
//! local, peer)` over `tokio::io::duplex`, the same handler the listener
//! runs for each accepted socket, without a kernel TCP connection per
//! input (which costs about 1.5 ms of CPU: some 600 inputs/s at best over
//! loopback, against 6,000–7,000 in memory). Without the feature, as in
//! `tests/fuzz_regressions.rs`, it connects over loopback TCP through the
//! fixture's listener.

// `feature = "serve_stream"` is the fuzz crate's; the main package, which
// includes this file in tests/fuzz_regressions.rs, does not declare it.
#![allow(unexpected_cfgs)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mpath_console::engines::Engines;
use mpath_console::nvme::fabrics::{Connect, ConnectData, GetLogPage, PropertyGet, PropertySet};
use mpath_console::nvme::opcodes::{admin, fctype, nvm};
use mpath_console::nvme::pdu::{
    encode, pda_bytes, CapsuleCmd, DataPdu, Decoded, Decoder, Framing, IcReq, Pdu, R2t, Role,
    TermReq,
};
use mpath_console::nvme::sqe::{SglDescriptor, Sqe};
use mpath_console::perf::config::PerfConfig;
use mpath_console::rpc::Router;
use mpath_console::target::nqn::DISCOVERY_NQN;
use mpath_console::target::Target;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use super::reader::Reader;
use super::rpc_methods::{debug, runtime};

pub const NQN: &str = "nqn.2016-06.io.spdk:fuzz";
pub const NQN2: &str = "nqn.2016-06.io.spdk:fuzz2";
pub const HOSTNQN: &str = "nqn.2014-08.org.nvmexpress:uuid:5f0c9a4e-0000-4000-8000-00000000f022";
pub const OTHER_HOSTNQN: &str =
    "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000bad";
pub const MAX_CONNS: usize = 4;
pub const MAX_OPS: usize = 64;
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest data PDU we accept from the target (MDTS is far below).
const HOST_MAX_DATA: u32 = 16 << 20;
/// The fixture transport's `max_io_size` (the default): no command may
/// move more than this, whatever length its SGL claims.
pub const MAX_TRANSFER: usize = 128 * 1024;

pub struct Fixture {
    pub router: Arc<Router>,
    pub target: Arc<Target>,
    /// The listener every subsystem listens on: where a loopback
    /// connection goes, and the local address a stream connection claims.
    pub addr: SocketAddr,
}

/// A connection to the target: loopback TCP, or (with the fuzz crate's
/// `serve_stream` feature) an in-memory `tokio::io::duplex` pipe served by
/// `mpath_console::target::serve_stream`, which skips the kernel's TCP
/// and is several times faster.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Stream = Box<dyn Io>;

#[cfg(not(feature = "serve_stream"))]
async fn open_stream(addr: SocketAddr, _target: &Arc<Target>) -> Stream {
    let sock = tokio::time::timeout(REPLY_TIMEOUT, tokio::net::TcpStream::connect(addr))
        .await
        .expect("connect to the fixture target timed out")
        .expect("connect to the fixture target");
    let _ = sock.set_nodelay(true);
    Box::new(sock)
}

#[cfg(feature = "serve_stream")]
async fn open_stream(addr: SocketAddr, target: &Arc<Target>) -> Stream {
    let (client, server) = tokio::io::duplex(256 * 1024);
    let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
    tokio::spawn(mpath_console::target::serve_stream(
        target.clone(),
        server,
        addr,
        peer,
    ));
    Box::new(client)
}

/// The fixture target, set up on first use.
pub fn fixture() -> &'static Fixture {
    static FX: OnceLock<Fixture> = OnceLock::new();
    FX.get_or_init(|| runtime().block_on(setup()))
}

async fn setup() -> Fixture {
    let engines = Engines::new(PerfConfig::default());
    let router = engines.target_router.clone();
    // A free loopback port: bind :0, note the port, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], port));
    let listen = json!({"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1", "trsvcid": port.to_string()});
    let calls = [
        (
            "nvmf_create_transport",
            json!({"trtype": "tcp", "io_unit_size": 8192, "c2h_success": true}),
        ),
        (
            "nvmf_create_subsystem",
            json!({"nqn": NQN, "serial_number": "SPDKFUZZ0001", "allow_any_host": true,
                   "ana_reporting": true, "max_namespaces": 4}),
        ),
        (
            "bdev_malloc_create",
            json!({"name": "Malloc0", "num_blocks": 64, "block_size": 512}),
        ),
        (
            "bdev_malloc_create",
            json!({"name": "Malloc1", "num_blocks": 16, "block_size": 4096}),
        ),
        (
            "nvmf_subsystem_add_ns",
            json!({"nqn": NQN, "namespace": {"bdev_name": "Malloc0"}}),
        ),
        (
            "nvmf_subsystem_add_ns",
            json!({"nqn": NQN, "namespace": {"bdev_name": "Malloc1", "anagrpid": 2}}),
        ),
        (
            "nvmf_create_subsystem",
            json!({"nqn": NQN2, "serial_number": "SPDKFUZZ0002"}),
        ),
        (
            "nvmf_subsystem_add_host",
            json!({"nqn": NQN2, "host": HOSTNQN}),
        ),
        (
            "bdev_malloc_create",
            json!({"name": "Malloc2", "num_blocks": 8, "block_size": 512}),
        ),
        (
            "nvmf_subsystem_add_ns",
            json!({"nqn": NQN2, "namespace": {"bdev_name": "Malloc2"}}),
        ),
        (
            "nvmf_subsystem_add_listener",
            json!({"nqn": NQN, "listen_address": listen}),
        ),
        (
            "nvmf_subsystem_add_listener",
            json!({"nqn": NQN2, "listen_address": listen}),
        ),
    ];
    for (method, params) in calls {
        router
            .call(method, Some(params.clone()))
            .await
            .unwrap_or_else(|e| panic!("fixture {method} {params}: {e}"));
    }
    Fixture {
        router,
        target: engines.target.clone(),
        addr,
    }
}

/// What one connection of the fuzzed host knows.
struct Conn {
    rd: ReadHalf<Stream>,
    wr: WriteHalf<Stream>,
    /// Bytes sent so far (an ICReq's digests are checked only when it
    /// was the first thing sent).
    sent: usize,
    rbuf: BytesMut,
    dec: Decoder,
    /// Our send framing (digests, PDA from the ICResp).
    tx: Framing,
    /// Every PDU the target sent, in order.
    rx: VecDeque<Pdu>,
    /// The target closed its side (EOF seen) or sent a C2HTermReq.
    closed: bool,
    eof: bool,
    next_cid: u16,
    last_r2t: Option<R2t>,
    /// Raw bytes were sent: the stream may hold a partial PDU now, so the
    /// target need not answer anything until the host's FIN (after which it
    /// must still close: checked by `finish`).
    raw: bool,
    /// Digests we asked for in a structured ICReq, to check the ICResp.
    asked: Option<(bool, bool)>,
    /// CIDs of Connect commands on the admin queue, to learn the CNTLID.
    admin_connects: Vec<u16>,
}

/// The host side of one input.
struct Host {
    addr: SocketAddr,
    target: Arc<Target>,
    conns: Vec<Conn>,
    cur: usize,
    opened: usize,
    cntlid: Option<u16>,
    ana_changed: bool,
}

pub fn run(data: &[u8]) {
    let fx = fixture();
    runtime().block_on(async {
        let mut host = Host {
            addr: fx.addr,
            target: fx.target.clone(),
            conns: Vec::new(),
            cur: 0,
            opened: 0,
            cntlid: None,
            ana_changed: false,
        };
        let mut r = Reader::new(data);
        let mut n = 0;
        while !r.is_empty() && n < MAX_OPS {
            host.op(&mut r, fx).await;
            n += 1;
        }
        host.finish(fx).await;
    });
}

impl Conn {
    async fn open(addr: SocketAddr, target: &Arc<Target>) -> Conn {
        let (rd, wr) = tokio::io::split(open_stream(addr, target).await);
        Conn {
            rd,
            wr,
            sent: 0,
            rbuf: BytesMut::with_capacity(64 * 1024),
            dec: Decoder::new(Role::Host, HOST_MAX_DATA),
            tx: Framing::default(),
            rx: VecDeque::new(),
            closed: false,
            eof: false,
            next_cid: 0,
            last_r2t: None,
            raw: false,
            asked: None,
            admin_connects: Vec::new(),
        }
    }

    fn cid(&mut self) -> u16 {
        let c = self.next_cid;
        self.next_cid = self.next_cid.wrapping_add(1);
        c
    }

    /// Writes `bytes` while reading whatever the target sends meanwhile
    /// (so neither side can block the other on full socket buffers).
    async fn send(&mut self, bytes: &[u8]) {
        if self.closed || self.eof {
            return;
        }
        self.sent += bytes.len();
        let Conn {
            rd, wr, rbuf, eof, ..
        } = self;
        let write = wr.write_all(bytes);
        tokio::pin!(write);
        let failed = loop {
            tokio::select! {
                r = &mut write => break r.is_err(),
                n = rd.read_buf(rbuf), if !*eof => {
                    if !matches!(n, Ok(k) if k > 0) {
                        *eof = true;
                    }
                }
            }
        };
        if failed {
            self.eof = true;
        }
        self.pump();
    }

    /// Decodes every complete PDU received so far, checking each.
    fn pump(&mut self) {
        loop {
            match self.dec.decode_checked(&mut self.rbuf) {
                Ok(None) => break,
                Ok(Some(Decoded::Pdu(p))) => self.on_pdu(p),
                Ok(Some(Decoded::DataDigestError(p))) => {
                    panic!("the target sent a PDU with a wrong data digest: {p:?}")
                }
                Err(e) => panic!(
                    "the target sent a PDU our host decoder rejects: {} (FES {:?}, FEI {}), header {:02x?}",
                    e.reason,
                    e.fes,
                    e.fei,
                    e.header.as_ref()
                ),
            }
        }
    }

    fn on_pdu(&mut self, p: Pdu) {
        if debug() {
            let mut t = format!("{p:?}");
            t.truncate(240);
            eprintln!("  <- {t}");
        }
        match &p {
            Pdu::IcResp(resp) => {
                if let Some((hd, dd)) = self.asked {
                    assert_eq!(
                        (resp.hdgst, resp.ddgst),
                        (hd, dd),
                        "ICResp digests differ from the ICReq's"
                    );
                }
                let f = Framing {
                    hdgst: resp.hdgst,
                    ddgst: resp.ddgst,
                    pda: 0,
                };
                self.dec.set_framing(f);
                self.tx = Framing {
                    pda: pda_bytes(resp.cpda),
                    ..f
                };
            }
            Pdu::R2T(r) => {
                assert!(
                    r.r2tl as usize <= MAX_TRANSFER,
                    "the target asked for {} bytes in one R2T (max_io_size {MAX_TRANSFER})",
                    r.r2tl
                );
                self.last_r2t = Some(*r);
            }
            Pdu::C2HData(d) => assert!(
                d.datao as usize + d.data.len() <= MAX_TRANSFER,
                "the target sent C2H data up to byte {} for command {} (max_io_size \
                 {MAX_TRANSFER}): the SGL length was not bounded",
                d.datao as usize + d.data.len(),
                d.cccid
            ),
            Pdu::C2HTermReq(_) => self.closed = true,
            _ => {}
        }
        self.rx.push_back(p);
    }

    /// Reads until `done` holds for a PDU received from index `from` on,
    /// or the target closes. Panics after [`REPLY_TIMEOUT`].
    async fn wait(&mut self, from: usize, what: &str, done: impl Fn(&Pdu) -> bool) {
        if self.raw {
            self.pump();
            return;
        }
        let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
        loop {
            if self.rx.iter().skip(from).any(&done) || self.closed {
                return;
            }
            if self.eof {
                self.closed = true;
                return;
            }
            let n = tokio::time::timeout_at(deadline, self.rd.read_buf(&mut self.rbuf))
                .await
                .unwrap_or_else(|_| {
                    panic!("the target did not answer {what} within {REPLY_TIMEOUT:?}")
                });
            if !matches!(n, Ok(k) if k > 0) {
                self.eof = true;
            }
            self.pump();
        }
    }

    /// Sends `pdu` with this connection's framing; waits for the answer to
    /// `cid` when given.
    async fn exchange(&mut self, pdu: &Pdu, wait_cid: Option<u16>) {
        if debug() {
            let mut t = format!("{pdu:?}");
            t.truncate(240);
            eprintln!("-> {t}");
        }
        let mut b = BytesMut::new();
        encode(pdu, &self.tx, &mut b);
        let from = self.rx.len();
        self.send(&b).await;
        if let Some(cid) = wait_cid {
            self.wait(from, &format!("command {cid}"), |p| answers(p, cid))
                .await;
        }
    }

    /// Half-closes and reads until the target closes.
    async fn finish(&mut self) {
        if !self.eof {
            let _ = self.wr.shutdown().await;
            let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
            while !self.eof {
                let n = tokio::time::timeout_at(deadline, self.rd.read_buf(&mut self.rbuf))
                    .await
                    .unwrap_or_else(|_| {
                        panic!("the target did not close within {REPLY_TIMEOUT:?} of our FIN")
                    });
                if !matches!(n, Ok(k) if k > 0) {
                    self.eof = true;
                }
                // A big read can leave the buffer full: decode as we go.
                self.pump();
            }
        }
        self.pump();
    }
}

/// Whether `p` ends command `cid`: its CQE, a C2HData with SUCCESS, or the
/// R2T asking for its data.
fn answers(p: &Pdu, cid: u16) -> bool {
    match p {
        Pdu::CapsuleResp(c) => c.cid == cid,
        Pdu::C2HData(d) => d.cccid == cid && d.success,
        Pdu::R2T(r) => r.cccid == cid,
        _ => false,
    }
}

fn capsule(sqe: Sqe, data: Bytes) -> Pdu {
    Pdu::CapsuleCmd(CapsuleCmd { sqe, data })
}

/// The number of operation kinds [`Host::op`] knows.
pub const OP_KINDS: u8 = 14;

/// Operation kinds (the first byte of an operation, modulo [`OP_KINDS`]).
pub mod op {
    pub const IC_REQ: u8 = 0;
    pub const CONNECT: u8 = 1;
    pub const PROPERTY_GET: u8 = 2;
    pub const PROPERTY_SET: u8 = 3;
    pub const ADMIN: u8 = 4;
    pub const IO: u8 = 5;
    pub const H2C_DATA: u8 = 6;
    pub const RAW: u8 = 7;
    pub const FABRICS_OTHER: u8 = 8;
    pub const SWITCH: u8 = 9;
    pub const TERM_REQ: u8 = 10;
    pub const RAW_SQE: u8 = 11;
    pub const SET_ANA: u8 = 12;
    pub const HANDSHAKE: u8 = 13;
}

impl Host {
    /// The current connection, opened (again) if needed.
    async fn conn(&mut self) -> Option<&mut Conn> {
        while self.conns.len() <= self.cur {
            if self.opened >= MAX_CONNS {
                return None;
            }
            self.opened += 1;
            self.conns.push(Conn::open(self.addr, &self.target).await);
        }
        if self.conns[self.cur].closed || self.conns[self.cur].eof {
            if self.opened >= MAX_CONNS {
                return None;
            }
            self.opened += 1;
            self.conns[self.cur].finish().await;
            self.conns[self.cur] = Conn::open(self.addr, &self.target).await;
        }
        Some(&mut self.conns[self.cur])
    }

    async fn op(&mut self, r: &mut Reader<'_>, fx: &Fixture) {
        let kind = r.u8() % OP_KINDS;
        if debug() {
            eprintln!("op {kind} on connection {}", self.cur);
        }
        match kind {
            op::SWITCH => {
                self.cur = usize::from(r.u8() % 2);
                return;
            }
            op::SET_ANA => {
                let state = r.pick(&["optimized", "non_optimized", "inaccessible"]);
                let grp = r.u8() % 3;
                let mut p = json!({"nqn": NQN, "ana_state": state,
                    "listen_address": {"trtype": "tcp", "traddr": "127.0.0.1",
                                       "trsvcid": fx.addr.port().to_string()}});
                if grp > 0 {
                    p["anagrpid"] = json!(grp);
                }
                let _ = fx
                    .router
                    .call("nvmf_subsystem_listener_set_ana_state", Some(p))
                    .await;
                self.ana_changed = true;
                // Let the connection tasks deliver the AENs.
                tokio::task::yield_now().await;
                return;
            }
            _ => {}
        }
        let cntlid = self.cntlid;
        let Some(c) = self.conn().await else {
            return;
        };
        match kind {
            op::IC_REQ => ic_req(c, r).await,
            op::CONNECT => connect(c, r, cntlid).await,
            op::PROPERTY_GET => {
                let ofst = r.pick(&[0u32, 0x08, 0x14, 0x1C, 0x20, u32::MAX]);
                let ofst = if ofst == u32::MAX { r.u32() } else { ofst };
                let cid = c.cid();
                let mut sqe = PropertyGet {
                    size8: r.bool(),
                    ofst,
                }
                .to_sqe(cid);
                if r.u8() == 0xA5 {
                    sqe.0[40] = r.u8();
                }
                c.exchange(&capsule(sqe, Bytes::new()), Some(cid)).await;
            }
            op::PROPERTY_SET => {
                let value = match r.u8() % 5 {
                    0 | 1 => 0x0046_0001,
                    2 => 0x0046_0000,
                    3 => 0x0046_4001,
                    _ => r.u64(),
                };
                let ofst = if r.u8() == 0xA5 { r.u32() } else { 0x14 };
                let cid = c.cid();
                let sqe = PropertySet {
                    size8: r.u8() == 0xA5,
                    ofst,
                    value,
                }
                .to_sqe(cid);
                c.exchange(&capsule(sqe, Bytes::new()), Some(cid)).await;
            }
            op::ADMIN => admin_cmd(c, r).await,
            op::IO => io_cmd(c, r).await,
            op::H2C_DATA => h2c_data(c, r).await,
            op::RAW => {
                let n = usize::from(r.u16() % 4096);
                let bytes = r.bytes(n).to_vec();
                c.raw |= !bytes.is_empty();
                c.send(&bytes).await;
            }
            op::FABRICS_OTHER => {
                let cid = c.cid();
                let mut sqe = Sqe::new(admin::FABRICS, cid);
                sqe.set_fctype(r.pick(&[
                    fctype::DISCONNECT,
                    fctype::AUTH_SEND,
                    fctype::AUTH_RECV,
                    0x7F,
                ]));
                sqe.set_sgl(SglDescriptor::transport(u32::from(r.u16())));
                sqe.set_cdw(10, r.u32());
                sqe.set_cdw(11, r.u32());
                c.exchange(&capsule(sqe, Bytes::new()), Some(cid)).await;
            }
            op::TERM_REQ => {
                let fes = u16::from(r.u8() % 8);
                let fei = r.u32();
                let n = usize::from(r.u8() % 129);
                let t = TermReq {
                    fes,
                    fei,
                    header: Bytes::copy_from_slice(r.bytes(n)),
                };
                let mut b = BytesMut::new();
                encode(&Pdu::H2CTermReq(t), &Framing::default(), &mut b);
                c.send(&b).await;
            }
            op::RAW_SQE => {
                let mut sqe = Sqe::default();
                let raw = r.bytes(64);
                sqe.0[..raw.len()].copy_from_slice(raw);
                let cid = c.cid();
                sqe.set_cid(cid);
                let n = usize::from(r.u16() % 8192);
                let data = Bytes::copy_from_slice(r.bytes(n));
                if !data.is_empty() {
                    sqe.set_sgl(SglDescriptor::in_capsule(data.len() as u32));
                } else if skip_known() {
                    let mut sgl = sqe.sgl();
                    sgl.len = clamp_len(sgl.len);
                    sqe.set_sgl(sgl);
                }
                let wait = (sqe.opc() != admin::ASYNC_EVENT_REQUEST).then_some(cid);
                c.exchange(&capsule(sqe, data), wait).await;
            }
            op::HANDSHAKE => {
                let v = r.u8();
                handshake(c, v, cntlid).await;
            }
            _ => unreachable!("op kind {kind}"),
        }
        // Learn the CNTLID from an admin Connect's answer.
        if self.cntlid.is_none() {
            if let Some(c) = self.conns.get(self.cur) {
                self.cntlid = learned_cntlid(c);
            }
        }
    }

    async fn finish(&mut self, fx: &Fixture) {
        for c in &mut self.conns {
            c.finish().await;
        }
        if self.ana_changed {
            let p = json!({"nqn": NQN, "ana_state": "optimized",
                "listen_address": {"trtype": "tcp", "traddr": "127.0.0.1",
                                   "trsvcid": fx.addr.port().to_string()}});
            fx.router
                .call("nvmf_subsystem_listener_set_ana_state", Some(p))
                .await
                .expect("resetting the fixture's ANA state");
        }
        // Let the connection tasks run their clean-up.
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
    }
}

fn learned_cntlid(c: &Conn) -> Option<u16> {
    c.rx.iter().find_map(|p| match p {
        Pdu::CapsuleResp(cqe) if cqe.status.is_success() && c.admin_connects.contains(&cqe.cid) => {
            Some(cqe.dw0 as u16)
        }
        _ => None,
    })
}

async fn ic_req(c: &mut Conn, r: &mut Reader<'_>) {
    let b = r.u8();
    let hpda = if b & 0x80 != 0 { b } else { b % 32 };
    let dgst = r.u8();
    let ic = IcReq {
        pfv: if r.u8() == 0xA5 { r.u16() } else { 0 },
        hpda,
        hdgst: dgst & 1 != 0,
        ddgst: dgst & 2 != 0,
        maxr2t: r.u32(),
    };
    send_ic(c, ic).await;
}

async fn send_ic(c: &mut Conn, ic: IcReq) {
    if c.sent == 0 {
        c.asked = Some((ic.hdgst, ic.ddgst));
        c.dec.rx_pda = if ic.hpda <= 31 { pda_bytes(ic.hpda) } else { 0 };
    }
    let mut b = BytesMut::new();
    encode(&Pdu::IcReq(ic), &Framing::default(), &mut b);
    let from = c.rx.len();
    c.send(&b).await;
    c.wait(from, "ICReq", |p| matches!(p, Pdu::IcResp(_))).await;
}

fn subnqn(v: u8) -> &'static str {
    [NQN, NQN2, DISCOVERY_NQN, "nqn.2016-06.io.spdk:nosuch", ""][usize::from(v % 5)]
}

fn hostnqn(v: u8) -> &'static str {
    [HOSTNQN, HOSTNQN, OTHER_HOSTNQN, ""][usize::from(v % 4)]
}

const HOSTID: [u8; 16] = [
    0x5f, 0x0c, 0x9a, 0x4e, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0xf0, 0x22,
];

async fn connect(c: &mut Conn, r: &mut Reader<'_>, learned: Option<u16>) {
    let qid = match r.u8() % 6 {
        0..=2 => 0,
        3 => 1,
        4 => 2,
        _ => r.u16(),
    };
    let sqsize = r.pick(&[31u16, 127, 0, 1, 128, u16::MAX]);
    let cntlid = if qid == 0 {
        if r.u8() == 0xA5 {
            r.u16()
        } else {
            0xFFFF
        }
    } else {
        match learned {
            Some(id) if r.u8() != 0xA5 => id,
            _ => r.u16(),
        }
    };
    let conn = Connect {
        recfmt: if r.u8() == 0xA5 { r.u16() } else { 0 },
        qid,
        sqsize,
        cattr: r.u8() & 0x0F,
        kato: r.pick(&[0u32, 120_000, 10, 5_000]),
    };
    let hostid = if r.u8() == 0xA5 {
        let mut h = [0u8; 16];
        h.copy_from_slice(&{
            let mut v = r.bytes(16).to_vec();
            v.resize(16, 0);
            v
        });
        h
    } else {
        HOSTID
    };
    let cd = ConnectData {
        hostid,
        cntlid,
        subnqn: subnqn(r.u8()).to_string(),
        hostnqn: hostnqn(r.u8()).to_string(),
    };
    let mut data = cd.to_bytes();
    if r.u8() == 0xA5 {
        // Corrupt the data: a length cut or a byte flipped.
        let at = usize::from(r.u16()) % data.len();
        if r.bool() {
            data.truncate(at);
        } else {
            data[at] ^= r.u8() | 1;
        }
    }
    let cid = c.cid();
    let mut sqe = conn.to_sqe(cid);
    sqe.set_sgl(SglDescriptor::in_capsule(data.len() as u32));
    if qid == 0 {
        c.admin_connects.push(cid);
    }
    c.exchange(&capsule(sqe, Bytes::from(data)), Some(cid))
        .await;
}

/// ICReq, Connect and, on an admin queue, CC.EN = 1 and Set Features
/// Number of Queues: a whole handshake from one byte.
async fn handshake(c: &mut Conn, v: u8, learned: Option<u16>) {
    let ic = IcReq {
        pfv: 0,
        hpda: if v & 0x40 != 0 { 3 } else { 0 },
        hdgst: v & 0x01 != 0,
        ddgst: v & 0x02 != 0,
        maxr2t: 0,
    };
    send_ic(c, ic).await;
    let io = v & 0x04 != 0 && learned.is_some();
    let sub = if v & 0x08 != 0 {
        NQN2
    } else if v & 0x10 != 0 {
        DISCOVERY_NQN
    } else {
        NQN
    };
    let cd = ConnectData {
        hostid: HOSTID,
        cntlid: if io {
            learned.unwrap_or(0xFFFF)
        } else {
            0xFFFF
        },
        subnqn: sub.to_string(),
        hostnqn: HOSTNQN.to_string(),
    };
    let cid = c.cid();
    let qid = if io { 1 + u16::from((v >> 5) & 1) } else { 0 };
    let sqe = Connect {
        recfmt: 0,
        qid,
        sqsize: if io { 127 } else { 31 },
        cattr: if v & 0x80 != 0 { 0x04 } else { 0 },
        kato: if io { 0 } else { 120_000 },
    }
    .to_sqe(cid);
    if qid == 0 {
        c.admin_connects.push(cid);
    }
    c.exchange(&capsule(sqe, Bytes::from(cd.to_bytes())), Some(cid))
        .await;
    if io {
        return;
    }
    let cid = c.cid();
    let sqe = PropertySet {
        size8: false,
        ofst: 0x14,
        value: 0x0046_0001,
    }
    .to_sqe(cid);
    c.exchange(&capsule(sqe, Bytes::new()), Some(cid)).await;
    let cid = c.cid();
    let mut sqe = Sqe::new(admin::SET_FEATURES, cid);
    sqe.set_sgl(SglDescriptor::transport(0));
    sqe.set_cdw(10, 0x07);
    sqe.set_cdw(11, 0x0003_0003);
    c.exchange(&capsule(sqe, Bytes::new()), Some(cid)).await;
}

/// `FUZZ_SKIP_KNOWN=1`: keep SGL lengths within `max_io_size`, so a run
/// can get past the open bug of `target_bounds_the_sgl_length_of_admin_
/// commands` (tests/fuzz_regressions.rs) instead of finding it again.
pub fn skip_known() -> bool {
    static S: OnceLock<bool> = OnceLock::new();
    *S.get_or_init(|| std::env::var_os("FUZZ_SKIP_KNOWN").is_some())
}

fn clamp_len(len: u32) -> u32 {
    if skip_known() {
        len.min(MAX_TRANSFER as u32)
    } else {
        len
    }
}

/// The SGL for a command moving `len` bytes: mostly right, sometimes not.
fn sgl_for(r: &mut Reader<'_>, len: u32) -> SglDescriptor {
    let len = clamp_len(len);
    match r.u8() % 8 {
        0..=4 => SglDescriptor::transport(len),
        5 => SglDescriptor::transport(clamp_len(r.u32())),
        6 => SglDescriptor {
            addr: r.u64(),
            len,
            id: SglDescriptor::SGL_TRANSPORT_DATA_BLOCK,
        },
        _ => SglDescriptor {
            addr: 0,
            len,
            id: r.u8(),
        },
    }
}

async fn admin_cmd(c: &mut Conn, r: &mut Reader<'_>) {
    let cid = c.cid();
    let opc = r.pick(&[
        admin::IDENTIFY,
        admin::IDENTIFY,
        admin::GET_LOG_PAGE,
        admin::GET_LOG_PAGE,
        admin::SET_FEATURES,
        admin::GET_FEATURES,
        admin::KEEP_ALIVE,
        admin::ASYNC_EVENT_REQUEST,
        admin::ABORT,
        0xFF,
    ]);
    let opc = if opc == 0xFF { r.u8() } else { opc };
    let mut sqe = Sqe::new(opc, cid);
    let nsid = match r.u8() % 6 {
        0 | 1 => 0,
        2 => 1,
        3 => 2,
        4 => u32::MAX,
        _ => r.u32(),
    };
    sqe.set_nsid(nsid);
    let mut len = 0u32;
    match opc {
        admin::IDENTIFY => {
            let cns = r.pick(&[0u32, 1, 2, 3, 0x10, 0x11, 0xFF]);
            let cns = if cns == 0xFF { u32::from(r.u8()) } else { cns };
            sqe.set_cdw(10, cns | (u32::from(r.u8()) << 16));
            len = 4096;
        }
        admin::GET_LOG_PAGE => {
            let lid = r.pick(&[0x01u8, 0x02, 0x03, 0x04, 0x0C, 0x70, 0xFF]);
            let lid = if lid == 0xFF { r.u8() } else { lid };
            len = match r.u8() % 5 {
                0 => 4096,
                1 => 512,
                2 => 16,
                3 => 1044,
                _ => clamp_len(r.u32() % (1 << 20)),
            };
            let lpo = if r.u8() == 0xA5 { r.u64() } else { 0 };
            let glp = GetLogPage {
                lid,
                lsp: r.u8() & 0x7F,
                rae: r.bool(),
                numd: GetLogPage::numd_for_len(len),
                lpo,
                nsid,
            };
            sqe = glp.to_sqe(cid);
        }
        admin::SET_FEATURES | admin::GET_FEATURES => {
            let fid = r.pick(&[0x07u32, 0x0B, 0x0F, 0x06, 0xFF]);
            let fid = if fid == 0xFF { u32::from(r.u8()) } else { fid };
            sqe.set_cdw(10, fid | (u32::from(r.u8() & 7) << 8));
            sqe.set_cdw(11, r.u32());
        }
        _ => {
            for dw in 10..16 {
                sqe.set_cdw(dw, r.u32());
            }
        }
    }
    if opc != admin::GET_LOG_PAGE || r.u8() == 0xA5 {
        sqe.set_sgl(sgl_for(r, len));
    }
    let mut data = Bytes::new();
    if r.u8() == 0xA5 {
        let n = usize::from(r.u16() % 9000);
        data = Bytes::copy_from_slice(r.bytes(n));
        sqe.set_sgl(SglDescriptor::in_capsule(data.len() as u32));
    }
    let wait = (opc != admin::ASYNC_EVENT_REQUEST).then_some(cid);
    c.exchange(&capsule(sqe, data), wait).await;
}

async fn io_cmd(c: &mut Conn, r: &mut Reader<'_>) {
    let cid = c.cid();
    let opc = r.pick(&[
        nvm::READ,
        nvm::READ,
        nvm::WRITE,
        nvm::WRITE,
        nvm::FLUSH,
        nvm::WRITE_ZEROES,
        nvm::DSM,
        nvm::COMPARE,
        0xFF,
    ]);
    let opc = if opc == 0xFF { r.u8() } else { opc };
    let (nsid, bs) = match r.u8() % 6 {
        0..=2 => (1u32, 512u32),
        3 => (2, 4096),
        4 => (u32::MAX, 512),
        _ => (r.u32(), 512),
    };
    let slba = match r.u8() % 5 {
        0 | 1 => 0u64,
        2 => 1,
        3 => 63,
        _ => r.u64(),
    };
    let nlb = match r.u8() % 5 {
        0 | 1 => 0u32,
        2 => 1,
        3 => 7,
        _ => u32::from(r.u16()),
    };
    let mut sqe = Sqe::new(opc, cid);
    sqe.set_nsid(nsid);
    sqe.set_cdw(10, slba as u32);
    sqe.set_cdw(11, (slba >> 32) as u32);
    sqe.set_cdw(12, nlb | (u32::from(r.u8()) << 24));
    sqe.set_cdw(13, if r.u8() == 0xA5 { r.u32() } else { 0 });
    let len = (nlb + 1).saturating_mul(bs);
    let mut data = Bytes::new();
    if opc == nvm::WRITE && r.bool() {
        // In-capsule write (our capsule holds 4 KiB on I/O queues).
        let n = (len as usize).min(16 * 1024);
        let fill = r.u8();
        data = Bytes::from(vec![fill; n]);
        sqe.set_sgl(SglDescriptor::in_capsule(n as u32));
    } else if opc == nvm::DSM {
        let n = usize::from(r.u8() % 4 + 1) * 16;
        data = Bytes::copy_from_slice(r.bytes(n));
        sqe.set_sgl(SglDescriptor::in_capsule(data.len() as u32));
    } else {
        let l = if matches!(opc, nvm::READ | nvm::WRITE | nvm::COMPARE) {
            len
        } else {
            0
        };
        sqe.set_sgl(sgl_for(r, l));
    }
    // Nothing stops this going to an admin queue, where a raw 0x0C is an
    // Asynchronous Event Request: held, so not waited for.
    let wait = (opc != admin::ASYNC_EVENT_REQUEST).then_some(cid);
    c.exchange(&capsule(sqe, data), wait).await;
}

async fn h2c_data(c: &mut Conn, r: &mut Reader<'_>) {
    let (cccid, ttag, r2to, r2tl) = match c.last_r2t.take() {
        Some(t) if r.u8() != 0xA5 => (t.cccid, t.ttag, t.r2to, t.r2tl),
        _ => (r.u16(), r.u16(), r.u32() % 8192, u32::from(r.u16())),
    };
    let total = r2tl.min(256 * 1024) as usize;
    let fill = r.u8();
    let mode = r.u8() % 4;
    // Mostly one PDU with all of it, else two halves, else odd fields.
    let pieces: Vec<(u32, usize, bool)> = match mode {
        0 | 1 => vec![(r2to, total, true)],
        2 => {
            let half = total / 2;
            vec![
                (r2to, half, false),
                (r2to + half as u32, total - half, true),
            ]
        }
        _ => vec![(r.u32(), usize::from(r.u16()), r.bool())],
    };
    for (datao, n, last) in pieces {
        if n == 0 {
            continue;
        }
        let pdu = Pdu::H2CData(DataPdu {
            cccid,
            ttag,
            datao,
            last,
            success: false,
            data: Bytes::from(vec![fill; n]),
        });
        let wait = last.then_some(cccid);
        c.exchange(&pdu, wait).await;
        if c.closed || c.eof {
            break;
        }
    }
}

//! One NVMe/TCP connection, which is one queue pair: the ICReq/ICResp
//! exchange, fabrics Connect and properties, then admin or I/O commands,
//! R2T/H2CData for writes that do not fit in the capsule, and a C2HTermReq
//! for a malformed PDU (only this connection closes).
//!
//! All commands complete before the next PDU is read (the bdev is RAM), so
//! the task is a plain loop: read, decode every complete PDU, append the
//! answers to one write buffer, write it in one go. When the host stops
//! reading, the write blocks and so does our reading: memory stays bounded
//! (decoding also pauses once the write buffer holds `WBUF_HIGH` bytes, so
//! a burst of small Reads cannot amplify into a huge buffer). Read data goes
//! from the bdev straight into the write buffer behind its C2HData header.
//!
//! The bound: a connection holds at most `WBUF_HIGH` plus one answer of
//! unsent output (decoding stops at `WBUF_HIGH`; one PDU's answer, at most
//! a max-I/O-size read, may cross it), and under a delay fault at most
//! twice that (output held back counts against the same limit: past it we
//! neither decode nor read until some of it has gone). Whatever the host
//! sends beyond that waits in the kernel's socket buffers, and once they
//! are full, the host's sends block. `tests/hostile.rs` measures it.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::admin::{self, AdminOutcome};
use super::controller::Controller;
use super::fault::ListenerFault;
use super::reply::Reply;
use super::subsystem::{Namespace, Subsystem};
use super::transport::TcpTransportOpts;
use super::{io, props, QpairInfo, Target};
use crate::nvme::digest;
use crate::nvme::fabrics::{Connect, ConnectData};
use crate::nvme::opcodes as op;
use crate::nvme::pdu::{
    encode, term_req_for, CapsuleCmd, CommonHeader, DataPdu, Decoded, Decoder, Fes, Framing,
    IcResp, Pdu, PduError, PduType, R2t, Role, CH_LEN, DATA_HLEN, DDGSTF, HDGSTF, LAST_PDU,
    SUCCESS,
};
use crate::nvme::sqe::{Cqe, Sqe, SGL_DATA_BLOCK_OFFSET, SGL_TRANSPORT_DATA_BLOCK};
use crate::nvme::status::Status;

mod fabrics;
mod h2c;

/// FUSE values (SQE byte 1, bits 1:0).
const FUSE_FIRST: u8 = 0b01;
const FUSE_SECOND: u8 = 0b10;
/// Read buffer: big enough for a maximal H2CData plus headers.
const READ_CHUNK: usize = 256 * 1024;
/// Make room (reclaiming the buffer) when less than this is free to read.
const READ_MIN_ROOM: usize = 16 * 1024;
/// Decoding pauses to flush once this much output is buffered.
const WBUF_HIGH: usize = 512 * 1024;
/// Spare R2T data buffers a connection keeps for reuse.
const MAX_SPARE_BUFS: usize = 8;

struct Queue {
    qid: u16,
    sqsize: u16,
    cattr: u8,
    ctrl: Arc<Controller>,
    qpair_id: u64,
}

/// A command whose host-to-controller data arrives through R2T/H2CData:
/// a Write, or Compare, Dataset Management, Copy or a reservation command.
struct PendingWrite {
    cid: u16,
    sqe: Sqe,
    ns: Arc<Namespace>,
    /// Bytes the R2T asked for.
    len: usize,
    /// Bytes received so far.
    received: usize,
    /// The data, gathered when it comes in more than one H2CData PDU (one
    /// PDU carrying all of it goes to the bdev without this copy).
    buf: Option<BytesMut>,
}

enum Flow {
    Continue,
    Close,
}

/// A command with its data, ready to run: one half of a fused pair.
struct ReadyCmd {
    sqe: Sqe,
    ns: Arc<Namespace>,
    data: Bytes,
}

/// Fused Compare and Write in progress on this queue. The halves run only
/// together; either may get its data (through R2T) before the other.
#[derive(Default)]
struct Fused {
    /// The Compare (FUSE 01b), once its data is in.
    first: Option<ReadyCmd>,
    /// The Compare is still waiting for its data.
    first_waiting: bool,
    /// The Write (FUSE 10b), when its data came before the Compare's.
    second: Option<ReadyCmd>,
}

struct Conn {
    target: Arc<Target>,
    opts: Arc<TcpTransportOpts>,
    local: SocketAddr,
    peer: SocketAddr,
    decoder: Decoder,
    framing: Framing,
    queue: Option<Queue>,
    sqhd: u16,
    wbuf: BytesMut,
    kill: Arc<Notify>,
    pending: HashMap<u16, PendingWrite>,
    next_ttag: u16,
    /// Gathering buffers of finished R2T writes, for reuse.
    spare_bufs: Vec<BytesMut>,
    /// The fault injected on our listener address (see `fault.rs`).
    fault: ListenerFault,
    /// Bytes were thrown away under a blackhole: the stream is out of sync.
    blackholed: bool,
    /// Output held back by a delay fault, with when it may go, in order.
    delayed: VecDeque<(Instant, Bytes)>,
    fused: Fused,
    /// Bytes in `delayed`.
    delayed_bytes: usize,
}

pub async fn run(target: Arc<Target>, sock: TcpStream, local: SocketAddr, peer: SocketAddr) {
    // Hosts are latency-bound on small PDUs; both SPDK and Linux set this.
    let _ = sock.set_nodelay(true);
    // The owned TCP halves need no lock between reader and writer.
    let (rd, wr) = sock.into_split();
    run_split(target, rd, wr, local, peer).await;
}

/// The same connection handling over any byte stream (`local` and `peer`
/// stand in for the socket's addresses): what the `target_commands` fuzz
/// harness drives in memory, without a kernel TCP connection per input.
pub async fn serve_stream<S>(target: Arc<Target>, stream: S, local: SocketAddr, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Send,
{
    let (rd, wr) = tokio::io::split(stream);
    run_split(target, rd, wr, local, peer).await;
}

async fn run_split<R, W>(target: Arc<Target>, rd: R, wr: W, local: SocketAddr, peer: SocketAddr)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Some(opts) = target.transport() else {
        return;
    };
    let max_data = opts.max_io_size.max(TcpTransportOpts::ADMIN_ICD_MAX);
    let mut c = Conn {
        target,
        opts,
        local,
        peer,
        decoder: Decoder::new(Role::Controller, max_data),
        framing: Framing::default(),
        queue: None,
        sqhd: 0,
        wbuf: BytesMut::with_capacity(64 * 1024),
        kill: Arc::new(Notify::new()),
        pending: HashMap::new(),
        next_ttag: 1,
        spare_bufs: Vec::new(),
        fault: ListenerFault::None,
        blackholed: false,
        delayed: VecDeque::new(),
        delayed_bytes: 0,
        fused: Fused::default(),
    };
    c.serve(rd, wr).await;
    c.cleanup();
}

impl Conn {
    async fn serve<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(&mut self, mut rd: R, mut wr: W) {
        let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
        let mut ka_tick = tokio::time::interval(Duration::from_millis(500));
        ka_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Registered once for the whole connection, not per loop turn.
        let kill = self.kill.clone();
        let killed = kill.notified();
        tokio::pin!(killed);
        killed.as_mut().enable();
        let mut faults = self.target.faults.subscribe(self.local);
        if let Flow::Close = self.on_fault(*faults.borrow_and_update()) {
            return;
        }
        let mut faults_live = true;
        loop {
            // Output held back by a delay fault is output not yet sent: at
            // `WBUF_HIGH` of it, take no more commands (neither decode nor
            // read) until some has gone, or a host that does not wait for
            // its answers makes us hold a delay's worth of them.
            let held_full = self.delayed_bytes >= WBUF_HIGH;
            let flow = if self.fault == ListenerFault::Blackhole {
                // Taken from the socket, never looked at.
                rbuf.clear();
                Flow::Continue
            } else if held_full {
                Flow::Continue
            } else {
                self.on_bytes(&mut rbuf)
            };
            // Decoding paused on a full write buffer: more may be buffered.
            let more = matches!(flow, Flow::Continue) && self.wbuf.len() >= WBUF_HIGH;
            if !self.flush(&mut wr, killed.as_mut()).await {
                return;
            }
            if let Flow::Close = flow {
                // Torn down before the FIN: a host that sees the close
                // finds the controller gone, not lingering.
                self.cleanup();
                let _ = wr.shutdown().await;
                return;
            }
            if more {
                continue;
            }
            if rbuf.capacity() - rbuf.len() < READ_MIN_ROOM {
                // Every decoded PDU has been dropped by now, so this moves
                // the partial PDU left over to the front of the same buffer.
                rbuf.reserve(READ_CHUNK);
            }
            // A blackholed connection must not give itself away: no AENs,
            // and no keep-alive expiry closing the socket.
            let live = self.fault != ListenerFault::Blackhole;
            let ctrl = self.admin_ctrl().filter(|_| live);
            let held = self.delayed.front().map(|(at, _)| *at);
            let held_full = self.delayed_bytes >= WBUF_HIGH;
            let flow = tokio::select! {
                _ = killed.as_mut() => Flow::Close,
                _ = wait_aen(ctrl.as_deref()) => { self.deliver_aens(); Flow::Continue }
                _ = ka_tick.tick(), if ctrl.is_some() => self.check_keep_alive(),
                r = rd.read_buf(&mut rbuf), if !held_full => match r {
                    Ok(0) | Err(_) => Flow::Close,
                    Ok(_) => Flow::Continue,
                },
                r = faults.changed(), if faults_live => match r {
                    Ok(()) => self.on_fault(*faults.borrow_and_update()),
                    Err(_) => { faults_live = false; Flow::Continue }
                },
                // Held output is due: `flush` at the top of the loop sends it.
                _ = sleep_until(held), if held.is_some() => Flow::Continue,
            };
            if let Flow::Close = flow {
                if self.flush(&mut wr, killed.as_mut()).await {
                    self.cleanup();
                    let _ = wr.shutdown().await;
                }
                return;
            }
        }
    }

    /// A fault was set or lifted on our listener address.
    fn on_fault(&mut self, f: ListenerFault) -> Flow {
        self.fault = f;
        if f == ListenerFault::Blackhole {
            self.blackholed = true;
            self.wbuf.clear();
            self.delayed.clear();
            self.delayed_bytes = 0;
            return Flow::Continue;
        }
        if self.blackholed {
            // Bytes were dropped mid-PDU: there is no resynchronizing, so
            // the path comes back as a new connection, as after a partition.
            return Flow::Close;
        }
        Flow::Continue
    }

    /// Writes out the buffered PDUs; false if the connection is gone or was
    /// killed meanwhile.
    async fn flush<W: AsyncWrite + Unpin>(
        &mut self,
        wr: &mut W,
        mut killed: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
    ) -> bool {
        match self.fault {
            ListenerFault::Blackhole => {
                self.wbuf.clear();
                return true;
            }
            ListenerFault::Delay { delay_ms } if !self.wbuf.is_empty() => {
                // Held in order; at most about `WBUF_HIGH` of it, as
                // `serve` takes no commands past that.
                let at = Instant::now() + Duration::from_millis(delay_ms.into());
                self.hold(at);
            }
            _ if !self.delayed.is_empty() && !self.wbuf.is_empty() => {
                // Lifted: what was held still goes first.
                self.hold(Instant::now());
            }
            _ => {}
        }
        if !self.send_due(wr, killed.as_mut()).await {
            return false;
        }
        if self.wbuf.is_empty() {
            return true;
        }
        let done = tokio::select! {
            r = wr.write_all(&self.wbuf) => r.is_ok(),
            _ = killed => false,
        };
        self.wbuf.clear();
        if self.wbuf.capacity() > 4 * WBUF_HIGH {
            // One huge admin transfer should not pin its buffer for good.
            self.wbuf = BytesMut::with_capacity(64 * 1024);
        }
        done
    }

    /// Moves the write buffer to the held output, to go at `at`.
    fn hold(&mut self, at: Instant) {
        let b = self.wbuf.split().freeze();
        self.delayed_bytes += b.len();
        self.delayed.push_back((at, b));
    }

    /// Sends the held output whose time has come.
    async fn send_due<W: AsyncWrite + Unpin>(
        &mut self,
        wr: &mut W,
        mut killed: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
    ) -> bool {
        let now = Instant::now();
        while let Some((_, b)) = self.delayed.pop_front_if(|(at, _)| *at <= now) {
            self.delayed_bytes -= b.len();
            let ok = tokio::select! {
                r = wr.write_all(&b) => r.is_ok(),
                _ = killed.as_mut() => false,
            };
            if !ok {
                return false;
            }
        }
        true
    }

    fn admin_ctrl(&self) -> Option<Arc<Controller>> {
        self.queue
            .as_ref()
            .filter(|q| q.qid == 0)
            .map(|q| q.ctrl.clone())
    }

    /// Handles the complete PDUs in `rbuf`, pausing once `WBUF_HIGH` bytes
    /// of output are waiting.
    fn on_bytes(&mut self, rbuf: &mut BytesMut) -> Flow {
        while self.wbuf.len() < WBUF_HIGH {
            match self.decoder.decode_checked(rbuf) {
                Ok(None) => return Flow::Continue,
                Ok(Some(Decoded::Pdu(pdu))) => {
                    if let Flow::Close = self.on_pdu(pdu) {
                        return Flow::Close;
                    }
                }
                Ok(Some(Decoded::DataDigestError(pdu))) => self.on_data_digest_error(pdu),
                Err(e) => {
                    self.term(&e);
                    return Flow::Close;
                }
            }
        }
        Flow::Continue
    }

    /// A data digest mismatch fails only its command, with Transient
    /// Transport Error, as SPDK's target does; the stream stays in sync.
    fn on_data_digest_error(&mut self, pdu: Pdu) {
        let st = Reply::status(Status::TRANSIENT_TRANSPORT_ERROR);
        match pdu {
            Pdu::CapsuleCmd(c) => {
                self.next_sqhd();
                self.complete(c.sqe.cid(), st);
            }
            Pdu::H2CData(d) => {
                if let Some(p) = self.pending.remove(&d.ttag) {
                    self.complete(p.cid, st);
                    self.recycle(p.buf);
                }
            }
            _ => {}
        }
    }

    /// Sends a C2HTermReq for a fatal error; the caller then closes.
    fn term(&mut self, e: &PduError) {
        tracing::debug!("{} -> {}: terminating: {}", self.peer, self.local, e.reason);
        encode(&term_req_for(e), &self.framing, &mut self.wbuf);
    }

    fn on_pdu(&mut self, pdu: Pdu) -> Flow {
        match pdu {
            Pdu::IcReq(req) => {
                // HPDA asks us to align C2H data; padding stays zero-filled.
                self.framing = Framing {
                    hdgst: req.hdgst,
                    ddgst: req.ddgst,
                    pda: (req.hpda as u32 + 1) * 4,
                };
                let resp = Pdu::IcResp(IcResp {
                    pfv: 0,
                    cpda: 0,
                    hdgst: req.hdgst,
                    ddgst: req.ddgst,
                    maxh2cdata: self.opts.maxh2cdata(),
                });
                // ICResp itself carries no digests.
                encode(&resp, &Framing::default(), &mut self.wbuf);
                self.decoder.set_framing(Framing {
                    hdgst: req.hdgst,
                    ddgst: req.ddgst,
                    pda: 0,
                });
                Flow::Continue
            }
            Pdu::CapsuleCmd(cmd) => self.on_command(cmd),
            Pdu::H2CData(d) => self.on_h2c_data(d),
            Pdu::H2CTermReq(t) => {
                tracing::debug!("{}: host terminated, FES {}", self.peer, t.fes);
                Flow::Close
            }
            // The decoder only yields host-to-controller PDUs.
            _ => Flow::Close,
        }
    }

    fn next_sqhd(&mut self) -> u16 {
        let depth = self
            .queue
            .as_ref()
            .map(|q| q.sqsize as u32 + 1)
            .unwrap_or(u32::MAX);
        self.sqhd = ((self.sqhd as u32 + 1) % depth) as u16;
        self.sqhd
    }

    fn complete(&mut self, cid: u16, r: Reply) {
        if let Some(data) = r.data.clone().filter(|d| !d.is_empty()) {
            // The C2H success optimisation needs SQ flow control disabled: a
            // completion-less read gives the host no SQHD.
            let success =
                r.status.is_success() && r.dw0 == 0 && r.dw1 == 0 && self.c2h_success_allowed();
            let pdu = Pdu::C2HData(DataPdu {
                cccid: cid,
                ttag: 0,
                datao: 0,
                last: true,
                success,
                data,
            });
            encode(&pdu, &self.framing, &mut self.wbuf);
            if success {
                return;
            }
        }
        let cqe = Cqe {
            dw0: r.dw0,
            dw1: r.dw1,
            sqhd: self.sqhd,
            // SPDK leaves SQID 0 in every CQE, I/O queues included.
            sqid: 0,
            cid,
            status: r.status,
        };
        encode(&Pdu::CapsuleResp(cqe), &self.framing, &mut self.wbuf);
    }

    /// Completes a Read: its C2HData header, then the blocks copied from
    /// the bdev straight into the write buffer (no staging buffer), then the
    /// CapsuleResp unless the SUCCESS flag replaces it.
    fn complete_read(&mut self, cid: u16, ns: &Namespace, slba: u64, len: usize) {
        let success = self.c2h_success_allowed();
        let start = self.wbuf.len();
        let data_at = put_c2h_data_header(&mut self.wbuf, &self.framing, cid, len, success);
        if let Err(st) = io::read_into(ns, slba, len, &mut self.wbuf) {
            self.wbuf.truncate(start);
            self.complete(cid, Reply::status(st));
            return;
        }
        if self.framing.ddgst {
            let crc = digest::data_digest(&self.wbuf[data_at..]);
            self.wbuf.extend_from_slice(&crc.to_le_bytes());
        }
        if !success {
            self.complete(cid, Reply::ok());
        }
    }

    /// Whether a successful C2H transfer may carry SUCCESS instead of a
    /// CapsuleResp: the option is on and the host disabled SQ flow control
    /// (a completion-less read gives the host no SQHD).
    fn c2h_success_allowed(&self) -> bool {
        self.opts.c2h_success && self.queue.as_ref().is_some_and(|q| q.cattr & 0x4 != 0)
    }

    fn on_command(&mut self, cmd: CapsuleCmd) -> Flow {
        let CapsuleCmd { sqe, data } = cmd;
        self.next_sqhd();
        let cid = sqe.cid();
        if sqe.opc() == op::admin::FABRICS {
            return self.on_fabrics(&sqe, &data);
        }
        let Some(q) = self.queue.as_ref() else {
            self.complete(cid, Reply::status(Status::COMMAND_SEQUENCE_ERROR));
            return Flow::Continue;
        };
        let ctrl = q.ctrl.clone();
        let qid = q.qid;
        // The opcode says which way data moves; a command that could move
        // data but whose SGL describes 0 bytes moves none, whatever the
        // descriptor type (`spdk_nvmf_req_get_xfer`).
        let sgl = sqe.sgl();
        let dir = op::data_direction(sqe.opc());
        if dir == op::DataDir::Bidir {
            self.complete(cid, Reply::status(Status::INVALID_OPCODE));
            return Flow::Continue;
        }
        let moves_data = dir != op::DataDir::None && sgl.len != 0;
        // Data must be described the way NVMe/TCP allows: in-capsule with an
        // offset descriptor, or a transport data block.
        let icd_limit = if qid == 0 {
            TcpTransportOpts::ADMIN_ICD_MAX
        } else {
            self.opts.in_capsule_data_size
        };
        if !data.is_empty() {
            if sgl.id != SGL_DATA_BLOCK_OFFSET || sgl.addr != 0 || sgl.len as usize != data.len() {
                self.complete(cid, Reply::status(sgl_error(&sgl)));
                return Flow::Continue;
            }
            if data.len() > icd_limit as usize {
                self.complete(
                    cid,
                    Reply::status(Status::DATA_SGL_LENGTH_INVALID.with_dnr()),
                );
                return Flow::Continue;
            }
        } else if moves_data
            && sgl.id != SGL_TRANSPORT_DATA_BLOCK
            && sgl.id != SGL_DATA_BLOCK_OFFSET
        {
            self.complete(cid, Reply::status(sgl_error(&sgl)));
            return Flow::Continue;
        }
        if qid == 0 {
            if !ctrl.is_ready() {
                self.complete(cid, Reply::status(Status::COMMAND_SEQUENCE_ERROR));
                return Flow::Continue;
            }
            // The transfer is zero-padded to the SGL length: bound it by
            // MDTS before anything is allocated for it.
            if sgl.len > self.opts.max_io_size {
                self.complete(
                    cid,
                    Reply::status(Status::DATA_SGL_LENGTH_INVALID.with_dnr()),
                );
                return Flow::Continue;
            }
            match admin::handle(&self.target, &self.opts, &ctrl, &sqe, &data) {
                AdminOutcome::Reply(mut r) => {
                    if let Some(d) = r.data.take() {
                        r.data = Some(fit_transfer(d, sgl.len as usize));
                    }
                    self.complete(cid, r);
                }
                AdminOutcome::Held => {}
                AdminOutcome::ReplyAfter(first, r) => {
                    for (held, reply) in first {
                        self.complete(held, reply);
                    }
                    self.complete(cid, r);
                }
            }
            return Flow::Continue;
        }
        self.on_io(&ctrl, &sqe, data)
    }

    fn on_io(&mut self, ctrl: &Arc<Controller>, sqe: &Sqe, data: Bytes) -> Flow {
        let cid = sqe.cid();
        self.target
            .stats
            .completed_nvme_io
            .fetch_add(1, Ordering::Relaxed);
        // Flush of every namespace needs no namespace lookup.
        if sqe.opc() == op::nvm::FLUSH && sqe.nsid() == 0xFFFF_FFFF {
            self.complete(cid, Reply::ok());
            return Flow::Continue;
        }
        let ns = match io::resolve(ctrl, sqe) {
            Ok(ns) => ns,
            Err(st) => {
                self.complete(cid, Reply::status(st));
                return Flow::Continue;
            }
        };
        if !ns.resv.allows(&ctrl.hostid, sqe) {
            self.complete(cid, Reply::status(Status::RESERVATION_CONFLICT));
            return Flow::Continue;
        }
        if sqe.fuse() == 0 {
            // A Compare left waiting for its Write will not get it.
            self.abort_fused_first();
        }
        match sqe.opc() {
            op::nvm::READ | op::nvm::WRITE if sqe.fuse() == 0 => self.read_write(sqe, ns, data),
            op::nvm::WRITE
            | op::nvm::COMPARE
            | op::nvm::DSM
            | op::nvm::COPY
            | op::nvm::RESERVATION_REGISTER
            | op::nvm::RESERVATION_ACQUIRE
            | op::nvm::RESERVATION_RELEASE => self.with_h2c_data(sqe, ns, data),
            op::nvm::RESERVATION_REPORT => {
                let len = sqe.sgl().len;
                let r = if len == 0 {
                    Reply::invalid_field()
                } else if len > self.opts.max_io_size {
                    Reply::status(Status::DATA_SGL_LENGTH_INVALID.with_dnr())
                } else {
                    let mut r = ns.resv.execute(&ctrl.hostid, sqe, &[], &ns.bdev.uuid).reply;
                    if let Some(d) = r.data.take() {
                        r.data = Some(fit_transfer(d, len as usize));
                    }
                    r
                };
                self.complete(cid, r);
                Flow::Continue
            }
            op::nvm::FLUSH | op::nvm::WRITE_ZEROES => {
                let r = io::no_data(&ns, sqe);
                self.complete(cid, r);
                Flow::Continue
            }
            _ => {
                self.complete(cid, Reply::status(Status::INVALID_OPCODE.with_dnr()));
                Flow::Continue
            }
        }
    }

    /// Read and Write (unfused): checked before any data moves, a Read
    /// answered straight from the bdev, a Write's data taken from the
    /// capsule or asked for with one R2T.
    fn read_write(&mut self, sqe: &Sqe, ns: Arc<Namespace>, data: Bytes) -> Flow {
        let cid = sqe.cid();
        let (slba, len) = match io::rw_len(&ns, sqe) {
            Ok(x) => x,
            Err(st) => {
                self.complete(cid, Reply::status(st));
                return Flow::Continue;
            }
        };
        let described = if data.is_empty() {
            sqe.sgl().len as usize
        } else {
            data.len()
        };
        if described != len {
            self.complete(
                cid,
                Reply::status(Status::DATA_SGL_LENGTH_INVALID.with_dnr()),
            );
            return Flow::Continue;
        }
        if len > self.opts.max_io_size as usize {
            self.complete(cid, Reply::invalid_field());
            return Flow::Continue;
        }
        if sqe.opc() == op::nvm::READ {
            if !data.is_empty() {
                self.complete(cid, Reply::invalid_field());
                return Flow::Continue;
            }
            self.complete_read(cid, &ns, slba, len);
        } else if !data.is_empty() {
            let r = io::write(&ns, slba, &data);
            self.complete(cid, r);
        } else {
            return self.start_r2t(sqe, ns, len);
        }
        Flow::Continue
    }

    // ---- admin-queue timers and events -------------------------------------

    fn deliver_aens(&mut self) {
        let Some(ctrl) = self.admin_ctrl() else {
            return;
        };
        for (cid, dw0) in ctrl.take_aen_completions() {
            self.complete(cid, Reply::dw0(dw0));
        }
    }

    fn check_keep_alive(&mut self) -> Flow {
        match self.admin_ctrl() {
            Some(c) if c.keep_alive_expired(Instant::now()) => {
                tracing::info!(
                    "controller {} of {}: keep-alive timeout, disconnecting",
                    c.cntlid,
                    c.subsys.nqn
                );
                Flow::Close
            }
            _ => Flow::Continue,
        }
    }

    fn cleanup(&mut self) {
        let Some(q) = self.queue.take() else {
            return;
        };
        self.target.unregister_qpair(q.qpair_id);
        if q.qid == 0 {
            self.target.destroy_controller(&q.ctrl);
        } else {
            q.ctrl.state().io_qids.remove(&q.qid);
        }
    }
}

/// Waits until `at`, or forever without one (its select branch is off then).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

async fn wait_aen(ctrl: Option<&Controller>) {
    match ctrl {
        Some(c) => c.aen_ready.notified().await,
        None => std::future::pending().await,
    }
}

/// Appends the header of a C2HData PDU that carries `len` bytes at offset 0
/// with LAST_PDU (and SUCCESS if asked), its header digest and the padding
/// up to PDO, laid out exactly as `encode` lays out such a PDU; returns the
/// offset in `out` where the data goes. The caller appends the data and,
/// with data digests, its CRC.
fn put_c2h_data_header(
    out: &mut BytesMut,
    f: &Framing,
    cid: u16,
    len: usize,
    success: bool,
) -> usize {
    let pdo = f.data_pdo(DATA_HLEN);
    let plen = pdo + len + f.ddgst_len();
    let mut flags = LAST_PDU;
    if success {
        flags |= SUCCESS;
    }
    if f.hdgst {
        flags |= HDGSTF;
    }
    if f.ddgst {
        flags |= DDGSTF;
    }
    let mut h = [0u8; DATA_HLEN];
    h[..CH_LEN].copy_from_slice(
        &CommonHeader {
            pdu_type: PduType::C2HData as u8,
            flags,
            hlen: DATA_HLEN as u8,
            pdo: pdo as u8,
            plen: u32::try_from(plen).unwrap_or(u32::MAX),
        }
        .to_bytes(),
    );
    h[8..10].copy_from_slice(&cid.to_le_bytes());
    // TTAG and DATAO stay 0.
    h[16..20].copy_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
    out.reserve(plen);
    let start = out.len();
    out.extend_from_slice(&h);
    if f.hdgst {
        out.extend_from_slice(&digest::header_digest(&h).to_le_bytes());
    }
    let written = out.len() - start;
    out.put_bytes(0, pdo.saturating_sub(written));
    out.len()
}

/// Trims or zero-pads controller-to-host data to the length the host's SGL
/// described.
fn fit_transfer(d: Bytes, len: usize) -> Bytes {
    match d.len().cmp(&len) {
        std::cmp::Ordering::Equal => d,
        std::cmp::Ordering::Greater => d.slice(..len),
        std::cmp::Ordering::Less => {
            let mut b = BytesMut::zeroed(len);
            b[..d.len()].copy_from_slice(&d);
            b.freeze()
        }
    }
}

fn sgl_error(sgl: &crate::nvme::sqe::SglDescriptor) -> Status {
    if sgl.id != SGL_DATA_BLOCK_OFFSET && sgl.id != SGL_TRANSPORT_DATA_BLOCK {
        Status::SGL_DESCRIPTOR_TYPE_INVALID.with_dnr()
    } else if sgl.addr != 0 {
        Status::SGL_OFFSET_INVALID.with_dnr()
    } else {
        Status::DATA_SGL_LENGTH_INVALID.with_dnr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nvme::pdu::{encode_to_bytes, IcReq};

    /// `serve_stream` is the TCP handler over any byte stream: an ICReq
    /// gets the transport's ICResp, and the task ends at the host's EOF.
    #[tokio::test]
    async fn serve_stream_answers_icreq_and_ends_at_eof() {
        let target = Target::new();
        let opts = TcpTransportOpts::default();
        let maxh2cdata = opts.maxh2cdata();
        target.create_transport(opts).expect("transport");
        let (mut host, ctrl) = tokio::io::duplex(64 * 1024);
        let local = SocketAddr::from(([127, 0, 0, 1], 4420));
        let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
        let task = tokio::spawn(serve_stream(target, ctrl, local, peer));
        let icreq = Pdu::IcReq(IcReq {
            pfv: 0,
            hpda: 0,
            hdgst: false,
            ddgst: false,
            maxr2t: 0,
        });
        host.write_all(&encode_to_bytes(&icreq, &Framing::default()))
            .await
            .expect("write ICReq");
        let mut dec = Decoder::new(Role::Host, 1 << 20);
        let mut buf = BytesMut::new();
        let resp = loop {
            if let Some(p) = dec.decode(&mut buf).expect("a valid PDU") {
                break p;
            }
            let n = host.read_buf(&mut buf).await.expect("read");
            assert_ne!(n, 0, "closed before the ICResp");
        };
        let Pdu::IcResp(r) = resp else {
            panic!("expected ICResp, got {resp:?}")
        };
        assert_eq!((r.pfv, r.hdgst, r.ddgst), (0, false, false));
        assert_eq!(r.maxh2cdata, maxh2cdata);
        host.shutdown().await.expect("half-close");
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the connection ends at the host's EOF")
            .expect("no panic");
    }

    /// The hand-built C2HData header matches what `encode` produces for
    /// every framing (digests, padding) and both flag variants.
    #[test]
    fn c2h_data_header_matches_encode() {
        let data: Vec<u8> = (0..4096u32).map(|i| (i * 13 + 5) as u8).collect();
        for hdgst in [false, true] {
            for ddgst in [false, true] {
                for pda in [0, 4, 8, 32, 128] {
                    for success in [false, true] {
                        let f = Framing { hdgst, ddgst, pda };
                        let mut want = BytesMut::new();
                        encode(
                            &Pdu::C2HData(DataPdu {
                                cccid: 0x1234,
                                ttag: 0,
                                datao: 0,
                                last: true,
                                success,
                                data: Bytes::from(data.clone()),
                            }),
                            &f,
                            &mut want,
                        );
                        let mut got = BytesMut::from(&b"xy"[..]);
                        let at = put_c2h_data_header(&mut got, &f, 0x1234, data.len(), success);
                        got.extend_from_slice(&data);
                        if ddgst {
                            let crc = digest::data_digest(&got[at..]);
                            got.extend_from_slice(&crc.to_le_bytes());
                        }
                        assert_eq!(&got[2..], &want[..], "{f:?} success {success}");
                    }
                }
            }
        }
    }
}

//! One NVMe/TCP queue pair on the host side: a TCP connection, ICReq/ICResp,
//! the fabrics Connect, then commands in flight keyed by CID.
//!
//! Submitters encode their CapsuleCmd straight into a shared output buffer
//! and wake the writer task, which sends whatever has piled up in one
//! write: under load many commands go out per syscall. The reader task reads
//! large chunks, decodes every complete PDU, answers R2Ts with H2CData, and
//! completes commands: a command's result goes into its CID's slot and its
//! submitter is woken (no channel per command), the slots being locked once
//! per batch of PDUs read. C2H data stays a zero-copy slice of the receive
//! buffer; receive buffers are recycled once the data handed out is dropped.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::dial::Dialer;
use crate::nvme::fabrics::{Connect, ConnectData};
use crate::nvme::pdu::{encode, CapsuleCmd, DataPdu, Decoder, Framing, IcReq, Pdu, Role};
use crate::nvme::sqe::{Cqe, SglDescriptor, Sqe};
use crate::nvme::status::Status;

use super::slots::{wake_all, Slots};

/// The slots of this queue pair: each holds its command's completion.
type CmdSlots = Slots<Result<Completion, QpairError>>;

/// Largest data we accept in one PDU from a target (MDTS-bounded anyway).
const MAX_PDU_DATA: u32 = 4 << 20;
const READ_CHUNK: usize = 256 * 1024;
/// Make room when less than this is free to read into.
const READ_MIN_ROOM: usize = 32 * 1024;
/// Receive buffers kept for reuse while completions still hold data in them.
const MAX_SPARE_RBUFS: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QpairError {
    #[error("queue pair disconnected")]
    Disconnected,
    #[error("timed out")]
    Timeout,
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("connect failed: {0}")]
    Connect(String),
    #[error("command failed: {0}")]
    Status(Status),
}

/// A completed command: its CQE and any controller-to-host data.
#[derive(Debug, Clone)]
pub struct Completion {
    pub cqe: Cqe,
    pub data: Bytes,
}

#[derive(Debug, Clone)]
pub struct QpairConfig {
    pub addr: SocketAddr,
    pub subnqn: String,
    pub hostnqn: String,
    pub hostid: [u8; 16],
    pub qid: u16,
    /// Entries, 0's based, as Connect's SQSIZE.
    pub sqsize: u16,
    pub kato_ms: u32,
    pub cntlid: u16,
    pub hdgst: bool,
    pub ddgst: bool,
    pub timeout: Duration,
    /// Reach the controller through this instead of TCP.
    pub dialer: Option<Dialer>,
}

/// How long a fatal error waits for its C2HTermReq to be written.
const TERM_FLUSH: Duration = Duration::from_secs(1);

struct Shared {
    framing: Framing,
    maxh2cdata: u32,
    /// In-capsule data limit for writes on this queue (IOCCSZ×16 − 64);
    /// larger writes use R2T.
    icd_limit: AtomicU32,
    out: Mutex<BytesMut>,
    out_ready: Notify,
    /// The writer has written everything it took (bytes_out moved).
    written: Notify,
    slots: Mutex<CmdSlots>,
    closed: AtomicBool,
    closed_notify: Notify,
    pub bytes_out: AtomicU64,
    pub bytes_in: AtomicU64,
}

/// A connected queue pair. Cheap to clone.
#[derive(Clone)]
pub struct Qpair {
    shared: Arc<Shared>,
    pub qid: u16,
    pub cntlid: u16,
    pub local: SocketAddr,
    pub peer: SocketAddr,
}

impl Shared {
    fn slots(&self) -> MutexGuard<'_, CmdSlots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn out(&self) -> MutexGuard<'_, BytesMut> {
        self.out.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fails every command in flight and stops both tasks.
    fn close(&self, why: QpairError) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut wakers = Vec::new();
        {
            let mut s = self.slots();
            for cid in 0..s.entries.len() {
                if s.entries[cid].in_flight() {
                    s.finish(cid as u16, Err(why.clone()), &mut wakers);
                }
            }
            // Anyone waiting for a credit will see `closed`.
            wakers.extend(s.waiters.drain(..).map(|(_, w)| w));
        }
        wake_all(wakers);
        self.out_ready.notify_one();
        self.closed_notify.notify_waiters();
    }
}

impl Qpair {
    /// Connects the TCP socket (or the configured [`Dialer`]'s stream),
    /// exchanges ICReq/ICResp and sends Connect.
    pub async fn connect(cfg: &QpairConfig) -> Result<Qpair, QpairError> {
        let refused = |e: std::io::Error| QpairError::Connect(format!("{}: {e}", cfg.addr));
        if let Some(d) = &cfg.dialer {
            let s = tokio::time::timeout(cfg.timeout, d.dial(cfg.addr))
                .await
                .map_err(|_| QpairError::Timeout)?
                .map_err(refused)?;
            let (rd, wr) = tokio::io::split(s.stream);
            return Qpair::start(cfg, rd, wr, s.local).await;
        }
        let sock = tokio::time::timeout(cfg.timeout, TcpStream::connect(cfg.addr))
            .await
            .map_err(|_| QpairError::Timeout)?
            .map_err(refused)?;
        let _ = sock.set_nodelay(true);
        let local = sock
            .local_addr()
            .map_err(|e| QpairError::Connect(e.to_string()))?;
        let (rd, wr) = sock.into_split();
        Qpair::start(cfg, rd, wr, local).await
    }

    /// ICReq/ICResp and Connect over a connected stream, then the reader
    /// and writer tasks. Generic so TCP keeps its own split halves.
    async fn start<R, W>(
        cfg: &QpairConfig,
        mut rd: R,
        mut wr: W,
        local: SocketAddr,
    ) -> Result<Qpair, QpairError>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let mut buf = BytesMut::new();
        encode(
            &Pdu::IcReq(IcReq {
                pfv: 0,
                hpda: 0,
                hdgst: cfg.hdgst,
                ddgst: cfg.ddgst,
                maxr2t: 0,
            }),
            &Framing::default(),
            &mut buf,
        );
        wr.write_all(&buf)
            .await
            .map_err(|e| QpairError::Connect(e.to_string()))?;
        let mut decoder = Decoder::new(Role::Host, MAX_PDU_DATA);
        let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
        let icresp = tokio::time::timeout(cfg.timeout, async {
            loop {
                match decoder.decode(&mut rbuf) {
                    Ok(Some(Pdu::IcResp(r))) => return Ok(r),
                    Ok(Some(_)) => return Err(QpairError::Protocol("expected ICResp".into())),
                    Ok(None) => {}
                    Err(e) => return Err(QpairError::Protocol(e.reason.to_string())),
                }
                match rd.read_buf(&mut rbuf).await {
                    Ok(0) | Err(_) => return Err(QpairError::Disconnected),
                    Ok(_) => {}
                }
            }
        })
        .await
        .map_err(|_| QpairError::Timeout)??;
        // The target must enable exactly the digests asked for; Linux's host
        // refuses anything else and so do we.
        if icresp.pfv != 0
            || icresp.hdgst != cfg.hdgst
            || icresp.ddgst != cfg.ddgst
            || icresp.maxh2cdata < 4096
        {
            return Err(QpairError::Protocol("unacceptable ICResp".into()));
        }
        let framing = Framing {
            hdgst: cfg.hdgst,
            ddgst: cfg.ddgst,
            // Host-to-controller data must honour the controller's CPDA.
            pda: (icresp.cpda as u32 + 1) * 4,
        };
        decoder.set_framing(Framing {
            hdgst: cfg.hdgst,
            ddgst: cfg.ddgst,
            pda: 0,
        });
        let depth = cfg.sqsize as usize + 1;
        let shared = Arc::new(Shared {
            framing,
            maxh2cdata: icresp.maxh2cdata,
            icd_limit: AtomicU32::new(8192),
            out: Mutex::new(BytesMut::with_capacity(64 * 1024)),
            out_ready: Notify::new(),
            slots: Mutex::new(Slots::new(depth, cfg.sqsize.max(1) as usize)),
            closed: AtomicBool::new(false),
            closed_notify: Notify::new(),
            bytes_out: AtomicU64::new(0),
            written: Notify::new(),
            bytes_in: AtomicU64::new(0),
        });
        tokio::spawn(writer(shared.clone(), wr));
        tokio::spawn(reader(shared.clone(), rd, decoder, RecvBuf::new(rbuf)));
        let mut qp = Qpair {
            shared,
            qid: cfg.qid,
            cntlid: cfg.cntlid,
            local,
            peer: cfg.addr,
        };
        let connect = Connect {
            recfmt: 0,
            qid: cfg.qid,
            sqsize: cfg.sqsize,
            cattr: 0,
            kato: cfg.kato_ms,
        };
        let data = ConnectData {
            hostid: cfg.hostid,
            cntlid: cfg.cntlid,
            subnqn: cfg.subnqn.clone(),
            hostnqn: cfg.hostnqn.clone(),
        }
        .to_bytes();
        let c = tokio::time::timeout(
            cfg.timeout,
            qp.submit(connect.to_sqe(0), Some(Bytes::from(data)), 0),
        )
        .await
        .map_err(|_| QpairError::Timeout)??;
        if !c.cqe.status.is_success() {
            qp.close();
            return Err(QpairError::Status(c.cqe.status));
        }
        qp.cntlid = (c.cqe.dw0 & 0xFFFF) as u16;
        Ok(qp)
    }

    pub fn set_icd_limit(&self, bytes: u32) {
        self.shared.icd_limit.store(bytes, Ordering::Relaxed);
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Resolves when the connection is gone.
    pub async fn closed(&self) {
        loop {
            let n = self.shared.closed_notify.notified();
            if self.is_closed() {
                return;
            }
            n.await;
        }
    }

    pub fn close(&self) {
        self.shared.close(QpairError::Disconnected);
    }

    /// Commands in flight.
    pub fn outstanding(&self) -> usize {
        let s = self.shared.slots();
        s.entries.len() - s.free.len()
    }

    pub fn bytes_out(&self) -> u64 {
        self.shared.bytes_out.load(Ordering::Relaxed)
    }

    pub fn bytes_in(&self) -> u64 {
        self.shared.bytes_in.load(Ordering::Relaxed)
    }

    /// Submits one command. `write` is host-to-controller data (in-capsule
    /// when it fits, else sent on R2T); `read_len` the controller-to-host
    /// length. The CID is assigned here.
    pub async fn submit(
        &self,
        mut sqe: Sqe,
        write: Option<Bytes>,
        read_len: usize,
    ) -> Result<Completion, QpairError> {
        let sh = &self.shared;
        let is_fabrics = sqe.opc() == crate::nvme::opcodes::admin::FABRICS;
        let icd_limit = if is_fabrics || self.qid == 0 {
            8192
        } else {
            sh.icd_limit.load(Ordering::Relaxed) as usize
        };
        let (sgl, capsule_data, r2t_data) = match write {
            Some(d) if d.len() <= icd_limit => (SglDescriptor::in_capsule(d.len() as u32), d, None),
            Some(d) => (
                SglDescriptor::transport(d.len() as u32),
                Bytes::new(),
                Some(d),
            ),
            None => (
                SglDescriptor::transport(read_len as u32),
                Bytes::new(),
                None,
            ),
        };
        sqe.set_sgl(sgl);
        let mut wait = CreditWait { sh, ticket: None };
        let mut r2t_data = r2t_data;
        let (cid, gen) =
            poll_fn(|cx| wait.poll_acquire(cx.waker(), read_len, &mut r2t_data)).await?;
        sqe.set_cid(cid);
        // From here on the slot is ours until the result is taken; if this
        // future is dropped first, the guard hands the slot back.
        let mut guard = InFlight {
            sh,
            cid,
            gen,
            done: false,
        };
        {
            let mut out = sh.out();
            encode(
                &Pdu::CapsuleCmd(CapsuleCmd {
                    sqe,
                    data: capsule_data,
                }),
                &sh.framing,
                &mut out,
            );
        }
        sh.out_ready.notify_one();
        poll_fn(|cx| guard.poll_result(cx.waker())).await
    }
}

/// A submitter waiting for a credit (SQ flow control) and a slot.
struct CreditWait<'a> {
    sh: &'a Shared,
    /// Set while queued in `waiters`.
    ticket: Option<u64>,
}

impl CreditWait<'_> {
    fn poll_acquire(
        &mut self,
        waker: &Waker,
        read_len: usize,
        write_data: &mut Option<Bytes>,
    ) -> Poll<Result<(u16, u32), QpairError>> {
        let mut slots = self.sh.slots();
        if self.sh.closed.load(Ordering::Acquire) {
            if let Some(t) = self.ticket.take() {
                slots.leave(t, &mut Vec::new());
            }
            return Poll::Ready(Err(QpairError::Disconnected));
        }
        let Some(cid) = slots.acquire(&mut self.ticket, waker) else {
            return Poll::Pending;
        };
        let s = &mut slots.entries[cid as usize];
        s.gen = s.gen.wrapping_add(1);
        s.busy = true;
        s.read_len = read_len;
        s.write_data = write_data.take();
        Poll::Ready(Ok((cid, s.gen)))
    }
}

impl Drop for CreditWait<'_> {
    fn drop(&mut self) {
        let Some(t) = self.ticket else {
            return;
        };
        let mut wakers = Vec::new();
        self.sh.slots().leave(t, &mut wakers);
        wake_all(wakers);
    }
}

/// A submitted command's claim on its slot.
struct InFlight<'a> {
    sh: &'a Shared,
    cid: u16,
    gen: u32,
    done: bool,
}

impl InFlight<'_> {
    fn poll_result(&mut self, waker: &Waker) -> Poll<Result<Completion, QpairError>> {
        let mut slots = self.sh.slots();
        let s = &mut slots.entries[self.cid as usize];
        if s.gen != self.gen || !s.busy {
            // Cannot happen: the slot is ours until we release it.
            self.done = true;
            return Poll::Ready(Err(QpairError::Disconnected));
        }
        match s.result.take() {
            Some(r) => {
                let mut wakers = Vec::new();
                slots.release(self.cid, &mut wakers);
                drop(slots);
                self.done = true;
                wake_all(wakers);
                Poll::Ready(r)
            }
            None => {
                match &mut s.waker {
                    Some(w) if w.will_wake(waker) => {}
                    w => *w = Some(waker.clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut slots = self.sh.slots();
        let s = &mut slots.entries[self.cid as usize];
        if s.gen != self.gen || !s.busy {
            return;
        }
        if s.result.is_some() {
            let mut wakers = Vec::new();
            slots.release(self.cid, &mut wakers);
            drop(slots);
            wake_all(wakers);
        } else {
            // Still on the wire: the reader frees it when it completes.
            s.abandoned = true;
            s.waker = None;
        }
    }
}

async fn writer<W: AsyncWrite + Unpin>(sh: Arc<Shared>, mut wr: W) {
    loop {
        sh.out_ready.notified().await;
        if sh.closed.load(Ordering::Acquire) {
            let _ = wr.shutdown().await;
            return;
        }
        loop {
            let chunk = {
                let mut out = sh.out();
                if out.is_empty() {
                    break;
                }
                out.split()
            };
            if wr.write_all(&chunk).await.is_err() {
                sh.close(QpairError::Disconnected);
                return;
            }
            // Counted once written, so a waiter can tell its bytes left.
            sh.bytes_out
                .fetch_add(chunk.len() as u64, Ordering::Release);
            sh.written.notify_waiters();
        }
    }
}

/// The reader's receive buffer. Decoded data PDUs are zero-copy slices of
/// it that completions hand out, so the allocation can only be reused once
/// they are dropped. Rather than allocating (and page-faulting) a fresh
/// buffer whenever that has not happened yet, a few earlier buffers are kept
/// and reclaimed as soon as their data is gone.
struct RecvBuf {
    cur: BytesMut,
    spares: Vec<BytesMut>,
}

impl RecvBuf {
    fn new(cur: BytesMut) -> Self {
        RecvBuf {
            cur,
            spares: Vec::new(),
        }
    }

    /// Makes sure there is room for a large read.
    fn make_room(&mut self) {
        if self.cur.capacity() - self.cur.len() >= READ_MIN_ROOM {
            return;
        }
        // Everything handed out from this buffer is gone: reuse it in place.
        if self.cur.try_reclaim(READ_CHUNK) {
            return;
        }
        let want = self.cur.len() + READ_CHUNK;
        let reusable = self.spares.iter_mut().position(|b| b.try_reclaim(want));
        let next = match reusable {
            Some(i) => self.spares.swap_remove(i),
            None if self.spares.len() < MAX_SPARE_RBUFS => BytesMut::with_capacity(want),
            None => {
                // Too much still held elsewhere: let it go when released.
                self.cur.reserve(READ_CHUNK);
                return;
            }
        };
        // Carry the partial PDU over; keep the old buffer for later reuse.
        let mut old = std::mem::replace(&mut self.cur, next);
        self.cur.extend_from_slice(&old);
        old.clear();
        self.spares.push(old);
    }
}

/// Something to do after the slots are unlocked: answer an R2T.
struct R2tReply {
    r2t: crate::nvme::pdu::R2t,
    data: Bytes,
}

async fn reader<R: AsyncRead + Unpin>(
    sh: Arc<Shared>,
    mut rd: R,
    mut dec: Decoder,
    mut rb: RecvBuf,
) {
    // Registered once for the life of the connection.
    let closed = sh.closed_notify.notified();
    tokio::pin!(closed);
    closed.as_mut().enable();
    let mut pdus: Vec<Pdu> = Vec::new();
    let mut wakers: Vec<Waker> = Vec::new();
    let mut r2ts: Vec<R2tReply> = Vec::new();
    loop {
        let mut fatal = None;
        loop {
            match dec.decode(&mut rb.cur) {
                Ok(Some(pdu)) => pdus.push(pdu),
                Ok(None) => break,
                Err(e) => {
                    fatal = Some(e);
                    break;
                }
            }
        }
        if !pdus.is_empty() {
            let r = on_pdus(&sh, &mut pdus, &mut wakers, &mut r2ts);
            for w in wakers.drain(..) {
                w.wake();
            }
            if let Err(e) = r.and_then(|()| send_h2c(&sh, &mut r2ts)) {
                pdus.clear();
                sh.close(e);
                return;
            }
        }
        if let Some(e) = fatal {
            // Tell the controller why, then drop the connection once the
            // writer has written the C2HTermReq (or after TERM_FLUSH, if
            // the controller does not read).
            let through = {
                let mut out = sh.out();
                encode(&crate::nvme::pdu::term_req_for(&e), &sh.framing, &mut out);
                sh.bytes_out.load(Ordering::Acquire) + out.len() as u64
            };
            sh.out_ready.notify_one();
            let _ = tokio::time::timeout(TERM_FLUSH, async {
                loop {
                    let w = sh.written.notified();
                    tokio::pin!(w);
                    w.as_mut().enable();
                    if sh.bytes_out.load(Ordering::Acquire) >= through
                        || sh.closed.load(Ordering::Acquire)
                    {
                        return;
                    }
                    w.await;
                }
            })
            .await;
            sh.close(QpairError::Protocol(e.reason.to_string()));
            return;
        }
        rb.make_room();
        tokio::select! {
            r = rd.read_buf(&mut rb.cur) => match r {
                Ok(0) | Err(_) => {
                    sh.close(QpairError::Disconnected);
                    return;
                }
                Ok(n) => {
                    sh.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                }
            },
            _ = closed.as_mut() => return,
        }
        if sh.closed.load(Ordering::Acquire) {
            return;
        }
    }
}

/// Handles a batch of PDUs under one lock of the slots. Wakers to call and
/// R2Ts to answer are collected for after the lock. On error the PDUs left
/// are dropped and the caller closes the queue pair.
fn on_pdus(
    sh: &Shared,
    pdus: &mut Vec<Pdu>,
    wakers: &mut Vec<Waker>,
    r2ts: &mut Vec<R2tReply>,
) -> Result<(), QpairError> {
    let r = {
        let mut slots = sh.slots();
        let mut r = Ok(());
        for pdu in pdus.drain(..) {
            r = on_pdu(&mut slots, pdu, wakers, r2ts);
            if r.is_err() {
                break;
            }
        }
        r
    };
    pdus.clear();
    r
}

fn on_pdu(
    slots: &mut CmdSlots,
    pdu: Pdu,
    wakers: &mut Vec<Waker>,
    r2ts: &mut Vec<R2tReply>,
) -> Result<(), QpairError> {
    match pdu {
        Pdu::CapsuleResp(cqe) => {
            let cid = cqe.cid;
            let Some(slot) = slots
                .entries
                .get_mut(cid as usize)
                .filter(|s| s.in_flight())
            else {
                return Err(QpairError::Protocol(format!("CQE for unknown CID {cid}")));
            };
            let data = std::mem::take(&mut slot.chunks).join();
            slots.finish(cid, Ok(Completion { cqe, data }), wakers);
            Ok(())
        }
        Pdu::C2HData(d) => on_c2h(slots, d, wakers),
        Pdu::R2T(r) => {
            let data = slots
                .entries
                .get(r.cccid as usize)
                .filter(|e| e.in_flight())
                .and_then(|e| e.write_data.clone());
            let Some(data) = data else {
                return Err(QpairError::Protocol(
                    "R2T for a command with no data".into(),
                ));
            };
            let (start, len) = (r.r2to as usize, r.r2tl as usize);
            if len == 0 || start.checked_add(len).is_none_or(|e| e > data.len()) {
                return Err(QpairError::Protocol(
                    "R2T outside the command's data".into(),
                ));
            }
            r2ts.push(R2tReply { r2t: r, data });
            Ok(())
        }
        Pdu::C2HTermReq(t) => Err(QpairError::Protocol(format!(
            "controller terminated the connection (FES {})",
            t.fes
        ))),
        _ => Err(QpairError::Protocol("unexpected PDU".into())),
    }
}

/// Answers R2Ts with H2CData PDUs of at most MAXH2CDATA each.
fn send_h2c(sh: &Shared, r2ts: &mut Vec<R2tReply>) -> Result<(), QpairError> {
    if r2ts.is_empty() {
        return Ok(());
    }
    {
        let mut out = sh.out();
        for R2tReply { r2t: r, data } in r2ts.drain(..) {
            let (start, len) = (r.r2to as usize, r.r2tl as usize);
            let mut off = start;
            while off < start + len {
                let n = (sh.maxh2cdata as usize).min(start + len - off);
                encode(
                    &Pdu::H2CData(DataPdu {
                        cccid: r.cccid,
                        ttag: r.ttag,
                        datao: off as u32,
                        last: off + n == start + len,
                        success: false,
                        data: data.slice(off..off + n),
                    }),
                    &sh.framing,
                    &mut out,
                );
                off += n;
            }
        }
    }
    sh.out_ready.notify_one();
    Ok(())
}

fn on_c2h(slots: &mut CmdSlots, d: DataPdu, wakers: &mut Vec<Waker>) -> Result<(), QpairError> {
    let cid = d.cccid;
    let Some(slot) = slots
        .entries
        .get_mut(cid as usize)
        .filter(|s| s.in_flight())
    else {
        return Err(QpairError::Protocol("C2HData for unknown CID".into()));
    };
    // Offsets must arrive in order and stay within the transfer.
    if d.datao as usize != slot.received || slot.received + d.data.len() > slot.read_len {
        return Err(QpairError::Protocol("C2HData out of range".into()));
    }
    if d.success && !d.last {
        return Err(QpairError::Protocol("SUCCESS without LAST_PDU".into()));
    }
    slot.received += d.data.len();
    slot.chunks.push(d.data);
    if d.success {
        // SUCCESS: the command completed, no CapsuleResp follows.
        if slot.received != slot.read_len {
            return Err(QpairError::Protocol("SUCCESS with a short transfer".into()));
        }
        let data = std::mem::take(&mut slot.chunks).join();
        let cqe = Cqe::new(cid, Status::SUCCESS);
        slots.finish(cid, Ok(Completion { cqe, data }), wakers);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use serde_json::json;

    use super::*;
    use crate::host::{AttachParams, Initiator, MultipathMode};
    use crate::nvme::fabrics::RwCommand;
    use crate::nvme::opcodes as op;
    use crate::rpc::{self, Router};
    use crate::target::Target;

    const NQN: &str = "nqn.2016-06.io.spdk:qpair-test";

    /// An embedded target with one 4 MiB malloc namespace, and the I/O
    /// queue pair of a controller attached to it.
    async fn io_qpair() -> (Arc<Target>, Arc<Initiator>, Qpair) {
        let target = Target::new();
        let mut tgt = Router::new("nvmf_tgt");
        rpc::nvmf::register(&mut tgt, &target);
        rpc::bdev::register(&mut tgt, &target);
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let la = json!({"trtype": "tcp", "traddr": "127.0.0.1", "trsvcid": port.to_string()});
        for (m, p) in [
            ("nvmf_create_transport", json!({"trtype": "tcp"})),
            (
                "nvmf_create_subsystem",
                json!({"nqn": NQN, "allow_any_host": true}),
            ),
            (
                "bdev_malloc_create",
                json!({"num_blocks": 1024, "block_size": 4096, "name": "M0"}),
            ),
            (
                "nvmf_subsystem_add_ns",
                json!({"nqn": NQN, "namespace": {"bdev_name": "M0"}}),
            ),
            (
                "nvmf_subsystem_add_listener",
                json!({"nqn": NQN, "listen_address": la}),
            ),
        ] {
            tgt.call(m, Some(p)).await.unwrap();
        }
        let host = Initiator::new();
        host.attach(AttachParams {
            name: "T".into(),
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            subnqn: NQN.into(),
            hostnqn: None,
            hdgst: false,
            ddgst: false,
            multipath: MultipathMode::Disable,
            ctrlr_loss_timeout_sec: None,
            reconnect_delay_sec: None,
            fast_io_fail_timeout_sec: None,
        })
        .await
        .unwrap();
        let q = host.with_ctrlrs(|c| c["T"].ctrlrs[0].io_qpair()).unwrap();
        (target, host, q)
    }

    fn rw(opc: u8, lba: u64) -> Sqe {
        RwCommand { slba: lba, nlb: 0 }.to_sqe(opc, 0, 1, SglDescriptor::transport(0))
    }

    /// More submitters than credits, some of them given up while waiting
    /// for a credit or while on the wire: every other command completes,
    /// and every slot and credit comes back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn credits_and_cancellation() {
        let (_t, _h, q) = io_qpair().await;
        let mut tasks = Vec::new();
        for i in 0..600u64 {
            let q = q.clone();
            tasks.push(tokio::spawn(async move {
                let lba = i % 1024;
                let data = Bytes::from(vec![(i % 251) as u8; 4096]);
                let w = q.submit(rw(op::nvm::WRITE, lba), Some(data.clone()), 0);
                if i % 7 == 0 {
                    // Dropped at once, or a little later.
                    let _ = tokio::time::timeout(Duration::from_micros(i % 50), w).await;
                    return;
                }
                let c = w.await.unwrap();
                assert!(c.cqe.status.is_success());
                let c = q.submit(rw(op::nvm::READ, lba), None, 4096).await.unwrap();
                assert!(c.cqe.status.is_success());
                assert_eq!(c.data.len(), 4096);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // Abandoned commands are freed when their completions arrive.
        for _ in 0..100 {
            if q.outstanding() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(q.outstanding(), 0);
        let s = q.shared.slots();
        assert_eq!(s.credits, s.entries.len() - 1);
        assert!(s.waiters.is_empty());
    }

    /// Writes beyond the in-capsule limit go through R2T; a read of them
    /// gets them back; closing fails what is waiting.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn r2t_writes_and_close() {
        let (_t, _h, q) = io_qpair().await;
        let data: Bytes = (0..32 * 4096u32)
            .map(|i| (i % 253) as u8)
            .collect::<Vec<_>>()
            .into();
        let mut sqe = RwCommand { slba: 8, nlb: 31 }.to_sqe(
            op::nvm::WRITE,
            0,
            1,
            SglDescriptor::transport(0),
        );
        let c = q.submit(sqe, Some(data.clone()), 0).await.unwrap();
        assert!(c.cqe.status.is_success());
        sqe =
            RwCommand { slba: 8, nlb: 31 }.to_sqe(op::nvm::READ, 0, 1, SglDescriptor::transport(0));
        let c = q.submit(sqe, None, data.len()).await.unwrap();
        assert_eq!(c.data, data);
        q.close();
        let r = q.submit(rw(op::nvm::READ, 0), None, 4096).await;
        assert_eq!(r.unwrap_err(), QpairError::Disconnected);
    }

    /// A controller that breaks the protocol gets the host's H2CTermReq
    /// before the connection closes: the host waits for its writer to put
    /// the PDU on the wire instead of hoping a pause was long enough.
    #[tokio::test]
    async fn a_malformed_pdu_is_answered_with_a_term_req_before_the_close() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let ctrl = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut dec = Decoder::new(Role::Controller, 1 << 20);
            let mut buf = BytesMut::new();
            let mut next = async |s: &mut tokio::net::TcpStream, buf: &mut BytesMut| loop {
                if let Some(p) = dec.decode(buf).expect("a valid host PDU") {
                    return Some(p);
                }
                if s.read_buf(buf).await.unwrap_or(0) == 0 {
                    return None;
                }
            };
            let mut out = BytesMut::new();
            assert!(matches!(next(&mut s, &mut buf).await, Some(Pdu::IcReq(_))));
            encode(
                &Pdu::IcResp(crate::nvme::pdu::IcResp {
                    pfv: 0,
                    cpda: 0,
                    hdgst: false,
                    ddgst: false,
                    maxh2cdata: 131072,
                }),
                &Framing::default(),
                &mut out,
            );
            s.write_all(&out.split()).await.unwrap();
            let Some(Pdu::CapsuleCmd(c)) = next(&mut s, &mut buf).await else {
                panic!("expected the Connect capsule")
            };
            let cqe = Cqe {
                cid: c.sqe.cid(),
                dw0: 1,
                ..Cqe::default()
            };
            encode(&Pdu::CapsuleResp(cqe), &Framing::default(), &mut out);
            // Then a PDU of a type no controller sends.
            out.extend_from_slice(&[0x7F, 0, 8, 0, 8, 0, 0, 0]);
            s.write_all(&out).await.unwrap();
            let mut seen = Vec::new();
            while let Some(p) = next(&mut s, &mut buf).await {
                seen.push(p);
            }
            seen
        });
        let cfg = QpairConfig {
            addr,
            subnqn: "nqn.2016-06.io.spdk:t".into(),
            hostnqn: "nqn.2016-06.io.spdk:h".into(),
            hostid: [1; 16],
            qid: 0,
            sqsize: 31,
            kato_ms: 0,
            cntlid: 0xFFFF,
            hdgst: false,
            ddgst: false,
            timeout: Duration::from_secs(5),
            dialer: None,
        };
        let q = Qpair::connect(&cfg).await.expect("connected");
        tokio::time::timeout(Duration::from_secs(5), q.closed())
            .await
            .expect("the host closes the queue pair");
        let seen = tokio::time::timeout(Duration::from_secs(5), ctrl)
            .await
            .expect("the connection ends")
            .expect("controller task");
        assert!(
            matches!(seen.last(), Some(Pdu::H2CTermReq(_))),
            "the last PDU before the close is an H2CTermReq: {seen:?}"
        );
    }
}

//! One NVMe/TCP queue pair on the host side: a TCP connection, ICReq/ICResp,
//! the fabrics Connect, then commands in flight keyed by CID.
//!
//! Submitters encode their CapsuleCmd straight into a shared output buffer
//! and wake the writer task, which sends whatever has piled up in one
//! write: under load many commands go out per syscall. The reader task reads
//! large chunks, decodes every complete PDU, answers R2Ts with H2CData, and
//! completes commands through their oneshot channels.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify, Semaphore};

use crate::nvme::fabrics::{Connect, ConnectData};
use crate::nvme::pdu::{encode, CapsuleCmd, DataPdu, Decoder, Framing, IcReq, Pdu, Role};
use crate::nvme::sqe::{Cqe, SglDescriptor, Sqe};
use crate::nvme::status::Status;

/// Largest data we accept in one PDU from a target (MDTS-bounded anyway).
const MAX_PDU_DATA: u32 = 4 << 20;
const READ_CHUNK: usize = 256 * 1024;

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
}

struct Slot {
    tx: oneshot::Sender<Result<Completion, QpairError>>,
    /// Expected controller-to-host length, and what has arrived.
    read_len: usize,
    chunks: Vec<Bytes>,
    received: usize,
    /// Data to send when the controller asks with an R2T.
    write_data: Option<Bytes>,
}

struct Slots {
    entries: Vec<Option<Slot>>,
    free: Vec<u16>,
}

struct Shared {
    framing: Framing,
    maxh2cdata: u32,
    /// In-capsule data limit for writes on this queue (IOCCSZ×16 − 64);
    /// larger writes use R2T.
    icd_limit: AtomicU32,
    out: Mutex<BytesMut>,
    out_ready: Notify,
    slots: Mutex<Slots>,
    credits: Semaphore,
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
    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn out(&self) -> MutexGuard<'_, BytesMut> {
        self.out.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take_slot(&self, cid: u16) -> Option<Slot> {
        let mut s = self.slots();
        let slot = s.entries.get_mut(cid as usize)?.take()?;
        s.free.push(cid);
        drop(s);
        self.credits.add_permits(1);
        Some(slot)
    }

    /// Fails every command in flight and stops both tasks.
    fn close(&self, why: QpairError) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let drained: Vec<Slot> = {
            let mut s = self.slots();
            s.entries.iter_mut().filter_map(|e| e.take()).collect()
        };
        for slot in drained {
            let _ = slot.tx.send(Err(why.clone()));
        }
        // Wake anyone waiting for a credit; they will see `closed`.
        self.credits.close();
        self.out_ready.notify_one();
        self.closed_notify.notify_waiters();
    }
}

impl Qpair {
    /// Connects the TCP socket, exchanges ICReq/ICResp and sends Connect.
    pub async fn connect(cfg: &QpairConfig) -> Result<Qpair, QpairError> {
        let sock = tokio::time::timeout(cfg.timeout, TcpStream::connect(cfg.addr))
            .await
            .map_err(|_| QpairError::Timeout)?
            .map_err(|e| QpairError::Connect(format!("{}: {e}", cfg.addr)))?;
        let _ = sock.set_nodelay(true);
        let local = sock
            .local_addr()
            .map_err(|e| QpairError::Connect(e.to_string()))?;
        let (mut rd, mut wr) = sock.into_split();

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
            slots: Mutex::new(Slots {
                entries: (0..depth).map(|_| None).collect(),
                free: (0..depth as u16).rev().collect(),
            }),
            // SQ flow control: at most SQSIZE commands outstanding (one
            // entry stays empty so head != tail).
            credits: Semaphore::new(cfg.sqsize.max(1) as usize),
            closed: AtomicBool::new(false),
            closed_notify: Notify::new(),
            bytes_out: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
        });
        tokio::spawn(writer(shared.clone(), wr));
        tokio::spawn(reader(shared.clone(), rd, decoder, rbuf));
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
        let permit = sh
            .credits
            .acquire()
            .await
            .map_err(|_| QpairError::Disconnected)?;
        // Returned by take_slot when the command completes.
        permit.forget();
        let (tx, rx) = oneshot::channel();
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
        {
            let mut slots = sh.slots();
            if sh.closed.load(Ordering::Acquire) {
                return Err(QpairError::Disconnected);
            }
            let Some(cid) = slots.free.pop() else {
                return Err(QpairError::Protocol("no free command slot".into()));
            };
            sqe.set_cid(cid);
            slots.entries[cid as usize] = Some(Slot {
                tx,
                read_len,
                chunks: Vec::new(),
                received: 0,
                write_data: r2t_data,
            });
        }
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
        rx.await.map_err(|_| QpairError::Disconnected)?
    }
}

async fn writer(sh: Arc<Shared>, mut wr: OwnedWriteHalf) {
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
            sh.bytes_out
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            if wr.write_all(&chunk).await.is_err() {
                sh.close(QpairError::Disconnected);
                return;
            }
        }
    }
}

async fn reader(sh: Arc<Shared>, mut rd: OwnedReadHalf, mut dec: Decoder, mut rbuf: BytesMut) {
    loop {
        loop {
            match dec.decode(&mut rbuf) {
                Ok(Some(pdu)) => {
                    if let Err(e) = on_pdu(&sh, pdu) {
                        sh.close(e);
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // Tell the controller why, then drop the connection.
                    encode(
                        &crate::nvme::pdu::term_req_for(&e),
                        &sh.framing,
                        &mut sh.out(),
                    );
                    sh.out_ready.notify_one();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    sh.close(QpairError::Protocol(e.reason.to_string()));
                    return;
                }
            }
        }
        if rbuf.capacity() - rbuf.len() < 4096 {
            rbuf.reserve(READ_CHUNK);
        }
        tokio::select! {
            r = rd.read_buf(&mut rbuf) => match r {
                Ok(0) | Err(_) => {
                    sh.close(QpairError::Disconnected);
                    return;
                }
                Ok(n) => {
                    sh.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                }
            },
            _ = sh.closed_notify.notified() => return,
        }
        if sh.closed.load(Ordering::Acquire) {
            return;
        }
    }
}

fn on_pdu(sh: &Shared, pdu: Pdu) -> Result<(), QpairError> {
    match pdu {
        Pdu::CapsuleResp(cqe) => {
            let Some(slot) = sh.take_slot(cqe.cid) else {
                return Err(QpairError::Protocol(format!(
                    "CQE for unknown CID {}",
                    cqe.cid
                )));
            };
            let data = join(slot.chunks);
            let _ = slot.tx.send(Ok(Completion { cqe, data }));
            Ok(())
        }
        Pdu::C2HData(d) => on_c2h(sh, d),
        Pdu::R2T(r) => {
            let data = {
                let s = sh.slots();
                s.entries
                    .get(r.cccid as usize)
                    .and_then(|e| e.as_ref())
                    .and_then(|e| e.write_data.clone())
            };
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
            let mut out = sh.out();
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
            drop(out);
            sh.out_ready.notify_one();
            Ok(())
        }
        Pdu::C2HTermReq(t) => Err(QpairError::Protocol(format!(
            "controller terminated the connection (FES {})",
            t.fes
        ))),
        _ => Err(QpairError::Protocol("unexpected PDU".into())),
    }
}

fn on_c2h(sh: &Shared, d: DataPdu) -> Result<(), QpairError> {
    let done = {
        let mut s = sh.slots();
        let Some(slot) = s.entries.get_mut(d.cccid as usize).and_then(|e| e.as_mut()) else {
            return Err(QpairError::Protocol("C2HData for unknown CID".into()));
        };
        // Offsets must arrive in order and stay within the transfer.
        if d.datao as usize != slot.received || slot.received + d.data.len() > slot.read_len {
            return Err(QpairError::Protocol("C2HData out of range".into()));
        }
        slot.received += d.data.len();
        slot.chunks.push(d.data);
        if d.success && !d.last {
            return Err(QpairError::Protocol("SUCCESS without LAST_PDU".into()));
        }
        d.success
    };
    if done {
        // SUCCESS: the command completed, no CapsuleResp follows.
        if let Some(slot) = sh.take_slot(d.cccid) {
            if slot.received != slot.read_len {
                return Err(QpairError::Protocol("SUCCESS with a short transfer".into()));
            }
            let cqe = Cqe::new(d.cccid, Status::SUCCESS);
            let _ = slot.tx.send(Ok(Completion {
                cqe,
                data: join(slot.chunks),
            }));
        }
    }
    Ok(())
}

fn join(mut chunks: Vec<Bytes>) -> Bytes {
    match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.pop().unwrap_or_default(),
        _ => {
            let mut b = BytesMut::with_capacity(chunks.iter().map(|c| c.len()).sum());
            for c in chunks {
                b.extend_from_slice(&c);
            }
            b.freeze()
        }
    }
}

//! One NVMe controller of the host, i.e. one path: admin and I/O queue pairs
//! to one listener, their bring-up, keep-alive, Asynchronous Event Requests,
//! the ANA log page, and reconnection with SPDK's timers
//! (ctrlr_loss_timeout_sec, reconnect_delay_sec, fast_io_fail_timeout_sec).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

use super::dial::Dialer;
use super::events::{EventLog, HostEvent};
use super::qpair::{Qpair, QpairConfig, QpairError};
use crate::nvme::fabrics::{
    GetLogPage, Identify, PropertyGet, PropertySet, REG_CAP, REG_CC, REG_CSTS, REG_VS,
};
use crate::nvme::identify::{
    parse_ns_id_descriptors, parse_ns_list, IdentifyController, IdentifyNamespace, NsIdDescriptor,
};
use crate::nvme::log::{AnaLogPage, AnaState};
use crate::nvme::opcodes as op;
use crate::nvme::sqe::Sqe;
use crate::trid::TransportId;

/// How many AERs we keep posted (SPDK posts min(AERL+1, 8); SPDK's target
/// advertises AERL 3).
const MAX_AERS: u8 = 4;

#[derive(Debug, Clone)]
pub struct CtrlrOpts {
    pub addr: SocketAddr,
    pub subnqn: String,
    pub hostnqn: String,
    pub hostid: [u8; 16],
    pub hdgst: bool,
    pub ddgst: bool,
    pub kato_ms: u32,
    /// -1: reconnect forever; 0: never delete; N: delete after N s lost.
    pub ctrlr_loss_timeout_sec: i32,
    pub reconnect_delay_sec: u32,
    pub fast_io_fail_timeout_sec: u32,
    /// I/O queue entries, 0's based.
    pub io_sqsize: u16,
    pub timeout: Duration,
    /// Reach the controller through this instead of TCP.
    pub dialer: Option<Dialer>,
}

impl CtrlrOpts {
    pub fn trid(&self) -> TransportId {
        TransportId::from_addr(self.addr)
    }

    /// The queue pair `qid` of this controller (`cntlid` 0xFFFF: the admin
    /// queue's Connect, which asks the target for a dynamic controller).
    fn qpair_config(&self, qid: u16, sqsize: u16, cntlid: u16) -> QpairConfig {
        QpairConfig {
            addr: self.addr,
            subnqn: self.subnqn.clone(),
            hostnqn: self.hostnqn.clone(),
            hostid: self.hostid,
            qid,
            sqsize,
            kato_ms: self.kato_ms,
            cntlid,
            hdgst: self.hdgst,
            ddgst: self.ddgst,
            timeout: self.timeout,
            dialer: self.dialer.clone(),
        }
    }
}

/// SPDK's controller states, as `bdev_nvme_get_controllers` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CtrlrState {
    Enabled = 0,
    Resetting = 1,
    ReconnectIsDelayed = 2,
    Failed = 3,
    Deleting = 4,
}

impl CtrlrState {
    pub fn as_str(self) -> &'static str {
        match self {
            CtrlrState::Enabled => "enabled",
            CtrlrState::Resetting => "resetting",
            CtrlrState::ReconnectIsDelayed => "reconnect_is_delayed",
            CtrlrState::Failed => "failed",
            CtrlrState::Deleting => "deleting",
        }
    }

    fn from_u8(v: u8) -> CtrlrState {
        match v {
            0 => CtrlrState::Enabled,
            1 => CtrlrState::Resetting,
            2 => CtrlrState::ReconnectIsDelayed,
            3 => CtrlrState::Failed,
            _ => CtrlrState::Deleting,
        }
    }
}

/// A namespace as this controller reports it.
#[derive(Debug, Clone)]
pub struct NsInfo {
    pub nsid: u32,
    pub block_size: u32,
    pub num_blocks: u64,
    pub nguid: [u8; 16],
    pub eui64: [u8; 8],
    pub uuid: Option<[u8; 16]>,
    pub anagrpid: u32,
    pub ana_state: AnaState,
    pub shared: bool,
    /// Namespace Optimal I/O Boundary in blocks (0: none reported).
    pub noiob: u16,
}

/// What one successful bring-up produced.
struct Session {
    admin: Qpair,
    io: Qpair,
    id: IdentifyController,
    ns: BTreeMap<u32, NsInfo>,
    /// Largest data transfer of one command in bytes (MDTS in units of
    /// CAP.MPSMIN); 0 when the controller sets no limit.
    max_xfer: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum CtrlrError {
    #[error("{0}")]
    Qpair(#[from] QpairError),
    #[error("{0}")]
    Bringup(String),
}

/// When the controller last answered a Keep Alive (or the connect, for a
/// session that has sent none yet) and since when one is waiting for its
/// answer: what an operator needs to see a silent path coming.
#[derive(Clone, Copy, Debug, Default)]
struct KeepAliveClock {
    last_answer: Option<Instant>,
    pending_since: Option<Instant>,
}

/// [`NvmeCtrlr::keep_alive`]: the keep-alive clock, as ages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepAliveAge {
    /// KATO; 0 when keep-alive is off.
    pub timeout: Duration,
    /// Since the last answer (`None` before the first session).
    pub since_answer: Option<Duration>,
    /// How long the Keep Alive in flight has waited (`None`: none is).
    pub pending: Option<Duration>,
}

/// A namespace reached through a controller, as the controller sees it:
/// what it tells each of its paths when it connects, reads the ANA log or
/// changes state. The multipath layer's `NvmePath` is one; the controller
/// keeps them weakly and knows nothing more of them.
pub trait NsPath: Send + Sync {
    fn nsid(&self) -> u32;
    fn set_ana(&self, s: AnaState);
    fn set_noiob(&self, blocks: u16);
    /// Any state change of the controller.
    fn changed(&self);
}

pub struct NvmeCtrlr {
    pub opts: CtrlrOpts,
    state: AtomicU8,
    cntlid: std::sync::atomic::AtomicU16,
    /// See `Session::max_xfer`; read once per I/O, so kept out of `ident`.
    max_xfer: AtomicU32,
    /// ONCS of Identify Controller: which optional NVM commands exist.
    oncs: AtomicU16,
    admin: RwLock<Option<Qpair>>,
    io: RwLock<Option<Qpair>>,
    ident: RwLock<Option<IdentifyController>>,
    namespaces: RwLock<BTreeMap<u32, NsInfo>>,
    /// Paths (one per namespace) that this controller feeds.
    paths: Mutex<Vec<Weak<dyn NsPath>>>,
    lost_since: Mutex<Option<Instant>>,
    keep_alive: Mutex<KeepAliveClock>,
    ana_refresh: Notify,
    reset_req: Notify,
    /// Reconnect attempts made so far, whether the last one worked, and a
    /// notice after each: what a reset waits for.
    attempts: AtomicU64,
    attempt_ok: AtomicBool,
    attempted: Notify,
    shutdown: AtomicBool,
    shutdown_notify: Notify,
    pub events: EventLog,
}

impl NvmeCtrlr {
    /// Connects and brings the controller up once (the attach RPC fails if
    /// this fails), then keeps it alive and reconnects in the background.
    pub async fn attach(opts: CtrlrOpts, events: EventLog) -> Result<Arc<NvmeCtrlr>, CtrlrError> {
        let s = bringup(&opts).await?;
        let c = Arc::new(NvmeCtrlr {
            opts,
            state: AtomicU8::new(CtrlrState::Enabled as u8),
            cntlid: std::sync::atomic::AtomicU16::new(s.admin.cntlid),
            max_xfer: AtomicU32::new(0),
            oncs: AtomicU16::new(0),
            admin: RwLock::new(None),
            io: RwLock::new(None),
            ident: RwLock::new(None),
            namespaces: RwLock::new(BTreeMap::new()),
            paths: Mutex::new(Vec::new()),
            lost_since: Mutex::new(None),
            keep_alive: Mutex::new(KeepAliveClock::default()),
            ana_refresh: Notify::new(),
            reset_req: Notify::new(),
            attempts: AtomicU64::new(0),
            attempt_ok: AtomicBool::new(false),
            attempted: Notify::new(),
            shutdown: AtomicBool::new(false),
            shutdown_notify: Notify::new(),
            events,
        });
        c.install(s);
        tokio::spawn(c.clone().manage());
        Ok(c)
    }

    pub fn state(&self) -> CtrlrState {
        CtrlrState::from_u8(self.state.load(Ordering::Acquire))
    }

    fn set_state(&self, s: CtrlrState) {
        self.state.store(s as u8, Ordering::Release);
    }

    pub fn cntlid(&self) -> u16 {
        self.cntlid.load(Ordering::Relaxed)
    }

    pub fn trid(&self) -> TransportId {
        self.opts.trid()
    }

    /// A short name for events: `127.0.0.1:4420 (cntlid 1)`.
    pub fn label(&self) -> String {
        format!("{} (cntlid {})", self.trid(), self.cntlid())
    }

    /// The most bytes one command may move (MDTS); 0 for no limit.
    pub fn max_xfer_bytes(&self) -> u32 {
        self.max_xfer.load(Ordering::Relaxed)
    }

    /// Identify Controller's ONCS (bit 0 Compare, 2 Dataset Management,
    /// 3 Write Zeroes, 5 Reservations).
    pub fn oncs(&self) -> u16 {
        self.oncs.load(Ordering::Relaxed)
    }

    pub fn identify(&self) -> Option<IdentifyController> {
        self.ident.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn namespaces(&self) -> BTreeMap<u32, NsInfo> {
        self.namespaces
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The I/O queue pair, while connected.
    pub fn io_qpair(&self) -> Option<Qpair> {
        self.io
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|q| !q.is_closed())
            .cloned()
    }

    pub fn admin_qpair(&self) -> Option<Qpair> {
        self.admin.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn connected(&self) -> bool {
        self.state() == CtrlrState::Enabled && self.io_qpair().is_some()
    }

    /// Whether I/O should stop waiting for this controller: SPDK's "failed"
    /// (deleted, fast_io_fail expired, or a failed reset without a delay).
    pub fn is_failed(&self) -> bool {
        match self.state() {
            CtrlrState::Enabled => false,
            CtrlrState::Failed | CtrlrState::Deleting => true,
            CtrlrState::Resetting | CtrlrState::ReconnectIsDelayed => {
                let f = self.opts.fast_io_fail_timeout_sec;
                if self.opts.reconnect_delay_sec == 0 {
                    return self.state() != CtrlrState::Resetting;
                }
                f != 0
                    && self
                        .lost_since
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .is_some_and(|t| t.elapsed() >= Duration::from_secs(f as u64))
            }
        }
    }

    pub fn add_path<P: NsPath + 'static>(&self, p: &Arc<P>) {
        let p: Arc<dyn NsPath> = p.clone();
        let mut v = self.paths.lock().unwrap_or_else(|p| p.into_inner());
        v.retain(|w| w.strong_count() > 0);
        v.push(Arc::downgrade(&p));
    }

    fn paths(&self) -> Vec<Arc<dyn NsPath>> {
        self.paths
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|w| w.upgrade())
            .collect()
    }

    /// An I/O saw an ANA error: re-read the log soon.
    pub fn request_ana_refresh(&self) {
        self.ana_refresh.notify_one();
    }

    /// `bdev_nvme_reset_controller`: drop the connection and reconnect.
    pub fn reset(&self) {
        self.reset_req.notify_one();
    }

    /// A reset as an I/O sees it (SPDK's reset of a bdev's controller):
    /// the connection is dropped and brought up again, and the answer is
    /// whether that first reconnect worked. A controller already
    /// reconnecting is not reset again; its next attempt is the answer.
    /// False as well when no attempt ends within `limit`.
    pub async fn reset_and_wait(&self, limit: Duration) -> bool {
        if self.shutdown.load(Ordering::Acquire) {
            return false;
        }
        let seq = self.attempts.load(Ordering::Acquire);
        if self.state() == CtrlrState::Enabled {
            self.reset();
        }
        let wait = async {
            loop {
                let n = self.attempted.notified();
                tokio::pin!(n);
                n.as_mut().enable();
                if self.attempts.load(Ordering::Acquire) > seq {
                    return self.attempt_ok.load(Ordering::Acquire);
                }
                if self.shutdown.load(Ordering::Acquire) {
                    return false;
                }
                n.await;
            }
        };
        tokio::time::timeout(limit, wait).await.unwrap_or(false)
    }

    fn attempt_done(&self, ok: bool) {
        self.attempt_ok.store(ok, Ordering::Release);
        self.attempts.fetch_add(1, Ordering::AcqRel);
        self.attempted.notify_waiters();
    }

    /// Stops the controller for good: a normal shutdown (CC.SHN), then the
    /// connections close.
    pub async fn detach(&self) {
        self.set_state(CtrlrState::Deleting);
        self.shutdown.store(true, Ordering::Release);
        self.shutdown_notify.notify_waiters();
        if let Some(a) = self.admin_qpair() {
            let cc = read_prop(&a, REG_CC, self.opts.timeout)
                .await
                .unwrap_or(0x0046_0001);
            let cc = (cc as u32 & !0xC000) | 0x4000;
            let _ = write_prop(&a, REG_CC, cc, self.opts.timeout).await;
        }
        self.close_qpairs();
        self.notify_paths();
        self.attempted.notify_waiters();
    }

    fn close_qpairs(&self) {
        if let Some(q) = self.io.write().unwrap_or_else(|p| p.into_inner()).take() {
            q.close();
        }
        if let Some(q) = self.admin.write().unwrap_or_else(|p| p.into_inner()).take() {
            q.close();
        }
    }

    fn install(&self, s: Session) {
        *self.ka_clock() = KeepAliveClock {
            last_answer: Some(Instant::now()),
            pending_since: None,
        };
        self.cntlid.store(s.admin.cntlid, Ordering::Relaxed);
        self.max_xfer.store(s.max_xfer, Ordering::Relaxed);
        self.oncs.store(s.id.oncs, Ordering::Relaxed);
        *self.ident.write().unwrap_or_else(|p| p.into_inner()) = Some(s.id);
        *self.namespaces.write().unwrap_or_else(|p| p.into_inner()) = s.ns.clone();
        *self.admin.write().unwrap_or_else(|p| p.into_inner()) = Some(s.admin);
        *self.io.write().unwrap_or_else(|p| p.into_inner()) = Some(s.io);
        for p in self.paths() {
            if let Some(ns) = s.ns.get(&p.nsid()) {
                p.set_ana(ns.ana_state);
                p.set_noiob(ns.noiob);
            }
        }
    }

    fn ka_clock(&self) -> std::sync::MutexGuard<'_, KeepAliveClock> {
        self.keep_alive.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The keep-alive clock now.
    pub fn keep_alive(&self) -> KeepAliveAge {
        let c = *self.ka_clock();
        let now = Instant::now();
        KeepAliveAge {
            timeout: Duration::from_millis(self.opts.kato_ms.into()),
            since_answer: c.last_answer.map(|t| now.saturating_duration_since(t)),
            pending: c.pending_since.map(|t| now.saturating_duration_since(t)),
        }
    }

    /// How long the controller has been disconnected (`None`: it is not).
    pub fn lost_for(&self) -> Option<Duration> {
        self.lost_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|t| t.elapsed())
    }

    /// Tells every bdev fed by this controller that its paths changed: their
    /// cached current path is cleared and waiting I/O looks again.
    fn notify_paths(&self) {
        for p in self.paths() {
            p.changed();
        }
    }

    // ---- the background task -------------------------------------------------

    async fn manage(self: Arc<Self>) {
        loop {
            let why = self.run_session().await;
            if self.shutdown.load(Ordering::Acquire) {
                return;
            }
            self.set_state(CtrlrState::Resetting);
            self.lost_since
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert_with(Instant::now);
            self.close_qpairs();
            self.events.push(HostEvent::PathLost {
                path: self.label(),
                reason: why,
            });
            self.notify_paths();
            if !self.reconnect().await {
                return;
            }
        }
    }

    /// Reconnects until it works, the controller is deleted
    /// (ctrlr_loss_timeout_sec) or detached. Returns whether it is back.
    async fn reconnect(&self) -> bool {
        let o = &self.opts;
        loop {
            if self.shutdown.load(Ordering::Acquire) {
                return false;
            }
            match bringup(o).await {
                Ok(s) => {
                    let lost = self
                        .lost_since
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .take();
                    self.install(s);
                    self.set_state(CtrlrState::Enabled);
                    self.events.push(HostEvent::Reconnected {
                        path: self.label(),
                        after_ms: lost.map(|t| t.elapsed().as_millis() as u64).unwrap_or(0),
                    });
                    self.notify_paths();
                    self.attempt_done(true);
                    return true;
                }
                Err(e) => {
                    self.attempt_done(false);
                    let elapsed = self
                        .lost_since
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .map(|t| t.elapsed())
                        .unwrap_or_default();
                    if o.ctrlr_loss_timeout_sec > 0
                        && elapsed >= Duration::from_secs(o.ctrlr_loss_timeout_sec as u64)
                    {
                        self.set_state(CtrlrState::Deleting);
                        self.events
                            .push(HostEvent::PathDeleted { path: self.label() });
                        self.notify_paths();
                        return false;
                    }
                    let delay = if o.reconnect_delay_sec == 0 {
                        // No delay configured: SPDK's admin poller retries
                        // at once; a second keeps us from spinning.
                        self.set_state(CtrlrState::Failed);
                        Duration::from_secs(1)
                    } else {
                        self.set_state(CtrlrState::ReconnectIsDelayed);
                        Duration::from_secs(o.reconnect_delay_sec as u64)
                    };
                    tracing::debug!("{}: reconnect failed: {e}", self.label());
                    self.notify_paths();
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.shutdown_notify.notified() => return false,
                    }
                }
            }
        }
    }

    /// Runs while connected; returns why the session ended.
    async fn run_session(&self) -> String {
        let (Some(admin), Some(io)) = (self.admin_qpair(), self.io_qpair()) else {
            return "not connected".into();
        };
        let (aen_tx, mut aen_rx) = mpsc::channel::<u32>(8);
        let aerl = self.identify().map(|i| i.aerl).unwrap_or(0);
        for _ in 0..(aerl.saturating_add(1)).min(MAX_AERS) {
            let (a, tx) = (admin.clone(), aen_tx.clone());
            tokio::spawn(async move {
                // Re-posted as soon as one completes, as SPDK does.
                while let Ok(c) = a
                    .submit(Sqe::new(op::admin::ASYNC_EVENT_REQUEST, 0), None, 0)
                    .await
                {
                    if !c.cqe.status.is_success() || tx.send(c.cqe.dw0).await.is_err() {
                        return;
                    }
                }
            });
        }
        let kato = self.opts.kato_ms;
        let period = Duration::from_millis((kato / 2).max(100) as u64);
        let mut ka = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                Some(dw0) = aen_rx.recv() => {
                    let (ty, info, lid) = (dw0 & 0x7, (dw0 >> 8) & 0xFF, (dw0 >> 16) & 0xFF);
                    self.events.push(HostEvent::Aen { path: self.label(), dw0 });
                    if ty == 2 && info == 0x03 && lid == 0x0C {
                        if let Err(e) = self.read_ana_log(&admin).await {
                            return format!("ANA log read failed: {e}");
                        }
                    }
                }
                _ = self.ana_refresh.notified() => {
                    if let Err(e) = self.read_ana_log(&admin).await {
                        return format!("ANA log read failed: {e}");
                    }
                }
                _ = ka.tick(), if kato != 0 => {
                    // The controller has KATO to answer, as a Linux host
                    // allows: past that the path is dead to us (a blackhole
                    // is only ever noticed here).
                    self.ka_clock().pending_since = Some(Instant::now());
                    let r = tokio::time::timeout(
                        Duration::from_millis(kato.into()),
                        admin.submit(Sqe::new(op::admin::KEEP_ALIVE, 0), None, 0),
                    ).await;
                    self.ka_clock().pending_since = None;
                    match r {
                        Ok(Ok(c)) if c.cqe.status.is_success() => {
                            self.ka_clock().last_answer = Some(Instant::now());
                        }
                        _ => return "keep alive failed".into(),
                    }
                }
                _ = admin.closed() => return "admin queue closed".into(),
                _ = io.closed() => return "I/O queue closed".into(),
                _ = self.reset_req.notified() => return "reset requested".into(),
                _ = self.shutdown_notify.notified() => return "detached".into(),
            }
        }
    }

    async fn read_ana_log(&self, admin: &Qpair) -> Result<(), CtrlrError> {
        let id = self.identify().unwrap_or_default();
        let nns = self
            .namespaces
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len() as u32;
        let page = get_ana_log(admin, &id, nns, self.opts.timeout).await?;
        let mut changed = Vec::new();
        {
            let mut nss = self.namespaces.write().unwrap_or_else(|p| p.into_inner());
            for ns in nss.values_mut() {
                if let Some(s) = page.state_for_nsid(ns.nsid) {
                    if s != ns.ana_state {
                        changed.push((ns.nsid, ns.ana_state, s));
                    }
                    ns.ana_state = s;
                }
            }
        }
        for p in self.paths() {
            if let Some(ns) = self
                .namespaces
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(&p.nsid())
            {
                p.set_ana(ns.ana_state);
            }
        }
        self.events.push(HostEvent::AnaLog {
            path: self.label(),
            changes: changed
                .iter()
                .map(|(nsid, from, to)| format!("nsid {nsid}: {from} → {to}"))
                .collect(),
        });
        self.notify_paths();
        Ok(())
    }
}

// ---- bring-up ----------------------------------------------------------------

async fn admin_cmd(q: &Qpair, sqe: Sqe, read_len: usize, t: Duration) -> Result<Bytes, CtrlrError> {
    let c = tokio::time::timeout(t, q.submit(sqe, None, read_len))
        .await
        .map_err(|_| QpairError::Timeout)??;
    if !c.cqe.status.is_success() {
        return Err(CtrlrError::Qpair(QpairError::Status(c.cqe.status)));
    }
    Ok(c.data)
}

async fn read_prop(q: &Qpair, ofst: u32, t: Duration) -> Result<u64, CtrlrError> {
    let size8 = ofst == REG_CAP;
    let sqe = PropertyGet { size8, ofst }.to_sqe(0);
    let c = tokio::time::timeout(t, q.submit(sqe, None, 0))
        .await
        .map_err(|_| QpairError::Timeout)??;
    if !c.cqe.status.is_success() {
        return Err(CtrlrError::Qpair(QpairError::Status(c.cqe.status)));
    }
    Ok(c.cqe.dw0 as u64 | (c.cqe.dw1 as u64) << 32)
}

async fn write_prop(q: &Qpair, ofst: u32, value: u32, t: Duration) -> Result<(), CtrlrError> {
    let sqe = PropertySet {
        size8: false,
        ofst,
        value: value as u64,
    }
    .to_sqe(0);
    let c = tokio::time::timeout(t, q.submit(sqe, None, 0))
        .await
        .map_err(|_| QpairError::Timeout)??;
    if !c.cqe.status.is_success() {
        return Err(CtrlrError::Qpair(QpairError::Status(c.cqe.status)));
    }
    Ok(())
}

async fn get_ana_log(
    admin: &Qpair,
    id: &IdentifyController,
    active_ns: u32,
    t: Duration,
) -> Result<AnaLogPage, CtrlrError> {
    // SPDK's sizing: header, every group's descriptor, one NSID per active
    // namespace.
    let len = 16 + 32 * id.nanagrpid.max(1) as usize + 4 * active_ns.max(1) as usize;
    let len = len.div_ceil(4) * 4;
    let sqe = GetLogPage {
        lid: op::log_id::ANA,
        lsp: 0,
        rae: false,
        numd: GetLogPage::numd_for_len(len as u32),
        lpo: 0,
        nsid: 0xFFFF_FFFF,
    }
    .to_sqe(0);
    let data = admin_cmd(admin, sqe, len, t).await?;
    AnaLogPage::parse(&data).map_err(|e| CtrlrError::Bringup(format!("ANA log: {e}")))
}

fn identify_sqe(cns: u8, nsid: u32) -> Sqe {
    Identify {
        cns,
        cntid: 0,
        nsid,
    }
    .to_sqe(0)
}

/// The SPDK host's bring-up sequence (nvme-tcp.md §3.6), then one I/O queue.
async fn bringup(o: &CtrlrOpts) -> Result<Session, CtrlrError> {
    let admin = Qpair::connect(&o.qpair_config(0, 31, 0xFFFF)).await?;
    let r = bringup_admin(o, &admin).await;
    match r {
        Ok(s) => Ok(s),
        Err(e) => {
            admin.close();
            Err(e)
        }
    }
}

async fn bringup_admin(o: &CtrlrOpts, admin: &Qpair) -> Result<Session, CtrlrError> {
    let t = o.timeout;
    let _vs = read_prop(admin, REG_VS, t).await?;
    let cap = read_prop(admin, REG_CAP, t).await?;
    let mqes = (cap & 0xFFFF) as u16;
    // CAP.MPSMIN: the unit of MDTS.
    let min_page = 1u64 << (12 + ((cap >> 48) & 0xF));
    let to_ms = ((cap >> 24) & 0xFF) * 500;
    // EN=1, IOSQES 6, IOCQES 4, CSS NVM, MPS 0, in one write.
    write_prop(admin, REG_CC, 0x0046_0001, t).await?;
    let deadline = Instant::now() + Duration::from_millis(to_ms.max(500));
    loop {
        let csts = read_prop(admin, REG_CSTS, t).await?;
        if csts & 0x2 != 0 {
            return Err(CtrlrError::Bringup("controller fatal status".into()));
        }
        if csts & 1 == 1 {
            break;
        }
        if Instant::now() > deadline {
            return Err(CtrlrError::Bringup("CSTS.RDY timeout".into()));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let id = IdentifyController::parse(
        &admin_cmd(admin, identify_sqe(op::cns::CONTROLLER, 0), 4096, t).await?,
    )
    .map_err(|e| CtrlrError::Bringup(format!("identify controller: {e}")))?;
    if id.subnqn != o.subnqn {
        return Err(CtrlrError::Bringup("SUBNQN mismatch".into()));
    }
    // Async Event Configuration: the notices the controller offers.
    let mut sqe = Sqe::new(op::admin::SET_FEATURES, 0);
    sqe.set_cdw(10, op::feature::ASYNC_EVENT_CONFIG as u32);
    sqe.set_cdw(11, id.oaes & 0x0900);
    let _ = admin_cmd(admin, sqe, 0, t).await;
    // Number of Queues: one I/O queue is all we use.
    let mut sqe = Sqe::new(op::admin::SET_FEATURES, 0);
    sqe.set_cdw(10, op::feature::NUMBER_OF_QUEUES as u32);
    sqe.set_cdw(11, 0);
    admin_cmd(admin, sqe, 0, t).await?;
    let list =
        parse_ns_list(&admin_cmd(admin, identify_sqe(op::cns::ACTIVE_NS_LIST, 0), 4096, t).await?);
    let mut ns = BTreeMap::new();
    for nsid in list {
        let idns = IdentifyNamespace::parse(
            &admin_cmd(admin, identify_sqe(op::cns::NAMESPACE, nsid), 4096, t).await?,
        )
        .map_err(|e| CtrlrError::Bringup(format!("identify namespace {nsid}: {e}")))?;
        let Some(bs) = idns.block_size() else {
            continue;
        };
        // The descriptors are optional (SPDK tolerates their failure).
        let uuid = match admin_cmd(
            admin,
            identify_sqe(op::cns::NS_ID_DESCRIPTORS, nsid),
            4096,
            t,
        )
        .await
        {
            Ok(d) => parse_ns_id_descriptors(&d).ok().and_then(|v| {
                v.into_iter().find_map(|d| match d {
                    NsIdDescriptor::Uuid(u) => Some(u),
                    _ => None,
                })
            }),
            Err(_) => None,
        };
        ns.insert(
            nsid,
            NsInfo {
                nsid,
                block_size: bs,
                num_blocks: idns.nsze,
                nguid: idns.nguid,
                eui64: idns.eui64,
                uuid,
                anagrpid: idns.anagrpid,
                ana_state: AnaState::Optimized,
                shared: idns.nmic & 1 == 1,
                noiob: idns.noiob,
            },
        );
    }
    // CMIC bit 3: ANA reporting. Without it every path counts as optimized.
    if id.cmic & 0x08 != 0 {
        let page = get_ana_log(admin, &id, ns.len() as u32, t).await?;
        for n in ns.values_mut() {
            if let Some(s) = page.state_for_nsid(n.nsid) {
                n.ana_state = s;
            }
        }
    }
    let sqsize = o.io_sqsize.min(mqes).max(1);
    let io = Qpair::connect(&o.qpair_config(1, sqsize, admin.cntlid)).await?;
    // Writes up to IOCCSZ×16 − 64 bytes travel in the capsule (ICDOFF 0).
    if id.icdoff == 0 && id.ioccsz >= 4 {
        io.set_icd_limit(id.ioccsz * 16 - 64);
    } else {
        io.set_icd_limit(0);
    }
    let max_xfer = id
        .max_transfer_bytes(min_page)
        .map_or(0, |b| u32::try_from(b).unwrap_or(u32::MAX));
    Ok(Session {
        admin: admin.clone(),
        io,
        id,
        ns,
        max_xfer,
    })
}

//! The multipath NVMe bdev (`Nvme0n1`): one namespace reached through one
//! path per controller, with SPDK's path selection (active_passive;
//! active_active with the round_robin or queue_depth selector), failover of
//! in-flight I/O on path errors, and waiting while no path is usable.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use super::ctrlr::{CtrlrState, NvmeCtrlr};
use super::events::HostEvent;
use super::qpair::Qpair;
use crate::bdev::{BlockDevice, IoError, IoFuture};
use crate::nvme::fabrics::RwCommand;
use crate::nvme::log::AnaState;
use crate::nvme::opcodes as op;
use crate::nvme::sqe::{SglDescriptor, Sqe};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MpPolicy {
    ActivePassive,
    ActiveActive,
}

impl MpPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            MpPolicy::ActivePassive => "active_passive",
            MpPolicy::ActiveActive => "active_active",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector {
    RoundRobin,
    QueueDepth,
}

impl Selector {
    pub fn as_str(self) -> &'static str {
        match self {
            Selector::RoundRobin => "round_robin",
            Selector::QueueDepth => "queue_depth",
        }
    }
}

/// One path of a bdev: a namespace through one controller.
pub struct NvmePath {
    pub ctrlr: Arc<NvmeCtrlr>,
    pub nsid: u32,
    ana: AtomicU8,
    /// Set after an ANA path error until the ANA log has been re-read: the
    /// path is not used meanwhile (SPDK's "ana_state_updating").
    updating: AtomicBool,
    /// When the path entered inaccessible/change: after ANATT it stops
    /// counting as "may become available".
    ana_bad_since: Mutex<Option<Instant>>,
    pub outstanding: AtomicU32,
    pub completed: AtomicU64,
    pub bytes: AtomicU64,
    bdev: std::sync::Weak<NvmeBdev>,
}

impl NvmePath {
    pub fn ana_state(&self) -> AnaState {
        AnaState::from_u8(self.ana.load(Ordering::Acquire)).unwrap_or(AnaState::Inaccessible)
    }

    pub fn set_ana(&self, s: AnaState) {
        self.ana.store(s as u8, Ordering::Release);
        self.updating.store(false, Ordering::Release);
        let mut since = self.ana_bad_since.lock().unwrap_or_else(|p| p.into_inner());
        if s.is_accessible() {
            *since = None;
        } else if since.is_none() {
            *since = Some(Instant::now());
        }
    }

    /// `connected` in `bdev_nvme_get_io_paths`.
    pub fn connected(&self) -> bool {
        self.ctrlr.connected()
    }

    /// `accessible`: active and optimized or non-optimized.
    pub fn accessible(&self) -> bool {
        !self.updating.load(Ordering::Acquire) && self.ana_state().is_accessible()
    }

    pub fn available(&self) -> bool {
        self.connected() && self.accessible()
    }

    /// Whether waiting for this path makes sense (SPDK's "may become
    /// available"): its controller is not failed, and it has not sat in an
    /// inaccessible state beyond ANATT.
    fn may_become_available(&self) -> bool {
        if self.ctrlr.is_failed() {
            return false;
        }
        let anatt = self.ctrlr.identify().map(|i| i.anatt).unwrap_or(10).max(1) as u64;
        self.ana_bad_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|t| t.elapsed() < Duration::from_secs(anatt))
    }

    /// Called by the controller on any state change.
    pub fn changed(&self) {
        if let Some(b) = self.bdev.upgrade() {
            b.paths_changed();
        }
    }

    pub fn label(&self) -> String {
        self.ctrlr.label()
    }
}

/// Retry options from `bdev_nvme_set_options`.
#[derive(Debug, Clone, Copy)]
pub struct RetryOpts {
    /// -1: retry forever; 0: no retry, not even failover.
    pub bdev_retry_count: i32,
}

pub struct NvmeBdev {
    pub name: String,
    pub nsid: u32,
    pub block_size: u32,
    pub num_blocks: u64,
    pub uuid: Option<[u8; 16]>,
    paths: RwLock<Vec<Arc<NvmePath>>>,
    /// Policy, selector and rr_min_io packed by `pack_policy`: read once per
    /// I/O without a lock.
    policy: AtomicU64,
    /// Path selection state, locked once per I/O.
    sel: Mutex<Sel>,
    rr_count: AtomicU32,
    path_change: Notify,
    retry_count: AtomicI32,
    pub stats: IoStats,
    events: super::events::EventLog,
}

/// What path selection needs per I/O, under one lock: the paths with the
/// I/O queue pair each was last seen with (so the controller's lock is not
/// taken per I/O), and the current path.
#[derive(Default)]
struct Sel {
    /// `paths` in list order; rebuilt after every change (`fresh` false).
    snap: Vec<PathQ>,
    fresh: bool,
    /// active_passive's cached path, and round_robin's position: an index
    /// into `snap`.
    current: Option<usize>,
}

struct PathQ {
    path: Arc<NvmePath>,
    /// The controller's I/O queue pair when last looked at. A closed one is
    /// looked up again: the controller closes its queue pair before it
    /// installs a new one, so an open cached one is still its queue pair.
    q: Option<Qpair>,
}

impl PathQ {
    /// `NvmePath::available`, with the queue pair kept for the I/O.
    fn usable(&mut self) -> bool {
        let p = &self.path;
        if p.ctrlr.state() != CtrlrState::Enabled || !p.accessible() {
            return false;
        }
        if self.q.as_ref().is_none_or(|q| q.is_closed()) {
            self.q = p.ctrlr.io_qpair();
        }
        self.q.is_some()
    }

    fn chosen(&self) -> Option<(Arc<NvmePath>, Qpair)> {
        Some((self.path.clone(), self.q.clone()?))
    }
}

impl Sel {
    fn current_path(&self) -> Option<&Arc<NvmePath>> {
        self.current.and_then(|i| self.snap.get(i)).map(|e| &e.path)
    }

    /// First usable optimized path in list order from `start`, else the
    /// first usable non-optimized one.
    fn first_available(&mut self, start: usize) -> Option<usize> {
        let n = self.snap.len();
        let mut non_opt = None;
        for i in 0..n {
            let idx = (start + i) % n;
            let e = &mut self.snap[idx];
            if !e.usable() {
                continue;
            }
            match e.path.ana_state() {
                AnaState::Optimized => return Some(idx),
                AnaState::NonOptimized if non_opt.is_none() => non_opt = Some(idx),
                _ => {}
            }
        }
        non_opt
    }
}

fn pack_policy(p: MpPolicy, s: Selector, rr_min_io: u32) -> u64 {
    let p = match p {
        MpPolicy::ActivePassive => 0u64,
        MpPolicy::ActiveActive => 1,
    };
    let s = match s {
        Selector::RoundRobin => 0u64,
        Selector::QueueDepth => 1,
    };
    p | (s << 8) | (u64::from(rr_min_io) << 32)
}

fn unpack_policy(v: u64) -> (MpPolicy, Selector, u32) {
    let p = if v & 0xFF == 0 {
        MpPolicy::ActivePassive
    } else {
        MpPolicy::ActiveActive
    };
    let s = if (v >> 8) & 0xFF == 0 {
        Selector::RoundRobin
    } else {
        Selector::QueueDepth
    };
    (p, s, (v >> 32) as u32)
}

/// `bdev_get_iostat` counters; latencies in nanoseconds (our tick).
pub struct IoStats {
    pub num_read_ops: AtomicU64,
    pub num_write_ops: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub num_failed: AtomicU64,
    pub read_latency_ns: AtomicU64,
    pub max_read_latency_ns: AtomicU64,
    pub min_read_latency_ns: AtomicU64,
    pub write_latency_ns: AtomicU64,
    pub max_write_latency_ns: AtomicU64,
    pub min_write_latency_ns: AtomicU64,
}

impl Default for IoStats {
    fn default() -> Self {
        IoStats {
            num_read_ops: AtomicU64::new(0),
            num_write_ops: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            num_failed: AtomicU64::new(0),
            read_latency_ns: AtomicU64::new(0),
            max_read_latency_ns: AtomicU64::new(0),
            min_read_latency_ns: AtomicU64::new(u64::MAX),
            write_latency_ns: AtomicU64::new(0),
            max_write_latency_ns: AtomicU64::new(0),
            min_write_latency_ns: AtomicU64::new(u64::MAX),
        }
    }
}

impl IoStats {
    fn record(&self, write: bool, bytes: u64, started: Instant) {
        let ns = started.elapsed().as_nanos() as u64;
        let (ops, b, sum, max, min) = if write {
            (
                &self.num_write_ops,
                &self.bytes_written,
                &self.write_latency_ns,
                &self.max_write_latency_ns,
                &self.min_write_latency_ns,
            )
        } else {
            (
                &self.num_read_ops,
                &self.bytes_read,
                &self.read_latency_ns,
                &self.max_read_latency_ns,
                &self.min_read_latency_ns,
            )
        };
        ops.fetch_add(1, Ordering::Relaxed);
        b.fetch_add(bytes, Ordering::Relaxed);
        sum.fetch_add(ns, Ordering::Relaxed);
        // Extremes rarely move: a load first spares the read-modify-write.
        if ns > max.load(Ordering::Relaxed) {
            max.fetch_max(ns, Ordering::Relaxed);
        }
        if ns < min.load(Ordering::Relaxed) {
            min.fetch_min(ns, Ordering::Relaxed);
        }
    }
}

impl NvmeBdev {
    pub fn new(
        name: String,
        ns: &super::ctrlr::NsInfo,
        retry: RetryOpts,
        events: super::events::EventLog,
    ) -> Arc<NvmeBdev> {
        Arc::new(NvmeBdev {
            name,
            nsid: ns.nsid,
            block_size: ns.block_size,
            num_blocks: ns.num_blocks,
            uuid: ns.uuid,
            paths: RwLock::new(Vec::new()),
            policy: AtomicU64::new(pack_policy(
                MpPolicy::ActivePassive,
                Selector::RoundRobin,
                1,
            )),
            sel: Mutex::new(Sel::default()),
            rr_count: AtomicU32::new(0),
            path_change: Notify::new(),
            retry_count: AtomicI32::new(retry.bdev_retry_count),
            stats: IoStats::default(),
            events,
        })
    }

    pub fn add_path(self: &Arc<Self>, ctrlr: Arc<NvmeCtrlr>, ana: AnaState) -> Arc<NvmePath> {
        let p = Arc::new(NvmePath {
            ctrlr: ctrlr.clone(),
            nsid: self.nsid,
            ana: AtomicU8::new(ana as u8),
            updating: AtomicBool::new(false),
            ana_bad_since: Mutex::new(None),
            outstanding: AtomicU32::new(0),
            completed: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            bdev: Arc::downgrade(self),
        });
        p.set_ana(ana);
        ctrlr.add_path(&p);
        self.paths
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(p.clone());
        self.paths_changed();
        p
    }

    /// Removes the paths of one controller; returns how many remain.
    pub fn remove_ctrlr(&self, ctrlr: &Arc<NvmeCtrlr>) -> usize {
        let mut v = self.paths.write().unwrap_or_else(|p| p.into_inner());
        v.retain(|p| !Arc::ptr_eq(&p.ctrlr, ctrlr));
        let n = v.len();
        drop(v);
        self.paths_changed();
        n
    }

    pub fn paths(&self) -> Vec<Arc<NvmePath>> {
        self.paths.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn policy(&self) -> (MpPolicy, Selector, u32) {
        unpack_policy(self.policy.load(Ordering::Acquire))
    }

    pub fn set_policy(&self, p: MpPolicy, s: Selector, rr_min_io: u32) {
        self.policy
            .store(pack_policy(p, s, rr_min_io.max(1)), Ordering::Release);
        self.paths_changed();
    }

    fn sel(&self) -> std::sync::MutexGuard<'_, Sel> {
        self.sel.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_retry_count(&self, n: i32) {
        self.retry_count.store(n, Ordering::Relaxed);
    }

    /// Moves the path of controller `cntlid` to the head of the list.
    pub fn set_preferred(&self, cntlid: u16) -> bool {
        let mut v = self.paths.write().unwrap_or_else(|p| p.into_inner());
        let Some(i) = v.iter().position(|p| p.ctrlr.cntlid() == cntlid) else {
            return false;
        };
        let p = v.remove(i);
        v.insert(0, p);
        drop(v);
        self.paths_changed();
        true
    }

    /// Clears the cached path and wakes I/O waiting for one.
    pub fn paths_changed(&self) {
        let old = {
            let mut sel = self.sel();
            let old = sel.current_path().cloned();
            sel.current = None;
            sel.fresh = false;
            old
        };
        if let Some(o) = old {
            // Only report a switch when the next selection differs; the
            // next I/O recomputes it.
            let next = self.select_uncached();
            if next.as_ref().map(Arc::as_ptr) != Some(Arc::as_ptr(&o)) {
                self.events.push(HostEvent::PathSwitch {
                    bdev: self.name.clone(),
                    from: Some(o.label()),
                    to: next.map(|n| n.label()),
                });
            }
        }
        self.path_change.notify_waiters();
    }

    /// `current` in `bdev_nvme_get_io_paths`, as SPDK computes it.
    pub fn is_current(&self, p: &Arc<NvmePath>) -> bool {
        if !p.available() {
            return false;
        }
        match self.policy().0 {
            MpPolicy::ActivePassive => self.sel().current_path().is_some_and(|c| Arc::ptr_eq(c, p)),
            MpPolicy::ActiveActive => {
                p.ana_state() == AnaState::Optimized
                    || !self
                        .paths()
                        .iter()
                        .any(|q| q.ana_state() == AnaState::Optimized)
            }
        }
    }

    /// First available optimized path in list order, else the first
    /// available non-optimized one.
    fn first_available(paths: &[Arc<NvmePath>], start: usize) -> Option<Arc<NvmePath>> {
        let n = paths.len();
        let mut non_opt = None;
        for i in 0..n {
            let p = &paths[(start + i) % n];
            if !p.available() {
                continue;
            }
            match p.ana_state() {
                AnaState::Optimized => return Some(p.clone()),
                AnaState::NonOptimized if non_opt.is_none() => non_opt = Some(p.clone()),
                _ => {}
            }
        }
        non_opt
    }

    fn select_uncached(&self) -> Option<Arc<NvmePath>> {
        let paths = self.paths();
        Self::first_available(&paths, 0)
    }

    /// Picks the path for the next I/O, with its controller's I/O queue
    /// pair: one lock and a few atomic loads on the fast path.
    fn select(&self) -> Option<(Arc<NvmePath>, Qpair)> {
        let (policy, selector, rr_min_io) = self.policy();
        let mut sel = self.sel();
        if !sel.fresh {
            let snap = self
                .paths
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|p| PathQ {
                    path: p.clone(),
                    q: None,
                })
                .collect();
            *sel = Sel {
                snap,
                fresh: true,
                current: None,
            };
        }
        match (policy, selector) {
            (MpPolicy::ActivePassive, _) => {
                if let Some(i) = sel.current {
                    if sel.snap[i].usable() {
                        return sel.snap[i].chosen();
                    }
                }
                sel.current = sel.first_available(0);
                let i = sel.current?;
                sel.snap[i].chosen()
            }
            (MpPolicy::ActiveActive, Selector::RoundRobin) => {
                if let Some(i) = sel.current {
                    if sel.snap[i].usable()
                        && self.rr_count.fetch_add(1, Ordering::Relaxed) + 1 < rr_min_io
                    {
                        return sel.snap[i].chosen();
                    }
                }
                self.rr_count.store(0, Ordering::Relaxed);
                // Start the scan at the path after the current one.
                let start = sel.current.map_or(0, |i| i + 1);
                sel.current = if sel.snap.is_empty() {
                    None
                } else {
                    sel.first_available(start)
                };
                let i = sel.current?;
                sel.snap[i].chosen()
            }
            (MpPolicy::ActiveActive, Selector::QueueDepth) => {
                let mut best: Option<(usize, u32, bool)> = None;
                for i in 0..sel.snap.len() {
                    let e = &mut sel.snap[i];
                    if !e.usable() {
                        continue;
                    }
                    let opt = match e.path.ana_state() {
                        AnaState::Optimized => true,
                        AnaState::NonOptimized => false,
                        _ => continue,
                    };
                    let depth = e.path.outstanding.load(Ordering::Relaxed);
                    // Optimized beats non-optimized; then the fewest
                    // outstanding, the first in list order on a tie.
                    let better = match best {
                        None => true,
                        Some((_, d, o)) => (opt && !o) || (opt == o && depth < d),
                    };
                    if better {
                        best = Some((i, depth, opt));
                    }
                }
                sel.snap[best?.0].chosen()
            }
        }
    }

    fn any_may_become_available(&self) -> bool {
        self.paths().iter().any(|p| p.may_become_available())
    }

    /// Submits one command with SPDK's retry rules: path errors and lost
    /// connections retry at once on a path chosen again, without counting;
    /// other errors count against bdev_retry_count; with no usable path,
    /// retry every second while some path may come back.
    async fn submit(
        &self,
        sqe: Sqe,
        write: Option<Bytes>,
        read_len: usize,
    ) -> Result<Bytes, IoError> {
        let mut retries = 0i32;
        loop {
            let limit = self.retry_count.load(Ordering::Relaxed);
            let Some((path, q)) = self.select() else {
                if limit == 0 || !self.any_may_become_available() {
                    return Err(IoError::NoPath);
                }
                let waiter = self.path_change.notified();
                if self.select().is_none() {
                    let _ = tokio::time::timeout(Duration::from_secs(1), waiter).await;
                }
                continue;
            };
            path.outstanding.fetch_add(1, Ordering::Relaxed);
            let r = q.submit(sqe, write.clone(), read_len).await;
            path.outstanding.fetch_sub(1, Ordering::Relaxed);
            match r {
                Ok(c) if c.cqe.status.is_success() => {
                    path.completed.fetch_add(1, Ordering::Relaxed);
                    path.bytes.fetch_add(
                        (read_len + write.as_ref().map_or(0, |w| w.len())) as u64,
                        Ordering::Relaxed,
                    );
                    return Ok(c.data);
                }
                Ok(c) => {
                    let st = c.cqe.status;
                    if st.dnr || (limit != -1 && retries >= limit) {
                        return Err(IoError::Status {
                            sct: st.sct,
                            sc: st.sc,
                        });
                    }
                    if st.is_path_error() {
                        if st.is_ana_error() {
                            path.updating.store(true, Ordering::Release);
                            path.ctrlr.request_ana_refresh();
                        }
                        self.paths_changed();
                        continue;
                    }
                    retries += 1;
                }
                Err(_) => {
                    // The connection dropped under the command (SPDK sees
                    // "aborted - SQ deletion"): a path failure, not counted.
                    if limit == 0 {
                        return Err(IoError::NoPath);
                    }
                    self.paths_changed();
                }
            }
        }
    }

    fn check(&self, lba: u64, blocks: u64) -> Result<(), IoError> {
        match lba.checked_add(blocks) {
            Some(end) if end <= self.num_blocks && blocks > 0 && blocks <= 65536 => Ok(()),
            _ => Err(IoError::Invalid("LBA range")),
        }
    }

    fn rw_sqe(&self, opc: u8, lba: u64, blocks: u32) -> Sqe {
        RwCommand {
            slba: lba,
            nlb: blocks - 1,
        }
        .to_sqe(opc, 0, self.nsid, SglDescriptor::transport(0))
    }
}

impl BlockDevice for NvmeBdev {
    fn name(&self) -> &str {
        &self.name
    }

    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn num_blocks(&self) -> u64 {
        self.num_blocks
    }

    fn read(&self, lba: u64, blocks: u32) -> IoFuture<'_, Bytes> {
        Box::pin(async move {
            self.check(lba, blocks as u64)?;
            let len = blocks as usize * self.block_size as usize;
            let started = Instant::now();
            let r = self
                .submit(self.rw_sqe(op::nvm::READ, lba, blocks), None, len)
                .await;
            match &r {
                Ok(_) => self.stats.record(false, len as u64, started),
                Err(_) => {
                    self.stats.num_failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            r
        })
    }

    fn write(&self, lba: u64, data: Bytes) -> IoFuture<'_, ()> {
        Box::pin(async move {
            let bs = self.block_size as usize;
            if data.is_empty() || !data.len().is_multiple_of(bs) {
                return Err(IoError::Invalid("write length"));
            }
            let blocks = (data.len() / bs) as u32;
            self.check(lba, blocks as u64)?;
            let len = data.len() as u64;
            let started = Instant::now();
            let r = self
                .submit(self.rw_sqe(op::nvm::WRITE, lba, blocks), Some(data), 0)
                .await
                .map(|_| ());
            match &r {
                Ok(()) => self.stats.record(true, len, started),
                Err(_) => {
                    self.stats.num_failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            r
        })
    }

    fn flush(&self) -> IoFuture<'_, ()> {
        Box::pin(async move {
            let mut sqe = Sqe::new(op::nvm::FLUSH, 0);
            sqe.set_nsid(self.nsid);
            self.submit(sqe, None, 0).await.map(|_| ())
        })
    }

    fn write_zeroes(&self, lba: u64, blocks: u32) -> IoFuture<'_, ()> {
        Box::pin(async move {
            self.check(lba, blocks as u64)?;
            let sqe = self.rw_sqe(op::nvm::WRITE_ZEROES, lba, blocks);
            self.submit(sqe, None, 0).await.map(|_| ())
        })
    }
}

//! The multipath NVMe bdev (`Nvme0n1`): one namespace reached through one
//! path per controller, with SPDK's path selection (active_passive;
//! active_active with the round_robin or queue_depth selector), failover of
//! in-flight I/O on path errors, and waiting while no path is usable.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use super::ctrlr::NvmeCtrlr;
use super::events::HostEvent;
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
    policy: RwLock<(MpPolicy, Selector, u32)>,
    /// active_passive's cached path, and round_robin's position.
    current: Mutex<Option<Arc<NvmePath>>>,
    rr_count: AtomicU32,
    path_change: Notify,
    retry_count: AtomicI32,
    pub stats: IoStats,
    events: super::events::EventLog,
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
        max.fetch_max(ns, Ordering::Relaxed);
        min.fetch_min(ns, Ordering::Relaxed);
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
            policy: RwLock::new((MpPolicy::ActivePassive, Selector::RoundRobin, 1)),
            current: Mutex::new(None),
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
        *self.policy.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_policy(&self, p: MpPolicy, s: Selector, rr_min_io: u32) {
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = (p, s, rr_min_io.max(1));
        self.paths_changed();
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
        let old = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
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
            MpPolicy::ActivePassive => self
                .current
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .is_some_and(|c| Arc::ptr_eq(c, p)),
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

    /// Picks the path for the next I/O.
    fn select(&self) -> Option<Arc<NvmePath>> {
        let (policy, selector, rr_min_io) = self.policy();
        match (policy, selector) {
            (MpPolicy::ActivePassive, _) => {
                let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(c) = cur.as_ref().filter(|c| c.available()) {
                    return Some(c.clone());
                }
                let p = self.select_uncached();
                cur.clone_from(&p);
                p
            }
            (MpPolicy::ActiveActive, Selector::RoundRobin) => {
                let paths = self.paths();
                let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(c) = cur.as_ref().filter(|c| c.available()) {
                    if self.rr_count.fetch_add(1, Ordering::Relaxed) + 1 < rr_min_io {
                        return Some(c.clone());
                    }
                }
                self.rr_count.store(0, Ordering::Relaxed);
                // Start the scan at the path after the current one.
                let start = cur
                    .as_ref()
                    .and_then(|c| paths.iter().position(|p| Arc::ptr_eq(p, c)))
                    .map(|i| i + 1)
                    .unwrap_or(0);
                let p = if paths.is_empty() {
                    None
                } else {
                    Self::first_available(&paths, start)
                };
                cur.clone_from(&p);
                p
            }
            (MpPolicy::ActiveActive, Selector::QueueDepth) => {
                let paths = self.paths();
                let best = |want: AnaState| {
                    paths
                        .iter()
                        .filter(|p| p.available() && p.ana_state() == want)
                        .min_by_key(|p| p.outstanding.load(Ordering::Relaxed))
                        .cloned()
                };
                best(AnaState::Optimized).or_else(|| best(AnaState::NonOptimized))
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
            let Some(path) = self.select() else {
                if limit == 0 || !self.any_may_become_available() {
                    return Err(IoError::NoPath);
                }
                // Register for the wake-up before looking again, so a path
                // coming back in between is not missed (notify_waiters only
                // wakes registered waiters).
                let waiter = self.path_change.notified();
                tokio::pin!(waiter);
                waiter.as_mut().enable();
                if self.select().is_none() {
                    let _ = tokio::time::timeout(Duration::from_secs(1), waiter).await;
                }
                continue;
            };
            let Some(q) = path.ctrlr.io_qpair() else {
                self.paths_changed();
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

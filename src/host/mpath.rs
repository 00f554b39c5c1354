//! The multipath NVMe bdev (`Nvme0n1`): one namespace reached through one
//! path per controller, with SPDK's path selection (active_passive;
//! active_active with the round_robin or queue_depth selector), failover of
//! in-flight I/O on path errors, and waiting while no path is usable.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use std::future::Future;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::Notify;

use super::cmd;
use super::ctrlr::{CtrlrState, NsPath, NvmeCtrlr};
use super::events::HostEvent;
use super::qpair::{Completion, Qpair, QpairError};
use crate::bdev::{BlockDevice, IoError, IoFuture};
use crate::nvme::fabrics::RwCommand;
use crate::nvme::log::AnaState;
use crate::nvme::opcodes as op;
use crate::nvme::sqe::{Cqe, SglDescriptor, Sqe};
use crate::nvme::status::Status;

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
    /// What `bdev_nvme_get_path_iostat` reports: every NVMe command that
    /// completed on this path, with its latency, and the ones that
    /// completed with an error status.
    pub stats: IoStats,
    /// NOIOB of the namespace through this controller, in blocks (0: none).
    noiob: AtomicU32,
    bdev: std::sync::Weak<NvmeBdev>,
}

impl NsPath for NvmePath {
    fn nsid(&self) -> u32 {
        self.nsid
    }
    fn set_ana(&self, s: AnaState) {
        NvmePath::set_ana(self, s);
    }
    fn set_noiob(&self, blocks: u16) {
        NvmePath::set_noiob(self, blocks);
    }
    fn changed(&self) {
        NvmePath::changed(self);
    }
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

    pub fn set_noiob(&self, blocks: u16) {
        self.noiob.store(u32::from(blocks), Ordering::Relaxed);
    }

    /// How reads, writes and compares of `block_size`-byte blocks are cut
    /// on this path: at most this many blocks per command (MDTS, and the
    /// 16-bit NLB), and no command across a multiple of the NOIOB.
    pub fn split_limits(&self, block_size: u32) -> SplitLimits {
        let xfer = self.ctrlr.max_xfer_bytes();
        let max_blocks = if xfer == 0 || block_size == 0 {
            MAX_NLB
        } else {
            (xfer / block_size).clamp(1, MAX_NLB)
        };
        SplitLimits {
            max_blocks,
            boundary: self.noiob.load(Ordering::Relaxed),
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

/// What `NvmeBdev::submit` sends: one command as it is, or a read, write
/// or compare that is cut per path when it is too large for one command.
enum Req {
    Cmd {
        sqe: Sqe,
        write: Option<Bytes>,
        read_len: usize,
    },
    Rw {
        opc: u8,
        lba: u64,
        blocks: u32,
        write: Option<Bytes>,
    },
}

impl Req {
    fn cmd(sqe: Sqe) -> Req {
        Req::Cmd {
            sqe,
            write: None,
            read_len: 0,
        }
    }

    /// Data moved, either way.
    /// Whether the command carries data to the controller.
    fn is_write(&self) -> bool {
        match self {
            Req::Cmd { write, .. } => write.is_some(),
            Req::Rw { opc, .. } => *opc == op::nvm::WRITE,
        }
    }

    fn bytes(&self, block_size: u32) -> u64 {
        match self {
            Req::Cmd {
                write, read_len, ..
            } => (*read_len + write.as_ref().map_or(0, |w| w.len())) as u64,
            Req::Rw { opc, blocks, .. } => {
                if *opc == op::nvm::READ || *opc == op::nvm::WRITE || *opc == op::nvm::COMPARE {
                    u64::from(*blocks) * u64::from(block_size)
                } else {
                    0
                }
            }
        }
    }
}

/// The completions of a split I/O's commands, folded into the I/O's (see
/// `NvmeBdev::submit_split`).
struct ChildMerge {
    parts: Vec<Bytes>,
    failed: Option<Cqe>,
    lost: Option<QpairError>,
}

impl ChildMerge {
    fn new(n: usize) -> ChildMerge {
        ChildMerge {
            parts: vec![Bytes::new(); n],
            failed: None,
            lost: None,
        }
    }

    /// Command `i` (in LBA order) completed; called in completion order.
    fn add(&mut self, i: usize, r: Result<Completion, QpairError>) {
        match r {
            Ok(c) if c.cqe.status.is_success() => {
                if let Some(p) = self.parts.get_mut(i) {
                    *p = c.data;
                }
            }
            Ok(c) => self.failed = Some(c.cqe),
            Err(e) => self.lost = Some(e),
        }
    }

    fn finish(self, read: bool) -> Result<Completion, QpairError> {
        if let Some(e) = self.lost {
            return Err(e);
        }
        if let Some(cqe) = self.failed {
            return Ok(Completion {
                cqe,
                data: Bytes::new(),
            });
        }
        let data = if read {
            let mut b = BytesMut::with_capacity(self.parts.iter().map(|p| p.len()).sum());
            for p in &self.parts {
                b.extend_from_slice(p);
            }
            b.freeze()
        } else {
            Bytes::new()
        };
        Ok(Completion {
            cqe: Cqe::new(0, Status::SUCCESS),
            data,
        })
    }
}

/// Blocks one command can address: NLB is 16 bits, 0's based.
pub const MAX_NLB: u32 = 1 << 16;

/// Where a read, write or compare must be cut into several commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitLimits {
    /// Blocks per command, at least 1.
    pub max_blocks: u32,
    /// No command may cross a multiple of this many blocks (0: no boundary).
    pub boundary: u32,
}

impl SplitLimits {
    /// Whether `blocks` at `lba` go out as one command.
    #[inline]
    pub fn fits(&self, lba: u64, blocks: u32) -> bool {
        blocks <= self.max_blocks
            && (self.boundary == 0
                || lba % u64::from(self.boundary) + u64::from(blocks) <= u64::from(self.boundary))
    }

    /// The commands an I/O becomes, in LBA order, as SPDK's NVMe driver
    /// cuts it: first at every boundary the I/O crosses, then each piece
    /// into commands of `max_blocks` from its start (the last one shorter).
    pub fn split(&self, lba: u64, blocks: u32) -> Split {
        Split {
            lba,
            left: blocks,
            limits: *self,
        }
    }
}

/// The (LBA, blocks) of each command of a split I/O.
#[derive(Debug, Clone)]
pub struct Split {
    lba: u64,
    left: u32,
    limits: SplitLimits,
}

impl Iterator for Split {
    type Item = (u64, u32);

    fn next(&mut self) -> Option<(u64, u32)> {
        if self.left == 0 {
            return None;
        }
        let mut n = self.left.min(self.limits.max_blocks.max(1));
        let b = u64::from(self.limits.boundary);
        if b != 0 {
            // Blocks up to the next boundary: 1..=boundary, fits in u32.
            let to_boundary = (b - self.lba % b) as u32;
            n = n.min(to_boundary);
        }
        let item = (self.lba, n);
        self.lba += u64::from(n);
        self.left -= n;
        Some(item)
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
    pub fn record(&self, write: bool, bytes: u64, started: Instant) {
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
            stats: IoStats::default(),
            noiob: AtomicU32::new(0),
            bdev: Arc::downgrade(self),
        });
        p.set_ana(ana);
        if let Some(ns) = ctrlr.namespaces().get(&self.nsid) {
            p.set_noiob(ns.noiob);
        }
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
    async fn submit(&self, req: Req) -> Result<Bytes, IoError> {
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
            let started = Instant::now();
            let r = match &req {
                Req::Cmd {
                    sqe,
                    write,
                    read_len,
                } => q.submit(*sqe, write.clone(), *read_len).await,
                Req::Rw {
                    opc,
                    lba,
                    blocks,
                    write,
                } => {
                    let limits = path.split_limits(self.block_size);
                    if limits.fits(*lba, *blocks) {
                        let read_len = self.read_len(*opc, *blocks);
                        q.submit(self.rw_sqe(*opc, *lba, *blocks), write.clone(), read_len)
                            .await
                    } else {
                        self.submit_split(&q, limits, *opc, *lba, *blocks, write.as_ref())
                            .await
                    }
                }
            };
            path.outstanding.fetch_sub(1, Ordering::Relaxed);
            match r {
                Ok(c) if c.cqe.status.is_success() => {
                    let bytes = req.bytes(self.block_size);
                    path.completed.fetch_add(1, Ordering::Relaxed);
                    path.bytes.fetch_add(bytes, Ordering::Relaxed);
                    path.stats.record(req.is_write(), bytes, started);
                    return Ok(c.data);
                }
                Ok(c) => {
                    path.stats.num_failed.fetch_add(1, Ordering::Relaxed);
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

    /// A range of `blocks` at `lba` within the namespace, at most `max`.
    fn check(&self, lba: u64, blocks: u64, max: u64) -> Result<(), IoError> {
        match lba.checked_add(blocks) {
            Some(end) if end <= self.num_blocks && blocks > 0 && blocks <= max => Ok(()),
            _ => Err(IoError::Invalid("LBA range")),
        }
    }

    fn read_len(&self, opc: u8, blocks: u32) -> usize {
        if opc == op::nvm::READ {
            blocks as usize * self.block_size as usize
        } else {
            0
        }
    }

    /// One I/O as several commands on one queue pair, all in flight at
    /// once; it completes when every one has. A lost connection under any
    /// of them is the whole I/O's (it is retried on a path chosen again).
    /// Otherwise a failed command's status is the I/O's; with several, the
    /// one that completed last, as SPDK's `nvme_cb_complete_child` keeps
    /// overwriting the parent's status. Read data is joined in LBA order.
    fn submit_split<'a>(
        &'a self,
        q: &'a Qpair,
        limits: SplitLimits,
        opc: u8,
        lba: u64,
        blocks: u32,
        write: Option<&'a Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Completion, QpairError>> + Send + 'a>> {
        Box::pin(async move {
            let bs = self.block_size as usize;
            let children = FuturesUnordered::new();
            let mut off = 0usize;
            for (i, (clba, cblocks)) in limits.split(lba, blocks).enumerate() {
                let len = cblocks as usize * bs;
                let data = write.map(|d| d.slice(off..off + len));
                let read_len = self.read_len(opc, cblocks);
                let f = q.submit(self.rw_sqe(opc, clba, cblocks), data, read_len);
                children.push(async move { (i, f.await) });
                off += len;
            }
            let mut merge = ChildMerge::new(children.len());
            let mut children = children;
            while let Some((i, r)) = children.next().await {
                merge.add(i, r);
            }
            merge.finish(opc == op::nvm::READ)
        })
    }

    /// ONCS of the first path's controller (SPDK asks the first namespace
    /// of the bdev): bit 0 Compare, 2 Dataset Management, 3 Write Zeroes,
    /// 5 Reservations.
    pub fn oncs(&self) -> u16 {
        self.paths().first().map_or(0, |p| p.ctrlr.oncs())
    }

    async fn submit_data(&self, sqe: Sqe, data: Bytes) -> Result<(), IoError> {
        self.submit(Req::Cmd {
            sqe,
            write: Some(data),
            read_len: 0,
        })
        .await
        .map(|_| ())
    }

    /// Dataset Management of up to 256 ranges with `attrs` (see
    /// `cmd::dsm_attr`).
    pub async fn dataset_management(
        &self,
        ranges: &[cmd::DsmRange],
        attrs: u32,
    ) -> Result<(), IoError> {
        for r in ranges {
            self.check(r.slba, u64::from(r.blocks), u64::from(u32::MAX))?;
        }
        let (sqe, data) = cmd::dataset_management(self.nsid, ranges, attrs)
            .ok_or(IoError::Invalid("1 to 256 ranges"))?;
        self.submit_data(sqe, data).await
    }

    /// Compares `data` (whole blocks) with the blocks at `lba`; a
    /// difference is `Status { sct: 2, sc: 0x85 }` (Compare Failure). Cut
    /// like a write when larger than MDTS.
    pub async fn compare(&self, lba: u64, data: Bytes) -> Result<(), IoError> {
        let bs = self.block_size as usize;
        if data.is_empty() || !data.len().is_multiple_of(bs) {
            return Err(IoError::Invalid("compare length"));
        }
        let blocks =
            u32::try_from(data.len() / bs).map_err(|_| IoError::Invalid("compare length"))?;
        self.check(lba, u64::from(blocks), u64::from(u32::MAX))?;
        self.submit(Req::Rw {
            opc: op::nvm::COMPARE,
            lba,
            blocks,
            write: Some(data),
        })
        .await
        .map(|_| ())
    }

    /// Reservation Register: register `nrkey`, unregister `crkey`, or
    /// replace `crkey` by `nrkey`.
    pub async fn reservation_register(
        &self,
        action: cmd::RegisterAction,
        iekey: bool,
        cptpl: cmd::Cptpl,
        crkey: u64,
        nrkey: u64,
    ) -> Result<(), IoError> {
        let (sqe, data) = cmd::reservation_register(self.nsid, action, iekey, cptpl, crkey, nrkey);
        self.submit_data(sqe, data).await
    }

    /// Reservation Acquire: take a reservation of `rtype` with `crkey`, or
    /// preempt the holder of `prkey`.
    pub async fn reservation_acquire(
        &self,
        action: cmd::AcquireAction,
        iekey: bool,
        rtype: cmd::ReservationType,
        crkey: u64,
        prkey: u64,
    ) -> Result<(), IoError> {
        let (sqe, data) = cmd::reservation_acquire(self.nsid, action, iekey, rtype, crkey, prkey);
        self.submit_data(sqe, data).await
    }

    /// Reservation Release: release the reservation, or clear it and every
    /// registration.
    pub async fn reservation_release(
        &self,
        action: cmd::ReleaseAction,
        iekey: bool,
        rtype: cmd::ReservationType,
        crkey: u64,
    ) -> Result<(), IoError> {
        let (sqe, data) = cmd::reservation_release(self.nsid, action, iekey, rtype, crkey);
        self.submit_data(sqe, data).await
    }

    /// Reservation Report in the extended layout, `len` bytes asked for
    /// (a multiple of 4, at least 64): room for `(len - 64) / 64`
    /// registrants; `registrants_total` says whether there are more.
    pub async fn reservation_report(&self, len: u32) -> Result<cmd::ReservationStatus, IoError> {
        if len < cmd::REPORT_EXT_HEADER_LEN as u32 || !len.is_multiple_of(4) {
            return Err(IoError::Invalid("report length"));
        }
        let data = self
            .submit(Req::Cmd {
                sqe: cmd::reservation_report(self.nsid, len),
                write: None,
                read_len: len as usize,
            })
            .await?;
        cmd::ReservationStatus::parse(&data).map_err(IoError::Invalid)
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
            self.check(lba, blocks as u64, u64::from(u32::MAX))?;
            let len = blocks as usize * self.block_size as usize;
            let started = Instant::now();
            let r = self
                .submit(Req::Rw {
                    opc: op::nvm::READ,
                    lba,
                    blocks,
                    write: None,
                })
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
            let blocks =
                u32::try_from(data.len() / bs).map_err(|_| IoError::Invalid("write length"))?;
            self.check(lba, blocks as u64, u64::from(u32::MAX))?;
            let len = data.len() as u64;
            let started = Instant::now();
            let r = self
                .submit(Req::Rw {
                    opc: op::nvm::WRITE,
                    lba,
                    blocks,
                    write: Some(data),
                })
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
            self.submit(Req::cmd(cmd::flush(self.nsid)))
                .await
                .map(|_| ())
        })
    }

    fn write_zeroes(&self, lba: u64, blocks: u32) -> IoFuture<'_, ()> {
        Box::pin(async move {
            self.check(lba, blocks as u64, u64::from(MAX_NLB))?;
            let sqe = cmd::write_zeroes(self.nsid, lba, blocks, false);
            self.submit(Req::cmd(sqe)).await.map(|_| ())
        })
    }

    /// SPDK offers unmap on an NVMe bdev when ONCS has Dataset Management.
    fn supports_unmap(&self) -> bool {
        self.oncs() & (1 << 2) != 0
    }

    /// One Dataset Management with the Deallocate attribute and ranges as
    /// bdev_nvme builds them.
    fn unmap(&self, lba: u64, blocks: u64) -> IoFuture<'_, ()> {
        Box::pin(async move {
            let ranges = cmd::unmap_ranges(lba, blocks).ok_or(IoError::Invalid("unmap length"))?;
            self.dataset_management(&ranges, cmd::dsm_attr::AD).await
        })
    }

    /// Resets the controllers of every path one after the other, as
    /// bdev_nvme resets a bdev, stopping at the first that does not come
    /// back. I/O in flight on a reset controller is retried like any I/O
    /// whose connection was lost.
    fn reset(&self) -> IoFuture<'_, ()> {
        Box::pin(async move {
            for p in self.paths() {
                let limit = p.ctrlr.opts.timeout * 3;
                if !p.ctrlr.reset_and_wait(limit).await {
                    return Err(IoError::ResetFailed);
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(max_blocks: u32, boundary: u32) -> SplitLimits {
        SplitLimits {
            max_blocks,
            boundary,
        }
    }

    #[test]
    fn split_by_max_transfer() {
        // 1 MiB of 4 KiB blocks with a 128 KiB MDTS: eight commands.
        let v: Vec<_> = lim(32, 0).split(256, 256).collect();
        assert_eq!(v, (0..8).map(|i| (256 + i * 32, 32)).collect::<Vec<_>>());
        // The remainder goes last.
        let v: Vec<_> = lim(32, 0).split(5, 70).collect();
        assert_eq!(v, vec![(5, 32), (37, 32), (69, 6)]);
        assert!(lim(32, 0).fits(5, 32));
        assert!(!lim(32, 0).fits(5, 33));
    }

    #[test]
    fn split_at_the_optimal_io_boundary_first() {
        // Crossing two boundaries of 24 blocks, each piece within MDTS.
        let v: Vec<_> = lim(32, 24).split(20, 40).collect();
        assert_eq!(v, vec![(20, 4), (24, 24), (48, 12)]);
        // A piece between boundaries larger than MDTS is cut again from
        // its start.
        let v: Vec<_> = lim(16, 64).split(60, 40).collect();
        assert_eq!(v, vec![(60, 4), (64, 16), (80, 16), (96, 4)]);
        // Within one boundary and MDTS: one command.
        assert!(lim(32, 24).fits(24, 24));
        assert!(!lim(32, 24).fits(23, 2));
        // A boundary that is not a power of two is still a multiple.
        let v: Vec<_> = lim(100, 6).split(4, 10).collect();
        assert_eq!(v, vec![(4, 2), (6, 6), (12, 2)]);
    }

    #[test]
    fn split_covers_the_io_and_keeps_every_limit() {
        let mut rng = 0x1234_5678_9abc_def0u64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        for _ in 0..10_000 {
            let l = lim(1 + next(300) as u32, next(4) as u32 * next(200) as u32);
            let lba = next(1 << 40);
            let blocks = 1 + next(5000) as u32;
            let mut at = lba;
            for (clba, n) in l.split(lba, blocks) {
                assert_eq!(clba, at);
                assert!(n >= 1 && n <= l.max_blocks, "{l:?} {lba} {blocks}");
                assert!(l.fits(clba, n), "{l:?} {clba} {n}");
                at += u64::from(n);
            }
            assert_eq!(at, lba + u64::from(blocks));
        }
    }

    fn done(sc: u8, data: &[u8]) -> Result<Completion, QpairError> {
        let mut st = Status::SUCCESS;
        st.sc = sc;
        Ok(Completion {
            cqe: Cqe::new(0, st),
            data: Bytes::copy_from_slice(data),
        })
    }

    #[test]
    fn split_completion_joins_data_and_keeps_the_last_failure() {
        // Completions out of LBA order: the data still joins in LBA order.
        let mut m = ChildMerge::new(3);
        m.add(2, done(0, b"cc"));
        m.add(0, done(0, b"aa"));
        m.add(1, done(0, b"bb"));
        let c = m.finish(true).unwrap();
        assert!(c.cqe.status.is_success());
        assert_eq!(&c.data[..], b"aabbcc");
        // Two failures: the later one is the I/O's status.
        let mut m = ChildMerge::new(3);
        m.add(1, done(0x02, b""));
        m.add(0, done(0, b"aa"));
        m.add(2, done(0x80, b""));
        let c = m.finish(true).unwrap();
        assert_eq!(c.cqe.status.sc, 0x80);
        assert!(c.data.is_empty());
        // A lost connection under any command makes the I/O a path
        // failure, whatever the others said.
        let mut m = ChildMerge::new(2);
        m.add(0, Err(QpairError::Disconnected));
        m.add(1, done(0x02, b""));
        assert_eq!(m.finish(false).unwrap_err(), QpairError::Disconnected);
    }
}

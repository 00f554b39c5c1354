//! The job runner: keeps exactly `queue_depth` I/Os in flight against one
//! `BlockDevice` until the run time elapses or a stop signal fires, then
//! drains.
//!
//! Why a hand-rolled slot table instead of `FuturesUnordered` or a task per
//! slot: `FuturesUnordered` allocates a task node for every pushed future
//! (one per I/O), and tasks per slot would share the counters, the offset
//! walk and the verify bitmap across threads. Here the job is one future
//! that owns `queue_depth` slots; each slot has a waker built once at start
//! that, when the device future wakes it, queues the slot index and wakes
//! the job. Per I/O that leaves the device's own boxed future as the only
//! heap allocation (plus whatever the device allocates for read data):
//! write data is a shared pattern for plain writes and a per-slot buffer
//! taken back with `BytesMut::try_reclaim` for verify writes
//! (`tests/perf.rs` counts the allocations).

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::futures::Notified;
use tokio::sync::Notify;
use tokio::time::Sleep;

use super::config::{PerfConfig, PerfError, Workload, MAX_QUEUE_DEPTH, MAX_VERIFY_BUFFER_BYTES};
use super::histogram::LatencyHistogram;
use super::pattern::{self, Miscompare, MIN_BLOCK_SIZE};
use super::stats::{
    duration_us, Counters, JobResult, JobStatus, LiveStats, OpLatency, Snapshot, MAX_EVENTS,
    MAX_RECORDED_MISCOMPARES,
};
use crate::bdev::{BlockDevice, IoError, IoFuture};
use crate::rng::Rng;

// ---- stop signal ------------------------------------------------------------

const RUNNING: u8 = 0;
const TERMINATE: u8 = 1;
const DRAIN: u8 = 2;

/// Stops jobs early. Cloning shares the signal.
///
/// * [`terminate`](Self::terminate): what bdevperf does on a shutdown
///   signal. Jobs drain their in-flight I/O and report status "terminated".
/// * [`drain`](Self::drain): what bdevperf does to the other jobs when one
///   fails: they drain and report their own status. A job that stops on a
///   failure calls this on the signal it was given, so jobs sharing one
///   signal stop together.
#[derive(Clone, Debug, Default)]
pub struct StopSignal {
    inner: Arc<StopInner>,
}

#[derive(Debug, Default)]
struct StopInner {
    state: AtomicU8,
    notify: Notify,
}

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn terminate(&self) {
        self.inner.state.store(TERMINATE, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    pub fn drain(&self) {
        // Never downgrades a terminate.
        let _ =
            self.inner
                .state
                .compare_exchange(RUNNING, DRAIN, Ordering::SeqCst, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    pub fn is_stopped(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) != RUNNING
    }

    pub fn is_terminated(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) == TERMINATE
    }

    /// Resolves once the signal has fired (either kind).
    pub async fn stopped(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

fn random_seed(name: &str) -> u64 {
    // RandomState is seeded per process and advanced per instance.
    let mut h = RandomState::new().build_hasher();
    h.write(name.as_bytes());
    h.finish()
}

// ---- job preparation ------------------------------------------------------------

/// A validated job: one device, one configuration. Built by
/// [`Job::prepare`], which applies bdevperf's job-construction rules.
pub struct Job {
    dev: Arc<dyn BlockDevice>,
    name: String,
    workload: Workload,
    read_percentage: i32,
    queue_depth: u32,
    io_size: u32,
    block_size: u32,
    io_size_blocks: u32,
    size_in_ios: u64,
    time: Duration,
    continue_on_failure: bool,
    timeout: Option<Duration>,
    core_mask: u64,
    generation_base: u64,
    seed: u64,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("name", &self.name)
            .field("workload", &self.workload)
            .field("queue_depth", &self.queue_depth)
            .field("io_size", &self.io_size)
            .field("size_in_ios", &self.size_in_ios)
            .finish_non_exhaustive()
    }
}

impl Job {
    /// Checks `cfg` against the device, like bdevperf's job construction:
    /// IO size a multiple of the block size, unmap unsupported, verify range
    /// limits, and the verify queue-depth cap (a warning, not an error).
    pub fn prepare(dev: Arc<dyn BlockDevice>, cfg: &PerfConfig) -> Result<Job, PerfError> {
        cfg.validate()?;
        let workload = cfg.workload.ok_or(PerfError::WorkloadNotSet)?;
        let name = dev.name().to_string();
        let block_size = dev.block_size();
        if block_size == 0 || !cfg.io_size.is_multiple_of(block_size) {
            return Err(PerfError::IoSizeNotMultiple {
                io_size: cfg.io_size,
                bdev: name,
                block_size,
            });
        }
        if workload == Workload::Unmap && !dev.supports_unmap() {
            return Err(PerfError::UnmapUnsupported(name));
        }
        let io_size_blocks = cfg.io_size / block_size;
        let size_in_ios = dev.num_blocks() / u64::from(io_size_blocks);
        if size_in_ios == 0 {
            return Err(PerfError::IoSizeLargerThanBdev {
                io_size: cfg.io_size,
                bytes: dev.num_blocks().saturating_mul(u64::from(block_size)),
                bdev: name,
            });
        }
        let mut queue_depth = cfg.queue_depth;
        let mut warnings = cfg.warnings();
        if workload.is_verify() {
            if size_in_ios >= u64::from(u32::MAX) {
                return Err(PerfError::VerifyRangeTooLarge);
            }
            if block_size < MIN_BLOCK_SIZE {
                return Err(PerfError::BlockTooSmall {
                    bdev: name,
                    block_size,
                });
            }
            if u64::from(queue_depth) > size_in_ios {
                // bdevperf's warning text.
                warnings.push(format!(
                    "Due to constraints of verify job, queue depth (-q, {queue_depth}) can't exceed the number of IO requests which can be submitted to the bdev {name} simultaneously ({size_in_ios}). Queue depth is limited to {size_in_ios}"
                ));
                // Fits: size_in_ios < queue_depth <= u32::MAX here.
                queue_depth = u32::try_from(size_in_ios).unwrap_or(queue_depth);
            }
        }
        let too_much = queue_depth > MAX_QUEUE_DEPTH
            || (workload.is_verify()
                && u64::from(queue_depth) * u64::from(cfg.io_size) > MAX_VERIFY_BUFFER_BYTES);
        if too_much {
            return Err(PerfError::TooMuchMemory {
                queue_depth,
                io_size: cfg.io_size,
                bdev: name,
            });
        }
        Ok(Job {
            seed: random_seed(&name),
            dev,
            name,
            workload,
            read_percentage: cfg.effective_read_percentage(),
            queue_depth,
            io_size: cfg.io_size,
            block_size,
            io_size_blocks,
            size_in_ios,
            time: Duration::from_secs(u64::from(cfg.time_in_sec)),
            continue_on_failure: cfg.continue_on_failure,
            timeout: (cfg.timeout_in_sec > 0)
                .then(|| Duration::from_secs(u64::from(cfg.timeout_in_sec))),
            core_mask: lowest_core(cfg.core_mask),
            generation_base: cfg.verify_generation_base,
            warnings,
        })
    }

    /// The core this job reports ("Core Mask 0x..").
    pub fn with_core_mask(mut self, core_mask: u64) -> Self {
        self.core_mask = core_mask;
        self
    }

    /// Fixes the PRNG seed (offsets and the rw mix), for reproducible runs.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Effective queue depth (verify caps it at the range length).
    pub fn queue_depth(&self) -> u32 {
        self.queue_depth
    }

    /// The LBA range walked, in IO-size units.
    pub fn size_in_ios(&self) -> u64 {
        self.size_in_ios
    }

    /// Notices bdevperf would print for this job (queue depth cap, -M).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Runs the job to completion; see [`run_job`].
    pub async fn run(
        self,
        live: Arc<LiveStats>,
        mut progress: impl FnMut(&Snapshot),
        stop: StopSignal,
    ) -> JobResult {
        let dev: &dyn BlockDevice = &*self.dev;
        let mut d = Driver::new(&self, dev, &live, &stop);
        live.set_running(true);
        let start = d.start;
        for idx in 0..d.slots.len() {
            d.submit(idx, start);
        }
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(d.deadline()));
        tokio::pin!(sleep);
        let notified = stop.inner.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        poll_fn(|cx| d.poll(cx, sleep.as_mut(), notified.as_mut(), &mut progress)).await;
        d.finish()
    }
}

/// The lowest set bit of a core mask (bdevperf puts a job on one core).
pub(crate) fn lowest_core(mask: u64) -> u64 {
    if mask == 0 {
        1
    } else {
        mask & mask.wrapping_neg()
    }
}

/// Runs one bdevperf job against `dev` and returns its result when the run
/// time has elapsed (or `stop` fired) and every in-flight I/O completed.
///
/// `progress` is called once per elapsed second. If `cfg` does not fit the
/// device, the result has `status` Failed and `error` set. Use
/// [`run_job_with_stats`] to watch live counters from another task.
pub async fn run_job(
    dev: Arc<dyn BlockDevice>,
    cfg: &PerfConfig,
    progress: impl FnMut(&Snapshot),
    stop: StopSignal,
) -> JobResult {
    run_job_with_stats(dev, cfg, Arc::new(LiveStats::new()), progress, stop).await
}

/// [`run_job`] publishing into a caller-held [`LiveStats`].
pub async fn run_job_with_stats(
    dev: Arc<dyn BlockDevice>,
    cfg: &PerfConfig,
    live: Arc<LiveStats>,
    progress: impl FnMut(&Snapshot),
    stop: StopSignal,
) -> JobResult {
    let name = dev.name().to_string();
    match Job::prepare(dev, cfg) {
        Ok(job) => job.run(live, progress, stop).await,
        Err(e) => {
            live.finish(0, true);
            let event = e.to_string();
            empty_result(name, cfg, Some(e), event)
        }
    }
}

/// A failed result with no I/O: a job that could not start (`error` set) or
/// whose task ended abnormally.
pub(crate) fn empty_result(
    name: String,
    cfg: &PerfConfig,
    error: Option<PerfError>,
    event: String,
) -> JobResult {
    JobResult {
        job: name,
        core_mask: lowest_core(cfg.core_mask),
        workload: cfg.workload.unwrap_or(Workload::Read),
        rw_percentage: cfg.effective_read_percentage(),
        status: JobStatus::Failed,
        verify_range: None,
        queue_depth: cfg.queue_depth,
        io_size: cfg.io_size,
        run_time_us: 0,
        io_completed: 0,
        io_failed: 0,
        io_timeout: 0,
        io_miscompared: 0,
        bytes: 0,
        latency: LatencyHistogram::new(),
        verify_write_latency: OpLatency::default(),
        verify_read_latency: OpLatency::default(),
        miscompares: Vec::new(),
        events: vec![event],
        last_generation: 0,
        error,
    }
}

// ---- the slot table ---------------------------------------------------------------

/// Slot indices whose futures were woken, and the job's own waker.
struct Ready {
    list: Vec<u32>,
    waker: Option<Waker>,
}

struct Shared {
    ready: Mutex<Ready>,
}

fn lock(m: &Mutex<Ready>) -> MutexGuard<'_, Ready> {
    // The lock holds plain data; a panic elsewhere cannot leave it invalid.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Records the job's waker and moves woken slots onto `runq`.
    fn take_ready(&self, waker: &Waker, runq: &mut VecDeque<u32>) -> bool {
        let mut g = lock(&self.ready);
        if !g.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            g.waker = Some(waker.clone());
        }
        if g.list.is_empty() {
            return false;
        }
        runq.extend(g.list.drain(..));
        true
    }
}

/// The waker of one slot, created once per slot per run.
struct SlotWaker {
    idx: u32,
    /// Set while the index sits in the ready list, so repeated wakes queue
    /// it once. Cleared just before the slot is polled.
    queued: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        // Only the first index queued since the job last drained the list
        // wakes the job: it takes the whole list when it runs.
        let parent = {
            let mut g = lock(&self.shared.ready);
            g.list.push(self.idx);
            if g.list.len() == 1 {
                g.waker.clone()
            } else {
                None
            }
        };
        if let Some(w) = parent {
            w.wake();
        }
    }
}

enum OpFuture<'a> {
    Data(IoFuture<'a, Bytes>),
    Unit(IoFuture<'a, ()>),
}

impl OpFuture<'_> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, IoError>> {
        match self {
            OpFuture::Data(f) => f.as_mut().poll(cx).map(|r| r.map(Some)),
            OpFuture::Unit(f) => f.as_mut().poll(cx).map(|r| r.map(|()| None)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Read,
    Write,
    Flush,
    WriteZeroes,
    Unmap,
    VerifyWrite,
    VerifyRead,
}

struct Slot<'a> {
    fut: Option<OpFuture<'a>>,
    kind: OpKind,
    waker: Waker,
    flag: Arc<SlotWaker>,
    /// Submission of the I/O (for verify: of the write).
    started: Instant,
    /// Submission of the current op (verify: write, then read).
    op_started: Instant,
    offset_in_ios: u64,
    generation: u64,
    /// Verify: this slot's write buffer (see `verify_buffer`).
    wbuf: BytesMut,
}

enum Outcome {
    Ok,
    Failed(IoError),
    Miscompare(Miscompare),
}

/// Completions handled per poll before yielding to the runtime, so a device
/// that always completes at once cannot starve other tasks.
const BUDGET: u32 = 256;
const SECOND: Duration = Duration::from_secs(1);
/// bdevperf's reset workload resets the bdev 10 s after the start and 10 s
/// after each reset completes.
pub const RESET_PERIOD: Duration = Duration::from_secs(10);

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

struct Driver<'a> {
    job: &'a Job,
    dev: &'a dyn BlockDevice,
    live: &'a LiveStats,
    stop: &'a StopSignal,
    slots: Vec<Slot<'a>>,
    shared: Arc<Shared>,
    runq: VecDeque<u32>,
    // Offset walk.
    offset_in_ios: u64,
    pass: u64,
    outstanding: Vec<u64>,
    rng: Rng,
    pattern: Bytes,
    // Accounting.
    c: Counters,
    hist: LatencyHistogram,
    wlat: OpLatency,
    rlat: OpLatency,
    in_flight: u32,
    miscompares: Vec<Miscompare>,
    events: Vec<String>,
    last_generation: u64,
    error_stop: bool,
    // Reset workload: the reset under way, or when the next one is due.
    reset: Option<IoFuture<'a, ()>>,
    next_reset: Option<Instant>,
    // Time.
    start: Instant,
    end: Instant,
    draining: bool,
    drained_at: Option<Instant>,
    armed: Option<Instant>,
    period: u64,
    next_tick: Instant,
    tick_prev: (u64, u64, Instant),
}

impl<'a> Driver<'a> {
    fn new(
        job: &'a Job,
        dev: &'a dyn BlockDevice,
        live: &'a LiveStats,
        stop: &'a StopSignal,
    ) -> Self {
        let start = Instant::now();
        let shared = Arc::new(Shared {
            ready: Mutex::new(Ready {
                list: Vec::with_capacity(job.queue_depth as usize),
                waker: None,
            }),
        });
        let slots = (0..job.queue_depth)
            .map(|idx| {
                let flag = Arc::new(SlotWaker {
                    idx,
                    queued: AtomicBool::new(false),
                    shared: Arc::clone(&shared),
                });
                Slot {
                    fut: None,
                    kind: OpKind::Read,
                    waker: Waker::from(Arc::clone(&flag)),
                    flag,
                    started: start,
                    op_started: start,
                    offset_in_ios: 0,
                    generation: 0,
                    wbuf: BytesMut::new(),
                }
            })
            .collect();
        let outstanding = if job.workload.is_verify() {
            vec![0u64; job.size_in_ios.div_ceil(64) as usize]
        } else {
            Vec::new()
        };
        let needs_pattern = matches!(
            job.workload,
            Workload::Write | Workload::RandWrite | Workload::Rw | Workload::RandRw
        ) && job.read_percentage < 100;
        Driver {
            job,
            dev,
            live,
            stop,
            slots,
            shared,
            runq: VecDeque::with_capacity(job.queue_depth as usize * 2),
            offset_in_ios: 0,
            pass: 1,
            outstanding,
            rng: Rng::new(job.seed),
            pattern: if needs_pattern {
                write_pattern(job.io_size as usize, job.block_size as usize)
            } else {
                Bytes::new()
            },
            c: Counters::default(),
            hist: LatencyHistogram::new(),
            wlat: OpLatency::default(),
            rlat: OpLatency::default(),
            in_flight: 0,
            miscompares: Vec::new(),
            events: Vec::new(),
            last_generation: 0,
            error_stop: false,
            reset: None,
            next_reset: (job.workload == Workload::Reset).then(|| start + RESET_PERIOD),
            start,
            end: start + job.time,
            draining: false,
            drained_at: None,
            armed: None,
            period: 0,
            next_tick: start + SECOND,
            tick_prev: (0, 0, start),
        }
    }

    /// When the job's timer next needs attention.
    fn deadline(&self) -> Instant {
        if self.draining {
            self.next_tick
        } else {
            let t = self.next_tick.min(self.end);
            match self.next_reset {
                Some(r) if self.reset.is_none() => t.min(r),
                _ => t,
            }
        }
    }

    /// Starts a due reset and polls the one under way. A reset takes no
    /// I/O slot and is not counted as I/O (bdevperf gives it a task of its
    /// own); one that fails drains the job and fails the run, as bdevperf's
    /// reset_cb does.
    fn poll_reset(&mut self, cx: &mut Context<'_>, now: Instant) {
        if self.reset.is_none() && !self.draining && self.next_reset.is_some_and(|t| now >= t) {
            self.reset = Some(self.dev.reset());
        }
        let Some(f) = self.reset.as_mut() else {
            return;
        };
        let Poll::Ready(r) = f.as_mut().poll(cx) else {
            return;
        };
        self.reset = None;
        match r {
            Ok(()) => self.next_reset = Some(Instant::now() + RESET_PERIOD),
            Err(e) => {
                self.next_reset = None;
                let name = self.job.name.clone();
                // bdevperf's line, then ours with the reason.
                self.event(format!("Reset blockdev={name} failed"));
                self.event(format!("{name}: reset failed: {e}"));
                self.stop_on_error();
            }
        }
    }

    // -- offsets --

    fn outstanding_get(&self, off: u64) -> bool {
        self.outstanding
            .get((off / 64) as usize)
            .is_some_and(|w| w & (1 << (off % 64)) != 0)
    }

    fn outstanding_set(&mut self, off: u64, on: bool) {
        if let Some(w) = self.outstanding.get_mut((off / 64) as usize) {
            if on {
                *w |= 1 << (off % 64);
            } else {
                *w &= !(1 << (off % 64));
            }
        }
    }

    /// bdevperf's sequential walk: offset in IO-size units, wrapping. Each
    /// wrap starts a new verify generation.
    fn next_sequential(&mut self) -> u64 {
        let off = self.offset_in_ios;
        self.offset_in_ios += 1;
        if self.offset_in_ios >= self.job.size_in_ios {
            self.offset_in_ios = 0;
            self.pass += 1;
        }
        off
    }

    /// Verify: the next sequential offset with no I/O in flight (bdevperf
    /// skips outstanding ones the same way). The caller guarantees a free
    /// one exists: in-flight < queue depth <= range length.
    fn next_verify(&mut self) -> (u64, u64) {
        for _ in 0..=self.job.size_in_ios {
            // pass starts at 1: the first generation is base + 1.
            let generation = self.job.generation_base.saturating_add(self.pass);
            let off = self.next_sequential();
            if !self.outstanding_get(off) {
                self.outstanding_set(off, true);
                return (off, generation);
            }
        }
        // Unreachable by the invariant above; fall back to the current
        // position rather than loop forever.
        (
            self.offset_in_ios,
            self.job.generation_base.saturating_add(self.pass),
        )
    }

    fn pick(&mut self) -> (OpKind, u64, u64) {
        let job = self.job;
        match job.workload {
            Workload::Verify | Workload::Reset => {
                let (off, g) = self.next_verify();
                (OpKind::VerifyWrite, off, g)
            }
            Workload::Flush => (OpKind::Flush, self.next_sequential(), 0),
            Workload::WriteZeroes => (OpKind::WriteZeroes, self.next_sequential(), 0),
            Workload::Unmap => (OpKind::Unmap, self.next_sequential(), 0),
            _ => {
                let off = if job.workload.is_random() {
                    self.rng.below(job.size_in_ios)
                } else {
                    self.next_sequential()
                };
                let pct = job.read_percentage;
                let read =
                    pct >= 100 || (pct > 0 && (self.rng.next_u64() >> 32) % 100 < pct as u64);
                (if read { OpKind::Read } else { OpKind::Write }, off, 0)
            }
        }
    }

    // -- submission and completion --

    /// The data of a verify write, in the slot's own buffer. The buffer is
    /// handed out with `split().freeze()`, which keeps the slot's (empty)
    /// handle on the same allocation; once the device drops its `Bytes`,
    /// `try_reclaim` takes the whole allocation back without allocating.
    fn verify_buffer(&mut self, idx: usize, lba: u64, generation: u64) -> Bytes {
        let len = self.job.io_size as usize;
        let block_size = self.job.block_size as usize;
        let buf = &mut self.slots[idx].wbuf;
        if buf.capacity() < len && !buf.try_reclaim(len) {
            // First use, or the device still holds the last write's data.
            *buf = BytesMut::with_capacity(len);
        }
        buf.resize(len, 0);
        pattern::fill_io(&mut buf[..], lba, generation, block_size);
        buf.split().freeze()
    }

    fn submit(&mut self, idx: usize, now: Instant) {
        let (kind, off, generation) = self.pick();
        let blocks = self.job.io_size_blocks;
        // off < size_in_ios = num_blocks / blocks, so this cannot overflow.
        let lba = off * u64::from(blocks);
        let dev = self.dev;
        let fut = match kind {
            OpKind::Read | OpKind::VerifyRead => OpFuture::Data(dev.read(lba, blocks)),
            OpKind::Write => OpFuture::Unit(dev.write(lba, self.pattern.clone())),
            OpKind::Flush => OpFuture::Unit(dev.flush()),
            OpKind::WriteZeroes => OpFuture::Unit(dev.write_zeroes(lba, blocks)),
            OpKind::Unmap => OpFuture::Unit(dev.unmap(lba, u64::from(blocks))),
            OpKind::VerifyWrite => {
                self.last_generation = self.last_generation.max(generation);
                let data = self.verify_buffer(idx, lba, generation);
                OpFuture::Unit(dev.write(lba, data))
            }
        };
        let s = &mut self.slots[idx];
        s.fut = Some(fut);
        s.kind = kind;
        s.started = now;
        s.op_started = now;
        s.offset_in_ios = off;
        s.generation = generation;
        self.in_flight += 1;
        // Poll it right away: many devices complete without waiting.
        self.runq.push_back(idx as u32);
    }

    /// Polls one slot; returns the completion time if an op completed.
    fn poll_slot(&mut self, idx: usize) -> Option<Instant> {
        let s = self.slots.get_mut(idx)?;
        s.flag.queued.store(false, Ordering::Release);
        let fut = s.fut.as_mut()?;
        let mut cx = Context::from_waker(&s.waker);
        let out = match fut.poll(&mut cx) {
            Poll::Pending => return None,
            Poll::Ready(out) => out,
        };
        // Drop the device future before anything is resubmitted.
        s.fut = None;
        let now = Instant::now();
        self.complete(idx, out, now);
        Some(now)
    }

    fn complete(&mut self, idx: usize, out: Result<Option<Bytes>, IoError>, now: Instant) {
        let job = self.job;
        let s = &mut self.slots[idx];
        let op_ns = ns(now.saturating_duration_since(s.op_started));
        let lba = s.offset_in_ios * u64::from(job.io_size_blocks);
        let outcome = match (s.kind, out) {
            (OpKind::VerifyWrite, Ok(_)) => {
                self.wlat.record(op_ns);
                // Read the same range back; the I/O is not complete yet.
                s.fut = Some(OpFuture::Data(self.dev.read(lba, job.io_size_blocks)));
                s.kind = OpKind::VerifyRead;
                s.op_started = now;
                self.runq.push_back(idx as u32);
                return;
            }
            (OpKind::VerifyWrite, Err(e)) => {
                self.wlat.record(op_ns);
                Outcome::Failed(e)
            }
            (OpKind::VerifyRead, Ok(data)) => {
                self.rlat.record(op_ns);
                let data = data.unwrap_or_default();
                match pattern::check_io(
                    &data,
                    job.io_size as usize,
                    lba,
                    s.generation,
                    job.block_size as usize,
                ) {
                    Ok(()) => Outcome::Ok,
                    Err(m) => Outcome::Miscompare(m),
                }
            }
            (OpKind::VerifyRead, Err(e)) => {
                self.rlat.record(op_ns);
                Outcome::Failed(e)
            }
            (_, Ok(_)) => Outcome::Ok,
            (_, Err(e)) => Outcome::Failed(e),
        };
        self.finish_io(idx, lba, outcome, now);
        if !self.draining {
            if now >= self.end || self.stop.is_stopped() {
                self.start_drain();
            } else {
                self.submit(idx, now);
            }
        }
    }

    fn event(&mut self, line: String) {
        if self.events.len() < MAX_EVENTS {
            self.events.push(line);
        }
    }

    fn finish_io(&mut self, idx: usize, lba: u64, outcome: Outcome, now: Instant) {
        let job = self.job;
        let s = &self.slots[idx];
        let lat = now.saturating_duration_since(s.started);
        let off = s.offset_in_ios;
        self.hist.record(ns(lat));
        let mut timed_out = job.timeout.is_some_and(|t| lat > t);
        match outcome {
            Outcome::Ok => {
                self.c.io_completed += 1;
                self.c.bytes += u64::from(job.io_size);
            }
            Outcome::Failed(e) => {
                self.c.io_failed += 1;
                timed_out |= e == IoError::Timeout;
                // bdevperf: reset jobs and -f keep going after a failure.
                if !job.continue_on_failure && job.workload != Workload::Reset {
                    if !self.error_stop {
                        // bdevperf's line, then ours with the reason.
                        self.event(format!("task offset: {lba} on job bdev={} fails", job.name));
                        self.event(format!("{}: I/O at LBA {lba} failed: {e}", job.name));
                    }
                    self.stop_on_error();
                }
            }
            Outcome::Miscompare(m) => {
                // Counted as completed, like bdevperf, and separately.
                self.c.io_completed += 1;
                self.c.bytes += u64::from(job.io_size);
                self.c.io_miscompared += 1;
                self.event(format!(
                    "Buffer mismatch! Target: {} Disk Offset: {lba}",
                    job.name
                ));
                self.event(format!("{}: verify miscompare: {m}", job.name));
                if self.miscompares.len() < MAX_RECORDED_MISCOMPARES {
                    self.miscompares.push(m);
                }
                // Ours: with -f, keep counting miscompares (bdevperf always
                // stops on the first one).
                if !job.continue_on_failure {
                    self.stop_on_error();
                }
            }
        }
        if timed_out {
            self.c.io_timeout += 1;
        }
        if job.workload.is_verify() {
            self.outstanding_set(off, false);
        }
        self.in_flight -= 1;
    }

    fn stop_on_error(&mut self) {
        self.error_stop = true;
        self.start_drain();
        // bdevperf drains every job after the first failure.
        self.stop.drain();
    }

    fn start_drain(&mut self) {
        self.draining = true;
    }

    // -- time --

    fn maybe_tick(&mut self, now: Instant, progress: &mut impl FnMut(&Snapshot)) {
        while now >= self.next_tick {
            self.period += 1;
            self.next_tick += SECOND;
            let snap = self.snapshot(now);
            self.publish(now);
            progress(&snap);
        }
    }

    fn snapshot(&mut self, now: Instant) -> Snapshot {
        let job = self.job;
        let mib = 1024.0 * 1024.0;
        let (prev_ios, prev_bytes, prev_t) = self.tick_prev;
        let dt = now.saturating_duration_since(prev_t).as_secs_f64();
        let interval_ios = self.c.io_completed - prev_ios;
        let interval_bytes = self.c.bytes - prev_bytes;
        self.tick_prev = (self.c.io_completed, self.c.bytes, now);
        let iops = self.c.io_completed as f64 / self.period.max(1) as f64;
        let us = |v: Option<u64>| v.map_or(0.0, |v| v as f64 / 1000.0);
        let n = self.c.io_completed + self.c.io_failed;
        Snapshot {
            job: job.name.clone(),
            period: self.period,
            elapsed: now.saturating_duration_since(self.start),
            io_completed: self.c.io_completed,
            io_failed: self.c.io_failed,
            io_timeout: self.c.io_timeout,
            io_miscompared: self.c.io_miscompared,
            bytes: self.c.bytes,
            in_flight: self.in_flight,
            iops,
            mibps: iops * f64::from(job.io_size) / mib,
            interval_iops: if dt > 0.0 {
                interval_ios as f64 / dt
            } else {
                0.0
            },
            interval_mibps: if dt > 0.0 {
                interval_bytes as f64 / dt / mib
            } else {
                0.0
            },
            avg_latency_us: if n == 0 {
                0.0
            } else {
                self.hist.sum() as f64 / n as f64 / 1000.0
            },
            min_latency_us: us(self.hist.min()),
            max_latency_us: us(self.hist.max()),
            p50_latency_us: us(self.hist.value_at_percentile(50.0)),
            p99_latency_us: us(self.hist.value_at_percentile(99.0)),
            p999_latency_us: us(self.hist.value_at_percentile(99.9)),
        }
    }

    fn publish(&self, now: Instant) {
        self.live.publish(
            &self.c,
            self.in_flight,
            &self.hist,
            now.saturating_duration_since(self.start),
        );
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        mut sleep: Pin<&mut Sleep>,
        mut notified: Pin<&mut Notified<'_>>,
        progress: &mut impl FnMut(&Snapshot),
    ) -> Poll<()> {
        self.shared.take_ready(cx.waker(), &mut self.runq);
        // Reset workload only: a busy queue must not hold a due reset back.
        if self.reset.is_some() || self.next_reset.is_some() {
            self.poll_reset(cx, Instant::now());
        }
        let mut budget = BUDGET;
        loop {
            while let Some(idx) = self.runq.pop_front() {
                if let Some(now) = self.poll_slot(idx as usize) {
                    self.maybe_tick(now, progress);
                }
                budget -= 1;
                if budget == 0 {
                    self.publish(Instant::now());
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
            if self.shared.take_ready(cx.waker(), &mut self.runq) {
                continue;
            }
            // Nothing ready: check the clock and the stop signal, then wait.
            let now = Instant::now();
            self.maybe_tick(now, progress);
            if !self.draining && (now >= self.end || self.stop.is_stopped()) {
                self.start_drain();
            }
            self.poll_reset(cx, now);
            if self.draining && self.in_flight == 0 && self.reset.is_none() {
                self.drained_at = Some(now);
                return Poll::Ready(());
            }
            if !self.draining && notified.as_mut().poll(cx).is_ready() {
                self.start_drain();
                continue;
            }
            let deadline = self.deadline();
            if self.armed != Some(deadline) {
                sleep
                    .as_mut()
                    .reset(tokio::time::Instant::from_std(deadline));
                self.armed = Some(deadline);
            }
            if sleep.as_mut().poll(cx).is_ready() {
                if Instant::now() >= deadline {
                    continue;
                }
                // The timer fired a hair early: re-arm just after.
                let later = deadline + Duration::from_millis(1);
                sleep.as_mut().reset(tokio::time::Instant::from_std(later));
                self.armed = Some(later);
                if sleep.as_mut().poll(cx).is_ready() {
                    continue;
                }
            }
            self.publish(now);
            return Poll::Pending;
        }
    }

    fn finish(self) -> JobResult {
        let job = self.job;
        let end = self.drained_at.unwrap_or_else(Instant::now);
        let run_time_us = duration_us(end.saturating_duration_since(self.start));
        self.live.publish(
            &self.c,
            0,
            &self.hist,
            end.saturating_duration_since(self.start),
        );
        self.live.finish(run_time_us, self.error_stop);
        let status = if self.stop.is_terminated() {
            JobStatus::Terminated
        } else if self.error_stop {
            JobStatus::Failed
        } else {
            JobStatus::Finished
        };
        JobResult {
            job: job.name.clone(),
            core_mask: job.core_mask,
            workload: job.workload,
            rw_percentage: job.read_percentage,
            status,
            verify_range: job.workload.is_verify().then_some((0, job.size_in_ios)),
            queue_depth: job.queue_depth,
            io_size: job.io_size,
            run_time_us,
            io_completed: self.c.io_completed,
            io_failed: self.c.io_failed,
            io_timeout: self.c.io_timeout,
            io_miscompared: self.c.io_miscompared,
            bytes: self.c.bytes,
            latency: self.hist,
            verify_write_latency: self.wlat,
            verify_read_latency: self.rlat,
            miscompares: self.miscompares,
            events: self.events,
            last_generation: self.last_generation,
            error: None,
        }
    }
}

/// bdevperf's data for plain writes: each 32-bit word holds its block
/// index within the I/O plus its byte offset within the block. Built once
/// per job and shared by every write.
fn write_pattern(io_size: usize, block_size: usize) -> Bytes {
    let mut buf = BytesMut::zeroed(io_size);
    if block_size > 0 {
        for (b, block) in buf.chunks_mut(block_size).enumerate() {
            for (w, word) in block.chunks_mut(4).enumerate() {
                let v = (b as u32).wrapping_add((w * 4) as u32);
                let bytes = v.to_le_bytes();
                let n = word.len();
                word.copy_from_slice(&bytes[..n]);
            }
        }
    }
    buf.freeze()
}

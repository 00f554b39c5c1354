//! An in-memory `BlockDevice` with injectable faults, for tests, demos and
//! measuring the load generator itself.
//!
//! Faults model what multipath verify is meant to catch: a failed I/O, a
//! lost write (acknowledged, not stored: later reads are stale), a read
//! served from another LBA, a corrupted read, and slow I/O.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use crate::bdev::{BlockDevice, IoError, IoFuture};

/// Faults applied to every later I/O (see [`MemDevice::set_faults`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Any I/O touching this LBA fails with `fail_error`.
    pub fail_lba: Option<u64>,
    /// The error for `fail_lba` (default: NVMe generic Internal Error).
    pub fail_error: Option<IoError>,
    /// Writes to block `.0` after the first `.1` writes of it are
    /// acknowledged but not stored, so reads return older data.
    pub lost_writes: Option<(u64, u64)>,
    /// Reads of block `.0` return the contents of block `.1`.
    pub misdirect_read: Option<(u64, u64)>,
    /// Reads of this block return it with one bit flipped (byte 100).
    pub corrupt_read_lba: Option<u64>,
    /// Every I/O completes after this long (a tokio timer).
    pub delay: Option<Duration>,
    /// Every I/O returns `Pending` once (waking itself) before completing,
    /// so a whole queue of them is in flight together.
    pub yield_once: bool,
}

impl Faults {
    fn any(&self) -> bool {
        *self != Faults::default()
    }
}

/// Counters of what the device saw.
#[derive(Debug, Default)]
pub struct MemStats {
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    pub flushes: AtomicU64,
    pub write_zeroes: AtomicU64,
    /// I/Os created and not yet completed or dropped.
    pub in_flight: AtomicU32,
    /// The most I/Os ever in flight at once.
    pub max_in_flight: AtomicU32,
    /// The highest `lba + blocks` of any I/O (range check for tests).
    pub max_lba_end: AtomicU64,
    /// I/Os whose range was out of bounds.
    pub out_of_range: AtomicU64,
    /// I/Os whose LBA was not a multiple of their block count.
    pub unaligned: AtomicU64,
}

/// A RAM block device. Cloning the `Arc` shares it.
pub struct MemDevice {
    name: String,
    block_size: u32,
    num_blocks: u64,
    data: Mutex<Vec<u8>>,
    faults: Mutex<Faults>,
    has_faults: AtomicBool,
    /// Writes seen to the `lost_writes` block since `set_faults`.
    lost_count: AtomicU64,
    stats: Arc<MemStats>,
}

impl std::fmt::Debug for MemDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemDevice")
            .field("name", &self.name)
            .field("block_size", &self.block_size)
            .field("num_blocks", &self.num_blocks)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data behind the lock; a panic elsewhere cannot leave it invalid.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Decrements the in-flight gauge when the I/O's future goes away.
struct InFlight(Arc<MemStats>);

impl InFlight {
    fn new(stats: &Arc<MemStats>) -> Self {
        let now = stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        stats.max_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(Arc::clone(stats))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The device's I/O future: ready at once, or after one `Pending`, or after
/// a timer.
struct MemIo<T> {
    result: Option<Result<T, IoError>>,
    yield_once: bool,
    delay: Option<Pin<Box<tokio::time::Sleep>>>,
    _in_flight: InFlight,
}

impl<T: Unpin> Future for MemIo<T> {
    type Output = Result<T, IoError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(d) = self.delay.as_mut() {
            if d.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.delay = None;
        }
        if self.yield_once {
            self.yield_once = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match self.result.take() {
            Some(r) => Poll::Ready(r),
            // Polled after completion: report it rather than panic.
            None => Poll::Ready(Err(IoError::Invalid("polled after completion"))),
        }
    }
}

impl MemDevice {
    /// A zero-filled device. If the memory cannot be had (or `block_size`
    /// is 0), the device has 0 blocks and every I/O fails as out of range.
    pub fn new(name: &str, block_size: u32, num_blocks: u64) -> Arc<MemDevice> {
        let bytes = num_blocks
            .checked_mul(u64::from(block_size))
            .and_then(|b| usize::try_from(b).ok());
        let mut data = Vec::new();
        let ok = block_size > 0 && bytes.is_some_and(|b| data.try_reserve_exact(b).is_ok());
        let num_blocks = if ok {
            data.resize(bytes.unwrap_or(0), 0);
            num_blocks
        } else {
            tracing::warn!("MemDevice {name}: cannot allocate {num_blocks} x {block_size} bytes");
            0
        };
        Arc::new(MemDevice {
            name: name.to_string(),
            block_size,
            num_blocks,
            data: Mutex::new(data),
            faults: Mutex::new(Faults::default()),
            has_faults: AtomicBool::new(false),
            lost_count: AtomicU64::new(0),
            stats: Arc::new(MemStats::default()),
        })
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults.clone();
        self.lost_count.store(0, Ordering::Relaxed);
        self.has_faults.store(faults.any(), Ordering::Release);
    }

    pub fn stats(&self) -> &MemStats {
        &self.stats
    }

    /// A copy of block `lba` (empty if out of range).
    pub fn block(&self, lba: u64) -> Vec<u8> {
        match self.range(lba, 1) {
            Some(r) => lock(&self.data)[r].to_vec(),
            None => Vec::new(),
        }
    }

    fn range(&self, lba: u64, blocks: u32) -> Option<std::ops::Range<usize>> {
        let end = lba.checked_add(u64::from(blocks))?;
        if blocks == 0 || self.block_size == 0 || end > self.num_blocks {
            return None;
        }
        let bs = u64::from(self.block_size);
        let start = usize::try_from(lba.checked_mul(bs)?).ok()?;
        let stop = usize::try_from(end.checked_mul(bs)?).ok()?;
        Some(start..stop)
    }

    fn note(&self, lba: u64, blocks: u32) -> Result<std::ops::Range<usize>, IoError> {
        let s = &self.stats;
        if blocks > 0 && !lba.is_multiple_of(u64::from(blocks)) {
            s.unaligned.fetch_add(1, Ordering::Relaxed);
        }
        match self.range(lba, blocks) {
            Some(r) => {
                s.max_lba_end
                    .fetch_max(lba + u64::from(blocks), Ordering::Relaxed);
                Ok(r)
            }
            None => {
                s.out_of_range.fetch_add(1, Ordering::Relaxed);
                Err(IoError::Invalid("LBA out of range"))
            }
        }
    }

    fn faults(&self) -> Option<Faults> {
        self.has_faults
            .load(Ordering::Acquire)
            .then(|| lock(&self.faults).clone())
    }

    fn io<T: Unpin + Send + 'static>(
        &self,
        result: Result<T, IoError>,
        faults: Option<&Faults>,
    ) -> IoFuture<'_, T> {
        Box::pin(MemIo {
            result: Some(result),
            yield_once: faults.is_some_and(|f| f.yield_once),
            delay: faults
                .and_then(|f| f.delay)
                .map(|d| Box::pin(tokio::time::sleep(d))),
            _in_flight: InFlight::new(&self.stats),
        })
    }

    fn injected_failure(f: Option<&Faults>, lba: u64, blocks: u32) -> Option<IoError> {
        let f = f?;
        let target = f.fail_lba?;
        (target >= lba && target < lba + u64::from(blocks)).then(|| {
            f.fail_error
                .clone()
                .unwrap_or(IoError::Status { sct: 0, sc: 6 })
        })
    }
}

impl BlockDevice for MemDevice {
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
        self.stats.reads.fetch_add(1, Ordering::Relaxed);
        let faults = self.faults();
        let f = faults.as_ref();
        let result = self.note(lba, blocks).and_then(|r| {
            if let Some(e) = Self::injected_failure(f, lba, blocks) {
                return Err(e);
            }
            let mut out = lock(&self.data)[r].to_vec();
            if let Some(f) = f {
                let bs = self.block_size as usize;
                let covers = |x: u64| x >= lba && x < lba + u64::from(blocks);
                if let Some((from, to)) = f.misdirect_read.filter(|&(x, _)| covers(x)) {
                    let src = self.block(to);
                    let at = (from - lba) as usize * bs;
                    if src.len() == bs {
                        out[at..at + bs].copy_from_slice(&src);
                    }
                }
                if let Some(x) = f.corrupt_read_lba.filter(|&x| covers(x)) {
                    let at = (x - lba) as usize * bs + 100.min(bs - 1);
                    out[at] ^= 0x10;
                }
            }
            Ok(Bytes::from(out))
        });
        self.io(result, f)
    }

    fn write(&self, lba: u64, data: Bytes) -> IoFuture<'_, ()> {
        self.stats.writes.fetch_add(1, Ordering::Relaxed);
        let faults = self.faults();
        let f = faults.as_ref();
        let bs = self.block_size as usize;
        let result = if bs == 0 || data.is_empty() || !data.len().is_multiple_of(bs) {
            Err(IoError::Invalid(
                "write length not a whole number of blocks",
            ))
        } else {
            let blocks = u32::try_from(data.len() / bs).unwrap_or(u32::MAX);
            self.note(lba, blocks).and_then(|r| {
                if let Some(e) = Self::injected_failure(f, lba, blocks) {
                    return Err(e);
                }
                let mut dst = lock(&self.data);
                let lost = f
                    .and_then(|f| f.lost_writes)
                    .filter(|&(x, _)| x >= lba && x < lba + u64::from(blocks));
                // Keep the old contents of the block whose write may be lost.
                let old = lost.map(|(x, keep)| {
                    let at = r.start + (x - lba) as usize * bs;
                    (at, keep, dst[at..at + bs].to_vec())
                });
                dst[r].copy_from_slice(&data);
                if let Some((at, keep, old)) = old {
                    let n = self.lost_count.fetch_add(1, Ordering::Relaxed) + 1;
                    if n > keep {
                        dst[at..at + bs].copy_from_slice(&old);
                    }
                }
                Ok(())
            })
        };
        // The caller's buffer is released now, as a real device would once
        // the data is on the wire, so the caller can reuse it.
        drop(data);
        self.io(result, f)
    }

    fn flush(&self) -> IoFuture<'_, ()> {
        self.stats.flushes.fetch_add(1, Ordering::Relaxed);
        let faults = self.faults();
        self.io(Ok(()), faults.as_ref())
    }

    fn write_zeroes(&self, lba: u64, blocks: u32) -> IoFuture<'_, ()> {
        self.stats.write_zeroes.fetch_add(1, Ordering::Relaxed);
        let faults = self.faults();
        let f = faults.as_ref();
        let result = self.note(lba, blocks).and_then(|r| {
            if let Some(e) = Self::injected_failure(f, lba, blocks) {
                return Err(e);
            }
            lock(&self.data)[r].fill(0);
            Ok(())
        });
        self.io(result, f)
    }
}

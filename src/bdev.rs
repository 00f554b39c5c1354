//! The block-device interface between the load generator (`perf`) and what
//! it drives: the initiator's multipath bdev, or anything else that can read
//! and write blocks.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

/// Why an I/O failed, as bdevperf counts it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IoError {
    /// The device answered with an NVMe error status (SCT, SC).
    #[error("NVMe status sct {sct:#x} sc {sc:#x}")]
    Status { sct: u8, sc: u8 },
    /// No usable path for longer than the policy allows.
    #[error("no usable path")]
    NoPath,
    /// The I/O did not complete within its timeout.
    #[error("timed out")]
    Timeout,
    /// The request itself was invalid (range, size).
    #[error("invalid request: {0}")]
    Invalid(&'static str),
    /// A reset could not bring the device back.
    #[error("reset failed")]
    ResetFailed,
    /// The device does not offer this kind of I/O.
    #[error("not supported by the device")]
    Unsupported,
}

pub type IoFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, IoError>> + Send + 'a>>;

pub trait BlockDevice: Send + Sync {
    fn name(&self) -> &str;
    fn block_size(&self) -> u32;
    fn num_blocks(&self) -> u64;
    /// Reads `blocks` blocks at `lba`.
    fn read(&self, lba: u64, blocks: u32) -> IoFuture<'_, Bytes>;
    /// Writes `data` (a whole number of blocks) at `lba`.
    fn write(&self, lba: u64, data: Bytes) -> IoFuture<'_, ()>;
    fn flush(&self) -> IoFuture<'_, ()>;
    fn write_zeroes(&self, lba: u64, blocks: u32) -> IoFuture<'_, ()>;
    /// Whether `unmap` is offered (bdevperf skips an unmap job otherwise).
    fn supports_unmap(&self) -> bool {
        false
    }
    /// Deallocates `blocks` blocks at `lba`.
    fn unmap(&self, _lba: u64, _blocks: u64) -> IoFuture<'_, ()> {
        Box::pin(async { Err(IoError::Unsupported) })
    }
    /// Resets the device, as bdevperf's reset workload asks every 10 s;
    /// completes once the device is back (or could not be brought back).
    fn reset(&self) -> IoFuture<'_, ()> {
        Box::pin(async { Err(IoError::Unsupported) })
    }
}

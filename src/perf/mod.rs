//! A bdevperf-compatible load generator that drives any
//! [`BlockDevice`](crate::bdev::BlockDevice).
//!
//! * [`config`]: workloads, bdevperf's options (`-q -o -w -t -M -f -k -T
//!   -z -m`), validation, and the `perform_tests` params
//!   ([`apply_params`]).
//! * [`job`]: the runner ([`run_job`]): exactly `queue_depth` I/Os in
//!   flight until the time is up or a [`StopSignal`] fires, then drain.
//! * [`pattern`]: our verify data (LBA + write generation in every block),
//!   which catches stale and misdirected reads as well as corruption.
//! * [`histogram`]: fixed-memory log-linear latency histogram.
//! * [`stats`]: live atomic counters, per-second snapshots, job results
//!   and the `perform_tests` result JSON.
//! * [`output`]: bdevperf v24.09's console text.
//! * [`bdevperf`]: the `perform_tests` RPC state ([`Bdevperf`]).
//! * [`mem`]: an in-memory device with fault injection.

pub mod bdevperf;
pub mod config;
pub mod histogram;
pub mod job;
pub mod mem;
pub mod output;
pub mod pattern;
pub mod stats;

pub use bdevperf::{stdout_sink, Bdevperf, OutputSink};
pub use config::{apply_params, parse_capacity, PerfConfig, PerfError, RpcError, Workload};
pub use histogram::LatencyHistogram;
pub use job::{run_job, run_job_with_stats, Job, StopSignal};
pub use mem::{Faults, MemDevice};
pub use pattern::{Miscompare, MiscompareKind};
pub use stats::{JobResult, JobStatus, LiveSnapshot, LiveStats, OpLatency, Snapshot};

#[cfg(test)]
mod tests;

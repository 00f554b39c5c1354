//! mpath-console: an NVMe/TCP target and host with SPDK's JSON-RPC as the
//! control plane.
//!
//! Dependencies point one way: `nvme` ← `target` ← `rpc`; `sockstat` stands
//! alone. `nvme` has no tokio and no sockets.

pub mod bdev;
pub mod bench;
pub mod chaos;
pub mod control;
pub mod engines;
pub mod host;
pub mod nvme;
pub mod perf;
pub mod rng;
pub mod rpc;
pub mod scenario;
pub mod sockstat;
pub mod target;
pub mod trid;
pub mod ui;

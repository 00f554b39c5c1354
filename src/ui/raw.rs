//! What one poll of the applications gathered, before the sampler folds
//! it into a [`Snapshot`](super::snapshot::Snapshot): each RPC's answer
//! or error, the sockets and the system figures. Plain data, so the
//! sampler and the health model that read it depend on it and not on each
//! other.

use std::time::Instant;

use serde_json::Value;

use super::snapshot::SysStats;
use crate::sockstat::TcpConn;

/// One answer: the result, or the error as text and whether the app was
/// unreachable (as opposed to answering with an error).
pub type Answer = Result<Value, CallErr>;

#[derive(Clone, Debug, PartialEq)]
pub struct CallErr {
    pub msg: String,
    pub unreachable: bool,
}

/// Everything one poll gathered. `None` = not asked this time.
#[derive(Clone, Debug)]
pub struct RawPoll {
    pub at: Instant,
    pub epoch: f64,
    pub tgt_methods: Option<Answer>,
    pub ini_methods: Option<Answer>,
    pub subsystems: Option<Answer>,
    /// Per NQN.
    pub listeners: Vec<(String, Answer)>,
    pub qpairs: Vec<(String, Answer)>,
    pub tgt_ctrlrs: Vec<(String, Answer)>,
    pub tgt_bdevs: Option<Answer>,
    pub io_paths: Option<Answer>,
    pub ini_bdev: Option<Answer>,
    pub ini_ctrlrs: Option<Answer>,
    pub perf_status: Option<Answer>,
    pub iostat: Option<Answer>,
    pub host_events: Option<Answer>,
    /// Reservation Report and Host Identifier through `bdev_nvme_send_cmd`
    /// (about once a second).
    pub resv_report: Option<Answer>,
    pub host_id: Option<Answer>,
    /// `mpath_listener_get_faults` (targets that have it).
    pub faults: Option<Answer>,
    /// `bdev_nvme_get_path_iostat` of the bdev (initiators that have it
    /// and have not refused it).
    pub path_iostat: Option<Answer>,
    /// `framework_get_config` of the `bdev` subsystem: the reconnect
    /// timers of initiators whose controllers do not list theirs.
    pub ini_config: Option<Answer>,
    pub sock: Option<Result<Vec<TcpConn>, String>>,
    /// When `sock`'s counters were read (`None`: at `at`).
    pub sock_at: Option<Instant>,
    /// Applications whose sockets are unknown, one plain line each.
    pub sock_unknown: Vec<String>,
    pub sys: Option<SysStats>,
}

impl RawPoll {
    pub fn new(at: Instant, epoch: f64) -> RawPoll {
        RawPoll {
            at,
            epoch,
            tgt_methods: None,
            ini_methods: None,
            subsystems: None,
            listeners: vec![],
            qpairs: vec![],
            tgt_ctrlrs: vec![],
            tgt_bdevs: None,
            io_paths: None,
            ini_bdev: None,
            ini_ctrlrs: None,
            perf_status: None,
            iostat: None,
            host_events: None,
            resv_report: None,
            host_id: None,
            faults: None,
            path_iostat: None,
            ini_config: None,
            sock: None,
            sock_at: None,
            sock_unknown: vec![],
            sys: None,
        }
    }
}

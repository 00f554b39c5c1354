//! `Snapshot`: plain data, everything the panes render, copied out of the
//! engines' RPC answers and the kernel by the sampler (`super::sampler`)
//! and sent to the UI task over a `watch` channel. Rendering reads only
//! this (and `App`), so a frame never waits on an engine.

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};

use serde_json::Value;

/// One application's reachability, for the header and stale panes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppHealth {
    /// Socket path or address, from `Control::location`.
    pub location: String,
    /// Whether the control has this application at all.
    pub present: bool,
    /// The last poll's failure; the panes fed by this app then show their
    /// last good data greyed, with this text.
    pub error: Option<String>,
    /// Methods from `rpc_get_methods`, once known.
    pub methods: Option<Vec<String>>,
}

impl AppHealth {
    pub fn has_method(&self, m: &str) -> Option<bool> {
        self.methods.as_ref().map(|v| v.iter().any(|x| x == m))
    }
    pub fn stale(&self) -> bool {
        self.error.is_some()
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Namespace {
    pub nsid: u32,
    pub bdev: String,
    /// From the target's `bdev_get_bdevs` (num_blocks × block_size).
    pub size: Option<u64>,
    pub anagrpid: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TgtController {
    pub cntlid: u16,
    pub hostnqn: String,
    /// As SPDK reports it: the admin queue is counted too.
    pub num_io_qpairs: u32,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Subsystem {
    pub nqn: String,
    pub subtype: String,
    pub serial: String,
    pub model: String,
    pub allow_any_host: bool,
    /// Namespaces carry an `anagrpid` only when ANA reporting is on.
    pub ana_reporting: bool,
    pub namespaces: Vec<Namespace>,
    pub controllers: Vec<TgtController>,
    pub listen_addresses: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listener {
    pub nqn: String,
    pub trtype: String,
    pub adrfam: String,
    pub traddr: String,
    pub trsvcid: String,
    /// (ANA group, state) pairs, as `nvmf_subsystem_get_listeners` lists.
    pub ana_states: Vec<(u32, String)>,
    /// cntlids with a qpair on this listener.
    pub controllers: Vec<u16>,
    pub qpairs: usize,
    /// A fault injected on this address (`mpath_listener_get_faults`).
    pub fault: Option<super::health::model::Fault>,
}

impl Listener {
    pub fn addr(&self) -> String {
        join_addr(&self.traddr, &self.trsvcid)
    }
    /// The state of the first ANA group (the HOWTO has one).
    pub fn ana_state(&self) -> Option<&str> {
        self.ana_states.first().map(|(_, s)| s.as_str())
    }
}

/// Where an address sorts: IPv4 before IPv6, each numerically; anything
/// that is not an IP address after them, as text.
fn ip_ord(ip: &str) -> (u8, u128, &str) {
    let bare = ip.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => (0, u128::from(u32::from(a)), ""),
        Ok(std::net::IpAddr::V6(a)) => (1, u128::from(a), ""),
        Err(_) => (2, 0, ip),
    }
}

/// Where a port sorts: numerically, anything else after, as text.
fn port_ord(port: &str) -> (u32, &str) {
    match port.parse::<u32>() {
        Ok(p) => (p, ""),
        Err(_) => (u32::MAX, port),
    }
}

/// The one row order of every pane: subsystem NQN, then IP address
/// numerically (IPv4 before IPv6), then port numerically. Each pane
/// breaks ties with the rest of its row.
pub fn row_order(a: (&str, &str, &str), b: (&str, &str, &str)) -> Ordering {
    a.0.cmp(b.0)
        .then_with(|| ip_ord(a.1).cmp(&ip_ord(b.1)))
        .then_with(|| port_ord(a.2).cmp(&port_ord(b.2)))
}

/// `ip:port` (`[ip]:port` for IPv6) split into its address and port.
pub fn split_addr(a: &str) -> (&str, &str) {
    match a.rsplit_once(':') {
        Some((ip, port)) if !ip.contains(':') || ip.starts_with('[') => {
            (ip.trim_start_matches('[').trim_end_matches(']'), port)
        }
        _ => (a, ""),
    }
}

/// `ip:port`, with brackets for IPv6.
pub fn join_addr(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// Why a number is not shown.
#[derive(Clone, Debug, PartialEq)]
pub enum Metric {
    Value(f64),
    /// Not available, with the reason (shown as `n/a` and explained).
    Unavailable(String),
}

impl Metric {
    pub fn value(&self) -> Option<f64> {
        match self {
            Metric::Value(v) => Some(*v),
            Metric::Unavailable(_) => None,
        }
    }
}

impl Default for Metric {
    fn default() -> Metric {
        Metric::Unavailable("no sample yet".into())
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct IoPath {
    pub bdev: String,
    /// Controller name (`Nvme0`) from `bdev_nvme_get_controllers`.
    pub ctrlr: String,
    pub cntlid: u16,
    /// The subsystem (`subnqn` of the transport ID), when the answer
    /// names it.
    pub nqn: String,
    pub trtype: String,
    pub adrfam: String,
    pub traddr: String,
    pub trsvcid: String,
    pub connected: bool,
    pub accessible: bool,
    pub current: bool,
    pub ana_state: String,
    pub outstanding: Option<u64>,
    pub iops: Metric,
    pub mibps: Metric,
    /// Our extra key: the local address of this path's I/O qpair socket.
    pub local_address: Option<String>,
    /// IOPS (or bytes/s when IOPS are unavailable) over the last minute,
    /// one point per second, oldest first.
    pub history: Vec<f64>,
    /// A fault injected on the listener this path reaches.
    pub fault: Option<super::health::model::Fault>,
    /// Keep-alive clock, reconnect countdown, latency and errors.
    pub health: super::health::model::PathHealth,
}

impl IoPath {
    pub fn addr(&self) -> String {
        join_addr(&self.traddr, &self.trsvcid)
    }
    /// The path's identity across reconnects (a new controller gets a
    /// new cntlid on the same transport ID): its address.
    pub fn label(&self) -> String {
        self.addr()
    }
}

/// Which end of a connection a socket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The target's socket (local address = the listener).
    Target,
    /// The initiator's socket (peer address = the listener).
    Host,
    /// Known from the target's qpair list but not a socket on this
    /// machine (attached to a remote SPDK).
    Remote,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Target => "tgt",
            Side::Host => "host",
            Side::Remote => "remote",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Queue {
    #[default]
    Unknown,
    Admin,
    Io(u16),
}

impl Queue {
    /// Admin first, then I/O queues by number, unknown last.
    pub fn ord(&self) -> u32 {
        match self {
            Queue::Admin => 0,
            Queue::Io(n) => u32::from(*n),
            Queue::Unknown => u32::MAX,
        }
    }
    pub fn label(&self) -> String {
        match self {
            Queue::Unknown => "?".into(),
            Queue::Admin => "admin".into(),
            Queue::Io(q) => format!("I/O q{q}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConnRow {
    pub side: Side,
    pub state: String,
    pub recv_q: Option<u32>,
    pub send_q: Option<u32>,
    pub local: String,
    pub peer: String,
    pub tx_bps: Metric,
    pub rx_bps: Metric,
    pub rtt_us: Option<f64>,
    /// The listener this connection reached (`ip:port`).
    pub listener: Option<String>,
    pub cntlid: Option<u16>,
    pub queue: Queue,
    /// The path's controller is the current path of the bdev.
    pub current_path: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conns {
    pub rows: Vec<ConnRow>,
    /// Why the kernel view is missing, if it is.
    pub error: Option<String>,
    /// Attached applications whose sockets are unknown, one plain line
    /// each ("target sockets unknown: no agent").
    pub unknown: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum LoadSource {
    /// `mpath_perf_status` (ours).
    PerfStatus,
    /// `bdev_get_iostat` (real SPDK): no latency percentiles or verify
    /// counters.
    Iostat,
    #[default]
    None,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Load {
    pub source: LoadSource,
    /// `None` when the backend cannot tell.
    pub running: Option<bool>,
    pub workload: Option<String>,
    pub queue_depth: Option<u64>,
    pub io_size: Option<u64>,
    pub iops: Metric,
    pub mibps: Metric,
    /// Average latency over the last interval.
    pub avg_lat_us: Metric,
    /// p99 of the last second (`recent_p99_latency_us` of
    /// `mpath_perf_status`), or since the run started where the backend
    /// only has that.
    pub p99_lat_us: Metric,
    /// Maximum since the run started.
    pub max_lat_us: Metric,
    pub failed: Option<u64>,
    pub miscompared: Option<u64>,
    pub timeouts: Option<u64>,
    pub in_flight: Option<u64>,
    pub completed: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SysStats {
    /// This process's CPU use, % of one core.
    pub cpu_pct: f32,
    pub rss: u64,
    pub load: [f64; 3],
    pub cpus: usize,
}

/// A line of the Events pane.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// Seconds since the Unix epoch (for ordering).
    pub at: f64,
    pub kind: LogKind,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogKind {
    /// An action we sent, as an `spdk-rpc` command line.
    Action,
    /// Its reply.
    Reply,
    Error,
    /// From `mpath_host_events`: AEN, ANA log read, path switch, reconnect.
    Host,
    /// A failover's I/O stall, measured by the sampler.
    Stall,
    Info,
}

/// Series over the last minute, one point per second, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    pub iops: Vec<f64>,
    pub mibps: Vec<f64>,
    pub lat_us: Vec<f64>,
    /// Per path (label, IOPS or byte-rate points); the unit is `per_path_unit`.
    pub per_path: Vec<(String, Vec<f64>)>,
    pub per_path_unit: &'static str,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Bumped by every sample; equal snapshots need no redraw.
    pub seq: u64,
    /// When it was taken (epoch seconds).
    pub at: f64,
    pub mode: String,
    pub bdev: String,
    pub nqn: String,
    pub target: AppHealth,
    pub initiator: AppHealth,
    pub policy: Option<String>,
    pub selector: Option<String>,
    pub load: Load,
    pub sys: Option<SysStats>,
    pub subsystems: Vec<Subsystem>,
    pub listeners: Vec<Listener>,
    pub paths: Vec<IoPath>,
    pub conns: Conns,
    pub history: History,
    /// Host events and sampler findings, oldest first, bounded.
    pub events: Vec<LogEntry>,
    /// Raw last answers, for the `:` command line's completion.
    pub raw_subsystems: Option<Value>,
    /// The reservation on the bdev's namespace, read by the initiator.
    pub reservation: Option<super::resv::NsReservation>,
    /// The initiator's controllers by name and subsystem
    /// (`bdev_nvme_get_controllers`), for the scope picker.
    pub ini_ctrlrs: Vec<IniCtrlr>,
}

/// One initiator controller: its name (`Nvme1`) and the subsystem it is
/// connected to.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct IniCtrlr {
    pub name: String,
    pub subnqn: String,
}

impl Snapshot {
    /// Puts every pane's rows in the one order of [`row_order`]:
    /// subsystems by NQN; listeners by NQN and transport ID; paths by
    /// NQN, transport ID and controller; sockets by their listener's NQN
    /// and address, then controller, queue, end and addresses.
    pub fn sort_rows(&mut self) {
        self.subsystems.sort_by(|a, b| a.nqn.cmp(&b.nqn));
        self.listeners.sort_by(|a, b| {
            row_order(
                (&a.nqn, &a.traddr, &a.trsvcid),
                (&b.nqn, &b.traddr, &b.trsvcid),
            )
            .then_with(|| a.trtype.cmp(&b.trtype))
            .then_with(|| a.adrfam.cmp(&b.adrfam))
        });
        self.paths.sort_by(|a, b| {
            row_order(
                (&a.nqn, &a.traddr, &a.trsvcid),
                (&b.nqn, &b.traddr, &b.trsvcid),
            )
            .then_with(|| a.trtype.cmp(&b.trtype))
            .then_with(|| a.ctrlr.cmp(&b.ctrlr))
            .then_with(|| a.cntlid.cmp(&b.cntlid))
        });
        // A socket's subsystem is its listener's (the first listener with
        // its address). Each row's sort key is computed once: parsing
        // addresses inside the comparison costs milliseconds at a
        // thousand sockets.
        let mut nqn_by_addr: HashMap<String, &str> = HashMap::new();
        for l in &self.listeners {
            nqn_by_addr.entry(l.addr()).or_insert(&l.nqn);
        }
        let addr_key = |a: &str| {
            let (ip, port) = split_addr(a);
            let (fam, num, text) = ip_ord(ip);
            let (p, ptext) = port_ord(port);
            (fam, num, text.to_string(), p, ptext.to_string())
        };
        let key = |c: &ConnRow| {
            let listener = c.listener.as_deref().unwrap_or("");
            let nqn = c
                .listener
                .as_deref()
                .and_then(|l| nqn_by_addr.get(l))
                .map(|n| n.to_string())
                .unwrap_or_default();
            (
                nqn,
                addr_key(listener),
                c.cntlid,
                c.queue.ord(),
                c.side as u8,
                addr_key(&c.local),
                addr_key(&c.peer),
            )
        };
        let mut rows: Vec<_> = std::mem::take(&mut self.conns.rows)
            .into_iter()
            .map(|c| (key(&c), c))
            .collect();
        rows.sort_by(|(a, _), (b, _)| a.cmp(b));
        self.conns.rows = rows.into_iter().map(|(_, c)| c).collect();
    }

    pub fn listener_by_addr(&self, traddr: &str, trsvcid: &str) -> Option<&Listener> {
        self.listeners
            .iter()
            .find(|l| l.traddr == traddr && l.trsvcid == trsvcid)
    }
}

/// A ring of the last `cap` points.
#[derive(Clone, Debug)]
pub struct Ring {
    cap: usize,
    v: VecDeque<f64>,
}

impl Ring {
    pub fn new(cap: usize) -> Ring {
        Ring {
            cap,
            v: VecDeque::with_capacity(cap),
        }
    }
    pub fn push(&mut self, x: f64) {
        if self.v.len() == self.cap {
            self.v.pop_front();
        }
        self.v.push_back(x);
    }
    pub fn to_vec(&self) -> Vec<f64> {
        self.v.iter().copied().collect()
    }
    pub fn len(&self) -> usize {
        self.v.len()
    }
    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }
}

//! The sampler: polls the applications through `Control` (one JSON-RPC call
//! per read, target and initiator concurrently, each call with a deadline)
//! and their sockets where [`Control::sock_source`] says they are (this
//! process's kernel, or each application's host: see [`socks`]), turns
//! cumulative counters into rates and one-minute histories, and publishes
//! a fresh [`Snapshot`] on a `watch` channel at the refresh rate.
//!
//! The I/O half ([`poll`]) only gathers answers into a [`RawPoll`]; the
//! pure half ([`State::ingest`]) builds the snapshot, so tests feed it
//! fixed answers and fixed instants.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::watch;

pub use super::raw::{Answer, CallErr, RawPoll};
use super::resv;
use super::scope::Scope;
use super::snapshot::*;
use super::{fmt, health, socks};
use crate::control::{Control, ControlError, Engine, SockSource};
use crate::sockstat::TcpConn;

/// Deadline of one poll call: a stuck application must not stall the
/// sampler (the `Remote` control only bounds the connect).
pub const POLL_TIMEOUT: Duration = Duration::from_secs(2);
/// Points in a one-minute history (one per second).
pub const HISTORY_POINTS: usize = 60;
/// Events kept in the snapshot.
pub const EVENTS_KEPT: usize = 500;
/// How often the reservation is read: it changes only by command, and each
/// read is one command on the I/O queue.
const RESV_PERIOD: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct SamplerOpts {
    pub refresh: Duration,
    pub bdev: String,
    pub nqn: String,
}

/// Starts the sampler task; the receiver always holds the newest snapshot.
pub fn spawn(control: Arc<dyn Control>, opts: SamplerOpts) -> watch::Receiver<Arc<Snapshot>> {
    let (_, scope) = watch::channel(Scope {
        bdev: opts.bdev.clone(),
        nqn: opts.nqn.clone(),
    });
    spawn_scoped(control, opts, scope)
}

/// [`spawn`], following the bdev and subsystem in `scope` from one poll
/// to the next (the console's scope picker changes it at run time).
pub fn spawn_scoped(
    control: Arc<dyn Control>,
    opts: SamplerOpts,
    mut scope: watch::Receiver<Scope>,
) -> watch::Receiver<Arc<Snapshot>> {
    let mut state = State::new(&opts, control.mode());
    let first = Arc::new(state.empty_snapshot(&*control));
    let (tx, rx) = watch::channel(first);
    let source = control.sock_source();
    tokio::spawn(async move {
        let mut sys = SysProbe::new();
        let mut tick = tokio::time::interval(opts.refresh.max(Duration::from_millis(20)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if scope.has_changed().unwrap_or(false) {
                let sc = scope.borrow_and_update().clone();
                state.set_scope(&sc);
            }
            let ports = state.listener_ports();
            let want_sys = sys.due();
            let probe = tokio::task::spawn_blocking(move || {
                let s = if want_sys { sys.sample() } else { None };
                (s, sys)
            });
            let raw = gather(&*control, &state, &source, ports).await;
            let (s, back) = match probe.await {
                Ok(v) => v,
                Err(e) => return tracing::error!("sampler system probe died: {e}"),
            };
            sys = back;
            let raw = RawPoll { sys: s, ..raw };
            let snap = state.ingest(raw, &*control);
            if tx.send(Arc::new(snap)).is_err() {
                return; // the UI is gone
            }
        }
    });
    rx
}

/// One poll and one read of the sockets on `ports` (the listeners',
/// [`State::listener_ports`]) from `source` (the control's
/// [`Control::sock_source`]). This process's kernel is read while the
/// applications are polled; applications elsewhere are asked for their
/// sockets after the poll, which tells which of them have
/// `mpath_sock_get_connections`.
pub async fn gather(c: &dyn Control, st: &State, source: &SockSource, ports: Vec<u16>) -> RawPoll {
    let (raw, socks) = match source {
        SockSource::Local => tokio::join!(poll(c, st), socks::read(source, c, ports, [None; 2])),
        SockSource::PerApp(_) => {
            let raw = poll(c, st).await;
            let has = st.sock_methods(&raw);
            let s = socks::read(source, c, ports, has).await;
            (raw, s)
        }
    };
    RawPoll {
        sock: Some(socks.conns),
        sock_at: Some(socks.at),
        sock_unknown: socks.unknown,
        ..raw
    }
}

async fn call(c: &dyn Control, app: Engine, method: &str, params: Option<Value>) -> Answer {
    match tokio::time::timeout(POLL_TIMEOUT, c.call(app, method, params)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(CallErr {
            unreachable: !matches!(e, ControlError::Rpc(_)),
            msg: e.to_string(),
        }),
        Err(_) => Err(CallErr {
            msg: format!("{method}: no answer within {} s", POLL_TIMEOUT.as_secs()),
            unreachable: true,
        }),
    }
}

/// Gathers one round of answers (target and initiator concurrently).
pub async fn poll(c: &dyn Control, st: &State) -> RawPoll {
    let mut raw = RawPoll::new(Instant::now(), fmt::now_epoch());
    let tgt = async {
        let mut r = (None, None, vec![], vec![], vec![], None, None);
        if !c.has(Engine::Target) {
            return r;
        }
        if st.target.methods.is_none() || st.target.error.is_some() {
            r.0 = Some(call(c, Engine::Target, "rpc_get_methods", None).await);
        }
        if st.target_has("mpath_listener_get_faults", &r.0) {
            r.6 = Some(call(c, Engine::Target, "mpath_listener_get_faults", None).await);
        }
        let subs = call(c, Engine::Target, "nvmf_get_subsystems", None).await;
        let nqns: Vec<String> = match &subs {
            Ok(v) => nvme_nqns(v),
            Err(e) if e.unreachable => {
                r.1 = Some(subs);
                return r;
            }
            Err(_) => vec![st.nqn.clone()],
        };
        r.1 = Some(subs);
        for n in nqns {
            let p = Some(json!({ "nqn": n }));
            let (l, q, k) = tokio::join!(
                call(c, Engine::Target, "nvmf_subsystem_get_listeners", p.clone()),
                call(c, Engine::Target, "nvmf_subsystem_get_qpairs", p.clone()),
                call(
                    c,
                    Engine::Target,
                    "nvmf_subsystem_get_controllers",
                    p.clone()
                ),
            );
            r.2.push((n.clone(), l));
            r.3.push((n.clone(), q));
            r.4.push((n, k));
        }
        r.5 = Some(call(c, Engine::Target, "bdev_get_bdevs", None).await);
        r
    };
    let ini = async {
        let mut r: [Option<Answer>; 11] = Default::default();
        if !c.has(Engine::Initiator) {
            return r;
        }
        if st.initiator.methods.is_none() || st.initiator.error.is_some() {
            let m = call(c, Engine::Initiator, "rpc_get_methods", None).await;
            let unreachable = matches!(&m, Err(e) if e.unreachable);
            r[0] = Some(m);
            if unreachable {
                return r;
            }
        }
        let bdev = Some(json!({ "name": st.bdev }));
        let perf = st.initiator_has("mpath_perf_status", &r[0]);
        let evs = st.initiator_has("mpath_host_events", &r[0]);
        // Scoped to a subsystem no bdev of this initiator reaches: no
        // paths to ask for (an empty name would list every bdev).
        let has_bdev = !st.bdev.is_empty();
        let by_bdev = |m: &'static str| {
            let p = bdev.clone();
            async move {
                if has_bdev {
                    Some(call(c, Engine::Initiator, m, p).await)
                } else {
                    None
                }
            }
        };
        let (paths, bdevs, ctrlrs) = tokio::join!(
            by_bdev("bdev_nvme_get_io_paths"),
            by_bdev("bdev_get_bdevs"),
            call(c, Engine::Initiator, "bdev_nvme_get_controllers", None),
        );
        r[1] = paths;
        r[2] = bdevs;
        r[3] = Some(ctrlrs);
        if perf {
            r[4] = Some(call(c, Engine::Initiator, "mpath_perf_status", None).await);
        } else if has_bdev {
            r[5] = Some(call(c, Engine::Initiator, "bdev_get_iostat", bdev).await);
        }
        let ask_stats = st.initiator_has("bdev_nvme_get_path_iostat", &r[0])
            && (r[0].is_some() || st.health.path_iostat_off.is_none());
        if ask_stats {
            let p = json!({ "name": st.bdev });
            r[9] = Some(call(c, Engine::Initiator, "bdev_nvme_get_path_iostat", Some(p)).await);
            if st.health.tick_rate.is_none() && r[5].is_none() {
                let p = json!({ "name": st.bdev });
                r[5] = Some(call(c, Engine::Initiator, "bdev_get_iostat", Some(p)).await);
            }
        }
        let timers = matches!(&r[3], Some(Ok(v)) if health::ctrlrs_have_timers(v));
        let cfg = st.initiator_has("framework_get_config", &r[0]);
        if st.health.config_due(raw.at, cfg, timers) {
            let p = json!({ "name": "bdev" });
            r[10] = Some(call(c, Engine::Initiator, "framework_get_config", Some(p)).await);
        }
        if evs {
            let p = json!({ "since": st.next_event });
            r[6] = Some(call(c, Engine::Initiator, "mpath_host_events", Some(p)).await);
        }
        if let Some((ctrlr, nsid)) = st.reservation_due(raw.at, &r[0]) {
            if st.host_id.is_none() {
                let p = resv::host_id_params(&ctrlr);
                r[8] = Some(call(c, Engine::Initiator, "bdev_nvme_send_cmd", Some(p)).await);
            }
            let p = resv::report_params(&ctrlr, nsid);
            r[7] = Some(call(c, Engine::Initiator, "bdev_nvme_send_cmd", Some(p)).await);
        }
        r
    };
    let (t, i) = tokio::join!(tgt, ini);
    raw.tgt_methods = t.0;
    raw.subsystems = t.1;
    raw.listeners = t.2;
    raw.qpairs = t.3;
    raw.tgt_ctrlrs = t.4;
    raw.tgt_bdevs = t.5;
    raw.faults = t.6;
    let [m, p, b, k, ps, io, ev, rr, hid, pst, cfg] = i;
    raw.path_iostat = pst;
    raw.ini_config = cfg;
    raw.resv_report = rr;
    raw.host_id = hid;
    raw.ini_methods = m;
    raw.io_paths = p;
    raw.ini_bdev = b;
    raw.ini_ctrlrs = k;
    raw.perf_status = ps;
    raw.iostat = io;
    raw.host_events = ev;
    raw
}

fn nvme_nqns(subs: &Value) -> Vec<String> {
    subs.as_array()
        .map(|a| {
            a.iter()
                .filter(|s| s["subtype"].as_str() != Some("Discovery"))
                .filter_map(|s| s["nqn"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Process CPU/RSS and host load, on the blocking thread.
pub struct SysProbe {
    sys: Option<sysinfo::System>,
    pid: Option<sysinfo::Pid>,
    last: Option<Instant>,
}

impl SysProbe {
    pub fn new() -> SysProbe {
        SysProbe {
            sys: sysinfo::System::new().ok(),
            pid: sysinfo::get_current_pid().ok(),
            last: None,
        }
    }
    /// At most once a second (CPU use needs two refreshes apart).
    fn due(&self) -> bool {
        self.last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
    }
    fn sample(&mut self) -> Option<SysStats> {
        self.last = Some(Instant::now());
        let (sys, pid) = (self.sys.as_mut()?, self.pid?);
        sys.refresh_processes_specifics(
            sysinfo::ProcessesToUpdate::Some(&[pid]),
            false,
            sysinfo::ProcessRefreshKind::nothing()
                .with_cpu()
                .with_memory(),
        );
        let p = sys.process(pid)?;
        let l = sysinfo::System::load_average().ok();
        Some(SysStats {
            cpu_pct: p.cpu_usage(),
            rss: p.memory(),
            load: l.map(|l| [l.one, l.five, l.fifteen]).unwrap_or_default(),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        })
    }
}

impl Default for SysProbe {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Counters {
    at: Instant,
    ios: u64,
    bytes: u64,
    /// Σ latency (avg × count), for the interval average.
    lat_sum: f64,
}

/// A sliding window of cumulative counters: rates over the last second.
#[derive(Clone, Debug, Default)]
struct Window {
    v: VecDeque<Counters>,
}

const RATE_WINDOW: Duration = Duration::from_secs(1);

impl Window {
    /// Adds a sample; returns (ios/s, bytes/s, avg latency µs) over the
    /// window, or `None` on the first sample or after a counter reset.
    fn push(&mut self, c: Counters) -> Option<(f64, f64, Option<f64>)> {
        if let Some(last) = self.v.back() {
            if c.ios < last.ios || c.bytes < last.bytes {
                self.v.clear(); // a new run started
            }
        }
        self.v.push_back(c);
        while self.v.len() > 2 && c.at.duration_since(self.v[1].at) >= RATE_WINDOW {
            self.v.pop_front();
        }
        let first = *self.v.front()?;
        let dt = c.at.saturating_duration_since(first.at).as_secs_f64();
        if self.v.len() < 2 || dt <= 0.0 {
            return None;
        }
        let dios = (c.ios - first.ios) as f64;
        let lat = (dios > 0.0).then(|| ((c.lat_sum - first.lat_sum) / dios).max(0.0));
        Some((dios / dt, (c.bytes - first.bytes) as f64 / dt, lat))
    }
}

/// One reading of a socket's kernel byte counters.
#[derive(Clone, Copy, Debug)]
struct SockSample {
    at: Instant,
    acked: Option<u64>,
    received: Option<u64>,
}

/// A socket's recent counter readings: rates over the last second (like
/// the header's [`Window`]), not over one ~100 ms refresh, which swings
/// with scheduling jitter.
#[derive(Clone, Debug)]
struct SockHist {
    cookie: u64,
    v: VecDeque<SockSample>,
}

impl SockHist {
    /// Adds a reading and drops the ones the window no longer needs (the
    /// oldest kept is the newest at least [`RATE_WINDOW`] old).
    fn push(&mut self, c: SockSample) {
        let back = |x: Option<u64>, y: Option<u64>| matches!((x, y), (Some(x), Some(y)) if y < x);
        if let Some(last) = self.v.back() {
            if back(last.acked, c.acked) || back(last.received, c.received) || c.at < last.at {
                self.v.clear();
            }
        }
        self.v.push_back(c);
        while self.v.len() > 2 && c.at.saturating_duration_since(self.v[1].at) >= RATE_WINDOW {
            self.v.pop_front();
        }
    }

    /// Bytes/s of one counter over the window.
    fn rate(&self, has_info: bool, get: impl Fn(&SockSample) -> Option<u64>) -> Metric {
        let (Some(first), Some(cur)) = (self.v.front(), self.v.back()) else {
            return Metric::Unavailable("first sample of this socket".into());
        };
        if self.v.len() < 2 {
            return Metric::Unavailable("first sample of this socket".into());
        }
        let secs = cur.at.saturating_duration_since(first.at).as_secs_f64();
        match (get(first), get(cur)) {
            (Some(b), Some(a)) if a >= b && secs > 0.0 => Metric::Value((a - b) as f64 / secs),
            (Some(b), Some(a)) if a >= b => Metric::Unavailable("no time between samples".into()),
            (None, _) | (_, None) if !has_info => {
                Metric::Unavailable("kernel gave no tcp_info".into())
            }
            (None, _) | (_, None) => Metric::Unavailable("kernel too old for byte counters".into()),
            _ => Metric::Unavailable("counter went backwards".into()),
        }
    }
}

/// Stall bookkeeping: when I/O stopped progressing during a run.
#[derive(Clone, Debug, Default)]
struct Stall {
    last_progress: Option<Instant>,
    stalled_since: Option<Instant>,
    current_at_start: Option<String>,
}

/// The sampler's memory between polls.
pub struct State {
    bdev: String,
    nqn: String,
    mode: String,
    seq: u64,
    target: AppHealth,
    initiator: AppHealth,
    /// The next host event sequence number wanted (`since` is inclusive).
    next_event: u64,
    prev: Snapshot,
    total: Window,
    per_path: HashMap<String, Window>,
    socks: HashMap<(String, String), SockHist>,
    hist_iops: Ring,
    hist_mibps: Ring,
    hist_lat: Ring,
    hist_path: HashMap<String, Ring>,
    last_hist: Option<Instant>,
    events: VecDeque<LogEntry>,
    stall: Stall,
    stall_prev_completed: Option<u64>,
    period: Duration,
    /// When the reservation was last read, and this host's ID once known.
    resv_at: Option<Instant>,
    host_id: Option<[u8; 16]>,
    /// Faults, keep-alive, reconnect countdowns, per-path statistics.
    health: health::HealthState,
}

impl State {
    pub fn new(o: &SamplerOpts, mode: &str) -> State {
        State {
            bdev: o.bdev.clone(),
            nqn: o.nqn.clone(),
            mode: mode.to_string(),
            seq: 0,
            target: AppHealth::default(),
            initiator: AppHealth::default(),
            next_event: 0,
            prev: Snapshot::default(),
            total: Window::default(),
            per_path: HashMap::new(),
            socks: HashMap::new(),
            hist_iops: Ring::new(HISTORY_POINTS),
            hist_mibps: Ring::new(HISTORY_POINTS),
            hist_lat: Ring::new(HISTORY_POINTS),
            hist_path: HashMap::new(),
            last_hist: None,
            events: VecDeque::new(),
            stall: Stall::default(),
            stall_prev_completed: None,
            period: o.refresh,
            resv_at: None,
            host_id: None,
            health: health::HealthState::default(),
        }
    }

    /// Follows a new scope: the next polls ask for `scope.bdev`'s paths.
    /// What belonged to the old bdev (its paths, their rates and
    /// histories, its reservation) is dropped rather than shown under
    /// the new one, and a change of paths is not a path switch.
    pub fn set_scope(&mut self, scope: &Scope) {
        self.nqn = scope.nqn.clone();
        if scope.bdev == self.bdev {
            return;
        }
        self.bdev = scope.bdev.clone();
        self.prev.paths.clear();
        self.prev.policy = None;
        self.prev.selector = None;
        self.prev.reservation = None;
        self.per_path.clear();
        self.hist_path.clear();
        self.prev.history.per_path.clear();
        self.resv_at = None;
        self.stall = Stall::default();
    }

    /// The controller and namespace to read the reservation of, when a
    /// read is due (once a second, if the initiator has
    /// `bdev_nvme_send_cmd` and the bdev is an NVMe one).
    fn reservation_due(&self, now: Instant, fresh: &Option<Answer>) -> Option<(String, u32)> {
        if !self.initiator_has("bdev_nvme_send_cmd", fresh) {
            return None;
        }
        if self
            .resv_at
            .is_some_and(|t| now.saturating_duration_since(t) < RESV_PERIOD)
        {
            return None;
        }
        resv::bdev_target(&self.bdev)
    }

    /// Folds a reservation read into the snapshot.
    fn take_reservation(&mut self, raw: &RawPoll, s: &mut Snapshot) {
        if let Some(Ok(v)) = &raw.host_id {
            self.host_id = resv::parse_host_id(v).ok();
        }
        let Some(a) = &raw.resv_report else {
            return;
        };
        self.resv_at = Some(raw.at);
        let Some((ctrlr, nsid)) = resv::bdev_target(&self.bdev) else {
            return;
        };
        let report = match a {
            Ok(v) => resv::parse_report(v),
            Err(e) => Err(e.msg.clone()),
        };
        s.reservation = Some(resv::NsReservation {
            ctrlr,
            nsid,
            this_host: self.host_id,
            report,
        });
    }

    fn target_has(&self, m: &str, fresh: &Option<Answer>) -> bool {
        if let Some(Ok(v)) = fresh {
            return methods_of(v).iter().any(|x| x == m);
        }
        self.target.has_method(m).unwrap_or(false)
    }

    fn initiator_has(&self, m: &str, fresh: &Option<Answer>) -> bool {
        if let Some(Ok(v)) = fresh {
            return methods_of(v).iter().any(|x| x == m);
        }
        self.initiator.has_method(m).unwrap_or(false)
    }

    /// Whether each application (target, initiator) has
    /// `mpath_sock_get_connections`: from this poll's `rpc_get_methods`
    /// when it asked, else from the last one.
    pub fn sock_methods(&self, raw: &RawPoll) -> socks::HasMethod {
        let m = crate::rpc::sock::METHOD;
        let has = |fresh: &Option<Answer>, h: &AppHealth| match fresh {
            Some(Ok(v)) => Some(methods_of(v).iter().any(|x| x == m)),
            _ => h.has_method(m),
        };
        [
            has(&raw.tgt_methods, &self.target),
            has(&raw.ini_methods, &self.initiator),
        ]
    }

    /// Ports whose sockets the connections pane shows: the listeners'.
    pub fn listener_ports(&self) -> Vec<u16> {
        let mut p: Vec<u16> = self
            .prev
            .listeners
            .iter()
            .filter_map(|l| l.trsvcid.parse().ok())
            .chain(
                self.prev
                    .paths
                    .iter()
                    .filter_map(|p| p.trsvcid.parse().ok()),
            )
            .collect();
        p.sort_unstable();
        p.dedup();
        if p.is_empty() {
            // Nothing known yet: the NVMe/TCP default port only, never
            // every socket on the machine.
            p.push(4420);
        }
        p
    }

    pub fn empty_snapshot(&self, c: &dyn Control) -> Snapshot {
        Snapshot {
            mode: self.mode.clone(),
            bdev: self.bdev.clone(),
            nqn: self.nqn.clone(),
            target: AppHealth {
                location: c.location(Engine::Target),
                present: c.has(Engine::Target),
                ..Default::default()
            },
            initiator: AppHealth {
                location: c.location(Engine::Initiator),
                present: c.has(Engine::Initiator),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// Builds the next snapshot from one poll's answers.
    pub fn ingest(&mut self, raw: RawPoll, c: &dyn Control) -> Snapshot {
        self.ingest_with(
            raw,
            &c.location(Engine::Target),
            &c.location(Engine::Initiator),
            c.has(Engine::Target),
            c.has(Engine::Initiator),
        )
    }

    /// [`State::ingest`] without a `Control` (tests).
    pub fn ingest_with(
        &mut self,
        raw: RawPoll,
        tgt_loc: &str,
        ini_loc: &str,
        has_tgt: bool,
        has_ini: bool,
    ) -> Snapshot {
        self.seq += 1;
        // Last snapshot's rows are this one's start; `prev` is set again
        // below. Taken, not cloned: a fabric's snapshot is thousands of rows.
        let mut s = std::mem::take(&mut self.prev);
        s.seq = self.seq;
        s.at = raw.epoch;
        s.mode = self.mode.clone();
        s.bdev = self.bdev.clone();
        s.nqn = self.nqn.clone();
        self.target.location = tgt_loc.to_string();
        self.target.present = has_tgt;
        self.initiator.location = ini_loc.to_string();
        self.initiator.present = has_ini;

        // ---- health ------------------------------------------------------
        if let Some(Ok(v)) = &raw.tgt_methods {
            self.target.methods = Some(methods_of(v));
        }
        if let Some(Ok(v)) = &raw.ini_methods {
            self.initiator.methods = Some(methods_of(v));
        }
        self.target.error = has_tgt
            .then(|| first_unreachable([raw.tgt_methods.as_ref(), raw.subsystems.as_ref()]))
            .flatten();
        self.initiator.error = has_ini
            .then(|| {
                first_unreachable([
                    raw.ini_methods.as_ref(),
                    raw.io_paths.as_ref(),
                    raw.ini_bdev.as_ref(),
                ])
            })
            .flatten();
        if !has_tgt {
            self.target.error = Some("no target attached".into());
        }
        if !has_ini {
            self.initiator.error = Some("no initiator attached".into());
        }

        // ---- target ------------------------------------------------------
        if let Some(Ok(subs)) = &raw.subsystems {
            s.subsystems = parse_subsystems(subs, &raw);
            s.listeners = parse_listeners(subs, &raw);
        }

        // ---- initiator ---------------------------------------------------
        if let Some(Ok(b)) = &raw.ini_bdev {
            let ds = &b[0]["driver_specific"];
            s.policy = ds["mp_policy"].as_str().map(String::from);
            s.selector = ds["selector"].as_str().map(String::from);
        }
        let names = raw
            .ini_ctrlrs
            .as_ref()
            .and_then(|r| r.as_ref().ok())
            .map(ctrlr_names)
            .unwrap_or_default();
        if let Some(Ok(_)) = &raw.ini_ctrlrs {
            let mut v: Vec<IniCtrlr> = names
                .iter()
                .map(|c| IniCtrlr {
                    name: c.name.clone(),
                    subnqn: c.subnqn.clone(),
                })
                .collect();
            v.sort();
            v.dedup();
            s.ini_ctrlrs = v;
        }
        let mut old_current = current_set(&s.paths);
        if let Some(Ok(p)) = &raw.io_paths {
            s.paths = self.parse_paths(p, &names, raw.at);
            if s.paths.is_empty() {
                if let Some(Ok(b)) = &raw.ini_bdev {
                    s.paths = idle_paths(b, &names);
                }
            }
            // Real SPDK has no `ana_state` in the io_paths: the host's view
            // is in bdev_get_bdevs, per controller, by transport ID.
            if let Some(Ok(b)) = &raw.ini_bdev {
                let ana = ana_by_trid(b);
                for p in s.paths.iter_mut().filter(|p| p.ana_state.is_empty()) {
                    if let Some(a) = ana.get(&(p.traddr.clone(), p.trsvcid.clone())) {
                        p.ana_state = a.clone();
                    }
                }
            }
        } else if self.initiator.error.is_some() {
            old_current.clear();
        }
        if let Some(r) = &raw.perf_status {
            s.load = match r {
                Ok(v) => self.parse_perf(v, raw.at),
                Err(e) => Load {
                    iops: Metric::Unavailable(e.msg.clone()),
                    ..s.load
                },
            };
        } else if let Some(r) = &raw.iostat {
            s.load = match r {
                Ok(v) => self.parse_iostat(v, raw.at),
                Err(e) => Load {
                    iops: Metric::Unavailable(e.msg.clone()),
                    ..s.load
                },
            };
        } else if !has_ini {
            s.load = Load {
                iops: Metric::Unavailable("no initiator attached".into()),
                ..Load::default()
            };
        }
        self.take_reservation(&raw, &mut s);
        if let Some(Ok(v)) = &raw.host_events {
            self.take_host_events(v);
        }

        // ---- health ------------------------------------------------------
        if raw.ini_methods.as_ref().is_some_and(|m| m.is_ok()) {
            // Reached anew: it may have been told to keep statistics.
            self.health.path_iostat_off = None;
        }
        self.health.apply(&raw, &mut s);

        // ---- kernel ------------------------------------------------------
        if let Some(sock) = raw.sock {
            let at = raw.sock_at.unwrap_or(raw.at);
            s.conns = self.build_conns(sock, &raw.qpairs, &s, at);
            s.conns.unknown = raw.sock_unknown.clone();
        }
        if raw.sys.is_some() {
            s.sys = raw.sys;
        }
        s.sort_rows();

        // Path bytes from the kernel when the engine has no per-path
        // counters (real SPDK).
        let have_path_counters = s.paths.iter().any(|p| p.iops.value().is_some());
        if !have_path_counters {
            for p in &mut s.paths {
                // The path's own socket when the initiator names it (our
                // `local_address`), else every socket to its listener: the
                // host's end if it is on this machine, else the target's.
                let addr = p.addr();
                let rows: Vec<&ConnRow> = match &p.local_address {
                    Some(la) => s
                        .conns
                        .rows
                        .iter()
                        .filter(|r| r.side == Side::Host && &r.local == la)
                        .collect(),
                    None => {
                        let mine = |side: Side| -> Vec<&ConnRow> {
                            s.conns
                                .rows
                                .iter()
                                .filter(|r| {
                                    r.side == side && r.listener.as_deref() == Some(addr.as_str())
                                })
                                .collect()
                        };
                        let host = mine(Side::Host);
                        if host.is_empty() {
                            mine(Side::Target)
                        } else {
                            host
                        }
                    }
                };
                let rates: Option<Vec<f64>> = rows
                    .iter()
                    .map(|r| Some(r.tx_bps.value()? + r.rx_bps.value()?))
                    .collect();
                match rates {
                    Some(v) if !v.is_empty() => {
                        p.mibps = Metric::Value(v.iter().sum::<f64>() / (1024.0 * 1024.0));
                    }
                    _ => {}
                }
            }
        }

        // ---- stalls and path switches ------------------------------------
        let new_current = current_set(&s.paths);
        self.track_stall(&s, raw.at, raw.epoch, old_current, new_current);

        // ---- history -----------------------------------------------------
        let due = self
            .last_hist
            .is_none_or(|t| raw.at.duration_since(t) >= Duration::from_secs(1));
        if due {
            self.last_hist = Some(raw.at);
            self.hist_iops.push(s.load.iops.value().unwrap_or(0.0));
            self.hist_mibps.push(s.load.mibps.value().unwrap_or(0.0));
            self.hist_lat.push(s.load.avg_lat_us.value().unwrap_or(0.0));
            let unit_iops = have_path_counters;
            for p in &s.paths {
                let v = if unit_iops {
                    p.iops.value()
                } else {
                    p.mibps.value()
                };
                let n = self.hist_iops.len();
                let ring = self.hist_path.entry(p.label()).or_insert_with(|| {
                    let mut r = Ring::new(HISTORY_POINTS);
                    for _ in 1..n {
                        r.push(0.0);
                    }
                    r
                });
                ring.push(v.unwrap_or(0.0));
            }
            let live: Vec<String> = s.paths.iter().map(IoPath::label).collect();
            self.hist_path.retain(|k, _| live.contains(k));
            s.history = History {
                iops: self.hist_iops.to_vec(),
                mibps: self.hist_mibps.to_vec(),
                lat_us: self.hist_lat.to_vec(),
                per_path: live
                    .iter()
                    .filter_map(|l| self.hist_path.get(l).map(|r| (l.clone(), r.to_vec())))
                    .collect(),
                per_path_unit: if unit_iops { "IOPS" } else { "MiB/s" },
            };
        }
        for p in &mut s.paths {
            let label = p.label();
            if let Some((_, h)) = s.history.per_path.iter().find(|(l, _)| *l == label) {
                p.history = h.clone();
            }
        }

        s.target = self.target.clone();
        s.initiator = self.initiator.clone();
        s.events = self.events.iter().cloned().collect();
        self.prev = s.clone();
        s
    }

    fn push_event(&mut self, e: LogEntry) {
        if self.events.len() == EVENTS_KEPT {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn take_host_events(&mut self, v: &Value) {
        let Some(a) = v.as_array() else { return };
        for e in a {
            let Some(seq) = e["seq"].as_u64() else {
                continue;
            };
            if seq < self.next_event {
                continue;
            }
            self.next_event = seq + 1;
            let at = fmt::parse_time(&e["time"]).unwrap_or_else(fmt::now_epoch);
            let text = e["text"].as_str().unwrap_or("?").to_string();
            self.push_event(LogEntry {
                at,
                kind: LogKind::Host,
                text,
            });
        }
    }

    fn parse_paths(&mut self, v: &Value, names: &[CtrlrName], at: Instant) -> Vec<IoPath> {
        let mut out: Vec<IoPath> = Vec::new();
        // Label → index in `out`, so merging stays linear in the paths.
        let mut index: HashMap<String, usize> = HashMap::new();
        let groups = v["poll_groups"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for g in groups {
            for p in g["io_paths"].as_array().into_iter().flatten() {
                let t = &p["transport"];
                let mut path = IoPath {
                    bdev: str_of(&p["bdev_name"]),
                    cntlid: p["cntlid"].as_u64().unwrap_or(0) as u16,
                    trtype: str_of(&t["trtype"]),
                    adrfam: str_of(&t["adrfam"]),
                    traddr: str_of(&t["traddr"]),
                    trsvcid: str_of(&t["trsvcid"]),
                    nqn: str_of(&t["subnqn"]),
                    connected: p["connected"].as_bool().unwrap_or(false),
                    accessible: p["accessible"].as_bool().unwrap_or(false),
                    current: p["current"].as_bool().unwrap_or(false),
                    ana_state: p["ana_state"].as_str().unwrap_or("").to_string(),
                    outstanding: p["outstanding_ios"].as_u64(),
                    local_address: p["local_address"].as_str().map(String::from),
                    ..Default::default()
                };
                path.ctrlr = ctrlr_name(names, &path);
                // Several poll groups (threads) list the same path: merge.
                let key = path.label();
                if let Some(&i) = index.get(&key) {
                    out[i].current |= path.current;
                    continue;
                }
                index.insert(key.clone(), out.len());
                match (p["completed_ios"].as_u64(), p["bytes"].as_u64()) {
                    (Some(ios), Some(bytes)) => {
                        let w = self.per_path.entry(key).or_default();
                        match w.push(Counters {
                            at,
                            ios,
                            bytes,
                            lat_sum: 0.0,
                        }) {
                            Some((i, b, _)) => {
                                path.iops = Metric::Value(i);
                                path.mibps = Metric::Value(b / (1024.0 * 1024.0));
                            }
                            None => {
                                path.iops = Metric::Unavailable("first sample".into());
                                path.mibps = Metric::Unavailable("first sample".into());
                            }
                        }
                    }
                    _ => {
                        let why = "no per-path counters on this backend";
                        path.iops = Metric::Unavailable(why.into());
                        path.mibps = Metric::Unavailable(why.into());
                    }
                }
                out.push(path);
            }
        }
        out
    }

    fn parse_perf(&mut self, v: &Value, at: Instant) -> Load {
        let jobs = v["jobs"].as_array().cloned().unwrap_or_default();
        let sum = |k: &str| jobs.iter().filter_map(|j| j[k].as_u64()).sum::<u64>();
        let ios = sum("io_completed");
        let lat_sum: f64 = jobs
            .iter()
            .map(|j| {
                j["avg_latency_us"].as_f64().unwrap_or(0.0)
                    * j["io_completed"].as_f64().unwrap_or(0.0)
            })
            .sum();
        let fold_max = |k: &str| {
            jobs.iter()
                .filter_map(|j| j[k].as_f64())
                .fold(None, |m: Option<f64>, x| {
                    Some(m.map_or(x, |m: f64| m.max(x)))
                })
        };
        // The p99 of the last second when the backend gives it (ours
        // since `recent_p99_latency_us`), else the run's.
        let has_recent = jobs
            .iter()
            .any(|j| j.get("recent_p99_latency_us").is_some());
        let p99 = if has_recent {
            fold_max("recent_p99_latency_us")
        } else {
            fold_max("p99_latency_us")
        };
        let max = fold_max("max_latency_us");
        let running = v["running"].as_bool();
        let rates = self.total.push(Counters {
            at,
            ios,
            bytes: sum("bytes"),
            lat_sum,
        });
        let idle = running == Some(false);
        let (iops, mibps, lat) = match rates {
            Some((i, b, l)) => (
                Metric::Value(i),
                Metric::Value(b / (1024.0 * 1024.0)),
                match l {
                    Some(l) => Metric::Value(l),
                    None if idle => Metric::Unavailable("load paused".into()),
                    None => Metric::Unavailable("no I/O completed in the last second".into()),
                },
            ),
            None if idle => (
                Metric::Value(0.0),
                Metric::Value(0.0),
                Metric::Unavailable("load paused".into()),
            ),
            None => {
                let w = "first sample".to_string();
                (
                    Metric::Unavailable(w.clone()),
                    Metric::Unavailable(w.clone()),
                    Metric::Unavailable(w),
                )
            }
        };
        Load {
            source: LoadSource::PerfStatus,
            running,
            workload: v["workload"].as_str().map(String::from),
            // 0 means "not given" (`bdevperf -z` without -q/-o).
            queue_depth: v["queue_depth"].as_u64().filter(|q| *q > 0),
            io_size: v["io_size"].as_u64().filter(|o| *o > 0),
            iops,
            mibps,
            avg_lat_us: lat,
            p99_lat_us: match p99 {
                Some(p) if has_recent || ios > 0 => Metric::Value(p),
                Some(_) => Metric::Unavailable("no I/O yet".into()),
                None if has_recent && idle => Metric::Unavailable("load paused".into()),
                None if has_recent => {
                    Metric::Unavailable("no I/O completed in the last second".into())
                }
                None if jobs.is_empty() => Metric::Unavailable("no run in progress".into()),
                None => Metric::Unavailable("this backend reports no p99".into()),
            },
            max_lat_us: match max {
                Some(m) if ios > 0 => Metric::Value(m),
                _ => Metric::Unavailable("no I/O yet".into()),
            },
            failed: Some(sum("io_failed")),
            miscompared: Some(sum("io_miscompared")),
            timeouts: Some(sum("io_timeout")),
            in_flight: Some(sum("in_flight")),
            completed: Some(ios),
        }
    }

    fn parse_iostat(&mut self, v: &Value, at: Instant) -> Load {
        let b = v["bdevs"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|b| b["name"].as_str() == Some(&self.bdev))
                    .cloned()
            })
            .unwrap_or(Value::Null);
        let u = |k: &str| b[k].as_u64().unwrap_or(0);
        let tick_rate = v["tick_rate"].as_f64().unwrap_or(1e9).max(1.0);
        let ios = u("num_read_ops") + u("num_write_ops");
        let lat_ticks = (u("read_latency_ticks") + u("write_latency_ticks")) as f64;
        let rates = self.total.push(Counters {
            at,
            ios,
            bytes: u("bytes_read") + u("bytes_written"),
            lat_sum: lat_ticks / tick_rate * 1e6,
        });
        let (iops, mibps, lat) = match rates {
            Some((i, bps, l)) => (
                Metric::Value(i),
                Metric::Value(bps / (1024.0 * 1024.0)),
                l.map(Metric::Value)
                    .unwrap_or_else(|| Metric::Unavailable("no I/O in the last second".into())),
            ),
            None => {
                let w = "first sample".to_string();
                (
                    Metric::Unavailable(w.clone()),
                    Metric::Unavailable(w.clone()),
                    Metric::Unavailable(w),
                )
            }
        };
        let running = iops.value().map(|i| i > 0.0).filter(|r| *r);
        Load {
            source: LoadSource::Iostat,
            running,
            iops,
            mibps,
            avg_lat_us: lat,
            p99_lat_us: Metric::Unavailable("bdev_get_iostat has no percentiles".into()),
            max_lat_us: Metric::Unavailable("bdev_get_iostat max is since reset".into()),
            completed: Some(ios),
            ..Load::default()
        }
    }

    fn build_conns(
        &mut self,
        sock: Result<Vec<TcpConn>, String>,
        qpairs: &[(String, Answer)],
        s: &Snapshot,
        at: Instant,
    ) -> Conns {
        // (listen, peer) -> (cntlid, qid), from the target.
        let mut qmap: HashMap<(String, String), (u16, u16)> = HashMap::new();
        for (_, a) in qpairs {
            let Ok(v) = a else { continue };
            for q in v.as_array().into_iter().flatten() {
                let l = trid_addr(&q["listen_address"]);
                let p = trid_addr(&q["peer_address"]);
                let cntlid = q["cntlid"].as_u64().unwrap_or(0) as u16;
                let qid = q["qid"].as_u64().unwrap_or(0) as u16;
                qmap.insert((l, p), (cntlid, qid));
            }
        }
        // Sets and maps, not lists: every socket is looked up in them, and
        // a fabric has hundreds of listeners and paths.
        let current: HashSet<(String, u16)> = s
            .paths
            .iter()
            .filter(|p| p.current)
            .map(|p| (p.addr(), p.cntlid))
            .collect();
        let listeners: HashSet<String> = s
            .listeners
            .iter()
            .map(Listener::addr)
            .chain(s.paths.iter().map(IoPath::addr))
            .collect();
        // The host end of each path's I/O socket, when the initiator names
        // it: its cntlid (the first path with that address).
        let mut by_local: HashMap<&str, u16> = HashMap::new();
        for p in &s.paths {
            if let Some(la) = p.local_address.as_deref() {
                by_local.entry(la).or_insert(p.cntlid);
            }
        }
        let (conns, error) = match sock {
            Ok(c) => (c, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let mut rows = Vec::new();
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut next: HashMap<(String, String), SockHist> = HashMap::new();
        for c in conns {
            let local = c.local.to_string();
            let peer = c.peer.to_string();
            let (side, listener, remote_end) = if listeners.contains(&local) {
                (Side::Target, local.clone(), peer.clone())
            } else if listeners.contains(&peer) {
                (Side::Host, peer.clone(), local.clone())
            } else {
                continue;
            };
            let key = (local.clone(), peer.clone());
            let mut hist = self
                .socks
                .remove(&key)
                .filter(|h| h.cookie == c.cookie)
                .unwrap_or_else(|| SockHist {
                    cookie: c.cookie,
                    v: VecDeque::new(),
                });
            hist.push(SockSample {
                at,
                acked: c.info.as_ref().and_then(|i| i.bytes_acked),
                received: c.info.as_ref().and_then(|i| i.bytes_received),
            });
            let has_info = c.info.is_some();
            let tx = hist.rate(has_info, |x| x.acked);
            let rx = hist.rate(has_info, |x| x.received);
            next.insert(key, hist);
            let ids = qmap.get(&(listener.clone(), remote_end.clone())).copied();
            if ids.is_some() {
                seen.insert((listener.clone(), remote_end.clone()));
            }
            let queue = match ids {
                Some((_, 0)) => Queue::Admin,
                Some((_, q)) => Queue::Io(q),
                None => {
                    // The initiator's I/O qpair socket is known by its local
                    // address even without the target's view.
                    if side == Side::Host && by_local.contains_key(local.as_str()) {
                        Queue::Io(1)
                    } else {
                        Queue::Unknown
                    }
                }
            };
            let cntlid = ids.map(|i| i.0).or_else(|| {
                (side == Side::Host)
                    .then(|| by_local.get(local.as_str()).copied())
                    .flatten()
            });
            rows.push(ConnRow {
                side,
                state: c.state.as_str().to_string(),
                recv_q: Some(c.recv_q),
                send_q: Some(c.send_q),
                current_path: cntlid.is_some_and(|id| current.contains(&(listener.clone(), id))),
                local,
                peer,
                tx_bps: tx,
                rx_bps: rx,
                rtt_us: c.info.as_ref().map(|i| f64::from(i.rtt_us)),
                listener: Some(listener),
                cntlid,
                queue,
            });
        }
        self.socks = next;
        // Qpairs whose sockets are not on this machine.
        for (_, a) in qpairs {
            let Ok(v) = a else { continue };
            for q in v.as_array().into_iter().flatten() {
                let l = trid_addr(&q["listen_address"]);
                let p = trid_addr(&q["peer_address"]);
                if seen.contains(&(l.clone(), p.clone())) {
                    continue;
                }
                let cntlid = q["cntlid"].as_u64().unwrap_or(0) as u16;
                let qid = q["qid"].as_u64().unwrap_or(0) as u16;
                let why = if self.mode == "embedded" {
                    "not on this machine"
                } else {
                    "no socket reported"
                };
                rows.push(ConnRow {
                    side: Side::Remote,
                    state: q["state"].as_str().unwrap_or("?").to_string(),
                    recv_q: None,
                    send_q: None,
                    local: l.clone(),
                    peer: p,
                    tx_bps: Metric::Unavailable(why.into()),
                    rx_bps: Metric::Unavailable(why.into()),
                    rtt_us: None,
                    current_path: current.contains(&(l.clone(), cntlid)),
                    listener: Some(l),
                    cntlid: Some(cntlid),
                    queue: if qid == 0 {
                        Queue::Admin
                    } else {
                        Queue::Io(qid)
                    },
                });
            }
        }
        Conns {
            rows,
            error,
            unknown: vec![],
        }
    }

    fn track_stall(
        &mut self,
        s: &Snapshot,
        at: Instant,
        epoch: f64,
        old_current: Vec<String>,
        new_current: Vec<String>,
    ) {
        let switched = old_current != new_current && !old_current.is_empty() && !s.paths.is_empty();
        if switched {
            let running = s.load.running.unwrap_or(false);
            let stalled = self.stall.stalled_since.is_some();
            let tail = if running && !stalled {
                format!(
                    "; I/O never stopped (sampled every {} ms)",
                    self.period.as_millis()
                )
            } else {
                String::new()
            };
            // One path to another: "a → b"; otherwise (active_active,
            // none) the whole set, and what it was.
            let text = match (old_current.as_slice(), new_current.as_slice()) {
                ([a], [b]) => format!("{}: current path {a} → {b}{tail}", self.bdev),
                (old, []) => format!(
                    "{}: no current path (was {}){tail}",
                    self.bdev,
                    old.join(", ")
                ),
                (old, new) => format!(
                    "{}: current paths: {} (was {}){tail}",
                    self.bdev,
                    new.join(", "),
                    old.join(", ")
                ),
            };
            self.push_event(LogEntry {
                at: epoch,
                kind: LogKind::Info,
                text,
            });
        }
        let joined = |v: &[String]| (!v.is_empty()).then(|| v.join(", "));
        let (old_current, new_current) = (joined(&old_current), joined(&new_current));
        let running = s.load.running.unwrap_or(false);
        let Some(done) = s.load.completed else { return };
        let prev = self.stall_prev_completed.replace(done);
        if !running {
            self.stall = Stall::default();
            return;
        }
        let progressed = prev.is_none_or(|p| done > p);
        if progressed {
            if let Some(since) = self.stall.stalled_since.take() {
                let ms = at.saturating_duration_since(since).as_secs_f64() * 1000.0;
                let from = self.stall.current_at_start.take();
                let switch = match (&from, &new_current) {
                    (Some(f), Some(t)) if f != t => format!(", path {f} → {t}"),
                    _ => String::new(),
                };
                self.push_event(LogEntry {
                    at: epoch,
                    kind: LogKind::Stall,
                    text: format!(
                        "failover stall: no I/O completed for {:.0} ms (±{} ms sampling){switch}",
                        ms,
                        self.period.as_millis()
                    ),
                });
            }
            self.stall.last_progress = Some(at);
        } else if self.stall.stalled_since.is_none() {
            self.stall.stalled_since = self.stall.last_progress.or(Some(at));
            self.stall.current_at_start = old_current;
        }
    }
}

/// The labels of the bdev's current paths, sorted (active_active has
/// several; the answer's order is not stable).
fn current_set(paths: &[IoPath]) -> Vec<String> {
    let mut v: Vec<String> = paths
        .iter()
        .filter(|p| p.current)
        .map(IoPath::label)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Real SPDK lists I/O paths only while a job has the bdev open
/// (`{"poll_groups": []}` otherwise), but `bdev_get_bdevs` still names each
/// path's controller by transport ID: show those paths, with what is known
/// (transport ID, cntlid, ANA state) and the rest unavailable — not current,
/// no rates — rather than an empty pane.
fn idle_paths(bdevs: &Value, names: &[CtrlrName]) -> Vec<IoPath> {
    let why = "no I/O running: this backend lists I/O paths only during a job";
    let mut out = Vec::new();
    for (b, n) in nvme_namespaces(bdevs) {
        let t = &n["trid"];
        let ana_state = str_of(&n["ns_data"]["ana_state"]);
        let cntlid = n["ctrlr_data"]["cntlid"].as_u64().unwrap_or(0) as u16;
        let mut p = IoPath {
            bdev: str_of(&b["name"]),
            cntlid,
            nqn: str_of(&t["subnqn"]),
            trtype: str_of(&t["trtype"]),
            adrfam: str_of(&t["adrfam"]),
            traddr: str_of(&t["traddr"]),
            trsvcid: str_of(&t["trsvcid"]),
            // Listed under the bdev only while attached.
            connected: true,
            accessible: matches!(ana_state.as_str(), "optimized" | "non_optimized"),
            current: false,
            ana_state,
            iops: Metric::Unavailable(why.into()),
            mibps: Metric::Unavailable(why.into()),
            ..Default::default()
        };
        p.ctrlr = ctrlr_name(names, &p);
        out.push(p);
    }
    out
}

/// Each bdev of a `bdev_get_bdevs` result with each of its
/// `driver_specific.nvme[]` entries (one per controller path).
fn nvme_namespaces(bdevs: &Value) -> impl Iterator<Item = (&Value, &Value)> {
    bdevs.as_array().into_iter().flatten().flat_map(|b| {
        b["driver_specific"]["nvme"]
            .as_array()
            .into_iter()
            .flatten()
            .map(move |n| (b, n))
    })
}

/// `bdev_get_bdevs` (asked for our bdev only) → `driver_specific.nvme[]`:
/// the host's ANA state of each controller's namespace, by (traddr,
/// trsvcid) of its transport ID.
fn ana_by_trid(bdevs: &Value) -> HashMap<(String, String), String> {
    let mut m = HashMap::new();
    for (_, n) in nvme_namespaces(bdevs) {
        let Some(a) = n["ns_data"]["ana_state"].as_str() else {
            continue;
        };
        let t = &n["trid"];
        m.entry((str_of(&t["traddr"]), str_of(&t["trsvcid"])))
            .or_insert_with(|| a.to_string());
    }
    m
}

fn methods_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn first_unreachable<const N: usize>(a: [Option<&Answer>; N]) -> Option<String> {
    a.into_iter().flatten().find_map(|r| {
        r.as_ref()
            .err()
            .filter(|e| e.unreachable)
            .map(|e| e.msg.clone())
    })
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        o => o.to_string(),
    }
}

/// `ip:port` of a transport ID object.
fn trid_addr(t: &Value) -> String {
    join_addr(&str_of(&t["traddr"]), &str_of(&t["trsvcid"]))
}

/// One controller of `bdev_nvme_get_controllers`: its name (`Nvme0`),
/// cntlid and transport ID. Every subsystem numbers its controllers
/// from 1, so a cntlid alone does not say which one a path is.
#[derive(Debug, Default)]
struct CtrlrName {
    name: String,
    cntlid: Option<u16>,
    trtype: String,
    traddr: String,
    trsvcid: String,
    subnqn: String,
}

fn ctrlr_names(v: &Value) -> Vec<CtrlrName> {
    let mut out = Vec::new();
    for g in v.as_array().into_iter().flatten() {
        let name = str_of(&g["name"]);
        for c in g["ctrlrs"].as_array().into_iter().flatten() {
            let t = &c["trid"];
            out.push(CtrlrName {
                name: name.clone(),
                cntlid: c["cntlid"].as_u64().map(|id| id as u16),
                trtype: str_of(&t["trtype"]),
                traddr: str_of(&t["traddr"]),
                trsvcid: str_of(&t["trsvcid"]),
                subnqn: str_of(&t["subnqn"]),
            });
        }
    }
    out
}

/// The name of the controller a path goes through: the one with its
/// transport ID (and subsystem, when both name it) and cntlid; else the
/// only one with its transport ID (a reconnect gives a new cntlid); else,
/// when the answer names no transport IDs, the only one with its cntlid.
/// Empty when that is ambiguous or unknown.
fn ctrlr_name(names: &[CtrlrName], p: &IoPath) -> String {
    let same = |a: &str, b: &str| a.is_empty() || b.is_empty() || a.eq_ignore_ascii_case(b);
    let by_trid: Vec<&CtrlrName> = names
        .iter()
        .filter(|c| {
            !c.traddr.is_empty()
                && c.traddr == p.traddr
                && c.trsvcid == p.trsvcid
                && same(&c.trtype, &p.trtype)
                && same(&c.subnqn, &p.nqn)
        })
        .collect();
    let unique = |v: Vec<&CtrlrName>| {
        let mut n: Vec<&str> = v.iter().map(|c| c.name.as_str()).collect();
        n.dedup();
        match n.as_slice() {
            [one] => Some(one.to_string()),
            _ => None,
        }
    };
    if let Some(c) = by_trid.iter().find(|c| c.cntlid == Some(p.cntlid)) {
        return c.name.clone();
    }
    if !by_trid.is_empty() {
        return unique(by_trid).unwrap_or_default();
    }
    if names.iter().any(|c| !c.traddr.is_empty()) {
        return String::new();
    }
    unique(
        names
            .iter()
            .filter(|c| c.cntlid == Some(p.cntlid))
            .collect(),
    )
    .unwrap_or_default()
}

fn parse_subsystems(subs: &Value, raw: &RawPoll) -> Vec<Subsystem> {
    let sizes: HashMap<String, u64> = raw
        .tgt_bdevs
        .as_ref()
        .and_then(|r| r.as_ref().ok())
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|b| {
                    let n = b["name"].as_str()?;
                    Some((
                        n.to_string(),
                        b["num_blocks"].as_u64()? * b["block_size"].as_u64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    subs.as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let nqn = str_of(&s["nqn"]);
            let namespaces: Vec<Namespace> = s["namespaces"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| {
                    let bdev = str_of(&n["bdev_name"]);
                    Namespace {
                        nsid: n["nsid"].as_u64().unwrap_or(0) as u32,
                        size: sizes.get(&bdev).copied(),
                        bdev,
                        anagrpid: n["anagrpid"].as_u64().map(|g| g as u32),
                    }
                })
                .collect();
            let controllers = raw
                .tgt_ctrlrs
                .iter()
                .find(|(n, _)| *n == nqn)
                .and_then(|(_, a)| a.as_ref().ok())
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|c| TgtController {
                            cntlid: c["cntlid"].as_u64().unwrap_or(0) as u16,
                            hostnqn: str_of(&c["hostnqn"]),
                            num_io_qpairs: c["num_io_qpairs"].as_u64().unwrap_or(0) as u32,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let listeners_have_ana = raw
                .listeners
                .iter()
                .find(|(n, _)| *n == nqn)
                .and_then(|(_, a)| a.as_ref().ok())
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|l| l.get("ana_states").is_some()));
            Subsystem {
                subtype: str_of(&s["subtype"]),
                serial: str_of(&s["serial_number"]),
                model: str_of(&s["model_number"]),
                allow_any_host: s["allow_any_host"].as_bool().unwrap_or(false),
                ana_reporting: listeners_have_ana
                    || namespaces.iter().any(|n| n.anagrpid.is_some()),
                listen_addresses: s["listen_addresses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(trid_addr)
                    .collect(),
                namespaces,
                controllers,
                nqn,
            }
        })
        .collect()
}

fn parse_listeners(subs: &Value, raw: &RawPoll) -> Vec<Listener> {
    let mut out = Vec::new();
    for s in subs.as_array().into_iter().flatten() {
        if s["subtype"].as_str() == Some("Discovery") {
            continue;
        }
        let nqn = str_of(&s["nqn"]);
        let detailed = raw
            .listeners
            .iter()
            .find(|(n, _)| *n == nqn)
            .and_then(|(_, a)| a.as_ref().ok())
            .and_then(Value::as_array);
        // Each qpair with its listener's address, worked out once.
        let qpairs: Vec<(String, &Value)> = raw
            .qpairs
            .iter()
            .find(|(n, _)| *n == nqn)
            .and_then(|(_, a)| a.as_ref().ok())
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|q| (trid_addr(&q["listen_address"]), q))
            .collect();
        let addrs: Vec<(Value, Vec<(u32, String)>)> = match detailed {
            Some(d) => d
                .iter()
                .map(|l| {
                    let states = l["ana_states"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|g| {
                            (
                                g["ana_group"].as_u64().unwrap_or(0) as u32,
                                str_of(&g["ana_state"]),
                            )
                        })
                        .collect();
                    (l["address"].clone(), states)
                })
                .collect(),
            None => s["listen_addresses"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| (a.clone(), vec![]))
                .collect(),
        };
        // Only the ANA groups that hold a namespace matter (SPDK lists a
        // state for every group up to max_namespaces).
        let used: Vec<u32> = s["namespaces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["anagrpid"].as_u64().map(|g| g as u32))
            .collect();
        for (a, mut ana_states) in addrs {
            if !used.is_empty() {
                ana_states.retain(|(g, _)| used.contains(g));
            }
            let addr = trid_addr(&a);
            let mine: Vec<&Value> = qpairs
                .iter()
                .filter(|(a, _)| *a == addr)
                .map(|(_, q)| *q)
                .collect();
            let mut controllers: Vec<u16> = mine
                .iter()
                .filter_map(|q| q["cntlid"].as_u64().map(|c| c as u16))
                .collect();
            controllers.sort_unstable();
            controllers.dedup();
            out.push(Listener {
                nqn: nqn.clone(),
                trtype: str_of(&a["trtype"]),
                adrfam: str_of(&a["adrfam"]),
                traddr: str_of(&a["traddr"]),
                trsvcid: str_of(&a["trsvcid"]),
                ana_states,
                controllers,
                qpairs: mine.len(),
                fault: None,
            });
        }
    }
    out
}

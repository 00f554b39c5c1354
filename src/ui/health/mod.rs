//! Health of listeners and paths, as plain data read from RPC answers:
//! faults injected on a listener (`mpath_listener_get_faults`), the
//! keep-alive clock and reconnect timers of each controller
//! (`bdev_nvme_get_controllers`: SPDK's state, our extra keys where the
//! initiator is ours, SPDK's saved configuration otherwise), and per-path
//! latency and errors (`bdev_nvme_get_path_iostat`). The countdowns are
//! computed from durations handed in, never from a clock read here, so
//! the sampler decides what "now" is and tests can fix it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod model;

pub use model::*;

use super::raw::RawPoll;
use super::snapshot::{IoPath, Listener, Snapshot};

/// The sampler's health memory between polls: faults, when each path
/// went down, the last per-path statistics, timers from the saved
/// configuration (real SPDK) and the tick rate.
#[derive(Debug, Default)]
pub struct HealthState {
    faults: Vec<(String, String, Fault)>,
    down_since: HashMap<(String, String), Instant>,
    iostat_prev: HashMap<(String, String), PathIostat>,
    /// Ticks per second of `bdev_get_iostat`'s latencies.
    pub tick_rate: Option<u64>,
    /// `bdev_nvme_set_options` / `bdev_nvme_attach_controller` timers from
    /// `framework_get_config`, for controllers that do not list theirs.
    config_default: Option<Timers>,
    config_trid: HashMap<(String, String), Timers>,
    /// The initiator refused `bdev_nvme_get_path_iostat` (io_path_stat
    /// off): not asked again until it is reached anew.
    pub path_iostat_off: Option<String>,
    pub config_at: Option<Instant>,
}

/// How often the saved configuration is read for timers.
pub const CONFIG_PERIOD: Duration = Duration::from_secs(5);

/// One controller of `bdev_nvme_get_controllers`, by transport ID.
struct CtrlrHealth {
    state: Option<String>,
    timers: Option<Timers>,
    keep_alive: Option<KeepAlive>,
    lost_ms: Option<u64>,
}

fn key(traddr: &str, trsvcid: &str) -> (String, String) {
    (traddr.to_string(), trsvcid.to_string())
}

impl HealthState {
    /// Whether the saved configuration should be read now: the initiator
    /// has `framework_get_config`, its controllers do not list their
    /// timers, and the last read is older than [`CONFIG_PERIOD`].
    pub fn config_due(&self, now: Instant, has_method: bool, ctrlrs_have_timers: bool) -> bool {
        has_method
            && !ctrlrs_have_timers
            && self
                .config_at
                .is_none_or(|t| now.saturating_duration_since(t) >= CONFIG_PERIOD)
    }

    /// Folds one poll's answers into the snapshot's listeners and paths.
    pub fn apply(&mut self, raw: &RawPoll, s: &mut Snapshot) {
        if let Some(a) = &raw.faults {
            self.faults = match a {
                Ok(v) => parse_faults(v),
                // Unreachable or refused: no fault is known.
                Err(_) => vec![],
            };
        }
        if let Some(Ok(v)) = &raw.iostat {
            if let Some(r) = v["tick_rate"].as_u64() {
                self.tick_rate = Some(r);
            }
        }
        if let Some(Ok(v)) = &raw.ini_config {
            self.take_config(v);
        }
        if raw.ini_config.is_some() {
            self.config_at = Some(raw.at);
        }
        let fault_of = |traddr: &str, trsvcid: &str| {
            self.faults
                .iter()
                .find(|(a, p, _)| a == traddr && p == trsvcid)
                .map(|(_, _, f)| *f)
        };
        for l in &mut s.listeners {
            l.fault = fault_of(&l.traddr, &l.trsvcid);
        }
        for p in &mut s.paths {
            p.fault = fault_of(&p.traddr, &p.trsvcid);
        }

        let ctrlrs = match &raw.ini_ctrlrs {
            Some(Ok(v)) => Some(ctrlr_health(v)),
            _ => None,
        };
        let stats = match &raw.path_iostat {
            Some(Ok(v)) => Some(parse_path_iostat(v)),
            Some(Err(e)) => {
                self.path_iostat_off = Some(e.msg.clone());
                None
            }
            None => None,
        };
        let mut live = Vec::new();
        for p in &mut s.paths {
            let k = key(&p.traddr, &p.trsvcid);
            live.push(k.clone());
            let c = ctrlrs.as_ref().and_then(|m| m.get(&k));
            if let Some(c) = c {
                p.health.state = c.state.clone();
                p.health.keep_alive = c.keep_alive;
            } else if ctrlrs.is_some() {
                p.health.state = None;
                p.health.keep_alive = None;
            }
            let down = !p.connected || p.health.state.as_deref().is_some_and(|st| st != "enabled");
            if down {
                let since = *self.down_since.entry(k.clone()).or_insert(raw.at);
                let down_for = match c.and_then(|c| c.lost_ms) {
                    Some(ms) => Duration::from_millis(ms),
                    None => raw.at.saturating_duration_since(since),
                };
                let timers = c
                    .and_then(|c| c.timers)
                    .or_else(|| self.config_trid.get(&k).copied())
                    .or(self.config_default)
                    .unwrap_or_default();
                p.health.countdown = Some(countdown(timers, down_for));
                // A lost path has no keep-alive clock running.
                p.health.keep_alive = None;
            } else {
                self.down_since.remove(&k);
                p.health.countdown = None;
            }
            if let Some(st) = &stats {
                match st
                    .iter()
                    .find(|x| x.traddr == p.traddr && x.trsvcid == p.trsvcid)
                {
                    Some(cur) => {
                        let prev = self.iostat_prev.insert(k.clone(), cur.clone());
                        p.health.errors = cur.errors;
                        p.health.avg_lat_us = match (prev, self.tick_rate) {
                            (Some(prev), Some(r)) => interval_latency_us(&prev, cur, r),
                            _ => None,
                        };
                    }
                    None => {
                        p.health.errors = None;
                        p.health.avg_lat_us = None;
                    }
                }
            }
        }
        self.down_since.retain(|k, _| live.contains(k));
        self.iostat_prev.retain(|k, _| live.contains(k));
    }

    /// Timers from `framework_get_config`'s `bdev` subsystem: the
    /// `bdev_nvme_set_options` entry and each attach's own.
    fn take_config(&mut self, v: &Value) {
        let entries = v.as_array().cloned().unwrap_or_default();
        let set = entries
            .iter()
            .find(|e| e["method"] == "bdev_nvme_set_options")
            .and_then(|e| Timers::from_json(&e["params"], Timers::default()));
        self.config_default = set;
        self.config_trid.clear();
        for e in entries
            .iter()
            .filter(|e| e["method"] == "bdev_nvme_attach_controller")
        {
            let p = &e["params"];
            let (Some(a), Some(s)) = (p["traddr"].as_str(), p["trsvcid"].as_str()) else {
                continue;
            };
            if let Some(t) = Timers::from_json(p, set.unwrap_or_default()) {
                self.config_trid.insert(key(a, s), t);
            }
        }
    }
}

/// `bdev_nvme_get_controllers` by transport ID.
fn ctrlr_health(v: &Value) -> HashMap<(String, String), CtrlrHealth> {
    let mut out = HashMap::new();
    for g in v.as_array().into_iter().flatten() {
        for c in g["ctrlrs"].as_array().into_iter().flatten() {
            let t = &c["trid"];
            let (Some(a), Some(s)) = (t["traddr"].as_str(), t["trsvcid"].as_str()) else {
                continue;
            };
            out.insert(
                key(a, s),
                CtrlrHealth {
                    state: c["state"].as_str().map(String::from),
                    timers: Timers::from_json(c, Timers::default()),
                    keep_alive: KeepAlive::from_ctrlr(c),
                    lost_ms: c["lost_ms"].as_u64(),
                },
            );
        }
    }
    out
}

/// Whether the controllers of a `bdev_nvme_get_controllers` answer list
/// their own timers (ours do; SPDK's do not).
pub fn ctrlrs_have_timers(v: &Value) -> bool {
    v.as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["ctrlrs"].as_array().into_iter().flatten())
        .any(|c| c.get("reconnect_delay_sec").is_some())
}

/// The I/O paths pane's health cell of a path: its listener's fault
/// first, then [`PathHealth::text`]; and whether it is an alarm.
pub fn path_cell(p: &IoPath) -> (String, bool) {
    let h = p.health.text();
    match p.fault {
        Some(f) if h.is_empty() => (f.badge(), true),
        Some(f) => (format!("{} · {h}", f.badge()), true),
        None => (h, p.health.alarming()),
    }
}

/// The listeners pane's health cell: the listener's fault, then what is
/// coming for a lost path through it (the reconnect countdown), so a
/// listener whose controllers are gone does not just read `–`.
pub fn listener_cell(l: &Listener, paths: &[IoPath]) -> (Option<String>, Option<String>) {
    let countdown = paths
        .iter()
        .filter(|p| p.traddr == l.traddr && p.trsvcid == l.trsvcid)
        .find_map(|p| p.health.countdown.map(|c| c.text()));
    (l.fault.map(|f| f.badge()), countdown)
}

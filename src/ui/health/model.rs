//! The health of a listener or path as data: a fault, the keep-alive
//! clock, the countdown of a lost path, per-path statistics. Read from RPC
//! answers and durations handed in; nothing here knows the snapshot or
//! the sampler, which both use it.

use std::time::Duration;

use serde_json::Value;

/// A fault on a listener address (ours: SPDK has no such method).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Reads and never answers.
    Blackhole,
    /// Answers held back by this many milliseconds.
    Delay { ms: u32 },
}

impl Fault {
    /// The badge text: `blackhole`, `delay 100ms`.
    pub fn badge(&self) -> String {
        match self {
            Fault::Blackhole => "blackhole".into(),
            Fault::Delay { ms } => format!("delay {ms}ms"),
        }
    }
}

/// `(traddr, trsvcid, fault)` from `mpath_listener_get_faults`; entries
/// with an unknown fault or no address are left out.
pub fn parse_faults(v: &Value) -> Vec<(String, String, Fault)> {
    let Some(a) = v.as_array() else {
        return vec![];
    };
    a.iter()
        .filter_map(|f| {
            let la = &f["listen_address"];
            let traddr = la["traddr"].as_str()?.to_string();
            let trsvcid = la["trsvcid"].as_str()?.to_string();
            let fault = match f["fault"].as_str()? {
                "blackhole" => Fault::Blackhole,
                "delay" => Fault::Delay {
                    ms: u32::try_from(f["delay_ms"].as_u64()?).ok()?,
                },
                _ => return None,
            };
            Some((traddr, trsvcid, fault))
        })
        .collect()
}

/// The delays `d` steps through, in milliseconds.
pub const DELAY_CHOICES: [u32; 5] = [10, 50, 100, 500, 1000];

/// The delay the next `d` sets on a listener whose fault is `current`:
/// the choice after the one in force, the first one otherwise.
pub fn next_delay(current: Option<Fault>) -> u32 {
    match current {
        Some(Fault::Delay { ms }) => DELAY_CHOICES
            .iter()
            .copied()
            .find(|c| *c > ms)
            .unwrap_or(DELAY_CHOICES[0]),
        _ => DELAY_CHOICES[0],
    }
}

/// SPDK's reconnect timers of one controller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timers {
    /// -1: reconnect forever; 0: SPDK's default (no deletion timer here);
    /// N: deleted N s after the loss.
    pub ctrlr_loss_timeout_sec: i32,
    /// 0: no delayed reconnect.
    pub reconnect_delay_sec: u32,
    /// 0: I/O waits for the controller.
    pub fast_io_fail_timeout_sec: u32,
}

impl Timers {
    /// The timers in an object that names them (our controller entries,
    /// `bdev_nvme_attach_controller` / `bdev_nvme_set_options` params);
    /// `None` when it names none. Missing ones fall back to `base`.
    pub fn from_json(v: &Value, base: Timers) -> Option<Timers> {
        let loss = v["ctrlr_loss_timeout_sec"].as_i64();
        let delay = v["reconnect_delay_sec"].as_u64();
        let fast = v["fast_io_fail_timeout_sec"].as_u64();
        if loss.is_none() && delay.is_none() && fast.is_none() {
            return None;
        }
        let u32_of = |x: Option<u64>, d: u32| x.and_then(|x| u32::try_from(x).ok()).unwrap_or(d);
        Some(Timers {
            ctrlr_loss_timeout_sec: loss
                .and_then(|x| i32::try_from(x).ok())
                .unwrap_or(base.ctrlr_loss_timeout_sec),
            reconnect_delay_sec: u32_of(delay, base.reconnect_delay_sec),
            fast_io_fail_timeout_sec: u32_of(fast, base.fast_io_fail_timeout_sec),
        })
    }
}

/// What happens next to a lost path, in whole seconds from now (rounded
/// up, so "in 0 s" never shows while something is still to come).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Countdown {
    /// The next reconnect attempt (`None`: no delay configured, the
    /// host retries on its own schedule).
    pub reconnect_in: Option<u64>,
    /// fast_io_fail_timeout_sec: when queued I/O fails over or fails.
    pub io_fails_in: Option<u64>,
    /// ctrlr_loss_timeout_sec: when the controller is deleted.
    pub lost_in: Option<u64>,
}

fn ceil_secs(ms: u128) -> u64 {
    ms.div_ceil(1000).min(u128::from(u64::MAX)) as u64
}

/// The countdown of a path `down_for` after its controller was lost.
/// Attempts come every reconnect_delay_sec from the loss (the first one
/// at once), as SPDK's reconnect poller schedules them.
pub fn countdown(t: Timers, down_for: Duration) -> Countdown {
    let down = down_for.as_millis();
    let left = |secs: u64| {
        let end = u128::from(secs) * 1000;
        (end > down).then(|| ceil_secs(end - down))
    };
    let reconnect_in = (t.reconnect_delay_sec > 0).then(|| {
        let d = u128::from(t.reconnect_delay_sec) * 1000;
        ceil_secs(d - down % d)
    });
    let io_fails_in = if t.fast_io_fail_timeout_sec > 0 {
        left(u64::from(t.fast_io_fail_timeout_sec))
    } else {
        None
    };
    let lost_in = if t.ctrlr_loss_timeout_sec > 0 {
        left(t.ctrlr_loss_timeout_sec as u64)
    } else {
        None
    };
    Countdown {
        reconnect_in,
        io_fails_in,
        lost_in,
    }
}

impl Countdown {
    /// `reconnect in 7 s · lost in 23 s`; `reconnecting` when no attempt
    /// time is known.
    pub fn text(&self) -> String {
        let mut v = vec![match self.reconnect_in {
            Some(s) => format!("reconnect in {s} s"),
            None => "reconnecting".into(),
        }];
        if let Some(s) = self.io_fails_in {
            v.push(format!("I/O fails in {s} s"));
        }
        if let Some(s) = self.lost_in {
            v.push(format!("lost in {s} s"));
        }
        v.join(" · ")
    }
}

/// The keep-alive clock of a controller (our extra keys).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeepAlive {
    /// KATO in ms; 0: keep-alive is off.
    pub timeout_ms: u64,
    /// Since the last answer (or the connect).
    pub since_answer_ms: Option<u64>,
    /// How long the Keep Alive in flight has waited.
    pub pending_ms: Option<u64>,
}

impl KeepAlive {
    /// From one controller entry of our `bdev_nvme_get_controllers`;
    /// `None` when the entry has no keep-alive keys (real SPDK).
    pub fn from_ctrlr(c: &Value) -> Option<KeepAlive> {
        let ka = c.get("keep_alive")?;
        Some(KeepAlive {
            timeout_ms: c["keep_alive_timeout_ms"].as_u64().unwrap_or(0),
            since_answer_ms: ka["since_answer_ms"].as_u64(),
            pending_ms: ka["pending_ms"].as_u64(),
        })
    }

    /// Seconds until the Keep Alive in flight times out (the path is then
    /// lost), if one is waiting.
    pub fn timeout_in(&self) -> Option<u64> {
        let p = self.pending_ms?;
        (self.timeout_ms > 0).then(|| ceil_secs(u128::from(self.timeout_ms.saturating_sub(p))))
    }

    /// `KA timeout in 7 s` while an answer is overdue, else `KA 2 s ago`
    /// (the last answer); `KA off` without keep-alive.
    pub fn text(&self) -> String {
        if self.timeout_ms == 0 {
            return "KA off".into();
        }
        // An answer normally takes well under a millisecond: one still
        // waiting after a second is worth a countdown.
        match (self.timeout_in(), self.pending_ms) {
            (Some(s), Some(p)) if p >= 1000 => format!("KA timeout in {s} s"),
            _ => match self.since_answer_ms {
                Some(ms) => format!("KA {} s ago", ms / 1000),
                None => "KA –".into(),
            },
        }
    }

    /// Whether the text is a warning (an answer overdue).
    pub fn overdue(&self) -> bool {
        self.pending_ms.is_some_and(|p| p >= 1000)
    }
}

/// Cumulative per-path counters from one `bdev_nvme_get_path_iostat`
/// entry: operations, their summed latency in ticks, and errors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PathIostat {
    pub traddr: String,
    pub trsvcid: String,
    pub ops: u64,
    pub latency_ticks: u64,
    /// Σ `io_error` (`None`: the backend does not count per-path errors,
    /// as SPDK v24.09 does not).
    pub errors: Option<u64>,
}

/// The entries of a `bdev_nvme_get_path_iostat` result.
pub fn parse_path_iostat(v: &Value) -> Vec<PathIostat> {
    let Some(a) = v["stats"].as_array() else {
        return vec![];
    };
    a.iter()
        .filter_map(|e| {
            let t = &e["trid"];
            let s = &e["stat"];
            let n = |k: &str| s[k].as_u64().unwrap_or(0);
            Some(PathIostat {
                traddr: t["traddr"].as_str()?.to_string(),
                trsvcid: t["trsvcid"].as_str()?.to_string(),
                ops: n("num_read_ops")
                    + n("num_write_ops")
                    + n("num_unmap_ops")
                    + n("num_copy_ops"),
                latency_ticks: n("read_latency_ticks")
                    + n("write_latency_ticks")
                    + n("unmap_latency_ticks")
                    + n("copy_latency_ticks"),
                errors: s["io_error"]
                    .as_object()
                    .map(|m| m.values().filter_map(Value::as_u64).sum()),
            })
        })
        .collect()
}

/// Average latency in µs between two readings of one path, or `None`
/// when nothing completed in between (or a counter went back: a reset).
pub fn interval_latency_us(prev: &PathIostat, cur: &PathIostat, tick_rate: u64) -> Option<f64> {
    let ops = cur.ops.checked_sub(prev.ops)?;
    let ticks = cur.latency_ticks.checked_sub(prev.latency_ticks)?;
    (ops > 0 && tick_rate > 0).then(|| ticks as f64 / ops as f64 / tick_rate as f64 * 1e6)
}

/// Per-path health as the panes show it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PathHealth {
    /// The controller's state as `bdev_nvme_get_controllers` says
    /// (`enabled`, `resetting`, `reconnect_is_delayed`, ...).
    pub state: Option<String>,
    pub keep_alive: Option<KeepAlive>,
    /// Set while the path is down.
    pub countdown: Option<Countdown>,
    /// Average latency over the last interval, µs.
    pub avg_lat_us: Option<f64>,
    /// Errors since the statistics began.
    pub errors: Option<u64>,
}

impl PathHealth {
    /// One short cell: the countdown while down, else the keep-alive
    /// clock, else the controller state; empty when nothing is known.
    pub fn text(&self) -> String {
        if let Some(c) = &self.countdown {
            return c.text();
        }
        if let Some(k) = &self.keep_alive {
            return k.text();
        }
        self.state.clone().unwrap_or_default()
    }

    /// Whether the cell is a warning.
    pub fn alarming(&self) -> bool {
        self.countdown.is_some() || self.keep_alive.is_some_and(|k| k.overdue())
    }
}

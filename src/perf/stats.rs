//! What a job reports: live atomic counters (for a UI polling at ~10 Hz),
//! per-second snapshots, and the final [`JobResult`] with bdevperf's derived
//! figures (IOPS, MiB/s, Fail/s, TO/s, latencies) and its JSON.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value};

use super::config::Workload;
use super::histogram::LatencyHistogram;
use super::pattern::Miscompare;

const MIB: f64 = 1024.0 * 1024.0;

/// Counters of a running job, readable from any task without locking.
///
/// The job's own task is the only writer: it keeps plain counters and
/// publishes them here at the end of every batch of completions (at least
/// every few hundred I/Os, and whenever it goes idle), so readers see values
/// at most one batch old. All loads and stores are `Relaxed`: each field is
/// a monotone counter or a gauge read on its own.
///
/// Latency percentiles are published too, at most every [`MARK_EVERY_US`]:
/// the cumulative p99 of the run, and the p99 of the last second or so (the
/// run's histogram minus its copy from [`RECENT_WINDOW_US`] earlier), so a
/// console shows the tail latency of now, not of the whole run.
#[derive(Debug)]
pub struct LiveStats {
    io_completed: AtomicU64,
    io_failed: AtomicU64,
    io_timeout: AtomicU64,
    io_miscompared: AtomicU64,
    bytes: AtomicU64,
    in_flight: AtomicU64,
    latency_sum_ns: AtomicU64,
    latency_min_ns: AtomicU64,
    latency_max_ns: AtomicU64,
    elapsed_us: AtomicU64,
    run_time_us: AtomicU64,
    running: AtomicBool,
    stopped_on_error: AtomicBool,
    /// Percentiles, in ns; `NONE` when there is nothing to take them of.
    p99_ns: AtomicU64,
    recent_p99_ns: AtomicU64,
    /// Completions (and failures) in the recent window, and its length.
    recent_ios: AtomicU64,
    recent_window_us: AtomicU64,
    /// Elapsed µs at which the next mark is due (checked on every publish,
    /// so the histogram is only walked a few times a second).
    next_mark_us: AtomicU64,
    /// The histogram's copies at the last marks (the writer's only).
    marks: Mutex<Marks>,
}

/// How often percentiles are recomputed, in µs of the job's run.
pub const MARK_EVERY_US: u64 = 250_000;
/// The recent window's length: p99 of the I/O completed in the last second
/// (between this and this plus [`MARK_EVERY_US`], as marks fall).
pub const RECENT_WINDOW_US: u64 = 1_000_000;

const NONE: u64 = u64::MAX;

/// The histogram's non-empty buckets `(low, high, count)` at a time.
#[derive(Debug, Default)]
struct Mark {
    at_us: u64,
    buckets: Vec<(u64, u64, u64)>,
}

#[derive(Debug, Default)]
struct Marks {
    /// Oldest first; the first one is the newest mark at least
    /// [`RECENT_WINDOW_US`] old (or the run's start, empty).
    ring: VecDeque<Mark>,
}

impl Marks {
    /// Records `hist` at `at_us` and returns the recent window's
    /// (p99 ns, I/O count, window µs) and the cumulative p99.
    fn mark(
        &mut self,
        hist: &LatencyHistogram,
        at_us: u64,
    ) -> (Option<u64>, u64, u64, Option<u64>) {
        if self.ring.back().is_some_and(|m| m.at_us > at_us) {
            // Time went backwards: a new run in the same stats.
            self.ring.clear();
        }
        if self.ring.is_empty() {
            // The run started empty.
            self.ring.push_back(Mark::default());
        }
        let now = Mark {
            at_us,
            buckets: hist.buckets().collect(),
        };
        // Keep one mark at least a window old, and the ones after it.
        while self.ring.len() >= 2 && at_us.saturating_sub(self.ring[1].at_us) >= RECENT_WINDOW_US {
            self.ring.pop_front();
        }
        let base = &self.ring[0];
        let window = diff(&now.buckets, &base.buckets);
        let ios: u64 = window.iter().map(|b| b.2).sum();
        let recent = percentile(&window, ios, 99.0, hist.max());
        let total = hist.count();
        let cumulative = hist.value_at_percentile(99.0).filter(|_| total > 0);
        let span = at_us - base.at_us;
        self.ring.push_back(now);
        (recent, ios, span, cumulative)
    }
}

/// `now - then`, bucket by bucket (both sorted by `low`; counts only grow).
fn diff(now: &[(u64, u64, u64)], then: &[(u64, u64, u64)]) -> Vec<(u64, u64, u64)> {
    let mut out = Vec::with_capacity(now.len());
    let mut j = 0;
    for &(low, high, c) in now {
        while j < then.len() && then[j].0 < low {
            j += 1;
        }
        let before = match then.get(j) {
            Some(&(l, _, b)) if l == low => b,
            _ => 0,
        };
        if c > before {
            out.push((low, high, c - before));
        }
    }
    out
}

/// The value at percentile `p` of bucketed counts totalling `n`, as
/// [`LatencyHistogram::value_at_percentile`] takes it (the bucket's upper
/// bound), no higher than `max`.
fn percentile(buckets: &[(u64, u64, u64)], n: u64, p: f64, max: Option<u64>) -> Option<u64> {
    if n == 0 {
        return None;
    }
    let x = (p / 100.0) * n as f64;
    let rank = ((x - x * 1e-12).ceil() as u64).clamp(1, n);
    let mut seen = 0;
    for &(_, high, c) in buckets {
        seen += c;
        if seen >= rank {
            return Some(max.map_or(high, |m| high.min(m)));
        }
    }
    max
}

impl Default for LiveStats {
    fn default() -> Self {
        Self::new()
    }
}

/// A copy of [`LiveStats`] at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiveSnapshot {
    pub io_completed: u64,
    pub io_failed: u64,
    pub io_timeout: u64,
    pub io_miscompared: u64,
    pub bytes: u64,
    /// I/Os submitted and not yet completed (a verify pair counts once).
    pub in_flight: u64,
    /// Sum of recorded latencies (completed and failed I/O), ns, saturating.
    pub latency_sum_ns: u64,
    /// `None` until the first completion.
    pub latency_min_ns: Option<u64>,
    pub latency_max_ns: u64,
    /// Time since the job started, as of the last publish.
    pub elapsed_us: u64,
    /// Final run time once the job has drained, else 0.
    pub run_time_us: u64,
    pub running: bool,
    /// The job stopped early because of a failure (no `-f`).
    pub stopped_on_error: bool,
    /// p99 latency since the job started, ns (as of the last mark, at
    /// most [`MARK_EVERY_US`] old); `None` before any completion.
    pub p99_ns: Option<u64>,
    /// p99 latency of the I/O completed in the recent window, ns; `None`
    /// when none completed in it.
    pub recent_p99_ns: Option<u64>,
    /// I/Os (completed or failed) in the recent window.
    pub recent_ios: u64,
    /// The recent window's length, µs (about [`RECENT_WINDOW_US`]; shorter
    /// in the run's first second).
    pub recent_window_us: u64,
}

/// The job-side counters that get published.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counters {
    pub io_completed: u64,
    pub io_failed: u64,
    pub io_timeout: u64,
    pub io_miscompared: u64,
    pub bytes: u64,
}

impl LiveStats {
    pub fn new() -> Self {
        LiveStats {
            io_completed: AtomicU64::new(0),
            io_failed: AtomicU64::new(0),
            io_timeout: AtomicU64::new(0),
            io_miscompared: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            latency_sum_ns: AtomicU64::new(0),
            latency_min_ns: AtomicU64::new(u64::MAX),
            latency_max_ns: AtomicU64::new(0),
            elapsed_us: AtomicU64::new(0),
            run_time_us: AtomicU64::new(0),
            running: AtomicBool::new(false),
            stopped_on_error: AtomicBool::new(false),
            p99_ns: AtomicU64::new(NONE),
            recent_p99_ns: AtomicU64::new(NONE),
            recent_ios: AtomicU64::new(0),
            recent_window_us: AtomicU64::new(0),
            next_mark_us: AtomicU64::new(0),
            marks: Mutex::new(Marks::default()),
        }
    }

    pub fn snapshot(&self) -> LiveSnapshot {
        let r = Ordering::Relaxed;
        let min = self.latency_min_ns.load(r);
        LiveSnapshot {
            io_completed: self.io_completed.load(r),
            io_failed: self.io_failed.load(r),
            io_timeout: self.io_timeout.load(r),
            io_miscompared: self.io_miscompared.load(r),
            bytes: self.bytes.load(r),
            in_flight: self.in_flight.load(r),
            latency_sum_ns: self.latency_sum_ns.load(r),
            latency_min_ns: (min != u64::MAX).then_some(min),
            latency_max_ns: self.latency_max_ns.load(r),
            elapsed_us: self.elapsed_us.load(r),
            run_time_us: self.run_time_us.load(r),
            running: self.running.load(r),
            stopped_on_error: self.stopped_on_error.load(r),
            p99_ns: some(self.p99_ns.load(r)),
            recent_p99_ns: some(self.recent_p99_ns.load(r)),
            recent_ios: self.recent_ios.load(r),
            recent_window_us: self.recent_window_us.load(r),
        }
    }

    pub fn io_completed(&self) -> u64 {
        self.io_completed.load(Ordering::Relaxed)
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    pub(crate) fn publish(
        &self,
        c: &Counters,
        in_flight: u32,
        hist: &LatencyHistogram,
        elapsed: Duration,
    ) {
        let r = Ordering::Relaxed;
        self.io_completed.store(c.io_completed, r);
        self.io_failed.store(c.io_failed, r);
        self.io_timeout.store(c.io_timeout, r);
        self.io_miscompared.store(c.io_miscompared, r);
        self.bytes.store(c.bytes, r);
        self.in_flight.store(u64::from(in_flight), r);
        self.latency_sum_ns
            .store(u64::try_from(hist.sum()).unwrap_or(u64::MAX), r);
        self.latency_min_ns.store(hist.min().unwrap_or(u64::MAX), r);
        self.latency_max_ns.store(hist.max().unwrap_or(0), r);
        let at = duration_us(elapsed);
        self.elapsed_us.store(at, r);
        let due = self.next_mark_us.load(r);
        // A new run's clock restarts below the last mark: mark it at once.
        if at >= due || due.saturating_sub(at) > MARK_EVERY_US {
            self.mark(hist, at);
        }
    }

    /// Recomputes the percentiles from `hist` as of `at_us`.
    fn mark(&self, hist: &LatencyHistogram, at_us: u64) {
        let r = Ordering::Relaxed;
        let mut m = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        let (recent, ios, span, total) = m.mark(hist, at_us);
        drop(m);
        self.p99_ns.store(total.unwrap_or(NONE), r);
        self.recent_p99_ns.store(recent.unwrap_or(NONE), r);
        self.recent_ios.store(ios, r);
        self.recent_window_us.store(span, r);
        self.next_mark_us.store(at_us + MARK_EVERY_US, r);
    }

    pub(crate) fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::Relaxed);
    }

    pub(crate) fn finish(&self, run_time_us: u64, stopped_on_error: bool) {
        self.run_time_us.store(run_time_us, Ordering::Relaxed);
        self.stopped_on_error
            .store(stopped_on_error, Ordering::Relaxed);
        self.running.store(false, Ordering::Relaxed);
    }
}

fn some(v: u64) -> Option<u64> {
    (v != NONE).then_some(v)
}

pub(crate) fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A job's state once per second, given to the progress callback.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Device (job) name.
    pub job: String,
    /// 1 for the first second, 2 for the second, ...
    pub period: u64,
    pub elapsed: Duration,
    pub io_completed: u64,
    pub io_failed: u64,
    pub io_timeout: u64,
    pub io_miscompared: u64,
    pub bytes: u64,
    pub in_flight: u32,
    /// bdevperf's per-second figure: completions since the start divided
    /// by `period` whole seconds (a cumulative average, as its summary line).
    pub iops: f64,
    pub mibps: f64,
    /// Completions in the last second only.
    pub interval_iops: f64,
    pub interval_mibps: f64,
    /// Cumulative latency figures, µs (0 before any completion).
    pub avg_latency_us: f64,
    pub min_latency_us: f64,
    pub max_latency_us: f64,
    pub p50_latency_us: f64,
    pub p99_latency_us: f64,
    pub p999_latency_us: f64,
}

/// How a job ended (`status` in the `perform_tests` result).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Ran its time (or was drained because another job failed).
    Finished,
    /// Stopped on a failed I/O or a miscompare without `-f`.
    Failed,
    /// Stopped early from outside (bdevperf: shutdown signal).
    Terminated,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Finished => "finished",
            JobStatus::Failed => "failed",
            JobStatus::Terminated => "terminated",
        }
    }
}

/// Count, sum, min and max of one kind of operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpLatency {
    pub count: u64,
    pub sum_ns: u128,
    pub min_ns: u64,
    pub max_ns: u64,
}

impl OpLatency {
    #[inline]
    pub(crate) fn record(&mut self, ns: u64) {
        if self.count == 0 || ns < self.min_ns {
            self.min_ns = ns;
        }
        self.max_ns = self.max_ns.max(ns);
        self.count += 1;
        self.sum_ns += u128::from(ns);
    }

    pub fn avg_us(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.count as f64 / 1000.0
        }
    }
}

/// Everything a finished job reports.
///
/// Latency: one sample per I/O, from submission to completion, failed I/O
/// included (as bdevperf's bdev histogram includes them). For verify one
/// "I/O" is a write plus its read-back, counted once in `io_completed` like
/// bdevperf, and its sample spans write submission to read completion, so
/// the average matches bdevperf's (which adds both ops' latencies and
/// divides by the pair count); min/max/percentiles are of pairs too, where
/// bdevperf's min/max are of single ops. The two ops are also measured
/// separately in `verify_write_latency` and `verify_read_latency`.
#[derive(Debug, Clone, PartialEq)]
pub struct JobResult {
    /// The job name: the device name.
    pub job: String,
    /// The core mask the job reports (one core of the app's `-m`).
    pub core_mask: u64,
    pub workload: Workload,
    /// Read percentage; reported for rw/randrw only.
    pub rw_percentage: i32,
    pub status: JobStatus,
    /// Verify LBA range in IO-size units (start, length), verify/reset only.
    pub verify_range: Option<(u64, u64)>,
    /// Effective queue depth (verify caps it at the range length).
    pub queue_depth: u32,
    pub io_size: u32,
    /// From the start of the run until the job drained, µs.
    pub run_time_us: u64,
    pub io_completed: u64,
    pub io_failed: u64,
    pub io_timeout: u64,
    /// Verify I/Os whose read-back did not match (also in `io_completed`).
    pub io_miscompared: u64,
    /// Bytes moved by completed I/O (a verify pair counts `io_size` once).
    pub bytes: u64,
    pub latency: LatencyHistogram,
    pub verify_write_latency: OpLatency,
    pub verify_read_latency: OpLatency,
    /// The first miscompares, in order (at most `MAX_RECORDED_MISCOMPARES`).
    pub miscompares: Vec<Miscompare>,
    /// Console lines bdevperf prints during a run (failed I/O, buffer
    /// mismatch), plus ours describing each miscompare; bounded.
    pub events: Vec<String>,
    /// The last verify generation written (0 if none).
    pub last_generation: u64,
    /// Set when the job could not start; then nothing else is meaningful.
    pub error: Option<super::config::PerfError>,
}

/// How many miscompares a job keeps in detail.
pub const MAX_RECORDED_MISCOMPARES: usize = 16;
/// How many event lines a job keeps.
pub const MAX_EVENTS: usize = 64;

fn per_second(count: u64, time_us: u64) -> f64 {
    if time_us == 0 {
        0.0
    } else {
        count as f64 * 1_000_000.0 / time_us as f64
    }
}

impl JobResult {
    /// The runtime bdevperf prints: its C code divides a `float` cast of the
    /// microseconds, so large values round like a float.
    pub fn runtime_s_console(&self) -> f64 {
        f64::from(self.run_time_us as f32) / 1_000_000.0
    }

    /// The runtime in the JSON result (`double`, exact µs).
    pub fn runtime_s(&self) -> f64 {
        self.run_time_us as f64 / 1_000_000.0
    }

    /// bdevperf: completed I/O × 10⁶ / run µs.
    pub fn iops(&self) -> f64 {
        per_second(self.io_completed, self.run_time_us)
    }

    /// bdevperf: IOPS × IO size / 2²⁰.
    pub fn mibps(&self) -> f64 {
        self.iops() * f64::from(self.io_size) / MIB
    }

    pub fn failed_per_second(&self) -> f64 {
        per_second(self.io_failed, self.run_time_us)
    }

    pub fn timeout_per_second(&self) -> f64 {
        per_second(self.io_timeout, self.run_time_us)
    }

    /// Sum of latencies / (completed + failed), µs, like bdevperf.
    pub fn avg_latency_us(&self) -> f64 {
        let n = self.io_completed + self.io_failed;
        if n == 0 {
            0.0
        } else {
            self.latency.sum() as f64 / n as f64 / 1000.0
        }
    }

    pub fn min_latency_us(&self) -> f64 {
        self.latency.min().map_or(0.0, |v| v as f64 / 1000.0)
    }

    pub fn max_latency_us(&self) -> f64 {
        self.latency.max().map_or(0.0, |v| v as f64 / 1000.0)
    }

    /// Latency percentile (0..=100), µs; 0 when nothing completed.
    pub fn percentile_us(&self, p: f64) -> f64 {
        self.latency
            .value_at_percentile(p)
            .map_or(0.0, |v| v as f64 / 1000.0)
    }

    /// bdevperf prints "Job: X ended in about N seconds with error" for
    /// this (and, ours, also for a stop on miscompare).
    pub fn ended_with_error(&self) -> bool {
        self.status == JobStatus::Failed
    }

    /// One element of `results` in the `perform_tests` reply, keys in SPDK
    /// v24.09 order, then ours (`p50_latency_us`, `p99_latency_us`,
    /// `p999_latency_us`, `io_miscompared`).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("job".into(), Value::from(self.job.clone()));
        m.insert(
            "core_mask".into(),
            Value::from(format!("0x{:x}", self.core_mask)),
        );
        m.insert("workload".into(), Value::from(self.workload.as_str()));
        if self.workload.is_mixed() {
            m.insert("percentage".into(), Value::from(self.rw_percentage));
        }
        m.insert("status".into(), Value::from(self.status.as_str()));
        if let Some((start, length)) = self.verify_range {
            let mut r = Map::new();
            r.insert("start".into(), Value::from(start));
            r.insert("length".into(), Value::from(length));
            m.insert("verify_range".into(), Value::Object(r));
        }
        m.insert("queue_depth".into(), Value::from(self.queue_depth));
        m.insert("io_size".into(), Value::from(self.io_size));
        m.insert("runtime".into(), f64_value(self.runtime_s()));
        m.insert("iops".into(), f64_value(self.iops()));
        m.insert("mibps".into(), f64_value(self.mibps()));
        m.insert("io_failed".into(), Value::from(self.io_failed));
        m.insert("io_timeout".into(), Value::from(self.io_timeout));
        m.insert("avg_latency_us".into(), f64_value(self.avg_latency_us()));
        m.insert("min_latency_us".into(), f64_value(self.min_latency_us()));
        m.insert("max_latency_us".into(), f64_value(self.max_latency_us()));
        m.insert("p50_latency_us".into(), f64_value(self.percentile_us(50.0)));
        m.insert("p99_latency_us".into(), f64_value(self.percentile_us(99.0)));
        m.insert(
            "p999_latency_us".into(),
            f64_value(self.percentile_us(99.9)),
        );
        m.insert("io_miscompared".into(), Value::from(self.io_miscompared));
        Value::Object(m)
    }
}

/// A JSON float that stays a float: serde_json turns NaN/inf into null, so
/// they become 0 (they only arise from an empty run).
fn f64_value(v: f64) -> Value {
    let v = if v.is_finite() { v } else { 0.0 };
    serde_json::Number::from_f64(v).map_or(Value::from(0.0), Value::Number)
}

/// The whole `perform_tests` result: `{"results":[...],"core_count":N}`.
pub fn results_json(results: &[JobResult], core_count: u32) -> Value {
    let mut m = Map::new();
    m.insert(
        "results".into(),
        Value::Array(results.iter().map(JobResult::to_json).collect()),
    );
    m.insert("core_count".into(), Value::from(core_count));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(live: &LiveStats, h: &LatencyHistogram, at_ms: u64) {
        let c = Counters {
            io_completed: h.count(),
            ..Counters::default()
        };
        live.publish(&c, 1, h, Duration::from_millis(at_ms));
    }

    #[test]
    fn recent_p99_is_of_the_last_second_only() {
        let live = LiveStats::new();
        assert_eq!(live.snapshot().recent_p99_ns, None);
        let mut h = LatencyHistogram::new();
        // First second: 1000 I/Os at 100 µs, published every 50 ms.
        for t in 0..20u64 {
            for _ in 0..50 {
                h.record(100_000);
            }
            publish(&live, &h, t * 50);
        }
        let s = live.snapshot();
        let p = s.recent_p99_ns.unwrap();
        assert!((100_000..=101_600).contains(&p), "{p}");
        assert_eq!(s.p99_ns, Some(p));
        // Then a slow patch: 10 ms per I/O for over a second.
        for t in 20..50u64 {
            for _ in 0..50 {
                h.record(10_000_000);
            }
            publish(&live, &h, t * 50);
        }
        let s = live.snapshot();
        let p = s.recent_p99_ns.unwrap();
        assert!((10_000_000..=10_160_000).contains(&p), "{p}");
        assert!(
            (RECENT_WINDOW_US..=RECENT_WINDOW_US + MARK_EVERY_US).contains(&s.recent_window_us),
            "{}",
            s.recent_window_us
        );
        // Fast again for over a second: the slow patch leaves the window,
        // while the cumulative p99 still remembers it.
        for t in 50..80u64 {
            for _ in 0..50 {
                h.record(100_000);
            }
            publish(&live, &h, t * 50);
        }
        let s = live.snapshot();
        assert!(s.recent_p99_ns.unwrap() <= 101_600, "{s:?}");
        assert!(s.p99_ns.unwrap() >= 10_000_000, "{s:?}");
        assert!(s.recent_ios >= 1000 && s.recent_ios <= 1300, "{s:?}");
        // Idle for a while: nothing completed in the window, no p99.
        publish(&live, &h, 6000);
        publish(&live, &h, 7500);
        let s = live.snapshot();
        assert_eq!((s.recent_p99_ns, s.recent_ios), (None, 0), "{s:?}");
        assert!(s.p99_ns.is_some());
    }

    #[test]
    fn bucket_difference() {
        let now = [(1, 1, 5), (2, 2, 3), (64, 65, 7)];
        let then = [(1, 1, 5), (64, 65, 2)];
        assert_eq!(diff(&now, &then), vec![(2, 2, 3), (64, 65, 5)]);
        assert_eq!(percentile(&diff(&now, &then), 8, 99.0, Some(70)), Some(65));
        assert_eq!(percentile(&[(2, 2, 3)], 3, 10.0, None), Some(2));
        assert_eq!(percentile(&[], 0, 99.0, Some(1)), None);
    }
}

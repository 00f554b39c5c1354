//! The bdevperf application state behind the `perform_tests` RPC: the
//! persistent parameters, the devices to drive, the run in progress, and
//! bdevperf's console output.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::config::{
    apply_params, errno, PerfConfig, RpcError, JSONRPC_INTERNAL_ERROR, JSONRPC_INVALID_PARAMS,
};
use super::job::{empty_result, Job, StopSignal};
use super::output;
use super::stats::{results_json, JobResult, JobStatus, LiveStats, Snapshot};
use crate::bdev::BlockDevice;

/// Where bdevperf's console text goes (the strings carry their own `\n`
/// and `\r`). A UI can show it; `stdout_sink` prints it.
pub type OutputSink = Arc<dyn Fn(&str) + Send + Sync>;

/// An [`OutputSink`] writing to standard output, flushed per call so the
/// `\r` lines show as they come.
pub fn stdout_sink() -> OutputSink {
    Arc::new(|s: &str| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
    })
}

struct RunInfo {
    stop: StopSignal,
    live: Vec<(String, Arc<LiveStats>)>,
    latest: Arc<Mutex<Vec<Option<Snapshot>>>>,
}

struct State {
    config: PerfConfig,
    devices: Vec<Arc<dyn BlockDevice>>,
    run: Option<RunInfo>,
    output: Option<OutputSink>,
    last_results: Vec<JobResult>,
    /// Next verify generation per device, so each run writes newer data.
    generations: HashMap<String, u64>,
    /// Round-robin position over the core mask; like bdevperf's static
    /// `current_core`, it carries over from one run to the next.
    next_core: usize,
}

/// bdevperf as an object: `perform_tests` runs one job per device (all
/// concurrently) with the persistent parameters and answers when the run
/// ends, with SPDK v24.09's result or error.
pub struct Bdevperf {
    state: Mutex<State>,
}

impl std::fmt::Debug for Bdevperf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("Bdevperf")
            .field("config", &st.config)
            .field("devices", &st.devices.len())
            .field("running", &st.run.is_some())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data behind the lock; a panic elsewhere cannot leave it invalid.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The set bits of a core mask, lowest first (at least core 0).
fn cores(mask: u64) -> Vec<u64> {
    let v: Vec<u64> = (0..64)
        .map(|i| 1u64 << i)
        .filter(|b| mask & b != 0)
        .collect();
    if v.is_empty() {
        vec![1]
    } else {
        v
    }
}

/// Clears the run state if `perform_tests` is dropped before it finishes
/// (the RPC connection went away): the jobs are told to stop and drain.
struct RunGuard<'a> {
    bp: &'a Bdevperf,
    stop: StopSignal,
    armed: bool,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.stop.terminate();
            self.bp.lock().run = None;
        }
    }
}

impl Bdevperf {
    /// With the parameters from the command line (see
    /// `PerfConfig::from_args`); a `-z` style config may be incomplete.
    pub fn new(config: PerfConfig) -> Self {
        Bdevperf {
            state: Mutex::new(State {
                config,
                devices: Vec::new(),
                run: None,
                output: None,
                last_results: Vec::new(),
                generations: HashMap::new(),
                next_core: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn emit(&self, text: &str) {
        let sink = self.lock().output.clone();
        if let Some(sink) = sink {
            sink(text);
        }
    }

    /// Sets (or with `None` silences) the console output.
    pub fn set_output(&self, sink: Option<OutputSink>) {
        self.lock().output = sink;
    }

    /// The persistent parameters as they stand.
    pub fn config(&self) -> PerfConfig {
        self.lock().config.clone()
    }

    pub fn set_config(&self, config: PerfConfig) {
        self.lock().config = config;
    }

    /// Adds a device to drive (one job each), replacing one of the same name.
    pub fn add_device(&self, dev: Arc<dyn BlockDevice>) {
        let mut st = self.lock();
        st.devices.retain(|d| d.name() != dev.name());
        st.devices.push(dev);
    }

    pub fn remove_device(&self, name: &str) -> bool {
        let mut st = self.lock();
        let before = st.devices.len();
        st.devices.retain(|d| d.name() != name);
        st.devices.len() != before
    }

    pub fn device_names(&self) -> Vec<String> {
        self.lock()
            .devices
            .iter()
            .map(|d| d.name().to_string())
            .collect()
    }

    pub fn is_running(&self) -> bool {
        self.lock().run.is_some()
    }

    /// Live counters of the running jobs (empty when idle), by job name.
    pub fn live_stats(&self) -> Vec<(String, Arc<LiveStats>)> {
        self.lock()
            .run
            .as_ref()
            .map(|r| r.live.clone())
            .unwrap_or_default()
    }

    /// The latest per-second snapshot of each running job.
    pub fn latest_snapshots(&self) -> Vec<Snapshot> {
        let latest = self.lock().run.as_ref().map(|r| Arc::clone(&r.latest));
        latest
            .map(|l| lock(&l).iter().flatten().cloned().collect())
            .unwrap_or_default()
    }

    /// Stops the running test early: the jobs drain and report
    /// "terminated", and `perform_tests` answers with the results (as
    /// bdevperf does on SIGINT, except that it then exits). False if idle.
    pub fn stop(&self) -> bool {
        match &self.lock().run {
            Some(r) => {
                r.stop.terminate();
                true
            }
            None => false,
        }
    }

    /// The results of the last completed run (also after a failed run,
    /// whose RPC answer is an error).
    pub fn last_results(&self) -> Vec<JobResult> {
        self.lock().last_results.clone()
    }

    /// The `perform_tests` RPC. `params` is the request's params (`None` or
    /// null when absent). Errors, as SPDK v24.09:
    ///
    /// * a run in progress → (-32603, "Unknown error -115") (golden 32);
    /// * params that do not decode → (-32700, "spdk_json_decode_object failed");
    /// * params that do not validate → (-32700, "Invalid parameters provided");
    /// * no device (or none named `-T`) → (-32602, "No jobs defined or bdevs created");
    /// * a job that cannot be set up → (-32603, "bdevperf failed with error <strerror>");
    /// * a run that failed (I/O error or miscompare without `-f`) →
    ///   (-32603, "bdevperf failed with error Operation not permitted").
    ///   bdevperf exits after that; here the results stay in `last_results`.
    ///
    /// Otherwise, when the run ends: `{"results":[...],"core_count":N}`,
    /// also after [`stop`](Self::stop) (status "terminated").
    pub async fn perform_tests(&self, params: Option<&Value>) -> Result<Value, RpcError> {
        let (jobs, stop, live, latest, cfg) = self.start_run(params)?;
        let mut guard = RunGuard {
            bp: self,
            stop: stop.clone(),
            armed: true,
        };
        self.emit(&output::format_running(u64::from(cfg.time_in_sec)));
        let start = Instant::now();
        let mut handles = Vec::with_capacity(jobs.len());
        for (i, job) in jobs.into_iter().enumerate() {
            let live = Arc::clone(&live[i].1);
            let latest = Arc::clone(&latest);
            let stop = stop.clone();
            handles.push(tokio::spawn(job.run(
                live,
                move |snap: &Snapshot| {
                    if let Some(slot) = lock(&latest).get_mut(i) {
                        *slot = Some(snap.clone());
                    }
                },
                stop,
            )));
        }
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::from_std(start) + SECOND, SECOND);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut period = 0u64;
        let mut results = Vec::with_capacity(handles.len());
        for (i, mut h) in handles.into_iter().enumerate() {
            loop {
                tokio::select! {
                    biased;
                    r = &mut h => {
                        results.push(r.unwrap_or_else(|e| {
                            let event = format!("job task ended abnormally: {e}");
                            empty_result(live[i].0.clone(), &cfg, None, event)
                        }));
                        break;
                    }
                    _ = ticker.tick() => {
                        period += 1;
                        let (iops, mibps) = summary(&live, period, cfg.io_size);
                        self.emit(&output::format_summary_line(iops, mibps));
                    }
                }
            }
        }
        let elapsed = start.elapsed();
        // A whole second that ended while the jobs were draining still gets
        // its line (bdevperf's timer races its drain; this keeps one line
        // per second of run time).
        while period < u64::from(cfg.time_in_sec) && elapsed >= SECOND * (period as u32 + 1) {
            period += 1;
            let (iops, mibps) = summary(&live, period, cfg.io_size);
            self.emit(&output::format_summary_line(iops, mibps));
        }
        let terminated = stop.is_terminated();
        {
            guard.armed = false;
            let mut st = self.lock();
            st.run = None;
            for r in &results {
                if r.last_generation > 0 {
                    st.generations.insert(r.job.clone(), r.last_generation);
                }
            }
            st.last_results = results.clone();
        }
        drop(guard);
        let mut text = String::new();
        for r in &results {
            for e in &r.events {
                text.push_str(e);
                text.push('\n');
            }
        }
        if terminated {
            let t = elapsed.min(Duration::from_secs(u64::from(cfg.time_in_sec)));
            text.push_str(&output::format_shutdown(t.as_secs_f64()));
        }
        text.push_str(&output::format_report(&results));
        self.emit(&text);
        let core_mask = results.iter().fold(0u64, |m, r| m | r.core_mask);
        if !terminated && results.iter().any(|r| r.status == JobStatus::Failed) {
            return Err((
                JSONRPC_INTERNAL_ERROR,
                format!(
                    "bdevperf failed with error {}",
                    errno::strerror(errno::EPERM)
                ),
            ));
        }
        Ok(results_json(&results, core_mask.count_ones()))
    }

    /// Everything up to the start of I/O, under one lock so two callers
    /// cannot both start.
    #[allow(clippy::type_complexity)]
    fn start_run(
        &self,
        params: Option<&Value>,
    ) -> Result<
        (
            Vec<Job>,
            StopSignal,
            Vec<(String, Arc<LiveStats>)>,
            Arc<Mutex<Vec<Option<Snapshot>>>>,
            PerfConfig,
        ),
        RpcError,
    > {
        let mut st = self.lock();
        let out = st.output.clone();
        let emit = |s: &str| {
            if let Some(o) = &out {
                o(s);
            }
        };
        if st.run.is_some() {
            emit("Another test is already in progress.\n");
            // SPDK v24.09 runs -EINPROGRESS through strerror (golden 32).
            return Err((JSONRPC_INTERNAL_ERROR, errno::strerror(-errno::EINPROGRESS)));
        }
        let mut cfg = st.config.clone();
        let applied = apply_params(&mut cfg, params.unwrap_or(&Value::Null));
        if let Err((code, msg)) = &applied {
            if *code == JSONRPC_INTERNAL_ERROR {
                emit(&format!(
                    "{}\n",
                    super::config::PerfError::UnknownWorkload(String::new())
                ));
            }
            return Err((*code, msg.clone()));
        }
        st.config = cfg.clone();
        for w in cfg.warnings() {
            emit(&format!("{w}\n"));
        }
        let devices: Vec<Arc<dyn BlockDevice>> = match &cfg.job_bdev_name {
            Some(name) => {
                let found: Vec<_> = st
                    .devices
                    .iter()
                    .filter(|d| d.name() == name)
                    .cloned()
                    .collect();
                if found.is_empty() {
                    emit(&format!("Unable to find bdev '{name}'\n"));
                }
                found
            }
            None => st.devices.clone(),
        };
        if devices.is_empty() {
            return Err((
                JSONRPC_INVALID_PARAMS,
                "No jobs defined or bdevs created".to_string(),
            ));
        }
        let cores = cores(cfg.core_mask);
        let mut jobs = Vec::with_capacity(devices.len());
        for dev in devices {
            let mut dcfg = cfg.clone();
            dcfg.verify_generation_base = st
                .generations
                .get(dev.name())
                .copied()
                .unwrap_or(cfg.verify_generation_base);
            let job = Job::prepare(dev, &dcfg).map_err(|e| {
                emit(&format!("{e}\n"));
                (
                    JSONRPC_INTERNAL_ERROR,
                    format!("bdevperf failed with error {}", errno::strerror(e.errno())),
                )
            })?;
            for w in job.warnings().iter().skip(cfg.warnings().len()) {
                emit(&format!("{w}\n"));
            }
            let core = cores[st.next_core % cores.len()];
            st.next_core = (st.next_core + 1) % cores.len();
            jobs.push(job.with_core_mask(core));
        }
        let stop = StopSignal::new();
        let live: Vec<_> = jobs
            .iter()
            .map(|j| (j.name().to_string(), Arc::new(LiveStats::new())))
            .collect();
        let latest = Arc::new(Mutex::new(vec![None; jobs.len()]));
        st.run = Some(RunInfo {
            stop: stop.clone(),
            live: live.clone(),
            latest: Arc::clone(&latest),
        });
        Ok((jobs, stop, live, latest, cfg))
    }
}

const SECOND: Duration = Duration::from_secs(1);

/// bdevperf's per-second figure: each job's completions over `period`
/// whole seconds (or over its own run time once it stopped on an error),
/// added up over jobs.
fn summary(live: &[(String, Arc<LiveStats>)], period: u64, io_size: u32) -> (f64, f64) {
    let mut iops = 0.0;
    for (_, l) in live {
        let s = l.snapshot();
        let time_us = if s.stopped_on_error && s.run_time_us > 0 {
            s.run_time_us
        } else {
            period * 1_000_000
        };
        if time_us > 0 {
            iops += s.io_completed as f64 * 1_000_000.0 / time_us as f64;
        }
    }
    (iops, iops * f64::from(io_size) / (1024.0 * 1024.0))
}

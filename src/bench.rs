//! `mpath-console bench`: the load without a screen. Both engines on
//! loopback with the HOWTO's scenario (or our initiator alone against any
//! NVMe/TCP target with `--connect`), bdevperf's output, the
//! `perform_tests` result as JSON, and the CPU time it cost.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::engines::{Engines, ThreadArgs};
use crate::perf::bdevperf::stdout_sink;
use crate::perf::config::PerfConfig;
use crate::scenario::{self, Engine, HowtoOpts, Step};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Queue depth.
    #[arg(short = 'q', default_value_t = 128)]
    pub queue_depth: u32,
    /// I/O size (bdevperf syntax: 4096, 4k, 128k).
    #[arg(short = 'o', default_value = "4096")]
    pub io_size: String,
    /// Workload: verify, read, write, randread, randwrite, rw, randrw, reset, unmap, flush,
    /// write_zeroes.
    #[arg(short = 'w', default_value = "verify")]
    pub workload: String,
    /// Seconds of I/O.
    #[arg(short = 't', default_value_t = 10)]
    pub time: u32,
    /// Read percentage for rw/randrw.
    #[arg(short = 'M')]
    pub rw_percentage: Option<i32>,
    /// Paths to attach (1 or 2).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub paths: u8,
    /// Multipath policy: active_passive or active_active.
    #[arg(long, default_value = "active_passive")]
    pub policy: String,
    /// Selector for active_active: round_robin or queue_depth.
    #[arg(long)]
    pub selector: Option<String>,
    /// Header and data digests on every connection.
    #[arg(long)]
    pub digests: bool,
    /// Write the perform_tests result JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Drive an external target instead of the embedded one: its
    /// transport ID as ADDR:PORT (repeat for more paths).
    #[arg(long, value_name = "ADDR:PORT")]
    pub connect: Vec<SocketAddr>,
    /// Subsystem NQN for --connect.
    #[arg(long, default_value = scenario::HOWTO_NQN)]
    pub subnqn: String,
    /// Take the first path away mid-run to measure the failover stall:
    /// `inaccessible` (ANA state), `kill` (its connections dropped),
    /// `blackhole` (its listener answers nothing: keep-alive must notice) or
    /// `delay` (its answers held 100 ms).
    /// (The embedded target only: an external one has no fault methods.)
    #[arg(long, value_parser = ["inaccessible", "kill", "blackhole", "delay"], conflicts_with = "connect")]
    pub fault: Option<String>,
    /// Seconds into the run when --fault strikes.
    #[arg(long, default_value_t = 2.0)]
    pub fault_at: f64,
    /// reconnect_delay_sec of the attaches (the HOWTO's -o 10).
    #[arg(long, default_value_t = 10)]
    pub reconnect_delay: u32,
    /// Chaos under the load: random ANA flips every 100–500 ms and a random
    /// fault every 2–5 s, always leaving one path usable; counts at the end.
    /// (The embedded target only.)
    #[arg(long, conflicts_with = "connect")]
    pub chaos: bool,
    /// Seed for --chaos (printed, so a run can be replayed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// keep_alive_timeout_ms of the initiator (bdev_nvme_set_options): how
    /// soon a blackholed path is noticed. SPDK's 10 000 by default, 2 000
    /// with --chaos.
    #[arg(long)]
    pub keep_alive_ms: Option<u32>,
    #[command(flatten)]
    pub threads: ThreadArgs,
}

/// With --chaos, blackholes must be noticed within the run.
const CHAOS_KEEP_ALIVE_MS: u32 = 2000;

fn free_port(ip: &str) -> Result<SocketAddr> {
    let l = TcpListener::bind((ip, 0)).with_context(|| format!("no free port on {ip}"))?;
    Ok(l.local_addr()?)
}

/// Process CPU time (user + system), in seconds, read through sysinfo
/// as the console's header reads it (millisecond resolution; a run lasts
/// seconds). 0 where the process cannot be read.
fn cpu_seconds() -> f64 {
    let (Ok(mut sys), Ok(pid)) = (sysinfo::System::new(), sysinfo::get_current_pid()) else {
        return 0.0;
    };
    sys.refresh_processes_specifics(
        sysinfo::ProcessesToUpdate::Some(&[pid]),
        false,
        sysinfo::ProcessRefreshKind::nothing().with_cpu(),
    );
    sys.process(pid)
        .map_or(0.0, |p| p.accumulated_cpu_time() as f64 / 1000.0)
}

/// The set-up steps: the HOWTO on free loopback ports, or only the
/// initiator's attaches to `--connect` addresses.
pub fn steps(a: &BenchArgs) -> Result<Vec<Step>> {
    let mut v = scenario_steps(a)?;
    let kato = a.keep_alive_ms.or(a.chaos.then_some(CHAOS_KEEP_ALIVE_MS));
    if let Some(kato) = kato {
        for s in &mut v {
            if let Some(p) = s
                .params
                .as_mut()
                .filter(|_| s.method == "bdev_nvme_set_options")
            {
                p["keep_alive_timeout_ms"] = json!(kato);
            }
        }
    }
    Ok(v)
}

fn scenario_steps(a: &BenchArgs) -> Result<Vec<Step>> {
    let policy = Some((a.policy.clone(), a.selector.clone()));
    if a.connect.is_empty() {
        return Ok(scenario::howto(&HowtoOpts {
            listeners: vec![free_port("127.0.0.1")?, free_port("127.0.0.2")?],
            paths: a.paths as usize,
            hdgst: a.digests,
            ddgst: a.digests,
            policy,
            reconnect_delay_sec: a.reconnect_delay,
        }));
    }
    let mut v: Vec<Step> = scenario::howto(&HowtoOpts {
        listeners: a.connect.clone(),
        paths: a.connect.len(),
        hdgst: a.digests,
        ddgst: a.digests,
        policy,
        reconnect_delay_sec: a.reconnect_delay,
    })
    .into_iter()
    .filter(|s| s.app == Engine::Initiator)
    .collect();
    for s in &mut v {
        if let Some(p) = s
            .params
            .as_mut()
            .filter(|_| s.method == "bdev_nvme_attach_controller")
        {
            p["subnqn"] = json!(a.subnqn);
        }
    }
    Ok(v)
}

pub async fn run(a: BenchArgs) -> Result<()> {
    let mut args = vec![
        "-q".to_string(),
        a.queue_depth.to_string(),
        "-o".into(),
        a.io_size.clone(),
        "-w".into(),
        a.workload.clone(),
        "-t".into(),
        a.time.to_string(),
    ];
    if let Some(m) = a.rw_percentage {
        args.extend(["-M".to_string(), m.to_string()]);
    }
    let perf = PerfConfig::from_args(&args).map_err(|e| anyhow::anyhow!("{e}"))?;
    let engines = Engines::with_threads(perf, false, a.threads);
    engines.run_steps(&steps(&a)?).await?;
    engines.bdevperf.set_output(Some(stdout_sink()));
    if let (Some(kind), Some(first)) = (a.fault.clone(), first_listener(&engines)) {
        let router = engines.target_router.clone();
        let at = std::time::Duration::from_secs_f64(a.fault_at.max(0.0));
        tokio::spawn(async move {
            tokio::time::sleep(at).await;
            let la = json!({"trtype": "tcp", "traddr": first.ip().to_string(), "trsvcid": first.port().to_string()});
            let (method, params) = match kind.as_str() {
                "kill" => (
                    "mpath_listener_drop_connections",
                    json!({"listen_address": la}),
                ),
                "blackhole" => ("mpath_listener_blackhole", json!({"listen_address": la})),
                "delay" => (
                    "mpath_listener_delay",
                    json!({"listen_address": la, "delay_ms": 100}),
                ),
                _ => (
                    "nvmf_subsystem_listener_set_ana_state",
                    json!({"nqn": scenario::HOWTO_NQN, "ana_state": "inaccessible", "listen_address": la}),
                ),
            };
            match router.call(method, Some(params)).await {
                Ok(_) => eprintln!(
                    "\n[mpath-console] fault at {:.1} s: {kind} on {first}",
                    at.as_secs_f64()
                ),
                Err(e) => eprintln!("\n[mpath-console] fault {kind} failed: {e}"),
            }
        });
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let chaos = a.chaos.then(|| {
        let seed = a.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
        eprintln!("[mpath-console] chaos seed {seed}");
        let listeners = all_listeners(&engines);
        tokio::spawn(crate::chaos::run(
            engines.target_router.clone(),
            listeners,
            seed,
            std::time::Duration::from_secs(a.reconnect_delay as u64),
            stop_rx,
        ))
    });
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let result = engines.initiator_router.call("perform_tests", None).await;
    let _ = stop_tx.send(true);
    if let Some(c) = chaos {
        if let Ok(counts) = c.await {
            print_chaos(&counts, &engines);
        }
    }
    let result = result.map_err(|e| anyhow::anyhow!("perform_tests: {e}"))?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let iops: f64 = result["results"]
        .as_array()
        .map(|r| r.iter().filter_map(|j| j["iops"].as_f64()).sum())
        .unwrap_or(0.0);
    println!(
        "mpath-console bench: {} paths, {}{}{}; {:.2} CPU-seconds in {:.2} s ({:.0}% of one core), {:.0} IOPS per CPU-second",
        if a.connect.is_empty() {
            a.paths as usize
        } else {
            a.connect.len()
        },
        a.policy,
        a.selector.as_deref().map(|s| format!("/{s}")).unwrap_or_default(),
        if a.digests { ", digests" } else { "" },
        cpu,
        wall,
        100.0 * cpu / wall.max(1e-9),
        iops * wall / cpu.max(1e-9),
    );
    if let Some(path) = &a.json {
        let mut out = Vec::new();
        crate::rpc::json::write_value(&with_cpu(result, cpu, wall), &mut out);
        std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The chaos summary: events injected, and what the load saw.
fn print_chaos(counts: &std::collections::BTreeMap<String, u64>, e: &Engines) {
    println!("[mpath-console] chaos events:");
    for (k, v) in counts {
        println!("    {k:<28} {v}");
    }
    for r in e.bdevperf.last_results() {
        println!(
            "[mpath-console] chaos result {}: completed {}, failed {}, miscompared {}, largest stall {:.2} ms",
            r.job,
            r.io_completed,
            r.io_failed,
            r.io_miscompared,
            r.max_latency_us() / 1000.0
        );
    }
}

/// Every listener of the HOWTO subsystem on the embedded target.
fn all_listeners(e: &Engines) -> Vec<SocketAddr> {
    e.target
        .subsystem(scenario::HOWTO_NQN)
        .map(|ss| ss.config().listeners.iter().map(|l| l.addr).collect())
        .unwrap_or_default()
}

/// The embedded target's first listener of the HOWTO subsystem (the path
/// active_passive uses).
fn first_listener(e: &Engines) -> Option<SocketAddr> {
    let ss = e.target.subsystem(scenario::HOWTO_NQN)?;
    let cfg = ss.config();
    // Listed newest first: the first one added is last.
    cfg.listeners.last().map(|l| l.addr)
}

/// The result with our measurement appended after SPDK's keys.
fn with_cpu(mut v: Value, cpu: f64, wall: f64) -> Value {
    if let Value::Object(o) = &mut v {
        o.insert("cpu_seconds".into(), json!(cpu));
        o.insert("wall_seconds".into(), json!(wall));
    }
    v
}

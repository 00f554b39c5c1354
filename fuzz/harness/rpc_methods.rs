//! `rpc_methods`: our JSON-RPC methods called in process, target and
//! initiator together (`engines::Engines`), with fuzzer-chosen parameters.
//!
//! Input: lines separated by `\n`, at most [`MAX_CALLS`] of them. A line is
//! one selector byte (the method, an index into [`METHODS`] modulo its
//! length), then the params as JSON text (empty: no params). Text that is
//! not JSON is skipped, as the server would never route it.
//!
//! Every input gets fresh engines (so a crash input replays the same way),
//! on one current-thread tokio runtime created once. Each call must return
//! `Ok` or `Err` within [`CALL_TIMEOUT`]; a panic or a hang is a finding.
//! At the end every controller attached is detached and the engines are
//! dropped; tasks left running by then must not pile up (see
//! [`MAX_ALIVE_TASKS`]).
//!
//! Network safety (only loopback is ever reached, and only our own ports):
//! every `traddr`/`hostaddr` string that is not a loopback literal becomes
//! `127.0.0.1`; every numeric `trsvcid`/`hostsvcid` is mapped into
//! [`PORT_BASE`]..+[`PORTS`] (below the ephemeral range, away from the
//! 4420/5520 the tests use), and an attach without `trsvcid` gets one from
//! that range rather than the 4420 default. Execution time: a positive
//! `time_in_sec` becomes 0 (no bdevperf run), `num_blocks` is capped so a
//! malloc bdev stays at most 64 MiB, `num_io_queues` at 4 and a listener
//! `delay_ms` at 50; `mpath_listener_blackhole` is not called ([`NOT_CALLED`]).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;
use std::time::Duration;

use mpath_console::engines::Engines;
use mpath_console::perf::config::PerfConfig;
use mpath_console::rpc::json::{self, ParseOptions};
use serde_json::{Map, Value};
use tokio::runtime::Runtime;

/// Which router a method goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    Target,
    Initiator,
}

/// Every method of both routers (`Engines::new`, extras included), plus one
/// unknown name. Fixed, so a corpus keeps its meaning; the regression test
/// `rpc_methods_list_is_complete` checks it against the routers.
pub const METHODS: &[(App, &str)] = &[
    (App::Target, "framework_start_init"),
    (App::Target, "framework_wait_init"),
    (App::Target, "rpc_get_methods"),
    (App::Target, "spdk_get_version"),
    (App::Target, "nvmf_create_transport"),
    (App::Target, "nvmf_get_transports"),
    (App::Target, "nvmf_create_subsystem"),
    (App::Target, "nvmf_delete_subsystem"),
    (App::Target, "nvmf_get_subsystems"),
    (App::Target, "nvmf_subsystem_add_ns"),
    (App::Target, "nvmf_subsystem_remove_ns"),
    (App::Target, "nvmf_subsystem_add_listener"),
    (App::Target, "nvmf_subsystem_remove_listener"),
    (App::Target, "nvmf_subsystem_listener_set_ana_state"),
    (App::Target, "nvmf_subsystem_get_listeners"),
    (App::Target, "nvmf_subsystem_get_controllers"),
    (App::Target, "nvmf_subsystem_get_qpairs"),
    (App::Target, "nvmf_subsystem_add_host"),
    (App::Target, "nvmf_subsystem_remove_host"),
    (App::Target, "nvmf_subsystem_allow_any_host"),
    (App::Target, "nvmf_get_stats"),
    (App::Target, "bdev_malloc_create"),
    (App::Target, "bdev_malloc_delete"),
    (App::Target, "bdev_get_bdevs"),
    (App::Target, "mpath_listener_drop_connections"),
    (App::Target, "mpath_listener_delay"),
    (App::Target, "mpath_listener_restore"),
    (App::Target, "mpath_listener_get_faults"),
    (App::Initiator, "framework_start_init"),
    (App::Initiator, "framework_wait_init"),
    (App::Initiator, "rpc_get_methods"),
    (App::Initiator, "spdk_get_version"),
    (App::Initiator, "bdev_nvme_set_options"),
    (App::Initiator, "bdev_nvme_attach_controller"),
    (App::Initiator, "bdev_nvme_detach_controller"),
    (App::Initiator, "bdev_nvme_get_controllers"),
    (App::Initiator, "bdev_nvme_get_io_paths"),
    (App::Initiator, "mpath_host_events"),
    (App::Initiator, "bdev_nvme_set_multipath_policy"),
    (App::Initiator, "bdev_nvme_set_preferred_path"),
    (App::Initiator, "bdev_nvme_reset_controller"),
    (App::Initiator, "bdev_get_bdevs"),
    (App::Initiator, "bdev_get_iostat"),
    (App::Initiator, "perform_tests"),
    (App::Initiator, "mpath_perf_stop"),
    (App::Initiator, "mpath_perf_status"),
    (App::Target, "no_such_method"),
    // Last, so that the selectors of the methods above stay as the
    // committed corpus has them.
    (App::Initiator, "bdev_nvme_send_cmd"),
    (App::Target, "mpath_sock_get_connections"),
    (App::Initiator, "mpath_sock_get_connections"),
    (App::Initiator, "bdev_nvme_get_path_iostat"),
];

pub const MAX_CALLS: usize = 32;
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Methods deliberately never called: a blackholed listener makes every
/// later attach to it wait for the host's connect timeout (10 s), longer
/// than [`CALL_TIMEOUT`] — by design, not a finding.
pub const NOT_CALLED: &[(App, &str)] = &[(App::Target, "mpath_listener_blackhole")];

pub const PORT_BASE: u16 = 29400;
pub const PORTS: u16 = 32;
/// More tasks than this alive after an input is done means they leak.
pub const MAX_ALIVE_TASKS: usize = 2000;

/// The selector byte for `METHODS[i]` that is not the line separator.
pub fn selector(i: usize) -> u8 {
    let n = METHODS.len();
    let mut b = i;
    while b == usize::from(b'\n') {
        b += n;
    }
    u8::try_from(b).expect("selector fits a byte")
}

/// `FUZZ_DEBUG=1` prints every call and its outcome (for looking at what
/// an input does; off while fuzzing).
pub fn debug() -> bool {
    static D: OnceLock<bool> = OnceLock::new();
    *D.get_or_init(|| std::env::var_os("FUZZ_DEBUG").is_some())
}

pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// One call, after sanitising: what `run` executes for each line.
pub struct Call {
    pub app: App,
    pub method: &'static str,
    pub params: Option<Value>,
}

pub fn parse_calls(data: &[u8]) -> Vec<Call> {
    let mut calls = Vec::new();
    for line in data.split(|&b| b == b'\n').take(MAX_CALLS) {
        let Some((&sel, text)) = line.split_first() else {
            continue;
        };
        let (app, method) = METHODS[usize::from(sel) % METHODS.len()];
        let params = if text.iter().all(|b| b.is_ascii_whitespace()) {
            None
        } else {
            match json::parse(text, &ParseOptions::SERVER) {
                Ok(p) if p.value.is_null() => None,
                Ok(p) => {
                    let mut v = p.value;
                    sanitize(&mut v, method);
                    Some(v)
                }
                Err(_) => continue,
            }
        };
        calls.push(Call {
            app,
            method,
            params,
        });
    }
    calls
}

pub fn run(data: &[u8]) {
    let calls = parse_calls(data);
    if calls.is_empty() {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        let engines = Engines::new(PerfConfig::default());
        let mut attached: Vec<String> = Vec::new();
        for c in &calls {
            let router = match c.app {
                App::Target => &engines.target_router,
                App::Initiator => &engines.initiator_router,
            };
            let res = tokio::time::timeout(CALL_TIMEOUT, router.call(c.method, c.params.clone()))
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{} {:?} did not return within {CALL_TIMEOUT:?}",
                        c.method, c.params
                    )
                });
            if debug() {
                eprintln!("{:?} {} {:?} -> {:?}", c.app, c.method, c.params, res);
            }
            match res {
                Ok(v) => {
                    // Results go out as JSON: they must serialise.
                    let _ = json::to_vec(&v);
                    if c.method == "bdev_nvme_attach_controller" {
                        if let Some(name) = c
                            .params
                            .as_ref()
                            .and_then(|p| p.get("name"))
                            .and_then(Value::as_str)
                        {
                            attached.push(name.to_string());
                        }
                    }
                }
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
        for name in attached {
            let params = serde_json::json!({ "name": name });
            let _ = tokio::time::timeout(
                CALL_TIMEOUT,
                engines
                    .initiator_router
                    .call("bdev_nvme_detach_controller", Some(params)),
            )
            .await
            .unwrap_or_else(|_| panic!("detaching {name} did not return within {CALL_TIMEOUT:?}"));
        }
        let _ = engines.bdevperf.stop();
        drop(engines);
        // Let aborted accept loops and closed connections finish.
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
    });
    let alive = rt.metrics().num_alive_tasks();
    assert!(
        alive <= MAX_ALIVE_TASKS,
        "{alive} tokio tasks still alive after the engines were dropped"
    );
}

fn is_loopback_literal(s: &str) -> bool {
    match s.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

fn map_port(n: u64) -> u64 {
    u64::from(PORT_BASE) + n % u64::from(PORTS)
}

/// Keeps every address on loopback and every port in our range, and every
/// call short; see the module docs.
pub fn sanitize(v: &mut Value, method: &str) {
    if method == "bdev_nvme_attach_controller" {
        if let Value::Object(m) = v {
            m.entry("trsvcid")
                .or_insert_with(|| Value::String(PORT_BASE.to_string()));
        }
    }
    walk(v);
}

fn walk(v: &mut Value) {
    match v {
        Value::Object(m) => {
            fix_object(m);
            for (_, x) in m.iter_mut() {
                walk(x);
            }
        }
        Value::Array(items) => {
            for x in items {
                walk(x);
            }
        }
        _ => {}
    }
}

fn fix_object(m: &mut Map<String, Value>) {
    for (k, x) in m.iter_mut() {
        match k.as_str() {
            "traddr" | "hostaddr" => {
                if let Value::String(s) = x {
                    if !is_loopback_literal(s) {
                        *s = Ipv4Addr::LOCALHOST.to_string();
                    }
                }
            }
            "trsvcid" | "hostsvcid" => match x {
                Value::String(s) => {
                    if let Ok(n) = s.trim().parse::<u64>() {
                        *s = map_port(n).to_string();
                    }
                }
                Value::Number(n) => {
                    if let Some(u) = n.as_u64() {
                        *x = Value::from(map_port(u));
                    }
                }
                _ => {}
            },
            "time_in_sec" if x.as_f64().is_some_and(|t| t > 0.0) => *x = Value::from(0),
            "num_blocks" if x.as_u64().is_some_and(|n| n > 1024) => *x = Value::from(1024),
            "num_io_queues" if x.as_u64().is_some_and(|n| n > 4) => *x = Value::from(4),
            // A delayed listener answers late, not never: keep it short.
            "delay_ms" if x.as_u64().is_some_and(|n| n > 50) => *x = Value::from(50),
            _ => {}
        }
    }
}

//! The target half of the multipath HOWTO (<https://spdk.io/doc/nvmf_multipath_howto.html>),
//! run verbatim through SPDK's own client (`spdk-rpc`) against one
//! `mpath-console serve`, with 127.0.0.1 / 127.0.0.2 and ports picked at run
//! time standing in for the HOWTO's two networks (ports 4420 / 5520).
//!
//! Every expectation comes from the golden exchanges recorded from real SPDK
//! v24.09 (`tests/golden/spdk-v24.09/rpc/NN-*.json`): the same command
//! lines (ports substituted), then the same exit codes, client output, error
//! objects and, for raw exchanges, the same response bytes. Only run-dependent
//! values (UUID/NGUID, ports, counters, the version string) are normalised.
//!
//! The tests share one `serve` process (set up once, HOWTO steps included)
//! and take turns on it through a mutex, so that "this bad call changed
//! nothing" compares states that no other test is changing.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::panic::catch_unwind;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{free_port, golden_rpc, rpc_cli, rpc_raw, CliOut, RawConn, Read1, Serve, RAW_TIMEOUT};

const CNODE0: &str = "nqn.2022-02.io.spdk:cnode0";
/// The ports the golden run used, replaced by ours everywhere.
const GOLDEN_P1: &str = "4420";
const GOLDEN_P2: &str = "5520";
/// The golden run's "listener that does not exist" port (file 57).
const GOLDEN_P_NONE: &str = "4499";

/// The HOWTO's target commands in order, each with the golden file recording
/// it (the golden `command` is asserted equal, so the two cannot drift).
const HOWTO_STEPS: [(u32, &str); 6] = [
    (4, "nvmf_create_transport -t tcp -o -u 8192"),
    (
        5,
        "nvmf_create_subsystem nqn.2022-02.io.spdk:cnode0 -a -s SPDK00000000000001 -r",
    ),
    (6, "bdev_malloc_create 64 512 -b Malloc0"),
    (
        7,
        "nvmf_subsystem_add_ns nqn.2022-02.io.spdk:cnode0 Malloc0",
    ),
    (
        8,
        "nvmf_subsystem_add_listener -t tcp -a 127.0.0.1 -s 4420 nqn.2022-02.io.spdk:cnode0",
    ),
    (
        9,
        "nvmf_subsystem_add_listener -t tcp -a 127.0.0.2 -s 5520 nqn.2022-02.io.spdk:cnode0",
    ),
];
/// "Switching paths": the first path to non_optimized.
const HOWTO_SWITCH: (u32, &str) = (
    35,
    "nvmf_subsystem_listener_set_ana_state nqn.2022-02.io.spdk:cnode0 -t tcp -a 127.0.0.1 -s 4420 -n non_optimized",
);

/// The methods the console relies on.
const METHODS: [&str; 23] = [
    "spdk_get_version",
    "rpc_get_methods",
    "framework_wait_init",
    "nvmf_create_transport",
    "nvmf_get_transports",
    "nvmf_create_subsystem",
    "nvmf_delete_subsystem",
    "nvmf_get_subsystems",
    "nvmf_subsystem_add_ns",
    "nvmf_subsystem_remove_ns",
    "nvmf_subsystem_add_listener",
    "nvmf_subsystem_remove_listener",
    "nvmf_subsystem_listener_set_ana_state",
    "nvmf_subsystem_get_listeners",
    "nvmf_subsystem_get_controllers",
    "nvmf_subsystem_get_qpairs",
    "nvmf_subsystem_add_host",
    "nvmf_subsystem_remove_host",
    "nvmf_subsystem_allow_any_host",
    "nvmf_get_stats",
    "bdev_malloc_create",
    "bdev_malloc_delete",
    "bdev_get_bdevs",
];

// ---- the shared, configured target ---------------------------------------------

struct Howto {
    serve: Serve,
    /// 127.0.0.1's port (the HOWTO's 4420) and 127.0.0.2's (5520).
    p1: u16,
    p2: u16,
    /// A port with no listener (golden 57's 4499).
    p_none: u16,
    /// `nvmf_subsystem_get_listeners` as printed between the listeners and
    /// the ANA switch (golden 12's moment).
    listeners_before_switch: Value,
}

static HOWTO: OnceLock<Result<Mutex<Howto>, String>> = OnceLock::new();

/// The configured target, for this test alone until the guard drops.
fn howto() -> MutexGuard<'static, Howto> {
    let h = HOWTO.get_or_init(|| {
        catch_unwind(Howto::setup)
            .map(Mutex::new)
            .map_err(|p| panic_text(&*p))
    });
    match h {
        Ok(m) => m.lock().unwrap_or_else(|e| e.into_inner()),
        Err(e) => panic!("HOWTO setup failed (see the first failing test): {e}"),
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

impl Howto {
    fn setup() -> Howto {
        let p1 = free_port("127.0.0.1");
        let mut p2 = free_port("127.0.0.2");
        while p2 == p1 {
            p2 = free_port("127.0.0.2");
        }
        let mut p_none = free_port("127.0.0.1");
        while p_none == p1 || p_none == p2 {
            p_none = free_port("127.0.0.1");
        }
        let mut h = Howto {
            serve: Serve::start_shared(),
            p1,
            p2,
            p_none,
            listeners_before_switch: Value::Null,
        };
        for (nn, line) in HOWTO_STEPS {
            h.cli_as_golden(nn, Some(line));
        }
        h.listeners_before_switch = h.cli_ok(&["nvmf_subsystem_get_listeners", CNODE0]).json();
        h.cli_as_golden(HOWTO_SWITCH.0, Some(HOWTO_SWITCH.1));
        h
    }

    fn sock(&self) -> &Path {
        &self.serve.sock
    }

    /// Golden text with the golden run's ports replaced by ours.
    fn ports(&self, golden: &str) -> String {
        golden
            .replace(&format!("\"{GOLDEN_P1}\""), &format!("\"{}\"", self.p1))
            .replace(&format!("\"{GOLDEN_P2}\""), &format!("\"{}\"", self.p2))
            .replace(
                &format!("\"{GOLDEN_P_NONE}\""),
                &format!("\"{}\"", self.p_none),
            )
    }

    fn port_arg(&self, a: &str) -> String {
        match a {
            GOLDEN_P1 => self.p1.to_string(),
            GOLDEN_P2 => self.p2.to_string(),
            GOLDEN_P_NONE => self.p_none.to_string(),
            _ => a.to_string(),
        }
    }

    /// `spdk-rpc ARGS` that must succeed.
    fn cli_ok(&self, args: &[&str]) -> CliOut {
        let out = rpc_cli(self.sock(), args);
        assert_eq!(
            out.status,
            0,
            "spdk-rpc {args:?} failed: {out:#?}\nserve log:\n{}",
            self.serve.log_text()
        );
        out
    }

    /// Runs golden file `nn`'s `rpc.py` command line (ports substituted) with
    /// `spdk-rpc` and checks the outcome against the golden one: exit code,
    /// then the printed output (setters) or the JSON-RPC error object.
    /// `line`, if given, must be that command line (the HOWTO's text).
    fn cli_as_golden(&self, nn: u32, line: Option<&str>) -> CliOut {
        let g = golden_rpc(nn);
        let cmd = g["command"].as_str().unwrap();
        let cmd = cmd
            .strip_prefix("scripts/rpc.py ")
            .unwrap_or_else(|| panic!("golden {nn} is not an rpc.py call: {cmd}"));
        if let Some(line) = line {
            assert_eq!(
                cmd, line,
                "golden {nn} records another command than the test's"
            );
        }
        let args: Vec<String> = cmd.split_whitespace().map(|a| self.port_arg(a)).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = rpc_cli(self.sock(), &args);
        let want = g["client_exit_code"].as_i64().unwrap();
        assert_eq!(
            i64::from(out.status),
            want,
            "spdk-rpc {cmd}: exit code differs from golden {nn}\n{out:#?}\nserve log:\n{}",
            self.serve.log_text()
        );
        if want == 0 {
            assert_eq!(
                out.stdout,
                g["client_stdout"].as_str().unwrap(),
                "spdk-rpc {cmd}: output differs from golden {nn}"
            );
        } else {
            let want = &g["response"]["error"];
            assert_eq!(
                out.error_object().as_ref(),
                Some(want),
                "spdk-rpc {cmd}: error differs from golden {nn}\n{out:#?}"
            );
        }
        out
    }

    /// A raw call's result (the call must succeed).
    fn result(&self, method: &str, params: Option<Value>) -> Value {
        let mut req = json!({"jsonrpc": "2.0", "method": method, "id": 1});
        if let Some(p) = params {
            req["params"] = p;
        }
        let line = rpc_raw(self.sock(), &req.to_string())
            .unwrap_or_else(|| panic!("no response to {req}"));
        let mut v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v.get("error").is_none(), "{method} failed: {line}");
        v["result"].take()
    }

    /// Everything a bad call must leave alone.
    fn state(&self) -> Value {
        json!({
            "subsystems": self.result("nvmf_get_subsystems", None),
            "listeners": self.result("nvmf_subsystem_get_listeners", Some(json!({"nqn": CNODE0}))),
            "bdevs": self.result("bdev_get_bdevs", None),
            "transports": self.result("nvmf_get_transports", None),
        })
    }

    fn assert_state(&self, before: &Value, what: &str) {
        let now = self.state();
        if let Some(d) = first_diff(&now, before, "state", Cmp::Values, &[]) {
            panic!("{what} changed the target: {d}");
        }
    }

    /// Our `spdk_get_version` result as compact bytes, and golden 02's.
    fn versions(&self) -> (String, String) {
        let g = golden_rpc(2);
        let ours = rpc_raw(self.sock(), &self.ports(g["request_raw"].as_str().unwrap()))
            .expect("spdk_get_version answered");
        (
            result_text(&ours),
            result_text(g["response_raw"].as_str().unwrap()),
        )
    }
}

/// The `result` member's text in a compact response `{"jsonrpc":"2.0","id":1,"result":R}\n`.
fn result_text(line: &str) -> String {
    let r = line
        .strip_prefix("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":")
        .and_then(|r| r.strip_suffix("}\n"))
        .unwrap_or_else(|| panic!("not framed like SPDK's responses: {line:?}"));
    r.to_string()
}

// ---- comparing with golden values ------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Cmp {
    /// Same keys in the same order, same values.
    Values,
    /// Same keys in the same order, same JSON types; for arrays, every
    /// element shaped like golden's first.
    Shape,
}

/// The first difference between `ours` and `gold`, or None. Below a key named
/// in `shape_only`, only shapes are compared.
fn first_diff(
    ours: &Value,
    gold: &Value,
    path: &str,
    cmp: Cmp,
    shape_only: &[&str],
) -> Option<String> {
    match (ours, gold) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: Vec<&String> = a.keys().collect();
            let kb: Vec<&String> = b.keys().collect();
            if ka != kb {
                return Some(format!(
                    "{path}: keys differ\n   ours:   {ka:?}\n   golden: {kb:?}"
                ));
            }
            a.iter().find_map(|(k, va)| {
                let c = if shape_only.contains(&k.as_str()) {
                    Cmp::Shape
                } else {
                    cmp
                };
                first_diff(va, &b[k], &format!("{path}.{k}"), c, shape_only)
            })
        }
        (Value::Array(a), Value::Array(b)) => {
            match cmp {
                Cmp::Values if a.len() != b.len() => Some(format!(
                    "{path}: {} elements, golden has {}\n   ours:   {ours}\n   golden: {gold}",
                    a.len(),
                    b.len()
                )),
                Cmp::Values => a.iter().zip(b).enumerate().find_map(|(i, (x, y))| {
                    first_diff(x, y, &format!("{path}[{i}]"), cmp, shape_only)
                }),
                Cmp::Shape => b.first().and_then(|g0| {
                    a.iter().enumerate().find_map(|(i, x)| {
                        first_diff(x, g0, &format!("{path}[{i}]"), cmp, shape_only)
                    })
                }),
            }
        }
        _ => {
            let same = match cmp {
                Cmp::Values => ours == gold,
                Cmp::Shape => kind(ours) == kind(gold),
            };
            (!same).then(|| format!("{path}: ours {ours}, golden {gold}"))
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn assert_like(ours: &Value, gold: &Value, what: &str, cmp: Cmp, shape_only: &[&str]) {
    if let Some(d) = first_diff(ours, gold, "result", cmp, shape_only) {
        panic!(
            "{what} differs from golden: {d}\nours:   {}\ngolden: {}",
            serde_json::to_string(ours).unwrap(),
            serde_json::to_string(gold).unwrap()
        );
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_digit() || ('a'..='f').contains(&c)
            }
        })
}

fn is_nguid(s: &str) -> bool {
    s.len() == 32
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
}

/// Replaces the run-dependent identifiers (`uuid`, `nguid`, UUID `aliases`)
/// by placeholders, after checking their formats (lowercase UUID, uppercase
/// hex NGUID, as SPDK prints them).
fn mask_ids(v: &Value, path: &str) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let p = format!("{path}.{k}");
                    let y = match (k.as_str(), x) {
                        ("uuid", Value::String(s)) => {
                            assert!(is_uuid(s), "{p}: {s:?} is not a lowercase UUID");
                            json!("<uuid>")
                        }
                        ("nguid", Value::String(s)) => {
                            assert!(is_nguid(s), "{p}: {s:?} is not 32 uppercase hex digits");
                            json!("<nguid>")
                        }
                        ("aliases", Value::Array(a)) => Value::Array(
                            a.iter()
                                .map(|s| match s.as_str() {
                                    Some(s) if is_uuid(s) => json!("<uuid>"),
                                    _ => s.clone(),
                                })
                                .collect(),
                        ),
                        _ => mask_ids(x, &p),
                    };
                    (k.clone(), y)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| mask_ids(x, &format!("{path}[{i}]")))
                .collect(),
        ),
        _ => v.clone(),
    }
}

/// Golden file `nn`'s parsed result, ports substituted.
fn golden_result(h: &Howto, nn: u32) -> Value {
    let g = golden_rpc(nn);
    let raw = h.ports(g["response_raw"].as_str().unwrap());
    let mut v: Value = serde_json::from_str(&raw).unwrap();
    v["result"].take()
}

/// cnode0's namespace 1 (uuid, nguid) in an `nvmf_get_subsystems` result.
fn ns1_ids(subsystems: &Value) -> (String, String) {
    let ns = subsystems
        .as_array()
        .and_then(|a| a.iter().find(|s| s["nqn"] == CNODE0))
        .map(|s| &s["namespaces"][0])
        .unwrap_or_else(|| panic!("no {CNODE0} namespace in {subsystems}"));
    (
        ns["uuid"].as_str().unwrap().to_string(),
        ns["nguid"].as_str().unwrap().to_string(),
    )
}

// ---- tests -----------------------------------------------------------------------

/// The HOWTO's commands all succeed (checked in setup, like golden 04-09 and
/// 35), and what the target then reports matches golden 10-13, 30, 02, 03.
#[test]
fn howto_target_config_matches_golden() {
    let h = howto();

    // nvmf_get_subsystems (golden 11): everything but UUID/NGUID and ports.
    let subs = h.cli_ok(&["nvmf_get_subsystems"]).json();
    assert_like(
        &mask_ids(&subs, "result"),
        &mask_ids(&golden_result(&h, 11), "result"),
        "nvmf_get_subsystems",
        Cmp::Values,
        &[],
    );
    // SPDK's NGUID is the bdev UUID's bytes when none is given.
    let (uuid, nguid) = ns1_ids(&subs);
    assert_eq!(
        nguid,
        uuid.replace('-', "").to_uppercase(),
        "NGUID is not the namespace UUID's bytes"
    );

    // nvmf_subsystem_get_listeners (golden 12): newest first, 32 groups,
    // all optimized before the switch.
    let gold12 = golden_result(&h, 12);
    assert_like(
        &h.listeners_before_switch,
        &gold12,
        "nvmf_subsystem_get_listeners (before the ANA switch)",
        Cmp::Values,
        &[],
    );
    // After `set_ana_state ... -a 127.0.0.1 ... -n non_optimized` without -g:
    // all 32 groups of that listener, and only those, are non_optimized.
    let mut want = gold12.clone();
    let l1 = want
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|l| l["address"]["traddr"] == "127.0.0.1")
        .expect("golden 12 has the 127.0.0.1 listener");
    for s in l1["ana_states"].as_array_mut().unwrap() {
        s["ana_state"] = json!("non_optimized");
    }
    let after = h.cli_ok(&["nvmf_subsystem_get_listeners", CNODE0]).json();
    assert_like(
        &after,
        &want,
        "nvmf_subsystem_get_listeners (after the ANA switch)",
        Cmp::Values,
        &[],
    );

    // nvmf_get_transports (golden 10): `-o -u 8192` → c2h_success false,
    // io_unit_size 8192, every other value SPDK's default.
    let tr = h.cli_ok(&["nvmf_get_transports"]).json();
    assert_like(
        &tr,
        &golden_result(&h, 10),
        "nvmf_get_transports",
        Cmp::Values,
        &[],
    );

    // bdev_get_bdevs (golden 13): Malloc0 claimed exclusive_write by the
    // namespace. Our malloc bdev may honestly support other I/O types and
    // memory domains than SPDK's, so those two only have to be shaped alike.
    let bdevs = h.cli_ok(&["bdev_get_bdevs"]).json();
    assert_like(
        &mask_ids(&bdevs, "result"),
        &mask_ids(&golden_result(&h, 13), "result"),
        "bdev_get_bdevs",
        Cmp::Values,
        &["supported_io_types", "memory_domains"],
    );
    assert_eq!(
        bdevs[0]["uuid"],
        json!(uuid),
        "Malloc0's UUID is not namespace 1's"
    );
    assert_eq!(
        bdevs[0]["aliases"],
        json!([uuid]),
        "Malloc0's alias is its UUID in SPDK"
    );

    // spdk_get_version (golden 02): SPDK's members, except that `commit`
    // only appears in SPDK builds made from git (spdk-rpc.md §2) and we are
    // no SPDK commit, so it may be absent. The text starts the way SPDK
    // builds it from the fields ("SPDK v24.09": minor zero-padded, patch
    // only when nonzero, then the suffix), so version regexes match; after
    // that ours deliberately names what answers ("(mpath-console 0.1.0;
    // nvmf_tgt)", see rpc::Router::new) where SPDK has " git sha1 <commit>".
    let ver = h.cli_ok(&["spdk_get_version"]).json();
    let mut gold2: Value =
        serde_json::from_str(golden_rpc(2)["response_raw"].as_str().unwrap()).unwrap();
    let gold2 = &mut gold2["result"];
    if ver["fields"].get("commit").is_none() {
        gold2["fields"].as_object_mut().unwrap().remove("commit");
    }
    assert_like(&ver, gold2, "spdk_get_version", Cmp::Shape, &[]);
    let f = &ver["fields"];
    let patch = f["patch"].as_u64().unwrap();
    let mut expect = format!("SPDK v{}.{:02}", f["major"], f["minor"].as_u64().unwrap());
    if patch != 0 {
        expect += &format!(".{patch}");
    }
    expect += f["suffix"].as_str().unwrap();
    let text = ver["version"].as_str().unwrap();
    assert!(
        text.starts_with(&expect),
        "version {text:?} does not start with {expect:?}"
    );
    match f["commit"].as_str() {
        Some(c) => assert!(
            text.ends_with(&format!(" git sha1 {c}")),
            "version {text:?} lacks its commit {c}"
        ),
        None => assert!(
            !text.contains("git sha1"),
            "version {text:?} names a commit its fields lack"
        ),
    }

    // rpc_get_methods: an array of names holding every method we rely on.
    let methods = h.cli_ok(&["rpc_get_methods"]).json();
    let names: Vec<&str> = methods
        .as_array()
        .expect("rpc_get_methods returns an array")
        .iter()
        .map(|m| m.as_str().expect("method names are strings"))
        .collect();
    let missing: Vec<&str> = METHODS
        .iter()
        .copied()
        .filter(|m| !names.contains(m))
        .collect();
    assert!(missing.is_empty(), "rpc_get_methods lacks {missing:?}");
    let mut uniq = names.clone();
    uniq.sort_unstable();
    uniq.dedup();
    assert_eq!(
        uniq.len(),
        names.len(),
        "rpc_get_methods lists a method twice"
    );

    // nvmf_get_stats (golden 30): same members and types; counters are run
    // dependent, but with no host ever connected nothing is current.
    let stats = h.cli_ok(&["nvmf_get_stats"]).json();
    assert_like(
        &stats,
        &golden_result(&h, 30),
        "nvmf_get_stats",
        Cmp::Shape,
        &[],
    );
    let groups = stats["poll_groups"].as_array().unwrap();
    assert!(!groups.is_empty(), "nvmf_get_stats has no poll group");
    for g in groups {
        assert_eq!(
            g["transports"],
            json!([{"trtype": "TCP"}]),
            "poll group transports"
        );
        for k in [
            "current_admin_qpairs",
            "current_io_qpairs",
            "pending_bdev_io",
        ] {
            assert_eq!(g[k], json!(0), "{k} with no host connected");
        }
    }

    // The same listing as raw bytes (golden 78: no `jsonrpc` member, id 18)
    // is byte-identical to SPDK's once UUID/NGUID and ports are ours.
    let g78 = golden_rpc(78);
    let ours =
        rpc_raw(h.sock(), g78["request_raw"].as_str().unwrap()).expect("a response to golden 78");
    let gold_subs: Value = serde_json::from_str(g78["response_raw"].as_str().unwrap()).unwrap();
    let (g_uuid, g_nguid) = ns1_ids(&gold_subs["result"]);
    let ours = ours.replace(&uuid, &g_uuid).replace(&nguid, &g_nguid);
    assert_eq!(
        ours,
        h.ports(g78["response_raw"].as_str().unwrap()),
        "golden 78 bytes"
    );
}

/// Failing `spdk-rpc` calls (golden 51-58, 60): SPDK's exit code and error
/// object, and the target unchanged.
#[test]
fn cli_errors_match_golden_and_change_nothing() {
    let h = howto();
    let before = h.state();
    // 51 bad NQN, 52 duplicate subsystem, 53 duplicate listener (127.0.0.1),
    // 57 unknown listener on cnode0, 58 unknown NQN.
    for nn in [51, 52, 53, 57, 58] {
        h.cli_as_golden(nn, None);
        h.assert_state(&before, &format!("golden {nn}'s failing call"));
    }

    // 54/55: a subsystem without -r, listening on cnode0's 127.0.0.1 port
    // (allowed); 56: set_ana_state on it fails with -22; 60: delete it.
    h.cli_as_golden(54, None);
    h.cli_as_golden(55, None);
    let with_cnode1 = h.state();
    h.cli_as_golden(56, None);
    h.assert_state(&with_cnode1, "golden 56's failing set_ana_state");
    h.cli_as_golden(60, None);
    h.assert_state(&before, "creating and deleting nqn.2016-06.io.spdk:cnode1");
}

/// Raw exchanges whose SPDK response is run independent: our bytes must be
/// SPDK's bytes, and the target unchanged.
#[test]
fn raw_errors_match_golden_bytes_and_change_nothing() {
    let h = howto();
    let before = h.state();
    let (our_ver, gold_ver) = h.versions();

    // 50 unknown method, 59 unknown ANA state (sent raw: spdk-rpc 26.5
    // rejects `-n bogus` itself), 61 missing num_blocks, 62 and 68 wrong
    // types, 66 params a string, 67 params an array, 70 id an object,
    // 71 jsonrpc "1.0", 72 batch, 73/74 failing notifications (id null).
    for nn in [50, 59, 61, 62, 66, 67, 68, 70, 71, 72, 73, 74] {
        let g = golden_rpc(nn);
        let mut c = RawConn::connect(h.sock());
        c.send(&h.ports(g["request_raw"].as_str().unwrap()));
        let want = g["response_raw"].as_str().unwrap();
        assert_eq!(
            c.read_line(RAW_TIMEOUT),
            Read1::Line(want.to_string()),
            "golden {nn}: {}",
            g["note"]
        );
        // The connection stays usable (73, 74 show it with a follow-up).
        if let Some(f) = g["followup_request_raw"].as_str() {
            c.send(f);
            let want = g["followup_response_raw"]
                .as_str()
                .unwrap()
                .replace(&gold_ver, &our_ver);
            assert_eq!(
                c.read_line(RAW_TIMEOUT),
                Read1::Line(want),
                "golden {nn}'s follow-up"
            );
        }
        h.assert_state(&before, &format!("golden {nn}'s request"));
    }

    // 64 malformed JSON: SPDK closes without a byte (the -32700 it builds is
    // never flushed). We may send that -32700 Parse error (SPDK's documented
    // intent, id null) before closing; either way the connection is closed.
    let g = golden_rpc(64);
    let mut c = RawConn::connect(h.sock());
    c.send(g["request_raw"].as_str().unwrap());
    match c.read_line(RAW_TIMEOUT) {
        Read1::Closed(rest) => assert_eq!(
            rest, "",
            "golden 64: bytes without a newline before the close"
        ),
        Read1::Line(l) => {
            assert_eq!(l, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}\n", "golden 64");
            assert_eq!(
                c.read_line(RAW_TIMEOUT),
                Read1::Closed(String::new()),
                "golden 64: not closed after the parse error"
            );
        }
        t @ Read1::Timeout(_) => {
            panic!("golden 64: connection left open after malformed JSON: {t:?}")
        }
    }
    h.assert_state(&before, "golden 64's malformed JSON");

    // 75/76 succeeding notifications: SPDK v24.09 sends a truncated fragment
    // (a bug). We deliberately send nothing, as JSON-RPC 2.0 says; the
    // connection stays usable and the follow-up is answered.
    for nn in [75, 76] {
        let g = golden_rpc(nn);
        let mut c = RawConn::connect(h.sock());
        c.send(g["request_raw"].as_str().unwrap());
        assert_eq!(
            c.read_line(Duration::from_secs(1)),
            Read1::Timeout(String::new()),
            "golden {nn}: notification answered"
        );
        c.send(g["followup_request_raw"].as_str().unwrap());
        let want = g["followup_response_raw"]
            .as_str()
            .unwrap()
            .replace(&gold_ver, &our_ver);
        assert_eq!(
            c.read_line(RAW_TIMEOUT),
            Read1::Line(want),
            "golden {nn}'s follow-up"
        );
    }

    // 77 two requests in one write: both answered, in order.
    let g = golden_rpc(77);
    let mut c = RawConn::connect(h.sock());
    c.send(g["request_raw"].as_str().unwrap());
    let want = g["response_raw"]
        .as_str()
        .unwrap()
        .replace(&gold_ver, &our_ver);
    let (first, second) = want.split_at(want.find('\n').unwrap() + 1);
    assert_eq!(
        c.read_line(RAW_TIMEOUT),
        Read1::Line(first.to_string()),
        "golden 77, first response"
    );
    assert_eq!(
        c.read_line(RAW_TIMEOUT),
        Read1::Line(second.to_string()),
        "golden 77, second response"
    );
    h.assert_state(&before, "the raw exchanges");
}

/// `serve` creates its sockets 0600, and refuses (naming the path) a target
/// socket that a live process is serving, leaving that process's socket
/// working.
#[test]
fn serve_socket_is_private_and_not_stolen() {
    let a = Serve::start();
    for sock in [&a.sock, &a.isock] {
        let mode = std::fs::metadata(sock).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "socket {} has mode {mode:o}", sock.display());
    }

    let log = a.dir.path().join("second.log");
    let mut second = Command::new(env!("CARGO_BIN_EXE_mpath-console"))
        .arg("serve")
        .arg("--target-sock")
        .arg(&a.sock)
        .arg("--initiator-sock")
        .arg(a.dir.path().join("second-bdevperf.sock"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = second.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > Duration::from_secs(10) {
            let _ = second.kill();
            let _ = second.wait();
            panic!(
                "a second serve on the live socket {} kept running",
                a.sock.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(
        !status.success(),
        "a second serve on a live socket exited 0; stderr:\n{err}"
    );
    assert!(
        err.contains(&*a.sock.to_string_lossy()),
        "the error does not name {}:\n{err}",
        a.sock.display()
    );

    let g = golden_rpc(50);
    let answer = rpc_raw(&a.sock, g["request_raw"].as_str().unwrap());
    assert_eq!(
        answer.as_deref(),
        g["response_raw"].as_str(),
        "the first serve's socket no longer answers"
    );
}

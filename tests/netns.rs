//! The HOWTO across two hosts: the target and the initiator in two network
//! namespaces that this test makes, joined by two veth pairs (the HOWTO's
//! two networks), and the console attached from outside through their
//! Unix sockets, driven with keys in tmux.
//!
//! ```text
//!   netns mpath-<pid>-t                          netns mpath-<pid>-i
//!   serve --role target                          serve --role initiator (verify load)
//!   169.254.17.13:4420 ── mp<pid>t0 ═ mp<pid>i0 ── 169.254.17.14
//!   169.254.18.13:5520 ── mp<pid>t1 ═ mp<pid>i1 ── 169.254.18.14
//!        │ spdk.sock                                    │ bdevperf.sock
//!        └──────────── mpath-console attach (host, tmux) ┘
//! ```
//!
//! Every process that sends NVMe/TCP traffic runs inside the namespaces;
//! the host's namespace gets no interface and no address. Through the
//! console: the first listener to non_optimized (`n`), traffic moves to the
//! second network; both listeners optimized again (`o`), then the policy to
//! active_active (`p`), traffic on both; 0 failed I/O. Checked in the
//! initiator's per-path counters, in the kernel's per-link byte counters
//! inside the target's namespace, and on the console's screen.
//!
//! Each `serve` reports its own sockets (`mpath_sock_get_connections`), so
//! the console shows both ends of every connection although its own
//! kernel sees none of them.
//!
//! A second test makes three hosts: the target with an `mpath-console
//! agent` beside it, the initiator with another, both answering only
//! SPDK's methods (`--spdk-strict`, as real SPDK), and the console in a
//! third namespace with no link at all; each side's sockets come from its
//! own agent and are joined to the paths on the console's screen.
//!
//! Needs root (CAP_SYS_ADMIN) for `ip netns`, iproute2 and tmux: without
//! them the test fails saying what is missing (scripts/test.sh installs
//! the tools and runs as root). The namespaces and every process
//! are removed at the end, also when the test fails; namespaces left by a
//! test run that was killed are removed by the next run.

mod common;
mod console;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{require_tool, wait_for_or};
use console::*;
use serde_json::{json, Value};

/// The two networks, like the HOWTO's two (its 172.17/16 and 172.18/16),
/// but in link-local space (169.254.0.0/16, never routed): these addresses
/// exist only on the veths inside this test's own namespaces.
const NETS: [[u8; 3]; 2] = [[169, 254, 17], [169, 254, 18]];
/// The target's host number on each network (the HOWTO's `.13`) and the
/// initiator's.
const TARGET_HOST: u8 = 13;
const INITIATOR_HOST: u8 = 14;
/// The HOWTO's listener ports, one per network.
const PORTS: [u16; 2] = [4420, 5520];

const TEST: &str = "tests/netns.rs";
const STEP: Duration = Duration::from_secs(10);

fn addr(net: usize, host: u8) -> Ipv4Addr {
    let [a, b, c] = NETS[net];
    Ipv4Addr::new(a, b, c, host)
}

fn listener(net: usize) -> SocketAddrV4 {
    SocketAddrV4::new(addr(net, TARGET_HOST), PORTS[net])
}

/// Runs `ip ARGS`; Err(stderr) if it fails.
fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Namespaces `mpath-<pid>-*` whose test process is gone (killed before
/// its clean-up ran).
fn remove_stale_namespaces() {
    let Ok(list) = ip(&["netns", "list"]) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(pid) = name
            .strip_prefix("mpath-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// The two hosts: namespaces, links, and the processes in them. Drop kills
/// the processes, then deletes the namespaces (the veths go with them).
struct Lab {
    procs: Vec<Proc>,
    namespaces: Vec<String>,
    tag: String,
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.procs.clear();
        for ns in self.namespaces.drain(..).rev() {
            if let Err(e) = ip(&["netns", "del", &ns]) {
                eprintln!("{TEST}: clean-up: {e}");
            }
        }
    }
}

impl Lab {
    /// Two namespaces joined by two veth pairs, addressed and up; Err if
    /// namespaces cannot be made here. `tag` (one letter) keeps the names
    /// of each test's lab apart.
    fn build(tag: &str) -> Result<Lab, String> {
        let pid = std::process::id();
        let (t, i) = (format!("mpath-{pid}-{tag}t"), format!("mpath-{pid}-{tag}i"));
        let mut lab = Lab {
            procs: vec![],
            namespaces: vec![],
            tag: tag.to_string(),
        };
        for ns in [&t, &i] {
            ip(&["netns", "add", ns])?;
            lab.namespaces.push(ns.clone());
            ip(&["-n", ns, "link", "set", "lo", "up"]).map_err(|e| format!("setup: {e}"))?;
        }
        for net in 0..2 {
            let (tv, iv) = (format!("mp{pid}{tag}t{net}"), format!("mp{pid}{tag}i{net}"));
            // Both ends created straight into the namespaces: nothing
            // appears in the host's.
            ip(&[
                "link", "add", "name", &tv, "netns", &t, "type", "veth", "peer", "name", &iv,
                "netns", &i,
            ])
            .map_err(|e| format!("setup: {e}"))?;
            for (ns, dev, host) in [(&t, &tv, TARGET_HOST), (&i, &iv, INITIATOR_HOST)] {
                let a = format!("{}/24", addr(net, host));
                ip(&["-n", ns, "addr", "add", &a, "dev", dev])
                    .map_err(|e| format!("setup: {e}"))?;
                ip(&["-n", ns, "link", "set", dev, "up"]).map_err(|e| format!("setup: {e}"))?;
            }
            for (ns, dev) in [(&t, &tv), (&i, &iv)] {
                wait_for_or(
                    &format!("{dev} up in {ns}"),
                    Duration::from_secs(5),
                    || {
                        ip(&["-n", ns, "-o", "link", "show", "dev", dev])
                            .ok()
                            .filter(|s| s.contains("LOWER_UP"))
                    },
                    String::new,
                );
            }
        }
        Ok(lab)
    }

    fn target_ns(&self) -> &str {
        &self.namespaces[0]
    }
    fn initiator_ns(&self) -> &str {
        &self.namespaces[1]
    }

    /// Bytes through the target's end of each network's link (rx + tx), as
    /// the kernel counts them inside the target's namespace.
    fn link_bytes(&self) -> [u64; 2] {
        let pid = std::process::id();
        let tag = &self.tag;
        [0, 1].map(|net| {
            let dev = format!("mp{pid}{tag}t{net}");
            let out = ip(&[
                "-n",
                self.target_ns(),
                "-j",
                "-s",
                "link",
                "show",
                "dev",
                &dev,
            ])
            .unwrap_or_else(|e| panic!("{e}"));
            let v: Value = serde_json::from_str(&out).expect("ip -j JSON");
            let s = &v[0]["stats64"];
            s["rx"]["bytes"].as_u64().unwrap_or(0) + s["tx"]["bytes"].as_u64().unwrap_or(0)
        })
    }
}

/// Per-path completed I/O (first, second listener's path) and per-link
/// bytes grown over `d`.
fn growth(lab: &Lab, isock: &Path, d: Duration) -> ([u64; 2], [u64; 2]) {
    let ios = || {
        let p = io_paths(isock);
        [0, 1].map(|net| {
            let port = PORTS[net].to_string();
            p.iter().find(|x| x.0 == port).map_or(0, |x| x.2)
        })
    };
    let (i0, l0) = (ios(), lab.link_bytes());
    std::thread::sleep(d);
    let (i1, l1) = (ios(), lab.link_bytes());
    (
        [i1[0] - i0[0], i1[1] - i0[1]],
        [l1[0] - l0[0], l1[1] - l0[1]],
    )
}

/// Per path, whether it is current, by listener port.
fn current(isock: &Path) -> [bool; 2] {
    let p = io_paths(isock);
    [0, 1].map(|net| {
        let port = PORTS[net].to_string();
        p.iter().any(|x| x.0 == port && x.1)
    })
}

/// The first listener's ANA state, from the target.
fn first_listener_ana(tsock: &Path) -> String {
    let v = rpc(tsock, "nvmf_subsystem_get_listeners", json!({"nqn": NQN}));
    let want = PORTS[0].to_string();
    v.as_array()
        .into_iter()
        .flatten()
        .find(|l| l["address"]["trsvcid"] == want.as_str())
        .and_then(|l| l["ana_states"][0]["ana_state"].as_str())
        .unwrap_or("?")
        .to_string()
}

const MIB: u64 = 1 << 20;

/// The tests take turns: each runs a load between two namespaces, and two
/// at once on a busy two-core machine would starve the consoles.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn two_hosts_in_namespaces_switch_paths_through_the_console() {
    let t_start = Instant::now();
    require_tool("ip", "-V", "iproute2");
    require_tool("tmux", "-V", "tmux");
    remove_stale_namespaces();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let mut lab = Lab::build("a").unwrap_or_else(|e| {
        panic!(
            "{TEST}: cannot make network namespaces here (run as root / with CAP_SYS_ADMIN): {e}"
        )
    });
    // Nothing of it in the host's namespace: no veth end, no address.
    let host = ip(&["-o", "addr", "show"]).unwrap_or_default()
        + &ip(&["-o", "link", "show"]).unwrap_or_default();
    let mine = format!("mp{}", std::process::id());
    assert!(
        !host.contains(&mine) && !host.contains(&addr(0, TARGET_HOST).to_string()),
        "the host's namespace got a test link or address:\n{host}"
    );
    let (l1, l2) = (listener(0), listener(1));
    let sc = fixture(
        "howto.json",
        &[
            ("ADDR1", l1.ip().to_string()),
            ("PORT1", l1.port().to_string()),
            ("ADDR2", l2.ip().to_string()),
            ("PORT2", l2.port().to_string()),
        ],
    );
    let (tjson, ijson) = (d.join("target.json"), d.join("initiator.json"));
    write_steps(&tjson, &sc, &["nvmf_tgt"]);
    write_steps(&ijson, &sc, &["bdevperf"]);
    let (tsock, isock) = (d.join("spdk.sock"), d.join("bdevperf.sock"));

    // The target host: a listener on each network.
    let mut c = serve_cmd(Some(lab.target_ns()));
    c.args(["--role", "target", "--target-sock"])
        .arg(&tsock)
        .arg("--scenario")
        .arg(&tjson);
    lab.procs
        .push(Proc::spawn("target (netns)", c, d.join("target.log")));
    lab.procs[0].wait_serving(Duration::from_secs(20));
    // The initiator host: both paths attached, as the HOWTO's bdevperf.
    let mut c = serve_cmd(Some(lab.initiator_ns()));
    c.args(["--role", "initiator", "--initiator-sock"])
        .arg(&isock)
        .arg("--scenario")
        .arg(&ijson)
        .args(["--", "-q", "128", "-o", "4096", "-w", "verify", "-t", "600"]);
    lab.procs
        .push(Proc::spawn("initiator (netns)", c, d.join("initiator.log")));
    lab.procs[1].wait_serving(Duration::from_secs(20));
    let _load = start_load(&isock);
    let setup = t_start.elapsed();

    // The console, outside the namespaces, through the Unix sockets.
    let (ts, is) = (tsock.to_str().unwrap(), isock.to_str().unwrap());
    let argv: Vec<String> = [bin(), "attach", "--target", ts, "--initiator", is]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // Declared after `lab`, so dropped (tmux server killed) before it.
    let tmux = Tmux::start("console", d, &argv);
    let (s1, s2) = (l1.to_string(), l2.to_string());

    // Only the first path carries I/O, on the first network.
    wait_for_or(
        "I/O on the first path",
        STEP,
        || (current(&isock) == [true, false]).then_some(()),
        || format!("{:?}", io_paths(&isock)),
    );
    let (ios, link) = growth(&lab, &isock, Duration::from_millis(500));
    assert!(ios[0] > 500 && ios[1] == 0, "active_passive: {ios:?}");
    assert!(
        link[0] > MIB && link[1] < 64 << 10,
        "first network only: {link:?} bytes"
    );
    tmux.wait("★ on the first path", STEP, |s| {
        let (p1, p2) = (path_row(s, &s1)?, path_row(s, &s2)?);
        (p1.current && !p2.current && number(&p1.iops)? > 0.0).then_some(())
    });

    // The first listener's ANA state to non_optimized: `n` on the first
    // row of the Listeners pane.
    let mut tabs = 0;
    while !listeners_focused(&tmux.capture()) {
        assert!(tabs < 6, "Tab never focused Listeners:\n{}", tmux.capture());
        tmux.keys(&["Tab"]);
        tabs += 1;
        std::thread::sleep(Duration::from_millis(150));
    }
    tmux.keys(&["g", "n"]);
    let t_switch = Instant::now();
    wait_for_or(
        "the first listener non_optimized, the second path current",
        STEP,
        || {
            (first_listener_ana(&tsock) == "non_optimized" && current(&isock) == [false, true])
                .then_some(())
        },
        || format!("{:?}\n{}", io_paths(&isock), tmux.capture()),
    );
    let switched = t_switch.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let (ios, link) = growth(&lab, &isock, Duration::from_millis(500));
    assert!(ios[1] > 500 && ios[0] == 0, "after n: {ios:?}");
    assert!(
        link[1] > MIB && link[0] < 64 << 10,
        "second network only: {link:?} bytes"
    );
    tmux.wait("★ moved to the second path", STEP, |s| {
        let (p1, p2) = (path_row(s, &s1)?, path_row(s, &s2)?);
        (!p1.current && p2.current && p1.ana == "non_optimized").then_some(())
    });

    // The HOWTO's round-robin: both listeners optimized first (`o`, the
    // first row still selected), then active_active (`p`).
    tmux.keys(&["o"]);
    wait_for_or(
        "the first listener optimized again",
        STEP,
        || (first_listener_ana(&tsock) == "optimized" && current(&isock)[0]).then_some(()),
        || format!("{:?}\n{}", io_paths(&isock), tmux.capture()),
    );
    tmux.keys(&["p"]);
    wait_for_or(
        "active_active on both paths",
        STEP,
        || {
            let b = rpc(&isock, "bdev_get_bdevs", json!({"name": "Nvme0n1"}));
            let policy = b[0]["driver_specific"]["mp_policy"].clone();
            (policy == "active_active" && current(&isock) == [true, true]).then_some(())
        },
        || format!("{:?}\n{}", io_paths(&isock), tmux.capture()),
    );
    std::thread::sleep(Duration::from_millis(200));
    let (ios, link) = growth(&lab, &isock, Duration::from_millis(500));
    assert!(ios[0] > 200 && ios[1] > 200, "active_active: {ios:?}");
    assert!(
        link[0] > MIB / 2 && link[1] > MIB / 2,
        "both networks: {link:?} bytes"
    );
    tmux.wait("★ on both paths, active_active", STEP, |s| {
        let (p1, p2) = (path_row(s, &s1)?, path_row(s, &s2)?);
        let busy = |p: &PathCells| number(&p.iops).is_some_and(|v| v > 0.0);
        let title = s
            .lines()
            .any(|l| l.contains("╭ I/O paths") && l.contains("active_active"));
        (p1.current && p2.current && busy(&p1) && busy(&p2) && title).then_some(())
    });

    // The console's own kernel cannot see sockets in other namespaces;
    // each `serve` reports its own (mpath_sock_get_connections): both ends
    // of the first listener's connections are on screen.
    let screen = tmux.capture();
    let rows = conn_rows(&screen);
    let port = PORTS[0].to_string();
    for side in ["tgt", "host"] {
        assert!(
            rows.iter().any(|r| r.side == side && r.port == port),
            "{side} rows of the first listener:\n{screen}"
        );
    }
    assert!(!screen.contains("sockets unknown"), "{screen}");
    // Not one I/O failed or miscompared through all of it.
    let st = rpc(&isock, "mpath_perf_status", Value::Null);
    let job = &st["jobs"][0];
    assert_eq!(st["running"], true, "{st}");
    assert_eq!(job["io_failed"], 0, "{st}");
    assert_eq!(job["io_miscompared"], 0, "{st}");
    assert!(job["io_completed"].as_u64().unwrap_or(0) > 5_000, "{st}");
    for p in &mut lab.procs {
        p.check_alive();
    }
    tmux.quit();
    drop(tmux);

    let namespaces = lab.namespaces.clone();
    drop(lab);
    let left = ip(&["netns", "list"]).unwrap_or_default();
    for ns in &namespaces {
        assert!(
            !left
                .lines()
                .any(|l| l.split_whitespace().next() == Some(ns)),
            "{ns} left behind: {left}"
        );
    }
    eprintln!(
        "{TEST}: set-up {setup:?}, path switch seen by the initiator {switched:?} after `n`, \
         total {:?}",
        t_start.elapsed()
    );
}

/// `mpath-console ARGS` inside the network namespace `ns`.
fn in_netns(ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, bin()]).args(args);
    c
}

/// Three hosts: the target and an agent beside it in one namespace, the
/// initiator and its agent in another, the console in a third that has no
/// link at all. The applications answer only SPDK's methods (`serve
/// --spdk-strict`, as real SPDK), so each side's sockets come from its own
/// agent: both ends of every queue are on the console's screen, each
/// socket once, mirrored 4-tuples joined to the same path, controller and
/// queue, and the current path's MiB/s computed from them.
#[test]
fn a_console_in_a_third_namespace_shows_each_hosts_own_sockets() {
    const TEST3: &str = "tests/netns.rs (three hosts)";
    require_tool("ip", "-V", "iproute2");
    require_tool("tmux", "-V", "tmux");
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    remove_stale_namespaces();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut lab = Lab::build("b").unwrap_or_else(|e| {
        panic!(
            "{TEST3}: cannot make network namespaces here (run as root / with CAP_SYS_ADMIN): {e}"
        )
    });
    let cns = format!("mpath-{}-bc", std::process::id());
    ip(&["netns", "add", &cns]).unwrap_or_else(|e| panic!("{e}"));
    lab.namespaces.push(cns.clone());
    ip(&["-n", &cns, "link", "set", "lo", "up"]).unwrap_or_else(|e| panic!("{e}"));

    let (l1, l2) = (listener(0), listener(1));
    let sc = fixture(
        "howto.json",
        &[
            ("ADDR1", l1.ip().to_string()),
            ("PORT1", l1.port().to_string()),
            ("ADDR2", l2.ip().to_string()),
            ("PORT2", l2.port().to_string()),
        ],
    );
    let (tjson, ijson) = (d.join("target.json"), d.join("initiator.json"));
    write_steps(&tjson, &sc, &["nvmf_tgt"]);
    write_steps(&ijson, &sc, &["bdevperf"]);
    let (tsock, isock) = (d.join("spdk.sock"), d.join("bdevperf.sock"));
    let (tagent, iagent) = (d.join("target-agent.sock"), d.join("initiator-agent.sock"));
    let (tns, ins) = (lab.target_ns().to_string(), lab.initiator_ns().to_string());

    let mut c = serve_cmd(Some(&tns));
    c.args(["--spdk-strict", "--role", "target", "--target-sock"])
        .arg(&tsock)
        .arg("--scenario")
        .arg(&tjson);
    lab.procs
        .push(Proc::spawn("target", c, d.join("target.log")));
    lab.procs.last_mut().unwrap().wait_serving(STEP);
    let mut c = serve_cmd(Some(&ins));
    c.args(["--spdk-strict", "--role", "initiator", "--initiator-sock"])
        .arg(&isock)
        .arg("--scenario")
        .arg(&ijson)
        .args(["--", "-q", "32", "-o", "4096", "-w", "verify", "-t", "600"]);
    lab.procs
        .push(Proc::spawn("initiator", c, d.join("initiator.log")));
    lab.procs.last_mut().unwrap().wait_serving(STEP);
    for (ns, sock, name) in [
        (&tns, &tagent, "target agent"),
        (&ins, &iagent, "initiator agent"),
    ] {
        let c = in_netns(ns, &["agent", "--rpc-sock", sock.to_str().unwrap()]);
        let log = d.join(format!("{}.log", name.replace(' ', "-")));
        lab.procs.push(Proc::spawn(name, c, log));
        let p = lab.procs.last_mut().unwrap();
        wait_for_or(
            name,
            STEP,
            || {
                p.check_alive();
                p.log_text().contains("mpath-console agent:").then_some(())
            },
            String::new,
        );
    }
    let _load = start_load(&isock);

    // The console, in its own namespace: no interface but lo, no route to
    // either host; it reaches everything through the Unix sockets.
    let p = |x: &Path| x.to_str().unwrap().to_string();
    let argv: Vec<String> = [
        "ip",
        "netns",
        "exec",
        &cns,
        bin(),
        "attach",
        "--target",
        &p(&tsock),
        "--initiator",
        &p(&isock),
        "--target-agent",
        &p(&tagent),
        "--initiator-agent",
        &p(&iagent),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let tmux = Tmux::start("console3", d, &argv);
    let (s1, s2) = (l1.to_string(), l2.to_string());
    let ini = |net: usize| addr(net, INITIATOR_HOST).to_string();

    let screen = tmux.wait("both hosts' sockets, joined to both paths", STEP * 2, |s| {
        let (p1, p2) = (path_row(s, &s1)?, path_row(s, &s2)?);
        let rows = conn_rows(s);
        for (net, p) in [(0, &p1), (1, &p2)] {
            let port = PORTS[net].to_string();
            let ctrl = format!("c{}", p.cntlid);
            for side in ["tgt", "host"] {
                for q in ["admin", "q1"] {
                    rows.iter().find(|r| {
                        r.side == side && r.port == port && r.ctrl == ctrl && r.queue == q
                    })?;
                }
            }
        }
        // The current path's rate, from its sockets' counters.
        (p1.current && number(&p1.mibps)? > 1.0).then(|| s.to_string())
    });
    let rows = conn_rows(&screen);
    assert!(!screen.contains("sockets unknown"), "{screen}");
    assert!(rows.iter().all(|r| r.side != "remote"), "{screen}");
    for r in &rows {
        // Target rows: local = a listener, peer = the initiator host;
        // host rows the mirror image, from the other namespace's kernel.
        let [local, peer] = r.addrs.as_slice() else {
            panic!("addresses of {r:?}\n{screen}");
        };
        let net = usize::from(r.port != PORTS[0].to_string());
        let lst = listener(net).to_string();
        let (mine, theirs) = if r.side == "tgt" {
            (local, peer)
        } else {
            (peer, local)
        };
        assert_eq!(*mine, lst, "{r:?}");
        assert!(theirs.starts_with(&format!("{}:", ini(net))), "{r:?}");
        // Each socket once, and its other end shown with the same path,
        // controller and queue.
        let mirror: Vec<&ConnCells> = rows
            .iter()
            .filter(|o| o.addrs.first() == Some(peer) && o.addrs.get(1) == Some(local))
            .collect();
        assert_eq!(mirror.len(), 1, "other end of {r:?}\n{screen}");
        let o = mirror[0];
        assert_ne!(o.side, r.side, "{r:?} {o:?}");
        assert_eq!(
            (&o.ctrl, &o.queue, o.current),
            (&r.ctrl, &r.queue, r.current)
        );
        assert_eq!(
            rows.iter().filter(|x| x.addrs == r.addrs).count(),
            1,
            "{r:?}"
        );
    }
    // The console's namespace has no TCP socket of its own to read.
    let out = Command::new("ip")
        .args(["netns", "exec", &cns, "ss", "-Htna"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for p in &mut lab.procs {
        p.check_alive();
    }
    tmux.quit();
    eprintln!(
        "{TEST3}: {} sockets from two agents on the console's screen:\n{}",
        rows.len(),
        pane(&screen, "Connections").unwrap_or_default().join("\n")
    );
}

//! `mpath-console attach` against `mpath-console serve`, on loopback only,
//! the console run for real in tmux:
//!
//! * the same state seen through `run` (embedded engines), through
//!   `attach` over Unix sockets and through `attach` over TCP shows the
//!   same screen, numbers that move (rates, RTTs, ephemeral ports) aside;
//! * a backend that answers only SPDK's keys (`serve --spdk-strict`) gets
//!   per-path rates from the kernel's sock_diag counters, read by an
//!   `mpath-console agent` beside it, and no made-up per-path numbers;
//! * `bench --connect` drives an external target (`serve --role target`).
//!
//! The HOWTO's set-up comes from `tests/fixtures/howto.json` with free
//! ports on 127.0.0.1 and 127.0.0.2. Needs tmux: without it a test fails
//! saying what to install.

mod common;
mod console;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{free_port, require_tool, wait_for_or};
use console::*;
use mpath_console::sockstat::{self, Filter};
use serde_json::{json, Value};

/// The tests that run a load take turns: two at once on a busy two-core
/// machine would starve the consoles' sampling.
static LOAD: Mutex<()> = Mutex::new(());

const START: Duration = Duration::from_secs(20);
const SCREEN: Duration = Duration::from_secs(15);

fn require_tmux() {
    require_tool("tmux", "-V", "tmux");
}

/// The HOWTO on free loopback ports: (scenario text, first listener,
/// second listener).
fn loopback_howto() -> (String, SocketAddr, SocketAddr) {
    let (p1, p2) = (free_port("127.0.0.1"), free_port("127.0.0.2"));
    let s = fixture(
        "howto.json",
        &[
            ("ADDR1", "127.0.0.1".into()),
            ("PORT1", p1.to_string()),
            ("ADDR2", "127.0.0.2".into()),
            ("PORT2", p2.to_string()),
        ],
    );
    (
        s,
        SocketAddr::from(([127, 0, 0, 1], p1)),
        SocketAddr::from(([127, 0, 0, 2], p2)),
    )
}

fn argv(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The screen is ready for comparison: the Listeners, I/O paths and
/// Connections panes show both paths' rows, and the header knows both
/// applications.
fn both_paths_shown(s: &str, a1: SocketAddr, a2: SocketAddr) -> bool {
    let (a1, a2) = (a1.to_string(), a2.to_string());
    let conns = pane(s, "Connections").unwrap_or_default().join("\n");
    path_row(s, &a1).is_some()
        && path_row(s, &a2).is_some()
        && listener_row(s, &a1).is_some()
        && listener_row(s, &a2).is_some()
        && conns.matches(" q1 ").count() >= 2
        // Every rate has had its second sample.
        && !s.contains("first sample")
}

/// Everything of the screen that must not depend on how the console
/// reaches the engines: the header's first line (`embedded`/`attached`
/// aside), the tables and the events, with the listeners' addresses kept
/// and other numbers (rates, RTTs, ephemeral ports, ages) reduced to `#`.
/// Not compared: the header's second line (where the engines are, the
/// console's own CPU and memory) and the Load pane's chart, whose history
/// starts when the console does.
fn comparable(screen: &str, a1: SocketAddr, a2: SocketAddr) -> String {
    let mut out = mask(screen.lines().next().unwrap_or(""), a1, a2) + "\n";
    for title in [
        "Subsystems",
        "Listeners",
        "I/O paths",
        "Connections",
        "Events",
    ] {
        out.push_str(&format!("[{title}]\n"));
        for row in pane(screen, title).unwrap_or_default() {
            out.push_str(&mask(&row, a1, a2));
            out.push('\n');
        }
    }
    out
}

fn mask(row: &str, a1: SocketAddr, a2: SocketAddr) -> String {
    let keep = [
        (a1.to_string(), "<first listener>"),
        (a2.to_string(), "<second listener>"),
        (format!(" {} ", a1.port()), " <first port> "),
        (format!(" {} ", a2.port()), " <second port> "),
        (" embedded ".to_string(), " <mode> "),
        (" attached ".to_string(), " <mode> "),
    ];
    let mut r = format!(" {row} ");
    for (k, v) in &keep {
        r = r.replace(k.as_str(), v);
    }
    // Numbers (with their units) to `#`, then runs of blanks to one.
    let mut out = String::new();
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            while chars
                .peek()
                .is_some_and(|d| d.is_ascii_digit() || *d == '.' || *d == 'K')
            {
                chars.next();
            }
            out.push('#');
        } else {
            out.push(c);
        }
    }
    for unit in [" #KiB/s", " #MiB/s", " #GiB/s", " #B/s"] {
        out = out.replace(&unit.replace('#', "# "), " #/s");
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Waits until `ports` accept a new listener (the process that had them
/// is gone).
fn wait_ports_free(ports: &[SocketAddr]) {
    wait_for_or(
        "listener ports free again",
        Duration::from_secs(10),
        || {
            ports
                .iter()
                .all(|p| TcpListener::bind(p).is_ok())
                .then_some(())
        },
        String::new,
    );
}

/// One console's screen of the state, once both paths are on it and it
/// has settled; the console is quit after.
fn console_screen(name: &str, dir: &Path, args: &[&str], a1: SocketAddr, a2: SocketAddr) -> String {
    let mut v = vec![bin()];
    v.extend_from_slice(args);
    let t = Tmux::start(name, dir, &argv(&v));
    t.wait("both paths on screen", SCREEN, |s| {
        both_paths_shown(s, a1, a2).then_some(())
    });
    let s = t.settled("a settled screen", SCREEN, |s| comparable(s, a1, a2));
    t.quit();
    s
}

/// The header: every line above the first pane's top border (it wraps
/// onto as many lines as its segments need at the terminal's width).
fn header(s: &str) -> String {
    s.lines()
        .take_while(|l| !l.starts_with('╭'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn attach_over_unix_and_tcp_shows_what_run_shows() {
    require_tmux();
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (sc, a1, a2) = loopback_howto();
    let full = d.join("howto.json");
    let tgt = d.join("target.json");
    let ini = d.join("initiator.json");
    write_steps(&full, &sc, &["nvmf_tgt", "bdevperf"]);
    write_steps(&tgt, &sc, &["nvmf_tgt"]);
    write_steps(&ini, &sc, &["bdevperf"]);

    // 1. The embedded engines (`run`), load paused so nothing moves. (`run`
    //    serves its RPC on SPDK's default socket paths when nothing answers
    //    there, else in a private directory; --target-sock/--initiator-sock
    //    choose others, not needed here.)
    let run = console_screen(
        "run",
        d,
        &["run", "--paused", "--scenario", full.to_str().unwrap()],
        a1,
        a2,
    );
    wait_ports_free(&[a1, a2]);

    // 2. The same state in two `serve` processes, a target and an
    //    initiator, each with its RPC on a Unix socket and on TCP.
    let (tsock, isock) = (d.join("spdk.sock"), d.join("bdevperf.sock"));
    let (tport, iport) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let mut c = serve_cmd(None);
    c.args(["--role", "target", "--target-sock"])
        .arg(&tsock)
        .args(["--rpc-listen", &format!("127.0.0.1:{tport}"), "--scenario"])
        .arg(&tgt);
    let mut target = Proc::spawn("serve --role target", c, d.join("target.log"));
    target.wait_serving(START);
    let mut c = serve_cmd(None);
    c.args(["--role", "initiator", "--initiator-sock"])
        .arg(&isock)
        .args(["--rpc-listen", &format!("127.0.0.1:{iport}"), "--scenario"])
        .arg(&ini)
        // bdevperf's options as `run` sets them.
        .args(["--", "-q", "128", "-o", "4096", "-w", "verify"])
        .args(["-t", "315360000"]);
    let mut initiator = Proc::spawn("serve --role initiator", c, d.join("initiator.log"));
    initiator.wait_serving(START);

    let (ts, is) = (tsock.to_str().unwrap(), isock.to_str().unwrap());
    let unix = console_screen(
        "unix",
        d,
        &["attach", "--target", ts, "--initiator", is],
        a1,
        a2,
    );
    let (ttcp, itcp) = (format!("127.0.0.1:{tport}"), format!("127.0.0.1:{iport}"));
    let tcp = console_screen(
        "tcp",
        d,
        &["attach", "--target", &ttcp, "--initiator", &itcp],
        a1,
        a2,
    );
    target.check_alive();
    initiator.check_alive();

    // Who the console talks to, in the header.
    assert!(header(&run).contains("embedded"), "run:\n{run}");
    for (screen, t, i) in [(&unix, ts, is), (&tcp, ttcp.as_str(), itcp.as_str())] {
        let h = header(screen);
        assert!(h.contains("attached"), "{screen}");
        assert!(h.contains(&format!("nvmf_tgt {t}")), "{screen}");
        assert!(h.contains(&format!("bdevperf {i}")), "{screen}");
    }

    // The state itself, as the RPCs give it, is on every screen.
    for (name, s) in [("run", &run), ("unix", &unix), ("tcp", &tcp)] {
        let subs = pane(s, "Subsystems").unwrap().join("\n");
        assert!(
            subs.contains(NQN) && subs.contains("Malloc0") && subs.contains("64 MiB"),
            "{name}: subsystems:\n{s}"
        );
        for a in [a1, a2] {
            let (_, row) = listener_row(s, &a.to_string()).unwrap();
            // `optimized`, or `OPT` per ANA group where room is short.
            let ana = row.replace(NQN, "").to_lowercase();
            assert!(
                ana.contains("opt") && !ana.contains("non") && row.contains(NQN),
                "{name}: {row}"
            );
        }
        let (p1, p2) = (
            path_row(s, &a1.to_string()).unwrap(),
            path_row(s, &a2.to_string()).unwrap(),
        );
        for p in [&p1, &p2] {
            assert_eq!(
                (
                    p.ctrlr.as_str(),
                    p.conn.as_str(),
                    p.acc.as_str(),
                    p.ana.as_str()
                ),
                ("Nvme0", "yes", "yes", "optimized"),
                "{name}: {p:?}"
            );
        }
        assert_eq!(
            (p1.cntlid.as_str(), p2.cntlid.as_str()),
            ("1", "2"),
            "{name}"
        );
    }

    // And the three screens agree row for row.
    let (r, u, t) = (
        comparable(&run, a1, a2),
        comparable(&unix, a1, a2),
        comparable(&tcp, a1, a2),
    );
    assert_eq!(r, u, "run vs attach (Unix)\nrun:\n{run}\nattach:\n{unix}");
    assert_eq!(u, t, "attach Unix vs TCP\nunix:\n{unix}\ntcp:\n{tcp}");
    eprintln!("three screens compared in {:?}", t0.elapsed());
}

/// Per-path bytes per second the kernel counts on the initiator's side of
/// every connection to `listener` over `d` (sent and acked + received).
fn kernel_path_rate(listener: SocketAddr, d: Duration) -> f64 {
    let bytes = || -> u64 {
        sockstat::query(&Filter::port(listener.port(), Filter::CONNECTED))
            .expect("sock_diag")
            .iter()
            .filter(|c| c.peer == listener)
            .filter_map(|c| c.info.as_ref())
            .map(|i| i.bytes_acked.unwrap_or(0) + i.bytes_received.unwrap_or(0))
            .sum()
    };
    let (b0, t0) = (bytes(), Instant::now());
    std::thread::sleep(d);
    let b1 = bytes();
    b1.saturating_sub(b0) as f64 / t0.elapsed().as_secs_f64()
}

#[test]
fn strict_backend_shows_per_path_rates_from_sock_diag() {
    require_tmux();
    let _turn = LOAD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (sc, a1, a2) = loopback_howto();
    let full = d.join("howto.json");
    write_steps(&full, &sc, &["nvmf_tgt", "bdevperf"]);
    let (tsock, isock) = (d.join("spdk.sock"), d.join("bdevperf.sock"));
    let mut c = serve_cmd(None);
    c.args(["--spdk-strict", "--target-sock"])
        .arg(&tsock)
        .arg("--initiator-sock")
        .arg(&isock)
        .arg("--scenario")
        .arg(&full)
        .args(["--", "-q", "32", "-o", "4096", "-w", "verify", "-t", "600"]);
    let mut serve = Proc::spawn("serve --spdk-strict", c, d.join("serve.log"));
    serve.wait_serving(START);
    // Only SPDK's keys: no per-path counters in bdev_nvme_get_io_paths.
    let paths = rpc(&isock, "bdev_nvme_get_io_paths", json!({"name": "Nvme0n1"}));
    let p0 = &paths["poll_groups"][0]["io_paths"][0];
    assert!(
        p0.get("completed_ios").is_none() && p0.get("local_address").is_none(),
        "--spdk-strict answers with extra keys: {p0}"
    );
    let _load = start_load(&isock);
    // SPDK has no method for its sockets: an agent beside it (the same
    // host for both applications here) reports them.
    let asock = d.join("agent.sock");
    let mut c = std::process::Command::new(bin());
    c.args(["agent", "--rpc-sock"]).arg(&asock);
    let mut agent = Proc::spawn("agent", c, d.join("agent.log"));
    wait_for_or(
        "the agent's socket",
        START,
        || {
            agent.check_alive();
            agent
                .log_text()
                .contains("mpath-console agent:")
                .then_some(())
        },
        String::new,
    );
    let a = asock.to_str().unwrap();

    let t = Tmux::start(
        "strict",
        d,
        &argv(&[
            bin(),
            "attach",
            "--target",
            tsock.to_str().unwrap(),
            "--initiator",
            isock.to_str().unwrap(),
            "--target-agent",
            a,
            "--initiator-agent",
            a,
        ]),
    );
    let (s1, s2) = (a1.to_string(), a2.to_string());
    // The current path carries the load: its rate comes from the kernel's
    // byte counters of its connections; the idle path's is a real ~0.
    let (screen, r1, r2) = t.wait("per-path MiB/s from sock_diag", SCREEN, |s| {
        let (p1, p2) = (path_row(s, &s1)?, path_row(s, &s2)?);
        let (r1, r2) = (number(&p1.mibps)?, number(&p2.mibps)?);
        (p1.current && r1 > 1.0).then(|| (s.to_string(), r1, r2))
    });
    serve.check_alive();
    assert!(r2 < r1 / 10.0, "idle path {r2} MiB/s vs {r1}:\n{screen}");
    // The kernel agrees on the order of magnitude.
    let k = kernel_path_rate(a1, Duration::from_secs(1)) / (1024.0 * 1024.0);
    assert!(
        (r1 / 4.0..=r1 * 4.0).contains(&k),
        "screen {r1:.1} MiB/s on {s1}, kernel {k:.1} MiB/s:\n{screen}"
    );
    // No per-path number SPDK does not give: IOPS and outstanding I/O are
    // n/a, never a made-up 0.
    for a in [&s1, &s2] {
        let p = path_row(&screen, a).unwrap();
        assert_eq!(
            (p.outst.as_str(), p.iops.as_str()),
            ("n/a", "n/a"),
            "{a}: {p:?}\n{screen}"
        );
    }
    t.quit();
}

#[test]
fn bench_connect_drives_an_external_target() {
    let _turn = LOAD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (sc, a1, a2) = loopback_howto();
    let tgt = d.join("target.json");
    write_steps(&tgt, &sc, &["nvmf_tgt"]);
    let tsock = d.join("spdk.sock");
    let mut c = serve_cmd(None);
    c.args(["--role", "target", "--target-sock"])
        .arg(&tsock)
        .arg("--scenario")
        .arg(&tgt);
    let mut target = Proc::spawn("serve --role target", c, d.join("target.log"));
    target.wait_serving(START);

    let json_out = d.join("bench.json");
    let mut bench = std::process::Command::new(bin());
    bench
        .args(["bench", "-q", "32", "-o", "4096", "-w", "verify", "-t", "2"])
        .args(["--connect", &a1.to_string(), "--connect", &a2.to_string()])
        .args(["--subnqn", NQN, "--json"])
        .arg(&json_out)
        .stdin(std::process::Stdio::null());
    let bench_log = d.join("bench.log");
    let mut b = Proc::spawn("bench --connect", bench, bench_log);
    // While it runs, the external target has its host: two controllers,
    // one per listener, with I/O qpairs.
    let ctrlrs = wait_for_or(
        "the bench's controllers on the external target",
        Duration::from_secs(10),
        || {
            let v = try_rpc(&tsock, "nvmf_subsystem_get_qpairs", json!({"nqn": NQN})).ok()?;
            let q = v.as_array()?;
            let io = |a: SocketAddr| {
                q.iter().any(|q| {
                    q["qid"].as_u64().unwrap_or(0) > 0
                        && q["listen_address"]["trsvcid"]
                            .as_str()
                            .and_then(|p| p.parse().ok())
                            == Some(a.port())
                })
            };
            (io(a1) && io(a2)).then(|| v.clone())
        },
        || target.log_text(),
    );
    let log = b.log.clone();
    let status = wait_for_or(
        "bench --connect to finish",
        Duration::from_secs(30),
        || b.try_exit(),
        || std::fs::read_to_string(&log).unwrap_or_default(),
    );
    let out = b.log_text();
    assert!(
        status.success(),
        "bench --connect failed ({status}):\n{out}"
    );
    target.check_alive();
    let v: Value = serde_json::from_slice(&std::fs::read(&json_out).expect("--json file"))
        .expect("--json is JSON");
    let r = &v["results"][0];
    assert_eq!(r["job"], "Nvme0n1", "{v}");
    assert!(r["iops"].as_f64().unwrap_or(0.0) > 100.0, "{v}");
    assert_eq!(r["io_failed"].as_u64(), Some(0), "{v}");
    eprintln!(
        "bench --connect: {:.0} IOPS against the external target; qpairs seen there: {}",
        r["iops"].as_f64().unwrap_or(0.0),
        ctrlrs.as_array().map_or(0, |a| a.len())
    );
}

/// The header's load state: `▶ running`, `‖ paused`, `○ no load`.
fn header_load(screen: &str) -> &'static str {
    let head: String = screen.lines().take(3).collect::<Vec<_>>().join("\n");
    ["▶ running", "‖ paused", "○ no load"]
        .into_iter()
        .find(|s| head.contains(s))
        .unwrap_or("?")
}

/// `attach` to `serve --scenario howto` (bdevperf's side started like
/// `bdevperf -z`, with no workload, depth or size): Space opens the load
/// form, Enter starts a load with every parameter perform_tests needs, the
/// header says running within seconds, and the run outlives the 5 s a
/// remote call may take without a timeout in Events; pausing ends the run
/// and its result is logged.
#[test]
fn attach_space_starts_a_load_on_a_bare_bdevperf() {
    require_tmux();
    let _turn = LOAD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (tsock, isock) = (d.join("spdk.sock"), d.join("bdevperf.sock"));
    let mut c = serve_cmd(None);
    c.args(["--scenario", "howto", "--target-sock"])
        .arg(&tsock)
        .arg("--initiator-sock")
        .arg(&isock);
    let mut serve = Proc::spawn("serve --scenario howto", c, d.join("serve.log"));
    serve.wait_serving(START);
    let st = rpc(&isock, "mpath_perf_status", Value::Null);
    assert_eq!(
        (&st["workload"], &st["queue_depth"], &st["running"]),
        (&Value::Null, &Value::Null, &json!(false)),
        "serve's bdevperf should start without a workload: {st}"
    );

    let t = Tmux::start(
        "drive",
        d,
        &argv(&[
            bin(),
            "attach",
            "--target",
            tsock.to_str().unwrap(),
            "--initiator",
            isock.to_str().unwrap(),
        ]),
    );
    t.wait("both paths and no load", SCREEN, |s| {
        let paths = pane(s, "I/O paths")?;
        (paths.iter().filter(|r| r.contains("Nvme0")).count() == 2 && header_load(s) == "○ no load")
            .then_some(())
    });
    t.keys(&["Space"]);
    let form = t.wait("the load form", SCREEN, |s| {
        (s.contains("Enter starts") && s.contains("-q depth")).then(|| s.to_string())
    });
    assert!(form.contains("◂ verify ▸"), "{form}");
    t.keys(&["Enter"]);
    let t0 = Instant::now();
    let screen = t.wait("▶ running in the header", SCREEN, |s| {
        (header_load(s) == "▶ running").then(|| s.to_string())
    });
    let took = t0.elapsed();
    eprintln!("Enter → ▶ running in {took:?}");
    assert!(
        took < Duration::from_secs(2),
        "running shown after {took:?}:\n{screen}"
    );
    // The initiator runs what the form sent.
    let st = rpc(&isock, "mpath_perf_status", Value::Null);
    assert_eq!(
        (&st["workload"], &st["queue_depth"], &st["io_size"]),
        (&json!("verify"), &json!(128), &json!(4096)),
        "{st}"
    );
    // Past the 5 s a remote call may take: still running, no timeout.
    wait_for_or(
        "the run past 6 s",
        Duration::from_secs(30),
        || {
            let st = rpc(&isock, "mpath_perf_status", Value::Null);
            (st["jobs"][0]["elapsed_us"].as_u64()? > 6_000_000).then_some(())
        },
        || serve.log_text(),
    );
    let screen = t.wait("a fresh screen", SCREEN, |s| Some(s.to_string()));
    let events = pane(&screen, "Events").unwrap_or_default().join("\n");
    assert_eq!(header_load(&screen), "▶ running", "{screen}");
    assert!(
        events.contains("perform_tests -q 128") && !events.contains("✗"),
        "{screen}"
    );
    assert!(!screen.contains("timed out"), "{screen}");
    serve.check_alive();
    // Space pauses: the run ends and perform_tests' result is logged.
    t.keys(&["Space"]);
    let screen = t.wait("the run's result in Events", SCREEN, |s| {
        let ev = pane(s, "Events")?.join("\n");
        ev.contains("run ended after").then(|| s.to_string())
    });
    let events = pane(&screen, "Events").unwrap().join("\n");
    assert!(events.contains("terminated"), "{screen}");
    t.wait("‖ paused", SCREEN, |s| {
        (header_load(s) == "‖ paused").then_some(())
    });
    // A dry run, then another with Esc and `:` arriving together (as a
    // fast typist or tmux sends them): each shows its request.
    for (keys, name) in [(vec![":"], "first"), (vec!["Escape", ":"], "second")] {
        t.keys(&keys);
        t.keys(&[&format!("spdk-rpc --dry-run bdev_get_bdevs -b {name}")]);
        t.keys(&["Enter"]);
        t.wait(&format!("the {name} dry run"), SCREEN, |s| {
            (s.contains("dry run →") && s.contains(&format!("\"name\": \"{name}\""))).then_some(())
        });
    }
    t.keys(&["Escape"]);
    t.wait("the popup closed", SCREEN, |s| {
        (!s.contains("dry run →")).then_some(())
    });
    t.quit();
}

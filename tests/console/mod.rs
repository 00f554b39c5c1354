//! Helpers for the tests that drive the real console binary in tmux
//! (tests/attach.rs, tests/netns.rs):
//!
//! * [`Proc`]: a child process (a `serve`, or `ip netns exec NS serve`)
//!   with its output in a file, killed and reaped when dropped (and killed
//!   by the kernel if the test thread dies first).
//! * [`Tmux`]: a private tmux server (socket `-S` and config in the test's
//!   directory, `escape-time 0`) running one console; keys in, the screen
//!   out as text; the server is killed when dropped.
//! * Screen parsing: [`pane`] cuts one bordered pane out of a capture,
//!   [`path_row`] reads one row of the I/O paths pane.
//! * Scenarios from `tests/fixtures/` with their `@NAME@` placeholders
//!   filled in, and small JSON-RPC helpers over Unix sockets.

#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const NQN: &str = "nqn.2022-02.io.spdk:cnode0";
/// The console's size in every test (wide layout needs ≥ 170; this is the
/// normal layout, which shows every pane).
pub const COLS: u16 = 160;
pub const ROWS: u16 = 48;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mpath-console")
}

// ---- processes ---------------------------------------------------------------

/// A child process, killed (SIGKILL) and reaped on drop.
pub struct Proc {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    /// Spawns `cmd` with stdin closed and stdout and stderr to `log`. The
    /// child gets SIGKILL when the thread that started it ends
    /// (`PR_SET_PDEATHSIG`; it survives the exec of `ip netns exec`, which
    /// keeps the pid), so even a killed test leaves no process behind.
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Proc {
        let f = std::fs::File::create(&log).expect("create log");
        cmd.stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup log"))
            .stderr(f);
        // SAFETY: prctl is async-signal-safe; nothing is allocated here.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Proc {
            name: name.to_string(),
            child,
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics (with the log) if the process has exited.
    pub fn check_alive(&mut self) {
        if let Ok(Some(st)) = self.child.try_wait() {
            panic!("{} exited ({st}); its log:\n{}", self.name, self.log_text());
        }
    }

    /// Waits until `serve` has run its scenario and says where its RPC is
    /// (the line it prints last at start-up).
    pub fn wait_serving(&mut self, limit: Duration) {
        let t0 = Instant::now();
        while !self.log_text().contains("mpath-console serve:") {
            self.check_alive();
            assert!(
                t0.elapsed() < limit,
                "{} not serving within {limit:?}; log:\n{}",
                self.name,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The exit status, once the process has exited.
    pub fn try_exit(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mpath-console serve`, run inside the network namespace `netns` (by
/// `ip netns exec`, which keeps the pid) when given.
pub fn serve_cmd(netns: Option<&str>) -> Command {
    let mut c = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, bin()]);
            c
        }
        None => Command::new(bin()),
    };
    c.arg("serve");
    c
}

// ---- scenarios ---------------------------------------------------------------

/// `tests/fixtures/<name>` with every `@KEY@` replaced; panics if a
/// placeholder is left.
pub fn fixture(name: &str, subs: &[(&str, String)]) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let mut t = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    for (k, v) in subs {
        t = t.replace(&format!("@{k}@"), v);
    }
    assert!(!t.contains('@'), "{name}: placeholder left after {subs:?}");
    t
}

/// Writes the steps of `scenario` (a JSON list) whose `app` is in `apps`
/// to `path`, checked by the product's own scenario parser.
pub fn write_steps(path: &Path, scenario: &str, apps: &[&str]) {
    let v: Value = serde_json::from_str(scenario).expect("scenario JSON");
    let steps: Vec<Value> = v
        .as_array()
        .expect("a list of steps")
        .iter()
        .filter(|s| apps.contains(&s["app"].as_str().unwrap_or("")))
        .cloned()
        .collect();
    let text = serde_json::to_string_pretty(&steps).unwrap();
    mpath_console::scenario::parse(&path.display().to_string(), &text).expect("valid scenario");
    std::fs::write(path, text).expect("write scenario");
}

// ---- JSON-RPC ----------------------------------------------------------------

/// One JSON-RPC call on a Unix socket; the `result`, or panics with the
/// error.
pub fn rpc(sock: &Path, method: &str, params: Value) -> Value {
    try_rpc(sock, method, params).unwrap_or_else(|e| panic!("{method}: {e}"))
}

pub fn try_rpc(sock: &Path, method: &str, params: Value) -> Result<Value, String> {
    let mut s = UnixStream::connect(sock).map_err(|e| format!("{}: {e}", sock.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut req = json!({"jsonrpc": "2.0", "method": method, "id": 1});
    if !params.is_null() {
        req["params"] = params;
    }
    s.write_all(req.to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(&s)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&line).map_err(|e| format!("{e}: {line:?}"))?;
    match v.get("error") {
        Some(e) => Err(e.to_string()),
        None => Ok(v["result"].clone()),
    }
}

/// Starts bdevperf's run (`perform_tests`, as bdevperf.py does) and
/// returns the connection it answers on at the end of the run: keep it
/// open while the load should run.
pub fn start_load(isock: &Path) -> UnixStream {
    let mut c = UnixStream::connect(isock).expect("initiator socket");
    c.write_all(br#"{"jsonrpc":"2.0","method":"perform_tests","id":1}"#)
        .expect("send perform_tests");
    c
}

/// Per path of `Nvme0n1`, by trsvcid: (current, completed_ios).
pub fn io_paths(isock: &Path) -> Vec<(String, bool, u64)> {
    let v = rpc(isock, "bdev_nvme_get_io_paths", json!({"name": "Nvme0n1"}));
    let mut out: Vec<(String, bool, u64)> = Vec::new();
    for g in v["poll_groups"].as_array().into_iter().flatten() {
        for p in g["io_paths"].as_array().into_iter().flatten() {
            out.push((
                p["transport"]["trsvcid"].as_str().unwrap_or("").to_string(),
                p["current"].as_bool().unwrap_or(false),
                p["completed_ios"].as_u64().unwrap_or(0),
            ));
        }
    }
    out
}

// ---- tmux --------------------------------------------------------------------

/// A private tmux server with one session running one command. Its socket
/// (`-S`) and config live in the test's directory, so nothing is left in
/// tmux's shared socket directory.
pub struct Tmux {
    sock: PathBuf,
}

impl Tmux {
    /// Starts `argv` in a `COLS`×`ROWS` session on a private server named
    /// `name` (socket and config in `dir`: no escape delay, the pane kept
    /// when the program exits so its last screen can be read).
    pub fn start(name: &str, dir: &Path, argv: &[String]) -> Tmux {
        let conf = dir.join(format!("{name}.conf"));
        std::fs::write(
            &conf,
            "set -g escape-time 0\nset -g remain-on-exit on\nset -g status off\nset -g history-limit 0\n",
        )
        .unwrap();
        let t = Tmux {
            sock: dir.join(format!("{name}.tmux")),
        };
        let cmdline = argv
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ");
        let out = t
            .cmd()
            .arg("-f")
            .arg(&conf)
            .args(["new-session", "-d", "-s", "main", "-x"])
            .arg(COLS.to_string())
            .arg("-y")
            .arg(ROWS.to_string())
            .arg(cmdline)
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S")
            .arg(&self.sock)
            .env_remove("TMUX")
            .env("TERM", "xterm-256color")
            .stdin(Stdio::null());
        c
    }

    /// The screen as text, one line per row.
    pub fn capture(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "main"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends keys (tmux key names: `n`, `Tab`, `Escape`).
    pub fn keys(&self, keys: &[&str]) {
        let st = self
            .cmd()
            .args(["send-keys", "-t", "main"])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(st.success(), "tmux send-keys {keys:?}");
    }

    /// Whether the program in the pane has exited.
    pub fn dead(&self) -> bool {
        let out = self
            .cmd()
            .args(["display-message", "-p", "-t", "main", "#{pane_dead}"])
            .output();
        match out {
            Ok(o) => String::from_utf8_lossy(&o.stdout).trim() == "1" || !o.status.success(),
            Err(_) => true,
        }
    }

    /// Polls the screen until `f` accepts it; panics with the last screen.
    pub fn wait<T>(&self, what: &str, limit: Duration, mut f: impl FnMut(&str) -> Option<T>) -> T {
        let t0 = Instant::now();
        loop {
            let last = self.capture();
            if let Some(v) = f(&last) {
                return v;
            }
            if self.dead() {
                panic!("{what}: the console exited; its last screen:\n{last}");
            }
            if t0.elapsed() > limit {
                panic!("{what}: not on screen within {limit:?}; the screen:\n{last}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until three captures in a row, 300 ms apart, are equal after
    /// `norm`: the screen has settled. Returns the last capture.
    pub fn settled(&self, what: &str, limit: Duration, norm: impl Fn(&str) -> String) -> String {
        let mut prev = norm(&self.capture());
        let mut same = 0;
        self.wait(what, limit, |s| {
            std::thread::sleep(Duration::from_millis(300));
            let n = norm(s);
            same = if n == prev { same + 1 } else { 0 };
            prev = n;
            (same >= 2).then(|| s.to_string())
        })
    }

    /// Quits the console with `q` and waits for it to exit.
    pub fn quit(&self) {
        self.keys(&["q"]);
        let t0 = Instant::now();
        while !self.dead() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "console did not quit on q; screen:\n{}",
                self.capture()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
        let _ = std::fs::remove_file(&self.sock);
    }
}

// ---- screen parsing ----------------------------------------------------------

/// The inside of the bordered pane titled `title` (`╭ Title ─…╮` …
/// `╰─…╯`), one string per row, borders cut off.
pub fn pane(screen: &str, title: &str) -> Option<Vec<String>> {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let head: Vec<char> = format!("╭ {title} ").chars().collect();
    let (top, left) = lines.iter().enumerate().find_map(|(i, l)| {
        l.windows(head.len())
            .position(|w| w == head.as_slice())
            .map(|c| (i, c))
    })?;
    let right = (left + 1..lines[top].len()).find(|&c| lines[top][c] == '╮')?;
    let mut out = Vec::new();
    for l in &lines[top + 1..] {
        if l.get(left) == Some(&'╰') {
            return Some(out);
        }
        let row: String = l.get(left + 1..right.min(l.len()))?.iter().collect();
        out.push(row);
    }
    None
}

/// One row of the I/O paths pane, split into its cells.
#[derive(Debug, Clone, PartialEq)]
pub struct PathCells {
    pub current: bool,
    pub ctrlr: String,
    pub cntlid: String,
    pub trid: String,
    pub conn: String,
    pub acc: String,
    pub ana: String,
    pub outst: String,
    pub iops: String,
    pub mibps: String,
}

/// The I/O paths pane's row for the transport ID `trid` (`addr:port`).
pub fn path_row(screen: &str, trid: &str) -> Option<PathCells> {
    let rows = pane(screen, "I/O paths")?;
    let row = rows
        .iter()
        .find(|r| r.split_whitespace().any(|t| t == trid))?;
    let current = row.trim_start().starts_with('★');
    let t: Vec<&str> = row
        .trim_start_matches([' ', '★'])
        .split_whitespace()
        .collect();
    let i = t.iter().position(|x| *x == trid)?;
    let cell = |k: usize| t.get(k).map(|s| s.to_string()).unwrap_or_default();
    // The numbers are right-aligned under their headings; the health cell
    // before them has several words, so they are found by the heading's
    // end, not by counting words.
    let header: Vec<char> = rows
        .iter()
        .find(|r| r.contains("ANA") && r.contains("outst"))
        .map(|h| h.chars().collect())
        .unwrap_or_default();
    let rc: Vec<char> = row.chars().collect();
    let under = |names: &[&str], fallback: usize| -> String {
        let end = names.iter().find_map(|n| {
            let n: Vec<char> = n.chars().collect();
            header
                .windows(n.len())
                .position(|w| w == n.as_slice())
                .map(|x| x + n.len())
        });
        match end {
            Some(e) => rc[..e.min(rc.len())]
                .iter()
                .collect::<String>()
                .split_whitespace()
                .last()
                .unwrap_or_default()
                .to_string(),
            None => cell(fallback),
        }
    };
    Some(PathCells {
        current,
        ctrlr: cell(0),
        cntlid: cell(i - 1),
        trid: cell(i),
        conn: cell(i + 1),
        acc: cell(i + 2),
        ana: cell(i + 3),
        outst: under(&["outst"], i + 4),
        iops: under(&["IOPS", "cmd/s"], i + 5),
        mibps: under(&["MiB/s"], i + 6),
    })
}

/// The Listeners pane's row for `trid`, and whether it is marked ★.
pub fn listener_row(screen: &str, trid: &str) -> Option<(bool, String)> {
    let rows = pane(screen, "Listeners")?;
    let row = rows
        .iter()
        .find(|r| r.split_whitespace().any(|t| t == trid))?;
    Some((row.trim_start().starts_with('★'), row.clone()))
}

/// Whether the Listeners pane has the keyboard: it shows its ANA keys in
/// its title only then.
pub fn listeners_focused(screen: &str) -> bool {
    screen
        .lines()
        .any(|l| l.contains("╭ Listeners ") && l.contains("non-opt"))
}

/// A number as the console prints it (`83.52K`, `326.3`, `0`), if it is
/// one.
pub fn number(cell: &str) -> Option<f64> {
    let (n, mult) = match cell.strip_suffix(['K', 'k']) {
        Some(n) => (n, 1e3),
        None => match cell.strip_suffix('M') {
            Some(n) => (n, 1e6),
            None => (cell, 1.0),
        },
    };
    n.parse::<f64>().ok().map(|v| v * mult)
}

/// One row of the Connections pane: the role cell (`★tgt 4420 c1 q1`)
/// split up, and the addresses on the row.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnCells {
    /// The bdev's current path (★).
    pub current: bool,
    /// `tgt`, `host` or `remote`.
    pub side: String,
    pub port: String,
    /// `c1`, or `c?` when unknown.
    pub ctrl: String,
    /// `admin`, `q1`, or `?`.
    pub queue: String,
    /// The `ip:port` cells of the row: local, then peer.
    pub addrs: Vec<String>,
    pub row: String,
}

/// Every socket row of the Connections pane.
pub fn conn_rows(screen: &str) -> Vec<ConnCells> {
    let Some(rows) = pane(screen, "Connections") else {
        return vec![];
    };
    rows.iter()
        .filter_map(|r| {
            let t = r.trim_start();
            let current = t.starts_with('★');
            let t: Vec<&str> = t.trim_start_matches('★').split_whitespace().collect();
            let side = *t.first()?;
            if !matches!(side, "tgt" | "host" | "remote") {
                return None;
            }
            Some(ConnCells {
                current,
                side: side.to_string(),
                port: t.get(1)?.to_string(),
                ctrl: t.get(2)?.to_string(),
                queue: t.get(3)?.to_string(),
                addrs: t
                    .iter()
                    .filter(|x| x.parse::<std::net::SocketAddr>().is_ok())
                    .map(|x| x.to_string())
                    .collect(),
                row: r.clone(),
            })
        })
        .collect()
}

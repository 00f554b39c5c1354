//! Helpers shared by the integration tests (`mod common;` in each test file).
//!
//! * [`Serve`]: one `mpath-console serve` process on private Unix sockets
//!   (target and initiator), killed when dropped.
//! * [`rpc_cli`]: SPDK's real client (`spdk-rpc`, PyPI `spdk==26.5`) against
//!   that socket. `bash scripts/test.sh` installs it and exports `SPDK_RPC`.
//! * [`rpc_raw`] / [`RawConn`]: exact bytes on the socket, for comparisons
//!   with the golden exchanges recorded from SPDK v24.09 ([`golden_rpc`]).
//! * [`golden_dir`]: that recorded data, in `tests/golden/spdk-v24.09/`.
//! * [`free_port`], [`wait_for`] (and [`wait_for_or`], [`wait_for_async`]),
//!   [`require_tool`]: the one copy every test binary uses.
//!
//! Everything stays on 127.0.0.0/8 and in a temporary directory.

#![allow(dead_code)] // each test binary uses its own subset

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a `serve` process gets to open its sockets.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long [`rpc_raw`] waits for a response line.
pub const RAW_TIMEOUT: Duration = Duration::from_secs(5);

/// The golden data recorded from SPDK v24.09, kept in the repository:
/// `tests/golden/spdk-v24.09/` (what each file is: its README.md).
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/spdk-v24.09")
}

/// The golden exchange `NN-*.json` of `rpc/` in [`golden_dir`], parsed.
pub fn golden_rpc(nn: u32) -> Value {
    let dir = golden_dir().join("rpc");
    let prefix = format!("{nn:02}-");
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("golden dir {}: {e}", dir.display()));
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let text = std::fs::read_to_string(e.path()).expect("read golden file");
            return serde_json::from_str(&text).expect("golden file is JSON");
        }
    }
    panic!("no golden file {prefix}*.json in {}", dir.display());
}

/// A TCP port that was free on `ip` (a loopback address) a moment ago, for
/// a listener the code under test opens itself (its APIs take an address,
/// not a bound socket).
///
/// The port is picked below the kernel's ephemeral range, so no outgoing
/// connection of this or another process takes it between this check and
/// the test's bind (a port from `bind(0)` could be handed out again as a
/// connection's source port), and never twice in one test binary.
pub fn free_port(ip: &str) -> u16 {
    use std::collections::hash_map::RandomState;
    use std::collections::HashSet;
    use std::hash::BuildHasher;
    use std::sync::Mutex;

    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, ephemeral_low.max(10_001));
    let seed = RandomState::new();
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    for i in 0u64..10_000 {
        let port = low + (seed.hash_one((std::process::id(), i)) % u64::from(high - low)) as u16;
        if !given.contains(&port) && TcpListener::bind((ip, port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    panic!("no free TCP port on {ip} in {low}..{high}");
}

/// Fails the test unless `prog arg` (a version flag) runs and succeeds: a
/// test whose tool is missing says what to install instead of skipping.
pub fn require_tool(prog: &str, arg: &str, package: &str) {
    let r = Command::new(prog)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !r.as_ref().is_ok_and(|s| s.success()) {
        panic!(
            "`{prog} {arg}` does not run here ({r:?}): this test needs it; install the Debian \
             package {package} (apt-get install {package}; bash scripts/test.sh installs it)"
        );
    }
}

// ---- waiting -----------------------------------------------------------------------

/// What a polled condition returns: `bool` (done or not; [`wait_for`] then
/// returns how long it took) or `Option<T>` (`Some` is the value).
pub trait Ready {
    type Out;
    fn ready(self, waited: Duration) -> Option<Self::Out>;
}

impl Ready for bool {
    type Out = Duration;
    fn ready(self, waited: Duration) -> Option<Duration> {
        self.then_some(waited)
    }
}

impl<T> Ready for Option<T> {
    type Out = T;
    fn ready(self, _: Duration) -> Option<T> {
        self
    }
}

/// The first pause between two polls; it doubles up to [`POLL_MAX`], so a
/// condition that holds soon is seen at once and a long wait costs little.
const POLL_MIN: Duration = Duration::from_millis(1);
const POLL_MAX: Duration = Duration::from_millis(50);

/// Polls `f` until it is ready and returns at once; panics naming `what`
/// once `limit` has passed. `limit` is a ceiling (set it generously), not a
/// pause: nothing waits longer than the condition takes.
pub fn wait_for<R: Ready>(what: &str, limit: Duration, f: impl FnMut() -> R) -> R::Out {
    wait_for_or(what, limit, f, String::new)
}

/// [`wait_for`], adding what `explain` says then (a screen, counters) to
/// the panic.
pub fn wait_for_or<R: Ready>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> R,
    explain: impl FnOnce() -> String,
) -> R::Out {
    let t0 = Instant::now();
    let mut pause = POLL_MIN;
    loop {
        if let Some(v) = f().ready(t0.elapsed()) {
            return v;
        }
        let waited = t0.elapsed();
        if waited >= limit {
            panic!("{what}: not within {limit:?}\n{}", explain());
        }
        std::thread::sleep(pause.min(limit - waited));
        pause = (pause * 2).min(POLL_MAX);
    }
}

/// [`wait_for`] for conditions that are futures, on the test's runtime.
pub async fn wait_for_async<R: Ready>(
    what: &str,
    limit: Duration,
    mut f: impl AsyncFnMut() -> R,
) -> R::Out {
    let t0 = Instant::now();
    let mut pause = POLL_MIN;
    loop {
        if let Some(v) = f().await.ready(t0.elapsed()) {
            return v;
        }
        let waited = t0.elapsed();
        if waited >= limit {
            panic!("{what}: not within {limit:?}");
        }
        tokio::time::sleep(pause.min(limit - waited)).await;
        pause = (pause * 2).min(POLL_MAX);
    }
}

/// A running `mpath-console serve --target-sock <tempdir>/spdk.sock
/// --initiator-sock <tempdir>/bdevperf.sock` (private paths, so that several
/// can run at once).
pub struct Serve {
    child: Child,
    /// The target's (nvmf_tgt's) RPC socket.
    pub sock: PathBuf,
    /// The initiator's (bdevperf's) RPC socket.
    pub isock: PathBuf,
    /// The process's stderr.
    pub log: PathBuf,
    /// Holds the sockets and the log; removed on drop.
    pub dir: tempfile::TempDir,
}

impl Serve {
    /// Starts the process and waits until both sockets accept connections.
    ///
    /// The child gets SIGKILL when the *thread* that started it ends
    /// (`PR_SET_PDEATHSIG`), so a test binary never leaves one behind. For a
    /// `Serve` kept in a `static` (never dropped), use [`Serve::start_shared`].
    pub fn start() -> Serve {
        Serve::start_with(&[])
    }

    /// [`Serve::start`] with more `serve` arguments (e.g.
    /// `--engine-threads`).
    pub fn start_with(extra: &[&str]) -> Serve {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("spdk.sock");
        let isock = dir.path().join("bdevperf.sock");
        let log = dir.path().join("serve.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mpath-console"));
        cmd.arg("serve")
            .arg("--target-sock")
            .arg(&sock)
            .arg("--initiator-sock")
            .arg(&isock)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create log"));
        // SAFETY: prctl is async-signal-safe; nothing is allocated here.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn mpath-console serve");
        let mut s = Serve {
            child,
            sock,
            isock,
            log,
            dir,
        };
        let t0 = Instant::now();
        loop {
            if UnixStream::connect(&s.sock).is_ok() && UnixStream::connect(&s.isock).is_ok() {
                return s;
            }
            if let Ok(Some(st)) = s.child.try_wait() {
                panic!(
                    "mpath-console serve exited ({st}) before its socket accepted:\n{}",
                    s.log_text()
                );
            }
            if t0.elapsed() > START_TIMEOUT {
                panic!(
                    "mpath-console serve: {} / {} did not accept within {START_TIMEOUT:?}; log:\n{}",
                    s.sock.display(),
                    s.isock.display(),
                    s.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The names of the process's threads (`/proc/<pid>/task/*/comm`).
    pub fn thread_names(&self) -> Vec<String> {
        let dir = format!("/proc/{}/task", self.child.id());
        std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .map(|n| n.trim().to_string())
            .collect()
    }

    /// Like [`Serve::start`], but started from a thread that lives as long as
    /// the test binary, so the process outlives the calling test: for one
    /// `serve` shared by several tests through a `OnceLock`.
    pub fn start_shared() -> Serve {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(std::panic::catch_unwind(Serve::start));
            loop {
                std::thread::park();
            }
        });
        match rx.recv().expect("serve starter thread") {
            Ok(s) => s,
            Err(p) => std::panic::resume_unwind(p),
        }
    }

    /// What the process has written to stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SPDK's client: `$SPDK_RPC`, else `spdk-rpc` on `PATH`.
pub fn spdk_rpc() -> PathBuf {
    if let Some(p) = std::env::var_os("SPDK_RPC").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "SPDK_RPC={} does not exist; run `bash scripts/test.sh`, it installs spdk-rpc",
            p.display()
        );
        return p;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("spdk-rpc"))
        .find(|p| p.is_file())
        .expect("spdk-rpc not found (SPDK_RPC unset, not on PATH): run `bash scripts/test.sh`, it installs spdk-rpc")
}

/// What one `spdk-rpc` run did.
#[derive(Debug)]
pub struct CliOut {
    /// Exit code (-1 if killed by a signal).
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliOut {
    /// The JSON the client printed (results are printed with indent=2).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("spdk-rpc stdout is not JSON ({e}): {self:?}"))
    }

    /// The JSON-RPC error object the client printed after `response:` when
    /// the server answered with an error (it exits 1 then).
    pub fn error_object(&self) -> Option<Value> {
        let all = format!("{}\n{}", self.stdout, self.stderr);
        let at = all.rfind("response:\n")? + "response:\n".len();
        let mut it = serde_json::Deserializer::from_str(&all[at..]).into_iter::<Value>();
        it.next()?.ok()
    }
}

/// Runs `spdk-rpc -s <sock> -t 10 <args...>` (10 s client timeout).
pub fn rpc_cli(sock: &Path, args: &[&str]) -> CliOut {
    let out = Command::new(spdk_rpc())
        .arg("-s")
        .arg(sock)
        .args(["-t", "10"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run spdk-rpc");
    CliOut {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// What [`RawConn::read_line`] saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Read1 {
    /// One line, with its `\n`.
    Line(String),
    /// The server closed the connection; the bytes seen before (no `\n`).
    Closed(String),
    /// Nothing more within the timeout; the bytes seen so far (no `\n`).
    Timeout(String),
}

/// A raw connection to an RPC Unix socket.
pub struct RawConn {
    s: UnixStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub fn connect(sock: &Path) -> RawConn {
        let s =
            UnixStream::connect(sock).unwrap_or_else(|e| panic!("connect {}: {e}", sock.display()));
        RawConn { s, buf: Vec::new() }
    }

    /// Writes `bytes` in one write.
    pub fn send(&mut self, bytes: &str) {
        self.s
            .write_all(bytes.as_bytes())
            .expect("write to RPC socket");
    }

    /// Reads up to and including the next `\n`, waiting at most `timeout`.
    pub fn read_line(&mut self, timeout: Duration) -> Read1 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Read1::Line(String::from_utf8_lossy(&line).into_owned());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Read1::Timeout(String::from_utf8_lossy(&self.buf).into_owned());
            }
            self.s.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 65536];
            match self.s.read(&mut chunk) {
                Ok(0) => return Read1::Closed(String::from_utf8_lossy(&self.buf).into_owned()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    return Read1::Closed(String::from_utf8_lossy(&self.buf).into_owned())
                }
                Err(e) => panic!("read from RPC socket: {e}"),
            }
        }
    }
}

/// Writes `request` (exact bytes) on a new connection and returns the first
/// newline-terminated response, or `None` if none came within [`RAW_TIMEOUT`].
pub fn rpc_raw(sock: &Path, request: &str) -> Option<String> {
    let mut c = RawConn::connect(sock);
    c.send(request);
    match c.read_line(RAW_TIMEOUT) {
        Read1::Line(l) => Some(l),
        _ => None,
    }
}

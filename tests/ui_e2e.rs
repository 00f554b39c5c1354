//! The real binary, end to end, in tmux: `mpath-console run` on the
//! embedded HOWTO, driven by keystrokes and read back from the screen.
//!
//! A private tmux server (`-L`, `-f /dev/null`, `escape-time 0`,
//! `remain-on-exit`), a 160×48 window. `run` gets its RPC sockets in the
//! test's directory (`--target-sock`, `--initiator-sock`) and takes the
//! HOWTO's ports only when they are free, so it does not collide with
//! other tests or a running console.
//!
//! Needs tmux: without it the test fails saying what to install.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mpath-console");
const W: u16 = 160;
const H: u16 = 48;

/// A private tmux server with one session; killed on drop.
struct Tmux {
    sock: String,
}

impl Tmux {
    fn start(cmd: &[&str]) -> Tmux {
        let sock = format!(
            "mpath-e2e-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos() ^ rand_ish()
        );
        let t = Tmux { sock };
        let w = W.to_string();
        let h = H.to_string();
        let mut args = vec![
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            &w,
            "-y",
            &h,
        ];
        args.push("--");
        args.extend_from_slice(cmd);
        // Options in the same client command, before the program can exit.
        args.extend_from_slice(&[
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "set-option",
            "-s",
            "escape-time",
            "0",
        ]);
        let o = t.tmux(&args);
        assert!(o.status.success(), "tmux new-session: {o:?}");
        t
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.sock)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("running tmux")
    }

    fn keys(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", "e2e"];
        a.extend_from_slice(keys);
        let o = self.tmux(&a);
        assert!(o.status.success(), "send-keys {keys:?}: {o:?}");
    }

    fn literal(&self, text: &str) {
        let o = self.tmux(&["send-keys", "-t", "e2e", "-l", text]);
        assert!(o.status.success(), "send-keys -l {text:?}: {o:?}");
    }

    /// The screen as text.
    fn text(&self) -> String {
        let o = self.tmux(&["capture-pane", "-p", "-t", "e2e"]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The screen with its SGR attributes.
    fn styled(&self) -> Vec<Vec<(char, Sgr)>> {
        let o = self.tmux(&["capture-pane", "-p", "-e", "-t", "e2e"]);
        parse_sgr(&String::from_utf8_lossy(&o.stdout))
    }

    fn format(&self, f: &str) -> String {
        let o = self.tmux(&["display-message", "-p", "-t", "e2e", f]);
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    fn resize(&self, w: u16, h: u16) {
        let o = self.tmux(&[
            "resize-window",
            "-t",
            "e2e",
            "-x",
            &w.to_string(),
            "-y",
            &h.to_string(),
        ]);
        assert!(o.status.success(), "resize-window: {o:?}");
    }

    /// Polls the screen until `f` returns `Some`, failing with the last
    /// screen after `secs`.
    fn wait<T>(&self, what: &str, secs: f64, mut f: impl FnMut(&str) -> Option<T>) -> T {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        loop {
            let s = self.text();
            if let Some(v) = f(&s) {
                return v;
            }
            if Instant::now() > end {
                panic!("{what}: not within {secs} s; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

fn rand_ish() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    u128::from(h.finish())
}

// ---- screen parsing -----------------------------------------------------------

/// The attributes `capture-pane -e` gives a cell (only those we look at).
#[derive(Clone, Debug, Default, PartialEq)]
struct Sgr {
    fg: String,
    bg: String,
    bold: bool,
    reverse: bool,
    underline: bool,
}

fn parse_sgr(s: &str) -> Vec<Vec<(char, Sgr)>> {
    let mut rows = Vec::new();
    let mut cur = Sgr::default();
    for line in s.lines() {
        let mut row = Vec::new();
        let mut it = line.chars().peekable();
        while let Some(c) = it.next() {
            if c != '\x1b' {
                row.push((c, cur.clone()));
                continue;
            }
            if it.peek() != Some(&'[') {
                continue;
            }
            it.next();
            let mut params = String::new();
            let mut fin = ' ';
            for d in it.by_ref() {
                if d.is_ascii_digit() || d == ';' || d == ':' {
                    params.push(d);
                } else {
                    fin = d;
                    break;
                }
            }
            if fin != 'm' {
                continue;
            }
            let p: Vec<&str> = if params.is_empty() {
                vec!["0"]
            } else {
                params.split(';').collect()
            };
            let mut i = 0;
            while i < p.len() {
                match p[i] {
                    "0" | "" => cur = Sgr::default(),
                    "1" => cur.bold = true,
                    "22" => cur.bold = false,
                    "4" => cur.underline = true,
                    "24" => cur.underline = false,
                    "7" => cur.reverse = true,
                    "27" => cur.reverse = false,
                    "39" => cur.fg.clear(),
                    "49" => cur.bg.clear(),
                    "38" | "48" => {
                        let n = if p.get(i + 1) == Some(&"5") { 2 } else { 4 };
                        let v = p[i + 1..(i + 1 + n).min(p.len())].join(";");
                        if p[i] == "38" {
                            cur.fg = v;
                        } else {
                            cur.bg = v;
                        }
                        i += n;
                    }
                    x if x.len() == 2 && (x.starts_with('3') || x.starts_with('9')) => {
                        cur.fg = x.to_string()
                    }
                    x if (x.len() == 2 && x.starts_with('4')) || x.starts_with("10") => {
                        cur.bg = x.to_string()
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        rows.push(row);
    }
    rows
}

/// A pane's box on the screen: the rows between its top and bottom
/// borders, and its columns.
#[derive(Debug, Clone, Copy)]
struct PaneBox {
    top: usize,
    bottom: usize,
    left: usize,
    right: usize,
}

fn chars(line: &str) -> Vec<char> {
    line.chars().collect()
}

/// Finds the pane titled `title` (`╭ Title ─…╮`).
fn pane(screen: &str, title: &str) -> Option<PaneBox> {
    let lines: Vec<Vec<char>> = screen.lines().map(chars).collect();
    let needle: Vec<char> = format!("╭ {title} ").chars().collect();
    for (y, l) in lines.iter().enumerate() {
        let Some(left) = l.windows(needle.len()).position(|w| w == needle.as_slice()) else {
            continue;
        };
        let right = (left + 1..l.len()).find(|&x| l[x] == '╮')?;
        let bottom = (y + 1..lines.len()).find(|&yy| lines[yy].get(left) == Some(&'╰'))?;
        return Some(PaneBox {
            top: y,
            bottom,
            left,
            right,
        });
    }
    None
}

/// The inside rows of a pane, as text.
fn pane_rows(screen: &str, b: PaneBox) -> Vec<String> {
    screen
        .lines()
        .skip(b.top + 1)
        .take(b.bottom - b.top - 1)
        .map(|l| {
            let c = chars(l);
            c[(b.left + 1).min(c.len())..b.right.min(c.len())]
                .iter()
                .collect()
        })
        .collect()
}

/// `147.6k`, `1.2M`, `950`, `295.2K` → the number.
fn parse_count(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1e3),
        'M' => (&s[..s.len() - 1], 1e6),
        'G' => (&s[..s.len() - 1], 1e9),
        _ => (s, 1.0),
    };
    num.replace(',', "").parse::<f64>().ok().map(|v| v * mult)
}

/// The IOPS in the header (the first lines, before the panes).
fn header_iops(screen: &str) -> Option<f64> {
    for line in screen.lines().take(3) {
        if let Some(i) = line.find(" IOPS") {
            let tok = line[..i].split_whitespace().last()?;
            return parse_count(tok);
        }
    }
    None
}

/// Byte rates in a row (`718 MiB/s`, `0 B/s`, `12.5 KiB/s`), in bytes/s.
fn rates(row: &str) -> Vec<f64> {
    let toks: Vec<&str> = row.split_whitespace().collect();
    let mut v = Vec::new();
    for w in toks.windows(2) {
        let mult = match w[1] {
            "B/s" => 1.0,
            "KiB/s" | "kB/s" | "KB/s" => 1024.0,
            "MiB/s" | "MB/s" => 1024.0 * 1024.0,
            "GiB/s" | "GB/s" => 1024.0 * 1024.0 * 1024.0,
            _ => continue,
        };
        if let Ok(n) = w[0].parse::<f64>() {
            v.push(n * mult);
        }
    }
    v
}

/// The Listeners pane's data rows holding `127.0.0.x:PORT`, in screen
/// order: (row index among the pane's rows, ip, port).
fn listener_rows(screen: &str) -> Vec<(usize, String, String)> {
    let Some(b) = pane(screen, "Listeners") else {
        return vec![];
    };
    let mut v = Vec::new();
    for (i, r) in pane_rows(screen, b).iter().enumerate() {
        for tok in r.split_whitespace() {
            if let Some((ip, port)) = tok.rsplit_once(':') {
                if ip.starts_with("127.0.0.") && port.chars().all(|c| c.is_ascii_digit()) {
                    v.push((i, ip.to_string(), port.to_string()));
                    break;
                }
            }
        }
    }
    v
}

/// The I/O paths pane's row for `addr`, if shown.
fn path_row(screen: &str, addr: &str) -> Option<String> {
    let b = pane(screen, "I/O paths")?;
    pane_rows(screen, b).into_iter().find(|r| r.contains(addr))
}

/// Largest byte rate among the Connections rows of a listener `addr`
/// (as local address on the target's side, peer on the host's).
fn conn_rate(screen: &str, addr: &str) -> Option<f64> {
    let b = pane(screen, "Connections").or_else(|| {
        // The title may carry a suffix (`Connections (ss -tni)`).
        let lines: Vec<Vec<char>> = screen.lines().map(chars).collect();
        let y = lines
            .iter()
            .position(|l| l.iter().collect::<String>().contains("╭ Connections"))?;
        let s: String = lines[y].iter().collect();
        let title = s.split("╭ ").nth(1)?.split(" ─").next()?.to_string();
        pane(screen, &title)
    })?;
    let rows: Vec<String> = pane_rows(screen, b)
        .into_iter()
        .filter(|r| r.contains(addr))
        .collect();
    if rows.is_empty() {
        return None;
    }
    Some(rows.iter().flat_map(|r| rates(r)).fold(0.0, f64::max))
}

/// The focused pane: the title whose style differs from the others'.
fn focused_pane(t: &Tmux) -> Option<String> {
    let grid = t.styled();
    let titles = [
        "Subsystems",
        "Listeners",
        "I/O paths",
        "Connections",
        "Load",
        "Events",
    ];
    let mut found: Vec<(&str, Sgr)> = Vec::new();
    for title in titles {
        let needle: Vec<char> = format!("╭ {title}").chars().collect();
        'rows: for row in &grid {
            let cs: Vec<char> = row.iter().map(|(c, _)| *c).collect();
            if let Some(x) = cs
                .windows(needle.len())
                .position(|w| w == needle.as_slice())
            {
                found.push((title, row[x + 2].1.clone()));
                break 'rows;
            }
        }
    }
    let odd: Vec<&(&str, Sgr)> = found
        .iter()
        .filter(|(_, s)| found.iter().filter(|(_, o)| o == s).count() == 1)
        .collect();
    (found.len() >= 3 && odd.len() == 1).then(|| odd[0].0.to_string())
}

/// The Listeners pane's row (index among its rows) drawn as selected:
/// reversed, as the default dark theme draws the focused selection.
fn selected_listener_row(t: &Tmux) -> Option<usize> {
    let text = t.text();
    let b = pane(&text, "Listeners")?;
    let grid = t.styled();
    let mut sel = None;
    for (i, y) in (b.top + 1..b.bottom).enumerate() {
        let row = grid.get(y)?;
        let inner = &row[(b.left + 1).min(row.len())..b.right.min(row.len())];
        let s: String = inner.iter().map(|(c, _)| *c).collect();
        if !s.contains("127.0.0.") {
            continue;
        }
        let rev = inner
            .iter()
            .filter(|(c, _)| c.is_ascii_digit())
            .all(|(_, a)| a.reverse);
        if rev {
            sel = Some(i);
        }
    }
    sel
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// One JSON-RPC call over a Unix socket; the whole reply.
fn rpc_unix(sock: &Path, method: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut c = std::os::unix::net::UnixStream::connect(sock)
        .unwrap_or_else(|e| panic!("connect {}: {e}", sock.display()));
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let req = serde_json::json!({"jsonrpc": "2.0", "method": method, "id": 1});
    c.write_all(req.to_string().as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = c.read(&mut chunk).expect("reading the reply");
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&buf) {
            return v;
        }
    }
    panic!("no reply to {method}: {}", String::from_utf8_lossy(&buf));
}

/// Runs the binary to completion (it must not wait for a terminal).
fn run_quick(args: &[&str]) -> Output {
    let mut c = Command::new(BIN)
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting mpath-console");
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if c.try_wait().unwrap().is_some() {
            return c.wait_with_output().unwrap();
        }
        if Instant::now() > end {
            let _ = c.kill();
            panic!("mpath-console {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- the tests ----------------------------------------------------------------

/// Focuses the Listeners pane with the keys: Tab moves away, Shift-Tab
/// comes back, one key at a time, each waited for (the screen lags the
/// keys).
fn focus_listeners(t: &Tmux) {
    let start = t.wait("a focused pane", 3.0, |_| focused_pane(t));
    t.keys(&["Tab"]);
    let moved = t.wait("Tab moves the focus", 3.0, |_| {
        focused_pane(t).filter(|p| *p != start)
    });
    eprintln!("focus: {start} → Tab → {moved}");
    let mut cur = moved;
    for _ in 0..6 {
        if cur == "Listeners" {
            break;
        }
        t.keys(&["BTab"]);
        cur = t.wait("Shift-Tab moves the focus", 3.0, |_| {
            focused_pane(t).filter(|p| *p != cur)
        });
    }
    assert_eq!(cur, "Listeners", "Shift-Tab never reached the Listeners");
}

/// `b` on the selected listener: a blackhole badge on that listener (and
/// on no other) within a few seconds, then the keep-alive countdown on
/// its path (the demo's KATO is 10 s: a Keep Alive goes out every 5 s and
/// is never answered), then the reconnect countdown once it is lost;
/// `r` lifts the fault and the path comes back.
#[test]
fn blackhole_badge_and_keep_alive_countdown_in_tmux() {
    common::require_tool("tmux", "-V", "tmux");
    let dir = tempfile::tempdir().unwrap();
    let tsock = dir.path().join("tgt.sock");
    let isock = dir.path().join("ini.sock");
    let t = Tmux::start(&[
        "env",
        "-u",
        "NO_COLOR",
        BIN,
        "run",
        "--theme",
        "dark",
        "--refresh-ms",
        "100",
        "--target-sock",
        tsock.to_str().unwrap(),
        "--initiator-sock",
        isock.to_str().unwrap(),
    ]);
    let ls = t.wait("both listeners listed", 15.0, |s| {
        let v = listener_rows(s);
        (v.len() == 2).then_some(v)
    });
    let first = ls.iter().position(|(_, ip, _)| ip == "127.0.0.1").unwrap();
    let a1 = format!("127.0.0.1:{}", ls[first].2);
    let a2 = format!("{}:{}", ls[1 - first].1, ls[1 - first].2);
    t.wait("the path answering keep-alives", 15.0, |s| {
        path_row(s, &a1).filter(|r| r.contains("KA ") && r.contains(" s ago"))
    });
    focus_listeners(&t);
    t.keys(&["g"]);
    for _ in 0..first {
        t.keys(&["j"]);
    }
    t.wait("127.0.0.1's row selected", 3.0, |_| {
        (selected_listener_row(&t) == Some(ls[first].0)).then_some(())
    });

    t.keys(&["b"]);
    let listener_row = |s: &str, addr: &str| -> Option<String> {
        let b = pane(s, "Listeners")?;
        pane_rows(s, b).into_iter().find(|r| r.contains(addr))
    };
    let t_badge = Instant::now();
    t.wait("a blackhole badge on the selected listener", 5.0, |s| {
        listener_row(s, &a1).filter(|r| r.contains("blackhole"))
    });
    eprintln!("badge after {:?}", t_badge.elapsed());
    let other = listener_row(&t.text(), &a2).expect("the other listener");
    assert!(!other.contains("blackhole"), "{other}");
    t.wait("the keep-alive countdown on its path", 20.0, |s| {
        path_row(s, &a1).filter(|r| r.contains("blackhole") && r.contains("KA timeout in"))
    });
    // Once lost, the listener says what comes next instead of `–`.
    t.wait("the reconnect countdown on the listener", 20.0, |s| {
        listener_row(s, &a1).filter(|r| r.contains("reconnect in"))
    });

    t.keys(&["r"]);
    t.wait("the path back after r", 30.0, |s| {
        let l = listener_row(s, &a1)?;
        let p = path_row(s, &a1)?;
        (!l.contains("blackhole") && p.contains(" s ago")).then_some(())
    });
    t.keys(&["q"]);
}

#[test]
fn console_end_to_end_in_tmux() {
    common::require_tool("tmux", "-V", "tmux");
    let t0 = Instant::now();
    // The RPC sockets where we say (`--target-sock`, `--initiator-sock`),
    // not SPDK's default paths.
    let dir = tempfile::tempdir().unwrap();
    let tsock = dir.path().join("tgt.sock");
    let isock = dir.path().join("ini.sock");
    let (ts, is) = (tsock.to_str().unwrap(), isock.to_str().unwrap());
    // Under a small shell that reports what a user would see once the
    // console is gone: its exit status and the tty's line discipline
    // (raw mode left on would show as -icanon -echo), on one line written
    // at once, so the screen never holds the status without the modes.
    let t = Tmux::start(&[
        "sh",
        "-c",
        r#""$@"; s=$?; t=$(stty -a | tr ' ;' '\n\n' | grep -xE -- '-?(icanon|echo)' | tr '\n' ' '); echo; echo "exited $s tty: $t"; sleep 1; exit $s"#,
        "sh",
        "env",
        "-u",
        "NO_COLOR",
        BIN,
        "run",
        "--theme",
        "dark",
        "--refresh-ms",
        "100",
        "--target-sock",
        ts,
        "--initiator-sock",
        is,
    ]);

    // 1. The load runs: IOPS > 0 in the header.
    let iops = t.wait("IOPS > 0 in the header", 15.0, |s| {
        header_iops(s).filter(|v| *v > 0.0)
    });
    eprintln!("header: {iops:.0} IOPS");
    // Both applications answer on the sockets asked for, and the header
    // says where they are.
    let header: String = t.text().lines().take(3).collect::<Vec<_>>().join("\n");
    assert!(
        header.contains(&format!("nvmf_tgt {ts}")) && header.contains(&format!("bdevperf {is}")),
        "{header}"
    );
    for (sock, app) in [(&tsock, "nvmf_tgt"), (&isock, "bdevperf")] {
        let v = rpc_unix(sock, "spdk_get_version");
        assert!(
            v["result"]["version"]
                .as_str()
                .is_some_and(|x| x.contains(app)),
            "{app} on {}: {v}",
            sock.display()
        );
    }

    // 2. The listeners, and which one is 127.0.0.1 (the HOWTO's first).
    let ls = t.wait("both listeners listed", 5.0, |s| {
        let v = listener_rows(s);
        (v.len() == 2).then_some(v)
    });
    let first = ls.iter().position(|(_, ip, _)| ip == "127.0.0.1").unwrap();
    let second = 1 - first;
    let a1 = format!("127.0.0.1:{}", ls[first].2);
    let a2 = format!("{}:{}", ls[second].1, ls[second].2);
    t.wait("★ on the first path", 5.0, |s| {
        path_row(s, &a1).filter(|r| r.contains('★'))
    });

    // 3. Focus the Listeners pane with the keys: Tab moves away, Shift-Tab
    // comes back; then select 127.0.0.1's row.
    focus_listeners(&t);
    t.keys(&["g"]);
    for _ in 0..first {
        t.keys(&["j"]);
    }
    t.wait("127.0.0.1's row selected", 3.0, |_| {
        (selected_listener_row(&t) == Some(ls[first].0)).then_some(())
    });

    // 4. `n`: 4420 non_optimized → ★ and the bytes move to the second path.
    t.keys(&["n"]);
    t.wait("★ on the second path after n", 5.0, |s| {
        let r1 = path_row(s, &a1)?;
        let r2 = path_row(s, &a2)?;
        (r2.contains('★') && !r1.contains('★') && r1.contains("non_opt")).then_some(())
    });
    let (r1, r2) = t.wait("traffic on the second path only", 6.0, |s| {
        let r1 = conn_rate(s, &a1)?;
        let r2 = conn_rate(s, &a2)?;
        (r2 > 1e6 && r1 < 1e5).then_some((r1, r2))
    });
    eprintln!("after n: {a1} {r1:.0} B/s, {a2} {r2:.0} B/s");

    // 5. `o` puts the first listener back to optimized, then `p`:
    // active_active spreads I/O over the optimized paths, both grow.
    t.keys(&["o"]);
    t.wait("the first path optimized again after o", 5.0, |s| {
        path_row(s, &a1).filter(|r| r.contains("optimized") && !r.contains("non_opt"))
    });
    t.keys(&["p"]);
    let (r1, r2) = t.wait("traffic on both paths after p", 6.0, |s| {
        let r1 = conn_rate(s, &a1)?;
        let r2 = conn_rate(s, &a2)?;
        (s.contains("active_active") && r1 > 1e6 && r2 > 1e6).then_some((r1, r2))
    });
    eprintln!("after p: {a1} {r1:.0} B/s, {a2} {r2:.0} B/s");

    // 6. `:` and an RPC: its result shows.
    t.keys(&[":"]);
    t.literal("bdev_nvme_get_io_paths -n Nvme0n1");
    t.keys(&["Enter"]);
    // The overlay pretty-prints the reply (`"io_paths": [`); the Events
    // pane logs it compact (`"io_paths":[`).
    t.wait("the RPC's result", 5.0, |s| {
        (s.contains("bdev_nvme_get_io_paths (") && s.contains("\"io_paths\": [")).then_some(())
    });
    t.keys(&["Escape"]);
    t.wait("the result closed", 3.0, |s| {
        (!s.contains("\"io_paths\": [")).then_some(())
    });

    // 7. Too small, then back: a message, no crash, drawn again.
    t.resize(20, 6);
    t.wait("the too-small message", 5.0, |s| {
        s.to_lowercase().contains("too small").then_some(())
    });
    assert_eq!(t.format("#{pane_dead}"), "0", "died when made small");
    t.resize(W, H);
    t.wait("drawn again at full size", 5.0, |s| {
        (header_iops(s).is_some() && pane(s, "Listeners").is_some()).then_some(())
    });

    // 8. `q`: the console exits 0 and the terminal is as it was: main
    // screen, cursor shown, no mouse reporting, cooked mode.
    t.keys(&["q"]);
    let s = t.wait("the console's exit", 5.0, |s| {
        s.contains("exited ").then(|| s.to_string())
    });
    assert!(s.contains("exited 0"), "exit status:\n{s}");
    assert!(
        s.split_whitespace().any(|w| w == "icanon") && s.split_whitespace().any(|w| w == "echo"),
        "the tty was left in raw mode:\n{s}"
    );
    assert!(
        !s.contains("Listeners") && header_iops(&s).is_none(),
        "the console's screen is still shown:\n{s}"
    );
    assert_eq!(t.format("#{alternate_on}"), "0", "alternate screen left on");
    assert_eq!(t.format("#{cursor_flag}"), "1", "cursor left hidden");
    assert_eq!(
        t.format("#{mouse_any_flag}"),
        "0",
        "mouse reporting left on"
    );
    let end = Instant::now() + Duration::from_secs(5);
    while t.format("#{pane_dead}") != "1" {
        assert!(Instant::now() < end, "pane still alive:\n{}", t.text());
        std::thread::sleep(Duration::from_millis(50));
    }
    // tmux (3.3) may mark the pane dead on the tty's end before it reaps
    // the shell, and then leave its status empty: the shell's own
    // "exited 0" above is the check; tmux's, when it has one, must agree.
    let status = t.format("#{pane_dead_status}");
    assert!(status.is_empty() || status == "0", "exit status {status}");
    eprintln!("e2e took {:.1} s", t0.elapsed().as_secs_f64());
}

#[test]
fn bad_theme_and_keymap_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let theme = write(dir.path(), "bad.json", r#"{"border": {"fg": "blurple"}}"#);
    let o = run_quick(&["run", "--theme", theme.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "exit 0 with a broken theme: {err}");
    assert!(
        err.contains("bad.json") && err.contains("border") && err.contains("blurple"),
        "{err}"
    );
    assert!(!err.contains("\x1b["), "the terminal was touched: {err:?}");

    let km = write(dir.path(), "keys.json", r#"{"quit": "hyper-q"}"#);
    let o = run_quick(&["run", "--keymap", km.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "exit 0 with a bad key: {err}");
    assert!(
        err.contains("keys.json") && err.contains("quit") && err.contains("hyper-q"),
        "{err}"
    );

    let km = write(dir.path(), "acts.json", r#"{"no.such.action": "x"}"#);
    let o = run_quick(&["run", "--keymap", km.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "exit 0 with an unknown action: {err}");
    assert!(
        err.contains("acts.json") && err.contains("no.such.action"),
        "{err}"
    );
}

#[test]
fn screen_parsers() {
    assert_eq!(parse_count("147.6k"), Some(147_600.0));
    assert_eq!(parse_count("295.2K"), Some(295_200.0));
    assert_eq!(parse_count("950"), Some(950.0));
    assert_eq!(
        header_iops(" mpath │ ▶ running │ 147.6k IOPS  576.5 MiB/s"),
        Some(147_600.0)
    );
    assert_eq!(
        rates("★host 40885 c1 q1 ESTAB 0 0 a b  718 MiB/s  0 B/s 0.04"),
        vec![718.0 * 1024.0 * 1024.0, 0.0]
    );
    let g = parse_sgr("a\x1b[1;7mb\x1b[0mc\x1b[38;5;6md");
    assert!(!g[0][0].1.reverse && g[0][1].1.reverse && g[0][1].1.bold);
    assert!(!g[0][2].1.reverse && g[0][3].1.fg == "5;6");
    let screen = "╭ Listeners ───────────╮\n│TCP 127.0.0.2:5520    │\n│TCP 127.0.0.1:4420    │\n╰──────────────────────╯\n";
    assert_eq!(
        listener_rows(screen),
        vec![
            (0, "127.0.0.2".into(), "5520".into()),
            (1, "127.0.0.1".into(), "4420".into())
        ]
    );
}

/// One `:` command: typed, sent, its result overlay waited for and
/// closed. Fails on an error reply.
fn rpc_line(t: &Tmux, line: &str) {
    let method = line.split_whitespace().next().unwrap();
    t.keys(&[":"]);
    t.literal(line);
    t.keys(&["Enter"]);
    let s = t.wait(&format!("the result of {line}"), 20.0, |s| {
        s.contains(&format!("╭ {method} (")).then(|| s.to_string())
    });
    assert!(!s.contains(&format!("{method} ✗")), "{line} failed:\n{s}");
    t.keys(&["Escape"]);
    t.wait("the result closed", 10.0, |s| {
        (!s.contains(&format!("╭ {method} ("))).then_some(())
    });
}

/// The I/O paths pane's rows naming a controller.
fn path_ctrlrs(screen: &str) -> Vec<String> {
    let Some(b) = pane(screen, "I/O paths") else {
        return vec![];
    };
    pane_rows(screen, b)
        .into_iter()
        .filter(|r| r.contains("127.0.0."))
        .collect()
}

/// Many listeners and a second subsystem, added through `:` on the
/// embedded HOWTO: the selection stays on its listener, each bdev's paths
/// are its own controller's, the scope picker narrows the panes to the
/// second subsystem, and `/` finds one listener among ten.
#[test]
fn many_listeners_and_a_second_subsystem_in_tmux() {
    common::require_tool("tmux", "-V", "tmux");
    const NQN1: &str = "nqn.2022-02.io.spdk:cnode0";
    const NQN2: &str = "nqn.2022-02.io.spdk:cnode1";
    let dir = tempfile::tempdir().unwrap();
    let tsock = dir.path().join("tgt.sock");
    let isock = dir.path().join("ini.sock");
    let t = Tmux::start(&[
        "env",
        "-u",
        "NO_COLOR",
        BIN,
        "run",
        "--theme",
        "dark",
        "--target-sock",
        tsock.to_str().unwrap(),
        "--initiator-sock",
        isock.to_str().unwrap(),
    ]);
    t.resize(200, 60);
    let ls = t.wait("both listeners listed", 30.0, |s| {
        let v = listener_rows(s);
        (v.len() == 2 && header_iops(s).is_some_and(|v| v > 0.0)).then_some(v)
    });
    // Select 127.0.0.2's listener (focus starts on Listeners).
    let second = ls.iter().find(|(_, ip, _)| ip == "127.0.0.2").unwrap();
    t.keys(&["g", "j"]);
    t.wait("127.0.0.2's row selected", 5.0, |_| {
        (selected_listener_row(&t) == Some(second.0)).then_some(())
    });

    // Eight more listeners of the HOWTO's subsystem.
    for i in 3..=10 {
        let ip = format!("127.0.0.{i}");
        let port = common::free_port(&ip);
        rpc_line(
            &t,
            &format!("nvmf_subsystem_add_listener {NQN1} -t tcp -a {ip} -s {port} -f ipv4"),
        );
    }
    // A second subsystem with its own listener, attached as Nvme1.
    let port2 = common::free_port("127.0.0.20");
    for line in [
        "bdev_malloc_create 32 512 -b Malloc1".to_string(),
        format!("nvmf_create_subsystem {NQN2} -a -s SPDK00000000000002 -r"),
        format!("nvmf_subsystem_add_ns {NQN2} Malloc1"),
        format!("nvmf_subsystem_add_listener {NQN2} -t tcp -a 127.0.0.20 -s {port2} -f ipv4"),
        format!("bdev_nvme_attach_controller -b Nvme1 -t tcp -a 127.0.0.20 -s {port2} -f ipv4 -n {NQN2}"),
    ] {
        rpc_line(&t, &line);
    }

    // The selection stayed on 127.0.0.2's listener among eleven.
    let rows = t.wait("eleven listeners listed", 10.0, |s| {
        let v = listener_rows(s);
        (v.len() == 11).then_some(v)
    });
    let row = rows.iter().find(|(_, ip, _)| ip == "127.0.0.2").unwrap().0;
    t.wait("the selection still on 127.0.0.2", 5.0, |_| {
        (selected_listener_row(&t) == Some(row)).then_some(())
    });
    // Nvme0n1's paths are Nvme0's only, though both subsystems number
    // their controllers from 1.
    let s = t.text();
    let paths = path_ctrlrs(&s);
    assert_eq!(paths.len(), 2, "{s}");
    assert!(
        paths
            .iter()
            .all(|r| r.contains("Nvme0") && !r.contains("Nvme1")),
        "{s}"
    );

    // The picker: the second subsystem (its line names Nvme1n1, the
    // last one) scopes Listeners and I/O paths to it.
    t.keys(&["v"]);
    // Nvme1n1 on the picker's own cnode1 line, not merely in Events.
    t.wait("the scope picker", 15.0, |s| {
        (s.contains("Scope — Enter")
            && s.lines()
                .any(|l| l.contains("cnode1") && l.contains("Nvme1n1")))
        .then_some(())
    });
    t.keys(&["G", "Enter"]);
    let s = t.wait("Listeners and I/O paths scoped to cnode1", 15.0, |s| {
        let l = listener_rows(s);
        let p = path_ctrlrs(s);
        (l.len() == 1
            && l[0].1 == "127.0.0.20"
            && !p.is_empty()
            && p.iter()
                .all(|r| r.contains("Nvme1") && r.contains("127.0.0.20")))
        .then(|| s.to_string())
    });
    let header: String = s.lines().take(3).collect();
    assert!(header.contains("bdev Nvme1n1 · cnode1"), "{header}");

    // Back to the HOWTO's subsystem: ten listeners; `/` finds one.
    t.keys(&["v"]);
    t.wait("the scope picker", 5.0, |s| {
        s.contains("Scope — Enter").then_some(())
    });
    t.keys(&["g", "j", "Enter"]);
    t.wait("ten listeners of cnode0", 15.0, |s| {
        (listener_rows(s).len() == 10 && !s.contains("Scope — Enter")).then_some(())
    });
    t.keys(&["/"]);
    t.literal("127.0.0.7:");
    t.keys(&["Enter"]);
    let s = t.wait("one listener found", 10.0, |s| {
        let l = listener_rows(s);
        (l.len() == 1 && l[0].1 == "127.0.0.7").then(|| s.to_string())
    });
    assert!(s.contains("(1 of 10)"), "{s}");
    // Esc: all ten again, the selection on the one found.
    t.keys(&["Escape"]);
    let rows = t.wait("ten listeners again", 10.0, |s| {
        let v = listener_rows(s);
        (v.len() == 10).then_some(v)
    });
    let row7 = rows.iter().find(|(_, ip, _)| ip == "127.0.0.7").unwrap().0;
    t.wait("the selection on 127.0.0.7", 5.0, |_| {
        (selected_listener_row(&t) == Some(row7)).then_some(())
    });
    t.keys(&["q"]);
}

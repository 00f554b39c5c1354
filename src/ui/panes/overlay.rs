//! Overlays: the help (generated from the keymap, with a legend of every
//! symbol and column), the load form (`super::super::form`), and the
//! result of a `:` command.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget};

use super::centered;
use crate::control::Engine;
use crate::ui::app::{App, Overlay};
use crate::ui::keymap::GROUPS;
use crate::ui::snapshot::Snapshot;
use crate::ui::theme::Theme;
use crate::ui::{cmdline, form};
use mpath_widgets::HelpOverlay;

fn boxed<'a>(t: &Theme, title: String, err: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(if err { t.err } else { t.border_focused })
        .title(Line::styled(format!(" {title} "), t.title_focused))
        .style(t.popup)
}

pub fn render(s: &Snapshot, app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help { scroll } => {
            let b = help_bindings(app);
            HelpOverlay::new(&b, &t.w).offset(*scroll).render(area, buf);
        }
        Overlay::Load(f) => {
            let line = match f.params() {
                Ok(p) => cmdline::to_line(
                    Engine::Initiator,
                    "perform_tests",
                    Some(&app.perf_start_params(Some(&p))),
                    Some(&s.initiator.location),
                ),
                Err(_) => "bdevperf.py perform_tests …".into(),
            };
            form::render(f, &line, t, area, buf);
        }
        Overlay::Result {
            title,
            lines,
            error,
            scroll,
        } => {
            let w = lines
                .iter()
                .map(|l| l.chars().count())
                .max()
                .unwrap_or(10)
                .clamp(30, 110) as u16
                + 4;
            let h = result_height(lines.len(), area.height);
            let r = centered(area, w, h);
            Clear.render(r, buf);
            let hint = if result_overflows(lines.len(), (area.width, area.height)) {
                "j/k scroll, Esc closes"
            } else {
                "Esc closes"
            };
            let b = boxed(t, format!("{title} — {hint}"), *error);
            let inner = b.inner(r);
            b.render(r, buf);
            let max = lines.len().saturating_sub(usize::from(inner.height));
            let body: Vec<Line> = lines
                .iter()
                .map(|l| Line::styled(l.clone(), if *error { t.err } else { t.base }))
                .collect();
            Paragraph::new(body)
                .scroll(((*scroll).min(max) as u16, 0))
                .render(inner, buf);
            if max > 0 {
                // Where the view is, on the bottom border, right-aligned.
                let at = (*scroll).min(max);
                let mark = format!(" {}{}/{} ", if at < max { "↓ " } else { "" }, at, max);
                let mw = mark.chars().count() as u16;
                if r.width > mw + 2 {
                    buf.set_string(r.right() - 2 - mw, r.bottom() - 1, mark, t.scroll);
                }
            }
        }
    }
}

/// Height of a result popup of `n` lines on a screen `screen_h` rows high.
fn result_height(n: usize, screen_h: u16) -> u16 {
    (n.min(usize::from(u16::MAX)) as u16 + 2).clamp(3, screen_h.saturating_sub(4))
}

/// How far a result of `n` lines scrolls on a screen of `size`: the
/// lines that do not fit its popup (0: it fits).
pub fn result_max_scroll(n: usize, size: (u16, u16)) -> usize {
    // The popup is centred within the screen less a row or column of
    // margin on each side, and its border takes two rows.
    let h = result_height(n, size.1).min(size.1.saturating_sub(2));
    n.saturating_sub(usize::from(h.saturating_sub(2)))
}

/// Whether a result of `n` lines is taller than its popup: only then do
/// the scroll keys scroll it.
pub fn result_overflows(n: usize, size: (u16, u16)) -> bool {
    result_max_scroll(n, size) > 0
}

/// The help entries `(keys, description, section)`, from the keymap
/// table, plus mouse and command-line notes.
pub fn help_bindings(app: &App) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for g in GROUPS {
        for b in app.keymap.bindings.iter().filter(|b| b.group == g) {
            out.push((
                app.keymap.keys_label(b.action),
                b.desc.to_string(),
                g.to_string(),
            ));
        }
    }
    let m = "Mouse".to_string();
    out.push((
        "click".into(),
        "focus a pane, select a row".into(),
        m.clone(),
    ));
    out.push((
        "wheel".into(),
        "scroll the pane under the pointer".into(),
        m,
    ));
    let c = "Command line (:)".to_string();
    for (k, d) in [
        (
            "Tab",
            "complete method names, flags, choices, NQNs, addresses",
        ),
        ("↑/↓", "history"),
        (
            "spdk-rpc",
            "nvmf_subsystem_listener_set_ana_state NQN -t tcp -a ADDR -s PORT -n STATE",
        ),
        (
            "",
            "bdev_nvme_set_multipath_policy -b BDEV -p active_active [-s queue_depth]",
        ),
        (
            "other",
            "any_method key=value --flag value, or one '{json}' object",
        ),
        ("--dry-run", "show the request, send nothing"),
    ] {
        out.push((k.into(), d.into(), c.clone()));
    }
    for (section, entries) in LEGEND {
        for (k, d) in *entries {
            out.push((k.to_string(), d.to_string(), format!("Legend: {section}")));
        }
    }
    out
}

/// What every symbol and column of the panes means, pane by pane.
pub const LEGEND: &[(&str, &[(&str, &str)])] = &[
    (
        "everywhere",
        &[
            ("★", "the bdev's current path: the one I/O goes to now"),
            (
                "n/a",
                "this backend does not report the number (the pane title says why)",
            ),
            ("–", "nothing to show: none, or not known"),
            (
                "grey",
                "the application did not answer; its last answer is shown",
            ),
        ],
    ),
    (
        "Listeners",
        &[
            (
                "Transport ID",
                "trtype and traddr:trsvcid the target listens on",
            ),
            (
                "ANA",
                "the ANA state per ANA group (g: when there are several)",
            ),
            ("NQN", "the subsystem the listener belongs to"),
            ("Ctrlrs", "CNTLIDs of the controllers with a qpair on it"),
            ("Qpairs", "qpairs (admin and I/O) that arrived on it"),
            (
                "blackhole",
                "fault badge: reads and never answers (b; r lifts it)",
            ),
            (
                "delay N ms",
                "fault badge: answers held back N ms (d; d again: longer)",
            ),
            (
                "reconnect in",
                "a path through it is lost: when the host tries again",
            ),
        ],
    ),
    (
        "I/O paths",
        &[
            (
                "controller",
                "the bdev_nvme controller name the path goes through",
            ),
            ("cntlid", "the target's controller ID of that connection"),
            ("conn", "the path's qpair is connected"),
            (
                "acc",
                "accessible: its ANA state allows I/O (optimized, non_optimized)",
            ),
            ("ANA", "the ANA state the host last read"),
            (
                "health",
                "fault badge, then keep-alive or reconnect countdown",
            ),
            (
                "KA N s ago",
                "the controller last answered a Keep Alive N s ago",
            ),
            (
                "KA timeout in",
                "a Keep Alive is unanswered; the path is lost when it runs out",
            ),
            (
                "reconnect in",
                "reconnect_delay_sec: the next reconnect attempt",
            ),
            (
                "I/O fails in",
                "fast_io_fail_timeout_sec: queued I/O fails after it",
            ),
            (
                "lost in",
                "ctrlr_loss_timeout_sec: the controller is deleted after it",
            ),
            ("outst", "I/O submitted on the path and not yet completed"),
            ("cmd/s", "NVMe commands per second (a verify I/O is two)"),
            ("MiB/s", "bytes moved on the path per second"),
            (
                "lat µs",
                "average latency over the last interval (bdev_nvme_get_path_iostat)",
            ),
            ("err", "commands completed with an error status on the path"),
            (
                "history",
                "the rate over the last minute, one scale for all rows",
            ),
        ],
    ),
    (
        "Connections",
        &[
            (
                "Role",
                "★, end (tgt/host/remote), listener port, cntlid (cN), queue",
            ),
            (
                "State",
                "TCP state as ss shows it (ESTAB, LISTEN, CLOSE-WAIT...)",
            ),
            (
                "Recv-Q",
                "bytes received and not yet read by the application",
            ),
            ("Send-Q", "bytes sent and not yet acknowledged by the peer"),
            ("Local/Peer", "the socket's addresses"),
            ("Tx/Rx", "bytes per second acknowledged / received"),
            ("RTT ms", "the kernel's smoothed round-trip time"),
        ],
    ),
    (
        "header and Load",
        &[
            ("IOPS, MiB/s", "the load generator's completions per second"),
            (
                "avg, p99",
                "latency: average of the last interval, p99 of the last second",
            ),
            (
                "chart",
                "per-path rate over the last minute, one colour per path",
            ),
        ],
    ),
];

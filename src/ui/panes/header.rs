//! The header: mode, bdev, policy, the load in one line, then the
//! process's CPU/RSS, host load and where the two applications are.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::bold;
use crate::ui::app::App;
use crate::ui::fmt;
use crate::ui::scope::short_nqn;
use crate::ui::snapshot::{AppHealth, LoadSource, Metric, Snapshot};
use crate::ui::theme::Theme;

fn metric(m: &Metric, f: impl Fn(f64) -> String) -> String {
    match m {
        Metric::Value(v) => f(*v),
        Metric::Unavailable(_) => "n/a".into(),
    }
}

fn sep(t: &Theme) -> Span<'static> {
    Span::styled(" │ ", t.muted)
}

fn app_span(name: &str, h: &AppHealth, t: &Theme, w: usize) -> Vec<Span<'static>> {
    let (mark, st) = match (&h.error, h.present) {
        (_, false) => ("–", t.muted),
        (None, true) => ("●", t.ok),
        (Some(_), true) => ("●", t.err),
    };
    let mut v = vec![
        Span::styled(mark.to_string(), st),
        Span::styled(format!(" {name} "), t.title),
        Span::styled(fmt::truncate_middle(&h.location, w), t.hint),
    ];
    if let Some(e) = &h.error {
        if h.present {
            v.push(Span::styled(format!(" ({})", fmt::truncate(e, 40)), t.err));
        }
    }
    v
}

/// Width of a group of spans.
fn width(v: &[Span]) -> usize {
    v.iter().map(|s| s.width()).sum()
}

pub fn render(s: &Snapshot, app: &App, r: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let l = &s.load;
    // bdevperf started without -q/-o/-w (`serve` with no perf options)
    // has no load to pause or resume until `perform_tests` names one.
    let configured = l.workload.is_some() || l.queue_depth.is_some_and(|q| q > 0);
    let running = match l.running {
        Some(true) => Span::styled("▶ running", bold(t.ok)),
        Some(false) if !configured => Span::styled("○ no load", t.muted),
        Some(false) => Span::styled("‖ paused", bold(t.warn)),
        None if app.load_running() => Span::styled("▶ running", bold(t.ok)),
        None => Span::styled("? load", t.muted),
    };
    let mut work = String::new();
    if let Some(w) = &l.workload {
        work.push_str(&format!(" {w}"));
    }
    if let Some(q) = l.queue_depth.filter(|q| *q > 0) {
        work.push_str(&format!(" qd{q}"));
    }
    if let Some(o) = l.io_size.filter(|o| *o > 0) {
        work.push_str(&format!(" {}", fmt::bytes(o).replace(' ', "")));
    }
    // bdevperf counts a verify I/O once (a write, then its read-back);
    // the paths count NVMe commands, twice as many.
    let pairs = l.source == LoadSource::PerfStatus && l.workload.as_deref() == Some("verify");
    let policy = match (&s.policy, &s.selector) {
        (Some(p), Some(sel)) if p == "active_active" => format!("{p}/{sel}"),
        (Some(p), _) => p.clone(),
        _ => "policy ?".into(),
    };
    let bad = |n: Option<u64>| match n {
        Some(0) => t.ok,
        Some(_) => t.err,
        None => t.muted,
    };
    let num = |n: Option<u64>| n.map_or("n/a".into(), |n| n.to_string());
    // Segments, in order; they flow onto as many lines as the header has.
    // When they need more, the process's CPU/RSS go first, then the note
    // on verify pairs: the applications' health must stay in view.
    let build = |with_sys: bool, with_pairs: bool| -> Vec<Vec<Span<'static>>> {
        let mut segs: Vec<Vec<Span<'static>>> = vec![
            vec![
                Span::styled(" mpath-console ", t.key),
                Span::raw(" "),
                Span::styled(s.mode.clone(), bold(t.accent)),
            ],
            // The scope (`v`): the bdev the paths and load follow, and
            // the subsystem Listeners and Connections are narrowed to.
            vec![
                Span::styled("bdev ", t.muted),
                Span::styled(
                    if app.bdev.is_empty() {
                        "none".to_string()
                    } else {
                        app.bdev.clone()
                    },
                    bold(t.title),
                ),
                Span::styled(" · ", t.muted),
                match app.scope_nqn() {
                    Some(n) => Span::styled(short_nqn(n).to_string(), bold(t.title)),
                    None => Span::styled("all subsystems", t.hint),
                },
            ],
            vec![Span::styled(policy.clone(), bold(t.accent))],
            vec![running.clone(), Span::styled(work.clone(), t.hint)],
            {
                let mut v = vec![
                    Span::styled(metric(&l.iops, fmt::count), bold(t.title)),
                    Span::styled(" IOPS", t.muted),
                ];
                if pairs && with_pairs {
                    v.push(Span::styled(" (write+read pairs)", t.muted));
                }
                v.extend([
                    Span::raw("  "),
                    Span::styled(metric(&l.mibps, fmt::mibps), bold(t.title)),
                    Span::styled(" MiB/s", t.muted),
                ]);
                v
            },
            // Both over the last second: the interval's average, the recent
            // window's p99 (the run's maximum would stay at its worst moment).
            vec![
                Span::styled("avg ", t.muted),
                Span::raw(metric(&l.avg_lat_us, fmt::micros)),
                Span::styled("  p99 ", t.muted),
                Span::raw(metric(&l.p99_lat_us, fmt::micros)),
            ],
            vec![
                Span::styled("failed ", t.muted),
                Span::styled(num(l.failed), bad(l.failed)),
                Span::styled("  miscompared ", t.muted),
                Span::styled(num(l.miscompared), bad(l.miscompared)),
            ],
        ];
        match &s.sys {
            _ if !with_sys => {}
            Some(sy) => segs.push(vec![
                Span::styled("cpu ", t.muted),
                Span::raw(format!("{:.0}%", sy.cpu_pct)),
                Span::styled("  rss ", t.muted),
                Span::raw(fmt::bytes(sy.rss)),
                Span::styled("  load ", t.muted),
                Span::raw(format!(
                    "{:.2} {:.2} {:.2}",
                    sy.load[0], sy.load[1], sy.load[2]
                )),
                Span::styled(format!(" /{} cpus", sy.cpus), t.muted),
            ]),
            None => segs.push(vec![Span::styled("cpu/rss: sampling…", t.muted)]),
        }
        let loc_w = usize::from(r.width.saturating_sub(40) / 3).clamp(12, 44);
        segs.push(app_span("nvmf_tgt", &s.target, t, loc_w));
        segs.push(app_span("bdevperf", &s.initiator, t, loc_w));
        segs
    };

    let w = usize::from(r.width);
    let flow = |segs: Vec<Vec<Span<'static>>>| {
        let mut lines: Vec<Vec<Span>> = vec![vec![]];
        for seg in segs {
            let cur = lines.last_mut().expect("a line");
            let sep_w = if cur.is_empty() { 0 } else { 3 };
            if !cur.is_empty() && width(cur) + sep_w + width(&seg) > w {
                lines.push(vec![Span::raw(" ")]);
            }
            let cur = lines.last_mut().expect("a line");
            if width(cur) > 1 {
                cur.push(sep(t));
            }
            cur.extend(seg);
        }
        lines
    };
    let fits = |l: &[Vec<Span>]| l.len() <= usize::from(r.height.max(1));
    let mut lines = flow(build(true, true));
    if !fits(&lines) {
        lines = flow(build(false, true));
    }
    if !fits(&lines) {
        lines = flow(build(false, false));
    }
    let mut out: Vec<Line> = lines.into_iter().map(Line::from).collect();
    if out.len() < usize::from(r.height) {
        out.push(Line::styled("─".repeat(w), t.border));
    }
    Paragraph::new(out).render(r, buf);
}

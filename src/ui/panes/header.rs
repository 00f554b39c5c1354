//! The header: mode, bdev, policy, the load in one line, then the
//! process's CPU/RSS, host load and where the two applications are.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::bold;
use crate::ui::app::App;
use crate::ui::fmt;
use crate::ui::snapshot::{AppHealth, Metric, Snapshot};
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

pub fn render(s: &Snapshot, app: &App, r: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let l = &s.load;
    let running = match l.running {
        Some(true) => Span::styled("▶ running", bold(t.ok)),
        Some(false) => Span::styled("‖ paused", bold(t.warn)),
        None if app.load_running() => Span::styled("▶ running", bold(t.ok)),
        None => Span::styled("? load", t.muted),
    };
    let mut work = String::new();
    if let Some(w) = &l.workload {
        work.push_str(&format!(" {w}"));
    }
    if let Some(q) = l.queue_depth {
        work.push_str(&format!(" qd{q}"));
    }
    if let Some(o) = l.io_size {
        work.push_str(&format!(" {}", fmt::bytes(o).replace(' ', "")));
    }
    let policy = match (&s.policy, &s.selector) {
        (Some(p), Some(sel)) if p == "active_active" => format!("{p}/{sel}"),
        (Some(p), _) => p.clone(),
        _ => "policy ?".into(),
    };
    let mut l1 = vec![
        Span::styled(" mpath-console ", t.key),
        Span::raw(" "),
        Span::styled(s.mode.clone(), bold(t.accent)),
        sep(t),
        Span::styled("bdev ", t.muted),
        Span::styled(s.bdev.clone(), bold(t.title)),
        sep(t),
        Span::styled(policy, bold(t.accent)),
        sep(t),
        running,
        Span::styled(work, t.hint),
        sep(t),
        Span::styled(metric(&l.iops, fmt::count), bold(t.title)),
        Span::styled(" IOPS  ", t.muted),
        Span::styled(metric(&l.mibps, fmt::mibps), bold(t.title)),
        Span::styled(" MiB/s  ", t.muted),
        Span::styled("avg ", t.muted),
        Span::raw(metric(&l.avg_lat_us, fmt::micros)),
        Span::styled("  p99 ", t.muted),
        Span::raw(metric(&l.p99_lat_us, fmt::micros)),
    ];
    let bad = |n: Option<u64>| match n {
        Some(0) => t.ok,
        Some(_) => t.err,
        None => t.muted,
    };
    let num = |n: Option<u64>| n.map_or("n/a".into(), |n| n.to_string());
    l1.push(Span::styled("  failed ", t.muted));
    l1.push(Span::styled(num(l.failed), bad(l.failed)));
    l1.push(Span::styled("  miscompared ", t.muted));
    l1.push(Span::styled(num(l.miscompared), bad(l.miscompared)));

    let mut l2 = vec![Span::raw(" ")];
    match &s.sys {
        Some(sy) => {
            l2.push(Span::styled("cpu ", t.muted));
            l2.push(Span::raw(format!("{:.0}%", sy.cpu_pct)));
            l2.push(Span::styled("  rss ", t.muted));
            l2.push(Span::raw(fmt::bytes(sy.rss)));
            l2.push(Span::styled("  load ", t.muted));
            l2.push(Span::raw(format!("{:.2} {:.2} {:.2}", sy.load[0], sy.load[1], sy.load[2])));
            l2.push(Span::styled(format!(" ({} cpus)", sy.cpus), t.muted));
        }
        None => l2.push(Span::styled("cpu/rss: sampling…", t.muted)),
    }
    l2.push(sep(t));
    let loc_w = usize::from(r.width.saturating_sub(60) / 2).clamp(12, 40);
    l2.extend(app_span("nvmf_tgt", &s.target, t, loc_w));
    l2.push(Span::raw("  "));
    l2.extend(app_span("bdevperf", &s.initiator, t, loc_w));
    let mut lines = vec![Line::from(l1), Line::from(l2)];
    if r.height >= 3 {
        lines.push(Line::styled("─".repeat(usize::from(r.width)), t.border));
    }
    Paragraph::new(lines).render(r, buf);
}

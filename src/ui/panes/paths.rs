//! I/O paths of the bdev (the widget crate's `PathTable`): controller,
//! cntlid, transport ID, connected, accessible, ANA state, ★ on the
//! current path, outstanding I/O, NVMe commands per second (`cmd/s`: a
//! verify I/O is a write and a read, so twice the header's IOPS) and
//! MiB/s, health (the listener's fault, the keep-alive clock or the
//! reconnect countdown), average latency and errors where the backend
//! keeps per-path statistics, with a sparkline of the last minute.

use mpath_widgets::{PathRow, PathTable};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::{frame, grey, overflow, sort_mark, table_title};
use crate::ui::app::{App, Pane};
use crate::ui::health;
use crate::ui::layout;
use crate::ui::snapshot::{Metric, Snapshot};

pub fn render(s: &Snapshot, app: &App, r: Rect, focused: bool, buf: &mut Buffer) {
    let t = &app.theme;
    let policy = match (&s.policy, &s.selector) {
        (Some(p), Some(x)) if p == "active_active" => format!("{p}/{x}"),
        (Some(p), _) => p.clone(),
        _ => "policy ?".into(),
    };
    // Why numbers are n/a, in the title (the table has no spare row).
    let reason = s.paths.iter().find_map(|p| match &p.iops {
        Metric::Unavailable(r) => Some(r.clone()),
        _ => None,
    });
    let mut note = vec![
        Span::styled(format!(" {} ", s.bdev), t.accent),
        Span::styled(format!("{policy} "), t.muted),
    ];
    if let Some(r) = &reason {
        note.push(Span::styled(format!("· cmd/s n/a: {r} "), t.warn));
    }
    let note = Line::from(note);
    let shown = app.view_rows(Pane::Paths);
    let title = table_title(
        app,
        Pane::Paths,
        Pane::Paths.title(),
        shown.len(),
        s.paths.len(),
    );
    let block = frame(t, &title, focused, Some(note), s.initiator.error.as_deref());
    let inner = block.inner(r);
    block.render(r, buf);
    if inner.height == 0 {
        return;
    }
    let rows: Vec<PathRow> = shown
        .iter()
        .map(|&i| &s.paths[i])
        .map(|p| {
            let (health, health_alarm) = health::path_cell(p);
            PathRow {
                name: if p.ctrlr.is_empty() {
                    "?".into()
                } else {
                    p.ctrlr.clone()
                },
                cntlid: p.cntlid,
                traddr: p.traddr.clone(),
                trsvcid: p.trsvcid.clone(),
                connected: p.connected,
                accessible: p.accessible,
                ana_state: p.ana_state.clone(),
                current: p.current,
                outstanding: p.outstanding.map(|o| o.min(u64::from(u32::MAX)) as u32),
                iops: p.iops.value(),
                mibps: p.mibps.value(),
                history: p
                    .history
                    .iter()
                    .map(|v| v.max(0.0).round() as u64)
                    .collect(),
                health,
                health_alarm,
                latency_us: p.health.avg_lat_us,
                errors: p.health.errors,
            }
        })
        .collect();
    if rows.is_empty() {
        let msg = if !s.paths.is_empty() {
            "no I/O path matches".to_string()
        } else if s.bdev.is_empty() {
            "no bdev of this initiator reaches this subsystem (v picks another)".into()
        } else if s.initiator.present {
            format!(
                "no I/O paths for {} (bdev_nvme_get_io_paths -n {})",
                s.bdev, s.bdev
            )
        } else {
            "no initiator attached".into()
        };
        buf.set_stringn(inner.x, inner.y, msg, usize::from(inner.width), t.muted);
    } else {
        // Per-path counts are NVMe commands (a verify I/O is two), not
        // the header's bdevperf I/Os.
        let history = if s.history.per_path_unit == "MiB/s" {
            "MiB/s history"
        } else {
            "cmd/s history"
        };
        let sel = app.sel[Pane::Paths.index()];
        PathTable::new(&rows, &t.w)
            .rate_heading("cmd/s", history)
            .selected(Some(sel))
            .sorted(sort_mark(app, Pane::Paths))
            .focused(focused)
            .bordered(false)
            .render(inner, buf);
        let visible = usize::from(inner.height.saturating_sub(1));
        let off = layout::scroll_offset(sel, rows.len(), visible);
        overflow(buf, r, t, rows.len(), off, visible);
    }
    if s.initiator.stale() {
        grey(inner, t, buf);
    }
}

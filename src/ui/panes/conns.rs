//! Connections, like `ss -tni` (the widget crate's `ConnTable`): the
//! kernel's view of every NVMe/TCP socket on the listeners' ports — state,
//! Recv-Q and Send-Q with bars, addresses, byte rates, rtt — each labelled
//! with its end (tgt/host), listener port, controller and queue.

use mpath_widgets::{ConnRow, ConnTable};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::{frame, overflow, sort_mark, table_title};
use crate::ui::app::{App, Pane};
use crate::ui::layout;
use crate::ui::snapshot::{self as snap, Metric, Side, Snapshot};

/// `★ tgt 4420 c1 I/O q1`: which end, which listener, which controller
/// and queue (★ = the bdev's current path).
pub fn role(c: &snap::ConnRow) -> String {
    let port = c
        .listener
        .as_deref()
        .and_then(|l| l.rsplit(':').next())
        .unwrap_or("?");
    let star = if c.current_path { "★" } else { " " };
    let ctrl = c.cntlid.map_or("c?".into(), |id| format!("c{id}"));
    let q = match &c.queue {
        snap::Queue::Admin => "admin".to_string(),
        snap::Queue::Io(n) => format!("q{n}"),
        snap::Queue::Unknown => "?".into(),
    };
    format!("{star}{:<4} {port} {ctrl} {q}", c.side.as_str())
}

pub fn render(s: &Snapshot, app: &App, r: Rect, focused: bool, buf: &mut Buffer) {
    let t = &app.theme;
    let remote = s
        .conns
        .rows
        .iter()
        .filter(|c| c.side == Side::Remote)
        .count();
    let mut note = vec![Span::styled(
        format!(" {} sockets ", s.conns.rows.len() - remote),
        t.muted,
    )];
    if remote > 0 {
        note.push(Span::styled(
            format!("+{remote} not on this machine "),
            t.warn,
        ));
    }
    let shown = app.view_rows(Pane::Conns);
    let title = table_title(
        app,
        Pane::Conns,
        "Connections (ss -tni)",
        shown.len(),
        s.conns.rows.len(),
    );
    let block = frame(t, &title, focused, Some(Line::from(note)), None);
    let mut inner = block.inner(r);
    block.render(r, buf);
    if inner.height == 0 {
        return;
    }
    if let Some(e) = &s.conns.error {
        buf.set_stringn(
            inner.x,
            inner.y,
            format!("kernel view unavailable: {e}"),
            usize::from(inner.width),
            t.err,
        );
        inner.y += 1;
        inner.height -= 1;
    }
    for u in &s.conns.unknown {
        if inner.height == 0 {
            return;
        }
        buf.set_stringn(inner.x, inner.y, u, usize::from(inner.width), t.warn);
        inner.y += 1;
        inner.height -= 1;
    }
    let rows: Vec<ConnRow> = shown
        .iter()
        .map(|&i| &s.conns.rows[i])
        .map(|c| ConnRow {
            role: role(c),
            remote_host: c.side == Side::Remote,
            state: c.state.clone(),
            recv_q: u64::from(c.recv_q.unwrap_or(0)),
            send_q: u64::from(c.send_q.unwrap_or(0)),
            local: c.local.clone(),
            peer: c.peer.clone(),
            tx_bps: c.tx_bps.value(),
            rx_bps: c.rx_bps.value(),
            rtt_ms: c.rtt_us.map(|u| u / 1000.0),
        })
        .collect();
    if rows.is_empty() {
        if s.conns.error.is_none() && s.conns.unknown.is_empty() {
            buf.set_stringn(
                inner.x,
                inner.y,
                "no NVMe/TCP connections on the listeners' ports",
                usize::from(inner.width),
                t.muted,
            );
        }
        return;
    }
    // One scale for every bar; at least 64 KiB so idle noise stays small.
    let qmax = rows
        .iter()
        .flat_map(|c| [c.recv_q, c.send_q])
        .max()
        .unwrap_or(0)
        .max(64 * 1024);
    let sel = app.sel[Pane::Conns.index()];
    ConnTable::new(&rows, &t.w)
        .selected(Some(sel))
        .sorted(sort_mark(app, Pane::Conns))
        .focused(focused)
        .bordered(false)
        .queue_max(qmax)
        .render(inner, buf);
    let visible = usize::from(inner.height.saturating_sub(1));
    let off = layout::scroll_offset(sel, rows.len(), visible);
    overflow(buf, r, t, rows.len(), off, visible);
    // Why rates are n/a, once, under the rows.
    let used = rows.len() as u16 + 1;
    if inner.height > used {
        let why = s.conns.rows.iter().find_map(|c| match &c.tx_bps {
            Metric::Unavailable(r) => Some(format!(
                "{}: {r}",
                if c.side == Side::Remote {
                    "remote"
                } else {
                    "rates n/a"
                }
            )),
            _ => None,
        });
        if let Some(w) = why {
            buf.set_stringn(
                inner.x,
                inner.y + used,
                w,
                usize::from(inner.width),
                t.muted,
            );
        }
    }
}

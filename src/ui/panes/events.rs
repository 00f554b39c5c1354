//! Events: every action as its `spdk-rpc` command line with the reply,
//! and what the initiator saw (AENs, ANA log reads, path switches,
//! reconnects) and each failover's stall, in time order.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::frame;
use crate::ui::app::{App, Pane};
use crate::ui::fmt;
use crate::ui::snapshot::{LogKind, Snapshot};

pub fn render(_s: &Snapshot, app: &App, r: Rect, focused: bool, buf: &mut Buffer) {
    let t = &app.theme;
    let ev = app.merged_events();
    let note = if app.events_back > 0 {
        Line::styled(format!(" ↑{} (G: newest) ", app.events_back), t.warn)
    } else {
        Line::styled(format!(" {} ", ev.len()), t.muted)
    };
    let block = frame(t, Pane::Events.title(), focused, Some(note), None);
    let inner = block.inner(r);
    block.render(r, buf);
    let h = usize::from(inner.height);
    if h == 0 {
        return;
    }
    let end = ev.len().saturating_sub(app.events_back);
    let start = end.saturating_sub(h);
    let w = usize::from(inner.width);
    // Milliseconds matter (failover timing) unless the pane is narrow.
    let short = w < 60;
    let entries: Vec<Vec<Line>> = ev[start..end]
        .iter()
        .map(|e| {
            let (mark, st) = match e.kind {
                LogKind::Action => ("$", t.ev_action),
                LogKind::Reply => ("←", t.ev_reply),
                LogKind::Error => ("✗", t.err),
                LogKind::Host => ("◆", t.ev_host),
                LogKind::Stall => ("◷", t.ev_stall),
                LogKind::Info => ("·", t.hint),
            };
            let mut clock = fmt::clock(e.at);
            if short {
                clock.truncate(8);
            }
            let clock_w = clock.chars().count();
            let line = Line::from(vec![
                Span::styled(clock, t.muted),
                Span::raw(" "),
                Span::styled(mark, st),
                Span::raw(" "),
                Span::styled(
                    e.text.clone(),
                    if e.kind == LogKind::Info { t.hint } else { st },
                ),
            ]);
            // Continuation rows start under the text, after the time
            // and the mark.
            let indent = clock_w + 3;
            super::wrap_words(line, w, indent)
        })
        .collect();
    if entries.is_empty() {
        buf.set_stringn(
            inner.x,
            inner.y,
            "nothing yet: actions, AENs and path switches appear here",
            w,
            t.muted,
        );
        return;
    }
    // Whole entries only, newest at the bottom.
    let mut rows: Vec<Line> = Vec::new();
    for e in entries.into_iter().rev() {
        if rows.len() + e.len() > h {
            if rows.is_empty() {
                // The newest entry alone is too long: its beginning.
                rows.extend(e.into_iter().take(h).rev());
            }
            break;
        }
        for l in e.into_iter().rev() {
            rows.push(l);
        }
    }
    rows.reverse();
    let skip = rows.len().saturating_sub(h);
    Paragraph::new(rows[skip..].to_vec()).render(inner, buf);
}

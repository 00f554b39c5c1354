//! Events: every action as its `spdk-rpc` command line with the reply,
//! and what the initiator saw (AENs, ANA log reads, path switches,
//! reconnects) and each failover's stall, in time order.
//!
//! Scrolling: following, the last page shows, newest at the bottom; `g`
//! puts the oldest entry at the top and `j`/`k` move from there, a page
//! of whole entries at a time being the most a view can hold; past the
//! last page the pane follows again (`G` goes straight there).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::frame;
use crate::ui::app::{App, Pane};
use crate::ui::fmt;
use crate::ui::snapshot::Snapshot;
use crate::ui::snapshot::{LogEntry, LogKind};
use crate::ui::theme::Theme;

/// One entry as the rows it takes at width `w`.
fn entry_rows(e: &LogEntry, t: &Theme, w: usize) -> Vec<Line<'static>> {
    // Milliseconds matter (failover timing) unless the pane is narrow.
    let short = w < 60;
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
    // Continuation rows start under the text, after the time and the mark.
    super::wrap_words(line, w, clock_w + 3)
}

/// The first entry of the last page: as many whole entries from the
/// newest back as fit in `w`×`h` (at least the newest).
pub fn last_page_top(app: &App, w: u16, h: u16) -> usize {
    let ev = app.merged_events();
    let (w, h) = (usize::from(w), usize::from(h));
    let mut used = 0;
    let mut top = ev.len();
    for (i, e) in ev.iter().enumerate().rev() {
        let n = entry_rows(e, &app.theme, w).len();
        if used + n > h && top < ev.len() {
            break;
        }
        used += n;
        top = i;
        if used >= h {
            break;
        }
    }
    top.min(ev.len().saturating_sub(1))
}

pub fn render(_s: &Snapshot, app: &App, r: Rect, focused: bool, buf: &mut Buffer) {
    let t = &app.theme;
    let ev = app.merged_events();
    // The border takes a row or column on each side.
    let (iw, ih) = (r.width.saturating_sub(2), r.height.saturating_sub(2));
    let last = last_page_top(app, iw, ih);
    let top = app.events_top.map_or(last, |x| x.min(last));
    let note = if top < last {
        Line::styled(format!(" {} of {} (G: newest) ", top + 1, ev.len()), t.warn)
    } else {
        Line::styled(format!(" {} ", ev.len()), t.muted)
    };
    let block = frame(t, Pane::Events.title(), focused, Some(note), None);
    let inner = block.inner(r);
    block.render(r, buf);
    let (w, h) = (usize::from(inner.width), usize::from(inner.height));
    if h == 0 {
        return;
    }
    if ev.is_empty() {
        buf.set_stringn(
            inner.x,
            inner.y,
            "nothing yet: actions, AENs and path switches appear here",
            w,
            t.muted,
        );
        return;
    }
    let mut rows: Vec<Line> = Vec::new();
    for e in &ev[top..] {
        if rows.len() >= h {
            break;
        }
        rows.extend(entry_rows(e, t, w));
    }
    // The last page's newest entry alone may be taller than the pane:
    // its beginning shows.
    rows.truncate(h);
    Paragraph::new(rows).render(inner, buf);
}

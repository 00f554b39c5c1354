//! Rendering: one file per pane, each a pure function of the snapshot and
//! the app state into a buffer area. [`draw`] lays them out.

pub mod conns;
pub mod events;
pub mod footer;
pub mod header;
pub mod listeners;
pub mod load;
pub mod overlay;
pub mod paths;
pub mod subsystems;
pub mod walkthrough;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Widget, Wrap};

use super::app::{App, Pane};
use super::layout::{self, MIN_H, MIN_W};
use super::snapshot::Snapshot;
use super::theme::Theme;

/// Draws the whole screen into `buf` (its area is the terminal).
/// Returns where the cursor goes (the `:` line), if anywhere.
pub fn draw(snap: &Snapshot, app: &App, buf: &mut Buffer) -> Option<(u16, u16)> {
    let area = buf.area;
    let t = &app.theme;
    buf.set_style(area, t.base);
    let areas = layout::compute(area.width, area.height, app);
    if areas.too_small {
        too_small(area, t, buf);
        return None;
    }
    header::render(snap, app, areas.header, buf);
    if let Some(r) = areas.walk {
        walkthrough::render(snap, app, r, buf);
    }
    for (p, r) in &areas.panes {
        let focused = app.focus == *p;
        match p {
            Pane::Subsystems => subsystems::render(snap, app, *r, focused, buf),
            Pane::Listeners => listeners::render(snap, app, *r, focused, buf),
            Pane::Paths => paths::render(snap, app, *r, focused, buf),
            Pane::Conns => conns::render(snap, app, *r, focused, buf),
            Pane::Load => load::render(snap, app, *r, focused, buf),
            Pane::Events => events::render(snap, app, *r, focused, buf),
        }
    }
    let cursor = footer::render(snap, app, areas.footer, area, buf);
    overlay::render(snap, app, area, buf);
    cursor
}

fn too_small(area: Rect, t: &Theme, buf: &mut Buffer) {
    let msg = vec![
        Line::styled("Terminal too small", t.err),
        Line::from(format!(
            "{}×{}, need at least {MIN_W}×{MIN_H}",
            area.width, area.height
        )),
        Line::styled("enlarge the window, or q to quit", t.muted),
    ];
    let y = area.y + area.height.saturating_sub(3) / 2;
    let r = Rect::new(area.x, y, area.width, area.height.min(3));
    Paragraph::new(msg)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true })
        .render(r, buf);
}

/// A pane's frame: rounded border, title (bold when focused), an
/// optional right-hand note, and a stale marker.
pub(crate) fn frame<'a>(
    t: &Theme,
    title: &'a str,
    focused: bool,
    note: Option<Line<'a>>,
    stale: Option<&'a str>,
) -> Block<'a> {
    let (bs, ts) = if focused {
        (t.border_focused, t.title_focused)
    } else {
        (t.border, t.title)
    };
    let mut title_line = vec![Span::styled(format!(" {title} "), ts)];
    if let Some(e) = stale {
        title_line.push(Span::styled(
            format!("stale: {} ", super::fmt::truncate(e, 60)),
            t.err,
        ));
    }
    let mut b = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(bs)
        .title(Line::from(title_line));
    if let Some(n) = note {
        b = b.title_top(n.right_aligned());
    }
    b
}

/// Greys out what was drawn in `r` (last good data of an unreachable app).
pub(crate) fn grey(r: Rect, t: &Theme, buf: &mut Buffer) {
    buf.set_style(r, t.stale);
}

/// A column of a hand-drawn table.
pub(crate) struct Col {
    pub title: &'static str,
    pub width: u16,
    pub right: bool,
}

pub(crate) const fn col(title: &'static str, width: u16) -> Col {
    Col {
        title,
        width,
        right: false,
    }
}

pub(crate) const fn rcol(title: &'static str, width: u16) -> Col {
    Col {
        title,
        width,
        right: true,
    }
}

/// Keeps the columns that fit in `w` (in priority order given by
/// `prio`, lower first), preserving display order. Returns their indices.
pub(crate) fn fit(cols: &[Col], prio: &[usize], w: u16) -> Vec<usize> {
    let mut keep: Vec<usize> = Vec::new();
    let mut used = 0u16;
    for &i in prio {
        let need = cols[i].width + u16::from(!keep.is_empty());
        if used + need <= w {
            used += need;
            keep.push(i);
        }
    }
    keep.sort_unstable();
    keep
}

/// Writes one cell, cut or padded to `w`.
pub(crate) fn put(buf: &mut Buffer, x: u16, y: u16, w: u16, spans: &[Span], right: bool) {
    let text_w: usize = spans.iter().map(|s| s.width()).sum();
    let mut cx = x;
    if right && text_w < usize::from(w) {
        cx += w - text_w as u16;
    }
    let end = x + w;
    for s in spans {
        if cx >= end {
            break;
        }
        let (nx, _) = buf.set_stringn(cx, y, s.content.as_ref(), usize::from(end - cx), s.style);
        cx = nx;
    }
}

/// Header row of a table, in `t.header`.
pub(crate) fn header_row(buf: &mut Buffer, r: Rect, cols: &[Col], keep: &[usize], t: &Theme) {
    let mut x = r.x;
    for &i in keep {
        let c = &cols[i];
        put(
            buf,
            x,
            r.y,
            c.width.min(r.right().saturating_sub(x)),
            &[Span::styled(c.title, t.header)],
            c.right,
        );
        x += c.width + 1;
    }
}

/// Draws data rows; `cells(row, col)` gives the spans of a cell.
#[allow(clippy::too_many_arguments)]
pub(crate) fn rows(
    buf: &mut Buffer,
    r: Rect,
    cols: &[Col],
    keep: &[usize],
    n: usize,
    sel: Option<usize>,
    focused: bool,
    t: &Theme,
    mut cells: impl FnMut(usize, usize) -> Vec<Span<'static>>,
) {
    let visible = usize::from(r.height);
    let off = layout::scroll_offset(sel.unwrap_or(0), n, visible);
    for (k, row) in (off..n).take(visible).enumerate() {
        let y = r.y + k as u16;
        if sel == Some(row) {
            let st = if focused {
                t.selected
            } else {
                t.selected_unfocused
            };
            buf.set_style(Rect::new(r.x, y, r.width, 1), st);
        }
        let mut x = r.x;
        for &i in keep {
            let c = &cols[i];
            let w = c.width.min(r.right().saturating_sub(x));
            put(buf, x, y, w, &cells(row, i), c.right);
            x += c.width + 1;
        }
    }
    if n > visible && r.width > 0 {
        // Scroll hint in the last column.
        let more_above = off > 0;
        let more_below = off + visible < n;
        let x = r.right() - 1;
        if more_above {
            buf.set_string(x, r.y, "▲", t.muted);
        }
        if more_below {
            buf.set_string(x, r.bottom() - 1, "▼", t.muted);
        }
    }
}

/// ✓ / ✗ in ok/err style.
pub(crate) fn tick(b: bool, t: &Theme) -> Span<'static> {
    if b {
        Span::styled("✓", t.ok)
    } else {
        Span::styled("✗", t.err)
    }
}

pub(crate) fn bold(s: Style) -> Style {
    s.add_modifier(Modifier::BOLD)
}

/// Breaks lines into rows of at most `w` columns (character wrap,
/// continuation rows indented by two).
pub(crate) fn wrap_lines(lines: Vec<Line<'static>>, w: usize) -> Vec<Line<'static>> {
    use unicode_width::UnicodeWidthChar;
    let mut out = Vec::new();
    if w < 4 {
        return lines;
    }
    for l in lines {
        let mut row: Vec<Span<'static>> = Vec::new();
        let mut used = 0usize;
        for sp in l.spans {
            let mut cur = String::new();
            for ch in sp.content.chars() {
                let cw = ch.width().unwrap_or(0);
                if used + cw > w {
                    if !cur.is_empty() {
                        row.push(Span::styled(std::mem::take(&mut cur), sp.style));
                    }
                    out.push(Line::from(std::mem::take(&mut row)));
                    row.push(Span::raw("  "));
                    used = 2;
                }
                cur.push(ch);
                used += cw;
            }
            if !cur.is_empty() {
                row.push(Span::styled(cur, sp.style));
            }
        }
        out.push(Line::from(row));
    }
    out
}

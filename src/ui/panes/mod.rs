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
pub mod picker;
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
    picker::render(app, area, buf);
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
/// A `w` × `h` box centred in `area`, kept a cell inside its edges.
pub(crate) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2));
    let h = h.min(area.height.saturating_sub(2));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

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

/// Header row of a table, in `t.header`; the column sorted by (`sort`:
/// its index, descending or not) with its arrow.
pub(crate) fn header_row(
    buf: &mut Buffer,
    r: Rect,
    cols: &[Col],
    keep: &[usize],
    sort: Option<(usize, bool)>,
    t: &Theme,
) {
    let mut x = r.x;
    for &i in keep {
        let c = &cols[i];
        let arrow = match sort {
            Some((col, desc)) if col == i => {
                if desc {
                    "▼"
                } else {
                    "▲"
                }
            }
            _ => "",
        };
        put(
            buf,
            x,
            r.y,
            c.width.min(r.right().saturating_sub(x)),
            &[Span::styled(format!("{}{arrow}", c.title), t.header)],
            c.right,
        );
        x += c.width + 1;
    }
}

/// The sort mark of pane `p`'s header row: the column and the way.
pub(crate) fn sort_mark(app: &App, p: Pane) -> Option<(usize, bool)> {
    app.views.get(p).sort_key(p).map(|k| (k.col, k.numeric))
}

/// A table pane's title: its name, then its `/` filter (with a cursor
/// while typed) and how many rows pass it.
pub(crate) fn table_title(app: &App, p: Pane, title: &str, shown: usize, of: usize) -> String {
    let v = app.views.get(p);
    let editing = app.focus == p && app.views.editing.is_some();
    if v.filter.is_empty() && !editing {
        return title.to_string();
    }
    let cursor = if editing { "▏" } else { "" };
    format!("{title} /{}{cursor} ({shown} of {of})", v.filter)
}

/// Marks rows cut off a table in its frame's bottom border: `↑ n` when
/// scrolled past rows, `↓ n more` when rows are below. `pane` is the
/// whole pane (border included); `off` the first row shown.
pub(crate) fn overflow(
    buf: &mut Buffer,
    pane: Rect,
    t: &Theme,
    n: usize,
    off: usize,
    visible: usize,
) {
    if pane.height < 2 || pane.width < 12 {
        return;
    }
    let y = pane.bottom() - 1;
    let below = n.saturating_sub(off + visible);
    if off > 0 {
        buf.set_stringn(
            pane.x + 2,
            y,
            format!(" ↑ {off} "),
            usize::from(pane.width - 4),
            t.accent,
        );
    }
    if below > 0 {
        let text = format!(" ↓ {below} more ");
        let w = text.chars().count() as u16;
        if w + 4 <= pane.width {
            buf.set_string(pane.right() - 2 - w, y, text, t.accent);
        }
    }
}

/// Draws data rows; `cells(row, col)` gives the spans of a cell.
/// Returns the first row shown (rows above it are scrolled off).
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
) -> usize {
    let visible = usize::from(r.height);
    let off = layout::scroll_offset(sel.unwrap_or(0), n, visible);
    for (k, row) in (off..n).take(visible).enumerate() {
        let y = r.y + k as u16;
        let mut x = r.x;
        for &i in keep {
            let c = &cols[i];
            let w = c.width.min(r.right().saturating_sub(x));
            put(buf, x, y, w, &cells(row, i), c.right);
            x += c.width + 1;
        }
        if sel == Some(row) {
            // After the cells, over the whole row, dimmed cells included.
            let st = if focused {
                t.selected
            } else {
                t.selected_unfocused
            };
            mpath_widgets::highlight_row(buf, Rect::new(r.x, y, r.width, 1), st, &t.w);
        }
    }
    off
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

/// Word-wraps one line into rows of at most `w` columns, as a log or a
/// commit message reads best (gitui wraps prose; tables truncate):
/// breaks at spaces, continuation rows indented by `indent` (a hanging
/// indent, e.g. under the text after a timestamp; 2 when that leaves
/// too little room), and only a word longer than a whole row is cut.
/// Styles carry over.
pub(crate) fn wrap_words(line: Line<'static>, w: usize, indent: usize) -> Vec<Line<'static>> {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    if w < 4 {
        return vec![line];
    }
    let indent = if w.saturating_sub(indent) < 16 {
        2
    } else {
        indent
    };
    // Runs of spaces and of non-spaces, each a list of styled pieces (a
    // word may span several spans).
    let mut items: Vec<(bool, Vec<(String, Style)>)> = Vec::new();
    for sp in &line.spans {
        for ch in sp.content.chars() {
            let space = ch == ' ';
            match items.last_mut() {
                Some((s, pieces)) if *s == space => match pieces.last_mut() {
                    Some((t, st)) if *st == sp.style => t.push(ch),
                    _ => pieces.push((ch.to_string(), sp.style)),
                },
                _ => items.push((space, vec![(ch.to_string(), sp.style)])),
            }
        }
    }
    fn push(row: &mut Vec<Span<'static>>, text: &str, style: Style) {
        match row.last_mut() {
            Some(last) if last.style == style => last.content.to_mut().push_str(text),
            _ => row.push(Span::styled(text.to_string(), style)),
        }
    }
    let width = |p: &[(String, Style)]| p.iter().map(|(t, _)| t.width()).sum::<usize>();
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut row: Vec<Span<'static>> = Vec::new();
    let mut used = 0usize;
    let mut has_word = false;
    let mut space: Vec<(String, Style)> = Vec::new();
    let newline = |out: &mut Vec<Line<'static>>, row: &mut Vec<Span<'static>>| {
        out.push(Line::from(std::mem::take(row)));
        row.push(Span::raw(" ".repeat(indent)));
    };
    for (is_space, pieces) in items {
        if is_space {
            space = pieces;
            continue;
        }
        let (sw, ww) = (width(&space), width(&pieces));
        if used + sw + ww <= w {
            for (t, st) in space.drain(..).chain(pieces) {
                push(&mut row, &t, st);
            }
            used += sw + ww;
            has_word = true;
            continue;
        }
        space.clear();
        if has_word {
            newline(&mut out, &mut row);
            used = indent;
        }
        has_word = true;
        if used + ww <= w {
            for (t, st) in pieces {
                push(&mut row, &t, st);
            }
            used += ww;
            continue;
        }
        // Longer than a row: cut it where the row ends.
        for (t, st) in pieces {
            for ch in t.chars() {
                let cw = ch.width().unwrap_or(0);
                if used + cw > w {
                    newline(&mut out, &mut row);
                    used = indent;
                }
                push(&mut row, ch.encode_utf8(&mut [0; 4]), st);
                used += cw;
            }
        }
    }
    out.push(Line::from(row));
    out
}

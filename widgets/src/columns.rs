//! Column placement and the frame shared by the two tables.
//!
//! ratatui's `Table` lays columns out with its constraint solver and keeps
//! every column; our tables instead drop whole columns, least useful first,
//! when the pane is narrow (bandwhich does the same), and size the rest to
//! their contents. That is a few lines of arithmetic, done here once.

use ratatui_core::buffer::Buffer;
use ratatui_core::layout::Rect;
use ratatui_core::style::{Color, Modifier, Style};
use ratatui_core::text::{Line, Span};
use ratatui_core::widgets::Widget;
use ratatui_widgets::block::Block;

use crate::theme::Theme;

/// Columns between two columns.
pub(crate) const GAP: u16 = 1;

/// One column's needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Col {
    /// Below this the column is dropped rather than shown.
    pub min: u16,
    /// What its contents want; spare room is shared out up to this.
    pub pref: u16,
    /// Columns with a higher rank are dropped first; 0 is never dropped.
    pub drop: u8,
    /// Among the kept columns, the lower rank gets spare room first; by
    /// default the same as `drop`. A column can be kept always and still
    /// wait its turn for room (a long name should not starve an address).
    pub grow: u8,
}

impl Col {
    pub(crate) const fn new(min: u16, pref: u16, drop: u8) -> Col {
        Col {
            min,
            pref,
            drop,
            grow: drop,
        }
    }

    pub(crate) const fn grow(self, grow: u8) -> Col {
        Col { grow, ..self }
    }

    pub(crate) const fn fixed(width: u16, drop: u8) -> Col {
        Col::new(width, width, drop)
    }
}

/// Places the columns left to right in `width` cells: each kept column as
/// (x offset, width). Columns are dropped by rank until the minimums fit; if
/// even the undroppable ones do not fit, they are cut at the right edge.
pub(crate) fn place<const N: usize>(cols: &[Col; N], width: u16) -> [Option<(u16, u16)>; N] {
    place_shown(cols, width, [true; N])
}

/// [`place`] with the columns whose `shown` is false left out from the
/// start (a column no row has anything for takes no room).
pub(crate) fn place_shown<const N: usize>(
    cols: &[Col; N],
    width: u16,
    shown: [bool; N],
) -> [Option<(u16, u16)>; N] {
    let mut on = shown;
    let need = |on: &[bool; N]| -> u32 {
        let (sum, n) = cols
            .iter()
            .zip(on)
            .filter(|(_, &on)| on)
            .fold((0u32, 0u32), |(s, n), (c, _)| (s + u32::from(c.min), n + 1));
        sum + u32::from(GAP) * n.saturating_sub(1)
    };
    while need(&on) > u32::from(width) {
        // The highest rank goes first; on a tie, the rightmost.
        let victim = (0..N)
            .filter(|&i| on[i] && cols[i].drop > 0)
            .max_by_key(|&i| (cols[i].drop, i));
        match victim {
            Some(i) => on[i] = false,
            None => break,
        }
    }
    let mut widths = [0u32; N];
    for i in 0..N {
        if on[i] {
            widths[i] = u32::from(cols[i].min);
        }
    }
    let mut spare = u32::from(width).saturating_sub(need(&on));
    let mut order: [usize; N] = std::array::from_fn(|i| i);
    order.sort_by_key(|&i| (cols[i].grow, i));
    for i in order {
        if on[i] {
            let add = u32::from(cols[i].pref.saturating_sub(cols[i].min)).min(spare);
            widths[i] += add;
            spare -= add;
        }
    }
    let mut out = [None; N];
    let mut x = 0u32;
    for i in 0..N {
        if !on[i] {
            continue;
        }
        if x >= u32::from(width) {
            break;
        }
        let w = widths[i].min(u32::from(width) - x);
        // Both fit in u16: they are at most `width`.
        out[i] = Some((x as u16, w as u16));
        x += widths[i] + u32::from(GAP);
    }
    out
}

/// A column heading: the long form when it fits, else the short one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head {
    pub long: &'static str,
    pub short: &'static str,
    /// Numbers are right-aligned, and so are their headings.
    pub right: bool,
}

impl Head {
    pub(crate) const fn left(long: &'static str, short: &'static str) -> Head {
        Head {
            long,
            short,
            right: false,
        }
    }

    pub(crate) const fn right(long: &'static str, short: &'static str) -> Head {
        Head {
            long,
            short,
            right: true,
        }
    }
}

/// The column a table is sorted by, and the way: the heading gets an
/// arrow (▲ ascending, ▼ descending).
pub type SortMark = Option<(usize, bool)>;

/// Paints the header row and writes each placed column's heading, the
/// sorted one with its arrow.
pub(crate) fn draw_header<const N: usize>(
    buf: &mut Buffer,
    row: Rect,
    place: &[Option<(u16, u16)>; N],
    heads: &[Head; N],
    style: Style,
    sort: SortMark,
) {
    crate::text::paint(buf, row, style);
    for (i, (p, head)) in place.iter().zip(heads).enumerate() {
        let Some((x, w)) = *p else { continue };
        let x = row.x + x;
        let arrow = match sort {
            Some((c, desc)) if c == i => {
                if desc {
                    "▼"
                } else {
                    "▲"
                }
            }
            _ => "",
        };
        let fits = |t: &str| crate::text::width(t) + crate::text::width(arrow) <= usize::from(w);
        let base = if fits(head.long) {
            head.long
        } else {
            head.short
        };
        let text = format!("{base}{arrow}");
        if head.right {
            crate::text::put_right(buf, x, row.y, &text, w, Style::new());
        } else {
            crate::text::put(buf, x, row.y, &text, w, Style::new(), crate::text::Cut::End);
        }
    }
}

/// The first row to show so that `selected` is on screen, given `visible`
/// rows of `len`. Without scroll state the view moves only as far as needed
/// to bring the selection into view from the top.
pub(crate) fn scroll_offset(selected: Option<usize>, len: usize, visible: usize) -> usize {
    match selected {
        Some(s) if s < len && visible > 0 => (s + 1).saturating_sub(visible),
        _ => 0,
    }
}

/// The bordered pane around a table, styled for focus, with an optional
/// title and, when not every row fits, a "first-last of n" counter at the
/// bottom right.
pub(crate) fn pane<'a>(
    theme: &Theme,
    focused: bool,
    title: Option<&'a str>,
    counter: Option<String>,
) -> Block<'a> {
    let border = if focused {
        theme.border_focused
    } else {
        theme.border
    };
    let mut block = Block::bordered().border_style(border);
    if let Some(t) = title {
        block = block.title(Line::from(vec![
            Span::raw(" "),
            Span::styled(t, theme.title),
            Span::raw(" "),
        ]));
    }
    if let Some(c) = counter {
        block = block.title_bottom(Line::from(c).right_aligned());
    }
    block
}

/// The area inside the pane's border, if it has one.
pub(crate) fn inner(area: Rect, bordered: bool) -> Rect {
    if bordered {
        Block::bordered().inner(area)
    } else {
        area
    }
}

/// Rows of a table that fit in `area` below the header.
pub(crate) fn page_size(area: Rect, bordered: bool) -> usize {
    usize::from(inner(area, bordered).height.saturating_sub(1))
}

/// Everything a table needs to know about where its rows go.
pub(crate) struct TableFrame {
    /// The header row.
    pub header: Rect,
    /// The rows below the header.
    pub body: Rect,
    /// Index of the first row shown.
    pub offset: usize,
}

/// Clips `area` to the buffer, paints the base style, draws the pane (if
/// `bordered`) and works out the header, body and scroll offset. `None`
/// when there is nothing to draw into.
#[allow(clippy::too_many_arguments)] // one call site per table; a struct would only rename them
pub(crate) fn frame(
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
    focused: bool,
    bordered: bool,
    title: Option<&str>,
    len: usize,
    selected: Option<usize>,
) -> Option<TableFrame> {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return None;
    }
    crate::text::paint(buf, area, theme.base);
    let inner = inner(area, bordered);
    let visible = usize::from(inner.height.saturating_sub(1));
    let offset = scroll_offset(selected, len, visible);
    if bordered {
        let counter = (len > visible && visible > 0).then(|| {
            let last = (offset + visible).min(len);
            format!(" {}-{last} of {len} ", offset + 1)
        });
        pane(theme, focused, title, counter).render(area, buf);
    }
    if inner.is_empty() {
        return None;
    }
    let header = Rect { height: 1, ..inner };
    let body = Rect {
        y: inner.y + 1,
        height: inner.height - 1,
        ..inner
    };
    Some(TableFrame {
        header,
        body,
        offset,
    })
}

/// Patches a row selection `style` over `area` so that it covers every
/// cell alike. Under reversed video a cell's foreground becomes its
/// background, so a cell drawn in the theme's `dim` (a muted foreground,
/// or the `DIM` modifier) would show as a dark patch inside the highlight,
/// and under a selection background it could vanish: such cells go back
/// to the base foreground first. Other colours (ANA badges, the current
/// path's star) keep theirs. A quiet selection (no reverse, no
/// background: underline) is patched over as it is.
pub fn highlight_row(buf: &mut Buffer, area: Rect, style: Style, theme: &Theme) {
    let area = area.intersection(buf.area);
    let loud = style.add_modifier.contains(Modifier::REVERSED) || style.bg.is_some();
    let dim_fg = theme.dim.fg.filter(|c| *c != Color::Reset);
    let plain = theme.base.fg.unwrap_or(Color::Reset);
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let cell = &mut buf[(x, y)];
            if loud {
                let dimmed = dim_fg.is_some_and(|c| cell.fg == c);
                if dimmed || cell.modifier.contains(Modifier::DIM) {
                    cell.set_fg(plain);
                    cell.modifier.remove(Modifier::DIM);
                }
            }
            cell.set_style(style);
        }
    }
}

/// Paints a selected row: the focused selection is loud, the unfocused one
/// quiet, so the pane with the keyboard is obvious.
pub(crate) fn selection_style(theme: &Theme, focused: bool) -> Style {
    if focused {
        theme.selected_row
    } else {
        theme.selected_row_unfocused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_highlight_covers_dim_cells_too() {
        let theme = Theme::dark();
        let row = Rect::new(0, 0, 12, 1);
        let paint = |style: Style| {
            let mut buf = Buffer::empty(Rect::new(0, 0, 12, 2));
            buf.set_string(0, 0, "dim", theme.dim);
            buf.set_string(4, 0, "DIM", Style::new().dim());
            buf.set_string(8, 0, "ok", theme.ok);
            buf.set_string(0, 1, "dim", theme.dim);
            highlight_row(&mut buf, row, style, &theme);
            buf
        };
        let buf = paint(theme.selected_row);
        for x in 0..12 {
            let c = &buf[(x, 0)];
            assert!(c.modifier.contains(Modifier::REVERSED), "{x}: {c:?}");
            assert!(!c.modifier.contains(Modifier::DIM), "{x}: {c:?}");
        }
        // Reversed, a dim foreground would paint a grey patch: plain now.
        assert_eq!(buf[(0, 0)].fg, Color::Reset);
        assert_eq!(buf[(4, 0)].fg, Color::Reset);
        // Other colours stay; rows outside the area are untouched.
        assert_eq!(buf[(8, 0)].fg, Color::Green);
        assert_eq!(buf[(0, 1)].fg, Color::DarkGray);
        assert!(!buf[(0, 1)].modifier.contains(Modifier::REVERSED));
        // A quiet (underlined) selection leaves dim text dim.
        let buf = paint(theme.selected_row_unfocused);
        assert_eq!(buf[(0, 0)].fg, Color::DarkGray);
        assert!(buf[(0, 0)].modifier.contains(Modifier::UNDERLINED));
        // A selection background also brings dim text back.
        let buf = paint(Style::new().bg(Color::DarkGray));
        assert_eq!(buf[(0, 0)].fg, Color::Reset);
    }

    #[test]
    fn everything_fits() {
        let cols = [Col::fixed(3, 0), Col::new(2, 5, 1), Col::fixed(4, 2)];
        assert_eq!(
            place(&cols, 20),
            [Some((0, 3)), Some((4, 5)), Some((10, 4))]
        );
    }

    #[test]
    fn spare_room_goes_to_the_most_important_first() {
        let cols = [Col::new(2, 6, 2), Col::new(2, 6, 1)];
        // Minimums 2+1+2 = 5; 3 spare, all to the rank-1 column.
        assert_eq!(place(&cols, 8), [Some((0, 2)), Some((3, 5))]);
    }

    #[test]
    fn growth_order_can_differ_from_drop_order() {
        let cols = [Col::new(2, 6, 0).grow(3), Col::new(2, 6, 1)];
        assert_eq!(place(&cols, 8), [Some((0, 2)), Some((3, 5))]);
        assert_eq!(place(&cols, 12), [Some((0, 5)), Some((6, 6))]);
    }

    #[test]
    fn drops_by_rank_then_cuts() {
        let cols = [
            Col::fixed(4, 0),
            Col::fixed(4, 3),
            Col::fixed(4, 1),
            Col::fixed(4, 2),
        ];
        assert_eq!(
            place(&cols, 19),
            [Some((0, 4)), Some((5, 4)), Some((10, 4)), Some((15, 4))]
        );
        assert_eq!(
            place(&cols, 18),
            [Some((0, 4)), None, Some((5, 4)), Some((10, 4))]
        );
        assert_eq!(place(&cols, 9), [Some((0, 4)), None, Some((5, 4)), None]);
        assert_eq!(place(&cols, 8), [Some((0, 4)), None, None, None]);
        assert_eq!(place(&cols, 2), [Some((0, 2)), None, None, None]);
        assert_eq!(place(&cols, 0), [None; 4]);
    }

    #[test]
    fn undroppable_columns_are_cut_at_the_edge() {
        let cols = [Col::fixed(4, 0), Col::fixed(4, 0)];
        assert_eq!(place(&cols, 6), [Some((0, 4)), Some((5, 1))]);
        assert_eq!(place(&cols, 5), [Some((0, 4)), None]);
    }

    #[test]
    fn huge_widths_do_not_overflow() {
        let cols = [Col::new(u16::MAX, u16::MAX, 0), Col::fixed(u16::MAX, 0)];
        assert_eq!(place(&cols, u16::MAX), [Some((0, u16::MAX)), None]);
    }

    #[test]
    fn scroll_keeps_the_selection_in_view() {
        assert_eq!(scroll_offset(None, 10, 3), 0);
        assert_eq!(scroll_offset(Some(2), 10, 3), 0);
        assert_eq!(scroll_offset(Some(3), 10, 3), 1);
        assert_eq!(scroll_offset(Some(9), 10, 3), 7);
        assert_eq!(scroll_offset(Some(10), 10, 3), 0);
        assert_eq!(scroll_offset(Some(5), 10, 0), 0);
    }
}

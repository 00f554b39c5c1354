//! Width arithmetic and clipped text placement shared by the widgets.
//!
//! Everything here measures text exactly the way ratatui's
//! `Buffer::set_stringn` draws it: by grapheme, control characters and
//! zero-width graphemes dropped, widths from `CellWidth`. Measuring any other
//! way would let a column's contents overrun it by a cell whenever a wide or
//! combining character turns up in a controller name or an address.

use ratatui_core::buffer::{Buffer, CellWidth};
use ratatui_core::layout::Rect;
use ratatui_core::style::Style;
use unicode_segmentation::UnicodeSegmentation;

/// Marks text that was cut to fit.
pub(crate) const ELLIPSIS: &str = "…";

/// Shown for a value the caller does not have (`None`), which must never be
/// confused with a measured zero.
pub(crate) const NOT_AVAILABLE: &str = "n/a";

/// Where text that does not fit is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Keep the start: names, descriptions.
    End,
    /// Keep both ends: addresses, whose port is at the end.
    Middle,
}

/// The graphemes `set_stringn` would draw, as (byte offset, grapheme, width).
pub(crate) fn graphemes(s: &str) -> impl DoubleEndedIterator<Item = (usize, &str, u16)> {
    s.grapheme_indices(true)
        // Filter before measuring: `cell_width` debug-asserts on controls.
        .filter(|(_, g)| !g.contains(char::is_control))
        .map(|(i, g)| (i, g, g.cell_width()))
        .filter(|&(_, _, w)| w > 0)
}

/// Printable ASCII is one cell per byte, and most of what we draw
/// (numbers, IPv4 addresses, state names) is; for it we can skip grapheme
/// segmentation, which is most of the cost of drawing a table otherwise.
fn plain_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Display width of `s` as `set_stringn` would draw it.
pub(crate) fn width(s: &str) -> usize {
    if plain_ascii(s) {
        return s.len();
    }
    graphemes(s).map(|(_, _, w)| usize::from(w)).sum()
}

/// `Buffer::set_stringn`, returning the x after the last cell drawn.
fn draw(buf: &mut Buffer, x: u16, y: u16, s: &str, max: u16, style: Style) -> u16 {
    if plain_ascii(s) {
        let n = max.min(buf.area.right().saturating_sub(x));
        for (cx, b) in (x..x + n).zip(s.bytes()) {
            buf[(cx, y)].set_char(char::from(b)).set_style(style);
        }
        return x + n.min(u16::try_from(s.len()).unwrap_or(u16::MAX));
    }
    buf.set_stringn(x, y, s, usize::from(max), style).0
}

/// Draws `s` from (x, y) in at most `max` columns; when it does not fit it
/// is cut where `cut` says and the cut marked with an ellipsis. Returns the
/// columns used. (x, y) must lie in the buffer (or x just past its right
/// edge, where nothing is drawn).
pub(crate) fn put(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    s: &str,
    max: u16,
    style: Style,
    cut: Cut,
) -> u16 {
    if max == 0 {
        return 0;
    }
    if width(s) <= usize::from(max) {
        return draw(buf, x, y, s, max, style).saturating_sub(x);
    }
    let room = max - 1; // one column for the ellipsis
    let end = match cut {
        Cut::End => {
            let end = draw(buf, x, y, s, room, style);
            draw(buf, end, y, ELLIPSIS, 1, style)
        }
        Cut::Middle => {
            let head = room / 2;
            let tail = room - head;
            let end = draw(buf, x, y, s, head, style);
            let end = draw(buf, end, y, ELLIPSIS, 1, style);
            let start = tail_start(s, tail);
            draw(buf, end, y, &s[start..], tail, style)
        }
    };
    end.saturating_sub(x)
}

/// Draws `s` right-aligned in the `max` columns from x; cut at the end when
/// it does not fit.
pub(crate) fn put_right(buf: &mut Buffer, x: u16, y: u16, s: &str, max: u16, style: Style) {
    let w = width(s);
    if w <= usize::from(max) {
        // w <= max, which is a u16.
        let pad = max - w as u16;
        draw(buf, x.saturating_add(pad), y, s, max, style);
    } else {
        put(buf, x, y, s, max, style, Cut::End);
    }
}

/// `Buffer::set_style`, skipped when the style would change nothing: the
/// base style is usually empty, and restyling a whole pane cell by cell
/// for nothing is a good part of a frame's cost.
pub(crate) fn paint(buf: &mut Buffer, area: Rect, style: Style) {
    if style != Style::new() {
        buf.set_style(area, style);
    }
}

/// Byte offset where the longest suffix of `s` that fits in `cols` columns
/// starts (always a grapheme boundary).
fn tail_start(s: &str, cols: u16) -> usize {
    let mut used = 0u16;
    let mut start = s.len();
    for (i, _, w) in graphemes(s).rev() {
        match used.checked_add(w) {
            Some(u) if u <= cols => {
                used = u;
                start = i;
            }
            _ => break,
        }
    }
    start
}

/// The byte offset of char index `chars` in `s`, clamped to its length.
pub(crate) fn char_to_byte(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(i, _)| i)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the widgets' buffer tests.
    use ratatui_core::buffer::Buffer;
    use ratatui_core::layout::Rect;

    /// Row `y` of the buffer as text, the cells hidden behind a wide
    /// character skipped, so it reads as the terminal would show it.
    pub(crate) fn row(buf: &Buffer, y: u16) -> String {
        let mut out = String::new();
        let mut x = buf.area.x;
        while x < buf.area.right() {
            let sym = buf[(x, y)].symbol();
            out.push_str(sym);
            x += super::width(sym).max(1) as u16;
        }
        out
    }

    /// All rows, trailing blanks trimmed.
    pub(crate) fn lines(buf: &Buffer) -> Vec<String> {
        (buf.area.y..buf.area.bottom())
            .map(|y| row(buf, y).trim_end().to_string())
            .collect()
    }

    /// The column where `needle` starts in row `y`, by cell.
    pub(crate) fn find(buf: &Buffer, y: u16, needle: &str) -> Option<u16> {
        let first = needle.chars().next()?.to_string();
        (buf.area.x..buf.area.right())
            .find(|&x| buf[(x, y)].symbol() == first && row_from(buf, x, y).starts_with(needle))
    }

    fn row_from(buf: &Buffer, x: u16, y: u16) -> String {
        let mut b = Buffer::empty(Rect::new(0, 0, buf.area.right() - x, 1));
        for (i, cx) in (x..buf.area.right()).enumerate() {
            b[(i as u16, 0)] = buf[(cx, y)].clone();
        }
        row(&b, 0)
    }

    /// Renders through `f` into buffers of every width and height from 0 to
    /// `max`, and at offsets, to show that nothing panics.
    pub(crate) fn render_all_sizes(max: u16, mut f: impl FnMut(Rect, &mut Buffer)) {
        for w in 0..=max {
            for h in 0..=max {
                let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
                f(buf.area, &mut buf);
                // An area larger than, or outside, the buffer.
                let mut buf = Buffer::empty(Rect::new(3, 2, w, h));
                f(Rect::new(0, 0, w + 5, h + 5), &mut buf);
                f(Rect::new(w + 10, h + 10, w, h), &mut buf);
                // At the far corner of the coordinate space, where x + width
                // is u16::MAX and one more step would overflow.
                let corner = Rect::new(u16::MAX - w, u16::MAX - h, w, h);
                let mut buf = Buffer::empty(corner);
                f(corner, &mut buf);
                f(Rect::new(corner.x, corner.y, u16::MAX, u16::MAX), &mut buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(s: &str, max: u16, cut: Cut) -> (String, u16) {
        let mut buf = Buffer::empty(Rect::new(0, 0, 12, 1));
        let used = put(&mut buf, 1, 0, s, max, Style::new(), cut);
        (testing::row(&buf, 0), used)
    }

    #[test]
    fn widths_follow_the_buffer() {
        assert_eq!(width(""), 0);
        assert_eq!(width("abc"), 3);
        assert_eq!(width("状态"), 4);
        assert_eq!(width("e\u{301}"), 1);
        assert_eq!(width("a\x1bb\n"), 2);
        assert_eq!(width("★"), 1);
    }

    #[test]
    fn cuts_at_the_end_with_an_ellipsis() {
        assert_eq!(
            draw("controller", 20, Cut::End),
            (" controller ".into(), 10)
        );
        assert_eq!(draw("controller", 5, Cut::End), (" cont…      ".into(), 5));
        assert_eq!(draw("controller", 1, Cut::End), (" …          ".into(), 1));
        assert_eq!(draw("controller", 0, Cut::End), ("            ".into(), 0));
        // A wide character that does not fit before the ellipsis is dropped
        // whole, never split.
        assert_eq!(draw("状态状态", 4, Cut::End), (" 状…        ".into(), 3));
    }

    #[test]
    fn cuts_in_the_middle_keeping_both_ends() {
        assert_eq!(
            draw("127.0.0.1:4420", 9, Cut::Middle),
            (" 127.…4420  ".into(), 9)
        );
        assert_eq!(draw("ab状态cd", 5, Cut::Middle), (" ab…cd      ".into(), 5));
        // The tail's half is too narrow for "态cd": the cut stays on a grapheme
        // boundary and the column is left one short.
        assert_eq!(draw("ab状态cd", 6, Cut::Middle), (" ab…cd      ".into(), 5));
    }

    #[test]
    fn the_ascii_fast_path_draws_what_set_stringn_draws() {
        let style = Style::new().fg(ratatui_core::style::Color::Red);
        for s in ["", "a", "127.0.0.1:4420", "x y z ~"] {
            for (x, max) in [(0, 0), (0, 3), (2, 40), (9, 5), (10, 5), (12, 1)] {
                let mut ours = Buffer::empty(Rect::new(0, 0, 10, 1));
                let mut theirs = ours.clone();
                let end = super::draw(&mut ours, x, 0, s, max, style);
                let (want, _) = theirs.set_stringn(x, 0, s, usize::from(max), style);
                assert_eq!(ours, theirs, "{s:?} at {x} in {max}");
                assert_eq!(end, want, "{s:?} at {x} in {max}");
            }
        }
    }

    #[test]
    fn right_aligns_and_cuts() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 6, 2));
        put_right(&mut buf, 0, 0, "42", 6, Style::new());
        put_right(&mut buf, 0, 1, "1234567", 6, Style::new());
        assert_eq!(testing::lines(&buf), ["    42", "12345…"]);
    }

    #[test]
    fn drawing_past_the_right_edge_is_harmless() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 3, 1));
        put(&mut buf, 3, 0, "abcdef", 5, Style::new(), Cut::Middle);
        put(&mut buf, 1, 0, "abcdef", 9, Style::new(), Cut::Middle);
        put_right(&mut buf, 2, 0, "12", u16::MAX, Style::new());
        assert_eq!(testing::row(&buf, 0), " ab");
    }

    #[test]
    fn char_indices_map_to_bytes() {
        assert_eq!(char_to_byte("aé状b", 0), 0);
        assert_eq!(char_to_byte("aé状b", 2), 3);
        assert_eq!(char_to_byte("aé状b", 3), 6);
        assert_eq!(char_to_byte("aé状b", 99), 7);
    }
}

//! The `:` command line: a prompt, the text being edited, a completion menu
//! above it and the last command's result or error.
//!
//! ```text
//!  bdev_nvme_get_io_paths             <- completion menu (popup style)
//!  bdev_nvme_set_multipath_policy     <- selected completion
//! error: unknown method               <- message line
//! :bdev_nvme_█                        <- prompt line, cursor
//! ```
//!
//! The app owns the editing state (text, cursor, completions); this only
//! draws it. Everything is anchored to the bottom of the area given: the
//! prompt on the last row, the message on the row above it, the menu above
//! the prompt (over the message while it is open). Pass an area that
//! reaches up as far as the menu may cover (the whole frame will do); rows
//! not needed are left untouched.

use ratatui_core::buffer::{Buffer, CellWidth};
use ratatui_core::layout::Rect;
use ratatui_core::style::Style;
use ratatui_core::widgets::Widget;
use ratatui_widgets::clear::Clear;
use unicode_segmentation::UnicodeSegmentation;

use crate::columns::scroll_offset;
use crate::text::{self, Cut, ELLIPSIS};
use crate::theme::Theme;

/// Shown in place of a control character in the text (a pasted tab, say),
/// so that every character the cursor can stand on takes a cell.
const REPLACEMENT: &str = "\u{FFFD}";

/// The command line.
#[derive(Clone, Copy, Debug)]
pub struct CommandLine<'a> {
    pub text: &'a str,
    /// The cursor, in chars (not bytes, not columns) from the start of
    /// `text`; clamped to its length.
    pub cursor: usize,
    pub completions: &'a [String],
    pub selected_completion: Option<usize>,
    /// The last result, `(is_error, text)`. Only the first line is shown.
    pub message: Option<(bool, &'a str)>,
    /// Editing: prompt, cursor and menu are drawn. When not, the last row
    /// shows only the message (a status line).
    pub active: bool,
    pub prompt: &'a str,
    /// Most completion rows shown at once; the menu scrolls past that.
    pub max_completions: u16,
    pub theme: &'a Theme,
}

/// Where things go in the area.
struct Layout {
    /// The last row.
    line: Rect,
    /// Where the text starts, after the prompt, and the columns it has.
    text_x: u16,
    avail: u16,
    /// Columns of text scrolled off the left.
    scroll: usize,
    /// The cursor's column in the whole text.
    cursor_col: usize,
}

impl<'a> CommandLine<'a> {
    pub fn new(text: &'a str, cursor: usize, theme: &'a Theme) -> CommandLine<'a> {
        CommandLine {
            text,
            cursor,
            completions: &[],
            selected_completion: None,
            message: None,
            active: true,
            prompt: ":",
            max_completions: 8,
            theme,
        }
    }

    #[must_use]
    pub fn completions(
        self,
        completions: &'a [String],
        selected: Option<usize>,
    ) -> CommandLine<'a> {
        CommandLine {
            completions,
            selected_completion: selected,
            ..self
        }
    }

    #[must_use]
    pub fn message(self, is_error: bool, text: &'a str) -> CommandLine<'a> {
        CommandLine {
            message: Some((is_error, text)),
            ..self
        }
    }

    #[must_use]
    pub fn active(self, active: bool) -> CommandLine<'a> {
        CommandLine { active, ..self }
    }

    #[must_use]
    pub fn prompt(self, prompt: &'a str) -> CommandLine<'a> {
        CommandLine { prompt, ..self }
    }

    #[must_use]
    pub fn max_completions(self, max: u16) -> CommandLine<'a> {
        CommandLine {
            max_completions: max,
            ..self
        }
    }

    /// Rows to reserve at the bottom of the screen, not counting the menu
    /// (which overlays what is above): the prompt, and the message line
    /// when editing with a message to show.
    pub fn height(&self) -> u16 {
        if self.active && self.message.is_some() {
            2
        } else {
            1
        }
    }

    /// Where the terminal cursor belongs (for `Frame::set_cursor_position`)
    /// when drawn into `area` (the same area, inside the frame): on the
    /// character the cursor is before, kept in view by scrolling the text.
    /// Always inside `area` unless it is empty. Only meaningful while
    /// `active`; hide the cursor otherwise.
    pub fn cursor_position(&self, area: Rect) -> (u16, u16) {
        match self.layout(area) {
            Some(l) if l.avail > 0 => {
                // cursor_col - scroll < avail, a u16.
                let x = l.text_x + (l.cursor_col - l.scroll) as u16;
                (x, l.line.y)
            }
            Some(l) => (l.text_x.min(l.line.right().saturating_sub(1)), l.line.y),
            None => (area.x, area.y),
        }
    }

    fn layout(&self, area: Rect) -> Option<Layout> {
        if area.is_empty() {
            return None;
        }
        let line = Rect {
            y: area.bottom() - 1,
            height: 1,
            ..area
        };
        let prompt_w = u16::try_from(text::width(self.prompt))
            .unwrap_or(u16::MAX)
            .min(line.width);
        let text_x = line.x + prompt_w;
        let avail = line.width - prompt_w;
        let byte = text::char_to_byte(self.text, self.cursor);
        let cursor_col: usize = display(self.text)
            .take_while(|&(i, _, _)| i < byte)
            .map(|(_, _, w)| usize::from(w))
            .sum();
        // The least scroll that keeps the cursor's cell on screen: the
        // cursor sits at the right edge while typing past it.
        let scroll = (cursor_col + 1).saturating_sub(usize::from(avail));
        Some(Layout {
            line,
            text_x,
            avail,
            scroll,
            cursor_col,
        })
    }

    fn draw(&self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let Some(l) = self.layout(area) else {
            return;
        };
        let theme = self.theme;
        // The rows drawn are owned whole (they may cover a pane's last
        // rows), so clear them rather than only restyle.
        Clear.render(l.line, buf);
        text::paint(buf, l.line, theme.base);
        if !self.active {
            if let Some((is_error, msg)) = self.message {
                draw_message(buf, l.line, is_error, msg, theme);
            }
            return;
        }
        // An open menu covers the message row; the message is stale by then
        // (a new command is being typed), so it is not drawn at all rather
        // than left showing in pieces around the menu.
        let menu_open = !self.completions.is_empty() && self.max_completions > 0;
        let message = self.message.filter(|_| area.height >= 2 && !menu_open);
        if let Some((is_error, msg)) = message {
            let row = Rect {
                y: l.line.y - 1,
                ..l.line
            };
            Clear.render(row, buf);
            text::paint(buf, row, theme.base);
            draw_message(buf, row, is_error, msg, theme);
        }
        text::put(
            buf,
            l.line.x,
            l.line.y,
            self.prompt,
            l.line.width,
            theme.accent,
            Cut::End,
        );
        self.draw_text(buf, &l);
        self.draw_menu(buf, area, &l);
    }

    fn draw_text(&self, buf: &mut Buffer, l: &Layout) {
        let avail = usize::from(l.avail);
        let y = l.line.y;
        let mut col = 0usize;
        let mut total = 0usize;
        for (_, g, w) in display(self.text) {
            let start = col;
            col += usize::from(w);
            total = col;
            // A wide character cut by either edge is left out whole.
            if start < l.scroll || col - l.scroll > avail {
                continue;
            }
            // start - scroll < avail, a u16.
            buf.set_stringn(
                l.text_x + (start - l.scroll) as u16,
                y,
                g,
                usize::from(w),
                Style::new(),
            );
        }
        // Mark text hidden off either edge, unless the cursor stands there.
        if avail >= 3 {
            let cursor = l.cursor_col - l.scroll;
            if l.scroll > 0 && cursor != 0 {
                buf.set_stringn(l.text_x, y, ELLIPSIS, 1, self.theme.dim);
            }
            if total - l.scroll > avail && cursor != avail - 1 {
                buf.set_stringn(l.text_x + l.avail - 1, y, ELLIPSIS, 1, self.theme.dim);
            }
        }
    }

    /// The completion menu, its text lined up under the word being
    /// completed.
    fn draw_menu(&self, buf: &mut Buffer, area: Rect, l: &Layout) {
        let room = usize::from(l.line.y - area.y);
        let rows = self
            .completions
            .len()
            .min(usize::from(self.max_completions))
            .min(room);
        if rows == 0 {
            return;
        }
        let widest = self
            .completions
            .iter()
            .map(|c| text::width(c))
            .max()
            .unwrap_or(0);
        // One column of padding each side.
        let w = u16::try_from(widest + 2)
            .unwrap_or(u16::MAX)
            .min(area.width);
        let byte = text::char_to_byte(self.text, self.cursor);
        let word = self.text[..byte]
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word_col: usize = display(self.text)
            .take_while(|&(i, _, _)| i < word)
            .map(|(_, _, w)| usize::from(w))
            .sum();
        let on_screen = word_col.saturating_sub(l.scroll).min(usize::from(l.avail));
        // on_screen <= avail, a u16.
        let anchor = (l.text_x + on_screen as u16).saturating_sub(1).max(area.x);
        let x = anchor.min(area.right() - w);
        // rows <= room, which came from a u16.
        let menu = Rect::new(x, l.line.y - rows as u16, w, rows as u16);
        Clear.render(menu, buf);
        buf.set_style(menu, self.theme.popup);

        let len = self.completions.len();
        let selected = self.selected_completion.filter(|&s| s < len);
        let first = scroll_offset(selected, len, rows);
        let items = self.completions.iter().enumerate().skip(first);
        for ((i, c), y) in items.zip(menu.y..menu.bottom()) {
            let line = Rect {
                y,
                height: 1,
                ..menu
            };
            text::put(
                buf,
                x + 1.min(w),
                y,
                c,
                w.saturating_sub(2),
                Style::new(),
                Cut::End,
            );
            if selected == Some(i) {
                buf.set_style(line, self.theme.selected_row);
            }
        }
        if w >= 3 {
            let right = menu.right() - 1;
            if first > 0 {
                buf.set_stringn(right, menu.y, "▲", 1, self.theme.dim);
            }
            if first + rows < len {
                buf.set_stringn(right, menu.bottom() - 1, "▼", 1, self.theme.dim);
            }
        }
    }
}

/// The first line of a message, styled as an error or a plain result, and
/// an ellipsis when there was more.
fn draw_message(buf: &mut Buffer, row: Rect, is_error: bool, msg: &str, theme: &Theme) {
    let style = if is_error { theme.error } else { Style::new() };
    let (first, more) = match msg.split_once('\n') {
        Some((first, rest)) => (first.trim_end_matches('\r'), !rest.trim().is_empty()),
        None => (msg, false),
    };
    let room = if more {
        row.width.saturating_sub(2)
    } else {
        row.width
    };
    let used = text::put(buf, row.x, row.y, first, room, style, Cut::End);
    if more && row.width >= 2 {
        buf.set_stringn(row.x + used + 1, row.y, ELLIPSIS, 1, theme.dim);
    }
}

/// The text as drawn: (byte offset, symbol, width) per grapheme, control
/// characters replaced so that they take a visible cell, zero-width
/// graphemes (which the buffer would not draw) left out.
fn display(s: &str) -> impl Iterator<Item = (usize, &str, u16)> {
    s.grapheme_indices(true).filter_map(|(i, g)| {
        if g.contains(char::is_control) {
            return Some((i, REPLACEMENT, 1));
        }
        let w = g.cell_width();
        (w > 0).then_some((i, g, w))
    })
}

impl Widget for CommandLine<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.draw(area, buf);
    }
}

impl Widget for &CommandLine<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.draw(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::testing::{lines, render_all_sizes, row};
    use ratatui_core::style::{Color, Modifier};

    fn render(c: &CommandLine<'_>, w: u16, h: u16) -> Buffer {
        let mut buf = Buffer::with_lines(vec!["x".repeat(usize::from(w)); usize::from(h)]);
        c.render(buf.area, &mut buf);
        buf
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn prompt_text_and_cursor() {
        let theme = Theme::dark();
        let c = CommandLine::new("ana 1", 5, &theme);
        let buf = render(&c, 12, 2);
        assert_eq!(lines(&buf), ["xxxxxxxxxxxx", ":ana 1"]);
        assert_eq!(c.cursor_position(buf.area), (6, 1));
        assert_eq!(buf[(0, 1)].fg, Color::Cyan);
        assert_eq!(buf[(1, 1)].fg, Color::Reset);
        assert_eq!(
            CommandLine::new("ana 1", 0, &theme).cursor_position(buf.area),
            (1, 1)
        );
        assert_eq!(
            CommandLine::new("ana 1", 99, &theme).cursor_position(buf.area),
            (6, 1)
        );
        // At an offset, with another prompt.
        let c = CommandLine::new("x", 1, &theme).prompt("> ");
        assert_eq!(c.cursor_position(Rect::new(3, 4, 10, 3)), (6, 6));
        assert_eq!(c.height(), 1);
    }

    #[test]
    fn scrolls_to_keep_the_cursor_in_view() {
        let theme = Theme::mono();
        let text = "abcdefghijklmnopqrstuvwxyz";
        // 10 columns: prompt and 9 for text.
        let at = |cursor: usize| {
            let c = CommandLine::new(text, cursor, &theme);
            let buf = render(&c, 10, 1);
            (row(&buf, 0), c.cursor_position(buf.area).0)
        };
        assert_eq!(at(0), (":abcdefgh…".into(), 1));
        // The cursor on the last cell: no marker over it.
        assert_eq!(at(8), (":abcdefghi".into(), 9));
        // Past it the text scrolls, the cursor staying at the right edge.
        assert_eq!(at(9), (":…cdefghij".into(), 9));
        assert_eq!(at(20), (":…nopqrstu".into(), 9));
        assert_eq!(at(26), (":…tuvwxyz ".into(), 9));
    }

    #[test]
    fn wide_characters_scroll_whole() {
        let theme = Theme::mono();
        // Each 状 is two columns; the prompt leaves 5.
        let c = CommandLine::new("状状状状", 4, &theme);
        let buf = render(&c, 6, 1);
        // Cursor at column 8 of the text, scrolled by 4: two 状 in 4
        // columns, the first under the marker, the cursor's cell after.
        assert_eq!(row(&buf, 0), ":… 状 ");
        assert_eq!(c.cursor_position(buf.area), (5, 0));
        let c = CommandLine::new("状状状状", 1, &theme);
        assert_eq!(row(&render(&c, 6, 1), 0), ":状状…");
        assert_eq!(c.cursor_position(Rect::new(0, 0, 6, 1)), (3, 0));
    }

    #[test]
    fn control_characters_take_a_cell() {
        let theme = Theme::mono();
        let c = CommandLine::new("a\tb\x1b", 3, &theme);
        let buf = render(&c, 8, 1);
        assert_eq!(row(&buf, 0), ":a\u{FFFD}b\u{FFFD}   ");
        assert_eq!(c.cursor_position(buf.area), (4, 0));
        // Combining marks join their letter.
        let c = CommandLine::new("e\u{301}x", 2, &theme);
        assert_eq!(c.cursor_position(Rect::new(0, 0, 8, 1)), (2, 0));
    }

    #[test]
    fn message_line_above_the_prompt() {
        let theme = Theme::dark();
        let c = CommandLine::new("", 0, &theme).message(true, "error: unknown method\nmore detail");
        assert_eq!(c.height(), 2);
        let buf = render(&c, 30, 3);
        assert_eq!(
            lines(&buf),
            [
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "error: unknown method …",
                ":"
            ]
        );
        assert_eq!(buf[(0, 1)].fg, Color::Red);
        assert!(buf[(0, 1)].modifier.contains(Modifier::BOLD));
        assert_eq!(buf[(22, 1)].fg, Color::DarkGray);
        // A plain result is not styled as an error.
        let c = CommandLine::new("", 0, &theme).message(false, "{\"result\": true}");
        let buf = render(&c, 30, 2);
        assert_eq!(row(&buf, 0).trim_end(), "{\"result\": true}");
        assert_eq!(buf[(0, 0)].fg, Color::Reset);
        // One row: the prompt wins.
        let c = CommandLine::new("q", 1, &theme).message(true, "boom");
        assert_eq!(lines(&render(&c, 10, 1)), [":q"]);
        // Long: cut with an ellipsis.
        let long = "长错误".repeat(20);
        let c = CommandLine::new("", 0, &theme).message(true, &long);
        assert_eq!(row(&render(&c, 9, 2), 0), "长错误长…");
    }

    #[test]
    fn inactive_shows_only_the_message() {
        let theme = Theme::dark();
        let c = CommandLine::new("ignored", 3, &theme)
            .active(false)
            .message(false, "path switched")
            .completions(&[], None);
        assert_eq!(c.height(), 1);
        assert_eq!(
            lines(&render(&c, 20, 2)),
            ["xxxxxxxxxxxxxxxxxxxx", "path switched"]
        );
        let c = CommandLine::new("ignored", 3, &theme).active(false);
        assert_eq!(lines(&render(&c, 20, 2)), ["xxxxxxxxxxxxxxxxxxxx", ""]);
    }

    #[test]
    fn completion_menu_sits_above_the_word() {
        let theme = Theme::dark();
        let comps = strings(&["bdev_nvme_get_io_paths", "bdev_nvme_set_multipath_policy"]);
        let c = CommandLine::new("rpc bdev_nvme_", 14, &theme).completions(&comps, Some(1));
        let buf = render(&c, 40, 5);
        assert_eq!(
            lines(&buf),
            [
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "xxxx bdev_nvme_get_io_paths         xxxx",
                "xxxx bdev_nvme_set_multipath_policy xxxx",
                ":rpc bdev_nvme_",
            ]
        );
        assert_eq!(buf[(5, 2)].bg, Color::DarkGray);
        assert!(buf[(5, 3)].modifier.contains(Modifier::REVERSED));
        assert!(!buf[(5, 2)].modifier.contains(Modifier::REVERSED));
        // Too near the right edge: shifted left to fit.
        let c =
            CommandLine::new("xxxxxxxxxxxxxxxxxxxxxxxxxxxx ", 29, &theme).completions(&comps, None);
        let buf = render(&c, 40, 3);
        assert_eq!(row(&buf, 1), "xxxxxxxx bdev_nvme_set_multipath_policy ");
    }

    #[test]
    fn completion_menu_scrolls_to_the_selection() {
        let theme = Theme::mono();
        let comps: Vec<String> = (0..10).map(|i| format!("item{i}")).collect();
        let c = CommandLine::new("", 0, &theme)
            .completions(&comps, Some(6))
            .max_completions(3);
        let buf = render(&c, 10, 6);
        assert_eq!(
            lines(&buf),
            [
                "xxxxxxxxxx",
                "xxxxxxxxxx",
                " item4▲xxx",
                " item5 xxx",
                " item6▼xxx",
                ":"
            ]
        );
        // No room above: no menu. Fewer rows above than the max: fewer shown.
        let c = CommandLine::new("", 0, &theme).completions(&comps, Some(0));
        assert_eq!(lines(&render(&c, 10, 1)), [":"]);
        assert_eq!(lines(&render(&c, 10, 3)), [" item0 xxx", " item1▼xxx", ":"]);
        // A selection past the end selects nothing.
        let c = CommandLine::new("", 0, &theme).completions(&comps[..2], Some(7));
        let buf = render(&c, 10, 3);
        assert!(!buf[(1, 0)].modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn tiny_areas_do_not_panic() {
        let theme = Theme::dark();
        let comps = strings(&["一二三四五六七八九十", "b", ""]);
        let long = "长".repeat(300) + "\x1b\n\t";
        for cursor in [0, 1, 5, 299, 301, 10_000] {
            for active in [true, false] {
                let c = CommandLine::new(&long, cursor, &theme)
                    .completions(&comps, Some(cursor % 4))
                    .message(true, "多行\n消息")
                    .active(active)
                    .prompt("提示> ");
                render_all_sizes(5, |area, buf| c.render(area, buf));
                for (w, h) in [(0, 0), (1, 1), (2, 2), (1, 0), (0, 1)] {
                    let (x, y) = c.cursor_position(Rect::new(4, 4, w, h));
                    assert!(
                        (4..=5).contains(&x) && (4..=5).contains(&y),
                        "{w}x{h}: {x},{y}"
                    );
                }
            }
        }
        let c = CommandLine::new("abc", 3, &theme);
        assert_eq!(lines(&render(&c, 1, 1)), [":"]);
        assert_eq!(c.cursor_position(Rect::new(0, 0, 1, 1)), (0, 0));
        assert_eq!(row(&render(&c, 2, 1), 0), ": ");
        assert_eq!(c.cursor_position(Rect::new(0, 0, 2, 1)), (1, 0));
    }
}

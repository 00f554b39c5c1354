//! The help overlay: every key binding, grouped by section, in a popup
//! centred over whatever is underneath.
//!
//! ```text
//! ┌ Help — ? or Esc to close ──────────┐
//! │ Paths                              │
//! │   a      cycle ANA state           │
//! │   j/↓    select next path          │
//! │                                    │
//! │ General                            │
//! │   q      quit                      │
//! └──────────────────────────── 1-6 of 9 ┘
//! ```
//!
//! The bindings come from the app's keymap, so help cannot drift from what
//! the keys do. Sections appear in the order they are first mentioned and
//! bindings keep their order within a section.

use ratatui_core::buffer::Buffer;
use ratatui_core::layout::Rect;
use ratatui_core::text::{Line, Span};
use ratatui_core::widgets::Widget;
use ratatui_widgets::block::Block;
use ratatui_widgets::clear::Clear;

use crate::text::{self, Cut};
use crate::theme::Theme;

/// The popup's title.
pub const HELP_TITLE: &str = "Help — ? or Esc to close";

/// Keys are cut beyond this, so one odd binding cannot push every
/// description off the popup.
const MAX_KEY_WIDTH: usize = 20;

const EMPTY: &str = "no key bindings";

/// The help popup. `bindings` are `(keys, description, section)`.
#[derive(Debug)]
pub struct HelpOverlay<'a, S = String> {
    pub bindings: &'a [(S, S, S)],
    /// Lines scrolled off the top; clamped when drawn, so the app may
    /// simply add and subtract (see [`HelpOverlay::max_offset`]).
    pub offset: usize,
    pub theme: &'a Theme,
}

// By hand: derived impls would require `S: Copy`, but only a slice of `S`
// is held.
impl<S> Clone for HelpOverlay<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for HelpOverlay<'_, S> {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HelpLine<'a> {
    Blank,
    Section(&'a str),
    Entry(&'a str, &'a str),
}

impl<'a, S: AsRef<str>> HelpOverlay<'a, S> {
    pub fn new(bindings: &'a [(S, S, S)], theme: &'a Theme) -> HelpOverlay<'a, S> {
        HelpOverlay {
            bindings,
            offset: 0,
            theme,
        }
    }

    #[must_use]
    pub fn offset(self, offset: usize) -> HelpOverlay<'a, S> {
        HelpOverlay { offset, ..self }
    }

    /// The lines of the popup's body, sections in order of first mention.
    fn lines(&self) -> Vec<HelpLine<'a>> {
        let mut sections: Vec<&'a str> = Vec::new();
        for (_, _, s) in self.bindings {
            if !sections.contains(&s.as_ref()) {
                sections.push(s.as_ref());
            }
        }
        let mut out = Vec::with_capacity(self.bindings.len() + 2 * sections.len());
        for section in sections {
            if !out.is_empty() {
                out.push(HelpLine::Blank);
            }
            // Bindings without a section are listed without a heading.
            if !section.trim().is_empty() {
                out.push(HelpLine::Section(section));
            }
            for (keys, desc, s) in self.bindings {
                if s.as_ref() == section {
                    out.push(HelpLine::Entry(keys.as_ref(), desc.as_ref()));
                }
            }
        }
        out
    }

    fn key_width(&self) -> usize {
        self.bindings
            .iter()
            .map(|(k, _, _)| text::width(k.as_ref()))
            .max()
            .unwrap_or(0)
            .min(MAX_KEY_WIDTH)
    }

    /// The width the body wants: indent, keys, gap, description; or a
    /// section heading, whichever is widest.
    fn content_width(&self, lines: &[HelpLine<'_>]) -> usize {
        let kw = self.key_width();
        lines
            .iter()
            .map(|l| match *l {
                HelpLine::Blank => 0,
                HelpLine::Section(s) => text::width(s),
                HelpLine::Entry(_, d) => 2 + kw + 2 + text::width(d),
            })
            .max()
            .unwrap_or(EMPTY.len())
            .max(text::width(HELP_TITLE) + 2)
    }

    /// Where the popup goes in `area`: centred, as large as its contents
    /// (plus border and a column of padding each side), no larger than
    /// `area`.
    pub fn popup_area(&self, area: Rect) -> Rect {
        let lines = self.lines();
        self.popup_for(area, &lines)
    }

    fn popup_for(&self, area: Rect, lines: &[HelpLine<'_>]) -> Rect {
        let want_w = self.content_width(lines) + 4;
        let want_h = lines.len().max(1) + 2;
        let w = u16::try_from(want_w).unwrap_or(u16::MAX).min(area.width);
        let h = u16::try_from(want_h).unwrap_or(u16::MAX).min(area.height);
        Rect {
            x: area.x + (area.width - w) / 2,
            y: area.y + (area.height - h) / 2,
            width: w,
            height: h,
        }
    }

    /// The largest useful `offset` when drawn into `area`: past it the last
    /// line would leave the bottom of the popup.
    pub fn max_offset(&self, area: Rect) -> usize {
        let lines = self.lines();
        let popup = self.popup_for(area, &lines);
        lines
            .len()
            .saturating_sub(usize::from(popup.height.saturating_sub(2)))
    }

    fn draw(&self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let theme = self.theme;
        let lines = self.lines();
        let popup = self.popup_for(area, &lines);
        let visible = usize::from(popup.height.saturating_sub(2));
        let offset = self.offset.min(lines.len().saturating_sub(visible));

        Clear.render(popup, buf);
        text::paint(buf, popup, theme.base);
        let mut block = Block::bordered()
            .border_style(theme.border_focused)
            .title(Line::from(vec![
                Span::raw(" "),
                Span::styled(HELP_TITLE, theme.title),
                Span::raw(" "),
            ]));
        if lines.len() > visible && visible > 0 {
            let last = (offset + visible).min(lines.len());
            let counter = format!(" {}-{last} of {} ", offset + 1, lines.len());
            block = block.title_bottom(
                Line::from(Span::styled(counter, theme.scroll_indicator)).right_aligned(),
            );
        }
        let inner = block.inner(popup);
        block.render(popup, buf);
        if inner.is_empty() {
            return;
        }
        // A column of padding each side when there is room for it.
        let body = if inner.width > 2 {
            Rect {
                x: inner.x + 1,
                width: inner.width - 2,
                ..inner
            }
        } else {
            inner
        };
        if lines.is_empty() {
            text::put(buf, body.x, body.y, EMPTY, body.width, theme.dim, Cut::End);
            return;
        }
        // Keys get their width but never more than half the body.
        let kw = u16::try_from(self.key_width())
            .unwrap_or(u16::MAX)
            .min(body.width / 2);
        for (line, y) in lines[offset..].iter().zip(body.y..body.bottom()) {
            match *line {
                HelpLine::Blank => {}
                HelpLine::Section(s) => {
                    text::put(buf, body.x, y, s, body.width, theme.title, Cut::End);
                }
                HelpLine::Entry(keys, desc) => {
                    let mut x = body.x;
                    let mut room = body.width;
                    let indent = 2.min(room);
                    x += indent;
                    room -= indent;
                    let k = kw.min(room);
                    text::put(buf, x, y, keys, k, theme.key_hint, Cut::End);
                    x += k;
                    room -= k;
                    let gap = 2.min(room);
                    x += gap;
                    room -= gap;
                    text::put(buf, x, y, desc, room, theme.key_label, Cut::End);
                }
            }
        }
    }
}

impl<S: AsRef<str>> Widget for HelpOverlay<'_, S> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.draw(area, buf);
    }
}

impl<S: AsRef<str>> Widget for &HelpOverlay<'_, S> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.draw(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::testing::{find, lines, render_all_sizes, row};
    use ratatui_core::style::{Color, Modifier};

    fn bindings() -> Vec<(String, String, String)> {
        [
            ("a", "cycle ANA state", "Paths"),
            ("q", "quit", "General"),
            ("j/↓", "select next path", "Paths"),
            ("?", "this help", "General"),
            (":", "command line", ""),
        ]
        .iter()
        .map(|(k, d, s)| (k.to_string(), d.to_string(), s.to_string()))
        .collect()
    }

    fn render<S: AsRef<str>>(h: &HelpOverlay<'_, S>, w: u16, hgt: u16) -> Buffer {
        let mut buf = Buffer::with_lines(vec!["x".repeat(usize::from(w)); usize::from(hgt)]);
        h.render(buf.area, &mut buf);
        buf
    }

    #[test]
    fn groups_by_section_centred_and_sized_to_fit() {
        let theme = Theme::dark();
        let b = bindings();
        let buf = render(&HelpOverlay::new(&b, &theme), 40, 14);
        assert_eq!(
            lines(&buf),
            [
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "xxxxx┌ Help — ? or Esc to close ──┐xxxxx",
                "xxxxx│ Paths                      │xxxxx",
                "xxxxx│   a    cycle ANA state     │xxxxx",
                "xxxxx│   j/↓  select next path    │xxxxx",
                "xxxxx│                            │xxxxx",
                "xxxxx│ General                    │xxxxx",
                "xxxxx│   q    quit                │xxxxx",
                "xxxxx│   ?    this help           │xxxxx",
                "xxxxx│                            │xxxxx",
                "xxxxx│   :    command line        │xxxxx",
                "xxxxx└────────────────────────────┘xxxxx",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            ]
        );
        // Styles: title, headings, keys, border.
        let t = find(&buf, 1, "Help").unwrap();
        assert!(buf[(t, 1)].modifier.contains(Modifier::BOLD));
        assert_eq!(buf[(5, 1)].fg, Color::Cyan);
        assert!(buf[(7, 2)].modifier.contains(Modifier::BOLD));
        assert_eq!(buf[(9, 3)].fg, Color::Cyan);
        assert!(buf[(9, 3)].modifier.contains(Modifier::BOLD));
        assert_eq!(buf[(14, 3)].fg, Color::Reset);
        assert_eq!(buf[(14, 3)].symbol(), "c");
    }

    #[test]
    fn plain_str_bindings_work_too() {
        let theme = Theme::mono();
        let b = [("q", "quit", "General")];
        let buf = render(&HelpOverlay::new(&b, &theme), 40, 5);
        assert_eq!(row(&buf, 2), "xxxxx│   q  quit                  │xxxxx");
    }

    #[test]
    fn scrolls_and_clamps_the_offset() {
        let theme = Theme::dark();
        let b = bindings();
        let h = HelpOverlay::new(&b, &theme);
        let area = Rect::new(0, 0, 40, 6);
        // 9 lines, 4 visible.
        assert_eq!(h.max_offset(area), 5);
        let buf = render(&h.offset(2), 40, 6);
        assert_eq!(
            row(&buf, 1).trim_matches('x'),
            "│   j/↓  select next path    │"
        );
        assert!(row(&buf, 5).contains(" 3-6 of 9 ┘"), "{}", row(&buf, 5));
        // Past the end: the last page.
        let buf = render(&h.offset(usize::MAX), 40, 6);
        assert_eq!(
            row(&buf, 4).trim_matches('x'),
            "│   :    command line        │"
        );
        assert!(row(&buf, 5).contains(" 6-9 of 9 ┘"));
        // Everything fits: no scrolling, no counter.
        assert_eq!(h.max_offset(Rect::new(0, 0, 80, 40)), 0);
    }

    #[test]
    fn cuts_long_text_and_keys() {
        let theme = Theme::dark();
        let b = vec![(
            "ctrl-alt-shift-super-hyper-x".to_string(),
            "说明".repeat(50),
            "节".repeat(40),
        )];
        let buf = render(&HelpOverlay::new(&b, &theme), 30, 5);
        let l = lines(&buf);
        assert_eq!(
            l,
            [
                "┌ Help — ? or Esc to close ──┐",
                "│ 节节节节节节节节节节节节…  │",
                "│   ctrl-alt-shi…  说明说明… │",
                "└────────────────────────────┘",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            ]
        );
    }

    #[test]
    fn empty_bindings_say_so() {
        let theme = Theme::dark();
        let b: [(&str, &str, &str); 0] = [];
        let buf = render(&HelpOverlay::new(&b, &theme), 40, 5);
        assert!(
            row(&buf, 2).contains("│ no key bindings"),
            "{}",
            row(&buf, 2)
        );
    }

    #[test]
    fn tiny_areas_do_not_panic() {
        let theme = Theme::dark();
        let b = bindings();
        for offset in [0, 3, usize::MAX] {
            let h = HelpOverlay::new(&b, &theme).offset(offset);
            render_all_sizes(5, |area, buf| h.render(area, buf));
            let _ = h.max_offset(Rect::new(0, 0, 0, 0));
        }
        // Width and height 1 and 2: just border pieces, inside the area.
        let buf = render(&HelpOverlay::new(&b, &theme), 1, 1);
        assert_eq!(lines(&buf), ["┌"]);
        let buf = render(&HelpOverlay::new(&b, &theme), 2, 2);
        assert_eq!(lines(&buf), ["┌┐", "└┘"]);
    }
}

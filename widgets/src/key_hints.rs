//! The footer: the keys that matter right now, `q quit  ? help  a ANA`.
//!
//! Hints that do not fit are left out whole, from the end, so the footer
//! never shows half a hint; put the most useful first. (Only a first hint
//! wider than the whole row is cut.)

use ratatui_core::buffer::Buffer;
use ratatui_core::layout::Rect;
use ratatui_core::widgets::Widget;
use ratatui_widgets::clear::Clear;

use crate::text::{self, Cut};
use crate::theme::Theme;

/// Columns between two hints.
const SEP: u16 = 2;

/// A row of `(key, label)` hints.
#[derive(Debug)]
pub struct KeyHints<'a, S = &'a str> {
    pub hints: &'a [(S, S)],
    pub theme: &'a Theme,
}

// By hand: derived impls would require `S: Copy`, but only a slice of `S`
// is held.
impl<S> Clone for KeyHints<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for KeyHints<'_, S> {}

impl<'a, S: AsRef<str>> KeyHints<'a, S> {
    pub fn new(hints: &'a [(S, S)], theme: &'a Theme) -> KeyHints<'a, S> {
        KeyHints { hints, theme }
    }

    fn draw(&self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let line = Rect { height: 1, ..area };
        Clear.render(line, buf);
        text::paint(buf, line, self.theme.base);
        let mut x = line.x;
        for (i, (key, label)) in self.hints.iter().enumerate() {
            let (key, label) = (key.as_ref(), label.as_ref());
            let gap = if i == 0 { 0 } else { SEP };
            let label_w = match text::width(label) {
                0 => 0,
                w => w + 1,
            };
            let need = usize::from(gap) + text::width(key) + label_w;
            let room = line.right() - x;
            if need > usize::from(room) && i > 0 {
                break;
            }
            x += gap.min(room);
            let room = line.right() - x;
            let used = text::put(buf, x, line.y, key, room, self.theme.key_hint, Cut::End);
            x += used;
            if label_w > 0 && line.right() - x >= 2 {
                x += 1;
                let room = line.right() - x;
                x += text::put(buf, x, line.y, label, room, self.theme.key_label, Cut::End);
            }
        }
    }
}

impl<S: AsRef<str>> Widget for KeyHints<'_, S> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.draw(area, buf);
    }
}

impl<S: AsRef<str>> Widget for &KeyHints<'_, S> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.draw(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::testing::{render_all_sizes, row};
    use ratatui_core::style::{Color, Modifier};

    const HINTS: [(&str, &str); 4] = [
        ("q", "quit"),
        ("?", "help"),
        ("a", "cycle ANA"),
        ("Tab", ""),
    ];

    fn render(w: u16) -> Buffer {
        let theme = Theme::dark();
        let mut buf = Buffer::with_lines(["x".repeat(usize::from(w))]);
        KeyHints::new(&HINTS, &theme).render(buf.area, &mut buf);
        buf
    }

    #[test]
    fn renders_pairs_with_styles() {
        let buf = render(32);
        assert_eq!(row(&buf, 0), "q quit  ? help  a cycle ANA  Tab");
        assert_eq!(buf[(0, 0)].fg, Color::Cyan);
        assert!(buf[(0, 0)].modifier.contains(Modifier::BOLD));
        assert_eq!(buf[(2, 0)].fg, Color::Reset);
        assert!(!buf[(2, 0)].modifier.contains(Modifier::BOLD));
        assert_eq!(buf[(29, 0)].fg, Color::Cyan);
    }

    #[test]
    fn drops_whole_hints_that_do_not_fit() {
        assert_eq!(row(&render(31), 0), "q quit  ? help  a cycle ANA    ");
        assert_eq!(row(&render(26), 0), "q quit  ? help            ");
        assert_eq!(row(&render(14), 0), "q quit  ? help");
        assert_eq!(row(&render(13), 0), "q quit       ");
        // The first hint alone is cut rather than dropped.
        assert_eq!(row(&render(4), 0), "q q…");
        assert_eq!(row(&render(2), 0), "q ");
        assert_eq!(row(&render(1), 0), "q");
        assert_eq!(row(&render(0), 0), "");
    }

    #[test]
    fn owned_strings_and_unicode() {
        let theme = Theme::mono();
        let hints = vec![
            ("状".to_string(), "状态".to_string()),
            ("x".into(), "y".into()),
        ];
        let mut buf = Buffer::empty(Rect::new(0, 0, 8, 1));
        KeyHints::new(&hints, &theme).render(buf.area, &mut buf);
        assert_eq!(row(&buf, 0), "状 状态 ");
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 1));
        KeyHints::new(&hints, &theme).render(buf.area, &mut buf);
        assert_eq!(row(&buf, 0), "状 …");
    }

    #[test]
    fn tiny_areas_do_not_panic() {
        let theme = Theme::dark();
        let long = [
            ("长".repeat(50), "\x1b[31m".repeat(10)),
            (String::new(), String::new()),
        ];
        render_all_sizes(4, |area, buf| {
            KeyHints::new(&HINTS, &theme).render(area, buf);
            KeyHints::new(&long, &theme).render(area, buf);
        });
    }
}

//! The bottom line: the `:` command line when open (the widget crate's
//! `CommandLine`: completion menu and error above the prompt), else the
//! status message and the key hints generated from the keymap
//! (`KeyHints`, which drops whole hints that do not fit).

use mpath_widgets::{CommandLine, KeyHints};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::ui::app::{App, Level};
use crate::ui::fmt;
use crate::ui::snapshot::Snapshot;

/// Returns the cursor position when the command line is open. `full` is
/// the whole screen (the completion menu may reach up into it).
pub fn render(
    _s: &Snapshot,
    app: &App,
    r: Rect,
    full: Rect,
    buf: &mut Buffer,
) -> Option<(u16, u16)> {
    let t = &app.theme;
    if let Some(cmd) = &app.cmd {
        let area = Rect::new(full.x, full.y, full.width, r.bottom() - full.y);
        let mut c = CommandLine::new(cmd.input.value(), cmd.input.cursor(), &t.w)
            .completions(&cmd.completions, cmd.comp_sel)
            .prompt(":");
        if let Some(m) = &cmd.msg {
            c = c.message(cmd.msg_is_error, m);
        }
        c.render(area, buf);
        return Some(c.cursor_position(area));
    }
    let mut x = r.x;
    if let Some(st) = &app.status {
        let style = match st.level {
            Level::Info => t.accent,
            Level::Warn => t.warn,
            Level::Error => t.err,
        };
        let text = fmt::truncate(&format!(" {} ", st.text), usize::from(r.width * 2 / 3));
        let w = unicode_width::UnicodeWidthStr::width(text.as_str()) as u16;
        Paragraph::new(Line::from(vec![
            Span::styled(text, style),
            Span::styled("│", t.muted),
        ]))
        .render(r, buf);
        x += w + 1;
    }
    let hints: Vec<(String, String)> = app
        .keymap
        .hints()
        .into_iter()
        .map(|(k, l)| (k, l.to_string()))
        .collect();
    let hr = Rect::new(x + 1, r.y, r.right().saturating_sub(x + 1), 1);
    KeyHints::new(&hints, &t.w).render(hr, buf);
    None
}

//! The bottom line: the `:` command line when open (with its error or
//! completions just above), else the status message and the key hints
//! generated from the keymap.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use crate::ui::app::{App, Level};
use crate::ui::snapshot::Snapshot;

/// Returns the cursor position when the command line is open.
pub fn render(_s: &Snapshot, app: &App, r: Rect, buf: &mut Buffer) -> Option<(u16, u16)> {
    let t = &app.theme;
    if let Some(cmd) = &app.cmd {
        if let Some(m) = &cmd.msg {
            let rows = super::wrap_lines(vec![Line::raw(m.clone())], usize::from(r.width.saturating_sub(2)));
            let hgt = (rows.len() as u16).min(6);
            let mr = Rect::new(r.x, r.y.saturating_sub(hgt), r.width, hgt);
            Clear.render(mr, buf);
            let st = if cmd.msg_is_error { t.err } else { t.hint };
            let rows: Vec<Line> = rows.into_iter().take(usize::from(hgt)).map(|l| l.style(st)).collect();
            Paragraph::new(rows).style(t.popup).render(mr, buf);
        }
        let prompt = ":";
        let w = r.width.saturating_sub(1);
        let scroll = cmd.input.visual_scroll(usize::from(w.saturating_sub(1)));
        Clear.render(r, buf);
        let line = Line::from(vec![
            Span::styled(prompt, t.accent),
            Span::styled(cmd.input.value().chars().skip(scroll).collect::<String>(), t.cmdline),
        ]);
        Paragraph::new(line).render(r, buf);
        let x = r.x + 1 + (cmd.input.visual_cursor().saturating_sub(scroll)) as u16;
        return Some((x.min(r.right().saturating_sub(1)), r.y));
    }
    let mut spans: Vec<Span> = Vec::new();
    if let Some(st) = &app.status {
        let style = match st.level {
            Level::Info => t.accent,
            Level::Warn => t.warn,
            Level::Error => t.err,
        };
        spans.push(Span::styled(format!(" {} ", st.text), style));
        spans.push(Span::styled("│", t.muted));
    }
    for (k, label) in app.keymap.hints() {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(format!(" {k} "), t.key));
        spans.push(Span::styled(format!(" {label}"), t.hint));
    }
    Paragraph::new(Line::from(spans)).render(r, buf);
    None
}

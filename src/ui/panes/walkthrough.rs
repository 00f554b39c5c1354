//! The walkthrough panel: the HOWTO's steps, ✓ done, ▶ current.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::frame;
use crate::ui::app::App;
use crate::ui::snapshot::Snapshot;
use crate::ui::walkthrough;

pub fn render(s: &Snapshot, app: &App, r: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let steps = walkthrough::steps();
    let cur = app.walk_step.min(steps.len() - 1);
    if r.height <= 1 {
        // A banner: the current step only.
        let st = &steps[cur];
        let l = Line::from(vec![
            Span::styled(format!(" HOWTO {}/{} ", cur + 1, steps.len()), t.key),
            Span::styled(format!(" {}: ", st.title), t.title),
            Span::styled((st.what)(s), t.hint),
        ]);
        Paragraph::new(l).render(r, buf);
        return;
    }
    let note = Line::styled(format!(" {}/{} ", cur + 1, steps.len()), t.muted);
    let block = frame(t, "HOWTO walkthrough", false, Some(note), None);
    let inner = block.inner(r);
    block.render(r, buf);
    let mut lines: Vec<Line> = Vec::new();
    for (i, st) in steps.iter().enumerate() {
        let (mark, style) = if i < cur {
            ("✓", t.ok)
        } else if i == cur {
            ("▶", t.accent)
        } else {
            ("·", t.muted)
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{mark} {}. ", i + 1), style),
            Span::styled(st.title, if i == cur { t.title_focused } else { style }),
        ]));
        if i == cur {
            lines.push(Line::styled(format!("   {}", (st.what)(s)), t.hint));
            if let Some(c) = (st.rpc)(s) {
                lines.push(Line::styled(format!("   $ {c}"), t.ev_action));
            }
        }
        lines.push(Line::raw(""));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

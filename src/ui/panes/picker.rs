//! The scope picker (`v`): every subsystem with the initiator bdev that
//! reaches it, and "all subsystems"; the current scope marked.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget};

use crate::ui::app::App;
use crate::ui::fmt;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(p) = &app.picker else { return };
    let t = &app.theme;
    let nqn_w = p
        .choices
        .iter()
        .filter_map(|c| c.nqn.as_ref().map(|n| n.chars().count()))
        .max()
        .unwrap_or(0)
        .max(16);
    let w = (nqn_w as u16 + 24).max(20);
    let r = super::centered(area, w, p.choices.len() as u16 + 3);
    if r.width < 10 || r.height < 3 {
        return;
    }
    Clear.render(r, buf);
    let b = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border_focused)
        .title(Line::styled(
            " Scope — Enter shows it, Esc closes ",
            t.title_focused,
        ))
        .style(t.popup);
    let inner = b.inner(r);
    b.render(r, buf);
    let name_w = usize::from(inner.width).saturating_sub(16).max(8);
    let mut lines: Vec<Line> = p
        .choices
        .iter()
        .map(|c| {
            let current = match &c.nqn {
                None => app.all_subsystems,
                Some(n) => {
                    !app.all_subsystems
                        && *n == app.nqn
                        && c.bdev.as_deref().unwrap_or("") == app.bdev
                }
            };
            let mark = Span::styled(if current { " ● " } else { "   " }, t.ok);
            let name = match &c.nqn {
                None => "all subsystems".to_string(),
                Some(n) => fmt::truncate_middle(n, name_w),
            };
            let bdev = match (&c.nqn, &c.bdev) {
                (None, _) => format!("bdev {}", app.bdev),
                (Some(_), Some(b)) => b.clone(),
                (Some(_), None) => "no bdev".into(),
            };
            Line::from(vec![
                mark,
                Span::raw(format!("{name:<name_w$}")),
                Span::styled(format!(" {bdev}"), t.hint),
            ])
        })
        .collect();
    lines.push(Line::styled(
        " I/O paths, Load: the bdev; Listeners, Connections: the subsystem",
        t.hint,
    ));
    let off = p
        .sel
        .saturating_sub(usize::from(inner.height.saturating_sub(2)));
    Paragraph::new(lines)
        .scroll((off as u16, 0))
        .render(inner, buf);
    if p.sel >= off && p.sel - off < usize::from(inner.height) {
        let row = Rect::new(inner.x, inner.y + (p.sel - off) as u16, inner.width, 1);
        mpath_widgets::highlight_row(buf, row, t.selected, &t.w);
    }
}

//! Overlays: the help (generated from the keymap), the workload picker,
//! and the result of a `:` command.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget};

use crate::ui::app::{App, Overlay, WORKLOADS};
use crate::ui::keymap::GROUPS;
use crate::ui::snapshot::Snapshot;
use crate::ui::theme::Theme;
use mpath_widgets::HelpOverlay;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2));
    let h = h.min(area.height.saturating_sub(2));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn boxed<'a>(t: &Theme, title: String, err: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(if err { t.err } else { t.border_focused })
        .title(Line::styled(format!(" {title} "), t.title_focused))
        .style(t.popup)
}

pub fn render(s: &Snapshot, app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help { scroll } => {
            let b = help_bindings(app);
            HelpOverlay::new(&b, &t.w).offset(*scroll).render(area, buf);
        }
        Overlay::Workload { sel } => {
            let r = centered(area, 40, WORKLOADS.len() as u16 + 4);
            Clear.render(r, buf);
            let b = boxed(t, "Workload — Enter starts".into(), false);
            let inner = b.inner(r);
            b.render(r, buf);
            let cur = s.load.workload.as_deref();
            let mut lines: Vec<Line> = WORKLOADS
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let mark = if Some(*w) == cur { "● " } else { "  " };
                    // Not `muted`: on a popup's background (dark grey in
                    // the dark theme) it would not show.
                    Line::from(vec![
                        Span::styled(format!(" {} ", i + 1), t.hint),
                        Span::styled(mark, t.ok),
                        Span::raw(w.to_string()),
                    ])
                })
                .collect();
            lines.push(Line::styled(
                " restarts the run (stop + perform_tests)",
                t.hint.add_modifier(ratatui::style::Modifier::ITALIC),
            ));
            Paragraph::new(lines).render(inner, buf);
            if *sel < WORKLOADS.len() && inner.height as usize > *sel {
                let row = Rect::new(inner.x, inner.y + *sel as u16, inner.width, 1);
                mpath_widgets::highlight_row(buf, row, t.selected, &t.w);
            }
        }
        Overlay::Result {
            title,
            lines,
            error,
            scroll,
        } => {
            let w = lines
                .iter()
                .map(|l| l.chars().count())
                .max()
                .unwrap_or(10)
                .clamp(30, 110) as u16
                + 4;
            let h = (lines.len() as u16 + 2).clamp(3, area.height.saturating_sub(4));
            let r = centered(area, w, h);
            Clear.render(r, buf);
            let b = boxed(t, format!("{title} — Esc closes"), *error);
            let inner = b.inner(r);
            b.render(r, buf);
            let max = lines.len().saturating_sub(usize::from(inner.height));
            let body: Vec<Line> = lines
                .iter()
                .map(|l| Line::styled(l.clone(), if *error { t.err } else { t.base }))
                .collect();
            Paragraph::new(body)
                .scroll(((*scroll).min(max) as u16, 0))
                .render(inner, buf);
            if max > 0 {
                // Where the view is, on the bottom border, right-aligned.
                let at = (*scroll).min(max);
                let mark = format!(" {}{}/{} ", if at < max { "↓ " } else { "" }, at, max);
                let mw = mark.chars().count() as u16;
                if r.width > mw + 2 {
                    buf.set_string(r.right() - 2 - mw, r.bottom() - 1, mark, t.scroll);
                }
            }
        }
    }
}

/// The help entries `(keys, description, section)`, from the keymap
/// table, plus mouse and command-line notes.
pub fn help_bindings(app: &App) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for g in GROUPS {
        for b in app.keymap.bindings.iter().filter(|b| b.group == g) {
            out.push((
                app.keymap.keys_label(b.action),
                b.desc.to_string(),
                g.to_string(),
            ));
        }
    }
    let m = "Mouse".to_string();
    out.push((
        "click".into(),
        "focus a pane, select a row".into(),
        m.clone(),
    ));
    out.push((
        "wheel".into(),
        "scroll the pane under the pointer".into(),
        m,
    ));
    let c = "Command line (:)".to_string();
    for (k, d) in [
        (
            "Tab",
            "complete method names, flags, choices, NQNs, addresses",
        ),
        ("↑/↓", "history"),
        (
            "spdk-rpc",
            "nvmf_subsystem_listener_set_ana_state NQN -t tcp -a ADDR -s PORT -n STATE",
        ),
        (
            "",
            "bdev_nvme_set_multipath_policy -b BDEV -p active_active [-s queue_depth]",
        ),
        (
            "other",
            "any_method key=value --flag value, or one '{json}' object",
        ),
        ("--dry-run", "show the request, send nothing"),
    ] {
        out.push((k.into(), d.into(), c.clone()));
    }
    out
}

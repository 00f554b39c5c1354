//! Subsystems: NQN, serial, model, allow_any_host, ANA reporting, each
//! namespace (nsid, bdev, size, ANA group) and the controllers.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{frame, grey, tick};
use crate::ui::app::{App, Pane};
use crate::ui::fmt;
use crate::ui::snapshot::Snapshot;

pub fn render(s: &Snapshot, app: &App, r: Rect, focused: bool, buf: &mut Buffer) {
    let t = &app.theme;
    let subs: Vec<_> = s
        .subsystems
        .iter()
        .filter(|x| x.subtype != "Discovery")
        .collect();
    let note = Line::styled(format!(" {} ", subs.len()), t.muted);
    let block = frame(
        t,
        Pane::Subsystems.title(),
        focused,
        Some(note),
        s.target.error.as_deref(),
    );
    let inner = block.inner(r);
    block.render(r, buf);
    let w = usize::from(inner.width);
    let mut lines: Vec<Line> = Vec::new();
    let sel = app.sel[Pane::Subsystems.index()];
    for (i, x) in subs.iter().enumerate() {
        let nqn_style = if i == sel && focused {
            t.selected
        } else {
            t.title
        };
        lines.push(Line::from(vec![Span::styled(
            fmt::truncate_middle(&x.nqn, w),
            nqn_style,
        )]));
        let ctrls: Vec<String> = x.controllers.iter().map(|c| c.cntlid.to_string()).collect();
        // Most telling first: a short pane cuts the serial and model.
        for n in &x.namespaces {
            let mut v = vec![
                Span::styled(format!(" ns{} ", n.nsid), t.accent),
                Span::raw(n.bdev.clone()),
                Span::raw(" "),
                Span::raw(n.size.map_or("size ?".into(), fmt::bytes)),
            ];
            if let Some(g) = n.anagrpid {
                v.push(Span::styled(format!("  ANA grp {g}"), t.muted));
            }
            lines.push(Line::from(v));
        }
        if x.namespaces.is_empty() {
            lines.push(Line::styled(" no namespaces", t.muted));
        }
        lines.push(Line::from(vec![
            Span::styled(" any host ", t.muted),
            tick(x.allow_any_host, t),
            Span::styled("  ANA reporting ", t.muted),
            tick(x.ana_reporting, t),
            Span::styled("  ctrlrs ", t.muted),
            Span::raw(if ctrls.is_empty() {
                "none".into()
            } else {
                ctrls.join(",")
            }),
        ]));
        lines.push(Line::from(vec![
            Span::styled(" SN ", t.muted),
            Span::raw(x.serial.clone()),
            Span::styled("  MN ", t.muted),
            Span::raw(fmt::truncate(
                &x.model,
                w.saturating_sub(x.serial.len() + 9).max(4),
            )),
        ]));
    }
    if subs.is_empty() {
        lines.push(Line::styled(
            if s.target.present {
                "no NVMe subsystems"
            } else {
                "no target attached"
            },
            t.muted,
        ));
    }
    // Keep the selected subsystem's block in view.
    let start = subs
        .iter()
        .take(sel)
        .map(|x| 3 + x.namespaces.len().max(1))
        .sum::<usize>();
    let scroll = if start + 3 > usize::from(inner.height) {
        start
    } else {
        0
    };
    Paragraph::new(lines)
        .scroll((scroll as u16, 0))
        .render(inner, buf);
    if s.target.stale() {
        grey(inner, t, buf);
    }
}

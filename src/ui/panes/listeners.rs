//! Listeners: transport ID, the ANA state of each group as a badge, the
//! controllers and qpairs connected through it, and its health: a fault
//! badge (`blackhole`, `delay 100ms`) and, while a path through it is
//! lost, the reconnect countdown.

use mpath_widgets::AnaBadge;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::{col, fit, frame, grey, header_row, rcol, rows, Col};
use crate::ui::app::{App, Pane};
use crate::ui::health;
use crate::ui::snapshot::Snapshot;

const COLS: [Col; 7] = [
    col("", 1),
    col("Transport ID", 24),
    col("ANA", 15),
    col("NQN", 26),
    rcol("Ctrlrs", 8),
    rcol("Qpairs", 6),
    col("Health", 44),
];

pub fn render(s: &Snapshot, app: &App, r: Rect, focused: bool, buf: &mut Buffer) {
    let t = &app.theme;
    let note = Line::from(vec![
        Span::styled(" o", t.accent),
        Span::styled("pt ", t.muted),
        Span::styled("n", t.accent),
        Span::styled("on-opt ", t.muted),
        Span::styled("i", t.accent),
        Span::styled("naccessible ", t.muted),
    ]);
    let block = frame(
        t,
        Pane::Listeners.title(),
        focused,
        focused.then_some(note),
        s.target.error.as_deref(),
    );
    let inner = block.inner(r);
    block.render(r, buf);
    if inner.height == 0 {
        return;
    }
    // The Health column only when some listener has something to say.
    let any_health = s.listeners.iter().any(|l| {
        let (f, c) = health::listener_cell(l, &s.paths);
        f.is_some() || c.is_some()
    });
    let prio: &[usize] = if any_health {
        &[0, 1, 2, 6, 4, 5, 3]
    } else {
        &[0, 1, 2, 4, 5, 3]
    };
    let keep = fit(&COLS, prio, inner.width);
    header_row(buf, inner, &COLS, &keep, t);
    let body = Rect::new(inner.x, inner.y + 1, inner.width, inner.height - 1);
    let current: Vec<String> = s
        .paths
        .iter()
        .filter(|p| p.current)
        .map(|p| p.addr())
        .collect();
    let sel = app.sel[Pane::Listeners.index()];
    let n = s.listeners.len();
    if n == 0 {
        let msg = if s.target.present {
            "no listeners"
        } else {
            "no target attached"
        };
        buf.set_string(body.x, body.y, msg, t.muted);
    }
    rows(buf, body, &COLS, &keep, n, Some(sel), focused, t, |i, c| {
        let l = &s.listeners[i];
        match c {
            0 => {
                if current.contains(&l.addr()) {
                    vec![Span::styled("★", t.current)]
                } else {
                    vec![]
                }
            }
            1 => vec![
                Span::styled(format!("{} ", l.trtype), t.muted),
                Span::raw(l.addr()),
            ],
            2 => {
                if l.ana_states.is_empty() {
                    return vec![Span::styled("(no ANA)", t.muted)];
                }
                let mut v = Vec::new();
                for (g, st) in &l.ana_states {
                    if l.ana_states.len() > 1 {
                        v.push(Span::styled(format!("{g}:"), t.muted));
                    }
                    let b = AnaBadge::new(st).palette(t.ana);
                    let b = if l.ana_states.len() > 1 { b.short() } else { b };
                    v.push(Span::styled(format!(" {} ", b.label()), b.style()));
                    v.push(Span::raw(" "));
                }
                v
            }
            3 => vec![Span::styled(l.nqn.clone(), t.muted)],
            // How many controllers (their cntlids are in Subsystems).
            4 => vec![Span::raw(l.controllers.len().to_string())],
            5 => vec![Span::raw(l.qpairs.to_string())],
            _ => {
                let (fault, countdown) = health::listener_cell(l, &s.paths);
                let mut v = Vec::new();
                if let Some(f) = fault {
                    v.push(Span::styled(
                        format!(" {f} "),
                        t.err.add_modifier(Modifier::REVERSED),
                    ));
                    v.push(Span::raw(" "));
                }
                if let Some(c) = countdown {
                    v.push(Span::styled(c, t.warn));
                }
                if v.is_empty() {
                    v.push(Span::styled("–", t.muted));
                }
                v
            }
        }
    });
    if s.target.stale() {
        grey(inner, t, buf);
    }
}

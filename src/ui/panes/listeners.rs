//! Listeners: transport ID, the ANA state of each group as a badge, the
//! subsystem (NQN), the controllers and qpairs connected through it, and
//! its health: a fault badge (`blackhole`, `delay 100ms`) and, while a
//! path through it is lost, the reconnect countdown. The NQN column stays
//! in view whenever listeners of several subsystems share the pane (its
//! short form, the part after the last `:`, when the whole NQN does not
//! fit).

use mpath_widgets::AnaBadge;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::{col, fit, frame, grey, header_row, overflow, rcol, rows, sort_mark, table_title, Col};
use crate::ui::app::{App, Pane};
use crate::ui::fmt;
use crate::ui::health;
use crate::ui::scope::short_nqn;
use crate::ui::snapshot::{Listener, Snapshot};

/// The NQN column's index.
const NQN: usize = 3;
/// The Health column's index.
const HEALTH: usize = 6;
/// The NQN column is dropped rather than narrower than this.
const NQN_MIN: u16 = 8;

/// The columns; the NQN column as wide as the whole NQNs.
fn columns(ls: &[&Listener]) -> [Col; 7] {
    let nqn_w = ls.iter().map(|l| l.nqn.len()).max().unwrap_or(0);
    [
        col("", 1),
        col("Transport ID", 24),
        col("ANA", 15),
        col("NQN", (nqn_w as u16).max(NQN_MIN)),
        rcol("Ctrlrs", 8),
        // Room for the sort arrow after the heading.
        rcol("Qpairs", 7),
        col("Health", 44),
    ]
}

/// Whether listeners of more than one subsystem share the pane.
fn several_subsystems(ls: &[&Listener]) -> bool {
    ls.iter().any(|l| l.nqn != ls[0].nqn)
}

/// The Health column only when some listener has something to say.
fn any_health(ls: &[&Listener], s: &Snapshot) -> bool {
    ls.iter().any(|l| {
        let (f, c) = health::listener_cell(l, &s.paths);
        f.is_some() || c.is_some()
    })
}

/// The columns kept in `width`, and the NQN column's width: the NQN
/// comes right after the ANA state when several subsystems share the
/// pane (it tells their rows apart), else last; either way it takes the
/// room the others leave, down to [`NQN_MIN`]. Health, when shown, comes
/// before the counts.
fn layout(cols: &mut [Col; 7], several: bool, health: bool, width: u16) -> Vec<usize> {
    let full = cols[NQN].width;
    cols[NQN].width = NQN_MIN;
    let mut prio: Vec<usize> = if several {
        vec![0, 1, 2, NQN, 4, 5]
    } else {
        vec![0, 1, 2, 4, 5, NQN]
    };
    if health {
        let at = if several { 4 } else { 3 };
        prio.insert(at, HEALTH);
    }
    let keep = fit(cols, &prio, width);
    if keep.contains(&NQN) {
        let used: u16 = keep.iter().map(|&i| cols[i].width + 1).sum::<u16>() - 1;
        cols[NQN].width = (NQN_MIN + width.saturating_sub(used)).min(full);
    }
    keep
}

fn shown<'a>(s: &'a Snapshot, app: &App) -> Vec<&'a Listener> {
    app.view_rows(Pane::Listeners)
        .iter()
        .map(|&i| &s.listeners[i])
        .collect()
}

/// Columns a pane of `width` (inside its border) shows, by title; for
/// tests and the layout.
pub fn column_titles(s: &Snapshot, app: &App, width: u16) -> Vec<&'static str> {
    let ls = shown(s, app);
    let mut cols = columns(&ls);
    let keep = layout(
        &mut cols,
        several_subsystems(&ls),
        any_health(&ls, s),
        width,
    );
    keep.iter().map(|&i| cols[i].title).collect()
}

/// The width (border included) that shows every column and whole NQNs.
pub fn content_width(s: &Snapshot, app: &App) -> u16 {
    let ls = shown(s, app);
    let cols = columns(&ls);
    let health = any_health(&ls, s);
    cols.iter()
        .enumerate()
        .filter(|&(i, _)| health || i != HEALTH)
        .map(|(_, c)| c.width + 1)
        .sum::<u16>()
        + 1
}

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
    let shown = app.view_rows(Pane::Listeners);
    let in_scope = match app.scope_nqn() {
        Some(n) => s.listeners.iter().filter(|l| l.nqn == n).count(),
        None => s.listeners.len(),
    };
    let title = table_title(
        app,
        Pane::Listeners,
        Pane::Listeners.title(),
        shown.len(),
        in_scope,
    );
    let block = frame(
        t,
        &title,
        focused,
        focused.then_some(note),
        s.target.error.as_deref(),
    );
    let inner = block.inner(r);
    block.render(r, buf);
    if inner.height == 0 {
        return;
    }
    let ls: Vec<&Listener> = shown.iter().map(|&i| &s.listeners[i]).collect();
    let several = several_subsystems(&ls);
    let mut cols = columns(&ls);
    let keep = layout(&mut cols, several, any_health(&ls, s), inner.width);
    let nqn_w = usize::from(cols[NQN].width);
    header_row(buf, inner, &cols, &keep, sort_mark(app, Pane::Listeners), t);
    let body = Rect::new(inner.x, inner.y + 1, inner.width, inner.height - 1);
    let current: Vec<String> = s
        .paths
        .iter()
        .filter(|p| p.current)
        .map(|p| p.addr())
        .collect();
    let sel = app.sel[Pane::Listeners.index()];
    let n = ls.len();
    if n == 0 {
        let msg = if !s.listeners.is_empty() {
            "no listener matches"
        } else if s.target.present {
            "no listeners"
        } else {
            "no target attached"
        };
        buf.set_string(body.x, body.y, msg, t.muted);
    }
    let off = rows(buf, body, &cols, &keep, n, Some(sel), focused, t, |i, c| {
        let l = ls[i];
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
            NQN => {
                let text = if l.nqn.len() <= nqn_w {
                    l.nqn.clone()
                } else {
                    fmt::truncate_middle(short_nqn(&l.nqn), nqn_w)
                };
                let st = if several { t.hint } else { t.muted };
                vec![Span::styled(text, st)]
            }
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
    overflow(buf, r, t, n, off, usize::from(body.height));
    if s.target.stale() {
        grey(inner, t, buf);
    }
}

//! Subsystems: NQN, serial, model, allow_any_host, ANA reporting, each
//! namespace (nsid, bdev, size, ANA group) and the controllers.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{frame, grey, overflow, table_title, tick};
use crate::host::cmd::ReservationStatus;
use crate::ui::app::{App, Pane};
use crate::ui::fmt;
use crate::ui::resv;
use crate::ui::snapshot::{Snapshot, Subsystem};
use crate::ui::theme::Theme;
use crate::ui::view;

pub fn render(s: &Snapshot, app: &App, r: Rect, focused: bool, buf: &mut Buffer) {
    let t = &app.theme;
    let subs: Vec<&Subsystem> = app
        .view_rows(Pane::Subsystems)
        .iter()
        .filter_map(|&i| view::subsystem(s, i))
        .collect();
    let all = s
        .subsystems
        .iter()
        .filter(|x| x.subtype != "Discovery")
        .count();
    let note = Line::styled(format!(" {all} "), t.muted);
    let title = table_title(
        app,
        Pane::Subsystems,
        Pane::Subsystems.title(),
        subs.len(),
        all,
    );
    let block = frame(t, &title, focused, Some(note), s.target.error.as_deref());
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
        // The subsystem the other panes are narrowed to is marked.
        let scoped = app.scope_nqn() == Some(x.nqn.as_str());
        let mark = if scoped { "▸ " } else { "" };
        lines.push(Line::from(vec![
            Span::styled(mark, t.accent),
            Span::styled(
                fmt::truncate_middle(&x.nqn, w.saturating_sub(if scoped { 2 } else { 0 })),
                nqn_style,
            ),
        ]));
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
        lines.extend(reservation_lines(s, x, t, w));
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
        .map(|x| block_lines(s, x, t))
        .sum::<usize>();
    let scroll = if start + 3 > usize::from(inner.height) {
        start
    } else {
        0
    };
    Paragraph::new(lines)
        .scroll((scroll as u16, 0))
        .render(inner, buf);
    // Subsystems scrolled past, and those starting below the view.
    let mut at = 0;
    let (mut above, mut below) = (0, 0);
    for x in &subs {
        if at < scroll {
            above += 1;
        } else if at >= scroll + usize::from(inner.height) {
            below += 1;
        }
        at += block_lines(s, x, t);
    }
    overflow(buf, r, t, above + 1 + below, above, 1);
    if s.target.stale() {
        grey(inner, t, buf);
    }
}

/// Lines one subsystem's block takes: NQN, namespaces, the reservation,
/// flags, SN/MN.
fn block_lines(s: &Snapshot, x: &Subsystem, t: &Theme) -> usize {
    3 + x.namespaces.len().max(1) + reservation_lines(s, x, t, usize::MAX).len()
}

/// Lines the pane needs to show every subsystem, for the layout.
pub fn content_lines(s: &Snapshot, t: &Theme) -> usize {
    s.subsystems
        .iter()
        .filter(|x| x.subtype != "Discovery")
        .map(|x| block_lines(s, x, t))
        .sum()
}

/// Registrants listed under the reservation line before "+N more".
const REGISTRANTS_SHOWN: usize = 4;

/// The reservation on the console's namespace, as the initiator read it
/// (Reservation Report): type, holder, generation, PTPL, then the
/// registrants, this host marked. Only under the console's subsystem.
fn reservation_lines<'a>(s: &Snapshot, x: &Subsystem, t: &Theme, w: usize) -> Vec<Line<'a>> {
    let Some(r) = s.reservation.as_ref() else {
        return vec![];
    };
    if x.nqn != s.nqn || !x.namespaces.iter().any(|n| n.nsid == r.nsid) {
        return vec![];
    }
    let head = Span::styled(format!(" ns{} resv ", r.nsid), t.accent);
    let st: &ReservationStatus = match &r.report {
        Ok(st) => st,
        Err(e) => {
            return vec![Line::from(vec![
                head,
                Span::styled(fmt::truncate(e, w.saturating_sub(12).max(4)), t.muted),
            ])]
        }
    };
    let me = |id: &[u8; 16]| r.this_host.as_ref() == Some(id);
    let who = |id: &[u8; 16]| {
        if me(id) {
            "this host".to_string()
        } else {
            resv::short_id(id)
        }
    };
    let mut first = vec![head];
    if st.rtype == 0 {
        first.push(Span::styled("none", t.muted));
    } else {
        first.push(Span::styled(
            crate::nvme::opcodes::rtype::name(st.rtype).to_string(),
            t.warn,
        ));
        if let Some(h) = st.registrants.iter().find(|g| g.holds) {
            first.push(Span::styled("  holder ", t.muted));
            first.push(Span::raw(who(&h.hostid)));
        }
    }
    first.push(Span::styled(
        format!("  {} reg  gen {}", st.registrants_total, st.generation),
        t.muted,
    ));
    if st.ptpl {
        first.push(Span::styled("  PTPL", t.muted));
    }
    let mut out = vec![Line::from(first)];
    for g in st.registrants.iter().take(REGISTRANTS_SHOWN) {
        let mark = if g.holds { "   ★ " } else { "     " };
        let style = if me(&g.hostid) { t.ok } else { t.muted };
        out.push(Line::from(vec![
            Span::styled(mark, t.warn),
            Span::styled(format!("{} key {:#x}", who(&g.hostid), g.rkey), style),
        ]));
    }
    let more = (st.registrants_total as usize).saturating_sub(REGISTRANTS_SHOWN);
    if more > 0 {
        out.push(Line::styled(format!("     +{more} more"), t.muted));
    }
    out
}

//! Where each pane goes, from 72×20 up: a pure function of the terminal
//! size and the table sizes, shared by rendering and mouse hit-testing.
//!
//! ```text
//!  normal (< 170 cols)                      wide (≥ 170 cols, ≥ 40 rows)
//! ┌ header ─────────────────────────────┐  ┌ header ──────────────────────────────────┐
//! ├ Subsystems ─┬ Listeners ────────────┤  ├ Subsystems ┬ Listeners ──┬ Load ────────┤
//! ├ I/O paths ──┴───────────────────────┤  ├ I/O paths ─┴─────────────┤              │
//! ├ Connections ────────────────────────┤  ├ Connections ─────────────┼ Events ──────┤
//! ├ Load ───────────┬ Events ───────────┤  │                          │              │
//! └ footer: key hints / status / `:` ───┘  └ footer ──────────────────┴──────────────┘
//! ```

use ratatui::layout::Rect;

use super::app::{App, Pane};

/// Smallest size drawn; below it the screen says so.
pub const MIN_W: u16 = 72;
pub const MIN_H: u16 = 20;

#[derive(Clone, Debug, PartialEq)]
pub struct Areas {
    pub too_small: bool,
    pub header: Rect,
    pub panes: Vec<(Pane, Rect)>,
    pub footer: Rect,
    /// The walkthrough panel (a column) or banner (one row), when on.
    pub walk: Option<Rect>,
}

impl Areas {
    pub fn get(&self, p: Pane) -> Option<Rect> {
        self.panes.iter().find(|(q, _)| *q == p).map(|(_, r)| *r)
    }
}

/// Data rows a table pane shows (borders and header row excluded).
pub fn visible_rows(_p: Pane, r: Rect) -> usize {
    usize::from(r.height.saturating_sub(3))
}

/// First row shown so that `sel` is visible.
pub fn scroll_offset(sel: usize, len: usize, visible: usize) -> usize {
    if visible == 0 || len <= visible {
        return 0;
    }
    if sel < visible {
        0
    } else {
        (sel + 1 - visible).min(len - visible)
    }
}

fn rect(x: u16, y: u16, w: u16, h: u16) -> Rect {
    Rect::new(x, y, w, h)
}

pub fn compute(w: u16, h: u16, app: &App) -> Areas {
    let full = rect(0, 0, w, h);
    if w < MIN_W || h < MIN_H {
        return Areas {
            too_small: true,
            header: full,
            panes: vec![],
            footer: Rect::default(),
            walk: None,
        };
    }
    // Two lines of header (and a rule when tall) on wide screens; three
    // lines on narrow ones, where the header's segments wrap.
    let header_h: u16 = if w >= 150 && h < 30 { 2 } else { 3 };
    let footer_h: u16 = 1;
    let header = rect(0, 0, w, header_h);
    let footer = rect(0, h - footer_h, w, footer_h);
    let mut body = rect(0, header_h, w, h - header_h - footer_h);
    let mut walk = None;
    if app.walkthrough {
        if w >= 110 {
            let ww = (w / 4).clamp(34, 48);
            walk = Some(rect(w - ww, body.y, ww, body.height));
            body.width -= ww;
        } else {
            walk = Some(rect(0, body.bottom() - 1, w, 1));
            body.height -= 1;
        }
    }
    let w = body.width;
    if app.zoom {
        // `z`: the focused pane alone.
        return Areas {
            too_small: false,
            header,
            panes: vec![(app.focus, body)],
            footer,
            walk,
        };
    }

    // What each table needs to show all its rows, borders included: the
    // Subsystems pane draws, per subsystem, its NQN, one line per
    // namespace, then flags and SN/MN; the tables a header row; the
    // Connections table one more line (why rates are n/a, when they are).
    let rows = |p: Pane| u16::try_from(app.rows(p).max(1)).unwrap_or(u16::MAX);
    let n_listeners = rows(Pane::Listeners);
    let n_paths = rows(Pane::Paths);
    let sub_lines = u16::try_from(super::panes::subsystems::content_lines(
        &app.snap, &app.theme,
    ))
    .unwrap_or(u16::MAX)
    .max(2);
    let top_need = (n_listeners + 1).max(sub_lines) + 2;
    let paths_need = n_paths + 3;
    let conns_need = rows(Pane::Conns).max(2).saturating_add(4);
    let listeners_w = super::panes::listeners::content_width(&app.snap, app);
    let wide = w >= 170 && h >= 40;
    let mut panes = Vec::new();
    if wide {
        // Left: the tables, then the events; right: the load charts.
        let right_w = (w * 34 / 100).clamp(56, 96);
        let left_w = w - right_w;
        // Tables as tall as their rows, up to a third of the body each,
        // leaving Connections and Events room.
        let top_h = top_need.clamp(5, (body.height / 3).max(14));
        let paths_h = paths_need.clamp(5, (body.height / 3).max(10));
        // Listeners as wide as their columns and NQNs, Subsystems the rest.
        let sub_w = left_w
            .saturating_sub(listeners_w)
            .clamp(36, (left_w * 36 / 100).max(36));
        panes.push((Pane::Subsystems, rect(0, body.y, sub_w, top_h)));
        panes.push((Pane::Listeners, rect(sub_w, body.y, left_w - sub_w, top_h)));
        panes.push((Pane::Paths, rect(0, body.y + top_h, left_w, paths_h)));
        let conns_y = body.y + top_h + paths_h;
        let rest = body.bottom().saturating_sub(conns_y);
        let conns_h = conns_need.clamp(8, rest.saturating_sub(10).max(8));
        panes.push((Pane::Conns, rect(0, conns_y, left_w, conns_h)));
        panes.push((
            Pane::Events,
            rect(0, conns_y + conns_h, left_w, rest - conns_h),
        ));
        panes.push((Pane::Load, rect(left_w, body.y, right_w, body.height)));
    } else {
        let compact = h < 30;
        // Tables as tall as their rows where the body has room (a quarter
        // of it each at most), else as before.
        let cap = if compact { 0 } else { body.height / 4 };
        let mut top_h = if compact {
            n_listeners + 3
        } else {
            top_need.clamp(5, 9)
        }
        .min(8)
        .max(top_need.min(cap));
        let mut paths_h = paths_need
            .clamp(4, if compact { 6 } else { 9 })
            .max(paths_need.min(cap));
        // Load and Events need at least this much to be of use...
        let bottom_min = if h < 26 {
            4
        } else if compact {
            6
        } else {
            (body.height / 4).clamp(8, 14)
        };
        // ...and Connections four rows: on a short screen full tables
        // give rows back (they scroll, with a marker), the top first.
        let mut over = (top_h + paths_h + 4 + bottom_min).saturating_sub(body.height);
        let cut = over.min(top_h.saturating_sub(4));
        top_h -= cut;
        over -= cut;
        paths_h -= over.min(paths_h.saturating_sub(4));
        // ...Connections gets what its rows need (scrolling when they do
        // not fit), and Load and Events the rest: charts and the event log
        // use any height, a table's empty rows do not.
        let conns_room = body
            .height
            .saturating_sub(top_h + paths_h + bottom_min)
            .max(4);
        let conns_h = if compact {
            conns_room
        } else {
            conns_need.clamp(4, conns_room)
        };
        let bottom_h = body.height.saturating_sub(top_h + paths_h + conns_h);
        let sub_w = (w * 38 / 100).clamp(30, 60);
        panes.push((Pane::Subsystems, rect(0, body.y, sub_w, top_h)));
        panes.push((Pane::Listeners, rect(sub_w, body.y, w - sub_w, top_h)));
        let y = body.y + top_h;
        panes.push((Pane::Paths, rect(0, y, w, paths_h)));
        let y = y + paths_h;
        panes.push((Pane::Conns, rect(0, y, w, conns_h)));
        let y = y + conns_h;
        let load_w = w * 45 / 100;
        panes.push((Pane::Load, rect(0, y, load_w, bottom_h)));
        panes.push((Pane::Events, rect(load_w, y, w - load_w, bottom_h)));
    }
    Areas {
        too_small: false,
        header,
        panes,
        footer,
        walk,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::keymap::Keymap;
    use crate::ui::theme::Theme;

    #[test]
    fn panes_tile_the_body_without_overlap() {
        let mut app = App::new("Nvme0n1", "nqn", Theme::dark(), Keymap::default());
        tile(&app);
        // Many rows: tables grow with them, and still leave the others room.
        let big = crate::ui::fixture::fabric(30, 16);
        app.update(crate::ui::app::UiEvent::Snapshot(std::sync::Arc::new(big)));
        tile(&app);
        assert!(compute(71, 24, &app).too_small);
        assert!(compute(80, 19, &app).too_small);
    }

    #[test]
    fn zoom_gives_the_focused_pane_the_body() {
        let mut app = App::new("Nvme0n1", "nqn", Theme::dark(), Keymap::default());
        app.zoom = true;
        app.focus = Pane::Conns;
        let a = compute(120, 40, &app);
        assert_eq!(
            a.panes,
            vec![(Pane::Conns, rect(0, 3, 120, 36))],
            "header 3 rows, footer 1"
        );
    }

    fn tile(app: &App) {
        for (w, h) in [
            (72, 20),
            (80, 24),
            (120, 40),
            (169, 50),
            (200, 60),
            (250, 70),
        ] {
            let a = compute(w, h, app);
            assert!(!a.too_small);
            let mut cells = 0u32;
            for (i, (_, r)) in a.panes.iter().enumerate() {
                assert!(r.right() <= w && r.bottom() < h, "{w}x{h} {r:?}");
                assert!(r.width >= 20 && r.height >= 4, "{w}x{h} {r:?}");
                for (_, o) in &a.panes[i + 1..] {
                    assert!(!r.intersects(*o), "{w}x{h} {r:?} {o:?}");
                }
                cells += u32::from(r.width) * u32::from(r.height);
            }
            let body = u32::from(w) * u32::from(h - a.header.height - a.footer.height);
            assert_eq!(cells, body, "{w}x{h}");
        }
    }

    #[test]
    fn scrolling_keeps_selection_visible() {
        assert_eq!(scroll_offset(0, 10, 3), 0);
        assert_eq!(scroll_offset(2, 10, 3), 0);
        assert_eq!(scroll_offset(3, 10, 3), 1);
        assert_eq!(scroll_offset(9, 10, 3), 7);
        assert_eq!(scroll_offset(5, 2, 3), 0);
    }
}

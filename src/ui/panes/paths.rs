//! I/O paths of the bdev: controller, cntlid, transport ID, connected,
//! accessible, ANA state, ★ on the current path, outstanding I/O, IOPS
//! and MiB/s with a sparkline of the last minute.

use mpath_widgets::AnaBadge;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::{col, fit, frame, grey, header_row, rcol, rows, spark, tick, Col};
use crate::ui::app::{App, Pane};
use crate::ui::fmt;
use crate::ui::snapshot::{Metric, Snapshot};

const COLS: [Col; 11] = [
    col("", 1),
    col("Ctrlr", 6),
    rcol("cntlid", 6),
    col("Transport ID", 24),
    col("Conn", 4),
    col("Acc", 3),
    col("ANA", 15),
    rcol("Outst", 6),
    rcol("IOPS", 8),
    rcol("MiB/s", 7),
    col("last 60 s", 30),
];

pub fn render(s: &Snapshot, app: &App, r: Rect, focused: bool, buf: &mut Buffer) {
    let t = &app.theme;
    let note = Line::from(vec![
        Span::styled(format!(" {} ", s.bdev), t.accent),
        Span::styled(
            format!(
                "{}{} ",
                s.policy.as_deref().unwrap_or("?"),
                match (&s.policy, &s.selector) {
                    (Some(p), Some(x)) if p == "active_active" => format!("/{x}"),
                    _ => String::new(),
                }
            ),
            t.muted,
        ),
    ]);
    let block = frame(t, Pane::Paths.title(), focused, Some(note), s.initiator.error.as_deref());
    let inner = block.inner(r);
    block.render(r, buf);
    if inner.height == 0 {
        return;
    }
    let mut cols = COLS;
    // The sparkline takes what is left.
    let fixed: u16 = cols[..10].iter().map(|c| c.width + 1).sum();
    cols[10].width = inner.width.saturating_sub(fixed).clamp(8, 60);
    let keep = fit(&cols, &[0, 3, 6, 8, 2, 9, 4, 5, 7, 1, 10], inner.width);
    header_row(buf, inner, &cols, &keep, t);
    let body = Rect::new(inner.x, inner.y + 1, inner.width, inner.height - 1);
    let n = s.paths.len();
    if n == 0 {
        let msg = if s.initiator.present {
            format!("no I/O paths for {} (bdev_nvme_get_io_paths -n {})", s.bdev, s.bdev)
        } else {
            "no initiator attached".into()
        };
        buf.set_stringn(body.x, body.y, msg, usize::from(body.width), t.muted);
    }
    let sel = app.sel[Pane::Paths.index()];
    let spark_w = usize::from(cols[10].width);
    rows(buf, body, &cols, &keep, n, Some(sel), focused, t, |i, c| {
        let p = &s.paths[i];
        let m = |x: &Metric, f: fn(f64) -> String| match x {
            Metric::Value(v) => Span::raw(f(*v)),
            Metric::Unavailable(_) => Span::styled("n/a", t.muted),
        };
        match c {
            0 => {
                if p.current {
                    vec![Span::styled("★", t.current)]
                } else {
                    vec![]
                }
            }
            1 => vec![Span::raw(if p.ctrlr.is_empty() { "?".into() } else { p.ctrlr.clone() })],
            2 => vec![Span::raw(p.cntlid.to_string())],
            3 => vec![Span::styled(format!("{} ", p.trtype), t.muted), Span::raw(p.addr())],
            4 => vec![tick(p.connected, t)],
            5 => vec![tick(p.accessible, t)],
            6 => {
                let b = AnaBadge::new(&p.ana_state).palette(t.ana);
                vec![Span::styled(format!(" {} ", b.label()), b.style())]
            }
            7 => vec![Span::raw(p.outstanding.map_or("n/a".into(), |o| o.to_string()))],
            8 => vec![m(&p.iops, fmt::count)],
            9 => vec![m(&p.mibps, fmt::mibps)],
            _ => vec![Span::styled(spark(&p.history, spark_w), t.series(i))],
        }
    });
    if let Some(reason) = s.paths.iter().find_map(|p| match &p.iops {
        Metric::Unavailable(r) if r != "first sample" => Some(r.clone()),
        _ => None,
    }) {
        if usize::from(body.height) > n {
            let y = body.y + n as u16;
            buf.set_stringn(body.x, y, format!("IOPS n/a: {reason}"), usize::from(body.width), t.muted);
        }
    }
    if s.initiator.stale() {
        grey(inner, t, buf);
    }
}

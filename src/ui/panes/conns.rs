//! Connections, like `ss -tni`: the kernel's view of every NVMe/TCP socket
//! (state, Recv-Q, Send-Q, addresses, byte rates, rtt), each tied to its
//! listener, path (cntlid) and queue, with bars for the queues.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::{bar, col, fit, frame, header_row, rcol, rows, Col};
use crate::ui::app::{App, Pane};
use crate::ui::fmt;
use crate::ui::snapshot::{Metric, Side, Snapshot};

const COLS: [Col; 14] = [
    col("", 1),
    col("Side", 6),
    col("State", 6),
    rcol("Recv-Q", 8),
    rcol("Send-Q", 8),
    col("Local", 21),
    col("Peer", 21),
    rcol("tx/s", 8),
    rcol("rx/s", 8),
    rcol("rtt", 7),
    col("Listener", 15),
    rcol("cntlid", 6),
    col("Queue", 7),
    col("Recv-Q ▮ Send-Q", 16),
];

pub fn render(s: &Snapshot, app: &App, r: Rect, focused: bool, buf: &mut Buffer) {
    let t = &app.theme;
    let remote = s.conns.rows.iter().filter(|c| c.side == Side::Remote).count();
    let mut note = vec![Span::styled(format!(" {} sockets ", s.conns.rows.len() - remote), t.muted)];
    if remote > 0 {
        note.push(Span::styled(format!("+{remote} not on this machine "), t.warn));
    }
    let block = frame(t, "Connections (ss -tni)", focused, Some(Line::from(note)), None);
    let inner = block.inner(r);
    block.render(r, buf);
    if inner.height == 0 {
        return;
    }
    let mut cols = COLS;
    let fixed: u16 = cols[..13].iter().map(|c| c.width + 1).sum();
    cols[13].width = inner.width.saturating_sub(fixed).clamp(16, 40);
    let keep = fit(&cols, &[0, 1, 2, 3, 4, 12, 11, 6, 7, 8, 5, 9, 10, 13], inner.width);
    header_row(buf, inner, &cols, &keep, t);
    let mut body = Rect::new(inner.x, inner.y + 1, inner.width, inner.height - 1);
    if let Some(e) = &s.conns.error {
        buf.set_stringn(body.x, body.y, format!("kernel view unavailable: {e}"), usize::from(body.width), t.err);
        body.y += 1;
        body.height = body.height.saturating_sub(1);
    }
    let n = s.conns.rows.len();
    if n == 0 && s.conns.error.is_none() {
        buf.set_stringn(body.x, body.y, "no NVMe/TCP connections on the listeners' ports", usize::from(body.width), t.muted);
    }
    let qmax = s
        .conns
        .rows
        .iter()
        .flat_map(|c| [c.recv_q.unwrap_or(0), c.send_q.unwrap_or(0)])
        .max()
        .unwrap_or(0)
        .max(64 * 1024) as f64;
    let bar_w = usize::from(cols[13].width.saturating_sub(1) / 2);
    let sel = app.sel[Pane::Conns.index()];
    rows(buf, body, &cols, &keep, n, Some(sel), focused, t, |i, c| {
        let x = &s.conns.rows[i];
        let rate = |m: &Metric| match m {
            Metric::Value(v) => Span::raw(fmt::byte_rate(*v)),
            Metric::Unavailable(_) => Span::styled("n/a", t.muted),
        };
        let q = |v: Option<u32>, st| match v {
            Some(0) => Span::styled("0", t.muted),
            Some(v) => Span::styled(v.to_string(), st),
            None => Span::styled("–", t.muted),
        };
        match c {
            0 => {
                if x.current_path {
                    vec![Span::styled("★", t.current)]
                } else {
                    vec![]
                }
            }
            1 => vec![Span::styled(
                x.side.as_str(),
                match x.side {
                    Side::Target => t.accent,
                    Side::Host => t.hint,
                    Side::Remote => t.warn,
                },
            )],
            2 => vec![Span::raw(x.state.clone())],
            3 => vec![q(x.recv_q, t.bar_recv)],
            4 => vec![q(x.send_q, t.bar_send)],
            5 => vec![Span::raw(fmt::truncate_middle(&x.local, 21))],
            6 => vec![Span::raw(fmt::truncate_middle(&x.peer, 21))],
            7 => vec![rate(&x.tx_bps)],
            8 => vec![rate(&x.rx_bps)],
            9 => vec![match x.rtt_us {
                Some(r) => Span::raw(fmt::micros(r)),
                None => Span::styled("–", t.muted),
            }],
            10 => vec![Span::styled(x.listener.clone().unwrap_or_default(), t.muted)],
            11 => vec![Span::raw(x.cntlid.map_or("?".into(), |c| c.to_string()))],
            12 => vec![Span::raw(x.queue.label())],
            _ => {
                if x.side == Side::Remote {
                    return vec![Span::styled("not on this machine", t.warn)];
                }
                let r = f64::from(x.recv_q.unwrap_or(0)) / qmax;
                let s2 = f64::from(x.send_q.unwrap_or(0)) / qmax;
                vec![
                    Span::styled(bar(r, bar_w), t.bar_recv),
                    Span::styled("▕", t.muted),
                    Span::styled(bar(s2, bar_w), t.bar_send),
                ]
            }
        }
    });
    // Why rates are n/a, once, under the rows.
    if usize::from(body.height) > n {
        let why = s.conns.rows.iter().find_map(|c| match &c.tx_bps {
            Metric::Unavailable(r) if c.side != Side::Remote => Some(r.clone()),
            _ => None,
        });
        if let Some(w) = why {
            buf.set_stringn(body.x, body.y + n as u16, format!("rates n/a: {w}"), usize::from(body.width), t.muted);
        }
    }
}

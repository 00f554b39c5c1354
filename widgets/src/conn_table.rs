//! TCP connections, one row each, the way `ss -tni` shows them, with the
//! console's idea of what each connection is for.
//!
//! ```text
//! Role              State      Recv-Q       Send-Q       Local          Peer                    Tx         Rx RTT ms
//! 4420 listen       LISTEN          0          128       127.0.0.1:4420 0.0.0.0:*              n/a        n/a    n/a
//! 4420 I/O q1       ESTAB           0       8192 █████ 127.0.0.1:4420 127.0.0.1:50412 1.23 MiB/s 12.0 KiB/s   0.05
//! 5520 admin remote CLOSE-WAIT   4096 ██▌          0     127.0.0.2:5520 127.0.0.9:41000      0 B/s        n/a  12.35
//! ```
//!
//! Recv-Q and Send-Q are bytes, as the kernel reports them, each with a
//! small bar on a shared scale so a backlog stands out. On a listening
//! socket the kernel reuses those two fields for the accept backlog and its
//! limit, so listeners get no bar and do not set the scale.
//!
//! As the pane narrows, columns leave in this order: the Recv-Q bar, the
//! Send-Q bar, RTT, Rx, Tx, State, Local, Peer. Role, Recv-Q and Send-Q
//! always stay. Numbers and state names are never cut; addresses are cut
//! in the middle, keeping the port.

use std::fmt::Write as _;

use ratatui_core::buffer::Buffer;
use ratatui_core::layout::Rect;
use ratatui_core::style::Style;
use ratatui_core::widgets::Widget;

use crate::columns::{self, Col, Head};
use crate::sparkline::format_rate;
use crate::text::{self, Cut, NOT_AVAILABLE};
use crate::theme::Theme;

/// One TCP connection (or listening socket), as plain data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnRow {
    /// What the console knows the socket to be: `"4420 listen"`,
    /// `"4420 I/O q1"`, `"5520 admin"`.
    pub role: String,
    /// The socket belongs to a host other than this console's own engines
    /// (a kernel initiator connected to our target, say); labelled
    /// "remote".
    pub remote_host: bool,
    /// `ss`'s state name: `ESTAB`, `LISTEN`, `SYN-SENT`, ...
    pub state: String,
    /// Bytes received and not yet read by the application.
    pub recv_q: u64,
    /// Bytes sent and not yet acknowledged by the peer.
    pub send_q: u64,
    /// `addr:port`.
    pub local: String,
    pub peer: String,
    /// Bytes per second; `None` until there are two samples.
    pub tx_bps: Option<f64>,
    pub rx_bps: Option<f64>,
    /// Smoothed round-trip time in milliseconds.
    pub rtt_ms: Option<f64>,
}

/// The connections table. Renders in a bordered pane (unless `bordered`
/// is false) with a header row; scrolls so that the selected row is
/// visible.
#[derive(Clone, Copy, Debug)]
pub struct ConnTable<'a> {
    pub rows: &'a [ConnRow],
    /// Highlighted row; an index past the end highlights nothing.
    pub selected: Option<usize>,
    pub focused: bool,
    pub theme: &'a Theme,
    pub title: Option<&'a str>,
    pub bordered: bool,
    /// Queue bytes drawn as a full bar. `None`: the largest Recv-Q or
    /// Send-Q among the (non-listening) rows.
    pub queue_max: Option<u64>,
    /// The column sorted by (its index, left to right) and whether
    /// descending: its heading gets ▲ or ▼.
    pub sort: columns::SortMark,
}

const ROLE: usize = 0;
const STATE: usize = 1;
const RECVQ: usize = 2;
const RBAR: usize = 3;
const SENDQ: usize = 4;
const SBAR: usize = 5;
const LOCAL: usize = 6;
const PEER: usize = 7;
const TX: usize = 8;
const RX: usize = 9;
const RTT: usize = 10;
const NCOLS: usize = 11;

const HEADS: [Head; NCOLS] = [
    Head::left("Role", "Role"),
    Head::left("State", "State"),
    Head::right("Recv-Q", "Recv-Q"),
    Head::left("", ""),
    Head::right("Send-Q", "Send-Q"),
    Head::left("", ""),
    Head::left("Local", "Local"),
    Head::left("Peer", "Peer"),
    Head::right("Tx", "Tx"),
    Head::right("Rx", "Rx"),
    Head::right("RTT ms", "RTT"),
];

/// Cells in a queue bar.
const BAR: u16 = 5;

/// Left-aligned partial blocks, one to seven eighths.
const EIGHTHS: [&str; 7] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉"];

const REMOTE: &str = "remote";

const EMPTY: &str = "no connections";

impl<'a> ConnTable<'a> {
    pub fn new(rows: &'a [ConnRow], theme: &'a Theme) -> ConnTable<'a> {
        ConnTable {
            rows,
            selected: None,
            focused: false,
            theme,
            title: None,
            bordered: true,
            queue_max: None,
            sort: None,
        }
    }

    /// Marks column `col` (left to right, from 0) as the one the rows
    /// are sorted by, descending or not.
    #[must_use]
    pub fn sorted(self, sort: Option<(usize, bool)>) -> ConnTable<'a> {
        ConnTable { sort, ..self }
    }

    #[must_use]
    pub fn selected(self, selected: Option<usize>) -> ConnTable<'a> {
        ConnTable { selected, ..self }
    }

    #[must_use]
    pub fn focused(self, focused: bool) -> ConnTable<'a> {
        ConnTable { focused, ..self }
    }

    #[must_use]
    pub fn title(self, title: &'a str) -> ConnTable<'a> {
        ConnTable {
            title: Some(title),
            ..self
        }
    }

    #[must_use]
    pub fn bordered(self, bordered: bool) -> ConnTable<'a> {
        ConnTable { bordered, ..self }
    }

    /// A fixed scale for the queue bars (e.g. the socket buffer size).
    #[must_use]
    pub fn queue_max(self, max: u64) -> ConnTable<'a> {
        ConnTable {
            queue_max: Some(max),
            ..self
        }
    }

    /// Rows that fit in `area` below the header (for page up/down).
    pub fn page_size(&self, area: Rect) -> usize {
        columns::page_size(area, self.bordered)
    }

    /// The bytes a full bar stands for.
    fn scale(&self) -> u64 {
        match self.queue_max {
            Some(m) if m > 0 => m,
            _ => self
                .rows
                .iter()
                .filter(|r| !is_listen(&r.state))
                .map(|r| r.recv_q.max(r.send_q))
                .max()
                .unwrap_or(0),
        }
    }

    fn columns(&self) -> [Col; NCOLS] {
        let widest = |f: &dyn Fn(&ConnRow) -> usize, floor: usize, cap: u16| -> u16 {
            let w = self.rows.iter().map(f).max().unwrap_or(0).max(floor);
            w.min(usize::from(cap)) as u16
        };
        let role = widest(&role_width, HEADS[ROLE].long.len(), 30);
        // The role says what the row is; keep room for a typical one with
        // its tag ("5520 I/O q12 remote") before lesser columns show.
        let role_min = widest(&role_width, 4, 20);
        let state = widest(&|r| text::width(&r.state), HEADS[STATE].long.len(), 12);
        let recvq = widest(&|r| digits(r.recv_q), HEADS[RECVQ].long.len(), 20);
        let sendq = widest(&|r| digits(r.send_q), HEADS[SENDQ].long.len(), 20);
        // An IPv6 address in brackets, a colon and a port: 47 at most.
        let local = widest(&|r| text::width(&r.local), HEADS[LOCAL].long.len(), 47);
        let peer = widest(&|r| text::width(&r.peer), HEADS[PEER].long.len(), 47);
        // Room for any IPv4 `addr:port` (21) before lesser columns show.
        let local_min = widest(&|r| text::width(&r.local), 9, 21);
        let peer_min = widest(&|r| text::width(&r.peer), 9, 21);
        [
            Col::new(role_min, role, 0),
            // State names are short and mean nothing cut ("CLOS…"): shown
            // whole or not at all.
            Col::fixed(state, 5),
            // Numbers are never cut: a cut number reads as a smaller one.
            Col::fixed(recvq, 0),
            Col::fixed(BAR, 10),
            Col::fixed(sendq, 0),
            Col::fixed(BAR, 9),
            Col::new(local_min, local, 4),
            Col::new(peer_min, peer, 1),
            Col::fixed(10, 6),
            Col::fixed(10, 7),
            Col::fixed(6, 8),
        ]
    }

    fn draw(&self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let Some(frame) = columns::frame(
            area,
            buf,
            theme,
            self.focused,
            self.bordered,
            self.title,
            self.rows.len(),
            self.selected,
        ) else {
            return;
        };
        let place = columns::place(&self.columns(), frame.header.width);

        columns::draw_header(buf, frame.header, &place, &HEADS, theme.header, self.sort);

        let body = frame.body;
        if body.is_empty() {
            return;
        }
        if self.rows.is_empty() {
            text::put(buf, body.x, body.y, EMPTY, body.width, theme.dim, Cut::End);
            return;
        }

        let scale = self.scale();
        let selection = columns::selection_style(theme, self.focused);
        let mut scratch = String::new();
        let visible = self.rows.iter().enumerate().skip(frame.offset);
        for ((index, row), y) in visible.zip(body.y..body.bottom()) {
            let line = Rect {
                y,
                height: 1,
                ..body
            };
            let cell = |col: usize| place[col].map(|(x, w)| (line.x + x, w));
            let listen = is_listen(&row.state);
            if let Some((x, w)) = cell(ROLE) {
                draw_role(buf, x, y, w, row, theme);
            }
            if let Some((x, w)) = cell(STATE) {
                // Anything but an established or listening socket is a
                // connection coming or going, worth a look.
                let s = if listen || is_established(&row.state) {
                    Style::new()
                } else {
                    theme.warn
                };
                text::put(buf, x, y, &row.state, w, s, Cut::End);
            }
            for (col, bar, q) in [(RECVQ, RBAR, row.recv_q), (SENDQ, SBAR, row.send_q)] {
                if let Some((x, w)) = cell(col) {
                    scratch.clear();
                    let _ = write!(scratch, "{q}");
                    text::put_right(buf, x, y, &scratch, w, Style::new());
                }
                if let (Some((x, w)), false) = (cell(bar), listen) {
                    draw_bar(buf, Rect::new(x, y, w, 1), q, scale, theme);
                }
            }
            if let Some((x, w)) = cell(LOCAL) {
                text::put(buf, x, y, &row.local, w, Style::new(), Cut::Middle);
            }
            if let Some((x, w)) = cell(PEER) {
                text::put(buf, x, y, &row.peer, w, Style::new(), Cut::Middle);
            }
            for (col, rate) in [(TX, row.tx_bps), (RX, row.rx_bps)] {
                if let Some((x, w)) = cell(col) {
                    match rate.filter(|v| v.is_finite()) {
                        Some(v) => text::put_right(buf, x, y, &format_rate(v), w, Style::new()),
                        None => text::put_right(buf, x, y, NOT_AVAILABLE, w, theme.dim),
                    }
                }
            }
            if let Some((x, w)) = cell(RTT) {
                match row.rtt_ms.filter(|v| v.is_finite()) {
                    Some(v) => {
                        scratch.clear();
                        // Two decimals, as ss shows it, while that fits the
                        // column; a multi-second RTT loses them instead of
                        // being cut.
                        let decimals = if v.abs() < 999.995 { 2 } else { 0 };
                        let _ = write!(scratch, "{v:.decimals$}");
                        text::put_right(buf, x, y, &scratch, w, Style::new());
                    }
                    None => text::put_right(buf, x, y, NOT_AVAILABLE, w, theme.dim),
                }
            }
            if self.selected == Some(index) {
                columns::highlight_row(buf, line, selection, theme);
            }
        }
    }
}

/// The role, and for a remote host's socket a dim "remote" tag, which
/// keeps its room even when the role has to be cut.
fn draw_role(buf: &mut Buffer, x: u16, y: u16, w: u16, row: &ConnRow, theme: &Theme) {
    if !row.remote_host {
        text::put(buf, x, y, &row.role, w, Style::new(), Cut::End);
        return;
    }
    let tag = REMOTE.len() as u16;
    let role_room = if row.role.is_empty() {
        0
    } else {
        w.saturating_sub(tag + 1)
    };
    let used = text::put(buf, x, y, &row.role, role_room, Style::new(), Cut::End);
    let gap = u16::from(used > 0);
    text::put(
        buf,
        x + used + gap,
        y,
        REMOTE,
        w - used - gap,
        theme.dim,
        Cut::End,
    );
}

/// A bar across `area`'s width, in eighths of a cell, for `value` out of
/// `max`: the track in `bar_empty`, the fill in `bar_fill` patched over it.
/// Any non-zero queue gets at least an eighth, so it is never invisible.
fn draw_bar(buf: &mut Buffer, area: Rect, value: u64, max: u64, theme: &Theme) {
    text::paint(buf, area, theme.bar_empty);
    if value == 0 || max == 0 || area.width == 0 {
        return;
    }
    let total = u128::from(area.width) * 8;
    // Rounded up, in u128 so value * total cannot overflow.
    let eighths = (u128::from(value) * total)
        .div_ceil(u128::from(max))
        .clamp(1, total);
    // Both at most area.width, a u16.
    let full = (eighths / 8) as u16;
    let part = (eighths % 8) as usize;
    for x in area.x..area.x + full {
        buf[(x, area.y)].set_symbol("█").set_style(theme.bar_fill);
    }
    if part > 0 {
        buf[(area.x + full, area.y)]
            .set_symbol(EIGHTHS[part - 1])
            .set_style(theme.bar_fill);
    }
}

/// The role and, for a remote host, a space and the tag.
fn role_width(r: &ConnRow) -> usize {
    let tag = if r.remote_host { REMOTE.len() + 1 } else { 0 };
    text::width(&r.role) + tag
}

fn is_listen(state: &str) -> bool {
    state.trim().eq_ignore_ascii_case("LISTEN")
}

fn is_established(state: &str) -> bool {
    let s = state.trim();
    s.eq_ignore_ascii_case("ESTAB") || s.eq_ignore_ascii_case("ESTABLISHED")
}

fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

impl Widget for ConnTable<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.draw(area, buf);
    }
}

impl Widget for &ConnTable<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.draw(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::testing::{find, lines, render_all_sizes, row};
    use ratatui_core::style::{Color, Modifier};

    fn demo() -> Vec<ConnRow> {
        vec![
            ConnRow {
                role: "4420 listen".into(),
                state: "LISTEN".into(),
                recv_q: 0,
                send_q: 128,
                local: "127.0.0.1:4420".into(),
                peer: "0.0.0.0:*".into(),
                ..ConnRow::default()
            },
            ConnRow {
                role: "4420 I/O q1".into(),
                state: "ESTAB".into(),
                recv_q: 0,
                send_q: 8192,
                local: "127.0.0.1:4420".into(),
                peer: "127.0.0.1:50412".into(),
                tx_bps: Some(1.23 * 1048576.0),
                rx_bps: Some(12.0 * 1024.0),
                rtt_ms: Some(0.049),
                ..ConnRow::default()
            },
            ConnRow {
                role: "5520 admin".into(),
                remote_host: true,
                state: "CLOSE-WAIT".into(),
                recv_q: 4096,
                send_q: 0,
                local: "127.0.0.2:5520".into(),
                peer: "127.0.0.9:41000".into(),
                tx_bps: Some(0.0),
                rtt_ms: Some(12.345),
                ..ConnRow::default()
            },
        ]
    }

    fn render(t: &ConnTable<'_>, w: u16, h: u16) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        t.render(buf.area, &mut buf);
        buf
    }

    #[test]
    fn full_width_layout() {
        let theme = Theme::dark();
        let rows = demo();
        let buf = render(&ConnTable::new(&rows, &theme).bordered(false), 120, 4);
        assert_eq!(
            lines(&buf),
            [
                "Role              State      Recv-Q       Send-Q       Local          Peer                    Tx         Rx RTT ms",
                "4420 listen       LISTEN          0          128       127.0.0.1:4420 0.0.0.0:*              n/a        n/a    n/a",
                "4420 I/O q1       ESTAB           0         8192 █████ 127.0.0.1:4420 127.0.0.1:50412 1.23 MiB/s 12.0 KiB/s   0.05",
                "5520 admin remote CLOSE-WAIT   4096 ██▌        0       127.0.0.2:5520 127.0.0.9:41000      0 B/s        n/a  12.35",
            ]
        );
    }

    #[test]
    fn styles_follow_the_theme() {
        let theme = Theme::dark();
        let rows = demo();
        let buf = render(
            &ConnTable::new(&rows, &theme)
                .selected(Some(2))
                .focused(true),
            120,
            6,
        );
        assert_eq!(buf[(0, 0)].fg, Color::Cyan);
        // Rows: listener at y 2, I/O queue at 3, remote admin at 4.
        // The dim tag is in the selected row: plain there, so the reversed
        // highlight is even across it (dim elsewhere: "n/a" below).
        let tag = find(&buf, 4, "remote").unwrap();
        assert_eq!(buf[(tag, 4)].fg, Color::Reset);
        assert_eq!(buf[(1, 4)].fg, Color::Reset);
        // An unusual state is a warning; established and listening are not.
        let st = find(&buf, 4, "CLOSE-WAIT").unwrap();
        assert_eq!(buf[(st, 4)].fg, Color::Yellow);
        let st = find(&buf, 3, "ESTAB").unwrap();
        assert_eq!(buf[(st, 3)].fg, Color::Reset);
        let st = find(&buf, 2, "LISTEN").unwrap();
        assert_eq!(buf[(st, 2)].fg, Color::Reset);
        // Bar: the fill patched over the track, so the partial cell shows
        // both.
        let bar = find(&buf, 4, "██▌").unwrap();
        assert_eq!(buf[(bar, 4)].fg, Color::Cyan);
        assert_eq!(
            (buf[(bar + 2, 4)].fg, buf[(bar + 2, 4)].bg),
            (Color::Cyan, Color::DarkGray)
        );
        assert_eq!(buf[(bar + 4, 4)].bg, Color::DarkGray);
        // Listeners have no bar, not even a track.
        let q = find(&buf, 2, "128").unwrap();
        assert_eq!(buf[(q + 4, 2)].bg, Color::Reset);
        // n/a is dim.
        let na = find(&buf, 2, "n/a").unwrap();
        assert_eq!(buf[(na, 2)].fg, Color::DarkGray);
        // The selected row is reversed across, the others are not.
        assert!((1..119).all(|x| buf[(x, 4)].modifier.contains(Modifier::REVERSED)));
        assert!(!buf[(1, 3)].modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn bars_are_in_eighths_of_a_cell() {
        let theme = Theme::mono();
        let bar = |value: u64, max: u64, width: u16| {
            let mut buf = Buffer::empty(Rect::new(0, 0, width, 1));
            let area = buf.area;
            draw_bar(&mut buf, area, value, max, &theme);
            row(&buf, 0)
        };
        assert_eq!(bar(0, 40, 5), "     ");
        assert_eq!(bar(1, 40, 5), "▏    ");
        assert_eq!(bar(20, 40, 5), "██▌  ");
        assert_eq!(bar(30, 40, 5), "███▊ ");
        assert_eq!(bar(39, 40, 5), "████▉");
        assert_eq!(bar(40, 40, 5), "█████");
        // Above the max: full; no usable max: nothing.
        assert_eq!(bar(400, 40, 5), "█████");
        assert_eq!(bar(4, 0, 5), "     ");
        // A huge max still shows that something is queued, without overflow.
        assert_eq!(bar(1, u64::MAX, 5), "▏    ");
        assert_eq!(bar(u64::MAX, u64::MAX, 5), "█████");
        assert_eq!(bar(u64::MAX - 1, u64::MAX, 2), "██");
        assert_eq!(bar(5, 10, 1), "▌");
        assert_eq!(bar(5, 10, 0), "");
    }

    #[test]
    fn bars_share_a_scale_that_listeners_do_not_set() {
        let theme = Theme::mono();
        let rows = demo();
        // Auto: the largest non-listening queue, 8192 (the listener's
        // backlog limit, 128, does not count).
        let buf = render(&ConnTable::new(&rows, &theme).bordered(false), 120, 4);
        assert!(row(&buf, 2).contains("8192 █████"), "{}", row(&buf, 2));
        assert!(row(&buf, 3).contains("4096 ██▌"), "{}", row(&buf, 3));
        assert!(!row(&buf, 1).contains(['█', '▏']), "{}", row(&buf, 1));
        // A fixed scale.
        let buf = render(
            &ConnTable::new(&rows, &theme)
                .bordered(false)
                .queue_max(16384),
            120,
            4,
        );
        assert!(row(&buf, 2).contains("8192 ██▌"), "{}", row(&buf, 2));
        assert!(row(&buf, 3).contains("4096 █▎"), "{}", row(&buf, 3));
    }

    #[test]
    fn drops_bars_first_and_keeps_role_and_queues() {
        let theme = Theme::dark();
        let rows = demo();
        let render_at = |w: u16| render(&ConnTable::new(&rows, &theme).bordered(false), w, 4);
        // The Recv-Q bar goes first: row 3 has a Recv-Q bar, row 2 a Send-Q bar.
        let names = [
            "recv bar", "send bar", "RTT", "Rx", "Tx", "State", "Local", "Peer",
        ];
        let present = |buf: &Buffer, name: &str| match name {
            "recv bar" => row(buf, 3).contains("4096 █"),
            "send bar" => row(buf, 2).contains("8192 █"),
            _ => row(buf, 0).contains(name),
        };
        let mut gone = Vec::new();
        for w in (0..=130).rev() {
            let buf = render_at(w);
            for name in names {
                if !gone.contains(&name) && !present(&buf, name) {
                    gone.push(name);
                }
            }
            for name in &gone {
                assert!(!present(&buf, name), "{w}: {name}: {:?}", lines(&buf));
            }
            // Role (17 wide here), Recv-Q and Send-Q stay to the end.
            if w >= 31 {
                let h = row(&buf, 0);
                assert!(
                    h.starts_with("Role") && h.contains("Recv-Q") && h.contains("Send-Q"),
                    "{w}: {h}"
                );
            }
        }
        assert_eq!(gone, names);
    }

    #[test]
    fn remote_tag_keeps_its_room() {
        let theme = Theme::dark();
        let rows = vec![
            ConnRow {
                role: "a very long role name indeed".into(),
                remote_host: true,
                ..ConnRow::default()
            },
            ConnRow {
                remote_host: true,
                ..ConnRow::default()
            },
        ];
        // Narrow: the tag keeps its room, the role goes first.
        let buf = render(&ConnTable::new(&rows, &theme).bordered(false), 20, 3);
        assert_eq!(lines(&buf)[1], "a very long … remote");
        let buf = render(&ConnTable::new(&rows, &theme).bordered(false), 130, 3);
        let r = row(&buf, 1);
        assert!(
            r.starts_with("a very long role na") && r.contains("… remote "),
            "{r}"
        );
        assert!(row(&buf, 2).starts_with("remote "));
        // A cut role still shows the tag.
        let mut buf = Buffer::empty(Rect::new(0, 0, 14, 1));
        draw_role(&mut buf, 0, 0, 14, &rows[0], &theme);
        assert_eq!(row(&buf, 0), "a very… remote");
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 1));
        draw_role(&mut buf, 0, 0, 4, &rows[0], &theme);
        assert_eq!(row(&buf, 0), "rem…");
    }

    #[test]
    fn rtt_keeps_two_decimals_until_it_cannot() {
        let theme = Theme::mono();
        let rtt = |ms: f64| {
            let rows = vec![ConnRow {
                rtt_ms: Some(ms),
                ..ConnRow::default()
            }];
            let buf = render(&ConnTable::new(&rows, &theme).bordered(false), 130, 2);
            row(&buf, 1)
                .trim_end()
                .rsplit(' ')
                .next()
                .unwrap()
                .to_string()
        };
        assert_eq!(rtt(0.031), "0.03");
        assert_eq!(rtt(999.994), "999.99");
        assert_eq!(rtt(12_345.6), "12346");
        assert_eq!(rtt(f64::INFINITY), "n/a");
    }

    #[test]
    fn empty_table_says_so() {
        let theme = Theme::dark();
        let buf = render(&ConnTable::new(&[], &theme).bordered(false), 30, 2);
        assert_eq!(row(&buf, 1), "no connections                ");
    }

    #[test]
    fn tiny_areas_and_odd_values_do_not_panic() {
        let theme = Theme::dark();
        let mut rows = demo();
        rows.push(ConnRow {
            role: "ロール".repeat(30),
            remote_host: true,
            state: "\u{0}\u{7}状態".into(),
            recv_q: u64::MAX,
            send_q: u64::MAX,
            local: "[fe80::1%eth0]:4420".repeat(4),
            peer: "e\u{301}".repeat(100),
            tx_bps: Some(f64::INFINITY),
            rx_bps: Some(-5.0),
            rtt_ms: Some(f64::NAN),
        });
        for sel in [None, Some(0), Some(3), Some(99)] {
            for bordered in [true, false] {
                let t = ConnTable::new(&rows, &theme)
                    .selected(sel)
                    .bordered(bordered)
                    .title("接続");
                render_all_sizes(4, |area, buf| t.render(area, buf));
                render_all_sizes(3, |area, buf| t.queue_max(1).render(area, buf));
            }
        }
        for w in 0..=140 {
            render(&ConnTable::new(&rows, &theme), w, 7);
        }
        let buf = render(&ConnTable::new(&rows, &theme), 250, 7);
        let r = row(&buf, 5);
        assert_eq!(r.matches("18446744073709551615").count(), 2, "{r}");
        assert!(!r.contains(['\u{0}', '\u{7}']));
        assert!(r.contains("-5 B/s") && r.contains("n/a"), "{r}");
    }
}

//! Every widget on random sizes, strings and numbers: nothing may panic.

use crate::*;
use ratatui_core::buffer::Buffer;
use ratatui_core::layout::Rect;
use ratatui_core::widgets::Widget;

/// xorshift64*: a fixed seed keeps failures reproducible without a
/// dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn string(&mut self) -> String {
        const PIECES: [&str; 16] = [
            "a",
            "Z",
            "0",
            " ",
            ":",
            "状",
            "é",
            "e\u{301}",
            "\u{301}",
            "👩‍💻",
            "\t",
            "\x1b",
            "\n",
            "\u{200b}",
            "ﾞ",
            "…",
        ];
        let len = match self.below(10) {
            0 => 0,
            1 => 200,
            _ => self.below(20),
        };
        (0..len).map(|_| PIECES[self.below(16) as usize]).collect()
    }

    fn float(&mut self) -> Option<f64> {
        const ODD: [f64; 7] = [
            0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            1e-300,
        ];
        match self.below(4) {
            0 => None,
            1 => Some(ODD[self.below(7) as usize]),
            _ => Some(self.below(10_000_000) as f64 / 7.0),
        }
    }

    fn u64(&mut self) -> u64 {
        match self.below(4) {
            0 => 0,
            1 => u64::MAX,
            _ => self.below(100_000),
        }
    }
}

#[test]
fn widgets_survive_random_input() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let themes = [Theme::dark(), Theme::light(), Theme::mono()];
    for _ in 0..400 {
        let theme = &themes[rng.below(3) as usize];
        let w = rng.below(90) as u16;
        let h = rng.below(14) as u16;
        let area = Rect::new(rng.below(3) as u16, rng.below(3) as u16, w, h);
        let mut buf = Buffer::empty(Rect::new(0, 0, w + 2, h + 2));
        let n = rng.below(6) as usize;
        let selected = (rng.below(2) == 0).then(|| rng.below(8) as usize);

        let paths: Vec<PathRow> = (0..n)
            .map(|_| PathRow {
                name: rng.string(),
                cntlid: rng.next() as u16,
                traddr: rng.string(),
                trsvcid: rng.string(),
                connected: rng.below(2) == 0,
                accessible: rng.below(2) == 0,
                ana_state: rng.string(),
                current: rng.below(2) == 0,
                outstanding: (rng.below(2) == 0).then(|| rng.next() as u32),
                iops: rng.float(),
                mibps: rng.float(),
                history: (0..rng.below(80)).map(|_| rng.u64()).collect(),
                health: rng.string(),
                health_alarm: rng.below(2) == 0,
                latency_us: rng.float(),
                errors: (rng.below(2) == 0).then(|| rng.u64()),
            })
            .collect();
        PathTable::new(&paths, theme)
            .selected(selected)
            .focused(rng.below(2) == 0)
            .bordered(rng.below(2) == 0)
            .render(area, &mut buf);

        let conns: Vec<ConnRow> = (0..n)
            .map(|_| ConnRow {
                role: rng.string(),
                remote_host: rng.below(2) == 0,
                state: rng.string(),
                recv_q: rng.u64(),
                send_q: rng.u64(),
                local: rng.string(),
                peer: rng.string(),
                tx_bps: rng.float(),
                rx_bps: rng.float(),
                rtt_ms: rng.float(),
            })
            .collect();
        let mut t = ConnTable::new(&conns, theme).selected(selected);
        if rng.below(2) == 0 {
            t = t.queue_max(rng.u64());
        }
        t.render(area, &mut buf);

        let bindings: Vec<(String, String, String)> = (0..n * 3)
            .map(|_| (rng.string(), rng.string(), rng.string()))
            .collect();
        HelpOverlay::new(&bindings, theme)
            .offset(rng.u64() as usize)
            .render(area, &mut buf);

        let text = rng.string();
        let completions: Vec<String> = (0..n).map(|_| rng.string()).collect();
        let message = rng.string();
        let c = CommandLine::new(&text, rng.below(40) as usize, theme)
            .completions(&completions, selected)
            .message(rng.below(2) == 0, &message)
            .active(rng.below(4) != 0)
            .prompt(if rng.below(2) == 0 { ":" } else { "状> " })
            .max_completions(rng.below(10) as u16);
        c.render(area, &mut buf);
        let (x, y) = c.cursor_position(area);
        if !area.is_empty() {
            assert!(area.contains((x, y).into()), "{area:?} {x},{y}");
        }

        let hints: Vec<(String, String)> = (0..n).map(|_| (rng.string(), rng.string())).collect();
        KeyHints::new(&hints, theme).render(area, &mut buf);

        let samples: Vec<f64> = (0..rng.below(100))
            .map(|_| rng.float().unwrap_or(0.0))
            .collect();
        let mut s = RateSparkline::new(&samples).style(theme.sparkline);
        if let Some(m) = rng.float() {
            s = s.max(m);
        }
        s.render(area, &mut buf);
        let _ = (
            format_rate(rng.float().unwrap_or(0.0)),
            format_iops(rng.float().unwrap_or(0.0)),
        );
    }
}

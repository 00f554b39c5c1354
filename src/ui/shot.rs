//! `mpath-console shot`: the README's pictures, taken from the real thing.
//!
//! It starts the embedded engines with the HOWTO's scenario (on the
//! HOWTO's addresses, free ports when those are taken) and the load, runs
//! the console's own sampler and executor, and drives [`App`] through
//! [`App::update`] with the keys a user would press: `n` on the first
//! listener, `o` and `p`, `?`, `:` and an RPC, with the walkthrough on as
//! `run --walkthrough` has it. At each state it renders a frame with
//! [`panes::draw`] into a ratatui [`Buffer`] and writes it as SVG
//! ([`buffer_to_svg`]: a monospace grid, per-cell colours and modifiers
//! from the theme) and, when `rsvg-convert` is installed, as PNG (made
//! smaller by `optipng` when that is installed too).
//!
//! Nothing is faked: the numbers, paths and connections are the engines'
//! and the kernel's at that moment, so the pictures differ run to run.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use tokio::sync::{mpsc, watch};
use unicode_width::UnicodeWidthStr;

use super::app::{App, Effect, Overlay, Pane, UiEvent};
use super::snapshot::Snapshot;
use super::theme::Theme;
use super::{exec, make_app, panes, sampler, UiOpts};
use crate::control::Engine;
use crate::engines::{default_socket, Engines};
use crate::perf::config::PerfConfig;
use crate::scenario;

/// `mpath-console shot`.
#[derive(clap::Args, Debug, Clone)]
pub struct ShotArgs {
    /// Directory the pictures are written to.
    #[arg(long, default_value = "screenshots")]
    pub out: PathBuf,
    /// Terminal width in cells.
    #[arg(long, default_value_t = 160)]
    pub width: u16,
    /// Terminal height in cells.
    #[arg(long, default_value_t = 48)]
    pub height: u16,
    /// Theme: dark, light, mono, or a JSON theme file.
    #[arg(long)]
    pub theme: Option<String>,
    /// Seconds of traffic in each state before its picture (the charts
    /// need a few points).
    #[arg(long, default_value_t = 6.0)]
    pub settle: f64,
    /// SVG only, even when rsvg-convert is installed.
    #[arg(long)]
    pub no_png: bool,
}

/// Runs the engines, drives the console through the HOWTO's states and
/// writes one picture per state into `a.out`.
pub async fn run(a: ShotArgs) -> Result<()> {
    // As `run --walkthrough`: the walkthrough follows the whole session
    // (its steps tick off as the snapshots show them done); the pictures
    // other than its own are drawn without its panel.
    let opts = UiOpts {
        theme: a.theme.clone(),
        walkthrough: true,
        ..UiOpts::default()
    };
    let app = make_app(&opts)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let png = !a.no_png && rsvg_available();
    if !a.no_png && !png {
        eprintln!(
            "shot: rsvg-convert not found, writing SVG only \
             (apt-get install librsvg2-bin fonts-dejavu-core for PNGs)"
        );
    }

    let perf = PerfConfig::howto_load();
    let mut e = Engines::new(perf);
    e.serve_unix(Engine::Target, &default_socket(Engine::Target))
        .await?;
    e.serve_unix(Engine::Initiator, &default_socket(Engine::Initiator))
        .await?;
    let listeners = scenario::howto_listeners()?;
    e.run_steps(&scenario::howto(&scenario::HowtoOpts {
        listeners: listeners.clone(),
        paths: 2,
        hdgst: false,
        ddgst: false,
        policy: None,
        reconnect_delay_sec: 10,
    }))
    .await?;

    let mut d = Driver::new(e.control(), app, &opts, (a.width, a.height));
    let shooter = Shooter {
        out: a.out.clone(),
        png,
        size: (a.width, a.height),
    };
    let r = take_all(&mut d, &shooter, &listeners, &a).await;
    e.bdevperf.stop();
    r
}

async fn take_all(
    d: &mut Driver,
    s: &Shooter,
    listeners: &[SocketAddr],
    a: &ShotArgs,
) -> Result<()> {
    let settle = Duration::from_secs_f64(a.settle.max(0.0));
    let (l1, l2) = (listeners[0].ip().to_string(), listeners[1].ip().to_string());

    // (a) The HOWTO's steady state: the app starts the load by itself
    // (autostart); all of it on the first path.
    d.until("the load running on the first path", 20, |app| {
        iops_on(app, &l1) > 0.0 && current_is(app, &l1)
    })
    .await?;
    d.pump(settle).await;
    s.save("01-howto", &mut d.app, false)?;

    // (b) `n` on the first listener: 4420 non_optimized, I/O moves to 5520.
    d.focus(Pane::Listeners).await?;
    d.key(KeyCode::Char('g')).await;
    for _ in 0..d.app.snap.listeners.len() {
        if d.app.selected_listener().is_some_and(|l| l.traddr == l1) {
            break;
        }
        d.key(KeyCode::Char('j')).await;
    }
    if d.app.selected_listener().is_none_or(|l| l.traddr != l1) {
        bail!("could not select the listener on {l1}");
    }
    d.key(KeyCode::Char('n')).await;
    d.until("I/O on the second path after `n`", 20, |app| {
        current_is(app, &l2) && iops_on(app, &l2) > 0.0 && ana_of(app, &l1) == "non_optimized"
    })
    .await?;
    d.pump(settle).await;
    s.save("02-non-optimized", &mut d.app, false)?;
    // (f) The same moment with the walkthrough panel: the HOWTO's steps so
    // far ticked off, the next one (`o`) current.
    if s.frame(&mut d.app, true).0 == s.frame(&mut d.app, false).0 {
        eprintln!("shot: this build draws no walkthrough panel: no 07-walkthrough");
    } else {
        s.save("07-walkthrough", &mut d.app, true)?;
    }

    // (c) `o` (the first listener optimized again), then `p`:
    // active_active spreads I/O over the optimized paths, so both carry it.
    d.key(KeyCode::Char('o')).await;
    d.until("the first listener optimized again after `o`", 10, |app| {
        ana_of(app, &l1) == "optimized"
    })
    .await?;
    d.key(KeyCode::Char('p')).await;
    d.until("I/O on both paths after `p`", 20, |app| {
        app.snap.policy.as_deref() == Some("active_active")
            && iops_on(app, &l1) > 0.0
            && iops_on(app, &l2) > 0.0
    })
    .await?;
    d.pump(settle).await;
    s.save("03-active-active", &mut d.app, false)?;

    // (d) The help overlay.
    d.key(KeyCode::Char('?')).await;
    if !matches!(d.app.overlay, Overlay::Help { .. }) {
        bail!("`?` did not open the help");
    }
    s.save("04-help", &mut d.app, false)?;
    d.key(KeyCode::Esc).await;

    // (e) The command line: an RPC typed, then its result.
    d.key(KeyCode::Char(':')).await;
    for c in "bdev_nvme_get_io_paths -n Nvme0n1".chars() {
        d.key(KeyCode::Char(c)).await;
    }
    if d.app.cmd.is_none() {
        bail!("`:` did not open the command line");
    }
    s.save("05-command-line", &mut d.app, false)?;
    d.key(KeyCode::Enter).await;
    d.until("the RPC's result", 10, |app| {
        matches!(app.overlay, Overlay::Result { .. })
    })
    .await?;
    s.save("06-rpc-result", &mut d.app, false)?;
    d.key(KeyCode::Esc).await;

    Ok(())
}

fn path_of<'a>(app: &'a App, ip: &str) -> Option<&'a super::snapshot::IoPath> {
    app.snap.paths.iter().find(|p| p.traddr == ip)
}

fn iops_on(app: &App, ip: &str) -> f64 {
    path_of(app, ip).and_then(|p| p.iops.value()).unwrap_or(0.0)
}

fn current_is(app: &App, ip: &str) -> bool {
    path_of(app, ip).is_some_and(|p| p.current)
}

fn ana_of(app: &App, ip: &str) -> String {
    app.snap
        .listeners
        .iter()
        .find(|l| l.traddr == ip)
        .and_then(|l| l.ana_state())
        .unwrap_or("")
        .to_string()
}

fn rsvg_available() -> bool {
    Command::new("rsvg-convert")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The console's event loop without a terminal: snapshots from the real
/// sampler and call results from the real executor go through
/// `App::update`, and so do the keys we press.
struct Driver {
    app: App,
    snaps: watch::Receiver<Arc<Snapshot>>,
    events: mpsc::UnboundedReceiver<UiEvent>,
    effects: mpsc::UnboundedSender<Effect>,
}

impl Driver {
    fn new(
        control: Arc<dyn crate::control::Control>,
        mut app: App,
        opts: &UiOpts,
        size: (u16, u16),
    ) -> Driver {
        let snaps = sampler::spawn(
            control.clone(),
            sampler::SamplerOpts {
                refresh: Duration::from_millis(opts.refresh_ms.max(10)),
                bdev: opts.bdev.clone(),
                nqn: opts.nqn.clone(),
            },
        );
        let (tx, events) = mpsc::unbounded_channel();
        let effects = exec::spawn(control, tx);
        app.update(UiEvent::Resize(size.0, size.1));
        Driver {
            app,
            snaps,
            events,
            effects,
        }
    }

    fn apply(&mut self, ev: UiEvent) {
        for e in self.app.update(ev) {
            if e != Effect::Quit {
                let _ = self.effects.send(e);
            }
        }
    }

    /// Handles whatever comes next (a snapshot or a call's result), or
    /// nothing by `deadline`.
    async fn step(&mut self, deadline: Instant) {
        tokio::select! {
            r = self.snaps.changed() => {
                if r.is_ok() {
                    let s = self.snaps.borrow_and_update().clone();
                    self.apply(UiEvent::Snapshot(s));
                } else {
                    tokio::time::sleep_until(deadline.into()).await;
                }
            }
            Some(ev) = self.events.recv() => self.apply(ev),
            _ = tokio::time::sleep_until(deadline.into()) => {}
        }
    }

    /// Runs the loop for `d`.
    async fn pump(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.step(end).await;
        }
    }

    /// Runs the loop until `done`, or fails after `secs` naming `what`.
    async fn until(&mut self, what: &str, secs: u64, done: impl Fn(&App) -> bool) -> Result<()> {
        let end = Instant::now() + Duration::from_secs(secs);
        while !done(&self.app) {
            if Instant::now() >= end {
                bail!("shot: no {what} within {secs} s");
            }
            self.step(end).await;
        }
        Ok(())
    }

    /// Presses a key, then lets its effects' results come in briefly.
    async fn key(&mut self, code: KeyCode) {
        self.apply(UiEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        self.pump(Duration::from_millis(30)).await;
    }

    /// Tab until `p` has the focus.
    async fn focus(&mut self, p: Pane) -> Result<()> {
        for _ in 0..super::app::PANES.len() {
            if self.app.focus == p {
                return Ok(());
            }
            self.key(KeyCode::Tab).await;
        }
        bail!("Tab never focused {}", p.title())
    }
}

struct Shooter {
    out: PathBuf,
    png: bool,
    size: (u16, u16),
}

impl Shooter {
    /// The frame as `run` draws it, with or without `--walkthrough`.
    fn frame(&self, app: &mut App, walkthrough: bool) -> (Buffer, Option<(u16, u16)>) {
        let was = std::mem::replace(&mut app.walkthrough, walkthrough);
        let mut buf = Buffer::empty(Rect::new(0, 0, self.size.0, self.size.1));
        let cursor = panes::draw(&app.snap, app, &mut buf);
        app.walkthrough = was;
        (buf, cursor)
    }

    /// Writes the frame, with or without the walkthrough panel.
    fn save(&self, name: &str, app: &mut App, walkthrough: bool) -> Result<()> {
        let (buf, cursor) = self.frame(app, walkthrough);
        let pal = Palette::for_theme(&app.theme);
        let svg = buffer_to_svg(&buf, &pal, cursor);
        let path = self.out.join(format!("{name}.svg"));
        std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
        let mut wrote = path.display().to_string();
        if self.png {
            let png = self.out.join(format!("{name}.png"));
            to_png(&path, &png, pal.bg)?;
            wrote.push_str(&format!(", {}", png.display()));
        }
        eprintln!("shot: {wrote}");
        Ok(())
    }
}

/// PNG keeps the README light: an opaque background (RGB, not RGBA),
/// then `optipng` (lossless) when installed.
fn to_png(svg: &Path, png: &Path, bg: (u8, u8, u8)) -> Result<()> {
    let st = Command::new("rsvg-convert")
        .arg("-b")
        .arg(hex(bg))
        .arg("-o")
        .arg(png)
        .arg(svg)
        .status()
        .context("running rsvg-convert")?;
    if !st.success() {
        bail!("rsvg-convert {} failed: {st}", svg.display());
    }
    // Optional: absent, the PNG is just larger.
    let _ = Command::new("optipng")
        .args(["-quiet", "-o2"])
        .arg(png)
        .status();
    let size = std::fs::metadata(png).map(|m| m.len()).unwrap_or(0);
    if size > 300 * 1024 {
        eprintln!(
            "shot: {} is {} KiB (apt-get install optipng shrinks it)",
            png.display(),
            size / 1024
        );
    }
    Ok(())
}

// ---- Buffer → SVG -----------------------------------------------------------

/// The terminal's colours: default foreground and background and the 16
/// ANSI colours the themes name.
#[derive(Clone, Debug, PartialEq)]
pub struct Palette {
    pub fg: (u8, u8, u8),
    pub bg: (u8, u8, u8),
    pub ansi: [(u8, u8, u8); 16],
}

impl Palette {
    /// A dark terminal (VS Code's palette).
    pub fn dark() -> Palette {
        Palette {
            fg: (0xd4, 0xd4, 0xd4),
            bg: (0x1e, 0x1e, 0x1e),
            ansi: [
                (0x00, 0x00, 0x00),
                (0xcd, 0x31, 0x31),
                (0x0d, 0xbc, 0x79),
                (0xe5, 0xe5, 0x10),
                (0x24, 0x72, 0xc8),
                (0xbc, 0x3f, 0xbc),
                (0x11, 0xa8, 0xcd),
                (0xe5, 0xe5, 0xe5),
                (0x66, 0x66, 0x66),
                (0xf1, 0x4c, 0x4c),
                (0x23, 0xd1, 0x8b),
                (0xf5, 0xf5, 0x43),
                (0x3b, 0x8e, 0xea),
                (0xd6, 0x70, 0xd6),
                (0x29, 0xb8, 0xdb),
                (0xe5, 0xe5, 0xe5),
            ],
        }
    }

    /// A light terminal (VS Code's light palette).
    pub fn light() -> Palette {
        Palette {
            fg: (0x33, 0x33, 0x33),
            bg: (0xff, 0xff, 0xff),
            ansi: [
                (0x00, 0x00, 0x00),
                (0xcd, 0x31, 0x31),
                (0x00, 0xbc, 0x00),
                (0x94, 0x98, 0x00),
                (0x04, 0x51, 0xa5),
                (0xbc, 0x05, 0xbc),
                (0x05, 0x98, 0xbc),
                (0x55, 0x55, 0x55),
                (0x66, 0x66, 0x66),
                (0xcd, 0x31, 0x31),
                (0x14, 0xce, 0x14),
                (0xb5, 0xba, 0x00),
                (0x04, 0x51, 0xa5),
                (0xbc, 0x05, 0xbc),
                (0x05, 0x98, 0xbc),
                (0xa5, 0xa5, 0xa5),
            ],
        }
    }

    /// The terminal a theme is meant for.
    pub fn for_theme(t: &Theme) -> Palette {
        if t.name == "light" {
            Palette::light()
        } else {
            Palette::dark()
        }
    }

    /// `c` as RGB; `Reset` is `default`.
    pub fn rgb(&self, c: Color, default: (u8, u8, u8)) -> (u8, u8, u8) {
        let i = match c {
            Color::Reset => return default,
            Color::Rgb(r, g, b) => return (r, g, b),
            Color::Indexed(i) if i >= 16 => return xterm256(i),
            Color::Indexed(i) => i,
            Color::Black => 0,
            Color::Red => 1,
            Color::Green => 2,
            Color::Yellow => 3,
            Color::Blue => 4,
            Color::Magenta => 5,
            Color::Cyan => 6,
            Color::Gray => 7,
            Color::DarkGray => 8,
            Color::LightRed => 9,
            Color::LightGreen => 10,
            Color::LightYellow => 11,
            Color::LightBlue => 12,
            Color::LightMagenta => 13,
            Color::LightCyan => 14,
            Color::White => 15,
        };
        self.ansi[usize::from(i)]
    }
}

/// xterm's 256-colour table above the first 16.
fn xterm256(i: u8) -> (u8, u8, u8) {
    if i >= 232 {
        let v = 8 + 10 * (i - 232);
        return (v, v, v);
    }
    let i = i - 16;
    let lvl = |n: u8| if n == 0 { 0 } else { 55 + 40 * n };
    (lvl(i / 36), lvl((i / 6) % 6), lvl(i % 6))
}

/// Font size of the SVG, in px.
pub const FONT_PX: f64 = 14.0;
/// DejaVu Sans Mono's advance (1233/2048 em), so its runs fill the grid.
pub const CELL_W: f64 = FONT_PX * 1233.0 / 2048.0;
/// DejaVu Sans Mono's line height (ascent 1901 + descent 483 units):
/// vertical box-drawing lines of adjacent rows then touch.
pub const CELL_H: f64 = FONT_PX * (1901.0 + 483.0) / 2048.0;
const BASELINE: f64 = FONT_PX * 1901.0 / 2048.0;
const FONTS: &str = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace";

fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// `a` over `b` at `alpha`.
fn mix(a: (u8, u8, u8), b: (u8, u8, u8), alpha: f64) -> (u8, u8, u8) {
    let m = |x: u8, y: u8| (f64::from(x) * alpha + f64::from(y) * (1.0 - alpha)).round() as u8;
    (m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// Escapes text for XML character data and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // Not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// Characters DejaVu Sans Mono draws at its own advance: runs of these are
/// laid out by the font. Anything else (braille, symbols the font lacks,
/// wide characters) is placed cell by cell, centred in its cells.
fn grid_safe(c: char) -> bool {
    matches!(c as u32, 0x21..=0x7e | 0xa1..=0x24f | 0x2500..=0x259f)
}

/// How one cell looks once the theme's colours are resolved.
#[derive(Clone, Copy, PartialEq)]
struct Look {
    fg: (u8, u8, u8),
    bg: (u8, u8, u8),
    bold: bool,
    italic: bool,
    underline: bool,
    strike: bool,
}

fn look(cell: &ratatui::buffer::Cell, pal: &Palette) -> Look {
    let m = cell.modifier;
    let mut fg = pal.rgb(cell.fg, pal.fg);
    let mut bg = pal.rgb(cell.bg, pal.bg);
    if m.contains(Modifier::REVERSED) {
        std::mem::swap(&mut fg, &mut bg);
    }
    if m.contains(Modifier::DIM) {
        fg = mix(fg, bg, 0.6);
    }
    if m.contains(Modifier::HIDDEN) {
        fg = bg;
    }
    Look {
        fg,
        bg,
        bold: m.contains(Modifier::BOLD),
        italic: m.contains(Modifier::ITALIC),
        underline: m.contains(Modifier::UNDERLINED),
        strike: m.contains(Modifier::CROSSED_OUT),
    }
}

/// Renders a buffer as an SVG picture of a terminal: one cell per
/// character on a `CELL_W`×`CELL_H` grid, the palette's colours, bold,
/// italic, underline, strike-through, reverse and dim, and a block cursor
/// at `cursor`.
pub fn buffer_to_svg(buf: &Buffer, pal: &Palette, cursor: Option<(u16, u16)>) -> String {
    let area = buf.area;
    let (w, h) = (
        f64::from(area.width) * CELL_W,
        f64::from(area.height) * CELL_H,
    );
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
         viewBox=\"0 0 {w:.2} {h:.2}\" font-family=\"{FONTS}\" font-size=\"{FONT_PX}\" \
         xml:space=\"preserve\">\n<rect width=\"100%\" height=\"100%\" fill=\"{}\"/>\n",
        hex(pal.bg)
    );
    let mut text = String::new();
    let mut deco = String::new();
    for y in 0..area.height {
        let top = f64::from(y) * CELL_H;
        let base = top + BASELINE;
        // Cells of this row: (column, width in cells, symbol, look).
        let mut cells = Vec::with_capacity(usize::from(area.width));
        let mut x = 0u16;
        while x < area.width {
            let cell = &buf[(area.x + x, area.y + y)];
            let sym = cell.symbol();
            let cw = UnicodeWidthStr::width(sym).clamp(1, 2) as u16;
            let mut lk = look(cell, pal);
            if cursor == Some((area.x + x, area.y + y)) {
                std::mem::swap(&mut lk.fg, &mut lk.bg);
            }
            cells.push((x, cw.min(area.width - x), sym, lk));
            x += cw;
        }
        // Backgrounds: runs of one colour other than the default.
        let mut i = 0;
        while i < cells.len() {
            let bg = cells[i].3.bg;
            let mut j = i;
            let mut span = 0u16;
            while j < cells.len() && cells[j].3.bg == bg {
                span += cells[j].1;
                j += 1;
            }
            if bg != pal.bg {
                let _ = writeln!(
                    s,
                    "<rect x=\"{:.2}\" y=\"{top:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{}\"/>",
                    f64::from(cells[i].0) * CELL_W,
                    f64::from(span) * CELL_W + 0.3,
                    CELL_H + 0.3,
                    hex(bg)
                );
            }
            i = j;
        }
        // Text: runs of one look, cut at blanks and at characters the
        // font may not draw at the grid's advance.
        let mut i = 0;
        while i < cells.len() {
            let (x0, cw, sym, lk) = cells[i];
            if lk.underline || lk.strike {
                let yy = if lk.underline {
                    base + 2.0
                } else {
                    top + CELL_H / 2.0
                };
                let _ = writeln!(
                    deco,
                    "<rect x=\"{:.2}\" y=\"{yy:.2}\" width=\"{:.2}\" height=\"1\" fill=\"{}\"/>",
                    f64::from(x0) * CELL_W,
                    f64::from(cw) * CELL_W,
                    hex(lk.fg)
                );
            }
            if sym.trim().is_empty() {
                i += 1;
                continue;
            }
            let attrs = text_attrs(&lk);
            let one_safe = sym.chars().count() == 1 && sym.chars().all(grid_safe);
            if !one_safe || cw != 1 {
                let cx = (f64::from(x0) + f64::from(cw) / 2.0) * CELL_W;
                let _ = writeln!(
                    text,
                    "<text x=\"{cx:.2}\" y=\"{base:.2}\" text-anchor=\"middle\"{attrs}>{}</text>",
                    xml_escape(sym)
                );
                i += 1;
                continue;
            }
            let mut run = String::from(sym);
            let mut j = i + 1;
            while j < cells.len() {
                let (_, cw2, s2, lk2) = cells[j];
                let safe = cw2 == 1 && s2.chars().count() == 1 && s2.chars().all(grid_safe);
                if !safe || lk2.fg != lk.fg || !same_font(&lk2, &lk) {
                    break;
                }
                if lk2.underline || lk2.strike {
                    break;
                }
                run.push_str(s2);
                j += 1;
            }
            let n = j - i;
            let _ = writeln!(
                text,
                "<text x=\"{:.2}\" y=\"{base:.2}\" textLength=\"{:.2}\" lengthAdjust=\"spacingAndGlyphs\"{attrs}>{}</text>",
                f64::from(x0) * CELL_W,
                n as f64 * CELL_W,
                xml_escape(&run)
            );
            i = j;
        }
    }
    s.push_str(&text);
    s.push_str(&deco);
    s.push_str("</svg>\n");
    s
}

fn same_font(a: &Look, b: &Look) -> bool {
    a.bold == b.bold && a.italic == b.italic
}

fn text_attrs(lk: &Look) -> String {
    let mut a = format!(" fill=\"{}\"", hex(lk.fg));
    if lk.bold {
        a.push_str(" font-weight=\"bold\"");
    }
    if lk.italic {
        a.push_str(" font-style=\"italic\"");
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Style;

    #[test]
    fn escapes_xml() {
        assert_eq!(
            xml_escape("a<b>&\"c\"'d'\u{1}"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;\u{fffd}"
        );
    }

    #[test]
    fn svg_has_cells_colours_and_bold() {
        let mut b = Buffer::empty(Rect::new(0, 0, 12, 2));
        b.set_string(0, 0, "a<b ★x", Style::new().fg(Color::Red).bg(Color::Blue));
        b.set_string(0, 1, "╭─╮", Style::new().add_modifier(Modifier::BOLD));
        let p = Palette::dark();
        let svg = buffer_to_svg(&b, &p, Some((11, 1)));
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.contains(">a&lt;b</text>"), "{svg}");
        // ★ is not in every mono font: placed alone, centred in its cell.
        assert!(svg.contains("text-anchor=\"middle\""), "{svg}");
        assert!(
            svg.contains(&hex(p.ansi[1])) && svg.contains(&hex(p.ansi[4])),
            "{svg}"
        );
        assert!(svg.contains("font-weight=\"bold\">╭─╮</text>"), "{svg}");
        // The cursor's cell is drawn reversed: a default-fg background.
        assert!(svg.contains(&format!("fill=\"{}\"/>", hex(p.fg))), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn colours_resolve() {
        let p = Palette::dark();
        assert_eq!(p.rgb(Color::Reset, (1, 2, 3)), (1, 2, 3));
        assert_eq!(p.rgb(Color::Rgb(9, 8, 7), (0, 0, 0)), (9, 8, 7));
        assert_eq!(p.rgb(Color::Indexed(196), (0, 0, 0)), (255, 0, 0));
        assert_eq!(p.rgb(Color::Indexed(244), (0, 0, 0)), (128, 128, 128));
        assert_eq!(p.rgb(Color::Indexed(3), (0, 0, 0)), p.ansi[3]);
    }
}

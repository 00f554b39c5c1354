//! The console: the HOWTO live in one terminal, driven by keystrokes.
//!
//! Pipeline (television/gitui style):
//!
//! ```text
//!  sampler task ──watch<Arc<Snapshot>>──┐
//!   (Control polls + sock_diag)         ▼
//!  crossterm EventStream ──────────► UI task: App::update(UiEvent) → Vec<Effect>
//!                                      │  draws when dirty, ≤ 1/refresh
//!  executor task ◄──── Effect ─────────┘
//!   (Control calls) ──── UiEvent::CallDone ──► UI task
//! ```
//!
//! * [`snapshot`]: the plain data the panes render; [`sampler`] builds it.
//! * [`app`]: state and the pure `update`; [`exec`] performs effects.
//! * [`keymap`]: the one key table (dispatch, help, footer hints).
//! * [`cmdline`]: spdk-rpc syntax, completion, history; [`form`]: the load
//!   form (`perform_tests`' parameters).
//! * [`panes`]: one renderer per pane; [`layout`]: where they go.
//! * [`theme`]: dark / light / mono and theme files; [`term`]: terminal
//!   setup and restore.
//! * `fixture`: deterministic snapshots for the tests and benches (only
//!   with the `test-fixtures` feature, which they turn on).

pub mod app;
pub mod cmdline;
pub mod exec;
#[cfg(any(test, feature = "test-fixtures"))]
pub mod fixture;
pub mod fmt;
pub mod form;
pub mod health;
pub mod keymap;
pub mod layout;
pub mod panes;
pub mod raw;
pub mod resv;
pub mod sampler;
pub mod scope;
pub mod shot;
pub mod snapshot;
pub mod socks;
pub mod term;
pub mod theme;
pub mod view;
pub mod walkthrough;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tokio::sync::mpsc;

pub use app::{App, Effect, UiEvent};
pub use snapshot::Snapshot;

use crate::control::Control;

/// Options of the console.
#[derive(Clone, Debug)]
pub struct UiOpts {
    /// Sampling and redraw period (`--refresh-ms`, default 100 = 10 Hz).
    pub refresh_ms: u64,
    /// `--theme NAME|FILE`; `None` = dark, or mono when `NO_COLOR` is set.
    pub theme: Option<String>,
    pub walkthrough: bool,
    /// The multipath bdev (`Nvme0n1`).
    pub bdev: String,
    /// The subsystem of the HOWTO.
    pub nqn: String,
    /// Do not start the load at startup.
    pub paused: bool,
    /// `--keymap FILE`: JSON `{"action": "key" | ["keys"]}` overrides.
    pub keymap: Option<String>,
}

impl Default for UiOpts {
    fn default() -> UiOpts {
        UiOpts {
            refresh_ms: 100,
            theme: None,
            walkthrough: false,
            bdev: "Nvme0n1".into(),
            nqn: crate::scenario::HOWTO_NQN.into(),
            paused: false,
            keymap: None,
        }
    }
}

/// `NO_COLOR` set to anything non-empty (no-color.org).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Builds the app state the options ask for (theme and keymap files are
/// read and checked here, before the terminal is touched).
pub fn make_app(opts: &UiOpts) -> anyhow::Result<App> {
    let theme = theme::Theme::select(opts.theme.as_deref(), no_color())?;
    let mut km = keymap::Keymap::default();
    if let Some(f) = &opts.keymap {
        let text = std::fs::read_to_string(f).with_context(|| format!("keymap {f}"))?;
        km = km.with_file(f, &text)?;
    }
    let mut app = App::new(&opts.bdev, &opts.nqn, theme, km);
    app.autostart = !opts.paused;
    app.walkthrough = opts.walkthrough;
    Ok(app)
}

/// Renders one frame of `snapshot` with `app`'s state (focus, selection,
/// overlays, theme) into a fresh buffer. `app.snap` should be the same
/// snapshot (feed it with `UiEvent::Snapshot` first): selections and the
/// layout's table sizes come from it.
pub fn render_to_buffer(snapshot: &Snapshot, app: &App, width: u16, height: u16) -> Buffer {
    let mut buf = Buffer::empty(Rect::new(0, 0, width, height));
    panes::draw(snapshot, app, &mut buf);
    buf
}

/// Runs the console full-screen until the user quits (q, Ctrl-C), SIGTERM
/// or SIGINT. The terminal is restored on every way out, panics included.
pub async fn run(control: Arc<dyn Control>, opts: UiOpts) -> anyhow::Result<()> {
    let mut app = make_app(&opts)?;
    let refresh = Duration::from_millis(opts.refresh_ms.max(10));
    let (scope_tx, scope_rx) = tokio::sync::watch::channel(scope::Scope {
        bdev: opts.bdev.clone(),
        nqn: opts.nqn.clone(),
    });
    let mut snaps = sampler::spawn_scoped(
        control.clone(),
        sampler::SamplerOpts {
            refresh,
            bdev: opts.bdev.clone(),
            nqn: opts.nqn.clone(),
        },
        scope_rx,
    );
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let effects = exec::spawn(control.clone(), ev_tx);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;

    let (mut term, _guard) = term::init().context("terminal setup")?;
    let size = term.size()?;
    app.update(UiEvent::Resize(size.width, size.height));
    let mut input = EventStream::new();
    // Input redraws promptly; data redraws at most once per refresh.
    const INPUT_GAP: Duration = Duration::from_millis(16);
    let mut dirty_input = true;
    let mut dirty_data = false;
    let mut last_draw = Instant::now() - refresh;
    let mut last_snap = app.snap.clone();
    let far = Duration::from_secs(3600);
    loop {
        let deadline = if dirty_input {
            last_draw + INPUT_GAP
        } else if dirty_data {
            last_draw + refresh
        } else {
            Instant::now() + far
        };
        let mut fx = Vec::new();
        tokio::select! {
            biased;
            _ = sigterm.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            ev = input.next() => match ev {
                Some(Ok(Event::Key(k))) => { fx = app.update(UiEvent::Key(k)); dirty_input = true; }
                Some(Ok(Event::Mouse(m))) => { fx = app.update(UiEvent::Mouse(m)); dirty_input = true; }
                Some(Ok(Event::Resize(w, h))) => {
                    app.update(UiEvent::Resize(w, h));
                    term.autoresize()?;
                    dirty_input = true;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).context("reading terminal input"),
                None => break,
            },
            Some(ev) = ev_rx.recv() => { fx = app.update(ev); dirty_input = true; }
            r = snaps.changed() => {
                if r.is_err() { break; }
                let s = snaps.borrow_and_update().clone();
                let changed = !same_view(&s, &last_snap);
                last_snap = s.clone();
                fx = app.update(UiEvent::Snapshot(s));
                dirty_data |= changed;
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                draw(&mut term, &app)?;
                last_draw = Instant::now();
                dirty_input = false;
                dirty_data = false;
            }
        }
        for e in fx {
            match e {
                Effect::Quit => return Ok(()),
                Effect::Scope(sc) => {
                    let _ = scope_tx.send(sc);
                }
                e => {
                    let _ = effects.send(e);
                }
            }
        }
        if app.quit {
            break;
        }
    }
    Ok(())
}

/// Equal but for the sample number and time: nothing to redraw.
fn same_view(a: &Snapshot, b: &Snapshot) -> bool {
    if a.seq == b.seq {
        return true;
    }
    let mut x = a.clone();
    x.seq = b.seq;
    x.at = b.at;
    x == *b
}

fn draw(term: &mut term::Term, app: &App) -> anyhow::Result<()> {
    use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
    let _ = crossterm::execute!(std::io::stdout(), BeginSynchronizedUpdate);
    let r = term.draw(|f| {
        let cursor = panes::draw(&app.snap, app, f.buffer_mut());
        if let Some((x, y)) = cursor {
            f.set_cursor_position((x, y));
        }
    });
    let _ = crossterm::execute!(std::io::stdout(), EndSynchronizedUpdate);
    r?;
    Ok(())
}

//! `App`: the console's state, and [`App::update`], a pure function from
//! one [`UiEvent`] to the state change and the [`Effect`]s (Control calls)
//! it asks for. The executor (`super::exec`) performs effects and feeds
//! their results back as `UiEvent::CallDone`; nothing here does I/O, so
//! tests assert "key `n` on listener 4420 → exactly this call".

use std::collections::HashMap;
use std::sync::Arc;

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use serde_json::{json, Value};
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

use super::cmdline::{self, History};
use super::form::{LoadForm, LoadParams, Outcome};
use super::keymap::{Action, Keymap};
use super::layout;
use super::resv;
use super::scope::{Picker, Scope};
use super::snapshot::{IoPath, Listener, LogEntry, LogKind, Snapshot};
use super::theme::Theme;
use super::view::{self, Views};
use crate::control::Engine;

/// A focusable pane, in Tab order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pane {
    Subsystems,
    Listeners,
    Paths,
    Conns,
    Load,
    Events,
}

pub const PANES: [Pane; 6] = [
    Pane::Subsystems,
    Pane::Listeners,
    Pane::Paths,
    Pane::Conns,
    Pane::Load,
    Pane::Events,
];

impl Pane {
    pub fn index(self) -> usize {
        PANES.iter().position(|p| *p == self).unwrap_or(0)
    }
    pub fn title(self) -> &'static str {
        match self {
            Pane::Subsystems => "Subsystems",
            Pane::Listeners => "Listeners",
            Pane::Paths => "I/O paths",
            Pane::Conns => "Connections",
            Pane::Load => "Load",
            Pane::Events => "Events",
        }
    }
}

#[derive(Debug, Clone)]
pub enum UiEvent {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    Snapshot(Arc<Snapshot>),
    /// A call finished: its result or error text, and how long it took.
    CallDone {
        id: u64,
        result: Result<Value, String>,
        ms: f64,
    },
}

/// One Control call the UI wants made.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSpec {
    pub id: u64,
    pub app: Engine,
    pub method: String,
    pub params: Option<Value>,
    /// The equivalent `spdk-rpc` command line (logged).
    pub line: String,
    /// Its reply only comes much later (`perform_tests`): never awaited
    /// in line with other work.
    pub background: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Call(CallSpec),
    /// Calls made one after the other (stop, then start a new workload).
    Sequence(Vec<CallSpec>),
    /// The panes now follow this bdev and subsystem: the sampler polls
    /// for them from its next round.
    Scope(Scope),
    Quit,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help {
        scroll: usize,
    },
    /// The load form (`perform_tests`' parameters).
    Load(LoadForm),
    Result {
        title: String,
        lines: Vec<String>,
        error: bool,
        scroll: usize,
    },
}

/// Run time sent with `perform_tests` for an open-ended run: ten years.
pub const FOREVER_SECS: u64 = 315_360_000;

/// Run time when the initiator cannot stop a run (real bdevperf has no
/// `mpath_perf_stop`): a ten-year run there could never be stopped.
pub const FINITE_RUN_SECS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub text: String,
    pub level: Level,
    /// When it was set (epoch seconds); info messages fade after
    /// [`STATUS_SECS`], warnings and errors stay until Esc.
    pub at: f64,
}

pub const STATUS_SECS: f64 = 5.0;

/// The `:` line being edited.
#[derive(Debug, Clone, Default)]
pub struct CmdState {
    pub input: Input,
    /// A parse error, or a note about completion.
    pub msg: Option<String>,
    pub msg_is_error: bool,
    /// The completion menu (open while non-empty) and its selection.
    pub completions: Vec<String>,
    pub comp_sel: Option<usize>,
    /// Byte offset of the word being completed.
    pub comp_start: usize,
}

#[derive(Debug, Clone)]
struct Pending {
    method: String,
    from_cmdline: bool,
}

pub struct App {
    pub theme: Theme,
    pub keymap: Keymap,
    pub focus: Pane,
    /// Selected row per pane (index by `Pane::index`).
    pub sel: [usize; 6],
    /// Events pane: the entry shown at the top, oldest = 0; `None`
    /// follows the newest (the last page, newest at the bottom).
    pub events_top: Option<usize>,
    pub overlay: Overlay,
    pub cmd: Option<CmdState>,
    pub history: History,
    /// Our own log: actions and replies (host events are in the snapshot).
    pub log: Vec<LogEntry>,
    pub status: Option<Status>,
    pub snap: Arc<Snapshot>,
    pub size: (u16, u16),
    pub quit: bool,
    pub bdev: String,
    pub nqn: String,
    /// Listeners and Connections list every subsystem's (not only
    /// `nqn`'s): the scope until one is picked.
    pub all_subsystems: bool,
    /// The scope picker, while open.
    pub picker: Option<Picker>,
    /// The focused pane fills the body (`z`).
    pub zoom: bool,
    /// Each table's filter and sort.
    pub views: Views,
    /// Start the load on the first snapshot that shows it idle.
    pub autostart: bool,
    pub walkthrough: bool,
    /// The walkthrough's current step (`super::walkthrough`).
    pub walk_step: usize,
    /// Clock for log timestamps (epoch seconds); fixed in tests.
    pub clock: fn() -> f64,
    /// The load form's last start, to prefill the next.
    pub last_load: Option<LoadParams>,
    next_id: u64,
    pending: HashMap<u64, Pending>,
}

pub const LOG_KEPT: usize = 1000;

impl App {
    pub fn new(bdev: &str, nqn: &str, theme: Theme, keymap: Keymap) -> App {
        App {
            theme,
            keymap,
            focus: Pane::Listeners,
            sel: [0; 6],
            events_top: None,
            overlay: Overlay::None,
            cmd: None,
            history: History::default(),
            log: Vec::new(),
            status: None,
            snap: Arc::new(Snapshot::default()),
            size: (120, 40),
            quit: false,
            bdev: bdev.to_string(),
            nqn: nqn.to_string(),
            all_subsystems: true,
            picker: None,
            zoom: false,
            views: Views::default(),
            autostart: false,
            walkthrough: false,
            walk_step: 0,
            clock: super::fmt::now_epoch,
            last_load: None,
            next_id: 1,
            pending: HashMap::new(),
        }
    }

    pub fn update(&mut self, ev: UiEvent) -> Vec<Effect> {
        match ev {
            UiEvent::Key(k) if k.kind == KeyEventKind::Release => vec![],
            UiEvent::Key(k) => self.on_key(k),
            UiEvent::Mouse(m) => {
                self.on_mouse(m);
                vec![]
            }
            UiEvent::Resize(w, h) => {
                self.size = (w, h);
                vec![]
            }
            UiEvent::Snapshot(s) => self.on_snapshot(s),
            UiEvent::CallDone { id, result, ms } => {
                self.on_done(id, result, ms);
                vec![]
            }
        }
    }

    // ---- helpers -----------------------------------------------------------

    fn note(&mut self, level: Level, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            level,
            at: (self.clock)(),
        });
    }

    fn log_push(&mut self, kind: LogKind, text: String) {
        if self.log.len() == LOG_KEPT {
            self.log.remove(0);
        }
        self.log.push(LogEntry {
            at: (self.clock)(),
            kind,
            text,
        });
    }

    fn location(&self, app: Engine) -> &str {
        match app {
            Engine::Target => &self.snap.target.location,
            Engine::Initiator => &self.snap.initiator.location,
        }
    }

    fn spec_call(
        &mut self,
        app: Engine,
        method: &str,
        params: Option<Value>,
        background: bool,
    ) -> CallSpec {
        let line = cmdline::to_line(app, method, params.as_ref(), Some(self.location(app)));
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(
            id,
            Pending {
                method: method.to_string(),
                from_cmdline: false,
            },
        );
        CallSpec {
            id,
            app,
            method: method.to_string(),
            params,
            line,
            background,
        }
    }

    /// Makes a call and logs its command line.
    fn call(&mut self, app: Engine, method: &str, params: Option<Value>) -> Vec<Effect> {
        let c = self.spec_call(app, method, params, false);
        self.log_push(LogKind::Action, c.line.clone());
        vec![Effect::Call(c)]
    }

    pub fn rows(&self, p: Pane) -> usize {
        match p {
            Pane::Load => 0,
            Pane::Events => self.merged_events().len(),
            _ => self.view_rows(p).len(),
        }
    }

    /// The subsystem Listeners and Connections are narrowed to.
    pub fn scope_nqn(&self) -> Option<&str> {
        (!self.all_subsystems).then_some(self.nqn.as_str())
    }

    /// The rows pane `p` shows, as indices into the snapshot's list, in
    /// screen order ([`view::rows`]).
    pub fn view_rows(&self, p: Pane) -> Vec<usize> {
        self.view_rows_of(&self.snap, p)
    }

    fn view_rows_of(&self, s: &Snapshot, p: Pane) -> Vec<usize> {
        view::rows(s, self.scope_nqn(), self.views.get(p), p)
    }

    /// The snapshot index of pane `p`'s selected row.
    pub fn selected_row(&self, p: Pane) -> Option<usize> {
        self.view_rows(p).get(self.sel[p.index()]).copied()
    }

    /// Runs `change` on the view (scope, filter, sort), keeping each
    /// table's selection on the object it was on.
    fn keep_selection(&mut self, change: impl FnOnce(&mut App)) {
        let keys: Vec<Vec<RowKey>> = TABLES
            .iter()
            .map(|&p| row_keys(&self.snap, p, &self.view_rows(p)))
            .collect();
        change(self);
        for (p, old) in TABLES.iter().zip(keys) {
            let new = row_keys(&self.snap, *p, &self.view_rows(*p));
            let i = p.index();
            self.sel[i] = follow(&old, &new, self.sel[i]);
        }
        self.clamp();
    }

    /// Our log and the snapshot's events, in time order.
    pub fn merged_events(&self) -> Vec<&LogEntry> {
        let mut v: Vec<&LogEntry> = self.log.iter().chain(self.snap.events.iter()).collect();
        v.sort_by(|a, b| a.at.partial_cmp(&b.at).unwrap_or(std::cmp::Ordering::Equal));
        v
    }

    fn clamp(&mut self) {
        for p in PANES {
            let n = self.rows(p);
            let s = &mut self.sel[p.index()];
            if *s >= n {
                *s = n.saturating_sub(1);
            }
        }
    }

    /// The listener the ANA keys act on: the focused pane's row when it
    /// names one, else the Listeners pane's selection.
    pub fn selected_listener(&self) -> Option<&Listener> {
        let s = &self.snap;
        let by_addr = |a: &str, p: &str| s.listener_by_addr(a, p);
        let row = |p: Pane| self.selected_row(p);
        let listener = || row(Pane::Listeners).and_then(|i| s.listeners.get(i));
        let from_focus = match self.focus {
            Pane::Listeners => listener(),
            Pane::Paths => row(Pane::Paths)
                .and_then(|i| s.paths.get(i))
                .and_then(|p| by_addr(&p.traddr, &p.trsvcid)),
            Pane::Conns => row(Pane::Conns)
                .and_then(|i| s.conns.rows.get(i))
                .and_then(|r| r.listener.as_ref())
                .and_then(|l| s.listeners.iter().find(|x| &x.addr() == l)),
            _ => None,
        };
        from_focus.or_else(listener)
    }

    /// The I/O path `P` and `x` act on.
    pub fn selected_path(&self) -> Option<&IoPath> {
        let s = &self.snap;
        let row = |p: Pane| self.selected_row(p);
        let path = || row(Pane::Paths).and_then(|i| s.paths.get(i));
        let from_focus = match self.focus {
            Pane::Paths => path(),
            Pane::Listeners => row(Pane::Listeners)
                .and_then(|i| s.listeners.get(i))
                .and_then(|l| {
                    s.paths
                        .iter()
                        .find(|p| p.traddr == l.traddr && p.trsvcid == l.trsvcid)
                }),
            Pane::Conns => row(Pane::Conns)
                .and_then(|i| s.conns.rows.get(i))
                .and_then(|r| {
                    s.paths
                        .iter()
                        .find(|p| Some(p.addr()) == r.listener && r.cntlid == Some(p.cntlid))
                }),
            _ => None,
        };
        from_focus.or_else(path)
    }

    /// Whether the load runs, as far as we can tell.
    pub fn load_running(&self) -> bool {
        let l = &self.snap.load;
        l.running
            .unwrap_or_else(|| l.iops.value().is_some_and(|v| v > 0.0))
    }

    // ---- events --------------------------------------------------------------

    fn on_snapshot(&mut self, s: Arc<Snapshot>) -> Vec<Effect> {
        let old = std::mem::replace(&mut self.snap, s);
        if let Some(p) = self.picker.as_mut() {
            p.refresh(&self.snap);
        }
        for p in TABLES {
            let i = p.index();
            let before = row_keys(&old, p, &self.view_rows_of(&old, p));
            let after = row_keys(&self.snap, p, &self.view_rows(p));
            self.sel[i] = follow(&before, &after, self.sel[i]);
        }
        self.clamp();
        if self
            .status
            .as_ref()
            .is_some_and(|st| st.level == Level::Info && (self.clock)() - st.at > STATUS_SECS)
        {
            self.status = None;
        }
        if self.walkthrough {
            self.walk_step = super::walkthrough::advance(self.walk_step, &self.snap);
        }
        if self.autostart && self.snap.initiator.error.is_none() && !self.snap.paths.is_empty() {
            match self.snap.load.running {
                Some(false) => {
                    self.autostart = false;
                    self.note(Level::Info, "starting the load (space pauses)");
                    return self.start_load(None);
                }
                Some(true) => self.autostart = false,
                None => {}
            }
        }
        vec![]
    }

    fn on_done(&mut self, id: u64, result: Result<Value, String>, ms: f64) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        // A raw command's RPC succeeds whatever the NVMe status: say it.
        if let (Ok(v), "bdev_nvme_send_cmd") = (&result, p.method.as_str()) {
            match resv::cpl_status(v) {
                Ok(st) if st.is_success() => self.note(Level::Info, "NVMe command: Success"),
                Ok(st) => self.note(
                    Level::Error,
                    format!("NVMe command: {}", resv::describe(st)),
                ),
                Err(e) => self.note(Level::Error, format!("bdev_nvme_send_cmd: {e}")),
            }
        }
        if let (Ok(v), "perform_tests") = (&result, p.method.as_str()) {
            if let Some(line) = perf_summary(v) {
                self.log_push(LogKind::Info, format!("perform_tests: {line}"));
                self.note(Level::Info, format!("load: {line}"));
            }
        }
        match &result {
            Ok(v) => {
                let mut short = v.to_string();
                if short.len() > 120 {
                    short = format!(
                        "{}… ({} bytes)",
                        &short[..short.floor_char_boundary(100)],
                        short.len()
                    );
                }
                self.log_push(
                    LogKind::Reply,
                    format!("{} → {short} ({ms:.0} ms)", p.method),
                );
            }
            Err(e) => {
                self.log_push(LogKind::Error, format!("{} ✗ {e} ({ms:.0} ms)", p.method));
                // Also after `:`: the popup closes, the status line stays.
                self.note(Level::Error, format!("{}: {e}", p.method));
            }
        }
        if p.from_cmdline {
            let (lines, error) = match result {
                Ok(v) => (
                    serde_json::to_string_pretty(&v)
                        .unwrap_or_default()
                        .lines()
                        .map(String::from)
                        .collect(),
                    false,
                ),
                Err(e) => (e.lines().map(String::from).collect(), true),
            };
            self.overlay = Overlay::Result {
                title: format!("{} ({ms:.0} ms)", p.method),
                lines,
                error,
                scroll: 0,
            };
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) {
        let areas = layout::compute(self.size.0, self.size.1, self);
        let hit = areas
            .panes
            .iter()
            .find(|(_, r)| {
                r.contains(ratatui::layout::Position {
                    x: m.column,
                    y: m.row,
                })
            })
            .copied();
        let Some((pane, r)) = hit else { return };
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                // A click ends typing a filter: it belongs to the pane
                // that had the focus.
                self.views.editing = None;
                self.focus = pane;
                if pane == Pane::Events || pane == Pane::Load {
                    return;
                }
                // Border and header row above the first data row.
                let first = r.y + 2;
                if m.row >= first && m.row + 1 < r.y + r.height {
                    let visible = layout::visible_rows(pane, r);
                    let off =
                        layout::scroll_offset(self.sel[pane.index()], self.rows(pane), visible);
                    let row = off + usize::from(m.row - first);
                    if row < self.rows(pane) {
                        self.sel[pane.index()] = row;
                    }
                }
            }
            MouseEventKind::ScrollDown => self.move_sel(pane, 1),
            MouseEventKind::ScrollUp => self.move_sel(pane, -1),
            _ => {}
        }
    }

    /// The first entry of the Events pane's last page at the current
    /// size (0 when the pane is not on screen).
    fn events_last_top(&self) -> usize {
        layout::compute(self.size.0, self.size.1, self)
            .get(Pane::Events)
            .map_or(0, |r| {
                super::panes::events::last_page_top(
                    self,
                    r.width.saturating_sub(2),
                    r.height.saturating_sub(2),
                )
            })
    }

    /// Events: `d` entries down from the top shown; reaching the last
    /// page follows the newest again.
    fn scroll_events(&mut self, d: i64) {
        let last = self.events_last_top();
        let cur = self.events_top.unwrap_or(last).min(last) as i64;
        let new = (cur + d).clamp(0, last as i64) as usize;
        self.events_top = (new < last).then_some(new);
    }

    fn move_sel(&mut self, pane: Pane, d: i64) {
        if pane == Pane::Events {
            self.scroll_events(d);
            return;
        }
        let n = self.rows(pane) as i64;
        let s = &mut self.sel[pane.index()];
        *s = (*s as i64 + d).clamp(0, (n - 1).max(0)) as usize;
    }

    fn on_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c {
            self.quit = true;
            return vec![Effect::Quit];
        }
        if let Some((esc, key)) = split_alt(&k, &self.keymap, self.cmd.is_some()) {
            // A terminal sends Alt+x as Esc x: an Esc typed just before a
            // key arrives the same way. Unbound, it is that Esc, then x.
            let mut fx = self.on_key(esc);
            fx.extend(self.on_key(key));
            return fx;
        }
        if self.cmd.is_some() {
            return self.cmd_key(k);
        }
        if self.views.editing.is_some() {
            self.filter_key(k);
            return vec![];
        }
        if self.picker.is_some() {
            return self.picker_key(k);
        }
        match &mut self.overlay {
            Overlay::None => {}
            Overlay::Load(form) => {
                match form.key(k) {
                    Outcome::Stay => {}
                    Outcome::Cancel => self.overlay = Overlay::None,
                    Outcome::Start(p) => {
                        self.overlay = Overlay::None;
                        self.last_load = Some(p.clone());
                        return self.start_load(Some(&p));
                    }
                }
                return vec![];
            }
            Overlay::Result { scroll, lines, .. } => {
                // Scroll keys scroll a result taller than its popup; any
                // other key closes it and does what it does.
                let max = super::panes::overlay::result_max_scroll(lines.len(), self.size);
                let tall = max > 0;
                let a = self.keymap.lookup(&k);
                match (k.code, a) {
                    (KeyCode::Down | KeyCode::PageDown, _) | (_, Some(Action::Down)) if tall => {
                        let step = if k.code == KeyCode::PageDown { 10 } else { 1 };
                        *scroll = (*scroll + step).min(max)
                    }
                    (KeyCode::Up | KeyCode::PageUp, _) | (_, Some(Action::Up)) if tall => {
                        *scroll =
                            scroll.saturating_sub(if k.code == KeyCode::PageUp { 10 } else { 1 })
                    }
                    (_, Some(Action::Top)) if tall => *scroll = 0,
                    (_, Some(Action::Bottom)) if tall => *scroll = max,
                    (KeyCode::Enter, _) | (_, Some(Action::Close | Action::Quit)) => {
                        self.overlay = Overlay::None
                    }
                    (_, Some(a)) => {
                        self.overlay = Overlay::None;
                        return self.act(a);
                    }
                    (_, None) => {}
                }
                return vec![];
            }
            Overlay::Help { scroll } => {
                match k.code {
                    KeyCode::Char('j') | KeyCode::Down => *scroll += 1,
                    KeyCode::Char('k') | KeyCode::Up => *scroll = scroll.saturating_sub(1),
                    KeyCode::PageDown | KeyCode::Char(' ') => *scroll += 10,
                    KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
                    KeyCode::Char('g') | KeyCode::Home => *scroll = 0,
                    _ => {
                        let a = self.keymap.lookup(&k);
                        if matches!(a, Some(Action::Close | Action::Help | Action::Quit))
                            || k.code == KeyCode::Enter
                        {
                            self.overlay = Overlay::None;
                        } else if matches!(a, Some(Action::CommandLine)) {
                            self.overlay = Overlay::None;
                            self.cmd = Some(CmdState::default());
                        }
                    }
                }
                return vec![];
            }
        }
        let Some(action) = self.keymap.lookup(&k) else {
            return vec![]; // unknown key: nothing changes
        };
        self.act(action)
    }

    fn act(&mut self, a: Action) -> Vec<Effect> {
        use Action::*;
        match a {
            Quit => {
                self.quit = true;
                vec![Effect::Quit]
            }
            NextPane | PrevPane => {
                let i = self.focus.index() as i64 + if a == NextPane { 1 } else { -1 };
                self.focus = PANES[i.rem_euclid(PANES.len() as i64) as usize];
                vec![]
            }
            Down => {
                self.move_sel(self.focus, 1);
                vec![]
            }
            Up => {
                self.move_sel(self.focus, -1);
                vec![]
            }
            Top => {
                if self.focus == Pane::Events {
                    // The oldest at the top (following, if all fit).
                    self.events_top = (self.events_last_top() > 0).then_some(0);
                } else {
                    self.sel[self.focus.index()] = 0;
                }
                vec![]
            }
            Bottom => {
                if self.focus == Pane::Events {
                    self.events_top = None;
                } else {
                    self.sel[self.focus.index()] = self.rows(self.focus).saturating_sub(1);
                }
                vec![]
            }
            AnaOptimized => self.set_ana(Some("optimized")),
            AnaNonOptimized => self.set_ana(Some("non_optimized")),
            AnaInaccessible => self.set_ana(Some("inaccessible")),
            AnaCycle => self.set_ana(None),
            TogglePolicy => {
                let cur = self.snap.policy.clone();
                let Some(cur) = cur else {
                    self.note(
                        Level::Warn,
                        format!("policy of {} not known yet", self.bdev),
                    );
                    return vec![];
                };
                let mut p = json!({"name": self.bdev});
                if cur == "active_active" {
                    p["policy"] = json!("active_passive");
                } else {
                    p["policy"] = json!("active_active");
                    if let Some(s) = self
                        .snap
                        .selector
                        .as_deref()
                        .filter(|s| *s != "round_robin")
                    {
                        p["selector"] = json!(s);
                    }
                }
                self.call(Engine::Initiator, "bdev_nvme_set_multipath_policy", Some(p))
            }
            CycleSelector => {
                if self.snap.policy.as_deref() != Some("active_active") {
                    self.note(
                        Level::Warn,
                        "the selector applies to active_active only: press p first",
                    );
                    return vec![];
                }
                let next = if self.snap.selector.as_deref() == Some("queue_depth") {
                    "round_robin"
                } else {
                    "queue_depth"
                };
                let p = json!({"name": self.bdev, "policy": "active_active", "selector": next});
                self.call(Engine::Initiator, "bdev_nvme_set_multipath_policy", Some(p))
            }
            PreferPath => {
                let Some(cntlid) = self.selected_path().map(|p| p.cntlid) else {
                    self.note(Level::Warn, "no I/O path selected");
                    return vec![];
                };
                let p = json!({"name": self.bdev, "cntlid": cntlid});
                self.call(Engine::Initiator, "bdev_nvme_set_preferred_path", Some(p))
            }
            PauseResume => {
                if self.load_running() {
                    self.stop_load()
                } else {
                    self.open_load_form();
                    vec![]
                }
            }
            Workload => {
                self.open_load_form();
                vec![]
            }
            ResvRegister | ResvAcquire | ResvRelease => self.reservation(a),
            DropConns => self.listener_fault('x', "mpath_listener_drop_connections", None),
            Blackhole => self.listener_fault('b', "mpath_listener_blackhole", None),
            Delay => {
                let ms = super::health::next_delay(self.selected_fault());
                self.listener_fault('d', "mpath_listener_delay", Some(ms))
            }
            Restore => self.listener_fault('r', "mpath_listener_restore", None),
            CommandLine => {
                self.cmd = Some(CmdState::default());
                vec![]
            }
            Help => {
                self.overlay = Overlay::Help { scroll: 0 };
                vec![]
            }
            NextTheme => {
                self.theme = self.theme.next_builtin();
                self.note(Level::Info, format!("theme: {}", self.theme.name));
                vec![]
            }
            Close => {
                if !self.views.get(self.focus).filter.is_empty() {
                    let p = self.focus;
                    self.keep_selection(|a| a.views.get_mut(p).filter.clear());
                } else if self.zoom {
                    self.zoom = false;
                } else {
                    self.status = None;
                }
                vec![]
            }
            PickScope => {
                self.picker = Some(Picker::open(
                    &self.snap,
                    self.all_subsystems,
                    &self.nqn,
                    &self.bdev,
                ));
                vec![]
            }
            ScopeHere => {
                if self.focus != Pane::Subsystems {
                    return vec![];
                }
                let Some(nqn) = self
                    .selected_row(Pane::Subsystems)
                    .and_then(|i| view::subsystem(&self.snap, i))
                    .map(|x| x.nqn.clone())
                else {
                    return vec![];
                };
                let bdev = super::scope::bdevs_of(&self.snap, &nqn).into_iter().next();
                self.set_scope(Some(nqn), bdev)
            }
            Zoom => {
                self.zoom = !self.zoom;
                vec![]
            }
            Filter => {
                if !TABLES.contains(&self.focus) {
                    self.note(Level::Warn, "/ filters a table: focus one first (Tab)");
                    return vec![];
                }
                let cur = self.views.get(self.focus).filter.clone();
                self.views.editing = Some(Input::new(cur));
                vec![]
            }
            Sort => {
                let p = self.focus;
                if view::sort_keys(p).is_empty() {
                    self.note(Level::Warn, "S sorts a table: focus one first (Tab)");
                    return vec![];
                }
                self.keep_selection(|a| a.views.get_mut(p).cycle_sort(p));
                let by = self.views.get(p).sort_key(p);
                self.note(
                    Level::Info,
                    match by {
                        Some(k) => format!("{}: sorted by {}", p.title(), k.name),
                        None => format!("{}: in the usual order", p.title()),
                    },
                );
                vec![]
            }
        }
    }

    /// Narrows the panes to subsystem `nqn` and initiator bdev `bdev`
    /// (`None`: every subsystem, the bdev as it is) and tells the
    /// sampler.
    pub fn set_scope(&mut self, nqn: Option<String>, bdev: Option<String>) -> Vec<Effect> {
        self.keep_selection(|a| match nqn {
            None => a.all_subsystems = true,
            Some(n) => {
                a.all_subsystems = false;
                a.nqn = n;
                a.bdev = bdev.unwrap_or_default();
            }
        });
        let text = match (self.all_subsystems, self.bdev.as_str()) {
            (true, b) => format!("scope: all subsystems, bdev {b}"),
            (false, "") => format!("scope: {} (no bdev of this initiator reaches it)", self.nqn),
            (false, b) => format!("scope: {}, bdev {b}", self.nqn),
        };
        self.note(Level::Info, text);
        vec![Effect::Scope(Scope {
            bdev: self.bdev.clone(),
            nqn: self.nqn.clone(),
        })]
    }

    /// Keys while the scope picker is open.
    fn picker_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let Some(p) = self.picker.as_mut() else {
            return vec![];
        };
        match k.code {
            KeyCode::Char('j') | KeyCode::Down => p.step(1),
            KeyCode::Char('k') | KeyCode::Up => p.step(-1),
            KeyCode::Char('g') | KeyCode::Home => p.step(i64::MIN / 2),
            KeyCode::Char('G') | KeyCode::End => p.step(i64::MAX / 2),
            KeyCode::Enter => {
                let c = p.chosen().cloned();
                self.picker = None;
                if let Some(c) = c {
                    return self.set_scope(c.nqn, c.bdev);
                }
            }
            _ => {
                let a = self.keymap.lookup(&k);
                if matches!(a, Some(Action::Close | Action::PickScope | Action::Quit)) {
                    self.picker = None;
                }
            }
        }
        vec![]
    }

    /// Keys while the `/` line is open: the filter follows each key;
    /// Enter keeps it, Esc drops it.
    fn filter_key(&mut self, k: KeyEvent) {
        let p = self.focus;
        let Some(input) = self.views.editing.as_mut() else {
            return;
        };
        let text = match k.code {
            KeyCode::Enter => {
                self.views.editing = None;
                return;
            }
            KeyCode::Esc => {
                self.views.editing = None;
                String::new()
            }
            _ => {
                input.handle_event(&Event::Key(k));
                input.value().to_string()
            }
        };
        self.keep_selection(|a| a.views.get_mut(p).filter = text);
    }

    /// Register / Acquire (or Preempt) / Release as this host, through
    /// `bdev_nvme_send_cmd`, from the last Reservation Report read.
    fn reservation(&mut self, a: Action) -> Vec<Effect> {
        let Some(r) = self.snap.reservation.clone() else {
            let why = if self.snap.initiator.has_method("bdev_nvme_send_cmd") == Some(false) {
                "reservations: the initiator has no bdev_nvme_send_cmd"
            } else {
                "reservations: not read yet"
            };
            self.note(Level::Warn, why);
            return vec![];
        };
        let (Some(me), Ok(st)) = (r.this_host, r.report.as_ref()) else {
            let why = r
                .report
                .as_ref()
                .err()
                .cloned()
                .unwrap_or_else(|| "this host's Host Identifier is not known yet".into());
            self.note(Level::Warn, format!("reservations: {why}"));
            return vec![];
        };
        let key = resv::host_key(&me);
        let own = r.own_key();
        let holder = st.registrants.iter().find(|g| g.holds);
        let params = match a {
            Action::ResvRegister => {
                resv::register_params(&r.ctrlr, r.nsid, own.unwrap_or(key), own.is_some())
            }
            _ if own.is_none() => {
                self.note(Level::Warn, "register this host first (R)");
                return vec![];
            }
            Action::ResvAcquire => match holder {
                Some(h) if h.hostid == me => {
                    self.note(Level::Info, "this host already holds the reservation");
                    return vec![];
                }
                h => resv::acquire_params(&r.ctrlr, r.nsid, own.unwrap_or(key), h.map(|h| h.rkey)),
            },
            _ => match (holder, crate::host::cmd::ReservationType::from_u8(st.rtype)) {
                (Some(h), Some(t)) if h.hostid == me => {
                    resv::release_params(&r.ctrlr, r.nsid, own.unwrap_or(key), t)
                }
                _ => {
                    self.note(Level::Warn, "this host holds no reservation");
                    return vec![];
                }
            },
        };
        self.call(Engine::Initiator, "bdev_nvme_send_cmd", Some(params))
    }

    /// The fault on the listener `listener_fault` would act on.
    fn selected_fault(&self) -> Option<super::health::Fault> {
        match self.selected_path() {
            Some(p) => p.fault,
            None => self.selected_listener().and_then(|l| l.fault),
        }
    }

    /// One of our `mpath_listener_*` fault methods on the listener of the
    /// selected path (or the selected listener).
    fn listener_fault(&mut self, key: char, method: &str, delay_ms: Option<u32>) -> Vec<Effect> {
        let Some((traddr, trsvcid, trtype)) = self
            .selected_path()
            .map(|p| (p.traddr.clone(), p.trsvcid.clone(), p.trtype.clone()))
            .or_else(|| {
                self.selected_listener()
                    .map(|l| (l.traddr.clone(), l.trsvcid.clone(), l.trtype.clone()))
            })
        else {
            self.note(Level::Warn, "no path selected");
            return vec![];
        };
        if self.snap.target.has_method(method) == Some(false) {
            self.note(
                Level::Warn,
                format!("{key}: unavailable on this backend (the target has no {method})"),
            );
            return vec![];
        }
        let mut p = json!({"listen_address": {"trtype": tcp(&trtype), "traddr": traddr, "trsvcid": trsvcid}});
        if let Some(ms) = delay_ms {
            p["delay_ms"] = json!(ms);
        }
        self.call(Engine::Target, method, Some(p))
    }

    fn set_ana(&mut self, state: Option<&str>) -> Vec<Effect> {
        let Some(l) = self.selected_listener().cloned() else {
            self.note(Level::Warn, "no listener selected");
            return vec![];
        };
        let state = match state {
            Some(s) => s.to_string(),
            None => match l.ana_state() {
                Some("optimized") => "non_optimized".into(),
                Some("non_optimized") => "inaccessible".into(),
                _ => "optimized".into(),
            },
        };
        let p = json!({
            "nqn": l.nqn,
            "ana_state": state,
            "listen_address": {"trtype": tcp(&l.trtype), "traddr": l.traddr, "trsvcid": l.trsvcid},
        });
        self.call(
            Engine::Target,
            "nvmf_subsystem_listener_set_ana_state",
            Some(p),
        )
    }

    /// Whether a run can be stopped: `false` only when the initiator's
    /// methods are known and lack `mpath_perf_stop`.
    fn can_stop_runs(&self) -> bool {
        self.snap.initiator.has_method("mpath_perf_stop") != Some(false)
    }

    /// The run time sent for a run until paused.
    fn open_ended_secs(&self) -> u64 {
        if self.can_stop_runs() {
            FOREVER_SECS
        } else {
            FINITE_RUN_SECS
        }
    }

    /// The load form's starting values: the workload, depth and size the
    /// initiator reports (what it runs, or ran last), else the form's last
    /// start, else the HOWTO's load.
    pub fn load_prefill(&self) -> LoadParams {
        let mut p = self.last_load.clone().unwrap_or_default();
        let l = &self.snap.load;
        if let Some(w) = l
            .workload
            .as_ref()
            .filter(|w| super::form::WORKLOADS.contains(&w.as_str()))
        {
            p.workload = w.clone();
        }
        if let Some(q) = l.queue_depth.and_then(|q| u32::try_from(q).ok()) {
            p.queue_depth = q;
        }
        if let Some(o) = l
            .io_size
            .filter(|o| p.io_size.parse::<u64>().ok() != Some(*o))
        {
            p.io_size = o.to_string();
        }
        p
    }

    pub fn open_load_form(&mut self) {
        let open_ended = if self.can_stop_runs() {
            "until paused".to_string()
        } else {
            format!("{FINITE_RUN_SECS} s: no mpath_perf_stop to pause")
        };
        let form = LoadForm::new(&self.load_prefill(), self.load_running(), &open_ended);
        self.overlay = Overlay::Load(form);
    }

    /// The `perform_tests` call: the form's complete parameters, or with
    /// none only the run time (resuming with the initiator's own).
    pub fn perf_start_params(&self, p: Option<&LoadParams>) -> Value {
        let secs = self.open_ended_secs();
        match p {
            Some(p) => p.to_params(secs),
            None => json!({"time_in_sec": secs}),
        }
    }

    fn perf_start_call(&mut self, p: Option<&LoadParams>) -> CallSpec {
        let params = self.perf_start_params(p);
        self.spec_call(Engine::Initiator, "perform_tests", Some(params), true)
    }

    /// Start (or resume with the initiator's parameters when `p` is
    /// `None`): `perform_tests` in the background, after a stop when a
    /// run is going.
    pub fn start_load(&mut self, p: Option<&LoadParams>) -> Vec<Effect> {
        let start = self.perf_start_call(p);
        if p.is_some() && self.load_running() {
            if self.snap.initiator.has_method("mpath_perf_stop") == Some(false) {
                self.note(
                    Level::Warn,
                    "cannot switch workload: this bdevperf has no mpath_perf_stop",
                );
                self.pending.remove(&start.id);
                return vec![];
            }
            let stop = self.spec_call(Engine::Initiator, "mpath_perf_stop", None, false);
            self.log_push(LogKind::Action, stop.line.clone());
            self.log_push(LogKind::Action, start.line.clone());
            return vec![Effect::Sequence(vec![stop, start])];
        }
        if !self.can_stop_runs() && p.is_none_or(|p| p.time_in_sec.is_none()) {
            self.note(
                Level::Info,
                format!(
                    "starting a {FINITE_RUN_SECS} s run: this bdevperf has no mpath_perf_stop, \
                     so an open-ended run could not be stopped"
                ),
            );
        }
        self.log_push(LogKind::Action, start.line.clone());
        vec![Effect::Call(start)]
    }

    fn stop_load(&mut self) -> Vec<Effect> {
        if self.snap.initiator.has_method("mpath_perf_stop") == Some(false) {
            self.note(
                Level::Warn,
                "pause: unavailable on this backend (no mpath_perf_stop)",
            );
            return vec![];
        }
        self.call(Engine::Initiator, "mpath_perf_stop", None)
    }

    pub fn cmd_ctx(&self) -> cmdline::Ctx {
        cmdline::Ctx {
            tgt_loc: self.snap.target.location.clone(),
            ini_loc: self.snap.initiator.location.clone(),
            tgt_methods: self.snap.target.methods.clone(),
            ini_methods: self.snap.initiator.methods.clone(),
        }
    }

    /// Values worth completing: NQNs, addresses, ports, bdevs, cntlids.
    fn completion_values(&self) -> Vec<String> {
        let s = &self.snap;
        let mut v: Vec<String> = vec![
            self.bdev.clone(),
            self.nqn.clone(),
            "tcp".into(),
            "ipv4".into(),
        ];
        for x in &s.subsystems {
            v.push(x.nqn.clone());
            v.extend(x.namespaces.iter().map(|n| n.bdev.clone()));
        }
        for l in &s.listeners {
            v.push(l.traddr.clone());
            v.push(l.trsvcid.clone());
        }
        for p in &s.paths {
            v.push(p.cntlid.to_string());
            v.push(p.ctrlr.clone());
        }
        v.retain(|x| !x.is_empty());
        v.sort();
        v.dedup();
        v
    }

    fn cmd_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let Some(cmd) = self.cmd.as_mut() else {
            return vec![];
        };
        match k.code {
            // Esc leaves the line, completion menu or not (as in vim): a
            // line left open behind a closed menu would take the next `:`
            // as text.
            KeyCode::Esc => {
                self.cmd = None;
                self.history.pos = None;
            }
            KeyCode::Enter if cmd.comp_sel.is_some() => {
                // Accept the menu's choice; a second Enter runs the line.
                let v = format!("{} ", cmd.input.value());
                cmd.input = Input::new(v);
                cmd.completions.clear();
                cmd.comp_sel = None;
            }
            KeyCode::Enter => {
                let line = cmd.input.value().to_string();
                if line.trim().is_empty() {
                    self.cmd = None;
                    return vec![];
                }
                let ctx = self.cmd_ctx();
                match cmdline::parse(&line, &ctx) {
                    Err(e) => {
                        // Nothing is sent; the line stays for fixing.
                        let cmd = self.cmd.as_mut().expect("cmd");
                        cmd.msg = Some(e);
                        cmd.msg_is_error = true;
                        cmd.completions.clear();
                        cmd.comp_sel = None;
                    }
                    Ok(p) => {
                        self.history.push(&line);
                        self.history.pos = None;
                        self.cmd = None;
                        if let Some(n) = &p.note {
                            self.note(Level::Info, n.clone());
                        }
                        if p.dry_run {
                            let req = json!({"method": p.method, "params": p.params});
                            self.overlay = Overlay::Result {
                                title: format!("dry run → {}", cmdline::app_name(p.app)),
                                lines: serde_json::to_string_pretty(&req)
                                    .unwrap_or_default()
                                    .lines()
                                    .map(String::from)
                                    .collect(),
                                error: false,
                                scroll: 0,
                            };
                            return vec![];
                        }
                        let background = p.method == "perform_tests";
                        let mut c = self.spec_call(p.app, &p.method, p.params, background);
                        if let Some(pd) = self.pending.get_mut(&c.id) {
                            pd.from_cmdline = !background;
                        }
                        c.line = cmdline::to_line(
                            p.app,
                            &c.method,
                            c.params.as_ref(),
                            Some(self.location(p.app)),
                        );
                        self.log_push(LogKind::Action, c.line.clone());
                        return vec![Effect::Call(c)];
                    }
                }
            }
            KeyCode::Tab | KeyCode::BackTab if !cmd.completions.is_empty() => {
                // Menu open: cycle through it, the word follows.
                let n = cmd.completions.len();
                let next = match (cmd.comp_sel, k.code) {
                    (None, KeyCode::BackTab) => n - 1,
                    (None, _) => 0,
                    (Some(i), KeyCode::BackTab) => (i + n - 1) % n,
                    (Some(i), _) => (i + 1) % n,
                };
                cmd.comp_sel = Some(next);
                let line = cmd.input.value().to_string();
                let start = cmd.comp_start.min(line.len());
                cmd.input = Input::new(format!("{}{}", &line[..start], cmd.completions[next]));
            }
            KeyCode::Tab => {
                let line = cmd.input.value().to_string();
                let ctx = self.cmd_ctx();
                let extra = self.completion_values();
                let (start, cands) = cmdline::complete(&line, &ctx, &extra);
                let cmd = self.cmd.as_mut().expect("cmd");
                cmd.msg = None;
                match cands.len() {
                    0 => {
                        cmd.msg = Some("no completions".into());
                        cmd.msg_is_error = false;
                    }
                    1 => {
                        cmd.input = Input::new(format!("{}{} ", &line[..start], cands[0]));
                    }
                    _ => {
                        let pre = cmdline::common_prefix(&cands);
                        cmd.input = Input::new(format!("{}{}", &line[..start], pre));
                        cmd.completions = cands;
                        cmd.comp_sel = None;
                        cmd.comp_start = start;
                    }
                }
            }
            KeyCode::Up => {
                let cur = cmd.input.value().to_string();
                if let Some(h) = self.history.older(&cur).map(String::from) {
                    let cmd = self.cmd.as_mut().expect("cmd");
                    cmd.input = Input::new(h);
                }
            }
            KeyCode::Down => {
                if let Some(h) = self.history.newer() {
                    let cmd = self.cmd.as_mut().expect("cmd");
                    cmd.input = Input::new(h);
                }
            }
            _ => {
                cmd.input.handle_event(&Event::Key(k));
                cmd.msg = None;
                cmd.completions.clear();
                cmd.comp_sel = None;
            }
        }
        vec![]
    }
}

/// What a table row is, whatever its position: the selection follows it
/// from one snapshot to the next, so a key acts on the object the user
/// picked even when rows are added or removed around it.
#[derive(Debug, PartialEq, Eq)]
enum RowKey {
    /// NQN.
    Subsystem(String),
    /// NQN and transport ID (trtype, traddr, trsvcid).
    Listener(String, String, String, String),
    /// Controller name and transport ID.
    Path(String, String, String, String),
    /// Local and peer address.
    Conn(String, String),
}

/// The panes whose selection is a row of a table.
const TABLES: [Pane; 4] = [Pane::Subsystems, Pane::Listeners, Pane::Paths, Pane::Conns];

/// The identity of each row in `rows` (the pane's [`view::rows`]).
fn row_keys(s: &Snapshot, p: Pane, rows: &[usize]) -> Vec<RowKey> {
    match p {
        Pane::Subsystems => rows
            .iter()
            .filter_map(|&i| view::subsystem(s, i))
            .map(|x| RowKey::Subsystem(x.nqn.clone()))
            .collect(),
        Pane::Listeners => rows
            .iter()
            .filter_map(|&i| s.listeners.get(i))
            .map(|l| {
                RowKey::Listener(
                    l.nqn.clone(),
                    l.trtype.to_ascii_lowercase(),
                    l.traddr.clone(),
                    l.trsvcid.clone(),
                )
            })
            .collect(),
        Pane::Paths => rows
            .iter()
            .filter_map(|&i| s.paths.get(i))
            .map(|x| {
                RowKey::Path(
                    x.ctrlr.clone(),
                    x.trtype.to_ascii_lowercase(),
                    x.traddr.clone(),
                    x.trsvcid.clone(),
                )
            })
            .collect(),
        Pane::Conns => rows
            .iter()
            .filter_map(|&i| s.conns.rows.get(i))
            .map(|c| RowKey::Conn(c.local.clone(), c.peer.clone()))
            .collect(),
        Pane::Load | Pane::Events => vec![],
    }
}

/// The new row index of the object at `sel` in `old`: the same object if
/// it is still there, else its nearest surviving neighbour in the old
/// order (the next one first), else the same index.
fn follow(old: &[RowKey], new: &[RowKey], sel: usize) -> usize {
    let at = |k: &RowKey| new.iter().position(|n| n == k);
    if sel >= old.len() {
        return sel;
    }
    let after = old[sel..].iter().filter_map(at).next();
    let before = || old[..sel].iter().rev().filter_map(at).next();
    after.or_else(before).unwrap_or(sel)
}

/// Alt+`c` (an Esc and a key that came together) that no binding claims:
/// the Esc and the plain key, to be handled one after the other. In the
/// `:` line Alt+b/f/d edit by words, so there only Alt+`:` is split.
fn split_alt(k: &KeyEvent, km: &Keymap, in_line: bool) -> Option<(KeyEvent, KeyEvent)> {
    let KeyCode::Char(c) = k.code else {
        return None;
    };
    if !k.modifiers.contains(KeyModifiers::ALT) || km.lookup(k).is_some() || (in_line && c != ':') {
        return None;
    }
    let mut plain = *k;
    plain.modifiers.remove(KeyModifiers::ALT);
    let esc = KeyEvent::new_with_kind(KeyCode::Esc, KeyModifiers::NONE, k.kind);
    Some((esc, plain))
}

/// One line on a finished `perform_tests` run from its result
/// (`{"results": [{"iops", "mibps", "io_failed", "runtime", ...}]}`).
pub fn perf_summary(v: &Value) -> Option<String> {
    let jobs = v["results"].as_array()?;
    let sum = |k: &str| jobs.iter().filter_map(|j| j[k].as_f64()).sum::<f64>();
    let secs = jobs
        .iter()
        .filter_map(|j| j["runtime"].as_f64())
        .fold(0.0, f64::max);
    let status: Vec<&str> = jobs.iter().filter_map(|j| j["status"].as_str()).collect();
    let mut s = format!(
        "run ended after {secs:.1} s: {} IOPS, {:.2} MiB/s, {} failed, {} timed out",
        super::fmt::count(sum("iops")),
        sum("mibps"),
        sum("io_failed"),
        sum("io_timeout"),
    );
    if !status.is_empty() && status.iter().all(|x| *x == status[0]) {
        s.push_str(&format!(" ({})", status[0]));
    }
    Some(s)
}

/// The trtype as spdk-rpc users type it (`-t tcp`).
fn tcp(t: &str) -> String {
    if t.is_empty() {
        "tcp".into()
    } else {
        t.to_ascii_lowercase()
    }
}

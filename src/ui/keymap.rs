//! The one key table: dispatch, the help overlay and the footer hints are
//! all generated from [`Keymap::bindings`], so they cannot drift apart.
//!
//! A user file (`--keymap FILE`) maps action names to keys and overrides
//! the defaults for those actions:
//! `{"ana.optimized": "O", "quit": ["q", "ctrl-q"]}`. Unknown action names
//! and unparsable keys are errors naming the file and the entry.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    NextPane,
    PrevPane,
    Up,
    Down,
    Top,
    Bottom,
    AnaOptimized,
    AnaNonOptimized,
    AnaInaccessible,
    AnaCycle,
    TogglePolicy,
    CycleSelector,
    PreferPath,
    ResvRegister,
    ResvAcquire,
    ResvRelease,
    PauseResume,
    Workload,
    DropConns,
    Blackhole,
    Delay,
    Restore,
    CommandLine,
    Help,
    NextTheme,
    Close,
    PickScope,
    ScopeHere,
    Zoom,
    Filter,
    Sort,
}

/// A key: code and modifiers (Shift is ignored for characters, which carry
/// their case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub const fn plain(code: KeyCode) -> Key {
        Key {
            code,
            mods: KeyModifiers::NONE,
        }
    }
    pub const fn ch(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }
    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            mods: KeyModifiers::CONTROL,
        }
    }

    /// Normalises a terminal key event for lookup.
    pub fn from_event(e: &KeyEvent) -> Key {
        let mut mods =
            e.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match e.code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::Char(if mods.contains(KeyModifiers::CONTROL) {
                    c.to_ascii_lowercase()
                } else {
                    c
                })
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            c => c,
        };
        Key { code, mods }
    }

    /// Parses `q`, `Q`, `ctrl-c`, `shift-tab`, `space`, `enter`, `esc`,
    /// `up`, `pgdn`, `f1`, `alt-x`, `?`.
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            let strip = [
                "ctrl-", "ctrl+", "c-", "alt-", "alt+", "a-", "shift-", "shift+", "s-",
            ]
            .iter()
            .find(|p| lower.starts_with(**p) && rest.len() > p.len());
            let Some(p) = strip else { break };
            mods |= match p.chars().next() {
                Some('c') => KeyModifiers::CONTROL,
                Some('a') => KeyModifiers::ALT,
                _ => KeyModifiers::SHIFT,
            };
            rest = &rest[p.len()..];
        }
        let lower = rest.to_ascii_lowercase();
        let code = match lower.as_str() {
            "space" | "spc" => KeyCode::Char(' '),
            "tab" if mods.contains(KeyModifiers::SHIFT) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "enter" | "return" | "cr" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdn" | "pagedown" => KeyCode::PageDown,
            "backspace" | "bs" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            f if f.len() >= 2
                && f.starts_with('f')
                && f[1..].parse::<u8>().is_ok_and(|n| (1..=24).contains(&n)) =>
            {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            _ => {
                let mut it = rest.chars();
                match (it.next(), it.next()) {
                    (Some(c), None) if !c.is_control() => {
                        if mods.contains(KeyModifiers::SHIFT) && c.is_ascii_alphabetic() {
                            mods.remove(KeyModifiers::SHIFT);
                            KeyCode::Char(c.to_ascii_uppercase())
                        } else if mods.contains(KeyModifiers::CONTROL) {
                            KeyCode::Char(c.to_ascii_lowercase())
                        } else {
                            KeyCode::Char(c)
                        }
                    }
                    _ => return Err(format!("unknown key {s:?} (examples: q, Q, ctrl-c, shift-tab, space, enter, esc, up, pgdn, f1)")),
                }
            }
        };
        if let KeyCode::Char(_) = code {
            mods.remove(KeyModifiers::SHIFT);
        }
        Ok(Key { code, mods })
    }

    /// How the help and the footer print it.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::F(n) => format!("F{n}"),
            c => format!("{c:?}"),
        };
        let mut s = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            s.push_str("C-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            s.push_str("M-");
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            s.push_str("S-");
        }
        s + &base
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    pub action: Action,
    /// Name in keymap files.
    pub name: &'static str,
    pub keys: Vec<Key>,
    pub desc: &'static str,
    /// Help section.
    pub group: &'static str,
    /// Footer label, for the actions worth a hint.
    pub hint: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

pub const GROUPS: [&str; 5] = [
    "Navigate",
    "Listener (target)",
    "Path (initiator)",
    "Load",
    "General",
];

impl Default for Keymap {
    fn default() -> Keymap {
        use Action::*;
        let b = |action, name, keys: &[Key], desc, group, hint| Binding {
            action,
            name,
            keys: keys.to_vec(),
            desc,
            group,
            hint,
        };
        let nav = GROUPS[0];
        let lis = GROUPS[1];
        let path = GROUPS[2];
        let load = GROUPS[3];
        let gen = GROUPS[4];
        Keymap {
            bindings: vec![
                b(
                    NextPane,
                    "pane.next",
                    &[Key::plain(KeyCode::Tab)],
                    "next pane",
                    nav,
                    Some("pane"),
                ),
                b(
                    PrevPane,
                    "pane.prev",
                    &[Key::plain(KeyCode::BackTab)],
                    "previous pane",
                    nav,
                    None,
                ),
                b(
                    Down,
                    "select.down",
                    &[Key::ch('j'), Key::plain(KeyCode::Down)],
                    "select next row",
                    nav,
                    None,
                ),
                b(
                    Up,
                    "select.up",
                    &[Key::ch('k'), Key::plain(KeyCode::Up)],
                    "select previous row",
                    nav,
                    None,
                ),
                b(
                    Top,
                    "select.first",
                    &[Key::ch('g'), Key::plain(KeyCode::Home)],
                    "first row",
                    nav,
                    None,
                ),
                b(
                    Bottom,
                    "select.last",
                    &[Key::ch('G'), Key::plain(KeyCode::End)],
                    "last row",
                    nav,
                    None,
                ),
                b(
                    AnaOptimized,
                    "ana.optimized",
                    &[Key::ch('o')],
                    "set the selected listener's ANA state to optimized",
                    lis,
                    Some("opt"),
                ),
                b(
                    AnaNonOptimized,
                    "ana.non_optimized",
                    &[Key::ch('n')],
                    "… to non_optimized",
                    lis,
                    Some("non-opt"),
                ),
                b(
                    AnaInaccessible,
                    "ana.inaccessible",
                    &[Key::ch('i')],
                    "… to inaccessible",
                    lis,
                    Some("inacc"),
                ),
                b(
                    AnaCycle,
                    "ana.cycle",
                    &[Key::ch('a')],
                    "cycle optimized → non_optimized → inaccessible",
                    lis,
                    None,
                ),
                b(
                    DropConns,
                    "conn.drop",
                    &[Key::ch('x')],
                    "drop the selected path's TCP connections (target side)",
                    lis,
                    Some("drop"),
                ),
                b(
                    Blackhole,
                    "fault.blackhole",
                    &[Key::ch('b')],
                    "blackhole the selected path's listener (reads, never answers)",
                    lis,
                    Some("fault"),
                ),
                b(
                    Delay,
                    "fault.delay",
                    &[Key::ch('d')],
                    "delay the selected path's listener's answers: 10 ms, again for 50, 100, 500, 1000",
                    lis,
                    Some("fault"),
                ),
                b(
                    Restore,
                    "fault.restore",
                    &[Key::ch('r')],
                    "lift a blackhole or delay from the selected path's listener",
                    lis,
                    Some("fault"),
                ),
                b(
                    TogglePolicy,
                    "policy.toggle",
                    &[Key::ch('p')],
                    "toggle multipath policy active_passive ⇄ active_active",
                    path,
                    Some("policy"),
                ),
                b(
                    CycleSelector,
                    "selector.cycle",
                    &[Key::ch('s')],
                    "cycle selector round_robin ⇄ queue_depth (active_active)",
                    path,
                    Some("selector"),
                ),
                b(
                    PreferPath,
                    "path.prefer",
                    &[Key::ch('P')],
                    "make the selected path preferred",
                    path,
                    Some("prefer"),
                ),
                b(
                    ResvRegister,
                    "resv.register",
                    &[Key::ch('R')],
                    "register this host's reservation key on the bdev's namespace (again: unregister)",
                    path,
                    None,
                ),
                b(
                    ResvAcquire,
                    "resv.acquire",
                    &[Key::ch('A')],
                    "reserve the namespace Write Exclusive as this host, or preempt the holder",
                    path,
                    None,
                ),
                b(
                    ResvRelease,
                    "resv.release",
                    &[Key::ch('L')],
                    "release the reservation this host holds",
                    path,
                    None,
                ),
                b(
                    PauseResume,
                    "load.toggle",
                    &[Key::ch(' ')],
                    "pause the load; paused, open the load form to start one",
                    load,
                    Some("pause"),
                ),
                b(
                    Workload,
                    "load.workload",
                    &[Key::ch('w')],
                    "the load form: -w -q -o -t -M (Enter starts, restarts a running load)",
                    load,
                    Some("workload"),
                ),
                b(
                    CommandLine,
                    "cmdline",
                    &[Key::ch(':')],
                    "command line: any RPC in spdk-rpc syntax",
                    gen,
                    Some("rpc"),
                ),
                b(
                    Help,
                    "help",
                    &[Key::ch('?'), Key::plain(KeyCode::F(1))],
                    "this help",
                    gen,
                    Some("help"),
                ),
                b(
                    NextTheme,
                    "theme.next",
                    &[Key::ch('T')],
                    "next theme",
                    gen,
                    Some("theme"),
                ),
                b(
                    Close,
                    "close",
                    &[Key::plain(KeyCode::Esc)],
                    "close overlay / result; clear the filter; leave zoom",
                    gen,
                    None,
                ),
                b(
                    Quit,
                    "quit",
                    &[Key::ch('q'), Key::ctrl('c')],
                    "quit (restores the terminal)",
                    gen,
                    Some("quit"),
                ),
                b(
                    Zoom,
                    "pane.zoom",
                    &[Key::ch('z')],
                    "zoom the focused pane to the whole screen (again: restore)",
                    nav,
                    Some("zoom"),
                ),
                b(
                    Filter,
                    "table.filter",
                    &[Key::ch('/')],
                    "filter the focused table (any text in a row; Esc clears)",
                    nav,
                    Some("filter"),
                ),
                b(
                    Sort,
                    "table.sort",
                    &[Key::ch('S')],
                    "sort the focused table by its next column (▲ text, ▼ numbers)",
                    nav,
                    None,
                ),
                b(
                    PickScope,
                    "scope.pick",
                    &[Key::ch('v')],
                    "pick the subsystem / bdev the other panes show",
                    nav,
                    Some("scope"),
                ),
                b(
                    ScopeHere,
                    "scope.here",
                    &[Key::plain(KeyCode::Enter)],
                    "on Subsystems: show the selected subsystem in the other panes",
                    nav,
                    None,
                ),
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("keymap {file}: {msg}")]
pub struct KeymapError {
    pub file: String,
    pub msg: String,
}

impl Keymap {
    pub fn lookup(&self, e: &KeyEvent) -> Option<Action> {
        let k = Key::from_event(e);
        self.bindings
            .iter()
            .find(|b| b.keys.contains(&k))
            .map(|b| b.action)
    }

    pub fn binding(&self, a: Action) -> Option<&Binding> {
        self.bindings.iter().find(|b| b.action == a)
    }

    /// The keys of `a`, as printed: `j/↓`.
    pub fn keys_label(&self, a: Action) -> String {
        self.binding(a)
            .map(|b| b.keys.iter().map(Key::label).collect::<Vec<_>>().join("/"))
            .unwrap_or_default()
    }

    /// (keys, label) for the footer: help, quit and the command line first
    /// (they must never be the ones dropped on a narrow screen), then
    /// table order; neighbours with the same label share one hint
    /// (`b/d/r fault`).
    pub fn hints(&self) -> Vec<(String, &'static str)> {
        let rank = |b: &&Binding| match b.action {
            Action::Help => 0,
            Action::Quit => 1,
            Action::CommandLine => 2,
            _ => 3,
        };
        let mut v: Vec<&Binding> = self.bindings.iter().collect();
        v.sort_by_key(rank);
        let mut out: Vec<(String, &'static str)> = Vec::new();
        for b in v {
            let (Some(h), Some(k)) = (b.hint, b.keys.first()) else {
                continue;
            };
            match out.last_mut() {
                Some((keys, last)) if *last == h => {
                    keys.push('/');
                    keys.push_str(&k.label());
                }
                _ => out.push((k.label(), h)),
            }
        }
        out
    }

    /// Applies a user keymap file's overrides.
    pub fn with_file(mut self, file: &str, text: &str) -> Result<Keymap, KeymapError> {
        let err = |msg: String| KeymapError {
            file: file.to_string(),
            msg,
        };
        let v: Value = serde_json::from_str(text).map_err(|e| err(format!("not JSON: {e}")))?;
        let o = v
            .as_object()
            .ok_or_else(|| err("expected an object of \"action\": \"key\" entries".into()))?;
        for (name, keys) in o {
            let Some(i) = self.bindings.iter().position(|b| b.name == name) else {
                let known: Vec<&str> = self.bindings.iter().map(|b| b.name).collect();
                return Err(err(format!(
                    "unknown action {name:?} (known: {})",
                    known.join(", ")
                )));
            };
            let list: Vec<&str> = match keys {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a
                    .iter()
                    .map(|k| {
                        k.as_str()
                            .ok_or_else(|| err(format!("{name}: keys must be strings")))
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(err(format!("{name}: expected a key or a list of keys"))),
            };
            let parsed: Vec<Key> = list
                .iter()
                .map(|k| Key::parse(k).map_err(|m| err(format!("{name}: {m}"))))
                .collect::<Result<_, _>>()?;
            self.bindings[i].keys = parsed;
        }
        // A key bound twice would silently shadow an action.
        for (i, b) in self.bindings.iter().enumerate() {
            for k in &b.keys {
                if let Some(o) = self.bindings[i + 1..].iter().find(|o| o.keys.contains(k)) {
                    return Err(err(format!(
                        "key {} is bound to both {} and {}",
                        k.label(),
                        b.name,
                        o.name
                    )));
                }
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new_with_kind(code, mods, KeyEventKind::Press)
    }

    #[test]
    fn default_table_is_unambiguous_and_dispatches() {
        let k = Keymap::default().with_file("-", "{}").unwrap();
        assert_eq!(
            k.lookup(&ev(KeyCode::Char('n'), KeyModifiers::NONE)),
            Some(Action::AnaNonOptimized)
        );
        assert_eq!(
            k.lookup(&ev(KeyCode::Char('P'), KeyModifiers::SHIFT)),
            Some(Action::PreferPath)
        );
        assert_eq!(
            k.lookup(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            k.lookup(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::PrevPane)
        );
        assert_eq!(k.lookup(&ev(KeyCode::Char('Z'), KeyModifiers::SHIFT)), None);
        assert_eq!(k.keys_label(Action::Down), "j/↓");
    }

    #[test]
    fn key_names() {
        assert_eq!(Key::parse("ctrl-c").unwrap(), Key::ctrl('c'));
        assert_eq!(Key::parse("C-C").unwrap(), Key::ctrl('c'));
        assert_eq!(
            Key::parse("shift-tab").unwrap(),
            Key::plain(KeyCode::BackTab)
        );
        assert_eq!(Key::parse("shift-p").unwrap(), Key::ch('P'));
        assert_eq!(Key::parse("space").unwrap(), Key::ch(' '));
        assert_eq!(Key::parse("-").unwrap(), Key::ch('-'));
        assert_eq!(Key::parse("f5").unwrap(), Key::plain(KeyCode::F(5)));
        assert!(Key::parse("hyper-x").is_err());
        assert!(Key::parse("").is_err());
    }

    #[test]
    fn user_file_overrides_and_errors() {
        let k = Keymap::default()
            .with_file(
                "k.json",
                r#"{"ana.optimized": "O", "quit": ["q", "ctrl-q"]}"#,
            )
            .unwrap();
        assert_eq!(
            k.lookup(&ev(KeyCode::Char('O'), KeyModifiers::SHIFT)),
            Some(Action::AnaOptimized)
        );
        assert_eq!(k.lookup(&ev(KeyCode::Char('o'), KeyModifiers::NONE)), None);
        let e = Keymap::default()
            .with_file("k.json", r#"{"ana.optimised": "O"}"#)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("keymap k.json: unknown action \"ana.optimised\""),
            "{e}"
        );
        let e = Keymap::default()
            .with_file("k.json", r#"{"quit": "ctrl-alt-banana"}"#)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("quit: unknown key \"ctrl-alt-banana\""),
            "{e}"
        );
        let e = Keymap::default()
            .with_file("k.json", r#"{"quit": "o"}"#)
            .unwrap_err();
        assert!(e.to_string().contains("bound to both"), "{e}");
    }
}

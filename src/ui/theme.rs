//! Themes: named semantic styles. Built in: `dark` (default), `light`,
//! and `mono` (modifiers only; used when `NO_COLOR` is set). `--theme`
//! takes a built-in name or a JSON file that overrides any slot of the
//! dark theme:
//!
//! ```json
//! { "name": "mine", "base": "dark",
//!   "styles": { "border_focused": {"fg": "magenta", "bold": true},
//!               "ana_optimized": {"fg": "black", "bg": "#5fd75f"} },
//!   "series": ["cyan", "magenta", "yellow"] }
//! ```
//!
//! Colours are what ratatui parses: the 16 names (`light-red`, `bright
//! blue`, `dark-gray`/`grey`), `reset`, an index `0..255`, or `#rrggbb`.
//! A bad file is an error naming the file and the key.

use std::str::FromStr;

use mpath_widgets::AnaPalette;
use ratatui::style::{Color, Modifier, Style};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    pub name: String,
    pub base: Style,
    pub border: Style,
    pub border_focused: Style,
    pub title: Style,
    pub title_focused: Style,
    pub header: Style,
    pub selected: Style,
    pub selected_unfocused: Style,
    pub muted: Style,
    pub stale: Style,
    pub accent: Style,
    pub ok: Style,
    pub warn: Style,
    pub err: Style,
    pub key: Style,
    pub hint: Style,
    pub current: Style,
    pub bar_recv: Style,
    pub bar_send: Style,
    pub spark: Style,
    pub ev_action: Style,
    pub ev_reply: Style,
    pub ev_host: Style,
    pub ev_stall: Style,
    pub cmdline: Style,
    pub popup: Style,
    pub ana: AnaPalette,
    /// One colour per path in charts.
    pub series: Vec<Style>,
}

pub const BUILTIN: [&str; 3] = ["dark", "light", "mono"];

fn fg(c: Color) -> Style {
    Style::new().fg(c)
}

impl Theme {
    pub fn dark() -> Theme {
        Theme {
            name: "dark".into(),
            base: Style::new(),
            border: fg(Color::DarkGray),
            border_focused: fg(Color::Cyan),
            title: fg(Color::Gray).add_modifier(Modifier::BOLD),
            title_focused: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            header: fg(Color::Yellow).add_modifier(Modifier::BOLD),
            selected: Style::new().bg(Color::Indexed(237)).add_modifier(Modifier::BOLD),
            selected_unfocused: Style::new().bg(Color::Indexed(235)),
            muted: fg(Color::DarkGray),
            stale: fg(Color::DarkGray).add_modifier(Modifier::ITALIC),
            accent: fg(Color::Cyan),
            ok: fg(Color::Green),
            warn: fg(Color::Yellow),
            err: fg(Color::LightRed).add_modifier(Modifier::BOLD),
            key: fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD),
            hint: fg(Color::Gray),
            current: fg(Color::LightYellow).add_modifier(Modifier::BOLD),
            bar_recv: fg(Color::Magenta),
            bar_send: fg(Color::Blue),
            spark: fg(Color::Cyan),
            ev_action: fg(Color::Cyan),
            ev_reply: fg(Color::Green),
            ev_host: fg(Color::LightBlue),
            ev_stall: fg(Color::LightMagenta).add_modifier(Modifier::BOLD),
            cmdline: fg(Color::White),
            popup: Style::new().bg(Color::Indexed(234)),
            ana: AnaPalette::default(),
            series: vec![
                fg(Color::Cyan),
                fg(Color::Magenta),
                fg(Color::Yellow),
                fg(Color::Green),
                fg(Color::LightBlue),
                fg(Color::LightRed),
            ],
        }
    }

    pub fn light() -> Theme {
        Theme {
            name: "light".into(),
            border: fg(Color::Gray),
            border_focused: fg(Color::Blue),
            title: fg(Color::Black).add_modifier(Modifier::BOLD),
            title_focused: fg(Color::Blue).add_modifier(Modifier::BOLD),
            header: fg(Color::Magenta).add_modifier(Modifier::BOLD),
            selected: Style::new().bg(Color::Indexed(254)).add_modifier(Modifier::BOLD),
            selected_unfocused: Style::new().bg(Color::Indexed(255)),
            muted: fg(Color::Gray),
            stale: fg(Color::Gray).add_modifier(Modifier::ITALIC),
            accent: fg(Color::Blue),
            ok: fg(Color::Green),
            warn: fg(Color::Indexed(130)),
            err: fg(Color::Red).add_modifier(Modifier::BOLD),
            key: fg(Color::White).bg(Color::Blue).add_modifier(Modifier::BOLD),
            hint: fg(Color::DarkGray),
            current: fg(Color::Indexed(130)).add_modifier(Modifier::BOLD),
            bar_recv: fg(Color::Magenta),
            bar_send: fg(Color::Blue),
            spark: fg(Color::Blue),
            ev_action: fg(Color::Blue),
            ev_reply: fg(Color::Green),
            ev_host: fg(Color::Indexed(25)),
            ev_stall: fg(Color::Magenta).add_modifier(Modifier::BOLD),
            cmdline: fg(Color::Black),
            popup: Style::new().bg(Color::Indexed(255)),
            series: vec![
                fg(Color::Blue),
                fg(Color::Magenta),
                fg(Color::Indexed(130)),
                fg(Color::Green),
                fg(Color::Red),
                fg(Color::Cyan),
            ],
            ..Theme::dark()
        }
    }

    /// No colours at all: bold, reverse, dim, italic and underline only.
    pub fn mono() -> Theme {
        let m = |x: Modifier| Style::new().add_modifier(x);
        let badge = m(Modifier::REVERSED | Modifier::BOLD);
        Theme {
            name: "mono".into(),
            base: Style::new(),
            border: Style::new(),
            border_focused: m(Modifier::BOLD),
            title: m(Modifier::BOLD),
            title_focused: m(Modifier::BOLD | Modifier::UNDERLINED),
            header: m(Modifier::BOLD | Modifier::UNDERLINED),
            selected: m(Modifier::REVERSED),
            selected_unfocused: m(Modifier::UNDERLINED),
            muted: m(Modifier::DIM),
            stale: m(Modifier::DIM | Modifier::ITALIC),
            accent: m(Modifier::BOLD),
            ok: Style::new(),
            warn: m(Modifier::BOLD),
            err: m(Modifier::BOLD | Modifier::UNDERLINED),
            key: badge,
            hint: Style::new(),
            current: m(Modifier::BOLD),
            bar_recv: Style::new(),
            bar_send: Style::new(),
            spark: Style::new(),
            ev_action: m(Modifier::BOLD),
            ev_reply: Style::new(),
            ev_host: m(Modifier::ITALIC),
            ev_stall: m(Modifier::BOLD | Modifier::UNDERLINED),
            cmdline: Style::new(),
            popup: Style::new(),
            ana: AnaPalette {
                optimized: badge,
                non_optimized: m(Modifier::BOLD | Modifier::UNDERLINED),
                inaccessible: m(Modifier::CROSSED_OUT | Modifier::BOLD),
                persistent_loss: m(Modifier::CROSSED_OUT | Modifier::DIM),
                change: m(Modifier::ITALIC),
                unknown: m(Modifier::DIM),
            },
            series: vec![Style::new(), m(Modifier::BOLD), m(Modifier::DIM)],
        }
    }

    pub fn builtin(name: &str) -> Option<Theme> {
        match name {
            "dark" | "default" => Some(Theme::dark()),
            "light" => Some(Theme::light()),
            "mono" | "no-color" => Some(Theme::mono()),
            _ => None,
        }
    }

    /// The next built-in theme after this one (the `T` key).
    pub fn next_builtin(&self) -> Theme {
        let i = BUILTIN.iter().position(|n| *n == self.name).map_or(0, |i| i + 1);
        Theme::builtin(BUILTIN[i % BUILTIN.len()]).unwrap_or_else(Theme::dark)
    }

    /// What `--theme` and `NO_COLOR` ask for: a built-in name or a JSON
    /// file; with neither, mono under `NO_COLOR` (any non-empty value, as
    /// no-color.org says), else dark.
    pub fn select(arg: Option<&str>, no_color: bool) -> Result<Theme, ThemeError> {
        match arg {
            Some(a) => match Theme::builtin(a) {
                Some(t) => Ok(t),
                None if std::path::Path::new(a).exists() || a.ends_with(".json") => {
                    let text = std::fs::read_to_string(a).map_err(|e| ThemeError {
                        file: a.to_string(),
                        key: String::new(),
                        msg: e.to_string(),
                    })?;
                    Theme::from_json(a, &text)
                }
                None => Err(ThemeError {
                    file: a.to_string(),
                    key: String::new(),
                    msg: format!(
                        "no such theme file, and not a built-in theme ({})",
                        BUILTIN.join(", ")
                    ),
                }),
            },
            None if no_color => Ok(Theme::mono()),
            None => Ok(Theme::dark()),
        }
    }

    /// Parses a theme file's text; `file` names it in errors.
    pub fn from_json(file: &str, text: &str) -> Result<Theme, ThemeError> {
        let err = |key: &str, msg: String| ThemeError {
            file: file.to_string(),
            key: key.to_string(),
            msg,
        };
        let v: Value = serde_json::from_str(text).map_err(|e| err("", format!("not JSON: {e}")))?;
        let o = v.as_object().ok_or_else(|| err("", "expected a JSON object".into()))?;
        for k in o.keys() {
            if !["name", "base", "styles", "series"].contains(&k.as_str()) {
                return Err(err(k, "unknown key (expected name, base, styles, series)".into()));
            }
        }
        let mut t = match o.get("base") {
            None => Theme::dark(),
            Some(Value::String(b)) => {
                Theme::builtin(b).ok_or_else(|| err("base", format!("unknown built-in theme {b:?}")))?
            }
            Some(_) => return Err(err("base", "expected a string".into())),
        };
        t.name = match o.get("name") {
            None => file.to_string(),
            Some(Value::String(n)) => n.clone(),
            Some(_) => return Err(err("name", "expected a string".into())),
        };
        if let Some(st) = o.get("styles") {
            let st = st
                .as_object()
                .ok_or_else(|| err("styles", "expected an object".into()))?;
            for (k, v) in st {
                let key = format!("styles.{k}");
                let style = parse_style(v).map_err(|m| err(&key, m))?;
                let slot = t.slot_mut(k).ok_or_else(|| {
                    err(&key, format!("unknown style slot (known: {})", SLOTS.join(", ")))
                })?;
                *slot = style;
            }
        }
        if let Some(se) = o.get("series") {
            let a = se
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| err("series", "expected a non-empty array".into()))?;
            t.series = a
                .iter()
                .enumerate()
                .map(|(i, v)| parse_style(v).map_err(|m| err(&format!("series[{i}]"), m)))
                .collect::<Result<_, _>>()?;
        }
        Ok(t)
    }

    fn slot_mut(&mut self, k: &str) -> Option<&mut Style> {
        Some(match k {
            "base" => &mut self.base,
            "border" => &mut self.border,
            "border_focused" => &mut self.border_focused,
            "title" => &mut self.title,
            "title_focused" => &mut self.title_focused,
            "header" => &mut self.header,
            "selected" => &mut self.selected,
            "selected_unfocused" => &mut self.selected_unfocused,
            "muted" => &mut self.muted,
            "stale" => &mut self.stale,
            "accent" => &mut self.accent,
            "ok" => &mut self.ok,
            "warn" => &mut self.warn,
            "err" => &mut self.err,
            "key" => &mut self.key,
            "hint" => &mut self.hint,
            "current" => &mut self.current,
            "bar_recv" => &mut self.bar_recv,
            "bar_send" => &mut self.bar_send,
            "spark" => &mut self.spark,
            "ev_action" => &mut self.ev_action,
            "ev_reply" => &mut self.ev_reply,
            "ev_host" => &mut self.ev_host,
            "ev_stall" => &mut self.ev_stall,
            "cmdline" => &mut self.cmdline,
            "popup" => &mut self.popup,
            "ana_optimized" => &mut self.ana.optimized,
            "ana_non_optimized" => &mut self.ana.non_optimized,
            "ana_inaccessible" => &mut self.ana.inaccessible,
            "ana_persistent_loss" => &mut self.ana.persistent_loss,
            "ana_change" => &mut self.ana.change,
            "ana_unknown" => &mut self.ana.unknown,
            _ => return None,
        })
    }

    pub fn series(&self, i: usize) -> Style {
        self.series[i % self.series.len().max(1)]
    }
}

pub const SLOTS: [&str; 32] = [
    "base",
    "border",
    "border_focused",
    "title",
    "title_focused",
    "header",
    "selected",
    "selected_unfocused",
    "muted",
    "stale",
    "accent",
    "ok",
    "warn",
    "err",
    "key",
    "hint",
    "current",
    "bar_recv",
    "bar_send",
    "spark",
    "ev_action",
    "ev_reply",
    "ev_host",
    "ev_stall",
    "cmdline",
    "popup",
    "ana_optimized",
    "ana_non_optimized",
    "ana_inaccessible",
    "ana_persistent_loss",
    "ana_change",
    "ana_unknown",
];

/// A style: a colour string (foreground) or an object
/// `{fg, bg, bold, dim, italic, underlined, reversed, crossed_out}`.
fn parse_style(v: &Value) -> Result<Style, String> {
    let color = |k: &str, v: &Value| -> Result<Color, String> {
        let s = v.as_str().ok_or_else(|| format!("{k}: expected a colour string"))?;
        Color::from_str(s).map_err(|_| format!("{k}: unknown colour {s:?}"))
    };
    match v {
        Value::String(_) => Ok(Style::new().fg(color("fg", v)?)),
        Value::Object(o) => {
            let mut s = Style::new();
            for (k, x) in o {
                let flag = |m: Modifier, s: Style| -> Result<Style, String> {
                    match x.as_bool() {
                        Some(true) => Ok(s.add_modifier(m)),
                        Some(false) => Ok(s.remove_modifier(m)),
                        None => Err(format!("{k}: expected true or false")),
                    }
                };
                s = match k.as_str() {
                    "fg" => s.fg(color(k, x)?),
                    "bg" => s.bg(color(k, x)?),
                    "bold" => flag(Modifier::BOLD, s)?,
                    "dim" => flag(Modifier::DIM, s)?,
                    "italic" => flag(Modifier::ITALIC, s)?,
                    "underlined" => flag(Modifier::UNDERLINED, s)?,
                    "reversed" => flag(Modifier::REVERSED, s)?,
                    "crossed_out" => flag(Modifier::CROSSED_OUT, s)?,
                    _ => {
                        return Err(format!(
                            "unknown style key {k:?} (fg, bg, bold, dim, italic, underlined, reversed, crossed_out)"
                        ))
                    }
                };
            }
            Ok(s)
        }
        _ => Err("expected a colour string or a style object".into()),
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("theme {file}{}: {msg}", if key.is_empty() { String::new() } else { format!(": {key}") })]
pub struct ThemeError {
    pub file: String,
    pub key: String,
    pub msg: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_and_selection() {
        for n in BUILTIN {
            assert_eq!(Theme::builtin(n).unwrap().name, n);
        }
        assert_eq!(Theme::select(None, true).unwrap().name, "mono");
        assert_eq!(Theme::select(None, false).unwrap().name, "dark");
        assert_eq!(Theme::select(Some("light"), true).unwrap().name, "light");
        assert_eq!(Theme::dark().next_builtin().name, "light");
        assert_eq!(Theme::mono().next_builtin().name, "dark");
        let e = Theme::select(Some("nope"), false).unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("dark, light, mono"), "{e}");
    }

    #[test]
    fn mono_has_no_colours() {
        let t = Theme::mono();
        let all = SLOTS.iter().map(|k| *t.clone().slot_mut(k).unwrap());
        for s in all.chain(t.series.iter().copied()) {
            assert_eq!((s.fg, s.bg), (None, None), "{s:?}");
        }
    }

    #[test]
    fn file_overrides_and_errors_name_file_and_key() {
        let t = Theme::from_json(
            "t.json",
            r##"{"name":"x","base":"light","styles":{"border":{"fg":"#ff0000","bold":true},"ok":"green"},"series":["red"]}"##,
        )
        .unwrap();
        assert_eq!(t.border, Style::new().fg(Color::Rgb(255, 0, 0)).add_modifier(Modifier::BOLD));
        assert_eq!(t.title, Theme::light().title);
        assert_eq!(t.series, vec![Style::new().fg(Color::Red)]);
        let e = Theme::from_json("t.json", r#"{"styles":{"border":{"fg":"blurple"}}}"#).unwrap_err();
        assert_eq!((e.file.as_str(), e.key.as_str()), ("t.json", "styles.border"));
        assert!(e.to_string().contains("blurple"), "{e}");
        let e = Theme::from_json("u.json", r#"{"styles":{"nope":"red"}}"#).unwrap_err();
        assert_eq!(e.key, "styles.nope");
        let e = Theme::from_json("v.json", "{oops").unwrap_err();
        assert!(e.to_string().starts_with("theme v.json: not JSON"), "{e}");
        let e = Theme::from_json("w.json", r#"{"colors":{}}"#).unwrap_err();
        assert_eq!(e.key, "colors");
    }
}

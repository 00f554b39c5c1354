//! Theme selection. The styles themselves are `mpath_widgets::Theme`
//! (built-ins `themes/{dark,light,mono}.json`, user files parsed by
//! `Theme::from_json`, errors naming the file and the key); this adds the
//! few styles only the console's own panes need, derived from those slots,
//! and the chart's per-path colours.
//!
//! `--theme NAME|FILE` picks a built-in or a file; without it, `mono` when
//! `NO_COLOR` is set (any non-empty value, per no-color.org), else `dark`.

use mpath_widgets::{AnaPalette, Theme as WTheme};
use ratatui::style::{Color, Modifier, Style};

pub use mpath_widgets::ThemeError as WidgetThemeError;

#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    /// `dark`, `light`, `mono`, or the file it came from.
    pub name: String,
    /// The widget crate's theme (what its tables, hints, help and command
    /// line draw with).
    pub w: WTheme,
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
    pub spark: Style,
    pub ev_action: Style,
    pub ev_reply: Style,
    pub ev_host: Style,
    pub ev_stall: Style,
    pub popup: Style,
    /// A popup's scroll position, on its border (visible on the border
    /// and on the popup's background in every theme).
    pub scroll: Style,
    pub ana: AnaPalette,
    /// One style per path in charts.
    pub series: Vec<Style>,
}

pub const BUILTIN: [&str; 3] = WTheme::BUILTIN_NAMES;

fn has_colour(t: &WTheme) -> bool {
    [
        t.border,
        t.accent,
        t.ok,
        t.warn,
        t.error,
        t.header,
        t.sparkline,
    ]
    .iter()
    .any(|s| s.fg.is_some() || s.bg.is_some())
}

impl Theme {
    /// Derives the console's styles from a widget theme.
    pub fn from_widgets(name: &str, w: WTheme) -> Theme {
        let colour = has_colour(&w);
        let fg = |c: Color| Style::new().fg(c);
        let series = if !colour {
            vec![
                Style::new(),
                Style::new().add_modifier(Modifier::BOLD),
                Style::new().add_modifier(Modifier::DIM),
            ]
        } else if name == "light" {
            vec![
                fg(Color::Blue),
                fg(Color::Magenta),
                fg(Color::Indexed(130)),
                fg(Color::Green),
                fg(Color::Red),
            ]
        } else {
            vec![
                fg(Color::Cyan),
                fg(Color::Magenta),
                fg(Color::Yellow),
                fg(Color::Green),
                fg(Color::LightBlue),
            ]
        };
        let title_focused = w.title.patch(Style {
            fg: w.border_focused.fg,
            ..Style::new()
        });
        Theme {
            name: name.to_string(),
            base: w.base,
            border: w.border,
            border_focused: w.border_focused,
            title: w.title,
            title_focused,
            header: w.header,
            selected: w.selected_row,
            selected_unfocused: w.selected_row_unfocused,
            muted: w.dim,
            stale: w.dim.add_modifier(Modifier::ITALIC),
            accent: w.accent,
            ok: w.ok,
            warn: w.warn,
            err: w.error,
            key: w.key_hint,
            hint: w.key_label,
            current: w.accent.add_modifier(Modifier::BOLD),
            spark: w.sparkline,
            ev_action: w.accent,
            ev_reply: w.ok,
            ev_host: if colour {
                fg(if name == "light" {
                    Color::Blue
                } else {
                    Color::LightBlue
                })
            } else {
                Style::new().add_modifier(Modifier::ITALIC)
            },
            ev_stall: w.warn.add_modifier(Modifier::BOLD),
            popup: w.popup,
            scroll: w.scroll_indicator,
            ana: w.ana,
            series,
            w,
        }
    }

    pub fn dark() -> Theme {
        Theme::from_widgets("dark", WTheme::dark())
    }
    pub fn light() -> Theme {
        Theme::from_widgets("light", WTheme::light())
    }
    pub fn mono() -> Theme {
        Theme::from_widgets("mono", WTheme::mono())
    }

    pub fn builtin(name: &str) -> Option<Theme> {
        WTheme::builtin(name).map(|w| Theme::from_widgets(name, w))
    }

    /// The next built-in theme after this one (the `T` key).
    pub fn next_builtin(&self) -> Theme {
        let i = BUILTIN
            .iter()
            .position(|n| *n == self.name)
            .map_or(0, |i| i + 1);
        Theme::builtin(BUILTIN[i % BUILTIN.len()]).unwrap_or_else(Theme::dark)
    }

    /// What `--theme` and `NO_COLOR` ask for.
    pub fn select(arg: Option<&str>, no_color: bool) -> Result<Theme, ThemeError> {
        match arg {
            Some(a) => {
                if let Some(t) = Theme::builtin(a) {
                    return Ok(t);
                }
                let text = std::fs::read_to_string(a).map_err(|e| {
                    ThemeError(format!(
                        "theme {a}: {e} (not a file, and not a built-in theme: {})",
                        BUILTIN.join(", ")
                    ))
                })?;
                Theme::from_json(a, &text)
            }
            None if no_color => Ok(Theme::mono()),
            None => Ok(Theme::dark()),
        }
    }

    /// Parses a theme file (the widget crate's format); the error names
    /// the file and the key.
    pub fn from_json(file: &str, text: &str) -> Result<Theme, ThemeError> {
        let w = WTheme::from_json(file, text).map_err(|e| ThemeError(format!("theme {e}")))?;
        Ok(Theme::from_widgets(file, w))
    }

    pub fn series(&self, i: usize) -> Style {
        self.series[i % self.series.len().max(1)]
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ThemeError(pub String);

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
        let e = Theme::select(Some("/nonexistent/nope.json"), false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("nope.json") && e.contains("dark, light, mono"),
            "{e}"
        );
    }

    #[test]
    fn mono_has_no_colours() {
        let t = Theme::mono();
        for s in [
            t.base,
            t.border,
            t.title_focused,
            t.accent,
            t.err,
            t.ev_host,
            t.ev_stall,
            t.current,
            t.spark,
        ]
        .into_iter()
        .chain(t.series.iter().copied())
        {
            assert_eq!((s.fg, s.bg), (None, None), "{s:?}");
        }
    }

    #[test]
    fn file_errors_name_file_and_key() {
        let e = Theme::from_json("t.json", r#"{"border":{"fg":"blurple"}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.json") && e.contains("border") && e.contains("blurple"),
            "{e}"
        );
        let e = Theme::from_json("u.json", "{oops").unwrap_err().to_string();
        assert!(e.contains("u.json"), "{e}");
        let t = Theme::from_json("v.json", r##"{"border":{"fg":"#ff0000"}}"##).unwrap();
        assert_eq!(t.border.fg, Some(Color::Rgb(255, 0, 0)));
        assert_eq!(t.name, "v.json");
    }
}

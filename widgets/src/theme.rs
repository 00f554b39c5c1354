//! Named styles for every widget in this crate, and theme files.
//!
//! A theme is a JSON object with one key per [`Theme`] field (`ana` is an
//! object with one key per ANA state). Each value is a style: an object
//! with any of
//!
//! * `"fg"`, `"bg"`: a colour: `"#rrggbb"`, one of the 16 ANSI names in any
//!   case with `-`, `_` or spaces (`"dark-gray"`, `"Light Red"`,
//!   `"bright_blue"`), `"reset"` (the terminal's own colour), or a 256-colour
//!   index `"0"`–`"255"`;
//! * `"modifiers"`: a list of `"bold"`, `"dim"`, `"italic"`, `"underlined"`,
//!   `"slow_blink"`, `"rapid_blink"`, `"reversed"`, `"hidden"`,
//!   `"crossed_out"`;
//!
//! or just a colour string, short for `{"fg": ...}`. `{}` is "no styling".
//!
//! Unknown keys, colours and modifiers are errors naming the file and the
//! key path. A key left out of a user's file takes its style from the dark
//! theme: a style is replaced whole, never merged, so `"header": {"fg":
//! "red"}` gives a red header that is not bold even though dark's is. The
//! built-in files (`themes/{dark,light,mono}.json`, compiled in) must give
//! every key; they are the only definition of the built-in themes.

use std::fmt;
use std::sync::OnceLock;

use ratatui_core::style::{Color, Modifier, Style};
use serde_json::{Map, Value};

use crate::ana_badge::AnaPalette;

/// The styles the widgets draw with. Each widget takes a `&Theme` and
/// picks the slots it needs; nothing else decides colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    /// Painted under every pane first; the others patch over it.
    pub base: Style,
    /// Pane border when the pane does not have the keyboard.
    pub border: Style,
    /// Pane border when it does.
    pub border_focused: Style,
    /// Pane titles and section headings.
    pub title: Style,
    /// Table header rows.
    pub header: Style,
    /// Selected row of the focused pane, patched over the row's cells.
    pub selected_row: Style,
    /// Selected row of a pane without focus.
    pub selected_row_unfocused: Style,
    /// Missing values ("n/a"), stale data, secondary labels.
    pub dim: Style,
    pub ok: Style,
    pub warn: Style,
    pub error: Style,
    /// The current path's star, the command line's prompt.
    pub accent: Style,
    pub sparkline: Style,
    /// The filled part of a queue bar.
    pub bar_fill: Style,
    /// The track of a queue bar; its background shows the bar's extent.
    pub bar_empty: Style,
    /// Keys in the footer hints and the help overlay.
    pub key_hint: Style,
    /// What each key does, beside it.
    pub key_label: Style,
    /// The command line's completion menu, and popups.
    pub popup: Style,
    /// A popup's scroll position (`3/17`), drawn on its border: it must
    /// stand out from both the border and the popup's background.
    pub scroll_indicator: Style,
    /// ANA state badges.
    pub ana: AnaPalette,
}

const DARK_JSON: &str = include_str!("../../themes/dark.json");
const LIGHT_JSON: &str = include_str!("../../themes/light.json");
const MONO_JSON: &str = include_str!("../../themes/mono.json");

/// The built-in themes: name, file (as shown in errors), JSON text.
const BUILTIN: [(&str, &str, &str); 3] = [
    ("dark", "themes/dark.json", DARK_JSON),
    ("light", "themes/light.json", LIGHT_JSON),
    ("mono", "themes/mono.json", MONO_JSON),
];

impl Theme {
    /// Every slot unstyled: what a strict parse starts from.
    const PLAIN: Theme = Theme {
        base: Style::new(),
        border: Style::new(),
        border_focused: Style::new(),
        title: Style::new(),
        header: Style::new(),
        selected_row: Style::new(),
        selected_row_unfocused: Style::new(),
        dim: Style::new(),
        ok: Style::new(),
        warn: Style::new(),
        error: Style::new(),
        accent: Style::new(),
        sparkline: Style::new(),
        bar_fill: Style::new(),
        bar_empty: Style::new(),
        key_hint: Style::new(),
        key_label: Style::new(),
        popup: Style::new(),
        scroll_indicator: Style::new(),
        ana: AnaPalette {
            optimized: Style::new(),
            non_optimized: Style::new(),
            inaccessible: Style::new(),
            persistent_loss: Style::new(),
            change: Style::new(),
            unknown: Style::new(),
        },
    };

    /// Names accepted by [`Theme::builtin`].
    pub const BUILTIN_NAMES: [&'static str; 3] = ["dark", "light", "mono"];

    /// For dark terminals; the default. Uses only the 16 ANSI colours.
    pub fn dark() -> Theme {
        static T: OnceLock<Theme> = OnceLock::new();
        *T.get_or_init(|| builtin_at(0))
    }

    /// For light terminals. Green and amber come from the 256-colour
    /// palette (`28`, `130`): the 16-colour green and yellow are unreadable
    /// on white.
    pub fn light() -> Theme {
        static T: OnceLock<Theme> = OnceLock::new();
        *T.get_or_init(|| builtin_at(1))
    }

    /// No colour at all, only bold, underline and reverse: for `NO_COLOR`
    /// and monochrome terminals.
    pub fn mono() -> Theme {
        static T: OnceLock<Theme> = OnceLock::new();
        *T.get_or_init(|| builtin_at(2))
    }

    /// A built-in theme by name (`dark`, `light`, `mono`).
    pub fn builtin(name: &str) -> Option<Theme> {
        match name {
            "dark" => Some(Theme::dark()),
            "light" => Some(Theme::light()),
            "mono" => Some(Theme::mono()),
            _ => None,
        }
    }

    /// Parses a theme file. `file` is only used in error messages (pass the
    /// path the text came from). Keys the file leaves out come from
    /// [`Theme::dark`].
    pub fn from_json(file: &str, text: &str) -> Result<Theme, ThemeError> {
        parse(text, Some(&Theme::dark())).map_err(|e| e.in_file(file))
    }

    /// Parses an already-decoded JSON value, as [`Theme::from_json`] does.
    pub fn from_value(value: &Value) -> Result<Theme, ThemeError> {
        from_value(value, Some(&Theme::dark()))
    }

    fn slots(&mut self) -> [(&'static str, &mut Style); 19] {
        let Theme {
            base,
            border,
            border_focused,
            title,
            header,
            selected_row,
            selected_row_unfocused,
            dim,
            ok,
            warn,
            error,
            accent,
            sparkline,
            bar_fill,
            bar_empty,
            key_hint,
            key_label,
            popup,
            scroll_indicator,
            ana: _,
        } = self;
        [
            ("base", base),
            ("border", border),
            ("border_focused", border_focused),
            ("title", title),
            ("header", header),
            ("selected_row", selected_row),
            ("selected_row_unfocused", selected_row_unfocused),
            ("dim", dim),
            ("ok", ok),
            ("warn", warn),
            ("error", error),
            ("accent", accent),
            ("sparkline", sparkline),
            ("bar_fill", bar_fill),
            ("bar_empty", bar_empty),
            ("key_hint", key_hint),
            ("key_label", key_label),
            ("popup", popup),
            ("scroll_indicator", scroll_indicator),
        ]
    }
}

fn ana_slots(p: &mut AnaPalette) -> [(&'static str, &mut Style); 6] {
    let AnaPalette {
        optimized,
        non_optimized,
        inaccessible,
        persistent_loss,
        change,
        unknown,
    } = p;
    [
        ("optimized", optimized),
        ("non_optimized", non_optimized),
        ("inaccessible", inaccessible),
        ("persistent_loss", persistent_loss),
        ("change", change),
        ("unknown", unknown),
    ]
}

impl Default for Theme {
    fn default() -> Theme {
        Theme::dark()
    }
}

/// The built-in files are part of the source, and the tests parse each of
/// them strictly, so a failure here is a build defect, not bad input.
fn builtin_at(i: usize) -> Theme {
    let (_, file, text) = BUILTIN[i];
    match parse(text, None) {
        Ok(t) => t,
        Err(e) => panic!("built-in theme is invalid: {}", e.in_file(file)),
    }
}

/// Parses `text`; keys it leaves out come from `base`, or are errors when
/// there is none.
fn parse(text: &str, base: Option<&Theme>) -> Result<Theme, ThemeError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ThemeError {
        file: String::new(),
        key: None,
        problem: format!("invalid JSON: {e}"),
    })?;
    from_value(&value, base)
}

fn from_value(value: &Value, base: Option<&Theme>) -> Result<Theme, ThemeError> {
    let top = value
        .as_object()
        .ok_or_else(|| ThemeError::at(None, "expected a JSON object of styles".into()))?;
    let mut theme = base.copied().unwrap_or(Theme::PLAIN);
    let strict = base.is_none();
    let mut slots = theme.slots();
    fill(top, &mut slots, "", strict, &["ana"])?;
    match top.get("ana") {
        Some(Value::Object(ana)) => fill(ana, &mut ana_slots(&mut theme.ana), "ana.", strict, &[])?,
        Some(_) => {
            return Err(ThemeError::at(
                Some("ana".into()),
                "expected an object of styles".into(),
            ))
        }
        None if strict => return Err(ThemeError::at(Some("ana".into()), "missing".into())),
        None => {}
    }
    Ok(theme)
}

/// Sets each slot that `map` names; refuses keys that are neither a slot
/// nor in `nested`.
fn fill(
    map: &Map<String, Value>,
    slots: &mut [(&'static str, &mut Style)],
    prefix: &str,
    strict: bool,
    nested: &[&str],
) -> Result<(), ThemeError> {
    for (key, value) in map {
        if nested.contains(&key.as_str()) {
            continue;
        }
        let path = format!("{prefix}{key}");
        let Some((_, slot)) = slots.iter_mut().find(|(name, _)| *name == key.as_str()) else {
            let known: Vec<&str> = slots
                .iter()
                .map(|(n, _)| *n)
                .chain(nested.iter().copied())
                .collect();
            return Err(ThemeError::at(
                Some(path),
                format!("unknown key; expected one of {}", known.join(", ")),
            ));
        };
        **slot = style(value, &path)?;
    }
    if strict {
        if let Some((name, _)) = slots.iter().find(|(name, _)| !map.contains_key(*name)) {
            return Err(ThemeError::at(
                Some(format!("{prefix}{name}")),
                "missing".into(),
            ));
        }
    }
    Ok(())
}

const MODIFIERS: [(&str, Modifier); 9] = [
    ("bold", Modifier::BOLD),
    ("dim", Modifier::DIM),
    ("italic", Modifier::ITALIC),
    ("underlined", Modifier::UNDERLINED),
    ("slow_blink", Modifier::SLOW_BLINK),
    ("rapid_blink", Modifier::RAPID_BLINK),
    ("reversed", Modifier::REVERSED),
    ("hidden", Modifier::HIDDEN),
    ("crossed_out", Modifier::CROSSED_OUT),
];

fn style(value: &Value, path: &str) -> Result<Style, ThemeError> {
    let map = match value {
        Value::String(s) => return Ok(Style::new().fg(color(s, path)?)),
        Value::Object(map) => map,
        _ => {
            return Err(ThemeError::at(
                Some(path.into()),
                r#"expected a colour or an object with "fg", "bg", "modifiers""#.into(),
            ))
        }
    };
    let mut style = Style::new();
    for (key, v) in map {
        let sub = format!("{path}.{key}");
        match (key.as_str(), v) {
            ("fg", Value::String(s)) => style = style.fg(color(s, &sub)?),
            ("bg", Value::String(s)) => style = style.bg(color(s, &sub)?),
            ("fg" | "bg", _) => {
                return Err(ThemeError::at(Some(sub), "expected a colour string".into()))
            }
            ("modifiers", Value::Array(names)) => {
                for (i, name) in names.iter().enumerate() {
                    let at = || format!("{sub}[{i}]");
                    let name = name.as_str().ok_or_else(|| {
                        ThemeError::at(Some(at()), "expected a modifier name".into())
                    })?;
                    let (_, m) = MODIFIERS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
                        let known: Vec<&str> = MODIFIERS.iter().map(|(n, _)| *n).collect();
                        ThemeError::at(
                            Some(at()),
                            format!(
                                "unknown modifier {name:?}; expected one of {}",
                                known.join(", ")
                            ),
                        )
                    })?;
                    style = style.add_modifier(*m);
                }
            }
            ("modifiers", _) => {
                return Err(ThemeError::at(
                    Some(sub),
                    "expected a list of modifier names".into(),
                ))
            }
            _ => {
                return Err(ThemeError::at(
                    Some(sub),
                    "unknown key; expected one of fg, bg, modifiers".into(),
                ))
            }
        }
    }
    Ok(style)
}

fn color(s: &str, path: &str) -> Result<Color, ThemeError> {
    s.parse::<Color>()
        .map_err(|_| ThemeError::at(Some(path.into()), format!("unknown color {s:?}")))
}

/// Why a theme file was refused. Its `Display` is the whole message, e.g.
/// `themes/x.json: key "ana.optimized.fg": unknown color "grean"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThemeError {
    /// The file as given to [`Theme::from_json`]; empty when parsed some
    /// other way.
    pub file: String,
    /// Dotted path of the offending key (`ana.optimized.fg`,
    /// `header.modifiers[1]`); `None` when the problem is the whole
    /// document (bad JSON, not an object).
    pub key: Option<String>,
    /// What is wrong with it.
    pub problem: String,
}

impl ThemeError {
    fn at(key: Option<String>, problem: String) -> ThemeError {
        ThemeError {
            file: String::new(),
            key,
            problem,
        }
    }

    fn in_file(self, file: &str) -> ThemeError {
        ThemeError {
            file: file.to_string(),
            ..self
        }
    }
}

impl fmt::Display for ThemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.file.is_empty() {
            write!(f, "{}: ", self.file)?;
        }
        if let Some(key) = &self.key {
            write!(f, "key {key:?}: ")?;
        }
        f.write_str(&self.problem)
    }
}

impl std::error::Error for ThemeError {}

/// Lets a theme sit inside a larger serde-read config. Goes through a JSON
/// value, so the same rules and key-path errors apply whatever the format.
impl<'de> serde::Deserialize<'de> for Theme {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Theme, D::Error> {
        let value = Value::deserialize(d)?;
        Theme::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// Here rather than beside [`AnaPalette`], so the badge does not depend
/// on the theme that depends on it.
impl Default for AnaPalette {
    /// The dark theme's badges (`themes/dark.json`, the one definition):
    /// green, yellow, red, magenta, blue and gray, as the badge's
    /// background with a black or white foreground chosen for contrast,
    /// all bold. Setting both colours is what keeps the badge readable on
    /// dark and light terminals alike: a coloured foreground alone (yellow
    /// text, say) vanishes on one of them. Only the 16 named colours are
    /// used, so terminals without 256-colour support render it too.
    fn default() -> AnaPalette {
        Theme::dark().ana
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_styles(t: &Theme) -> Vec<(String, Style)> {
        let mut t = *t;
        let mut out: Vec<(String, Style)> = t
            .slots()
            .into_iter()
            .map(|(n, s)| (n.to_string(), *s))
            .collect();
        out.extend(
            ana_slots(&mut t.ana)
                .into_iter()
                .map(|(n, s)| (format!("ana.{n}"), *s)),
        );
        out
    }

    fn err(text: &str) -> String {
        Theme::from_json("themes/x.json", text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn builtin_files_parse_strictly_and_are_the_constructors() {
        for (name, file, text) in BUILTIN {
            let strict = parse(text, None).map_err(|e| e.in_file(file)).unwrap();
            assert_eq!(Theme::builtin(name), Some(strict), "{name}");
            // Read as a user file, a built-in gives the same theme.
            assert_eq!(Theme::from_json(file, text), Ok(strict), "{name}");
        }
        assert_eq!(Theme::builtin("solarized"), None);
        assert_eq!(
            Theme::BUILTIN_NAMES.map(|n| Theme::builtin(n).is_some()),
            [true; 3]
        );
        assert_eq!(Theme::default(), Theme::dark());
    }

    #[test]
    fn dark_ana_palette_is_the_badge_default() {
        assert_eq!(Theme::dark().ana, AnaPalette::default());
        assert_eq!(Theme::dark().ana.optimized.bg, Some(Color::Green));
    }

    #[test]
    fn mono_has_no_colour_at_all() {
        let allowed = Modifier::BOLD | Modifier::REVERSED | Modifier::UNDERLINED;
        for (name, s) in all_styles(&Theme::mono()) {
            assert_eq!(
                (s.fg, s.bg, s.underline_color),
                (None, None, None),
                "{name}"
            );
            assert!(allowed.contains(s.add_modifier), "{name}");
        }
        // Selection and errors must still stand out without colour.
        let m = Theme::mono();
        assert!(m.selected_row.add_modifier.contains(Modifier::REVERSED));
        assert!(m.error.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn themes_differ_where_it_matters() {
        let (d, l) = (Theme::dark(), Theme::light());
        assert_ne!(d, l);
        assert_ne!(d.header, l.header);
        // Yellow text vanishes on white; the light theme must not use it.
        for (name, s) in all_styles(&l) {
            if !name.starts_with("ana.") {
                assert_ne!(s.fg, Some(Color::Yellow), "{name}");
                assert_ne!(s.fg, Some(Color::White), "{name}");
            }
        }
    }

    #[test]
    fn missing_keys_fall_back_to_dark_and_styles_replace_whole() {
        let t = Theme::from_json(
            "x",
            r#"{"header": {"fg": "red"}, "ana": {"change": "blue"}}"#,
        )
        .unwrap();
        let d = Theme::dark();
        assert_eq!(t.header, Style::new().fg(Color::Red));
        assert_eq!(t.ana.change, Style::new().fg(Color::Blue));
        assert_eq!(t.ana.optimized, d.ana.optimized);
        assert_eq!(
            Theme {
                header: d.header,
                ana: d.ana,
                ..t
            },
            d
        );
        assert_eq!(Theme::from_json("x", "{}"), Ok(d));
    }

    #[test]
    fn parses_every_colour_form_and_modifier() {
        let t = Theme::from_json(
            "x",
            r##"{
                "base": {"fg": "#0a0B0c", "bg": "reset"},
                "dim": {"fg": "Light Red", "bg": "bright_blue"},
                "ok": {"fg": "dark-grey", "bg": "200"},
                "warn": {"modifiers": ["bold", "dim", "italic", "underlined", "slow_blink",
                                       "rapid_blink", "reversed", "hidden", "crossed_out"]},
                "error": {}
            }"##,
        )
        .unwrap();
        assert_eq!(
            t.base,
            Style::new().fg(Color::Rgb(10, 11, 12)).bg(Color::Reset)
        );
        assert_eq!(t.dim, Style::new().fg(Color::LightRed).bg(Color::LightBlue));
        assert_eq!(
            t.ok,
            Style::new().fg(Color::DarkGray).bg(Color::Indexed(200))
        );
        assert_eq!(t.warn, Style::new().add_modifier(Modifier::all()));
        assert_eq!(t.error, Style::new());
    }

    #[test]
    fn errors_name_the_file_and_key_path() {
        assert_eq!(
            err(r#"{"ana": {"optimized": {"fg": "grean"}}}"#),
            r#"themes/x.json: key "ana.optimized.fg": unknown color "grean""#
        );
        assert_eq!(
            err(r##"{"border": "#12345"}"##),
            r##"themes/x.json: key "border": unknown color "#12345""##
        );
        assert_eq!(
            err(r#"{"header": {"modifiers": ["bold", "blink"]}}"#),
            "themes/x.json: key \"header.modifiers[1]\": unknown modifier \"blink\"; expected one of \
             bold, dim, italic, underlined, slow_blink, rapid_blink, reversed, hidden, crossed_out"
        );
        assert!(err(r#"{"headr": {}}"#).starts_with(
            r#"themes/x.json: key "headr": unknown key; expected one of base, border,"#
        ));
        assert!(err(r#"{"headr": {}}"#).ends_with("popup, scroll_indicator, ana"));
        assert!(err(r#"{"ana": {"optimised": {}}}"#).starts_with(
            r#"themes/x.json: key "ana.optimised": unknown key; expected one of optimized,"#
        ));
        assert_eq!(
            err(r#"{"title": {"bold": true}}"#),
            r#"themes/x.json: key "title.bold": unknown key; expected one of fg, bg, modifiers"#
        );
        assert_eq!(
            err(r#"{"title": {"fg": 3}}"#),
            r#"themes/x.json: key "title.fg": expected a colour string"#
        );
        assert_eq!(
            err(r#"{"title": {"modifiers": "bold"}}"#),
            r#"themes/x.json: key "title.modifiers": expected a list of modifier names"#
        );
        assert_eq!(
            err(r#"{"title": {"modifiers": [1]}}"#),
            r#"themes/x.json: key "title.modifiers[0]": expected a modifier name"#
        );
        assert_eq!(
            err(r#"{"title": null}"#),
            r#"themes/x.json: key "title": expected a colour or an object with "fg", "bg", "modifiers""#
        );
        assert_eq!(
            err(r#"{"ana": "green"}"#),
            r#"themes/x.json: key "ana": expected an object of styles"#
        );
        assert_eq!(err("[]"), "themes/x.json: expected a JSON object of styles");
        assert!(err("{\"base\": {}").starts_with("themes/x.json: invalid JSON: EOF while parsing"));
        assert!(err("").starts_with("themes/x.json: invalid JSON:"));
    }

    #[test]
    fn builtins_must_give_every_key() {
        let e = parse(r#"{"base": {}}"#, None).unwrap_err();
        assert_eq!(e.to_string(), r#"key "border": missing"#);
        let mut full: Value = serde_json::from_str(DARK_JSON).unwrap();
        full["ana"].as_object_mut().unwrap().remove("change");
        let e = from_value(&full, None).unwrap_err();
        assert_eq!(e.to_string(), r#"key "ana.change": missing"#);
        full.as_object_mut().unwrap().remove("ana");
        let e = from_value(&full, None).unwrap_err();
        assert_eq!(e.to_string(), r#"key "ana": missing"#);
    }

    #[test]
    fn deserializes_through_serde() {
        let t: Theme = serde_json::from_str(r#"{"dim": "blue"}"#).unwrap();
        assert_eq!(t.dim, Style::new().fg(Color::Blue));
        let e = serde_json::from_str::<Theme>(r#"{"dim": "bleu"}"#).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(r#"key "dim": unknown color "bleu""#),
            "{e}"
        );
    }

    #[test]
    fn odd_input_is_an_error_not_a_panic() {
        for text in [
            "null",
            "\"x\"",
            "{\"ana\": null}",
            "{\"base\": {\"fg\": \"#ééé\"}}",
            "{\"base\": {\"fg\": \"#\u{1F600}12\"}}",
            "{\"base\": {\"modifiers\": [null]}}",
            "{\"\u{0}\": 1}",
        ] {
            assert!(Theme::from_json("x", text).is_err(), "{text}");
        }
    }
}

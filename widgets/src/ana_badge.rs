//! A one-line badge for an NVMe ANA (Asymmetric Namespace Access) state.
//!
//! The state comes in as text, as SPDK's JSON-RPC reports it
//! (`optimized`, `non_optimized`, `inaccessible`, `persistent_loss`,
//! `change`). The kernel's and nvme-cli's spellings (`non-optimized`,
//! `persistent-loss`) and any letter case are recognised too. Anything
//! else is shown as given, in the `unknown` style, so a new or garbled
//! state is visible rather than hidden.

use ratatui_core::buffer::Buffer;
use ratatui_core::layout::Rect;
use ratatui_core::style::Style;
use ratatui_core::text::Span;
use ratatui_core::widgets::Widget;

/// The ANA states a badge knows how to label and colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnaState {
    Optimized,
    NonOptimized,
    Inaccessible,
    PersistentLoss,
    Change,
    Unknown,
}

impl AnaState {
    /// Recognises a state name: ASCII case and `-`/`_` are ignored,
    /// surrounding whitespace is trimmed.
    pub fn parse(s: &str) -> AnaState {
        const NAMES: [(&str, AnaState); 5] = [
            ("optimized", AnaState::Optimized),
            ("non_optimized", AnaState::NonOptimized),
            ("inaccessible", AnaState::Inaccessible),
            ("persistent_loss", AnaState::PersistentLoss),
            ("change", AnaState::Change),
        ];
        let s = s.trim();
        let same = |name: &str| {
            s.len() == name.len()
                && s.bytes().zip(name.bytes()).all(|(a, b)| {
                    let a = if a == b'-' {
                        b'_'
                    } else {
                        a.to_ascii_lowercase()
                    };
                    a == b
                })
        };
        NAMES
            .iter()
            .find(|(name, _)| same(name))
            .map_or(AnaState::Unknown, |&(_, state)| state)
    }

    /// The long label, SPDK's name for the state; `None` for `Unknown`.
    pub fn full_label(self) -> Option<&'static str> {
        match self {
            AnaState::Optimized => Some("optimized"),
            AnaState::NonOptimized => Some("non_optimized"),
            AnaState::Inaccessible => Some("inaccessible"),
            AnaState::PersistentLoss => Some("persistent_loss"),
            AnaState::Change => Some("change"),
            AnaState::Unknown => None,
        }
    }

    /// The compact label for narrow columns; `None` for `Unknown`.
    pub fn short_label(self) -> Option<&'static str> {
        match self {
            AnaState::Optimized => Some("OPT"),
            AnaState::NonOptimized => Some("NON"),
            AnaState::Inaccessible => Some("INA"),
            AnaState::PersistentLoss => Some("LOSS"),
            AnaState::Change => Some("CHG"),
            AnaState::Unknown => None,
        }
    }
}

/// Which label a badge shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LabelMode {
    /// `optimized`, `non_optimized`, ...
    #[default]
    Full,
    /// `OPT`, `NON`, `INA`, `LOSS`, `CHG`.
    Short,
    /// Full when the area is wide enough for it, short otherwise. A
    /// [`AnaBadge::span`] has no width to go by and uses the full label.
    Auto,
}

/// The style of each state's badge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnaPalette {
    pub optimized: Style,
    pub non_optimized: Style,
    pub inaccessible: Style,
    pub persistent_loss: Style,
    pub change: Style,
    pub unknown: Style,
}

impl AnaPalette {
    pub fn style(&self, state: AnaState) -> Style {
        match state {
            AnaState::Optimized => self.optimized,
            AnaState::NonOptimized => self.non_optimized,
            AnaState::Inaccessible => self.inaccessible,
            AnaState::PersistentLoss => self.persistent_loss,
            AnaState::Change => self.change,
            AnaState::Unknown => self.unknown,
        }
    }
}

/// A badge showing one ANA state. Renders on the first row of its area,
/// left-aligned, cut to the area's width; only the label's own cells are
/// written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnaBadge<'a> {
    /// The state as reported, e.g. `"non_optimized"`.
    pub state: &'a str,
    pub palette: AnaPalette,
    pub mode: LabelMode,
}

/// Shown for an empty state string, which would otherwise be an
/// invisible badge.
const EMPTY_LABEL: &str = "?";

impl<'a> AnaBadge<'a> {
    pub fn new(state: &'a str) -> AnaBadge<'a> {
        AnaBadge {
            state,
            palette: AnaPalette::default(),
            mode: LabelMode::Full,
        }
    }

    #[must_use]
    pub fn palette(self, palette: AnaPalette) -> AnaBadge<'a> {
        AnaBadge { palette, ..self }
    }

    #[must_use]
    pub fn mode(self, mode: LabelMode) -> AnaBadge<'a> {
        AnaBadge { mode, ..self }
    }

    /// Shorthand for `.mode(LabelMode::Short)`.
    #[must_use]
    pub fn short(self) -> AnaBadge<'a> {
        self.mode(LabelMode::Short)
    }

    pub fn kind(&self) -> AnaState {
        AnaState::parse(self.state)
    }

    pub fn style(&self) -> Style {
        self.palette.style(self.kind())
    }

    /// The label for `mode`, given `width` columns to fit in (only `Auto`
    /// looks at it).
    fn label_for(&self, width: usize) -> &'a str {
        let kind = self.kind();
        let (Some(full), Some(short)) = (kind.full_label(), kind.short_label()) else {
            let s = self.state.trim();
            return if s.is_empty() { EMPTY_LABEL } else { s };
        };
        match self.mode {
            LabelMode::Full => full,
            LabelMode::Short => short,
            // Labels are ASCII, so bytes are columns.
            LabelMode::Auto if full.len() <= width => full,
            LabelMode::Auto => short,
        }
    }

    /// The label this badge shows when it has room for it.
    pub fn label(&self) -> &'a str {
        self.label_for(usize::MAX)
    }

    /// The badge as a styled span, for table cells and lines.
    pub fn span(&self) -> Span<'a> {
        Span::styled(self.label(), self.style())
    }
}

impl Widget for AnaBadge<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.draw(area, buf);
    }
}

impl Widget for &AnaBadge<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.draw(area, buf);
    }
}

impl AnaBadge<'_> {
    fn draw(&self, area: Rect, buf: &mut Buffer) {
        // A caller may hand us an area reaching past the buffer; writing
        // there would panic, so draw only where the two overlap.
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let width = usize::from(area.width);
        // set_stringn cuts by display width on grapheme boundaries, so a
        // wide character that does not fit is dropped, never split.
        buf.set_stringn(area.x, area.y, self.label_for(width), width, self.style());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui_core::style::{Color, Modifier};

    fn render(badge: AnaBadge<'_>, width: u16) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, width, 1));
        badge.render(buf.area, &mut buf);
        buf
    }

    /// The expected buffer: `text` padded with unstyled blanks, its first
    /// `styled` cells in `style`.
    fn expect(text: &str, width: u16, styled: u16, style: Style) -> Buffer {
        let mut b = Buffer::empty(Rect::new(0, 0, width, 1));
        b.set_string(0, 0, text, Style::default());
        b.set_style(Rect::new(0, 0, styled, 1), style);
        b
    }

    #[test]
    fn parses_spdk_kernel_and_odd_spellings() {
        assert_eq!(AnaState::parse("optimized"), AnaState::Optimized);
        assert_eq!(AnaState::parse("non_optimized"), AnaState::NonOptimized);
        assert_eq!(AnaState::parse("non-optimized"), AnaState::NonOptimized);
        assert_eq!(AnaState::parse(" Inaccessible\n"), AnaState::Inaccessible);
        assert_eq!(AnaState::parse("PERSISTENT-LOSS"), AnaState::PersistentLoss);
        assert_eq!(AnaState::parse("change"), AnaState::Change);
        for other in [
            "",
            "optimised",
            "non optimized",
            "opt",
            "optimized!",
            "ÖPTIMIZED",
            "inaccessible_",
        ] {
            assert_eq!(AnaState::parse(other), AnaState::Unknown, "{other:?}");
        }
    }

    #[test]
    fn spans_carry_label_and_style() {
        let p = AnaPalette::default();
        let cases = [
            ("optimized", "optimized", "OPT", p.optimized),
            ("non_optimized", "non_optimized", "NON", p.non_optimized),
            ("inaccessible", "inaccessible", "INA", p.inaccessible),
            (
                "persistent_loss",
                "persistent_loss",
                "LOSS",
                p.persistent_loss,
            ),
            ("change", "change", "CHG", p.change),
        ];
        for (state, full, short, style) in cases {
            let b = AnaBadge::new(state);
            assert_eq!(b.span(), Span::styled(full, style));
            assert_eq!(b.short().span(), Span::styled(short, style));
            assert_eq!(b.mode(LabelMode::Auto).span().content, full);
        }
        let b = AnaBadge::new("weird_state");
        assert_eq!(b.span(), Span::styled("weird_state", p.unknown));
        assert_eq!(b.short().span(), Span::styled("weird_state", p.unknown));
        assert_eq!(AnaBadge::new("  ").span().content, "?");
    }

    #[test]
    fn default_palette_is_distinct_bold_and_sets_both_colours() {
        let p = AnaPalette::default();
        let all = [
            p.optimized,
            p.non_optimized,
            p.inaccessible,
            p.persistent_loss,
            p.change,
            p.unknown,
        ];
        for (i, s) in all.iter().enumerate() {
            assert!(s.add_modifier.contains(Modifier::BOLD));
            assert!(s.fg.is_some() && s.bg.is_some() && s.fg != s.bg);
            for t in &all[i + 1..] {
                assert_ne!(s.bg, t.bg);
            }
        }
        assert_eq!(p.optimized.bg, Some(Color::Green));
        assert_eq!(p.non_optimized.bg, Some(Color::Yellow));
        assert_eq!(p.inaccessible.bg, Some(Color::Red));
        assert_eq!(p.persistent_loss.bg, Some(Color::Magenta));
        assert_eq!(p.change.bg, Some(Color::Blue));
        assert_eq!(p.unknown.bg, Some(Color::Gray));
    }

    #[test]
    fn renders_full_label_and_leaves_the_rest_alone() {
        let style = AnaPalette::default().optimized;
        let buf = render(AnaBadge::new("optimized"), 12);
        assert_eq!(buf, expect("optimized", 12, 9, style));
        assert_eq!(buf[(0, 0)].symbol(), "o");
        assert_eq!(buf[(0, 0)].fg, Color::Black);
        assert_eq!(buf[(8, 0)].bg, Color::Green);
        assert!(buf[(8, 0)].modifier.contains(Modifier::BOLD));
        assert_eq!(buf[(9, 0)].bg, Color::Reset);
    }

    #[test]
    fn renders_short_label() {
        let style = AnaPalette::default().persistent_loss;
        assert_eq!(
            render(AnaBadge::new("persistent_loss").short(), 6),
            expect("LOSS", 6, 4, style)
        );
    }

    #[test]
    fn tiny_areas_truncate_without_panicking() {
        let style = AnaPalette::default().inaccessible;
        assert_eq!(
            render(AnaBadge::new("inaccessible"), 0),
            Buffer::empty(Rect::new(0, 0, 0, 1))
        );
        assert_eq!(
            render(AnaBadge::new("inaccessible"), 1),
            expect("i", 1, 1, style)
        );
        assert_eq!(
            render(AnaBadge::new("inaccessible"), 2),
            expect("in", 2, 2, style)
        );
        assert_eq!(
            render(AnaBadge::new("inaccessible").short(), 1),
            expect("I", 1, 1, style)
        );
        assert_eq!(
            render(AnaBadge::new("inaccessible").short(), 2),
            expect("IN", 2, 2, style)
        );
        // Zero height.
        let mut buf = Buffer::empty(Rect::new(0, 0, 5, 1));
        AnaBadge::new("change").render(Rect::new(0, 0, 5, 0), &mut buf);
        assert_eq!(buf, Buffer::empty(Rect::new(0, 0, 5, 1)));
    }

    #[test]
    fn area_outside_the_buffer_is_clipped() {
        let style = AnaPalette::default().change;
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 1));
        AnaBadge::new("change").render(Rect::new(2, 0, 20, 3), &mut buf);
        let mut want = Buffer::with_lines(["  ch"]);
        want.set_style(Rect::new(2, 0, 2, 1), style);
        assert_eq!(buf, want);
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 1));
        AnaBadge::new("change").render(Rect::new(9, 9, 3, 1), &mut buf);
        AnaBadge::new("change").render(Rect::new(u16::MAX, u16::MAX, u16::MAX, u16::MAX), &mut buf);
        assert_eq!(buf, Buffer::empty(Rect::new(0, 0, 4, 1)));
    }

    #[test]
    fn renders_in_the_first_row_at_the_area_offset() {
        let style = AnaPalette::default().non_optimized;
        let mut buf = Buffer::empty(Rect::new(0, 0, 6, 2));
        AnaBadge::new("non_optimized")
            .short()
            .render(Rect::new(2, 1, 4, 1), &mut buf);
        let mut want = Buffer::with_lines(["      ", "  NON "]);
        want.set_style(Rect::new(2, 1, 3, 1), style);
        assert_eq!(buf, want);
    }

    #[test]
    fn auto_mode_falls_back_to_short() {
        let style = AnaPalette::default().non_optimized;
        let b = AnaBadge::new("non-optimized").mode(LabelMode::Auto);
        assert_eq!(render(b, 13), expect("non_optimized", 13, 13, style));
        assert_eq!(render(b, 12), expect("NON", 12, 3, style));
        assert_eq!(render(b, 2), expect("NO", 2, 2, style));
    }

    #[test]
    fn unknown_states_show_as_given() {
        let style = AnaPalette::default().unknown;
        assert_eq!(
            render(AnaBadge::new("ana_grp_9"), 4),
            expect("ana_", 4, 4, style)
        );
        assert_eq!(render(AnaBadge::new(""), 3), expect("?", 3, 1, style));
        // A double-width character that does not fit is left out, not split.
        let buf = render(AnaBadge::new("状态"), 1);
        assert_eq!(buf, Buffer::empty(Rect::new(0, 0, 1, 1)));
        let buf = render(AnaBadge::new("状态"), 3);
        assert_eq!(buf[(0, 0)].symbol(), "状");
        assert_eq!(buf[(2, 0)].symbol(), " ");
        // Control characters are not written to the terminal.
        let buf = render(AnaBadge::new("a\x1b[2Jb"), 8);
        assert!((0..8).all(|x| buf[(x, 0)].symbol() != "\x1b"));
    }

    #[test]
    fn custom_palette_is_used() {
        let mine = Style::new().fg(Color::Rgb(1, 2, 3));
        let palette = AnaPalette {
            optimized: mine,
            ..AnaPalette::default()
        };
        let buf = render(AnaBadge::new("optimized").palette(palette).short(), 3);
        assert_eq!(buf, expect("OPT", 3, 3, mine));
    }
}

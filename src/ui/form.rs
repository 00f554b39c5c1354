//! The load form (Space when idle, `w`): bdevperf's `perform_tests`
//! parameters — workload (`-w`), queue depth (`-q`), I/O size (`-o`), run
//! time (`-t`) and read share (`-M`) — prefilled with the last values,
//! Enter starts, Esc cancels.
//!
//! Every start sends all of them: bdevperf started with `-z` and no
//! workload flags has no queue depth, I/O size or workload until
//! `perform_tests` names them, and answers a call without them with
//! "Invalid parameters provided".

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget};
use serde_json::{json, Value};

use super::theme::Theme;
use crate::perf::config::parse_capacity;

/// The workloads the form offers (bdevperf's `-w`).
pub const WORKLOADS: [&str; 7] = [
    "verify",
    "read",
    "write",
    "randread",
    "randwrite",
    "rw",
    "randrw",
];

/// One start's parameters, as the user last chose them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadParams {
    pub workload: String,
    pub queue_depth: u32,
    /// bdevperf's `-o` text: bytes, or with a k/m/g suffix.
    pub io_size: String,
    /// `None`: until paused (open-ended).
    pub time_in_sec: Option<u32>,
    /// Reads in percent, sent for `rw` and `randrw` only.
    pub rw_percentage: u8,
}

impl Default for LoadParams {
    /// The HOWTO's load: `-q 128 -o 4096 -w verify`, run until paused.
    fn default() -> LoadParams {
        LoadParams {
            workload: "verify".into(),
            queue_depth: 128,
            io_size: "4096".into(),
            time_in_sec: None,
            rw_percentage: 70,
        }
    }
}

/// Whether `w` mixes reads and writes (takes `-M`).
pub fn is_mixed(w: &str) -> bool {
    w == "rw" || w == "randrw"
}

impl LoadParams {
    /// `perform_tests`' params; `open_ended` is the `time_in_sec` sent for
    /// a run until paused.
    pub fn to_params(&self, open_ended: u64) -> Value {
        let mut p = json!({
            "workload_type": self.workload,
            "queue_depth": self.queue_depth,
            "io_size": self.io_size,
            "time_in_sec": self.time_in_sec.map_or(open_ended, u64::from),
        });
        if is_mixed(&self.workload) {
            p["rw_percentage"] = json!(self.rw_percentage);
        }
        p
    }
}

/// The rows of the form, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Workload,
    QueueDepth,
    IoSize,
    Time,
    ReadShare,
}

pub const FIELDS: [Field; 5] = [
    Field::Workload,
    Field::QueueDepth,
    Field::IoSize,
    Field::Time,
    Field::ReadShare,
];

impl Field {
    fn label(self) -> &'static str {
        match self {
            Field::Workload => "-w workload",
            Field::QueueDepth => "-q depth",
            Field::IoSize => "-o I/O size",
            Field::Time => "-t seconds",
            Field::ReadShare => "-M read %",
        }
    }
}

/// The form being edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadForm {
    pub workload: usize,
    pub queue_depth: String,
    pub io_size: String,
    /// Empty: until paused.
    pub time: String,
    pub rw_percentage: String,
    pub field: usize,
    /// Why the last Enter did not start.
    pub error: Option<String>,
    /// A run is going: starting stops it first.
    pub restarts: bool,
    /// What an empty `-t` means on this backend (until paused, or a
    /// finite run when runs cannot be stopped).
    pub open_ended: String,
}

/// What a key did to the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Stay,
    Cancel,
    Start(LoadParams),
}

impl LoadForm {
    pub fn new(p: &LoadParams, restarts: bool, open_ended: &str) -> LoadForm {
        LoadForm {
            workload: WORKLOADS.iter().position(|w| *w == p.workload).unwrap_or(0),
            queue_depth: p.queue_depth.to_string(),
            io_size: p.io_size.clone(),
            time: p.time_in_sec.map(|t| t.to_string()).unwrap_or_default(),
            rw_percentage: p.rw_percentage.to_string(),
            field: 0,
            error: None,
            restarts,
            open_ended: open_ended.to_string(),
        }
    }

    pub fn workload(&self) -> &'static str {
        WORKLOADS[self.workload.min(WORKLOADS.len() - 1)]
    }

    /// The rows that apply: `-M` only to mixed workloads.
    fn active(&self) -> Vec<Field> {
        FIELDS
            .iter()
            .copied()
            .filter(|f| *f != Field::ReadShare || is_mixed(self.workload()))
            .collect()
    }

    pub fn current(&self) -> Field {
        let a = self.active();
        a[self.field.min(a.len() - 1)]
    }

    fn text_mut(&mut self, f: Field) -> Option<&mut String> {
        match f {
            Field::Workload => None,
            Field::QueueDepth => Some(&mut self.queue_depth),
            Field::IoSize => Some(&mut self.io_size),
            Field::Time => Some(&mut self.time),
            Field::ReadShare => Some(&mut self.rw_percentage),
        }
    }

    fn cycle(&mut self, d: i64) {
        let n = WORKLOADS.len() as i64;
        self.workload = (self.workload as i64 + d).rem_euclid(n) as usize;
    }

    fn move_field(&mut self, d: i64) {
        let n = self.active().len() as i64;
        let cur = self.field.min(n as usize - 1) as i64;
        self.field = (cur + d).rem_euclid(n) as usize;
    }

    pub fn key(&mut self, k: KeyEvent) -> Outcome {
        if k.modifiers.contains(KeyModifiers::CONTROL) {
            return Outcome::Stay;
        }
        let f = self.current();
        match k.code {
            KeyCode::Esc => return Outcome::Cancel,
            KeyCode::Enter => match self.params() {
                Ok(p) => return Outcome::Start(p),
                Err(e) => self.error = Some(e),
            },
            KeyCode::Down | KeyCode::Tab => self.move_field(1),
            KeyCode::Up | KeyCode::BackTab => self.move_field(-1),
            KeyCode::Left if f == Field::Workload => self.cycle(-1),
            KeyCode::Right | KeyCode::Char(' ') if f == Field::Workload => self.cycle(1),
            KeyCode::Char(c @ '1'..='7') if f == Field::Workload => {
                self.workload = c as usize - '1' as usize;
            }
            KeyCode::Backspace => {
                if let Some(t) = self.text_mut(f) {
                    t.pop();
                }
                self.error = None;
            }
            KeyCode::Char(c) => {
                let ok = c.is_ascii_digit()
                    || (f == Field::IoSize && "kKmMgG".contains(c) && !self.io_size.is_empty());
                if let Some(t) = self.text_mut(f).filter(|t| ok && t.len() < 12) {
                    t.push(c);
                    self.error = None;
                }
            }
            _ => {}
        }
        Outcome::Stay
    }

    /// The parameters, or what is wrong with them.
    pub fn params(&self) -> Result<LoadParams, String> {
        let num = |what: &str, s: &str, lo: u64, hi: u64| -> Result<u64, String> {
            match s.parse::<u64>() {
                Ok(v) if (lo..=hi).contains(&v) => Ok(v),
                _ => Err(format!("{what}: a whole number from {lo} to {hi}")),
            }
        };
        let max = i32::MAX as u64;
        let queue_depth = num("-q", &self.queue_depth, 1, max)? as u32;
        match parse_capacity(&self.io_size) {
            Ok(b) if (1..=max).contains(&b) => {}
            _ => return Err("-o: bytes, or with k, m or g (4096, 4k, 1m)".into()),
        }
        let time_in_sec = if self.time.is_empty() {
            None
        } else {
            Some(num("-t", &self.time, 1, max)? as u32)
        };
        let rw_percentage = if is_mixed(self.workload()) {
            // bdevperf takes an rw_percentage of 0 as "not given" and keeps
            // the previous share.
            if self.rw_percentage.parse::<u64>() == Ok(0) {
                return Err("-M 0 reads as not given: pick write or randwrite".into());
            }
            num("-M", &self.rw_percentage, 1, 100)? as u8
        } else {
            self.rw_percentage.parse().unwrap_or(70).min(100)
        };
        Ok(LoadParams {
            workload: self.workload().to_string(),
            queue_depth,
            io_size: self.io_size.clone(),
            time_in_sec,
            rw_percentage,
        })
    }
}

/// Draws the form centred in `area`; `command` is the line Enter sends.
pub fn render(form: &LoadForm, command: &str, t: &Theme, area: Rect, buf: &mut Buffer) {
    let r = super::panes::centered(area, 64, 13);
    if r.width < 10 || r.height < 3 {
        return;
    }
    Clear.render(r, buf);
    let title = if form.restarts {
        " Load — Enter restarts, Esc cancels "
    } else {
        " Load — Enter starts, Esc cancels "
    };
    let b = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(if form.error.is_some() {
            t.err
        } else {
            t.border_focused
        })
        .title(Line::styled(title, t.title_focused))
        .style(t.popup);
    let inner = b.inner(r);
    b.render(r, buf);
    let cur = form.current();
    let mut lines: Vec<Line> = Vec::new();
    for f in FIELDS {
        let on = f == cur;
        let value: Vec<Span> = match f {
            Field::Workload => vec![
                Span::styled("◂ ", t.hint),
                Span::raw(form.workload()),
                Span::styled(" ▸", t.hint),
            ],
            Field::Time if form.time.is_empty() => {
                vec![Span::styled(format!("({})", form.open_ended), t.hint)]
            }
            Field::ReadShare if !is_mixed(form.workload()) => {
                vec![Span::styled("(rw and randrw only)", t.hint)]
            }
            Field::QueueDepth => vec![Span::raw(form.queue_depth.clone())],
            Field::IoSize => vec![Span::raw(form.io_size.clone())],
            Field::Time => vec![Span::raw(form.time.clone())],
            Field::ReadShare => vec![Span::raw(form.rw_percentage.clone())],
        };
        let mut spans = vec![
            Span::styled(if on { " › " } else { "   " }, t.accent),
            // Not `muted`: on a popup's background it would not show.
            Span::styled(format!("{:<13}", f.label()), t.hint),
        ];
        spans.extend(value);
        if on && f != Field::Workload {
            spans.push(Span::styled("▏", t.accent));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::raw(""));
    // The command, on up to two rows, cut between words.
    let room = usize::from(inner.width.saturating_sub(2)).max(8);
    let mut cmd_rows = vec![String::new()];
    for word in command.split(' ') {
        let cur = cmd_rows.last_mut().expect("a row");
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > room {
            cmd_rows.push(String::new());
        }
        let cur = cmd_rows.last_mut().expect("a row");
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    cmd_rows.resize(2, String::new());
    for row in &cmd_rows[..2] {
        lines.push(Line::styled(
            format!(" {row}"),
            t.hint.add_modifier(Modifier::ITALIC),
        ));
    }
    match &form.error {
        Some(e) => lines.push(Line::styled(format!(" {e}"), t.err)),
        None if form.restarts => {
            lines.push(Line::styled(" stops the run, then starts this one", t.hint))
        }
        None => lines.push(Line::raw("")),
    }
    lines.push(Line::styled(
        " ↑↓ field  ←→ workload  digits edit  Backspace",
        t.hint,
    ));
    Paragraph::new(lines).render(inner, buf);
    let at = FIELDS.iter().position(|f| *f == cur).unwrap_or(0) as u16;
    if at < inner.height {
        let row = Rect::new(inner.x, inner.y + at, inner.width, 1);
        mpath_widgets::highlight_row(buf, row, t.selected, &t.w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new_with_kind(code, KeyModifiers::NONE, KeyEventKind::Press)
    }

    #[test]
    fn complete_params_from_the_defaults() {
        let mut f = LoadForm::new(&LoadParams::default(), false, "until paused");
        let Outcome::Start(p) = f.key(k(KeyCode::Enter)) else {
            panic!()
        };
        assert_eq!(
            p.to_params(9),
            json!({"workload_type": "verify", "queue_depth": 128, "io_size": "4096", "time_in_sec": 9})
        );
    }

    #[test]
    fn edits_and_refusals() {
        let mut f = LoadForm::new(&LoadParams::default(), false, "until paused");
        f.key(k(KeyCode::Char('6'))); // rw
        assert_eq!(f.workload(), "rw");
        f.key(k(KeyCode::Down));
        for _ in 0..3 {
            f.key(k(KeyCode::Backspace));
        }
        assert_eq!(f.key(k(KeyCode::Enter)), Outcome::Stay);
        assert!(f.error.as_deref().unwrap().starts_with("-q"), "{f:?}");
        f.key(k(KeyCode::Char('x'))); // not a digit: ignored
        f.key(k(KeyCode::Char('8')));
        f.key(k(KeyCode::Down));
        f.key(k(KeyCode::Backspace));
        f.key(k(KeyCode::Backspace));
        f.key(k(KeyCode::Backspace));
        f.key(k(KeyCode::Backspace));
        f.key(k(KeyCode::Char('8')));
        f.key(k(KeyCode::Char('k')));
        f.key(k(KeyCode::Down));
        f.key(k(KeyCode::Char('5')));
        f.key(k(KeyCode::Down));
        assert_eq!(f.current(), Field::ReadShare);
        f.key(k(KeyCode::Backspace));
        f.key(k(KeyCode::Backspace));
        f.key(k(KeyCode::Char('1')));
        f.key(k(KeyCode::Char('0')));
        f.key(k(KeyCode::Char('1')));
        assert_eq!(f.key(k(KeyCode::Enter)), Outcome::Stay);
        assert!(f.error.as_deref().unwrap().starts_with("-M"));
        f.key(k(KeyCode::Backspace));
        let Outcome::Start(p) = f.key(k(KeyCode::Enter)) else {
            panic!("{f:?}")
        };
        assert_eq!(
            p.to_params(0),
            json!({"workload_type": "rw", "queue_depth": 8, "io_size": "8k",
                   "time_in_sec": 5, "rw_percentage": 10})
        );
        // Down from the last row wraps to the first.
        f.key(k(KeyCode::Down));
        assert_eq!(f.current(), Field::Workload);
        assert_eq!(f.key(k(KeyCode::Esc)), Outcome::Cancel);
    }

    #[test]
    fn read_share_zero_is_refused_with_the_reason() {
        let mut f = LoadForm::new(&LoadParams::default(), false, "until paused");
        f.key(k(KeyCode::Char('7'))); // randrw
        f.key(k(KeyCode::Up));
        assert_eq!(f.current(), Field::ReadShare);
        f.key(k(KeyCode::Backspace));
        f.key(k(KeyCode::Backspace));
        f.key(k(KeyCode::Char('0')));
        assert_eq!(f.key(k(KeyCode::Enter)), Outcome::Stay);
        assert!(f.error.as_deref().unwrap().contains("write or randwrite"));
    }

    #[test]
    fn read_share_is_skipped_for_pure_workloads() {
        let mut f = LoadForm::new(&LoadParams::default(), false, "until paused");
        f.key(k(KeyCode::Up));
        assert_eq!(f.current(), Field::Time);
    }
}

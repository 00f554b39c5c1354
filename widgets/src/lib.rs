//! Pure ratatui widgets for mpath-console. No application state lives here:
//! every widget renders what it is given, styled by a [`Theme`].
//!
//! * [`PathTable`] — I/O paths with ANA badges, rates and sparklines.
//! * [`ConnTable`] — TCP connections like `ss -tni`, with queue bars.
//! * [`HelpOverlay`] — key bindings by section in a centred popup.
//! * [`CommandLine`] — the `:` prompt, completion menu and last result.
//! * [`KeyHints`] — the footer's `q quit  ? help` hints.
//! * [`RateSparkline`], [`AnaBadge`] — the pieces, usable on their own;
//!   [`format_rate`] and [`format_iops`] for numbers shown elsewhere;
//!   [`highlight_row`] for a selected row drawn by hand.
//!
//! Every widget clips to the buffer, so any area (empty, tiny, partly off
//! screen) is safe, and text of any kind is cut at grapheme boundaries
//! with an ellipsis rather than overflowing its column.

// Drawing needs no unsafe code; keep it that way.
#![forbid(unsafe_code)]

pub mod ana_badge;
pub mod cmdline;
mod columns;
pub mod conn_table;
pub mod help;
pub mod key_hints;
pub mod path_table;
pub mod sparkline;
mod text;
pub mod theme;

pub use ana_badge::{AnaBadge, AnaPalette, AnaState, LabelMode};
pub use cmdline::CommandLine;
pub use columns::highlight_row;
pub use conn_table::{ConnRow, ConnTable};
pub use help::{HelpOverlay, HELP_TITLE};
pub use key_hints::KeyHints;
pub use path_table::{PathRow, PathTable};
pub use sparkline::{format_iops, format_rate, spark_symbol, RateSparkline, SparkSample};
pub use theme::{Theme, ThemeError};

#[cfg(test)]
mod random_input;

//! Pure ratatui widgets for mpath-console. No application state lives here:
//! every widget renders what it is given.

pub mod ana_badge;
mod columns;
pub mod conn_table;
pub mod path_table;
pub mod sparkline;
mod text;
pub mod theme;

pub use ana_badge::{AnaBadge, AnaPalette, AnaState, LabelMode};
pub use conn_table::{ConnRow, ConnTable};
pub use path_table::{PathRow, PathTable};
pub use sparkline::{format_iops, format_rate, spark_symbol, RateSparkline, SparkSample};
pub use theme::{Theme, ThemeError};

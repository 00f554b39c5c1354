//! Pure ratatui widgets for mpath-console. No application state lives here:
//! every widget renders what it is given.

pub mod ana_badge;

pub use ana_badge::{AnaBadge, AnaPalette, AnaState, LabelMode};

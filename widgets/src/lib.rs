//! Pure ratatui widgets for mpath-console. No application state lives here:
//! every widget renders what it is given.

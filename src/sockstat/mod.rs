//! sockstat

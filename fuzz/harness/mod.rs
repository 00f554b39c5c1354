//! The fuzz harnesses, one module per target. Each exposes `run(data)`: the
//! whole property check for one input, panicking on a violation.
//!
//! Shared by the libFuzzer binaries (`fuzz/fuzz_targets/*.rs`) and by the
//! regression tests (`tests/fuzz_regressions.rs`), which include this
//! directory with `#[path]`: everything here may use only what the main
//! package depends on (no `arbitrary`, no `libfuzzer-sys`).

pub mod hostile_target;
pub mod nvme_structs;
pub mod pdu_decoder;
pub mod reader;
pub mod rpc_methods;
pub mod rpc_request;
pub mod scenario_parser;
pub mod target_commands;
pub mod theme_parser;

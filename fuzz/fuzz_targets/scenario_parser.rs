//! libFuzzer entry for the `scenario_parser` harness (see `harness/scenario_parser.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::scenario_parser::run(data);
});

//! libFuzzer entry for the `theme_parser` harness (see `harness/theme_parser.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::theme_parser::run(data);
});

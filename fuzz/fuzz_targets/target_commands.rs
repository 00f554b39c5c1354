//! libFuzzer entry for the `target_commands` harness (see `harness/target_commands.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::target_commands::run(data);
});

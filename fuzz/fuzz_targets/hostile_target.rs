//! libFuzzer entry for the `hostile_target` harness (see `harness/hostile_target.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::hostile_target::run(data);
});

//! libFuzzer entry for the `pdu_decoder` harness (see `harness/pdu_decoder.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::pdu_decoder::run(data);
});

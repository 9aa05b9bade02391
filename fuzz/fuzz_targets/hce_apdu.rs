//! The check lives beside the code it fuzzes, so `cargo test` replays this target's
//! corpus with the very same logic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mobile_sdk::fuzzing::check_hce(data));

//! The check lives in `emv::fuzzing` so `cargo test -p emv` replays this target's corpus
//! with the very same logic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| emv::fuzzing::check_terminal_headers(data));

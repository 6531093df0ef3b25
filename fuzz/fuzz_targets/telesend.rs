#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kaunta_core::fuzzing::telesend(data));

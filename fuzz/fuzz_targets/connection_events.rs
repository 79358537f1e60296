#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| autopilot::fuzzing::connection_events(data));

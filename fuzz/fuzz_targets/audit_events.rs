#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| autopilot::fuzzing::audit_events(data));

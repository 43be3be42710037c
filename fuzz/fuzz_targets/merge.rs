//! Fuzz target `merge`: see `src/merge.rs` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tcpsim_fuzz::merge::check(data);
});

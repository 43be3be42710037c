//! Fuzz target `experiment`: see `src/experiment.rs` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tcpsim_fuzz::experiment::check(data);
});

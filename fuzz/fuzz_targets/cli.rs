//! Fuzz target `cli`: see `src/cli.rs` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tcpsim_fuzz::cli::check(data);
});

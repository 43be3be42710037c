//! The checks behind tcpsim's fuzz targets, as plain functions of the
//! input bytes, so that `tests/bad_input.rs` can replay every saved
//! crashing input as an ordinary `#[test]` without libFuzzer.
//!
//! Each function panics when an invariant breaks; the fuzz targets in
//! `fuzz_targets/` only call them. The modules use nothing but the
//! workspace crates, so the workspace tests include them by `#[path]`.

pub mod cli;
pub mod decode;
pub mod endpoint;
pub mod experiment;
pub mod merge;
pub mod script;

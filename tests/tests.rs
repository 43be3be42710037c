//! Workspace-level integration tests: the `tcpsim` binary as users run it.

mod async_equivalence;
mod bad_input;
mod cli;
mod determinism;
mod explore;
mod kernel;
mod kernel_configs;
mod pcapng;
mod properties;
mod reference;
mod report_types;
mod run_output;
mod sweep_csv;
mod time_wait_compact;

//! Workspace-level integration tests: the `tcpsim` binary as users run it.

mod async_equivalence;
mod cli;

//! tcpsim: a deterministic network simulator built around its own TCP.
//!
//! This facade re-exports the workspace crates:
//! - [`tcp`] (`tcpsim-tcp`): the sans-IO TCP state machine.
//! - [`net`] (`tcpsim-net`): the event engine, links, faults, capture, and
//!   async sockets on simulated hosts.
//! - [`runner`] (`tcpsim-runner`): experiment files, runs, sweeps, checks,
//!   reports.

pub use tcpsim_net as net;
pub use tcpsim_runner as runner;
pub use tcpsim_tcp as tcp;

//! tcpsim: a deterministic network simulator built around its own TCP.
//!
//! This facade re-exports the workspace crates:
//! - [`tcp`] (`tcpsim-tcp`): the sans-IO TCP state machine.

pub use tcpsim_tcp as tcp;

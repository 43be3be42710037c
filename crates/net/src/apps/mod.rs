//! The applications a simulation runs: the built-in `[[connections]]`
//! workload and the async sockets.

pub(crate) mod sockets;
pub(crate) mod steps;
pub(crate) mod workload;

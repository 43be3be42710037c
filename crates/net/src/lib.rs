//! `tcpsim-net`: the world tcpsim-tcp endpoints live in.
//!
//! `tcpsim-tcp` is a sans-IO TCP: segments and time in, segments and
//! deadlines out. This crate is the world around it — the event engine, the
//! links between hosts, targeted faults and packet capture. This version
//! holds:

//!
//! - [`SimBuilder`] and [`Sim`]: the discrete-event engine — hosts running
//!   `tcpsim-tcp` endpoints, the experiment's applications, virtual time.
//! - [`fault`]: targeted faults ("drop the client's first SYN").
//! - [`trace`]: the typed record of every send, drop, delivery, state change,
//!   timer and application call; [`pcap`]: the capture.
//! - [`workload`]: what the applications do, and what became of each connection.
//! - [`Scenario`], [`TcpListener`], [`TcpStream`], [`time`]: applications
//!   written as async Rust (tokio) on simulated hosts, in virtual time.
//! - [`link`]: one direction of a link with Linux netem's impairments
//!   (delay and jitter, loss including Gilbert-Elliott, duplication,
//!   corruption, reordering, rate and queue limit), decided packet by packet
//!   on virtual time, in netem's order of operations and draws.
//! - [`rng`]: an independent, reproducible random stream per stable name
//!   (`"link:client->server"`, `"host:client"`), so adding a link or a host
//!   never changes the draws of another.
//!
//! Nothing here reads a clock, the OS's randomness or iterates a hash map;
//! floating-point work goes through `libm`, so a seed replays the same run
//! on every machine.

mod app;
mod apps;
mod builder;
mod dist;
mod engine;
pub mod fault;
pub mod link;
pub mod pcap;
pub mod report;
pub mod rng;
mod sim;
mod sim_async;
pub mod trace;
pub mod workload;

pub use builder::{Blueprint, BuildError, SimBuilder, fault};
pub use engine::{EventQueue, Limits, StopReason};
pub use report::{ConnReport, EndReport, KindCounts, Outcome};
pub use sim::{RunResult, Sim};
pub use sim_async::{
    Scenario, ScenarioResult, TaskResult, TcpListener, TcpStream, ToAddr, UnknownHost, spawn, time,
};
pub use trace::{AppCall, AppError, DropReason, HostId, SegmentInfo, TraceKind, TraceRecord};
pub use workload::{CloseMode, End, OpenMode, Workload};

pub use fault::{FaultAction, FaultRule};
pub use link::{Distribution, Fate, Link, LinkParams, LinkParamsError, Loss, Verdicts};
pub use rng::stream;

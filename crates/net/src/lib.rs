//! `tcpsim-net`: the world tcpsim-tcp endpoints live in.
//!
//! `tcpsim-tcp` is a sans-IO TCP: segments and time in, segments and
//! deadlines out. This crate is the world around it, in three layers:
//!
//! - **The engine** (`engine`, private): the discrete-event core — virtual
//!   time, the event queue, hosts running `tcpsim-tcp` endpoints, links,
//!   targeted faults, the trace and the capture, and one registry of
//!   connections. It routes; it knows nothing of what applications do.
//! - **Applications** (`app`, `apps`, private): everything that opens,
//!   writes, reads and closes, through the engine's host API, hearing the
//!   TCP events of its own connections. The built-in `[[connections]]`
//!   workload is one application, the async sockets another.
//! - **The simulation** ([`Sim`], built by [`SimBuilder`]): the engine and
//!   the applications stepped together; its [`RunResult`] carries one
//!   [`ConnReport`] per connection, judged by the outcome rules of
//!   [`report`].
//!
//! A segment's way through: an application command (say the workload's
//! `shutdown` when its data is acknowledged) acts on the host's endpoint;
//! the engine *settles* the host — polls its events (trace, registry, the
//! owner's event queue) and its segments — and each segment is traced,
//! captured, routed to its link, judged by the faults, then by the link
//! model, and parked in the packet slab with a delivery event. At the
//! delivery the receiving host's endpoint takes it, the host is settled
//! again, and the owning application reacts to the events it caused.
//!
//! The public modules:
//!
//! - [`fault`](mod@fault): targeted faults ("drop the client's first SYN").
//! - [`trace`]: the typed record of every send, drop, delivery, state change,
//!   timer and application call; [`pcap`] and [`pcapng`]: the capture
//!   formats, written as a run goes to the writers a [`Capture`] names.
//! - [`workload`]: what an experiment's connections do; [`facts`]: what the
//!   engine records of each connection end; [`report`]: what became of each
//!   connection, by the outcome rules.
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
mod capture;
mod dist;
mod engine;
pub mod facts;
pub mod fault;
pub mod link;
pub mod log;
pub mod pcap;
pub mod pcapng;
pub mod report;
pub mod rng;
mod sim;
mod sim_async;
pub mod trace;
pub mod workload;

pub use builder::{Blueprint, BuildError, SimBuilder, fault};
pub use capture::{Capture, CaptureError, CaptureFormat};
pub use engine::{EventQueue, Limits, StopReason};
pub use facts::{End, EndReport, KindCounts};
pub use report::{ConnReport, Outcome};
pub use sim::{RunResult, Sim};
pub use sim_async::{
    Scenario, ScenarioResult, TaskResult, TcpListener, TcpStream, ToAddr, UnknownHost, spawn, time,
};
pub use trace::{
    AppCall, AppError, DropReason, HostId, SegmentInfo, Shut, TraceKind, TraceRecord, Wait,
};
pub use workload::{CloseMode, EndApp, OpenMode, Step, Workload};

pub use fault::{Decider, FaultAction, FaultRule, Seen};
pub use link::{Distribution, Fate, Link, LinkParams, LinkParamsError, Loss, Verdicts};
pub use rng::stream;

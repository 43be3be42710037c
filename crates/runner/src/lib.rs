//! `tcpsim-runner`: experiment files, runs, sweeps, checks and reports
//! (tcpsim SPEC §2–§4).
//!
//! So far it holds the experiment-file model and its parser: [`parse`] and
//! [`parse_with_overrides`] turn TOML into a checked [`Experiment`], or a
//! [`ConfigError`] that names the file, line, column and what was expected.
//! [`parse_duration`], [`parse_rate`] and [`SeedRange`] are the unit parsers
//! the command line shares with the files. [`script`] parses packetdrill
//! scripts (SPEC §7).
//!
//! A run's JSON report is a [`Report`] ([`report`] module): public types
//! that derive serde's `Serialize` and `Deserialize`, so a report written
//! by `tcpsim run --format json` reads back with
//! `serde_json::from_str::<Report>`. The sweep aggregate
//! ([`sweep::Aggregate`]) and the lines of `sweep --shard`
//! ([`sweep::Line`]) are such types too (SPEC §4).

pub mod build;
pub mod commands;
pub mod diagram;
pub mod evaluate;
pub mod experiment;
pub mod explore;
pub mod input;
pub mod kernel_diff;
pub mod plot;
pub mod report;
pub mod script;
pub mod script_command;
pub mod shell;
pub mod suite;
pub mod svg;
pub mod sweep;
pub mod throughput;
pub mod timeline;

pub use experiment::{
    CloseMode, ConfigError, ConnectionSpec, Distribution, Expect, Experiment, Fault, FaultAction,
    Host, HostId, Link, LinkParams, Location, Loss, OpenMode, Outcome, SeedRange, SocketSpec, Step,
    Sweep, TcpOverrides, parse, parse_duration, parse_rate, parse_with_overrides,
};
pub use report::{
    AppEvent, ByteCounts, Call, ConnectionReport, DeliverEvent, DropEvent, EndRecovery, Event,
    EventKind, Expectation, Recovery, Report, ReportWriter, SegmentCounts, SegmentOptions,
    SegmentReport, SendEvent, StateEvent, TimerEvent,
};

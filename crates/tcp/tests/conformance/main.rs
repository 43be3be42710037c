//! One packet-script test per line of CONFORMANCE.md (tcpsim's checklist of
//! TCP setup and teardown behaviour), named after it, plus the profile
//! variants. Each asserts every segment (time, direction, flags, seq, ack,
//! length) and the state path of both ends; expected values come from the
//! RFC text cited beside them and from arithmetic on the path delay.
//!
//! Notation as in CONFORMANCE.md: client ISS x = 1000, server ISS y = 5000,
//! one-way delay D = 50 ms (RTT 100 ms) unless a test says otherwise.

#[path = "../harness/mod.rs"]
mod harness;

mod closing;
mod connected;
mod details;
mod linux_traces;
mod opening;
mod options;
mod rcvbuf;
mod regressions;
mod scripts;
mod timers;

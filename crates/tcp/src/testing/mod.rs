//! Test harnesses for code that drives [`Endpoint`](crate::Endpoint)s
//! (the `testing` cargo feature; off by default).
//!
//! - [`World`]: two endpoints, a client and a server, joined by a path with
//!   a one-way delay per direction. Time jumps to the next deadline (an
//!   arrival or a timer), as quinn-proto's `Pair::drive`; a step bound makes
//!   a livelock fail instead of hanging. A [`Hooks`] value sees every event
//!   (and may act on the endpoint, as an application would) and decides the
//!   [`Fate`] of every segment sent: delivered, lost, delayed, duplicated.
//!   The queues of segments in flight can also be worked by hand (deliver,
//!   lose, duplicate or reorder the next one), for fuzzers that are the
//!   network themselves.
//! - [`Script`]: one endpoint facing a peer played by the test, packet by
//!   packet, as smoltcp's `send!`/`recv!` and packetdrill's scripts: inject
//!   a segment, [expect](Script::expect) the next segment the endpoint sends
//!   (flags, seq, ack, window, length, time) with a failure message that
//!   shows both.
//!
//! Everything here is deterministic: no clock, no randomness, and every tie
//! is broken by a documented rule.

mod script;
mod world;

pub use script::{Expect, Script, Sent};
pub use world::{Fate, Hooks, InFlight, Livelock, Side, World};

use crate::segment::Flags;

/// tcpdump's flag letters in the order S F R P A (then U E W), as
/// packetdrill writes them: `SA` for SYN+ACK, `A` for a bare ACK.
pub fn letters(flags: Flags) -> String {
    flags.letters()
}

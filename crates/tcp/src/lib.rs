//! `tcpsim-tcp`: a sans-IO TCP (RFC 9293, RFC 6298) for simulation.
//!
//! This crate contains no networking code, reads no clock and draws no
//! randomness of its own: segments and time go in, segments, timer deadlines
//! and events come out (the shape of quinn-proto and smoltcp). Time is
//! virtual, in integer nanoseconds ([`Instant`], [`Duration`]); initial
//! sequence numbers come from a generator the caller seeds.
//!
//! The main types:
//! - [`Connection`]: one connection's state machine (every state of RFC 9293
//!   §3.3.2 and the segment-arrival rules of §3.10.7).
//! - [`Endpoint`]: a host's TCP — demultiplexing by 4-tuple, listeners,
//!   RST for unknown connections, ephemeral ports.
//! - [`Config`] and [`Profile`]: the parameters and the `rfc` / `linux`
//!   defaults.
//! - [`wire`]: IPv4 + TCP headers to bytes and back, with checksums.
//! - `testing` (the `testing` cargo feature, off by default): a
//!   deterministic two-endpoint `World` and a single-endpoint `Script` for
//!   packet-by-packet tests against a hostile peer.
//!
//! ```
//! use std::net::{Ipv4Addr, SocketAddrV4};
//! use rand_core::{RngCore, impls};
//! use tcpsim_tcp::testing::{Side, World};
//! use tcpsim_tcp::{Config, Duration, Endpoint, Event, Instant, State};
//!
//! # struct Counter(u32);
//! # impl RngCore for Counter {
//! #     fn next_u32(&mut self) -> u32 { self.0 += 1000; self.0 }
//! #     fn next_u64(&mut self) -> u64 { impls::next_u64_via_u32(self) }
//! #     fn fill_bytes(&mut self, d: &mut [u8]) { impls::fill_bytes_via_next(self, d) }
//! # }
//! let client_addr = Ipv4Addr::new(10, 0, 0, 1);
//! let server_addr = Ipv4Addr::new(10, 0, 0, 2);
//! let client = Endpoint::new(client_addr, Config::rfc(), Counter(0));
//! let mut server = Endpoint::new(server_addr, Config::rfc(), Counter(5000));
//! server.listen(80).unwrap();
//!
//! // Two endpoints on a path without delay (the `testing` feature's
//! // harness carries the segments and collects the events).
//! let mut world = World::new(client, server, Duration::ZERO);
//! let mut events = Vec::new();
//! let to = SocketAddrV4::new(server_addr, 80);
//! let id = world
//!     .command(Side::Client, &mut events, |ep, now| ep.connect(now, to, None))
//!     .unwrap();
//! world.run_until(Instant::ZERO, &mut events).unwrap();
//! assert_eq!(world.client.state(id), State::Established);
//! assert!(events.contains(&(Instant::ZERO, Side::Client, Event::Connected)));
//! ```

mod buffer;
pub mod config;
pub mod congestion;
mod connection;
mod endpoint;
mod event;
mod hash;
pub mod options;
mod ports;
mod rtt;
mod segment;
mod seq;
mod state;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod timer_wheel;
pub mod wire;

pub use buffer::{RecvBuffer, SegmentCost, SendBuffer};
pub use config::{
    AbortReset, AckAboveSndNxt, AckOfFin, Config, CongestionAlgorithm, CwndAccounting,
    DuplicateSyn, FinInZeroWindow, FinSack, HalfOpenRstSyn, InitialWindow, IsnMode,
    LINUX_INIT_CWND, LINUX_SEGMENT_MEMORY, LINUX_SEND_BUFFER, LINUX_SEND_BUFFER_MAX,
    LINUX_SEND_BUFFER_OVERHEAD, LossRecovery, Nagle, PersistGiveUp, Profile, Push, RecvMemory,
    RetransmissionRtt, RetryLimit, RetryModel, RstInTimeWait, RtoFormula, SEND_BUFFER_GOAL_MAX,
    SimultaneousSynAck, SynRetryCount, TimeWaitSegments, TimerWheel, TsRecentUpdate,
    WindowRounding,
};
pub use connection::{
    CommandError, Connection, RecoveryStats, TcpInfo, linux_truesize, window_shift_for,
};
pub use endpoint::{
    COMPACT_TIME_WAIT_FROM, ConnId, ConnectError, DEFAULT_EPHEMERAL_PORTS, Endpoint, ListenError,
};
pub use event::{Event, RetransmitCause, TimerKind, Transmit};
pub use options::{Options, SackBlocks, Timestamps};
pub use rtt::RttEstimator;
pub use segment::{Flags, Segment, SegmentKind};
pub use seq::SeqNum;
pub use state::State;
pub use time::{Duration, Instant};

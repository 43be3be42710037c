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
//!
//! ```
//! use std::net::{Ipv4Addr, SocketAddrV4};
//! use rand_core::{RngCore, impls};
//! use tcpsim_tcp::{Config, Endpoint, Event, Instant, State};
//!
//! # struct Counter(u32);
//! # impl RngCore for Counter {
//! #     fn next_u32(&mut self) -> u32 { self.0 += 1000; self.0 }
//! #     fn next_u64(&mut self) -> u64 { impls::next_u64_via_u32(self) }
//! #     fn fill_bytes(&mut self, d: &mut [u8]) { impls::fill_bytes_via_next(self, d) }
//! # }
//! let client_addr = Ipv4Addr::new(10, 0, 0, 1);
//! let server_addr = Ipv4Addr::new(10, 0, 0, 2);
//! let mut client = Endpoint::new(client_addr, Config::rfc(), Counter(0));
//! let mut server = Endpoint::new(server_addr, Config::rfc(), Counter(5000));
//! server.listen(80).unwrap();
//!
//! let now = Instant::ZERO;
//! let id = client.connect(now, SocketAddrV4::new(server_addr, 80), None).unwrap();
//! // Carry segments both ways until nothing is left to send.
//! loop {
//!     let mut moved = false;
//!     while let Some((_, t)) = client.poll_transmit() {
//!         server.handle_segment(now, &t.segment);
//!         moved = true;
//!     }
//!     while let Some((_, t)) = server.poll_transmit() {
//!         client.handle_segment(now, &t.segment);
//!         moved = true;
//!     }
//!     if !moved { break; }
//! }
//! assert_eq!(client.state(id), State::Established);
//! assert!(std::iter::from_fn(|| client.poll_event()).any(|(_, e)| e == Event::Connected));
//! ```

mod buffer;
pub mod config;
mod connection;
mod endpoint;
mod event;
pub mod hash;
mod rtt;
mod segment;
mod seq;
mod state;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
pub mod wire;

pub use buffer::{RecvBuffer, SendBuffer};
pub use config::{
    AbortReset, AckOfFin, Config, DuplicateSyn, IsnMode, Profile, RetransmissionRtt, RetryLimit,
    RetryModel, RstInTimeWait, RtoFormula, SynRetryCount,
};
pub use connection::{CommandError, Connection};
pub use endpoint::{ConnId, ConnectError, DEFAULT_EPHEMERAL_PORTS, Endpoint, ListenError};
pub use event::{Event, TimerKind, Transmit};
pub use rtt::RttEstimator;
pub use segment::{Flags, Segment, SegmentKind};
pub use seq::SeqNum;
pub use state::State;
pub use time::{Duration, Instant};

//! One endpoint against a peer the test plays, segment by segment.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddrV4;

use crate::endpoint::{ConnId, Endpoint};
use crate::event::Event;
use crate::segment::{Flags, Segment};
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};

use super::letters;

/// A segment the scripted endpoint sent, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// When it was sent.
    pub at: Instant,
    /// Its connection (`None`: a RST for no connection).
    pub id: Option<ConnId>,
    /// The segment.
    pub segment: Segment,
    /// Whether the endpoint marked it a retransmission.
    pub retransmission: bool,
}

impl fmt::Display for Sent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.segment;
        write!(
            f,
            "at {} {} seq {} ack {} win {} len {}",
            self.at,
            letters(s.flags),
            s.seq,
            s.ack,
            s.window,
            s.payload.len()
        )?;
        if self.retransmission {
            f.write_str(" (rtx)")?;
        }
        Ok(())
    }
}

/// What the next segment sent must look like; unset fields are not checked.
/// Every expectation names the flags, exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    flags: Flags,
    seq: Option<u32>,
    ack: Option<u32>,
    window: Option<u16>,
    len: Option<usize>,
    at: Option<Instant>,
}

impl Expect {
    /// A segment with exactly these flags.
    pub const fn flags(flags: Flags) -> Expect {
        Expect {
            flags,
            seq: None,
            ack: None,
            window: None,
            len: None,
            at: None,
        }
    }

    /// … with this sequence number.
    pub const fn seq(mut self, seq: u32) -> Expect {
        self.seq = Some(seq);
        self
    }

    /// … with this acknowledgment number.
    pub const fn ack(mut self, ack: u32) -> Expect {
        self.ack = Some(ack);
        self
    }

    /// … advertising this window.
    pub const fn window(mut self, window: u16) -> Expect {
        self.window = Some(window);
        self
    }

    /// … carrying this many octets of payload.
    pub const fn len(mut self, len: usize) -> Expect {
        self.len = Some(len);
        self
    }

    /// … sent at this time.
    pub const fn at(mut self, at: Instant) -> Expect {
        self.at = Some(at);
        self
    }

    /// The names of the fields `sent` gets wrong (empty: it matches).
    pub fn mismatches(&self, sent: &Sent) -> Vec<&'static str> {
        let s = &sent.segment;
        let mut out = Vec::new();
        if self.at.is_some_and(|at| sent.at != at) {
            out.push("time");
        }
        if s.flags != self.flags {
            out.push("flags");
        }
        if self.seq.is_some_and(|v| s.seq != SeqNum(v)) {
            out.push("seq");
        }
        if self.ack.is_some_and(|v| s.ack != SeqNum(v)) {
            out.push("ack");
        }
        if self.window.is_some_and(|v| s.window != v) {
            out.push("win");
        }
        if self.len.is_some_and(|v| s.payload.len() != v) {
            out.push("len");
        }
        out
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(at) => write!(f, "at {at} ")?,
            None => f.write_str("at * ")?,
        }
        f.write_str(&letters(self.flags))?;
        let field = |v: Option<String>| v.unwrap_or_else(|| "*".into());
        write!(
            f,
            " seq {} ack {} win {} len {}",
            field(self.seq.map(|v| v.to_string())),
            field(self.ack.map(|v| v.to_string())),
            field(self.window.map(|v| v.to_string())),
            field(self.len.map(|v| v.to_string())),
        )
    }
}

/// One endpoint and a peer played by the test: the test
/// [injects](Script::inject) the peer's segments and
/// [expects](Script::expect) the endpoint's, one at a time, with times — the
/// shape of smoltcp's `send!`/`recv!` tests and of packetdrill scripts.
///
/// Time moves only when the test says so ([`Script::advance_to`]) or when
/// it expects a segment and none is waiting: then the clock jumps from one
/// timer deadline to the next (at most [`max_timer_steps`](Script::max_timer_steps)
/// times) until the endpoint sends something. Every segment keeps the time
/// it was sent at.
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use tcpsim_tcp::testing::{Expect, Script};
/// use tcpsim_tcp::{Config, Endpoint, Flags, Instant, IsnMode};
/// # struct Zero;
/// # impl rand_core::RngCore for Zero {
/// #     fn next_u32(&mut self) -> u32 { 0 }
/// #     fn next_u64(&mut self) -> u64 { 0 }
/// #     fn fill_bytes(&mut self, d: &mut [u8]) { d.fill(0) }
/// # }
///
/// let mut config = Config::rfc();
/// config.isn = IsnMode::Fixed(5000);
/// let mut server = Endpoint::new(Ipv4Addr::new(10, 0, 0, 2), config, Zero);
/// server.listen(80).unwrap();
/// let peer = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000);
/// let mut s = Script::new(server, peer, 80);
///
/// // 0s  < S 1000:1000(0) win 65535
/// s.inject(&s.segment(Flags::SYN, 1000, 0));
/// // 0s  > S. 5000:5000(0) ack 1001
/// s.expect(Expect::flags(Flags::SYN | Flags::ACK).seq(5000).ack(1001).at(Instant::ZERO));
/// // The peer stays silent: RFC 6298's initial RTO of 1 s, then the retransmission.
/// s.expect(Expect::flags(Flags::SYN | Flags::ACK).seq(5000).ack(1001).at(Instant::from_secs(1)));
/// ```
#[derive(Debug)]
pub struct Script {
    /// The current time.
    pub now: Instant,
    /// The endpoint under test.
    pub endpoint: Endpoint,
    /// The peer's address: the source of [`Script::segment`].
    pub peer: SocketAddrV4,
    /// The endpoint's address and port: the destination of
    /// [`Script::segment`].
    pub local: SocketAddrV4,
    /// How many timer deadlines [`Script::expect`] jumps through, at most,
    /// waiting for a segment.
    pub max_timer_steps: u32,
    sent: VecDeque<Sent>,
    /// How many segments have been taken by `expect` or `next_sent`.
    taken: usize,
    events: Vec<(Instant, ConnId, Event)>,
}

impl Script {
    /// A script around `endpoint`, whose peer is `peer`; the segments
    /// [`Script::segment`] builds go to `local_port` at the endpoint's address.
    pub fn new(endpoint: Endpoint, peer: SocketAddrV4, local_port: u16) -> Script {
        let local = SocketAddrV4::new(endpoint.addr(), local_port);
        Script {
            now: Instant::ZERO,
            endpoint,
            peer,
            local,
            max_timer_steps: 1_000,
            sent: VecDeque::new(),
            taken: 0,
            events: Vec::new(),
        }
    }

    /// A segment from the peer to the endpoint with a window of 65535, no
    /// options and no payload (set the fields to change them).
    pub fn segment(&self, flags: Flags, seq: u32, ack: u32) -> Segment {
        Segment::new(
            self.peer,
            self.local,
            SeqNum(seq),
            SeqNum(ack),
            flags,
            65535,
        )
    }

    /// The peer's segment arrives now.
    pub fn inject(&mut self, segment: &Segment) {
        let now = self.now;
        self.endpoint.handle_segment(now, segment);
        self.collect();
    }

    /// Runs an application command on the endpoint now.
    pub fn command<R>(&mut self, f: impl FnOnce(&mut Endpoint, Instant) -> R) -> R {
        let now = self.now;
        let r = f(&mut self.endpoint, now);
        self.collect();
        r
    }

    /// Moves the clock to `t`, firing every timer due on the way at its
    /// deadline. Panics if `t` is in the past.
    #[track_caller]
    pub fn advance_to(&mut self, t: Instant) {
        assert!(
            t >= self.now,
            "advance_to({t}): the clock already reads {}",
            self.now
        );
        let mut steps = 0;
        while let Some(due) = self.endpoint.poll_timeout() {
            if due > t {
                break;
            }
            steps += 1;
            assert!(
                steps <= self.max_timer_steps,
                "livelock: more than {} timer deadlines before {t}",
                self.max_timer_steps
            );
            self.fire(due);
        }
        self.now = t;
    }

    /// Moves the clock forward by `d` (see [`Script::advance_to`]).
    #[track_caller]
    pub fn advance(&mut self, d: Duration) {
        self.advance_to(self.now + d);
    }

    fn fire(&mut self, at: Instant) {
        self.now = self.now.max(at);
        let now = self.now;
        self.endpoint.handle_timeout(now);
        self.collect();
    }

    fn collect(&mut self) {
        let now = self.now;
        while let Some((id, e)) = self.endpoint.poll_event() {
            self.events.push((now, id, e));
        }
        while let Some((id, t)) = self.endpoint.poll_transmit() {
            self.sent.push_back(Sent {
                at: now,
                id,
                segment: t.segment,
                retransmission: t.retransmission.is_some(),
            });
        }
    }

    /// The next segment the endpoint sends: one already waiting, or the
    /// first one a timer produces (the clock jumps to each deadline in
    /// turn). `None` if no timer is armed, or after
    /// [`max_timer_steps`](Script::max_timer_steps) deadlines without one.
    pub fn next_sent(&mut self) -> Option<Sent> {
        let mut steps = 0;
        while self.sent.is_empty() && steps < self.max_timer_steps {
            let due = self.endpoint.poll_timeout()?;
            steps += 1;
            self.fire(due);
        }
        let s = self.sent.pop_front()?;
        self.taken += 1;
        Some(s)
    }

    /// Every segment the endpoint has sent and not yet taken, now (the
    /// clock does not move).
    pub fn take_sent(&mut self) -> Vec<Sent> {
        self.taken += self.sent.len();
        self.sent.drain(..).collect()
    }

    /// Takes the next segment the endpoint sends (see
    /// [`Script::next_sent`]) and checks it against `expect`; panics with
    /// both, and the names of the fields that differ, if it does not match.
    #[track_caller]
    pub fn expect(&mut self, expect: Expect) -> Segment {
        let n = self.taken + 1;
        let Some(sent) = self.next_sent() else {
            panic!(
                "segment #{n}: expected\n  {expect}\nbut the endpoint sent nothing (clock at {}, no timer due)",
                self.now
            );
        };
        let wrong = expect.mismatches(&sent);
        assert!(
            wrong.is_empty(),
            "segment #{n}: {} differ\n  expected {expect}\n       got {sent}",
            wrong.join(", ")
        );
        sent.segment
    }

    /// Checks that the endpoint has sent nothing not yet expected, now
    /// (the clock does not move).
    #[track_caller]
    pub fn expect_none(&mut self) {
        if let Some(s) = self.sent.front() {
            panic!(
                "expected no segment at {}, got segment #{}: {s}",
                self.now,
                self.taken + 1
            );
        }
    }

    /// Moves the clock to `t` (see [`Script::advance_to`]) and checks that
    /// the endpoint sent nothing on the way.
    #[track_caller]
    pub fn expect_quiet_until(&mut self, t: Instant) {
        self.expect_none();
        self.advance_to(t);
        if let Some(s) = self.sent.front() {
            panic!(
                "expected no segment until {t}, got segment #{}: {s}",
                self.taken + 1
            );
        }
    }

    /// Every event the endpoint reported, with its time.
    pub fn events(&self) -> &[(Instant, ConnId, Event)] {
        &self.events
    }

    /// When the endpoint first reported `event`, if it did.
    pub fn saw(&self, event: Event) -> Option<Instant> {
        self.events
            .iter()
            .find(|(_, _, e)| *e == event)
            .map(|(t, _, _)| *t)
    }
}

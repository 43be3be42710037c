//! A deterministic two-endpoint harness: a client and a server joined by a
//! path with a fixed one-way delay, with faults on chosen segments.
//!
//! Time jumps to the next deadline (a delivery or a timer). A bound on the
//! number of steps makes a livelock fail the test instead of hanging it.
//! Every segment sent is logged as one line, packetdrill-like:
//! `1.05s S>C SA 5000 1001 0` = time, direction, flags, seq, ack, payload
//! length; ` drop` and ` rtx` mark dropped segments and retransmissions.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use tcpsim_tcp::{
    Config, ConnId, Duration, Endpoint, Event, Flags, Instant, IsnMode, Segment, SegmentKind,
    SeqNum, State, wire,
};

/// Client ISS in every harness test (CONFORMANCE's x).
pub const X: u32 = 1000;
/// Server ISS in every harness test (CONFORMANCE's y).
pub const Y: u32 = 5000;
/// The server's port.
pub const PORT: u16 = 80;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// What a fault does to a matching segment.
#[derive(Clone, Copy, Debug)]
pub enum Action {
    Drop,
    Delay(Duration),
    /// Flip one bit of the encoded packet; the receiver decodes it and its
    /// checksum check rejects it.
    Corrupt,
}

/// A fault: the `nth` (1-based; `None` = every) segment of `kind` sent by `from`.
#[derive(Clone, Copy, Debug)]
struct Rule {
    from: Side,
    kind: Option<SegmentKind>,
    nth: Option<u32>,
    seen: u32,
    action: Action,
}

/// One segment sent, as the log line shows it.
#[derive(Clone, Debug)]
pub struct Record {
    pub at: Instant,
    pub from: Side,
    pub flags: Flags,
    pub seq: u32,
    pub ack: u32,
    pub len: usize,
    pub dropped: bool,
}

struct InFlight {
    at: Instant,
    order: u64,
    to: Side,
    seg: Segment,
}

pub struct Pair {
    pub now: Instant,
    pub client: Endpoint,
    pub server: Endpoint,
    pub delay: Duration,
    rules: Vec<Rule>,
    flight: Vec<InFlight>,
    order: u64,
    /// One line per segment sent.
    pub log: Vec<String>,
    /// The same segments, structured.
    pub records: Vec<Record>,
    /// Every event, with its time and side.
    pub events: Vec<(Instant, Side, ConnId, Event)>,
    /// Data read by each side's application, in order.
    pub received: [Vec<u8>; 2],
    /// Read data as it arrives (true) or leave it in the buffer.
    pub auto_read: bool,
    /// What each side's application does on its own, indexed by [`Side`].
    pub reactions: [Reactions; 2],
    /// At one instant, fire timers before deliveries (default: deliveries
    /// first). Real kernels break such exact ties either way.
    pub timers_first: bool,
    /// Data each side writes as soon as it is connected.
    pub send_on_connect: [Option<Vec<u8>>; 2],
    /// Data each side writes when it reads end-of-stream (before any close).
    pub send_on_eof: [Option<Vec<u8>>; 2],
    steps: u32,
}

/// Application behaviour that happens at the instant of the triggering event.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reactions {
    /// Shut down the write side (FIN) once connected.
    pub shutdown_on_connect: bool,
    /// Release the socket (close) once connected.
    pub close_on_connect: bool,
    /// Release the socket on end-of-stream (the graceful close of SPEC §3).
    pub close_on_eof: bool,
}

pub fn client_addr() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152)
}

pub fn server_addr() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), PORT)
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn at_ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

impl Pair {
    /// Two endpoints with `config` (ISNs fixed at [`X`] and [`Y`]) and a
    /// one-way delay; the server listens on [`PORT`].
    pub fn new(config: Config, delay: Duration) -> Pair {
        Pair::with_configs(config, config, delay)
    }

    pub fn with_configs(client: Config, server: Config, delay: Duration) -> Pair {
        let rng = || ChaCha8Rng::seed_from_u64(0);
        let mut c = client;
        c.isn = IsnMode::Fixed(X);
        let mut s = server;
        s.isn = IsnMode::Fixed(Y);
        let mut server = Endpoint::new(*server_addr().ip(), s, rng());
        server.listen(PORT).unwrap();
        Pair {
            now: Instant::ZERO,
            client: Endpoint::new(*client_addr().ip(), c, rng()),
            server,
            delay,
            rules: Vec::new(),
            flight: Vec::new(),
            order: 0,
            log: Vec::new(),
            records: Vec::new(),
            events: Vec::new(),
            received: [Vec::new(), Vec::new()],
            auto_read: true,
            reactions: [Reactions::default(); 2],
            timers_first: false,
            send_on_connect: [None, None],
            send_on_eof: [None, None],
            steps: 0,
        }
    }

    fn rule(&mut self, from: Side, kind: Option<SegmentKind>, nth: Option<u32>, action: Action) {
        self.rules.push(Rule {
            from,
            kind,
            nth,
            seen: 0,
            action,
        });
    }

    /// Drops the `nth` segment of `kind` sent by `from`.
    pub fn drop_nth(&mut self, from: Side, kind: SegmentKind, nth: u32) {
        self.rule(from, Some(kind), Some(nth), Action::Drop);
    }

    /// Drops every segment of `kind` sent by `from`.
    pub fn drop_all(&mut self, from: Side, kind: SegmentKind) {
        self.rule(from, Some(kind), None, Action::Drop);
    }

    /// Delays the `nth` segment of `kind` sent by `from` by `extra`.
    pub fn delay_nth(&mut self, from: Side, kind: SegmentKind, nth: u32, extra: Duration) {
        self.rule(from, Some(kind), Some(nth), Action::Delay(extra));
    }

    /// Corrupts the `nth` segment of `kind` sent by `from`.
    pub fn corrupt_nth(&mut self, from: Side, kind: SegmentKind, nth: u32) {
        self.rule(from, Some(kind), Some(nth), Action::Corrupt);
    }

    /// Hands `seg` to a side at the current time, as if it had just arrived.
    pub fn inject(&mut self, to: Side, seg: Segment) {
        let now = self.now;
        self.endpoint(to).handle_segment(now, &seg);
        self.flush();
    }

    /// A segment from one side to the other with the harness addresses.
    pub fn segment(from: Side, seq: u32, ack: u32, flags: Flags) -> Segment {
        let (src, dst) = match from {
            Side::Client => (client_addr(), server_addr()),
            Side::Server => (server_addr(), client_addr()),
        };
        Segment::new(src, dst, SeqNum(seq), SeqNum(ack), flags, 65535)
    }

    /// The client connects to the server at the current time.
    pub fn connect(&mut self) -> ConnId {
        let id = self
            .client
            .connect(self.now, server_addr(), Some(client_addr().port()))
            .unwrap();
        self.flush();
        id
    }

    /// Both ends connect to each other at the current time (simultaneous
    /// open): the server from [`PORT`] to the client's port. No listener.
    pub fn connect_both(&mut self) {
        self.server.unlisten(PORT);
        let now = self.now;
        self.client
            .connect(now, server_addr(), Some(client_addr().port()))
            .unwrap();
        self.server.connect(now, client_addr(), Some(PORT)).unwrap();
        self.flush();
    }

    fn endpoint(&mut self, side: Side) -> &mut Endpoint {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    /// The id of the one connection a side has (or had).
    pub fn conn(&self, side: Side) -> ConnId {
        self.events
            .iter()
            .find(|(_, s, _, _)| *s == side)
            .map(|(_, _, id, _)| *id)
            .expect("that side has no connection")
    }

    /// Runs an application command on a side, then collects its outputs.
    pub fn app(&mut self, side: Side, f: impl FnOnce(&mut Endpoint, Instant, ConnId)) {
        let id = self.conn(side);
        let now = self.now;
        f(self.endpoint(side), now, id);
        self.flush();
    }

    pub fn shutdown(&mut self, side: Side) {
        self.app(side, |e, now, id| e.shutdown(now, id).unwrap());
    }

    pub fn close(&mut self, side: Side) {
        self.app(side, |e, now, id| e.close(now, id));
    }

    pub fn abort(&mut self, side: Side) {
        self.app(side, |e, now, id| e.abort(now, id));
    }

    pub fn send(&mut self, side: Side, data: &[u8]) {
        self.app(side, |e, now, id| {
            e.send(now, id, data).unwrap();
        });
    }

    /// Moves both endpoints' output onto the path and their events into
    /// the log, running the applications' reactions at the same instant.
    fn flush(&mut self) {
        loop {
            let mut busy = false;
            for side in [Side::Client, Side::Server] {
                while let Some((id, e)) = self.endpoint(side).poll_event() {
                    busy = true;
                    self.events.push((self.now, side, id, e));
                    self.react(side, id, e);
                }
                while let Some((_, t)) = self.endpoint(side).poll_transmit() {
                    busy = true;
                    self.transmit(side, t.segment, t.retransmission);
                }
            }
            if !busy {
                break;
            }
        }
    }

    fn react(&mut self, side: Side, id: ConnId, e: Event) {
        let idx = side as usize;
        let now = self.now;
        let r = self.reactions[idx];
        match e {
            Event::Readable if self.auto_read => {
                let mut buf = std::mem::take(&mut self.received[idx]);
                self.endpoint(side).recv_to_end(id, &mut buf);
                self.received[idx] = buf;
            }
            Event::Connected => {
                if let Some(data) = self.send_on_connect[idx].take() {
                    self.endpoint(side).send(now, id, &data).unwrap();
                }
                if r.shutdown_on_connect {
                    self.endpoint(side).shutdown(now, id).unwrap();
                }
                if r.close_on_connect {
                    self.endpoint(side).close(now, id);
                }
            }
            Event::EndOfStream => {
                if let Some(data) = self.send_on_eof[idx].take() {
                    self.endpoint(side).send(now, id, &data).unwrap();
                }
                if r.close_on_eof {
                    self.endpoint(side).close(now, id);
                }
            }
            _ => {}
        }
    }

    fn transmit(&mut self, from: Side, seg: Segment, retransmission: bool) {
        let kind = seg.kind();
        let mut verdict = None;
        for r in &mut self.rules {
            if r.from != from || r.kind.is_some_and(|k| k != kind) {
                continue;
            }
            r.seen += 1;
            if verdict.is_none() && r.nth.is_none_or(|n| n == r.seen) {
                verdict = Some(r.action);
            }
        }
        let mut line = format!(
            "{} {} {} {} {} {}",
            self.now,
            match from {
                Side::Client => "C>S",
                Side::Server => "S>C",
            },
            letters(seg.flags),
            seg.seq,
            seg.ack,
            seg.payload.len()
        );
        if retransmission {
            line.push_str(" rtx");
        }
        self.records.push(Record {
            at: self.now,
            from,
            flags: seg.flags,
            seq: seg.seq.0,
            ack: seg.ack.0,
            len: seg.payload.len(),
            dropped: matches!(verdict, Some(Action::Drop | Action::Corrupt)),
        });
        let mut at = self.now + self.delay;
        match verdict {
            Some(Action::Drop) => {
                line.push_str(" drop");
                self.log.push(line);
                return;
            }
            Some(Action::Delay(extra)) => at += extra,
            Some(Action::Corrupt) => {
                let mut bytes = Vec::new();
                wire::encode(&seg, &mut bytes);
                let bit = self.order as usize % (bytes.len() * 8);
                bytes[bit / 8] ^= 1 << (bit % 8);
                if wire::decode(&bytes).is_err() {
                    line.push_str(" corrupt");
                    self.log.push(line);
                    return;
                }
                panic!("a single flipped bit passed the checksum");
            }
            None => {}
        }
        self.log.push(line);
        self.order += 1;
        self.flight.push(InFlight {
            at,
            order: self.order,
            to: from.other(),
            seg,
        });
    }

    /// The next instant anything happens.
    fn next_time(&mut self) -> Option<Instant> {
        let flight = self.flight.iter().map(|f| f.at).min();
        [
            flight,
            self.client.poll_timeout(),
            self.server.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs until nothing is left to happen, or until `limit`.
    pub fn run_until(&mut self, limit: Instant) {
        while let Some(t) = self.next_time() {
            if t > limit {
                break;
            }
            self.steps += 1;
            assert!(self.steps < 100_000, "livelock: more than 100000 steps");
            self.now = t;
            if self.timers_first {
                self.fire_timers();
            }
            // Deliveries due now, in the order they were sent; then timers.
            while let Some(i) = self
                .flight
                .iter()
                .enumerate()
                .filter(|(_, f)| f.at <= t)
                .min_by_key(|(_, f)| (f.at, f.order))
                .map(|(i, _)| i)
            {
                let f = self.flight.remove(i);
                let now = self.now;
                self.endpoint(f.to).handle_segment(now, &f.seg);
                self.flush();
            }
            self.fire_timers();
        }
        if self.now < limit && limit != Instant::MAX {
            self.now = limit;
        }
    }

    fn fire_timers(&mut self) {
        let now = self.now;
        self.client.handle_timeout(now);
        self.flush();
        self.server.handle_timeout(now);
        self.flush();
    }

    /// Runs until nothing is left to happen.
    pub fn run(&mut self) {
        self.run_until(Instant::MAX);
    }

    /// The states a side's connection went through, starting with the first `from`.
    pub fn states(&self, side: Side) -> Vec<State> {
        let mut out = Vec::new();
        for (_, s, _, e) in &self.events {
            if let (true, Event::StateChanged { from, to }) = (*s == side, e) {
                if out.is_empty() {
                    out.push(*from);
                }
                out.push(*to);
            }
        }
        out
    }

    /// When a side first entered `state`.
    pub fn entered(&self, side: Side, state: State) -> Option<Instant> {
        self.events.iter().find_map(|(t, s, _, e)| match e {
            Event::StateChanged { to, .. } if *s == side && *to == state => Some(*t),
            _ => None,
        })
    }

    /// Whether a side saw `event`, and when first.
    pub fn saw(&self, side: Side, event: Event) -> Option<Instant> {
        self.events
            .iter()
            .find(|(_, s, _, e)| *s == side && *e == event)
            .map(|(t, _, _, _)| *t)
    }

    /// How many times a side saw `event`.
    pub fn count(&self, side: Side, event: Event) -> usize {
        self.events
            .iter()
            .filter(|(_, s, _, e)| *s == side && *e == event)
            .count()
    }

    /// The whole segment log, one line per segment.
    pub fn log_text(&self) -> String {
        self.log.join("\n")
    }
}

/// tcpdump's letters, in the order S F R P A.
pub fn letters(f: Flags) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (Flags::SYN, 'S'),
        (Flags::FIN, 'F'),
        (Flags::RST, 'R'),
        (Flags::PSH, 'P'),
        (Flags::ACK, 'A'),
    ] {
        if f.contains(bit) {
            s.push(c);
        }
    }
    s
}

/// Compares the segment log with the expected lines, showing both in full on a mismatch.
#[macro_export]
macro_rules! assert_segments {
    ($pair:expr, [$($line:expr),* $(,)?]) => {{
        let expected: Vec<String> = vec![$($line.to_string()),*];
        let actual = &$pair.log;
        assert!(
            *actual == expected,
            "segments differ\n--- expected\n{}\n--- actual\n{}\n",
            expected.join("\n"),
            actual.join("\n")
        );
    }};
}

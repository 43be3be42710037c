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
use tcpsim_tcp::testing::{Fate, Hooks, Script, World};
pub use tcpsim_tcp::testing::{Side, letters};
use tcpsim_tcp::{
    Config, ConnId, Duration, Endpoint, Event, Flags, Instant, IsnMode, Segment, SegmentKind,
    SeqNum, State, Transmit, wire,
};

/// Client ISS in every harness test (CONFORMANCE's x).
pub const X: u32 = 1000;
/// Server ISS in every harness test (CONFORMANCE's y).
pub const Y: u32 = 5000;
/// The server's port.
pub const PORT: u16 = 80;

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
    /// The window field, as sent.
    pub window: u16,
    /// The MSS option, if any.
    pub mss: Option<u16>,
    /// The other options.
    pub options: tcpsim_tcp::Options,
    /// The delay a fault added on the way.
    pub extra_delay: Duration,
}

pub struct Pair {
    world: World,
    rules: Vec<Rule>,
    /// Segments put on the path so far (picks the bit a corruption flips).
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
    /// Data each side writes as soon as it is connected.
    pub send_on_connect: [Option<Vec<u8>>; 2],
    /// Data each side writes when it reads end-of-stream (before any close).
    pub send_on_eof: [Option<Vec<u8>>; 2],
    /// Each side's recovery statistics, as of its connection's last event.
    pub stats: [Option<tcpsim_tcp::RecoveryStats>; 2],
}

/// The endpoints, the clock and `timers_first` are the world's.
impl std::ops::Deref for Pair {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl std::ops::DerefMut for Pair {
    fn deref_mut(&mut self) -> &mut World {
        &mut self.world
    }
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
    /// Abort (RST) once connected: `close()` after `SO_LINGER {1, 0}`.
    pub abort_on_connect: bool,
}

/// The applications, the faults and the log, as the world's [`Hooks`].
struct App<'a> {
    rules: &'a mut Vec<Rule>,
    order: &'a mut u64,
    log: &'a mut Vec<String>,
    records: &'a mut Vec<Record>,
    events: &'a mut Vec<(Instant, Side, ConnId, Event)>,
    received: &'a mut [Vec<u8>; 2],
    auto_read: bool,
    reactions: [Reactions; 2],
    send_on_connect: &'a mut [Option<Vec<u8>>; 2],
    send_on_eof: &'a mut [Option<Vec<u8>>; 2],
    stats: &'a mut [Option<tcpsim_tcp::RecoveryStats>; 2],
}

pub fn client_addr() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152)
}

/// SYN+ACK, ACK, FIN+ACK and PSH+ACK, as the packet-script tests write them.
pub const SA: Flags = Flags::SYN.union(Flags::ACK);
/// ACK.
pub const A: Flags = Flags::ACK;
/// FIN+ACK.
pub const FA: Flags = Flags::FIN.union(Flags::ACK);
/// PSH+ACK.
pub const PA: Flags = Flags::PSH.union(Flags::ACK);
/// The peer a packet-script test plays.
pub fn peer() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000)
}

/// The server's connection with [`peer`].
pub fn conn(ep: &Endpoint) -> ConnId {
    ep.find(server_addr(), peer())
        .expect("the connection exists")
}

/// A packet script against a server with `config` and ISS [`Y`],
/// listening on [`PORT`], played by [`peer`].
pub fn listening(mut config: Config) -> Script {
    config.isn = IsnMode::Fixed(Y);
    let mut ep = Endpoint::new(*server_addr().ip(), config, ChaCha8Rng::seed_from_u64(0));
    ep.listen(PORT).unwrap();
    Script::new(ep, peer(), PORT)
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
        let client = Endpoint::new(*client_addr().ip(), c, rng());
        Pair {
            world: World::new(client, server, delay),
            rules: Vec::new(),
            order: 0,
            log: Vec::new(),
            records: Vec::new(),
            events: Vec::new(),
            received: [Vec::new(), Vec::new()],
            auto_read: true,
            reactions: [Reactions::default(); 2],
            send_on_connect: [None, None],
            send_on_eof: [None, None],
            stats: [None, None],
        }
    }

    /// The world and the hooks that run in it.
    fn split(&mut self) -> (&mut World, App<'_>) {
        let Pair {
            world,
            rules,
            order,
            log,
            records,
            events,
            received,
            auto_read,
            reactions,
            send_on_connect,
            send_on_eof,
            stats,
        } = self;
        let app = App {
            rules,
            order,
            log,
            records,
            events,
            received,
            auto_read: *auto_read,
            reactions: *reactions,
            send_on_connect,
            send_on_eof,
            stats,
        };
        (world, app)
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
        let (world, mut app) = self.split();
        world.inject(to, &seg, &mut app);
    }

    /// A segment from one side to the other with the harness addresses.
    pub fn segment(from: Side, seq: u32, ack: u32, flags: Flags) -> Segment {
        let (src, dst) = match from {
            Side::Client => (client_addr(), server_addr()),
            Side::Server => (server_addr(), client_addr()),
        };
        Segment::new(src, dst, SeqNum(seq), SeqNum(ack), flags, 65535)
    }

    /// Runs `f` on a side's endpoint at the current time, then collects
    /// its outputs.
    fn command<R>(&mut self, side: Side, f: impl FnOnce(&mut Endpoint, Instant) -> R) -> R {
        let (world, mut app) = self.split();
        world.command(side, &mut app, f)
    }

    /// The client connects to the server at the current time.
    /// Runs `f` on a side's endpoint now (an application call on no
    /// particular connection), then collects its outputs.
    pub fn command_on<R>(&mut self, side: Side, f: impl FnOnce(&mut Endpoint, Instant) -> R) -> R {
        self.command(side, f)
    }

    pub fn connect(&mut self) -> ConnId {
        self.command(Side::Client, |e, now| {
            e.connect(now, server_addr(), Some(client_addr().port()))
                .unwrap()
        })
    }

    /// Both ends connect to each other at the current time (simultaneous
    /// open): the server from [`PORT`] to the client's port. No listener.
    pub fn connect_both(&mut self) {
        self.world.server.unlisten(PORT);
        let now = self.world.now;
        self.world
            .client
            .connect(now, server_addr(), Some(client_addr().port()))
            .unwrap();
        self.world
            .server
            .connect(now, client_addr(), Some(PORT))
            .unwrap();
        let (world, mut app) = self.split();
        world.flush(&mut app);
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
        self.command(side, |e, now| f(e, now, id));
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

    /// Runs until nothing is left to happen, or until `limit`.
    pub fn run_until(&mut self, limit: Instant) {
        let (world, mut app) = self.split();
        if let Err(e) = world.run_until(limit, &mut app) {
            panic!("{e}");
        }
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

    /// A side's recovery statistics as of its connection's last event.
    pub fn recovery_stats(&self, side: Side) -> tcpsim_tcp::RecoveryStats {
        self.stats[side as usize].expect("that side had a connection")
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

impl Hooks for App<'_> {
    fn on_event(&mut self, ep: &mut Endpoint, now: Instant, side: Side, id: ConnId, e: Event) {
        self.events.push((now, side, id, e));
        let idx = side as usize;
        if let Some(c) = ep.connection(id) {
            self.stats[idx] = Some(c.recovery_stats());
        }
        let r = self.reactions[idx];
        match e {
            Event::Readable if self.auto_read => {
                ep.recv_to_end(id, &mut self.received[idx]);
            }
            Event::Connected => {
                if let Some(data) = self.send_on_connect[idx].take() {
                    ep.send(now, id, &data).unwrap();
                }
                if r.shutdown_on_connect {
                    ep.shutdown(now, id).unwrap();
                }
                if r.close_on_connect {
                    ep.close(now, id);
                }
                if r.abort_on_connect {
                    ep.abort(now, id);
                }
            }
            Event::EndOfStream => {
                if let Some(data) = self.send_on_eof[idx].take() {
                    ep.send(now, id, &data).unwrap();
                }
                if r.close_on_eof {
                    ep.close(now, id);
                }
            }
            _ => {}
        }
    }

    fn on_transmit(&mut self, now: Instant, from: Side, _: Option<ConnId>, t: &Transmit) -> Fate {
        let seg = &t.segment;
        let kind = seg.kind();
        let mut verdict = None;
        for r in self.rules.iter_mut() {
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
            now,
            from.arrow(),
            letters(seg.flags),
            seg.seq,
            seg.ack,
            seg.payload.len()
        );
        if t.is_retransmission() {
            line.push_str(" rtx");
        }
        self.records.push(Record {
            at: now,
            from,
            flags: seg.flags,
            seq: seg.seq.0,
            ack: seg.ack.0,
            len: seg.payload.len(),
            dropped: matches!(verdict, Some(Action::Drop | Action::Corrupt)),
            extra_delay: match verdict {
                Some(Action::Delay(d)) => d,
                _ => Duration::ZERO,
            },
            window: seg.window,
            mss: seg.mss,
            options: seg.options,
        });
        let fate = match verdict {
            Some(Action::Drop) => {
                line.push_str(" drop");
                self.log.push(line);
                return Fate::Drop;
            }
            Some(Action::Delay(extra)) => Fate::Delay(extra),
            Some(Action::Corrupt) => {
                let mut bytes = Vec::new();
                wire::encode(seg, &mut bytes);
                let bit = *self.order as usize % (bytes.len() * 8);
                bytes[bit / 8] ^= 1 << (bit % 8);
                if wire::decode(&bytes).is_err() {
                    line.push_str(" corrupt");
                    self.log.push(line);
                    return Fate::Drop;
                }
                panic!("a single flipped bit passed the checksum");
            }
            None => Fate::Deliver,
        };
        self.log.push(line);
        *self.order += 1;
        fate
    }
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

/// The `linux` profile with exact timers ([`tcpsim_tcp::TimerWheel::Exact`]).
/// The conformance tests hold each timer to the duration the kernel
/// computes (in jiffies: 200 ms, 1 s, 60 s); the kernel's timer wheel then
/// fires it up to one bucket later, which is tested on its own
/// (`timer_wheel` in the TCP crate, `opening::line04_every_syn_lost_linux_on_the_wheel`)
/// and, with the whole profile, against the kernel's captures
/// (`linux_traces`).
pub fn linux_exact() -> Config {
    Config {
        timer_wheel: tcpsim_tcp::TimerWheel::Exact,
        ..Config::linux()
    }
}

//! Fuzz check for the TCP state machine: the input is a script that drives
//! two `tcpsim_tcp::Endpoint`s (a client and a server with a listener)
//! through well-formed exchanges into some state, and then feeds them
//! arbitrary segments, timer firings and application calls.
//!
//! What must always hold, whatever the script:
//! - nothing panics, and nothing loops for ever (libFuzzer's `-timeout`);
//! - after `handle_timeout(now)` no deadline is at or before `now`, and at
//!   any time no deadline is before `now` (a timer in the past would never
//!   fire in the engine);
//! - a connection the endpoint still holds is neither CLOSED nor LISTEN,
//!   and the endpoint forgets a connection exactly when it reported its end
//!   (one terminal event: `Closed`, `Refused`, `Reset` or `TimedOut`);
//! - state changes chain (`from` is the state reported before), `Connected`
//!   comes in ESTABLISHED, end of stream is reported once, no event follows
//!   the terminal one;
//! - every segment sent has the sender's address, the 4-tuple of its
//!   connection, a payload no longer than the MSS, and survives an
//!   encode/decode round trip;
//! - while nothing foreign has been injected (no forged segment, no abort,
//!   one connection per side), every octet read is the octet written at
//!   that stream offset, and when the script ends a lossless settle brings
//!   both ends to CLOSED with every octet delivered (if both shut down and
//!   neither gave up, and the clock is still below 2^63 ns, see
//!   [`SETTLE_CLOCK_END`]).
//!
//! Bytes are read from the input as needed; a finished input reads as
//! zeros, so every input is a valid script.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use tcpsim_tcp::testing::{self, Fate, Hooks, Side as End};
use tcpsim_tcp::{
    Config, ConnId, Duration, Endpoint, Event, Flags, Instant, IsnMode, Segment, SeqNum, State,
    Transmit, wire,
};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// An address no endpoint has: segments from it test the RST paths.
const STRANGER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
const PORT: u16 = 80;
/// The client's port in a simultaneous open.
const SIMUL_PORT: u16 = 5000;
/// Most segments one pump carries before it stops.
const PUMP_LIMIT: usize = 2_000;
/// Most steps of the final settle before it is declared a livelock.
const SETTLE_LIMIT: usize = 200_000;
/// The latest clock at which the settle's liveness checks apply: 2^63 ns
/// (292 years). The script may run the clock up to [`Instant::MAX`] (the
/// invariants hold there too), but from about there on a timer's deadline
/// no longer fits in the clock and is kept as never (`timer_table.rs`), so a
/// TIME-WAIT or a retransmission can never end. tcpsim's engine never gets
/// near it: every duration of a file is at most 1 000 000 h (2^61.6 ns).
const SETTLE_CLOCK_END: Instant = Instant::from_nanos(1 << 63);

/// Prints the script as it runs when `TCPSIM_FUZZ_TRACE` is set (for
/// reading a crashing input: `TCPSIM_FUZZ_TRACE=1 cargo test ... fuzz_regressions_endpoint`).
fn trace(what: impl FnOnce() -> String) {
    if std::env::var_os("TCPSIM_FUZZ_TRACE").is_some() {
        eprintln!("{}", what());
    }
}

/// The input as a stream of numbers; reads past the end give zeros.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    fn i16(&mut self) -> i16 {
        self.u16() as i16
    }
}

/// The octet at stream offset `at` of the data sent by the client (`0`) or
/// the server (`1`): different patterns, so a crossed stream shows.
fn pattern(dir: usize, at: u64) -> u8 {
    match dir {
        0 => (at % 251) as u8,
        _ => ((at * 7 + 3) % 253) as u8,
    }
}

/// What the script knows about one connection.
#[derive(Debug)]
struct Track {
    local: SocketAddrV4,
    remote: SocketAddrV4,
    /// The state last reported by a `StateChanged`, if any yet.
    state: Option<State>,
    /// The terminal event has been reported.
    ended: bool,
    /// How it ended.
    end_event: Option<Event>,
    eof: bool,
    /// The application shut down its write side (or released or aborted it).
    shut: bool,
    written: u64,
    read: u64,
}

/// What the script knows about one side; its endpoint lives in the
/// [`testing::World`], and so do the segments on their way to it.
struct Host {
    addr: Ipv4Addr,
    /// Which pattern this side writes.
    dir: usize,
    mss: u16,
    tracks: BTreeMap<ConnId, Track>,
    /// Connections in creation order.
    order: Vec<ConnId>,
    auto_read: bool,
}

impl Host {
    /// The script's side `dir` at `addr`, and its endpoint.
    fn new(
        addr: Ipv4Addr,
        dir: usize,
        config: Config,
        seed: u64,
        auto_read: bool,
    ) -> (Host, Endpoint) {
        let rng = tcpsim_net::stream(seed, if dir == 0 { "client" } else { "server" });
        let host = Host {
            addr,
            dir,
            mss: config.mss,
            tracks: BTreeMap::new(),
            order: Vec::new(),
            auto_read,
        };
        (host, Endpoint::new(addr, config, rng))
    }

    fn register(&mut self, ep: &Endpoint, id: ConnId) {
        if self.tracks.contains_key(&id) {
            return;
        }
        let c = ep
            .connection(id)
            .unwrap_or_else(|| panic!("new connection {id} is already gone"));
        self.tracks.insert(
            id,
            Track {
                local: c.local(),
                remote: c.remote(),
                state: None,
                ended: false,
                end_event: None,
                eof: false,
                shut: false,
                written: 0,
                read: 0,
            },
        );
        self.order.push(id);
    }

    /// A live connection chosen by `pick`, if any.
    fn pick(&self, pick: u8) -> Option<ConnId> {
        let live: Vec<ConnId> = self
            .order
            .iter()
            .copied()
            .filter(|id| !self.tracks[id].ended)
            .collect();
        if live.is_empty() {
            // A finished one still makes a valid (rejected) command target.
            return self.order.last().copied();
        }
        Some(live[usize::from(pick) % live.len()])
    }
}

/// The script's bookkeeping and the checks on every output: the hooks of
/// the [`testing::World`] that carries the segments.
struct App {
    hosts: [Host; 2],
    /// Something foreign happened: forged segments, aborts, a second
    /// connection; exact data checks are off from then on.
    tainted: bool,
    /// `close` (release) was called somewhere: data may be discarded.
    released: bool,
}

/// The two endpoints on a path without delay whose queues the script
/// works by hand (deliver, lose, duplicate, reorder), and the script.
struct World {
    net: testing::World,
    app: App,
}

fn end(s: usize) -> End {
    End::from_index(s)
}

impl App {
    /// Reads a connection's data, checking it against the writer's pattern.
    fn read(&mut self, ep: &mut Endpoint, s: usize, id: ConnId) {
        let mut buf = Vec::new();
        let n = ep.recv_to_end(id, &mut buf);
        assert_eq!(n, buf.len());
        let tainted = self.tainted;
        let side = &mut self.hosts[s];
        let writer = 1 - side.dir;
        let Some(t) = side.tracks.get_mut(&id) else {
            return;
        };
        if !tainted {
            for (k, &b) in buf.iter().enumerate() {
                let at = t.read + k as u64;
                assert_eq!(
                    b,
                    pattern(writer, at),
                    "side {s} conn {id}: octet at stream offset {at} is {b}, expected {}",
                    pattern(writer, at)
                );
            }
        }
        t.read += n as u64;
    }
}

impl World {
    /// Side `s`'s endpoint.
    fn ep(&mut self, s: usize) -> &mut Endpoint {
        self.net.endpoint_mut(end(s))
    }

    /// Reads a connection's data, checking it against the writer's pattern.
    fn read(&mut self, s: usize, id: ConnId) {
        self.app.read(self.net.endpoint_mut(end(s)), s, id);
    }

    /// Takes every event and segment out of the endpoints, checking them
    /// (only side `s` has any: every step drains the side it acts on), and
    /// routes the segments.
    fn drain(&mut self, s: usize) {
        self.net.flush(&mut self.app);
        self.checked(s);
    }

    /// The checks after side `s` acted.
    fn checked(&self, s: usize) {
        self.check_side(s);
        for (id, t) in &self.app.hosts[s].tracks {
            trace(|| {
                format!(
                    "  side {s} conn {id}: {:?} written {} read {}",
                    t.state, t.written, t.read
                )
            });
        }
    }
}

impl Hooks for App {
    fn on_event(&mut self, ep: &mut Endpoint, now: Instant, side: End, id: ConnId, ev: Event) {
        let s = side.index();
        trace(|| format!("{now} side {s} conn {id}: {ev:?}"));
        if !self.hosts[s].tracks.contains_key(&id) {
            self.hosts[s].register(ep, id);
            if self.hosts[s].order.len() > 1 {
                self.tainted = true;
            }
        }
        let auto_read = self.hosts[s].auto_read;
        let t = self.hosts[s]
            .tracks
            .get_mut(&id)
            .unwrap_or_else(|| unreachable!());
        assert!(
            !t.ended,
            "side {s} conn {id}: event {ev:?} after its terminal event"
        );
        match ev {
            Event::StateChanged { from, to } => {
                assert_ne!(from, to, "side {s} conn {id}: change to the same state");
                if let Some(prev) = t.state {
                    assert_eq!(from, prev, "side {s} conn {id}: state changes do not chain");
                } else {
                    assert!(
                        matches!(from, State::Closed | State::Listen),
                        "side {s} conn {id}: first change from {from}"
                    );
                }
                assert_ne!(
                    to,
                    State::Listen,
                    "side {s} conn {id}: a connection entered LISTEN"
                );
                t.state = Some(to);
            }
            Event::Connected => {
                // The handshake is complete. The state may already be past
                // ESTABLISHED: a FIN the application asked for in SYN-SENT
                // or SYN-RECEIVED (RFC 9293 §3.10.4, CLOSE in SYN-RECEIVED:
                // form a FIN and enter FIN-WAIT-1) goes out in the same
                // step, before the event is handed over.
                // ESTABLISHED, or CLOSE-WAIT (the peer's FIN came with
                // the handshake's end), or, once this side has sent its
                // FIN, any state that FIN leads to.
                let ours = matches!(
                    t.state,
                    Some(
                        State::FinWait1
                            | State::FinWait2
                            | State::Closing
                            | State::TimeWait
                            | State::LastAck
                    )
                );
                assert!(
                    matches!(t.state, Some(State::Established | State::CloseWait))
                        || (ours && t.shut),
                    "side {s} conn {id}: Connected in {:?} (shut: {})",
                    t.state,
                    t.shut
                );
            }
            Event::EndOfStream => {
                assert!(!t.eof, "side {s} conn {id}: end of stream reported twice");
                t.eof = true;
            }
            Event::Readable => {
                if auto_read {
                    self.read(ep, s, id);
                }
            }
            Event::TimerFired(_) | Event::AllAcked | Event::Writable => {}
            Event::Closed | Event::Refused | Event::Reset | Event::TimedOut => {
                assert_eq!(
                    t.state,
                    Some(State::Closed),
                    "side {s} conn {id}: {ev:?} while not CLOSED"
                );
                t.ended = true;
                t.end_event = Some(ev);
            }
        }
    }

    fn on_transmit(&mut self, now: Instant, from: End, id: Option<ConnId>, t: &Transmit) -> Fate {
        let s = from.index();
        let seg = &t.segment;
        let side = &self.hosts[s];
        assert_eq!(
            *seg.src.ip(),
            side.addr,
            "side {s} sent from another address: {seg:?}"
        );
        if let Some(id) = id {
            let t = side
                .tracks
                .get(&id)
                .unwrap_or_else(|| panic!("side {s}: segment of unknown connection {id}"));
            assert_eq!(
                (seg.src, seg.dst),
                (t.local, t.remote),
                "side {s} conn {id}: segment with another 4-tuple"
            );
            assert!(
                seg.payload.len() <= usize::from(side.mss),
                "side {s} conn {id}: payload {} longer than the MSS {}",
                seg.payload.len(),
                side.mss
            );
        } else {
            assert!(
                seg.flags.rst(),
                "side {s}: connectionless segment without RST: {seg:?}"
            );
        }
        let mut bytes = Vec::new();
        wire::encode(seg, &mut bytes);
        let back = wire::decode(&bytes).unwrap_or_else(|e| panic!("{seg:?} does not decode: {e}"));
        assert_eq!(back, *seg, "a sent segment does not survive encode/decode");
        trace(|| format!("{now} side {s} sends {seg:?}"));
        // Only segments for the other side's address reach it.
        if *seg.dst.ip() == self.hosts[1 - s].addr {
            Fate::Deliver
        } else {
            Fate::Drop
        }
    }
}

impl World {
    /// Endpoint and script agree on every connection.
    fn check_side(&self, s: usize) {
        let side = &self.app.hosts[s];
        let ep = self.net.endpoint(end(s));
        let now = self.net.now;
        for (&id, t) in &side.tracks {
            match ep.connection(id) {
                // An ended connection is held on only while its application
                // has data to read and has not released it.
                Some(c) if t.ended || c.state() == State::Closed => {
                    assert!(
                        c.state() == State::Closed && c.readable() > 0 && !c.is_released(),
                        "side {s} conn {id}: still held after its end ({}, {} unread)",
                        c.state(),
                        c.readable()
                    );
                }
                Some(c) => {
                    assert!(
                        !matches!(c.state(), State::Closed | State::Listen),
                        "side {s} conn {id}: held in {}",
                        c.state()
                    );
                    if let Some(st) = t.state {
                        assert_eq!(c.state(), st, "side {s} conn {id}: reported state is stale");
                    }
                    assert!(
                        c.snd_una() <= c.snd_nxt(),
                        "side {s} conn {id}: SND.UNA > SND.NXT"
                    );
                    if let Some(due) = c.poll_timeout() {
                        assert!(
                            due >= now,
                            "side {s} conn {id}: deadline {due} before now {now}"
                        );
                    }
                }
                None => assert!(
                    t.ended,
                    "side {s} conn {id}: forgotten without a terminal event"
                ),
            }
        }
    }

    fn deliver(&mut self, to: usize) -> bool {
        let Some(f) = self.net.in_flight(end(to)).front() else {
            return false;
        };
        let now = self.net.now;
        trace(|| format!("{now} side {to} gets {:?}", f.segment));
        self.net.deliver_next(end(to), &mut self.app);
        self.checked(to);
        true
    }

    /// Carries segments both ways until none is left (or the limit).
    fn pump(&mut self) {
        for _ in 0..PUMP_LIMIT {
            let a = self.deliver(0);
            let b = self.deliver(1);
            if !a && !b {
                return;
            }
        }
    }

    fn fire(&mut self, order: u8) {
        let now = self.net.now;
        for k in 0..2 {
            let s = (k + usize::from(order & 1)) % 2;
            self.net
                .command(end(s), &mut self.app, |ep, now| ep.handle_timeout(now));
            self.checked(s);
            if let Some(due) = self.ep(s).poll_timeout() {
                assert!(
                    due > now,
                    "side {s}: deadline {due} not after now {now} after handle_timeout"
                );
            }
        }
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        self.net.next_deadline()
    }

    fn advance(&mut self, to: Instant, order: u8) {
        if to > self.net.now {
            self.net.now = to;
        }
        self.fire(order);
    }

    fn connect(&mut self, s: usize, remote: SocketAddrV4, port: Option<u16>) -> Option<ConnId> {
        let now = self.net.now;
        let r = self.ep(s).connect(now, remote, port);
        let id = r.ok()?;
        self.app.hosts[s].register(self.net.endpoint(end(s)), id);
        if self.app.hosts[s].order.len() > 1 {
            self.app.tainted = true;
        }
        self.drain(s);
        Some(id)
    }

    fn send(&mut self, s: usize, id: ConnId, len: usize) {
        let side = &mut self.app.hosts[s];
        let Some(t) = side.tracks.get(&id) else {
            return;
        };
        let data: Vec<u8> = (0..len as u64)
            .map(|k| pattern(side.dir, t.written + k))
            .collect();
        let now = self.net.now;
        if let Ok(n) = self.net.endpoint_mut(end(s)).send(now, id, &data) {
            // A bounded send buffer may take part of the data; the stream
            // goes on from what it took.
            assert!(n <= len, "send took more than it was given");
            if let Some(t) = side.tracks.get_mut(&id) {
                t.written += n as u64;
            }
        }
        self.drain(s);
    }

    fn shut(&mut self, s: usize, id: ConnId) {
        if let Some(t) = self.app.hosts[s].tracks.get_mut(&id) {
            t.shut = true;
        }
    }

    /// A segment built from the input, aimed at side `to`.
    fn forge(&self, inp: &mut Input<'_>, to: usize) -> Segment {
        let side = &self.app.hosts[to];
        let ep = self.net.endpoint(end(to));
        let mode = inp.u8();
        let conn = side.pick(inp.u8()).and_then(|id| ep.connection(id));
        let other = self.app.hosts[1 - to].addr;
        let (src, dst) = match (mode & 3, conn) {
            (0, Some(c)) => (c.remote(), c.local()),
            (0 | 1, _) => (
                SocketAddrV4::new(other, inp.u16()),
                SocketAddrV4::new(side.addr, if mode & 4 == 0 { PORT } else { inp.u16() }),
            ),
            (2, _) => (
                SocketAddrV4::new(other, inp.u16()),
                SocketAddrV4::new(side.addr, inp.u16()),
            ),
            _ => {
                let dst_ip = if mode & 4 == 0 { side.addr } else { STRANGER };
                (
                    SocketAddrV4::new(STRANGER, inp.u16()),
                    SocketAddrV4::new(dst_ip, inp.u16()),
                )
            }
        };
        let flags = Flags::from_bits(inp.u8());
        let seq = match ((mode >> 3) & 3, conn) {
            (0, Some(c)) => c.rcv_nxt() + inp.i16() as u32,
            (1, Some(c)) => c.irs() + inp.i16() as u32,
            (2, Some(c)) => SeqNum(c.rcv_nxt().0.wrapping_add(inp.u32())),
            _ => SeqNum(inp.u32()),
        };
        let ack = match ((mode >> 5) & 3, conn) {
            (0, Some(c)) => c.snd_nxt() + inp.i16() as u32,
            (1, Some(c)) => c.snd_una() + inp.i16() as u32,
            (2, Some(c)) => c.iss() + inp.i16() as u32,
            _ => SeqNum(inp.u32()),
        };
        let window = match inp.u8() % 4 {
            0 => 65535,
            1 => 0,
            _ => inp.u16(),
        };
        let mut seg = Segment::new(src, dst, seq, ack, flags, window);
        if mode & 0x80 != 0 {
            seg.mss = Some(inp.u16());
        }
        let len = match inp.u8() {
            0..=127 => 0,
            n @ 128..=250 => usize::from(n - 127),
            _ => usize::from(inp.u16() % 3000),
        };
        seg.payload = (0..len).map(|k| (k % 256) as u8).collect();
        seg
    }

    fn inject(&mut self, inp: &mut Input<'_>, to: usize) {
        let seg = self.forge(inp, to);
        trace(|| format!("{} side {to} gets forged {seg:?}", self.net.now));
        self.app.tainted = true;
        self.net.inject(end(to), &seg, &mut self.app);
        self.checked(to);
    }

    fn app(&mut self, inp: &mut Input<'_>, s: usize) {
        let op = inp.u8();
        let Some(id) = self.app.hosts[s].pick(inp.u8()) else {
            if op % 8 == 7 {
                self.new_connection(inp, s);
            }
            return;
        };
        let now = self.net.now;
        match op % 8 {
            0 | 1 => {
                let len = usize::from(inp.u16() % 6000);
                self.send(s, id, len);
            }
            2 => {
                let _ = self.ep(s).shutdown(now, id);
                self.shut(s, id);
                self.drain(s);
            }
            3 => {
                // Release discards what is readable: those octets count as
                // read, so the stream offsets stay right.
                let dropped = self.ep(s).connection(id).map_or(0, |c| c.readable());
                if let Some(t) = self.app.hosts[s].tracks.get_mut(&id) {
                    t.read += dropped as u64;
                }
                self.ep(s).close(now, id);
                self.shut(s, id);
                self.app.released = true;
                self.drain(s);
            }
            4 => {
                self.ep(s).abort(now, id);
                self.shut(s, id);
                self.app.tainted = true;
                self.drain(s);
            }
            5 => {
                let mut buf = vec![0u8; usize::from(inp.u16() % 4000)];
                let n = self.ep(s).recv(id, &mut buf);
                // Check like `read`: the octets against the pattern.
                let tainted = self.app.tainted;
                let side = &mut self.app.hosts[s];
                let writer = 1 - side.dir;
                if let Some(t) = side.tracks.get_mut(&id) {
                    if !tainted {
                        for (k, &b) in buf[..n].iter().enumerate() {
                            assert_eq!(b, pattern(writer, t.read + k as u64), "recv: wrong octet");
                        }
                    }
                    t.read += n as u64;
                }
                self.drain(s);
            }
            6 => self.read(s, id),
            _ => self.new_connection(inp, s),
        }
    }

    fn new_connection(&mut self, inp: &mut Input<'_>, s: usize) {
        let other = self.app.hosts[1 - s].addr;
        let b = inp.u8();
        let remote = SocketAddrV4::new(other, if b & 1 == 0 { PORT } else { inp.u16() });
        let port = if b & 2 == 0 { None } else { Some(inp.u16()) };
        self.connect(s, remote, port);
    }

    /// Drives the pair to a starting state chosen by `recipe` with
    /// well-formed exchanges only.
    fn prefix(&mut self, recipe: u8, inp: &mut Input<'_>) {
        let server = SocketAddrV4::new(SERVER, PORT);
        let recipe = recipe % 11;
        if recipe == 0 {
            return; // only the listener
        }
        if recipe == 10 {
            // Simultaneous open: each end connects to the other; both pass
            // SYN-SENT and SYN-RECEIVED.
            let c = self.connect(0, server, Some(SIMUL_PORT));
            let _ = self.ep(1).unlisten(PORT);
            let s = self.connect(1, SocketAddrV4::new(CLIENT, SIMUL_PORT), Some(PORT));
            if inp.u8() & 1 == 0 {
                self.pump();
            }
            let _ = (c, s);
            return;
        }
        let Some(c) = self.connect(0, server, None) else {
            return;
        };
        if recipe == 1 {
            return; // SYN-SENT, SYN in flight
        }
        self.deliver(1);
        if recipe == 2 {
            return; // server SYN-RECEIVED, SYN-ACK in flight
        }
        self.pump();
        let sid = self.app.hosts[1].order.first().copied();
        let now = self.net.now;
        match recipe {
            3 => {} // both ESTABLISHED
            4 => {
                self.send(0, c, 3000);
                if let Some(s) = sid {
                    self.send(1, s, 1500);
                }
            }
            5 => {
                let _ = self.ep(0).shutdown(now, c);
                self.shut(0, c);
                self.drain(0); // client FIN-WAIT-1, FIN in flight
            }
            6 | 7 | 9 => {
                let _ = self.ep(0).shutdown(now, c);
                self.shut(0, c);
                self.drain(0);
                self.pump(); // client FIN-WAIT-2, server CLOSE-WAIT
                if recipe >= 7 {
                    if let Some(s) = sid {
                        let _ = self.ep(1).shutdown(now, s);
                        self.shut(1, s);
                        self.drain(1); // server LAST-ACK, FIN in flight
                        if recipe == 9 {
                            self.pump(); // client TIME-WAIT, server gone
                        }
                    }
                }
            }
            _ => {
                // 8: simultaneous close: both FINs cross, both CLOSING.
                let _ = self.ep(0).shutdown(now, c);
                self.shut(0, c);
                self.drain(0);
                if let Some(s) = sid {
                    let _ = self.ep(1).shutdown(now, s);
                    self.shut(1, s);
                    self.drain(1);
                }
                self.pump();
            }
        }
    }

    /// After the script: with nothing foreign, no loss and every timer
    /// fired, both ends that shut down finish with all data delivered.
    fn settle(&mut self) {
        if self.app.tainted {
            // A forged segment can desynchronize the two ends for good; the
            // ACKs they then trade are bounded by the pump, not by TCP (see
            // fuzz/README.md, "ACK storm").
            return;
        }
        // The applications read everything from now on, so no window stays
        // closed for ever (a peer would rightly probe it for ever).
        for s in 0..2 {
            self.app.hosts[s].auto_read = true;
            let ids: Vec<ConnId> = self.app.hosts[s].order.clone();
            for id in ids {
                self.read(s, id);
            }
            self.drain(s);
        }
        for _ in 0..SETTLE_LIMIT {
            // One pump carries at most PUMP_LIMIT segments: a path still
            // holding old duplicates is pumped again, timer or not.
            self.pump();
            if let Some(t) = self.next_deadline() {
                self.advance(t, 0);
            } else if self.net.path_is_empty() {
                break;
            }
        }
        if self.net.now > SETTLE_CLOCK_END {
            // Timers due past the end of the clock never fire, so nothing
            // can be asked of the ends' liveness any more.
            trace(|| format!("no settle checks: the clock is at {}", self.net.now));
            return;
        }
        assert!(
            self.next_deadline().is_none() && self.net.path_is_empty(),
            "the pair never settles: livelock"
        );
        if self.app.tainted || self.app.released {
            return;
        }
        let (Some(&c), Some(&s)) = (
            self.app.hosts[0].order.first(),
            self.app.hosts[1].order.first(),
        ) else {
            return;
        };
        let tc = &self.app.hosts[0].tracks[&c];
        let ts = &self.app.hosts[1].tracks[&s];
        let gave_up = |t: &Track| {
            matches!(
                t.end_event,
                Some(Event::TimedOut | Event::Reset | Event::Refused)
            )
        };
        if gave_up(tc) || gave_up(ts) {
            return;
        }
        assert_eq!(
            ts.read, tc.written,
            "client->server: octets written vs read after settling"
        );
        assert_eq!(
            tc.read, ts.written,
            "server->client: octets written vs read after settling"
        );
        if tc.shut && ts.shut {
            assert!(
                tc.ended && ts.ended,
                "both ends shut down, nothing lost at the end, yet not both CLOSED: client {:?}, server {:?}",
                tc.state,
                ts.state
            );
        }
    }
}

/// Runs the script in `data`; panics when an invariant breaks.
pub fn run(data: &[u8]) {
    let mut inp = Input { data, pos: 0 };
    let setup = inp.u8();
    let mut configs = [Config::rfc(), Config::rfc()];
    for (i, c) in configs.iter_mut().enumerate() {
        if setup & 1 != 0 {
            *c = Config::linux();
        }
        let tweak = inp.u8();
        c.isn = match tweak & 3 {
            0 => IsnMode::Random,
            _ => IsnMode::Fixed(inp.u32()),
        };
        c.mss = [1460, 536, 100, 1][usize::from((tweak >> 2) & 3)];
        c.recv_window = [None, Some(65535), Some(4096), Some(1)][usize::from((tweak >> 4) & 3)];
        if tweak & 0x40 != 0 {
            c.delayed_ack = Duration::ZERO;
        }
        let _ = i;
    }
    let seed = u64::from(inp.u8());
    let (client, client_ep) = Host::new(CLIENT, 0, configs[0], seed, setup & 2 == 0);
    let (server, server_ep) = Host::new(SERVER, 1, configs[1], seed, setup & 4 == 0);
    let mut w = World {
        // No delay: the script, not the clock, says when a segment arrives.
        net: testing::World::new(client_ep, server_ep, Duration::ZERO),
        app: App {
            hosts: [client, server],
            tainted: false,
            released: false,
        },
    };
    let _ = w.ep(1).listen(PORT);
    let recipe = inp.u8();
    w.prefix(recipe, &mut inp);
    let mut ops = 0;
    while !inp.done() && ops < 4096 {
        ops += 1;
        let op = inp.u8();
        trace(|| format!("op {op} ({})", op % 16));
        match op % 16 {
            0 | 1 => {
                w.deliver((op as usize >> 4) & 1);
            }
            2 => {
                // Loss: drop the head of one direction.
                let to = (op as usize >> 4) & 1;
                w.net.drop_next(end(to));
            }
            3 => {
                // Duplication.
                let to = (op as usize >> 4) & 1;
                w.net.duplicate_next(end(to));
            }
            4 => {
                // Reordering: the head goes to the back.
                let to = (op as usize >> 4) & 1;
                w.net.requeue_next(end(to));
            }
            5 => w.pump(),
            6 => {
                let to = w.net.now + Duration::from_micros(u64::from(inp.u16()) * 100);
                w.advance(to, op >> 4);
            }
            7 => {
                if let Some(t) = w.next_deadline() {
                    w.advance(t, op >> 4);
                }
            }
            8 => {
                let d = Duration::from_nanos(inp.u64());
                let to = w.net.now + d;
                w.advance(to, op >> 4);
            }
            9 => w.inject(&mut inp, 0),
            10 => w.inject(&mut inp, 1),
            11 | 12 => w.app(&mut inp, 0),
            13 | 14 => w.app(&mut inp, 1),
            _ => {
                let now = w.net.now;
                if op & 0x10 == 0 {
                    let _ = w.ep(1).listen(PORT);
                } else {
                    w.ep(1).unlisten(PORT);
                }
                let _ = now;
            }
        }
        for s in 0..2 {
            if let Some(due) = w.ep(s).poll_timeout() {
                assert!(
                    due >= w.net.now,
                    "side {s}: deadline {due} before now {}",
                    w.net.now
                );
            }
        }
    }
    w.settle();
}

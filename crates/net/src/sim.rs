//! The discrete-event engine: virtual time, hosts running `tcpsim-tcp`
//! endpoints, links, faults, and the experiment's applications.
//!
//! Events wait in one priority queue ordered by `(time, insertion
//! sequence)`, so events at the same instant run in the order they were
//! scheduled and ties never depend on a hash or an address. After every
//! input (a delivery, a timer, an application call) the host is *settled*:
//! its TCP events go to the trace and to the application, which may react
//! at the same instant, and its segments are sent, until nothing is left;
//! then its next timer deadline is queued.
//!
//! A segment leaving a host is traced and captured first (like tcpdump on
//! the sender's interface), then routed to the link towards its
//! destination, then judged by the targeted faults, then by the link's
//! random impairments. Drops at the link's entrance happen at the send
//! instant; a corrupted packet is dropped at arrival, by the receiver's
//! checksum check.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use tcpsim_tcp::{ConnId, Duration, Endpoint, Event, Instant, Segment, State, Transmit, wire};

use crate::fault::{FaultAction, Faults};
use crate::link::{self, Fate, Link};
use crate::pcap::PcapWriter;
use crate::trace::{AppCall, AppError, DropReason, HostId, SegmentInfo, TraceKind, TraceRecord};
use crate::workload::{CloseMode, ConnReport, End, EndReport, OpenMode, Outcome, Workload};

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Nothing was left to happen.
    Idle,
    /// The virtual-time bound was reached.
    Duration,
    /// The event-count bound was reached.
    Events,
}

impl StopReason {
    /// The name used in reports.
    pub const fn name(self) -> &'static str {
        match self {
            StopReason::Idle => "idle",
            StopReason::Duration => "duration",
            StopReason::Events => "events",
        }
    }
}

/// Everything a finished run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// When the run stopped.
    pub end: Instant,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Events processed.
    pub events: u64,
    /// One report per connection, in experiment order.
    pub connections: Vec<ConnReport>,
    /// The trace, if the run kept one.
    pub trace: Option<Vec<TraceRecord>>,
    /// The capture, if the run kept one.
    pub pcap: Option<Vec<u8>>,
    /// Host names, by host id (shared by every run of one blueprint).
    pub host_names: Arc<[String]>,
    /// Host addresses, by host id.
    pub host_addrs: Arc<[Ipv4Addr]>,
}

/// A packet in flight.
#[derive(Debug)]
enum Packet {
    Intact(Segment),
    /// Encoded, with one bit flipped; `info` describes the original.
    Corrupted {
        bytes: Vec<u8>,
        info: SegmentInfo,
    },
}

/// A packet in flight from one host to another, waiting in the packet slab.
#[derive(Debug)]
struct InFlight {
    from: u32,
    to: u32,
    packet: Packet,
}

/// What an event does. Small and `Copy`, so the event queue moves 32-byte
/// entries; the packets themselves wait in a slab ([`Sim::packets`]).
#[derive(Clone, Copy, Debug)]
enum Action {
    /// The packet in this slot of the slab arrives.
    Deliver(u32),
    /// A host's timer is due.
    Wake(u32),
    Open(u32),
    CloseAt(u32),
    /// An async task's sleep is over.
    WakeTask(u64),
}

/// The engine's event queue: the earliest event first, and events at the
/// same instant in the order they were scheduled. A sequence number breaks
/// ties, never a hash or an address, so the order is the same on every run.
///
/// A binary heap of `(time, sequence, item)`; the engine's items are
/// 16-byte `Copy` actions (packets wait elsewhere), so an entry is 32 bytes.
///
/// ```
/// use tcpsim_net::EventQueue;
/// use tcpsim_tcp::Instant;
///
/// let mut q = EventQueue::new();
/// q.push(Instant::from_millis(2), "later");
/// q.push(Instant::from_millis(1), "first");
/// q.push(Instant::from_millis(2), "last");
/// assert_eq!(q.pop(), Some((Instant::from_millis(1), "first")));
/// assert_eq!(q.pop(), Some((Instant::from_millis(2), "later")));
/// assert_eq!(q.pop(), Some((Instant::from_millis(2), "last")));
/// assert_eq!(q.pop(), None);
/// ```
#[derive(Clone, Debug)]
pub struct EventQueue<T> {
    heap: BinaryHeap<Scheduled<T>>,
    seq: u64,
}

#[derive(Clone, Copy, Debug)]
struct Scheduled<T> {
    at: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Scheduled<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<T> Eq for Scheduled<T> {}
impl<T> PartialOrd for Scheduled<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Scheduled<T> {
    /// Reversed, so that `BinaryHeap` pops the earliest `(at, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue::new()
    }
}

impl<T> EventQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue::with_capacity(0)
    }

    /// An empty queue with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(n),
            seq: 0,
        }
    }

    /// Schedules `item` at `at`, after everything already scheduled at `at`.
    pub fn push(&mut self, at: Instant, item: T) {
        self.seq += 1;
        self.heap.push(Scheduled {
            at,
            seq: self.seq,
            item,
        });
    }

    /// The earliest event (the first scheduled of the earliest instant).
    pub fn pop(&mut self) -> Option<(Instant, T)> {
        self.heap.pop().map(|s| (s.at, s.item))
    }

    /// What [`EventQueue::pop`] would return, without removing it.
    pub fn peek(&self) -> Option<(Instant, &T)> {
        self.heap.peek().map(|s| (s.at, &s.item))
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Forgets every event (and starts the sequence over), keeping the memory.
    pub fn clear(&mut self) {
        self.heap.clear();
        self.seq = 0;
    }
}

pub(crate) struct Host {
    pub(crate) addr: Ipv4Addr,
    pub(crate) endpoint: Endpoint,
    wake_at: Option<Instant>,
    /// Connection slot → (handle, experiment connection, end).
    conns: Vec<Option<(ConnId, u32, End)>>,
}

impl Host {
    pub(crate) fn new(addr: Ipv4Addr, endpoint: Endpoint) -> Host {
        Host {
            addr,
            endpoint,
            wake_at: None,
            conns: Vec::new(),
        }
    }

    pub(crate) fn lookup(&self, id: ConnId) -> Option<(u32, End)> {
        match self.conns.get(id.index() as usize) {
            Some(Some((known, c, e))) if *known == id => Some((*c, *e)),
            _ => None,
        }
    }

    pub(crate) fn register(&mut self, id: ConnId, conn: u32, end: End) {
        let i = id.index() as usize;
        if self.conns.len() <= i {
            self.conns.resize(i + 1, None);
        }
        self.conns[i] = Some((id, conn, end));
    }
}

pub(crate) struct LinkDir {
    pub(crate) from: HostId,
    pub(crate) to: HostId,
    pub(crate) model: Link,
}

/// Who drives a connection's application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Driver {
    /// The built-in workload of `[[connections]]`.
    Workload,
    /// An async task through [`crate::TcpStream`].
    Async,
}

/// One connection while it runs.
pub(crate) struct ConnRun {
    pub(crate) driver: Driver,
    pub(crate) workload: Workload,
    pub(crate) opened: Instant,
    pub(crate) ends: [EndReport; 2],
    pub(crate) ids: [Option<ConnId>; 2],
    pub(crate) shut: [bool; 2],
    pub(crate) aborted: bool,
}

pub(crate) fn ix(end: End) -> usize {
    match end {
        End::Client => 0,
        End::Server => 1,
    }
}

/// An application reaction waiting to run (after the host has processed the
/// event that triggered it, at the same instant).
#[derive(Clone, Copy, Debug)]
enum Reaction {
    /// Data is readable: read it all.
    Read {
        host: HostId,
        id: ConnId,
        conn: u32,
        end: End,
    },
    /// The end reached ESTABLISHED.
    Connected { host: HostId, conn: u32, end: End },
    /// Everything written was acknowledged.
    AllAcked { conn: u32, end: End },
    /// End-of-stream was read.
    Eof {
        host: HostId,
        id: ConnId,
        conn: u32,
        end: End,
    },
}

/// A bound on a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Virtual-time bound: the run stops before any event later than this.
    pub duration: Duration,
    /// Event-count bound.
    pub max_events: u64,
}

/// The octets applications write: a fixed pattern, so runs need no
/// randomness for payloads and a receiver can check order.
const PATTERN: [u8; 256] = {
    let mut p = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        p[i] = i as u8;
        i += 1;
    }
    p
};

/// What every run of one blueprint shares: host names and addresses, and
/// the routing tables. Immutable, so runs share it instead of copying it.
#[derive(Debug)]
pub(crate) struct Topology {
    /// Host names, by host id.
    pub(crate) names: Arc<[String]>,
    /// Host addresses, by host id.
    pub(crate) addrs: Arc<[Ipv4Addr]>,
    /// `(address, host)`, sorted by address.
    by_addr: Vec<(Ipv4Addr, HostId)>,
    /// `((from, to), link direction)`, sorted.
    routes: Vec<((HostId, HostId), usize)>,
}

impl Topology {
    pub(crate) fn new(
        names: Vec<String>,
        addrs: Vec<Ipv4Addr>,
        links: &[(HostId, HostId)],
    ) -> Self {
        let mut by_addr: Vec<(Ipv4Addr, HostId)> =
            addrs.iter().enumerate().map(|(i, a)| (*a, i)).collect();
        by_addr.sort_unstable();
        let mut routes: Vec<((HostId, HostId), usize)> =
            links.iter().enumerate().map(|(i, l)| (*l, i)).collect();
        routes.sort_unstable();
        Topology {
            names: names.into(),
            addrs: addrs.into(),
            by_addr,
            routes,
        }
    }

    /// The host with this address.
    pub(crate) fn host_at(&self, addr: Ipv4Addr) -> Option<HostId> {
        let i = self.by_addr.binary_search_by_key(&addr, |e| e.0).ok()?;
        Some(self.by_addr[i].1)
    }

    /// The link direction from `from` to `to`.
    fn link(&self, from: HostId, to: HostId) -> Option<usize> {
        let i = self
            .routes
            .binary_search_by_key(&(from, to), |e| e.0)
            .ok()?;
        Some(self.routes[i].1)
    }
}

/// A fixed, fast hash (the splitmix64 finalizer) for maps that are only
/// looked up, never iterated, so their order cannot reach any output.
#[derive(Default)]
pub(crate) struct FixedHasher(u64);

impl Hasher for FixedHasher {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 30;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 27;
        x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = self.0.rotate_left(29) ^ x;
    }

    fn write_u128(&mut self, x: u128) {
        self.write_u64(x as u64);
        self.write_u64((x >> 64) as u64);
    }
}

/// A 4-tuple as one map key: `(client address, server address)`, 48 bits each.
fn tuple_key(client: SocketAddrV4, server: SocketAddrV4) -> u128 {
    let half = |a: SocketAddrV4| (u128::from(u32::from(*a.ip())) << 16) | u128::from(a.port());
    (half(client) << 48) | half(server)
}

/// A simulation ready to run; built by [`crate::SimBuilder`].
pub struct Sim {
    pub(crate) now: Instant,
    queue: EventQueue<Action>,
    /// Packets in flight, by slot; `free_packets` lists the empty slots.
    packets: Vec<Option<InFlight>>,
    free_packets: Vec<u32>,
    pub(crate) hosts: Vec<Host>,
    pub(crate) links: Vec<LinkDir>,
    pub(crate) topo: Arc<Topology>,
    faults: Faults,
    fault_rng: ChaCha8Rng,
    pub(crate) conns: Vec<ConnRun>,
    /// (client address, server address) → experiment connection.
    by_tuple: HashMap<u128, u32, BuildHasherDefault<FixedHasher>>,
    pub(crate) trace: Option<Vec<TraceRecord>>,
    pcap: Option<PcapWriter>,
    keep_paths: bool,
    pub(crate) limits: Limits,
    pub(crate) events: u64,
    read_buf: Vec<u8>,
    /// What applications write (the pattern), kept between writes.
    write_buf: Vec<u8>,
    reactions: VecDeque<Reaction>,
    pub(crate) sockets: crate::sockets::Sockets,
    /// Set once the run has stopped; sockets dropped afterwards do nothing.
    pub(crate) stopped: Option<StopReason>,
}

impl Sim {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        topo: Arc<Topology>,
        hosts: Vec<Host>,
        links: Vec<LinkDir>,
        faults: Faults,
        fault_rng: ChaCha8Rng,
        workloads: &[Workload],
        listeners: &[(HostId, u16)],
        limits: Limits,
        trace: bool,
        pcap: bool,
        keep_paths: bool,
    ) -> Sim {
        let mut sim = Sim {
            now: Instant::ZERO,
            queue: EventQueue::with_capacity(workloads.len() + 8),
            packets: Vec::new(),
            free_packets: Vec::new(),
            hosts,
            links,
            topo,
            faults,
            fault_rng,
            conns: Vec::with_capacity(workloads.len()),
            by_tuple: HashMap::default(),
            trace: trace.then(Vec::new),
            pcap: pcap.then(PcapWriter::new),
            keep_paths,
            limits,
            events: 0,
            read_buf: Vec::new(),
            write_buf: Vec::new(),
            reactions: VecDeque::new(),
            sockets: crate::sockets::Sockets::default(),
            stopped: None,
        };
        sim.start(workloads, listeners);
        sim
    }

    /// Starts over for another seed, keeping every buffer: what
    /// [`crate::Blueprint::rerun`] does between runs of one blueprint.
    /// `hosts` gives each host's new random stream, `links` each link
    /// direction's, in order (`None` for a stream that is never drawn
    /// from, which need not be made again; the same for `fault_rng`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn reset(
        &mut self,
        host_rngs: impl Iterator<Item = ChaCha8Rng>,
        link_rngs: impl Iterator<Item = Option<ChaCha8Rng>>,
        fault_rng: Option<ChaCha8Rng>,
        workloads: &[Workload],
        listeners: &[(HostId, u16)],
        limits: Limits,
        (trace, pcap, keep_paths): (bool, bool, bool),
    ) {
        self.limits = limits;
        self.keep_paths = keep_paths;
        self.now = Instant::ZERO;
        self.queue.clear();
        self.packets.clear();
        self.free_packets.clear();
        for (host, rng) in self.hosts.iter_mut().zip(host_rngs) {
            host.endpoint.reset(rng);
            host.wake_at = None;
            host.conns.clear();
        }
        for (link, rng) in self.links.iter_mut().zip(link_rngs) {
            link.model.reset(rng);
        }
        self.faults.reset();
        if let Some(rng) = fault_rng {
            self.fault_rng = rng;
        }
        self.conns = Vec::with_capacity(workloads.len());
        self.by_tuple.clear();
        self.trace = trace.then(Vec::new);
        self.pcap = pcap.then(PcapWriter::new);
        self.events = 0;
        self.reactions.clear();
        self.sockets = crate::sockets::Sockets::default();
        self.stopped = None;
        self.start(workloads, listeners);
    }

    /// Whether this simulation was made from the blueprint with `topo`.
    pub(crate) fn has_topology(&self, topo: &Arc<Topology>) -> bool {
        Arc::ptr_eq(&self.topo, topo)
    }

    /// The listeners, and the opens and closes of the connections.
    fn start(&mut self, workloads: &[Workload], listeners: &[(HostId, u16)]) {
        let sim = self;
        for &(host, port) in listeners {
            // Ports were checked by the builder; a second listen on one port is a no-op.
            let _ = sim.hosts[host].endpoint.listen(port);
            sim.record(TraceKind::App {
                host,
                conn: None,
                call: AppCall::Listen,
            });
        }
        // Room for every connection from the start: no growth (and no copy
        // of a large table) while the run builds up. (Small runs grow as
        // they go, which costs less than counting.)
        if workloads.len() >= 64 {
            let mut ends = vec![0usize; sim.hosts.len()];
            for w in workloads {
                ends[w.client] += 1;
                ends[w.server] += 1;
            }
            for (host, n) in sim.hosts.iter_mut().zip(ends) {
                host.endpoint.reserve(n);
                host.conns.reserve(n);
            }
        }
        sim.by_tuple.reserve(workloads.len());
        for (i, &w) in workloads.iter().enumerate() {
            let i = i as u32;
            sim.schedule(w.open_at, Action::Open(i));
            if let Some(t) = w.close_at {
                sim.schedule(t, Action::CloseAt(i));
            }
            sim.conns.push(ConnRun {
                driver: Driver::Workload,
                opened: w.open_at,
                workload: w,
                ends: [EndReport::new(), EndReport::new()],
                ids: [None, None],
                shut: [false, false],
                aborted: false,
            });
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// A host's name.
    pub fn host_name(&self, host: HostId) -> &str {
        &self.topo.names[host]
    }

    /// The host with this address.
    pub(crate) fn host_at(&self, addr: Ipv4Addr) -> Option<HostId> {
        self.topo.host_at(addr)
    }

    /// Records that the experiment connection `conn` runs from `client` to
    /// `server`, so that the server end a listener creates finds its way to it.
    pub(crate) fn note_tuple(&mut self, client: SocketAddrV4, server: SocketAddrV4, conn: u32) {
        self.by_tuple.insert(tuple_key(client, server), conn);
    }

    pub(crate) fn schedule_wake(&mut self, at: Instant, token: u64) {
        self.schedule(at, Action::WakeTask(token));
    }

    fn schedule(&mut self, at: Instant, action: Action) {
        self.queue.push(at, action);
    }

    /// Parks a packet in the slab until its delivery; returns its slot.
    fn put_packet(&mut self, p: InFlight) -> u32 {
        match self.free_packets.pop() {
            Some(slot) => {
                self.packets[slot as usize] = Some(p);
                slot
            }
            None => {
                self.packets.push(Some(p));
                (self.packets.len() - 1) as u32
            }
        }
    }

    /// Takes a packet out of the slab for delivery.
    fn take_packet(&mut self, slot: u32) -> InFlight {
        self.free_packets.push(slot);
        self.packets[slot as usize]
            .take()
            .expect("a delivery's packet is in the slab until it is delivered")
    }

    #[inline]
    pub(crate) fn record(&mut self, kind: TraceKind) {
        if let Some(t) = &mut self.trace {
            t.push(TraceRecord { at: self.now, kind });
        }
    }

    /// Runs until nothing is left, or a bound is reached.
    pub fn run(mut self) -> RunResult {
        let stop = loop {
            if let Some(stop) = self.step() {
                break stop;
            }
        };
        self.finish(stop)
    }

    /// [`Sim::run`], leaving the simulation's buffers in place for
    /// [`Sim::reset`].
    pub(crate) fn run_in_place(&mut self) -> RunResult {
        let stop = loop {
            if let Some(stop) = self.step() {
                break stop;
            }
        };
        self.result(stop)
    }

    /// Processes the next event (and the applications' reactions to it);
    /// `Some` once the run is over, with the reason.
    pub(crate) fn step(&mut self) -> Option<StopReason> {
        if let Some(stop) = self.stopped {
            return Some(stop);
        }
        // Stale wake-ups are not events: a host timer whose deadline moved
        // (or whose connection is gone), a sleep that was cancelled. They
        // neither count nor move the clock, so `end` is the last real event.
        while let Some((at, &action)) = self.queue.peek() {
            let stale = match action {
                Action::Wake(h) => self.hosts[h as usize].wake_at != Some(at),
                Action::WakeTask(token) => !self.sockets.has_sleeper(token),
                _ => false,
            };
            if !stale {
                break;
            }
            self.queue.pop();
        }
        let stop = match self.queue.peek() {
            None => Some(StopReason::Idle),
            Some((at, _)) if at.saturating_duration_since(Instant::ZERO) > self.limits.duration => {
                self.now = Instant::ZERO + self.limits.duration;
                Some(StopReason::Duration)
            }
            Some(_) if self.events >= self.limits.max_events => Some(StopReason::Events),
            Some(_) => None,
        };
        if stop.is_some() {
            self.stopped = stop;
            return stop;
        }
        let (at, action) = self.queue.pop()?;
        self.now = at;
        self.events += 1;
        self.dispatch(action);
        self.run_reactions();
        None
    }

    fn dispatch(&mut self, action: Action) {
        match action {
            Action::Deliver(slot) => {
                let InFlight { from, to, packet } = self.take_packet(slot);
                self.deliver(from as HostId, to as HostId, packet);
            }
            Action::Wake(h) => {
                let h = h as HostId;
                if self.hosts[h].wake_at == Some(self.now) {
                    self.hosts[h].wake_at = None;
                    let now = self.now;
                    self.hosts[h].endpoint.handle_timeout(now);
                    self.settle(h);
                }
            }
            Action::Open(c) => self.open(c),
            Action::WakeTask(token) => self.sockets.wake_sleeper(token),
            Action::CloseAt(c) => {
                let (client, server) = {
                    let w = &self.conns[c as usize].workload;
                    (w.client, w.server)
                };
                match self.conns[c as usize].workload.close {
                    CloseMode::ClientFirst | CloseMode::ClientAbort => {
                        self.app_close(c, End::Client)
                    }
                    CloseMode::ServerFirst | CloseMode::ServerAbort => {
                        self.app_close(c, End::Server)
                    }
                    CloseMode::Simultaneous => {
                        self.app_close(c, End::Client);
                        self.app_close(c, End::Server);
                    }
                    CloseMode::None => {}
                }
                self.settle(client);
                self.settle(server);
            }
        }
    }

    /// Runs the applications' reactions to what just happened, in the order
    /// they were triggered, settling each host after each reaction (which
    /// may queue more).
    fn run_reactions(&mut self) {
        while let Some(r) = self.reactions.pop_front() {
            let host = match r {
                Reaction::Read {
                    host,
                    id,
                    conn,
                    end,
                } => {
                    let mut buf = std::mem::take(&mut self.read_buf);
                    let n = self.hosts[host].endpoint.recv_to_end(id, &mut buf);
                    buf.clear();
                    self.read_buf = buf;
                    self.conns[conn as usize].ends[ix(end)].bytes_read += n as u64;
                    host
                }
                Reaction::Connected { host, conn, end } => {
                    self.app_connected(host, conn, end);
                    host
                }
                Reaction::AllAcked { conn, end } => {
                    let w = &self.conns[conn as usize].workload;
                    let closes = w.close_at.is_none() && closer(w.close) == Some(end);
                    let host = match end {
                        End::Client => w.client,
                        End::Server => w.server,
                    };
                    if closes {
                        self.app_close(conn, end);
                    }
                    host
                }
                Reaction::Eof {
                    host,
                    id,
                    conn,
                    end,
                } => {
                    self.app_eof(host, conn, end, id);
                    host
                }
            };
            self.settle(host);
        }
    }

    fn deliver(&mut self, from: HostId, to: HostId, packet: Packet) {
        let seg = match packet {
            Packet::Intact(seg) => seg,
            Packet::Corrupted { bytes, info } => match wire::decode(&bytes) {
                Ok(seg) => seg,
                Err(_) => {
                    self.record(TraceKind::Drop {
                        from,
                        to: Some(to),
                        reason: DropReason::Checksum,
                        segment: info,
                    });
                    return;
                }
            },
        };
        self.record(TraceKind::Deliver {
            host: to,
            segment: SegmentInfo::from(&seg),
        });
        let now = self.now;
        self.hosts[to].endpoint.handle_segment(now, &seg);
        // The sender fills this buffer again for a later segment.
        self.hosts[from].endpoint.recycle(seg.payload);
        self.settle(to);
    }

    /// Drains a host's TCP events and segments until it is quiet, then
    /// queues its next timer.
    pub(crate) fn settle(&mut self, h: HostId) {
        loop {
            let mut busy = false;
            while let Some((id, ev)) = self.hosts[h].endpoint.poll_event() {
                busy = true;
                self.on_tcp_event(h, id, ev);
            }
            while let Some((id, t)) = self.hosts[h].endpoint.poll_transmit() {
                busy = true;
                self.transmit(h, id, t);
            }
            if !busy {
                break;
            }
        }
        let next = self.hosts[h].endpoint.poll_timeout();
        if next != self.hosts[h].wake_at {
            self.hosts[h].wake_at = next;
            if let Some(t) = next {
                self.schedule(t, Action::Wake(h as u32));
            }
        }
    }

    // ----- TCP events and the applications -----

    fn on_tcp_event(&mut self, h: HostId, id: ConnId, ev: Event) {
        let mut mapped = self.hosts[h].lookup(id);
        if mapped.is_none() {
            if let Event::StateChanged {
                from: State::Listen,
                ..
            } = ev
            {
                mapped = self.adopt_passive(h, id);
            }
        }
        let conn = mapped.map(|(c, _)| c);
        let is_async = mapped.is_some_and(|(c, _)| self.conns[c as usize].driver == Driver::Async);
        match ev {
            Event::StateChanged { from, to } => {
                self.record(TraceKind::State {
                    host: h,
                    conn,
                    from,
                    to,
                });
                if let Some((c, end)) = mapped {
                    let now = self.now;
                    let keep = self.keep_paths;
                    let e = &mut self.conns[c as usize].ends[ix(end)];
                    if keep {
                        if e.path.is_empty() {
                            e.path.push(from);
                        }
                        e.path.push(to);
                    }
                    e.state = to;
                    if to == State::Established && e.established.is_none() {
                        e.established = Some(now);
                    }
                    if to == State::TimeWait && e.done.is_none() {
                        e.done = Some(now);
                    }
                }
            }
            Event::TimerFired(timer) => self.record(TraceKind::Timer {
                host: h,
                conn,
                timer,
            }),
            Event::Readable if is_async => self.sockets.wake_read(h, id),
            Event::AllAcked if is_async => self.sockets.wake_write(h, id),
            Event::Connected if is_async => {
                if let Some((c, end)) = mapped {
                    self.async_connected(h, id, c, end);
                }
            }
            Event::Readable => {
                if let Some((c, end)) = mapped {
                    self.reactions.push_back(Reaction::Read {
                        host: h,
                        id,
                        conn: c,
                        end,
                    });
                }
            }
            Event::Connected => {
                if let Some((c, end)) = mapped {
                    let w = &self.conns[c as usize].workload;
                    if end == End::Server && w.open == OpenMode::Active {
                        self.record(TraceKind::App {
                            host: h,
                            conn: Some(c),
                            call: AppCall::Accept,
                        });
                    }
                    self.reactions.push_back(Reaction::Connected {
                        host: h,
                        conn: c,
                        end,
                    });
                }
            }
            Event::AllAcked => {
                if let Some((c, end)) = mapped {
                    self.reactions
                        .push_back(Reaction::AllAcked { conn: c, end });
                }
            }
            Event::EndOfStream => {
                self.record(TraceKind::App {
                    host: h,
                    conn,
                    call: AppCall::Eof,
                });
                if is_async {
                    self.sockets.on_eof(h, id);
                } else if let Some((c, end)) = mapped {
                    self.reactions.push_back(Reaction::Eof {
                        host: h,
                        id,
                        conn: c,
                        end,
                    });
                }
            }
            Event::Closed => {
                if is_async {
                    self.sockets.on_gone(h, id, None);
                }
                if let Some((c, end)) = mapped {
                    let now = self.now;
                    let aborted = self.conns[c as usize].aborted;
                    let e = &mut self.conns[c as usize].ends[ix(end)];
                    e.ended = Some(now);
                    if e.error.is_none() && !aborted && e.done.is_none() {
                        e.done = Some(now);
                    }
                }
            }
            Event::Refused | Event::Reset | Event::TimedOut => {
                let error = match ev {
                    Event::Refused => AppError::Refused,
                    Event::Reset => AppError::Reset,
                    _ => AppError::TimedOut,
                };
                // A server end that never reached ESTABLISHED was never
                // accepted: its application does not see it fail.
                let seen = mapped.is_none_or(|(c, end)| {
                    end == End::Client || self.conns[c as usize].ends[ix(end)].established.is_some()
                });
                if seen {
                    self.record(TraceKind::App {
                        host: h,
                        conn,
                        call: AppCall::Error(error),
                    });
                }
                if is_async {
                    self.sockets.on_gone(h, id, Some(error));
                }
                if let Some((c, end)) = mapped {
                    let now = self.now;
                    let e = &mut self.conns[c as usize].ends[ix(end)];
                    e.error = Some(error);
                    e.ended = Some(now);
                }
            }
        }
    }

    /// A listener created a connection: find the experiment connection it
    /// belongs to by its 4-tuple, if that connection has no server end yet.
    /// The experiment connection and end that a segment from `src` to
    /// `dst` belongs to, by its 4-tuple.
    fn conn_of_tuple(&self, src: SocketAddrV4, dst: SocketAddrV4) -> Option<(u32, End)> {
        if let Some(&c) = self.by_tuple.get(&tuple_key(src, dst)) {
            return Some((c, End::Client));
        }
        self.by_tuple
            .get(&tuple_key(dst, src))
            .map(|&c| (c, End::Server))
    }

    pub(crate) fn adopt_passive(&mut self, h: HostId, id: ConnId) -> Option<(u32, End)> {
        let c = self.hosts[h].endpoint.connection(id)?;
        let key = tuple_key(c.remote(), c.local());
        let local_port = c.local().port();
        let conn = *self.by_tuple.get(&key)?;
        let run = &mut self.conns[conn as usize];
        if run.ids[1].is_some() && run.ends[1].ended.is_none() {
            return None; // the server end is still there: not ours to adopt
        }
        // The first server end, or a new one after the last was dropped (a
        // half-open connection the listener gave up on and the client's next
        // SYN created again): it continues the same experiment connection.
        run.ids[1] = Some(id);
        run.ends[1].ended = None;
        run.ends[1].error = None;
        run.ends[1].port = Some(local_port);
        self.hosts[h].register(id, conn, End::Server);
        Some((conn, End::Server))
    }

    fn open(&mut self, c: u32) {
        let w = self.conns[c as usize].workload;
        let server_addr = SocketAddrV4::new(self.hosts[w.server].addr, w.port);
        self.connect_end(c, End::Client, w.client, server_addr, w.client_port);
        if w.open == OpenMode::Simultaneous {
            let port = w.client_port.unwrap_or(0);
            let client_addr = SocketAddrV4::new(self.hosts[w.client].addr, port);
            self.connect_end(c, End::Server, w.server, client_addr, Some(w.port));
            self.settle(w.server);
        }
        self.settle(w.client);
    }

    fn connect_end(
        &mut self,
        c: u32,
        end: End,
        h: HostId,
        remote: SocketAddrV4,
        local_port: Option<u16>,
    ) {
        let now = self.now;
        self.record(TraceKind::App {
            host: h,
            conn: Some(c),
            call: AppCall::Connect,
        });
        match self.hosts[h].endpoint.connect(now, remote, local_port) {
            Ok(id) => {
                self.hosts[h].register(id, c, end);
                let local = self.hosts[h]
                    .endpoint
                    .connection(id)
                    .map(|conn| conn.local());
                let run = &mut self.conns[c as usize];
                run.ids[ix(end)] = Some(id);
                if let Some(local) = local {
                    run.ends[ix(end)].port = Some(local.port());
                    if end == End::Client {
                        self.note_tuple(local, remote, c);
                    }
                }
            }
            Err(_) => {
                self.record(TraceKind::App {
                    host: h,
                    conn: Some(c),
                    call: AppCall::Error(AppError::NoPort),
                });
                let e = &mut self.conns[c as usize].ends[ix(end)];
                e.error = Some(AppError::NoPort);
                e.ended = Some(now);
            }
        }
    }

    fn app_connected(&mut self, h: HostId, c: u32, end: End) {
        let w = &self.conns[c as usize].workload;
        let bytes = match end {
            End::Client => w.client_sends,
            End::Server => w.server_sends,
        };
        let close_now = bytes == 0 && w.close_at.is_none() && closer(w.close) == Some(end);
        if bytes > 0 {
            self.app_write(h, c, end, bytes);
        }
        if close_now {
            self.app_close(c, end);
        }
    }

    fn app_write(&mut self, h: HostId, c: u32, end: End, bytes: u64) {
        let Some(id) = self.conns[c as usize].ids[ix(end)] else {
            return;
        };
        self.record(TraceKind::App {
            host: h,
            conn: Some(c),
            call: AppCall::Write(bytes),
        });
        let now = self.now;
        // One write of the whole stream (octet i is i mod 256), so TCP sees
        // it at once and segments it by MSS, as a real application's single
        // write() would be.
        if bytes <= PATTERN.len() as u64 {
            let _ = self.hosts[h]
                .endpoint
                .send(now, id, &PATTERN[..bytes as usize]);
            return;
        }
        let mut data = std::mem::take(&mut self.write_buf);
        data.clear();
        while (data.len() as u64) < bytes {
            let n = (bytes - data.len() as u64).min(PATTERN.len() as u64) as usize;
            data.extend_from_slice(&PATTERN[..n]);
        }
        let _ = self.hosts[h].endpoint.send(now, id, &data);
        // Keep a moderate buffer for the next write; give a huge one back.
        if data.capacity() <= 1 << 16 {
            self.write_buf = data;
        }
    }

    /// The application at `end` closes: FIN after its data, or RST in the
    /// abort modes. Does nothing the second time.
    fn app_close(&mut self, c: u32, end: End) {
        let run = &mut self.conns[c as usize];
        if run.shut[ix(end)] {
            return;
        }
        let Some(id) = run.ids[ix(end)] else {
            return;
        };
        run.shut[ix(end)] = true;
        let h = match end {
            End::Client => run.workload.client,
            End::Server => run.workload.server,
        };
        let abort = matches!(
            (run.workload.close, end),
            (CloseMode::ClientAbort, End::Client) | (CloseMode::ServerAbort, End::Server)
        );
        let now = self.now;
        if abort {
            run.aborted = true;
            self.record(TraceKind::App {
                host: h,
                conn: Some(c),
                call: AppCall::Abort,
            });
            self.hosts[h].endpoint.abort(now, id);
        } else {
            self.record(TraceKind::App {
                host: h,
                conn: Some(c),
                call: AppCall::Close,
            });
            let _ = self.hosts[h].endpoint.shutdown(now, id);
        }
    }

    /// End-of-stream: the application closes if it has not (after its own
    /// data, which is already queued), then releases the socket.
    fn app_eof(&mut self, h: HostId, c: u32, end: End, id: ConnId) {
        let w = &self.conns[c as usize].workload;
        if w.close == CloseMode::None && !self.conns[c as usize].shut[ix(end)] {
            return;
        }
        self.app_close(c, end);
        let now = self.now;
        self.hosts[h].endpoint.close(now, id);
    }

    // ----- the network -----

    fn transmit(&mut self, h: HostId, id: Option<ConnId>, t: Transmit) {
        let Transmit {
            segment: seg,
            retransmission,
        } = t;
        let kind = seg.kind();
        let mapped = match id {
            Some(id) => self.hosts[h].lookup(id),
            // A reply with no connection state (a RST answering a segment
            // for a connection that does not exist) belongs to the
            // experiment connection of its 4-tuple, if any.
            None => self.conn_of_tuple(seg.src, seg.dst),
        };
        if let Some((c, end)) = mapped {
            let e = &mut self.conns[c as usize].ends[ix(end)];
            e.sent.bump(kind);
            if retransmission {
                e.retransmissions.bump(kind);
            }
        }
        let info = SegmentInfo::from(&seg);
        self.record(TraceKind::Send {
            host: h,
            conn: mapped.map(|(c, _)| c),
            retransmission,
            segment: info,
        });
        if let Some(p) = &mut self.pcap {
            p.record(self.now, &seg);
        }
        let to = self.topo.host_at(*seg.dst.ip());
        let Some(li) = to.and_then(|to| self.topo.link(h, to)) else {
            self.record(TraceKind::Drop {
                from: h,
                to,
                reason: DropReason::NoRoute,
                segment: info,
            });
            return;
        };
        let to = self.links[li].to;
        let mut extra = Duration::ZERO;
        let mut corrupt = false;
        let mut duplicate = false;
        if !self.faults.is_empty() {
            match self.faults.verdict(h, to, kind, self.now) {
                None => {}
                Some(action @ (FaultAction::Drop | FaultAction::Partition)) => {
                    let reason = if action == FaultAction::Partition {
                        DropReason::Partition
                    } else {
                        DropReason::Fault
                    };
                    self.record(TraceKind::Drop {
                        from: h,
                        to: Some(to),
                        reason,
                        segment: info,
                    });
                    return;
                }
                Some(FaultAction::Delay(d)) => extra = d,
                Some(FaultAction::Corrupt) => corrupt = true,
                Some(FaultAction::Duplicate) => duplicate = true,
            }
        }
        let copy = duplicate.then(|| seg.clone());
        self.enter_link(li, seg, info, extra, corrupt);
        if let Some(copy) = copy {
            self.enter_link(li, copy, info, Duration::ZERO, false);
        }
    }

    /// The link's own impairments decide the packet's fate (and that of a
    /// netem duplicate, which is enqueued first, as netem does).
    fn enter_link(
        &mut self,
        li: usize,
        seg: Segment,
        info: SegmentInfo,
        extra: Duration,
        corrupt: bool,
    ) {
        let len = wire::encoded_len(&seg);
        let now = self.now;
        let v = self.links[li].model.enqueue(now, len);
        if let Some(fate) = v.copy {
            self.apply_fate(li, seg.clone(), info, fate, Duration::ZERO, false);
        }
        self.apply_fate(li, seg, info, v.original, extra, corrupt);
    }

    fn apply_fate(
        &mut self,
        li: usize,
        seg: Segment,
        info: SegmentInfo,
        fate: Fate,
        extra: Duration,
        corrupt: bool,
    ) {
        let (from, to) = (self.links[li].from, self.links[li].to);
        match fate {
            Fate::Drop(reason) => self.record(TraceKind::Drop {
                from,
                to: Some(to),
                reason: match reason {
                    link::DropReason::Loss => DropReason::Loss,
                    link::DropReason::Queue => DropReason::Queue,
                },
                segment: info,
            }),
            Fate::Deliver { at, corrupt_bit } => {
                let packet = if corrupt_bit.is_some() || corrupt {
                    let mut bytes = Vec::with_capacity(wire::encoded_len(&seg));
                    wire::encode(&seg, &mut bytes);
                    let bits = (bytes.len() * 8) as u32;
                    let bit = corrupt_bit.unwrap_or_else(|| self.fault_rng.next_u32() % bits);
                    bytes[(bit / 8) as usize] ^= 1 << (bit % 8);
                    Packet::Corrupted { bytes, info }
                } else {
                    Packet::Intact(seg)
                };
                let slot = self.put_packet(InFlight {
                    from: from as u32,
                    to: to as u32,
                    packet,
                });
                self.schedule(at + extra, Action::Deliver(slot));
            }
        }
    }

    // ----- the end -----

    pub(crate) fn finish(mut self, stop: StopReason) -> RunResult {
        // The hosts and what is still in flight go first, so the end of a
        // run with many connections needs no memory beyond what the run had.
        self.hosts = Vec::new();
        self.packets = Vec::new();
        self.queue = EventQueue::new();
        self.result(stop)
    }

    /// What the run produced. The reports are made in place of the
    /// connections' records (same size, same alignment: `collect` reuses
    /// the allocation).
    fn result(&mut self, stop: StopReason) -> RunResult {
        let end = self.now;
        let connections = std::mem::take(&mut self.conns)
            .into_iter()
            .enumerate()
            .map(|(i, run)| report(i as u32, run, end))
            .collect();
        RunResult {
            end,
            stop_reason: stop,
            events: self.events,
            connections,
            trace: self.trace.take(),
            pcap: self.pcap.take().map(PcapWriter::into_bytes),
            host_names: Arc::clone(&self.topo.names),
            host_addrs: Arc::clone(&self.topo.addrs),
        }
    }
}

/// Who closes first on their own (not at `close_at`).
fn closer(mode: CloseMode) -> Option<End> {
    match mode {
        CloseMode::ClientFirst | CloseMode::ClientAbort => Some(End::Client),
        CloseMode::ServerFirst | CloseMode::ServerAbort => Some(End::Server),
        CloseMode::Simultaneous | CloseMode::None => None,
    }
}

fn report(id: u32, run: ConnRun, end_of_run: Instant) -> ConnReport {
    let [client, server] = run.ends;
    let has = |e: AppError| client.error == Some(e) || server.error == Some(e);
    let outcome = if client.error == Some(AppError::Refused) {
        Outcome::Refused
    } else if has(AppError::TimedOut) {
        Outcome::Timeout
    } else if run.aborted || has(AppError::Reset) {
        Outcome::Reset
    } else if client.established.is_some() && client.done.is_some() && server.done.is_some() {
        Outcome::Closed
    } else {
        Outcome::Incomplete
    };
    let closed = match (outcome, client.done, server.done) {
        (Outcome::Closed, Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    };
    let ended = match (client.ended, server.ended, run.ids[1]) {
        (Some(a), Some(b), _) => a.max(b),
        // The server end never existed (refused, or its SYN never arrived).
        (Some(a), None, None) => a,
        _ => end_of_run,
    };
    ConnReport {
        id,
        workload: run.workload,
        opened: run.opened,
        client,
        server,
        outcome,
        closed,
        ended,
    }
}

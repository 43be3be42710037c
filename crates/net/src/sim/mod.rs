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

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use tcpsim_tcp::hash::FixedState;

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

impl RunResult {
    /// The host with address `ip`, if one has it.
    pub fn host_at(&self, ip: Ipv4Addr) -> Option<HostId> {
        self.host_addrs.iter().position(|a| *a == ip)
    }

    /// The name of the host with address `ip`, or the address itself.
    pub fn host_label(&self, ip: Ipv4Addr) -> String {
        self.host_at(ip)
            .and_then(|h| self.host_names.get(h).cloned())
            .unwrap_or_else(|| ip.to_string())
    }
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

mod apps;
mod network;
mod queue;

pub use queue::EventQueue;

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
    by_tuple: HashMap<u128, u32, FixedState>,
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
            .map(|(i, run)| apps::report(i as u32, run, end))
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

//! The discrete-event core: virtual time, hosts running `tcpsim-tcp`
//! endpoints, links, targeted faults, the trace and the capture.
//!
//! The engine routes; it does not know what applications do. Applications
//! ([`crate::app::Application`]) issue socket commands through the host API
//! in [`commands`] and receive the TCP events of their connections, which
//! the engine queues as it produces them ([`Engine::next_app_event`]).
//!
//! Events wait in one priority queue ordered by `(time, insertion
//! sequence)`, so events at the same instant run in the order they were
//! scheduled and ties never depend on a hash or an address. After every
//! input (a delivery, a timer, an application command) the host is
//! *settled*: its TCP events go to the trace, to the connection registry
//! and to the applications' queue, and its segments are sent, until nothing
//! is left; then its next timer deadline is queued.
//!
//! A segment leaving a host is traced and captured first (like tcpdump on
//! the sender's interface), then routed to the link towards its
//! destination, then judged by the targeted faults, then by the link's
//! random impairments ([`network`]). Drops at the link's entrance happen at
//! the send instant; a corrupted packet is dropped at arrival, by the
//! receiver's checksum check.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use tcpsim_tcp::{ConnId, Duration, Endpoint, Instant, RecoveryStats, Segment};

use crate::app::{AppEvent, AppId};
use crate::capture::{Capture, CaptureError, Recorder};
use crate::facts::End;
use crate::fault::Faults;
use crate::link::Link;
use crate::trace::{AppCall, HostId, SegmentInfo, TraceKind, TraceRecord};

mod commands;
mod events;
mod network;
mod queue;
mod registry;
mod topology;

pub use queue::EventQueue;
pub(crate) use registry::{ConnRecord, Registry, ix};
pub(crate) use topology::Topology;

/// A listener opened at time zero: host, port, and the configuration its
/// connections run with when it is not the host's.
pub(crate) type Listener = (HostId, u16, Option<Arc<tcpsim_tcp::Config>>);

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Nothing was left to happen.
    Idle,
    /// The virtual-time bound was reached.
    Duration,
    /// The event-count bound was reached.
    Events,
    /// A capture's writer failed ([`crate::RunResult::capture_error`]
    /// says how); the run stopped at once.
    Capture,
}

impl StopReason {
    /// The name used in reports.
    pub const fn name(self) -> &'static str {
        match self {
            StopReason::Idle => "idle",
            StopReason::Duration => "duration",
            StopReason::Events => "events",
            StopReason::Capture => "capture",
        }
    }
}

/// A bound on a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Virtual-time bound: the run stops before any event later than this.
    pub duration: Duration,
    /// Event-count bound.
    pub max_events: u64,
}

/// What a run keeps besides the connection reports, and its bounds: one
/// value from the builder to the blueprint to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RunOptions {
    pub(crate) limits: Limits,
    /// Keep the trace.
    pub(crate) trace: bool,
    /// Keep the classic pcap capture in memory.
    pub(crate) pcap: bool,
    /// Keep every connection end's state path.
    pub(crate) state_paths: bool,
    /// Released connections in TIME-WAIT take the compact form
    /// ([`tcpsim_tcp::Endpoint::set_compact_time_wait`]).
    pub(crate) compact_time_wait: Option<usize>,
}

/// A packet in flight.
#[derive(Debug)]
enum Packet {
    Intact(Segment),
    /// Encoded, with one bit flipped; `info` describes the original (boxed:
    /// corruption is rare, and unboxed its options would make every slot
    /// of the packet slab larger than a [`Segment`]).
    Corrupted {
        bytes: Vec<u8>,
        info: Box<SegmentInfo>,
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
/// entries; the packets themselves wait in a slab ([`Engine::packets`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Action {
    /// The packet in this slot of the slab arrives.
    Deliver(u32),
    /// A host's timer is due.
    Wake(u32),
    /// A timer an application set ([`Engine::schedule_app`]).
    App { app: AppId, token: u64 },
}

/// A host: its address and its TCP endpoint.
pub(crate) struct Host {
    pub(crate) addr: Ipv4Addr,
    pub(crate) endpoint: Endpoint,
    /// The deadline queued for the endpoint's next timer.
    wake_at: Option<Instant>,
}

impl Host {
    pub(crate) fn new(addr: Ipv4Addr, endpoint: Endpoint) -> Host {
        Host {
            addr,
            endpoint,
            wake_at: None,
        }
    }
}

/// One direction of a link.
pub(crate) struct LinkDir {
    pub(crate) from: HostId,
    pub(crate) to: HostId,
    pub(crate) model: Link,
}

/// The network part of a simulation, as the blueprint makes it.
pub(crate) struct Network {
    pub(crate) topo: Arc<Topology>,
    pub(crate) hosts: Vec<Host>,
    pub(crate) links: Vec<LinkDir>,
    pub(crate) faults: Faults,
    pub(crate) fault_rng: ChaCha8Rng,
}

/// The discrete-event core of one simulation.
pub(crate) struct Engine {
    pub(crate) now: Instant,
    queue: EventQueue<Action>,
    /// Packets in flight, by slot; `free_packets` lists the empty slots.
    packets: Vec<Option<InFlight>>,
    free_packets: Vec<u32>,
    pub(crate) hosts: Vec<Host>,
    links: Vec<LinkDir>,
    pub(crate) topo: Arc<Topology>,
    faults: Faults,
    fault_rng: ChaCha8Rng,
    /// Every connection of the run: what each end did, and which
    /// application owns it.
    pub(crate) conns: Registry,
    trace: Option<Vec<TraceRecord>>,
    /// The captures, if the run writes any (boxed: one pointer to test
    /// on the way of every segment when there is none).
    capture: Option<Box<Recorder>>,
    options: RunOptions,
    events: u64,
    /// TCP events for the applications, in the order they happened.
    app_events: VecDeque<AppEvent>,
    /// Scratch space for reads whose data nobody keeps.
    read_buf: Vec<u8>,
    /// Set once the run has stopped; commands afterwards do nothing.
    stopped: Option<StopReason>,
}

impl Engine {
    /// A new engine with `listeners` open from time zero, writing
    /// `capture` (and the classic pcap in memory if `options` asks).
    pub(crate) fn new(
        net: Network,
        listeners: &[Listener],
        options: RunOptions,
        capture: Capture,
    ) -> Engine {
        let Network {
            topo,
            hosts,
            links,
            faults,
            fault_rng,
        } = net;
        let n = hosts.len();
        let capture = Recorder::start(capture, options.pcap, &topo.names);
        let mut engine = Engine {
            now: Instant::ZERO,
            queue: EventQueue::with_capacity(8),
            packets: Vec::new(),
            free_packets: Vec::new(),
            hosts,
            links,
            topo,
            faults,
            fault_rng,
            conns: Registry::new(n),
            trace: options.trace.then(Vec::new),
            capture,
            options,
            events: 0,
            app_events: VecDeque::new(),
            read_buf: Vec::new(),
            stopped: None,
        };
        if engine.capture.as_ref().is_some_and(|c| c.failed()) {
            engine.stopped = Some(StopReason::Capture);
        }
        engine.open_listeners(listeners);
        engine
    }

    /// Starts over for another seed, keeping every buffer: what
    /// [`crate::Blueprint::rerun`] does between runs of one blueprint.
    /// `host_rngs` gives each host's new random stream, `link_rngs` each
    /// link direction's, in order (`None` for a stream that is never drawn
    /// from, which need not be made again; the same for `fault_rng`).
    pub(crate) fn reset(
        &mut self,
        host_rngs: impl Iterator<Item = ChaCha8Rng>,
        link_rngs: impl Iterator<Item = Option<ChaCha8Rng>>,
        fault_rng: Option<ChaCha8Rng>,
        listeners: &[Listener],
        options: RunOptions,
    ) {
        self.options = options;
        self.now = Instant::ZERO;
        self.queue.clear();
        self.packets.clear();
        self.free_packets.clear();
        for (host, rng) in self.hosts.iter_mut().zip(host_rngs) {
            host.endpoint.reset(rng);
            host.wake_at = None;
        }
        for (link, rng) in self.links.iter_mut().zip(link_rngs) {
            link.model.reset(rng);
        }
        self.faults.reset();
        if let Some(rng) = fault_rng {
            self.fault_rng = rng;
        }
        self.conns.clear();
        self.trace = options.trace.then(Vec::new);
        self.capture = if options.pcap {
            Recorder::start(Capture::new(), true, &self.topo.names)
        } else {
            None
        };
        self.events = 0;
        self.app_events.clear();
        self.stopped = None;
        self.open_listeners(listeners);
    }

    fn open_listeners(&mut self, listeners: &[Listener]) {
        for (host, port, config) in listeners {
            let (host, port) = (*host, *port);
            // Ports were checked by the builder; a second listen on one port is a no-op.
            let _ = match config {
                Some(c) => self.hosts[host].endpoint.listen_with(port, Arc::clone(c)),
                None => self.hosts[host].endpoint.listen(port),
            };
            self.record(TraceKind::App {
                host,
                conn: None,
                call: AppCall::Listen,
            });
        }
    }

    /// The run's fault rules.
    pub(crate) fn faults_mut(&mut self) -> &mut Faults {
        &mut self.faults
    }

    /// Whether this engine was made from the blueprint with `topo`.
    pub(crate) fn has_topology(&self, topo: &Arc<Topology>) -> bool {
        Arc::ptr_eq(&self.topo, topo)
    }

    /// The host with this address.
    pub(crate) fn host_at(&self, addr: Ipv4Addr) -> Option<HostId> {
        self.topo.host_at(addr)
    }

    /// Whether the run has stopped.
    pub(crate) fn stopped(&self) -> bool {
        self.stopped.is_some()
    }

    pub(crate) fn schedule(&mut self, at: Instant, action: Action) {
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
        crate::log::emit(self.now, &kind);
        if let Some(t) = &mut self.trace {
            t.push(TraceRecord { at: self.now, kind });
        }
    }

    /// Hands the records traced since the last call to `sink`, oldest
    /// first, and keeps the buffer's memory for the next ones: what
    /// [`crate::Sim::run_to`] does after every step, so that the trace in
    /// memory is never more than one step's. The first error stops the
    /// handing over (the records not yet handed are dropped) and is
    /// returned. Nothing to do when the run keeps no trace.
    pub(crate) fn drain_trace<E>(
        &mut self,
        sink: &mut impl FnMut(&TraceRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Some(t) = &mut self.trace {
            for rec in t.drain(..) {
                sink(&rec)?;
            }
        }
        Ok(())
    }

    /// The next event to process, with the clock moved to it; `Err` once the
    /// run is over, with the reason. `stale(app, token)` says whether an
    /// application's timer is no longer wanted: stale wake-ups (that, or a
    /// host timer whose deadline moved) neither count nor move the clock, so
    /// the end of a run is its last real event.
    pub(crate) fn next(
        &mut self,
        stale: impl Fn(AppId, u64) -> bool,
    ) -> Result<Action, StopReason> {
        if let Some(stop) = self.stopped {
            return Err(stop);
        }
        while let Some((at, &action)) = self.queue.peek() {
            let is_stale = match action {
                Action::Wake(h) => self.hosts[h as usize].wake_at != Some(at),
                Action::App { app, token } => stale(app, token),
                Action::Deliver(_) => false,
            };
            if !is_stale {
                break;
            }
            self.queue.pop();
        }
        let stop = match self.queue.peek() {
            None => Some(StopReason::Idle),
            Some((at, _))
                if at.saturating_duration_since(Instant::ZERO) > self.options.limits.duration =>
            {
                self.now = Instant::ZERO + self.options.limits.duration;
                Some(StopReason::Duration)
            }
            Some(_) if self.events >= self.options.limits.max_events => Some(StopReason::Events),
            Some(_) => None,
        };
        if let Some(stop) = stop {
            self.stopped = Some(stop);
            return Err(stop);
        }
        let (at, action) = self.queue.pop().ok_or(StopReason::Idle)?;
        self.now = at;
        self.events += 1;
        Ok(action)
    }

    /// The next event if it is a delivery at the current instant (within the
    /// event-count bound), counted: deliveries that arrive together are all
    /// handled by TCP before any application reacts to them (SPEC §4).
    pub(crate) fn next_delivery_now(&mut self) -> Option<Action> {
        match self.queue.peek() {
            Some((at, &action @ Action::Deliver(_)))
                if at == self.now && self.events < self.options.limits.max_events =>
            {
                self.queue.pop();
                self.events += 1;
                Some(action)
            }
            _ => None,
        }
    }

    /// Carries out a delivery or a host timer (application timers are the
    /// applications' to carry out).
    pub(crate) fn dispatch(&mut self, action: Action) {
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
            Action::App { .. } => {}
        }
    }

    /// The next TCP event for an application, oldest first.
    pub(crate) fn next_app_event(&mut self) -> Option<AppEvent> {
        self.app_events.pop_front()
    }

    /// Drains a host's TCP events and segments until it is quiet, then
    /// queues its next timer. The final recovery state of connections the
    /// endpoint forgot comes first, while their handles still name their
    /// run connections (a listener may give a new connection the slot of
    /// one that just closed, and its events bind it).
    pub(crate) fn settle(&mut self, h: HostId) {
        // Rare (once per connection): the check is inline, the work is not.
        if let Some(first) = self.hosts[h].endpoint.poll_final_stats() {
            self.take_final_stats(h, first);
        }
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

    /// Gives the final recovery state of each connection `h`'s endpoint
    /// forgot, `first` and any after it, to the end it belonged to.
    #[cold]
    fn take_final_stats(&mut self, h: HostId, first: (ConnId, RecoveryStats)) {
        let mut next = Some(first);
        while let Some((id, stats)) = next {
            if let Some((c, end)) = self.conns.end_of(h, id) {
                self.conns.end_mut(c, end).absorb_recovery(stats);
            }
            next = self.hosts[h].endpoint.poll_final_stats();
        }
    }

    // ----- the end -----

    /// Takes, once, the recovery state of every connection end whose TCP
    /// connection is still there when the run ends (the others gave
    /// theirs when their endpoint forgot them, [`Engine::settle`]). Before
    /// [`Engine::free_network`].
    pub(crate) fn take_live_stats(&mut self) {
        for h in 0..self.hosts.len() {
            if let Some(first) = self.hosts[h].endpoint.poll_final_stats() {
                self.take_final_stats(h, first);
            }
        }
        for c in 0..self.conns.len() as u32 {
            for end in [End::Client, End::Server] {
                let Some((h, id)) = self.conns.handle(c, end) else {
                    continue;
                };
                if let Some(stats) = self.hosts[h].endpoint.recovery_stats(id) {
                    self.conns.end_mut(c, end).absorb_recovery(stats);
                }
            }
        }
    }

    /// Frees the hosts and what is still in flight, so that the end of a run
    /// with many connections needs no memory beyond what the run had.
    pub(crate) fn free_network(&mut self) {
        self.hosts = Vec::new();
        self.packets = Vec::new();
        self.queue = EventQueue::new();
    }

    /// Events processed so far.
    pub(crate) fn events(&self) -> u64 {
        self.events
    }

    /// Takes the trace and the classic pcap kept in memory, and ends the
    /// captures written as the run went (flushed): the first error any of
    /// their writers had.
    pub(crate) fn take_outputs(
        &mut self,
    ) -> (
        Option<Vec<TraceRecord>>,
        Option<Vec<u8>>,
        Option<CaptureError>,
    ) {
        let (pcap, error) = self.capture.take().map_or((None, None), |c| c.finish());
        (self.trace.take(), pcap, error)
    }
}

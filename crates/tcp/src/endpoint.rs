//! A host's TCP: connections and listeners behind one IPv4 address.
//!
//! The endpoint demultiplexes arriving segments by 4-tuple, creates
//! connections from listeners (RFC 9293 §3.10.7.2), answers segments for
//! connections that do not exist with RST (§3.10.7.1), allocates ephemeral
//! ports, and keeps every connection's timers in one queue ordered by
//! `(deadline, slot, generation)`, so expiry order never depends on hashing.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use rand_core::RngCore;

use crate::config::{Config, IsnMode};
use crate::connection::{CommandError, Connection};
use crate::event::{Event, Transmit};
use crate::segment::{Flags, Segment};
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Instant;

/// The default ephemeral port range (RFC 6335 §6): 49152–65535.
pub const DEFAULT_EPHEMERAL_PORTS: (u16, u16) = (49152, 65535);

/// A handle to one connection of an [`Endpoint`].
///
/// Handles are never reused for another connection: a slot that is freed
/// and filled again gets a new generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId {
    index: u32,
    generation: u32,
}

impl ConnId {
    /// The slot number (small, dense; reused after the connection is gone).
    pub fn index(self) -> u32 {
        self.index
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}", self.index, self.generation)
    }
}

/// Why a connection could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// A connection with the same 4-tuple exists.
    #[error("port {0} is already in use for that remote address")]
    PortInUse(u16),
    /// Every ephemeral port is in use for that remote address.
    #[error("no free ephemeral port in {0}-{1} for that remote address")]
    NoEphemeralPort(u16, u16),
}

/// Why a listener could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenError {
    /// The port already has a listener.
    #[error("port {0} already has a listener")]
    AlreadyListening(u16),
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    conn: Option<Connection>,
    /// The deadline last put in the timer queue for this slot.
    scheduled: Option<Instant>,
}

/// Every connection and listener of one host.
pub struct Endpoint {
    addr: Ipv4Addr,
    config: Config,
    rng: Box<dyn RngCore + Send>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_tuple: BTreeMap<(SocketAddrV4, SocketAddrV4), ConnId>,
    listeners: BTreeSet<u16>,
    ephemeral: (u16, u16),
    next_port: u16,
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    transmits: VecDeque<(Option<ConnId>, Transmit)>,
    events: VecDeque<(ConnId, Event)>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.addr)
            .field("connections", &self.by_tuple.len())
            .field("listeners", &self.listeners)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint at `addr`. `rng` draws initial sequence numbers when
    /// `config.isn` is [`IsnMode::Random`]; pass a seeded generator for
    /// reproducible runs.
    pub fn new(addr: Ipv4Addr, config: Config, rng: impl RngCore + Send + 'static) -> Endpoint {
        Endpoint {
            addr,
            config,
            rng: Box::new(rng),
            slots: Vec::new(),
            free: Vec::new(),
            by_tuple: BTreeMap::new(),
            listeners: BTreeSet::new(),
            ephemeral: DEFAULT_EPHEMERAL_PORTS,
            next_port: DEFAULT_EPHEMERAL_PORTS.0,
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Sets the ephemeral port range (inclusive). `lo` must not exceed `hi`.
    pub fn set_ephemeral_ports(&mut self, lo: u16, hi: u16) {
        assert!(lo <= hi, "empty ephemeral port range {lo}-{hi}");
        self.ephemeral = (lo, hi);
        self.next_port = lo;
    }

    /// This host's address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The configuration new connections get.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of live connections (listeners not counted).
    pub fn connection_count(&self) -> usize {
        self.by_tuple.len()
    }

    /// Starts listening on `port` (passive OPEN).
    pub fn listen(&mut self, port: u16) -> Result<(), ListenError> {
        if self.listeners.insert(port) {
            Ok(())
        } else {
            Err(ListenError::AlreadyListening(port))
        }
    }

    /// Stops listening on `port`; established connections stay.
    pub fn unlisten(&mut self, port: u16) -> bool {
        self.listeners.remove(&port)
    }

    /// Active OPEN to `remote`, from `local_port` or the next ephemeral port
    /// that makes the 4-tuple unique.
    pub fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        local_port: Option<u16>,
    ) -> Result<ConnId, ConnectError> {
        let port = match local_port {
            Some(p) if self.by_tuple.contains_key(&(self.local(p), remote)) => {
                return Err(ConnectError::PortInUse(p));
            }
            Some(p) => p,
            None => self.ephemeral_port(remote)?,
        };
        let iss = self.next_isn();
        let conn = Connection::connect(now, self.config, self.local(port), remote, iss);
        Ok(self.insert(conn))
    }

    fn local(&self, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(self.addr, port)
    }

    fn ephemeral_port(&mut self, remote: SocketAddrV4) -> Result<u16, ConnectError> {
        let (lo, hi) = self.ephemeral;
        let span = u32::from(hi - lo) + 1;
        for _ in 0..span {
            let port = self.next_port;
            self.next_port = if port >= hi { lo } else { port + 1 };
            if !self.by_tuple.contains_key(&(self.local(port), remote)) {
                return Ok(port);
            }
        }
        Err(ConnectError::NoEphemeralPort(lo, hi))
    }

    fn next_isn(&mut self) -> SeqNum {
        match self.config.isn {
            IsnMode::Fixed(n) => SeqNum(n),
            IsnMode::Random => SeqNum(self.rng.next_u32()),
        }
    }

    fn insert(&mut self, conn: Connection) -> ConnId {
        let key = (conn.local(), conn.remote());
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize].conn = Some(conn);
                i
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    conn: Some(conn),
                    scheduled: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let id = ConnId {
            index,
            generation: self.slots[index as usize].generation,
        };
        self.by_tuple.insert(key, id);
        self.drain(id);
        id
    }

    /// The connection behind `id`, while it exists.
    pub fn connection(&self, id: ConnId) -> Option<&Connection> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.conn.as_ref()
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Connection> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.conn.as_mut()
    }

    /// The state of a connection; CLOSED once it is gone.
    pub fn state(&self, id: ConnId) -> State {
        self.connection(id).map_or(State::Closed, Connection::state)
    }

    /// The connection with this 4-tuple, if any.
    pub fn find(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<ConnId> {
        self.by_tuple.get(&(local, remote)).copied()
    }

    /// Moves a connection's outputs into the endpoint's queues, forgets it
    /// once CLOSED, and keeps its timer queued.
    fn drain(&mut self, id: ConnId) {
        let slot = &mut self.slots[id.index as usize];
        let Some(conn) = slot.conn.as_mut() else {
            return;
        };
        while let Some(t) = conn.poll_transmit() {
            self.transmits.push_back((Some(id), t));
        }
        while let Some(e) = conn.poll_event() {
            self.events.push_back((id, e));
        }
        if conn.state() == State::Closed {
            let key = (conn.local(), conn.remote());
            self.by_tuple.remove(&key);
            slot.conn = None;
            slot.scheduled = None;
            slot.generation = slot.generation.wrapping_add(1);
            self.free.push(id.index);
            return;
        }
        let deadline = conn.poll_timeout();
        if deadline != slot.scheduled {
            slot.scheduled = deadline;
            if let Some(t) = deadline {
                self.timers.push(Reverse((t, id.index, id.generation)));
            }
        }
    }

    // ----- inputs -----

    /// Processes a segment that arrived for this host.
    pub fn handle_segment(&mut self, now: Instant, seg: &Segment) {
        if *seg.dst.ip() != self.addr {
            return;
        }
        if let Some(&id) = self.by_tuple.get(&(seg.dst, seg.src)) {
            if self.reopens_time_wait(id, seg) {
                let iss = self.connection(id).map_or(SeqNum(0), |c| {
                    // Linux's choice: far above anything the old connection used.
                    c.snd_nxt() + 65535 + 2
                });
                if let Some(c) = self.conn_mut(id) {
                    c.abort(now);
                }
                self.drain(id);
                let conn = Connection::accept(now, self.config, seg.dst, seg, iss);
                self.insert(conn);
                return;
            }
            if let Some(c) = self.conn_mut(id) {
                c.handle_segment(now, seg);
            }
            self.drain(id);
        } else if self.listeners.contains(&seg.dst.port()) {
            self.on_listen(now, seg);
        } else {
            self.on_closed(seg);
        }
    }

    /// A new SYN with a higher sequence number may reopen a connection in
    /// TIME-WAIT when a listener is there (RFC 1122 §4.2.2.13, RFC 6191).
    fn reopens_time_wait(&self, id: ConnId, seg: &Segment) -> bool {
        let f = seg.flags;
        let Some(c) = self.connection(id) else {
            return false;
        };
        c.state() == State::TimeWait
            && f.syn()
            && !f.ack()
            && !f.rst()
            && seg.seq > c.rcv_nxt()
            && self.listeners.contains(&seg.dst.port())
    }

    /// RFC 9293 §3.10.7.2: a segment for a listening port with no connection.
    fn on_listen(&mut self, now: Instant, seg: &Segment) {
        let f = seg.flags;
        if f.rst() {
            return;
        }
        if f.ack() {
            self.send_reset(seg, seg.ack, None);
            return;
        }
        if f.syn() {
            let iss = self.next_isn();
            let conn = Connection::accept(now, self.config, seg.dst, seg, iss);
            self.insert(conn);
        }
    }

    /// RFC 9293 §3.10.7.1: a segment for a connection that does not exist.
    fn on_closed(&mut self, seg: &Segment) {
        if seg.flags.rst() {
            return;
        }
        if seg.flags.ack() {
            self.send_reset(seg, seg.ack, None);
        } else {
            self.send_reset(seg, SeqNum(0), Some(seg.seq + seg.seg_len()));
        }
    }

    /// `<SEQ=seq><CTL=RST>`, or `<SEQ=seq><ACK=ack><CTL=RST,ACK>`, in reply to `seg`.
    fn send_reset(&mut self, seg: &Segment, seq: SeqNum, ack: Option<SeqNum>) {
        let flags = match ack {
            Some(_) => Flags::RST | Flags::ACK,
            None => Flags::RST,
        };
        let rst = Segment::new(seg.dst, seg.src, seq, ack.unwrap_or(SeqNum(0)), flags, 0);
        self.transmits.push_back((
            None,
            Transmit {
                segment: rst,
                retransmission: false,
            },
        ));
    }

    /// Fires every connection timer due at or before `now`, in
    /// `(deadline, slot)` order.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((due, index, generation))) = self.timers.peek() {
            if due > now {
                break;
            }
            self.timers.pop();
            let id = ConnId { index, generation };
            let live = self
                .slots
                .get(index as usize)
                .is_some_and(|s| s.generation == generation && s.scheduled == Some(due));
            if !live {
                continue; // stale entry: the deadline moved or the connection is gone
            }
            self.slots[index as usize].scheduled = None;
            if let Some(c) = self.conn_mut(id) {
                c.handle_timeout(now);
            }
            self.drain(id);
        }
    }

    // ----- application commands -----

    /// Queues data on a connection.
    pub fn send(&mut self, now: Instant, id: ConnId, data: &[u8]) -> Result<usize, CommandError> {
        let r = self
            .conn_mut(id)
            .ok_or(CommandError::NotConnected)?
            .send(now, data);
        self.drain(id);
        r
    }

    /// Reads every readable octet of a connection into `out`.
    pub fn recv_to_end(&mut self, id: ConnId, out: &mut Vec<u8>) -> usize {
        let n = self.conn_mut(id).map_or(0, |c| c.recv_to_end(out));
        self.drain(id);
        n
    }

    /// Reads up to `buf.len()` octets of a connection.
    pub fn recv(&mut self, id: ConnId, buf: &mut [u8]) -> usize {
        let n = self.conn_mut(id).map_or(0, |c| c.recv(buf));
        self.drain(id);
        n
    }

    /// Shuts down a connection's write side (FIN after the data).
    pub fn shutdown(&mut self, now: Instant, id: ConnId) -> Result<(), CommandError> {
        let r = self
            .conn_mut(id)
            .ok_or(CommandError::NotConnected)?
            .shutdown(now);
        self.drain(id);
        r
    }

    /// Releases a connection (see [`Connection::close`]).
    pub fn close(&mut self, now: Instant, id: ConnId) {
        if let Some(c) = self.conn_mut(id) {
            c.close(now);
        }
        self.drain(id);
    }

    /// Aborts a connection with RST.
    pub fn abort(&mut self, now: Instant, id: ConnId) {
        if let Some(c) = self.conn_mut(id) {
            c.abort(now);
        }
        self.drain(id);
    }

    // ----- outputs -----

    /// The next segment to send, with the connection it belongs to (`None`
    /// for a RST answering a segment that matched no connection).
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(Option<ConnId>, Transmit)> {
        self.transmits.pop_front()
    }

    /// The next event, with its connection.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<(ConnId, Event)> {
        self.events.pop_front()
    }

    /// The earliest timer of any connection.
    #[must_use]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(&Reverse((due, index, generation))) = self.timers.peek() {
            let live = self
                .slots
                .get(index as usize)
                .is_some_and(|s| s.generation == generation && s.scheduled == Some(due));
            if live {
                return Some(due);
            }
            self.timers.pop();
        }
        None
    }
}

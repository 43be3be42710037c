//! A host's TCP: connections and listeners behind one IPv4 address.
//!
//! The endpoint demultiplexes arriving segments by 4-tuple, creates
//! connections from listeners (RFC 9293 §3.10.7.2), answers segments for
//! connections that do not exist with RST (§3.10.7.1), allocates ephemeral
//! ports, and keeps every connection's timers in one queue ordered by
//! `(deadline, slot, generation)`, so expiry order never depends on hashing.
//!
//! Connections are found by 4-tuple in a hash map; it is only ever looked
//! up, never iterated, so its order cannot reach any output. Connections
//! share the endpoint's [`Config`] and write their outputs into queues the
//! endpoint lends them for each call, so a connection at rest holds no
//! buffers of its own.

use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use rand_core::RngCore;

use crate::config::{Config, IsnMode};
use crate::connection::{CommandError, Connection, Queues, RecoveryStats, TimeWait};
use crate::event::{Event, TimerKind, Transmit};
use crate::hash::FixedState;
use crate::ports::EphemeralPorts;
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

/// What a slot holds.
#[derive(Debug)]
enum Held {
    /// Nothing: the slot is free.
    Empty,
    /// A connection (boxed, so that a slot in compact form is small).
    Live(Box<Connection>),
    /// A connection its application released, in TIME-WAIT, in compact
    /// form (see [`Endpoint::set_compact_time_wait`]).
    TimeWait(Box<TimeWait>),
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    conn: Held,
    /// The deadline last put in the timer queue for this slot.
    scheduled: Option<Instant>,
}

/// A 4-tuple seen from this endpoint: its local address is always the
/// endpoint's, so the local port, remote address and remote port identify
/// it, packed into 64 bits.
fn tuple_key(local_port: u16, remote: SocketAddrV4) -> u64 {
    (u64::from(local_port) << 48)
        | (u64::from(u32::from(*remote.ip())) << 16)
        | u64::from(remote.port())
}

type TupleMap = HashMap<u64, ConnId, FixedState>;

/// An endpoint's generator, which [`Endpoint::reset`] overwrites in place
/// when the new one is of the same type (a sweep's seeds: no allocation
/// per run).
trait EndpointRng: RngCore + Send {
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<R: RngCore + Send + 'static> EndpointRng for R {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Every connection and listener of one host.
pub struct Endpoint {
    addr: Ipv4Addr,
    config: Arc<Config>,
    rng: Box<dyn EndpointRng>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_tuple: TupleMap,
    /// Listening ports, in ascending order, each with the configuration
    /// its connections get (`None`: the endpoint's).
    listeners: Vec<(u16, Option<Arc<Config>>)>,
    ephemeral: (u16, u16),
    next_port: u16,
    /// The ephemeral ports in use, per remote address an open asked for.
    ports: EphemeralPorts,
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    /// About how many entries of `timers` are stale (see `compact_timers`).
    stale_timers: usize,
    /// Every connection's segments and events not yet polled, oldest first.
    /// These queues are lent to the connection being called, so its
    /// outputs land here without being copied; `out_ids` and `event_ids`
    /// say whose each one is (`None`: a RST for no connection).
    lent: Queues,
    out_ids: VecDeque<Option<ConnId>>,
    event_ids: VecDeque<ConnId>,
    /// The last loss-recovery state of each connection forgotten since the
    /// last [`Endpoint::poll_final_stats`], oldest first.
    final_stats: VecDeque<(ConnId, RecoveryStats)>,
    /// The secret of the ISNs and timestamp offsets, once drawn.
    secret: Option<u64>,
    /// From how many connections on released ones in TIME-WAIT take the
    /// compact form ([`Endpoint::set_compact_time_wait`]).
    compact_time_wait: Option<usize>,
    /// Boxes of forgotten or compacted connections, and of inflated
    /// records, for the next ones (at most [`SPARE_BOXES`] each): the
    /// boxes are what is kept, so that a new one needs no allocation.
    #[allow(clippy::vec_box)]
    spare_conns: Vec<Box<Connection>>,
    #[allow(clippy::vec_box)]
    spare_records: Vec<Box<TimeWait>>,
}

/// How many connections an endpoint holds before it keeps released ones
/// in TIME-WAIT in compact form, by default: below, the memory it would
/// save is small and the copies it costs are not (a sweep of one
/// connection per run would pay them every run).
pub const COMPACT_TIME_WAIT_FROM: usize = 64;

/// The most boxes of each kind an endpoint keeps for reuse: enough for the
/// connections of a small run, which a sweep reruns seed after seed.
const SPARE_BOXES: usize = 16;

/// Keeps `b` among `spares` for reuse, if there is room.
#[allow(clippy::vec_box)]
fn keep_spare<T>(spares: &mut Vec<Box<T>>, b: Box<T>) {
    if spares.len() < SPARE_BOXES {
        spares.push(b);
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.addr)
            .field("connections", &self.by_tuple.len())
            .field(
                "listeners",
                &self.listeners.iter().map(|l| l.0).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint at `addr`. `rng` draws initial sequence numbers when
    /// `config.isn` is [`IsnMode::Random`]; pass a seeded generator for
    /// reproducible runs.
    pub fn new(addr: Ipv4Addr, config: Config, rng: impl RngCore + Send + 'static) -> Endpoint {
        Endpoint::with_shared_config(addr, Arc::new(config), rng)
    }

    /// [`Endpoint::new`] with a configuration shared with other endpoints
    /// (many runs of one experiment share one copy).
    pub fn with_shared_config(
        addr: Ipv4Addr,
        config: Arc<Config>,
        rng: impl RngCore + Send + 'static,
    ) -> Endpoint {
        Endpoint {
            addr,
            config,
            rng: Box::new(rng),
            slots: Vec::new(),
            free: Vec::new(),
            by_tuple: TupleMap::default(),
            listeners: Vec::new(),
            ephemeral: DEFAULT_EPHEMERAL_PORTS,
            next_port: DEFAULT_EPHEMERAL_PORTS.0,
            ports: EphemeralPorts::new(DEFAULT_EPHEMERAL_PORTS.0, DEFAULT_EPHEMERAL_PORTS.1),
            timers: BinaryHeap::new(),
            stale_timers: 0,
            lent: Queues::default(),
            out_ids: VecDeque::new(),
            event_ids: VecDeque::new(),
            final_stats: VecDeque::new(),
            secret: None,
            compact_time_wait: Some(COMPACT_TIME_WAIT_FROM),
            spare_conns: Vec::new(),
            spare_records: Vec::new(),
        }
    }

    /// Sets the ephemeral port range (inclusive). `lo` must not exceed `hi`.
    pub fn set_ephemeral_ports(&mut self, lo: u16, hi: u16) {
        assert!(lo <= hi, "empty ephemeral port range {lo}-{hi}");
        self.ephemeral = (lo, hi);
        self.next_port = lo;
        self.ports.reset(lo, hi);
    }

    /// Whether a connection that its application has released keeps only
    /// what TIME-WAIT needs once it enters TIME-WAIT: `Some(n)` once the
    /// endpoint holds at least `n` connections (by default
    /// [`COMPACT_TIME_WAIT_FROM`]; `Some(0)`: always), `None`: never. As
    /// Linux replaces such a socket with a `tcp_timewait_sock`: a record
    /// of 208 bytes instead of a connection of 808, for the 60 s a host
    /// keeps it. It behaves the same either way; [`Endpoint::connection`] no longer finds a
    /// connection in compact form ([`Endpoint::state`] says TIME-WAIT,
    /// [`Endpoint::recovery_stats`] gives its figures). Only connections
    /// under [`crate::TimeWaitSegments::Linux`] (the `linux` profile) are
    /// compacted. Applies to connections that enter TIME-WAIT from now on.
    pub fn set_compact_time_wait(&mut self, from: Option<usize>) {
        self.compact_time_wait = from;
    }

    /// This host's address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The configuration new connections get.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Changes the configuration connections opened from now on get
    /// (listeners made with [`Endpoint::listen_with`] keep theirs): a
    /// sysctl changed while the host runs.
    pub fn set_config(&mut self, config: Arc<Config>) {
        self.config = config;
    }

    /// Replaces one connection's configuration (see
    /// [`Connection::set_config`]); `false` if it is gone.
    pub fn set_connection_config(&mut self, id: ConnId, config: Arc<Config>) -> bool {
        self.call(id, |c| c.set_config(config)).is_some()
    }

    /// Number of live connections (listeners not counted).
    pub fn connection_count(&self) -> usize {
        self.by_tuple.len()
    }

    /// Starts listening on `port` (passive OPEN).
    pub fn listen(&mut self, port: u16) -> Result<(), ListenError> {
        self.add_listener(port, None)
    }

    /// [`Endpoint::listen`] whose connections get `config` instead of the
    /// endpoint's: the socket options of one listening socket.
    pub fn listen_with(&mut self, port: u16, config: Arc<Config>) -> Result<(), ListenError> {
        self.add_listener(port, Some(config))
    }

    fn add_listener(&mut self, port: u16, config: Option<Arc<Config>>) -> Result<(), ListenError> {
        match self.listener(port) {
            Ok(_) => Err(ListenError::AlreadyListening(port)),
            Err(i) => {
                self.listeners.insert(i, (port, config));
                Ok(())
            }
        }
    }

    /// Stops listening on `port`; established connections stay.
    pub fn unlisten(&mut self, port: u16) -> bool {
        match self.listener(port) {
            Ok(i) => {
                self.listeners.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    fn listener(&self, port: u16) -> Result<usize, usize> {
        self.listeners.binary_search_by_key(&port, |l| l.0)
    }

    fn is_listening(&self, port: u16) -> bool {
        self.listener(port).is_ok()
    }

    /// The configuration of connections from the listener on `port`.
    fn listener_config(&self, port: u16) -> Arc<Config> {
        match self.listener(port) {
            Ok(i) => self.listeners[i].1.clone(),
            Err(_) => None,
        }
        .unwrap_or_else(|| Arc::clone(&self.config))
    }

    /// Active OPEN to `remote`, from `local_port` or the next ephemeral port
    /// that makes the 4-tuple unique.
    pub fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        local_port: Option<u16>,
    ) -> Result<ConnId, ConnectError> {
        let config = Arc::clone(&self.config);
        self.connect_with(now, remote, local_port, config)
    }

    /// [`Endpoint::connect`] with `config` instead of the endpoint's: the
    /// socket options of one connecting socket.
    pub fn connect_with(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        local_port: Option<u16>,
        config: Arc<Config>,
    ) -> Result<ConnId, ConnectError> {
        let mut reuse = None;
        let port = match local_port {
            Some(p) => {
                if let Some(&old) = self.by_tuple.get(&tuple_key(p, remote)) {
                    // A bound port whose connection is in TIME-WAIT with
                    // timestamps may be reused (Linux, `tcp_twsk_unique`;
                    // RFC 6191: the timestamps tell the incarnations apart):
                    // the old connection goes, the new one starts far above
                    // it. Any other connection on the 4-tuple keeps it busy.
                    let point = self.time_wait_point(old);
                    let Some(point) = point else {
                        return Err(ConnectError::PortInUse(p));
                    };
                    self.call(old, |c| c.abort(now));
                    reuse = Some(point);
                }
                p
            }
            None => self.ephemeral_port(remote)?,
        };
        let local = self.local(port);
        let iss = match reuse {
            // Linux's choice (`tcp_twsk_unique`): old SND.NXT + 65535 + 2.
            Some((snd_nxt, _)) => snd_nxt + 65535 + 2,
            None => self.next_isn(now, local, remote),
        };
        let ts_offset = self.ts_offset(local, remote);
        let mark = self.mark();
        let conn = Connection::connect_lent(
            now,
            config,
            (local, remote),
            (iss, ts_offset),
            reuse.map(|(_, ts_recent)| ts_recent),
            &mut self.lent,
        );
        Ok(self.insert(conn, mark))
    }

    fn local(&self, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(self.addr, port)
    }

    /// The next port from `next_port` upwards, cyclically, that makes the
    /// 4-tuple unique; `next_port` moves past it (a failure leaves it
    /// where it was, as a full scan would bring it back there).
    fn ephemeral_port(&mut self, remote: SocketAddrV4) -> Result<u16, ConnectError> {
        let (lo, hi) = self.ephemeral;
        let by_tuple = &self.by_tuple;
        let free = |p: u16| !by_tuple.contains_key(&tuple_key(p, remote));
        // The common case, a free port among the next few, needs no set:
        // the set is made (and kept) only for a remote whose ports are
        // crowded.
        let mut quick = None;
        if !self.ports.tracks(remote) {
            let mut port = self.next_port;
            for _ in 0..EphemeralPorts::QUICK.min(u32::from(hi - lo) + 1) {
                if free(port) {
                    quick = Some(port);
                    break;
                }
                port = if port >= hi { lo } else { port + 1 };
            }
        }
        let port = match quick {
            Some(p) => p,
            None => self
                .ports
                .free_from(self.next_port, remote, |p| !free(p))
                .ok_or(ConnectError::NoEphemeralPort(lo, hi))?,
        };
        self.next_port = if port >= hi { lo } else { port + 1 };
        Ok(port)
    }

    /// The endpoint's secret for F(4-tuple, secret): drawn from its stream
    /// the first time an ISN or timestamp offset needs it (so a run that
    /// needs neither draws nothing more).
    fn secret(&mut self) -> u64 {
        match self.secret {
            Some(s) => s,
            None => {
                let s = self.rng.next_u64();
                self.secret = Some(s);
                s
            }
        }
    }

    /// F(4-tuple, secret) for one use (`domain`: 1 ISN, 2 timestamps).
    fn keyed(&mut self, domain: u64, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
        use std::hash::Hasher;
        let secret = self.secret();
        let mut h = crate::hash::FixedHasher::default();
        h.write_u64(secret ^ domain);
        h.write_u64(u64::from(u32::from(*local.ip())) << 16 | u64::from(local.port()));
        h.write_u64(u64::from(u32::from(*remote.ip())) << 16 | u64::from(remote.port()));
        h.finish() as u32
    }

    /// The timestamp clock's offset for a 4-tuple: F(4-tuple, secret),
    /// stable for every incarnation of the 4-tuple (RFC 7323 §7.1, SPEC §5).
    fn ts_offset(&mut self, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
        if self.config.timestamps {
            self.keyed(2, local, remote)
        } else {
            0
        }
    }

    fn next_isn(&mut self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> SeqNum {
        match self.config.isn {
            IsnMode::Fixed(n) => SeqNum(n),
            IsnMode::Random => SeqNum(self.rng.next_u32()),
            IsnMode::Clock => {
                let tick = self.config.isn_clock.as_nanos().max(1);
                let m = (now.as_nanos() / tick) as u32;
                SeqNum(m.wrapping_add(self.keyed(1, local, remote)))
            }
        }
    }

    /// How many outputs wait: what a call adds comes after.
    fn mark(&self) -> (usize, usize) {
        (self.lent.out.len(), self.lent.events.len())
    }

    /// Adds a connection whose first outputs are in the queues after `mark`.
    fn insert(&mut self, conn: Connection, mark: (usize, usize)) -> ConnId {
        let key = tuple_key(conn.local().port(), conn.remote());
        let conn = Held::Live(self.boxed(conn));
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize].conn = conn;
                i
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    conn,
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
        if let Some(c) = self.connection(id) {
            let (port, remote) = (c.local().port(), c.remote());
            self.ports.note(port, remote, true);
        }
        self.collect(id, mark);
        id
    }

    /// `conn` in a box, a spare one if there is one.
    fn boxed(&mut self, conn: Connection) -> Box<Connection> {
        match self.spare_conns.pop() {
            Some(mut b) => {
                let mut conn = conn;
                conn.adopt_storage(&mut b);
                *b = conn;
                b
            }
            None => Box::new(conn),
        }
    }

    /// Makes the compact connection in slot `index` a [`Connection`] again.
    fn inflate(&mut self, index: usize) {
        let Held::TimeWait(tw) = std::mem::replace(&mut self.slots[index].conn, Held::Empty) else {
            return;
        };
        let conn = self.boxed(Connection::from_time_wait(&tw));
        self.slots[index].conn = Held::Live(conn);
        keep_spare(&mut self.spare_records, tw);
    }

    /// What the slot of `id` holds, while `id` is its connection.
    fn held(&self, id: ConnId) -> Option<&Held> {
        let slot = self.slots.get(id.index as usize)?;
        (slot.generation == id.generation).then_some(&slot.conn)
    }

    /// The connection behind `id`, while it exists; `None` too for a
    /// released connection in TIME-WAIT in compact form
    /// ([`Endpoint::set_compact_time_wait`]).
    pub fn connection(&self, id: ConnId) -> Option<&Connection> {
        match self.held(id)? {
            Held::Live(c) => Some(c),
            Held::Empty | Held::TimeWait(_) => None,
        }
    }

    /// The state of a connection; CLOSED once it is gone.
    pub fn state(&self, id: ConnId) -> State {
        match self.held(id) {
            Some(Held::Live(c)) => c.state(),
            Some(Held::TimeWait(_)) => State::TimeWait,
            Some(Held::Empty) | None => State::Closed,
        }
    }

    /// [`Connection::recovery_stats`] of a connection that exists, in
    /// compact form or not.
    pub fn recovery_stats(&self, id: ConnId) -> Option<RecoveryStats> {
        match self.held(id)? {
            Held::Live(c) => Some(c.recovery_stats()),
            Held::TimeWait(tw) => Some(Connection::from_time_wait(tw).recovery_stats()),
            Held::Empty => None,
        }
    }

    /// The deadline of one of a connection's timers, if armed
    /// ([`Connection::timer`]), in compact form or not.
    pub fn timer(&self, id: ConnId, kind: TimerKind) -> Option<Instant> {
        match self.held(id)? {
            Held::Live(c) => c.timer(kind),
            Held::TimeWait(tw) => (kind == TimerKind::TimeWait).then(|| tw.expires()),
            Held::Empty => None,
        }
    }

    /// SND.NXT and TS.Recent of a connection in TIME-WAIT with timestamps
    /// (see [`Connection::time_wait_point`]).
    fn time_wait_point(&self, id: ConnId) -> Option<(SeqNum, u32)> {
        match self.held(id)? {
            Held::Live(c) => c.time_wait_point(),
            Held::TimeWait(tw) => tw.time_wait_point(),
            Held::Empty => None,
        }
    }

    /// The connection with this 4-tuple, if any.
    pub fn find(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<ConnId> {
        if *local.ip() != self.addr {
            return None;
        }
        self.by_tuple.get(&tuple_key(local.port(), remote)).copied()
    }

    /// Runs `f` on a live connection with the lent queues, then collects
    /// its outputs (see [`Endpoint::collect`]). `None` if `id` is gone.
    fn call<R>(&mut self, id: ConnId, f: impl FnOnce(&mut Connection) -> R) -> Option<R> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        if matches!(slot.conn, Held::TimeWait(_)) {
            self.inflate(id.index as usize);
        }
        let slot = &mut self.slots[id.index as usize];
        let Held::Live(conn) = &mut slot.conn else {
            return None;
        };
        let mark = (self.lent.out.len(), self.lent.events.len());
        conn.swap_queues(&mut self.lent);
        let r = f(conn);
        conn.swap_queues(&mut self.lent);
        self.collect(id, mark);
        Some(r)
    }

    /// Notes that the outputs after `mark` are the connection's, forgets
    /// it once CLOSED, and keeps its timer queued. A CLOSED connection
    /// whose application has not released it and has data still to read
    /// (a TIME-WAIT ended by RST before the application read what came
    /// with the FIN) leaves the 4-tuple free but keeps its slot, so that
    /// data is not lost; it is forgotten once read or released.
    fn collect(&mut self, id: ConnId, (outs, events): (usize, usize)) {
        for _ in outs..self.lent.out.len() {
            self.out_ids.push_back(Some(id));
        }
        for _ in events..self.lent.events.len() {
            self.event_ids.push_back(id);
        }
        let slot = &mut self.slots[id.index as usize];
        let Held::Live(conn) = &mut slot.conn else {
            return;
        };
        if conn.state() == State::Closed {
            let key = tuple_key(conn.local().port(), conn.remote());
            if self.by_tuple.get(&key) == Some(&id) {
                self.by_tuple.remove(&key);
                self.ports.note(conn.local().port(), conn.remote(), false);
            }
            if conn.readable() > 0 && !conn.is_released() {
                if slot.scheduled.take().is_some() {
                    self.stale_timers += 1;
                }
                return;
            }
            self.final_stats.push_back((id, conn.recovery_stats()));
            if let Held::Live(b) = std::mem::replace(&mut slot.conn, Held::Empty) {
                keep_spare(&mut self.spare_conns, b);
            }
            if slot.scheduled.take().is_some() {
                self.stale_timers += 1;
            }
            slot.generation = slot.generation.wrapping_add(1);
            self.free.push(id.index);
            return;
        }
        let deadline = conn.poll_timeout();
        if conn.state() == State::TimeWait
            && self
                .compact_time_wait
                .is_some_and(|n| self.by_tuple.len() >= n)
        {
            if let Some(tw) = conn.time_wait_record() {
                debug_assert_eq!(deadline, Some(tw.expires()));
                let record = match self.spare_records.pop() {
                    Some(mut b) => {
                        *b = tw;
                        b
                    }
                    None => Box::new(tw),
                };
                if let Held::Live(b) = std::mem::replace(&mut slot.conn, Held::TimeWait(record)) {
                    keep_spare(&mut self.spare_conns, b);
                }
            }
        }
        if deadline != slot.scheduled {
            if slot.scheduled.is_some() {
                self.stale_timers += 1;
            }
            slot.scheduled = deadline;
            if let Some(t) = deadline {
                self.timers.push(Reverse((t, id.index, id.generation)));
                self.compact_timers();
            }
        }
    }

    /// Whether a timer-queue entry is still what its slot waits for.
    fn is_live(slots: &[Slot], (due, index, generation): (Instant, u32, u32)) -> bool {
        slots
            .get(index as usize)
            .is_some_and(|s| s.generation == generation && s.scheduled == Some(due))
    }

    /// Drops the entries whose deadline moved or whose connection is gone
    /// once they are most of the queue. They would be skipped when they
    /// came up anyway, so this changes no expiry; it bounds the queue by
    /// the live timers when many connections re-arm timers (a host with a
    /// hundred thousand connections).
    fn compact_timers(&mut self) {
        if self.stale_timers < 1024 || 2 * self.stale_timers < self.timers.len() {
            return;
        }
        let slots = &self.slots;
        self.timers
            .retain(|&Reverse(e)| Endpoint::is_live(slots, e));
        self.stale_timers = 0;
    }

    /// Forgets every connection and listener and starts over, drawing from
    /// `rng`, keeping the memory it has: for a simulator that runs the same
    /// hosts seed after seed. Afterwards it behaves exactly as a new
    /// endpoint with the same address, configuration and ephemeral ports.
    pub fn reset<R: RngCore + Send + 'static>(&mut self, rng: R) {
        // Through the box to the generator: `Box<dyn EndpointRng>` is an
        // `EndpointRng` itself (rand_core implements `RngCore` for it).
        match (*self.rng).as_any_mut().downcast_mut::<R>() {
            Some(same) => *same = rng,
            None => self.rng = Box::new(rng),
        }
        for slot in self.slots.drain(..) {
            match slot.conn {
                Held::Live(b) => keep_spare(&mut self.spare_conns, b),
                Held::TimeWait(b) => keep_spare(&mut self.spare_records, b),
                Held::Empty => {}
            }
        }
        self.free.clear();
        self.by_tuple.clear();
        self.listeners.clear();
        self.next_port = self.ephemeral.0;
        self.ports.reset(self.ephemeral.0, self.ephemeral.1);
        self.timers.clear();
        self.stale_timers = 0;
        self.lent.out.clear();
        self.lent.events.clear();
        self.out_ids.clear();
        self.event_ids.clear();
        self.final_stats.clear();
        self.secret = None;
    }

    /// Gives back the payload buffer of a segment this endpoint sent, once
    /// it has been delivered: a later segment's payload is written into it
    /// instead of a new allocation. Only an optimization.
    pub fn recycle(&mut self, payload: Vec<u8>) {
        self.lent.spare.give(payload);
    }

    /// Makes room for `n` more connections, so that the slot table does
    /// not grow (and is copied) while they open. Only an optimization. The
    /// 4-tuple map is not sized for them: a map with room for a million
    /// connections, of which the run has thirty thousand open at a time,
    /// spreads them over 32 MB and makes every lookup a cache miss
    /// (`benches/configs/million-paced.toml`, one run each: 50.1 s with
    /// the map sized for all, 47.8 s without); it grows as the live
    /// connections do.
    pub fn reserve(&mut self, n: usize) {
        self.slots.reserve(n);
    }

    // ----- inputs -----

    /// Processes a segment that arrived for this host.
    pub fn handle_segment(&mut self, now: Instant, seg: &Segment) {
        if *seg.dst.ip() != self.addr {
            return;
        }
        if let Some(&id) = self.by_tuple.get(&tuple_key(seg.dst.port(), seg.src)) {
            if self.reopens_time_wait(id, seg) {
                let iss = self.in_time_wait(id).map_or(SeqNum(0), |(snd_nxt, ..)| {
                    // Linux's choice: far above anything the old connection used.
                    snd_nxt + 65535 + 2
                });
                self.call(id, |c| c.abort(now));
                self.accept(now, seg, iss);
                return;
            }
            self.call(id, |c| c.handle_segment(now, seg));
        } else if self.is_listening(seg.dst.port()) {
            self.on_listen(now, seg);
        } else {
            self.on_closed(seg);
        }
    }

    /// A new SYN may reopen a connection in TIME-WAIT when a listener is
    /// there (RFC 1122 §4.2.2.13, RFC 6191 §2): when the old connection
    /// and the SYN both carry timestamps, if the SYN's is newer than
    /// TS.Recent; otherwise if its sequence number is above RCV.NXT.
    fn reopens_time_wait(&self, id: ConnId, seg: &Segment) -> bool {
        let f = seg.flags;
        let Some((_, rcv_nxt, point)) = self.in_time_wait(id) else {
            return false;
        };
        if !f.syn() || f.ack() || f.rst() || !self.is_listening(seg.dst.port()) {
            return false;
        }
        match (point, seg.options.timestamps) {
            (Some(ts_recent), Some(ts)) => ts.val.wrapping_sub(ts_recent) as i32 > 0,
            _ => seg.seq > rcv_nxt,
        }
    }

    /// SND.NXT, RCV.NXT and TS.Recent (with timestamps) of a connection
    /// in TIME-WAIT, in compact form or not.
    fn in_time_wait(&self, id: ConnId) -> Option<(SeqNum, SeqNum, Option<u32>)> {
        let ts_recent = |point: Option<(SeqNum, u32)>| point.map(|p| p.1);
        match self.held(id)? {
            Held::Live(c) if c.state() == State::TimeWait => {
                Some((c.snd_nxt(), c.rcv_nxt(), ts_recent(c.time_wait_point())))
            }
            Held::TimeWait(tw) => {
                Some((tw.snd_nxt(), tw.rcv_nxt(), ts_recent(tw.time_wait_point())))
            }
            _ => None,
        }
    }

    /// A connection from a listener, answering `syn` with SYN-ACK(`iss`).
    fn accept(&mut self, now: Instant, syn: &Segment, iss: SeqNum) {
        let ts_offset = self.ts_offset(syn.dst, syn.src);
        let config = self.listener_config(syn.dst.port());
        let mark = self.mark();
        let conn = Connection::accept_lent(
            now,
            config,
            (syn.dst, syn),
            (iss, ts_offset),
            &mut self.lent,
        );
        self.insert(conn, mark);
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
            let iss = self.next_isn(now, seg.dst, seg.src);
            self.accept(now, seg, iss);
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
        self.lent.out.push_back(Transmit {
            segment: rst,
            retransmission: None,
        });
        self.out_ids.push_back(None);
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
            if !Endpoint::is_live(&self.slots, (due, index, generation)) {
                // Stale entry: the deadline moved or the connection is gone.
                self.stale_timers = self.stale_timers.saturating_sub(1);
                continue;
            }
            self.slots[index as usize].scheduled = None;
            self.call(id, |c| c.handle_timeout(now));
        }
    }

    // ----- application commands -----

    /// Queues data on a connection.
    pub fn send(&mut self, now: Instant, id: ConnId, data: &[u8]) -> Result<usize, CommandError> {
        self.call(id, |c| c.send(now, data))
            .unwrap_or(Err(CommandError::NotConnected))
    }

    /// Sets a connection's send-buffer size (`SO_SNDBUF`; see
    /// [`Connection::set_send_buffer`]).
    pub fn set_send_buffer(&mut self, id: ConnId, size: Option<u32>) {
        self.call(id, |c| c.set_send_buffer(size));
    }

    /// Reads every readable octet of a connection into `out`.
    pub fn recv_to_end(&mut self, id: ConnId, out: &mut Vec<u8>) -> usize {
        self.call(id, |c| c.recv_to_end(out)).unwrap_or(0)
    }

    /// Reads up to `buf.len()` octets of a connection.
    pub fn recv(&mut self, id: ConnId, buf: &mut [u8]) -> usize {
        self.call(id, |c| c.recv(buf)).unwrap_or(0)
    }

    /// Fixes a connection's receive buffer at `bytes` (`SO_RCVBUF` on an
    /// open socket; see [`Connection::set_recv_buffer`]).
    pub fn set_recv_buffer(&mut self, id: ConnId, bytes: u32) {
        self.call(id, |c| c.set_recv_buffer(bytes));
    }

    /// Shuts down a connection's write side (FIN after the data).
    pub fn shutdown(&mut self, now: Instant, id: ConnId) -> Result<(), CommandError> {
        self.call(id, |c| c.shutdown(now))
            .unwrap_or(Err(CommandError::NotConnected))
    }

    /// Releases a connection (see [`Connection::close`]).
    pub fn close(&mut self, now: Instant, id: ConnId) {
        self.call(id, |c| c.close(now));
    }

    /// Aborts a connection with RST.
    pub fn abort(&mut self, now: Instant, id: ConnId) {
        self.call(id, |c| c.abort(now));
    }

    // ----- outputs -----

    /// The next segment to send, with the connection it belongs to (`None`
    /// for a RST answering a segment that matched no connection).
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(Option<ConnId>, Transmit)> {
        let t = self.lent.out.pop_front()?;
        Some((self.out_ids.pop_front().flatten(), t))
    }

    /// The next event, with its connection.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<(ConnId, Event)> {
        let e = self.lent.events.pop_front()?;
        Some((self.event_ids.pop_front()?, e))
    }

    /// The last [`Connection::recovery_stats`] of a connection this
    /// endpoint has forgotten (CLOSED, and nothing left for its application
    /// to read), once per connection, oldest first: what a driver that
    /// reports per connection reads once [`Endpoint::connection`] no longer
    /// finds it. One entry per forgotten connection is kept until polled
    /// (or [`Endpoint::reset`]); a driver that does not report them need not
    /// poll.
    #[must_use]
    pub fn poll_final_stats(&mut self) -> Option<(ConnId, RecoveryStats)> {
        self.final_stats.pop_front()
    }

    /// The earliest timer of any connection.
    #[must_use]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(&Reverse(entry)) = self.timers.peek() {
            if Endpoint::is_live(&self.slots, entry) {
                return Some(entry.0);
            }
            self.timers.pop();
            self.stale_timers = self.stale_timers.saturating_sub(1);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::impls;

    /// A generator that counts, so the secret is known to the test only as
    /// "whatever was drawn".
    struct Counter(u64);
    impl RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 += 1;
            self.0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            impls::fill_bytes_via_next(self, dest)
        }
    }

    /// Where the endpoint's generator lives.
    fn rng_at(ep: &mut Endpoint) -> *const u8 {
        (*ep.rng).as_any_mut() as *mut dyn Any as *const u8
    }

    #[test]
    fn reset_overwrites_a_generator_of_the_same_type_in_place() {
        let mut ep = Endpoint::new(Ipv4Addr::new(10, 0, 0, 1), Config::linux(), Counter(0));
        let before = rng_at(&mut ep);
        ep.reset(Counter(100));
        assert_eq!(rng_at(&mut ep), before, "a new box for the same type");
        assert_eq!(ep.rng.next_u64(), 101, "the new generator draws");
        // Another type takes a box of its own, and draws too.
        ep.reset(Counter2(7));
        assert_eq!(ep.rng.next_u64(), 7 * 3);
    }

    /// A second generator type.
    struct Counter2(u64);
    impl RngCore for Counter2 {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 * 3
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            impls::fill_bytes_via_next(self, dest)
        }
    }

    fn iss_of(ep: &Endpoint, id: ConnId) -> u32 {
        ep.connection(id).unwrap().iss().0
    }

    /// A socket's own options reach the wire: a listener made with
    /// `listen_with` answers with its configuration's MSS, and a
    /// connection made with `connect_with` sends its own in the SYN, while
    /// the endpoint's other sockets keep the endpoint's.
    #[test]
    fn per_socket_configuration_reaches_the_syn_and_syn_ack() {
        let small = Arc::new(Config {
            mss: 536,
            ..Config::rfc()
        });
        let mut ep = Endpoint::new(Ipv4Addr::new(10, 0, 0, 1), Config::rfc(), Counter(0));
        ep.listen_with(80, Arc::clone(&small)).unwrap();
        ep.listen(81).unwrap();
        let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 5000);
        for (port, mss) in [(80, 536), (81, 1460)] {
            let mut syn = Segment::new(
                remote,
                SocketAddrV4::new(ep.addr(), port),
                SeqNum(100),
                SeqNum(0),
                Flags::SYN,
                1000,
            );
            syn.mss = Some(1460);
            ep.handle_segment(Instant::ZERO, &syn);
            let (_, synack) = ep.poll_transmit().unwrap();
            assert!(synack.segment.flags.syn() && synack.segment.flags.ack());
            assert_eq!(synack.segment.mss, Some(mss), "listener on {port}");
        }
        let id = ep.connect_with(Instant::ZERO, remote, None, small).unwrap();
        let (owner, syn) = ep.poll_transmit().unwrap();
        assert_eq!(owner, Some(id));
        assert_eq!(syn.segment.mss, Some(536));
        ep.connect(Instant::ZERO, remote, None).unwrap();
        let (_, syn) = ep.poll_transmit().unwrap();
        assert_eq!(syn.segment.mss, Some(1460));
    }

    /// A connection's loss-recovery state outlives it: once the endpoint
    /// forgets a connection, `poll_final_stats` gives its last
    /// `recovery_stats` once, under its handle.
    #[test]
    fn a_forgotten_connection_leaves_its_final_stats_once() {
        let mut ep = Endpoint::new(Ipv4Addr::new(10, 0, 0, 1), Config::rfc(), Counter(0));
        let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let id = ep.connect(Instant::ZERO, remote, None).unwrap();
        // The SYN's timer expires once: one RTO (RFC 6298 §5.4), at the
        // initial RTO of 1 s (§2.1).
        ep.handle_timeout(Instant::from_secs(1));
        let live = ep.connection(id).unwrap().recovery_stats();
        assert_eq!(live.rtos, 1);
        assert_eq!(ep.poll_final_stats(), None, "still there");
        ep.abort(Instant::from_secs(1), id);
        assert!(ep.connection(id).is_none(), "gone once aborted");
        assert_eq!(ep.poll_final_stats(), Some((id, live)));
        assert_eq!(ep.poll_final_stats(), None, "once");
    }

    /// RFC 9293 §3.4.1 (MUST-8) and RFC 6528: ISN = M + F(4-tuple,
    /// secret). Two incarnations of one 4-tuple differ by the clock alone:
    /// 1 s apart at the `rfc` tick of 4 µs, 250 000; at the `linux` tick of
    /// 64 ns, 15 625 000. Another 4-tuple gets another F.
    #[test]
    fn clock_driven_isns_advance_with_the_clock_per_4_tuple() {
        for (config, per_second) in [(Config::rfc(), 250_000u32), (Config::linux(), 15_625_000)] {
            let mut ep = Endpoint::new(Ipv4Addr::new(10, 0, 0, 1), config, Counter(0));
            let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
            let a = ep.connect(Instant::ZERO, remote, Some(40000)).unwrap();
            let first = iss_of(&ep, a);
            ep.abort(Instant::ZERO, a);
            let b = ep
                .connect(Instant::from_secs(1), remote, Some(40000))
                .unwrap();
            assert_eq!(iss_of(&ep, b).wrapping_sub(first), per_second);
            let c = ep
                .connect(Instant::from_secs(1), remote, Some(40001))
                .unwrap();
            assert_ne!(iss_of(&ep, c).wrapping_sub(first), per_second, "F differs");
        }
    }
}

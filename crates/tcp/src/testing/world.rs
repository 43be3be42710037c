//! Two endpoints on one deterministic path.

use std::collections::VecDeque;
use std::fmt;

use crate::endpoint::{ConnId, Endpoint};
use crate::event::{Event, Transmit};
use crate::segment::Segment;
use crate::time::{Duration, Instant};

/// One of the two ends of a [`World`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The first endpoint (index 0), usually the one that connects.
    Client,
    /// The second endpoint (index 1), usually the one that listens.
    Server,
}

impl Side {
    /// Both sides, client first: the order in which a [`World`] polls them.
    pub const BOTH: [Side; 2] = [Side::Client, Side::Server];

    /// The other end.
    pub const fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// 0 for the client, 1 for the server.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The side with that index (0 client, anything else server).
    pub const fn from_index(i: usize) -> Side {
        if i == 0 { Side::Client } else { Side::Server }
    }

    /// `C>S` or `S>C`: the direction of a segment this side sends.
    pub const fn arrow(self) -> &'static str {
        match self {
            Side::Client => "C>S",
            Side::Server => "S>C",
        }
    }
}

/// What the path does with one segment, as decided by
/// [`Hooks::on_transmit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// It arrives after the direction's one-way delay.
    Deliver,
    /// It is lost.
    Drop,
    /// It arrives `extra` later than the one-way delay would have it.
    Delay(Duration),
    /// One copy arrives after each of these delays from now (instead of
    /// the direction's delay): several entries duplicate the segment, a
    /// short one reorders it, none loses it.
    Arrive(Vec<Duration>),
}

/// What a [`World`] calls while it runs: the applications on both ends and
/// the path's decisions. Both methods have defaults (do nothing, deliver
/// everything), so `()` is the quiet application on a clean path.
pub trait Hooks {
    /// `side`'s endpoint reported `event` for connection `id` at `now`.
    /// The hook may act on the endpoint (read, write, close) as an
    /// application would; whatever that produces is collected in turn.
    fn on_event(
        &mut self,
        endpoint: &mut Endpoint,
        now: Instant,
        side: Side,
        id: ConnId,
        event: Event,
    ) {
        let _ = (endpoint, now, side, id, event);
    }

    /// `from` sends `transmit` (of connection `id`, or a RST for no
    /// connection) at `now`; the answer decides its fate on the path.
    fn on_transmit(
        &mut self,
        now: Instant,
        from: Side,
        id: Option<ConnId>,
        transmit: &Transmit,
    ) -> Fate {
        let _ = (now, from, id, transmit);
        Fate::Deliver
    }
}

impl Hooks for () {}

/// A segment on its way to one side.
#[derive(Clone, Debug)]
pub struct InFlight {
    /// When it is due at the receiver.
    pub at: Instant,
    /// Its place in the order segments entered the path (ties at one
    /// instant are delivered in this order).
    pub order: u64,
    /// The segment.
    pub segment: Segment,
}

/// The step bound of a [`World`] was reached: something keeps happening
/// for ever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Livelock {
    /// The bound that was reached.
    pub steps: u64,
}

impl fmt::Display for Livelock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "livelock: more than {} steps", self.steps)
    }
}

impl std::error::Error for Livelock {}

/// Two endpoints, a client and a server, and the segments between them.
///
/// [`World::run_until`] moves time from one instant at which something
/// happens to the next. At each instant, in this order (the rule every test
/// built on it relies on):
///
/// 1. if [`timers_first`](World::timers_first) is set, the timers due fire,
///    the client's then the server's;
/// 2. the segments due arrive, in the order they entered the path (a
///    segment sent with no delay arrives at the same instant);
/// 3. the timers due fire, the client's then the server's.
///
/// After every input the outputs of both endpoints are collected, client
/// first: each event goes to [`Hooks::on_event`], each segment to
/// [`Hooks::on_transmit`] and then onto the path, until neither endpoint
/// has anything left. Each instant counts as one step; more than
/// [`max_steps`](World::max_steps) is a [`Livelock`].
///
/// For scripts that are the network themselves (fuzzers), the queues can be
/// worked by hand instead: [`deliver_next`](World::deliver_next),
/// [`drop_next`](World::drop_next), [`duplicate_next`](World::duplicate_next),
/// [`requeue_next`](World::requeue_next), and [`fire_timers`](World::fire_timers)
/// after setting [`now`](World::now).
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use tcpsim_tcp::testing::{Side, World};
/// use tcpsim_tcp::{Config, Duration, Endpoint, Event, Instant, IsnMode, State};
/// # struct Zero;
/// # impl rand_core::RngCore for Zero {
/// #     fn next_u32(&mut self) -> u32 { 0 }
/// #     fn next_u64(&mut self) -> u64 { 0 }
/// #     fn fill_bytes(&mut self, d: &mut [u8]) { d.fill(0) }
/// # }
///
/// let mut config = Config::rfc();
/// config.isn = IsnMode::Fixed(1000);
/// let client = Endpoint::new(Ipv4Addr::new(10, 0, 0, 1), config, Zero);
/// let mut server = Endpoint::new(Ipv4Addr::new(10, 0, 0, 2), config, Zero);
/// server.listen(80).unwrap();
/// let mut world = World::new(client, server, Duration::from_millis(50));
///
/// let to = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
/// // A Vec of (time, side, event) is a hook that records every event.
/// let mut seen = Vec::new();
/// let id = world
///     .command(Side::Client, &mut seen, |ep, now| ep.connect(now, to, None))
///     .unwrap();
/// world.run_until(Instant::from_millis(100), &mut seen).unwrap();
/// assert_eq!(world.client.state(id), State::Established);
/// // SYN at 0, SYN-ACK at 50 ms, client ESTABLISHED at 100 ms.
/// assert!(seen.contains(&(Instant::from_millis(100), Side::Client, Event::Connected)));
/// ```
#[derive(Debug)]
pub struct World {
    /// The current time.
    pub now: Instant,
    /// The first endpoint.
    pub client: Endpoint,
    /// The second endpoint.
    pub server: Endpoint,
    /// The one-way delay of each direction, indexed by the sender's
    /// [`Side::index`].
    pub delay: [Duration; 2],
    /// Fire due timers before due arrivals at one instant (default: after).
    /// Real kernels break such exact ties either way.
    pub timers_first: bool,
    /// The most instants [`World::run_until`] steps through (over the
    /// world's life) before it reports a [`Livelock`].
    pub max_steps: u64,
    steps: u64,
    order: u64,
    /// Segments in flight to each side, in the order they were sent.
    queues: [VecDeque<InFlight>; 2],
}

/// A `Vec` of `(time, side, event)` is the simplest [`Hooks`]: it records
/// every event and delivers every segment.
impl Hooks for Vec<(Instant, Side, Event)> {
    fn on_event(&mut self, _: &mut Endpoint, now: Instant, side: Side, _: ConnId, event: Event) {
        self.push((now, side, event));
    }
}

impl World {
    /// The default [`World::max_steps`].
    pub const DEFAULT_MAX_STEPS: u64 = 100_000;

    /// Two endpoints joined by a path with `delay` each way, at time zero.
    pub fn new(client: Endpoint, server: Endpoint, delay: Duration) -> World {
        World {
            now: Instant::ZERO,
            client,
            server,
            delay: [delay, delay],
            timers_first: false,
            max_steps: World::DEFAULT_MAX_STEPS,
            steps: 0,
            order: 0,
            queues: [VecDeque::new(), VecDeque::new()],
        }
    }

    /// One side's endpoint.
    pub fn endpoint(&self, side: Side) -> &Endpoint {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    /// One side's endpoint, to act on. Call [`World::flush`] afterwards
    /// (or use [`World::command`]) so its outputs reach the path.
    pub fn endpoint_mut(&mut self, side: Side) -> &mut Endpoint {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    /// Runs `f` on `side`'s endpoint at the current time (an application
    /// command), then collects the outputs.
    pub fn command<R>(
        &mut self,
        side: Side,
        hooks: &mut (impl Hooks + ?Sized),
        f: impl FnOnce(&mut Endpoint, Instant) -> R,
    ) -> R {
        let now = self.now;
        let r = f(self.endpoint_mut(side), now);
        self.flush(hooks);
        r
    }

    /// Hands `segment` to `to` at the current time, as if it had just
    /// arrived (a forged or scripted segment), then collects the outputs.
    pub fn inject(&mut self, to: Side, segment: &Segment, hooks: &mut (impl Hooks + ?Sized)) {
        let now = self.now;
        self.endpoint_mut(to).handle_segment(now, segment);
        self.flush(hooks);
    }

    /// Collects both endpoints' outputs, client first, until neither has
    /// any: events to [`Hooks::on_event`], segments through
    /// [`Hooks::on_transmit`] onto the path.
    pub fn flush(&mut self, hooks: &mut (impl Hooks + ?Sized)) {
        loop {
            let mut busy = false;
            for side in Side::BOTH {
                let now = self.now;
                while let Some((id, e)) = self.endpoint_mut(side).poll_event() {
                    busy = true;
                    hooks.on_event(self.endpoint_mut(side), now, side, id, e);
                }
                while let Some((id, t)) = self.endpoint_mut(side).poll_transmit() {
                    busy = true;
                    let fate = hooks.on_transmit(now, side, id, &t);
                    self.send(side, t.segment, fate);
                }
            }
            if !busy {
                break;
            }
        }
    }

    /// Puts a segment from `from` on the path, as `fate` says.
    fn send(&mut self, from: Side, segment: Segment, fate: Fate) {
        let base = self.now + self.delay[from.index()];
        match fate {
            Fate::Deliver => self.enqueue(from.other(), base, segment),
            Fate::Drop => {}
            Fate::Delay(extra) => self.enqueue(from.other(), base + extra, segment),
            Fate::Arrive(delays) => {
                let now = self.now;
                for d in delays {
                    self.enqueue(from.other(), now + d, segment.clone());
                }
            }
        }
    }

    fn enqueue(&mut self, to: Side, at: Instant, segment: Segment) {
        self.order += 1;
        self.queues[to.index()].push_back(InFlight {
            at,
            order: self.order,
            segment,
        });
    }

    /// The segments on their way to `to`, in the order they were sent.
    pub fn in_flight(&self, to: Side) -> &VecDeque<InFlight> {
        &self.queues[to.index()]
    }

    /// Whether no segment is in flight either way.
    pub fn path_is_empty(&self) -> bool {
        self.queues.iter().all(VecDeque::is_empty)
    }

    /// Delivers the oldest segment on its way to `to` now, whatever its
    /// due time, then collects the outputs. False if there was none.
    pub fn deliver_next(&mut self, to: Side, hooks: &mut (impl Hooks + ?Sized)) -> bool {
        let Some(f) = self.queues[to.index()].pop_front() else {
            return false;
        };
        self.inject(to, &f.segment, hooks);
        true
    }

    /// Loses the oldest segment on its way to `to`.
    pub fn drop_next(&mut self, to: Side) -> Option<Segment> {
        self.queues[to.index()].pop_front().map(|f| f.segment)
    }

    /// Duplicates the oldest segment on its way to `to`: the copy goes to
    /// the back of the queue, due at the same time.
    pub fn duplicate_next(&mut self, to: Side) {
        if let Some(f) = self.queues[to.index()].front() {
            let (at, segment) = (f.at, f.segment.clone());
            self.enqueue(to, at, segment);
        }
    }

    /// Moves the oldest segment on its way to `to` to the back of the queue.
    pub fn requeue_next(&mut self, to: Side) {
        if let Some(f) = self.queues[to.index()].pop_front() {
            self.enqueue(to, f.at, f.segment);
        }
    }

    /// Fires both endpoints' due timers at the current time, `first`'s
    /// first, collecting the outputs after each.
    pub fn fire_timers(&mut self, first: Side, hooks: &mut (impl Hooks + ?Sized)) {
        for side in [first, first.other()] {
            let now = self.now;
            self.endpoint_mut(side).handle_timeout(now);
            self.flush(hooks);
        }
    }

    /// The earliest timer deadline of either endpoint.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next instant anything happens: an arrival or a timer.
    pub fn next_time(&mut self) -> Option<Instant> {
        let arrival = self.queues.iter().flatten().map(|f| f.at).min();
        [arrival, self.next_deadline()].into_iter().flatten().min()
    }

    /// Collects any outputs not yet collected, then runs the next instant at
    /// which anything happens (see [`World`] for what happens in it). False when nothing is left to happen.
    pub fn step(&mut self, hooks: &mut (impl Hooks + ?Sized)) -> Result<bool, Livelock> {
        self.flush(hooks);
        match self.next_time() {
            Some(t) => self.step_at(t, hooks).map(|()| true),
            None => Ok(false),
        }
    }

    fn step_at(&mut self, t: Instant, hooks: &mut (impl Hooks + ?Sized)) -> Result<(), Livelock> {
        self.steps += 1;
        if self.steps >= self.max_steps {
            return Err(Livelock {
                steps: self.max_steps,
            });
        }
        self.now = t;
        if self.timers_first {
            self.fire_timers(Side::Client, hooks);
        }
        while let Some((q, i)) = self.next_due(t) {
            let f = self.queues[q]
                .remove(i)
                .unwrap_or_else(|| unreachable!("next_due names a queued segment"));
            self.inject(Side::from_index(q), &f.segment, hooks);
        }
        self.fire_timers(Side::Client, hooks);
        Ok(())
    }

    /// The queue and position of the segment due first at or before `t`
    /// (ties: the one sent first).
    fn next_due(&self, t: Instant) -> Option<(usize, usize)> {
        (0..2)
            .flat_map(|q| {
                self.queues[q]
                    .iter()
                    .enumerate()
                    .filter(move |(_, f)| f.at <= t)
                    .map(move |(i, f)| ((f.at, f.order), q, i))
            })
            .min()
            .map(|(_, q, i)| (q, i))
    }

    /// Collects any outputs not yet collected, then runs until nothing is
    /// left to happen or the next thing is after
    /// `limit`; the clock then reads `limit` (unless `limit` is
    /// [`Instant::MAX`], or time already passed it).
    pub fn run_until(
        &mut self,
        limit: Instant,
        hooks: &mut (impl Hooks + ?Sized),
    ) -> Result<(), Livelock> {
        self.flush(hooks);
        while let Some(t) = self.next_time() {
            if t > limit {
                break;
            }
            self.step_at(t, hooks)?;
        }
        if self.now < limit && limit != Instant::MAX {
            self.now = limit;
        }
        Ok(())
    }

    /// Runs until nothing is left to happen.
    pub fn run(&mut self, hooks: &mut (impl Hooks + ?Sized)) -> Result<(), Livelock> {
        self.run_until(Instant::MAX, hooks)
    }
}

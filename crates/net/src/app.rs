//! Applications: what runs on the hosts, apart from TCP.
//!
//! The engine ([`crate::engine`]) only routes. Everything an application
//! does — open, write, read, close — goes through the engine's host API
//! ([`Engine::connect`], [`Engine::send`], ...), and everything TCP tells an
//! application about one of its connections comes back as an [`AppEvent`],
//! delivered after the host has processed the input that caused it, at the
//! same virtual instant, in the order the events happened. An application
//! may also set timers of its own ([`Engine::schedule_app`]).
//!
//! Two applications exist: the built-in workload of `[[connections]]`
//! ([`crate::apps::workload`]) and the async sockets that tokio tasks use
//! ([`crate::apps::sockets`]). Each connection belongs to the application
//! that opened it, which hears the events of both its ends that are in
//! the [`Interests`] it gave when it created the connection.

use tcpsim_tcp::{ConnId, Event};

use crate::engine::{ConnRecord, Engine};
use crate::facts::End;
use crate::trace::HostId;
use crate::workload::Workload;

/// Which application: an index into the simulation's application table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AppId(pub(crate) u8);

/// The TCP events an application wants to hear of, as a set: a
/// connection's events outside its owner's set are not queued at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Interests(u16);

impl Interests {
    /// Every event an application can hear of.
    pub(crate) const ALL: Interests = Interests(u16::MAX);

    /// The set of these events (the values inside them do not matter).
    pub(crate) const fn of(events: &[Event]) -> Interests {
        let mut bits = 0;
        let mut i = 0;
        while i < events.len() {
            bits |= bit(&events[i]);
            i += 1;
        }
        Interests(bits)
    }

    /// This set and the events of `events`.
    pub(crate) const fn with(self, events: &[Event]) -> Interests {
        Interests(self.0 | Interests::of(events).0)
    }

    /// Whether `ev` is in the set.
    #[inline]
    pub(crate) const fn contains(self, ev: &Event) -> bool {
        self.0 & bit(ev) != 0
    }
}

const fn bit(ev: &Event) -> u16 {
    1 << match ev {
        Event::StateChanged { .. } => 0,
        Event::TimerFired(_) => 1,
        Event::Connected => 2,
        Event::Readable => 3,
        Event::AllAcked => 4,
        Event::EndOfStream => 5,
        Event::Closed => 6,
        Event::Refused => 7,
        Event::Reset => 8,
        Event::TimedOut => 9,
        Event::Writable => 10,
    }
}

/// One end of a run connection, as an application holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Socket {
    /// The host it is on.
    pub(crate) host: HostId,
    /// Its TCP handle on that host.
    pub(crate) id: ConnId,
    /// The run connection.
    pub(crate) conn: u32,
    /// Which end of it.
    pub(crate) end: End,
}

/// A TCP event of one of an application's connections.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AppEvent {
    /// The application that owns the connection.
    pub(crate) owner: AppId,
    /// The end it happened at.
    pub(crate) socket: Socket,
    /// What happened: an [`Event`] in the owner's [`Interests`] (state
    /// changes and timer expiries never: only the trace hears of them).
    pub(crate) event: Event,
}

/// An application: it reacts to the TCP events of its connections and to
/// its own timers by issuing commands through the engine's host API.
pub(crate) trait Application {
    /// A TCP event of one of its connections.
    fn on_event(&mut self, engine: &mut Engine, ev: AppEvent);

    /// One of its timers is due.
    fn on_timer(&mut self, engine: &mut Engine, token: u64);

    /// Whether a timer it set is still wanted (a stale one is skipped
    /// without counting as an event or moving the clock).
    fn timer_pending(&self, _token: u64) -> bool {
        true
    }

    /// What the connection `conn` it owns was meant to do, for its report.
    fn describe(&self, conn: u32, record: &ConnRecord) -> Workload;
}

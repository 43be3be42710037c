//! What the engine makes of a TCP event: a trace record, the facts of the
//! connection end in the registry (states, times, errors), the application
//! calls that TCP itself decides (accept, end-of-stream, errors), and an
//! event for the application that owns the connection.

use tcpsim_tcp::{ConnId, Event, State};

use super::Engine;
use super::registry::ix;
use crate::app::{AppEvent, Socket};
use crate::facts::End;
use crate::trace::{AppCall, AppError, HostId, TraceKind};

impl Engine {
    pub(super) fn on_tcp_event(&mut self, h: HostId, id: ConnId, ev: Event) {
        let mut mapped = self.conns.end_of(h, id);
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
                    let keep = self.options.state_paths;
                    let e = self.conns.end_mut(c, end);
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
                // Applications hear of states through the events below.
                return;
            }
            Event::TimerFired(timer) => {
                self.record(TraceKind::Timer {
                    host: h,
                    conn,
                    timer,
                });
                return;
            }
            Event::Readable | Event::AllAcked | Event::Writable => {}
            Event::Connected => {
                // The handshake is over; usually this is ESTABLISHED (noted
                // above), but after a CLOSE in SYN-RECEIVED it ends in
                // FIN-WAIT-1 or CLOSING.
                if let Some((c, end)) = mapped {
                    let now = self.now;
                    let e = self.conns.end_mut(c, end);
                    if e.established.is_none() {
                        e.established = Some(now);
                    }
                }
                // A connection a listener created is accepted when it is
                // established.
                if let Some((c, End::Server)) = mapped {
                    if self.conns.get(c).passive {
                        self.record(TraceKind::App {
                            host: h,
                            conn,
                            call: AppCall::Accept,
                        });
                    }
                }
            }
            // An application that released its socket reads nothing more.
            Event::EndOfStream => {
                let released = mapped.is_some_and(|(c, end)| self.conns.get(c).released[ix(end)]);
                if !released {
                    self.record(TraceKind::App {
                        host: h,
                        conn,
                        call: AppCall::Eof,
                    });
                }
            }
            Event::Closed => {
                if let Some((c, end)) = mapped {
                    let now = self.now;
                    let aborted = self.conns.get(c).aborted;
                    let e = self.conns.end_mut(c, end);
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
                // Nor does one that released its socket (close, or the
                // shorthand's release at end-of-stream): nobody is left to
                // be told.
                let released = mapped.is_some_and(|(c, end)| self.conns.get(c).released[ix(end)]);
                let seen = !released
                    && mapped.is_none_or(|(c, end)| {
                        end == End::Client || self.conns.get(c).ends[ix(end)].established.is_some()
                    });
                if seen {
                    self.record(TraceKind::App {
                        host: h,
                        conn,
                        call: AppCall::Error(error),
                    });
                }
                if let Some((c, end)) = mapped {
                    let now = self.now;
                    let e = self.conns.end_mut(c, end);
                    e.error = Some(error);
                    e.ended = Some(now);
                }
            }
        }
        let Some((conn, end)) = mapped else {
            return;
        };
        let r = self.conns.get(conn);
        if r.interests.contains(&ev) {
            let owner = r.owner;
            self.app_events.push_back(AppEvent {
                owner,
                socket: Socket {
                    host: h,
                    id,
                    conn,
                    end,
                },
                event: ev,
            });
        }
    }

    /// A listener created a connection: the run connection it belongs to,
    /// by its 4-tuple, if any.
    fn adopt_passive(&mut self, h: HostId, id: ConnId) -> Option<(u32, End)> {
        let c = self.hosts[h].endpoint.connection(id)?;
        let (remote, local) = (c.remote(), c.local());
        self.conns.adopt(h, id, remote, local)
    }
}

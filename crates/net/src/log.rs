//! What the engine does, as `tracing` events stamped with virtual time.
//!
//! Every record of the run's trace ([`TraceKind`]) is also an event of the
//! target `tcpsim_net::trace`, whether or not the run keeps its trace:
//!
//! | level | events |
//! |---|---|
//! | `DEBUG` | state changes, expired timers, drops, retransmitted segments, application calls |
//! | `TRACE` | every other segment sent, and every segment delivered |
//!
//! Each event has the field `t_ns` (virtual nanoseconds since the start:
//! a log line says when in the run, never when on the wall clock), the
//! host (`host`, or `from` and `to` for a drop) and the experiment
//! connection (`conn`) where there is one, and what happened as fields a
//! filter or a JSON formatter can read (`flags`, `seq`, `ack`, `len`,
//! `retransmission`, `reason`, `from_state`, `to_state`, `timer`, `call`).
//! `tcpsim-runner` puts a run's events in a span `run` (with the
//! experiment and seed; for a sweep's run, the grid point and seed).
//!
//! When no subscriber wants these levels (the `tcpsim` binary's default is
//! `warn`), each call site costs one check of a cached interest: the
//! events are built only for a subscriber that asked for them.

use tcpsim_tcp::Instant;
use tracing::{Level, debug, enabled, trace};

use crate::trace::TraceKind;

/// The target of the engine's events.
pub const TARGET: &str = "tcpsim_net::trace";

/// Emits `kind`, which happened at `at`, if a subscriber wants it.
#[inline]
pub(crate) fn emit(at: Instant, kind: &TraceKind) {
    // One check for both levels: TRACE is the finer, and the only one a
    // segment needs.
    if enabled!(target: TARGET, Level::DEBUG) {
        emit_enabled(at.as_nanos(), kind);
    }
}

#[cold]
fn emit_enabled(t_ns: u64, kind: &TraceKind) {
    match *kind {
        TraceKind::App { host, conn, call } => {
            debug!(target: TARGET, t_ns, host, conn, call = %call.describe(), "app");
        }
        TraceKind::Send {
            host,
            conn,
            retransmission,
            segment: s,
        } => {
            // A retransmission is news (DEBUG); a first transmission is one
            // segment among many (TRACE). The same fields either way.
            macro_rules! send {
                ($level:ident) => {
                    $level!(
                        target: TARGET,
                        t_ns,
                        host,
                        conn,
                        flags = %s.flags,
                        seq = s.seq.0,
                        ack = s.ack.0,
                        len = s.len,
                        win = s.win,
                        retransmission = retransmission.map(|c| c.name()),
                        "send"
                    )
                };
            }
            if retransmission.is_some() {
                send!(debug);
            } else {
                send!(trace);
            }
        }
        TraceKind::Drop {
            from,
            to,
            reason,
            segment: s,
        } => {
            debug!(
                target: TARGET,
                t_ns,
                from,
                to,
                reason = reason.name(),
                flags = %s.flags,
                seq = s.seq.0,
                len = s.len,
                "drop"
            );
        }
        TraceKind::Deliver { host, segment: s } => {
            trace!(
                target: TARGET,
                t_ns,
                host,
                flags = %s.flags,
                seq = s.seq.0,
                ack = s.ack.0,
                len = s.len,
                "deliver"
            );
        }
        TraceKind::State {
            host,
            conn,
            from,
            to,
        } => {
            debug!(target: TARGET, t_ns, host, conn, from_state = from.name(), to_state = to.name(), "state");
        }
        TraceKind::Timer { host, conn, timer } => {
            debug!(target: TARGET, t_ns, host, conn, timer = timer.name(), "timer");
        }
    }
}

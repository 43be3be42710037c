//! The step lists of `client_app` / `server_app` (tcpsim SPEC §3
//! "Applications"), run by the built-in workload application for the ends
//! that have one.
//!
//! An end runs its steps in order; a step starts when the one before it has
//! finished, at the same virtual instant. A list starts when its end
//! reaches ESTABLISHED (the client's `connect()` returns, the server
//! accepts). Each step is recorded as an application call when it
//! finishes (`write` as TCP takes the octets, as for the shorthand). A
//! reset or a timeout of the connection ends the list (the engine records
//! the error); a list that runs out without `close` or `abort` leaves its
//! socket open for the rest of the run.
//!
//! Unlike the shorthand, an end with a list reads only in its read steps:
//! what arrives meanwhile waits in the receive buffer, and closes the
//! window as it fills.

use tcpsim_tcp::{Event, Instant};

use super::workload::{WORKLOAD, WorkloadApp, Written, step_token};
use crate::app::Socket;
use crate::engine::Engine;
use crate::facts::End;
use crate::trace::{AppCall, Shut, Wait};
use crate::workload::Step;

/// Where one end is in its step list.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Runner {
    /// The step running now (the list's length once it has run out).
    next: usize,
    /// Whether the step running now has begun (a write issued, a timer set).
    begun: bool,
    /// Octets read by the step running now.
    read: u64,
    /// Octets of the stream written so far (where the next write goes on).
    written: u64,
    /// `shutdown read`: reads finish at once from now on.
    shut_read: bool,
    /// When the sleep running now ends.
    wake_at: Option<Instant>,
    /// The list ended early (the connection failed).
    failed: bool,
}

/// What became of a step this time.
enum Progress {
    /// It finished; the next one starts.
    Done,
    /// It waits for an event or a timer.
    Waiting,
    /// The list is over.
    Stop,
}

impl WorkloadApp {
    /// A TCP event of an end with a step list.
    pub(super) fn step_event(&mut self, engine: &mut Engine, s: Socket, event: Event) {
        match event {
            Event::Connected => {
                self.runners.insert((s.conn, s.end), Runner::default());
            }
            Event::Reset | Event::TimedOut => {
                if let Some(r) = self.runners.get_mut(&(s.conn, s.end)) {
                    r.failed = true;
                }
                return;
            }
            // A write waiting for room goes on in its step.
            Event::Writable | Event::Readable | Event::EndOfStream | Event::AllAcked => {}
            _ => return,
        }
        self.advance(engine, s);
        engine.flush(s.host);
    }

    /// A sleep or an `at` of `end` of `conn` is over.
    pub(super) fn wake(&mut self, engine: &mut Engine, conn: u32, end: End) {
        let Some(s) = engine.socket(conn, end) else {
            return;
        };
        self.advance(engine, s);
        engine.flush(s.host);
    }

    /// Whether `end` of `conn` is in a sleep or an `at` (its wake-up timer
    /// is not stale).
    pub(super) fn is_sleeping(&self, conn: u32, end: End) -> bool {
        self.runners
            .get(&(conn, end))
            .is_some_and(|r| r.wake_at.is_some() && !r.failed)
    }

    /// Runs the list of `s` as far as it goes now.
    pub(super) fn advance(&mut self, engine: &mut Engine, s: Socket) {
        let key = (s.conn, s.end);
        loop {
            let Some(mut r) = self.runners.get(&key).copied() else {
                return;
            };
            let Some(&step) = self.steps(s.conn, s.end).get(r.next) else {
                return;
            };
            if r.failed {
                return;
            }
            let progress = self.step(engine, s, step, &mut r);
            match progress {
                Progress::Done => {
                    r.next += 1;
                    r.begun = false;
                    r.read = 0;
                }
                Progress::Waiting => r.begun = true,
                Progress::Stop => r.failed = true,
            }
            self.runners.insert(key, r);
            if !matches!(progress, Progress::Done) {
                return;
            }
        }
    }

    /// Starts or goes on with `step`.
    fn step(&mut self, engine: &mut Engine, s: Socket, step: Step, r: &mut Runner) -> Progress {
        let now = engine.now;
        match step {
            Step::Write(n) => {
                let written = if r.begun {
                    self.writable(engine, s)
                } else {
                    self.write(engine, s.conn, s.end, r.written, r.written + n)
                };
                match written {
                    Written::All => {
                        r.written += n;
                        Progress::Done
                    }
                    Written::Waiting => Progress::Waiting,
                    Written::Failed => Progress::Stop,
                }
            }
            Step::Read(n) => {
                if !r.shut_read {
                    r.read += engine.recv_up_to(s, n - r.read);
                }
                if r.shut_read || r.read >= n || engine.at_eof(s) {
                    engine.record_call(s, AppCall::Read(r.read));
                    Progress::Done
                } else {
                    Progress::Waiting
                }
            }
            Step::ReadEof | Step::ReadAll => {
                if !r.shut_read {
                    r.read += engine.recv_all(s) as u64;
                }
                if r.shut_read || step == Step::ReadAll || engine.at_eof(s) {
                    engine.record_call(s, AppCall::Read(r.read));
                    Progress::Done
                } else {
                    Progress::Waiting
                }
            }
            Step::WaitAcked => {
                if engine.unacknowledged(s) == 0 {
                    engine.record_call(s, AppCall::Waited(Wait::Acked));
                    Progress::Done
                } else {
                    Progress::Waiting
                }
            }
            Step::Sleep(d) => self.sleep(engine, s, r, now + d, Wait::Sleep),
            Step::At(t) => self.sleep(engine, s, r, t, Wait::At),
            Step::Shutdown | Step::ShutdownBoth => {
                let how = if step == Step::Shutdown {
                    Shut::Write
                } else {
                    r.shut_read = true;
                    Shut::Both
                };
                match engine.shutdown(s, AppCall::Shutdown(how)) {
                    Ok(()) => Progress::Done,
                    Err(_) => Progress::Stop,
                }
            }
            Step::ShutdownRead => {
                r.shut_read = true;
                engine.record_call(s, AppCall::Shutdown(Shut::Read));
                Progress::Done
            }
            Step::Close => {
                if self.linger_aborts(s.conn, s.end) {
                    engine.abort(s);
                } else {
                    engine.record_call(s, AppCall::Close);
                    engine.release(s, false);
                }
                Progress::Done
            }
            Step::Abort => {
                engine.abort(s);
                Progress::Done
            }
        }
    }

    /// A `sleep` or an `at` until `until`: done once that time has come.
    fn sleep(
        &mut self,
        engine: &mut Engine,
        s: Socket,
        r: &mut Runner,
        until: Instant,
        wait: Wait,
    ) -> Progress {
        // The deadline is the one set when the step began.
        let until = r.wake_at.unwrap_or(until);
        if engine.now >= until {
            r.wake_at = None;
            engine.record_call(s, AppCall::Waited(wait));
            return Progress::Done;
        }
        if r.wake_at.is_none() {
            r.wake_at = Some(until);
            engine.schedule_app(until, WORKLOAD, step_token(s.conn, s.end));
        }
        Progress::Waiting
    }
}

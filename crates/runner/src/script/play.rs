//! Plays a [`Plan`] against one simulated endpoint, in virtual time, the
//! way packetdrill plays a script against a kernel (SPEC §7).
//!
//! - **Time.** A relative time counts from when the previous step finished
//!   (an outbound packet: when it was sent), except that a packet injected
//!   right after another injected packet counts from that one's scheduled
//!   time. Between steps the endpoint's timers fire at their deadlines.
//!   A step is on time within the tolerance: the larger of
//!   `--tolerance_usecs` and `--tolerance_percent` of its distance from the
//!   previous step.
//! - **Numbers.** SYNs carry absolute sequence numbers; every other segment
//!   counts from its sender's ISN as 0. The peer's ISN is what the script's
//!   SYN says; the endpoint's is learned from the first SYN it sends.
//! - **Outbound segments** of the socket under test are matched in order:
//!   flags, seq, ack, the window when the line has one, the options in
//!   order unless it says `<...>`, and the payload length, several
//!   back-to-back MSS-sized segments standing for one larger line (a TSO
//!   segment). TSval is checked only with `--tcp_ts_tick_usecs`; an
//!   injected TSecr names a TSval of an earlier `>` line and is replaced by
//!   the one the endpoint really sent.
//! - **Calls** block in virtual time. A call written `t...end` runs while
//!   the following packet lines play and must return at `end`; a call
//!   without an end that blocks holds the script until it returns, and the
//!   next call waits up to one second for a blocked call to return.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddrV4;

use tcpsim_tcp::{
    Endpoint, Flags, Instant, Options, SackBlocks, Segment, SeqNum, Timestamps, Transmit,
};

use super::plan::{
    Action, Call as CallStep, CallKind, GetOption, Micros, Packet, PacketOptions, Plan, PollFd,
    SetOption, Shut, Step, TcpOption, When,
};
use super::sockets::{Call, Errno, Sockets};
use super::wire::{flag_letters, live_options, options_text};

/// How long a step waits for a segment or a call at most when the script
/// sets no limit (`*`, a call without an end): 10 minutes of virtual time.
pub const MAX_WAIT_USECS: Micros = 600_000_000;

/// How a script ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every line matched.
    Ok,
    /// A line did not match: its line number and what differed.
    Failed {
        /// 1-based line.
        line: u32,
        /// `expected ..., got ...`.
        message: String,
    },
    /// The script cannot be judged by tcpsim (say why): never `ok`.
    Skipped {
        /// 1-based line.
        line: u32,
        /// Why.
        reason: String,
    },
}

/// The result of playing one script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Played {
    /// How it ended.
    pub verdict: Verdict,
    /// The exchange, one line per step and per segment (for `--verbose`).
    pub log: Vec<String>,
}

/// A mismatch, stopping the script.
struct Failure {
    line: u32,
    message: String,
}

type Outcome<T> = Result<T, Failure>;

/// The socket packets refer to (packetdrill's "socket under test").
#[derive(Debug, Default)]
struct UnderTest {
    /// The live descriptor `socket()` returned, when it is a socket the
    /// script made (not a connection a listener made).
    fd: Option<i32>,
    /// (local, remote) once known.
    tuple: Option<(SocketAddrV4, SocketAddrV4)>,
    /// The endpoint's ISN as (script, live).
    local_isn: Option<(u32, u32)>,
    /// The peer's ISN (the script's and the wire's are the same).
    remote_isn: Option<u32>,
    /// The first TSval the endpoint sent, as (script, live).
    ts_first: Option<(u32, u32)>,
    /// Script TSval → live TSval, for injected TSecr.
    ts_map: BTreeMap<u32, u32>,
}

/// A call written `t...end` that has not returned yet.
#[derive(Debug)]
struct Blocked {
    line: u32,
    call: CallStep,
    start: Instant,
    end: Instant,
    /// The previous step's script time, for the tolerance.
    prev: Instant,
}

/// The player's state.
struct Player<'a> {
    plan: &'a Plan,
    source: &'a str,
    sockets: Sockets,
    /// Script descriptor → live descriptor.
    aliases: BTreeMap<i64, i32>,
    test: UnderTest,
    blocked: Option<Blocked>,
    /// When the previous step finished.
    base: Instant,
    /// The previous step's script time, and whether it was an inbound packet.
    prev: (Instant, bool),
    next_remote_port: u16,
    log: Vec<String>,
    /// Whether `log` is kept (`--verbose`): otherwise no line is formatted.
    keep_log: bool,
    /// An assertion that failed, reported when nothing else fails first
    /// (packetdrill runs the Python after the script).
    late_failure: Option<Failure>,
    skip: Option<(u32, String)>,
    /// When the `poll` in progress started, and when its timeout ends.
    poll: Option<(Instant, Option<Instant>)>,
}

fn at(us: Micros) -> Instant {
    Instant::from_nanos(us.saturating_mul(1000))
}

fn micros(t: Instant) -> u64 {
    t.as_nanos() / 1000
}

/// `1.234567`: a time in seconds with microseconds, as packetdrill prints.
fn secs(t: Instant) -> String {
    let us = micros(t);
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// Plays `plan` against `endpoint` (whose configuration is the profile with
/// the script's sysctls applied). `source` is the script text, for quoting
/// its lines in messages. With `keep_log`, [`Played::log`] has the whole
/// exchange; without, it stays empty and nothing is formatted for it.
pub fn play(plan: &Plan, source: &str, endpoint: Endpoint, keep_log: bool) -> Played {
    let mut player = Player {
        plan,
        source,
        sockets: Sockets::new(endpoint),
        aliases: BTreeMap::new(),
        test: UnderTest::default(),
        blocked: None,
        base: Instant::ZERO,
        prev: (Instant::ZERO, false),
        next_remote_port: REMOTE_PORT_FIRST,
        log: Vec::new(),
        keep_log,
        late_failure: None,
        skip: plan.skip.clone(),
        poll: None,
    };
    let verdict = match player.run() {
        Err(f) => Verdict::Failed {
            line: f.line,
            message: f.message,
        },
        Ok(()) => match (player.late_failure.take(), player.skip.take()) {
            (Some(f), _) => Verdict::Failed {
                line: f.line,
                message: f.message,
            },
            (None, Some((line, reason))) => Verdict::Skipped { line, reason },
            (None, None) => Verdict::Ok,
        },
    };
    Played {
        verdict,
        log: player.log,
    }
}

/// The first port the simulated peer connects from (packetdrill picks a
/// free ephemeral port of its host; the port is never compared).
pub const REMOTE_PORT_FIRST: u16 = 48_000;

impl Player<'_> {
    fn line_text(&self, line: u32) -> String {
        let text = self
            .source
            .lines()
            .nth(line.saturating_sub(1) as usize)
            .unwrap_or("")
            .trim();
        text.to_string()
    }

    fn fail<T>(&self, line: u32, got: impl Into<String>) -> Outcome<T> {
        Err(Failure {
            line,
            message: format!("expected `{}`, got {}", self.line_text(line), got.into()),
        })
    }

    fn now(&self) -> Instant {
        self.sockets.now()
    }

    fn tolerance(&self, expected: Instant, prev: Instant) -> u64 {
        let s = &self.plan.settings;
        let gap = micros(expected).saturating_sub(micros(prev));
        s.tolerance_usecs
            .max(gap.saturating_mul(s.tolerance_permille) / 1000)
    }

    fn run(&mut self) -> Outcome<()> {
        for step in &self.plan.steps {
            self.step(step)?;
        }
        // A call still blocked must still return by its end.
        if let Some(b) = &self.blocked {
            let limit = b.end + tcpsim_tcp::Duration::from_micros(self.tolerance(b.end, b.prev));
            self.advance(limit)?;
            if let Some(b) = &self.blocked {
                return self.fail(b.line, format!("no return by {}", secs(limit)));
            }
        }
        Ok(())
    }

    /// The step's scheduled time span, from the base.
    fn schedule(&self, step: &Step, inbound: bool) -> (Instant, Instant, bool) {
        let base = if inbound && self.prev.1 {
            self.prev.0
        } else {
            self.base
        };
        let d = |us| tcpsim_tcp::Duration::from_micros(us);
        match step.when {
            When::At(t) => (at(t), at(t), true),
            When::After(t) => (base + d(t), base + d(t), true),
            When::Any => (self.now(), self.now(), false),
            When::Between(a, b) => (at(a), at(b), true),
            When::AfterBetween(a, b) => (base + d(a), base + d(b), true),
        }
    }

    /// The origin a blocking call's end counts from.
    fn end_origin(&self, step: &Step) -> Instant {
        match step.when {
            When::After(_) | When::AfterBetween(..) => self.base,
            _ => Instant::ZERO,
        }
    }

    fn step(&mut self, step: &Step) -> Outcome<()> {
        let inbound = matches!(step.action, Action::Inbound(_));
        let (lo, hi, checked) = self.schedule(step, inbound);
        match &step.action {
            Action::Outbound(p) => {
                let tol = tcpsim_tcp::Duration::from_micros(self.tolerance(lo, self.prev.0));
                let deadline = if checked {
                    hi + tol
                } else {
                    self.now() + tcpsim_tcp::Duration::from_micros(MAX_WAIT_USECS)
                };
                let sent_at = self.outbound(step.line, p, deadline)?;
                if checked && (sent_at + tol < lo || sent_at > hi + tol) {
                    return Err(Failure {
                        line: step.line,
                        message: format!(
                            "expected `{}` at {}, got it at {} (tolerance {} us)",
                            self.line_text(step.line),
                            secs(lo),
                            secs(sent_at),
                            micros(Instant::ZERO + tol)
                        ),
                    });
                }
                self.base = self.now().max(sent_at);
                self.prev = (if checked { lo } else { sent_at }, false);
            }
            Action::Inbound(p) => {
                let t = self.start_at(step.line, lo)?;
                self.advance(t)?;
                let seg = self.inbound(step.line, p)?;
                if self.keep_log {
                    let line = format!("{} < {}", secs(t), self.describe(&seg, false));
                    self.log.push(line);
                }
                self.sockets.deliver(&seg);
                self.retry_blocked()?;
                self.base = t;
                self.prev = (lo, true);
            }
            Action::Call(call) => {
                let t = self.start_at(step.line, lo)?;
                self.advance(t)?;
                if self.blocked.is_some() {
                    if step.end.is_some() {
                        return Err(Failure {
                            line: step.line,
                            message: "a blocking call while another blocking call is in progress"
                                .into(),
                        });
                    }
                    let limit = self.now() + tcpsim_tcp::Duration::from_secs(1);
                    self.advance_while_blocked(limit)?;
                    if let Some(b) = &self.blocked {
                        let line = b.line;
                        return self.fail(line, format!("no return by {}", secs(limit)));
                    }
                }
                let start = self.now();
                let end = step
                    .end
                    .map(|e| self.end_origin(step) + tcpsim_tcp::Duration::from_micros(e));
                self.call(step, call, start, end)?;
                self.base = if end.is_some() { start } else { self.now() };
                self.prev = (lo, false);
            }
            Action::Shell { text, config } => {
                let t = self.start_at(step.line, lo)?;
                self.advance(t)?;
                match config {
                    None => {
                        if self.keep_log {
                            let line =
                                format!("{} shell command skipped (not run): {text}", secs(t));
                            self.log.push(line);
                        }
                    }
                    Some(c) => {
                        self.sockets.set_config(std::sync::Arc::new(**c));
                        if self.keep_log {
                            let line =
                                format!("{} sysctls applied (command not run): {text}", secs(t));
                            self.log.push(line);
                        }
                    }
                }
                self.base = self.now();
                self.prev = (lo, false);
            }
            Action::Assert(asserts) => {
                let t = self.start_at(step.line, lo)?;
                self.advance(t)?;
                self.check_asserts(step.line, asserts);
                self.base = self.now();
                self.prev = (lo, false);
            }
        }
        Ok(())
    }

    /// When a step that waits for its time starts: at its time, or now if
    /// the script is already past it (within the tolerance).
    fn start_at(&self, line: u32, t: Instant) -> Outcome<Instant> {
        let now = self.now();
        if t >= now {
            return Ok(t);
        }
        let tol = self.tolerance(t, self.prev.0);
        if micros(now) - micros(t) > tol {
            return Err(Failure {
                line,
                message: format!(
                    "`{}` is scheduled at {}, but the script only got there at {} (tolerance {tol} us)",
                    self.line_text(line),
                    secs(t),
                    secs(now)
                ),
            });
        }
        Ok(now)
    }

    /// The next instant something may happen: an endpoint timer, or the
    /// end of a blocked `poll`'s timeout.
    fn next_wake(&mut self) -> Option<Instant> {
        let timer = self.sockets.next_timer();
        match (timer, self.poll.and_then(|p| p.1)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Moves time to `to`, firing timers at their deadlines and letting a
    /// blocked call return as soon as it can.
    fn advance(&mut self, to: Instant) -> Outcome<()> {
        while let Some(t) = self.next_wake() {
            if t > to {
                break;
            }
            self.sockets.advance_to(t);
            self.retry_blocked()?;
        }
        self.sockets.advance_to(to);
        self.retry_blocked()
    }

    /// [`Player::advance`] up to `limit`, stopping once no call is blocked.
    fn advance_while_blocked(&mut self, limit: Instant) -> Outcome<()> {
        while self.blocked.is_some() {
            match self.next_wake() {
                Some(t) if t <= limit => {
                    self.sockets.advance_to(t);
                    self.retry_blocked()?;
                }
                _ => {
                    self.advance(limit)?;
                    break;
                }
            }
        }
        Ok(())
    }

    // ----- packets -----

    /// Whether a live segment belongs to the socket under test; adopts the
    /// 4-tuple of the first SYN or SYN-ACK when none is known.
    fn is_under_test(&mut self, seg: &Segment) -> bool {
        match self.test.tuple {
            Some((local, remote)) => seg.src == local && seg.dst == remote,
            None if seg.flags.syn() => {
                self.test.tuple = Some((seg.src, seg.dst));
                true
            }
            None => false,
        }
    }

    /// The next segment the socket under test sends, waiting until
    /// `deadline`.
    fn next_sent(&mut self, deadline: Instant) -> Outcome<Option<(Instant, Transmit)>> {
        loop {
            while let Some((t, tx)) = self.sockets.take_sent() {
                if self.is_under_test(&tx.segment) {
                    return Ok(Some((t, tx)));
                }
                if self.keep_log {
                    let line = format!(
                        "{} > {} (not the socket under test: not matched)",
                        secs(t),
                        self.describe(&tx.segment, true)
                    );
                    self.log.push(line);
                }
            }
            match self.next_wake() {
                Some(t) if t <= deadline => {
                    self.sockets.advance_to(t);
                    self.retry_blocked()?;
                }
                _ => return Ok(None),
            }
        }
    }

    /// Matches the next segment(s) the endpoint sends against `p`; returns
    /// when the (last) one was sent.
    fn outbound(&mut self, line: u32, p: &Packet, deadline: Instant) -> Outcome<Instant> {
        let Some((mut sent_at, first)) = self.next_sent(deadline)? else {
            return self.fail(line, format!("nothing by {}", secs(deadline)));
        };
        let mut seg = first.segment;
        // The first SYN the endpoint sends defines its ISN; any later SYN
        // (a retransmission, a reopened TIME-WAIT) is compared against it.
        let learned = seg.flags.syn() && self.test.local_isn.is_none();
        if learned {
            self.test.local_isn = Some((p.seq, seg.seq.0));
        }
        if self.keep_log {
            let line = format!("{} > {}", secs(sent_at), self.describe(&seg, true));
            self.log.push(line);
        }
        // A line longer than the segment: the segments that follow at once
        // make it up (packetdrill's TSO/GSO aggregation).
        let mut total = seg.payload.len() as u64;
        let piece = total;
        let first_seq = seg.seq;
        // The flags a piece may differ in: PSH and FIN go with the last.
        let tail_flags = Flags::PSH.union(Flags::FIN).bits();
        while total > 0 && total < u64::from(p.len) && !seg.flags.fin() {
            let Some((t, next)) = self.next_sent(deadline)? else {
                break;
            };
            let n = next.segment;
            if self.keep_log {
                let line = format!("{} > {}", secs(t), self.describe(&n, true));
                self.log.push(line);
            }
            let contiguous = n.seq == first_seq + total as u32
                && n.ack == seg.ack
                && n.window == seg.window
                && !n.flags.syn()
                && (n.flags.bits() | tail_flags) == (seg.flags.bits() | tail_flags);
            if !contiguous || (n.payload.len() as u64) > piece {
                let got = self.describe(&n, true);
                return self.fail(
                    line,
                    format!(
                        "{got} at {} (it does not continue the segment before it)",
                        secs(t)
                    ),
                );
            }
            total += n.payload.len() as u64;
            // The last piece's header stands for the whole (packetdrill's
            // aggregate_packets); its seq and length are set below.
            seg = n;
            sent_at = t;
        }
        if seg.seq != first_seq {
            seg.seq = first_seq;
            seg.payload.resize(total as usize, 0);
        }
        self.compare(line, p, &seg, sent_at)?;
        Ok(sent_at)
    }

    /// A live segment against a `>` line.
    fn compare(&mut self, line: u32, p: &Packet, seg: &Segment, sent_at: Instant) -> Outcome<()> {
        let got = format!("`{}` at {}", self.describe(seg, true), secs(sent_at));
        let why = |what: &str| format!("{got} ({what})");
        if seg.flags != p.flags {
            return self.fail(line, why("flags differ"));
        }
        let (script_isn, live_isn) = self.test.local_isn.unwrap_or((0, 0));
        let seq = if seg.flags.syn() {
            seg.seq.0.wrapping_sub(live_isn).wrapping_add(script_isn)
        } else {
            seg.seq.0.wrapping_sub(live_isn)
        };
        if seq != p.seq {
            return self.fail(line, why("sequence number differs"));
        }
        let ack = self.outbound_ack(seg);
        if ack != p.ack {
            return self.fail(line, why("ack differs"));
        }
        if seg.payload.len() as u64 != u64::from(p.len) {
            return self.fail(line, why("payload length differs"));
        }
        if let Some(w) = p.window
            && seg.window != w
        {
            return self.fail(line, why("window differs"));
        }
        match &p.options {
            PacketOptions::Any => {}
            PacketOptions::None => {
                if seg.mss.is_some() || !seg.options.is_empty() {
                    return self.fail(line, why("options present"));
                }
            }
            PacketOptions::List(want) => {
                let live = live_options(seg);
                if live.len() != want.len() {
                    return self.fail(line, why("options differ"));
                }
                for (l, w) in live.iter().zip(want) {
                    let same = match (l, w) {
                        (
                            TcpOption::Timestamps { val: lv, .. },
                            TcpOption::Timestamps { val: wv, .. },
                        ) => self.outbound_ts(*lv, *wv),
                        (TcpOption::Sack(lb), TcpOption::Sack(wb)) => {
                            let r = self.test.remote_isn.unwrap_or(0);
                            lb.len() == wb.len()
                                && lb
                                    .iter()
                                    .zip(wb)
                                    .all(|(a, b)| (a.0.wrapping_sub(r), a.1.wrapping_sub(r)) == *b)
                        }
                        _ => l == w,
                    };
                    if !same {
                        return self.fail(line, why("options differ"));
                    }
                }
            }
        }
        Ok(())
    }

    /// The ack field of a live segment in script numbers.
    fn outbound_ack(&self, seg: &Segment) -> u32 {
        if !seg.flags.ack() || seg.flags.syn() {
            seg.ack.0
        } else {
            seg.ack.0.wrapping_sub(self.test.remote_isn.unwrap_or(0))
        }
    }

    /// Maps a live TSval into script numbers and checks it when
    /// `--tcp_ts_tick_usecs` is set; remembers it for injected TSecr.
    fn outbound_ts(&mut self, live: u32, script: u32) -> bool {
        let (s0, l0) = *self.test.ts_first.get_or_insert((script, live));
        self.test.ts_map.insert(script, live);
        let Some(tick) = self.plan.settings.ts_tick_usecs else {
            return true;
        };
        let mapped = s0.wrapping_add(live.wrapping_sub(l0));
        let diff = i64::from(mapped.wrapping_sub(script) as i32).unsigned_abs();
        diff.saturating_mul(tick) <= self.plan.settings.tolerance_usecs
    }

    /// The segment an `<` line injects, in live numbers.
    fn inbound(&mut self, line: u32, p: &Packet) -> Outcome<Segment> {
        let f = p.flags;
        // A SYN from the peer opens a new connection to the bound port
        // while the socket under test is a listener (or there is none);
        // otherwise it belongs to the socket under test (packetdrill's
        // handle_listen_for_script_packet): a crossing SYN, a SYN into
        // SYN-RECEIVED, ESTABLISHED or TIME-WAIT.
        let listener = self.test.tuple.is_none()
            && self.test.fd.is_none_or(|fd| self.sockets.is_listening(fd));
        if f.syn() && !f.ack() && listener {
            let s = &self.plan.settings;
            let local = SocketAddrV4::new(s.local_ip, s.bind_port);
            let remote = SocketAddrV4::new(s.remote_ip, self.next_remote_port);
            self.next_remote_port = self.next_remote_port.wrapping_add(1).max(1024);
            self.test = UnderTest {
                tuple: Some((local, remote)),
                ..UnderTest::default()
            };
        }
        if self.test.tuple.is_none() {
            // The endpoint's SYN may wait unmatched: take its 4-tuple.
            self.peek_syn_tuple();
        }
        let Some((local, remote)) = self.test.tuple else {
            return Err(Failure {
                line,
                message: format!(
                    "`{}`: no connection to send it on (no SYN was sent or received yet)",
                    self.line_text(line)
                ),
            });
        };
        if f.syn() {
            self.test.remote_isn = Some(p.seq);
        }
        let remote_isn = self.test.remote_isn.unwrap_or(0);
        let (script_isn, live_isn) = self.test.local_isn.unwrap_or((0, 0));
        let seq = if f.syn() {
            p.seq
        } else {
            p.seq.wrapping_add(remote_isn)
        };
        let ack = match (f.ack(), f.syn()) {
            (false, _) => p.ack,
            (true, true) => p.ack.wrapping_add(live_isn.wrapping_sub(script_isn)),
            (true, false) => p.ack.wrapping_add(live_isn),
        };
        let window = p.window.unwrap_or(0);
        let mut seg = Segment::new(remote, local, SeqNum(seq), SeqNum(ack), f, window);
        let mut options = Options::NONE;
        if let PacketOptions::List(list) = &p.options {
            for o in list {
                match o {
                    TcpOption::Nop | TcpOption::Eol => {}
                    TcpOption::Mss(m) => seg.mss = Some(*m),
                    TcpOption::WindowScale(w) => options.window_scale = Some(*w),
                    TcpOption::SackPermitted => options.sack_permitted = true,
                    TcpOption::Sack(blocks) => {
                        let mut sack = SackBlocks::new();
                        for &(l, r) in blocks {
                            sack.push(
                                SeqNum(l.wrapping_add(live_isn)),
                                SeqNum(r.wrapping_add(live_isn)),
                            );
                        }
                        options.sack = sack;
                    }
                    TcpOption::Timestamps { val, ecr } => {
                        let ecr = if f.ack() && *ecr != 0 {
                            match self.test.ts_map.get(ecr) {
                                Some(&live) => live,
                                None => {
                                    return Err(Failure {
                                        line,
                                        message: format!(
                                            "`{}`: TS ecr {ecr} is not the TSval of any segment the endpoint sent so far",
                                            self.line_text(line)
                                        ),
                                    });
                                }
                            }
                        } else {
                            *ecr
                        };
                        options.timestamps = Some(Timestamps { val: *val, ecr });
                    }
                }
            }
        }
        seg.options = options;
        seg.payload = vec![0; p.len as usize];
        Ok(seg)
    }

    /// Learns the 4-tuple from a SYN the endpoint sent that no line has
    /// matched yet.
    fn peek_syn_tuple(&mut self) {
        // The sent queue is only readable from the front: look at the
        // first segment without taking it.
        if let Some((local, remote)) = self.sockets.first_sent_syn() {
            self.test.tuple = Some((local, remote));
        }
    }

    /// A segment in script notation.
    fn describe(&self, seg: &Segment, outbound: bool) -> String {
        let (_, live_isn) = self.test.local_isn.unwrap_or((0, 0));
        let remote_isn = self.test.remote_isn.unwrap_or(0);
        let (seq, ack) = if outbound {
            let seq = match (seg.flags.syn(), self.test.local_isn) {
                (true, Some((script_isn, live))) => {
                    seg.seq.0.wrapping_sub(live).wrapping_add(script_isn)
                }
                (true, None) => seg.seq.0,
                (false, _) => seg.seq.0.wrapping_sub(live_isn),
            };
            (seq, self.outbound_ack(seg))
        } else {
            let seq = if seg.flags.syn() {
                seg.seq.0
            } else {
                seg.seq.0.wrapping_sub(remote_isn)
            };
            let ack = if seg.flags.ack() {
                seg.ack.0.wrapping_sub(live_isn)
            } else {
                seg.ack.0
            };
            (seq, ack)
        };
        let len = seg.payload.len() as u32;
        let mut s = format!(
            "{} {}:{}({})",
            flag_letters(seg.flags),
            seq,
            seq.wrapping_add(len),
            len
        );
        if seg.flags.ack() || ack != 0 {
            let _ = write!(s, " ack {ack}");
        }
        let _ = write!(s, " win {}", seg.window);
        let options = live_options(seg);
        if !options.is_empty() {
            let _ = write!(s, " {}", options_text(&options));
        }
        s
    }

    // ----- calls -----

    fn fd(&self, line: u32, script_fd: i64) -> Outcome<i32> {
        self.aliases
            .get(&script_fd)
            .copied()
            .ok_or_else(|| Failure {
                line,
                message: format!(
                    "`{}`: descriptor {script_fd} was never returned by socket() or accept()",
                    self.line_text(line)
                ),
            })
    }

    /// Runs a call now; if it blocks, waits as the script says.
    fn call(
        &mut self,
        step: &Step,
        call: &CallStep,
        start: Instant,
        end: Option<Instant>,
    ) -> Outcome<()> {
        let result = self.invoke(step.line, &call.kind, false)?;
        match (result, end) {
            (Call::Blocked, Some(end)) => {
                self.blocked = Some(Blocked {
                    line: step.line,
                    call: call.clone(),
                    start,
                    end,
                    prev: self.prev.0,
                });
                let _ = call;
                if self.keep_log {
                    let line = format!("{} {} blocks", secs(start), self.call_text(step.line));
                    self.log.push(line);
                }
                Ok(())
            }
            (Call::Blocked, None) => {
                // packetdrill's main thread waits in the call: so does the script.
                let limit = self.now() + tcpsim_tcp::Duration::from_micros(MAX_WAIT_USECS);
                loop {
                    match self.next_wake() {
                        Some(t) if t <= limit => {
                            self.sockets.advance_to(t);
                            let r = self.invoke(step.line, &call.kind, true)?;
                            if r != Call::Blocked {
                                return self.finish(step.line, call, r, None);
                            }
                        }
                        _ => {
                            return self.fail(
                                step.line,
                                format!(
                                    "the call blocked and nothing could end it (waited until {})",
                                    secs(limit)
                                ),
                            );
                        }
                    }
                }
            }
            (r, end) => {
                let timing = end.map(|e| (start, e));
                self.finish(step.line, call, r, timing)
            }
        }
    }

    /// A call's line without its time and expected result:
    /// `connect(3, ..., ...)`.
    fn call_text(&self, line: u32) -> String {
        let text = self.line_text(line);
        let call = text
            .split_once(char::is_whitespace)
            .map_or("", |(_, rest)| rest);
        let call = call.rsplit_once(" = ").map_or(call, |(c, _)| c);
        call.trim().to_string()
    }

    /// Tries a blocked call again; checks its result and return time once
    /// it returns.
    fn retry_blocked(&mut self) -> Outcome<()> {
        let Some(b) = &self.blocked else {
            return Ok(());
        };
        let (line, kind) = (b.line, b.call.kind.clone());
        let r = self.invoke(line, &kind, true)?;
        if r == Call::Blocked {
            return Ok(());
        }
        let b = self.blocked.take().expect("checked above");
        self.finish(b.line, &b.call, r, Some((b.start, b.end)))
    }

    /// Checks a call's result (and, for `t...end`, when it returned).
    fn finish(
        &mut self,
        line: u32,
        call: &CallStep,
        r: Call,
        timing: Option<(Instant, Instant)>,
    ) -> Outcome<()> {
        let now = self.now();
        let (value, errno) = match r {
            Call::Done(v) => (v, None),
            Call::Failed(e) => (-1, Some(e)),
            Call::Blocked => unreachable!("finish is called with a result"),
        };
        let shown = match errno {
            Some(e) => format!("-1 {e}"),
            None => value.to_string(),
        };
        if self.keep_log {
            let line = format!("{} {} = {shown}", secs(now), self.call_text(line));
            self.log.push(line);
        }
        // socket() and accept() return descriptors: any one will do, and
        // the script's number names it from now on.
        let returns_fd = matches!(call.kind, CallKind::Socket { .. } | CallKind::Accept(_));
        let value_ok = if returns_fd && call.returns >= 0 {
            value >= 0
        } else {
            value == call.returns
        };
        let errno_ok = call.errno.is_none_or(|e| Some(e) == errno);
        if !value_ok || !errno_ok {
            return self.fail(line, format!("`= {shown}` at {}", secs(now)));
        }
        if returns_fd && value >= 0 {
            self.aliases.insert(call.returns, value as i32);
            if matches!(call.kind, CallKind::Socket { .. }) {
                self.test = UnderTest {
                    fd: Some(value as i32),
                    ..UnderTest::default()
                };
            }
        }
        if let Some((start, end)) = timing {
            let tol = self.tolerance(end, start);
            let (n, e) = (micros(now), micros(end));
            if n.abs_diff(e) > tol {
                return Err(Failure {
                    line,
                    message: format!(
                        "expected `{}` to return at {}, it returned at {} (tolerance {tol} us)",
                        self.line_text(line),
                        secs(end),
                        secs(now)
                    ),
                });
            }
        }
        Ok(())
    }

    /// Makes the call on the sockets. `again`: a blocked call retried.
    fn invoke(&mut self, line: u32, kind: &CallKind, again: bool) -> Outcome<Call> {
        let s = self.plan.settings;
        Ok(match *kind {
            CallKind::Socket { nonblocking } => {
                let r = self.sockets.socket();
                if let (Call::Done(fd), true) = (r, nonblocking) {
                    if let Ok(o) = self.sockets.options_mut(fd as i32) {
                        o.nonblocking = true;
                    }
                }
                r
            }
            CallKind::Bind(fd) => {
                let fd = self.fd(line, fd)?;
                self.sockets.bind(fd, s.bind_port)
            }
            CallKind::Listen(fd) => {
                let fd = self.fd(line, fd)?;
                self.sockets.listen(fd)
            }
            CallKind::Accept(fd) => {
                let fd = self.fd(line, fd)?;
                self.sockets.accept(fd)
            }
            CallKind::Connect(fd) => {
                let fd = self.fd(line, fd)?;
                if again {
                    self.sockets.connect_again(fd)
                } else {
                    let remote = SocketAddrV4::new(s.remote_ip, s.connect_port);
                    self.sockets.connect(fd, remote)
                }
            }
            CallKind::Read(fd, n) => {
                let fd = self.fd(line, fd)?;
                self.sockets.read(fd, n)
            }
            CallKind::Write(fd, n) => {
                let fd = self.fd(line, fd)?;
                if again {
                    self.sockets.write_again(fd, n)
                } else {
                    self.sockets.write(fd, n)
                }
            }
            CallKind::Close(fd) => {
                let live = self.fd(line, fd)?;
                let r = self.sockets.close(live);
                self.aliases.remove(&fd);
                r
            }
            CallKind::Shutdown(fd, how) => {
                let fd = self.fd(line, fd)?;
                let (r, w) = match how {
                    Shut::Read => (true, false),
                    Shut::Write => (false, true),
                    Shut::Both => (true, true),
                };
                self.sockets.shutdown(fd, r, w)
            }
            CallKind::SetOption(fd, SetOption::RecvBuffer(v)) => {
                let fd = self.fd(line, fd)?;
                let bytes = super::sysctl::so_rcvbuf(v, self.plan.settings.rmem_max);
                self.sockets.set_recv_buffer(fd, bytes)
            }
            CallKind::SetOption(fd, SetOption::SendBuffer(v)) => {
                let fd = self.fd(line, fd)?;
                let size = super::sysctl::so_sndbuf(v, self.plan.settings.wmem_max);
                self.sockets.set_send_buffer(fd, size)
            }
            CallKind::SetOption(fd, opt) => {
                let fd = self.fd(line, fd)?;
                match self.sockets.options_mut(fd) {
                    Err(e) => Call::Failed(e),
                    Ok(o) => {
                        match opt {
                            SetOption::ReuseAddr(on) => o.reuse_addr = on,
                            SetOption::Linger(l) => o.linger = l,
                            SetOption::NoDelay(on) => o.nodelay = on,
                            SetOption::MaxSeg(m) => o.max_seg = Some(m),
                            SetOption::UserTimeout(ms) => {
                                o.user_timeout = (ms > 0)
                                    .then(|| tcpsim_tcp::Duration::from_millis(u64::from(ms)));
                            }
                            // Taken by the arms above (they reach the connection).
                            SetOption::SendBuffer(_) | SetOption::RecvBuffer(_) => {}
                        }
                        self.sockets.options_changed(fd);
                        Call::Done(0)
                    }
                }
            }
            CallKind::GetOption(fd, opt, want) => {
                let fd = self.fd(line, fd)?;
                let value = match opt {
                    GetOption::Error => self.sockets.so_error(fd),
                    GetOption::MaxSeg => self.max_seg(fd),
                    GetOption::RecvBuffer => self.sockets.recv_buffer(fd),
                    GetOption::SendBuffer => self.sockets.send_buffer(fd),
                };
                match value {
                    Err(e) => Call::Failed(e),
                    Ok(v) if v == want => Call::Done(0),
                    Ok(v) => {
                        return self.fail(line, format!("the value {v}"));
                    }
                }
            }
            CallKind::SetFlags(fd, nonblocking) => {
                let fd = self.fd(line, fd)?;
                match self.sockets.options_mut(fd) {
                    Err(e) => Call::Failed(e),
                    Ok(o) => {
                        o.nonblocking = nonblocking;
                        Call::Done(0)
                    }
                }
            }
            CallKind::GetFlags(fd) => {
                let fd = self.fd(line, fd)?;
                match self.sockets.options(fd) {
                    Err(e) => Call::Failed(e),
                    // O_RDWR (2), with O_NONBLOCK (0o4000) when set.
                    Ok(o) => Call::Done(2 | if o.nonblocking { 0o4000 } else { 0 }),
                }
            }
            CallKind::Poll(ref fds, timeout) => return self.poll(line, fds, timeout),
            CallKind::InQueue(fd, want) | CallKind::OutQueue(fd, want) => {
                let fd = self.fd(line, fd)?;
                let inq = matches!(kind, CallKind::InQueue(..));
                match self.sockets.connection_of(fd) {
                    Err(e) => Call::Failed(e),
                    Ok(c) => {
                        let v = if inq {
                            c.readable()
                        } else {
                            c.unacknowledged()
                        } as i64;
                        if v != want {
                            return self.fail(line, format!("the value {v}"));
                        }
                        Call::Done(0)
                    }
                }
            }
        })
    }

    /// `poll`: the ready descriptors now; with none and a timeout, blocks
    /// until one is ready or the timeout ends (then 0). Every `revents` is
    /// compared with the script's (0 when it wrote none).
    fn poll(&mut self, line: u32, fds: &[PollFd], timeout: i64) -> Outcome<Call> {
        use super::sockets::poll::{POLLERR, POLLHUP, POLLNVAL};
        let now = self.now();
        let mut got = Vec::with_capacity(fds.len());
        for p in fds {
            let live = self.fd(line, p.fd)?;
            let mask = self.sockets.poll_mask(live);
            got.push(mask & (p.events | POLLERR | POLLHUP | POLLNVAL));
        }
        let ready = got.iter().filter(|&&r| r != 0).count() as i64;
        if ready == 0 && timeout != 0 {
            self.poll.get_or_insert_with(|| {
                let end = u64::try_from(timeout)
                    .ok()
                    .map(|ms| now + tcpsim_tcp::Duration::from_millis(ms));
                (now, end)
            });
            match self.poll.and_then(|p| p.1) {
                Some(end) if now >= end => {}
                _ => return Ok(Call::Blocked),
            }
        }
        self.poll = None;
        for (p, &r) in fds.iter().zip(&got) {
            if r != p.revents {
                return self.fail(
                    line,
                    format!(
                        "revents 0x{r:x} for descriptor {} (expected 0x{:x})",
                        p.fd, p.revents
                    ),
                );
            }
        }
        Ok(Call::Done(ready))
    }

    /// `getsockopt(TCP_MAXSEG)`: the MSS in use (Linux `tp->mss_cache`
    /// once connected; before that the user's setting or the default 536).
    fn max_seg(&self, fd: i32) -> Result<i64, Errno> {
        match self.sockets.connection_of(fd) {
            Ok(c) => Ok(i64::from(c.info().snd_mss)),
            Err(_) => {
                let o = self.sockets.options(fd)?;
                Ok(i64::from(o.max_seg.unwrap_or(536)))
            }
        }
    }

    // ----- assertions -----

    fn check_asserts(&mut self, line: u32, asserts: &[super::plan::Assertion]) {
        let Some(info) = self.info_of_test() else {
            self.skip.get_or_insert((
                line,
                "TCP_INFO of the socket under test is not available (no connection)".into(),
            ));
            return;
        };
        for a in asserts {
            let l = super::code::eval(&a.left, &info);
            let r = super::code::eval(&a.right, &info);
            match (l, r) {
                (Ok(l), Ok(r)) => {
                    if !a.op.holds(l, r) && self.late_failure.is_none() {
                        self.late_failure = Some(Failure {
                            line,
                            message: format!("expected `{}`, got {l} vs {r}", a.text),
                        });
                    }
                }
                (Err(name), _) | (_, Err(name)) => {
                    self.skip.get_or_insert((
                        line,
                        format!("`{}`: tcpsim does not report {name}", a.text),
                    ));
                }
            }
        }
    }

    fn info_of_test(&self) -> Option<tcpsim_tcp::TcpInfo> {
        let (local, remote) = self.test.tuple?;
        let id = self.sockets.endpoint().find(local, remote)?;
        Some(self.sockets.endpoint().connection(id)?.info())
    }
}

//! One TCP connection: the transmission control block (RFC 9293 §3.3.1)
//! and its state machine (§3.10).
//!
//! A [`Connection`] is sans-IO in the shape of quinn-proto: its methods are
//! getters; inputs ([`Connection::handle_segment`],
//! [`Connection::handle_timeout`]); application commands
//! ([`Connection::send`], [`Connection::recv`], [`Connection::shutdown`],
//! [`Connection::close`], [`Connection::abort`]); and polls for outputs
//! ([`Connection::poll_transmit`], [`Connection::poll_timeout`],
//! [`Connection::poll_event`]). Every time-dependent call takes `now`.
//!
//! The submodules split the machine by concern: `input` is segment arrival
//! (§3.10.7), one function per check of §3.10.7.4; `output` builds
//! segments and decides when to acknowledge; `timers` arms every timer and
//! holds the RFC 6298 §5 rules and the give-up policy; `timer_table` is the
//! fixed table of deadlines they live in. State transitions (`set_state`,
//! `establish`, `enter_time_wait`, `enter_closed`) are here. Where the
//! profiles differ, the machine reads a named [`Config`] field, never the
//! profile.

mod info;
mod input;
mod negotiate;
mod output;
mod rcvbuf;
mod recovery;
mod scoreboard;
mod stats;
mod time_wait;
mod timer_table;
mod timers;

pub use info::TcpInfo;
pub use rcvbuf::{linux_truesize, window_shift_for};
pub use stats::RecoveryStats;
pub(crate) use time_wait::TimeWait;

use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::sync::Arc;

use crate::buffer::{RecvBuffer, SendBuffer};
use crate::config::{Config, DEFAULT_PEER_MSS, SEND_BUFFER_GOAL_MAX};
use crate::event::{Event, TimerKind, Transmit};
use crate::rtt::RttEstimator;
use crate::segment::Segment;
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::{Duration, Instant};
use timer_table::TimerTable;

/// RFC 6298 §5.7: the RTO after a SYN timeout, once data transmission begins.
const RTO_AFTER_SYN_LOSS: Duration = Duration::from_secs(3);

/// An application command that the connection's state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The write side was already shut down (FIN queued or sent).
    #[error("connection closing: the write side is shut down")]
    Closing,
    /// The connection no longer exists (CLOSED).
    #[error("connection does not exist")]
    NotConnected,
}

/// A queue of outputs, boxed so that an empty queue with no buffer costs a
/// connection one pointer: connections at rest hold none (their endpoint
/// lends its own for each call), and a queue's buffer is reused.
#[derive(Debug)]
// Boxed on purpose: one pointer in every connection instead of a VecDeque.
#[allow(clippy::box_collection)]
pub(crate) struct OutQueue<T>(Option<Box<VecDeque<T>>>);

impl<T> Default for OutQueue<T> {
    fn default() -> Self {
        OutQueue(None)
    }
}

impl<T> OutQueue<T> {
    pub(crate) fn push_back(&mut self, item: T) {
        self.0.get_or_insert_with(Box::default).push_back(item);
    }

    pub(crate) fn pop_front(&mut self) -> Option<T> {
        self.0.as_mut()?.pop_front()
    }

    /// The item queued last, if any.
    pub(crate) fn back_mut(&mut self) -> Option<&mut T> {
        self.0.as_mut()?.back_mut()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |q| q.len())
    }

    /// Empties the queue, keeping its buffer.
    pub(crate) fn clear(&mut self) {
        if let Some(q) = &mut self.0 {
            q.clear();
        }
    }
}

/// Payload buffers of delivered segments, to be filled again: with them a
/// data segment costs no allocation once a transfer is under way.
#[derive(Debug, Default)]
// Boxed on purpose, like `OutQueue`.
#[allow(clippy::box_collection)]
pub(crate) struct Spare(Option<Box<Vec<Vec<u8>>>>);

impl Spare {
    /// The most buffers kept (about a send window's worth of segments).
    const MAX: usize = 64;

    /// An empty buffer, reused if there is one.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.0.as_mut().and_then(|v| v.pop()).unwrap_or_default()
    }

    /// Keeps `buffer` for a later segment.
    pub(crate) fn give(&mut self, mut buffer: Vec<u8>) {
        if buffer.capacity() == 0 {
            return;
        }
        let spare = self.0.get_or_insert_with(Box::default);
        if spare.len() < Spare::MAX {
            buffer.clear();
            spare.push(buffer);
        }
    }
}

/// The output queues of a connection, lent by its endpoint for each call.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    /// Segments to send.
    pub(crate) out: OutQueue<Transmit>,
    /// Events for the application.
    pub(crate) events: OutQueue<Event>,
    /// Buffers for payloads.
    pub(crate) spare: Spare,
}

/// One TCP connection.
#[derive(Debug)]
pub struct Connection {
    /// Shared with every connection of the endpoint (one copy per host).
    config: Arc<Config>,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    state: State,
    /// Created by a listener (passive open).
    passive: bool,

    // Send sequence space (RFC 9293 §3.3.1).
    iss: SeqNum,
    snd_una: SeqNum,
    snd_nxt: SeqNum,
    snd_wnd: u32,
    snd_wl1: SeqNum,
    snd_wl2: SeqNum,
    max_snd_wnd: u32,
    /// Largest payload we send: min(our MSS, the peer's).
    send_mss: u16,
    send_buf: SendBuffer,
    /// The send buffer's size ([`Config::send_buffer`], or `SO_SNDBUF`).
    send_limit: Option<u32>,
    /// The application set the send buffer's size (`SO_SNDBUF`): it does
    /// not grow ([`Config::send_buffer_max`]).
    send_locked: bool,
    /// A write came up short: [`Event::Writable`] is due once there is
    /// room (Linux `SOCK_NOSPACE`).
    no_space: bool,
    /// Inside [`Connection::send`], between the buffers of one write:
    /// segments sent then carry no PSH of their own (the write marks its
    /// last one).
    mid_write: bool,
    /// Stream offset up to which data has been sent.
    sent: u64,
    /// The end of the last segment smaller than the MSS sent (Linux
    /// `snd_sml`, for [`crate::Nagle::Minshall`]).
    snd_sml: SeqNum,
    /// When data last went out (Linux `tcp_wstamp_ns`, for
    /// [`Config::tso_defer`]).
    last_xmit: Instant,
    /// The application shut down its write side: a FIN follows the data.
    shut_wr: bool,
    /// Our FIN has been sent (its sequence number is the end of the data).
    fin_sent: bool,

    // Receive sequence space.
    irs: SeqNum,
    rcv_nxt: SeqNum,
    recv_buf: RecvBuffer,
    /// Stream offset of the peer's FIN, once seen (possibly out of order).
    peer_fin_at: Option<u64>,
    /// The peer's FIN was processed in order.
    eof: bool,
    /// Window we advertised last (in bytes; [`RecvMemory::Octets`]).
    ///
    /// [`RecvMemory::Octets`]: crate::RecvMemory::Octets
    last_advertised: u32,
    /// The receive space of [`RecvMemory::Octets`]: the buffer, as
    /// rounded for our SYN or SYN-ACK ([`Connection::initial_window`]);
    /// what is unread comes out of it.
    ///
    /// [`RecvMemory::Octets`]: crate::RecvMemory::Octets
    rcv_space: u32,
    /// The receive buffer and the window state of [`RecvMemory::Linux`]
    /// (the buffer's size is kept for both).
    ///
    /// [`RecvMemory::Linux`]: crate::RecvMemory::Linux
    rcv: rcvbuf::RecvSpace,

    // Timers and retransmission (RFC 6298).
    timers: TimerTable,
    rtt: RttEstimator,
    /// The segment being timed: (sequence number that acknowledges it,
    /// send time, whether it is a retransmission).
    rtt_probe: Option<(SeqNum, Instant, bool)>,
    /// Consecutive expiries of the retransmission timer for the current head.
    retransmits: u32,
    /// When the oldest unacknowledged segment was first sent.
    head_sent_at: Instant,
    /// When the first retransmission of what is outstanding went out (an
    /// RTO, fast or RACK retransmission; not a tail loss probe), until no
    /// retransmitted data is outstanding: Linux's `retrans_stamp`, from
    /// which [`crate::RetryModel::LinuxTimeout`] measures the give-up time and
    /// the user timeout.
    retrans_stamp: Option<Instant>,
    /// The retransmission timer expired while waiting for the ACK of our SYN.
    syn_timed_out: bool,
    /// Loss recovery and congestion control: the scoreboard, the
    /// controller, the congestion state.
    rec: recovery::Recovery,
    /// Persist-timer expiries (window probes) since the peer last
    /// acknowledged anything (RFC 9293 §3.8.6.1).
    probes: u32,
    /// When the first of those probes was sent.
    probe_since: Instant,
    /// Zero-window probes sent since the window was last open: the persist
    /// interval doubles with each (RFC 1122 §4.2.2.17), even while the peer
    /// answers them.
    probe_backoff: u32,
    /// Our SYN has been acknowledged.
    syn_acked: bool,
    /// Data segments sent again in all (`tcpi_total_retrans`).
    total_retrans: u32,

    // Acknowledgment policy.
    ack_pending: bool,
    /// Full-size segments received since we last sent an ACK.
    unacked_full: u32,
    /// Linux quick-ACK budget left.
    quickacks: u32,
    /// When in-order data last arrived (Linux `icsk_ack.lrcvtime`).
    last_data_at: Option<Instant>,
    /// The application released the socket (orphan).
    released: bool,

    // Options (RFC 7323, RFC 2018).
    opt: negotiate::Negotiated,
    /// The latest time an input or command gave (for timestamps on
    /// segments sent where no time is passed, such as a window update
    /// after a read).
    clock: Instant,

    out: OutQueue<Transmit>,
    events: OutQueue<Event>,
    spare: Spare,
}

impl Connection {
    fn blank(config: Arc<Config>, local: SocketAddrV4, remote: SocketAddrV4, iss: SeqNum) -> Self {
        Connection {
            local,
            remote,
            state: State::Closed,
            passive: false,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_wnd: 0,
            snd_wl1: SeqNum(0),
            snd_wl2: SeqNum(0),
            max_snd_wnd: 0,
            send_mss: config.mss.min(DEFAULT_PEER_MSS),
            send_buf: SendBuffer::default(),
            send_limit: config.send_buffer,
            send_locked: false,
            no_space: false,
            mid_write: false,
            sent: 0,
            snd_sml: iss,
            last_xmit: Instant::ZERO,
            shut_wr: false,
            fin_sent: false,
            irs: SeqNum(0),
            rcv_nxt: SeqNum(0),
            recv_buf: RecvBuffer::default(),
            peer_fin_at: None,
            eof: false,
            last_advertised: config.octet_buffer(),
            rcv_space: config.octet_buffer(),
            rcv: rcvbuf::RecvSpace::new(config.recv_buffer, config.recv_buffer_locked),
            timers: TimerTable::default(),
            rtt: RttEstimator::new(&config),
            rtt_probe: None,
            retransmits: 0,
            head_sent_at: Instant::ZERO,
            retrans_stamp: None,
            syn_timed_out: false,
            rec: recovery::Recovery::new(&config, config.mss),
            probes: 0,
            probe_since: Instant::ZERO,
            probe_backoff: 0,
            syn_acked: false,
            total_retrans: 0,
            ack_pending: false,
            unacked_full: 0,
            quickacks: config.quickacks,
            last_data_at: None,
            released: false,
            opt: negotiate::Negotiated::default(),
            clock: Instant::ZERO,
            out: OutQueue::default(),
            events: OutQueue::default(),
            spare: Spare::default(),
            config,
        }
    }

    /// Active open (RFC 9293 §3.10.1): sends SYN(`iss`) and enters SYN-SENT.
    pub fn connect(
        now: Instant,
        config: Config,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNum,
    ) -> Connection {
        let mut c = Connection::blank(Arc::new(config), local, remote, iss);
        c.open_active(now);
        c
    }

    /// [`Connection::connect`] with a configuration shared by many
    /// connections, writing its first outputs into queues an endpoint lends.
    pub(crate) fn connect_lent(
        now: Instant,
        config: Arc<Config>,
        (local, remote): (SocketAddrV4, SocketAddrV4),
        (iss, ts_offset): (SeqNum, u32),
        reused_ts_recent: Option<u32>,
        queues: &mut Queues,
    ) -> Connection {
        let mut c = Connection::blank(config, local, remote, iss);
        c.opt.ts_offset = ts_offset;
        if let Some(ts_recent) = reused_ts_recent {
            c.reuse_time_wait(ts_recent);
        }
        c.swap_queues(queues);
        c.open_active(now);
        c.swap_queues(queues);
        c
    }

    fn open_active(&mut self, now: Instant) {
        self.clock = now;
        self.set_state(State::SynSent);
        self.send_syn(now, None);
    }

    /// Passive open: a listener received `syn` (RFC 9293 §3.10.7.2). The new
    /// connection records the peer's ISN, answers SYN-ACK(`iss`) and enters
    /// SYN-RECEIVED.
    pub fn accept(
        now: Instant,
        config: Config,
        local: SocketAddrV4,
        syn: &Segment,
        iss: SeqNum,
    ) -> Connection {
        let mut c = Connection::blank(Arc::new(config), local, syn.src, iss);
        c.open_passive(now, syn);
        c
    }

    /// [`Connection::accept`] with a shared configuration and lent queues
    /// (see [`Connection::connect_lent`]).
    pub(crate) fn accept_lent(
        now: Instant,
        config: Arc<Config>,
        (local, syn): (SocketAddrV4, &Segment),
        (iss, ts_offset): (SeqNum, u32),
        queues: &mut Queues,
    ) -> Connection {
        let mut c = Connection::blank(config, local, syn.src, iss);
        c.opt.ts_offset = ts_offset;
        c.swap_queues(queues);
        c.open_passive(now, syn);
        c.swap_queues(queues);
        c
    }

    fn open_passive(&mut self, now: Instant, syn: &Segment) {
        self.clock = now;
        self.passive = true;
        self.state = State::Listen;
        self.take_peer_syn(syn);
        self.set_state(State::SynReceived);
        self.send_synack(now, None);
    }

    /// Takes the storage of the buffers of `old`, a connection its endpoint
    /// is done with, where this one's have none: the next connection in a
    /// reused box allocates no buffer. Capacity only: this connection's
    /// contents do not change, and `old`'s buffers are left empty (it is
    /// about to be dropped).
    pub(crate) fn adopt_storage(&mut self, old: &mut Connection) {
        self.send_buf.adopt_storage(&mut old.send_buf);
        self.recv_buf.adopt_storage(&mut old.recv_buf);
        self.rec.board.adopt_storage(&mut old.rec.board);
    }

    /// Exchanges the connection's output queues with `queues`. An endpoint
    /// lends its own (empty, with capacity) queues for the length of a
    /// call and takes them back with the outputs in them, so a connection
    /// at rest holds no queue buffers: no allocation per connection or per
    /// segment, and less memory per connection.
    pub(crate) fn swap_queues(&mut self, queues: &mut Queues) {
        std::mem::swap(&mut self.out, &mut queues.out);
        std::mem::swap(&mut self.events, &mut queues.events);
        std::mem::swap(&mut self.spare, &mut queues.spare);
    }

    // ----- getters -----

    /// The RFC 9293 state.
    pub fn state(&self) -> State {
        self.state
    }
    /// Local address and port.
    pub fn local(&self) -> SocketAddrV4 {
        self.local
    }
    /// Remote address and port.
    pub fn remote(&self) -> SocketAddrV4 {
        self.remote
    }
    /// Our initial sequence number.
    pub fn iss(&self) -> SeqNum {
        self.iss
    }
    /// The peer's initial sequence number (meaningful once its SYN arrived).
    pub fn irs(&self) -> SeqNum {
        self.irs
    }
    /// SND.NXT.
    pub fn snd_nxt(&self) -> SeqNum {
        self.snd_nxt
    }
    /// SND.UNA.
    pub fn snd_una(&self) -> SeqNum {
        self.snd_una
    }
    /// RCV.NXT.
    pub fn rcv_nxt(&self) -> SeqNum {
        self.rcv_nxt
    }
    /// Whether this connection came from a listener.
    pub fn is_passive(&self) -> bool {
        self.passive
    }
    /// The retransmission estimator (SRTT, RTTVAR, RTO).
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }
    /// The configuration this connection runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// Octets ready for [`Connection::recv`].
    pub fn readable(&self) -> usize {
        self.recv_buf.readable()
    }
    /// The peer's FIN has been received in order: no more data will arrive.
    pub fn is_eof(&self) -> bool {
        self.eof
    }
    /// Whether the application has released the socket (close or abort).
    pub fn is_released(&self) -> bool {
        self.released
    }
    /// Octets written by the application and not yet acknowledged.
    pub fn unacknowledged(&self) -> usize {
        self.send_buf.len()
    }
    /// The send buffer's size (`None`: unbounded); see [`Config::send_buffer`].
    pub fn send_buffer(&self) -> Option<u32> {
        self.send_limit
    }
    /// What the data held costs against the send buffer's size: its
    /// octets plus [`Config::send_buffer_overhead`] per buffer (Linux
    /// `sk_wmem_queued`).
    pub fn send_buffer_used(&self) -> u64 {
        self.send_buf.charge(self.config.send_buffer_overhead)
    }
    /// Whether a write would find room, by the rule that wakes a blocked
    /// writer: below the size, with at least half the cost free (Linux
    /// `__sk_stream_is_writeable`, which `poll` reports as `POLLOUT`).
    pub fn is_writable(&self) -> bool {
        let Some(limit) = self.send_limit else {
            return true;
        };
        let used = self.send_buffer_used();
        let limit = u64::from(limit);
        used < limit && limit - used >= used / 2
    }
    /// The congestion window, the slow-start threshold and what loss
    /// recovery did so far.
    pub fn recovery_stats(&self) -> RecoveryStats {
        RecoveryStats {
            cwnd: self.reported_cwnd(),
            ssthresh: self.rec.ssthresh(),
            ..self.rec.losses().stats
        }
    }
    /// The deadline of one timer, if armed.
    pub fn timer(&self, kind: TimerKind) -> Option<Instant> {
        self.timers.get(kind)
    }

    /// Replaces the configuration (a socket option changed on an open
    /// connection). Only what the connection reads as it goes takes effect
    /// (timeouts, retry limits); what the handshake fixed stays (MSS,
    /// window scale, options).
    pub fn set_config(&mut self, config: Arc<Config>) {
        self.config = config;
    }

    // ----- application commands -----

    /// Queues data for sending (RFC 9293 §3.10.2). Returns how many octets
    /// were taken: all of them when the send buffer is unbounded, else as
    /// many as fit by the rules of [`Config::send_buffer`] — possibly none.
    /// After a short count, [`Event::Writable`] says when to write again.
    pub fn send(&mut self, now: Instant, data: &[u8]) -> Result<usize, CommandError> {
        self.clock = now;
        match self.state {
            State::Closed | State::Listen => return Err(CommandError::NotConnected),
            _ if self.shut_wr => return Err(CommandError::Closing),
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {}
            _ => return Err(CommandError::Closing),
        }
        let goal = self.size_goal();
        let Some(limit) = self.send_limit else {
            self.send_buf.write(data, self.sent, goal);
            self.push(now);
            return Ok(data.len());
        };
        let overhead = self.config.send_buffer_overhead;
        let before = self.out.len();
        let mut taken = 0;
        while taken < data.len() {
            let rest = &data[taken..];
            let mut n = self.send_buf.append_to_tail(rest, self.sent, goal);
            if n == 0 {
                // A new buffer only while there is room (sk_stream_memory_free).
                if self.send_buf.charge(overhead) >= u64::from(limit) {
                    self.no_space = true;
                    break;
                }
                n = self.send_buf.append_new(rest, goal);
            }
            taken += n;
            if taken < data.len() && self.send_buf.tail_full(goal) {
                // The buffer is full and more follows: send what the window
                // allows now (tcp_push_one), which splits the buffer.
                self.mid_write = true;
                self.push(now);
                self.mid_write = false;
            }
        }
        let before_last = self.out.len();
        self.push(now);
        if self.out.len() == before_last && before_last > before {
            // Everything this write sent went out between its buffers: its
            // last segment is the one to mark.
            self.mark_push_after_write();
        }
        Ok(taken)
    }

    /// Changes the send buffer's size (`SO_SNDBUF`); a larger size may
    /// make room for a writer that is waiting ([`Event::Writable`]).
    pub fn set_send_buffer(&mut self, size: Option<u32>) {
        self.send_limit = size;
        // The application's size now (`SOCK_SNDBUF_LOCK`): it no longer
        // grows with the window.
        self.send_locked = true;
        self.check_space();
    }

    /// The most octets one buffer holds (see [`Config::send_buffer`]):
    /// Linux `tcp_xmit_size_goal` — half the largest window the peer has
    /// offered (the whole window if that is at most 536,
    /// `tcp_bound_to_half_wnd`), at most [`SEND_BUFFER_GOAL_MAX`], rounded
    /// down to a multiple of the MSS and at least one MSS.
    fn size_goal(&self) -> usize {
        let mss = u32::from(self.send_mss).max(1);
        let half = if self.max_snd_wnd > u32::from(DEFAULT_PEER_MSS) {
            self.max_snd_wnd / 2
        } else {
            self.max_snd_wnd
        };
        let bound = if half > 0 {
            half.min(SEND_BUFFER_GOAL_MAX)
        } else {
            SEND_BUFFER_GOAL_MAX
        };
        ((bound / mss) * mss).max(mss) as usize
    }

    /// After an ACK or a change of size: tells a writer that came up short
    /// that there is room again (Linux `tcp_check_space` →
    /// `sk_stream_write_space`, which clears `SOCK_NOSPACE`).
    fn check_space(&mut self) {
        if self.no_space {
            self.expand_send_buffer();
        }
        if self.no_space && self.is_writable() {
            self.no_space = false;
            self.events.push_back(Event::Writable);
        }
    }

    /// Linux `tcp_new_space` → `tcp_sndbuf_expand` for a writer that came
    /// up short (see [`Config::send_buffer_max`]).
    fn expand_send_buffer(&mut self) {
        let (Some(max), Some(limit)) = (self.config.send_buffer_max, self.send_limit) else {
            return;
        };
        if self.send_locked {
            return;
        }
        if self.in_flight_units() >= self.cwnd_units() {
            return; // the window is full: more buffer would not help
        }
        let segments = (self.reported_cwnd() / u32::from(self.send_mss).max(1))
            .max(crate::config::LINUX_INIT_CWND);
        let want = 2u64 * u64::from(segments) * u64::from(crate::config::LINUX_SEGMENT_MEMORY);
        let want = want.min(u64::from(max)) as u32;
        if limit < want {
            self.send_limit = Some(want);
        }
    }

    /// Reads received in-order data into `buf` (RFC 9293 §3.10.3); returns
    /// how many octets. Zero with [`Connection::is_eof`] means end of stream.
    pub fn recv(&mut self, buf: &mut [u8]) -> usize {
        let n = self.recv_buf.read(buf);
        self.after_read(n);
        n
    }

    /// Reads every received in-order octet, appending it to `out`.
    pub fn recv_to_end(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.recv_buf.read_to_end(out);
        self.after_read(n);
        n
    }

    /// Shuts down the write side (RFC 9293 §3.10.4 CLOSE): a FIN follows
    /// the queued data; reading goes on. In SYN-RECEIVED with nothing
    /// queued the FIN goes at once and FIN-WAIT-1 begins ("If no SENDs have
    /// been issued and there is no pending data to send, then form a FIN
    /// segment and send it, and enter FIN-WAIT-1 state"; Linux's
    /// `tcp_close_state` too); after a SEND it waits for ESTABLISHED
    /// ("otherwise, queue for processing after entering ESTABLISHED state").
    pub fn shutdown(&mut self, now: Instant) -> Result<(), CommandError> {
        self.clock = now;
        if self.shut_wr {
            return Ok(());
        }
        match self.state {
            State::Closed | State::Listen => return Err(CommandError::NotConnected),
            State::SynReceived if self.send_buf.is_empty() => self.set_state(State::FinWait1),
            // The FIN waits until the connection is established.
            State::SynSent | State::SynReceived => {}
            State::Established => self.set_state(State::FinWait1),
            State::CloseWait => self.set_state(State::LastAck),
            _ => {}
        }
        self.shut_wr = true;
        self.push(now);
        Ok(())
    }

    /// Releases the socket: like [`Connection::shutdown`], and the
    /// application reads no more. In SYN-SENT the connection is deleted with
    /// nothing sent (RFC 9293 §3.10.4). With received data still unread it
    /// is aborted instead: RST, no FIN (RFC 1122 §4.2.2.13: "If such a host
    /// issues a CLOSE call while received data is still pending in TCP ...
    /// its TCP SHOULD send a RST"; RFC 2525 §2.17; Linux `tcp_close`, in
    /// `tests/data/linux/close_unread.trace` RST+ACK with seq = SND.NXT).
    pub fn close(&mut self, now: Instant) {
        self.clock = now;
        if self.state == State::Closed {
            // Gone already (reset, timed out, TIME-WAIT over) with data
            // still to read: the application lets it go.
            self.released = true;
            self.recv_buf.discard();
            return;
        }
        if self.recv_buf.readable() > 0 {
            self.abort(now);
            return;
        }
        self.released = true;
        match self.state {
            State::Closed => {}
            State::Listen | State::SynSent => {
                self.enter_closed(Event::Closed);
            }
            _ => {
                let _ = self.shutdown(now);
                if self.state == State::FinWait2 {
                    self.arm_fin_wait_2(now);
                }
            }
        }
    }

    /// Aborts the connection (RFC 9293 §3.10.5): RST(SND.NXT) where the peer
    /// may hold state, then CLOSED at once, with no TIME-WAIT.
    pub fn abort(&mut self, now: Instant) {
        self.clock = now;
        match self.state {
            State::Closed => {
                self.released = true;
                self.recv_buf.discard();
                return;
            }
            State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait => self.send_reset_here(),
            State::Listen | State::SynSent | State::Closing | State::LastAck | State::TimeWait => {}
        }
        self.released = true;
        self.enter_closed(Event::Closed);
    }

    // ----- outputs -----

    /// The next segment to send, if any.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// The next event for the application, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest armed timer; [`Connection::handle_timeout`] is due then.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    // ----- shared internals -----

    fn set_state(&mut self, to: State) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        self.events.push_back(Event::StateChanged { from, to });
        if to == State::Established {
            self.events.push_back(Event::Connected);
        }
    }

    /// Enters CLOSED, stops every timer, and reports why.
    fn enter_closed(&mut self, why: Event) {
        self.timers.stop_all();
        self.set_state(State::Closed);
        self.events.push_back(why);
    }

    /// Reaches ESTABLISHED; applies RFC 6298 §5.7 if our SYN timed out.
    fn establish(&mut self) {
        if self.linux_memory() {
            self.linux_established();
        }
        self.set_state(State::Established);
        if self.shut_wr {
            // The application closed during the handshake; its FIN is due.
            self.set_state(State::FinWait1);
        }
        if self.syn_timed_out {
            self.rtt
                .reinitialize_after_syn_loss(RTO_AFTER_SYN_LOSS, &self.config);
        }
    }

    /// Enters TIME-WAIT and starts its timer; every other timer stops.
    pub(super) fn enter_time_wait(&mut self, now: Instant) {
        self.set_state(State::TimeWait);
        self.timers.stop_all();
        self.arm_time_wait(now);
    }

    /// Records the peer's SYN: IRS, RCV.NXT, its MSS, window and options.
    fn take_peer_syn(&mut self, syn: &Segment) {
        self.irs = syn.seq;
        self.rcv_nxt = syn.seq + 1;
        self.negotiate(syn);
        let peer_mss = syn.mss.unwrap_or(DEFAULT_PEER_MSS);
        self.rcv.peer_mss = peer_mss;
        self.send_mss = self.payload_room(self.config.mss.min(peer_mss).max(1));
        // The initial window counts in the segments now known.
        self.rec.reset_window(&self.config, self.send_mss);
        self.snd_wnd = u32::from(syn.window);
        self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
        self.snd_wl1 = syn.seq;
    }

    /// The receive window: under [`RecvMemory::Octets`] what the buffer
    /// has free now; under [`RecvMemory::Linux`] what is left of the
    /// window announced last (`tcp_receive_window`).
    ///
    /// [`RecvMemory::Octets`]: crate::RecvMemory::Octets
    /// [`RecvMemory::Linux`]: crate::RecvMemory::Linux
    fn rcv_wnd(&self) -> u32 {
        if self.linux_memory() {
            return self.receive_window();
        }
        self.rcv_space
            .saturating_sub(self.recv_buf.readable() as u32)
    }

    /// After the application read `n` octets: send a window update if the
    /// window had closed to less than half and has now at least doubled
    /// (the rule of Linux's `tcp_cleanup_rbuf`; avoids silly-window updates).
    fn after_read(&mut self, n: usize) {
        if n == 0
            || !matches!(
                self.state,
                State::Established | State::FinWait1 | State::FinWait2
            )
        {
            return;
        }
        if self.linux_memory() {
            if self.linux_window_update_due() {
                self.send_ack();
            }
            return;
        }
        let now_wnd = self.rcv_wnd();
        let full = self.rcv_space;
        // last_advertised is in bytes, whatever the scaling.
        if 2 * self.last_advertised <= full && now_wnd >= 2 * self.last_advertised.max(1) {
            self.send_ack();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::Flags;
    use std::net::Ipv4Addr;

    /// Data that meets a zero window with nothing in flight runs the
    /// persist timer, a timer of its own (RFC 9293 §3.8.6.1), not the
    /// retransmission timer: one RTO later (1 s, the rfc floor of RFC 6298
    /// §2.4, as the handshake's RTT sample is 0) a probe goes out, one
    /// below SND.UNA, and the next waits twice as long (RFC 1122 §4.2.2.17).
    #[test]
    fn a_zero_window_runs_the_persist_timer_not_the_retransmission_timer() {
        let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
        let b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let t0 = Instant::ZERO;
        let mut c = Connection::connect(t0, Config::rfc(), a, b, SeqNum(1000));
        while c.poll_transmit().is_some() {}
        let mut synack = Segment::new(b, a, SeqNum(5000), SeqNum(1001), Flags::SYN | Flags::ACK, 0);
        synack.mss = Some(1460);
        c.handle_segment(t0, &synack);
        assert_eq!(c.state(), State::Established);
        while c.poll_transmit().is_some() {}
        while c.poll_event().is_some() {}

        c.send(t0, b"abc").unwrap();
        assert!(c.poll_transmit().is_none(), "the window is closed");
        let one_rto = t0 + crate::time::Duration::from_secs(1);
        assert_eq!(c.timer(TimerKind::Retransmit), None);
        assert_eq!(c.timer(TimerKind::Persist), Some(one_rto));
        assert_eq!(c.poll_timeout(), Some(one_rto));

        c.handle_timeout(one_rto);
        assert_eq!(c.poll_event(), Some(Event::TimerFired(TimerKind::Persist)));
        let probe = c.poll_transmit().expect("a window probe").segment;
        assert_eq!(probe.seq, SeqNum(1001) - 1);
        assert!(probe.payload.is_empty());
        assert_eq!(c.timer(TimerKind::Retransmit), None);
        let two_rto = one_rto + crate::time::Duration::from_secs(2);
        assert_eq!(c.timer(TimerKind::Persist), Some(two_rto));
        // Reports keep the name the persist timer's expiry always had.
        assert_eq!(TimerKind::Persist.name(), "retransmit");
    }

    /// A passive connection from a peer with MSS 1000 and window 50000 (no
    /// options besides MSS), as in the kernel selftest
    /// `tcp_blocking_blocking-write.pkt`, with a send buffer of 42000 (its
    /// `SO_SNDBUF` 21000, doubled) and this machine's overhead of 832.
    fn blocking_write_peer() -> (Connection, SocketAddrV4, SocketAddrV4) {
        let a = SocketAddrV4::new(Ipv4Addr::new(192, 168, 0, 1), 8080);
        let b = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 48000);
        let mut syn = Segment::new(b, a, SeqNum(0), SeqNum(0), Flags::SYN, 50000);
        syn.mss = Some(1000);
        let config = Config {
            send_buffer: Some(42000),
            // SO_SNDBUF: the application's size, which does not grow.
            send_buffer_max: None,
            ..Config::linux()
        };
        let t0 = Instant::ZERO;
        let mut c = Connection::accept(t0, config, a, &syn, SeqNum(0));
        c.handle_segment(
            t0,
            &Segment::new(b, a, SeqNum(1), SeqNum(1), Flags::ACK, 50000),
        );
        assert_eq!(c.state(), State::Established);
        while c.poll_transmit().is_some() {}
        while c.poll_event().is_some() {}
        (c, a, b)
    }

    /// The send buffer's model (Config::send_buffer), step by step, with
    /// the arithmetic of the kernel's `sk_wmem_queued`; T = 832, size goal
    /// 25000 (half the window of 50000), slow start from 10 segments of
    /// 1000 (each ACK of ten segments adds ten).
    #[test]
    fn a_full_send_buffer_takes_part_of_a_write_and_wakes_at_a_third_free() {
        let (mut c, a, b) = blocking_write_peer();
        let t = 832;
        let now = Instant::ZERO;
        // A: 25000, then 1:10001 goes out and A splits; its unsent rest
        // takes 10000 more (10001:35001); B, begun at 2T + 35000 < 42000,
        // takes 25000; a third at 3T + 60000 >= 42000 cannot begin.
        assert_eq!(c.send(now, &[0; 61000]), Ok(60000));
        assert_eq!(c.send_buffer_used(), 3 * t + 60000);
        assert_eq!(std::iter::from_fn(|| c.poll_transmit()).count(), 10);
        assert_eq!(c.send(now, &[0; 1000]), Ok(0));
        let ack = |c: &mut Connection, n: u32| {
            c.handle_segment(
                now,
                &Segment::new(b, a, SeqNum(1), SeqNum(n), Flags::ACK, 50000),
            );
            let sent = std::iter::from_fn(|| c.poll_transmit()).count();
            let woke = std::iter::from_fn(|| c.poll_event()).any(|e| e == Event::Writable);
            (sent, woke)
        };
        // ACK 10001 frees 1:10001; cwnd 20: 10001:30001 goes out and
        // splits A's rest: 10001:30001, 30001:35001, B: 3T + 50000.
        assert_eq!(ack(&mut c, 10001), (20, false));
        assert_eq!(c.send_buffer_used(), 3 * t + 50000);
        // ACK 20001 trims the first to 20001:30001; cwnd 30, ten in
        // flight: 30001:50001 out, splitting B: 4T + 40000.
        assert_eq!(ack(&mut c, 20001), (20, false));
        assert_eq!(c.send_buffer_used(), 4 * t + 40000);
        // ACK 30001 frees 20001:30001; cwnd 40: the last ten segments
        // (50001:60001) out: 30001:35001, 35001:50001, 50001:60001, 3T +
        // 30000 = 32496, and 42000 − 32496 = 9504 < 16248: no.
        assert_eq!(ack(&mut c, 30001), (10, false));
        assert_eq!(c.send_buffer_used(), 3 * t + 30000);
        // ACK 34001 trims the first to 1000: 3T + 26000 = 28496, free
        // 13504 < 14248: no.
        assert_eq!(ack(&mut c, 34001), (0, false));
        assert_eq!(c.send_buffer_used(), 3 * t + 26000);
        // ACK 35001 frees it: 2T + 25000 = 26664, free 15336 >= 13332:
        // the writer wakes. (The kernel selftest tcp_blocking_blocking-
        // write.pkt, with T between 1000 and 1333, wakes only at 36001;
        // with this machine's T = 832 it would wake here, which the script
        // does not test.)
        assert_eq!(ack(&mut c, 35001), (0, true));
        assert_eq!(c.send_buffer_used(), 2 * t + 25000);
        // The rest of the write starts a new buffer.
        assert_eq!(c.send(now, &[0; 1000]), Ok(1000));
    }

    /// Review finding: our SYN was recognised as "SND.UNA == ISS", which is
    /// true again once 2^32 − 1 octets have been acknowledged (RFC 9293
    /// §3.4: sequence numbers wrap); the next ACK then left one octet in the
    /// send buffer, so `AllAcked` never came. SND.UNA is put back on ISS
    /// here as that wrap would; 10 octets sent and acknowledged must leave
    /// nothing behind.
    #[test]
    fn ack_after_snd_una_wraps_back_to_iss_covers_all_data() {
        let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
        let b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let now = Instant::ZERO;
        let mut c = Connection::connect(now, Config::rfc(), a, b, SeqNum(1000));
        while c.poll_transmit().is_some() {}
        let mut synack = Segment::new(
            b,
            a,
            SeqNum(5000),
            SeqNum(1001),
            Flags::SYN | Flags::ACK,
            65535,
        );
        synack.mss = Some(1460);
        c.handle_segment(now, &synack);
        assert_eq!(c.state(), State::Established);
        // As if 2^32 − 1 octets had gone by: SND.UNA is at ISS again.
        c.iss = c.snd_una;
        c.send(now, b"0123456789").unwrap();
        while c.poll_transmit().is_some() {}
        while c.poll_event().is_some() {}
        let ack = Segment::new(b, a, SeqNum(5001), c.snd_nxt(), Flags::ACK, 65535);
        c.handle_segment(now, &ack);
        assert_eq!(c.unacknowledged(), 0);
        assert!(std::iter::from_fn(|| c.poll_event()).any(|e| e == Event::AllAcked));
    }
}

#[cfg(all(test, target_pointer_width = "64"))]
mod footprint {
    use std::mem::size_of;

    /// Issue 19's memory budget, in bytes on a 64-bit target: a million
    /// connections are two million of these. What only losses, SACK
    /// reports or out-of-order data need is boxed and made on demand; a
    /// field that grows a connection past its budget belongs there too.
    #[test]
    fn a_connection_and_its_time_wait_record_keep_to_their_budgets() {
        assert!(
            size_of::<super::Connection>() <= 832,
            "{}",
            size_of::<super::Connection>()
        );
        assert!(
            size_of::<super::TimeWait>() <= 256,
            "{}",
            size_of::<super::TimeWait>()
        );
        assert_eq!(size_of::<Option<crate::time::Instant>>(), 8);
    }
}

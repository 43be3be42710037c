//! TCP parameters and the two profiles, `rfc` and `linux` (tcpsim SPEC §5).
//!
//! A [`Config`] is a plain value: the profile fills in defaults and every
//! field can then be overridden. Where the profiles differ in *behaviour*
//! rather than in a number (the reply to a duplicate SYN, whether the ACK of
//! a FIN is delayed, the RTO formula) the difference is a named field too,
//! usually a two-valued enum, so [`Config::rfc`] and [`Config::linux`] read
//! as the list of differences. The state machine reads those fields and
//! never the [`Profile`], which only names the preset.

use core::fmt;
use core::str::FromStr;

use crate::congestion::InitialCwnd;
use crate::time::Duration;

/// Which reference a connection's defaults and behaviours follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Profile {
    /// RFC 9293, RFC 6298 and RFC 1122 as written.
    Rfc,
    /// The defaults of Linux 6.5 and later, as observed on a real kernel.
    Linux,
}

impl Profile {
    /// The name used in experiment files (`rfc`, `linux`).
    pub const fn name(self) -> &'static str {
        match self {
            Profile::Rfc => "rfc",
            Profile::Linux => "linux",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown profile name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown TCP profile {0:?}: expected \"rfc\" or \"linux\"")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<Profile, UnknownProfile> {
        match s {
            "rfc" => Ok(Profile::Rfc),
            "linux" => Ok(Profile::Linux),
            other => Err(UnknownProfile(other.to_owned())),
        }
    }
}

/// How initial sequence numbers are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsnMode {
    /// Clock-driven (RFC 9293 §3.4.1, MUST-8; RFC 6528): ISN = M + F(4-tuple,
    /// secret), M a counter advancing once every [`Config::isn_clock`], F a
    /// keyed hash of the 4-tuple with a secret drawn once from the
    /// endpoint's seeded generator. The default of both profiles: a new
    /// incarnation of a 4-tuple starts above the old one's sequence space
    /// unless the clock has wrapped.
    Clock,
    /// Drawn from the endpoint's seeded generator for every connection.
    Random,
    /// Every connection starts at this number (handy in hand-written tests).
    Fixed(u32),
}

/// What a connection in TIME-WAIT does with an acceptable RST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RstInTimeWait {
    /// Close at once (RFC 9293 §3.10.7.4).
    Close,
    /// Ignore it and finish TIME-WAIT (RFC 1337's remedy for TIME-WAIT assassination).
    Ignore,
}

/// How TIME-WAIT treats the segments that arrive in it (other than a SYN
/// that reopens it, which the endpoint decides on first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeWaitSegments {
    /// RFC 9293 §3.10.7.4 as in every synchronized state: a segment that
    /// fails the acceptability test is acknowledged, and if it is a
    /// retransmission of the peer's FIN it restarts the timer ("Acknowledge
    /// it, and restart the 2 MSL timeout"); an acceptable segment without
    /// a FIN (a bare ACK at RCV.NXT) is neither answered nor restarts it; a
    /// RST at RCV.NXT is [`RstInTimeWait`]'s, elsewhere in the window it
    /// gets a challenge ACK (RFC 5961 §3.2).
    Rfc9293,
    /// Linux `tcp_timewait_state_process`: a segment at exactly RCV.NXT
    /// without text is a RST ([`RstInTimeWait`]'s) or restarts the timer,
    /// unanswered; every other segment is acknowledged and, if it carries
    /// ACK (or fails PAWS), restarts the timer, except a RST, which is
    /// dropped without effect.
    Linux,
}

/// How the RTO follows from SRTT and RTTVAR (see [`crate::RttEstimator`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtoFormula {
    /// RTO = max(`min_rto`, SRTT + max(G, 4·RTTVAR)), G = `clock_granularity`
    /// (RFC 6298 §2.3–2.4): `min_rto` is a floor under the whole RTO.
    Rfc6298,
    /// RTO = SRTT + max(`min_rto`, 4·RTTVAR): `min_rto` (`tcp_rto_min`) is
    /// a floor under the variance term only (Linux `__tcp_set_rto` and
    /// `tcp_rtt_estimator`).
    Linux,
}

/// Whether a retransmitted segment gives an RTT sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetransmissionRtt {
    /// Karn's algorithm (RFC 6298 §3): a retransmission cancels the timing
    /// in progress and is never timed itself.
    Karn,
    /// The retransmission is timed from its own send time, as Linux does
    /// through the timestamp echo (`tcp_ack_update_rtt` with TSecr) — so
    /// only when timestamps are in use: without them a retransmission is
    /// not timed, as under Karn (`tcp_clean_rtx_queue` takes no sample
    /// from a retransmitted segment), and after a retransmitted SYN the
    /// RTO stays at RFC 6298 §5.7's 3 s (`tcp_init_metrics`).
    Sample,
}

/// What an abort (RFC 9293 §3.10.5) sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortReset {
    /// RST(SND.NXT) without ACK (RFC 9293 §3.10.5).
    Rst,
    /// RST+ACK(SND.NXT, RCV.NXT), as Linux's `tcp_send_active_reset`.
    RstAck,
}

/// The reply to a retransmission of the peer's SYN (same ISN, no ACK) in
/// SYN-RECEIVED.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DuplicateSyn {
    /// Like any segment that fails the acceptability test: ACK(SND.NXT,
    /// RCV.NXT) (RFC 9293 §3.10.7.4, first check).
    Ack,
    /// The SYN-ACK again (same ISS), and the SYN-ACK timer re-armed at one
    /// RTO (Linux `tcp_check_req`; `tests/data/linux/synack_lost_first.trace`).
    SynAck,
}

/// What the SYN-RECEIVED of a passive open (a half-open connection that a
/// listener made) does with a RST or a new SYN in its receive window. The
/// SYN-RECEIVED of a simultaneous open is not affected: it follows RFC 5961
/// under either value (a RST at RCV.NXT refuses the connection; a RST
/// elsewhere in the window, or a SYN, gets a challenge ACK; Linux
/// `tcp_validate_incoming` alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HalfOpenRstSyn {
    /// RFC 9293 §3.10.7.4: a RST at exactly RCV.NXT returns the connection
    /// to LISTEN (it is deleted, the listener stays, nothing is sent); a
    /// RST elsewhere in the window gets a challenge ACK (the second check's
    /// RFC 5961 §3.2 rules); a SYN in the window returns it to LISTEN with
    /// nothing sent (the fourth check).
    Rfc9293,
    /// Linux `tcp_check_req`, which holds a half-open connection as a
    /// request: any RST in the window deletes it without a reply; a SYN in
    /// the window, other than the retransmission of the first (see
    /// [`DuplicateSyn`]), is answered with a RST built as for a segment of
    /// no connection (`tcp_v4_send_reset`) and deletes it. A segment with
    /// an ACK other than ISS + 1 goes to the listener first, which ignores
    /// a RST and answers a SYN+ACK with RST(SEG.ACK); the request stays.
    Linux,
}

/// How soon the peer's FIN is acknowledged when it arrives in
/// SYN-RECEIVED or ESTABLISHED (the passive close).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckOfFin {
    /// At once (RFC 9293 §3.10.7.4, eighth check: "send an acknowledgment
    /// for the FIN"): the four-segment close.
    Now,
    /// Within the delayed-ACK time, so the ACK rides on the application's
    /// own FIN if it closes at once (Linux `tcp_fin` enters ping-pong mode;
    /// the three-segment close of `tests/data/linux/normal.trace`).
    Delayed,
}

/// How `syn_retries` counts the SYN retransmissions that keep the initial
/// RTO (`syn_linear_timeouts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynRetryCount {
    /// `syn_retries` is the number of SYN retransmissions, linear ones
    /// included.
    IncludesLinear,
    /// The linear retransmissions come on top of `syn_retries` (Linux
    /// `tcp_write_timeout`: `max_retransmits = tcp_syn_retries +
    /// tcp_syn_linear_timeouts`; `tests/data/linux/syn_lost_all.trace`).
    PlusLinear,
}

/// How `data_retries` and `fin_retries` become a give-up rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryModel {
    /// Give up at the expiry that would be retransmission number `n + 1`
    /// ([`RetryLimit::Retries`]).
    Count,
    /// Give up after the time that `n` retransmissions would take from a
    /// 200 ms RTO doubling up to `max_rto` ([`RetryLimit::Elapsed`] of
    /// [`linux_model_timeout`]): Linux's `retransmits_timed_out` with
    /// `tcp_model_timeout`, which does not depend on the actual RTO.
    LinuxTimeout,
}

/// What an ACK of data not yet sent gets in a synchronized state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckAboveSndNxt {
    /// "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then
    /// send an ACK, drop the segment, and return" (RFC 9293 §3.10.7.4,
    /// fifth check).
    Ack,
    /// Dropped without a reply (Linux `tcp_ack`: "If the ack includes data
    /// we haven't sent yet, discard this segment").
    Drop,
}

/// The peer's SYN-ACK in the SYN-RECEIVED of a simultaneous open (RFC
/// 9293 Figure 7, line 6): its ACK completes the open under both; its SYN
/// is one we hold already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimultaneousSynAck {
    /// Nothing more: the two SYN-ACKs complete the open, no ACK follows
    /// (RFC 9293 Figure 7, line 7), and our SYN-ACK's window is computed
    /// afresh, as a passive open's is.
    Rfc9293,
    /// Linux: the segment's SYN is a repeat, so `tcp_data_queue` acks it at
    /// once with a D-SACK of it (`tcp_dsack_set` on a segment that ends at
    /// or before RCV.NXT); our SYN-ACK (`tcp_send_synack` from the socket)
    /// kept the window of our SYN. Captured:
    /// `tests/data/linux/simultaneous_open.pcap` (`A 1 1` with `sack 1
    /// {0:1}` 0.1 ms after the SYN-ACK arrives, before the FIN; SYN-ACK
    /// window 64240).
    Linux,
}

/// When a timer armed for a delay fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerWheel {
    /// At exactly the delay.
    Exact,
    /// Where Linux's timer wheel fires it: the delay in whole
    /// [`Config::kernel_tick`]s (jiffies, rounded up), then at the first
    /// boundary after it of a bucket that is coarser the further away the
    /// timer is — up to one tick late below 63 ticks, up to 8 below 504,
    /// 64 below 4032, and so on (`kernel/time/timer.c`; the module
    /// `timer_wheel`). The RTO, too, is a whole number of ticks
    /// (`usecs_to_jiffies` in `__tcp_set_rto`).
    Linux,
}

/// When unanswered zero-window probes give up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersistGiveUp {
    /// By the rule for data ([`Config::data_limit`]): `rfc` R2, 100 s.
    LikeData,
    /// After `data_retries` probes without an answer (`fin_retries` once
    /// the socket is released), counted, whatever time they took (Linux
    /// `tcp_probe_timer`: `icsk_probes_out >= tcp_retries2`).
    Probes,
}

/// When the TSval of an arriving segment becomes TS.Recent (RFC 7323
/// §4.3), that is, which checks the segment must pass first. Either way
/// the segment must also start at or before Last.ACK.sent and not carry an
/// older TSval (R3's conditions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsRecentUpdate {
    /// RFC 7323 §5.3 R3: right after the sequence-number check (the first
    /// check of RFC 9293 §3.10.7.4), before the RST, SYN and ACK checks; a
    /// segment that is dropped later for its ACK (one above SND.NXT) or
    /// answered with a challenge ACK has still set TS.Recent.
    Rfc7323,
    /// Linux: in `tcp_ack`, once the ACK field is found acceptable
    /// (`FLAG_UPDATE_TS_RECENT`, `tcp_replace_ts_recent`): the segment must
    /// carry ACK with SND.UNA =< SEG.ACK =< SND.NXT. A RST, a SYN, a
    /// segment without ACK, an ACK above SND.NXT or below SND.UNA leaves
    /// TS.Recent as it was.
    Linux,
}

/// What taking the peer's FIN in sequence does to the SACK state (RFC 2018
/// blocks and a D-SACK, RFC 2883), and so to the ACK of a segment that
/// repeats data already received but brings the FIN as new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinSack {
    /// Nothing: the FIN is one more octet of sequence space. A segment
    /// that repeats received data is reported with a D-SACK block (RFC
    /// 2883 §4) even when it also carries the FIN, and, as a duplicate, is
    /// acknowledged at once.
    Rfc2883,
    /// Linux `tcp_fin`: the out-of-order data is dropped and the SACK state
    /// cleared (`tcp_sack_reset`: no blocks, no pending D-SACK), so the ACK
    /// of the FIN carries no SACK option. A segment whose data was all
    /// received before but whose FIN is new is in sequence for the kernel
    /// (`tcp_data_queue` queues it from RCV.NXT), not a duplicate: it is
    /// acknowledged as the FIN is ([`AckOfFin`]).
    Linux,
}

/// Which new data segments carry PSH. (Retransmissions carry it when they
/// end at the end of the send buffer, under either value.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    /// RFC 1122 §4.2.2.2: a TCP without PUSH flags on its SEND calls sets
    /// PSH in the last buffered segment, the one after which no queued data
    /// is left to send.
    Rfc1122,
    /// Also the last segment of every transmission burst (the segments one
    /// pass over the send queue sends back to back, until the window or
    /// the data runs out): what packetdrill sees of Linux, where a
    /// 12000-octet write into a 10-segment initial window at MSS 1100 goes
    /// out as 11000 octets with PSH and, after the ACK, 1000 octets with
    /// PSH (`gtests/net/tcp/mss/mss-setsockopt-tcp_maxseg-*.pkt` in
    /// google/packetdrill, which reads a TSO burst as one segment). The
    /// kernel marks PSH per write (`tcp_push` → `tcp_mark_push` on the
    /// last buffer of each `sendmsg`, and `forced_push` once more than half
    /// the peer's largest window is written unmarked); tcpsim does not
    /// model writes as buffers, and marks the end of each burst instead.
    Linux,
}

/// What a FIN without data gets when the receive window is zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinInZeroWindow {
    /// Like any segment outside the window: ACK and drop (RFC 9293
    /// §3.10.7.4, first check).
    Drop,
    /// Taken: Linux accepts a bare FIN at RCV.NXT into a zero window
    /// (`tcp_data_queue`, to break FIN/ACK loops with some stacks).
    Accept,
}

/// How a window is turned into the 16-bit field once window scaling is in
/// use (RFC 7323 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowRounding {
    /// `SEG.WND = RCV.WND >> Rcv.Wind.Shift`, truncating (RFC 7323 §2.3).
    Down,
    /// Rounded up to the next multiple of 2^shift, so a window that is not a
    /// multiple is never announced smaller than it is (Linux
    /// `tcp_select_window`; `tests/data/linux/data_close.trace`: 64240 at
    /// shift 10 is announced as 63).
    Up,
}

/// How a connection sizes its congestion window (`[tcp] congestion_control`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CongestionAlgorithm {
    /// Reno: RFC 5681 slow start and congestion avoidance.
    Reno,
    /// CUBIC (RFC 9438), Linux's default besides BBR (which tcpsim does
    /// not model).
    Cubic,
}

/// How losses are detected and repaired before the retransmission timer
/// (`[tcp] loss_recovery`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossRecovery {
    /// Duplicate ACKs: RFC 5681 fast retransmit and fast recovery with
    /// RFC 6582 NewReno and RFC 3042 limited transmit; with SACK, RFC 6675
    /// (a segment is lost when three segments, or more than two segments'
    /// octets, above it are SACKed).
    NewReno,
    /// RACK-TLP (RFC 8985) as Linux runs it: time-based loss detection
    /// from SACK, tail loss probes, and PRR (RFC 6937) pacing the
    /// recovery. Without SACK the connection falls back to duplicate ACKs
    /// (NewReno), as the kernel does.
    Rack,
}

/// The Nagle algorithm: whether a segment smaller than the MSS waits for
/// the ACK of what is in flight (`[tcp] nagle`; `TCP_NODELAY` turns it
/// off for a socket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nagle {
    /// No waiting (`TCP_NODELAY`).
    Off,
    /// RFC 896 as RFC 1122 §4.2.3.4 states it: while anything is
    /// unacknowledged, data that would make a segment smaller than the MSS
    /// waits until the ACK comes or a full segment's worth is queued.
    Rfc896,
    /// Linux's variant (Minshall's, `tcp_nagle_check` with
    /// `tcp_minshall_check`): a small segment waits only while an earlier
    /// small segment is unacknowledged.
    Minshall,
}

/// How the congestion window is counted and when it may grow
/// (`[tcp] cwnd_accounting`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CwndAccounting {
    /// RFC 5681: in octets, against FlightSize (SND.NXT − SND.UNA) outside
    /// recovery; slow start adds min(N, SMSS) per ACK; the window grows
    /// whatever the sender had to send.
    Rfc5681,
    /// Linux: in segments, against the segments in flight
    /// (`tcp_packets_in_flight`: out − SACKed − lost + retransmitted);
    /// slow start adds every segment an ACK delivers (acknowledged or
    /// SACKed); the window grows only while the sender is limited by it —
    /// in slow start while it is below twice the most segments that were
    /// in flight in the last round trip (`tcp_is_cwnd_limited`; in
    /// `tests/data/linux/data_tail_fin_lost.trace` six segments in flight
    /// leave cwnd at 12).
    Linux,
}

/// The window a SYN or SYN-ACK announces (it is never scaled, RFC 7323
/// §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialWindow {
    /// The receive space as it is (the 16-bit field holds at most 65535).
    Exact,
    /// The receive space rounded down to a multiple of the payload size
    /// (MSS, less 12 when timestamps are in use) when it is larger, as
    /// Linux's `tcp_select_initial_window` does: 64240 = 44 × 1460 in a SYN,
    /// 65160 = 45 × 1448 in a SYN-ACK that agrees to timestamps
    /// (`tests/data/linux/normal.trace`), 18980 = 13 × 1460 from a
    /// 40000-byte buffer (kernel selftest `tcp_rcv_toobig`).
    MssMultiple,
}

/// How the receive buffer is counted, and so which window is announced and
/// which arriving data is taken (`connection/rcvbuf.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvMemory {
    /// The buffer holds [`Config::recv_buffer`] octets of data; the window
    /// is what is free of it (RFC 9293 §3.8.6: RCV.WND is the buffer space
    /// the receiver has), and data beyond the window is not taken.
    Octets,
    /// Linux's accounting of `sk_rcvbuf`: every queued segment costs its
    /// `truesize` (the kernel's buffer with its overhead, as a tun device
    /// allocates it), and the window is what `tcp_win_from_space` makes of
    /// the free memory with the measured payload-to-truesize ratio, grown
    /// by `rcv_ssthresh`, rounded and never shrunk as `__tcp_select_window`
    /// and `tcp_select_window` do. Data is taken by the kernel's sequence
    /// rules (`tcp_sequence`: an in-order segment larger than the window
    /// while nothing waits to be read; the largest window ever announced,
    /// RFC 7323 §2.4) and memory rules (`tcp_try_rmem_schedule`: dropped,
    /// with a zero window, once the memory is spent).
    Linux,
}

/// When a retransmitting connection gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryLimit {
    /// Give up at the expiry that would be retransmission number `n + 1`:
    /// `n` retransmissions are sent.
    Retries(u32),
    /// Give up at the first expiry at or after this much time since the
    /// retransmission of the current head began: since the SYN was sent for
    /// a handshake, since the head of the send queue last changed for data
    /// (RFC 1122 §4.2.3.5, "R2": time spent retransmitting one segment).
    Elapsed(Duration),
}

/// Every TCP parameter tcpsim models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The profile the defaults came from: a label for reports. Behaviour
    /// follows the fields below, never this one.
    pub profile: Profile,
    /// RTO before any RTT sample (RFC 6298 §2.1): 1 s in both profiles.
    pub initial_rto: Duration,
    /// Under [`RtoFormula::Rfc6298`] the lower bound of the RTO (`rfc`: 1 s,
    /// RFC 6298 §2.4); under [`RtoFormula::Linux`] the floor of the variance
    /// term (`linux`: 200 ms, `tcp_rto_min`).
    pub min_rto: Duration,
    /// The upper bound of the RTO, backed-off values included: `rfc` 60 s, `linux` 120 s.
    pub max_rto: Duration,
    /// Clock granularity G of RFC 6298 §2, used by [`RtoFormula::Rfc6298`]: 1 ms.
    pub clock_granularity: Duration,
    /// SYN retransmissions before giving up. `None` (the `rfc` default)
    /// gives up by time instead: see [`Config::syn_timeout`]. `linux`: 6
    /// (`tcp_syn_retries`), plus the linear ones.
    pub syn_retries: Option<u32>,
    /// Retransmissions of a SYN that keep the initial RTO before backing off
    /// begins (`tcp_syn_linear_timeouts`): `rfc` 0, `linux` 4.
    pub syn_linear_timeouts: u32,
    /// SYN-ACK retransmissions before a half-open connection is dropped.
    /// `None` (`rfc`): by time, like SYN. `linux`: 5 (`tcp_synack_retries`).
    pub synack_retries: Option<u32>,
    /// R2 for SYN and SYN-ACK when no retry count is set: 180 s (RFC 1122 §4.2.3.5).
    pub syn_timeout: Duration,
    /// Data and FIN retransmissions before giving up. `None` (`rfc`): by time,
    /// [`Config::data_timeout`]. `linux`: 15 (`tcp_retries2`), turned into a
    /// time the way Linux does (924.6 s).
    pub data_retries: Option<u32>,
    /// R2 for data and FIN when no retry count is set: 100 s (RFC 1122 §4.2.3.5).
    pub data_timeout: Duration,
    /// Retransmissions for a connection whose socket the application has
    /// released (an orphan). `None` (`rfc`): same as data. `linux`: 8
    /// (`tcp_orphan_retries` = 0 means 8), i.e. 102.2 s.
    pub fin_retries: Option<u32>,
    /// Maximum segment lifetime: 2 min (RFC 9293 §3.4.2).
    pub msl: Duration,
    /// How long TIME-WAIT lasts: `rfc` 2 × MSL = 240 s, `linux` 60 s.
    pub time_wait: Duration,
    /// How long a released socket may wait in FIN-WAIT-2: `rfc` no limit,
    /// `linux` 60 s (`tcp_fin_timeout`).
    pub fin_wait_2_timeout: Option<Duration>,
    /// `TCP_USER_TIMEOUT` (RFC 9293 §3.8.3 "USER TIMEOUT", RFC 5482): how
    /// long what is outstanding (a SYN, a SYN-ACK, data, a FIN, or window
    /// probes) may stay unacknowledged before the connection is aborted,
    /// in addition to the retry rules. Linux's rule (`tcp_write_timeout`,
    /// `tcp_clamp_rto_to_user_timeout`, `tcp_probe_timer`): once
    /// retransmitting, each timer interval is cut to the time left, so
    /// the connection gives up exactly when the timeout is reached. It is
    /// counted as [`Config::data_retry_model`] counts: from the data's
    /// transmission ([`RetryModel::Count`]), or from its first
    /// retransmission that is not a loss probe, Linux's `retrans_stamp`
    /// ([`RetryModel::LinuxTimeout`]). `None` (both profiles) sets no such
    /// limit.
    pub user_timeout: Option<Duration>,
    /// The MSS this host announces and the largest payload it sends: 1460.
    pub mss: u16,
    /// A fixed receive window instead of the buffer model: `Some(w)` makes
    /// the buffer hold `w` octets, announced as the window (at most 65535,
    /// rounded by [`Config::initial_window`] in SYN and SYN-ACK) and shrunk
    /// by what the application has not read, whatever
    /// [`Config::recv_memory`] says: tcpsim's window before receive buffers
    /// were modelled. `None` (both profiles): the window follows
    /// [`Config::recv_buffer`].
    pub recv_window: Option<u16>,
    /// The receive buffer, in bytes: `rfc` 65535 octets of data
    /// ([`RecvMemory::Octets`]); `linux` 131072 bytes of memory
    /// ([`RecvMemory::Linux`]: `tcp_rmem[1]`, 131072 on this machine, which
    /// gives the 64240 and 65160 of the captures). The value
    /// `getsockopt(SO_RCVBUF)` reports, which for `SO_RCVBUF` is twice what
    /// the application asked for.
    pub recv_buffer: u32,
    /// The application fixed [`Config::recv_buffer`] (`SO_RCVBUF`, Linux
    /// `SOCK_RCVBUF_LOCK`): the window-scale shift offered is then the
    /// smallest that covers the buffer's window (`tcp_select_initial_window`
    /// with `window_clamp` = the full space: 0 for a 40000-byte buffer,
    /// kernel selftest `tcp_rcv_zero_wnd_fin`), and the buffer never grows.
    /// Off in both profiles.
    pub recv_buffer_locked: bool,
    /// How far Linux grows a receive buffer the application did not fix
    /// when data overruns it (`tcp_rmem[2]`, `tcp_clamp_window`), in bytes:
    /// 33554432 on this machine (`rfc` does not use it: 65535).
    pub recv_buffer_max: u32,
    /// How the receive buffer is counted: `rfc` [`RecvMemory::Octets`],
    /// `linux` [`RecvMemory::Linux`].
    pub recv_memory: RecvMemory,
    /// With [`RecvMemory::Linux`] and window scaling in use, the window may
    /// shrink as the memory fills instead of holding its right edge (Linux
    /// `tcp_shrink_window`, off by default; RFC 7323 §2.4). Off in both.
    pub shrink_window: bool,
    /// Longest delay of an ACK: `rfc` 200 ms (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2),
    /// `linux` 40 ms. Zero acknowledges every segment at once.
    pub delayed_ack: Duration,
    /// How initial sequence numbers are chosen.
    pub isn: IsnMode,
    /// The tick of the ISN clock M of [`IsnMode::Clock`]: `rfc` 4 µs (RFC 9293
    /// §3.4.1: "a (possibly fictitious) 32 bit clock whose low order bit is
    /// incremented roughly every 4 microseconds"), `linux` 64 ns (the kernel's
    /// `secure_tcp_seq` adds `ktime_get_real_ns() >> 6`; the captures under
    /// `tests/data/linux/` advance 15.6 M per second, wrapping in 275 s).
    pub isn_clock: Duration,
    /// What TIME-WAIT does with an acceptable RST.
    pub rst_in_time_wait: RstInTimeWait,
    /// Which segments TIME-WAIT answers and which restart its timer: `rfc`
    /// [`TimeWaitSegments::Rfc9293`], `linux` [`TimeWaitSegments::Linux`].
    pub time_wait_segments: TimeWaitSegments,
    /// How the RTO follows from the RTT samples: `rfc`
    /// [`RtoFormula::Rfc6298`] (RFC 6298 §2), `linux` [`RtoFormula::Linux`]
    /// (`__tcp_set_rto`).
    pub rto_formula: RtoFormula,
    /// Whether retransmissions are timed: `rfc` [`RetransmissionRtt::Karn`]
    /// (RFC 6298 §3), `linux` [`RetransmissionRtt::Sample`] (timestamps).
    pub retransmission_rtt: RetransmissionRtt,
    /// What an abort sends: `rfc` [`AbortReset::Rst`] (RFC 9293 §3.10.5),
    /// `linux` [`AbortReset::RstAck`] (`tcp_send_active_reset`).
    pub abort_reset: AbortReset,
    /// The reply to a duplicate SYN in SYN-RECEIVED: `rfc`
    /// [`DuplicateSyn::Ack`] (RFC 9293 §3.10.7.4), `linux`
    /// [`DuplicateSyn::SynAck`] (`tcp_check_req`, captured in
    /// `tests/data/linux/synack_lost_first.trace`).
    pub duplicate_syn: DuplicateSyn,
    /// A RST or a new SYN in the window of a passive open's SYN-RECEIVED:
    /// `rfc` [`HalfOpenRstSyn::Rfc9293`], `linux` [`HalfOpenRstSyn::Linux`].
    pub half_open_rst_syn: HalfOpenRstSyn,
    /// The peer's SYN-ACK in a simultaneous open's SYN-RECEIVED: `rfc`
    /// [`SimultaneousSynAck::Rfc9293`], `linux`
    /// [`SimultaneousSynAck::Linux`].
    pub simultaneous_synack: SimultaneousSynAck,
    /// How soon a FIN that starts the passive close is acknowledged: `rfc`
    /// [`AckOfFin::Now`] (RFC 9293 §3.10.7.4), `linux` [`AckOfFin::Delayed`]
    /// (`tcp_fin`, `tests/data/linux/normal.trace`).
    pub ack_of_fin: AckOfFin,
    /// Data segments acknowledged at once, each singly, at the start of a
    /// connection before delayed ACKs begin (quick-ACK mode): `rfc` 0 (RFC
    /// 9293 §3.8.6.3 delays from the first), `linux` [`LINUX_QUICKACKS`] = 16
    /// (`TCP_MAX_QUICKACKS`, `tcp_incr_quickack`).
    pub quickacks: u32,
    /// Whether `syn_retries` includes the linear SYN retransmissions: `rfc`
    /// [`SynRetryCount::IncludesLinear`], `linux`
    /// [`SynRetryCount::PlusLinear`] (`tcp_write_timeout`,
    /// `tests/data/linux/syn_lost_all.trace`).
    pub syn_retry_count: SynRetryCount,
    /// How a data or FIN retry count gives up: `rfc` [`RetryModel::Count`]
    /// (a count of retransmissions), `linux` [`RetryModel::LinuxTimeout`]
    /// (elapsed time from `tcp_model_timeout`, `net/ipv4/tcp_timer.c`,
    /// counted from the first retransmission: `retrans_stamp`).
    pub data_retry_model: RetryModel,
    /// The window-scale shift offered in SYN and SYN-ACK (RFC 7323 §2); `None`
    /// offers no window scaling. Above 14 is sent and used as 14 (RFC 7323 §2.3).
    /// `rfc` `None`; `linux` 10, what this machine's kernel offers (from
    /// `tcp_rmem[2]`; `tests/data/linux/normal.trace`).
    pub window_scale: Option<u8>,
    /// Offer and use SACK (RFC 2018): SACK-permitted in SYN and SYN-ACK, SACK
    /// blocks for out-of-order data. `rfc` off; `linux` on (`tcp_sack`).
    pub sack: bool,
    /// Offer and use timestamps (RFC 7323 §3–5): TSval/TSecr on every segment
    /// once both SYNs had them, PAWS, 12 bytes less payload per segment.
    /// `rfc` off; `linux` on (`tcp_timestamps`).
    pub timestamps: bool,
    /// The tick of the timestamp clock: 1 ms in both (Linux's TCP timestamps
    /// run at 1 kHz; RFC 7323 §5.4 allows 1 ms to 1 s).
    pub ts_clock: Duration,
    /// How scaled windows are rounded: `rfc` [`WindowRounding::Down`],
    /// `linux` [`WindowRounding::Up`].
    pub window_rounding: WindowRounding,
    /// RTTM (RFC 7323 §4.1): with timestamps in use, every ACK that advances
    /// SND.UNA gives an RTT sample from its TSecr, retransmissions included
    /// (no Karn ambiguity). `rfc` on; `linux` off (the kernel times segments
    /// from their send times, see [`RetransmissionRtt`]).
    pub rttm: bool,
    /// An ACK above SND.NXT in a synchronized state: `rfc`
    /// [`AckAboveSndNxt::Ack`], `linux` [`AckAboveSndNxt::Drop`].
    pub ack_above_snd_nxt: AckAboveSndNxt,
    /// When an arriving TSval becomes TS.Recent: `rfc`
    /// [`TsRecentUpdate::Rfc7323`], `linux` [`TsRecentUpdate::Linux`].
    pub ts_recent_update: TsRecentUpdate,
    /// What taking the peer's FIN does to the SACK state: `rfc`
    /// [`FinSack::Rfc2883`], `linux` [`FinSack::Linux`].
    pub fin_sack: FinSack,
    /// Which new data segments carry PSH: `rfc` [`Push::Rfc1122`], `linux`
    /// [`Push::Linux`].
    pub push: Push,
    /// A bare FIN into a zero window: `rfc` [`FinInZeroWindow::Drop`],
    /// `linux` [`FinInZeroWindow::Accept`].
    pub fin_in_zero_window: FinInZeroWindow,
    /// The least time between two ACKs sent in answer to segments without
    /// data that fail PAWS (RFC 7323 §5.3 R1 says only "send an
    /// acknowledgment"; duplicated or reordered ACKs would then keep an ACK
    /// loop going). 500 ms in both, Linux's `tcp_invalid_ratelimit`
    /// (`tcp_oow_rate_limited`, which exempts data segments).
    pub invalid_ack_interval: Duration,
    /// When unanswered zero-window probes give up: `rfc`
    /// [`PersistGiveUp::LikeData`], `linux` [`PersistGiveUp::Probes`].
    pub persist_give_up: PersistGiveUp,
    /// The kernel's timer tick (HZ = 250: 4 ms). With [`AckOfFin::Delayed`],
    /// a FIN that arrives before any data is acknowledged at the next tick
    /// (the kernel's `ato` is still 0), not after `delayed_ack`: captured
    /// 0.0–4.6 ms after the FIN (`tests/data/linux/fin_ack_delay.trace`),
    /// against 40–44 ms once data was received
    /// (`data_fin_ack_delay.trace`). Ticks are counted from
    /// [`Config::tick_clock_at_zero`]. With [`TimerWheel::Linux`], the unit of
    /// every timer.
    pub kernel_tick: Duration,
    /// When the TCP's timers fire: `rfc` [`TimerWheel::Exact`], `linux`
    /// [`TimerWheel::Linux`] (the kernel's 1 s SYN timeouts fire 1.024 s
    /// apart and its 16 s one after 16.128 s,
    /// `tests/data/linux/syn_lost_all.trace`). Ticks are counted from
    /// [`Config::tick_clock_at_zero`].
    pub timer_wheel: TimerWheel,
    /// Where time zero falls on the kernel's tick clock, as a span of it:
    /// the jiffy count at time zero times [`Config::kernel_tick`], plus how
    /// far into that jiffy time zero is. It places the ticks and, with
    /// [`TimerWheel::Linux`], the wheel's buckets: 0 in both profiles. A
    /// capture of the kernel has its own
    /// (`tests/data/linux/synack_lost_first.trace` is reproduced with
    /// 22.22 ms: jiffy 5, 2.22 ms into it), and `tcpsim kernel` starts its
    /// kernel runs on a jiffy equal to this one modulo 512.
    pub tick_clock_at_zero: Duration,
    /// The window of SYN and SYN-ACK, which is then the receive window:
    /// `rfc` [`InitialWindow::Exact`], `linux` [`InitialWindow::MssMultiple`]
    /// (64240 in a SYN, 65160 in a SYN-ACK with timestamps; afterwards the
    /// kernel announces 63 and 64 at shift 10, `tests/data/linux/normal.trace`).
    pub initial_window: InitialWindow,
    /// The size of the send buffer, in octets counted as Linux counts
    /// `sk_sndbuf` against `sk_wmem_queued`; `None` is unbounded (every
    /// [`crate::Connection::send`] takes all its data). `rfc` `None`: RFC
    /// 9293 §3.10.2 leaves it to the implementation whether a SEND that
    /// finds no room blocks or fails. `linux` [`LINUX_SEND_BUFFER`] =
    /// 46080, the size an established socket has on a kernel with the
    /// default `tcp_wmem` (see there).
    ///
    /// The model, Linux's (`tcp_sendmsg_locked`, `sk_stream_memory_free`,
    /// `sk_stream_write_space` in `net/core/stream.c`, `include/net/sock.h`):
    ///
    /// - Written octets are held in buffers (the kernel's `sk_buff`s) of
    ///   at most a *size goal*: the largest multiple of the MSS not above
    ///   half the largest window the peer has offered (nor 64 KiB), at
    ///   least one MSS (`tcp_xmit_size_goal`, `tcp_bound_to_half_wnd`).
    ///   A write fills the last buffer while none of it has been sent,
    ///   then starts new ones.
    /// - What is held *costs* its octets plus
    ///   [`Config::send_buffer_overhead`] per buffer, sent or not, until
    ///   acknowledged (`sk_wmem_queued`: the `truesize` of each buffer).
    /// - A write may start a new buffer only while the cost is below the
    ///   size; the buffer it starts then fills to the size goal even if that
    ///   takes the cost above the size. A write that finds no room takes
    ///   what it could and returns the count (which may be zero).
    /// - When a buffer fills while the write has more to give, what the
    ///   window allows is sent at once (`tcp_push_one`), so the buffer
    ///   splits where that transmission stops and the unsent rest can take
    ///   more of the write.
    /// - A transmission that stops inside a buffer splits it in two, and
    ///   the second part costs one more overhead (`tso_fragment`; a
    ///   retransmission of the first segment splits it after that segment,
    ///   `tcp_fragment`). tcpsim sends at most 10 segments per burst, which
    ///   it counts as one TSO packet per buffer.
    /// - An ACK frees every buffer it covers; the buffer it ends inside
    ///   only loses the acknowledged octets (`tcp_trim_head`).
    /// - After a write came up short, [`crate::Event::Writable`] comes once
    ///   an ACK (or a larger size) leaves the cost below the size with at
    ///   least half the cost free: `size − cost ≥ cost / 2`, so about a
    ///   third of the buffer (`sk_stream_wspace ≥ sk_stream_min_wspace`).
    ///
    /// The kernel selftest `tcp_blocking_blocking-write.pkt` by these rules
    /// (MSS 1000, peer window 50000 so a size goal of 25000,
    /// `SO_SNDBUF` 21000 so a size of 42000, overhead T):
    /// `write(61000)` fills buffer A (25000), whose first 10 segments go
    /// out at once: A splits into 1:10001 and 10001:25001, which takes
    /// 10000 more (to 35001); buffer B, begun at a cost of 2T + 35000 <
    /// 42000, takes 35001:60001; a third at 3T + 60000 ≥ 42000 must wait, so
    /// the write blocks with 60000 taken. After the kernel's slow start has
    /// sent up to 60001 in bursts of 10 segments, the buffers left after
    /// ACK 35001 are 35001:45001, 45001:55001 and 55001:60001: cost 3T +
    /// 25000, which wakes the writer only if 42000 − (3T + 25000) ≥ (3T +
    /// 25000) / 2, i.e. T ≤ 1000; after ACK 36001 the first is trimmed to
    /// 9000: 3T + 24000, which wakes it for T ≤ 1333. The script's "35001
    /// does not, 36001 does" holds for 1000 < T ≤ 1333 (the 1280 of a
    /// kmalloc-1024 head, before Linux 6.3); with this machine's T = 832 an
    /// ACK of 35001 would already wake it, which the script does not
    /// test: it sends 30001 (cost 4T + 30000, no wake) and then 36001.
    pub send_buffer: Option<u32>,
    /// What each buffer of the send buffer costs beyond its octets (see
    /// [`Config::send_buffer`]): Linux's `SKB_TRUESIZE` of an empty
    /// `sk_buff` with its `MAX_TCP_HEADER` head, the payload living in
    /// page fragments. `rfc` 0 (octets only); `linux`
    /// [`LINUX_SEND_BUFFER_OVERHEAD`] = 832, measured on this machine's
    /// 6.18 kernel.
    pub send_buffer_overhead: u32,
    /// The congestion controller: `rfc` [`CongestionAlgorithm::Reno`],
    /// `linux` [`CongestionAlgorithm::Cubic`].
    pub congestion_control: CongestionAlgorithm,
    /// The initial congestion window: `rfc` [`InitialCwnd::Rfc3390`]
    /// (three segments at an MSS of 1460), `linux`
    /// [`InitialCwnd::Segments`] (10, RFC 6928 and `TCP_INIT_CWND`; ten
    /// segments in the first flight of every capture in
    /// `tests/data/linux/`).
    pub initial_cwnd: InitialCwnd,
    /// Loss detection and recovery: `rfc` [`LossRecovery::NewReno`],
    /// `linux` [`LossRecovery::Rack`].
    pub loss_recovery: LossRecovery,
    /// The congestion window's units and growth rule: `rfc`
    /// [`CwndAccounting::Rfc5681`], `linux` [`CwndAccounting::Linux`].
    pub cwnd_accounting: CwndAccounting,
    /// Small segments and unacknowledged data: `rfc` [`Nagle::Rfc896`],
    /// `linux` [`Nagle::Minshall`].
    pub nagle: Nagle,
    /// How far the send buffer grows with the congestion window; `None`
    /// keeps [`Config::send_buffer`] as it is. Linux's `tcp_sndbuf_expand`:
    /// when an ACK frees room for a writer that came up short while cwnd
    /// is not full, the buffer becomes 2 × max(10, cwnd) ×
    /// [`LINUX_SEGMENT_MEMORY`] if that is larger, at most this (`tcp_wmem[2]`);
    /// not for a socket whose application set `SO_SNDBUF`. `rfc` `None`,
    /// `linux` [`LINUX_SEND_BUFFER_MAX`].
    pub send_buffer_max: Option<u32>,
    /// Whether a send of less than a burst waits for the next ACK, as
    /// Linux's `tcp_tso_should_defer` decides: outside recovery, when the
    /// data waiting is more than one segment, the last transmission was
    /// under 1 ms ago, the window allows less than the burst size (the
    /// pacing rate's 1 ms of data, at least 2 segments) and less than a
    /// third of the window, and the first outstanding segment was sent at
    /// least half an SRTT ago (`tests/data/linux/data_first_lost.trace`:
    /// the second SACK releases nothing). `rfc` `false`, `linux` `true`.
    pub tso_defer: bool,
}

/// Linux's initial congestion window in segments (`TCP_INIT_CWND`, RFC 6928).
pub const LINUX_INIT_CWND: u32 = 10;

/// The `linux` send buffer: what `tcp_sndbuf_expand` makes of the
/// buffer when the connection is established, 2 × max(10, cwnd) × the
/// memory of one full-size segment, with `tcp_wmem[1]` (16384 on a default
/// kernel) as the floor and `tcp_wmem[2]` (4 MiB) as the ceiling. The
/// memory of a segment is `roundup_pow_of_two(MSS + MAX_TCP_HEADER +
/// sizeof(skb_shared_info))` plus the `sk_buff`: 1460 + 192 + 320 rounds up
/// to 2048, and 2048 + 256 = 2304 for this machine's kernel, so 2 × 10 ×
/// 2304 = 46080 (the same for any MSS from 536 to 1536). Measured: an
/// established socket here reports `SO_SNDBUF` 46080 with CUBIC, the
/// upstream default the profile follows, and 69120 = 3 × 10 × 2304 under
/// this machine's default BBR (whose `sndbuf_expand` is 3)
/// (`tests/data/linux/send_buffer.txt`).
/// The buffer then grows with cwnd ([`Config::send_buffer_max`]).
pub const LINUX_SEND_BUFFER: u32 = 46_080;

/// What one full-size segment costs a Linux send buffer (see
/// [`LINUX_SEND_BUFFER`]): `roundup_pow_of_two(1460 + 192 + 320)` + 256.
pub const LINUX_SEGMENT_MEMORY: u32 = 2_304;

/// How far Linux grows a send buffer: `tcp_wmem[2]`, 4194304 here.
pub const LINUX_SEND_BUFFER_MAX: u32 = 4_194_304;

/// The `linux` overhead of one send buffer: `SKB_TRUESIZE` of an
/// `sk_buff` whose head holds only `MAX_TCP_HEADER`: 256 (the head from
/// the small-head cache, 576 less `skb_shared_info`) + 256 (`sk_buff`) +
/// 320 (`skb_shared_info`) = 832. Measured on this machine's 6.18 kernel
/// with `SO_MEMINFO`: each 1-octet write that starts a buffer raises
/// `sk_wmem_queued` by 833 (`tests/data/linux/send_buffer.txt`). Distribution
/// kernels with a larger `MAX_TCP_HEADER` (320) have 896; kernels before
/// 6.3, whose heads came from kmalloc-1024, 1280.
pub const LINUX_SEND_BUFFER_OVERHEAD: u32 = 832;

/// The most a send buffer holds in one buffer, whatever the window: the
/// kernel's `sk_gso_max_size` for IPv4 without BIG TCP
/// (`GSO_LEGACY_MAX_SIZE`).
pub const SEND_BUFFER_GOAL_MAX: u32 = 65_536;

/// Linux's quick-ACK budget at connection start (`TCP_MAX_QUICKACKS`).
pub const LINUX_QUICKACKS: u32 = 16;

/// The MSS assumed for a peer that sends no MSS option (RFC 9293 §3.7.1).
pub const DEFAULT_PEER_MSS: u16 = 536;

/// Linux's receive buffer of a new socket: `tcp_rmem[1]`, 131072 on this
/// machine (`/proc/sys/net/ipv4/tcp_rmem` = `4096 131072 33554432`).
pub const LINUX_RECV_BUFFER: u32 = 131_072;

/// How far Linux grows a receive buffer: `tcp_rmem[2]`, 33554432 here.
pub const LINUX_RECV_BUFFER_MAX: u32 = 33_554_432;

impl Config {
    /// The defaults of a profile.
    pub fn new(profile: Profile) -> Config {
        match profile {
            Profile::Rfc => Config::rfc(),
            Profile::Linux => Config::linux(),
        }
    }

    /// RFC 9293 / RFC 6298 / RFC 1122 defaults.
    pub fn rfc() -> Config {
        let msl = Duration::from_secs(120);
        Config {
            profile: Profile::Rfc,
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_secs(1),
            max_rto: Duration::from_secs(60),
            clock_granularity: Duration::from_millis(1),
            syn_retries: None,
            syn_linear_timeouts: 0,
            synack_retries: None,
            syn_timeout: Duration::from_secs(180),
            data_retries: None,
            data_timeout: Duration::from_secs(100),
            fin_retries: None,
            msl,
            time_wait: msl.saturating_mul(2),
            fin_wait_2_timeout: None,
            user_timeout: None,
            mss: 1460,
            recv_window: None,
            recv_buffer: 65535,
            recv_buffer_locked: false,
            recv_buffer_max: 65535,
            recv_memory: RecvMemory::Octets,
            shrink_window: false,
            delayed_ack: Duration::from_millis(200),
            isn: IsnMode::Clock,
            isn_clock: Duration::from_micros(4),
            rst_in_time_wait: RstInTimeWait::Close,
            time_wait_segments: TimeWaitSegments::Rfc9293,
            rto_formula: RtoFormula::Rfc6298,
            retransmission_rtt: RetransmissionRtt::Karn,
            abort_reset: AbortReset::Rst,
            duplicate_syn: DuplicateSyn::Ack,
            half_open_rst_syn: HalfOpenRstSyn::Rfc9293,
            simultaneous_synack: SimultaneousSynAck::Rfc9293,
            ack_of_fin: AckOfFin::Now,
            quickacks: 0,
            syn_retry_count: SynRetryCount::IncludesLinear,
            data_retry_model: RetryModel::Count,
            window_scale: None,
            sack: false,
            timestamps: false,
            ts_clock: Duration::from_millis(1),
            window_rounding: WindowRounding::Down,
            rttm: true,
            ack_above_snd_nxt: AckAboveSndNxt::Ack,
            ts_recent_update: TsRecentUpdate::Rfc7323,
            fin_sack: FinSack::Rfc2883,
            push: Push::Rfc1122,
            fin_in_zero_window: FinInZeroWindow::Drop,
            kernel_tick: Duration::from_millis(4),
            timer_wheel: TimerWheel::Exact,
            tick_clock_at_zero: Duration::ZERO,
            persist_give_up: PersistGiveUp::LikeData,
            invalid_ack_interval: Duration::from_millis(500),
            initial_window: InitialWindow::Exact,
            send_buffer: None,
            send_buffer_overhead: 0,
            congestion_control: CongestionAlgorithm::Reno,
            initial_cwnd: InitialCwnd::Rfc3390,
            loss_recovery: LossRecovery::NewReno,
            cwnd_accounting: CwndAccounting::Rfc5681,
            nagle: Nagle::Rfc896,
            send_buffer_max: None,
            tso_defer: false,
        }
    }

    /// Linux ≥ 6.5 defaults.
    pub fn linux() -> Config {
        Config {
            profile: Profile::Linux,
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(120),
            clock_granularity: Duration::from_millis(1),
            syn_retries: Some(6),
            syn_linear_timeouts: 4,
            synack_retries: Some(5),
            syn_timeout: Duration::from_secs(180),
            data_retries: Some(15),
            data_timeout: Duration::from_secs(100),
            fin_retries: Some(8),
            msl: Duration::from_secs(60),
            time_wait: Duration::from_secs(60),
            fin_wait_2_timeout: Some(Duration::from_secs(60)),
            user_timeout: None,
            mss: 1460,
            recv_window: None,
            recv_buffer: LINUX_RECV_BUFFER,
            recv_buffer_locked: false,
            recv_buffer_max: LINUX_RECV_BUFFER_MAX,
            recv_memory: RecvMemory::Linux,
            shrink_window: false,
            delayed_ack: Duration::from_millis(40),
            isn: IsnMode::Clock,
            isn_clock: Duration::from_nanos(64),
            rst_in_time_wait: RstInTimeWait::Close,
            time_wait_segments: TimeWaitSegments::Linux,
            rto_formula: RtoFormula::Linux,
            retransmission_rtt: RetransmissionRtt::Sample,
            abort_reset: AbortReset::RstAck,
            duplicate_syn: DuplicateSyn::SynAck,
            half_open_rst_syn: HalfOpenRstSyn::Linux,
            simultaneous_synack: SimultaneousSynAck::Linux,
            ack_of_fin: AckOfFin::Delayed,
            quickacks: LINUX_QUICKACKS,
            syn_retry_count: SynRetryCount::PlusLinear,
            data_retry_model: RetryModel::LinuxTimeout,
            window_scale: Some(10),
            sack: true,
            timestamps: true,
            ts_clock: Duration::from_millis(1),
            window_rounding: WindowRounding::Up,
            rttm: false,
            ack_above_snd_nxt: AckAboveSndNxt::Drop,
            ts_recent_update: TsRecentUpdate::Linux,
            fin_sack: FinSack::Linux,
            push: Push::Linux,
            fin_in_zero_window: FinInZeroWindow::Accept,
            kernel_tick: Duration::from_millis(4),
            timer_wheel: TimerWheel::Linux,
            tick_clock_at_zero: Duration::ZERO,
            persist_give_up: PersistGiveUp::Probes,
            invalid_ack_interval: Duration::from_millis(500),
            initial_window: InitialWindow::MssMultiple,
            send_buffer: Some(LINUX_SEND_BUFFER),
            send_buffer_overhead: LINUX_SEND_BUFFER_OVERHEAD,
            congestion_control: CongestionAlgorithm::Cubic,
            initial_cwnd: InitialCwnd::Segments(LINUX_INIT_CWND),
            loss_recovery: LossRecovery::Rack,
            cwnd_accounting: CwndAccounting::Linux,
            nagle: Nagle::Minshall,
            send_buffer_max: Some(LINUX_SEND_BUFFER_MAX),
            tso_defer: true,
        }
    }

    /// The octets the receive buffer holds under [`RecvMemory::Octets`]
    /// (and with a fixed [`Config::recv_window`] under either): the fixed
    /// window, else [`Config::recv_buffer`].
    pub fn octet_buffer(&self) -> u32 {
        self.recv_window.map_or(self.recv_buffer, u32::from)
    }

    /// When a SYN stops being retransmitted.
    pub fn syn_limit(&self) -> RetryLimit {
        match (self.syn_retry_count, self.syn_retries) {
            // Linux counts the linear retransmissions on top of tcp_syn_retries
            // (tcp_write_timeout: max_retransmits = syn_retries + linear).
            (SynRetryCount::PlusLinear, Some(n)) => {
                RetryLimit::Retries(n + self.syn_linear_timeouts)
            }
            (SynRetryCount::IncludesLinear, Some(n)) => RetryLimit::Retries(n),
            (_, None) => RetryLimit::Elapsed(self.syn_timeout),
        }
    }

    /// When a SYN-ACK stops being retransmitted.
    pub fn synack_limit(&self) -> RetryLimit {
        match self.synack_retries {
            Some(n) => RetryLimit::Retries(n),
            None => RetryLimit::Elapsed(self.syn_timeout),
        }
    }

    /// When data or a FIN stops being retransmitted; `orphan` when the
    /// application has released the socket.
    pub fn data_limit(&self, orphan: bool) -> RetryLimit {
        let retries = if orphan {
            self.fin_retries.or(self.data_retries)
        } else {
            self.data_retries
        };
        match (self.data_retry_model, retries) {
            (RetryModel::LinuxTimeout, Some(n)) => RetryLimit::Elapsed(linux_model_timeout(
                n,
                Duration::from_millis(200),
                self.max_rto,
            )),
            (RetryModel::Count, Some(n)) => RetryLimit::Retries(n),
            (_, None) => RetryLimit::Elapsed(self.data_timeout),
        }
    }
}

impl Default for Config {
    /// The `rfc` profile.
    fn default() -> Config {
        Config::rfc()
    }
}

/// The time Linux allows for `boundary` retransmissions that start at
/// `rto_base` and double up to `rto_max` (`tcp_model_timeout` in
/// `net/ipv4/tcp_timer.c`): doubling until the RTO would pass `rto_max`,
/// then `rto_max` per further retry.
pub fn linux_model_timeout(boundary: u32, rto_base: Duration, rto_max: Duration) -> Duration {
    let base = rto_base.as_nanos().max(1);
    let thresh = (rto_max.as_nanos() / base).max(1).ilog2();
    if boundary <= thresh {
        rto_base.saturating_mul((2u64 << boundary) - 1)
    } else {
        rto_base
            .saturating_mul((2u64 << thresh) - 1)
            .saturating_add(rto_max.saturating_mul(u64::from(boundary - thresh)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_data_give_up_is_924_6_s() {
        // tcp_retries2 = 15, base 200 ms, max 120 s: ilog2(120 / 0.2) = ilog2(600) = 9;
        // (2^10 - 1) × 0.2 s + (15 - 9) × 120 s = 204.6 s + 720 s = 924.6 s.
        let t = linux_model_timeout(15, Duration::from_millis(200), Duration::from_secs(120));
        assert_eq!(t, Duration::from_millis(924_600));
        assert_eq!(
            Config::linux().data_limit(false),
            RetryLimit::Elapsed(Duration::from_millis(924_600))
        );
    }

    #[test]
    fn linux_orphan_give_up_is_102_2_s() {
        // 8 <= 9: (2^9 - 1) × 0.2 s = 511 × 0.2 s = 102.2 s.
        assert_eq!(
            Config::linux().data_limit(true),
            RetryLimit::Elapsed(Duration::from_millis(102_200))
        );
    }

    #[test]
    fn syn_limits_per_profile() {
        assert_eq!(
            Config::rfc().syn_limit(),
            RetryLimit::Elapsed(Duration::from_secs(180))
        );
        // 6 retries + 4 linear = 10 retransmissions: SYNs at 0,1,2,3,4,5,7,11,19,35,67 s.
        assert_eq!(Config::linux().syn_limit(), RetryLimit::Retries(10));
        assert_eq!(Config::linux().synack_limit(), RetryLimit::Retries(5));
        assert_eq!(
            Config::rfc().data_limit(false),
            RetryLimit::Elapsed(Duration::from_secs(100))
        );
    }

    #[test]
    fn retry_style_follows_the_fields_not_the_profile() {
        // An rfc config with Linux's counting: 2 retries + 3 linear = 5.
        let mut rfc = Config::rfc();
        rfc.syn_retries = Some(2);
        rfc.syn_linear_timeouts = 3;
        assert_eq!(rfc.syn_limit(), RetryLimit::Retries(2));
        rfc.syn_retry_count = SynRetryCount::PlusLinear;
        assert_eq!(rfc.syn_limit(), RetryLimit::Retries(5));
        // 3 data retries on Linux's model, base 200 ms, max 60 s:
        // 3 <= ilog2(60 / 0.2 = 300) = 8, so (2^4 - 1) × 0.2 s = 3 s.
        rfc.data_retries = Some(3);
        assert_eq!(rfc.data_limit(false), RetryLimit::Retries(3));
        rfc.data_retry_model = RetryModel::LinuxTimeout;
        assert_eq!(
            rfc.data_limit(false),
            RetryLimit::Elapsed(Duration::from_secs(3))
        );
        // And a linux config counting plainly.
        let mut linux = Config::linux();
        linux.syn_retry_count = SynRetryCount::IncludesLinear;
        linux.data_retry_model = RetryModel::Count;
        assert_eq!(linux.syn_limit(), RetryLimit::Retries(6));
        assert_eq!(linux.data_limit(false), RetryLimit::Retries(15));
        assert_eq!(linux.data_limit(true), RetryLimit::Retries(8));
    }

    #[test]
    fn time_wait_is_two_msl_in_rfc() {
        assert_eq!(Config::rfc().time_wait, Duration::from_secs(240));
        assert_eq!(Config::linux().time_wait, Duration::from_secs(60));
    }
}

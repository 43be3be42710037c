//! `[tcp]` and a host's `tcp = { ... }`: overrides of the profile's TCP
//! parameters (tcpsim SPEC §3 and §5), layered profile → experiment → host.

use tcpsim_tcp::{
    AbortReset, AckAboveSndNxt, AckOfFin, Config, CongestionAlgorithm, CwndAccounting,
    DuplicateSyn, Duration, FinInZeroWindow, FinSack, HalfOpenRstSyn, InitialWindow, IsnMode,
    LossRecovery, Nagle, PersistGiveUp, Profile, Push, RecvMemory, RetransmissionRtt, RetryModel,
    RstInTimeWait, RtoFormula, SimultaneousSynAck, SynRetryCount, TimeWaitSegments, TimerWheel,
    TsRecentUpdate, WindowRounding,
};

use tcpsim_tcp::congestion::InitialCwnd;

use schemars::JsonSchema;

use super::leaf::{
    FinWait2, InitialWindowSegments, Isn, Mss, PositiveDuration, Quickacks, RecvBuffer, RecvWindow,
    Retries, SendBuffer, SendBufferMax, SendBufferOverhead, Time, UserTimeout, Val, WindowScale,
    opt,
};

/// Overrides of the TCP parameters; `None` keeps the value from the layer
/// below. Every key of `[tcp]` has a field of the same name, in the order
/// an unknown key's message lists them.
///
/// It deserializes from a `[tcp]` table with the experiment file's checks
/// (each key's type and range, no unknown keys); the file's errors are
/// worded and placed by the experiment parser's own deserializer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(
    description = "`[tcp]` (every host) or a host's `tcp` (that host): overrides of the \
    profile's TCP parameters, each taken from the host's `tcp`, else from `[tcp]`, else from the \
    profile. Where a key's default depends on the profile, docs/experiment-file.md lists both."
)]
pub struct TcpOverrides {
    /// `initial_rto`: RTO before any RTT sample (longer than zero).
    #[serde(default, deserialize_with = "opt::<PositiveDuration, _>")]
    #[schemars(with = "Option<Val<PositiveDuration>>", extend("default" = "1s"))]
    pub initial_rto: Option<Duration>,
    /// `min_rto`: the RTO's lower bound (`rfc`) or variance floor (`linux`).
    #[serde(default, deserialize_with = "opt::<Duration, _>")]
    #[schemars(with = "Option<Val<Duration>>")]
    pub min_rto: Option<Duration>,
    /// `max_rto`: the RTO's upper bound (longer than zero).
    #[serde(default, deserialize_with = "opt::<PositiveDuration, _>")]
    #[schemars(with = "Option<Val<PositiveDuration>>")]
    pub max_rto: Option<Duration>,
    /// `syn_retries`: SYN retransmissions before giving up (0–255).
    #[serde(default, deserialize_with = "opt::<Retries, _>")]
    #[schemars(with = "Option<Val<Retries>>")]
    pub syn_retries: Option<u32>,
    /// `synack_retries`: SYN-ACK retransmissions before giving up (0–255).
    #[serde(default, deserialize_with = "opt::<Retries, _>")]
    #[schemars(with = "Option<Val<Retries>>")]
    pub synack_retries: Option<u32>,
    /// `syn_linear_timeouts`: SYN retransmissions at the initial RTO before
    /// backing off (0–255).
    #[serde(default, deserialize_with = "opt::<Retries, _>")]
    #[schemars(with = "Option<Val<Retries>>")]
    pub syn_linear_timeouts: Option<u32>,
    /// `fin_retries`: retransmissions for a released socket (0–255).
    #[serde(default, deserialize_with = "opt::<Retries, _>")]
    #[schemars(with = "Option<Val<Retries>>")]
    pub fin_retries: Option<u32>,
    /// `data_retries`: data and FIN retransmissions before giving up (0–255).
    #[serde(default, deserialize_with = "opt::<Retries, _>")]
    #[schemars(with = "Option<Val<Retries>>")]
    pub data_retries: Option<u32>,
    /// `msl`: maximum segment lifetime.
    #[serde(default, deserialize_with = "opt::<Duration, _>")]
    #[schemars(with = "Option<Val<Duration>>")]
    pub msl: Option<Duration>,
    /// `time_wait`: how long TIME-WAIT lasts.
    #[serde(default, deserialize_with = "opt::<Duration, _>")]
    #[schemars(with = "Option<Val<Duration>>")]
    pub time_wait: Option<Duration>,
    /// `fin_wait_2_timeout`: a duration, or `"none"` for no limit (`Some(None)`).
    #[serde(default, deserialize_with = "opt::<FinWait2, _>")]
    #[schemars(with = "Option<Val<FinWait2>>")]
    pub fin_wait_2_timeout: Option<Option<Duration>>,
    /// `mss`: the MSS announced and used, 1–65495 (65535 less the IPv4 and
    /// TCP headers).
    #[serde(default, deserialize_with = "opt::<Mss, _>")]
    #[schemars(with = "Option<Val<Mss>>", extend("default" = 1460))]
    pub mss: Option<u16>,
    /// `recv_window`: a fixed receive window, 1–65535: the buffer holds
    /// that many octets, announced as the window less what is unread,
    /// instead of following `recv_buffer` (unset in both profiles).
    #[serde(default, deserialize_with = "opt::<RecvWindow, _>")]
    #[schemars(with = "Option<Val<RecvWindow>>")]
    pub recv_window: Option<u16>,
    /// `recv_buffer`: a receive buffer the application fixed, in bytes
    /// (1–2147483647), as `SO_RCVBUF` leaves it (the value
    /// `getsockopt(SO_RCVBUF)` reports): the window-scale shift offered
    /// follows it. Counted as `recv_memory` says.
    #[serde(default, deserialize_with = "opt::<RecvBuffer, _>")]
    #[schemars(with = "Option<Val<RecvBuffer>>")]
    pub recv_buffer: Option<u32>,
    /// `recv_buffer_max`: how far a buffer the application did not fix may
    /// grow, in bytes (Linux `tcp_rmem[2]`; `linux` 33554432).
    #[serde(default, deserialize_with = "opt::<RecvBuffer, _>")]
    #[schemars(with = "Option<Val<RecvBuffer>>")]
    pub recv_buffer_max: Option<u32>,
    /// `recv_memory`: how the receive buffer is counted, `"octets"` (data
    /// octets, RFC 9293 §3.8.6; `rfc`) or `"linux"` (the kernel's memory
    /// accounting and window selection; `linux`).
    #[serde(default, deserialize_with = "opt::<RecvMemory, _>")]
    #[schemars(with = "Option<Val<RecvMemory>>")]
    pub recv_memory: Option<RecvMemory>,
    /// `shrink_window`: with `recv_memory = "linux"` and window scaling,
    /// let the window shrink as the memory fills (Linux
    /// `tcp_shrink_window`), `true` or `false` (both profiles `false`).
    #[serde(default, deserialize_with = "opt::<bool, _>")]
    #[schemars(with = "Option<Val<bool>>", extend("default" = false))]
    pub shrink_window: Option<bool>,
    /// `delayed_ack`: longest delay of an ACK; `"0s"` acknowledges at once.
    #[serde(default, deserialize_with = "opt::<Duration, _>")]
    #[schemars(with = "Option<Val<Duration>>")]
    pub delayed_ack: Option<Duration>,
    /// `isn`: `"clock"` (clock-driven, RFC 9293 §3.4.1; both profiles),
    /// `"random"` or a fixed initial sequence number (0–4294967295).
    #[serde(default, deserialize_with = "opt::<Isn, _>")]
    #[schemars(with = "Option<Val<Isn>>", extend("default" = "clock"))]
    pub isn: Option<IsnMode>,
    /// `isn_clock`: the tick of the clock-driven ISN (longer than zero):
    /// `rfc` 4 µs, `linux` 64 ns.
    #[serde(default, deserialize_with = "opt::<PositiveDuration, _>")]
    #[schemars(with = "Option<Val<PositiveDuration>>")]
    pub isn_clock: Option<Duration>,
    /// `rst_in_time_wait`: `"close"` or `"ignore"`.
    #[serde(default, deserialize_with = "opt::<RstInTimeWait, _>")]
    #[schemars(with = "Option<Val<RstInTimeWait>>", extend("default" = "close"))]
    pub rst_in_time_wait: Option<RstInTimeWait>,
    /// `rto_formula`: `"rfc6298"` (RTO = max(min_rto, SRTT + max(G,
    /// 4·RTTVAR)), RFC 6298 §2; `rfc` default) or `"linux"` (SRTT +
    /// max(min_rto, 4·RTTVAR), `__tcp_set_rto`; `linux` default).
    #[serde(default, deserialize_with = "opt::<RtoFormula, _>")]
    #[schemars(with = "Option<Val<RtoFormula>>")]
    pub rto_formula: Option<RtoFormula>,
    /// `retransmission_rtt`: `"karn"` (retransmissions are not timed, RFC
    /// 6298 §3; `rfc`) or `"sample"` (they are, as Linux does through
    /// timestamps; `linux`).
    #[serde(default, deserialize_with = "opt::<RetransmissionRtt, _>")]
    #[schemars(with = "Option<Val<RetransmissionRtt>>")]
    pub retransmission_rtt: Option<RetransmissionRtt>,
    /// `abort_reset`: what an abort sends, `"rst"` (RFC 9293 §3.10.5;
    /// `rfc`) or `"rst-ack"` (`tcp_send_active_reset`; `linux`).
    #[serde(default, deserialize_with = "opt::<AbortReset, _>")]
    #[schemars(with = "Option<Val<AbortReset>>")]
    pub abort_reset: Option<AbortReset>,
    /// `duplicate_syn`: the reply to a duplicate SYN in SYN-RECEIVED,
    /// `"ack"` (RFC 9293 §3.10.7.4; `rfc`) or `"syn-ack"` (the SYN-ACK
    /// again, Linux `tcp_check_req`; `linux`).
    #[serde(default, deserialize_with = "opt::<DuplicateSyn, _>")]
    #[schemars(with = "Option<Val<DuplicateSyn>>")]
    pub duplicate_syn: Option<DuplicateSyn>,
    /// `ack_of_fin`: how soon a FIN that starts the passive close is
    /// acknowledged, `"now"` (RFC 9293 §3.10.7.4; `rfc`) or `"delayed"`
    /// (Linux `tcp_fin`, three-segment close; `linux`).
    #[serde(default, deserialize_with = "opt::<AckOfFin, _>")]
    #[schemars(with = "Option<Val<AckOfFin>>")]
    pub ack_of_fin: Option<AckOfFin>,
    /// `quickacks`: data segments acknowledged at once at the start of a
    /// connection (0–255): `rfc` 0, `linux` 16 (`TCP_MAX_QUICKACKS`).
    #[serde(default, deserialize_with = "opt::<Quickacks, _>")]
    #[schemars(with = "Option<Val<Quickacks>>")]
    pub quickacks: Option<u32>,
    /// `syn_retry_count`: `"includes-linear"` (`syn_retries` counts every
    /// SYN retransmission; `rfc`) or `"plus-linear"` (the
    /// `syn_linear_timeouts` come on top, `tcp_write_timeout`; `linux`).
    #[serde(default, deserialize_with = "opt::<SynRetryCount, _>")]
    #[schemars(with = "Option<Val<SynRetryCount>>")]
    pub syn_retry_count: Option<SynRetryCount>,
    /// `data_retry_model`: how `data_retries` and `fin_retries` give up,
    /// `"count"` (after that many retransmissions; `rfc`) or
    /// `"linux-timeout"` (after the time Linux's `tcp_model_timeout` allows
    /// them; `linux`).
    #[serde(default, deserialize_with = "opt::<RetryModel, _>")]
    #[schemars(with = "Option<Val<RetryModel>>")]
    pub data_retry_model: Option<RetryModel>,
    /// `window_scale`: the window-scale shift offered in SYN and SYN-ACK,
    /// 0–14 (RFC 7323 §2.3), or `"none"` to offer no window scaling
    /// (`Some(None)`): `rfc` `"none"`, `linux` 10.
    #[serde(default, deserialize_with = "opt::<WindowScale, _>")]
    #[schemars(with = "Option<Val<WindowScale>>")]
    pub window_scale: Option<Option<u8>>,
    /// `sack`: offer and use SACK (RFC 2018), `true` or `false`:
    /// `rfc` `false`, `linux` `true`.
    #[serde(default, deserialize_with = "opt::<bool, _>")]
    #[schemars(with = "Option<Val<bool>>")]
    pub sack: Option<bool>,
    /// `timestamps`: offer and use timestamps (RFC 7323 §3–5), `true` or
    /// `false`: `rfc` `false`, `linux` `true`.
    #[serde(default, deserialize_with = "opt::<bool, _>")]
    #[schemars(with = "Option<Val<bool>>")]
    pub timestamps: Option<bool>,
    /// `ts_clock`: the tick of the timestamp clock (longer than zero): 1 ms
    /// in both profiles.
    #[serde(default, deserialize_with = "opt::<PositiveDuration, _>")]
    #[schemars(with = "Option<Val<PositiveDuration>>", extend("default" = "1ms"))]
    pub ts_clock: Option<Duration>,
    /// `window_rounding`: how a scaled window is rounded, `"down"` (RFC
    /// 7323 §2.3; `rfc`) or `"up"` (Linux `tcp_select_window`; `linux`).
    #[serde(default, deserialize_with = "opt::<WindowRounding, _>")]
    #[schemars(with = "Option<Val<WindowRounding>>")]
    pub window_rounding: Option<WindowRounding>,
    /// `rttm`: RTT samples from the timestamp echo on every ACK that
    /// advances SND.UNA (RFC 7323 §4.1), `true` (`rfc`) or `false` (`linux`).
    #[serde(default, deserialize_with = "opt::<bool, _>")]
    #[schemars(with = "Option<Val<bool>>")]
    pub rttm: Option<bool>,
    /// `initial_window`: the window of SYN and SYN-ACK, `"exact"`
    /// (`recv_window`; `rfc`) or `"mss-multiple"` (rounded
    /// down to a multiple of the payload size, Linux
    /// `tcp_select_initial_window`).
    #[serde(default, deserialize_with = "opt::<InitialWindow, _>")]
    #[schemars(with = "Option<Val<InitialWindow>>")]
    pub initial_window: Option<InitialWindow>,
    /// `ack_above_snd_nxt`: `"ack"` (RFC 9293 §3.10.7.4; `rfc`) or `"drop"`
    /// (silently, Linux `tcp_ack`; `linux`).
    #[serde(default, deserialize_with = "opt::<AckAboveSndNxt, _>")]
    #[schemars(with = "Option<Val<AckAboveSndNxt>>")]
    pub ack_above_snd_nxt: Option<AckAboveSndNxt>,
    /// `fin_in_zero_window`: a bare FIN into a zero window, `"drop"` (`rfc`)
    /// or `"accept"` (Linux `tcp_data_queue`; `linux`).
    #[serde(default, deserialize_with = "opt::<FinInZeroWindow, _>")]
    #[schemars(with = "Option<Val<FinInZeroWindow>>")]
    pub fin_in_zero_window: Option<FinInZeroWindow>,
    /// `kernel_tick`: the kernel timer tick (longer than zero) at which
    /// `ack_of_fin = "delayed"` acknowledges a FIN that came before any
    /// data: 4 ms.
    #[serde(default, deserialize_with = "opt::<PositiveDuration, _>")]
    #[schemars(with = "Option<Val<PositiveDuration>>", extend("default" = "4ms"))]
    pub kernel_tick: Option<Duration>,
    /// `timer_wheel`: when timers fire, `"exact"` (after exactly their
    /// delay; `rfc`) or `"linux"` (the delay in whole `kernel_tick`s, then
    /// at the next boundary of a bucket of the kernel's timer wheel, up to
    /// 12.7 % (8/63) later; `linux`).
    #[serde(default, deserialize_with = "opt::<TimerWheel, _>")]
    #[schemars(with = "Option<Val<TimerWheel>>")]
    pub timer_wheel: Option<TimerWheel>,
    /// `tick_clock_at_zero`: where time zero falls on the kernel's tick
    /// clock (a duration: the jiffy count times `kernel_tick`, plus how far
    /// into that jiffy), which places the ticks and the timer wheel's
    /// buckets: 0.
    #[serde(default, deserialize_with = "opt::<Time, _>")]
    #[schemars(with = "Option<Val<Time>>", extend("default" = "0s"))]
    pub tick_clock_at_zero: Option<Duration>,
    /// `invalid_ack_interval`: the least time (longer than zero) between
    /// two answers to data-less segments that fail PAWS: 500 ms.
    #[serde(default, deserialize_with = "opt::<PositiveDuration, _>")]
    #[schemars(with = "Option<Val<PositiveDuration>>", extend("default" = "500ms"))]
    pub invalid_ack_interval: Option<Duration>,
    /// `persist_give_up`: when unanswered zero-window probes give up,
    /// `"like-data"` (by the data rule; `rfc`) or `"probes"` (after
    /// `data_retries` probes, counted; Linux `tcp_probe_timer`; `linux`).
    #[serde(default, deserialize_with = "opt::<PersistGiveUp, _>")]
    #[schemars(with = "Option<Val<PersistGiveUp>>")]
    pub persist_give_up: Option<PersistGiveUp>,
    /// `half_open_rst_syn`: a RST or a new SYN in the window of a passive
    /// open's SYN-RECEIVED, `"rfc9293"` (a RST at RCV.NXT deletes the
    /// half-open connection, one elsewhere in the window gets a challenge
    /// ACK, a SYN deletes it silently; `rfc`) or `"linux"` (any RST in the
    /// window deletes it silently, a SYN is answered with RST and deletes
    /// it; `tcp_check_req`; `linux`).
    #[serde(default, deserialize_with = "opt::<HalfOpenRstSyn, _>")]
    #[schemars(with = "Option<Val<HalfOpenRstSyn>>")]
    pub half_open_rst_syn: Option<HalfOpenRstSyn>,
    /// `simultaneous_synack`: the peer's SYN-ACK in a simultaneous open's
    /// SYN-RECEIVED, `"rfc9293"` (it completes the open, nothing more;
    /// `rfc`) or `"linux"` (also acknowledged at once with a D-SACK of its
    /// SYN, and our SYN-ACK keeps our SYN's window; `linux`).
    #[serde(default, deserialize_with = "opt::<SimultaneousSynAck, _>")]
    #[schemars(with = "Option<Val<SimultaneousSynAck>>")]
    pub simultaneous_synack: Option<SimultaneousSynAck>,
    /// `time_wait_segments`: which segments TIME-WAIT answers and which
    /// restart its timer, `"rfc9293"` (a retransmitted FIN restarts it, a
    /// RST in the window but not at RCV.NXT gets a challenge ACK; `rfc`)
    /// or `"linux"` (a bare segment at RCV.NXT and every ACK restart it, a
    /// RST not at RCV.NXT is dropped; `tcp_timewait_state_process`;
    /// `linux`).
    #[serde(default, deserialize_with = "opt::<TimeWaitSegments, _>")]
    #[schemars(with = "Option<Val<TimeWaitSegments>>")]
    pub time_wait_segments: Option<TimeWaitSegments>,
    /// `ts_recent_update`: when an arriving TSval becomes TS.Recent,
    /// `"rfc7323"` (right after the sequence-number check, RFC 7323 §5.3
    /// R3; `rfc`) or `"linux"` (only once the ACK is acceptable, SND.UNA =<
    /// SEG.ACK =< SND.NXT; `tcp_ack`; `linux`).
    #[serde(default, deserialize_with = "opt::<TsRecentUpdate, _>")]
    #[schemars(with = "Option<Val<TsRecentUpdate>>")]
    pub ts_recent_update: Option<TsRecentUpdate>,
    /// `fin_sack`: what taking the peer's FIN does to the SACK state,
    /// `"rfc2883"` (nothing: a segment repeating data with a new FIN gets
    /// a D-SACK and an ACK at once; `rfc`) or `"linux"` (SACK blocks and a
    /// pending D-SACK are cleared, and such a segment is acknowledged as
    /// its FIN is; `tcp_fin`, `tcp_sack_reset`; `linux`).
    #[serde(default, deserialize_with = "opt::<FinSack, _>")]
    #[schemars(with = "Option<Val<FinSack>>")]
    pub fin_sack: Option<FinSack>,
    /// `push`: which new data segments carry PSH, `"rfc1122"` (the one that
    /// empties the send buffer, RFC 1122 §4.2.2.2; `rfc`) or `"linux"`
    /// (also the last of each transmission burst, as packetdrill sees
    /// Linux; `linux`).
    #[serde(default, deserialize_with = "opt::<Push, _>")]
    #[schemars(with = "Option<Val<Push>>")]
    pub push: Option<Push>,
    /// `user_timeout`: `TCP_USER_TIMEOUT`, a duration, or `"none"` (the
    /// default) for no limit (`Some(None)`).
    #[serde(default, deserialize_with = "opt::<UserTimeout, _>")]
    #[schemars(with = "Option<Val<UserTimeout>>", extend("default" = "none"))]
    pub user_timeout: Option<Option<Duration>>,
    /// `send_buffer`: the size of the send buffer in octets, counted as
    /// Linux counts `sk_sndbuf` (each buffer's octets plus
    /// `send_buffer_overhead`), 1–2147483647, or `"unbounded"`
    /// (`Some(None)`): `rfc` `"unbounded"`, `linux` 46080 (`tcp_sndbuf_expand`
    /// at ESTABLISHED). A write takes what fits and the application writes
    /// the rest as room frees.
    #[serde(default, deserialize_with = "opt::<SendBuffer, _>")]
    #[schemars(with = "Option<Val<SendBuffer>>")]
    pub send_buffer: Option<Option<u32>>,
    /// `send_buffer_overhead`: what each buffer costs beyond its octets
    /// (the kernel's `skb` truesize), 0–65535: `rfc` 0, `linux` 832.
    #[serde(default, deserialize_with = "opt::<SendBufferOverhead, _>")]
    #[schemars(with = "Option<Val<SendBufferOverhead>>")]
    pub send_buffer_overhead: Option<u32>,
    /// `congestion_control`: `"reno"` (RFC 5681; `rfc`) or `"cubic"` (RFC
    /// 9438; `linux`).
    #[serde(default, deserialize_with = "opt::<CongestionAlgorithm, _>")]
    #[schemars(with = "Option<Val<CongestionAlgorithm>>")]
    pub congestion_control: Option<CongestionAlgorithm>,
    /// `initial_cwnd`: `"rfc3390"` (min(4·MSS, max(2·MSS, 4380)); `rfc`)
    /// or a number of segments, 1–1000 (`linux` 10, RFC 6928).
    #[serde(default, deserialize_with = "opt::<InitialWindowSegments, _>")]
    #[schemars(with = "Option<Val<InitialWindowSegments>>")]
    pub initial_cwnd: Option<InitialCwnd>,
    /// `loss_recovery`: `"newreno"` (duplicate ACKs, RFC 5681/6582/3042,
    /// with SACK RFC 6675; `rfc`) or `"rack"` (RACK-TLP, RFC 8985, with PRR,
    /// RFC 6937; `linux`).
    #[serde(default, deserialize_with = "opt::<LossRecovery, _>")]
    #[schemars(with = "Option<Val<LossRecovery>>")]
    pub loss_recovery: Option<LossRecovery>,
    /// `cwnd_accounting`: `"rfc5681"` (octets, FlightSize; `rfc`) or
    /// `"linux"` (segments in flight, growth only while cwnd-limited;
    /// `linux`).
    #[serde(default, deserialize_with = "opt::<CwndAccounting, _>")]
    #[schemars(with = "Option<Val<CwndAccounting>>")]
    pub cwnd_accounting: Option<CwndAccounting>,
    /// `nagle`: `"rfc896"` (a segment smaller than the MSS waits while
    /// data is unacknowledged, RFC 1122 §4.2.3.4; `rfc`), `"minshall"`
    /// (only while a small segment is unacknowledged; `linux`) or `"off"`
    /// (`TCP_NODELAY`).
    #[serde(default, deserialize_with = "opt::<Nagle, _>")]
    #[schemars(with = "Option<Val<Nagle>>")]
    pub nagle: Option<Nagle>,
    /// `send_buffer_max`: how far the send buffer grows with cwnd (Linux
    /// `tcp_sndbuf_expand`: 2 × max(10, cwnd) × 2304 octets), 1–2147483647,
    /// or `"fixed"` (`Some(None)`): `rfc` `"fixed"`, `linux` 4194304.
    #[serde(default, deserialize_with = "opt::<SendBufferMax, _>")]
    #[schemars(with = "Option<Val<SendBufferMax>>")]
    pub send_buffer_max: Option<Option<u32>>,
    /// `tso_defer`: whether a send of less than a burst waits for the next
    /// ACK as Linux's `tcp_tso_should_defer` decides (`rfc` false, `linux`
    /// true).
    #[serde(default, deserialize_with = "opt::<bool, _>")]
    #[schemars(with = "Option<Val<bool>>")]
    pub tso_defer: Option<bool>,
}

impl TcpOverrides {
    /// `self` laid over `below`: each field of `self` that is set wins.
    pub fn over(&self, below: &TcpOverrides) -> TcpOverrides {
        TcpOverrides {
            initial_rto: self.initial_rto.or(below.initial_rto),
            min_rto: self.min_rto.or(below.min_rto),
            max_rto: self.max_rto.or(below.max_rto),
            syn_retries: self.syn_retries.or(below.syn_retries),
            synack_retries: self.synack_retries.or(below.synack_retries),
            syn_linear_timeouts: self.syn_linear_timeouts.or(below.syn_linear_timeouts),
            fin_retries: self.fin_retries.or(below.fin_retries),
            data_retries: self.data_retries.or(below.data_retries),
            msl: self.msl.or(below.msl),
            time_wait: self.time_wait.or(below.time_wait),
            fin_wait_2_timeout: self.fin_wait_2_timeout.or(below.fin_wait_2_timeout),
            user_timeout: self.user_timeout.or(below.user_timeout),
            mss: self.mss.or(below.mss),
            recv_window: self.recv_window.or(below.recv_window),
            recv_buffer: self.recv_buffer.or(below.recv_buffer),
            recv_buffer_max: self.recv_buffer_max.or(below.recv_buffer_max),
            recv_memory: self.recv_memory.or(below.recv_memory),
            shrink_window: self.shrink_window.or(below.shrink_window),
            delayed_ack: self.delayed_ack.or(below.delayed_ack),
            isn: self.isn.or(below.isn),
            rst_in_time_wait: self.rst_in_time_wait.or(below.rst_in_time_wait),
            rto_formula: self.rto_formula.or(below.rto_formula),
            retransmission_rtt: self.retransmission_rtt.or(below.retransmission_rtt),
            abort_reset: self.abort_reset.or(below.abort_reset),
            duplicate_syn: self.duplicate_syn.or(below.duplicate_syn),
            ack_of_fin: self.ack_of_fin.or(below.ack_of_fin),
            quickacks: self.quickacks.or(below.quickacks),
            syn_retry_count: self.syn_retry_count.or(below.syn_retry_count),
            data_retry_model: self.data_retry_model.or(below.data_retry_model),
            window_scale: self.window_scale.or(below.window_scale),
            sack: self.sack.or(below.sack),
            timestamps: self.timestamps.or(below.timestamps),
            ts_clock: self.ts_clock.or(below.ts_clock),
            window_rounding: self.window_rounding.or(below.window_rounding),
            rttm: self.rttm.or(below.rttm),
            initial_window: self.initial_window.or(below.initial_window),
            isn_clock: self.isn_clock.or(below.isn_clock),
            ack_above_snd_nxt: self.ack_above_snd_nxt.or(below.ack_above_snd_nxt),
            fin_in_zero_window: self.fin_in_zero_window.or(below.fin_in_zero_window),
            kernel_tick: self.kernel_tick.or(below.kernel_tick),
            timer_wheel: self.timer_wheel.or(below.timer_wheel),
            tick_clock_at_zero: self.tick_clock_at_zero.or(below.tick_clock_at_zero),
            invalid_ack_interval: self.invalid_ack_interval.or(below.invalid_ack_interval),
            persist_give_up: self.persist_give_up.or(below.persist_give_up),
            half_open_rst_syn: self.half_open_rst_syn.or(below.half_open_rst_syn),
            simultaneous_synack: self.simultaneous_synack.or(below.simultaneous_synack),
            time_wait_segments: self.time_wait_segments.or(below.time_wait_segments),
            ts_recent_update: self.ts_recent_update.or(below.ts_recent_update),
            fin_sack: self.fin_sack.or(below.fin_sack),
            push: self.push.or(below.push),
            send_buffer: self.send_buffer.or(below.send_buffer),
            send_buffer_overhead: self.send_buffer_overhead.or(below.send_buffer_overhead),
            congestion_control: self.congestion_control.or(below.congestion_control),
            initial_cwnd: self.initial_cwnd.or(below.initial_cwnd),
            loss_recovery: self.loss_recovery.or(below.loss_recovery),
            cwnd_accounting: self.cwnd_accounting.or(below.cwnd_accounting),
            nagle: self.nagle.or(below.nagle),
            send_buffer_max: self.send_buffer_max.or(below.send_buffer_max),
            tso_defer: self.tso_defer.or(below.tso_defer),
        }
    }

    /// The configuration of a host whose overrides are `self`, in an
    /// experiment whose `[tcp]` is `base` and whose profile is `profile`:
    /// [`Config::new(profile)`](Config::new), then `base`, then `self`.
    ///
    /// With the `rfc` profile, TIME-WAIT is 2 × MSL: when `msl` is set (at
    /// either layer) and `time_wait` is not, `time_wait` becomes twice the
    /// new MSL. The `linux` profile's TIME-WAIT is a constant 60 s
    /// (`TCP_TIMEWAIT_LEN`) that does not follow MSL, so there `msl` changes
    /// only itself. The retry counts map to `Some(n)`.
    ///
    /// ```
    /// use tcpsim_runner::TcpOverrides;
    /// use tcpsim_tcp::{Duration, Profile};
    ///
    /// let experiment = TcpOverrides { msl: Some(Duration::from_secs(30)), ..Default::default() };
    /// let host = TcpOverrides { syn_retries: Some(2), ..Default::default() };
    /// let config = host.config(&experiment, Profile::Rfc);
    /// assert_eq!(config.time_wait, Duration::from_secs(60));
    /// assert_eq!(config.syn_retries, Some(2));
    /// ```
    pub fn config(&self, base: &TcpOverrides, profile: Profile) -> Config {
        let mut c = Config::new(profile);
        self.over(base).apply(&mut c);
        c
    }

    /// Sets every field of `c` that `self` sets (with the `rfc` profile's
    /// TIME-WAIT following a new MSL, as [`TcpOverrides::config`] says).
    pub fn apply(&self, c: &mut Config) {
        let o = self;
        let profile = c.profile;
        if let Some(v) = o.initial_rto {
            c.initial_rto = v;
        }
        if let Some(v) = o.min_rto {
            c.min_rto = v;
        }
        if let Some(v) = o.max_rto {
            c.max_rto = v;
        }
        if let Some(v) = o.syn_retries {
            c.syn_retries = Some(v);
        }
        if let Some(v) = o.synack_retries {
            c.synack_retries = Some(v);
        }
        if let Some(v) = o.syn_linear_timeouts {
            c.syn_linear_timeouts = v;
        }
        if let Some(v) = o.fin_retries {
            c.fin_retries = Some(v);
        }
        if let Some(v) = o.data_retries {
            c.data_retries = Some(v);
        }
        if let Some(v) = o.msl {
            c.msl = v;
            if profile == Profile::Rfc && o.time_wait.is_none() {
                c.time_wait = v.saturating_mul(2);
            }
        }
        if let Some(v) = o.time_wait {
            c.time_wait = v;
        }
        if let Some(v) = o.fin_wait_2_timeout {
            c.fin_wait_2_timeout = v;
        }
        if let Some(v) = o.user_timeout {
            c.user_timeout = v;
        }
        if let Some(v) = o.mss {
            c.mss = v;
        }
        if let Some(v) = o.recv_window {
            c.recv_window = Some(v);
        }
        if let Some(v) = o.recv_buffer {
            c.recv_buffer = v;
            c.recv_buffer_locked = true;
        }
        if let Some(v) = o.recv_buffer_max {
            c.recv_buffer_max = v;
        }
        if let Some(v) = o.recv_memory {
            c.recv_memory = v;
        }
        if let Some(v) = o.shrink_window {
            c.shrink_window = v;
        }
        if let Some(v) = o.delayed_ack {
            c.delayed_ack = v;
        }
        if let Some(v) = o.isn {
            c.isn = v;
        }
        if let Some(v) = o.rst_in_time_wait {
            c.rst_in_time_wait = v;
        }
        if let Some(v) = o.rto_formula {
            c.rto_formula = v;
        }
        if let Some(v) = o.retransmission_rtt {
            c.retransmission_rtt = v;
        }
        if let Some(v) = o.abort_reset {
            c.abort_reset = v;
        }
        if let Some(v) = o.duplicate_syn {
            c.duplicate_syn = v;
        }
        if let Some(v) = o.ack_of_fin {
            c.ack_of_fin = v;
        }
        if let Some(v) = o.quickacks {
            c.quickacks = v;
        }
        if let Some(v) = o.syn_retry_count {
            c.syn_retry_count = v;
        }
        if let Some(v) = o.data_retry_model {
            c.data_retry_model = v;
        }
        if let Some(v) = o.window_scale {
            c.window_scale = v;
        }
        if let Some(v) = o.sack {
            c.sack = v;
        }
        if let Some(v) = o.timestamps {
            c.timestamps = v;
        }
        if let Some(v) = o.ts_clock {
            c.ts_clock = v;
        }
        if let Some(v) = o.window_rounding {
            c.window_rounding = v;
        }
        if let Some(v) = o.rttm {
            c.rttm = v;
        }
        if let Some(v) = o.initial_window {
            c.initial_window = v;
        }
        if let Some(v) = o.isn_clock {
            c.isn_clock = v;
        }
        if let Some(v) = o.ack_above_snd_nxt {
            c.ack_above_snd_nxt = v;
        }
        if let Some(v) = o.fin_in_zero_window {
            c.fin_in_zero_window = v;
        }
        if let Some(v) = o.kernel_tick {
            c.kernel_tick = v;
        }
        if let Some(v) = o.timer_wheel {
            c.timer_wheel = v;
        }
        if let Some(v) = o.tick_clock_at_zero {
            c.tick_clock_at_zero = v;
        }
        if let Some(v) = o.invalid_ack_interval {
            c.invalid_ack_interval = v;
        }
        if let Some(v) = o.persist_give_up {
            c.persist_give_up = v;
        }
        if let Some(v) = o.half_open_rst_syn {
            c.half_open_rst_syn = v;
        }
        if let Some(v) = o.simultaneous_synack {
            c.simultaneous_synack = v;
        }
        if let Some(v) = o.time_wait_segments {
            c.time_wait_segments = v;
        }
        if let Some(v) = o.ts_recent_update {
            c.ts_recent_update = v;
        }
        if let Some(v) = o.fin_sack {
            c.fin_sack = v;
        }
        if let Some(v) = o.push {
            c.push = v;
        }
        if let Some(v) = o.send_buffer {
            c.send_buffer = v;
        }
        if let Some(v) = o.send_buffer_overhead {
            c.send_buffer_overhead = v;
        }
        if let Some(v) = o.congestion_control {
            c.congestion_control = v;
        }
        if let Some(v) = o.initial_cwnd {
            c.initial_cwnd = v;
        }
        if let Some(v) = o.loss_recovery {
            c.loss_recovery = v;
        }
        if let Some(v) = o.cwnd_accounting {
            c.cwnd_accounting = v;
        }
        if let Some(v) = o.nagle {
            c.nagle = v;
        }
        if let Some(v) = o.send_buffer_max {
            c.send_buffer_max = v;
        }
        if let Some(v) = o.tso_defer {
            c.tso_defer = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_profile_experiment_host() {
        let base = TcpOverrides {
            initial_rto: Some(Duration::from_secs(3)),
            syn_retries: Some(5),
            ..TcpOverrides::default()
        };
        let host = TcpOverrides {
            syn_retries: Some(2),
            fin_wait_2_timeout: Some(None),
            ..TcpOverrides::default()
        };
        let c = host.config(&base, Profile::Linux);
        assert_eq!(c.initial_rto, Duration::from_secs(3));
        assert_eq!(c.syn_retries, Some(2));
        assert_eq!(c.fin_wait_2_timeout, None);
        // Untouched: the linux defaults.
        assert_eq!(c.min_rto, Duration::from_millis(200));
        assert_eq!(c.time_wait, Duration::from_secs(60));
        assert_eq!(
            TcpOverrides::default().config(&TcpOverrides::default(), Profile::Rfc),
            Config::rfc()
        );
    }

    #[test]
    fn msl_moves_rfc_time_wait_unless_time_wait_is_set() {
        let msl = TcpOverrides {
            msl: Some(Duration::from_secs(10)),
            ..TcpOverrides::default()
        };
        let none = TcpOverrides::default();
        assert_eq!(
            none.config(&msl, Profile::Rfc).time_wait,
            Duration::from_secs(20)
        );
        // linux: TIME-WAIT is TCP_TIMEWAIT_LEN, independent of MSL.
        assert_eq!(
            none.config(&msl, Profile::Linux).time_wait,
            Duration::from_secs(60)
        );
        let tw = TcpOverrides {
            time_wait: Some(Duration::from_secs(1)),
            ..TcpOverrides::default()
        };
        assert_eq!(
            tw.config(&msl, Profile::Rfc).time_wait,
            Duration::from_secs(1)
        );
        assert_eq!(
            msl.config(&tw, Profile::Rfc).time_wait,
            Duration::from_secs(1)
        );
    }
}

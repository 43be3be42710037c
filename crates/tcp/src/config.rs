//! TCP parameters and the two profiles, `rfc` and `linux` (tcpsim SPEC §5).
//!
//! A [`Config`] is a plain value: the profile fills in defaults and every
//! field can then be overridden. Where the profiles differ in *behaviour*
//! rather than in a number (the reply to a duplicate SYN, whether the ACK of
//! a FIN is delayed, the RTO formula) the behaviour follows [`Profile`].

use core::fmt;
use core::str::FromStr;

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
    /// Drawn from the endpoint's seeded generator (the default).
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
    /// The profile the defaults came from; also selects profile behaviours.
    pub profile: Profile,
    /// RTO before any RTT sample (RFC 6298 §2.1): 1 s in both profiles.
    pub initial_rto: Duration,
    /// `rfc`: the lower bound of the RTO (1 s, RFC 6298 §2.4). `linux`: the
    /// floor of the variance term, `tcp_rto_min` (200 ms).
    pub min_rto: Duration,
    /// The upper bound of the RTO, backed-off values included: `rfc` 60 s, `linux` 120 s.
    pub max_rto: Duration,
    /// Clock granularity G of RFC 6298 §2 (`rfc` only): 1 ms.
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
    /// The MSS this host announces and the largest payload it sends: 1460.
    pub mss: u16,
    /// Receive buffer, advertised as the window (no window scaling): 65535.
    pub recv_window: u16,
    /// Longest delay of an ACK: `rfc` 200 ms (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2),
    /// `linux` 40 ms. Zero acknowledges every segment at once.
    pub delayed_ack: Duration,
    /// How initial sequence numbers are chosen.
    pub isn: IsnMode,
    /// What TIME-WAIT does with an acceptable RST.
    pub rst_in_time_wait: RstInTimeWait,
}

/// Send window cap in segments: "the smaller of the peer's window and 10 × MSS" (SPEC §5).
pub const SEND_WINDOW_SEGMENTS: u32 = 10;

/// Linux's quick-ACK budget at connection start (`TCP_MAX_QUICKACKS`).
pub const LINUX_QUICKACKS: u32 = 16;

/// The MSS assumed for a peer that sends no MSS option (RFC 9293 §3.7.1).
pub const DEFAULT_PEER_MSS: u16 = 536;

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
            mss: 1460,
            recv_window: 65535,
            delayed_ack: Duration::from_millis(200),
            isn: IsnMode::Random,
            rst_in_time_wait: RstInTimeWait::Close,
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
            mss: 1460,
            recv_window: 65535,
            delayed_ack: Duration::from_millis(40),
            isn: IsnMode::Random,
            rst_in_time_wait: RstInTimeWait::Close,
        }
    }

    /// When a SYN stops being retransmitted.
    pub fn syn_limit(&self) -> RetryLimit {
        match (self.profile, self.syn_retries) {
            // Linux counts the linear retransmissions on top of tcp_syn_retries
            // (tcp_write_timeout: max_retransmits = syn_retries + linear).
            (Profile::Linux, Some(n)) => RetryLimit::Retries(n + self.syn_linear_timeouts),
            (Profile::Rfc, Some(n)) => RetryLimit::Retries(n),
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
        match (self.profile, retries) {
            (Profile::Linux, Some(n)) => RetryLimit::Elapsed(linux_model_timeout(
                n,
                Duration::from_millis(200),
                self.max_rto,
            )),
            (Profile::Rfc, Some(n)) => RetryLimit::Retries(n),
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
    fn time_wait_is_two_msl_in_rfc() {
        assert_eq!(Config::rfc().time_wait, Duration::from_secs(240));
        assert_eq!(Config::linux().time_wait, Duration::from_secs(60));
    }
}

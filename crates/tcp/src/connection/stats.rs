//! What loss recovery and congestion control did, for reports.

/// A connection's congestion state and loss-recovery counters, as a
/// report shows them at the end of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoveryStats {
    /// The congestion window, bytes.
    pub cwnd: u32,
    /// The slow-start threshold, bytes; `None` while no loss has set it.
    pub ssthresh: Option<u32>,
    /// Segments retransmitted because of duplicate ACKs or SACK blocks
    /// (RFC 5681, RFC 6582, RFC 6675).
    pub fast_retransmits: u32,
    /// Segments RACK marked lost (RFC 8985 §6).
    pub rack_losses: u32,
    /// Tail loss probes sent (RFC 8985 §7), new data or a repeat.
    pub tlp_probes: u32,
    /// Expiries of the retransmission timer that sent something again.
    pub rtos: u32,
    /// Recovery episodes found spurious and undone (RFC 3522, RFC 3708).
    pub undos: u32,
}

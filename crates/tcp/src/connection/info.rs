//! A snapshot of a connection in the terms of Linux's `struct tcp_info`
//! (`getsockopt(TCP_INFO)`), for tools that check a connection the way
//! packetdrill scripts and `ss -i` do.

use super::Connection;
use crate::event::TimerKind;
use crate::state::State;

/// What `TCP_INFO` reports of a connection, with the kernel's units
/// (microseconds for times, segments for windows). Only the fields tcpsim
/// models are here; each is what the kernel's field of the same name means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    /// `tcpi_state`: the kernel's state number ([`TcpInfo::linux_state`]).
    pub state: u8,
    /// `tcpi_ca_state`: 0 (`TCP_CA_Open`), 1 (`TCP_CA_Disorder`: SACKs or
    /// duplicate ACKs, nothing judged lost), 3 (`TCP_CA_Recovery`), or 4
    /// (`TCP_CA_Loss`) from a retransmission timeout until everything sent
    /// before it is acknowledged.
    pub ca_state: u8,
    /// `tcpi_snd_cwnd`: the congestion window in segments (rounded down
    /// under `rfc`'s octet counting).
    pub snd_cwnd: u32,
    /// `tcpi_snd_ssthresh` in segments; `TCP_INFINITE_SSTHRESH`
    /// (0x7fffffff) before any loss.
    pub snd_ssthresh: u32,
    /// `tcpi_unacked`: segments in flight (`packets_out`).
    pub unacked: u32,
    /// `tcpi_sacked`: segments SACKed.
    pub sacked: u32,
    /// `tcpi_lost`: segments judged lost and not yet sent again.
    pub lost: u32,
    /// `tcpi_retrans`: retransmissions in flight.
    pub retrans: u32,
    /// `tcpi_total_retrans`: segments sent again in all.
    pub total_retrans: u32,
    /// `tcpi_retransmits`: consecutive expiries of the retransmission timer.
    pub retransmits: u32,
    /// `tcpi_probes`: zero-window probes sent and not answered by an ACK of new data.
    pub probes: u32,
    /// `tcpi_backoff`: how many times the current timer interval has doubled.
    pub backoff: u32,
    /// `tcpi_options`: `TCPI_OPT_TIMESTAMPS` (1), `TCPI_OPT_SACK` (2),
    /// `TCPI_OPT_WSCALE` (4) as negotiated.
    pub options: u8,
    /// `tcpi_snd_wscale`: the shift applied to the peer's windows.
    pub snd_wscale: u8,
    /// `tcpi_rcv_wscale`: the shift applied to the windows we send.
    pub rcv_wscale: u8,
    /// `tcpi_rto`, µs.
    pub rto: u64,
    /// `tcpi_snd_mss`: payload octets per full segment (the MSS less the
    /// timestamps option when it is in use).
    pub snd_mss: u32,
    /// `tcpi_advmss`: the MSS this end announced, less the timestamps
    /// option when it is in use (as Linux reduces `advmss`).
    pub advmss: u32,
    /// `tcpi_rtt`, µs: the smoothed RTT (0 before the first sample).
    pub rtt: u64,
    /// `tcpi_rttvar`, µs.
    pub rttvar: u64,
    /// `tcpi_bytes_acked`: sequence space of ours the peer has
    /// acknowledged, as Linux counts it (`tcp_snd_una_update`): the data,
    /// our FIN, and the SYN of an active open (a passive one starts past
    /// it, from the request).
    pub bytes_acked: u64,
    /// `tcpi_bytes_received`: data octets received in order.
    pub bytes_received: u64,
}

impl TcpInfo {
    /// The kernel's number for an RFC 9293 state (`include/net/tcp_states.h`).
    pub const fn linux_state(state: State) -> u8 {
        match state {
            State::Established => 1,
            State::SynSent => 2,
            State::SynReceived => 3,
            State::FinWait1 => 4,
            State::FinWait2 => 5,
            State::TimeWait => 6,
            State::Closed => 7,
            State::CloseWait => 8,
            State::LastAck => 9,
            State::Listen => 10,
            State::Closing => 11,
        }
    }
}

impl Connection {
    /// The connection as `getsockopt(TCP_INFO)` would report it.
    pub fn info(&self) -> TcpInfo {
        let ts_room = if self.opt.ts {
            u32::from(super::negotiate::TIMESTAMPS_LEN)
        } else {
            0
        };
        // Window scaling is in use when both SYNs offered it (RFC 7323 §2.2).
        let wscale = self.opt.peer_offered_window_scale && self.offered_shift().is_some();
        let probing = self.timers.get(TimerKind::Persist).is_some() || self.probes > 0;
        TcpInfo {
            state: TcpInfo::linux_state(self.state),
            ca_state: self.rec.state.linux_number(),
            snd_cwnd: self.reported_cwnd() / u32::from(self.send_mss).max(1),
            snd_ssthresh: self
                .rec
                .ssthresh()
                .map_or(0x7fff_ffff, |s| s / u32::from(self.send_mss).max(1)),
            unacked: self.rec.board.len() as u32,
            sacked: self.rec.board.sacked().segments,
            lost: self.rec.board.lost().segments,
            retrans: self.rec.board.retrans().segments,
            total_retrans: self.total_retrans,
            retransmits: self.retransmits,
            probes: self.probes,
            backoff: if probing {
                self.probe_backoff
            } else {
                self.retransmits
            },
            options: u8::from(self.opt.ts) | u8::from(self.opt.sack) << 1 | u8::from(wscale) << 2,
            snd_wscale: self.opt.snd_shift,
            rcv_wscale: self.opt.rcv_shift,
            rto: self.rtt.rto().as_nanos() / 1000,
            snd_mss: u32::from(self.payload_room(self.send_mss)),
            advmss: u32::from(self.config.mss).saturating_sub(ts_room),
            rtt: self.rtt.srtt().map_or(0, |d| d.as_nanos() / 1000),
            rttvar: self.rtt.rttvar().as_nanos() / 1000,
            bytes_acked: u64::from(self.snd_una - self.iss).saturating_sub(u64::from(self.passive)),
            bytes_received: self.recv_buf.next(),
        }
    }
}

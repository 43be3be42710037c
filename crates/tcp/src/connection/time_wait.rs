//! TIME-WAIT in compact form, as Linux keeps it: once a connection that
//! its application has released enters TIME-WAIT, the kernel frees the
//! socket and keeps a `tcp_timewait_sock` of about 200 bytes for the rest
//! of the 60 s (`tcp_time_wait`), because a host may hold hundreds of
//! thousands of them. An endpoint does the same with [`TimeWait`]: the
//! connection's send and receive buffers, its scoreboard and loss-recovery
//! state, its timer table and its queues are gone, and what TIME-WAIT
//! still reads is kept.
//!
//! The record holds no behaviour of its own: a segment or the timer for a
//! compact connection inflates it into a [`Connection`] again
//! ([`Connection::from_time_wait`]), which runs TIME-WAIT's one
//! implementation, and is compacted again afterwards if it is still in
//! TIME-WAIT. Only [`TimeWaitSegments::Linux`] connections are compacted:
//! under that rule TIME-WAIT reads the sequence numbers, the options
//! (TS.Recent, PAWS, the window scale), the receive window's state and the
//! timer, and none of the sending side's loss recovery (RFC 9293's
//! checks, [`TimeWaitSegments::Rfc9293`], would take an ACK through it).
//! What stays the same is the whole behaviour, not the struct: a test
//! runs every experiment file with and without compaction and compares
//! the runs byte for byte (`tests/time_wait_compact.rs`).

use std::net::SocketAddrV4;
use std::sync::Arc;

use super::Connection;
use super::negotiate::Negotiated;
use super::rcvbuf::RecvSpace;
use crate::buffer::{RecvBuffer, SendBuffer};
use crate::config::{Config, TimeWaitSegments};
use crate::congestion::CongestionControl;
use crate::event::TimerKind;
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Instant;

/// What a released connection in TIME-WAIT still needs (208 bytes
/// against a [`Connection`]'s 808, on x86-64): see the module's documentation.
#[derive(Debug)]
pub(crate) struct TimeWait {
    config: Arc<Config>,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    passive: bool,
    iss: SeqNum,
    snd_una: SeqNum,
    snd_nxt: SeqNum,
    irs: SeqNum,
    rcv_nxt: SeqNum,
    send_mss: u16,
    /// Stream offset of the end of the data sent (all of it acknowledged).
    sent: u64,
    /// Stream offset of the end of the data received (all of it read).
    received: u64,
    peer_fin_at: Option<u64>,
    last_advertised: u32,
    rcv_space: u32,
    rcv: RecvSpace,
    opt: Negotiated,
    /// The congestion window and slow-start threshold (`u32::MAX` for
    /// none) the connection's [`Connection::recovery_stats`] report; the
    /// rest of the controller's state matters only to data sent, and
    /// TIME-WAIT sends none.
    cwnd: u32,
    ssthresh: u32,
    /// The loss-recovery counters, if any loss happened.
    stats: Option<Box<super::RecoveryStats>>,
    clock: Instant,
    /// When TIME-WAIT ends.
    expires: Instant,
}

impl TimeWait {
    /// The state's end: the deadline the endpoint's timer queue holds.
    pub(crate) fn expires(&self) -> Instant {
        self.expires
    }

    /// SND.NXT.
    pub(crate) fn snd_nxt(&self) -> SeqNum {
        self.snd_nxt
    }

    /// RCV.NXT.
    pub(crate) fn rcv_nxt(&self) -> SeqNum {
        self.rcv_nxt
    }

    /// [`Connection::time_wait_point`]: SND.NXT and TS.Recent, with
    /// timestamps in use.
    pub(crate) fn time_wait_point(&self) -> Option<(SeqNum, u32)> {
        self.opt.ts.then_some((self.snd_nxt, self.opt.ts_recent))
    }
}

impl Connection {
    /// The compact form of this connection, if it may take it: in
    /// TIME-WAIT under [`TimeWaitSegments::Linux`], released by its
    /// application, with nothing left in its buffers, no output waiting,
    /// and no timer but TIME-WAIT's.
    pub(crate) fn time_wait_record(&self) -> Option<TimeWait> {
        if self.state != State::TimeWait
            || self.config.time_wait_segments != TimeWaitSegments::Linux
            || !self.released
            || !self.fin_sent
            || self.no_space
            || self.ack_pending
            || !self.send_buf.is_idle()
            || !self.recv_buf.is_idle()
            || !self.eof
            || self.out.len() != 0
            || self.events.len() != 0
        {
            return None;
        }
        let expires = self.timers.get(TimerKind::TimeWait)?;
        let opt = self.opt.for_time_wait()?;
        let mut only = super::timer_table::TimerTable::default();
        only.set(TimerKind::TimeWait, expires);
        if self.timers != only {
            return None;
        }
        Some(TimeWait {
            config: Arc::clone(&self.config),
            local: self.local,
            remote: self.remote,
            passive: self.passive,
            iss: self.iss,
            snd_una: self.snd_una,
            snd_nxt: self.snd_nxt,
            irs: self.irs,
            rcv_nxt: self.rcv_nxt,
            send_mss: self.send_mss,
            sent: self.sent,
            received: self.recv_buf.next(),
            peer_fin_at: self.peer_fin_at,
            last_advertised: self.last_advertised,
            rcv_space: self.rcv_space,
            rcv: self.rcv,
            opt,
            cwnd: self.rec.cc.cwnd(),
            ssthresh: self.rec.cc.ssthresh(),
            stats: self
                .rec
                .has_losses()
                .then(|| Box::new(self.rec.losses().stats)),
            clock: self.clock,
            expires,
        })
    }

    /// The connection a [`TimeWait`] record was made of, as TIME-WAIT
    /// sees it: what the record keeps, and everything else as a new
    /// connection has it (empty buffers at the record's stream offsets, no
    /// timer but TIME-WAIT's).
    pub(crate) fn from_time_wait(tw: &TimeWait) -> Connection {
        let mut c = Connection::blank(Arc::clone(&tw.config), tw.local, tw.remote, tw.iss);
        c.state = State::TimeWait;
        c.passive = tw.passive;
        c.snd_una = tw.snd_una;
        c.snd_nxt = tw.snd_nxt;
        c.send_mss = tw.send_mss;
        c.send_buf = SendBuffer::idle_at(tw.sent);
        c.sent = tw.sent;
        c.shut_wr = true;
        c.fin_sent = true;
        c.irs = tw.irs;
        c.rcv_nxt = tw.rcv_nxt;
        c.recv_buf = RecvBuffer::idle_at(tw.received);
        c.peer_fin_at = tw.peer_fin_at;
        c.eof = true;
        c.last_advertised = tw.last_advertised;
        c.rcv_space = tw.rcv_space;
        c.rcv = tw.rcv;
        c.timers.set(TimerKind::TimeWait, tw.expires);
        // `restore` keeps the larger of the window it has (the initial
        // one) and the one given: the window is set first.
        c.rec.cc.set_cwnd(tw.cwnd);
        c.rec.cc.restore(tw.cwnd, tw.ssthresh);
        if let Some(stats) = &tw.stats {
            c.rec.losses_mut().stats = **stats;
        }
        c.syn_acked = true;
        c.released = true;
        // No SACK report (`Negotiated::for_time_wait`): nothing to copy
        // but the agreed options.
        c.opt = tw.opt.clone();
        c.clock = tw.clock;
        c
    }
}

//! Timer arming and expiry: retransmission (RFC 6298 §5.4–5.6) with the
//! configured backoff and give-up rule, the persist timer, delayed ACK,
//! TIME-WAIT and FIN-WAIT-2.
//!
//! The deadlines live in a [`TimerTable`](super::timer_table::TimerTable)
//! walked once in [`TimerKind::ALL`] order, so several timers due at the
//! same instant always fire in the same order. Every timer is armed by one
//! of the `arm_*` functions here.

use super::Connection;
use crate::config::{PersistGiveUp, RetryLimit, RetryModel};
use crate::event::{Event, RetransmitCause, TimerKind};
use crate::segment::Flags;
use crate::state::State;
use crate::time::{Duration, Instant};

impl Connection {
    /// Fires every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.clock = now;
        for kind in TimerKind::ALL {
            if !self.timers.expire(kind, now) {
                continue;
            }
            self.events.push_back(Event::TimerFired(kind));
            match kind {
                TimerKind::Retransmit => self.on_retransmit_timeout(now),
                TimerKind::LossProbe => self.on_loss_probe(now),
                TimerKind::Reorder => self.on_reorder_timeout(now),
                TimerKind::Persist => self.on_persist_timeout(now),
                TimerKind::DelayedAck => {
                    if self.ack_pending {
                        self.send_ack();
                    }
                }
                TimerKind::TimeWait | TimerKind::FinWait2 => self.enter_closed(Event::Closed),
            }
            if self.state == State::Closed {
                return;
            }
        }
    }

    /// Arms the retransmission timer for one RTO from `now` (RFC 6298 §5.1,
    /// §5.3), replacing its deadline.
    pub(super) fn arm_retransmit(&mut self, now: Instant) {
        let at = self.deadline(now, self.rtt.rto());
        self.timers.set(TimerKind::Retransmit, at);
    }

    /// When a timer armed at `now` for `delay` fires, by the profile's
    /// [`TimerWheel`](crate::TimerWheel): every timer is armed through here.
    pub(super) fn deadline(&self, now: Instant, delay: Duration) -> Instant {
        crate::timer_wheel::deadline(&self.config, now, delay)
    }

    /// Arms the delayed-ACK timer unless it already runs: an ACK is delayed
    /// from the first segment it acknowledges (RFC 9293 §3.8.6.3).
    pub(super) fn arm_delayed_ack(&mut self, now: Instant) {
        if !self.timers.is_armed(TimerKind::DelayedAck) {
            let at = self.deadline(now, self.config.delayed_ack);
            self.timers.set(TimerKind::DelayedAck, at);
        }
    }

    /// Arms the delayed-ACK timer for the next kernel tick after `now`
    /// (or keeps an earlier deadline).
    pub(super) fn arm_ack_at_next_tick(&mut self, now: Instant) {
        let next = crate::timer_wheel::next_tick(&self.config, now);
        match self.timers.get(TimerKind::DelayedAck) {
            Some(due) if due <= next => {}
            _ => self.timers.set(TimerKind::DelayedAck, next),
        }
    }

    /// Starts (or restarts) the TIME-WAIT timeout (RFC 9293 §3.10.7.4).
    pub(super) fn arm_time_wait(&mut self, now: Instant) {
        let at = self.deadline(now, self.config.time_wait);
        self.timers.set(TimerKind::TimeWait, at);
    }

    /// Arms the persist timer if data waits for the window with nothing in
    /// flight and it does not run yet (RFC 9293 §3.8.6.1).
    pub(super) fn arm_persist(&mut self, now: Instant) {
        if self.window_blocked() && !self.timers.is_armed(TimerKind::Persist) {
            // Nothing in flight: the retransmission timer was stopped by
            // the ACK of the last octet (RFC 6298 §5.2).
            debug_assert!(!self.timers.is_armed(TimerKind::Retransmit));
            let at = self.deadline(now, self.persist_interval());
            self.timers.set(TimerKind::Persist, at);
        }
    }

    /// The persist timer's interval: the RTO, doubled for every probe sent
    /// since the window was last open (RFC 1122 §4.2.2.17), at most the
    /// largest RTO.
    pub(super) fn persist_interval(&self) -> Duration {
        let rto = self.rtt.rto();
        rto.saturating_mul(1 << self.probe_backoff.min(16))
            .min(self.config.max_rto.max(rto))
    }

    /// Arms the FIN-WAIT-2 limit of a released socket, where the profile has one.
    pub(super) fn arm_fin_wait_2(&mut self, now: Instant) {
        if let (true, State::FinWait2, Some(limit)) =
            (self.released, self.state, self.config.fin_wait_2_timeout)
        {
            let at = self.deadline(now, limit);
            self.timers.set(TimerKind::FinWait2, at);
        }
    }

    /// The retry rule for what is outstanding now.
    fn retry_limit(&self) -> RetryLimit {
        match self.state {
            State::SynSent => self.config.syn_limit(),
            State::SynReceived if self.passive => self.config.synack_limit(),
            State::SynReceived => self.config.syn_limit(),
            _ => self.config.data_limit(self.released),
        }
    }

    /// The persist timer (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17): data
    /// waits and nothing is in flight, so no ACK will come to open the
    /// window (the peer's window update may have been lost). With a zero
    /// window, send a probe the peer must answer with its window: an ACK
    /// one below SND.UNA, outside its window (Linux's
    /// `tcp_xmit_probe_skb`); with a small window, send what fits (the
    /// silly-window override). Unanswered probes back off like
    /// retransmissions and give up by the same rule; any acceptable ACK
    /// starts the give-up count over, so a live peer is probed for ever,
    /// but the interval keeps doubling until the window opens.
    fn on_persist_timeout(&mut self, now: Instant) {
        if !self.window_blocked() {
            return;
        }
        if self.probes == 0 {
            self.probe_since = now;
        }
        self.probes += 1;
        self.probe_backoff = self.probe_backoff.saturating_add(1);
        let count = if self.released {
            self.config.fin_retries.or(self.config.data_retries)
        } else {
            self.config.data_retries
        };
        let limit = match (self.config.persist_give_up, count) {
            (PersistGiveUp::Probes, Some(n)) => RetryLimit::Retries(n),
            _ => self.retry_limit(),
        };
        let give_up = match limit {
            RetryLimit::Retries(n) => self.probes > n,
            RetryLimit::Elapsed(limit) => now - self.probe_since >= limit,
        } || self
            .config
            .user_timeout
            .is_some_and(|t| now - self.probe_since >= t);
        if give_up {
            self.enter_closed(Event::TimedOut);
            return;
        }
        if self.snd_wnd == 0 {
            let probe = self.segment(self.snd_una - 1, Flags::ACK);
            self.emit(probe, None);
        } else {
            self.push_segments(now, true);
        }
        self.arm_persist(now);
        // The next probe no later than the user timeout (Linux
        // tcp_clamp_probe0_to_user_timeout, at least TCP_TIMEOUT_MIN = 2
        // jiffies).
        if let (Some(t), Some(due)) = (
            self.config.user_timeout,
            self.timers.get(TimerKind::Persist),
        ) {
            let left = t.saturating_sub(now - self.probe_since);
            let floor = self.config.kernel_tick.saturating_mul(2);
            let clamped = self.deadline(now, left.max(floor));
            if clamped < due {
                self.timers.set(TimerKind::Persist, clamped);
            }
        }
    }

    fn on_retransmit_timeout(&mut self, now: Instant) {
        // Our SYN (or SYN-ACK) is what is outstanding: also after a CLOSE
        // in SYN-RECEIVED, in FIN-WAIT-1 with the FIN behind it.
        let handshaking = !self.syn_acked;
        // Armed only while something is in flight (a SYN or SYN-ACK
        // during the handshake); window probing has its own timer.
        debug_assert!(handshaking || self.snd_una != self.snd_nxt);
        self.retransmits += 1;
        let since = self.give_up_since();
        let give_up = match self.retry_limit() {
            RetryLimit::Retries(n) => self.retransmits > n,
            RetryLimit::Elapsed(limit) => since.is_some_and(|t| now - t >= limit),
        } || self
            .config
            .user_timeout
            .zip(since)
            .is_some_and(|(limit, t)| now - t >= limit);
        if give_up {
            // No RST on giving up (CONFORMANCE 4; Linux tcp_write_err).
            self.enter_closed(Event::TimedOut);
            return;
        }
        if handshaking {
            self.syn_timed_out = true;
        }
        // Linux keeps the initial RTO for the first tcp_syn_linear_timeouts
        // SYN retransmissions, then doubles (tcp_retransmit_timer).
        let linear =
            self.state == State::SynSent && self.retransmits <= self.config.syn_linear_timeouts;
        if !linear {
            self.rtt.back_off(&self.config); // §5.5
        }
        self.rec.losses_mut().stats.rtos += 1;
        if handshaking {
            self.retransmit_head(now, RetransmitCause::Rto); // §5.4, and §5.6 through note_sent
        } else {
            // Every segment not SACKed is lost, the window is one segment:
            // the first goes out now (§5.4), the rest as slow start allows.
            self.enter_loss(now);
            self.push(now);
        }
        // The next expiry no later than the user timeout (Linux
        // tcp_clamp_rto_to_user_timeout), where it gives up.
        if let (Some(t), Some(due), Some(since)) = (
            self.config.user_timeout,
            self.timers.get(TimerKind::Retransmit),
            self.give_up_since(),
        ) {
            let left = (since + t).saturating_duration_since(now);
            let clamped = self.deadline(now, left);
            if clamped < due {
                self.timers.set(TimerKind::Retransmit, clamped);
            }
        }
    }

    /// Where the elapsed-time give-up rule and the user timeout count from:
    /// RFC 9293 §3.8.3 and RFC 5482 from when the unacknowledged data was
    /// sent ([`RetryModel::Count`]); Linux (`retransmits_timed_out` and
    /// `tcp_clamp_rto_to_user_timeout`, [`RetryModel::LinuxTimeout`]) from
    /// its first retransmission (`retrans_stamp`), so not before the first
    /// expiry, and a tail loss probe does not start it
    /// (`tests/data/linux/user_timeout_fin.trace`: FIN at 120.6 ms, probe at
    /// 346.2 ms, RTO retransmission at 574.2 ms, and the read fails with
    /// ETIMEDOUT 3.01–3.02 s after that one). During the handshake
    /// always from the first SYN.
    fn give_up_since(&self) -> Option<Instant> {
        match self.config.data_retry_model {
            RetryModel::LinuxTimeout if self.syn_acked => self.retrans_stamp,
            _ => Some(self.head_sent_at),
        }
    }
}

//! The network side of the engine: a segment leaves its host (trace,
//! capture), is routed to a link, judged by the targeted faults and then by
//! the link's impairments, and arrives (captured, then taken by the
//! receiver or dropped by its checksum check).

use rand_core::RngCore;
use tcpsim_tcp::{ConnId, Duration, Segment, Transmit, wire};

use super::{Action, Engine, InFlight, Packet, StopReason};
use crate::capture::Arrival;
use crate::fault::FaultAction;
use crate::link::{self, Fate};
use crate::trace::{DropReason, HostId, SegmentInfo, TraceKind};

impl Engine {
    pub(super) fn deliver(&mut self, from: HostId, to: HostId, packet: Packet) {
        if self.capture.is_some() {
            self.capture_arrival(to, &packet);
        }
        let seg = match packet {
            Packet::Intact(seg) => seg,
            Packet::Corrupted { bytes, info } => match wire::decode(&bytes) {
                Ok(seg) => seg,
                Err(_) => {
                    self.record(TraceKind::Drop {
                        from,
                        to: Some(to),
                        reason: DropReason::Checksum,
                        segment: *info,
                    });
                    return;
                }
            },
        };
        if self.trace.is_some() {
            self.record(TraceKind::Deliver {
                host: to,
                segment: SegmentInfo::from(&seg),
            });
        }
        let now = self.now;
        self.hosts[to].endpoint.handle_segment(now, &seg);
        // The sender fills this buffer again for a later segment.
        self.hosts[from].endpoint.recycle(seg.payload);
        self.settle(to);
    }

    /// Captures `seg` as `h` sends it. Out of the way of runs that capture
    /// nothing.
    #[inline(never)]
    fn capture_send(&mut self, h: HostId, seg: &Segment) {
        if let Some(c) = &mut self.capture {
            c.sent(self.now, h, seg);
            if c.failed() {
                self.stopped.get_or_insert(StopReason::Capture);
            }
        }
    }

    /// Captures `packet` arriving at `to` (a corrupted packet as its bytes,
    /// with the receiver's checksum drop as its comment). Out of the way of
    /// runs that capture nothing.
    #[inline(never)]
    fn capture_arrival(&mut self, to: HostId, packet: &Packet) {
        let Some(c) = &mut self.capture else {
            return;
        };
        let (arrival, dropped) = match packet {
            Packet::Intact(seg) => (Arrival::Segment(seg), None),
            Packet::Corrupted { bytes, .. } => (
                Arrival::Bytes(bytes),
                wire::decode(bytes).is_err().then_some(DropReason::Checksum),
            ),
        };
        c.arrived(self.now, to, arrival, dropped);
        if c.failed() {
            self.stopped.get_or_insert(StopReason::Capture);
        }
    }

    // ----- the network -----

    /// Records a drop of `seg`, describing it only when a trace is kept.
    fn record_drop(&mut self, from: HostId, to: Option<HostId>, reason: DropReason, seg: &Segment) {
        if let Some(c) = &mut self.capture {
            c.dropped(reason);
        }
        if self.trace.is_some() {
            self.record(TraceKind::Drop {
                from,
                to,
                reason,
                segment: SegmentInfo::from(seg),
            });
        }
    }

    pub(super) fn transmit(&mut self, h: HostId, id: Option<ConnId>, t: Transmit) {
        let Transmit {
            segment: seg,
            retransmission,
        } = t;
        let kind = seg.kind();
        let mapped = match id {
            Some(id) => self.conns.end_of(h, id),
            // A reply with no connection state (a RST answering a segment
            // for a connection that does not exist) belongs to the
            // experiment connection of its 4-tuple, if any.
            None => self.conns.of_flow(seg.src, seg.dst),
        };
        if let Some((c, end)) = mapped {
            let e = self.conns.end_mut(c, end);
            e.sent.bump(kind);
            if retransmission.is_some() {
                e.retransmissions.bump(kind);
            }
        }
        if self.trace.is_some() {
            self.record(TraceKind::Send {
                host: h,
                conn: mapped.map(|(c, _)| c),
                retransmission,
                segment: SegmentInfo::from(&seg),
            });
        }
        if self.capture.is_some() {
            self.capture_send(h, &seg);
        }
        let to = self.topo.host_at(*seg.dst.ip());
        let Some(li) = to.and_then(|to| self.topo.link(h, to)) else {
            self.record_drop(h, to, DropReason::NoRoute, &seg);
            self.hosts[h].endpoint.recycle(seg.payload);
            return;
        };
        let to = self.links[li].to;
        let mut extra = Duration::ZERO;
        let mut corrupt = false;
        let mut duplicate = false;
        if !self.faults.is_empty() {
            match self.faults.verdict(h, to, kind, self.now) {
                None => {}
                Some(action @ (FaultAction::Drop | FaultAction::Partition)) => {
                    let reason = if action == FaultAction::Partition {
                        DropReason::Partition
                    } else {
                        DropReason::Fault
                    };
                    self.record_drop(h, Some(to), reason, &seg);
                    self.hosts[h].endpoint.recycle(seg.payload);
                    return;
                }
                Some(FaultAction::Delay(d)) => extra = d,
                Some(FaultAction::Corrupt) => corrupt = true,
                Some(FaultAction::Duplicate) => duplicate = true,
            }
        }
        let copy = duplicate.then(|| seg.clone());
        self.enter_link(li, seg, extra, corrupt);
        if let Some(copy) = copy {
            self.enter_link(li, copy, Duration::ZERO, false);
        }
    }

    /// The link's own impairments decide the packet's fate (and that of a
    /// netem duplicate, which is enqueued first, as netem does).
    pub(super) fn enter_link(&mut self, li: usize, seg: Segment, extra: Duration, corrupt: bool) {
        let len = wire::encoded_len(&seg);
        let now = self.now;
        let v = self.links[li].model.enqueue(now, len);
        if let Some(fate) = v.copy {
            self.apply_fate(li, seg.clone(), fate, Duration::ZERO, false);
        }
        self.apply_fate(li, seg, v.original, extra, corrupt);
    }

    pub(super) fn apply_fate(
        &mut self,
        li: usize,
        seg: Segment,
        fate: Fate,
        extra: Duration,
        corrupt: bool,
    ) {
        let (from, to) = (self.links[li].from, self.links[li].to);
        match fate {
            Fate::Drop(reason) => {
                let reason = match reason {
                    link::DropReason::Loss => DropReason::Loss,
                    link::DropReason::Queue => DropReason::Queue,
                };
                self.record_drop(from, Some(to), reason, &seg);
                // The payload's buffer goes back to its sender, as a
                // delivered one does: a lossy transfer allocates none.
                self.hosts[from].endpoint.recycle(seg.payload);
            }
            Fate::Deliver { at, corrupt_bit } => {
                let packet = if corrupt_bit.is_some() || corrupt {
                    let mut bytes = Vec::with_capacity(wire::encoded_len(&seg));
                    wire::encode(&seg, &mut bytes);
                    let bits = (bytes.len() * 8) as u32;
                    let bit = corrupt_bit.unwrap_or_else(|| self.fault_rng.next_u32() % bits);
                    bytes[(bit / 8) as usize] ^= 1 << (bit % 8);
                    Packet::Corrupted {
                        bytes,
                        info: Box::new(SegmentInfo::from(&seg)),
                    }
                } else {
                    Packet::Intact(seg)
                };
                let slot = self.put_packet(InFlight {
                    from: from as u32,
                    to: to as u32,
                    packet,
                });
                // A link direction delivers in the order it sends, but for
                // jitter, reordering and faults' delays: its lane.
                self.queue
                    .push_in_lane(li as u32, at + extra, Action::Deliver(slot));
            }
        }
    }
}

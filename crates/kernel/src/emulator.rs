//! The real-time link emulator: it moves packets between the TUN devices of
//! a kernel run through the simulation's own link model
//! ([`tcpsim_net::Link`]: delay, jitter, loss, Gilbert-Elliott, reordering,
//! duplication, corruption, rate, queue) and targeted faults
//! ([`tcpsim_net::fault::Faults`]), drawing from the same random streams
//! as the simulation (`link:A->B`, `faults`), with the monotonic clock as
//! the time base instead of virtual time.
//!
//! A packet is judged as the engine judges it (`engine/network.rs`): the
//! fault rules first (drop, delay, corrupt, duplicate, partition), then the
//! link's impairments, the duplicate entering the link after the original.
//! Every packet read from a device is recorded with the instant it was read,
//! which is when its sender's kernel sent it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use rand_core::RngCore;
use tcpsim_net::fault::Faults;
use tcpsim_net::{Fate, FaultAction, Link};
use tcpsim_runner::kernel_diff::Packet;
use tcpsim_tcp::{Duration, Instant, wire};

use crate::lab::TunEnd;
use crate::sys;

/// The emulator's real-time priority: above the applications', which are
/// above everything else.
const EMULATOR_PRIORITY: i32 = 50;

/// The longest the emulator waits before it looks at the stop flag.
const TICK: StdDuration = StdDuration::from_millis(5);

/// What the emulator learned of its own timing: how late each packet was
/// written to its receiver's device, against the instant the link model
/// gave it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Timing {
    /// Packets delivered.
    pub delivered: u64,
    /// The mean lateness, in nanoseconds.
    pub mean_late_ns: u64,
    /// The largest lateness, in nanoseconds.
    pub max_late_ns: u64,
    /// Packets delivered more than 1 ms late.
    pub late_over_1ms: u64,
    /// Whether the emulator ran with a real-time scheduling policy.
    pub realtime: bool,
    /// Intact packets a device did not take (the try fails on any).
    pub write_failures: u64,
}

/// One direction of a link: its model and the device it delivers to.
struct Direction {
    from: usize,
    to: usize,
    model: Link,
    /// Index into the devices of the device in `to`'s namespace.
    out: usize,
}

/// A packet on its way: due time, order of scheduling, device, whether it
/// was corrupted, bytes.
type Due = Reverse<(u64, u64, usize, bool, Vec<u8>)>;

/// The emulator of one kernel run.
pub(crate) struct Emulator {
    ends: Vec<TunEnd>,
    directions: Vec<Direction>,
    faults: Faults,
    fault_rng: rand_chacha::ChaCha8Rng,
    queue: BinaryHeap<Due>,
    scheduled: u64,
    sent: Vec<Packet>,
    late_sum: u128,
    timing: Timing,
}

impl Emulator {
    /// An emulator between `ends` (two per link, as [`crate::lab::Lab::new`]
    /// returns them); `models[i]` is the direction `from -> to` of
    /// `(from, to, model)`.
    pub(crate) fn new(
        ends: Vec<TunEnd>,
        models: Vec<(usize, usize, Link)>,
        faults: Faults,
        fault_rng: rand_chacha::ChaCha8Rng,
    ) -> Result<Emulator, String> {
        let mut directions = Vec::new();
        for (from, to, model) in models {
            let out = ends
                .iter()
                .position(|e| e.host == to && e.peer == from)
                .ok_or_else(|| format!("no device for the link {from} -> {to}"))?;
            directions.push(Direction {
                from,
                to,
                model,
                out,
            });
        }
        Ok(Emulator {
            ends,
            directions,
            faults,
            fault_rng,
            queue: BinaryHeap::new(),
            scheduled: 0,
            sent: Vec::new(),
            late_sum: 0,
            timing: Timing::default(),
        })
    }

    /// Runs until `deadline` after `start`, or until a signal asks to stop;
    /// returns every packet the kernels sent, in the order they were read,
    /// with its time since `start`, the emulator's timing, and the devices
    /// (which live as long as they are open).
    pub(crate) fn run(
        mut self,
        start: StdInstant,
        deadline: StdDuration,
    ) -> Result<(Vec<Packet>, Timing, Vec<TunEnd>), String> {
        sys::precise_timers();
        self.timing.realtime = sys::realtime(EMULATOR_PRIORITY);
        let mut buf = vec![0u8; 65_536];
        let deadline_ns = deadline.as_nanos() as u64;
        loop {
            let now = elapsed(start);
            self.deliver_due(now)?;
            if now >= deadline_ns || sys::stopped() {
                break;
            }
            let next = self
                .queue
                .peek()
                .map_or(deadline_ns, |Reverse(d)| d.0)
                .min(deadline_ns);
            let fds: Vec<_> = self.ends.iter().map(|e| e.file.as_fd()).collect();
            // At most a tick at a time, so that a signal's stop is seen soon.
            let wait = StdDuration::from_nanos(next.saturating_sub(now)).min(TICK);
            let ready =
                sys::wait_readable(&fds, wait).map_err(|e| format!("waiting for packets: {e}"))?;
            for (i, r) in ready.into_iter().enumerate() {
                if !r {
                    continue;
                }
                loop {
                    match self.ends[i].file.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            let now = elapsed(start);
                            self.enter(i, now, &buf[..n]);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(format!("reading a TUN device: {e}")),
                    }
                }
            }
        }
        if self.timing.delivered > 0 {
            self.timing.mean_late_ns = (self.late_sum / u128::from(self.timing.delivered)) as u64;
        }
        Ok((self.sent, self.timing, self.ends))
    }

    /// Writes every packet due by `now` to its device.
    fn deliver_due(&mut self, now: u64) -> Result<(), String> {
        while self.queue.peek().is_some_and(|Reverse(d)| d.0 <= now) {
            let Some(Reverse((due, _, out, corrupted, bytes))) = self.queue.pop() else {
                break;
            };
            match self.ends[out].file.write(&bytes) {
                Ok(_) => {}
                // A corrupted packet the device refuses (a flipped IP
                // version) is the receiver's checksum drop, as in the
                // simulation.
                Err(_) if corrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.timing.write_failures += 1;
                    continue;
                }
                Err(e) => return Err(format!("writing a TUN device: {e}")),
            }
            let late = now.saturating_sub(due);
            self.timing.delivered += 1;
            self.late_sum += u128::from(late);
            self.timing.max_late_ns = self.timing.max_late_ns.max(late);
            if late > 1_000_000 {
                self.timing.late_over_1ms += 1;
            }
        }
        Ok(())
    }

    /// A packet read from device `i` at `now`: recorded, judged, scheduled.
    fn enter(&mut self, i: usize, now: u64, bytes: &[u8]) {
        let (from, to) = (self.ends[i].host, self.ends[i].peer);
        self.sent.push(Packet {
            at_ns: now,
            bytes: bytes.to_vec(),
        });
        let Some(d) = self
            .directions
            .iter()
            .position(|d| d.from == from && d.to == to)
        else {
            return;
        };
        let at = Instant::ZERO + Duration::from_nanos(now);
        // What is not TCP (nothing, with IPv6 off) takes the link without
        // the faults, which name segment kinds.
        let (mut extra, mut corrupt, mut duplicate) = (0, false, false);
        if let Ok(seg) = wire::decode(bytes) {
            if !self.faults.is_empty() {
                match self.faults.verdict(from, to, seg.kind(), at) {
                    None => {}
                    Some(FaultAction::Drop | FaultAction::Partition) => return,
                    Some(FaultAction::Delay(x)) => extra = x.as_nanos(),
                    Some(FaultAction::Corrupt) => corrupt = true,
                    Some(FaultAction::Duplicate) => duplicate = true,
                }
            }
        }
        self.enter_link(d, at, bytes, extra, corrupt);
        if duplicate {
            self.enter_link(d, at, bytes, 0, false);
        }
    }

    /// The link's impairments decide the packet's fate and its duplicate's.
    fn enter_link(&mut self, d: usize, at: Instant, bytes: &[u8], extra: u64, corrupt: bool) {
        let v = self.directions[d].model.enqueue(at, bytes.len());
        if let Some(fate) = v.copy {
            self.apply(d, bytes, fate, 0, false);
        }
        self.apply(d, bytes, v.original, extra, corrupt);
    }

    fn apply(&mut self, d: usize, bytes: &[u8], fate: Fate, extra: u64, corrupt: bool) {
        let Fate::Deliver { at, corrupt_bit } = fate else {
            return;
        };
        let mut bytes = bytes.to_vec();
        let corrupted = corrupt_bit.is_some() || corrupt;
        if corrupted {
            let bits = (bytes.len() * 8) as u32;
            let bit = corrupt_bit.unwrap_or_else(|| self.fault_rng.next_u32() % bits.max(1));
            if let Some(b) = bytes.get_mut((bit / 8) as usize) {
                *b ^= 1 << (bit % 8);
            }
        }
        self.scheduled += 1;
        self.queue.push(Reverse((
            at.as_nanos() + extra,
            self.scheduled,
            self.directions[d].out,
            corrupted,
            bytes,
        )));
    }
}

/// Nanoseconds since `start`.
fn elapsed(start: StdInstant) -> u64 {
    start.elapsed().as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddrV4};

    use tcpsim_net::{FaultRule, LinkParams, stream};
    use tcpsim_tcp::{Flags, Segment, SegmentKind, SeqNum};

    use super::*;

    fn packet(flags: Flags) -> Vec<u8> {
        let seg = Segment::new(
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80),
            SeqNum(1000),
            SeqNum(0),
            flags,
            64240,
        );
        let mut b = Vec::new();
        wire::encode(&seg, &mut b);
        b
    }

    fn emulator(faults: Faults) -> Emulator {
        let dev = || std::fs::File::open("/dev/null").unwrap();
        let ends = vec![
            TunEnd {
                host: 0,
                peer: 1,
                file: dev(),
            },
            TunEnd {
                host: 1,
                peer: 0,
                file: dev(),
            },
        ];
        let params = LinkParams {
            delay: Duration::from_millis(10),
            ..LinkParams::default()
        };
        let model = |n| Link::new(params.clone(), stream(1, n)).unwrap();
        Emulator::new(
            ends,
            vec![
                (0, 1, model("link:client->server")),
                (1, 0, model("link:server->client")),
            ],
            faults,
            stream(1, "faults"),
        )
        .unwrap()
    }

    #[test]
    fn packets_take_the_links_delay_and_the_faults_first() {
        // The file's rule: drop the client's first SYN (SPEC §3).
        let mut faults = Faults::default();
        let mut rule = FaultRule::new(FaultAction::Drop);
        rule.from = Some(0);
        rule.kinds = vec![SegmentKind::Syn];
        rule.nth = Some(vec![1]);
        faults.push(rule);
        let mut e = emulator(faults);
        let syn = packet(Flags::SYN);
        // Read from the client's device at 1 ms and 1001 ms.
        e.enter(0, 1_000_000, &syn);
        e.enter(0, 1_001_000_000, &syn);
        // Both are recorded as sent; only the second is on its way, due
        // 10 ms after it was read, to the server's device (index 1).
        assert_eq!(e.sent.len(), 2);
        assert_eq!(e.queue.len(), 1);
        let Reverse((due, _, out, _, bytes)) = e.queue.peek().unwrap().clone();
        assert_eq!((due, out), (1_011_000_000, 1));
        assert_eq!(bytes, syn);
    }

    #[test]
    fn duplicates_go_as_the_engine_sends_them() {
        // engine/network.rs: a fault's duplicate enters the link after the
        // original; the link's own duplicate is scheduled before it. Both
        // take the link's 10 ms.
        let mut faults = Faults::default();
        faults.push(FaultRule::new(FaultAction::Duplicate));
        let mut e = emulator(faults);
        let syn = packet(Flags::SYN);
        e.enter(0, 3_000_000, &syn);
        let mut due: Vec<_> = e.queue.drain().map(|Reverse(d)| d).collect();
        due.sort();
        assert_eq!(due.len(), 2);
        for (i, d) in due.iter().enumerate() {
            // Scheduled in order 1, 2, both due at 13 ms, to the server.
            assert_eq!((d.0, d.1, d.2, d.3), (13_000_000, i as u64 + 1, 1, false));
            assert_eq!(d.4, syn);
        }
    }

    #[test]
    fn a_corrupt_rule_flips_one_bit_drawn_from_the_fault_stream() {
        let mut faults = Faults::default();
        faults.push(FaultRule::new(FaultAction::Corrupt));
        let mut e = emulator(faults);
        let syn = packet(Flags::SYN);
        e.enter(0, 0, &syn);
        let Reverse((_, _, _, corrupted, bytes)) = e.queue.pop().unwrap();
        assert!(corrupted);
        // The bit the engine would flip: the `faults` stream's first draw,
        // modulo the packet's bits.
        let bits = (syn.len() * 8) as u32;
        let bit = stream(1, "faults").next_u32() % bits;
        let mut expected = syn.clone();
        expected[(bit / 8) as usize] ^= 1 << (bit % 8);
        assert_eq!(bytes, expected);
        // One bit differs, and the receiver's checksum sees it.
        let differing: u32 = syn
            .iter()
            .zip(&bytes)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert_eq!(differing, 1);
        assert!(wire::decode(&bytes).is_err());
    }

    #[test]
    fn a_delay_rule_adds_to_the_link() {
        let mut faults = Faults::default();
        let mut rule = FaultRule::new(FaultAction::Delay(Duration::from_millis(5)));
        rule.from = Some(1);
        faults.push(rule);
        let mut e = emulator(faults);
        e.enter(1, 2_000_000, &packet(Flags::SYN | Flags::ACK));
        let Reverse((due, _, out, _, _)) = e.queue.peek().unwrap().clone();
        // 2 ms + 10 ms of link + 5 ms of fault, to the client's device.
        assert_eq!((due, out), (17_000_000, 0));
    }
}

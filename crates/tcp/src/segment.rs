//! The logical TCP segment: what the state machine reads and writes.
//!
//! A [`Segment`] carries the IPv4 addresses and ports (the 4-tuple), the TCP
//! header fields tcpsim models and the payload. [`crate::wire`] turns it into
//! bytes and back.

use core::fmt;
use std::net::SocketAddrV4;

use crate::options::Options;
use crate::seq::SeqNum;

/// TCP header control bits (RFC 9293 §3.1).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags(u8);

impl Flags {
    /// No more data from the sender.
    pub const FIN: Flags = Flags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: Flags = Flags(0x02);
    /// Reset the connection.
    pub const RST: Flags = Flags(0x04);
    /// Push function.
    pub const PSH: Flags = Flags(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: Flags = Flags(0x10);
    /// Urgent pointer field is significant.
    pub const URG: Flags = Flags(0x20);
    /// ECN-Echo (RFC 3168).
    pub const ECE: Flags = Flags(0x40);
    /// Congestion Window Reduced (RFC 3168).
    pub const CWR: Flags = Flags(0x80);

    /// No bits set.
    pub const fn empty() -> Flags {
        Flags(0)
    }
    /// Flags from the header's flag byte.
    pub const fn from_bits(bits: u8) -> Flags {
        Flags(bits)
    }
    /// The header's flag byte.
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// Every bit of `other` is set in `self`.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    /// `self` with the bits of `other` added.
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    /// The SYN bit.
    pub const fn syn(self) -> bool {
        self.contains(Flags::SYN)
    }
    /// The ACK bit.
    pub const fn ack(self) -> bool {
        self.contains(Flags::ACK)
    }
    /// The FIN bit.
    pub const fn fin(self) -> bool {
        self.contains(Flags::FIN)
    }
    /// The RST bit.
    pub const fn rst(self) -> bool {
        self.contains(Flags::RST)
    }

    /// The names of the set bits, in tcpdump's order of importance:
    /// `SYN`, `FIN`, `RST`, `PSH`, `ACK`, `URG`, `ECE`, `CWR`.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        self.set().map(|(_, name, _)| name)
    }

    /// tcpdump's letters for the flags, in the same order (`A` for ACK,
    /// `W` for CWR): `SA` for a SYN-ACK, `FPA`, empty for none.
    pub fn letters(self) -> String {
        self.set().map(|(_, _, letter)| letter).collect()
    }

    /// The set bits with their names and letters, in tcpdump's order.
    fn set(self) -> impl Iterator<Item = (Flags, &'static str, char)> {
        const ORDER: [(Flags, &str, char); 8] = [
            (Flags::SYN, "SYN", 'S'),
            (Flags::FIN, "FIN", 'F'),
            (Flags::RST, "RST", 'R'),
            (Flags::PSH, "PSH", 'P'),
            (Flags::ACK, "ACK", 'A'),
            (Flags::URG, "URG", 'U'),
            (Flags::ECE, "ECE", 'E'),
            (Flags::CWR, "CWR", 'W'),
        ];
        ORDER.into_iter().filter(move |(f, _, _)| self.contains(*f))
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        self.union(rhs)
    }
}

/// Prints the set bits joined by `+`, e.g. `SYN+ACK`; `none` when empty.
impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for name in self.names() {
            if !first {
                f.write_str("+")?;
            }
            f.write_str(name)?;
            first = false;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What a segment is, for fault rules and statistics (tcpsim SPEC §3).
///
/// Classification is first-match: RST, then SYN (without ACK), SYN-ACK, FIN
/// (with or without data), DATA (payload, no FIN), and ACK for the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SegmentKind {
    /// Any segment with RST.
    Rst,
    /// SYN without ACK.
    Syn,
    /// SYN with ACK.
    SynAck,
    /// Any segment with FIN.
    Fin,
    /// Payload without FIN.
    Data,
    /// Anything else: a pure acknowledgment.
    Ack,
}

impl SegmentKind {
    /// Every kind, in classification order.
    pub const ALL: [SegmentKind; 6] = [
        SegmentKind::Rst,
        SegmentKind::Syn,
        SegmentKind::SynAck,
        SegmentKind::Fin,
        SegmentKind::Data,
        SegmentKind::Ack,
    ];

    /// The name used in experiment files and reports (`SYN-ACK`).
    pub const fn name(self) -> &'static str {
        match self {
            SegmentKind::Rst => "RST",
            SegmentKind::Syn => "SYN",
            SegmentKind::SynAck => "SYN-ACK",
            SegmentKind::Fin => "FIN",
            SegmentKind::Data => "DATA",
            SegmentKind::Ack => "ACK",
        }
    }

    /// The kind of a segment with these control bits and this much payload,
    /// by the first-match rule above.
    pub const fn classify(flags: Flags, payload_len: usize) -> SegmentKind {
        if flags.rst() {
            SegmentKind::Rst
        } else if flags.syn() && !flags.ack() {
            SegmentKind::Syn
        } else if flags.syn() {
            SegmentKind::SynAck
        } else if flags.fin() {
            SegmentKind::Fin
        } else if payload_len > 0 {
            SegmentKind::Data
        } else {
            SegmentKind::Ack
        }
    }

    /// Parses a name as written in experiment files.
    pub fn from_name(name: &str) -> Option<SegmentKind> {
        SegmentKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for SegmentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A TCP segment with its IPv4 endpoints.
#[derive(Clone, PartialEq, Eq)]
pub struct Segment {
    /// Sender's address and port.
    pub src: SocketAddrV4,
    /// Receiver's address and port.
    pub dst: SocketAddrV4,
    /// Sequence number of the first octet (or of the SYN).
    pub seq: SeqNum,
    /// Acknowledgment number; meaningful only with [`Flags::ACK`].
    pub ack: SeqNum,
    /// Control bits.
    pub flags: Flags,
    /// Advertised receive window (unscaled).
    pub window: u16,
    /// The MSS option, if present (sent on SYN and SYN-ACK).
    pub mss: Option<u16>,
    /// Every other option (window scale, SACK, timestamps).
    pub options: Options,
    /// The data octets.
    pub payload: Vec<u8>,
}

impl Segment {
    /// A segment with no payload and no options.
    pub fn new(
        src: SocketAddrV4,
        dst: SocketAddrV4,
        seq: SeqNum,
        ack: SeqNum,
        flags: Flags,
        window: u16,
    ) -> Segment {
        Segment {
            src,
            dst,
            seq,
            ack,
            flags,
            window,
            mss: None,
            options: Options::NONE,
            payload: Vec::new(),
        }
    }

    /// SEG.LEN: octets of payload plus one for SYN and one for FIN.
    pub fn seg_len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }

    /// The kind of segment, by the first-match rule of [`SegmentKind`].
    pub fn kind(&self) -> SegmentKind {
        SegmentKind::classify(self.flags, self.payload.len())
    }
}

/// `10.0.0.1:49152 > 10.0.0.2:80 SYN seq=1000 ack=0 win=65535 len=0`.
impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {} {} seq={} ack={} win={} len={}",
            self.src,
            self.dst,
            self.flags,
            self.seq,
            self.ack,
            self.window,
            self.payload.len()
        )?;
        if let Some(mss) = self.mss {
            write!(f, " mss={mss}")?;
        }
        if !self.options.is_empty() {
            write!(f, " <{}>", crate::options::format(None, &self.options))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn seg(flags: Flags, payload: &[u8]) -> Segment {
        let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 1);
        let b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 2);
        let mut s = Segment::new(a, b, SeqNum(0), SeqNum(0), flags, 0);
        s.payload = payload.to_vec();
        s
    }

    #[test]
    fn kind_is_first_match() {
        use SegmentKind::*;
        assert_eq!(seg(Flags::RST | Flags::ACK | Flags::SYN, b"").kind(), Rst);
        assert_eq!(seg(Flags::SYN, b"").kind(), Syn);
        assert_eq!(seg(Flags::SYN | Flags::ACK, b"").kind(), SynAck);
        assert_eq!(seg(Flags::FIN | Flags::ACK, b"x").kind(), Fin);
        assert_eq!(seg(Flags::ACK | Flags::PSH, b"x").kind(), Data);
        assert_eq!(seg(Flags::ACK, b"").kind(), Ack);
    }

    #[test]
    fn seg_len_counts_syn_and_fin() {
        assert_eq!(seg(Flags::SYN, b"").seg_len(), 1);
        assert_eq!(seg(Flags::FIN | Flags::ACK, b"abc").seg_len(), 4);
        assert_eq!(seg(Flags::ACK, b"").seg_len(), 0);
    }

    #[test]
    fn flags_print_in_tcpdump_order() {
        assert_eq!((Flags::ACK | Flags::SYN).to_string(), "SYN+ACK");
        assert_eq!((Flags::ACK | Flags::FIN).to_string(), "FIN+ACK");
        assert_eq!(Flags::empty().to_string(), "none");
        for k in SegmentKind::ALL {
            assert_eq!(SegmentKind::from_name(k.name()), Some(k));
        }
    }
}

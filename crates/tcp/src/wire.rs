//! Wire format: a [`Segment`] as the bytes of one IPv4 packet, and back.
//!
//! tcpsim's nodes exchange logical [`Segment`]s; this module gives them a
//! byte-exact on-the-wire form so that traces can be written as real packets
//! and real packets can be read back:
//!
//! * the IPv4 header of RFC 791 (20 bytes, no options on output; options are
//!   skipped on input), with its header checksum;
//! * the TCP header of RFC 9293 §3.1, with the checksum over the IPv4
//!   pseudo-header, and the options of [`crate::options`] (MSS, window
//!   scale, SACK-permitted, SACK blocks, timestamps) in Linux's layout;
//! * the Internet checksum of RFC 1071 (16-bit one's-complement sum), see
//!   [`checksum`].
//!
//! [`encode`] appends one packet to a buffer; [`decode`] parses one packet and
//! never panics, whatever the input: every malformation is a [`WireError`].

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::segment::{Flags, Segment};
use crate::seq::SeqNum;

/// Length of the IPv4 header tcpsim writes (IHL 5, no options).
const IPV4_HEADER_LEN: usize = 20;
/// Length of the TCP header without options (data offset 5).
const TCP_HEADER_LEN: usize = 20;
/// IPv4 protocol number of TCP.
const PROTO_TCP: u8 = 6;
/// Time to live of every packet tcpsim writes.
const TTL: u8 = 64;
/// The IPv4 "don't fragment" flag, in the flags/fragment-offset word.
const FLAG_DF: u16 = 0x4000;
/// The IPv4 "more fragments" flag, in the flags/fragment-offset word.
const FLAG_MF: u16 = 0x2000;
/// The 13-bit fragment offset, in the flags/fragment-offset word.
const FRAGMENT_OFFSET_MASK: u16 = 0x1fff;

/// Why [`decode`] rejected a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The packet is shorter than 20 bytes, or its IPv4 total length leaves
    /// no room for a 20-byte TCP header.
    #[error("packet truncated: {len} bytes where the headers need at least {needed}")]
    Truncated {
        /// Bytes available (the packet length, or the IPv4 total length).
        len: usize,
        /// Bytes the headers need.
        needed: usize,
    },
    /// The IP version field is not 4.
    #[error("not an IPv4 packet: IP version {version}")]
    NotIpv4 {
        /// The version field found.
        version: u8,
    },
    /// The IPv4 header length (IHL, in 32-bit words) is below 5 or runs past
    /// the end of the packet.
    #[error("bad IPv4 header length: IHL {ihl} ({} bytes)", usize::from(*ihl) * 4)]
    BadIhl {
        /// The IHL field found.
        ihl: u8,
    },
    /// The IPv4 total length is smaller than the IPv4 header or larger than
    /// the packet.
    #[error(
        "IPv4 total length {total} is not between the header length {header_len} \
         and the packet length {len}"
    )]
    BadTotalLength {
        /// The total length field.
        total: u16,
        /// The IPv4 header length in bytes (IHL * 4).
        header_len: usize,
        /// The length of the buffer given to [`decode`].
        len: usize,
    },
    /// The IPv4 header checksum does not verify.
    #[error("bad IPv4 header checksum")]
    BadIpChecksum,
    /// The IPv4 protocol field is not 6 (TCP).
    #[error("not a TCP packet: IP protocol {protocol}")]
    NotTcp {
        /// The protocol field found.
        protocol: u8,
    },
    /// The packet is a fragment (more-fragments flag or a non-zero fragment
    /// offset); tcpsim does not reassemble.
    #[error(
        "IPv4 fragment (fragment offset {offset}, or more fragments follow): reassembly is not supported"
    )]
    Fragment {
        /// The fragment offset field, in units of 8 bytes.
        offset: u16,
    },
    /// The TCP data offset is below 5 or runs past the end of the segment.
    #[error("bad TCP data offset {offset} ({} bytes)", usize::from(*offset) * 4)]
    BadDataOffset {
        /// The data offset field, in 32-bit words.
        offset: u8,
    },
    /// The TCP checksum (over the pseudo-header, header and payload) does
    /// not verify.
    #[error("bad TCP checksum")]
    BadTcpChecksum,
    /// A TCP option's length is below 2 or runs past the header, or a known
    /// option (MSS, window scale, SACK-permitted, SACK, timestamps) has a
    /// length its kind cannot have.
    #[error("malformed TCP option of kind {kind}")]
    MalformedOption {
        /// The kind byte of the offending option.
        kind: u8,
    },
}

/// The length of the TCP header [`encode`] writes for `seg`: 20 bytes, plus
/// the option area (a multiple of 4, so no padding).
fn tcp_header_len(seg: &Segment) -> usize {
    TCP_HEADER_LEN + seg.options.encoded_len(seg.mss.is_some())
}

/// The number of bytes [`encode`] appends for `seg`: IPv4 header, TCP header
/// (with its options) and payload.
pub fn encoded_len(seg: &Segment) -> usize {
    IPV4_HEADER_LEN + tcp_header_len(seg) + seg.payload.len()
}

/// Appends `seg` to `buf` as one IPv4 packet carrying one TCP segment.
///
/// `buf` is not cleared: the packet starts at `buf.len()`. Nothing is
/// allocated apart from `buf`'s own growth.
///
/// IPv4: version 4, IHL 5, DSCP/ECN 0, identification 0, DF set, TTL 64,
/// protocol 6, addresses from `seg.src` and `seg.dst`. TCP: `seg.ack` is
/// written as-is even without the ACK flag, urgent pointer 0, and the
/// options as [`crate::options`] lays them out (MSS first when `seg.mss` is
/// `Some`). Both checksums are filled in.
///
/// # Panics
///
/// If the packet would not fit the 16-bit IPv4 total length, i.e. the payload
/// is longer than 65 495 bytes less the option area.
pub fn encode(seg: &Segment, buf: &mut Vec<u8>) {
    let total = encoded_len(seg);
    let total16 = u16::try_from(total)
        .unwrap_or_else(|_| panic!("segment too large for IPv4: {total} bytes > 65535 ({seg:?})"));
    let tcp_len = tcp_header_len(seg);
    // tcp_len is at most 60 (40 option bytes), so the data offset (in
    // words) fits a nibble.
    let data_offset = (tcp_len / 4) as u8;
    let src = *seg.src.ip();
    let dst = *seg.dst.ip();

    buf.reserve(total);
    let start = buf.len();

    // IPv4 header (RFC 791 §3.1).
    let t = total16.to_be_bytes();
    let df = FLAG_DF.to_be_bytes();
    buf.extend_from_slice(&[
        0x45, // version 4, IHL 5
        0x00, // DSCP 0, ECN 0
        t[0], t[1], // total length
        0x00, 0x00, // identification
        df[0], df[1],     // flags DF, fragment offset 0
        TTL,       // time to live
        PROTO_TCP, // protocol
        0x00, 0x00, // header checksum, filled in below
    ]);
    buf.extend_from_slice(&src.octets());
    buf.extend_from_slice(&dst.octets());
    let ip_sum = checksum(&buf[start..start + IPV4_HEADER_LEN]);
    buf[start + 10..start + 12].copy_from_slice(&ip_sum.to_be_bytes());

    // TCP header (RFC 9293 §3.1).
    let tcp_start = buf.len();
    buf.extend_from_slice(&seg.src.port().to_be_bytes());
    buf.extend_from_slice(&seg.dst.port().to_be_bytes());
    buf.extend_from_slice(&seg.seq.0.to_be_bytes());
    buf.extend_from_slice(&seg.ack.0.to_be_bytes());
    buf.push(data_offset << 4); // data offset, reserved bits 0
    buf.push(seg.flags.bits());
    buf.extend_from_slice(&seg.window.to_be_bytes());
    buf.extend_from_slice(&[0x00, 0x00]); // checksum, filled in below
    buf.extend_from_slice(&[0x00, 0x00]); // urgent pointer
    seg.options.write(seg.mss, buf);
    buf.extend_from_slice(&seg.payload);

    // total <= 65535 was checked above, so the TCP length fits a u16.
    let tcp_total = (total - IPV4_HEADER_LEN) as u16;
    let sum = add(
        pseudo_header_sum(src, dst, tcp_total),
        sum_words(&buf[tcp_start..]),
    );
    let tcp_sum = !fold(sum);
    buf[tcp_start + 16..tcp_start + 18].copy_from_slice(&tcp_sum.to_be_bytes());
}

/// Parses exactly one IPv4 packet carrying a TCP segment.
///
/// Bytes after the IPv4 total length are ignored (like link-layer padding).
/// IP options are skipped. Of the TCP options, EOL ends the list, NOP is
/// skipped, MSS is returned in [`Segment::mss`] and window scale,
/// SACK-permitted, SACK blocks and timestamps in [`Segment::options`] (the
/// last one wins if one is repeated); any other option is skipped by its
/// length byte.
///
/// Checks run in this order, and the first failure is returned: length at
/// least 20, version, IHL, IPv4 header checksum, total length, protocol,
/// fragment, room for the TCP header, TCP checksum, data offset, options.
/// Each checksum is verified before the fields it covers are interpreted,
/// except those needed to find the covered bytes.
///
/// Never panics.
pub fn decode(packet: &[u8]) -> Result<Segment, WireError> {
    let Some(ip) = packet.first_chunk::<IPV4_HEADER_LEN>() else {
        return Err(WireError::Truncated {
            len: packet.len(),
            needed: IPV4_HEADER_LEN,
        });
    };
    let version = ip[0] >> 4;
    if version != 4 {
        return Err(WireError::NotIpv4 { version });
    }
    let ihl = ip[0] & 0x0f;
    let header_len = usize::from(ihl) * 4;
    let Some(ip_header) = packet.get(..header_len).filter(|_| ihl >= 5) else {
        return Err(WireError::BadIhl { ihl });
    };
    if checksum(ip_header) != 0 {
        return Err(WireError::BadIpChecksum);
    }
    let total = u16::from_be_bytes([ip[2], ip[3]]);
    let Some(datagram) = packet
        .get(..usize::from(total))
        .filter(|d| d.len() >= header_len)
    else {
        return Err(WireError::BadTotalLength {
            total,
            header_len,
            len: packet.len(),
        });
    };
    let protocol = ip[9];
    if protocol != PROTO_TCP {
        return Err(WireError::NotTcp { protocol });
    }
    let frag = u16::from_be_bytes([ip[6], ip[7]]);
    if frag & (FLAG_MF | FRAGMENT_OFFSET_MASK) != 0 {
        return Err(WireError::Fragment {
            offset: frag & FRAGMENT_OFFSET_MASK,
        });
    }
    let src_ip = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst_ip = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);

    // header_len <= datagram.len() was checked above.
    let tcp = datagram.get(header_len..).unwrap_or_default();
    let Some(th) = tcp.first_chunk::<TCP_HEADER_LEN>() else {
        return Err(WireError::Truncated {
            len: datagram.len(),
            needed: header_len + TCP_HEADER_LEN,
        });
    };
    // tcp.len() < total <= 65535.
    let tcp_len = tcp.len() as u16;
    // An intact segment sums, with its pseudo-header, to 0xffff (negative
    // zero); the pseudo-header's protocol byte keeps the sum from being 0.
    let tcp_sum = add(pseudo_header_sum(src_ip, dst_ip, tcp_len), sum_words(tcp));
    if fold(tcp_sum) != 0xffff {
        return Err(WireError::BadTcpChecksum);
    }
    let offset = th[12] >> 4;
    let data_start = usize::from(offset) * 4;
    let Some(options) = tcp.get(TCP_HEADER_LEN..data_start).filter(|_| offset >= 5) else {
        return Err(WireError::BadDataOffset { offset });
    };
    let (mss, options) =
        crate::options::parse(options).map_err(|m| WireError::MalformedOption { kind: m.kind })?;
    let payload = tcp.get(data_start..).unwrap_or_default().to_vec();

    Ok(Segment {
        src: SocketAddrV4::new(src_ip, u16::from_be_bytes([th[0], th[1]])),
        dst: SocketAddrV4::new(dst_ip, u16::from_be_bytes([th[2], th[3]])),
        seq: SeqNum(u32::from_be_bytes([th[4], th[5], th[6], th[7]])),
        ack: SeqNum(u32::from_be_bytes([th[8], th[9], th[10], th[11]])),
        flags: Flags::from_bits(th[13]),
        window: u16::from_be_bytes([th[14], th[15]]),
        mss,
        options,
        payload,
    })
}

/// The Internet checksum of `data` (RFC 1071): the one's complement of the
/// one's-complement sum of its 16-bit big-endian words, an odd final byte
/// being padded with a zero byte.
///
/// To verify a header that contains its own checksum field, checksum the
/// whole header: the result is 0 when it is intact.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum_words(data))
}

/// The one's-complement sum of `data` as 16-bit big-endian words (odd final
/// byte padded with zero), accumulated in 64 bits with end-around carry.
///
/// Adding 64-bit big-endian words is the same as adding their four 16-bit
/// words, because 2^16 ≡ 1 modulo 2^16 - 1 (RFC 1071 §2(B)); [`fold`] brings
/// the result back to 16 bits. The sum is 0 only when every byte is 0.
fn sum_words(data: &[u8]) -> u64 {
    let mut acc = 0u64;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        acc = add(acc, u64::from_be_bytes(word));
    }
    // The remainder starts at an even offset, so zero-padding it on the right
    // keeps the word alignment and pads an odd final byte as RFC 1071 says.
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        acc = add(acc, u64::from_be_bytes(word));
    }
    acc
}

/// One's-complement addition of two 64-bit partial sums (end-around carry).
fn add(a: u64, b: u64) -> u64 {
    let (sum, carry) = a.overflowing_add(b);
    // With a carry, sum <= 2^64 - 2, so adding it back cannot overflow.
    sum + u64::from(carry)
}

/// Folds a 64-bit one's-complement sum into 16 bits.
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The one's-complement sum of the TCP pseudo-header (RFC 9293 §3.1):
/// source address, destination address, a zero byte, the protocol (6) and
/// the TCP length (header plus payload).
fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, tcp_len: u16) -> u64 {
    let s = src.octets();
    let d = dst.octets();
    let l = tcp_len.to_be_bytes();
    sum_words(&[
        s[0], s[1], s[2], s[3], d[0], d[1], d[2], d[3], 0, PROTO_TCP, l[0], l[1],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{Options, SackBlocks, Timestamps};
    use proptest::prelude::*;

    fn addr(a: [u8; 4], port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::from(a), port)
    }

    fn encode_one(seg: &Segment) -> Vec<u8> {
        let mut buf = Vec::new();
        encode(seg, &mut buf);
        buf
    }

    /// The SYN of the known-answer test: 10.0.0.1:49152 > 10.0.0.2:80,
    /// seq 1000, ack 0, window 65535, MSS 1460.
    fn kat_syn() -> Segment {
        let mut s = Segment::new(
            addr([10, 0, 0, 1], 49152),
            addr([10, 0, 0, 2], 80),
            SeqNum(1000),
            SeqNum(0),
            Flags::SYN,
            65535,
        );
        s.mss = Some(1460);
        s
    }

    /// The expected bytes of [`kat_syn`], written field by field.
    ///
    /// IPv4 header checksum, by hand: the 16-bit words other than the
    /// checksum are 4500 002c 0000 4000 4006 0a00 0001 0a00 0002; their sum
    /// is 0xd935 (no carry), and !0xd935 = 0x26ca.
    ///
    /// TCP checksum, by hand: pseudo-header words 0a00 0001 0a00 0002 0006
    /// 0018 sum to 0x1421; TCP words c000 0050 0000 03e8 0000 0000 6002 ffff
    /// 0000 0000 0204 05b4 sum to 0x22bf1; 0x1421 + 0x22bf1 = 0x24012, folded
    /// 0x4012 + 0x2 = 0x4014, and !0x4014 = 0xbfeb.
    ///
    /// Both were cross-checked independently with python3 (struct.unpack of
    /// the words, sum, fold, complement): ip 0x26ca, tcp 0xbfeb.
    const KAT_SYN_BYTES: [u8; 44] = [
        // ---- IPv4 header ----
        0x45, // version 4, IHL 5 (20 bytes)
        0x00, // DSCP 0, ECN 0
        0x00, 0x2c, // total length 44 = 20 IP + 24 TCP
        0x00, 0x00, // identification 0
        0x40, 0x00, // flags DF, fragment offset 0
        0x40, // TTL 64
        0x06, // protocol 6 = TCP
        0x26, 0xca, // header checksum (see above)
        0x0a, 0x00, 0x00, 0x01, // source 10.0.0.1
        0x0a, 0x00, 0x00, 0x02, // destination 10.0.0.2
        // ---- TCP header ----
        0xc0, 0x00, // source port 49152
        0x00, 0x50, // destination port 80
        0x00, 0x00, 0x03, 0xe8, // sequence number 1000
        0x00, 0x00, 0x00, 0x00, // acknowledgment number 0
        0x60, // data offset 6 (24 bytes), reserved 0
        0x02, // flags: SYN
        0xff, 0xff, // window 65535
        0xbf, 0xeb, // checksum (see above)
        0x00, 0x00, // urgent pointer 0
        0x02, 0x04, 0x05, 0xb4, // option MSS (kind 2, length 4), 1460
    ];

    #[test]
    fn known_answer_syn_encodes_byte_exact() {
        let seg = kat_syn();
        let bytes = encode_one(&seg);
        assert_eq!(bytes, KAT_SYN_BYTES);
        assert_eq!(encoded_len(&seg), KAT_SYN_BYTES.len());
        assert_eq!(decode(&KAT_SYN_BYTES), Ok(seg));
    }

    /// A real SYN captured with tcpdump on a Linux veth pair between two
    /// network namespaces (transmit checksum offload turned off with
    /// `ethtool -K wt0 tx off`, so the TCP checksum on the wire is complete),
    /// the 14-byte Ethernet header stripped. `tcpdump -nvvx` printed:
    ///
    /// ```text
    /// IP (tos 0x0, ttl 64, id 13406, offset 0, flags [DF], proto TCP (6), length 60)
    ///     10.9.0.1.40001 > 10.9.0.2.5555: Flags [S], cksum 0x0f0e (correct),
    ///     seq 3786073573, win 64240, options [mss 1460,sackOK,TS val 3976512351
    ///     ecr 0,nop,wscale 10], length 0
    /// ```
    const CAPTURED_SYN: [u8; 60] = [
        0x45, 0x00, 0x00, 0x3c, 0x34, 0x5e, 0x40, 0x00, 0x40, 0x06, 0xf2, 0x49, 0x0a, 0x09, 0x00,
        0x01, 0x0a, 0x09, 0x00, 0x02, 0x9c, 0x41, 0x15, 0xb3, 0xe1, 0xaa, 0xe5, 0xe5, 0x00, 0x00,
        0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x0f, 0x0e, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04,
        0x02, 0x08, 0x0a, 0xed, 0x04, 0xc3, 0x5f, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ];

    /// The fourth packet of the same capture: the client's first data
    /// segment, 5 bytes "hello" (odd length, so the checksum pads a byte).
    /// `tcpdump -nvvx` printed (relative sequence numbers):
    ///
    /// ```text
    /// IP (tos 0x0, ttl 64, id 13408, offset 0, flags [DF], proto TCP (6), length 57)
    ///     10.9.0.1.40001 > 10.9.0.2.5555: Flags [P.], cksum 0x680f (correct),
    ///     seq 1:6, ack 1, win 63, options [nop,nop,TS val 3976512351
    ///     ecr 2567790253], length 5
    /// ```
    ///
    /// Absolute seq = ISN 3786073573 + 1 = 3786073574; absolute ack = the
    /// SYN-ACK's ISN 59085135 + 1 = 59085136.
    const CAPTURED_DATA: [u8; 57] = [
        0x45, 0x00, 0x00, 0x39, 0x34, 0x60, 0x40, 0x00, 0x40, 0x06, 0xf2, 0x4a, 0x0a, 0x09, 0x00,
        0x01, 0x0a, 0x09, 0x00, 0x02, 0x9c, 0x41, 0x15, 0xb3, 0xe1, 0xaa, 0xe5, 0xe6, 0x03, 0x85,
        0x91, 0x50, 0x80, 0x18, 0x00, 0x3f, 0x68, 0x0f, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0xed,
        0x04, 0xc3, 0x5f, 0x99, 0x0d, 0x5e, 0xad, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
    ];

    #[test]
    fn known_answer_captured_linux_syn() {
        let seg = decode(&CAPTURED_SYN).expect("real SYN decodes");
        assert_eq!(seg.src, addr([10, 9, 0, 1], 40001));
        assert_eq!(seg.dst, addr([10, 9, 0, 2], 5555));
        assert_eq!(seg.seq, SeqNum(3786073573));
        assert_eq!(seg.ack, SeqNum(0));
        assert_eq!(seg.flags, Flags::SYN);
        assert_eq!(seg.window, 64240);
        // options [mss 1460,sackOK,TS val 3976512351 ecr 0,nop,wscale 10]
        assert_eq!(seg.mss, Some(1460));
        assert_eq!(
            seg.options,
            Options {
                window_scale: Some(10),
                sack_permitted: true,
                timestamps: Some(Timestamps {
                    val: 3976512351,
                    ecr: 0
                }),
                sack: SackBlocks::new(),
            }
        );
        assert!(seg.payload.is_empty());
        // Encoded again, the TCP header is the kernel's byte for byte (the
        // IPv4 identification differs: tcpsim writes 0).
        assert_eq!(encode_one(&seg)[20..], CAPTURED_SYN[20..]);
        // The checksums really were verified: both headers sum to zero.
        assert_eq!(checksum(&CAPTURED_SYN[..20]), 0);
        let mut bad = CAPTURED_SYN;
        bad[37] ^= 0x01; // low byte of the TCP checksum 0x0f0e
        assert_eq!(decode(&bad), Err(WireError::BadTcpChecksum));
    }

    #[test]
    fn known_answer_captured_linux_data_segment() {
        let seg = decode(&CAPTURED_DATA).expect("real data segment decodes");
        assert_eq!(seg.src, addr([10, 9, 0, 1], 40001));
        assert_eq!(seg.dst, addr([10, 9, 0, 2], 5555));
        assert_eq!(seg.seq, SeqNum(3786073574));
        assert_eq!(seg.ack, SeqNum(59085136));
        assert_eq!(seg.flags, Flags::PSH | Flags::ACK);
        assert_eq!(seg.window, 63);
        assert_eq!(seg.mss, None);
        // options [nop,nop,TS val 3976512351 ecr 2567790253]
        assert_eq!(
            seg.options,
            Options {
                timestamps: Some(Timestamps {
                    val: 3976512351,
                    ecr: 2567790253
                }),
                ..Options::NONE
            }
        );
        assert_eq!(seg.payload, b"hello");
        assert_eq!(encode_one(&seg)[20..], CAPTURED_DATA[20..]);
    }

    /// RFC 1071 §3 numerical example: bytes 00 01 f2 03 f4 f5 f6 f7 have
    /// the one's-complement sum 0xddf2, so the checksum is !0xddf2 = 0x220d.
    #[test]
    fn checksum_rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), 0x220d);
        // Appending the checksum makes the whole sum to zero.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0x22, 0x0d]),
            0
        );
        // Odd length: the last byte is padded on the right: 0x0100 -> !0x0100.
        assert_eq!(checksum(&[0x01]), 0xfeff);
        assert_eq!(checksum(&[]), 0xffff);
    }

    #[test]
    fn encode_appends_without_clearing() {
        let a = kat_syn();
        let mut b = Segment::new(
            addr([192, 168, 1, 1], 1),
            addr([192, 168, 1, 2], 2),
            SeqNum(7),
            SeqNum(9),
            Flags::ACK | Flags::PSH,
            100,
        );
        b.payload = b"abc".to_vec();
        let mut buf = vec![0xee; 3];
        encode(&a, &mut buf);
        encode(&b, &mut buf);
        assert_eq!(buf.len(), 3 + encoded_len(&a) + encoded_len(&b));
        assert_eq!(buf[..3], [0xee; 3]);
        assert_eq!(buf[3..3 + 44], KAT_SYN_BYTES);
        assert_eq!(decode(&buf[3..3 + 44]), Ok(a));
        assert_eq!(decode(&buf[3 + 44..]), Ok(b));
    }

    #[test]
    fn ack_field_written_without_ack_flag() {
        let seg = Segment::new(
            addr([1, 2, 3, 4], 5),
            addr([6, 7, 8, 9], 10),
            SeqNum(1),
            SeqNum(0xdead_beef),
            Flags::RST,
            0,
        );
        let bytes = encode_one(&seg);
        assert_eq!(bytes[28..32], [0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(decode(&bytes), Ok(seg));
    }

    #[test]
    fn bytes_beyond_total_length_are_ignored() {
        let mut bytes = KAT_SYN_BYTES.to_vec();
        bytes.extend_from_slice(&[0u8; 16]); // e.g. Ethernet minimum-frame pad
        assert_eq!(decode(&bytes), Ok(kat_syn()));
    }

    // ---- hand-made packets for option handling and error variants ----

    /// Recomputes both checksums of a hand-made packet in place, trusting
    /// its IHL and total length (which must be sane).
    fn fix_checksums(p: &mut [u8]) {
        let hl = usize::from(p[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
        p[10..12].fill(0);
        let c = checksum(&p[..hl]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
        let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
        let tcp = &mut p[hl..total];
        tcp[16..18].fill(0);
        let len = tcp.len() as u16;
        let c = !fold(add(pseudo_header_sum(src, dst, len), sum_words(tcp)));
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
    }

    /// A hand-made packet: IPv4 header with `ip_options`, TCP header with
    /// `tcp_options` (padded by the caller), then `payload`; checksums fixed.
    fn packet(ip_options: &[u8], tcp_options: &[u8], payload: &[u8]) -> Vec<u8> {
        let ihl = 5 + ip_options.len() / 4;
        let doff = 5 + tcp_options.len() / 4;
        let total = ihl * 4 + doff * 4 + payload.len();
        let mut p = Vec::new();
        p.push(0x40 | ihl as u8); // version 4, IHL
        p.push(0x00); // DSCP 0, ECN 0
        p.extend_from_slice(&(total as u16).to_be_bytes()); // total length
        p.extend_from_slice(&[0x12, 0x34]); // identification
        p.extend_from_slice(&[0x40, 0x00]); // DF, fragment offset 0
        p.push(64); // TTL
        p.push(6); // protocol TCP
        p.extend_from_slice(&[0x00, 0x00]); // header checksum, fixed below
        p.extend_from_slice(&[192, 0, 2, 1]); // source
        p.extend_from_slice(&[192, 0, 2, 2]); // destination
        p.extend_from_slice(ip_options);
        p.extend_from_slice(&12345u16.to_be_bytes()); // source port
        p.extend_from_slice(&443u16.to_be_bytes()); // destination port
        p.extend_from_slice(&42u32.to_be_bytes()); // seq
        p.extend_from_slice(&7u32.to_be_bytes()); // ack
        p.push((doff as u8) << 4); // data offset
        p.push(0x18); // PSH+ACK
        p.extend_from_slice(&4096u16.to_be_bytes()); // window
        p.extend_from_slice(&[0x00, 0x00]); // checksum, fixed below
        p.extend_from_slice(&[0x00, 0x00]); // urgent pointer
        p.extend_from_slice(tcp_options);
        p.extend_from_slice(payload);
        fix_checksums(&mut p);
        p
    }

    fn expected(mss: Option<u16>, payload: &[u8]) -> Segment {
        let mut s = Segment::new(
            addr([192, 0, 2, 1], 12345),
            addr([192, 0, 2, 2], 443),
            SeqNum(42),
            SeqNum(7),
            Flags::PSH | Flags::ACK,
            4096,
        );
        s.mss = mss;
        s.payload = payload.to_vec();
        s
    }

    #[test]
    fn hand_made_packet_decodes() {
        assert_eq!(
            decode(&packet(&[], &[], b"xyz")),
            Ok(expected(None, b"xyz"))
        );
    }

    #[test]
    fn ip_options_are_skipped() {
        // Router Alert (RFC 2113): type 148, length 4, value 0.
        let p = packet(&[0x94, 0x04, 0x00, 0x00], &[], b"data");
        assert_eq!(p[0], 0x46);
        assert_eq!(decode(&p), Ok(expected(None, b"data")));
    }

    #[test]
    fn tcp_options_nop_unknown_and_mss_are_handled() {
        // NOP, NOP, SACK-permitted (4, 2), MSS 536, window scale (3, 3, 7),
        // an unknown kind 30 of length 4, EOL.
        let opts = [1, 1, 4, 2, 2, 4, 0x02, 0x18, 3, 3, 7, 30, 4, 0, 0, 0];
        let mut want = expected(Some(536), b"");
        want.options.sack_permitted = true;
        want.options.window_scale = Some(7);
        assert_eq!(decode(&packet(&[], &opts, b"")), Ok(want));
    }

    #[test]
    fn eol_ends_the_option_list() {
        // EOL, then bytes that would be a MSS option and garbage: not parsed.
        let opts = [0, 2, 4, 0x05, 0xb4, 0xff, 0x00, 0x00];
        assert_eq!(decode(&packet(&[], &opts, b"")), Ok(expected(None, b"")));
    }

    #[test]
    fn err_truncated_short_packet() {
        assert_eq!(
            decode(&KAT_SYN_BYTES[..19]),
            Err(WireError::Truncated {
                len: 19,
                needed: 20
            })
        );
        assert_eq!(
            decode(&[]),
            Err(WireError::Truncated { len: 0, needed: 20 })
        );
    }

    #[test]
    fn err_truncated_no_room_for_tcp_header() {
        // A valid IPv4 header whose total length (30) leaves 10 bytes of TCP.
        let mut p = packet(&[], &[], b"");
        p[2..4].copy_from_slice(&30u16.to_be_bytes());
        p[10..12].fill(0);
        let c = checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(
            decode(&p),
            Err(WireError::Truncated {
                len: 30,
                needed: 40
            })
        );
    }

    #[test]
    fn err_not_ipv4() {
        let mut p = packet(&[], &[], b"");
        p[0] = 0x65; // version 6
        assert_eq!(decode(&p), Err(WireError::NotIpv4 { version: 6 }));
    }

    #[test]
    fn err_bad_ihl() {
        let mut p = packet(&[], &[], b"");
        p[0] = 0x44; // IHL 4 < 5
        assert_eq!(decode(&p), Err(WireError::BadIhl { ihl: 4 }));
        p[0] = 0x4f; // IHL 15 = 60 bytes > 40-byte packet
        assert_eq!(decode(&p), Err(WireError::BadIhl { ihl: 15 }));
    }

    #[test]
    fn err_bad_total_length() {
        let mut p = packet(&[], &[], b"");
        // Larger than the buffer (header checksum fixed so only length is wrong).
        p[2..4].copy_from_slice(&41u16.to_be_bytes());
        fix_ip_checksum(&mut p);
        assert_eq!(
            decode(&p),
            Err(WireError::BadTotalLength {
                total: 41,
                header_len: 20,
                len: 40
            })
        );
        // Smaller than the IPv4 header.
        p[2..4].copy_from_slice(&19u16.to_be_bytes());
        fix_ip_checksum(&mut p);
        assert_eq!(
            decode(&p),
            Err(WireError::BadTotalLength {
                total: 19,
                header_len: 20,
                len: 40
            })
        );
    }

    fn fix_ip_checksum(p: &mut [u8]) {
        let hl = usize::from(p[0] & 0x0f) * 4;
        p[10..12].fill(0);
        let c = checksum(&p[..hl]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
    }

    #[test]
    fn err_bad_ip_checksum() {
        let mut p = packet(&[], &[], b"");
        p[8] = 63; // TTL changed, checksum not updated
        assert_eq!(decode(&p), Err(WireError::BadIpChecksum));
    }

    #[test]
    fn ip_checksum_is_checked_before_tcp_checksum() {
        let mut p = packet(&[], &[], b"xy");
        p[8] = 63; // breaks the IP checksum
        p[41] ^= 0xff; // and the TCP checksum (payload)
        assert_eq!(decode(&p), Err(WireError::BadIpChecksum));
    }

    #[test]
    fn err_not_tcp() {
        let mut p = packet(&[], &[], b"");
        p[9] = 17; // UDP
        fix_ip_checksum(&mut p);
        assert_eq!(decode(&p), Err(WireError::NotTcp { protocol: 17 }));
    }

    #[test]
    fn err_fragment() {
        let mut p = packet(&[], &[], b"");
        p[6..8].copy_from_slice(&0x2000u16.to_be_bytes()); // MF, offset 0
        fix_ip_checksum(&mut p);
        assert_eq!(decode(&p), Err(WireError::Fragment { offset: 0 }));
        p[6..8].copy_from_slice(&0x00b9u16.to_be_bytes()); // last fragment, offset 185
        fix_ip_checksum(&mut p);
        assert_eq!(decode(&p), Err(WireError::Fragment { offset: 185 }));
    }

    #[test]
    fn err_bad_data_offset() {
        let mut p = packet(&[], &[], b"");
        p[32] = 0x40; // data offset 4 < 5
        fix_checksums(&mut p);
        assert_eq!(decode(&p), Err(WireError::BadDataOffset { offset: 4 }));
        p[32] = 0x60; // data offset 6 = 24 bytes > 20-byte segment
        fix_checksums(&mut p);
        assert_eq!(decode(&p), Err(WireError::BadDataOffset { offset: 6 }));
    }

    #[test]
    fn err_bad_tcp_checksum() {
        let mut p = packet(&[], &[], b"payload");
        p[45] ^= 0x20; // 'l' -> 'L' in the payload
        assert_eq!(decode(&p), Err(WireError::BadTcpChecksum));
    }

    #[test]
    fn err_malformed_option() {
        let cases: [(&[u8], u8); 5] = [
            (&[2, 3, 5, 0], 2),       // MSS with length 3
            (&[2, 6, 5, 0], 2),       // MSS with length 6, runs past the header
            (&[8, 1, 0, 0], 8),       // length 1 < 2
            (&[1, 1, 1, 4], 4),       // no room for a length byte
            (&[1, 1, 0x22, 0], 0x22), // length 0 < 2
        ];
        for (opts, kind) in cases {
            assert_eq!(
                decode(&packet(&[], opts, b"")),
                Err(WireError::MalformedOption { kind }),
                "options {opts:?}"
            );
        }
    }

    #[test]
    fn error_messages_are_readable() {
        assert_eq!(
            WireError::BadIhl { ihl: 4 }.to_string(),
            "bad IPv4 header length: IHL 4 (16 bytes)"
        );
        assert_eq!(
            WireError::Truncated { len: 3, needed: 20 }.to_string(),
            "packet truncated: 3 bytes where the headers need at least 20"
        );
    }

    /// Every single-bit flip of `packet` (a valid encoding) must be rejected.
    ///
    /// Why this always holds. One's-complement checksums detect every
    /// single-bit error in the bytes they cover: flipping bit k of a 16-bit
    /// word changes the sum by ±2^k, which is never ≡ 0 (mod 2^16 - 1), and
    /// only a sum ≡ 0 verifies. Every byte of an encoded packet is covered:
    /// the IPv4 header (identification and TTL included) by the header
    /// checksum, the TCP header and payload by the TCP checksum; encode adds
    /// no padding beyond the total length. The catch is a flip that changes
    /// *which* bytes are covered:
    ///
    /// * total length: the IPv4 checksum range depends only on the IHL, so a
    ///   changed total length is caught by the header checksum (or is larger
    ///   than the buffer: `BadTotalLength`).
    /// * TCP data offset: the TCP checksum range depends only on IHL and total
    ///   length, so it is caught by the TCP checksum.
    /// * IHL 5 becomes 4 or 1 (bits 0, 2): `BadIhl`. It becomes 7 (bit 1,
    ///   word 0 grows by 0x0200) or 13 (bit 3, +0x0800): the IPv4 checksum now
    ///   also covers the first n = 8 or 32 bytes after the header, with word
    ///   sum W. It verifies only if W ≡ -0x0200 (resp. -0x0800). But then
    ///   the TCP checksum is computed over the original TCP bytes minus those
    ///   n bytes with a pseudo-header length n smaller: its sum changes from
    ///   ≡ 0 to ≡ -n - W ≡ 0x01f8 (resp. 0x07e0), which never verifies. So
    ///   one of the two checksums, or a structural check, always fails.
    fn assert_every_bit_flip_rejected(packet: &[u8]) {
        let mut p = packet.to_vec();
        for bit in 0..p.len() * 8 {
            p[bit / 8] ^= 1 << (bit % 8);
            assert!(
                decode(&p).is_err(),
                "flipping bit {bit} of {packet:02x?} was accepted"
            );
            p[bit / 8] ^= 1 << (bit % 8);
        }
        assert!(decode(&p).is_ok());
    }

    #[test]
    fn every_bit_flip_of_known_packets_is_rejected() {
        assert_every_bit_flip_rejected(&KAT_SYN_BYTES);
        assert_every_bit_flip_rejected(&encode_one(&expected(None, b"hello, world")));
        // Real Linux packets (their options are never rewritten by encode,
        // but the argument above holds for any valid packet without padding).
        assert_every_bit_flip_rejected(&CAPTURED_SYN);
        assert_every_bit_flip_rejected(&CAPTURED_DATA);
    }

    /// The adversarial case of the argument above, built on purpose: pick a
    /// 16-bit value `y` until the IPv4 checksum over the widened header
    /// verifies after the IHL flip; the TCP checksum must then fail. For
    /// IHL 7 the extra 8 bytes are ports and seq, so `y` is the low half of
    /// seq. For IHL 13 the extra 32 bytes include the TCP checksum field, so
    /// `y` is the last payload word (outside the range), which steers it.
    #[test]
    fn ihl_flip_that_fools_the_ip_checksum_is_caught_by_tcp_checksum() {
        type Steer = fn(&mut Segment, u16);
        let low_seq: Steer = |s, y| s.seq = SeqNum(0x0001_0000 | u32::from(y));
        let last_word: Steer = |s, y| {
            let len = s.payload.len();
            s.payload[len - 2..].copy_from_slice(&y.to_be_bytes());
        };
        for (flipped_ihl_byte, n, steer) in [(0x47u8, 8usize, low_seq), (0x4d, 32, last_word)] {
            let hl = IPV4_HEADER_LEN + n;
            let mut seg = expected(None, &[0x5a; 40]);
            let found = (0..=0xffffu16).find_map(|y| {
                steer(&mut seg, y);
                let mut p = encode_one(&seg);
                p[0] = flipped_ihl_byte;
                (checksum(&p[..hl]) == 0).then_some(p)
            });
            let p = found.expect("some value fools the IPv4 checksum");
            let mut original = p.clone();
            original[0] = 0x45;
            assert!(decode(&original).is_ok());
            assert_eq!(
                decode(&p),
                Err(WireError::BadTcpChecksum),
                "IHL flip widening the header by {n} bytes"
            );
        }
    }

    /// The plain RFC 1071 algorithm, 16 bits at a time, as a reference.
    fn reference_checksum(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for pair in data.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            let lo = pair.get(1).map_or(0, |&b| u32::from(b));
            sum += hi | lo;
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    fn arb_segment() -> impl Strategy<Value = Segment> {
        (
            (
                any::<[u8; 4]>(),
                any::<u16>(),
                any::<[u8; 4]>(),
                any::<u16>(),
            ),
            (any::<u32>(), any::<u32>(), any::<u8>(), any::<u16>()),
            proptest::option::of(any::<u16>()),
            arb_options(),
            proptest::collection::vec(any::<u8>(), 0..1500),
        )
            .prop_map(
                |((sa, sp, da, dp), (seq, ack, flags, window), mss, options, payload)| {
                    let mut seg = Segment {
                        src: addr(sa, sp),
                        dst: addr(da, dp),
                        seq: SeqNum(seq),
                        ack: SeqNum(ack),
                        flags: Flags::from_bits(flags),
                        window,
                        mss,
                        options,
                        payload,
                    };
                    // Keep only the SACK blocks that fit (the encoder drops
                    // the rest, so they could not come back).
                    let mut fitting = SackBlocks::new();
                    let bytes = encode_one(&seg);
                    let back = decode(&bytes).map(|s| s.options.sack).unwrap_or_default();
                    for &(l, r) in back.as_slice() {
                        fitting.push(l, r);
                    }
                    seg.options.sack = fitting;
                    seg
                },
            )
    }

    fn arb_options() -> impl Strategy<Value = Options> {
        (
            proptest::option::of(any::<u8>()),
            any::<bool>(),
            proptest::option::of((any::<u32>(), any::<u32>())),
            proptest::collection::vec((any::<u32>(), any::<u32>()), 0..=4),
        )
            .prop_map(|(window_scale, sack_permitted, ts, blocks)| {
                let mut sack = SackBlocks::new();
                for (l, r) in blocks {
                    sack.push(SeqNum(l), SeqNum(r));
                }
                Options {
                    window_scale,
                    sack_permitted,
                    timestamps: ts.map(|(val, ecr)| Timestamps { val, ecr }),
                    sack,
                }
            })
    }

    proptest! {
        /// encode then decode gives back the segment, and encode writes
        /// exactly encoded_len bytes.
        #[test]
        fn round_trip(seg in arb_segment()) {
            let bytes = encode_one(&seg);
            prop_assert_eq!(bytes.len(), encoded_len(&seg));
            prop_assert_eq!(checksum(&bytes[..20]), 0);
            prop_assert_eq!(decode(&bytes), Ok(seg));
        }

        /// Arbitrary bytes never make decode panic.
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }

        /// Arbitrary TCP option bytes behind valid headers and checksums
        /// (so the option parser is reached) never make decode panic, and
        /// an accepted packet keeps its header fields.
        #[test]
        fn arbitrary_options_never_panic(
            opts in proptest::collection::vec(any::<u8>(), 0..=40),
            payload in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let mut opts = opts;
            opts.resize(opts.len().div_ceil(4) * 4, 0);
            if let Ok(seg) = decode(&packet(&[], &opts, &payload)) {
                prop_assert_eq!(seg.payload, payload);
                prop_assert_eq!(seg.seq, SeqNum(42));
            }
        }

        /// Any single-bit flip of a valid packet is rejected (see
        /// assert_every_bit_flip_rejected for why this always holds).
        #[test]
        fn single_bit_flip_is_rejected(seg in arb_segment(), bit in any::<prop::sample::Index>()) {
            let mut bytes = encode_one(&seg);
            let bit = bit.index(bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(decode(&bytes).is_err(), "bit {} accepted", bit);
        }

        /// The word-at-a-time checksum equals the plain 16-bit algorithm,
        /// for every length and alignment.
        #[test]
        fn checksum_matches_reference(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(checksum(&data), reference_checksum(&data));
        }
    }
}

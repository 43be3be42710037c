//! A pcapng writer (tcpsim SPEC §6; the format of
//! draft-ietf-opsawg-pcapng-02): one Section Header Block, one Interface
//! Description Block per host (named after it, LINKTYPE_RAW, nanosecond
//! timestamps), then Enhanced Packet Blocks carrying IPv4 packets with
//! their direction (`epb_flags`) and, for a drop, a comment.
//!
//! Every block is written little-endian (the Section Header Block's
//! byte-order magic says so): block type, total length, body padded to 32
//! bits, options, total length again (draft §3.1). Options are type, length
//! (without padding), value padded to 32 bits, and the list ends with
//! `opt_endofopt` (§3.5).
//!
//! Timestamps count nanoseconds from 1970-01-01T00:00:00Z; a run's virtual
//! time starts at [`EPOCH_SECS`] (2000-01-01T00:00:00Z), never at the wall
//! clock, so a capture of one seed is the same file on every machine.

use std::io::{self, Write};

use tcpsim_tcp::Instant;

/// Where virtual time zero lies in a capture: 2000-01-01T00:00:00Z, in
/// seconds since the Unix epoch.
pub const EPOCH_SECS: u64 = 946_684_800;

/// Block type of the Section Header Block ("\n\r\r\n", draft §4.1).
const SHB: u32 = 0x0A0D_0D0A;
/// Block type of the Interface Description Block (draft §4.2).
const IDB: u32 = 1;
/// Block type of the Enhanced Packet Block (draft §4.3).
const EPB: u32 = 6;
/// The Section Header Block's byte-order magic.
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// LINKTYPE_RAW: each packet begins with its IP header.
const LINKTYPE_RAW: u16 = 101;
/// The snapshot length of every interface (no packet is truncated).
const SNAPLEN: u32 = 65535;

/// `opt_endofopt` (draft §3.5).
const OPT_ENDOFOPT: u16 = 0;
/// `opt_comment`, valid in every block.
const OPT_COMMENT: u16 = 1;
/// `shb_userappl`: the application that wrote the section.
const SHB_USERAPPL: u16 = 4;
/// `if_name`.
const IF_NAME: u16 = 2;
/// `if_tsresol`: timestamp resolution as a negative power of 10.
const IF_TSRESOL: u16 = 9;
/// `epb_flags`: the flags word, bits 0–1 the direction (§4.3.1).
const EPB_FLAGS: u16 = 2;

/// Which way a packet crossed the interface it was captured on
/// (`epb_flags` bits 0–1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received (`01`).
    Inbound,
    /// Sent (`10`).
    Outbound,
}

impl Direction {
    /// The flags word with only the direction bits set.
    const fn flags(self) -> u32 {
        match self {
            Direction::Inbound => 1,
            Direction::Outbound => 2,
        }
    }
}

/// Appends zero octets until `out`'s length is a multiple of 4.
fn pad(out: &mut Vec<u8>) {
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

/// Appends one option: type, length without padding, value padded to 32
/// bits. `value` is at most 65 535 octets (the length is 16 bits).
fn option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    debug_assert!(value.len() <= usize::from(u16::MAX));
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    pad(out);
}

/// Appends a string option, cut to the longest whole-character prefix that
/// fits an option (65 535 octets; host names and drop reasons are far
/// shorter), so that the value stays valid UTF-8 (draft §3.6.3).
fn string_option(out: &mut Vec<u8>, code: u16, value: &str) {
    let mut end = value.len().min(usize::from(u16::MAX));
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    option(out, code, &value.as_bytes()[..end]);
}

/// Starts a block of type `kind` at the end of `out`: its start, for [`end`].
fn begin(out: &mut Vec<u8>, kind: u32) -> usize {
    let start = out.len();
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // the length, set by `end`
    start
}

/// Ends the block begun at `start`: `opt_endofopt`, then the total length
/// written in the header and again as the trailer.
fn end(out: &mut Vec<u8>, start: usize) {
    option(out, OPT_ENDOFOPT, &[]);
    let len = (out.len() - start + 4) as u32;
    out[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
}

/// Appends a Section Header Block: version 1.0, section length not
/// given (-1), `shb_userappl` "tcpsim".
pub fn section_header(out: &mut Vec<u8>) {
    let start = begin(out, SHB);
    out.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // major version
    out.extend_from_slice(&0u16.to_le_bytes()); // minor version
    out.extend_from_slice(&(-1i64).to_le_bytes()); // section length: unknown
    string_option(out, SHB_USERAPPL, "tcpsim");
    end(out, start);
}

/// Appends an Interface Description Block for the interface `name`:
/// LINKTYPE_RAW, snapshot length 65535, `if_name`, `if_tsresol` 9
/// (nanoseconds).
pub fn interface_description(out: &mut Vec<u8>, name: &str) {
    let start = begin(out, IDB);
    out.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // reserved
    out.extend_from_slice(&SNAPLEN.to_le_bytes());
    string_option(out, IF_NAME, name);
    option(out, IF_TSRESOL, &[9]);
    end(out, start);
}

/// The timestamp of virtual time `at`: nanoseconds since the Unix epoch,
/// virtual time zero being [`EPOCH_SECS`].
pub fn timestamp(at: Instant) -> u64 {
    EPOCH_SECS * 1_000_000_000 + at.as_nanos()
}

/// Appends an Enhanced Packet Block: `packet` (a whole IPv4 packet) on
/// interface `interface` at virtual time `at`, going `direction`, with one
/// `opt_comment` per entry of `comments`.
pub fn enhanced_packet(
    out: &mut Vec<u8>,
    interface: u32,
    at: Instant,
    direction: Direction,
    packet: &[u8],
    comments: &[&str],
) {
    let ts = timestamp(at);
    let len = packet.len() as u32;
    let start = begin(out, EPB);
    out.extend_from_slice(&interface.to_le_bytes());
    out.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
    out.extend_from_slice(&(ts as u32).to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes()); // captured
    out.extend_from_slice(&len.to_le_bytes()); // original
    out.extend_from_slice(packet);
    pad(out);
    option(out, EPB_FLAGS, &direction.flags().to_le_bytes());
    for c in comments {
        string_option(out, OPT_COMMENT, c);
    }
    end(out, start);
}

/// A pcapng capture written to `W` block by block, as a run goes: the
/// section and its interfaces when made, then one [`PcapngWriter::packet`]
/// at a time. Nothing is kept but the block being written; give it a
/// buffered writer (`BufWriter`), as every block is one `write_all`.
///
/// ```
/// use tcpsim_net::pcapng::{Direction, PcapngWriter};
/// use tcpsim_tcp::Instant;
///
/// let mut w = PcapngWriter::new(Vec::new(), &["client", "server"]).unwrap();
/// let packet = [0x45u8; 20]; // any IPv4 packet's bytes
/// w.packet(0, Instant::ZERO, Direction::Outbound, &packet, &[]).unwrap();
/// w.packet(1, Instant::from_millis(50), Direction::Inbound, &packet, &[]).unwrap();
/// let bytes = w.into_inner();
/// assert_eq!(&bytes[..4], &[0x0a, 0x0d, 0x0d, 0x0a]); // a Section Header Block
/// ```
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    out: W,
    /// The block being written (its memory kept for the next).
    block: Vec<u8>,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the Section Header Block and one Interface Description Block
    /// per name of `interfaces`: interface `i` is `interfaces[i]`.
    pub fn new(out: W, interfaces: &[impl AsRef<str>]) -> io::Result<PcapngWriter<W>> {
        let mut w = PcapngWriter {
            out,
            block: Vec::with_capacity(256),
        };
        section_header(&mut w.block);
        for name in interfaces {
            interface_description(&mut w.block, name.as_ref());
        }
        w.write_block()?;
        Ok(w)
    }

    /// Writes one Enhanced Packet Block (see [`enhanced_packet`]).
    pub fn packet(
        &mut self,
        interface: u32,
        at: Instant,
        direction: Direction,
        packet: &[u8],
        comments: &[&str],
    ) -> io::Result<()> {
        enhanced_packet(&mut self.block, interface, at, direction, packet, comments);
        self.write_block()
    }

    fn write_block(&mut self) -> io::Result<()> {
        let r = self.out.write_all(&self.block);
        self.block.clear();
        r
    }

    /// Flushes the writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The writer, everything written to it (not flushed).
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// draft §4.1, Figure 9, little-endian: type, length, magic, version
    /// 1.0, section length -1, then `shb_userappl` (code 4) "tcpsim"
    /// (6 octets, padded to 8), `opt_endofopt`, length again.
    #[test]
    fn section_header_block_by_the_draft() {
        let mut b = Vec::new();
        section_header(&mut b);
        // 4 type + 4 length + 4 magic + 2 + 2 version + 8 section length
        // + (4 + 8) userappl + 4 endofopt + 4 trailer.
        let total: u32 = 4 + 4 + 4 + 2 + 2 + 8 + (4 + 8) + 4 + 4;
        assert_eq!(total, 44);
        let mut want = vec![0x0a, 0x0d, 0x0d, 0x0a, 44, 0, 0, 0];
        want.extend_from_slice(&[0x4d, 0x3c, 0x2b, 0x1a]); // 0x1A2B3C4D, little-endian
        want.extend_from_slice(&[1, 0, 0, 0]); // major 1, minor 0
        want.extend_from_slice(&[0xff; 8]); // -1
        want.extend_from_slice(&[4, 0, 6, 0]);
        want.extend_from_slice(b"tcpsim\0\0");
        want.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt, length 0
        want.extend_from_slice(&[44, 0, 0, 0]);
        assert_eq!(b, want);
    }

    /// draft §4.2, Figure 10: link type 101, reserved 0, snap length,
    /// `if_name` (code 2) "client" (6 octets, padded to 8), `if_tsresol`
    /// (code 9, length 1) 9 padded to 4, `opt_endofopt`.
    #[test]
    fn interface_description_block_by_the_draft() {
        let mut b = Vec::new();
        interface_description(&mut b, "client");
        let total: u32 = 8 + 2 + 2 + 4 + (4 + 8) + (4 + 4) + 4 + 4;
        assert_eq!(total, 44);
        let mut want = vec![1, 0, 0, 0, 44, 0, 0, 0];
        want.extend_from_slice(&[101, 0, 0, 0]);
        want.extend_from_slice(&[0xff, 0xff, 0, 0]); // 65535
        want.extend_from_slice(&[2, 0, 6, 0]);
        want.extend_from_slice(b"client\0\0");
        want.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0]);
        want.extend_from_slice(&[0, 0, 0, 0]);
        want.extend_from_slice(&[44, 0, 0, 0]);
        assert_eq!(b, want);

        // A name that fills its 32 bits needs no padding: "srv1".
        let mut b = Vec::new();
        interface_description(&mut b, "srv1");
        assert_eq!(u32_at(&b, 4), 8 + 8 + (4 + 4) + (4 + 4) + 4 + 4);
        assert_eq!(&b[16..24], &[2, 0, 4, 0, b's', b'r', b'v', b'1']);
    }

    /// draft §4.3, Figure 11, and §4.3.1: interface, 64-bit timestamp in two
    /// halves (upper first), captured and original length, the packet padded
    /// to 32 bits, `epb_flags` (code 2, length 4) with direction bits `10`
    /// (outbound), an `opt_comment` (code 1) padded, `opt_endofopt`.
    #[test]
    fn outbound_packet_with_a_comment_by_the_draft() {
        let mut b = Vec::new();
        let packet = [0xde, 0xad, 0xbe, 0xef, 0x01];
        enhanced_packet(
            &mut b,
            1,
            Instant::from_millis(1000),
            Direction::Outbound,
            &packet,
            &["dropped: fault"],
        );
        // 8 header + 20 fixed + 8 packet (5 padded) + 8 flags
        // + (4 + 16) comment (14 octets padded) + 4 endofopt + 4 trailer.
        let total = 8 + 20 + 8 + 8 + (4 + 16) + 4 + 4;
        assert_eq!(total, 72);
        assert_eq!(b.len(), total);
        // 2000-01-01T00:00:01Z in nanoseconds since 1970.
        let ts: u64 = (946_684_800 + 1) * 1_000_000_000;
        let mut want = vec![6, 0, 0, 0, 72, 0, 0, 0];
        want.extend_from_slice(&[1, 0, 0, 0]);
        want.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        want.extend_from_slice(&((ts & 0xffff_ffff) as u32).to_le_bytes());
        want.extend_from_slice(&[5, 0, 0, 0, 5, 0, 0, 0]);
        want.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0x01, 0, 0, 0]);
        want.extend_from_slice(&[2, 0, 4, 0, 0b10, 0, 0, 0]);
        want.extend_from_slice(&[1, 0, 14, 0]);
        want.extend_from_slice(b"dropped: fault\0\0");
        want.extend_from_slice(&[0, 0, 0, 0]);
        want.extend_from_slice(&[72, 0, 0, 0]);
        assert_eq!(b, want);
    }

    /// An inbound packet whose length is a multiple of 4: no padding, no
    /// comment, direction bits `01`; the timestamp's upper half counts.
    #[test]
    fn inbound_packet_without_comment() {
        let mut b = Vec::new();
        let packet = [7u8; 8];
        let at = Instant::from_nanos(1_050_000_007);
        enhanced_packet(&mut b, 0, at, Direction::Inbound, &packet, &[]);
        assert_eq!(b.len(), 8 + 20 + 8 + 8 + 4 + 4);
        assert_eq!(u32_at(&b, 4) as usize, b.len());
        assert_eq!(u32_at(&b, b.len() - 4) as usize, b.len());
        let ts = 946_684_801_050_000_007u64;
        assert_eq!(
            u64::from(u32_at(&b, 12)) << 32 | u64::from(u32_at(&b, 16)),
            ts
        );
        assert_ne!(u32_at(&b, 12), 0);
        assert_eq!(&b[28..36], &packet);
        assert_eq!(&b[36..44], &[2, 0, 4, 0, 0b01, 0, 0, 0]);
        assert_eq!(&b[44..48], &[0, 0, 0, 0]);
    }

    /// An option's length is 16 bits: a longer name is cut to whole
    /// characters ("é" is 2 octets, so 65 535 octets would split one).
    #[test]
    fn a_name_too_long_for_an_option_is_cut_at_a_character() {
        let name = "é".repeat(40_000); // 80 000 octets
        let mut b = Vec::new();
        interface_description(&mut b, &name);
        assert_eq!(&b[16..18], &[2, 0]);
        let len = usize::from(u16::from_le_bytes([b[18], b[19]]));
        assert_eq!(len, 65_534);
        assert!(std::str::from_utf8(&b[20..20 + len]).is_ok());
        assert_eq!(u32_at(&b, 4) as usize, b.len());
    }

    #[test]
    fn the_writer_writes_the_blocks_in_order() {
        let mut w = PcapngWriter::new(Vec::new(), &["client", "server"]).unwrap();
        w.packet(1, Instant::ZERO, Direction::Inbound, &[1, 2, 3, 4], &[])
            .unwrap();
        let bytes = w.into_inner();
        let mut want = Vec::new();
        section_header(&mut want);
        interface_description(&mut want, "client");
        interface_description(&mut want, "server");
        enhanced_packet(
            &mut want,
            1,
            Instant::ZERO,
            Direction::Inbound,
            &[1, 2, 3, 4],
            &[],
        );
        assert_eq!(bytes, want);
        // SHB 44 + two IDBs 44 each + EPB 8 + 20 + 4 + 8 + 4 + 4.
        assert_eq!(bytes.len(), 44 + 44 + 44 + 48);
    }
}

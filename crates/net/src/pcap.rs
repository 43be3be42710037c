//! A pcap writer (tcpsim SPEC §6): nanosecond timestamps, LINKTYPE_RAW
//! (each record is one IPv4 packet), every segment at its send time as the
//! sender emitted it, with valid checksums — what tcpdump on each sender's
//! interface would have seen. Wireshark and tshark open it.

use std::io::{self, Write};

use tcpsim_tcp::{Instant, Segment, wire};

/// pcap's magic number for nanosecond-resolution timestamps.
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// LINKTYPE_RAW: the packet begins with the IP header.
const LINKTYPE_RAW: u32 = 101;
/// The snapshot length written in the header (no packet is truncated).
const SNAPLEN: u32 = 65535;

/// Appends the global header: nanosecond magic, version 2.4, LINKTYPE_RAW.
fn global_header(out: &mut Vec<u8>) {
    out.extend_from_slice(&MAGIC_NANOS.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&SNAPLEN.to_le_bytes());
    out.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
}

/// Appends the header of a record of `len` octets captured at `at`.
fn record_header(out: &mut Vec<u8>, at: Instant, len: u32) {
    let ns = at.as_nanos();
    out.extend_from_slice(&((ns / 1_000_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&((ns % 1_000_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
}

/// A capture being written: to memory ([`PcapWriter::new`], the default),
/// or to any writer as the run goes ([`PcapWriter::with_writer`]), where
/// nothing is kept but the record header being written.
#[derive(Clone, Debug)]
pub struct PcapWriter<W = Vec<u8>> {
    out: W,
    /// A record header, for a writer that is not memory.
    scratch: Vec<u8>,
}

impl Default for PcapWriter {
    fn default() -> Self {
        PcapWriter::new()
    }
}

impl PcapWriter {
    /// A capture in memory with its global header written.
    pub fn new() -> PcapWriter {
        let mut buf = Vec::with_capacity(4096);
        global_header(&mut buf);
        PcapWriter {
            out: buf,
            scratch: Vec::new(),
        }
    }

    /// Appends one packet record for `segment` sent at `at`.
    pub fn record(&mut self, at: Instant, segment: &Segment) {
        record_header(&mut self.out, at, wire::encoded_len(segment) as u32);
        wire::encode(segment, &mut self.out);
    }

    /// The capture's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.out
    }

    /// The capture's bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

impl<W: Write> PcapWriter<W> {
    /// A capture written to `out`, its global header first.
    ///
    /// ```
    /// use tcpsim_net::pcap::PcapWriter;
    /// use tcpsim_tcp::Instant;
    ///
    /// let mut w = PcapWriter::with_writer(Vec::new()).unwrap();
    /// w.write_packet(Instant::from_millis(1), &[0x45; 20]).unwrap();
    /// assert_eq!(w.into_inner().len(), 24 + 16 + 20);
    /// ```
    pub fn with_writer(mut out: W) -> io::Result<PcapWriter<W>> {
        let mut header = Vec::with_capacity(24);
        global_header(&mut header);
        out.write_all(&header)?;
        Ok(PcapWriter {
            out,
            scratch: header,
        })
    }

    /// Writes one record: `packet`, an encoded IPv4 packet
    /// ([`wire::encode`]), sent at `at`.
    pub fn write_packet(&mut self, at: Instant, packet: &[u8]) -> io::Result<()> {
        self.scratch.clear();
        record_header(&mut self.scratch, at, packet.len() as u32);
        self.out.write_all(&self.scratch)?;
        self.out.write_all(packet)
    }

    /// Flushes the writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};
    use tcpsim_tcp::{Flags, SeqNum};

    #[test]
    fn header_and_one_record() {
        let mut w = PcapWriter::new();
        let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
        let b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let mut syn = Segment::new(a, b, SeqNum(1000), SeqNum(0), Flags::SYN, 65535);
        syn.mss = Some(1460);
        w.record(Instant::from_nanos(1_500_000_123), &syn);
        let bytes = w.into_bytes();
        // 24-byte global header + 16-byte record header + 20 IP + 24 TCP (MSS option).
        assert_eq!(bytes.len(), 24 + 16 + 44);
        assert_eq!(&bytes[0..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 101);
        assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 1); // seconds
        assert_eq!(
            u32::from_le_bytes(bytes[28..32].try_into().unwrap()),
            500_000_123
        );
        assert_eq!(u32::from_le_bytes(bytes[32..36].try_into().unwrap()), 44);
        assert_eq!(wire::decode(&bytes[40..]).unwrap(), syn);

        // The same record written to a writer: the same bytes.
        let mut packet = Vec::new();
        wire::encode(&syn, &mut packet);
        let mut w = PcapWriter::with_writer(Vec::new()).unwrap();
        w.write_packet(Instant::from_nanos(1_500_000_123), &packet)
            .unwrap();
        assert_eq!(w.into_inner(), bytes);
    }
}

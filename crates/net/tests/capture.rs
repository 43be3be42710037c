//! Captures written as the run goes ([`Capture`]): the classic pcap the same
//! bytes as the one kept in memory, the pcapng one outbound copy per send
//! and one inbound copy per arrival, as the trace tells them, and a failing
//! writer stopping the run.

use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use tcpsim_net::{
    Capture, CaptureFormat, CloseMode, Distribution, DropReason, FaultAction, LinkParams, Loss,
    OpenMode, SimBuilder, StopReason, TraceKind, Workload, fault,
};
use tcpsim_tcp::{Config, Duration, Instant, SegmentKind, wire};

/// A writer whose bytes stay readable after the run took it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

/// Loss, duplicates, corruption, reordering and a dropped SYN: every way a
/// segment can fare.
fn noisy() -> SimBuilder {
    let mut b = SimBuilder::new(5);
    let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::linux());
    let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
    b.listen(server, 80);
    let link = LinkParams {
        delay: Duration::from_millis(5),
        jitter: Duration::from_millis(2),
        distribution: Distribution::Normal,
        loss: Loss::Bernoulli(0.05),
        duplicate: 0.03,
        corrupt: 0.03,
        reorder: 0.05,
        ..LinkParams::default()
    };
    b.link(client, server, link.clone(), link);
    b.fault(fault(
        FaultAction::Drop,
        Some(client),
        Some(server),
        &[SegmentKind::Syn],
        Some(&[1]),
    ));
    for i in 0..6 {
        b.connection(Workload {
            client,
            server,
            port: 80,
            open_at: Instant::from_millis(i),
            open: OpenMode::Active,
            client_port: None,
            client_sends: 20_000,
            server_sends: 5_000,
            close: CloseMode::ClientFirst,
            close_at: None,
        });
    }
    b
}

#[test]
fn the_streamed_pcap_is_the_pcap_kept_in_memory() {
    let mut kept = noisy();
    kept.pcap(true);
    let kept = kept.build().unwrap().run();
    let out = Shared::default();
    let streamed = noisy()
        .build_capturing(Capture::new().pcap(out.clone()))
        .unwrap()
        .run();
    assert!(streamed.capture_error.is_none());
    assert_eq!(streamed.pcap, None, "nothing kept in memory");
    let kept = kept.pcap.unwrap();
    assert!(kept.len() > 10_000, "{} bytes", kept.len());
    assert_eq!(out.bytes(), kept);
}

/// One Enhanced Packet Block, as the test reads it from the bytes.
#[derive(Debug, PartialEq)]
struct Epb {
    interface: u32,
    /// Nanoseconds since the Unix epoch.
    ts: u64,
    flags: u32,
    comments: Vec<String>,
    packet: Vec<u8>,
}

/// The blocks of a little-endian pcapng: the interface names (IDBs) and the
/// packets (EPBs), checking every block's framing on the way.
fn parse(b: &[u8]) -> (Vec<String>, Vec<Epb>) {
    let word = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let half = |at: usize| u16::from_le_bytes(b[at..at + 2].try_into().unwrap());
    let options = |mut at: usize, end: usize| {
        let mut out = Vec::new();
        loop {
            assert!(at + 4 <= end, "options run past the block");
            let (code, len) = (half(at), usize::from(half(at + 2)));
            if code == 0 {
                assert_eq!(len, 0);
                assert_eq!(at + 4, end, "opt_endofopt ends the options");
                return out;
            }
            out.push((code, b[at + 4..at + 4 + len].to_vec()));
            at += 4 + len.div_ceil(4) * 4;
        }
    };
    let (mut names, mut packets) = (Vec::new(), Vec::new());
    let mut at = 0;
    assert_eq!(word(0), 0x0A0D_0D0A, "a Section Header Block first");
    while at < b.len() {
        let (kind, len) = (word(at), word(at + 4) as usize);
        assert_eq!(len % 4, 0);
        assert_eq!(word(at + len - 4) as usize, len, "trailer length");
        let end = at + len - 4;
        match kind {
            0x0A0D_0D0A => assert_eq!(at, 0, "one section"),
            1 => {
                assert_eq!(half(at + 8), 101, "LINKTYPE_RAW");
                let opts = options(at + 16, end);
                assert!(opts.contains(&(9, vec![9])), "if_tsresol 9");
                let name = opts.iter().find(|o| o.0 == 2).expect("if_name");
                names.push(String::from_utf8(name.1.clone()).unwrap());
            }
            6 => {
                let caplen = word(at + 20) as usize;
                assert_eq!(word(at + 24) as usize, caplen);
                let data = at + 28;
                let opts = options(data + caplen.div_ceil(4) * 4, end);
                let flags = opts.iter().find(|o| o.0 == 2).expect("epb_flags");
                packets.push(Epb {
                    interface: word(at + 8),
                    ts: u64::from(word(at + 12)) << 32 | u64::from(word(at + 16)),
                    flags: u32::from_le_bytes(flags.1[..].try_into().unwrap()),
                    comments: opts
                        .iter()
                        .filter(|o| o.0 == 1)
                        .map(|o| String::from_utf8(o.1.clone()).unwrap())
                        .collect(),
                    packet: b[data..data + caplen].to_vec(),
                });
            }
            other => panic!("unexpected block type {other:#x}"),
        }
        at += len;
    }
    (names, packets)
}

/// 2000-01-01T00:00:00Z in nanoseconds since 1970 (SPEC §6).
const EPOCH_NS: u64 = 946_684_800 * 1_000_000_000;

#[test]
fn the_pcapng_has_every_send_and_every_arrival_of_the_trace() {
    let out = Shared::default();
    let r = noisy()
        .build_capturing(Capture::new().pcapng(out.clone()))
        .unwrap()
        .run();
    assert!(r.capture_error.is_none());
    let (names, packets) = parse(&out.bytes());
    assert_eq!(names, ["client", "server"]);

    // What the trace says the capture must show, in order: a send (its
    // drops at the link's entrance as comments), an arrival (a checksum
    // drop as its comment).
    let trace = r.trace.unwrap();
    let mut want: Vec<(u32, u64, u32, Vec<String>)> = Vec::new();
    let mut sent_at = None;
    for rec in &trace {
        let ts = EPOCH_NS + rec.at.as_nanos();
        match rec.kind {
            TraceKind::Send { host, .. } => {
                want.push((host as u32, ts, 2, Vec::new()));
                sent_at = Some(want.len() - 1);
            }
            TraceKind::Drop {
                to,
                reason: DropReason::Checksum,
                ..
            } => want.push((to.unwrap() as u32, ts, 1, vec!["dropped: checksum".into()])),
            TraceKind::Drop { reason, from, .. } => {
                let i = sent_at.expect("a drop at the entrance follows its send");
                assert_eq!(want[i].0, from as u32);
                assert_eq!(want[i].1, ts, "dropped at its send instant");
                want[i].3.push(format!("dropped: {}", reason.name()));
            }
            TraceKind::Deliver { host, .. } => want.push((host as u32, ts, 1, Vec::new())),
            _ => {}
        }
    }
    let got: Vec<_> = packets
        .iter()
        .map(|p| (p.interface, p.ts, p.flags, p.comments.clone()))
        .collect();
    assert_eq!(got, want);
    let reasons = |r: &str| got.iter().filter(|p| p.3.iter().any(|c| c == r)).count();
    for r in ["dropped: fault", "dropped: loss", "dropped: checksum"] {
        assert!(reasons(r) > 0, "no {r} in this run: pick another seed");
    }
    // Outbound copies and delivered inbound ones decode with good
    // checksums; a checksum drop's bytes do not.
    for p in &packets {
        let decoded = wire::decode(&p.packet);
        assert_eq!(
            decoded.is_err(),
            p.comments == ["dropped: checksum"],
            "{p:?}"
        );
    }
}

/// Writes `left` bytes, then fails.
struct Failing {
    left: usize,
}

impl Write for Failing {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::other("disk full"));
        }
        let n = b.len().min(self.left);
        self.left -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_writer_stops_the_run_with_its_error() {
    let whole = noisy().build().unwrap().run();
    let r = noisy()
        .build_capturing(Capture::new().pcapng(Failing { left: 5000 }))
        .unwrap()
        .run();
    let e = r.capture_error.expect("the error");
    assert_eq!(e.format, CaptureFormat::Pcapng);
    assert_eq!(e.to_string(), "cannot write the pcapng capture: disk full");
    assert_eq!(r.stop_reason, StopReason::Capture);
    assert!(
        r.events < whole.events / 10,
        "{} of {} events",
        r.events,
        whole.events
    );

    // Even the file header failing: nothing runs.
    let r = noisy()
        .build_capturing(Capture::new().pcap(Failing { left: 0 }))
        .unwrap()
        .run();
    assert_eq!(r.capture_error.unwrap().format, CaptureFormat::Pcap);
    assert_eq!((r.stop_reason, r.events), (StopReason::Capture, 0));
}

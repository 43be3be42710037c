//! `tcpsim run --pcapng` (SPEC §6) end to end: the blocks read back by a
//! parser written here from draft-ietf-opsawg-pcapng, the packets by
//! their IPv4 and TCP headers (RFC 791, RFC 9293 §3.1), and the
//! expectations from configs/syn-lost.toml's derivation (RFC 6298's initial
//! RTO of 1 s, 50 ms each way).

use std::path::Path;
use std::process::{Command, Output};

use super::cli::scratch;

fn tcpsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the tcpsim binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// 2000-01-01T00:00:00Z in nanoseconds since 1970: the capture's time zero.
const EPOCH_NS: u64 = 946_684_800 * 1_000_000_000;
const MS: u64 = 1_000_000;

/// `epb_flags` direction bits (draft §4.3.1).
const INBOUND: u32 = 0b01;
const OUTBOUND: u32 = 0b10;

/// An interface (IDB).
#[derive(Debug)]
struct Interface {
    name: String,
    link_type: u16,
    tsresol: Option<u8>,
}

/// A packet (EPB).
#[derive(Debug)]
struct Packet {
    interface: u32,
    ts: u64,
    direction: u32,
    comments: Vec<String>,
    data: Vec<u8>,
}

impl Packet {
    /// The TCP control bits, RFC 9293 order: "S", "S.", ".", "F.".
    fn flags(&self) -> String {
        let ihl = usize::from(self.data[0] & 0x0f) * 4;
        let bits = self.data[ihl + 13];
        let mut s = String::new();
        for (bit, c) in [(0x01, 'F'), (0x02, 'S'), (0x04, 'R'), (0x08, 'P')] {
            if bits & bit != 0 {
                s.push(c);
            }
        }
        if bits & 0x10 != 0 {
            s.push('.');
        }
        s
    }

    /// The IPv4 source address's last octet (10.0.0.1 client, .2 server).
    fn src_host(&self) -> u8 {
        self.data[15]
    }
}

/// Reads a little-endian pcapng: one Section Header Block first, then
/// interfaces and packets, every block's two lengths equal.
fn parse(b: &[u8]) -> (Vec<Interface>, Vec<Packet>) {
    let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let u16_at = |at: usize| u16::from_le_bytes(b[at..at + 2].try_into().unwrap());
    let options = |mut at: usize, end: usize| {
        let mut out: Vec<(u16, Vec<u8>)> = Vec::new();
        while at < end {
            let (code, len) = (u16_at(at), usize::from(u16_at(at + 2)));
            if code == 0 {
                break;
            }
            out.push((code, b[at + 4..at + 4 + len].to_vec()));
            at += 4 + len.div_ceil(4) * 4;
        }
        out
    };
    assert_eq!(u32_at(0), 0x0A0D_0D0A, "a Section Header Block first");
    assert_eq!(u32_at(8), 0x1A2B_3C4D, "byte-order magic, little-endian");
    assert_eq!((u16_at(12), u16_at(14)), (1, 0), "version 1.0");
    let (mut interfaces, mut packets) = (Vec::new(), Vec::new());
    let mut at = 0;
    while at < b.len() {
        let (kind, len) = (u32_at(at), u32_at(at + 4) as usize);
        assert_eq!(len % 4, 0, "blocks are padded to 32 bits");
        assert_eq!(u32_at(at + len - 4) as usize, len, "trailing length");
        let end = at + len - 4;
        match kind {
            0x0A0D_0D0A => assert_eq!(at, 0, "one section"),
            1 => {
                let opts = options(at + 16, end);
                let opt = |code| opts.iter().find(|o| o.0 == code).map(|o| o.1.clone());
                interfaces.push(Interface {
                    name: String::from_utf8(opt(2).expect("if_name")).unwrap(),
                    link_type: u16_at(at + 8),
                    tsresol: opt(9).map(|v| v[0]),
                });
            }
            6 => {
                let caplen = u32_at(at + 20) as usize;
                assert_eq!(u32_at(at + 24) as usize, caplen, "nothing truncated");
                let data = b[at + 28..at + 28 + caplen].to_vec();
                let opts = options(at + 28 + caplen.div_ceil(4) * 4, end);
                let flags = opts.iter().find(|o| o.0 == 2).expect("epb_flags");
                packets.push(Packet {
                    interface: u32_at(at + 8),
                    ts: (u64::from(u32_at(at + 12)) << 32) | u64::from(u32_at(at + 16)),
                    direction: u32::from_le_bytes(flags.1[..].try_into().unwrap()) & 0b11,
                    comments: opts
                        .iter()
                        .filter(|o| o.0 == 1)
                        .map(|o| String::from_utf8(o.1.clone()).unwrap())
                        .collect(),
                    data,
                });
            }
            other => panic!("block type {other:#x}"),
        }
        at += len;
    }
    (interfaces, packets)
}

fn run_pcapng(dir: &Path, name: &str, config: &str) -> Vec<u8> {
    let out = dir.join(name);
    let o = tcpsim(&["run", config, "--quiet", "--pcapng", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::read(&out).unwrap()
}

/// configs/syn-lost.toml: the client's first SYN dropped by a fault at 0,
/// sent again when the initial RTO (1 s, RFC 6298 §2.1) expires, then the
/// handshake and a client-first close, 50 ms each way.
#[test]
fn syn_lost_pcapng_has_both_interfaces_every_copy_and_the_drop() {
    let dir = scratch("pcapng-syn-lost");
    let bytes = run_pcapng(&dir, "lost.pcapng", "configs/syn-lost.toml");
    let (interfaces, packets) = parse(&bytes);

    let names: Vec<_> = interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["client", "server"]);
    for i in &interfaces {
        assert_eq!(i.link_type, 101, "LINKTYPE_RAW");
        assert_eq!(i.tsresol, Some(9), "nanoseconds");
    }

    // (interface, direction, ms after the epoch, flags), in the order the
    // config's derivation gives: each segment outbound at its sender when
    // sent, inbound at its receiver 50 ms later.
    let (client, server) = (0, 1);
    let want = [
        (client, OUTBOUND, 0, "S"),    // dropped at the link's entrance
        (client, OUTBOUND, 1000, "S"), // RTO 1 s
        (server, INBOUND, 1000 + 50, "S"),
        (server, OUTBOUND, 1050, "S."),
        (client, INBOUND, 1050 + 50, "S."),
        (client, OUTBOUND, 1100, "."),
        (client, OUTBOUND, 1100, "F."),
        (server, INBOUND, 1100 + 50, "."),
        (server, INBOUND, 1100 + 50, "F."),
        (server, OUTBOUND, 1150, "."),
        (server, OUTBOUND, 1150, "F."),
        (client, INBOUND, 1150 + 50, "."),
        (client, INBOUND, 1150 + 50, "F."),
        (client, OUTBOUND, 1200, "."),
        (server, INBOUND, 1200 + 50, "."),
    ];
    let got: Vec<_> = packets
        .iter()
        .map(|p| (p.interface, p.direction, (p.ts - EPOCH_NS) / MS, p.flags()))
        .collect();
    let want: Vec<_> = want
        .iter()
        .map(|&(i, d, ms, f)| (i, d, ms, f.to_string()))
        .collect();
    assert_eq!(got, want);
    for p in &packets {
        assert_eq!((p.ts - EPOCH_NS) % MS, 0, "whole milliseconds");
    }

    // The drop is a comment on the first SYN's outbound copy, and only there.
    let commented: Vec<_> = packets
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.comments.is_empty())
        .map(|(i, p)| (i, p.comments.clone()))
        .collect();
    assert_eq!(commented, [(0, vec!["dropped: fault".to_string()])]);
    // The retransmission is the identical SYN, exactly 1 s later.
    assert_eq!(packets[1].data, packets[0].data);
    assert_eq!(packets[1].ts - packets[0].ts, 1_000_000_000);
    assert_eq!(packets[0].ts, EPOCH_NS);

    // Every outbound copy is on its sender's interface; every one that was
    // not dropped has exactly one inbound copy, the same bytes, on the
    // other interface 50 ms later.
    for (i, out) in packets.iter().enumerate() {
        if out.direction != OUTBOUND {
            continue;
        }
        assert_eq!(u32::from(out.src_host()) - 1, out.interface);
        let copies: Vec<_> = packets
            .iter()
            .filter(|p| p.direction == INBOUND && p.data == out.data)
            .filter(|p| p.ts == out.ts + 50 * MS)
            .collect();
        let expected = usize::from(i != 0);
        assert_eq!(copies.len(), expected, "packet {i}: {out:?}");
        for c in copies {
            assert_eq!(c.interface, 1 - out.interface);
        }
    }
}

#[test]
fn the_same_seed_writes_the_same_pcapng() {
    let dir = scratch("pcapng-determinism");
    let config = "configs/syn-lost.toml";
    let a = run_pcapng(&dir, "a.pcapng", config);
    let b = run_pcapng(&dir, "b.pcapng", config);
    assert_eq!(a, b);
    // And a run with data and a dropped data segment likewise.
    let c = run_pcapng(&dir, "c.pcapng", "configs/fast-retransmit.toml");
    let d = run_pcapng(&dir, "d.pcapng", "configs/fast-retransmit.toml");
    assert_eq!(c, d);
    assert_ne!(a, c);
}

/// `-` is standard output (the capture's bytes, nothing else); the report
/// goes to standard error. Both captures at once: each as it is alone.
#[test]
fn captures_to_stdout_and_both_at_once() {
    let dir = scratch("pcapng-stdout");
    let config = "configs/syn-lost.toml";
    let file = run_pcapng(&dir, "file.pcapng", config);

    let o = tcpsim(&["run", config, "--pcapng", "-"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(o.stdout, file);
    assert!(stderr(&o).contains("# syn-lost - seed 1"), "{}", stderr(&o));
    assert!(stderr(&o).contains("outcome closed"), "{}", stderr(&o));

    let alone = dir.join("alone.pcap");
    let o = tcpsim(&["run", config, "--quiet", "--pcap", alone.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = tcpsim(
        &["run", config, "--format", "json", "--pcap", "-", "--pcapng"]
            .into_iter()
            .chain([dir.join("both.pcapng").to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(o.stdout, std::fs::read(&alone).unwrap());
    assert_eq!(std::fs::read(dir.join("both.pcapng")).unwrap(), file);
    assert!(
        stderr(&o).starts_with('{'),
        "the report on stderr: {}",
        stderr(&o)
    );
}

#[test]
fn both_to_stdout_is_bad_usage_and_write_errors_are_internal() {
    let config = "configs/syn-lost.toml";
    let o = tcpsim(&["run", config, "--pcap", "-", "--pcapng", "-"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--pcap - and --pcapng - cannot both write to standard output"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());

    let o = tcpsim(&["run", config, "--pcap", "x.cap", "--pcapng", "x.cap"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // A file that cannot be made: nothing runs.
    let dir = scratch("pcapng-errors");
    let missing = dir.join("no-such-dir").join("out.pcapng");
    let o = tcpsim(&["run", config, "--pcapng", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot create"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());

    // A full disk: Linux's /dev/full refuses every write with ENOSPC.
    if Path::new("/dev/full").exists() {
        for flag in ["--pcap", "--pcapng"] {
            let o = tcpsim(&["run", config, flag, "/dev/full"]);
            assert_eq!(o.status.code(), Some(3), "{flag}: {}", stderr(&o));
            assert!(
                stderr(&o).contains("error: cannot write /dev/full: No space left on device"),
                "{flag}: {}",
                stderr(&o)
            );
            assert!(o.stdout.is_empty(), "no report after a failed capture");
        }
    }
}

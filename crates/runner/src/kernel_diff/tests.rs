//! Two runs built from one list of segments written relative to the ISNs,
//! each side with its own ISNs, timestamp clock and start time, then
//! changed where a test says.

use std::net::{Ipv4Addr, SocketAddrV4};

use tcpsim_tcp::{Flags, Options, SackBlocks, Segment, SeqNum, Timestamps, wire};

use super::*;

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const CLIENT_PORT: u16 = 40000;
const SERVER_PORT: u16 = 80;
const C2S: &str = "client:40000 > server:80";
const S2C: &str = "server:80 > client:40000";

const SYN: Flags = Flags::SYN;
const SA: Flags = Flags::SYN.union(Flags::ACK);
const A: Flags = Flags::ACK;
const PA: Flags = Flags::PSH.union(Flags::ACK);
const FA: Flags = Flags::FIN.union(Flags::ACK);

fn hosts() -> Vec<(String, Ipv4Addr)> {
    vec![("client".to_owned(), CLIENT), ("server".to_owned(), SERVER)]
}

/// One segment, its numbers relative to the ISNs and its time (µs) to the
/// first packet.
#[derive(Clone)]
struct Spec {
    at_us: u64,
    from_client: bool,
    flags: Flags,
    seq: u32,
    ack: u32,
    len: usize,
    syn_options: bool,
    /// SACK blocks, relative to the ISN of the data they cover (the
    /// peer's).
    sack: Vec<(u32, u32)>,
}

fn c(at_us: u64, flags: Flags, seq: u32, ack: u32, len: usize) -> Spec {
    Spec {
        at_us,
        from_client: true,
        flags,
        seq,
        ack,
        len,
        syn_options: flags.syn(),
        sack: Vec::new(),
    }
}

fn s(at_us: u64, flags: Flags, seq: u32, ack: u32, len: usize) -> Spec {
    Spec {
        from_client: false,
        ..c(at_us, flags, seq, ack, len)
    }
}

/// What one side chooses on its own.
struct Stack {
    client_isn: u32,
    server_isn: u32,
    ts_base: u32,
    start_us: u64,
}

const SIM: Stack = Stack {
    client_isn: 1000,
    server_isn: 5000,
    ts_base: 7,
    start_us: 3_000,
};

/// Near the top of sequence space, so relative numbers wrap.
const KERNEL: Stack = Stack {
    client_isn: u32::MAX - 50,
    server_isn: 59_085_135,
    ts_base: 3_976_512_351,
    start_us: 17_000,
};

fn packet(st: &Stack, sp: &Spec) -> Packet {
    let client = SocketAddrV4::new(CLIENT, CLIENT_PORT);
    let server = SocketAddrV4::new(SERVER, SERVER_PORT);
    let (src, dst, own, peer) = if sp.from_client {
        (client, server, st.client_isn, st.server_isn)
    } else {
        (server, client, st.server_isn, st.client_isn)
    };
    let ack = if sp.flags.ack() {
        peer.wrapping_add(sp.ack)
    } else {
        0
    };
    let mut seg = Segment::new(
        src,
        dst,
        SeqNum(own.wrapping_add(sp.seq)),
        SeqNum(ack),
        sp.flags,
        64240,
    );
    seg.payload = vec![b'a'; sp.len];
    let mut sack = SackBlocks::new();
    for &(l, r) in &sp.sack {
        sack.push(SeqNum(peer.wrapping_add(l)), SeqNum(peer.wrapping_add(r)));
    }
    let ms = u32::try_from(sp.at_us / 1000).unwrap();
    seg.options = Options {
        window_scale: sp.syn_options.then_some(7),
        sack_permitted: sp.syn_options,
        timestamps: Some(Timestamps {
            val: st.ts_base.wrapping_add(ms),
            ecr: st.ts_base / 3,
        }),
        sack,
    };
    seg.mss = sp.syn_options.then_some(1460);
    let mut bytes = Vec::new();
    wire::encode(&seg, &mut bytes);
    Packet {
        at_ns: (st.start_us + sp.at_us) * 1000,
        bytes,
    }
}

fn run(st: &Stack, specs: &[Spec]) -> Vec<Packet> {
    specs.iter().map(|sp| packet(st, sp)).collect()
}

/// A connection: handshake, 100 bytes, the client closes after 1 s.
/// Client rows: S A PA FA A; server rows: SA A FA.
fn exchange() -> Vec<Spec> {
    vec![
        c(0, SYN, 0, 0, 0),
        s(90_000, SA, 0, 1, 0),
        c(90_000, A, 1, 1, 0),
        c(90_000, PA, 1, 1, 100),
        s(180_000, A, 1, 101, 0),
        c(1_000_000, FA, 101, 1, 0),
        s(1_090_000, FA, 1, 102, 0),
        c(1_180_000, A, 102, 2, 0),
    ]
}

fn direction<'a>(cmp: &'a Comparison, name: &str) -> &'a Direction {
    cmp.directions.iter().find(|d| d.name == name).unwrap()
}

#[test]
fn identical_exchanges_match_whatever_the_isns_clocks_and_start_times() {
    let specs = exchange();
    let cmp = compare(&hosts(), &run(&SIM, &specs), &run(&KERNEL, &specs));
    assert!(cmp.matches, "{}", cmp.summary);
    assert_eq!(cmp.summary, "match");
    assert_eq!(cmp.divergence, None);
    let names: Vec<&str> = cmp.directions.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, [C2S, S2C]);
    for (name, from_client) in [(C2S, true), (S2C, false)] {
        let d = direction(&cmp, name);
        let want: Vec<&Spec> = specs
            .iter()
            .filter(|s| s.from_client == from_client)
            .collect();
        for rows in [&d.sim, &d.kernel] {
            assert_eq!(rows.len(), want.len(), "{name}");
            for (r, sp) in rows.iter().zip(&want) {
                assert_eq!(r.at_ns, sp.at_us * 1000, "{name}");
                assert_eq!((r.seq, r.len), (sp.seq, sp.len as u32), "{name}");
                assert_eq!(r.ack, sp.flags.ack().then_some(sp.ack), "{name}");
            }
        }
    }
    let syn = &direction(&cmp, C2S).kernel[0];
    assert_eq!(syn.flags, "S");
    assert_eq!(direction(&cmp, S2C).kernel[0].flags, "SA");
    assert_eq!(direction(&cmp, C2S).kernel[3].flags, "FA");
    // Linux's SYN layout (options.rs): 2 4 mss, 4 2 8 10 TS, 1 3 3 shift.
    assert_eq!(syn.option_kinds, [2, 4, 8, 1, 3]);
    assert_eq!(syn.options, "mss 1460,sackOK,TS,nop,wscale 7");
    assert_eq!(
        (
            syn.mss,
            syn.window_scale,
            syn.sack_permitted,
            syn.timestamps
        ),
        (Some(1460), Some(7), true, true)
    );
    assert_eq!(direction(&cmp, C2S).kernel[1].options, "nop,nop,TS");
}

#[test]
fn a_changed_flag_is_a_divergence_but_psh_is_not() {
    let specs = exchange();
    let mut other = specs.clone();
    other[5].flags = Flags::RST | Flags::ACK;
    let cmp = compare(&hosts(), &run(&SIM, &specs), &run(&KERNEL, &other));
    assert!(!cmp.matches);
    assert_eq!(
        cmp.divergence,
        Some(Divergence::Segment {
            direction: C2S.to_owned(),
            index: 3,
            fields: vec![Field::Flags],
            sim_at_ns: 1_000_000_000,
            kernel_at_ns: 1_000_000_000,
            slack_ns: 50_000_000,
        })
    );
    assert_eq!(
        cmp.summary,
        "client:40000 > server:80, segment 3: flags: simulation FA, kernel RA (time slack 50.000 ms)"
    );

    let mut pushed = specs.clone();
    pushed[2].flags = PA;
    pushed[5].flags = Flags::FIN | PA;
    let cmp = compare(&hosts(), &run(&SIM, &specs), &run(&KERNEL, &pushed));
    assert!(cmp.matches, "{}", cmp.summary);
    assert_eq!(direction(&cmp, C2S).kernel[3].flags, "FPA");
}

#[test]
fn a_wrong_relative_ack_is_a_divergence() {
    let specs = exchange();
    let mut other = specs.clone();
    other[4].ack = 100;
    let cmp = compare(&hosts(), &run(&SIM, &specs), &run(&KERNEL, &other));
    let d = direction(&cmp, S2C);
    assert_eq!((d.sim[1].ack, d.kernel[1].ack), (Some(101), Some(100)));
    assert!(matches!(
        &cmp.divergence,
        Some(Divergence::Segment { direction, index: 1, fields, .. })
            if direction == S2C && fields == &[Field::Ack]
    ));
    assert_eq!(direction(&cmp, C2S).divergence, None);
}

#[test]
fn a_missing_segment_is_a_divergence() {
    let specs = exchange();
    // The kernel's client does not send its last ACK.
    let short = &specs[..7];
    let cmp = compare(&hosts(), &run(&SIM, &specs), &run(&KERNEL, short));
    assert_eq!(
        cmp.divergence,
        Some(Divergence::Count {
            direction: C2S.to_owned(),
            index: 4,
            sim: 5,
            kernel: 4,
        })
    );
    assert_eq!(
        cmp.summary,
        "client:40000 > server:80: kernel sends 4 segments, simulation 5"
    );

    // The pure ACK of the handshake missing: row 1 is then the data.
    let mut gap = specs.clone();
    gap.remove(2);
    let cmp = compare(&hosts(), &run(&SIM, &specs), &run(&KERNEL, &gap));
    assert!(matches!(
        &cmp.divergence,
        Some(Divergence::Segment { index: 1, fields, .. }) if fields == &[Field::Len]
    ));
}

/// Moves the simulation's segment `i` to `at_us`, with the kernel's where
/// the exchange has it.
fn moved(i: usize, at_us: u64) -> Comparison {
    let specs = exchange();
    let mut sim = specs.clone();
    sim[i].at_us = at_us;
    compare(&hosts(), &run(&SIM, &sim), &run(&KERNEL, &specs))
}

#[test]
fn times_are_held_within_5_percent_or_10_ms() {
    // The SYN-ACK at 90 ms: 90 / 20 = 4.5 ms, so the slack is 10 ms.
    assert!(moved(1, 100_000).matches);
    assert!(moved(1, 80_000).matches);
    let late = moved(1, 100_001);
    assert_eq!(
        late.divergence,
        Some(Divergence::Segment {
            direction: S2C.to_owned(),
            index: 0,
            fields: vec![Field::Time],
            sim_at_ns: 100_001_000,
            kernel_at_ns: 90_000_000,
            slack_ns: 10_000_000,
        })
    );
    assert!(!moved(1, 79_999).matches);
    // The FIN at 1 s: 1000 / 20 = 50 ms.
    assert!(moved(5, 1_050_000).matches);
    assert!(moved(5, 950_000).matches);
    assert!(!moved(5, 1_050_001).matches);
    assert!(!moved(5, 949_999).matches);
}

#[test]
fn option_order_is_compared_but_timestamps_and_window_are_not() {
    let specs = exchange();
    let sim = run(&SIM, &specs);
    let mut kernel = run(&KERNEL, &specs);
    // The SYN's option area (after 20 + 20 header bytes) is `2 4 mss`,
    // `4 2 8 10 TSval TSecr`, `1 3 3 7`: swap its first and last words.
    // The TCP checksum sums 16-bit words, so it still holds.
    let syn = &mut kernel[0].bytes;
    let (mss, wscale) = ([2, 4, 0x05, 0xb4], [1, 3, 3, 7]);
    assert_eq!(syn[40..44], mss);
    assert_eq!(syn[56..60], wscale);
    syn[40..44].copy_from_slice(&wscale);
    syn[56..60].copy_from_slice(&mss);
    assert!(wire::decode(syn).is_ok());
    let cmp = compare(&hosts(), &sim, &kernel);
    assert!(matches!(
        &cmp.divergence,
        Some(Divergence::Segment { direction, index: 0, fields, .. })
            if direction == C2S && fields == &[Field::OptionKinds]
    ));
    let row = &direction(&cmp, C2S).kernel[0];
    assert_eq!(row.option_kinds, [1, 3, 4, 8, 2]);
    assert_eq!(row.options, "nop,wscale 7,sackOK,TS,mss 1460");

    // Other TSval/TSecr and window fields everywhere: still a match.
    let clock = Stack {
        ts_base: 1,
        ..KERNEL
    };
    let mut other = run(&clock, &specs);
    for p in &mut other {
        let mut seg = wire::decode(&p.bytes).unwrap();
        seg.window = seg.window.wrapping_add(513);
        p.bytes.clear();
        wire::encode(&seg, &mut p.bytes);
    }
    let cmp = compare(&hosts(), &sim, &other);
    assert!(cmp.matches, "{}", cmp.summary);
    assert_eq!(direction(&cmp, C2S).kernel[0].window, 64240 + 513);

    // A value differs: the window scale.
    let mut kernel = run(&KERNEL, &specs);
    let syn = &mut kernel[0].bytes;
    let mut seg = wire::decode(syn).unwrap();
    seg.options.window_scale = Some(8);
    syn.clear();
    wire::encode(&seg, syn);
    let cmp = compare(&hosts(), &sim, &kernel);
    assert!(matches!(
        &cmp.divergence,
        Some(Divergence::Segment { fields, .. }) if fields == &[Field::WindowScale]
    ));
}

#[test]
fn sack_edges_are_compared_relative_to_the_peers_isn() {
    let mut specs = exchange();
    // The server's ACK of the data also SACKs client bytes 201..301.
    specs[4].sack = vec![(201, 301)];
    let cmp = compare(&hosts(), &run(&SIM, &specs), &run(&KERNEL, &specs));
    assert!(cmp.matches, "{}", cmp.summary);
    let row = &direction(&cmp, S2C).kernel[1];
    assert_eq!(row.sack, [[201, 301]]);
    assert_eq!(row.options, "nop,nop,TS,nop,nop,sack 1 {201:301}");

    let mut other = specs.clone();
    other[4].sack = vec![(201, 302)];
    let cmp = compare(&hosts(), &run(&SIM, &specs), &run(&KERNEL, &other));
    assert!(matches!(
        &cmp.divergence,
        Some(Divergence::Segment { direction, index: 1, fields, .. })
            if direction == S2C && fields == &[Field::Sack]
    ));
    assert!(cmp.summary.contains("{201:301}") && cmp.summary.contains("{201:302}"));
}

#[test]
fn a_second_syn_on_the_same_four_tuple_rebases() {
    let first = [
        c(0, SYN, 0, 0, 0),
        s(10_000, SA, 0, 1, 0),
        c(10_000, A, 1, 1, 0),
        c(20_000, FA, 1, 1, 0),
        s(30_000, FA, 1, 2, 0),
        c(40_000, A, 2, 2, 0),
    ];
    let second = [
        c(500_000, SYN, 0, 0, 0),
        s(510_000, SA, 0, 1, 0),
        c(510_000, A, 1, 1, 0),
    ];
    // The new ISNs move by other amounts on each side.
    let again = |st: &Stack, by: u32| Stack {
        client_isn: st.client_isn.wrapping_add(by),
        server_isn: st.server_isn.wrapping_add(3 * by),
        ..*st
    };
    let side = |st: &Stack, by: u32| {
        let mut p = run(st, &first);
        p.extend(run(&again(st, by), &second));
        p
    };
    let cmp = compare(&hosts(), &side(&SIM, 100_000), &side(&KERNEL, 7));
    assert!(cmp.matches, "{}", cmp.summary);
    let client = direction(&cmp, C2S);
    let server = direction(&cmp, S2C);
    assert_eq!((client.kernel[4].seq, client.kernel[5].ack), (0, Some(1)));
    assert_eq!((server.kernel[2].seq, server.kernel[2].ack), (0, Some(1)));
}

#[test]
fn an_undecodable_packet_is_listed_and_is_a_divergence() {
    let specs = exchange();
    let mut kernel = run(&KERNEL, &specs);
    // A payload byte flipped: the TCP checksum fails.
    let last = kernel[3].bytes.len() - 1;
    kernel[3].bytes[last] ^= 0xff;
    kernel.push(Packet {
        at_ns: 2_000_000_000,
        bytes: Vec::new(),
    });
    kernel.push(Packet {
        at_ns: 2_000_000_000,
        bytes: vec![0x45; 30],
    });
    let cmp = compare(&hosts(), &run(&SIM, &specs), &kernel);
    assert!(!cmp.matches);
    assert_eq!(cmp.undecodable.len(), 3);
    assert_eq!(
        cmp.undecodable[0],
        Undecodable {
            side: Side::Kernel,
            packet: 3,
            at_ns: 90_000_000,
            error: "bad TCP checksum".to_owned(),
        }
    );
    assert_eq!(
        cmp.summary,
        "kernel packet 3 (at 90.000 ms) does not decode: bad TCP checksum"
    );
    assert_eq!(
        cmp.divergence,
        Some(Divergence::Undecodable(cmp.undecodable[0].clone()))
    );
    let v = serde_json::to_value(&cmp.divergence).unwrap();
    assert_eq!(
        (&v["kind"], &v["side"], &v["packet"]),
        (&"undecodable".into(), &"kernel".into(), &3.into())
    );
    // Without the data segment (PA 1 1, 100 bytes at 90 ms), the client's
    // row 2 is its FIN (FA 101 1 at 1 s).
    assert!(matches!(
        &direction(&cmp, C2S).divergence,
        Some(Divergence::Segment { index: 2, fields, .. })
            if fields == &[Field::Flags, Field::Seq, Field::Len, Field::Time]
    ));
}

#[test]
fn directions_are_named_and_ordered_by_first_appearance() {
    let specs = exchange();
    let mut kernel = run(&KERNEL, &specs);
    // A kernel-only direction from an address no host has.
    let stray = Segment::new(
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 9), 5),
        SocketAddrV4::new(SERVER, SERVER_PORT),
        SeqNum(1),
        SeqNum(0),
        SYN,
        0,
    );
    let mut bytes = Vec::new();
    wire::encode(&stray, &mut bytes);
    kernel.insert(
        0,
        Packet {
            at_ns: KERNEL.start_us * 1000,
            bytes,
        },
    );
    // The simulation's server speaks first.
    let mut sim = run(&SIM, &specs);
    sim.swap(0, 1);
    let cmp = compare(&hosts(), &sim, &kernel);
    let names: Vec<&str> = cmp.directions.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, [S2C, C2S, "10.0.0.9:5 > server:80"]);
    let stray = &cmp.directions[2];
    assert_eq!((stray.sim.len(), stray.kernel.len()), (0, 1));
    assert_eq!(stray.kernel[0].seq, 0, "re-based at its SYN");
}

#[test]
fn text_marks_the_first_divergent_row_and_says_what_differs() {
    let mut specs = exchange();
    specs[4].sack = vec![(201, 301), (401, 501), (601, 701)];
    let mut other = specs.clone();
    other[4].ack = 100;
    let cmp = compare(&hosts(), &run(&SIM, &specs), &run(&KERNEL, &other));
    let text = cmp.render_text("simulation", "kernel");
    for line in text.lines() {
        assert!(line.len() <= 120, "{} columns: {line}", line.len());
    }
    let marked: Vec<&str> = text.lines().filter(|l| l.starts_with(">> ")).collect();
    assert_eq!(marked.len(), 2, "{text}");
    // The row: index 1, both sides' cells (time 180.000 ms, A, seq 1).
    let row = marked[0];
    let (left, right) = row.split_once(" | ").unwrap();
    let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        words(left),
        [">>", "1", "180.000", "A", "1", "101", "0", "64240"]
    );
    assert_eq!(words(right), ["180.000", "A", "1", "100", "0", "64240"]);
    assert_eq!(
        marked[1],
        ">> server:80 > client:40000, segment 1: ack: simulation 101, kernel 100 (time slack 10.000 ms)"
    );
    // The three SACK blocks are under the row, on both sides.
    let below = text
        .lines()
        .skip_while(|l| !l.starts_with(">> "))
        .nth(1)
        .unwrap();
    assert_eq!(
        below.matches("nop,nop,TS,nop,nop,sack 3").count(),
        2,
        "{text}"
    );
    assert!(text.ends_with(&format!("verdict: divergence: {}\n", marked[1][3..].trim())));
    assert!(text.contains("server:80 > client:40000: simulation 3 segments, kernel 3\n"));

    // A segment only the simulation sends: the kernel's side says so.
    let mut fewer = specs.clone();
    fewer.pop();
    let cmp = compare(&hosts(), &run(&SIM, &specs), &run(&KERNEL, &fewer));
    let text = cmp.render_text("simulation", "kernel");
    let row = text.lines().find(|l| l.starts_with(">> 4 ")).unwrap();
    assert!(row.ends_with(" | (no segment)"), "{row}");

    let same = compare(&hosts(), &run(&SIM, &specs), &run(&KERNEL, &specs));
    let text = same.render_text("simulation", "kernel");
    assert!(!text.contains(">>"));
    assert!(text.lines().last().unwrap().starts_with("verdict: match"));
}

#[test]
fn json_has_both_sequences_and_the_verdict() {
    let specs = exchange();
    let mut other = specs.clone();
    other.pop();
    let cmp = compare(&hosts(), &run(&SIM, &specs), &run(&KERNEL, &other));
    let v = serde_json::to_value(&cmp).unwrap();
    assert_eq!(v["matches"], false);
    assert_eq!(v["divergence"]["kind"], "count");
    assert_eq!(v["divergence"]["kernel"], 4);
    let d = &v["directions"][0];
    assert_eq!(d["name"], C2S);
    assert_eq!(d["src"], "10.0.0.1:40000");
    assert_eq!(d["sim"].as_array().unwrap().len(), 5);
    assert_eq!(d["kernel"][0]["flags"], "S");
    assert_eq!(d["kernel"][0]["ack"], serde_json::Value::Null);
    assert_eq!(
        d["kernel"][0]["option_kinds"],
        serde_json::json!([2, 4, 8, 1, 3])
    );
    assert_eq!(d["kernel"][1]["ack"], 1);
    assert_eq!(v["directions"][1]["divergence"], serde_json::Value::Null);
}

#[test]
fn kernel_outcomes_are_the_same_by_the_same_rule_with_the_slack_of_the_second() {
    let specs = exchange();
    let a = run(&SIM, &specs);
    let b = run(&KERNEL, &specs);
    assert!(same_outcome(&hosts(), &a, &b));
    // The FIN 51 ms late in `a`: beyond 5 % of b's 1 s (50 ms), within 5 %
    // of a's 1.051 s (52.55 ms).
    let mut late = specs.clone();
    late[5].at_us = 1_051_000;
    let a = run(&SIM, &late);
    assert!(!same_outcome(&hosts(), &a, &b));
    assert!(same_outcome(&hosts(), &b, &a));
    let mut fewer = specs.clone();
    fewer.pop();
    assert!(!same_outcome(&hosts(), &run(&SIM, &fewer), &b));
}

#[test]
fn empty_runs_match_and_anything_decodes_without_panic() {
    assert!(compare(&hosts(), &[], &[]).matches);
    let junk: Vec<Packet> = (0..64u8)
        .map(|n| Packet {
            at_ns: u64::from(n),
            bytes: (0..n).map(|i| i.wrapping_mul(37) ^ n).collect(),
        })
        .collect();
    let cmp = compare(&hosts(), &junk, &junk);
    assert!(!cmp.matches);
    assert_eq!(cmp.undecodable.len(), 2 * junk.len());
    let _ = cmp.render_text("a", "b");
}

// The bulk rule (SPEC §5): aggregates instead of every ACK.

const FPA: Flags = Flags::FIN.union(Flags::PSH).union(Flags::ACK);

/// Octets of each data segment of [`bulk`].
const SEG: u32 = 1000;

/// A bulk transfer over a 20 ms path: SYN at 0, SYN-ACK at 10 ms, the
/// handshake's ACK at 20 ms (the round: 20 ms). Flight k holds `flights[k]`
/// segments of [`SEG`] octets from 20 ms + k × 20 ms + 10 µs, 10 µs apart;
/// the last carries the FIN. The server acknowledges every `every`-th
/// segment (but the last) 10 ms after it was sent; 10 ms after the FIN it
/// sends FA acknowledging everything, and the client ACKs it 10 ms later.
/// Data segment j (from 0) is seq 1 + j × SEG.
fn bulk(flights: &[u32], every: u32) -> Vec<Spec> {
    let mut v = vec![
        c(0, SYN, 0, 0, 0),
        s(10_000, SA, 0, 1, 0),
        c(20_000, A, 1, 1, 0),
    ];
    let total: u32 = flights.iter().sum();
    let mut j = 0;
    for (k, &n) in flights.iter().enumerate() {
        for i in 0..n {
            let at = 20_000 + k as u64 * 20_000 + 10 * (u64::from(i) + 1);
            let last = j + 1 == total;
            v.push(c(
                at,
                if last { FPA } else { A },
                1 + j * SEG,
                1,
                SEG as usize,
            ));
            if last {
                let end = 1 + total * SEG;
                v.push(s(at + 10_000, FA, 1, end + 1, 0));
                v.push(c(at + 20_000, A, end + 1, 2, 0));
            } else if (j + 1) % every == 0 {
                v.push(s(at + 10_000, A, 1, 1 + (j + 1) * SEG, 0));
            }
            j += 1;
        }
    }
    v.sort_by_key(|sp| sp.at_us);
    v
}

/// The time of the FA of [`bulk`], µs: 10 ms after the last data segment.
fn fin_ack_us(flights: &[u32]) -> u64 {
    let k = flights.len() as u64 - 1;
    20_000 + k * 20_000 + 10 * u64::from(*flights.last().unwrap()) + 10_000
}

#[test]
fn a_bulk_transfer_is_compared_by_aggregates_so_batched_acks_match() {
    // 10 + 20 segments; the simulation ACKs every second segment, the kernel
    // every fifth: other ACKs, the same transfer.
    let flights = [10, 20];
    let cmp = compare(
        &hosts(),
        &run(&SIM, &bulk(&flights, 2)),
        &run(&KERNEL, &bulk(&flights, 5)),
    );
    assert!(cmp.matches, "{}", cmp.summary);
    assert_eq!(cmp.method, Method::Auto);
    let d = direction(&cmp, C2S);
    let a = d.aggregates.as_ref().expect("30 data segments > 16: bulk");
    assert_eq!(a.round_ns, Some(20_000_000));
    for t in [&a.sim, &a.kernel] {
        assert_eq!(t.data_segments, 30);
        assert_eq!(t.octets, u64::from(30 * SEG));
        assert_eq!(t.rounds, [10, 20]);
        assert_eq!(t.retransmitted, 0);
        // Acknowledged by the FA: 10 ms after the 20th segment of flight 1.
        assert_eq!(t.all_acked_ns, Some(fin_ack_us(&flights) * 1000));
        assert_eq!(t.final_cwnd, None);
    }
    // Control: the SYN, the handshake's ACK, the FIN (on data) and the ACK
    // of the server's bare FIN; the server's SYN-ACK and FA.
    let flags = |rows: &[Row], idx: &[usize]| -> Vec<String> {
        idx.iter().map(|&i| rows[i].flags.clone()).collect()
    };
    assert_eq!(flags(&d.kernel, &a.kernel_control), ["S", "A", "FPA", "A"]);
    let back = direction(&cmp, S2C);
    let b = back.aggregates.as_ref().expect("the connection is bulk");
    assert_eq!(flags(&back.sim, &b.sim_control), ["SA", "FA"]);
    assert_eq!(b.sim.rounds, Vec::<u32>::new());
    assert_eq!(b.sim.all_acked_ns, None);
    // 15 ACKs against 6 (the 5th, 10th, ... 25th) and the FA.
    assert_eq!((back.sim.len(), back.kernel.len()), (1 + 14 + 1, 1 + 5 + 1));

    // Segment by segment, the other ACKs diverge.
    let packets = (
        run(&SIM, &bulk(&flights, 2)),
        run(&KERNEL, &bulk(&flights, 5)),
    );
    let runs = (
        Run {
            packets: &packets.0,
            cwnd: &[],
        },
        Run {
            packets: &packets.1,
            cwnd: &[],
        },
    );
    let seg = compare_with(&hosts(), Method::Segments, runs.0, runs.1);
    assert!(!seg.matches);
    assert!(seg.directions.iter().all(|d| d.aggregates.is_none()));
    assert!(
        seg.summary
            .starts_with("server:80 > client:40000, segment 1: ack: simulation 2001, kernel 5001"),
        "{}",
        seg.summary
    );
}

#[test]
fn bulk_means_more_than_16_data_segments_in_a_direction_of_the_simulation() {
    for (n, bulk_expected) in [(16, false), (17, true)] {
        let cmp = compare(
            &hosts(),
            &run(&SIM, &bulk(&[n], 1)),
            &run(&KERNEL, &bulk(&[n], 1)),
        );
        assert!(cmp.matches, "{n}: {}", cmp.summary);
        for d in &cmp.directions {
            assert_eq!(d.aggregates.is_some(), bulk_expected, "{n} {}", d.name);
        }
    }
    // Forced: a small exchange by aggregates matches itself too.
    let specs = exchange();
    let (a, b) = (run(&SIM, &specs), run(&KERNEL, &specs));
    let r = |p| Run {
        packets: p,
        cwnd: &[],
    };
    let cmp = compare_with(&hosts(), Method::Aggregates, r(&a), r(&b));
    assert!(cmp.matches, "{}", cmp.summary);
    let d = direction(&cmp, C2S).aggregates.as_ref().unwrap();
    // 100 octets in one segment at 90 ms, acknowledged at 180 ms; the round
    // is the handshake, 90 ms.
    assert_eq!(d.kernel.octets, 100);
    assert_eq!(d.kernel.rounds, [1]);
    assert_eq!(d.kernel.all_acked_ns, Some(180_000_000));
    assert_eq!(d.round_ns, Some(90_000_000));
}

#[test]
fn a_round_off_by_more_than_its_slack_is_the_divergence() {
    // 30 segments either way, 14 + 16 against the kernel's 10 + 20: round 0
    // differs by 4, more than max(2, 10 % of 10).
    let cmp = compare(
        &hosts(),
        &run(&SIM, &bulk(&[14, 16], 2)),
        &run(&KERNEL, &bulk(&[10, 20], 2)),
    );
    assert_eq!(
        cmp.divergence,
        Some(Divergence::Aggregate {
            direction: C2S.to_owned(),
            aggregate: Aggregate::Rounds,
            round: Some(0),
            sim: Some(14),
            kernel: Some(10),
            allowed: 2,
        })
    );
    assert_eq!(
        cmp.summary,
        "client:40000 > server:80: data segments in round 0: simulation 14, kernel 10 (allowed ±2)"
    );
    // 12 + 18: 2 and 2 off, within max(2, 1) and max(2, 2).
    let near = compare(
        &hosts(),
        &run(&SIM, &bulk(&[12, 18], 2)),
        &run(&KERNEL, &bulk(&[10, 20], 2)),
    );
    assert!(near.matches, "{}", near.summary);
    // A third round of 40 against 45: 10 % of 45 is 4 (integer), 5 is over.
    let far = compare(
        &hosts(),
        &run(&SIM, &bulk(&[10, 20, 45], 2)),
        &run(&KERNEL, &bulk(&[10, 15, 50], 2)),
    );
    match far.divergence {
        Some(Divergence::Aggregate {
            aggregate: Aggregate::Rounds,
            round: Some(1),
            allowed: 2,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn other_octets_retransmissions_and_completion_times_are_divergences() {
    let flights = [10, 20];
    let base = bulk(&flights, 2);
    // One more segment of data: 31 000 octets against 30 000. The FIN's
    // place, a control segment's, says so first (control segment 2, the
    // FPA: 31 001 against 30 001).
    let cmp = compare(
        &hosts(),
        &run(&SIM, &bulk(&[10, 21], 2)),
        &run(&KERNEL, &base),
    );
    match &cmp.divergence {
        Some(Divergence::Segment {
            index: 2, fields, ..
        }) => assert_eq!(fields, &[Field::End]),
        other => panic!("{other:?}"),
    }
    // Without the close (no FIN, no FA), the octets do.
    let open = |mut v: Vec<Spec>| {
        v.retain(|sp| sp.flags != FA && !(sp.from_client && sp.ack == 2));
        for sp in &mut v {
            if sp.flags == FPA {
                sp.flags = PA;
            }
        }
        v
    };
    let cmp = compare(
        &hosts(),
        &run(&SIM, &open(bulk(&[10, 21], 2))),
        &run(&KERNEL, &open(base.clone())),
    );
    match &cmp.divergence {
        Some(Divergence::Aggregate {
            aggregate: Aggregate::Octets,
            sim: Some(31_000),
            kernel: Some(30_000),
            allowed: 0,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // The kernel sends segment 3 (seq 3001) again right after the flight:
    // the same octets, one retransmission, one more segment in round 1.
    let mut again = base.clone();
    again.push(c(40_300, A, 1 + 3 * SEG, 1, SEG as usize));
    again.sort_by_key(|sp| sp.at_us);
    let cmp = compare(&hosts(), &run(&SIM, &base), &run(&KERNEL, &again));
    let d = direction(&cmp, C2S).aggregates.clone().unwrap();
    assert_eq!((d.kernel.octets, d.kernel.retransmitted), (30_000, 1));
    assert_eq!(d.kernel.rounds, [10, 21]);
    match &cmp.divergence {
        Some(Divergence::Aggregate {
            aggregate: Aggregate::Retransmitted,
            sim: Some(0),
            kernel: Some(1),
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // The FA: 10 ms after the last segment, 40 ms + 20 x 10 µs.
    let fa = fin_ack_us(&flights);
    assert_eq!(fa, 50_200);
    let n = base.len();
    assert_eq!(base[n - 2].flags, FA);
    // The kernel's FA (and the client's last ACK) 20 ms later: control
    // segments more than 10 ms off, the client's ACK of the FA first (its
    // direction comes first).
    let shifted = |by: u64| {
        let mut v = base.clone();
        v[n - 2].at_us += by;
        v[n - 1].at_us += by;
        v
    };
    let cmp = compare(&hosts(), &run(&SIM, &base), &run(&KERNEL, &shifted(20_000)));
    match &cmp.divergence {
        Some(Divergence::Segment {
            index: 3,
            fields,
            direction,
            ..
        }) => {
            assert_eq!(direction, C2S);
            assert_eq!(fields, &[Field::Time]);
        }
        other => panic!("{other:?}"),
    }
    let fa_row = &direction(&cmp, S2C).divergence;
    assert!(
        matches!(fa_row, Some(Divergence::Segment { index: 1, .. })),
        "{fa_row:?}"
    );
    // 8 ms later: within 10 ms, the FA and the time until all is
    // acknowledged (58.2 ms against 50.2 ms).
    assert!(compare(&hosts(), &run(&SIM, &base), &run(&KERNEL, &shifted(8_000))).matches);
    // The simulation ACKs the data (not the FIN) at 45 ms: all acknowledged
    // 13.2 ms before the kernel's 58.2 ms, more than max(5 % of 58.2 ms,
    // 10 ms).
    let mut early = base.clone();
    early.push(s(45_000, A, 1, 1 + 30 * SEG, 0));
    early.sort_by_key(|sp| sp.at_us);
    let cmp = compare(&hosts(), &run(&SIM, &early), &run(&KERNEL, &shifted(8_000)));
    assert_eq!(
        cmp.divergence,
        Some(Divergence::Aggregate {
            direction: C2S.to_owned(),
            aggregate: Aggregate::AllAcked,
            round: None,
            sim: Some(45_000_000),
            kernel: Some(58_200_000),
            allowed: 10_000_000,
        })
    );
    assert_eq!(
        cmp.summary,
        "client:40000 > server:80: time until all data is acknowledged: simulation 45.000 ms, \
         kernel 58.200 ms (allowed ±10.000 ms)"
    );
}

#[test]
fn the_final_cwnd_is_compared_within_20_percent_where_both_sides_know_it() {
    let flights = [10, 20];
    let (a, b) = (
        run(&SIM, &bulk(&flights, 2)),
        run(&KERNEL, &bulk(&flights, 5)),
    );
    let client = SocketAddrV4::new(CLIENT, CLIENT_PORT);
    let server = SocketAddrV4::new(SERVER, SERVER_PORT);
    let cwnd = |octets| {
        [Cwnd {
            src: client,
            dst: server,
            octets,
        }]
    };
    let (k, near, far) = (cwnd(20_000), cwnd(24_000), cwnd(24_001));
    let cmp = |s: &[Cwnd], k: &[Cwnd]| {
        compare_with(
            &hosts(),
            Method::Auto,
            Run {
                packets: &a,
                cwnd: s,
            },
            Run {
                packets: &b,
                cwnd: k,
            },
        )
    };
    // 20 % of 20 000 is 4 000.
    assert!(cmp(&near, &k).matches);
    let off = cmp(&far, &k);
    assert_eq!(
        off.divergence,
        Some(Divergence::Aggregate {
            direction: C2S.to_owned(),
            aggregate: Aggregate::FinalCwnd,
            round: None,
            sim: Some(24_001),
            kernel: Some(20_000),
            allowed: 4_000,
        })
    );
    // Known on one side only: not compared.
    assert!(cmp(&far, &[]).matches);
    // The least slack is one segment of 1448: 2 000 against 3 449.
    assert!(!cmp(&cwnd(3_449), &cwnd(2_000)).matches);
    assert!(cmp(&cwnd(3_448), &cwnd(2_000)).matches);
}

#[test]
fn the_ack_of_a_fin_on_data_is_batching_but_the_handshake_is_compared() {
    let flights = [10, 20];
    let base = bulk(&flights, 2);
    // The kernel ACKs the data and the FIN alone, 40 µs before its FA.
    let mut alone = base.clone();
    let end = 1 + 30 * SEG;
    alone.push(s(fin_ack_us(&flights) - 40, A, 1, end + 1, 0));
    alone.sort_by_key(|sp| sp.at_us);
    let cmp = compare(&hosts(), &run(&SIM, &base), &run(&KERNEL, &alone));
    assert!(cmp.matches, "{}", cmp.summary);
    // The handshake's ACK 30 ms late is a control segment's time.
    let mut late = base.clone();
    late[2].at_us = 50_000;
    let cmp = compare(&hosts(), &run(&SIM, &base), &run(&KERNEL, &late));
    match &cmp.divergence {
        Some(Divergence::Segment {
            index: 1,
            fields,
            direction,
            ..
        }) => {
            assert_eq!(direction, C2S);
            assert_eq!(fields, &[Field::Time]);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        cmp.summary.contains("control segment 1: time"),
        "{}",
        cmp.summary
    );
    // The FIN on a shorter last segment that ends at the same octet: its
    // end is compared, not its seq and length.
    let mut short = base.clone();
    let fin = short.iter().position(|sp| sp.flags == FPA).unwrap();
    short[fin].seq += 500;
    short[fin].len -= 500;
    let prev = fin - 1;
    short[prev].len += 500;
    let cmp = compare(&hosts(), &run(&SIM, &base), &run(&KERNEL, &short));
    assert!(cmp.matches, "{}", cmp.summary);
    short[fin].len -= 1;
    let cmp = compare(&hosts(), &run(&SIM, &base), &run(&KERNEL, &short));
    match &cmp.divergence {
        Some(Divergence::Segment { fields, .. }) => assert_eq!(fields, &[Field::End]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn text_and_json_show_the_aggregates_side_by_side() {
    let cmp = compare(
        &hosts(),
        &run(&SIM, &bulk(&[14, 16], 2)),
        &run(&KERNEL, &bulk(&[10, 20], 5)),
    );
    let text = cmp.render_text("simulation", "kernel");
    for line in text.lines() {
        assert!(line.len() <= 120, "{} columns: {line}", line.len());
    }
    assert!(
        text.contains("compared by aggregates (bulk); control segments: simulation 4, kernel 4")
    );
    let marked: Vec<&str> = text.lines().filter(|l| l.starts_with(">> ")).collect();
    assert_eq!(marked.len(), 2, "{text}");
    let words: Vec<&str> = marked[0].split_whitespace().collect();
    assert_eq!(
        words,
        [
            ">>",
            "data",
            "segments,",
            "round",
            "0",
            "(from",
            "+0.000",
            "ms)",
            "14",
            "10",
            "±2"
        ]
    );
    let round1 = text
        .lines()
        .find(|l| l.contains("round 1 (from +10.000 ms)"))
        .unwrap();
    assert!(round1.starts_with("   "), "{round1}");
    assert!(text.contains("payload octets"));
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("final cwnd (octets)")
                && l.ends_with("not compared"))
    );
    let v = serde_json::to_value(&cmp).unwrap();
    assert_eq!(v["method"], "auto");
    assert_eq!(v["divergence"]["kind"], "aggregate");
    assert_eq!(v["divergence"]["aggregate"], "rounds");
    let a = &v["directions"][0]["aggregates"];
    assert_eq!(a["round_ns"], 20_000_000);
    assert_eq!(a["sim"]["rounds"], serde_json::json!([14, 16]));
    assert_eq!(a["kernel"]["octets"], 30_000);
    assert_eq!(a["kernel_control"].as_array().unwrap().len(), 4);
    assert_eq!(
        v["directions"][1]["aggregates"]["sim"]["all_acked_ns"],
        serde_json::Value::Null
    );
}

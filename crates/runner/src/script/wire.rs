//! Segments between the script's notation and the endpoint's: the option
//! list a live segment carries on the wire, and a live segment written the
//! way a script line writes it.

use std::fmt::Write as _;

use tcpsim_tcp::{Flags, Segment};

use super::plan::TcpOption;

/// The options of a live segment in wire order, as the script names them
/// (the encoder's bytes walked back: NOP and EOL included).
pub fn live_options(seg: &Segment) -> Vec<TcpOption> {
    let mut bytes = Vec::with_capacity(40);
    seg.options.write(seg.mss, &mut bytes);
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let kind = bytes[i];
        match kind {
            0 => {
                out.push(TcpOption::Eol);
                i += 1;
            }
            1 => {
                out.push(TcpOption::Nop);
                i += 1;
            }
            _ => {
                let len = usize::from(bytes.get(i + 1).copied().unwrap_or(2)).max(2);
                let body = &bytes[(i + 2).min(bytes.len())..(i + len).min(bytes.len())];
                let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                match (kind, body.len()) {
                    (2, 2) => out.push(TcpOption::Mss(u16::from_be_bytes([body[0], body[1]]))),
                    (3, 1) => out.push(TcpOption::WindowScale(body[0])),
                    (4, 0) => out.push(TcpOption::SackPermitted),
                    (8, 8) => out.push(TcpOption::Timestamps {
                        val: be32(&body[..4]),
                        ecr: be32(&body[4..]),
                    }),
                    (5, n) if n % 8 == 0 => out.push(TcpOption::Sack(
                        body.chunks(8)
                            .map(|c| (be32(&c[..4]), be32(&c[4..])))
                            .collect(),
                    )),
                    _ => {}
                }
                i += len;
            }
        }
    }
    out
}

/// The flags as a script writes them: `S.`, `P.`, `F.`, `R`, `.`, `-`.
pub fn flag_letters(flags: Flags) -> String {
    let mut s = String::new();
    for (bit, letter) in [
        (Flags::FIN, 'F'),
        (Flags::SYN, 'S'),
        (Flags::RST, 'R'),
        (Flags::PSH, 'P'),
        (Flags::URG, 'U'),
        (Flags::ECE, 'E'),
        (Flags::CWR, 'W'),
    ] {
        if flags.contains(bit) {
            s.push(letter);
        }
    }
    if flags.ack() {
        s.push('.');
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}

/// An option list as a script writes it: `<mss 1460,nop,wscale 8>`.
pub fn options_text(options: &[TcpOption]) -> String {
    let mut s = String::from("<");
    for (i, o) in options.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        match o {
            TcpOption::Nop => s.push_str("nop"),
            TcpOption::Eol => s.push_str("eol"),
            TcpOption::Mss(m) => {
                let _ = write!(s, "mss {m}");
            }
            TcpOption::WindowScale(w) => {
                let _ = write!(s, "wscale {w}");
            }
            TcpOption::SackPermitted => s.push_str("sackOK"),
            TcpOption::Sack(blocks) => {
                s.push_str("sack");
                for (l, r) in blocks {
                    let _ = write!(s, " {l}:{r}");
                }
            }
            TcpOption::Timestamps { val, ecr } => {
                let _ = write!(s, "TS val {val} ecr {ecr}");
            }
        }
    }
    s.push('>');
    s
}

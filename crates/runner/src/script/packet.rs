//! Packet lines: `< S 0:0(0) win 65535 <mss 1460,sackOK>`, with the IP
//! information, ports, flags, sequence numbers, `ack`, `win`, `urg`, the
//! TCP options and a fuzzing block; and the UDP and ICMP lines.
//!
//! The checks packetdrill makes while it parses a packet are made here
//! too: the flags' letters (and an ACE digit not mixed with `E`, `W`,
//! `A`), `end = start + len`, the ranges of every number, a window on
//! every inbound packet, `<...>` and `[ect01]` only on outbound ones.

use super::ast::{
    Direction, Ecn, EventKind, IcmpEchoed, IcmpLine, IpInfo, PacketLine, Pos, SeqRange, TcpFlags,
    TcpOption, TcpOptions, UdpLine,
};
use super::error::ScriptError;
use super::lex::{Kind, Token, short};
use super::parse::{Parser, expected};
use super::{MAX_SACK_BLOCKS, MAX_TCP_OPTIONS};

/// The flag characters packetdrill knows, in its order.
const FLAG_CHARS: &str = ".FSRPEWAU01234567";

/// The words that start an encapsulation prefix in packetdrill
/// (`ipv4 A > B: ...`, `gre: ...`, `mpls (...): ...`).
const ENCAPSULATIONS: [&str; 5] = ["ipv4", "ipv6", "gre", "GREv0", "mpls"];

impl<'a> Parser<'a> {
    /// A packet line after its `<` (`inbound`) or `>` at `dir_pos`.
    pub(super) fn packet(&mut self, inbound: bool, dir_pos: Pos) -> Result<EventKind, ScriptError> {
        let direction = if inbound {
            Direction::Inbound
        } else {
            Direction::Outbound
        };
        let t = self.peek()?;
        if t.kind == Kind::Word && ENCAPSULATIONS.contains(&t.text) {
            return Err(self.err(
                t.pos,
                format!(
                    "encapsulation prefixes (`{}` before the packet) are not supported",
                    t.text
                ),
            ));
        }
        let ip = if t.is('[') || t.is('(') {
            Some(self.ip_info(direction)?)
        } else {
            None
        };
        let t = self.peek()?;
        if t.is_word("udp") {
            self.next()?;
            return self.udp(direction, ip);
        }
        if t.is_word("icmp") {
            self.next()?;
            return self.icmp(direction, ip);
        }
        let ports = self.ports()?;
        let flags_tok = self.lx.flags()?;
        let flags = self.tcp_flags(&flags_tok)?;
        let seq = self.seq_range()?;
        let ack = if self.peek()?.is_word("ack") {
            self.next()?;
            Some(self.uint("the ack number", u32::MAX.into())? as u32)
        } else {
            None
        };
        let win = if self.peek()?.is_word("win") {
            self.next()?;
            Some(self.uint("the TCP window", u16::MAX.into())? as u16)
        } else {
            None
        };
        let urg = if self.peek()?.is_word("urg") {
            self.next()?;
            Some(self.uint("the urgent pointer", u16::MAX.into())? as u16)
        } else {
            None
        };
        let mut options = None;
        let mut option_positions = Vec::new();
        let mut options_pos = None;
        let open = self.peek()?;
        if open.is('<') {
            self.next()?;
            options_pos = Some(open.pos);
            if self.peek()?.kind == Kind::Ellipsis {
                self.next()?;
                self.expect('>', "`>` after `<...`")?;
                if inbound {
                    return Err(self.err(
                        open.pos,
                        "`<...>` for TCP options can only be used with outbound packets (`>`)",
                    ));
                }
                options = Some(TcpOptions::Wildcard);
            } else {
                let mut list = Vec::new();
                loop {
                    let at = self.peek()?.pos;
                    if list.len() == MAX_TCP_OPTIONS {
                        return Err(self.err(
                            at,
                            format!(
                                "too many TCP options: at most {MAX_TCP_OPTIONS} in one packet"
                            ),
                        ));
                    }
                    list.push(self.tcp_option()?);
                    option_positions.push(at);
                    let t = self.next()?;
                    if t.is('>') {
                        break;
                    }
                    if !t.is(',') {
                        return Err(
                            self.err(t.pos, expected("`,` or `>` in the TCP option list", &t))
                        );
                    }
                }
                options = Some(TcpOptions::List(list));
            }
        }
        let fuzz = if self.peek()?.is('{') {
            let open = self.next()?;
            Some(
                self.lx
                    .raw_until('}', open.pos, "fuzzing block `{`")?
                    .trim()
                    .to_owned(),
            )
        } else {
            None
        };
        if inbound && win.is_none() {
            return Err(self.err(
                dir_pos,
                "an inbound packet needs its window: add `win N` after the sequence numbers and `ack`",
            ));
        }
        let after = self.peek()?;
        if after.kind == Kind::Word {
            return Err(self.err(
                after.pos,
                format!(
                    "unexpected {} in the packet; a TCP packet is FLAGS START:END(LEN) \
                     [ack N] [win N] [urg N] [<OPTIONS>], in that order",
                    after.describe()
                ),
            ));
        }
        Ok(EventKind::Packet(PacketLine {
            direction,
            ip,
            ports,
            flags,
            flags_pos: flags_tok.pos,
            seq,
            ack,
            win,
            urg,
            options,
            option_positions,
            options_pos,
            fuzz,
        }))
    }

    /// `SRC>DST` before the flags, if there.
    fn ports(&mut self) -> Result<Option<(u16, u16)>, ScriptError> {
        let t = self.peek()?;
        if t.kind != Kind::Number || !self.lx.peek2()?.is('>') {
            return Ok(None);
        }
        let src = self.uint("the source port", u16::MAX.into())? as u16;
        self.next()?;
        let dst = self.uint("the destination port", u16::MAX.into())? as u16;
        Ok(Some((src, dst)))
    }

    fn tcp_flags(&mut self, t: &Token<'_>) -> Result<TcpFlags, ScriptError> {
        let mut flags = TcpFlags {
            text: t.text.to_owned(),
            ..TcpFlags::default()
        };
        if t.text == "-" {
            return Ok(flags);
        }
        if t.text.is_empty() {
            let found = self.peek()?;
            return Err(self.err(
                t.pos,
                expected(
                    "the TCP flags (such as `S`, `S.`, `P.`, `F.`, `R`, or `-` for none)",
                    &found,
                ),
            ));
        }
        let mut ecn_letter = false;
        for (i, c) in t.text.chars().enumerate() {
            let at = Pos {
                line: t.pos.line,
                column: t.pos.column + i as u32,
            };
            if !FLAG_CHARS.contains(c) {
                return Err(self.err(
                    at,
                    format!(
                        "expected a TCP flag (S F R P . E W U A, or an ACE digit 0-7), found `{c}`"
                    ),
                ));
            }
            if flags.ack && !(c.is_ascii_digit() && flags.ace.is_none()) {
                return Err(self.err(
                    at,
                    format!(
                        "`.` (ACK) goes last in the TCP flags (`S.`, `F.`, `P.`), or before an \
                         ACE digit only; found `{c}` after it"
                    ),
                ));
            }
            let conflict = (matches!(c, 'E' | 'W' | 'A') && flags.ace.is_some())
                || (c.is_ascii_digit() && (ecn_letter || flags.ace.is_some()));
            if conflict {
                return Err(self.err(
                    at,
                    format!(
                        "conflicting TCP flag `{c}`: an ACE digit stands for E, W and A together, \
                         and there is at most one"
                    ),
                ));
            }
            match c {
                'S' => flags.syn = true,
                'F' => flags.fin = true,
                'R' => flags.rst = true,
                'P' => flags.psh = true,
                '.' => flags.ack = true,
                'U' => flags.urg = true,
                'E' => flags.ece = true,
                'W' => flags.cwr = true,
                'A' => flags.ae = true,
                _ => flags.ace = Some(c as u8 - b'0'),
            }
            ecn_letter |= matches!(c, 'E' | 'W' | 'A');
        }
        Ok(flags)
    }

    /// `START:END(LEN)`.
    pub(super) fn seq_range(&mut self) -> Result<SeqRange, ScriptError> {
        let at = self.peek()?.pos;
        let what = "the sequence numbers START:END(LENGTH)";
        let t = self.peek()?;
        if t.kind != Kind::Number {
            return Err(self.err(t.pos, expected(what, &t)));
        }
        let start = self.uint("the start sequence number", u32::MAX.into())?;
        self.expect(':', "`:` in the sequence numbers START:END(LENGTH)")?;
        let end = self.uint("the end sequence number", u32::MAX.into())?;
        self.expect('(', "`(` and the payload length in START:END(LENGTH)")?;
        let len = self.uint("the TCP payload size", u16::MAX.into())?;
        self.expect(')', "`)` after the payload length")?;
        if start + len != end {
            return Err(self.err(
                at,
                format!(
                    "inconsistent TCP sequence numbers and payload size: {start} + {len} is {}, not {end}",
                    start + len
                ),
            ));
        }
        Ok(SeqRange {
            start: start as u32,
            end: end as u32,
            len: len as u32,
        })
    }

    /// `[ect0]`, `(tos 0x10, flowlabel 0x1)`, `[ttl 64]`.
    fn ip_info(&mut self, direction: Direction) -> Result<IpInfo, ScriptError> {
        let open = self.next()?;
        let close = if open.is('[') { ']' } else { ')' };
        let mut info = IpInfo {
            line: open.pos.line,
            column: open.pos.column,
            ecn: None,
            tos: None,
            flow_label: None,
            ttl: None,
        };
        loop {
            let t = self.next()?;
            let dup = |p: &Self, set: bool| {
                if set {
                    Err(p.err(
                        t.pos,
                        format!("`{}` given twice in the IP information", t.text),
                    ))
                } else {
                    Ok(())
                }
            };
            let ecn = match t.text {
                "noecn" => Some(Ecn::NotEct),
                "ect0" => Some(Ecn::Ect0),
                "ect1" => Some(Ecn::Ect1),
                "ect01" => Some(Ecn::Ect01),
                "ce" => Some(Ecn::Ce),
                _ => None,
            };
            match (t.kind, ecn) {
                (Kind::Word, Some(ecn)) => {
                    dup(self, info.ecn.is_some())?;
                    if ecn == Ecn::Ect01 && direction == Direction::Inbound {
                        return Err(self.err(
                            t.pos,
                            "`ect01` can only be used with outbound packets (`>`)",
                        ));
                    }
                    info.ecn = Some(ecn);
                }
                (Kind::Word, None) if t.text == "tos" => {
                    dup(self, info.tos.is_some())?;
                    info.tos = Some(self.any_uint("the TOS byte", 0xff)? as u8);
                }
                (Kind::Word, None) if t.text == "flowlabel" => {
                    dup(self, info.flow_label.is_some())?;
                    info.flow_label = Some(self.any_uint("the flow label", 0xf_ffff)? as u32);
                }
                (Kind::Word, None) if t.text == "ttl" => {
                    dup(self, info.ttl.is_some())?;
                    info.ttl = Some(self.uint("the TTL", 0xff)? as u8);
                }
                _ => {
                    return Err(self.err(
                        t.pos,
                        expected(
                            "IP information (noecn, ect0, ect1, ect01, ce, tos 0xNN, flowlabel \
                             0xNNNNN or ttl N)",
                            &t,
                        ),
                    ));
                }
            }
            let t = self.next()?;
            if t.is(close) {
                return Ok(info);
            }
            if !t.is(',') {
                return Err(self.err(
                    t.pos,
                    expected(&format!("`,` or `{close}` in the IP information"), &t),
                ));
            }
        }
    }

    /// A decimal or hexadecimal number of at most `max`.
    fn any_uint(&mut self, what: &str, max: u64) -> Result<u64, ScriptError> {
        let t = self.peek()?;
        if t.kind != Kind::Hex {
            return self.uint(what, max);
        }
        self.next()?;
        let digits = t.text[2..].trim_start_matches('0');
        match u64::from_str_radix(if digits.is_empty() { "0" } else { digits }, 16) {
            Ok(v) if digits.len() <= 16 && v <= max => Ok(v),
            _ => Err(self.err(
                t.pos,
                format!(
                    "{what} out of range: at most {max:#x}, found `{}`",
                    short(t.text)
                ),
            )),
        }
    }

    fn tcp_option(&mut self) -> Result<TcpOption, ScriptError> {
        let t = self.next()?;
        let word = if t.kind == Kind::Word { t.text } else { "" };
        Ok(match word {
            "nop" => TcpOption::Nop,
            "eol" => TcpOption::Eol,
            "mss" => TcpOption::Mss(self.uint("the MSS", u16::MAX.into())? as u16),
            "wscale" => {
                if self.peek()?.is('*') {
                    self.next()?;
                    TcpOption::WScaleAny
                } else {
                    TcpOption::WScale(
                        self.uint("the window scale shift count", u8::MAX.into())? as u8
                    )
                }
            }
            "sackOK" => TcpOption::SackOk,
            "sack" => {
                let mut blocks = Vec::new();
                while self.peek()?.kind == Kind::Number {
                    let at = self.peek()?.pos;
                    if blocks.len() == MAX_SACK_BLOCKS {
                        return Err(self.err(
                            at,
                            format!(
                                "too many SACK blocks: at most {MAX_SACK_BLOCKS} in one option"
                            ),
                        ));
                    }
                    let left = self.uint("the SACK block's left edge", u32::MAX.into())? as u32;
                    self.expect(':', "`:` in the SACK block LEFT:RIGHT")?;
                    let right = self.uint("the SACK block's right edge", u32::MAX.into())? as u32;
                    blocks.push((left, right));
                }
                if blocks.is_empty() {
                    let t = self.peek()?;
                    return Err(
                        self.err(t.pos, expected("a SACK block LEFT:RIGHT after `sack`", &t))
                    );
                }
                TcpOption::Sack(blocks)
            }
            "TS" => {
                self.expect_word("val", "`val` in `TS val N ecr N`")?;
                let val = self.uint("the TSval", u32::MAX.into())? as u32;
                self.expect_word("ecr", "`ecr` in `TS val N ecr N`")?;
                let ecr = self.uint("the TSecr", u32::MAX.into())? as u32;
                TcpOption::Timestamp { val, ecr }
            }
            "FO" => TcpOption::FastOpen(self.hex_blob(false)?),
            "FOEXP" => TcpOption::FastOpenExp(self.hex_blob(false)?),
            "md5" => TcpOption::Md5(self.hex_blob(true)?.unwrap_or_default()),
            "ECN" => {
                let mut fields = Vec::new();
                while self.peek()?.kind == Kind::Word {
                    let name = self.next()?;
                    if !matches!(name.text, "e0b" | "ceb" | "e1b") {
                        return Err(self.err(
                            name.pos,
                            expected("an AccECN counter (`e0b`, `ceb` or `e1b`)", &name),
                        ));
                    }
                    if fields.iter().any(|(n, _)| n == name.text) {
                        return Err(self.err(
                            name.pos,
                            format!("`{}` given twice in the AccECN option", name.text),
                        ));
                    }
                    let v = self.uint(&format!("the `{}` counter", name.text), 0xff_ffff)? as u32;
                    fields.push((name.text.to_owned(), v));
                }
                TcpOption::AccEcn(fields)
            }
            _ => {
                return Err(self.err(
                    t.pos,
                    expected(
                        "a TCP option (nop, eol, mss, wscale, sackOK, sack, TS, FO, FOEXP, md5 or ECN)",
                        &t,
                    ),
                ));
            }
        })
    }

    /// A cookie or digest: hex digits or a symbol, as written; optional
    /// unless `required`.
    fn hex_blob(&mut self, required: bool) -> Result<Option<String>, ScriptError> {
        let t = self.peek()?;
        if matches!(t.kind, Kind::Word | Kind::Number | Kind::Hex) {
            self.next()?;
            Ok(Some(t.text.to_owned()))
        } else if required {
            Err(self.err(t.pos, expected("the digest (hex digits)", &t)))
        } else {
            Ok(None)
        }
    }

    /// `udp [SRC>DST] (LEN)`, after `udp`.
    fn udp(&mut self, direction: Direction, ip: Option<IpInfo>) -> Result<EventKind, ScriptError> {
        let ports = self.ports()?;
        self.expect('(', "`(` and the UDP payload length")?;
        let len = self.uint("the UDP payload size", u16::MAX.into())? as u16;
        self.expect(')', "`)` after the UDP payload length")?;
        Ok(EventKind::Udp(UdpLine {
            direction,
            ip,
            ports,
            len,
        }))
    }

    /// `icmp TYPE [CODE] [mtu N] [id N] [[ECHOED]]`, after `icmp`.
    fn icmp(&mut self, direction: Direction, ip: Option<IpInfo>) -> Result<EventKind, ScriptError> {
        let t = self.next()?;
        if t.kind != Kind::Word {
            return Err(self.err(t.pos, expected("the ICMP type (such as `unreachable`)", &t)));
        }
        let icmp_type = t.text.to_owned();
        let c = self.peek()?;
        let code = if c.kind == Kind::Word && c.text != "mtu" && c.text != "id" {
            self.next()?;
            Some(c.text.to_owned())
        } else {
            None
        };
        let mtu = if self.peek()?.is_word("mtu") {
            self.next()?;
            Some(self.uint("the MTU", u32::MAX.into())? as u32)
        } else {
            None
        };
        let id = if self.peek()?.is_word("id") {
            self.next()?;
            Some(self.uint("the echo id", u16::MAX.into())? as u16)
        } else {
            None
        };
        let echoed = if self.peek()?.is('[') {
            self.next()?;
            let t = self.peek()?;
            let echoed = if t.is_word("udp") || t.is_word("raw") {
                self.next()?;
                self.expect('(', "`(` and the payload length")?;
                let len = self.uint("the payload size", u16::MAX.into())? as u16;
                self.expect(')', "`)` after the payload length")?;
                if t.text == "udp" {
                    IcmpEchoed::Udp(len)
                } else {
                    IcmpEchoed::Raw(len)
                }
            } else {
                IcmpEchoed::Tcp(self.seq_range()?)
            };
            self.expect(']', "`]` after the quoted packet")?;
            Some(echoed)
        } else {
            None
        };
        Ok(EventKind::Icmp(IcmpLine {
            direction,
            ip,
            icmp_type,
            code,
            mtu,
            id,
            echoed,
        }))
    }
}

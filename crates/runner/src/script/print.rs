//! The syntax tree written back as packetdrill script text, in one
//! canonical form: each event on its own line, times as seconds with at
//! most six decimals, single spaces, options and fields separated by `,`
//! (`, ` in expressions). Comments and the original spacing are gone.
//!
//! What is printed parses back to the same tree (positions aside), so an
//! interpreter can show a line as the script says it (`> S. 0:0(0) ack 1
//! <mss 1460>`) and tests can check that parsing loses nothing.

use core::fmt;

use super::ast::{
    Command, Event, EventKind, EventTime, Expr, ExprKind, Field, IcmpEchoed, IcmpLine, IpInfo,
    Micros, OptionLine, PacketLine, Script, SeqRange, Syscall, TcpOption, TcpOptions, UdpLine,
};
use super::lex::Lexer;

/// Seconds with at most six decimals, trailing zeros dropped: `0`, `0.1`,
/// `1.000001`.
struct Seconds(Micros);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, micros) = (self.0 / 1_000_000, self.0 % 1_000_000);
        if micros == 0 {
            return write!(f, "{secs}");
        }
        let frac = format!("{micros:06}");
        write!(f, "{secs}.{}", frac.trim_end_matches('0'))
    }
}

/// `a, b, c`.
fn list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T], sep: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for o in &self.options {
            writeln!(f, "{o}")?;
        }
        if let Some(c) = &self.init_command {
            writeln!(f, "{c}")?;
        }
        for e in &self.events {
            writeln!(f, "{e}")?;
        }
        if let Some(c) = &self.cleanup_command {
            writeln!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for OptionLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--{}", self.name)?;
        match &self.value {
            None => Ok(()),
            Some(v) if reads_back_raw(v) => write!(f, "={v}"),
            Some(v) => write!(f, "=\"{v}\""),
        }
    }
}

/// Whether an option value written as it is reads back whole, as itself.
fn reads_back_raw(v: &str) -> bool {
    if v.is_empty() {
        return false;
    }
    let mut lx = Lexer::over("", v);
    matches!(lx.option_value(), Ok((_, read, false)) if read == v)
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.text)
    }
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EventTime::Absolute(t) => write!(f, "{}", Seconds(t)),
            EventTime::Relative(t) => write!(f, "+{}", Seconds(t)),
            EventTime::Any => f.write_str("*"),
            EventTime::AbsoluteRange(a, b) => write!(f, "{}~{}", Seconds(a), Seconds(b)),
            EventTime::RelativeRange(a, b) => write!(f, "+{}~+{}", Seconds(a), Seconds(b)),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.time)?;
        if let EventKind::Syscall(Syscall { end: Some(end), .. }) = &self.kind {
            write!(f, "...{}", Seconds(*end))?;
        }
        write!(f, " {}", self.kind)
    }
}

impl fmt::Display for EventKind {
    /// The action alone; a blocking call's `...END` is part of the
    /// [`Event`]'s time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Packet(p) => write!(f, "{p}"),
            EventKind::Udp(u) => write!(f, "{u}"),
            EventKind::Icmp(i) => write!(f, "{i}"),
            EventKind::Syscall(s) => write!(f, "{s}"),
            EventKind::Command(c) => write!(f, "`{c}`"),
            EventKind::Code(c) => write!(f, "%{{ {c} }}%"),
        }
    }
}

impl fmt::Display for IpInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        if let Some(e) = self.ecn {
            items.push(e.to_string());
        }
        if let Some(t) = self.tos {
            items.push(format!("tos {t:#04x}"));
        }
        if let Some(l) = self.flow_label {
            items.push(format!("flowlabel {l:#x}"));
        }
        if let Some(t) = self.ttl {
            items.push(format!("ttl {t}"));
        }
        f.write_str("[")?;
        list(f, &items, ",")?;
        f.write_str("]")
    }
}

impl fmt::Display for SeqRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}({})", self.start, self.end, self.len)
    }
}

impl fmt::Display for PacketLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.direction)?;
        if let Some(ip) = &self.ip {
            write!(f, " {ip}")?;
        }
        if let Some((s, d)) = self.ports {
            write!(f, " {s}>{d}")?;
        }
        write!(f, " {} {}", self.flags.text, self.seq)?;
        if let Some(a) = self.ack {
            write!(f, " ack {a}")?;
        }
        if let Some(w) = self.win {
            write!(f, " win {w}")?;
        }
        if let Some(u) = self.urg {
            write!(f, " urg {u}")?;
        }
        match &self.options {
            None => {}
            Some(TcpOptions::Wildcard) => f.write_str(" <...>")?,
            Some(TcpOptions::List(opts)) => {
                f.write_str(" <")?;
                list(f, opts, ",")?;
                f.write_str(">")?;
            }
        }
        if let Some(z) = &self.fuzz {
            write!(f, " {{{z}}}")?;
        }
        Ok(())
    }
}

impl fmt::Display for TcpOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpOption::Nop => f.write_str("nop"),
            TcpOption::Eol => f.write_str("eol"),
            TcpOption::Mss(m) => write!(f, "mss {m}"),
            TcpOption::WScale(s) => write!(f, "wscale {s}"),
            TcpOption::WScaleAny => f.write_str("wscale *"),
            TcpOption::SackOk => f.write_str("sackOK"),
            TcpOption::Sack(blocks) => {
                f.write_str("sack")?;
                for (l, r) in blocks {
                    write!(f, " {l}:{r}")?;
                }
                Ok(())
            }
            TcpOption::Timestamp { val, ecr } => write!(f, "TS val {val} ecr {ecr}"),
            TcpOption::FastOpen(c) => blob(f, "FO", c.as_deref()),
            TcpOption::FastOpenExp(c) => blob(f, "FOEXP", c.as_deref()),
            TcpOption::Md5(d) => blob(f, "md5", Some(d)),
            TcpOption::AccEcn(fields) => {
                f.write_str("ECN")?;
                for (n, v) in fields {
                    write!(f, " {n} {v}")?;
                }
                Ok(())
            }
        }
    }
}

fn blob(f: &mut fmt::Formatter<'_>, name: &str, value: Option<&str>) -> fmt::Result {
    match value {
        Some(v) => write!(f, "{name} {v}"),
        None => f.write_str(name),
    }
}

impl fmt::Display for UdpLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.direction)?;
        if let Some(ip) = &self.ip {
            write!(f, " {ip}")?;
        }
        f.write_str(" udp")?;
        if let Some((s, d)) = self.ports {
            write!(f, " {s}>{d}")?;
        }
        write!(f, " ({})", self.len)
    }
}

impl fmt::Display for IcmpLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.direction)?;
        if let Some(ip) = &self.ip {
            write!(f, " {ip}")?;
        }
        write!(f, " icmp {}", self.icmp_type)?;
        if let Some(c) = &self.code {
            write!(f, " {c}")?;
        }
        if let Some(m) = self.mtu {
            write!(f, " mtu {m}")?;
        }
        if let Some(i) = self.id {
            write!(f, " id {i}")?;
        }
        match self.echoed {
            None => Ok(()),
            Some(IcmpEchoed::Tcp(s)) => write!(f, " [{s}]"),
            Some(IcmpEchoed::Udp(n)) => write!(f, " [udp ({n})]"),
            Some(IcmpEchoed::Raw(n)) => write!(f, " [raw ({n})]"),
        }
    }
}

impl fmt::Display for Syscall {
    /// The call and its result; a blocking call's `...END` is part of the
    /// [`Event`]'s time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name)?;
        list(f, &self.args, ", ")?;
        write!(f, ") = {}", self.result)?;
        if let Some((errno, note)) = &self.errno {
            write!(f, " {errno}")?;
            if let Some(n) = note {
                write!(f, " ({n})")?;
            }
        }
        if let Some(n) = &self.note {
            write!(f, " ({n})")?;
        }
        Ok(())
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Ellipsis => f.write_str("..."),
            ExprKind::Int(n) => write!(f, "{n}"),
            ExprKind::Hex(n) => write!(f, "{n:#x}"),
            ExprKind::Symbol(s) => f.write_str(s),
            ExprKind::Str(s) => write!(f, "\"{s}\""),
            ExprKind::StrEllipsis(s) => write!(f, "\"{s}\"..."),
            ExprKind::List(items) => {
                f.write_str("[")?;
                list(f, items, ", ")?;
                f.write_str("]")
            }
            ExprKind::Struct(fields) => {
                f.write_str("{")?;
                list(f, fields, ", ")?;
                f.write_str("}")
            }
            ExprKind::BinaryOr(a, b) => write!(f, "{a}|{b}"),
            ExprKind::Call(name, args) => {
                write!(f, "{name}(")?;
                list(f, args, ", ")?;
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.name {
            f.write_str(name)?;
            if let Some(arg) = &self.arg {
                write!(f, "({arg})")?;
            }
            f.write_str("=")?;
        }
        write!(f, "{}", self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_drop_trailing_zeros() {
        assert_eq!(Seconds(0).to_string(), "0");
        assert_eq!(Seconds(100_000).to_string(), "0.1");
        assert_eq!(Seconds(1_000_001).to_string(), "1.000001");
        assert_eq!(Seconds(2_000_000).to_string(), "2");
    }
}

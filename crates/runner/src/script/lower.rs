//! From the syntax tree to a [`Plan`]: option lines to settings, shell
//! commands to sysctl settings, symbols to numbers, calls to the ones
//! tcpsim plays. Whatever tcpsim cannot play is refused here with its
//! position and what is missing (exit 2), never played wrongly.

use std::collections::BTreeMap;

use tcpsim_tcp::{Config, Flags};

use super::ast::{self, EventKind, EventTime, ExprKind};
use super::code::parse_asserts;
use super::error::ScriptError;
use super::plan::{
    Action, Call, CallKind, GetOption, Micros, Packet, PacketOptions, Plan, PollFd, SetOption,
    Settings, Shut, Step, TcpOption, When,
};
use super::sockets::Errno;
use super::sysctl::{self, Effect, Memory};

/// The configuration a script starts with, and what its shell lines did.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// The plan.
    pub plan: Plan,
    /// The endpoint's configuration at the start: the profile with the
    /// script's sysctls (and the command line's) applied.
    pub config: Config,
    /// One line per sysctl or shell command that had no effect, for
    /// `--verbose`.
    pub notes: Vec<String>,
}

/// What the command line adds to a script.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--sysctl NAME=V`, applied after the script's own.
    pub sysctls: Vec<(String, String)>,
    /// `--tolerance`: replaces `--tolerance_usecs`.
    pub tolerance_usecs: Option<Micros>,
    /// `--set tcp.X=V`, applied last.
    pub tcp: crate::TcpOverrides,
    /// `--verbose`: keep the whole exchange in [`super::Played::log`].
    pub log: bool,
}

/// Symbols a call's arguments may name, with their Linux values.
const SYMBOLS: &[(&str, i64)] = &[
    ("AF_INET", 2),
    ("PF_INET", 2),
    ("AF_UNSPEC", 0),
    ("SOCK_STREAM", 1),
    ("SOCK_NONBLOCK", 0o4000),
    ("IPPROTO_TCP", 6),
    ("IPPROTO_IP", 0),
    ("SOL_SOCKET", 1),
    ("SOL_TCP", 6),
    ("SO_REUSEADDR", 2),
    ("SO_ERROR", 4),
    ("SO_SNDBUF", 7),
    ("SO_RCVBUF", 8),
    ("SO_LINGER", 13),
    ("TCP_NODELAY", 1),
    ("TCP_MAXSEG", 2),
    ("TCP_USER_TIMEOUT", 18),
    ("F_GETFL", 3),
    ("F_SETFL", 4),
    ("O_RDONLY", 0),
    ("O_WRONLY", 1),
    ("O_RDWR", 2),
    ("O_NONBLOCK", 0o4000),
    ("SHUT_RD", 0),
    ("SHUT_WR", 1),
    ("SHUT_RDWR", 2),
    ("SIOCINQ", 0x541B),
    ("FIONREAD", 0x541B),
    ("SIOCOUTQ", 0x5411),
    ("TIOCOUTQ", 0x5411),
    ("NULL", 0),
    ("POLLIN", 0x0001),
    ("POLLPRI", 0x0002),
    ("POLLOUT", 0x0004),
    ("POLLERR", 0x0008),
    ("POLLHUP", 0x0010),
    ("POLLNVAL", 0x0020),
    ("POLLRDNORM", 0x0040),
    ("POLLRDBAND", 0x0080),
    ("POLLWRNORM", 0x0100),
    ("POLLWRBAND", 0x0200),
    ("POLLRDHUP", 0x2000),
];

fn symbol(name: &str) -> Option<i64> {
    SYMBOLS.iter().find(|s| s.0 == name).map(|s| s.1)
}

struct Lowering<'a> {
    file: &'a str,
    defines: BTreeMap<String, String>,
}

impl Lowering<'_> {
    fn err<T>(&self, line: u32, column: u32, message: impl Into<String>) -> Result<T, ScriptError> {
        Err(ScriptError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        })
    }

    /// The integer value of an argument: a number, a symbol, a define, or
    /// `A|B`.
    fn int(&self, e: &ast::Expr) -> Result<i64, ScriptError> {
        match &e.kind {
            ExprKind::Int(v) => Ok(*v),
            ExprKind::Hex(v) => i64::try_from(*v).or_else(|_| {
                self.err(
                    e.line,
                    e.column,
                    "hexadecimal value too large (limit 2^63-1)",
                )
            }),
            ExprKind::Symbol(s) => {
                if let Some(v) = self.defines.get(s) {
                    let v = v.trim();
                    return match v.strip_prefix("0x") {
                        Some(h) => i64::from_str_radix(h, 16).ok(),
                        None => v.parse().ok().or_else(|| symbol(v)),
                    }
                    .map_or_else(
                        || {
                            self.err(
                                e.line,
                                e.column,
                                format!("the define {s}={v} is not an integer or a known symbol"),
                            )
                        },
                        Ok,
                    );
                }
                symbol(s).map_or_else(
                    || {
                        self.err(
                            e.line,
                            e.column,
                            format!(
                                "unknown symbol `{s}` (tcpsim knows: {})",
                                SYMBOLS.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")
                            ),
                        )
                    },
                    Ok,
                )
            }
            ExprKind::BinaryOr(a, b) => Ok(self.int(a)? | self.int(b)?),
            ExprKind::List(items) if items.len() == 1 => self.int(&items[0]),
            _ => self.err(e.line, e.column, "expected an integer, a symbol or `A|B`"),
        }
    }

    fn fd(&self, e: &ast::Expr) -> Result<i64, ScriptError> {
        self.int(e)
    }

    fn ellipsis(&self, e: &ast::Expr, what: &str) -> Result<(), ScriptError> {
        match e.kind {
            ExprKind::Ellipsis => Ok(()),
            _ => self.err(
                e.line,
                e.column,
                format!("expected `...` for {what} (tcpsim fills in the script's addresses)"),
            ),
        }
    }

    fn count(&self, e: &ast::Expr) -> Result<usize, ScriptError> {
        let v = self.int(e)?;
        usize::try_from(v)
            .ok()
            .filter(|&n| n <= MAX_IO)
            .map_or_else(
                || {
                    self.err(
                        e.line,
                        e.column,
                        format!("expected a byte count 0..={MAX_IO}, found {v}"),
                    )
                },
                Ok,
            )
    }

    fn args<'e>(
        &self,
        call: &'e ast::Syscall,
        n: &[usize],
    ) -> Result<&'e [ast::Expr], ScriptError> {
        if n.contains(&call.args.len()) {
            return Ok(&call.args);
        }
        let want = n
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        self.err(
            call.line,
            call.column,
            format!(
                "{}() takes {want} arguments, found {}",
                call.name,
                call.args.len()
            ),
        )
    }

    /// One system call.
    fn call(&self, c: &ast::Syscall) -> Result<Call, ScriptError> {
        let kind = match c.name.as_str() {
            "socket" => {
                let a = self.args(c, &[3])?;
                if !matches!(a[0].kind, ExprKind::Ellipsis) && self.int(&a[0])? != 2 {
                    return self.err(
                        a[0].line,
                        a[0].column,
                        "only AF_INET sockets are simulated (IPv4)",
                    );
                }
                let ty = self.int(&a[1])?;
                if ty & !0o4000 != 1 {
                    return self.err(
                        a[1].line,
                        a[1].column,
                        "only SOCK_STREAM sockets are simulated (TCP), optionally | SOCK_NONBLOCK",
                    );
                }
                let proto = self.int(&a[2])?;
                if proto != 6 && proto != 0 {
                    return self.err(a[2].line, a[2].column, "expected IPPROTO_TCP");
                }
                CallKind::Socket {
                    nonblocking: ty & 0o4000 != 0,
                }
            }
            "bind" => {
                let a = self.args(c, &[3])?;
                self.ellipsis(&a[1], "the address")?;
                self.ellipsis(&a[2], "the address length")?;
                CallKind::Bind(self.fd(&a[0])?)
            }
            "listen" => {
                let a = self.args(c, &[2])?;
                self.int(&a[1])?;
                CallKind::Listen(self.fd(&a[0])?)
            }
            "accept" => {
                let a = self.args(c, &[3])?;
                CallKind::Accept(self.fd(&a[0])?)
            }
            "connect" => {
                let a = self.args(c, &[3])?;
                self.ellipsis(&a[1], "the address")?;
                CallKind::Connect(self.fd(&a[0])?)
            }
            "read" | "recv" | "write" | "send" => {
                let a = self.args(
                    c,
                    if c.name.len() == 4 && c.name != "read" {
                        &[4]
                    } else {
                        &[3]
                    },
                )?;
                if a.len() == 4 && self.int(&a[3])? != 0 {
                    return self.err(a[3].line, a[3].column, "only flags 0 are supported");
                }
                let fd = self.fd(&a[0])?;
                let n = self.count(&a[2])?;
                if c.name == "read" || c.name == "recv" {
                    CallKind::Read(fd, n)
                } else {
                    CallKind::Write(fd, n)
                }
            }
            "close" => CallKind::Close(self.fd(&self.args(c, &[1])?[0])?),
            "shutdown" => {
                let a = self.args(c, &[2])?;
                let how = match self.int(&a[1])? {
                    0 => Shut::Read,
                    1 => Shut::Write,
                    2 => Shut::Both,
                    v => {
                        return self.err(
                            a[1].line,
                            a[1].column,
                            format!("expected SHUT_RD, SHUT_WR or SHUT_RDWR, found {v}"),
                        );
                    }
                };
                CallKind::Shutdown(self.fd(&a[0])?, how)
            }
            "setsockopt" => {
                let a = self.args(c, &[5])?;
                let fd = self.fd(&a[0])?;
                let (level, name) = (self.int(&a[1])?, self.int(&a[2])?);
                let opt = match (level, name) {
                    (1, 2) => SetOption::ReuseAddr(self.int(&a[3])? != 0),
                    (6, 1) => SetOption::NoDelay(self.int(&a[3])? != 0),
                    (6, 2) => {
                        let v = self.int(&a[3])?;
                        let m = u16::try_from(v).ok().filter(|&m| (88..=32767).contains(&m));
                        match m {
                            Some(m) => SetOption::MaxSeg(m),
                            None => {
                                return self.err(
                                    a[3].line,
                                    a[3].column,
                                    format!("expected a TCP_MAXSEG of 88..=32767, found {v}"),
                                );
                            }
                        }
                    }
                    (1, 13) => SetOption::Linger(self.linger(&a[3])?),
                    (6, 18) => {
                        let v = self.int(&a[3])?;
                        match u32::try_from(v) {
                            Ok(ms) => SetOption::UserTimeout(ms),
                            Err(_) => return self.err(a[3].line, a[3].column, format!("expected a TCP_USER_TIMEOUT of 0..=4294967295 ms, found {v}")),
                        }
                    }
                    (1, 7) => SetOption::SendBuffer(self.int(&a[3])?),
                    (1, 8) => SetOption::RecvBuffer(self.int(&a[3])?),
                    _ => return self.err(
                        a[2].line,
                        a[2].column,
                        "tcpsim supports SO_REUSEADDR, SO_LINGER, SO_SNDBUF, SO_RCVBUF, TCP_NODELAY, TCP_MAXSEG and TCP_USER_TIMEOUT here",
                    ),
                };
                CallKind::SetOption(fd, opt)
            }
            "getsockopt" => {
                let a = self.args(c, &[5])?;
                let fd = self.fd(&a[0])?;
                let opt = match (self.int(&a[1])?, self.int(&a[2])?) {
                    (1, 4) => GetOption::Error,
                    (1, 8) => GetOption::RecvBuffer,
                    (6, 2) => GetOption::MaxSeg,
                    (1, 7) => GetOption::SendBuffer,
                    _ => return self.err(a[2].line, a[2].column, "tcpsim supports getsockopt of SO_ERROR, SO_SNDBUF, SO_RCVBUF and TCP_MAXSEG (TCP_INFO through %{ assert tcpi_... }%)"),
                };
                let ExprKind::List(v) = &a[3].kind else {
                    return self.err(a[3].line, a[3].column, "expected the value as `[N]`");
                };
                let [value] = &v[..] else {
                    return self.err(a[3].line, a[3].column, "expected one value in `[N]`");
                };
                CallKind::GetOption(fd, opt, self.int(value)?)
            }
            "fcntl" => {
                let a = self.args(c, &[2, 3])?;
                let fd = self.fd(&a[0])?;
                match (self.int(&a[1])?, a.get(2)) {
                    (4, Some(flags)) => CallKind::SetFlags(fd, self.int(flags)? & 0o4000 != 0),
                    (3, None) => CallKind::GetFlags(fd),
                    _ => {
                        return self.err(
                            a[1].line,
                            a[1].column,
                            "tcpsim supports fcntl(fd, F_SETFL, flags) and fcntl(fd, F_GETFL)",
                        );
                    }
                }
            }
            "ioctl" => {
                let a = self.args(c, &[3])?;
                let fd = self.fd(&a[0])?;
                let want = self.int(&a[2])?;
                match self.int(&a[1])? {
                    0x541B => CallKind::InQueue(fd, want),
                    0x5411 => CallKind::OutQueue(fd, want),
                    _ => {
                        return self.err(
                            a[1].line,
                            a[1].column,
                            "tcpsim supports ioctl SIOCINQ/FIONREAD and SIOCOUTQ/TIOCOUTQ",
                        );
                    }
                }
            }
            "poll" => {
                let a = self.args(c, &[3])?;
                let ExprKind::List(items) = &a[0].kind else {
                    return self.err(
                        a[0].line,
                        a[0].column,
                        "expected `[{fd=N, events=E, revents=R}, ...]`",
                    );
                };
                let mut fds = Vec::with_capacity(items.len());
                for item in items {
                    let ExprKind::Struct(fields) = &item.kind else {
                        return self.err(
                            item.line,
                            item.column,
                            "expected `{fd=N, events=E, revents=R}`",
                        );
                    };
                    let (mut fd, mut events, mut revents) = (None, None, 0);
                    for f in fields {
                        let v = self.int(&f.value)?;
                        match f.name.as_deref() {
                            Some("fd") => fd = Some(v),
                            Some("events") => events = Some(v as u32),
                            Some("revents") => revents = v as u32,
                            _ => {
                                return self.err(
                                    f.line,
                                    f.column,
                                    "expected the fields fd, events and revents",
                                );
                            }
                        }
                    }
                    let (Some(fd), Some(events)) = (fd, events) else {
                        return self.err(
                            item.line,
                            item.column,
                            "expected `{fd=N, events=E[, revents=R]}`",
                        );
                    };
                    fds.push(PollFd {
                        fd,
                        events,
                        revents,
                    });
                }
                let n = self.int(&a[1])?;
                if n != fds.len() as i64 {
                    return self.err(
                        a[1].line,
                        a[1].column,
                        format!("nfds is {n}, but the list has {} entries", fds.len()),
                    );
                }
                CallKind::Poll(fds, self.int(&a[2])?)
            }
            other => {
                return self.err(c.line, c.column, format!("the call `{other}` is not supported by tcpsim (supported: socket, bind, listen, accept, connect, read, recv, write, send, close, shutdown, setsockopt, getsockopt, fcntl, ioctl, poll)"));
            }
        };
        let returns = self.int(&c.result)?;
        let errno = match &c.errno {
            None => None,
            Some((name, _)) => match Errno::from_name(name) {
                Some(e) => Some(e),
                None => {
                    return self.err(
                        c.result.line,
                        c.result.column,
                        format!("unknown errno `{name}`"),
                    );
                }
            },
        };
        Ok(Call {
            kind,
            returns,
            errno,
        })
    }

    /// `{onoff=1, linger=0}` (or `l_onoff`, `l_linger`).
    fn linger(&self, e: &ast::Expr) -> Result<Option<u32>, ScriptError> {
        let ExprKind::Struct(fields) = &e.kind else {
            return self.err(e.line, e.column, "expected `{onoff=N, linger=N}`");
        };
        let mut onoff = None;
        let mut linger = None;
        for f in fields {
            let v = self.int(&f.value)?;
            match f.name.as_deref() {
                Some("onoff" | "l_onoff") => onoff = Some(v),
                Some("linger" | "l_linger") => linger = Some(v),
                _ => return self.err(f.line, f.column, "expected the fields onoff and linger"),
            }
        }
        match (onoff, linger) {
            (Some(0), _) => Ok(None),
            (Some(_), Some(l)) => Ok(Some(u32::try_from(l).unwrap_or(0))),
            _ => self.err(e.line, e.column, "expected `{onoff=N, linger=N}`"),
        }
    }

    fn packet(&self, ev: &ast::Event, p: &ast::PacketLine) -> Result<Packet, ScriptError> {
        let pos = p.flags_pos;
        if let Some(ip) = &p.ip {
            return self.err(
                ip.line,
                ip.column,
                "IP-level fields (ECN, TOS, TTL, flow label) are not simulated",
            );
        }
        if p.ports.is_some() {
            return self.err(
                ev.line,
                ev.column,
                "explicit ports on packet lines are not supported",
            );
        }
        if let Some(fz) = &p.fuzz {
            return self.err(
                ev.line,
                ev.column,
                format!("packetdrill fuzzing extensions are not supported: {{{fz}}}"),
            );
        }
        if p.urg.is_some_and(|u| u != 0) {
            return self.err(ev.line, ev.column, "the urgent pointer is not simulated");
        }
        let f = &p.flags;
        if f.ae || f.ace.is_some() {
            return self.err(pos.line, pos.column, "Accurate ECN flags are not simulated");
        }
        let mut flags = Flags::empty();
        for (on, bit) in [
            (f.fin, Flags::FIN),
            (f.syn, Flags::SYN),
            (f.rst, Flags::RST),
            (f.psh, Flags::PSH),
            (f.ack, Flags::ACK),
            (f.urg, Flags::URG),
            (f.ece, Flags::ECE),
            (f.cwr, Flags::CWR),
        ] {
            if on {
                flags = flags.union(bit);
            }
        }
        let options = match &p.options {
            None => PacketOptions::None,
            Some(ast::TcpOptions::Wildcard) => PacketOptions::Any,
            Some(ast::TcpOptions::List(list)) => {
                let mut out = Vec::with_capacity(list.len());
                for (i, o) in list.iter().enumerate() {
                    let at = p.option_positions.get(i).copied().unwrap_or(pos);
                    out.push(match o {
                        ast::TcpOption::Nop => TcpOption::Nop,
                        ast::TcpOption::Eol => TcpOption::Eol,
                        ast::TcpOption::Mss(m) => TcpOption::Mss(*m),
                        ast::TcpOption::WScale(w) => TcpOption::WindowScale(*w),
                        ast::TcpOption::SackOk => TcpOption::SackPermitted,
                        ast::TcpOption::Sack(b) => TcpOption::Sack(b.clone()),
                        ast::TcpOption::Timestamp { val, ecr } => TcpOption::Timestamps {
                            val: *val,
                            ecr: *ecr,
                        },
                        ast::TcpOption::WScaleAny => {
                            return self.err(at.line, at.column, "`wscale *` is not supported");
                        }
                        ast::TcpOption::FastOpen(_) | ast::TcpOption::FastOpenExp(_) => {
                            return self.err(at.line, at.column, "TCP Fast Open is not simulated");
                        }
                        ast::TcpOption::Md5(_) => {
                            return self.err(
                                at.line,
                                at.column,
                                "TCP MD5 signatures are not simulated",
                            );
                        }
                        ast::TcpOption::AccEcn(_) => {
                            return self.err(
                                at.line,
                                at.column,
                                "the Accurate ECN option is not simulated",
                            );
                        }
                    });
                }
                PacketOptions::List(out)
            }
        };
        Ok(Packet {
            flags,
            seq: p.seq.start,
            len: p.seq.len,
            ack: p.ack.unwrap_or(0),
            window: p.win,
            options,
        })
    }
}

/// The most octets one read or write may name: 64 MiB.
pub const MAX_IO: usize = 64 << 20;

fn when(t: EventTime) -> When {
    let u = |v: i64| v.max(0) as Micros;
    match t {
        EventTime::Absolute(v) => When::At(u(v)),
        EventTime::Relative(v) => When::After(u(v)),
        EventTime::Any => When::Any,
        EventTime::AbsoluteRange(a, b) => When::Between(u(a), u(b)),
        EventTime::RelativeRange(a, b) => When::AfterBetween(u(a), u(b)),
    }
}

/// Lowers `script` for an endpoint that starts from `profile`.
pub fn lower(
    file: &str,
    script: &ast::Script,
    profile: Config,
    overrides: &Overrides,
) -> Result<Lowered, ScriptError> {
    let mut lw = Lowering {
        file,
        defines: BTreeMap::new(),
    };
    let mut settings = Settings::default();
    let mut notes = Vec::new();
    for o in &script.options {
        if let Some((name, value)) = o.define() {
            lw.defines.insert(name.to_string(), value.to_string());
            continue;
        }
        let value = o.value.as_deref().unwrap_or("");
        let vcol = o.value_column.max(o.column);
        let num = |what: &str| -> Result<u64, ScriptError> {
            value
                .parse::<u64>()
                .or_else(|_| lw.err(o.line, vcol, format!("expected {what}, found `{value}`")))
        };
        match o.name.as_str() {
            "tolerance_usecs" => settings.tolerance_usecs = num("microseconds")?,
            "tolerance_percent" => {
                let pct: f64 = value.parse().unwrap_or(-1.0);
                if !(0.0..=100.0).contains(&pct) {
                    return lw.err(
                        o.line,
                        vcol,
                        format!("expected a percentage 0..=100, found `{value}`"),
                    );
                }
                settings.tolerance_permille = (pct * 10.0).round() as u64;
            }
            "tcp_ts_tick_usecs" => {
                let t = num("microseconds")?;
                settings.ts_tick_usecs = (t > 0).then_some(t);
            }
            "ip_version" => {
                if value != "ipv4" {
                    return lw.err(
                        o.line,
                        vcol,
                        format!("only --ip_version=ipv4 is simulated, found `{value}`"),
                    );
                }
            }
            "local_ip" | "remote_ip" => {
                let Ok(ip) = value.parse() else {
                    return lw.err(
                        o.line,
                        vcol,
                        format!("expected an IPv4 address, found `{value}`"),
                    );
                };
                if o.name == "local_ip" {
                    settings.local_ip = ip;
                } else {
                    settings.remote_ip = ip;
                }
            }
            "gateway_ip" | "netmask_ip" => {}
            "bind_port" | "connect_port" => {
                let Ok(port) = value.parse::<u16>() else {
                    return lw.err(
                        o.line,
                        vcol,
                        format!("expected a port 1..=65535, found `{value}`"),
                    );
                };
                if o.name == "bind_port" {
                    settings.bind_port = port;
                } else {
                    settings.connect_port = port;
                }
            }
            "mtu" => {
                let m = num("an MTU")?;
                let Some(m) = u16::try_from(m)
                    .ok()
                    .filter(|&m| (576..=65535).contains(&m))
                else {
                    return lw.err(
                        o.line,
                        vcol,
                        format!("expected an MTU of 576..=65535, found `{value}`"),
                    );
                };
                settings.mtu = m;
            }
            // Only how packetdrill injects large inbound segments (GSO).
            "mss" => {
                num("an MSS")?;
            }
            other => {
                return lw.err(o.line, o.column, format!("the option --{other} is not supported (supported: --tolerance_usecs, --tolerance_percent, --tcp_ts_tick_usecs, --ip_version=ipv4, --local_ip, --remote_ip, --gateway_ip, --netmask_ip, --bind_port, --connect_port, --mtu, --mss, -D/--define)"));
            }
        }
    }
    if let Some(t) = overrides.tolerance_usecs {
        settings.tolerance_usecs = t;
    }
    let mut config = Config {
        mss: settings.mtu - 40,
        ..profile
    };
    let mut memory = Memory::default();
    let apply_all = |config: &mut Config,
                     memory: &mut Memory,
                     list: &[(String, String)],
                     line: u32,
                     column: u32,
                     notes: &mut Vec<String>|
     -> Result<(), ScriptError> {
        for (name, value) in list {
            match sysctl::apply(config, memory, name, value) {
                Ok(Effect::Applied) => {}
                Ok(Effect::NotModelled(why)) => {
                    notes.push(format!("line {line}: sysctl {name}={value}: {why}"))
                }
                Ok(Effect::Unknown) => notes.push(format!(
                    "line {line}: sysctl {name}={value}: unknown to tcpsim, skipped"
                )),
                Err(e) => return lw.err(line, column, format!("sysctl {name}: {e}")),
            }
        }
        Ok(())
    };
    // The endpoint is a packetdrill test machine: the suites' defaults.sh
    // settings are in force before the script's own (the `linux` profile
    // only; the `rfc` profile takes only what a script sets).
    if profile.profile == tcpsim_tcp::Profile::Linux {
        let defaults: Vec<(String, String)> = sysctl::DEFAULTS_SH
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let mut quiet = Vec::new();
        apply_all(&mut config, &mut memory, &defaults, 0, 0, &mut quiet)?;
    }
    if let Some(cmd) = &script.init_command {
        let lines = sysctl::settings_of(&cmd.text).or_else(|e| lw.err(cmd.line, cmd.column, e))?;
        apply_all(
            &mut config,
            &mut memory,
            &lines.settings,
            cmd.line,
            cmd.column,
            &mut notes,
        )?;
        for other in lines.skipped {
            notes.push(format!(
                "line {}: shell command skipped (not run): {other}",
                cmd.line
            ));
        }
    }
    apply_all(
        &mut config,
        &mut memory,
        &overrides.sysctls,
        0,
        0,
        &mut notes,
    )?;
    settings.wmem_max = memory.wmem_max;
    overrides.tcp.apply(&mut config);
    settings.rmem_max = memory.rmem_max;
    let start = config;
    let mut steps = Vec::with_capacity(script.events.len());
    let mut skip = None;
    for ev in &script.events {
        let mut end = None;
        let action = match &ev.kind {
            EventKind::Packet(p) => {
                let packet = lw.packet(ev, p)?;
                match p.direction {
                    ast::Direction::Inbound => Action::Inbound(packet),
                    ast::Direction::Outbound => Action::Outbound(packet),
                }
            }
            EventKind::Syscall(c) => {
                end = c.end.map(|e| e.max(0) as Micros);
                Action::Call(lw.call(c)?)
            }
            EventKind::Command(text) => {
                let lines = sysctl::settings_of(text).or_else(|e| lw.err(ev.line, ev.column, e))?;
                let changed = !lines.settings.is_empty();
                apply_all(
                    &mut config,
                    &mut memory,
                    &lines.settings,
                    ev.line,
                    ev.column,
                    &mut notes,
                )?;
                overrides.tcp.apply(&mut config);
                Action::Shell {
                    text: text.clone(),
                    config: changed.then(|| Box::new(config)),
                }
            }
            EventKind::Code(code) => match parse_asserts(code) {
                Ok(asserts) => Action::Assert(asserts),
                Err(stmt) => {
                    skip.get_or_insert((
                        ev.line,
                        format!("Python tcpsim does not evaluate: `{stmt}`"),
                    ));
                    Action::Assert(Vec::new())
                }
            },
            EventKind::Udp(_) => return lw.err(ev.line, ev.column, "UDP is not simulated"),
            EventKind::Icmp(_) => return lw.err(ev.line, ev.column, "ICMP is not simulated"),
        };
        steps.push(Step {
            line: ev.line,
            when: when(ev.time),
            end,
            action,
        });
    }
    Ok(Lowered {
        plan: Plan {
            settings,
            steps,
            skip,
        },
        config: start,
        notes,
    })
}

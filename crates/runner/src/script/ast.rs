//! The syntax tree of a packetdrill script, as [`parse`](super::parse)
//! returns it: what the text says, checked for form but not for meaning.
//!
//! Every line and column is 1-based and counts characters. Times are
//! integer microseconds ([`Micros`]), read exactly from their decimal text.
//! Symbols (`AF_INET`, `SO_LINGER`, a `-D` define such as `TFO_COOKIE`) are
//! kept as written: the parser knows no symbol values, so substituting
//! defines and looking up constants is the interpreter's work.

use core::fmt;

/// A time or duration in microseconds, as packetdrill counts script time.
pub type Micros = i64;

/// A position in the script: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters.
    pub column: u32,
}

/// A whole script: option lines, an optional shell command before the
/// first event, the events, and an optional shell command after the last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The `--name=value`, `--name` and `-D NAME=VALUE` lines at the top,
    /// in order.
    pub options: Vec<OptionLine>,
    /// A backquoted shell command without a time between the options and
    /// the first event (the kernel suites' `` `./defaults.sh` ``);
    /// packetdrill runs it before the script starts.
    pub init_command: Option<Command>,
    /// The events, in script order; never empty.
    pub events: Vec<Event>,
    /// A backquoted shell command without a time after the last event;
    /// packetdrill runs it when the script ends.
    pub cleanup_command: Option<Command>,
}

/// An option line at the top of a script: `--tolerance_usecs=7000`,
/// `--send_omit_free`, `-D TFO_COOKIE=3021b9d889017eeb`.
///
/// `-D NAME=VALUE` is read as `--define=NAME=VALUE` (packetdrill's own
/// spelling of a define), so `name` is `"define"` for both;
/// [`OptionLine::define`] splits the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionLine {
    /// Line of the option.
    pub line: u32,
    /// Column of its first `-`.
    pub column: u32,
    /// The name without the dashes (`tolerance_usecs`), or `define`.
    pub name: String,
    /// The text after `=`, if there is one: up to the next whitespace or
    /// comment, with quoted (`"..."`) and backquoted parts kept whole. A
    /// value that is one quoted string is given without its quotes
    /// (`--x="a b"` gives `a b`), as packetdrill does; quotes inside a
    /// longer value are kept (`--define=CC="reno"` gives `CC="reno"`).
    pub value: Option<String>,
    /// Column of the value's first character (on the same line), or 0
    /// when there is no value.
    pub value_column: u32,
}

impl OptionLine {
    /// For a define (`--define=NAME=VALUE` or `-D NAME=VALUE`), the name
    /// and the value, split at the first `=`; `None` for other options.
    pub fn define(&self) -> Option<(&str, &str)> {
        if self.name != "define" {
            return None;
        }
        self.value.as_deref()?.split_once('=')
    }
}

/// A backquoted shell command, without its backquotes; backslash escapes
/// are kept as written. It may span lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// Line of the opening backquote.
    pub line: u32,
    /// Column of the opening backquote.
    pub column: u32,
    /// The text between the backquotes.
    pub text: String,
}

/// One event: a time and what happens then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Line of the event's time (packetdrill's line for the event).
    pub line: u32,
    /// Column of the event's time.
    pub column: u32,
    /// When.
    pub time: EventTime,
    /// What.
    pub kind: EventKind,
}

/// When an event happens, in packetdrill's time syntax.
///
/// Relative times count from the previous event: in packetdrill (run.c,
/// `adjust_relative_event_times`) from the moment the interpreter moves on
/// to this event, i.e. when the previous one actually happened (an
/// outbound packet when it was seen), not its scripted time. The parser
/// checks what
/// packetdrill's parser checks: no negative time, a range's end not before
/// its start, and `*` and ranges only on outbound packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventTime {
    /// `0.100`: at that script time.
    Absolute(Micros),
    /// `+0.100`: that long after the previous event.
    Relative(Micros),
    /// `*`: at any time (outbound packets only).
    Any,
    /// `0.1~0.2`: at a script time in that closed range (outbound packets
    /// only).
    AbsoluteRange(Micros, Micros),
    /// `+0.1~+0.2`: that long after the previous event, within the closed
    /// range (outbound packets only).
    RelativeRange(Micros, Micros),
}

/// What an event does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A TCP segment: `< S 0:0(0) win 65535 <mss 1460>` or `> S. 0:0(0) ack 1`.
    Packet(PacketLine),
    /// A UDP datagram line (`< udp (100)`); parsed so that the interpreter
    /// can reject it with its position.
    Udp(UdpLine),
    /// An ICMP line (`< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]`);
    /// parsed so that the interpreter can reject or model it.
    Icmp(IcmpLine),
    /// A system call: `connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)`.
    Syscall(Syscall),
    /// A backquoted shell command with a time (`` +0 `sysctl -q net.ipv4.tcp_timestamps=0` ``),
    /// the text between the backquotes.
    Command(String),
    /// A `%{ ... }%` block (Python in packetdrill): the text between the
    /// delimiters, with spaces and tabs trimmed from both ends as
    /// packetdrill does (newlines are kept). It may span lines.
    Code(String),
}

/// The direction of a packet line, seen from the endpoint under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `<`: injected by the script into the endpoint (from the remote peer).
    Inbound,
    /// `>`: sent by the endpoint; the script's line is what it must send.
    Outbound,
}

/// An ECN codepoint of an IP header, as `[noecn]`, `[ect0]`, `[ect1]`,
/// `[ect01]` or `[ce]` write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ecn {
    /// `noecn`: not ECN-capable (00).
    NotEct,
    /// `ect0` (10).
    Ect0,
    /// `ect1` (01).
    Ect1,
    /// `ect01`: either ECT codepoint (outbound packets only).
    Ect01,
    /// `ce`: congestion experienced (11).
    Ce,
}

/// The IP-level part of a packet line, in `[...]` or `(...)`:
/// `[ect0]`, `(tos 0x10)`, `[flowlabel 0x12345]`, `[ttl 64]`, or several
/// separated by commas. Each item at most once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpInfo {
    /// Line of the opening bracket.
    pub line: u32,
    /// Column of the opening bracket.
    pub column: u32,
    /// The ECN codepoint.
    pub ecn: Option<Ecn>,
    /// `tos 0xNN`: the whole TOS / traffic-class byte.
    pub tos: Option<u8>,
    /// `flowlabel 0xNNNNN`: an IPv6 flow label (20 bits).
    pub flow_label: Option<u32>,
    /// `ttl N`: the TTL / hop limit.
    pub ttl: Option<u8>,
}

/// The TCP flags of a packet line: the letters as written and what they
/// set. `.` is ACK; `-` (written alone) sets none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    /// The flags as written (`S.`, `F.`, `P.`, `SEWA`, `-`).
    pub text: String,
    /// `S`.
    pub syn: bool,
    /// `F`.
    pub fin: bool,
    /// `R`.
    pub rst: bool,
    /// `P`.
    pub psh: bool,
    /// `.`.
    pub ack: bool,
    /// `U`.
    pub urg: bool,
    /// `E`: ECN-Echo.
    pub ece: bool,
    /// `W`: CWR.
    pub cwr: bool,
    /// `A`: AE (Accurate ECN, RFC 9768).
    pub ae: bool,
    /// A digit `0`-`7`: the 3-bit ACE field of Accurate ECN (AE, CWR, ECE
    /// as one number), instead of `E`, `W` and `A`.
    pub ace: Option<u8>,
}

/// `start:end(len)`: the sequence numbers of a segment, as written
/// (relative to the script's ISN in packetdrill); `end = start + len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeqRange {
    /// First sequence number.
    pub start: u32,
    /// `start + len`.
    pub end: u32,
    /// Payload length in octets (at most 65535, packetdrill's limit).
    pub len: u32,
}

/// A TCP packet line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketLine {
    /// `<` or `>`.
    pub direction: Direction,
    /// `[ect0]` and the like.
    pub ip: Option<IpInfo>,
    /// `SRC>DST` ports before the flags, if written (rare).
    pub ports: Option<(u16, u16)>,
    /// The flags.
    pub flags: TcpFlags,
    /// Where the flags start.
    pub flags_pos: Pos,
    /// `start:end(len)`.
    pub seq: SeqRange,
    /// `ack N`.
    pub ack: Option<u32>,
    /// `win N`: the window field as sent, before any scaling. Inbound
    /// packets always have one (packetdrill requires it).
    pub win: Option<u16>,
    /// `urg N`: the urgent pointer.
    pub urg: Option<u16>,
    /// The options: `None` when the line has no `<...>` part (the segment
    /// carries no options), `Some(Wildcard)` for `<...>` (any options;
    /// outbound only), or the list.
    pub options: Option<TcpOptions>,
    /// Where each option of [`TcpOptions::List`] starts, in the same order
    /// (empty otherwise).
    pub option_positions: Vec<Pos>,
    /// Where the `<` of the options starts (when there are options).
    pub options_pos: Option<Pos>,
    /// A trailing `{ ... }` of packetdrill's fuzzing extensions
    /// (`{ mut tcp mss }`), as raw text between the braces; not part of any
    /// behaviour tcpsim models, kept so that the interpreter can reject it.
    pub fuzz: Option<String>,
}

/// The options part of a packet line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpOptions {
    /// `<...>`: the options are not checked.
    Wildcard,
    /// `<mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>`, in order.
    List(Vec<TcpOption>),
}

/// One TCP option of a packet line's option list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpOption {
    /// `nop`.
    Nop,
    /// `eol`.
    Eol,
    /// `mss N`.
    Mss(u16),
    /// `wscale N`: the shift count.
    WScale(u8),
    /// `wscale *`: a window-scale option with any shift (outbound).
    WScaleAny,
    /// `sackOK`: SACK permitted.
    SackOk,
    /// `sack L:R L:R ...`: one to four blocks, left and right edges.
    Sack(Vec<(u32, u32)>),
    /// `TS val N ecr N`.
    Timestamp {
        /// TSval.
        val: u32,
        /// TSecr.
        ecr: u32,
    },
    /// `FO` or `FO COOKIE`: TCP Fast Open (option 34); the cookie as
    /// written (hex digits, or a symbol such as `TFO_COOKIE` that a define
    /// gives); `None` for an empty cookie (a cookie request).
    FastOpen(Option<String>),
    /// `FOEXP` or `FOEXP COOKIE`: Fast Open in the experimental option 254
    /// with magic 0xF989.
    FastOpenExp(Option<String>),
    /// `md5 DIGEST`: TCP MD5 signature (option 19), the digest as written.
    Md5(String),
    /// `ECN e0b N ceb N e1b N` (the Accurate ECN option of the kernel's
    /// AccECN suites, RFC 9768): the counters in the order written, each
    /// named `e0b`, `ceb` or `e1b`.
    AccEcn(Vec<(String, u32)>),
}

/// A UDP datagram line: `< udp (100)` or `> [ect0] udp 5000>6000 (20)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpLine {
    /// `<` or `>`.
    pub direction: Direction,
    /// `[...]` IP information.
    pub ip: Option<IpInfo>,
    /// `SRC>DST` ports.
    pub ports: Option<(u16, u16)>,
    /// Payload length.
    pub len: u16,
}

/// An ICMP line: `< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcmpLine {
    /// `<` or `>`.
    pub direction: Direction,
    /// `[...]` IP information.
    pub ip: Option<IpInfo>,
    /// The type name (`unreachable`, `time_exceeded`, ...).
    pub icmp_type: String,
    /// The code name (`frag_needed`, `host_unreachable`, ...).
    pub code: Option<String>,
    /// `mtu N`: the next-hop MTU.
    pub mtu: Option<u32>,
    /// `id N`: the echo identifier.
    pub id: Option<u16>,
    /// The packet the ICMP message quotes, in `[...]`.
    pub echoed: Option<IcmpEchoed>,
}

/// The packet an ICMP line quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpEchoed {
    /// `[start:end(len)]`: a TCP segment of the connection.
    Tcp(SeqRange),
    /// `[udp (N)]`.
    Udp(u16),
    /// `[raw (N)]`.
    Raw(u16),
}

/// A system-call line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Syscall {
    /// Line of the call's name.
    pub line: u32,
    /// Column of the call's name.
    pub column: u32,
    /// The call (`socket`, `setsockopt`, `connect`, ...).
    pub name: String,
    /// For a blocking call written `START...END` (`+.08...0.180 connect(...)`),
    /// the END time: when the call must return.
    ///
    /// END is measured from the same origin as the event's start time, not
    /// from the start: with an absolute start (`0.1...0.3`) it is a script
    /// time; with a relative start (`+0.1...0.3`) it is that long after
    /// the previous event, like the start itself (packetdrill's run.c adds
    /// the same offset to both). So `+.08...0.180` starts 80 ms and returns
    /// 180 ms after the previous event. Never before the start. `None`
    /// for a call that must not block.
    pub end: Option<Micros>,
    /// The arguments.
    pub args: Vec<Expr>,
    /// The expected return value (after `=`).
    pub result: Expr,
    /// The expected errno and its note: `EINPROGRESS` and
    /// `Some("Operation now in progress")`. Words of a note are joined by
    /// single spaces.
    pub errno: Option<(String, Option<String>)>,
    /// A note without an errno (`= 0x2 (flags O_RDWR)`, `= -1 (Invalid Argument)`),
    /// or a second note after the errno's.
    pub note: Option<String>,
}

/// An expression of a system call's arguments or result, with its
/// position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// Line of its first character.
    pub line: u32,
    /// Column of its first character.
    pub column: u32,
    /// What it is.
    pub kind: ExprKind,
}

/// The kinds of [`Expr`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    /// `...`: any value (an argument the script does not check, or
    /// packetdrill fills in).
    Ellipsis,
    /// A decimal integer, possibly negative: `3`, `-1`.
    Int(i64),
    /// A hexadecimal integer: `0xffffffff`.
    Hex(u64),
    /// A symbol: `AF_INET`, `SOCK_STREAM`, `O_NONBLOCK`, `NULL`, a define.
    Symbol(String),
    /// A string, without its quotes; backslash escapes are kept as written
    /// (`"\xa1"` is four characters). Adjacent strings are joined.
    Str(String),
    /// A string followed by `...` (`"abc"...`).
    StrEllipsis(String),
    /// `[a, b, ...]`.
    List(Vec<Expr>),
    /// `{a=1, b=2}`, `{..., 1000}`, `{fd=3, events=POLLIN}`: the fields in
    /// order, named or not.
    Struct(Vec<Field>),
    /// `A|B`; `A|B|C` is `(A|B)|C`.
    BinaryOr(Box<Expr>, Box<Expr>),
    /// `name(args)` with the parenthesis right after the name:
    /// `htons(8080)`, `inet_addr("192.0.2.1")`.
    Call(String, Vec<Expr>),
}

/// One field of a [`ExprKind::Struct`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Line of the field (its name, or its value when unnamed).
    pub line: u32,
    /// Column of the field.
    pub column: u32,
    /// The name before `=`, if any (`l_onoff`, `fd`, `msg_iov`).
    pub name: Option<String>,
    /// The parenthesised part of names such as `msg_iov(1)=...` and
    /// `msg_name(...)=...`.
    pub arg: Option<Box<Expr>>,
    /// The value.
    pub value: Expr,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Inbound => "<",
            Direction::Outbound => ">",
        })
    }
}

impl fmt::Display for Ecn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ecn::NotEct => "noecn",
            Ecn::Ect0 => "ect0",
            Ecn::Ect1 => "ect1",
            Ecn::Ect01 => "ect01",
            Ecn::Ce => "ce",
        })
    }
}

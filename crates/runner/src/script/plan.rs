//! A script reduced to what the player does: steps with resolved kinds,
//! checked numbers and the system calls tcpsim supports. Lowering
//! ([`super::lower`]) builds it from the syntax tree and rejects, with a
//! position, everything tcpsim cannot play; the player never sees syntax.

use tcpsim_tcp::Flags;

use super::sockets::Errno;

/// Microseconds of script time.
pub type Micros = u64;

/// A script ready to play.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The settings of its option lines.
    pub settings: Settings,
    /// Its steps, in order.
    pub steps: Vec<Step>,
    /// Why the script cannot be judged (Python other than `assert`s over
    /// `TCP_INFO`): it is reported `skipped`, never `ok`.
    pub skip: Option<(u32, String)>,
}

/// What a script's option lines (and the command line) set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `--tolerance_usecs`: 4000 by default.
    pub tolerance_usecs: Micros,
    /// `--tolerance_percent`, in thousandths: 125 (12.5 %) by default.
    pub tolerance_permille: u64,
    /// `--tcp_ts_tick_usecs`: TSval is checked only when set.
    pub ts_tick_usecs: Option<Micros>,
    /// `--local_ip`: 192.168.0.1 by default.
    pub local_ip: std::net::Ipv4Addr,
    /// `--remote_ip`: 192.0.2.1 by default.
    pub remote_ip: std::net::Ipv4Addr,
    /// `--bind_port`: 8080.
    pub bind_port: u16,
    /// `--connect_port`: 8080.
    pub connect_port: u16,
    /// `--mtu`: 1500; the endpoint's MSS is the MTU less 40.
    pub mtu: u16,
    /// `net.core.rmem_max` once the script's first sysctls are applied:
    /// the most `SO_RCVBUF` takes (before doubling it).
    pub rmem_max: u64,
    /// `net.core.wmem_max` as the sysctls left it (212992 unless set): the
    /// most `SO_SNDBUF` takes before doubling.
    pub wmem_max: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            tolerance_usecs: 4000,
            tolerance_permille: 125,
            ts_tick_usecs: None,
            local_ip: std::net::Ipv4Addr::new(192, 168, 0, 1),
            remote_ip: std::net::Ipv4Addr::new(192, 0, 2, 1),
            bind_port: 8080,
            connect_port: 8080,
            mtu: 1500,
            rmem_max: super::sysctl::DEFAULT_RMEM_MAX,
            wmem_max: super::sysctl::DEFAULT_WMEM_MAX,
        }
    }
}

/// When a step happens (SPEC §7, packetdrill's time forms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// `1.5`: seconds since the start.
    At(Micros),
    /// `+0.1`: after the previous step.
    After(Micros),
    /// `*`: whenever (outbound packets only).
    Any,
    /// `a~b`: between two times since the start (outbound packets only).
    Between(Micros, Micros),
    /// `+a~+b`: between two offsets from the previous step (outbound only).
    AfterBetween(Micros, Micros),
}

/// One step of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based line of the step in the script.
    pub line: u32,
    /// When it starts.
    pub when: When,
    /// For a blocking call written `t...end`: when it must return, measured
    /// from the same origin as the start (the script's start for an
    /// absolute start, the previous step's for a relative one).
    pub end: Option<Micros>,
    /// What it does.
    pub action: Action,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `<`: the remote peer sends this segment to the endpoint.
    Inbound(Packet),
    /// `>`: the endpoint must send this segment.
    Outbound(Packet),
    /// A system call and its expected result.
    Call(Call),
    /// A shell command (never run). When it only sets sysctls, the
    /// configuration connections opened after it get; otherwise nothing.
    Shell {
        /// The command text.
        text: String,
        /// The endpoint's configuration from this step on.
        config: Option<Box<tcpsim_tcp::Config>>,
    },
    /// `%{ ... }%`: assertions over the socket under test's `TCP_INFO`.
    Assert(Vec<Assertion>),
}

/// A TCP segment as a script writes it: sequence numbers relative to the
/// side's ISN except on SYNs (packetdrill's numbering).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The control bits, exactly.
    pub flags: Flags,
    /// The sequence number (`start` of `start:end(len)`).
    pub seq: u32,
    /// The payload length.
    pub len: u32,
    /// `ack N` (0 when absent, as on the wire).
    pub ack: u32,
    /// `win N`: the raw window field; `None`: not checked (outbound only).
    pub window: Option<u16>,
    /// The options.
    pub options: PacketOptions,
}

/// The options of a packet line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PacketOptions {
    /// No option list: the segment carries no options.
    None,
    /// `<...>`: not checked (outbound only).
    Any,
    /// `<...>` with these options, in order.
    List(Vec<TcpOption>),
}

/// One TCP option of a packet line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpOption {
    /// `nop`.
    Nop,
    /// `eol`.
    Eol,
    /// `mss N`.
    Mss(u16),
    /// `wscale N`.
    WindowScale(u8),
    /// `sackOK`.
    SackPermitted,
    /// `sack a:b c:d`: blocks, relative to the receiving side's ISN.
    Sack(Vec<(u32, u32)>),
    /// `TS val X ecr Y`.
    Timestamps {
        /// TSval.
        val: u32,
        /// TSecr.
        ecr: u32,
    },
}

/// A system call with its expected result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// What is called.
    pub kind: CallKind,
    /// The expected return value.
    pub returns: i64,
    /// The expected `errno`, when the script names one.
    pub errno: Option<Errno>,
}

/// `shutdown`'s `how`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shut {
    /// `SHUT_RD`.
    Read,
    /// `SHUT_WR`.
    Write,
    /// `SHUT_RDWR`.
    Both,
}

/// A socket option a script sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOption {
    /// `SO_REUSEADDR`.
    ReuseAddr(bool),
    /// `SO_LINGER {onoff, linger}`.
    Linger(Option<u32>),
    /// `TCP_NODELAY`.
    NoDelay(bool),
    /// `TCP_MAXSEG`.
    MaxSeg(u16),
    /// `SO_RCVBUF`: the value the application passes (the kernel keeps
    /// twice it, within `rmem_max`).
    RecvBuffer(i64),
    /// `TCP_USER_TIMEOUT` in milliseconds (0: none).
    UserTimeout(u32),
    /// `SO_SNDBUF`: the value the script passes (the kernel doubles it).
    SendBuffer(i64),
}

/// A value a script reads with `getsockopt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetOption {
    /// `SO_ERROR`: the pending error's number.
    Error,
    /// `TCP_MAXSEG`: the MSS.
    MaxSeg,
    /// `SO_RCVBUF`: the receive buffer the kernel keeps (twice what was set).
    RecvBuffer,
    /// `SO_SNDBUF`: the send buffer's size.
    SendBuffer,
}

/// The system calls tcpsim plays. Descriptors are the script's numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// `socket(AF_INET, SOCK_STREAM[|SOCK_NONBLOCK], IPPROTO_TCP)`.
    Socket {
        /// `SOCK_NONBLOCK`.
        nonblocking: bool,
    },
    /// `bind(fd, ..., ...)`: the local address and bind port.
    Bind(i64),
    /// `listen(fd, backlog)`.
    Listen(i64),
    /// `accept(fd, ..., ...)`.
    Accept(i64),
    /// `connect(fd, ..., ...)`: the remote address and connect port.
    Connect(i64),
    /// `read`/`recv`(fd, ..., n).
    Read(i64, usize),
    /// `write`/`send`(fd, ..., n).
    Write(i64, usize),
    /// `close(fd)`.
    Close(i64),
    /// `shutdown(fd, how)`.
    Shutdown(i64, Shut),
    /// `setsockopt(fd, level, name, value, len)`.
    SetOption(i64, SetOption),
    /// `getsockopt(fd, level, name, [value], [len])`: the value expected.
    GetOption(i64, GetOption, i64),
    /// `fcntl(fd, F_SETFL, flags)`: whether `O_NONBLOCK` is in the flags.
    SetFlags(i64, bool),
    /// `fcntl(fd, F_GETFL)`.
    GetFlags(i64),
    /// `ioctl(fd, SIOCINQ, [n])`: octets readable, expected `n`.
    InQueue(i64, i64),
    /// `ioctl(fd, SIOCOUTQ, [n])`: octets unacknowledged, expected `n`.
    OutQueue(i64, i64),
    /// `poll([{fd=F, events=E, revents=R}, ...], n, timeout)`: the
    /// descriptors with the events asked for and the `revents` expected
    /// (0 when not written), and the timeout in ms (negative: none).
    Poll(Vec<PollFd>, i64),
}

/// One entry of a `poll` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollFd {
    /// The script's descriptor.
    pub fd: i64,
    /// `events`.
    pub events: u32,
    /// `revents` expected.
    pub revents: u32,
}

/// One `assert` of a code block: `left op right`, each a sum of terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    /// The assertion as written, for messages.
    pub text: String,
    /// The left side.
    pub left: Expr,
    /// The comparison.
    pub op: Compare,
    /// The right side.
    pub right: Expr,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl Compare {
    /// Whether `a op b`.
    pub fn holds(self, a: i64, b: i64) -> bool {
        match self {
            Compare::Eq => a == b,
            Compare::Ne => a != b,
            Compare::Lt => a < b,
            Compare::Le => a <= b,
            Compare::Gt => a > b,
            Compare::Ge => a >= b,
        }
    }
}

/// An integer expression over `TCP_INFO` fields and constants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// A number.
    Int(i64),
    /// A `tcpi_*` field.
    Field(String),
    /// `a + b`, `a - b`, `a * b`, `a // b` (`/`), `a % b`, `a & b`, `a | b`.
    Binary(Box<Expr>, char, Box<Expr>),
}

//! packetdrill scripts (SPEC §7): the parser. [`parse`] turns the text of
//! a script in packetdrill's language — the one of google/packetdrill and
//! of the Linux kernel's `tools/testing/selftests/net/packetdrill` — into a
//! [`Script`], or a [`ScriptError`] that names the file, line and column
//! and says what was found and what was expected. What the script means
//! (playing it against an endpoint) is the interpreter's part. Every node
//! of the tree prints back as script text (`Display`), in a canonical form
//! that parses to the same tree.
//!
//! # The language
//!
//! ```text
//! --tolerance_usecs=7000                     option lines (and -D NAME=VALUE)
//! `./defaults.sh`                            a shell command before the first event
//! 0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
//! +0    setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0
//! +0...0.2 connect(3, ..., ...) = 0          a blocking call: starts at +0, returns at +0.2
//! +0    > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>
//! +.1   < S. 0:0(0) ack 1 win 65535 <mss 1460>
//! *     > . 1:1(0) ack 1                     `*`: any time; `0.1~0.2`, `+0~+0.1`: a range
//! +0    connect(4, ..., ...) = -1 EINPROGRESS (Operation now in progress)
//! +0    `sysctl -q net.ipv4.tcp_timestamps=0`
//! +0    %{ assert tcpi_ca_state == 0 }%
//! ```
//!
//! Comments are `// to the end of the line` and `/* blocks */`, anywhere
//! between tokens. Newlines carry no meaning, as in packetdrill: an event
//! may span lines (a `sendmsg` with its `msghdr` often does).
//!
//! Times are exact: the decimal text is read as integer microseconds
//! (`.01` is 10 000 µs, `1.5` is 1 500 000 µs) with at most six
//! significant decimals, where packetdrill uses floating point.
//!
//! # What the parser checks
//!
//! The grammar of packetdrill's `parser.y`, and the checks its actions
//! make while parsing: times not negative and ranges not backwards; `*`
//! and ranges only on outbound packets; TCP flags from `.FSRPEWAU` and an
//! ACE digit `0`-`7` (not with `E`, `W`, `A`); `end = start + len`; every
//! number in its field's range (ports and windows 16 bits, sequence
//! numbers 32, shift counts 8, ...); a `win` on every inbound packet;
//! `<...>` and `[ect01]` only on outbound ones. What the parser leaves to
//! the interpreter: symbol values and defines, the first event being at
//! time 0, absolute times not going backwards, option lengths (40 octets
//! at most, 4-octet padding), which calls and options are supported.
//!
//! Beyond packetdrill's grammar, it also reads the kernel suites' Accurate
//! ECN extensions (the `A` flag, ACE digits, the `ECN e0b N ceb N e1b N`
//! option) and the fuzzing blocks (`{ mut tcp mss }`) of packetdrill's
//! fuzzing branch, so that a script using them is refused by the
//! interpreter with a position rather than by the parser. Encapsulation
//! prefixes (`ipv4 A > B:`, `gre`, `mpls`) are a parse error ("not
//! supported").
//!
//! # Limits
//!
//! Every limit is an error with the limit in its message, so that no
//! input makes the parser use memory or time out of proportion to its
//! length (it never panics and always ends):
//!
//! | limit | value |
//! |---|---|
//! | [`MAX_SCRIPT_BYTES`] | 1 MiB of text |
//! | [`MAX_LINES`] | 100 000 lines |
//! | [`MAX_NESTING`] | 32 levels of `[]`, `{}` and `name(...)` in an expression |
//! | [`MAX_OR_TERMS`] | 64 terms in one `A|B|...` |
//! | [`MAX_OPTION_LINES`] | 1 000 option lines |
//! | [`MAX_TCP_OPTIONS`] | 40 TCP options in one packet line (each takes at least an octet of the 40) |
//! | [`MAX_SACK_BLOCKS`] | 4 blocks in one SACK option (what fits in 40 octets) |
//! | [`MAX_TIME_SECONDS`] | times of at most 1 000 000 s (11.6 days) |
//!
//! Numbers beyond their type (an `i64` in an expression, a `u64` in hex,
//! a field's own width in a packet) are errors too.

mod ast;
mod error;
mod expr;
mod lex;
mod packet;
mod parse;
mod print;

pub use ast::{
    Command, Direction, Ecn, Event, EventKind, EventTime, Expr, ExprKind, Field, IcmpEchoed,
    IcmpLine, IpInfo, Micros, OptionLine, PacketLine, Pos, Script, SeqRange, Syscall, TcpFlags,
    TcpOption, TcpOptions, UdpLine,
};
pub use error::ScriptError;
pub use parse::parse;

/// Longest script, in bytes.
pub const MAX_SCRIPT_BYTES: usize = 1 << 20;

/// Most lines in a script.
pub const MAX_LINES: u32 = 100_000;

/// Deepest nesting of `[...]`, `{...}` and `name(...)` in an expression.
pub const MAX_NESTING: u32 = 32;

/// Most terms in one `A|B|...` expression.
pub const MAX_OR_TERMS: u32 = 64;

/// Most option lines at the top of a script.
pub const MAX_OPTION_LINES: usize = 1_000;

/// Most TCP options in one packet line.
pub const MAX_TCP_OPTIONS: usize = 40;

/// Most blocks in one SACK option.
pub const MAX_SACK_BLOCKS: usize = 4;

/// Largest time, in seconds.
pub const MAX_TIME_SECONDS: i64 = 1_000_000;

pub mod code;
pub mod lower;
pub mod plan;
pub mod play;
pub mod sockets;
pub mod sysctl;
pub mod wire;

pub use lower::Overrides;
pub use play::{Played, Verdict};

/// The stream name the endpoint's secret (ISNs, timestamp offsets) is
/// drawn from, under seed 0: every run of a script is the same.
pub const ENDPOINT_STREAM: &str = "script-endpoint";

/// Parses, checks and plays one script against an endpoint of `profile`.
/// `Err` is a script tcpsim cannot play (exit 2): syntax, or a call,
/// option or packet tcpsim does not support.
pub fn run(
    file: &str,
    text: &str,
    profile: tcpsim_tcp::Profile,
    overrides: &Overrides,
) -> Result<(Played, Vec<String>), ScriptError> {
    let script = parse(file, text)?;
    let lowered = lower::lower(file, &script, tcpsim_tcp::Config::new(profile), overrides)?;
    let endpoint = tcpsim_tcp::Endpoint::new(
        lowered.plan.settings.local_ip,
        lowered.config,
        tcpsim_net::rng::stream(0, ENDPOINT_STREAM),
    );
    Ok((
        play::play(&lowered.plan, text, endpoint, overrides.log),
        lowered.notes,
    ))
}

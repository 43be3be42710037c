//! The JSON Schema of each kind of value (each [`Leaf`] of `leaf.rs`):
//! `enum` for the closed sets of words, `minimum` and `maximum` for the
//! ranges the leaves enforce, and for the strings with a meaning an ECMA
//! 262 `pattern` built from the parsers' own tables (the units of
//! `units.rs`, the byte limit of a step).
//!
//! The patterns use only what ECMA 262, Python's `re` and Rust's `regex`
//! read alike: `[0-9]` rather than `\d`, no lookaround, no flags (the
//! case-insensitive rate units are spelled `[mM][bB][iI][tT]`). `\s` is
//! whitespace, as `str::trim` and `split_whitespace` take it. The tests
//! (`schema/tests.rs`) hold every schema here against its leaf's reader.

use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};
use tcpsim_tcp::{Duration, SegmentKind, State};

use super::super::leaf::{
    Addr, Choice, ConnCount, ExpectCount, ExperimentName, FaultSegment, FileSeed, FinWait2,
    HostCount, HostName, HostRef, InitialWindowSegments, Isn, Kind, Leaf, Mss, Nth, Port,
    PortRange, PositiveDuration, Probability, Queue, Quickacks, Rate, RecvBuffer, RecvWindow,
    ReorderGap, Retries, Seeds, SendBuffer, SendBufferMax, SendBufferOverhead, SendBytes,
    SocketBuffer, SocketMss, StateName, StepText, Text, Time, UserTimeout, Val, WindowScale,
};
use super::super::limits::{MAX_CONNECTIONS, MAX_HOSTS, MAX_SEND_BYTES};
use super::super::units::{DURATION_UNITS, RATE_UNITS};

/// The JSON Schema of a leaf: what a file may hold where it is read.
pub(crate) trait LeafSchema: Leaf {
    /// Its name in `$defs`, or `None` to write it out at every use.
    const DEF: Option<&'static str> = None;

    /// The schema; other leaves it uses come from `generator`.
    fn schema(generator: &mut SchemaGenerator) -> Schema;
}

/// A word of a closed set: `enum`, in the order messages list them.
impl<T: Choice> LeafSchema for T {
    fn schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = T::NAMES.iter().map(|(n, _)| *n).collect();
        json_schema!({ "type": "string", "enum": names })
    }
}

impl LeafSchema for bool {
    fn schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "boolean" })
    }
}

/// An integer in `min..=max`.
fn int(min: i128, max: i128) -> Schema {
    json_schema!({ "type": "integer", "minimum": number(min), "maximum": number(max) })
}

/// `n` as a JSON number.
fn number(n: i128) -> Value {
    match (i64::try_from(n), u64::try_from(n)) {
        (Ok(i), _) => json!(i),
        (_, Ok(u)) => json!(u),
        _ => json!(n as f64),
    }
}

/// The string `word` (`"none"`), or what `other` accepts.
fn or_word(word: &str, other: Schema) -> Schema {
    json_schema!({ "anyOf": [{ "const": word }, other] })
}

/// `integer_leaves! { Leaf: min..=max, ... }`: integers in a range.
macro_rules! integer_leaves {
    ($($leaf:ident: $min:expr, $max:expr;)+) => {$(
        impl LeafSchema for $leaf {
            fn schema(_: &mut SchemaGenerator) -> Schema {
                int(($min) as i128, ($max) as i128)
            }
        }
    )+};
}

integer_leaves! {
    FileSeed: 0, i64::MAX;
    Port: 1, 65535;
    ReorderGap: 1, u32::MAX;
    Queue: 1, u32::MAX;
    Nth: 1, u32::MAX;
    SendBytes: 0, MAX_SEND_BYTES;
    ConnCount: 1, MAX_CONNECTIONS;
    HostCount: 1, MAX_HOSTS;
    ExpectCount: 0, i64::MAX;
    SocketMss: 88, 32767;
    SocketBuffer: 1, 1 << 30;
    Retries: 0, 255;
    Mss: 1, 65495;
    RecvWindow: 1, 65535;
    RecvBuffer: 1, i32::MAX;
    Quickacks: 0, 255;
    SendBufferOverhead: 0, 65535;
}

impl LeafSchema for Probability {
    fn schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "number", "minimum": 0, "maximum": 1 })
    }
}

impl LeafSchema for Text {
    fn schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string" })
    }
}

impl LeafSchema for ExperimentName {
    fn schema(_: &mut SchemaGenerator) -> Schema {
        // Not blank: some character that is not whitespace.
        json_schema!({ "type": "string", "pattern": r"\S" })
    }
}

/// A decimal number in `1..=max`, without leading zeros: for each length
/// below `max`'s any number, then for `max`'s length every number below it
/// by its first smaller digit, and `max` itself.
pub(crate) fn up_to(max: u64) -> String {
    let digits: Vec<u8> = max.to_string().bytes().map(|b| b - b'0').collect();
    let n = digits.len();
    let any = |count: usize| match count {
        0 => String::new(),
        1 => "[0-9]".to_owned(),
        c => format!("[0-9]{{{c}}}"),
    };
    let class = |lo: u8, hi: u8| match hi - lo {
        0 => lo.to_string(),
        _ => format!("[{lo}-{hi}]"),
    };
    let mut alternatives = Vec::new();
    if n > 1 {
        alternatives.push(match n - 2 {
            0 => "[1-9]".to_owned(),
            m => format!("[1-9][0-9]{{0,{m}}}"),
        });
    }
    let mut prefix = String::new();
    for (i, &d) in digits.iter().enumerate() {
        let lo = u8::from(i == 0);
        if d > lo {
            alternatives.push(format!("{prefix}{}{}", class(lo, d - 1), any(n - 1 - i)));
        }
        prefix.push(char::from(b'0' + d));
    }
    alternatives.push(prefix);
    format!("(?:{})", alternatives.join("|"))
}

/// The most alternatives [`fraction`] spells out before it accepts any
/// digits instead.
const MAX_SUFFIXES: u64 = 16;

/// The optional fraction of a number of a unit worth `scale` base units
/// (nanoseconds, bits), such that the number is a whole number of them,
/// as `units.rs` requires.
///
/// With `scale = 2^a · 5^b · m` (m prime to 10) and a fraction of L
/// significant digits (trailing zeros do not count, so its last digit is
/// not 0), the value is whole when 10^L divides `fraction · scale`: any
/// fraction for L <= min(a, b); for L = min(a, b) + j up to max(a, b),
/// one whose last j digits are a multiple of 5^j (if a > b) or 2^j (if
/// b > a); none beyond. `"1.25h"` is whole (L = 2, h = 3.6·10^12 ns),
/// `"1.5ns"` is not. Where that would spell out more than
/// [`MAX_SUFFIXES`] endings (the binary rate units: 1024 = 2^10, 5^j up
/// to j = 10) any fraction is accepted, and the decoder has the last word.
pub(crate) fn fraction(scale: u64) -> String {
    let (mut a, mut b, mut m) = (0u32, 0u32, scale);
    while m % 2 == 0 {
        (a, m) = (a + 1, m / 2);
    }
    while m % 5 == 0 {
        (b, m) = (b + 1, m / 5);
    }
    let k = a.min(b);
    let (extra, factor) = if a > b { (a - b, 5u64) } else { (b - a, 2u64) };
    // Endings of j digits: the multiples of factor^j below 10^j that do
    // not end in 0; counted until there are too many.
    let mut count = 0;
    for j in 1..=extra {
        let multiples = (10 / factor).pow(j);
        count += multiples - multiples / (10 / factor);
        if count > MAX_SUFFIXES {
            return r"(?:\.[0-9]+)?".to_owned();
        }
    }
    let any = |c: u32| match c {
        0 => String::new(),
        c => format!("[0-9]{{{c}}}"),
    };
    let mut alternatives = vec![match k {
        0 => "0".to_owned(),
        k => format!("[0-9]{{1,{k}}}"),
    }];
    for j in 1..=extra {
        let step = factor.pow(j);
        let endings: Vec<String> = (1..)
            .map(|i| i * step)
            .take_while(|&v| v < 10u64.pow(j))
            .filter(|v| v % 10 != 0)
            .map(|v| format!("{v:0width$}", width = j as usize))
            .collect();
        alternatives.push(format!("{}{}", any(k), group(&endings)));
    }
    format!(r"(?:\.{}0*)?", group(&alternatives))
}

/// Alternatives as one pattern: in a group unless there is one.
fn group(alternatives: &[String]) -> String {
    match alternatives {
        [one] => one.clone(),
        all => format!("(?:{})", all.join("|")),
    }
}

/// A unit's name as a pattern; `any_case` spells each letter in both
/// cases.
fn unit_name(name: &str, any_case: bool) -> String {
    if !any_case {
        return name.to_owned();
    }
    name.chars()
        .map(|c| match (c.to_ascii_lowercase(), c.to_ascii_uppercase()) {
            (l, u) if l != u => format!("[{l}{u}]"),
            _ => c.to_string(),
        })
        .collect()
}

/// A number and a unit of `units`, `space` between them: each unit with
/// the fractions that make a whole number of base units.
fn amount(units: &[(&str, u64)], any_case: bool, space: &str) -> String {
    let alternatives: Vec<String> = units
        .iter()
        .map(|&(name, scale)| {
            format!(
                "[0-9]+{}{space}{}",
                fraction(scale),
                unit_name(name, any_case)
            )
        })
        .collect();
    format!("(?:{})", alternatives.join("|"))
}

/// A duration as one word, as a step writes it (`"sleep 10ms"`).
fn duration_word() -> String {
    amount(&DURATION_UNITS, false, "")
}

/// A whole string: `core` with whitespace around it.
fn whole(core: &str) -> String {
    format!(r"^\s*{core}\s*$")
}

/// A zero duration or rate, whatever its unit.
fn zero() -> String {
    whole(r"0+(?:\.0+)?\s*[^\s0-9.][^\s]*")
}

impl LeafSchema for Duration {
    const DEF: Option<&'static str> = Some("Duration");
    fn schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: a decimal number, an optional space and a unit (ns, us \
                or µs, ms, s, min, h), like \"250ms\", \"1.5s\" or \"2min\". The value is exact \
                in nanoseconds, so a fraction must come out as whole nanoseconds (\"1.5ns\" is \
                refused); at most \"1000000h\" (about 114 years).",
            "type": "string",
            "pattern": whole(&amount(&DURATION_UNITS, false, r"\s*")),
        })
    }
}

impl LeafSchema for PositiveDuration {
    const DEF: Option<&'static str> = Some("PositiveDuration");
    fn schema(generator: &mut SchemaGenerator) -> Schema {
        // `allOf`, not `not` beside the `$ref`: a draft-07 validator (Taplo's)
        // ignores what stands beside a `$ref`.
        json_schema!({
            "description": "A duration longer than zero.",
            "allOf": [generator.subschema_for::<Val<Duration>>()],
            "not": { "pattern": zero() },
        })
    }
}

impl LeafSchema for Time {
    fn schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<Val<Duration>>()
    }
}

impl LeafSchema for FinWait2 {
    fn schema(generator: &mut SchemaGenerator) -> Schema {
        or_word("none", generator.subschema_for::<Val<Duration>>())
    }
}

impl LeafSchema for UserTimeout {
    fn schema(generator: &mut SchemaGenerator) -> Schema {
        or_word("none", generator.subschema_for::<Val<PositiveDuration>>())
    }
}

impl LeafSchema for Rate {
    const DEF: Option<&'static str> = Some("Rate");
    fn schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A rate in bits per second, or \"unlimited\": a decimal number and a \
                unit bit, kbit, Mbit, Gbit, Tbit (powers of 1000) or Kibit, Mibit, Gibit, Tibit \
                (powers of 1024), case-insensitive, like \"10Mbit\". Positive, a whole number of \
                bit/s, below 2^64. Byte units (\"Mbps\") are refused: tc reads them as bytes.",
            "type": "string",
            "anyOf": [
                { "const": "unlimited" },
                {
                    "pattern": whole(&amount(&RATE_UNITS, true, r"\s*")),
                    "not": { "pattern": zero() },
                },
            ],
        })
    }
}

/// A port, as the port ranges write it: digits only, leading zeros allowed.
fn port_digits() -> String {
    format!("0*{}", up_to(65535))
}

impl LeafSchema for PortRange {
    const DEF: Option<&'static str> = Some("PortRange");
    fn schema(_: &mut SchemaGenerator) -> Schema {
        let port = port_digits();
        json_schema!({
            "description": "A port range \"FIRST-LAST\", both included, with 1 <= FIRST <= LAST \
                <= 65535, like \"1024-65535\".",
            "type": "string",
            "pattern": format!(r"^\s*{port}\s*-\s*{port}\s*$"),
        })
    }
}

impl LeafSchema for Seeds {
    const DEF: Option<&'static str> = Some("SeedRange");
    fn schema(_: &mut SchemaGenerator) -> Schema {
        let seed = format!("(?:0*{}|0+)", up_to(u64::MAX));
        json_schema!({
            "description": "Seeds: a range written as in Rust, \"A..=B\" (B included) or \"A..B\" \
                (B excluded), not empty, like \"1..=1000\"; or one seed, as a string or an \
                integer. Seeds go from 0 to 2^64 - 1.",
            "anyOf": [
                { "type": "string", "pattern": whole(&format!(r"{seed}(?:\s*\.\.=?\s*{seed})?")) },
                { "type": "integer", "minimum": 0 },
            ],
        })
    }
}

/// What a host name is made of: letters, digits, `-` and `_`, and at most
/// one `{}` (the pattern of generated hosts), not empty.
pub(crate) const HOST_NAME: &str = r"^(?:[A-Za-z0-9_-]+|[A-Za-z0-9_-]*\{\}[A-Za-z0-9_-]*)$";

impl LeafSchema for HostName {
    const DEF: Option<&'static str> = Some("HostName");
    fn schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A host name: ASCII letters, digits, '-' and '_'; or the pattern of \
                generated hosts, with one {} for the member's number (\"client-{}\"), which \
                names every member where a host is named.",
            "type": "string",
            "pattern": HOST_NAME,
        })
    }
}

/// A reference to a host by its name: a host name.
impl LeafSchema for HostRef {
    fn schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<Val<HostName>>()
    }
}

impl LeafSchema for Addr {
    const DEF: Option<&'static str> = Some("Address");
    fn schema(_: &mut SchemaGenerator) -> Schema {
        // Octets as `Ipv4Addr` reads them: 0-255, no leading zeros. The first
        // octet is not 224-239 (multicast); 0.0.0.0 and the broadcast
        // address are refused by name.
        let octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
        let first = "(?:25[0-5]|24[0-9]|22[0-3]|2[01][0-9]|1[0-9]{2}|[1-9]?[0-9])";
        json_schema!({
            "description": "A unicast IPv4 address, like \"10.0.0.1\" (not 0.0.0.0, \
                255.255.255.255 or multicast).",
            "type": "string",
            "pattern": format!(r"^{first}\.{octet}\.{octet}\.{octet}$"),
            "not": { "enum": ["0.0.0.0", "255.255.255.255"] },
        })
    }
}

impl LeafSchema for Kind {
    const DEF: Option<&'static str> = Some("SegmentKind");
    fn schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = SegmentKind::ALL.iter().map(|k| k.name()).collect();
        json_schema!({
            "description": "A segment kind, by the first match in this order: RST (any segment \
                with RST), SYN (without ACK), SYN-ACK, FIN (any other with FIN), DATA (any other \
                with payload), ACK (everything else).",
            "type": "string",
            "enum": names,
        })
    }
}

impl LeafSchema for FaultSegment {
    fn schema(_: &mut SchemaGenerator) -> Schema {
        let mut names: Vec<&str> = SegmentKind::ALL.iter().map(|k| k.name()).collect();
        names.push("ANY");
        json_schema!({ "type": "string", "enum": names })
    }
}

impl LeafSchema for StateName {
    const DEF: Option<&'static str> = Some("State");
    fn schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = State::ALL.iter().map(|s| s.name()).collect();
        json_schema!({
            "description": "An RFC 9293 state name.",
            "type": "string",
            "enum": names,
        })
    }
}

impl LeafSchema for StepText {
    const DEF: Option<&'static str> = Some("Step");
    fn schema(_: &mut SchemaGenerator) -> Schema {
        // `u64::from_str` takes a leading `+` and zeros.
        let count = format!(r"\+?0*{}", up_to(MAX_SEND_BYTES));
        let time = duration_word();
        let steps = [
            format!(r"write\s+{count}"),
            format!(r"read\s+{count}"),
            r"read\s+eof".to_owned(),
            r"read\s+all".to_owned(),
            r"wait\s+acked".to_owned(),
            format!(r"sleep\s+{time}"),
            format!(r"at\s+{time}"),
            r"shutdown(?:\s+read|\s+both)?".to_owned(),
            "close".to_owned(),
            "abort".to_owned(),
        ];
        json_schema!({
            "description": "An application step: \"write N\", \"read N\" (N from 1 to 1 GiB), \
                \"read eof\", \"read all\", \"wait acked\", \"sleep DUR\", \"at T\" (T from the \
                start of the run), \"shutdown\", \"shutdown read\", \"shutdown both\", \"close\" \
                or \"abort\". Nothing follows close or abort, and nothing writes after the \
                write side is shut down.",
            "type": "string",
            "pattern": whole(&format!("(?:{})", steps.join("|"))),
        })
    }
}

impl LeafSchema for Isn {
    fn schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "string", "enum": ["clock", "random"] },
                int(0, u32::MAX.into()),
            ],
        })
    }
}

impl LeafSchema for WindowScale {
    fn schema(_: &mut SchemaGenerator) -> Schema {
        or_word("none", int(0, 14))
    }
}

impl LeafSchema for SendBuffer {
    fn schema(_: &mut SchemaGenerator) -> Schema {
        or_word("unbounded", int(1, i32::MAX.into()))
    }
}

impl LeafSchema for SendBufferMax {
    fn schema(_: &mut SchemaGenerator) -> Schema {
        or_word("fixed", int(1, i32::MAX.into()))
    }
}

impl LeafSchema for InitialWindowSegments {
    fn schema(_: &mut SchemaGenerator) -> Schema {
        or_word("rfc3390", int(1, 1000))
    }
}

#[cfg(test)]
mod tests;

//! How each kind of value of the file is read: a [`Leaf`] turns one TOML
//! value ([`Scalar`]) into a Rust value, checking its type and range, and
//! says what it expected in the project's words; [`Val`], [`List`],
//! [`OneOrMany`], [`Tables`] and [`Entries`] make leaves into fields of the
//! typed model. Durations and rates go through `units.rs`, which parses
//! them exactly in integers.
//!
//! A leaf that refuses a value returns [`Bad::Expected`] ("a port between 1
//! and 65535"); the deserializer adds the value as written ("found 0") and
//! its position when it places the error.

use core::fmt;
use core::marker::PhantomData;
use std::net::Ipv4Addr;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use tcpsim_net::{CloseMode, Distribution, OpenMode, Outcome, Step};
use tcpsim_tcp::congestion::InitialCwnd;
use tcpsim_tcp::{
    AbortReset, AckAboveSndNxt, AckOfFin, CongestionAlgorithm, CwndAccounting, DuplicateSyn,
    Duration, FinInZeroWindow, FinSack, HalfOpenRstSyn, InitialWindow, IsnMode, LossRecovery,
    Nagle, PersistGiveUp, Profile, Push, RecvMemory, RetransmissionRtt, RetryModel, RstInTimeWait,
    RtoFormula, SegmentKind, SimultaneousSynAck, State, SynRetryCount, TimeWaitSegments,
    TimerWheel, TsRecentUpdate, WindowRounding,
};
use toml::Spanned;

use super::apps::MAX_STEPS;
use super::limits::{MAX_CONNECTIONS, MAX_HOSTS, MAX_SEND_BYTES, pretty};
use super::steps::parse_step;
use super::units::{SeedRange, parse_file_duration, parse_port_range, parse_rate};

/// One TOML value as a leaf sees it. Arrays, tables and datetimes are
/// never a leaf's value; the error quotes them from the document.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Scalar {
    Str(String),
    Int(i128),
    Float(f64),
    Bool(bool),
    Other,
}

/// Why a leaf refused a value.
pub(crate) enum Bad {
    /// `expected WHAT`; the deserializer adds `found VALUE`.
    Expected(String),
    /// A whole message.
    Message(String),
}

impl Bad {
    fn expected(what: &str) -> Bad {
        Bad::Expected(what.to_owned())
    }

    /// As a serde error (which [`DeError`](super::de) turns back into `self`).
    pub(crate) fn into_de<E: de::Error>(self) -> E {
        match self {
            Bad::Expected(what) => E::invalid_value(Unexpected::Other("value"), &what.as_str()),
            Bad::Message(m) => E::custom(m),
        }
    }
}

impl Scalar {
    /// A string.
    pub(crate) fn str(&self, what: &str) -> Result<&str, Bad> {
        match self {
            Scalar::Str(s) => Ok(s),
            _ => Err(Bad::expected(what)),
        }
    }

    /// An integer in `lo..=hi`, as `T`; `what` names it with its range.
    pub(crate) fn int<T: TryFrom<i128>>(&self, lo: i128, hi: i128, what: &str) -> Result<T, Bad> {
        match *self {
            Scalar::Int(i) if (lo..=hi).contains(&i) => {
                T::try_from(i).map_err(|_| Bad::expected(what))
            }
            _ => Err(Bad::expected(what)),
        }
    }

    /// A boolean (no string or number stands in for one).
    pub(crate) fn boolean(&self) -> Result<bool, Bad> {
        match *self {
            Scalar::Bool(b) => Ok(b),
            _ => Err(Bad::expected("true or false")),
        }
    }

    /// A number (integer or float) in `0..=1`.
    pub(crate) fn probability(&self) -> Result<f64, Bad> {
        const WHAT: &str = "a probability between 0 and 1";
        let p = match *self {
            Scalar::Float(f) => f,
            Scalar::Int(i) if (0..=1).contains(&i) => i as f64,
            _ => return Err(Bad::expected(WHAT)),
        };
        if (0.0..=1.0).contains(&p) {
            // -0.0 is in range; store it as 0.0.
            Ok(p + 0.0)
        } else {
            Err(Bad::expected(WHAT))
        }
    }

    /// A duration string (`"250ms"`).
    pub(crate) fn duration(&self) -> Result<Duration, Bad> {
        let s = self.str("a duration string with a unit, like \"250ms\" or \"1.5s\"")?;
        parse_file_duration(s).map_err(Bad::Message)
    }

    /// A duration longer than zero.
    pub(crate) fn positive_duration(&self) -> Result<Duration, Bad> {
        match self.duration()? {
            Duration::ZERO => Err(Bad::expected("a duration longer than zero")),
            d => Ok(d),
        }
    }

    /// The string `word`, as `None`, or what `other` reads.
    fn or_word<T>(
        &self,
        word: &str,
        other: impl FnOnce(&Scalar) -> Result<T, Bad>,
    ) -> Result<Option<T>, Bad> {
        match self {
            Scalar::Str(s) if s == word => Ok(None),
            _ => other(self).map(Some),
        }
    }
}

/// The scalar visits, shared by [`Scalar`] and [`OneOrMany`]'s visitors:
/// each wraps what it got and hands it to `self.scalar`.
macro_rules! visit_scalars {
    () => {
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            self.scalar(Scalar::Str(s.to_owned()))
        }
        fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
            self.scalar(Scalar::Bool(b))
        }
        fn visit_i64<E: de::Error>(self, i: i64) -> Result<Self::Value, E> {
            self.scalar(Scalar::Int(i.into()))
        }
        fn visit_u64<E: de::Error>(self, u: u64) -> Result<Self::Value, E> {
            self.scalar(Scalar::Int(u.into()))
        }
        fn visit_i128<E: de::Error>(self, i: i128) -> Result<Self::Value, E> {
            self.scalar(Scalar::Int(i))
        }
        fn visit_f64<E: de::Error>(self, f: f64) -> Result<Self::Value, E> {
            self.scalar(Scalar::Float(f))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.scalar(Scalar::Other)
        }
        fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            self.scalar(Scalar::Other)
        }
    };
}

struct ScalarVisitor;

impl ScalarVisitor {
    fn scalar<E>(self, s: Scalar) -> Result<Scalar, E> {
        Ok(s)
    }
}

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }
    visit_scalars!();
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Scalar, A::Error> {
        Ok(Scalar::Other)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// A kind of value of the file: what it reads from one TOML value.
pub(crate) trait Leaf {
    /// The value read.
    type Value;
    /// Reads it, or says what was expected.
    fn read(v: &Scalar) -> Result<Self::Value, Bad>;
}

/// The value of leaf `T`: what a field of the typed model holds.
pub(crate) struct Val<T: Leaf>(pub(crate) T::Value);

impl<'de, T: Leaf> Deserialize<'de> for Val<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Scalar::deserialize(d)?;
        T::read(&v).map(Val).map_err(Bad::into_de)
    }
}

/// For `#[serde(default, deserialize_with = "opt::<T, _>")]` on a field of
/// type `Option<T::Value>`.
pub(crate) fn opt<'de, T: Leaf, D: Deserializer<'de>>(d: D) -> Result<Option<T::Value>, D::Error> {
    Val::<T>::deserialize(d).map(|v| Some(v.0))
}

/// A leaf that also comes in lists, and what a list of them is called.
pub(crate) trait Listed: Leaf {
    /// "an array of ports, like [80]".
    const LIST: &'static str;
    /// The most elements a list may have, and what they are called in
    /// the error; a longer list is refused before any element is read.
    const MAX: (usize, &'static str) = (usize::MAX, "values");
}

/// An array of leaves, each with its position.
pub(crate) struct List<T: Listed>(pub(crate) Vec<Spanned<T::Value>>);

impl<'de, T: Listed> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: Listed> Visitor<'de> for ListVisitor<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::LIST)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let (max, what) = T::MAX;
                if let Some(n) = seq.size_hint().filter(|&n| n > max) {
                    return Err(de::Error::custom(format!(
                        "expected at most {max} {what} in a list, found {n}"
                    )));
                }
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<Val<T>>>()? {
                    let span = item.span();
                    items.push(Spanned::new(span, item.into_inner().0));
                }
                Ok(List(items))
            }
        }
        d.deserialize_seq(ListVisitor(PhantomData))
    }
}

/// One leaf, or a non-empty array of them (`segment = "SYN"` or
/// `segment = ["SYN", "FIN"]`).
pub(crate) enum OneOrMany<T: Listed> {
    One(T::Value),
    Many(Vec<Spanned<T::Value>>),
}

struct OneOrManyVisitor<T>(PhantomData<T>);

impl<T: Listed> OneOrManyVisitor<T> {
    fn scalar<E: de::Error>(self, s: Scalar) -> Result<OneOrMany<T>, E> {
        T::read(&s).map(OneOrMany::One).map_err(Bad::into_de)
    }
}

impl<'de, T: Listed> Visitor<'de> for OneOrManyVisitor<T> {
    type Value = OneOrMany<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::LIST)
    }
    visit_scalars!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<OneOrMany<T>, A::Error> {
        let List(items) = List::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        if items.is_empty() {
            return Err(de::Error::invalid_length(0, &self));
        }
        Ok(OneOrMany::Many(items))
    }
}

impl<'de, T: Listed> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

impl<T: Listed> OneOrMany<T> {
    /// Every value, the positions dropped.
    pub(crate) fn values(&self) -> Vec<&T::Value> {
        match self {
            OneOrMany::One(v) => vec![v],
            OneOrMany::Many(items) => items.iter().map(Spanned::get_ref).collect(),
        }
    }
}

/// A kind of table that comes in an array (`[[hosts]]`).
pub(crate) trait Table {
    /// How the tables are written: `"[[hosts]]"`.
    const NAME: &'static str;
    /// Most tables in a file; over it, the error is at the first table
    /// past the limit, and no table is read.
    const MAX: usize;
}

/// An array of tables (`[[hosts]]` or an inline array of inline tables),
/// each with its position.
pub(crate) struct Tables<T>(pub(crate) Vec<Spanned<T>>);

impl<'de, T: Table + Deserialize<'de>> Deserialize<'de> for Tables<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TablesVisitor<T>(PhantomData<T>);
        impl<'de, T: Table + Deserialize<'de>> Visitor<'de> for TablesVisitor<T> {
            type Value = Tables<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an array of {} tables", T::NAME)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tables<T>, A::Error> {
                // Over the limit: the tables before it are skipped, not read.
                if let Some(total) = seq.size_hint().filter(|&n| n > T::MAX) {
                    for _ in 0..T::MAX {
                        seq.next_element::<de::IgnoredAny>()?;
                    }
                    if let Some(never) = seq.next_element_seed(TooMany::<T>(total, PhantomData))? {
                        match never {}
                    }
                }
                let mut tables = Vec::new();
                while let Some(t) = seq.next_element::<Spanned<T>>()? {
                    tables.push(t);
                }
                Ok(Tables(tables))
            }
        }
        d.deserialize_seq(TablesVisitor(PhantomData))
    }
}

/// The table past a [`Table::MAX`]: an error at that table, which is not
/// read.
struct TooMany<T>(usize, PhantomData<T>);

impl<'de, T: Table> de::DeserializeSeed<'de> for TooMany<T> {
    type Value = core::convert::Infallible;
    fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<Self::Value, D::Error> {
        Err(de::Error::custom(format!(
            "too many {} tables: expected at most {} (the limit keeps a run within memory), found {}",
            T::NAME,
            pretty(T::MAX as u128),
            pretty(self.0 as u128)
        )))
    }
}

/// A table read as key–value pairs in file order (`{ SYN = 1, FIN = 0 }`).
pub(crate) struct Entries<K, V>(pub(crate) Vec<(K, V)>);

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Entries<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<K, V>(PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<K, V> {
            type Value = Entries<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<K, V>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// A value named by one of a few strings (`profile = "linux"`).
pub(crate) trait Choice: Copy + PartialEq + 'static {
    /// Every name with its value, in the order messages list them.
    const NAMES: &'static [(&'static str, Self)];

    /// The name of `self`.
    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("?", |(n, _)| n)
    }
}

impl<T: Choice> Leaf for T {
    type Value = T;
    fn read(v: &Scalar) -> Result<T, Bad> {
        if let Scalar::Str(s) = v {
            if let Some((_, value)) = T::NAMES.iter().find(|(n, _)| n == s) {
                return Ok(*value);
            }
        }
        let list: Vec<String> = T::NAMES.iter().map(|(n, _)| format!("{n:?}")).collect();
        Err(Bad::Expected(format!("one of {}", list.join(" | "))))
    }
}

/// `choices! { Type { "name" => Variant, ... } ... }`: [`Choice`] for each type.
macro_rules! choices {
    ($($ty:ident { $($name:literal => $value:ident),+ $(,)? })+) => {$(
        impl Choice for $ty {
            const NAMES: &'static [(&'static str, Self)] = &[$(($name, $ty::$value)),+];
        }
    )+};
}

choices! {
    Profile { "rfc" => Rfc, "linux" => Linux }
    Distribution { "uniform" => Uniform, "normal" => Normal, "pareto" => Pareto, "paretonormal" => ParetoNormal }
    OpenMode { "active" => Active, "simultaneous" => Simultaneous }
    CloseMode {
        "client-first" => ClientFirst, "server-first" => ServerFirst, "simultaneous" => Simultaneous,
        "client-abort" => ClientAbort, "server-abort" => ServerAbort, "none" => None,
    }
    Outcome { "closed" => Closed, "refused" => Refused, "timeout" => Timeout, "reset" => Reset, "incomplete" => Incomplete }
    GilbertElliott { "gilbert-elliott" => Model }
    RecvMemory { "octets" => Octets, "linux" => Linux }
    RstInTimeWait { "close" => Close, "ignore" => Ignore }
    RtoFormula { "rfc6298" => Rfc6298, "linux" => Linux }
    RetransmissionRtt { "karn" => Karn, "sample" => Sample }
    AbortReset { "rst" => Rst, "rst-ack" => RstAck }
    DuplicateSyn { "ack" => Ack, "syn-ack" => SynAck }
    AckOfFin { "now" => Now, "delayed" => Delayed }
    SynRetryCount { "includes-linear" => IncludesLinear, "plus-linear" => PlusLinear }
    RetryModel { "count" => Count, "linux-timeout" => LinuxTimeout }
    WindowRounding { "down" => Down, "up" => Up }
    InitialWindow { "exact" => Exact, "mss-multiple" => MssMultiple }
    AckAboveSndNxt { "ack" => Ack, "drop" => Drop }
    FinInZeroWindow { "drop" => Drop, "accept" => Accept }
    PersistGiveUp { "like-data" => LikeData, "probes" => Probes }
    TimerWheel { "exact" => Exact, "linux" => Linux }
    HalfOpenRstSyn { "rfc9293" => Rfc9293, "linux" => Linux }
    SimultaneousSynAck { "rfc9293" => Rfc9293, "linux" => Linux }
    TimeWaitSegments { "rfc9293" => Rfc9293, "linux" => Linux }
    TsRecentUpdate { "rfc7323" => Rfc7323, "linux" => Linux }
    FinSack { "rfc2883" => Rfc2883, "linux" => Linux }
    Push { "rfc1122" => Rfc1122, "linux" => Linux }
    CongestionAlgorithm { "reno" => Reno, "cubic" => Cubic }
    LossRecovery { "newreno" => NewReno, "rack" => Rack }
    CwndAccounting { "rfc5681" => Rfc5681, "linux" => Linux }
    Nagle { "rfc896" => Rfc896, "minshall" => Minshall, "off" => Off }
}

/// `model` of a Gilbert–Elliott `loss` table: the one model there is.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum GilbertElliott {
    Model,
}

/// A fault's `action`, before `extra` gives a delay its length.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Action {
    Drop,
    Delay,
    Duplicate,
    Corrupt,
    Partition,
}

choices! {
    Action { "drop" => Drop, "delay" => Delay, "duplicate" => Duplicate, "corrupt" => Corrupt, "partition" => Partition }
}

/// `leaves! { Marker: Value = |v| read; ... }`: a [`Leaf`] per marker type.
macro_rules! leaves {
    ($($(#[$doc:meta])* $name:ident: $value:ty = |$v:ident| $read:expr;)+) => {$(
        $(#[$doc])*
        pub(crate) enum $name {}
        impl Leaf for $name {
            type Value = $value;
            fn read($v: &Scalar) -> Result<$value, Bad> {
                $read
            }
        }
    )+};
}

impl Leaf for Duration {
    type Value = Duration;
    fn read(v: &Scalar) -> Result<Duration, Bad> {
        v.duration()
    }
}

impl Leaf for bool {
    type Value = bool;
    fn read(v: &Scalar) -> Result<bool, Bad> {
        v.boolean()
    }
}

/// The segment kinds an `ANY` stands for, and how a kind is named in messages.
fn kind_names(any: bool) -> String {
    let mut names: Vec<&str> = SegmentKind::ALL.iter().map(|k| k.name()).collect();
    if any {
        names.push("ANY");
    }
    names.join(", ")
}

leaves! {
    /// A duration longer than zero.
    PositiveDuration: Duration = |v| v.positive_duration();
    /// Any string.
    Text: String = |v| v.str("a string").map(str::to_owned);
    /// `name`: a non-empty string.
    ExperimentName: String = |v| {
        let s = v.str("the experiment's name as a string")?;
        if s.trim().is_empty() {
            return Err(Bad::expected("a non-empty name"));
        }
        // Names are printed in timelines, reports and replay commands: a
        // newline or a terminal escape there would forge or garble them.
        if s.chars().any(char::is_control) {
            return Err(Bad::expected(
                "a name without control characters (newlines, tabs, escape codes)",
            ));
        }
        Ok(s.to_owned())
    };
    /// `seed` in a file: TOML integers are signed 64-bit.
    FileSeed: u64 = |v| v.int(0, i64::MAX.into(), "a seed between 0 and 9223372036854775807 (2^63 - 1)");
    /// A host's `name`: letters, digits, `-` and `_`, and at most one `{}`
    /// (the member number of generated hosts, checked with `count`).
    HostName: String = |v| {
        let name = v.str("a host name")?;
        let rest = name.replacen("{}", "", 1);
        let valid = !name.is_empty()
            && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(Bad::expected(
                "a host name made of letters, digits, '-' and '_' (with one {} for generated hosts)",
            ));
        }
        Ok(name.to_owned())
    };
    /// A `[[hosts]]` table's `count`: how many hosts it generates.
    HostCount: u32 = |v| v.int(
        1,
        MAX_HOSTS as i128,
        "a count of at least 1 and at most 10000 (hosts in a run, after count expansion)",
    );
    /// A reference to a host by name, resolved after reading.
    HostRef: String = |v| v.str("a host name").map(str::to_owned);
    /// A host's `addr`: a unicast IPv4 address.
    Addr: Ipv4Addr = |v| {
        const WHAT: &str = "an IPv4 address like \"10.0.0.1\"";
        let addr: Ipv4Addr = v.str(WHAT)?.parse().map_err(|_| Bad::expected(WHAT))?;
        if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() {
            return Err(Bad::expected("a unicast IPv4 address"));
        }
        Ok(addr)
    };
    /// A TCP port.
    Port: u16 = |v| v.int(1, 65535, "a port between 1 and 65535");
    /// `ephemeral_ports = "FIRST-LAST"`.
    PortRange: (u16, u16) = |v| parse_port_range(v.str("a port range like \"1024-65535\"")?).map_err(Bad::Message);
    /// A probability.
    Probability: f64 = |v| v.probability();
    /// `reorder_gap`.
    ReorderGap: u32 = |v| v.int(1, u32::MAX.into(), "a reorder gap between 1 and 4294967295 (2^32 - 1)");
    /// `queue`, in packets.
    Queue: u32 = |v| v.int(1, u32::MAX.into(), "a queue between 1 and 4294967295 (2^32 - 1) packets");
    /// `rate`: bits per second, or `"unlimited"` (`None`).
    Rate: Option<u64> = |v| {
        let s = v.str("a rate like \"10Mbit\" or \"unlimited\"")?;
        if s == "unlimited" {
            return Ok(None);
        }
        parse_rate(s).map(Some).map_err(Bad::Message)
    };
    /// A fault's `segment`: a kind, or `ANY` (`None`).
    FaultSegment: Option<SegmentKind> = |v| {
        let name = v.str(&format!("a segment kind ({})", kind_names(true)))?;
        if name == "ANY" {
            return Ok(None);
        }
        SegmentKind::from_name(name).map(Some).ok_or_else(|| {
            Bad::Message(format!("unknown segment kind {name:?}: expected one of {}", kind_names(true)))
        })
    };
    /// A segment kind as a key of `[expect]` (no `ANY`).
    Kind: SegmentKind = |v| {
        let name = v.str(&format!("a segment kind ({})", kind_names(false)))?;
        SegmentKind::from_name(name).ok_or_else(|| {
            Bad::Message(format!("unknown segment kind {name:?}: expected one of {}", kind_names(false)))
        })
    };
    /// An element of `nth`.
    Nth: u32 = |v| v.int(1, u32::MAX.into(), "a segment number between 1 and 4294967295 (2^32 - 1; nth counts from 1)");
    /// `client_sends` / `server_sends`: at most [`MAX_SEND_BYTES`], since
    /// the application writes it all at once and so holds it in memory.
    SendBytes: u64 = |v| v.int(0, MAX_SEND_BYTES.into(), "a byte count between 0 and 1073741824 (1 GiB)");
    /// A connection's `count`.
    ConnCount: u32 = |v| v.int(
        1,
        MAX_CONNECTIONS.into(),
        "a count of at least 1 and at most 1000000 (connections in a run, after count expansion)",
    );
    /// A count in `[expect]`.
    ExpectCount: u64 = |v| v.int(0, i64::MAX.into(), "a count between 0 and 9223372036854775807 (2^63 - 1)");
    /// An element of a `retransmit_at` list.
    Time: Duration = |v| v.duration();
    /// An RFC 9293 state name.
    StateName: State = |v| {
        let name = v.str("a state name like \"ESTABLISHED\"")?;
        State::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = State::ALL.iter().map(|s| s.name()).collect();
            Bad::Message(format!("unknown state {name:?}: expected one of {}", names.join(", ")))
        })
    };
    /// `[sweep] seeds`: a range, or one seed.
    Seeds: SeedRange = |v| match v {
        Scalar::Str(s) => s.parse::<SeedRange>().map_err(Bad::Message),
        Scalar::Int(i) => u64::try_from(*i)
            .map(SeedRange::single)
            .map_err(|_| Bad::expected("a seed range like \"1..=1000\"")),
        _ => Err(Bad::expected("a seed range like \"1..=1000\"")),
    };
    /// One step of `client_app` / `server_app` (`steps.rs`).
    StepText: Step = |v| parse_step(v.str("a step, like \"write 3000\"")?).map_err(Bad::Message);
    /// A socket's `mss` (`TCP_MAXSEG`).
    SocketMss: u16 = |v| v.int(88, 32767, "an MSS between 88 and 32767 (TCP_MAXSEG)");
    /// A socket's `recv_buffer` / `send_buffer`.
    SocketBuffer: u32 = |v| v.int(1, 1 << 30, "a buffer size in bytes between 1 and 1073741824 (1 GiB)");
    /// A retry count of `[tcp]`.
    Retries: u32 = |v| v.int(0, 255, "a retry count between 0 and 255");
    /// `fin_wait_2_timeout`: a duration, or `"none"`.
    FinWait2: Option<Duration> = |v| match v {
        Scalar::Str(_) => v.or_word("none", Scalar::duration),
        _ => Err(Bad::expected("a duration like \"60s\" or \"none\"")),
    };
    /// `user_timeout`: a duration longer than zero, or `"none"`.
    UserTimeout: Option<Duration> = |v| match v {
        Scalar::Str(_) => v.or_word("none", Scalar::positive_duration),
        _ => Err(Bad::expected("a duration like \"3s\" or \"none\"")),
    };
    /// `mss`: 65535 less the IPv4 and TCP headers at most.
    Mss: u16 = |v| v.int(1, 65495, "an MSS between 1 and 65495 bytes");
    /// `recv_window`.
    RecvWindow: u16 = |v| v.int(1, 65535, "a receive window between 1 and 65535 bytes");
    /// `recv_buffer` and `recv_buffer_max`.
    RecvBuffer: u32 = |v| v.int(1, i32::MAX.into(), "a receive buffer between 1 and 2147483647 bytes");
    /// `isn`: `"clock"`, `"random"` or a fixed number.
    Isn: IsnMode = |v| match v {
        Scalar::Str(s) if s == "random" => Ok(IsnMode::Random),
        Scalar::Str(s) if s == "clock" => Ok(IsnMode::Clock),
        _ => v.int(
            0,
            u32::MAX.into(),
            "\"clock\", \"random\" or an initial sequence number between 0 and 4294967295",
        ).map(IsnMode::Fixed),
    };
    /// `quickacks`.
    Quickacks: u32 = |v| v.int(0, 255, "a quick-ACK count between 0 and 255");
    /// `window_scale`: a shift of at most 14 (RFC 7323 §2.3: "the shift
    /// count MUST be limited to 14"), or `"none"`. `Config` itself sends a
    /// larger shift as 14; a file is refused instead.
    WindowScale: Option<u8> = |v| v.or_word("none", |v| v.int(
        0,
        14,
        "a window-scale shift between 0 and 14 (RFC 7323 §2.3) or \"none\"",
    ));
    /// `send_buffer`: octets, or `"unbounded"`.
    SendBuffer: Option<u32> = |v| v.or_word("unbounded", |v| v.int(
        1,
        i32::MAX.into(),
        "a send buffer between 1 and 2147483647 bytes or \"unbounded\"",
    ));
    /// `send_buffer_overhead`.
    SendBufferOverhead: u32 = |v| v.int(0, 65535, "a per-buffer overhead between 0 and 65535 bytes");
    /// `send_buffer_max`: octets, or `"fixed"`.
    SendBufferMax: Option<u32> = |v| v.or_word("fixed", |v| v.int(
        1,
        i32::MAX.into(),
        "a largest send buffer between 1 and 2147483647 bytes or \"fixed\"",
    ));
    /// `initial_cwnd`: `"rfc3390"` or a number of segments.
    InitialWindowSegments: InitialCwnd = |v| match v {
        Scalar::Str(s) if s == "rfc3390" => Ok(InitialCwnd::Rfc3390),
        _ => v.int(1, 1000, "an initial window between 1 and 1000 segments or \"rfc3390\"")
            .map(InitialCwnd::Segments),
    };
}

impl Listed for StepText {
    const LIST: &'static str =
        "an array of steps, like [\"write 3000\", \"shutdown\", \"read eof\", \"close\"]";
    const MAX: (usize, &'static str) = (MAX_STEPS, "steps");
}

impl Listed for Port {
    const LIST: &'static str = "an array of ports, like [80]";
}

impl Listed for FaultSegment {
    const LIST: &'static str = "a segment kind or a non-empty list of them";
}

impl Listed for Nth {
    const LIST: &'static str = "a non-empty list of segment numbers, like [1]";
}

impl Listed for Time {
    const LIST: &'static str = "a list of times, like [\"1s\", \"3s\"]";
}

impl Listed for StateName {
    const LIST: &'static str = "a list of states, like [\"SYN-SENT\", \"ESTABLISHED\"]";
}

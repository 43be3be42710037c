//! The experiment file as typed structs, one per kind of table (SPEC §3),
//! read by `#[derive(Deserialize)]` with `deny_unknown_fields`: every key
//! has its type and range checked here, by its [`Leaf`](super::leaf).
//!
//! What can only be checked against the rest of the file (a host a link
//! names, a name used twice, a required key, `end` after `start`, the
//! limits on totals) is left to `validate.rs`, which turns this into the
//! [`Experiment`](super::Experiment); the values it checks carry their
//! position (`Spanned`, or [`Keyed`] for an error about the key). Required
//! keys are `Option`s here so that their absence is reported in the
//! project's words, at their table.
//!
//! The field order of each struct is the order in which "expected one of"
//! lists its keys.
//!
//! The same structs give the file's JSON Schema (`schema.rs`): each derives
//! `JsonSchema`, its doc comments (user-facing, unlike these module docs)
//! are the descriptions, `#[schemars(extend("default" = ...))]` states a
//! key's default, and `#[schemars(with = ...)]` looks through the
//! `Spanned` wrappers, which only carry positions.

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use tcpsim_net::{CloseMode, Distribution, OpenMode, Outcome};
use tcpsim_tcp::{Duration, Profile};
use toml::Spanned;

use super::de::Keyed;
use super::leaf::{
    Action, Addr, ConnCount, Entries, ExpectCount, ExperimentName, FaultSegment, FileSeed,
    GilbertElliott, HostCount, HostName, HostRef, Kind, Leaf, List, Nth, OneOrMany, Port,
    PortRange, PositiveDuration, Probability, Queue, Rate, ReorderGap, Scalar, Seeds, SendBytes,
    StateName, StepText, Table, Tables, Text, Time, Val,
};
use super::limits::{MAX_FAULTS, MAX_HOSTS, MAX_LINKS};
use super::model::SocketSpec;
use super::tcp::TcpOverrides;

/// A tcpsim experiment: the hosts and their addresses, the links between
/// them, the faults aimed at particular segments, the connections and what
/// their applications do, and what the run must show. The reference is
/// docs/experiment-file.md.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(title = "tcpsim experiment file")]
pub(crate) struct File {
    /// The experiment's name in reports; defaults to the file's stem
    /// (`lost-syn` for `configs/lost-syn.toml`).
    pub name: Option<Val<ExperimentName>>,
    /// Free text; the files in `configs/` use it for the derivation of the
    /// expected run.
    #[schemars(extend("default" = ""))]
    pub description: Option<Val<Text>>,
    /// The seed of a run (0 to 2^63 - 1); `--seed N` overrides it with any
    /// u64. Everything random draws from streams derived from it.
    #[schemars(extend("default" = 1))]
    pub seed: Option<Val<FileSeed>>,
    /// The virtual-time bound of a run; reaching it stops the run with stop
    /// reason `duration`.
    #[schemars(extend("default" = "10min"))]
    pub duration: Option<Keyed<Val<PositiveDuration>>>,
    /// The TCP defaults of every host: `rfc` (RFC 9293 and the RFCs it
    /// cites) or `linux` (the Linux kernel's choices).
    #[schemars(extend("default" = "rfc"))]
    pub profile: Option<Val<Profile>>,
    /// `[tcp]`: overrides of the profile's TCP parameters for every host.
    pub tcp: Option<TcpOverrides>,
    /// `[[hosts]]`: at least one host.
    #[schemars(with = "Option<Tables<Host>>", required, extend("minItems" = 1))]
    pub hosts: Option<Spanned<Tables<Host>>>,
    /// `[[links]]`: duplex links between two hosts, at most one per pair.
    pub links: Option<Tables<Link>>,
    /// `[[faults]]`: rules aimed at particular segments, tried in file order.
    pub faults: Option<Tables<Fault>>,
    /// `[[connections]]`: each one connection, or `count` identical ones.
    pub connections: Option<Tables<Connection>>,
    /// `[expect]`: what the run must show; each key is one named check.
    pub expect: Option<Expect>,
    /// `[sweep]`: what `tcpsim sweep` varies.
    #[schemars(with = "Option<Sweep>")]
    pub sweep: Option<Spanned<Sweep>>,
}

/// A `[[hosts]]` table: one host, or with `count` a group of generated
/// hosts. Hosts are numbered in file order from 0, as `--set` paths name
/// the tables (`hosts.0`).
// With `count` the name holds `{}`, without it it does not (`validate.rs`
// checks the same, with its own words).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a [[hosts]] table")]
#[schemars(extend(
    "if" = { "required": ["count"] },
    "then" = { "properties": { "name": { "pattern": "\\{\\}" } } },
    "else" = { "properties": { "name": { "not": { "pattern": "\\{\\}" } } } },
))]
pub(crate) struct Host {
    /// The host's name, unique among the hosts; with `count`, a pattern
    /// with one `{}`, which each member's number (0, 1, ...) replaces.
    #[schemars(with = "Option<Val<HostName>>", required)]
    pub name: Option<Spanned<Val<HostName>>>,
    /// The host's IPv4 address, unique among the hosts and unicast; with
    /// `count`, the first of the members' consecutive addresses.
    #[schemars(with = "Option<Val<Addr>>", required)]
    pub addr: Option<Spanned<Val<Addr>>>,
    /// Ports with a listener from t = 0, each listed once.
    #[schemars(extend("default" = []))]
    pub listen: Option<List<Port>>,
    /// This host's overrides of the TCP parameters, over `[tcp]`.
    pub tcp: Option<TcpOverrides>,
    /// Where this host's active opens take their source port, both ends
    /// included.
    #[schemars(extend("default" = "49152-65535"))]
    pub ephemeral_ports: Option<Val<PortRange>>,
    /// Generated hosts: how many members the table stands for, each with
    /// its `listen`, `tcp` and `ephemeral_ports`. A link or connection that
    /// names the pattern on one side stands for one per member.
    #[schemars(with = "Option<Val<HostCount>>")]
    pub count: Option<Spanned<Val<HostCount>>>,
}

impl Table for Host {
    const NAME: &'static str = "[[hosts]]";
    const MAX: usize = MAX_HOSTS;
}

/// A `[[links]]` table: a duplex link between two hosts. Its settings
/// apply to both directions unless `a_to_b` or `b_to_a` overrides them;
/// what a direction does to a packet follows Linux netem.
// Its ends, its settings for both directions, and a table per direction
// that overrides them key by key. (`serde(flatten)` does not go with
// `deny_unknown_fields`, so the settings are spelled out here and in
// [`Direction`].)
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a [[links]] table")]
pub(crate) struct Link {
    /// One end.
    #[schemars(with = "Option<Val<HostRef>>", required)]
    pub a: Option<Spanned<Val<HostRef>>>,
    /// The other end: another host.
    #[schemars(with = "Option<Val<HostRef>>", required)]
    pub b: Option<Spanned<Val<HostRef>>>,
    /// Overrides of the settings for packets sent by `a`.
    pub a_to_b: Option<Direction>,
    /// Overrides of the settings for packets sent by `b`.
    pub b_to_a: Option<Direction>,
    /// Base one-way delay.
    #[schemars(extend("default" = "0s"))]
    pub delay: Option<Val<Duration>>,
    /// Spread around `delay`, shaped by `distribution`.
    #[schemars(extend("default" = "0s"))]
    pub jitter: Option<Val<Duration>>,
    /// The jitter's shape: uniform in [delay - jitter, delay + jitter), or
    /// iproute2's tables of those names with `jitter` as the scale.
    #[schemars(extend("default" = "uniform"))]
    pub distribution: Option<Val<Distribution>>,
    /// Random loss: each packet lost independently with this probability,
    /// or a Gilbert–Elliott table.
    #[schemars(with = "Option<Loss>", extend("default" = 0))]
    pub loss: Option<Spanned<Loss>>,
    /// The probability that a packet is sent twice.
    #[schemars(extend("default" = 0))]
    pub duplicate: Option<Val<Probability>>,
    /// The probability that one random bit of a packet is flipped (its
    /// receiver's checksum then rejects it).
    #[schemars(extend("default" = 0))]
    pub corrupt: Option<Val<Probability>>,
    /// netem's reordering: the probability that a packet skips the delay
    /// and leaves at once.
    #[schemars(extend("default" = 0))]
    pub reorder: Option<Val<Probability>>,
    /// A packet may be reordered only after `reorder_gap - 1` delayed
    /// packets since the last reordered one.
    #[schemars(extend("default" = 1))]
    pub reorder_gap: Option<Val<ReorderGap>>,
    /// Serialization: a packet of L bytes takes L·8/rate on the wire.
    #[schemars(extend("default" = "unlimited"))]
    pub rate: Option<Val<Rate>>,
    /// The most packets inside the direction at once, in flight included;
    /// one more is tail-dropped.
    #[schemars(extend("default" = 1000))]
    pub queue: Option<Val<Queue>>,
}

impl Table for Link {
    const NAME: &'static str = "[[links]]";
    const MAX: usize = MAX_LINKS;
}

/// The settings of a link or of one of its directions, each `None` where
/// the table does not set it.
#[derive(Default)]
pub(crate) struct Settings<'a> {
    pub delay: Option<Duration>,
    pub jitter: Option<Duration>,
    pub distribution: Option<Distribution>,
    pub loss: Option<&'a Spanned<Loss>>,
    pub duplicate: Option<f64>,
    pub corrupt: Option<f64>,
    pub reorder: Option<f64>,
    pub reorder_gap: Option<u32>,
    pub rate: Option<Option<u64>>,
    pub queue: Option<u32>,
}

/// The [`Settings`] of a [`Link`] or a [`Direction`], whose fields have
/// the same names.
macro_rules! settings {
    ($t:expr) => {
        Settings {
            delay: $t.delay.as_ref().map(|v| v.0),
            jitter: $t.jitter.as_ref().map(|v| v.0),
            distribution: $t.distribution.as_ref().map(|v| v.0),
            loss: $t.loss.as_ref(),
            duplicate: $t.duplicate.as_ref().map(|v| v.0),
            corrupt: $t.corrupt.as_ref().map(|v| v.0),
            reorder: $t.reorder.as_ref().map(|v| v.0),
            reorder_gap: $t.reorder_gap.as_ref().map(|v| v.0),
            rate: $t.rate.as_ref().map(|v| v.0),
            queue: $t.queue.as_ref().map(|v| v.0),
        }
    };
}

impl Link {
    /// What the link sets for both directions.
    pub fn settings(&self) -> Settings<'_> {
        settings!(self)
    }
}

impl Direction {
    /// What the direction's table sets.
    pub fn settings(&self) -> Settings<'_> {
        settings!(self)
    }
}

/// `[links.a_to_b]` or `[links.b_to_a]`: the settings of one direction; a
/// key it does not set comes from the link's table.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct Direction {
    /// Base one-way delay.
    pub delay: Option<Val<Duration>>,
    /// Spread around `delay`, shaped by `distribution`.
    pub jitter: Option<Val<Duration>>,
    /// The jitter's shape.
    pub distribution: Option<Val<Distribution>>,
    /// Random loss: a probability, or a Gilbert–Elliott table.
    #[schemars(with = "Option<Loss>")]
    pub loss: Option<Spanned<Loss>>,
    /// The probability that a packet is sent twice.
    pub duplicate: Option<Val<Probability>>,
    /// The probability that one random bit of a packet is flipped.
    pub corrupt: Option<Val<Probability>>,
    /// The probability that a packet skips the delay and leaves at once.
    pub reorder: Option<Val<Probability>>,
    /// Delayed packets between two reordered ones, plus one.
    pub reorder_gap: Option<Val<ReorderGap>>,
    /// Serialization rate.
    pub rate: Option<Val<Rate>>,
    /// The most packets inside the direction at once.
    pub queue: Option<Val<Queue>>,
}

/// `loss`: a probability, or a Gilbert–Elliott table.
pub(crate) enum Loss {
    Probability(f64),
    Table(LossTable),
}

/// Gilbert–Elliott loss (netem's `gemodel`): a chain of two states, Good
/// and Bad, starting in Good and moved once per packet.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct LossTable {
    /// The only model.
    #[schemars(required)]
    pub model: Option<Val<GilbertElliott>>,
    /// Good -> Bad, per packet.
    #[schemars(required)]
    pub p: Option<Val<Probability>>,
    /// Bad -> Good, per packet; defaults to 1 - p.
    pub r: Option<Val<Probability>>,
    /// The probability that a packet arriving in Bad gets through.
    #[schemars(extend("default" = 0))]
    pub h: Option<Val<Probability>>,
    /// The probability that a packet arriving in Good gets through.
    #[schemars(extend("default" = 1))]
    pub k: Option<Val<Probability>>,
}

impl<'de> Deserialize<'de> for Loss {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Loss, D::Error> {
        struct LossVisitor;
        impl LossVisitor {
            fn probability<E: de::Error>(self, v: Scalar) -> Result<Loss, E> {
                Probability::read(&v)
                    .map(Loss::Probability)
                    .map_err(super::leaf::Bad::into_de)
            }
        }
        impl<'de> Visitor<'de> for LossVisitor {
            type Value = Loss;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a probability between 0 and 1")
            }
            fn visit_i64<E: de::Error>(self, i: i64) -> Result<Loss, E> {
                self.probability(Scalar::Int(i.into()))
            }
            fn visit_u64<E: de::Error>(self, u: u64) -> Result<Loss, E> {
                self.probability(Scalar::Int(u.into()))
            }
            fn visit_f64<E: de::Error>(self, f: f64) -> Result<Loss, E> {
                self.probability(Scalar::Float(f))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Loss, A::Error> {
                LossTable::deserialize(de::value::MapAccessDeserializer::new(map)).map(Loss::Table)
            }
        }
        d.deserialize_any(LossVisitor)
    }
}

/// A `[[faults]]` table: a rule aimed at particular segments, applied as
/// a packet enters a link, before the link's random impairments. Every
/// rule that matches a packet counts it; the first whose `nth` holds the
/// count decides.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a [[faults]] table")]
pub(crate) struct Fault {
    /// What happens to a picked packet; `partition` cuts every packet the
    /// rule matches in its time window.
    #[schemars(required)]
    pub action: Option<Val<Action>>,
    /// The sending host; any host when absent.
    #[schemars(with = "Option<Val<HostRef>>")]
    pub from: Option<Spanned<Val<HostRef>>>,
    /// The receiving host (not `from`); any host when absent.
    #[schemars(with = "Option<Val<HostRef>>")]
    pub to: Option<Spanned<Val<HostRef>>>,
    /// The kinds the rule matches: a kind, `ANY`, or a non-empty list;
    /// every kind when absent. Refused with `partition`.
    #[schemars(extend("default" = "ANY"))]
    pub segment: Option<Keyed<OneOrMany<FaultSegment>>>,
    /// Which matches the rule acts on, counting from 1, retransmissions
    /// included; every match when absent. Refused with `partition`.
    pub nth: Option<Keyed<OneOrMany<Nth>>>,
    /// The rule matches from this time on (included); from the start when
    /// absent.
    pub start: Option<Keyed<Val<Duration>>>,
    /// The rule matches before this time (excluded), after `start`; to the
    /// end of the run when absent.
    #[schemars(with = "Option<Val<Duration>>")]
    pub end: Option<Spanned<Val<Duration>>>,
    /// With `action = "delay"` (and only then, where it is required): how
    /// much later than the link would deliver it.
    pub extra: Option<Keyed<Val<PositiveDuration>>>,
}

impl Table for Fault {
    const NAME: &'static str = "[[faults]]";
    const MAX: usize = MAX_FAULTS;
}

/// A `[[connections]]` table: one connection, or `count` identical ones.
/// The client does the active open; the server accepts. Each end runs the
/// shorthand (`client_sends`, `server_sends`, `close`, `close_at`) or a
/// step list (`client_app`, `server_app`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a [[connections]] table")]
pub(crate) struct Connection {
    /// The host that opens.
    #[schemars(with = "Option<Val<HostRef>>", required)]
    pub client: Option<Spanned<Val<HostRef>>>,
    /// The host it connects to (not the client).
    #[schemars(with = "Option<Val<HostRef>>", required)]
    pub server: Option<Spanned<Val<HostRef>>>,
    /// The server's port.
    #[schemars(required)]
    pub port: Option<Val<Port>>,
    /// When the client calls `connect()`.
    #[schemars(extend("default" = "0s"))]
    pub open_at: Option<Keyed<Val<Duration>>>,
    /// An ordinary open, or both ends connecting to each other
    /// (`simultaneous` needs `client_port`).
    #[schemars(with = "Option<Val<OpenMode>>", extend("default" = "active"))]
    pub open: Option<Spanned<Val<OpenMode>>>,
    /// A fixed source port; the client's next ephemeral port when absent.
    pub client_port: Option<Keyed<Val<Port>>>,
    /// Bytes the client writes once established (the shorthand of
    /// `client_app`).
    #[schemars(extend("default" = 0))]
    pub client_sends: Option<Keyed<Val<SendBytes>>>,
    /// Bytes the server writes once it has accepted (the shorthand of
    /// `server_app`).
    #[schemars(extend("default" = 0))]
    pub server_sends: Option<Keyed<Val<SendBytes>>>,
    /// Who closes, and how (`simultaneous` needs `close_at`).
    #[schemars(extend("default" = "client-first"))]
    pub close: Option<Keyed<Val<CloseMode>>>,
    /// When the closer closes, instead of once its data is acknowledged;
    /// refused with `close = "none"`.
    pub close_at: Option<Keyed<Val<Duration>>>,
    /// How many identical connections.
    #[schemars(with = "Option<Val<ConnCount>>", extend("default" = 1))]
    pub count: Option<Spanned<Val<ConnCount>>>,
    /// The time between the opens of those connections.
    #[schemars(extend("default" = "0s"))]
    pub interval: Option<Keyed<Val<Duration>>>,
    /// The client's application as a list of steps, instead of
    /// `client_sends`.
    #[schemars(with = "Option<List<StepText>>")]
    pub client_app: Option<Spanned<List<StepText>>>,
    /// The server's application as a list of steps, instead of
    /// `server_sends`.
    #[schemars(with = "Option<List<StepText>>")]
    pub server_app: Option<Spanned<List<StepText>>>,
    /// The client's socket options; all unset by default.
    pub client_socket: Option<SocketSpec>,
    /// The server's socket options, set on its listening socket: every
    /// connection to that listener gives the same ones.
    pub server_socket: Option<Keyed<SocketSpec>>,
}

impl Table for Connection {
    const NAME: &'static str = "[[connections]]";
    // The limit is on connections after `count` expansion (`validate.rs`).
    const MAX: usize = usize::MAX;
}

/// A table keyed by segment kind (`{ SYN = 1, FIN = 0 }`).
pub(crate) type ByKind<T> = Entries<Val<Kind>, Val<T>>;

/// A table keyed by host name, each name with its position.
pub(crate) type ByHost<T> = Entries<Spanned<String>, T>;

/// `[expect]`: what the run must show. Every key is optional; each one
/// present is one named check. Times are measured from each connection's
/// open.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct Expect {
    /// Every connection ended so.
    pub outcome: Option<Val<Outcome>>,
    /// Every client was established at most this long after its open.
    pub established_within: Option<Val<Duration>>,
    /// Every connection was closed (both ends in CLOSED or TIME-WAIT) at
    /// most this long after its open.
    pub closed_within: Option<Val<Duration>>,
    /// Retransmissions of each kind, summed over connections and both
    /// ends, equal these counts.
    pub retransmissions: Option<ByKind<ExpectCount>>,
    /// Segments of each kind sent (retransmissions included), summed over
    /// connections and both ends, equal these counts.
    pub sent: Option<ByKind<ExpectCount>>,
    /// The times of the retransmissions of each kind, each from its
    /// connection's open, in increasing order.
    pub retransmit_at: Option<Entries<Val<Kind>, List<Time>>>,
    /// Slack for every time comparison.
    #[schemars(extend("default" = "0s"))]
    pub tolerance: Option<Val<Duration>>,
    /// The states every connection end on each host went through, exactly.
    pub states: Option<ByHost<List<StateName>>>,
    /// The state of every connection end on each host when the run stopped.
    pub final_state: Option<ByHost<Val<StateName>>>,
}

/// `[sweep]`: what `tcpsim sweep` varies; `tcpsim run` and `tcpsim check`
/// ignore it.
// The grid's values are pieces of document to put in place of others, so
// they are taken from the document tree; here each list is only checked to
// be one.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct Sweep {
    /// The seeds of every grid point: a range like "1..=1000", or one
    /// seed; the file's `seed` alone when absent.
    #[schemars(with = "Option<Val<Seeds>>")]
    pub seeds: Option<Spanned<Val<Seeds>>>,
    /// The parameters to vary: each key a `--set` path (`"links.0.loss"`),
    /// each value the non-empty list of values it takes. Every combination
    /// is a point, the first path varying slowest.
    #[schemars(schema_with = "super::schema::grid")]
    pub grid: Option<Spanned<Entries<Spanned<String>, Spanned<GridValues>>>>,
}

/// The values of one grid path: how many there are.
pub(crate) struct GridValues(pub usize);

impl<'de> Deserialize<'de> for GridValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<GridValues, D::Error> {
        struct GridVisitor;
        impl<'de> Visitor<'de> for GridVisitor {
            type Value = GridValues;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a non-empty list of values, like [0.0, 0.01]")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<GridValues, A::Error> {
                let mut n = 0;
                while seq.next_element::<de::IgnoredAny>()?.is_some() {
                    n += 1;
                }
                if n == 0 {
                    return Err(de::Error::invalid_length(0, &self));
                }
                Ok(GridValues(n))
            }
        }
        d.deserialize_seq(GridVisitor)
    }
}

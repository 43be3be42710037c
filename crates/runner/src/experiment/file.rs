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

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct File {
    pub name: Option<Val<ExperimentName>>,
    pub description: Option<Val<Text>>,
    pub seed: Option<Val<FileSeed>>,
    pub duration: Option<Val<PositiveDuration>>,
    pub profile: Option<Val<Profile>>,
    pub tcp: Option<TcpOverrides>,
    pub hosts: Option<Spanned<Tables<Host>>>,
    pub links: Option<Tables<Link>>,
    pub faults: Option<Tables<Fault>>,
    pub connections: Option<Tables<Connection>>,
    pub expect: Option<Expect>,
    pub sweep: Option<Spanned<Sweep>>,
}

/// A `[[hosts]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[hosts]] table")]
pub(crate) struct Host {
    pub name: Option<Spanned<Val<HostName>>>,
    pub addr: Option<Spanned<Val<Addr>>>,
    pub listen: Option<List<Port>>,
    pub tcp: Option<TcpOverrides>,
    pub ephemeral_ports: Option<Val<PortRange>>,
    pub count: Option<Spanned<Val<HostCount>>>,
}

impl Table for Host {
    const NAME: &'static str = "[[hosts]]";
    const MAX: usize = MAX_HOSTS;
}

/// A `[[links]]` table: its ends, its settings for both directions, and a
/// table per direction that overrides them key by key. (`serde(flatten)`
/// does not go with `deny_unknown_fields`, so the settings are spelled out
/// here and in [`Direction`].)
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[links]] table")]
pub(crate) struct Link {
    pub a: Option<Spanned<Val<HostRef>>>,
    pub b: Option<Spanned<Val<HostRef>>>,
    pub a_to_b: Option<Direction>,
    pub b_to_a: Option<Direction>,
    pub delay: Option<Val<Duration>>,
    pub jitter: Option<Val<Duration>>,
    pub distribution: Option<Val<Distribution>>,
    pub loss: Option<Spanned<Loss>>,
    pub duplicate: Option<Val<Probability>>,
    pub corrupt: Option<Val<Probability>>,
    pub reorder: Option<Val<Probability>>,
    pub reorder_gap: Option<Val<ReorderGap>>,
    pub rate: Option<Val<Rate>>,
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

/// `[links.a_to_b]` or `[links.b_to_a]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct Direction {
    pub delay: Option<Val<Duration>>,
    pub jitter: Option<Val<Duration>>,
    pub distribution: Option<Val<Distribution>>,
    pub loss: Option<Spanned<Loss>>,
    pub duplicate: Option<Val<Probability>>,
    pub corrupt: Option<Val<Probability>>,
    pub reorder: Option<Val<Probability>>,
    pub reorder_gap: Option<Val<ReorderGap>>,
    pub rate: Option<Val<Rate>>,
    pub queue: Option<Val<Queue>>,
}

/// `loss`: a probability, or a Gilbert–Elliott table.
pub(crate) enum Loss {
    Probability(f64),
    Table(LossTable),
}

/// `loss = { model = "gilbert-elliott", p = ..., r = ..., h = ..., k = ... }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct LossTable {
    pub model: Option<Val<GilbertElliott>>,
    pub p: Option<Val<Probability>>,
    pub r: Option<Val<Probability>>,
    pub h: Option<Val<Probability>>,
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

/// A `[[faults]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[faults]] table")]
pub(crate) struct Fault {
    pub action: Option<Val<Action>>,
    pub from: Option<Spanned<Val<HostRef>>>,
    pub to: Option<Spanned<Val<HostRef>>>,
    pub segment: Option<Keyed<OneOrMany<FaultSegment>>>,
    pub nth: Option<Keyed<OneOrMany<Nth>>>,
    pub start: Option<Val<Duration>>,
    pub end: Option<Spanned<Val<Duration>>>,
    pub extra: Option<Keyed<Val<PositiveDuration>>>,
}

impl Table for Fault {
    const NAME: &'static str = "[[faults]]";
    const MAX: usize = MAX_FAULTS;
}

/// A `[[connections]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[connections]] table")]
pub(crate) struct Connection {
    pub client: Option<Spanned<Val<HostRef>>>,
    pub server: Option<Spanned<Val<HostRef>>>,
    pub port: Option<Val<Port>>,
    pub open_at: Option<Val<Duration>>,
    pub open: Option<Spanned<Val<OpenMode>>>,
    pub client_port: Option<Val<Port>>,
    pub client_sends: Option<Keyed<Val<SendBytes>>>,
    pub server_sends: Option<Keyed<Val<SendBytes>>>,
    pub close: Option<Keyed<Val<CloseMode>>>,
    pub close_at: Option<Keyed<Val<Duration>>>,
    pub count: Option<Spanned<Val<ConnCount>>>,
    pub interval: Option<Val<Duration>>,
    pub client_app: Option<Spanned<List<StepText>>>,
    pub server_app: Option<Spanned<List<StepText>>>,
    pub client_socket: Option<SocketSpec>,
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

/// `[expect]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct Expect {
    pub outcome: Option<Val<Outcome>>,
    pub established_within: Option<Val<Duration>>,
    pub closed_within: Option<Val<Duration>>,
    pub retransmissions: Option<ByKind<ExpectCount>>,
    pub sent: Option<ByKind<ExpectCount>>,
    pub retransmit_at: Option<Entries<Val<Kind>, List<Time>>>,
    pub tolerance: Option<Val<Duration>>,
    pub states: Option<ByHost<List<StateName>>>,
    pub final_state: Option<ByHost<Val<StateName>>>,
}

/// `[sweep]`. The grid's values are pieces of document to put in place
/// of others, so they are taken from the document tree; here each list is
/// only checked to be one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct Sweep {
    pub seeds: Option<Spanned<Val<Seeds>>>,
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

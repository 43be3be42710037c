//! The experiment as plain Rust values (tcpsim SPEC §3), already checked:
//! every host a link, fault, connection or expectation names exists and is
//! held as its [`HostId`] (its index in [`Experiment::hosts`], as the engine
//! numbers hosts), every probability is in `[0, 1]`, every port is in
//! `1..=65535`, and so on.

use std::net::Ipv4Addr;
use std::sync::Arc;

use tcpsim_tcp::{Config, Duration, Profile, SegmentKind, State};

use super::leaf::{PositiveDuration, SocketBuffer, SocketMss, Val, opt};
use super::tcp::TcpOverrides;

use super::units::SeedRange;
/// The link, fault, workload and outcome types are the engine's own, under
/// the engine's names, so an experiment file describes exactly what the
/// engine runs: a link direction is a [`LinkParams`], `open` an
/// [`OpenMode`], a fault's `action` (with `extra` for `delay`) a
/// [`FaultAction`].
pub use tcpsim_net::{
    CloseMode, Distribution, FaultAction, HostId, LinkParams, Loss, OpenMode, Outcome, Step,
};

/// One experiment file, validated and with every default filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    /// `name`; defaults to the file's stem (`lost-syn` for `configs/lost-syn.toml`).
    pub name: String,
    /// `description`; defaults to `""`.
    pub description: String,
    /// `seed`: the default seed, `0 ..= 2^63 - 1` in a file; defaults to 1.
    pub seed: u64,
    /// `duration`: the virtual-time bound of a run; defaults to 10 min.
    pub duration: Duration,
    /// `profile`: the TCP defaults; defaults to [`Profile::Rfc`].
    pub profile: Profile,
    /// `[tcp]`: overrides of the profile for every host.
    pub tcp: TcpOverrides,
    /// `[[hosts]]`, in file order (at least one); a host's [`HostId`] is
    /// its index here. Shared: the points of a sweep whose grid does not
    /// vary `hosts` hold one list.
    pub hosts: Arc<[Host]>,
    /// `[[links]]`, in file order; at most one per pair of hosts.
    pub links: Vec<Link>,
    /// `[[faults]]`, in file order (the order the rules are tried in).
    pub faults: Vec<Fault>,
    /// `[[connections]]`, in file order.
    pub connections: Vec<ConnectionSpec>,
    /// `[expect]`; empty when absent.
    pub expect: Expect,
    /// `[sweep]`, if present. Shared: every point of a sweep holds the
    /// same grid.
    pub sweep: Option<Arc<Sweep>>,
}

impl Experiment {
    /// The host called `name`.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The id of the host called `name`.
    pub fn host_id(&self, name: &str) -> Option<HostId> {
        self.hosts.iter().position(|h| h.name == name)
    }

    /// The name of host `id` (`"?"` for an id with no host, which a
    /// checked experiment does not hold).
    pub fn host_name(&self, id: HostId) -> &str {
        self.hosts.get(id).map_or("?", |h| h.name.as_str())
    }

    /// The TCP configuration of `host`: the profile's defaults, then the
    /// experiment's `[tcp]`, then the host's `tcp` (see [`TcpOverrides::config`]).
    pub fn host_config(&self, host: &Host) -> Config {
        host.tcp.config(&self.tcp, self.profile)
    }

    /// The link between hosts `a` and `b`, in either order.
    pub fn link(&self, a: HostId, b: HostId) -> Option<&Link> {
        self.links
            .iter()
            .find(|l| (l.a == a && l.b == b) || (l.a == b && l.b == a))
    }
}

/// A `[[hosts]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// `name`: unique; letters, digits, `-` and `_`.
    pub name: String,
    /// `addr`: a unicast IPv4 address, unique among the hosts.
    pub addr: Ipv4Addr,
    /// `listen`: ports with a listener from t = 0, in file order, no repeats.
    pub listen: Vec<u16>,
    /// `tcp`: this host's overrides, applied over the experiment's `[tcp]`.
    pub tcp: TcpOverrides,
    /// `ephemeral_ports = "FIRST-LAST"`: the range active opens draw their
    /// source port from; defaults to 49152–65535.
    pub ephemeral_ports: (u16, u16),
}

/// A `[[links]]` entry: a duplex link between two hosts.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// `a`: one end.
    pub a: HostId,
    /// `b`: the other end (a different host).
    pub b: HostId,
    /// The direction from `a` to `b`: the link's settings overridden by `[links.a_to_b]`.
    pub a_to_b: LinkParams,
    /// The direction from `b` to `a`: the link's settings overridden by `[links.b_to_a]`.
    pub b_to_a: LinkParams,
}

impl Link {
    /// The direction that carries packets sent by host `from`.
    pub fn from(&self, from: HostId) -> Option<&LinkParams> {
        if from == self.a {
            Some(&self.a_to_b)
        } else if from == self.b {
            Some(&self.b_to_a)
        } else {
            None
        }
    }
}

/// A `[[faults]]` entry: a targeted rule applied before the random impairments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// `action` (with `extra` for `delay`).
    pub action: FaultAction,
    /// `from`: the sending host; `None` for both directions.
    pub from: Option<HostId>,
    /// `to`: the receiving host; `None` for both directions.
    pub to: Option<HostId>,
    /// `segment`: the kinds the rule matches, in classification order
    /// without repeats; `"ANY"` or no `segment` key gives every kind, and
    /// so does `partition`, which cuts everything.
    pub segment: Vec<SegmentKind>,
    /// `nth`: which matching segments (1-based, increasing, no repeats);
    /// `None` for all of them.
    pub nth: Option<Vec<u32>>,
    /// `start`: the rule applies from this time; `None` from the start.
    pub start: Option<Duration>,
    /// `end`: the rule applies before this time; `None` to the end of the run.
    pub end: Option<Duration>,
}

impl Fault {
    /// Whether the rule matches segments of kind `kind`.
    pub fn matches_kind(&self, kind: SegmentKind) -> bool {
        self.segment.contains(&kind)
    }
}

/// A `[[connections]]` entry: one connection, or `count` identical ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionSpec {
    /// `client`: the host that does the active open.
    pub client: HostId,
    /// `server`: the other host (not the client).
    pub server: HostId,
    /// `port`: the server's port.
    pub port: u16,
    /// `open_at`: when the client calls `connect()`; default 0.
    pub open_at: Duration,
    /// `open`: how the connection opens; default active.
    pub open: OpenMode,
    /// `client_port`: a fixed source port; required for a simultaneous open.
    pub client_port: Option<u16>,
    /// `client_sends`: bytes the client writes once established; default 0.
    pub client_sends: u64,
    /// `server_sends`: bytes the server writes once it accepts; default 0.
    pub server_sends: u64,
    /// `close`: who closes, and how; default client-first.
    pub close: CloseMode,
    /// `close_at`: when the closer closes; required for a simultaneous close.
    pub close_at: Option<Duration>,
    /// `count`: how many identical connections, at least 1; default 1.
    pub count: u32,
    /// `interval`: time between the opens of those connections; default 0.
    pub interval: Duration,
    /// `client_app`: the client's step list instead of the shorthand
    /// (`client_sends` and its part of `close`); `None` when absent.
    pub client_app: Option<Vec<Step>>,
    /// `server_app`: the server's step list instead of the shorthand.
    pub server_app: Option<Vec<Step>>,
    /// `client_socket`: the client's socket options; all unset by default.
    pub client_socket: SocketSpec,
    /// `server_socket`: the server's socket options, set on its listening
    /// socket (every connection accepted on that port shares them).
    pub server_socket: SocketSpec,
}

/// `client_socket` / `server_socket`: socket options of one end, each
/// `None` when not set (the host's `[tcp]` settings apply).
///
/// It deserializes from such a table with the experiment file's checks,
/// like [`TcpOverrides`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(
    description = "`client_socket` or `server_socket`: socket options of one end, each \
    changing that socket's TCP setting of the same meaning; all unset by default."
)]
pub struct SocketSpec {
    /// `mss` (`TCP_MAXSEG`): the MSS the end announces and sends at most,
    /// 88..=32767; the smaller of it and the host's `mss` is used.
    #[serde(default, deserialize_with = "opt::<SocketMss, _>")]
    #[schemars(with = "Option<Val<SocketMss>>")]
    pub mss: Option<u16>,
    /// `recv_buffer` (`SO_RCVBUF`), in bytes, as passed to `setsockopt`.
    #[serde(default, deserialize_with = "opt::<SocketBuffer, _>")]
    #[schemars(with = "Option<Val<SocketBuffer>>")]
    pub recv_buffer: Option<u32>,
    /// `send_buffer` (`SO_SNDBUF`), in bytes, as passed to `setsockopt`.
    #[serde(default, deserialize_with = "opt::<SocketBuffer, _>")]
    #[schemars(with = "Option<Val<SocketBuffer>>")]
    pub send_buffer: Option<u32>,
    /// `nodelay` (`TCP_NODELAY`): Nagle's algorithm off when true.
    #[serde(default, deserialize_with = "opt::<bool, _>")]
    #[schemars(with = "Option<Val<bool>>")]
    pub nodelay: Option<bool>,
    /// `user_timeout` (`TCP_USER_TIMEOUT`, RFC 5482), longer than zero.
    #[serde(default, deserialize_with = "opt::<PositiveDuration, _>")]
    #[schemars(with = "Option<Val<PositiveDuration>>")]
    pub user_timeout: Option<Duration>,
    /// `linger` (`SO_LINGER`): "0s" makes a close send RST.
    #[serde(default, deserialize_with = "opt::<Duration, _>")]
    #[schemars(with = "Option<Val<Duration>>")]
    pub linger: Option<Duration>,
}

impl SocketSpec {
    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        *self == SocketSpec::default()
    }
}

/// `[expect]`: every key optional; each becomes one named check. Maps keep
/// the file's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    /// `outcome`, for every connection.
    pub outcome: Option<Outcome>,
    /// `established_within`, measured from `opened_ns`.
    pub established_within: Option<Duration>,
    /// `closed_within`, measured from `opened_ns`.
    pub closed_within: Option<Duration>,
    /// `retransmissions`: by segment kind, summed over connections.
    pub retransmissions: Vec<(SegmentKind, u64)>,
    /// `sent`: segments sent, by kind, summed over connections.
    pub sent: Vec<(SegmentKind, u64)>,
    /// `retransmit_at`: times of the retransmissions by kind, from
    /// `opened_ns`, in increasing order.
    pub retransmit_at: Vec<(SegmentKind, Vec<Duration>)>,
    /// `tolerance` for every time comparison; default 0 (exact).
    pub tolerance: Duration,
    /// `states`: the sequence of states each host's connections go through.
    pub states: Vec<(HostId, Vec<State>)>,
    /// `final_state`: each host's connections' state at the end of the run.
    pub final_state: Vec<(HostId, State)>,
}

impl Expect {
    /// Whether no expectation is set at all.
    pub fn is_empty(&self) -> bool {
        self.outcome.is_none()
            && self.established_within.is_none()
            && self.closed_within.is_none()
            && self.retransmissions.is_empty()
            && self.sent.is_empty()
            && self.retransmit_at.is_empty()
            && self.states.is_empty()
            && self.final_state.is_empty()
    }
}

/// `[sweep]`: what `tcpsim sweep` varies.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// `seeds`; when absent, the experiment's `seed` alone.
    pub seeds: SeedRange,
    /// `grid`: dotted paths (as for `--set`) and the values each takes, in
    /// file order. Every value has been checked by applying it to the
    /// experiment, so any of them parses.
    pub grid: Vec<(String, Vec<toml::Value>)>,
}

impl Sweep {
    /// Every point of the grid: one value per path, the first path varying
    /// slowest (nested loops in file order). An empty grid has one point
    /// with no values. Each value can be passed to
    /// [`parse_with_overrides`](crate::parse_with_overrides) as `value.to_string()`;
    /// [`parse_points`](crate::experiment::parse_points) gives every point's
    /// experiment from one parse.
    pub fn points(&self) -> Vec<Vec<(String, toml::Value)>> {
        let mut points = vec![Vec::new()];
        for (path, values) in &self.grid {
            let mut next = Vec::with_capacity(points.len().saturating_mul(values.len()));
            for point in &points {
                for value in values {
                    let mut p: Vec<(String, toml::Value)> = point.clone();
                    p.push((path.clone(), value.clone()));
                    next.push(p);
                }
            }
            points = next;
        }
        points
    }
}

//! Building a simulation: hosts, links, faults, connections, bounds.
//!
//! Setters return `&mut Self` and [`SimBuilder::build`] validates
//! everything at once (turmoil's builder shape). Defaults:
//!
//! | setting | default |
//! |---|---|
//! | duration (virtual-time bound) | 10 min |
//! | event-count bound | 20 000 000 |
//! | trace | on |
//! | pcap | off |
//! | state paths per connection | on |
//! | ephemeral ports per host | 49152–65535 |

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use tcpsim_tcp::{Config, Duration, Endpoint, SegmentKind};

use crate::capture::Capture;
use crate::engine::{Host, Limits, LinkDir, Listener, Network, RunOptions, Topology};
use crate::fault::{FaultAction, FaultRule, Faults, Seen};
use crate::link::{Link, LinkParams, LinkParamsError};
use crate::rng::{name_hash, stream_numbered};
use crate::sim::{RunResult, Sim};
use crate::trace::HostId;
use crate::workload::{EndApp, OpenMode, Plan, Workload};

/// Why a simulation could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// Two hosts share a name.
    #[error("duplicate host name {0:?}")]
    DuplicateHostName(String),
    /// Two hosts share an address.
    #[error("duplicate host address {0}")]
    DuplicateAddress(Ipv4Addr),
    /// A host id that was never added.
    #[error("unknown host #{0}")]
    UnknownHost(HostId),
    /// A link from a host to itself.
    #[error("a link needs two different hosts, got {0:?} twice")]
    SelfLink(String),
    /// Two links between one pair of hosts.
    #[error("more than one link between {0:?} and {1:?}")]
    DuplicateLink(String, String),
    /// A link direction's parameters are invalid.
    #[error("link {from}->{to}: {source}")]
    Link {
        /// Sending host.
        from: String,
        /// Receiving host.
        to: String,
        /// What is wrong.
        source: LinkParamsError,
    },
    /// An empty ephemeral port range.
    #[error("host {0:?}: empty ephemeral port range {1}-{2}")]
    EphemeralRange(String, u16, u16),
    /// A simultaneous open needs both ports fixed.
    #[error("connection {0}: a simultaneous open needs client_port")]
    SimultaneousWithoutPort(usize),
    /// A connection whose client and server are the same host.
    #[error("connection {0}: client and server are the same host")]
    SameHost(usize),
    /// A fault that picks its 0th match.
    #[error("fault {0}: nth counts from 1")]
    ZeroNth(usize),
}

struct HostSpec {
    name: String,
    addr: Ipv4Addr,
    config: Config,
    /// Ports with a listener, each with its own configuration if it has one.
    listen: Vec<(u16, Option<Arc<Config>>)>,
    ephemeral: (u16, u16),
}

/// Describes a simulation; [`SimBuilder::build`] makes it.
///
/// ```
/// use std::net::Ipv4Addr;
/// use tcpsim_net::{CloseMode, LinkParams, OpenMode, Outcome, SimBuilder, Workload};
/// use tcpsim_tcp::{Config, Duration, Instant};
///
/// let mut b = SimBuilder::new(7);
/// let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
/// let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
/// b.listen(server, 80);
/// let link = LinkParams { delay: Duration::from_millis(50), ..LinkParams::default() };
/// b.link(client, server, link.clone(), link);
/// b.connection(Workload {
///     client, server, port: 80, open_at: Instant::ZERO, open: OpenMode::Active,
///     client_port: None, client_sends: 0, server_sends: 0,
///     close: CloseMode::ClientFirst, close_at: None,
/// });
/// let result = b.build().unwrap().run();
/// let conn = &result.connections[0];
/// assert_eq!(conn.outcome, Outcome::Closed);
/// assert_eq!(conn.client.established, Some(Instant::from_millis(100)));
/// ```
pub struct SimBuilder {
    seed: u64,
    options: RunOptions,
    hosts: Vec<HostSpec>,
    links: Vec<(HostId, HostId, LinkParams, LinkParams)>,
    faults: Vec<FaultRule>,
    workloads: Vec<Workload>,
    /// Step lists and socket options, by connection (only connections
    /// that have any).
    ends: Vec<(usize, Arc<[EndApp; 2]>)>,
}

impl SimBuilder {
    /// A builder for a run drawn from `seed`.
    pub fn new(seed: u64) -> SimBuilder {
        SimBuilder {
            seed,
            options: RunOptions {
                limits: Limits {
                    duration: Duration::from_secs(600),
                    max_events: 20_000_000,
                },
                trace: true,
                pcap: false,
                state_paths: true,
                compact_time_wait: Some(tcpsim_tcp::COMPACT_TIME_WAIT_FROM),
            },
            hosts: Vec::new(),
            links: Vec::new(),
            faults: Vec::new(),
            workloads: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// The virtual-time bound.
    pub fn duration(&mut self, d: Duration) -> &mut Self {
        self.options.limits.duration = d;
        self
    }

    /// The event-count bound.
    pub fn max_events(&mut self, n: u64) -> &mut Self {
        self.options.limits.max_events = n;
        self
    }

    /// Keep the trace of every event (on by default).
    pub fn trace(&mut self, on: bool) -> &mut Self {
        self.options.trace = on;
        self
    }

    /// Keep a pcap capture in memory, in [`RunResult::pcap`] (off by
    /// default). To write captures as the run goes instead, pcapng
    /// included, see [`SimBuilder::build_capturing`].
    pub fn pcap(&mut self, on: bool) -> &mut Self {
        self.options.pcap = on;
        self
    }

    /// Keep each connection's state path (on by default).
    pub fn state_paths(&mut self, on: bool) -> &mut Self {
        self.options.state_paths = on;
        self
    }

    /// From how many connections on a host a connection its application
    /// has released keeps only what TIME-WAIT needs once it enters
    /// TIME-WAIT (`None`: never; by default
    /// [`tcpsim_tcp::COMPACT_TIME_WAIT_FROM`]; the `linux` profile's
    /// connections, see [`tcpsim_tcp::Endpoint::set_compact_time_wait`]).
    /// The run is the same either way; without it, a run of many
    /// connections needs about 760 bytes more for each connection in
    /// TIME-WAIT.
    pub fn compact_time_wait(&mut self, from: Option<usize>) -> &mut Self {
        self.options.compact_time_wait = from;
        self
    }

    /// Adds a host; hosts are numbered from 0 in the order they are added.
    pub fn host(&mut self, name: &str, addr: Ipv4Addr, config: Config) -> HostId {
        self.hosts.push(HostSpec {
            name: name.to_owned(),
            addr,
            config,
            listen: Vec::new(),
            ephemeral: tcpsim_tcp::DEFAULT_EPHEMERAL_PORTS,
        });
        self.hosts.len() - 1
    }

    /// A listener on `port` of `host` from time zero.
    pub fn listen(&mut self, host: HostId, port: u16) -> &mut Self {
        if let Some(h) = self.hosts.get_mut(host) {
            if !h.listen.iter().any(|l| l.0 == port) {
                h.listen.push((port, None));
            }
        }
        self
    }

    /// A listener on `port` of `host` from time zero whose connections run
    /// with `config` instead of the host's (socket options set on the
    /// listening socket, which the connections it accepts inherit). A
    /// listener already on that port takes `config`.
    pub fn listen_with(&mut self, host: HostId, port: u16, config: Arc<Config>) -> &mut Self {
        if let Some(h) = self.hosts.get_mut(host) {
            match h.listen.iter_mut().find(|l| l.0 == port) {
                Some(l) => l.1 = Some(config),
                None => h.listen.push((port, Some(config))),
            }
        }
        self
    }

    /// The ephemeral port range of `host` (inclusive).
    pub fn ephemeral_ports(&mut self, host: HostId, lo: u16, hi: u16) -> &mut Self {
        if let Some(h) = self.hosts.get_mut(host) {
            h.ephemeral = (lo, hi);
        }
        self
    }

    /// A duplex link: `ab` for packets from `a` to `b`, `ba` for the other way.
    pub fn link(&mut self, a: HostId, b: HostId, ab: LinkParams, ba: LinkParams) -> &mut Self {
        self.links.push((a, b, ab, ba));
        self
    }

    /// A targeted fault, after the ones already added.
    pub fn fault(&mut self, rule: FaultRule) -> &mut Self {
        self.faults.push(rule);
        self
    }

    /// A connection to run.
    pub fn connection(&mut self, w: Workload) -> &mut Self {
        self.workloads.push(w);
        self
    }

    /// A connection to run whose ends may have step lists and socket
    /// options of their own ([`EndApp`]; an end without steps follows the
    /// shorthand of `w`). Ends that are the same [`Arc`] for many
    /// connections are stored once.
    pub fn connection_with(&mut self, w: Workload, ends: Arc<[EndApp; 2]>) -> &mut Self {
        if ends.iter().any(|e| !e.is_plain()) {
            self.ends.push((self.workloads.len(), ends));
        }
        self.workloads.push(w);
        self
    }

    fn name(&self, h: HostId) -> String {
        self.hosts[h].name.clone()
    }

    /// Checks everything and makes the simulation.
    pub fn build(&self) -> Result<Sim, BuildError> {
        Ok(self.blueprint()?.sim(self.seed))
    }

    /// [`SimBuilder::build`], the simulation writing `capture` as it runs
    /// (the classic pcap, the pcapng, or both; see [`Capture`]). With
    /// [`SimBuilder::pcap`] on and no classic pcap in `capture`, the classic
    /// pcap is also kept in memory.
    pub fn build_capturing(&self, capture: Capture) -> Result<Sim, BuildError> {
        Ok(self.blueprint()?.sim_capturing(self.seed, capture))
    }

    /// Checks everything and makes a [`Blueprint`]: the simulation for any
    /// seed, without checking or naming anything again.
    pub fn blueprint(&self) -> Result<Blueprint, BuildError> {
        let n = self.hosts.len();
        let known = |h: HostId| {
            if h < n {
                Ok(h)
            } else {
                Err(BuildError::UnknownHost(h))
            }
        };
        // Sets, not scans of the hosts before: 10 000 hosts are checked in
        // n log n, not n^2 / 2 name comparisons.
        let mut names = BTreeSet::new();
        let mut addrs = BTreeSet::new();
        for h in &self.hosts {
            if !names.insert(h.name.as_str()) {
                return Err(BuildError::DuplicateHostName(h.name.clone()));
            }
            if !addrs.insert(h.addr) {
                return Err(BuildError::DuplicateAddress(h.addr));
            }
            if h.ephemeral.0 > h.ephemeral.1 {
                return Err(BuildError::EphemeralRange(
                    h.name.clone(),
                    h.ephemeral.0,
                    h.ephemeral.1,
                ));
            }
        }
        let mut links = Vec::with_capacity(2 * self.links.len());
        let mut pairs = BTreeSet::new();
        for (a, b, ab, ba) in &self.links {
            let (a, b) = (known(*a)?, known(*b)?);
            if a == b {
                return Err(BuildError::SelfLink(self.name(a)));
            }
            let pair = (a.min(b), a.max(b));
            if !pairs.insert(pair) {
                return Err(BuildError::DuplicateLink(self.name(a), self.name(b)));
            }
            for (from, to, params) in [(a, b, ab), (b, a, ba)] {
                let name = format!("link:{}->{}", self.hosts[from].name, self.hosts[to].name);
                let number = name_hash(&name);
                let model =
                    Link::new(params.clone(), stream_numbered(0, number)).map_err(|source| {
                        BuildError::Link {
                            from: self.name(from),
                            to: self.name(to),
                            source,
                        }
                    })?;
                links.push(LinkPlan {
                    from,
                    to,
                    model,
                    stream: number,
                });
            }
        }
        for (i, f) in self.faults.iter().enumerate() {
            if let Some(h) = f.from {
                known(h)?;
            }
            if let Some(h) = f.to {
                known(h)?;
            }
            if f.nth.as_ref().is_some_and(|n| n.contains(&0)) {
                return Err(BuildError::ZeroNth(i));
            }
        }
        for (i, w) in self.workloads.iter().enumerate() {
            known(w.client)?;
            known(w.server)?;
            if w.client == w.server {
                return Err(BuildError::SameHost(i));
            }
            if w.open == OpenMode::Simultaneous && w.client_port.is_none() {
                return Err(BuildError::SimultaneousWithoutPort(i));
            }
        }
        // A host whose configuration equals the host's before it shares
        // that one (the members of a generated group all do), so a plan
        // of 10 000 alike hosts holds one `Config`, not 10 000.
        let mut last: Option<Arc<Config>> = None;
        let hosts = self
            .hosts
            .iter()
            .map(|h| {
                let config = match &last {
                    Some(c) if **c == h.config => Arc::clone(c),
                    _ => Arc::new(h.config),
                };
                last = Some(Arc::clone(&config));
                HostPlan {
                    addr: h.addr,
                    config,
                    ephemeral: h.ephemeral,
                    stream: name_hash(&format!("host:{}", h.name)),
                }
            })
            .collect();
        let listeners = self
            .hosts
            .iter()
            .enumerate()
            .flat_map(|(i, h)| h.listen.iter().map(move |(p, c)| (i, *p, c.clone())))
            .collect();
        let mut faults = Faults::default();
        for f in &self.faults {
            faults.push(f.clone());
        }
        let pairs: Vec<(HostId, HostId)> = links.iter().map(|l| (l.from, l.to)).collect();
        let topo = Topology::new(
            self.hosts.iter().map(|h| h.name.clone()).collect(),
            self.hosts.iter().map(|h| h.addr).collect(),
            &pairs,
        );
        Ok(Blueprint {
            topo: Arc::new(topo),
            hosts,
            links,
            faults,
            faults_stream: name_hash("faults"),
            plan: Plan::new(self.workloads.as_slice().into(), &self.ends),
            listeners,
            options: self.options,
        })
    }
}

/// A host of a [`Blueprint`].
#[derive(Clone, Debug)]
struct HostPlan {
    addr: Ipv4Addr,
    /// Shared by every connection of the host, in every run.
    config: Arc<Config>,
    ephemeral: (u16, u16),
    /// The stream number of `host:NAME` ([`crate::rng`]).
    stream: u64,
}

/// A link direction of a [`Blueprint`].
#[derive(Clone, Debug)]
struct LinkPlan {
    from: HostId,
    to: HostId,
    /// The checked link, to be copied and given the run's stream.
    model: Link,
    /// The stream number of `link:A->B`.
    stream: u64,
}

/// A checked simulation, ready to be made for any seed: what a sweep builds
/// once and runs many times ([`SimBuilder::blueprint`]).
///
/// Everything that does not depend on the seed is done once: validation,
/// the names of the random streams, the routing tables, the host names a
/// run reports (shared, not copied). [`Blueprint::sim`] gives exactly the
/// simulation [`SimBuilder::build`] gives for that seed.
///
/// ```
/// use std::net::Ipv4Addr;
/// use tcpsim_net::{CloseMode, LinkParams, OpenMode, SimBuilder, Workload};
/// use tcpsim_tcp::{Config, Instant};
///
/// let mut b = SimBuilder::new(1);
/// let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
/// let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
/// b.listen(server, 80);
/// b.link(client, server, LinkParams::default(), LinkParams::default());
/// b.connection(Workload {
///     client, server, port: 80, open_at: Instant::ZERO, open: OpenMode::Active,
///     client_port: None, client_sends: 0, server_sends: 0,
///     close: CloseMode::ClientFirst, close_at: None,
/// });
/// let blueprint = b.blueprint().unwrap();
/// for seed in 1..=3 {
///     let r = blueprint.sim(seed).run();
///     assert_eq!(r.connections[0].outcome, tcpsim_net::Outcome::Closed);
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Blueprint {
    topo: Arc<Topology>,
    hosts: Vec<HostPlan>,
    links: Vec<LinkPlan>,
    faults: Faults,
    faults_stream: u64,
    plan: Plan,
    listeners: Vec<Listener>,
    options: RunOptions,
}

impl Blueprint {
    /// The simulation drawn from `seed`.
    pub fn sim(&self, seed: u64) -> Sim {
        self.sim_capturing(seed, Capture::new())
    }

    /// [`Blueprint::sim`], the simulation writing `capture` as it runs
    /// (see [`SimBuilder::build_capturing`]).
    pub fn sim_capturing(&self, seed: u64, capture: Capture) -> Sim {
        let hosts = self
            .hosts
            .iter()
            .map(|h| {
                let rng = stream_numbered(seed, h.stream);
                let mut endpoint = Endpoint::with_shared_config(h.addr, Arc::clone(&h.config), rng);
                endpoint.set_ephemeral_ports(h.ephemeral.0, h.ephemeral.1);
                endpoint.set_compact_time_wait(self.options.compact_time_wait);
                Host::new(h.addr, endpoint)
            })
            .collect();
        let links = self
            .links
            .iter()
            .map(|l| LinkDir {
                from: l.from,
                to: l.to,
                model: l.model.with_rng(stream_numbered(seed, l.stream)),
            })
            .collect();
        let net = Network {
            topo: Arc::clone(&self.topo),
            hosts,
            links,
            faults: self.faults.clone(),
            fault_rng: stream_numbered(seed, self.faults_stream),
        };
        Sim::new(net, &self.listeners, &self.plan, self.options, capture)
    }

    /// [`SimBuilder::compact_time_wait`] for the simulations made from now
    /// on (a run in a reused simulation keeps the setting it was made
    /// with).
    pub fn compact_time_wait(&mut self, from: Option<usize>) -> &mut Self {
        self.options.compact_time_wait = from;
        self
    }

    /// Runs the simulation of `seed` in `sim`, reusing its memory when it
    /// holds a simulation this blueprint made (else making one): the same
    /// result as `self.sim(seed).run()`, without allocating and freeing
    /// every table for every run. What a sweep worker does for each seed.
    pub fn rerun(&self, sim: &mut Option<Sim>, seed: u64) -> RunResult {
        self.prepare(sim, seed).run_in_place()
    }

    /// Adds `rules` as watched fault rules (see [`Faults::watch`]) to every
    /// simulation it makes from now on: after the experiment's own rules,
    /// counting and deciding as rules do, each match logged.
    pub fn watch(&mut self, rules: impl IntoIterator<Item = FaultRule>) {
        self.faults.watch(rules);
    }

    /// [`Blueprint::rerun`] with the watched rules' `nth` lists set to
    /// `nth` (in the order they were added; an empty list only watches):
    /// the result, and every match of a watched rule in the order they
    /// happened. What `tcpsim explore` runs each case with.
    pub fn rerun_watched(
        &self,
        sim: &mut Option<Sim>,
        seed: u64,
        nth: &[Vec<u32>],
    ) -> (RunResult, Vec<Seen>) {
        let s = self.prepare(sim, seed);
        s.engine.faults_mut().set_watched_nth(nth);
        let r = s.run_in_place();
        (r, s.engine.faults_mut().seen().to_vec())
    }

    /// The simulation of `seed`, in `sim`'s memory when it holds one of
    /// this blueprint's.
    fn prepare<'s>(&self, sim: &'s mut Option<Sim>, seed: u64) -> &'s mut Sim {
        match sim {
            Some(s) if s.has_topology(&self.topo) => s.reset(
                self.hosts.iter().map(|h| stream_numbered(seed, h.stream)),
                self.links
                    .iter()
                    .map(|l| l.model.draws().then(|| stream_numbered(seed, l.stream))),
                self.faults
                    .draws()
                    .then(|| stream_numbered(seed, self.faults_stream)),
                (&self.listeners, &self.plan),
                self.options,
            ),
            _ => *sim = Some(self.sim(seed)),
        }
        match sim {
            Some(s) => s,
            None => unreachable!("set just above"),
        }
    }

    /// How many connections a run of it has.
    pub fn connections(&self) -> usize {
        self.plan.workloads.len()
    }
}

/// A fault rule in one call: `action` on the `nth` (1-based) segments of
/// `kinds` from `from` to `to` (`None`: any).
pub fn fault(
    action: FaultAction,
    from: Option<HostId>,
    to: Option<HostId>,
    kinds: &[SegmentKind],
    nth: Option<&[u32]>,
) -> FaultRule {
    FaultRule {
        action,
        from,
        to,
        kinds: kinds.to_vec(),
        nth: nth.map(<[u32]>::to_vec),
        start: None,
        end: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::{Distribution, Loss};
    use crate::workload::CloseMode;
    use tcpsim_tcp::Instant;

    /// Lossy, jittery, duplicating and corrupting links, a corrupting
    /// fault, many connections with data both ways: every random stream
    /// is drawn from.
    fn noisy(trace: bool) -> SimBuilder {
        let mut b = SimBuilder::new(0);
        b.trace(trace);
        let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
        let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::linux());
        b.listen(server, 80);
        let link = LinkParams {
            delay: Duration::from_millis(10),
            jitter: Duration::from_millis(3),
            distribution: Distribution::Normal,
            loss: Loss::Bernoulli(0.1),
            duplicate: 0.05,
            corrupt: 0.05,
            reorder: 0.1,
            ..LinkParams::default()
        };
        b.link(client, server, link.clone(), link);
        b.fault(fault(
            FaultAction::Corrupt,
            None,
            None,
            &[SegmentKind::Data],
            Some(&[2]),
        ));
        for i in 0..20 {
            b.connection(Workload {
                client,
                server,
                port: 80,
                open_at: Instant::from_millis(i * 7),
                open: OpenMode::Active,
                client_port: None,
                client_sends: 3000,
                server_sends: 2000,
                close: CloseMode::ClientFirst,
                close_at: None,
            });
        }
        b
    }

    fn same(a: &crate::RunResult, b: &crate::RunResult) {
        assert_eq!(a.end, b.end);
        assert_eq!(a.stop_reason, b.stop_reason);
        assert_eq!(a.events, b.events);
        assert_eq!(a.connections, b.connections);
        assert_eq!(a.trace, b.trace);
    }

    #[test]
    fn a_rerun_gives_exactly_what_a_fresh_simulation_gives() {
        for trace in [false, true] {
            let blueprint = noisy(trace).blueprint().unwrap();
            let mut scratch = None;
            for seed in 0..30 {
                let reused = blueprint.rerun(&mut scratch, seed);
                same(&reused, &blueprint.sim(seed).run());
            }
        }
    }

    #[test]
    fn a_scratch_simulation_can_switch_blueprints() {
        let a = noisy(true).blueprint().unwrap();
        let b = noisy(false).blueprint().unwrap();
        let mut scratch = None;
        for seed in 0..10 {
            let bp = if seed % 2 == 0 { &a } else { &b };
            same(&bp.rerun(&mut scratch, seed), &bp.sim(seed).run());
        }
    }
}

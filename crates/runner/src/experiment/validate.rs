//! The one validation pass: from the typed file (`file.rs`), whose every
//! value already has its type and range, to the checked [`Experiment`].
//! Here are the checks that need more than one value: required keys, every
//! host name resolved to its id once, names and addresses used twice, a
//! link to itself, `end` after `start`, keys that do not go with an action
//! or a close mode, the totals after `count` expansion and the size of a
//! sweep. Each error is placed at the position the typed file kept for the
//! value (or key, or table) it is about; the first one found ends the pass.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use tcpsim_tcp::{DEFAULT_EPHEMERAL_PORTS, Duration, Profile, SegmentKind};
use toml::Spanned;

use super::apps;
use super::de::{Keyed, closest};
use super::error::{ConfigError, Ctx};
use super::file::{self, Settings};
use super::leaf::{
    Action, Choice, Entries, HostRef, Leaf, List, Nth, OneOrMany, StepText, Tables, Val,
};
use super::limits::{
    MAX_CONNECTIONS, MAX_GRID_POINTS, MAX_HOSTS, MAX_SWEEP_RUNS, MAX_TOTAL_SEND_BYTES, pretty,
};
use super::model::{
    CloseMode, ConnectionSpec, Expect, Experiment, Fault, FaultAction, Host, HostId, Link,
    LinkParams, Loss, OpenMode, Sweep,
};
use super::timing;
use super::tree::{self, Node, Value};
use super::units::SeedRange;

/// The checked `[[hosts]]` of a document: what every other check looks
/// names up in, and what a sweep's points share when the grid leaves
/// `hosts` alone.
#[derive(Clone, Debug)]
pub(crate) struct HostsPhase {
    pub(crate) hosts: Arc<[Host]>,
    /// The generated hosts' tables.
    groups: Vec<Group>,
    /// Every host's id by name.
    names: BTreeMap<String, HostId>,
}

/// Checks the `[[hosts]]` of `f`, read from the document `root`.
pub(crate) fn hosts_phase(
    cx: &Ctx<'_>,
    f: &file::File,
    root: &Node,
) -> Result<HostsPhase, ConfigError> {
    hosts(&Table::new(cx, root.at, String::new()), f)
}

/// Where the hosts of [`experiment`] come from.
pub(crate) enum Hosts<'a> {
    /// The document's own `[[hosts]]`, checked here.
    Own,
    /// Hosts checked before, in a document that differs from this one
    /// only outside `[[hosts]]` (this one may not hold them at all):
    /// `tables` are that document's host tables and `root` the document,
    /// for the RTO bounds of each host, which are checked again only when
    /// `rto` says the difference may reach them (`[tcp]` or `profile`).
    Checked {
        phase: &'a HostsPhase,
        tables: &'a [Spanned<file::Host>],
        root: &'a Node,
        rto: bool,
    },
}

/// Checks `f`, read from the document `root`; `default_name` is the name
/// when the file gives none.
pub(crate) fn experiment(
    cx: &Ctx<'_>,
    f: &file::File,
    root: &Node,
    default_name: &str,
    given: Hosts<'_>,
) -> Result<Experiment, ConfigError> {
    let seed = f.seed.value().unwrap_or(1);
    let own;
    let phase = match given {
        Hosts::Own => {
            own = hosts_phase(cx, f, root)?;
            timing::rto_bounds(cx, f, host_tables(f), &[root])?;
            &own
        }
        Hosts::Checked {
            phase,
            tables,
            root: hosts_root,
            rto,
        } => {
            if rto {
                timing::rto_bounds(cx, f, tables, &[root, hosts_root])?;
            }
            phase
        }
    };
    let run_end = timing::RunEnd {
        duration: f.duration.value().unwrap_or(DEFAULT_DURATION),
        given: f.duration.is_some(),
    };
    let v = Check {
        cx,
        hosts: &phase.hosts,
        groups: &phase.groups,
        names: &phase.names,
        run_end,
    };
    let links = v.links(tables(&f.links))?;
    let faults = (tables(&f.faults).iter().enumerate())
        .map(|(i, t)| v.fault(&Table::of(cx, "faults", i, t), t.get_ref()))
        .collect::<Result<_, _>>()?;
    let connections = v.connections(tables(&f.connections))?;
    let expect = f.expect.as_ref().map(|e| v.expect(e)).transpose()?;
    let sweep = f
        .sweep
        .as_ref()
        .map(|s| sweep(cx, s, seed, root).map(Arc::new))
        .transpose()?;
    Ok(Experiment {
        name: f.name.value().unwrap_or_else(|| default_name.to_owned()),
        description: f.description.value().unwrap_or_default(),
        seed,
        duration: run_end.duration,
        profile: f.profile.value().unwrap_or(Profile::Rfc),
        tcp: f.tcp.unwrap_or_default(),
        hosts: Arc::clone(&phase.hosts),
        links,
        faults,
        connections,
        expect: expect.unwrap_or_default(),
        sweep,
    })
}

/// The run's `duration` when the file gives none.
const DEFAULT_DURATION: Duration = Duration::from_secs(600);

/// The `[[hosts]]` tables of `f`.
pub(crate) fn host_tables(f: &file::File) -> &[Spanned<file::Host>] {
    f.hosts.as_ref().map_or(&[], |t| &t.get_ref().0)
}

/// The tables of an optional array of tables.
fn tables<T>(t: &Option<Tables<T>>) -> &[Spanned<T>] {
    t.as_ref().map_or(&[], |t| &t.0)
}

/// The entries of an optional table read as entries.
fn entries<K, V>(m: &Option<Entries<K, V>>) -> &[(K, V)] {
    m.as_ref().map_or(&[], |m| &m.0)
}

/// The value of an optional key of the typed file, without its wrappers.
trait Field {
    type Out;
    fn value(&self) -> Option<Self::Out>;
}

impl<T: Leaf<Value: Clone>> Field for Option<Val<T>> {
    type Out = T::Value;
    fn value(&self) -> Option<T::Value> {
        self.as_ref().map(|v| v.0.clone())
    }
}

impl<T: Leaf<Value: Clone>> Field for Option<Spanned<Val<T>>> {
    type Out = T::Value;
    fn value(&self) -> Option<T::Value> {
        self.as_ref().map(|v| v.get_ref().0.clone())
    }
}

impl<T: Leaf<Value: Clone>> Field for Option<Keyed<Val<T>>> {
    type Out = T::Value;
    fn value(&self) -> Option<T::Value> {
        self.as_ref().map(|v| v.value.get_ref().0.clone())
    }
}

/// A table of the file being checked: where it is, and its dotted path.
pub(crate) struct Table<'a> {
    pub(crate) cx: &'a Ctx<'a>,
    pub(crate) at: usize,
    pub(crate) path: String,
}

impl<'a> Table<'a> {
    fn new(cx: &'a Ctx<'a>, at: usize, path: String) -> Table<'a> {
        Table { cx, at, path }
    }

    /// Table `i` of the array `key`.
    fn of<T>(cx: &'a Ctx<'a>, key: &str, i: usize, t: &Spanned<T>) -> Table<'a> {
        Table::new(cx, t.span().start, format!("{key}.{i}"))
    }

    /// The dotted path of `key` in this table.
    fn key(&self, key: &str) -> String {
        match self.path.as_str() {
            "" => key.to_owned(),
            path => format!("{path}.{key}"),
        }
    }

    /// An error about `key`, at position `at`.
    pub(crate) fn error(&self, at: usize, key: &str, message: impl Into<String>) -> ConfigError {
        self.cx.error(at, Some(&self.key(key)), message)
    }

    /// The value of a required `key`, or "missing key" at the table.
    fn need<'t, T>(&self, v: &'t Option<T>, key: &str, what: &str) -> Result<&'t T, ConfigError> {
        let missing = || self.error(self.at, key, format!("missing key: expected {what}"));
        v.as_ref().ok_or_else(missing)
    }
}

/// A `[[hosts]]` table with `count`: hosts `first .. first + count`, named
/// by `pattern` with `{}` replaced by 0, 1, ...
#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub(crate) pattern: String,
    pub(crate) first: HostId,
    pub(crate) count: u32,
}

impl Group {
    /// The members' host ids.
    fn members(&self) -> std::ops::Range<HostId> {
        self.first..self.first + self.count as usize
    }
}

/// `[[hosts]]`, generated hosts expanded (SPEC §3 "Generated hosts"), and
/// the groups they came from.
fn hosts(file: &Table<'_>, f: &file::File) -> Result<HostsPhase, ConfigError> {
    let cx = file.cx;
    let tables = file.need(&f.hosts, "hosts", "at least one [[hosts]] table")?;
    let tables = &tables.get_ref().0;
    if tables.is_empty() {
        let at = f.hosts.as_ref().map_or(file.at, |t| t.span().start);
        let message = "expected at least one [[hosts]] table, found an empty array";
        return Err(file.error(at, "hosts", message));
    }
    let mut hosts: Vec<Host> = Vec::with_capacity(tables.len());
    let mut groups: Vec<Group> = Vec::new();
    // Every name and address so far: the host that has it, and the
    // position of its table's name and address, for "already used" errors.
    let mut names: BTreeMap<String, HostId> = BTreeMap::new();
    let mut addrs: BTreeMap<Ipv4Addr, HostId> = BTreeMap::new();
    let mut seen: Vec<(usize, usize)> = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        let tab = Table::of(cx, "hosts", i, t);
        let t = t.get_ref();
        let name = tab.need(&t.name, "name", "the host's name, like \"client\"")?;
        let (name_at, name) = (name.span().start, &name.get_ref().0);
        let addr = tab.need(
            &t.addr,
            "addr",
            "the host's IPv4 address, like \"10.0.0.1\"",
        )?;
        let (addr_at, addr) = (addr.span().start, addr.get_ref().0);
        let pattern = name.contains("{}");
        let count = match (&t.count, pattern) {
            (Some(c), true) => Some((c.span().start, c.get_ref().0)),
            (None, false) => None,
            (Some(_), false) => {
                let message = format!(
                    "count generates hosts named by a pattern: expected a name with {{}} for the member number, like \"{name}-{{}}\", found {name:?}"
                );
                return Err(tab.error(name_at, "name", message));
            }
            (None, true) => {
                let message = format!(
                    "{name:?} is a pattern for generated hosts: expected count = N beside it, or a name without {{}}"
                );
                return Err(tab.error(name_at, "name", message));
            }
        };
        let n = count.map_or(1, |(_, n)| n);
        if hosts.len() + n as usize > MAX_HOSTS {
            let (at, key) = count.map_or((tab.at, "name"), |(at, _)| (at, "count"));
            let message = format!(
                "too many hosts: expected at most {} in a run (after count expansion), found {} so far",
                pretty(MAX_HOSTS as u128),
                pretty((hosts.len() + n as usize) as u128)
            );
            return Err(tab.error(at, key, message));
        }
        let last = u64::from(u32::from(addr)) + u64::from(n) - 1;
        if pattern && last >= u64::from(u32::MAX) {
            let (at, _) = count.unwrap_or((addr_at, 0));
            let fit = u64::from(u32::MAX) - u64::from(u32::from(addr));
            let message = format!(
                "the addresses from {addr} run to 255.255.255.255 (broadcast) or past it: expected a count of at most {fit} from this addr"
            );
            return Err(tab.error(at, "count", message));
        }
        let mut listen: Vec<u16> = Vec::new();
        for (k, port) in t.listen.iter().flat_map(|l| l.0.iter()).enumerate() {
            let p = *port.get_ref();
            if listen.contains(&p) {
                let message = format!("port {p} is listed twice: expected each port once");
                return Err(tab.error(port.span().start, &format!("listen.{k}"), message));
            }
            listen.push(p);
        }
        if pattern {
            groups.push(Group {
                pattern: name.clone(),
                first: hosts.len(),
                count: n,
            });
        }
        for m in 0..n {
            let (member, member_addr) = if pattern {
                let a = Ipv4Addr::from(u32::from(addr) + m);
                (name.replacen("{}", &m.to_string(), 1), a)
            } else {
                (name.clone(), addr)
            };
            let of = |what: &str| {
                if pattern {
                    format!(" ({what} of member {m} of this table)")
                } else {
                    String::new()
                }
            };
            if let Some(&j) = names.get(&member) {
                return Err(tab.error(
                    name_at,
                    "name",
                    format!(
                        "duplicate host name {member:?}{}: expected a name not used before (hosts.{}, {})",
                        of("the name"),
                        host_table(&groups, j),
                        cx.describe(seen[j].0)
                    ),
                ));
            }
            if member_addr.is_broadcast() || member_addr.is_multicast() {
                return Err(tab.error(
                    count.map_or(addr_at, |(at, _)| at),
                    "count",
                    format!(
                        "member {m} would have the address {member_addr}, not a unicast address: expected a range of unicast addresses"
                    ),
                ));
            }
            if let Some(&j) = addrs.get(&member_addr) {
                return Err(tab.error(
                    addr_at,
                    "addr",
                    format!(
                        "duplicate address {member_addr}{}: expected an address no other host has (hosts.{} {:?}, {})",
                        of("the address"),
                        host_table(&groups, j),
                        hosts[j].name,
                        cx.describe(seen[j].1)
                    ),
                ));
            }
            names.insert(member.clone(), hosts.len());
            addrs.insert(member_addr, hosts.len());
            seen.push((name_at, addr_at));
            hosts.push(Host {
                name: member,
                addr: member_addr,
                listen: listen.clone(),
                tcp: t.tcp.unwrap_or_default(),
                ephemeral_ports: t.ephemeral_ports.value().unwrap_or(DEFAULT_EPHEMERAL_PORTS),
            });
        }
    }
    Ok(HostsPhase {
        hosts: hosts.into(),
        groups,
        names,
    })
}

/// The index of the `[[hosts]]` table that made host `id`.
fn host_table(groups: &[Group], id: HostId) -> usize {
    // Tables before id's: one per host that is not a generated member past
    // its group's first, so count hosts and subtract the extra members.
    let extra: usize = groups
        .iter()
        .filter(|g| g.first < id)
        .map(|g| (g.count as usize - 1).min(id - g.first))
        .sum();
    id - extra
}

/// The checks that need the hosts.
struct Check<'a> {
    cx: &'a Ctx<'a>,
    hosts: &'a [Host],
    /// The generated hosts' tables.
    groups: &'a [Group],
    /// Every host's id by name.
    names: &'a BTreeMap<String, HostId>,
    /// The run's `duration`, which every time must come before.
    run_end: timing::RunEnd,
}

/// What a host name in a link, connection or expectation stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Named {
    /// One host.
    One(HostId),
    /// Every member of a group of generated hosts (its index).
    Group(usize),
}

impl Check<'_> {
    /// The id of the host called `name` (given at `at`, about `key`). Every
    /// reference to a host is resolved here, once, so what comes after the
    /// parser never meets a host name it cannot find.
    fn host(&self, name: &str, at: usize, key: &str) -> Result<HostId, ConfigError> {
        match self.named(name, at, key)? {
            Named::One(id) => Ok(id),
            Named::Group(g) => {
                let g = &self.groups[g];
                let message = format!(
                    "{:?} stands for the {} generated hosts {:?} to {:?}: expected one host here (a group is allowed in a link, a connection and [expect])",
                    g.pattern,
                    g.count,
                    self.hosts[g.first].name,
                    self.hosts[g.first + g.count as usize - 1].name
                );
                Err(self.cx.error(at, Some(key), message))
            }
        }
    }

    /// The host, or the group of generated hosts, called `name`.
    fn named(&self, name: &str, at: usize, key: &str) -> Result<Named, ConfigError> {
        if let Some(&id) = self.names.get(name) {
            return Ok(Named::One(id));
        }
        if let Some(g) = self.groups.iter().position(|g| g.pattern == name) {
            return Ok(Named::Group(g));
        }
        // The names a file can give: its single hosts and its groups'
        // patterns (a member's name works too, but is not listed).
        let member = |id: HostId| self.groups.iter().any(|g| g.members().contains(&id));
        let mut names: Vec<&str> = (self.hosts.iter().enumerate())
            .filter(|(id, _)| !member(*id))
            .map(|(_, h)| h.name.as_str())
            .collect();
        names.extend(self.groups.iter().map(|g| g.pattern.as_str()));
        let mut message = format!("unknown host {name:?}");
        if let Some(near) = closest(name, &names) {
            message.push_str(&format!(" (did you mean {near:?}?)"));
        }
        const LISTED: usize = 20;
        let mut known: Vec<String> = names
            .iter()
            .take(LISTED)
            .map(|n| format!("{n:?}"))
            .collect();
        if names.len() > LISTED {
            known.push(format!("and {} more", names.len() - LISTED));
        }
        message.push_str(&format!(": expected one of {}", known.join(", ")));
        Err(self.cx.error(at, Some(key), message))
    }

    /// The host that `key` of table `tab` names.
    fn host_ref(
        &self,
        tab: &Table<'_>,
        r: &Spanned<Val<HostRef>>,
        key: &str,
    ) -> Result<HostId, ConfigError> {
        self.host(&r.get_ref().0, r.span().start, &tab.key(key))
    }

    fn links(&self, tables: &[Spanned<file::Link>]) -> Result<Vec<Link>, ConfigError> {
        let mut links: Vec<Link> = Vec::with_capacity(tables.len());
        // Each pair of hosts with a link, and the table that made it.
        let mut pairs: BTreeMap<(HostId, HostId), usize> = BTreeMap::new();
        for (i, t) in tables.iter().enumerate() {
            let tab = Table::of(self.cx, "links", i, t);
            let t = t.get_ref();
            let a =
                self.required_named(&tab, &t.a, "a", "the host at one end, like a = \"client\"")?;
            let b = self.required_named(
                &tab,
                &t.b,
                "b",
                "the host at the other end, like b = \"server\"",
            )?;
            let b_at = b.1;
            let ends = self.pairs(&tab, a, b, "a", "b")?;
            let both = self.partial(t.settings(), &tab.path)?;
            let direction = |d: &Option<file::Direction>, name: &str| match d {
                Some(d) => Ok(self.partial(d.settings(), &tab.key(name))?.over(&both)),
                None => Ok(both.over(&Partial::default())),
            };
            let a_to_b = direction(&t.a_to_b, "a_to_b")?;
            let b_to_a = direction(&t.b_to_a, "b_to_a")?;
            for (a, b) in ends {
                let (a_name, b_name) = (&self.hosts[a].name, &self.hosts[b].name);
                if a == b {
                    return Err(tab.error(
                        b_at,
                        "b",
                        format!("a link from {a_name:?} to itself: expected a host other than a = {a_name:?}"),
                    ));
                }
                if let Some(j) = pairs.insert((a.min(b), a.max(b)), i) {
                    return Err(tab.error(
                        b_at,
                        "b",
                        format!(
                            "a second link between {a_name:?} and {b_name:?}: expected at most one link per pair of hosts (the first is links.{j})"
                        ),
                    ));
                }
                links.push(Link {
                    a,
                    b,
                    a_to_b: a_to_b.clone(),
                    b_to_a: b_to_a.clone(),
                });
            }
        }
        Ok(links)
    }

    /// The host or group that a required `key` of table `tab` names, and
    /// where.
    fn required_named(
        &self,
        tab: &Table<'_>,
        r: &Option<Spanned<Val<HostRef>>>,
        key: &str,
        what: &str,
    ) -> Result<(Named, usize), ConfigError> {
        let r = tab.need(r, key, what)?;
        let at = r.span().start;
        Ok((self.named(&r.get_ref().0, at, &tab.key(key))?, at))
    }

    /// The pairs of hosts two names stand for: one pair, or one per member
    /// when one of them is a group (a group on both sides is an error at
    /// `key_b`, given at `b.1`).
    fn pairs(
        &self,
        tab: &Table<'_>,
        a: (Named, usize),
        b: (Named, usize),
        key_a: &str,
        key_b: &str,
    ) -> Result<Vec<(HostId, HostId)>, ConfigError> {
        Ok(match (a.0, b.0) {
            (Named::One(a), Named::One(b)) => vec![(a, b)],
            (Named::Group(g), Named::One(b)) => self.groups[g].members().map(|a| (a, b)).collect(),
            (Named::One(a), Named::Group(g)) => self.groups[g].members().map(|b| (a, b)).collect(),
            (Named::Group(ga), Named::Group(_)) => {
                let message = format!(
                    "{key_a} names the group {:?} already: expected one host here (a group may stand on one side only)",
                    self.groups[ga].pattern
                );
                return Err(tab.error(b.1, key_b, message));
            }
        })
    }

    /// The settings of the table at `path`, with its `loss` checked.
    fn partial<'s>(&self, s: Settings<'s>, path: &str) -> Result<Partial<'s>, ConfigError> {
        let loss = s.loss.map(|l| self.loss(l, path)).transpose()?;
        Ok(Partial { s, loss })
    }

    /// `loss` of the table at `path`: a probability (0 means no loss), or
    /// a Gilbert–Elliott table.
    fn loss(&self, l: &Spanned<file::Loss>, path: &str) -> Result<Loss, ConfigError> {
        let t = match l.get_ref() {
            file::Loss::Probability(p) if *p == 0.0 => return Ok(Loss::None),
            file::Loss::Probability(p) => return Ok(Loss::Bernoulli(*p)),
            file::Loss::Table(t) => t,
        };
        let tab = Table::new(self.cx, l.span().start, format!("{path}.loss"));
        tab.need(&t.model, "model", "model = \"gilbert-elliott\"")?;
        let p = tab
            .need(&t.p, "p", "p, the probability of moving to the bad state")?
            .0;
        // tc's defaults (iproute2 q_netem.c, "gemodel"): r = 1 - p, 1-h = 1, 1-k = 0.
        let (r, h, k) = (t.r.value(), t.h.value(), t.k.value());
        Ok(Loss::GilbertElliott {
            p,
            r: r.unwrap_or(1.0 - p),
            h: h.unwrap_or(0.0),
            k: k.unwrap_or(1.0),
        })
    }

    fn fault(&self, tab: &Table<'_>, t: &file::Fault) -> Result<Fault, ConfigError> {
        const ACTION: &str =
            "action = \"drop\" | \"delay\" | \"duplicate\" | \"corrupt\" | \"partition\"";
        let action = tab.need(&t.action, "action", ACTION)?.0;
        let action = match (action, &t.extra) {
            (Action::Delay, extra) => {
                let what = "extra = a duration like \"300ms\" for action = \"delay\"";
                FaultAction::Delay(tab.need(extra, "extra", what)?.value.get_ref().0)
            }
            (other, Some(extra)) => {
                return Err(tab.error(
                    extra.at(),
                    "extra",
                    format!(
                        "`extra` applies only to action = \"delay\": expected no extra with action = {:?}",
                        other.name()
                    ),
                ));
            }
            (Action::Drop, None) => FaultAction::Drop,
            (Action::Duplicate, None) => FaultAction::Duplicate,
            (Action::Corrupt, None) => FaultAction::Corrupt,
            (Action::Partition, None) => FaultAction::Partition,
        };
        let from = t
            .from
            .as_ref()
            .map(|r| self.host_ref(tab, r, "from"))
            .transpose()?;
        let to =
            t.to.as_ref()
                .map(|r| self.host_ref(tab, r, "to"))
                .transpose()?;
        if let (Some(to), Some(r)) = (to.filter(|&to| from == Some(to)), &t.to) {
            return Err(tab.error(
                r.span().start,
                "to",
                format!(
                    "from and to are both {:?}: expected a host other than from",
                    self.hosts[to].name
                ),
            ));
        }
        if action == FaultAction::Partition {
            let keys = [
                ("segment", t.segment.as_ref().map(Keyed::at)),
                ("nth", t.nth.as_ref().map(Keyed::at)),
            ];
            if let Some((name, Some(key_at))) = keys.into_iter().find(|(_, at)| at.is_some()) {
                return Err(tab.error(
                    key_at,
                    name,
                    format!(
                        "`{name}` does not apply to action = \"partition\", which cuts every segment: expected only from, to, start and end"
                    ),
                ));
            }
        }
        // The kinds in classification order, without repeats; `ANY` is all.
        let kinds = t.segment.as_ref().map(|k| k.value.get_ref().values());
        let segment = match kinds {
            Some(kinds) if !kinds.contains(&&None) => (SegmentKind::ALL.into_iter())
                .filter(|k| kinds.contains(&&Some(*k)))
                .collect(),
            _ => SegmentKind::ALL.to_vec(),
        };
        let nth = t
            .nth
            .as_ref()
            .map(|n| nth(tab, n.value.get_ref()))
            .transpose()?;
        timing::fault_window(tab, t, self.run_end)?;
        let start = t.start.value();
        let end = t.end.value();
        Ok(Fault {
            action,
            from,
            to,
            segment,
            nth,
            start,
            end,
        })
    }

    /// `[[connections]]`, with the totals after `count` expansion: at most
    /// [`MAX_CONNECTIONS`] connections and [`MAX_TOTAL_SEND_BYTES`] octets
    /// written.
    fn connections(
        &self,
        tables: &[Spanned<file::Connection>],
    ) -> Result<Vec<ConnectionSpec>, ConfigError> {
        let mut specs = Vec::with_capacity(tables.len());
        let mut listeners = apps::Listeners::new();
        let mut fixed_ports = timing::FixedPorts::new();
        let name = |id: HostId| self.hosts[id].name.clone();
        let (mut total, mut bytes): (u64, u64) = (0, 0);
        for (i, t) in tables.iter().enumerate() {
            let tab = Table::of(self.cx, "connections", i, t);
            let t = t.get_ref();
            for spec in self.connection(&tab, t)? {
                // A total that goes over is reported at `field`, else at the
                // count, else at the table.
                let at = |k, v: Option<usize>| v.map(|at| (k, at));
                let count = t.count.as_ref().map(|v| ("count", v.span().start));
                let blame = |field: Option<(&str, usize)>, message: String| match field.or(count) {
                    Some((k, at)) => tab.error(at, k, message),
                    None => self.cx.error(tab.at, Some(&tab.path), message),
                };
                let count = u64::from(spec.count);
                total = total.saturating_add(count);
                if total > MAX_CONNECTIONS {
                    return Err(blame(
                        None,
                        format!(
                            "too many connections: expected at most {} in a run (after count expansion), found {} so far",
                            pretty(MAX_CONNECTIONS.into()),
                            pretty(total.into())
                        ),
                    ));
                }
                let lists = [&spec.client_app, &spec.server_app]
                    .map(|l| l.as_deref().map_or(0, apps::written))
                    .into_iter()
                    .fold(0, u64::saturating_add);
                let per =
                    (spec.client_sends.saturating_add(spec.server_sends)).saturating_add(lists);
                bytes = bytes.saturating_add(per.saturating_mul(count));
                if bytes > MAX_TOTAL_SEND_BYTES {
                    let value = |v: &Option<Keyed<_>>| v.as_ref().map(|v| v.value.span().start);
                    let list = |v: &Option<Spanned<_>>| v.as_ref().map(|v| v.span().start);
                    let field = if spec.count > 1 {
                        None
                    } else if t.client_app.is_some() {
                        at("client_app", list(&t.client_app))
                    } else if t.server_app.is_some() {
                        at("server_app", list(&t.server_app))
                    } else if spec.client_sends >= spec.server_sends {
                        at("client_sends", value(&t.client_sends))
                    } else {
                        at("server_sends", value(&t.server_sends))
                    };
                    return Err(blame(
                        field,
                        format!(
                            "too much data: expected at most {} octets written by all connections together (4 GiB; the applications' data is held in memory), found {} so far",
                            pretty(MAX_TOTAL_SEND_BYTES.into()),
                            pretty(bytes.into())
                        ),
                    ));
                }
                apps::listener_options(&tab, t, &spec, i, &mut listeners, self.hosts)?;
                timing::connection(&tab, t, &spec, self.run_end)?;
                timing::client_port(&tab, t, &spec, i, &mut fixed_ports, &name)?;
                specs.push(spec);
            }
        }
        Ok(specs)
    }

    /// One `[[connections]]` table: its connection, or one per member of
    /// the group it names on one side.
    fn connection(
        &self,
        tab: &Table<'_>,
        t: &file::Connection,
    ) -> Result<Vec<ConnectionSpec>, ConfigError> {
        let client_what = "the host that does the active open, like client = \"client\"";
        let client = self.required_named(tab, &t.client, "client", client_what)?;
        let server_what = "the host it connects to, like server = \"server\"";
        let server = self.required_named(tab, &t.server, "server", server_what)?;
        let server_at = server.1;
        let pairs = self.pairs(tab, client, server, "client", "server")?;
        for &(client, server) in &pairs {
            if client == server {
                return Err(tab.error(
                    server_at,
                    "server",
                    format!(
                        "client and server are both {:?}: expected a server other than the client",
                        self.hosts[server].name
                    ),
                ));
            }
        }
        let (client, server) = pairs[0];
        let port = tab
            .need(&t.port, "port", "the server's port, like port = 80")?
            .0;
        let open = t.open.value().unwrap_or(OpenMode::Active);
        let client_port = t.client_port.value();
        if let (OpenMode::Simultaneous, None, Some(f)) = (open, client_port, &t.open) {
            return Err(tab.error(
                f.span().start,
                "open",
                "open = \"simultaneous\" needs client_port: expected a client_port = N beside it (the port the server connects to)",
            ));
        }
        let close = t.close.value().unwrap_or(CloseMode::ClientFirst);
        match (close, &t.close_at, &t.close) {
            (CloseMode::Simultaneous, None, Some(f)) => {
                return Err(tab.error(
                    f.value.span().start,
                    "close",
                    "close = \"simultaneous\" needs close_at: expected a close_at = \"2s\" beside it",
                ));
            }
            (CloseMode::None, Some(k), _) => {
                return Err(tab.error(
                    k.at(),
                    "close_at",
                    "close_at has no effect with close = \"none\": expected no close_at, or another close mode",
                ));
            }
            _ => {}
        }
        let list = |key, l: &Option<Spanned<List<StepText>>>| {
            l.as_ref()
                .map(|l| apps::steps(tab, key, &l.get_ref().0))
                .transpose()
        };
        let client_app = list("client_app", &t.client_app)?;
        let server_app = list("server_app", &t.server_app)?;
        apps::check_forms(tab, t, close)?;
        let spec = ConnectionSpec {
            client,
            server,
            port,
            open_at: t.open_at.value().unwrap_or(Duration::ZERO),
            open,
            client_port,
            client_sends: t.client_sends.value().unwrap_or(0),
            server_sends: t.server_sends.value().unwrap_or(0),
            close,
            close_at: t.close_at.value(),
            count: t.count.value().unwrap_or(1),
            interval: t.interval.value().unwrap_or(Duration::ZERO),
            client_app,
            server_app,
            client_socket: t.client_socket.unwrap_or_default(),
            server_socket: t
                .server_socket
                .as_ref()
                .map_or_else(Default::default, |s| *s.value.get_ref()),
        };
        Ok(pairs
            .into_iter()
            .map(|(client, server)| ConnectionSpec {
                client,
                server,
                ..spec.clone()
            })
            .collect())
    }

    fn expect(&self, e: &file::Expect) -> Result<Expect, ConfigError> {
        let by_kind =
            |m: &Option<file::ByKind<_>>| entries(m).iter().map(|(k, v)| (k.0, v.0)).collect();
        let mut retransmit_at = Vec::new();
        for (kind, times) in entries(&e.retransmit_at) {
            let mut out: Vec<Duration> = Vec::new();
            for (n, t) in times.0.iter().enumerate() {
                let t_v = *t.get_ref();
                if let Some(&last) = out.last().filter(|&&last| t_v < last) {
                    return Err(self.cx.error(
                        t.span().start,
                        Some(&format!("expect.retransmit_at.{}.{n}", kind.0.name())),
                        format!(
                            "expected times in increasing order: \"{t_v}\" comes after \"{last}\""
                        ),
                    ));
                }
                out.push(t_v);
            }
            retransmit_at.push((kind.0, out));
        }
        // A host named as a key: its id (or a group's pattern: every
        // member's), the error at the key.
        let host = |map: &str, name: &Spanned<String>| {
            let key = format!("expect.{map}.{}", name.get_ref());
            match self.named(name.get_ref(), name.span().start, &key)? {
                Named::One(id) => Ok::<_, ConfigError>(id..id + 1),
                Named::Group(g) => Ok(self.groups[g].members()),
            }
        };
        let mut states = Vec::new();
        for (name, list) in entries(&e.states) {
            let list: Vec<_> = list.0.iter().map(|s| *s.get_ref()).collect();
            for id in host("states", name)? {
                states.push((id, list.clone()));
            }
        }
        let mut final_state = Vec::new();
        for (name, state) in entries(&e.final_state) {
            for id in host("final_state", name)? {
                final_state.push((id, state.0));
            }
        }
        Ok(Expect {
            outcome: e.outcome.value(),
            established_within: e.established_within.value(),
            closed_within: e.closed_within.value(),
            retransmissions: by_kind(&e.retransmissions),
            sent: by_kind(&e.sent),
            retransmit_at,
            tolerance: e.tolerance.value().unwrap_or(Duration::ZERO),
            states,
            final_state,
        })
    }
}

/// `nth` of table `tab`: each number once, in increasing order.
fn nth(tab: &Table<'_>, n: &OneOrMany<Nth>) -> Result<Vec<u32>, ConfigError> {
    let mut nth: Vec<u32> = Vec::new();
    let items = match n {
        OneOrMany::One(v) => return Ok(vec![*v]),
        OneOrMany::Many(items) => items,
    };
    for (i, item) in items.iter().enumerate() {
        let v = *item.get_ref();
        if nth.contains(&v) {
            let message = format!("{v} is listed twice: expected each number once");
            return Err(tab.error(item.span().start, &format!("nth.{i}"), message));
        }
        nth.push(v);
    }
    nth.sort_unstable();
    Ok(nth)
}

/// The settings one table gives, its `loss` checked; the rest come from
/// the table below it.
#[derive(Default)]
struct Partial<'a> {
    s: Settings<'a>,
    loss: Option<Loss>,
}

impl Partial<'_> {
    /// `self` over `below`, with netem's defaults for what neither sets.
    fn over(&self, below: &Partial<'_>) -> LinkParams {
        let d = LinkParams::default();
        let (s, b) = (&self.s, &below.s);
        LinkParams {
            delay: s.delay.or(b.delay).unwrap_or(d.delay),
            jitter: s.jitter.or(b.jitter).unwrap_or(d.jitter),
            distribution: s.distribution.or(b.distribution).unwrap_or(d.distribution),
            loss: self.loss.or(below.loss).unwrap_or(d.loss),
            duplicate: s.duplicate.or(b.duplicate).unwrap_or(d.duplicate),
            corrupt: s.corrupt.or(b.corrupt).unwrap_or(d.corrupt),
            reorder: s.reorder.or(b.reorder).unwrap_or(d.reorder),
            reorder_gap: s.reorder_gap.or(b.reorder_gap).unwrap_or(d.reorder_gap),
            rate_bps: s.rate.or(b.rate).unwrap_or(d.rate_bps),
            queue: s.queue.or(b.queue).unwrap_or(d.queue),
        }
    }
}

/// `[sweep]`: its seeds, and the grid's paths with their values (taken
/// from the document `root`), within the limits on points and runs. The
/// values themselves are checked against the experiment by the caller.
fn sweep(
    cx: &Ctx<'_>,
    s: &Spanned<file::Sweep>,
    seed: u64,
    root: &Node,
) -> Result<Sweep, ConfigError> {
    let t = s.get_ref();
    let seeds = t.seeds.value().unwrap_or(SeedRange::single(seed));
    let mut grid = Vec::new();
    let mut points: u64 = 1;
    let entries = t.grid.iter().flat_map(|g| g.get_ref().0.iter());
    // The typed grid and the document's list the same entries in the same order.
    for ((path, values), entry) in entries.zip(tree::grid(root)) {
        let key = format!("sweep.grid.{}", path.get_ref());
        points = points.saturating_mul(values.get_ref().0 as u64);
        if points > MAX_GRID_POINTS {
            return Err(cx.error(
                values.span().start,
                Some(&key),
                format!(
                    "too many grid points: expected at most {} (the product of the lists' lengths), found {} so far",
                    pretty(MAX_GRID_POINTS.into()),
                    pretty(points.into())
                ),
            ));
        }
        let Value::Array(nodes) = &entry.node.value else {
            continue;
        };
        let values = (nodes.iter().enumerate())
            .map(|(i, v)| tree::to_toml(cx, &format!("{key}.{i}"), v))
            .collect::<Result<_, _>>()?;
        grid.push((path.get_ref().clone(), values));
    }
    let runs = u128::from(points) * seeds.len();
    if runs > MAX_SWEEP_RUNS {
        let message = format!(
            "too many runs: expected at most {} (grid points x seeds), found {} ({} points x {} seeds)",
            pretty(MAX_SWEEP_RUNS),
            pretty(runs),
            pretty(points.into()),
            pretty(seeds.len())
        );
        let (at, key) = match (&t.seeds, &t.grid) {
            (Some(v), _) => (v.span().start, "sweep.seeds"),
            (None, Some(g)) => (g.span().start, "sweep.grid"),
            (None, None) => (s.span().start, "sweep"),
        };
        return Err(cx.error(at, Some(key), message));
    }
    Ok(Sweep { seeds, grid })
}

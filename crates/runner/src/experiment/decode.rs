//! From the document tree to an [`Experiment`]: every key read with its
//! type, range and cross-references checked, in file order within a table.
//! The first error found ends the reading.

use std::net::Ipv4Addr;

use tcpsim_tcp::{DEFAULT_EPHEMERAL_PORTS, Duration, Profile, SegmentKind};

use super::apps;
use super::error::{ConfigError, Origin};
use super::expect;
use super::limits::{
    MAX_CONNECTIONS, MAX_FAULTS, MAX_HOSTS, MAX_LINKS, MAX_SEND_BYTES, MAX_TOTAL_SEND_BYTES, pretty,
};
use super::model::{
    CloseMode, ConnectionSpec, Distribution, Experiment, Fault, FaultAction, Host, HostId, Link,
    LinkParams, Loss, OpenMode,
};
use super::reader::{Ctx, Field, Tbl};
use super::tcp;
use super::tree::{Node, Value};
use super::units::{parse_port_range, parse_rate};

const ROOT_KEYS: &[&str] = &[
    "name",
    "description",
    "seed",
    "duration",
    "profile",
    "tcp",
    "hosts",
    "links",
    "faults",
    "connections",
    "expect",
    "sweep",
];

/// The largest seed a file can hold: TOML integers are signed 64-bit.
const MAX_FILE_SEED: i128 = i64::MAX as i128;

/// Reads the whole experiment. `default_name` is used when `name` is absent.
pub(crate) fn experiment(
    cx: &Ctx<'_>,
    root: &Node,
    default_name: &str,
) -> Result<Experiment, ConfigError> {
    let t = Tbl::new(cx, String::new(), root)?;
    t.deny_unknown(ROOT_KEYS)?;
    let name = match t.get("name") {
        Some(f) => {
            let s = f.str("the experiment's name as a string")?;
            if s.trim().is_empty() {
                return Err(f.expected("a non-empty name"));
            }
            s.to_owned()
        }
        None => default_name.to_owned(),
    };
    let description = t
        .opt("description", |f| f.str("a string"))?
        .unwrap_or_default()
        .to_owned();
    let seed = t
        .opt("seed", |f| {
            f.int::<u64>(
                0,
                MAX_FILE_SEED,
                "a seed between 0 and 9223372036854775807 (2^63 - 1)",
            )
        })?
        .unwrap_or(1);
    let duration = t
        .opt("duration", Field::positive_duration)?
        .unwrap_or(Duration::from_secs(600));
    let profile = t
        .opt("profile", |f| {
            f.choice(&[("rfc", Profile::Rfc), ("linux", Profile::Linux)])
        })?
        .unwrap_or(Profile::Rfc);
    let tcp = t.opt("tcp", tcp::read)?.unwrap_or_default();
    let hosts = hosts(&t)?;
    let links = match t.get("links") {
        Some(f) => links(&f, &hosts)?,
        None => Vec::new(),
    };
    let faults = match t.get("faults") {
        Some(f) => {
            let tables = tables(&f, "[[faults]]")?;
            at_most(&tables, MAX_FAULTS, "faults", "[[faults]] tables")?;
            tables
                .iter()
                .map(|t| fault(t, &hosts))
                .collect::<Result<_, _>>()?
        }
        None => Vec::new(),
    };
    let connections = match t.get("connections") {
        Some(f) => connections(&f, &hosts)?,
        None => Vec::new(),
    };
    let expect = t
        .opt("expect", |f| expect::expect(f, &hosts))?
        .unwrap_or_default();
    let sweep = t.opt("sweep", |f| expect::sweep(f, seed))?;
    Ok(Experiment {
        name,
        description,
        seed,
        duration,
        profile,
        tcp,
        hosts,
        links,
        faults,
        connections,
        expect,
        sweep,
    })
}

/// An array of tables (`[[links]]` or an inline array of inline tables).
fn tables<'a>(f: &Field<'a>, what: &str) -> Result<Vec<Tbl<'a>>, ConfigError> {
    let expected = format!("an array of {what} tables");
    f.array(&expected)?
        .iter()
        .map(|item| match item.node.value {
            Value::Table(_) => item.table(),
            _ => Err(item.expected(&format!("a {what} table"))),
        })
        .collect()
}

/// An error at the first table past `max` (`key.N`), if there are more.
fn at_most(tables: &[Tbl<'_>], max: usize, key: &str, what: &str) -> Result<(), ConfigError> {
    match tables.get(max) {
        Some(t) => Err(t.cx.error(
            t.at,
            Some(&format!("{key}.{max}")),
            format!(
                "too many {what}: expected at most {} (the limit keeps a run within memory), found {}",
                pretty(max as u128),
                pretty(tables.len() as u128)
            ),
        )),
        None => Ok(()),
    }
}

/// Reads `[[connections]]` and checks the totals after `count` expansion:
/// at most [`MAX_CONNECTIONS`] connections and [`MAX_TOTAL_SEND_BYTES`]
/// octets written.
fn connections(f: &Field<'_>, hosts: &[Host]) -> Result<Vec<ConnectionSpec>, ConfigError> {
    let mut specs = Vec::new();
    let mut total: u64 = 0;
    let mut bytes: u64 = 0;
    for t in tables(f, "[[connections]]")? {
        let spec = connection(&t, hosts)?;
        // Where a total that goes over is reported: the count, else the table.
        let blame = |key: Option<&str>, message: String| -> ConfigError {
            match key.and_then(|k| t.get(k)).or_else(|| t.get("count")) {
                Some(field) => field.error(message),
                None => t.cx.error(t.at, Some(&t.path), message),
            }
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
        let per = spec
            .client_sends
            .saturating_add(spec.server_sends)
            .saturating_add(lists);
        bytes = bytes.saturating_add(per.saturating_mul(count));
        if bytes > MAX_TOTAL_SEND_BYTES {
            let key = if spec.count > 1 {
                "count"
            } else if spec.client_app.is_some() {
                "client_app"
            } else if spec.server_app.is_some() {
                "server_app"
            } else if spec.client_sends >= spec.server_sends {
                "client_sends"
            } else {
                "server_sends"
            };
            return Err(blame(
                Some(key),
                format!(
                    "too much data: expected at most {} octets written by all connections together (4 GiB; the applications' data is held in memory), found {} so far",
                    pretty(MAX_TOTAL_SEND_BYTES.into()),
                    pretty(bytes.into())
                ),
            ));
        }
        listener_options(&t, &spec, &specs, hosts)?;
        specs.push(spec);
    }
    Ok(specs)
}

/// `server_socket` is set on the server's listening socket: the server
/// must listen on the port (unless both ends connect), and every
/// connection to that port shares the listener's options.
fn listener_options(
    t: &Tbl<'_>,
    spec: &ConnectionSpec,
    before: &[ConnectionSpec],
    hosts: &[Host],
) -> Result<(), ConfigError> {
    if spec.open == OpenMode::Simultaneous {
        return Ok(());
    }
    let server = &hosts[spec.server];
    let Some(f) = t.get("server_socket") else {
        // Another connection may have set options on this listener.
        if let Some(i) = before.iter().position(|o| {
            o.open == OpenMode::Active
                && o.server == spec.server
                && o.port == spec.port
                && !o.server_socket.is_empty()
        }) {
            return Err(t.cx.error(
                t.at,
                Some(&t.path),
                format!(
                    "connections.{i} set server_socket on {:?} port {}, the listener this connection reaches too: expected the same server_socket here",
                    server.name, spec.port
                ),
            ));
        }
        return Ok(());
    };
    if !server.listen.contains(&spec.port) {
        return Err(f.key_error(format!(
            "server_socket is set on the listening socket, and {:?} does not listen on port {}: expected {} in its listen, or no server_socket",
            server.name, spec.port, spec.port
        )));
    }
    if let Some(i) = before.iter().position(|o| {
        o.open == OpenMode::Active
            && o.server == spec.server
            && o.port == spec.port
            && o.server_socket != spec.server_socket
    }) {
        return Err(f.error(format!(
            "connections.{i} reaches the same listener ({:?} port {}) with other socket options: expected the same server_socket for every connection to one listener",
            server.name, spec.port
        )));
    }
    Ok(())
}

/// A reference to a host by name, resolved to the host's id.
pub(crate) fn host_id(f: &Field<'_>, hosts: &[Host]) -> Result<HostId, ConfigError> {
    let name = f.str("a host name")?;
    resolve_host(f, name, hosts, false)
}

/// The id of the host called `name` (read from `f`, its value or, if
/// `at_key`, its key), or the located error for an unknown host. Every
/// reference to a host is resolved here, once, so what comes after the
/// decoder never meets a host name it cannot find.
pub(crate) fn resolve_host(
    f: &Field<'_>,
    name: &str,
    hosts: &[Host],
    at_key: bool,
) -> Result<HostId, ConfigError> {
    if let Some(id) = hosts.iter().position(|h| h.name == name) {
        return Ok(id);
    }
    let known = hosts
        .iter()
        .map(|h| format!("{:?}", h.name))
        .collect::<Vec<_>>()
        .join(", ");
    let message = format!("unknown host {name:?}: expected one of {known}");
    Err(if at_key {
        f.key_error(message)
    } else {
        f.error(message)
    })
}

fn hosts(root: &Tbl<'_>) -> Result<Vec<Host>, ConfigError> {
    let field = root.require("hosts", "at least one [[hosts]] table")?;
    let tables = tables(&field, "[[hosts]]")?;
    if tables.is_empty() {
        return Err(field.expected("at least one [[hosts]] table"));
    }
    at_most(&tables, MAX_HOSTS, "hosts", "[[hosts]] tables")?;
    let mut hosts: Vec<Host> = Vec::with_capacity(tables.len());
    // Where each host's name and address were given, for "already used" errors.
    let mut seen: Vec<(Origin, Origin)> = Vec::new();
    for t in &tables {
        t.deny_unknown(&["name", "addr", "listen", "tcp", "ephemeral_ports"])?;
        let name_f = t.require("name", "the host's name, like \"client\"")?;
        let name = name_f.str("a host name")?;
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(name_f.expected("a host name made of letters, digits, '-' and '_'"));
        }
        if let Some(i) = hosts.iter().position(|h| h.name == name) {
            return Err(name_f.error(format!(
                "duplicate host name {name:?}: expected a name not used before (hosts.{i}, {})",
                t.cx.describe(&seen[i].0)
            )));
        }
        let addr_f = t.require("addr", "the host's IPv4 address, like \"10.0.0.1\"")?;
        let addr_s = addr_f.str("an IPv4 address like \"10.0.0.1\"")?;
        let addr: Ipv4Addr = addr_s
            .parse()
            .map_err(|_| addr_f.expected("an IPv4 address like \"10.0.0.1\""))?;
        if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() {
            return Err(addr_f.expected("a unicast IPv4 address"));
        }
        if let Some(i) = hosts.iter().position(|h| h.addr == addr) {
            return Err(addr_f.error(format!(
                "duplicate address {addr}: expected an address no other host has (hosts.{i} {:?}, {})",
                hosts[i].name,
                t.cx.describe(&seen[i].1)
            )));
        }
        let mut listen: Vec<u16> = Vec::new();
        if let Some(f) = t.get("listen") {
            for p in f.array("an array of ports, like [80]")? {
                let port = p.int::<u16>(1, 65535, "a port between 1 and 65535")?;
                if listen.contains(&port) {
                    return Err(p.error(format!(
                        "port {port} is listed twice: expected each port once"
                    )));
                }
                listen.push(port);
            }
        }
        let tcp = t.opt("tcp", tcp::read)?.unwrap_or_default();
        let ephemeral_ports = t
            .opt("ephemeral_ports", |f| {
                let s = f.str("a port range like \"1024-65535\"")?;
                parse_port_range(s).map_err(|m| f.error(m))
            })?
            .unwrap_or(DEFAULT_EPHEMERAL_PORTS);
        seen.push((name_f.node.at.clone(), addr_f.node.at.clone()));
        hosts.push(Host {
            name: name.to_owned(),
            addr,
            listen,
            tcp,
            ephemeral_ports,
        });
    }
    Ok(hosts)
}

/// The settings a link table and its direction tables share.
const DIRECTION_KEYS: &[&str] = &[
    "delay",
    "jitter",
    "distribution",
    "loss",
    "duplicate",
    "corrupt",
    "reorder",
    "reorder_gap",
    "rate",
    "queue",
];

const LINK_KEYS: &[&str] = &[
    "a",
    "b",
    "a_to_b",
    "b_to_a",
    "delay",
    "jitter",
    "distribution",
    "loss",
    "duplicate",
    "corrupt",
    "reorder",
    "reorder_gap",
    "rate",
    "queue",
];

/// The settings one table gives; the rest come from the table below it.
#[derive(Clone, Copy, Default)]
struct Partial {
    delay: Option<Duration>,
    jitter: Option<Duration>,
    distribution: Option<Distribution>,
    loss: Option<Loss>,
    duplicate: Option<f64>,
    corrupt: Option<f64>,
    reorder: Option<f64>,
    reorder_gap: Option<u32>,
    rate_bps: Option<Option<u64>>,
    queue: Option<u32>,
}

impl Partial {
    fn read(t: &Tbl<'_>) -> Result<Partial, ConfigError> {
        Ok(Partial {
            delay: t.opt("delay", Field::duration)?,
            jitter: t.opt("jitter", Field::duration)?,
            distribution: t.opt("distribution", |f| {
                f.choice(&[
                    ("uniform", Distribution::Uniform),
                    ("normal", Distribution::Normal),
                    ("pareto", Distribution::Pareto),
                    ("paretonormal", Distribution::ParetoNormal),
                ])
            })?,
            loss: t.opt("loss", loss)?,
            duplicate: t.opt("duplicate", Field::probability)?,
            corrupt: t.opt("corrupt", Field::probability)?,
            reorder: t.opt("reorder", Field::probability)?,
            reorder_gap: t.opt("reorder_gap", |f| {
                f.int(1, i128::from(u32::MAX), "a reorder gap of at least 1")
            })?,
            rate_bps: t.opt("rate", |f| {
                let s = f.str("a rate like \"10Mbit\" or \"unlimited\"")?;
                if s == "unlimited" {
                    Ok(None)
                } else {
                    parse_rate(s).map(Some).map_err(|m| f.error(m))
                }
            })?,
            queue: t.opt("queue", |f| {
                f.int(1, i128::from(u32::MAX), "a queue of at least 1 packet")
            })?,
        })
    }

    /// `self` over `below`, with netem's defaults for what neither sets.
    fn resolve(&self, below: &Partial) -> LinkParams {
        let d = LinkParams::default();
        LinkParams {
            delay: self.delay.or(below.delay).unwrap_or(d.delay),
            jitter: self.jitter.or(below.jitter).unwrap_or(d.jitter),
            distribution: self
                .distribution
                .or(below.distribution)
                .unwrap_or(d.distribution),
            loss: self.loss.or(below.loss).unwrap_or(d.loss),
            duplicate: self.duplicate.or(below.duplicate).unwrap_or(d.duplicate),
            corrupt: self.corrupt.or(below.corrupt).unwrap_or(d.corrupt),
            reorder: self.reorder.or(below.reorder).unwrap_or(d.reorder),
            reorder_gap: self
                .reorder_gap
                .or(below.reorder_gap)
                .unwrap_or(d.reorder_gap),
            rate_bps: self.rate_bps.or(below.rate_bps).unwrap_or(d.rate_bps),
            queue: self.queue.or(below.queue).unwrap_or(d.queue),
        }
    }
}

/// `loss`: a probability (0 means no loss), or a Gilbert–Elliott table.
fn loss(f: &Field<'_>) -> Result<Loss, ConfigError> {
    if !matches!(f.node.value, Value::Table(_)) {
        let p = f.probability()?;
        return Ok(if p == 0.0 {
            Loss::None
        } else {
            Loss::Bernoulli(p)
        });
    }
    let t = f.table()?;
    t.deny_unknown(&["model", "p", "r", "h", "k"])?;
    t.require("model", "model = \"gilbert-elliott\"")?
        .choice(&[("gilbert-elliott", ())])?;
    let p = t
        .require("p", "p, the probability of moving to the bad state")?
        .probability()?;
    // tc's defaults (iproute2 q_netem.c, "gemodel"): r = 1 - p, 1-h = 1, 1-k = 0.
    let r = t.opt("r", Field::probability)?.unwrap_or(1.0 - p);
    let h = t.opt("h", Field::probability)?.unwrap_or(0.0);
    let k = t.opt("k", Field::probability)?.unwrap_or(1.0);
    Ok(Loss::GilbertElliott { p, r, h, k })
}

fn links(field: &Field<'_>, hosts: &[Host]) -> Result<Vec<Link>, ConfigError> {
    let mut links: Vec<Link> = Vec::new();
    let tables = tables(field, "[[links]]")?;
    at_most(&tables, MAX_LINKS, "links", "[[links]] tables")?;
    for t in tables {
        t.deny_unknown(LINK_KEYS)?;
        let a = host_id(
            &t.require("a", "the host at one end, like a = \"client\"")?,
            hosts,
        )?;
        let b_f = t.require("b", "the host at the other end, like b = \"server\"")?;
        let b = host_id(&b_f, hosts)?;
        let (a_name, b_name) = (&hosts[a].name, &hosts[b].name);
        if a == b {
            return Err(b_f.error(format!(
                "a link from {a_name:?} to itself: expected a host other than a = {a_name:?}"
            )));
        }
        if let Some(i) = links
            .iter()
            .position(|l| (l.a == a && l.b == b) || (l.a == b && l.b == a))
        {
            return Err(b_f.error(format!(
                "a second link between {a_name:?} and {b_name:?}: expected at most one link per pair of hosts (the first is links.{i})"
            )));
        }
        let both = Partial::read(&t)?;
        let direction = |key: &str| -> Result<LinkParams, ConfigError> {
            match t.get(key) {
                Some(f) => {
                    let d = f.table()?;
                    d.deny_unknown(DIRECTION_KEYS)?;
                    Ok(Partial::read(&d)?.resolve(&both))
                }
                None => Ok(both.resolve(&Partial::default())),
            }
        };
        let a_to_b = direction("a_to_b")?;
        let b_to_a = direction("b_to_a")?;
        links.push(Link {
            a,
            b,
            a_to_b,
            b_to_a,
        });
    }
    Ok(links)
}

/// Reads segment kinds: a name or a list of names; `ANY` is every kind.
fn segment_kind(f: &Field<'_>, allow_any: bool) -> Result<Vec<SegmentKind>, ConfigError> {
    let names = || {
        let mut v: Vec<&str> = SegmentKind::ALL.iter().map(|k| k.name()).collect();
        if allow_any {
            v.push("ANY");
        }
        v.join(", ")
    };
    let name = f.str(&format!("a segment kind ({})", names()))?;
    if allow_any && name == "ANY" {
        return Ok(SegmentKind::ALL.to_vec());
    }
    match SegmentKind::from_name(name) {
        Some(k) => Ok(vec![k]),
        None => Err(f.error(format!(
            "unknown segment kind {name:?}: expected one of {}",
            names()
        ))),
    }
}

fn fault(t: &Tbl<'_>, hosts: &[Host]) -> Result<Fault, ConfigError> {
    t.deny_unknown(&[
        "action", "from", "to", "segment", "nth", "start", "end", "extra",
    ])?;
    let action_f = t.require(
        "action",
        "action = \"drop\" | \"delay\" | \"duplicate\" | \"corrupt\" | \"partition\"",
    )?;
    let mut action = action_f.choice(&[
        ("drop", FaultAction::Drop),
        // The delay's `extra` is read next.
        ("delay", FaultAction::Delay(Duration::ZERO)),
        ("duplicate", FaultAction::Duplicate),
        ("corrupt", FaultAction::Corrupt),
        ("partition", FaultAction::Partition),
    ])?;
    if let FaultAction::Delay(extra) = &mut action {
        *extra = t
            .require(
                "extra",
                "extra = a duration like \"300ms\" for action = \"delay\"",
            )?
            .positive_duration()?;
    } else if let Some(f) = t.get("extra") {
        return Err(f.key_error(format!(
            "`extra` applies only to action = \"delay\": expected no extra with action = {:?}",
            action_f.str("an action")?
        )));
    }
    let from = t.opt("from", |f| host_id(f, hosts))?;
    let to = match t.get("to") {
        Some(f) => {
            let to = host_id(&f, hosts)?;
            if from == Some(to) {
                return Err(f.error(format!(
                    "from and to are both {:?}: expected a host other than from",
                    hosts[to].name
                )));
            }
            Some(to)
        }
        None => None,
    };
    if action == FaultAction::Partition {
        for key in ["segment", "nth"] {
            if let Some(f) = t.get(key) {
                return Err(f.key_error(format!(
                    "`{key}` does not apply to action = \"partition\", which cuts every segment: expected only from, to, start and end"
                )));
            }
        }
    }
    let segment = match t.get("segment") {
        Some(f) => {
            let items = f.one_or_many();
            if items.is_empty() {
                return Err(f.expected("a segment kind or a non-empty list of them"));
            }
            let mut kinds = Vec::new();
            for item in &items {
                kinds.extend(segment_kind(item, true)?);
            }
            SegmentKind::ALL
                .into_iter()
                .filter(|k| kinds.contains(k))
                .collect()
        }
        None => SegmentKind::ALL.to_vec(),
    };
    let nth = match t.get("nth") {
        Some(f) => {
            let items = f.one_or_many();
            if items.is_empty() {
                return Err(f.expected("a non-empty list of segment numbers, like [1]"));
            }
            let mut nth: Vec<u32> = Vec::new();
            for item in &items {
                let n = item.int::<u32>(
                    1,
                    i128::from(u32::MAX),
                    "a segment number of at least 1 (nth counts from 1)",
                )?;
                if nth.contains(&n) {
                    return Err(
                        item.error(format!("{n} is listed twice: expected each number once"))
                    );
                }
                nth.push(n);
            }
            nth.sort_unstable();
            Some(nth)
        }
        None => None,
    };
    let start = t.opt("start", Field::duration)?;
    let end = match t.get("end") {
        Some(f) => {
            let end = f.duration()?;
            if let Some(start) = start.filter(|&s| end <= s) {
                return Err(f.error(format!(
                    "expected an end after start = \"{start}\", found \"{end}\""
                )));
            }
            Some(end)
        }
        None => None,
    };
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

fn connection(t: &Tbl<'_>, hosts: &[Host]) -> Result<ConnectionSpec, ConfigError> {
    t.deny_unknown(&[
        "client",
        "server",
        "port",
        "open_at",
        "open",
        "client_port",
        "client_sends",
        "server_sends",
        "close",
        "close_at",
        "count",
        "interval",
        "client_app",
        "server_app",
        "client_socket",
        "server_socket",
    ])?;
    let client = host_id(
        &t.require(
            "client",
            "the host that does the active open, like client = \"client\"",
        )?,
        hosts,
    )?;
    let server_f = t.require(
        "server",
        "the host it connects to, like server = \"server\"",
    )?;
    let server = host_id(&server_f, hosts)?;
    if client == server {
        return Err(server_f.error(format!(
            "client and server are both {:?}: expected a server other than the client",
            hosts[server].name
        )));
    }
    const PORT: &str = "a port between 1 and 65535";
    let port = t
        .require("port", "the server's port, like port = 80")?
        .int::<u16>(1, 65535, PORT)?;
    let open_at = t.opt("open_at", Field::duration)?.unwrap_or(Duration::ZERO);
    let open_f = t.get("open");
    let open = match &open_f {
        Some(f) => f.choice(&[
            ("active", OpenMode::Active),
            ("simultaneous", OpenMode::Simultaneous),
        ])?,
        None => OpenMode::Active,
    };
    let client_port = t.opt("client_port", |f| f.int::<u16>(1, 65535, PORT))?;
    if let (OpenMode::Simultaneous, None, Some(f)) = (open, client_port, &open_f) {
        return Err(f.error(
            "open = \"simultaneous\" needs client_port: expected a client_port = N beside it (the port the server connects to)",
        ));
    }
    // At most MAX_SEND_BYTES: the application writes it all at once, so
    // it is held in memory.
    const BYTES: &str = "a byte count between 0 and 1073741824 (1 GiB)";
    let client_sends = t
        .opt("client_sends", |f| {
            f.int::<u64>(0, i128::from(MAX_SEND_BYTES), BYTES)
        })?
        .unwrap_or(0);
    let server_sends = t
        .opt("server_sends", |f| {
            f.int::<u64>(0, i128::from(MAX_SEND_BYTES), BYTES)
        })?
        .unwrap_or(0);
    let close_f = t.get("close");
    let close = match &close_f {
        Some(f) => f.choice(&[
            ("client-first", CloseMode::ClientFirst),
            ("server-first", CloseMode::ServerFirst),
            ("simultaneous", CloseMode::Simultaneous),
            ("client-abort", CloseMode::ClientAbort),
            ("server-abort", CloseMode::ServerAbort),
            ("none", CloseMode::None),
        ])?,
        None => CloseMode::ClientFirst,
    };
    let close_at = t.opt("close_at", Field::duration)?;
    match (close, close_at, &close_f) {
        (CloseMode::Simultaneous, None, Some(f)) => {
            return Err(f.error(
                "close = \"simultaneous\" needs close_at: expected a close_at = \"2s\" beside it",
            ));
        }
        (CloseMode::None, Some(_), _) => {
            if let Some(f) = t.get("close_at") {
                return Err(f.key_error(
                    "close_at has no effect with close = \"none\": expected no close_at, or another close mode",
                ));
            }
        }
        _ => {}
    }
    let count = t
        .opt("count", |f| {
            f.int::<u32>(
                1,
                i128::from(MAX_CONNECTIONS),
                "a count of at least 1 and at most 1000000 (connections in a run, after count expansion)",
            )
        })?
        .unwrap_or(1);
    let interval = t
        .opt("interval", Field::duration)?
        .unwrap_or(Duration::ZERO);
    let client_app = t.opt("client_app", apps::steps)?;
    let server_app = t.opt("server_app", apps::steps)?;
    apps::check_forms(t, client_app.is_some(), server_app.is_some(), close)?;
    let client_socket = t.opt("client_socket", apps::socket)?.unwrap_or_default();
    let server_socket = t.opt("server_socket", apps::socket)?.unwrap_or_default();
    Ok(ConnectionSpec {
        client,
        server,
        port,
        open_at,
        open,
        client_port,
        client_sends,
        server_sends,
        close,
        close_at,
        count,
        interval,
        client_app,
        server_app,
        client_socket,
        server_socket,
    })
}

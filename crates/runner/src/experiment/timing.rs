//! Checks of times against each other: what a file asks to happen must be
//! able to happen inside the run, in an order that exists.
//!
//! - A connection opens before the run's `duration` ends, and so does the
//!   last of its `count` (at `open_at + (count - 1) × interval`, worked out
//!   without overflow).
//! - `close_at` is at or after `open_at` and before the end of the run.
//! - A fault's window starts before the end of the run and ends after its
//!   start (0 s when `start` is absent).
//! - The RTO bounds hold for every host: `min_rto` and `initial_rto` at
//!   most `max_rto` (the profile would otherwise clamp them silently).
//! - One 4-tuple is not two connections at one instant: a fixed
//!   `client_port` used twice for the same server and port at the same
//!   `open_at`, or with `count > 1` and no `interval`. Reusing it later is
//!   legitimate: that is reconnecting, and what happens then is the
//!   profile's (TIME-WAIT reuse, or "local port in use").
//!
//! Every duration is at most [`MAX_DURATION`](super::limits::MAX_DURATION)
//! (the leaf reader's bound), so the sums here fit; they are still done in
//! `u128`, because `count × interval` alone need not.

use std::collections::BTreeMap;

use tcpsim_tcp::{Config, Duration, Profile};

use super::de::Keyed;
use super::error::{ConfigError, Ctx};
use super::file;
use super::model::{ConnectionSpec, HostId};
use super::tcp::TcpOverrides;
use toml::Spanned;

use super::tree::{self, Node};
use super::validate::Table;

/// The end of the run, as messages name it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunEnd {
    pub(crate) duration: Duration,
    /// Whether the file gave `duration` (else it is the default).
    pub(crate) given: bool,
}

impl RunEnd {
    fn describe(self) -> String {
        let d = self.duration;
        if self.given {
            format!("the end of the run (duration = \"{d}\")")
        } else {
            format!("the end of the run (duration = \"{d}\", the default)")
        }
    }
}

/// The position of a keyed value.
fn value_at<T>(k: &Keyed<T>) -> usize {
    k.value.span().start
}

/// `open_at`, the last of `count` opens, and `close_at` of one
/// `[[connections]]` table (`spec` is what it gave).
pub(crate) fn connection(
    tab: &Table<'_>,
    t: &file::Connection,
    spec: &ConnectionSpec,
    end: RunEnd,
) -> Result<(), ConfigError> {
    let ns = |d: Duration| u128::from(d.as_nanos());
    let run = ns(end.duration);
    if let Some(k) = &t.open_at {
        if ns(spec.open_at) >= run {
            return Err(tab.error(
                value_at(k),
                "open_at",
                format!(
                    "expected an open_at before {}, found \"{}\": the connection would never open",
                    end.describe(),
                    spec.open_at
                ),
            ));
        }
    }
    let last = ns(spec.open_at) + u128::from(spec.count - 1) * ns(spec.interval);
    if let Some(k) = t.interval.as_ref().filter(|_| last >= run) {
        return Err(tab.error(
            value_at(k),
            "interval",
            format!(
                "the last of the {} connections would open at open_at + {} × interval = {}: expected every open before {} (a shorter interval, a smaller count or a longer duration)",
                spec.count,
                spec.count - 1,
                nanos(last),
                end.describe()
            ),
        ));
    }
    if let (Some(close_at), Some(k)) = (spec.close_at, &t.close_at) {
        if close_at < spec.open_at {
            return Err(tab.error(
                value_at(k),
                "close_at",
                format!(
                    "expected a close_at at or after open_at = \"{}\", found \"{close_at}\": a connection cannot close before it opens",
                    spec.open_at
                ),
            ));
        }
        if ns(close_at) >= run {
            return Err(tab.error(
                value_at(k),
                "close_at",
                format!(
                    "expected a close_at before {}, found \"{close_at}\": the close would never happen",
                    end.describe()
                ),
            ));
        }
    }
    Ok(())
}

/// A time of `ns` nanoseconds (which may be past the end of the `u64`
/// clock), printed as durations are.
fn nanos(ns: u128) -> String {
    match u64::try_from(ns) {
        Ok(ns) => Duration::from_nanos(ns).to_string(),
        Err(_) if ns % 1_000_000_000 == 0 => format!("{}s", ns / 1_000_000_000),
        Err(_) => format!("{}.{:09}s", ns / 1_000_000_000, ns % 1_000_000_000),
    }
}

/// A fault's window: `start` before the end of the run, `end` after the
/// start.
pub(crate) fn fault_window(
    tab: &Table<'_>,
    t: &file::Fault,
    run: RunEnd,
) -> Result<(), ConfigError> {
    let start = t.start.as_ref().map(|k| (k, k.value.get_ref().0));
    if let Some((k, start)) = start.filter(|&(_, s)| s >= run.duration) {
        return Err(tab.error(
            value_at(k),
            "start",
            format!(
                "expected a start before {}, found \"{start}\": the rule would never apply",
                run.describe()
            ),
        ));
    }
    if let Some(e) = &t.end {
        let end = e.get_ref().0;
        let message = match start {
            Some((_, start)) if end <= start => Some(format!(
                "expected an end after start = \"{start}\", found \"{end}\""
            )),
            None if end == Duration::ZERO => Some(format!(
                "expected an end after the start of the run (0s, as start is not given), found \"{end}\": the rule would never apply"
            )),
            _ => None,
        };
        if let Some(message) = message {
            return Err(tab.error(e.span().start, "end", message));
        }
    }
    Ok(())
}

/// The RTO bounds of the file's `[tcp]` and of every host's `tcp` (in
/// `hosts`, the host tables), each as that host's configuration ends up
/// (the profile's defaults, then `[tcp]`, then the host's own). An error
/// is placed at the key as the first of `roots` that holds it has it.
pub(crate) fn rto_bounds(
    cx: &Ctx<'_>,
    f: &file::File,
    hosts: &[Spanned<file::Host>],
    roots: &[&Node],
) -> Result<(), ConfigError> {
    let profile = f.profile.as_ref().map_or(Profile::Rfc, |p| p.0);
    let base = f.tcp.unwrap_or_default();
    let mut c = Config::new(profile);
    base.apply(&mut c);
    let default = format!("the {} profile's default", profile.name());
    rto_layer(cx, &base, &c, roots, &["tcp"], &default)?;
    let below = if base.max_rto.is_some() {
        "from [tcp]"
    } else {
        &default
    };
    for (i, host) in hosts.iter().enumerate() {
        if let Some(own) = &host.get_ref().tcp {
            let c = own.config(&base, profile);
            rto_layer(cx, own, &c, roots, &["hosts", &i.to_string(), "tcp"], below)?;
        }
    }
    Ok(())
}

/// The RTO bounds of `c`, the configuration a layer of overrides `o`
/// (at `path` in the document) leads to; `below` says where `max_rto`
/// comes from when this layer does not set it. The error is at the key
/// this layer sets: the lower bound when it sets it, else `max_rto`.
fn rto_layer(
    cx: &Ctx<'_>,
    o: &TcpOverrides,
    c: &Config,
    roots: &[&Node],
    path: &[&str],
    below: &str,
) -> Result<(), ConfigError> {
    let checks = [
        ("min_rto", o.min_rto, c.min_rto),
        ("initial_rto", o.initial_rto, c.initial_rto),
    ];
    for (key, own, value) in checks {
        if value <= c.max_rto || (own.is_none() && o.max_rto.is_none()) {
            continue;
        }
        let max = if o.max_rto.is_some() {
            format!("max_rto = \"{}\"", c.max_rto)
        } else {
            format!("max_rto = \"{}\" ({below})", c.max_rto)
        };
        let blame = if own.is_some() { key } else { "max_rto" };
        let found = if own.is_some() { value } else { c.max_rto };
        let message = if own.is_some() {
            format!(
                "expected {key} at most {max}, found \"{found}\": the RTO never exceeds max_rto"
            )
        } else {
            format!(
                "expected a max_rto of at least {key} = \"{value}\", found \"{found}\": the RTO never exceeds max_rto"
            )
        };
        let mut keys = path.to_vec();
        keys.push(blame);
        let at = (roots.iter().find_map(|r| tree::find(r, &keys))).map_or(roots[0].at, |n| n.at);
        return Err(cx.error(at, Some(&keys.join(".")), message));
    }
    Ok(())
}

/// The fixed client ports seen so far: (client, port, server, server
/// port, open_at) to the table that opened it first.
pub(crate) type FixedPorts = BTreeMap<(HostId, u16, HostId, u16, Duration), (usize, usize)>;

/// A fixed `client_port` that would make one 4-tuple two connections at
/// one instant; `table` is this table's index, `names` the host names.
pub(crate) fn client_port(
    tab: &Table<'_>,
    t: &file::Connection,
    spec: &ConnectionSpec,
    table: usize,
    seen: &mut FixedPorts,
    names: &dyn Fn(HostId) -> String,
) -> Result<(), ConfigError> {
    let (Some(port), Some(k)) = (spec.client_port, &t.client_port) else {
        return Ok(());
    };
    let tuple = format!(
        "{}:{port} -> {}:{}",
        names(spec.client),
        names(spec.server),
        spec.port
    );
    if spec.count > 1 && spec.interval == Duration::ZERO {
        let at = t.count.as_ref().map_or(value_at(k), |c| c.span().start);
        return Err(tab.error(
            at,
            "count",
            format!(
                "count = {} with client_port = {port} and no interval would open {} connections {tuple} at one instant: expected count = 1, an interval, or no client_port (an ephemeral port each)",
                spec.count, spec.count
            ),
        ));
    }
    let key = (spec.client, port, spec.server, spec.port, spec.open_at);
    let &mut (first, first_at) = seen.entry(key).or_insert((table, value_at(k)));
    if first != table {
        return Err(tab.error(
            value_at(k),
            "client_port",
            format!(
                "connections.{first} ({}) opens {tuple} at {} too: expected another client_port, open_at, server or port (one 4-tuple is one connection at a time)",
                tab.cx.describe(first_at),
                spec.open_at
            ),
        ));
    }
    Ok(())
}

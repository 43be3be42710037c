//! `[expect]` (the checks a run is judged by) and `[sweep]` (what
//! `tcpsim sweep` varies).

use tcpsim_tcp::{Duration, SegmentKind, State};

use super::decode::resolve_host;
use super::error::ConfigError;
use super::limits::{MAX_GRID_POINTS, MAX_SWEEP_RUNS, pretty};
use super::model::{Expect, Host, HostId, Outcome, Sweep};
use super::reader::{Field, Tbl};
use super::tree::Value;
use super::units::SeedRange;

const EXPECT_KEYS: &[&str] = &[
    "outcome",
    "established_within",
    "closed_within",
    "retransmissions",
    "sent",
    "retransmit_at",
    "tolerance",
    "states",
    "final_state",
];

/// Reads `[expect]`.
pub(crate) fn expect(f: &Field<'_>, hosts: &[Host]) -> Result<Expect, ConfigError> {
    let t = f.table()?;
    t.deny_unknown(EXPECT_KEYS)?;
    let outcome = t.opt("outcome", |f| {
        let names: Vec<(&str, Outcome)> = Outcome::ALL.iter().map(|o| (o.name(), *o)).collect();
        f.choice(&names)
    })?;
    let count = |f: &Field<'_>| f.int::<u64>(0, i128::from(i64::MAX), "a count of at least 0");
    Ok(Expect {
        outcome,
        established_within: t.opt("established_within", Field::duration)?,
        closed_within: t.opt("closed_within", Field::duration)?,
        retransmissions: t
            .opt("retransmissions", |f| by_kind(f, count))?
            .unwrap_or_default(),
        sent: t.opt("sent", |f| by_kind(f, count))?.unwrap_or_default(),
        retransmit_at: t
            .opt("retransmit_at", |f| by_kind(f, times))?
            .unwrap_or_default(),
        tolerance: t
            .opt("tolerance", Field::duration)?
            .unwrap_or(Duration::ZERO),
        states: t
            .opt("states", |f| {
                by_host(f, hosts, |f| {
                    f.array("a list of states, like [\"SYN-SENT\", \"ESTABLISHED\"]")?
                        .iter()
                        .map(state)
                        .collect()
                })
            })?
            .unwrap_or_default(),
        final_state: t
            .opt("final_state", |f| by_host(f, hosts, state))?
            .unwrap_or_default(),
    })
}

/// A table keyed by segment kind (`{ SYN = 1, SYN-ACK = 0 }`), in file order.
fn by_kind<T>(
    f: &Field<'_>,
    read: impl Fn(&Field<'_>) -> Result<T, ConfigError>,
) -> Result<Vec<(SegmentKind, T)>, ConfigError> {
    let t: Tbl<'_> = f.table()?;
    let mut out = Vec::new();
    for field in t.fields() {
        let kind = SegmentKind::from_name(field.key).ok_or_else(|| {
            let names: Vec<&str> = SegmentKind::ALL.iter().map(|k| k.name()).collect();
            field.key_error(format!(
                "unknown segment kind {:?}: expected one of {}",
                field.key,
                names.join(", ")
            ))
        })?;
        out.push((kind, read(&field)?));
    }
    Ok(out)
}

/// A table keyed by host name, in file order, with each host resolved to its id.
fn by_host<T>(
    f: &Field<'_>,
    hosts: &[Host],
    read: impl Fn(&Field<'_>) -> Result<T, ConfigError>,
) -> Result<Vec<(HostId, T)>, ConfigError> {
    let t: Tbl<'_> = f.table()?;
    let mut out = Vec::new();
    for field in t.fields() {
        let host = resolve_host(&field, field.key, hosts, true)?;
        out.push((host, read(&field)?));
    }
    Ok(out)
}

/// An RFC 9293 state name.
fn state(f: &Field<'_>) -> Result<State, ConfigError> {
    let name = f.str("a state name like \"ESTABLISHED\"")?;
    State::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = State::ALL.iter().map(|s| s.name()).collect();
        f.error(format!(
            "unknown state {name:?}: expected one of {}",
            names.join(", ")
        ))
    })
}

/// A list of times in increasing order.
fn times(f: &Field<'_>) -> Result<Vec<Duration>, ConfigError> {
    let mut out: Vec<Duration> = Vec::new();
    for item in f.array("a list of times, like [\"1s\", \"3s\"]")? {
        let t = item.duration()?;
        if let Some(&last) = out.last() {
            if t < last {
                return Err(item.error(format!(
                    "expected times in increasing order: \"{t}\" comes after \"{last}\""
                )));
            }
        }
        out.push(t);
    }
    Ok(out)
}

/// Reads `[sweep]`. The grid's paths and values are checked against the
/// experiment by the caller; here they are only read.
pub(crate) fn sweep(f: &Field<'_>, seed: u64) -> Result<Sweep, ConfigError> {
    let t = f.table()?;
    t.deny_unknown(&["seeds", "grid"])?;
    let seeds = t
        .opt("seeds", |f| match &f.node.value {
            Value::String(s) => s.parse::<SeedRange>().map_err(|m| f.error(m)),
            Value::Integer(i) => u64::try_from(*i)
                .map(SeedRange::single)
                .map_err(|_| f.expected("a seed range like \"1..=1000\"")),
            _ => Err(f.expected("a seed range like \"1..=1000\"")),
        })?
        .unwrap_or(SeedRange::single(seed));
    let mut grid = Vec::new();
    let mut points: u64 = 1;
    if let Some(g) = t.get("grid") {
        for field in g.table()?.fields() {
            let values = field.array("a non-empty list of values, like [0.0, 0.01]")?;
            if values.is_empty() {
                return Err(field.expected("a non-empty list of values, like [0.0, 0.01]"));
            }
            points = points.saturating_mul(values.len() as u64);
            if points > MAX_GRID_POINTS {
                return Err(field.error(format!(
                    "too many grid points: expected at most {} (the product of the lists' lengths), found {} so far",
                    pretty(MAX_GRID_POINTS.into()),
                    pretty(points.into())
                )));
            }
            let values = values
                .iter()
                .map(|v| super::tree::to_toml(f.cx, &v.path, v.node))
                .collect::<Result<_, _>>()?;
            grid.push((field.key.to_owned(), values));
        }
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
        return Err(match (t.get("seeds"), t.get("grid")) {
            (Some(f), _) | (None, Some(f)) => f.error(message),
            (None, None) => f.error(message),
        });
    }
    Ok(Sweep { seeds, grid })
}

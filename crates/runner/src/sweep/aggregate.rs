//! The aggregate of a sweep (tcpsim SPEC §4's sweep JSON) as a type:
//! [`aggregate`] builds it from the runs, and the JSON (its `serde`
//! form), the text table ([`text`]) and the CSV ([`csv`]) are all written
//! from it.
//!
//! The JSON is what `serde_json` writes for these types, field by field in
//! declaration order: maps keep a fixed order (grid paths in grid order,
//! outcomes in [`Outcome::ALL`] order, kinds in [`KIND_ORDER`]), and times
//! and means are `f64`, written in their shortest round-trip form (`40.0`,
//! `1161.32`). The CSV writes times as whole nanoseconds and means per run
//! with 6 decimals ([`csv`]). Reading one back is strict: an unknown or
//! missing key is an error.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use tcpsim_net::Outcome;

use super::{ConnSample, RunRecord, replay};
use crate::timeline::KIND_ORDER;

/// The aggregate of a sweep: every grid point's distributions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aggregate {
    /// Experiment name.
    pub experiment: String,
    /// The report format's version ([`crate::report::SCHEMA`]).
    pub schema: u32,
    /// Runs aggregated, over every point.
    pub runs: u64,
    /// One entry per grid point, in point order.
    pub points: Vec<PointAggregate>,
}

/// What the runs of one grid point did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointAggregate {
    /// The point's values, as `--set` arguments (path, value), in grid
    /// order; a JSON object.
    #[serde(with = "params")]
    pub params: Vec<(String, String)>,
    /// Runs of this point.
    pub runs: u64,
    /// Connections by outcome, over every run of the point.
    pub outcomes: Outcomes,
    /// Milliseconds from connect to ESTABLISHED, over the connections that
    /// got there; `None` (`null`) if none did.
    pub established_ms: Option<Stats>,
    /// Milliseconds from connect to the end of a clean close, over the
    /// connections that closed; `None` (`null`) if none did.
    pub closed_ms: Option<Stats>,
    /// Retransmissions per run, by kind.
    pub retransmissions: RetransmissionMeans,
    /// The runs that failed an expectation, in run order.
    pub failed_seeds: Vec<FailedSeed>,
}

/// A distribution of times, in milliseconds; percentiles by nearest rank.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stats {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Stats {
    /// The fields with their names, in order.
    fn fields(&self) -> [(&'static str, f64); 5] {
        [
            ("p50", self.p50),
            ("p90", self.p90),
            ("p99", self.p99),
            ("max", self.max),
            ("mean", self.mean),
        ]
    }
}

/// The names of [`Stats`]' fields, for the CSV header.
const STATS_FIELDS: [&str; 5] = ["p50", "p90", "p99", "max", "mean"];

/// A run that failed an expectation, and how to replay it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailedSeed {
    /// The run's seed.
    pub seed: u64,
    /// Names of the expectations that failed.
    pub failed: Vec<String>,
    /// The command that replays the run.
    pub replay: String,
}

/// Connections by outcome, indexed like [`Outcome::ALL`]; a JSON object
/// from outcome name to count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcomes(pub [u64; Outcome::ALL.len()]);

impl Outcomes {
    /// The count of `outcome`.
    pub fn get(&self, outcome: Outcome) -> u64 {
        Outcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .map_or(0, |i| self.0[i])
    }
}

/// Retransmissions per run by segment kind, indexed like [`KIND_ORDER`];
/// a JSON object from kind name to mean.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RetransmissionMeans(pub [f64; KIND_ORDER.len()]);

const OUTCOME_NAMES: [&str; Outcome::ALL.len()] = {
    let mut names = [""; Outcome::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Outcome::ALL[i].name();
        i += 1;
    }
    names
};

const KIND_NAMES: [&str; KIND_ORDER.len()] = {
    let mut names = [""; KIND_ORDER.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = KIND_ORDER[i].name();
        i += 1;
    }
    names
};

impl Serialize for Outcomes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_named(&OUTCOME_NAMES, &self.0, s)
    }
}

impl<'de> Deserialize<'de> for Outcomes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(Named::new(&OUTCOME_NAMES, "outcome"))
            .map(Outcomes)
    }
}

impl Serialize for RetransmissionMeans {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_named(&KIND_NAMES, &self.0, s)
    }
}

impl<'de> Deserialize<'de> for RetransmissionMeans {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(Named::new(&KIND_NAMES, "segment kind"))
            .map(RetransmissionMeans)
    }
}

/// `values[i]` under `names[i]`, as a map in that order.
fn serialize_named<S: Serializer, T: Serialize>(
    names: &[&str],
    values: &[T],
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(values.len()))?;
    for (name, value) in names.iter().zip(values) {
        map.serialize_entry(name, value)?;
    }
    map.end()
}

/// Reads a map with exactly the keys `names`, in any order, into an array
/// indexed like `names`.
struct Named<T, const N: usize> {
    names: &'static [&'static str; N],
    what: &'static str,
    value: PhantomData<T>,
}

impl<T, const N: usize> Named<T, N> {
    fn new(names: &'static [&'static str; N], what: &'static str) -> Self {
        Named {
            names,
            what,
            value: PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de> + Copy + Default, const N: usize> Visitor<'de> for Named<T, N> {
    type Value = [T; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a map with the keys {}", self.names.join(", "))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<[T; N], A::Error> {
        let mut seen = [false; N];
        let mut values = [T::default(); N];
        while let Some(key) = map.next_key::<String>()? {
            let Some(i) = self.names.iter().position(|n| *n == key) else {
                return Err(de::Error::custom(format!(
                    "unknown {} {key:?}, expected one of {}",
                    self.what,
                    self.names.join(", ")
                )));
            };
            if seen[i] {
                return Err(de::Error::duplicate_field(self.names[i]));
            }
            seen[i] = true;
            values[i] = map.next_value()?;
        }
        if let Some(i) = seen.iter().position(|s| !s) {
            return Err(de::Error::missing_field(self.names[i]));
        }
        Ok(values)
    }
}

/// `(path, value)` pairs as a map in their order.
mod params {
    use std::fmt;

    use serde::de::{Deserializer, MapAccess, Visitor};
    use serde::ser::{SerializeMap, Serializer};

    pub(super) fn serialize<S: Serializer>(
        pairs: &[(String, String)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(pairs.len()))?;
        for (k, v) in pairs {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(String, String)>, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Vec<(String, String)>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from grid path to value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(pairs)
            }
        }
        d.deserialize_map(Pairs)
    }
}

// ----- building it -----

/// Nearest-rank percentile of sorted values: rank ⌈p·n/100⌉.
fn nearest_rank(sorted: &[u64], p: u64) -> u64 {
    let n = sorted.len() as u64;
    let rank = (p * n).div_ceil(100).max(1);
    sorted[(rank - 1) as usize]
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Statistics of one time over the runs where it exists.
fn stats(values: &mut [u64]) -> Option<Stats> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let sum: u128 = values.iter().map(|&v| u128::from(v)).sum();
    let mean = sum as f64 / values.len() as f64;
    Some(Stats {
        p50: ms(nearest_rank(values, 50)),
        p90: ms(nearest_rank(values, 90)),
        p99: ms(nearest_rank(values, 99)),
        max: ms(*values.last().unwrap_or(&0)),
        mean: mean / 1e6,
    })
}

/// What a sweep keeps of the runs of one grid point while it runs: the
/// counts and sums as they are, and of each connection only the times
/// the percentiles need (8 bytes each, when it got there), so a sweep of
/// 10^8 one-connection runs keeps about 1.6 GB, not a record per run.
///
/// Every part adds up in any order (integer sums, times sorted before
/// use, failures ordered by run index), so tallies of runs done by any
/// number of workers, merged, give what one pass in index order gives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    runs: u64,
    /// The connections of its runs.
    conns: u64,
    outcomes: [u64; Outcome::ALL.len()],
    established: Vec<u64>,
    closed: Vec<u64>,
    retransmissions: [u64; KIND_ORDER.len()],
    /// The failed runs: index, seed and the expectations that failed.
    failed: Vec<(u64, u64, Vec<String>)>,
}

impl Tally {
    /// Adds run `index` (with `seed`), whose connections gave `conns` and
    /// whose failed expectations are `failed`.
    pub fn add(&mut self, index: u64, seed: u64, conns: &[ConnSample], failed: Vec<String>) {
        self.runs += 1;
        self.conns += conns.len() as u64;
        for c in conns {
            if let Some(i) = Outcome::ALL.iter().position(|o| *o == c.outcome) {
                self.outcomes[i] += 1;
            }
            self.established.extend(c.established_ns);
            self.closed.extend(c.closed_ns);
            for (sum, n) in self.retransmissions.iter_mut().zip(c.retransmissions) {
                *sum += u64::from(n);
            }
        }
        if !failed.is_empty() {
            self.failed.push((index, seed, failed));
        }
    }

    /// How many runs it holds.
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// How many connections its runs had.
    pub fn connections(&self) -> u64 {
        self.conns
    }

    /// The establishment times it holds (ns, in no particular order).
    pub fn established_ns(&self) -> &[u64] {
        &self.established
    }

    /// The teardown times it holds (ns, in no particular order).
    pub fn closed_ns(&self) -> &[u64] {
        &self.closed
    }

    /// Whether a run failed an expectation.
    pub fn any_failed(&self) -> bool {
        !self.failed.is_empty()
    }

    /// Adds the runs `other` holds.
    pub fn merge(&mut self, mut other: Tally) {
        self.runs += other.runs;
        self.conns += other.conns;
        for (a, b) in self.outcomes.iter_mut().zip(other.outcomes) {
            *a += b;
        }
        self.established.append(&mut other.established);
        self.closed.append(&mut other.closed);
        for (a, b) in self.retransmissions.iter_mut().zip(other.retransmissions) {
            *a += b;
        }
        self.failed.append(&mut other.failed);
    }

    /// The point's aggregate: `params` are its grid values, `file` and
    /// `sets` what a failure's replay command names.
    pub fn finish(
        mut self,
        params: &[(String, String)],
        file: &str,
        sets: &[(String, String)],
    ) -> PointAggregate {
        self.failed.sort_unstable_by_key(|(index, ..)| *index);
        let runs = self.runs;
        PointAggregate {
            params: params.to_vec(),
            runs,
            outcomes: Outcomes(self.outcomes),
            established_ms: stats(&mut self.established),
            closed_ms: stats(&mut self.closed),
            retransmissions: RetransmissionMeans(
                self.retransmissions.map(|total| total as f64 / runs as f64),
            ),
            failed_seeds: (self.failed.into_iter())
                .map(|(_, seed, failed)| FailedSeed {
                    seed,
                    failed,
                    replay: replay(file, seed, sets, params),
                })
                .collect(),
        }
    }
}

/// The aggregate of a sweep's runs (of `file`, with the sweep's `sets`).
pub fn aggregate(
    name: &str,
    file: &str,
    records: &[RunRecord],
    sets: &[(String, String)],
) -> Aggregate {
    aggregate_points(name, file, tally_records(records).into_iter(), sets)
}

/// A grid point's values and the tally of its runs.
pub type PointTally<'p> = (&'p [(String, String)], Tally);

/// The records of a sweep's runs, tallied by grid point (in point order),
/// each with its values (those of its first record).
pub fn tally_records(records: &[RunRecord]) -> Vec<PointTally<'_>> {
    let mut by_point: BTreeMap<usize, PointTally<'_>> = BTreeMap::new();
    for r in records {
        let (_, tally) = by_point
            .entry(r.point)
            .or_insert_with(|| (&r.params, Tally::default()));
        tally.add(r.index, r.seed, &r.conns, r.failed.clone());
    }
    by_point.into_values().collect()
}

/// The aggregate of the grid points `points` (values and tally, in point
/// order) of a sweep of `file` with `sets`.
pub fn aggregate_points<'p>(
    name: &str,
    file: &str,
    points: impl Iterator<Item = PointTally<'p>>,
    sets: &[(String, String)],
) -> Aggregate {
    let points: Vec<PointAggregate> = points
        .map(|(params, tally)| tally.finish(params, file, sets))
        .collect();
    Aggregate {
        experiment: name.to_owned(),
        schema: crate::report::SCHEMA,
        runs: points.iter().map(|p| p.runs).sum(),
        points,
    }
}

// ----- text and CSV -----

/// A grid point's values as `PATH=VALUE` strings, in grid order.
fn params_of(point: &PointAggregate) -> Vec<String> {
    point
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// The aggregate as a text table.
pub fn text(agg: &Aggregate) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# sweep of {}: {} runs\n",
        agg.experiment, agg.runs
    ));
    for p in &agg.points {
        let params = params_of(p);
        let label = if params.is_empty() {
            "(no grid)".to_string()
        } else {
            params.join(" ")
        };
        out.push_str(&format!("\n{label}: {} runs\n", p.runs));
        let outcomes: Vec<String> = OUTCOME_NAMES
            .iter()
            .zip(p.outcomes.0)
            .filter(|(_, n)| *n != 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        out.push_str(&format!("  outcomes: {}\n", outcomes.join(", ")));
        out.push_str("  ms            p50       p90       p99       max      mean\n");
        for (label, s) in [("established", &p.established_ms), ("closed", &p.closed_ms)] {
            let cell = |pick: fn(&Stats) -> f64| {
                s.as_ref()
                    .map_or("-".to_string(), |s| format!("{:.3}", pick(s)))
            };
            out.push_str(&format!(
                "  {label:<11} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
                cell(|s| s.p50),
                cell(|s| s.p90),
                cell(|s| s.p99),
                cell(|s| s.max),
                cell(|s| s.mean),
            ));
        }
        let rtx: Vec<String> = KIND_NAMES
            .iter()
            .zip(p.retransmissions.0)
            .map(|(k, v)| format!("{k} {v:.3}"))
            .collect();
        out.push_str(&format!("  retransmissions per run: {}\n", rtx.join(", ")));
        let failed = p.failed_seeds.len();
        if failed > 0 {
            out.push_str(&format!("  {failed} runs failed expectations:\n"));
            for f in p.failed_seeds.iter().take(20) {
                out.push_str(&format!(
                    "    seed {}: {}\n      {}\n",
                    f.seed,
                    f.failed.join(", "),
                    f.replay
                ));
            }
        }
    }
    out
}

/// The grid paths of `points`' values, in grid order: the CSV's
/// parameter columns (every point of one sweep has the same paths; a path
/// only some points have comes after, where it first appears).
fn grid_paths<'a>(points: impl Iterator<Item = &'a [(String, String)]>) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for params in points {
        for (path, _) in params {
            if !paths.contains(path) {
                paths.push(path.clone());
            }
        }
    }
    paths
}

/// The value of `path` among `params`, as the user wrote it in the grid
/// (empty if the point has none): a string's text without TOML's quotes
/// (`10ms`, `a, "b"`), any other value as TOML writes it (`0.2`, `80`,
/// `true`, `[1, 2]`). The CSV writer quotes what needs it.
fn value_of(params: &[(String, String)], path: &str) -> String {
    let Some((_, shown)) = params.iter().find(|(p, _)| p == path) else {
        return String::new();
    };
    // `shown` is a TOML value (as a `--set` takes it); a string is read
    // back for its text.
    match toml::from_str::<toml::Table>(&format!("v = {shown}")) {
        Ok(t) => match t.get("v") {
            Some(toml::Value::String(text)) => text.clone(),
            _ => shown.clone(),
        },
        Err(_) => shown.clone(),
    }
}

/// A time the aggregate holds in milliseconds, as whole nanoseconds. The
/// percentiles are nanosecond counts divided by 10^6, so this gives back
/// the exact count (the two roundings stay far below half a nanosecond for
/// any time under 2^51 ns, 26 days); a mean is rounded to the nearest
/// nanosecond.
fn ns_of(ms: f64) -> u64 {
    (ms * 1e6).round() as u64
}

/// A mean per run (retransmissions) with 6 decimals: `0.666667`, `1.000000`.
fn fixed(x: f64) -> String {
    format!("{x:.6}")
}

/// The aggregate as CSV (RFC 4180, written by the `csv` crate): a header,
/// then one row per grid point. Columns:
///
/// - one per grid path, named by the path (`links.0.delay`), holding the
///   value as written in the file (`10ms`);
/// - `runs`; `connections` (over every run of the point), then
///   `connections_closed`, `connections_refused`, ... (by outcome);
/// - `established_p50_ns`, `_p90_ns`, `_p99_ns`, `_max_ns`, `_mean_ns`,
///   and the same for `closed_`: whole nanoseconds from connect (the mean
///   rounded to the nearest); empty when no connection got there;
/// - `rtx_per_run_SYN`, ... `rtx_per_run_RST`: retransmissions per run by
///   segment kind, with 6 decimals;
/// - `failed_runs`: runs that failed an expectation.
pub fn csv(agg: &Aggregate) -> Result<String, String> {
    let paths = grid_paths(agg.points.iter().map(|p| p.params.as_slice()));
    let mut header: Vec<String> = paths.clone();
    header.push("runs".into());
    header.push("connections".into());
    header.extend(OUTCOME_NAMES.iter().map(|o| format!("connections_{o}")));
    for key in ["established", "closed"] {
        header.extend(STATS_FIELDS.iter().map(|s| format!("{key}_{s}_ns")));
    }
    header.extend(KIND_NAMES.iter().map(|k| format!("rtx_per_run_{k}")));
    header.push("failed_runs".into());
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let mut rows = || -> Result<(), ::csv::Error> {
        w.write_record(&header)?;
        for p in &agg.points {
            let mut row: Vec<String> = (paths.iter())
                .map(|path| value_of(&p.params, path))
                .collect();
            row.push(p.runs.to_string());
            row.push(p.outcomes.0.iter().sum::<u64>().to_string());
            row.extend(p.outcomes.0.iter().map(u64::to_string));
            for s in [&p.established_ms, &p.closed_ms] {
                match s {
                    Some(s) => row.extend(s.fields().map(|(_, x)| ns_of(x).to_string())),
                    None => row.extend(STATS_FIELDS.map(|_| String::new())),
                }
            }
            row.extend(p.retransmissions.0.map(fixed));
            row.push(p.failed_seeds.len().to_string());
            w.write_record(&row)?;
        }
        Ok(())
    };
    rows().map_err(|e| format!("cannot write the CSV: {e}"))?;
    let bytes = w
        .into_inner()
        .map_err(|e| format!("cannot write the CSV: {e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("cannot write the CSV: {e}"))
}

// ----- one row per connection of each run (`--per-run`) -----

/// Writes `sweep --per-run`'s CSV (RFC 4180, by the `csv` crate) to an
/// output, a row at a time as the runs come (in index order): one row per
/// connection of each run, so one per run for an experiment with one
/// connection. Columns:
///
/// - `run` (the run's index in the sweep), `seed`;
/// - one per grid path, named by the path, holding the point's value as
///   written in the file;
/// - `connection` (its position in the run, from 0), `outcome` (`closed`,
///   `refused`, `timeout`, `reset`, `incomplete`);
/// - `established_ns`, `closed_ns`: whole nanoseconds from connect to
///   ESTABLISHED and to the end of a clean close, empty if it never got
///   there;
/// - `rtx_SYN`, ... `rtx_RST`: the connection's retransmissions by kind;
/// - `passed` (`true` or `false`: did the run meet every expectation) and
///   `failed` (the names of the expectations it failed, separated by
///   spaces; empty if none).
///
/// A run with no connection is one row with the connection's columns
/// empty.
pub struct RunRows<W: std::io::Write> {
    out: ::csv::Writer<W>,
    paths: Vec<String>,
    /// The grid values of the last point written, as the cells show them
    /// (runs go point by point, so each point's values are read once).
    values: Option<(usize, Vec<String>)>,
}

impl<W: std::io::Write> RunRows<W> {
    /// Writes the header of a sweep whose grid paths are those of
    /// `params` (a point's values, in grid order).
    pub fn new(out: W, params: &[(String, String)]) -> std::io::Result<RunRows<W>> {
        let paths: Vec<String> = params.iter().map(|(p, _)| p.clone()).collect();
        let mut header: Vec<String> = vec!["run".into(), "seed".into()];
        header.extend(paths.iter().cloned());
        for c in ["connection", "outcome", "established_ns", "closed_ns"] {
            header.push(c.into());
        }
        header.extend(KIND_NAMES.iter().map(|k| format!("rtx_{k}")));
        header.push("passed".into());
        header.push("failed".into());
        let mut out = ::csv::Writer::from_writer(out);
        out.write_record(&header).map_err(io_error)?;
        Ok(RunRows {
            out,
            paths,
            values: None,
        })
    }

    /// Writes the rows of `record`.
    pub fn write(&mut self, record: &RunRecord) -> std::io::Result<()> {
        self.rows(record).map_err(io_error)
    }

    fn rows(&mut self, record: &RunRecord) -> Result<(), ::csv::Error> {
        if self.values.as_ref().is_none_or(|(p, _)| *p != record.point) {
            let values = (self.paths.iter())
                .map(|path| value_of(&record.params, path))
                .collect();
            self.values = Some((record.point, values));
        }
        let values = self.values.as_ref().map_or(&[][..], |(_, v)| v.as_slice());
        let mut head: Vec<String> = vec![record.index.to_string(), record.seed.to_string()];
        head.extend(values.iter().cloned());
        let tail = [
            record.failed.is_empty().to_string(),
            record.failed.join(" "),
        ];
        let empty = 4 + KIND_NAMES.len();
        if record.conns.is_empty() {
            let row = (head.iter().cloned())
                .chain(std::iter::repeat_n(String::new(), empty))
                .chain(tail.iter().cloned());
            return self.out.write_record(row);
        }
        let time = |t: Option<u64>| t.map_or(String::new(), |t| t.to_string());
        for (i, c) in record.conns.iter().enumerate() {
            let row = (head.iter().cloned())
                .chain([
                    i.to_string(),
                    c.outcome.name().to_string(),
                    time(c.established_ns),
                    time(c.closed_ns),
                ])
                .chain(c.retransmissions.iter().map(u32::to_string))
                .chain(tail.iter().cloned());
            self.out.write_record(row)?;
        }
        Ok(())
    }

    /// Writes what is buffered; the output back.
    pub fn finish(self) -> std::io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

/// The output's error that the CSV writer met (a closed pipe stays one),
/// or the writer's own.
fn io_error(e: ::csv::Error) -> std::io::Error {
    if !e.is_io_error() {
        return std::io::Error::other(e.to_string());
    }
    match e.into_kind() {
        ::csv::ErrorKind::Io(e) => e,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        // n = 10: p50 → rank 5, p90 → rank 9, p99 → rank ⌈9.9⌉ = 10.
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(nearest_rank(&v, 50), 5);
        assert_eq!(nearest_rank(&v, 90), 9);
        assert_eq!(nearest_rank(&v, 99), 10);
        // n = 1: every percentile is the one value.
        assert_eq!(nearest_rank(&[7], 50), 7);
        assert_eq!(nearest_rank(&[7], 99), 7);
    }

    #[test]
    fn stats_field_names_are_the_serialized_ones() {
        let s = Stats {
            p50: 1.0,
            p90: 2.0,
            p99: 3.0,
            max: 4.0,
            mean: 5.0,
        };
        let v = serde_json::to_value(s).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, STATS_FIELDS);
        assert_eq!(s.fields().map(|(k, _)| k), STATS_FIELDS);
    }
}

//! The aggregate of a sweep (tcpsim SPEC §4's sweep JSON) as a type:
//! [`aggregate`] builds it from the runs, and the JSON (its `serde`
//! form), the text table ([`text`]) and the CSV ([`csv`]) are all written
//! from it.
//!
//! The JSON is what `serde_json` writes for these types, field by field in
//! declaration order: maps keep a fixed order (grid paths in grid order,
//! outcomes in [`Outcome::ALL`] order, kinds in [`KIND_ORDER`]), and times
//! and means are `f64`, written in their shortest round-trip form (`40.0`,
//! `1161.32`). The CSV writes numbers the same way. Reading one back is
//! strict: an unknown or missing key is an error.

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

/// A number as the JSON writes it: the shortest form that reads back the
/// same, always with a fraction or an exponent (`40.0`, `1161.32`).
fn json_number(x: f64) -> String {
    serde_json::Value::from(x).to_string()
}

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

/// The aggregate as CSV: one row per grid point.
pub fn csv(agg: &Aggregate) -> String {
    let mut out = String::from("params,runs");
    for name in OUTCOME_NAMES {
        out.push_str(&format!(",{name}"));
    }
    for key in ["established_ms", "closed_ms"] {
        for s in STATS_FIELDS {
            out.push_str(&format!(",{key}_{s}"));
        }
    }
    for name in KIND_NAMES {
        out.push_str(&format!(",rtx_{name}"));
    }
    out.push_str(",failed_runs\n");
    for p in &agg.points {
        let params = params_of(p);
        out.push_str(&format!("\"{}\",{}", params.join(" "), p.runs));
        for n in p.outcomes.0 {
            out.push_str(&format!(",{n}"));
        }
        for s in [&p.established_ms, &p.closed_ms] {
            match s {
                Some(s) => {
                    for (_, x) in s.fields() {
                        out.push_str(&format!(",{}", json_number(x)));
                    }
                }
                None => out.push_str(&",".repeat(STATS_FIELDS.len())),
            }
        }
        for x in p.retransmissions.0 {
            out.push_str(&format!(",{}", json_number(x)));
        }
        out.push_str(&format!(",{}\n", p.failed_seeds.len()));
    }
    out
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

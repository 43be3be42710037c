//! Sweeps: many seeds × the `[sweep]` grid, in parallel, aggregated into
//! distributions of connect and close times (tcpsim SPEC §2, §4).
//!
//! Run `i` of a sweep is grid point `i / seeds` with seed `first + i % seeds`
//! (points in file order, the first grid path varying slowest). Workers take
//! runs in any order, but results are stored by index and aggregated in
//! index order, so the output is the same whatever `--jobs` is. A shard
//! (`--shard K/N`, K counted from 0) runs the indices `i` with `i % N == K`
//! and writes one JSON line per run, a [`Line`], which carries the sweep's
//! identity ([`SweepId`]), K, N and the run count; [`merge::merge`] reads
//! such lines back, refuses any set that is not one whole sweep, and the
//! runs are aggregated with the same code, so `merge` gives exactly what
//! one unsharded sweep gives.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tcpsim_net::{Blueprint, Outcome, Sim};

use crate::build::{Keep, blueprint};
use crate::evaluate::{evaluate, passes};
use crate::experiment::{ConfigError, Experiment, SeedRange};
use crate::timeline::KIND_ORDER;

mod aggregate;
mod line;
pub mod merge;
pub mod shard;

pub use aggregate::{
    Aggregate, FailedSeed, Outcomes, PointAggregate, PointTally, RetransmissionMeans, RunRows,
    Stats, Tally, aggregate, aggregate_points, csv, tally_records, text,
};
pub use line::{Difference, Line, Seeds, SweepId, digest, from_line};

/// What one connection of one run contributes to a sweep; in a shard line,
/// an entry of `connections`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnSample {
    /// How it ended, by name (`closed`, `refused`, ...).
    #[serde(with = "outcome_name")]
    pub outcome: Outcome,
    /// Nanoseconds from connect to ESTABLISHED (client), if reached
    /// (`null` if not).
    pub established_ns: Option<u64>,
    /// Nanoseconds from connect to the end of a clean close, if any
    /// (`null` if not).
    pub closed_ns: Option<u64>,
    /// Retransmissions by kind, in [`KIND_ORDER`]; a JSON array.
    pub retransmissions: [u32; KIND_ORDER.len()],
}

/// One run of a sweep; in a shard line, the fields after the sweep's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// Position in the sweep.
    pub index: u64,
    /// Grid point.
    pub point: usize,
    /// The point's values, as `--set` arguments (path, value); a JSON array
    /// of `[path, value]` pairs.
    pub params: Vec<(String, String)>,
    /// The seed.
    pub seed: u64,
    /// One sample per connection, in experiment order.
    #[serde(rename = "connections")]
    pub conns: Vec<ConnSample>,
    /// Names of the expectations that failed.
    pub failed: Vec<String>,
}

/// [`Outcome`] by its report name: `tcpsim_net` has no serde, so the
/// conversion is written here, with [`Outcome::name`] and
/// [`Outcome::from_name`].
mod outcome_name {
    use serde::de::{Deserialize, Deserializer, Error};
    use serde::ser::Serializer;
    use tcpsim_net::Outcome;

    pub(super) fn serialize<S: Serializer>(o: &Outcome, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(o.name())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Outcome, D::Error> {
        let name = String::deserialize(d)?;
        Outcome::from_name(&name).ok_or_else(|| {
            let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.name()).collect();
            D::Error::custom(format!(
                "unknown outcome {name:?}, expected one of {}",
                names.join(", ")
            ))
        })
    }
}

/// A sweep to run.
pub struct Plan {
    /// Experiment name (for reports).
    pub name: String,
    /// Seeds.
    pub seeds: SeedRange,
    /// One parsed experiment per grid point, with its `--set` values.
    pub points: Vec<(Vec<(String, String)>, Experiment)>,
    /// The identity its shard lines carry.
    identity: SweepId,
}

impl Plan {
    /// Total number of runs.
    pub fn runs(&self) -> u64 {
        (self.points.len() as u128 * self.seeds.len()).min(u128::from(u64::MAX)) as u64
    }

    /// Builds the plan: the file parsed once, and each grid point's
    /// experiment made from that parse
    /// ([`parse_points`](crate::experiment::parse_points)).
    pub fn new(
        source: &str,
        file: &str,
        sets: &[(String, String)],
        seeds: Option<SeedRange>,
    ) -> Result<Plan, ConfigError> {
        let points = crate::experiment::parse_points(source, file, sets)?;
        let base = &points[0].1;
        let seeds = seeds
            .or_else(|| base.sweep.as_ref().map(|s| s.seeds))
            .unwrap_or(SeedRange::single(base.seed));
        let name = base.name.clone();
        let identity = SweepId::new(
            &base.name,
            source.as_bytes(),
            sets,
            seeds.into(),
            points.len() as u64,
        );
        Ok(Plan {
            name,
            seeds,
            points,
            identity,
        })
    }

    /// The sweep's identity, as its shard lines carry it: the experiment's
    /// name, the digest of `source` (the file's text), the `--set`s, the
    /// seeds, the grid's point count and the run count.
    pub fn identity(&self) -> &SweepId {
        &self.identity
    }

    /// Runs run `index`.
    pub fn run_one(&self, index: u64) -> Result<RunRecord, String> {
        self.run_one_in(index, &mut Worker::default())
    }

    /// Runs run `index` with what `worker` kept from its previous run.
    fn run_one_in(&self, index: u64, scratch: &mut Worker) -> Result<RunRecord, String> {
        let s = self.sample_in(index, scratch)?;
        Ok(RunRecord {
            index,
            point: s.point,
            params: self.points[s.point].0.clone(),
            seed: s.seed,
            conns: s.conns,
            failed: s.failed,
        })
    }

    /// What run `index` gives, without its point's values.
    fn sample_in(&self, index: u64, worker: &mut Worker) -> Result<Sample, String> {
        let per = self.seeds.len() as u64;
        let point = (index / per) as usize;
        let seed = self.seeds.first() + index % per;
        let exp = &self.points[point].1;
        let _run = tracing::debug_span!("run", point, seed).entered();
        if worker.blueprint.as_ref().is_none_or(|(p, _)| *p != point) {
            // Made when a worker first reaches the point (runs go point by
            // point), and dropped when it moves on: a sweep holds one
            // simulation plan per worker, not one per grid point.
            let b = blueprint(exp, Keep::for_expectations(exp)).map_err(|e| e.to_string());
            worker.blueprint = Some((point, b));
        }
        let Some((_, b)) = &worker.blueprint else {
            unreachable!("set just above")
        };
        let r = b
            .as_ref()
            .map_err(Clone::clone)?
            .rerun(&mut worker.sim, seed);
        let failed = if passes(exp, &r) {
            Vec::new()
        } else {
            evaluate(exp, &r)
                .into_iter()
                .filter(|c| !c.passed)
                .map(|c| c.name)
                .collect()
        };
        let conns = r
            .connections
            .iter()
            .map(|c| {
                let rtx = c.retransmissions();
                ConnSample {
                    outcome: c.outcome,
                    established_ns: c.client.established.map(|t| (t - c.opened).as_nanos()),
                    closed_ns: c.closed.map(|t| (t - c.opened).as_nanos()),
                    retransmissions: KIND_ORDER.map(|k| rtx.get(k)),
                }
            })
            .collect();
        Ok(Sample {
            point,
            seed,
            conns,
            failed,
        })
    }

    /// Runs the given indices on `jobs` threads (see [`workers`]); results
    /// in index order.
    pub fn run_indices(&self, indices: &[u64], jobs: usize) -> Result<Vec<RunRecord>, String> {
        let progress = progress_bar(indices.len() as u64);
        let records = self.run_indices_with(indices, jobs, &progress);
        progress.finish_and_clear();
        records
    }

    /// [`Plan::run_indices`], counting the runs on `progress`.
    fn run_indices_with(
        &self,
        indices: &[u64],
        jobs: usize,
        progress: &indicatif::ProgressBar,
    ) -> Result<Vec<RunRecord>, String> {
        let results = map_in_order(indices.len() as u64, jobs, progress, |pos, scratch| {
            self.run_one_in(indices[pos as usize], scratch)
        });
        let mut out = Vec::with_capacity(indices.len());
        for r in results {
            out.push(r?);
        }
        if out.len() != indices.len() {
            return Err("a run was not done".into());
        }
        Ok(out)
    }

    /// Runs every run of the sweep on `jobs` threads and tallies them by
    /// grid point as they finish, keeping no record per run (see
    /// [`Tally`]), in point order, each with its values. The aggregate
    /// ([`aggregate_points`]) and `--plot` are drawn from it: byte for byte
    /// what [`aggregate`] gives for [`Plan::run_indices`] of every index, in
    /// far less memory. The first failing run (by index) is the error.
    pub fn tally_all(&self, jobs: usize) -> Result<Vec<PointTally<'_>>, String> {
        type State = (BTreeMap<usize, Tally>, Option<(u64, String)>);
        let total = self.runs();
        let progress = progress_bar(total);
        let states = drive(
            total,
            jobs,
            &progress,
            State::default,
            |(tallies, error): &mut State, start, end, scratch: &mut Worker| {
                for index in start..end {
                    match self.sample_in(index, scratch) {
                        Ok(s) => tallies
                            .entry(s.point)
                            .or_default()
                            .add(index, s.seed, &s.conns, s.failed),
                        Err(e) => {
                            if error.as_ref().is_none_or(|(i, _)| index < *i) {
                                *error = Some((index, e));
                            }
                        }
                    }
                }
            },
        );
        let mut all: BTreeMap<usize, Tally> = BTreeMap::new();
        let mut first_error: Option<(u64, String)> = None;
        for (tallies, error) in states {
            for (point, t) in tallies {
                all.entry(point).or_default().merge(t);
            }
            if let Some((i, e)) = error {
                if first_error.as_ref().is_none_or(|(j, _)| i < *j) {
                    first_error = Some((i, e));
                }
            }
        }
        progress.finish_and_clear();
        if let Some((_, e)) = first_error {
            return Err(e);
        }
        Ok(self.point_tallies(all))
    }

    /// Tallies by point index as [`PointTally`]s, each with its point's
    /// values, in point order.
    pub fn point_tallies(&self, tallies: BTreeMap<usize, Tally>) -> Vec<PointTally<'_>> {
        (tallies.into_iter())
            .map(|(point, t)| (self.points[point].0.as_slice(), t))
            .collect()
    }

    /// Runs every run of the sweep on `jobs` threads and hands each record
    /// to `emit` in index order, whatever `jobs` is: the runs are done
    /// [`EMIT_CHUNK`] consecutive indices at a time (by [`Plan::run_indices`],
    /// whose results come back in index order) and emitted before the next
    /// chunk starts, so it holds the records of one chunk, not of the
    /// sweep. It stops at the first run that fails (by index) or the first
    /// error of `emit`.
    pub fn for_each_run<E>(
        &self,
        jobs: usize,
        mut emit: impl FnMut(RunRecord) -> Result<(), E>,
    ) -> Result<(), Stopped<E>> {
        let total = self.runs();
        let progress = progress_bar(total);
        let mut first = 0;
        let done = loop {
            if first >= total {
                break Ok(());
            }
            let end = first.saturating_add(EMIT_CHUNK).min(total);
            let indices: Vec<u64> = (first..end).collect();
            first = end;
            let records = match self.run_indices_with(&indices, jobs, &progress) {
                Ok(r) => r,
                Err(e) => break Err(Stopped::Run(e)),
            };
            if let Err(e) = records.into_iter().try_for_each(&mut emit) {
                break Err(Stopped::Emit(e));
            }
        };
        progress.finish_and_clear();
        done
    }
}

/// Runs positions `0..total` on `jobs` threads (see [`workers`]): each
/// worker starts from `init()` and a default scratch `W` (what it keeps
/// between runs: its simulation), and hands `step` its state, a batch of
/// positions `start..end` and its scratch. The states come back in no
/// particular order. What `sweep` and `explore` run their runs with.
///
/// Workers claim runs in batches of `BATCH` (64) consecutive positions
/// and keep what they make to themselves until the end, so they share
/// one counter touched once per batch and nothing else: with runs of a
/// few microseconds, a lock or counter per run would cost more than
/// the run.
pub(crate) fn drive<S: Send, W: Default>(
    total: u64,
    jobs: usize,
    progress: &indicatif::ProgressBar,
    init: impl Fn() -> S + Sync,
    step: impl Fn(&mut S, u64, u64, &mut W) + Sync,
) -> Vec<S> {
    let next = AtomicU64::new(0);
    let states: Mutex<Vec<S>> = Mutex::new(Vec::new());
    let batches = usize::try_from(total.div_ceil(BATCH)).unwrap_or(usize::MAX);
    let workers = workers(jobs, batches);
    std::thread::scope(|s| {
        let work = || {
            let mut mine = init();
            let mut scratch = W::default();
            loop {
                let start = next.fetch_add(BATCH, Ordering::Relaxed);
                if start >= total {
                    break;
                }
                let end = (start + BATCH).min(total);
                step(&mut mine, start, end, &mut scratch);
                progress.inc(end - start);
            }
            if let Ok(mut all) = states.lock() {
                all.push(mine);
            }
        };
        // A thread the system refuses (a process limit) leaves its
        // share to the others; with none, this thread does it all.
        let mut spawned = 0;
        for _ in 0..workers {
            if std::thread::Builder::new().spawn_scoped(s, work).is_err() {
                break;
            }
            spawned += 1;
        }
        if spawned == 0 {
            work();
        }
    });
    states.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// `f` of every position `0..total`, run on `jobs` threads by [`drive`]
/// (each worker with its own scratch `W`), in position order whatever
/// `jobs` is.
pub(crate) fn map_in_order<T: Send, W: Default>(
    total: u64,
    jobs: usize,
    progress: &indicatif::ProgressBar,
    f: impl Fn(u64, &mut W) -> T + Sync,
) -> Vec<T> {
    let states = drive(
        total,
        jobs,
        progress,
        Vec::new,
        |mine: &mut Vec<(u64, Vec<T>)>, start, end, scratch: &mut W| {
            mine.push((start, (start..end).map(|i| f(i, scratch)).collect()));
        },
    );
    let mut batches: Vec<(u64, Vec<T>)> = states.into_iter().flatten().collect();
    batches.sort_unstable_by_key(|(start, _)| *start);
    batches.into_iter().flat_map(|(_, items)| items).collect()
}

/// What a sweep worker keeps from one run to the next: its simulation,
/// whose memory the next run reuses ([`Blueprint::rerun`]), and the plan
/// of the grid point it is on.
#[derive(Default)]
struct Worker {
    sim: Option<Sim>,
    blueprint: Option<(usize, Result<Blueprint, String>)>,
}

/// What one run gives, before its point's values are attached.
struct Sample {
    point: usize,
    seed: u64,
    conns: Vec<ConnSample>,
    failed: Vec<String>,
}

/// The progress of `total` runs on standard error when it is a terminal
/// (runs done, the rate and the time left, redrawn at most 10 times a
/// second; cleared at the end), else a hidden bar whose `inc` does
/// nothing visible. It reads the wall clock for the rate, and writes only
/// to standard error, so no output depends on it.
pub(crate) fn progress_bar(total: u64) -> indicatif::ProgressBar {
    if total < 2 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr_with_hz(10),
    );
    let style = indicatif::ProgressStyle::with_template(
        "{bar:40} {human_pos}/{human_len} runs  {per_sec}  ETA {eta}",
    );
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar
}

/// How many consecutive runs a sweep worker claims at a time.
const BATCH: u64 = 64;

/// How many consecutive runs [`Plan::for_each_run`] does before it emits
/// them: 65 536 records of about 300 bytes (one connection each), 20 MB.
pub const EMIT_CHUNK: u64 = 1 << 16;

/// Why [`Plan::for_each_run`] stopped before the end.
#[derive(Debug)]
pub enum Stopped<E> {
    /// A run failed (a grid point whose plan cannot be built): the first by
    /// index.
    Run(String),
    /// The error `emit` gave.
    Emit(E),
}

/// The command that replays one run, quoted for a shell.
pub use crate::shell::replay;

/// How many worker threads `jobs` gives for `batches` batches of runs: at
/// least one, and no more than there are batches to share or than the
/// machine runs at once (`std::thread::available_parallelism`), so a huge
/// `--jobs` starts no idle threads.
pub fn workers(jobs: usize, batches: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    jobs.min(batches).min(cores).max(1)
}

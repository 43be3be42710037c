//! Fault-space exploration: every set of up to K dropped segments of an
//! experiment, run and checked (tcpsim SPEC §8, `tcpsim explore`).
//!
//! # The case space
//!
//! A *drop* is named (direction, n): the n-th segment (1-based, of the
//! chosen kinds) that enters one direction of one link, retransmissions
//! included. A *case* is a set D of at most K drops such that in the run
//! with D every drop in D happens. The space is enumerated from the runs
//! themselves, never from a guessed bound:
//!
//! - every direction gets one *watched* fault rule ([`Faults::watch`](tcpsim_net::fault::Faults::watch)),
//!   appended after the file's own rules, which logs each segment it
//!   matches with its count and who decided its fate;
//! - the run of a case D says which segments exist beyond D: its children
//!   are D ∪ {d} for every segment d that the run sends after D's last drop
//!   (in the order things happen) and that no rule decided (a segment the
//!   file's own rules drop or delay is not explore's to drop).
//!
//! Each case is made exactly once: a case's last drop splits it into a
//! parent (the case without it, whose run is the same up to that moment, so
//! it is a case) and a segment of the parent's run after the parent's last
//! drop; no other parent gives it. And every child is a case: its run is its
//! parent's up to the new drop. So growing level by level from ∅ runs the
//! whole space, each case once. [`explore`] checks the second claim on
//! every run (each drop in the case must be logged as made by its rule);
//! a failure would be a nondeterministic run and is reported as an
//! internal error.
//!
//! # Minimal failures
//!
//! A failing case is minimal when no proper subset of it (that is a case)
//! fails. Subsets are smaller, so they are on earlier levels: a level's
//! failures are judged as soon as it has run, against the failing cases
//! kept so far.
//!
//! # Sampling
//!
//! [`Mode::Random`] walks N random paths from ∅, each step a child chosen
//! uniformly from the run's children, to K drops (or until a run has no
//! children), each walk on its own stream (`explore/walk/I` under the
//! seed); the distinct end points are the sampled cases. A failing sample
//! is shrunk to its smallest failing subset that is a case (every subset
//! of it, smallest first; at most 2⁸ runs), which is minimal.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rand_core::RngCore;
use tcpsim_net::{
    Blueprint, Decider, FaultAction, FaultRule, HostId, Outcome, RunResult, Seen, Sim,
};
use tcpsim_tcp::{Instant, SegmentKind};

use crate::build::{Keep, blueprint};
use crate::evaluate::{evaluate, passes};
use crate::experiment::Experiment;
use crate::sweep::{map_in_order, progress_bar};

pub mod command;
mod output;

pub use output::{json, replay_faults, text};

/// The largest `--drops`.
pub const MAX_DROPS: usize = 8;

/// The default `--limit`: the most cases an exhaustive exploration runs.
pub const DEFAULT_LIMIT: u64 = 1_000_000;

/// The most walks `--random` makes: each distinct end point is kept (about
/// 100 bytes), so ten million stay near 1 GB.
pub const MAX_WALKS: u64 = 10_000_000;

/// What to explore.
#[derive(Clone, Debug)]
pub struct Options {
    /// K: the most drops in a case, 1 to [`MAX_DROPS`].
    pub drops: usize,
    /// The kinds that may be dropped (and that n counts); empty for every
    /// kind.
    pub segments: Vec<SegmentKind>,
    /// The seed of every run.
    pub seed: u64,
    /// Exhaustive, or sampled.
    pub mode: Mode,
    /// Worker threads; the result does not depend on it.
    pub jobs: usize,
}

/// How the space is covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every case, refusing a space of more than `limit` cases.
    Exhaustive {
        /// The most cases to run.
        limit: u64,
    },
    /// `walks` random cases, failures shrunk to minimal ones.
    Random {
        /// How many random walks.
        walks: u64,
    },
}

/// One direction of one link, where explore drops segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Direction {
    /// The sending host.
    pub from: HostId,
    /// The receiving host.
    pub to: HostId,
}

/// One drop of a case: the n-th segment of the chosen kinds entering a
/// direction, with what that segment was in the case's run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The direction, an index into [`Exploration::directions`].
    pub dir: u32,
    /// Which of the direction's segments (1-based).
    pub n: u32,
    /// Its kind.
    pub kind: SegmentKind,
    /// When it entered the link.
    pub at: Instant,
}

/// A failing case none of whose proper subsets fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minimal {
    /// Its drops, in the order they happen.
    pub drops: Vec<Dropped>,
    /// The expectations it breaks, by name.
    pub failed: Vec<String>,
    /// How its connections ended.
    pub outcome: String,
}

/// What an exploration found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exploration {
    /// The directions, in link order (`a → b`, then `b → a`).
    pub directions: Vec<Direction>,
    /// The segments of the fault-free run per direction (of the chosen
    /// kinds).
    pub fault_free: Vec<u32>,
    /// Cases run (exhaustive) or distinct cases sampled (random).
    pub cases: u64,
    /// Of them, how many met every expectation.
    pub passed: u64,
    /// And how many did not.
    pub failed: u64,
    /// Cases by outcome (`closed`, or `closed×2, reset×1` when the
    /// connections of a case end differently).
    pub outcomes: BTreeMap<String, u64>,
    /// Every minimal failing case (exhaustive), or the minimal failures the
    /// failing samples shrank to (random), smallest first, in the order
    /// they were found.
    pub minimal: Vec<Minimal>,
    /// Cases per number of drops (index 0: the fault-free run).
    pub by_size: Vec<u64>,
    /// With [`Mode::Random`]: the walks made, and the runs shrinking took.
    pub sampling: Option<Sampling>,
}

/// How a random exploration went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sampling {
    /// Random walks made.
    pub walks: u64,
    /// Runs made to shrink the failures.
    pub shrink_runs: u64,
}

/// Why an exploration did not finish.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExploreError {
    /// The space is larger than the limit.
    #[error(
        "the space has {} {cases} cases ({sizes}), more than --limit {limit}: raise --limit, \
         lower --drops, narrow --segments, or sample it with --random N",
        if *.exact { "exactly" } else { "at least" }
    )]
    TooLarge {
        /// How many cases it has (at least, unless `exact`).
        cases: u64,
        /// Whether `cases` is the whole space.
        exact: bool,
        /// The cases per number of drops counted so far.
        sizes: String,
        /// The limit.
        limit: u64,
    },
    /// The experiment cannot be built.
    #[error("{0}")]
    Build(String),
    /// A case's run did not make its drops: a nondeterministic run.
    #[error(
        "internal error: the run of a case did not drop what its parent's run said it would \
         ({0}); this is a bug in tcpsim"
    )]
    NotReproduced(String),
}

/// The experiment with its watched rules, ready to run any case.
struct Space<'e> {
    exp: &'e Experiment,
    blueprint: Blueprint,
    directions: Vec<Direction>,
    seed: u64,
    k: usize,
}

/// What one run of a case gives.
struct Ran {
    /// The expectations it broke; empty when it passed.
    failed: Vec<String>,
    /// Connections per outcome, in [`Outcome::ALL`] order.
    outcome: [u32; Outcome::ALL.len()],
    /// The watched rules' log.
    seen: Vec<Seen>,
}

/// A case to run: its drops in the order they happen, and the log position
/// of its last one.
#[derive(Clone, Debug)]
struct Node {
    drops: Box<[Dropped]>,
    last: Option<u32>,
}

/// A case's result as a level keeps it.
struct Done {
    /// Interned failed-expectation list; `None` when it passed.
    failed: Option<u32>,
    outcome: [u32; Outcome::ALL.len()],
    /// The children to run on the next level (when the level is not K and
    /// the level's children are within the limit).
    children: Vec<Node>,
    /// How many children it has.
    child_count: u64,
    /// For the empty case: its segments per direction.
    fault_free: Vec<u32>,
}

impl<'e> Space<'e> {
    fn new(exp: &'e Experiment, opts: &Options) -> Result<Space<'e>, ExploreError> {
        let mut blueprint = blueprint(exp, Keep::for_expectations(exp))
            .map_err(|e| ExploreError::Build(e.to_string()))?;
        let directions: Vec<Direction> = exp
            .links
            .iter()
            .flat_map(|l| {
                [
                    Direction { from: l.a, to: l.b },
                    Direction { from: l.b, to: l.a },
                ]
            })
            .collect();
        blueprint.watch(directions.iter().map(|d| FaultRule {
            action: FaultAction::Drop,
            from: Some(d.from),
            to: Some(d.to),
            kinds: opts.segments.clone(),
            nth: Some(Vec::new()),
            start: None,
            end: None,
        }));
        Ok(Space {
            exp,
            blueprint,
            directions,
            seed: opts.seed,
            k: opts.drops,
        })
    }

    /// Runs the case `drops` (named by direction and n only).
    fn run(&self, sim: &mut Option<Sim>, drops: &[Dropped]) -> Ran {
        let mut nth = vec![Vec::new(); self.directions.len()];
        for d in drops {
            nth[d.dir as usize].push(d.n);
        }
        for n in &mut nth {
            n.sort_unstable();
        }
        let (r, seen) = self.blueprint.rerun_watched(sim, self.seed, &nth);
        Ran {
            failed: self.failed(&r),
            outcome: outcome_counts(&r),
            seen,
        }
    }

    fn failed(&self, r: &RunResult) -> Vec<String> {
        if passes(self.exp, r) {
            return Vec::new();
        }
        evaluate(self.exp, r)
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect()
    }

    /// The segments of `ran` that a child of `node` may drop, with their
    /// log positions: logged after the node's last drop, and decided by no
    /// rule.
    fn droppable<'r>(node: &Node, ran: &'r Ran) -> impl Iterator<Item = (usize, &'r Seen)> + 'r {
        let from = node.last.map_or(0, |p| p as usize + 1);
        (ran.seen.iter().enumerate().skip(from)).filter(|(_, s)| s.by == Decider::Nobody)
    }

    /// The children of `node`, whose run is `ran`: one per
    /// [`Space::droppable`] segment.
    fn children<'r>(node: &'r Node, ran: &'r Ran) -> impl Iterator<Item = Node> + 'r {
        Space::droppable(node, ran).map(move |(pos, s)| {
            let mut drops = Vec::with_capacity(node.drops.len() + 1);
            drops.extend_from_slice(&node.drops);
            drops.push(Dropped {
                dir: s.rule,
                n: s.n,
                kind: s.kind,
                at: s.at,
            });
            Node {
                drops: drops.into(),
                last: Some(pos as u32),
            }
        })
    }
}

/// Whether every drop of `drops` was made in `ran` by its own rule.
fn reproduced(drops: &[Dropped], ran: &Ran) -> bool {
    let made = ran.seen.iter().filter(|s| s.by == Decider::This);
    made.count() == drops.len()
        && drops.iter().all(|d| {
            ran.seen
                .iter()
                .any(|s| s.by == Decider::This && s.rule == d.dir && s.n == d.n)
        })
}

fn outcome_counts(r: &RunResult) -> [u32; Outcome::ALL.len()] {
    let mut counts = [0u32; Outcome::ALL.len()];
    for c in &r.connections {
        if let Some(i) = Outcome::ALL.iter().position(|o| *o == c.outcome) {
            counts[i] += 1;
        }
    }
    counts
}

/// `closed` when every connection ended alike, else `closed×2, reset×1`
/// (outcomes in report order); `none` for a run without connections.
pub fn outcome_name(counts: &[u32; Outcome::ALL.len()]) -> String {
    let present: Vec<(Outcome, u32)> = (Outcome::ALL.iter().zip(counts))
        .filter(|(_, n)| **n > 0)
        .map(|(o, n)| (*o, *n))
        .collect();
    match present.as_slice() {
        [] => "none".to_string(),
        [(o, _)] => o.name().to_string(),
        many => {
            let parts: Vec<String> = many
                .iter()
                .map(|(o, n)| format!("{}×{n}", o.name()))
                .collect();
            parts.join(", ")
        }
    }
}

/// The case's name for subset checks: its (direction, n) pairs, sorted.
fn key(drops: &[Dropped]) -> Box<[(u32, u32)]> {
    let mut k: Vec<(u32, u32)> = drops.iter().map(|d| (d.dir, d.n)).collect();
    k.sort_unstable();
    k.into()
}

/// Lists of failed expectation names, each stored once.
#[derive(Default)]
struct Interner {
    ids: BTreeMap<Vec<String>, u32>,
    lists: Vec<Vec<String>>,
}

impl Interner {
    fn id(&mut self, list: Vec<String>) -> u32 {
        if let Some(id) = self.ids.get(&list) {
            return *id;
        }
        let id = self.lists.len() as u32;
        self.lists.push(list.clone());
        self.ids.insert(list, id);
        id
    }
}

/// Explores `exp` as `opts` says.
pub fn explore(exp: &Experiment, opts: &Options) -> Result<Exploration, ExploreError> {
    let space = Space::new(exp, opts)?;
    match opts.mode {
        Mode::Exhaustive { limit } => exhaustive(&space, opts.jobs, limit),
        Mode::Random { walks } => random(&space, opts.jobs, walks),
    }
}

/// What every exploration tallies as its cases are judged.
struct Tally {
    cases: u64,
    passed: u64,
    failed: u64,
    outcomes: BTreeMap<[u32; Outcome::ALL.len()], u64>,
    by_size: Vec<u64>,
}

impl Tally {
    fn new(k: usize) -> Tally {
        Tally {
            cases: 0,
            passed: 0,
            failed: 0,
            outcomes: BTreeMap::new(),
            by_size: vec![0; k + 1],
        }
    }

    fn add(&mut self, size: usize, passed: bool, outcome: [u32; Outcome::ALL.len()]) {
        self.cases += 1;
        if passed {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        *self.outcomes.entry(outcome).or_default() += 1;
        self.by_size[size] += 1;
    }

    fn outcomes(&self) -> BTreeMap<String, u64> {
        let mut named = BTreeMap::new();
        for (counts, n) in &self.outcomes {
            *named.entry(outcome_name(counts)).or_default() += n;
        }
        named
    }
}

fn sizes(by_size: &[u64]) -> String {
    let parts: Vec<String> = (by_size.iter().enumerate())
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} with {k} drop{}", if k == 1 { "" } else { "s" }))
        .collect();
    parts.join(", ")
}

/// The segments per direction in the fault-free run.
fn per_direction(space: &Space<'_>, seen: &[Seen]) -> Vec<u32> {
    let mut counts = vec![0u32; space.directions.len()];
    for s in seen {
        counts[s.rule as usize] += 1;
    }
    counts
}

/// Every case, level by level.
fn exhaustive(space: &Space<'_>, jobs: usize, limit: u64) -> Result<Exploration, ExploreError> {
    let mut tally = Tally::new(space.k);
    let mut failing: BTreeSet<Box<[(u32, u32)]>> = BTreeSet::new();
    let mut minimal = Vec::new();
    let interner = Mutex::new(Interner::default());
    let mut fault_free = Vec::new();
    let mut level = vec![Node {
        drops: Box::new([]),
        last: None,
    }];
    for size in 0..=space.k {
        let grows = size < space.k;
        // Children are kept only while the next level fits the limit; past
        // it they are counted, so the error can say how large the space is.
        let room = limit.saturating_sub(tally.cases + level.len() as u64);
        let kept = AtomicU64::new(0);
        let progress = progress_bar(level.len() as u64);
        let done = map_in_order(level.len() as u64, jobs, &progress, |i, sim| {
            let node = &level[i as usize];
            let ran = space.run(sim, &node.drops);
            if !reproduced(&node.drops, &ran) {
                return Err(describe(space, &node.drops));
            }
            let (children, child_count) = if grows {
                let count = Space::droppable(node, &ran).count() as u64;
                let total = kept.fetch_add(count, Ordering::Relaxed) + count;
                if total <= room {
                    (Space::children(node, &ran).collect(), count)
                } else {
                    (Vec::new(), count)
                }
            } else {
                (Vec::new(), 0)
            };
            let failed = (!ran.failed.is_empty()).then(|| {
                interner
                    .lock()
                    .map_or(0, |mut names| names.id(ran.failed.clone()))
            });
            Ok(Done {
                failed,
                outcome: ran.outcome,
                children,
                child_count,
                fault_free: if size == 0 {
                    per_direction(space, &ran.seen)
                } else {
                    Vec::new()
                },
            })
        });
        progress.finish_and_clear();
        let mut next = Vec::new();
        let mut next_count: u64 = 0;
        // Every worker is done: the lock is free.
        let names = interner.lock().unwrap_or_else(|e| e.into_inner());
        for (node, d) in level.iter().zip(done) {
            let d = d.map_err(ExploreError::NotReproduced)?;
            if size == 0 {
                fault_free = d.fault_free;
            }
            tally.add(size, d.failed.is_none(), d.outcome);
            if let Some(id) = d.failed {
                let k = key(&node.drops);
                if !has_failing_subset(&k, &failing) {
                    minimal.push(Minimal {
                        drops: node.drops.to_vec(),
                        failed: names.lists.get(id as usize).cloned().unwrap_or_default(),
                        outcome: outcome_name(&d.outcome),
                    });
                }
                failing.insert(k);
            }
            next_count += d.child_count;
            next.extend(d.children);
        }
        drop(names);
        if next_count == 0 {
            break;
        }
        if tally.cases + next_count > limit {
            let mut by_size = tally.by_size.clone();
            by_size[size + 1] = next_count;
            return Err(ExploreError::TooLarge {
                cases: tally.cases + next_count,
                exact: size + 1 == space.k,
                sizes: sizes(&by_size),
                limit,
            });
        }
        level = next;
    }
    Ok(Exploration {
        directions: space.directions.clone(),
        fault_free,
        cases: tally.cases,
        passed: tally.passed,
        failed: tally.failed,
        outcomes: tally.outcomes(),
        minimal,
        by_size: tally.by_size,
        sampling: None,
    })
}

/// Whether a proper subset of the case `k` is among `failing`.
fn has_failing_subset(k: &[(u32, u32)], failing: &BTreeSet<Box<[(u32, u32)]>>) -> bool {
    let all = (1u32 << k.len()) - 1;
    (0..all).any(|mask| {
        let sub: Box<[(u32, u32)]> = (k.iter().enumerate())
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, d)| *d)
            .collect();
        failing.contains(&sub)
    })
}

/// A case's drops, for a message.
fn describe(space: &Space<'_>, drops: &[Dropped]) -> String {
    let parts: Vec<String> = drops
        .iter()
        .map(|d| {
            let dir = space.directions[d.dir as usize];
            format!(
                "{}>{} #{}",
                space.exp.host_name(dir.from),
                space.exp.host_name(dir.to),
                d.n
            )
        })
        .collect();
    if parts.is_empty() {
        "no drop".into()
    } else {
        parts.join(", ")
    }
}

/// A uniform choice in `0..n` (n ≥ 1) from `rng`: the high word of a
/// 64 × 64-bit product, whose bias is below n / 2⁶⁴.
fn below(rng: &mut impl RngCore, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// `walks` random cases, failures shrunk.
fn random(space: &Space<'_>, jobs: usize, walks: u64) -> Result<Exploration, ExploreError> {
    // A walk's end: its drops, whether it failed, its outcome (not its
    // run's log, which would hold every segment of every walk).
    type Walk = Result<(Box<[Dropped]>, bool, [u32; Outcome::ALL.len()]), String>;
    let progress = progress_bar(walks);
    let walked = map_in_order(walks, jobs, &progress, |i, sim: &mut Option<Sim>| -> Walk {
        let mut rng = tcpsim_net::stream(space.seed, &format!("explore/walk/{i}"));
        let mut node = Node {
            drops: Box::new([]),
            last: None,
        };
        loop {
            let ran = space.run(sim, &node.drops);
            if !reproduced(&node.drops, &ran) {
                return Err(describe(space, &node.drops));
            }
            let count = Space::droppable(&node, &ran).count();
            if node.drops.len() == space.k || count == 0 {
                return Ok((node.drops, !ran.failed.is_empty(), ran.outcome));
            }
            let pick = below(&mut rng, count);
            let child = Space::children(&node, &ran)
                .nth(pick)
                .unwrap_or_else(|| unreachable!("pick < count"));
            node = child;
        }
    });
    progress.finish_and_clear();
    let mut tally = Tally::new(space.k);
    let mut distinct: BTreeSet<Box<[(u32, u32)]>> = BTreeSet::new();
    let mut to_shrink: Vec<Box<[Dropped]>> = Vec::new();
    for walk in walked {
        let (drops, failed, outcome) = walk.map_err(ExploreError::NotReproduced)?;
        if !distinct.insert(key(&drops)) {
            continue;
        }
        tally.add(drops.len(), !failed, outcome);
        if failed {
            to_shrink.push(drops);
        }
    }
    let fault_free = per_direction(space, &space.run(&mut None, &[]).seen);
    // Shrink every failing sample to its smallest failing subset.
    let shrink_runs = AtomicU64::new(0);
    let progress = progress_bar(to_shrink.len() as u64);
    let shrunk = map_in_order(to_shrink.len() as u64, jobs, &progress, |i, sim| {
        shrink(space, sim, &to_shrink[i as usize], &shrink_runs)
    });
    progress.finish_and_clear();
    let mut found: BTreeSet<Box<[(u32, u32)]>> = BTreeSet::new();
    let mut minimal: Vec<Minimal> = Vec::new();
    for m in shrunk {
        let m = m.map_err(ExploreError::NotReproduced)?;
        if found.insert(key(&m.drops)) {
            minimal.push(m);
        }
    }
    minimal.sort_by_key(|m| m.drops.len());
    Ok(Exploration {
        directions: space.directions.clone(),
        fault_free,
        cases: tally.cases,
        passed: tally.passed,
        failed: tally.failed,
        outcomes: tally.outcomes(),
        minimal,
        by_size: tally.by_size,
        sampling: Some(Sampling {
            walks,
            shrink_runs: shrink_runs.into_inner(),
        }),
    })
}

/// The smallest failing subset of the failing case `drops` that is a case
/// (every subset, smallest first, then in the order of a bit mask over the
/// drops): minimal, since every smaller subset was tried.
fn shrink(
    space: &Space<'_>,
    sim: &mut Option<Sim>,
    drops: &[Dropped],
    runs: &AtomicU64,
) -> Result<Minimal, String> {
    let mut masks: Vec<u32> = (0..(1u32 << drops.len())).collect();
    masks.sort_by_key(|m| m.count_ones());
    for mask in masks {
        let sub: Vec<Dropped> = (drops.iter().enumerate())
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, d)| *d)
            .collect();
        runs.fetch_add(1, Ordering::Relaxed);
        let ran = space.run(sim, &sub);
        if ran.failed.is_empty() || !reproduced(&sub, &ran) {
            continue;
        }
        // What each drop is in this run (the n-th segment of a direction
        // can be another segment than in the sample's run).
        let drops: Vec<Dropped> = (ran.seen.iter())
            .filter(|s| s.by == Decider::This)
            .map(|s| Dropped {
                dir: s.rule,
                n: s.n,
                kind: s.kind,
                at: s.at,
            })
            .collect();
        return Ok(Minimal {
            drops,
            outcome: outcome_name(&ran.outcome),
            failed: ran.failed,
        });
    }
    // The last mask is the sample itself, which failed in its walk.
    Err(describe(space, drops))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_named_by_report_name() {
        // Outcome::ALL order: closed, refused, timeout, reset, incomplete.
        assert_eq!(outcome_name(&[3, 0, 0, 0, 0]), "closed");
        assert_eq!(outcome_name(&[2, 0, 0, 1, 0]), "closed×2, reset×1");
        assert_eq!(outcome_name(&[0, 0, 1, 0, 4]), "timeout×1, incomplete×4");
        assert_eq!(outcome_name(&[0; 5]), "none");
    }

    #[test]
    fn only_proper_subsets_count_as_failing_subsets() {
        let case: Box<[(u32, u32)]> = Box::new([(0, 1), (1, 2)]);
        let mut failing = BTreeSet::new();
        failing.insert(case.clone());
        assert!(!has_failing_subset(&case, &failing), "the case itself");
        failing.insert(Box::new([(1, 2)]));
        assert!(has_failing_subset(&case, &failing));
        let mut empty_fails = BTreeSet::new();
        empty_fails.insert(Box::<[(u32, u32)]>::from([]));
        assert!(has_failing_subset(&case, &empty_fails), "∅ fails");
        assert!(
            !has_failing_subset(&[], &empty_fails),
            "∅ has no proper subset"
        );
    }

    #[test]
    fn keys_name_cases_by_direction_and_n_in_any_order() {
        let d = |dir, n, ms| Dropped {
            dir,
            n,
            kind: SegmentKind::Ack,
            at: Instant::from_millis(ms),
        };
        assert_eq!(
            key(&[d(1, 3, 5), d(0, 7, 9)]),
            key(&[d(0, 7, 1), d(1, 3, 2)])
        );
        assert_eq!(&*key(&[d(1, 3, 5), d(0, 7, 9)]), &[(0, 7), (1, 3)]);
    }

    #[test]
    fn choices_stay_below_their_bound() {
        let mut rng = tcpsim_net::stream(1, "explore/test");
        let mut seen = [0u32; 3];
        for _ in 0..3_000 {
            seen[below(&mut rng, 3)] += 1;
        }
        // 1 000 expected each; 6 standard deviations (√(3000·⅓·⅔) ≈ 25.8).
        for n in seen {
            assert!((845..=1155).contains(&n), "{seen:?}");
        }
        assert_eq!(below(&mut rng, 1), 0);
    }
}

//! The lines of `sweep --shard K/N` (tcpsim SPEC §2): one run each, with
//! the identity of its sweep, K, N and the total run count, so that
//! `merge` can tell a complete set of shards from a partial, duplicated or
//! foreign one (see [`super::merge`]).
//!
//! A line is one compact JSON object (`serde_json::to_string` of a
//! [`Line`]), its keys in this order:
//!
//! `experiment`, `digest`, `sets`, `seeds`, `grid_points`, `total_runs`
//! (the [`SweepId`]), `file`, `shard`, `shards`, then the run's `index`,
//! `point`, `params`, `seed`, `connections`, `failed` (a
//! [`RunRecord`]). Reading one is strict: an unknown, missing or
//! duplicated key is an error, and numbers must fit their types (a negative
//! time or a count above 2³² − 1 is refused).
//!
//! The file is identified by its content, not by the path it was given as:
//! `digest` is the 64-bit FNV-1a hash of the file's bytes, so `g.toml`,
//! `./g.toml` and `/abs/g.toml` are one sweep, and an edited file is
//! another.

use serde::{Deserialize, Serialize};

use super::{ConnSample, RunRecord};
use crate::experiment::SeedRange;
use crate::experiment::limits::{MAX_GRID_POINTS, MAX_SWEEP_RUNS};

/// The seeds of a sweep, `first..=last`; a JSON object
/// `{"first": 1, "last": 40}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seeds {
    /// The first seed.
    pub first: u64,
    /// The last seed (included).
    pub last: u64,
}

impl Seeds {
    /// How many seeds there are (0 if `first > last`, which no sweep has).
    pub fn len(&self) -> u128 {
        if self.first > self.last {
            0
        } else {
            u128::from(self.last - self.first) + 1
        }
    }

    /// Whether there are no seeds (`first > last`).
    pub fn is_empty(&self) -> bool {
        self.first > self.last
    }
}

impl From<SeedRange> for Seeds {
    fn from(s: SeedRange) -> Seeds {
        Seeds {
            first: s.first(),
            last: s.last(),
        }
    }
}

impl std::fmt::Display for Seeds {
    /// As `--seeds` takes them: `1..=40`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..={}", self.first, self.last)
    }
}

/// What makes two shards parts of one sweep: the same experiment, file
/// content, `--set` arguments and seeds, hence the same runs.
///
/// It does not hold the path the file was given as (see [`Line::file`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepId {
    /// The experiment's `name`.
    pub experiment: String,
    /// The experiment file's bytes, hashed by [`digest`]:
    /// `"fnv1a64:"` and 16 lowercase hexadecimal digits.
    pub digest: String,
    /// The `--set` arguments of the sweep (path, value), in command-line
    /// order; a JSON array of `[path, value]` pairs.
    pub sets: Vec<(String, String)>,
    /// The seeds (from `--seeds`, or the file).
    pub seeds: Seeds,
    /// How many points the `[sweep]` grid has (1 without a grid).
    pub grid_points: u64,
    /// Runs in the whole sweep: `grid_points` × the number of seeds.
    pub total_runs: u64,
}

/// How two [`SweepId`]s differ: the first field that does, by name, with
/// both values as a message shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// What differs, in words (`experiment`, `file digest`, ...).
    pub field: &'static str,
    /// The value of the sweep compared.
    pub found: String,
    /// The value of the sweep compared with.
    pub expected: String,
}

impl SweepId {
    /// The identity of a sweep of `points` grid points over `seeds`, of
    /// the experiment `experiment` read from a file holding `source`, with
    /// the `--set` arguments `sets`.
    pub fn new(
        experiment: &str,
        source: &[u8],
        sets: &[(String, String)],
        seeds: Seeds,
        points: u64,
    ) -> SweepId {
        let total = u128::from(points) * seeds.len();
        SweepId {
            experiment: experiment.to_owned(),
            digest: digest(source),
            sets: sets.to_vec(),
            seeds,
            grid_points: points,
            total_runs: total.min(u128::from(u64::MAX)) as u64,
        }
    }

    /// How `self` differs from `expected`, field by field in declaration
    /// order; `None` if they are the same sweep.
    pub fn difference(&self, expected: &SweepId) -> Option<Difference> {
        let diff = |field, found: String, expected: String| {
            Some(Difference {
                field,
                found,
                expected,
            })
        };
        if self.experiment != expected.experiment {
            diff(
                "experiment",
                format!("{:?}", self.experiment),
                format!("{:?}", expected.experiment),
            )
        } else if self.digest != expected.digest {
            diff("file digest", self.digest.clone(), expected.digest.clone())
        } else if self.sets != expected.sets {
            diff(
                "--set arguments",
                sets_text(&self.sets),
                sets_text(&expected.sets),
            )
        } else if self.seeds != expected.seeds {
            diff("seeds", self.seeds.to_string(), expected.seeds.to_string())
        } else if self.grid_points != expected.grid_points {
            diff(
                "grid points",
                self.grid_points.to_string(),
                expected.grid_points.to_string(),
            )
        } else if self.total_runs != expected.total_runs {
            diff(
                "total runs",
                self.total_runs.to_string(),
                expected.total_runs.to_string(),
            )
        } else {
            None
        }
    }

    /// Whether the identity can be a sweep's at all: a digest in the
    /// format [`digest`] writes, `first <= last` seeds, 1 to
    /// [`MAX_GRID_POINTS`] grid points, and `total_runs` equal to grid
    /// points × seeds and at most [`MAX_SWEEP_RUNS`]. The error says what
    /// was expected.
    pub fn check(&self) -> Result<(), String> {
        let hex = self.digest.strip_prefix(DIGEST_PREFIX);
        if !hex.is_some_and(|h| {
            h.len() == 16 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }) {
            return Err(format!(
                "digest {:?}: expected \"{DIGEST_PREFIX}\" and 16 lowercase hexadecimal digits",
                self.digest
            ));
        }
        if self.seeds.is_empty() {
            return Err(format!(
                "seeds {}..={}: expected a first seed no greater than the last",
                self.seeds.first, self.seeds.last
            ));
        }
        if self.grid_points == 0 || self.grid_points > MAX_GRID_POINTS {
            return Err(format!(
                "{} grid points: expected 1 to {MAX_GRID_POINTS}",
                self.grid_points
            ));
        }
        let runs = u128::from(self.grid_points) * self.seeds.len();
        if u128::from(self.total_runs) != runs {
            return Err(format!(
                "{} total runs: expected {runs} ({} grid points x {} seeds)",
                self.total_runs,
                self.grid_points,
                self.seeds.len()
            ));
        }
        if runs > MAX_SWEEP_RUNS {
            return Err(format!(
                "{runs} total runs: expected at most {MAX_SWEEP_RUNS}, the most a sweep has"
            ));
        }
        Ok(())
    }

    /// The grid point and the seed of run `index` (SPEC §2: run `i` is
    /// point `i / seeds`, seed `first + i % seeds`).
    pub fn run(&self, index: u64) -> (u64, u64) {
        let per = self.seeds.len().max(1);
        let index = u128::from(index);
        (
            (index / per).min(u128::from(u64::MAX)) as u64,
            self.seeds.first.wrapping_add((index % per) as u64),
        )
    }
}

/// `--set` arguments as a message shows them.
pub(super) fn sets_text(sets: &[(String, String)]) -> String {
    if sets.is_empty() {
        return "none".to_string();
    }
    let args: Vec<String> = sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("[{}]", args.join(", "))
}

/// The prefix of a [`digest`], naming its hash function.
const DIGEST_PREFIX: &str = "fnv1a64:";

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime (2⁴⁰ + 2⁸ + 0xb3).
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The digest of an experiment file's bytes in a shard line:
/// `"fnv1a64:"` and the 64-bit FNV-1a hash of `bytes` as 16 lowercase
/// hexadecimal digits (`fnv1a64:cbf29ce484222325` for no bytes).
///
/// FNV-1a is specified in a few lines (hash = offset basis; for each byte,
/// hash = (hash XOR byte) × prime, modulo 2⁶⁴), needs no dependency, and is
/// what tcpsim already uses to name random streams. It guards against
/// accidents (a shard of an edited file), not against a forger, who could
/// write any digest into a line anyway; two different files share a
/// digest with a chance of about 2⁻⁶⁴.
pub fn digest(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(FNV_OFFSET_BASIS, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
    });
    format!("{DIGEST_PREFIX}{hash:016x}")
}

/// One line of `sweep --shard K/N` output: a run, with the identity of
/// its sweep and the shard it belongs to. Written as compact JSON
/// (`serde_json::to_string`), one object per line, with the fields of
/// [`SweepId`], then `file`, `shard`, `shards`, then the fields of
/// [`RunRecord`]. Read back strictly: an unknown or missing key is an
/// error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "FlatLine")]
pub struct Line {
    /// The sweep the run belongs to.
    #[serde(flatten)]
    pub sweep: SweepId,
    /// The experiment file as given on the command line, for the replay
    /// commands of the merged result (those of the first line read); not
    /// part of the identity.
    pub file: String,
    /// K of `--shard K/N`: the shard holds the runs whose index mod N is K.
    pub shard: u64,
    /// N of `--shard K/N`: how many shards the sweep was split into.
    pub shards: u64,
    /// The run.
    #[serde(flatten)]
    pub record: RunRecord,
}

/// A [`Line`] as it is read: every key at the top level, none unknown
/// (serde cannot refuse unknown keys of a struct with flattened fields).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlatLine {
    experiment: String,
    digest: String,
    sets: Vec<(String, String)>,
    seeds: Seeds,
    grid_points: u64,
    total_runs: u64,
    file: String,
    shard: u64,
    shards: u64,
    index: u64,
    point: usize,
    params: Vec<(String, String)>,
    seed: u64,
    connections: Vec<ConnSample>,
    failed: Vec<String>,
}

impl From<FlatLine> for Line {
    fn from(l: FlatLine) -> Line {
        Line {
            sweep: SweepId {
                experiment: l.experiment,
                digest: l.digest,
                sets: l.sets,
                seeds: l.seeds,
                grid_points: l.grid_points,
                total_runs: l.total_runs,
            },
            file: l.file,
            shard: l.shard,
            shards: l.shards,
            record: RunRecord {
                index: l.index,
                point: l.point,
                params: l.params,
                seed: l.seed,
                conns: l.connections,
                failed: l.failed,
            },
        }
    }
}

/// Parses one shard line; the error is serde_json's, with its position.
pub fn from_line(line: &str) -> Result<Line, String> {
    serde_json::from_str(line).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From the FNV reference test suite (Fowler/Noll/Vo, test_fnv.c),
    /// the vectors `tcpsim_net`'s stream names are held to as well.
    #[test]
    fn digest_is_fnv1a_64() {
        assert_eq!(digest(b""), "fnv1a64:cbf29ce484222325");
        assert_eq!(digest(b"a"), "fnv1a64:af63dc4c8601ec8c");
        assert_eq!(digest(b"foobar"), "fnv1a64:85944171f73967e8");
    }

    fn id() -> SweepId {
        SweepId::new("x", b"name = \"x\"\n", &[], Seeds { first: 1, last: 40 }, 2)
    }

    #[test]
    fn total_runs_is_points_times_seeds() {
        let id = id();
        assert_eq!(id.total_runs, 80);
        assert_eq!(id.check(), Ok(()));
        // Run 41 is point 41 / 40 = 1, seed 1 + 41 mod 40 = 2.
        assert_eq!(id.run(41), (1, 2));
        assert_eq!(id.run(39), (0, 40));
    }

    #[test]
    fn the_first_differing_field_is_named() {
        let a = id();
        let mut b = id();
        b.seeds.last = 20;
        b.total_runs = 40;
        let d = b.difference(&a).unwrap();
        assert_eq!(
            (d.field, d.found.as_str(), d.expected.as_str()),
            ("seeds", "1..=20", "1..=40")
        );
        let mut c = id();
        c.sets = vec![("links.0.loss".into(), "0.1".into())];
        let d = c.difference(&a).unwrap();
        assert_eq!(
            (d.field, d.found.as_str(), d.expected.as_str()),
            ("--set arguments", "[links.0.loss=0.1]", "none")
        );
        assert_eq!(a.difference(&id()), None);
    }

    #[test]
    fn an_identity_that_cannot_be_a_sweep_is_refused() {
        let mut bad = id();
        bad.total_runs = 81;
        assert_eq!(
            bad.check().unwrap_err(),
            "81 total runs: expected 80 (2 grid points x 40 seeds)"
        );
        let mut bad = id();
        bad.seeds = Seeds { first: 5, last: 2 };
        assert!(
            bad.check()
                .unwrap_err()
                .starts_with("seeds 5..=2: expected")
        );
        let mut bad = id();
        bad.digest = "fnv1a64:XYZ".into();
        assert!(
            bad.check()
                .unwrap_err()
                .starts_with("digest \"fnv1a64:XYZ\"")
        );
        let mut bad = id();
        bad.grid_points = 0;
        bad.total_runs = 0;
        assert_eq!(
            bad.check().unwrap_err(),
            "0 grid points: expected 1 to 10000"
        );
        // 10 000 points x 10 001 seeds = 100 010 000 runs, over 10^8.
        let big = SweepId::new(
            "x",
            b"",
            &[],
            Seeds {
                first: 0,
                last: 10_000,
            },
            10_000,
        );
        assert_eq!(
            big.check().unwrap_err(),
            "100010000 total runs: expected at most 100000000, the most a sweep has"
        );
    }
}

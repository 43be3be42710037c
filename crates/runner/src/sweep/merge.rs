//! `tcpsim merge` (tcpsim SPEC §2): the lines of `sweep --shard K/N`
//! outputs back into the runs of one whole sweep, or a refusal that names
//! the file and line and what was expected.
//!
//! Only a complete set merges: every line must be of the sweep of the
//! first line read (same [`SweepId`]) and of the same split into N shards,
//! and its run must belong where the line says (index in `0..total_runs`,
//! index mod N = K, grid point and seed those of the index, the grid
//! point's values the same on every line); no run may come twice, and
//! none may be missing. A refusal is a [`MergeError`].
//!
//! Memory: the inputs are read line by line, and what is kept is the
//! runs' [`RunRecord`](crate::sweep::RunRecord)s, one bit per run of the sweep (to find duplicates
//! and gaps), and each grid point's values once.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use serde::Deserialize;

use super::aggregate::aggregate_points;
use super::line::{Line, SweepId, sets_text};
use super::{Aggregate, Tally};
use crate::input::MAX_SHARD_FILE;

/// The longest shard line read, in bytes (256 MiB): a run of a million
/// connections (the most an experiment has) writes at most about 190
/// bytes for each (20-digit times, 10-digit counts).
pub const MAX_SHARD_LINE: usize = 256 << 20;

/// Why shards do not merge. Every message but [`MergeError::Incomplete`]'s
/// and [`MergeError::Empty`]'s starts with the place, `FILE:LINE` (and
/// `:COLUMN` where one is known).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// An input cannot be read: missing, a directory, a pipe or device,
    /// over [`MAX_SHARD_FILE`], or an I/O error. The message names it.
    #[error("{0}")]
    Unreadable(String),
    /// A line that is not a shard line: not UTF-8, longer than
    /// [`MAX_SHARD_LINE`], not JSON, a key unknown, missing or duplicated,
    /// or a number that does not fit (a negative time, a count over
    /// 2³² − 1).
    #[error("{at}: {why}")]
    Malformed {
        /// `FILE:LINE:COLUMN`.
        at: String,
        /// What was wrong, and what was expected.
        why: String,
    },
    /// Values that no sweep writes: an identity that does not add up (see
    /// [`SweepId::check`]), `shard` not below `shards`, a grid point or
    /// seed that is not the index's, a grid point whose values differ
    /// between lines.
    #[error("{at}: {why}")]
    Absurd {
        /// `FILE:LINE`.
        at: String,
        /// What was wrong, and what was expected.
        why: String,
    },
    /// A line of another sweep than the first line's: another experiment,
    /// file content, `--set`s, seeds or grid.
    #[error("{at}: a shard of another sweep than {first}: {field} {found}, expected {expected}")]
    Foreign {
        /// `FILE:LINE` of the line.
        at: String,
        /// `FILE:LINE` of the first line read.
        first: String,
        /// What differs (`experiment`, `file digest`, `--set arguments`,
        /// `seeds`, `grid points`, `total runs`).
        field: &'static str,
        /// The line's value.
        found: String,
        /// The first line's value.
        expected: String,
    },
    /// A line of the same sweep split into another number of shards.
    #[error("{at}: a shard of another split than {first}: {found} shards, expected {expected}")]
    OtherSplit {
        /// `FILE:LINE` of the line.
        at: String,
        /// `FILE:LINE` of the first line read.
        first: String,
        /// The line's N.
        found: u64,
        /// The first line's N.
        expected: u64,
    },
    /// A run index at or past the sweep's run count.
    #[error(
        "{at}: run index {index} is out of range: expected 0..{total} (the sweep has {total} runs)"
    )]
    OutOfRange {
        /// `FILE:LINE`.
        at: String,
        /// The index.
        index: u64,
        /// The sweep's run count.
        total: u64,
    },
    /// A run that shard K does not hold: its index mod N is not K.
    #[error(
        "{at}: run {index} does not belong to shard {shard}/{shards}: expected an index i \
         with i mod {shards} = {shard}, found {index} mod {shards} = {}",
        index % shards
    )]
    NotInShard {
        /// `FILE:LINE`.
        at: String,
        /// The index.
        index: u64,
        /// The line's K.
        shard: u64,
        /// The line's N.
        shards: u64,
    },
    /// A run read twice (a shard given twice, or two copies of a line).
    #[error(
        "{at}: run {index} of shard {shard}/{shards} is already in {first} (a shard given twice?)"
    )]
    Duplicate {
        /// `FILE:LINE` of the second line.
        at: String,
        /// `FILE:LINE` of the first.
        first: String,
        /// The index.
        index: u64,
        /// The line's K.
        shard: u64,
        /// The line's N.
        shards: u64,
    },
    /// Runs of the sweep that no input holds: whole shards, or lines of a
    /// shard.
    #[error(
        "incomplete sweep {experiment:?}: {found} of {total} runs read, {} missing:\n  {}",
        total - found,
        missing.join("\n  ")
    )]
    Incomplete {
        /// The experiment's name.
        experiment: String,
        /// Runs read.
        found: u64,
        /// Runs of the sweep.
        total: u64,
        /// One entry per shard with missing runs (the first few), e.g.
        /// `shard 1/3 is missing: its 27 runs (index 1, 4, 7, 10, 13, ...)`
        /// or `shard 0/3 (a.jsonl): 1 of its 27 runs missing (index 9)`.
        missing: Vec<String>,
    },
    /// No input holds a line.
    #[error("no shard lines in {}", inputs.join(", "))]
    Empty {
        /// The inputs' names.
        inputs: Vec<String>,
    },
}

/// The runs of one whole sweep, from its shards, tallied as they were
/// read: merge keeps per grid point what a sweep keeps ([`Tally`]), not a
/// record per run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    /// The sweep.
    pub sweep: SweepId,
    /// The experiment file as the first line read gives it (for replay
    /// commands).
    pub file: String,
    /// Every grid point in order: its values and its runs' tally.
    pub points: Vec<(Vec<(String, String)>, Tally)>,
}

impl Merged {
    /// The aggregate: what the unsharded sweep prints.
    pub fn aggregate(&self) -> Aggregate {
        aggregate_points(
            &self.sweep.experiment,
            &self.file,
            self.points.iter().map(|(p, t)| (p.as_slice(), t.clone())),
            &self.sweep.sets,
        )
    }
}

/// Named inputs that `merge` reads line by line. An input may be opened a
/// second time, to name the first of two duplicated lines.
pub trait Inputs {
    /// How many inputs there are.
    fn count(&self) -> usize;
    /// The name of input `i`, for messages.
    fn name(&self, i: usize) -> String;
    /// Input `i` from its start; the error names it.
    fn open(&self, i: usize) -> Result<Box<dyn BufRead + '_>, String>;
}

/// Shard files: regular files only (a pipe would block, a device never
/// end), of at most [`MAX_SHARD_FILE`] bytes.
pub struct Files<'a>(pub &'a [PathBuf]);

impl Inputs for Files<'_> {
    fn count(&self) -> usize {
        self.0.len()
    }

    fn name(&self, i: usize) -> String {
        self.0[i].display().to_string()
    }

    fn open(&self, i: usize) -> Result<Box<dyn BufRead + '_>, String> {
        let path = &self.0[i];
        let name = path.display();
        let meta = std::fs::metadata(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
        if meta.is_dir() {
            return Err(format!("{name}: is a directory (expected a sweep shard)"));
        }
        if !meta.is_file() {
            return Err(format!(
                "{name}: not a regular file (expected a sweep shard: pipes and devices are not read)"
            ));
        }
        if meta.len() > MAX_SHARD_FILE {
            return Err(format!(
                "{name}: {} bytes, more than the limit of {MAX_SHARD_FILE} bytes for a sweep shard",
                meta.len()
            ));
        }
        let f = std::fs::File::open(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
        Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
    }
}

/// Inputs in memory, as (name, text) pairs: for tests and fuzzing.
pub struct Texts<'a>(pub &'a [(String, String)]);

impl Inputs for Texts<'_> {
    fn count(&self) -> usize {
        self.0.len()
    }

    fn name(&self, i: usize) -> String {
        self.0[i].0.clone()
    }

    fn open(&self, i: usize) -> Result<Box<dyn BufRead + '_>, String> {
        Ok(Box::new(self.0[i].1.as_bytes()))
    }
}

/// Reads the shard lines of `inputs` into the runs of their sweep, or
/// says why they are not one whole sweep. Blank lines are skipped.
pub fn merge(inputs: &dyn Inputs) -> Result<Merged, MergeError> {
    let mut m = Merger {
        inputs,
        first: None,
        seen: Vec::new(),
        points: BTreeMap::new(),
        first_shard: vec![None; inputs.count()],
        tallies: BTreeMap::new(),
        found: 0,
    };
    for input in 0..inputs.count() {
        let name = inputs.name(input);
        let mut reader = inputs.open(input).map_err(MergeError::Unreadable)?;
        each_line(&name, &mut *reader, |n, text| {
            let line: Line = serde_json::from_str(text).map_err(|e| malformed(&name, n, &e))?;
            m.take(line, input, n)?;
            Ok(true)
        })?;
    }
    m.finish()
}

/// The first line read: the sweep every other line must belong to.
struct First {
    sweep: SweepId,
    shards: u64,
    file: String,
    at: String,
}

/// What `merge` keeps while it reads.
struct Merger<'a> {
    inputs: &'a dyn Inputs,
    first: Option<First>,
    /// One bit per run of the sweep: read or not.
    seen: Vec<u64>,
    /// Each grid point's values, and where they were first read.
    points: BTreeMap<usize, (Vec<(String, String)>, String)>,
    /// The shard of each input's first line, to name the input in a
    /// message about missing runs.
    first_shard: Vec<Option<u64>>,
    /// Each grid point's runs so far.
    tallies: BTreeMap<usize, Tally>,
    /// How many runs were read.
    found: u64,
}

impl Merger<'_> {
    /// Checks line `n` of input `input` and keeps its run.
    fn take(&mut self, line: Line, input: usize, n: usize) -> Result<(), MergeError> {
        let at = format!("{}:{n}", self.inputs.name(input));
        let absurd = |why: String| MergeError::Absurd {
            at: at.clone(),
            why,
        };
        let first = match &self.first {
            Some(first) => {
                if let Some(d) = line.sweep.difference(&first.sweep) {
                    return Err(MergeError::Foreign {
                        at,
                        first: first.at.clone(),
                        field: d.field,
                        found: d.found,
                        expected: d.expected,
                    });
                }
                if line.shards != first.shards {
                    return Err(MergeError::OtherSplit {
                        at,
                        first: first.at.clone(),
                        found: line.shards,
                        expected: first.shards,
                    });
                }
                first
            }
            None => {
                line.sweep.check().map_err(absurd)?;
                // `check` bounds the run count, so the bits fit in memory.
                self.seen = vec![0; line.sweep.total_runs.div_ceil(64) as usize];
                &*self.first.insert(First {
                    sweep: line.sweep.clone(),
                    shards: line.shards,
                    file: line.file.clone(),
                    at: at.clone(),
                })
            }
        };
        let (k, shards, r) = (line.shard, line.shards, &line.record);
        if k >= shards {
            return Err(absurd(format!(
                "shard {k}/{shards}: expected K/N with 0 <= K < N"
            )));
        }
        let total = first.sweep.total_runs;
        if r.index >= total {
            return Err(MergeError::OutOfRange {
                at,
                index: r.index,
                total,
            });
        }
        if r.index % shards != k {
            return Err(MergeError::NotInShard {
                at,
                index: r.index,
                shard: k,
                shards,
            });
        }
        let (point, seed) = first.sweep.run(r.index);
        let per = first.sweep.seeds.len();
        if r.point as u64 != point {
            return Err(absurd(format!(
                "run {}: grid point {}, expected {point} (index {} / {per} seeds)",
                r.index, r.point, r.index
            )));
        }
        if r.seed != seed {
            return Err(absurd(format!(
                "run {}: seed {}, expected {seed} (first seed {} + index {} mod {per} seeds)",
                r.index, r.seed, first.sweep.seeds.first, r.index
            )));
        }
        match self.points.get(&r.point) {
            Some((params, where_)) if *params != r.params => {
                return Err(absurd(format!(
                    "run {}: grid point {} with the values {}, expected {} as in {where_}",
                    r.index,
                    r.point,
                    sets_text(&r.params),
                    sets_text(params)
                )));
            }
            Some(_) => {}
            None => {
                self.points.insert(r.point, (r.params.clone(), at.clone()));
            }
        }
        let (word, bit) = ((r.index / 64) as usize, 1u64 << (r.index % 64));
        if self.seen[word] & bit != 0 {
            let first = locate(self.inputs, r.index, input, n)
                .unwrap_or_else(|| "an earlier line".to_string());
            return Err(MergeError::Duplicate {
                at,
                first,
                index: r.index,
                shard: k,
                shards,
            });
        }
        self.seen[word] |= bit;
        self.first_shard[input].get_or_insert(k);
        let r = line.record;
        (self.tallies.entry(r.point).or_default()).add(r.index, r.seed, &r.conns, r.failed);
        self.found += 1;
        Ok(())
    }

    /// The runs in index order, if every run of the sweep was read.
    fn finish(self) -> Result<Merged, MergeError> {
        let Some(first) = self.first else {
            return Err(MergeError::Empty {
                inputs: (0..self.inputs.count())
                    .map(|i| self.inputs.name(i))
                    .collect(),
            });
        };
        let total = first.sweep.total_runs;
        let found = self.found;
        if found != total {
            return Err(MergeError::Incomplete {
                experiment: first.sweep.experiment.clone(),
                found,
                total,
                missing: missing(
                    &self.seen,
                    total,
                    first.shards,
                    self.inputs,
                    &self.first_shard,
                ),
            });
        }
        let mut points = self.points;
        let points = (self.tallies.into_iter())
            .map(|(p, t)| (points.remove(&p).map(|(v, _)| v).unwrap_or_default(), t))
            .collect();
        Ok(Merged {
            sweep: first.sweep,
            file: first.file,
            points,
        })
    }
}

/// How many shards with missing runs [`MergeError::Incomplete`] lists, and
/// how many of each one's indices.
const LISTED_SHARDS: usize = 8;
const LISTED_INDICES: usize = 5;

/// The entries of [`MergeError::Incomplete`]: the runs of `0..total` whose
/// bit is not set in `seen`, by shard.
fn missing(
    seen: &[u64],
    total: u64,
    shards: u64,
    inputs: &dyn Inputs,
    first_shard: &[Option<u64>],
) -> Vec<String> {
    // (shard, runs missing, the first few of them)
    let mut listed: Vec<(u64, u64, Vec<u64>)> = Vec::new();
    // Shards beyond those listed: one bit each (a shard at or past `total`
    // holds no run).
    let mut others = vec![0u64; shards.min(total).div_ceil(64) as usize];
    let (mut other_shards, mut other_runs) = (0u64, 0u64);
    for (w, &word) in seen.iter().enumerate() {
        if word == u64::MAX {
            continue;
        }
        for b in 0..64 {
            let i = w as u64 * 64 + b;
            if i >= total || word & (1 << b) != 0 {
                continue;
            }
            let k = i % shards;
            if let Some(entry) = listed.iter_mut().find(|e| e.0 == k) {
                entry.1 += 1;
                if entry.2.len() <= LISTED_INDICES {
                    entry.2.push(i);
                }
            } else if listed.len() < LISTED_SHARDS {
                listed.push((k, 1, vec![i]));
            } else {
                let (ow, ob) = ((k / 64) as usize, 1u64 << (k % 64));
                if others[ow] & ob == 0 {
                    others[ow] |= ob;
                    other_shards += 1;
                }
                other_runs += 1;
            }
        }
    }
    let mut out: Vec<String> = listed
        .into_iter()
        .map(|(k, count, indices)| {
            // Shard k holds the indices k, k + N, ... below `total`.
            let expected = (total - k).div_ceil(shards);
            let mut list: Vec<String> = indices
                .iter()
                .take(LISTED_INDICES)
                .map(u64::to_string)
                .collect();
            if indices.len() > LISTED_INDICES {
                list.push("...".to_string());
            }
            let list = list.join(", ");
            if count == expected {
                format!(
                    "shard {k}/{shards} is missing: its {} (index {list})",
                    runs(expected)
                )
            } else {
                let files: Vec<String> = (0..inputs.count())
                    .filter(|&i| first_shard[i] == Some(k))
                    .map(|i| inputs.name(i))
                    .collect();
                let files = if files.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", files.join(", "))
                };
                format!(
                    "shard {k}/{shards}{files}: {count} of its {} missing (index {list})",
                    runs(expected)
                )
            }
        })
        .collect();
    if other_runs > 0 {
        out.push(format!(
            "and {} of {other_shards} more shards",
            runs(other_runs)
        ));
    }
    out
}

/// `n runs`, or `1 run`.
fn runs(n: u64) -> String {
    if n == 1 {
        "1 run".to_string()
    } else {
        format!("{n} runs")
    }
}

/// A serde_json error on line `n` of `name` as `name:n:column: message`
/// (serde_json counts lines within the one line it read, so only its
/// column is kept).
fn malformed(name: &str, n: usize, e: &serde_json::Error) -> MergeError {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    MergeError::Malformed {
        at: format!("{name}:{n}:{}", e.column()),
        why: text.strip_suffix(&suffix).unwrap_or(&text).to_string(),
    }
}

/// Calls `f` with the number (from 1) and text of each line of `reader`
/// that is not blank, until it returns `false`. A line that is not UTF-8
/// or is longer than [`MAX_SHARD_LINE`] is an error.
fn each_line(
    name: &str,
    reader: &mut dyn BufRead,
    mut f: impl FnMut(usize, &str) -> Result<bool, MergeError>,
) -> Result<(), MergeError> {
    let mut buf = Vec::new();
    for n in 1.. {
        buf.clear();
        let read = Read::take(&mut *reader, MAX_SHARD_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| MergeError::Unreadable(format!("{name}:{n}: cannot read: {e}")))?;
        if read == 0 {
            break;
        }
        if buf.len() > MAX_SHARD_LINE && buf.last() != Some(&b'\n') {
            return Err(MergeError::Malformed {
                at: format!("{name}:{n}:1"),
                why: format!(
                    "a line of more than {MAX_SHARD_LINE} bytes: expected one run in compact JSON"
                ),
            });
        }
        let text = std::str::from_utf8(&buf).map_err(|e| MergeError::Malformed {
            at: format!("{name}:{n}:{}", e.valid_up_to() + 1),
            why: format!(
                "expected UTF-8 text, found the byte 0x{:02x}",
                buf[e.valid_up_to()]
            ),
        })?;
        if text.trim().is_empty() {
            continue;
        }
        // Without its line end, so that a position is the column in it.
        let text = text.strip_suffix('\n').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        if !f(n, text)? {
            break;
        }
    }
    Ok(())
}

/// Where the run `index` was first read, before line `line` of input
/// `input`: `FILE:LINE`, found by reading the inputs again (only on the
/// way to an error, so nothing is kept for it while merging).
fn locate(inputs: &dyn Inputs, index: u64, input: usize, line: usize) -> Option<String> {
    /// The one field looked for.
    #[derive(Deserialize)]
    struct Index {
        index: u64,
    }
    for i in 0..=input {
        let name = inputs.name(i);
        let mut reader = inputs.open(i).ok()?;
        let mut found = None;
        let _ = each_line(&name, &mut *reader, |n, text| {
            if i == input && n >= line {
                return Ok(false);
            }
            if serde_json::from_str::<Index>(text).is_ok_and(|l| l.index == index) {
                found = Some(format!("{name}:{n}"));
                return Ok(false);
            }
            Ok(true)
        });
        if found.is_some() {
            return found;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::{RunRecord, Seeds};

    /// Shard `k` of `n` of a sweep of one point and seeds 1..=`seeds`, as
    /// `sweep --shard` writes it (runs without connections).
    fn shard(seeds: u64, k: u64, n: u64) -> String {
        let id = SweepId::new(
            "t",
            b"name = \"t\"\n",
            &[],
            Seeds {
                first: 1,
                last: seeds,
            },
            1,
        );
        (k..seeds)
            .step_by(n as usize)
            .map(|index| {
                let line = Line {
                    sweep: id.clone(),
                    file: "t.toml".into(),
                    shard: k,
                    shards: n,
                    record: RunRecord {
                        index,
                        point: 0,
                        params: Vec::new(),
                        seed: 1 + index,
                        conns: Vec::new(),
                        failed: Vec::new(),
                    },
                };
                serde_json::to_string(&line).unwrap() + "\n"
            })
            .collect()
    }

    fn texts(shards: &[(u64, u64, u64)]) -> Vec<(String, String)> {
        shards
            .iter()
            .map(|&(seeds, k, n)| (format!("s{k}"), shard(seeds, k, n)))
            .collect()
    }

    #[test]
    fn a_split_into_more_shards_than_runs_merges_without_the_empty_ones() {
        // 3 runs in 5 shards: shards 3 and 4 hold nothing.
        assert_eq!(shard(3, 3, 5), "");
        let merged = merge(&Texts(&texts(&[(3, 2, 5), (3, 0, 5), (3, 1, 5)]))).unwrap();
        // One grid point, its three runs (0, 1, 2) all there.
        assert_eq!(merged.points.len(), 1);
        assert_eq!(merged.points[0].1.runs(), 3);
        assert_eq!(merged.file, "t.toml");
    }

    #[test]
    fn many_missing_shards_are_summed_up_after_the_first_eight() {
        // 20 runs in 20 shards, only shard 0 given: shards 1 to 8 are
        // listed, the 11 others (9 to 19) summed up.
        let err = merge(&Texts(&texts(&[(20, 0, 20)]))).unwrap_err();
        let MergeError::Incomplete {
            found,
            total,
            missing,
            ..
        } = &err
        else {
            panic!("{err}");
        };
        assert_eq!((*found, *total), (1, 20));
        assert_eq!(missing.len(), 9);
        assert_eq!(missing[0], "shard 1/20 is missing: its 1 run (index 1)");
        assert_eq!(missing[7], "shard 8/20 is missing: its 1 run (index 8)");
        assert_eq!(missing[8], "and 11 runs of 11 more shards");
    }

    #[test]
    fn a_partial_shard_lists_its_first_missing_indices() {
        // 40 runs in 2 shards; shard 1 (indices 1, 3, ..., 39) lost all
        // but its first line.
        let mut t = texts(&[(40, 0, 2), (40, 1, 2)]);
        t[1].1 = t[1].1.lines().next().unwrap().to_string() + "\n";
        let err = merge(&Texts(&t)).unwrap_err().to_string();
        assert_eq!(
            err,
            "incomplete sweep \"t\": 21 of 40 runs read, 19 missing:\n  \
             shard 1/2 (s1): 19 of its 20 runs missing (index 3, 5, 7, 9, 11, ...)"
        );
    }

    #[test]
    fn blank_lines_are_skipped_and_counted() {
        let mut t = texts(&[(4, 0, 2), (4, 1, 2)]);
        t[0].1 = format!("\n{}", t[0].1);
        t[1].1 = format!("{}\r\n\n{{", t[1].1);
        // s1: 2 runs, then a CRLF blank line (3), a blank line (4), "{" (5).
        let err = merge(&Texts(&t)).unwrap_err().to_string();
        assert_eq!(err, "s1:5:1: EOF while parsing an object");
    }
}

//! Fuzz check for `tcpsim merge` (issue 16): arbitrary shard files never
//! make `sweep::merge::merge` panic or hang; a refusal that names a place
//! names one of the inputs and a line inside it; and a merge that succeeds
//! holds each run of its sweep exactly once: every grid point, in order,
//! with one run per seed (merge has checked each run's seed and point
//! against its index, and refused a second copy of an index).
//!
//! Input layout: up to four files separated by NUL bytes, named
//! `shard0.jsonl`, `shard1.jsonl`, ...; bytes that are not UTF-8 are read
//! lossily (merge's own UTF-8 check is covered by its unit tests).

use tcpsim_runner::sweep::merge::{MergeError, Texts, merge};

pub fn check(data: &[u8]) {
    let files: Vec<(String, String)> = data
        .split(|&b| b == 0)
        .take(4)
        .enumerate()
        .map(|(i, bytes)| {
            (
                format!("shard{i}.jsonl"),
                String::from_utf8_lossy(bytes).into_owned(),
            )
        })
        .collect();
    match merge(&Texts(&files)) {
        Ok(m) => {
            let total = m.sweep.total_runs;
            let runs: u64 = m.points.iter().map(|(_, t)| t.runs()).sum();
            assert_eq!(runs, total, "a merge holds every run");
            let seeds = m.sweep.seeds.last - m.sweep.seeds.first + 1;
            assert_eq!(m.points.len() as u64, total / seeds, "every grid point");
            for (p, (_, t)) in m.points.iter().enumerate() {
                assert_eq!(t.runs(), seeds, "point {p}: one run per seed");
            }
            // What `tcpsim merge` prints is made without a panic.
            let agg = m.aggregate();
            assert_eq!(agg.runs, total);
        }
        Err(MergeError::Malformed { at, .. } | MergeError::Absurd { at, .. }) => {
            let mut parts = at.split(':');
            let name = parts.next().unwrap_or("");
            let line: usize = parts.next().and_then(|l| l.parse().ok()).unwrap_or(0);
            let file = files.iter().find(|(n, _)| n == name);
            let file = file.unwrap_or_else(|| panic!("{at}: not an input's name"));
            let lines = file.1.split('\n').count();
            assert!(
                line >= 1 && line <= lines,
                "{at}: line outside the {lines} of {name}"
            );
        }
        Err(_) => {}
    }
}

//! Fuzz check for `tcpsim merge` (issue 16): arbitrary shard files never
//! make `sweep::merge::merge` panic or hang; a refusal that names a place
//! names one of the inputs and a line inside it; and a merge that succeeds
//! holds each run of its sweep exactly once, in index order, every run's
//! seed and grid point the ones its index gives.
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
            assert_eq!(m.records.len() as u64, total, "a merge holds every run");
            let seeds = m.sweep.seeds.last - m.sweep.seeds.first + 1;
            for (i, r) in m.records.iter().enumerate() {
                let i = i as u64;
                assert_eq!(r.index, i, "runs in index order, each once");
                assert_eq!(r.point as u64, i / seeds, "run {i}'s grid point");
                assert_eq!(r.seed, m.sweep.seeds.first + i % seeds, "run {i}'s seed");
            }
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

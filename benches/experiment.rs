//! One experiment's setup and teardown, and sweep throughput (issue #6).
//!
//! `benches/configs/handshake.toml`: two hosts, 1 ms links, connect, write
//! 4 bytes, close, TIME-WAIT, expectations checked.
//!
//! - `experiment/fresh`: check the file's simulation, build it, run it,
//!   evaluate `[expect]`, drop everything (`tcpsim run` minus printing).
//! - `experiment/rerun`: the same run in a simulation kept from the
//!   previous seed (what a sweep worker does).
//! - `sweep/jobs=N`: `Plan::run_indices` over 10 000 seeds, everything the
//!   sweep aggregates included; the throughput is runs per second.

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tcpsim_runner::build::{Keep, blueprint, build};
use tcpsim_runner::evaluate::passes;
use tcpsim_runner::sweep::{Plan, aggregate};

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/configs/handshake.toml"
);

fn source() -> String {
    std::fs::read_to_string(FILE).expect("benches/configs/handshake.toml")
}

fn experiment(c: &mut Criterion) {
    let exp = tcpsim_runner::parse(&source(), FILE).expect("valid");
    let keep = Keep::for_expectations(&exp);
    let mut g = c.benchmark_group("experiment");
    g.throughput(Throughput::Elements(1));
    let mut seed = 0u64;
    g.bench_function("fresh", |b| {
        b.iter(|| {
            seed += 1;
            let r = build(&exp, seed, keep).expect("builds").run();
            black_box(passes(&exp, &r))
        })
    });
    let bp = blueprint(&exp, keep).expect("builds");
    let mut scratch = None;
    g.bench_function("rerun", |b| {
        b.iter(|| {
            seed += 1;
            let r = bp.rerun(&mut scratch, seed);
            black_box(passes(&exp, &r))
        })
    });
    g.finish();
}

fn sweep(c: &mut Criterion) {
    const RUNS: u64 = 10_000;
    let plan = Plan::new(
        &source(),
        FILE,
        &[],
        Some(format!("1..={RUNS}").parse().expect("range")),
    )
    .expect("plan");
    let indices: Vec<u64> = (0..RUNS).collect();
    let mut g = c.benchmark_group("sweep");
    g.throughput(Throughput::Elements(RUNS));
    g.sample_size(10);
    for jobs in [1, 2] {
        g.bench_function(format!("jobs={jobs}"), |b| {
            b.iter(|| {
                let records = plan.run_indices(&indices, jobs).expect("runs");
                black_box(aggregate(&plan.name, FILE, &records, &[]))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, experiment, sweep);
criterion_main!(benches);

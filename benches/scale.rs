//! Many concurrent connections in one simulation (issue #6): N
//! connections open at once from client hosts of 12 500 connections each
//! (one address pair has 16 384 ephemeral ports), 1 ms links, 4 bytes,
//! close, TIME-WAIT; event log off. The throughput is connections per
//! second, so criterion's time per element is the cost per connection;
//! it should not grow with N. Memory per connection: `benches/scale.sh`.

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tcpsim_runner::build::{Keep, build};

fn file(n: u64) -> String {
    format!(
        "{}/benches/configs/scale-{n}.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn scale(c: &mut Criterion) {
    let mut g = c.benchmark_group("concurrent");
    g.sample_size(10);
    for n in [1u64, 10, 100, 1_000, 10_000, 100_000] {
        let path = file(n);
        let source = std::fs::read_to_string(&path).expect("benches/configs/scale-N.toml");
        let exp = tcpsim_runner::parse(&source, &path).expect("valid");
        let keep = Keep::for_expectations(&exp);
        g.throughput(Throughput::Elements(n));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let r = build(&exp, exp.seed, keep).expect("builds").run();
                black_box(r.connections.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, scale);
criterion_main!(benches);

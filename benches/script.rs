//! Playing one packetdrill script (issue #13: a 20-line script in under
//! 1 ms of CPU): `tests/packetdrill/linux/active-open-local-close.pkt`, 20
//! lines (15 events) — parse, lower, build the endpoint, play — and the
//! same for the parse alone.

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tcpsim_runner::script::{Overrides, Verdict, parse, run};
use tcpsim_tcp::Profile;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/packetdrill/linux/active-open-local-close.pkt"
);

fn script(c: &mut Criterion) {
    let text = std::fs::read_to_string(FILE).expect("the script");
    let overrides = Overrides::default();
    let mut g = c.benchmark_group("script");
    g.throughput(Throughput::Elements(1));
    g.bench_function("play", |b| {
        b.iter(|| {
            let (played, _) =
                run(FILE, black_box(&text), Profile::Linux, &overrides).expect("plays");
            assert_eq!(played.verdict, Verdict::Ok);
            black_box(played)
        })
    });
    g.bench_function("parse", |b| {
        b.iter(|| black_box(parse(FILE, black_box(&text)).expect("parses")))
    });
    g.finish();
}

criterion_group!(benches, script);
criterion_main!(benches);

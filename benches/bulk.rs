//! Issue 14's throughput bound: `benches/configs/bulk-100mb.toml`, 100 MB
//! over a 1 Gbit/s link with 10 ms each way and 0.1 % loss on the data
//! direction, whole simulation in process (build, run, drop; event log
//! off, as `tcpsim run --quiet` keeps it). The throughput is simulated
//! segments (both ends' sends, every kind) per second of wall time.
//!
//! - `bulk/100mb/linux`: the file as it is (CUBIC, RACK-TLP, SACK,
//!   timestamps, the bounded send buffer that grows with cwnd);
//! - `bulk/100mb/rfc`: the same path with the `rfc` profile, SACK on and
//!   window scaling (shift 8) so the 16 MiB receive buffer is announced
//!   (Reno, RFC 6675 recovery, an unbounded send buffer).
//!
//! The process figure (`tcpsim run --quiet`, best of N, peak RSS) is
//! `benches/bulk.sh`.

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tcpsim_runner::build::{Keep, build};

fn bulk(c: &mut Criterion) {
    let path = format!(
        "{}/benches/configs/bulk-100mb.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let source = std::fs::read_to_string(&path).expect("benches/configs/bulk-100mb.toml");
    let rfc_source = source.replace(
        "profile = \"linux\"\n\n[tcp]\n",
        "profile = \"rfc\"\n\n[tcp]\nsack = true\nwindow_scale = 8\n",
    );
    assert_ne!(source, rfc_source, "the rfc variant edits the profile line");
    let mut g = c.benchmark_group("bulk");
    g.sample_size(10);
    for (name, text) in [("linux", &source), ("rfc", &rfc_source)] {
        let exp = tcpsim_runner::parse(text, &path).expect("valid");
        let keep = Keep::for_expectations(&exp);
        // Segments of one run: the run is deterministic, so every
        // iteration sends the same number.
        let r = build(&exp, exp.seed, keep).expect("builds").run();
        let segments: u64 = r
            .connections
            .iter()
            .flat_map(|c| [&c.client, &c.server])
            .map(|e| {
                tcpsim_tcp::SegmentKind::ALL
                    .iter()
                    .map(|&k| u64::from(e.sent.get(k)))
                    .sum::<u64>()
            })
            .sum();
        assert!(
            r.connections
                .iter()
                .all(|c| c.server.bytes_read == 100_000_000),
            "every octet arrives"
        );
        g.throughput(Throughput::Elements(segments));
        g.bench_with_input(BenchmarkId::new("100mb", name), &exp, |b, exp| {
            b.iter(|| {
                let r = build(exp, exp.seed, keep).expect("builds").run();
                black_box(r.events)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bulk);
criterion_main!(benches);

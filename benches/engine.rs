//! The per-packet costs of the network model (issue #6).
//!
//! - `link/*`: `Link::enqueue` for one packet: an ideal 1 ms link (no
//!   draw), a netem-like one (jitter, loss, duplication, corruption,
//!   reordering: every draw), and a rate-limited one (serialization queue).
//! - `event_queue/pop_push/N`: one pop and one push on the engine's event
//!   queue holding N events (steady state: the popped event schedules the
//!   next one later).
//! - `engine/bulk_transfer`: a whole simulation moving 1 MiB over a
//!   10 Mbit/s link; the throughput is engine events per second.

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tcpsim_net::rng::stream;
use tcpsim_net::{
    CloseMode, Distribution, EventQueue, Link, LinkParams, Loss, OpenMode, SimBuilder, Workload,
};
use tcpsim_tcp::{Config, Duration, Instant};

fn link(c: &mut Criterion) {
    let ideal = LinkParams {
        delay: Duration::from_millis(1),
        ..LinkParams::default()
    };
    let netem = LinkParams {
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(2),
        distribution: Distribution::Normal,
        loss: Loss::Bernoulli(0.01),
        duplicate: 0.01,
        corrupt: 0.01,
        reorder: 0.01,
        ..LinkParams::default()
    };
    let rate = LinkParams {
        delay: Duration::from_millis(10),
        rate_bps: Some(1_000_000_000),
        queue: 100_000,
        ..LinkParams::default()
    };
    let mut g = c.benchmark_group("link");
    g.throughput(Throughput::Elements(1));
    for (name, params) in [("ideal", ideal), ("netem", netem), ("rate", rate)] {
        let mut l = Link::new(params, stream(1, "link:a->b")).expect("valid");
        let mut now = Instant::ZERO;
        g.bench_function(name, |b| {
            b.iter(|| {
                now += Duration::from_micros(12);
                black_box(l.enqueue(now, 1500))
            })
        });
    }
    g.finish();
}

fn event_queue(c: &mut Criterion) {
    let mut g = c.benchmark_group("event_queue");
    g.throughput(Throughput::Elements(1));
    for n in [16u64, 1024, 100_000] {
        let mut q = EventQueue::with_capacity(n as usize + 1);
        // Spread over 1 ms steps, with ties.
        for i in 0..n {
            q.push(Instant::from_nanos(i * 1_000_000 / 3), [i, i]);
        }
        g.bench_with_input(BenchmarkId::new("pop_push", n), &n, |b, &n| {
            b.iter(|| {
                let (at, item) = q.pop().expect("never empty");
                q.push(at + Duration::from_micros(n * 1000 / 3), black_box(item));
            })
        });
    }
    g.finish();
}

fn engine(c: &mut Criterion) {
    let build = || {
        let mut b = SimBuilder::new(1);
        b.trace(false);
        let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
        let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
        b.listen(server, 80);
        let link = LinkParams {
            delay: Duration::from_millis(5),
            rate_bps: Some(10_000_000),
            ..LinkParams::default()
        };
        b.link(client, server, link.clone(), link);
        b.connection(Workload {
            client,
            server,
            port: 80,
            open_at: Instant::ZERO,
            open: OpenMode::Active,
            client_port: None,
            client_sends: 1 << 20,
            server_sends: 0,
            close: CloseMode::ClientFirst,
            close_at: None,
        });
        b.blueprint().expect("valid")
    };
    let bp = build();
    let events = bp.sim(1).run().events;
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(events));
    let mut scratch = None;
    g.bench_function("bulk_transfer", |b| {
        b.iter(|| black_box(bp.rerun(&mut scratch, 1).events))
    });
    g.finish();
}

criterion_group!(benches, link, event_queue, engine);
criterion_main!(benches);

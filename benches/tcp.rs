//! The per-segment cost of the TCP state machine (issue #6): two
//! `tcpsim-tcp` connections joined back to back, no network, no engine.
//!
//! - `tcp/handshake_and_close`: connect, 4 bytes, close, to TIME-WAIT's
//!   end: the cycle smoltcp's bare benchmark measures (11 segments).
//! - `tcp/bulk`: 1 MiB one way in 1460-byte segments with delayed ACKs;
//!   the throughput is segments handled (data and ACKs) per second.

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tcpsim_tcp::{Config, Connection, Duration, Instant, SeqNum};

const A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 49152);
const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);

/// Delivers every segment both ways at `now`, over and over, until neither
/// end has anything to send; returns how many segments were handled.
fn exchange(a: &mut Connection, b: &mut Connection, now: Instant) -> u64 {
    let mut n = 0;
    loop {
        let mut moved = false;
        while let Some(t) = a.poll_transmit() {
            b.handle_segment(now, &t.segment);
            n += 1;
            moved = true;
        }
        while let Some(t) = b.poll_transmit() {
            a.handle_segment(now, &t.segment);
            n += 1;
            moved = true;
        }
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        if !moved {
            return n;
        }
    }
}

/// Fires the earliest timer of either end; false when none is armed.
fn tick(a: &mut Connection, b: &mut Connection, now: &mut Instant) -> bool {
    let next = match (a.poll_timeout(), b.poll_timeout()) {
        (Some(x), Some(y)) => x.min(y),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => return false,
    };
    *now = next;
    a.handle_timeout(next);
    b.handle_timeout(next);
    true
}

/// A connection pair after the handshake: (client, server).
fn established(config: Config, now: Instant) -> (Connection, Connection) {
    let mut a = Connection::connect(now, config, A, B, SeqNum(1000));
    let syn = a.poll_transmit().expect("SYN").segment;
    let mut b = Connection::accept(now, config, B, &syn, SeqNum(5000));
    exchange(&mut a, &mut b, now);
    (a, b)
}

fn handshake_and_close(c: &mut Criterion) {
    let config = Config::rfc();
    let mut g = c.benchmark_group("tcp");
    g.throughput(Throughput::Elements(1));
    g.bench_function("handshake_and_close", |bench| {
        bench.iter(|| {
            let mut now = Instant::ZERO;
            let (mut a, mut b) = established(config, now);
            a.send(now, b"ping").expect("open");
            let mut segments = exchange(&mut a, &mut b, now);
            let mut buf = [0u8; 16];
            black_box(b.recv(&mut buf));
            a.shutdown(now).expect("open");
            segments += exchange(&mut a, &mut b, now);
            b.close(now);
            segments += exchange(&mut a, &mut b, now);
            while tick(&mut a, &mut b, &mut now) {
                segments += exchange(&mut a, &mut b, now);
            }
            black_box(segments)
        })
    });
    g.finish();
}

fn bulk(c: &mut Criterion) {
    const BYTES: usize = 1 << 20;
    let config = Config::rfc();
    let data = vec![7u8; BYTES];
    // Count the segments once, for the throughput.
    let run = |count: &mut u64| {
        let mut now = Instant::ZERO;
        let (mut a, mut b) = established(config, now);
        a.send(now, &data).expect("open");
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0;
        while got < BYTES {
            *count += exchange(&mut a, &mut b, now);
            got += b.recv(&mut buf);
            *count += exchange(&mut a, &mut b, now);
            if !tick(&mut a, &mut b, &mut now) {
                now += Duration::from_millis(1);
            }
        }
        black_box(got)
    };
    let mut segments = 0;
    run(&mut segments);
    let mut g = c.benchmark_group("tcp");
    g.throughput(Throughput::Elements(segments));
    g.bench_function("bulk", |bench| {
        bench.iter(|| {
            let mut n = 0;
            run(&mut n)
        })
    });
    g.finish();
}

criterion_group!(benches, handshake_and_close, bulk);
criterion_main!(benches);

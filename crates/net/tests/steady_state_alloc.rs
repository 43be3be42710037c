//! The event loop allocates nothing per event once a run is under way: a
//! transfer four times as long takes thousands more events and (almost) no
//! more allocations. The few it may take are the amortized growth of
//! buffers that scale with the data (the send buffer holds the whole
//! write), never one per event. Writing the captures as the run goes
//! (pcap and pcapng) allocates nothing per packet either.
//!
//! This binary has one test: the counting allocator sees every thread.

use std::alloc::System;
use std::net::Ipv4Addr;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tcpsim_net::{Capture, CloseMode, LinkParams, OpenMode, Outcome, SimBuilder, Workload};
use tcpsim_tcp::{Config, Duration, Instant};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations (and reallocations) during a run that sends `bytes` from
/// client to server over a 10 Mbit/s link with 5 ms of delay, and the
/// run's event count; with `capture`, both captures written (to
/// `io::sink()`) as the run goes.
fn allocations(bytes: u64, trace: bool, capture: bool) -> (usize, u64) {
    let mut b = SimBuilder::new(1);
    b.trace(trace);
    let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
    let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::linux());
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
        client_sends: bytes,
        server_sends: 0,
        close: CloseMode::ClientFirst,
        close_at: None,
    });
    let sim = if capture {
        let c = Capture::new().pcap(std::io::sink()).pcapng(std::io::sink());
        b.build_capturing(c)
    } else {
        b.build()
    }
    .expect("valid");
    let region = Region::new(GLOBAL);
    let r = sim.run();
    let change = region.change();
    assert_eq!(r.connections[0].outcome, Outcome::Closed);
    assert_eq!(r.connections[0].server.bytes_read, bytes);
    (change.allocations + change.reallocations, r.events)
}

#[test]
fn no_allocation_per_event_in_the_steady_state() {
    for (trace, capture) in [(false, false), (true, false), (false, true)] {
        let (short_allocs, short_events) = allocations(1 << 20, trace, capture);
        let (long_allocs, long_events) = allocations(4 << 20, trace, capture);
        let more_events = long_events - short_events;
        let more_allocs = long_allocs.saturating_sub(short_allocs);
        eprintln!(
            "trace {trace}, capture {capture}: 1 MiB: {short_events} events, {short_allocs} allocations; \
             4 MiB: {long_events} events, {long_allocs} allocations"
        );
        // 3 MiB more is about 2 150 more data segments, 3 200 more events.
        assert!(more_events > 3_000, "{more_events} more events");
        // Amortized growth only: a handful of doublings (send buffer,
        // receive buffer, trace), far from one per event.
        assert!(
            more_allocs <= 16,
            "{more_allocs} more allocations for {more_events} more events"
        );
    }
}

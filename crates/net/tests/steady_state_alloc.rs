//! The event loop allocates nothing per event once a run is under way: a
//! transfer four times as long takes thousands more events and (almost) no
//! more allocations. The few it may take are the amortized growth of
//! buffers that scale with the data (the send buffer holds the whole
//! write), never one per event. Writing the captures as the run goes
//! (pcap and pcapng) allocates nothing per packet either. The same holds
//! for a lossy transfer, where loss recovery runs all along: the SACK
//! scoreboard, RACK-TLP, fast retransmit, PRR and the `linux` timer wheel
//! (both ends `linux`), and RFC 6675 SACK recovery with NewReno and exact
//! timers (`rfc` with SACK on), over random loss and reordering.
//!
//! This binary has one test: the counting allocator sees every thread.

use std::alloc::System;
use std::net::Ipv4Addr;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tcpsim_net::{
    Capture, CloseMode, ConnReport, LinkParams, Loss, OpenMode, Outcome, SimBuilder, Workload,
};
use tcpsim_tcp::{Config, Duration, Instant, SegmentKind};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The ends of a transfer and its link (the same both ways).
struct Setup {
    name: &'static str,
    client: Config,
    server: Config,
    link: LinkParams,
}

/// A 10 Mbit/s link with 5 ms of delay, clean.
fn clean_link() -> LinkParams {
    LinkParams {
        delay: Duration::from_millis(5),
        rate_bps: Some(10_000_000),
        ..LinkParams::default()
    }
}

/// The clean link with 1 % random loss, and with `reorder` of the
/// packets sent at once, ahead of the ones still in their 5 ms of delay
/// (about four 1.2 ms packets: enough for three duplicate ACKs or a SACK
/// above them, RACK's reordering window and D-SACK undo).
fn lossy_link(reorder: f64) -> LinkParams {
    LinkParams {
        loss: Loss::Bernoulli(0.01),
        reorder,
        ..clean_link()
    }
}

/// `rfc` with SACK on: RFC 6675 loss recovery under NewReno.
fn rfc_sack() -> Config {
    Config {
        sack: true,
        ..Config::rfc()
    }
}

/// Allocations (and reallocations) during a run of `setup` that sends
/// `bytes` from client to server, the run's event count and the
/// connection's report; with `capture`, both captures written (to
/// `io::sink()`) as the run goes.
fn allocations(setup: &Setup, bytes: u64, trace: bool, capture: bool) -> (usize, u64, ConnReport) {
    let mut b = SimBuilder::new(1);
    b.trace(trace);
    let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), setup.client);
    let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), setup.server);
    b.listen(server, 80);
    b.link(client, server, setup.link.clone(), setup.link.clone());
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
    let mut r = sim.run();
    let change = region.change();
    let conn = r.connections.swap_remove(0);
    assert_eq!(conn.outcome, Outcome::Closed, "{}", setup.name);
    assert_eq!(conn.server.bytes_read, bytes, "{}", setup.name);
    (change.allocations + change.reallocations, r.events, conn)
}

/// Data segments the client sent again, and what its loss recovery
/// counted: (retransmissions, fast retransmits, RACK losses, tail loss
/// probes, RTOs).
fn recovery(conn: &ConnReport) -> (u32, u32, u32, u32, u32) {
    let s = conn.client.recovery.expect("the client had a connection");
    (
        conn.client.retransmissions.get(SegmentKind::Data),
        s.fast_retransmits,
        s.rack_losses,
        s.tlp_probes,
        s.rtos,
    )
}

/// A longer run of `label` had over 3 000 more events (or it did not run
/// longer), and its allocations grew by at most 16 for them (else the
/// case joins `over`, reported with the others at the end).
fn bound(over: &mut Vec<String>, label: &str, more_allocs: usize, more_events: u64) {
    assert!(more_events > 3_000, "{label}: {more_events} more events");
    if more_allocs > 16 {
        over.push(format!(
            "{label}: {more_allocs} more allocations for {more_events} more events"
        ));
    }
}

#[test]
fn no_allocation_per_event_in_the_steady_state() {
    // Every case runs, and every one over its bound is reported at the
    // end, with the figures of all of them above.
    let mut over = Vec::new();

    let clean = [
        Setup {
            name: "clean, rfc -> linux",
            client: Config::rfc(),
            server: Config::linux(),
            link: clean_link(),
        },
        // A `linux` sender's send buffer is bounded: the application
        // writes again at each `Writable`, all along the transfer.
        Setup {
            name: "clean, linux -> linux",
            client: Config::linux(),
            server: Config::linux(),
            link: clean_link(),
        },
    ];
    for setup in &clean {
        for (trace, capture) in [(false, false), (true, false), (false, true)] {
            let (short_allocs, short_events, _) = allocations(setup, 1 << 20, trace, capture);
            let (long_allocs, long_events, _) = allocations(setup, 4 << 20, trace, capture);
            let more_events = long_events - short_events;
            let more_allocs = long_allocs.saturating_sub(short_allocs);
            eprintln!(
                "{}, trace {trace}, capture {capture}: 1 MiB: {short_events} events, \
                 {short_allocs} allocations; 4 MiB: {long_events} events, {long_allocs} allocations",
                setup.name
            );
            // 3 MiB more is about 2 150 more data segments, 3 200 more
            // events; amortized growth only: a handful of doublings (send
            // buffer, receive buffer, trace), far from one per event.
            let label = format!("{}, trace {trace}, capture {capture}", setup.name);
            bound(&mut over, &label, more_allocs, more_events);
        }
    }

    let lossy = [
        Setup {
            name: "1 % loss, linux -> linux",
            client: Config::linux(),
            server: Config::linux(),
            link: lossy_link(0.0),
        },
        Setup {
            name: "1 % loss and 1 % reordering, linux -> linux",
            client: Config::linux(),
            server: Config::linux(),
            link: lossy_link(0.01),
        },
        Setup {
            name: "1 % loss and 1 % reordering, rfc with SACK -> linux",
            client: rfc_sack(),
            server: Config::linux(),
            link: lossy_link(0.01),
        },
        Setup {
            name: "1 % loss and 1 % reordering, rfc with SACK -> rfc with SACK",
            client: rfc_sack(),
            server: rfc_sack(),
            link: lossy_link(0.01),
        },
    ];
    for setup in &lossy {
        for trace in [false, true] {
            let (short_allocs, short_events, short) = allocations(setup, 1 << 20, trace, false);
            let (long_allocs, long_events, long) = allocations(setup, 4 << 20, trace, false);
            let more_events = long_events - short_events;
            let more_allocs = long_allocs.saturating_sub(short_allocs);
            let (short_rx, ..) = recovery(&short);
            let (long_rx, fast, rack, tlp, rtos) = recovery(&long);
            eprintln!(
                "{}, trace {trace}: 1 MiB: {short_events} events, {short_allocs} allocations, \
                 {short_rx} data retransmissions; 4 MiB: {long_events} events, {long_allocs} \
                 allocations, {long_rx} data retransmissions ({fast} fast, {rack} RACK losses, \
                 {tlp} TLPs, {rtos} RTOs)",
                setup.name
            );
            // Not vacuous: loss recovery ran in both runs, and all along
            // the longer one. 1 MiB is 719 full-size segments, each lost
            // on the way with probability 1 %: 7.2 losses expected
            // (standard deviation 2.7), and every lost segment is sent
            // again. The 4 MiB run has the same first 719 (same seed) and
            // 2 154 more: 21.5 more losses expected (standard deviation
            // 4.6), 8 is three standard deviations below.
            assert!(short_rx >= 1, "{}: {short_rx} retransmissions", setup.name);
            assert!(
                long_rx >= short_rx + 8,
                "{}: {short_rx} then {long_rx} retransmissions",
                setup.name
            );
            // Most of them repaired before the timer: by SACK or
            // duplicate ACKs (`rfc`), by RACK (`linux`), not by RTOs.
            assert!(
                fast + rack > rtos,
                "{}: {fast} fast, {rack} RACK, {rtos} RTOs",
                setup.name
            );
            // 2 154 more data segments, 99 % of them delivered, and an ACK
            // for at least every second one, 99 % of those delivered:
            // over 3 000 more deliveries, each an event. As for the clean
            // transfer, what may grow with the run is the amortized
            // doubling of buffers that scale with the data (the send
            // buffer holds the whole write; the trace keeps every event)
            // or with the largest flight the run reaches (the receive
            // buffer and its out-of-order queue, the scoreboard, the
            // retransmission queue, the spare payload buffers): O(log n)
            // each, a handful in all. Never one per event, per segment out
            // of order or per loss: the 4 MiB run has thousands more
            // events, hundreds more segments out of order and about 21
            // more losses, so even one allocation per loss would most
            // likely pass 16.
            let label = format!("{}, trace {trace}", setup.name);
            bound(&mut over, &label, more_allocs, more_events);
        }
    }
    assert!(
        over.is_empty(),
        "allocations per event:\n{}",
        over.join("\n")
    );
}

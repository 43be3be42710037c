//! A capture of a connection whose first SYN is lost (tcpsim SPEC §6).
//!
//! Two hosts — client 10.0.0.1 and server 10.0.0.2, listening on port 80 —
//! joined by a link with 50 ms of delay each way, both running the RFC
//! profile (`Config::rfc()`). A targeted fault drops the client's first SYN,
//! so the client retransmits it when its initial 1 s retransmission timeout
//! fires (RFC 6298), and the handshake completes one round trip later. The
//! client then writes 1000 octets, the server 500, and the client closes
//! first.
//!
//! The capture is what `tcpdump` on each sender's interface would have
//! recorded: every segment at its send time, before the link loses it — so
//! the dropped SYN is in it at 0 s, and its retransmission at exactly 1 s.
//! Timestamps are in nanoseconds from the start of the run (the capture
//! starts at the Unix epoch), the link type is LINKTYPE_RAW (IPv4 packets)
//! and every checksum is valid, so Wireshark's TCP analysis flags exactly
//! one packet, the second SYN, as a retransmission.
//!
//! ```text
//! cargo run -p tcpsim-net --example pcap_lost_syn -- lost-syn.pcap
//! tshark -r lost-syn.pcap
//! ```
//!
//! It prints one line: the number of segments captured and how the
//! connection ended. `.ci/pcap-check.sh` runs it and checks the capture with
//! tshark.

use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use tcpsim_net::{
    CloseMode, FaultAction, LinkParams, OpenMode, RunResult, SimBuilder, Workload, fault,
};
use tcpsim_tcp::{Config, Duration, Instant, SegmentKind};

/// The seed of the run (nothing in it is random, but a run needs one).
const SEED: u64 = 1;

/// Size of the pcap global header and of each record header.
const GLOBAL_HEADER: usize = 24;
const RECORD_HEADER: usize = 16;

fn main() -> ExitCode {
    let Some(path) = out_path(std::env::args_os().skip(1).collect()) else {
        eprintln!("usage: pcap_lost_syn OUT.pcap");
        return ExitCode::from(2);
    };

    let result = match simulate() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pcap_lost_syn: cannot build the simulation: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(pcap) = result.pcap.as_deref() else {
        eprintln!("pcap_lost_syn: the run kept no capture");
        return ExitCode::FAILURE;
    };
    let Some(segments) = count_records(pcap) else {
        eprintln!("pcap_lost_syn: the capture is malformed");
        return ExitCode::FAILURE;
    };
    if let Err(e) = std::fs::write(&path, pcap) {
        eprintln!("pcap_lost_syn: cannot write {}: {e}", path.display());
        return ExitCode::from(2);
    }

    let Some(conn) = result.connections.first() else {
        eprintln!("pcap_lost_syn: the run reported no connection");
        return ExitCode::FAILURE;
    };
    let established = conn
        .client
        .established
        .map_or_else(|| "never".to_owned(), |t| t.to_string());
    let syn_retransmissions = conn.client.retransmissions.get(SegmentKind::Syn);
    println!(
        "{}: {segments} segments captured, outcome {} \
         (client established at {established}, {syn_retransmissions} SYN retransmission(s), run ended at {})",
        path.display(),
        conn.outcome.name(),
        result.end,
    );
    ExitCode::SUCCESS
}

/// The one argument: where to write the capture.
fn out_path(mut args: Vec<OsString>) -> Option<PathBuf> {
    if args.len() != 1 || args[0].is_empty() {
        return None;
    }
    args.pop().map(PathBuf::from)
}

/// Runs the lost-SYN scenario with the capture on.
fn simulate() -> Result<RunResult, tcpsim_net::BuildError> {
    let mut b = SimBuilder::new(SEED);
    b.pcap(true);
    let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
    let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
    b.listen(server, 80);
    let link = LinkParams {
        delay: Duration::from_millis(50),
        ..LinkParams::default()
    };
    b.link(client, server, link.clone(), link);
    b.fault(fault(
        FaultAction::Drop,
        Some(client),
        Some(server),
        &[SegmentKind::Syn],
        Some(&[1]),
    ));
    b.connection(Workload {
        client,
        server,
        port: 80,
        open_at: Instant::ZERO,
        open: OpenMode::Active,
        client_port: None,
        client_sends: 1000,
        server_sends: 500,
        close: CloseMode::ClientFirst,
        close_at: None,
    });
    Ok(b.build()?.run())
}

/// The number of packet records in a pcap, or `None` if a record runs past
/// the end.
fn count_records(pcap: &[u8]) -> Option<usize> {
    let mut rest = pcap.get(GLOBAL_HEADER..)?;
    let mut n = 0;
    while !rest.is_empty() {
        let header = rest.get(..RECORD_HEADER)?;
        let incl_len = u32::from_le_bytes(header[8..12].try_into().ok()?) as usize;
        rest = rest.get(RECORD_HEADER + incl_len..)?;
        n += 1;
    }
    Some(n)
}

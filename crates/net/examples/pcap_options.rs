//! A capture of a connection with TCP options on both sides (tcpsim SPEC
//! §6, issue 12).
//!
//! Two hosts — client 10.0.0.1 and server 10.0.0.2, listening on port 80 —
//! joined by a link with 50 ms of delay each way, both running the RFC
//! profile with every option switched on through `Config`: window scale 7,
//! SACK (RFC 2018) and timestamps (RFC 7323). A targeted fault drops the
//! client's first data segment, so the second arrives out of order and the
//! server's ACK of it carries a SACK block, until the client retransmits.
//!
//! ```text
//! cargo run -p tcpsim-net --example pcap_options -- options.pcap
//! tshark -r options.pcap -o tcp.relative_sequence_numbers:FALSE
//! ```
//!
//! It prints one summary line (`<path>: N segments captured, outcome ...`),
//! then, for every segment in the capture in order, the options tcpsim sent,
//! from the run's trace, as `tshark -T fields -E separator=';'` prints the
//! fields `tcp.options.mss_val`, `tcp.options.wscale.shift`,
//! `tcp.options.sack_perm` (present: `1`), `tcp.options.timestamp.tsval`,
//! `tcp.options.timestamp.tsecr`, `tcp.options.sack_le` and
//! `tcp.options.sack_re` (absolute, several blocks joined by commas), an
//! empty field for an option the segment lacks:
//!
//! ```text
//! options: 1460;7;1;4242;0;;
//! ```
//!
//! `.ci/pcap-check.sh` runs it and checks that tshark decodes the same.

use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use tcpsim_net::{
    CloseMode, FaultAction, LinkParams, OpenMode, RunResult, SegmentInfo, SimBuilder, TraceKind,
    Workload, fault,
};
use tcpsim_tcp::{Config, Duration, Instant, SegmentKind};

/// The seed of the run.
const SEED: u64 = 1;

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.len() != 1 || args[0].is_empty() {
        eprintln!("usage: pcap_options OUT.pcap");
        return ExitCode::from(2);
    }
    let path = PathBuf::from(args.remove(0));

    let result = match simulate() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pcap_options: cannot build the simulation: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (Some(pcap), Some(trace)) = (result.pcap.as_deref(), result.trace.as_deref()) else {
        eprintln!("pcap_options: the run kept no capture or no trace");
        return ExitCode::FAILURE;
    };
    if let Err(e) = std::fs::write(&path, pcap) {
        eprintln!("pcap_options: cannot write {}: {e}", path.display());
        return ExitCode::from(2);
    }
    let sent: Vec<&SegmentInfo> = trace
        .iter()
        .filter_map(|t| match &t.kind {
            TraceKind::Send { segment, .. } => Some(segment),
            _ => None,
        })
        .collect();
    let Some(conn) = result.connections.first() else {
        eprintln!("pcap_options: the run reported no connection");
        return ExitCode::FAILURE;
    };
    println!(
        "{}: {} segments captured, outcome {} (run ended at {})",
        path.display(),
        sent.len(),
        conn.outcome.name(),
        result.end,
    );
    for s in sent {
        println!("options: {}", fields(s));
    }
    ExitCode::SUCCESS
}

/// The options of one segment as tshark's field line (see the module docs).
fn fields(s: &SegmentInfo) -> String {
    let o = &s.options;
    let opt = |v: Option<String>| v.unwrap_or_default();
    let edges = |pick: fn(&(tcpsim_tcp::SeqNum, tcpsim_tcp::SeqNum)) -> u32| {
        let v: Vec<String> = o
            .sack
            .as_slice()
            .iter()
            .map(|b| pick(b).to_string())
            .collect();
        v.join(",")
    };
    [
        opt(s.mss.map(|m| m.to_string())),
        opt(o.window_scale.map(|w| w.to_string())),
        if o.sack_permitted {
            "1".to_owned()
        } else {
            String::new()
        },
        opt(o.timestamps.map(|t| t.val.to_string())),
        opt(o.timestamps.map(|t| t.ecr.to_string())),
        edges(|b| b.0.0),
        edges(|b| b.1.0),
    ]
    .join(";")
}

/// Runs the scenario with the capture and the trace on.
fn simulate() -> Result<RunResult, tcpsim_net::BuildError> {
    let mut config = Config::rfc();
    config.window_scale = Some(7);
    config.sack = true;
    config.timestamps = true;
    // Nagle off (`TCP_NODELAY`): the short second segment goes with the
    // first, not after its ACK (RFC 1122 §4.2.3.4), so that it arrives out
    // of order when the first is dropped.
    config.nagle = tcpsim_tcp::Nagle::Off;
    let mut b = SimBuilder::new(SEED);
    b.pcap(true);
    let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), config);
    let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), config);
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
        &[SegmentKind::Data],
        Some(&[1]),
    ));
    b.connection(Workload {
        client,
        server,
        port: 80,
        open_at: Instant::ZERO,
        open: OpenMode::Active,
        client_port: None,
        client_sends: 2000,
        server_sends: 500,
        close: CloseMode::ClientFirst,
        close_at: None,
    });
    Ok(b.build()?.run())
}

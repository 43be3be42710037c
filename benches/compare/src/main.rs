//! `compare`: the cost of tcpsim's handshake experiment in other
//! simulators and stacks (issue 19).
//!
//! tcpsim's sweep benchmark, `benches/configs/handshake.toml`, is one
//! experiment: a client and a server host joined by a 1 ms link with no
//! loss; the client connects to port 80, writes 4 bytes and closes; the
//! server reads them, reads end-of-stream and closes (setup, 4 bytes, a
//! four-way close). This binary runs the same work in
//!
//! - `turmoil` 0.7 ([`with_turmoil`]),
//! - `turmoil-net` 0.1 ([`with_turmoil_net`]),
//! - `smoltcp` ([`with_smoltcp`]: two TCP sockets, no network model),
//!
//! each experiment a fresh simulation (or pair of stacks), `RUNS` of them
//! back to back, best of `REPEAT` repetitions, and prints per contender the
//! runs, the wall seconds, the microseconds per experiment and the
//! experiments per second. Every experiment checks that the server got the
//! 4 bytes and end-of-stream and that the client saw end-of-stream, and
//! panics otherwise, so a harness that does less work cannot report a
//! faster figure.
//!
//! ```text
//! compare [--runs N] [--repeat R] [CONTENDER...]
//! ```
//!
//! `N` defaults to 100 000 and `R` to 3; the contenders default to all
//! three. The lines that start with `best` are the ones
//! `benches/compare.sh` reads.

mod with_smoltcp;
mod with_turmoil;
mod with_turmoil_net;

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

/// The 4 bytes the client writes, the same count as `client_sends = 4`.
pub const PAYLOAD: &[u8; 4] = b"ping";

/// The server's port, as in `handshake.toml`.
pub const PORT: u16 = 80;

/// The segments of one experiment in tcpsim's `rfc` profile (SYN,
/// SYN-ACK, ACK, data, the server's delayed ACK, FIN, ACK, FIN, ACK); the
/// contenders whose segments can be counted assert the same.
pub const SEGMENTS: u32 = 9;

/// One contender: its name and one experiment for a seed.
struct Contender {
    name: &'static str,
    experiment: fn(u64),
}

const CONTENDERS: [Contender; 3] = [
    Contender {
        name: "turmoil",
        experiment: with_turmoil::experiment,
    },
    Contender {
        name: "turmoil-net",
        experiment: with_turmoil_net::experiment,
    },
    Contender {
        name: "smoltcp",
        experiment: with_smoltcp::experiment,
    },
];

const USAGE: &str = "usage: compare [--runs N] [--repeat R] [turmoil|turmoil-net|smoltcp]...";

fn main() -> ExitCode {
    let mut runs: u64 = 100_000;
    let mut repeat: u32 = 3;
    let mut chosen: Vec<&Contender> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let number = |args: &mut dyn Iterator<Item = String>| {
            args.next()
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|&v| v > 0)
        };
        match arg.as_str() {
            "--runs" => match number(&mut args) {
                Some(v) => runs = v,
                None => return usage("--runs needs a count above 0"),
            },
            "--repeat" => match number(&mut args).and_then(|v| u32::try_from(v).ok()) {
                Some(v) => repeat = v,
                None => return usage("--repeat needs a count above 0"),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            name => match CONTENDERS.iter().find(|c| c.name == name) {
                Some(c) => chosen.push(c),
                None => return usage(&format!("unknown contender {name:?}")),
            },
        }
    }
    if chosen.is_empty() {
        chosen = CONTENDERS.iter().collect();
    }

    println!("segments per experiment (tcpsim: {SEGMENTS} with rfc, 8 with linux)");
    println!("  turmoil-net {}", with_turmoil_net::segments());
    println!("  smoltcp     {}", with_smoltcp::segments());
    println!();
    println!(
        "{:<6} {:<12} {:>8} {:>10} {:>10} {:>12}",
        "rep", "contender", "runs", "wall s", "µs/exp", "exp/s"
    );
    for c in chosen {
        let mut best = f64::INFINITY;
        for rep in 1..=repeat {
            let seconds = time_runs(c, runs);
            best = best.min(seconds);
            print_line(&rep.to_string(), c.name, runs, seconds);
        }
        print_line("best", c.name, runs, best);
    }
    ExitCode::SUCCESS
}

/// Runs `runs` fresh experiments of `c` back to back, seeds 1, 2, …, and
/// returns the wall seconds they took.
fn time_runs(c: &Contender, runs: u64) -> f64 {
    let start = Instant::now();
    for seed in 1..=runs {
        (c.experiment)(black_box(seed));
    }
    start.elapsed().as_secs_f64()
}

fn print_line(rep: &str, name: &str, runs: u64, seconds: f64) {
    println!(
        "{rep:<6} {name:<12} {runs:>8} {seconds:>10.3} {:>10.2} {:>12.0}",
        seconds * 1e6 / runs as f64,
        runs as f64 / seconds,
    );
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("compare: {problem}\n{USAGE}");
    ExitCode::from(2)
}

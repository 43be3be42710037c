//! Fuzz check for the command line (issue 16): any argument vector makes
//! `tcpsim` exit with one of its codes (0, 1, 2, 3) or a clap usage error
//! (exit 2), never a panic, and a bad command line says what was wrong.
//!
//! Input layout: up to 12 arguments separated by NUL bytes (each cut to 200
//! bytes, read lossily as UTF-8), after the program's name. The command
//! runs in-process through the binary's own parser and dispatch
//! (`src/main.rs`, included by path).
//!
//! To keep the fuzzer away from the machine's files, every argument that
//! is a fixture's name (`a.toml`, `b.pkt`, `c.jsonl`, `d`, the outputs
//! `o1`, `o2`) is replaced by the fixture's path in a directory of its
//! own; the value of an output flag (`--pcap`, `--diagram`, `--plot`,
//! `--junit`, and `--bless`, which rewrites goldens) must be a fixture, and
//! any other argument that names an existing path, or holds a `/`, skips
//! the input. The fixtures are small (one handshake, a three-seed sweep), and
//! inputs that would run long by design are skipped: a sweep of more than
//! 500 runs (2 points × 250 seeds), and any argument naming sends, counts,
//! step lists, `duration`, `interval` or `[sweep]` keys.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[path = "../../src/main.rs"]
#[allow(dead_code, unreachable_pub, missing_docs)]
mod tcpsim_main;

/// Flags whose value is a file tcpsim writes.
const OUTPUTS: [&str; 4] = ["--pcap", "--diagram", "--plot", "--junit"];

/// The fixtures: name and contents (`d` is a directory holding `a.toml`).
const FIXTURES: [(&str, &str); 3] = [
    (
        "a.toml",
        "seed = 3\nduration = \"20s\"\n\
         [[hosts]]\nname = \"client\"\naddr = \"10.0.0.1\"\n\
         [[hosts]]\nname = \"server\"\naddr = \"10.0.0.2\"\nlisten = [80]\n\
         [[links]]\na = \"client\"\nb = \"server\"\ndelay = \"5ms\"\nloss = 0.1\n\
         [[connections]]\nclient = \"client\"\nserver = \"server\"\nport = 80\nclient_sends = 3000\n\
         [expect]\noutcome = \"closed\"\n\
         [sweep]\nseeds = \"1..=3\"\ngrid = { \"links.0.delay\" = [\"1ms\", \"2ms\"] }\n",
    ),
    (
        "b.pkt",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
         +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n\
         +0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n\
         +0 < S 0:0(0) win 65535 <mss 1460>\n\
         +0 > S. 0:0(0) ack 1 <...>\n\
         +0.1 < . 1:1(0) ack 1 win 65535\n\
         +0 accept(3, ..., ...) = 4\n",
    ),
    ("c.jsonl", "{\"not\": \"a shard line\"}\n"),
];

/// The fixture directory, made once.
fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tcpsim-fuzz-cli-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("d")).expect("makes the fixture directory");
        for (name, text) in FIXTURES {
            std::fs::write(dir.join(name), text).expect("writes a fixture");
        }
        std::fs::write(dir.join("d").join("a.toml"), FIXTURES[0].1).expect("writes a fixture");
        dir
    })
}

/// `arg`'s fixture path, if it names one.
fn fixture(arg: &str) -> Option<String> {
    let known = FIXTURES.iter().any(|(n, _)| *n == arg) || ["d", "o1", "o2"].contains(&arg);
    known.then(|| fixtures().join(arg).display().to_string())
}

/// The arguments with fixtures in place, or `None` to skip the input.
fn sandboxed(args: &[String]) -> Option<Vec<String>> {
    let mut out = vec!["tcpsim".to_owned()];
    let mut output_next = false;
    for a in args {
        if let Some(path) = fixture(a) {
            out.push(path);
            output_next = false;
            continue;
        }
        if output_next || a.contains('/') || a == "--bless" {
            return None;
        }
        if let Some((flag, value)) = a.split_once('=') {
            if OUTPUTS.contains(&flag) {
                out.push(format!("{flag}={}", fixture(value)?));
                continue;
            }
        }
        if !a.starts_with('-') && !a.is_empty() && Path::new(a).exists() {
            return None;
        }
        output_next = OUTPUTS.contains(&a.as_str());
        out.push(a.clone());
    }
    Some(out)
}

/// Whether the input asks for long work by design: a key that makes a
/// run large, or a sweep of more than 500 runs.
fn long(args: &[String]) -> bool {
    let heavy = ["sends", "count", "_app", "sweep.", "duration", "interval"];
    if (args.iter()).any(|a| heavy.iter().any(|h| a.contains(h))) {
        return true;
    }
    if args.first().is_none_or(|c| c != "sweep") {
        return false;
    }
    // The fixture's own sweep is 2 points x 3 seeds; --seeds may change it.
    let seeds = args
        .iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix("--seeds") {
            Some("") => args.get(i + 1).cloned(),
            Some(v) => v.strip_prefix('=').map(str::to_owned),
            None => None,
        });
    seeds.is_some_and(|s| {
        s.parse::<tcpsim_runner::experiment::SeedRange>()
            .is_ok_and(|r| r.len() > 250)
    })
}

/// Runs the argument vector in `data` (see the module's documentation).
pub fn check(data: &[u8]) {
    let args: Vec<String> = data
        .split(|&b| b == 0)
        .take(12)
        .map(|a| String::from_utf8_lossy(&a[..a.len().min(200)]).into_owned())
        .collect();
    if long(&args) {
        return;
    }
    let Some(argv) = sandboxed(&args) else {
        return;
    };
    match tcpsim_main::run_args(&argv) {
        Ok(code) => assert!(code <= 3, "{argv:?}: exit code {code}"),
        Err(e) => {
            // What clap prints, rendered in full: it must not panic, and a
            // usage error names itself.
            let text = e.render().to_string();
            if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                // `tcpsim` alone (or `tcpsim --`): the help, as an error.
                assert!(text.contains("Usage: tcpsim"), "{argv:?}: {text}");
                assert_eq!(e.exit_code(), 2, "{argv:?}: {text}");
            } else if e.use_stderr() {
                assert!(text.starts_with("error:"), "{argv:?}: {text}");
                assert_eq!(e.exit_code(), 2, "{argv:?}: {text}");
            }
        }
    }
}

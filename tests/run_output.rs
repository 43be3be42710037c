//! `tcpsim run` prints every event of a run of any length in memory that
//! does not grow with the run (issue 16, docs/report.md "Memory"): the
//! events go to a temporary file as the run makes them and are read back
//! once it has ended. Its text is byte for byte the timeline the library
//! renders from a kept trace (the JSON report is held to the library's in
//! `report_types`), and a transfer whose kept trace alone would not fit
//! runs within a fixed memory limit.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tcpsim::net::TraceRecord;
use tcpsim::runner::build::{Keep, build};
use tcpsim::runner::parse;
use tcpsim::runner::report::Meta;
use tcpsim::runner::timeline::{render, render_summary};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tcpsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the tcpsim binary runs")
}

/// Every `configs/*.toml`, sorted.
fn configs() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("configs"))
        .expect("configs/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no configs/*.toml");
    files
}

/// `out` is `first` followed by nothing or by the expectations block.
fn is_followed_by_expectations(out: &str, first: &str) -> bool {
    out.strip_prefix(first)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("expectations:\n"))
}

#[test]
fn the_printed_timeline_is_the_one_rendered_from_the_kept_trace() {
    for path in configs() {
        let name = path.display().to_string();
        let source = std::fs::read_to_string(&path).unwrap();
        let exp = parse(&source, &name).unwrap();
        let r = build(&exp, exp.seed, Keep::ALL).unwrap().run();
        let meta = Meta::new(&exp, exp.seed);
        let text = tcpsim(&["run", &name]);
        let quiet = tcpsim(&["run", &name, "--quiet"]);
        for (o, want) in [(&text, render(&meta, &r)), (&quiet, render_summary(&r))] {
            assert!(
                matches!(o.status.code(), Some(0 | 1)),
                "{name}: exit {:?}",
                o.status.code()
            );
            let out = String::from_utf8(o.stdout.clone()).unwrap();
            assert!(
                is_followed_by_expectations(&out, &want),
                "{name}: `tcpsim run` printed\n{out}\ninstead of\n{want}"
            );
        }
    }
}

/// The limit on the data segment (heap and private mappings, `ulimit -d`)
/// under which the runs below must succeed.
const LIMIT_KIB: u64 = 40 * 1024;

/// What a run of the bounded path takes besides the output, whatever its
/// length: the two hosts' buffers, the simulator, the allocator. Measured
/// at 16-24 MiB, debug and release alike; the output adds two 64 KiB
/// buffers and one step's records.
const BASE_KIB: u64 = 24 * 1024;

/// A single connection sending `mib` MiB each way over a 10 Gbit/s link
/// (64 MiB: about 280 000 events, a few seconds in a debug build), in a
/// fresh directory of its own.
fn bulk(name: &str, mib: u64) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = mib * 1024 * 1024;
    let text = format!(
        r#"
name = "bulk-memory"
seed = 1
profile = "linux"
[[hosts]]
name = "client"
addr = "10.0.0.1"
[[hosts]]
name = "server"
addr = "10.0.0.2"
listen = [80]
[[links]]
a = "client"
b = "server"
delay = "1ms"
rate = "10Gbit"
[[connections]]
client = "client"
server = "server"
port = 80
client_sends = {bytes}
server_sends = {bytes}
[expect]
outcome = "closed"
retransmit_at = {{ SYN = [] }}
"#
    );
    let path = dir.join("bulk-memory.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `tcpsim ARGS` with its data segment limited to [`LIMIT_KIB`], checked
/// to succeed; its standard output is read as it comes and given to
/// `read`.
fn limited(args: &[&str], read: impl FnOnce(&mut dyn Read)) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -d {LIMIT_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_tcpsim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    read(&mut child.stdout.take().unwrap());
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "tcpsim {args:?} under ulimit -d {LIMIT_KIB}: {:?}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The number of lines of `out` before its first empty line, and its last
/// line.
fn count_lines(out: &mut dyn Read) -> (u64, String) {
    let (mut n, mut blank, mut last) = (0, false, String::new());
    for line in BufReader::new(out).lines() {
        let line = line.expect("the output is UTF-8 text");
        blank |= line.is_empty();
        n += u64::from(!blank);
        last = line;
    }
    (n, last)
}

#[test]
fn a_long_run_prints_every_event_in_bounded_memory() {
    let file = bulk("run-output-memory", 64);

    // The timeline: a header line, then one line per event up to the
    // first empty line.
    let mut timeline = (0, String::new());
    limited(&["run", &file], |out| timeline = count_lines(out));
    let (events, last) = (timeline.0 - 1, timeline.1);
    assert!(last.contains("ok   retransmit_at.SYN"), "{last}");
    // The trace of this run, kept in memory, would not fit beside what the
    // run needs anyway: the test shows growth if there is any.
    let kept = events * size_of::<TraceRecord>() as u64 / 1024;
    assert!(
        BASE_KIB + kept > LIMIT_KIB,
        "{events} events ({kept} KiB kept) no longer show growth: make the transfer larger"
    );

    // The JSON report (read in blocks: it is about 125 MB).
    let (mut bytes, mut tail) = (0, Vec::new());
    limited(&["run", &file, "--format", "json"], |out| {
        let mut block = vec![0u8; 1 << 16];
        loop {
            let n = out.read(&mut block).expect("reads the report");
            if n == 0 {
                break;
            }
            bytes += n;
            // The last bytes, whatever the size of the last reads.
            tail.extend_from_slice(&block[..n]);
            tail.drain(..tail.len().saturating_sub(64));
        }
    });
    assert!(
        tail.ends_with(b"\n  \"passed\": true\n}\n"),
        "{bytes} bytes"
    );
    assert!(
        bytes as u64 > events * 200,
        "{bytes} bytes for {events} events"
    );

    // `--quiet`: an expectation that needs the trace (`retransmit_at`) reads
    // it as the run goes, and keeps only what it checks.
    let mut quiet = (0, String::new());
    limited(&["run", &file, "--quiet"], |out| quiet = count_lines(out));
    assert!(quiet.1.contains("ok   retransmit_at.SYN"), "{}", quiet.1);
}

/// `sh -c SCRIPT` with `$0` the tcpsim binary.
fn sh(script: &str, tmpdir: Option<&str>) -> Output {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_tcpsim"))
        .current_dir(root());
    if let Some(t) = tmpdir {
        c.env("TMPDIR", t);
    }
    c.output().expect("sh runs")
}

#[test]
fn output_and_temporary_file_errors_are_exit_codes_not_panics() {
    let file = bulk("run-output-errors", 1);
    for format in ["text", "json"] {
        // A pipe closed after the first byte: quiet, exit 0 (the run's
        // output is far larger than the buffers).
        let head = sh(
            &format!(
                r#"("$0" run {file} --format {format}; echo "exit $?" >&2) | head -c 1 >/dev/null"#
            ),
            None,
        );
        let err = String::from_utf8_lossy(&head.stderr);
        assert_eq!(err, "exit 0\n", "{format}");
        // A full disk: exit 3, said.
        let full = sh(
            &format!(r#""$0" run {file} --format {format} >/dev/full"#),
            None,
        );
        let err = String::from_utf8_lossy(&full.stderr);
        assert_eq!(full.status.code(), Some(3), "{format}: {err}");
        assert!(err.contains("cannot write output"), "{format}: {err}");
        // No temporary directory: exit 3, said, nothing printed.
        let none = sh(
            &format!(r#""$0" run {file} --format {format}"#),
            Some("/nonexistent"),
        );
        let err = String::from_utf8_lossy(&none.stderr);
        assert_eq!(none.status.code(), Some(3), "{format}: {err}");
        assert!(
            err.contains("cannot make a temporary file for the event log in /nonexistent"),
            "{format}: {err}"
        );
        assert!(none.stdout.is_empty());
        assert!(!err.contains("panicked"), "{format}: {err}");
    }
    // `--quiet` needs no temporary file.
    let quiet = sh(&format!(r#""$0" run {file} --quiet"#), Some("/nonexistent"));
    assert_eq!(
        quiet.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
}

#[test]
fn a_long_sweep_is_aggregated_in_bounded_memory() {
    // 200 000 runs of the handshake: a sweep aggregates them as they end,
    // keeping two times of 8 bytes per run (about 3 MiB), where a record
    // per run would not fit beside the rest.
    const RUNS: u64 = 200_000;
    let record = (size_of::<tcpsim::runner::sweep::RunRecord>()
        + size_of::<tcpsim::runner::sweep::ConnSample>()) as u64;
    assert!(
        BASE_KIB + RUNS * record / 1024 > LIMIT_KIB,
        "{RUNS} runs of {record} bytes no longer show growth: sweep more runs"
    );
    let file = root().join("configs/handshake.toml").display().to_string();
    let seeds = format!("0..{RUNS}");
    let mut out = String::new();
    limited(
        &[
            "sweep", &file, "--seeds", &seeds, "--jobs", "2", "--format", "json",
        ],
        |o| {
            o.read_to_string(&mut out).expect("the aggregate is UTF-8");
        },
    );
    let agg: serde_json::Value = serde_json::from_str(&out).expect("the aggregate is JSON");
    // No loss: every run's one connection closes, established after one
    // RTT of 100 ms and closed after 250 ms (the file's description).
    assert_eq!(agg["runs"], RUNS);
    let point = &agg["points"][0];
    assert_eq!(point["outcomes"]["closed"], RUNS);
    assert_eq!(point["established_ms"]["p99"], 100.0);
    assert_eq!(point["closed_ms"]["max"], 250.0);
}

#[test]
fn a_long_sweep_plots_in_bounded_memory() {
    // `--plot` draws from the sweep's tallies, so it fits where a record
    // per run would not (the same bound as the aggregate above).
    const RUNS: u64 = 200_000;
    let file = root().join("configs/handshake.toml").display().to_string();
    let seeds = format!("0..{RUNS}");
    let svg = std::env::temp_dir().join(format!("tcpsim-long-plot-{}.svg", std::process::id()));
    let svg_arg = svg.display().to_string();
    let mut out = String::new();
    limited(
        &[
            "sweep", &file, "--seeds", &seeds, "--jobs", "2", "--format", "json", "--plot",
            &svg_arg,
        ],
        |o| {
            o.read_to_string(&mut out).expect("the aggregate is UTF-8");
        },
    );
    let agg: serde_json::Value = serde_json::from_str(&out).expect("the aggregate is JSON");
    assert_eq!(agg["runs"], RUNS);
    let doc = std::fs::read_to_string(&svg).expect("the plot");
    let _ = std::fs::remove_file(&svg);
    assert!(
        doc.contains(&format!("CDF over {RUNS} runs, 1 grid point")),
        "{}",
        &doc[..doc.len().min(400)]
    );
}

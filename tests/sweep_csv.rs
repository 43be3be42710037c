//! `tcpsim sweep --format csv` and `--per-run` (README, docs/report.md):
//! one column per grid path, times in whole nanoseconds that follow from
//! the link delay, RFC 4180 quoting that Python's csv module reads back,
//! rows in run order whatever `--jobs` is, and the refused combinations.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::cli::scratch;

fn tcpsim(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the tcpsim binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

/// configs/handshake.toml's exchange (rfc profile, nothing lost, no data)
/// over a grid of two one-way delays and two descriptions, the second
/// with a comma and quotes that a CSV field must quote. With one-way delay
/// d the client is ESTABLISHED when the SYN-ACK arrives, at 2d, and the
/// close ends when the server gets the last ACK, at 5d: the SYN arrives
/// at d, the SYN-ACK at 2d (the client sends its ACK and FIN at once), they
/// arrive at 3d (the server sends its ACK and FIN at once), those at 4d,
/// and the client's last ACK at 5d (handshake.toml: 100 ms and 250 ms for
/// d = 50 ms).
const GRID: &str = r#"
name = "grid"
description = "handshake over two delays"
seed = 1
profile = "rfc"
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
delay = "50ms"
[[connections]]
client = "client"
server = "server"
port = 80
[expect]
outcome = "closed"
[sweep]
seeds = "1..=3"
grid = { "links.0.delay" = ["10ms", "35ms"], "description" = ["plain", 'a, "quoted" one'] }
"#;

/// The grid's points in order (the first path varying slowest): the delay
/// as written, d in ns, the description as written.
const POINTS: [(&str, u64, &str); 4] = [
    ("10ms", 10_000_000, "plain"),
    ("10ms", 10_000_000, "a, \"quoted\" one"),
    ("35ms", 35_000_000, "plain"),
    ("35ms", 35_000_000, "a, \"quoted\" one"),
];

fn grid_dir(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("grid.toml"), GRID).unwrap();
    dir
}

/// Splits one CSV record with no quoted newlines (RFC 4180: a field in
/// quotes may hold commas, and `""` is one quote).
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            (c, _) => out.last_mut().unwrap().push(c),
        }
    }
    out
}

/// The CSV as a header and rows of (column, value).
fn table(csv: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = csv.lines();
    let header = fields(lines.next().expect("a header"));
    let rows: Vec<Vec<String>> = lines.map(fields).collect();
    for r in &rows {
        assert_eq!(r.len(), header.len(), "{r:?}");
    }
    (header, rows)
}

fn cell<'a>(header: &[String], row: &'a [String], column: &str) -> &'a str {
    let i = (header.iter().position(|h| h == column))
        .unwrap_or_else(|| panic!("no column {column} in {header:?}"));
    &row[i]
}

#[test]
fn aggregate_csv_has_a_column_per_grid_path_and_times_from_the_delay() {
    let dir = grid_dir("sweep-csv-aggregate");
    let out = tcpsim(&dir, &["sweep", "grid.toml", "--format", "csv"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let csv = stdout(&out);
    let (header, rows) = table(&csv);
    assert_eq!(header[..3], ["links.0.delay", "description", "runs"]);
    for column in [
        "connections",
        "connections_closed",
        "connections_refused",
        "established_p50_ns",
        "established_mean_ns",
        "closed_max_ns",
        "rtx_per_run_SYN",
        "rtx_per_run_SYN-ACK",
        "failed_runs",
    ] {
        assert!(header.iter().any(|h| h == column), "{column}: {header:?}");
    }
    assert_eq!(rows.len(), POINTS.len());
    for (row, (delay, d, description)) in rows.iter().zip(POINTS) {
        assert_eq!(cell(&header, row, "links.0.delay"), delay);
        assert_eq!(cell(&header, row, "description"), description);
        assert_eq!(cell(&header, row, "runs"), "3");
        assert_eq!(cell(&header, row, "connections_closed"), "3");
        assert_eq!(cell(&header, row, "connections_refused"), "0");
        for s in ["p50", "p90", "p99", "max", "mean"] {
            let established = cell(&header, row, &format!("established_{s}_ns"));
            assert_eq!(established, (2 * d).to_string(), "{delay} {s}");
            let closed = cell(&header, row, &format!("closed_{s}_ns"));
            assert_eq!(closed, (5 * d).to_string(), "{delay} {s}");
        }
        // Nothing lost: no retransmission, written with 6 decimals.
        assert_eq!(cell(&header, row, "rtx_per_run_SYN"), "0.000000");
        assert_eq!(cell(&header, row, "failed_runs"), "0");
    }
    // The field with a comma and quotes is quoted, its quotes doubled.
    assert!(csv.contains(",\"a, \"\"quoted\"\" one\","), "{csv}");
    // merge writes the same CSV from shards.
    let mut shards = Vec::new();
    for k in 0..2 {
        let o = tcpsim(&dir, &["sweep", "grid.toml", "--shard", &format!("{k}/2")]);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        let f = format!("s{k}.jsonl");
        std::fs::write(dir.join(&f), &o.stdout).unwrap();
        shards.push(f);
    }
    let merged = tcpsim(&dir, &["merge", &shards[0], &shards[1], "--format", "csv"]);
    assert_eq!(stdout(&merged), csv);
}

#[test]
fn per_run_is_a_row_per_run_in_run_order_for_any_jobs() {
    let dir = grid_dir("sweep-csv-per-run");
    // 4 points x 80 seeds: 320 runs, five batches of 64 shared by the
    // workers.
    let args = ["sweep", "grid.toml", "--per-run", "--seeds", "1..=80"];
    let one = tcpsim(&dir, &[&args[..], &["--jobs", "1"]].concat());
    assert_eq!(one.status.code(), Some(0), "{one:?}");
    let csv = stdout(&one);
    for jobs in ["2", "7"] {
        let other = tcpsim(&dir, &[&args[..], &["--jobs", jobs]].concat());
        assert_eq!(stdout(&other), csv, "--jobs {jobs}");
    }
    // --format csv says the same as the default it is with --per-run.
    let explicit = tcpsim(&dir, &[&args[..], &["--format", "csv"]].concat());
    assert_eq!(stdout(&explicit), csv);
    let (header, rows) = table(&csv);
    assert_eq!(
        header,
        [
            "run",
            "seed",
            "links.0.delay",
            "description",
            "connection",
            "outcome",
            "established_ns",
            "closed_ns",
            "rtx_SYN",
            "rtx_SYN-ACK",
            "rtx_ACK",
            "rtx_DATA",
            "rtx_FIN",
            "rtx_RST",
            "passed",
            "failed"
        ]
    );
    assert_eq!(rows.len(), 4 * 80);
    for (i, row) in rows.iter().enumerate() {
        // Run i is point i / 80 with seed 1 + i % 80.
        let (delay, d, description) = POINTS[i / 80];
        assert_eq!(cell(&header, row, "run"), i.to_string());
        assert_eq!(cell(&header, row, "seed"), (1 + i % 80).to_string());
        assert_eq!(cell(&header, row, "links.0.delay"), delay);
        assert_eq!(cell(&header, row, "description"), description);
        assert_eq!(cell(&header, row, "connection"), "0");
        assert_eq!(cell(&header, row, "outcome"), "closed");
        assert_eq!(cell(&header, row, "established_ns"), (2 * d).to_string());
        assert_eq!(cell(&header, row, "closed_ns"), (5 * d).to_string());
        for k in ["SYN", "SYN-ACK", "ACK", "DATA", "FIN", "RST"] {
            assert_eq!(cell(&header, row, &format!("rtx_{k}")), "0");
        }
        assert_eq!(cell(&header, row, "passed"), "true");
        assert_eq!(cell(&header, row, "failed"), "");
    }
}

/// Every SYN to port 81 is refused: no times, the failed expectations
/// named, exit 1.
#[test]
fn per_run_names_what_failed_and_leaves_missing_times_empty() {
    let dir = grid_dir("sweep-csv-refused");
    let out = tcpsim(
        &dir,
        &[
            "sweep",
            "grid.toml",
            "--per-run",
            "--set",
            "connections.0.port=81",
            "--seeds",
            "1..=2",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let (header, rows) = table(&stdout(&out));
    assert_eq!(rows.len(), 4 * 2);
    for row in &rows {
        assert_eq!(cell(&header, row, "outcome"), "refused");
        assert_eq!(cell(&header, row, "established_ns"), "");
        assert_eq!(cell(&header, row, "closed_ns"), "");
        assert_eq!(cell(&header, row, "passed"), "false");
        assert_eq!(cell(&header, row, "failed"), "outcome");
    }
}

#[test]
fn per_run_is_refused_with_other_formats_and_with_shard() {
    let dir = grid_dir("sweep-csv-refusals");
    for (extra, words) in [
        (&["--format", "json"][..], "--per-run writes CSV"),
        (&["--format", "text"][..], "--per-run writes CSV"),
        (
            &["--shard", "0/2"][..],
            "--per-run cannot be combined with --shard",
        ),
    ] {
        let out = tcpsim(
            &dir,
            &[&["sweep", "grid.toml", "--per-run"][..], extra].concat(),
        );
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{extra:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(words), "{extra:?}: {err}");
    }
}

/// Python's csv module (an RFC 4180 reader tcpsim did not write) reads
/// both CSVs: a column per grid path, the quoted description back as
/// written, every time an integer from the delay.
#[test]
fn python_csv_reads_the_grid_sweep() {
    let Ok(version) = Command::new("python3").arg("--version").output() else {
        eprintln!("python3 is not installed: Python's csv module cannot be tried here");
        return;
    };
    assert!(version.status.success());
    let dir = grid_dir("sweep-csv-python");
    for (args, name) in [
        (
            &["sweep", "grid.toml", "--format", "csv"][..],
            "aggregate.csv",
        ),
        (&["sweep", "grid.toml", "--per-run"][..], "runs.csv"),
    ] {
        let out = tcpsim(&dir, args);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        std::fs::write(dir.join(name), &out.stdout).unwrap();
    }
    let script = r#"
import csv, sys
ms = 10**6
points = [("10ms", 10 * ms, "plain"), ("10ms", 10 * ms, 'a, "quoted" one'),
          ("35ms", 35 * ms, "plain"), ("35ms", 35 * ms, 'a, "quoted" one')]
with open("aggregate.csv", newline="") as f:
    rows = list(csv.DictReader(f))
assert len(rows) == 4, rows
for row, (delay, d, desc) in zip(rows, points):
    assert row["links.0.delay"] == delay, row
    assert row["description"] == desc, row
    assert int(row["established_p50_ns"]) == 2 * d, row
    assert int(row["closed_mean_ns"]) == 5 * d, row
    assert float(row["rtx_per_run_DATA"]) == 0.0, row
with open("runs.csv", newline="") as f:
    reader = csv.DictReader(f)
    assert reader.fieldnames[:4] == ["run", "seed", "links.0.delay", "description"], reader.fieldnames
    runs = list(reader)
assert len(runs) == 12, len(runs)
for i, row in enumerate(runs):
    delay, d, desc = points[i // 3]
    assert int(row["run"]) == i and int(row["seed"]) == 1 + i % 3, row
    assert (row["links.0.delay"], row["description"]) == (delay, desc), row
    assert int(row["established_ns"]) == 2 * d and int(row["closed_ns"]) == 5 * d, row
print("python csv: ok")
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "python csv: ok\n");
}

/// `--plot` with `--per-run` draws what it draws from the aggregate sweep.
#[test]
fn per_run_plot_is_the_sweeps_plot() {
    let dir = grid_dir("sweep-csv-plot");
    let a = tcpsim(&dir, &["sweep", "grid.toml", "--plot", "a.svg"]);
    let b = tcpsim(
        &dir,
        &["sweep", "grid.toml", "--per-run", "--plot", "b.svg"],
    );
    assert_eq!(a.status.code(), Some(0), "{a:?}");
    assert_eq!(b.status.code(), Some(0), "{b:?}");
    let (a, b) = (dir.join("a.svg"), dir.join("b.svg"));
    assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
}

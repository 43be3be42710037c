//! The command line end to end (SPEC §2): outputs, exit codes, determinism.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tcpsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the tcpsim binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scratch directory under the target directory, fresh for each test.
pub(super) fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const LOST_SYN: &str = r#"
name = "lost-syn"
seed = 7
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
[[faults]]
action = "drop"
from = "client"
to = "server"
segment = "SYN"
nth = [1]
[[connections]]
client = "client"
server = "server"
port = 80
[expect]
outcome = "closed"
retransmissions = { SYN = 1 }
retransmit_at = { SYN = ["1s"] }
established_within = "1.1s"
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn run_prints_timeline_and_passes() {
    let dir = scratch("run_prints_timeline_and_passes");
    let f = write(&dir, "lost-syn.toml", LOST_SYN);
    let o = tcpsim(&["run", &f]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    // The lost SYN at 0 and its retransmission one initial RTO (1 s) later.
    assert!(
        out.contains("0.000000000  client > server  [S]    DROPPED (fault)"),
        "{out}"
    );
    assert!(
        out.contains(
            "1.000000000  client > server  [S]    seq 0, win 65535, len 0  (retransmission: rto)"
        ),
        "{out}"
    );
    assert!(out.contains("outcome closed"));
    assert!(out.contains("ok   retransmit_at.SYN: expected [1s], actual [1s]"));
}

#[test]
fn json_is_byte_identical_across_runs() {
    let dir = scratch("json_is_byte_identical_across_runs");
    let f = write(&dir, "lost-syn.toml", LOST_SYN);
    let a = tcpsim(&[
        "run",
        &f,
        "--format",
        "json",
        "--set",
        "links.0.loss=0.2",
        "--seed",
        "99",
    ]);
    let b = tcpsim(&[
        "run",
        &f,
        "--format",
        "json",
        "--set",
        "links.0.loss=0.2",
        "--seed",
        "99",
    ]);
    assert!(!a.stdout.is_empty());
    assert_eq!(a.stdout, b.stdout);
    let c = tcpsim(&[
        "run",
        &f,
        "--format",
        "json",
        "--set",
        "links.0.loss=0.2",
        "--seed",
        "100",
    ]);
    assert_ne!(a.stdout, c.stdout, "another seed draws other losses");
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(v["seed"], 99);
    assert_eq!(v["schema"], 1);
    assert_eq!(v["experiment"], "lost-syn");
}

#[test]
fn failed_expectation_exits_1_with_replay_command() {
    let dir = scratch("failed_expectation_exits_1_with_replay_command");
    let f = write(&dir, "lost-syn.toml", LOST_SYN);
    // A second lost SYN makes retransmissions.SYN = 2 (at 1 s and 3 s).
    let o = tcpsim(&["run", &f, "--set", "faults.0.nth=[1, 2]"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("FAIL retransmissions.SYN: expected 1, actual 2"),
        "{out}"
    );
    assert!(
        out.contains("FAIL retransmit_at.SYN: expected [1s], actual [1s, 3s]"),
        "{out}"
    );
    let err = stderr(&o);
    assert!(err.contains("seed 7"), "{err}");
    // The replay command is quoted for a shell: the value has a space.
    assert!(err.contains("--set 'faults.0.nth=[1, 2]'"), "{err}");
    // And the shell gives the same run back, failing the same way.
    let replay = err.lines().last().unwrap().trim();
    let again = Command::new("sh")
        .arg("-c")
        .arg(replay.replacen("tcpsim", "\"$0\"", 1))
        .arg(env!("CARGO_BIN_EXE_tcpsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1), "{replay}: {}", stderr(&again));
    assert_eq!(stdout(&again), out);
}

/// A huge `--set` value is not echoed back whole (issue 16): the message
/// shows its first 60 characters and its length.
#[test]
fn a_huge_set_value_is_not_echoed_back() {
    let huge = "x".repeat(100_000);
    let o = tcpsim(&[
        "run",
        "configs/handshake.toml",
        "--set",
        &format!("links.0.delay={huge}"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.len() < 1_000, "{} bytes of message", err.len());
    assert!(err.contains("... (100000 bytes)"), "{err}");
}

#[test]
fn bad_file_exits_2_with_location() {
    let dir = scratch("bad_file_exits_2_with_location");
    let f = write(
        &dir,
        "bad.toml",
        &LOST_SYN.replace("delay = \"50ms\"", "delay = \"50ms\"\nloss = 1.5"),
    );
    let o = tcpsim(&["run", &f]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    // The loss line is line 15 of the file (LOST_SYN starts with a newline).
    assert!(err.contains("bad.toml:15:"), "{err}");
    assert!(err.contains("probability"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let o = tcpsim(&["run", "no/such/file.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let o = tcpsim(&["run", &f, "--set", "nonsense"]);
    assert_eq!(o.status.code(), Some(2));
    let o = tcpsim(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

/// `--set` reaches the TCP-option keys like any other: with a window-scale
/// shift of 7 on both ends the SYNs still announce 65535 (never scaled, RFC
/// 7323 §2.2) and every later segment 65535 >> 7 = 511 (rounded down under
/// `rfc`). A shift above 14 is an error naming the limit, exit 2.
#[test]
fn set_reaches_the_tcp_option_keys() {
    let dir = scratch("set_reaches_the_tcp_option_keys");
    let f = write(&dir, "lost-syn.toml", LOST_SYN);
    let o = tcpsim(&["run", &f, "--set", "tcp.window_scale=7"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("1.050000000  server > client  [S.]   seq 0, ack 1, win 65535, len 0"),
        "{out}"
    );
    assert!(
        out.contains("1.100000000  client > server  [.]    seq 1, ack 1, win 511, len 0"),
        "{out}"
    );
    let o = tcpsim(&["run", &f, "--set", "tcp.window_scale=15"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(
            "--set tcp.window_scale=15: tcp.window_scale: expected a window-scale shift \
             between 0 and 14 (RFC 7323 §2.3) or \"none\", found 15"
        ),
        "{err}"
    );
}

#[test]
fn quiet_prints_only_the_summary() {
    let dir = scratch("quiet_prints_only_the_summary");
    let f = write(&dir, "lost-syn.toml", LOST_SYN);
    let o = tcpsim(&["run", &f, "--quiet"]);
    let out = stdout(&o);
    assert!(out.starts_with("connection 0:"), "{out}");
    assert!(!out.contains("[S]"));
}

const SWEEP: &str = r#"
name = "sweep"
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
delay = "10ms"
jitter = "2ms"
loss = 0.1
[[connections]]
client = "client"
server = "server"
port = 80
client_sends = 3000
[sweep]
seeds = "1..=40"
grid = { "links.0.loss" = [0.0, 0.2] }
"#;

#[test]
fn sweep_output_does_not_depend_on_jobs() {
    let dir = scratch("sweep_output_does_not_depend_on_jobs");
    let f = write(&dir, "sweep.toml", SWEEP);
    let one = tcpsim(&["sweep", &f, "--jobs", "1", "--format", "json"]);
    let three = tcpsim(&["sweep", &f, "--jobs", "3", "--format", "json"]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    assert_eq!(one.stdout, three.stdout);
    let v: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(v["runs"], 80);
    assert_eq!(v["points"][0]["runs"], 40);
    // No loss: nothing retransmitted, every connection closed.
    assert_eq!(v["points"][0]["outcomes"]["closed"], 40);
    assert_eq!(v["points"][0]["retransmissions"]["DATA"], 0.0);
}

#[test]
fn shards_merge_into_the_unsharded_result() {
    let dir = scratch("shards_merge_into_the_unsharded_result");
    let f = write(&dir, "sweep.toml", SWEEP);
    let whole = tcpsim(&["sweep", &f, "--format", "json"]);
    let mut files = Vec::new();
    for k in 0..3 {
        let o = tcpsim(&["sweep", &f, "--shard", &format!("{k}/3")]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        files.push(write(&dir, &format!("shard{k}.jsonl"), &stdout(&o)));
    }
    let mut args = vec!["merge", "--format", "json"];
    // Out of order on purpose: merge sorts by run index.
    args.extend([files[2].as_str(), files[0].as_str(), files[1].as_str()]);
    let merged = tcpsim(&args);
    assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
    assert_eq!(stdout(&merged), stdout(&whole));
    // A shard given twice is an error.
    let dup = tcpsim(&["merge", &files[0], &files[0]]);
    assert_eq!(dup.status.code(), Some(2));
}

#[test]
fn sweep_seeds_ranges_follow_rust() {
    let dir = scratch("sweep_seeds_ranges_follow_rust");
    let f = write(&dir, "sweep.toml", SWEEP);
    let excl = tcpsim(&["sweep", &f, "--seeds", "1..11", "--format", "json"]);
    let incl = tcpsim(&["sweep", &f, "--seeds", "1..=10", "--format", "json"]);
    assert_eq!(excl.stdout, incl.stdout);
    let v: serde_json::Value = serde_json::from_slice(&excl.stdout).unwrap();
    assert_eq!(v["runs"], 20);
    let bad = tcpsim(&["sweep", &f, "--seeds", "5..2"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn check_needs_goldens_and_bless_writes_them() {
    let dir = scratch("check_needs_goldens_and_bless_writes_them");
    let f = write(&dir, "lost-syn.toml", LOST_SYN);
    let d = dir.display().to_string();
    let o = tcpsim(&["check", &d]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).ends_with("0 passed, 1 failed\n"),
        "{}",
        stdout(&o)
    );
    let o = tcpsim(&["check", "--bless", &d]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let golden = std::fs::read_to_string(dir.join("lost-syn.golden")).unwrap();
    assert!(golden.contains("DROPPED (fault)"));
    let junit = dir.join("report.xml");
    let o = tcpsim(&["check", &d, "--junit", &junit.display().to_string()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).ends_with("1 passed, 0 failed\n"));
    let xml = std::fs::read_to_string(&junit).unwrap();
    // One testcase per expectation (outcome, retransmissions.SYN,
    // retransmit_at.SYN, established_within) and one for the golden.
    assert!(xml.contains("tests=\"5\" failures=\"0\""), "{xml}");
    // A changed experiment no longer matches its golden: the diff is shown.
    std::fs::write(&f, LOST_SYN.replace("50ms", "60ms")).unwrap();
    let o = tcpsim(&["check", &d]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("timeline differs"), "{}", stdout(&o));
    assert!(stdout(&o).contains("replay: tcpsim run"), "{}", stdout(&o));
    // An invalid file counts as failed.
    write(&dir, "zz-broken.toml", "this is not toml [");
    let o = tcpsim(&["check", &d]);
    assert!(
        stdout(&o).ends_with("0 passed, 2 failed\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn validate_reports_each_file() {
    let dir = scratch("validate_reports_each_file");
    let good = write(&dir, "good.toml", LOST_SYN);
    let bad = write(&dir, "bad.toml", "seed = -1\n");
    let o = tcpsim(&["validate", &good]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("ok "));
    let o = tcpsim(&["validate", &good, &bad]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.toml:1:"), "{}", stderr(&o));
}

#[test]
fn pcap_is_written() {
    let dir = scratch("pcap_is_written");
    let f = write(&dir, "lost-syn.toml", LOST_SYN);
    let out = dir.join("out.pcap");
    let o = tcpsim(&["run", &f, "--quiet", "--pcap", &out.display().to_string()]);
    assert_eq!(o.status.code(), Some(0));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        &bytes[..4],
        &[0x4d, 0x3c, 0xb2, 0xa1],
        "nanosecond pcap magic"
    );
}

/// Issue 16: `check` of a folder with no experiments, or of a path that
/// does not exist, is bad input (exit 2), not a green run; a symlink loop
/// is walked once.
#[test]
fn check_refuses_empty_and_missing_paths_and_walks_a_loop_once() {
    let dir = scratch("check-paths");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = tcpsim(&["check", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no *.toml files found under"),
        "{}",
        stderr(&o)
    );
    let missing = dir.join("missing");
    let o = tcpsim(&["check", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("No such file"), "{}", stderr(&o));
    let sub = dir.join("loop").join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    write(&sub, "lost-syn.toml", LOST_SYN);
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("loop"), sub.join("back")).unwrap();
    let o = tcpsim(&["check", dir.join("loop").to_str().unwrap()]);
    let out = stdout(&o);
    let verdicts = out
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("FAIL "))
        .count();
    assert_eq!(verdicts, 1, "{out}");
    // (No golden beside it, so it fails; once.)
    assert!(out.ends_with("0 passed, 1 failed\n"), "{out}");
}

/// Issue 16: only regular files are read (a FIFO used to block `validate`
/// for ever, `/dev/zero` to fill memory), and bytes that are not UTF-8 are
/// an error at their line and column, not replaced.
#[test]
fn validate_reads_regular_utf8_files_only() {
    let o = tcpsim(&["validate", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    let dir = scratch("validate-files");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, b"name = \"x\"\nseed = 1 \xff\n").unwrap();
    let o = tcpsim(&["validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("bad.toml:2:10: expected UTF-8 text, found the byte 0xff"),
        "{}",
        stderr(&o)
    );
    #[cfg(unix)]
    {
        let fifo = dir.join("fifo.toml");
        let made = Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let o = tcpsim(&["validate", fifo.to_str().unwrap()]);
            assert_eq!(o.status.code(), Some(2));
            assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
        }
    }
}

/// Output errors (issue 16): a full disk is exit 3 with a message, a closed
/// pipe (`| head`) a quiet exit 0, a closed standard output (`>&-`) exit 3
/// before anything runs; never a panic.
#[test]
fn output_errors_exit_3_and_a_closed_pipe_is_quiet() {
    let bin = env!("CARGO_BIN_EXE_tcpsim");
    let sh = |script: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(bin)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("sh runs")
    };
    let full = sh(r#""$0" validate configs/handshake.toml configs/abort.toml >/dev/full"#);
    assert_eq!(full.status.code(), Some(3), "{}", stderr(&full));
    assert!(
        stderr(&full).contains("cannot write output"),
        "{}",
        stderr(&full)
    );
    assert!(!stderr(&full).contains("panicked"));
    for args in [
        "validate configs/*.toml",
        "run configs/handshake.toml",
        "check configs/",
    ] {
        let o = sh(&format!(r#""$0" {args} | head -c 1 >/dev/null"#));
        assert!(!stderr(&o).contains("panicked"), "{args}: {}", stderr(&o));
        assert!(!stderr(&o).contains("error"), "{args}: {}", stderr(&o));
    }
    let closed = sh(r#""$0" validate configs/handshake.toml >&-"#);
    assert_eq!(closed.status.code(), Some(3), "{}", stderr(&closed));
    assert!(stderr(&closed).contains("standard output is closed"));
    let null = sh(r#""$0" validate configs/handshake.toml >/dev/null"#);
    assert_eq!(null.status.code(), Some(0), "{}", stderr(&null));
}

/// `--jobs` far beyond the machine starts no more threads than cores or
/// runs, and changes nothing in the output.
#[test]
fn a_huge_jobs_count_gives_the_same_sweep() {
    let one = tcpsim(&[
        "sweep",
        "configs/handshake.toml",
        "--seeds",
        "1..=50",
        "--jobs",
        "1",
    ]);
    let many = tcpsim(&[
        "sweep",
        "configs/handshake.toml",
        "--seeds",
        "1..=50",
        "--jobs",
        "1000000",
    ]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    assert_eq!(many.status.code(), Some(0), "{}", stderr(&many));
    assert_eq!(stdout(&one), stdout(&many));
    assert_eq!(
        tcpsim::runner::sweep::workers(1_000_000, 3),
        1.max(3.min(cores()))
    );
    assert_eq!(tcpsim::runner::sweep::workers(0, 10), 1);
    assert!(tcpsim::runner::sweep::workers(1_000_000, 1_000_000) <= cores());
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

// ----- merge: only a complete set of one sweep's shards (issue 16) -----

/// `tcpsim ARGS` run in `dir`.
fn tcpsim_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the tcpsim binary runs")
}

/// `sweep.toml` (the [`SWEEP`] experiment: 2 grid points x 40 seeds = 80
/// runs) in a fresh directory, and its `n` shards `shardK.jsonl` made with
/// the extra arguments `args`; their paths.
fn sweep_shards(test: &str, n: u64, args: &[&str]) -> (PathBuf, Vec<String>) {
    let dir = scratch(test);
    let f = write(&dir, "sweep.toml", SWEEP);
    let files = (0..n)
        .map(|k| {
            let shard = format!("{k}/{n}");
            let mut a = vec!["sweep", f.as_str(), "--shard", &shard];
            a.extend(args);
            let o = tcpsim(&a);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            write(&dir, &format!("shard{k}.jsonl"), &stdout(&o))
        })
        .collect();
    (dir, files)
}

/// `merge FILES`: exit 2, and its message (without `error: `).
fn refused(files: &[&str]) -> String {
    let mut args = vec!["merge"];
    args.extend(files);
    let o = tcpsim(&args);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(o.stdout.is_empty(), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    err.strip_prefix("error: ")
        .unwrap_or_else(|| panic!("{err}"))
        .trim_end()
        .to_string()
}

/// `text` with its line `n` (from 1) edited by `edit`.
fn edit_line(text: &str, n: usize, edit: impl Fn(&str) -> String) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| if i + 1 == n { edit(l) } else { l.to_string() } + "\n")
        .collect()
}

/// Shard K of N over 80 runs holds the indices K, K + N, ... below 80:
/// with N = 3, shards 0 and 1 have ⌈80/3⌉ = 27 runs, shard 2 has 26.
#[test]
fn merge_refuses_a_missing_shard() {
    let (_, s) = sweep_shards("merge_refuses_a_missing_shard", 3, &[]);
    assert_eq!(
        refused(&[&s[0], &s[2]]),
        "incomplete sweep \"sweep\": 53 of 80 runs read, 27 missing:\n  \
         shard 1/3 is missing: its 27 runs (index 1, 4, 7, 10, 13, ...)"
    );
    // One shard of three alone is not a result.
    assert_eq!(
        refused(&[&s[0]]),
        "incomplete sweep \"sweep\": 27 of 80 runs read, 53 missing:\n  \
         shard 1/3 is missing: its 27 runs (index 1, 4, 7, 10, 13, ...)\n  \
         shard 2/3 is missing: its 26 runs (index 2, 5, 8, 11, 14, ...)"
    );
}

#[test]
fn merge_refuses_a_deleted_line() {
    let (dir, s) = sweep_shards("merge_refuses_a_deleted_line", 3, &[]);
    let text = std::fs::read_to_string(&s[0]).unwrap();
    // Line 5 of shard 0 is its fifth run, index 4 x 3 = 12.
    let cut = write(&dir, "cut.jsonl", &edit_line(&text, 5, |_| String::new()));
    assert_eq!(
        refused(&[&cut, &s[1], &s[2]]),
        format!(
            "incomplete sweep \"sweep\": 79 of 80 runs read, 1 missing:\n  \
             shard 0/3 ({cut}): 1 of its 27 runs missing (index 12)"
        )
    );
}

#[test]
fn merge_refuses_a_duplicated_shard_or_run() {
    let (dir, s) = sweep_shards("merge_refuses_a_duplicated_shard_or_run", 3, &[]);
    // The same file twice: its first line is the first duplicate.
    assert_eq!(
        refused(&[&s[0], &s[1], &s[2], &s[1]]),
        format!(
            "{}:1: run 1 of shard 1/3 is already in {}:1 (a shard given twice?)",
            s[1], s[1]
        )
    );
    // A copy of a shard under another name.
    let text = std::fs::read_to_string(&s[0]).unwrap();
    let copy = write(&dir, "copy.jsonl", &text);
    assert_eq!(
        refused(&[&s[0], &copy, &s[1], &s[2]]),
        format!(
            "{copy}:1: run 0 of shard 0/3 is already in {}:1 (a shard given twice?)",
            s[0]
        )
    );
    // One line twice: line 3 of shard 0 (run 6) again as line 28.
    let third = text.lines().nth(2).unwrap();
    let twice = write(&dir, "twice.jsonl", &format!("{text}{third}\n"));
    assert_eq!(
        refused(&[&twice, &s[1], &s[2]]),
        format!("{twice}:28: run 6 of shard 0/3 is already in {twice}:3 (a shard given twice?)")
    );
}

#[test]
fn merge_refuses_a_shard_of_other_seeds_sets_file_or_split() {
    let (dir, s) = sweep_shards("merge_refuses_a_shard_of_other_seeds", 3, &[]);
    let f = dir.join("sweep.toml").display().to_string();
    let other = |args: &[&str], name: &str| {
        let mut a = vec!["sweep", f.as_str()];
        a.extend(args);
        let o = tcpsim(&a);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        write(&dir, name, &stdout(&o))
    };
    let seeds = other(&["--seeds", "1..=20", "--shard", "1/3"], "seeds.jsonl");
    assert_eq!(
        refused(&[&s[0], &seeds, &s[2]]),
        format!(
            "{seeds}:1: a shard of another sweep than {}:1: seeds 1..=20, expected 1..=40",
            s[0]
        )
    );
    let sets = other(
        &["--set", "links.0.delay=20ms", "--shard", "1/3"],
        "sets.jsonl",
    );
    assert_eq!(
        refused(&[&s[0], &sets, &s[2]]),
        format!(
            "{sets}:1: a shard of another sweep than {}:1: --set arguments \
             [links.0.delay=20ms], expected none",
            s[0]
        )
    );
    let split = other(&["--shard", "1/2"], "split.jsonl");
    assert_eq!(
        refused(&[&s[0], &split]),
        format!(
            "{split}:1: a shard of another split than {}:1: 2 shards, expected 3",
            s[0]
        )
    );
    // The same path, edited between two shards (a delay of 11 ms).
    let edited = SWEEP.replace("delay = \"10ms\"", "delay = \"11ms\"");
    std::fs::write(&f, &edited).unwrap();
    let file = other(&["--shard", "1/3"], "edited.jsonl");
    assert_eq!(
        refused(&[&s[0], &file, &s[2]]),
        format!(
            "{file}:1: a shard of another sweep than {}:1: file digest fnv1a64:{:016x}, \
             expected fnv1a64:{:016x}",
            s[0],
            crate::report_types::fnv1a64(edited.as_bytes()),
            crate::report_types::fnv1a64(SWEEP.as_bytes()),
        )
    );
    // Another experiment of the same grid and seeds.
    std::fs::write(&f, SWEEP.replace("name = \"sweep\"", "name = \"other\"")).unwrap();
    let name = other(&["--shard", "1/3"], "name.jsonl");
    assert_eq!(
        refused(&[&s[0], &name, &s[2]]),
        format!(
            "{name}:1: a shard of another sweep than {}:1: experiment \"other\", expected \"sweep\"",
            s[0]
        )
    );
}

#[test]
fn shards_of_one_file_spelled_three_ways_merge() {
    let dir = scratch("shards_of_one_file_spelled_three_ways_merge");
    write(&dir, "sweep.toml", SWEEP);
    let abs = dir.join("sweep.toml").display().to_string();
    let mut files = Vec::new();
    for (k, spelling) in ["sweep.toml", "./sweep.toml", abs.as_str()]
        .iter()
        .enumerate()
    {
        let o = tcpsim_in(&dir, &["sweep", spelling, "--shard", &format!("{k}/3")]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(
            stdout(&o).contains(&format!("\"file\":{spelling:?}")),
            "{}",
            stdout(&o)
        );
        files.push(write(&dir, &format!("shard{k}.jsonl"), &stdout(&o)));
    }
    let whole = tcpsim_in(&dir, &["sweep", "sweep.toml", "--format", "json"]);
    let mut args = vec!["merge", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let merged = tcpsim_in(&dir, &args);
    assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
    assert_eq!(stdout(&merged), stdout(&whole));
}

#[test]
fn merge_refuses_runs_outside_their_shard_or_range() {
    let (dir, s) = sweep_shards("merge_refuses_runs_outside_their_shard", 3, &[]);
    let text = std::fs::read_to_string(&s[0]).unwrap();
    let bad = |name: &str, line: usize, from: &str, to: &str| {
        let edited = edit_line(&text, line, |l| {
            assert!(l.contains(from), "{from}: {l}");
            l.replacen(from, to, 1)
        });
        let path = write(&dir, name, &edited);
        let msg = refused(&[&path, &s[1], &s[2]]);
        (path, msg)
    };
    let (p, m) = bad("range.jsonl", 1, "\"index\":0,", "\"index\":80,");
    assert_eq!(
        m,
        format!("{p}:1: run index 80 is out of range: expected 0..80 (the sweep has 80 runs)")
    );
    let (p, m) = bad("modulo.jsonl", 2, "\"index\":3,", "\"index\":4,");
    assert_eq!(
        m,
        format!(
            "{p}:2: run 4 does not belong to shard 0/3: expected an index i with i mod 3 = 0, \
             found 4 mod 3 = 1"
        )
    );
    let (p, m) = bad("k.jsonl", 2, "\"shard\":0,", "\"shard\":3,");
    assert_eq!(m, format!("{p}:2: shard 3/3: expected K/N with 0 <= K < N"));
    // Run 3 is point 3 / 40 = 0 and seed 1 + 3 mod 40 = 4.
    let (p, m) = bad("point.jsonl", 2, "\"point\":0,", "\"point\":1,");
    assert_eq!(
        m,
        format!("{p}:2: run 3: grid point 1, expected 0 (index 3 / 40 seeds)")
    );
    let (p, m) = bad("seed.jsonl", 2, "\"seed\":4,", "\"seed\":5,");
    assert_eq!(
        m,
        format!("{p}:2: run 3: seed 5, expected 4 (first seed 1 + index 3 mod 40 seeds)")
    );
    let (p, m) = bad("params.jsonl", 2, "\"0.0\"]]", "\"0.5\"]]");
    assert_eq!(
        m,
        format!(
            "{p}:2: run 3: grid point 0 with the values [links.0.loss=0.5], expected \
             [links.0.loss=0.0] as in {p}:1"
        )
    );
}

#[test]
fn merge_refuses_negative_absurd_and_malformed_lines() {
    let (dir, s) = sweep_shards("merge_refuses_negative_absurd_and_malformed", 3, &[]);
    let text = std::fs::read_to_string(&s[0]).unwrap();
    let first = text.lines().next().unwrap().to_string();
    let bad = |name: &str, line: &str| {
        let path = write(&dir, name, &format!("{line}\n"));
        (path.clone(), refused(&[&path, &s[1], &s[2]]))
    };
    // serde_json's column is that of the token's last character.
    let col = |line: &str, token: &str| line.find(token).unwrap() + token.len();
    let neg = first.replacen("\"established_ns\":", "\"established_ns\":-", 1);
    let token = neg.split("\"established_ns\":").nth(1).unwrap();
    let number = &token[..token.find(',').unwrap()];
    let (p, m) = bad("negative.jsonl", &neg);
    assert_eq!(
        m,
        format!(
            "{p}:1:{}: invalid value: integer `{number}`, expected u64",
            col(&neg, &format!("\"established_ns\":{number}"))
        )
    );
    let huge = first.replacen(
        "\"retransmissions\":[0,",
        "\"retransmissions\":[4294967296,",
        1,
    );
    let (p, m) = bad("huge.jsonl", &huge);
    assert_eq!(
        m,
        format!(
            "{p}:1:{}: invalid value: integer `4294967296`, expected u32",
            col(&huge, "[4294967296")
        )
    );
    let runs = first.replacen("\"total_runs\":80,", "\"total_runs\":81,", 1);
    let (p, m) = bad("runs.jsonl", &runs);
    assert_eq!(
        m,
        format!("{p}:1: 81 total runs: expected 80 (2 grid points x 40 seeds)")
    );
    // A line cut short: the end of the line is where JSON ends.
    let (p, m) = bad("cut.jsonl", &first[..100]);
    assert_eq!(m, format!("{p}:1:100: EOF while parsing a string"));
    // Not UTF-8: the byte 0xff after the line's first 10 bytes.
    let path = dir.join("latin.jsonl");
    let mut bytes = first.as_bytes()[..10].to_vec();
    bytes.push(0xff);
    bytes.extend(&first.as_bytes()[10..]);
    std::fs::write(&path, bytes).unwrap();
    let p = path.display().to_string();
    assert_eq!(
        refused(&[&p]),
        format!("{p}:1:11: expected UTF-8 text, found the byte 0xff")
    );
    let empty = write(&dir, "empty.jsonl", "\n\n");
    assert_eq!(refused(&[&empty]), format!("no shard lines in {empty}"));
}

#[test]
fn rust_log_shows_the_engine_in_virtual_time() {
    let logged = |filter: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tcpsim"));
        c.args(["run", "configs/syn-lost.toml", "--quiet"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("RUST_LOG");
        if let Some(f) = filter {
            c.env("RUST_LOG", f);
        }
        let o = c.output().expect("the tcpsim binary runs");
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stderr(&o)
    };
    // The default (warnings only): nothing.
    assert_eq!(logged(None), "");
    let debug = logged(Some("tcpsim_net=debug"));
    let lines: Vec<&str> = debug.lines().collect();
    // No colour codes into a pipe, and no wall-clock stamp: every line
    // starts with its level.
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("DEBUG tcpsim_net::trace: ")),
        "{debug}"
    );
    // configs/syn-lost.toml: the first SYN is dropped by a fault at 0, the
    // retransmission timer fires at the initial RTO of 1 s (RFC 6298
    // §2.1), and the client is ESTABLISHED one RTT (100 ms) later.
    let has = |fragments: &[&str]| {
        lines
            .iter()
            .any(|l| fragments.iter().all(|f| l.contains(f)))
    };
    assert!(
        has(&["drop t_ns=0 ", "reason=\"fault\"", "flags=SYN"]),
        "{debug}"
    );
    assert!(
        has(&["timer t_ns=1000000000 ", "host=0", "timer=\"retransmit\""]),
        "{debug}"
    );
    assert!(
        has(&[
            "state t_ns=1100000000 ",
            "from_state=\"SYN-SENT\"",
            "to_state=\"ESTABLISHED\""
        ]),
        "{debug}"
    );
    // Of the segments, only retransmissions are at DEBUG: here the one
    // SYN resent at 1 s.
    let sends: Vec<&&str> = lines.iter().filter(|l| l.contains(" send t_ns=")).collect();
    assert_eq!(sends.len(), 1, "{debug}");
    assert!(
        sends[0].contains("send t_ns=1000000000 host=0 conn=0 flags=SYN")
            && sends[0].contains("retransmission=\"rto\""),
        "{debug}"
    );
    let trace = logged(Some("tcpsim_net::trace=trace"));
    assert!(
        trace.contains("TRACE tcpsim_net::trace: send t_ns=0 host=0 conn=0 flags=SYN"),
        "{trace}"
    );
    // The same seed logs the same bytes.
    assert_eq!(trace, logged(Some("tcpsim_net::trace=trace")));
}

/// Issue 17: a golden that lacks one line of the run (here the second SYN
/// retransmission of `configs/two-syns-lost.toml`, golden line 11) shows
/// as exactly one hunk with that one `+` line. By the unified format with
/// 3 lines of context: old lines 8..=13 (6 lines) against new 8..=14 (7).
#[test]
fn check_shows_one_extra_line_as_one_hunk() {
    let dir = scratch("check-one-hunk");
    let toml = std::fs::read_to_string("configs/two-syns-lost.toml").unwrap();
    let golden = std::fs::read_to_string("configs/two-syns-lost.golden").unwrap();
    let lines: Vec<&str> = golden.lines().collect();
    let extra = lines[10];
    assert!(extra.contains("(retransmission: rto)"), "{extra}");
    let short: String = lines
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != 10)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let f = write(&dir, "two-syns-lost.toml", &toml);
    write(&dir, "two-syns-lost.golden", &short);
    let o = tcpsim(&["check", &f]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let g = dir.join("two-syns-lost.golden").display().to_string();
    let seed: u64 = toml
        .lines()
        .find_map(|l| l.strip_prefix("seed = "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let expected = format!(
        "  timeline differs from {g} (1 hunk):\n\
         --- {g}\n\
         +++ actual (seed {seed})\n\
         @@ -8,6 +8,7 @@\n \
         {}\n \
         {}\n \
         {}\n\
         +{extra}\n \
         {}\n \
         {}\n \
         {}\n  \
         seed {seed}; replay: tcpsim run {f} --seed {seed}\n",
        lines[7], lines[8], lines[9], lines[11], lines[12], lines[13]
    );
    assert!(out.contains(&expected), "{out}\n--- expected:\n{expected}");
    assert_eq!(out.lines().filter(|l| l.starts_with("@@ ")).count(), 1);
    assert!(out.ends_with("0 passed, 1 failed\n"), "{out}");
}

/// Issue 17: the JUnit report read back with an XML parser: one testsuite
/// per file, one testcase per expectation plus `golden`, classname the
/// file, a failed expectation as <failure> with its actual value, an
/// invalid file as one <error> testcase, counts that add up; and the same
/// bytes on a second run once the wall-clock `time`s are set aside.
#[test]
fn check_junit_has_a_case_per_expectation_and_is_deterministic() {
    let dir = scratch("check-junit");
    let a = write(&dir, "a.toml", LOST_SYN);
    let b = write(&dir, "b.toml", LOST_SYN);
    let d = dir.display().to_string();
    let o = tcpsim(&["check", "--bless", &d]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // b now expects what the run does not do; the golden still matches.
    std::fs::write(
        &b,
        LOST_SYN.replace("outcome = \"closed\"", "outcome = \"incomplete\""),
    )
    .unwrap();
    let c = write(&dir, "c.toml", "this is not toml [");
    let xml_path = dir.join("report.xml");
    let xml_arg = xml_path.display().to_string();
    let o = tcpsim(&["check", &d, "--junit", &xml_arg]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).ends_with("1 passed, 2 failed\n"),
        "{}",
        stdout(&o)
    );
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    // a and b: 4 expectations + golden each; c: one error case.
    assert_eq!(root.attribute("tests"), Some("11"), "{xml}");
    assert_eq!(root.attribute("failures"), Some("1"));
    assert_eq!(root.attribute("errors"), Some("1"));
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let names: Vec<_> = suites
        .iter()
        .map(|s| s.attribute("name").unwrap())
        .collect();
    assert_eq!(names, [a.as_str(), b.as_str(), c.as_str()]);
    let expectations = [
        "outcome",
        "retransmissions.SYN",
        "retransmit_at.SYN",
        "established_within",
    ];
    for (s, counts) in suites
        .iter()
        .zip([("5", "0", "0"), ("5", "1", "0"), ("1", "0", "1")])
    {
        let file = s.attribute("name").unwrap();
        assert_eq!(
            (
                s.attribute("tests").unwrap(),
                s.attribute("failures").unwrap(),
                s.attribute("errors").unwrap()
            ),
            counts,
            "{file}"
        );
        assert!(s.attribute("time").unwrap().parse::<f64>().unwrap() >= 0.0);
        let cases: Vec<_> = s
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        for case in &cases {
            assert_eq!(case.attribute("classname"), Some(file));
            assert!(case.attribute("time").unwrap().parse::<f64>().unwrap() >= 0.0);
        }
        let mut case_names: Vec<&str> =
            cases.iter().map(|c| c.attribute("name").unwrap()).collect();
        if file == c {
            assert_eq!(case_names, ["valid"]);
            let error = cases[0]
                .children()
                .find(|n| n.has_tag_name("error"))
                .unwrap();
            assert!(error.attribute("message").unwrap().starts_with("invalid: "));
            assert!(error.text().unwrap().contains("c.toml:1:"), "{xml}");
            continue;
        }
        assert_eq!(case_names.pop(), Some("golden"));
        case_names.sort();
        let mut want = expectations.to_vec();
        want.sort();
        assert_eq!(case_names, want, "{file}");
        for case in &cases {
            let failure = case.children().find(|n| n.has_tag_name("failure"));
            let should_fail = file == b && case.attribute("name") == Some("outcome");
            assert_eq!(
                failure.is_some(),
                should_fail,
                "{file} {:?}",
                case.attribute("name")
            );
            if let Some(f) = failure {
                assert_eq!(
                    f.attribute("message"),
                    Some("expected incomplete, actual closed (seed 7)")
                );
                assert!(
                    f.text()
                        .unwrap()
                        .contains(&format!("replay: tcpsim run {b} --seed 7")),
                    "{xml}"
                );
            }
        }
    }
    // Deterministic but for the times.
    let untimed = |x: &str| {
        let mut out = String::new();
        let mut rest = x;
        while let Some(i) = rest.find(" time=\"") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 7..];
            rest = &after[after.find('"').unwrap() + 1..];
        }
        out + rest
    };
    let o = tcpsim(&["check", &d, "--junit", &xml_arg]);
    assert_eq!(o.status.code(), Some(1));
    let again = std::fs::read_to_string(&xml_path).unwrap();
    assert_eq!(untimed(&xml), untimed(&again));
    assert!(!untimed(&xml).contains("time="));
}

/// Issue 17: `check --sweep` runs the file's own seed and then its
/// `[sweep]` seeds (the first N with `--max-seeds N`), each once; an
/// expectation is judged on every one and each failing seed is named with
/// its replay command; the golden only on the file's seed. The counts are
/// the arithmetic of the ranges.
#[test]
fn check_sweep_runs_the_sweep_seeds() {
    let dir = scratch("check-sweep");
    // seed 7 lies in 3..=9: 7 seeds in all.
    let inside = format!("{LOST_SYN}[sweep]\nseeds = \"3..=9\"\n");
    let f = write(&dir, "inside.toml", &inside);
    let o = tcpsim(&["check", "--bless", &f]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(stdout(&o), format!("ok   {f}\n1 passed, 0 failed\n"));
    // Each seed's timeline differs from the golden (its first line names
    // the seed), so this passes only if the golden is judged on seed 7 alone.
    let o = tcpsim(&["check", "--sweep", &f]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(
        stdout(&o),
        format!("ok   {f} (7 seeds)\n1 passed, 0 failed\n")
    );
    // The first 2 of them (3 and 4) and the file's own 7.
    let o = tcpsim(&["check", "--sweep", "--max-seeds", "2", &f]);
    assert_eq!(
        stdout(&o),
        format!("ok   {f} (3 seeds)\n1 passed, 0 failed\n")
    );
    // More than there are: all 7.
    let o = tcpsim(&["check", "--sweep", "--max-seeds", "100", &f]);
    assert_eq!(
        stdout(&o),
        format!("ok   {f} (7 seeds)\n1 passed, 0 failed\n")
    );
    // seed 7 outside 20..=23: 1 + 4 runs.
    let outside = format!("{LOST_SYN}[sweep]\nseeds = \"20..=23\"\n");
    let g = write(&dir, "outside.toml", &outside);
    let o = tcpsim(&["check", "--bless", "--sweep", &g]);
    assert_eq!(
        stdout(&o),
        format!("ok   {g} (5 seeds)\n1 passed, 0 failed\n")
    );
    // No [sweep]: once, as without --sweep.
    let h = write(&dir, "plain.toml", LOST_SYN);
    let o = tcpsim(&["check", "--bless", "--sweep", &h]);
    assert_eq!(stdout(&o), format!("ok   {h}\n1 passed, 0 failed\n"));

    // An expectation no run meets fails on all 7 seeds: the file's own
    // first, then 3, 4, 5, 6 (5 shown), and 2 more (8, 9).
    std::fs::write(
        &f,
        inside.replace("outcome = \"closed\"", "outcome = \"incomplete\""),
    )
    .unwrap();
    let xml_path = dir.join("sweep.xml");
    let xml_arg = xml_path.display().to_string();
    let o = tcpsim(&["check", "--sweep", &f, "--junit", &xml_arg]);
    assert_eq!(o.status.code(), Some(1));
    let mut want = format!(
        "FAIL {f} (7 seeds)\n  expectation outcome failed on 7 of 7 seeds: expected incomplete\n"
    );
    for seed in [7, 3, 4, 5, 6] {
        want.push_str(&format!(
            "    seed {seed}: actual closed; replay: tcpsim run {f} --seed {seed}\n"
        ));
    }
    want.push_str("    … 2 more seeds\n0 passed, 1 failed\n");
    assert_eq!(stdout(&o), want);
    // In the JUnit report still one testcase per expectation, not per seed.
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    assert!(
        xml.contains("tests=\"5\" failures=\"1\" errors=\"0\""),
        "{xml}"
    );
    assert!(
        xml.contains(
            "message=\"failed on 7 of 7 seeds, first seed 7: expected incomplete, actual closed\""
        ),
        "{xml}"
    );

    // --max-seeds needs --sweep and at least 1.
    let o = tcpsim(&["check", "--max-seeds", "2", &f]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = tcpsim(&["check", "--sweep", "--max-seeds", "0", &f]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn shard_auto_reads_the_batch_systems_and_merge_takes_folders_and_patterns() {
    let dir = scratch("shard_auto_and_merge_inputs");
    let f = write(&dir, "sweep.toml", SWEEP);
    let whole = tcpsim(&["sweep", &f, "--format", "json"]);
    let shard_with = |vars: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tcpsim"));
        c.args(["sweep", &f, "--shard", "auto"]).current_dir(&dir);
        for v in [
            "SLURM_ARRAY_TASK_ID",
            "JOB_COMPLETION_INDEX",
            "CI_NODE_INDEX",
        ] {
            c.env_remove(v);
        }
        c.envs(vars.iter().copied());
        c.output().expect("the tcpsim binary runs")
    };
    // The three systems of docs/distributed.md: a Slurm
    // array 1-5:2 (tasks 1, 3, 5 are shards 0, 1, 2 of 3), a Kubernetes
    // Indexed Job of 3 completions, GitLab `parallel: 3` (nodes 1 to 3).
    for k in 0..3u64 {
        let task = (1 + 2 * k).to_string();
        let index = k.to_string();
        let node = (k + 1).to_string();
        let slurm = shard_with(&[
            ("SLURM_ARRAY_TASK_ID", &task),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        let k8s = shard_with(&[("JOB_COMPLETION_INDEX", &index), ("TCPSIM_SHARDS", "3")]);
        let gitlab = shard_with(&[("CI_NODE_INDEX", &node), ("CI_NODE_TOTAL", "3")]);
        let given = tcpsim(&["sweep", &f, "--shard", &format!("{k}/3")]);
        for (system, o) in [("slurm", &slurm), ("kubernetes", &k8s), ("gitlab", &gitlab)] {
            assert_eq!(o.status.code(), Some(0), "{system}: {}", stderr(o));
            assert_eq!(o.stdout, given.stdout, "{system} shard {k}");
        }
        std::fs::create_dir_all(dir.join("out")).unwrap();
        write(&dir, &format!("out/shard-{k}.jsonl"), &stdout(&given));
    }
    let none = shard_with(&[]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).contains("no batch system found"),
        "{}",
        stderr(&none)
    );
    // A sparse Slurm array (--array=1,4,9) is refused.
    let sparse = shard_with(&[
        ("SLURM_ARRAY_TASK_ID", "9"),
        ("SLURM_ARRAY_TASK_MIN", "1"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
    ]);
    assert_eq!(sparse.status.code(), Some(2), "{}", stderr(&sparse));
    // merge of the folder, and of a pattern, is the unsharded sweep.
    let out = dir.join("out").display().to_string();
    for arg in [
        out.clone(),
        format!("{out}/shard-?.jsonl"),
        format!("{out}/*.jsonl"),
    ] {
        let m = tcpsim(&["merge", &arg, "--format", "json"]);
        assert_eq!(m.status.code(), Some(0), "{arg}: {}", stderr(&m));
        assert_eq!(stdout(&m), stdout(&whole), "{arg}");
    }
    let nothing = tcpsim(&["merge", &format!("{out}/none-*.jsonl")]);
    assert_eq!(nothing.status.code(), Some(2));
    assert!(
        stderr(&nothing).contains("no file matches this pattern"),
        "{}",
        stderr(&nothing)
    );
}

#[test]
fn sweep_progress_is_a_bar_on_a_terminal_and_nothing_elsewhere() {
    // Not a terminal (a pipe): nothing on standard error.
    let o = tcpsim(&["sweep", "configs/handshake.toml", "--seeds", "0..2000"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
    // A terminal, through util-linux's `script` where there is one: the
    // bar with its rate and ETA, and the same standard output.
    if !Path::new("/usr/bin/script").exists() {
        return;
    }
    let cmd = format!(
        "{} sweep configs/handshake.toml --seeds 0..20000 --jobs 2 >/dev/null",
        env!("CARGO_BIN_EXE_tcpsim")
    );
    let tty = Command::new("/usr/bin/script")
        .args(["-qc", &cmd, "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("script runs");
    let shown = String::from_utf8_lossy(&tty.stdout);
    assert!(shown.contains("runs") && shown.contains("ETA"), "{shown}");
}

//! Bad input never crashes tcpsim (issue #7): malformed experiment files,
//! bad command lines, sizes that would not fit in memory, and the inputs
//! the fuzzers found.
//!
//! - `tests/bad-input/NAME.toml`: one malformed experiment per file. Its
//!   first line says what the error must be: `# expect: LINE:COL fragment`.
//!   Both `tcpsim validate` and `tcpsim run` must exit 2 and print
//!   `NAME.toml:LINE:COL` and the fragment, and no panic.
//! - Command lines that are wrong in themselves: exit 2, a clear message.
//! - Resource bounds: the engine's event bound, ephemeral-port exhaustion.
//! - `fuzz/regressions/TARGET/*` (and the fuzzers' seeds): every input a
//!   fuzzer crashed on, replayed through the same check as the fuzz target.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../fuzz/src/cli.rs"]
mod fuzz_cli;
#[path = "../fuzz/src/decode.rs"]
mod fuzz_decode;
#[path = "../fuzz/src/endpoint.rs"]
mod fuzz_endpoint;
#[path = "../fuzz/src/experiment.rs"]
mod fuzz_experiment;
#[path = "../fuzz/src/merge.rs"]
mod fuzz_merge;
#[path = "../fuzz/src/script.rs"]
mod fuzz_script;

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

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scratch directory under the target directory, fresh for each test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bad_input-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Exit 2, `fragment` in stderr, no panic, nothing on stdout.
fn assert_rejected(o: &Output, what: &str, fragment: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{what}: exit code\n{err}");
    assert!(
        err.contains(fragment),
        "{what}: stderr lacks {fragment:?}:\n{err}"
    );
    assert!(!err.contains("panicked"), "{what}: panicked:\n{err}");
    assert!(
        !err.contains("internal error"),
        "{what}: internal error:\n{err}"
    );
}

// ----- the corpus of malformed experiment files -----

/// `(file, "LINE:COL", fragment)` for every file of `tests/bad-input/`.
fn corpus() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let dir = root().join("tests/bad-input");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/bad-input exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    for p in files {
        let text = std::fs::read_to_string(&p).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let rest = first.strip_prefix("# expect: ").unwrap_or_else(|| {
            panic!(
                "{}: first line must be `# expect: LINE:COL fragment`",
                p.display()
            )
        });
        let (loc, fragment) = rest.split_once(' ').unwrap_or((rest, ""));
        let name = format!(
            "tests/bad-input/{}",
            p.file_name().unwrap().to_string_lossy()
        );
        out.push((name, loc.to_owned(), fragment.to_owned()));
    }
    out
}

#[test]
fn corpus_holds_at_least_thirty_files() {
    let n = corpus().len();
    assert!(
        n >= 30,
        "tests/bad-input holds {n} files; issue #7 asks for at least 30"
    );
}

#[test]
fn every_malformed_file_is_rejected_with_its_location() {
    for (file, loc, fragment) in corpus() {
        let stem = Path::new(&file)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let located = format!("{stem}:{loc}: ");
        for command in ["validate", "run"] {
            let o = tcpsim(&[command, &file]);
            let what = format!("tcpsim {command} {file}");
            assert_rejected(&o, &what, &located);
            assert_rejected(&o, &what, &fragment);
        }
    }
}

#[test]
fn malformed_files_are_rejected_by_sweep_and_check_too() {
    for (file, _, fragment) in corpus().into_iter().take(5) {
        let o = tcpsim(&["sweep", &file, "--jobs", "1"]);
        assert_rejected(&o, &format!("tcpsim sweep {file}"), &fragment);
    }
    // `check` counts an invalid file as a failure (exit 1), never a crash.
    let dir = scratch("check");
    std::fs::copy(
        root().join("tests/bad-input/seed-negative.toml"),
        dir.join("seed-negative.toml"),
    )
    .unwrap();
    let o = tcpsim(&["check", &dir.display().to_string()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 passed, 1 failed"));
}

// ----- bad command lines -----

#[test]
fn bad_command_lines_exit_2_with_a_clear_message() {
    let dir = scratch("cli");
    let garbage = dir.join("garbage.toml");
    std::fs::write(
        &garbage,
        [0xff, 0xfe, 0x00, 0x9c, b'[', b'\n', 0x80, 0x01, b'=', 7],
    )
    .unwrap();
    let empty = dir.join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let bad_shard = dir.join("bad.jsonl");
    std::fs::write(&bad_shard, "{ not json\n").unwrap();
    let garbage = garbage.display().to_string();
    let empty = empty.display().to_string();
    let bad_shard = bad_shard.display().to_string();
    let dir_s = dir.display().to_string();
    let ok = "configs/handshake.toml";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![], "Usage"),
        (vec!["frobnicate"], "unrecognized subcommand"),
        (vec!["run"], "required"),
        (vec!["run", ok, "--bogus"], "unexpected argument '--bogus'"),
        (vec!["run", ok, "--seed", "abc"], "invalid value 'abc'"),
        (vec!["run", ok, "--seed", "-1"], "unexpected argument '-1'"),
        (
            vec!["run", ok, "--seed", "18446744073709551616"],
            "invalid value",
        ),
        (vec!["run", ok, "--format", "xml"], "invalid value 'xml'"),
        (vec!["run", ok, "--set", "seed"], "expected PATH=VALUE"),
        (vec!["run", ok, "--set", "=3"], "expected PATH=VALUE"),
        (
            vec!["run", ok, "--set", "links.9.loss=0.1"],
            "--set links.9.loss=0.1: links.9",
        ),
        (
            vec!["run", ok, "--set", "links.0.loss=2"],
            "a probability between 0 and 1",
        ),
        (
            vec!["run", ok, "--set", "nosuchkey=1"],
            "unknown key \"nosuchkey\"",
        ),
        (
            vec![
                "run",
                ok,
                "--set",
                "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.A.B.C.D.E.F.G=1",
            ],
            "at most 32 keys",
        ),
        (
            vec!["run", ok, "--set", "connections.0.count=2000000"],
            "at most 1000000",
        ),
        // A host reference is resolved when the file is read: an
        // override cannot leave one dangling (formerly an unknown
        // connection host ran as host 0 and an unknown link was skipped).
        (
            vec!["run", ok, "--set", "links.0.a=nobody"],
            "--set links.0.a=nobody: links.0.a: unknown host \"nobody\"",
        ),
        (
            vec!["sweep", ok, "--set", "connections.0.server=nobody"],
            "--set connections.0.server=nobody: connections.0.server: unknown host \"nobody\"",
        ),
        (
            vec!["run", ok, "--set", "hosts.0.name=renamed"],
            "configs/handshake.toml:27:5: links.0.a: unknown host \"client\"",
        ),
        (
            vec!["run", "no/such/file.toml"],
            "no/such/file.toml: cannot read",
        ),
        (
            vec!["run", &dir_s],
            "is a directory (expected an experiment file)",
        ),
        // Not UTF-8: refused at the first bad byte, not replaced (issue 16).
        (
            vec!["validate", &garbage],
            "garbage.toml:1:1: expected UTF-8 text, found the byte 0xff",
        ),
        (
            vec!["run", &garbage],
            "garbage.toml:1:1: expected UTF-8 text, found the byte 0xff",
        ),
        (
            vec!["validate", &empty],
            "empty.toml:1:1: the file is empty",
        ),
        (vec!["validate"], "required"),
        (
            vec!["sweep", ok, "--seeds", "5..5"],
            "--seeds: expected a non-empty seed range",
        ),
        (
            vec!["sweep", ok, "--seeds", "x..y"],
            "--seeds: expected a seed range",
        ),
        (
            vec!["sweep", ok, "--seeds", "0..=18446744073709551615"],
            "too many runs",
        ),
        (
            vec!["sweep", ok, "--shard", "3/2"],
            "--shard \"3/2\": expected K/N",
        ),
        (vec!["sweep", ok, "--shard", "x"], "expected K/N"),
        (vec!["sweep", ok, "--shard", "0/0"], "expected K/N"),
        (vec!["sweep", ok, "--jobs", "many"], "invalid value 'many'"),
        (vec!["merge", "no/such/shard.jsonl"], "cannot read"),
        (vec!["merge", &bad_shard], "bad.jsonl:1:"),
    ];
    for (args, fragment) in cases {
        let o = tcpsim(&args);
        assert_rejected(&o, &format!("tcpsim {}", args.join(" ")), fragment);
    }
}

// ----- resource bounds -----

/// Two hosts, one 1 ms link, and `extra` appended.
fn two_hosts(extra: &str) -> String {
    format!(
        "[[hosts]]\nname = \"client\"\naddr = \"10.0.0.1\"\n\
         [[hosts]]\nname = \"server\"\naddr = \"10.0.0.2\"\nlisten = [80]\n\
         [[links]]\na = \"client\"\nb = \"server\"\ndelay = \"1ms\"\n{extra}"
    )
}

#[test]
fn a_sweep_over_its_connection_runs_is_refused_before_running() {
    // 1 000 connections a run x 400 001 seeds = 400 001 000
    // connection-runs: 1 000 over the limit of 400 000 000.
    let text = two_hosts(
        "[[connections]]\nclient = \"client\"\nserver = \"server\"\nport = 80\n\
         count = 1000\n",
    );
    let file = scratch("connection-runs").join("c.toml");
    std::fs::write(&file, text).unwrap();
    let file = file.display().to_string();
    let o = tcpsim(&["sweep", &file, "--seeds", "0..400001"]);
    assert_rejected(
        &o,
        "400 001 seeds",
        "too many connection-runs: expected at most 400000000",
    );
    assert!(
        stderr(&o).contains("found 400001000 (1000 connections"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn too_many_hosts_is_an_error_at_the_first_host_over_the_limit() {
    use tcpsim_runner::experiment::limits::MAX_HOSTS;
    let mut text = String::new();
    for i in 0..=MAX_HOSTS {
        // Addresses 10.x.y.z from the index: all distinct, all unicast.
        let (a, b, c) = ((i >> 16) & 0xff, (i >> 8) & 0xff, (i & 0xff) + 1);
        text.push_str(&format!(
            "[[hosts]]\nname = \"h{i}\"\naddr = \"10.{a}.{b}.{c}\"\n"
        ));
    }
    let e = tcpsim_runner::parse(&text, "many.toml").unwrap_err();
    // Each host takes three lines; host number MAX_HOSTS starts after them.
    assert_eq!(e.line(), Some(3 * MAX_HOSTS + 1), "{e}");
    assert_eq!(e.key(), Some("hosts.10000"));
    assert!(
        e.message()
            .contains("too many [[hosts]] tables: expected at most 10 000"),
        "{e}"
    );
}

#[test]
fn endless_workload_stops_on_the_event_bound() {
    // 10 MB in one-octet segments is far more than the bound's events, and
    // the virtual-time bound (the longest a file allows, about 114 years)
    // is never reached first.
    let text = format!(
        "duration = \"1000000h\"\n{}",
        two_hosts(
            "[tcp]\nmss = 1\n[[connections]]\nclient = \"client\"\nserver = \"server\"\n\
             port = 80\nclient_sends = 10000000\n"
        )
    );
    let exp = tcpsim_runner::parse(&text, "endless.toml").unwrap();
    // The engine's default bound, with a smaller one so the test is quick:
    // the mechanism is the same.
    let mut b = tcpsim_net::SimBuilder::new(1);
    let client = b.host(
        "client",
        "10.0.0.1".parse().unwrap(),
        exp.host_config(&exp.hosts[0]),
    );
    let server = b.host(
        "server",
        "10.0.0.2".parse().unwrap(),
        exp.host_config(&exp.hosts[1]),
    );
    b.listen(server, 80);
    let link = tcpsim_net::LinkParams {
        delay: tcpsim_tcp::Duration::from_millis(1),
        ..tcpsim_net::LinkParams::default()
    };
    b.link(client, server, link.clone(), link);
    for w in tcpsim_runner::build::workloads(&exp) {
        b.connection(w);
    }
    b.duration(exp.duration).max_events(100_000).trace(false);
    let r = b.build().unwrap().run();
    assert_eq!(r.stop_reason, tcpsim_net::StopReason::Events);
    assert_eq!(r.events, 100_000);
    assert_eq!(r.connections[0].outcome, tcpsim_net::Outcome::Incomplete);
}

#[test]
fn endless_workload_report_says_it_stopped_on_events() {
    // Through the binary with the default bound of 20 000 000 events would
    // take minutes in a debug build; `run` reports whatever bound stopped
    // it, so a short duration shows the report's shape, and the stop on
    // events is checked above.
    let dir = scratch("endless");
    let file = dir.join("long.toml");
    std::fs::write(
        &file,
        format!(
            "duration = \"100ms\"\n{}",
            two_hosts(
                "[[connections]]\nclient = \"client\"\nserver = \"server\"\nport = 80\n\
                 client_sends = 10000000\n"
            )
        ),
    )
    .unwrap();
    let o = tcpsim(&["run", &file.display().to_string(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["stop_reason"], "duration");
    assert_eq!(v["end_ns"], 100_000_000);
    assert_eq!(v["connections"][0]["outcome"], "incomplete");
}

#[test]
fn ephemeral_port_exhaustion_is_an_error_event_not_a_crash() {
    let dir = scratch("ports");
    let file = dir.join("ports.toml");
    // Two ephemeral ports, three connections open at once to one server
    // port: the third finds no free port.
    let text = two_hosts(
        "[[connections]]\nclient = \"client\"\nserver = \"server\"\nport = 80\n\
         count = 3\nclose = \"none\"\n",
    )
    .replacen(
        "addr = \"10.0.0.1\"\n",
        "addr = \"10.0.0.1\"\nephemeral_ports = \"50000-50001\"\n",
        1,
    );
    std::fs::write(&file, text).unwrap();
    let o = tcpsim(&["run", &file.display().to_string(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let errors: Vec<&serde_json::Value> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "app" && e["call"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["conn"], 2);
    assert_eq!(errors[0]["detail"], "no free ephemeral port");
    let ports: Vec<&serde_json::Value> = (0..2)
        .map(|i| &v["connections"][i]["client_port"])
        .collect();
    assert_eq!(ports, [50000, 50001]);
}

// ----- fuzz regressions -----

/// Every file under `fuzz/DIR/TARGET/`, sorted.
fn inputs(dir: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let d = root().join("fuzz").join(dir).join(target);
    let Ok(entries) = std::fs::read_dir(&d) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn replay(target: &str, check: fn(&[u8])) {
    for dir in ["regressions", "seeds"] {
        for (path, bytes) in inputs(dir, target) {
            let r = std::panic::catch_unwind(|| check(&bytes));
            assert!(r.is_ok(), "{} fails again", path.display());
        }
    }
}

#[test]
fn fuzz_regressions_cli() {
    replay("cli", fuzz_cli::check);
}

#[test]
fn fuzz_regressions_decode() {
    replay("decode", fuzz_decode::check);
}

#[test]
fn fuzz_regressions_endpoint() {
    replay("endpoint", fuzz_endpoint::run);
}

#[test]
fn fuzz_regressions_experiment() {
    replay("experiment", fuzz_experiment::check);
}

#[test]
fn fuzz_regressions_merge() {
    replay("merge", fuzz_merge::check);
}

#[test]
fn fuzz_regressions_script() {
    replay("script", fuzz_script::check);
}

/// Replays one input outside the regression directories, for reading a new
/// crash: `TCPSIM_FUZZ_TARGET=endpoint TCPSIM_FUZZ_INPUT=path
/// TCPSIM_FUZZ_TRACE=1 cargo test --test tests replay_one_fuzz_input --
/// --ignored --nocapture`.
#[test]
#[ignore = "reads TCPSIM_FUZZ_TARGET and TCPSIM_FUZZ_INPUT"]
fn replay_one_fuzz_input() {
    let target = std::env::var("TCPSIM_FUZZ_TARGET").expect("TCPSIM_FUZZ_TARGET");
    let input = std::env::var("TCPSIM_FUZZ_INPUT").expect("TCPSIM_FUZZ_INPUT");
    let bytes = std::fs::read(&input).expect("reads the input");
    match target.as_str() {
        "decode" => fuzz_decode::check(&bytes),
        "endpoint" => fuzz_endpoint::run(&bytes),
        "experiment" => fuzz_experiment::check(&bytes),
        "script" => fuzz_script::check(&bytes),
        "merge" => fuzz_merge::check(&bytes),
        other => panic!("unknown target {other:?}"),
    }
}

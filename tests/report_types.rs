//! The JSON report, the sweep aggregate and the shard lines as Rust types
//! (SPEC §4, issue 15): for every `configs/*.toml`, the report that the
//! library builds, serialised as `tcpsim run --format json` writes it, is
//! byte for byte the binary's output, reads back into an equal
//! `Report`, and writes the same bytes again. The same for the aggregate
//! and the shard lines of the sweep configs.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use tcpsim::net::RunResult;
use tcpsim::runner::build::{Keep, build};
use tcpsim::runner::evaluate::{Check, evaluate};
use tcpsim::runner::report::{self, Call, EventKind, Meta, Report, ReportWriter, report};
use tcpsim::runner::sweep::merge::{Texts, merge};
use tcpsim::runner::sweep::{self, Aggregate, Line, Plan};
use tcpsim::runner::{Experiment, parse_with_overrides};

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

/// `tcpsim ARGS` that ran (exit 0, or 1 for a failed expectation): its
/// standard output.
fn stdout_of(args: &[&str]) -> String {
    let o = tcpsim(args);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "tcpsim {args:?}: exit {:?}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("the output is UTF-8")
}

/// Every `configs/*.toml`, as `configs/NAME.toml`, sorted.
fn configs() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("configs"))
        .expect("configs/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| format!("configs/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no configs/*.toml");
    files
}

/// The configs with a `[sweep]` table.
fn sweep_configs() -> Vec<String> {
    let files: Vec<String> = configs()
        .into_iter()
        .filter(|f| read(f).lines().any(|l| l.trim() == "[sweep]"))
        .collect();
    assert!(!files.is_empty(), "no config has a [sweep]");
    files
}

fn read(file: &str) -> String {
    std::fs::read_to_string(root().join(file)).expect("the config reads")
}

/// The run of `file` with its own seed and its expectations' checks, as
/// `tcpsim run FILE --format json` makes them; `trace`: whether the run
/// keeps its events.
fn library_run(file: &str, trace: bool) -> (Experiment, RunResult, Vec<Check>) {
    let exp = parse_with_overrides(&read(file), file, &[]).expect("the config parses");
    let keep = Keep {
        trace,
        pcap: false,
        paths: true,
    };
    let r = build(&exp, exp.seed, keep)
        .expect("the config builds")
        .run();
    let checks = evaluate(&exp, &r);
    (exp, r, checks)
}

/// The report of `file` with its own seed, built as `tcpsim run FILE
/// --format json` builds it.
fn library_report(file: &str) -> Report {
    let (exp, r, checks) = library_run(file, true);
    report(&Meta::new(&exp, exp.seed), &r, &checks)
}

/// The report of a run, written with a [`ReportWriter`] one event at a
/// time.
fn streamed(exp: &Experiment, r: &RunResult, checks: &[Check]) -> Vec<u8> {
    let head = Report::without_events(&Meta::new(exp, exp.seed), r, checks);
    let mut w = ReportWriter::begin(Vec::new(), &head).unwrap();
    for e in report::events(r) {
        w.event(&e).unwrap();
    }
    w.finish(&head).unwrap()
}

/// What `run --format json` writes for `report`.
fn pretty(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("the report serialises") + "\n"
}

#[test]
fn every_config_report_is_the_binary_output_and_reads_back_equal() {
    let mut types = BTreeSet::new();
    let mut calls = BTreeSet::new();
    let mut with_options = 0;
    let mut with_cause = 0;
    let files = configs();
    for file in &files {
        let value = library_report(file);
        let json = pretty(&value);
        assert_eq!(
            json,
            stdout_of(&["run", file, "--format", "json"]),
            "{file}: the library's report is not the binary's"
        );
        let back: Report = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{file}: the report does not read back: {e}"));
        assert_eq!(back, value, "{file}: read back, the report differs");
        assert_eq!(
            pretty(&back),
            json,
            "{file}: written again, the bytes differ"
        );
        // The compact form too.
        let compact = serde_json::to_string(&value).unwrap();
        let back: Report = serde_json::from_str(&compact).unwrap();
        assert_eq!(back, value, "{file}: compact");
        assert_eq!(
            value.to_string(),
            compact,
            "{file}: Display is the compact JSON"
        );

        for e in &value.events {
            let v = serde_json::to_value(e).unwrap();
            types.insert(v["type"].as_str().unwrap().to_string());
            match &e.kind {
                EventKind::App(a) => {
                    calls.insert(v["call"].as_str().unwrap().to_string());
                    if let Call::Write { bytes } = a.call {
                        assert_eq!(v["bytes"], bytes);
                    }
                }
                EventKind::Send(s) => {
                    with_options += usize::from(s.segment.options.is_some());
                    with_cause += usize::from(s.cause.is_some());
                    assert_eq!(s.cause.is_some(), s.retransmission, "{file}: {v}");
                }
                _ => {}
            }
        }
    }
    // The round trip above went through every kind of event and every
    // call that a report has today, and through segments with options and
    // retransmissions with causes.
    let all = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        types,
        all(&["app", "deliver", "drop", "send", "state", "timer"])
    );
    assert_eq!(
        calls,
        all(&[
            "abort",
            "accept",
            "at",
            "close",
            "connect",
            "eof",
            "error",
            "listen",
            "read",
            "shutdown",
            "shutdown-both",
            "shutdown-read",
            "sleep",
            "wait-acked",
            "write"
        ])
    );
    assert!(with_options > 0 && with_cause > 0);
    assert!(files.len() >= 30, "{} configs", files.len());
}

#[test]
fn every_config_report_streamed_is_the_same_bytes() {
    for file in configs() {
        for trace in [true, false] {
            let (exp, r, checks) = library_run(&file, trace);
            let whole = report(&Meta::new(&exp, exp.seed), &r, &checks);
            // Without a trace, no event: `"events": []`.
            assert_eq!(whole.events.is_empty(), !trace, "{file}");
            let streamed = String::from_utf8(streamed(&exp, &r, &checks)).unwrap();
            assert_eq!(
                streamed,
                serde_json::to_string_pretty(&whole).unwrap(),
                "{file}, trace {trace}: streamed, the report differs"
            );
        }
    }
}

#[test]
fn a_bad_report_is_an_error_not_a_default() {
    let json = serde_json::to_string(&library_report("configs/refused.toml")).unwrap();
    for (from, to, fragment) in [
        (
            "\"call\":\"connect\"",
            "\"call\":\"dial\"",
            "unknown variant `dial`",
        ),
        (
            "\"type\":\"send\"",
            "\"type\":\"sent\"",
            "unknown variant `sent`",
        ),
        ("\"stop_reason\":", "\"stop\":", "unknown field `stop`"),
        (
            "\"retransmission\":false,",
            "",
            "missing field `retransmission`",
        ),
        ("\"SYN-ACK\":", "\"SYNACK\":", "unknown field `SYNACK`"),
        ("\"seq\":", "\"seqno\":", "unknown field `seqno`"),
    ] {
        assert!(json.contains(from), "{from}");
        let bad = json.replacen(from, to, 1);
        let err = serde_json::from_str::<Report>(&bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains(fragment), "{from} -> {to}: {err}");
    }
}

#[test]
fn sweep_aggregates_are_the_binary_output_and_read_back_equal() {
    for file in sweep_configs() {
        let plan = Plan::new(&read(&file), &file, &[], None).unwrap();
        let indices: Vec<u64> = (0..plan.runs()).collect();
        let records = plan.run_indices(&indices, 2).unwrap();
        let agg = sweep::aggregate(&plan.name, &file, &records, &[]);
        let json = serde_json::to_string_pretty(&agg).unwrap() + "\n";
        assert_eq!(
            json,
            stdout_of(&["sweep", &file, "--format", "json"]),
            "{file}"
        );
        let back: Aggregate = serde_json::from_str(&json).unwrap();
        assert_eq!(back, agg, "{file}");
        assert_eq!(serde_json::to_string_pretty(&back).unwrap() + "\n", json);
    }
}

#[test]
fn shard_lines_are_the_binary_output_and_read_back_equal() {
    for file in sweep_configs() {
        let plan = Plan::new(&read(&file), &file, &[], None).unwrap();
        let mut texts = Vec::new();
        for k in 0..3 {
            let shard = format!("{k}/3");
            let out = stdout_of(&["sweep", &file, "--shard", &shard]);
            let indices: Vec<u64> = (k..plan.runs()).step_by(3).collect();
            let records = plan.run_indices(&indices, 2).unwrap();
            assert_eq!(out.lines().count(), records.len(), "{file} {shard}");
            for (text, record) in out.lines().zip(records) {
                let value = Line {
                    sweep: plan.identity().clone(),
                    file: file.clone(),
                    shard: k,
                    shards: 3,
                    record,
                };
                assert_eq!(text, serde_json::to_string(&value).unwrap(), "{file}");
                let back: Line = serde_json::from_str(text).unwrap();
                assert_eq!(back, value, "{file}: {text}");
                assert_eq!(sweep::from_line(text).unwrap(), value);
            }
            texts.push((format!("shard{k}.jsonl"), out));
        }
        // The lines read back merge into the unsharded sweep.
        let merged = merge(&Texts(&texts)).unwrap();
        assert_eq!(merged.sweep, *plan.identity());
        assert_eq!(merged.file, file);
        let agg = merged.aggregate();
        assert_eq!(
            serde_json::to_string_pretty(&agg).unwrap() + "\n",
            stdout_of(&["sweep", &file, "--format", "json"]),
            "{file}"
        );
    }
}

/// 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime 2^40 + 2^8 +
/// 0xb3), written out here to hold the digest to its definition.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul((1 << 40) + (1 << 8) + 0xb3);
    }
    h
}

#[test]
fn a_shard_line_with_sets_and_null_times_reads_back_equal() {
    // A refused connection: neither established nor closed, so both
    // times are null; and a sweep with a `--set`.
    let file = "configs/refused.toml";
    let sets = vec![("links.0.delay".to_string(), "20ms".to_string())];
    let plan = Plan::new(&read(file), file, &sets, None).unwrap();
    let record = plan.run_one(0).unwrap();
    assert_eq!(record.conns[0].established_ns, None);
    assert_eq!(record.conns[0].closed_ns, None);
    let value = Line {
        sweep: plan.identity().clone(),
        file: file.to_string(),
        shard: 0,
        shards: 1,
        record,
    };
    let text = serde_json::to_string(&value).unwrap();
    assert_eq!(
        text,
        stdout_of(&[
            "sweep",
            file,
            "--set",
            "links.0.delay=20ms",
            "--shard",
            "0/1"
        ])
        .trim_end()
    );
    assert!(
        text.contains(r#""sets":[["links.0.delay","20ms"]]"#),
        "{text}"
    );
    assert!(
        text.contains(r#""established_ns":null,"closed_ns":null"#),
        "{text}"
    );
    let back: Line = serde_json::from_str(&text).unwrap();
    assert_eq!(back, value);
    let bad = text.replacen(r#""outcome":"refused""#, r#""outcome":"refused!""#, 1);
    assert_ne!(bad, text);
    let err = sweep::from_line(&bad).unwrap_err();
    assert!(err.contains("unknown outcome \"refused!\""), "{err}");
}

/// Every key of docs/report.md's shard line, in its order, with the
/// identity of the sweep: the file's digest is FNV-1a 64 of its bytes, the
/// seeds and grid those the file states (`configs/random-loss.toml`).
#[test]
fn a_shard_line_carries_the_documented_keys_in_order() {
    let file = "configs/random-loss.toml";
    let source = read(file);
    let out = stdout_of(&["sweep", file, "--shard", "1/4"]);
    let first = out.lines().next().expect("shard 1/4 has a run");
    let v: serde_json::Value = serde_json::from_str(first).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "experiment",
            "digest",
            "sets",
            "seeds",
            "grid_points",
            "total_runs",
            "file",
            "shard",
            "shards",
            "index",
            "point",
            "params",
            "seed",
            "connections",
            "failed"
        ]
    );
    assert_eq!(
        v["digest"],
        format!("fnv1a64:{:016x}", fnv1a64(source.as_bytes()))
    );
    // The file's `[sweep]`: seeds = "1..=200", a grid of 3 loss values,
    // so 3 x 200 = 600 runs.
    assert_eq!(v["seeds"], serde_json::json!({"first": 1, "last": 200}));
    assert_eq!(v["grid_points"], 3);
    assert_eq!(v["total_runs"], 600);
    assert_eq!(
        (v["shard"].clone(), v["shards"].clone()),
        (1.into(), 4.into())
    );
    // Shard 1 of 4 starts at run 1.
    assert_eq!(v["index"], 1);
    assert_eq!(v["file"], file);
}

/// A shard line is read strictly: unknown, missing and duplicated keys,
/// negative times and counts that do not fit their type are errors.
#[test]
fn a_bad_shard_line_is_an_error_not_a_default() {
    let out = stdout_of(&["sweep", "configs/handshake.toml", "--shard", "0/1"]);
    let text = out.trim_end();
    assert!(sweep::from_line(text).is_ok());
    for (from, to, fragment) in [
        (
            "\"shards\":1,",
            "\"shards\":1,\"extra\":0,",
            "unknown field `extra`",
        ),
        ("\"total_runs\":1,", "", "missing field `total_runs`"),
        (
            "\"digest\":",
            "\"shard\":0,\"digest\":",
            "duplicate field `shard`",
        ),
        (
            "\"established_ns\":100000000",
            "\"established_ns\":-100000000",
            "invalid value: integer `-100000000`, expected u64",
        ),
        (
            "\"retransmissions\":[0,",
            "\"retransmissions\":[4294967296,",
            "invalid value: integer `4294967296`, expected u32",
        ),
        (
            "\"index\":0",
            "\"index\":0.5",
            "invalid type: floating point `0.5`",
        ),
        (
            "\"seeds\":{\"first\":1,",
            "\"seeds\":{\"first\":1,\"step\":2,",
            "unknown field `step`",
        ),
    ] {
        assert!(text.contains(from), "{from}");
        let bad = text.replacen(from, to, 1);
        let err = sweep::from_line(&bad).unwrap_err();
        assert!(err.contains(fragment), "{from} -> {to}: {err}");
    }
}

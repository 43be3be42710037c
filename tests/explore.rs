//! `tcpsim explore` (SPEC §8, docs/explore.md): the size of the case space
//! derived from the exchange, the minimal failures derived from RFC 6298,
//! every printed replay reproducing its failure with `tcpsim run`, and the
//! same bytes for any `--jobs`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use super::cli::scratch;

fn tcpsim(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the tcpsim binary runs")
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn explore_json(dir: &Path, file: &str, extra: &[&str]) -> Value {
    let mut args = vec!["explore", file, "--format", "json"];
    args.extend_from_slice(extra);
    json_of(&tcpsim(dir, &args))
}

/// A minimal failure's drops as (from, to, nth).
fn drops_of(m: &Value) -> BTreeSet<(String, String, u64)> {
    (m["drops"].as_array().unwrap().iter())
        .map(|d| {
            (
                d["from"].as_str().unwrap().to_string(),
                d["to"].as_str().unwrap().to_string(),
                d["nth"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn drop_set(list: &[(&str, &str, u64)]) -> BTreeSet<(String, String, u64)> {
    list.iter()
        .map(|(f, t, n)| (f.to_string(), t.to_string(), *n))
        .collect()
}

/// configs/handshake.toml (rfc, 50 ms each way, no data, the client closes
/// at once). Its fault-free exchange (the file's description):
///
/// ```text
/// client>server  #1 SYN 0   #2 ACK 100ms  #3 FIN 100ms  #4 ACK 200ms
/// server>client  #1 SYN-ACK 50ms   #2 ACK 150ms  #3 FIN 150ms
/// ```
///
/// So K = 1 has 1 + 7 cases. For K = 2 each single drop d has one child per
/// segment its run sends after d (RTO 1 s: RFC 6298 §2.1, and 1 s again
/// after a first RTT sample of 100 ms, since 100 + 4 × 50 ms < 1 s, §2.4):
///
/// - c>s #1, the SYN: resent at 1 s, then the whole exchange again: SYN,
///   SYN-ACK, ACK, FIN, ACK, FIN, ACK: 7.
/// - s>c #1, the SYN-ACK: the client resends its SYN at 1 s; the server's
///   SYN-ACK timer (50 ms + 1 s) falls due at 1.05 s, the instant that SYN
///   arrives, and goes first (SPEC §4: same-instant events run in the order
///   they were scheduled): SYN-ACK, then the ACK that answers the duplicate
///   SYN (RFC 9293 §3.10.7.4, an unacceptable segment); then ACK and FIN
///   from the client, ACK and FIN from the server, the last ACK. SYN +
///   SYN-ACK + ACK + 5 = 8.
/// - c>s #2, the handshake ACK: the FIN after it (same instant) carries the
///   ACK, then ACK, FIN and the last ACK: 4.
/// - c>s #3, the FIN: resent at 1.1 s, then ACK, FIN, last ACK: 4.
/// - s>c #2, the server's ACK of the FIN: its FIN after it, the last ACK: 2.
/// - s>c #3, the server's FIN: resent at 1.15 s, the last ACK: 2.
/// - c>s #4, the last ACK: the server's FIN again at 1.15 s (LAST-ACK), and
///   the client's ACK of it from TIME-WAIT: 2.
#[test]
fn handshake_cases_follow_from_its_segments() {
    let singles = 7;
    let k1 = explore_json(root(), "configs/handshake.toml", &["--drops", "1"]);
    assert_eq!(k1["cases"], 1 + singles);
    assert_eq!(k1["by_size"], serde_json::json!([1, singles]));
    let pairs = 7 + 8 + 4 + 4 + 2 + 2 + 2;
    let k2 = explore_json(root(), "configs/handshake.toml", &["--drops", "2"]);
    assert_eq!(k2["cases"], 1 + singles + pairs);
    assert_eq!(k2["by_size"], serde_json::json!([1, singles, pairs]));
    assert_eq!(k2["mode"], "exhaustive");
    // Its expectations pin every segment and time, so only the empty case
    // and the one drop whose loss changes nothing pass: the handshake ACK,
    // which the FIN right after it carries as well.
    assert_eq!(k1["passed"], 2);
    let failing: Vec<_> = (k1["minimal_failures"].as_array().unwrap().iter())
        .map(drops_of)
        .collect();
    assert_eq!(failing.len(), singles - 1);
    assert!(
        !failing.contains(&drop_set(&[("client", "server", 2)])),
        "dropping the handshake ACK passes"
    );
}

/// `--segments SYN,SYN-ACK`: n counts only those. Fault-free there is one
/// SYN and one SYN-ACK; dropping the SYN leaves its resend and the SYN-ACK
/// (2), dropping the SYN-ACK leaves the client's resent SYN and the
/// server's resent SYN-ACK (2): 1 + 2 + 4 cases.
#[test]
fn segments_restrict_what_is_dropped_and_counted() {
    let x = explore_json(
        root(),
        "configs/handshake.toml",
        &["--segments", "SYN,SYN-ACK"],
    );
    assert_eq!(x["cases"], 1 + 2 + 4);
    assert_eq!(x["segments"], serde_json::json!(["SYN", "SYN-ACK"]));
    let faults = x["minimal_failures"][0]["faults"].as_str().unwrap();
    assert!(
        faults.contains("segment = [\"SYN\", \"SYN-ACK\"]"),
        "{faults}"
    );
}

/// Only the connection's establishment is required, within 2 s, under the
/// `rfc` profile over 50 ms each way.
const ESTABLISHED_2S: &str = r#"
name = "established-2s"
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
established_within = "2s"
"#;

/// RFC 6298: the first RTO is 1 s (§2.1) and each expiry doubles it (§5.5),
/// so the client sends its SYN at 0, 1 s and 1 + 2 = 3 s, and the server
/// its SYN-ACK when a SYN arrives (50 ms later) and again 1 s and 2 s after
/// that. The client is ESTABLISHED 50 ms after the first SYN-ACK that
/// gets through.
///
/// - One drop never fails: a lost SYN or SYN-ACK is made good at 1 s
///   (established at 1 s + 100 ms); any other segment is after it.
/// - Two drops fail exactly when both fall before the first 2 s:
///   - SYN and resent SYN (c>s #1, #2): the third SYN at 3 s, established
///     at 3 + 0.1 s;
///   - SYN, then the SYN-ACK that answers its resend (c>s #1, s>c #1): that
///     SYN arrives at 1.05 s, the server resends at 1.05 + 1 s, received at
///     2.1 s;
///   - SYN-ACK and its resend at 1.05 s (s>c #1, #2; the server's answer
///     to the duplicate SYN, s>c #3, is a bare ACK that SYN-SENT drops,
///     RFC 9293 §3.10.7.3): the next SYN-ACKs at 3.05 s (the server's
///     timer) and in answer to the SYN of 3 s, received at 3.1 s.
/// - SYN-ACK and the resent SYN (s>c #1, c>s #2) pass: the server's own
///   resend at 1.05 s arrives at 1.1 s.
#[test]
fn established_within_2s_fails_exactly_as_rfc_6298_says() {
    let dir = scratch("explore-established-2s");
    std::fs::write(dir.join("e.toml"), ESTABLISHED_2S).unwrap();
    let limit_ms = 2_000;
    let syn_times_ms = [0, 1_000, 1_000 + 2_000];
    let d = 50;
    // The derivations above, as arithmetic.
    assert!(syn_times_ms[1] + 2 * d <= limit_ms, "one lost SYN passes");
    assert!(syn_times_ms[2] + 2 * d > limit_ms, "two lost SYNs fail");
    assert!(syn_times_ms[1] + d + 1_000 + d > limit_ms);
    assert!(d + 1_000 + 2_000 + d > limit_ms);
    assert!(d + 1_000 + d <= limit_ms, "the server's resend makes good");
    let expected = [
        drop_set(&[("client", "server", 1), ("client", "server", 2)]),
        drop_set(&[("client", "server", 1), ("server", "client", 1)]),
        drop_set(&[("server", "client", 1), ("server", "client", 2)]),
    ];
    let x = explore_json(&dir, "e.toml", &["--drops", "2"]);
    let found: Vec<BTreeSet<(String, String, u64)>> = (x["minimal_failures"].as_array())
        .unwrap()
        .iter()
        .map(drops_of)
        .collect();
    assert_eq!(
        found.iter().collect::<BTreeSet<_>>(),
        expected.iter().collect::<BTreeSet<_>>()
    );
    for m in x["minimal_failures"].as_array().unwrap() {
        assert_eq!(m["failed"], serde_json::json!(["established_within"]));
    }
    // With K = 1 nothing fails; exit 0.
    let o = tcpsim(&dir, &["explore", "e.toml", "--drops", "1"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = tcpsim(&dir, &["explore", "e.toml"]);
    assert_eq!(o.status.code(), Some(1));
    // Sampling finds only true minimal failures, and says it sampled.
    let r = explore_json(&dir, "e.toml", &["--random", "40", "--drops", "3"]);
    assert_eq!(r["mode"], "random");
    assert_eq!(r["walks"], 40);
    let sampled: Vec<_> = (r["minimal_failures"].as_array().unwrap().iter())
        .map(drops_of)
        .collect();
    assert!(!sampled.is_empty());
    for s in &sampled {
        assert!(expected.contains(s), "{s:?} is not minimal");
    }
    let text =
        String::from_utf8(tcpsim(&dir, &["explore", "e.toml", "--random", "5"]).stdout).unwrap();
    assert!(text.contains("(sampled, not exhaustive)"), "{text}");
}

/// Appends every minimal failure's `faults` to the file, runs it, and
/// checks that the run breaks exactly those expectations, ends as
/// reported, and drops each named segment at its time.
fn replays_reproduce(file: &str) -> usize {
    let dir = scratch(&format!("explore-replay-{}", file.replace('/', "-")));
    let source = std::fs::read_to_string(root().join(file)).unwrap();
    let x = explore_json(root(), file, &[]);
    let seed = x["seed"].as_u64().unwrap().to_string();
    let minimal = x["minimal_failures"].as_array().unwrap();
    for (i, m) in minimal.iter().enumerate() {
        let path = dir.join(format!("case{i}.toml"));
        let faults = m["faults"].as_str().unwrap();
        std::fs::write(&path, format!("{source}\n{faults}")).unwrap();
        let o = tcpsim(
            &dir,
            &[
                "run",
                path.to_str().unwrap(),
                "--seed",
                &seed,
                "--format",
                "json",
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{file} case {i}: {faults}");
        let r = json_of(&o);
        let failed: Vec<&str> = (r["expectations"].as_array().unwrap().iter())
            .filter(|c| c["passed"] == false)
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = (m["failed"].as_array().unwrap().iter())
            .map(|n| n.as_str().unwrap())
            .collect();
        assert_eq!(failed, want, "{file} case {i}: {faults}");
        let outcomes: BTreeSet<&str> = (r["connections"].as_array().unwrap().iter())
            .map(|c| c["outcome"].as_str().unwrap())
            .collect();
        if outcomes.len() == 1 {
            assert_eq!(
                m["outcome"].as_str().unwrap(),
                *outcomes.first().unwrap(),
                "{file} case {i}"
            );
        }
        for d in m["drops"].as_array().unwrap() {
            let link = format!(
                "{}->{}",
                d["from"].as_str().unwrap(),
                d["to"].as_str().unwrap()
            );
            let hit = r["events"].as_array().unwrap().iter().any(|e| {
                e["type"] == "drop"
                    && e["reason"] == "fault"
                    && e["link"] == link.as_str()
                    && e["t_ns"] == d["at_ns"]
            });
            assert!(
                hit,
                "{file} case {i}: no fault drop on {link} at {}",
                d["at_ns"]
            );
        }
    }
    minimal.len()
}

#[test]
fn every_replay_reproduces_its_failure() {
    // Each file's number of minimal failures is not the point here; that
    // each has some is (every one of these files pins its exchange).
    for file in [
        "configs/closed-within-3s.toml",
        "configs/syn-lost.toml",
        "configs/client-fin-lost.toml",
        "configs/linux-tlp-fin.toml",
        "configs/half-close.toml",
        "configs/generated-hosts.toml",
    ] {
        assert!(replays_reproduce(file) > 0, "{file} has no failure");
    }
}

#[test]
fn jobs_do_not_change_the_output() {
    for args in [
        &["configs/half-close.toml"][..],
        &["configs/closed-within-3s.toml", "--format", "json"],
        &[
            "configs/linux-lost-retransmission.toml",
            "--random",
            "300",
            "--drops",
            "4",
        ],
    ] {
        let run = |jobs: &str| {
            let mut a = vec!["explore"];
            a.extend_from_slice(args);
            a.extend_from_slice(&["--jobs", jobs]);
            tcpsim(root(), &a)
        };
        let one = run("1");
        let two = run("2");
        assert_eq!(one.stdout, two.stdout, "{args:?}");
        assert_eq!(one.status.code(), two.status.code());
        assert!(!one.stdout.is_empty());
    }
}

/// The space of configs/handshake.toml with K = 2 is 1 + 7 + 29 = 37 cases
/// (above). Level sizes are known one level ahead: with `--limit 10` the
/// second level's 29 are known after the first, exactly; with
/// `--limit 5`, the first level's 7 already exceed it, and the rest is
/// unknown: at least 1 + 7.
#[test]
fn a_space_larger_than_the_limit_is_refused_with_its_size() {
    let o = tcpsim(
        root(),
        &["explore", "configs/handshake.toml", "--limit", "10"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the space has exactly 37 cases (1 with 0 drops, 7 with 1 drop, 29 with 2 drops), more than --limit 10"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
    let o = tcpsim(
        root(),
        &["explore", "configs/handshake.toml", "--limit", "5"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("at least 8 cases"), "{err}");
    let o = tcpsim(
        root(),
        &["explore", "configs/handshake.toml", "--limit", "37"],
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn bad_arguments_are_refused() {
    for (args, needle) in [
        (
            &["--segments", "SYN,FOO"][..],
            "unknown segment kind \"FOO\": expected a comma-separated list of RST, SYN, SYN-ACK, FIN, DATA, ACK (or ANY)",
        ),
        (
            &["--drops", "0"],
            "--drops 0: expected 1 to 8 drops per case",
        ),
        (
            &["--drops", "9"],
            "--drops 9: expected 1 to 8 drops per case",
        ),
        (&["--random", "3", "--limit", "4"], "takes no --limit"),
        (
            &["--random", "10000001"],
            "--random 10000001: expected at most 10000000 walks",
        ),
        (&["--set", "links.0.delay=fast"], "links.0.delay"),
    ] {
        let mut a = vec!["explore", "configs/handshake.toml"];
        a.extend_from_slice(args);
        let o = tcpsim(root(), &a);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let o = tcpsim(root(), &["explore", "no-such-file.toml"]);
    assert_eq!(o.status.code(), Some(2));
}

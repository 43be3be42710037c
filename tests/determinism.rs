//! Determinism guarantees (issue #7): the same input gives the same
//! output, run after run, whatever `--jobs` is, and on any machine.
//!
//! The last is held by golden digests: `tests/data/digests.txt` holds, for
//! every `configs/*.toml`, an FNV-1a 64 digest of `tcpsim run FILE --format
//! json` with the tool's version field (`"tcpsim"`) removed, so a release
//! alone never changes a digest. When a machine, a compiler or a dependency
//! version changes what a run does, the digest test fails.
//!
//! Updating the digests, when a change of results is intended (a new
//! config, a behaviour change you have read and understood in the JSON):
//!
//! ```text
//! TCPSIM_BLESS_DIGESTS=1 cargo test --test tests determinism::
//! git diff tests/data/digests.txt   # only the files you meant to change
//! ```
//!
//! and commit `tests/data/digests.txt` with the change that caused it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The digest file, relative to the workspace root.
const DIGESTS: &str = "tests/data/digests.txt";

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

/// FNV-1a, 64 bits (Fowler–Noll–Vo; offset basis and prime from the
/// reference, draft-eastlake-fnv). Written out so that the digest cannot
/// change with a dependency.
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET_BASIS, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

#[test]
fn fnv1a64_matches_reference_vectors() {
    // From the FNV reference test suite (draft-eastlake-fnv, FNV-1a 64).
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
}

/// Every `configs/*.toml`, as `configs/NAME.toml`, sorted.
fn configs() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("configs"))
        .expect("configs/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p: PathBuf| format!("configs/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no configs/*.toml");
    files
}

/// `tcpsim run FILE --format json`, checked to have run (exit 0 or 1).
fn run_json(file: &str) -> String {
    let o = tcpsim(&["run", file, "--format", "json"]);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "tcpsim run {file} --format json: exit {:?}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("the report is UTF-8")
}

/// The report without its tool version, re-serialized compactly (key order
/// is the report's own: serde_json keeps it).
fn without_version(report: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(report).expect("the report is JSON");
    let obj = v.as_object_mut().expect("the report is an object");
    assert!(
        obj.remove("tcpsim").is_some(),
        "the report has a \"tcpsim\" field"
    );
    serde_json::to_string(&v).expect("serializes")
}

fn read_digests() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join(DIGESTS)).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (digest, file) = l.split_once("  ")?;
            Some((file.trim().to_owned(), digest.trim().to_owned()))
        })
        .collect()
}

#[test]
fn reports_match_committed_digests() {
    let actual: Vec<(String, String)> = configs()
        .into_iter()
        .map(|f| {
            let d = format!(
                "{:016x}",
                fnv1a64(without_version(&run_json(&f)).as_bytes())
            );
            (f, d)
        })
        .collect();
    if std::env::var_os("TCPSIM_BLESS_DIGESTS").is_some() {
        let mut out = String::from(
            "# FNV-1a 64 of `tcpsim run FILE --format json` without the \"tcpsim\" version field.\n\
             # Checked by tests/determinism.rs; update with\n\
             #   TCPSIM_BLESS_DIGESTS=1 cargo test --test tests determinism::\n",
        );
        for (f, d) in &actual {
            let _ = writeln!(out, "{d}  {f}");
        }
        std::fs::write(root().join(DIGESTS), out).expect("writes the digests");
        return;
    }
    let expected = read_digests();
    let mut problems = Vec::new();
    for (f, d) in &actual {
        match expected.iter().find(|(ef, _)| ef == f) {
            None => problems.push(format!("{f}: no digest in {DIGESTS} (actual {d})")),
            Some((_, e)) if e != d => problems.push(format!(
                "{f}: digest {d}, {DIGESTS} says {e}: the JSON report changed"
            )),
            Some(_) => {}
        }
    }
    for (f, _) in &expected {
        if !actual.iter().any(|(af, _)| af == f) {
            problems.push(format!("{f}: listed in {DIGESTS} but not in configs/"));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n\nIf the change is intended (a new or edited config, a behaviour change you have \
         checked in the JSON), update the digests with\n  \
         TCPSIM_BLESS_DIGESTS=1 cargo test --test tests determinism::\nand commit {DIGESTS}. \
         If nothing in tcpsim changed, a different machine, compiler or dependency version \
         changed the results: that is the bug this test exists to catch.",
        problems.join("\n")
    );
}

#[test]
fn json_is_identical_across_runs() {
    for f in configs() {
        let a = run_json(&f);
        let b = run_json(&f);
        assert!(a == b, "{f}: two runs gave different JSON");
    }
}

#[test]
fn sweep_json_does_not_depend_on_jobs() {
    let sweep = |jobs: &str| {
        let o = tcpsim(&[
            "sweep",
            "configs/random-loss.toml",
            "--format",
            "json",
            "--jobs",
            jobs,
        ]);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "sweep --jobs {jobs}: exit {:?}\n{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).expect("UTF-8")
    };
    let one = sweep("1");
    let two = sweep("2");
    assert!(!one.is_empty());
    assert!(
        one == two,
        "sweep of configs/random-loss.toml: --jobs 1 and --jobs 2 differ"
    );
}

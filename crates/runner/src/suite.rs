//! `tcpsim check`: the regression suite (tcpsim SPEC §2).
//!
//! Every `*.toml` under the given paths runs with its own seed; its
//! `[expect]` checks must hold and its text timeline must equal the golden
//! file `<stem>.golden` beside it, byte for byte. A missing golden fails
//! unless `--bless`, which (re)writes goldens. An invalid file fails.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::build::{Keep, build};
use crate::evaluate::{Check, evaluate};
use crate::report::Meta;
use crate::timeline::render;

/// What became of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileResult {
    /// The file.
    pub path: PathBuf,
    /// `None` when it passed; otherwise why not, readable.
    pub failure: Option<String>,
}

/// Every `*.toml` under `paths` (files are taken as given), sorted.
pub fn collect(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    collect_with(paths, "toml")
}

/// Every file named `*.EXT` under the directories of `paths`, and every
/// file `paths` names directly whatever its name, sorted, each once. A
/// path that does not exist is an error, and so is finding nothing (a
/// mistyped CI path must not pass); a directory reached twice (a symlink
/// loop) is walked once.
pub fn collect_with(paths: &[PathBuf], ext: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
        if meta.is_dir() {
            walk(p, ext, &mut out, &mut seen)?;
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        let under: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no *.{ext} files found under {}", under.join(", ")),
        ));
    }
    Ok(out)
}

fn walk(
    dir: &Path,
    ext: &str,
    out: &mut Vec<PathBuf>,
    seen: &mut std::collections::BTreeSet<PathBuf>,
) -> std::io::Result<()> {
    if !seen.insert(std::fs::canonicalize(dir)?) {
        return Ok(()); // reached again through a symlink
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, ext, out, seen)?;
        } else if p.extension().is_some_and(|e| e == ext) {
            out.push(p);
        }
    }
    Ok(())
}

/// The golden file of an experiment file.
pub fn golden_path(file: &Path) -> PathBuf {
    file.with_extension("golden")
}

/// The first differences between two texts, line by line.
pub fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    let mut shown = 0;
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i), a.get(i));
        if x != y {
            if shown == 12 {
                out.push_str("  ...\n");
                break;
            }
            let _ = writeln!(out, "  line {}:", i + 1);
            if let Some(x) = x {
                let _ = writeln!(out, "  - {x}");
            }
            if let Some(y) = y {
                let _ = writeln!(out, "  + {y}");
            }
            shown += 1;
        }
    }
    out
}

/// Runs one file of the suite.
pub fn check_file(path: &Path, bless: bool) -> FileResult {
    let fail = |why: String| FileResult {
        path: path.to_path_buf(),
        failure: Some(why),
    };
    let name = path.display().to_string();
    let source =
        match crate::input::read_text(path, "experiment file", crate::input::MAX_EXPERIMENT_FILE) {
            Ok(s) => s,
            Err(e) => return fail(format!("{e}\n")),
        };
    let exp = match crate::experiment::parse(&source, &name) {
        Ok(e) => e,
        Err(e) => return fail(format!("invalid: {e}\n")),
    };
    let sim = match build(&exp, exp.seed, Keep::ALL) {
        Ok(s) => s,
        Err(e) => return fail(format!("invalid: {e}\n")),
    };
    let r = sim.run();
    let checks = evaluate(&exp, &r);
    let text = render(&Meta::new(&exp, exp.seed), &r);
    let mut why = String::new();
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
    for c in &failed {
        let _ = writeln!(
            why,
            "  expectation {} failed: expected {}, actual {}",
            c.name, c.expected, c.actual
        );
    }
    let golden = golden_path(path);
    if bless {
        if let Err(e) = std::fs::write(&golden, &text) {
            let _ = writeln!(why, "  cannot write {}: {e}", golden.display());
        }
    } else {
        match std::fs::read_to_string(&golden) {
            Ok(g) if g == text => {}
            Ok(g) => {
                let _ = writeln!(
                    why,
                    "  timeline differs from {}:\n{}",
                    golden.display(),
                    diff(&g, &text)
                );
            }
            Err(_) => {
                let _ = writeln!(
                    why,
                    "  no golden timeline {} (run `tcpsim check --bless {}` and read it)",
                    golden.display(),
                    name
                );
            }
        }
    }
    if why.is_empty() {
        FileResult {
            path: path.to_path_buf(),
            failure: None,
        }
    } else {
        let _ = writeln!(
            why,
            "  seed {}; replay: {}",
            exp.seed,
            crate::shell::replay(&name, exp.seed, &[], &[])
        );
        fail(why)
    }
}

/// The results as JUnit XML.
pub fn junit(results: &[FileResult]) -> String {
    let failures = results.iter().filter(|r| r.failure.is_some()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites tests=\"{}\" failures=\"{failures}\">",
        results.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"tcpsim check\" tests=\"{}\" failures=\"{failures}\">",
        results.len()
    );
    for r in results {
        let name = crate::svg::escape(&r.path.display().to_string());
        match &r.failure {
            None => {
                let _ = writeln!(out, "    <testcase classname=\"tcpsim\" name=\"{name}\"/>");
            }
            Some(why) => {
                let first = why.lines().next().unwrap_or("failed").trim();
                let _ = writeln!(
                    out,
                    "    <testcase classname=\"tcpsim\" name=\"{name}\">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    crate::svg::escape(first),
                    crate::svg::escape(why)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

//! `tcpsim script` (SPEC §2, §7): plays packetdrill scripts and prints one
//! line per script, then `N passed, N failed`.

use std::io::Write;
use std::path::{Path, PathBuf};

use tcpsim_tcp::Profile;

use crate::commands::{BAD_INPUT, FAILED, INTERNAL, OK, parse_sets};
use crate::experiment::{parse_duration, parse_with_overrides};
use crate::script::{self, Overrides, Verdict};

/// The largest script file read: 1 MiB (the parser's limit too).
pub const MAX_SCRIPT_FILE: u64 = 1 << 20;

/// The command-line settings of `tcpsim script`.
#[derive(Clone, Debug)]
pub struct ScriptArgs<'a> {
    /// Files and directories (every `*.pkt` below, in name order).
    pub paths: &'a [PathBuf],
    /// `--profile`: `linux` by default (the scripts are Linux's).
    pub profile: Profile,
    /// `--set tcp.X=V`.
    pub sets: &'a [String],
    /// `--sysctl NAME=V`.
    pub sysctls: &'a [String],
    /// `--tolerance DUR`.
    pub tolerance: Option<&'a str>,
    /// `--verbose`: the whole exchange of every script.
    pub verbose: bool,
}

/// The `--set tcp.X=V` overrides, checked as an experiment file's `[tcp]`
/// keys are (the same names, units and limits).
fn tcp_overrides(sets: &[String]) -> Result<crate::TcpOverrides, String> {
    let pairs = parse_sets(sets)?;
    if let Some((k, _)) = pairs.iter().find(|(k, _)| !k.starts_with("tcp.")) {
        return Err(format!(
            "--set {k}: `tcpsim script` takes only tcp.X=V (the [tcp] keys of an experiment file)"
        ));
    }
    // A minimal experiment carries the overrides through the file's own
    // decoder, so a script's `--set` means exactly what a file's does.
    const CARRIER: &str = "[[hosts]]\nname = \"a\"\naddr = \"10.0.0.1\"\n[[hosts]]\nname = \"b\"\naddr = \"10.0.0.2\"\n[[links]]\na = \"a\"\nb = \"b\"\n";
    parse_with_overrides(CARRIER, "--set", &pairs)
        .map(|e| e.tcp)
        .map_err(|e| e.to_string())
}

fn read(file: &Path) -> Result<String, String> {
    crate::input::read_text(file, "script", MAX_SCRIPT_FILE)
}

/// `tcpsim script`.
pub fn script(args: &ScriptArgs<'_>) -> u8 {
    let tcp = match tcp_overrides(args.sets) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return BAD_INPUT;
        }
    };
    let mut sysctls = Vec::new();
    for s in args.sysctls {
        match s.split_once('=') {
            Some((k, v)) if !k.is_empty() => sysctls.push((k.to_string(), v.to_string())),
            _ => {
                eprintln!(
                    "error: --sysctl {s:?}: expected NAME=VALUE, e.g. --sysctl net.ipv4.tcp_sack=0"
                );
                return BAD_INPUT;
            }
        }
    }
    let tolerance_usecs = match args.tolerance.map(parse_duration) {
        None => None,
        Some(Ok(d)) => Some(d.as_nanos() / 1000),
        Some(Err(e)) => {
            eprintln!("error: --tolerance: {e}");
            return BAD_INPUT;
        }
    };
    let overrides = Overrides {
        sysctls,
        tolerance_usecs,
        tcp,
        log: args.verbose,
    };
    let files = match crate::suite::collect_with(args.paths, "pkt") {
        Ok(f) if !f.is_empty() => f,
        Ok(_) => {
            eprintln!("error: no *.pkt scripts under the paths given");
            return BAD_INPUT;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return BAD_INPUT;
        }
    };
    let (mut passed, mut failed, mut skipped, mut bad) = (0u32, 0u32, 0u32, 0u32);
    let mut out = String::new();
    for f in &files {
        let name = f.display().to_string();
        let result = read(f).and_then(|text| {
            script::run(&name, &text, args.profile, &overrides).map_err(|e| e.to_string())
        });
        match result {
            Err(e) => {
                bad += 1;
                out.push_str(&format!("error: {e}\n"));
            }
            Ok((played, notes)) => {
                if args.verbose {
                    for n in &notes {
                        out.push_str(&format!("  {name}: {n}\n"));
                    }
                    for l in &played.log {
                        out.push_str(&format!("  {l}\n"));
                    }
                }
                match played.verdict {
                    Verdict::Ok => {
                        passed += 1;
                        out.push_str(&format!("ok {name}\n"));
                    }
                    Verdict::Failed { line, message } => {
                        failed += 1;
                        out.push_str(&format!("{name}:{line}: {message}\n"));
                    }
                    Verdict::Skipped { line, reason } => {
                        skipped += 1;
                        out.push_str(&format!("skipped {name}:{line}: {reason}\n"));
                    }
                }
            }
        }
    }
    if skipped > 0 {
        out.push_str(&format!("{skipped} skipped\n"));
    }
    if bad > 0 {
        out.push_str(&format!("{bad} could not be played\n"));
    }
    out.push_str(&format!("{passed} passed, {} failed\n", failed + bad));
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: cannot write output: {e}");
        return INTERNAL;
    }
    if bad > 0 {
        BAD_INPUT
    } else if failed > 0 {
        FAILED
    } else {
        OK
    }
}

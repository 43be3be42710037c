//! The `tcpsim` command line (tcpsim SPEC §2).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tcpsim_runner::commands::{self, RunFormat, SweepFormat, SweepOutput};

/// Deterministic network simulator built around its own TCP.
#[derive(Parser)]
#[command(name = "tcpsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum RunFmt {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum CompareArg {
    Auto,
    Segments,
    Aggregates,
}

#[derive(Clone, Copy, ValueEnum)]
enum SweepFmt {
    Text,
    Json,
    Csv,
}

impl From<SweepFmt> for SweepFormat {
    fn from(f: SweepFmt) -> SweepFormat {
        match f {
            SweepFmt::Text => SweepFormat::Text,
            SweepFmt::Json => SweepFormat::Json,
            SweepFmt::Csv => SweepFormat::Csv,
        }
    }
}

/// `--profile` of `tcpsim script`.
#[derive(Clone, Copy, ValueEnum)]
enum ProfileArg {
    /// RFC 9293 and the RFCs it cites.
    Rfc,
    /// The Linux kernel's choices.
    Linux,
}

#[derive(Subcommand)]
enum Command {
    /// Run one experiment: the timeline and summary, or the JSON report.
    Run {
        /// The experiment file.
        file: PathBuf,
        /// Seed (any u64); overrides the file's `seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Override a field by dotted path, e.g. `--set links.0.loss=0.2`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: RunFmt,
        /// Write a pcap capture of every segment sent (`-`: standard output; the report then
        /// goes to standard error).
        #[arg(long, value_name = "OUT.pcap")]
        pcap: Option<PathBuf>,
        /// Write a pcapng capture: one interface per host, every segment outbound at its sender
        /// and inbound at its receiver, drops as comments (`-`: standard output).
        #[arg(long, value_name = "OUT.pcapng")]
        pcapng: Option<PathBuf>,
        /// Print only the summary.
        #[arg(long)]
        quiet: bool,
        /// Write a ladder diagram of the run (SVG).
        #[arg(long, value_name = "OUT.svg")]
        diagram: Option<PathBuf>,
    },
    /// Run many seeds (and the file's [sweep] grid) in parallel; print statistics.
    ///
    /// On a terminal, standard error shows a progress bar (runs done, rate, time left);
    /// elsewhere nothing. It never changes standard output.
    Sweep {
        /// The experiment file.
        file: PathBuf,
        /// Seeds: `A..B` (exclusive) or `A..=B` (inclusive); default: the file's [sweep] seeds, else its seed.
        #[arg(long)]
        seeds: Option<String>,
        /// Override a field by dotted path.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// Worker threads (default: all cores; at most the cores and the runs there are, and
        /// fewer if the system refuses threads). The output does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Output format [default: text; csv with --per-run].
        #[arg(long, value_enum)]
        format: Option<SweepFmt>,
        /// Instead of the aggregate, a CSV row per connection of each run (one per run with one
        /// connection), in run order, written as the runs end: run, seed, one column per grid
        /// path, connection, outcome, established_ns, closed_ns, rtx_KIND counts, passed, failed.
        /// Only with --format csv (the default then); not with --shard.
        #[arg(long)]
        per_run: bool,
        /// Run only every N-th run starting at run K (0 <= K < N) and print one JSON line per run, for `tcpsim merge`.
        /// `auto` takes K and N from the batch system: Slurm array jobs (SLURM_ARRAY_TASK_ID,
        /// _MIN, _STEP, _COUNT), Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX, TCPSIM_SHARDS),
        /// GitLab parallel (CI_NODE_INDEX, CI_NODE_TOTAL), in that order.
        #[arg(long, value_name = "K/N|auto")]
        shard: Option<String>,
        /// Write CDF plots of establishment and teardown times, one curve per grid point (SVG).
        #[arg(long, value_name = "OUT.svg")]
        plot: Option<PathBuf>,
    },
    /// The regression suite: run every *.toml under PATHs, check [expect] and golden timelines.
    ///
    /// Prints `ok   FILE` or `FAIL FILE` with why for each file, then `N passed, N failed`
    /// (files). A timeline that differs from its golden is shown as a unified diff
    /// (`--- GOLDEN` / `+++ actual (seed N)`, hunks with 3 lines of context, at most 60
    /// lines per file, then `… N more lines`) followed by the command that replays the run.
    /// Exit 0 all passed, 1 a file failed, 2 no file found.
    #[command(verbatim_doc_comment)]
    Check {
        /// Files or directories (default: configs/).
        paths: Vec<PathBuf>,
        /// Rewrite the golden timelines instead of comparing.
        #[arg(long)]
        bless: bool,
        /// Write a JUnit XML report: one testsuite per file, one testcase per expectation
        /// (named as the report names it) and one `golden`, classname the file; an invalid
        /// file is one testcase `valid` with <error>. `time` is wall-clock seconds, the only
        /// part that differs between runs.
        #[arg(long, value_name = "OUT.xml")]
        junit: Option<PathBuf>,
        /// Also check [expect] on every seed of each file's [sweep] (its grid is not applied);
        /// the golden is checked on the file's own seed only. Each failing seed is named with
        /// the command that replays it. Files without [sweep] run once.
        #[arg(long)]
        sweep: bool,
        /// With --sweep, only the first N seeds of each file's [sweep] (N >= 1).
        #[arg(long, value_name = "N", requires = "sweep",
              value_parser = clap::value_parser!(u64).range(1..))]
        max_seeds: Option<u64>,
    },
    /// Every set of up to K dropped segments of an experiment, each run and checked against
    /// [expect]; prints the counts and every minimal failing set with its [[faults]] replay.
    ///
    /// A case drops the n-th segment (of the chosen kinds, retransmissions counted) entering a
    /// direction of a link, for each of its drops; the cases are grown from what each run
    /// actually sends, so none is missed or run twice. The file's own faults, impairments and
    /// seed stay in force; its [sweep] is not applied. Exit 0 every case passed, 1 a case failed,
    /// 2 bad usage or a space larger than --limit.
    #[command(verbatim_doc_comment)]
    Explore {
        /// The experiment file.
        file: PathBuf,
        /// Seed (any u64) of every run; overrides the file's `seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Override a field by dotted path.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// The most drops in a case (1 to 8).
        #[arg(long, default_value_t = 2, value_name = "K")]
        drops: usize,
        /// The segment kinds that may be dropped (n counts only these), e.g. `SYN,SYN-ACK,FIN`;
        /// default: every kind (ANY).
        #[arg(long, value_name = "KIND,...")]
        segments: Option<String>,
        /// Refuse (exit 2) a space of more than N cases [default: 1000000].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        limit: Option<u64>,
        /// Instead of every case, N random ones (up to K drops each), failures shrunk to minimal
        /// ones; for spaces too large to run whole.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        random: Option<u64>,
        /// Worker threads (default: all cores). The output does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: RunFmt,
    },
    /// The experiment between real Linux TCP stacks (Linux, root), diffed with the linux
    /// profile's simulation of the same file and seed.
    ///
    /// One network namespace per host, TUN devices joined by a real-time emulator that runs
    /// tcpsim's link model and the file's [[faults]]; the applications as real socket calls,
    /// CUBIC on every socket. The segments are compared per direction (flags, relative seq/ack,
    /// length, options; times within 5 % or 10 ms). Exit 0 the simulation matches a kernel
    /// outcome, 1 it matches none, 2 bad usage or no root / namespaces, 3 a kernel run failed.
    #[command(verbatim_doc_comment)]
    Kernel {
        /// The experiment file.
        file: PathBuf,
        /// Seed (any u64) of both runs; overrides the file's `seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Override a field by dotted path, on both sides (sysctls and socket options where the
        /// kernel has them).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// Override a field on the simulation side only, e.g. `--sim-set tcp.min_rto=300ms`.
        #[arg(long = "sim-set", value_name = "PATH=VALUE")]
        sim_set: Vec<String>,
        /// Kernel runs (1 to 20); passes if the simulation matches one distinct outcome.
        #[arg(long, default_value_t = 1, value_name = "N")]
        tries: usize,
        /// Write the kernel's packets as pcap (tries after the first to OUT-tryK.pcap).
        #[arg(long, value_name = "OUT")]
        pcap: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: RunFmt,
        /// Segment by segment, by aggregates (SPEC §5 bulk rule), or auto: bulk connections (more
        /// than 16 data segments in a direction of the simulation) by aggregates.
        #[arg(long, value_enum, default_value = "auto")]
        compare: CompareArg,
    },
    /// Parse and check experiment files without running them.
    Validate {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Play packetdrill scripts against one simulated endpoint (no root, no kernel).
    Script {
        /// Script files, or directories (every *.pkt below them).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The endpoint's TCP profile.
        #[arg(long, value_enum, default_value = "linux")]
        profile: ProfileArg,
        /// Override a [tcp] field, e.g. `--set tcp.delayed_ack=40ms`.
        #[arg(long = "set", value_name = "tcp.X=VALUE")]
        set: Vec<String>,
        /// Set a sysctl as a script's `sysctl -q` line would, e.g. `--sysctl net.ipv4.tcp_sack=0`.
        #[arg(long, value_name = "NAME=VALUE")]
        sysctl: Vec<String>,
        /// Timing tolerance (replaces the script's --tolerance_usecs), e.g. `10ms`.
        #[arg(long, value_name = "DUR")]
        tolerance: Option<String>,
        /// Print the whole exchange of every script.
        #[arg(long)]
        verbose: bool,
    },
    /// Combine the outputs of `sweep --shard K/N` into the unsharded result (only a complete
    /// set of one sweep's shards: anything missing, duplicated or foreign is exit 2).
    Merge {
        /// Shard outputs (JSON lines): files, directories (every *.jsonl inside, by name) or
        /// file-name patterns with * and ? (`out/shard-*.jsonl`, quoted so the shell leaves it).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: SweepFmt,
    },
    /// Print the JSON Schema (draft 2020-12) of the experiment file, for editors and generators.
    ///
    /// `tcpsim schema > tcpsim.schema.json`, then point Taplo or VS Code's Even Better TOML at
    /// it (docs/editors.md). Generated from the types the files are decoded into; a file the
    /// schema accepts may still be refused for what only the decoder checks (a host a link
    /// names, a name used twice, `end` after `start`).
    Schema,
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("internal error: {info}");
        eprintln!("this is a bug in tcpsim; please report it with the command that caused it");
        std::process::exit(i32::from(commands::INTERNAL));
    }));
    // No wall-clock stamp: the engine's events carry their virtual time
    // (`t_ns`), and a log of one seed is the same on every machine.
    tracing_subscriber::fmt()
        .without_time()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    // A closed standard output (`>&-`) reads as a sink to Rust's std (it
    // swallows EBADF), and the first file opened would take descriptor 1:
    // refuse it before anything is opened.
    if !stdout_is_open() {
        eprintln!("error: standard output is closed: expected an open file, pipe or terminal");
        return ExitCode::from(commands::INTERNAL);
    }
    ExitCode::from(dispatch(Cli::parse()))
}

/// Parses `args` (the program's name first) as the command line does and
/// runs the command: its exit code, or clap's error for a bad command line
/// (and for `--help` and `--version`). What the fuzz target `cli` calls.
#[allow(dead_code)]
pub(crate) fn run_args<I, T>(args: I) -> Result<u8, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    Cli::try_parse_from(args).map(dispatch)
}

/// Runs the command `cli` names: its exit code.
fn dispatch(cli: Cli) -> u8 {
    match cli.command {
        Command::Run {
            file,
            seed,
            set,
            format,
            pcap,
            pcapng,
            quiet,
            diagram,
        } => commands::run(
            &file,
            seed,
            &set,
            match format {
                RunFmt::Text => RunFormat::Text,
                RunFmt::Json => RunFormat::Json,
            },
            commands::Captures {
                pcap: pcap.as_deref(),
                pcapng: pcapng.as_deref(),
            },
            quiet,
            diagram.as_deref(),
        ),
        Command::Sweep {
            file,
            seeds,
            set,
            jobs,
            format,
            per_run,
            shard,
            plot,
        } => commands::sweep(
            &file,
            seeds.as_deref(),
            &set,
            jobs,
            SweepOutput {
                format: format.map_or(
                    if per_run {
                        SweepFormat::Csv
                    } else {
                        SweepFormat::Text
                    },
                    SweepFormat::from,
                ),
                per_run,
            },
            shard.as_deref(),
            plot.as_deref(),
        ),
        Command::Check {
            paths,
            bless,
            junit,
            sweep,
            max_seeds,
        } => commands::check(
            &paths,
            &tcpsim_runner::suite::Options {
                bless,
                sweep,
                max_seeds,
            },
            junit.as_deref(),
        ),
        Command::Explore {
            file,
            seed,
            set,
            drops,
            segments,
            limit,
            random,
            jobs,
            format,
        } => tcpsim_runner::explore::command::command(
            &tcpsim_runner::explore::command::ExploreArgs {
                file: &file,
                seed,
                sets: &set,
                drops,
                segments: segments.as_deref(),
                limit,
                random,
                jobs,
                json: matches!(format, RunFmt::Json),
            },
        ),
        Command::Kernel {
            file,
            seed,
            set,
            sim_set,
            tries,
            pcap,
            format,
            compare,
        } => tcpsim_kernel::command(&tcpsim_kernel::KernelArgs {
            file: &file,
            seed,
            sets: &set,
            sim_sets: &sim_set,
            tries,
            pcap: pcap.as_deref(),
            json: matches!(format, RunFmt::Json),
            method: match compare {
                CompareArg::Auto => tcpsim_runner::kernel_diff::Method::Auto,
                CompareArg::Segments => tcpsim_runner::kernel_diff::Method::Segments,
                CompareArg::Aggregates => tcpsim_runner::kernel_diff::Method::Aggregates,
            },
        }),
        Command::Validate { files } => commands::validate(&files),
        Command::Merge { files, format } => commands::merge(&files, format.into()),
        Command::Schema => commands::schema(),
        Command::Script {
            paths,
            profile,
            set,
            sysctl,
            tolerance,
            verbose,
        } => tcpsim_runner::script_command::script(&tcpsim_runner::script_command::ScriptArgs {
            paths: &paths,
            profile: match profile {
                ProfileArg::Rfc => tcpsim_tcp::Profile::Rfc,
                ProfileArg::Linux => tcpsim_tcp::Profile::Linux,
            },
            sets: &set,
            sysctls: &sysctl,
            tolerance: tolerance.as_deref(),
            verbose,
        }),
    }
}

/// Whether standard output was open when tcpsim started. Rust's runtime
/// reopens a closed descriptor 0, 1 or 2 on `/dev/null`, read-write, before
/// `main` (so that no file opened later lands on it); a shell's
/// `>/dev/null` opens it write-only. So on Linux descriptor 1 on
/// `/dev/null` in read-write mode (`/proc/self/fdinfo/1`, `flags` with
/// `O_ACCMODE` = `O_RDWR`) means it was closed. (`1<>/dev/null` looks the
/// same, and is refused too.)
#[cfg(target_os = "linux")]
fn stdout_is_open() -> bool {
    let on_null =
        std::fs::read_link("/proc/self/fd/1").is_ok_and(|p| p == std::path::Path::new("/dev/null"));
    if !on_null {
        return true;
    }
    let flags = std::fs::read_to_string("/proc/self/fdinfo/1")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        });
    // O_ACCMODE is 3, O_RDWR 2.
    flags.is_none_or(|f| f & 3 != 2)
}

/// Elsewhere a closed standard output cannot be told from `/dev/null`.
#[cfg(not(target_os = "linux"))]
fn stdout_is_open() -> bool {
    true
}

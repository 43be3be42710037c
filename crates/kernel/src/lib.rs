//! `tcpsim kernel` (tcpsim SPEC §10): an experiment file run between real
//! Linux TCP stacks and compared with the `linux` profile's simulation of
//! the same file and seed.
//!
//! Each host of the file gets a network namespace; each link a TUN device
//! at both ends, joined by a real-time emulator that runs the simulation's
//! own link model and fault rules ([`emulator`]); the applications' steps
//! become socket calls in the namespaces ([`apps`]), with CUBIC on every
//! socket. Every packet each kernel sent is recorded as the emulator reads
//! it, and the two runs' segments are compared by SPEC §5's rule
//! ([`tcpsim_runner::kernel_diff`]). `--tries N` repeats the kernel run and
//! passes when the simulation matches one of the distinct outcomes (the
//! kernel breaks timer ties at random).
//!
//! Linux only, as root; elsewhere the command says so and exits 2.

pub mod apps;
pub mod emulator;
pub mod jiffies;
mod lab;
pub mod plan;
pub mod run;
mod sys;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use serde::Serialize;
use tcpsim_runner::build::{Keep, build};
use tcpsim_runner::commands::{BAD_INPUT, FAILED, INTERNAL, OK, parse_sets};
use tcpsim_runner::kernel_diff::{self, Comparison, Cwnd, Method, Packet, Run};
use tcpsim_runner::parse_with_overrides;

use crate::apps::Note;
use crate::emulator::Timing;
use crate::run::KernelRun;

/// The most tries one command runs.
pub const MAX_TRIES: usize = 20;

/// How long a kernel run lasts beyond the simulation's last segment: a
/// tenth of that time, at least this much.
const MARGIN: StdDuration = StdDuration::from_secs(1);

/// Exit code when a signal stopped the run (128 + SIGINT).
const SIGNALLED: u8 = 130;

/// Time allowed for setting up the namespaces and devices of one host or
/// link (a handful of `ip` and `tc` commands) before the tries start.
const SETUP_PER_HOST: StdDuration = StdDuration::from_millis(60);

/// The least time allowed for the setup.
const MIN_SETUP: StdDuration = StdDuration::from_millis(300);

/// The command-line settings of `tcpsim kernel`.
#[derive(Clone, Debug)]
pub struct KernelArgs<'a> {
    /// The experiment file.
    pub file: &'a Path,
    /// `--seed`: the file's `seed` when absent.
    pub seed: Option<u64>,
    /// `--set PATH=VALUE`: both sides.
    pub sets: &'a [String],
    /// `--sim-set PATH=VALUE`: the simulation only.
    pub sim_sets: &'a [String],
    /// `--tries N` (default 1).
    pub tries: usize,
    /// `--pcap OUT`: the kernel's packets, as the emulator read them.
    pub pcap: Option<&'a Path>,
    /// `--format json` instead of text.
    pub json: bool,
    /// `--compare`: segment by segment, by aggregates, or by the bulk rule.
    pub method: Method,
}

/// One distinct outcome of the kernel runs.
#[derive(Debug, Serialize)]
struct Outcome {
    /// The tries (1-based) that gave it.
    tries: Vec<usize>,
    /// The simulation against it.
    comparison: Comparison,
    /// What the applications of its first try saw.
    notes: Vec<Note>,
    /// The emulator's timing in its first try.
    timing: Timing,
}

/// The JSON report.
#[derive(Debug, Serialize)]
struct Report<'a> {
    experiment: &'a str,
    file: String,
    seed: u64,
    tries: usize,
    kernel_release: String,
    /// The kernel's HZ, where `/proc/timer_list` tells it.
    hz: Option<u64>,
    /// The runs started on a jiffy equal to `start_jiffy` modulo this
    /// (absent: at any jiffy).
    aligned_to: Option<u64>,
    /// The simulation's jiffy at time zero, modulo `aligned_to`.
    start_jiffy: Option<u64>,
    /// Settings of the simulation changed to fit this kernel.
    adjusted: &'a [String],
    /// Settings of the file that the kernel has no knob for.
    not_applied: &'a [String],
    /// How long each kernel run lasted, in nanoseconds.
    run_ns: u64,
    outcomes: &'a [Outcome],
    verdict: &'static str,
}

/// `tcpsim kernel`: exit 0 when the simulation matches a kernel outcome, 1
/// when it matches none, 2 for bad usage or a machine that cannot run it,
/// 3 when a kernel run failed, 130 when a signal stopped it.
pub fn command(args: &KernelArgs<'_>) -> u8 {
    // The binary's panic hook exits at once (code 3); here a panic must
    // unwind instead, so that the laboratory's namespaces are removed on
    // the way out. The message is printed as the default hook prints it.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error (a bug in tcpsim kernel): {info}");
    }));
    let code = std::panic::catch_unwind(|| run_command(args)).unwrap_or(INTERNAL);
    std::panic::set_hook(hook);
    code
}

/// [`command`] inside its panic guard.
fn run_command(args: &KernelArgs<'_>) -> u8 {
    let fail = |e: String| {
        eprintln!("error: {e}");
        BAD_INPUT
    };
    if !(1..=MAX_TRIES).contains(&args.tries) {
        return fail(format!(
            "--tries {}: expected 1 to {MAX_TRIES} kernel runs",
            args.tries
        ));
    }
    let (sets, sim_sets) = match (parse_sets(args.sets), parse_sets(args.sim_sets)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) => return fail(e),
        (_, Err(e)) => return fail(e.replace("--set", "--sim-set")),
    };
    let name = args.file.display().to_string();
    let source = match tcpsim_runner::input::read_text(
        args.file,
        "experiment file",
        tcpsim_runner::input::MAX_EXPERIMENT_FILE,
    ) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let exp = match parse_with_overrides(&source, &name, &sets) {
        Ok(e) => e,
        Err(e) => return fail(e.to_string()),
    };
    if let Err(e) = lab::check_host() {
        return fail(e);
    }
    // The kernel's ticks: the runs start on the jiffy the simulation's
    // timer wheel counts from, and the simulation ticks at this HZ.
    let clock = match jiffies::JiffyClock::read() {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!(
                "warning: {e}; the kernel runs start at any jiffy, so timers longer than a \
                 second may fire in other buckets than the simulation's"
            );
            None
        }
    };
    let mut both: Vec<(String, String)> = sets.iter().chain(&sim_sets).cloned().collect();
    let profile_tick = tcpsim_tcp::Config::linux().kernel_tick.as_nanos();
    let mut adjusted = Vec::new();
    if let Some(c) = clock.filter(|c| c.tick_ns != profile_tick)
        && !both.iter().any(|(k, _)| k == "tcp.kernel_tick")
    {
        both.push(("tcp.kernel_tick".into(), format!("{}ns", c.tick_ns)));
        adjusted.push(format!(
            "tcp.kernel_tick = {} ms in the simulation: this kernel has HZ = {} (the linux \
             profile's {} ms is HZ = 250)",
            c.tick_ns as f64 / 1e6,
            c.hz,
            profile_tick as f64 / 1e6
        ));
    }
    let mut sim_exp = match parse_with_overrides(&source, &name, &both) {
        Ok(e) => e,
        Err(e) => return fail(e.to_string()),
    };
    // Where the simulation's time zero falls on the kernel's tick clock
    // (the first host's: every namespace shares the kernel's one jiffy
    // counter). A kernel run starts a little into its jiffy, so that its
    // first socket call comes after the tick handler; the simulation's
    // time zero goes as far into its own.
    let origins: Vec<u64> = sim_exp
        .hosts
        .iter()
        .map(|h| sim_exp.host_config(h).tick_clock_at_zero.as_nanos())
        .collect();
    let mut origin = origins.first().copied().unwrap_or(0);
    if origins.iter().any(|&o| o != origin) {
        eprintln!(
            "warning: {name}: the hosts set different tcp.tick_clock_at_zero; the kernel has one \
             tick clock, so the kernel runs follow the first host's"
        );
    }
    if let Some(c) = clock {
        let into = origin % c.tick_ns;
        let start = origin - into + c.lead_ns(into);
        if start != origin {
            both.push(("tcp.tick_clock_at_zero".into(), format!("{start}ns")));
            sim_exp = match parse_with_overrides(&source, &name, &both) {
                Ok(e) => e,
                Err(e) => return fail(e.to_string()),
            };
            adjusted.push(format!(
                "tcp.tick_clock_at_zero = {} ms in the simulation: each kernel run starts {} ms \
                 into its jiffy, after the tick handler has run",
                start as f64 / 1e6,
                c.lead_ns(into) as f64 / 1e6
            ));
            origin = start;
        }
    }
    if sim_exp.profile != tcpsim_tcp::Profile::Linux {
        return fail(format!(
            "{name}: the simulation side runs profile {:?}; tcpsim kernel compares the kernel with \
             the linux profile (set profile = \"linux\")",
            sim_exp.profile.name()
        ));
    }
    let seed = args.seed.unwrap_or(exp.seed);
    let sim = match build(
        &sim_exp,
        seed,
        Keep {
            trace: false,
            pcap: true,
            paths: false,
        },
    ) {
        Ok(s) => s.run(),
        Err(e) => return fail(format!("{name}: {e}")),
    };
    if let Some(e) = &sim.capture_error {
        eprintln!("error: {name}: the simulation's capture: {e}");
        return INTERNAL;
    }
    let sim_packets = read_pcap(sim.pcap.as_deref().unwrap_or_default());
    let sim_cwnd = sim_cwnd(&sim);
    let last = sim_packets.iter().map(|p| p.at_ns).max().unwrap_or(0);
    let length = StdDuration::from_nanos(last) + MARGIN.max(StdDuration::from_nanos(last / 10));
    // The kernel's sockets bind the ports of the file as both sides have
    // it: with --sim-set, those of a simulation without it.
    let ports = if sim_sets.is_empty() {
        sim
    } else {
        let keep = Keep {
            trace: false,
            pcap: false,
            paths: false,
        };
        match build(&exp, seed, keep) {
            Ok(s) => s.run(),
            Err(e) => return fail(format!("{name}: {e}")),
        }
    };
    let plan = match plan::plan(&exp, seed, &ports) {
        Ok(p) => p,
        Err(e) => return fail(format!("{name}: {e}")),
    };
    let hosts: Vec<(String, std::net::Ipv4Addr)> =
        exp.hosts.iter().map(|h| (h.name.clone(), h.addr)).collect();

    sys::catch_signals();
    lab::remove_stale();
    if !args.json {
        eprintln!(
            "kernel: {} {} side by side, {:.1} s of real time",
            args.tries,
            if args.tries == 1 { "run" } else { "runs" },
            length.as_secs_f64()
        );
    }
    // The tries run side by side, each in namespaces of its own, from one
    // base instant that leaves time to set them all up.
    let setup = SETUP_PER_HOST * (exp.hosts.len() as u32 + exp.links.len() as u32);
    let starts = run::Starts::new(clock, origin, setup.max(MIN_SETUP));
    let results: Vec<Result<KernelRun, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..args.tries)
            .map(|t| {
                let plan = &plan;
                s.spawn(move || run::run(plan, t, starts, length))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the run's thread panicked".into()))
            })
            .collect()
    });
    sys::default_signals();
    if sys::stopped() {
        eprintln!("kernel: stopped by a signal; the namespaces are removed");
        return SIGNALLED;
    }
    let mut runs: Vec<KernelRun> = Vec::new();
    for (t, r) in results.into_iter().enumerate() {
        match r {
            Ok(r) => runs.push(r),
            Err(e) => {
                eprintln!("error: {name}: kernel run {}: {e}", t + 1);
                return INTERNAL;
            }
        }
    }
    if let Some(out) = args.pcap {
        for (t, r) in runs.iter().enumerate() {
            let path = try_path(out, t, runs.len());
            if let Err(e) = write_pcap(&path, &r.packets) {
                eprintln!("error: {}: {e}", path.display());
                return BAD_INPUT;
            }
        }
    }

    // Distinct outcomes, in the order of their first try.
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut firsts: Vec<usize> = Vec::new();
    let cwnds: Vec<Vec<Cwnd>> = runs.iter().map(|r| kernel_cwnd(&plan, &r.notes)).collect();
    let run_of = |t: usize| Run {
        packets: &runs[t].packets,
        cwnd: &cwnds[t],
    };
    let sim_run = Run {
        packets: &sim_packets,
        cwnd: &sim_cwnd,
    };
    for (t, r) in runs.iter().enumerate() {
        if let Some(k) = firsts.iter().position(|&f| {
            kernel_diff::same_outcome_with(&hosts, args.method, run_of(f), run_of(t))
        }) {
            outcomes[k].tries.push(t + 1);
            continue;
        }
        firsts.push(t);
        outcomes.push(Outcome {
            tries: vec![t + 1],
            comparison: kernel_diff::compare_with(&hosts, args.method, sim_run, run_of(t)),
            notes: r.notes.clone(),
            timing: r.timing,
        });
    }
    let matched = outcomes.iter().any(|o| o.comparison.matches);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let report = Report {
        experiment: &exp.name,
        file: name.clone(),
        seed,
        tries: args.tries,
        kernel_release: release,
        hz: clock.map(|c| c.hz),
        aligned_to: clock.map(|_| jiffies::ALIGN),
        start_jiffy: clock.map(|c| origin / c.tick_ns % jiffies::ALIGN),
        adjusted: &adjusted,
        not_applied: &plan.unmapped,
        run_ns: length.as_nanos() as u64,
        outcomes: &outcomes,
        verdict: if matched { "match" } else { "divergence" },
    };
    let out = if args.json {
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    } else {
        text(&report)
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return INTERNAL;
    }
    if matched { OK } else { FAILED }
}

/// The simulation's senders' final congestion windows, from its connection
/// reports (each end's cwnd when the connection ended).
fn sim_cwnd(r: &tcpsim_net::RunResult) -> Vec<Cwnd> {
    let mut out = Vec::new();
    for c in &r.connections {
        let addr = |h: usize| r.host_addrs.get(h).copied();
        let (Some(ca), Some(sa), Some(cp)) = (
            addr(c.workload.client),
            addr(c.workload.server),
            c.client.port,
        ) else {
            continue;
        };
        let client = std::net::SocketAddrV4::new(ca, cp);
        let server = std::net::SocketAddrV4::new(sa, c.workload.port);
        for (end, src, dst) in [(&c.client, client, server), (&c.server, server, client)] {
            if let Some(rec) = end.recovery {
                out.push(Cwnd {
                    src,
                    dst,
                    octets: u64::from(rec.cwnd),
                });
            }
        }
    }
    out
}

/// The kernel's senders' final congestion windows, from the applications'
/// `tcp_info` notes.
fn kernel_cwnd(plan: &plan::Plan, notes: &[Note]) -> Vec<Cwnd> {
    notes
        .iter()
        .filter_map(|n| {
            let c = plan.conns.get(n.connection)?;
            let side = usize::from(n.end == "server");
            Some(Cwnd {
                src: c.addrs[side],
                dst: c.addrs[1 - side],
                octets: n.cwnd?,
            })
        })
        .collect()
}

/// The text report.
fn text(r: &Report<'_>) -> String {
    let mut s = String::new();
    let outcomes = r.outcomes;
    let matched = r.verdict == "match";
    let tries: usize = outcomes.iter().map(|o| o.tries.len()).sum();
    s.push_str(&format!(
        "kernel: {} ({}), seed {}, Linux {}, {tries} {}\n",
        r.file,
        r.experiment,
        r.seed,
        r.kernel_release,
        if tries == 1 { "try" } else { "tries" }
    ));
    match (r.hz, r.aligned_to, r.start_jiffy) {
        (Some(hz), Some(align), Some(0)) => s.push_str(&format!(
            "kernel ticks: HZ {hz}; every run starts just after a jiffy that is a multiple of \
             {align}\n"
        )),
        (Some(hz), Some(align), Some(j)) => s.push_str(&format!(
            "kernel ticks: HZ {hz}; every run starts in a jiffy that is {j} modulo {align}\n"
        )),
        _ => s.push_str("kernel ticks: unknown; the runs start at any jiffy\n"),
    }
    for a in r.adjusted {
        s.push_str(&format!("simulation adjusted: {a}\n"));
    }
    let unmapped = r.not_applied;
    if unmapped.is_empty() {
        s.push_str("settings not applied to the kernel: none\n");
    } else {
        s.push_str("settings not applied to the kernel (no sysctl or socket option):\n");
        for u in unmapped {
            s.push_str(&format!("  {u}\n"));
        }
    }
    s.push_str(&format!("distinct kernel outcomes: {}\n", outcomes.len()));
    let show = outcomes.iter().position(|o| o.comparison.matches);
    for (k, o) in outcomes.iter().enumerate() {
        let tries: Vec<String> = o.tries.iter().map(usize::to_string).collect();
        s.push_str(&format!(
            "\noutcome {} (tries {}): {}\n",
            k + 1,
            tries.join(", "),
            if o.comparison.matches {
                "matches the simulation"
            } else {
                "differs from the simulation"
            }
        ));
        s.push_str(&format!(
            "emulator: {} packets delivered, late by {:.1} µs on average, {:.1} µs at most, {} \
             over 1 ms\n",
            o.timing.delivered,
            o.timing.mean_late_ns as f64 / 1e3,
            o.timing.max_late_ns as f64 / 1e3,
            o.timing.late_over_1ms
        ));
        for n in o.notes.iter().filter(|n| n.what.starts_with("error")) {
            s.push_str(&format!(
                "application: connection {} {} at {:.3} ms: {}\n",
                n.connection,
                n.end,
                n.at_ns as f64 / 1e6,
                n.what
            ));
        }
        if show.is_none_or(|m| m == k) {
            s.push('\n');
            s.push_str(
                &o.comparison
                    .render_text("simulation (linux profile)", "kernel"),
            );
        }
    }
    s.push_str(&format!(
        "\nverdict: {}\n",
        if matched {
            "the simulation matches the kernel"
        } else {
            "the simulation differs from every kernel outcome"
        }
    ));
    s
}

/// `out` for try `t` of `n`: `out` itself for the first, `NAME-tryK.EXT` for
/// the others.
fn try_path(out: &Path, t: usize, n: usize) -> PathBuf {
    if t == 0 || n == 1 {
        return out.to_path_buf();
    }
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let name = match out.extension() {
        Some(ext) => format!("{stem}-try{}.{}", t + 1, ext.to_string_lossy()),
        None => format!("{stem}-try{}", t + 1),
    };
    out.with_file_name(name)
}

/// Writes `packets` as a classic pcap (nanoseconds, LINKTYPE_RAW), each at
/// its time since virtual zero, as `tcpsim run --pcap` writes the
/// simulation's.
fn write_pcap(path: &Path, packets: &[Packet]) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut w = tcpsim_net::pcap::PcapWriter::with_writer(std::io::BufWriter::new(file))?;
    for p in packets {
        w.write_packet(tcpsim_tcp::Instant::from_nanos(p.at_ns), &p.bytes)?;
    }
    w.flush()
}

/// The records of a classic pcap that tcpsim wrote (nanosecond magic,
/// little-endian): each packet with its time.
fn read_pcap(bytes: &[u8]) -> Vec<Packet> {
    let mut out = Vec::new();
    let mut rest = bytes.get(24..).unwrap_or_default();
    while let Some(h) = rest.first_chunk::<16>() {
        let le = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let (sec, ns, len) = (u64::from(le(0)), u64::from(le(4)), le(8) as usize);
        let Some(data) = rest.get(16..16 + len) else {
            break;
        };
        out.push(Packet {
            at_ns: sec * 1_000_000_000 + ns,
            bytes: data.to_vec(),
        });
        rest = &rest[16 + len..];
    }
    out
}

//! Throughput of a long transfer under random loss, against the models
//! (CONFORMANCE 44, issue 14): Mathis et al. (1997) and Padhye, Firoiu,
//! Towsley and Kurose (PFTK, 1998).
//!
//! The check: a 10 MB `rfc` transfer over a path with 50 ms of delay each
//! way and Bernoulli loss `p` on the data direction only; over many seeds,
//! the median throughput must lie in `[0.65 × PFTK(b = 2, T0 = 1 s),
//! 1.25 × Mathis(C = 1.22)]`, and the `linux` profile's median on the same
//! path must be at least 0.95 × the `rfc` one. Throughput is the data
//! octets over the time from the client's first data segment leaving to
//! the ACK of the last data octet reaching the client.
//!
//! [`experiment`] writes the experiment file of one path and profile,
//! [`measure`] runs it for one seed, [`table`] runs the whole grid and
//! [`Table`] prints it and judges it. `cargo run --release --example
//! mathis` is the command line (docs/throughput.md).
//!
//! Every run is in virtual time from a fixed seed, so the table is the
//! same on every machine and every run.

use std::fmt;

use tcpsim_net::TraceKind;
use tcpsim_tcp::{Instant, Profile};

use crate::build::{Keep, build};
use crate::experiment::{Experiment, parse};

/// Mathis, Semke, Mahdavi and Ott, "The macroscopic behavior of the TCP
/// congestion avoidance algorithm" (CCR 27(3), 1997): a Reno
/// sender in congestion avoidance that loses one segment in `1/p`
/// delivers `MSS/RTT · C/√p`. `mss` in octets, `rtt` in seconds; the
/// result in octets per second. `C = √(3/2) ≈ 1.22` for periodic loss
/// with an ACK per segment.
pub fn mathis(mss: f64, rtt: f64, p: f64, c: f64) -> f64 {
    mss / rtt * c / p.sqrt()
}

/// Padhye, Firoiu, Towsley and Kurose, "Modeling TCP throughput: a simple
/// model and its empirical validation" (SIGCOMM 1998): the paper's
/// approximate model with timeouts, without its receive-window limit
/// (`Wmax/RTT`, far above it on the paths here):
///
/// ```text
/// B(p) = 1 / (RTT·√(2bp/3) + T0·min(1, 3·√(3bp/8))·p·(1 + 32p²))
/// ```
///
/// segments per second; `b` segments acknowledged per ACK (2 with delayed
/// ACKs), `T0` the first timeout in seconds. Returns octets per second
/// (times `mss`).
pub fn pftk(mss: f64, rtt: f64, p: f64, b: f64, t0: f64) -> f64 {
    let fast = rtt * (2.0 * b * p / 3.0).sqrt();
    let timeouts = t0 * (3.0 * (3.0 * b * p / 8.0).sqrt()).min(1.0) * p * (1.0 + 32.0 * p * p);
    mss / (fast + timeouts)
}

/// The median of `v` (the mean of the middle two for an even count);
/// `None` when empty. Sorts `v`.
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The receive buffer of the server, octets: far above any window the
/// transfers reach (at p = 0.002 slow start ends near 500 segments,
/// 730 000 octets), so the receiver never limits them. With window
/// scaling on, `rfc` announces it whole (shift 7: 65535 × 128 covers it);
/// `linux`, counting memory, announces its payload share (SPEC §5).
pub const RECV_BUFFER: u32 = 4 * 1024 * 1024;

/// What the check measures on: the path, the transfer, the seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// The loss probabilities, one row each.
    pub losses: Vec<f64>,
    /// Octets the client sends.
    pub bytes: u64,
    /// Seeds `1..=seeds` for each row and profile.
    pub seeds: u64,
    /// One-way delay, milliseconds (the RTT is twice it).
    pub delay_ms: u64,
}

impl Default for Params {
    /// The issue's check: p ∈ {0.002, 0.005, 0.01, 0.02}, 10 MB
    /// (10 000 000 octets), 60 seeds, 50 ms each way.
    fn default() -> Params {
        Params {
            losses: vec![0.002, 0.005, 0.01, 0.02],
            bytes: 10_000_000,
            seeds: 60,
            delay_ms: 50,
        }
    }
}

/// The experiment file of one row: two hosts, one link with `delay_ms`
/// each way and Bernoulli loss `p` from the client to the server only, a
/// connection on which the client sends `bytes` and closes once they are
/// acknowledged. Window scaling on (`window_scale = 7`, which `rfc` has
/// off by default) and a fixed `recv_buffer` of [`RECV_BUFFER`]; the
/// profile's other defaults as they are (`rfc`: NewReno without SACK;
/// `linux`: SACK and timestamps). `data_retries = 255` so that no run gives
/// up: a stall shows as a low throughput, not as a missing sample. No
/// `rate`: the link adds no serialization or queueing delay, so the RTT is
/// `2 × delay_ms` plus what the receiver's ACK policy adds.
pub fn experiment_toml(profile: Profile, p: f64, bytes: u64, delay_ms: u64) -> String {
    let profile = match profile {
        Profile::Rfc => "rfc",
        Profile::Linux => "linux",
    };
    format!(
        r#"name = "throughput-{profile}-p{p:?}"
description = "CONFORMANCE 44: {bytes} octets under Bernoulli loss {p:?} on the data direction, {delay_ms} ms each way"
duration = "2h"
profile = "{profile}"

[tcp]
window_scale = 7
recv_buffer = {RECV_BUFFER}
data_retries = 255

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
delay = "{delay_ms}ms"

[links.a_to_b]
loss = {p:?}

[[connections]]
client = "client"
server = "server"
port = 80
client_sends = {bytes}
close = "client-first"
"#
    )
}

/// [`experiment_toml`], parsed.
pub fn experiment(profile: Profile, p: f64, bytes: u64, delay_ms: u64) -> Experiment {
    let text = experiment_toml(profile, p, bytes, delay_ms);
    parse(&text, "throughput.toml").expect("the generated experiment is valid")
}

/// One run of a transfer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    /// When the client sent its first data segment.
    pub first_sent: Instant,
    /// When the ACK of the last data octet reached the client, if it did
    /// before the run ended.
    pub last_acked: Option<Instant>,
    /// The largest window the server announced after its SYN-ACK, in
    /// octets (scaled).
    pub max_window: u64,
}

impl Measurement {
    /// Octets per second over the transfer; 0 when it never completed.
    pub fn throughput(&self, bytes: u64) -> f64 {
        match self.last_acked {
            Some(t) if t > self.first_sent => {
                bytes as f64 / ((t.as_nanos() - self.first_sent.as_nanos()) as f64 * 1e-9)
            }
            _ => 0.0,
        }
    }
}

/// Why a run could not be measured.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MeasureError {
    /// The simulation could not be built.
    #[error("cannot build the experiment: {0}")]
    Build(String),
    /// The client never sent a SYN, or never sent data.
    #[error("the client sent no {0}")]
    NoSegment(&'static str),
}

/// Runs `exp` (one of [`experiment`]'s: host 0 the client, host 1 the
/// server) with `seed` and measures its transfer of `bytes` from the trace.
pub fn measure(exp: &Experiment, seed: u64, bytes: u64) -> Result<Measurement, MeasureError> {
    let keep = Keep {
        trace: true,
        pcap: false,
        paths: false,
    };
    let sim = build(exp, seed, keep).map_err(|e| MeasureError::Build(e.to_string()))?;
    let result = sim.run();
    let trace = result.trace.unwrap_or_default();
    let (client, server) = (0, 1);
    let mut isn = None;
    let mut server_shift = 0u32;
    let mut first_sent = None;
    let mut last_acked = None;
    let mut max_window = 0u64;
    for r in &trace {
        match r.kind {
            TraceKind::Send { host, segment, .. } if host == client => {
                if segment.flags.syn() && isn.is_none() {
                    isn = Some(segment.seq);
                }
                if segment.len > 0 && first_sent.is_none() {
                    first_sent = Some(r.at);
                }
            }
            TraceKind::Send { host, segment, .. } if host == server => {
                if segment.flags.syn() {
                    server_shift = segment.options.window_scale.map_or(0, u32::from);
                } else {
                    max_window = max_window.max(u64::from(segment.win) << server_shift);
                }
            }
            TraceKind::Deliver { host, segment } if host == client && last_acked.is_none() => {
                if let Some(isn) = isn
                    && segment.flags.ack()
                    && !segment.flags.syn()
                    && u64::from(segment.ack.0.wrapping_sub(isn.0)) > bytes
                {
                    last_acked = Some(r.at);
                }
            }
            _ => {}
        }
    }
    isn.ok_or(MeasureError::NoSegment("SYN"))?;
    Ok(Measurement {
        first_sent: first_sent.ok_or(MeasureError::NoSegment("data"))?,
        last_acked,
        max_window,
    })
}

/// The medians of one profile on one path.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The median throughput, octets per second.
    pub median: f64,
    /// Runs whose transfer did not complete (counted as 0).
    pub incomplete: u64,
    /// The largest window the server announced, octets, over the runs.
    pub max_window: u64,
}

/// Runs `seeds` seeds of `profile` on the path with loss `p`.
pub fn sample(profile: Profile, p: f64, params: &Params) -> Result<Sample, MeasureError> {
    let exp = experiment(profile, p, params.bytes, params.delay_ms);
    let mut v = Vec::with_capacity(params.seeds as usize);
    let (mut incomplete, mut max_window) = (0, 0);
    for seed in 1..=params.seeds {
        let m = measure(&exp, seed, params.bytes)?;
        if m.last_acked.is_none() {
            incomplete += 1;
        }
        max_window = max_window.max(m.max_window);
        v.push(m.throughput(params.bytes));
    }
    Ok(Sample {
        median: median(&mut v).unwrap_or(0.0),
        incomplete,
        max_window,
    })
}

/// The payload of a full segment in the `rfc` runs: the default MSS 1460,
/// no timestamps. The models use it for both profiles (`linux` carries 12
/// octets of timestamps in each, 1448 of payload).
pub const MSS: f64 = 1460.0;

/// The PFTK constants of the check: `b = 2` (the `rfc` receiver ACKs every
/// second full-sized segment), `T0 = 1 s` (RFC 6298's minimum RTO).
pub const PFTK_B: f64 = 2.0;
/// See [`PFTK_B`].
pub const PFTK_T0: f64 = 1.0;
/// Mathis's constant of the check, √(3/2) rounded as the issue gives it.
pub const MATHIS_C: f64 = 1.22;
/// The band's lower factor, on PFTK.
pub const LOW: f64 = 0.65;
/// The band's upper factor, on Mathis.
pub const HIGH: f64 = 1.25;
/// The least `linux` / `rfc` ratio of the medians.
pub const LINUX_RATIO: f64 = 0.95;

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The loss probability.
    pub p: f64,
    /// PFTK, octets per second.
    pub pftk: f64,
    /// Mathis, octets per second.
    pub mathis: f64,
    /// The `rfc` runs.
    pub rfc: Sample,
    /// The `linux` runs.
    pub linux: Sample,
}

impl Row {
    /// Whether the `rfc` median lies in `[LOW × PFTK, HIGH × Mathis]`.
    pub fn in_band(&self) -> bool {
        self.rfc.median >= LOW * self.pftk && self.rfc.median <= HIGH * self.mathis
    }

    /// Whether the `linux` median is at least `LINUX_RATIO × rfc`.
    pub fn linux_ok(&self) -> bool {
        self.linux.median >= LINUX_RATIO * self.rfc.median
    }

    /// Both.
    pub fn ok(&self) -> bool {
        self.in_band() && self.linux_ok()
    }
}

/// The whole check.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// What it ran.
    pub params: Params,
    /// One row per loss probability.
    pub rows: Vec<Row>,
}

impl Table {
    /// Whether every row holds.
    pub fn ok(&self) -> bool {
        self.rows.iter().all(Row::ok)
    }
}

/// Runs every row of `params`.
pub fn table(params: &Params) -> Result<Table, MeasureError> {
    let rtt = 2.0 * params.delay_ms as f64 / 1000.0;
    let mut rows = Vec::new();
    for &p in &params.losses {
        rows.push(Row {
            p,
            pftk: pftk(MSS, rtt, p, PFTK_B, PFTK_T0),
            mathis: mathis(MSS, rtt, p, MATHIS_C),
            rfc: sample(Profile::Rfc, p, params)?,
            linux: sample(Profile::Linux, p, params)?,
        });
    }
    Ok(Table {
        params: params.clone(),
        rows,
    })
}

/// Octets per second as Mbit/s.
fn mbit(octets_per_s: f64) -> f64 {
    octets_per_s * 8.0 / 1e6
}

impl fmt::Display for Table {
    /// The table in Mbit/s, one line per row, then a line per row that
    /// has incomplete runs and the largest windows announced.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.params;
        writeln!(
            f,
            "{} octets, {} seeds, {} ms each way, Bernoulli loss on the data direction; Mbit/s",
            p.bytes, p.seeds, p.delay_ms
        )?;
        writeln!(
            f,
            "band: [{LOW} x PFTK(b = {PFTK_B}, T0 = {PFTK_T0} s), {HIGH} x Mathis(C = {MATHIS_C})], MSS {MSS}; linux >= {LINUX_RATIO} x rfc"
        )?;
        writeln!(
            f,
            "{:>6} | {:>7} | {:>7} | {:>10} | {:>12} | {:>9} | band ok",
            "p", "PFTK", "Mathis", "rfc median", "linux median", "linux/rfc"
        )?;
        for r in &self.rows {
            let ratio = if r.rfc.median > 0.0 {
                r.linux.median / r.rfc.median
            } else {
                0.0
            };
            let verdict = match (r.in_band(), r.linux_ok()) {
                (true, true) => "ok".to_string(),
                (band, linux) => {
                    let mut why = Vec::new();
                    if !band {
                        why.push(if r.rfc.median < LOW * r.pftk {
                            "rfc below band"
                        } else {
                            "rfc above band"
                        });
                    }
                    if !linux {
                        why.push("linux slower");
                    }
                    format!("NO ({})", why.join(", "))
                }
            };
            writeln!(
                f,
                "{:>6} | {:>7.3} | {:>7.3} | {:>10.3} | {:>12.3} | {:>9.3} | {verdict}",
                r.p,
                mbit(r.pftk),
                mbit(r.mathis),
                mbit(r.rfc.median),
                mbit(r.linux.median),
                ratio
            )?;
        }
        for r in &self.rows {
            for (name, s) in [("rfc", &r.rfc), ("linux", &r.linux)] {
                if s.incomplete > 0 {
                    writeln!(
                        f,
                        "p = {}: {} of {} {name} runs did not complete (counted as 0)",
                        r.p, s.incomplete, p.seeds
                    )?;
                }
            }
        }
        let windows = |pick: fn(&Row) -> u64| self.rows.iter().map(pick).max().unwrap_or(0);
        writeln!(
            f,
            "largest window the receiver announced: rfc {} octets, linux {} octets",
            windows(|r| r.rfc.max_window),
            windows(|r| r.linux.max_window)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// Mathis with MSS 1460, RTT 100 ms, p = 0.01, C = 1.22:
    /// 1460 / 0.1 = 14 600 segments' octets per second, × 1.22 / √0.01 =
    /// × 1.22 / 0.1 = × 12.2: 178 120 octets per second.
    #[test]
    fn mathis_by_hand() {
        assert!(close(mathis(1460.0, 0.1, 0.01, 1.22), 178_120.0, 1e-6));
        // p = 0.0004: √p = 0.02, 14 600 × 1.22 / 0.02 = 890 600.
        assert!(close(mathis(1460.0, 0.1, 0.0004, 1.22), 890_600.0, 1e-6));
    }

    /// PFTK with MSS 1000, RTT 100 ms, b = 2, T0 = 1 s, p = 0.01:
    /// √(2·2·0.01/3) = √0.01333333333 = 0.1154700538, × RTT =
    /// 0.01154700538; 3·√(3·2·0.01/8) = 3·√0.0075 = 3 × 0.0866025404 =
    /// 0.2598076211 (< 1); × p = 0.002598076211, × (1 + 32·0.0001) =
    /// × 1.0032 = 0.002606390055, × T0 = 0.002606390055. Sum
    /// 0.01415339544: 70.654 segments per second, 70 654.42 octets.
    #[test]
    fn pftk_by_hand() {
        let b = pftk(1000.0, 0.1, 0.01, 2.0, 1.0);
        assert!(close(b, 1000.0 / 0.014_153_395_44, 1e-3), "{b}");
        assert!(close(b, 70_654.42, 0.01), "{b}");
    }

    /// Where min(1, 3·√(3bp/8)) is 1: p = 0.2, b = 2 gives 3·√0.15 =
    /// 1.162 > 1. RTT term 0.1·√(0.8/3) = 0.1 × 0.5163978 = 0.05163978;
    /// timeout term 1 × 1 × 0.2 × (1 + 32·0.04) = 0.2 × 2.28 = 0.456.
    /// Sum 0.50763978: 1.96990 segments per second, × 1000 octets.
    #[test]
    fn pftk_timeout_term_saturates() {
        let b = pftk(1000.0, 0.1, 0.2, 2.0, 1.0);
        assert!(close(b, 1000.0 / 0.507_639_78, 1e-3), "{b}");
        assert!(close(b, 1969.90, 0.01), "{b}");
    }

    /// Without timeouts (T0 = 0) PFTK is Mathis with C = √(3/(2b)):
    /// b = 1 gives √1.5 = 1.2247449.
    #[test]
    fn pftk_without_timeouts_is_mathis() {
        let p = 0.005;
        let b = pftk(1460.0, 0.1, p, 1.0, 0.0);
        assert!(close(b, mathis(1460.0, 0.1, p, 1.224_744_9), 0.01), "{b}");
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn the_generated_experiment_is_the_path_of_the_check() {
        let exp = experiment(Profile::Rfc, 0.01, 1000, 50);
        let link = &exp.links[0];
        assert_eq!(link.a_to_b.delay, tcpsim_tcp::Duration::from_millis(50));
        assert_eq!(link.b_to_a.delay, tcpsim_tcp::Duration::from_millis(50));
        assert_eq!(link.a_to_b.loss, crate::Loss::Bernoulli(0.01));
        assert_eq!(link.b_to_a.loss, crate::Loss::None);
        assert_eq!(exp.connections[0].client_sends, 1000);
        assert_eq!(exp.profile, Profile::Rfc);
        assert_eq!(
            experiment(Profile::Linux, 0.01, 1000, 50).profile,
            Profile::Linux
        );
    }

    /// Without loss, 100 000 octets over a 100 ms RTT path complete; the
    /// first data segment leaves when the handshake is done (one RTT), and
    /// the receiver's window is the whole buffer, 4 MiB (shift 7: 32768
    /// units of 128).
    #[test]
    fn a_lossless_transfer_is_measured() {
        let exp = experiment(Profile::Rfc, 0.0, 100_000, 50);
        let m = measure(&exp, 1, 100_000).unwrap();
        assert_eq!(
            m.first_sent,
            Instant::ZERO + tcpsim_tcp::Duration::from_millis(100)
        );
        let done = m.last_acked.expect("completes");
        assert!(done > m.first_sent);
        assert!(m.throughput(100_000) > 0.0);
        assert_eq!(m.max_window, u64::from(RECV_BUFFER));
    }

    /// The same parameters give the same table, to the last digit.
    #[test]
    fn the_table_is_the_same_on_every_run() {
        let params = Params {
            losses: vec![0.01, 0.05],
            bytes: 200_000,
            seeds: 3,
            delay_ms: 50,
        };
        let a = table(&params).unwrap();
        let b = table(&params).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), b.to_string());
        assert_eq!(a.rows.len(), 2);
    }
}

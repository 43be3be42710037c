//! CONFORMANCE 44, the Monte-Carlo check of issue 14: the median throughput
//! of a 10 MB `rfc` transfer under Bernoulli loss p, over 60 seeds, against
//! the PFTK and Mathis models, and the `linux` profile against `rfc` on the
//! same paths (docs/throughput.md).
//!
//! ```text
//! cargo run --release --example mathis                 # the table
//! cargo run --release --example mathis -- --check      # exit 1 outside the band
//! cargo run --release --example mathis -- --seeds 200 --bytes 1000000
//! cargo run --release --example mathis -- --toml rfc 0.01   # the experiment file of one row
//! ```
//!
//! The table goes to stdout and is the same on every run; the wall time
//! goes to stderr.

use std::process::ExitCode;

use tcpsim::runner::throughput::{Params, experiment_toml, table};
use tcpsim::tcp::Profile;

const USAGE: &str =
    "usage: mathis [--check] [--seeds N] [--bytes N] [--p P,P,...] | --toml rfc|linux P";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mathis: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<ExitCode, String> {
    let mut params = Params::default();
    let mut check = false;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--check" => check = true,
            "--seeds" => params.seeds = number(&value("--seeds")?)?,
            "--bytes" => params.bytes = number(&value("--bytes")?)?,
            "--p" => {
                params.losses = value("--p")?
                    .split(',')
                    .map(probability)
                    .collect::<Result<_, _>>()?;
            }
            "--toml" => {
                let profile = match value("--toml")?.as_str() {
                    "rfc" => Profile::Rfc,
                    "linux" => Profile::Linux,
                    other => return Err(format!("unknown profile {other:?}")),
                };
                let p = probability(&value("--toml")?)?;
                print!(
                    "{}",
                    experiment_toml(profile, p, params.bytes, params.delay_ms)
                );
                return Ok(ExitCode::SUCCESS);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if params.seeds == 0 || params.bytes == 0 {
        return Err("--seeds and --bytes must be at least 1".into());
    }
    let started = std::time::Instant::now();
    let t = table(&params).map_err(|e| e.to_string())?;
    print!("{t}");
    eprintln!(
        "wall time {:.1} s for {} runs",
        started.elapsed().as_secs_f64(),
        2 * params.seeds * params.losses.len() as u64
    );
    Ok(if check && !t.ok() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn number(s: &str) -> Result<u64, String> {
    s.parse()
        .map_err(|_| format!("expected a number, found {s:?}"))
}

fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if p > 0.0 && p < 1.0 => Ok(p),
        _ => Err(format!(
            "expected a loss probability in (0, 1), found {s:?}"
        )),
    }
}

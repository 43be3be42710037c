//! TIME-WAIT in compact form changes nothing a run does: every experiment
//! file of `configs/`, and two of `benches/configs/` with the linux
//! profile, run with its own seed with the compact form for every released
//! connection in TIME-WAIT (`Blueprint::compact_time_wait(Some(0))`; by
//! default only on hosts of 64 connections or more) and with every
//! TIME-WAIT kept whole (`None`), gives the same report, the event trace
//! included, and the same pcap bytes. The random experiments of
//! `properties.rs` hold the same for lossy, reordering runs of both
//! profiles; the conformance test `a_released_time_wait_is_compact_under_linux`
//! holds that compaction happens.

use std::path::Path;

use tcpsim_net::RunResult;
use tcpsim_runner::build::{Keep, blueprint};
use tcpsim_runner::evaluate::evaluate;
use tcpsim_runner::report::{Meta, report};
use tcpsim_tcp::State;

fn run(exp: &tcpsim_runner::Experiment, compact: Option<usize>) -> (String, Vec<u8>, RunResult) {
    let keep = Keep {
        pcap: true,
        ..Keep::ALL
    };
    let mut bp = blueprint(exp, keep).expect("the file builds");
    bp.compact_time_wait(compact);
    let r = bp.sim(exp.seed).run();
    let meta = Meta {
        name: &exp.name,
        seed: exp.seed,
        profile: exp.profile.name(),
    };
    let json = report(&meta, &r, &evaluate(exp, &r)).to_string();
    let pcap = r.pcap.clone().unwrap_or_default();
    (json, pcap, r)
}

#[test]
fn every_config_runs_the_same_with_and_without_compact_time_wait() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    // And two of the benchmarks' files as the linux profile runs them:
    // one connection, and a thousand at once.
    let linux = [("profile".to_string(), "linux".to_string())];
    let runs = files.iter().map(|f| (f.clone(), &[][..])).chain(
        ["handshake.toml", "scale-1000.toml"]
            .map(|f| (root.join("benches/configs").join(f), &linux[..])),
    );
    // Linux-profile ends whose application released the socket in
    // TIME-WAIT, or before: the ones compacted.
    let mut time_waits = 0;
    for (file, sets) in runs {
        let text = std::fs::read_to_string(&file).unwrap();
        let exp =
            tcpsim_runner::parse_with_overrides(&text, &file.display().to_string(), sets).unwrap();
        let (json, pcap, r) = run(&exp, Some(0));
        let (whole_json, whole_pcap, _) = run(&exp, None);
        assert!(
            json == whole_json,
            "{}: the reports differ with and without compact TIME-WAIT",
            file.display()
        );
        assert!(pcap == whole_pcap, "{}: the pcaps differ", file.display());
        if exp.profile.name() == "linux" {
            time_waits += r
                .connections
                .iter()
                .flat_map(|c| [&c.client, &c.server])
                .filter(|e| e.path.contains(&State::TimeWait))
                .count();
        }
    }
    // configs/ has two dozen linux files that close through TIME-WAIT, and
    // scale-1000 a thousand connections.
    assert!(time_waits > 1000, "{time_waits} linux ends in TIME-WAIT");
}

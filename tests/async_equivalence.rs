//! An async scenario and the equivalent experiment file give byte-identical
//! JSON reports for the same seed (issue: async API).
//!
//! The experiment's applications (SPEC §3, `client-first`) are: the client
//! writes its data once connected, closes once it is acknowledged, reads to
//! end-of-stream and releases the socket; the server writes its data once it
//! accepts, and closes when it reads end-of-stream. The async tasks below do
//! exactly that with tokio calls (`flush` waits until the peer acknowledged
//! everything written).

use tcpsim::net::{Scenario, TcpListener, TcpStream};
use tcpsim::runner::build::{Keep, build};
use tcpsim::runner::evaluate::evaluate;
use tcpsim::runner::experiment::{Experiment, parse};
use tcpsim::runner::report::{Meta, report};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn json(exp: &Experiment, run: &tcpsim::net::RunResult) -> String {
    let meta = Meta {
        name: &exp.name,
        seed: exp.seed,
        profile: exp.profile.name(),
    };
    serde_json::to_string_pretty(&report(&meta, run, &evaluate(exp, run))).unwrap()
}

/// The file as the runner runs it, and the same network with async tasks
/// doing the file's `[[connections]]` entry (which must be the only one).
fn both(file: &str) -> (String, String) {
    let exp = parse(file, "inline.toml").unwrap();
    let from_file = json(&exp, &build(&exp, exp.seed, Keep::ALL).unwrap().run());

    let spec = exp.connections[0].clone();
    let mut net_only = exp.clone();
    net_only.connections.clear();
    let mut hosts = net_only.hosts.to_vec();
    for h in &mut hosts {
        h.listen.clear();
    }
    net_only.hosts = hosts.into();
    let mut scenario = Scenario::new(build(&net_only, exp.seed, Keep::ALL).unwrap());
    let (port, client_sends, server_sends) = (
        spec.port,
        spec.client_sends as usize,
        spec.server_sends as usize,
    );
    // The pattern the built-in applications write: octet i is i mod 256.
    let pattern = |n: usize| (0..n).map(|i| i as u8).collect::<Vec<u8>>();
    let server_name = exp.host_name(spec.server).to_owned();
    scenario
        .spawn(exp.host_name(spec.server), async move {
            let listener = TcpListener::bind(port).await?;
            let (mut stream, _) = listener.accept().await?;
            let (mut rd, mut wr) = tokio::io::split(&mut stream);
            // Room for the whole stream, so that every read takes all that
            // is readable, as the built-in workload's reads do (a read into
            // a smaller buffer announces the window it opens sooner).
            let mut got = Vec::with_capacity(client_sends + 1);
            let write = async {
                if server_sends > 0 {
                    wr.write_all(&pattern(server_sends)).await?;
                }
                std::io::Result::Ok(())
            };
            let (w, r) = tokio::join!(write, rd.read_to_end(&mut got));
            w?;
            r?;
            Ok(()) // dropping the stream closes it (FIN after the data)
        })
        .unwrap();
    scenario
        .spawn(exp.host_name(spec.client), async move {
            let mut stream = TcpStream::connect((server_name.as_str(), port)).await?;
            let (mut rd, mut wr) = tokio::io::split(&mut stream);
            let mut got = Vec::with_capacity(server_sends + 1);
            let write = async {
                if client_sends > 0 {
                    wr.write_all(&pattern(client_sends)).await?;
                    wr.flush().await?; // acknowledged
                }
                wr.shutdown().await
            };
            let (w, r) = tokio::join!(write, rd.read_to_end(&mut got));
            w?;
            r?;
            Ok(())
        })
        .unwrap();
    let done = scenario.run();
    for t in &done.tasks {
        assert!(t.result.is_ok(), "task on {}: {:?}", t.host, t.result);
    }
    (from_file, json(&exp, &done.run))
}

fn assert_same(file: &str) {
    let (a, b) = both(file);
    if let Ok(dir) = std::env::var("TCPSIM_DUMP") {
        std::fs::write(format!("{dir}/file.json"), &a).unwrap();
        std::fs::write(format!("{dir}/async.json"), &b).unwrap();
    }
    if a != b {
        let first = a
            .lines()
            .zip(b.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        let show = |s: &str| {
            s.lines()
                .skip(first.saturating_sub(8))
                .take(24)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "reports differ from line {}\n--- experiment file\n{}\n--- async scenario\n{}",
            first + 1,
            show(&a),
            show(&b)
        );
    }
}

#[test]
fn handshake_file_and_async_scenario_give_identical_json() {
    let file = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/handshake.toml"
    ))
    .unwrap();
    assert_same(&file);
}

const DATA_AND_LOSS: &str = r#"
name = "data-and-loss"
seed = 11
profile = "linux"
[[hosts]]
name = "c"
addr = "10.0.0.1"
[[hosts]]
name = "s"
addr = "10.0.0.2"
listen = [8080]
[[links]]
a = "c"
b = "s"
delay = "5ms"
jitter = "1ms"
loss = 0.05
[[faults]]
action = "drop"
from = "c"
to = "s"
segment = "SYN"
nth = [1]
[[connections]]
client = "c"
server = "s"
port = 8080
client_sends = 20000
server_sends = 7000
[expect]
outcome = "closed"
"#;

#[test]
fn lost_syn_and_data_both_ways_identical_json() {
    assert_same(DATA_AND_LOSS);
}

/// Writes of several send buffers (the `linux` profile's 46080) both ways,
/// under loss: the workload writes on at each [`tcpsim::tcp::Event::Writable`]
/// as `write_all` does when woken, so both give the same report.
const LARGER_THAN_THE_SEND_BUFFER: &str = r#"
name = "larger-than-the-send-buffer"
seed = 5
profile = "linux"
[[hosts]]
name = "c"
addr = "10.0.0.1"
[[hosts]]
name = "s"
addr = "10.0.0.2"
listen = [8080]
[[links]]
a = "c"
b = "s"
delay = "5ms"
loss = 0.02
[[connections]]
client = "c"
server = "s"
port = 8080
client_sends = 200000
server_sends = 120000
[expect]
outcome = "closed"
"#;

#[test]
fn writes_larger_than_the_send_buffer_identical_json() {
    assert_same(LARGER_THAN_THE_SEND_BUFFER);
}

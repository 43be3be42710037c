//! A lost SYN, retried: the client's first SYN is dropped by a fault, and
//! the connect succeeds with the retransmission one initial RTO (1 s,
//! RFC 6298 §2.1) later — 1 s + one RTT of virtual time, no wall time.
//!
//! `cargo run --example lost_syn`

use std::net::Ipv4Addr;

use tcpsim::net::{
    FaultAction, LinkParams, Scenario, SimBuilder, TcpListener, TcpStream, fault, time,
};
use tcpsim::runner::report::Meta;
use tcpsim::runner::timeline::render;
use tcpsim::tcp::{Config, Duration, SegmentKind};

fn main() -> std::io::Result<()> {
    let mut b = SimBuilder::new(7);
    let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
    let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
    let link = LinkParams {
        delay: Duration::from_millis(50),
        ..LinkParams::default()
    };
    b.link(client, server, link.clone(), link);
    b.fault(fault(
        FaultAction::Drop,
        Some(client),
        Some(server),
        &[SegmentKind::Syn],
        Some(&[1]),
    ));
    let mut scenario = Scenario::new(b.build().map_err(std::io::Error::other)?);
    scenario
        .spawn("server", async {
            let listener = TcpListener::bind(80).await?;
            let (stream, peer) = listener.accept().await?;
            println!("[{}] server: accepted {peer}", time::now());
            drop(stream);
            Ok(())
        })
        .map_err(std::io::Error::other)?;
    scenario
        .spawn("client", async {
            let stream = TcpStream::connect(("server", 80)).await?;
            println!(
                "[{}] client: connected (the first SYN was lost)",
                time::now()
            );
            drop(stream);
            Ok(())
        })
        .map_err(std::io::Error::other)?;
    let done = scenario.run();
    for t in &done.tasks {
        if let Err(e) = &t.result {
            eprintln!("task on {}: {e}", t.host);
        }
    }
    let header = Meta {
        name: "lost-syn (async)",
        seed: 7,
        profile: "rfc",
    };
    print!("\n{}", render(&header, &done.run));
    Ok(())
}

//! Request/response with a half-close: the client sends a request, shuts
//! down its write side (FIN) and keeps reading; the server reads the request
//! to end-of-stream, answers, and closes. Over a lossy link, with the
//! virtual clock timing each step.
//!
//! `cargo run --example request_response`

use std::net::Ipv4Addr;

use tcpsim::net::{LinkParams, Loss, Outcome, Scenario, SimBuilder, TcpListener, TcpStream, time};
use tcpsim::tcp::{Config, Duration};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() -> std::io::Result<()> {
    let mut b = SimBuilder::new(42);
    let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::linux());
    let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::linux());
    let link = LinkParams {
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(2),
        loss: Loss::Bernoulli(0.05),
        ..LinkParams::default()
    };
    b.link(client, server, link.clone(), link);
    let mut scenario = Scenario::new(b.build().map_err(std::io::Error::other)?);
    scenario
        .spawn("server", async {
            let listener = TcpListener::bind(8080).await?;
            let (mut stream, peer) = listener.accept().await?;
            let mut request = Vec::new();
            stream.read_to_end(&mut request).await?; // until the client's FIN
            println!(
                "[{}] server: {} byte request from {peer}",
                time::now(),
                request.len()
            );
            let response = vec![b'r'; 100_000];
            stream.write_all(&response).await?;
            stream.flush().await?; // every byte acknowledged
            println!("[{}] server: response acknowledged", time::now());
            Ok(()) // drop: FIN
        })
        .map_err(std::io::Error::other)?;
    scenario
        .spawn("client", async {
            let mut stream = TcpStream::connect(("server", 8080)).await?;
            println!("[{}] client: connected", time::now());
            stream.write_all(&[b'q'; 5000]).await?;
            stream.shutdown().await?; // half-close
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await?;
            println!(
                "[{}] client: {} byte response, end of stream",
                time::now(),
                response.len()
            );
            // TIME-WAIT follows; it costs no wall time.
            time::sleep(Duration::from_secs(120)).await;
            println!("[{}] client: two virtual minutes later", time::now());
            Ok(())
        })
        .map_err(std::io::Error::other)?;
    let done = scenario.run();
    for t in &done.tasks {
        if let Err(e) = &t.result {
            eprintln!("task on {}: {e}", t.host);
        }
    }
    let c = &done.run.connections[0];
    println!(
        "outcome {}, retransmissions: {} data, {} FIN; run ended at {} ({})",
        c.outcome.name(),
        c.retransmissions().get(tcpsim::tcp::SegmentKind::Data),
        c.retransmissions().get(tcpsim::tcp::SegmentKind::Fin),
        done.run.end,
        done.run.stop_reason.name()
    );
    assert_eq!(c.outcome, Outcome::Closed);
    Ok(())
}

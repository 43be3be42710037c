//! turmoil-net 0.1: its `ClientServer` fixture with two hosts.
//!
//! Each experiment builds a new `Net` (through the fixture, which also
//! builds a paused current-thread tokio runtime and a `LocalSet`) with a
//! server host `server` and a client host `client`. The client's first act
//! installs a rule that delivers every packet between hosts after 1 ms
//! (the crate's `Latency::fixed`, plus a counter of the segments); nothing
//! is dropped. The server binds a `TcpListener` on port 80, accepts, reads
//! the 4 bytes, reads end-of-stream and drops the stream (its FIN); the
//! client connects, writes 4 bytes, shuts down its write side (FIN) and
//! reads until end-of-stream. The fixture ends when the client's future
//! does. turmoil-net draws no random numbers, so there is no seed to set:
//! every experiment is the same.
//!
//! The kernel's retransmission threshold is raised from its default of 3
//! to 5 fixture ticks: it counts ticks without progress, not time, and at
//! 1 ms each way 3 ticks are less than a round trip, so the default
//! retransmits the data and both FINs spuriously and ends with a RST
//! (13 segments). With 5 the experiment is the 9 segments of tcpsim's
//! `rfc` run (SYN, SYN-ACK, ACK, data, FIN, ACK, ACK, FIN, ACK), and each
//! experiment asserts that count.
//!
//! Where it differs from tcpsim's experiment: turmoil-net's kernel models
//! the handshake, data, FIN and RST segments, but has no TIME-WAIT and
//! no delayed ACK, and the fixture stops as soon as the client has read
//! end-of-stream, so the client's last ACK is not delivered. Time moves in
//! 1 ms ticks of the fixture's scheduler: each tick drains the runtime,
//! then moves the packets. The client shuts down as soon as its write is
//! buffered, not once it is acknowledged.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil_net::fixture::ClientServer;
use turmoil_net::shim::tokio::net::{TcpListener, TcpStream};
use turmoil_net::{KernelConfig, Latency, Packet, Rule, Verdict};

use crate::{PAYLOAD, PORT, SEGMENTS};

/// Fixture ticks without progress before a retransmission (default 3).
const RETX_THRESHOLD: u32 = 5;

/// `Latency::fixed(1 ms)` that also counts the packets it delivers.
struct CountedLatency {
    latency: Latency,
    segments: Rc<Cell<u32>>,
}

impl Rule for CountedLatency {
    fn on_packet(&mut self, packet: &Packet) -> Verdict {
        self.segments.set(self.segments.get() + 1);
        self.latency.on_packet(packet)
    }
}

/// One experiment; panics unless the server read the 4 bytes and
/// end-of-stream and the client read end-of-stream.
pub fn experiment(_seed: u64) {
    run();
}

/// The segments that crossed between the hosts in one experiment.
pub fn segments() -> u32 {
    run()
}

fn run() -> u32 {
    let server_done = Rc::new(Cell::new(false));
    let done = Rc::clone(&server_done);
    let server = async move {
        let listener = TcpListener::bind(("0.0.0.0", PORT)).await.expect("bind");
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut data = [0u8; 4];
        stream.read_exact(&mut data).await.expect("read");
        assert_eq!(&data, PAYLOAD, "turmoil-net: the server read other bytes");
        let mut rest = [0u8; 16];
        let n = stream.read(&mut rest).await.expect("read");
        assert_eq!(n, 0, "turmoil-net: the server read more than 4 bytes");
        done.set(true);
        drop(stream);
    };

    let segments = Rc::new(Cell::new(0));
    let counter = Rc::clone(&segments);
    let client = async move {
        turmoil_net::rule(CountedLatency {
            latency: Latency::fixed(Duration::from_millis(1)),
            segments: counter,
        })
        .forget();
        let mut stream = TcpStream::connect(("server", PORT)).await.expect("connect");
        stream.write_all(PAYLOAD).await.expect("write");
        stream.shutdown().await.expect("shutdown");
        let mut rest = [0u8; 16];
        let n = stream.read(&mut rest).await.expect("read");
        assert_eq!(n, 0, "turmoil-net: the client read data, not end-of-stream");
        true
    };

    let config = KernelConfig::default().retx_threshold(RETX_THRESHOLD);
    let client_done = ClientServer::with_config(config)
        .server("server", server)
        .run("client", client);
    assert!(
        server_done.get() && client_done,
        "turmoil-net: the experiment did not complete"
    );
    assert_eq!(
        segments.get(),
        SEGMENTS,
        "turmoil-net: not the experiment's segments"
    );
    segments.get()
}

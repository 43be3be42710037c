//! turmoil 0.7: a `Sim` with two hosts.
//!
//! Each experiment builds a new simulation with a fixed latency of 1 ms
//! (minimum and maximum both 1 ms), no message loss (`fail_rate` 0), a
//! fixed epoch and the experiment's seed, the default 1 ms tick. The host
//! `server` binds a `TcpListener` on port 80, accepts, reads the 4 bytes,
//! reads end-of-stream and drops the stream (its FIN); the client
//! `client` connects, writes 4 bytes, shuts down its write side (FIN) and
//! reads until end-of-stream. The simulation ends when the client's future
//! does.
//!
//! Where it differs from tcpsim's experiment: turmoil's TCP is a model of
//! a reliable stream over a message network, not a TCP implementation.
//! Four messages cross the network (SYN, the data, two FINs); the SYN is
//! answered through an in-process channel, not a SYN-ACK on the link, and
//! there are no ACKs, no retransmission, no delayed ACK, no TIME-WAIT and
//! no sequence space to choose, so the segments cannot be counted against
//! tcpsim's 9. Time moves in 1 ms ticks in which every running host's
//! runtime is polled, whether it has work or not. The client shuts down as
//! soon as its write is buffered (there is no acknowledgment to wait for).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil::net::{TcpListener, TcpStream};

use crate::{PAYLOAD, PORT};

/// One experiment with `seed`; panics unless the server read the 4 bytes
/// and end-of-stream and the client read end-of-stream.
pub fn experiment(seed: u64) {
    let mut sim = turmoil::Builder::new()
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(1))
        .fail_rate(0.0)
        .epoch(SystemTime::UNIX_EPOCH)
        .rng_seed(seed)
        .build();

    let server_done = Rc::new(Cell::new(false));
    let done = Rc::clone(&server_done);
    sim.host("server", move || {
        let done = Rc::clone(&done);
        async move {
            let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
            let (mut stream, _) = listener.accept().await?;
            let mut data = [0u8; 4];
            stream.read_exact(&mut data).await?;
            assert_eq!(&data, PAYLOAD, "turmoil: the server read other bytes");
            let mut rest = [0u8; 16];
            let n = stream.read(&mut rest).await?;
            assert_eq!(n, 0, "turmoil: the server read more than 4 bytes");
            done.set(true);
            drop(stream);
            Ok(())
        }
    });

    let client_done = Rc::new(Cell::new(false));
    let done = Rc::clone(&client_done);
    sim.client("client", async move {
        let mut stream = TcpStream::connect(("server", PORT)).await?;
        stream.write_all(PAYLOAD).await?;
        stream.shutdown().await?;
        let mut rest = [0u8; 16];
        let n = stream.read(&mut rest).await?;
        assert_eq!(n, 0, "turmoil: the client read data, not end-of-stream");
        done.set(true);
        Ok(())
    });

    sim.run().expect("turmoil: the simulation failed");
    assert!(
        server_done.get() && client_done.get(),
        "turmoil: the experiment did not complete"
    );
}

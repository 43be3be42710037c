//! smoltcp: two TCP sockets on two interfaces, with no network model.
//!
//! Each experiment builds two `Interface`s (`10.0.0.1` and `10.0.0.2`,
//! IP medium), each with its own in-memory device and a `SocketSet` of one
//! TCP socket with 1 KiB buffers, the interface's random seed derived
//! from the experiment's seed (smoltcp draws its initial sequence numbers
//! and ephemeral ports from it). The server socket listens on port 80;
//! the client connects, writes 4 bytes, closes once they are acknowledged
//! (as tcpsim's `client-first` close does), and reads until end-of-stream;
//! the server reads the 4 bytes and end-of-stream, then closes. The loop
//! polls both interfaces, hands each one's transmitted packets to the
//! other at once, runs both applications, and when nothing is in flight
//! jumps the clock to the earliest timer (smoltcp's 10 ms delayed ACK,
//! then its 10 s TIME-WAIT) until both sockets are CLOSED. Each experiment
//! asserts the 9 segments of tcpsim's `rfc` run.
//!
//! This is smoltcp's bare handshake-and-close cycle: packets cross in no
//! time, so there is no link, no 1 ms delay and no event queue, as in
//! tcpsim's own `tcp/handshake_and_close` (`benches/tcp.rs`), not its
//! sweep. The devices declare checksums as not needed, as smoltcp's own
//! `Loopback` device does, so no checksum is computed or checked.

use std::collections::VecDeque;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp::{self, RecvError, State};
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

use crate::{PAYLOAD, PORT, SEGMENTS};

const CLIENT_ADDR: IpAddress = IpAddress::v4(10, 0, 0, 1);
const SERVER_ADDR: IpAddress = IpAddress::v4(10, 0, 0, 2);
const CLIENT_PORT: u16 = 49152;
const BUFFER: usize = 1024;
/// Far more loop turns than the cycle needs: a stuck run panics.
const MAX_TURNS: u32 = 1000;

/// An interface's in-memory device: packets it receives and packets it
/// has sent, which the loop moves to the other device.
#[derive(Default)]
struct Wire {
    inbox: VecDeque<Vec<u8>>,
    outbox: VecDeque<Vec<u8>>,
}

struct WireRx(Vec<u8>);

struct WireTx<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::RxToken for WireRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for WireTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0; len];
        let result = f(&mut packet);
        self.0.push_back(packet);
        result
    }
}

impl Device for Wire {
    type RxToken<'a> = WireRx;
    type TxToken<'a> = WireTx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(WireRx, WireTx<'_>)> {
        let packet = self.inbox.pop_front()?;
        Some((WireRx(packet), WireTx(&mut self.outbox)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<WireTx<'_>> {
        Some(WireTx(&mut self.outbox))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = 1500;
        caps.checksum = ChecksumCapabilities::ignored();
        caps
    }
}

/// One end: an interface, its device and its one TCP socket.
struct Host {
    iface: Interface,
    wire: Wire,
    sockets: SocketSet<'static>,
    tcp: SocketHandle,
}

impl Host {
    fn new(addr: IpAddress, seed: u64, now: Instant) -> Host {
        let mut wire = Wire::default();
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut wire, now);
        iface.update_ip_addrs(|addrs| {
            addrs.push(IpCidr::new(addr, 24)).expect("one address");
        });
        let socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; BUFFER]),
            tcp::SocketBuffer::new(vec![0; BUFFER]),
        );
        let mut sockets = SocketSet::new(Vec::with_capacity(1));
        let tcp = sockets.add(socket);
        Host {
            iface,
            wire,
            sockets,
            tcp,
        }
    }

    fn poll(&mut self, now: Instant) {
        self.iface.poll(now, &mut self.wire, &mut self.sockets);
    }

    fn socket(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket<'static>>(self.tcp)
    }
}

/// What each application has done so far.
#[derive(Default)]
struct Progress {
    client_wrote: bool,
    client_closed: bool,
    client_eof: bool,
    server_read: usize,
    server_eof: bool,
    server_closed: bool,
}

/// One experiment with `seed`; panics unless the server read the 4 bytes
/// and end-of-stream, the client read end-of-stream, and both sockets
/// reached CLOSED.
pub fn experiment(seed: u64) {
    run(seed);
}

/// The segments that crossed between the hosts in one experiment.
pub fn segments() -> u32 {
    run(1)
}

fn run(seed: u64) -> u32 {
    let mut now = Instant::ZERO;
    // Two different seeds, so the two ends do not pick the same initial
    // sequence number.
    let mut client = Host::new(CLIENT_ADDR, seed.wrapping_mul(2), now);
    let mut server = Host::new(SERVER_ADDR, seed.wrapping_mul(2) + 1, now);
    server.socket().listen(PORT).expect("listen");
    let cx = client.iface.context();
    client
        .sockets
        .get_mut::<tcp::Socket<'static>>(client.tcp)
        .connect(cx, (SERVER_ADDR, PORT), CLIENT_PORT)
        .expect("connect");

    let mut p = Progress::default();
    let mut segments = 0u32;
    for _ in 0..MAX_TURNS {
        client.poll(now);
        server.poll(now);
        segments += (client.wire.outbox.len() + server.wire.outbox.len()) as u32;
        server.wire.inbox.extend(client.wire.outbox.drain(..));
        client.wire.inbox.extend(server.wire.outbox.drain(..));
        client_app(client.socket(), &mut p);
        server_app(server.socket(), &mut p);

        if p.client_eof
            && p.server_eof
            && client.socket().state() == State::Closed
            && server.socket().state() == State::Closed
        {
            assert_eq!(
                p.server_read,
                PAYLOAD.len(),
                "smoltcp: the server read too little"
            );
            assert_eq!(segments, SEGMENTS, "smoltcp: not the experiment's segments");
            return segments;
        }
        if client.wire.inbox.is_empty() && server.wire.inbox.is_empty() {
            let next = [
                client.iface.poll_at(now, &client.sockets),
                server.iface.poll_at(now, &server.sockets),
            ]
            .into_iter()
            .flatten()
            .min()
            .expect("smoltcp: nothing in flight and no timer, but not closed");
            now = now.max(next);
        }
    }
    panic!("smoltcp: the experiment did not complete in {MAX_TURNS} turns");
}

/// Writes 4 bytes once established, closes once they are acknowledged,
/// and reads until end-of-stream.
fn client_app(socket: &mut tcp::Socket<'_>, p: &mut Progress) {
    if !p.client_wrote && socket.may_send() {
        let n = socket.send_slice(PAYLOAD).expect("send");
        assert_eq!(n, PAYLOAD.len(), "smoltcp: short write");
        p.client_wrote = true;
    }
    if p.client_wrote && !p.client_closed && socket.send_queue() == 0 {
        socket.close();
        p.client_closed = true;
    }
    if p.client_closed && !p.client_eof {
        let mut buf = [0u8; 16];
        match socket.recv_slice(&mut buf) {
            Ok(0) => {}
            Ok(_) => panic!("smoltcp: the client read data, not end-of-stream"),
            Err(RecvError::Finished) => p.client_eof = true,
            Err(RecvError::InvalidState) => {}
        }
    }
}

/// Reads the bytes and end-of-stream, then closes.
fn server_app(socket: &mut tcp::Socket<'_>, p: &mut Progress) {
    if !p.server_eof {
        let mut buf = [0u8; 16];
        match socket.recv_slice(&mut buf) {
            Ok(n) => {
                let at = p.server_read;
                assert!(
                    at + n <= PAYLOAD.len() && buf[..n] == PAYLOAD[at..at + n],
                    "smoltcp: the server read other bytes"
                );
                p.server_read += n;
            }
            Err(RecvError::Finished) => p.server_eof = true,
            Err(RecvError::InvalidState) => {}
        }
    }
    if p.server_eof && !p.server_closed {
        socket.close();
        p.server_closed = true;
    }
}

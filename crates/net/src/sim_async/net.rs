//! `TcpListener` and `TcpStream` on simulated hosts, with tokio's
//! `AsyncRead` and `AsyncWrite`.

use std::future::poll_fn;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{current_host, try_with_sim, with_sim};
use crate::app::Socket;
use crate::trace::HostId;

/// Something that names a simulated address: a `SocketAddrV4`, an
/// `"10.0.0.2:80"` string, or a `(host name or address, port)` pair such as
/// `("server", 80)`, resolved to that host's address.
pub trait ToAddr {
    /// The address, or an error naming what did not resolve.
    fn to_addr(&self) -> io::Result<SocketAddrV4>;
}

impl ToAddr for SocketAddrV4 {
    fn to_addr(&self) -> io::Result<SocketAddrV4> {
        Ok(*self)
    }
}

impl ToAddr for SocketAddr {
    fn to_addr(&self) -> io::Result<SocketAddrV4> {
        match self {
            SocketAddr::V4(a) => Ok(*a),
            SocketAddr::V6(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "tcpsim simulates IPv4 only",
            )),
        }
    }
}

impl ToAddr for (Ipv4Addr, u16) {
    fn to_addr(&self) -> io::Result<SocketAddrV4> {
        Ok(SocketAddrV4::new(self.0, self.1))
    }
}

impl ToAddr for (&str, u16) {
    fn to_addr(&self) -> io::Result<SocketAddrV4> {
        if let Ok(ip) = self.0.parse::<Ipv4Addr>() {
            return Ok(SocketAddrV4::new(ip, self.1));
        }
        with_sim(|s| {
            s.host_id(self.0)
                .map(|h| SocketAddrV4::new(s.engine.hosts[h].addr, self.1))
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("no host named {:?}", self.0),
                    )
                })
        })
    }
}

impl ToAddr for &str {
    fn to_addr(&self) -> io::Result<SocketAddrV4> {
        self.parse::<SocketAddrV4>().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("expected an address like \"10.0.0.2:80\", found {self:?}"),
            )
        })
    }
}

/// A listening socket on the current task's host.
#[derive(Debug)]
pub struct TcpListener {
    host: HostId,
    port: u16,
}

impl TcpListener {
    /// Listens on `port` of the current host (passive OPEN).
    ///
    /// Fails with `AddrInUse` if the port already has a listener.
    pub async fn bind(port: u16) -> io::Result<TcpListener> {
        let host = current_host()?;
        with_sim(|s| s.with_sockets(|so, e| so.listen(e, host, port)))?;
        Ok(TcpListener { host, port })
    }

    /// Waits for a connection that has completed its handshake.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (host, port) = (self.host, self.port);
        poll_fn(
            |cx| match with_sim(|s| s.apps.sockets.accept(&s.engine, host, port, cx.waker())) {
                Some((socket, peer)) => {
                    Poll::Ready(Ok((TcpStream { socket }, SocketAddr::V4(peer))))
                }
                None => Poll::Pending,
            },
        )
        .await
    }

    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        let ip = with_sim(|s| s.engine.hosts[self.host].addr);
        SocketAddr::V4(SocketAddrV4::new(ip, self.port))
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let (host, port) = (self.host, self.port);
        try_with_sim(|s| s.with_sockets(|so, e| so.unlisten(e, host, port)));
    }
}

/// A TCP connection of the current task's host.
///
/// Reading returns what arrived in order; writing queues everything at once
/// (the simulated send buffer is unbounded); `flush` waits until the peer
/// has acknowledged every octet written; `shutdown` sends FIN and keeps the
/// read side open; dropping the stream releases it (FIN if not sent yet);
/// [`TcpStream::abort`] sends RST.
#[derive(Debug)]
pub struct TcpStream {
    socket: Socket,
}

impl TcpStream {
    /// Opens a connection from the current host (active OPEN) and waits for
    /// the handshake. Errors: `ConnectionRefused` (RST in answer),
    /// `TimedOut` (SYN retransmissions ran out), `ConnectionReset`,
    /// `AddrNotAvailable` (no ephemeral port).
    pub async fn connect(addr: impl ToAddr) -> io::Result<TcpStream> {
        let host = current_host()?;
        let remote = addr.to_addr()?;
        let socket = with_sim(|s| s.with_sockets(|so, e| so.connect(e, host, remote)))?;
        let stream = TcpStream { socket };
        poll_fn(
            |cx| match with_sim(|s| s.apps.sockets.poll_connect(socket, cx.waker())) {
                Ok(true) => Poll::Ready(Ok(())),
                Ok(false) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
        )
        .await?;
        Ok(stream)
    }

    /// Aborts the connection: RST, and no TIME-WAIT (RFC 9293 §3.10.5).
    pub fn abort(self) {
        let socket = self.socket;
        std::mem::forget(self);
        try_with_sim(|s| s.with_sockets(|so, e| so.abort(e, socket)));
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.addrs().map(|(l, _)| SocketAddr::V4(l))
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.addrs().map(|(_, r)| SocketAddr::V4(r))
    }

    fn addrs(&self) -> io::Result<(SocketAddrV4, SocketAddrV4)> {
        with_sim(|s| {
            s.engine.hosts[self.socket.host]
                .endpoint
                .connection(self.socket.id)
                .map(|c| (c.local(), c.remote()))
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
        })
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let dst = buf.initialize_unfilled();
        let socket = self.socket;
        match with_sim(|s| s.with_sockets(|so, e| so.read(e, socket, dst, cx.waker()))) {
            Ok(Some(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Ok(None) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for TcpStream {
    /// Takes what the send buffer has room for; waits for room when it
    /// has none.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let socket = self.socket;
        match with_sim(|s| s.with_sockets(|so, e| so.write(e, socket, buf, cx.waker()))) {
            Ok(Some(n)) => Poll::Ready(Ok(n)),
            Ok(None) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Waits until the peer has acknowledged every octet written.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let socket = self.socket;
        match with_sim(|s| s.apps.sockets.flushed(&s.engine, socket, cx.waker())) {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Sends FIN after the queued data; reading goes on.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let socket = self.socket;
        Poll::Ready(with_sim(|s| s.with_sockets(|so, e| so.shutdown(e, socket))))
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let socket = self.socket;
        try_with_sim(|s| s.with_sockets(|so, e| so.release(e, socket)));
    }
}

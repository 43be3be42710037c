//! `TcpListener` and `TcpStream` on simulated hosts, with tokio's
//! `AsyncRead` and `AsyncWrite`.

use std::future::poll_fn;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::task::{Context, Poll};

use tcpsim_tcp::ConnId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{current_host, try_with_sim, with_sim};
use crate::trace::HostId;
use crate::workload::End;

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
                .map(|h| SocketAddrV4::new(s.hosts[h].addr, self.1))
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
        with_sim(|s| s.async_listen(host, port))?;
        Ok(TcpListener { host, port })
    }

    /// Waits for a connection that has completed its handshake.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (host, port) = (self.host, self.port);
        poll_fn(
            |cx| match with_sim(|s| s.async_accept(host, port, cx.waker())) {
                Some((id, conn, peer)) => Poll::Ready(Ok((
                    TcpStream {
                        host,
                        id,
                        conn,
                        end: End::Server,
                    },
                    SocketAddr::V4(peer),
                ))),
                None => Poll::Pending,
            },
        )
        .await
    }

    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        let ip = with_sim(|s| s.hosts[self.host].addr);
        SocketAddr::V4(SocketAddrV4::new(ip, self.port))
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let (host, port) = (self.host, self.port);
        try_with_sim(|s| s.async_unlisten(host, port));
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
    host: HostId,
    id: ConnId,
    conn: u32,
    end: End,
}

impl TcpStream {
    /// Opens a connection from the current host (active OPEN) and waits for
    /// the handshake. Errors: `ConnectionRefused` (RST in answer),
    /// `TimedOut` (SYN retransmissions ran out), `ConnectionReset`,
    /// `AddrNotAvailable` (no ephemeral port).
    pub async fn connect(addr: impl ToAddr) -> io::Result<TcpStream> {
        let host = current_host()?;
        let remote = addr.to_addr()?;
        let (id, conn) = with_sim(|s| s.async_connect(host, remote))?;
        let stream = TcpStream {
            host,
            id,
            conn,
            end: End::Client,
        };
        poll_fn(
            |cx| match with_sim(|s| s.async_poll_connect(host, id, cx.waker())) {
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
        let (host, id, conn) = (self.host, self.id, self.conn);
        std::mem::forget(self);
        try_with_sim(|s| s.async_abort(host, id, conn));
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
            s.hosts[self.host]
                .endpoint
                .connection(self.id)
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
        let this = &*self;
        let dst = buf.initialize_unfilled();
        match with_sim(|s| s.async_read(this.host, this.id, this.conn, this.end, dst, cx.waker())) {
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
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &*self;
        Poll::Ready(with_sim(|s| {
            s.async_write(this.host, this.id, this.conn, buf)
        }))
    }

    /// Waits until the peer has acknowledged every octet written.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &*self;
        match with_sim(|s| s.async_flushed(this.host, this.id, cx.waker())) {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Sends FIN after the queued data; reading goes on.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &*self;
        Poll::Ready(with_sim(|s| {
            s.async_shutdown(this.host, this.id, this.conn, this.end)
        }))
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let (host, id, conn, end) = (self.host, self.id, self.conn, self.end);
        try_with_sim(|s| s.async_release(host, id, conn, end));
    }
}

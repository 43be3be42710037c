//! The socket layer of the one simulated host a script drives: file
//! descriptors over a [`tcpsim_tcp::Endpoint`], with the Linux meaning of
//! each call a script makes (SPEC §7).
//!
//! Every call either completes now — a return value or an [`Errno`] — or
//! would block ([`Call::Blocked`]); the player retries a blocked call after
//! each step of virtual time until it completes. A socket in non-blocking
//! mode (`fcntl(O_NONBLOCK)`) never blocks: it fails with `EAGAIN`, or
//! `EINPROGRESS` for `connect`, as Linux does.
//!
//! Descriptors are numbered from 3 up, the lowest free one first (POSIX),
//! so a script's `socket(...) = 3` and `accept(...) = 4` hold.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::SocketAddrV4;
use std::sync::Arc;

use tcpsim_tcp::{Config, ConnId, Endpoint, Event, Instant, State, Transmit};

/// The error numbers a call can fail with, by their Linux names and values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[allow(missing_docs)] // each is its Linux name
pub enum Errno {
    EPERM,
    EBADF,
    EAGAIN,
    EFAULT,
    EINVAL,
    EPIPE,
    ENOTSOCK,
    ENOPROTOOPT,
    EOPNOTSUPP,
    EADDRINUSE,
    ECONNABORTED,
    ECONNRESET,
    EISCONN,
    ENOTCONN,
    ETIMEDOUT,
    ECONNREFUSED,
    EALREADY,
    EINPROGRESS,
}

impl Errno {
    /// Every error number, for lookups by name.
    pub const ALL: [Errno; 18] = [
        Errno::EPERM,
        Errno::EBADF,
        Errno::EAGAIN,
        Errno::EFAULT,
        Errno::EINVAL,
        Errno::EPIPE,
        Errno::ENOTSOCK,
        Errno::ENOPROTOOPT,
        Errno::EOPNOTSUPP,
        Errno::EADDRINUSE,
        Errno::ECONNABORTED,
        Errno::ECONNRESET,
        Errno::EISCONN,
        Errno::ENOTCONN,
        Errno::ETIMEDOUT,
        Errno::ECONNREFUSED,
        Errno::EALREADY,
        Errno::EINPROGRESS,
    ];

    /// The Linux value (`asm-generic/errno*.h`), as `SO_ERROR` reports it.
    pub const fn code(self) -> i64 {
        match self {
            Errno::EPERM => 1,
            Errno::EBADF => 9,
            Errno::EAGAIN => 11,
            Errno::EFAULT => 14,
            Errno::EINVAL => 22,
            Errno::EPIPE => 32,
            Errno::ENOTSOCK => 88,
            Errno::ENOPROTOOPT => 92,
            Errno::EOPNOTSUPP => 95,
            Errno::EADDRINUSE => 98,
            Errno::ECONNABORTED => 103,
            Errno::ECONNRESET => 104,
            Errno::EISCONN => 106,
            Errno::ENOTCONN => 107,
            Errno::ETIMEDOUT => 110,
            Errno::ECONNREFUSED => 111,
            Errno::EALREADY => 114,
            Errno::EINPROGRESS => 115,
        }
    }

    /// The name, `ECONNRESET`.
    pub fn name(self) -> &'static str {
        match self {
            Errno::EPERM => "EPERM",
            Errno::EBADF => "EBADF",
            Errno::EAGAIN => "EAGAIN",
            Errno::EFAULT => "EFAULT",
            Errno::EINVAL => "EINVAL",
            Errno::EPIPE => "EPIPE",
            Errno::ENOTSOCK => "ENOTSOCK",
            Errno::ENOPROTOOPT => "ENOPROTOOPT",
            Errno::EOPNOTSUPP => "EOPNOTSUPP",
            Errno::EADDRINUSE => "EADDRINUSE",
            Errno::ECONNABORTED => "ECONNABORTED",
            Errno::ECONNRESET => "ECONNRESET",
            Errno::EISCONN => "EISCONN",
            Errno::ENOTCONN => "ENOTCONN",
            Errno::ETIMEDOUT => "ETIMEDOUT",
            Errno::ECONNREFUSED => "ECONNREFUSED",
            Errno::EALREADY => "EALREADY",
            Errno::EINPROGRESS => "EINPROGRESS",
        }
    }

    /// Looks a name up (`EWOULDBLOCK` is `EAGAIN`, as on Linux).
    pub fn from_name(name: &str) -> Option<Errno> {
        if name == "EWOULDBLOCK" {
            return Some(Errno::EAGAIN);
        }
        Errno::ALL.into_iter().find(|e| e.name() == name)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// It returned this value.
    Done(i64),
    /// It failed (returned -1 with this `errno`).
    Failed(Errno),
    /// It would block: try again after time has moved.
    Blocked,
}

impl From<Result<i64, Errno>> for Call {
    fn from(r: Result<i64, Errno>) -> Call {
        match r {
            Ok(v) => Call::Done(v),
            Err(e) => Call::Failed(e),
        }
    }
}

/// The socket options a script can set, per socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// `O_NONBLOCK`.
    pub nonblocking: bool,
    /// `SO_REUSEADDR` (accepted; the simulated host has no port conflicts
    /// it would resolve).
    pub reuse_addr: bool,
    /// `SO_LINGER` with `l_onoff` set: `Some(seconds)`. Zero makes `close`
    /// abort the connection with RST.
    pub linger: Option<u32>,
    /// `TCP_NODELAY`.
    pub nodelay: bool,
    /// `TCP_MAXSEG`: the MSS this socket announces and sends at most.
    pub max_seg: Option<u16>,
    /// `SO_RCVBUF`: the receive buffer the kernel keeps (already doubled).
    pub recv_buffer: Option<u32>,
    /// `TCP_USER_TIMEOUT`: `Some` when set to a non-zero value.
    pub user_timeout: Option<tcpsim_tcp::Duration>,
    /// `SO_SNDBUF`: the send buffer's size (already doubled).
    pub send_buffer: Option<u32>,
}

impl SocketOptions {
    /// The configuration of this socket's connections: `base` with the
    /// options that change TCP applied. `None` when none does, so the
    /// endpoint's shared configuration serves.
    fn config(&self, base: &Config) -> Option<Arc<Config>> {
        if self.max_seg.is_none()
            && self.user_timeout.is_none()
            && self.send_buffer.is_none()
            && self.recv_buffer.is_none()
            && !self.nodelay
        {
            return None;
        }
        let mut c = Config {
            nagle: if self.nodelay {
                tcpsim_tcp::Nagle::Off
            } else {
                base.nagle
            },
            mss: self.max_seg.map_or(base.mss, |m| m.min(base.mss)),
            user_timeout: self.user_timeout.or(base.user_timeout),
            send_buffer: self.send_buffer.or(base.send_buffer),
            // SO_SNDBUF locks the size (`SOCK_SNDBUF_LOCK`).
            send_buffer_max: if self.send_buffer.is_some() {
                None
            } else {
                base.send_buffer_max
            },
            ..*base
        };
        if let Some(bytes) = self.recv_buffer {
            // SOCK_RCVBUF_LOCK: the buffer is the application's now.
            c.recv_buffer = bytes;
            c.recv_buffer_locked = true;
        }
        Some(Arc::new(c))
    }
}

/// What a descriptor is.
#[derive(Debug)]
enum Kind {
    /// Made by `socket`, maybe bound, neither listening nor connected.
    Fresh { port: Option<u16> },
    /// Listening on `port`; connections established and not yet accepted.
    Listening { port: u16, queue: VecDeque<ConnId> },
    /// A connection (connecting, connected, or over).
    Connection {
        id: ConnId,
        /// `shutdown(SHUT_RD)`: reads return end of stream.
        shut_rd: bool,
        /// `shutdown(SHUT_WR)` or `close`-like: writes fail with `EPIPE`.
        shut_wr: bool,
        /// A non-blocking `connect` is in progress (its result pends).
        connecting: bool,
    },
}

#[derive(Debug)]
struct Socket {
    kind: Kind,
    options: SocketOptions,
}

/// What the layer remembers of a connection from its events.
#[derive(Clone, Copy, Debug, Default)]
struct Facts {
    established: bool,
    /// The error the next call reports (`SO_ERROR`), once.
    error: Option<Errno>,
    /// The connection was reset or timed out: calls fail from now on.
    broken: Option<Errno>,
    /// The peer's FIN was taken (reads end with 0 before any error).
    eof: bool,
    /// TCP reported room in the send buffer ([`Event::Writable`]) since
    /// a blocking write last came up short: it may go on.
    writable: bool,
}

/// One host's sockets over its TCP endpoint.
pub struct Sockets {
    endpoint: Endpoint,
    fds: BTreeMap<i32, Socket>,
    facts: BTreeMap<ConnId, Facts>,
    /// Passive connections established and not yet on a listener's queue
    /// or accepted, oldest first, with their local port.
    established: VecDeque<(u16, ConnId)>,
    /// Everything the endpoint sent, with when, oldest first.
    sent: VecDeque<(Instant, Transmit)>,
    /// Blocking writes under way: descriptor → octets taken so far.
    writing: BTreeMap<i32, usize>,
    now: Instant,
}

impl fmt::Debug for Sockets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sockets")
            .field("now", &self.now)
            .field("fds", &self.fds.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Sockets {
    /// The sockets of a host whose TCP is `endpoint`.
    pub fn new(endpoint: Endpoint) -> Sockets {
        Sockets {
            endpoint,
            fds: BTreeMap::new(),
            facts: BTreeMap::new(),
            established: VecDeque::new(),
            sent: VecDeque::new(),
            writing: BTreeMap::new(),
            now: Instant::ZERO,
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The endpoint (for inspection).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The configuration of connections opened from now on.
    pub fn set_config(&mut self, config: Arc<Config>) {
        self.endpoint.set_config(config);
    }

    /// The earliest timer of the endpoint.
    pub fn next_timer(&mut self) -> Option<Instant> {
        self.endpoint.poll_timeout()
    }

    /// Moves time to `t`, firing every timer due on the way at its own
    /// deadline.
    pub fn advance_to(&mut self, t: Instant) {
        while let Some(due) = self.endpoint.poll_timeout() {
            if due > t {
                break;
            }
            self.now = self.now.max(due);
            self.endpoint.handle_timeout(due);
            self.collect();
        }
        self.now = self.now.max(t);
    }

    /// A segment arrives from the network now.
    pub fn deliver(&mut self, segment: &tcpsim_tcp::Segment) {
        self.endpoint.handle_segment(self.now, segment);
        self.collect();
    }

    /// The oldest segment sent and not yet taken, with when it was sent.
    pub fn take_sent(&mut self) -> Option<(Instant, Transmit)> {
        self.sent.pop_front()
    }

    /// The 4-tuple (local, remote) of the first SYN sent and not yet taken.
    pub fn first_sent_syn(&self) -> Option<(SocketAddrV4, SocketAddrV4)> {
        self.sent
            .iter()
            .find(|(_, t)| t.segment.flags.syn())
            .map(|(_, t)| (t.segment.src, t.segment.dst))
    }

    /// Takes the endpoint's outputs and events.
    fn collect(&mut self) {
        while let Some((_, t)) = self.endpoint.poll_transmit() {
            self.sent.push_back((self.now, t));
        }
        while let Some((id, event)) = self.endpoint.poll_event() {
            let facts = self.facts.entry(id).or_default();
            match event {
                Event::Connected => {
                    facts.established = true;
                    if let Some(c) = self.endpoint.connection(id)
                        && c.is_passive()
                    {
                        self.established.push_back((c.local().port(), id));
                    }
                }
                Event::Refused => {
                    facts.error = Some(Errno::ECONNREFUSED);
                    facts.broken = Some(Errno::ECONNREFUSED);
                }
                Event::Reset => {
                    // Linux tcp_reset: EPIPE once the peer's FIN was taken
                    // (CLOSE-WAIT), ECONNRESET otherwise.
                    let e = if facts.eof {
                        Errno::EPIPE
                    } else {
                        Errno::ECONNRESET
                    };
                    facts.error = Some(e);
                    facts.broken = Some(Errno::EPIPE);
                }
                Event::EndOfStream => facts.eof = true,
                Event::Writable => facts.writable = true,
                Event::TimedOut => {
                    facts.error = Some(Errno::ETIMEDOUT);
                    facts.broken = Some(Errno::ETIMEDOUT);
                }
                _ => {}
            }
        }
        // Established passive connections join their listener's queue.
        while let Some(&(port, id)) = self.established.front() {
            let listener = self.fds.values_mut().find_map(|s| match &mut s.kind {
                Kind::Listening { port: p, queue, .. } if *p == port => Some(queue),
                _ => None,
            });
            match listener {
                Some(queue) => queue.push_back(id),
                None => self.endpoint.abort(self.now, id),
            }
            self.established.pop_front();
        }
    }

    fn lowest_free_fd(&self) -> i32 {
        let mut fd = 3;
        for &used in self.fds.keys() {
            if used == fd {
                fd += 1;
            } else if used > fd {
                break;
            }
        }
        fd
    }

    fn socket_mut(&mut self, fd: i32) -> Result<&mut Socket, Errno> {
        self.fds.get_mut(&fd).ok_or(Errno::EBADF)
    }

    fn connection(&self, fd: i32) -> Result<ConnId, Errno> {
        match self.fds.get(&fd).map(|s| &s.kind) {
            None => Err(Errno::EBADF),
            Some(Kind::Connection { id, .. }) => Ok(*id),
            Some(_) => Err(Errno::ENOTCONN),
        }
    }

    /// `socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)`.
    pub fn socket(&mut self) -> Call {
        let fd = self.lowest_free_fd();
        self.fds.insert(
            fd,
            Socket {
                kind: Kind::Fresh { port: None },
                options: SocketOptions::default(),
            },
        );
        Call::Done(i64::from(fd))
    }

    /// The options of a socket, to change them (`setsockopt`, `fcntl`);
    /// call [`Sockets::options_changed`] afterwards.
    pub fn options_mut(&mut self, fd: i32) -> Result<&mut SocketOptions, Errno> {
        Ok(&mut self.socket_mut(fd)?.options)
    }

    /// A socket's options changed: an open connection takes those it
    /// reads as it goes (`TCP_USER_TIMEOUT`); a listener's connections
    /// from now on get them all.
    pub fn options_changed(&mut self, fd: i32) {
        let base = *self.endpoint.config();
        if let Some(Socket {
            kind: Kind::Connection { id, .. },
            options,
        }) = self.fds.get(&fd)
        {
            // An open connection takes what it reads as it goes.
            let (id, user_timeout, nodelay) = (*id, options.user_timeout, options.nodelay);
            let profile_nagle = base.nagle;
            if let Some(c) = self.endpoint.connection(id) {
                let config = Config {
                    user_timeout,
                    nagle: if nodelay {
                        tcpsim_tcp::Nagle::Off
                    } else {
                        profile_nagle
                    },
                    ..*c.config()
                };
                self.endpoint.set_connection_config(id, Arc::new(config));
            }
            return;
        }
        let Some(Socket {
            kind: Kind::Listening { port, .. },
            options,
        }) = self.fds.get(&fd)
        else {
            return;
        };
        let (port, config) = (*port, options.config(&base));
        self.endpoint.unlisten(port);
        let _ = match config {
            Some(c) => self.endpoint.listen_with(port, c),
            None => self.endpoint.listen(port),
        };
    }

    /// `setsockopt(SO_RCVBUF)` with the buffer the kernel keeps: for the
    /// socket's connection, if it has one, at once; for connections it
    /// opens or accepts from now on.
    pub fn set_recv_buffer(&mut self, fd: i32, bytes: u32) -> Call {
        match self.options_mut(fd) {
            Ok(o) => o.recv_buffer = Some(bytes),
            Err(e) => return Call::Failed(e),
        }
        if let Ok(id) = self.connection(fd) {
            self.endpoint.set_recv_buffer(id, bytes);
        }
        self.options_changed(fd);
        Call::Done(0)
    }

    /// `getsockopt(SO_RCVBUF)`: the connection's receive buffer, or the
    /// one its connections will have.
    pub fn recv_buffer(&self, fd: i32) -> Result<i64, Errno> {
        if let Ok(c) = self.connection_of(fd) {
            return Ok(i64::from(c.recv_buffer()));
        }
        let o = self.options(fd)?;
        Ok(i64::from(
            o.recv_buffer.unwrap_or(self.endpoint.config().recv_buffer),
        ))
    }

    /// The options of a socket.
    pub fn options(&self, fd: i32) -> Result<SocketOptions, Errno> {
        self.fds.get(&fd).map(|s| s.options).ok_or(Errno::EBADF)
    }

    /// `bind(fd, local:port)`.
    pub fn bind(&mut self, fd: i32, port: u16) -> Call {
        let taken = self.fds.values().any(|s| {
            matches!(s.kind, Kind::Fresh { port: Some(p) } | Kind::Listening { port: p, .. } if p == port)
        });
        let reuse = self.options(fd).is_ok_and(|o| o.reuse_addr);
        let socket = match self.socket_mut(fd) {
            Ok(s) => s,
            Err(e) => return Call::Failed(e),
        };
        match socket.kind {
            Kind::Fresh { port: None } if !taken || reuse => {
                socket.kind = Kind::Fresh { port: Some(port) };
                Call::Done(0)
            }
            Kind::Fresh { port: None } => Call::Failed(Errno::EADDRINUSE),
            _ => Call::Failed(Errno::EINVAL),
        }
    }

    /// `listen(fd, backlog)` on a bound socket. The backlog is not
    /// modelled: the accept queue has no limit.
    pub fn listen(&mut self, fd: i32) -> Call {
        let base = *self.endpoint.config();
        let socket = match self.socket_mut(fd) {
            Ok(s) => s,
            Err(e) => return Call::Failed(e),
        };
        let Kind::Fresh { port: Some(port) } = socket.kind else {
            return match socket.kind {
                Kind::Listening { .. } => Call::Done(0),
                _ => Call::Failed(Errno::EINVAL),
            };
        };
        let config = socket.options.config(&base);
        socket.kind = Kind::Listening {
            port,
            queue: VecDeque::new(),
        };
        let r = match config {
            Some(c) => self.endpoint.listen_with(port, c),
            None => self.endpoint.listen(port),
        };
        match r {
            Ok(()) => Call::Done(0),
            Err(_) => Call::Failed(Errno::EADDRINUSE),
        }
    }

    /// `accept(fd)`: the oldest established connection of a listener.
    pub fn accept(&mut self, fd: i32) -> Call {
        let free = self.lowest_free_fd();
        let socket = match self.socket_mut(fd) {
            Ok(s) => s,
            Err(e) => return Call::Failed(e),
        };
        let options = socket.options;
        let Kind::Listening { queue, .. } = &mut socket.kind else {
            return Call::Failed(Errno::EINVAL);
        };
        let Some(id) = queue.pop_front() else {
            return if options.nonblocking {
                Call::Failed(Errno::EAGAIN)
            } else {
                Call::Blocked
            };
        };
        self.fds.insert(
            free,
            Socket {
                kind: Kind::Connection {
                    id,
                    shut_rd: false,
                    shut_wr: false,
                    connecting: false,
                },
                // An accepted socket inherits the listener's options
                // except O_NONBLOCK (which is a file status flag on Linux).
                options: SocketOptions {
                    nonblocking: false,
                    ..options
                },
            },
        );
        Call::Done(i64::from(free))
    }

    /// `connect(fd, remote)`.
    pub fn connect(&mut self, fd: i32, remote: SocketAddrV4) -> Call {
        let base = *self.endpoint.config();
        let now = self.now;
        let socket = match self.fds.get(&fd) {
            Some(s) => s,
            None => return Call::Failed(Errno::EBADF),
        };
        let options = socket.options;
        match socket.kind {
            Kind::Fresh { port } => {
                let config = options.config(&base).unwrap_or_else(|| Arc::new(base));
                let id = match self.endpoint.connect_with(now, remote, port, config) {
                    Ok(id) => id,
                    Err(_) => return Call::Failed(Errno::EADDRINUSE),
                };
                self.collect();
                if let Some(s) = self.fds.get_mut(&fd) {
                    s.kind = Kind::Connection {
                        id,
                        shut_rd: false,
                        shut_wr: false,
                        connecting: options.nonblocking,
                    };
                }
                if options.nonblocking {
                    Call::Failed(Errno::EINPROGRESS)
                } else {
                    self.connect_result(fd, id)
                }
            }
            Kind::Listening { .. } => Call::Failed(Errno::EINVAL),
            Kind::Connection { id, connecting, .. } => {
                let facts = self.facts.get(&id).copied().unwrap_or_default();
                if connecting {
                    if facts.established {
                        self.set_connecting(fd, false);
                        return Call::Failed(Errno::EISCONN);
                    }
                    if let Some(e) = self.take_error(id) {
                        self.set_connecting(fd, false);
                        return Call::Failed(e);
                    }
                    return Call::Failed(Errno::EALREADY);
                }
                if facts.established {
                    Call::Failed(Errno::EISCONN)
                } else {
                    self.connect_result(fd, id)
                }
            }
        }
    }

    fn set_connecting(&mut self, fd: i32, on: bool) {
        if let Some(Socket {
            kind: Kind::Connection { connecting, .. },
            ..
        }) = self.fds.get_mut(&fd)
        {
            *connecting = on;
        }
    }

    /// A blocking `connect`'s result once the handshake is over.
    fn connect_result(&mut self, _fd: i32, id: ConnId) -> Call {
        if self.facts.get(&id).is_some_and(|f| f.established) {
            return Call::Done(0);
        }
        if let Some(e) = self.take_error(id) {
            return Call::Failed(e);
        }
        Call::Blocked
    }

    /// A blocking `connect` still waiting: its result now, or still blocked.
    pub fn connect_again(&mut self, fd: i32) -> Call {
        match self.connection(fd) {
            Ok(id) => self.connect_result(fd, id),
            Err(e) => Call::Failed(e),
        }
    }

    fn take_error(&mut self, id: ConnId) -> Option<Errno> {
        self.facts.get_mut(&id).and_then(|f| f.error.take())
    }

    /// `getsockopt(SO_ERROR)`: the pending error, cleared by reading it.
    pub fn so_error(&mut self, fd: i32) -> Result<i64, Errno> {
        match self.fds.get(&fd).map(|s| &s.kind) {
            None => Err(Errno::EBADF),
            Some(Kind::Connection { id, .. }) => {
                let id = *id;
                self.set_connecting(fd, false);
                Ok(self.take_error(id).map_or(0, Errno::code))
            }
            Some(_) => Ok(0),
        }
    }

    /// `write(fd, len)` / `send`: queues `len` octets (the script's buffer
    /// content does not matter; zeros are sent). When the send buffer
    /// ([`tcpsim_tcp::Config::send_buffer`]) takes less, a non-blocking
    /// socket returns the count, or `EAGAIN` for none; a blocking one
    /// blocks and goes on each time TCP reports room ([`Sockets::write_again`]),
    /// returning `len` once all is taken (Linux `tcp_sendmsg_locked` with
    /// `sk_stream_wait_memory`).
    pub fn write(&mut self, fd: i32, len: usize) -> Call {
        let id = match self.connection(fd) {
            Ok(id) => id,
            Err(e) => return Call::Failed(e),
        };
        if let Some(e) = self.write_error(fd, id) {
            return Call::Failed(e);
        }
        let nonblocking = self.options(fd).is_ok_and(|o| o.nonblocking);
        let state = self.endpoint.state(id);
        if matches!(state, State::SynSent | State::SynReceived) {
            return if nonblocking {
                Call::Failed(Errno::EAGAIN)
            } else {
                Call::Blocked
            };
        }
        if let Some(f) = self.facts.get_mut(&id) {
            f.writable = false;
        }
        let n = match self.send(id, len) {
            Ok(n) => n,
            Err(e) => return Call::Failed(e),
        };
        match (n, nonblocking) {
            _ if n == len => Call::Done(len as i64),
            (0, true) => Call::Failed(Errno::EAGAIN),
            (n, true) => Call::Done(n as i64),
            (n, false) => {
                self.writing.insert(fd, n);
                Call::Blocked
            }
        }
    }

    /// A blocked `write(fd, len)` tried again: once TCP has reported room,
    /// it takes what fits of the rest; it returns `len` when all is taken,
    /// or, if the connection fails meanwhile, the count taken (an error
    /// when none was).
    pub fn write_again(&mut self, fd: i32, len: usize) -> Call {
        let Some(&taken) = self.writing.get(&fd) else {
            return self.write(fd, len);
        };
        let failed = match self.connection(fd) {
            Err(e) => Err(e),
            Ok(id) => match self.write_error(fd, id) {
                Some(e) => Err(e),
                None => Ok(id),
            },
        };
        let id = match failed {
            Ok(id) => id,
            Err(e) => {
                self.writing.remove(&fd);
                return if taken > 0 {
                    Call::Done(taken as i64)
                } else {
                    Call::Failed(e)
                };
            }
        };
        let facts = self.facts.entry(id).or_default();
        if !facts.writable {
            return Call::Blocked;
        }
        facts.writable = false;
        let taken = taken + self.send(id, len - taken).unwrap_or(0);
        if taken == len {
            self.writing.remove(&fd);
            Call::Done(len as i64)
        } else {
            self.writing.insert(fd, taken);
            Call::Blocked
        }
    }

    /// Why a write on `fd` fails now, if it does.
    fn write_error(&mut self, fd: i32, id: ConnId) -> Option<Errno> {
        if let Some(Socket {
            kind: Kind::Connection { shut_wr: true, .. },
            ..
        }) = self.fds.get(&fd)
        {
            return Some(Errno::EPIPE);
        }
        if let Some(e) = self.take_error(id) {
            return Some(e);
        }
        self.facts.get(&id).and_then(|f| f.broken)
    }

    /// Offers `len` zeros to TCP; returns how many it took.
    fn send(&mut self, id: ConnId, len: usize) -> Result<usize, Errno> {
        let data = vec![0u8; len];
        let r = self.endpoint.send(self.now, id, &data);
        self.collect();
        r.map_err(|e| match e {
            tcpsim_tcp::CommandError::Closing | tcpsim_tcp::CommandError::NotConnected => {
                Errno::EPIPE
            }
        })
    }

    /// `setsockopt(SO_SNDBUF)`, with the size the kernel makes of the
    /// value: on a connection at once (a larger size may wake a blocked
    /// writer), on a listener for the connections it accepts, on a fresh
    /// socket for its connection.
    pub fn set_send_buffer(&mut self, fd: i32, size: u32) -> Call {
        let options = match self.options_mut(fd) {
            Ok(o) => o,
            Err(e) => return Call::Failed(e),
        };
        options.send_buffer = Some(size);
        if let Some(Socket {
            kind: Kind::Connection { id, .. },
            ..
        }) = self.fds.get(&fd)
        {
            let id = *id;
            self.endpoint.set_send_buffer(id, Some(size));
            self.collect();
        } else {
            self.options_changed(fd);
        }
        Call::Done(0)
    }

    /// `getsockopt(SO_SNDBUF)`: the connection's send-buffer size, else
    /// what the socket's connections will get. An unbounded buffer (the
    /// `rfc` profile) reads as `INT_MAX`.
    pub fn send_buffer(&self, fd: i32) -> Result<i64, Errno> {
        let options = self.options(fd)?;
        let size = match self.connection_of(fd) {
            Ok(c) => c.send_buffer(),
            Err(_) => options.send_buffer.or(self.endpoint.config().send_buffer),
        };
        Ok(size.map_or(i64::from(i32::MAX), i64::from))
    }

    /// `read(fd, len)` / `recv`: up to `len` octets; 0 at end of stream.
    pub fn read(&mut self, fd: i32, len: usize) -> Call {
        let id = match self.connection(fd) {
            Ok(id) => id,
            Err(e) => return Call::Failed(e),
        };
        let shut_rd = matches!(
            self.fds.get(&fd),
            Some(Socket {
                kind: Kind::Connection { shut_rd: true, .. },
                ..
            })
        );
        let (readable, eof) = match self.endpoint.connection(id) {
            Some(c) => (c.readable(), c.is_eof()),
            None => (0, false),
        };
        if readable > 0 {
            let mut buf = vec![0u8; len.min(readable)];
            let n = self.endpoint.recv(id, &mut buf);
            self.collect();
            return Call::Done(n as i64);
        }
        // End of stream comes before a pending error (Linux
        // tcp_recvmsg_locked checks SOCK_DONE before sk_err).
        let eof = eof || self.facts.get(&id).is_some_and(|f| f.eof);
        if eof || shut_rd {
            return Call::Done(0);
        }
        if let Some(e) = self.take_error(id) {
            return Call::Failed(e);
        }
        if self.facts.get(&id).is_some_and(|f| f.broken.is_some())
            || self.endpoint.connection(id).is_none()
        {
            // Reset (the error reported once) or gone: the receive side is
            // shut down.
            return Call::Done(0);
        }
        if self.options(fd).is_ok_and(|o| o.nonblocking) {
            Call::Failed(Errno::EAGAIN)
        } else {
            Call::Blocked
        }
    }

    /// `shutdown(fd, how)`: `read` for `SHUT_RD`, `write` for `SHUT_WR`.
    pub fn shutdown(&mut self, fd: i32, read: bool, write: bool) -> Call {
        let id = match self.connection(fd) {
            Ok(id) => id,
            Err(e) => return Call::Failed(e),
        };
        if !self.facts.get(&id).is_some_and(|f| f.established) {
            return Call::Failed(Errno::ENOTCONN);
        }
        if let Some(Socket {
            kind: Kind::Connection {
                shut_rd, shut_wr, ..
            },
            ..
        }) = self.fds.get_mut(&fd)
        {
            *shut_rd |= read;
            *shut_wr |= write;
        }
        if write {
            let _ = self.endpoint.shutdown(self.now, id);
            self.collect();
        }
        Call::Done(0)
    }

    /// `close(fd)`.
    pub fn close(&mut self, fd: i32) -> Call {
        let Some(socket) = self.fds.remove(&fd) else {
            return Call::Failed(Errno::EBADF);
        };
        let now = self.now;
        match socket.kind {
            Kind::Fresh { .. } => {}
            Kind::Listening { port, queue, .. } => {
                self.endpoint.unlisten(port);
                // Connections never accepted are reset (Linux
                // `inet_csk_listen_stop`).
                for id in queue {
                    self.endpoint.abort(now, id);
                }
            }
            Kind::Connection { id, .. } => {
                if socket.options.linger == Some(0) {
                    self.endpoint.abort(now, id);
                } else {
                    self.endpoint.close(now, id);
                }
            }
        }
        self.collect();
        Call::Done(0)
    }

    /// The connection behind a descriptor, for `TCP_INFO` and the like.
    pub fn connection_of(&self, fd: i32) -> Result<&tcpsim_tcp::Connection, Errno> {
        let id = self.connection(fd)?;
        self.endpoint.connection(id).ok_or(Errno::ENOTCONN)
    }

    /// Whether `fd` is a listening socket.
    pub fn is_listening(&self, fd: i32) -> bool {
        matches!(
            self.fds.get(&fd),
            Some(Socket {
                kind: Kind::Listening { .. },
                ..
            })
        )
    }

    /// What `poll` reports of a descriptor, as Linux's `tcp_poll` (and
    /// `inet_csk_listen_poll`) computes it: the `POLL*` bits of [`poll`].
    pub fn poll_mask(&self, fd: i32) -> u32 {
        use poll::*;
        let Some(socket) = self.fds.get(&fd) else {
            return POLLNVAL;
        };
        match &socket.kind {
            // An unconnected socket is CLOSED with nothing shut down:
            // hang-up, and (nothing queued) writable.
            Kind::Fresh { .. } => POLLOUT | POLLWRNORM | POLLHUP,
            Kind::Listening { queue, .. } if queue.is_empty() => 0,
            Kind::Listening { .. } => POLLIN | POLLRDNORM,
            Kind::Connection {
                id,
                shut_rd,
                shut_wr,
                ..
            } => {
                let facts = self.facts.get(id).copied().unwrap_or_default();
                let conn = self.endpoint.connection(*id);
                let state = conn.map_or(State::Closed, |c| c.state());
                let closed = state == State::Closed;
                // tcp_fin and tcp_done shut the receive side; tcp_done and
                // shutdown(SHUT_WR) the send side.
                let rcv_shutdown = *shut_rd || facts.eof || closed;
                let send_shutdown = *shut_wr || closed;
                let mut mask = 0;
                if (rcv_shutdown && send_shutdown) || closed {
                    mask |= POLLHUP;
                }
                if rcv_shutdown {
                    mask |= POLLIN | POLLRDNORM | POLLRDHUP;
                }
                if !matches!(state, State::SynSent | State::SynReceived) {
                    if conn.is_some_and(|c| c.readable() > 0) {
                        mask |= POLLIN | POLLRDNORM;
                    }
                    // Room in the send buffer (as the writer's wake-up).
                    if send_shutdown || conn.is_none_or(|c| c.is_writable()) {
                        mask |= POLLOUT | POLLWRNORM;
                    }
                }
                if facts.error.is_some() {
                    mask |= POLLERR;
                }
                mask
            }
        }
    }
}

/// The `poll` event bits (Linux `asm-generic/poll.h`).
pub mod poll {
    /// Data to read (or end of stream).
    pub const POLLIN: u32 = 0x0001;
    /// Urgent data.
    pub const POLLPRI: u32 = 0x0002;
    /// Room to write.
    pub const POLLOUT: u32 = 0x0004;
    /// An error is pending.
    pub const POLLERR: u32 = 0x0008;
    /// Hang-up: both directions shut down, or the connection is gone.
    pub const POLLHUP: u32 = 0x0010;
    /// Not an open descriptor.
    pub const POLLNVAL: u32 = 0x0020;
    /// Normal data to read.
    pub const POLLRDNORM: u32 = 0x0040;
    /// Priority data to read.
    pub const POLLRDBAND: u32 = 0x0080;
    /// Room for normal data.
    pub const POLLWRNORM: u32 = 0x0100;
    /// Room for priority data.
    pub const POLLWRBAND: u32 = 0x0200;
    /// The peer shut down its sending side.
    pub const POLLRDHUP: u32 = 0x2000;
}

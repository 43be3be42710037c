//! From an [`Experiment`] to a ready-to-run [`tcpsim_net::Sim`].

use std::sync::Arc;

use tcpsim_net::{Blueprint, BuildError, EndApp, FaultRule, OpenMode, Sim, SimBuilder, Workload};
use tcpsim_tcp::{Config, Instant, Nagle, RecvMemory, SegmentKind};

use crate::experiment::{ConnectionSpec, Experiment, SocketSpec};
use crate::script::sysctl::{DEFAULT_RMEM_MAX, DEFAULT_WMEM_MAX, so_rcvbuf, so_sndbuf};

/// What a run keeps besides the connection reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keep {
    /// The event trace (timeline, JSON events, `retransmit_at`).
    pub trace: bool,
    /// The pcap capture.
    pub pcap: bool,
    /// Each connection's state path (`states` expectations).
    pub paths: bool,
}

impl Keep {
    /// Everything: what `run` and `check` use.
    pub const ALL: Keep = Keep {
        trace: true,
        pcap: false,
        paths: true,
    };

    /// Only what evaluating `exp`'s expectations needs: what a sweep keeps,
    /// and `run --quiet` when it prints no event.
    pub fn for_expectations(exp: &Experiment) -> Keep {
        Keep {
            trace: crate::evaluate::needs_trace(exp),
            pcap: false,
            paths: crate::evaluate::needs_paths(exp),
        }
    }
}

/// The connections after `count` expansion, as the engine runs them:
/// connection `i` of a spec with `count` and `interval` opens (and, with
/// `close_at`, closes) `i × interval` later than the first.
pub fn workloads(exp: &Experiment) -> Vec<Workload> {
    let mut out = Vec::new();
    for c in &exp.connections {
        for i in 0..u64::from(c.count) {
            let shift = c.interval.saturating_mul(i);
            out.push(Workload {
                client: c.client,
                server: c.server,
                port: c.port,
                open_at: Instant::ZERO + c.open_at + shift,
                open: c.open,
                client_port: c.client_port,
                client_sends: c.client_sends,
                server_sends: c.server_sends,
                close: c.close,
                close_at: c.close_at.map(|t| Instant::ZERO + t + shift),
            });
        }
    }
    out
}

/// Builds the simulation of `exp` with `seed`.
pub fn build(exp: &Experiment, seed: u64, keep: Keep) -> Result<Sim, BuildError> {
    Ok(blueprint(exp, keep)?.sim(seed))
}

/// Checks `exp` and prepares its simulation for any seed: what a sweep
/// does once per grid point before running every seed.
///
/// The experiment's host ids are the engine's: hosts are added in file
/// order, so host `i` of `exp.hosts` is the engine's host `i`. A parsed
/// experiment only holds ids of its hosts; one built by hand with another
/// id gets [`BuildError::UnknownHost`].
pub fn blueprint(exp: &Experiment, keep: Keep) -> Result<Blueprint, BuildError> {
    let mut b = SimBuilder::new(exp.seed);
    b.duration(exp.duration)
        .trace(keep.trace)
        .pcap(keep.pcap)
        .state_paths(keep.paths);
    for (id, h) in exp.hosts.iter().enumerate() {
        let host = b.host(&h.name, h.addr, exp.host_config(h));
        debug_assert_eq!(
            host, id,
            "the engine numbers hosts in the order they are added"
        );
        for port in &h.listen {
            b.listen(host, *port);
        }
        b.ephemeral_ports(host, h.ephemeral_ports.0, h.ephemeral_ports.1);
    }
    for l in &exp.links {
        b.link(l.a, l.b, l.a_to_b.clone(), l.b_to_a.clone());
    }
    for rule in fault_rules(exp) {
        b.fault(rule);
    }
    let mut all = workloads(exp).into_iter();
    for c in &exp.connections {
        let ends = end_apps(exp, c);
        let listener = ends.as_ref().and_then(|e| e[1].config.as_ref());
        if let (Some(config), OpenMode::Active) = (listener, c.open) {
            // Options set on the listening socket, which its connections inherit.
            b.listen_with(c.server, c.port, Arc::clone(config));
        }
        for w in all.by_ref().take(c.count as usize) {
            match &ends {
                Some(ends) => b.connection_with(w, Arc::clone(ends)),
                None => b.connection(w),
            };
        }
    }
    b.blueprint()
}

/// The file's `[[faults]]` as the engine's rules, in file order (a rule for
/// every kind matches by no kind at all).
pub fn fault_rules(exp: &Experiment) -> impl Iterator<Item = FaultRule> + '_ {
    exp.faults.iter().map(|f| FaultRule {
        action: f.action,
        from: f.from,
        to: f.to,
        kinds: if f.segment.len() == SegmentKind::ALL.len() {
            Vec::new()
        } else {
            f.segment.clone()
        },
        nth: f.nth.clone(),
        start: f.start.map(|t| Instant::ZERO + t),
        end: f.end.map(|t| Instant::ZERO + t),
    })
}

/// The step lists and socket configurations of `c`'s ends, client first;
/// `None` when both ends are the shorthand's on their hosts' sockets.
fn end_apps(exp: &Experiment, c: &ConnectionSpec) -> Option<Arc<[EndApp; 2]>> {
    let end = |host, steps: &Option<Vec<tcpsim_net::Step>>, socket: &SocketSpec| EndApp {
        steps: steps.as_deref().map(Arc::from),
        // An id with no host is the builder's error to report.
        config: exp
            .hosts
            .get(host)
            .and_then(|h| socket_config(&exp.host_config(h), socket))
            .map(Arc::new),
        linger: socket.linger,
    };
    let ends = [
        end(c.client, &c.client_app, &c.client_socket),
        end(c.server, &c.server_app, &c.server_socket),
    ];
    ends.iter().any(|e| !e.is_plain()).then(|| Arc::new(ends))
}

/// A host's configuration `base` with an end's socket options applied, as
/// Linux applies them: `mss` is `TCP_MAXSEG` (the smaller of it and the
/// host's MSS), `recv_buffer` and `send_buffer` are the values passed to
/// `SO_RCVBUF` / `SO_SNDBUF` — which Linux doubles and bounds (`rmem_max`,
/// `wmem_max` of 4 MiB, at least 2304 / 4608), and which lock the buffer
/// at that size — while the `rfc` profile, which counts buffers in octets,
/// takes them as they are; `nodelay` turns Nagle's algorithm off,
/// `user_timeout` is `TCP_USER_TIMEOUT`. `None` when no option changes
/// TCP (`linger` only changes what a close does).
pub fn socket_config(base: &Config, s: &SocketSpec) -> Option<Config> {
    let SocketSpec {
        mss,
        recv_buffer,
        send_buffer,
        nodelay,
        user_timeout,
        linger: _,
    } = *s;
    if mss.is_none()
        && recv_buffer.is_none()
        && send_buffer.is_none()
        && nodelay.is_none()
        && user_timeout.is_none()
    {
        return None;
    }
    let linux = base.recv_memory == RecvMemory::Linux;
    let mut c = *base;
    if let Some(m) = mss {
        c.mss = m.min(base.mss);
    }
    if let Some(bytes) = recv_buffer {
        c.recv_buffer = if linux {
            so_rcvbuf(i64::from(bytes), DEFAULT_RMEM_MAX)
        } else {
            bytes
        };
        c.recv_buffer_locked = true;
    }
    if let Some(bytes) = send_buffer {
        c.send_buffer = Some(if linux {
            so_sndbuf(i64::from(bytes), DEFAULT_WMEM_MAX)
        } else {
            bytes
        });
        // SO_SNDBUF locks the size (`SOCK_SNDBUF_LOCK`).
        c.send_buffer_max = None;
    }
    if nodelay == Some(true) {
        c.nagle = Nagle::Off;
    }
    if user_timeout.is_some() {
        c.user_timeout = user_timeout;
    }
    Some(c)
}

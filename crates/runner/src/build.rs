//! From an [`Experiment`] to a ready-to-run [`tcpsim_net::Sim`].

use tcpsim_net::{Blueprint, BuildError, FaultRule, Sim, SimBuilder, Workload};
use tcpsim_tcp::{Instant, SegmentKind};

use crate::experiment::Experiment;

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
    for f in &exp.faults {
        b.fault(FaultRule {
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
        });
    }
    for w in workloads(exp) {
        b.connection(w);
    }
    b.blueprint()
}

//! A simulation: the engine ([`crate::engine`]) and the applications that
//! run on its hosts ([`crate::apps`]), stepped together.
//!
//! Each step processes one event of the engine — a delivery, a TCP timer,
//! an application's timer — and then lets the applications react to the
//! TCP events it caused, in the order they happened, each reaction at the
//! same virtual instant and after the host has processed its input; a
//! reaction's own commands may cause more events, which are handled in
//! turn until none is left.

use std::net::Ipv4Addr;
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use tcpsim_tcp::Instant;

use crate::app::{AppId, Application};
use crate::apps::sockets::Sockets;
use crate::apps::workload::{WORKLOAD, WorkloadApp};
use crate::engine::{ConnRecord, Engine, Listener, Network, RunOptions, StopReason, Topology};
use crate::report::{ConnReport, conn_report};
use crate::trace::{HostId, TraceRecord};
use crate::workload::Plan;

/// Everything a finished run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// When the run stopped.
    pub end: Instant,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Events processed.
    pub events: u64,
    /// One report per connection, in experiment order.
    pub connections: Vec<ConnReport>,
    /// The trace, if the run kept one.
    pub trace: Option<Vec<TraceRecord>>,
    /// The capture, if the run kept one.
    pub pcap: Option<Vec<u8>>,
    /// Host names, by host id (shared by every run of one blueprint).
    pub host_names: Arc<[String]>,
    /// Host addresses, by host id.
    pub host_addrs: Arc<[Ipv4Addr]>,
}

impl RunResult {
    /// The host with address `ip`, if one has it.
    pub fn host_at(&self, ip: Ipv4Addr) -> Option<HostId> {
        self.host_addrs.iter().position(|a| *a == ip)
    }

    /// The name of the host with address `ip`, or the address itself.
    pub fn host_label(&self, ip: Ipv4Addr) -> String {
        self.host_at(ip)
            .and_then(|h| self.host_names.get(h).cloned())
            .unwrap_or_else(|| ip.to_string())
    }
}

/// The applications of a simulation, by [`AppId`].
#[derive(Debug, Default)]
pub(crate) struct Apps {
    pub(crate) workload: WorkloadApp,
    pub(crate) sockets: Sockets,
}

impl Apps {
    fn get(&mut self, app: AppId) -> &mut dyn Application {
        match app {
            WORKLOAD => &mut self.workload,
            _ => &mut self.sockets, // SOCKETS
        }
    }

    fn get_ref(&self, app: AppId) -> &dyn Application {
        match app {
            WORKLOAD => &self.workload,
            _ => &self.sockets, // SOCKETS
        }
    }

    /// Lets the owners react to the TCP events waiting, oldest first, until
    /// none is left.
    fn react(&mut self, engine: &mut Engine) {
        while let Some(ev) = engine.next_app_event() {
            self.get(ev.owner).on_event(engine, ev);
        }
    }
}

/// A simulation ready to run; built by [`crate::SimBuilder`].
pub struct Sim {
    pub(crate) engine: Engine,
    pub(crate) apps: Apps,
}

impl Sim {
    pub(crate) fn new(
        net: Network,
        listeners: &[Listener],
        plan: &Plan,
        options: RunOptions,
    ) -> Sim {
        let mut engine = Engine::new(net, listeners, options);
        let mut apps = Apps::default();
        apps.workload.start(plan.clone(), &mut engine);
        Sim { engine, apps }
    }

    /// Starts over for another seed, keeping every buffer; see
    /// [`Engine::reset`].
    pub(crate) fn reset(
        &mut self,
        host_rngs: impl Iterator<Item = ChaCha8Rng>,
        link_rngs: impl Iterator<Item = Option<ChaCha8Rng>>,
        fault_rng: Option<ChaCha8Rng>,
        (listeners, plan): (&[Listener], &Plan),
        options: RunOptions,
    ) {
        self.engine
            .reset(host_rngs, link_rngs, fault_rng, listeners, options);
        self.apps.sockets = Sockets::default();
        self.apps.workload.start(plan.clone(), &mut self.engine);
    }

    /// Whether this simulation was made from the blueprint with `topo`.
    pub(crate) fn has_topology(&self, topo: &Arc<Topology>) -> bool {
        self.engine.has_topology(topo)
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.engine.now
    }

    /// A host's name.
    pub fn host_name(&self, host: HostId) -> &str {
        &self.engine.topo.names[host]
    }

    /// The host with this name.
    pub(crate) fn host_id(&self, name: &str) -> Option<HostId> {
        self.engine.topo.host_named(name)
    }

    /// Runs `f` on the async sockets, then lets the applications react to
    /// what it caused.
    pub(crate) fn with_sockets<R>(&mut self, f: impl FnOnce(&mut Sockets, &mut Engine) -> R) -> R {
        let r = f(&mut self.apps.sockets, &mut self.engine);
        self.apps.react(&mut self.engine);
        r
    }

    /// Runs until nothing is left, or a bound is reached.
    pub fn run(mut self) -> RunResult {
        let stop = loop {
            if let Some(stop) = self.step() {
                break stop;
            }
        };
        self.finish(stop)
    }

    /// [`Sim::run`], leaving the simulation's buffers in place for
    /// [`Sim::reset`].
    pub(crate) fn run_in_place(&mut self) -> RunResult {
        let stop = loop {
            if let Some(stop) = self.step() {
                break stop;
            }
        };
        self.engine.take_live_stats();
        self.result(stop, true)
    }

    /// Processes the next event and the applications' reactions to it;
    /// `Some` once the run is over, with the reason.
    pub(crate) fn step(&mut self) -> Option<StopReason> {
        let Sim { engine, apps } = self;
        let action = match engine.next(|app, token| !apps.get_ref(app).timer_pending(token)) {
            Ok(action) => action,
            Err(stop) => return Some(stop),
        };
        match action {
            crate::engine::Action::App { app, token } => apps.get(app).on_timer(engine, token),
            other => {
                engine.dispatch(other);
                // Segments arriving at this instant reach TCP before any
                // application reacts to one of them (SPEC §4 "Order").
                while let Some(more) = engine.next_delivery_now() {
                    engine.dispatch(more);
                }
            }
        }
        apps.react(engine);
        None
    }

    /// The result, with the network's memory freed first.
    pub(crate) fn finish(mut self, stop: StopReason) -> RunResult {
        self.engine.take_live_stats();
        self.engine.free_network();
        self.result(stop, false)
    }

    /// What the run produced; `keep` keeps the connection table's memory
    /// for the next run.
    fn result(&mut self, stop: StopReason, keep: bool) -> RunResult {
        let end = self.engine.now;
        let apps = &self.apps;
        let report = |(i, record): (usize, ConnRecord)| {
            let workload = apps.get_ref(record.owner).describe(i as u32, &record);
            conn_report(i as u32, workload, record, end)
        };
        let connections = if keep {
            self.engine.conns.drain().enumerate().map(report).collect()
        } else {
            self.engine
                .conns
                .take()
                .into_iter()
                .enumerate()
                .map(report)
                .collect()
        };
        let (trace, pcap) = self.engine.take_outputs();
        RunResult {
            end,
            stop_reason: stop,
            events: self.engine.events(),
            connections,
            trace,
            pcap,
            host_names: Arc::clone(&self.engine.topo.names),
            host_addrs: Arc::clone(&self.engine.topo.addrs),
        }
    }
}

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
use crate::capture::{Capture, CaptureError};
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
    /// The classic pcap capture, if the run kept one in memory
    /// ([`crate::SimBuilder::pcap`]).
    pub pcap: Option<Vec<u8>>,
    /// The first error of a capture's writer ([`crate::Capture`]), if one
    /// failed: the run stopped there ([`StopReason::Capture`]).
    pub capture_error: Option<CaptureError>,
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
        capture: Capture,
    ) -> Sim {
        let mut engine = Engine::new(net, listeners, options, capture);
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

    /// [`Sim::run`], handing each trace record to `sink` as the run goes
    /// instead of keeping the trace: the trace in memory is never more than
    /// what one step records (an event, the deliveries at the same instant
    /// and the applications' reactions), however long the run. The records
    /// reach `sink` in the order [`Sim::run`] would keep them, from the
    /// listeners and first connects made when the simulation was built to
    /// the last event; the result has no trace (`trace` is `None`).
    ///
    /// When the simulation keeps no trace ([`crate::SimBuilder::trace`]),
    /// `sink` is never called. The first error `sink` returns stops the
    /// run, and is returned.
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use tcpsim_net::{CloseMode, LinkParams, OpenMode, SimBuilder, Workload};
    /// use tcpsim_tcp::{Config, Instant};
    ///
    /// let sim = || {
    ///     let mut b = SimBuilder::new(7);
    ///     let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
    ///     let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
    ///     b.listen(server, 80);
    ///     b.link(client, server, LinkParams::default(), LinkParams::default());
    ///     b.connection(Workload {
    ///         client, server, port: 80, open_at: Instant::ZERO, open: OpenMode::Active,
    ///         client_port: None, client_sends: 1000, server_sends: 0,
    ///         close: CloseMode::ClientFirst, close_at: None,
    ///     });
    ///     b.build().unwrap()
    /// };
    /// let mut seen = Vec::new();
    /// let streamed = sim().run_to(|rec| {
    ///     seen.push(*rec);
    ///     Ok::<(), ()>(())
    /// });
    /// let kept = sim().run();
    /// assert!(streamed.unwrap().trace.is_none());
    /// assert_eq!(Some(seen), kept.trace);
    /// ```
    pub fn run_to<E>(
        mut self,
        mut sink: impl FnMut(&TraceRecord) -> Result<(), E>,
    ) -> Result<RunResult, E> {
        let stop = loop {
            self.engine.drain_trace(&mut sink)?;
            if let Some(stop) = self.step() {
                break stop;
            }
        };
        self.engine.drain_trace(&mut sink)?;
        let mut result = self.finish(stop);
        debug_assert!(
            result.trace.as_ref().is_none_or(Vec::is_empty),
            "nothing is traced after the last step"
        );
        result.trace = None;
        Ok(result)
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
        let (trace, pcap, capture_error) = self.engine.take_outputs();
        RunResult {
            end,
            stop_reason: stop,
            events: self.engine.events(),
            connections,
            trace,
            pcap,
            capture_error,
            host_names: Arc::clone(&self.engine.topo.names),
            host_addrs: Arc::clone(&self.engine.topo.addrs),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use tcpsim_tcp::{Config, Duration, Instant};

    use crate::link::{Distribution, Loss};
    use crate::{CloseMode, LinkParams, OpenMode, Outcome, SimBuilder, Workload};

    /// Loss, jitter, duplicates, corruption and reordering, twelve
    /// connections with data both ways, some at the same instants:
    /// deliveries and application reactions interleave within steps.
    fn noisy(trace: bool) -> SimBuilder {
        let mut b = SimBuilder::new(3);
        b.trace(trace);
        let client = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::linux());
        let server = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
        b.listen(server, 80);
        let link = LinkParams {
            delay: Duration::from_millis(5),
            jitter: Duration::from_millis(2),
            distribution: Distribution::Normal,
            loss: Loss::Bernoulli(0.05),
            duplicate: 0.02,
            corrupt: 0.02,
            reorder: 0.05,
            ..LinkParams::default()
        };
        b.link(client, server, link.clone(), link);
        for i in 0..12 {
            b.connection(Workload {
                client,
                server,
                port: 80,
                open_at: Instant::from_millis(i / 3),
                open: OpenMode::Active,
                client_port: None,
                client_sends: 20_000,
                server_sends: 7_000,
                close: CloseMode::ClientFirst,
                close_at: None,
            });
        }
        b
    }

    #[test]
    fn run_to_hands_over_the_trace_run_keeps() {
        let kept = noisy(true).build().unwrap().run();
        let mut seen = Vec::new();
        let streamed = noisy(true)
            .build()
            .unwrap()
            .run_to(|rec| {
                seen.push(*rec);
                Ok::<(), ()>(())
            })
            .unwrap();
        let trace = kept.trace.clone().unwrap();
        assert!(trace.len() > 1000, "{} records", trace.len());
        assert_eq!(seen, trace);
        assert_eq!(streamed.trace, None);
        assert_eq!(streamed.connections, kept.connections);
        assert_eq!(
            (streamed.end, streamed.stop_reason, streamed.events),
            (kept.end, kept.stop_reason, kept.events)
        );
        assert!(
            kept.connections
                .iter()
                .any(|c| c.outcome == Outcome::Closed)
        );
    }

    #[test]
    fn run_to_stops_at_the_first_error_and_calls_nothing_without_a_trace() {
        let mut calls = 0;
        let err = noisy(true).build().unwrap().run_to(|_| {
            calls += 1;
            if calls == 100 { Err(calls) } else { Ok(()) }
        });
        assert_eq!(err.unwrap_err(), 100);
        assert_eq!(calls, 100);

        let quiet = noisy(false)
            .build()
            .unwrap()
            .run_to(|_| Err("called"))
            .unwrap();
        assert_eq!(
            quiet.connections,
            noisy(false).build().unwrap().run().connections
        );
    }
}

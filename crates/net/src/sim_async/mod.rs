//! Async applications on simulated hosts: tokio sockets in virtual time.
//!
//! A [`Scenario`] runs futures ("tasks") on the hosts of a built [`Sim`],
//! on a current-thread tokio runtime. Tasks use [`TcpListener`] and
//! [`TcpStream`] (tokio's `AsyncRead`/`AsyncWrite`) over tcpsim's own TCP
//! and links, and the simulation's clock through [`time`].
//!
//! # How it stays deterministic
//!
//! The run alternates two phases on one thread. First every task that can
//! make progress runs, in the order it was woken (tokio's `LocalSet` is
//! FIFO), until a full pass of the scheduler polls no task. Then the engine
//! processes exactly one event — a delivery, a TCP timer, a sleep's end —
//! which may wake tasks, and the cycle repeats. Virtual time only moves in
//! the second phase, so a two-minute TIME-WAIT costs no wall time, and no
//! wall clock, OS randomness or thread timing can reach the result. A task's
//! calls act at once, at the current virtual instant, exactly like the
//! built-in workload's reactions, so an async scenario and the equivalent
//! experiment file give the same report byte for byte.
//!
//! # What a task must not do
//!
//! - Use tokio's own time (`tokio::time::sleep`, `interval`, `timeout`):
//!   it follows the wall clock, not the simulation. Use [`time::sleep`],
//!   [`time::timeout`] and [`time::now`].
//! - Spawn with `tokio::spawn`/`spawn_local`: use [`spawn`], which keeps the
//!   task on its host and visible to the scheduler's idle check.
//! - Use `tokio::select!` without `biased;` (its default branch order is
//!   random), threads, real sockets, files, or anything that blocks.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use tcpsim_net::{LinkParams, Scenario, SimBuilder, TcpListener, TcpStream};
//! use tcpsim_tcp::{Config, Duration, Instant};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let mut b = SimBuilder::new(1);
//! let c = b.host("client", Ipv4Addr::new(10, 0, 0, 1), Config::rfc());
//! let s = b.host("server", Ipv4Addr::new(10, 0, 0, 2), Config::rfc());
//! let link = LinkParams { delay: Duration::from_millis(50), ..LinkParams::default() };
//! b.link(c, s, link.clone(), link);
//! let mut scenario = Scenario::new(b.build().unwrap());
//! scenario.spawn("server", async {
//!     let listener = TcpListener::bind(80).await?;
//!     let (mut stream, _) = listener.accept().await?;
//!     let mut request = Vec::new();
//!     stream.read_to_end(&mut request).await?; // until the client's FIN
//!     stream.write_all(b"pong").await?;
//!     Ok(()) // dropping the stream closes it: FIN
//! }).unwrap();
//! scenario.spawn("client", async {
//!     let mut stream = TcpStream::connect(("server", 80)).await?;
//!     assert_eq!(tcpsim_net::time::now(), Instant::from_millis(100)); // one RTT
//!     stream.write_all(b"ping").await?;
//!     stream.shutdown().await?; // half-close: FIN, keep reading
//!     let mut reply = Vec::new();
//!     stream.read_to_end(&mut reply).await?;
//!     assert_eq!(reply, b"pong");
//!     Ok(())
//! }).unwrap();
//! let done = scenario.run();
//! assert!(done.tasks.iter().all(|t| t.result.is_ok()));
//! assert_eq!(done.run.connections[0].outcome, tcpsim_net::Outcome::Closed);
//! ```

mod net;
pub mod time;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

pub use net::{TcpListener, TcpStream, ToAddr};

use crate::sim::{RunResult, Sim};
use crate::trace::HostId;

thread_local! {
    static CURRENT: RefCell<Option<Rc<RefCell<Sim>>>> = const { RefCell::new(None) };
    static POLLS: Cell<u64> = const { Cell::new(0) };
}

tokio::task_local! {
    static HOST: HostId;
}

/// Runs `f` on the simulation of the running scenario.
///
/// # Panics
///
/// Outside [`Scenario::run`]: sockets and virtual time exist only there.
pub(crate) fn with_sim<R>(f: impl FnOnce(&mut Sim) -> R) -> R {
    let sim = CURRENT.with(|c| c.borrow().clone());
    let sim = sim.expect("tcpsim sockets and time work only inside Scenario::run");
    let mut sim = sim.borrow_mut();
    f(&mut sim)
}

/// Like [`with_sim`], but does nothing outside a run (or while the
/// simulation is already borrowed): for `Drop` implementations.
pub(crate) fn try_with_sim(f: impl FnOnce(&mut Sim)) {
    let sim = CURRENT.with(|c| c.borrow().clone());
    if let Some(sim) = sim {
        if let Ok(mut s) = sim.try_borrow_mut() {
            f(&mut s);
        }
    }
}

/// The host the current task runs on.
pub(crate) fn current_host() -> io::Result<HostId> {
    HOST.try_with(|h| *h).map_err(|_| {
        io::Error::other(
            "not inside a tcpsim task: spawn it with Scenario::spawn or tcpsim_net::spawn",
        )
    })
}

/// A future that counts its polls, so the driver can tell when every task
/// is waiting.
struct Counted<F: ?Sized> {
    inner: Pin<Box<F>>,
}

impl<F: Future + ?Sized> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        POLLS.with(|p| p.set(p.get() + 1));
        self.inner.as_mut().poll(cx)
    }
}

/// Spawns a task on the current task's host.
///
/// # Panics
///
/// Outside a task of a running [`Scenario`].
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let host = HOST.with(|h| *h);
    tokio::task::spawn_local(HOST.scope(
        host,
        Counted {
            inner: Box::pin(fut),
        },
    ))
}

/// A host name that is not in the simulation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no host named {0:?}")]
pub struct UnknownHost(pub String);

type Task = Pin<Box<dyn Future<Output = io::Result<()>>>>;

/// A simulation with async tasks on its hosts.
pub struct Scenario {
    sim: Sim,
    tasks: Vec<(HostId, Task)>,
}

/// How a task ended.
#[derive(Debug)]
pub struct TaskResult {
    /// The host it ran on.
    pub host: String,
    /// What it returned; an error of kind `WouldBlock` if it was still
    /// waiting when the run ended (nothing left could wake it).
    pub result: io::Result<()>,
}

/// Everything a scenario produced.
#[derive(Debug)]
pub struct ScenarioResult {
    /// The run: connections, trace, capture — as for an experiment file.
    pub run: RunResult,
    /// One result per task spawned with [`Scenario::spawn`], in spawn order.
    pub tasks: Vec<TaskResult>,
}

impl Scenario {
    /// Wraps a built simulation. Its `[[connections]]`-style workloads, if
    /// any, run alongside the tasks.
    pub fn new(sim: Sim) -> Scenario {
        Scenario {
            sim,
            tasks: Vec::new(),
        }
    }

    /// Adds a task on `host`; tasks start at time zero, in the order added.
    pub fn spawn<F>(&mut self, host: &str, fut: F) -> Result<&mut Self, UnknownHost>
    where
        F: Future<Output = io::Result<()>> + 'static,
    {
        let h = self
            .sim
            .host_id(host)
            .ok_or_else(|| UnknownHost(host.to_owned()))?;
        self.tasks.push((h, Box::pin(fut)));
        Ok(self)
    }

    /// Runs the tasks and the simulation until nothing is left to happen or
    /// a bound is reached.
    pub fn run(self) -> ScenarioResult {
        let names: Vec<String> = self
            .tasks
            .iter()
            .map(|(h, _)| self.sim.host_name(*h).to_owned())
            .collect();
        let sim = Rc::new(RefCell::new(self.sim));
        let previous = CURRENT.with(|c| c.replace(Some(sim.clone())));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread tokio runtime without drivers always builds");
        let local = tokio::task::LocalSet::new();
        let handles: Vec<_> = self
            .tasks
            .into_iter()
            .map(|(h, fut)| local.spawn_local(HOST.scope(h, Counted { inner: fut })))
            .collect();
        let stop = local.block_on(&runtime, async {
            loop {
                // Phase 1: every runnable task runs until none is left.
                loop {
                    let before = POLLS.with(Cell::get);
                    tokio::task::yield_now().await;
                    if POLLS.with(Cell::get) == before {
                        break;
                    }
                }
                // Phase 2: one event of the simulation.
                if let Some(stop) = sim.borrow_mut().step() {
                    break stop;
                }
            }
        });
        let tasks = handles
            .into_iter()
            .zip(names)
            .map(|(h, host)| {
                let result = if h.is_finished() {
                    match runtime.block_on(h) {
                        Ok(r) => r,
                        Err(e) => Err(io::Error::other(format!("task failed: {e}"))),
                    }
                } else {
                    h.abort();
                    Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "still waiting when the run ended",
                    ))
                };
                TaskResult { host, result }
            })
            .collect();
        // Unfinished tasks (and their sockets) are dropped here; the run is
        // over, so dropping a socket changes nothing.
        drop(local);
        drop(runtime);
        CURRENT.with(|c| c.replace(previous));
        let sim = match Rc::try_unwrap(sim) {
            Ok(cell) => cell.into_inner(),
            Err(_) => unreachable!("every task holding the simulation was dropped"),
        };
        ScenarioResult {
            run: sim.finish(stop),
            tasks,
        }
    }
}

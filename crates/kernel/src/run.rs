//! One kernel run (a "try"): the lab, the emulator and the applications,
//! started together and stopped at the deadline.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use socket2::{SockAddr, Socket};
use tcpsim_net::OpenMode;
use tcpsim_runner::kernel_diff::Packet;

use crate::apps::{Clock, End, Note, Notes, SocketOptions, socket};
use crate::emulator::{Emulator, Timing};
use crate::jiffies::{self, JiffyClock};
use crate::lab::{Lab, in_netns};
use crate::plan::Plan;
use crate::sys;

/// Time between setting everything up and virtual time zero, so that every
/// thread is waiting when the clock starts.
const LEAD: StdDuration = StdDuration::from_millis(30);

/// Between the starts of two tries run side by side where the kernel's
/// ticks are unknown: not a multiple of a jiffy (4 ms at HZ = 250), so
/// that the tries sample the rounding of the kernel's timers.
const STAGGER: StdDuration = StdDuration::from_millis(7);

/// When the tries start.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Starts {
    /// Just after jiffies equal to `residue` modulo [`jiffies::ALIGN`], the
    /// first at `first_ns` (monotonic), each try that many jiffies after
    /// the one before: every try rounds its timers as the simulation does.
    Aligned {
        clock: JiffyClock,
        residue: u64,
        into_ns: u64,
        first_ns: u64,
    },
    /// From `base`, [`STAGGER`] apart.
    Staggered { base: StdInstant },
}

impl Starts {
    /// Starts at least `setup` from now where the simulation's time zero
    /// is on the kernel's tick clock, `origin_ns` (the simulation's
    /// `tcp.tick_clock_at_zero`): on jiffies equal to its jiffy modulo
    /// [`jiffies::ALIGN`], as far into them, where the clock is known.
    pub(crate) fn new(clock: Option<JiffyClock>, origin_ns: u64, setup: StdDuration) -> Starts {
        match clock {
            Some(clock) => {
                let residue = origin_ns / clock.tick_ns % jiffies::ALIGN;
                let into_ns = origin_ns % clock.tick_ns;
                let after = sys::monotonic_ns() + setup.as_nanos() as u64;
                Starts::Aligned {
                    clock,
                    residue,
                    into_ns,
                    first_ns: clock.aligned_start(after, residue, into_ns),
                }
            }
            None => Starts::Staggered {
                base: StdInstant::now() + setup,
            },
        }
    }

    /// Try `t`'s start, or — where its setup took longer than planned —
    /// the first start at least [`LEAD`] from now.
    fn start(&self, t: usize) -> StdInstant {
        match *self {
            Starts::Aligned {
                clock,
                residue,
                into_ns,
                first_ns,
            } => {
                let planned = first_ns + clock.align_span().as_nanos() as u64 * t as u64;
                let soonest = sys::monotonic_ns() + LEAD.as_nanos() as u64;
                jiffies::instant_at(clock.aligned_start(planned.max(soonest), residue, into_ns))
            }
            Starts::Staggered { base } => (base + STAGGER * t as u32).max(StdInstant::now() + LEAD),
        }
    }
}

/// How long the applications go on after the emulator has stopped, so that
/// no socket closes at the deadline while its packets are still recorded.
const GRACE: StdDuration = StdDuration::from_millis(100);

/// What one try saw.
#[derive(Debug)]
pub struct KernelRun {
    /// Every packet a kernel sent, with its time since virtual time zero.
    pub packets: Vec<Packet>,
    /// The emulator's timing.
    pub timing: Timing,
    /// What the applications saw, in time order.
    pub notes: Vec<Note>,
}

/// Runs `plan` once against the kernel, for `length` of time, from this
/// try's start.
pub(crate) fn run(
    plan: &Plan,
    try_index: usize,
    starts: Starts,
    length: StdDuration,
) -> Result<KernelRun, String> {
    let (lab, ends) = Lab::new(try_index, &plan.hosts, &plan.links)?;
    let models = plan
        .models
        .iter()
        .map(|(a, b, m)| (*a, *b, m.clone()))
        .collect();
    let emulator = Emulator::new(ends, models, plan.faults.clone(), plan.fault_rng())?;

    // The listening sockets, before the clock starts.
    let mut listeners: BTreeMap<(usize, u16), Socket> = BTreeMap::new();
    for (host, port, opts) in &plan.listeners {
        let (opts, addr) = (
            opts.clone(),
            SocketAddrV4::new(plan.hosts[*host].addr, *port),
        );
        let s = in_netns(lab.netns(*host), move || listener(&opts, addr))?;
        listeners.insert((*host, *port), s);
    }
    // The connecting sockets, bound to their simulated ports.
    let mut connecting = Vec::new();
    for (i, c) in plan.conns.iter().enumerate() {
        let mut sides = vec![0];
        if c.open == OpenMode::Simultaneous {
            sides.push(1);
        }
        for side in sides {
            let (opts, addr, reuse) = (c.options[side].clone(), c.addrs[side], c.reuse);
            let s = in_netns(lab.netns(c.hosts[side]), move || bound(&opts, addr, reuse))?;
            connecting.push((i, side, s));
        }
    }

    let start = starts.start(try_index);
    let clock = Clock {
        start,
        stop: start + length + GRACE,
    };
    let notes: Notes = Arc::new(Mutex::new(Vec::new()));
    let emulator = thread::spawn(move || emulator.run(start, length));
    let mut apps = Vec::new();
    for (i, side, s) in connecting {
        let c = &plan.conns[i];
        let (to, open_at, program) = (c.addrs[1 - side], c.open_at, c.programs[side].clone());
        let notes = Arc::clone(&notes);
        apps.push(thread::spawn(move || {
            let mut end = End::new(s, clock, notes, i, ["client", "server"][side]);
            if end.connect(to, open_at) {
                end.run(&program);
            }
        }));
    }
    for ((host, port), l) in listeners {
        // The connections this listener accepts, by the client's address.
        let expected: Vec<(SocketAddrV4, usize, crate::apps::Program)> = plan
            .conns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.hosts[1] == host && c.addrs[1].port() == port)
            .map(|(i, c)| (c.addrs[0], i, c.programs[1].clone()))
            .collect();
        let notes = Arc::clone(&notes);
        apps.push(thread::spawn(move || accept_all(l, expected, clock, notes)));
    }

    let result = emulator.join();
    let mut panicked = false;
    for a in apps {
        panicked |= a.join().is_err();
    }
    let (packets, timing, devices) =
        result.map_err(|_| "the emulator thread panicked".to_string())??;
    if panicked {
        return Err("an application thread panicked".into());
    }
    let mut lost = Vec::new();
    for (l, &(a, b)) in plan.links.iter().enumerate() {
        for h in [a, b] {
            let n = lab.dropped(h, l)?;
            if n > 0 {
                lost.push(format!("{n} on device tl{l} of host {h}"));
            }
        }
    }
    if timing.write_failures > 0 {
        lost.push(format!(
            "{} packets the emulator could not write",
            timing.write_failures
        ));
    }
    if !lost.is_empty() {
        return Err(format!(
            "the TUN devices dropped packets before the emulator read them ({}): the record \
             is incomplete",
            lost.join(", ")
        ));
    }
    drop(devices);
    let mut notes = notes.lock().map(|n| n.clone()).unwrap_or_default();
    notes.sort_by_key(|n| n.at_ns);
    drop(lab);
    Ok(KernelRun {
        packets,
        timing,
        notes,
    })
}

/// A listening socket at `addr` with `opts` (accepted sockets inherit them).
fn listener(opts: &SocketOptions, addr: SocketAddrV4) -> Result<Socket, String> {
    let s = socket(opts).map_err(|e| format!("socket for {addr}: {e}"))?;
    s.set_reuse_address(true)
        .and_then(|()| s.bind(&SockAddr::from(addr)))
        .and_then(|()| s.listen(128))
        .map_err(|e| format!("listen on {addr}: {e}"))?;
    Ok(s)
}

/// A socket bound to `addr`, ready to connect.
fn bound(opts: &SocketOptions, addr: SocketAddrV4, reuse: bool) -> Result<Socket, String> {
    let s = socket(opts).map_err(|e| format!("socket for {addr}: {e}"))?;
    if reuse {
        s.set_reuse_address(true)
            .map_err(|e| format!("SO_REUSEADDR: {e}"))?;
    }
    s.bind(&SockAddr::from(addr))
        .map_err(|e| format!("bind {addr}: {e}"))?;
    Ok(s)
}

/// Accepts the connections of `expected` until the clock stops, each on a
/// thread of its own running its server program.
fn accept_all(
    l: Socket,
    mut expected: Vec<(SocketAddrV4, usize, crate::apps::Program)>,
    clock: Clock,
    notes: Notes,
) {
    crate::apps::app_thread();
    let mut ends = Vec::new();
    while StdInstant::now() < clock.stop && !crate::sys::stopped() {
        let r = crate::sys::wait_socket(
            std::os::fd::AsFd::as_fd(&l),
            true,
            false,
            StdDuration::from_millis(5),
        );
        match r {
            Ok((true, _)) => {}
            Ok(_) => continue,
            // Never spin on an error: it is looked at again a tick later.
            Err(_) => {
                thread::sleep(StdDuration::from_millis(5));
                continue;
            }
        }
        let (s, peer) = match l.accept() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => {
                thread::sleep(StdDuration::from_millis(5));
                continue;
            }
        };
        let Some(peer) = peer.as_socket_ipv4() else {
            continue;
        };
        let Some(k) = expected.iter().position(|e| e.0 == peer) else {
            continue;
        };
        let (_, i, program) = expected.remove(k);
        if s.set_nonblocking(true).is_err() {
            continue;
        }
        let end = End::new(s, clock, Arc::clone(&notes), i, "server");
        end.accepted();
        if expected.is_empty() {
            // The last connection this listener expects runs here, without
            // the latency of a new thread (the kernel's delayed ACK of a FIN
            // waits only to the next tick for the application's close).
            end.run(&program);
            break;
        }
        ends.push(thread::spawn(move || end.run(&program)));
    }
    for e in ends {
        let _ = e.join();
    }
}

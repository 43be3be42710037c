//! The system calls that neither std nor socket2 offers: entering a network
//! namespace, creating a TUN device, waiting on several descriptors with a
//! nanosecond timeout, the timer slack, a socket's unacknowledged octets and
//! its congestion window (`TCP_INFO`), the signal handler and the monotonic
//! clock as a number. The crate's only unsafe code; each block says why it
//! is sound.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Moves the calling thread into the network namespace `/run/netns/NAME`
/// (what `ip netns exec` does for a process). Sockets and devices the thread
/// creates afterwards belong to that namespace; other threads are not
/// affected.
pub(crate) fn enter_netns(name: &str) -> io::Result<()> {
    let ns = File::open(format!("/run/netns/{name}"))?;
    // SAFETY: `ns` is an open descriptor for the call's duration; setns
    // only reads it and changes this thread's namespace.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Creates the TUN device `name` (raw IPv4 packets: `IFF_TUN | IFF_NO_PI`)
/// in the calling thread's namespace and returns its descriptor, set
/// non-blocking. The device lives as long as the descriptor.
pub(crate) fn open_tun(name: &str) -> io::Result<File> {
    let path = CString::new("/dev/net/tun").expect("no NUL in a literal");
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    if name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "device name {name:?} is longer than {} bytes",
                libc::IFNAMSIZ - 1
            ),
        ));
    }
    // SAFETY: an all-zero ifreq is a valid value of the C struct.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    ifr.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one `struct ifreq`, which `ifr`
    // is, and `file` is an open /dev/net/tun descriptor.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut ifr) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// Waits until one of `fds` is readable or `timeout` has passed; returns
/// which are readable. An interrupted wait returns none readable.
pub(crate) fn wait_readable(fds: &[BorrowedFd<'_>], timeout: Duration) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ts = timespec(timeout);
    // SAFETY: `pfds` holds `pfds.len()` initialised pollfds and `ts` a valid
    // timespec, both alive for the call; a null signal mask keeps this
    // thread's.
    let rc = unsafe {
        libc::ppoll(
            pfds.as_mut_ptr(),
            pfds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(pfds
        .iter()
        .map(|p| p.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0)
        .collect())
}

/// Sets the calling thread's timer slack to 1 ns, so that its timed waits
/// end when asked instead of up to 50 µs later (the default slack).
pub(crate) fn precise_timers() {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and touches no
    // memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// The octets of a TCP socket's send queue not yet acknowledged by the peer
/// (`SIOCOUTQ`): zero once everything written has been acknowledged.
pub(crate) fn unacked(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one int through the pointer, which
    // points at `n`; `fd` is an open socket.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n.max(0) as u32)
}

/// A TCP socket's congestion window in segments and its sending MSS
/// (`TCP_INFO`'s `tcpi_snd_cwnd` and `tcpi_snd_mss`).
pub(crate) fn cwnd(fd: BorrowedFd<'_>) -> io::Result<(u32, u32)> {
    // SAFETY: tcp_info is plain integers, for which all zeroes is a value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes through the pointer,
    // which points at `info` of that size, and the length through `len`;
    // `fd` is an open socket.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((info.tcpi_snd_cwnd, info.tcpi_snd_mss))
}

/// Set by the signal handler of [`catch_signals`].
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// From now on SIGINT, SIGTERM and SIGHUP only set a flag ([`stopped`]):
/// the run stops at its next check and removes what it made.
pub(crate) fn catch_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; an all-zero sigaction with the handler set and
        // an empty mask is a valid value.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            // No SA_RESTART: a blocked call returns EINTR, which every
            // caller takes as "look at the flag and go on". A failure
            // leaves the default action, which kills without cleaning up;
            // the next run removes the namespaces then (lab::remove_stale).
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Gives SIGINT, SIGTERM and SIGHUP their default action again (after the
/// runs, nothing is left to remove).
pub(crate) fn default_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: SIG_DFL is a valid disposition for these signals.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}

/// Whether a signal asked the run to stop.
pub(crate) fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Whether the process runs as root (effective user id 0).
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Waits until the socket `fd` is readable (when `read`) or writable (when
/// `write`), or `timeout` has passed: `(readable, writable)`; an error or a
/// hang-up counts as both, so the next call reports it.
pub(crate) fn wait_socket(
    fd: BorrowedFd<'_>,
    read: bool,
    write: bool,
    timeout: Duration,
) -> io::Result<(bool, bool)> {
    let mut events = 0;
    if read {
        events |= libc::POLLIN;
    }
    if write {
        events |= libc::POLLOUT;
    }
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    let ts = timespec(timeout);
    // SAFETY: one initialised pollfd and a valid timespec, alive for the
    // call; a null signal mask keeps this thread's.
    let rc = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok((false, false));
        }
        return Err(e);
    }
    let bad = pfd.revents & (libc::POLLERR | libc::POLLHUP) != 0;
    Ok((
        bad || pfd.revents & libc::POLLIN != 0,
        bad || pfd.revents & libc::POLLOUT != 0,
    ))
}

/// `timeout` as a timespec (seconds saturated at the type's limit).
fn timespec(timeout: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    }
}

/// Gives the calling thread the real-time round-robin policy at
/// `priority` (1 to 99), so that a busy machine (a build beside the run)
/// delays it less; false when the system refuses (no CAP_SYS_NICE in a
/// container), and the thread keeps its policy. Every thread that gets it
/// blocks in `ppoll` between packets, and the kernel's real-time
/// throttling bounds it in any case.
pub(crate) fn realtime(priority: i32) -> bool {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `param` is a valid sched_param for the call; pid 0 is the
    // calling thread.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_RR, &param) == 0 }
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock of [`std::time::Instant`]
/// and of the kernel's ticks (`ktime_get`), as a number.
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call; the clock id
    // is a constant every Linux has.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC) cannot fail");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

//! The laboratory of one kernel run: a network namespace per host of the
//! experiment, a TUN device at each end of each link, the addresses and the
//! sysctls; everything removed again when the [`Lab`] is dropped, whatever
//! ended the run.
//!
//! Namespaces are named `tcpsim-k<PID>-<TRY>-<HOST>`. A run that was killed
//! (so that nothing could remove its namespaces) leaves them behind;
//! [`remove_stale`] deletes every `tcpsim-k` namespace whose process is
//! gone, so the next run starts clean.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::sys;

/// The prefix of every namespace a kernel run creates.
const PREFIX: &str = "tcpsim-k";

/// One host's namespace, as the lab sets it up.
#[derive(Clone, Debug)]
pub(crate) struct HostSetup {
    /// The host's address, on each of its TUN devices.
    pub addr: Ipv4Addr,
    /// `(path under /proc/sys, value)`: the sysctls of its `[tcp]` settings.
    pub sysctls: Vec<(String, String)>,
}

/// One end of a link: the TUN device in the namespace of `host`.
#[derive(Debug)]
pub(crate) struct TunEnd {
    /// The host whose namespace holds the device.
    pub host: usize,
    /// The host at the other end of the link.
    pub peer: usize,
    /// The device: reading gives the packets `host` sends to `peer`,
    /// writing hands `host` a packet from `peer`.
    pub file: File,
}

/// The namespaces of one kernel run; dropping it deletes them.
#[derive(Debug)]
pub(crate) struct Lab {
    names: Vec<String>,
}

impl Lab {
    /// Creates the namespaces of `hosts` for try `try_index`, and a TUN device
    /// pair for every link `(a, b)` of `links`: device `tl<L>` in both
    /// namespaces, each with its host's address and the other's as the peer
    /// (a /32 route to it). Returns the lab and the devices, two per link,
    /// `a`'s first.
    pub(crate) fn new(
        try_index: usize,
        hosts: &[HostSetup],
        links: &[(usize, usize)],
    ) -> Result<(Lab, Vec<TunEnd>), String> {
        let mut lab = Lab { names: Vec::new() };
        let pid = std::process::id();
        for (i, h) in hosts.iter().enumerate() {
            let name = format!("{PREFIX}{pid}-{try_index}-{i}");
            // Listed before it exists, so that a failure halfway is removed.
            lab.names.push(name.clone());
            ip(&["netns", "add", &name])?;
            ip(&["-n", &name, "link", "set", "lo", "up"])?;
            let mut sysctls = vec![
                // No router solicitations or other IPv6 chatter on the TUNs.
                (
                    "net/ipv6/conf/all/disable_ipv6".to_string(),
                    "1".to_string(),
                ),
                (
                    "net/ipv6/conf/default/disable_ipv6".to_string(),
                    "1".to_string(),
                ),
            ];
            sysctls.extend(h.sysctls.iter().cloned());
            in_netns(&name, move || {
                for (key, value) in &sysctls {
                    std::fs::write(Path::new("/proc/sys").join(key), value)
                        .map_err(|e| format!("sysctl {}={value}: {e}", key.replace('/', ".")))?;
                }
                Ok(())
            })?;
        }
        let mut ends = Vec::new();
        for (l, &(a, b)) in links.iter().enumerate() {
            let dev = format!("tl{l}");
            for (host, peer) in [(a, b), (b, a)] {
                let ns = lab.names[host].clone();
                let name = dev.clone();
                let file = in_netns(&ns, move || {
                    sys::open_tun(&name).map_err(|e| format!("TUN device {name}: {e}"))
                })?;
                let (me, other) = (hosts[host].addr.to_string(), hosts[peer].addr.to_string());
                ip(&["-n", &ns, "addr", "add", &me, "peer", &other, "dev", &dev])?;
                // A long queue: the emulator reads the device as packets come,
                // and a drop here would be a loss no model made (checked after
                // the run).
                ip(&["-n", &ns, "link", "set", &dev, "txqueuelen", "10000", "up"])?;
                // A plain FIFO as long as the queue: the default (fq_codel)
                // drops and reorders under load, which no model asked for.
                run(
                    "tc",
                    &[
                        "-n", &ns, "qdisc", "replace", "dev", &dev, "root", "pfifo", "limit",
                        "10000",
                    ],
                )?;
                ends.push(TunEnd { host, peer, file });
            }
        }
        Ok((lab, ends))
    }

    /// The namespace of host `i`.
    pub(crate) fn netns(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// The packets TUN device `tl<link>` of host `host` could not queue for
    /// the emulator (its transmit drops and its queueing discipline's), which
    /// must be zero for the run's record to be complete.
    pub(crate) fn dropped(&self, host: usize, link: usize) -> Result<u64, String> {
        let ns = &self.names[host];
        let dev = format!("tl{link}");
        let out = run("ip", &["-n", ns, "-s", "-j", "link", "show", "dev", &dev])?;
        let v: serde_json::Value = serde_json::from_str(&out)
            .map_err(|e| format!("ip -j -s link show {dev} in {ns}: {e}"))?;
        let dev_drops = v[0]["stats64"]["tx"]["dropped"].as_u64().unwrap_or(0);
        let out = run("tc", &["-n", ns, "-s", "-j", "qdisc", "show", "dev", &dev])?;
        let v: serde_json::Value = serde_json::from_str(&out)
            .map_err(|e| format!("tc -j -s qdisc show {dev} in {ns}: {e}"))?;
        let qdisc_drops: u64 = v
            .as_array()
            .map(|a| a.iter().filter_map(|q| q["drops"].as_u64()).sum())
            .unwrap_or(0);
        Ok(dev_drops + qdisc_drops)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for name in self.names.iter().rev() {
            // Deleting a namespace closes its sockets; a failure here is
            // what `remove_stale` mends on the next run.
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// Deletes the namespaces left by kernel runs whose process is gone.
pub(crate) fn remove_stale() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    let mut stale: Vec<String> = dir
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            n.strip_prefix(PREFIX)
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
                // This process has made none yet: one of its own pid is a
                // killed run's whose pid came round again.
                .is_some_and(|pid| pid == std::process::id() || !alive(pid))
        })
        .collect();
    stale.sort();
    for n in stale {
        let _ = ip(&["netns", "del", &n]);
    }
}

/// Whether process `pid` is running (a zombie is not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        // The state follows the command name in parentheses.
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
    })
}

/// Whether this machine can run kernel experiments: root, `ip`, `tc` and
/// `/dev/net/tun`; the reason when it cannot.
pub(crate) fn check_host() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err("tcpsim kernel runs only on Linux".into());
    }
    if !sys::is_root() {
        return Err(
            "tcpsim kernel needs root (it creates network namespaces and TUN devices)".into(),
        );
    }
    for tool in ["ip", "tc"] {
        if Command::new(tool).arg("-V").output().is_err() {
            return Err(format!(
                "tcpsim kernel needs the `{tool}` command (iproute2), which is not installed"
            ));
        }
    }
    if !Path::new("/dev/net/tun").exists() {
        return Err("tcpsim kernel needs /dev/net/tun (the tun module)".into());
    }
    // Root is not enough in a container without CAP_SYS_ADMIN.
    let probe = format!("{PREFIX}{}-probe", std::process::id());
    ip(&["netns", "add", &probe])
        .map_err(|e| format!("tcpsim kernel cannot create network namespaces here: {e}"))?;
    let _ = ip(&["netns", "del", &probe]);
    Ok(())
}

/// Runs `f` on a thread of its own inside namespace `ns`.
pub(crate) fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let name = ns.to_string();
    std::thread::spawn(move || {
        sys::enter_netns(&name)
            .map_err(|e| format!("cannot enter network namespace {name}: {e}"))?;
        f()
    })
    .join()
    .map_err(|_| format!("a thread in network namespace {ns} panicked"))?
}

/// `ip ARGS`, its error output in the message when it fails.
fn ip(args: &[&str]) -> Result<(), String> {
    run("ip", args).map(drop)
}

/// Runs `tool ARGS` and returns its standard output.
fn run(tool: &str, args: &[&str]) -> Result<String, String> {
    // In a process group of its own, so that the terminal's Ctrl-C (sent to
    // the whole foreground group) does not kill it halfway: the command
    // stops itself and removes what it made.
    let out = Command::new(tool)
        .args(args)
        .process_group(0)
        .output()
        .map_err(|e| format!("{tool} {}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "{tool} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

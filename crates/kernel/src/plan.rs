//! What a kernel run sets up for an experiment: each host's sysctls and
//! socket options from its TCP configuration, the links' models and the
//! fault rules seeded as the simulation seeds them, and each connection's
//! programs. Settings the kernel has no knob for are listed, not applied.

use std::net::SocketAddrV4;
use std::time::Duration as StdDuration;

use tcpsim_net::fault::Faults;
use tcpsim_net::{Link, OpenMode, RunResult, stream};
use tcpsim_runner::Experiment;
use tcpsim_runner::build::{fault_rules, workloads};
use tcpsim_tcp::{Config, CongestionAlgorithm};

use crate::apps::{ConnPlan, SocketOptions, programs};
use crate::lab::HostSetup;

/// The most connections a kernel run takes: each end is a thread.
pub const MAX_CONNECTIONS: usize = 64;

/// Everything one kernel run needs, the same for every try.
pub(crate) struct Plan {
    pub hosts: Vec<HostSetup>,
    pub links: Vec<(usize, usize)>,
    pub models: Vec<(usize, usize, Link)>,
    pub faults: Faults,
    pub seed: u64,
    pub conns: Vec<ConnPlan>,
    /// The listening sockets: host, port and options, as the simulation has
    /// them (the hosts' `listen` ports, and a connection's port when its
    /// `server_socket` sets options).
    pub listeners: Vec<(usize, u16, SocketOptions)>,
    /// `host: field = value` for each setting that differs from the linux
    /// profile's and has no kernel knob here.
    pub unmapped: Vec<String>,
}

impl Plan {
    /// The fault rules' random stream (the corruption bit), fresh for a try.
    pub(crate) fn fault_rng(&self) -> rand_chacha::ChaCha8Rng {
        stream(self.seed, "faults")
    }
}

/// The plan of `exp` under `seed`, with the client ports of `sim` (the
/// simulation's run of the same file).
pub(crate) fn plan(exp: &Experiment, seed: u64, sim: &RunResult) -> Result<Plan, String> {
    let mut unmapped = Vec::new();
    let mut host_opts = Vec::new();
    let mut hosts = Vec::new();
    for h in exp.hosts.iter() {
        let c = exp.host_config(h);
        let (sysctls, opts) = kernel_settings(&h.name, &c, &mut unmapped)?;
        hosts.push(HostSetup {
            addr: h.addr,
            sysctls,
        });
        host_opts.push(opts);
    }
    let mut links = Vec::new();
    let mut models = Vec::new();
    for l in &exp.links {
        links.push((l.a, l.b));
        for (from, to, params) in [(l.a, l.b, &l.a_to_b), (l.b, l.a, &l.b_to_a)] {
            let name = format!("link:{}->{}", exp.hosts[from].name, exp.hosts[to].name);
            let model = Link::new(params.clone(), stream(seed, &name))
                .map_err(|e| format!("link {name}: {e}"))?;
            models.push((from, to, model));
        }
    }
    let mut faults = Faults::default();
    for rule in fault_rules(exp) {
        faults.push(rule);
    }
    let ws = workloads(exp);
    if ws.len() > MAX_CONNECTIONS {
        return Err(format!(
            "{} connections: tcpsim kernel runs at most {MAX_CONNECTIONS} (a thread per end)",
            ws.len()
        ));
    }
    let specs = exp
        .connections
        .iter()
        .flat_map(|c| std::iter::repeat_n(c, c.count as usize));
    let mut conns = Vec::new();
    // Per connection: whether its file entry sets `server_socket` options.
    let mut server_options = Vec::new();
    for (i, (w, c)) in ws.iter().zip(specs).enumerate() {
        server_options.push(!c.server_socket.is_empty());
        let Some(port) = sim.connections.get(i).and_then(|r| r.client.port) else {
            return Err(format!(
                "connection {i} never opened in the simulation, so its port is not known"
            ));
        };
        let steps = [c.client_app.as_deref(), c.server_app.as_deref()];
        let end_opts = |host: usize, s: &tcpsim_runner::SocketSpec| {
            let mut o = host_opts[host].clone();
            if let Some(m) = s.mss {
                o.mss = Some(o.mss.map_or(m, |h| h.min(m)));
            }
            o.recv_buffer = s.recv_buffer.or(o.recv_buffer);
            o.send_buffer = s.send_buffer.or(o.send_buffer);
            o.nodelay |= s.nodelay == Some(true);
            if let Some(t) = s.user_timeout {
                o.user_timeout = Some(StdDuration::from_nanos(t.as_nanos()));
            }
            o.linger = s.linger.map(|d| StdDuration::from_nanos(d.as_nanos()));
            o
        };
        conns.push(ConnPlan {
            hosts: [w.client, w.server],
            addrs: [
                SocketAddrV4::new(exp.hosts[w.client].addr, port),
                SocketAddrV4::new(exp.hosts[w.server].addr, w.port),
            ],
            open_at: StdDuration::from_nanos(w.open_at.as_nanos()),
            open: w.open,
            programs: programs(w, steps),
            options: [
                end_opts(w.client, &c.client_socket),
                end_opts(w.server, &c.server_socket),
            ],
            reuse: w.client_port.is_some() || w.open == OpenMode::Simultaneous,
        });
    }
    let mut listeners: Vec<(usize, u16, SocketOptions)> = Vec::new();
    for (h, host) in exp.hosts.iter().enumerate() {
        for &port in &host.listen {
            // The options of the first connection to it that sets any
            // (the simulation's listener takes them likewise).
            let opts = conns
                .iter()
                .zip(&server_options)
                .find(|(c, set)| **set && c.hosts[1] == h && c.addrs[1].port() == port)
                .map_or_else(|| host_opts[h].clone(), |(c, _)| c.options[1].clone());
            listeners.push((h, port, opts));
        }
    }
    for c in &conns {
        let (h, port) = (c.hosts[1], c.addrs[1].port());
        if c.open == OpenMode::Active
            && c.options[1] != host_opts[h]
            && !listeners.iter().any(|l| l.0 == h && l.1 == port)
        {
            listeners.push((h, port, c.options[1].clone()));
        }
    }
    Ok(Plan {
        hosts,
        links,
        models,
        faults,
        seed,
        conns,
        listeners,
        unmapped,
    })
}

/// The sysctls (paths under /proc/sys) and socket options that give the
/// kernel host `name`'s configuration `c`, where it differs from the linux
/// profile's; what has no knob goes to `unmapped`.
///
/// A value the kernel's sysctl refuses is an error naming the setting and
/// the range the kernel takes.
fn kernel_settings(
    name: &str,
    c: &Config,
    unmapped: &mut Vec<String>,
) -> Result<(Vec<(String, String)>, SocketOptions), String> {
    let base = Config::linux();
    let mut sysctls = Vec::new();
    let mut opts = SocketOptions {
        congestion: match c.congestion_control {
            CongestionAlgorithm::Reno => "reno",
            CongestionAlgorithm::Cubic => "cubic",
        },
        ..SocketOptions::default()
    };
    // A knob this kernel does not have (older kernels lack
    // tcp_rto_min_us and tcp_syn_linear_timeouts) is listed as not applied.
    let mut missing = Vec::new();
    let mut sys = |key: &str, v: String| {
        let path = format!("net/ipv4/{key}");
        if std::path::Path::new("/proc/sys").join(&path).exists() {
            sysctls.push((path, v));
        } else {
            missing.push(format!(
                "{name}: net.ipv4.{key} = {v} (this kernel has no such sysctl)"
            ));
        }
    };
    // The ranges the kernel's handlers take (net/ipv4/sysctl_net_ipv4.c):
    // tcp_syn_retries 1 to MAX_TCP_SYNCNT (127); the others are u8 values.
    let check = |field: &str, n: u32, key: &str, lo: u32, hi: u32| {
        if (lo..=hi).contains(&n) {
            Ok(n)
        } else {
            Err(format!(
                "host {name}: {field} = {n}: the kernel's net.ipv4.{key} takes {lo} to {hi}"
            ))
        }
    };
    // The fields a knob covers; every other difference is listed.
    let mut mapped: Vec<&str> = vec!["congestion_control"];
    if c.syn_retries != base.syn_retries {
        if let Some(n) = c.syn_retries {
            let n = check("syn_retries", n, "tcp_syn_retries", 1, 127)?;
            sys("tcp_syn_retries", n.to_string());
            mapped.extend(["syn_retries", "syn_timeout"]);
        }
    }
    if c.synack_retries != base.synack_retries {
        if let Some(n) = c.synack_retries {
            let n = check("synack_retries", n, "tcp_synack_retries", 0, 255)?;
            sys("tcp_synack_retries", n.to_string());
            mapped.push("synack_retries");
        }
    }
    if c.syn_linear_timeouts != base.syn_linear_timeouts {
        let n = check(
            "syn_linear_timeouts",
            c.syn_linear_timeouts,
            "tcp_syn_linear_timeouts",
            0,
            255,
        )?;
        sys("tcp_syn_linear_timeouts", n.to_string());
        mapped.push("syn_linear_timeouts");
    }
    if c.data_retries != base.data_retries {
        if let Some(n) = c.data_retries {
            let n = check("data_retries", n, "tcp_retries2", 0, 255)?;
            sys("tcp_retries2", n.to_string());
            mapped.extend(["data_retries", "data_timeout"]);
        }
    }
    if c.min_rto != base.min_rto {
        sys("tcp_rto_min_us", (c.min_rto.as_nanos() / 1000).to_string());
        mapped.push("min_rto");
    }
    if c.sack != base.sack {
        sys("tcp_sack", u8::from(c.sack).to_string());
        mapped.push("sack");
    }
    if c.timestamps != base.timestamps {
        sys("tcp_timestamps", u8::from(c.timestamps).to_string());
        mapped.push("timestamps");
    }
    if c.window_scale.is_none() && base.window_scale.is_some() {
        sys("tcp_window_scaling", "0".into());
        mapped.push("window_scale");
    }
    if c.mss != base.mss {
        opts.mss = Some(c.mss);
        mapped.push("mss");
    }
    if c.user_timeout != base.user_timeout {
        opts.user_timeout = c
            .user_timeout
            .map(|t| StdDuration::from_nanos(t.as_nanos()));
        mapped.push("user_timeout");
    }
    unmapped.extend(missing);
    for (field, value) in config_differences(&base, c) {
        if !mapped.contains(&field.as_str()) {
            unmapped.push(format!("{name}: {field} = {value}"));
        }
    }
    Ok((sysctls, opts))
}

/// `(field, value in c)` for every field of `c` whose value differs from
/// `base`'s, by their debug forms, in declaration order.
fn config_differences(base: &Config, c: &Config) -> Vec<(String, String)> {
    // Each top-level field starts a line indented by four spaces; the
    // lines of a nested value, indented deeper, belong to it.
    let fields = |c: &Config| -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for l in format!("{c:#?}").lines() {
            let Some(rest) = l.strip_prefix("    ") else {
                continue;
            };
            match (rest.starts_with(' '), out.last_mut()) {
                (true, Some((_, v))) => v.push_str(rest.trim()),
                (true, None) => {}
                (false, _) => {
                    if let Some((k, v)) = rest.split_once(": ") {
                        out.push((k.to_string(), v.to_string()));
                    }
                }
            }
        }
        for (_, v) in &mut out {
            *v = v
                .trim_end_matches(',')
                .replace(",)", ")")
                .replace(",}", " }");
        }
        out
    };
    let (a, b) = (fields(base), fields(c));
    a.into_iter()
        .zip(b)
        .filter(|(x, y)| x != y)
        .map(|(_, y)| y)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_linux_profile_needs_no_setting() {
        let mut unmapped = Vec::new();
        let (sysctls, opts) = kernel_settings("h", &Config::linux(), &mut unmapped).unwrap();
        assert!(
            sysctls.is_empty() && unmapped.is_empty(),
            "{sysctls:?} {unmapped:?}"
        );
        assert_eq!(opts.congestion, "cubic");
    }

    #[test]
    fn settings_map_to_sysctls_or_are_listed() {
        let mut c = Config::linux();
        c.min_rto = tcpsim_tcp::Duration::from_millis(300);
        c.syn_retries = Some(2);
        c.delayed_ack = tcpsim_tcp::Duration::from_millis(77);
        let mut unmapped = Vec::new();
        let (sysctls, _) = kernel_settings("client", &c, &mut unmapped).unwrap();
        assert!(sysctls.contains(&("net/ipv4/tcp_rto_min_us".into(), "300000".into())));
        assert!(sysctls.contains(&("net/ipv4/tcp_syn_retries".into(), "2".into())));
        assert_eq!(unmapped.len(), 1, "{unmapped:?}");
        assert!(
            unmapped[0].starts_with("client: delayed_ack = "),
            "{unmapped:?}"
        );
    }

    #[test]
    fn a_value_the_kernel_refuses_is_named_with_its_range() {
        let mut c = Config::linux();
        // MAX_TCP_SYNCNT is 127 (include/net/tcp.h).
        c.syn_retries = Some(128);
        let e = kernel_settings("client", &c, &mut Vec::new()).unwrap_err();
        assert_eq!(
            e,
            "host client: syn_retries = 128: the kernel's net.ipv4.tcp_syn_retries takes 1 to 127"
        );
        c.syn_retries = Some(127);
        assert!(kernel_settings("client", &c, &mut Vec::new()).is_ok());
    }
}

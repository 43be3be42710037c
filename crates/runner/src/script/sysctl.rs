//! Linux sysctls a script sets, as `[tcp]` settings (SPEC §7): the ones
//! with an equivalent change the endpoint's configuration; the ones whose
//! behaviour tcpsim has fixed or does not model are named as such; others
//! are unknown. No shell command is ever run.

use tcpsim_tcp::{Config, CongestionAlgorithm, Duration, LossRecovery};

/// What a sysctl setting did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// It changed the configuration.
    Applied,
    /// tcpsim has no setting for it; the reason.
    NotModelled(&'static str),
    /// tcpsim does not know it.
    Unknown,
}

/// The sysctls of the kernel selftests' and google/packetdrill's
/// `defaults.sh` (both set the same TCP values), in their order.
pub const DEFAULTS_SH: &[(&str, &str)] = &[
    ("net.ipv4.tcp_rmem", "4096 540000 15728640"),
    ("net.ipv4.tcp_wmem", "4096 262144 4194304"),
    ("net.ipv4.tcp_timestamps", "1"),
    ("net.ipv4.tcp_syn_retries", "5"),
    ("net.ipv4.tcp_synack_retries", "5"),
    ("net.ipv4.tcp_frto", "2"),
    ("net.ipv4.tcp_sack", "1"),
    ("net.ipv4.tcp_dsack", "1"),
    ("net.ipv4.tcp_fack", "0"),
    ("net.ipv4.tcp_reordering", "3"),
    ("net.ipv4.tcp_congestion_control", "cubic"),
    ("net.ipv4.tcp_slow_start_after_idle", "0"),
    ("net.ipv4.tcp_early_retrans", "4"),
    ("net.ipv4.tcp_recovery", "1"),
    ("net.ipv4.tcp_tso_win_divisor", "3"),
    ("net.ipv4.tcp_ecn", "0"),
    ("net.ipv4.tcp_pacing_ss_ratio", "200"),
    ("net.ipv4.tcp_pacing_ca_ratio", "120"),
    ("net.ipv4.tcp_notsent_lowat", "4294967295"),
    ("net.ipv4.tcp_fastopen", "0x70403"),
    (
        "net.ipv4.tcp_fastopen_key",
        "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4",
    ),
    ("net.ipv4.tcp_syncookies", "1"),
];

/// The kernel's `rmem_max` when no script sets it (`net.core.rmem_max`:
/// 4194304 since Linux 6.18, `/proc/sys/net/core/rmem_max` on this
/// machine; 212992 before): it bounds the window scale from below and
/// `SO_RCVBUF` from above.
pub const DEFAULT_RMEM_MAX: u64 = 4 << 20;

/// The kernel's `wmem_max` when no script sets it (`net.core.wmem_max`:
/// 4194304, as `rmem_max`, in `/proc/sys/net/core/wmem_max` of this
/// machine's 6.18 kernel; older kernels had 212992): `SO_SNDBUF` takes at
/// most this much before doubling it.
pub const DEFAULT_WMEM_MAX: u64 = 4 << 20;

/// The send buffer a socket has once established when `tcp_wmem` is
/// `min default max`: Linux starts it at `default` and `tcp_sndbuf_expand`
/// raises it to 2 × 10 segments' memory ([`tcpsim_tcp::LINUX_SEND_BUFFER`])
/// when that is larger, but not past `max`.
pub fn send_buffer_for(default: u64, max: u64) -> u32 {
    let expanded = u64::from(tcpsim_tcp::LINUX_SEND_BUFFER).min(max);
    default.max(expanded).min(i32::MAX as u64) as u32
}

/// What `setsockopt(SO_SNDBUF, value)` makes the send buffer (Linux
/// `sk_setsockopt`): the value, at most `wmem_max`, doubled for the
/// kernel's own overhead, and at least `SOCK_MIN_SNDBUF` = 2 × (2048 +
/// 256) = 4608. (`tests/data/linux/send_buffer.txt`: 21000 gives 42000,
/// 1 gives 4608.)
pub fn so_sndbuf(value: i64, wmem_max: u64) -> u32 {
    let v = value
        .max(0)
        .unsigned_abs()
        .min(wmem_max)
        .min(i32::MAX as u64 / 2);
    (2 * v).max(4608) as u32
}

/// Sysctls tcpsim accepts without a setting, and why.
const NOT_MODELLED: &[(&str, &str)] = &[
    ("tcp_frto", "F-RTO is not modelled"),
    ("tcp_dsack", "D-SACK blocks are always sent when SACK is on"),
    ("tcp_fack", "FACK is not modelled (removed from Linux 4.15)"),
    (
        "tcp_reordering",
        "the initial reordering degree is fixed at 3 (the duplicate-ACK threshold)",
    ),
    (
        "tcp_slow_start_after_idle",
        "the congestion window is not restarted after idle (RFC 7661, tcp_cwnd_restart)",
    ),
    (
        "tcp_early_retrans",
        "tail loss probes come with RACK (tcp_recovery, [tcp] loss_recovery = \"rack\") and are not switched alone",
    ),
    (
        "tcp_tso_win_divisor",
        "TSO is modelled as back-to-back MSS-sized segments",
    ),
    ("tcp_ecn", "ECN is not modelled (off)"),
    ("tcp_pacing_ss_ratio", "pacing is not modelled"),
    ("tcp_pacing_ca_ratio", "pacing is not modelled"),
    (
        "tcp_notsent_lowat",
        "the limit on unsent data is not modelled (the send buffer's size is: tcp_wmem, SO_SNDBUF)",
    ),
    ("tcp_fastopen", "TCP Fast Open is not modelled"),
    ("tcp_fastopen_key", "TCP Fast Open is not modelled"),
    (
        "tcp_syncookies",
        "SYN cookies are not modelled (the accept queue has no limit)",
    ),
    (
        "tcp_min_tso_segs",
        "TSO is modelled as back-to-back MSS-sized segments",
    ),
    ("tcp_autocorking", "autocorking is not modelled"),
    (
        "tcp_moderate_rcvbuf",
        "receive-buffer autotuning from reads is not modelled",
    ),
    (
        "tcp_no_metrics_save",
        "no route metrics are kept between connections",
    ),
    ("tcp_mtu_probing", "path MTU probing is not modelled"),
    (
        "tcp_tw_reuse",
        "TIME-WAIT reuse follows the profile's timestamp rule",
    ),
    (
        "tcp_limit_output_bytes",
        "queueing below TCP is not modelled",
    ),
    ("enabled", "MPTCP is not modelled"),
];

/// The name without `/proc/sys/` and with dots: `net.ipv4.tcp_sack`.
pub fn normalize(name: &str) -> String {
    name.trim_start_matches("/proc/sys/").replace('/', ".")
}

fn int(value: &str) -> Result<u64, String> {
    let v = value.trim();
    let parsed = match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => v.parse(),
    };
    parsed.map_err(|_| format!("expected an integer, found `{value}`"))
}

fn retries(value: &str) -> Result<u32, String> {
    let n = int(value)?;
    u32::try_from(n)
        .ok()
        .filter(|&n| n <= 255)
        .ok_or_else(|| format!("expected a retry count 0..=255, found `{value}`"))
}

/// The window scale Linux announces for a receive buffer of `space`
/// octets: `ilog2(space) - 15`, clamped to 0..=14 (`tcp_select_initial_window`).
pub fn window_scale_for(space: u64) -> u8 {
    tcpsim_tcp::window_shift_for(space)
}

/// The receive buffer `setsockopt(SO_RCVBUF, value)` leaves (Linux
/// `sk_setsockopt` and `__sock_set_rcvbuf`): the value, at most
/// `rmem_max`, doubled for the kernel's overhead, at least
/// `SOCK_MIN_RCVBUF` (2304). What `getsockopt(SO_RCVBUF)` then reports.
pub fn so_rcvbuf(value: i64, rmem_max: u64) -> u32 {
    // The int is taken as u32 against rmem_max, so a negative one is huge.
    let asked = u64::from(value as u32)
        .min(rmem_max)
        .min(i32::MAX as u64 / 2);
    (asked * 2).max(2304) as u32
}

/// What the sysctls set so far imply beyond single fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    /// `tcp_rmem[2]`, once set.
    pub rmem_max_tcp: Option<u64>,
    /// `net.core.rmem_max`.
    pub rmem_max: u64,
    /// `tcp_window_scaling`.
    pub window_scaling: bool,
    /// `net.core.wmem_max`.
    pub wmem_max: u64,
}

impl Default for Memory {
    fn default() -> Memory {
        Memory {
            rmem_max_tcp: None,
            rmem_max: DEFAULT_RMEM_MAX,
            window_scaling: true,
            wmem_max: DEFAULT_WMEM_MAX,
        }
    }
}

/// Applies `name = value` to `config`.
pub fn apply(
    config: &mut Config,
    memory: &mut Memory,
    name: &str,
    value: &str,
) -> Result<Effect, String> {
    let name = normalize(name);
    let short = name.rsplit('.').next().unwrap_or(&name);
    let value = value.trim().trim_matches('"');
    match name.as_str() {
        "net.ipv4.tcp_timestamps" => config.timestamps = int(value)? != 0,
        "net.ipv4.tcp_sack" => config.sack = int(value)? != 0,
        "net.ipv4.tcp_window_scaling" => {
            memory.window_scaling = int(value)? != 0;
            rescale(config, memory);
        }
        "net.ipv4.tcp_rmem" => {
            let parts: Vec<&str> = value.split_whitespace().collect();
            let [_, default, max] = parts[..] else {
                return Err(format!(
                    "expected three sizes \"min default max\", found `{value}`"
                ));
            };
            let bytes = |v: &str| {
                int(v).and_then(|n| {
                    u32::try_from(n)
                        .ok()
                        .filter(|&n| n > 0 && n <= i32::MAX as u32)
                        .ok_or_else(|| format!("expected a size of 1..=2147483647, found `{v}`"))
                })
            };
            // A new socket's buffer is tcp_rmem[1]; one the application
            // fixed keeps its size.
            if !config.recv_buffer_locked {
                config.recv_buffer = bytes(default)?;
            }
            config.recv_buffer_max = bytes(max)?;
            memory.rmem_max_tcp = Some(int(max)?);
            rescale(config, memory);
        }
        "net.ipv4.tcp_shrink_window" => config.shrink_window = int(value)? != 0,
        "net.ipv4.tcp_wmem" => {
            let parts: Vec<&str> = value.split_whitespace().collect();
            let [_, default, max] = parts[..] else {
                return Err(format!(
                    "expected three sizes \"min default max\", found `{value}`"
                ));
            };
            config.send_buffer = Some(send_buffer_for(int(default)?, int(max)?));
        }
        "net.core.wmem_max" => memory.wmem_max = int(value)?,
        "net.core.rmem_max" => {
            memory.rmem_max = int(value)?;
            rescale(config, memory);
        }
        "net.ipv4.tcp_syn_retries" => config.syn_retries = Some(retries(value)?),
        "net.ipv4.tcp_synack_retries" => config.synack_retries = Some(retries(value)?),
        "net.ipv4.tcp_retries2" => config.data_retries = Some(retries(value)?),
        "net.ipv4.tcp_orphan_retries" => {
            // 0 means 8 (`tcp_orphan_retries()` in the kernel).
            let n = retries(value)?;
            config.fin_retries = Some(if n == 0 { 8 } else { n });
        }
        "net.ipv4.tcp_fin_timeout" => {
            config.fin_wait_2_timeout = Some(Duration::from_secs(int(value)?));
        }
        "net.ipv4.tcp_syn_linear_timeouts" => config.syn_linear_timeouts = retries(value)?,
        "net.ipv4.tcp_rto_min_us" => config.min_rto = Duration::from_micros(int(value)?),
        "net.ipv4.tcp_congestion_control" => {
            config.congestion_control = match value {
                "reno" => CongestionAlgorithm::Reno,
                "cubic" => CongestionAlgorithm::Cubic,
                _ => {
                    return Err(format!(
                        "expected \"reno\" or \"cubic\" (the controllers tcpsim models), found `{value}`"
                    ));
                }
            };
        }
        // Bit 0 is RACK (Linux `TCP_RACK_LOSS_DETECTION`); without it the
        // kernel detects losses by the duplicate-ACK threshold.
        "net.ipv4.tcp_recovery" => {
            config.loss_recovery = if int(value)? & 1 == 1 {
                LossRecovery::Rack
            } else {
                LossRecovery::NewReno
            };
        }
        _ => {
            return Ok(match NOT_MODELLED.iter().find(|(n, _)| *n == short) {
                Some((_, why)) => Effect::NotModelled(why),
                None => Effect::Unknown,
            });
        }
    }
    Ok(Effect::Applied)
}

/// The window scale follows `tcp_rmem[2]` and `rmem_max` while window
/// scaling is on.
fn rescale(config: &mut Config, memory: &Memory) {
    if !memory.window_scaling {
        config.window_scale = None;
        return;
    }
    if let Some(tcp) = memory.rmem_max_tcp {
        config.window_scale = Some(window_scale_for(tcp.max(memory.rmem_max)));
    } else if config.window_scale.is_none() {
        config.window_scale = Some(window_scale_for(memory.rmem_max));
    }
}

/// What a shell command means to tcpsim, line by line: the sysctl
/// settings of its `sysctl [-q] [-w] a=b ...`, `.../set_sysctls.py
/// /proc/sys/a=b ...` and `defaults.sh` lines (whose list is
/// [`DEFAULTS_SH`]), in order, and every other line, which is skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShellLines {
    /// `(name, value)`, in order.
    pub settings: Vec<(String, String)>,
    /// The lines that are not sysctl settings (not run).
    pub skipped: Vec<String>,
}

/// Reads a shell command (see [`ShellLines`]); `Err` for a sysctl line
/// whose value cannot be read.
pub fn settings_of(command: &str) -> Result<ShellLines, String> {
    let mut out = ShellLines::default();
    for part in command
        .split(['\n', ';'])
        .flat_map(|p| p.split("&&"))
        .map(str::trim)
    {
        let words = shell_words(part);
        let Some(first) = words.first() else {
            continue;
        };
        if first.starts_with('#') {
            continue;
        }
        if first.ends_with("defaults.sh") {
            out.settings.extend(
                DEFAULTS_SH
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string())),
            );
        } else if first == "sysctl" || first.ends_with("set_sysctls.py") {
            for w in &words[1..] {
                if w.starts_with('-')
                    || w == ">"
                    || w.starts_with("/dev/null")
                    || w.starts_with("2>")
                {
                    continue;
                }
                let Some((n, v)) = w.split_once('=') else {
                    return Err(format!("expected NAME=VALUE in `{part}`, found `{w}`"));
                };
                out.settings.push((normalize(n), arithmetic(v)?));
            }
        } else {
            out.skipped.push(part.to_string());
        }
    }
    Ok(out)
}

/// A value with the shell's `$((...))` integer arithmetic worked out
/// (`+ - * /` and parentheses over decimal integers), as the suites write
/// buffer sizes (`$((15*1024*1024))`).
fn arithmetic(value: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("$((") {
        out.push_str(&rest[..start]);
        let body = &rest[start + 3..];
        let Some(end) = body.find("))") else {
            return Err(format!("unterminated $(( in `{value}`"));
        };
        let v = eval_int(&body[..end])
            .ok_or_else(|| format!("cannot work out `$(({}))`", &body[..end]))?;
        out.push_str(&v.to_string());
        rest = &body[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `+ - * /` over decimal integers, with parentheses; `None` on anything else.
fn eval_int(s: &str) -> Option<i64> {
    fn sum(b: &[u8], i: &mut usize, depth: u32) -> Option<i64> {
        let mut v = product(b, i, depth)?;
        loop {
            skip(b, i);
            match b.get(*i) {
                Some(b'+') => {
                    *i += 1;
                    v = v.checked_add(product(b, i, depth)?)?;
                }
                Some(b'-') => {
                    *i += 1;
                    v = v.checked_sub(product(b, i, depth)?)?;
                }
                _ => return Some(v),
            }
        }
    }
    fn product(b: &[u8], i: &mut usize, depth: u32) -> Option<i64> {
        let mut v = atom(b, i, depth)?;
        loop {
            skip(b, i);
            match b.get(*i) {
                Some(b'*') => {
                    *i += 1;
                    v = v.checked_mul(atom(b, i, depth)?)?;
                }
                Some(b'/') => {
                    *i += 1;
                    v = v.checked_div(atom(b, i, depth)?)?;
                }
                _ => return Some(v),
            }
        }
    }
    fn atom(b: &[u8], i: &mut usize, depth: u32) -> Option<i64> {
        skip(b, i);
        if depth > 16 {
            return None;
        }
        if b.get(*i) == Some(&b'(') {
            *i += 1;
            let v = sum(b, i, depth + 1)?;
            skip(b, i);
            (b.get(*i) == Some(&b')')).then(|| *i += 1)?;
            return Some(v);
        }
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        std::str::from_utf8(&b[start..*i]).ok()?.parse().ok()
    }
    fn skip(b: &[u8], i: &mut usize) {
        while b.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    }
    let b = s.as_bytes();
    let mut i = 0;
    let v = sum(b, &mut i, 0)?;
    skip(b, &mut i);
    (i == b.len()).then_some(v)
}

/// Splits a command into words, keeping `"..."` and `'...'` parts whole.
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut any = false;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            // A `#` starting a word comments out the rest of the line.
            (None, '#') if !any && cur.is_empty() => break,
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tcp_select_initial_window`: ilog2(space) - 15. This machine's
    /// kernel (tcp_rmem max 33554432 = 2^25) announces 10, as every capture
    /// under tests/data/linux/ shows; defaults.sh's 15728640 (ilog2 23)
    /// gives 8, the `wscale 8` of the kernel selftests.
    #[test]
    fn window_scale_follows_the_largest_receive_buffer() {
        assert_eq!(window_scale_for(33_554_432), 10);
        assert_eq!(window_scale_for(15_728_640), 8);
        assert_eq!(window_scale_for(212_992), 2);
        assert_eq!(window_scale_for(65_535), 0);
        assert_eq!(window_scale_for(u64::MAX), 14);
    }

    /// `SO_RCVBUF` doubles what it is given, up to rmem_max (4194304 on
    /// this kernel, so 1000000 gives 2000000: the `wscale 4` of kernel
    /// selftest `tcp_rcv_wnd_shrink_nomem`), never below 2304.
    #[test]
    fn so_rcvbuf_doubles_within_rmem_max() {
        assert_eq!(so_rcvbuf(20_000, DEFAULT_RMEM_MAX), 40_000);
        assert_eq!(so_rcvbuf(1_000_000, DEFAULT_RMEM_MAX), 2_000_000);
        assert_eq!(so_rcvbuf(1_000_000, 212_992), 425_984);
        assert_eq!(so_rcvbuf(100, DEFAULT_RMEM_MAX), 2304);
        assert_eq!(so_rcvbuf(-1, DEFAULT_RMEM_MAX), 8 << 20);
    }

    /// `SO_SNDBUF` and `tcp_wmem` as the kernel makes them
    /// (`tests/data/linux/send_buffer.txt`: 21000 reads back 42000, 1
    /// reads back 4608, an established socket with the default tcp_wmem
    /// and CUBIC has 46080, one with defaults.sh's 262144 keeps 262144).
    #[test]
    fn send_buffer_sizes_follow_the_kernel() {
        assert_eq!(so_sndbuf(21000, DEFAULT_WMEM_MAX), 42000);
        assert_eq!(so_sndbuf(1, DEFAULT_WMEM_MAX), 4608);
        assert_eq!(so_sndbuf(-5, DEFAULT_WMEM_MAX), 4608);
        // At most wmem_max before doubling: 2 × 4194304.
        assert_eq!(so_sndbuf(1_000_000_000, DEFAULT_WMEM_MAX), 8_388_608);
        assert_eq!(so_sndbuf(1_000_000_000, 212_992), 425_984);
        assert_eq!(send_buffer_for(16384, 4_194_304), 46080);
        assert_eq!(send_buffer_for(262_144, 4_194_304), 262_144);
        assert_eq!(send_buffer_for(4096, 20000), 20000);
        let mut c = Config::linux();
        let mut m = Memory::default();
        apply(&mut c, &mut m, "net.ipv4.tcp_wmem", "4096 262144 4194304").unwrap();
        assert_eq!(c.send_buffer, Some(262_144));
        apply(&mut c, &mut m, "net.core.wmem_max", "1000").unwrap();
        assert_eq!(m.wmem_max, 1000);
    }

    #[test]
    fn defaults_sh_sets_the_kernel_suites_values() {
        let mut c = Config::linux();
        let mut m = Memory::default();
        for (n, v) in settings_of("./defaults.sh").unwrap().settings {
            apply(&mut c, &mut m, &n, &v).unwrap();
        }
        assert_eq!(c.window_scale, Some(8));
        assert_eq!((c.recv_buffer, c.recv_buffer_max), (540_000, 15_728_640));
        assert_eq!(c.syn_retries, Some(5));
        assert_eq!(c.synack_retries, Some(5));
        assert!(c.timestamps && c.sack);
    }

    #[test]
    fn congestion_control_and_recovery_are_settings() {
        let mut c = Config::rfc();
        let mut m = Memory::default();
        apply(&mut c, &mut m, "net.ipv4.tcp_congestion_control", "cubic").unwrap();
        assert_eq!(c.congestion_control, CongestionAlgorithm::Cubic);
        apply(&mut c, &mut m, "net.ipv4.tcp_congestion_control", "reno").unwrap();
        assert_eq!(c.congestion_control, CongestionAlgorithm::Reno);
        // BBR is not modelled: an error, not a silent CUBIC.
        assert!(apply(&mut c, &mut m, "net.ipv4.tcp_congestion_control", "bbr").is_err());
        // Bit 0 of tcp_recovery is RACK (Linux TCP_RACK_LOSS_DETECTION).
        apply(&mut c, &mut m, "net.ipv4.tcp_recovery", "1").unwrap();
        assert_eq!(c.loss_recovery, LossRecovery::Rack);
        apply(&mut c, &mut m, "net.ipv4.tcp_recovery", "0").unwrap();
        assert_eq!(c.loss_recovery, LossRecovery::NewReno);
        apply(&mut c, &mut m, "net.ipv4.tcp_recovery", "5").unwrap();
        assert_eq!(c.loss_recovery, LossRecovery::Rack);
    }

    #[test]
    fn commands_that_set_sysctls_are_read_and_others_refused() {
        let s = settings_of(
            "sysctl -q net.ipv4.tcp_timestamps=0 net.ipv4.tcp_sack=0\nethtool -K tun0 tso off\n../common/set_sysctls.py /proc/sys/net/ipv4/tcp_rmem=\"4096 87380 $((3*2*1024*1024))\"",
        )
        .unwrap();
        assert_eq!(s.skipped, vec!["ethtool -K tun0 tso off".to_string()]);
        assert_eq!(
            settings_of("sysctl -q net.ipv4.tcp_sack=0 # a comment, with = signs")
                .unwrap()
                .settings,
            vec![("net.ipv4.tcp_sack".to_string(), "0".to_string())]
        );
        assert_eq!(
            s.settings,
            vec![
                ("net.ipv4.tcp_timestamps".to_string(), "0".to_string()),
                ("net.ipv4.tcp_sack".to_string(), "0".to_string()),
                (
                    "net.ipv4.tcp_rmem".to_string(),
                    "4096 87380 6291456".to_string()
                ),
            ]
        );
        assert!(
            settings_of("tc qdisc add dev tun0 root pfifo")
                .unwrap()
                .settings
                .is_empty()
        );
        assert_eq!(
            arithmetic("4096 32768 $((32*1024*1024))").unwrap(),
            "4096 32768 33554432"
        );
        assert_eq!(arithmetic("$((2*(3+4)-1))").unwrap(), "13");
        assert!(arithmetic("$((2**3))").is_err());
        let mut c = Config::linux();
        let mut m = Memory::default();
        assert_eq!(
            apply(&mut c, &mut m, "net.ipv4.tcp_ecn", "1"),
            Ok(Effect::NotModelled("ECN is not modelled (off)"))
        );
        assert_eq!(
            apply(&mut c, &mut m, "net.ipv4.tcp_bogus", "1"),
            Ok(Effect::Unknown)
        );
        assert!(apply(&mut c, &mut m, "net.ipv4.tcp_syn_retries", "x").is_err());
    }
}

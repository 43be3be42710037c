//! Resource limits of an experiment, checked when the file is read so that
//! a size that would not fit in memory (or in any reasonable run time) is
//! a clear error that names the key, instead of an allocation failure or a
//! machine that swaps for an hour.
//!
//! | limit | value | where the error points |
//! |---|---|---|
//! | [`MAX_HOSTS`] | 10 000 hosts, after `count` expansion of generated hosts | the first `[[hosts]]` table (or its `count`) over the limit |
//! | [`MAX_LINKS`] | 10 000 `[[links]]` | the first link over the limit |
//! | [`MAX_FAULTS`] | 10 000 `[[faults]]` | the first fault over the limit |
//! | [`MAX_CONNECTIONS`] | 1 000 000 connections after `count` expansion | the `count` (or the `[[connections]]` table) that goes over |
//! | [`MAX_SEND_BYTES`] | 1 GiB per `client_sends` / `server_sends` | that key's value |
//! | [`MAX_TOTAL_SEND_BYTES`] | 4 GiB written by all applications together, after `count` expansion | the `count` or `*_sends` that goes over |
//! | [`MAX_GRID_POINTS`] | 10 000 points in `[sweep] grid` (the product of the value lists' lengths) | the grid entry that goes over |
//! | [`MAX_DURATION`] | 1 000 000 h (about 114 years) for every duration in the file | that value |
//! | [`MAX_SWEEP_RUNS`] | 100 000 000 runs in a sweep (grid points × seeds) | `[sweep] seeds` (or the grid) |
//! | [`MAX_SWEEP_CONNECTION_RUNS`] | 400 000 000 connections × runs in a sweep | the `sweep` command (it knows `--seeds`) |
//!
//! Why these values: an application writes all its data into the send
//! buffer at once, so `client_sends` is resident memory; each connection
//! costs about a kilobyte in the engine and its report; a sweep keeps one
//! record per run and builds one experiment per grid point. The
//! limits are far above any experiment in `configs/` and far below what the
//! machine the CI runs on (24 GiB) could not hold.
//!
//! The engine has its own bounds on a run, which stay as they were: the
//! virtual-time bound (`duration`, default 10 min; reaching it ends the run
//! with `stop_reason` "duration") and the event-count bound (20 000 000
//! events; `stop_reason` "events"). Running out of ephemeral ports is not
//! an error here but in the run: the connection reports the application
//! error "no free ephemeral port".

use tcpsim_tcp::Duration;

/// Most hosts in a run, after `count` expansion of generated hosts.
pub const MAX_HOSTS: usize = 10_000;

/// Most `[[links]]` tables.
pub const MAX_LINKS: usize = 10_000;

/// Most `[[faults]]` tables.
pub const MAX_FAULTS: usize = 10_000;

/// Most connections in one run, after `count` expansion.
pub const MAX_CONNECTIONS: u64 = 1_000_000;

/// The longest duration an experiment file may give, for any key:
/// 1 000 000 h (about 114 years, 3.6 × 10^18 ns).
///
/// Virtual time is a `u64` of nanoseconds (about 584 years). With every
/// duration at most a fifth of that, any sum of five of them (the run's
/// `duration` plus a link delay, a jitter, a fault's `extra` and a timer,
/// or `now` plus twice the MSL) still fits, so no time the report shows is
/// ever cut short at the end of the clock. Longer chains (a backed-off RTO
/// after many retries) saturate at the end of the clock, which is after
/// the end of every run: the engine keeps such a timer as "never".
pub const MAX_DURATION: Duration = Duration::from_secs(3_600_000_000);

/// [`MAX_DURATION`] as messages state it.
pub(crate) const MAX_DURATION_TEXT: &str = "of at most \"1000000h\" (about 114 years)";

/// Most octets one application writes on one connection (1 GiB).
pub const MAX_SEND_BYTES: u64 = 1 << 30;

/// Most octets all applications of a run write together, after `count`
/// expansion (4 GiB).
pub const MAX_TOTAL_SEND_BYTES: u64 = 4 << 30;

/// Most points in a `[sweep] grid`.
pub const MAX_GRID_POINTS: u64 = 10_000;

/// Most runs in one sweep: grid points × seeds.
///
/// A sweep keeps of each run only the times its percentiles need (two
/// `u64` per connection; [`Tally`](crate::sweep::Tally)): measured, 24
/// bytes per one-connection run (`configs/handshake.toml`, 3 000 000 more
/// runs took 70 MB more), so the most runs take about 2.4 GB.
pub const MAX_SWEEP_RUNS: u128 = 100_000_000;

/// Most connection-runs in one sweep: the connections of each point times
/// its seeds, summed over the points. Each keeps up to 16 bytes of times
/// (up to twice that while a list grows), so this is at most about 13 GB,
/// which a 24 GiB machine holds.
pub const MAX_SWEEP_CONNECTION_RUNS: u128 = 400_000_000;

/// `n` with thousands separated by spaces, for messages (`1 000 000`).
pub(crate) fn pretty(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_groups_thousands() {
        assert_eq!(pretty(0), "0");
        assert_eq!(pretty(999), "999");
        assert_eq!(pretty(1000), "1 000");
        assert_eq!(pretty(1_073_741_824), "1 073 741 824");
    }
}

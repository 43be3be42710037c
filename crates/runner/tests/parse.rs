//! The experiment-file parser against SPEC §3: the full example, defaults,
//! per-direction link settings, `--set` overrides, units, and bad inputs,
//! each with the exact line and column (counted by hand in the text) and
//! what was expected.

use std::net::Ipv4Addr;

use proptest::prelude::*;
use tcpsim_runner::{
    CloseMode, ConfigError, Distribution, Expect, Experiment, Fault, FaultAction, Host, HostId,
    Link, LinkParams, Location, Loss, OpenMode, Outcome, SeedRange, TcpOverrides, parse,
    parse_duration, parse_rate, parse_with_overrides,
};
use tcpsim_tcp::{
    AbortReset, AckOfFin, Config, DuplicateSyn, Duration, InitialWindow, IsnMode, Profile,
    RetransmissionRtt, RetryModel, RstInTimeWait, RtoFormula, SegmentKind, State, SynRetryCount,
    WindowRounding,
};

/// The example of SPEC §3, verbatim.
const SPEC_EXAMPLE: &str = r#"name = "lost-syn"
description = "The client's first SYN is lost; the client retransmits it one RTO later."
seed = 7                  # default seed (u64); --seed overrides
duration = "10min"        # virtual-time bound; reaching it ends the run with stop_reason "duration"
profile = "rfc"           # TCP defaults: "rfc" or "linux" (section 5)

[tcp]                     # optional overrides of the profile, for every host
initial_rto = "1s"
# min_rto, max_rto, syn_retries, synack_retries, syn_linear_timeouts,
# fin_retries, data_retries, msl, time_wait, fin_wait_2_timeout, mss,
# recv_window, delayed_ack, isn ("random" or a number), rst_in_time_wait ("close" | "ignore")

[[hosts]]
name = "client"
addr = "10.0.0.1"

[[hosts]]
name = "server"
addr = "10.0.0.2"
listen = [80]             # ports with a listener from t = 0
# tcp = { syn_retries = 2 }   per-host overrides

[[links]]                 # duplex; every setting applies to both directions,
a = "client"              # unless [links.a_to_b] / [links.b_to_a] override it
b = "server"
delay = "50ms"
jitter = "0ms"            # spread around delay
distribution = "uniform"  # uniform | normal | pareto | paretonormal
loss = 0.0                # Bernoulli probability, or a table:
# loss = { model = "gilbert-elliott", p = 0.01, r = 0.5, h = 0.0, k = 1.0 }
duplicate = 0.0
corrupt = 0.0             # flip one random bit; the receiver's checksum must catch it
reorder = 0.0             # netem semantics: probability that a packet skips the delay
reorder_gap = 1
rate = "1Gbit"            # serialization delay; omit for unlimited
queue = 1000              # packets; tail drop when full

[[faults]]                # deterministic, targeted faults (applied before random impairments)
action = "drop"           # drop | delay | duplicate | corrupt | partition
from = "client"           # direction; omit either for both
to = "server"
segment = "SYN"           # SYN, SYN-ACK, ACK, DATA, FIN, RST, ANY; or a list (kinds below)
nth = [1]                 # which matching segments, 1-based, counted per rule; omit for all
# start = "2s"  end = "4s"   time window;  extra = "300ms" for action = "delay"
# action = "partition" with from/to and start/end cuts the link(s) for that window

[[connections]]
client = "client"         # the host that does the active open
server = "server"
port = 80
open_at = "0s"            # when the client calls connect()
# open = "active"         active | simultaneous (both ends connect() to each other at open_at)
# client_port = 40000     fixed source port (default: the host's next ephemeral port)
client_sends = 0          # bytes the client writes once established
server_sends = 0          # bytes the server writes once it accepts
close = "client-first"    # client-first | server-first | simultaneous | client-abort | server-abort | none
# close_at = "2s"         required for simultaneous; otherwise the closer closes once its data is acknowledged
# count = 1000, interval = "1ms"   many identical connections from ephemeral ports

[expect]                  # every key optional; each becomes one named check
outcome = "closed"        # closed | refused | timeout | reset | incomplete, for every connection
established_within = "1.2s"
closed_within = "3s"
retransmissions = { SYN = 1, SYN-ACK = 0, FIN = 0 }   # summed over connections, by segment kind
sent = { RST = 0 }        # segments sent, by kind, summed over connections
retransmit_at = { SYN = ["1s", "3s"] }   # times of the retransmissions, from opened_ns
tolerance = "1ms"         # for every time comparison above (default 0: exact)
states = { client = ["SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSED"] }
final_state = { client = "CLOSED", server = "CLOSED" } # at the end of the run, for every
                          # connection of that host (listeners do not count)

[sweep]                   # used by `tcpsim sweep`
seeds = "1..=1000"
grid = { "links.0.loss" = [0.0, 0.01, 0.1] }
"#;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn sets(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, v)| (p.to_string(), v.to_string()))
        .collect()
}

#[test]
fn spec_example_parses_to_the_values_it_states() {
    let e = parse(SPEC_EXAMPLE, "configs/lost-syn.toml").unwrap();
    // Hosts are referred to by id: their index in [[hosts]].
    const CLIENT: HostId = 0;
    const SERVER: HostId = 1;
    let link_direction = LinkParams {
        delay: ms(50),
        jitter: Duration::ZERO,
        distribution: Distribution::Uniform,
        // `loss = 0.0` is no loss at all.
        loss: Loss::None,
        duplicate: 0.0,
        corrupt: 0.0,
        reorder: 0.0,
        reorder_gap: 1,
        rate_bps: Some(1_000_000_000),
        queue: 1000,
    };
    let expected = Experiment {
        name: "lost-syn".into(),
        description: "The client's first SYN is lost; the client retransmits it one RTO later."
            .into(),
        seed: 7,
        duration: secs(600),
        profile: Profile::Rfc,
        tcp: TcpOverrides {
            initial_rto: Some(secs(1)),
            ..TcpOverrides::default()
        },
        hosts: vec![
            Host {
                name: "client".into(),
                addr: Ipv4Addr::new(10, 0, 0, 1),
                listen: vec![],
                tcp: TcpOverrides::default(),
                ephemeral_ports: (49152, 65535),
            },
            Host {
                name: "server".into(),
                addr: Ipv4Addr::new(10, 0, 0, 2),
                listen: vec![80],
                tcp: TcpOverrides::default(),
                ephemeral_ports: (49152, 65535),
            },
        ]
        .into(),
        links: vec![Link {
            a: CLIENT,
            b: SERVER,
            a_to_b: link_direction.clone(),
            b_to_a: link_direction,
        }],
        faults: vec![Fault {
            action: FaultAction::Drop,
            from: Some(CLIENT),
            to: Some(SERVER),
            segment: vec![SegmentKind::Syn],
            nth: Some(vec![1]),
            start: None,
            end: None,
        }],
        connections: vec![tcpsim_runner::ConnectionSpec {
            client: CLIENT,
            server: SERVER,
            port: 80,
            open_at: Duration::ZERO,
            open: OpenMode::Active,
            client_port: None,
            client_sends: 0,
            server_sends: 0,
            close: CloseMode::ClientFirst,
            close_at: None,
            count: 1,
            interval: Duration::ZERO,
            client_app: None,
            server_app: None,
            client_socket: tcpsim_runner::SocketSpec::default(),
            server_socket: tcpsim_runner::SocketSpec::default(),
        }],
        expect: Expect {
            outcome: Some(Outcome::Closed),
            established_within: Some(ms(1200)),
            closed_within: Some(secs(3)),
            // File order, not alphabetical.
            retransmissions: vec![
                (SegmentKind::Syn, 1),
                (SegmentKind::SynAck, 0),
                (SegmentKind::Fin, 0),
            ],
            sent: vec![(SegmentKind::Rst, 0)],
            retransmit_at: vec![(SegmentKind::Syn, vec![secs(1), secs(3)])],
            tolerance: ms(1),
            states: vec![(
                CLIENT,
                vec![
                    State::SynSent,
                    State::Established,
                    State::FinWait1,
                    State::FinWait2,
                    State::TimeWait,
                    State::Closed,
                ],
            )],
            final_state: vec![(CLIENT, State::Closed), (SERVER, State::Closed)],
        },
        sweep: Some(std::sync::Arc::new(tcpsim_runner::Sweep {
            seeds: SeedRange::inclusive(1, 1000).unwrap(),
            grid: vec![(
                "links.0.loss".into(),
                vec![
                    toml::Value::Float(0.0),
                    toml::Value::Float(0.01),
                    toml::Value::Float(0.1),
                ],
            )],
        })),
    };
    assert_eq!(e, expected);
    // The profile's defaults with initial_rto = 1 s (which is rfc's anyway).
    assert_eq!(e.host_config(&e.hosts[0]), Config::rfc());
    let points = e.sweep.as_ref().unwrap().points();
    assert_eq!(points.len(), 3);
    assert_eq!(
        points[1],
        vec![("links.0.loss".to_string(), toml::Value::Float(0.01))]
    );
}

/// Two hosts; 8 lines, so the first line of a case appended to it is line 9.
const HOSTS: &str = r#"[[hosts]]
name = "client"
addr = "10.0.0.1"

[[hosts]]
name = "server"
addr = "10.0.0.2"
listen = [80]
"#;

#[test]
fn defaults_follow_spec() {
    let e = parse(HOSTS, "dir/some-test.toml").unwrap();
    assert_eq!(e.name, "some-test");
    assert_eq!(e.description, "");
    assert_eq!(e.seed, 1);
    assert_eq!(e.duration, Duration::from_secs(10 * 60));
    assert_eq!(e.profile, Profile::Rfc);
    assert_eq!(e.tcp, TcpOverrides::default());
    assert_eq!(e.hosts[0].ephemeral_ports, (49152, 65535));
    assert_eq!(e.hosts[0].listen, Vec::<u16>::new());
    assert!(e.links.is_empty() && e.faults.is_empty() && e.connections.is_empty());
    assert!(e.expect.is_empty());
    assert_eq!(e.expect.tolerance, Duration::ZERO);
    assert_eq!(e.sweep, None);
    // MSS 1460, receive window 65535 (SPEC §3 defaults); clock-driven ISNs
    // (SPEC §5, RFC 9293 §3.4.1 MUST-8), the secret from the host's stream.
    let c = e.host_config(&e.hosts[0]);
    assert_eq!((c.mss, c.recv_window, c.isn), (1460, None, IsnMode::Clock));

    let src = format!(
        "{HOSTS}[[links]]\na = \"client\"\nb = \"server\"\n\
         [[faults]]\naction = \"drop\"\n\
         [[connections]]\nclient = \"client\"\nserver = \"server\"\nport = 80\n"
    );
    let e = parse(&src, "x.toml").unwrap();
    assert_eq!(e.links[0].a_to_b, LinkParams::default());
    assert_eq!(
        LinkParams::default(),
        LinkParams {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            distribution: Distribution::Uniform,
            loss: Loss::None,
            duplicate: 0.0,
            corrupt: 0.0,
            reorder: 0.0,
            reorder_gap: 1,
            rate_bps: None,
            queue: 1000,
        }
    );
    let f = &e.faults[0];
    assert_eq!((f.from, f.to), (None, None));
    assert_eq!(f.segment, SegmentKind::ALL.to_vec());
    assert_eq!((f.nth.as_ref(), f.start, f.end), (None, None, None));
    let c = &e.connections[0];
    assert_eq!(c.open, OpenMode::Active);
    assert_eq!(c.close, CloseMode::ClientFirst);
    assert_eq!(
        (c.count, c.interval, c.open_at),
        (1, Duration::ZERO, Duration::ZERO)
    );
    assert_eq!(
        (c.client_sends, c.server_sends, c.client_port, c.close_at),
        (0, 0, None, None)
    );
}

#[test]
fn every_setting_can_be_written() {
    let src = format!(
        r#"{HOSTS}profile = "linux"
[tcp]
min_rto = "300ms"
max_rto = "30s"
syn_retries = 2
synack_retries = 3
syn_linear_timeouts = 1
fin_retries = 4
data_retries = 5
msl = "30s"
fin_wait_2_timeout = "none"
mss = 536
recv_window = 8192
delayed_ack = "0s"
isn = 1000
rst_in_time_wait = "ignore"

[[hosts]]
name = "third"
addr = "10.0.0.3"
listen = [22, 443]
ephemeral_ports = "1024-65535"
tcp = {{ syn_retries = 1, time_wait = "5s" }}

[[faults]]
action = "delay"
extra = "300ms"
segment = ["DATA", "SYN", "SYN"]
nth = [3, 1]
start = "2s"
end = "4s"

[[faults]]
action = "partition"
from = "client"
start = "1s"

[[connections]]
client = "third"
server = "client"
port = 7
open = "simultaneous"
client_port = 40000
client_sends = 100000
server_sends = 5
close = "simultaneous"
close_at = "2.5s"
count = 10
interval = "1ms"
"#
    )
    .replace("profile = \"linux\"\n[tcp]", "[tcp]");
    // `profile` must come before any table: put it at the top.
    let src = format!("profile = \"linux\"\n{src}");
    let e = parse(&src, "x.toml").unwrap();
    assert_eq!(e.profile, Profile::Linux);
    let third = e.host("third").unwrap();
    assert_eq!(third.listen, vec![22, 443]);
    assert_eq!(third.ephemeral_ports, (1024, 65535));
    let c = e.host_config(third);
    assert_eq!(c.profile, Profile::Linux);
    assert_eq!((c.min_rto, c.max_rto), (ms(300), secs(30)));
    // The host's syn_retries wins over the experiment's.
    assert_eq!(
        (c.syn_retries, c.synack_retries, c.syn_linear_timeouts),
        (Some(1), Some(3), 1)
    );
    assert_eq!((c.fin_retries, c.data_retries), (Some(4), Some(5)));
    assert_eq!(
        (c.msl, c.time_wait, c.fin_wait_2_timeout),
        (secs(30), secs(5), None)
    );
    assert_eq!(
        (c.mss, c.recv_window, c.delayed_ack),
        (536, Some(8192), Duration::ZERO)
    );
    assert_eq!(
        (c.isn, c.rst_in_time_wait),
        (IsnMode::Fixed(1000), RstInTimeWait::Ignore)
    );
    // A host without its own tcp table: linux TIME-WAIT stays 60 s despite msl.
    assert_eq!(e.host_config(&e.hosts[0]).time_wait, secs(60));

    let f = &e.faults[0];
    assert_eq!(f.action, FaultAction::Delay(ms(300)));
    // Classification order, no repeats.
    assert_eq!(f.segment, vec![SegmentKind::Syn, SegmentKind::Data]);
    assert_eq!(f.nth, Some(vec![1, 3]));
    assert_eq!((f.start, f.end), (Some(secs(2)), Some(secs(4))));
    let p = &e.faults[1];
    assert_eq!(p.action, FaultAction::Partition);
    assert_eq!((p.from, p.to), (e.host_id("client"), None));
    assert_eq!((p.start, p.end), (Some(secs(1)), None));

    let c = &e.connections[0];
    assert_eq!(
        (e.host_name(c.client), e.host_name(c.server), c.port),
        ("third", "client", 7)
    );
    assert_eq!(
        (c.open, c.client_port),
        (OpenMode::Simultaneous, Some(40000))
    );
    assert_eq!((c.client_sends, c.server_sends), (100_000, 5));
    assert_eq!(
        (c.close, c.close_at),
        (CloseMode::Simultaneous, Some(ms(2500)))
    );
    assert_eq!((c.count, c.interval), (10, ms(1)));
}

/// Each profile difference of SPEC §5 that is a behaviour, not a number, is
/// a `[tcp]` key: an `rfc` experiment can take every `linux` choice, host by
/// host, and a `linux` one every `rfc` choice.
#[test]
fn every_profile_behaviour_can_be_overridden() {
    let src = format!(
        r#"{HOSTS}
[tcp]
rto_formula = "linux"
retransmission_rtt = "sample"
abort_reset = "rst-ack"
duplicate_syn = "syn-ack"
ack_of_fin = "delayed"
quickacks = 16
syn_retry_count = "plus-linear"
data_retry_model = "linux-timeout"

[[hosts]]
name = "third"
addr = "10.0.0.3"
tcp = {{ quickacks = 2, abort_reset = "rst" }}
"#
    );
    let e = parse(&src, "x.toml").unwrap();
    assert_eq!(e.profile, Profile::Rfc);
    let c = e.host_config(e.host("client").unwrap());
    assert_eq!(c.profile, Profile::Rfc);
    assert_eq!(
        (c.rto_formula, c.retransmission_rtt, c.abort_reset),
        (
            RtoFormula::Linux,
            RetransmissionRtt::Sample,
            AbortReset::RstAck
        )
    );
    assert_eq!(
        (c.duplicate_syn, c.ack_of_fin, c.quickacks),
        (DuplicateSyn::SynAck, AckOfFin::Delayed, 16)
    );
    assert_eq!(
        (c.syn_retry_count, c.data_retry_model),
        (SynRetryCount::PlusLinear, RetryModel::LinuxTimeout)
    );
    // The host's own table wins over the experiment's, key by key.
    let third = e.host_config(e.host("third").unwrap());
    assert_eq!((third.quickacks, third.abort_reset), (2, AbortReset::Rst));
    assert_eq!(third.duplicate_syn, DuplicateSyn::SynAck);

    let src = format!(
        r#"profile = "linux"
{HOSTS}
[tcp]
rto_formula = "rfc6298"
retransmission_rtt = "karn"
abort_reset = "rst"
duplicate_syn = "ack"
ack_of_fin = "now"
quickacks = 0
syn_retry_count = "includes-linear"
data_retry_model = "count"
"#
    );
    let e = parse(&src, "x.toml").unwrap();
    let c = e.host_config(&e.hosts[0]);
    assert_eq!(c.profile, Profile::Linux);
    assert_eq!(
        (c.rto_formula, c.retransmission_rtt, c.abort_reset),
        (
            RtoFormula::Rfc6298,
            RetransmissionRtt::Karn,
            AbortReset::Rst
        )
    );
    assert_eq!(
        (c.duplicate_syn, c.ack_of_fin, c.quickacks),
        (DuplicateSyn::Ack, AckOfFin::Now, 0)
    );
    assert_eq!(
        (c.syn_retry_count, c.data_retry_model),
        (SynRetryCount::IncludesLinear, RetryModel::Count)
    );
    // Untouched: still the linux numbers.
    assert_eq!(c.min_rto, ms(200));
    assert_eq!(c.syn_linear_timeouts, 4);
}

/// The TCP-option fields of `Config` (RFC 7323 window scaling and
/// timestamps, RFC 2018 SACK, and how the windows are rounded) are `[tcp]`
/// keys: each can be set for the experiment and set back per host, and
/// nothing else moves.
#[test]
fn every_tcp_option_can_be_set_and_overridden_per_host() {
    let src = format!(
        r#"{HOSTS}
[tcp]
window_scale = 7
sack = true
timestamps = true
ts_clock = "10ms"
window_rounding = "up"
rttm = false
initial_window = "mss-multiple"

[[hosts]]
name = "third"
addr = "10.0.0.3"
tcp = {{ window_scale = "none", sack = false, timestamps = false, ts_clock = "1s", window_rounding = "down", rttm = true, initial_window = "exact" }}

[[hosts]]
name = "fourth"
addr = "10.0.0.4"
tcp = {{ window_scale = 14, rttm = true }}
"#
    );
    let e = parse(&src, "x.toml").unwrap();
    assert_eq!(e.profile, Profile::Rfc);
    assert_eq!(e.tcp.window_scale, Some(Some(7)));
    assert_eq!(
        (e.tcp.sack, e.tcp.timestamps, e.tcp.rttm),
        (Some(true), Some(true), Some(false))
    );
    // Every host without its own table: the rfc profile with the seven
    // experiment keys, nothing else.
    let experiment = Config {
        window_scale: Some(7),
        sack: true,
        timestamps: true,
        ts_clock: ms(10),
        window_rounding: WindowRounding::Up,
        rttm: false,
        initial_window: InitialWindow::MssMultiple,
        ..Config::rfc()
    };
    assert_eq!(e.host_config(e.host("client").unwrap()), experiment);
    assert_eq!(e.host_config(e.host("server").unwrap()), experiment);
    // The third host sets each key back; only its ts_clock differs from rfc.
    let third = e.host("third").unwrap();
    assert_eq!(third.tcp.window_scale, Some(None));
    assert_eq!(
        e.host_config(third),
        Config {
            ts_clock: secs(1),
            ..Config::rfc()
        }
    );
    // The fourth overrides two keys and keeps the experiment's others.
    assert_eq!(
        e.host_config(e.host("fourth").unwrap()),
        Config {
            window_scale: Some(14),
            rttm: true,
            ..experiment
        }
    );

    // Under linux (which offers all three options, shift 10, rounding up,
    // SYN windows a multiple of the payload), the other way round; 0 is a
    // shift (scaling with factor 1), not the absence of the option.
    let src = format!(
        r#"profile = "linux"
{HOSTS}
[tcp]
window_scale = 0
sack = false
timestamps = false
window_rounding = "down"
rttm = true
initial_window = "exact"

[[hosts]]
name = "third"
addr = "10.0.0.3"
tcp = {{ window_scale = 10, sack = true, timestamps = true, ts_clock = "4ms", window_rounding = "up", rttm = false, initial_window = "mss-multiple" }}
"#
    );
    let e = parse(&src, "x.toml").unwrap();
    let experiment = Config {
        window_scale: Some(0),
        sack: false,
        timestamps: false,
        window_rounding: WindowRounding::Down,
        rttm: true,
        initial_window: InitialWindow::Exact,
        ..Config::linux()
    };
    assert_eq!(e.host_config(&e.hosts[0]), experiment);
    assert_eq!(
        e.host_config(e.host("third").unwrap()),
        Config {
            ts_clock: ms(4),
            ..Config::linux()
        }
    );
    // Without any of the keys, each profile's defaults are untouched.
    let e = parse(&format!("profile = \"linux\"\n{HOSTS}"), "x.toml").unwrap();
    assert_eq!(e.host_config(&e.hosts[0]), Config::linux());
}

/// `--set` reaches the TCP-option keys the way it reaches every other
/// key: a bare number, boolean or word, for the experiment or one host.
#[test]
fn tcp_options_can_be_set_on_the_command_line() {
    let e = parse_with_overrides(
        HOSTS,
        "x.toml",
        &sets(&[
            ("tcp.window_scale", "7"),
            ("tcp.sack", "true"),
            ("tcp.timestamps", "true"),
            ("tcp.ts_clock", "4ms"),
            ("tcp.window_rounding", "up"),
            ("tcp.rttm", "false"),
            ("tcp.initial_window", "mss-multiple"),
            ("hosts.1.tcp.window_scale", "none"),
            ("hosts.1.tcp.sack", "false"),
        ]),
    )
    .unwrap();
    assert_eq!(
        e.tcp,
        TcpOverrides {
            window_scale: Some(Some(7)),
            sack: Some(true),
            timestamps: Some(true),
            ts_clock: Some(ms(4)),
            window_rounding: Some(WindowRounding::Up),
            rttm: Some(false),
            initial_window: Some(InitialWindow::MssMultiple),
            ..TcpOverrides::default()
        }
    );
    let client = e.host_config(&e.hosts[0]);
    assert_eq!(
        (client.window_scale, client.sack, client.timestamps),
        (Some(7), true, true)
    );
    let server = e.host_config(&e.hosts[1]);
    assert_eq!(
        (server.window_scale, server.sack, server.timestamps),
        (None, false, true)
    );
    // The quoted forms are the same values.
    let e = parse_with_overrides(
        HOSTS,
        "x.toml",
        &sets(&[("tcp.window_scale", "\"none\""), ("tcp.ts_clock", "\"1s\"")]),
    )
    .unwrap();
    assert_eq!(
        (e.tcp.window_scale, e.tcp.ts_clock),
        (Some(None), Some(secs(1)))
    );
}

#[test]
fn bad_tcp_option_sets_name_the_set() {
    bad_set(
        HOSTS,
        &[("tcp.window_scale", "15")],
        "--set tcp.window_scale=15: tcp.window_scale: expected a window-scale shift between 0 and 14 \
         (RFC 7323 §2.3) or \"none\", found 15",
    );
    bad_set(
        HOSTS,
        &[("tcp.window_scale", "off")],
        "--set tcp.window_scale=off: tcp.window_scale: expected a window-scale shift between 0 and 14 \
         (RFC 7323 §2.3) or \"none\", found \"off\"",
    );
    bad_set(
        HOSTS,
        &[("hosts.0.tcp.sack", "yes")],
        "--set hosts.0.tcp.sack=yes: hosts.0.tcp.sack: expected true or false, found \"yes\"",
    );
    bad_set(
        HOSTS,
        &[("tcp.ts_clock", "0ms")],
        "--set tcp.ts_clock=0ms: tcp.ts_clock: expected a duration longer than zero, found \"0ms\"",
    );
    bad_set(
        HOSTS,
        &[("tcp.initial_window", "mss")],
        "--set tcp.initial_window=mss: tcp.initial_window: expected one of \"exact\" | \"mss-multiple\", \
         found \"mss\"",
    );
}

#[test]
fn direction_tables_override_the_link_key_by_key() {
    let src = format!(
        r#"{HOSTS}
[[links]]
a = "client"
b = "server"
delay = "50ms"
loss = 0.1
rate = "10Mbit"

[links.a_to_b]
delay = "80ms"
jitter = "5ms"
distribution = "pareto"

[links.b_to_a]
loss = {{ model = "gilbert-elliott", p = 0.01, r = 0.5, h = 0.25, k = 0.875 }}
rate = "unlimited"
queue = 5
"#
    );
    let e = parse(&src, "x.toml").unwrap();
    let l = &e.links[0];
    assert_eq!(l.a_to_b.delay, ms(80));
    assert_eq!(l.a_to_b.jitter, ms(5));
    assert_eq!(l.a_to_b.distribution, Distribution::Pareto);
    // Not overridden: from the link.
    assert_eq!(l.a_to_b.loss, Loss::Bernoulli(0.1));
    assert_eq!(l.a_to_b.rate_bps, Some(10_000_000));
    assert_eq!(l.a_to_b.queue, 1000);

    assert_eq!(l.b_to_a.delay, ms(50));
    assert_eq!(l.b_to_a.jitter, Duration::ZERO);
    assert_eq!(l.b_to_a.distribution, Distribution::Uniform);
    assert_eq!(
        l.b_to_a.loss,
        Loss::GilbertElliott {
            p: 0.01,
            r: 0.5,
            h: 0.25,
            k: 0.875
        }
    );
    assert_eq!(l.b_to_a.rate_bps, None);
    assert_eq!(l.b_to_a.queue, 5);
    let (client, server) = (e.host_id("client").unwrap(), e.host_id("server").unwrap());
    assert_eq!(e.link(server, client), Some(l));
    assert_eq!(l.from(server), Some(&l.b_to_a));
}

#[test]
fn gilbert_elliott_defaults_are_tcs() {
    // iproute2 q_netem.c, "gemodel": r defaults to 1 - p, 1-h to 100 % and 1-k to 0 %.
    let src = format!(
        "{HOSTS}[[links]]\na = \"client\"\nb = \"server\"\nloss = {{ model = \"gilbert-elliott\", p = 0.25 }}\n"
    );
    let e = parse(&src, "x.toml").unwrap();
    assert_eq!(
        e.links[0].a_to_b.loss,
        Loss::GilbertElliott {
            p: 0.25,
            r: 0.75,
            h: 0.0,
            k: 1.0
        }
    );
}

#[test]
fn set_overrides_change_the_document_before_validation() {
    let src = format!(
        "{HOSTS}[[links]]\na = \"client\"\nb = \"server\"\n\
         [[connections]]\nclient = \"client\"\nserver = \"server\"\nport = 80\n"
    );
    let e = parse_with_overrides(
        &src,
        "x.toml",
        &sets(&[
            ("links.0.loss", "0.2"),
            ("tcp.initial_rto", "3s"),
            ("tcp.syn_retries", "3"),
            ("seed", "42"),
            ("hosts.1.listen", "[80, 443]"),
            ("connections.0.client_sends", "1000"),
            ("hosts.0.addr", "10.0.0.9"),
            ("name", "renamed"),
            ("links.0.a_to_b.delay", "\"5ms\""),
            ("hosts.0.tcp.mss", "1000"),
            ("expect.outcome", "refused"),
            ("sweep.seeds", "1..10"),
        ]),
    )
    .unwrap();
    assert_eq!(e.links[0].a_to_b.loss, Loss::Bernoulli(0.2));
    assert_eq!(e.links[0].a_to_b.delay, ms(5));
    assert_eq!(e.links[0].b_to_a.delay, Duration::ZERO);
    assert_eq!(e.tcp.initial_rto, Some(secs(3)));
    assert_eq!(e.tcp.syn_retries, Some(3));
    assert_eq!(e.seed, 42);
    assert_eq!(e.hosts[1].listen, vec![80, 443]);
    assert_eq!(e.connections[0].client_sends, 1000);
    assert_eq!(e.hosts[0].addr, Ipv4Addr::new(10, 0, 0, 9));
    assert_eq!(e.name, "renamed");
    assert_eq!(e.hosts[0].tcp.mss, Some(1000));
    assert_eq!(e.expect.outcome, Some(Outcome::Refused));
    assert_eq!(e.sweep.unwrap().seeds, SeedRange::inclusive(1, 9).unwrap());

    // Later overrides win.
    let e = parse_with_overrides(HOSTS, "x.toml", &sets(&[("seed", "5"), ("seed", "6")])).unwrap();
    assert_eq!(e.seed, 6);
    // The sweep's default seeds follow the overridden seed.
    let e = parse_with_overrides(
        HOSTS,
        "x.toml",
        &sets(&[("seed", "9"), ("sweep.grid.seed", "[1, 2]")]),
    )
    .unwrap();
    assert_eq!(e.sweep.unwrap().seeds, SeedRange::single(9));
}

/// Asserts that `--set` overrides fail with exactly `display`.
fn bad_set(source: &str, list: &[(&str, &str)], display: &str) {
    let err = parse_with_overrides(source, "x.toml", &sets(list))
        .expect_err(&format!("{list:?} should be rejected"));
    assert_eq!(err.to_string(), display, "for {list:?}");
    assert_eq!((err.line(), err.column()), (None, None), "for {list:?}");
    assert!(matches!(err.location(), Location::Set { .. }));
}

#[test]
fn bad_set_overrides_name_the_set() {
    let src = format!("{HOSTS}[[links]]\na = \"client\"\nb = \"server\"\n");
    bad_set(
        &src,
        &[("links.0.loss", "1.5")],
        "--set links.0.loss=1.5: links.0.loss: expected a probability between 0 and 1, found 1.5",
    );
    bad_set(
        &src,
        &[("links.1.loss", "0.1")],
        "--set links.1.loss=0.1: links.1: expected an index of `links` from 0 to 0, found \"1\"",
    );
    bad_set(
        &src,
        &[("faults.0.action", "drop")],
        "--set faults.0.action=drop: faults.0: the file has no `faults`: expected a path into a table or array it has (--set changes an element of an array, it does not add one)",
    );
    bad_set(
        &src,
        &[("tcp.initial_rtoo", "1s")],
        "--set tcp.initial_rtoo=1s: tcp.initial_rtoo: unknown key \"initial_rtoo\" (did you mean \"initial_rto\"?); \
         expected one of: initial_rto, min_rto, max_rto, syn_retries, synack_retries, syn_linear_timeouts, \
         fin_retries, data_retries, msl, time_wait, fin_wait_2_timeout, mss, recv_window, recv_buffer, recv_buffer_max, recv_memory, shrink_window, \
         delayed_ack, isn, \
         isn_clock, rst_in_time_wait, rto_formula, retransmission_rtt, abort_reset, duplicate_syn, ack_of_fin, \
         quickacks, syn_retry_count, data_retry_model, window_scale, sack, timestamps, ts_clock, \
         window_rounding, rttm, initial_window, ack_above_snd_nxt, fin_in_zero_window, kernel_tick, \
         timer_wheel, tick_clock_at_zero, invalid_ack_interval, persist_give_up, half_open_rst_syn, simultaneous_synack, \
         time_wait_segments, ts_recent_update, fin_sack, push, user_timeout, send_buffer, \
         send_buffer_overhead, congestion_control, initial_cwnd, loss_recovery, cwnd_accounting, nagle, send_buffer_max, tso_defer",
    );
    bad_set(
        &format!("seed = 3\n{src}"),
        &[("seed.x", "1")],
        "--set seed.x=1: seed.x: `seed` is an integer, not a table or an array",
    );
    // Without a seed in the file, `seed.x` makes `seed` a table.
    bad_set(
        &src,
        &[("seed.x", "1")],
        "--set seed.x=1: seed: expected a seed between 0 and 9223372036854775807 (2^63 - 1), found a table",
    );
    bad_set(
        &src,
        &[("tcp.initial_rto", "3")],
        "--set tcp.initial_rto=3: tcp.initial_rto: expected a duration string with a unit, like \"250ms\" or \"1.5s\", found 3",
    );
    bad_set(
        &src,
        &[("tcp.initial_rto", "3")],
        "--set tcp.initial_rto=3: tcp.initial_rto: expected a duration string with a unit, like \"250ms\" or \"1.5s\", found 3",
    );
    bad_set(
        &src,
        &[("links..loss", "0")],
        "--set links..loss=0: expected a dotted path like links.0.loss or tcp.initial_rto, found \"links..loss\"",
    );
    bad_set(
        &src,
        &[("hosts.1.name", "client")],
        "--set hosts.1.name=client: hosts.1.name: duplicate host name \"client\": expected a name not used before (hosts.0, line 2)",
    );
    bad_set(
        &src,
        &[("seed", "99999999999999999999")],
        "--set seed=99999999999999999999: seed: expected a seed between 0 and 9223372036854775807 (2^63 - 1), \
         found 99999999999999999999",
    );
    bad_set(
        &src,
        &[("seed", "1000000000000000000000000000000000000000000")],
        "--set seed=1000000000000000000000000000000000000000000: expected an integer that fits in 64 bits, \
         found 1000000000000000000000000000000000000000000",
    );
    // Only the second override is wrong.
    bad_set(
        &src,
        &[("seed", "3"), ("links.0.queue", "0")],
        "--set links.0.queue=0: links.0.queue: expected a queue between 1 and 4294967295 (2^32 - 1) packets, found 0",
    );
}

#[test]
fn a_set_can_break_a_reference_in_the_file() {
    // Renaming a host makes the file's link point at a host that is gone:
    // the error is the file's, at the link's `b` (line 11, column 5).
    let src = format!("{HOSTS}[[links]]\na = \"client\"\nb = \"server\"\n");
    let err = parse_with_overrides(&src, "x.toml", &sets(&[("hosts.1.name", "srv")])).unwrap_err();
    assert_eq!((err.line(), err.column()), (Some(11), Some(5)));
    assert!(err.message().contains("unknown host \"server\""), "{err}");
}

/// Every file the tests below change: two hosts listed server first, so a
/// host's id (its index in `[[hosts]]`) is not the order it is named in.
const REFERENCES: &str = r#"[[hosts]]
name = "server"
addr = "10.0.0.2"
listen = [80]

[[hosts]]
name = "client"
addr = "10.0.0.1"

[[links]]
a = "client"
b = "server"

[[faults]]
action = "drop"
from = "client"
to = "server"

[[connections]]
client = "client"
server = "server"
port = 80

[expect]
final_state = { server = "CLOSED" }
"#;

#[test]
fn host_references_are_resolved_to_ids_once() {
    let e = parse(REFERENCES, "x.toml").unwrap();
    let (server, client) = (0, 1);
    assert_eq!((e.links[0].a, e.links[0].b), (client, server));
    assert_eq!(
        (e.faults[0].from, e.faults[0].to),
        (Some(client), Some(server))
    );
    let c = &e.connections[0];
    assert_eq!((c.client, c.server), (client, server));
    assert_eq!(e.expect.final_state, vec![(server, State::Closed)]);
    // The workloads the engine runs use the same ids: no name is looked
    // up after parsing, so none can be missing (formerly an unknown name
    // became host 0).
    let w = &tcpsim_runner::build::workloads(&e)[0];
    assert_eq!((w.client, w.server), (client, server));
}

#[test]
fn a_set_cannot_point_a_reference_at_an_unknown_host() {
    // Each override goes through the same resolution as the file, with
    // the error located at the --set.
    for (path, display) in [
        (
            "links.0.a",
            "--set links.0.a=nobody: links.0.a: unknown host \"nobody\": expected one of \"server\", \"client\"",
        ),
        (
            "links.0.b",
            "--set links.0.b=nobody: links.0.b: unknown host \"nobody\": expected one of \"server\", \"client\"",
        ),
        (
            "faults.0.from",
            "--set faults.0.from=nobody: faults.0.from: unknown host \"nobody\": expected one of \"server\", \"client\"",
        ),
        (
            "faults.0.to",
            "--set faults.0.to=nobody: faults.0.to: unknown host \"nobody\": expected one of \"server\", \"client\"",
        ),
        (
            "connections.0.client",
            "--set connections.0.client=nobody: connections.0.client: unknown host \"nobody\": expected one of \"server\", \"client\"",
        ),
        (
            "connections.0.server",
            "--set connections.0.server=nobody: connections.0.server: unknown host \"nobody\": expected one of \"server\", \"client\"",
        ),
    ] {
        bad_set(REFERENCES, &[(path, "nobody")], display);
    }
    // Renaming a host leaves the file's references to it dangling: the
    // first is an error at the file's text (links.0.a, line 11), not a
    // run against some other host.
    let err = parse_with_overrides(REFERENCES, "x.toml", &sets(&[("hosts.1.name", "renamed")]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "x.toml:11:5: links.0.a: unknown host \"client\": expected one of \"server\", \"renamed\""
    );
    // Without the link and the fault, the connection is the first to break.
    let no_link = REFERENCES.replace("[[links]]\na = \"client\"\nb = \"server\"\n", "");
    let no_link = no_link.replace(
        "[[faults]]\naction = \"drop\"\nfrom = \"client\"\nto = \"server\"\n",
        "",
    );
    let err = parse_with_overrides(&no_link, "x.toml", &sets(&[("hosts.1.name", "renamed")]))
        .unwrap_err();
    assert_eq!(err.key(), Some("connections.0.client"), "{err}");
    assert!(
        err.message().starts_with("unknown host \"client\""),
        "{err}"
    );
    // And `[expect]`'s host keys too.
    let err = parse_with_overrides(
        REFERENCES,
        "x.toml",
        &sets(&[
            ("hosts.0.name", "srv"),
            ("links.0.b", "srv"),
            ("faults.0.to", "srv"),
            ("connections.0.server", "srv"),
        ]),
    )
    .unwrap_err();
    assert_eq!(err.key(), Some("expect.final_state.server"), "{err}");
    assert!(
        err.message().starts_with("unknown host \"server\""),
        "{err}"
    );
}

#[test]
fn a_grid_point_cannot_point_a_reference_at_an_unknown_host() {
    // Every grid value is resolved when the file is read, so a sweep
    // never builds a point with a host that does not exist. The error is
    // at the grid's value: `grid = { ` 9 + the path 22 + ` = [` 4 +
    // `"server", ` 10 = 45.
    let src = format!(
        "{REFERENCES}\n[sweep]\ngrid = {{ \"connections.0.server\" = [\"server\", \"nobody\"] }}\n"
    );
    let err = parse(&src, "x.toml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "x.toml:28:46: connections.0.server: unknown host \"nobody\": expected one of \"server\", \"client\""
    );
}

#[test]
fn a_hand_built_experiment_with_an_unknown_host_id_does_not_build() {
    // The model's fields are public: an id that is no host's is the
    // engine's build error, not a run against host 0.
    let mut e = parse(REFERENCES, "x.toml").unwrap();
    e.connections[0].server = 7;
    let err = tcpsim_runner::build::blueprint(&e, tcpsim_runner::build::Keep::ALL).unwrap_err();
    assert_eq!(err.to_string(), "unknown host #7");
    let mut e = parse(REFERENCES, "x.toml").unwrap();
    e.links[0].b = 2;
    let err = tcpsim_runner::build::blueprint(&e, tcpsim_runner::build::Keep::ALL).unwrap_err();
    assert_eq!(err.to_string(), "unknown host #2");
}

#[test]
fn units_are_exact() {
    assert_eq!(parse_duration("1.5s").unwrap().as_nanos(), 1_500_000_000);
    assert_eq!(parse_duration("250us").unwrap().as_nanos(), 250_000);
    assert_eq!(parse_duration("2min").unwrap().as_nanos(), 120_000_000_000);
    assert_eq!(parse_duration("1.2s").unwrap().as_nanos(), 1_200_000_000);
    assert_eq!(parse_duration("0.3ms").unwrap().as_nanos(), 300_000);
    assert_eq!(
        parse_duration("1.5h").unwrap().as_nanos(),
        5_400_000_000_000
    );
    assert_eq!(parse_rate("10Mbit"), Ok(10_000_000));
    assert_eq!(parse_rate("1Gbit"), Ok(1_000_000_000));
    assert_eq!(parse_rate("64kbit"), Ok(64_000));
    assert_eq!(parse_rate("1000bit"), Ok(1000));
    assert_eq!(parse_rate("2.5mbit"), Ok(2_500_000));
    assert_eq!("1..=1000".parse::<SeedRange>().unwrap().len(), 1000);
    assert_eq!("1..1000".parse::<SeedRange>().unwrap().len(), 999);

    // In a file, durations go through the same parser.
    let src = format!("{HOSTS}duration = \"1.000000001s\"\n");
    let err = parse(&src, "x.toml").unwrap_err();
    // `duration` after a table header belongs to the table: the error says so.
    assert!(err.message().contains("unknown key \"duration\""), "{err}");
    let e = parse(&format!("duration = \"1.000000001s\"\n{HOSTS}"), "x.toml").unwrap();
    assert_eq!(e.duration.as_nanos(), 1_000_000_001);
}

/// Asserts that `source` is rejected at `line:column`, about `key`, with a
/// message containing `fragment`.
#[track_caller]
fn bad(source: &str, line: usize, column: usize, key: Option<&str>, fragment: &str) -> ConfigError {
    let err = parse(source, "bad.toml").expect_err("should be rejected");
    assert_eq!(
        (err.line(), err.column()),
        (Some(line), Some(column)),
        "wrong location for {err}"
    );
    assert_eq!(err.key(), key, "wrong key for {err}");
    assert!(
        err.message().contains(fragment),
        "{err:?} lacks {fragment:?}"
    );
    assert!(
        err.message().contains("expected"),
        "{err} does not say what was expected"
    );
    assert_eq!(err.file(), "bad.toml");
    let prefix = format!("bad.toml:{line}:{column}: ");
    assert!(err.to_string().starts_with(&prefix), "{err}");
    err
}

/// HOSTS followed by `case`, whose first line is line 9.
fn with_hosts(case: &str) -> String {
    format!("{HOSTS}{case}")
}

#[test]
fn syntax_and_document_errors() {
    bad("", 1, 1, None, "the file is empty");
    bad("# only a comment\n\n", 1, 1, None, "the file is empty");
    // "seed = " is 7 characters: the missing value is at column 8.
    bad("name = \"x\"\nseed = \n", 2, 8, None, "invalid TOML");
    bad(
        "seed = 1\nseed = 2\n",
        2,
        1,
        None,
        "duplicate key \"seed\": expected each key once",
    );
    bad(
        "name = \"x\"\n",
        1,
        1,
        Some("hosts"),
        "at least one [[hosts]] table",
    );
    bad(
        "[hosts]\nname = \"a\"\n",
        1,
        1,
        Some("hosts"),
        "expected an array of [[hosts]] tables, found a table",
    );
    bad(
        "hosts = []\n",
        1,
        9,
        Some("hosts"),
        "at least one [[hosts]] table",
    );
    bad(
        &format!("seed = 1{}\n", "0".repeat(40)),
        1,
        8,
        None,
        "fits in 64 bits",
    );
    // A byte-order mark takes no column.
    bad(
        &format!("\u{feff}seed = -1\n{HOSTS}"),
        1,
        8,
        Some("seed"),
        "found -1",
    );
    // Windows line ends: "listen = [" is 10 characters.
    bad(
        "[[hosts]]\r\nname = \"a\"\r\naddr = \"10.0.0.1\"\r\nlisten = [0]\r\n",
        4,
        11,
        Some("hosts.0.listen.0"),
        "found 0",
    );
    // An inline array of inline tables: the missing key is at the second "{", column 45.
    bad(
        "hosts = [{ name = \"a\", addr = \"10.0.0.1\" }, { name = \"b\" }]\n",
        1,
        45,
        Some("hosts.1.addr"),
        "missing key",
    );
}

#[test]
fn top_level_errors() {
    let e = bad(
        &format!("sed = 3\n{HOSTS}"),
        1,
        1,
        Some("sed"),
        "unknown key \"sed\"",
    );
    assert!(e.message().contains("did you mean \"seed\""), "{e}");
    bad(
        &format!("seed = -1\n{HOSTS}"),
        1,
        8,
        Some("seed"),
        "expected a seed between 0 and 9223372036854775807",
    );
    bad(
        &format!("seed = \"7\"\n{HOSTS}"),
        1,
        8,
        Some("seed"),
        "found \"7\"",
    );
    bad(
        &format!("seed = 9223372036854775808\n{HOSTS}"),
        1,
        8,
        Some("seed"),
        "found 9223372036854775808",
    );
    // "duration = " is 11 characters.
    bad(
        &format!("duration = \"10\"\n{HOSTS}"),
        1,
        12,
        Some("duration"),
        "missing unit",
    );
    bad(
        &format!("duration = \"-5s\"\n{HOSTS}"),
        1,
        12,
        Some("duration"),
        "non-negative",
    );
    bad(
        &format!("duration = \"0s\"\n{HOSTS}"),
        1,
        12,
        Some("duration"),
        "longer than zero",
    );
    // "profile = " is 10 characters.
    bad(
        &format!("profile = \"bsd\"\n{HOSTS}"),
        1,
        11,
        Some("profile"),
        "expected one of \"rfc\" | \"linux\", found \"bsd\"",
    );
}

#[test]
fn tcp_errors() {
    bad(
        &with_hosts("[tcp]\ninitial_rot = \"1s\"\n"),
        10,
        1,
        Some("tcp.initial_rot"),
        "unknown key",
    );
    // "recv_window = " is 14 characters.
    bad(
        &with_hosts("[tcp]\nrecv_window = 70000\n"),
        10,
        15,
        Some("tcp.recv_window"),
        "receive window between 1 and 65535",
    );
    // "isn = " is 6.
    bad(
        &with_hosts("[tcp]\nisn = \"sequential\"\n"),
        10,
        7,
        Some("tcp.isn"),
        "\"clock\", \"random\" or an initial sequence number",
    );
    bad(
        &with_hosts("[tcp]\nisn = 4294967296\n"),
        10,
        7,
        Some("tcp.isn"),
        "between 0 and 4294967295",
    );
    // "rst_in_time_wait = " is 19.
    bad(
        &with_hosts("[tcp]\nrst_in_time_wait = \"drop\"\n"),
        10,
        20,
        Some("tcp.rst_in_time_wait"),
        "\"close\" | \"ignore\"",
    );
    // "fin_wait_2_timeout = " is 21.
    bad(
        &with_hosts("[tcp]\nfin_wait_2_timeout = 5\n"),
        10,
        22,
        Some("tcp.fin_wait_2_timeout"),
        "or \"none\"",
    );
    bad(
        &with_hosts("[tcp]\ninitial_rto = \"0s\"\n"),
        10,
        15,
        Some("tcp.initial_rto"),
        "longer than zero",
    );
    bad(
        &with_hosts("[tcp]\nmss = 0\n"),
        10,
        7,
        Some("tcp.mss"),
        "an MSS between 1 and 65495",
    );
}

/// A bad value of each profile-behaviour key: where it is, and the message
/// in full ("expected" what the key takes, "found" what was written).
#[test]
fn tcp_profile_behaviour_errors() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "rto_formula",
            "\"rfc\"",
            "expected one of \"rfc6298\" | \"linux\", found \"rfc\"",
        ),
        (
            "retransmission_rtt",
            "true",
            "expected one of \"karn\" | \"sample\", found true",
        ),
        (
            "abort_reset",
            "\"rst+ack\"",
            "expected one of \"rst\" | \"rst-ack\", found \"rst+ack\"",
        ),
        (
            "duplicate_syn",
            "\"synack\"",
            "expected one of \"ack\" | \"syn-ack\", found \"synack\"",
        ),
        (
            "ack_of_fin",
            "\"later\"",
            "expected one of \"now\" | \"delayed\", found \"later\"",
        ),
        (
            "quickacks",
            "256",
            "expected a quick-ACK count between 0 and 255, found 256",
        ),
        (
            "syn_retry_count",
            "\"linear\"",
            "expected one of \"includes-linear\" | \"plus-linear\", found \"linear\"",
        ),
        (
            "data_retry_model",
            "\"time\"",
            "expected one of \"count\" | \"linux-timeout\", found \"time\"",
        ),
    ];
    for (key, value, message) in cases {
        // The value starts after "KEY = ".
        let column = key.len() + 4;
        let err = bad(
            &with_hosts(&format!("[tcp]\n{key} = {value}\n")),
            10,
            column,
            Some(&format!("tcp.{key}")),
            message,
        );
        assert_eq!(err.message(), *message, "{key}");
    }
}

/// A bad value of each TCP-option key, in `[tcp]`: where it is, and the
/// message in full.
#[test]
fn tcp_option_errors() {
    const SHIFT: &str =
        "expected a window-scale shift between 0 and 14 (RFC 7323 §2.3) or \"none\"";
    let shift = |found: &str| format!("{SHIFT}, found {found}");
    let cases: &[(&str, &str, String)] = &[
        // RFC 7323 §2.3: the shift count MUST be limited to 14.
        ("window_scale", "15", shift("15")),
        ("window_scale", "255", shift("255")),
        ("window_scale", "-1", shift("-1")),
        // "none" is the one spelling of no window scaling.
        ("window_scale", "false", shift("false")),
        ("window_scale", "\"off\"", shift("\"off\"")),
        ("window_scale", "\"7\"", shift("\"7\"")),
        ("window_scale", "7.0", shift("7.0")),
        (
            "sack",
            "\"yes\"",
            "expected true or false, found \"yes\"".into(),
        ),
        ("timestamps", "1", "expected true or false, found 1".into()),
        (
            "rttm",
            "\"true\"",
            "expected true or false, found \"true\"".into(),
        ),
        (
            "ts_clock",
            "\"0s\"",
            "expected a duration longer than zero, found \"0s\"".into(),
        ),
        (
            "ts_clock",
            "1",
            "expected a duration string with a unit, like \"250ms\" or \"1.5s\", found 1".into(),
        ),
        (
            "ts_clock",
            "\"1\"",
            "expected a duration with a unit (ns, us, ms, s, min, h) like \"250ms\", found \"1\" \
             (missing unit)"
                .into(),
        ),
        (
            "window_rounding",
            "\"nearest\"",
            "expected one of \"down\" | \"up\", found \"nearest\"".into(),
        ),
        (
            "initial_window",
            "\"mss_multiple\"",
            "expected one of \"exact\" | \"mss-multiple\", found \"mss_multiple\"".into(),
        ),
    ];
    for (key, value, message) in cases {
        // The value starts after "KEY = ".
        let column = key.len() + 4;
        let err = bad(
            &with_hosts(&format!("[tcp]\n{key} = {value}\n")),
            10,
            column,
            Some(&format!("tcp.{key}")),
            message,
        );
        assert_eq!(err.message(), message.as_str(), "{key} = {value}");
        assert_eq!(
            err.to_string(),
            format!("bad.toml:10:{column}: tcp.{key}: {message}")
        );
    }
}

/// The same values are errors in a host's `tcp = { ... }`, located at the
/// value inside the inline table.
#[test]
fn host_tcp_option_errors() {
    let host = "[[hosts]]\nname = \"client\"\naddr = \"10.0.0.1\"\n";
    // "tcp = { window_scale = " is 23 characters.
    let err = bad(
        &format!("{host}tcp = {{ window_scale = 15 }}\n"),
        4,
        24,
        Some("hosts.0.tcp.window_scale"),
        "between 0 and 14 (RFC 7323 §2.3)",
    );
    assert_eq!(
        err.to_string(),
        "bad.toml:4:24: hosts.0.tcp.window_scale: expected a window-scale shift between 0 and 14 \
         (RFC 7323 §2.3) or \"none\", found 15"
    );
    // "tcp = { sack = true, timestamps = " is 34 characters.
    let err = bad(
        &format!("{host}tcp = {{ sack = true, timestamps = \"on\" }}\n"),
        4,
        35,
        Some("hosts.0.tcp.timestamps"),
        "true or false",
    );
    assert_eq!(
        err.to_string(),
        "bad.toml:4:35: hosts.0.tcp.timestamps: expected true or false, found \"on\""
    );
    // "tcp = { ts_clock = " is 19.
    let err = bad(
        &format!("{host}tcp = {{ ts_clock = \"0ns\" }}\n"),
        4,
        20,
        Some("hosts.0.tcp.ts_clock"),
        "longer than zero",
    );
    assert_eq!(
        err.to_string(),
        "bad.toml:4:20: hosts.0.tcp.ts_clock: expected a duration longer than zero, found \"0ns\""
    );
    // "tcp = { window_rounding = " is 26; "tcp = { initial_window = " is 25.
    bad(
        &format!("{host}tcp = {{ window_rounding = \"Up\" }}\n"),
        4,
        27,
        Some("hosts.0.tcp.window_rounding"),
        "expected one of \"down\" | \"up\", found \"Up\"",
    );
    bad(
        &format!("{host}tcp = {{ initial_window = 1460 }}\n"),
        4,
        26,
        Some("hosts.0.tcp.initial_window"),
        "expected one of \"exact\" | \"mss-multiple\", found 1460",
    );
    // "tcp = { rttm = " is 15.
    bad(
        &format!("{host}tcp = {{ rttm = 0 }}\n"),
        4,
        16,
        Some("hosts.0.tcp.rttm"),
        "expected true or false, found 0",
    );
    // A misspelt key is caught like any other, with the hint.
    let err = bad(
        &format!("{host}tcp = {{ window-scale = 7 }}\n"),
        4,
        9,
        Some("hosts.0.tcp.window-scale"),
        "unknown key \"window-scale\" (did you mean \"window_scale\"?)",
    );
    assert!(
        err.message()
            .ends_with("push, user_timeout, send_buffer, send_buffer_overhead, congestion_control, initial_cwnd, loss_recovery, cwnd_accounting, nagle, send_buffer_max, tso_defer"),
        "{err}"
    );
}

#[test]
fn host_errors() {
    let two = |second_name: &str, second_addr: &str| {
        format!(
            "[[hosts]]\nname = \"a\"\naddr = \"10.0.0.1\"\n[[hosts]]\nname = \"{second_name}\"\naddr = \"{second_addr}\"\n"
        )
    };
    bad(
        &two("a", "10.0.0.2"),
        5,
        8,
        Some("hosts.1.name"),
        "duplicate host name \"a\"",
    );
    bad(
        &two("b", "10.0.0.1"),
        6,
        8,
        Some("hosts.1.addr"),
        "duplicate address 10.0.0.1",
    );
    bad(
        &two("b", "10.0.0.256"),
        6,
        8,
        Some("hosts.1.addr"),
        "expected an IPv4 address like \"10.0.0.1\", found \"10.0.0.256\"",
    );
    bad(
        &two("b", "224.0.0.1"),
        6,
        8,
        Some("hosts.1.addr"),
        "unicast",
    );
    bad(
        &two("my host", "10.0.0.2"),
        5,
        8,
        Some("hosts.1.name"),
        "letters, digits",
    );
    // The missing key is reported at its table's header.
    bad(
        "[[hosts]]\nname = \"a\"\n",
        1,
        1,
        Some("hosts.0.addr"),
        "missing key: expected the host's IPv4 address",
    );
    bad(
        "[[hosts]]\naddr = \"10.0.0.1\"\n",
        1,
        1,
        Some("hosts.0.name"),
        "missing key",
    );
    let host = "[[hosts]]\nname = \"a\"\naddr = \"10.0.0.1\"\n";
    // "listen = [" is 10 characters.
    bad(
        &format!("{host}listen = [0]\n"),
        4,
        11,
        Some("hosts.0.listen.0"),
        "expected a port between 1 and 65535, found 0",
    );
    bad(
        &format!("{host}listen = [80, 65536]\n"),
        4,
        15,
        Some("hosts.0.listen.1"),
        "found 65536",
    );
    bad(
        &format!("{host}listen = [80, 80]\n"),
        4,
        15,
        Some("hosts.0.listen.1"),
        "listed twice",
    );
    // "ephemeral_ports = " is 18.
    bad(
        &format!("{host}ephemeral_ports = \"1024\"\n"),
        4,
        19,
        Some("hosts.0.ephemeral_ports"),
        "port range",
    );
    let e = bad(
        &format!("{host}ephemeral-ports = \"1024-2048\"\n"),
        4,
        1,
        Some("hosts.0.ephemeral-ports"),
        "unknown key",
    );
    assert!(e.message().contains("did you mean \"ephemeral_ports\""));
    // "tcp = { syn_retries = " is 22 characters.
    bad(
        &format!("{host}tcp = {{ syn_retries = 1000 }}\n"),
        4,
        23,
        Some("hosts.0.tcp.syn_retries"),
        "retry count between 0 and 255",
    );
}

#[test]
fn link_errors() {
    let link = "[[links]]\na = \"client\"\nb = \"server\"\n";
    // The example of the brief: "loss = " is 7 characters.
    let e = bad(
        &with_hosts(&format!("{link}loss = 1.5\n")),
        12,
        8,
        Some("links.0.loss"),
        "expected a probability between 0 and 1, found 1.5",
    );
    assert_eq!(
        e.to_string(),
        "bad.toml:12:8: links.0.loss: expected a probability between 0 and 1, found 1.5"
    );
    bad(
        &with_hosts("[[links]]\na = \"client\"\nb = \"sevrer\"\n"),
        11,
        5,
        Some("links.0.b"),
        // The misspelt name gets a suggestion, as an unknown key does.
        "unknown host \"sevrer\" (did you mean \"server\"?): expected one of \"client\", \"server\"",
    );
    bad(
        &with_hosts("[[links]]\na = \"clint\"\nb = \"server\"\n"),
        10,
        5,
        Some("links.0.a"),
        "unknown host \"clint\"",
    );
    bad(
        &with_hosts("[[links]]\na = \"client\"\nb = \"client\"\n"),
        11,
        5,
        Some("links.0.b"),
        "itself: expected a host other than",
    );
    bad(
        &with_hosts(&format!(
            "{link}[[links]]\na = \"server\"\nb = \"client\"\n"
        )),
        14,
        5,
        Some("links.1.b"),
        "expected at most one link per pair of hosts",
    );
    bad(
        &with_hosts("[[links]]\na = \"client\"\n"),
        9,
        1,
        Some("links.0.b"),
        "missing key",
    );
    bad(
        &with_hosts(&format!("{link}reorder_gap = 0\n")),
        12,
        15,
        Some("links.0.reorder_gap"),
        "a reorder gap between 1 and 4294967295 (2^32 - 1), found 0",
    );
    bad(
        &with_hosts(&format!("{link}reorder_gap = 4294967296\n")),
        12,
        15,
        Some("links.0.reorder_gap"),
        "a reorder gap between 1 and 4294967295 (2^32 - 1), found 4294967296",
    );
    bad(
        &with_hosts(&format!("{link}queue = 0\n")),
        12,
        9,
        Some("links.0.queue"),
        "a queue between 1 and 4294967295 (2^32 - 1) packets, found 0",
    );
    bad(
        &with_hosts(&format!("{link}queue = 4294967296\n")),
        12,
        9,
        Some("links.0.queue"),
        "a queue between 1 and 4294967295 (2^32 - 1) packets, found 4294967296",
    );
    bad(
        &with_hosts(&format!("{link}duplicate = -0.1\n")),
        12,
        13,
        Some("links.0.duplicate"),
        "between 0 and 1, found -0.1",
    );
    bad(
        &with_hosts(&format!("{link}corrupt = nan\n")),
        12,
        11,
        Some("links.0.corrupt"),
        "between 0 and 1, found NaN",
    );
    bad(
        &with_hosts(&format!("{link}reorder = 2\n")),
        12,
        11,
        Some("links.0.reorder"),
        "between 0 and 1, found 2",
    );
    bad(
        &with_hosts(&format!("{link}rate = \"10Mbps\"\n")),
        12,
        8,
        Some("links.0.rate"),
        "bytes per second",
    );
    bad(
        &with_hosts(&format!("{link}rate = \"0bit\"\n")),
        12,
        8,
        Some("links.0.rate"),
        "expected a positive rate",
    );
    // "distribution = " is 15 characters.
    bad(
        &with_hosts(&format!("{link}distribution = \"gaussian\"\n")),
        12,
        16,
        Some("links.0.distribution"),
        "\"uniform\" | \"normal\" | \"pareto\" | \"paretonormal\"",
    );
    bad(
        &with_hosts(&format!("{link}delay = 50\n")),
        12,
        9,
        Some("links.0.delay"),
        "a duration string with a unit",
    );
    bad(
        &with_hosts(&format!("{link}[links.a_to_b]\na = \"server\"\n")),
        13,
        1,
        Some("links.0.a_to_b.a"),
        "unknown key \"a\"",
    );
    bad(
        &with_hosts(&format!("{link}[links.b_to_a]\njitter = \"1\"\n")),
        13,
        10,
        Some("links.0.b_to_a.jitter"),
        "missing unit",
    );
    // The missing `p` is reported at the inline table, column 8.
    bad(
        &with_hosts(&format!(
            "{link}loss = {{ model = \"gilbert-elliott\", r = 0.5 }}\n"
        )),
        12,
        8,
        Some("links.0.loss.p"),
        "missing key",
    );
    // "loss = { " 9, "model = \"gilbert-elliott\", " 27, "p = 0.1, " 9, "h = " 4: column 50.
    bad(
        &with_hosts(&format!(
            "{link}loss = {{ model = \"gilbert-elliott\", p = 0.1, h = 2 }}\n"
        )),
        12,
        50,
        Some("links.0.loss.h"),
        "between 0 and 1, found 2",
    );
    // "loss = { model = " is 17 characters.
    bad(
        &with_hosts(&format!("{link}loss = {{ model = \"markov\", p = 0.1 }}\n")),
        12,
        18,
        Some("links.0.loss.model"),
        "expected one of \"gilbert-elliott\"",
    );
}

#[test]
fn fault_errors() {
    let drop = "[[faults]]\naction = \"drop\"\n";
    bad(
        &with_hosts(&format!("{drop}segment = \"SYN\"\nnth = [0]\n")),
        12,
        8,
        Some("faults.0.nth.0"),
        "a segment number between 1 and 4294967295 (2^32 - 1; nth counts from 1), found 0",
    );
    bad(
        &with_hosts(&format!("{drop}nth = 4294967296\n")),
        11,
        7,
        Some("faults.0.nth"),
        "a segment number between 1 and 4294967295 (2^32 - 1; nth counts from 1), found 4294967296",
    );
    bad(
        &with_hosts(&format!("{drop}nth = [2, 2]\n")),
        11,
        11,
        Some("faults.0.nth.1"),
        "listed twice",
    );
    bad(
        &with_hosts(&format!("{drop}nth = []\n")),
        11,
        7,
        Some("faults.0.nth"),
        "expected a non-empty list of segment numbers, like [1], found an empty array",
    );
    // "segment = " is 10 characters.
    bad(
        &with_hosts(&format!("{drop}segment = \"SYNACK\"\n")),
        11,
        11,
        Some("faults.0.segment"),
        "unknown segment kind \"SYNACK\": expected one of RST, SYN, SYN-ACK, FIN, DATA, ACK, ANY",
    );
    // "segment = [\"SYN\", " is 18 characters.
    bad(
        &with_hosts(&format!("{drop}segment = [\"SYN\", \"FOO\"]\n")),
        11,
        19,
        Some("faults.0.segment.1"),
        "unknown segment kind \"FOO\"",
    );
    bad(
        &with_hosts("[[faults]]\naction = \"delay\"\n"),
        9,
        1,
        Some("faults.0.extra"),
        "missing key: expected extra = a duration",
    );
    bad(
        &with_hosts("[[faults]]\nsegment = \"SYN\"\n"),
        9,
        1,
        Some("faults.0.action"),
        "missing key",
    );
    // "action = " is 9 characters.
    bad(
        &with_hosts("[[faults]]\naction = \"explode\"\n"),
        10,
        10,
        Some("faults.0.action"),
        "\"drop\" | \"delay\" | \"duplicate\" | \"corrupt\" | \"partition\"",
    );
    bad(
        &with_hosts(&format!("{drop}extra = \"1s\"\n")),
        11,
        1,
        Some("faults.0.extra"),
        "only to action = \"delay\"",
    );
    bad(
        &with_hosts(&format!("{drop}from = \"nobody\"\n")),
        11,
        8,
        Some("faults.0.from"),
        "unknown host \"nobody\"",
    );
    bad(
        &with_hosts(&format!("{drop}from = \"client\"\nto = \"client\"\n")),
        12,
        6,
        Some("faults.0.to"),
        "expected a host other than from",
    );
    bad(
        &with_hosts("[[faults]]\naction = \"partition\"\nnth = [1]\n"),
        11,
        1,
        Some("faults.0.nth"),
        "does not apply to action = \"partition\"",
    );
    bad(
        &with_hosts(&format!("{drop}start = \"4s\"\nend = \"2s\"\n")),
        12,
        7,
        Some("faults.0.end"),
        "expected an end after start = \"4s\", found \"2s\"",
    );
}

#[test]
fn connection_errors() {
    let conn = "[[connections]]\nclient = \"client\"\n";
    // "server = " is 9 characters.
    bad(
        &with_hosts(&format!("{conn}server = \"srv\"\nport = 80\n")),
        11,
        10,
        Some("connections.0.server"),
        "unknown host \"srv\"",
    );
    bad(
        &with_hosts(&format!("{conn}server = \"client\"\nport = 80\n")),
        11,
        10,
        Some("connections.0.server"),
        "expected a server other than the client",
    );
    let ok = format!("{conn}server = \"server\"\n");
    bad(
        &with_hosts(&format!("{ok}port = 0\n")),
        12,
        8,
        Some("connections.0.port"),
        "a port between 1 and 65535, found 0",
    );
    bad(
        &with_hosts(&format!("{ok}port = 65536\n")),
        12,
        8,
        Some("connections.0.port"),
        "found 65536",
    );
    bad(
        &with_hosts(&ok),
        9,
        1,
        Some("connections.0.port"),
        "missing key",
    );
    let with_port = format!("{ok}port = 80\n");
    // "close = " is 8 characters.
    bad(
        &with_hosts(&format!("{with_port}close = \"simultaneous\"\n")),
        13,
        9,
        Some("connections.0.close"),
        "needs close_at: expected a close_at",
    );
    bad(
        &with_hosts(&format!("{with_port}close = \"graceful\"\n")),
        13,
        9,
        Some("connections.0.close"),
        "\"client-first\" | \"server-first\"",
    );
    bad(
        &with_hosts(&format!("{with_port}close = \"none\"\nclose_at = \"1s\"\n")),
        14,
        1,
        Some("connections.0.close_at"),
        "no effect",
    );
    // "open = " is 7 characters.
    bad(
        &with_hosts(&format!("{with_port}open = \"simultaneous\"\n")),
        13,
        8,
        Some("connections.0.open"),
        "needs client_port: expected a client_port",
    );
    // "count = " is 8.
    bad(
        &with_hosts(&format!("{with_port}count = 0\n")),
        13,
        9,
        Some("connections.0.count"),
        "a count of at least 1",
    );
    bad(
        &with_hosts(&format!("{with_port}client_sends = -1\n")),
        13,
        16,
        Some("connections.0.client_sends"),
        "a byte count between 0 and",
    );
    bad(
        &with_hosts(&format!("{with_port}clientport = 4000\n")),
        13,
        1,
        Some("connections.0.clientport"),
        "did you mean \"client_port\"",
    );
}

#[test]
fn expect_and_sweep_errors() {
    // "retransmissions = { " is 20 characters.
    bad(
        &with_hosts("[expect]\nretransmissions = { SYNACK = 1 }\n"),
        10,
        21,
        Some("expect.retransmissions.SYNACK"),
        "unknown segment kind \"SYNACK\": expected one of",
    );
    bad(
        &with_hosts("[expect]\nsent = { RST = -1 }\n"),
        10,
        16,
        Some("expect.sent.RST"),
        "a count between 0 and 9223372036854775807 (2^63 - 1), found -1",
    );
    // "states = { " 11 + "client = [" 10 + "\"SYN-SENT\", " 12 = 33.
    bad(
        &with_hosts("[expect]\nstates = { client = [\"SYN-SENT\", \"OPEN\"] }\n"),
        10,
        34,
        Some("expect.states.client.1"),
        "unknown state \"OPEN\": expected one of CLOSED, LISTEN",
    );
    // "final_state = { " is 16 characters.
    bad(
        &with_hosts("[expect]\nfinal_state = { clinet = \"CLOSED\" }\n"),
        10,
        17,
        Some("expect.final_state.clinet"),
        "unknown host \"clinet\"",
    );
    // "outcome = " is 10.
    bad(
        &with_hosts("[expect]\noutcome = \"success\"\n"),
        10,
        11,
        Some("expect.outcome"),
        "\"closed\" | \"refused\" | \"timeout\" | \"reset\" | \"incomplete\"",
    );
    // "retransmit_at = { SYN = [\"3s\", " is 31 characters.
    bad(
        &with_hosts("[expect]\nretransmit_at = { SYN = [\"3s\", \"1s\"] }\n"),
        10,
        32,
        Some("expect.retransmit_at.SYN.1"),
        "increasing order",
    );
    bad(
        &with_hosts("[expect]\ntolerance = \"1 parsec\"\n"),
        10,
        13,
        Some("expect.tolerance"),
        "expected a duration unit",
    );

    // "seeds = " is 8 characters.
    bad(
        &with_hosts("[sweep]\nseeds = \"10..5\"\n"),
        10,
        9,
        Some("sweep.seeds"),
        "expected a non-empty seed range",
    );
    let link = "[[links]]\na = \"client\"\nb = \"server\"\n";
    // "grid = { \"links.0.loss\" = [0.0, " is 32 characters.
    bad(
        &with_hosts(&format!(
            "{link}[sweep]\ngrid = {{ \"links.0.loss\" = [0.0, 2.0] }}\n"
        )),
        13,
        33,
        Some("links.0.loss"),
        "between 0 and 1, found 2.0",
    );
    // "grid = { " is 9 characters: the key starts at column 10.
    bad(
        &with_hosts(&format!(
            "{link}[sweep]\ngrid = {{ \"links.5.loss\" = [0.1] }}\n"
        )),
        13,
        10,
        Some("links.5"),
        "expected an index of `links` from 0 to 0",
    );
    bad(
        &with_hosts(&format!(
            "{link}[sweep]\ngrid = {{ \"links.0.los\" = [0.1] }}\n"
        )),
        13,
        10,
        Some("links.0.los"),
        "did you mean \"loss\"",
    );
    bad(
        &with_hosts(&format!(
            "{link}[sweep]\ngrid = {{ \"sweep.seeds\" = [\"1..2\"] }}\n"
        )),
        13,
        10,
        Some("sweep.grid.sweep.seeds"),
        "cannot vary [sweep] itself",
    );
    bad(
        &with_hosts(&format!(
            "{link}[sweep]\ngrid = {{ \"links.0.loss\" = [] }}\n"
        )),
        13,
        27,
        Some("sweep.grid.links.0.loss"),
        "a non-empty list of values",
    );
}

#[test]
fn binary_garbage_is_a_located_error() {
    let inputs: [&[u8]; 6] = [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\x7fELF\x02\x01\x01\x00\x00\x00",
        b"\xff\xfe\x00\x00garbage\x00",
        b"\x00",
        b"seed = 1\n\xc3\x28 = 2\n",
        b"[[hosts]]\nname = \"\xe2\x82\"\naddr = \"10.0.0.1\"\n",
    ];
    for bytes in inputs {
        let text = String::from_utf8_lossy(bytes);
        let err = parse(&text, "garbage.bin").expect_err("garbage must not parse");
        assert!(err.line().is_some() && err.column().is_some(), "{err}");
        assert!(err.to_string().starts_with("garbage.bin:"), "{err}");
    }
    // Valid UTF-8 (U+FFFD) in a string value is fine; in a name it is not.
    let text = String::from_utf8_lossy(b"[[hosts]]\nname = \"\xe2\x82\"\naddr = \"10.0.0.1\"\n");
    let err = parse(&text, "x").unwrap_err();
    assert_eq!((err.line(), err.column()), (Some(2), Some(8)));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep_array = format!("a = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let deep_table = format!(
        "a = {}1{}\n",
        "{ b = ".repeat(100_000),
        " }".repeat(100_000)
    );
    let deep_key = format!("{} = 1\n", vec!["k"; 100_000].join("."));
    let deep_header = format!("[{}]\n", vec!["k"; 100_000].join("."));
    for source in [deep_array, deep_table, deep_key, deep_header] {
        let err = parse(&source, "deep.toml").unwrap_err();
        assert_eq!(err.line(), Some(1), "{err}");
    }
    let long_path = vec!["tcp"; 100_000].join(".");
    let nested_value = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for (path, value) in [(long_path.as_str(), "1"), ("seed", nested_value.as_str())] {
        let err = parse_with_overrides(HOSTS, "deep.toml", &sets(&[(path, value)])).unwrap_err();
        assert_eq!(err.line(), None, "{err}");
    }
    let grid = format!(
        "{HOSTS}[sweep]\ngrid = {{ \"{}\" = [1] }}\n",
        vec!["x"; 100_000].join(".")
    );
    let err = parse(&grid, "deep.toml").unwrap_err();
    assert_eq!((err.line(), err.column()), (Some(10), Some(10)), "{err}");
    assert!(err.message().contains("at most 32 keys"), "{err}");
}

/// Asserts the error invariants: a file location is inside the text.
fn check_error(source: &str, err: &ConfigError) {
    if let Location::File { line, column } = err.location() {
        let lines: Vec<&str> = source.split('\n').collect();
        assert!(*line >= 1 && *line <= lines.len(), "{err}");
        assert!(
            *column >= 1 && *column <= lines[line - 1].chars().count() + 1,
            "{err}"
        );
    }
    assert!(!err.message().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(source in any::<String>()) {
        if let Err(err) = parse(&source, "fuzz.toml") {
            check_error(&source, &err);
        }
    }

    #[test]
    fn toml_like_text_never_panics(source in "[\\[\\]{}=\"'a-z_0-9., \n#:-]{0,300}") {
        if let Err(err) = parse(&source, "fuzz.toml") {
            check_error(&source, &err);
        }
    }

    #[test]
    fn mutated_example_never_panics(cut in 0usize..2000, insert in "[\\[\\]{}=\"'a-zA-Z_0-9., \n#:-]{0,8}") {
        let mut source: String = SPEC_EXAMPLE.chars().take(cut).collect();
        source.push_str(&insert);
        source.extend(SPEC_EXAMPLE.chars().skip(cut));
        if let Err(err) = parse(&source, "fuzz.toml") {
            check_error(&source, &err);
        }
    }

    #[test]
    fn arbitrary_sets_never_panic(path in "[a-z_0-9.]{0,30}", value in any::<String>()) {
        let _ = parse_with_overrides(SPEC_EXAMPLE, "fuzz.toml", &[(path, value)]);
    }

    #[test]
    fn durations_round_trip_exactly(ns in any::<u64>()) {
        let d = Duration::from_nanos(ns);
        prop_assert_eq!(parse_duration(&format!("{ns}ns")), Ok(d));
        // Display prints the largest exact unit; it must parse back.
        prop_assert_eq!(parse_duration(&d.to_string()), Ok(d));
    }
}

/// The keys of the setup and teardown details and of the ISN clock, both
/// ways round, and a bad value of each with its location.
#[test]
fn detail_and_isn_keys() {
    let src = format!(
        r#"{HOSTS}
[tcp]
isn = "clock"
isn_clock = "1us"
ack_above_snd_nxt = "drop"
fin_in_zero_window = "accept"
kernel_tick = "10ms"
"#
    );
    let e = parse(&src, "x.toml").unwrap();
    assert_eq!(
        e.host_config(&e.hosts[0]),
        Config {
            isn: IsnMode::Clock,
            isn_clock: Duration::from_micros(1),
            ack_above_snd_nxt: tcpsim_tcp::AckAboveSndNxt::Drop,
            fin_in_zero_window: tcpsim_tcp::FinInZeroWindow::Accept,
            kernel_tick: Duration::from_millis(10),
            ..Config::rfc()
        }
    );
    let e = parse(
        &format!("profile = \"linux\"\n{HOSTS}[tcp]\nisn = \"random\"\nack_above_snd_nxt = \"ack\"\nfin_in_zero_window = \"drop\"\n"),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        e.host_config(&e.hosts[0]),
        Config {
            isn: IsnMode::Random,
            ack_above_snd_nxt: tcpsim_tcp::AckAboveSndNxt::Ack,
            fin_in_zero_window: tcpsim_tcp::FinInZeroWindow::Drop,
            ..Config::linux()
        }
    );
    // The key is on line 10; its value starts after "key = ".
    for (line, col, key, fragment) in [
        (
            "isn_clock = \"0s\"",
            13,
            "tcp.isn_clock",
            "a duration longer than zero",
        ),
        (
            "ack_above_snd_nxt = \"ignore\"",
            21,
            "tcp.ack_above_snd_nxt",
            "\"ack\" | \"drop\"",
        ),
        (
            "fin_in_zero_window = \"take\"",
            22,
            "tcp.fin_in_zero_window",
            "\"drop\" | \"accept\"",
        ),
        ("kernel_tick = 4", 15, "tcp.kernel_tick", "duration"),
    ] {
        bad(
            &with_hosts(&format!("[tcp]\n{line}\n")),
            10,
            col,
            Some(key),
            fragment,
        );
    }
}

/// The keys of the SYN-RECEIVED and TIME-WAIT rules, both ways round, and
/// a bad value with its location.
#[test]
fn syn_received_and_time_wait_keys() {
    let e = parse(
        &format!("{HOSTS}[tcp]\nhalf_open_rst_syn = \"linux\"\ntime_wait_segments = \"linux\"\n"),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        e.host_config(&e.hosts[0]),
        Config {
            half_open_rst_syn: tcpsim_tcp::HalfOpenRstSyn::Linux,
            time_wait_segments: tcpsim_tcp::TimeWaitSegments::Linux,
            ..Config::rfc()
        }
    );
    let e = parse(
        &format!(
            "profile = \"linux\"\n{HOSTS}[tcp]\nhalf_open_rst_syn = \"rfc9293\"\n\
             time_wait_segments = \"rfc9293\"\n"
        ),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        e.host_config(&e.hosts[0]),
        Config {
            half_open_rst_syn: tcpsim_tcp::HalfOpenRstSyn::Rfc9293,
            time_wait_segments: tcpsim_tcp::TimeWaitSegments::Rfc9293,
            ..Config::linux()
        }
    );
    // The key is on line 10; its value starts after "key = ".
    bad(
        &with_hosts("[tcp]\nhalf_open_rst_syn = \"rfc\"\n"),
        10,
        21,
        Some("tcp.half_open_rst_syn"),
        "\"rfc9293\" | \"linux\"",
    );
    bad(
        &with_hosts("[tcp]\ntime_wait_segments = \"kernel\"\n"),
        10,
        22,
        Some("tcp.time_wait_segments"),
        "\"rfc9293\" | \"linux\"",
    );
}

/// The keys of the TS.Recent and SACK-at-FIN rules, both ways round, and
/// bad values with their locations.
#[test]
fn ts_recent_update_and_fin_sack_keys() {
    let e = parse(
        &format!("{HOSTS}[tcp]\nts_recent_update = \"linux\"\nfin_sack = \"linux\"\n"),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        e.host_config(&e.hosts[0]),
        Config {
            ts_recent_update: tcpsim_tcp::TsRecentUpdate::Linux,
            fin_sack: tcpsim_tcp::FinSack::Linux,
            ..Config::rfc()
        }
    );
    let e = parse(
        &format!(
            "profile = \"linux\"\n{HOSTS}[tcp]\nts_recent_update = \"rfc7323\"\n\
             fin_sack = \"rfc2883\"\n"
        ),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        e.host_config(&e.hosts[0]),
        Config {
            ts_recent_update: tcpsim_tcp::TsRecentUpdate::Rfc7323,
            fin_sack: tcpsim_tcp::FinSack::Rfc2883,
            ..Config::linux()
        }
    );
    // The key is on line 10; its value starts after "ts_recent_update = ".
    bad(
        &with_hosts("[tcp]\nts_recent_update = \"rfc\"\n"),
        10,
        20,
        Some("tcp.ts_recent_update"),
        "\"rfc7323\" | \"linux\"",
    );
    bad(
        &with_hosts("[tcp]\nfin_sack = true\n"),
        10,
        12,
        Some("tcp.fin_sack"),
        "\"rfc2883\" | \"linux\"",
    );
}

/// The send-buffer keys, both ways round, and bad values with their
/// locations.
#[test]
fn send_buffer_keys() {
    let e = parse(
        &format!("{HOSTS}[tcp]\nsend_buffer = 42000\nsend_buffer_overhead = 832\n"),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        e.host_config(&e.hosts[0]),
        Config {
            send_buffer: Some(42000),
            send_buffer_overhead: 832,
            ..Config::rfc()
        }
    );
    let e = parse(
        &format!("profile = \"linux\"\n{HOSTS}[tcp]\nsend_buffer = \"unbounded\"\n"),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        e.host_config(&e.hosts[0]),
        Config {
            send_buffer: None,
            ..Config::linux()
        }
    );
    // The key is on line 10; its value starts after "send_buffer = ".
    bad(
        &with_hosts("[tcp]\nsend_buffer = 0\n"),
        10,
        15,
        Some("tcp.send_buffer"),
        "expected a send buffer between 1 and 2147483647 bytes or \"unbounded\", found 0",
    );
    bad(
        &with_hosts("[tcp]\nsend_buffer_overhead = -1\n"),
        10,
        24,
        Some("tcp.send_buffer_overhead"),
        "expected a per-buffer overhead between 0 and 65535 bytes, found -1",
    );
}

/// The PSH key, both ways round, and a bad value with its location.
#[test]
fn push_key() {
    let e = parse(&format!("{HOSTS}[tcp]\npush = \"linux\"\n"), "x.toml").unwrap();
    assert_eq!(
        e.host_config(&e.hosts[0]),
        Config {
            push: tcpsim_tcp::Push::Linux,
            ..Config::rfc()
        }
    );
    let e = parse(
        &format!("profile = \"linux\"\n{HOSTS}[tcp]\npush = \"rfc1122\"\n"),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        e.host_config(&e.hosts[0]),
        Config {
            push: tcpsim_tcp::Push::Rfc1122,
            ..Config::linux()
        }
    );
    // The key is on line 10; its value starts after "push = ".
    bad(
        &with_hosts("[tcp]\npush = \"burst\"\n"),
        10,
        8,
        Some("tcp.push"),
        "\"rfc1122\" | \"linux\"",
    );
}

/// The receive-buffer keys: `recv_buffer` fixes the buffer as `SO_RCVBUF`
/// does (and locks it), the others set their fields, both ways round; a
/// bad value is located.
#[test]
fn receive_buffer_keys() {
    let e = parse(
        &format!(
            "profile = \"linux\"\n{HOSTS}[tcp]\nrecv_buffer = 40000\nrecv_buffer_max = 6291456\nshrink_window = true\n"
        ),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        e.host_config(&e.hosts[0]),
        Config {
            recv_buffer: 40_000,
            recv_buffer_locked: true,
            recv_buffer_max: 6_291_456,
            shrink_window: true,
            ..Config::linux()
        }
    );
    let e = parse(
        &format!("{HOSTS}[tcp]\nrecv_memory = \"linux\"\nrecv_window = 1000\n"),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        e.host_config(&e.hosts[0]),
        Config {
            recv_memory: tcpsim_tcp::RecvMemory::Linux,
            recv_window: Some(1000),
            ..Config::rfc()
        }
    );
    bad(
        &with_hosts("[tcp]\nrecv_memory = \"bytes\"\n"),
        10,
        15,
        Some("tcp.recv_memory"),
        "\"octets\" | \"linux\"",
    );
    bad(
        &with_hosts("[tcp]\nrecv_buffer = 0\n"),
        10,
        15,
        Some("tcp.recv_buffer"),
        "a receive buffer between 1 and 2147483647 bytes",
    );
}

/// `user_timeout`: a duration or "none"; zero and other types are refused
/// with their location.
#[test]
fn user_timeout_key() {
    let e = parse(&format!("{HOSTS}[tcp]\nuser_timeout = \"3s\"\n"), "x.toml").unwrap();
    assert_eq!(
        e.host_config(&e.hosts[0]),
        Config {
            user_timeout: Some(tcpsim_tcp::Duration::from_secs(3)),
            ..Config::rfc()
        }
    );
    let e = parse(
        &format!("{HOSTS}[tcp]\nuser_timeout = \"none\"\n"),
        "x.toml",
    )
    .unwrap();
    assert_eq!(e.host_config(&e.hosts[0]), Config::rfc());
    // The key is on line 10; its value starts after "user_timeout = ".
    bad(
        &with_hosts("[tcp]\nuser_timeout = 3\n"),
        10,
        16,
        Some("tcp.user_timeout"),
        "a duration like \"3s\" or \"none\"",
    );
}

/// Generated hosts (SPEC §3): `count` hosts named by the pattern with `{}`
/// replaced by 0..count, addresses counting up from `addr` (across an octet
/// boundary: 10.1.0.254, .255, 10.1.1.0), each with the table's other keys;
/// a link or a connection that names the group on one side stands for one
/// per member, in member order (with `count`, member 0's connections
/// first); in `[expect]` the pattern means every member; a member is also
/// a host of its own name.
#[test]
fn generated_hosts_expand_in_member_order() {
    let text = r#"
[[hosts]]
name = "server"
addr = "10.0.0.1"
listen = [80]

[[hosts]]
name = "client-{}"
addr = "10.1.0.254"
count = 3
listen = [8080]
tcp = { syn_retries = 2 }

[[links]]
a = "server"
b = "client-{}"
delay = "5ms"

[[connections]]
client = "client-{}"
server = "server"
port = 80
count = 2

[[connections]]
client = "client-1"
server = "server"
port = 80

[expect]
final_state = { "client-{}" = "CLOSED", server = "CLOSED" }
"#;
    let e = parse(text, "gen.toml").unwrap();
    let names: Vec<&str> = e.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["server", "client-0", "client-1", "client-2"]);
    let addrs: Vec<String> = e.hosts.iter().map(|h| h.addr.to_string()).collect();
    assert_eq!(addrs, ["10.0.0.1", "10.1.0.254", "10.1.0.255", "10.1.1.0"]);
    for h in &e.hosts[1..] {
        assert_eq!(h.listen, [8080]);
        assert_eq!(h.tcp, e.hosts[1].tcp);
    }
    let links: Vec<(usize, usize)> = e.links.iter().map(|l| (l.a, l.b)).collect();
    assert_eq!(links, [(0, 1), (0, 2), (0, 3)]);
    // Three members with count 2 each, then the single connection.
    let conns: Vec<(usize, u32)> = e.connections.iter().map(|c| (c.client, c.count)).collect();
    assert_eq!(conns, [(1, 2), (2, 2), (3, 2), (2, 1)]);
    assert_eq!(
        e.expect.final_state,
        [
            (1, State::Closed),
            (2, State::Closed),
            (3, State::Closed),
            (0, State::Closed)
        ]
    );
}

/// `--set` into an array the file does not have is an error that says so
/// (issue 16), not "expected an array, found a table" after making a table
/// named "0".
#[test]
fn set_into_a_missing_array_says_the_file_has_none() {
    let sets = [("faults.0.action".to_string(), "\"drop\"".to_string())];
    let e = tcpsim_runner::parse_with_overrides(HOSTS, "x.toml", &sets).unwrap_err();
    assert!(
        e.to_string().contains(
            "faults.0: the file has no `faults`: expected a path into a table or array it has"
        ),
        "{e}"
    );
    // A missing table is still made: `tcp` is created by its key.
    let sets = [("tcp.initial_rto".to_string(), "\"3s\"".to_string())];
    assert!(tcpsim_runner::parse_with_overrides(HOSTS, "x.toml", &sets).is_ok());
}

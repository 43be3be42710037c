//! The packetdrill script parser (SPEC §7) against scripts written for
//! these tests: every construct of the language with every field of the
//! tree checked, bad inputs with the exact line, column (counted by hand
//! in the text) and message, the printed form, and property tests that no
//! input makes the parser panic or point outside the text.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use tcpsim_runner::script::{
    Command, Direction, Ecn, EventKind, EventTime, Expr, ExprKind, Field, IcmpEchoed, IcmpLine,
    IpInfo, MAX_LINES, MAX_SCRIPT_BYTES, PacketLine, Pos, Script, ScriptError, SeqRange, Syscall,
    TcpFlags, TcpOption, TcpOptions, UdpLine, parse,
};

// ----- helpers -----

fn ok(text: &str) -> Script {
    match parse("t.pkt", text) {
        Ok(s) => {
            reads_back(&s).unwrap();
            s
        }
        Err(e) => panic!("{e}\n{text}"),
    }
}

/// The script printed parses back, and prints the same again.
fn reads_back(s: &Script) -> Result<(), String> {
    let printed = s.to_string();
    let again = parse("printed.pkt", &printed).map_err(|e| format!("{e}\n{printed}"))?;
    let printed2 = again.to_string();
    if printed2 != printed {
        return Err(format!("prints differently:\n{printed}\n---\n{printed2}"));
    }
    if again.events.len() != s.events.len() || again.options.len() != s.options.len() {
        return Err(format!("loses events or options:\n{printed}"));
    }
    Ok(())
}

fn syscall(s: &Script, i: usize) -> &Syscall {
    match &s.events[i].kind {
        EventKind::Syscall(c) => c,
        k => panic!("event {i} is not a system call: {k:?}"),
    }
}

fn packet(s: &Script, i: usize) -> &PacketLine {
    match &s.events[i].kind {
        EventKind::Packet(p) => p,
        k => panic!("event {i} is not a TCP packet: {k:?}"),
    }
}

fn e(line: u32, column: u32, kind: ExprKind) -> Expr {
    Expr { line, column, kind }
}

fn int(line: u32, column: u32, n: i64) -> Expr {
    e(line, column, ExprKind::Int(n))
}

fn sym(line: u32, column: u32, s: &str) -> Expr {
    e(line, column, ExprKind::Symbol(s.to_owned()))
}

fn dots(line: u32, column: u32) -> Expr {
    e(line, column, ExprKind::Ellipsis)
}

fn named(line: u32, column: u32, name: &str, value: Expr) -> Field {
    Field {
        line,
        column,
        name: Some(name.to_owned()),
        arg: None,
        value,
    }
}

fn unnamed(value: Expr) -> Field {
    Field {
        line: value.line,
        column: value.column,
        name: None,
        arg: None,
        value,
    }
}

fn flags(text: &str) -> TcpFlags {
    let mut f = TcpFlags {
        text: text.to_owned(),
        ..TcpFlags::default()
    };
    for c in text.chars() {
        match c {
            'S' => f.syn = true,
            'F' => f.fin = true,
            'R' => f.rst = true,
            'P' => f.psh = true,
            '.' => f.ack = true,
            'U' => f.urg = true,
            'E' => f.ece = true,
            'W' => f.cwr = true,
            'A' => f.ae = true,
            '-' => {}
            d => f.ace = Some(d.to_digit(8).unwrap() as u8),
        }
    }
    f
}

fn seq(start: u32, end: u32, len: u32) -> SeqRange {
    SeqRange { start, end, len }
}

fn pos(line: u32, column: u32) -> Pos {
    Pos { line, column }
}

// ----- constructs -----

/// A passive open and a close initiated by the peer, with an option line,
/// the setup command, and options in both directions.
const SERVER: &str = "\
// Passive open, the peer closes first.
--tolerance_usecs=4000
`./defaults.sh`

0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0    bind(3, ..., ...) = 0
+0    listen(3, 1) = 0

+0    < S 0:0(0) win 29200 <mss 1400,sackOK,TS val 700 ecr 0,nop,wscale 6>
+0    > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 100 ecr 700,nop,wscale 8>
+.02  < . 1:1(0) ack 1 win 457 <nop,nop,TS val 720 ecr 100>
+0    accept(3, ..., ...) = 4

+.01  < P. 1:201(200) ack 1 win 457 <nop,nop,TS val 730 ecr 100>
*     > . 1:1(0) ack 201 <nop,nop,TS val 110 ecr 730>
+0    read(4, ..., 1000) = 200
+.5   < F. 201:201(0) ack 1 win 457 <nop,nop,TS val 780 ecr 110>
+0~+.04 > . 1:1(0) ack 202 <...>
+0    close(4) = 0
+0    > F. 1:1(0) ack 202 <...>
+.02  < . 202:202(0) ack 2 win 457 <nop,nop,TS val 800 ecr 160>
";

#[test]
fn passive_open_and_peer_close() {
    let s = ok(SERVER);
    assert_eq!(s.options.len(), 1);
    let o = &s.options[0];
    assert_eq!((o.line, o.column), (2, 1));
    assert_eq!(o.name, "tolerance_usecs");
    assert_eq!(o.value.as_deref(), Some("4000"));
    assert_eq!(o.value_column, 19);
    assert_eq!(o.define(), None);
    assert_eq!(
        s.init_command,
        Some(Command {
            line: 3,
            column: 1,
            text: "./defaults.sh".to_owned()
        })
    );
    assert_eq!(s.cleanup_command, None);
    assert_eq!(s.events.len(), 16);

    let e0 = &s.events[0];
    assert_eq!(
        (e0.line, e0.column, e0.time),
        (5, 1, EventTime::Absolute(0))
    );
    let c = syscall(&s, 0);
    assert_eq!((c.line, c.column, c.name.as_str()), (5, 7, "socket"));
    assert_eq!(
        c.args,
        vec![
            dots(5, 14),
            sym(5, 19, "SOCK_STREAM"),
            sym(5, 32, "IPPROTO_TCP")
        ]
    );
    assert_eq!(c.result, int(5, 47, 3));
    assert_eq!((&c.errno, &c.note, c.end), (&None, &None, None));

    let c = syscall(&s, 1);
    assert_eq!(s.events[1].time, EventTime::Relative(0));
    assert_eq!(c.name, "setsockopt");
    assert_eq!(
        c.args,
        vec![
            int(6, 18, 3),
            sym(6, 21, "SOL_SOCKET"),
            sym(6, 33, "SO_REUSEADDR"),
            e(6, 47, ExprKind::List(vec![int(6, 48, 1)])),
            int(6, 52, 4),
        ]
    );

    let p = packet(&s, 4);
    assert_eq!(p.direction, Direction::Inbound);
    assert_eq!((p.ip.clone(), p.ports), (None, None));
    assert_eq!(p.flags, flags("S"));
    assert_eq!(p.flags_pos, pos(10, 9));
    assert_eq!(p.seq, seq(0, 0, 0));
    assert_eq!((p.ack, p.win, p.urg), (None, Some(29200), None));
    assert_eq!(
        p.options,
        Some(TcpOptions::List(vec![
            TcpOption::Mss(1400),
            TcpOption::SackOk,
            TcpOption::Timestamp { val: 700, ecr: 0 },
            TcpOption::Nop,
            TcpOption::WScale(6),
        ]))
    );
    assert_eq!(p.options_pos, Some(pos(10, 28)));
    assert_eq!(
        p.option_positions,
        vec![
            pos(10, 29),
            pos(10, 38),
            pos(10, 45),
            pos(10, 62),
            pos(10, 66)
        ]
    );
    assert_eq!(p.fuzz, None);

    let p = packet(&s, 5);
    assert_eq!(p.direction, Direction::Outbound);
    assert_eq!(p.flags, flags("S."));
    assert!(p.flags.syn && p.flags.ack && !p.flags.fin);
    assert_eq!((p.ack, p.win), (Some(1), None));

    assert_eq!(s.events[6].time, EventTime::Relative(20_000));
    assert_eq!(s.events[9].time, EventTime::Any);
    assert_eq!(packet(&s, 9).ack, Some(201));
    assert_eq!(s.events[11].time, EventTime::Relative(500_000));
    assert_eq!(packet(&s, 11).flags, flags("F."));
    assert_eq!(s.events[12].time, EventTime::RelativeRange(0, 40_000));
    assert_eq!(packet(&s, 12).options, Some(TcpOptions::Wildcard));
    assert_eq!(syscall(&s, 13).name, "close");
    assert_eq!(s.events[15].line, 22);
}

/// An active open with a non-blocking connect, then a blocking one.
const CLIENT: &str = "\
0      socket(..., SOCK_STREAM, IPPROTO_TCP) = 5
+0     fcntl(5, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0     connect(5, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0     > S 0:0(0) <mss 1460,sackOK,nop,nop,nop,wscale 7>
+.03   < S. 0:0(0) ack 1 win 8000 <mss 1200>
+0     > . 1:1(0) ack 1
+0     getsockopt(5, SOL_SOCKET, SO_ERROR, [0], [4]) = 0

1.0    socket(..., SOCK_STREAM, IPPROTO_TCP) = 6
1.0...1.25 connect(6, ..., ...) = 0
+.08...0.180 connect(7, ..., ...) = -1 ECONNREFUSED (Connection refused)
+0 ... 0.5 accept(3, ..., ...) = 8
";

#[test]
fn active_open_nonblocking_and_blocking_connect() {
    let s = ok(CLIENT);
    assert!(s.options.is_empty() && s.init_command.is_none());
    let c = syscall(&s, 1);
    assert_eq!(
        c.args[2],
        e(
            2,
            26,
            ExprKind::BinaryOr(
                Box::new(sym(2, 26, "O_RDWR")),
                Box::new(sym(2, 33, "O_NONBLOCK"))
            )
        )
    );
    let c = syscall(&s, 2);
    assert_eq!(c.result, int(3, 31, -1));
    assert_eq!(
        c.errno,
        Some((
            "EINPROGRESS".to_owned(),
            Some("Operation now in progress".to_owned())
        ))
    );
    assert_eq!((c.note.clone(), c.end), (None, None));
    let p = packet(&s, 4);
    assert_eq!((p.ack, p.win), (Some(1), Some(8000)));
    assert_eq!(
        p.options,
        Some(TcpOptions::List(vec![TcpOption::Mss(1200)]))
    );
    assert_eq!(packet(&s, 5).options, None);
    assert_eq!(
        syscall(&s, 6).args[3..],
        [
            e(7, 44, ExprKind::List(vec![int(7, 45, 0)])),
            e(7, 49, ExprKind::List(vec![int(7, 50, 4)]))
        ]
    );

    assert_eq!(s.events[7].time, EventTime::Absolute(1_000_000));
    assert_eq!(s.events[8].time, EventTime::Absolute(1_000_000));
    assert_eq!(syscall(&s, 8).end, Some(1_250_000));
    // `+.08...0.180`: starts 80 ms after the previous event, ends 180 ms
    // after it (the end is not measured from the start).
    assert_eq!(s.events[9].time, EventTime::Relative(80_000));
    let c = syscall(&s, 9);
    assert_eq!(c.end, Some(180_000));
    assert_eq!((c.line, c.column), (11, 14));
    assert_eq!(
        c.errno,
        Some((
            "ECONNREFUSED".to_owned(),
            Some("Connection refused".to_owned())
        ))
    );
    assert_eq!(syscall(&s, 10).end, Some(500_000));
}

/// Closing: shutdown, linger with a zero timeout (an abortive close),
/// RST, no-flag segments, and the final command.
const CLOSE: &str = "\
-D ISN=1000
--define=PEER=\"192.0.2.9\"
--send_omit_free
--note=\"two words\"
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0
+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=30}, 8) = 0
+0 shutdown(3, SHUT_WR) = 0
+0 > F. 1:1(0) ack 1
+0 < R 1:1(0) win 0
+0 < - 1:1(0) win 100
+0 shutdown(3, SHUT_RDWR) = -1 ENOTCONN (Transport endpoint is not connected)
+0 close(3) = 0
`echo done`
";

#[test]
fn close_linger_and_options() {
    let s = ok(CLOSE);
    let names: Vec<_> = s.options.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["define", "define", "send_omit_free", "note"]);
    assert_eq!(s.options[0].define(), Some(("ISN", "1000")));
    assert_eq!((s.options[0].column, s.options[0].value_column), (1, 4));
    assert_eq!(s.options[1].define(), Some(("PEER", "\"192.0.2.9\"")));
    assert_eq!(
        (s.options[2].value.clone(), s.options[2].value_column),
        (None, 0)
    );
    assert_eq!(s.options[3].value.as_deref(), Some("two words"));
    assert_eq!(s.options[3].value_column, 8);

    let linger = &syscall(&s, 1).args[3];
    assert_eq!(
        linger,
        &e(
            6,
            41,
            ExprKind::Struct(vec![
                named(6, 42, "l_onoff", int(6, 50, 1)),
                named(6, 53, "l_linger", int(6, 62, 0)),
            ])
        )
    );
    assert_eq!(
        syscall(&s, 2).args[3].kind,
        ExprKind::Struct(vec![
            named(7, 42, "onoff", int(7, 48, 1)),
            named(7, 51, "linger", int(7, 58, 30)),
        ])
    );
    assert_eq!(syscall(&s, 3).args[1], sym(8, 16, "SHUT_WR"));
    assert_eq!(packet(&s, 5).flags, flags("R"));
    assert_eq!(packet(&s, 5).win, Some(0));
    let none = packet(&s, 6);
    assert_eq!(none.flags, flags("-"));
    assert!(!none.flags.ack && !none.flags.syn);
    assert_eq!(
        syscall(&s, 7).errno,
        Some((
            "ENOTCONN".to_owned(),
            Some("Transport endpoint is not connected".to_owned())
        ))
    );
    assert_eq!(
        s.cleanup_command,
        Some(Command {
            line: 14,
            column: 1,
            text: "echo done".to_owned()
        })
    );
}

/// poll with an array of pollfd structures, epoll, a code block on one
/// and on several lines, and timed shell commands.
const POLL_AND_CODE: &str = "\
0 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT},
        {fd=4, events=POLLIN, revents=0}], 2, 100) = 1
+0 epoll_ctl(9, EPOLL_CTL_ADD, 3, {events=EPOLLIN, fd=3}) = 0
+0 %{ assert tcpi_ca_state == 0 }%
+.1 %{
assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd
assert tcpi_rto >= 200000
}%
+0 `sysctl -q net.ipv4.tcp_timestamps=0`
+0    `ip link set dev tun0 mtu 1400 \\`quoted\\``
";

#[test]
fn poll_code_and_commands() {
    let s = ok(POLL_AND_CODE);
    let c = syscall(&s, 0);
    assert_eq!(c.name, "poll");
    let fds = match &c.args[0].kind {
        ExprKind::List(items) => items,
        k => panic!("{k:?}"),
    };
    assert_eq!(fds.len(), 2);
    assert_eq!(
        fds[0],
        e(
            1,
            9,
            ExprKind::Struct(vec![
                named(1, 10, "fd", int(1, 13, 3)),
                named(
                    1,
                    16,
                    "events",
                    e(
                        1,
                        23,
                        ExprKind::BinaryOr(
                            Box::new(sym(1, 23, "POLLIN")),
                            Box::new(sym(1, 30, "POLLOUT"))
                        )
                    )
                ),
                named(1, 39, "revents", sym(1, 47, "POLLOUT")),
            ])
        )
    );
    assert_eq!((fds[1].line, fds[1].column), (2, 9));
    assert_eq!(c.args[1..], [int(2, 44, 2), int(2, 47, 100)]);
    assert_eq!(c.result, int(2, 54, 1));
    assert_eq!(
        syscall(&s, 1).args[3].kind,
        ExprKind::Struct(vec![
            named(3, 36, "events", sym(3, 43, "EPOLLIN")),
            named(3, 52, "fd", int(3, 55, 3)),
        ])
    );
    assert_eq!(
        s.events[2].kind,
        EventKind::Code("assert tcpi_ca_state == 0".to_owned())
    );
    assert_eq!(
        s.events[3].kind,
        EventKind::Code(
            "\nassert tcpi_snd_cwnd == 10, tcpi_snd_cwnd\nassert tcpi_rto >= 200000\n".to_owned()
        )
    );
    assert_eq!((s.events[3].line, s.events[3].column), (5, 1));
    assert_eq!(
        s.events[4].kind,
        EventKind::Command("sysctl -q net.ipv4.tcp_timestamps=0".to_owned())
    );
    assert_eq!(
        s.events[5].kind,
        EventKind::Command("ip link set dev tun0 mtu 1400 \\`quoted\\`".to_owned())
    );
    assert_eq!(s.events[5].line, 10);
}

/// Every time form, exact to the microsecond.
#[test]
fn time_forms() {
    let s = ok("\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
.01 close(3) = 0
1.5 close(3) = 0
+2 close(3) = 0
+0.000001 close(3) = 0
* > . 1:1(0)
0.25~0.5 > . 1:1(0)
+.1~+1 > . 1:1(0)
3.1000000 close(3) = 0
");
    let times: Vec<EventTime> = s.events.iter().map(|e| e.time).collect();
    assert_eq!(
        times,
        [
            EventTime::Absolute(0),
            EventTime::Absolute(10_000),
            EventTime::Absolute(1_500_000),
            EventTime::Relative(2_000_000),
            EventTime::Relative(1),
            EventTime::Any,
            EventTime::AbsoluteRange(250_000, 500_000),
            EventTime::RelativeRange(100_000, 1_000_000),
            EventTime::Absolute(3_100_000),
        ]
    );
}

/// Every TCP option, flags with ECN letters and ACE digits, IP
/// information, ports, `urg`, and a fuzzing block.
#[test]
fn packet_details() {
    let s = ok("\
0 > [ect0] SEWA 0:0(0) <mss 536,eol>
+0 < (tos 0x10, flowlabel 0xabc) PU. 1:11(10) ack 1 win 100 urg 5
+0 > [ttl 64,ce] 4000>80 5 1:1(0) ack 11
+0 > . 1:1(0) ack 11 <sack 1001:2001 3001:4001 5001:6001 7001:8001,wscale *,wscale 14>
+0 < S 0:0(0) win 1 <FO,FO 0123abcd,FOEXP,FOEXP TFO_COOKIE,md5 00ff00ff>
+0 > W. 1:1(0) ack 11 <ECN e1b 1 ceb 0 e0b 1,nop,ECN>
+0 > [noecn] . 1:1(0) ack 11 { mut tcp mss; trun tcp 34-36 }
+0 > [ect01] 7. 1:1(0)
");
    let p = packet(&s, 0);
    assert_eq!(
        p.ip,
        Some(IpInfo {
            line: 1,
            column: 5,
            ecn: Some(Ecn::Ect0),
            tos: None,
            flow_label: None,
            ttl: None,
        })
    );
    assert_eq!(p.flags, flags("SEWA"));
    assert!(p.flags.ece && p.flags.cwr && p.flags.ae && p.flags.ace.is_none());
    assert_eq!(
        p.options,
        Some(TcpOptions::List(vec![TcpOption::Mss(536), TcpOption::Eol]))
    );
    let p = packet(&s, 1);
    let ip = p.ip.clone().unwrap();
    assert_eq!(
        (ip.tos, ip.flow_label, ip.ecn),
        (Some(0x10), Some(0xabc), None)
    );
    assert_eq!(p.flags, flags("PU."));
    assert_eq!((p.seq, p.urg), (seq(1, 11, 10), Some(5)));
    let p = packet(&s, 2);
    let ip = p.ip.clone().unwrap();
    assert_eq!((ip.ttl, ip.ecn), (Some(64), Some(Ecn::Ce)));
    assert_eq!(p.ports, Some((4000, 80)));
    assert_eq!(p.flags.ace, Some(5));
    assert_eq!(
        packet(&s, 3).options,
        Some(TcpOptions::List(vec![
            TcpOption::Sack(vec![(1001, 2001), (3001, 4001), (5001, 6001), (7001, 8001)]),
            TcpOption::WScaleAny,
            TcpOption::WScale(14),
        ]))
    );
    assert_eq!(
        packet(&s, 4).options,
        Some(TcpOptions::List(vec![
            TcpOption::FastOpen(None),
            TcpOption::FastOpen(Some("0123abcd".to_owned())),
            TcpOption::FastOpenExp(None),
            TcpOption::FastOpenExp(Some("TFO_COOKIE".to_owned())),
            TcpOption::Md5("00ff00ff".to_owned()),
        ]))
    );
    assert_eq!(
        packet(&s, 5).options,
        Some(TcpOptions::List(vec![
            TcpOption::AccEcn(vec![
                ("e1b".to_owned(), 1),
                ("ceb".to_owned(), 0),
                ("e0b".to_owned(), 1)
            ]),
            TcpOption::Nop,
            TcpOption::AccEcn(vec![]),
        ]))
    );
    let p = packet(&s, 6);
    assert_eq!(p.ip.as_ref().unwrap().ecn, Some(Ecn::NotEct));
    assert_eq!(p.fuzz.as_deref(), Some("mut tcp mss; trun tcp 34-36"));
    let p = packet(&s, 7);
    assert_eq!(p.ip.as_ref().unwrap().ecn, Some(Ecn::Ect01));
    assert_eq!((p.flags.ace, p.flags.ack), (Some(7), true));
}

/// UDP and ICMP lines become their own events, for the interpreter to
/// refuse or model.
#[test]
fn udp_and_icmp_lines() {
    let s = ok("\
0 < udp (1472)
+0 > [ect1] udp 5353>53 (12)
+0 < icmp unreachable frag_needed mtu 1280 [1:1461(1460)]
+0 < icmp unreachable [100:200(100)]
+0 < icmp echo_reply id 7 [udp (8)]
+0 > icmp time_exceeded [raw (40)]
+0 < [ttl 1] icmp echo_request
");
    assert_eq!(
        s.events[0].kind,
        EventKind::Udp(UdpLine {
            direction: Direction::Inbound,
            ip: None,
            ports: None,
            len: 1472
        })
    );
    match &s.events[1].kind {
        EventKind::Udp(u) => {
            assert_eq!((u.ports, u.len), (Some((5353, 53)), 12));
            assert_eq!(u.ip.as_ref().unwrap().ecn, Some(Ecn::Ect1));
        }
        k => panic!("{k:?}"),
    }
    assert_eq!(
        s.events[2].kind,
        EventKind::Icmp(IcmpLine {
            direction: Direction::Inbound,
            ip: None,
            icmp_type: "unreachable".to_owned(),
            code: Some("frag_needed".to_owned()),
            mtu: Some(1280),
            id: None,
            echoed: Some(IcmpEchoed::Tcp(seq(1, 1461, 1460))),
        })
    );
    let EventKind::Icmp(i) = &s.events[3].kind else {
        panic!()
    };
    assert_eq!(
        (&i.code, i.echoed),
        (&None, Some(IcmpEchoed::Tcp(seq(100, 200, 100))))
    );
    let EventKind::Icmp(i) = &s.events[4].kind else {
        panic!()
    };
    assert_eq!((i.id, i.echoed), (Some(7), Some(IcmpEchoed::Udp(8))));
    let EventKind::Icmp(i) = &s.events[5].kind else {
        panic!()
    };
    assert_eq!(
        (i.direction, i.echoed),
        (Direction::Outbound, Some(IcmpEchoed::Raw(40)))
    );
    let EventKind::Icmp(i) = &s.events[6].kind else {
        panic!()
    };
    assert_eq!((i.ip.as_ref().unwrap().ttl, i.echoed), (Some(1), None));
}

/// The expression forms of real scripts: msghdr and iovec structures,
/// cmsg lists, sockaddr with calls, strings (joined, with escapes, with
/// `...`), hex, negative numbers, NULL, empty lists and structures.
#[test]
fn expressions() {
    let s = ok("\
0 sendmsg(4, {msg_name(...)=...,
              msg_iov(2)=[{..., 30}, {...,70}],
              msg_flags=0,
              msg_control=[{cmsg_level=SOL_TCP, cmsg_type=TCP_CM_INQ, cmsg_data=12}]}, 0) = 100
+0 connect(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"192.0.2.1\")}, 16) = 0
+0 setsockopt(3, SOL_TCP, TCP_MD5SIG, \"key\\x01\" \"more\", 9) = 0
+0 write(3, \"prefix\"..., 10) = 10
+0 getsockopt(3, SOL_TCP, TCP_NOTSENT_LOWAT, [0xffffffff], [4]) = 0
+0 fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)
+0 setsockopt(3, SOL_SOCKET, SO_RCVLOWAT, [-1], 4) = -1 (Invalid argument)
+0 write(3, NULL, 0) = 0
+0 f([], {}, {...}) = 0
+0 getpid() = ...
");
    let msg = &syscall(&s, 0).args[1];
    let ExprKind::Struct(fields) = &msg.kind else {
        panic!("{msg:?}")
    };
    assert_eq!(
        fields[0],
        Field {
            line: 1,
            column: 15,
            name: Some("msg_name".to_owned()),
            arg: Some(Box::new(dots(1, 24))),
            value: dots(1, 29),
        }
    );
    assert_eq!(
        fields[1],
        Field {
            line: 2,
            column: 15,
            name: Some("msg_iov".to_owned()),
            arg: Some(Box::new(int(2, 23, 2))),
            value: e(
                2,
                26,
                ExprKind::List(vec![
                    e(
                        2,
                        27,
                        ExprKind::Struct(vec![unnamed(dots(2, 28)), unnamed(int(2, 33, 30))])
                    ),
                    e(
                        2,
                        38,
                        ExprKind::Struct(vec![unnamed(dots(2, 39)), unnamed(int(2, 43, 70))])
                    ),
                ])
            ),
        }
    );
    assert_eq!(fields[2], named(3, 15, "msg_flags", int(3, 25, 0)));
    assert_eq!(fields[3].name.as_deref(), Some("msg_control"));
    assert_eq!(
        fields[3].value.to_string(),
        "[{cmsg_level=SOL_TCP, cmsg_type=TCP_CM_INQ, cmsg_data=12}]"
    );

    let addr = &syscall(&s, 1).args[1];
    let ExprKind::Struct(fields) = &addr.kind else {
        panic!()
    };
    assert_eq!(
        fields[1],
        named(
            5,
            35,
            "sin_port",
            e(
                5,
                44,
                ExprKind::Call("htons".to_owned(), vec![int(5, 50, 8080)])
            )
        )
    );
    assert_eq!(
        fields[2].value.kind,
        ExprKind::Call(
            "inet_addr".to_owned(),
            vec![e(5, 76, ExprKind::Str("192.0.2.1".to_owned()))]
        )
    );
    assert_eq!(
        syscall(&s, 2).args[3].kind,
        ExprKind::Str("key\\x01more".to_owned())
    );
    assert_eq!(
        syscall(&s, 3).args[1].kind,
        ExprKind::StrEllipsis("prefix".to_owned())
    );
    assert_eq!(
        syscall(&s, 4).args[3].kind,
        ExprKind::List(vec![e(8, 47, ExprKind::Hex(0xffff_ffff))])
    );
    let c = syscall(&s, 5);
    assert_eq!(c.result.kind, ExprKind::Hex(0x802));
    assert_eq!(
        (&c.errno, c.note.as_deref()),
        (&None, Some("flags O_RDWR|O_NONBLOCK"))
    );
    let c = syscall(&s, 6);
    assert_eq!(c.args[3].kind, ExprKind::List(vec![int(10, 44, -1)]));
    assert_eq!(
        (&c.errno, c.note.as_deref()),
        (&None, Some("Invalid argument"))
    );
    assert_eq!(syscall(&s, 7).args[1], sym(11, 13, "NULL"));
    assert_eq!(
        syscall(&s, 8)
            .args
            .iter()
            .map(|a| a.kind.clone())
            .collect::<Vec<_>>(),
        [
            ExprKind::List(vec![]),
            ExprKind::Struct(vec![]),
            ExprKind::Struct(vec![unnamed(dots(12, 15))])
        ]
    );
    let c = syscall(&s, 9);
    assert_eq!((c.args.len(), &c.result.kind), (0, &ExprKind::Ellipsis));
}

/// Comments wherever whitespace may go, including inside a packet line
/// and a call, and at the very end without a newline; CRLF line ends.
#[test]
fn comments_everywhere() {
    let s = ok("/* header\n   block */ --mss=1000 // the MSS\r\n\
                0 /* t */ socket(/* domain */ ..., SOCK_STREAM, // type\n IPPROTO_TCP) = 3 // ok\r\n\
                +0 > /* flags next */ S /* seq */ 0:0(0) <mss /* value */ 1000> // last");
    assert_eq!(s.options[0].value.as_deref(), Some("1000"));
    assert_eq!(s.events.len(), 2);
    assert_eq!(syscall(&s, 0).args[2], sym(4, 2, "IPPROTO_TCP"));
    let p = packet(&s, 1);
    assert_eq!(p.flags_pos, pos(5, 23));
    assert_eq!(
        p.options,
        Some(TcpOptions::List(vec![TcpOption::Mss(1000)]))
    );
    // `//` inside code, strings and commands is not a comment.
    let s = ok("0 %{ x = 7 // 2 }%\n+0 `echo a//b`\n+0 write(3, \"//\", 2) = 2\n");
    assert_eq!(s.events[0].kind, EventKind::Code("x = 7 // 2".to_owned()));
    assert_eq!(s.events[1].kind, EventKind::Command("echo a//b".to_owned()));
    assert_eq!(syscall(&s, 2).args[1].kind, ExprKind::Str("//".to_owned()));
}

/// An event may span lines, and several may share one: newlines carry no
/// meaning (as in packetdrill). Columns count characters, a tab as one.
#[test]
fn layout_is_free() {
    let s = ok("0 close(3)\n  = 0 +0 close(4) = 0\n\t+0\t> .\t1:1(0)\tack\t1\n");
    assert_eq!(s.events.len(), 3);
    assert_eq!((s.events[1].line, s.events[1].column), (2, 7));
    assert_eq!(syscall(&s, 0).result, int(2, 5, 0));
    assert_eq!((s.events[2].line, s.events[2].column), (3, 2));
    assert_eq!(packet(&s, 2).flags_pos, pos(3, 7));
    // A byte-order mark takes no column; `µ` in a string is one column.
    let s = ok("\u{feff}0 write(3, \"µµ\", 4) = 4 +0 close(3) = 0");
    assert_eq!((s.events[0].line, s.events[0].column), (1, 1));
    assert_eq!((s.events[1].line, s.events[1].column), (1, 25));
}

/// The canonical printed form: one event a line, single spaces, times in
/// shortest seconds.
#[test]
fn prints_back_as_script_text() {
    let s = ok(SERVER);
    let printed = s.to_string();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines[0], "--tolerance_usecs=4000");
    assert_eq!(lines[1], "`./defaults.sh`");
    assert_eq!(lines[2], "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3");
    assert_eq!(
        lines[6],
        "+0 < S 0:0(0) win 29200 <mss 1400,sackOK,TS val 700 ecr 0,nop,wscale 6>"
    );
    assert_eq!(
        lines[8],
        "+0.02 < . 1:1(0) ack 1 win 457 <nop,nop,TS val 720 ecr 100>"
    );
    assert_eq!(
        lines[11],
        "* > . 1:1(0) ack 201 <nop,nop,TS val 110 ecr 730>"
    );
    assert_eq!(lines[14], "+0~+0.04 > . 1:1(0) ack 202 <...>");
    let s = ok(CLIENT);
    let printed = s.to_string();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines[2],
        "+0 connect(5, ..., ...) = -1 EINPROGRESS (Operation now in progress)"
    );
    assert_eq!(lines[8], "1...1.25 connect(6, ..., ...) = 0");
    assert_eq!(
        lines[9],
        "+0.08...0.18 connect(7, ..., ...) = -1 ECONNREFUSED (Connection refused)"
    );
    let s = ok(CLOSE);
    let printed = s.to_string();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "--define=ISN=1000",
            "--define=PEER=\"192.0.2.9\"",
            "--send_omit_free",
            "--note=\"two words\""
        ]
    );
    assert_eq!(
        lines[5],
        "+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0"
    );
    assert_eq!(lines[13], "`echo done`");
    assert_eq!(
        packet(
            &ok("0 > [ect0,tos 0x2,ttl 9] 1>2 SE. 3:5(2) <ECN ceb 7,FO 1a>"),
            0
        )
        .to_string(),
        "> [ect0,tos 0x02,ttl 9] 1>2 SE. 3:5(2) <ECN ceb 7,FO 1a>"
    );
}

/// Found by the mutation property: option values that must be printed
/// quoted to read back.
#[test]
fn option_values_that_need_quotes_read_back() {
    // An empty quoted value (printed raw it would be no value at all).
    let s = ok("--note=\"\"\n0 close(3) = 0\n");
    assert_eq!(s.options[0].value.as_deref(), Some(""));
    assert_eq!(s.to_string().lines().next(), Some("--note=\"\""));
    // A value starting with U+FEFF, which only the start of a script skips.
    let s = ok("--x=\u{feff}\"a\"\n0 close(3) = 0\n");
    assert_eq!(s.options[0].value.as_deref(), Some("\u{feff}\"a\""));
}

// ----- bad inputs -----

/// `text` fails at `line`:`column` with exactly `message`.
#[track_caller]
fn bad(text: &str, line: u32, column: u32, message: &str) {
    match parse("bad.pkt", text) {
        Ok(s) => panic!("accepted:\n{text}\n{s:#?}"),
        Err(e) => {
            assert_eq!(
                (e.line, e.column, e.message.as_str()),
                (line, column, message),
                "\n{text}"
            );
            assert_eq!(e.file, "bad.pkt");
            assert_eq!(e.to_string(), format!("bad.pkt:{line}:{column}: {message}"));
        }
    }
}

const FLAG_MSG: &str = "expected a TCP flag (S F R P . E W U A, or an ACE digit 0-7), found `Q`";

#[test]
fn bad_flags() {
    bad("0 < Q 0:0(0) win 1\n", 1, 5, FLAG_MSG);
    bad("0 < SQ 0:0(0) win 1\n", 1, 6, FLAG_MSG);
    bad(
        "0 > <mss 1>\n",
        1,
        5,
        "expected the TCP flags (such as `S`, `S.`, `P.`, `F.`, `R`, or `-` for none), found `<`",
    );
    bad(
        "0 > SE1 0:0(0)\n",
        1,
        7,
        "conflicting TCP flag `1`: an ACE digit stands for E, W and A together, and there is at most one",
    );
    bad(
        "0 > P.U 1:1(0)\n",
        1,
        7,
        "`.` (ACK) goes last in the TCP flags (`S.`, `F.`, `P.`), or before an ACE digit only; \
         found `U` after it",
    );
    bad(
        "0 > .. 1:1(0)\n",
        1,
        6,
        "`.` (ACK) goes last in the TCP flags (`S.`, `F.`, `P.`), or before an ACE digit only; \
         found `.` after it",
    );
    bad(
        "0 > 12 0:0(0)\n",
        1,
        6,
        "conflicting TCP flag `2`: an ACE digit stands for E, W and A together, and there is at most one",
    );
}

#[test]
fn bad_sequence_numbers_and_fields() {
    bad(
        "0 > S 0:10(5)\n",
        1,
        7,
        "inconsistent TCP sequence numbers and payload size: 0 + 5 is 5, not 10",
    );
    bad(
        "0 > S win 1\n",
        1,
        7,
        "expected the sequence numbers START:END(LENGTH), found `win`",
    );
    bad(
        "0 > . 1:70001(70000)\n",
        1,
        15,
        "the TCP payload size out of range: at most 65535, found `70000`",
    );
    bad(
        "0 > . 1:1(0) ack 4294967296\n",
        1,
        18,
        "the ack number out of range: at most 4294967295, found `4294967296`",
    );
    bad(
        "0 < S 0:0(0) win 70000\n",
        1,
        18,
        "the TCP window out of range: at most 65535, found `70000`",
    );
    bad(
        "0 < S 0:0(0)\n",
        1,
        3,
        "an inbound packet needs its window: add `win N` after the sequence numbers and `ack`",
    );
    bad(
        "0 > . 1:1(0) win 10 ack 1\n",
        1,
        21,
        "unexpected `ack` in the packet; a TCP packet is FLAGS START:END(LEN) [ack N] [win N] \
         [urg N] [<OPTIONS>], in that order",
    );
    bad(
        "0 > . 1 1(0)\n",
        1,
        9,
        "expected `:` in the sequence numbers START:END(LENGTH), found `1`",
    );
}

#[test]
fn bad_tcp_options() {
    bad(
        "0 < S 0:0(0) win 1 <mss 70000>\n",
        1,
        25,
        "the MSS out of range: at most 65535, found `70000`",
    );
    bad(
        "0 < S 0:0(0) win 1 <foo>\n",
        1,
        21,
        "expected a TCP option (nop, eol, mss, wscale, sackOK, sack, TS, FO, FOEXP, md5 or ECN), \
         found `foo`",
    );
    bad(
        "0 < S 0:0(0) win 1 <mss 1460 nop>\n",
        1,
        30,
        "expected `,` or `>` in the TCP option list, found `nop`",
    );
    bad(
        "0 < S 0:0(0) win 1 <...>\n",
        1,
        20,
        "`<...>` for TCP options can only be used with outbound packets (`>`)",
    );
    bad(
        "0 < S 0:0(0) win 1 <TS val 1 ecr>\n",
        1,
        33,
        "expected the TSecr (a number), found `>`",
    );
    bad(
        "0 < . 1:1(0) ack 1 win 1 <sack 1:2 3:4 5:6 7:8 9:10>\n",
        1,
        48,
        "too many SACK blocks: at most 4 in one option",
    );
    bad(
        "0 > . 1:1(0) <sack>\n",
        1,
        19,
        "expected a SACK block LEFT:RIGHT after `sack`, found `>`",
    );
    bad(
        "0 > . 1:1(0) <ECN x1 1>\n",
        1,
        19,
        "expected an AccECN counter (`e0b`, `ceb` or `e1b`), found `x1`",
    );
    bad(
        "0 > . 1:1(0) <wscale 15 16>\n",
        1,
        25,
        "expected `,` or `>` in the TCP option list, found `16`",
    );
    let many = format!("0 > . 1:1(0) <{}nop>\n", "nop,".repeat(40));
    bad(
        &many,
        1,
        175,
        "too many TCP options: at most 40 in one packet",
    );
}

#[test]
fn bad_ip_information() {
    bad(
        "0 < [ect01] S 0:0(0) win 1\n",
        1,
        6,
        "`ect01` can only be used with outbound packets (`>`)",
    );
    bad(
        "0 > [foo] S 0:0(0)\n",
        1,
        6,
        "expected IP information (noecn, ect0, ect1, ect01, ce, tos 0xNN, flowlabel 0xNNNNN or ttl \
         N), found `foo`",
    );
    bad(
        "0 > [tos 0x100] S 0:0(0)\n",
        1,
        10,
        "the TOS byte out of range: at most 0xff, found `0x100`",
    );
    bad(
        "0 > [ce,ect0] S 0:0(0)\n",
        1,
        9,
        "`ect0` given twice in the IP information",
    );
    bad(
        "0 < ipv4 192.0.2.1 > 192.0.2.2: S 0:0(0) win 1\n",
        1,
        5,
        "encapsulation prefixes (`ipv4` before the packet) are not supported",
    );
}

#[test]
fn bad_times() {
    bad("-1 close(3) = 0\n", 1, 1, "a time cannot be negative");
    bad(
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n0.2~0.1 > S 0:0(0)\n",
        2,
        5,
        "time range is backwards: its end is before its start",
    );
    bad(
        "* close(3) = 0\n",
        1,
        1,
        "the time `*` can only be used with outbound packets (`>`)",
    );
    bad(
        "0~0.1 < S 0:0(0) win 1\n",
        1,
        1,
        "a time range can only be used with outbound packets (`>`)",
    );
    bad(
        "+0~0.1 > S 0:0(0)\n",
        1,
        4,
        "expected `+` and the end of the relative range (`+a~+b`), found `0.1`",
    );
    bad(
        "0~+0.1 > S 0:0(0)\n",
        1,
        3,
        "expected the end of the absolute range (`a~b`), found `+`; a relative range is written \
         `+a~+b`",
    );
    bad(
        "0.0000015 close(3) = 0\n",
        1,
        1,
        "a time has at most 6 decimals (microseconds), found `0.0000015`",
    );
    bad(
        "2000000 close(3) = 0\n",
        1,
        1,
        "a time of at most 1000000 seconds, found `2000000`",
    );
    bad(
        "+0.5...0.1 connect(3, ..., ...) = 0\n",
        1,
        8,
        "the end of a blocking call (`...END`) is before its start",
    );
    bad(
        "+0...0.1 > S 0:0(0)\n",
        1,
        10,
        "expected a system call after `...END` (only system calls block), found `>`",
    );
    bad(
        "close(3) = 0\n",
        1,
        1,
        "expected an event time (`0`, `+0.1`, `*`, `0.1~0.2` or `+0~+0.1`), found `close`",
    );
    bad(
        "0\n",
        2,
        1,
        "expected a packet (`<` or `>`), a system call, a backquoted shell command or a `%{ }%` \
         block after the time, found end of file",
    );
}

#[test]
fn bad_system_calls() {
    bad(
        "0 close(3)\n",
        2,
        1,
        "expected `=` and the expected result after the call, found end of file",
    );
    bad(
        "0 close 3) = 0\n",
        1,
        9,
        "expected `(` after the system call name `close`, found `3`",
    );
    bad(
        "0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress\n",
        1,
        41,
        "unclosed note `(`: no `)` before the end of the line",
    );
    bad(
        "0 connect(3, ..., ...) = -1 EINPROGRESS Operation\n",
        1,
        41,
        "unexpected `Operation` after the system call; a note goes in parentheses, as in `= -1 \
         EAGAIN (Resource temporarily unavailable)`",
    );
    bad(
        "0 f(=) = 0\n",
        1,
        5,
        "expected an expression (a number, a symbol, a string, `...`, `[...]` or `{...}`), found `=`",
    );
    bad(
        "0 f([1 2]) = 0\n",
        1,
        8,
        "expected `,` or `]` in the list, found `2`",
    );
    bad(
        "0 f({a=1 b=2}) = 0\n",
        1,
        10,
        "expected `,` or `}` in the structure, found `b`",
    );
    bad(
        "0 f({1=2}) = 0\n",
        1,
        7,
        "`=` after a value: a field is `name=value` or `name(arg)=value`",
    );
    bad(
        "0 f(3 4) = 0\n",
        1,
        7,
        "expected `,` or `)` after an argument, found `4`",
    );
    bad(
        "0 f(- 1) = 0\n",
        1,
        5,
        "expected a number right after `-`, found `1`",
    );
    bad(
        "0 f(99999999999999999999) = 0\n",
        1,
        5,
        "number out of range: from -9223372036854775808 to 9223372036854775807, found \
         `99999999999999999999`",
    );
    bad(
        "0 f(0x10000000000000000) = 0\n",
        1,
        5,
        "number out of range: at most 0xffffffffffffffff, found `0x10000000000000000`",
    );
    bad(
        "0 f(1.5) = 0\n",
        1,
        5,
        "expected an expression (a number, a symbol, a string, `...`, `[...]` or `{...}`), found \
         `1.5`",
    );
}

#[test]
fn bad_lexemes() {
    bad(
        "0 write(3, \"abc, 3) = 3\n",
        1,
        12,
        "unterminated string: `\"` without a closing `\"`",
    );
    bad(
        "0 close(3) /* x\n",
        1,
        12,
        "unterminated comment: `/*` without `*/`",
    );
    bad(
        "0 %{ assert x\n",
        1,
        3,
        "unterminated code block: `%{` without `}%`",
    );
    bad(
        "0 `sysctl -q x\n",
        1,
        3,
        "unterminated shell command: a backquote without a closing backquote",
    );
    bad(
        "0 close(3) = 0 é\n",
        1,
        16,
        "unexpected character U+00E9 `é`",
    );
    bad(
        "0 close(3) = 0\u{1}\n",
        1,
        15,
        "unexpected character U+0001",
    );
}

#[test]
fn bad_structure_and_options() {
    bad(
        "// nothing\n",
        2,
        1,
        "expected an event (a time such as `0`, `+0.1` or `*`, then what happens), found end of file",
    );
    bad(
        "`./defaults.sh`\n",
        2,
        1,
        "expected an event (a time such as `0`, `+0.1` or `*`, then what happens), found end of file",
    );
    bad(
        "0 close(3) = 0\n`x`\n+0 close(4) = 0\n",
        2,
        1,
        "a shell command between events needs a time (`+0 `...``); only the command before the \
         first event and the one after the last may go without",
    );
    bad(
        "0 close(3) = 0\n--mss=1000\n",
        2,
        1,
        "the option `--mss` comes too late: option lines go at the top, before any shell command \
         or event",
    );
    bad(
        "--mss-x=1\n0 close(3) = 0\n",
        1,
        6,
        "expected `=` or the end of the option `--mss`, found `-`",
    );
    bad(
        "--mss= \n0 close(3) = 0\n",
        1,
        7,
        "expected a value after `--mss=`",
    );
    bad(
        "-D FOO\n0 close(3) = 0\n",
        1,
        4,
        "expected NAME=VALUE after `-D`, found `FOO`",
    );
    bad(
        "-D\n0 close(3) = 0\n",
        1,
        3,
        "expected NAME=VALUE after `-D`, found the end of the line",
    );
    bad(
        "--x=\"abc\n",
        1,
        5,
        "unterminated string: `\"` without a closing `\"`",
    );
}

#[test]
fn limits_are_errors_that_state_the_limit() {
    let deep = format!("0 f({}1{}) = 0\n", "[".repeat(33), "]".repeat(33));
    bad(
        &deep,
        1,
        37,
        "nesting too deep: at most 32 levels of `[]`, `{}` and `()` are allowed",
    );
    let ok32 = format!("0 f({}1{}) = 0\n", "[".repeat(32), "]".repeat(32));
    ok(&ok32);
    let ors = format!("0 f({}A) = 0\n", "A|".repeat(64));
    bad(
        &ors,
        1,
        4 + 2 * 64,
        "too many terms in `A|B|...`: at most 64 are allowed",
    );
    let long = "0 close(3) = 0\n".repeat(MAX_SCRIPT_BYTES / 15 + 1);
    bad(
        &long,
        1,
        1,
        &format!(
            "the script is {} bytes long; at most 1048576 bytes are allowed",
            long.len()
        ),
    );
    let lines = format!("{}0 close(3) = 0", "\n".repeat(MAX_LINES as usize));
    bad(
        &lines,
        MAX_LINES + 1,
        1,
        "the script has more than 100000 lines, the most allowed",
    );
    // Exactly the most lines, each ending in a newline, is fine.
    ok(&format!(
        "0 close(3) = 0{}",
        "\n".repeat(MAX_LINES as usize)
    ));
    let options = format!("{}0 close(3) = 0\n", "--a\n".repeat(1001));
    bad(
        &options,
        1001,
        1,
        "too many option lines: at most 1000 are allowed",
    );
}

// ----- properties -----

/// The error's position is inside `text`: an existing line, and a column
/// at most one past that line's last character.
fn inside(e: &ScriptError, text: &str) -> Result<(), String> {
    let lines: Vec<&str> = text.split('\n').collect();
    if e.line < 1 || e.line as usize > lines.len() {
        return Err(format!(
            "line {} outside {} lines: {e}",
            e.line,
            lines.len()
        ));
    }
    let line = lines[e.line as usize - 1];
    let line = if e.line == 1 {
        line.strip_prefix('\u{feff}').unwrap_or(line)
    } else {
        line
    };
    let width = line.chars().count() as u32;
    if e.column < 1 || e.column > width + 1 {
        return Err(format!(
            "column {} outside a line of {width}: {e}",
            e.column
        ));
    }
    if e.message.is_empty() {
        return Err("an empty message".to_owned());
    }
    Ok(())
}

fn check(text: &str) -> Result<(), TestCaseError> {
    match parse("p.pkt", text) {
        Ok(s) => {
            let printed = s.to_string();
            // Printing may lengthen a script (`.1` becomes `0.1`, one event
            // a line) past a limit; only then may it not read back.
            if printed.len() <= MAX_SCRIPT_BYTES && printed.lines().count() < MAX_LINES as usize {
                reads_back(&s).map_err(TestCaseError::fail)?;
            }
            Ok(())
        }
        Err(e) => inside(&e, text).map_err(TestCaseError::fail),
    }
}

/// Fragments of the language, good and bad, for random scripts.
const VOCAB: &[&str] = &[
    "0",
    "+0",
    "+.1",
    "1.5",
    "*",
    "~",
    "+",
    "...",
    "0...0.2",
    " ",
    "\n",
    "\t",
    "<",
    ">",
    "S",
    "S.",
    "F.",
    "P.",
    ".",
    "R",
    "-",
    "SEWA",
    "5",
    "0:0(0)",
    "1:1001(1000)",
    "ack",
    "win",
    "urg",
    "1",
    "65535",
    "4294967296",
    "<mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>",
    "<...>",
    "<sack 1:2",
    "nop",
    ",",
    "[ect0]",
    "(tos 0x10)",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    "=",
    "|",
    "socket",
    "close",
    "connect(3, ..., ...)",
    "= -1 EINPROGRESS (Operation now in progress)",
    "= 0",
    "{fd=3, events=POLLIN}",
    "{l_onoff=1, l_linger=0}",
    "\"str\"",
    "\"",
    "`cmd`",
    "`",
    "%{ assert x }%",
    "%{",
    "}%",
    "//",
    "/*",
    "*/",
    "--mss=1000",
    "-D X=1",
    "--x",
    "udp",
    "icmp unreachable",
    "0x1f",
    "-1",
    "µ",
    "\u{feff}",
    "htons(80)",
    "msg_iov(1)=[{..., 10}]",
    "ECN e0b 1",
    "FO",
    "md5",
    "{ mut tcp mss }",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCAB), 0..80).prop_map(|parts| parts.concat())
}

/// Scripts the parser accepts, to mutate.
const SEEDS: &[&str] = &[SERVER, CLIENT, CLOSE, POLL_AND_CODE];

#[derive(Clone, Debug)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, &'static str),
    Replace(usize, char),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1..20usize).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), prop::sample::select(VOCAB)).prop_map(|(i, s)| Edit::Insert(i, s)),
        (any::<usize>(), prop::char::range(' ', '~')).prop_map(|(i, c)| Edit::Replace(i, c)),
        (any::<usize>(), 1..40usize).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

fn mutate(seed: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for e in edits {
        let len = chars.len().max(1);
        match *e {
            Edit::Delete(i, n) => {
                let i = i % len;
                let end = (i + n).min(chars.len());
                if i < end {
                    chars.drain(i..end);
                }
            }
            Edit::Insert(i, s) => {
                let i = i % (chars.len() + 1);
                chars.splice(i..i, s.chars());
            }
            Edit::Replace(i, c) => {
                if !chars.is_empty() {
                    chars[i % len] = c;
                }
            }
            Edit::Duplicate(i, n) => {
                let i = i % len;
                let end = (i + n).min(chars.len());
                let copy: Vec<char> = chars.get(i..end).unwrap_or_default().to_vec();
                chars.splice(end..end, copy);
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    // 512 cases unless PROPTEST_CASES says otherwise.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn random_fragments_never_panic(text in soup()) {
        check(&text)?;
    }

    #[test]
    fn mutated_scripts_never_panic(
        seed in prop::sample::select(SEEDS),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        check(&mutate(seed, &edits))?;
    }
}

#[test]
fn the_seeds_read_back() {
    for s in SEEDS {
        reads_back(&ok(s)).unwrap();
    }
}

// ----- real scripts, outside the repository -----

/// Every `*.pkt` file under the directory `TCPSIM_PKT_DIR` (recursively)
/// parses, and its printed form reads back. For the public scripts of the
/// packetdrill suites, which stay outside the repository:
/// `TCPSIM_PKT_DIR=/path/to/pkt cargo test -p tcpsim-runner --test script_parse parse_external -- --ignored --nocapture`.
#[test]
#[ignore = "reads the scripts under TCPSIM_PKT_DIR"]
fn parse_external() {
    let dir =
        std::env::var("TCPSIM_PKT_DIR").expect("TCPSIM_PKT_DIR names a directory of .pkt files");
    let mut files = Vec::new();
    collect(Path::new(&dir), &mut files);
    files.sort();
    assert!(!files.is_empty(), "no .pkt files under {dir}");
    let mut failures = Vec::new();
    let mut events = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("reads the script");
        match parse(&f.display().to_string(), &text) {
            Ok(s) => {
                events += s.events.len();
                if let Err(e) = reads_back(&s) {
                    failures.push(format!("{}: printed form: {e}", f.display()));
                }
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    println!(
        "{} scripts, {} parsed ({events} events), {} failed",
        files.len(),
        files.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reads the directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "pkt") {
            out.push(path);
        }
    }
}

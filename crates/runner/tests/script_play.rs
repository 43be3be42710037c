//! `tcpsim script`'s player: the project's own scripts pass, and a script
//! that does not match fails at the right line with what was sent.

use tcpsim_runner::script::{Overrides, Verdict, run};
use tcpsim_tcp::Profile;

/// Overrides that keep the exchange (`--verbose`).
fn logged() -> Overrides {
    Overrides {
        log: true,
        ..Overrides::default()
    }
}

fn play(text: &str) -> Verdict {
    run("t.pkt", text, Profile::Linux, &Overrides::default())
        .expect("plays")
        .0
        .verdict
}

const HANDSHAKE: &str = "\
0    socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0   bind(3, ..., ...) = 0
+0   listen(3, 1) = 0
+0   < S 0:0(0) win 65535 <mss 1460>
+0   > S. 0:0(0) ack 1 <mss 1460>
+.01 < . 1:1(0) ack 1 win 65535
+0   accept(3, ..., ...) = 4
";

/// `tests/packetdrill/linux/` with the `linux` profile and
/// `tests/packetdrill/rfc/` with the `rfc` profile (as `.ci/run` plays them).
#[test]
fn every_script_in_tests_packetdrill_passes() {
    let mut n = 0;
    for (sub, profile) in [
        ("linux", Profile::Linux),
        ("rfc", Profile::Rfc),
        ("rfc-recovery", Profile::Rfc),
    ] {
        n += play_dir(sub, profile);
    }
    assert!(n >= 99, "only {n} scripts");
}

fn play_dir(sub: &str, profile: Profile) -> usize {
    let dir = format!(
        "{}/../../tests/packetdrill/{sub}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "pkt") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.display().to_string();
        let (played, _) = run(&name, &text, profile, &logged()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            played.verdict,
            Verdict::Ok,
            "{name}:\n{}",
            played.log.join("\n")
        );
        n += 1;
    }
    n
}

/// The ACK of 100 octets is ack 101; a script that says 100 fails on that
/// line, quoting it and what was sent.
#[test]
fn a_wrong_ack_fails_on_its_line_with_what_was_sent() {
    let text =
        format!("{HANDSHAKE}+0   < P. 1:101(100) ack 1 win 65535\n+0   > . 1:1(0) ack 100\n");
    match play(&text) {
        Verdict::Failed { line, message } => {
            assert_eq!(line, 9);
            assert!(
                message
                    .starts_with("expected `+0   > . 1:1(0) ack 100`, got `. 1:1(0) ack 101 win "),
                "{message}"
            );
            assert!(message.ends_with("(ack differs)"), "{message}");
        }
        v => panic!("{v:?}"),
    }
}

/// The first data segment is acknowledged at once (quick-ACK): a script
/// that expects the ACK 100 ms later fails on timing, beyond the
/// tolerance of max(4 ms, 12.5 % of 100 ms) = 12.5 ms.
#[test]
fn a_segment_outside_the_tolerance_fails_on_timing() {
    let text =
        format!("{HANDSHAKE}+0   < P. 1:101(100) ack 1 win 65535\n+.1  > . 1:1(0) ack 101\n");
    match play(&text) {
        Verdict::Failed { line, message } => {
            assert_eq!(line, 9);
            assert!(
                message.contains("at 0.110000, got it at 0.010000 (tolerance 12500 us)"),
                "{message}"
            );
        }
        v => panic!("{v:?}"),
    }
}

#[test]
fn nothing_sent_is_reported_with_the_deadline() {
    let text = format!("{HANDSHAKE}+0   > . 1:1(0) ack 1\n");
    match play(&text) {
        Verdict::Failed { line, message } => {
            assert_eq!(line, 8);
            assert!(message.ends_with("got nothing by 0.014000"), "{message}");
        }
        v => panic!("{v:?}"),
    }
}

#[test]
fn a_wrong_return_value_fails() {
    let text = format!("{HANDSHAKE}+0   read(4, ..., 100) = 100\n");
    // Nothing to read and a blocking socket: the call blocks and nothing
    // can end it.
    match play(&text) {
        Verdict::Failed { line, message } => {
            assert_eq!(line, 8);
            assert!(message.contains("the call blocked"), "{message}");
        }
        v => panic!("{v:?}"),
    }
    let text = format!("{HANDSHAKE}+0   write(4, ..., 10) = 11\n");
    match play(&text) {
        Verdict::Failed { line, message } => {
            assert_eq!(line, 8);
            assert!(message.ends_with("got `= 10` at 0.010000"), "{message}");
        }
        v => panic!("{v:?}"),
    }
}

#[test]
fn unsupported_calls_and_options_are_refused_with_their_position() {
    let e = run(
        "t.pkt",
        "0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n",
        Profile::Linux,
        &Overrides::default(),
    )
    .unwrap_err();
    assert_eq!((e.line, e.column), (1, 15), "{e}");
    assert!(
        e.message.contains("SOCK_DGRAM") || e.message.contains("unknown symbol"),
        "{e}"
    );
    let e = run(
        "t.pkt",
        "--ip_version=ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n",
        Profile::Linux,
        &Overrides::default(),
    )
    .unwrap_err();
    assert_eq!(e.line, 1, "{e}");
    assert!(e.to_string().starts_with("t.pkt:1:"), "{e}");
    let e = run(
        "t.pkt",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 sendmsg(3, {}, 0) = 0\n",
        Profile::Linux,
        &Overrides::default(),
    )
    .unwrap_err();
    assert_eq!((e.line, e.column), (2, 4), "{e}");
}

#[test]
fn python_other_than_asserts_makes_the_script_skipped() {
    let text = format!("{HANDSHAKE}+0 %{{ print(tcpi_rto) }}%\n");
    assert!(matches!(play(&text), Verdict::Skipped { line: 8, .. }));
    let text = format!(
        "{HANDSHAKE}+0 %{{ assert tcpi_state == TCP_ESTABLISHED; assert tcpi_snd_mss == 1460 }}%\n"
    );
    assert_eq!(play(&text), Verdict::Ok);
    let text = format!("{HANDSHAKE}+0 %{{ assert tcpi_snd_mss == 1000 }}%\n");
    assert!(matches!(play(&text), Verdict::Failed { line: 8, .. }));
}

/// The same script gives the same exchange, byte for byte.
#[test]
fn playing_is_deterministic() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/packetdrill/linux/active-open-local-close.pkt"
    ))
    .unwrap();
    let a = run("a", &text, Profile::Linux, &logged()).unwrap().0;
    let b = run("a", &text, Profile::Linux, &logged()).unwrap().0;
    assert!(!a.log.is_empty());
    assert_eq!(a, b);
    // Without --verbose nothing is logged, and the verdict is the same.
    let quiet = run("a", &text, Profile::Linux, &Overrides::default())
        .unwrap()
        .0;
    assert!(quiet.log.is_empty());
    assert_eq!(quiet.verdict, a.verdict);
}

/// After the first SYN defined the endpoint's ISN, a later SYN-ACK (a
/// TIME-WAIT reopened by a new SYN: ISS = old SND.NXT + 65537, here 65539)
/// is compared against it: a script that says 65538 fails on that line.
#[test]
fn a_later_syn_is_compared_against_the_first_isn() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/packetdrill/linux/time-wait-reopened-by-syn.pkt"
    ))
    .unwrap();
    assert_eq!(play(&text), Verdict::Ok);
    let wrong = text.replace("> S. 65539:65539(0)", "> S. 65538:65538(0)");
    assert_ne!(wrong, text);
    match play(&wrong) {
        Verdict::Failed { message, .. } => {
            assert!(message.contains("got `S. 65539:65539(0)"), "{message}");
            assert!(message.ends_with("(sequence number differs)"), "{message}");
        }
        v => panic!("{v:?}"),
    }
}

mod hostile {
    //! Edited copies of the project's scripts — numbers changed, lines
    //! dropped or repeated — are played to the end or refused with a
    //! position inside the text, never a panic or a hang.

    use proptest::prelude::*;
    use tcpsim_runner::script::{Overrides, run};
    use tcpsim_tcp::Profile;

    fn scripts() -> Vec<String> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/packetdrill/linux");
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pkt"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// One edit: 0 replaces the `n`-th number with `v`, 1 drops line `n`,
    /// 2 repeats line `n`.
    fn edit(text: &str, kind: u8, n: usize, v: u64) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.is_empty() {
            return text.to_string();
        }
        let i = n % lines.len();
        match kind % 3 {
            0 => {
                let line = &lines[i];
                let digits: Vec<(usize, usize)> = {
                    let b = line.as_bytes();
                    let mut runs = Vec::new();
                    let mut j = 0;
                    while j < b.len() {
                        if b[j].is_ascii_digit() {
                            let s = j;
                            while j < b.len() && b[j].is_ascii_digit() {
                                j += 1;
                            }
                            runs.push((s, j));
                        } else {
                            j += 1;
                        }
                    }
                    runs
                };
                if let Some(&(s, e)) = digits.get(n % digits.len().max(1)) {
                    lines[i] = format!("{}{}{}", &line[..s], v, &line[e..]);
                }
            }
            1 => {
                lines.remove(i);
            }
            _ => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
        }
        lines.join("\n")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn edited_scripts_never_panic(pick in 0usize..1000, edits in proptest::collection::vec((0u8..3, 0usize..10_000, prop_oneof![0u64..3, 0u64..70_000, Just(u64::from(u32::MAX)), Just(999_999)]), 1..4), rfc in any::<bool>()) {
            let all = scripts();
            let mut text = all[pick % all.len()].clone();
            for (k, n, v) in edits {
                text = edit(&text, k, n, v);
            }
            let profile = if rfc { Profile::Rfc } else { Profile::Linux };
            match run("e.pkt", &text, profile, &Overrides::default()) {
                Ok(_) => {}
                Err(e) => {
                    let lines = text.lines().count().max(1) as u32;
                    prop_assert!(e.line >= 1 && e.line <= lines + 1, "{e}");
                }
            }
        }
    }
}

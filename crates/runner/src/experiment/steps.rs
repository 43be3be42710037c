//! The text of one application step (`client_app` / `server_app`, tcpsim
//! SPEC §3 "Applications"): `"write 3000"`, `"read eof"`, `"sleep 10ms"`,
//! and the checks a whole list must pass.

use tcpsim_net::Step;
use tcpsim_tcp::Instant;

use super::de::closest;
use super::limits::MAX_SEND_BYTES;
use super::units::parse_file_duration;

/// Every step, as the error messages list them.
const SPELLINGS: &str = "write N, read N, read eof, read all, wait acked, sleep DUR, at T, \
     shutdown, shutdown read, shutdown both, close, abort";

/// The verbs, for "did you mean".
const VERBS: &[&str] = &[
    "write", "read", "wait", "sleep", "at", "shutdown", "close", "abort",
];

/// Parses one step; the error says what was expected.
pub(crate) fn parse_step(text: &str) -> Result<Step, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let unknown = || {
        let mut m = format!("expected a step ({SPELLINGS}), found {text:?}");
        if let Some(verb) = words.first() {
            if !VERBS.contains(verb) {
                if let Some(near) = closest(verb, VERBS) {
                    m.push_str(&format!(" (did you mean {near:?}?)"));
                }
            }
        }
        m
    };
    let count = |n: &str, what: &str| -> Result<u64, String> {
        n.parse::<u64>()
            .ok()
            .filter(|v| (1..=MAX_SEND_BYTES).contains(v))
            .ok_or_else(|| {
                format!(
                    "{what}: expected a byte count between 1 and 1073741824 (1 GiB), found {n:?}"
                )
            })
    };
    let step = match words.as_slice() {
        ["write", n] => Step::Write(count(n, "write")?),
        ["read", "eof"] => Step::ReadEof,
        ["read", "all"] => Step::ReadAll,
        ["read", n] => Step::Read(count(n, "read")?),
        ["wait", "acked"] => Step::WaitAcked,
        ["sleep", d] => Step::Sleep(parse_file_duration(d).map_err(|e| format!("sleep: {e}"))?),
        ["at", t] => {
            Step::At(Instant::ZERO + parse_file_duration(t).map_err(|e| format!("at: {e}"))?)
        }
        ["shutdown"] => Step::Shutdown,
        ["shutdown", "read"] => Step::ShutdownRead,
        ["shutdown", "both"] => Step::ShutdownBoth,
        ["close"] => Step::Close,
        ["abort"] => Step::Abort,
        _ => return Err(unknown()),
    };
    Ok(step)
}

/// What is wrong with step `i` of a list whose earlier steps are
/// `before`, if anything: nothing follows `close` or `abort`, and nothing
/// writes after the write side is shut down.
pub(crate) fn check_order(before: &[Step], step: Step) -> Result<(), String> {
    if let Some(last) = before.last().filter(|s| s.is_final()) {
        let name = if *last == Step::Close {
            "close"
        } else {
            "abort"
        };
        return Err(format!(
            "a step after {name:?}: expected {name:?} to be the last step ({name} releases the socket)"
        ));
    }
    let shut = before
        .iter()
        .any(|s| matches!(s, Step::Shutdown | Step::ShutdownBoth));
    if shut && matches!(step, Step::Write(_)) {
        return Err(
            "a write after the write side was shut down: expected the writes before \"shutdown\""
                .to_owned(),
        );
    }
    if shut && matches!(step, Step::Shutdown | Step::ShutdownBoth) {
        return Err("a second shutdown of the write side: expected one \"shutdown\"".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcpsim_tcp::Duration;

    #[test]
    fn every_spelling_of_the_spec_table() {
        let cases = [
            ("write 3000", Step::Write(3000)),
            ("read 100", Step::Read(100)),
            ("read eof", Step::ReadEof),
            ("read all", Step::ReadAll),
            ("wait acked", Step::WaitAcked),
            ("sleep 10ms", Step::Sleep(Duration::from_millis(10))),
            (
                "at 1.5s",
                Step::At(Instant::ZERO + Duration::from_millis(1500)),
            ),
            ("shutdown", Step::Shutdown),
            ("shutdown read", Step::ShutdownRead),
            ("shutdown both", Step::ShutdownBoth),
            ("close", Step::Close),
            ("  abort ", Step::Abort),
        ];
        for (text, step) in cases {
            assert_eq!(parse_step(text), Ok(step), "{text}");
        }
    }

    #[test]
    fn bad_steps_say_what_was_expected() {
        let e = parse_step("wrte 10").unwrap_err();
        assert!(e.contains("did you mean \"write\"?"), "{e}");
        assert!(e.contains("read eof"), "{e}");
        let e = parse_step("write 0").unwrap_err();
        assert!(
            e.starts_with("write: expected a byte count between 1"),
            "{e}"
        );
        let e = parse_step("write 1073741825").unwrap_err();
        assert!(e.contains("1 GiB"), "{e}");
        let e = parse_step("sleep 10").unwrap_err();
        assert!(e.starts_with("sleep: expected a duration"), "{e}");
        assert!(parse_step("").is_err());
        assert!(parse_step("close now").is_err());
    }

    #[test]
    fn order_rules() {
        assert!(check_order(&[Step::Close], Step::ReadAll).is_err());
        assert!(check_order(&[Step::Abort], Step::Close).is_err());
        assert!(check_order(&[Step::Shutdown], Step::Write(1)).is_err());
        assert!(check_order(&[Step::ShutdownBoth], Step::Shutdown).is_err());
        assert!(check_order(&[Step::ShutdownRead], Step::Write(1)).is_ok());
        assert!(check_order(&[Step::Shutdown], Step::ReadEof).is_ok());
    }
}

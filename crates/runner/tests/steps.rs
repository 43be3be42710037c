//! Application step lists (`client_app`, `server_app`; SPEC §3
//! "Applications") against the shorthand they generalise.
//!
//! docs/experiment-file.md defines each close mode of the shorthand as the
//! step lists below. This test holds the definition to the code: every
//! experiment in `configs/` is run as written and again with each
//! shorthand end replaced by its list, and the two runs must put the same
//! segments on the wire at the same times, with the same state changes —
//! everything but the application events, whose names differ (a list
//! records each step). The shorthand also reads what arrives while an
//! earlier step runs; a list reads only in its read steps, so the two
//! differ where an end is sent data while it is still writing or waiting:
//! no file in `configs/` does that except those listed in `CONCURRENT`.

use std::path::Path;

use tcpsim_net::{CloseMode, Step, TraceKind};
use tcpsim_runner::build::{Keep, build};
use tcpsim_runner::{ConnectionSpec, Experiment, parse};

/// Files whose ends receive data while they write or wait: the shorthand
/// reads it meanwhile, a list would not, so the list's receive window
/// closes by what waits unread (the client's 20 000 bytes are still
/// unacknowledged when the server's 5 000 arrive). The test checks that
/// these do differ, so the list cannot go stale.
const CONCURRENT: &[&str] = &["burst-loss", "random-loss"];

/// The lists a shorthand connection stands for: client first.
fn lists(c: &ConnectionSpec) -> (Vec<Step>, Vec<Step>) {
    let writes = |n: u64| if n > 0 { vec![Step::Write(n)] } else { vec![] };
    let closer = |n: u64, close_at: Option<Step>, last: Step| {
        let mut l = writes(n);
        l.push(close_at.unwrap_or(Step::WaitAcked));
        if last == Step::Abort {
            l.push(Step::Abort);
        } else {
            l.extend([Step::Shutdown, Step::ReadEof, Step::Close]);
        }
        l
    };
    let other = |n: u64| {
        let mut l = writes(n);
        l.extend([Step::ReadEof, Step::Close]);
        l
    };
    let at = c.close_at.map(|t| Step::At(tcpsim_tcp::Instant::ZERO + t));
    let (cs, ss) = (c.client_sends, c.server_sends);
    match c.close {
        CloseMode::ClientFirst => (closer(cs, at, Step::Close), other(ss)),
        CloseMode::ClientAbort => (closer(cs, at, Step::Abort), other(ss)),
        CloseMode::ServerFirst => (other(cs), closer(ss, at, Step::Close)),
        CloseMode::ServerAbort => (other(cs), closer(ss, at, Step::Abort)),
        CloseMode::Simultaneous => (closer(cs, at, Step::Close), closer(ss, at, Step::Close)),
        CloseMode::None => {
            let open = |n| {
                let mut l = writes(n);
                l.push(Step::ReadEof);
                l
            };
            (open(cs), open(ss))
        }
    }
}

/// `exp` with every connection's ends given as step lists.
fn as_lists(exp: &Experiment) -> Experiment {
    let mut e = exp.clone();
    for c in &mut e.connections {
        let (client, server) = lists(c);
        c.client_app = Some(client);
        c.server_app = Some(server);
        c.client_sends = 0;
        c.server_sends = 0;
        c.close_at = None;
    }
    e
}

/// What reached the wire and the state machines: every trace record but
/// the application's.
fn wire(exp: &Experiment) -> Vec<String> {
    let r = build(exp, exp.seed, Keep::ALL).unwrap().run();
    r.trace
        .unwrap()
        .iter()
        .filter(|t| !matches!(t.kind, TraceKind::App { .. }))
        .map(|t| format!("{:?} {:?}", t.at, t.kind))
        .collect()
}

#[test]
fn the_shorthand_is_the_lists_it_stands_for() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut compared = 0;
    for path in &files {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let exp = parse(
            &std::fs::read_to_string(path).unwrap(),
            &path.display().to_string(),
        )
        .unwrap();
        let shorthand = exp
            .connections
            .iter()
            .all(|c| c.client_app.is_none() && c.server_app.is_none());
        if !shorthand {
            continue;
        }
        let (a, b) = (wire(&exp), wire(&as_lists(&exp)));
        if CONCURRENT.contains(&name) {
            assert_ne!(
                a, b,
                "{name} is listed as concurrent but its lists run alike"
            );
            continue;
        }
        let first = a.iter().zip(&b).position(|(x, y)| x != y);
        assert!(
            a == b,
            "{name}: the lists differ from the shorthand at record {first:?}: {:?} vs {:?} ({} vs {} records)",
            first.map(|i| &a[i]),
            first.map(|i| &b[i]),
            a.len(),
            b.len()
        );
        compared += 1;
    }
    assert!(compared >= 25, "only {compared} configs compared");
}

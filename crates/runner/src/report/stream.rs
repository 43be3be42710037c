//! The JSON report written one event at a time: the same bytes as
//! `serde_json::to_string_pretty(&report)`, without the report's events all
//! in memory at once.
//!
//! The bytes around the events are what serde writes for the [`Report`]
//! with no event: `{`, the fields before `events` (`tcpsim` ...
//! `stop_reason`), `"events": [` ... `]`, the fields after (`connections`,
//! `expectations`, `passed`), `}`. The writer takes them from that
//! serialisation instead of listing the fields, so a field added to
//! [`Report`] is written here too, in its place. Each event is serialised
//! with the same pretty printer and indented by the two levels it sits at.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::PrettyFormatter;

use super::{Event, Report};

/// Where `events` is in the pretty JSON of a report with no event: a key of
/// the top-level object, so indented by one level (2 spaces) on a line of
/// its own. No string can contain it: serde_json writes a newline inside a
/// string as `\n`, so a raw newline is always layout.
const EMPTY_EVENTS: &str = "\n  \"events\": []";

/// The indentation of an event's lines: two levels (the report object,
/// the `events` array) of serde_json's two spaces.
const EVENT_INDENT: &[u8] = b"\n    ";

/// Writes a report incrementally: [`ReportWriter::begin`] with the header,
/// [`ReportWriter::event`] for each event as it is produced,
/// [`ReportWriter::finish`] with the connections and expectations. The
/// output is byte for byte `serde_json::to_string_pretty` of the whole
/// [`Report`] (no newline at the end).
///
/// The header holds `end_ns` and `stop_reason`, which come before
/// `events` in the report: a run must have ended before its report can be
/// begun. What the writer saves is the memory of the events, which can be
/// made one at a time from the run's compact trace
/// ([`super::events`]).
///
/// ```
/// use tcpsim_runner::report::{Report, ReportWriter};
///
/// let report: Report = serde_json::from_str(r#"{"tcpsim": "0.1.0",
///     "experiment": "x", "seed": 1, "profile": "rfc", "schema": 1,
///     "end_ns": 5, "stop_reason": "idle", "events": [{"t_ns": 0,
///     "type": "app", "host": "client", "conn": 0, "call": "connect"}],
///     "connections": [], "expectations": [], "passed": true}"#).unwrap();
/// let head = Report { events: Vec::new(), ..report.clone() };
/// let mut w = ReportWriter::begin(Vec::new(), &head).unwrap();
/// for e in &report.events {
///     w.event(e).unwrap();
/// }
/// let bytes = w.finish(&head).unwrap();
/// assert_eq!(bytes, serde_json::to_vec_pretty(&report).unwrap());
/// ```
#[derive(Debug)]
pub struct ReportWriter<W: Write> {
    out: W,
    /// Events written so far.
    events: u64,
}

impl<W: Write> ReportWriter<W> {
    /// Writes the report's `{` and every field before `events`, taken from
    /// `head`, and opens `events`. `head` must have no event
    /// ([`Report::without_events`]); one that has some is an
    /// [`io::ErrorKind::InvalidInput`] error, and nothing is written.
    pub fn begin(mut out: W, head: &Report) -> io::Result<ReportWriter<W>> {
        no_events(head)?;
        // Only the fields before `events` are wanted: the rest are left
        // empty so as not to serialise the connections twice. The literal
        // names every field, so a new one does not compile until it is
        // placed here.
        let header = Report {
            tcpsim: head.tcpsim.clone(),
            experiment: head.experiment.clone(),
            seed: head.seed,
            profile: head.profile.clone(),
            schema: head.schema,
            end_ns: head.end_ns,
            stop_reason: head.stop_reason.clone(),
            events: Vec::new(),
            connections: Vec::new(),
            expectations: Vec::new(),
            passed: head.passed,
        };
        let (before, _) = split(&header)?;
        out.write_all(before.as_bytes())?;
        out.write_all(b"\n  \"events\": [")?;
        Ok(ReportWriter { out, events: 0 })
    }

    /// Writes one event, after those already written.
    pub fn event(&mut self, event: &Event) -> io::Result<()> {
        self.out.write_all(if self.events == 0 {
            b"\n    "
        } else {
            b",\n    "
        })?;
        let mut ser = serde_json::Serializer::with_formatter(
            Indented(&mut self.out),
            PrettyFormatter::with_indent(b"  "),
        );
        // `From` keeps the kind of an output error (a closed pipe stays
        // `BrokenPipe`, which `run` exits quietly on).
        event.serialize(&mut ser).map_err(io::Error::from)?;
        self.events += 1;
        Ok(())
    }

    /// Closes `events` and writes every field after it, taken from `tail`,
    /// and the closing `}`; gives back the output, flushed. `tail` must
    /// have no event, like `head` in [`ReportWriter::begin`] (it is usually
    /// the same report).
    pub fn finish(mut self, tail: &Report) -> io::Result<W> {
        let (_, after) = split(tail)?;
        // Pretty JSON closes a non-empty array on a line of its own, and
        // writes an empty one as `[]`.
        self.out
            .write_all(if self.events == 0 { b"]" } else { b"\n  ]" })?;
        self.out.write_all(after.as_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The pretty JSON of `report`, which must have no event, cut around its
/// empty `events`: what comes before the key and what comes after `[]`.
fn split(report: &Report) -> io::Result<(String, String)> {
    no_events(report)?;
    let json = serde_json::to_string_pretty(report).map_err(io::Error::other)?;
    let at = json
        .find(EMPTY_EVENTS)
        .ok_or_else(|| io::Error::other("the report's JSON has no empty `events`"))?;
    Ok((
        json[..at].to_string(),
        json[at + EMPTY_EVENTS.len()..].to_string(),
    ))
}

/// An error unless `report` has no event.
fn no_events(report: &Report) -> io::Result<()> {
    if report.events.is_empty() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the report given to a ReportWriter has events of its own",
        ))
    }
}

/// Output that indents every line after the first by [`EVENT_INDENT`]:
/// an event serialised at the top level, placed inside `events`.
struct Indented<'a, W: Write>(&'a mut W);

impl<W: Write> Write for Indented<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.0.write_all(&rest[..i])?;
            self.0.write_all(EVENT_INDENT)?;
            rest = &rest[i + 1..];
        }
        self.0.write_all(rest)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{AppEvent, Call, EventKind, Expectation};

    fn report(events: usize) -> Report {
        Report {
            tcpsim: "0.1.0".into(),
            experiment: "e \"quoted\"\nline".into(),
            seed: u64::MAX,
            profile: "rfc".into(),
            schema: 1,
            end_ns: 7,
            stop_reason: "idle".into(),
            events: (0..events)
                .map(|i| Event {
                    t_ns: i as u64,
                    kind: EventKind::App(AppEvent {
                        host: "h\n  \"events\": []".into(),
                        conn: Some(0),
                        call: Call::Write { bytes: 3 },
                    }),
                })
                .collect(),
            connections: Vec::new(),
            expectations: vec![Expectation {
                name: "outcome".into(),
                expected: "closed".into(),
                actual: "closed".into(),
                passed: true,
            }],
            passed: true,
        }
    }

    fn stream(r: &Report) -> String {
        let head = Report {
            events: Vec::new(),
            ..r.clone()
        };
        let mut w = ReportWriter::begin(Vec::new(), &head).unwrap();
        for e in &r.events {
            w.event(e).unwrap();
        }
        String::from_utf8(w.finish(&head).unwrap()).unwrap()
    }

    #[test]
    fn zero_one_and_two_events_give_the_bytes_of_the_whole() {
        // Strings with a newline and with the text of the events key are
        // escaped, so they cannot be taken for the layout.
        for n in 0..3 {
            let r = report(n);
            assert_eq!(stream(&r), serde_json::to_string_pretty(&r).unwrap(), "{n}");
        }
        assert!(stream(&report(0)).contains("\n  \"events\": [],\n"));
    }

    #[test]
    fn a_head_with_events_is_refused() {
        let err = ReportWriter::begin(Vec::new(), &report(1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let w = ReportWriter::begin(Vec::new(), &report(0)).unwrap();
        let err = w.finish(&report(1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}

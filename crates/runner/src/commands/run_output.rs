//! What `tcpsim run` prints of a run whose events went to a temporary file
//! as it ran ([`Spilled`]): the JSON report or the text timeline, written
//! to standard output (standard error when a capture has standard output)
//! one event at a time as the records are read back, so
//! that memory does not grow with the run. The bytes are those of
//! [`crate::report::report`] and [`crate::timeline::render`] of the same
//! run with its trace kept.

use std::io::{self, BufWriter, Write};

use tcpsim_net::RunResult;

use super::{INTERNAL, OK, expectations_text};
use crate::evaluate::Check;
use crate::report::{Event, Meta, Report, ReportWriter, Spilled};
use crate::timeline::{Lines, header, write_summary};

/// The buffer in front of standard output.
const BUFFER: usize = 64 * 1024;

/// Why the output stopped.
enum Stop {
    /// The event log could not be read back from its temporary file.
    Log(io::Error),
    /// Standard output could not be written.
    Out(io::Error),
}

/// The exit code of an output that ended with `result`: a closed pipe
/// (`| head`) is not an error worth a code; any other error is said on
/// standard error and is an internal error.
fn exit_code(result: Result<(), Stop>) -> u8 {
    match result {
        Ok(()) => OK,
        Err(Stop::Out(e)) if e.kind() == io::ErrorKind::BrokenPipe => OK,
        Err(Stop::Out(e)) => {
            eprintln!("error: cannot write output: {e}");
            INTERNAL
        }
        Err(Stop::Log(e)) => {
            eprintln!("error: cannot read the event log back from its temporary file: {e}");
            INTERNAL
        }
    }
}

/// Standard output, or standard error when `stderr` (a capture has
/// standard output), buffered.
fn output(stderr: bool) -> BufWriter<Box<dyn Write>> {
    let out: Box<dyn Write> = if stderr {
        Box::new(io::stderr().lock())
    } else {
        Box::new(io::stdout().lock())
    };
    BufWriter::with_capacity(BUFFER, out)
}

/// Writes the JSON report of run `r` and a newline (to standard error
/// when `stderr`): the header and the
/// connections from `r`, the events from `spilled` (`show_options`:
/// whether the run's segments show options, [`crate::report::options_in_use`]).
pub(super) fn json(
    meta: &Meta<'_>,
    r: &RunResult,
    checks: &[Check],
    spilled: &Spilled,
    show_options: bool,
    stderr: bool,
) -> u8 {
    let head = Report::without_events(meta, r, checks);
    let out = output(stderr);
    let written = (|| {
        let mut w = ReportWriter::begin(out, &head).map_err(Stop::Out)?;
        for rec in spilled.records().map_err(Stop::Log)? {
            let rec = rec.map_err(Stop::Log)?;
            let event = Event::new(r, show_options, rec.at, &rec.kind);
            w.event(&event).map_err(Stop::Out)?;
        }
        let mut out = w.finish(&head).map_err(Stop::Out)?;
        out.write_all(b"\n")
            .and_then(|()| out.flush())
            .map_err(Stop::Out)
    })();
    exit_code(written)
}

/// Writes the text timeline of run `r`, its events from `spilled`, then
/// the summary and the expectations (to standard error when `stderr`).
pub(super) fn timeline(
    meta: &Meta<'_>,
    r: &RunResult,
    checks: &[Check],
    spilled: &Spilled,
    show_options: bool,
    stderr: bool,
) -> u8 {
    let mut out = output(stderr);
    let written = (|| {
        out.write_all(header(meta).as_bytes()).map_err(Stop::Out)?;
        let mut lines = Lines::new(r, show_options);
        let mut line = String::new();
        for rec in spilled.records().map_err(Stop::Log)? {
            let rec = rec.map_err(Stop::Log)?;
            line.clear();
            lines.write(&mut line, &rec);
            out.write_all(line.as_bytes()).map_err(Stop::Out)?;
        }
        out.write_all(b"\n").map_err(Stop::Out)?;
        summary_and_expectations(&mut out, r, checks).map_err(Stop::Out)
    })();
    exit_code(written)
}

/// Writes the summary of run `r` and the expectations (to standard error
/// when `stderr`): what `run --quiet` prints.
pub(super) fn summary(r: &RunResult, checks: &[Check], stderr: bool) -> u8 {
    let mut out = output(stderr);
    exit_code(summary_and_expectations(&mut out, r, checks).map_err(Stop::Out))
}

/// The summary, the expectations, and a flush: the end of either text.
fn summary_and_expectations(
    out: &mut impl Write,
    r: &RunResult,
    checks: &[Check],
) -> io::Result<()> {
    write_summary(out, r)?;
    out.write_all(expectations_text(checks).as_bytes())?;
    out.flush()
}

//! Fuzz check for the packetdrill script parser (SPEC §7): arbitrary text
//! never makes `script::parse` panic or hang; every error names the file,
//! a line and column inside the text, and a message; every event of an
//! accepted script is inside the text; and an accepted script, printed,
//! parses back to a script that prints the same (the printed form loses
//! nothing), unless printing made it longer than the parser's limits.
//!
//! Input layout: the script text. Invalid UTF-8 is read the way the
//! `tcpsim` binary reads files (lossily).

use tcpsim_runner::script::{MAX_LINES, MAX_SCRIPT_BYTES, Script, ScriptError, parse};

const FILE: &str = "fuzz.pkt";

/// The number of characters of each line of `text`, the byte-order mark
/// of the first line not counted.
fn widths(text: &str) -> Vec<u32> {
    text.split('\n')
        .enumerate()
        .map(|(i, line)| {
            let line = if i == 0 {
                line.strip_prefix('\u{feff}').unwrap_or(line)
            } else {
                line
            };
            line.chars().count() as u32
        })
        .collect()
}

fn assert_inside(widths: &[u32], line: u32, column: u32, what: &str) {
    assert!(
        line >= 1 && line as usize <= widths.len(),
        "{what}: line {line} outside the text's {} lines",
        widths.len()
    );
    let width = widths[line as usize - 1];
    assert!(
        column >= 1 && column <= width + 1,
        "{what}: column {column} outside line {line} of {width} characters"
    );
}

fn check_error(e: &ScriptError, text: &str) {
    let shown = e.to_string();
    assert_eq!(e.file, FILE);
    assert!(
        shown.starts_with(&format!("{FILE}:{}:{}: ", e.line, e.column)),
        "{shown}"
    );
    assert!(!e.message.is_empty(), "an error without a message: {shown}");
    assert_inside(&widths(text), e.line, e.column, &shown);
}

fn check_script(s: &Script, text: &str) {
    assert!(!s.events.is_empty(), "a script without events");
    let widths = widths(text);
    for o in &s.options {
        assert_inside(&widths, o.line, o.column, "an option line");
    }
    for e in &s.events {
        assert_inside(&widths, e.line, e.column, "an event");
    }
    let printed = s.to_string();
    if printed.len() > MAX_SCRIPT_BYTES || printed.lines().count() >= MAX_LINES as usize {
        return;
    }
    let again = match parse("printed.pkt", &printed) {
        Ok(again) => again,
        Err(e) => panic!("the printed script does not parse: {e}\n{printed}"),
    };
    assert_eq!(again.events.len(), s.events.len(), "{printed}");
    assert_eq!(again.options.len(), s.options.len(), "{printed}");
    assert_eq!(
        again.to_string(),
        printed,
        "the printed script prints differently"
    );
}

/// Parses the input; panics when an invariant breaks.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match parse(FILE, &text) {
        Ok(s) => check_script(&s, &text),
        Err(e) => check_error(&e, &text),
    }
}

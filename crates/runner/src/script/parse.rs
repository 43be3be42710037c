//! The parser: recursive descent over the lexer's tokens, after
//! packetdrill's bison grammar (`parser.y`) and the checks its actions
//! make, with the limits of [`super`] enforced.
//!
//! The script is `OPTIONS [COMMAND] EVENT... [COMMAND]`; each event is a
//! time and an action: a packet (`packet.rs`), a system call, a
//! backquoted shell command or a `%{ }%` block; expressions are in
//! `expr.rs`. Newlines carry no meaning
//! (as in packetdrill, an event may span lines); every event starts with
//! its time.

use super::ast::{Command, Event, EventKind, EventTime, Micros, OptionLine, Pos, Script, Syscall};
use super::error::ScriptError;
use super::lex::{Kind, Lexer, Token, short};
use super::{MAX_LINES, MAX_NESTING, MAX_OPTION_LINES, MAX_SCRIPT_BYTES, MAX_TIME_SECONDS};

/// Parses a packetdrill script. `file` names it in errors.
///
/// # Examples
///
/// ```
/// use tcpsim_runner::script::{parse, EventKind, EventTime};
///
/// let script = parse("handshake.pkt", "\
/// 0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
/// +0  < S 0:0(0) win 65535 <mss 1460>
/// +.1 > S. 0:0(0) ack 1 <mss 1460>
/// ").unwrap();
/// assert_eq!(script.events.len(), 3);
/// assert_eq!(script.events[2].time, EventTime::Relative(100_000));
/// let EventKind::Packet(p) = &script.events[2].kind else { panic!() };
/// assert!(p.flags.syn && p.flags.ack);
///
/// let e = parse("bad.pkt", "0 < Q 0:0(0) win 1\n").unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     "bad.pkt:1:5: expected a TCP flag (S F R P . E W U A, or an ACE digit 0-7), found `Q`"
/// );
/// ```
pub fn parse(file: &str, text: &str) -> Result<Script, ScriptError> {
    if text.len() > MAX_SCRIPT_BYTES {
        return Err(ScriptError::new(
            file,
            1,
            1,
            format!(
                "the script is {} bytes long; at most {MAX_SCRIPT_BYTES} bytes are allowed",
                text.len()
            ),
        ));
    }
    let newlines = text.bytes().filter(|&b| b == b'\n').count();
    let lines = newlines + usize::from(!text.is_empty() && !text.ends_with('\n'));
    if lines > MAX_LINES as usize {
        return Err(ScriptError::new(
            file,
            MAX_LINES + 1,
            1,
            format!("the script has more than {MAX_LINES} lines, the most allowed"),
        ));
    }
    Parser {
        lx: Lexer::new(file, text),
        depth: 0,
    }
    .script()
}

pub(super) struct Parser<'a> {
    pub(super) lx: Lexer<'a>,
    depth: u32,
}

/// What [`Parser::expect`] and friends say was expected, and what was
/// found instead.
pub(super) fn expected(what: &str, found: &Token<'_>) -> String {
    format!("expected {what}, found {}", found.describe())
}

impl<'a> Parser<'a> {
    pub(super) fn err(&self, pos: Pos, message: impl Into<String>) -> ScriptError {
        self.lx.error(pos, message)
    }

    pub(super) fn peek(&mut self) -> Result<Token<'a>, ScriptError> {
        self.lx.peek()
    }

    pub(super) fn next(&mut self) -> Result<Token<'a>, ScriptError> {
        self.lx.next()
    }

    /// Takes the punctuation `c`, or fails with "expected `what`".
    pub(super) fn expect(&mut self, c: char, what: &str) -> Result<Token<'a>, ScriptError> {
        let t = self.peek()?;
        if t.is(c) {
            self.next()
        } else {
            Err(self.err(t.pos, expected(what, &t)))
        }
    }

    /// Takes the word `w`, or fails with "expected `what`".
    pub(super) fn expect_word(&mut self, w: &str, what: &str) -> Result<Token<'a>, ScriptError> {
        let t = self.peek()?;
        if t.is_word(w) {
            self.next()
        } else {
            Err(self.err(t.pos, expected(what, &t)))
        }
    }

    /// Takes a decimal number of at most `max`; `what` names it in errors.
    pub(super) fn uint(&mut self, what: &str, max: u64) -> Result<u64, ScriptError> {
        let t = self.peek()?;
        if t.kind != Kind::Number {
            return Err(self.err(t.pos, expected(&format!("{what} (a number)"), &t)));
        }
        self.next()?;
        match t.text.parse::<u64>() {
            Ok(v) if v <= max => Ok(v),
            _ => Err(self.err(
                t.pos,
                format!(
                    "{what} out of range: at most {max}, found `{}`",
                    short(t.text)
                ),
            )),
        }
    }

    /// Enters a `[`, `{` or `(`: one level deeper.
    pub(super) fn enter(&mut self, at: Pos) -> Result<(), ScriptError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err(
                at,
                format!(
                    "nesting too deep: at most {MAX_NESTING} levels of `[]`, `{{}}` and `()` are allowed"
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn leave(&mut self) {
        self.depth -= 1;
    }

    fn script(mut self) -> Result<Script, ScriptError> {
        let options = self.options()?;
        let init_command = if self.peek()?.kind == Kind::Command {
            Some(self.command()?)
        } else {
            None
        };
        let mut events = Vec::new();
        let mut cleanup_command = None;
        loop {
            let t = self.peek()?;
            match t.kind {
                Kind::Eof if events.is_empty() => {
                    return Err(self.err(
                        t.pos,
                        expected(
                            "an event (a time such as `0`, `+0.1` or `*`, then what happens)",
                            &t,
                        ),
                    ));
                }
                Kind::Eof => break,
                Kind::Command if !events.is_empty() => {
                    let c = self.command()?;
                    let after = self.peek()?;
                    if after.kind != Kind::Eof {
                        return Err(self.err(
                            Pos {
                                line: c.line,
                                column: c.column,
                            },
                            "a shell command between events needs a time (`+0 `...``); only the \
                             command before the first event and the one after the last may go without",
                        ));
                    }
                    cleanup_command = Some(c);
                }
                Kind::LongOption => return Err(self.late_option(&t, t.text)),
                Kind::Punct('-') if self.lx.src()[t.start..].starts_with("-D") => {
                    return Err(self.late_option(&t, "-D"));
                }
                _ => events.push(self.event()?),
            }
        }
        Ok(Script {
            options,
            init_command,
            events,
            cleanup_command,
        })
    }

    fn late_option(&self, t: &Token<'_>, name: &str) -> ScriptError {
        self.err(
            t.pos,
            format!(
                "the option `{}` comes too late: option lines go at the top, before any shell \
                 command or event",
                short(name)
            ),
        )
    }

    /// The option lines at the top: `--name`, `--name=value`, `-D NAME=VALUE`.
    fn options(&mut self) -> Result<Vec<OptionLine>, ScriptError> {
        let mut options = Vec::new();
        loop {
            self.lx.skip_trivia()?;
            let pos = self.lx.here();
            let long = self.peek()?.kind == Kind::LongOption;
            let define = !long && self.lx.starts_with("-D");
            if !long && !define {
                return Ok(options);
            }
            if options.len() == MAX_OPTION_LINES {
                return Err(self.err(
                    pos,
                    format!("too many option lines: at most {MAX_OPTION_LINES} are allowed"),
                ));
            }
            let option = if long {
                let t = self.next()?;
                let name = t.text[2..].to_owned();
                if self.lx.starts_with("=") {
                    self.lx.take_chars(1);
                    let (vpos, value) = self.option_value(&format!("--{name}"))?;
                    OptionLine {
                        line: pos.line,
                        column: pos.column,
                        name,
                        value: Some(value),
                        value_column: vpos.column,
                    }
                } else {
                    if !self.lx.next_char_is(|c| c.is_whitespace())
                        && !self.lx.starts_with("//")
                        && !self.lx.starts_with("/*")
                        && self.lx.next_char_is(|_| true)
                    {
                        let at = self.lx.here();
                        let found = self.lx.current_char().unwrap_or(' ');
                        return Err(self.err(
                            at,
                            format!(
                                "expected `=` or the end of the option `--{name}`, found `{found}`"
                            ),
                        ));
                    }
                    OptionLine {
                        line: pos.line,
                        column: pos.column,
                        name,
                        value: None,
                        value_column: 0,
                    }
                }
            } else {
                self.lx.take_chars(2);
                self.lx.skip_blanks();
                let (vpos, value, _) = self.lx.option_value()?;
                match value.split_once('=') {
                    Some((n, _)) if !n.is_empty() => {}
                    _ => {
                        let found = if value.is_empty() {
                            "the end of the line".to_owned()
                        } else {
                            format!("`{}`", short(&value))
                        };
                        return Err(self.err(
                            vpos,
                            format!("expected NAME=VALUE after `-D`, found {found}"),
                        ));
                    }
                }
                OptionLine {
                    line: pos.line,
                    column: pos.column,
                    name: "define".to_owned(),
                    value: Some(value),
                    value_column: vpos.column,
                }
            };
            options.push(option);
        }
    }

    fn option_value(&mut self, name: &str) -> Result<(Pos, String), ScriptError> {
        let (vpos, value, quoted) = self.lx.option_value()?;
        if value.is_empty() && !quoted {
            return Err(self.err(vpos, format!("expected a value after `{name}=`")));
        }
        Ok((vpos, value))
    }

    /// A backquoted shell command.
    fn command(&mut self) -> Result<Command, ScriptError> {
        let t = self.next()?;
        Ok(Command {
            line: t.pos.line,
            column: t.pos.column,
            text: t.text[1..t.text.len() - 1].to_owned(),
        })
    }

    /// A time: a non-negative number of seconds, `2` or `0.100` or `.1`,
    /// exact to the microsecond.
    pub(super) fn time(&mut self) -> Result<(Micros, Pos), ScriptError> {
        let t = self.peek()?;
        match t.kind {
            Kind::Number | Kind::Decimal => {
                self.next()?;
                let micros = micros(t.text).map_err(|m| self.err(t.pos, m))?;
                Ok((micros, t.pos))
            }
            Kind::Punct('-') => Err(self.err(t.pos, "a time cannot be negative")),
            _ => Err(self.err(t.pos, expected("a time in seconds (`0`, `1.5`, `.01`)", &t))),
        }
    }

    fn event_time(&mut self) -> Result<(EventTime, Pos), ScriptError> {
        let t = self.peek()?;
        let pos = t.pos;
        let time = match t.kind {
            Kind::Punct('*') => {
                self.next()?;
                EventTime::Any
            }
            Kind::Punct('+') => {
                self.next()?;
                let (a, _) = self.time()?;
                if self.peek()?.is('~') {
                    self.next()?;
                    let plus = self.peek()?;
                    if !plus.is('+') {
                        return Err(self.err(
                            plus.pos,
                            expected("`+` and the end of the relative range (`+a~+b`)", &plus),
                        ));
                    }
                    self.next()?;
                    let (b, bpos) = self.time()?;
                    if b < a {
                        return Err(
                            self.err(bpos, "time range is backwards: its end is before its start")
                        );
                    }
                    EventTime::RelativeRange(a, b)
                } else {
                    EventTime::Relative(a)
                }
            }
            Kind::Number | Kind::Decimal => {
                let (a, _) = self.time()?;
                if self.peek()?.is('~') {
                    self.next()?;
                    let end = self.peek()?;
                    if end.is('+') {
                        return Err(self.err(
                            end.pos,
                            "expected the end of the absolute range (`a~b`), found `+`; a \
                             relative range is written `+a~+b`",
                        ));
                    }
                    let (b, bpos) = self.time()?;
                    if b < a {
                        return Err(
                            self.err(bpos, "time range is backwards: its end is before its start")
                        );
                    }
                    EventTime::AbsoluteRange(a, b)
                } else {
                    EventTime::Absolute(a)
                }
            }
            Kind::Punct('-') => return Err(self.err(t.pos, "a time cannot be negative")),
            _ => {
                return Err(self.err(
                    t.pos,
                    expected(
                        "an event time (`0`, `+0.1`, `*`, `0.1~0.2` or `+0~+0.1`)",
                        &t,
                    ),
                ));
            }
        };
        Ok((time, pos))
    }

    fn event(&mut self) -> Result<Event, ScriptError> {
        let (time, pos) = self.event_time()?;
        let t = self.peek()?;
        let kind = match t.kind {
            Kind::Punct(c @ ('<' | '>')) => {
                self.next()?;
                self.packet(c == '<', t.pos)?
            }
            Kind::Ellipsis => {
                self.next()?;
                let (end, end_pos) = self.time()?;
                let start = match time {
                    EventTime::Absolute(a) | EventTime::Relative(a) => Some(a),
                    _ => None,
                };
                if start.is_some_and(|s| end < s) {
                    return Err(self.err(
                        end_pos,
                        "the end of a blocking call (`...END`) is before its start",
                    ));
                }
                let name = self.peek()?;
                if name.kind != Kind::Word {
                    return Err(self.err(
                        name.pos,
                        expected(
                            "a system call after `...END` (only system calls block)",
                            &name,
                        ),
                    ));
                }
                EventKind::Syscall(self.syscall(Some(end))?)
            }
            Kind::Word => EventKind::Syscall(self.syscall(None)?),
            Kind::Command => {
                self.next()?;
                EventKind::Command(t.text[1..t.text.len() - 1].to_owned())
            }
            Kind::Code => {
                self.next()?;
                let inner = &t.text[2..t.text.len() - 2];
                EventKind::Code(inner.trim_matches([' ', '\t']).to_owned())
            }
            _ => {
                return Err(self.err(
                    t.pos,
                    expected(
                        "a packet (`<` or `>`), a system call, a backquoted shell command or a \
                         `%{ }%` block after the time",
                        &t,
                    ),
                ));
            }
        };
        let outbound_packet = matches!(
            &kind,
            EventKind::Packet(p) if p.direction == super::ast::Direction::Outbound
        );
        match time {
            EventTime::Any if !outbound_packet => {
                return Err(self.err(
                    pos,
                    "the time `*` can only be used with outbound packets (`>`)",
                ));
            }
            EventTime::AbsoluteRange(..) | EventTime::RelativeRange(..) if !outbound_packet => {
                return Err(self.err(
                    pos,
                    "a time range can only be used with outbound packets (`>`)",
                ));
            }
            _ => {}
        }
        Ok(Event {
            line: pos.line,
            column: pos.column,
            time,
            kind,
        })
    }

    /// `NAME(ARGS) = RESULT [ERRNO [(NOTE)]] [(NOTE)]`.
    fn syscall(&mut self, end: Option<Micros>) -> Result<Syscall, ScriptError> {
        let name = self.next()?;
        self.expect(
            '(',
            &format!("`(` after the system call name `{}`", short(name.text)),
        )?;
        let mut args = Vec::new();
        if self.peek()?.is(')') {
            self.next()?;
        } else {
            loop {
                args.push(self.expr()?);
                let t = self.next()?;
                if t.is(')') {
                    break;
                }
                if !t.is(',') {
                    return Err(self.err(t.pos, expected("`,` or `)` after an argument", &t)));
                }
            }
        }
        self.expect('=', "`=` and the expected result after the call")?;
        let result = self.expr()?;
        let mut errno = None;
        let t = self.peek()?;
        if t.kind == Kind::Word {
            self.next()?;
            let note = if self.peek()?.is('(') {
                Some(self.note()?)
            } else {
                None
            };
            errno = Some((t.text.to_owned(), note));
        }
        let note = if self.peek()?.is('(') {
            Some(self.note()?)
        } else {
            None
        };
        let after = self.peek()?;
        if after.kind == Kind::Word {
            return Err(self.err(
                after.pos,
                format!(
                    "unexpected {} after the system call; a note goes in parentheses, as in \
                     `= -1 EAGAIN (Resource temporarily unavailable)`",
                    after.describe()
                ),
            ));
        }
        Ok(Syscall {
            line: name.pos.line,
            column: name.pos.column,
            name: name.text.to_owned(),
            end,
            args,
            result,
            errno,
            note,
        })
    }

    /// `(words...)`, on one line; the words joined by single spaces.
    fn note(&mut self) -> Result<String, ScriptError> {
        let open = self.next()?;
        let raw = self.lx.raw_until(')', open.pos, "note `(`")?;
        Ok(raw.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// Seconds as decimal text (`2`, `0.100`, `.01`) to exact microseconds.
///
/// At most six decimals are significant: `0.0000010` is 1 µs, but
/// `0.0000015` is an error, not a rounding (packetdrill multiplies a float
/// by 10⁶ and truncates, which can be off by one microsecond for values
/// such as `0.000003`).
pub(super) fn micros(text: &str) -> Result<Micros, String> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let too_big = || {
        format!(
            "a time of at most {MAX_TIME_SECONDS} seconds, found `{}`",
            short(text)
        )
    };
    let secs = if int.is_empty() {
        0
    } else if int.len() > 12 {
        return Err(too_big());
    } else {
        int.parse::<i64>().map_err(|_| too_big())?
    };
    if secs > MAX_TIME_SECONDS {
        return Err(too_big());
    }
    let (kept, extra) = frac.split_at(frac.len().min(6));
    if extra.bytes().any(|b| b != b'0') {
        return Err(format!(
            "a time has at most 6 decimals (microseconds), found `{}`",
            short(text)
        ));
    }
    let mut sub = 0i64;
    for (i, b) in kept.bytes().enumerate() {
        sub += i64::from(b - b'0') * 10i64.pow(5 - i as u32);
    }
    if secs == MAX_TIME_SECONDS && sub > 0 {
        return Err(too_big());
    }
    Ok(secs * 1_000_000 + sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_exact_microseconds() {
        assert_eq!(micros("0"), Ok(0));
        assert_eq!(micros("2"), Ok(2_000_000));
        assert_eq!(micros(".01"), Ok(10_000));
        assert_eq!(micros("1.5"), Ok(1_500_000));
        assert_eq!(micros("0.000003"), Ok(3));
        assert_eq!(micros("0.1000000"), Ok(100_000));
        assert!(micros("0.0000015").is_err());
        assert_eq!(micros("1000000"), Ok(1_000_000_000_000));
        assert!(micros("1000000.000001").is_err());
        assert!(micros("99999999999999999999").is_err());
    }
}

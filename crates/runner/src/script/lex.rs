//! Tokens of packetdrill's script language, with their positions.
//!
//! The tokens follow packetdrill's flex lexer (`lexer.l`) in what they
//! accept: words of letters, digits and `_`; decimal, fractional
//! (`.1`, `0.200`) and hexadecimal (`0x2`) numbers; dotted IPv4 addresses;
//! `"strings"` and `` `commands` `` with backslash escapes, kept raw;
//! `%{ code }%` blocks; `...`; `--options`; and single punctuation
//! characters. Whitespace, `// line` and `/* block */` comments separate
//! tokens. Unlike flex, a `-` is always its own token (the parser joins
//! `-1` when the two touch), keywords are ordinary words (the parser knows
//! `ack`, `win`, `mss`... by their text), and a `//` comment may end the
//! file without a newline.
//!
//! A few parts of a line are not made of tokens and are read raw by the
//! parser through the lexer: the TCP flags (`S.`, `F.`, `-`), a note in
//! parentheses after a system call's result, a `{...}` fuzzing block and
//! an option line's value.

use super::ast::Pos;
use super::error::ScriptError;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Decimal digits: `1460`.
    Number,
    /// Digits with a fraction: `0.200`, `.1`.
    Decimal,
    /// `0x` and hex digits.
    Hex,
    /// A dotted IPv4 address: `192.0.2.1`.
    Ipv4,
    /// Letters, digits and `_`, not a number: `connect`, `SOCK_STREAM`,
    /// `abcd1234`.
    Word,
    /// `"..."` (the text includes the quotes).
    Str,
    /// `` `...` `` (the text includes the backquotes).
    Command,
    /// `%{ ... }%` (the text includes the delimiters).
    Code,
    /// `...`.
    Ellipsis,
    /// `--name`.
    LongOption,
    /// Any other single character.
    Punct(char),
    /// The end of the text.
    Eof,
}

/// A token: its kind, its text and where it starts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
    pub pos: Pos,
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset just past the last character.
    pub end: usize,
}

impl Token<'_> {
    pub fn is(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }

    pub fn is_word(&self, w: &str) -> bool {
        self.kind == Kind::Word && self.text == w
    }

    /// The token as an error message names it: `` `foo` ``, "end of file".
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Eof => "end of file".to_owned(),
            Kind::Command => "a backquoted shell command".to_owned(),
            Kind::Code => "a `%{ }%` block".to_owned(),
            Kind::Str => format!("the string {}", quote_short(self.text)),
            _ => format!("`{}`", short(self.text)),
        }
    }
}

/// At most 24 characters of `s`, with `...` when cut.
pub(crate) fn short(s: &str) -> String {
    const MAX: usize = 24;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

fn quote_short(s: &str) -> String {
    let cut = short(s);
    if cut.len() < s.len() {
        cut
    } else {
        s.to_owned()
    }
}

/// Where the lexer is: byte offset, line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cursor {
    offset: usize,
    line: u32,
    column: u32,
}

/// The lexer: a cursor over the text that hands out tokens on demand.
pub(crate) struct Lexer<'a> {
    src: &'a str,
    file: &'a str,
    cur: Cursor,
    /// The last token peeked: where the lexer was, the token, and where
    /// it would be after taking it.
    peeked: Option<(Cursor, Token<'a>, Cursor)>,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

impl<'a> Lexer<'a> {
    /// A lexer over a whole script, which may begin with a byte-order
    /// mark (skipped; it takes no column).
    pub fn new(file: &'a str, src: &'a str) -> Self {
        let mut lx = Self::over(file, src);
        if src.starts_with('\u{feff}') {
            lx.cur.offset = 3;
        }
        lx
    }

    /// A lexer over a piece of text, taken as it is.
    pub fn over(file: &'a str, src: &'a str) -> Self {
        Lexer {
            src,
            file,
            cur: Cursor {
                offset: 0,
                line: 1,
                column: 1,
            },
            peeked: None,
        }
    }

    pub fn error(&self, pos: Pos, message: impl Into<String>) -> ScriptError {
        ScriptError::new(self.file, pos.line, pos.column, message)
    }

    /// The whole text.
    pub fn src(&self) -> &'a str {
        self.src
    }

    /// Where the next character is.
    pub fn here(&self) -> Pos {
        Pos {
            line: self.cur.line,
            column: self.cur.column,
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.cur.offset..]
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.cur.offset += c.len_utf8();
        if c == '\n' {
            self.cur.line += 1;
            self.cur.column = 1;
        } else {
            self.cur.column += 1;
        }
        Some(c)
    }

    fn bump_while(&mut self, f: impl Fn(char) -> bool) {
        while self.peek_char().is_some_and(&f) {
            self.bump();
        }
    }

    /// Skips whitespace and comments.
    pub fn skip_trivia(&mut self) -> Result<(), ScriptError> {
        loop {
            let rest = self.rest();
            if rest.starts_with(is_space) {
                self.bump_while(is_space);
            } else if rest.starts_with("//") {
                self.bump_while(|c| c != '\n');
            } else if let Some(body) = rest.strip_prefix("/*") {
                let start = self.here();
                match body.find("*/") {
                    Some(i) => self.advance_to(self.cur.offset + 2 + i + 2),
                    None => {
                        return Err(self.error(start, "unterminated comment: `/*` without `*/`"));
                    }
                }
            } else {
                return Ok(());
            }
        }
    }

    /// Moves the cursor to byte `offset` (a character boundary ahead),
    /// counting lines and columns on the way.
    fn advance_to(&mut self, offset: usize) {
        while self.cur.offset < offset {
            if self.bump().is_none() {
                break;
            }
        }
    }

    /// The next token, without taking it.
    pub fn peek(&mut self) -> Result<Token<'a>, ScriptError> {
        if let Some((at, tok, _)) = self.peeked {
            if at == self.cur {
                return Ok(tok);
            }
        }
        let at = self.cur;
        let tok = self.lex();
        let after = self.cur;
        self.cur = at;
        let tok = tok?;
        self.peeked = Some((at, tok, after));
        Ok(tok)
    }

    /// The token after the next one, without taking either.
    pub fn peek2(&mut self) -> Result<Token<'a>, ScriptError> {
        let at = self.cur;
        self.next()?;
        let second = self.lex();
        self.cur = at;
        second
    }

    /// Takes the next token.
    pub fn next(&mut self) -> Result<Token<'a>, ScriptError> {
        if let Some((at, tok, after)) = self.peeked {
            if at == self.cur {
                self.cur = after;
                return Ok(tok);
            }
        }
        self.lex()
    }

    fn lex(&mut self) -> Result<Token<'a>, ScriptError> {
        self.skip_trivia()?;
        let pos = self.here();
        let start = self.cur.offset;
        let kind = self.lex_kind(pos)?;
        Ok(Token {
            kind,
            text: &self.src[start..self.cur.offset],
            pos,
            start,
            end: self.cur.offset,
        })
    }

    fn lex_kind(&mut self, pos: Pos) -> Result<Kind, ScriptError> {
        let Some(c) = self.peek_char() else {
            return Ok(Kind::Eof);
        };
        let rest = self.rest();
        match c {
            '"' => {
                self.quoted('"', pos, "unterminated string: `\"` without a closing `\"`")?;
                Ok(Kind::Str)
            }
            '`' => {
                self.quoted(
                    '`',
                    pos,
                    "unterminated shell command: a backquote without a closing backquote",
                )?;
                Ok(Kind::Command)
            }
            '%' if rest.starts_with("%{") => match rest[2..].find("}%") {
                Some(i) => {
                    self.advance_to(self.cur.offset + 2 + i + 2);
                    Ok(Kind::Code)
                }
                None => Err(self.error(pos, "unterminated code block: `%{` without `}%`")),
            },
            '-' if rest.starts_with("--") && rest[2..].starts_with(is_word_char) => {
                self.bump();
                self.bump();
                self.bump_while(is_word_char);
                Ok(Kind::LongOption)
            }
            '.' if rest.starts_with("...") => {
                self.advance_to(self.cur.offset + 3);
                Ok(Kind::Ellipsis)
            }
            '.' if rest[1..].starts_with(|c: char| c.is_ascii_digit()) => {
                self.bump();
                self.bump_while(|c| c.is_ascii_digit());
                Ok(Kind::Decimal)
            }
            c if is_word_char(c) => Ok(self.word_or_number()),
            c if c.is_ascii_graphic() => {
                self.bump();
                Ok(Kind::Punct(c))
            }
            c => Err(self.error(
                pos,
                format!(
                    "unexpected character U+{:04X}{}",
                    u32::from(c),
                    if c.is_control() {
                        String::new()
                    } else {
                        format!(" `{c}`")
                    }
                ),
            )),
        }
    }

    /// A quoted string or command: up to the closing `close`, where a
    /// backslash escapes the next character.
    fn quoted(&mut self, close: char, pos: Pos, unterminated: &str) -> Result<(), ScriptError> {
        self.bump();
        loop {
            match self.bump() {
                None => return Err(self.error(pos, unterminated)),
                Some('\\') => {
                    if self.bump().is_none() {
                        return Err(self.error(pos, unterminated));
                    }
                }
                Some(c) if c == close => return Ok(()),
                Some(_) => {}
            }
        }
    }

    /// A run of word characters: a number (decimal, with a fraction, an
    /// IPv4 address, hexadecimal) or a word, by flex's longest-match rule.
    fn word_or_number(&mut self) -> Kind {
        let rest = self.rest();
        let run = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        let word = &rest[..run];
        if word.bytes().all(|b| b.is_ascii_digit()) {
            // digits, then maybe `.digits` once (a decimal) or three times
            // (an IPv4 address).
            let fractions = dotted_parts(&rest[run..]);
            let take = match fractions.as_slice() {
                [a, b, c, ..] => run + a + b + c,
                [a, ..] => run + a,
                [] => run,
            };
            self.advance_to(self.cur.offset + take);
            return match fractions.len() {
                0 => Kind::Number,
                1 | 2 => Kind::Decimal,
                _ => Kind::Ipv4,
            };
        }
        self.advance_to(self.cur.offset + run);
        let is_hex = word.len() > 2
            && (word.starts_with("0x") || word.starts_with("0X"))
            && word[2..].bytes().all(|b| b.is_ascii_hexdigit());
        if is_hex { Kind::Hex } else { Kind::Word }
    }

    /// The TCP flags of a packet line, read raw: `-` alone, or a run of
    /// letters, digits, `_` and `.` (`S`, `S.`, `F.`, `SEWA`, `.`).
    pub fn flags(&mut self) -> Result<Token<'a>, ScriptError> {
        self.skip_trivia()?;
        self.peeked = None;
        let pos = self.here();
        let start = self.cur.offset;
        if self.peek_char() == Some('-') {
            self.bump();
        } else {
            self.bump_while(|c| is_word_char(c) || c == '.');
        }
        Ok(Token {
            kind: Kind::Word,
            text: &self.src[start..self.cur.offset],
            pos,
            start,
            end: self.cur.offset,
        })
    }

    /// The raw text up to `close` on the same line, taking `close` too;
    /// the cursor is just after the opening character at `open`.
    pub fn raw_until(
        &mut self,
        close: char,
        open: Pos,
        what: &str,
    ) -> Result<&'a str, ScriptError> {
        self.peeked = None;
        let rest = self.rest();
        let line_end = rest.find('\n').unwrap_or(rest.len());
        match rest[..line_end].find(close) {
            Some(i) => {
                let text = &rest[..i];
                self.advance_to(self.cur.offset + i + close.len_utf8());
                Ok(text)
            }
            None => Err(self.error(
                open,
                format!("unclosed {what}: no `{close}` before the end of the line"),
            )),
        }
    }

    /// Whether the text at the cursor starts with `s`.
    pub fn starts_with(&self, s: &str) -> bool {
        self.rest().starts_with(s)
    }

    /// Whether the character at the cursor satisfies `f`.
    pub fn next_char_is(&self, f: impl Fn(char) -> bool) -> bool {
        self.peek_char().is_some_and(f)
    }

    /// The character at the cursor.
    pub fn current_char(&self) -> Option<char> {
        self.peek_char()
    }

    /// Takes `n` characters (which the caller has looked at).
    pub fn take_chars(&mut self, n: usize) {
        self.peeked = None;
        for _ in 0..n {
            self.bump();
        }
    }

    /// Skips spaces and tabs (not newlines).
    pub fn skip_blanks(&mut self) {
        self.peeked = None;
        self.bump_while(|c| c == ' ' || c == '\t');
    }

    /// An option line's value, read raw from the cursor: one quoted string
    /// (given without its quotes), or a run of characters up to whitespace
    /// or a comment in which quoted and backquoted parts are kept whole.
    /// Returns the value's position, its text and whether it was quoted.
    pub fn option_value(&mut self) -> Result<(Pos, String, bool), ScriptError> {
        self.peeked = None;
        let pos = self.here();
        let start = self.cur.offset;
        if self.peek_char() == Some('"') {
            self.quoted('"', pos, "unterminated string: `\"` without a closing `\"`")?;
            let text = &self.src[start + 1..self.cur.offset - 1];
            return Ok((pos, text.to_owned(), true));
        }
        loop {
            let rest = self.rest();
            match rest.chars().next() {
                None => break,
                Some(c) if is_space(c) => break,
                Some('/') if rest.starts_with("//") || rest.starts_with("/*") => break,
                Some(q @ ('"' | '`')) => {
                    let at = self.here();
                    self.quoted(q, at, "unterminated quote in an option value")?;
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
        Ok((pos, self.src[start..self.cur.offset].to_owned(), false))
    }
}

/// The byte lengths of the `.digits` parts at the start of `s`, at most
/// three.
fn dotted_parts(s: &str) -> Vec<usize> {
    let mut parts = Vec::new();
    let mut rest = s;
    while parts.len() < 3 {
        let Some(after) = rest.strip_prefix('.') else {
            break;
        };
        let digits = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        if digits == 0 {
            break;
        }
        parts.push(1 + digits);
        rest = &after[digits..];
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        let mut lx = Lexer::new("t", src);
        let mut out = Vec::new();
        loop {
            let t = lx.next().unwrap();
            if t.kind == Kind::Eof {
                return out;
            }
            out.push((t.kind, t.text.to_owned()));
        }
    }

    #[test]
    fn numbers_follow_longest_match() {
        use Kind::*;
        let k = kinds("0 1460 .1 0.200 +.08...0.180 0x2 0x1g 1234abcd 192.0.2.1 1.2.3");
        let want: Vec<(Kind, &str)> = vec![
            (Number, "0"),
            (Number, "1460"),
            (Decimal, ".1"),
            (Decimal, "0.200"),
            (Punct('+'), "+"),
            (Decimal, ".08"),
            (Ellipsis, "..."),
            (Decimal, "0.180"),
            (Hex, "0x2"),
            (Word, "0x1g"),
            (Word, "1234abcd"),
            (Ipv4, "192.0.2.1"),
            (Decimal, "1.2"),
            (Decimal, ".3"),
        ];
        let got: Vec<(Kind, &str)> = k.iter().map(|(k, s)| (*k, s.as_str())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn positions_count_characters_and_skip_comments() {
        let mut lx = Lexer::new("t", "\u{feff}// c\n /* x\n y */ µ");
        let e = lx.next().unwrap_err();
        // The BOM takes no column; `µ` is at line 3, column 7.
        assert_eq!((e.line, e.column), (3, 7));
        let mut lx = Lexer::new("t", "a\tb");
        lx.next().unwrap();
        assert_eq!(lx.next().unwrap().pos, Pos { line: 1, column: 3 });
    }

    #[test]
    fn raw_parts() {
        let mut lx = Lexer::new("t", "  S. 0:0(0)");
        let f = lx.flags().unwrap();
        assert_eq!((f.text, f.pos.column), ("S.", 3));
        let mut lx = Lexer::new("t", "a b) c");
        assert_eq!(lx.raw_until(')', lx.here(), "note").unwrap(), "a b");
        assert_eq!(lx.next().unwrap().text, "c");
        let mut lx = Lexer::new("t", "CC=\"re no\"`x y` z");
        assert_eq!(lx.option_value().unwrap().1, "CC=\"re no\"`x y`");
    }
}

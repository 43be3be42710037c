//! Expressions of system calls: numbers, symbols, strings, `...`, lists,
//! structures with named fields (`{fd=3, events=POLLIN}`,
//! `msg_iov(1)=[...]`), calls (`htons(8080)`) and `A|B`, each with its
//! position; nesting and `|` chains bounded by [`MAX_NESTING`](super::MAX_NESTING)
//! and [`MAX_OR_TERMS`].

use super::MAX_OR_TERMS;
use super::ast::{Expr, ExprKind, Field};
use super::error::ScriptError;
use super::lex::{Kind, Token, short};
use super::parse::{Parser, expected};

impl Parser<'_> {
    /// An expression: terms joined by `|`.
    pub(super) fn expr(&mut self) -> Result<Expr, ScriptError> {
        let first = self.primary()?;
        self.or_chain(first)
    }

    fn or_chain(&mut self, first: Expr) -> Result<Expr, ScriptError> {
        let mut e = first;
        let mut terms = 1;
        while self.peek()?.is('|') {
            let bar = self.next()?;
            terms += 1;
            if terms > MAX_OR_TERMS {
                return Err(self.err(
                    bar.pos,
                    format!("too many terms in `A|B|...`: at most {MAX_OR_TERMS} are allowed"),
                ));
            }
            let rhs = self.primary()?;
            e = Expr {
                line: e.line,
                column: e.column,
                kind: ExprKind::BinaryOr(Box::new(e), Box::new(rhs)),
            };
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, ScriptError> {
        let t = self.next()?;
        let kind = match t.kind {
            Kind::Ellipsis => ExprKind::Ellipsis,
            Kind::Number => ExprKind::Int(self.int(t.text, &t, false)?),
            Kind::Punct('-') => {
                let n = self.peek()?;
                if n.kind != Kind::Number || n.start != t.end {
                    return Err(self.err(t.pos, expected("a number right after `-`", &n)));
                }
                self.next()?;
                ExprKind::Int(self.int(n.text, &t, true)?)
            }
            Kind::Hex => {
                let digits = t.text[2..].trim_start_matches('0');
                match u64::from_str_radix(if digits.is_empty() { "0" } else { digits }, 16) {
                    Ok(v) if digits.len() <= 16 => ExprKind::Hex(v),
                    _ => {
                        return Err(self.err(
                            t.pos,
                            format!(
                                "number out of range: at most 0xffffffffffffffff, found `{}`",
                                short(t.text)
                            ),
                        ));
                    }
                }
            }
            Kind::Word => {
                let open = self.peek()?;
                if open.is('(') && open.start == t.end {
                    self.next()?;
                    self.enter(open.pos)?;
                    let args = self.call_args()?;
                    self.leave();
                    ExprKind::Call(t.text.to_owned(), args)
                } else {
                    ExprKind::Symbol(t.text.to_owned())
                }
            }
            Kind::Str => {
                let mut s = t.text[1..t.text.len() - 1].to_owned();
                while self.peek()?.kind == Kind::Str {
                    let more = self.next()?;
                    s.push_str(&more.text[1..more.text.len() - 1]);
                }
                if self.peek()?.kind == Kind::Ellipsis {
                    self.next()?;
                    ExprKind::StrEllipsis(s)
                } else {
                    ExprKind::Str(s)
                }
            }
            Kind::Punct('[') => {
                self.enter(t.pos)?;
                let mut items = Vec::new();
                if self.peek()?.is(']') {
                    self.next()?;
                } else {
                    loop {
                        items.push(self.expr()?);
                        let s = self.next()?;
                        if s.is(']') {
                            break;
                        }
                        if !s.is(',') {
                            return Err(self.err(s.pos, expected("`,` or `]` in the list", &s)));
                        }
                    }
                }
                self.leave();
                ExprKind::List(items)
            }
            Kind::Punct('{') => {
                self.enter(t.pos)?;
                let fields = self.fields()?;
                self.leave();
                ExprKind::Struct(fields)
            }
            _ => {
                return Err(self.err(
                    t.pos,
                    expected(
                        "an expression (a number, a symbol, a string, `...`, `[...]` or `{...}`)",
                        &t,
                    ),
                ));
            }
        };
        Ok(Expr {
            line: t.pos.line,
            column: t.pos.column,
            kind,
        })
    }

    /// A decimal integer's value, negated when `negative`.
    fn int(&self, digits: &str, at: &Token<'_>, negative: bool) -> Result<i64, ScriptError> {
        let v = if digits.len() > 20 {
            None
        } else {
            digits.parse::<i128>().ok()
        };
        let v = v.map(|v| if negative { -v } else { v });
        match v.and_then(|v| i64::try_from(v).ok()) {
            Some(v) => Ok(v),
            None => Err(self.err(
                at.pos,
                format!(
                    "number out of range: from {} to {}, found `{}{}`",
                    i64::MIN,
                    i64::MAX,
                    if negative { "-" } else { "" },
                    short(digits)
                ),
            )),
        }
    }

    /// The arguments of `name(...)`, after the `(`, through the `)`.
    fn call_args(&mut self) -> Result<Vec<Expr>, ScriptError> {
        let mut args = Vec::new();
        if self.peek()?.is(')') {
            self.next()?;
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            let t = self.next()?;
            if t.is(')') {
                return Ok(args);
            }
            if !t.is(',') {
                return Err(self.err(t.pos, expected("`,` or `)`", &t)));
            }
        }
    }

    /// The fields of `{...}`, after the `{`, through the `}`.
    fn fields(&mut self) -> Result<Vec<Field>, ScriptError> {
        let mut fields = Vec::new();
        if self.peek()?.is('}') {
            self.next()?;
            return Ok(fields);
        }
        loop {
            let first = self.primary()?;
            let (line, column) = (first.line, first.column);
            let field = if self.peek()?.is('=') {
                let (name, arg) = match first.kind {
                    ExprKind::Symbol(name) => (name, None),
                    ExprKind::Call(name, mut args) if args.len() == 1 => {
                        (name, args.pop().map(Box::new))
                    }
                    _ => {
                        let eq = self.peek()?;
                        return Err(self.err(
                            eq.pos,
                            "`=` after a value: a field is `name=value` or `name(arg)=value`",
                        ));
                    }
                };
                self.next()?;
                let value = self.expr()?;
                Field {
                    line,
                    column,
                    name: Some(name),
                    arg,
                    value,
                }
            } else {
                Field {
                    line,
                    column,
                    name: None,
                    arg: None,
                    value: self.or_chain(first)?,
                }
            };
            fields.push(field);
            let t = self.next()?;
            if t.is('}') {
                return Ok(fields);
            }
            if !t.is(',') {
                return Err(self.err(t.pos, expected("`,` or `}` in the structure", &t)));
            }
        }
    }
}

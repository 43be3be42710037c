//! The Python of `%{ ... }%` blocks that tcpsim evaluates: `assert`
//! statements comparing integer expressions over `TCP_INFO` fields
//! (`tcpi_*`) and the kernel's constants. Anything else is not evaluated,
//! and makes the script `skipped` (SPEC §7).

use tcpsim_tcp::TcpInfo;

use super::plan::{Assertion, Compare, Expr};

/// The constants a block may name, with the kernel's values.
const CONSTANTS: &[(&str, i64)] = &[
    ("TCP_ESTABLISHED", 1),
    ("TCP_SYN_SENT", 2),
    ("TCP_SYN_RECV", 3),
    ("TCP_FIN_WAIT1", 4),
    ("TCP_FIN_WAIT2", 5),
    ("TCP_TIME_WAIT", 6),
    ("TCP_CLOSE", 7),
    ("TCP_CLOSE_WAIT", 8),
    ("TCP_LAST_ACK", 9),
    ("TCP_LISTEN", 10),
    ("TCP_CLOSING", 11),
    ("TCP_CA_Open", 0),
    ("TCP_CA_Disorder", 1),
    ("TCP_CA_CWR", 2),
    ("TCP_CA_Recovery", 3),
    ("TCP_CA_Loss", 4),
    ("TCPI_OPT_TIMESTAMPS", 1),
    ("TCPI_OPT_SACK", 2),
    ("TCPI_OPT_WSCALE", 4),
    ("TCPI_OPT_ECN", 8),
    ("TCPI_OPT_SYN_DATA", 32),
    ("TCP_INFINITE_SSTHRESH", 0x7fff_ffff),
];

/// The `tcpi_*` fields tcpsim reports.
fn field(info: &TcpInfo, name: &str) -> Option<i64> {
    Some(match name {
        "tcpi_state" => i64::from(info.state),
        "tcpi_ca_state" => i64::from(info.ca_state),
        "tcpi_snd_cwnd" => i64::from(info.snd_cwnd),
        "tcpi_snd_ssthresh" => i64::from(info.snd_ssthresh),
        "tcpi_unacked" => i64::from(info.unacked),
        "tcpi_sacked" => i64::from(info.sacked),
        "tcpi_lost" => i64::from(info.lost),
        "tcpi_retrans" => i64::from(info.retrans),
        "tcpi_total_retrans" => i64::from(info.total_retrans),
        "tcpi_retransmits" => i64::from(info.retransmits),
        "tcpi_probes" => i64::from(info.probes),
        "tcpi_backoff" => i64::from(info.backoff),
        "tcpi_options" => i64::from(info.options),
        "tcpi_snd_wscale" => i64::from(info.snd_wscale),
        "tcpi_rcv_wscale" => i64::from(info.rcv_wscale),
        "tcpi_rto" => info.rto as i64,
        "tcpi_snd_mss" => i64::from(info.snd_mss),
        "tcpi_advmss" => i64::from(info.advmss),
        "tcpi_rtt" => info.rtt as i64,
        "tcpi_rttvar" => info.rttvar as i64,
        "tcpi_bytes_acked" => info.bytes_acked as i64,
        "tcpi_bytes_received" => info.bytes_received as i64,
        _ => return None,
    })
}

/// The value of `e`; `Err(name)` for a name tcpsim does not report.
pub fn eval(e: &Expr, info: &TcpInfo) -> Result<i64, String> {
    match e {
        Expr::Int(v) => Ok(*v),
        Expr::Field(name) => field(info, name)
            .or_else(|| CONSTANTS.iter().find(|c| c.0 == name).map(|c| c.1))
            .ok_or_else(|| name.clone()),
        Expr::Binary(a, op, b) => {
            let (a, b) = (eval(a, info)?, eval(b, info)?);
            Ok(match op {
                '+' => a.wrapping_add(b),
                '-' => a.wrapping_sub(b),
                '*' => a.wrapping_mul(b),
                '/' => a.checked_div_euclid(b).unwrap_or(0),
                '&' => a & b,
                '|' => a | b,
                _ => a.checked_rem_euclid(b).unwrap_or(0),
            })
        }
    }
}

/// Reads a block's Python: statements separated by newlines or `;`, each
/// `assert EXPR OP EXPR[, message]`. `Err` names the first statement
/// that is something else.
pub fn parse_asserts(code: &str) -> Result<Vec<Assertion>, String> {
    let mut out = Vec::new();
    // A backslash at the end of a line continues it (Python's rule).
    let code = code.replace("\\\n", " ");
    for stmt in code.split(['\n', ';']).map(str::trim) {
        if stmt.is_empty() || stmt.starts_with('#') {
            continue;
        }
        let Some(body) = stmt.strip_prefix("assert ") else {
            return Err(stmt.to_string());
        };
        let cond = split_message(body).trim();
        let tokens = tokenize(cond).ok_or_else(|| stmt.to_string())?;
        // `a < b < c` is Python's `a < b and b < c`.
        let (parts, ops) = split_compare(&tokens).ok_or_else(|| stmt.to_string())?;
        let exprs = parts
            .iter()
            .map(|p| expr(p).ok_or_else(|| stmt.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        for (i, op) in ops.into_iter().enumerate() {
            out.push(Assertion {
                text: stmt.to_string(),
                left: exprs[i].clone(),
                op,
                right: exprs[i + 1].clone(),
            });
        }
    }
    Ok(out)
}

/// The condition of `cond, message` (a comma outside brackets and quotes).
fn split_message(body: &str) -> &str {
    let mut depth = 0i32;
    let mut quote = None;
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => depth -= 1,
            (None, ',') if depth == 0 => return &body[..i],
            _ => {}
        }
    }
    body
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Int(i64),
    Name(String),
    Op(String),
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let t = &s[start..i];
            let v = match t.strip_prefix("0x") {
                Some(h) => i64::from_str_radix(h, 16).ok()?,
                None => t.parse().ok()?,
            };
            out.push(Tok::Int(v));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Name(s[start..i].to_string()));
        } else {
            let two = s.get(i..i + 2).unwrap_or("");
            let op = match two {
                "==" | "!=" | "<=" | ">=" | "//" => two,
                _ => match c {
                    b'<' | b'>' | b'+' | b'-' | b'*' | b'%' | b'(' | b')' | b'&' | b'|' => {
                        &s[i..i + 1]
                    }
                    _ => return None,
                },
            };
            i += op.len();
            out.push(Tok::Op(op.to_string()));
        }
    }
    Some(out)
}

/// The operands and comparison operators of a comparison chain, split at
/// the top level; `None` without a comparison.
fn split_compare(t: &[Tok]) -> Option<(Vec<&[Tok]>, Vec<Compare>)> {
    let mut depth = 0i32;
    let mut parts = Vec::new();
    let mut ops = Vec::new();
    let mut start = 0;
    for (i, tok) in t.iter().enumerate() {
        if let Tok::Op(o) = tok {
            let op = match o.as_str() {
                "(" => {
                    depth += 1;
                    continue;
                }
                ")" => {
                    depth -= 1;
                    continue;
                }
                "==" => Compare::Eq,
                "!=" => Compare::Ne,
                "<" => Compare::Lt,
                "<=" => Compare::Le,
                ">" => Compare::Gt,
                ">=" => Compare::Ge,
                _ => continue,
            };
            if depth == 0 {
                parts.push(&t[start..i]);
                ops.push(op);
                start = i + 1;
            }
        }
    }
    if ops.is_empty() {
        return None;
    }
    parts.push(&t[start..]);
    Some((parts, ops))
}

/// Python's precedence: `or := and ('|' and)*`, `and := sum ('&' sum)*`,
/// `sum := term (('+'|'-') term)*`, `term := atom (('*'|'//'|'%') atom)*`,
/// `atom := int | name | '-' atom | '(' or ')'`.
fn expr(t: &[Tok]) -> Option<Expr> {
    let mut pos = 0;
    let e = bit_or(t, &mut pos, 0)?;
    (pos == t.len()).then_some(e)
}

fn bit_or(t: &[Tok], pos: &mut usize, depth: u32) -> Option<Expr> {
    let mut left = bit_and(t, pos, depth)?;
    while matches!(t.get(*pos), Some(Tok::Op(o)) if o == "|") {
        *pos += 1;
        left = Expr::Binary(Box::new(left), '|', Box::new(bit_and(t, pos, depth)?));
    }
    Some(left)
}

fn bit_and(t: &[Tok], pos: &mut usize, depth: u32) -> Option<Expr> {
    let mut left = sum(t, pos, depth)?;
    while matches!(t.get(*pos), Some(Tok::Op(o)) if o == "&") {
        *pos += 1;
        left = Expr::Binary(Box::new(left), '&', Box::new(sum(t, pos, depth)?));
    }
    Some(left)
}

const MAX_DEPTH: u32 = 32;

fn sum(t: &[Tok], pos: &mut usize, depth: u32) -> Option<Expr> {
    let mut left = term(t, pos, depth)?;
    while let Some(Tok::Op(o)) = t.get(*pos) {
        let op = match o.as_str() {
            "+" => '+',
            "-" => '-',
            _ => break,
        };
        *pos += 1;
        left = Expr::Binary(Box::new(left), op, Box::new(term(t, pos, depth)?));
    }
    Some(left)
}

fn term(t: &[Tok], pos: &mut usize, depth: u32) -> Option<Expr> {
    let mut left = atom(t, pos, depth)?;
    while let Some(Tok::Op(o)) = t.get(*pos) {
        let op = match o.as_str() {
            "*" => '*',
            "//" => '/',
            "%" => '%',
            _ => break,
        };
        *pos += 1;
        left = Expr::Binary(Box::new(left), op, Box::new(atom(t, pos, depth)?));
    }
    Some(left)
}

fn atom(t: &[Tok], pos: &mut usize, depth: u32) -> Option<Expr> {
    if depth > MAX_DEPTH {
        return None;
    }
    let tok = t.get(*pos)?.clone();
    *pos += 1;
    match tok {
        Tok::Int(v) => Some(Expr::Int(v)),
        Tok::Name(n) => Some(Expr::Field(n)),
        Tok::Op(o) if o == "-" => Some(Expr::Binary(
            Box::new(Expr::Int(0)),
            '-',
            Box::new(atom(t, pos, depth + 1)?),
        )),
        Tok::Op(o) if o == "(" => {
            let e = bit_or(t, pos, depth + 1)?;
            match t.get(*pos) {
                Some(Tok::Op(c)) if c == ")" => {
                    *pos += 1;
                    Some(e)
                }
                _ => None,
            }
        }
        Tok::Op(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> TcpInfo {
        TcpInfo {
            state: 1,
            ca_state: 0,
            snd_cwnd: 10,
            snd_ssthresh: 0x7fff_ffff,
            unacked: 0,
            sacked: 0,
            lost: 0,
            retrans: 0,
            total_retrans: 0,
            retransmits: 0,
            probes: 3,
            backoff: 2,
            options: 7,
            snd_wscale: 8,
            rcv_wscale: 8,
            rto: 200_000,
            snd_mss: 1448,
            advmss: 1448,
            rtt: 0,
            rttvar: 0,
            bytes_acked: 1001,
            bytes_received: 20_000,
        }
    }

    fn holds(code: &str) -> bool {
        let asserts = parse_asserts(code).unwrap();
        asserts.iter().all(|a| {
            a.op.holds(
                eval(&a.left, &info()).unwrap(),
                eval(&a.right, &info()).unwrap(),
            )
        })
    }

    #[test]
    fn asserts_compare_fields_constants_and_arithmetic() {
        assert!(holds("assert tcpi_probes == 3, tcpi_probes"));
        assert!(holds("assert tcpi_snd_cwnd == 10"));
        assert!(holds("assert tcpi_snd_ssthresh == TCP_INFINITE_SSTHRESH"));
        assert!(holds("assert tcpi_state == TCP_ESTABLISHED"));
        assert!(holds("assert tcpi_options & TCPI_OPT_SACK == 2"));
        assert!(holds("assert tcpi_options | 8 == 15"));
        assert!(holds(
            "assert tcpi_rto // 1000 == 200; assert tcpi_backoff >= 2"
        ));
        assert!(holds(
            "assert tcpi_snd_mss == 1460 - 12\nassert (tcpi_advmss + 12) % 1460 == 0"
        ));
        assert!(!holds("assert tcpi_backoff == 3"));
        assert!(holds("assert -tcpi_probes == -3"));
        assert!(holds("assert 199000 <= tcpi_rto <= 201000, tcpi_rto"));
        assert!(!holds("assert 1 <= tcpi_probes <= 2"));
        assert!(holds(
            "assert tcpi_probes == 3, tcpi_probes; \\\n   assert tcpi_backoff == 2"
        ));
    }

    #[test]
    fn anything_but_asserts_is_refused() {
        assert!(parse_asserts("print(tcpi_rto)").is_err());
        assert!(parse_asserts("assert 1 <").is_err());
        assert!(parse_asserts("assert tcpi_rto").is_err());
        assert_eq!(
            eval(&Expr::Field("tcpi_notsent_bytes".into()), &info()),
            Err("tcpi_notsent_bytes".into())
        );
        assert!(holds("assert tcpi_bytes_acked == 1001, tcpi_bytes_acked"));
        assert!(holds("assert tcpi_bytes_received == 20000"));
    }
}

//! `client_app` / `server_app` and `client_socket` / `server_socket` of a
//! `[[connections]]` table (tcpsim SPEC §3 "Applications").

use super::error::ConfigError;
use super::model::{CloseMode, SocketSpec, Step};
use super::reader::{Field, Tbl};
use super::steps::{check_order, parse_step};

/// The most steps one list may have.
pub(crate) const MAX_STEPS: usize = 10_000;

/// The keys of a `client_socket` / `server_socket` table.
const SOCKET_KEYS: &[&str] = &[
    "mss",
    "recv_buffer",
    "send_buffer",
    "nodelay",
    "user_timeout",
    "linger",
];

/// Reads a step list (`client_app` / `server_app`).
pub(crate) fn steps(f: &Field<'_>) -> Result<Vec<Step>, ConfigError> {
    const WHAT: &str =
        "an array of steps, like [\"write 3000\", \"shutdown\", \"read eof\", \"close\"]";
    let items = f.array(WHAT)?;
    if items.len() > MAX_STEPS {
        return Err(f.error(format!(
            "expected at most {MAX_STEPS} steps in a list, found {}",
            items.len()
        )));
    }
    let mut list = Vec::with_capacity(items.len());
    for item in &items {
        let text = item.str("a step, like \"write 3000\"")?;
        let step = parse_step(text).map_err(|m| item.error(m))?;
        check_order(&list, step).map_err(|m| item.error(m))?;
        list.push(step);
    }
    Ok(list)
}

/// The octets a list writes in all.
pub(crate) fn written(list: &[Step]) -> u64 {
    list.iter()
        .map(|s| match s {
            Step::Write(n) => *n,
            _ => 0,
        })
        .fold(0, u64::saturating_add)
}

/// Reads a `client_socket` / `server_socket` table.
pub(crate) fn socket(f: &Field<'_>) -> Result<SocketSpec, ConfigError> {
    let t = f.table()?;
    t.deny_unknown(SOCKET_KEYS)?;
    const BYTES: &str = "a buffer size in bytes between 1 and 1073741824 (1 GiB)";
    Ok(SocketSpec {
        mss: t.opt("mss", |f| {
            f.int::<u16>(88, 32767, "an MSS between 88 and 32767 (TCP_MAXSEG)")
        })?,
        recv_buffer: t.opt("recv_buffer", |f| f.int::<u32>(1, 1 << 30, BYTES))?,
        send_buffer: t.opt("send_buffer", |f| f.int::<u32>(1, 1 << 30, BYTES))?,
        nodelay: t.opt("nodelay", Field::boolean)?,
        user_timeout: t.opt("user_timeout", Field::positive_duration)?,
        linger: t.opt("linger", Field::duration)?,
    })
}

/// Which shorthand keys a step list replaces, and the checks between
/// the two forms: a file may not give one end both.
pub(crate) fn check_forms(
    t: &Tbl<'_>,
    client_app: bool,
    server_app: bool,
    close: CloseMode,
) -> Result<(), ConfigError> {
    let clash = |list: &str, key: &str| -> Result<(), ConfigError> {
        match t.get(key) {
            Some(f) => Err(f.key_error(format!(
                "{key} is the shorthand of {list}: expected one of them for this end, not both"
            ))),
            None => Ok(()),
        }
    };
    if client_app {
        clash("client_app", "client_sends")?;
    }
    if server_app {
        clash("server_app", "server_sends")?;
    }
    if client_app && server_app {
        if let Some(f) = t.get("close") {
            return Err(f.key_error(
                "close is the shorthand's close mode, and both ends have step lists: expected no close (each list says how its end closes)",
            ));
        }
    }
    // close_at is when the closer closes: not for an end with a list.
    let closer_has_list = match close {
        CloseMode::ClientFirst | CloseMode::ClientAbort => client_app,
        CloseMode::ServerFirst | CloseMode::ServerAbort => server_app,
        CloseMode::Simultaneous => client_app || server_app,
        CloseMode::None => false,
    };
    if closer_has_list {
        if let Some(f) = t.get("close_at") {
            return Err(f.key_error(
                "close_at is when the shorthand's closer closes, and that end has a step list: expected an \"at T\" step in its list instead",
            ));
        }
    }
    Ok(())
}

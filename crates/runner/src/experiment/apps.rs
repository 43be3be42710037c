//! The checks of `client_app` / `server_app` and `client_socket` /
//! `server_socket` of a `[[connections]]` table (tcpsim SPEC §3
//! "Applications") that need more than one value: the order of a list's
//! steps, a list and its shorthand given together, and the one listener
//! that every `server_socket` to a port shares. Each step's text and each
//! socket option's type are read by their leaves (`leaf.rs`, `model.rs`).

use toml::Spanned;

use super::de::Keyed;
use super::error::ConfigError;
use super::file;
use super::model::{CloseMode, ConnectionSpec, Host, OpenMode, Step};
use super::steps::check_order;
use super::validate::Table;

/// The most steps one list may have.
pub(crate) const MAX_STEPS: usize = 10_000;

/// The step list of `key` of connection table `tab`, its order checked:
/// each error at the step that breaks it.
pub(crate) fn steps(
    tab: &Table<'_>,
    key: &str,
    list: &[Spanned<Step>],
) -> Result<Vec<Step>, ConfigError> {
    let mut steps = Vec::with_capacity(list.len());
    for (i, step) in list.iter().enumerate() {
        check_order(&steps, *step.get_ref())
            .map_err(|m| tab.error(step.span().start, &format!("{key}.{i}"), m))?;
        steps.push(*step.get_ref());
    }
    Ok(steps)
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

/// Which shorthand keys a step list replaces, and the checks between
/// the two forms: a file may not give one end both. Errors are at the
/// shorthand's key.
pub(crate) fn check_forms(
    tab: &Table<'_>,
    t: &file::Connection,
    close: CloseMode,
) -> Result<(), ConfigError> {
    let (client_app, server_app) = (t.client_app.is_some(), t.server_app.is_some());
    let clash = |list: &str, key: &str, at: Option<usize>| match at {
        Some(at) => Err(tab.error(
            at,
            key,
            format!(
                "{key} is the shorthand of {list}: expected one of them for this end, not both"
            ),
        )),
        None => Ok(()),
    };
    if client_app {
        clash(
            "client_app",
            "client_sends",
            t.client_sends.as_ref().map(Keyed::at),
        )?;
    }
    if server_app {
        clash(
            "server_app",
            "server_sends",
            t.server_sends.as_ref().map(Keyed::at),
        )?;
    }
    if let (true, true, Some(f)) = (client_app, server_app, &t.close) {
        return Err(tab.error(
            f.at(),
            "close",
            "close is the shorthand's close mode, and both ends have step lists: expected no close (each list says how its end closes)",
        ));
    }
    // close_at is when the closer closes: not for an end with a list.
    let closer_has_list = match close {
        CloseMode::ClientFirst | CloseMode::ClientAbort => client_app,
        CloseMode::ServerFirst | CloseMode::ServerAbort => server_app,
        CloseMode::Simultaneous => client_app || server_app,
        CloseMode::None => false,
    };
    if let (true, Some(f)) = (closer_has_list, &t.close_at) {
        return Err(tab.error(
            f.at(),
            "close_at",
            "close_at is when the shorthand's closer closes, and that end has a step list: expected an \"at T\" step in its list instead",
        ));
    }
    Ok(())
}

/// `server_socket` is set on the server's listening socket: the server
/// must listen on the port (unless both ends connect), and every
/// connection to that port shares the listener's options. `before` are
/// the connections of the tables before this one.
pub(crate) fn listener_options(
    tab: &Table<'_>,
    t: &file::Connection,
    spec: &ConnectionSpec,
    before: &[ConnectionSpec],
    hosts: &[Host],
) -> Result<(), ConfigError> {
    if spec.open == OpenMode::Simultaneous {
        return Ok(());
    }
    let server = &hosts[spec.server];
    let same_listener = |o: &ConnectionSpec| {
        o.open == OpenMode::Active && o.server == spec.server && o.port == spec.port
    };
    let Some(f) = &t.server_socket else {
        // Another connection may have set options on this listener.
        if let Some(i) = before
            .iter()
            .position(|o| same_listener(o) && !o.server_socket.is_empty())
        {
            return Err(tab.cx.error(
                tab.at,
                Some(&tab.path),
                format!(
                    "connections.{i} set server_socket on {:?} port {}, the listener this connection reaches too: expected the same server_socket here",
                    server.name, spec.port
                ),
            ));
        }
        return Ok(());
    };
    if !server.listen.contains(&spec.port) {
        return Err(tab.error(
            f.at(),
            "server_socket",
            format!(
                "server_socket is set on the listening socket, and {:?} does not listen on port {}: expected {} in its listen, or no server_socket",
                server.name, spec.port, spec.port
            ),
        ));
    }
    if let Some(i) = before
        .iter()
        .position(|o| same_listener(o) && o.server_socket != spec.server_socket)
    {
        return Err(tab.error(
            f.value.span().start,
            "server_socket",
            format!(
                "connections.{i} reaches the same listener ({:?} port {}) with other socket options: expected the same server_socket for every connection to one listener",
                server.name, spec.port
            ),
        ));
    }
    Ok(())
}

//! The checks of `client_app` / `server_app` and `client_socket` /
//! `server_socket` of a `[[connections]]` table (tcpsim SPEC §3
//! "Applications") that need more than one value: the order of a list's
//! steps, a list and its shorthand given together, and the one listener
//! that every `server_socket` to a port shares. Each step's text and each
//! socket option's type are read by their leaves (`leaf.rs`, `model.rs`).

use std::collections::BTreeMap;

use toml::Spanned;

use super::de::Keyed;
use super::error::ConfigError;
use super::file;
use super::model::{CloseMode, ConnectionSpec, Host, HostId, OpenMode, SocketSpec, Step};
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

/// The listeners connections reach so far: (server, port) to the table of
/// the first connection that reached it and the socket options it gave.
pub(crate) type Listeners = BTreeMap<(HostId, u16), (usize, SocketSpec)>;

/// `server_socket` is set on the server's listening socket: the server
/// must listen on the port (unless both ends connect), and every
/// connection to that port shares the listener's options. `listeners`
/// holds what the connections before this one (of table `table`) gave.
pub(crate) fn listener_options(
    tab: &Table<'_>,
    t: &file::Connection,
    spec: &ConnectionSpec,
    table: usize,
    listeners: &mut Listeners,
    hosts: &[Host],
) -> Result<(), ConfigError> {
    if spec.open == OpenMode::Simultaneous {
        return Ok(());
    }
    let server = &hosts[spec.server];
    let &mut (first, options) = listeners
        .entry((spec.server, spec.port))
        .or_insert((table, spec.server_socket));
    let Some(f) = &t.server_socket else {
        // Another connection may have set options on this listener.
        if !options.is_empty() {
            return Err(tab.cx.error(
                tab.at,
                Some(&tab.path),
                format!(
                    "connections.{first} set server_socket on {:?} port {}, the listener this connection reaches too: expected the same server_socket here",
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
    if options != spec.server_socket {
        return Err(tab.error(
            f.value.span().start,
            "server_socket",
            format!(
                "connections.{first} reaches the same listener ({:?} port {}) with other socket options: expected the same server_socket for every connection to one listener",
                server.name, spec.port
            ),
        ));
    }
    Ok(())
}

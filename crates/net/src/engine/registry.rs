//! The connection registry: the one place that knows which run connection
//! each TCP connection handle belongs to, and what each end went through.
//!
//! A *run connection* is the pair of ends an application opened: the
//! active opener (client) and the end that answers it (server), on two
//! hosts. The TCP endpoint demultiplexes segments by 4-tuple itself; the
//! registry maps its handles back to run connections (per host, by handle
//! slot), and keeps a map from the client's 4-tuple to the run connection,
//! so that the server end a listener creates, and a RST sent without
//! connection state, find their way to it. The map is only looked up, never
//! iterated, and its hasher (foldhash with its fixed seeds) has no random
//! keys, so it cannot reach output.

use std::collections::HashMap;
use std::net::SocketAddrV4;

use foldhash::fast::FixedState;

use tcpsim_tcp::{ConnId, Instant};

use crate::app::{AppId, Interests};
use crate::facts::End;
use crate::facts::EndReport;
use crate::trace::HostId;

/// One run connection: who owns it, where its ends are, what they did.
#[derive(Debug)]
pub(crate) struct ConnRecord {
    /// The application that opened it, which hears its TCP events.
    pub(crate) owner: AppId,
    /// The events the owner hears of.
    pub(crate) interests: Interests,
    /// When it was opened (the client's `connect()`, or when it is due).
    pub(crate) opened: Instant,
    /// The client's host and the server's.
    pub(crate) hosts: [HostId; 2],
    /// The server's port.
    pub(crate) port: u16,
    /// What each end did, by [`ix`].
    pub(crate) ends: [EndReport; 2],
    /// Each end's TCP handle, once it exists.
    pub(crate) ids: [Option<ConnId>; 2],
    /// Whether the server end was created by a listener (and so accepted).
    pub(crate) passive: bool,
    /// Whether each end's application has shut down its write side.
    pub(crate) shut: [bool; 2],
    /// Whether an application aborted the connection.
    pub(crate) aborted: bool,
    /// Whether each end's application released its socket (`close()`):
    /// it hears of nothing more.
    pub(crate) released: [bool; 2],
}

/// The index of an end in two-element arrays.
pub(crate) fn ix(end: End) -> usize {
    match end {
        End::Client => 0,
        End::Server => 1,
    }
}

/// A 4-tuple as one map key: `(client address, server address)`, 48 bits each.
fn flow_key(client: SocketAddrV4, server: SocketAddrV4) -> u128 {
    let half = |a: SocketAddrV4| (u128::from(u32::from(*a.ip())) << 16) | u128::from(a.port());
    (half(client) << 48) | half(server)
}

/// Every run connection of a simulation.
#[derive(Debug)]
pub(crate) struct Registry {
    records: Vec<ConnRecord>,
    /// Per host, by handle slot: the handle, its run connection and end.
    slots: Vec<Vec<Option<(ConnId, u32, End)>>>,
    /// The client's (local, remote) 4-tuple → run connection.
    by_flow: HashMap<u128, u32, FixedState>,
}

impl Registry {
    pub(crate) fn new(hosts: usize) -> Registry {
        Registry {
            records: Vec::new(),
            slots: vec![Vec::new(); hosts],
            by_flow: HashMap::default(),
        }
    }

    /// Forgets every connection, keeping the memory.
    pub(crate) fn clear(&mut self) {
        self.records.clear();
        for s in &mut self.slots {
            s.clear();
        }
        self.by_flow.clear();
    }

    /// Room for `n` more connections.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.records.reserve(n);
        self.by_flow.reserve(n);
    }

    /// Room for `n` more connection ends on `host`.
    pub(crate) fn reserve_ends(&mut self, host: HostId, n: usize) {
        self.slots[host].reserve(n);
    }

    /// A new run connection from `client` to `server`'s `port`; its ends get
    /// their handles when they are created.
    pub(crate) fn create(
        &mut self,
        owner: AppId,
        interests: Interests,
        opened: Instant,
        client: HostId,
        server: HostId,
        port: u16,
    ) -> u32 {
        self.records.push(ConnRecord {
            owner,
            interests,
            opened,
            hosts: [client, server],
            port,
            ends: [EndReport::new(), EndReport::new()],
            ids: [None, None],
            passive: false,
            shut: [false, false],
            aborted: false,
            released: [false, false],
        });
        (self.records.len() - 1) as u32
    }

    /// How many run connections there are.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn get(&self, conn: u32) -> &ConnRecord {
        &self.records[conn as usize]
    }

    pub(crate) fn get_mut(&mut self, conn: u32) -> &mut ConnRecord {
        &mut self.records[conn as usize]
    }

    /// One end of a connection.
    pub(crate) fn end_mut(&mut self, conn: u32, end: End) -> &mut EndReport {
        &mut self.records[conn as usize].ends[ix(end)]
    }

    /// The host and handle of one end, if it exists.
    pub(crate) fn handle(&self, conn: u32, end: End) -> Option<(HostId, ConnId)> {
        let r = &self.records[conn as usize];
        Some((r.hosts[ix(end)], r.ids[ix(end)]?))
    }

    /// Takes the records out, keeping their memory for the next run.
    pub(crate) fn drain(&mut self) -> std::vec::Drain<'_, ConnRecord> {
        self.records.drain(..)
    }

    /// Takes the records out with their memory.
    pub(crate) fn take(&mut self) -> Vec<ConnRecord> {
        std::mem::take(&mut self.records)
    }

    /// The run connection and end of a handle on `host`.
    #[inline]
    pub(crate) fn end_of(&self, host: HostId, id: ConnId) -> Option<(u32, End)> {
        match self.slots[host].get(id.index() as usize) {
            Some(Some((known, c, e))) if *known == id => Some((*c, *e)),
            _ => None,
        }
    }

    /// Binds a handle on `host` to `end` of `conn`.
    pub(crate) fn bind(&mut self, host: HostId, id: ConnId, conn: u32, end: End) {
        let slots = &mut self.slots[host];
        let i = id.index() as usize;
        if slots.len() <= i {
            slots.resize(i + 1, None);
        }
        slots[i] = Some((id, conn, end));
        self.records[conn as usize].ids[ix(end)] = Some(id);
    }

    /// Records that `conn`'s client end runs from `local` to `remote`.
    pub(crate) fn note_flow(&mut self, local: SocketAddrV4, remote: SocketAddrV4, conn: u32) {
        self.by_flow.insert(flow_key(local, remote), conn);
    }

    /// The run connection and end that a segment from `src` to `dst`
    /// belongs to, by its 4-tuple.
    pub(crate) fn of_flow(&self, src: SocketAddrV4, dst: SocketAddrV4) -> Option<(u32, End)> {
        if let Some(&c) = self.by_flow.get(&flow_key(src, dst)) {
            return Some((c, End::Client));
        }
        self.by_flow
            .get(&flow_key(dst, src))
            .map(|&c| (c, End::Server))
    }

    /// A listener on `host` created the connection `id` from `remote` to
    /// `local`: bind it as the server end of the run connection of its
    /// 4-tuple, if that connection has no live server end. The first server
    /// end, or a new one after the last was dropped (a half-open connection
    /// the listener gave up on and the client's next SYN created again),
    /// continues the same run connection.
    pub(crate) fn adopt(
        &mut self,
        host: HostId,
        id: ConnId,
        remote: SocketAddrV4,
        local: SocketAddrV4,
    ) -> Option<(u32, End)> {
        let conn = *self.by_flow.get(&flow_key(remote, local))?;
        let r = &mut self.records[conn as usize];
        if r.ids[1].is_some() && r.ends[1].ended.is_none() {
            return None; // the server end is still there: not ours to adopt
        }
        r.passive = true;
        r.ends[1].ended = None;
        r.ends[1].error = None;
        r.ends[1].port = Some(local.port());
        self.bind(host, id, conn, End::Server);
        Some((conn, End::Server))
    }
}

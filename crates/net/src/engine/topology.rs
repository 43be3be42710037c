//! Who is where: host names and addresses, and which link direction leads
//! from one host to another. Immutable, so every run of one blueprint
//! shares it instead of copying it.

use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::trace::HostId;

/// What every run of one blueprint shares: host names and addresses, and
/// the routing tables.
#[derive(Debug)]
pub(crate) struct Topology {
    /// Host names, by host id.
    pub(crate) names: Arc<[String]>,
    /// Host addresses, by host id.
    pub(crate) addrs: Arc<[Ipv4Addr]>,
    /// `(address, host)`, sorted by address.
    by_addr: Vec<(Ipv4Addr, HostId)>,
    /// `((from, to), link direction)`, sorted.
    routes: Vec<((HostId, HostId), usize)>,
}

impl Topology {
    pub(crate) fn new(
        names: Vec<String>,
        addrs: Vec<Ipv4Addr>,
        links: &[(HostId, HostId)],
    ) -> Self {
        let mut by_addr: Vec<(Ipv4Addr, HostId)> =
            addrs.iter().enumerate().map(|(i, a)| (*a, i)).collect();
        by_addr.sort_unstable();
        let mut routes: Vec<((HostId, HostId), usize)> =
            links.iter().enumerate().map(|(i, l)| (*l, i)).collect();
        routes.sort_unstable();
        Topology {
            names: names.into(),
            addrs: addrs.into(),
            by_addr,
            routes,
        }
    }

    /// The host with this address.
    pub(crate) fn host_at(&self, addr: Ipv4Addr) -> Option<HostId> {
        let i = self.by_addr.binary_search_by_key(&addr, |e| e.0).ok()?;
        Some(self.by_addr[i].1)
    }

    /// The host with this name.
    pub(crate) fn host_named(&self, name: &str) -> Option<HostId> {
        self.names.iter().position(|n| n == name)
    }

    /// The link direction from `from` to `to`.
    pub(crate) fn link(&self, from: HostId, to: HostId) -> Option<usize> {
        let i = self
            .routes
            .binary_search_by_key(&(from, to), |e| e.0)
            .ok()?;
        Some(self.routes[i].1)
    }
}

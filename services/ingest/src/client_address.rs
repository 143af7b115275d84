//! Who is on the other end of a request: the socket's peer, unless that peer is a proxy the
//! operator trusts (`TRUSTED_PROXIES`), and then the address the proxies say they forwarded
//! for.
//!
//! `X-Forwarded-For` is a list each proxy appends its own peer to, so only its right end is
//! written by proxies we trust; anything to the left may be the client's own invention. The
//! client is the right-most address that is not one of our proxies. A header from a peer we
//! do not trust is ignored whole: anyone can send one.

use std::net::IpAddr;

use anyhow::Context;
use ipnet::IpNet;
use poem::{Request, http::HeaderMap};

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies {
    networks: Vec<IpNet>,
}

impl TrustedProxies {
    /// `TRUSTED_PROXIES` entries: CIDRs (`10.0.0.0/8`, `fd00::/8`) or single addresses;
    /// blanks are ignored, anything else is refused.
    pub(crate) fn parse(entries: &[String]) -> anyhow::Result<Self> {
        let networks = entries
            .iter()
            .map(|entry| entry.trim())
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .with_context(|| {
                        format!("TRUSTED_PROXIES: {entry:?} is neither a CIDR nor an IP address")
                    })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { networks })
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.networks.iter().any(|net| net.contains(&address))
    }

    /// The client of `request`, as far as can be told; `None` only for a listener without
    /// an IP peer (ingest listens on TCP, so never in practice).
    pub(crate) fn client_of(&self, request: &Request) -> Option<IpAddr> {
        let peer = request.remote_addr().as_socket_addr()?.ip();
        Some(self.client(peer, request.headers()))
    }

    /// The client behind `peer`, given the request's headers.
    fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        // Every X-Forwarded-For line, in order, is one list.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        // Right to left, past our own proxies. A hop that is not an address was not written by
        // a proxy we trust: stop there, with the last trusted hop as the client.
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(address) = parse_hop(hop) else {
                break;
            };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        client
    }
}

/// One entry of `X-Forwarded-For`: an address, possibly with a port (`1.2.3.4:5678`,
/// `[::1]:5678`), as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|socket| socket.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&entries.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>())
            .expect("valid entries")
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().expect("a header value"));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            trusted.client(ip("198.51.100.1"), &headers),
            ip("198.51.100.1")
        );
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), &headers),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_right_most_untrusted_hop() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.7"]);
        // The client made up the first entry; our proxies appended the rest.
        let headers = forwarded(&["6.6.6.6, 203.0.113.9, 10.1.2.3", "192.0.2.7"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("203.0.113.9"));
        // No header: the proxy itself.
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        // Every hop trusted: the left-most.
        let headers = forwarded(&["10.9.9.9, 10.1.2.3"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("10.9.9.9"));
    }

    #[test]
    fn garbage_stops_the_walk_and_ports_and_mapped_addresses_are_understood() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let headers = forwarded(&["203.0.113.9, not-an-address, 10.1.2.3"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("10.1.2.3"));
        let headers = forwarded(&["[2001:db8::1]:4711, 203.0.113.9:80"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("203.0.113.9"));
        // A v4 peer seen through a dual-stack socket is still a v4 address.
        assert_eq!(
            trusted.client(ip("::ffff:10.0.0.1"), &forwarded(&["203.0.113.9"])),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn entries_are_cidrs_or_addresses() {
        assert!(
            TrustedProxies::parse(&["".into(), " 127.0.0.1 ".into(), "fd00::/8".into()]).is_ok()
        );
        let err = TrustedProxies::parse(&["10.0.0.0/33".into()]).expect_err("refused");
        assert!(err.to_string().contains("10.0.0.0/33"), "{err}");
    }
}

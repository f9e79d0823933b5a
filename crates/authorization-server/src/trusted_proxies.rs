//! Trusted proxies: the address a request really comes from when it
//! reaches the server through a load balancer or reverse proxy.
//!
//! `Forwarded` (RFC 7239) and `X-Forwarded-For` are believed only when the
//! TCP peer is a configured proxy, and then only back to the first hop that
//! is not itself a trusted proxy: the right-most untrusted address is the
//! client (anything to its left was written by the client, who can write
//! anything). With no proxies configured the headers are ignored and the
//! peer is the source, so nobody can choose the address their failures and
//! budgets are counted under.

use std::net::IpAddr;

use ipnet::IpNet;

/// A `trusted_proxies` entry that is neither an address nor a CIDR.
#[derive(Debug, thiserror::Error)]
#[error(
    "trusted_proxies: `{0}` is not an IP address or a CIDR range (for example 10.0.0.0/8 or 2001:db8::/32)"
)]
pub struct TrustedProxyError(pub String);

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// Parses addresses (`10.0.0.7`, `::1`) and CIDR ranges (`10.0.0.0/8`).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, TrustedProxyError> {
        let nets = entries
            .iter()
            .map(|e| {
                let e = e.as_ref().trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| TrustedProxyError(e.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { nets })
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: `peer` unless `peer` is a trusted proxy, in
    /// which case the forwarding chain is walked from the right. `forwarded`
    /// are the `Forwarded` header lines in order, `x_forwarded_for` the
    /// `X-Forwarded-For` lines; `Forwarded` wins when present (a proxy that
    /// writes the standard header is read by it).
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded: impl IntoIterator<Item = &'a str>,
        x_forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut hops: Vec<&str> = forwarded
            .into_iter()
            .flat_map(|line| line.split(','))
            .filter_map(forwarded_for)
            .collect();
        if hops.is_empty() {
            hops = x_forwarded_for
                .into_iter()
                .flat_map(|line| line.split(','))
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .collect();
        }
        let mut client = peer;
        for hop in hops.iter().rev() {
            // An unreadable hop ("unknown", an obfuscated name) ends what
            // can be known: the last address read stands.
            let Some(ip) = parse_hop(hop) else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

/// The `for=` value of one `Forwarded` element (`for=1.2.3.4;proto=https`).
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then_some(value.trim())
    })
}

/// An address from a forwarding hop: `1.2.3.4`, `1.2.3.4:80`, `"[::1]:80"`,
/// `::1`, `"[::1]"`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let inside = rest.split(']').next()?;
        return inside.parse::<IpAddr>().ok().map(canonical);
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// IPv4-mapped IPv6 addresses (a dual-stack socket's view of an IPv4 peer)
/// are their IPv4 address, so one configuration covers both.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap_or_default()
    }

    #[test]
    fn without_trusted_proxies_the_headers_are_ignored() {
        let p = TrustedProxies::default();
        assert_eq!(
            p.client_address(ip("10.0.0.1"), ["for=203.0.113.9"], ["203.0.113.9"]),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            p.client_address(ip("198.51.100.7"), [], ["10.0.0.1"]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let p = proxies(&["10.0.0.0/8", "192.168.1.1"]);
        // The client wrote 1.1.1.1 itself; the edge proxy appended the
        // real address, the inner proxy appended the edge's.
        assert_eq!(
            p.client_address(ip("10.0.0.2"), [], ["1.1.1.1, 203.0.113.9", "192.168.1.1"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn rfc7239_forwarded_wins_and_reads_ports_and_brackets() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            p.client_address(
                ip("10.0.0.2"),
                ["for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\""],
                ["198.51.100.1"]
            ),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            p.client_address(ip("10.0.0.2"), ["For=192.0.2.60:8080"], []),
            ip("192.0.2.60")
        );
    }

    #[test]
    fn an_unreadable_hop_stops_the_walk() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            p.client_address(ip("10.0.0.2"), [], ["203.0.113.9, unknown, 10.0.0.3"]),
            ip("10.0.0.3")
        );
        assert_eq!(
            p.client_address(ip("10.0.0.2"), ["for=_hidden"], []),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_ranges() {
        let p = proxies(&["127.0.0.0/8"]);
        assert_eq!(
            p.client_address(ip("::ffff:127.0.0.1"), [], ["203.0.113.9"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn bad_entries_are_refused_by_name() {
        let e = TrustedProxies::parse(&["10.0.0.0/8", "proxy.internal"]);
        assert!(matches!(e, Err(TrustedProxyError(s)) if s == "proxy.internal"));
    }

    proptest! {
        /// Whatever the headers say, the answer is the peer or an address
        /// that appears in them, and an untrusted peer is always itself.
        #[test]
        fn the_answer_is_the_peer_or_a_forwarded_address(
            xff in "[0-9a-f.:, \\[\\]\"unknow]{0,60}",
            fwd in "[0-9a-zA-Z.:;=, \\[\\]\"_]{0,60}",
            trusted_peer in any::<bool>(),
        ) {
            let p = proxies(&["10.0.0.0/8"]);
            let peer = if trusted_peer { ip("10.1.2.3") } else { ip("192.0.2.1") };
            let got = p.client_address(peer, [fwd.as_str()], [xff.as_str()]);
            if !trusted_peer {
                prop_assert_eq!(got, peer);
            } else if got != peer {
                let candidates: Vec<IpAddr> = fwd
                    .split(',')
                    .filter_map(forwarded_for)
                    .chain(xff.split(','))
                    .filter_map(parse_hop)
                    .collect();
                prop_assert!(candidates.contains(&got), "{got} is not in the headers");
            }
        }
    }
}

//! The client's address: the connecting peer, unless the peer is a
//! trusted proxy. Then X-Forwarded-For is walked right to left, skipping
//! trusted addresses, and the first untrusted one is the client; X-Real-IP
//! counts only when there is no X-Forwarded-For.

use std::net::IpAddr;

use ipnet::IpNet;

/// `None` when a trusted proxy sent a header we cannot read: the address
/// is then unknown, and a token with an allow-list is refused.
pub fn resolve(
    peer: IpAddr,
    trusted: &[IpNet],
    forwarded_for: &[&str],
    real_ip: Option<&str>,
) -> Option<IpAddr> {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    // Several X-Forwarded-For headers read as one comma list, in order.
    let hops: Vec<&str> = forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    if hops.is_empty() {
        return match real_ip {
            Some(value) => value.trim().parse().ok().map(canonical),
            None => Some(peer),
        };
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        client = canonical(hop.parse().ok()?);
        if !is_trusted(client) {
            return Some(client);
        }
    }
    // Every hop is trusted: the leftmost is the closest we know.
    Some(client)
}

/// An IPv4 client seen through an IPv6 socket is that IPv4 client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let got = resolve(
            ip("198.51.100.7"),
            &nets(&["10.0.0.0/8"]),
            &["1.2.3.4"],
            Some("5.6.7.8"),
        );
        assert_eq!(got, Some(ip("198.51.100.7")));
    }

    #[test]
    fn forwarded_for_is_walked_right_to_left_past_trusted_hops() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        let got = resolve(
            ip("127.0.0.1"),
            &trusted,
            &["203.0.113.9, 198.51.100.1, 10.1.1.1"],
            None,
        );
        assert_eq!(
            got,
            Some(ip("198.51.100.1")),
            "a client cannot spoof past the first untrusted hop"
        );
        let got = resolve(
            ip("127.0.0.1"),
            &trusted,
            &["203.0.113.9", "10.1.1.1"],
            Some("1.1.1.1"),
        );
        assert_eq!(got, Some(ip("203.0.113.9")));
        let got = resolve(ip("127.0.0.1"), &trusted, &["10.2.2.2, 10.1.1.1"], None);
        assert_eq!(got, Some(ip("10.2.2.2")));
    }

    #[test]
    fn real_ip_only_without_forwarded_for() {
        let trusted = nets(&["127.0.0.0/8"]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, &[], Some("203.0.113.5")),
            Some(ip("203.0.113.5"))
        );
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, &[], None),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(resolve(ip("127.0.0.1"), &trusted, &[], Some("junk")), None);
    }

    #[test]
    fn junk_from_a_trusted_proxy_leaves_the_address_unknown() {
        let trusted = nets(&["127.0.0.0/8"]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, &["junk, 127.0.0.2"], None),
            None
        );
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        assert_eq!(
            resolve(ip("::ffff:192.0.2.1"), &[], &[], None),
            Some(ip("192.0.2.1"))
        );
    }
}

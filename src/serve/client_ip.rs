//! The client's address: the connecting peer, unless the peer is a
//! trusted proxy. Then X-Forwarded-For is walked right to left, skipping
//! trusted addresses, and the first untrusted one is the client; X-Real-IP
//! counts only when no X-Forwarded-For line was sent at all.
//!
//! What a trusted proxy forwards is taken whole or not at all: a header
//! that cannot be read (not ASCII, not an address, empty) leaves the
//! address unknown, and never falls back to another header, which the
//! client may have written itself (nginx passes a client's X-Real-IP on
//! untouched).
//!
//! The parsers take raw header bytes, so they can be called (and fuzzed)
//! without an HTTP stack.

use std::net::IpAddr;

use ipnet::IpNet;

/// The client's address; `None` when a trusted proxy sent forwarding
/// headers we cannot read: the address is then unknown, and a token with
/// an allow-list is refused.
///
/// `forwarded_for` and `real_ip` are every line of those headers, as
/// received (raw bytes, in order).
pub fn resolve(
    peer: IpAddr,
    trusted: &[IpNet],
    forwarded_for: &[&[u8]],
    real_ip: &[&[u8]],
) -> Option<IpAddr> {
    // An IPv4 client seen through an IPv6 socket is that IPv4 client.
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    if forwarded_for.is_empty() {
        return match real_ip {
            [] => Some(peer),
            [one] => parse_address(one),
            // Two answers to "who is the client" are none.
            _ => None,
        };
    }
    let hops = parse_forwarded_for(forwarded_for)?;
    let mut client = peer;
    for hop in hops.iter().rev() {
        client = *hop;
        if !is_trusted(client) {
            return Some(client);
        }
    }
    // Every hop is trusted: the leftmost is the closest we know.
    Some(client)
}

/// The addresses in X-Forwarded-For lines, left to right. Several lines
/// are one comma-separated list, in order (RFC 9110, section 5.3; nginx
/// itself joins a client's lines this way before appending its peer).
/// Empty list elements are allowed, as the RFC asks; `None` when any line
/// is not ASCII, any element is not a bare IP address, or there is no
/// address at all.
pub fn parse_forwarded_for(lines: &[&[u8]]) -> Option<Vec<IpAddr>> {
    let mut hops = Vec::new();
    for line in lines {
        let line = std::str::from_utf8(line).ok().filter(|l| l.is_ascii())?;
        for element in line.split(',') {
            let element = trim_ows(element);
            if !element.is_empty() {
                hops.push(element.parse::<IpAddr>().ok()?.to_canonical());
            }
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// One address (an X-Real-IP value); `None` unless it is exactly one.
pub fn parse_address(value: &[u8]) -> Option<IpAddr> {
    let value = std::str::from_utf8(value).ok().filter(|v| v.is_ascii())?;
    trim_ows(value)
        .parse()
        .ok()
        .map(|ip: IpAddr| ip.to_canonical())
}

/// Without HTTP's optional white space (spaces and tabs).
fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
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

    fn lines<'a>(list: &[&'a str]) -> Vec<&'a [u8]> {
        list.iter().map(|s| s.as_bytes()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let got = resolve(
            ip("198.51.100.7"),
            &nets(&["10.0.0.0/8"]),
            &lines(&["1.2.3.4"]),
            &lines(&["5.6.7.8"]),
        );
        assert_eq!(got, Some(ip("198.51.100.7")));
        let got = resolve(ip("198.51.100.7"), &[], &[b"\xff"], &[b"\xff"]);
        assert_eq!(got, Some(ip("198.51.100.7")));
    }

    #[test]
    fn forwarded_for_is_walked_right_to_left_past_trusted_hops() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        let got = resolve(
            ip("127.0.0.1"),
            &trusted,
            &lines(&["203.0.113.9, 198.51.100.1, 10.1.1.1"]),
            &[],
        );
        assert_eq!(
            got,
            Some(ip("198.51.100.1")),
            "a client cannot spoof past the first untrusted hop"
        );
        let got = resolve(
            ip("127.0.0.1"),
            &trusted,
            &lines(&["203.0.113.9", "10.1.1.1"]),
            &lines(&["1.1.1.1"]),
        );
        assert_eq!(got, Some(ip("203.0.113.9")));
        let got = resolve(
            ip("127.0.0.1"),
            &trusted,
            &lines(&["10.2.2.2, 10.1.1.1"]),
            &[],
        );
        assert_eq!(got, Some(ip("10.2.2.2")));
    }

    #[test]
    fn several_lines_are_one_list_with_empty_elements_allowed() {
        assert_eq!(
            parse_forwarded_for(&lines(&["198.51.100.1,", " ,\t203.0.113.8 "])),
            Some(vec![ip("198.51.100.1"), ip("203.0.113.8")])
        );
        assert_eq!(
            parse_forwarded_for(&lines(&["::ffff:192.0.2.1, 2001:db8::1"])),
            Some(vec![ip("192.0.2.1"), ip("2001:db8::1")])
        );
    }

    #[test]
    fn real_ip_only_without_any_forwarded_for_line() {
        let trusted = nets(&["127.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        assert_eq!(
            resolve(peer, &trusted, &[], &lines(&["203.0.113.5"])),
            Some(ip("203.0.113.5"))
        );
        assert_eq!(resolve(peer, &trusted, &[], &[]), Some(peer));
        assert_eq!(resolve(peer, &trusted, &[], &lines(&["junk"])), None);
        assert_eq!(
            resolve(peer, &trusted, &[], &lines(&["203.0.113.5", "203.0.113.6"])),
            None,
            "two X-Real-IP lines"
        );
    }

    #[test]
    fn an_unreadable_forwarded_for_never_falls_back() {
        let trusted = nets(&["127.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        let real_ip = lines(&["203.0.113.7"]);
        for bad in [
            &b"\xff"[..],
            b"203.0.113.7\xff",
            b"203.0.113.\xc3\xa9",
            b"junk",
            b"203.0.113.7:8080",
            b"[2001:db8::1]",
            b"unknown",
        ] {
            assert_eq!(resolve(peer, &trusted, &[bad], &real_ip), None, "{bad:?}");
            assert_eq!(resolve(peer, &trusted, &[bad], &[]), None, "{bad:?}");
            let with_good: [&[u8]; 2] = [b"203.0.113.7", bad];
            assert_eq!(
                resolve(peer, &trusted, &with_good, &[]),
                None,
                "{bad:?} in a second line"
            );
        }
        // A line with no address at all is no answer either.
        for empty in [&b""[..], b" , "] {
            assert_eq!(resolve(peer, &trusted, &[empty], &real_ip), None);
        }
        assert_eq!(
            resolve(peer, &trusted, &lines(&["junk, 127.0.0.2"]), &[]),
            None
        );
        assert_eq!(parse_address(b"\xff203.0.113.7"), None);
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        assert_eq!(
            resolve(ip("::ffff:192.0.2.1"), &[], &[], &[]),
            Some(ip("192.0.2.1"))
        );
    }
}

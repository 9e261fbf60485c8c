//! Allow-list entries and client addresses.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use crate::error::{Error, Result};

pub const MAX_ALLOW_IPS: usize = 100;

/// An allow-list entry: an IPv4/IPv6 address or CIDR block; a single
/// address is stored as the bare address, and an IPv4-mapped IPv6 one
/// (`::ffff:10.0.0.0/104`) as the IPv4 it stands for (`10.0.0.0/8`).
pub fn network(text: &str) -> Result<String> {
    Ok(display_network(ip_net(text)?))
}

/// An address or CIDR block as a network.
pub fn ip_net(text: &str) -> Result<IpNet> {
    let net = match text.parse::<IpAddr>() {
        Ok(addr) => IpNet::from(addr),
        Err(_) => text.parse::<IpNet>().map_err(|_| {
            Error::usage(format!("invalid IP address or network {text:?}")).with_hint(
                "use an address or a CIDR block: 203.0.113.7, 203.0.113.0/24, 2001:db8::/32",
            )
        })?,
    };
    // 10.0.0.7/8 is most likely a typo for 10.0.0.7 (or /32): taking it as
    // 10.0.0.0/8 would open a whole block without a word.
    if net != net.trunc() {
        return Err(
            Error::usage(format!("{text:?} has bits set past its prefix")).with_hint(format!(
                "write {} for the block, or {} for one address",
                net.trunc(),
                net.addr()
            )),
        );
    }
    Ok(unmapped(net))
}

/// An IPv4-mapped IPv6 network (inside `::ffff:0:0/96`) as plain IPv4:
/// clients are compared as IPv4, so only that form can ever match. A
/// shorter IPv6 prefix (`::/0`) stays IPv6 and matches IPv6 clients only.
fn unmapped(net: IpNet) -> IpNet {
    let IpNet::V6(v6) = net else {
        return net;
    };
    let Some(v4) = v6.addr().to_ipv4_mapped() else {
        return net;
    };
    match v6.prefix_len().checked_sub(96) {
        Some(len) => Ipv4Net::new(v4, len).map_or(net, IpNet::V4),
        None => net,
    }
}

fn display_network(net: IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// A whole allow-list: entries validated, de-duplicated, at most 100.
pub fn networks(values: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for value in values {
        let net = network(value)?;
        if !out.contains(&net) {
            out.push(net);
        }
    }
    if out.len() > MAX_ALLOW_IPS {
        return Err(Error::usage(format!(
            "too many allow-list entries ({}); at most {MAX_ALLOW_IPS}",
            out.len()
        ))
        .with_hint("use CIDR blocks to cover several addresses"));
    }
    Ok(out)
}

/// An address given to `verify --ip`; an IPv4-mapped IPv6 address is
/// the IPv4 client it stands for.
pub fn address(text: &str) -> Result<IpAddr> {
    text.parse::<IpAddr>()
        .map(|a| a.to_canonical())
        .map_err(|_| {
            Error::usage(format!("invalid IP address {text:?}"))
                .with_hint("give one address, such as 203.0.113.7 or 2001:db8::1")
        })
}

/// Whether `addr` lies inside any of the stored allow-list entries.
pub fn allowed(allow_list: &[String], addr: IpAddr) -> bool {
    allow_list.iter().any(|entry| {
        // Entries stored before mapped ones were unmapped on input match
        // as what they stand for too.
        let net = entry
            .parse::<IpNet>()
            .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
            .map(unmapped);
        // An IPv4 client seen through an IPv6 socket is still that client.
        net.is_ok_and(|net| net.contains(&addr.to_canonical()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::strings;

    #[test]
    fn networks_are_normalised() {
        assert_eq!(network("203.0.113.7").unwrap(), "203.0.113.7");
        assert_eq!(network("203.0.113.0/24").unwrap(), "203.0.113.0/24");
        assert_eq!(network("2001:db8::/32").unwrap(), "2001:db8::/32");
        assert!(
            network("203.0.113.7/24").is_err(),
            "host bits past the prefix"
        );
        assert!(network("2001:db8::1/32").is_err());
        assert_eq!(network("10.0.0.1/32").unwrap(), "10.0.0.1");
        for bad in ["300.1.1.1", "10.0.0.0/33", "example.com", "", "10.0.0.0/"] {
            assert!(network(bad).is_err(), "{bad:?}");
        }
        let list = networks(&strings(&["10.0.0.1", "10.0.0.1/32", "10.1.0.0/16"])).unwrap();
        assert_eq!(list, strings(&["10.0.0.1", "10.1.0.0/16"]));
        assert_eq!(network("::ffff:10.0.0.1").unwrap(), "10.0.0.1");
        assert_eq!(network("::ffff:10.0.0.0/104").unwrap(), "10.0.0.0/8");
        assert_eq!(network("::ffff:0:0/96").unwrap(), "0.0.0.0/0");
        assert_eq!(network("::ffff:10.0.0.1/128").unwrap(), "10.0.0.1");
        assert_eq!(network("::/0").unwrap(), "::/0");
        assert_eq!(network("::fffc:0:0/94").unwrap(), "::fffc:0:0/94");
        let many: Vec<String> = (0..101).map(|i| format!("10.0.0.{i}")).collect();
        assert!(networks(&many).is_err());
    }

    #[test]
    fn allow_list_membership() {
        let list = strings(&["203.0.113.0/24", "2001:db8::1"]);
        assert!(allowed(&list, "203.0.113.200".parse().unwrap()));
        assert!(allowed(&list, "::ffff:203.0.113.9".parse().unwrap()));
        assert!(allowed(&list, "2001:db8::1".parse().unwrap()));
        assert!(!allowed(&list, "203.0.114.1".parse().unwrap()));
        assert!(!allowed(&list, "2001:db8::2".parse().unwrap()));
        // As stored before mapped entries were unmapped on input.
        let mapped = strings(&["::ffff:10.0.0.0/104"]);
        assert!(allowed(&mapped, "10.1.2.3".parse().unwrap()));
        assert!(allowed(&mapped, "::ffff:10.1.2.3".parse().unwrap()));
    }
}

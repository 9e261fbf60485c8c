//! Allow-list entries and client addresses.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};
use serde::{Serialize, Serializer};

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

/// A token's allow-list: its entries as stored and shown, and the
/// networks they stand for, parsed once when the list is built. Empty
/// means any address.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    entries: Vec<String>,
    /// The entries that parse; one that does not matches nothing.
    nets: Vec<IpNet>,
}

impl AllowList {
    /// The list given by `--allow-ip` values: validated, normalised,
    /// de-duplicated, at most 100.
    pub fn parse(values: &[String]) -> Result<AllowList> {
        let mut nets = Vec::new();
        for value in values {
            let net = ip_net(value)?;
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        if nets.len() > MAX_ALLOW_IPS {
            return Err(Error::usage(format!(
                "too many allow-list entries ({}); at most {MAX_ALLOW_IPS}",
                nets.len()
            ))
            .with_hint("use CIDR blocks to cover several addresses"));
        }
        let entries = nets.iter().map(|net| display_network(*net)).collect();
        Ok(AllowList { entries, nets })
    }

    /// A list as the store holds it. An entry that does not parse stays,
    /// shown as stored, and admits no one: a list of only such entries
    /// still refuses every address.
    pub fn from_stored(entries: Vec<String>) -> AllowList {
        // Entries stored before mapped ones were unmapped on input match
        // as what they stand for too.
        let nets = entries
            .iter()
            .filter_map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .ok()
            })
            .map(unmapped)
            .collect();
        AllowList { entries, nets }
    }

    /// No entries: any address may use the token.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `addr` lies inside one of the entries.
    pub fn allows(&self, addr: IpAddr) -> bool {
        // An IPv4 client seen through an IPv6 socket is still that client.
        let addr = addr.to_canonical();
        self.nets.iter().any(|net| net.contains(&addr))
    }

    /// The entries as stored, for display and the store's column.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }
}

/// Lists are the same when their entries are: the networks follow.
impl PartialEq for AllowList {
    fn eq(&self, other: &AllowList) -> bool {
        self.entries == other.entries
    }
}

impl Eq for AllowList {}

impl Serialize for AllowList {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.entries.serialize(s)
    }
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
        let list = AllowList::parse(&strings(&["10.0.0.1", "10.0.0.1/32", "10.1.0.0/16"])).unwrap();
        assert_eq!(list.entries(), strings(&["10.0.0.1", "10.1.0.0/16"]));
        assert_eq!(network("::ffff:10.0.0.1").unwrap(), "10.0.0.1");
        assert_eq!(network("::ffff:10.0.0.0/104").unwrap(), "10.0.0.0/8");
        assert_eq!(network("::ffff:0:0/96").unwrap(), "0.0.0.0/0");
        assert_eq!(network("::ffff:10.0.0.1/128").unwrap(), "10.0.0.1");
        assert_eq!(network("::/0").unwrap(), "::/0");
        assert_eq!(network("::fffc:0:0/94").unwrap(), "::fffc:0:0/94");
        let many: Vec<String> = (0..101).map(|i| format!("10.0.0.{i}")).collect();
        assert!(AllowList::parse(&many).is_err());
        assert_eq!(AllowList::parse(&many[..100]).unwrap().entries().len(), 100);
    }

    #[test]
    fn allow_list_membership() {
        let list = AllowList::from_stored(strings(&["203.0.113.0/24", "2001:db8::1"]));
        assert!(list.allows("203.0.113.200".parse().unwrap()));
        assert!(list.allows("::ffff:203.0.113.9".parse().unwrap()));
        assert!(list.allows("2001:db8::1".parse().unwrap()));
        assert!(!list.allows("203.0.114.1".parse().unwrap()));
        assert!(!list.allows("2001:db8::2".parse().unwrap()));
        // As stored before mapped entries were unmapped on input.
        let mapped = AllowList::from_stored(strings(&["::ffff:10.0.0.0/104"]));
        assert!(mapped.allows("10.1.2.3".parse().unwrap()));
        assert!(mapped.allows("::ffff:10.1.2.3".parse().unwrap()));
        assert_eq!(mapped.entries(), strings(&["::ffff:10.0.0.0/104"]));
    }

    #[test]
    fn unparsable_stored_entries_are_kept_and_admit_no_one() {
        let bad = AllowList::from_stored(strings(&["example.com", "10.0.0.0/33"]));
        assert!(
            !bad.is_empty(),
            "a list of bad entries is not \"any address\""
        );
        assert_eq!(bad.entries(), strings(&["example.com", "10.0.0.0/33"]));
        for addr in ["10.0.0.1", "::1", "0.0.0.0"] {
            assert!(!bad.allows(addr.parse().unwrap()), "{addr}");
        }
        let mixed = AllowList::from_stored(strings(&["junk", "192.0.2.0/24"]));
        assert!(mixed.allows("192.0.2.9".parse().unwrap()));
        assert!(!mixed.allows("198.51.100.1".parse().unwrap()));
        assert!(AllowList::default().is_empty());
        assert!(!AllowList::default().allows("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn parsed_input_matches_as_stored() {
        let list = AllowList::parse(&strings(&["::ffff:10.0.0.0/104", "2001:db8::1/128"])).unwrap();
        assert_eq!(list.entries(), strings(&["10.0.0.0/8", "2001:db8::1"]));
        assert_eq!(list, AllowList::from_stored(list.entries().to_vec()));
        assert!(list.allows("::ffff:10.9.9.9".parse().unwrap()));
        assert!(list.allows("2001:db8::1".parse().unwrap()));
        let json = serde_json::to_string(&list).unwrap();
        assert_eq!(json, r#"["10.0.0.0/8","2001:db8::1"]"#);
        assert_eq!(serde_json::to_string(&AllowList::default()).unwrap(), "[]");
    }
}

//! The client-address rules of `serve`: whatever headers arrive, the
//! address is the untrusted peer itself, one of the addresses the headers
//! name, the trusted peer, or unknown; never a panic.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use tokenctl::serve::{client_address, parse_address, parse_forwarded_for};

fuzz_target!(|data: &[u8]| {
    // The input is split into header lines at NUL bytes; the first byte
    // says how many of them are X-Forwarded-For (the rest X-Real-IP).
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let lines: Vec<&[u8]> = rest.split(|&b| b == 0).collect();
    let split = usize::from(split).min(lines.len());
    let (forwarded_for, real_ip) = lines.split_at(split);

    let untrusted: IpAddr = Ipv4Addr::new(198, 51, 100, 1).into();
    let proxy: IpAddr = Ipv4Addr::LOCALHOST.into();
    let trusted = [
        "127.0.0.0/8".parse().unwrap(),
        "10.0.0.0/8".parse().unwrap(),
    ];

    // An untrusted peer is the client, whatever it sends.
    assert_eq!(
        client_address(untrusted, &trusted, forwarded_for, real_ip),
        Some(untrusted)
    );
    if let Some(client) = client_address(proxy, &trusted, forwarded_for, real_ip) {
        let named = parse_forwarded_for(forwarded_for).unwrap_or_default();
        let real: Vec<IpAddr> = real_ip.iter().filter_map(|l| parse_address(l)).collect();
        assert!(
            client == proxy || named.contains(&client) || real.contains(&client),
            "{client} came from nowhere"
        );
        // Once X-Forwarded-For is sent, X-Real-IP never decides.
        if !forwarded_for.is_empty() {
            assert!(
                named.contains(&client),
                "{client} is not from X-Forwarded-For"
            );
        }
    }
});

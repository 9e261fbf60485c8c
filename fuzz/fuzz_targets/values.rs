//! The value parsers behind every flag: any input is either accepted or
//! refused with an error, never a panic; what is accepted is well formed.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use tokenctl::values;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    let _ = values::token_name(text);
    let _ = values::account_name(text);
    let list: Vec<String> = text.split('\n').map(str::to_string).collect();
    if let Ok(acls) = values::privileges(&list) {
        let stored = values::normalize_acls(acls);
        assert!(!stored.is_empty());
        assert!(stored.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
    }
    if let Ok(seconds) = values::duration(text) {
        assert!(seconds > 0);
    }
    let _ = values::grace(text);
    if let Ok(Some(at)) = values::expiry(text, now) {
        assert!(at > now.timestamp(), "an expiry is in the future");
    }
    let _ = values::since(text, now);
    if let Ok(net) = values::network(text) {
        // What is stored parses back to itself.
        assert_eq!(values::network(&net).ok().as_deref(), Some(net.as_str()));
    }
    let _ = values::networks(&list);
    if let Ok(Some(note)) = values::note(text) {
        assert!(!note.chars().any(char::is_control));
    }
    let _ = values::address(text);
    let _ = values::glob(text);
});

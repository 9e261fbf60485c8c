//! The Authorization header parser of `serve`: any bytes are either
//! credentials or a refusal, never a panic; a named account is never empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenctl::serve::parse_credentials;

fuzz_target!(|data: &[u8]| {
    if let Ok(creds) = parse_credentials(Some(data)) {
        assert!(creds.account.as_deref() != Some(""));
        // What was taken as the token came from the header.
        let header = String::from_utf8_lossy(data);
        if !creds.token.is_empty() && creds.account.is_none() {
            assert!(header.contains(creds.token.as_str()));
        }
    }
});

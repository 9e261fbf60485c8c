//! The token parser: whatever comes in, `parse` never panics, accepts only
//! the documented shape, and what it accepts reassembles to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenctl::token;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(parsed) = token::parse(text) {
        assert_eq!(text.len(), token::TOKEN_LEN);
        assert!(text.starts_with(token::PREFIX));
        assert_eq!(token::assemble(parsed.id, parsed.secret), text);
    }
    // Redaction never lets a whole token through.
    let redacted = token::redact(text);
    assert!(token::parse(redacted.trim()).is_none() || token::parse(text.trim()).is_none());
});

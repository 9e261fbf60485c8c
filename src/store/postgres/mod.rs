//! The PostgreSQL store: where it is (`url`).

// The backend that uses these is built beside them; until it is, only the
// tests do.
#![cfg_attr(not(test), allow(dead_code))]

pub mod url;

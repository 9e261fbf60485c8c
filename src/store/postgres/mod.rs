//! The PostgreSQL store: where it is (`url`) and how its connections are
//! secured (`tls`).

// The backend that uses these is built beside them; until it is, only the
// tests do.
#![cfg_attr(not(test), allow(dead_code))]

pub mod tls;
pub mod url;

//! End-to-end tests: each runs the real binary against a temporary store.

mod common;

mod accounts;
mod basics;
mod completion;
mod db;
mod generated;
mod interactive;
mod lifecycle;
mod revoke;
mod secrets;
mod verify;

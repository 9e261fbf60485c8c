//! End-to-end tests: each runs the real binary against a temporary store.

mod common;

mod accounts;
mod basics;
mod completion;
mod create;
mod db;
mod fixtures;
mod generated;
mod interactive;
mod lifecycle;
mod list;
mod revoke;
mod secrets;
mod show_edit;
mod store;
mod verify;

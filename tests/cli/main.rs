//! End-to-end tests: each runs the real binary against a temporary store.

mod common;

mod accounts;
mod architecture;
mod basics;
mod completion;
mod concurrency;
mod crash;
mod create;
mod db;
mod faults;
mod fixtures;
mod generated;
mod hostile;
mod input_hardening;
mod interactive;
mod lifecycle;
mod list;
mod pg_harness;
mod pg_serve;
mod pg_store;
mod restore;
mod review_regressions;
mod revoke;
mod secrets;
mod secrets_more;
mod serve;
mod serve_attacks;
mod serve_caddy;
mod serve_http;
mod serve_nginx;
mod serve_review;
mod show_edit;
mod store;
mod store_hardening;
mod verify;

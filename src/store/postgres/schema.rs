//! The PostgreSQL schema, in step with SQLite's (`sqlite/schema.rs`): the
//! same versions and the same logical tables. Lists are `jsonb`, times
//! `bigint` Unix seconds, and names and ids sort by bytes (`COLLATE "C"`),
//! as SQLite's do. Never edit a migration that has shipped: add one.

/// What `meta` holds under `application` in a tokenctl store.
pub const APPLICATION: &str = "tokenctl";

pub const MIGRATIONS: &[&str] = &[
    // 1: accounts, tokens and the audit trail.
    r#"
    CREATE TABLE meta (
        key   text COLLATE "C" PRIMARY KEY,
        value text NOT NULL
    );

    CREATE TABLE accounts (
        id         bigserial PRIMARY KEY,
        name       text COLLATE "C" NOT NULL,
        acls       jsonb NOT NULL,
        suspended  boolean NOT NULL DEFAULT false,
        created_at bigint NOT NULL,
        deleted_at bigint
    );
    CREATE UNIQUE INDEX accounts_live_name ON accounts(name) WHERE deleted_at IS NULL;

    CREATE TABLE tokens (
        id               text COLLATE "C" PRIMARY KEY,
        account_id       bigint NOT NULL REFERENCES accounts(id),
        name             text COLLATE "C" NOT NULL,
        secret_hash      text NOT NULL,
        prev_secret_hash text,
        prev_valid_until bigint,
        acls             jsonb NOT NULL,
        allow_ips        jsonb NOT NULL,
        note             text,
        created_at       bigint NOT NULL,
        expires_at       bigint,
        last_used_at     bigint,
        last_used_ip     text,
        disabled_at      bigint,
        revoked_at       bigint
    );
    CREATE UNIQUE INDEX tokens_live_name ON tokens(account_id, name) WHERE revoked_at IS NULL;
    CREATE INDEX tokens_by_account ON tokens(account_id, name);

    CREATE TABLE events (
        id         bigserial PRIMARY KEY,
        at         bigint NOT NULL,
        actor      text NOT NULL,
        action     text NOT NULL,
        account_id bigint NOT NULL REFERENCES accounts(id),
        account    text NOT NULL,
        token_id   text COLLATE "C",
        token_name text,
        detail     text
    );
    CREATE INDEX events_by_account ON events(account_id);
    "#,
    // 2: the catalogue of privileges.
    r#"
    CREATE TABLE privileges (
        name        text COLLATE "C" PRIMARY KEY,
        description text,
        created_at  bigint NOT NULL
    );
    "#,
];

//! Append-only migrations keyed on `PRAGMA user_version`. Never edit a
//! migration that has shipped: add a new one.

/// `PRAGMA application_id` of a tokenctl store ("tokc"), so that another
/// program's SQLite file is recognised and refused.
pub const APPLICATION_ID: i64 = 0x746f_6b63;

pub const MIGRATIONS: &[&str] = &[
    // 1: accounts, tokens and the audit trail.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;

    -- Deleting an account is a soft delete: its revoked tokens keep pointing
    -- at it, and the name may be taken again by a new account.
    CREATE TABLE accounts (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        acls       TEXT NOT NULL,              -- JSON array, sorted
        suspended  INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,           -- Unix seconds, UTC
        deleted_at INTEGER
    ) STRICT;
    CREATE UNIQUE INDEX accounts_live_name ON accounts(name) WHERE deleted_at IS NULL;

    CREATE TABLE tokens (
        id               TEXT PRIMARY KEY,     -- the public part of the token
        account_id       INTEGER NOT NULL REFERENCES accounts(id),
        name             TEXT NOT NULL,
        secret_hash      TEXT NOT NULL,        -- argon2id PHC string
        prev_secret_hash TEXT,                 -- still valid during a rotation grace
        prev_valid_until INTEGER,
        acls             TEXT NOT NULL,        -- JSON array, sorted
        allow_ips        TEXT NOT NULL,        -- JSON array
        note             TEXT,
        created_at       INTEGER NOT NULL,
        expires_at       INTEGER,
        last_used_at     INTEGER,
        last_used_ip     TEXT,
        disabled_at      INTEGER,
        revoked_at       INTEGER
    ) STRICT;
    CREATE UNIQUE INDEX tokens_live_name ON tokens(account_id, name) WHERE revoked_at IS NULL;
    CREATE INDEX tokens_by_account ON tokens(account_id, name);

    CREATE TABLE events (
        id         INTEGER PRIMARY KEY,
        at         INTEGER NOT NULL,
        actor      TEXT NOT NULL,
        action     TEXT NOT NULL,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        account    TEXT NOT NULL,              -- the name at the time
        token_id   TEXT,
        token_name TEXT,
        detail     TEXT
    ) STRICT;
    -- No index on token_id: revoke-all writes an event per token, and an
    -- index on random ids made that the largest part of its cost;
    -- 'audit --token' scans instead (about 20 ms for 200k events).
    CREATE INDEX events_by_account ON events(account_id);
    "#,
    // 2: the catalogue of privileges (README, "Privileges"): empty, every
    // well-formed privilege is accepted; else only these and `all`.
    r#"
    CREATE TABLE privileges (
        name        TEXT PRIMARY KEY,
        description TEXT,
        created_at  INTEGER NOT NULL
    ) STRICT;
    "#,
];

//! Seeds a store for the benchmarks (bench/run.sh).
//!
//! ```sh
//! cargo run --release --example seed -- --db PATH --count N [--account alice]
//! ```
//!
//! Creates a new store at PATH through the library, bootstrapped as the CLI
//! would do it (the account with privilege `all`, the `bootstrapped` flag,
//! the `account-add` event), then N tokens for that account, each with its
//! `create` event, all in one transaction. Hashing 100,000 secrets would
//! take about an hour, so every seeded row shares ONE precomputed argon2id
//! hash (of a secret nobody keeps): their plaintexts are unknown and they
//! never verify. One extra token, `bench-probe` (no expiry), gets its own
//! real hash; its plaintext is the only thing printed on stdout, so a
//! benchmark can verify against it. A summary goes to stderr. No timing
//! here: bench/run.sh does that.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use tokenctl::model::{Account, Event, Token};
use tokenctl::store::{Location, Store};
use tokenctl::token;
use tokenctl::values::{AllowList, Privileges};

const USAGE: &str = "usage: seed --db PATH --count N [--account NAME]";
/// Seeded tokens were created over the last 300 days and expire 365 days
/// after creation: all active, with a spread of dates like a real store.
const DAY: i64 = 86_400;
const LIFETIME: i64 = 365 * DAY;
const ACTOR: &str = "bench-seed";

struct Args {
    db: PathBuf,
    count: u64,
    account: String,
}

fn parse_args() -> Result<Args> {
    let mut db = None;
    let mut count = None;
    let mut account = "alice".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--db" => db = Some(PathBuf::from(value("--db")?)),
            "--count" => {
                let text = value("--count")?;
                count = Some(
                    text.parse::<u64>()
                        .with_context(|| format!("--count: not a number: {text}"))?,
                );
            }
            "--account" => account = value("--account")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unexpected argument {other:?}\n{USAGE}"),
        }
    }
    let (Some(db), Some(count)) = (db, count) else {
        bail!("--db and --count are required\n{USAGE}");
    };
    Ok(Args { db, count, account })
}

fn event(now: i64, action: &str, account: &Account, t: Option<&Token>, detail: String) -> Event {
    Event {
        at: now,
        actor: ACTOR.to_string(),
        action: action.to_string(),
        account_id: account.id,
        account: account.name.clone(),
        token_id: t.map(|t| t.id.clone()),
        token_name: t.map(|t| t.name.clone()),
        detail: Some(detail),
    }
}

fn create_event(account: &Account, t: &Token) -> Event {
    let expires = t
        .expires_at
        .map_or("never".to_string(), tokenctl::output::utc);
    event(
        t.created_at,
        "create",
        account,
        Some(t),
        format!("acls={}; expires={expires}", t.acls.join(",")),
    )
}

fn seed(args: &Args) -> Result<String> {
    if args.db.exists() {
        bail!(
            "{} already exists; seed only creates new stores",
            args.db.display()
        );
    }
    let now = chrono::Utc::now().timestamp();
    let all = Privileges::all();

    // The one hash every seeded row shares, and the probe's own.
    let shared_hash = token::hash_secret(&token::generate()?.secret)?;
    let probe = token::generate()?;
    let probe_hash = token::hash_secret(&probe.secret)?;

    let mut store = Store::open_or_create(&Location::parse(&args.db)?)?;
    store.write(|tx| {
        let account = tx.insert_account(&args.account, &all, now)?;
        tx.mark_bootstrapped(now)?;
        tx.record_event(&event(
            now,
            "account-add",
            &account,
            None,
            "acls=all (first use of the store)".into(),
        ))?;
        let row = |id: String, name: String, secret_hash: String, created_at, expires_at| Token {
            id,
            account_id: account.id,
            account: account.name.clone(),
            name,
            secret_hash,
            prev_secret_hash: None,
            prev_valid_until: None,
            acls: all.clone(),
            allow_ips: AllowList::default(),
            note: None,
            created_at,
            expires_at,
            last_used_at: None,
            last_used_ip: None,
            disabled_at: None,
            revoked_at: None,
            account_acls: account.acls.clone(),
            account_suspended: false,
        };
        for i in 0..args.count {
            let created_at = now - (i as i64 % 300) * DAY;
            let t = row(
                token::generate_id()?,
                format!("bench-{i:06}"),
                shared_hash.clone(),
                created_at,
                Some(created_at + LIFETIME),
            );
            tx.insert_token(&t)?;
            tx.record_event(&create_event(&account, &t))?;
        }
        let t = row(
            probe.id.clone(),
            "bench-probe".into(),
            probe_hash,
            now,
            None,
        );
        tx.insert_token(&t)?;
        tx.record_event(&create_event(&account, &t))?;
        Ok(())
    })?;
    // Closing the only connection checkpoints the -wal into the file and
    // removes it: a single self-contained file that can be copied.
    drop(store);
    Ok(probe.plaintext.to_string())
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|args| {
        let plaintext = seed(&args)?;
        eprintln!(
            "seeded {} with {} tokens for '{}' (+ bench-probe)",
            args.db.display(),
            args.count,
            args.account
        );
        Ok(plaintext)
    });
    match result {
        Ok(plaintext) => {
            println!("{plaintext}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

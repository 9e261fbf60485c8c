//! Several `tokenctl` processes on one store at once: every command exits 0
//! or with its documented code, never with a lock error; no token is lost
//! or duplicated; the final state agrees with the audit trail.
//!
//! Bounded so that it runs in seconds on two cores in a debug build.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use rstest::rstest;

use crate::common::checks::{Outcome, Rng};
use crate::common::{Backend, Postgres, Sqlite, TestEnv};

const WORKERS: usize = 4;
const OPS_PER_WORKER: usize = 15;
/// Tokens whose names end so are also taken by the `revoke-all` loop.
const DISPOSABLE: &str = "-x";

/// A token a worker created, as it knows it.
struct Mine {
    name: String,
    id: String,
    token: String,
    disposable: bool,
    /// Revoked by this worker's own `revoke` (which returned 0).
    revoked: bool,
}

/// What one worker saw succeed.
#[derive(Default)]
struct Tally {
    created: Vec<Mine>,
    edits: usize,
    /// Tokens changed by this worker's `revoke` (its JSON count).
    revoked_by_revoke: usize,
    verified: usize,
}

fn json(out: &Outcome) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

/// One worker: a random mix of create, verify, edit and revoke on tokens
/// of its own, each checked against the codes the README allows at that moment.
fn worker(env: &TestEnv, w: usize, seed: u64) -> Tally {
    let mut rng = Rng::seeded(seed.wrapping_add(w as u64));
    let mut tally = Tally::default();
    for i in 0..OPS_PER_WORKER {
        let live: Vec<usize> = (0..tally.created.len())
            .filter(|&k| !tally.created[k].revoked)
            .collect();
        let roll = if live.is_empty() { 0 } else { rng.below(100) };
        let pick = |rng: &mut Rng| live[rng.below(live.len() as u64) as usize];
        match roll {
            0..40 => {
                let disposable = i % 3 == 2;
                let name = format!("w{w}-{i}{}", if disposable { DISPOSABLE } else { "" });
                let out = env.run(&["token", "create", &name, "-o", "json"], None);
                out.expect(&format!("create {name}"), &[0]);
                let v = json(&out);
                tally.created.push(Mine {
                    name,
                    id: v["id"].as_str().unwrap().to_string(),
                    token: v["token"].as_str().unwrap().to_string(),
                    disposable,
                    revoked: false,
                });
            }
            40..65 => {
                let mine = &tally.created[pick(&mut rng)];
                let out = env.run(
                    &["token", "verify", "-o", "json"],
                    Some(&format!("{}\n", mine.token)),
                );
                // Only the revoke-all loop can have revoked it meanwhile.
                let allowed: &[i32] = if mine.disposable { &[0, 5] } else { &[0] };
                out.expect(&format!("verify {}", mine.name), allowed);
                let v = json(&out);
                if out.code == Some(0) {
                    assert_eq!(v["id"], mine.id.as_str(), "{out:?}");
                    tally.verified += 1;
                } else {
                    assert_eq!(v["reason"], "revoked", "{out:?}");
                }
            }
            65..85 => {
                let mine = &tally.created[pick(&mut rng)];
                let note = format!("worker {w} op {i}");
                let out = env.run(&["token", "edit", &mine.name, "--note", &note], None);
                // A revoked token's name no longer resolves: not found.
                let allowed: &[i32] = if mine.disposable { &[0, 3] } else { &[0] };
                out.expect(&format!("edit {}", mine.name), allowed);
                if out.code == Some(0) {
                    tally.edits += 1;
                }
            }
            _ => {
                let k = pick(&mut rng);
                let mine = &mut tally.created[k];
                // By id: found even if the revoke-all loop took it first,
                // and then a no-op (exit 0, nothing revoked, no event).
                let out = env.run(&["token", "revoke", &mine.id, "--yes", "-o", "json"], None);
                out.expect(&format!("revoke {}", mine.name), &[0]);
                let n = json(&out)["revoked"].as_u64().unwrap() as usize;
                assert!(n <= 1, "{out:?}");
                assert!(mine.disposable || n == 1, "{out:?}");
                tally.revoked_by_revoke += n;
                mine.revoked = true;
            }
        }
    }
    tally
}

#[rstest]
fn writers_readers_and_revoke_all_at_once_lose_nothing(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("seed", &[]);
    let mut rng = Rng::new("concurrency");
    let seed = rng.next();
    let done = AtomicBool::new(false);
    let swept = AtomicUsize::new(0);

    let tallies: Vec<Tally> = thread::scope(|s| {
        // cron's `revoke-all --yes`, over and over, on the disposable ones.
        let sweeper = s.spawn(|| {
            let mut runs = 0;
            while !done.load(Ordering::SeqCst) {
                let out = env.run(
                    &[
                        "token",
                        "revoke-all",
                        "--match",
                        "*-x",
                        "--yes",
                        "-o",
                        "json",
                    ],
                    None,
                );
                out.expect("revoke-all", &[0]);
                let n = json(&out)["revoked"].as_u64().unwrap() as usize;
                swept.fetch_add(n, Ordering::SeqCst);
                runs += 1;
                thread::sleep(Duration::from_millis(40));
            }
            runs
        });
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let env = &env;
                s.spawn(move || worker(env, w, seed))
            })
            .collect();
        let tallies = workers.into_iter().map(|h| h.join().unwrap()).collect();
        done.store(true, Ordering::SeqCst);
        let runs = sweeper.join().unwrap();
        println!("revoke-all ran {runs} times alongside the workers");
        tallies
    });
    // One last sweep with nothing else running.
    let out = env.run(
        &[
            "token",
            "revoke-all",
            "--match",
            "*-x",
            "--yes",
            "-o",
            "json",
        ],
        None,
    );
    out.expect("final revoke-all", &[0]);
    swept.fetch_add(
        json(&out)["revoked"].as_u64().unwrap() as usize,
        Ordering::SeqCst,
    );

    let created: Vec<&Mine> = tallies.iter().flat_map(|t| &t.created).collect();
    let edits: usize = tallies.iter().map(|t| t.edits).sum();
    let revoked_by_revoke: usize = tallies.iter().map(|t| t.revoked_by_revoke).sum();
    let verified: usize = tallies.iter().map(|t| t.verified).sum();
    println!(
        "created {}, edited {edits}, verified {verified}, revoked {revoked_by_revoke} by revoke \
         and {} by revoke-all",
        created.len(),
        swept.load(Ordering::SeqCst)
    );
    assert!(created.len() >= WORKERS, "every worker creates first");

    // Nothing lost, nothing duplicated: exactly the seed and what was made.
    let all = env.json(&["token", "list", "--all"]);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), created.len() + 1, "{all:?}");
    for mine in &created {
        let rows: Vec<&Value> = all.iter().filter(|t| t["id"] == mine.id.as_str()).collect();
        assert_eq!(rows.len(), 1, "{} ({})", mine.name, mine.id);
        let t = rows[0];
        assert_eq!(t["name"], mine.name.as_str());
        let revoked = t["status"] == "revoked";
        // Disposable ones were all swept at the end; a revoke that
        // returned 0 stayed; the others are live.
        assert_eq!(revoked, mine.disposable || mine.revoked, "{t}");
    }

    // The audit trail tells the same story.
    let count = |sql: &str| -> usize { env.sql_value::<i64>(sql).unwrap() as usize };
    assert_eq!(
        count("SELECT count(*) FROM events WHERE action = 'edit'"),
        edits
    );
    assert_eq!(
        count("SELECT count(*) FROM events WHERE action = 'revoke' AND detail LIKE 'revoke-all%'"),
        swept.load(Ordering::SeqCst)
    );
    assert_eq!(
        count("SELECT count(*) FROM events WHERE action = 'revoke' AND detail IS NULL"),
        revoked_by_revoke
    );
    assert_eq!(
        count("SELECT count(*) FROM events WHERE action = 'account-add'"),
        1
    );
    env.assert_consistent("after the concurrent run");
}

#[rstest]
fn many_verify_readers_alongside_writers(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let tokens: Vec<(String, String)> = (0..3)
        .map(|i| {
            let name = format!("r{i}");
            let t = env.create(&name, &[]);
            (name, t)
        })
        .collect();
    const READERS: usize = 4;
    const VERIFIES: usize = 8;
    const WRITERS: usize = 2;
    const WRITES: usize = 5;
    let mut rng = Rng::new("readers");
    let seed = rng.next();

    thread::scope(|s| {
        for r in 0..READERS {
            let (env, tokens) = (&env, &tokens);
            s.spawn(move || {
                let mut rng = Rng::seeded(seed.wrapping_add(r as u64));
                for _ in 0..VERIFIES {
                    let (name, t) = &tokens[rng.below(tokens.len() as u64) as usize];
                    let out = env.run(&["token", "verify"], Some(&format!("{t}\n")));
                    out.expect(&format!("verify {name}"), &[0]);
                    // Last Used was recorded: no "could not record" warning.
                    assert!(out.stderr.is_empty(), "{out:?}");
                    assert!(out.stdout.contains(&format!("token {name} (")), "{out:?}");
                }
            });
        }
        for w in 0..WRITERS {
            let env = &env;
            s.spawn(move || {
                for i in 0..WRITES {
                    let name = format!("wr{w}-{i}");
                    env.run(&["token", "create", &name], None)
                        .expect(&format!("create {name}"), &[0]);
                    env.run(&["token", "edit", &name, "--add-acl", "read"], None)
                        .expect(&format!("edit {name}"), &[0]);
                }
            });
        }
    });

    let list = env.json(&["token", "list"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), tokens.len() + WRITERS * WRITES);
    for (name, _) in &tokens {
        let t = list.iter().find(|t| t["name"] == name.as_str()).unwrap();
        assert!(t["last_used"].is_string(), "{t}");
    }
    env.assert_consistent("after readers and writers");
}

#[rstest]
fn concurrent_first_use_of_a_new_store(#[values(Sqlite, Postgres)] backend: Backend) {
    // Several processes finding no store at once: one creates and migrates
    // it, the others wait and use it. Races here once made a newcomer
    // refuse the half-initialised store as "not a tokenctl store", or the
    // file that had just appeared as "a broken symbolic link".
    const ROUNDS: usize = 8;
    const CREATORS: usize = 4;
    for round in 0..ROUNDS {
        let Some(env) = TestEnv::on(backend) else {
            return;
        };
        let start = Barrier::new(CREATORS + 2);
        thread::scope(|s| {
            for c in 0..CREATORS {
                let (env, start) = (&env, &start);
                s.spawn(move || {
                    start.wait();
                    env.run(&["token", "create", &format!("t{c}")], None)
                        .expect(&format!("round {round}: create t{c}"), &[0]);
                });
            }
            for args in [&["token", "list"][..], &["account", "list"][..]] {
                let (env, start) = (&env, &start);
                s.spawn(move || {
                    start.wait();
                    env.run(args, None)
                        .expect(&format!("round {round}: {args:?}"), &[0]);
                });
            }
        });
        let list = env.json(&["token", "list"]);
        assert_eq!(list.as_array().unwrap().len(), CREATORS, "round {round}");
        let accounts: Option<i64> =
            env.sql_value("SELECT count(*) FROM events WHERE action = 'account-add'");
        assert_eq!(accounts, Some(1), "round {round}: bootstrapped once");
        env.assert_consistent(&format!("round {round}"));
    }
}

#[rstest]
fn racing_creates_of_one_name_give_one_token(#[values(Sqlite, Postgres)] backend: Backend) {
    // README: two creates of one name (from two servers, or two shells)
    // give one token and one exit 4, never two live tokens of one name.
    const ROUNDS: usize = 4;
    const RACERS: usize = 3;
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.create("seed", &[]);
    for round in 0..ROUNDS {
        let name = format!("same{round}");
        let start = Barrier::new(RACERS);
        let outcomes: Vec<Outcome> = thread::scope(|s| {
            let racers: Vec<_> = (0..RACERS)
                .map(|_| {
                    let (env, start, name) = (&env, &start, &name);
                    s.spawn(move || {
                        start.wait();
                        env.run(&["token", "create", name, "-o", "json"], None)
                    })
                })
                .collect();
            racers.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<&Outcome> = outcomes.iter().filter(|o| o.code == Some(0)).collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        for out in &outcomes {
            out.expect(&format!("round {round}: create {name}"), &[0, 4]);
        }
        // The one shown is the one stored, and it verifies.
        let id = json(winners[0])["id"].as_str().unwrap().to_string();
        let rows = env.sql_rows(&format!(
            "SELECT id FROM tokens WHERE name = {}",
            crate::common::quote(&name)
        ));
        assert_eq!(rows, [[Some(id.clone())]], "round {round}");
        let token = json(winners[0])["token"].as_str().unwrap().to_string();
        env.run(&["token", "verify"], Some(&format!("{token}\n")))
            .expect(&format!("round {round}: verify"), &[0]);
    }
    env.assert_consistent("after the racing creates");
}

//! `tokenctl privilege ...`: the optional catalogue of privileges, and
//! its enforcement on accounts and tokens.

use rstest::rstest;
use serde_json::{Value, json};

use crate::common::{Backend, Postgres, Sqlite, TestEnv};
use crate::serve::Server;

fn stderr_of(env: &TestEnv, args: &[&str]) -> String {
    let out = env.cmd(args).output().expect("run tokenctl");
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect()
}

#[rstest]
fn the_catalogue_is_started_from_use_and_described(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let noted = stderr_of(&env, &["account", "add", "bot", "--acl", "read,write"]);
    assert!(
        noted.contains("note: new privileges in this store: read, write"),
        "{noted}"
    );
    // An empty catalogue: nothing on stdout, why on stderr, [] in JSON.
    let out = env.cmd(&["privilege", "list"]).output().unwrap();
    assert!(out.status.success() && out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the catalogue is empty"));
    assert_eq!(env.json(&["privilege", "list"]), json!([]));

    // A first privilege while others are granted outside it is refused.
    let before = env.snapshot();
    let err = env.fails(
        &["privilege", "add", "deploy", "--description", "Deploy"],
        4,
    );
    assert!(err.contains("read, write"), "{err}");
    assert!(err.contains("tokenctl privilege add --from-use"), "{err}");
    assert_eq!(env.snapshot(), before);

    let added = env.json(&["privilege", "add", "--from-use"]);
    assert_eq!(names(&added), ["read", "write"]);
    assert_eq!(added[0]["description"], Value::Null);
    let added = env.json(&[
        "privilege",
        "add",
        "deploy",
        "--description",
        "Deploy to prod",
    ]);
    assert_eq!(added[0]["name"], "deploy");
    assert_eq!(added[0]["description"], "Deploy to prod");
    assert!(added[0]["created"].as_str().unwrap().ends_with('Z'));

    // Adding it again is a conflict; --force replaces the description.
    let err = env.fails(&["privilege", "add", "deploy", "--description", "x"], 4);
    assert!(err.contains("--force"), "{err}");
    env.ok(&[
        "privilege",
        "add",
        "read",
        "--description",
        "Read anything",
        "--force",
    ]);
    let list = env.json(&["privilege", "list"]);
    assert_eq!(names(&list), ["deploy", "read", "write"]);
    assert_eq!(list[1]["description"], "Read anything");
    let table = env.ok(&["privilege", "list"]);
    assert!(
        table.contains("Read anything") && table.contains("Deploy to prod"),
        "{table}"
    );

    // The description it has already: nothing on stdout, stderr says so,
    // no event.
    let out = env
        .cmd(&[
            "privilege",
            "add",
            "read",
            "--description",
            "Read anything",
            "--force",
        ])
        .output()
        .unwrap();
    assert!(out.status.success() && out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing changed"));

    // Nothing left to take from use.
    let out = env
        .cmd(&["privilege", "add", "--from-use"])
        .output()
        .unwrap();
    assert!(out.status.success() && out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was added"));

    let events = env.json(&["audit"]);
    let actions: Vec<(&str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("privilege-"))
        .map(|e| (e["action"].as_str().unwrap(), e["detail"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("privilege-add", "privilege=read (in use)"),
            ("privilege-add", "privilege=write (in use)"),
            (
                "privilege-add",
                "privilege=deploy; description=Deploy to prod"
            ),
            (
                "privilege-edit",
                "privilege=read; description=Read anything"
            ),
        ]
    );
}

#[rstest]
fn removing_a_granted_privilege_names_its_holders(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bot", "--acl", "read,deploy"]);
    env.ok(&[
        "-u", "alice", "token", "create", "nightly", "--acl", "deploy",
    ]);
    env.ok(&["privilege", "add", "--from-use"]);
    let before = env.snapshot();
    let err = env.fails(&["privilege", "remove", "deploy"], 4);
    assert!(err.contains("account bot"), "{err}");
    assert!(err.contains("token alice/nightly"), "{err}");
    assert!(err.contains("--remove-acl deploy"), "{err}");
    assert_eq!(env.snapshot(), before);

    let err = env.fails(&["privilege", "remove", "deplo"], 3);
    assert!(err.contains("did you mean deploy"), "{err}");

    env.ok(&["account", "edit", "bot", "--remove-acl", "deploy"]);
    env.ok(&["token", "revoke", "nightly", "--yes"]);
    assert_eq!(
        env.json(&["privilege", "remove", "deploy"]),
        json!({"removed": "deploy"})
    );
    assert_eq!(names(&env.json(&["privilege", "list"])), ["read"]);
    let events = env.json(&["audit"]);
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "privilege-remove");
    assert_eq!(last["account"], "alice");
    assert_eq!(last["detail"], "privilege=deploy");
}

#[rstest]
fn a_catalogue_refuses_other_privileges(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bot", "--acl", "read,write"]);
    env.ok(&["privilege", "add", "--from-use"]);
    env.ok(&["privilege", "add", "deploy", "--description", "Deploy"]);
    env.create("web", &["--acl", "read"]);
    let before = env.snapshot();
    for (args, typo, close) in [
        (
            &["account", "add", "x", "--acl", "raed"][..],
            "raed",
            "read",
        ),
        (
            &["account", "edit", "bot", "--add-acl", "wirte"],
            "wirte",
            "write",
        ),
        (
            &["token", "create", "ci", "--acl", "delpoy"],
            "delpoy",
            "deploy",
        ),
        (
            &["token", "edit", "web", "--acl", "read,dpeloy"],
            "dpeloy",
            "deploy",
        ),
        // `all` beside a typo does not hide it.
        (
            &["token", "create", "ci", "--acl", "all,delpoy"],
            "delpoy",
            "deploy",
        ),
        (
            &["account", "edit", "bot", "--add-acl", "all,wirte"],
            "wirte",
            "write",
        ),
    ] {
        let err = env.fails(args, 2);
        assert!(
            err.contains(&format!("privilege '{typo}' is not in the catalogue")),
            "{err}"
        );
        assert!(err.contains(&format!("did you mean {close}")), "{err}");
    }
    let err = env.fails(&["account", "add", "x", "--acl", "frobnicate"], 2);
    assert!(err.contains("tokenctl privilege list"), "{err}");
    assert_eq!(env.snapshot(), before);

    // `all` is always valid, and so is what the catalogue holds.
    env.ok(&["account", "add", "root", "--acl", "all"]);
    env.ok(&["account", "edit", "bot", "--add-acl", "deploy"]);
    env.ok(&[
        "-u", "bot", "token", "create", "deployer", "--acl", "deploy",
    ]);
    // Removing privileges is never refused.
    env.ok(&["account", "edit", "bot", "--remove-acl", "write"]);
}

#[rstest]
fn an_empty_catalogue_notes_privileges_new_to_the_store(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bot", "--acl", "read"]);
    let noted = stderr_of(&env, &["token", "create", "ci", "--acl", "frobnicate"]);
    assert!(
        noted.contains("note: new privilege in this store: frobnicate"),
        "{noted}"
    );
    assert_eq!(noted.matches("new privilege").count(), 1, "{noted}");
    // Once in use, it is not new.
    let quiet = stderr_of(
        &env,
        &["account", "edit", "bot", "--add-acl", "frobnicate,read"],
    );
    assert!(!quiet.contains("new privilege"), "{quiet}");
    let quiet = stderr_of(&env, &["account", "add", "bot2", "--acl", "all"]);
    assert!(!quiet.contains("new privilege"), "{quiet}");
}

#[rstest]
fn descriptions_follow_the_rules_of_notes(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("web", &[]);
    let before = env.snapshot();
    let err = env.fails(
        &[
            "privilege",
            "add",
            "deploy",
            "--description",
            "a\u{1b}[31mb",
        ],
        2,
    );
    assert!(
        err.contains("a description cannot contain control characters"),
        "{err}"
    );
    let err = env.fails(
        &[
            "privilege",
            "add",
            "deploy",
            "--description",
            &format!("see {token}"),
        ],
        2,
    );
    assert!(
        err.contains("a description cannot contain a token"),
        "{err}"
    );
    env.fails(&["privilege", "add", "Deploy", "--description", "x"], 2);
    let err = env.fails(&["privilege", "add", "all", "--description", "x"], 2);
    assert!(err.contains("always valid"), "{err}");
    env.fails(&["privilege", "add"], 2);
    env.fails(&["privilege", "add", "deploy", "--from-use"], 2);
    assert_eq!(env.snapshot(), before);
}

#[test]
fn privilege_commands_on_a_missing_store() {
    let env = TestEnv::new();
    let out = env
        .cmd(&["privilege", "list", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no store at"));
    let err = env.fails(&["privilege", "add", "deploy", "--description", "x"], 1);
    assert!(err.contains("no store at"), "{err}");
    env.fails(&["privilege", "remove", "deploy"], 1);
    assert!(!env.has_store());
}

/// Makes the store what a tokenctl of schema version 1 left: no catalogue.
fn as_version_1(env: &TestEnv) {
    match env.backend() {
        Backend::Sqlite => env
            .sql()
            .execute_batch("DROP TABLE privileges; PRAGMA user_version = 1;")
            .unwrap(),
        Backend::Postgres => {
            env.sql_execute("DROP TABLE privileges");
            env.sql_execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'");
        }
    }
}

fn version(env: &TestEnv) -> i64 {
    match env.backend() {
        Backend::Sqlite => env.sql_value("PRAGMA user_version").unwrap(),
        Backend::Postgres => env
            .sql_value("SELECT value FROM meta WHERE key = 'schema_version'")
            .unwrap(),
    }
}

#[rstest]
fn a_version_1_store_is_read_as_it_is_and_migrated_by_a_change(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bot", "--acl", "read"]);
    let token = env.create("web", &["--acl", "read"]);
    as_version_1(&env);
    let before = env.snapshot();
    assert_eq!(env.json(&["privilege", "list"]), json!([]));
    env.ok(&["token", "list"]);
    env.ok(&["account", "list"]);
    env.ok(&["db", "check"]);
    assert!(env.verify(&token, &["--acl", "read"]).status.success());
    // Dry runs and changes declined or already made change nothing, the
    // schema included.
    env.ok(&["token", "revoke", "web", "--dry-run"]);
    env.ok(&["token", "revoke-all", "--dry-run"]);
    env.fails(&["token", "revoke", "web"], 6);
    assert_eq!(version(&env), 1, "a read migrated the store");
    // verify records Last Used, and nothing else.
    let after: Vec<_> = env
        .snapshot()
        .lines()
        .filter(|l| !l.starts_with("tokens:"))
        .map(String::from)
        .collect();
    let before: Vec<_> = before
        .lines()
        .filter(|l| !l.starts_with("tokens:"))
        .map(String::from)
        .collect();
    assert_eq!(after, before);

    // A change migrates first; the catalogue works from then on.
    env.ok(&["token", "create", "ci", "--acl", "read"]);
    assert_eq!(version(&env), 2);
    env.ok(&["privilege", "add", "--from-use"]);
    assert_eq!(names(&env.json(&["privilege", "list"])), ["read"]);
    env.fails(&["token", "create", "cd", "--acl", "raed"], 2);
}

#[rstest]
fn serve_answers_400_to_an_acl_outside_the_catalogue_without_a_restart(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bot", "--acl", "deploy,read"]);
    let token = env.create("ci", &["-u", "bot"]);
    // A store of version 1 (no catalogue table) is served as it is.
    as_version_1(&env);
    let server = Server::start(&env, &[]);
    assert_eq!(server.bearer("/verify?acl=deploy", &token).status, 200);
    assert_eq!(server.bearer("/verify?acl=dpeloy", &token).status, 403);

    // The catalogue, made while serve runs, is seen by the next request.
    env.ok(&["privilege", "add", "--from-use"]);
    assert_eq!(version(&env), 2);
    assert_eq!(server.bearer("/verify?acl=deploy", &token).status, 200);
    let typo = server.bearer("/verify?acl=dpeloy", &token);
    assert_eq!(typo.status, 400, "{}", typo.body);
    assert_eq!(server.bearer("/verify?acl=read,dpeloy", &token).status, 400);
    // `all` beside a typo does not hide it.
    assert_eq!(server.bearer("/verify?acl=all,dpeloy", &token).status, 400);
    // Without a token too: the proxy's query is wrong whoever asks.
    assert_eq!(server.get("/verify?acl=dpeloy", None).status, 400);
    assert_eq!(server.bearer("/verify?acl=all", &token).status, 403);
    assert_eq!(server.bearer("/verify", &token).status, 200);

    env.ok(&["privilege", "add", "dpeloy", "--description", "A real one"]);
    assert_eq!(server.bearer("/verify?acl=dpeloy", &token).status, 403);
    env.ok(&["privilege", "remove", "dpeloy"]);
    assert_eq!(server.bearer("/verify?acl=dpeloy", &token).status, 400);
}

/// verify's outcomes are its own (tokenctl-token-verify(1)): a privilege
/// outside the catalogue is one the token does not grant, `forbidden`,
/// where serve answers the proxy's wrong query with 400.
#[rstest]
fn verify_answers_forbidden_for_an_acl_outside_the_catalogue(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    let token = env.create("ci", &["--acl", "deploy"]);
    env.ok(&["privilege", "add", "--from-use"]);
    let out = env.verify(&token, &["--acl", "dpeloy"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("forbidden"),
        "{out:?}"
    );
    assert!(env.verify(&token, &["--acl", "deploy"]).status.success());
}

#[rstest]
fn backup_and_restore_carry_the_catalogue(#[values(Sqlite, Postgres)] backend: Backend) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bot", "--acl", "read"]);
    env.ok(&["privilege", "add", "--from-use"]);
    env.ok(&["privilege", "add", "deploy", "--description", "Deploy"]);
    let catalogue = env.json(&["privilege", "list"]);
    let backup = env.dir.path().join("backup.db");
    env.ok(&["db", "backup", backup.to_str().unwrap()]);
    env.ok(&["privilege", "remove", "deploy"]);
    env.ok(&["db", "restore", backup.to_str().unwrap(), "--yes"]);
    assert_eq!(env.json(&["privilege", "list"]), catalogue);
    env.ok(&["db", "check"]);

    // Into a store of version 1 (of either kind): it is brought up to
    // date, and holds the backup's catalogue.
    let Some(old) = TestEnv::on(backend) else {
        return;
    };
    old.create("theirs", &[]);
    as_version_1(&old);
    old.ok(&["db", "restore", backup.to_str().unwrap(), "--yes"]);
    assert_eq!(version(&old), 2);
    assert_eq!(old.json(&["privilege", "list"]), catalogue);
    old.fails(&["account", "add", "x", "--acl", "raed"], 2);

    // A backup of a version-1 store restores with an empty catalogue.
    as_version_1(&old);
    let old_backup = env.dir.path().join("old.db");
    old.ok(&["db", "backup", old_backup.to_str().unwrap()]);
    env.ok(&["db", "restore", old_backup.to_str().unwrap(), "--yes"]);
    assert_eq!(env.json(&["privilege", "list"]), json!([]));
    env.ok(&["db", "check"]);
}

#[rstest]
fn copy_carries_the_catalogue_from_a_store_of_either_version(
    #[values(Sqlite, Postgres)] backend: Backend,
) {
    let Some(env) = TestEnv::on(backend) else {
        return;
    };
    env.ok(&["account", "add", "bot", "--acl", "read"]);
    env.ok(&["privilege", "add", "--from-use"]);
    env.ok(&[
        "privilege",
        "add",
        "read",
        "--description",
        "Read",
        "--force",
    ]);
    let catalogue = env.json(&["privilege", "list"]);
    let mut to = TestEnv::new();
    to.db = env.dir.path().join("copy.db");
    let out = env.json(&["db", "copy", "--to", to.db.to_str().unwrap()]);
    assert_eq!(out["accounts"], 2, "{out}");
    assert_eq!(to.json(&["privilege", "list"]), catalogue);
    to.fails(&["account", "add", "x", "--acl", "raed"], 2);

    as_version_1(&env);
    let mut to = TestEnv::new();
    to.db = env.dir.path().join("copy-of-old.db");
    env.ok(&["db", "copy", "--to", to.db.to_str().unwrap()]);
    assert_eq!(to.json(&["privilege", "list"]), json!([]));
    assert_eq!(version(&to), 2);
}

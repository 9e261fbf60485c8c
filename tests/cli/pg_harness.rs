//! The PostgreSQL test harness itself (`common::pg`): what the tests that
//! run on PostgreSQL rely on.

use crate::common::pg::{self, Server, with_database};

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn each_test_gets_its_own_reachable_database() {
    let Some(one) = pg::database() else {
        return;
    };
    let two = pg::database().expect("the server is up");
    assert_ne!(one.name, two.name);
    assert_ne!(one.url, two.url);
    for db in [&one, &two] {
        assert_eq!(stdout(&db.psql("select 1")), "1", "{}", db.url);
        assert_eq!(stdout(&db.psql("select current_database()")), db.name);
    }
    stdout(&one.psql("create table only_in_one (x int)"));
    let seen = "select count(*) from pg_tables where tablename = 'only_in_one'";
    assert_eq!(stdout(&one.psql(seen)), "1");
    assert_eq!(stdout(&two.psql(seen)), "0");

    if let Some(Server::Throwaway(cluster)) = pg::server() {
        eprintln!(
            "note: PostgreSQL cluster started in {} ms; databases created in {} ms and {} ms",
            cluster.started_in.as_millis(),
            one.created_in.as_millis(),
            two.created_in.as_millis()
        );
    }
}

#[test]
fn the_url_needs_no_password() {
    let Some(Server::Throwaway(_)) = pg::server() else {
        // An existing server's URL is the developer's, password and all.
        return;
    };
    let db = pg::database().expect("the server is up");
    let authority = db
        .url
        .strip_prefix("postgres://")
        .and_then(|rest| rest.split_once('@'))
        .map(|(user, _)| user)
        .expect("postgres://USER@...");
    assert_eq!(authority, pg::SUPERUSER, "{}", db.url);
    // psql given nothing but the URL: no password variable, no password
    // file, no terminal to ask on.
    let out = std::process::Command::new(pg::server().unwrap().psql_bin())
        .env_clear()
        .env("PGPASSFILE", "/dev/null")
        .args(["-X", "-w", "-At", &db.url, "-c", "select 1"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run psql");
    assert_eq!(stdout(&out), "1");
}

#[test]
fn the_cluster_never_runs_as_root() {
    let Some(Server::Throwaway(cluster)) = pg::server() else {
        return;
    };
    let status = std::fs::read_to_string(format!("/proc/{}/status", cluster.pid()))
        .expect("server's /proc status");
    let uid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .expect("Uid line");
    let ours = unsafe { libc::geteuid() };
    if ours == 0 {
        assert_ne!(uid, 0, "the server runs as root");
        assert_eq!(cluster.os_user, "postgres");
    } else {
        assert_eq!(uid, ours, "the server runs as the suite's user");
    }
    let data = std::fs::metadata(&cluster.data).expect("data folder");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&data), uid);
}

#[test]
fn an_existing_server_url_gets_the_test_database() {
    assert_eq!(
        with_database(
            "postgres://me:pw@db.example:5433/postgres?sslmode=require",
            "t1"
        ),
        "postgres://me:pw@db.example:5433/t1?sslmode=require"
    );
    assert_eq!(
        with_database("postgresql://me@/?host=/run/postgresql", "t1"),
        "postgresql://me@/t1?host=/run/postgresql"
    );
    assert_eq!(
        with_database("postgres://db.example", "t1"),
        "postgres://db.example/t1"
    );
}

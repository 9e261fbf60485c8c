#!/usr/bin/env bash
# Small commands on PostgreSQL: each a new connection, or through a pooler.
#
#   bash bench/pooler.sh            # from any folder; prints a Markdown section
#
# Every tokenctl command opens a connection of its own, so on PostgreSQL
# the server starts a process for it, which then loads its catalog caches
# and reads each table's metadata the first time it touches it. This
# script measures how much of a small command that is, in one sitting on
# one store of BENCH_COUNT tokens (examples/seed.rs; copied into
# PostgreSQL with `tokenctl db copy`, as bench/run.sh does): hyperfine
# medians (`-N`, no shell) of
#
#   token revoke NAME --yes, token edit NAME --note x --add-acl deploy,
#   token create NAME, token verify (the seed's probe token), token show NAME
#
# each on SQLite (for reference), on PostgreSQL directly (its Unix socket)
# and on PostgreSQL through PgBouncer in session mode on this machine
# (its own Unix socket in a temp folder, no TCP, `auth_type = trust`, no
# admin console, one server connection per database), with the three
# stores of one command measured back to back so they see the same load.
# Then the raw argon2id cost in the same sitting (examples/argon2_cost), so
# that create and verify read as "argon2 + N ms", and the server's own
# floor: pgbench (a C client, no tokenctl) sending the statements a revoke
# sends, each transaction a new connection (`-C`) and all on one.
#
# Commands that change the store run on a fresh clone each time
# (`--prepare`, untimed): the clone is dropped `WITH (FORCE)`, which also
# ends PgBouncer's server connection to it, so the prepare step then WARMS
# the pool with one command of the same kind on another token (revoke
# and edit bench-000002, create bench-warm; the timed commands use
# bench-000001 and bench-new, never touched by the warm-up) through the
# same path as the timed command, and checkpoints: a production pool is
# warm, and without this every pooled run would pay a new server process.
# SQLite and direct PostgreSQL get the same warm-up, so all three see the
# same store. verify and show run on one copy that is not reset, after
# hyperfine's warm-up runs.
#
# Needs PostgreSQL's server binaries and pgbench (Debian: postgresql-15;
# bench/pg.sh starts a throwaway cluster) and PgBouncer (Debian package
# `pgbouncer`; its own service need not run: the script starts an
# instance of its own and stops it on exit). Installs hyperfine (Debian
# package) when missing. Runs as root or not (as root, PostgreSQL and
# PgBouncer run as the OS user `postgres`). About 3 minutes on 2 cores,
# plus the build. Everything lives in temp folders, removed on exit.
#
# Knobs (environment):
#   BENCH_COUNT=1000         tokens in the store
#   BENCH_RUNS=20            hyperfine --runs per command and store
#   BENCH_ARGON2_RUNS=20     runs of the in-process argon2 measure
#   BENCH_PGBENCH_TX=300     pgbench transactions per floor measure (each
#                            revokes a token of its own: below BENCH_COUNT)
#   BENCH_NOTE="..."         a line added to the section as is
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

COUNT=${BENCH_COUNT:-1000}
RUNS=${BENCH_RUNS:-20}
ARGON2_RUNS=${BENCH_ARGON2_RUNS:-20}
PGBENCH_TX=${BENCH_PGBENCH_TX:-300}
WARMUP=2
BOUNCER_PORT=6432
STORES=(sqlite direct pooler)
COMMANDS=(revoke edit create verify show)

started=$(date +%s)
say() { printf '\n== %s\n' "$*" >&2; }

for knob in COUNT RUNS ARGON2_RUNS PGBENCH_TX; do
    case ${!knob} in '' | *[!0-9]* | 0)
        echo "error: BENCH_$knob must be a whole number above 0, not '${!knob}'" >&2
        exit 2
        ;;
    esac
done
if [ "$PGBENCH_TX" -ge "$COUNT" ]; then
    echo "error: BENCH_PGBENCH_TX ($PGBENCH_TX) must be below BENCH_COUNT ($COUNT):" \
        "each pgbench transaction revokes a token of its own" >&2
    exit 2
fi

# --- tools -----------------------------------------------------------------

PGBOUNCER=$(command -v pgbouncer || true)
if [ -z "$PGBOUNCER" ] && [ -x /usr/sbin/pgbouncer ]; then PGBOUNCER=/usr/sbin/pgbouncer; fi
if [ -z "$PGBOUNCER" ]; then
    echo "error: pgbouncer is not installed (Debian: apt-get install pgbouncer)" >&2
    exit 1
fi
# shellcheck source=bench/pg.sh
. "$ROOT/bench/pg.sh"
if ! pg_find || [ ! -x "$PG_BIN/pgbench" ]; then
    echo "error: PostgreSQL is not installed (initdb, postgres, pg_ctl, psql and pgbench under" \
        "/usr/lib/postgresql/*/bin; Debian: postgresql-15, see README \"Tests\")" >&2
    exit 1
fi

if ! command -v hyperfine >/dev/null 2>&1; then
    say "installing hyperfine (Debian package)"
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq hyperfine >/dev/null
fi

say "building (release)"
# Two steps, as in bench/run.sh: alone, the binary is exactly what
# `cargo build --release` ships.
cargo build --release --locked --example seed --example argon2_cost
cargo build --release --locked --bin tokenctl
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
BIN=$TARGET/release/tokenctl
SEED=$TARGET/release/examples/seed
ARGON2=$TARGET/release/examples/argon2_cost
for f in "$BIN" "$SEED" "$ARGON2"; do
    [ -x "$f" ] || { echo "error: $f was not built" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokenctl-pooler-bench.XXXXXX")
BOUNCER_PID=
cleanup() {
    # PgBouncer first: its folder is inside the cluster's, which pg_stop removes.
    if [ -n "$BOUNCER_PID" ]; then
        kill "$BOUNCER_PID" 2>/dev/null || true
        wait "$BOUNCER_PID" 2>/dev/null || true
    fi
    pg_stop
    rm -rf "$TMP"
}
trap cleanup EXIT
# Interrupted, still clean up (PostgreSQL and PgBouncer are daemons).
trap 'exit 130' INT
trap 'exit 143' TERM

# Only what the benchmark sets: no stray TOKENCTL_* from the caller.
unset TOKENCTL_DB TOKENCTL_USER TOKENCTL_OUTPUT TOKENCTL_TOKEN
export USER=alice NO_COLOR=1

# --- stores ------------------------------------------------------------------

say "starting a throwaway PostgreSQL"
pg_start
PG_SETTINGS=$(pg_sql postgres "SELECT string_agg(name || ' ' || current_setting(name),
    ', ' ORDER BY name) FROM pg_settings WHERE name IN
    ('fsync', 'synchronous_commit', 'shared_buffers')")
pg_reset_script "$TMP/pg-reset" force

say "seeding $COUNT tokens, copying them into PostgreSQL (db copy)"
probe=$("$SEED" --db "$TMP/seed.db" --count "$COUNT")
pg_load "$TMP/seed.db" seed "$BIN"
"$TMP/pg-reset" seed work

cat >"$TMP/sqlite-reset" <<'EOF'
#!/bin/sh
set -e
rm -f "$2" "$2-wal" "$2-shm"
cp "$1" "$2"
sync "$2"
EOF
chmod +x "$TMP/sqlite-reset"
"$TMP/sqlite-reset" "$TMP/seed.db" "$TMP/work.db"

# PgBouncer in the cluster's folder (the `postgres` user's when run as
# root), on a Unix socket there only; every database name goes to the
# same database on the cluster's socket.
BOUNCER_DIR=$PG_DIR/pgbouncer
mkdir -m 700 "$BOUNCER_DIR"
cat >"$BOUNCER_DIR/pgbouncer.ini" <<EOF
[databases]
* = host=$PG_DIR port=${PGPORT:-5432}

[pgbouncer]
listen_addr =
listen_port = $BOUNCER_PORT
unix_socket_dir = $BOUNCER_DIR
unix_socket_mode = 0700
auth_type = trust
auth_file = $BOUNCER_DIR/userlist.txt
admin_users =
stats_users =
pool_mode = session
default_pool_size = 1
max_client_conn = 20
logfile = $BOUNCER_DIR/pgbouncer.log
EOF
echo '"postgres" ""' >"$BOUNCER_DIR/userlist.txt"
if [ ${#PG_AS[@]} -gt 0 ]; then chown -R postgres:postgres "$BOUNCER_DIR"; fi
say "starting PgBouncer (session mode)"
(cd "$BOUNCER_DIR" && exec "${PG_AS[@]}" "$PGBOUNCER" -q "$BOUNCER_DIR/pgbouncer.ini") &
BOUNCER_PID=$!
for _ in $(seq 100); do
    [ -S "$BOUNCER_DIR/.s.PGSQL.$BOUNCER_PORT" ] && break
    kill -0 "$BOUNCER_PID" 2>/dev/null || break
    sleep 0.1
done
if [ ! -S "$BOUNCER_DIR/.s.PGSQL.$BOUNCER_PORT" ]; then
    cat "$BOUNCER_DIR/pgbouncer.log" >&2 2>/dev/null || true
    echo "error: PgBouncer did not start (its log is above)" >&2
    exit 1
fi
BOUNCER_VERSION=$("$PGBOUNCER" --version | awk 'NR == 1 {print $2}')
pooled_url() { printf 'postgres://postgres@/%s?host=%s&port=%s' "$1" "$BOUNCER_DIR" "$BOUNCER_PORT"; }

# The store of $1 (sqlite, direct, pooler) for database or file $2.
store_db() {
    case $1 in
    sqlite) echo "$TMP/$2.db" ;;
    direct) pg_url "$2" ;;
    pooler) pooled_url "$2" ;;
    esac
}
store_name() {
    case $1 in
    sqlite) echo SQLite ;;
    direct) echo "PostgreSQL direct" ;;
    pooler) echo "PostgreSQL via PgBouncer" ;;
    esac
}

# The prepare steps: a fresh clone, then the warm-up command ($3...)
# through TOKENCTL_DB (the timed command's own path), then a flush, so the
# timed command pays for its own writes only.
cat >"$TMP/prepare-pg" <<EOF
#!/bin/sh
set -e
"$TMP/pg-reset" "\$1" "\$2"
shift 2
"\$@" >/dev/null
PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 \\
    -h "$PG_DIR" -U postgres -d postgres -c CHECKPOINT >/dev/null
EOF
cat >"$TMP/prepare-sqlite" <<EOF
#!/bin/sh
set -e
"$TMP/sqlite-reset" "\$1" "\$2"
run=\$2
shift 2
"\$@" >/dev/null
for f in "\$run" "\$run-wal"; do if [ -f "\$f" ]; then sync "\$f"; fi; done
EOF
chmod +x "$TMP/prepare-pg" "$TMP/prepare-sqlite"

# Shell-words quoting for hyperfine -N (paths may hold spaces).
q() { printf "'%s'" "$1"; }
# What command $1 runs on store $2: sets db, prepare (and warm, its
# warm-up) and line.
command_for() {
    local cmd=$1 store=$2 seed run
    prepare=()
    warm=()
    db=$(store_db "$store" work)
    case $store in
    sqlite) seed=$TMP/seed.db run=$TMP/run.db ;;
    *) seed=seed run=run ;;
    esac
    case $cmd in
    revoke)
        warm=("$BIN" token revoke bench-000002 --yes)
        line="$(q "$BIN") token revoke bench-000001 --yes"
        ;;
    edit)
        warm=("$BIN" token edit bench-000002 --note warm --add-acl deploy)
        line="$(q "$BIN") token edit bench-000001 --note x --add-acl deploy"
        ;;
    create)
        warm=("$BIN" token create bench-warm)
        line="$(q "$BIN") token create bench-new"
        ;;
    verify)
        # Every run records Last Used; the untimed sleep makes each run
        # write a new value, as in bench/run.sh.
        prepare=(--prepare "sleep 1")
        line="$(q "$BIN") token verify"
        ;;
    show)
        line="$(q "$BIN") token show bench-000003"
        ;;
    esac
    if [ ${#warm[@]} -gt 0 ]; then
        local kind=pg w
        if [ "$store" = sqlite ]; then kind=sqlite; fi
        db=$(store_db "$store" run)
        prepare_line="$(q "$TMP/prepare-$kind") $(q "$seed") $(q "$run")"
        for w in "${warm[@]}"; do prepare_line="$prepare_line $(q "$w")"; done
        prepare=(--prepare "$prepare_line")
        prepare_argv=("$TMP/prepare-$kind" "$seed" "$run" "${warm[@]}")
    fi
}

# The timed commands must succeed for the right reason, on every path,
# and the warm-up must leave the measured token as the seed made it.
say "checking every path"
token_state() { TOKENCTL_DB=$1 "$BIN" token show bench-000001 -o json; }
before=$(token_state "$(store_db sqlite work)")
for store in "${STORES[@]}"; do
    work=$(store_db "$store" work)
    TOKENCTL_DB=$work TOKENCTL_TOKEN=$probe "$BIN" token verify >/dev/null
    listed=$(TOKENCTL_DB=$work "$BIN" token list -o json | grep -c '"id":' || true)
    if [ "$listed" -ne $((COUNT + 1)) ]; then
        echo "error: list shows $listed tokens on $(store_name "$store"), expected $((COUNT + 1))" >&2
        exit 1
    fi
    for cmd in revoke edit create; do
        command_for "$cmd" "$store"
        TOKENCTL_DB=$db "${prepare_argv[@]}"
        if [ "$(token_state "$db")" != "$before" ]; then
            echo "error: the $cmd warm-up changed bench-000001 on $(store_name "$store")" >&2
            exit 1
        fi
    done
done

# --- load from other processes -------------------------------------------------

# As in bench/run.sh: /proc/stat gives the CPU time every process used,
# this script's children and the two daemons are its own; the rest is
# other processes' share, of which steal (time the hypervisor gave to
# other guests) is counted apart.
cpu_ticks() { awk '/^cpu / {print $2+$3+$4+$6+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9, $9}' /proc/stat; }
bouncer_ticks() { sed 's/.*) //' "/proc/$BOUNCER_PID/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0; }
own_ticks() {
    echo $(($(sed 's/.*) //' "/proc/$$/stat" | awk '{print $14 + $15}') + $(pg_ticks) + $(bouncer_ticks)))
}
busy_max=0
busy_seen=""
# shellcheck disable=SC2009 # one ps gives both the names and their count
sample_busy() {
    local list n
    list=$(ps -eo comm= | grep -E '^(rustc|cc1|cc1plus|ld|ld\.lld|clang|gcc)$' |
        sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}' || true)
    n=$(ps -eo comm= | grep -cE '^(rustc|cc1|cc1plus|ld|ld\.lld|clang|gcc)$' || true)
    if [ "$n" -gt "$busy_max" ]; then busy_max=$n; busy_seen=$list; fi
}
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
read -r busy0 total0 steal0 < <(cpu_ticks)
own0=$(own_ticks)
sample_busy

# --- raw argon2 cost ---------------------------------------------------------

say "argon2id in process ($ARGON2_RUNS runs)"
"$ARGON2" --runs "$ARGON2_RUNS" | tee "$TMP/argon2.txt" >&2
hash_ms=$(awk '$1 == "hash_secret" {print $3}' "$TMP/argon2.txt")
match_ms=$(awk '$1 == "secret_matches" {print $3}' "$TMP/argon2.txt")

# --- whole-process timings ---------------------------------------------------

median_ms() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "median") c = i; next }
             NR == 2 { printf "%.1f", $c * 1000 }' "$1"
}
declare -A MED
for cmd in "${COMMANDS[@]}"; do
    for store in "${STORES[@]}"; do
        sample_busy
        command_for "$cmd" "$store"
        say "$cmd, $(store_name "$store") ($RUNS runs)"
        base=$TMP/$store-$cmd
        TOKENCTL_DB=$db TOKENCTL_TOKEN=$probe hyperfine -N \
            --warmup "$WARMUP" --runs "$RUNS" "${prepare[@]}" --time-unit millisecond \
            --command-name "$cmd on $(store_name "$store")" \
            --export-csv "$base.csv" --export-markdown "$base.md" \
            "$line" >&2
        MED[$store,$cmd]=$(median_ms "$base.csv")
    done
done

# --- the server's floor: pgbench -------------------------------------------------

# What `token revoke NAME --yes` sends (server log, log_statement = all),
# one statement per round trip as tokenctl sends them; transaction k
# revokes bench-00000k, so every one finds a live token. The UPDATE
# writes the columns' own values but revoked_at, as tokenctl writes back
# the row it read.
TOKEN_COLUMNS="t.id, t.account_id, a.name, t.name, t.secret_hash,
    t.prev_secret_hash, t.prev_valid_until, t.acls::text, t.allow_ips::text, t.note,
    t.created_at, t.expires_at, t.last_used_at, t.last_used_ip, t.disabled_at, t.revoked_at,
    a.acls::text, a.suspended"
cat >"$TMP/revoke.sql" <<EOF
\\set k :k + 1
SET search_path TO "tokenctl"\\; SET lock_timeout = '5s'\\; SELECT key, value FROM meta WHERE key IN ('application', 'schema_version');
SELECT id, name, acls::text, suspended, created_at FROM accounts WHERE name = 'alice' AND deleted_at IS NULL;
SELECT $TOKEN_COLUMNS FROM tokens t JOIN accounts a ON a.id = t.account_id
    WHERE t.account_id = 1 AND (
        (t.name = 'bench-' || lpad(':k', 6, '0') AND t.revoked_at IS NULL)
        OR (t.id = 'bench-' || lpad(':k', 6, '0') AND NOT EXISTS (SELECT 1 FROM tokens n
            WHERE n.account_id = 1 AND n.name = 'bench-' || lpad(':k', 6, '0') AND n.revoked_at IS NULL)))
\\gset tok_
START TRANSACTION;
SELECT 1 FROM meta WHERE key = 'schema_version' FOR UPDATE;
SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'bootstrapped');
SELECT id, name, acls::text, suspended, created_at FROM accounts WHERE name = 'alice' AND deleted_at IS NULL;
SELECT $TOKEN_COLUMNS FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE t.id = ':tok_id';
UPDATE tokens SET name = name, secret_hash = secret_hash, prev_secret_hash = prev_secret_hash,
    prev_valid_until = prev_valid_until, acls = acls, allow_ips = allow_ips, note = note,
    expires_at = expires_at, disabled_at = disabled_at,
    revoked_at = extract(epoch FROM clock_timestamp())::bigint
    WHERE id = ':tok_id';
INSERT INTO events (at, actor, action, account_id, account, token_id, token_name, detail)
    SELECT at, actor, action, account_id, account, token_id, token_name, detail
    FROM unnest(ARRAY[extract(epoch FROM clock_timestamp())::bigint], '{alice}'::text[],
                '{revoke}'::text[], '{1}'::bigint[], '{alice}'::text[],
                ARRAY[':tok_id'], ARRAY['bench-' || lpad(':k', 6, '0')], '{NULL}'::text[])
         WITH ORDINALITY AS e(at, actor, action, account_id, account,
                              token_id, token_name, detail, n)
    ORDER BY n;
COMMIT;
EOF
echo 'SELECT 1;' >"$TMP/select1.sql"

declare -A PGB_LAT PGB_CONN
# pgbench case $1: script $2, -C or not ($3), direct or through PgBouncer ($4).
pgbench_case() {
    local name=$1 script=$2 reconnect=$3 path=$4 out
    local to=(-h "$PG_DIR")
    if [ "$path" = pooler ]; then to=(-h "$BOUNCER_DIR" -p "$BOUNCER_PORT"); fi
    sample_busy
    if [ "$script" = revoke ]; then
        # A fresh clone; the pool warmed on bench-000000, which no
        # transaction touches (they revoke bench-000001 and on).
        "$TMP/pg-reset" seed run
        if [ "$path" = pooler ]; then
            TOKENCTL_DB=$(pooled_url run) "$BIN" token revoke bench-000000 --yes >/dev/null
        fi
        pg_sql postgres CHECKPOINT >/dev/null
    fi
    local args=(-n -t "$PGBENCH_TX" -D k=0 -f "$TMP/$script.sql" "${to[@]}" -U postgres)
    if [ "$reconnect" = 1 ]; then args+=(-C); fi
    say "pgbench $name"
    out=$(cd "$TMP" && "$PG_BIN/pgbench" "${args[@]}" run 2>&1) || {
        echo "$out" >&2
        echo "error: pgbench $name failed" >&2
        exit 1
    }
    echo "$out" | grep -E '^(latency|average connection|tps|number of (transactions actually|failed))' >&2
    if ! echo "$out" | grep -q "actually processed: $PGBENCH_TX/$PGBENCH_TX"; then
        echo "error: pgbench $name did not run all $PGBENCH_TX transactions" >&2
        exit 1
    fi
    PGB_LAT[$name]=$(echo "$out" | awk '/^latency average/ {printf "%.1f", $4}')
    PGB_CONN[$name]=$(echo "$out" | awk '/^average connection time/ {printf "%.1f", $5}')
}
pgbench_case revoke-new revoke 1 direct
pgbench_case revoke-one revoke 0 direct
pgbench_case revoke-new-pooler revoke 1 pooler
pgbench_case select1-new select1 1 direct
pgbench_case select1-new-pooler select1 1 pooler

sample_busy
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
read -r busy1 total1 steal1 < <(cpu_ticks)
own1=$(own_ticks)
others=$(awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) -v o=$((own1 - own0)) \
    'BEGIN {x = t > 0 ? 100 * (b - o) / t : 0; printf "%.0f", x < 0 ? 0 : x}')
steal=$(awk -v s=$((steal1 - steal0)) -v t=$((total1 - total0)) \
    'BEGIN {x = t > 0 ? 100 * s / t : 0; printf "%.0f", x}')
elapsed=$(($(date +%s) - started))

# --- report ------------------------------------------------------------------

minus() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a - b}'; }
below() { awk -v v="$1" -v l="$2" 'BEGIN {print (v + 0 < l + 0) ? "yes" : "no"}'; }
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit (with uncommitted changes)"; fi
label() { if [ $(($1 % 1000)) -eq 0 ]; then echo "$(($1 / 1000))k"; else echo "$1"; fi; }

# One cell: the median, and for create and verify what is left of it
# after the argon2 computation.
cell() {
    local m=${MED[$2,$1]}
    case $1 in
    create) echo "$m (argon2 + $(minus "$m" "$hash_ms"))" ;;
    verify) echo "$m (argon2 + $(minus "$m" "$match_ms"))" ;;
    *) echo "$m" ;;
    esac
}
met() {
    local m=${MED[$2,$1]}
    case $1 in
    revoke | edit) below "$m" 15 ;;
    create) below "$(minus "$m" "$hash_ms")" 15.0001 ;;
    verify) below "$(minus "$m" "$match_ms")" 15.0001 ;;
    *) echo "—" ;;
    esac
}
title() {
    case $1 in
    revoke) echo "\`token revoke NAME --yes\` (target < 15 ms)" ;;
    edit) echo "\`token edit NAME --note x --add-acl deploy\` (target < 15 ms)" ;;
    create) echo "\`token create NAME\` (target argon2 + 15 ms)" ;;
    verify) echo "\`token verify\` (target argon2 + 15 ms)" ;;
    show) echo "\`token show NAME\` (no target)" ;;
    esac
}

say "report"
echo "## $(date -u '+%Y-%m-%d %H:%M') UTC: each command a new connection, or through a pooler"
echo
echo "Generated by \`bench/pooler.sh\` in one sitting (${elapsed} s)."
echo
echo "- Commit: $commit"
echo "- Machine: $(nproc) cores ($cpu), $mem, $(uname -sr)"
echo "- PostgreSQL $PG_VERSION on this machine (bench/pg.sh: a throwaway cluster, Unix socket," \
    "default settings: $PG_SETTINGS); PgBouncer $BOUNCER_VERSION in session mode on its own Unix" \
    "socket, one server connection per database, \`server_reset_query\` \`DISCARD ALL\` (its default)"
echo "- Store: $(label "$COUNT") tokens (examples/seed.rs), copied into PostgreSQL with \`tokenctl db copy\`"
echo "- hyperfine $(hyperfine --version | awk '{print $2}'), \`-N\` (no shell), --warmup $WARMUP, --runs $RUNS; medians in ms"
echo "- Load average (1/5/15 min): $load_start at start, $load_end at end; other processes used" \
    "${others}% of the machine's CPU while it was measuring, steal (other guests) ${steal}%"
if [ "$others" -ge 10 ] || [ "$busy_max" -gt 0 ] || [ "$steal" -ge 5 ]; then
    echo
    printf '> **Shared machine:** other processes used %s%% of the CPU (steal %s%%)' "$others" "$steal"
    if [ "$busy_max" -gt 0 ]; then printf '; compilers seen at worst: %s' "$busy_seen"; fi
    echo ". Compare the three stores of a row with each other (measured back to back), not with other runs."
fi
if [ -n "${BENCH_NOTE:-}" ]; then
    echo
    echo "> $BENCH_NOTE"
fi
echo
echo "argon2id alone, in process (\`examples/argon2_cost --runs $ARGON2_RUNS\`): hash $hash_ms ms" \
    "(paid by create), verify $match_ms ms (paid by verify)."
echo
echo "| command | SQLite | PostgreSQL direct | PostgreSQL via PgBouncer (session) | target met direct? | met via pooler? |"
echo "|---|---:|---:|---:|---|---|"
for cmd in "${COMMANDS[@]}"; do
    echo "| $(title "$cmd") | $(cell "$cmd" sqlite) | $(cell "$cmd" direct) | $(cell "$cmd" pooler) |" \
        "$(met "$cmd" direct) | $(met "$cmd" pooler) |"
done
echo
echo "The server's floor, measured with pgbench (a C client: no tokenctl, no Rust), $PGBENCH_TX"
echo "transactions of the statements \`token revoke\` sends (11 round trips: the session's settings"
echo "and meta rows, the account, the token, then \`START TRANSACTION\`, the writers' lock, the"
echo "bootstrap flag, the account, the token, \`UPDATE\`, the event, \`COMMIT\`), one client:"
echo
echo "- each transaction a new connection (\`pgbench -C\`), direct: ${PGB_LAT[revoke-new]} ms per" \
    "transaction, of which ${PGB_CONN[revoke-new]} ms connecting"
echo "- all on one connection, direct: ${PGB_LAT[revoke-one]} ms per transaction"
echo "- each a new connection to PgBouncer (\`-C\`): ${PGB_LAT[revoke-new-pooler]} ms per transaction," \
    "of which ${PGB_CONN[revoke-new-pooler]} ms connecting"
echo "- \`SELECT 1\` with \`-C\`: ${PGB_LAT[select1-new]} ms direct (${PGB_CONN[select1-new]} ms connecting)," \
    "${PGB_LAT[select1-new-pooler]} ms through PgBouncer (${PGB_CONN[select1-new-pooler]} ms connecting)"
echo
echo "How it is measured: revoke, edit and create run on a fresh clone of the seeded"
echo "store each time (\`--prepare\`, untimed), which then gets one warm-up command of"
echo "the same kind on another token (revoke and edit bench-000002, create bench-warm;"
echo "the timed ones use bench-000001 and bench-new) through the timed command's own"
echo "path, and a checkpoint: the clone is dropped \`WITH (FORCE)\`, which ends"
echo "PgBouncer's server connection, and a production pool is warm. SQLite and direct"
echo "PostgreSQL get the same warm-up, so the three see the same store. verify (the"
echo "probe token, an untimed \`sleep 1\` before each run so each writes Last Used) and"
echo "show (bench-000003) run on one copy, after $WARMUP untimed runs."
echo
echo "<details><summary>hyperfine detail</summary>"
echo
first=1
for cmd in "${COMMANDS[@]}"; do
    for store in "${STORES[@]}"; do
        if [ $first -eq 1 ]; then cat "$TMP/$store-$cmd.md"; first=0; else tail -n +3 "$TMP/$store-$cmd.md"; fi
    done
done
echo
echo "</details>"

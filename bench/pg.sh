# shellcheck shell=bash
# A throwaway PostgreSQL cluster for the benchmarks; sourced by
# bench/run.sh and bench/serve.sh (not run on its own).
#
# pg_start makes a cluster in a temp folder of its own with the newest
# server under /usr/lib/postgresql/*/bin, started with its default
# settings (fsync on, synchronous_commit on: every commit waits for its
# WAL flush, as every SQLite commit here is an fsync), on a Unix socket in
# that folder only (no TCP), as the OS user `postgres` when the script
# runs as root (PostgreSQL refuses root), as tests/cli/common/pg.rs does.
# pg_stop stops it and removes the folder; the caller's EXIT trap calls it.
#
# A store is a database of its own, filled with `tokenctl db copy` from a
# seeded SQLite store (the supported way into PostgreSQL), then vacuumed,
# frozen and analysed, as autovacuum would have left a store in use. Each
# timed run of a command that changes the store gets a fresh clone of it
# (`CREATE DATABASE .. TEMPLATE`, untimed, checkpointed).

PG_BIN=
PG_DIR=
PG_VERSION=
PG_AS=()

# The bin folder of the newest PostgreSQL with server binaries.
pg_find() {
    local d
    PG_BIN=
    # sort -V: 9.6 before 15 before 16.
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
        if [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; then
            PG_BIN=$d
        fi
    done
    [ -n "$PG_BIN" ]
}

pg_start() {
    if ! pg_find; then
        echo "error: PostgreSQL is not installed (initdb, postgres, pg_ctl and psql under" \
            "/usr/lib/postgresql/*/bin; Debian: postgresql-15, see README \"Tests\")," \
            "or leave it out with BENCH_BACKENDS=sqlite" >&2
        return 1
    fi
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tokenctl-bench-pg.XXXXXX")
    case $PG_DIR in *[!A-Za-z0-9/._-]*)
        echo "error: temp folder $PG_DIR has unusual characters (it goes into a URL)" >&2
        return 1
        ;;
    esac
    PG_AS=()
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || {
            echo "error: running as root and there is no postgres user to run PostgreSQL as" >&2
            return 1
        }
        chown postgres:postgres "$PG_DIR"
        PG_AS=(setpriv --reuid=postgres --regid=postgres --init-groups)
    fi
    # From the folder itself: the server's user may not enter the caller's.
    # --no-sync only skips flushing the new cluster's files once; the
    # server keeps its default durability settings.
    (cd "$PG_DIR" && "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C --no-sync --no-instructions >"$PG_DIR/initdb.log" 2>&1) || {
        cat "$PG_DIR/initdb.log" >&2
        return 1
    }
    (cd "$PG_DIR" && "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" \
        -o "-k $PG_DIR -c listen_addresses= -c unix_socket_permissions=0700" \
        -w -t 120 start >/dev/null) || {
        cat "$PG_DIR/server.log" >&2
        return 1
    }
    PG_VERSION=$(pg_sql postgres "SHOW server_version" | awk '{print $1}')
}

pg_stop() {
    if [ -n "$PG_DIR" ] && [ -d "$PG_DIR" ]; then
        if [ -f "$PG_DIR/data/postmaster.pid" ]; then
            # Thrown away: no need for a clean shutdown.
            (cd "$PG_DIR" && "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate \
                -w stop >/dev/null 2>&1) || true
        fi
        rm -rf "$PG_DIR"
    fi
    PG_DIR=
}

# The URL of database $1: the superuser over the socket, no password.
pg_url() { printf 'postgres://postgres@/%s?host=%s' "$1" "$PG_DIR"; }

# psql on database $1 with the SQL in $2: bare rows, stop on error.
pg_sql() {
    PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
        -h "$PG_DIR" -U postgres -d "$1" -c "$2"
}

# Database $2 holding a copy of the SQLite store $1 (tokenctl binary $3).
pg_load() {
    pg_sql postgres "DROP DATABASE IF EXISTS \"$2\"" >/dev/null
    pg_sql postgres "CREATE DATABASE \"$2\"" >/dev/null
    "$3" --db "$1" db copy --to "$(pg_url "$2")" >/dev/null
    pg_sql "$2" "VACUUM (FREEZE, ANALYZE)" >/dev/null
    pg_sql postgres "CHECKPOINT" >/dev/null
}

# The size of database $1 in bytes.
pg_bytes() { pg_sql postgres "SELECT pg_database_size('$1')"; }

# Writes an executable script to $1 that, given SEED and RUN, replaces
# database RUN with a fresh clone of database SEED: for hyperfine's --prepare, which runs without a
# shell (-N), hence a file. The clone is a file copy, checkpointed so that
# the timed command does not pay for flushing it, and connected to once
# (each new database builds its catalog cache on the first connection).
# With `force` as $2, RUN is dropped `WITH (FORCE)`: the server ends the
# sessions a pooler keeps open to it (PostgreSQL 13 and later).
pg_reset_script() {
    local strategy='' force=''
    # A file copy (PostgreSQL 15 and later; earlier ones always copy files).
    if [ "${PG_VERSION%%.*}" -ge 15 ]; then strategy="STRATEGY FILE_COPY"; fi
    if [ "${2:-}" = force ]; then force=" WITH (FORCE)"; fi
    cat >"$1" <<EOF
#!/bin/sh
set -e
psql() { PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_DIR" -U postgres "\$@" >/dev/null; }
psql -d postgres -c "DROP DATABASE IF EXISTS \"\$2\"$force"
psql -d postgres -c "CREATE DATABASE \"\$2\" TEMPLATE \"\$1\" $strategy"
psql -d "\$2" -c "SELECT count(*) FROM tokenctl.tokens"
psql -d postgres -c "CHECKPOINT"
EOF
    chmod +x "$1"
}

# CPU time (user + system, in clock ticks) the cluster has used so far:
# the postmaster, its live children (the backends serving tokenctl's
# connections, the WAL writer, the checkpointer...) and the children it
# has reaped. 0 when no cluster runs. The scripts count it as their own
# when they say how much CPU other processes took.
pg_ticks() {
    local pm p
    if [ -z "$PG_DIR" ] || [ ! -f "$PG_DIR/data/postmaster.pid" ]; then
        echo 0
        return
    fi
    pm=$(head -n 1 "$PG_DIR/data/postmaster.pid")
    for p in $pm $(ps -o pid= --ppid "$pm"); do
        sed 's/.*) //' "/proc/$p/stat" 2>/dev/null || true
    done | awk '{s += $12 + $13 + $14 + $15} END {print s + 0}'
}

# The same in seconds.
pg_cpu() { awk -v t="$(pg_ticks)" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}'; }

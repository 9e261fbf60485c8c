#!/usr/bin/env bash
# HTTP benchmark of `tokenctl serve` with wrk.
#
#   bash bench/serve.sh            # from any folder; writes bench/SERVE.md
#
# Installs wrk (Debian package `wrk`) when missing, builds the release
# binary and examples/seed.rs, seeds a store (one verifiable token,
# `bench-probe`, plus SERVE_COUNT tokens whose secrets nobody knows), starts
# `target/release/tokenctl serve` on a loopback port and runs wrk
# (`--latency`, SERVE_CONNS connections, SERVE_DURATION each) against it:
#
#   a. valid     the probe token, cached after the first request
#   b. junk      malformed tokens (right shape, wrong checksum), one per request
#   c1. wrong-1  wrong secrets (valid checksums) for the probe's id: the id
#                cools down after 10 failures, then costs no argon2
#   c2. wrong-N  wrong secrets spread over every seeded id: each one pays
#                argon2 (no id fails often enough to cool down), so this is
#                the argon2-bound worst case, with 503 beyond the queue
#   d. valid+flood  the valid client (a) while a second wrk floods (c2) at
#                the same time: the valid client's p99 is the figure
#
# Each case runs on each store in turn, SQLite then PostgreSQL (a
# throwaway cluster on this machine, bench/pg.sh, filled from the seeded
# SQLite store with `tokenctl db copy`), so the two see the same load from
# the rest of the machine. Each run gets a fresh server (fresh cache,
# counters and cool-downs); its /metrics after the run are summarised in
# the report. The server's per-request log goes to a file in the temp
# folder, as it would to a journal. Everything lives in temp folders,
# removed on exit, the PostgreSQL cluster with them. About 3 minutes on 2
# cores (1.5 with SERVE_BACKENDS=sqlite), plus the build.
#
# Knobs (environment):
#   SERVE_BACKENDS="sqlite postgres"   stores to serve from, side by side
#   SERVE_DURATION=10      seconds per wrk run
#   SERVE_CONNS=64         connections per wrk run
#   SERVE_THREADS=2        wrk threads (1 each for the two clients of case d)
#   SERVE_COUNT=10000      seeded tokens (the wrong-N case spreads over them)
#   SERVE_CASES="a b c1 c2 d"   which cases to run
#   SERVE_BIN=path         measure this tokenctl binary instead of building
#                          one (to compare builds)
#   BENCH_NOTE="..."       a line added to the report as is
#   BENCH_OUT=path         where to write the report (default bench/SERVE.md)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${SERVE_DURATION:-10}
CONNS=${SERVE_CONNS:-64}
THREADS=${SERVE_THREADS:-2}
COUNT=${SERVE_COUNT:-10000}
CASES=${SERVE_CASES:-"a b c1 c2 d"}
BACKENDS=${SERVE_BACKENDS:-"sqlite postgres"}
OUT=${BENCH_OUT:-$ROOT/bench/SERVE.md}

started=$(date +%s)
say() { printf '\n== %s\n' "$*" >&2; }

for b in $BACKENDS; do
    case $b in
    sqlite | postgres) ;;
    *)
        echo "error: SERVE_BACKENDS: unknown store $b (sqlite, postgres)" >&2
        exit 2
        ;;
    esac
done
has_pg=0
case " $BACKENDS " in *" postgres "*) has_pg=1 ;; esac
nb=$(echo $BACKENDS | wc -w)
store_name() { case $1 in sqlite) echo SQLite ;; postgres) echo PostgreSQL ;; esac; }
# shellcheck source=bench/pg.sh
. "$ROOT/bench/pg.sh"

# --- tools -----------------------------------------------------------------

need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
    say "installing ${need_apt[*]} (Debian packages)"
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
command -v python3 >/dev/null 2>&1 || { echo "error: python3 is needed to forge wrong-secret tokens" >&2; exit 1; }

say "building (release)"
# Two steps, as in bench/run.sh: alone, the binary is exactly what
# `cargo build --release` ships.
cargo build --release --locked --example seed
if [ -z "${SERVE_BIN:-}" ]; then cargo build --release --locked --bin tokenctl; fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
BIN=${SERVE_BIN:-$TARGET/release/tokenctl}
SEED=$TARGET/release/examples/seed
for f in "$BIN" "$SEED"; do
    [ -x "$f" ] || { echo "error: $f was not built" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokenctl-serve-bench.XXXXXX")
SERVER_PID=
FLOOD_PID=
cleanup() {
    for pid in $FLOOD_PID $SERVER_PID; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pg_stop
    rm -rf "$TMP"
}
trap cleanup EXIT
# Interrupted, still clean up (the PostgreSQL cluster is a daemon).
trap 'exit 130' INT
trap 'exit 143' TERM

unset TOKENCTL_DB TOKENCTL_USER TOKENCTL_OUTPUT TOKENCTL_TOKEN
export USER=alice NO_COLOR=1
SQLITE_DB=$TMP/store.db
export TOKENCTL_DB=$SQLITE_DB

# CPU used by other processes while measuring (as bench/run.sh).
cpu_ticks() { awk '/^cpu / {print $2+$3+$4+$6+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
# The PostgreSQL cluster, a daemon, is counted with this script's own.
own_ticks() { echo $(($(sed 's/.*) //' "/proc/$$/stat" | awk '{print $14 + $15}') + $(pg_ticks))); }

# --- store and tokens ----------------------------------------------------------

say "seeding $COUNT tokens"
probe=$("$SEED" --db "$TOKENCTL_DB" --count "$COUNT")
TOKENCTL_TOKEN=$probe "$BIN" token verify >/dev/null
declare -A STORE_OF
STORE_OF[sqlite]=$SQLITE_DB
if [ "$has_pg" -eq 1 ]; then
    say "starting a throwaway PostgreSQL"
    pg_start
    say "copying the store into PostgreSQL (db copy)"
    pg_load "$SQLITE_DB" store "$BIN"
    STORE_OF[postgres]=$(pg_url store)
    TOKENCTL_DB=${STORE_OF[postgres]} TOKENCTL_TOKEN=$probe "$BIN" token verify >/dev/null
    PG_SETTINGS=$(pg_sql postgres "SELECT string_agg(name || ' ' || current_setting(name),
        ', ' ORDER BY name) FROM pg_settings WHERE name IN
        ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections')")
fi

# Wrong secrets with valid checksums (SPEC: CRC-32/IEEE as zlib of the first
# 44 bytes, base62, 6 digits), so every one reaches the store lookup and
# argon2: 20,000 for the probe's id, and one for each seeded id.
python3 - "$TOKENCTL_DB" "$probe" "$TMP" <<'EOF'
import random, sqlite3, sys, zlib
db, probe, tmp = sys.argv[1:4]
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
rng = random.Random(9)
def token(id_):
    body = "tct_" + id_ + "".join(rng.choice(B62) for _ in range(30))
    n, sum_ = zlib.crc32(body.encode()), ""
    for _ in range(6):
        sum_, n = B62[n % 62] + sum_, n // 62
    return body + sum_
with open(f"{tmp}/wrong-1.txt", "w") as f:
    for _ in range(20000):
        f.write(token(probe[4:14]) + "\n")
ids = [r[0] for r in sqlite3.connect(db).execute(
    "SELECT id FROM tokens WHERE name != 'bench-probe' ORDER BY random()")]
with open(f"{tmp}/wrong-N.txt", "w") as f:
    for id_ in ids:
        f.write(token(id_) + "\n")
EOF

# wrk scripts. Each wrk thread has its own Lua state: `setup` numbers the
# threads so they start at different places in the list.
cat >"$TMP/tokens.lua" <<'EOF'
-- Bearer tokens from a file (the script's first argument), one per request.
local n = 0
function setup(thread) thread:set("tid", n); n = n + 1 end
function init(args)
    tokens = {}
    for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
    i = (tid or 0) * 7919
end
function request()
    i = i % #tokens + 1
    return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end
EOF
cat >"$TMP/junk.lua" <<'EOF'
-- tct_ + 46 base62 characters that change every request: the right shape,
-- a wrong checksum (malformed), refused before any store lookup.
local n = 0
function setup(thread) thread:set("tid", n); n = n + 1 end
function init(args) i = (tid or 0) * 1000000000 end
function request()
    i = i + 1
    return wrk.format(nil, nil, { ["Authorization"] = string.format("Bearer tct_%046d", i) })
end
EOF

# --- server ------------------------------------------------------------------

PORT=
start_server() {
    local log=$TMP/serve-$1.log
    : >"$log" # before the server opens it: the loop below reads it at once
    "$BIN" serve --listen 127.0.0.1:0 2>>"$log" &
    SERVER_PID=$!
    for _ in $(seq 200); do
        PORT=$(sed -n 's/^tokenctl serve: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log")
        if [ -n "$PORT" ]; then break; fi
        sleep 0.05
    done
    [ -n "$PORT" ] || { echo "error: serve did not start: $(cat "$log")" >&2; exit 1; }
    URL=http://127.0.0.1:$PORT/verify
    # Warm the cache for the valid token (one argon2 run).
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $probe" "$URL")" = 200 ] ||
        { echo "error: the probe token is refused" >&2; exit 1; }
    CPU0[$1]=$(server_cpu)
    if [ "${1%%-*}" = postgres ]; then DBCPU0[$1]=$(pg_cpu); fi
}
# CPU seconds the server process has used so far (user + system).
server_cpu() {
    sed 's/.*) //' "/proc/$SERVER_PID/stat" | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($12 + $13) / hz}'
}
stop_server() {
    curl -s "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics-$1.txt"
    CPU[$1]=$(awk -v a="$(server_cpu)" -v b="${CPU0[$1]}" 'BEGIN {printf "%.2f", a - b}')
    if [ "${1%%-*}" = postgres ]; then
        # A sample that went backwards (seen once, not explained) is not
        # reported as a figure.
        DBCPU[$1]=$(awk -v a="$(pg_cpu)" -v b="${DBCPU0[$1]}" 'BEGIN {d = a - b; if (d < 0) print "n/a"; else printf "%.2f", d}')
    fi
    kill -TERM "$SERVER_PID"
    local rc=0
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=
    [ "$rc" -eq 0 ] || { echo "error: serve exited $rc on SIGTERM" >&2; exit 1; }
    LOGLINES[$1]=$(grep -c ' /verify ' "$TMP/serve-$1.log" || true)
}

# --- measuring ---------------------------------------------------------------

# Keyed by store and case: sqlite-a, postgres-d-flood...
declare -A RPS P50 P99 REQS NON2XX ERRS LOGLINES CONNS_OF CPU CPU0 DBCPU DBCPU0
# wrk prints latencies as 812.00us, 1.23ms or 1.02s: in ms.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
        else printf "%s", v }'
}
parse_wrk() { # case file connections
    local f=$2
    RPS[$1]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$f")
    P50[$1]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$f")")
    P99[$1]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$f")")
    REQS[$1]=$(awk '/requests in/ {print $1}' "$f")
    NON2XX[$1]=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$f")
    NON2XX[$1]=${NON2XX[$1]:-0}
    ERRS[$1]=$(awk '/Socket errors:/ {sub(/^ *Socket errors: */, ""); print}' "$f")
    ERRS[$1]=${ERRS[$1]:-none}
    CONNS_OF[$1]=$3
}
wrk_run() { # case threads connections duration script-and-args...
    local name=$1 threads=$2 conns=$3 dur=$4
    shift 4
    wrk -t"$threads" -c"$conns" -d"${dur}s" --timeout 10s --latency "$@" >"$TMP/wrk-$name.txt"
    cat "$TMP/wrk-$name.txt" >&2
    parse_wrk "$name" "$TMP/wrk-$name.txt" "$conns"
}
# One line of /metrics, by series name (0 when absent).
metric() { awk -v s="$2" '$1 == s {print $2; f = 1} END {if (!f) print 0}' "$TMP/metrics-$1.txt"; }
results() { # "ok=N unknown=N ..." from /metrics
    sed -n 's/^tokenctl_requests_total{result="\([^"]*\)"} \([0-9]*\)$/\1=\2/p' "$TMP/metrics-$1.txt" |
        paste -sd' ' -
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
read -r busy0 total0 < <(cpu_ticks)
own0=$(own_ticks)
threads_d=$(((THREADS + 1) / 2))

# Each case on each store in turn, so both see the same machine.
for c in $CASES; do
    for b in $BACKENDS; do
        k=$b-$c
        export TOKENCTL_DB=${STORE_OF[$b]}
        case $c in
        a)
            say "a: cached valid token, $(store_name "$b")"
            start_server "$k"
            wrk_run "$k" "$THREADS" "$CONNS" "$DURATION" -H "Authorization: Bearer $probe" "$URL"
            stop_server "$k"
            ;;
        b)
            say "b: junk (malformed) tokens, $(store_name "$b")"
            start_server "$k"
            wrk_run "$k" "$THREADS" "$CONNS" "$DURATION" -s "$TMP/junk.lua" "$URL"
            stop_server "$k"
            ;;
        c1)
            say "c1: wrong secrets for one known id, $(store_name "$b")"
            start_server "$k"
            wrk_run "$k" "$THREADS" "$CONNS" "$DURATION" -s "$TMP/tokens.lua" "$URL" -- "$TMP/wrong-1.txt"
            stop_server "$k"
            ;;
        c2)
            say "c2: wrong secrets over $COUNT ids, $(store_name "$b")"
            start_server "$k"
            wrk_run "$k" "$THREADS" "$CONNS" "$DURATION" -s "$TMP/tokens.lua" "$URL" -- "$TMP/wrong-N.txt"
            stop_server "$k"
            ;;
        d)
            say "d: valid requests during a wrong-secret flood, $(store_name "$b")"
            start_server "$k"
            # The flood starts first and ends last, so the valid client runs
            # wholly inside it.
            wrk -t"$threads_d" -c"$CONNS" -d"$((DURATION + 4))s" --timeout 10s --latency \
                -s "$TMP/tokens.lua" "$URL" -- "$TMP/wrong-N.txt" >"$TMP/wrk-$k-flood.txt" &
            FLOOD_PID=$!
            sleep 2
            wrk_run "$k" "$threads_d" "$CONNS" "$DURATION" -H "Authorization: Bearer $probe" "$URL"
            wait "$FLOOD_PID"
            FLOOD_PID=
            cat "$TMP/wrk-$k-flood.txt" >&2
            parse_wrk "$k-flood" "$TMP/wrk-$k-flood.txt" "$CONNS"
            stop_server "$k"
            ;;
        *)
            echo "error: unknown case $c" >&2
            exit 2
            ;;
        esac
    done
done

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
read -r busy1 total1 < <(cpu_ticks)
own1=$(own_ticks)
others=$(awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) -v o=$((own1 - own0)) \
    'BEGIN {x = t > 0 ? 100 * (b - o) / t : 0; printf "%.0f", x < 0 ? 0 : x}')
elapsed=$(($(date +%s) - started))

# --- report ------------------------------------------------------------------

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit (with uncommitted changes)"; fi
meets() { # value op limit -> "yes"/"no"
    awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
        ok = (op == ">=") ? (v + 0 >= l + 0) : (v + 0 < l + 0); print (v == "" ? "n/a" : ok ? "yes" : "no") }'
}
describe() { # the case, from its key (store-case)
    case ${1#*-} in
    a) echo "a. cached valid token" ;;
    b) echo "b. junk (malformed) tokens" ;;
    c1) echo "c1. wrong secrets, one known id" ;;
    c2) echo "c2. wrong secrets, $COUNT ids" ;;
    d) echo "d. valid token, during flood" ;;
    d-flood) echo "d. the flood (c2) beside it" ;;
    esac
}
row() {
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(describe "$1")" "$(store_name "${1%%-*}")" "${CONNS_OF[$1]}" \
        "${RPS[$1]}" "${P50[$1]}" "${P99[$1]}" "${NON2XX[$1]}" "${ERRS[$1]}"
}

say "writing $OUT"
MARKER="<!-- Notes: everything from this line on is kept when bench/serve.sh rewrites the file. -->"
if [ -f "$OUT" ]; then
    awk -v m="$MARKER" '$0 == m {f = 1} f' "$OUT" >"$TMP/notes.md"
fi
{
    echo "# tokenctl serve: HTTP benchmark"
    echo
    echo "Generated by \`bench/serve.sh\`; rerun it to refresh this file."
    echo
    echo "- Date: $(date '+%Y-%m-%d %H:%M %Z')"
    echo "- Commit: $commit"
    echo "- Machine: nproc $(nproc) ($cpu), $mem, $(uname -sr)"
    echo "- Toolchain: $(rustc --version), release profile"
    echo "- Load generator: $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}'), \`--latency\`," \
        "$CONNS connections, ${DURATION} s per run, $THREADS threads ($threads_d per client in case d)," \
        "on the same machine as the server"
    echo "- Store: $COUNT seeded tokens + the probe; the server logs each request to a file"
    for b in $BACKENDS; do
        case $b in
        sqlite) echo "- SQLite: a file in a temp folder on $(df -T "$TMP" | awk 'NR == 2 {print $2}')" ;;
        postgres) echo "- PostgreSQL: $PG_VERSION on this machine, a throwaway cluster, Unix socket," \
            "default settings ($PG_SETTINGS); the store copied from the SQLite one with \`db copy\`" ;;
        esac
    done
    if [ "$nb" -gt 1 ]; then
        echo "- Each case ran on SQLite, then at once on PostgreSQL, each with a fresh server"
    fi
    echo "- Load average (1/5/15 min): $load_start at start, $load_end at end; total run ${elapsed} s"
    echo "- Other processes used ${others}% of the machine's CPU while it was measuring"
    if [ "$others" -ge 10 ]; then
        echo
        echo "> **Shared machine:** other jobs used ${others}% of the CPU during this run;" \
            "the figures are indicative only."
    fi
    if [ -n "${BENCH_NOTE:-}" ]; then
        echo
        echo "> $BENCH_NOTE"
    fi
    echo
    echo "## Figures"
    echo
    echo "Latencies in ms, from wrk's \`--latency\` distribution. Non-2xx is expected for the refusal cases."
    echo
    echo "| case | store | conns | req/s | p50 | p99 | non-2xx | socket errors |"
    echo "|---|---|---:|---:|---:|---:|---:|---|"
    for c in $CASES; do
        for b in $BACKENDS; do
            row "$b-$c"
            if [ "$c" = d ]; then row "$b-d-flood"; fi
        done
    done
    echo
    echo "## Targets (reported, not asserted)"
    echo
    echo "| target | measured | met |"
    echo "|---|---|---|"
    if [ -n "${RPS[sqlite-a]:-}" ]; then
        echo "| SQLite: cached valid token ≥ 20,000 req/s | ${RPS[sqlite-a]} req/s | $(meets "${RPS[sqlite-a]}" ">=" 20000) |"
        echo "| SQLite: cached valid token p99 < 5 ms | ${P99[sqlite-a]} ms | $(meets "${P99[sqlite-a]}" "<" 5) |"
    fi
    if [ -n "${RPS[postgres-a]:-}" ]; then
        echo "| PostgreSQL: cached valid token ≥ 10,000 req/s | ${RPS[postgres-a]} req/s | $(meets "${RPS[postgres-a]}" ">=" 10000) |"
        echo "| PostgreSQL: cached valid token p99 < 10 ms | ${P99[postgres-a]} ms | $(meets "${P99[postgres-a]}" "<" 10) |"
    fi
    if [ -n "${RPS[sqlite-a]:-}" ] && [ -n "${RPS[postgres-a]:-}" ]; then
        r=$(awk -v a="${RPS[postgres-a]}" -v b="${RPS[sqlite-a]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
        p=$(awk -v a="${P99[postgres-a]}" -v b="${P99[sqlite-a]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
        echo "| PostgreSQL / SQLite, cached valid token req/s: aim ≥ 0.6 | ${r}x (p99: ${p}x) | $(meets "$r" ">=" 0.6) |"
    fi
    for b in $BACKENDS; do
        if [ -n "${RPS[$b-d]:-}" ]; then
            echo "| $(store_name "$b"): valid p99 < 100 ms during a wrong-secret flood | ${P99[$b-d]} ms | $(meets "${P99[$b-d]}" "<" 100) |"
        fi
    done
    echo
    echo "## What the server counted (/metrics after each case)"
    echo
    echo "Server CPU: user + system seconds the serve process used from the warm-up to the"
    echo "end of the case (both clients in case d), and per request answered: a figure that"
    echo "depends less on what else the machine was running than req/s does. On PostgreSQL,"
    echo "database CPU is what the whole cluster used meanwhile (its backends, WAL writer..."
    echo "on the same 2 cores), and CPU µs/request counts both."
    echo
    echo "| case | store | results | cache hits | argon2 runs | argon2 s | cool-down refusals | log lines | server CPU s | database CPU s | CPU µs/request |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for c in $CASES; do
        for b in $BACKENDS; do
            k=$b-$c
            total=$(sed -n 's/^tokenctl_requests_total{result="[^"]*"} \([0-9]*\)$/\1/p' "$TMP/metrics-$k.txt" |
                awk '{s += $1} END {print s + 0}')
            db_cpu=${DBCPU[$k]:-}
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(describe "$k")" \
                "$(store_name "$b")" "$(results "$k")" \
                "$(metric "$k" tokenctl_cache_hits_total)" \
                "$(metric "$k" tokenctl_argon2_verifications_total)" \
                "$(metric "$k" tokenctl_argon2_seconds_total)" \
                "$(metric "$k" tokenctl_cooldown_refusals_total)" "${LOGLINES[$k]}" "${CPU[$k]}" \
                "${db_cpu:-—}" \
                "$(awk -v c="${CPU[$k]}" -v d="${db_cpu:-0}" -v n="$total" 'BEGIN {
                    if (d == "n/a") print "n/a"; else printf "%.1f", (n > 0 ? (c + d) * 1e6 / n : 0) }')"
        done
    done
    echo
    # Hand-written analysis below the marker survives a rerun.
    if [ -s "$TMP/notes.md" ]; then cat "$TMP/notes.md"; else echo "$MARKER"; fi
} >"$TMP/report.md"
mv "$TMP/report.md" "$OUT"
cat "$OUT"

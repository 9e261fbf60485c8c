#!/usr/bin/env bash
# Whole-process benchmarks of tokenctl (DESIGN.md, "Benchmarks").
#
#   bash bench/run.sh            # from any folder; writes bench/RESULTS.md
#
# Installs hyperfine (Debian package) when missing, builds the release
# binary and the seed/argon2_cost examples, measures the raw argon2id cost
# in process, then times `token create`, `token verify`, `token list`,
# `token revoke`, `token edit` and `token revoke-all --yes` as whole
# processes on stores seeded with 100, 1k, 10k and 100k tokens
# (examples/seed.rs), each size on SQLite and then on PostgreSQL: a
# throwaway cluster on this machine (bench/pg.sh), filled from the seeded
# SQLite store with `tokenctl db copy`. Takes about 10 minutes on 2 cores
# (3 to 5 with BENCH_BACKENDS=sqlite). Everything it makes lives in temp
# folders, removed on exit, the PostgreSQL cluster with them.
#
# Knobs (environment):
#   BENCH_BACKENDS="sqlite postgres"     stores to measure, side by side
#   BENCH_SIZES="100 1000 10000 100000"  store sizes, in tokens
#   BENCH_RUNS=10                    hyperfine --runs per command
#   BENCH_RUNS_LARGE=5               --runs for list and revoke-all on stores
#                                    of 100k tokens and more
#   BENCH_ARGON2_RUNS=20             runs of the in-process argon2 measure
#   BENCH_HTPASSWD=1                 0 leaves out the htpasswd comparison
#   BENCH_NOTE="..."                 a line added to RESULTS.md as is
#   BENCH_OUT=path                   where to write the report
#                                    (default bench/RESULTS.md)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SIZES=${BENCH_SIZES:-"100 1000 10000 100000"}
RUNS=${BENCH_RUNS:-10}
RUNS_LARGE=${BENCH_RUNS_LARGE:-5}
ARGON2_RUNS=${BENCH_ARGON2_RUNS:-20}
BACKENDS=${BENCH_BACKENDS:-"sqlite postgres"}
HTPASSWD=${BENCH_HTPASSWD:-1}
OUT=${BENCH_OUT:-$ROOT/bench/RESULTS.md}
LARGE=100000
WARMUP=1
COMMANDS=(create verify list list-table revoke edit revoke-all)

started=$(date +%s)
say() { printf '\n== %s\n' "$*" >&2; }

for b in $BACKENDS; do
    case $b in
    sqlite | postgres) ;;
    *)
        echo "error: BENCH_BACKENDS: unknown store $b (sqlite, postgres)" >&2
        exit 2
        ;;
    esac
done
has_pg=0
case " $BACKENDS " in *" postgres "*) has_pg=1 ;; esac
# shellcheck source=bench/pg.sh
. "$ROOT/bench/pg.sh"

# --- tools -----------------------------------------------------------------

if ! command -v hyperfine >/dev/null 2>&1; then
    say "installing hyperfine (Debian package)"
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq hyperfine >/dev/null
fi

say "building (release)"
# Two steps: built together, the binary would get the dependency features
# that dev-dependencies switch on for the examples; alone, it is exactly
# what `cargo build --release` ships.
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

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokenctl-bench.XXXXXX")
trap 'pg_stop; rm -rf "$TMP"' EXIT
# Interrupted, still clean up (the PostgreSQL cluster is a daemon).
trap 'exit 130' INT
trap 'exit 143' TERM
if [ "$has_pg" -eq 1 ]; then
    say "starting a throwaway PostgreSQL"
    pg_start
    PG_SETTINGS=$(pg_sql postgres "SELECT string_agg(name || ' ' || current_setting(name),
        ', ' ORDER BY name) FROM pg_settings WHERE name IN
        ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method',
         'shared_buffers', 'max_wal_size')")
    pg_reset_script "$TMP/pg-reset"
fi

# Only what the benchmark sets: no stray TOKENCTL_* from the caller.
unset TOKENCTL_DB TOKENCTL_USER TOKENCTL_OUTPUT TOKENCTL_TOKEN
export USER=alice NO_COLOR=1

# Restores a pristine copy of a seeded store before each timed run of a
# command that changes it. The copy is flushed to disk here, untimed, so
# the timed command's fsync does not pay for writing the whole copy.
cat >"$TMP/reset" <<'EOF'
#!/bin/sh
set -e
rm -f "$2" "$2-wal" "$2-shm"
cp "$1" "$2"
sync "$2"
EOF
chmod +x "$TMP/reset"

# Other jobs on the machine make the figures noisier; the report says so.
# /proc/stat gives the CPU time every process used during the run, and
# /proc/$$/stat the part this script's children (hyperfine, tokenctl...)
# used: the difference is everyone else's share. Compiler processes are
# also sampled by name before each phase, to say who they were.
cpu_ticks() { awk '/^cpu / {print $2+$3+$4+$6+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
# The PostgreSQL cluster, a daemon, is counted with this script's own.
own_ticks() { echo $(($(sed 's/.*) //' "/proc/$$/stat" | awk '{print $14 + $15}') + $(pg_ticks))); }
busy_max=0
busy_seen=""
sample_busy() {
    local list n
    list=$(ps -eo comm= | grep -E '^(rustc|cc1|cc1plus|ld|ld\.lld|clang|gcc)$' |
        sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}' || true)
    n=$(ps -eo comm= | grep -cE '^(rustc|cc1|cc1plus|ld|ld\.lld|clang|gcc)$' || true)
    if [ "$n" -gt "$busy_max" ]; then busy_max=$n; busy_seen=$list; fi
}
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
read -r busy0 total0 < <(cpu_ticks)
own0=$(own_ticks)
sample_busy

# --- raw argon2 cost ---------------------------------------------------------

say "argon2id in process ($ARGON2_RUNS runs)"
"$ARGON2" --runs "$ARGON2_RUNS" | tee "$TMP/argon2.txt"
hash_ms=$(awk '$1 == "hash_secret" {print $3}' "$TMP/argon2.txt")
match_ms=$(awk '$1 == "secret_matches" {print $3}' "$TMP/argon2.txt")

# --- whole-process timings ---------------------------------------------------


label() { if [ $(($1 % 1000)) -eq 0 ]; then echo "$(($1 / 1000))k"; else echo "$1"; fi; }
store_name() { case $1 in sqlite) echo SQLite ;; postgres) echo PostgreSQL ;; esac; }
# Shell-words quoting for hyperfine -N (paths may hold spaces).
q() { printf "'%s'" "$1"; }
# The median of a hyperfine CSV export, in ms.
median_ms() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "median") c = i; next }
             NR == 2 { printf "%.1f", $c * 1000 }' "$1"
}

say "tokenctl --version"
hyperfine -N --warmup 3 --runs 30 --time-unit millisecond --export-csv "$TMP/version.csv" \
    --export-markdown "$TMP/version.md" "$(q "$BIN") --version"
VERSION_MS=$(median_ms "$TMP/version.csv")

: >"$TMP/htpasswd.md"
if [ "$HTPASSWD" != 0 ]; then
    say "side by side with htpasswd"
    BENCH_BIN=$BIN BENCH_SEED=$SEED bash "$ROOT/bench/htpasswd.sh" >"$TMP/htpasswd.md"
fi

declare -A MED SEEDTIME DBSIZE RSS
# What each command runs, and on which store: sets line, db, prepare and
# runs for command $1 on the store of $2 tokens. The commands that change
# the store run on a fresh copy of the seeded one each time ($run_db,
# made by $reset from $seed_db); the others on one copy ($work_db).
command_for() {
    local cmd=$1 n=$2
    prepare=()
    db=$work_db
    runs=$RUNS
    big_runs=$RUNS
    if [ "$n" -ge "$LARGE" ]; then big_runs=$RUNS_LARGE; fi
    local fresh=(--prepare "$(q "$reset") $(q "$seed_db") $(q "$run_name")")
    case $cmd in
    create)
        # A fresh copy each run: the same N-token store every time, and
        # the name is free again (a counter would grow the store and
        # add a shell to the timing).
        db=$run_db
        prepare=("${fresh[@]}")
        line="$(q "$BIN") token create bench-new"
        ;;
    verify)
        # Token from TOKENCTL_TOKEN. A successful verify records Last
        # Used, but a run in the same second as the one before writes
        # the same value and SQLite commits nothing to disk; the sleep
        # (untimed) makes every run write, as a real verify does.
        prepare=(--prepare "sleep 1")
        line="$(q "$BIN") token verify"
        ;;
    list)
        runs=$big_runs
        line="$(q "$BIN") token list -o json"
        ;;
    list-table)
        runs=$big_runs
        line="$(q "$BIN") token list"
        ;;
    revoke)
        db=$run_db
        prepare=("${fresh[@]}")
        line="$(q "$BIN") token revoke bench-000001 --yes"
        ;;
    edit)
        db=$run_db
        prepare=("${fresh[@]}")
        line="$(q "$BIN") token edit bench-000002 --note benchmarked --add-acl deploy"
        ;;
    revoke-all)
        db=$run_db
        runs=$big_runs
        prepare=("${fresh[@]}")
        line="$(q "$BIN") token revoke-all --yes"
        ;;
    esac
}

for n in $SIZES; do
    lab=$(label "$n")
    seed=$TMP/seed-$lab.db

    say "seeding $lab tokens"
    t0=$(date +%s%N)
    probe=$("$SEED" --db "$seed" --count "$n")
    SEEDTIME[sqlite,$n]=$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN {printf "%.1f", ns / 1e9}')
    DBSIZE[sqlite,$n]=$(awk -v b="$(stat -c %s "$seed")" 'BEGIN {printf "%.1f", b / 1048576}')

    for backend in $BACKENDS; do
        case $backend in
        sqlite)
            # The SQLite reset takes paths; the file is the store.
            seed_db=$seed
            work_db=$TMP/work-$lab.db
            run_name=$TMP/run-$lab.db
            run_db=$run_name
            reset=$TMP/reset
            "$reset" "$seed_db" "$work_db"
            ;;
        postgres)
            # The PostgreSQL reset takes database names.
            say "copying the $lab-token store into PostgreSQL (db copy)"
            seed_db=seed_$lab
            t0=$(date +%s%N)
            pg_load "$seed" "$seed_db" "$BIN"
            SEEDTIME[postgres,$n]=$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN {printf "%.1f", ns / 1e9}')
            DBSIZE[postgres,$n]=$(awk -v b="$(pg_bytes "$seed_db")" 'BEGIN {printf "%.1f", b / 1048576}')
            reset=$TMP/pg-reset
            "$reset" "$seed_db" "work_$lab"
            work_db=$(pg_url "work_$lab")
            run_name=run_$lab
            run_db=$(pg_url "$run_name")
            ;;
        esac

        # The timed commands must succeed for the right reason.
        TOKENCTL_DB=$work_db TOKENCTL_TOKEN=$probe "$BIN" token verify >/dev/null
        listed=$(TOKENCTL_DB=$work_db "$BIN" token list -o json | grep -c '"id":' || true)
        if [ "$listed" -ne $((n + 1)) ]; then
            echo "error: list shows $listed tokens on $backend, expected $((n + 1))" >&2
            exit 1
        fi

        for cmd in "${COMMANDS[@]}"; do
            sample_busy
            command_for "$cmd" "$n"
            say "$cmd on $lab tokens, $(store_name "$backend") ($runs runs)"
            base=$TMP/$backend-$cmd-$lab
            # -N: no intermediate shell; stdout and stderr go to /dev/null.
            TOKENCTL_DB=$db TOKENCTL_TOKEN=$probe hyperfine -N \
                --warmup "$WARMUP" --runs "$runs" "${prepare[@]}" --time-unit millisecond \
                --command-name "$cmd ($lab) on $(store_name "$backend")" \
                --export-csv "$base.csv" --export-json "$base.json" \
                --export-markdown "$base.md" \
                "$line"
            MED[$backend,$cmd,$n]=$(median_ms "$base.csv")
        done
        for form in json table; do
            RSS[$backend,$form,$n]=$(TOKENCTL_DB=$work_db /usr/bin/time -f %M "$BIN" token list -o "$form" 2>&1 >/dev/null | tail -n 1)
        done
        case $backend in
        sqlite) rm -f "$work_db" "$work_db"-* "$run_db" "$run_db"-* ;;
        postgres)
            for d in "$seed_db" "work_$lab" "$run_name"; do
                pg_sql postgres "DROP DATABASE IF EXISTS \"$d\"" >/dev/null
            done
            ;;
        esac
    done
    rm -f "$seed"
done
sample_busy
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
read -r busy1 total1 < <(cpu_ticks)
own1=$(own_ticks)
# Percent of the machine's CPU (all cores) used by other processes.
others=$(awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) -v o=$((own1 - own0)) \
    'BEGIN {x = t > 0 ? 100 * (b - o) / t : 0; printf "%.0f", x < 0 ? 0 : x}')
elapsed=$(($(date +%s) - started))

# --- report ------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f", a - b}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit (with uncommitted changes)"; fi
fs=$(df -T "$TMP" | awk 'NR == 2 {print $2}')
set -- $SIZES
SMALL=$1
shift $(($# - 1))
BIG=$1
nb=$(echo $BACKENDS | wc -w)

# Column headers: one per size and store, the stores of a size side by side.
header="| command |"
rule="|---|"
for n in $SIZES; do
    for b in $BACKENDS; do
        if [ "$nb" -gt 1 ]; then header="$header $(store_name "$b") $(label "$n") |"; else header="$header $(label "$n") tokens |"; fi
        rule="$rule---:|"
    done
done
# A row of $1 with one cell per size and store, from function $2 (store, size).
cells() {
    local row="| $1 |" n b
    for n in $SIZES; do for b in $BACKENDS; do row="$row $($2 "$b" "$n") |"; done; done
    echo "$row"
}
command_title() {
    case $1 in
    list) echo "\`token list -o json\`" ;;
    list-table) echo "\`token list\` (table)" ;;
    revoke) echo "\`token revoke NAME --yes\`" ;;
    edit) echo "\`token edit NAME --note .. --add-acl ..\`" ;;
    revoke-all) echo "\`token revoke-all --yes\`" ;;
    *) echo "\`token $1\`" ;;
    esac
}
# Largest over the sizes of function $2 for store $1 (ms figures).
max_over() {
    local n v m=
    for n in $SIZES; do
        v=$($2 "$1" "$n")
        m=$(awk -v a="$m" -v b="$v" 'BEGIN {print (a == "" || b + 0 > a + 0) ? b : a}')
    done
    echo "$m"
}
create_over() { minus "${MED[$1,create,$2]}" "$hash_ms"; }
verify_over() { minus "${MED[$1,verify,$2]}" "$match_ms"; }
med_revoke() { echo "${MED[$1,revoke,$2]}"; }
med_edit() { echo "${MED[$1,edit,$2]}"; }
below() { awk -v v="$1" -v l="$2" 'BEGIN {print (v + 0 < l + 0) ? "yes" : "no"}'; }
growth() { ratio "${MED[$1,$2,$BIG]}" "${MED[$1,$2,$SMALL]}"; }

MARKER="<!-- Notes: everything from this line on is kept when bench/run.sh rewrites the file. -->"
notes=$TMP/notes.md
if [ -f "$OUT" ]; then awk -v m="$MARKER" 'found || index($0, m) == 1 { found = 1; print }' "$OUT" >"$notes"; fi

say "writing $OUT"
{
    echo "# tokenctl benchmarks"
    echo
    echo "Generated by \`bench/run.sh\`; rerun it to refresh this file."
    echo
    echo "- Date: $(date '+%Y-%m-%d %H:%M %Z')"
    echo "- Commit: $commit"
    echo "- Machine: $(nproc) cores ($cpu), $mem, $(uname -sr)"
    echo "- Toolchain: $(rustc --version), release profile"
    echo "- hyperfine: $(hyperfine --version | awk '{print $2}'), \`-N\` (no shell), --warmup $WARMUP," \
        "--runs $RUNS ($RUNS_LARGE for list and revoke-all at $(label $LARGE) tokens and more)"
    for b in $BACKENDS; do
        case $b in
        sqlite) echo "- SQLite stores: files in a temp folder on $fs (\`synchronous=FULL\`, so every commit is an fsync)" ;;
        postgres) echo "- PostgreSQL stores: PostgreSQL $PG_VERSION on this machine, a throwaway cluster in a" \
            "temp folder on $fs, Unix socket, default settings ($PG_SETTINGS): every commit waits for its WAL flush" ;;
        esac
    done
    echo "- Load average (1/5/15 min): $load_start at start, $load_end at end; total run ${elapsed} s"
    echo "- Other processes used ${others}% of the machine's CPU while it was measuring"
    if [ "$others" -ge 10 ] || [ "$busy_max" -gt 0 ]; then
        echo
        printf '> **Shared machine:** other jobs used %s%% of the CPU during this run' "$others"
        if [ "$busy_max" -gt 0 ]; then printf ' (compilers seen at worst: %s)' "$busy_seen"; fi
        echo ". The figures are indicative only; rerun on an idle machine for reference numbers."
    fi
    if [ -n "${BENCH_NOTE:-}" ]; then
        echo
        echo "> $BENCH_NOTE"
    fi
    echo
    echo "## Raw argon2id cost (in process)"
    echo
    echo "\`examples/argon2_cost.rs\`, default parameters m = 19456 KiB, t = 2, p = 1," \
        "median of $ARGON2_RUNS runs:"
    echo
    echo "| operation | median (ms) |"
    echo "|---|---:|"
    echo "| hash (\`hash_secret\`, paid by create) | $hash_ms |"
    echo "| verify (\`secret_matches\`, paid by verify) | $match_ms |"
    echo
    echo "## Whole-process medians (ms)"
    echo
    echo "$header"
    echo "$rule"
    for cmd in "${COMMANDS[@]}"; do
        med() { echo "${MED[$1,$cmd,$2]}"; }
        cells "$(command_title "$cmd")" med
    done
    rss_json() { mib "${RSS[$1,json,$2]}"; }
    rss_table() { mib "${RSS[$1,table,$2]}"; }
    cells "peak memory of \`list -o json\` (MiB)" rss_json
    cells "peak memory of \`list\` (table, MiB)" rss_table
    echo
    echo "\`tokenctl --version\`: median $VERSION_MS ms."
    if [ "$has_pg" -eq 1 ] && [ "$nb" -gt 1 ]; then
        echo
        echo "## PostgreSQL against SQLite"
        echo
        echo "The PostgreSQL median divided by the SQLite median of the same command and size, same run."
        echo
        pg_header="| command |"
        pg_rule="|---|"
        for n in $SIZES; do pg_header="$pg_header $(label "$n") tokens |"; pg_rule="$pg_rule---:|"; done
        echo "$pg_header"
        echo "$pg_rule"
        for cmd in "${COMMANDS[@]}"; do
            row="| $(command_title "$cmd") |"
            for n in $SIZES; do row="$row $(ratio "${MED[postgres,$cmd,$n]}" "${MED[sqlite,$cmd,$n]}")x |"; done
            echo "$row"
        done
    fi
    if [ "$has_pg" -eq 1 ]; then
        echo
        echo "## PostgreSQL against its targets (reported, not asserted)"
        echo
        echo "Over every size of this run ($(label "$SMALL") to $(label "$BIG") tokens); \"argon2 +\" is the"
        echo "whole-process median minus the in-process argon2 median above."
        echo
        if [ "$nb" -gt 1 ]; then
            echo "| target | PostgreSQL | met | SQLite, same run |"
            echo "|---|---|---|---|"
        else
            echo "| target | PostgreSQL | met |"
            echo "|---|---|---|"
        fi
        # The SQLite figure only when SQLite was measured too.
        sq() { if [ "$nb" -gt 1 ]; then "$@"; fi; }
        target() { # text, PostgreSQL figure, met, SQLite figure
            if [ "$nb" -gt 1 ]; then echo "| $1 | $2 | $3 | $4 |"; else echo "| $1 | $2 | $3 |"; fi
        }
        worst=$(max_over postgres create_over)
        target "create ≤ argon2 + 15 ms" "argon2 $worst ms at worst" "$(below "$worst" 15.0001)" \
            "argon2 $(sq max_over sqlite create_over) ms"
        worst=$(max_over postgres verify_over)
        target "verify ≤ argon2 + 15 ms" "argon2 $worst ms at worst" "$(below "$worst" 15.0001)" \
            "argon2 $(sq max_over sqlite verify_over) ms"
        worst=$(max_over postgres med_revoke)
        target "revoke < 15 ms" "$worst ms at worst" "$(below "$worst" 15)" "$(sq max_over sqlite med_revoke) ms"
        worst=$(max_over postgres med_edit)
        target "edit < 15 ms" "$worst ms at worst" "$(below "$worst" 15)" "$(sq max_over sqlite med_edit) ms"
        if [ "$BIG" -ge 100000 ]; then
            target "\`list -o json\` of $(label "$BIG") < 0.5 s" "${MED[postgres,list,$BIG]} ms" \
                "$(below "${MED[postgres,list,$BIG]}" 500)" "${MED[sqlite,list,$BIG]:-} ms"
            target "\`revoke-all --yes\` of $(label "$BIG") < 2 s" "${MED[postgres,revoke-all,$BIG]} ms" \
                "$(below "${MED[postgres,revoke-all,$BIG]}" 2000)" "${MED[sqlite,revoke-all,$BIG]:-} ms"
        else
            target "\`list -o json\` of 100k < 0.5 s" "$(label "$BIG"): ${MED[postgres,list,$BIG]} ms" \
                "n/a (no 100k store in this run)" "${MED[sqlite,list,$BIG]:-} ms"
            target "\`revoke-all --yes\` of 100k < 2 s" "$(label "$BIG"): ${MED[postgres,revoke-all,$BIG]} ms" \
                "n/a (no 100k store in this run)" "${MED[sqlite,revoke-all,$BIG]:-} ms"
        fi
        for cmd in create verify revoke edit; do
            g=$(growth postgres "$cmd")
            gs=
            if [ "$nb" -gt 1 ]; then gs="$(growth sqlite "$cmd")x"; fi
            target "flat: \`$cmd\` at $(label "$BIG") within 10% of $(label "$SMALL")" "${g}x" \
                "$(below "$g" 1.1001)" "$gs"
        done
    fi
    echo
    if [ -s "$TMP/htpasswd.md" ]; then
        cat "$TMP/htpasswd.md"
        echo
    fi
    echo "## Against the raw argon2 cost"
    echo
    echo "Whole-process median divided by the in-process argon2 median: what a"
    echo "create or verify costs beyond its one argon2 computation (process start,"
    echo "opening the store, the write and its fsync)."
    echo
    echo "$header"
    echo "$rule"
    c_ratio() { echo "$(ratio "${MED[$1,create,$2]}" "$hash_ms")x"; }
    v_ratio() { echo "$(ratio "${MED[$1,verify,$2]}" "$match_ms")x"; }
    cells "create / hash" c_ratio
    cells "verify / verify" v_ratio
    cells "create − hash (ms)" create_over
    cells "verify − verify (ms)" verify_over
    echo
    echo "## How it is measured"
    echo
    echo "- Each store is made by \`examples/seed.rs\`: account \`alice\` with \`all\`,"
    echo "  bootstrapped as the CLI does, N tokens named \`bench-NNNNNN\` (active,"
    echo "  created over the last 300 days, 365-day lifetime) sharing one precomputed"
    echo "  argon2 hash, a \`create\` event per token, and one \`bench-probe\` token"
    echo "  with its own hash, whose plaintext the benchmark verifies."
    if [ "$has_pg" -eq 1 ]; then
        echo "- The PostgreSQL store of each size is that SQLite store copied with"
        echo "  \`tokenctl db copy --to postgres://...\` into a database of its own, then"
        echo "  \`VACUUM (FREEZE, ANALYZE)\` and a \`CHECKPOINT\` (a store in use, as"
        echo "  autovacuum leaves it). Each size runs on SQLite, then on PostgreSQL."
    fi
    echo "- \`USER=alice\`, \`TOKENCTL_DB\` set per store (a path, or a"
    echo "  \`postgres://\` URL over the Unix socket); hyperfine discards"
    echo "  stdout and stderr."
    echo "- \`create\`, \`revoke\`, \`edit\` and \`revoke-all\` run on a fresh copy of the"
    echo "  seeded store each time (\`--prepare\`, untimed: on SQLite a file copy"
    echo "  flushed to disk; on PostgreSQL \`CREATE DATABASE .. TEMPLATE\`, one read"
    echo "  of the tokens and a \`CHECKPOINT\`): every run sees the same N+1 live"
    echo "  tokens. \`create bench-new\` takes the default expiry and privileges;"
    echo "  \`revoke-all --yes\` revokes all N+1 tokens."
    echo "- \`verify\` reads the probe from \`TOKENCTL_TOKEN\` and, like any"
    echo "  successful verify, records Last Used (a write transaction and its"
    echo "  fsyncs); an untimed \`sleep 1\` before each run makes every run"
    echo "  write a new value (in the same second SQLite would write nothing)."
    echo "- \`list -o json\` prints all N+1 tokens."
    echo
    echo "| store | tokens | size (MiB) | seeding (s) |"
    echo "|---|---:|---:|---:|"
    for n in $SIZES; do
        for b in $BACKENDS; do
            what="$(label "$n")"
            if [ "$nb" -gt 1 ]; then what="$(store_name "$b") $what"; fi
            echo "| $what | $((n + 1)) | ${DBSIZE[$b,$n]} | ${SEEDTIME[$b,$n]} |"
        done
    done
    if [ "$has_pg" -eq 1 ]; then
        echo
        echo "PostgreSQL's size is \`pg_database_size\` (the catalogs' ~7 MiB included);"
        echo "its seeding time is the \`db copy\` from the SQLite file, the vacuum and the checkpoint."
    fi
    echo
    echo "## hyperfine detail"
    for n in $SIZES; do
        for b in $BACKENDS; do
            lab=$(label "$n")
            echo
            echo "### $lab tokens, $(store_name "$b")"
            echo
            first=1
            for cmd in "${COMMANDS[@]}"; do
                if [ $first -eq 1 ]; then
                    cat "$TMP/$b-$cmd-$lab.md"
                    first=0
                else
                    tail -n +3 "$TMP/$b-$cmd-$lab.md"
                fi
            done
        done
    done
    echo
    # Hand-written analysis below the marker survives a rerun.
    if [ -s "$notes" ]; then cat "$notes"; else echo "$MARKER"; fi
} >"$TMP/report.md"
mv "$TMP/report.md" "$OUT"

echo >&2
sed -n '/^## Whole-process medians/,/^## Against the raw argon2 cost/p' "$OUT" | sed '$d' >&2
echo "report: $OUT (${elapsed} s)" >&2

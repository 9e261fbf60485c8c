#!/usr/bin/env bash
# Whole-process benchmarks of tokenctl (DESIGN.md, "Benchmarks").
#
#   bash bench/run.sh            # from any folder; writes bench/RESULTS.md
#
# Installs hyperfine (Debian package) when missing, builds the release
# binary and the seed/argon2_cost examples, measures the raw argon2id cost
# in process, then times `token create`, `token verify`, `token list -o json`
# and `token revoke-all --yes` as whole processes on stores seeded with 1k,
# 10k and 100k tokens (examples/seed.rs). Takes about 3 to 5 minutes on
# 2 cores. Everything it makes lives in one temp folder, removed on exit.
#
# Knobs (environment):
#   BENCH_SIZES="100 1000 10000 100000"  store sizes, in tokens
#   BENCH_RUNS=10                    hyperfine --runs per command
#   BENCH_RUNS_LARGE=5               --runs for list and revoke-all on stores
#                                    of 100k tokens and more
#   BENCH_ARGON2_RUNS=20             runs of the in-process argon2 measure
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
OUT=${BENCH_OUT:-$ROOT/bench/RESULTS.md}
LARGE=100000
WARMUP=1
COMMANDS=(create verify list list-table revoke edit revoke-all)

started=$(date +%s)
say() { printf '\n== %s\n' "$*" >&2; }

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
trap 'rm -rf "$TMP"' EXIT

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
own_ticks() { sed 's/.*) //' "/proc/$$/stat" | awk '{print $14 + $15}'; }
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

say "side by side with htpasswd"
BENCH_BIN=$BIN BENCH_SEED=$SEED bash "$ROOT/bench/htpasswd.sh" >"$TMP/htpasswd.md"

declare -A MED SEEDTIME DBSIZE RSS
for n in $SIZES; do
    lab=$(label "$n")
    seed=$TMP/seed-$lab.db
    work=$TMP/work-$lab.db
    run=$TMP/run-$lab.db

    say "seeding $lab tokens"
    t0=$(date +%s%N)
    probe=$("$SEED" --db "$seed" --count "$n")
    SEEDTIME[$n]=$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN {printf "%.1f", ns / 1e9}')
    DBSIZE[$n]=$(awk -v b="$(stat -c %s "$seed")" 'BEGIN {printf "%.1f", b / 1048576}')
    "$TMP/reset" "$seed" "$work"

    # The timed commands must succeed for the right reason.
    TOKENCTL_DB=$work TOKENCTL_TOKEN=$probe "$BIN" token verify >/dev/null
    listed=$(TOKENCTL_DB=$work "$BIN" token list -o json | grep -c '"id":' || true)
    if [ "$listed" -ne $((n + 1)) ]; then
        echo "error: list shows $listed tokens, expected $((n + 1))" >&2
        exit 1
    fi

    big_runs=$RUNS
    if [ "$n" -ge "$LARGE" ]; then big_runs=$RUNS_LARGE; fi
    for cmd in "${COMMANDS[@]}"; do
        sample_busy
        prepare=()
        db=$work
        runs=$RUNS
        case $cmd in
        create)
            # A fresh copy each run: the same N-token store every time, and
            # the name is free again (a counter would grow the store and
            # add a shell to the timing).
            db=$run
            prepare=(--prepare "$(q "$TMP/reset") $(q "$seed") $(q "$run")")
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
            db=$run
            prepare=(--prepare "$(q "$TMP/reset") $(q "$seed") $(q "$run")")
            line="$(q "$BIN") token revoke bench-000001 --yes"
            ;;
        edit)
            db=$run
            prepare=(--prepare "$(q "$TMP/reset") $(q "$seed") $(q "$run")")
            line="$(q "$BIN") token edit bench-000002 --note benchmarked --add-acl deploy"
            ;;
        revoke-all)
            db=$run
            runs=$big_runs
            prepare=(--prepare "$(q "$TMP/reset") $(q "$seed") $(q "$run")")
            line="$(q "$BIN") token revoke-all --yes"
            ;;
        esac
        say "$cmd on $lab tokens ($runs runs)"
        base=$TMP/$cmd-$lab
        # -N: no intermediate shell; stdout and stderr go to /dev/null.
        TOKENCTL_DB=$db TOKENCTL_TOKEN=$probe hyperfine -N \
            --warmup "$WARMUP" --runs "$runs" "${prepare[@]}" --time-unit millisecond \
            --command-name "$cmd ($lab)" \
            --export-csv "$base.csv" --export-json "$base.json" \
            --export-markdown "$base.md" \
            "$line"
        MED[$cmd,$n]=$(median_ms "$base.csv")
    done
    for form in json table; do
        RSS[$form,$n]=$(TOKENCTL_DB=$work /usr/bin/time -f %M "$BIN" token list -o "$form" 2>&1 >/dev/null | tail -n 1)
    done
    rm -f "$seed" "$work" "$work"-* "$run" "$run"-*
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
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit (with uncommitted changes)"; fi
fs=$(df -T "$TMP" | awk 'NR == 2 {print $2}')

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
    echo "- Stores: in a temp folder on $fs (\`synchronous=FULL\`, so every commit is an fsync)"
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
    header="| command |"
    rule="|---|"
    for n in $SIZES; do header="$header $(label "$n") tokens |"; rule="$rule---:|"; done
    echo "$header"
    echo "$rule"
    for cmd in "${COMMANDS[@]}"; do
        case $cmd in
        list) row="| \`token list -o json\` |" ;;
        list-table) row="| \`token list\` (table) |" ;;
        revoke) row="| \`token revoke NAME --yes\` |" ;;
        edit) row="| \`token edit NAME --note .. --add-acl ..\` |" ;;
        revoke-all) row="| \`token revoke-all --yes\` |" ;;
        *) row="| \`token $cmd\` |" ;;
        esac
        for n in $SIZES; do row="$row ${MED[$cmd,$n]} |"; done
        echo "$row"
    done
    row="| peak memory of \`list -o json\` (MiB) |"
    for n in $SIZES; do row="$row $(awk -v k="${RSS[json,$n]}" 'BEGIN {printf "%.1f", k / 1024}') |"; done
    echo "$row"
    row="| peak memory of \`list\` (table, MiB) |"
    for n in $SIZES; do row="$row $(awk -v k="${RSS[table,$n]}" 'BEGIN {printf "%.1f", k / 1024}') |"; done
    echo "$row"
    echo
    echo "\`tokenctl --version\`: median $VERSION_MS ms."
    echo
    cat "$TMP/htpasswd.md"
    echo
    echo "## Against the raw argon2 cost"
    echo
    echo "Whole-process median divided by the in-process argon2 median: what a"
    echo "create or verify costs beyond its one argon2 computation (process start,"
    echo "opening the store, the write and its fsync)."
    echo
    echo "$header"
    echo "$rule"
    row="| create / hash |"
    for n in $SIZES; do row="$row $(ratio "${MED[create,$n]}" "$hash_ms")x |"; done
    echo "$row"
    row="| verify / verify |"
    for n in $SIZES; do row="$row $(ratio "${MED[verify,$n]}" "$match_ms")x |"; done
    echo "$row"
    row="| create − hash (ms) |"
    for n in $SIZES; do row="$row $(minus "${MED[create,$n]}" "$hash_ms") |"; done
    echo "$row"
    row="| verify − verify (ms) |"
    for n in $SIZES; do row="$row $(minus "${MED[verify,$n]}" "$match_ms") |"; done
    echo "$row"
    echo
    echo "## How it is measured"
    echo
    echo "- Each store is made by \`examples/seed.rs\`: account \`alice\` with \`all\`,"
    echo "  bootstrapped as the CLI does, N tokens named \`bench-NNNNNN\` (active,"
    echo "  created over the last 300 days, 365-day lifetime) sharing one precomputed"
    echo "  argon2 hash, a \`create\` event per token, and one \`bench-probe\` token"
    echo "  with its own hash, whose plaintext the benchmark verifies."
    echo "- \`USER=alice\`, \`TOKENCTL_DB\` set per store; hyperfine discards"
    echo "  stdout and stderr."
    echo "- \`create\` and \`revoke-all\` run on a fresh copy of the seeded store"
    echo "  each time (\`--prepare\`, untimed, flushed to disk first): every run"
    echo "  sees the same N+1 live tokens. \`create bench-new\` takes the default"
    echo "  expiry and privileges; \`revoke-all --yes\` revokes all N+1 tokens."
    echo "- \`verify\` reads the probe from \`TOKENCTL_TOKEN\` and, like any"
    echo "  successful verify, records Last Used (a write transaction and its"
    echo "  fsyncs); an untimed \`sleep 1\` before each run makes every run"
    echo "  write a new value (in the same second SQLite would write nothing)."
    echo "- \`list -o json\` prints all N+1 tokens."
    echo
    echo "| store | tokens | file size (MiB) | seeding (s) |"
    echo "|---|---:|---:|---:|"
    for n in $SIZES; do
        echo "| $(label "$n") | $((n + 1)) | ${DBSIZE[$n]} | ${SEEDTIME[$n]} |"
    done
    echo
    echo "## hyperfine detail"
    for n in $SIZES; do
        lab=$(label "$n")
        echo
        echo "### $lab tokens"
        echo
        first=1
        for cmd in "${COMMANDS[@]}"; do
            if [ $first -eq 1 ]; then
                cat "$TMP/$cmd-$lab.md"
                first=0
            else
                tail -n +3 "$TMP/$cmd-$lab.md"
            fi
        done
    done
    echo
    # Hand-written analysis below the marker survives a rerun.
    if [ -s "$notes" ]; then cat "$notes"; else echo "$MARKER"; fi
} >"$TMP/report.md"
mv "$TMP/report.md" "$OUT"

echo >&2
sed -n '/^## Whole-process medians/,/^## How it is measured/p' "$OUT" | sed '$d' >&2
echo "report: $OUT (${elapsed} s)" >&2

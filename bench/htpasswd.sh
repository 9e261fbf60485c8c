#!/usr/bin/env bash
# tokenctl side by side with Apache's htpasswd (bcrypt, cost 5), the classic
# file of credentials: per-operation cost of add, verify and delete at 100
# and 100,000 entries. Prints a Markdown section on stdout; bench/run.sh
# includes it in RESULTS.md.
#
#   BENCH_BIN=target/release/tokenctl BENCH_SEED=target/release/examples/seed \
#     bash bench/htpasswd.sh
#
# htpasswd rewrites its whole file on every change, so its add and delete
# grow with the number of entries; tokenctl changes one row in an index.
# The hashes differ by design (bcrypt cost 5 here, argon2id in tokenctl):
# compare how each tool's cost grows, not the hash.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BENCH_BIN:-$ROOT/target/release/tokenctl}
SEED=${BENCH_SEED:-$ROOT/target/release/examples/seed}
SIZES=${HTPASSWD_SIZES:-"100 100000"}
RUNS=${BENCH_RUNS:-10}

if ! command -v htpasswd >/dev/null 2>&1; then
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq apache2-utils >/dev/null
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokenctl-htpasswd.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
unset TOKENCTL_DB TOKENCTL_USER TOKENCTL_OUTPUT TOKENCTL_TOKEN
export USER=alice NO_COLOR=1

cat >"$TMP/reset" <<'EOF'
#!/bin/sh
set -e
rm -f "$2" "$2-wal" "$2-shm"
cp "$1" "$2"
sync "$2"
EOF
chmod +x "$TMP/reset"

q() { printf "'%s'" "$1"; }
median_ms() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "median") c = i; next }
             NR == 2 { printf "%.1f", $c * 1000 }' "$1"
}
time_it() { # name prepare-or-empty command
    local name=$1 prepare=$2 line=$3 args=()
    if [ -n "$prepare" ]; then args=(--prepare "$prepare"); fi
    hyperfine -N --warmup 1 --runs "$RUNS" "${args[@]}" --time-unit millisecond \
        --export-csv "$TMP/$name.csv" "$line" >&2
    median_ms "$TMP/$name.csv"
}

declare -A MS
for n in $SIZES; do
    # htpasswd: one bcrypt hash of "secret", shared by N users.
    hash=$(htpasswd -nbB -C 5 user secret | cut -d: -f2)
    awk -v n="$n" -v h="$hash" 'BEGIN { for (i = 1; i <= n; i++) printf "user%06d:%s\n", i, h }' \
        >"$TMP/seed-$n.htpasswd"
    cp "$TMP/seed-$n.htpasswd" "$TMP/work-$n.htpasswd"
    htpasswd -v -b "$TMP/work-$n.htpasswd" user000050 secret >/dev/null 2>&1
    reset_ht="$(q "$TMP/reset") $(q "$TMP/seed-$n.htpasswd") $(q "$TMP/run-$n.htpasswd")"
    MS[ht-add,$n]=$(time_it "ht-add-$n" "$reset_ht" "htpasswd -B -C 5 -b $(q "$TMP/run-$n.htpasswd") newuser secret")
    MS[ht-verify,$n]=$(time_it "ht-verify-$n" "" "htpasswd -v -b $(q "$TMP/work-$n.htpasswd") user000050 secret")
    MS[ht-delete,$n]=$(time_it "ht-delete-$n" "$reset_ht" "htpasswd -D $(q "$TMP/run-$n.htpasswd") user000050")

    # tokenctl: N tokens sharing one argon2 hash, plus a probe to verify.
    probe=$("$SEED" --db "$TMP/seed-$n.db" --count "$n" 2>/dev/null)
    "$TMP/reset" "$TMP/seed-$n.db" "$TMP/work-$n.db"
    reset_db="$(q "$TMP/reset") $(q "$TMP/seed-$n.db") $(q "$TMP/run-$n.db")"
    MS[tc-add,$n]=$(TOKENCTL_DB=$TMP/run-$n.db time_it "tc-add-$n" "$reset_db" "$(q "$BIN") token create bench-new")
    MS[tc-verify,$n]=$(TOKENCTL_DB=$TMP/work-$n.db TOKENCTL_TOKEN=$probe time_it "tc-verify-$n" "sleep 1" "$(q "$BIN") token verify")
    MS[tc-delete,$n]=$(TOKENCTL_DB=$TMP/run-$n.db time_it "tc-delete-$n" "$reset_db" "$(q "$BIN") token revoke bench-000050 --yes")
done

growth() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", b / a}'; }
set -- $SIZES
small=$1
large=${!#}
echo "## Side by side with htpasswd"
echo
version=$(dpkg-query -W -f '${Version}' apache2-utils 2>/dev/null || echo unknown)
echo "Whole-process medians (ms) of htpasswd (apache2-utils $version, \`-B -C 5\`, bcrypt)"
echo "and tokenctl (argon2id) on files/stores of $small and $large entries."
echo "htpasswd rewrites its whole file on each change; tokenctl changes one row."
echo "The hashes differ by design: compare the growth, not the first column."
echo
echo "| operation | htpasswd $small | htpasswd $large | growth | tokenctl $small | tokenctl $large | growth |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for op in add verify delete; do
    echo "| $op | ${MS[ht-$op,$small]} | ${MS[ht-$op,$large]} | $(growth "${MS[ht-$op,$small]}" "${MS[ht-$op,$large]}") |" \
        "${MS[tc-$op,$small]} | ${MS[tc-$op,$large]} | $(growth "${MS[tc-$op,$small]}" "${MS[tc-$op,$large]}") |"
done
echo
echo "tokenctl's add is \`token create\`, verify \`token verify\` (which also records"
echo "Last Used, a write), delete \`token revoke NAME --yes\`."

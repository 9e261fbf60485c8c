#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each) and prints
# each one's executions and any crash. Not part of .ci/run: fuzzing is
# open-ended; run it by hand before a release or after changing a parser.
#
#   cargo install cargo-fuzz --locked
#   fuzz/run.sh            # 60 s per target
#   fuzz/run.sh 600        # ten minutes per target
#
# cargo fuzz needs a nightly-only compiler flag; RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept it.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
export RUSTC_BOOTSTRAP=1
status=0
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target"
  log=$(mktemp)
  if cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" \
    -max_len=4096 >"$log" 2>&1; then
    result=ok
  else
    result="CRASH (artifacts/$target)"
    status=1
  fi
  runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 || true)
  echo "$target: $result, ${runs:-no summary}"
  [ "$result" = ok ] || tail -n 30 "$log"
  rm -f "$log"
done
exit "$status"

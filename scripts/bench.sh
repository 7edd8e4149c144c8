#!/usr/bin/env bash
# Runs every benchmark briefly and keeps the JSON under build/bench-results/
# so a regression can be seen. BENCH_MIN_TIME (seconds) sets the length.
set -euo pipefail
cd "$(dirname "$0")/.."
min_time=${BENCH_MIN_TIME:-0.02}
out=build/bench-results
mkdir -p "$out"
status=0
for b in build/bench/*_bench; do
  [[ -x $b ]] || continue
  name=$(basename "$b")
  echo "bench: $name"
  if ! "$b" --benchmark_min_time="$min_time" --benchmark_format=console \
       --benchmark_out="$out/$name.json" --benchmark_out_format=json \
       >"$out/$name.txt" 2>&1; then
    echo "bench: $name FAILED" >&2
    tail -20 "$out/$name.txt" >&2
    status=1
  fi
done
exit $status

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
# The daemon at scale (bench/scale.py): a short smoke with 20 real jails,
# root only and only where the busybox root and the daemon are built;
# BENCH_SCALE=0 skips it.
if [[ ${BENCH_SCALE:-1} != 0 && $(id -u) -eq 0 && -x build/src/jailwarden ]]; then
  echo "bench: scale (N=20 smoke)"
  if ! timeout 120 python3 bench/scale.py --jails 20 --warmup 5 --duration 15 \
       >"$out/scale.txt" 2>&1; then
    echo "bench: scale FAILED" >&2
    tail -20 "$out/scale.txt" >&2
    status=1
  fi
fi
exit $status

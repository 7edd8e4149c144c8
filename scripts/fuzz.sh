#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) into build-fuzz and
# runs each for FUZZ_SECONDS (default 30). A crash or sanitizer report fails.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DJAILWARDEN_BUILD_FUZZ=ON \
  -DJAILWARDEN_BUILD_TESTS=OFF -DJAILWARDEN_BUILD_BENCH=OFF \
  -DJAILWARDEN_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for src in fuzz/*_fuzz.cc; do targets+=("$(basename "${src%.cc}")"); done
cmake --build build-fuzz -j "$(nproc 2>/dev/null || echo 2)" --target "${targets[@]}" >/dev/null
status=0
for target in build-fuzz/fuzz/*_fuzz; do
  [[ -x $target ]] || continue
  name=$(basename "$target")
  corpus=build-fuzz/corpus/$name
  mkdir -p "$corpus"
  seeds=fuzz/seeds/${name%_fuzz}
  echo "fuzz: $name for ${seconds}s"
  if ! "$target" -max_total_time="$seconds" -timeout=10 -print_final_stats=0 \
       "$corpus" ${seeds:+$( [[ -d $seeds ]] && echo "$seeds")} \
       >"build-fuzz/$name.log" 2>&1; then
    echo "fuzz: $name FAILED; see build-fuzz/$name.log" >&2
    tail -40 "build-fuzz/$name.log" >&2
    status=1
  else
    grep -E '^(#[0-9]+|Done)' "build-fuzz/$name.log" | tail -1 || true
  fi
done
exit $status

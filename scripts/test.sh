#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs the
# whole suite (unit, integration as root, fuzz for a bounded time, benchmarks
# briefly with their JSON kept under build/bench-results/).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
status=0
(cd build && ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" --timeout 600) || status=1
./scripts/fuzz.sh || status=1
./scripts/freebsd-check.sh || status=1
./scripts/bench.sh || status=1
if [[ $status -ne 0 ]]; then
  echo "test.sh: FAILED" >&2
fi
exit $status

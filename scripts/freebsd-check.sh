#!/usr/bin/env bash
# Compiles every source that FreeBSD builds for FreeBSD 14 (clang 16, libc++,
# FreeBSD 14.2's headers; syntax and types only) with warnings as errors:
# ../shared/freebsd/compile-check.sh, beside the checkout as CI has it.
# Without it (a plain clone) the check is skipped with a message; under
# CI=true a skip is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
check=../shared/freebsd/compile-check.sh
if [[ ! -f $check ]]; then
  echo "freebsd-check: SKIPPED: $check not found (the FreeBSD sysroot lives beside the project checkout)" >&2
  [[ ${CI:-} == true ]] && exit 1
  exit 0
fi
echo "freebsd-check: compiling the FreeBSD build's sources against FreeBSD 14.2 headers"
FBSD_WERROR=1 bash "$check"

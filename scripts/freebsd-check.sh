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
# libarchive's two headers (mkroot freebsd-base) and zlib's two (gzip of
# /metrics), which FreeBSD has in its base /usr/include and the sysroot
# does not: Debian's copies (the same libraries), alone in a folder on
# CPATH so no other Linux header leaks in.
extra=$(mktemp -d)
trap 'rm -rf "$extra"' EXIT
for h in archive.h archive_entry.h zlib.h zconf.h; do
  [[ -f /usr/include/$h ]] || { echo "freebsd-check: /usr/include/$h missing (libarchive-dev, zlib1g-dev)" >&2; exit 1; }
  ln -s "/usr/include/$h" "$extra/$h"
done
echo "freebsd-check: compiling the FreeBSD build's sources against FreeBSD 14.2 headers"
CPATH="$extra" FBSD_WERROR=1 bash "$check"

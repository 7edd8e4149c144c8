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
# Headers FreeBSD has in base (libarchive, zlib, OpenSSL, crypt_r in
# unistd.h) or in ports (curl: ftp/curl; libmicrohttpd: www/libmicrohttpd;
# gnutls: security/gnutls)
# that the sysroot does not carry:
# Debian's copies of the same libraries, alone in a folder on CPATH so no
# other Linux header leaks in.
extra=$(mktemp -d)
trap 'rm -rf "$extra"' EXIT
need() { [[ -e $1 ]] || { echo "freebsd-check: $1 missing (install-deps.sh installs it)" >&2; exit 1; }; }
for h in archive.h archive_entry.h zlib.h zconf.h microhttpd.h; do
  need "/usr/include/$h"
  ln -s "/usr/include/$h" "$extra/$h"
done
# GnuTLS (security/gnutls, www/libmicrohttpd's TLS): the API's
# client-certificate check.
need /usr/include/gnutls/gnutls.h
ln -s /usr/include/gnutls "$extra/gnutls"
need /usr/include/x86_64-linux-gnu/curl/curl.h
ln -s /usr/include/x86_64-linux-gnu/curl "$extra/curl"
need /usr/include/openssl/evp.h
mkdir "$extra/openssl"
for f in /usr/include/openssl/* /usr/include/x86_64-linux-gnu/openssl/*; do
  ln -sf "$f" "$extra/openssl/"
done
# The header CMake configures for `jailwarden --version` (src/cli), with
# placeholder values.
mkdir -p "$extra/cli"
sed -e 's/@JW_GIT_COMMIT@/unknown/' -e 's/@JW_BUILD_TYPE@/none/' \
    -e 's/@CMAKE_CXX_COMPILER_ID@ @CMAKE_CXX_COMPILER_VERSION@/Clang 16/' \
    src/cli/build_info.h.in >"$extra/cli/build_info.h"
# Without arguments: what the FreeBSD build compiles, which is the check's
# default list (src/ without src/platform/linux/) less the Linux-only oci
# layer (src/oci/CMakeLists.txt builds it and jailwarden-oci, Linux only).
if [[ $# -eq 0 ]]; then
  mapfile -t files < <( { find src -name '*.cc' -not -path 'src/platform/linux/*' \
                            -not -path 'src/oci/*' -not -name 'oci_main.cc';
                          find src/platform/linux -maxdepth 1 -name '*_parser.cc'; } | LC_ALL=C sort)
  set -- "${files[@]}"
fi
echo "freebsd-check: compiling the FreeBSD build's sources against FreeBSD 14.2 headers"
CPATH="$extra" FBSD_WERROR=1 bash "$check" "$@"

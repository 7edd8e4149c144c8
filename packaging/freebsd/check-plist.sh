#!/usr/bin/env bash
# Checks packaging/freebsd/port/pkg-plist against what the build installs.
#  1. packaging/freebsd/install.cmake (the FreeBSD install rules) run by
#     cmake on this host into a DESTDIR, plus bin/jailwarden (src/) and the
#     port's post-install sample: the plist must list exactly those files.
#  2. With a build directory (Linux): `cmake --install BUILD --component
#     jailwarden` (the data files) into a DESTDIR;
#     the platform-independent files (share/jailwarden/) must be the same
#     set as the plist's.
# usage: check-plist.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
plist=$here/port/pkg-plist
build=${1:-}
tmp=$(mktemp -d /tmp/jw-check-plist-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# The plist, as installed paths: @sample FILE.sample is FILE.sample.
sed -e 's/^@sample //' -e '/^@/d' -e '/^$/d' "$plist" | sort >"$tmp/plist"

# 1. The FreeBSD rules, in a project that only includes them.
mkdir -p "$tmp/proj"
cat >"$tmp/proj/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(jwplist NONE)
set(PROJECT_SOURCE_DIR "$root")
include("$root/packaging/freebsd/install.cmake")
CMAKE
cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_INSTALL_PREFIX=/usr/local >/dev/null
DESTDIR="$tmp/fbsd" cmake --install "$tmp/proj/build" >/dev/null
{
  (cd "$tmp/fbsd/usr/local" && find . -type f -o -type l | sed 's|^\./||')
  echo bin/jailwarden                  # src/CMakeLists.txt install(TARGETS)
  echo etc/jailwarden.yaml.sample      # port Makefile post-install
  echo share/man/man5/jailwarden.yaml.5.gz   # man/CMakeLists.txt
  echo share/man/man8/jailwarden.8.gz        # man/CMakeLists.txt
} | sort >"$tmp/installed"
if ! diff -u --label pkg-plist --label "cmake --install (FreeBSD rules)" \
    "$tmp/plist" "$tmp/installed"; then
  echo "check-plist: pkg-plist differs from what FreeBSD's install rules install" >&2
  exit 1
fi
grep -q 'post-install:' "$here/port/Makefile"
grep -q 'jailwarden.yaml.sample' "$here/port/Makefile"

# 2. The platform-independent files against a real build's install.
if [[ -n $build ]]; then
  # The data files' component (packaging/linux/CPackConfig.cmake), so the
  # binaries need not be built for this.
  DESTDIR="$tmp/linux" cmake --install "$build" --prefix /usr/local --component jailwarden >/dev/null
  (cd "$tmp/linux/usr/local" && find share/jailwarden -type f -o -type l) | sort >"$tmp/linux.list"
  grep '^share/jailwarden/' "$tmp/plist" >"$tmp/plist.share" || true
  if ! diff -u --label "pkg-plist share/jailwarden" --label "cmake --install $build" \
      "$tmp/plist.share" "$tmp/linux.list"; then
    echo "check-plist: share/jailwarden differs between the port and this build" >&2
    exit 1
  fi
fi
echo "check-plist: pkg-plist matches ($(wc -l <"$tmp/plist") files)"

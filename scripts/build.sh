#!/usr/bin/env bash
# Configures and builds jailwarden into ./build (BUILD_DIR overrides).
#
# The build users run is the build benchmarked (bench/README.md, "Build
# type"): RelWithDebInfo — -O2 -g -DNDEBUG, symbols kept for perf, core
# files and addr2line — with the hot library, jw_engine, at -O3
# (src/engine/CMakeLists.txt) and its scan kernels in explicit SIMD, so the
# engine runs as fast as in a Release build. BUILD_TYPE=Release builds
# without debug information.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
build_type=${BUILD_TYPE:-RelWithDebInfo}
jobs=$(nproc 2>/dev/null || echo 2)
echo "build.sh: ${build_type} into ${build_dir}" >&2
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${build_type}" "$@" >/dev/null
cmake --build "$build_dir" -j "$jobs"

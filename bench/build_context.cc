// Linked into every benchmark binary (bench/CMakeLists.txt): puts the build
// that produced the figures into Google Benchmark's context block, so no
// figure is read without its build type and flags.

#include <benchmark/benchmark.h>

#ifndef JW_BUILD_TYPE
#define JW_BUILD_TYPE "unknown"
#endif
#ifndef JW_BUILD_FLAGS
#define JW_BUILD_FLAGS "unknown"
#endif

namespace {

const bool kBuildContext = [] {
  benchmark::AddCustomContext("build_type", JW_BUILD_TYPE);
  benchmark::AddCustomContext("cxx_flags", JW_BUILD_FLAGS);
#if defined(__OPTIMIZE__)
  benchmark::AddCustomContext("optimized", "yes");
#else
  benchmark::AddCustomContext("optimized", "no (figures are not meaningful)");
#endif
  return true;
}();

}  // namespace

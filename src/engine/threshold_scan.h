#pragma once

// The engine's fast path as one kernel: compares a table of usage rows
// (TickData::usage, one row of rctl::kResourceCount int64 per jail slot)
// with the compiled threshold columns and yields the slots where a column
// is over. Also the stream baseline the benchmarks compare it with: a sum
// over the same bytes, vectorised the same way.
//
// Kernels: explicit SIMD on x86-64 (AVX-512F, AVX2; chosen once at run time
// from CPUID) and a portable one for every other target (plain C++, GCC
// vector extensions for the sum), so the engine compiles and gives the same
// answers on FreeBSD/arm64. Every kernel returns exactly what kPortable
// returns (tests/engine/threshold_scan_test.cc).
//
// Private to the engine layer (and its tests and benchmarks). Thread-safe:
// pure functions over caller-owned memory.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace jailwarden::engine::internal {

// Up to 32 threshold columns per slot: a hit's mask has one bit per column.
inline constexpr std::size_t kMaxColumns = 32;

// One slot with at least one column over (or forced).
struct ScanHit {
  uint32_t slot;
  uint32_t mask;  // bit k: column k over, or forced
};

struct ThresholdColumns {
  const int64_t* usage = nullptr;  // `slots` rows of `stride` values
  std::size_t stride = 0;          // values per usage row
  std::size_t slots = 0;
  const int64_t* thresholds = nullptr;  // slots × k, row-major: slot s column
                                        // k is thresholds[s * k + k]
  std::size_t k = 0;                    // columns, 1..kMaxColumns
  const uint8_t* column = nullptr;  // k offsets into a usage row (< stride)
  const uint32_t* force = nullptr;  // per slot: bits OR-ed into the mask
};

enum class ScanKernel : uint8_t { kPortable, kAvx2, kAvx512 };

std::string_view ScanKernelName(ScanKernel kernel);
// Whether this build and this CPU can run `kernel`.
bool ScanKernelSupported(ScanKernel kernel);
// The fastest supported kernel, decided once per process.
ScanKernel BestScanKernel();

// Writes, in slot order, one ScanHit per slot s whose mask — bit k set when
// usage[s][column[k]] > thresholds[s][k] — OR force[s] is not zero; returns
// how many. `hits` must hold `in.slots` entries. `kernel` must be
// supported. No allocation.
std::size_t ScanThresholds(const ThresholdColumns& in, ScanHit* hits,
                           ScanKernel kernel);

// The sum of v[0, n) (wrapping): one pass over the bytes, the least any
// evaluation must pay. The stream baseline of bench/engine_bench.cc.
int64_t SumValues(const int64_t* v, std::size_t n, ScanKernel kernel);

}  // namespace jailwarden::engine::internal

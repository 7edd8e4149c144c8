#pragma once

// The engine's fast path as one kernel: compares the usage rows of a tick
// (TickData::usage: one row of rctl::kResourceCount int64 per jail slot,
// rows back to back) with the compiled threshold rows and yields the slots
// where some resource is over. Also the stream baseline the benchmarks
// compare it with: a sum over the same bytes, vectorised the same way.
//
// Layout: slots go in blocks of kBlockSlots. Eight usage rows are 200
// int64, exactly 25 AVX-512 vectors, so a block is compared as one
// straight stream against its threshold pattern: the eight slots'
// threshold rows back to back (same layout as the usage), INT64_MAX where a
// slot has no rule on a resource. Blocks with the same rows share one
// pattern (jails made from one template do), so the thresholds cost
// little memory traffic beyond the usage itself.
//
// Kernels: explicit SIMD on x86-64 (AVX-512F, AVX2; function-level target
// attributes, chosen once from CPUID) and a portable one for every other
// target (plain C++; GCC vector extensions for the sum), so the engine
// builds and answers the same on FreeBSD/arm64. Every kernel returns
// exactly what kPortable returns (tests/engine/threshold_scan_test.cc).
//
// Private to the engine layer (and its tests and benchmarks). Pure
// functions over caller-owned memory: thread-safe, no allocation.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace jailwarden::engine::internal {

inline constexpr std::size_t kRowValues = 25;  // rctl::kResourceCount
inline constexpr std::size_t kBlockSlots = 8;
inline constexpr std::size_t kPatternValues = kRowValues * kBlockSlots;

// One block's threshold rows, aligned for vector loads.
struct alignas(64) ThresholdPattern {
  int64_t v[kPatternValues];
};

// One slot with at least one resource over (or forced).
struct ScanHit {
  uint32_t slot;
  uint32_t mask;  // bit r: resource index r over, or forced
};

struct ThresholdBlocks {
  const int64_t* usage = nullptr;  // `slots` rows of kRowValues
  std::size_t slots = 0;
  const ThresholdPattern* patterns = nullptr;
  // Per block of kBlockSlots slots (the last one may be partial): its
  // pattern. Slot s is compared with
  // patterns[block_pattern[s / 8]].v[(s % 8) * 25 ...].
  const uint32_t* block_pattern = nullptr;
  const uint32_t* force = nullptr;  // per slot: bits OR-ed into the mask
  // Bit v: some pattern has a threshold other than INT64_MAX among values
  // [8v, 8v + 8). The vector kernels compare only those (the others can
  // never be over); LiveVectors() computes it. All ones is always right.
  uint32_t live = (1u << (kPatternValues / 8)) - 1;
};

// The `live` mask of `count` patterns.
uint32_t LiveVectors(const ThresholdPattern* patterns, std::size_t count);

enum class ScanKernel : uint8_t { kPortable, kAvx2, kAvx512 };

std::string_view ScanKernelName(ScanKernel kernel);
// Whether this build and this CPU can run `kernel`.
bool ScanKernelSupported(ScanKernel kernel);
// The fastest supported kernel, decided once per process.
ScanKernel BestScanKernel();

// Writes, in slot order, one ScanHit per slot whose mask — bit r set when
// usage[s][r] > its threshold — OR force[s] is not zero; returns how many.
// `hits` must hold `in.slots` entries. `kernel` must be supported.
std::size_t ScanThresholds(const ThresholdBlocks& in, ScanHit* hits,
                           ScanKernel kernel);

// The sum of v[0, n) (wrapping): one pass over the bytes, the least any
// evaluation must pay. The stream baseline of bench/engine_bench.cc.
int64_t SumValues(const int64_t* v, std::size_t n, ScanKernel kernel);

}  // namespace jailwarden::engine::internal

// The threshold scan and the stream sum: a portable kernel, and AVX2 and
// AVX-512F kernels compiled with function-level target attributes (the rest
// of the build keeps the baseline ISA) and chosen from CPUID at run time.

#include "engine/threshold_scan.h"

#include <algorithm>
#include <cstring>
#include <limits>

#if defined(__x86_64__) && defined(__GNUC__)
#define JW_SCAN_X86 1
#include <immintrin.h>
#else
#define JW_SCAN_X86 0
#endif

namespace jailwarden::engine::internal {
namespace {

// The exact mask of one slot (the definition; every kernel's slow part).
uint32_t SlotMask(const ThresholdBlocks& in, std::size_t s) {
  const int64_t* row = in.usage + s * kRowValues;
  const int64_t* t =
      in.patterns[in.block_pattern[s / kBlockSlots]].v + (s % kBlockSlots) * kRowValues;
  uint32_t m = in.force[s];
  for (std::size_t r = 0; r < kRowValues; ++r) {
    m |= static_cast<uint32_t>(row[r] > t[r]) << r;
  }
  return m;
}

// Slots [begin, end) one by one.
std::size_t ScanSlots(const ThresholdBlocks& in, std::size_t begin,
                      std::size_t end, ScanHit* hits, std::size_t n) {
  for (std::size_t s = begin; s < end; ++s) {
    const uint32_t m = SlotMask(in, s);
    if (m != 0) {
      hits[n++] = ScanHit{static_cast<uint32_t>(s), m};
    }
  }
  return n;
}

std::size_t ScanPortable(const ThresholdBlocks& in, ScanHit* hits) {
  return ScanSlots(in, 0, in.slots, hits, 0);
}

// GCC's generic vectors: lowered to whatever SIMD the target has (SSE2 on
// baseline x86-64, NEON on arm64), scalar otherwise.
using V4 = int64_t __attribute__((vector_size(32)));
using U64 = uint64_t;

int64_t SumPortable(const int64_t* v, std::size_t n) {
  V4 a{0, 0, 0, 0};
  V4 b{0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    V4 x;
    V4 y;
    std::memcpy(&x, v + i, sizeof(x));
    std::memcpy(&y, v + i + 4, sizeof(y));
    // Wrapping adds: vector integer arithmetic in GCC wraps.
    a += x;
    b += y;
  }
  a += b;
  U64 sum = static_cast<U64>(a[0]) + static_cast<U64>(a[1]) +
            static_cast<U64>(a[2]) + static_cast<U64>(a[3]);
  for (; i < n; ++i) {
    sum += static_cast<U64>(v[i]);
  }
  return static_cast<int64_t>(sum);
}

#if JW_SCAN_X86

bool BlockForced(const ThresholdBlocks& in, std::size_t first) {
  uint32_t f = 0;
  for (std::size_t i = 0; i < kBlockSlots; ++i) {
    f |= in.force[first + i];
  }
  return f != 0;
}

// A whole block as one stream: 25 vectors of usage against 25 of the
// pattern, OR-ed; only a block with something over (or forced) is looked
// at slot by slot.
__attribute__((target("avx2"))) std::size_t ScanAvx2(
    const ThresholdBlocks& in, ScanHit* hits) {
  const std::size_t full = in.slots / kBlockSlots;
  const bool all = in.live == (1u << (kPatternValues / 8)) - 1;
  std::size_t n = 0;
  for (std::size_t blk = 0; blk < full; ++blk) {
    const std::size_t first = blk * kBlockSlots;
    const __m256i* u =
        reinterpret_cast<const __m256i*>(in.usage + first * kRowValues);
    const __m256i* p =
        reinterpret_cast<const __m256i*>(in.patterns[in.block_pattern[blk]].v);
    __m256i any0 = _mm256_setzero_si256();
    __m256i any1 = _mm256_setzero_si256();
    if (all) {
#pragma GCC unroll 32
      for (std::size_t v = 0; v < kPatternValues / 4; v += 2) {
        any0 = _mm256_or_si256(
            any0, _mm256_cmpgt_epi64(_mm256_loadu_si256(u + v),
                                     _mm256_load_si256(p + v)));
        any1 = _mm256_or_si256(
            any1, _mm256_cmpgt_epi64(_mm256_loadu_si256(u + v + 1),
                                     _mm256_load_si256(p + v + 1)));
      }
    } else {
      for (uint32_t live = in.live; live != 0; live &= live - 1) {
        const std::size_t v = 2 * static_cast<std::size_t>(__builtin_ctz(live));
        any0 = _mm256_or_si256(
            any0, _mm256_cmpgt_epi64(_mm256_loadu_si256(u + v),
                                     _mm256_load_si256(p + v)));
        any1 = _mm256_or_si256(
            any1, _mm256_cmpgt_epi64(_mm256_loadu_si256(u + v + 1),
                                     _mm256_load_si256(p + v + 1)));
      }
    }
    const __m256i any = _mm256_or_si256(any0, any1);
    if (!_mm256_testz_si256(any, any) || BlockForced(in, first))
        [[unlikely]] {
      n = ScanSlots(in, first, first + kBlockSlots, hits, n);
    }
  }
  return ScanSlots(in, full * kBlockSlots, in.slots, hits, n);
}

__attribute__((target("avx512f"))) std::size_t ScanAvx512(
    const ThresholdBlocks& in, ScanHit* hits) {
  const std::size_t full = in.slots / kBlockSlots;
  const bool all = in.live == (1u << (kPatternValues / 8)) - 1;
  std::size_t n = 0;
  for (std::size_t blk = 0; blk < full; ++blk) {
    const std::size_t first = blk * kBlockSlots;
    const int64_t* u = in.usage + first * kRowValues;
    const int64_t* p = in.patterns[in.block_pattern[blk]].v;
    __mmask8 any0 = 0;
    __mmask8 any1 = 0;
    if (all) {
      std::size_t v = 0;
#pragma GCC unroll 16
      for (; v + 16 <= kPatternValues; v += 16) {
        any0 |= _mm512_cmpgt_epi64_mask(_mm512_loadu_si512(u + v),
                                        _mm512_load_si512(p + v));
        any1 |= _mm512_cmpgt_epi64_mask(_mm512_loadu_si512(u + v + 8),
                                        _mm512_load_si512(p + v + 8));
      }
      any0 |= _mm512_cmpgt_epi64_mask(_mm512_loadu_si512(u + v),
                                      _mm512_load_si512(p + v));
    } else {
      for (uint32_t live = in.live; live != 0; live &= live - 1) {
        const std::size_t v = 8 * static_cast<std::size_t>(__builtin_ctz(live));
        any0 |= _mm512_cmpgt_epi64_mask(_mm512_loadu_si512(u + v),
                                        _mm512_load_si512(p + v));
      }
    }
    const __m256i f = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(in.force + first));
    if ((any0 | any1) != 0 || !_mm256_testz_si256(f, f)) [[unlikely]] {
      n = ScanSlots(in, first, first + kBlockSlots, hits, n);
    }
  }
  return ScanSlots(in, full * kBlockSlots, in.slots, hits, n);
}

__attribute__((target("avx2"))) int64_t SumAvx2(const int64_t* v,
                                                std::size_t n) {
  __m256i a = _mm256_setzero_si256();
  __m256i b = _mm256_setzero_si256();
  __m256i c = _mm256_setzero_si256();
  __m256i d = _mm256_setzero_si256();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a = _mm256_add_epi64(a, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + i)));
    b = _mm256_add_epi64(b, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + i + 4)));
    c = _mm256_add_epi64(c, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + i + 8)));
    d = _mm256_add_epi64(d, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + i + 12)));
  }
  a = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
  U64 sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; i < n; ++i) {
    sum += static_cast<U64>(v[i]);
  }
  return static_cast<int64_t>(sum);
}

__attribute__((target("avx512f"))) int64_t SumAvx512(const int64_t* v,
                                                     std::size_t n) {
  __m512i a = _mm512_setzero_si512();
  __m512i b = _mm512_setzero_si512();
  __m512i c = _mm512_setzero_si512();
  __m512i d = _mm512_setzero_si512();
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a = _mm512_add_epi64(a, _mm512_loadu_si512(v + i));
    b = _mm512_add_epi64(b, _mm512_loadu_si512(v + i + 8));
    c = _mm512_add_epi64(c, _mm512_loadu_si512(v + i + 16));
    d = _mm512_add_epi64(d, _mm512_loadu_si512(v + i + 24));
  }
  a = _mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d));
  if (i < n) {
    // At most 31 left: three full vectors and a masked tail.
    for (; i + 8 <= n; i += 8) {
      a = _mm512_add_epi64(a, _mm512_loadu_si512(v + i));
    }
    const __mmask8 tail = static_cast<__mmask8>((1u << (n - i)) - 1);
    a = _mm512_add_epi64(a, _mm512_maskz_loadu_epi64(tail, v + i));
  }
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, a);
  U64 sum = 0;
  for (uint64_t x : lanes) {
    sum += x;
  }
  return static_cast<int64_t>(sum);
}

#endif  // JW_SCAN_X86

}  // namespace

std::string_view ScanKernelName(ScanKernel kernel) {
  switch (kernel) {
    case ScanKernel::kPortable:
      return "portable";
    case ScanKernel::kAvx2:
      return "avx2";
    case ScanKernel::kAvx512:
      return "avx512f";
  }
  return "?";
}

bool ScanKernelSupported(ScanKernel kernel) {
  switch (kernel) {
    case ScanKernel::kPortable:
      return true;
    case ScanKernel::kAvx2:
#if JW_SCAN_X86
      return __builtin_cpu_supports("avx2");
#else
      return false;
#endif
    case ScanKernel::kAvx512:
#if JW_SCAN_X86
      return __builtin_cpu_supports("avx512f");
#else
      return false;
#endif
  }
  return false;
}

ScanKernel BestScanKernel() {
  static const ScanKernel best = [] {
    if (ScanKernelSupported(ScanKernel::kAvx512)) {
      return ScanKernel::kAvx512;
    }
    if (ScanKernelSupported(ScanKernel::kAvx2)) {
      return ScanKernel::kAvx2;
    }
    return ScanKernel::kPortable;
  }();
  return best;
}

uint32_t LiveVectors(const ThresholdPattern* patterns, std::size_t count) {
  uint32_t live = 0;
  for (std::size_t q = 0; q < count; ++q) {
    for (std::size_t i = 0; i < kPatternValues; ++i) {
      if (patterns[q].v[i] != std::numeric_limits<int64_t>::max()) {
        live |= 1u << (i / 8);
      }
    }
  }
  return live;
}

std::size_t ScanThresholds(const ThresholdBlocks& in, ScanHit* hits,
                           ScanKernel kernel) {
  switch (kernel) {
    case ScanKernel::kPortable:
      break;
    case ScanKernel::kAvx2:
#if JW_SCAN_X86
      return ScanAvx2(in, hits);
#else
      break;
#endif
    case ScanKernel::kAvx512:
#if JW_SCAN_X86
      return ScanAvx512(in, hits);
#else
      break;
#endif
  }
  return ScanPortable(in, hits);
}

int64_t SumValues(const int64_t* v, std::size_t n, ScanKernel kernel) {
  switch (kernel) {
    case ScanKernel::kPortable:
      break;
    case ScanKernel::kAvx2:
#if JW_SCAN_X86
      return SumAvx2(v, n);
#else
      break;
#endif
    case ScanKernel::kAvx512:
#if JW_SCAN_X86
      return SumAvx512(v, n);
#else
      break;
#endif
  }
  return SumPortable(v, n);
}

}  // namespace jailwarden::engine::internal

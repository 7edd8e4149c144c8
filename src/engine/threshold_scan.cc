// The threshold scan and the stream sum: a portable kernel, and AVX2 and
// AVX-512F kernels compiled with function-level target attributes (the rest
// of the build keeps the baseline ISA) and chosen from CPUID at run time.

#include "engine/threshold_scan.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#define JW_SCAN_X86 1
#include <immintrin.h>
#else
#define JW_SCAN_X86 0
#endif

namespace jailwarden::engine::internal {
namespace {

bool IsIdentity(const ThresholdColumns& in) {
  for (std::size_t k = 0; k < in.k; ++k) {
    if (in.column[k] != k) {
      return false;
    }
  }
  return true;
}

std::size_t ScanPortable(const ThresholdColumns& in, ScanHit* hits) {
  std::size_t n = 0;
  const std::size_t kc = in.k;
  for (std::size_t s = 0; s < in.slots; ++s) {
    const int64_t* row = in.usage + s * in.stride;
    const int64_t* t = in.thresholds + s * kc;
    uint32_t m = in.force[s];
    for (std::size_t k = 0; k < kc; ++k) {
      m |= static_cast<uint32_t>(row[in.column[k]] > t[k]) << k;
    }
    // Branch-free append: n <= s < slots, so hits[n] is in bounds.
    hits[n] = ScanHit{static_cast<uint32_t>(s), m};
    n += m != 0 ? 1 : 0;
  }
  return n;
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

__attribute__((target("avx2"))) std::size_t ScanAvx2(
    const ThresholdColumns& in, ScanHit* hits) {
  const std::size_t kc = in.k;
  const std::size_t nvec = (kc + 3) / 4;
  alignas(32) long long index[kMaxColumns] = {};
  alignas(32) long long lanes[kMaxColumns] = {};
  for (std::size_t k = 0; k < kc; ++k) {
    index[k] = in.column[k];
    lanes[k] = -1;
  }
  __m256i idx[kMaxColumns / 4];
  __m256i lm[kMaxColumns / 4];
  for (std::size_t v = 0; v < nvec; ++v) {
    idx[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(index + 4 * v));
    lm[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes + 4 * v));
  }
  const bool identity = IsIdentity(in);
  const __m256i zero = _mm256_setzero_si256();
  std::size_t n = 0;
  for (std::size_t s = 0; s < in.slots; ++s) {
    const long long* row =
        reinterpret_cast<const long long*>(in.usage + s * in.stride);
    const long long* t =
        reinterpret_cast<const long long*>(in.thresholds + s * kc);
    uint32_t m = in.force[s];
    for (std::size_t v = 0; v < nvec; ++v) {
      // Masked-off lanes load 0 on both sides: 0 > 0 is false.
      const __m256i tv = _mm256_maskload_epi64(t + 4 * v, lm[v]);
      const __m256i uv =
          identity ? _mm256_maskload_epi64(row + 4 * v, lm[v])
                   : _mm256_mask_i64gather_epi64(zero, row, idx[v], lm[v], 8);
      const __m256i gt = _mm256_cmpgt_epi64(uv, tv);
      m |= static_cast<uint32_t>(_mm256_movemask_pd(_mm256_castsi256_pd(gt)))
           << (4 * v);
    }
    hits[n] = ScanHit{static_cast<uint32_t>(s), m};
    n += m != 0 ? 1 : 0;
  }
  return n;
}

__attribute__((target("avx512f"))) std::size_t ScanAvx512(
    const ThresholdColumns& in, ScanHit* hits) {
  const std::size_t kc = in.k;
  const std::size_t nvec = (kc + 7) / 8;
  alignas(64) long long index[kMaxColumns] = {};
  for (std::size_t k = 0; k < kc; ++k) {
    index[k] = in.column[k];
  }
  __m512i idx[kMaxColumns / 8];
  __mmask8 lm[kMaxColumns / 8];
  for (std::size_t v = 0; v < nvec; ++v) {
    idx[v] = _mm512_load_si512(index + 8 * v);
    const std::size_t lanes = std::min<std::size_t>(8, kc - 8 * v);
    lm[v] = static_cast<__mmask8>((1u << lanes) - 1);
  }
  const bool identity = IsIdentity(in);
  const __m512i zero = _mm512_setzero_si512();
  std::size_t n = 0;
  for (std::size_t s = 0; s < in.slots; ++s) {
    const int64_t* row = in.usage + s * in.stride;
    const int64_t* t = in.thresholds + s * kc;
    uint32_t m = in.force[s];
    for (std::size_t v = 0; v < nvec; ++v) {
      const __m512i tv = _mm512_maskz_loadu_epi64(lm[v], t + 8 * v);
      const __m512i uv =
          identity ? _mm512_maskz_loadu_epi64(lm[v], row + 8 * v)
                   : _mm512_mask_i64gather_epi64(zero, lm[v], idx[v], row, 8);
      m |= static_cast<uint32_t>(_mm512_mask_cmpgt_epi64_mask(lm[v], uv, tv))
           << (8 * v);
    }
    hits[n] = ScanHit{static_cast<uint32_t>(s), m};
    n += m != 0 ? 1 : 0;
  }
  return n;
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

std::size_t ScanThresholds(const ThresholdColumns& in, ScanHit* hits,
                           ScanKernel kernel) {
  if (in.slots == 0 || in.k == 0) {
    // No column: only the forced slots.
    std::size_t n = 0;
    for (std::size_t s = 0; s < in.slots; ++s) {
      if (in.force[s] != 0) {
        hits[n++] = ScanHit{static_cast<uint32_t>(s), in.force[s]};
      }
    }
    return n;
  }
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

// Replaces the global operator new for this test binary so tests can show
// that a warm hot path does not allocate.

#include <cstdlib>
#include <new>

#include "platform_freebsd/test_util.h"

namespace {
thread_local bool g_counting = false;
thread_local std::size_t g_count = 0;
}  // namespace

void* operator new(std::size_t n) {
  if (g_counting) ++g_count;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace jailwarden::platform::testing {

AllocationCounter::AllocationCounter() {
  g_count = 0;
  g_counting = true;
}
AllocationCounter::~AllocationCounter() { g_counting = false; }
std::size_t AllocationCounter::count() const { return g_count; }

}  // namespace jailwarden::platform::testing

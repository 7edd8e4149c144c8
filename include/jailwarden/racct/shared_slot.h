#pragma once

// A shared_ptr that one thread publishes and any thread reads: the
// snapshot and engine-state pointer swap. The lock is held only to copy or
// swap the pointer (never while a tick runs), and the previous object is
// released outside it, so a reader never waits on sampling. Used instead
// of std::atomic<std::shared_ptr>, whose libstdc++ 12 lock bit
// ThreadSanitizer cannot see; std::mutex rather than absl::Mutex because
// Debian's prebuilt abseil is not TSan-instrumented either.

#include <memory>
#include <mutex>
#include <utility>

namespace jailwarden::racct {

template <typename T>
class SharedSlot {
 public:
  std::shared_ptr<T> Load() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ptr_;
  }
  void Store(std::shared_ptr<T> ptr) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ptr_.swap(ptr);
    }
    // `ptr` (the previous value) is released here, outside the lock.
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<T> ptr_;  // guarded by mu_
};

}  // namespace jailwarden::racct

#pragma once

// metrics::PagePool: the buffers /metrics pages are rendered into, reused
// between scrapes. A render takes a buffer (Acquire), the HTTP server sends
// it without copying (service::ServeMetrics wraps it in an api::ResponseBody)
// and gives it back once the last byte went out (Release). At most `max_idle` buffers wait between scrapes,
// so N concurrent scrapes hold N pages only while they are in flight.
// Reusing a buffer reserved to the largest page seen means a render never
// grows a string by doubling (which leaves freed halves of a page in the
// malloc arenas after every scrape). Thread-safe.

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace jailwarden::metrics {

class PagePool {
 public:
  // Keeps at most `max_idle` buffers between scrapes (0: none).
  static std::shared_ptr<PagePool> Create(std::size_t max_idle = 2);

  // An empty buffer: an idle one, else a new one reserved to the largest
  // text released so far. Never fails (std::bad_alloc aside).
  std::string Acquire();
  // Takes `buffer` back: kept (cleared, capacity intact) while fewer than
  // max_idle wait, freed otherwise.
  void Release(std::string&& buffer);
  struct Stats {
    std::size_t idle = 0;         // buffers waiting now
    std::size_t outstanding = 0;  // acquired and not yet released
    std::size_t created = 0;      // buffers made since Create (a reuse is not one)
    std::size_t largest = 0;      // bytes: the largest text released
  };
  Stats stats() const;

 private:
  explicit PagePool(std::size_t max_idle) : max_idle_(max_idle) {}

  const std::size_t max_idle_;
  mutable std::mutex mu_;
  std::vector<std::string> idle_;  // guarded by mu_
  Stats stats_;                    // guarded by mu_ (idle: idle_.size())
};

}  // namespace jailwarden::metrics

#include "metrics/page_pool.h"

#include <algorithm>
#include <utility>

namespace jailwarden::metrics {

std::shared_ptr<PagePool> PagePool::Create(std::size_t max_idle) {
  return std::shared_ptr<PagePool>(new PagePool(max_idle));
}

std::string PagePool::Acquire() {
  std::size_t reserve = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.outstanding;
    if (!idle_.empty()) {
      std::string out = std::move(idle_.back());
      idle_.pop_back();
      return out;
    }
    ++stats_.created;
    reserve = stats_.largest;
  }
  std::string out;
  // A little headroom: the next page is usually a few series longer.
  if (reserve > 0) out.reserve(reserve + reserve / 16);
  return out;
}

void PagePool::Release(std::string&& buffer) {
  std::string drop;  // freed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stats_.outstanding > 0) --stats_.outstanding;
    stats_.largest = std::max(stats_.largest, buffer.size());
    buffer.clear();
    if (idle_.size() < max_idle_) {
      idle_.push_back(std::move(buffer));
    } else {
      drop = std::move(buffer);
    }
  }
}

PagePool::Stats PagePool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  s.idle = idle_.size();
  return s;
}

}  // namespace jailwarden::metrics

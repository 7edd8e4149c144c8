#include "metrics/prometheus_adapter.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <vector>

#include "jailwarden/base/log.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"

namespace jailwarden::metrics {
namespace {

std::atomic<int64_t> last_warning_s{0};

void WarnRateLimited(std::string_view what) {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = last_warning_s.load(std::memory_order_relaxed);
  if (now - last < 60 && last != 0) {
    return;
  }
  if (last_warning_s.compare_exchange_strong(last, now)) {
    LogWarning("metrics: prometheus-cpp collectable failed", {{"error", std::string(what)}});
  }
}

}  // namespace

void AppendCollectableText(prometheus::Collectable& collectable, std::string& out) {
  try {
    const std::vector<prometheus::MetricFamily> families = collectable.Collect();
    out.append(prometheus::TextSerializer().Serialize(families));
  } catch (const std::exception& e) {
    WarnRateLimited(e.what());
  } catch (...) {
    WarnRateLimited("unknown exception");
  }
}

}  // namespace jailwarden::metrics

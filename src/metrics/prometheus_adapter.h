#pragma once

// The one place metrics calls prometheus-cpp (style.md: third-party code that
// throws is wrapped in one adapter file).

#include <string>

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace jailwarden::metrics {

// Appends `collectable`'s families in classic text format to `out`. On an
// exception from prometheus-cpp, appends nothing and logs a warning
// (rate-limited to one per minute).
void AppendCollectableText(prometheus::Collectable& collectable, std::string& out);

}  // namespace jailwarden::metrics

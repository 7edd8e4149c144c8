// Prints one /metrics page rendered from fake but complete data (every
// family the collector has; tests/metrics/full_fixture.h), for
// `promtool check metrics` and for eyes.
// Usage: metrics_render_fixture [renders [openmetrics]]
//   (the last render is printed; "openmetrics": as served to a scraper
//   that asks for OpenMetrics)

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "metrics/exposition.h"
#include "metrics/full_fixture.h"

using namespace jailwarden;  // NOLINT: a test program

int main(int argc, char** argv) {
  const int renders = argc > 1 ? std::atoi(argv[1]) : 2;
  metrics::testing::FullFixture fixture;
  metrics::MetricsCollector collector(fixture.Sources(), {.backend = "fake"});
  std::string text;
  for (int i = 0; i < renders; ++i) {
    collector.RenderInto(text);
  }
  if (argc > 2 && std::string_view(argv[2]) == "openmetrics") {
    std::string om;
    metrics::ClassicToOpenMetrics(text, om);
    text.swap(om);
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

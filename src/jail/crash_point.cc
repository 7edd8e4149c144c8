#include "jailwarden/jail/crash_point.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "jailwarden/base/log.h"

namespace jailwarden::jail {
namespace {

struct Armed {
  bool on = false;
  std::string name;
  long nth = 0;
  std::atomic<long> seen{0};
};

Armed& Load() {
  static Armed* armed = [] {
    auto* a = new Armed;
    const char* env = std::getenv("JW_CRASH_AT");
    if (env == nullptr || *env == '\0') return a;
    const std::string text = env;
    const std::size_t colon = text.rfind(':');
    long n = 0;
    char* end = nullptr;
    if (colon != std::string::npos && colon + 1 < text.size()) {
      n = std::strtol(text.c_str() + colon + 1, &end, 10);
    }
    if (colon == std::string::npos || colon == 0 || end == nullptr || *end != '\0' || n < 1) {
      LogWarning("JW_CRASH_AT ignored: not <step-name>:<n> with n >= 1", {{"value", text}});
      return a;
    }
    a->name = text.substr(0, colon);
    a->nth = n;
    a->on = true;
    LogInfo("crash point armed", {{"step", a->name}, {"n", std::to_string(n)}});
    return a;
  }();
  return *armed;
}

}  // namespace

void CrashPoint(std::string_view name) {
  Armed& a = Load();
  if (!a.on || name != a.name) return;
  if (a.seen.fetch_add(1, std::memory_order_relaxed) + 1 == a.nth) {
    _exit(137);
  }
}

}  // namespace jailwarden::jail

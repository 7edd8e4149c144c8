// internal::Loader: a jail's `healthcheck:` (issue 17: health checks).

#include <set>

#include "jailwarden/base/strings.h"
#include "policy/loader_impl.h"

namespace jailwarden::policy {

std::string_view HealthActionName(HealthAction action) {
  switch (action) {
    case HealthAction::kNone:
      return "none";
    case HealthAction::kRestart:
      return "restart";
    case HealthAction::kStop:
      return "stop";
  }
  return "none";
}

namespace internal {

void Loader::ReadHealthCheck(const YamlNode& value, const std::string& what, JailPolicy* jail,
                             JailExtras* x) {
  if (!ExpectMap(value, what, x)) return;
  CheckKeys(value, Keys(kHealthCheckKeys), what);
  HealthCheckPolicy hc;
  bool ok = true;
  const YamlNode* command = value.Find("command");
  if (command == nullptr || command->IsNull()) {
    ErrorOnce(value.position, StrCat(what, ": 'command' is required"), x);
    ok = false;
  } else if (command->IsScalar()) {
    if (StripWhitespace(command->scalar).empty()) {
      ErrorOnce(command->position, StrCat("'command' in ", what, ": empty command"), x);
      ok = false;
    } else {
      hc.argv = {"/bin/sh", "-c", command->scalar};
    }
  } else if (auto list = GetStringList(*command, StrCat("'command' in ", what), x)) {
    for (const auto& [arg, pos] : *list) hc.argv.push_back(arg);
    if (hc.argv.empty() || StripWhitespace(hc.argv[0]).empty()) {
      ErrorOnce(command->position, StrCat("'command' in ", what, ": empty command"), x);
      ok = false;
    }
  } else {
    ok = false;
  }
  auto duration = [&](std::string_view key, absl::Duration min, absl::Duration max,
                      absl::Duration* out) {
    const YamlNode* n = value.Find(key);
    if (n == nullptr || n->IsNull()) return;
    if (auto d = GetDuration(*n, StrCat(Quote(key), " in ", what), min, max, true, x)) {
      *out = *d;
    } else {
      ok = false;
    }
  };
  duration("interval", absl::Seconds(1), absl::Hours(24), &hc.interval);
  duration("timeout", absl::Milliseconds(100), absl::Hours(1), &hc.timeout);
  duration("start_period", absl::ZeroDuration(), absl::Hours(24), &hc.start_period);
  if (const YamlNode* n = value.Find("retries"); n != nullptr && !n->IsNull()) {
    if (auto r = GetInt(*n, StrCat("'retries' in ", what), 1, 100, x)) {
      hc.retries = *r;
    } else {
      ok = false;
    }
  }
  if (const YamlNode* n = value.Find("on_failure"); n != nullptr && !n->IsNull()) {
    if (auto a = GetString(*n, StrCat("'on_failure' in ", what), x)) {
      if (*a == "restart") {
        hc.on_failure = HealthAction::kRestart;
      } else if (*a == "stop") {
        hc.on_failure = HealthAction::kStop;
      } else if (*a == "none") {
        hc.on_failure = HealthAction::kNone;
      } else {
        ErrorOnce(n->position,
                  StrCat("'on_failure' in ", what, ": expected restart, stop or none, got ",
                         Quote(*a)),
                  x);
        ok = false;
      }
    } else {
      ok = false;
    }
  }
  // One check at a time per jail: a timeout longer than the interval
  // would only ever be cut short.
  if (ok && hc.timeout > hc.interval) {
    const YamlNode* n = value.Find("timeout");
    ErrorOnce(n != nullptr ? n->position : value.position,
              StrCat("'timeout' in ", what, ": ", absl::FormatDuration(hc.timeout),
                     " is longer than the interval (", absl::FormatDuration(hc.interval), ")"),
              x);
    ok = false;
  }
  if (ok) jail->healthcheck = std::move(hc);
}

}  // namespace internal
}  // namespace jailwarden::policy

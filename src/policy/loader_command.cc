// internal::Loader: a jail's supervised main process and its logs (issue
// 17): `command`, `restart`, `restart_backoff`, `restart_limit`, `log`.
// Every bad value is reported at its own file:line:col and leaves the
// defaults of platform::MainSpec / platform::LogSpec in place (the policy as
// a whole is refused anyway).

#include <cstdint>
#include <string>

#include "jailwarden/base/strings.h"
#include "jailwarden/base/units.h"
#include "policy/loader_impl.h"

namespace jailwarden::policy::internal {
namespace {

constexpr std::string_view kBackoffKeys[] = {"initial", "max"};
constexpr std::string_view kLimitKeys[] = {"count", "window"};
constexpr std::string_view kLogKeys[] = {"max_size", "max_files"};

// log.max_size bounds: below 4K a line may not fit; 1G per file is already
// far beyond what anyone reads with `jailwarden logs`.
constexpr int64_t kMinLogSize = 4096;
constexpr int64_t kMaxLogSize = int64_t{1} << 30;

}  // namespace

bool Loader::ReadCommandKey(const std::string& key, const YamlNode& value,
                            const std::string& what, platform::JailSpec* spec,
                            JailExtras* x) {
  platform::MainSpec& m = spec->main;
  if (key == "command") {
    if (value.IsScalar()) {
      if (StripWhitespace(value.scalar).empty()) {
        ErrorOnce(value.position, StrCat(what, ": empty command"), x);
      } else {
        m.argv = {"/bin/sh", "-c", value.scalar};
      }
    } else if (value.IsSequence()) {
      auto list = GetStringList(value, what, x);
      if (!list) {
        return true;
      }
      if (list->empty()) {
        ErrorOnce(value.position,
                  StrCat(what, ": expected a command line or a non-empty list "
                               "(argv), got an empty list"),
                  x);
        return true;
      }
      if ((*list)[0].first.empty()) {
        ErrorOnce((*list)[0].second, StrCat(what, ": argv[0] is empty"), x);
        return true;
      }
      std::vector<std::string> argv;
      for (const auto& [arg, pos] : *list) {
        argv.push_back(arg);
      }
      m.argv = std::move(argv);
    } else {
      ErrorOnce(value.position,
                StrCat(what, ": expected a command line (run with /bin/sh -c) "
                             "or a list (argv), got ",
                       Found(value)),
                x);
    }
    return true;
  }
  if (key == "restart") {
    if (auto s = GetString(value, what, x)) {
      if (*s == "no" || *s == "false") {
        m.restart = platform::RestartPolicy::kNo;
      } else if (*s == "on-failure") {
        m.restart = platform::RestartPolicy::kOnFailure;
      } else if (*s == "always") {
        m.restart = platform::RestartPolicy::kAlways;
      } else {
        ErrorOnce(value.position,
                  StrCat(what, ": expected no, on-failure or always, got ", Quote(*s)),
                  x);
      }
    }
    return true;
  }
  if (key == "restart_backoff") {
    if (!ExpectMap(value, what, x)) {
      return true;
    }
    CheckKeys(value, Keys(kBackoffKeys), what);
    absl::Duration initial = m.backoff_initial, max = m.backoff_max;
    if (const YamlNode* n = value.Find("initial"); n != nullptr && !n->IsNull()) {
      if (auto d = GetDuration(*n, StrCat(what, " initial"), absl::Milliseconds(10),
                               absl::Hours(1), false, x)) {
        initial = *d;
      }
    }
    const YamlNode* max_node = value.Find("max");
    if (max_node != nullptr && !max_node->IsNull()) {
      if (auto d = GetDuration(*max_node, StrCat(what, " max"), absl::Milliseconds(10),
                               absl::Hours(24), false, x)) {
        max = *d;
      }
    }
    if (max < initial) {
      ErrorOnce(max_node != nullptr ? max_node->position : value.position,
                StrCat(what, ": max (", absl::FormatDuration(max),
                       ") is below initial (", absl::FormatDuration(initial), ")"),
                x);
    } else {
      m.backoff_initial = initial;
      m.backoff_max = max;
    }
    return true;
  }
  if (key == "restart_limit") {
    if (!ExpectMap(value, what, x)) {
      return true;
    }
    CheckKeys(value, Keys(kLimitKeys), what);
    if (const YamlNode* n = value.Find("count"); n != nullptr && !n->IsNull()) {
      if (auto c = GetInt(*n, StrCat(what, " count"), 1, 10000, x)) {
        m.limit_count = static_cast<int>(*c);
      }
    }
    if (const YamlNode* n = value.Find("window"); n != nullptr && !n->IsNull()) {
      if (auto d = GetDuration(*n, StrCat(what, " window"), absl::Seconds(1),
                               absl::Hours(24 * 7), true, x)) {
        m.limit_window = *d;
      }
    }
    return true;
  }
  if (key == "log") {
    if (!ExpectMap(value, what, x)) {
      return true;
    }
    CheckKeys(value, Keys(kLogKeys), what);
    if (const YamlNode* n = value.Find("max_size"); n != nullptr && !n->IsNull()) {
      const std::string size_what = StrCat(what, " max_size");
      if (auto s = GetString(*n, size_what, x)) {
        absl::StatusOr<uint64_t> v = ExpandNumber(*s);
        if (!v.ok() || s->find('-') != std::string::npos ||
            *v < static_cast<uint64_t>(kMinLogSize) || *v > static_cast<uint64_t>(kMaxLogSize)) {
          ErrorOnce(n->position,
                    StrCat(size_what, ": expected a size from 4K to 1G (e.g. 10M), got ",
                           Quote(*s)),
                    x);
        } else {
          spec->log.max_size = static_cast<int64_t>(*v);
        }
      }
    }
    if (const YamlNode* n = value.Find("max_files"); n != nullptr && !n->IsNull()) {
      if (auto c = GetInt(*n, StrCat(what, " max_files"), 1, 100, x)) {
        spec->log.max_files = static_cast<int>(*c);
      }
    }
    return true;
  }
  return false;
}

}  // namespace jailwarden::policy::internal

// internal::Loader's shared helpers: errors with their YAML position (one
// per position), key checks with suggestions, and the typed scalar readers
// every section uses.

#include <algorithm>
#include <iterator>

#include "absl/time/time.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"
#include "policy/loader_impl.h"

namespace jailwarden::policy::internal {

void Loader::Error(Position p, std::string message) {
  if (!reported_positions_.insert({p.line, p.column}).second) {
    return;
  }
  errors_.push_back({filename_, p.line, p.column, std::move(message)});
}

void Loader::ErrorOnce(Position p, std::string message, JailExtras* extras) {
  if (extras != nullptr) {
    extras->has_errors = true;
  }
  Error(p, std::move(message));
}

void Loader::CheckKeys(const YamlNode& map,
                       const std::vector<std::string_view>& allowed,
                       std::string_view context,
                       std::string_view expected_text) {
  std::map<std::string, Position> seen;
  for (const auto& [key, value] : map.entries) {
    if (!key.IsScalar()) {
      Error(key.position,
            StrCat("expected a plain key in ", context, ", got ", Found(key)));
      continue;
    }
    if (auto [it, inserted] = seen.emplace(key.scalar, key.position);
        !inserted) {
      Error(key.position,
            StrCat("duplicate key ", Quote(key.scalar), " in ", context,
                   " (first at ", PosText(it->second), ")"));
      continue;
    }
    if (allowed.empty() || std::find(allowed.begin(), allowed.end(),
                                     key.scalar) != allowed.end()) {
      continue;
    }
    std::string message =
        StrCat("unknown key ", Quote(key.scalar), " in ", context, "; ");
    const bool family = std::find(std::begin(kFamilies), std::end(kFamilies),
                                  key.scalar) != std::end(kFamilies);
    if (family && value.IsMap() && !value.entries.empty() &&
        value.entries.front().first.IsScalar()) {
      StrAppend(&message, "write jail(8) parameters flat, e.g. '", key.scalar,
                ".", value.entries.front().first.scalar, ": ...'");
    } else if (const std::string s = Suggest(key.scalar, allowed); !s.empty()) {
      if (s.front() == '(') {
        StrAppend(&message, "the name is ", s);
      } else {
        StrAppend(&message, "did you mean ", Quote(s), "?");
      }
    } else if (!expected_text.empty()) {
      StrAppend(&message, "expected one of: ", expected_text);
    } else {
      StrAppend(&message, "expected one of: ", Join(allowed, ", "));
    }
    Error(key.position, std::move(message));
  }
}

std::optional<std::string> Loader::GetString(const YamlNode& n,
                                             std::string_view what,
                                             JailExtras* x) {
  if (!n.IsScalar()) {
    ErrorOnce(n.position, StrCat(what, ": expected a string, got ", Found(n)),
              x);
    return std::nullopt;
  }
  return n.scalar;
}

std::optional<bool> Loader::GetBool(const YamlNode& n, std::string_view what,
                                    JailExtras* x) {
  if (n.IsScalar()) {
    const std::string v = AsciiToLower(n.scalar);
    if (v == "true" || v == "yes" || v == "on") {
      return true;
    }
    if (v == "false" || v == "no" || v == "off") {
      return false;
    }
  }
  ErrorOnce(n.position,
            StrCat(what, ": expected true or false, got ", Found(n)), x);
  return std::nullopt;
}

std::optional<int64_t> Loader::GetInt(const YamlNode& n, std::string_view what,
                                      int64_t min, int64_t max, JailExtras* x) {
  std::optional<int64_t> v;
  if (n.IsScalar()) {
    v = ParseInt<int64_t>(n.scalar);
  }
  if (!v.has_value() || *v < min || *v > max) {
    ErrorOnce(n.position,
              StrCat(what, ": expected an integer from ", min, " to ", max,
                     ", got ", Found(n)),
              x);
    return std::nullopt;
  }
  return v;
}

std::optional<absl::Duration> Loader::GetDuration(
    const YamlNode& n, std::string_view what, absl::Duration min,
    absl::Duration max, bool bare_seconds, JailExtras* x) {
  absl::Duration d;
  bool ok = false;
  if (n.IsScalar()) {
    const std::string_view text = StripWhitespace(n.scalar);
    if (const std::optional<int64_t> secs = ParseInt<int64_t>(text);
        secs.has_value()) {
      ok = bare_seconds && *secs >= 0 && *secs <= 1000000000;
      d = absl::Seconds(ok ? *secs : 0);
    } else {
      ok = absl::ParseDuration(ToAbsl(text), &d) &&
           d != absl::InfiniteDuration();
    }
  }
  if (!ok || d < min || d > max) {
    ErrorOnce(
        n.position,
        StrCat(what, ": expected a duration from ", absl::FormatDuration(min),
               " to ", absl::FormatDuration(max),
               bare_seconds ? " (a plain number counts seconds)"
                            : " such as 100ms, 2s or 1m",
               ", got ", Found(n)),
        x);
    return std::nullopt;
  }
  return d;
}

std::optional<std::string> Loader::GetAbsolutePath(const YamlNode& n,
                                                   std::string_view what,
                                                   JailExtras* x) {
  std::optional<std::string> s = GetString(n, what, x);
  if (!s.has_value()) {
    return std::nullopt;
  }
  if (!StartsWith(*s, "/")) {
    ErrorOnce(n.position,
              StrCat(what, ": expected an absolute path, got ", Quote(*s)), x);
    return std::nullopt;
  }
  if (s->find('\0') != std::string::npos || s->size() > 1023) {
    ErrorOnce(n.position, StrCat(what, ": path too long or contains NUL"), x);
    return std::nullopt;
  }
  return s;
}

std::optional<std::vector<std::pair<std::string, Position>>>
Loader::GetStringList(const YamlNode& n, std::string_view what, JailExtras* x) {
  std::vector<std::pair<std::string, Position>> out;
  if (n.IsScalar()) {
    out.emplace_back(n.scalar, n.position);
    return out;
  }
  if (!n.IsSequence()) {
    ErrorOnce(n.position,
              StrCat(what, ": expected a string or a list of strings, got ",
                     Found(n)),
              x);
    return std::nullopt;
  }
  bool ok = true;
  for (const YamlNode& item : n.items) {
    if (!item.IsScalar()) {
      ErrorOnce(
          item.position,
          StrCat(what, ": expected a string in the list, got ", Found(item)),
          x);
      ok = false;
      continue;
    }
    out.emplace_back(item.scalar, item.position);
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

bool Loader::ExpectMap(const YamlNode& n, std::string_view what,
                       JailExtras* x) {
  if (n.IsMap()) {
    return true;
  }
  ErrorOnce(n.position, StrCat(what, ": expected a map, got ", Found(n)), x);
  return false;
}

}  // namespace jailwarden::policy::internal

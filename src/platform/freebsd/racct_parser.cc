#include "jailwarden/platform/freebsd/racct_parser.h"

#include <cerrno>
#include <charconv>
#include <limits>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/resource.h"

namespace jailwarden::platform {
namespace {

constexpr int64_t kMillion = 1000000;

bool NameIs(std::string_view name, std::string_view want) {
  return EqualsIgnoreCase(name, want);
}

}  // namespace

absl::Status ParseRacctOutput(std::string_view text, RawUsage& out) {
  out.value.fill(0);
  out.present.reset();
  out.cumulative.reset();
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    text = text.substr(0, nul);
  }
  std::size_t expected = 0;  // the kernel prints in index order
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view pair = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view()
                                           : text.substr(comma + 1);
    if (pair.empty()) continue;  // as rctl::ParseUsage: tolerate ",,"
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      return ErrnoStatusWithMessage(
          EINVAL, StrCat("rctl_get_racct output: element without '=': '", pair, "'"));
    }
    const std::string_view name = pair.substr(0, eq);
    const std::string_view value = pair.substr(eq + 1);
    std::optional<rctl::Resource> r;
    // Skip ahead over the sloppy resources a process's text leaves out
    // before falling back to a full lookup.
    for (std::size_t i = expected; i < rctl::kResourceCount; ++i) {
      if (NameIs(name, rctl::ResourceName(rctl::ResourceAt(i)))) {
        r = rctl::ResourceAt(i);
        break;
      }
    }
    if (!r.has_value()) r = rctl::ParseResourceName(name);
    if (!r.has_value()) {
      return ErrnoStatusWithMessage(
          EINVAL, StrCat("rctl_get_racct output: unknown resource '", name, "'"));
    }
    int64_t v = 0;
    const char* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(value.data(), end, v, 10);
    if (value.empty() || ec != std::errc() || ptr != end) {
      return ErrnoStatusWithMessage(
          EINVAL, StrCat("rctl_get_racct output: invalid value '", value,
                         "' for ", name));
    }
    if (rctl::IsInMillions(*r)) {
      if (v > std::numeric_limits<int64_t>::max() / kMillion ||
          v < std::numeric_limits<int64_t>::min() / kMillion) {
        return ErrnoStatusWithMessage(
            ERANGE, StrCat("rctl_get_racct output: value of ", name, " too large"));
      }
      v *= kMillion;
    }
    const std::size_t i = rctl::Index(*r);
    out.value[i] = v;
    out.present.set(i);
    expected = i + 1;
  }
  return absl::OkStatus();
}

}  // namespace jailwarden::platform

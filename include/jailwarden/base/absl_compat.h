#pragma once

// Debian 12's abseil is built with ABSL_OPTION_USE_STD_STRING_VIEW=0 and
// ABSL_OPTION_USE_STD_OPTIONAL=0: absl::string_view and absl::optional are
// their own types there, not aliases of the std ones. Our code uses the std
// types; these convert at the boundary.

#include <string_view>

#include "absl/strings/string_view.h"

namespace jailwarden {

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

inline std::string_view ToStd(absl::string_view s) {
  return std::string_view(s.data(), s.size());
}

}  // namespace jailwarden

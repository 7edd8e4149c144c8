#pragma once

// The policy reader behind LoadPolicyText and ValidatePolicyText.

#include <string_view>
#include <vector>

#include "jailwarden/policy/policy.h"

namespace jailwarden::policy::internal {

// Reads `text`; every problem goes to `errors` (sorted by position, one per
// position). The returned Policy is meaningful only when `errors` is empty.
Policy ParsePolicy(std::string_view text, std::string_view filename,
                   const LoadOptions& options,
                   std::vector<PolicyError>* errors);

}  // namespace jailwarden::policy::internal

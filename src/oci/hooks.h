#pragma once

// Runtime-spec hooks: each run on the host with the container's state JSON
// on stdin, in the order listed, killed at its timeout. The first failure
// stops the list and is returned ("hook prestart[0] /path: exit status 1").

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "oci/spec.h"

namespace jailwarden::oci {

absl::Status RunHooks(const std::string& kind, const std::vector<Hook>& hooks,
                      const std::string& state_json);
std::vector<std::string> HooksToJson(const std::vector<Hook>& hooks);
std::vector<Hook> HooksFromJson(const std::vector<std::string>& texts);

}  // namespace jailwarden::oci

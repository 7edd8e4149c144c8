#pragma once

// Runtime-spec hooks: each run on the host with the container's state JSON
// on stdin, in the order listed, killed at its timeout
// (platform::RunOciHook, the code jailwarden-init runs createContainer and
// startContainer hooks with). The first failure stops the list and is
// returned ("hook prestart[0] /path: exit status 1"; DeadlineExceeded for a
// timeout). Thread-compatible.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "oci/spec.h"

namespace jailwarden::oci {

absl::Status RunHooks(const std::string& kind, const std::vector<Hook>& hooks,
                      const std::string& state_json);
// The create phase's pause point (platform::InitOciProcess::hook_sync_fd),
// the runtime's side. AwaitHookPoint waits up to `timeout` for init's 'h'
// on `sync_fd`: *reached true when init is paused before its pivot_root;
// false when init closed it first (its report says why). DeadlineExceeded
// when neither came in time. ReleaseHookPoint lets init go on ('g').
absl::Status AwaitHookPoint(int sync_fd, absl::Duration timeout, bool* reached);
absl::Status ReleaseHookPoint(int sync_fd);

std::vector<std::string> HooksToJson(const std::vector<Hook>& hooks);
std::vector<Hook> HooksFromJson(const std::vector<std::string>& texts);

}  // namespace jailwarden::oci

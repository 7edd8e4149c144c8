#pragma once

// The policy of record: which policy a restarted daemon runs.
//
// Precedence (docs/architecture.md, "State"): the kernel matches the policy
// of record plus the runtime additions (runtime-rules.json). The policy of
// record is the configuration file (`serve --config`), unless the last
// successful `apply -f FILE` (or `jailwarden set`: the policy in force with
// one jail's keys changed) applied a text that is not the configuration
// file's: that text is then written to <state_dir>/policy-of-record.yaml
// (atomically, fsync'd, before the call answers) and the next start runs
// its jails, templates and rules, with the configuration file's `server:`
// section, and logs that it does. SIGHUP and `apply -f` of the
// configuration file's text remove the record. A daemon without a
// configuration file (config_path "") keeps no record.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/policy/policy.h"

namespace jailwarden::service {

inline constexpr char kPolicyRecordFile[] = "policy-of-record.yaml";

// <state_dir>/policy-of-record.yaml.
std::string PolicyRecordPath(std::string_view state_dir);

// Writes `text` (applied from `filename`) as the policy of record, after
// a one-line comment naming where it came from. Errors: the errno's status
// from base::WriteFileAtomically; the old record (if any) stays then.
absl::Status WritePolicyRecord(std::string_view state_dir, std::string_view text,
                               std::string_view filename);

// Removes the record (OK when there is none); the directory is fsync'd.
// `text` (a record's contents) without the comment line WritePolicyRecord
// puts first, so what is edited and written again carries one such line.
std::string_view StripPolicyRecordHeader(std::string_view text);

absl::Status DropPolicyRecord(std::string_view state_dir);

// At start-up: `configured` was loaded from `config_path`. Returns the
// record's policy with `configured.server` when a record exists, else
// `configured`. FailedPrecondition naming the record and the way out when
// the record no longer loads (a daemon does not silently fall back to
// another policy, which could remove jails).
absl::StatusOr<policy::Policy> PolicyToStartWith(policy::Policy configured,
                                                 const std::string& config_path);

}  // namespace jailwarden::service

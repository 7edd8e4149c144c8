#pragma once

// service::RuntimeRules: the durable record of what runtime changes
// (`rctl -a`, `rctl -r`, `create -L`) made of the policy's rules, kept in
// <state_dir>/runtime-rules.json so they come back after a restart or a
// kill -9 exactly as they were:
//
//   {"version": 1,
//    "added":   ["jail:lim1:memoryuse:deny=20971520", ...],
//    "removed": ["jail:db:nthr:deny=100", ...]}
//
// Rules are in kernel form (rctl::FormatRule). `added`: in force, not in the
// policy; `removed`: in the policy, not in force. What is in force is the
// policy's rules minus `removed`, plus `added` (docs/policy.md, "Runtime
// rules"). The file is this module's only nlohmann::json adapter: no
// exception leaves runtime_rules.cc.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/rctl/rule.h"

namespace jailwarden::service {

struct RuntimeRules {
  std::vector<rctl::Rule> added;
  std::vector<rctl::Rule> removed;

  bool empty() const { return added.empty() && removed.empty(); }
};

// The record's file name inside the state directory.
inline constexpr char kRuntimeRulesFile[] = "runtime-rules.json";

// The JSON text above (one rule per line, sorted as given). Pure.
std::string RuntimeRulesToJson(const RuntimeRules& rules);

// Parses RuntimeRulesToJson's text; `where` names the file in errors.
// Errors: DataLoss "<where>: ..." when the text is not such a record or a
// rule does not parse as a full kernel-form rule.
absl::StatusOr<RuntimeRules> RuntimeRulesFromJson(std::string_view text,
                                                  std::string_view where);

// Reads the record at `path`; an absent file is an empty record. A
// `<path>.tmp` left by a write that was killed is removed. Errors: as
// RuntimeRulesFromJson, or an ErrnoStatus from read(2).
absl::StatusOr<RuntimeRules> LoadRuntimeRules(const std::string& path);

}  // namespace jailwarden::service

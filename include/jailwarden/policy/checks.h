#pragma once

// The input checks every entry point shares: the policy file, the REST API
// (service::Lifecycle, service::RctlFront) and the CLI. One rule checker,
// one jail-name rule, one capability-name check and one size bound per kind
// of input, so that `validate` accepts exactly what `apply`, `create -L`
// and `rctl -a` accept, with the same words.
//
// All functions are thread-safe (no shared state) and, except
// ReadPolicyFileBounded, touch no file or kernel.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/rctl/rule.h"
#include "jailwarden/rctl/user_form.h"

namespace jailwarden::policy {

// The one bound on a policy's text, in bytes (4 MiB): `validate FILE`,
// `apply -f FILE` (read streamed, stopping at the bound), the daemon's own
// policy file and the `policy` field of POST /v1/apply.
inline constexpr std::size_t kMaxPolicyBytes = std::size_t{4} << 20;

// The longest jail (and template) name, in bytes: what the Linux backend
// can carry into cgroup, hostname and state-directory names; FreeBSD's
// jail(8) would allow 255. docs/policy.md, the loader, the API and
// jail::Manager agree on it.
inline constexpr std::size_t kMaxJailNameLength = 64;

// "FILE: File too large (a policy is limited to 4194304 bytes, 4 MiB)".
std::string PolicyTooLargeMessage(std::string_view file);

// Reads a policy file streamed, never holding more than kMaxPolicyBytes + 1
// bytes (so `/dev/zero` ends at the bound). Errors: the errno's status with
// the message "FILE: <strerror>" (NotFound, PermissionDenied, ...), and
// for a longer file InvalidArgument with errno EFBIG and
// PolicyTooLargeMessage(file).
absl::StatusOr<std::string> ReadPolicyFileBounded(const std::string& path);

// Where a rule comes from; decides the checks beyond rctl_add_rule(2)'s.
enum class RuleUse {
  kPolicyRule,   // `rules:` in a policy
  kJailLimit,    // a jail's `limits:` or `create -L` (subject jail:NAME)
  kRuntimeRule,  // `rctl -a`, POST /v1/rules
};

struct RuleCheckOptions {
  RuleUse use = RuleUse::kRuntimeRule;
  // rctl(8)'s expansion first (user:NAME -> user:UID, units, defaults),
  // as for text a person typed; false for text already in kernel form.
  bool expand = true;
  // For the expansion's user names; nullptr = the host's passwd.
  const rctl::NameResolver* resolver = nullptr;
};

// rctl -a TEXT without the syscall: rctl(8)'s expansion, then what
// rctl_add_rule(2) checks, then jailwarden's own rule: no `process:`
// subject anywhere (a pid does not survive a restart, and runtime rules
// are kept across restarts). Errors carry an errno and are worded as the
// policy loader reports them:
//   "malformed rule 'TEXT': <rctl(8)'s reason>"            EINVAL
//   "failed to add rule 'TEXT': <strerror>"                the kernel's errno
//   "rule 'TEXT': process rules cannot be part of a policy ..." EOPNOTSUPP
absl::StatusOr<rctl::Rule> CheckRule(std::string_view text,
                                     const RuleCheckOptions& options = {});

// Two rules with the same key cannot both live in the kernel's rule list:
// a deny replaces a deny that differs only in amount; any other action
// replaces an identical rule (rctl_rule_add, freebsd-rctl.md §6.6).
std::string RuleKey(const rctl::Rule& rule);

// For a list of rules given together (a jail's limits, `create -L` flags):
// the first rule that another one in the list would silently replace, as
// "duplicate limit 'TEXT': a deny for RESOURCE is already given as 'OTHER'
// and the kernel keeps only the last one" (or "... the same rule is
// already given as 'OTHER'"); nullopt when none. `texts` is parallel to
// `rules`.
std::optional<std::string> DuplicateRuleProblem(
    const std::vector<rctl::Rule>& rules, const std::vector<std::string>& texts);

// Why `name` is not acceptable as a jail or template name, or nullopt:
// 1..kMaxJailNameLength ASCII letters, digits, '_' and '-', not starting
// with '-', not digits only (jail(8) would take it as a jid), no '.'.
std::optional<std::string> JailNameProblem(std::string_view name);

// Why `name` is not a Linux capability name ("cap_sys_nice",
// "CAP_NET_RAW", "net_raw"), or nullopt. On other systems only the shape
// (letters, digits, '_') is checked.
std::optional<std::string> CapabilityNameProblem(std::string_view name);

}  // namespace jailwarden::policy

#pragma once

// rctl(8) itself (usr.bin/rctl/rctl.c; ../shared/reference/freebsd-rctl.md
// §9): option handling, per-argument expansion, the calls, output and
// messages, over an RctlBackend that stands where the five rctl(2) system
// calls stand. The same front end serves `jailwarden rctl` against the
// daemon, against the FreeBSD kernel, and offline (`--check`).

#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/rule_set.h"
#include "jailwarden/rctl/user_form.h"

namespace jailwarden::rctl {

// The five rctl(2) calls. Inputs are kernel-form text as rctl(8) sends it;
// outputs are the kernel's output strings. Errors carry the errno
// (StatusErrno) the kernel would set.
class RctlBackend {
 public:
  virtual ~RctlBackend() = default;
  virtual absl::Status AddRule(std::string_view rule) = 0;
  virtual absl::Status RemoveRule(std::string_view filter) = 0;
  virtual absl::StatusOr<std::string> GetRules(std::string_view filter) = 0;
  virtual absl::StatusOr<std::string> GetLimits(std::string_view filter) = 0;
  virtual absl::StatusOr<std::string> GetRacct(std::string_view filter) = 0;
  // What rctl(8)'s enosys() prints when a call fails with ENOSYS.
  virtual std::string EnosysMessage() const {
    return "RACCT/RCTL support not present in kernel; see rctl(8) for details";
  }
};

// An in-memory kernel: a RuleSet behind the rctl(2) semantics (parsing,
// validation, filters). Processes are looked up with `process_exists`;
// usage comes from `usage` (unset: every subject reads as all zero).
// get_limits answers EOPNOTSUPP for a non-process subject as the kernel does.
class RuleSetBackend : public RctlBackend {
 public:
  using UsageFn =
      std::function<absl::StatusOr<std::string>(const Rule& subject_filter)>;
  explicit RuleSetBackend(RuleSet* rules, ProcessExists process_exists = {},
                          UsageFn usage = {});
  absl::Status AddRule(std::string_view rule) override;
  absl::Status RemoveRule(std::string_view filter) override;
  absl::StatusOr<std::string> GetRules(std::string_view filter) override;
  absl::StatusOr<std::string> GetLimits(std::string_view filter) override;
  absl::StatusOr<std::string> GetRacct(std::string_view filter) override;

 private:
  RuleSet* rules_;
  ProcessExists process_exists_;
  UsageFn usage_;
};

struct RctlInvocation {
  std::vector<std::string> args;  // after the program name
  std::string program = "rctl";   // message prefix ("jailwarden rctl")
  const NameResolver* resolver = nullptr;
};

// Runs rctl(8) with `args` and returns its exit status: the number of
// arguments that failed, 1 for usage errors and ENOSYS. Output lines go to
// `out`, warnings ("<program>: ...") to `err`. `-a` in `--check` mode is what
// rctl --check does: parse and validate, print the storage form.
int RunRctl(const RctlInvocation& invocation, RctlBackend& backend,
            std::ostream& out, std::ostream& err);

// `jailwarden rctl --check RULE...`: each argument expanded as rctl -a
// would, then parsed and validated as rctl_add_rule(2) would, and its kernel
// storage form printed; failures print rctl(8)'s message. Returns the number
// of rules that failed.
int RunRctlCheck(const std::vector<std::string>& rules, std::string_view program,
                 const NameResolver* resolver, std::ostream& out,
                 std::ostream& err);

}  // namespace jailwarden::rctl

#pragma once

// rctl(8)'s side of the rule text (usr.bin/rctl/rctl.c;
// ../shared/reference/freebsd-rctl.md §9): subject aliases, user and group
// names, expand_number amounts before the syscall; names and -h amounts on
// output. Pure apart from the NameResolver it is given.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace jailwarden::rctl {

// Looks up passwd/group entries. The default implementation uses
// getpwnam_r/getpwuid_r/getgrnam_r/getgrgid_r; tests pass their own.
class NameResolver {
 public:
  virtual ~NameResolver() = default;
  virtual std::optional<int64_t> UidForName(std::string_view name) const = 0;
  virtual std::optional<std::string> NameForUid(int64_t uid) const = 0;
  virtual std::optional<int64_t> GidForName(std::string_view name) const = 0;
  virtual std::optional<std::string> NameForGid(int64_t gid) const = 0;
  // The host's passwd/group database.
  static const NameResolver& System();
};

struct ExpandOptions {
  // false with rctl -n -a: user/group ids are passed through unresolved.
  bool resolve_names = true;
  const NameResolver* resolver = nullptr;  // nullptr = NameResolver::System()
};

// expand_rule(): the argument as the user typed it, turned into the text
// rctl(8) hands the kernel. Errors are InvalidArgument whose message is the
// part after "malformed rule '<arg>': ", exactly as rctl(8) words it:
//   "missing subject", "unknown user '<id>'", "unknown group '<id>'",
//   "trailing characters after numerical id", "invalid numeric value '<v>'".
absl::StatusOr<std::string> ExpandRule(std::string_view arg,
                                       const ExpandOptions& options = {});

struct DisplayOptions {
  bool humanize = false;     // -h: amounts through humanize_number
  bool numeric_ids = false;  // -n: keep user:<uid>
  const NameResolver* resolver = nullptr;  // nullptr = NameResolver::System()
};

// One kernel-form rule as rctl(8) prints it: user:<uid> (and group) turned
// back into a name unless -n, amount humanized with -h. Text that is not
// "a:b:c:d=e" is returned unchanged.
std::string DisplayRule(std::string_view kernel_rule,
                        const DisplayOptions& options = {});

// One "resource=value" usage pair as rctl -u prints it (value humanized
// with -h).
std::string DisplayUsagePair(std::string_view pair, bool humanize);

}  // namespace jailwarden::rctl

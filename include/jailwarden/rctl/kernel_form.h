#pragma once

// The kernel's text forms: rctl_string_to_rule, rctl_rule_to_sbuf,
// rctl_racct_to_sbuf and rctl_rule_matches (sys/kern/kern_rctl.c;
// ../shared/reference/freebsd-rctl.md §6, §8). Pure; thread-safe.
//
// Every error is an absl::Status built with ErrnoStatus, so StatusErrno()
// gives the errno the kernel would return: EINVAL, ERANGE, ENAMETOOLONG,
// ESRCH, EOPNOTSUPP.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "jailwarden/rctl/resource.h"
#include "jailwarden/rctl/rule.h"

namespace jailwarden::rctl {

// Kernel limits that bound names (sys/sys/param.h, sys/kern/kern_rctl.c).
inline constexpr std::size_t kMaxLoginNameLength = 33;  // MAXLOGNAME
inline constexpr std::size_t kMaxJailNameLength = 256;  // MAXHOSTNAMELEN
inline constexpr std::size_t kMaxInputLength = 4096;    // RCTL_MAX_INBUFSIZE

// pfind(): true when a process with that pid exists. Unset = every pid
// exists (for parsing without a process table, e.g. `rctl --check`).
using ProcessExists = std::function<bool(int64_t pid)>;

// rctl_string_to_rule: splits with strsep on ':' ':' ':' then "=/" then '/',
// looks names up case-insensitively, parses ids and amounts as the kernel
// does, scales IN_MILLIONS amounts. Undefined fields stay undefined (a
// filter). Does not default `per` and does not require a full rule.
// Errors: EINVAL (unknown name, subject-id without subject, bad number,
// non-numeric pid/uid), ERANGE (negative or too large amount), ENAMETOOLONG
// (loginclass >= MAXLOGNAME, jail name >= MAXHOSTNAMELEN), ESRCH (process
// id that `process_exists` rejects).
absl::StatusOr<Rule> ParseRuleText(std::string_view text,
                                   const ProcessExists& process_exists = {});

// What rctl_add_rule(2) does with its input before linking the rule: parse,
// default `per` to the subject type, require a fully specified rule (EINVAL)
// and validate it (ValidateForAdd).
absl::StatusOr<Rule> ParseRuleForAdd(std::string_view text,
                                     const ProcessExists& process_exists = {});

// The checks of rctl_rule_add (§6.5), in the kernel's order, each
// EOPNOTSUPP: deny on a non-deniable resource other than memoryuse and pcpu;
// throttle on a non-decaying resource or on pcpu; per=process for a sloppy
// resource. `rule` must be fully specified.
absl::Status ValidateForAdd(const Rule& rule);

// rctl_rule_to_sbuf: "subject:id:resource:action=amount" plus "/per" only
// when per differs from the subject; lowercase; IN_MILLIONS amounts divided
// by 10^6. Undefined fields print empty (a filter prints back as it would
// be parsed).
std::string FormatRule(const Rule& rule);

// rctl_rule_matches: true when every defined field of `filter` equals the
// rule's. Amounts compare in kernel scale.
bool RuleMatchesFilter(const Rule& rule, const Rule& filter);

// rctl_racct_to_sbuf: "name=value" pairs in resource order, comma
// separated, IN_MILLIONS values divided by 10^6. For a process subject the
// eight SLOPPY resources are left out.
std::string FormatUsage(const UsageVector& usage, SubjectType subject);

// Parses rctl_get_racct(2) output back into kernel units. Resources missing
// from the text (the sloppy ones for a process) are nullopt. Unknown names
// are an error (EINVAL) so a format change is noticed; values must be
// base-10 integers.
absl::StatusOr<std::array<std::optional<int64_t>, kResourceCount>> ParseUsage(
    std::string_view text);

// Splits rctl_get_rules(2)/rctl_get_limits(2) output (comma separated, no
// trailing comma, "" when empty) and parses each rule.
absl::StatusOr<std::vector<Rule>> ParseRuleList(std::string_view text);

}  // namespace jailwarden::rctl

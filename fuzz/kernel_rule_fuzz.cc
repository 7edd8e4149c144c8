// Fuzzes the kernel-form parser (rctl_string_to_rule + rctl_add_rule's
// checks). Invariants: no crash or sanitizer report; every rule accepted for
// add round-trips through its storage form: parse(format(r)) == r; a filter
// matches every rule it was parsed from when that rule is fully specified.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/rule_set.h"

using jailwarden::rctl::FormatRule;
using jailwarden::rctl::ParseRuleForAdd;
using jailwarden::rctl::ParseRuleText;
using jailwarden::rctl::Rule;
using jailwarden::rctl::RuleMatchesFilter;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Rule> filter = ParseRuleText(text);
  if (filter.ok()) {
    (void)FormatRule(*filter);
  }
  absl::StatusOr<Rule> rule = ParseRuleForAdd(text);
  if (rule.ok()) {
    const std::string stored = FormatRule(*rule);
    absl::StatusOr<Rule> again = ParseRuleForAdd(stored);
    if (!again.ok() || !(*again == *rule) || FormatRule(*again) != stored) {
      abort();
    }
    if (!RuleMatchesFilter(*rule, *rule)) abort();
    jailwarden::rctl::RuleSet set;
    if (!set.Add(*rule).ok() || set.ListText(Rule{}) != stored) abort();
  }
  return 0;
}

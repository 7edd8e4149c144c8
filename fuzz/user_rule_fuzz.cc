// Fuzzes rctl(8)'s user form: expand_rule (aliases, names, expand_number),
// then the kernel checks, then the display path (-h, names). Invariants: no
// crash or sanitizer report; whatever is accepted for add round-trips
// through the storage form; display never fails.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fakes/fake_name_resolver.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/user_form.h"

namespace rctl = jailwarden::rctl;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const jailwarden::testing_fakes::FakeNameResolver names;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool resolve : {true, false}) {
    absl::StatusOr<std::string> expanded = rctl::ExpandRule(text, {resolve, &names});
    if (!expanded.ok()) continue;
    absl::StatusOr<rctl::Rule> rule = rctl::ParseRuleForAdd(*expanded);
    if (!rule.ok()) continue;
    const std::string stored = rctl::FormatRule(*rule);
    absl::StatusOr<rctl::Rule> again = rctl::ParseRuleForAdd(stored);
    if (!again.ok() || !(*again == *rule)) abort();
    for (bool human : {false, true}) {
      (void)rctl::DisplayRule(stored, {human, !resolve, &names});
    }
  }
  (void)rctl::DisplayRule(text, {true, false, &names});
  (void)rctl::DisplayUsagePair(text, true);
  return 0;
}

#pragma once

// Helpers shared by the policy tests.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/user_form.h"

namespace jailwarden::policy::testing {

// A passwd/group database with alice=1001, bob=1002 and group staff=20,
// so rule expansion does not depend on the host.
class FakeResolver : public rctl::NameResolver {
 public:
  std::optional<int64_t> UidForName(std::string_view name) const override {
    if (name == "alice") return 1001;
    if (name == "bob") return 1002;
    return std::nullopt;
  }
  std::optional<std::string> NameForUid(int64_t uid) const override {
    if (uid == 1001) return "alice";
    if (uid == 1002) return "bob";
    return std::nullopt;
  }
  std::optional<int64_t> GidForName(std::string_view name) const override {
    if (name == "staff") return 20;
    return std::nullopt;
  }
  std::optional<std::string> NameForGid(int64_t gid) const override {
    if (gid == 20) return "staff";
    return std::nullopt;
  }
};

inline std::string TestdataPath(std::string_view relative) {
  return std::string(JW_TESTDATA_DIR) + "/policy/" + std::string(relative);
}

inline std::string ExamplePolicyPath() {
  return std::string(JW_TESTDATA_DIR) +
         "/../../packaging/examples/jailwarden.yaml";
}

// Loads `text` (as "t.yaml") or the file at `path` with FakeResolver;
// a failure to load fails the test and returns an empty Policy.
inline Policy MustLoad(const std::string& text) {
  FakeResolver resolver;
  absl::StatusOr<Policy> p = LoadPolicyText(text, "t.yaml", {&resolver});
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *std::move(p) : Policy{};
}

inline Policy MustLoadFile(const std::string& path) {
  FakeResolver resolver;
  absl::StatusOr<Policy> p = LoadPolicyFile(path, {&resolver});
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *std::move(p) : Policy{};
}

// Every problem ValidatePolicyText finds in `text`, as "t.yaml:L:C: ...".
inline std::vector<std::string> Errors(const std::string& text) {
  FakeResolver resolver;
  std::vector<std::string> out;
  for (const PolicyError& e : ValidatePolicyText(text, "t.yaml", {&resolver})) {
    out.push_back(e.ToString());
  }
  return out;
}

// The rules in kernel form (rctl::FormatRule).
inline std::vector<std::string> RuleTexts(const std::vector<rctl::Rule>& rules) {
  std::vector<std::string> out;
  for (const rctl::Rule& r : rules) {
    out.push_back(rctl::FormatRule(r));
  }
  return out;
}

}  // namespace jailwarden::policy::testing

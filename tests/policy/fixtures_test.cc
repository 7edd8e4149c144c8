// Table-driven over tests/testdata/policy/: every bad fixture starts with
// one "# expect: LINE:COL: message" line per error it must produce (exactly
// those, in that order); every good fixture and the bundled example policy
// must validate cleanly.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "jailwarden/policy/policy.h"
#include "policy/test_util.h"

namespace jailwarden::policy {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> ListYaml(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".yaml") {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string CaseName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = fs::path(info.param).stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      c = '_';
    }
  }
  return name;
}

std::vector<std::string> ExpectedErrors(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line;
  const std::string prefix = "# expect: ";
  while (std::getline(in, line) && line.rfind(prefix, 0) == 0) {
    out.push_back(path + ":" + line.substr(prefix.size()));
  }
  return out;
}

class BadPolicyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BadPolicyTest, ReportsEveryErrorAtItsPosition) {
  const std::string& path = GetParam();
  const std::vector<std::string> expected = ExpectedErrors(path);
  ASSERT_FALSE(expected.empty()) << path << " has no '# expect:' line";
  testing::FakeResolver resolver;
  const std::vector<PolicyError> errors = ValidatePolicyFile(path, {&resolver});
  std::vector<std::string> got;
  for (const PolicyError& e : errors) {
    got.push_back(e.ToString());
  }
  EXPECT_EQ(got, expected);

  // The same file through the loading API: nothing, and the same text.
  absl::StatusOr<Policy> policy = LoadPolicyFile(path, {&resolver});
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  std::string joined;
  for (const std::string& e : expected) {
    joined += (joined.empty() ? "" : "\n") + e;
  }
  EXPECT_EQ(std::string(policy.status().message()), joined);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, BadPolicyTest,
    ::testing::ValuesIn(ListYaml(testing::TestdataPath("bad"))), CaseName);

class GoodPolicyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoodPolicyTest, Validates) {
  testing::FakeResolver resolver;
  const std::vector<PolicyError> errors =
      ValidatePolicyFile(GetParam(), {&resolver});
  EXPECT_TRUE(errors.empty()) << FormatErrors(errors);
  absl::StatusOr<Policy> policy = LoadPolicyFile(GetParam(), {&resolver});
  EXPECT_TRUE(policy.ok()) << policy.status();
}

std::vector<std::string> GoodFiles() {
  std::vector<std::string> files = ListYaml(testing::TestdataPath("good"));
  files.push_back(testing::ExamplePolicyPath());
  return files;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoodPolicyTest,
                         ::testing::ValuesIn(GoodFiles()), CaseName);

TEST(PolicyFixturesTest, EnoughFixtures) {
  EXPECT_GE(ListYaml(testing::TestdataPath("bad")).size(), 60u);
  EXPECT_GE(ListYaml(testing::TestdataPath("good")).size(), 4u);
}

}  // namespace
}  // namespace jailwarden::policy

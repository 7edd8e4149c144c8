// The bad-input suite (issue 14): every refused input, through every entry
// point that takes it, answered with the exact error (or a precise
// substring carrying the field, the position or the errno) and leaving the
// daemon as it was: rules, jails, the state directory's files and what the
// enforcer was asked to apply are compared before and after each case.
//
// Kinds: policy files (tests/testdata/policy/bad, each with its
// "# expect:" lines, through `validate`, `apply -f` and POST /v1/apply),
// policy texts, API requests (real router and HTTP stack, real daemon
// rooms) and CLI argument lists (the real verbs, in-process). The number of
// cases of each kind is printed ("badinput: N ... cases").

#include <sysexits.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "api/json.h"
#include "badinput/badinput_cases.h"
#include "badinput/badinput_env.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/cli/verbs.h"
#include "jailwarden/policy/checks.h"

namespace jailwarden::badinput {
namespace {

using ::testing::HasSubstr;

// Every "# expect: L:C: message" line of a fixture.
std::vector<std::string> Expected(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line;
  const std::string prefix = "# expect: ";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line.substr(prefix.size()));
  }
  return out;
}

std::vector<std::string> BadFixtures() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(
           std::string(JW_TESTDATA_DIR) + "/policy/bad")) {
    if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

struct CliOutput {
  int code = -1;
  std::string out, err;
};

// Runs verb `verb` with `args` in-process against the env's daemon (the
// connection flags are appended unless `connect` is false).
CliOutput RunCli(Env& env, const std::string& verb, std::vector<std::string> args,
                 bool connect = true) {
  if (connect) {
    args.insert(args.begin(), {"--server", env.url(), "--token", kToken});
  }
  std::ostringstream out, err;
  cli::CommandContext ctx{out, err};
  CliOutput o;
  for (const cli::Verb& v : cli::AllVerbs()) {
    if (v.name == verb) o.code = v.run(args, ctx);
  }
  o.out = out.str();
  o.err = err.str();
  return o;
}

// The "error" of a JSON error body (with the "errors" lines of a 422), or
// the body itself when it is not one.
std::string ErrorText(const std::string& body) {
  absl::StatusOr<api::Json> j = api::ParseJson(body);
  if (!j.ok() || !j->is_object()) return body;
  std::string out;
  (void)api::ReadString(*j, "error", &out);
  std::vector<std::string> lines;
  (void)api::ReadStringList(*j, "errors", &lines);
  for (const std::string& l : lines) out += "\n" + l;
  std::string errno_name;
  (void)api::ReadString(*j, "errno", &errno_name);
  if (!errno_name.empty()) out += "\nerrno " + errno_name;
  return out;
}

std::string Lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { env_ = new Env(); }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }
  static Env* env_;
};
Env* BadInputTest::env_ = nullptr;

TEST_F(BadInputTest, PolicyFilesThroughValidateApplyAndTheApi) {
  ASSERT_TRUE(env_->ok());
  const std::vector<std::string> files = BadFixtures();
  ASSERT_GE(files.size(), 100u);
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    std::vector<std::string> expected;
    for (const std::string& e : Expected(path)) expected.push_back(StrCat(path, ":", e));
    ASSERT_FALSE(expected.empty()) << "no '# expect:' line";
    const State before = env_->Snapshot();

    CliOutput v = RunCli(*env_, "validate", {path}, false);
    EXPECT_EQ(v.code, EX_CONFIG);
    EXPECT_EQ(v.err, Lines(expected));

    CliOutput a = RunCli(*env_, "apply", {"-f", path});
    EXPECT_EQ(a.code, EX_CONFIG);
    EXPECT_THAT(a.err, HasSubstr(Lines(expected)));

    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    api::Json body = api::Json::object();
    body["policy"] = text.str();
    body["filename"] = path;
    absl::StatusOr<api::HttpResponse> r =
        env_->MakeClient().Do("POST", "/v1/apply", body.dump());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 422) << r->body;
    for (const std::string& e : expected) {
      EXPECT_THAT(ErrorText(r->body), HasSubstr(e));
    }
    EXPECT_EQ(env_->Snapshot(), before) << Describe(env_->Snapshot());
  }
  std::cout << "badinput: " << files.size()
            << " policy-file cases (each through validate, apply -f and POST /v1/apply)\n";
}

TEST_F(BadInputTest, PolicyTexts) {
  ASSERT_TRUE(env_->ok());
  const std::vector<PolicyTextCase> cases = PolicyTextCases();
  for (const PolicyTextCase& c : cases) {
    SCOPED_TRACE(c.name);
    const State before = env_->Snapshot();
    const std::vector<policy::PolicyError> errors =
        policy::ValidatePolicyText(c.text, "p.yaml");
    EXPECT_THAT(policy::FormatErrors(errors), HasSubstr(c.expected));
    api::Json body = api::Json::object();
    body["policy"] = c.text;
    body["filename"] = "p.yaml";
    absl::StatusOr<api::HttpResponse> r =
        env_->MakeClient().Do("POST", "/v1/apply", body.dump());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 422) << r->body;
    EXPECT_THAT(ErrorText(r->body), HasSubstr(c.expected));
    EXPECT_EQ(env_->Snapshot(), before) << Describe(env_->Snapshot());
  }
  std::cout << "badinput: " << cases.size() << " policy-text cases\n";
}

TEST_F(BadInputTest, ApiRequests) {
  ASSERT_TRUE(env_->ok());
  const std::vector<ApiCase> cases = ApiCases();
  for (const ApiCase& c : cases) {
    SCOPED_TRACE(StrCat(c.method, " ", c.path.substr(0, 80), " ", c.body.substr(0, 200)));
    const State before = env_->Snapshot();
    absl::StatusOr<api::HttpResponse> r = env_->MakeClient().Do(c.method, c.path, c.body);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, c.status) << r->body.substr(0, 400);
    EXPECT_THAT(ErrorText(r->body), HasSubstr(c.expected));
    EXPECT_EQ(env_->Snapshot(), before) << Describe(env_->Snapshot());
  }
  std::cout << "badinput: " << cases.size() << " API request cases\n";
}

TEST_F(BadInputTest, CliArguments) {
  ASSERT_TRUE(env_->ok());
  const std::vector<CliCase> cases = CliCases();
  for (const CliCase& c : cases) {
    SCOPED_TRACE(StrCat(c.verb, " ", Join(c.args, " ").substr(0, 200)));
    std::vector<std::string> args = c.args;
    for (std::string& a : args) {
      if (a == kOtherServer) a = env_->other_url();
    }
    const State before = env_->Snapshot();
    CliOutput o = RunCli(*env_, c.verb, args, c.connect);
    if (c.code >= 0) {
      EXPECT_EQ(o.code, c.code) << o.err;
    } else {
      EXPECT_NE(o.code, 0) << o.err;
    }
    EXPECT_THAT(o.err, HasSubstr(c.expected));
    EXPECT_EQ(env_->Snapshot(), before) << Describe(env_->Snapshot());
  }
  RemoveCaseFiles();
  std::cout << "badinput: " << cases.size() << " CLI argument cases\n";
}

// Not a refusal: a valid policy with keys that relax isolation is accepted
// by validate and apply -n, each of which prints the warnings.
TEST_F(BadInputTest, ValidateAndApplyDryRunWarnAboutRelaxingKeys) {
  ASSERT_TRUE(env_->ok());
  std::string text = env_->policy_text();
  const std::string extra = "    allow.mount: true\n";
  text.insert(text.find("    path: /srv/db\n"), extra);
  const std::string path = StrCat(env_->state_dir(), "-warn.yaml");
  std::ofstream(path) << text;
  const int line = 1 + static_cast<int>(std::count(text.begin(),
                                                   text.begin() + text.find(extra), '\n'));
  const std::string warning =
      StrCat(path, ":", line, ":18: warning: 'allow.mount' in jail 'db' relaxes isolation: grants "
             "CAP_SYS_ADMIN, which is root-equivalent on Linux");
  CliOutput v = RunCli(*env_, "validate", {path}, false);
  EXPECT_EQ(v.code, 0) << v.err;
  EXPECT_THAT(v.err, HasSubstr(warning));
  EXPECT_THAT(v.out, HasSubstr(": valid"));
  const State before = env_->Snapshot();
  CliOutput a = RunCli(*env_, "apply", {"-n", "-f", path});
  EXPECT_EQ(a.code, 0) << a.err;
  EXPECT_THAT(a.err, HasSubstr(warning));
  EXPECT_EQ(env_->Snapshot(), before) << Describe(env_->Snapshot());
  std::filesystem::remove(path);
}

TEST(BadInputCount, AtLeast200CasesAcrossApiYamlAndCli) {
  const std::size_t files = BadFixtures().size();
  const std::size_t texts = PolicyTextCases().size();
  const std::size_t api = ApiCases().size();
  const std::size_t cli = CliCases().size();
  RemoveCaseFiles();
  std::cout << "badinput: " << files + texts + api + cli << " cases: " << files
            << " policy files, " << texts << " policy texts, " << api << " API requests, "
            << cli << " CLI argument lists\n";
  EXPECT_GE(files + texts + api + cli, 200u);
}

}  // namespace
}  // namespace jailwarden::badinput

#pragma once

// The bad-input suite's tables (badinput_test.cc runs them).

#include <string>
#include <vector>

namespace jailwarden::badinput {

// A policy text that every entry point must refuse with `expected` (a
// substring of the errors, with its "p.yaml:L:C:").
struct PolicyTextCase {
  std::string name;
  std::string text;
  std::string expected;
};

// One HTTP request and its answer: the status and a substring of the error
// (its "error" text, the 422's "errors" lines and "errno NAME").
struct ApiCase {
  std::string method;
  std::string path;
  std::string body;
  int status = 400;
  std::string expected;
};

// One CLI argument list (after the verb): its exit code (-1: any but 0)
// and a substring of its stderr. `connect`: --server/--token are added.
struct CliCase {
  std::string verb;
  std::vector<std::string> args;
  int code = -1;
  std::string expected;
  bool connect = true;
};

// In a CliCase's args: the address of a web server that is not jailwarden.
inline constexpr char kOtherServer[] = "@OTHER_SERVER@";

std::vector<PolicyTextCase> PolicyTextCases();
std::vector<ApiCase> ApiCases();
// CliCases() writes a few files under /tmp (a 4 MiB + 1 policy, a token
// file with a NUL, a policy with a bad capability); this removes them.
std::vector<CliCase> CliCases();
void RemoveCaseFiles();

}  // namespace jailwarden::badinput

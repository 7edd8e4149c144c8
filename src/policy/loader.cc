// The policy reader's entry points and its top level (docs/policy.md is
// the schema it implements): internal::Loader::Run reads the sections in
// order; each section is read in its own loader_<section>.cc (see
// loader_impl.h).

#include "policy/loader.h"

#include <algorithm>
#include <utility>

#include "jailwarden/base/strings.h"
#include "policy/loader_impl.h"
#include "policy/yaml_tree.h"

namespace jailwarden::policy {
namespace internal {

Policy Loader::Run(std::string_view text) {
  Policy policy;
  policy.filename = filename_;
  YamlNode root;
  internal::ParseProblem problem;
  if (!internal::ParseYaml(text, &root, &problem)) {
    Error(problem.position, StrCat("invalid YAML: ", problem.message));
    return policy;
  }
  if (root.IsNull()) {
    return policy;
  }
  if (!root.IsMap()) {
    Error(root.position,
          StrCat("expected a map with server:, templates:, jails: and "
                 "rules:, got ",
                 Found(root)));
    return policy;
  }
  CheckKeys(root, Keys(kTopKeys), "the policy");
  if (const YamlNode* server = root.Find("server")) {
    ParseServer(*server, &policy.server);
  }
  if (const YamlNode* templates = root.Find("templates")) {
    ParseTemplates(*templates, policy);
  }
  if (const YamlNode* jails = root.Find("jails")) {
    ParseJails(*jails, policy);
  }
  if (const YamlNode* rules = root.Find("rules")) {
    ParseRules(*rules, policy);
  }
  CheckRuleConflicts(policy);
  return policy;
}

std::vector<PolicyError> Loader::TakeErrors() {
  std::stable_sort(errors_.begin(), errors_.end(),
                   [](const PolicyError& a, const PolicyError& b) {
                     return std::pair(a.line, a.column) <
                            std::pair(b.line, b.column);
                   });
  return std::move(errors_);
}

std::vector<PolicyError> Loader::TakeWarnings() {
  std::stable_sort(warnings_.begin(), warnings_.end(),
                   [](const PolicyError& a, const PolicyError& b) {
                     return std::pair(a.line, a.column) <
                            std::pair(b.line, b.column);
                   });
  return std::move(warnings_);
}

Policy ParsePolicy(std::string_view text, std::string_view filename,
                   const LoadOptions& options,
                   std::vector<PolicyError>* errors) {
  if (options.warnings != nullptr) {
    options.warnings->clear();
  }
  if (text.size() > kMaxPolicyBytes) {
    // The same bound whichever way the text came (a file, POST /v1/apply).
    *errors = {PolicyError{std::string(filename), 0, 0,
                           PolicyTooLargeMessage("").substr(2)}};
    return Policy{};
  }
  Loader loader(filename, options);
  Policy policy = loader.Run(text);
  *errors = loader.TakeErrors();
  if (options.warnings != nullptr) {
    *options.warnings = loader.TakeWarnings();
  }
  return policy;
}

}  // namespace internal

}  // namespace jailwarden::policy
